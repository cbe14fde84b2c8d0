//! The public API and the Step Functions additions.

use cairn_jsonata::{parse, Bindings, Env, FixedEnv, Limits, UNSUPPORTED_RESULT};
use serde_json::{json, Value};

fn eval_with(
    expr: &str,
    input: Option<Value>,
    bindings: &Bindings,
) -> Result<Option<Value>, cairn_jsonata::Error> {
    parse(expr)?.evaluate(input.as_ref(), bindings, &mut FixedEnv::default())
}

fn eval(expr: &str) -> Result<Option<Value>, cairn_jsonata::Error> {
    eval_with(expr, None, &Bindings::new())
}

fn value(expr: &str) -> Value {
    match eval(expr) {
        Ok(Some(v)) => v,
        other => panic!("{expr}: expected a value, got {other:?}"),
    }
}

fn error_code(expr: &str) -> String {
    match eval(expr) {
        Err(e) => e.code,
        other => panic!("{expr}: expected an error, got {other:?}"),
    }
}

#[test]
fn bindings_are_variables() {
    let b = Bindings::new().with("states", json!({"input": {"items": [1, 2, 3]}}));
    let out = eval_with("$sum($states.input.items) * 2", None, &b).unwrap();
    assert_eq!(out, Some(json!(12)));
}

#[test]
fn integral_results_are_json_integers() {
    let v = value("1.5 + 1.5");
    assert!(v.is_i64(), "{v:?}");
    assert_eq!(v, json!(3));
    assert_eq!(value("0.1 + 0.2"), json!(0.30000000000000004));
}

#[test]
fn undefined_is_none_and_null_is_null() {
    assert_eq!(eval("$nothing").unwrap(), None);
    assert_eq!(eval("null").unwrap(), Some(Value::Null));
}

#[test]
fn function_results_are_an_error_not_undefined() {
    let e = eval("$fn := function($x){$x}").unwrap_err();
    assert_eq!(e.code, UNSUPPORTED_RESULT);
}

#[test]
fn errors_carry_code_position_and_reference_message() {
    let e = eval("1 + 'a'").unwrap_err();
    assert_eq!(e.code, "T2002");
    // As in jsonata-js, positions point just past the offending token.
    assert_eq!(e.position, Some(3));
    assert_eq!(
        e.to_string(),
        "The right side of the + operator must evaluate to a number"
    );

    let e = parse("[1, 2").unwrap_err();
    assert_eq!(e.code, "S0203");
    assert_eq!(e.message, "Expected ] before end of expression");

    let e = eval("$substring('abc', 'x')").unwrap_err();
    assert_eq!(e.code, "T0410");
    assert_eq!(
        e.message,
        "Argument 2 of function substring does not match function signature"
    );
}

#[test]
fn partition_splits_into_chunks() {
    assert_eq!(
        value("$partition([1,2,3,4,5,6,7,8,9], 3)"),
        json!([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    );
    assert_eq!(
        value("$partition([1,2,3,4,5], 2)"),
        json!([[1, 2], [3, 4], [5]])
    );
}

#[test]
fn range_is_inclusive_and_steps_both_ways() {
    assert_eq!(value("$range(0, 10, 2)"), json!([0, 2, 4, 6, 8, 10]));
    assert_eq!(value("$range(5, 1, -2)"), json!([5, 3, 1]));
    assert_eq!(value("$range(1, 3)"), json!([1, 2, 3]));
    // Recorded on AWS: a one-item range is a singleton sequence.
    assert_eq!(value("$range(1, 9, 9)"), json!(1));
}

#[test]
fn hash_supports_the_step_functions_algorithms() {
    assert_eq!(
        value("$hash('abc', 'MD5')"),
        json!("900150983cd24fb0d6963f7d28e17f72")
    );
    assert_eq!(
        value("$hash('abc', 'SHA-1')"),
        json!("a9993e364706816aba3e25717850c26c9cd0d89d")
    );
    assert_eq!(
        value("$hash('abc', 'SHA-256')"),
        json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    assert_eq!(value("$length($hash('abc', 'SHA-384'))"), json!(96));
    assert_eq!(value("$length($hash('abc', 'SHA-512'))"), json!(128));
    assert!(eval("$hash('abc', 'CRC32')").is_err());
}

#[test]
fn parse_reads_json_text() {
    assert_eq!(
        value("$parse('{\"a\": [1, true, null]}').a"),
        json!([1, true, null])
    );
    assert!(eval("$parse('{oops')").is_err());
}

#[test]
fn randomness_and_uuids_come_from_the_env() {
    let expr = parse("[$random(), $uuid()]").unwrap();
    let run = |seed: u64| {
        let mut env = FixedEnv {
            seed,
            ..FixedEnv::default()
        };
        expr.evaluate(None, &Bindings::new(), &mut env)
            .unwrap()
            .unwrap()
    };
    assert_eq!(run(7), run(7), "same env seed, same results");
    assert_ne!(run(7), run(8));
    let out = run(7);
    let r = out[0].as_f64().unwrap();
    assert!((0.0..1.0).contains(&r));
    let uuid = out[1].as_str().unwrap();
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "4", "version 4: {uuid}");
    assert!("89ab".contains(&uuid[19..20]), "variant 1: {uuid}");
}

#[test]
fn seeded_random_is_reproducible() {
    assert_eq!(value("$random(42) = $random(42)"), json!(true));
    assert_eq!(value("$random(42) = $random(43)"), json!(false));
}

#[test]
fn clock_is_read_once_from_the_env() {
    struct Clock(i64);
    impl Env for Clock {
        fn now_ms(&mut self) -> i64 {
            self.0 += 1000;
            self.0
        }
        fn random(&mut self) -> f64 {
            0.5
        }
        fn uuid(&mut self) -> String {
            String::new()
        }
    }
    let mut env = Clock(1_700_000_000_000 - 1000);
    let out = parse("[$now(), $millis(), $now() = $now()]")
        .unwrap()
        .evaluate(None, &Bindings::new(), &mut env)
        .unwrap();
    assert_eq!(
        out,
        Some(json!([
            "2023-11-14T22:13:20.000Z",
            1_700_000_000_000i64,
            true
        ]))
    );
}

#[test]
fn limits_come_from_the_env() {
    let mut env = FixedEnv {
        limits: Limits {
            max_steps: 50,
            max_depth: 100,
        },
        ..FixedEnv::default()
    };
    let e = parse("$sum([1..100].($ * 2))")
        .unwrap()
        .evaluate(None, &Bindings::new(), &mut env)
        .unwrap_err();
    assert_eq!(e.code, "U1001");
}

#[test]
fn an_expression_can_be_evaluated_many_times() {
    let expr = parse("$.a & '-' & $string($count(b))").unwrap();
    assert_eq!(expr.source(), "$.a & '-' & $string($count(b))");
    assert_eq!(expr.to_string(), expr.source());
    let mut env = FixedEnv::default();
    for i in 0..3 {
        let input = json!({"a": format!("x{i}"), "b": vec![0; i]});
        let out = expr
            .evaluate(Some(&input), &Bindings::new(), &mut env)
            .unwrap();
        assert_eq!(out, Some(json!(format!("x{i}-{i}"))));
    }
}

#[test]
fn doubling_loops_stop_before_exhausting_memory() {
    assert_eq!(
        error_code("$reduce([1..40], function($a, $b){ $a & $a }, 'xx')"),
        "D2014"
    );
    assert_eq!(
        error_code("$reduce([1..40], function($a, $b){ $append($a, $a) }, [1])"),
        "D2014"
    );
    assert_eq!(error_code("$pad('x', 1e12)"), "D2014");
}

#[test]
fn output_objects_follow_javascript_key_order() {
    let v = value("{'b': 1, '10': 2, 'a': 3, '2': 4}");
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["2", "10", "b", "a"]);
    assert_eq!(
        value("$string({'b': 1, '1': 2})"),
        json!("{\"1\":2,\"b\":1}")
    );
}

#[test]
fn expressions_and_errors_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<cairn_jsonata::Expression>();
    assert_send_sync::<cairn_jsonata::Error>();
    let expr = std::sync::Arc::new(parse("$x * 2").unwrap());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let expr = expr.clone();
            std::thread::spawn(move || {
                let b = Bindings::new().with("x", json!(i));
                expr.evaluate(None, &b, &mut FixedEnv::default()).unwrap()
            })
        })
        .collect();
    let out: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        out,
        vec![
            Some(json!(0)),
            Some(json!(2)),
            Some(json!(4)),
            Some(json!(6))
        ]
    );
}

#[test]
fn regex_literals_follow_javascript_syntax_and_classes() {
    // `\w`, `\d` and `\b` are ASCII-only in JavaScript.
    assert_eq!(value("$replace('café', /\\w+/, 'X')"), json!("Xé"));
    assert_eq!(value("$contains('٣', /\\d/)"), json!(false));
    assert_eq!(value("$split('a1b22c', /[\\d]+/)"), json!(["a", "b", "c"]));
    // Braces that form no quantifier are literals.
    assert_eq!(value("$contains('x{y}', /x{y}/)"), json!(true));
    // As in jsonata-js, an unbalanced `]` hides the closing slash.
    assert_eq!(error_code("$contains('a]', /a]/)"), "S0302");
    assert_eq!(value("$match('aaa', /a{2}/).match"), json!("aa"));
    assert_eq!(value("$replace('a/b', /\\//, '-')"), json!("a-b"));
    assert_eq!(value("$match('Hello World', /o\\b/i).index"), json!(4));
}

#[test]
fn shared_bindings_are_read_not_copied_and_never_modified() {
    let doc = std::sync::Arc::new(json!({
        "input": {"z": 1, "a": {"deep": [{"k": "v"}, 2]}, "m": null}
    }));
    let mut b = Bindings::new();
    b.insert_shared("states", doc.clone());
    // Round trip keeps content and key order.
    assert_eq!(
        eval_with("$states.input", None, &b).unwrap(),
        Some(doc["input"].clone())
    );
    assert_eq!(
        eval_with("$keys($states.input)", None, &b).unwrap(),
        Some(json!(["z", "a", "m"]))
    );
    // A transform works on a copy: the shared document is untouched.
    let out = eval_with("$states.input ~> |a.deep|{'k': 'changed'}|", None, &b).unwrap();
    assert_eq!(out.unwrap()["a"]["deep"][0]["k"], json!("changed"));
    assert_eq!(doc["input"]["a"]["deep"][0]["k"], json!("v"));
    assert_eq!(b.get("states"), Some(&*doc));
}

#[test]
fn objects_iterate_in_javascript_property_order() {
    assert_eq!(
        value("$keys({'b': 1, '2': 2, 'a': 3, '1': 4})"),
        json!(["1", "2", "b", "a"])
    );
    let b = Bindings::new().with("o", json!({"x": 1, "10": 2, "9": 3}));
    assert_eq!(
        eval_with("$keys($o)", None, &b).unwrap(),
        Some(json!(["9", "10", "x"]))
    );
}

/// A document bound as `$states`: fields are read one at a time, so these check that what an
/// expression reads is the same whichever way it gets there.
fn states_bindings() -> Bindings {
    let wide: serde_json::Map<String, Value> = (0..40)
        .map(|i| (format!("k{i}"), json!({"n": i})))
        .collect();
    Bindings::new().with(
        "states",
        json!({"input": {
            "order": {"id": "o-1", "qty": 3},
            "items": [{"price": 2}, {"price": 3.5}],
            "a": {"v": 1}, "b": {"v": 2}, "c": {"v": 3}, "d": {"v": 4}, "e": [5],
            "wide": wide,
            "7": "seven", "1": "one"
        }}),
    )
}

#[test]
fn a_bound_document_keeps_its_identity_across_reads() {
    let b = states_bindings();
    // `in` compares objects by reference, as JavaScript's `===` does.
    let same = "$states.input.order in [$states.input.order]";
    assert_eq!(eval_with(same, None, &b).unwrap(), Some(json!(true)));
    // Reading the whole level ($keys) after one field must not replace that field's object.
    let after_keys =
        "($o := $states.input.order; $keys($states.input); $o in [$states.input.order])";
    assert_eq!(eval_with(after_keys, None, &b).unwrap(), Some(json!(true)));
    // More containers read than are tracked one by one: the level is converted whole.
    let many = "($o := $states.input.order; [$states.input.a.v, $states.input.b.v, \
                $states.input.c.v, $states.input.d.v, $states.input.e, \
                $o in [$states.input.order]])";
    assert_eq!(
        eval_with(many, None, &b).unwrap(),
        Some(json!([1, 2, 3, 4, 5, true]))
    );
}

#[test]
fn fields_of_a_bound_document_read_like_converted_json() {
    let b = states_bindings();
    let cases = [
        ("$states.input.order.id", json!("o-1")),
        ("$sum($states.input.items.price)", json!(5.5)),
        ("$states.input.wide.k39.n", json!(39)),
        ("$count($states.input.wide.*)", json!(40)),
        ("$keys($states.input)[0]", json!("1")),
        ("$states.input.`7`", json!("seven")),
        (
            r#"{"id": $states.input.order.id, "n": $count($states.input.items)}"#,
            json!({"id": "o-1", "n": 2}),
        ),
    ];
    for (expr, want) in cases {
        assert_eq!(eval_with(expr, None, &b).unwrap(), Some(want), "{expr}");
    }
    assert_eq!(eval_with("$states.input.missing", None, &b).unwrap(), None);
}

#[test]
fn a_built_in_function_is_one_value_as_in_javascript() {
    assert_eq!(value("$sum = $sum"), json!(true));
    assert_eq!(value("$sum = $count"), json!(false));
}

#[test]
fn literal_object_keys_are_still_checked_for_duplicates() {
    assert_eq!(error_code(r#"{"a": 1, "a": 2}"#), "D1009");
    assert_eq!(
        value(r#"{"a": 1, "b": undefined, "c": 3}"#),
        json!({"a": 1, "c": 3})
    );
}
