//! Replays the corpus's TestState recordings through the API: the answers (status, output,
//! next state, error, cause and inspectionData, compared under the corpus's placeholder
//! rules) and the rejected requests (error code and message).
//!
//! The cases Cairn does not reproduce yet are listed, with their reasons, in
//! `tests/known-failures/test_state_answers.txt` and `test_state_rejections.txt`; they count
//! as failed. A listed case that passes, or an unlisted case that fails, fails the test.
//! `CAIRN_UPDATE_KNOWN_FAILURES=1 cargo test -p cairn-conformance --test test_state_api`
//! rewrites both lists from the results, keeping the reasons written for cases still failing.

use std::sync::Arc;

use cairn_api::{Api, Config};
use cairn_conformance::compare::{Matcher, SkipPaths};
use cairn_conformance::corpus::{self, Case};
use cairn_conformance::known::{KnownFailures, Outcome, Tally};
use cairn_store::MemoryStore;
use serde_json::Value;

/// Why a recording is not replayed.
const NO_DEFINITION: &str = "the recording kept no definition";
const STUBBED: &str =
    "the recording replaced resource ARNs with `<stub:...>` placeholders, so the request cannot be replayed";
const REAL_LAMBDA: &str =
    "invokes a real Lambda function (no mock in the request) whose behaviour the recording does not describe";

/// Whether a recording is one of AWS's answers or one of its rejections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Answer,
    Rejection,
}

impl Kind {
    fn of(case: &Case) -> Kind {
        if case.json["expected_raised"] == true {
            Kind::Rejection
        } else {
            Kind::Answer
        }
    }
}

/// Whether a recorded value and an actual one agree, under the corpus's placeholder rules.
fn same(matcher: &mut Matcher, expected: &Value, actual: &Value) -> bool {
    matcher.match_value(expected, actual).is_ok()
}

/// `inspectionData` with its JSON-text values read as JSON (the recordings hold some decoded).
fn decoded(data: &Value) -> Value {
    match data {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| {
                    let value = match v {
                        Value::String(text) => {
                            serde_json::from_str(text).unwrap_or_else(|_| v.clone())
                        }
                        other => other.clone(),
                    };
                    (k.clone(), value)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The state a request tries: `stateName` of a machine, else the definition itself.
fn state_under_test(case: &Case) -> &Value {
    let definition = &case.json["definition"];
    match case.json["request"]["stateName"].as_str() {
        Some(name) => &definition["States"][name],
        None => definition,
    }
}

/// Why a recording cannot be replayed here, if it cannot: decided from the recording alone,
/// before running it, so a skip never hides a failure.
fn skip_reason(kind: Kind, case: &Case) -> Option<&'static str> {
    if !case.json["definition"].is_object() {
        return Some(NO_DEFINITION);
    }
    if case.json.to_string().contains("<stub:") {
        return Some(STUBBED);
    }
    // A rejection comes before any invocation, so only an answer needs the function itself.
    let state = state_under_test(case);
    let lambda = kind == Kind::Answer
        && state["Type"] == "Task"
        && state["Resource"]
            .as_str()
            .is_some_and(|resource| resource.contains(":lambda:"));
    if lambda && case.json["request"].get("mock").is_none() {
        return Some(REAL_LAMBDA);
    }
    None
}

/// Replays every recording of `kind` with an API in the recordings' account and checks the
/// tally against `tests/known-failures/<list>`.
fn replay(kind: Kind, what: &str, list: &str, judge: impl Fn(&Api, &Case) -> Outcome) {
    let Some(dir) = corpus::locate() else {
        eprintln!(
            "SKIPPED: the conformance corpus is not on this machine (set CAIRN_CONFORMANCE_DIR)"
        );
        return;
    };
    let cases = corpus::load(&dir, "test_state").expect("the corpus is readable");
    let known = KnownFailures::read(list).expect("the known-failures list is valid");
    let api = recording_api();
    let mut tally = Tally::new(what, known);
    for case in cases.iter().filter(|case| Kind::of(case) == kind) {
        let outcome = match skip_reason(kind, case) {
            Some(reason) => Outcome::Skipped(reason.to_owned()),
            None => judge(&api, case),
        };
        tally.record(&case.key, outcome);
    }
    api.shutdown();
    assert!(tally.passed() > 0, "{what}: no recording passed");
    tally.finish(&format!(
        "# TestState recordings ({what}) Cairn does not reproduce yet: file stem # reason.\n\
         # Checked by tests/tests/test_state_api.rs; CAIRN_UPDATE_KNOWN_FAILURES=1 rewrites it.\n"
    ));
}

/// An API in the account the recordings were made in.
fn recording_api() -> Api {
    Api::new(
        Arc::new(MemoryStore::new()),
        Config {
            account: "111111111111".into(),
            ..Config::default()
        },
    )
}

/// The request as recorded, with the definition as the text the API takes.
fn request(case: &Case) -> Value {
    let mut request = case.json["request"].clone();
    request["definition"] = Value::from(case.json["definition"].to_string());
    request
}

#[test]
fn recorded_test_state_answers() {
    replay(
        Kind::Answer,
        "test_state answers",
        "test_state_answers.txt",
        |api, case| {
            let expected = &case.json["expected_response"];
            let outcome = api.handle("TestState", request(case));
            let ok = match &outcome {
                Ok(answer) => {
                    let output = answer
                        .get("output")
                        .and_then(Value::as_str)
                        .and_then(|t| serde_json::from_str::<Value>(t).ok());
                    let expected_output = expected.get("output").map(|o| match o {
                        Value::String(text) => serde_json::from_str(text).unwrap_or(o.clone()),
                        other => other.clone(),
                    });
                    let field = |v: &Value, k: &str| v.get(k).cloned().unwrap_or(Value::Null);
                    let mut matcher = Matcher::new(SkipPaths::of_case(&case.json));
                    field(expected, "status") == field(answer, "status")
                        && field(expected, "nextState") == field(answer, "nextState")
                        && field(expected, "error") == field(answer, "error")
                        && same(
                            &mut matcher,
                            &field(expected, "cause"),
                            &field(answer, "cause"),
                        )
                        && match (&expected_output, &output) {
                            (Some(e), Some(a)) => same(&mut matcher, e, a),
                            (None, None) => true,
                            _ => false,
                        }
                        && same(
                            &mut matcher,
                            &decoded(&field(expected, "inspectionData")),
                            &decoded(&field(answer, "inspectionData")),
                        )
                }
                Err(_) => false,
            };
            if ok {
                Outcome::Passed
            } else {
                Outcome::Failed(format!("expected {expected}\n   got {outcome:?}"))
            }
        },
    );
}

/// The recordings where AWS rejected the TestState request: same error code, same message.
#[test]
fn recorded_test_state_rejections() {
    replay(
        Kind::Rejection,
        "test_state rejections",
        "test_state_rejections.txt",
        |api, case| {
            let expected = &case.json["expected_response"];
            let outcome = api.handle("TestState", request(case));
            let ok = match &outcome {
                Err(error) => {
                    Some(error.error_type.as_str()) == expected["Error"]["Code"].as_str()
                        && Some(error.message.as_str()) == expected["Error"]["Message"].as_str()
                }
                Ok(_) => false,
            };
            if ok {
                Outcome::Passed
            } else {
                Outcome::Failed(format!(
                    "expected {} {}\n   got {outcome:?}",
                    expected["Error"]["Code"], expected["Error"]["Message"]
                ))
            }
        },
    );
}
