//! Real AWS recordings: single-state JSONata `Pass` machines whose `Output` is a template. Each
//! `{% expr %}` is evaluated with `$states.input` bound to the execution input and the result
//! must equal the recorded execution output. Cases using `$states.context` are skipped (the
//! context object belongs to the interpreter).
//!
//! The corpus is found via `CAIRN_CONFORMANCE_DIR` (default
//! `<crate>/../../../shared/conformance`); the test is skipped with a message when absent.

use std::path::{Path, PathBuf};

use cairn_jsonata::{parse, Bindings, FixedEnv};
use serde_json::{json, Value};

fn corpus_dir() -> PathBuf {
    match std::env::var_os("CAIRN_CONFORMANCE_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
    }
}

/// Evaluates a Step Functions JSONata template: whole-string `{% ... %}` values are expressions,
/// everything else is literal.
fn render(template: &Value, bindings: &Bindings) -> Result<Value, String> {
    Ok(match template {
        Value::String(s) if s.starts_with("{%") && s.ends_with("%}") && s.len() >= 4 => {
            let src = &s[2..s.len() - 2];
            let expr = parse(src).map_err(|e| format!("parse {src}: {} {}", e.code, e.message))?;
            expr.evaluate(None, bindings, &mut FixedEnv::default())
                .map_err(|e| format!("evaluate {src}: {} {}", e.code, e.message))?
                .ok_or_else(|| format!("{src} returned nothing (undefined)"))?
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), render(v, bindings)?)))
                .collect::<Result<_, String>>()?,
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| render(v, bindings))
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

fn numbers_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| numbers_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| numbers_equal(v, w)))
        }
        _ => a == b,
    }
}

/// The Output template and the recorded output of a single-state JSONata Pass machine that
/// succeeded without the context object or variables; otherwise why the case is not one.
fn out_of_scope(case: &Value) -> Result<(&Value, &Value), &'static str> {
    let states = case
        .pointer("/definition/States")
        .and_then(Value::as_object)
        .ok_or("no definition")?;
    let [state] = states.values().collect::<Vec<_>>()[..] else {
        return Err("more than one state (the interpreter's tests run those)");
    };
    let jsonata = state.get("QueryLanguage") == Some(&json!("JSONata"))
        || case.pointer("/definition/QueryLanguage") == Some(&json!("JSONata"));
    if !jsonata || state.get("Type") != Some(&json!("Pass")) {
        return Err("not a JSONata Pass state");
    }
    if state.get("Assign").is_some() {
        return Err("assigns variables (the interpreter's tests run those)");
    }
    if case.pointer("/expected/status") != Some(&json!("SUCCEEDED")) {
        return Err("did not succeed");
    }
    let output = state.get("Output").ok_or("no Output template")?;
    if output.to_string().contains("$states.context") {
        return Err("reads the context object (the interpreter's)");
    }
    let expected = case
        .pointer("/expected/output")
        .ok_or("no recorded output")?;
    Ok((output, expected))
}

#[test]
fn jsonata_pass_outputs_match_aws() {
    let dir = corpus_dir().join("executions");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("SKIPPED: conformance corpus not found at {}", dir.display());
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    let (mut checked, mut failures) = (0, Vec::new());
    // Cases outside this test's reach, by reason: counted and printed, never dropped unseen.
    let mut skipped: std::collections::BTreeMap<&str, usize> = Default::default();
    for path in paths {
        let case = match std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str::<Value>(&text).map_err(|e| e.to_string()))
        {
            Ok(case) => case,
            Err(err) => {
                failures.push(format!("{}: unreadable: {err}", path.display()));
                continue;
            }
        };
        let reason = match out_of_scope(&case) {
            Err(reason) => reason,
            Ok((output, expected)) => {
                let input = case.get("input").cloned().unwrap_or(json!({}));
                let bindings = Bindings::new().with("states", json!({ "input": input }));
                checked += 1;
                match render(output, &bindings) {
                    Ok(v) if numbers_equal(&v, expected) => {}
                    Ok(v) => {
                        failures.push(format!("{}: expected {expected}, got {v}", path.display()))
                    }
                    Err(e) => failures.push(format!("{}: {e}", path.display())),
                }
                continue;
            }
        };
        *skipped.entry(reason).or_default() += 1;
    }
    println!(
        "recorded JSONata Pass outputs: {} passed, {} failed, {} skipped",
        checked - failures.len().min(checked),
        failures.len(),
        skipped.values().sum::<usize>()
    );
    for (reason, count) in &skipped {
        println!("  skipped {count}: {reason}");
    }
    assert!(
        checked > 0,
        "no JSONata Pass cases found under {}",
        dir.display()
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
