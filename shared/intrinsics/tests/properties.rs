//! Robustness: no input makes the parser or evaluator panic or overflow the stack.

mod common;

use cairn_intrinsics::{parse, ErrorKind};
use common::TestEnv;
use proptest::prelude::*;
use serde_json::json;

const TOKENS: &[&str] = &[
    "States.Format(",
    "States.Array(",
    "States.ArrayRange(",
    "States.ArrayGetItem(",
    "States.MathAdd(",
    "States.MathRandom(",
    "States.StringSplit(",
    "States.Hash(",
    "States.JsonMerge(",
    "States.ArrayPartition(",
    "States.StringToJson(",
    "States.Base64Decode(",
    "States.UUID(",
    "(",
    ")",
    ",",
    " ",
    "'",
    "\\",
    "{}",
    "{",
    "}",
    "'a{}b'",
    "'SHA-256'",
    "$",
    "$.a",
    "$.list",
    "$$.Execution.Input",
    "$v",
    "[",
    "]",
    "[?(@.x == ','",
    "1",
    "-1",
    "2.5",
    "1e3",
    "0",
    "true",
    "false",
    "null",
    "'\\''",
    "'\\{'",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|t| t.concat())
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_text(src in any::<String>()) {
        let _ = parse(&src);
    }

    #[test]
    fn parse_and_evaluate_never_panic_on_intrinsic_like_text(src in token_soup()) {
        if let Ok(call) = parse(&src) {
            let mut env = TestEnv::new(json!({"a": [1, "x", {"k": null}], "list": [3, 1, 2], "s": "a,b"}));
            if let Err(e) = call.evaluate(&mut env) {
                prop_assert_eq!(e.kind(), ErrorKind::Runtime);
            }
        }
    }

    #[test]
    fn number_literals_round_trip(n in any::<i32>()) {
        let call = parse(&format!("States.Array({n})")).expect("an i32 literal parses");
        prop_assert_eq!(call.evaluate(&mut TestEnv::new(json!({}))).expect("evaluates"), json!([n]));
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let depth = 100_000;
    let calls = format!("{}1{}", "States.Array(".repeat(depth), ")".repeat(depth));
    assert_eq!(
        parse(&calls).map(|_| ()).unwrap_err().kind(),
        ErrorKind::Parse
    );
    let parens = format!("States.Array({}1{})", "(".repeat(depth), ")".repeat(depth));
    assert_eq!(
        parse(&parens).map(|_| ()).unwrap_err().kind(),
        ErrorKind::Parse
    );
    let brackets = format!(
        "States.Array($.a{}1{})",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let parsed = parse(&brackets).expect("a long path is one argument");
    assert_eq!(
        parsed.paths().first().map(|p| p.len()),
        Some(3 + 2 * depth + 1)
    );
}

#[test]
fn deeply_nested_values_fail_cleanly() {
    // Values deeper than the evaluator's bound (512) come back as invalid arguments. The depth
    // stays where serde_json's own recursive clone and drop are still safe.
    let mut deep = json!(1);
    for _ in 0..1_000 {
        deep = json!([deep]);
    }
    let mut env = TestEnv::new(json!({ "d": deep }));
    for expr in [
        "States.Format('{}', $.d)",
        "States.JsonToString($.d)",
        "States.ArrayContains($.d, $.d)",
    ] {
        let err = parse(expr).expect("parses").evaluate(&mut env).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Runtime, "{expr}");
        assert!(
            err.to_string().contains("Invalid arguments in States."),
            "{err}"
        );
    }
    let shallow = parse("States.ArrayLength($.d)")
        .expect("parses")
        .evaluate(&mut env);
    assert_eq!(shallow.ok(), Some(json!(1)));
}
