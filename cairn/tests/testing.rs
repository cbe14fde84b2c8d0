//! Testing state machines (issue 13): AWS's documented mock configuration example run
//! unchanged through `cairn run --mock-config --test-case`, and `cairn test` on the example
//! suites in docs/examples/testing (one passes, one fails on purpose).

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{json, Value};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/testing")
}

fn cairn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .current_dir(examples())
        // The mocks must answer: no real AWS call may happen, so no endpoint is reachable.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("SFN_MOCK_CONFIG")
        .output()
        .expect("cairn runs")
}

fn run_case(case: &str) -> Value {
    let out = cairn(&[
        "run",
        "LambdaSQSIntegration.asl.json",
        "--mock-config",
        "MockConfigFile.json",
        "--test-case",
        case,
        "--virtual-time",
        "--history",
        "--format",
        "json",
    ]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn types(history: &Value) -> Vec<&str> {
    history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect()
}

#[test]
fn the_happy_path_answers_both_states_from_the_mocks() {
    let run = run_case("HappyPath");
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(
        run["output"],
        json!({"MD5OfMessageBody": "3bcb6e8e-7h85-4375-b0bc-1a59812c6e51",
               "MessageId": "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51"})
    );
    let history = &run["history"];
    // The SQS state's input is the Lambda mock's whole answer, as in AWS's example history.
    let sqs_entered = history
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["type"] == "TaskStateEntered" && e["stateEnteredEventDetails"]["name"] == "SQSState"
        })
        .expect("SQSState entered");
    let input: Value = serde_json::from_str(
        sqs_entered["stateEnteredEventDetails"]["input"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        input,
        json!({"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"}})
    );
    let succeeded: Vec<&Value> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "TaskSucceeded")
        .collect();
    assert_eq!(succeeded.len(), 2);
    assert_eq!(
        succeeded[0]["taskSucceededEventDetails"]["resourceType"],
        "lambda"
    );
    assert_eq!(
        succeeded[1]["taskSucceededEventDetails"]["resource"],
        "sendMessage"
    );
}

#[test]
fn the_retry_path_shows_each_mocked_failure_and_the_retries_in_the_history() {
    let run = run_case("RetryPath");
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    let history = &run["history"];
    let errors: Vec<(&str, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "TaskFailed")
        .map(|e| {
            let d = &e["taskFailedEventDetails"];
            (d["error"].as_str().unwrap(), d["cause"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            (
                "Lambda.ResourceNotReadyException",
                "Lambda resource is not ready."
            ),
            ("Lambda.TimeoutException", "Lambda timed out."),
            ("Lambda.TimeoutException", "Lambda timed out."),
        ]
    );
    let all = types(history);
    let scheduled = all.iter().filter(|t| **t == "TaskScheduled").count();
    assert_eq!(
        scheduled, 5,
        "4 attempts of LambdaState, 1 of SQSState: {all:?}"
    );
    // The retries wait 2, 4 and 8 seconds (IntervalSeconds 2, BackoffRate 2) in logical time.
    let times: Vec<f64> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "TaskScheduled")
        .map(|e| e["timestamp"].as_f64().unwrap())
        .collect();
    let gaps: Vec<i64> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).round() as i64)
        .collect();
    assert_eq!(&gaps[..3], &[2, 4, 8], "{times:?}");
}

#[test]
fn an_unknown_test_case_is_refused_with_its_name() {
    let out = cairn(&[
        "run",
        "LambdaSQSIntegration.asl.json",
        "--mock-config",
        "MockConfigFile.json",
        "--test-case",
        "NoSuchPath",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no test case 'NoSuchPath' for the state machine 'LambdaSQSIntegration'"),
        "{err}"
    );
}

#[test]
fn the_example_suites_pass_and_cover_every_state_branch_and_clause() {
    let dir = std::env::temp_dir().join(format!("cairn-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let coverage = dir.join("coverage.json");
    let junit = dir.join("junit.xml");
    let out = cairn(&[
        "test",
        "order.suite.json",
        "LambdaSQSIntegration.suite.yaml",
        "--coverage",
        coverage.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("cairn test: 7 of 7 cases passed, 0 failed"),
        "{stdout}"
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&coverage).unwrap()).unwrap();
    let order = &report["machines"]["order.asl.json"];
    let definition: Value =
        serde_json::from_str(&std::fs::read_to_string(examples().join("order.asl.json")).unwrap())
            .unwrap();
    for state in definition["States"].as_object().unwrap().keys() {
        assert!(
            order["states"][state].as_u64().unwrap() > 0,
            "{state}: {order}"
        );
    }
    assert_eq!(
        order["choices"]["InStock?"],
        json!({"rules": [3, 1], "default": 1})
    );
    assert_eq!(order["retries"]["Charge"], json!([2, 1]));
    assert_eq!(order["catches"]["Charge"], json!([1, 1]));
    assert_eq!(order["covered"], order["total"]);
    assert_eq!(order["missing"], json!([]));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("tests=\"5\" failures=\"0\""), "{xml}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_suite_that_fails_on_purpose_exits_1_with_a_readable_diff() {
    let dir = std::env::temp_dir().join(format!("cairn-test-fail-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let junit = dir.join("junit.xml");
    let coverage = dir.join("coverage.json");
    let out = cairn(&[
        "test",
        "order.failing.suite.json",
        "--junit",
        junit.to_str().unwrap(),
        "--coverage",
        coverage.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for expected in [
        "ok    passes: sold out fails the order",
        "FAIL  fails on purpose: wrong receipt and one attempt too few",
        "~ $.payment.receipt: expected \"r-999\", got \"r-2\"",
        "attempts of Charge: expected 2, got 3",
        "status: expected \"SUCCEEDED\", got FAILED (error OutOfStock: No item is left)",
        "expected: Start → CheckStock → Charge → Done",
        "actual:   Start → CheckStock → InStock? → OutOfStock",
        "cairn test: 1 of 3 cases passed, 2 failed",
        "not exercised: state ChargeFailed, state PaymentDeclined, choice InStock? rule 0",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("tests=\"3\" failures=\"2\""), "{xml}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&coverage).unwrap()).unwrap();
    let order = &report["machines"]["order.asl.json"];
    assert_eq!(
        order["choices"]["InStock?"],
        json!({"rules": [0, 1], "default": 2})
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_mocked_callback_or_sync_task_ends_with_its_mocked_answer() {
    let dir = std::env::temp_dir().join(format!("cairn-test-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let machine = dir.join("callbacks.asl.json");
    std::fs::write(
        &machine,
        json!({"StartAt": "Approve", "States": {
            "Approve": {"Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
                               "MessageBody": {"token.$": "$$.Task.Token"}},
                "TimeoutSeconds": 3600, "ResultPath": "$.approval", "Next": "Child"},
            "Child": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:child"},
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.childError", "Next": "Done"}],
                "Next": "Done"},
            "Done": {"Type": "Succeed"}}})
        .to_string(),
    )
    .unwrap();
    let mocks = dir.join("mocks.json");
    std::fs::write(
        &mocks,
        json!({"StateMachines": {"callbacks": {"TestCases": {"Approved": {
                "Approve": "Approved", "Child": "ChildFailed"}}}},
               "MockedResponses": {
                "Approved": {"0": {"Return": {"approved": true}}},
                "ChildFailed": {"0": {"Throw": {"Error": "States.TaskFailed", "Cause": "the child failed"}}}}})
        .to_string(),
    )
    .unwrap();
    let out = cairn(&[
        "run",
        machine.to_str().unwrap(),
        "--mock-config",
        mocks.to_str().unwrap(),
        "--test-case",
        "Approved",
        "--virtual-time",
        "--history",
        "--format",
        "json",
    ]);
    let run: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(run["output"]["approval"], json!({"approved": true}));
    assert_eq!(run["output"]["childError"]["Cause"], "the child failed");
    let kinds = types(&run["history"]);
    assert!(!kinds.contains(&"TaskSubmitted"), "{kinds:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
