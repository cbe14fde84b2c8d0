//! Runs the language-neutral JSONata test suite (jsonata-js's, as data) against this evaluator.
//!
//! The suite lives outside the crate; its directory comes from `CAIRN_JSONATA_SUITE_DIR`, by
//! default `<crate>/../../../shared/jsonata-suite`. Cases listed in `tests/known-failures.txt`
//! are expected to fail: a listed case that passes, or an unlisted case that fails, fails this
//! test. Set `CAIRN_JSONATA_UPDATE_KNOWN_FAILURES=1` to rewrite the list from the actual results.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cairn_jsonata::{parse, Bindings, FixedEnv, Limits};
use serde_json::Value;

struct Case {
    id: String,
    dir: PathBuf,
    body: Value,
}

fn suite_dir() -> PathBuf {
    match std::env::var_os("CAIRN_JSONATA_SUITE_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/jsonata-suite"),
    }
}

/// Why a case file of the suite is not run.
const LONE_SURROGATE: &str =
    "the case holds a lone UTF-16 surrogate (\\uD800), which UTF-8 JSON, and so a Step Functions payload, cannot carry";

/// Whether `text` escapes a high or low surrogate (`\uD800`-`\uDFFF`).
fn escapes_a_surrogate(text: &str) -> bool {
    text.match_indices("\\u").any(|(at, _)| {
        let mut hex = text[at + 2..].chars();
        matches!(hex.next(), Some('d' | 'D'))
            && matches!(hex.next(), Some('8' | '9' | 'a'..='f' | 'A'..='F'))
    })
}

/// Every case of the suite, and the case files not run, counted by reason.
fn load_cases(dir: &Path) -> (Vec<Case>, BTreeMap<&'static str, usize>) {
    let mut cases = Vec::new();
    let mut skipped: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut groups: Vec<PathBuf> = std::fs::read_dir(dir.join("groups"))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    groups.sort();
    for g in groups {
        let gname = g
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&g)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        for f in files {
            if f.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let stem = f
                .file_stem()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            // A case file that cannot be read is a broken suite, not a case to pass over.
            let text = std::fs::read_to_string(&f)
                .unwrap_or_else(|err| panic!("cannot read {}: {err}", f.display()));
            let v: Value = match serde_json::from_str(&text) {
                Ok(v) => v,
                // serde_json refuses an unpaired surrogate escape, as a Rust string cannot
                // hold one: those cases test what no payload can contain.
                Err(_) if escapes_a_surrogate(&text) => {
                    *skipped.entry(LONE_SURROGATE).or_default() += 1;
                    continue;
                }
                Err(err) => panic!("{} is not JSON: {err}", f.display()),
            };
            match v {
                Value::Array(list) => {
                    for (i, body) in list.into_iter().enumerate() {
                        cases.push(Case {
                            id: format!("{gname}/{stem}[{i}]"),
                            dir: g.clone(),
                            body,
                        });
                    }
                }
                body => cases.push(Case {
                    id: format!("{gname}/{stem}"),
                    dir: g.clone(),
                    body,
                }),
            }
        }
    }
    (cases, skipped)
}

/// Deep equality with numbers compared as f64 (the suite writes `1e7`, we produce `10000000`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Runs one case; `Err` describes the mismatch.
fn run_case(case: &Case, datasets: &BTreeMap<String, Value>) -> Result<(), String> {
    let b = &case.body;
    let expr = match (b.get("expr"), b.get("expr-file")) {
        (Some(Value::String(e)), _) => e.clone(),
        (_, Some(Value::String(f))) => std::fs::read_to_string(case.dir.join(f))
            .map_err(|e| format!("cannot read {f}: {e}"))?,
        _ => return Err("no expr".into()),
    };
    let expr = expr.as_str();
    let input: Option<Value> = match b.get("data") {
        Some(d) => Some(d.clone()),
        None => match b.get("dataset") {
            Some(Value::String(name)) => datasets.get(name).cloned(),
            _ => None,
        },
    };
    let mut bindings = Bindings::new();
    if let Some(Value::Object(m)) = b.get("bindings") {
        for (k, v) in m {
            bindings.insert(k.clone(), v.clone());
        }
    }
    let mut env = FixedEnv::default();
    if let (Some(t), Some(d)) = (
        b.get("timelimit").and_then(Value::as_u64),
        b.get("depth").and_then(Value::as_u64),
    ) {
        // The reference harness limits wall time; a step budget is the deterministic stand-in.
        env.limits = Limits {
            max_steps: t * 1000,
            max_depth: d as usize,
        };
    }
    let result = parse(expr).and_then(|e| e.evaluate(input.as_ref(), &bindings, &mut env));
    let code = b
        .get("code")
        .or_else(|| b.get("error").and_then(|e| e.get("code")))
        .and_then(Value::as_str);
    if let Some(code) = code {
        return match result {
            Err(e) if e.code == code => Ok(()),
            Err(e) => Err(format!(
                "expected error {code}, got {} ({})",
                e.code, e.message
            )),
            Ok(v) => Err(format!("expected error {code}, got result {v:?}")),
        };
    }
    if b.get("undefinedResult").and_then(Value::as_bool) == Some(true) {
        return match result {
            Ok(None) => Ok(()),
            Ok(Some(v)) => Err(format!("expected undefined, got {v}")),
            Err(e) => Err(format!(
                "expected undefined, got error {}: {}",
                e.code, e.message
            )),
        };
    }
    if let Some(expected) = b.get("result") {
        return match result {
            Ok(Some(v)) if json_eq(&v, expected) => Ok(()),
            Ok(Some(v)) => Err(format!("expected {expected}, got {v}")),
            Ok(None) => Err(format!("expected {expected}, got undefined")),
            Err(e) => Err(format!(
                "expected {expected}, got error {}: {}",
                e.code, e.message
            )),
        };
    }
    Err("case has no expectation".into())
}

fn known_failures_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/known-failures.txt")
}

fn read_known_failures() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(known_failures_path()).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once('#') {
            Some((id, reason)) if !reason.trim().is_empty() => {
                (id.trim().to_string(), reason.trim().to_string())
            }
            // Each listed case says why it fails: a bare id is a broken list.
            _ => panic!("known-failures.txt: `{l}` gives no reason (`case id # reason`)"),
        })
        .collect()
}

fn run_suite() {
    let dir = suite_dir();
    if !dir.join("groups").is_dir() {
        eprintln!(
            "SKIPPED: JSONata suite not found at {} (set CAIRN_JSONATA_SUITE_DIR)",
            dir.display()
        );
        return;
    }
    let mut datasets = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(dir.join("datasets")) {
        for e in rd.flatten() {
            let p = e.path();
            let name = p
                .file_stem()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if let Ok(text) = std::fs::read_to_string(&p) {
                if let Ok(v) = serde_json::from_str(&text) {
                    datasets.insert(name, v);
                }
            }
        }
    }
    let (cases, skipped) = load_cases(&dir);
    assert!(!cases.is_empty(), "no cases found under {}", dir.display());
    let known = read_known_failures();
    let mut per_group: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    for case in &cases {
        let group = case.id.split('/').next().unwrap_or("").to_string();
        let outcome = std::panic::catch_unwind(|| run_case(case, &datasets))
            .unwrap_or_else(|_| Err("PANIC".to_string()));
        let entry = per_group.entry(group).or_default();
        entry.1 += 1;
        match outcome {
            Ok(()) => entry.0 += 1,
            Err(msg) => {
                failures.insert(case.id.clone(), msg);
            }
        }
    }
    let total = cases.len();
    let passed = total - failures.len();
    // Groups with failures first (most failures first), then the rest alphabetically.
    let mut groups: Vec<_> = per_group.iter().collect();
    groups.sort_by_key(|(g, (p, t))| (std::cmp::Reverse(t - p), (*g).clone()));
    for (g, (p, t)) in &groups {
        let note = if p < t {
            format!(" ({} failing)", t - p)
        } else {
            String::new()
        };
        println!("{g:32} {p:4}/{t:<4}{note}");
    }
    // Known failures are failures: the list only keeps them from failing the run.
    let known_failing = failures.keys().filter(|id| known.contains_key(*id)).count();
    let skipped_total: usize = skipped.values().sum();
    println!(
        "JSONata suite: {passed} passed, {} failed ({known_failing} known, listed in \
         shared/jsonata/tests/known-failures.txt), {skipped_total} skipped (of {}); {} groups \
         fully passing of {}",
        failures.len(),
        total + skipped_total,
        per_group.values().filter(|(p, t)| p == t).count(),
        per_group.len()
    );
    for (reason, count) in &skipped {
        println!("  skipped {count:4}: {reason}");
    }
    if std::env::var_os("CAIRN_JSONATA_UPDATE_KNOWN_FAILURES").is_some() {
        let mut out = String::from(
            "# Suite cases this evaluator is known to fail (case id # reason).\n\
             # Regenerate: CAIRN_JSONATA_UPDATE_KNOWN_FAILURES=1 cargo test -p cairn-jsonata --test suite\n",
        );
        for (id, msg) in &failures {
            let mut reason: String = msg.chars().take(160).collect();
            reason = reason.replace('\n', " ");
            out.push_str(&format!("{id} # {reason}\n"));
        }
        std::fs::write(known_failures_path(), out).expect("write known failures");
        return;
    }
    let failing: BTreeSet<&String> = failures.keys().collect();
    let listed: BTreeSet<&String> = known.keys().collect();
    let unexpected: Vec<_> = failing.difference(&listed).collect();
    let fixed: Vec<_> = listed.difference(&failing).collect();
    for id in &unexpected {
        println!(
            "UNEXPECTED FAILURE {id}: {}",
            failures.get(**id).map(String::as_str).unwrap_or("")
        );
    }
    for id in &fixed {
        println!("NOW PASSING (remove from known-failures.txt): {id}");
    }
    assert!(
        unexpected.is_empty() && fixed.is_empty(),
        "{} unexpected failures, {} known failures now pass",
        unexpected.len(),
        fixed.len()
    );
}

#[test]
fn jsonata_suite() {
    // Runs on the default test thread on purpose: the evaluator must stay within an ordinary
    // thread's stack whatever the expression (deep ones move to their own large stack).
    run_suite();
}
