//! RedriveExecution through the API: an activity fails the execution, the redrive hands the
//! same task out again, and only it runs; AWS's fields, filters and errors around it.

use std::sync::Arc;
use std::time::Duration;

use cairn_api::{Api, Config};
use cairn_store::MemoryStore;
use serde_json::{json, Value};

mod support;
use support::{api, call, event_types, fails, ROLE};

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Takes the activity's next task: (token, input).
fn take_task(api: &Api, activity: &str) -> (String, Value) {
    let task = call(api, "GetActivityTask", json!({"activityArn": activity}));
    let token = text(&task["taskToken"]);
    assert!(!token.is_empty(), "no task for {activity}: {task}");
    let input = serde_json::from_str(task["input"].as_str().unwrap_or("null")).unwrap_or_default();
    (token, input)
}

#[test]
fn a_failed_execution_is_redriven_from_its_failed_state_and_succeeds() {
    let api = api();
    let activity = text(&call(&api, "CreateActivity", json!({"name": "work"}))["activityArn"]);
    let definition = json!({"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Result": "ready", "ResultPath": "$.prepared", "Next": "Work"},
        "Work": {"Type": "Task", "Resource": activity,
                 "Parameters": {"in.$": "$", "redrives.$": "$$.Execution.RedriveCount"},
                 "End": true}}});
    let machine = text(
        &call(
            &api,
            "CreateStateMachine",
            json!({"name": "redrive", "definition": definition.to_string(), "roleArn": ROLE}),
        )["stateMachineArn"],
    );
    let started = call(
        &api,
        "StartExecution",
        json!({"stateMachineArn": machine, "name": "e1", "input": "{\"id\":7}"}),
    );
    let arn = text(&started["executionArn"]);

    let running = fails(&api, "RedriveExecution", json!({"executionArn": arn}));
    assert_eq!(running.error_type, "ExecutionNotRedrivable");
    assert!(
        running
            .message
            .contains("Execution is RUNNING and cannot be redriven"),
        "{}",
        running.message
    );
    let described = call(&api, "DescribeExecution", json!({"executionArn": arn}));
    assert_eq!(described["redriveStatus"], "NOT_REDRIVABLE");
    assert_eq!(described["redriveCount"], 0);

    let (token, input) = take_task(&api, &activity);
    assert_eq!(
        input,
        json!({"in": {"id": 7, "prepared": "ready"}, "redrives": 0})
    );
    call(
        &api,
        "SendTaskFailure",
        json!({"taskToken": token, "error": "Missing", "cause": "no item"}),
    );
    let failed = call(&api, "DescribeExecution", json!({"executionArn": arn}));
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(failed["redriveStatus"], "REDRIVABLE");
    assert!(failed.get("redriveStatusReason").is_none(), "{failed}");
    let listed = call(
        &api,
        "ListExecutions",
        json!({"stateMachineArn": machine, "redriveFilter": "REDRIVEN"}),
    );
    assert_eq!(listed["executions"], json!([]));

    let redriven = call(
        &api,
        "RedriveExecution",
        json!({"executionArn": arn, "clientToken": "once"}),
    );
    assert!(redriven["redriveDate"].is_number(), "{redriven}");
    // The same request again (a retry) answers the same redrive and makes no other.
    let again = call(
        &api,
        "RedriveExecution",
        json!({"executionArn": arn, "clientToken": "once"}),
    );
    assert_eq!(again["redriveDate"], redriven["redriveDate"]);
    let other = fails(
        &api,
        "RedriveExecution",
        json!({"executionArn": arn, "clientToken": "twice"}),
    );
    assert_eq!(other.error_type, "ExecutionNotRedrivable");

    let described = call(&api, "DescribeExecution", json!({"executionArn": arn}));
    assert_eq!(described["status"], "RUNNING");
    assert_eq!(described["redriveCount"], 1);
    assert_eq!(described["redriveDate"], redriven["redriveDate"]);
    assert!(described.get("stopDate").is_none(), "{described}");
    assert!(described.get("error").is_none(), "{described}");

    let (token, input) = take_task(&api, &activity);
    assert_eq!(
        input,
        json!({"in": {"id": 7, "prepared": "ready"}, "redrives": 1}),
        "the failed state runs again with its input; the Pass before it does not"
    );
    call(
        &api,
        "SendTaskSuccess",
        json!({"taskToken": token, "output": "{\"done\":true}"}),
    );
    let done = call(&api, "DescribeExecution", json!({"executionArn": arn}));
    assert_eq!(done["status"], "SUCCEEDED");
    assert_eq!(done["output"], "{\"done\":true}");
    assert_eq!(done["redriveCount"], 1);
    assert_eq!(done["redriveStatus"], "NOT_REDRIVABLE");
    assert_eq!(
        done["redriveStatusReason"],
        "Execution is SUCCEEDED and cannot be redriven"
    );
    let types = event_types(&api, &arn);
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "TaskStateEntered",
            "ActivityScheduled",
            "ActivityStarted",
            "ActivityFailed",
            "ExecutionFailed",
            "ExecutionRedriven",
            "TaskStateEntered",
            "ActivityScheduled",
            "ActivityStarted",
            "ActivitySucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    let history = call(
        &api,
        "GetExecutionHistory",
        json!({"executionArn": arn, "maxResults": 1000}),
    );
    assert_eq!(
        history["events"][8]["executionRedrivenEventDetails"],
        json!({"redriveCount": 1})
    );

    let listed = call(
        &api,
        "ListExecutions",
        json!({"stateMachineArn": machine, "redriveFilter": "REDRIVEN"}),
    );
    assert_eq!(listed["executions"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["executions"][0]["redriveCount"], 1);
    let listed = call(
        &api,
        "ListExecutions",
        json!({"stateMachineArn": machine, "redriveFilter": "NOT_REDRIVEN"}),
    );
    assert_eq!(listed["executions"], json!([]));
    let bad = fails(
        &api,
        "ListExecutions",
        json!({"stateMachineArn": machine, "redriveFilter": "redriven"}),
    );
    assert_eq!(bad.error_type, "ValidationException");

    let succeeded = fails(&api, "RedriveExecution", json!({"executionArn": arn}));
    assert_eq!(succeeded.error_type, "ExecutionNotRedrivable");
    let missing = fails(
        &api,
        "RedriveExecution",
        json!({"executionArn": "arn:aws:states:us-east-1:123456789012:execution:redrive:nope"}),
    );
    assert_eq!(missing.error_type, "ExecutionDoesNotExist");
    let invalid = fails(&api, "RedriveExecution", json!({"executionArn": "nope"}));
    assert_eq!(invalid.error_type, "InvalidArn");
}

#[test]
fn a_stopped_execution_is_redriven() {
    let api = api();
    let activity = text(&call(&api, "CreateActivity", json!({"name": "slow"}))["activityArn"]);
    let definition = json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": activity, "End": true}}});
    let machine = text(
        &call(
            &api,
            "CreateStateMachine",
            json!({"name": "stopped", "definition": definition.to_string(), "roleArn": ROLE}),
        )["stateMachineArn"],
    );
    let arn = text(
        &call(
            &api,
            "StartExecution",
            json!({"stateMachineArn": machine, "name": "s1"}),
        )["executionArn"],
    );
    call(&api, "StopExecution", json!({"executionArn": arn}));
    let stopped = call(&api, "DescribeExecution", json!({"executionArn": arn}));
    assert_eq!(stopped["status"], "ABORTED");
    assert_eq!(stopped["redriveStatus"], "REDRIVABLE");
    call(&api, "RedriveExecution", json!({"executionArn": arn}));
    let (token, _) = take_task(&api, &activity);
    call(
        &api,
        "SendTaskSuccess",
        json!({"taskToken": token, "output": "1"}),
    );
    let done = call(&api, "DescribeExecution", json!({"executionArn": arn}));
    assert_eq!(done["status"], "SUCCEEDED");
    assert_eq!(done["output"], "1");

    // Once its state machine is deleted, a stopped execution cannot be redriven.
    let arn = text(
        &call(
            &api,
            "StartExecution",
            json!({"stateMachineArn": machine, "name": "s2"}),
        )["executionArn"],
    );
    call(&api, "StopExecution", json!({"executionArn": arn}));
    call(
        &api,
        "DeleteStateMachine",
        json!({"stateMachineArn": machine}),
    );
    let orphan = call(&api, "DescribeExecution", json!({"executionArn": arn}));
    assert_eq!(orphan["redriveStatus"], "NOT_REDRIVABLE");
    assert_eq!(
        orphan["redriveStatusReason"],
        "State machine is in DELETING status"
    );
    let refused = fails(&api, "RedriveExecution", json!({"executionArn": arn}));
    assert_eq!(refused.error_type, "ExecutionNotRedrivable");
}

/// Keeps the status events the API sends.
#[derive(Default)]
struct Events(std::sync::Mutex<Vec<Value>>);

impl cairn_api::observe::StatusEventSink for Events {
    fn send(&self, event: Value) {
        if let Ok(mut events) = self.0.lock() {
            events.push(event);
        }
    }
}

#[test]
fn a_redrive_is_reported_as_running_again() {
    let events = Arc::new(Events::default());
    let config = Config {
        activity_poll: Duration::from_secs(2),
        status_events: Some(events.clone()),
        ..Config::default()
    };
    let api = Api::new(Arc::new(MemoryStore::new()), config);
    let definition = json!({"StartAt": "No", "States": {"No": {"Type": "Fail", "Error": "E"}}});
    let machine = text(
        &call(
            &api,
            "CreateStateMachine",
            json!({"name": "reported", "definition": definition.to_string(), "roleArn": ROLE}),
        )["stateMachineArn"],
    );
    let arn = text(
        &call(
            &api,
            "StartExecution",
            json!({"stateMachineArn": machine, "name": "r1"}),
        )["executionArn"],
    );
    call(&api, "RedriveExecution", json!({"executionArn": arn}));
    let statuses: Vec<String> = events
        .0
        .lock()
        .map(|events| {
            events
                .iter()
                .map(|e| text(&e["detail"]["status"]))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(statuses, ["RUNNING", "FAILED", "RUNNING", "FAILED"]);
}
