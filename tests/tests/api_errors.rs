//! Definition validation against what AWS did: every recorded CreateStateMachine
//! `InvalidDefinition` must get AWS's exact message, and every definition AWS accepted and ran
//! must validate.

use std::collections::{BTreeMap, BTreeSet};

use cairn_asl::validate::{validate, validate_str, MachineType, Options, Report};
use cairn_conformance::corpus::{load, locate, Case};
use cairn_conformance::known::{self, KnownFailures, Tally};
use serde_json::{json, Value};

/// Why a case is not judged here (each is judged where its rule lives).
const NEEDS_API: &str =
    "not a CreateStateMachine InvalidDefinition: replayed through the API by shared/api/tests/api_errors_corpus.rs";
const NEEDS_TEST_STATE: &str =
    "a TestState API rule, not definition validation: replayed by tests/tests/test_state_api.rs";
const NO_DEFINITION: &str = "recording kept no definition";

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
    let known = KnownFailures::read("api_errors.txt").expect("the known-failures list is valid");
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut problems = Vec::new();
    let mut failures: Vec<(String, String)> = Vec::new();
    let kinds: [(&str, Judge); 3] = [
        ("api_errors", api_error),
        ("test_state", test_state),
        ("executions", execution),
    ];
    for (kind, judge) in kinds {
        let cases = load(&corpus, kind).expect("the corpus is readable");
        let keys: BTreeSet<&str> = cases.iter().map(|c| c.key.as_str()).collect();
        // One list serves the three kinds: each tally checks its own share of it.
        let mut tally = Tally::new(
            format!("definition validation: {kind}"),
            known.only(|key| keys.contains(key)),
        );
        let mut failed_by_feature: BTreeMap<String, usize> = BTreeMap::new();
        let mut passed_by_feature: BTreeMap<String, usize> = BTreeMap::new();
        for case in &cases {
            seen.insert(case.key.clone());
            let outcome = match judge(case) {
                Outcome::Pass => {
                    for feature in features(case) {
                        *passed_by_feature.entry(feature).or_default() += 1;
                    }
                    known::Outcome::Passed
                }
                Outcome::Fail(why) => {
                    for feature in features(case) {
                        *failed_by_feature.entry(feature).or_default() += 1;
                    }
                    known::Outcome::Failed(why)
                }
                Outcome::Skip(reason) => known::Outcome::Skipped(reason.to_owned()),
            };
            tally.record(&case.key, outcome);
        }
        print!("{}", tally.report());
        for (feature, count) in &failed_by_feature {
            let passed = passed_by_feature.get(feature).copied().unwrap_or(0);
            println!("  {feature}: {count} failed, {passed} passed");
        }
        if let Err(problem) = tally.check() {
            problems.push(problem);
        }
        failures.extend(tally.failures().map(|(k, p)| (k.to_owned(), p.to_owned())));
    }
    for key in known.keys() {
        if !seen.contains(key) {
            problems.push(format!("{key} is listed but is not in the corpus"));
        }
    }
    if KnownFailures::updating() {
        known
            .rewrite(
                "# Cases of tests/tests/api_errors.rs that Cairn does not pass yet: file stem # reason.\n",
                failures.iter().map(|(k, p)| (k.as_str(), p.as_str())),
            )
            .expect("the list is writable");
        return;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
