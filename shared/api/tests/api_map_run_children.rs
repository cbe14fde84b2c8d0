//! A Distributed Map whose children run inside their parent (`Config::map_run_children`
//! off, as a shell that cannot run them as executions): after their Map Run ends they are
//! executions of their own in the store (DescribeExecution, GetExecutionHistory,
//! ListExecutions by `mapRunArn`), with only their counts left in the parent.

use std::sync::Arc;

use cairn_api::{Api, Config};
use cairn_store::{ExecutionStore, MemoryStore};
use serde_json::{json, Value};

mod support;
use support::{call, event_types, fails, ROLE};

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Items with `"bad": true` fail their iteration; up to `tolerated` of them are tolerated.
fn distributed(tolerated: u64) -> String {
    json!({"StartAt": "M", "States": {"M": {
        "Type": "Map",
        "ItemsPath": "$.items",
        "Label": "each",
        "ToleratedFailureCount": tolerated,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "C",
            "States": {
                "C": {"Type": "Choice",
                      "Choices": [{"Variable": "$.bad", "BooleanEquals": true, "Next": "F"}],
                      "Default": "P"},
                "F": {"Type": "Fail", "Error": "Bad", "Cause": "a bad item"},
                "P": {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "End": true}
            }
        },
        "End": true
    }}})
    .to_string()
}

fn items(n: usize, bad: &[usize]) -> String {
    let items: Vec<Value> = (0..n)
        .map(|i| json!({"n": i, "bad": bad.contains(&i)}))
        .collect();
    json!({ "items": items }).to_string()
}

fn inside() -> Config {
    Config {
        map_run_children: false,
        ..Config::default()
    }
}

#[test]
fn an_ended_map_runs_children_are_executions_of_their_own() {
    let store = Arc::new(MemoryStore::new());
    let api = Api::new(store.clone(), inside());
    let machine = text(
        &call(
            &api,
            "CreateStateMachine",
            json!({"name": "dm", "definition": distributed(2), "roleArn": ROLE}),
        )["stateMachineArn"],
    );
    let parent = text(
        &call(
            &api,
            "StartExecution",
            json!({"stateMachineArn": machine, "name": "p", "input": items(7, &[3, 5])}),
        )["executionArn"],
    );
    let described = call(&api, "DescribeExecution", json!({"executionArn": parent}));
    assert_eq!(described["status"], "SUCCEEDED", "{described}");

    let runs = call(&api, "ListMapRuns", json!({"executionArn": parent}));
    let run = text(&runs["mapRuns"][0]["mapRunArn"]);
    assert!(run.contains(":mapRun:dm/each:"), "{run}");
    let map_run = call(&api, "DescribeMapRun", json!({"mapRunArn": run}));
    assert_eq!(map_run["status"], "SUCCEEDED");
    let counts = &map_run["executionCounts"];
    assert_eq!(
        (
            counts["succeeded"].as_u64(),
            counts["failed"].as_u64(),
            counts["total"].as_u64()
        ),
        (Some(5), Some(2), Some(7)),
        "{map_run}"
    );
    assert_eq!(counts["pending"], 0);

    // Listed from the store, a page at a time, each a whole page but the last.
    let mut children = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = json!({"mapRunArn": run, "maxResults": 3});
        if let Some(token) = &token {
            request["nextToken"] = Value::from(token.clone());
        }
        let page = call(&api, "ListExecutions", request);
        let items = page["executions"].as_array().cloned().unwrap_or_default();
        children.extend(items.iter().cloned());
        match page.get("nextToken") {
            Some(next) => {
                assert_eq!(items.len(), 3, "{page}");
                token = Some(text(next));
            }
            None => break,
        }
    }
    assert_eq!(children.len(), 7);
    for child in &children {
        assert_eq!(child["mapRunArn"], run.as_str());
        assert!(
            text(&child["stateMachineArn"]).ends_with(":stateMachine:dm/each"),
            "{child}"
        );
        assert!(
            text(&child["executionArn"]).contains(":execution:dm/each:"),
            "{child}"
        );
    }
    let failed = call(
        &api,
        "ListExecutions",
        json!({"mapRunArn": run, "statusFilter": "FAILED"}),
    );
    let failed = failed["executions"].as_array().cloned().unwrap_or_default();
    assert_eq!(failed.len(), 2);

    // Each child answers DescribeExecution and GetExecutionHistory itself.
    let mut outputs = Vec::new();
    for child in &children {
        let arn = text(&child["executionArn"]);
        let described = call(&api, "DescribeExecution", json!({"executionArn": arn}));
        assert_eq!(described["mapRunArn"], run.as_str());
        assert_eq!(described["status"], child["status"]);
        let history = event_types(&api, &arn);
        match text(&described["status"]).as_str() {
            "SUCCEEDED" => {
                let output: Value =
                    serde_json::from_str(described["output"].as_str().unwrap_or("null"))
                        .unwrap_or_default();
                outputs.push(output["doubled"].as_u64().unwrap_or(999));
                assert_eq!(history, vec!["ExecutionStarted", "ExecutionSucceeded"]);
            }
            "FAILED" => {
                assert_eq!(history, vec!["ExecutionStarted", "ExecutionFailed"]);
                assert_eq!(described["redriveStatus"], "NOT_REDRIVABLE");
                let refused = fails(&api, "RedriveExecution", json!({"executionArn": arn}));
                assert_eq!(refused.error_type, "ExecutionNotRedrivable");
            }
            other => panic!("child {arn} is {other}"),
        }
    }
    outputs.sort_unstable();
    assert_eq!(outputs, vec![0, 2, 4, 8, 12]);

    // Its state machine is the Map's ItemProcessor, under the child state machine's ARN.
    let child = text(&children[0]["executionArn"]);
    let machine_of = call(
        &api,
        "DescribeStateMachineForExecution",
        json!({"executionArn": child}),
    );
    assert_eq!(
        machine_of["stateMachineArn"],
        children[0]["stateMachineArn"]
    );
    assert_eq!(machine_of["mapRunArn"], run.as_str());
    assert_eq!(machine_of["label"], "each");
    let processor: Value =
        serde_json::from_str(machine_of["definition"].as_str().unwrap_or("null"))
            .unwrap_or_default();
    assert_eq!(processor["StartAt"], "C");
    assert!(processor.get("ProcessorConfig").is_none(), "{processor}");

    // The parent keeps counts, not children: no child's name is left in its stored state.
    let (record, _) = store
        .get_execution(&parent)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("{parent} is not stored"));
    let state = String::from_utf8_lossy(&record.state);
    for child in &children {
        let name = text(&child["name"]);
        assert!(
            !state.contains(&name),
            "{name} is still in the parent's state"
        );
    }
}

#[test]
fn a_redriven_map_run_keeps_its_children_stored_once() {
    let store = Arc::new(MemoryStore::new());
    let api = Api::new(store.clone(), inside());
    let machine = text(
        &call(
            &api,
            "CreateStateMachine",
            json!({"name": "again", "definition": distributed(0), "roleArn": ROLE}),
        )["stateMachineArn"],
    );
    let parent = text(
        &call(
            &api,
            "StartExecution",
            json!({"stateMachineArn": machine, "name": "p", "input": items(4, &[2])}),
        )["executionArn"],
    );
    let described = call(&api, "DescribeExecution", json!({"executionArn": parent}));
    assert_eq!(described["status"], "FAILED", "{described}");
    let run = text(
        &call(&api, "ListMapRuns", json!({"executionArn": parent}))["mapRuns"][0]["mapRunArn"],
    );
    let listed = |api: &Api| {
        let page = call(
            api,
            "ListExecutions",
            json!({"mapRunArn": run, "maxResults": 100}),
        );
        let mut names: Vec<(String, String)> = page["executions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|c| (text(&c["name"]), text(&c["status"])))
            .collect();
        names.sort();
        names
    };
    let before = listed(&api);
    assert!(
        before.iter().any(|(_, status)| status == "FAILED"),
        "{before:?}"
    );

    // The bad item fails again: the run ends under the same ARN, its children written over.
    call(&api, "RedriveExecution", json!({"executionArn": parent}));
    let described = call(&api, "DescribeExecution", json!({"executionArn": parent}));
    assert_eq!(described["status"], "FAILED", "{described}");
    assert_eq!(described["redriveCount"], 1);
    let runs = call(&api, "ListMapRuns", json!({"executionArn": parent}));
    assert_eq!(runs["mapRuns"].as_array().map(Vec::len), Some(1), "{runs}");
    let after = listed(&api);
    let names = |l: &[(String, String)]| l.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    for name in names(&before) {
        assert!(
            names(&after).contains(&name),
            "{name} is gone after the redrive: {after:?}"
        );
    }
}
