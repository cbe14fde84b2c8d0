//! Replays the corpus's recorded API errors (`../shared/conformance/api_errors`, or
//! `CAIRN_CONFORMANCE_DIR`) against the API: the same error code and message AWS answered.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use cairn_api::{Api, Config};
use cairn_store::MemoryStore;
use serde_json::{json, Value};

fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("CAIRN_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
    };
    dir.join("api_errors")
        .is_dir()
        .then(|| dir.join("api_errors"))
}

/// The action name of a boto3 operation name: `create_state_machine` -> `CreateStateMachine`.
fn action(operation: &str) -> String {
    operation
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The recordings replaced ARN parts with `<...>` placeholders: they match anything.
fn matches_with_placeholders(expected: &str, actual: &str) -> bool {
    let mut literals = Vec::new();
    let mut rest = expected;
    while let Some(start) = rest.find('<') {
        let Some(end) = rest[start..].find('>') else {
            break;
        };
        literals.push(&rest[..start]);
        rest = &rest[start + end + 1..];
    }
    literals.push(rest);
    if literals.len() == 1 {
        return expected == actual;
    }
    let (first, last) = (literals[0], literals[literals.len() - 1]);
    if !actual.starts_with(first) || !actual[first.len()..].ends_with(last) {
        return false;
    }
    let mut remaining = &actual[first.len()..actual.len() - last.len()];
    for literal in &literals[1..literals.len() - 1] {
        match remaining.find(literal) {
            Some(at) => remaining = &remaining[at + literal.len()..],
            None => return false,
        }
    }
    true
}

const PASS: &str = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;

/// Creates what the recorded call found already there.
fn set_up(api: &Api, case: &Value) {
    let request = &case["request"];
    if let Some(arn) = request["stateMachineArn"].as_str() {
        let name = arn.rsplit(':').next().unwrap_or_default();
        let machine_type = if name.starts_with("express") {
            "EXPRESS"
        } else {
            "STANDARD"
        };
        let _ = api.handle(
            "CreateStateMachine",
            json!({"name": name, "definition": PASS, "roleArn": "arn:aws:iam::111111111111:role/r", "type": machine_type}),
        );
    }
    let code = case["expected_response"]["Error"]["Code"]
        .as_str()
        .unwrap_or_default();
    if code == "StateMachineAlreadyExists" {
        let _ = api.handle(
            "CreateStateMachine",
            json!({"name": request["name"], "definition": PASS, "roleArn": request["roleArn"]}),
        );
    }
}

#[test]
fn recorded_api_errors_get_aws_answers() {
    let Some(dir) = corpus_dir() else {
        eprintln!(
            "SKIPPED: the conformance corpus is not on this machine (set CAIRN_CONFORMANCE_DIR)"
        );
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    let (mut passed, mut failures) = (0, Vec::new());
    let mut skipped: BTreeMap<&str, usize> = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|err| panic!("cannot read {}: {err}", file.display()));
        let case: Value = serde_json::from_str(&text)
            .unwrap_or_else(|err| panic!("{} is not JSON: {err}", file.display()));
        let mut request = case["request"].clone();
        // Requests whose ARNs were replaced by stubs, or whose recording normalised an
        // express execution ARN into an ordinary one, cannot be replayed.
        let expected_message = case["expected_response"]["Error"]["Message"]
            .as_str()
            .unwrap_or_default();
        let skip = if text.contains("<stub:") {
            Some("the recording replaced ARNs with `<stub:...>` placeholders")
        } else if expected_message.contains("context: express") {
            Some("the recording normalised an Express execution ARN into a Standard one")
        } else {
            None
        };
        if let Some(reason) = skip {
            *skipped.entry(reason).or_default() += 1;
            continue;
        }
        if let (Some(definition), Some(object)) = (
            case.get("definition").filter(|d| d.is_object()),
            request.as_object_mut(),
        ) {
            object.insert("definition".into(), Value::from(definition.to_string()));
        }
        let api = Api::new(
            Arc::new(MemoryStore::new()),
            Config {
                account: "111111111111".into(),
                ..Config::default()
            },
        );
        set_up(&api, &case);
        let code = case["expected_response"]["Error"]["Code"]
            .as_str()
            .unwrap_or_default();
        let mut expected = expected_message.to_string();
        if let Some(arn) = request["activityArn"].as_str() {
            expected = expected.replace("'activity_arn'", &format!("'{arn}'"));
        }
        if let Some(token) = request["nextToken"].as_str() {
            expected = expected.replace("<invalid_token_3097_chars>", token);
        }
        match api.handle(
            &action(case["operation"].as_str().unwrap_or_default()),
            request,
        ) {
            Err(error)
                if error.error_type == code
                    && matches_with_placeholders(&expected, &error.message) =>
            {
                passed += 1
            }
            other => failures.push(format!(
                "{}: expected {code}: {expected}\n   got {other:?}",
                case["id"]
            )),
        }
        api.shutdown();
    }
    println!(
        "api_errors: {passed} passed, {} failed, {} skipped",
        failures.len(),
        skipped.values().sum::<usize>()
    );
    for (reason, count) in &skipped {
        println!("  skipped {count:4}: {reason}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(passed >= 30, "only {passed} recorded errors were replayed");
}
