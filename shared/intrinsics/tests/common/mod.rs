//! A small `Env` for tests: dotted/indexed paths over the input, the context object and
//! variables. The real path engine lives in cairn-jsonpath; this one only needs to cover the
//! paths the tests and the recorded cases use.
#![allow(dead_code)]

use cairn_intrinsics::{parse, Env, IntrinsicError};
use serde_json::{json, Map, Value};

pub struct TestEnv {
    pub input: Value,
    pub context: Value,
    pub variables: Map<String, Value>,
    pub uuids: Vec<String>,
    pub random: u64,
}

impl TestEnv {
    pub fn new(input: Value) -> Self {
        Self {
            context: json!({ "Execution": { "Input": input.clone() } }),
            input,
            variables: Map::new(),
            uuids: vec!["9b8a4c2e-1f3d-4e5a-8b7c-6d5e4f3a2b1c".to_owned()],
            random: 0x1234_5678_9abc_def0,
        }
    }
}

impl Env for TestEnv {
    fn resolve(&self, path: &str) -> Result<Value, String> {
        let not_found = || {
            format!(
                "The JsonPath argument for the field '{path}' could not be found in the input '{}'",
                self.input
            )
        };
        let (root, rest) = if let Some(rest) = path.strip_prefix("$$") {
            (Some(&self.context), rest)
        } else if let Some(rest) = path.strip_prefix('$') {
            let name_len = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if name_len == 0 {
                (Some(&self.input), rest)
            } else {
                let (name, rest) = rest.split_at(name_len);
                (self.variables.get(name), rest)
            }
        } else {
            (None, path)
        };
        let mut current = root.ok_or_else(not_found)?;
        let mut rest = rest;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('.') {
                let end = r.find(['.', '[']).unwrap_or(r.len());
                let (key, r) = r.split_at(end);
                current = current.get(key).ok_or_else(not_found)?;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("['") {
                let end = r.find("']").ok_or_else(not_found)?;
                current = current.get(&r[..end]).ok_or_else(not_found)?;
                rest = &r[end + 2..];
            } else if let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']').ok_or_else(not_found)?;
                let index: usize = r[..end].parse().map_err(|_| not_found())?;
                current = current.get(index).ok_or_else(not_found)?;
                rest = &r[end + 1..];
            } else {
                return Err(not_found());
            }
        }
        Ok(current.clone())
    }

    fn uuid(&mut self) -> String {
        self.uuids
            .pop()
            .unwrap_or_else(|| "00000000-0000-4000-8000-000000000000".to_owned())
    }

    fn random_u64(&mut self) -> u64 {
        self.random = self
            .random
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1);
        self.random
    }
}

/// Parses and evaluates `expr` over `input`.
pub fn eval(expr: &str, input: Value) -> Result<Value, IntrinsicError> {
    let call = parse(expr).unwrap_or_else(|e| panic!("{expr} should parse: {e}"));
    call.evaluate(&mut TestEnv::new(input))
}

/// Evaluates and unwraps, with the expression in the panic message.
pub fn ok(expr: &str, input: Value) -> Value {
    eval(expr, input).unwrap_or_else(|e| panic!("{expr} failed: {e}"))
}

/// Evaluates, expecting a run-time failure, and returns its message.
pub fn fails(expr: &str, input: Value) -> String {
    match eval(expr, input) {
        Ok(v) => panic!("{expr} should fail but gave {v}"),
        Err(e) => {
            assert_eq!(e.error_name(), Some("States.Runtime"), "{expr}: {e}");
            e.to_string()
        }
    }
}

/// The cause AWS gives for invalid arguments of the call `call_text`.
pub fn invalid(call_text: &str, function: &str) -> String {
    format!(
        "There was an error while evaluating the intrinsic function: {call_text}. Invalid arguments in {function}"
    )
}
