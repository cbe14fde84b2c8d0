//! No input may panic, hang or overflow the stack: every one must end in a value or an error.

use cairn_jsonata::{parse, Bindings, FixedEnv, Limits};
use proptest::prelude::*;
use serde_json::json;

fn eval(
    expr: &str,
    input: serde_json::Value,
) -> Result<Option<serde_json::Value>, cairn_jsonata::Error> {
    let mut env = FixedEnv {
        limits: Limits {
            max_steps: 200_000,
            ..Limits::default()
        },
        ..FixedEnv::default()
    };
    parse(expr)?.evaluate(Some(&input), &Bindings::new(), &mut env)
}

#[test]
fn hundred_thousand_nested_parentheses_is_an_error() {
    let expr = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
    let err = parse(&expr).expect_err("nesting this deep must be rejected");
    assert_eq!(err.code, "U1001");
}

#[test]
fn deeply_nested_array_constructors_are_an_error() {
    let expr = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(parse(&expr).expect_err("too deep").code, "U1001");
}

#[test]
fn unterminated_deep_nesting_is_an_error() {
    assert!(parse(&"{\"a\":".repeat(50_000)).is_err());
    assert!(parse(&"$f(".repeat(50_000)).is_err());
}

#[test]
fn non_tail_recursion_hits_the_depth_limit_not_the_stack() {
    // Runs on the default 2 MiB test thread: the depth limit must trip before the stack does.
    let err = eval(
        "($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100000))",
        json!(null),
    )
    .expect_err("must hit the depth limit");
    assert_eq!(err.code, "U1001");
}

#[test]
fn tail_recursion_runs_in_constant_stack() {
    let out = eval(
        "($loop := function($n, $acc){ $n = 0 ? $acc : $loop($n - 1, $acc + 1) }; $loop(5000, 0))",
        json!(null),
    )
    .expect("tail calls are trampolined");
    assert_eq!(out, Some(json!(5000)));
}

#[test]
fn infinite_loop_exhausts_the_step_budget() {
    let err = eval("($f := function(){ $f() }; $f())", json!(null)).expect_err("must stop");
    assert_eq!(err.code, "U1001");
    assert!(err.message.contains("timeout"), "{}", err.message);
}

#[test]
fn results_nested_deeper_than_the_output_limit_are_an_error() {
    let err = eval(
        "$reduce([1..20000], function($acc, $x){ {\"a\": $acc} }, 0)",
        json!(null),
    )
    .expect_err("a 20000-deep result cannot be returned");
    assert_eq!(err.code, "U1001");
}

#[test]
fn moderately_deep_results_come_back_and_deeper_ones_are_refused() {
    let nest = |n: usize| format!("$reduce([1..{n}], function($acc, $x){{ {{'a': $acc}} }}, 0)");
    let out = eval(&nest(500), json!(null))
        .expect("500 levels are fine")
        .expect("defined");
    let mut depth = 0;
    let mut v = &out;
    while let Some(inner) = v.get("a") {
        depth += 1;
        v = inner;
    }
    assert_eq!(depth, 500);
    assert_eq!(eval(&nest(1500), json!(null)).unwrap_err().code, "U1001");
}

const TOKENS: &[&str] = &[
    "$",
    "$$",
    "$x",
    "$f",
    ":=",
    "function($a, $b){",
    "}",
    "[",
    "]",
    "(",
    ")",
    ".",
    "*",
    "**",
    "%",
    "#$i",
    "@$e",
    "^(",
    "^(>",
    "{",
    ":",
    ",",
    ";",
    "?",
    "??",
    "?:",
    "|",
    "~>",
    "$map",
    "$sort",
    "$reduce",
    "$string",
    "$sum",
    "$match",
    "$replace",
    "$split",
    "$formatNumber",
    "$fromMillis",
    "$toMillis",
    "$formatInteger",
    "$keys",
    "$lookup",
    "$each",
    "$sift",
    "$eval",
    "'s'",
    "'#,##0.0'",
    "'[Y]-[M]'",
    "/a+/i",
    "1",
    "-1",
    "0.5",
    "1e300",
    "-",
    "+",
    "/",
    "..",
    "a",
    "b",
    "c",
    "in",
    "and",
    "or",
    "=",
    "!=",
    "<",
    ">=",
    "&",
    "true",
    "null",
    "?",
    "[]",
    "\"x\"",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn token_soup_never_panics(toks in proptest::collection::vec(0..TOKENS.len(), 1..24)) {
        let expr: Vec<&str> = toks.iter().map(|i| TOKENS[*i]).collect();
        let _ = eval(&expr.join(" "), json!({"a": [1, {"b": "x"}, [2, 3]], "c": 2.5, "b": {"c": [true]}}));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,40}") {
        let _ = eval(&s, json!({"a": [1, {"b": "x"}], "c": 2.5}));
    }

    #[test]
    fn jsonata_like_strings_never_panic(s in "[-a-c$.()\\[\\]{}:,;=!<>*%#@^~?&|\"'0-9 /]{0,30}") {
        let _ = eval(&s, json!({"a": [1, {"b": "x"}], "c": 2.5}));
    }
}

#[test]
fn huge_configured_depth_is_capped_to_what_the_stack_holds() {
    let mut env = FixedEnv {
        limits: Limits {
            max_steps: 10_000_000,
            max_depth: usize::MAX,
        },
        ..FixedEnv::default()
    };
    let err = parse("($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(1000000))")
        .unwrap()
        .evaluate(None, &Bindings::new(), &mut env)
        .expect_err("must stop at the capped depth, not overflow");
    assert_eq!(err.code, "U1001");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn picture_functions_never_panic(
        picture in "[\\[\\]YMDdFWwXxHhmsfPZzCE0-9#,;.\\-aAiIwWnNot*%e ]{0,16}",
        n in proptest::num::f64::ANY,
        text in "[0-9a-zA-Z ,:+\\-]{0,16}",
    ) {
        let bindings = Bindings::new()
            .with("p", json!(picture))
            .with("n", serde_json::Number::from_f64(n).map_or(json!(0), serde_json::Value::Number))
            .with("t", json!(text));
        for expr in [
            "$fromMillis($n, $p)",
            "$fromMillis($n, $p, $t)",
            "$toMillis($t, $p)",
            "$formatInteger($n, $p)",
            "$parseInteger($t, $p)",
            "$formatNumber($n, $p)",
            "$formatBase($n, 7)",
            "$now($p, $t)",
        ] {
            let mut env = FixedEnv::default();
            let _ = parse(expr).and_then(|e| e.evaluate(None, &bindings, &mut env));
        }
    }
}

/// Syntactically plausible expressions, so that evaluation (not just parsing) is exercised.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("c".to_string()),
        Just("$".to_string()),
        Just("$$".to_string()),
        Just("$x".to_string()),
        Just("*".to_string()),
        Just("**".to_string()),
        Just("%".to_string()),
        Just("null".to_string()),
        Just("true".to_string()),
        Just("'s'".to_string()),
        Just("/a|x/".to_string()),
        (-3i32..20).prop_map(|n| n.to_string()),
        Just("0.5".to_string()),
    ];
    leaf.prop_recursive(4, 48, 4, |inner| {
        let op = prop_oneof![
            Just("+"),
            Just("-"),
            Just("*"),
            Just("/"),
            Just("%"),
            Just("="),
            Just("!="),
            Just("<"),
            Just(">="),
            Just("&"),
            Just("and"),
            Just("or"),
            Just("in"),
            Just(".."),
            Just("??"),
            Just("?:"),
            Just("."),
            Just("~>"),
        ];
        let func = prop_oneof![
            Just("$string"),
            Just("$count"),
            Just("$sum"),
            Just("$keys"),
            Just("$reverse"),
            Just("$sort"),
            Just("$distinct"),
            Just("$boolean"),
            Just("$uppercase"),
            Just("$join"),
            Just("$append"),
            Just("$lookup"),
            Just("$spread"),
            Just("$merge"),
            Just("$exists"),
            Just("$type"),
            Just("$substring"),
            Just("$split"),
            Just("$replace"),
            Just("$match"),
            Just("$number"),
            Just("$round"),
            Just("$formatNumber"),
            Just("$fromMillis"),
            Just("$map"),
            Just("$filter"),
            Just("$reduce"),
            Just("$single"),
            Just("$each"),
            Just("$sift"),
            Just("$zip"),
            Just("$shuffle"),
            Just("$partition"),
            Just("$range"),
        ];
        prop_oneof![
            (inner.clone(), op, inner.clone()).prop_map(|(l, o, r)| format!("({l}) {o} ({r})")),
            (func, proptest::collection::vec(inner.clone(), 0..3))
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
            proptest::collection::vec(inner.clone(), 0..3)
                .prop_map(|v| format!("[{}]", v.join(", "))),
            (inner.clone(), inner.clone()).prop_map(|(k, v)| format!("{{'k': {k}, 'v': {v}}}")),
            (inner.clone(), inner.clone()).prop_map(|(l, p)| format!("({l})[{p}]")),
            (inner.clone(), inner.clone()).prop_map(|(l, k)| format!("({l}){{$string({k}): $}}")),
            (inner.clone(), inner.clone()).prop_map(|(l, k)| format!("({l})^(>{k})")),
            inner.clone().prop_map(|e| format!("($x := {e}; $x)")),
            inner
                .clone()
                .prop_map(|e| format!("function($v, $i){{ {e} }}")),
            inner.clone().prop_map(|e| format!("a@$e.({e})")),
            inner.clone().prop_map(|e| format!("a#$i.({e})")),
            inner.clone().prop_map(|e| format!("b.c.(%.{e})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, t, e)| format!("({c}) ? ({t}) : ({e})")),
            (inner.clone(), inner).prop_map(|(p, u)| format!("$ ~> |{p}|{{'u': {u}}}, ['a']|")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn generated_expressions_never_panic(expr in expression()) {
        let _ = eval(&expr, json!({"a": [1, {"b": "x"}, [2, 3]], "c": 2.5, "b": {"c": [true, {"d": 1}]}}));
    }
}
