//! Prints every diagnostic and warning (code, location, message, severity) that validation
//! gives for each definition found under the given paths, and for many mutations of each, so a
//! change meant to be behaviour-preserving (a speed-up) can be checked by diffing two outputs.
//!
//! `cargo run --release -p cairn-asl --example validate_snapshot -- DIR_OR_FILE... > before.txt`
//!
//! A JSON file contributes its `definition` (an object, or a single TestState state, which is
//! wrapped as the only state of a machine), its `definition_raw` text, or itself when it has
//! `States`. Each definition is then mutated at a sample of its nodes (removed, replaced by
//! values of every JSON type and by path, intrinsic and JSONata strings, renamed to `.$`):
//! the mutations reach the error paths that valid definitions never take.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use cairn_asl::validate::{validate, validate_str, MachineType, Options, Report};
use serde_json::{json, Value};

/// Nodes mutated per definition: evenly spaced over all of them, so large definitions stay cheap.
const NODES_PER_DEFINITION: usize = 80;

fn files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .expect("a readable directory")
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        entries.sort();
        for entry in entries {
            files(&entry, out);
        }
    } else if path.extension().is_some_and(|e| e == "json") {
        out.push(path.to_owned());
    }
}

/// Where a node is: keys and indexes from the root.
#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn node_paths(value: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match value {
        Value::Object(object) => {
            for (key, child) in object {
                prefix.push(Step::Key(key.clone()));
                out.push(prefix.clone());
                node_paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                prefix.push(Step::Index(index));
                out.push(prefix.clone());
                node_paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn parent_mut<'v>(root: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    let mut current = root;
    for step in path {
        current = match step {
            Step::Key(key) => current.get_mut(key.as_str())?,
            Step::Index(index) => current.get_mut(*index)?,
        };
    }
    Some(current)
}

enum Mutation {
    Remove,
    Replace(Value),
    RenameDollar,
    RenameUnknown,
}

fn mutate(definition: &Value, path: &[Step], mutation: &Mutation) -> Option<Value> {
    let mut copy = definition.clone();
    let (last, parents) = path.split_last()?;
    let parent = parent_mut(&mut copy, parents)?;
    match (last, mutation) {
        (Step::Key(key), Mutation::Remove) => {
            parent.as_object_mut()?.remove(key)?;
        }
        (Step::Index(index), Mutation::Remove) => {
            parent.as_array_mut()?.remove(*index);
        }
        (Step::Key(key), Mutation::Replace(value)) => {
            *parent.get_mut(key.as_str())? = value.clone();
        }
        (Step::Index(index), Mutation::Replace(value)) => {
            *parent.get_mut(*index)? = value.clone();
        }
        (Step::Key(key), Mutation::RenameDollar | Mutation::RenameUnknown) => {
            let suffix = match mutation {
                Mutation::RenameDollar => ".$",
                _ => "X",
            };
            let object = parent.as_object_mut()?;
            let value = object.remove(key)?;
            object.insert(format!("{key}{suffix}"), value);
        }
        (Step::Index(_), _) => return None,
    }
    Some(copy)
}

fn mutations() -> Vec<Mutation> {
    let values = [
        Value::Null,
        json!(true),
        json!(-1),
        json!(2.5),
        json!(100_000_000_000u64),
        json!(""),
        json!("bad"),
        json!("$.x"),
        json!("$$.Execution.Id"),
        json!("$.a[*]"),
        json!("$v"),
        json!("States.Format('{}', $.a)"),
        json!("States.Nope()"),
        json!("{% $states.result %}"),
        json!("{% $$ + phone %}"),
        json!("{% ( %}"),
        json!("2016-03-14T01:59:00Z"),
        json!("arn:aws:states:::lambda:invoke.sync"),
        json!([]),
        json!([1, "a"]),
        json!({}),
        json!({"Next": "Nope", "a.$": "$.b", "ErrorEquals": ["States.ALL", "X"]}),
    ];
    let mut all = vec![
        Mutation::Remove,
        Mutation::RenameDollar,
        Mutation::RenameUnknown,
    ];
    all.extend(values.into_iter().map(Mutation::Replace));
    all
}

fn render(out: &mut String, label: &str, report: &Report) {
    let _ = writeln!(out, "{label}");
    for diagnostic in report.diagnostics.iter().chain(&report.warnings) {
        let _ = writeln!(
            out,
            "  {:?} {} {:?} {:?}",
            diagnostic.severity, diagnostic.code, diagnostic.location, diagnostic.message
        );
    }
}

fn main() {
    let mut paths = Vec::new();
    for argument in std::env::args().skip(1) {
        files(Path::new(&argument), &mut paths);
    }
    let standard = Options::default();
    let express = Options {
        machine_type: MachineType::Express,
    };
    let all_mutations = mutations();
    let mut out = String::new();
    let mut reports = 0usize;
    for path in &paths {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let name = path.display();
        let Ok(file) = serde_json::from_str::<Value>(&text) else {
            render(
                &mut out,
                &format!("{name} text"),
                &validate_str(&text, &standard),
            );
            reports += 1;
            continue;
        };
        if let Some(raw) = file.get("definition_raw").and_then(Value::as_str) {
            render(
                &mut out,
                &format!("{name} raw"),
                &validate_str(raw, &standard),
            );
            reports += 1;
        }
        let definition = match file.get("definition") {
            Some(definition) if definition.get("States").is_some() => definition.clone(),
            Some(state) if state.is_object() => {
                json!({"StartAt": "StateName", "States": {"StateName": state}})
            }
            _ if file.get("States").is_some() => file.clone(),
            _ => continue,
        };
        for (label, options) in [("standard", &standard), ("express", &express)] {
            render(
                &mut out,
                &format!("{name} {label}"),
                &validate(&definition, options),
            );
            reports += 1;
        }
        let mut nodes = Vec::new();
        node_paths(&definition, &mut Vec::new(), &mut nodes);
        let stride = nodes.len().div_ceil(NODES_PER_DEFINITION).max(1);
        for (node, path) in nodes.iter().enumerate().step_by(stride) {
            for (which, mutation) in all_mutations.iter().enumerate() {
                if let Some(variant) = mutate(&definition, path, mutation) {
                    render(
                        &mut out,
                        &format!("{name} node {node} mutation {which}"),
                        &validate(&variant, &standard),
                    );
                    reports += 1;
                }
            }
        }
    }
    print!("{out}");
    eprintln!("{} files, {reports} reports", paths.len());
}
