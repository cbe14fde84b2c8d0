//! DeleteStateMachine as AWS does it: while executions of the state machine run it is
//! DELETING (DescribeStateMachine says so; StartExecution, UpdateStateMachine and
//! CreateStateMachine of the name answer StateMachineDeleting; its executions are listed and
//! fail at their next transition); once none runs it is gone. One without running executions
//! is gone at once.

use cairn_api::Api;
use serde_json::{json, Value};

mod support;
use support::{api, call, fails, ROLE};

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn waits() -> String {
    json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}})
        .to_string()
}

fn create(api: &Api, name: &str, extra: Value) -> Value {
    let mut request = json!({"name": name, "definition": waits(), "roleArn": ROLE});
    for (k, v) in extra.as_object().into_iter().flatten() {
        request[k] = v.clone();
    }
    call(api, "CreateStateMachine", request)
}

fn start(api: &Api, machine: &str) -> String {
    text(&call(api, "StartExecution", json!({"stateMachineArn": machine}))["executionArn"])
}

fn listed(api: &Api) -> Vec<String> {
    call(api, "ListStateMachines", json!({}))["stateMachines"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| text(&m["name"]))
        .collect()
}

#[test]
fn a_state_machine_with_running_executions_is_deleting_until_they_end() {
    let api = api();
    let machine = text(&create(&api, "busy", json!({}))["stateMachineArn"]);
    let first = start(&api, &machine);
    let second = start(&api, &machine);
    assert_eq!(
        call(
            &api,
            "DescribeStateMachine",
            json!({"stateMachineArn": machine})
        )["status"],
        "ACTIVE"
    );

    call(
        &api,
        "DeleteStateMachine",
        json!({"stateMachineArn": machine}),
    );
    let described = call(
        &api,
        "DescribeStateMachine",
        json!({"stateMachineArn": machine}),
    );
    assert_eq!(described["status"], "DELETING");
    assert_eq!(described["definition"], waits().as_str());
    // A second deletion changes nothing.
    call(
        &api,
        "DeleteStateMachine",
        json!({"stateMachineArn": machine}),
    );

    for (action, request) in [
        ("StartExecution", json!({"stateMachineArn": machine})),
        (
            "UpdateStateMachine",
            json!({"stateMachineArn": machine, "roleArn": ROLE}),
        ),
        (
            "CreateStateMachine",
            json!({"name": "busy", "definition": waits(), "roleArn": ROLE}),
        ),
    ] {
        let refused = fails(&api, action, request);
        assert_eq!(refused.error_type, "StateMachineDeleting", "{action}");
        assert!(refused.message.contains(&machine), "{}", refused.message);
        assert!(!refused.is_server_fault());
    }
    // Its executions go on and are listed; it is listed too.
    let executions = call(&api, "ListExecutions", json!({"stateMachineArn": machine}));
    assert_eq!(executions["executions"].as_array().map(Vec::len), Some(2));
    assert_eq!(listed(&api), ["busy"]);

    // One still runs: still DELETING.
    call(&api, "StopExecution", json!({"executionArn": first}));
    assert_eq!(
        call(
            &api,
            "DescribeStateMachine",
            json!({"stateMachineArn": machine})
        )["status"],
        "DELETING"
    );
    // The last one ends: gone, for every action.
    call(&api, "StopExecution", json!({"executionArn": second}));
    let gone = fails(
        &api,
        "DescribeStateMachine",
        json!({"stateMachineArn": machine}),
    );
    assert_eq!(gone.error_type, "StateMachineDoesNotExist");
    assert_eq!(
        fails(&api, "StartExecution", json!({"stateMachineArn": machine})).error_type,
        "StateMachineDoesNotExist"
    );
    assert!(listed(&api).is_empty());
    // Its executions stay readable, and the name is free again.
    assert_eq!(
        call(&api, "DescribeExecution", json!({"executionArn": first}))["status"],
        "ABORTED"
    );
    let again = create(&api, "busy", json!({}));
    assert_eq!(text(&again["stateMachineArn"]), machine);
    assert_eq!(
        call(
            &api,
            "DescribeStateMachine",
            json!({"stateMachineArn": machine})
        )["status"],
        "ACTIVE"
    );
    api.shutdown();
}

#[test]
fn a_state_machine_without_running_executions_is_gone_at_once() {
    let api = api();
    let pass = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}).to_string();
    let machine = text(
        &call(
            &api,
            "CreateStateMachine",
            json!({"name": "idle", "definition": pass, "roleArn": ROLE}),
        )["stateMachineArn"],
    );
    let done = start(&api, &machine);
    assert_eq!(
        call(&api, "DescribeExecution", json!({"executionArn": done}))["status"],
        "SUCCEEDED"
    );
    call(
        &api,
        "DeleteStateMachine",
        json!({"stateMachineArn": machine}),
    );
    assert_eq!(
        fails(
            &api,
            "DescribeStateMachine",
            json!({"stateMachineArn": machine})
        )
        .error_type,
        "StateMachineDoesNotExist"
    );
    // Deleting what is gone is not an error, as on AWS.
    call(
        &api,
        "DeleteStateMachine",
        json!({"stateMachineArn": machine}),
    );
    api.shutdown();
}

#[test]
fn versions_and_aliases_of_a_deleting_state_machine_start_nothing() {
    let api = api();
    let created = create(&api, "versioned", json!({"publish": true}));
    let machine = text(&created["stateMachineArn"]);
    let version = text(&created["stateMachineVersionArn"]);
    let alias = text(
        &call(
            &api,
            "CreateStateMachineAlias",
            json!({"name": "live", "routingConfiguration": [{"stateMachineVersionArn": version, "weight": 100}]}),
        )["stateMachineAliasArn"],
    );
    let running = start(&api, &version);
    call(
        &api,
        "DeleteStateMachine",
        json!({"stateMachineArn": machine}),
    );
    for target in [&version, &alias] {
        let refused = fails(&api, "StartExecution", json!({"stateMachineArn": target}));
        assert_eq!(refused.error_type, "StateMachineDeleting", "{target}");
    }
    // Ended while nobody looked: the next read finds it gone, listing included.
    call(&api, "StopExecution", json!({"executionArn": running}));
    assert!(listed(&api).is_empty());
    assert_eq!(
        fails(&api, "StartExecution", json!({"stateMachineArn": version})).error_type,
        "StateMachineDoesNotExist"
    );
    api.shutdown();
}

/// AWS: "On the next state transition, the state machine's executions are terminated": a
/// task's answer for an execution of a DELETING state machine fails it with States.Runtime,
/// and then the state machine is gone. A stop meanwhile is no transition (see above).
#[test]
fn a_deleting_state_machines_execution_fails_at_its_next_transition() {
    let api = api();
    let activity = text(&call(&api, "CreateActivity", json!({"name": "work"}))["activityArn"]);
    let definition = json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": activity, "Next": "After"},
        "After": {"Type": "Pass", "End": true}}});
    let machine = text(
        &call(
            &api,
            "CreateStateMachine",
            json!({"name": "doomed", "definition": definition.to_string(), "roleArn": ROLE}),
        )["stateMachineArn"],
    );
    let arn = start(&api, &machine);
    let task = call(&api, "GetActivityTask", json!({"activityArn": activity}));
    let token = text(&task["taskToken"]);
    assert!(!token.is_empty(), "{task}");

    call(
        &api,
        "DeleteStateMachine",
        json!({"stateMachineArn": machine}),
    );
    assert_eq!(
        call(&api, "DescribeExecution", json!({"executionArn": arn}))["status"],
        "RUNNING",
        "nothing happens to it before its next transition"
    );
    call(
        &api,
        "SendTaskSuccess",
        json!({"taskToken": token, "output": "{}"}),
    );
    let described = call(&api, "DescribeExecution", json!({"executionArn": arn}));
    assert_eq!(described["status"], "FAILED");
    assert_eq!(described["error"], "States.Runtime");
    assert_eq!(described["cause"], "State machine doomed has been deleted.");
    let history = call(&api, "GetExecutionHistory", json!({"executionArn": arn}));
    let events = history["events"].as_array().cloned().unwrap_or_default();
    let last = events.last().cloned().unwrap_or_default();
    assert_eq!(last["type"], "ExecutionFailed", "{history}");
    assert!(
        !events.iter().any(|e| e["type"] == "TaskSucceeded"),
        "the answer is not applied: {history}"
    );
    assert_eq!(
        fails(
            &api,
            "DescribeStateMachine",
            json!({"stateMachineArn": machine})
        )
        .error_type,
        "StateMachineDoesNotExist"
    );
    // The name is free again, and a new state machine under it is not DELETING.
    create(&api, "doomed", json!({}));
    let again = start(&api, &machine);
    assert_eq!(
        call(&api, "DescribeExecution", json!({"executionArn": again}))["status"],
        "RUNNING"
    );
    api.shutdown();
}
