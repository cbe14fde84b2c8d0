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
        "($loop := function($n, $acc){ $n = 0 ? $acc : $loop($n - 1, $acc + 1) }; $loop(20000, 0))",
        json!(null),
    )
    .expect("tail calls are trampolined");
    assert_eq!(out, Some(json!(20000)));
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
        "$reduce([1..20000], function($acc, $x){ [$acc] }, 0)",
        json!(null),
    )
    .expect_err("a 20000-deep result cannot be returned");
    assert_eq!(err.code, "U1001");
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
