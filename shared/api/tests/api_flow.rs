//! The API over the in-memory store: executions driven through timers, activities and
//! callbacks, and AWS's errors for bad requests.

use std::sync::Arc;
use std::time::Duration;

use cairn_api::{Api, Config};
use cairn_store::MemoryStore;
use serde_json::{json, Value};

mod support;
use support::{api, call, event_types, fails, ROLE};

fn create(api: &Api, name: &str, definition: Value) -> String {
    let out = call(
        api,
        "CreateStateMachine",
        json!({"name": name, "definition": definition.to_string(), "roleArn": ROLE}),
    );
    out["stateMachineArn"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn wait_status(api: &Api, arn: &str) -> Value {
    for _ in 0..200 {
        let out = call(api, "DescribeExecution", json!({"executionArn": arn}));
        if out["status"] != "RUNNING" {
            return out;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{arn} did not finish")
}

#[test]
fn a_pass_choice_succeed_execution_finishes_at_start() {
    let api = api();
    let machine = create(
        &api,
        "b4",
        json!({"StartAt": "P", "States": {
            "P": {"Type": "Pass", "Result": {"n": 1}, "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "S"}], "Default": "F"},
            "S": {"Type": "Succeed"},
            "F": {"Type": "Fail"}}}),
    );
    let started = call(
        &api,
        "StartExecution",
        json!({"stateMachineArn": machine, "name": "e1"}),
    );
    let arn = started["executionArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(arn, "arn:aws:states:us-east-1:123456789012:execution:b4:e1");
    let described = call(&api, "DescribeExecution", json!({"executionArn": arn}));
    assert_eq!(described["status"], "SUCCEEDED");
    assert_eq!(described["output"], "{\"n\":1}");
    assert_eq!(described["input"], "{}");
    assert_eq!(
        event_types(&api, &arn),
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded"
        ]
    );
    // Same name, closed execution: AWS refuses even with the same input.
    let again = fails(
        &api,
        "StartExecution",
        json!({"stateMachineArn": machine, "name": "e1"}),
    );
    assert_eq!(again.error_type, "ExecutionAlreadyExists");
    assert_eq!(again.message, format!("Execution Already Exists: '{arn}'"));

    let reversed = call(
        &api,
        "GetExecutionHistory",
        json!({"executionArn": arn, "reverseOrder": true, "maxResults": 3}),
    );
    let ids: Vec<u64> = reversed["events"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["id"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(ids, [8, 7, 6]);
    let token = reversed["nextToken"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let next = call(
        &api,
        "GetExecutionHistory",
        json!({"executionArn": arn, "reverseOrder": true, "maxResults": 3, "nextToken": token}),
    );
    let ids: Vec<u64> = next["events"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["id"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(ids, [5, 4, 3]);
    let no_data = call(
        &api,
        "GetExecutionHistory",
        json!({"executionArn": arn, "includeExecutionData": false}),
    );
    assert!(no_data["events"][0]["executionStartedEventDetails"]
        .get("input")
        .is_none());
}

#[test]
fn a_wait_state_resumes_from_its_timer() {
    let api = api();
    let machine = create(
        &api,
        "wait",
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "Done"}, "Done": {"Type": "Pass", "End": true}}}),
    );
    let started = call(
        &api,
        "StartExecution",
        json!({"stateMachineArn": machine, "input": "{\"x\":2}"}),
    );
    let arn = started["executionArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        call(&api, "DescribeExecution", json!({"executionArn": arn}))["status"],
        "RUNNING"
    );
    let done = wait_status(&api, &arn);
    assert_eq!(
        (done["status"].as_str(), done["output"].as_str()),
        (Some("SUCCEEDED"), Some("{\"x\":2}"))
    );
    let types = event_types(&api, &arn);
    assert_eq!(
        types.iter().filter(|t| *t == "WaitStateEntered").count(),
        1,
        "{types:?}"
    );
}

#[test]
fn activity_tasks_go_to_one_worker_and_tokens_work_once() {
    let api = api();
    let activity = call(&api, "CreateActivity", json!({"name": "work"}))["activityArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let machine = create(
        &api,
        "act",
        json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": activity, "End": true}}}),
    );
    let arn = call(
        &api,
        "StartExecution",
        json!({"stateMachineArn": machine, "input": "{\"job\":7}"}),
    )["executionArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let task = call(
        &api,
        "GetActivityTask",
        json!({"activityArn": activity, "workerName": "w1"}),
    );
    assert_eq!(task["input"], "{\"job\":7}");
    let token = task["taskToken"].as_str().unwrap_or_default().to_string();
    // Nobody else gets the same task: the next poll times out empty.
    assert_eq!(
        call(&api, "GetActivityTask", json!({"activityArn": activity})),
        json!({})
    );
    call(&api, "SendTaskHeartbeat", json!({"taskToken": token}));
    call(
        &api,
        "SendTaskSuccess",
        json!({"taskToken": token, "output": "{\"done\":true}"}),
    );
    let done = wait_status(&api, &arn);
    assert_eq!(done["output"], "{\"done\":true}");
    let used = fails(
        &api,
        "SendTaskSuccess",
        json!({"taskToken": token, "output": "{}"}),
    );
    assert_eq!(
        (used.error_type.as_str(), used.message.as_str()),
        (
            "TaskTimedOut",
            "Task Timed Out: 'Provided task does not exist anymore'"
        )
    );
    let forged = fails(&api, "SendTaskFailure", json!({"taskToken": "forged"}));
    assert_eq!(forged.error_type, "InvalidToken");
    // Altering one digit of a genuine token breaks its signature.
    let mut altered = token.clone().into_bytes();
    altered[0] = if altered[0] == b'a' { b'b' } else { b'a' };
    let altered = String::from_utf8(altered).unwrap_or_default();
    assert_eq!(
        fails(&api, "SendTaskHeartbeat", json!({"taskToken": altered})).error_type,
        "InvalidToken"
    );
    assert_eq!(token.len(), 128, "the decider's token followed by its HMAC");
    let types = event_types(&api, &arn);
    assert!(types.contains(&"ActivityStarted".to_string()), "{types:?}");
    assert_eq!(types.last().map(String::as_str), Some("ExecutionSucceeded"));
}

#[test]
fn stop_execution_aborts_a_waiting_execution() {
    let api = api();
    let machine = create(
        &api,
        "long",
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1000, "End": true}}}),
    );
    let arn = call(&api, "StartExecution", json!({"stateMachineArn": machine}))["executionArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    call(
        &api,
        "StopExecution",
        json!({"executionArn": arn, "error": "E", "cause": "C"}),
    );
    let out = call(&api, "DescribeExecution", json!({"executionArn": arn}));
    assert_eq!(
        (
            out["status"].as_str(),
            out["error"].as_str(),
            out["cause"].as_str()
        ),
        (Some("ABORTED"), Some("E"), Some("C"))
    );
    let listed = call(
        &api,
        "ListExecutions",
        json!({"stateMachineArn": machine, "statusFilter": "ABORTED"}),
    );
    assert_eq!(listed["executions"][0]["executionArn"], arn.as_str());
}

#[test]
fn list_executions_pages_newest_first() {
    let api = api();
    let machine = create(
        &api,
        "m",
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
    );
    for i in 0..5 {
        call(
            &api,
            "StartExecution",
            json!({"stateMachineArn": machine, "name": format!("e{i}")}),
        );
    }
    let mut names = Vec::new();
    let mut token = Value::Null;
    loop {
        let page = call(
            &api,
            "ListExecutions",
            json!({"stateMachineArn": machine, "maxResults": 2, "nextToken": token}),
        );
        let items = page["executions"].as_array().cloned().unwrap_or_default();
        assert!(items.len() <= 2);
        names.extend(
            items
                .iter()
                .filter_map(|e| e["name"].as_str().map(str::to_string)),
        );
        token = page.get("nextToken").cloned().unwrap_or(Value::Null);
        if token.is_null() {
            break;
        }
    }
    names.sort();
    assert_eq!(names, ["e0", "e1", "e2", "e3", "e4"]);
}

#[test]
fn express_sync_execution_answers_with_the_outcome() {
    let api = api();
    let out = call(
        &api,
        "CreateStateMachine",
        json!({"name": "x", "type": "EXPRESS", "roleArn": ROLE, "definition": json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 3, "End": true}}}).to_string()}),
    );
    let machine = out["stateMachineArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let result = call(
        &api,
        "StartSyncExecution",
        json!({"stateMachineArn": machine, "input": "{}"}),
    );
    assert_eq!(
        (result["status"].as_str(), result["output"].as_str()),
        (Some("SUCCEEDED"), Some("3"))
    );
    let arn = result["executionArn"].as_str().unwrap_or_default();
    assert!(
        arn.starts_with("arn:aws:states:us-east-1:123456789012:express:x:"),
        "{arn}"
    );
    let describe = fails(&api, "DescribeExecution", json!({"executionArn": arn}));
    assert_eq!(
        describe.message,
        "Invalid Arn: 'Resource type not valid in this context: express'"
    );
    let list = fails(&api, "ListExecutions", json!({"stateMachineArn": machine}));
    assert_eq!(
        (list.error_type.as_str(), list.message.as_str()),
        (
            "StateMachineTypeNotSupported",
            "This operation is not supported by this type of state machine"
        )
    );
}

#[test]
fn express_history_is_kept_only_when_asked() {
    let config = Config {
        express_history: 2,
        ..Config::default()
    };
    let api = Api::new(Arc::new(MemoryStore::new()), config);
    let definition =
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "r", "End": true}}})
            .to_string();
    let created = call(
        &api,
        "CreateStateMachine",
        json!({"name": "xh", "type": "EXPRESS", "roleArn": ROLE, "definition": definition}),
    );
    let machine = created["stateMachineArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let arns: Vec<String> = (0..3)
        .map(|_| {
            let out = call(
                &api,
                "StartSyncExecution",
                json!({"stateMachineArn": machine, "input": "{\"k\":1}"}),
            );
            out["executionArn"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    let described = call(&api, "DescribeExecution", json!({"executionArn": arns[2]}));
    assert_eq!(
        (described["status"].as_str(), described["output"].as_str()),
        (Some("SUCCEEDED"), Some("\"r\""))
    );
    assert_eq!(described["input"], "{\"k\":1}");
    assert_eq!(
        event_types(&api, &arns[2]),
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    // Only the two newest are kept; older ones answer as AWS does.
    let oldest = fails(&api, "DescribeExecution", json!({"executionArn": arns[0]}));
    assert_eq!(
        oldest.message,
        "Invalid Arn: 'Resource type not valid in this context: express'"
    );
}

#[test]
fn stopping_an_execution_withdraws_its_queued_activity_task() {
    let api = api();
    let activity = call(&api, "CreateActivity", json!({"name": "never"}))["activityArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let machine = create(
        &api,
        "stopme",
        json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": activity, "End": true}}}),
    );
    let arn = call(&api, "StartExecution", json!({"stateMachineArn": machine}))["executionArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    call(&api, "StopExecution", json!({"executionArn": arn}));
    assert_eq!(
        call(&api, "DescribeExecution", json!({"executionArn": arn}))["status"],
        "ABORTED"
    );
    // The 2 s test poll ends empty: the task left the queue with its execution.
    assert_eq!(
        call(&api, "GetActivityTask", json!({"activityArn": activity})),
        json!({})
    );
    assert_eq!(
        event_types(&api, &arn).last().map(String::as_str),
        Some("ExecutionAborted")
    );
}
