//! Each intrinsic: results, and every argument check with AWS's cause text.

mod common;

use cairn_intrinsics::{is_intrinsic, parse, ErrorKind, Function};
use common::{eval, fails, invalid, ok, TestEnv};
use serde_json::{json, Value};

// ---- States.Format ----------------------------------------------------------------------

#[test]
fn format_replaces_placeholders_in_order() {
    assert_eq!(
        ok(
            "States.Format('{} {} {}', $.a, $.b, $.c)",
            json!({"a": "x", "b": 2, "c": true})
        ),
        json!("x 2 true")
    );
    assert_eq!(
        ok("States.Format('no placeholders')", json!({})),
        json!("no placeholders")
    );
    assert_eq!(
        ok("States.Format('  {}  ', 'x')", json!({})),
        json!("  x  ")
    );
}

#[test]
fn format_template_may_come_from_a_path() {
    assert_eq!(
        ok(
            "States.Format($.template, $.name)",
            json!({"template": "Hello {}", "name": "Ada"})
        ),
        json!("Hello Ada")
    );
}

#[test]
fn format_prints_null_numbers_and_containers_like_aws() {
    assert_eq!(
        ok(
            "States.Format('{}|{}|{}|{}', $.n, $.b, $.i, $.f)",
            json!({"n": null, "b": false, "i": -1, "f": 3.5})
        ),
        json!("null|false|-1|3.5")
    );
    assert_eq!(
        ok(
            "States.Format('{}', $.o)",
            json!({"o": {"Arg1": 1, "Arg2": [], "s": "t", "l": [1, "a", {"x": null}]}})
        ),
        json!("{Arg1=1, Arg2=[], s=t, l=[1, a, {x=null}]}")
    );
}

#[test]
fn format_escaped_braces_are_text_not_placeholders() {
    assert_eq!(
        ok(r"States.Format('\{\} and {}', 'x')", json!({})),
        json!("{} and x")
    );
    assert_eq!(
        ok(r"States.Format('it\'s {}', 'x')", json!({})),
        json!("it's x")
    );
    assert_eq!(
        ok(r"States.Format('back\\slash {}', 1)", json!({})),
        json!(r"back\slash 1")
    );
}

#[test]
fn format_argument_count_must_match_placeholders() {
    let expected = "There was an error while evaluating the intrinsic function: States.Format('{} {}', $.a). Invalid arguments in States.Format: number of arguments do not match the occurrences of {}.";
    assert_eq!(
        fails("States.Format('{} {}', $.a)", json!({"a": "x"})),
        expected
    );
    assert!(
        fails("States.Format('{}', $.a, $.b)", json!({"a": 1, "b": 2}))
            .ends_with("number of arguments do not match the occurrences of {}.")
    );
}

#[test]
fn format_rejects_malformed_templates() {
    assert_eq!(
        fails("States.Format('Hello {', $.a)", json!({"a": "x"})),
        "There was an error while evaluating the intrinsic function: States.Format('Hello {', $.a). Invalid template in States.Format: matching '}' not found for '{'."
    );
    assert!(fails("States.Format('Hello {{}}', $.a)", json!({"a": "x"}))
        .contains("Invalid template in States.Format"));
    assert!(fails("States.Format('}')", json!({})).contains("Invalid template in States.Format"));
}

#[test]
fn format_template_must_be_a_string() {
    assert_eq!(
        fails("States.Format($.t, $.n)", json!({"t": 123, "n": "Ada"})),
        invalid("States.Format($.t, $.n)", "States.Format")
    );
    assert_eq!(
        fails("States.Format()", json!({})),
        invalid("States.Format()", "States.Format")
    );
}

// ---- States.StringToJson / States.JsonToString ------------------------------------------

#[test]
fn string_to_json_parses_and_blank_is_null() {
    assert_eq!(
        ok("States.StringToJson($.s)", json!({"s": "{\"a\": [1, 2]}"})),
        json!({"a": [1, 2]})
    );
    assert_eq!(
        ok("States.StringToJson($.s)", json!({"s": " "})),
        Value::Null
    );
    assert_eq!(ok("States.StringToJson($.s)", json!({"s": "-0"})), json!(0));
    assert_eq!(ok("States.StringToJson('true')", json!({})), json!(true));
}

#[test]
fn string_to_json_rejects_invalid_json_and_non_strings() {
    assert_eq!(
        fails("States.StringToJson($.s)", json!({"s": "{not json"})),
        invalid("States.StringToJson($.s)", "States.StringToJson")
    );
    assert_eq!(
        fails("States.StringToJson($.s)", json!({"s": {"a": 1}})),
        invalid("States.StringToJson($.s)", "States.StringToJson")
    );
    assert!(fails("States.StringToJson('1', '2')", json!({}))
        .ends_with("Invalid arguments in States.StringToJson"));
}

#[test]
fn json_to_string_is_compact_json_in_key_order() {
    assert_eq!(
        ok(
            "States.JsonToString($.o)",
            json!({"o": {"b": 1, "a": [true, null]}})
        ),
        json!("{\"b\":1,\"a\":[true,null]}")
    );
    assert_eq!(
        ok("States.JsonToString($.s)", json!({"s": "HelloWorld"})),
        json!("\"HelloWorld\"")
    );
    assert!(fails("States.JsonToString()", json!({}))
        .ends_with("Invalid arguments in States.JsonToString"));
}

// ---- Arrays -------------------------------------------------------------------------------

#[test]
fn array_collects_arguments() {
    assert_eq!(ok("States.Array()", json!({})), json!([]));
    assert_eq!(
        ok("States.Array(42, true, null, 'hello', -1.5e2)", json!({})),
        json!([42, true, null, "hello", -150.0])
    );
    assert_eq!(
        ok(
            "States.Array( $.a , $.b )",
            json!({"a": {"k": 1}, "b": [1]})
        ),
        json!([{"k": 1}, [1]])
    );
}

#[test]
fn array_partition_chunks_and_truncates_size() {
    assert_eq!(
        ok(
            "States.ArrayPartition($.a, 4)",
            json!({"a": [1, 2, 3, 4, 5, 6, 7, 8, 9]})
        ),
        json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]])
    );
    assert_eq!(
        ok(
            "States.ArrayPartition($.a, 2.6)",
            json!({"a": [1, 2, 3, 4, 5]})
        ),
        json!([[1, 2], [3, 4], [5]])
    );
    assert_eq!(
        ok(
            "States.ArrayPartition($.a, 2147483647)",
            json!({"a": [1, 2]})
        ),
        json!([[1, 2]])
    );
    assert_eq!(
        ok("States.ArrayPartition($.a, 3)", json!({"a": []})),
        json!([])
    );
}

#[test]
fn array_partition_rejects_bad_arguments() {
    for (expr, input) in [
        ("States.ArrayPartition($.a, 0)", json!({"a": [1]})),
        ("States.ArrayPartition($.a, 0.6)", json!({"a": [1]})),
        ("States.ArrayPartition($.a, -1)", json!({"a": [1]})),
        ("States.ArrayPartition($.a, '2')", json!({"a": [1]})),
        ("States.ArrayPartition($.a, null)", json!({"a": [1]})),
        ("States.ArrayPartition($.a, 2)", json!({"a": "not-array"})),
        ("States.ArrayPartition($.a)", json!({"a": [1]})),
        ("States.ArrayPartition($.a, 2, 9)", json!({"a": [1]})),
    ] {
        assert_eq!(fails(expr, input), invalid(expr, "States.ArrayPartition"));
    }
}

#[test]
fn array_contains_compares_structurally() {
    assert_eq!(
        ok(
            "States.ArrayContains($.a, $.v)",
            json!({"a": [[1, 2, 3], 2], "v": [1, 2, 3]})
        ),
        json!(true)
    );
    assert_eq!(
        ok(
            "States.ArrayContains($.a, $.v)",
            json!({"a": [{"x": 1, "y": [2]}], "v": {"y": [2], "x": 1}})
        ),
        json!(true)
    );
    assert_eq!(
        ok("States.ArrayContains($.a, 1.0)", json!({"a": [1]})),
        json!(true)
    );
    assert_eq!(
        ok("States.ArrayContains($.a, null)", json!({"a": [[1], 2]})),
        json!(false)
    );
    assert_eq!(
        ok("States.ArrayContains($.a, $.v)", json!({"a": [], "v": []})),
        json!(false)
    );
    let expr = "States.ArrayContains($.a, 1)";
    assert_eq!(
        fails(expr, json!({"a": {"k": 1}})),
        invalid(expr, "States.ArrayContains")
    );
}

#[test]
fn array_range_includes_end_and_truncates() {
    assert_eq!(
        ok("States.ArrayRange(1, 9, 2)", json!({})),
        json!([1, 3, 5, 7, 9])
    );
    assert_eq!(
        ok("States.ArrayRange(0, 10, 3)", json!({})),
        json!([0, 3, 6, 9])
    );
    assert_eq!(
        ok("States.ArrayRange(-2, 2, 2)", json!({})),
        json!([-2, 0, 2])
    );
    assert_eq!(
        ok("States.ArrayRange(5, 1, -2)", json!({})),
        json!([5, 3, 1])
    );
    assert_eq!(ok("States.ArrayRange(3, 3, -1)", json!({})), json!([3]));
    assert_eq!(ok("States.ArrayRange(5, 1, 1)", json!({})), json!([]));
    assert_eq!(ok("States.ArrayRange(1.6, 1.4, 1)", json!({})), json!([1]));
    assert_eq!(
        ok("States.ArrayRange(5.4, -0.6, -2.4)", json!({})),
        json!([5, 3, 1])
    );
}

#[test]
fn array_range_is_capped_at_1000_items() {
    assert_eq!(
        ok("States.ArrayRange(1, 1000, 1)", json!({}))
            .as_array()
            .map(Vec::len),
        Some(1000)
    );
    assert_eq!(
        ok("States.ArrayRange(1000, 1, -1)", json!({}))
            .as_array()
            .map(Vec::len),
        Some(1000)
    );
    for expr in [
        "States.ArrayRange(1, 1001, 1)",
        "States.ArrayRange(1001, 1, -1)",
    ] {
        assert_eq!(fails(expr, json!({})), invalid(expr, "States.ArrayRange"));
    }
}

#[test]
fn array_range_rejects_bad_arguments() {
    for expr in [
        "States.ArrayRange('a', 5, 1)",
        "States.ArrayRange(1, 'b', 1)",
        "States.ArrayRange(1, 5, 'c')",
        "States.ArrayRange(1, 10, 0)",
        "States.ArrayRange(1, 10, 0.49)",
        "States.ArrayRange(1, 5)",
        "States.ArrayRange(1, 5, 1, 99)",
        "States.ArrayRange(1, 3000000000, 1)",
    ] {
        assert_eq!(fails(expr, json!({})), invalid(expr, "States.ArrayRange"));
    }
}

#[test]
fn array_get_item_indexes_from_zero() {
    assert_eq!(
        ok("States.ArrayGetItem($.a, 1)", json!({"a": ["a", "b", "c"]})),
        json!("b")
    );
    assert_eq!(
        ok(
            "States.ArrayGetItem($.a, $.i)",
            json!({"a": [10, 20, 30, 40], "i": 2})
        ),
        json!(30)
    );
    assert_eq!(
        ok("States.ArrayGetItem($.a, 1.2)", json!({"a": [10, 20, 30]})),
        json!(20)
    );
    assert_eq!(
        ok("States.ArrayGetItem($.a, 0)", json!({"a": [null]})),
        Value::Null
    );
    // Observed on AWS: an empty array answers null for any index.
    assert_eq!(
        ok("States.ArrayGetItem($.a, 999)", json!({"a": []})),
        Value::Null
    );
}

#[test]
fn array_get_item_rejects_bad_arguments() {
    for (expr, input) in [
        ("States.ArrayGetItem($.a, 3)", json!({"a": [10, 20, 30]})),
        ("States.ArrayGetItem($.a, -1)", json!({"a": [10, 20, 30]})),
        ("States.ArrayGetItem($.a, '1')", json!({"a": [10, 20, 30]})),
        ("States.ArrayGetItem('not-array', 0)", json!({})),
        ("States.ArrayGetItem($.a)", json!({"a": [1]})),
        ("States.ArrayGetItem($.a, 1, 999)", json!({"a": [1, 2]})),
    ] {
        assert_eq!(fails(expr, input), invalid(expr, "States.ArrayGetItem"));
    }
}

#[test]
fn array_length_counts_top_level_items() {
    assert_eq!(
        ok("States.ArrayLength($.a)", json!({"a": [[1], [2], [3]]})),
        json!(3)
    );
    assert_eq!(
        ok("States.ArrayLength(States.Array())", json!({})),
        json!(0)
    );
    for (expr, input) in [
        ("States.ArrayLength('not-array')", json!({})),
        ("States.ArrayLength($.o)", json!({"o": {"k": 1}})),
        ("States.ArrayLength()", json!({})),
        ("States.ArrayLength($.a, 999)", json!({"a": [1]})),
    ] {
        assert_eq!(fails(expr, input), invalid(expr, "States.ArrayLength"));
    }
}

#[test]
fn array_unique_removes_duplicates() {
    assert_eq!(
        ok("States.ArrayUnique($.a)", json!({"a": [1, 2, 3, 3, 3, 4]})),
        json!([1, 2, 3, 4])
    );
    assert_eq!(
        ok(
            "States.ArrayUnique($.a)",
            json!({"a": ["a", "b", "a", "c", "b"]})
        ),
        json!(["a", "b", "c"])
    );
    assert_eq!(ok("States.ArrayUnique($.a)", json!({"a": []})), json!([]));
    assert_eq!(
        ok(
            "States.ArrayUnique($.a)",
            json!({"a": [{"a": 1, "b": 2}, {"b": 2, "a": 1}]})
        ),
        json!([{"a": 1, "b": 2}])
    );
    assert_eq!(
        ok("States.ArrayUnique(States.Array(1,1,2,2,3))", json!({})),
        json!([1, 2, 3])
    );
    let expr = "States.ArrayUnique($.a)";
    assert_eq!(
        fails(expr, json!({"a": "abc"})),
        invalid(expr, "States.ArrayUnique")
    );
    assert_eq!(
        fails("States.ArrayUnique()", json!({})),
        invalid("States.ArrayUnique()", "States.ArrayUnique")
    );
}

#[test]
fn array_unique_comes_out_in_java_hash_set_order_as_on_aws() {
    assert_eq!(
        ok(
            "States.ArrayUnique($.a)",
            json!({"a": [true, false, true, false]})
        ),
        json!([false, true])
    );
    assert_eq!(
        ok(
            "States.ArrayUnique($.a)",
            json!({"a": [[1, 2], [1, 2], [2, 1]]})
        ),
        json!([[2, 1], [1, 2]])
    );
    assert_eq!(
        ok(
            "States.ArrayUnique($.a)",
            json!({"a": [null, null, 1, null]})
        ),
        json!([null, 1])
    );
}

// ---- Base64 -------------------------------------------------------------------------------

#[test]
fn base64_round_trips_utf8() {
    assert_eq!(
        ok("States.Base64Encode($.s)", json!({"s": "Data to encode"})),
        json!("RGF0YSB0byBlbmNvZGU=")
    );
    assert_eq!(ok("States.Base64Encode('')", json!({})), json!(""));
    assert_eq!(ok("States.Base64Decode('4pyT')", json!({})), json!("✓"));
    assert_eq!(
        ok("States.Base64Decode('44GT44KT44Gr44Gh44Gv')", json!({})),
        json!("こんにちは")
    );
    assert_eq!(
        ok("States.Base64Decode($.s)", json!({"s": "YWJjAGRlZg=="})),
        json!("abc\u{0}def")
    );
    assert_eq!(
        ok(
            "States.Base64Decode(States.Base64Encode($.s))",
            json!({"s": "hello"})
        ),
        json!("hello")
    );
}

#[test]
fn base64_decode_is_lenient_like_aws() {
    assert_eq!(
        ok("States.Base64Decode(' YWJjZA== ')", json!({})),
        json!("abcd")
    );
}

#[test]
fn base64_input_is_capped_at_10000_characters() {
    let ok_input = json!({"s": "a".repeat(10_000)});
    assert!(ok("States.Base64Encode($.s)", ok_input).is_string());
    let expr = "States.Base64Encode($.s)";
    assert_eq!(
        fails(expr, json!({"s": "a".repeat(10_001)})),
        invalid(expr, "States.Base64Encode")
    );
    let expr = "States.Base64Decode($.s)";
    assert_eq!(
        fails(expr, json!({"s": "A".repeat(10_001)})),
        invalid(expr, "States.Base64Decode")
    );
}

#[test]
fn base64_rejects_non_strings_and_bad_arity() {
    for (expr, function) in [
        ("States.Base64Encode(123)", "States.Base64Encode"),
        ("States.Base64Decode(123)", "States.Base64Decode"),
        ("States.Base64Decode()", "States.Base64Decode"),
        (
            "States.Base64Decode('aGVsbG8=', 'extra')",
            "States.Base64Decode",
        ),
    ] {
        assert_eq!(fails(expr, json!({})), invalid(expr, function));
    }
}

// ---- States.Hash --------------------------------------------------------------------------

#[test]
fn hash_supports_the_five_algorithms() {
    for (algorithm, digest) in [
        ("MD5", "5d41402abc4b2a76b9719d911017c592"),
        ("SHA-1", "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
        ("SHA-256", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
        ("SHA-384", "59e1748777448c69de6b800d7a33bbfb9ff1b463e44354c3553bcdb9c666fa90125a3c79f90397bdf5f6a13de828684f"),
        ("SHA-512", "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043"),
    ] {
        assert_eq!(ok(&format!("States.Hash('hello', '{algorithm}')"), json!({})), json!(digest));
    }
    assert_eq!(
        ok("States.Hash($.s, 'SHA-256')", json!({"s": "✓"})),
        json!("1dabba21cdad44541f6b15796f8d22978fc7ea10c46aeceeeeb66c23b3ac7604")
    );
    assert_eq!(
        ok(
            "States.Hash(States.Format('{}:{}', $.a, $.b), 'SHA-256')",
            json!({"a": "x", "b": "y"})
        ),
        json!("1274e286686b54fe765ec40735665b4bf789cee2a5b22124c5e0491a88e15271")
    );
}

#[test]
fn hash_rejects_unknown_algorithms_long_input_and_bad_arity() {
    for algorithm in ["UNSUPPORTED", "sha-256", "SHA256", "", "MD-5", "SHA-257"] {
        let expr = format!("States.Hash('data', '{algorithm}')");
        assert_eq!(fails(&expr, json!({})), invalid(&expr, "States.Hash"));
    }
    let expr = "States.Hash($.s, 'SHA-256')";
    assert!(ok(expr, json!({"s": "a".repeat(10_000)})).is_string());
    assert_eq!(
        fails(expr, json!({"s": "a".repeat(10_001)})),
        invalid(expr, "States.Hash")
    );
    for expr in [
        "States.Hash()",
        "States.Hash('hello')",
        "States.Hash('hello', 'SHA-256', 'extra')",
        "States.Hash('hello', 123)",
    ] {
        assert_eq!(fails(expr, json!({})), invalid(expr, "States.Hash"));
    }
}

// ---- States.JsonMerge ---------------------------------------------------------------------

#[test]
fn json_merge_is_shallow_and_right_wins() {
    assert_eq!(
        ok(
            "States.JsonMerge($.a, $.b, false)",
            json!({"a": {"x": {"k": 1}, "y": 2}, "b": {"x": {"j": 2}}})
        ),
        json!({"x": {"j": 2}, "y": 2})
    );
}

#[test]
fn json_merge_orders_keys_like_a_java_hash_map() {
    let merged = ok(
        "States.JsonMerge($.a, $.b, false)",
        json!({"a": {"a": {"a1": 1}, "b": 2, "d": 3}, "b": {"a": {"a3": 1}, "c": 3, "d": 4}}),
    );
    let keys: Vec<&str> = merged
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(keys, ["a", "b", "c", "d"]);
    // A JVM's HashMap iterates these keys as [zeta, a, b, alpha, mid].
    let merged = ok(
        "States.JsonMerge($.l, $.r, false)",
        json!({"l": {"zeta": 1, "alpha": 2, "mid": 3}, "r": {"b": 4, "a": 5}}),
    );
    let keys: Vec<&str> = merged
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(keys, ["zeta", "a", "b", "alpha", "mid"]);
}

#[test]
fn json_merge_rejects_deep_mode_and_non_objects() {
    for (expr, input) in [
        (
            "States.JsonMerge($.a, $.b, true)",
            json!({"a": {}, "b": {}}),
        ),
        (
            "States.JsonMerge($.a, $.b, false)",
            json!({"a": [], "b": {}}),
        ),
        (
            "States.JsonMerge($.a, $.b, false)",
            json!({"a": {}, "b": "x"}),
        ),
        (
            "States.JsonMerge($.a, $.b, 'false')",
            json!({"a": {}, "b": {}}),
        ),
        ("States.JsonMerge($.a, $.b)", json!({"a": {}, "b": {}})),
    ] {
        assert_eq!(fails(expr, input), invalid(expr, "States.JsonMerge"));
    }
}

// ---- Math ---------------------------------------------------------------------------------

#[test]
fn math_add_rounds_half_up_like_java() {
    for (a, b, sum) in [
        (-9.0, 3.0, -6),
        (1.49, 1.5, 3),
        (-1.5, 0.0, -1),
        (0.5, 0.0, 1),
        (-0.5, 0.0, 0),
        (-2.5, 0.0, -2),
        (2.5, 0.0, 3),
        (-0.5, 0.5, 1),
    ] {
        assert_eq!(
            ok("States.MathAdd($.a, $.b)", json!({"a": a, "b": b})),
            json!(sum),
            "{a} + {b}"
        );
    }
    assert_eq!(
        ok("States.MathAdd(2147483646, 1)", json!({})),
        json!(2147483647)
    );
}

#[test]
fn math_add_rejects_non_numbers_and_int_overflow() {
    for expr in [
        "States.MathAdd(1, 'NOT A NUMBER')",
        "States.MathAdd(2147483647, 1)",
        "States.MathAdd(3000000000, 0)",
        "States.MathAdd(1)",
        "States.MathAdd(1, 2, 3)",
        "States.MathAdd(null, 1)",
    ] {
        assert_eq!(fails(expr, json!({})), invalid(expr, "States.MathAdd"));
    }
}

#[test]
fn math_random_stays_in_range_and_seed_is_deterministic() {
    for _ in 0..20 {
        let v = ok("States.MathRandom(1, 10)", json!({}))
            .as_i64()
            .unwrap_or(-1);
        assert!((1..10).contains(&v), "{v}");
    }
    // java.util.Random(3).nextInt(999) == 239, so the seeded call is the same on every run.
    assert_eq!(
        ok(
            "States.MathRandom($.s, $.e, $.seed)",
            json!({"s": 0, "e": 999, "seed": 3})
        ),
        json!(239)
    );
    assert_eq!(ok("States.MathRandom(1, 10, -10)", json!({})), json!(1));
    let v = ok("States.MathRandom(1.6, 5.4)", json!({}))
        .as_i64()
        .unwrap_or(-1);
    assert!((1..5).contains(&v), "{v}");
    let v = ok("States.MathRandom(2147483640, 2147483647, 1)", json!({}))
        .as_i64()
        .unwrap_or(-1);
    assert!((2147483640..2147483647).contains(&v), "{v}");
}

#[test]
fn math_random_unseeded_uses_env_entropy() {
    let call = parse("States.MathRandom(0, 1000000)").unwrap();
    let mut a = TestEnv::new(json!({}));
    let mut b = TestEnv::new(json!({}));
    b.random = 99;
    assert_ne!(
        call.evaluate(&mut a).unwrap(),
        call.evaluate(&mut b).unwrap()
    );
}

#[test]
fn math_random_rejects_empty_ranges_and_bad_arguments() {
    for expr in [
        "States.MathRandom(1, 1)",
        "States.MathRandom(10, 5)",
        "States.MathRandom(1.49, 1.49)",
        "States.MathRandom(1.4, 1.6)",
        "States.MathRandom('a', 10)",
        "States.MathRandom(1, 'b')",
        "States.MathRandom(1, 10, 'seed')",
        "States.MathRandom(1, 10, null)",
        "States.MathRandom(1)",
        "States.MathRandom(1, 10, 5, 99)",
    ] {
        assert_eq!(fails(expr, json!({})), invalid(expr, "States.MathRandom"));
    }
}

// ---- Strings and ids ----------------------------------------------------------------------

#[test]
fn string_split_uses_a_set_of_delimiters_and_drops_empty_pieces() {
    assert_eq!(
        ok("States.StringSplit($.s, ',')", json!({"s": "1,2,3"})),
        json!(["1", "2", "3"])
    );
    assert_eq!(
        ok("States.StringSplit($.s, ',')", json!({"s": ", , ,"})),
        json!([" ", " "])
    );
    assert_eq!(
        ok("States.StringSplit($.s, ',')", json!({"s": ",,,,"})),
        json!([])
    );
    assert_eq!(
        ok(
            "States.StringSplit($.s, $.d)",
            json!({"s": "split on T and \nnew line", "d": "T\n"})
        ),
        json!(["split on ", " and ", "new line"])
    );
    for (expr, input) in [
        ("States.StringSplit($.s, ',')", json!({"s": 12})),
        ("States.StringSplit('a,b', 1)", json!({})),
        ("States.StringSplit('a,b')", json!({})),
    ] {
        assert_eq!(fails(expr, input), invalid(expr, "States.StringSplit"));
    }
}

#[test]
fn uuid_comes_from_the_env() {
    assert_eq!(
        ok("States.UUID()", json!({})),
        json!("9b8a4c2e-1f3d-4e5a-8b7c-6d5e4f3a2b1c")
    );
    assert_eq!(
        fails("States.UUID(1)", json!({})),
        invalid("States.UUID(1)", "States.UUID")
    );
}

// ---- Paths, nesting, errors ---------------------------------------------------------------

#[test]
fn missing_path_cause_names_the_call_and_the_path() {
    assert_eq!(
        fails("States.Hash($.missing, 'SHA-256')", json!({})),
        "There was an error while evaluating the intrinsic function: States.Hash($.missing, 'SHA-256'). The JsonPath argument for the field '$.missing' could not be found in the input '{}'"
    );
}

#[test]
fn nested_calls_evaluate_inside_out() {
    assert_eq!(
        ok(
            "States.ArrayGetItem(States.StringSplit($.n, '-'), States.MathAdd(States.ArrayLength(States.StringSplit($.n, '-')), -1))",
            json!({"n": "a-b-c"})
        ),
        json!("c")
    );
    assert_eq!(
        ok(
            "States.ArrayRange(States.MathAdd($.base, 1), States.MathAdd($.base, 5), 2)",
            json!({"base": 0})
        ),
        json!([1, 3, 5])
    );
}

#[test]
fn a_failing_nested_call_is_named_in_the_cause() {
    assert_eq!(
        fails("States.Array(1, States.ArrayLength($.x))", json!({"x": 5})),
        invalid("States.ArrayLength($.x)", "States.ArrayLength")
    );
}

#[test]
fn context_and_variable_paths_resolve_through_the_env() {
    let call = parse("States.Format('{}-{}-{}', $$.Execution.Input.a, $v, $w.k[1])").unwrap();
    let mut env = TestEnv::new(json!({"a": 1}));
    env.variables.insert("v".into(), json!("var"));
    env.variables.insert("w".into(), json!({"k": [0, "item"]}));
    assert_eq!(call.evaluate(&mut env).unwrap(), json!("1-var-item"));
    assert_eq!(call.paths(), ["$$.Execution.Input.a", "$v", "$w.k[1]"]);
}

#[test]
fn paths_lists_nested_path_arguments_in_order() {
    let call = parse("States.Format('{} {}', States.JsonToString($.a[?(@.x == 'p,q')]), $['b c'])")
        .unwrap();
    assert_eq!(call.paths(), ["$.a[?(@.x == 'p,q')]", "$['b c']"]);
    assert_eq!(call.function(), Function::Format);
    assert_eq!(
        call.source(),
        "States.Format('{} {}', States.JsonToString($.a[?(@.x == 'p,q')]), $['b c'])"
    );
}

#[test]
fn ten_nesting_levels_parse_and_eleven_do_not() {
    let nest = |n: usize| format!("{}1{}", "States.Array(".repeat(n), ")".repeat(n));
    assert_eq!(
        eval(&nest(10), json!({})).unwrap(),
        json!([[[[[[[[[[1]]]]]]]]]])
    );
    let err = parse(&nest(11)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Parse);
    assert!(
        err.to_string().contains("nested at most 10 levels"),
        "{err}"
    );
}

#[test]
fn malformed_calls_are_parse_errors() {
    for src in [
        "States.Array($.a) trailing",
        "States.Array(",
        "States.Array([1,2])",
        "States.Array(1.)",
        "States.Array(.5)",
        "States.Array(01)",
        "States.Array(1,)",
        "States.ArrayGetItem($.arr, )",
        "States.Array(,1)",
        "States.Array('unterminated)",
        r"States.Array('bad \n escape')",
        "States.format('x')",
        "States.Nope()",
        "Foo.Bar()",
        "States.Array (1)",
        " States.Array(1)",
        "States.Array(True)",
        "States.Array(1abc)",
        "",
        "$.a",
    ] {
        let err = parse(src).expect_err(src);
        assert_eq!(err.kind(), ErrorKind::Parse, "{src}");
        assert_eq!(err.error_name(), None);
        assert!(
            err.to_string()
                .starts_with("Invalid intrinsic function call '"),
            "{err}"
        );
    }
}

#[test]
fn parse_error_names_the_problem_and_position() {
    assert_eq!(
        parse("States.Nope(1)").unwrap_err().to_string(),
        "Invalid intrinsic function call 'States.Nope(1)': 'States.Nope' is not a supported intrinsic function at character 11"
    );
    assert_eq!(
        parse("States.Array(1 2)").unwrap_err().to_string(),
        "Invalid intrinsic function call 'States.Array(1 2)': expected ',' or ')' after an argument at character 16"
    );
}

#[test]
fn string_literals_keep_raw_newlines_and_unicode() {
    assert_eq!(
        ok("States.StringSplit('Hello\nWorld', '\n')", json!({})),
        json!(["Hello", "World"])
    );
    assert_eq!(
        ok("States.Array('héllo 🚀', ' , ')", json!({})),
        json!(["héllo 🚀", " , "])
    );
}

#[test]
fn is_intrinsic_spots_calls_only() {
    assert!(is_intrinsic("States.Format('x')"));
    assert!(is_intrinsic("States.Nope(1)"));
    assert!(!is_intrinsic("$.States.Format"));
    assert!(!is_intrinsic("States.Format"));
    assert!(!is_intrinsic("States.(1)"));
    assert!(!is_intrinsic("$"));
}

#[test]
fn all_eighteen_functions_have_their_asl_names() {
    let names = [
        "States.Format",
        "States.StringToJson",
        "States.JsonToString",
        "States.Array",
        "States.ArrayPartition",
        "States.ArrayContains",
        "States.ArrayRange",
        "States.ArrayGetItem",
        "States.ArrayLength",
        "States.ArrayUnique",
        "States.Base64Encode",
        "States.Base64Decode",
        "States.Hash",
        "States.JsonMerge",
        "States.MathRandom",
        "States.MathAdd",
        "States.StringSplit",
        "States.UUID",
    ];
    for name in names {
        let f = Function::from_name(name).expect(name);
        assert_eq!(f.name(), name);
    }
    assert_eq!(Function::from_name("States.Uuid"), None);
}
