#![no_main]
//! Any expression evaluated against any JSON document (the bytes before the first NUL are
//! the expression, the rest the input): an error or a value, never a panic, a hang past the
//! step limit, or a stack overflow.
use cairn_jsonata::{Bindings, FixedEnv, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (expression, input) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b"{\"a\":[1,2,{\"b\":\"x\"}],\"s\":\"text\",\"n\":3.5}"[..]),
    };
    let Ok(expression) = std::str::from_utf8(expression) else {
        return;
    };
    let Ok(expression) = cairn_jsonata::parse(expression) else {
        return;
    };
    let input: Option<serde_json::Value> = serde_json::from_slice(input).ok();
    let bindings = Bindings::new().with("states", serde_json::json!({"input": input.clone()}));
    let mut env = FixedEnv {
        limits: Limits {
            max_steps: 100_000,
            max_depth: 1000,
        },
        ..FixedEnv::default()
    };
    let _ = expression.evaluate(input.as_ref(), &bindings, &mut env);
});
