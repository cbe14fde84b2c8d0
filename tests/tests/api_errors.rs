//! Definition validation against what AWS did: every recorded CreateStateMachine
//! `InvalidDefinition` must get AWS's exact message, and every definition AWS accepted and ran
//! must validate.

use std::collections::{BTreeMap, BTreeSet};

use cairn_asl::validate::{validate, validate_str, MachineType, Options, Report};
use cairn_conformance::corpus::{known_failures, load, locate, Case};
use serde_json::{json, Value};

const KNOWN_FAILURES: &str = include_str!("../known-failures/api_errors.txt");

/// Why a case did not run.
const NEEDS_API: &str = "needs the API (issue 4)";
const NEEDS_TEST_STATE: &str = "a TestState API rule, not definition validation";
const NO_DEFINITION: &str = "recording kept no definition";

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: Vec<(String, String)>,
    skipped: BTreeMap<&'static str, usize>,
    failed_by_feature: BTreeMap<String, usize>,
    passed_by_feature: BTreeMap<String, usize>,
}

/// Runs one recorded case.
type Judge = fn(&Case) -> Outcome;

enum Outcome {
    Pass,
    Fail(String),
    Skip(&'static str),
}

fn options_for(machine_type: Option<&str>) -> Options {
    Options {
        machine_type: machine_type
            .and_then(MachineType::from_api)
            .unwrap_or_default(),
    }
}

fn report_for(case: &Case, options: &Options) -> Option<Report> {
    if let Some(definition) = case.json.get("definition").filter(|d| !d.is_null()) {
        return Some(validate(definition, options));
    }
    case.json
        .get("definition_raw")
        .and_then(Value::as_str)
        .map(|text| validate_str(text, options))
}

fn expected_error(case: &Case) -> Option<(&str, &str)> {
    let error = case.json.get("expected_response")?.get("Error")?;
    Some((
        error.get("Code")?.as_str()?,
        error.get("Message")?.as_str()?,
    ))
}

fn compare_message(report: &Report, expected: &str) -> Outcome {
    match report.message() {
        Some(actual) if actual == expected => Outcome::Pass,
        Some(actual) => Outcome::Fail(format!("expected {expected:?}\n      got      {actual:?}")),
        None => Outcome::Fail(format!(
            "expected {expected:?}\n      got a valid definition"
        )),
    }
}

fn api_error(case: &Case) -> Outcome {
    let operation = case.json.get("operation").and_then(Value::as_str);
    let Some((code, message)) = expected_error(case) else {
        return Outcome::Skip(NEEDS_API);
    };
    if operation != Some("create_state_machine") || code != "InvalidDefinition" {
        return Outcome::Skip(NEEDS_API);
    }
    let request_type = case
        .json
        .get("request")
        .and_then(|r| r.get("type"))
        .and_then(Value::as_str);
    match report_for(case, &options_for(request_type)) {
        Some(report) => compare_message(&report, message),
        None => Outcome::Skip(NO_DEFINITION),
    }
}

fn test_state(case: &Case) -> Outcome {
    let Some(definition) = case.json.get("definition").filter(|d| d.is_object()) else {
        return Outcome::Skip(NO_DEFINITION);
    };
    // TestState takes a single state or a whole machine; a single state is checked as the
    // only state of a machine, under the name AWS's locations use for it.
    let machine = if definition.get("States").is_some() {
        definition.clone()
    } else {
        json!({"StartAt": "StateName", "States": {"StateName": definition}})
    };
    let report = validate(&machine, &Options::default());
    match expected_error(case) {
        Some(("InvalidDefinition", message))
            if message.starts_with("Invalid State Machine Definition:") =>
        {
            compare_message(&report, message)
        }
        Some(_) => Outcome::Skip(NEEDS_TEST_STATE),
        None => {
            // AWS ran this state, so its schema is valid; a lone state's transitions lead out
            // of the wrapper machine, so only schema diagnostics count here.
            let schema: Vec<String> = report
                .diagnostics
                .iter()
                .filter(|d| d.code == "SCHEMA_VALIDATION_FAILED")
                .map(|d| d.render())
                .collect();
            if schema.is_empty() {
                Outcome::Pass
            } else {
                Outcome::Fail(format!(
                    "AWS ran this state; Cairn says {}",
                    schema.join(", ")
                ))
            }
        }
    }
}

fn execution(case: &Case) -> Outcome {
    // START_REJECTED executions were refused by StartExecution, after CreateStateMachine had
    // accepted their definitions, so they count as valid definitions too.
    let machine_type = case.json.get("state_machine_type").and_then(Value::as_str);
    match report_for(case, &options_for(machine_type)) {
        Some(report) if report.is_valid() => Outcome::Pass,
        Some(report) => Outcome::Fail(format!(
            "AWS accepted this definition; Cairn says {}",
            report.message().unwrap_or_default()
        )),
        None => Outcome::Skip(NO_DEFINITION),
    }
}

fn features(case: &Case) -> Vec<String> {
    case.json
        .get("features")
        .and_then(Value::as_array)
        .map(|features| {
            features
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn definitions_are_judged_as_aws_judged_them() {
    let Some(corpus) = locate() else {
        eprintln!(
            "SKIPPED: the conformance corpus is not on this machine (set CAIRN_CONFORMANCE_DIR)"
        );
        return;
    };
    let known = known_failures(KNOWN_FAILURES);
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut unexpected = Vec::new();
    let kinds: [(&str, Judge); 3] = [
        ("api_errors", api_error),
        ("test_state", test_state),
        ("executions", execution),
    ];
    for (kind, judge) in kinds {
        let cases = load(&corpus, kind).expect("the corpus is readable");
        let mut tally = Tally::default();
        for case in &cases {
            seen.insert(case.key.clone());
            let listed = known.contains(&case.key);
            match judge(case) {
                Outcome::Pass => {
                    tally.passed += 1;
                    for feature in features(case) {
                        *tally.passed_by_feature.entry(feature).or_default() += 1;
                    }
                    if listed {
                        unexpected.push(format!(
                            "{} passes now: remove it from tests/known-failures/api_errors.txt",
                            case.key
                        ));
                    }
                }
                Outcome::Fail(why) => {
                    for feature in features(case) {
                        *tally.failed_by_feature.entry(feature).or_default() += 1;
                    }
                    if !listed {
                        unexpected.push(format!("{} ({}):\n      {why}", case.key, case.id()));
                    }
                    tally.failed.push((case.key.clone(), why));
                }
                Outcome::Skip(reason) => {
                    *tally.skipped.entry(reason).or_default() += 1;
                    if listed {
                        unexpected.push(format!("{} is listed but skipped", case.key));
                    }
                }
            }
        }
        let skipped: usize = tally.skipped.values().sum();
        println!(
            "{kind}: {} passed, {} failed, {skipped} skipped",
            tally.passed,
            tally.failed.len()
        );
        for (reason, count) in &tally.skipped {
            println!("  skipped {count}: {reason}");
        }
        for (feature, count) in &tally.failed_by_feature {
            let passed = tally.passed_by_feature.get(feature).copied().unwrap_or(0);
            println!("  {feature}: {count} failed, {passed} passed");
        }
    }
    for key in &known {
        if !seen.contains(key) {
            unexpected.push(format!("{key} is listed but is not in the corpus"));
        }
    }
    assert!(
        unexpected.is_empty(),
        "{} unexpected results:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}
