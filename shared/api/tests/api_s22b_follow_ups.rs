//! Follow-ups of the API work of issue 14: `resourceName` on ResourceNotFound and
//! TooManyTags; no redrive of an execution whose state machine is DELETING; the version and
//! alias listings' tokens dated like the others; no new version or alias of a DELETING
//! state machine.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use cairn_api::{Api, Config};
use cairn_runtime::Clock;
use cairn_store::MemoryStore;
use serde_json::{json, Value};

mod support;
use support::{api, call, fails, ROLE};

const DAY_MS: i64 = 86_400_000;

struct ManualClock(AtomicI64);

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn waits() -> String {
    json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}})
        .to_string()
}

fn create(api: &Api, name: &str) -> String {
    text(
        &call(
            api,
            "CreateStateMachine",
            json!({"name": name, "definition": waits(), "roleArn": ROLE}),
        )["stateMachineArn"],
    )
}

fn start(api: &Api, machine: &str) -> String {
    text(&call(api, "StartExecution", json!({"stateMachineArn": machine}))["executionArn"])
}

fn publish(api: &Api, machine: &str) -> String {
    text(
        &call(
            api,
            "PublishStateMachineVersion",
            json!({"stateMachineArn": machine}),
        )["stateMachineVersionArn"],
    )
}

#[test]
fn too_many_tags_and_resource_not_found_name_the_resource() {
    let api = api();
    let machine = create(&api, "tagged");
    let tags: Vec<Value> = (0..51)
        .map(|i| json!({"key": format!("k{i}"), "value": "v"}))
        .collect();
    let refused = fails(
        &api,
        "TagResource",
        json!({"resourceArn": machine, "tags": tags}),
    );
    assert_eq!(refused.error_type, "TooManyTags");
    assert_eq!(refused.resource_name.as_deref(), Some(machine.as_str()));
    let body = refused.wire_body();
    assert_eq!(body["__type"], "TooManyTags");
    assert_eq!(body["resourceName"], machine.as_str());

    let missing = machine.replace(":tagged", ":nothing");
    for (action, request, named) in [
        (
            "ListTagsForResource",
            json!({"resourceArn": missing}),
            missing.clone(),
        ),
        (
            "DescribeStateMachineAlias",
            json!({"stateMachineAliasArn": format!("{machine}:PROD")}),
            format!("{machine}:PROD"),
        ),
        (
            "DescribeMapRun",
            json!({"mapRunArn": machine.replace(":stateMachine:", ":mapRun:") + "/m:0a1b"}),
            machine.replace(":stateMachine:", ":mapRun:") + "/m:0a1b",
        ),
    ] {
        let error = fails(&api, action, request);
        assert_eq!(error.error_type, "ResourceNotFound", "{action}");
        assert_eq!(
            error.wire_body()["resourceName"],
            named.as_str(),
            "{action}"
        );
    }
    // An alias routed to a version that does not exist names that version.
    let absent = format!("{machine}:7");
    let error = fails(
        &api,
        "CreateStateMachineAlias",
        json!({"name": "PROD", "routingConfiguration": [
            {"stateMachineVersionArn": absent, "weight": 100}]}),
    );
    assert_eq!(error.error_type, "ResourceNotFound");
    assert_eq!(error.resource_name.as_deref(), Some(absent.as_str()));
    // Other errors carry none.
    let other = fails(
        &api,
        "DescribeStateMachine",
        json!({"stateMachineArn": missing}),
    );
    assert_eq!(other.resource_name, None);
    assert!(other.wire_body().get("resourceName").is_none());
}

#[test]
fn an_execution_of_a_deleting_state_machine_is_not_redrivable() {
    let api = api();
    let machine = create(&api, "going");
    let aborted = start(&api, &machine);
    let running = start(&api, &machine);
    call(&api, "StopExecution", json!({"executionArn": aborted}));
    let before = call(&api, "DescribeExecution", json!({"executionArn": aborted}));
    assert_eq!(before["status"], "ABORTED");
    assert_eq!(before["redriveStatus"], "REDRIVABLE");

    call(
        &api,
        "DeleteStateMachine",
        json!({"stateMachineArn": machine}),
    );
    assert_eq!(
        call(
            &api,
            "DescribeStateMachine",
            json!({"stateMachineArn": machine})
        )["status"],
        "DELETING"
    );
    let refused = fails(&api, "RedriveExecution", json!({"executionArn": aborted}));
    assert_eq!(refused.error_type, "ExecutionNotRedrivable");
    assert!(
        refused
            .message
            .contains("State machine is in DELETING status"),
        "{}",
        refused.message
    );
    let described = call(&api, "DescribeExecution", json!({"executionArn": aborted}));
    assert_eq!(described["redriveStatus"], "NOT_REDRIVABLE");
    assert_eq!(
        described["redriveStatusReason"],
        "State machine is in DELETING status"
    );
    assert_eq!(described["redriveCount"], 0);

    // Once the last execution ended the state machine is gone: still not redrivable.
    call(&api, "StopExecution", json!({"executionArn": running}));
    assert_eq!(
        fails(
            &api,
            "DescribeStateMachine",
            json!({"stateMachineArn": machine})
        )
        .error_type,
        "StateMachineDoesNotExist"
    );
    let refused = fails(&api, "RedriveExecution", json!({"executionArn": aborted}));
    assert_eq!(refused.error_type, "ExecutionNotRedrivable");
    assert!(refused
        .message
        .contains("State machine is in DELETING status"));
}

#[test]
fn no_version_or_alias_is_made_of_a_deleting_state_machine() {
    let api = api();
    let machine = create(&api, "versioned");
    let first = publish(&api, &machine);
    call(
        &api,
        "CreateStateMachineAlias",
        json!({"name": "LIVE", "routingConfiguration": [
            {"stateMachineVersionArn": first, "weight": 100}]}),
    );
    let running = start(&api, &machine);
    call(
        &api,
        "DeleteStateMachine",
        json!({"stateMachineArn": machine}),
    );

    for (action, request) in [
        (
            "PublishStateMachineVersion",
            json!({"stateMachineArn": machine}),
        ),
        (
            "CreateStateMachineAlias",
            json!({"name": "NEXT", "routingConfiguration": [
                {"stateMachineVersionArn": first, "weight": 100}]}),
        ),
        (
            "UpdateStateMachineAlias",
            json!({"stateMachineAliasArn": format!("{machine}:LIVE"), "description": "d"}),
        ),
    ] {
        let refused = fails(&api, action, request);
        assert_eq!(refused.error_type, "StateMachineDeleting", "{action}");
        assert!(refused.message.contains(&machine), "{}", refused.message);
        assert!(!refused.is_server_fault());
    }
    // Nothing was made: one version, one alias.
    let versions = call(
        &api,
        "ListStateMachineVersions",
        json!({"stateMachineArn": machine}),
    );
    assert_eq!(
        versions["stateMachineVersions"].as_array().map(Vec::len),
        Some(1)
    );
    let aliases = call(
        &api,
        "ListStateMachineAliases",
        json!({"stateMachineArn": machine}),
    );
    assert_eq!(
        aliases["stateMachineAliases"].as_array().map(Vec::len),
        Some(1)
    );

    // Its last execution ended: the state machine is gone.
    call(&api, "StopExecution", json!({"executionArn": running}));
    assert_eq!(
        fails(
            &api,
            "PublishStateMachineVersion",
            json!({"stateMachineArn": machine}),
        )
        .error_type,
        "StateMachineDoesNotExist"
    );
}

#[test]
fn version_and_alias_tokens_expire_24_hours_after_their_page() {
    let clock = Arc::new(ManualClock(AtomicI64::new(1_700_000_000_000)));
    let api = Api::new(
        Arc::new(MemoryStore::new()),
        Config {
            clock: clock.clone(),
            ..Config::default()
        },
    );
    let machine = create(&api, "paged");
    let mut versions = Vec::new();
    for revision in 0..3 {
        call(
            &api,
            "UpdateStateMachine",
            json!({"stateMachineArn": machine, "definition": json!({"Comment": format!("r{revision}"), "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}).to_string()}),
        );
        versions.push(publish(&api, &machine));
    }
    for (i, name) in ["A", "B", "C"].iter().enumerate() {
        call(
            &api,
            "CreateStateMachineAlias",
            json!({"name": name, "routingConfiguration": [
                {"stateMachineVersionArn": versions[i], "weight": 100}]}),
        );
    }

    for (action, key, member) in [
        (
            "ListStateMachineVersions",
            "stateMachineVersions",
            "stateMachineVersionArn",
        ),
        (
            "ListStateMachineAliases",
            "stateMachineAliases",
            "stateMachineAliasArn",
        ),
    ] {
        let request = json!({"stateMachineArn": machine, "maxResults": 2});
        let first = call(&api, action, request.clone());
        let token = text(&first["nextToken"]);
        assert!(!token.is_empty(), "{action}: {first}");
        // Not the bare cursor it used to be.
        assert!(!token.starts_with("after:"), "{token}");
        let mut next = request.clone();
        next["nextToken"] = Value::from(token.clone());

        clock.0.fetch_add(DAY_MS, Ordering::SeqCst);
        let second = call(&api, action, next.clone());
        assert!(second.get("nextToken").is_none(), "{action}: {second}");
        let seen: Vec<String> = first[key]
            .as_array()
            .into_iter()
            .chain(second[key].as_array())
            .flatten()
            .map(|item| text(&item[member]))
            .collect();
        assert_eq!(seen.len(), 3, "{action}: {seen:?}");
        let mut distinct = seen.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 3, "{action}: {seen:?}");

        clock.0.fetch_add(1, Ordering::SeqCst);
        let expired = fails(&api, action, next);
        assert_eq!(expired.error_type, "InvalidToken", "{action}");
        assert_eq!(expired.message, format!("Invalid Token: '{token}'"));
        assert!(!expired.is_server_fault());

        // An undated cursor, as these listings gave before, is refused too.
        let mut undated = request.clone();
        undated["nextToken"] = Value::from("after:2");
        assert_eq!(
            fails(&api, action, undated).error_type,
            "InvalidToken",
            "{action}"
        );
    }
    let versions_listed = call(
        &api,
        "ListStateMachineVersions",
        json!({"stateMachineArn": machine, "maxResults": 2}),
    );
    // Newest first.
    assert_eq!(
        versions_listed["stateMachineVersions"][0]["stateMachineVersionArn"],
        versions[2].as_str()
    );
}

/// A Distributed Map over `$.items` batched by two, whose children (of `execution_type`)
/// pass their input on.
fn batching_machine(api: &Api, execution_type: &str) -> String {
    let definition = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "Label": "each", "End": true,
        "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"run.$": "$.run"}},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}});
    let name = format!("batches-{execution_type}");
    text(
        &call(
            api,
            "CreateStateMachine",
            json!({"name": name, "definition": definition.to_string(), "roleArn": ROLE}),
        )["stateMachineArn"],
    )
}

#[test]
fn items_of_the_state_input_are_batched_and_each_child_counts_its_batch() {
    for execution_type in ["STANDARD", "EXPRESS"] {
        batches_are_counted(execution_type);
    }
}

/// STANDARD children are executions of their own; EXPRESS ones run inside their parent,
/// which keeps no child's input without a ResultWriter: the decider's count is the one shown.
fn batches_are_counted(execution_type: &str) {
    let api = api();
    let machine = batching_machine(&api, execution_type);
    let input = json!({"run": "r1", "items": [1, 2, 3, 4, 5]});
    let parent = text(
        &call(
            &api,
            "StartExecution",
            json!({"stateMachineArn": machine, "input": input.to_string()}),
        )["executionArn"],
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let described = loop {
        let described = call(&api, "DescribeExecution", json!({"executionArn": parent}));
        if described["status"] != "RUNNING" {
            break described;
        }
        assert!(std::time::Instant::now() < deadline, "{described}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    let output: Value = serde_json::from_str(described["output"].as_str().unwrap()).unwrap();
    assert_eq!(
        output,
        json!([
            {"BatchInput": {"run": "r1"}, "Items": [1, 2]},
            {"BatchInput": {"run": "r1"}, "Items": [3, 4]},
            {"BatchInput": {"run": "r1"}, "Items": [5]}
        ])
    );
    let runs = call(&api, "ListMapRuns", json!({"executionArn": parent}));
    let run = text(&runs["mapRuns"][0]["mapRunArn"]);
    let children = call(&api, "ListExecutions", json!({"mapRunArn": run}));
    let mut counts: Vec<u64> = children["executions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["itemCount"].as_u64().unwrap_or_else(|| panic!("{c}")))
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, [1, 2, 2], "{execution_type}");
    api.shutdown();
}
