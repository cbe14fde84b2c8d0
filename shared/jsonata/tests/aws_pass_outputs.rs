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
    for path in paths {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(case) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let Some(states) = case
            .pointer("/definition/States")
            .and_then(Value::as_object)
        else {
            continue;
        };
        if states.len() != 1 {
            continue;
        }
        let Some(state) = states.values().next() else {
            continue;
        };
        let jsonata = state.get("QueryLanguage") == Some(&json!("JSONata"))
            || case.pointer("/definition/QueryLanguage") == Some(&json!("JSONata"));
        if !jsonata
            || state.get("Type") != Some(&json!("Pass"))
            || state.get("Assign").is_some()
            || case.pointer("/expected/status") != Some(&json!("SUCCEEDED"))
        {
            continue;
        }
        let Some(output) = state.get("Output") else {
            continue;
        };
        if output.to_string().contains("$states.context") {
            continue;
        }
        let Some(expected) = case.pointer("/expected/output") else {
            continue;
        };
        let input = case.get("input").cloned().unwrap_or(json!({}));
        let bindings = Bindings::new().with("states", json!({ "input": input }));
        checked += 1;
        match render(output, &bindings) {
            Ok(v) if numbers_equal(&v, expected) => {}
            Ok(v) => failures.push(format!("{}: expected {expected}, got {v}", path.display())),
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    println!("checked {checked} recorded JSONata Pass outputs");
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
