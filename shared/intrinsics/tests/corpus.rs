//! Replays the recorded AWS executions of the conformance corpus that are chains of Pass
//! states whose `Parameters` use intrinsics, and compares each output with AWS's.
//!
//! Reads the corpus from `CAIRN_CONFORMANCE_DIR` (default: `shared/conformance` beside the
//! checkout); where it is absent the test prints `SKIPPED` and passes without checking.
//! It prints how many cases passed and failed, and how many it skipped for each reason.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use cairn_intrinsics::{is_intrinsic, parse};
use common::TestEnv;
use serde_json::{json, Map, Value};

fn corpus_dir() -> PathBuf {
    std::env::var_os("CAIRN_CONFORMANCE_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
        PathBuf::from,
    )
}

/// Applies a JSONPath-mode payload template: `key.$` fields take an intrinsic's value or a
/// path's value, everything else is copied.
fn apply_template(template: &Value, env: &mut TestEnv) -> Result<Value, String> {
    match template {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                match (key.strip_suffix(".$"), value) {
                    (Some(name), Value::String(expr)) => {
                        let v = if is_intrinsic(expr) {
                            let call = parse(expr).map_err(|e| e.to_string())?;
                            call.evaluate(env).map_err(|e| e.to_string())?
                        } else {
                            cairn_intrinsics::Env::resolve(env, expr)?
                        };
                        out.insert(name.to_owned(), v);
                    }
                    _ => {
                        out.insert(key.clone(), apply_template(value, env)?);
                    }
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items.iter().map(|i| apply_template(i, env)).collect(),
        other => Ok(other.clone()),
    }
}

/// Runs a chain of plain Pass states; `None` when the definition uses anything else.
fn run_pass_chain(definition: &Value, input: &Value) -> Option<Result<Value, String>> {
    if definition.get("QueryLanguage").is_some() {
        return None;
    }
    let states = definition.get("States")?.as_object()?;
    let allowed = ["Type", "Parameters", "Result", "Next", "End", "Comment"];
    let mut name = definition.get("StartAt")?.as_str()?;
    let mut current = input.clone();
    for _ in 0..=states.len() {
        let state = states.get(name)?.as_object()?;
        if state.get("Type")?.as_str()? != "Pass"
            || state.keys().any(|k| !allowed.contains(&k.as_str()))
        {
            return None;
        }
        let mut env = TestEnv::new(current.clone());
        env.context = json!({
            "Execution": {"Input": input, "Name": "<ExecArnPart_0idx>"},
            "StateMachine": {
                "Id": "arn:<partition>:states:<region>:111111111111:stateMachine:<ArnPart_0idx>",
                "Name": "<ArnPart_0idx>"
            }
        });
        if let Some(parameters) = state.get("Parameters") {
            current = match apply_template(parameters, &mut env) {
                Ok(v) => v,
                Err(e) => return Some(Err(format!("state {name}: {e}"))),
            };
        }
        if let Some(result) = state.get("Result") {
            current = result.clone();
        }
        match state.get("Next") {
            Some(next) => name = next.as_str()?,
            None => return Some(Ok(current)),
        }
    }
    None
}

/// Equality where the recording's wildcard for a random number matches any integer.
fn matches(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Number(n), Value::String(s)) if s == "RandomNumberGenerated" => n.is_i64(),
        (Value::Array(a), Value::Array(e)) => {
            a.len() == e.len() && a.iter().zip(e).all(|(a, e)| matches(a, e))
        }
        (Value::Object(a), Value::Object(e)) => {
            a.len() == e.len()
                && e.iter()
                    .all(|(k, e)| a.get(k).is_some_and(|a| matches(a, e)))
        }
        _ => actual == expected,
    }
}

#[test]
fn recorded_pass_chains_with_intrinsics_match_aws() {
    let dir = corpus_dir();
    let Ok(index) = std::fs::read_to_string(dir.join("index.json")) else {
        eprintln!(
            "SKIPPED: the conformance corpus is not at {} (set CAIRN_CONFORMANCE_DIR)",
            dir.display()
        );
        return;
    };
    let index: Vec<Value> = serde_json::from_str(&index).expect("index.json is JSON");
    let mut passed = 0;
    let mut skipped: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for entry in &index {
        let uses_intrinsics = entry["features"].as_array().is_some_and(|f| {
            f.iter()
                .any(|f| f.as_str().is_some_and(|f| f.starts_with("Intrinsic:")))
        });
        let self_contained = entry["needs_services"]
            .as_array()
            .is_some_and(Vec::is_empty);
        let skip = if !uses_intrinsics {
            Some("uses no intrinsic function")
        } else if !self_contained {
            Some("needs services")
        } else if entry["status"] != "SUCCEEDED" {
            Some("did not succeed (its output is not an intrinsic's value)")
        } else {
            None
        };
        if let Some(reason) = skip {
            *skipped.entry(reason).or_default() += 1;
            continue;
        }
        let file = entry["file"].as_str().expect("file name");
        let case: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(file)).expect("case file"))
                .expect("case is JSON");
        let Some(result) = run_pass_chain(&case["definition"], &case["input"]) else {
            *skipped
                .entry("not a chain of plain Pass states (tests/tests/executions.rs runs it)")
                .or_default() += 1;
            continue;
        };
        let expected = &case["expected"]["output"];
        match result {
            Ok(actual) if matches(&actual, expected) => passed += 1,
            Ok(actual) => failures.push(format!(
                "{}: got {actual}, AWS gave {expected}",
                entry["id"]
            )),
            Err(e) => failures.push(format!("{}: failed: {e}", entry["id"])),
        }
    }
    eprintln!(
        "recorded Pass chains with intrinsics: {passed} passed, {} failed, {} skipped",
        failures.len(),
        skipped.values().sum::<usize>()
    );
    for (reason, count) in &skipped {
        eprintln!("  skipped {count:4}: {reason}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        passed >= 90,
        "expected the corpus to hold at least 90 such cases, {passed} passed"
    );
}
