//! Redriving a Distributed Map as AWS does: the parent's redrive redrives its Map Run under
//! the same ARN (`MapRunRedriven`, the run's `redriveCount` and `redriveDate`), and each
//! unsuccessful STANDARD child execution is redriven itself (same ARN, `ExecutionRedriven` in
//! its own history, its own `redriveCount`) while the items never started start now.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_api::{Api, Config};
use cairn_store::MemoryStore;
use serde_json::{json, Value};

mod support;
use support::{call, event_types, fails, ROLE};

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Each child hands its item (or batch) to the activity.
fn definition(activity: &str, extra: Value) -> String {
    let mut map = json!({
        "Type": "Map",
        "ItemsPath": "$.items",
        "Label": "work",
        "MaxConcurrency": 1,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Prepare",
            "States": {
                "Prepare": {"Type": "Pass", "Next": "Work"},
                "Work": {"Type": "Task", "Resource": activity, "End": true}
            }
        },
        "End": true
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        map[k] = v.clone();
    }
    json!({"StartAt": "M", "States": {"M": map}}).to_string()
}

fn start(api: &Api, definition: String, items: usize) -> String {
    let machine = text(
        &call(
            api,
            "CreateStateMachine",
            json!({"name": "parent", "definition": definition, "roleArn": ROLE}),
        )["stateMachineArn"],
    );
    let items: Vec<Value> = (0..items).map(|n| json!({"n": n})).collect();
    text(
        &call(
            api,
            "StartExecution",
            json!({"stateMachineArn": machine, "name": "p",
                   "input": json!({"items": items}).to_string()}),
        )["executionArn"],
    )
}

/// Answers the activity's tasks until `arn` ends: each fails when `fails` says so.
fn work_until_ended(
    api: &Api,
    activity: &str,
    arn: &str,
    fails: impl Fn(&Value) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let described = call(api, "DescribeExecution", json!({"executionArn": arn}));
        let status = text(&described["status"]);
        if status != "RUNNING" {
            return status;
        }
        assert!(Instant::now() < deadline, "{arn} still runs: {described}");
        let task = call(api, "GetActivityTask", json!({"activityArn": activity}));
        let Some(token) = task["taskToken"].as_str().filter(|t| !t.is_empty()) else {
            continue;
        };
        let input: Value = serde_json::from_str(&text(&task["input"])).unwrap_or_default();
        if fails(&input) {
            call(
                api,
                "SendTaskFailure",
                json!({"taskToken": token, "error": "Bad", "cause": "not yet"}),
            );
        } else {
            call(
                api,
                "SendTaskSuccess",
                json!({"taskToken": token, "output": input.to_string()}),
            );
        }
    }
}

/// A worker's GetActivityTask waits 2 s for a task, not AWS's 60: the parent may end while
/// it waits.
fn short_polls() -> Config {
    Config {
        activity_poll: Duration::from_secs(2),
        ..Config::default()
    }
}

fn history(api: &Api, arn: &str) -> Vec<Value> {
    call(
        api,
        "GetExecutionHistory",
        json!({"executionArn": arn, "maxResults": 1000}),
    )["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn details<'a>(events: &'a [Value], event_type: &str, field: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["type"] == event_type)
        .map(|e| &e[field])
        .collect()
}

fn children(api: &Api, run: &str, extra: Value) -> Vec<Value> {
    let mut request = json!({"mapRunArn": run, "maxResults": 1000});
    for (k, v) in extra.as_object().into_iter().flatten() {
        request[k] = v.clone();
    }
    call(api, "ListExecutions", request)["executions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn standard_children_are_redriven_under_their_own_arns() {
    // Children as executions of their own (cairn serve's default).
    let api = Api::new(Arc::new(MemoryStore::new()), short_polls());
    let activity = text(&call(&api, "CreateActivity", json!({"name": "work"}))["activityArn"]);
    let parent = start(&api, definition(&activity, json!({})), 3);
    // Item 1 fails: the run fails with it, item 2 never started (one child at a time).
    let status = work_until_ended(&api, &activity, &parent, |input| input["n"] == 1);
    assert_eq!(status, "FAILED");
    let run = text(
        &call(&api, "ListMapRuns", json!({"executionArn": parent}))["mapRuns"][0]["mapRunArn"],
    );
    let failed = children(&api, &run, json!({"statusFilter": "FAILED"}));
    let [failed] = &failed[..] else {
        panic!("{failed:?}")
    };
    let failed_arn = text(&failed["executionArn"]);
    let before = call(&api, "DescribeMapRun", json!({"mapRunArn": run}));
    assert_eq!(before["status"], "FAILED", "{before}");
    assert_eq!(before["redriveCount"], 0, "{before}");
    // The failed child is redriven through its parent, and only so.
    let child = call(
        &api,
        "DescribeExecution",
        json!({"executionArn": failed_arn}),
    );
    assert_eq!(child["redriveStatus"], "REDRIVABLE_BY_MAP_RUN", "{child}");
    assert!(child.get("redriveStatusReason").is_none(), "{child}");
    let refused = fails(
        &api,
        "RedriveExecution",
        json!({"executionArn": failed_arn}),
    );
    assert_eq!(refused.error_type, "ExecutionNotRedrivable");
    // An ended run's settings cannot change.
    let refused = fails(
        &api,
        "UpdateMapRun",
        json!({"mapRunArn": run, "maxConcurrency": 5}),
    );
    assert_eq!(refused.error_type, "ValidationException");
    assert_eq!(
        refused.reason.as_deref(),
        Some("CANNOT_UPDATE_COMPLETED_MAP_RUN")
    );

    call(&api, "RedriveExecution", json!({"executionArn": parent}));
    // While the run goes on, its redriven child is listed as such.
    let listed = until_some(|| {
        let again = children(&api, &run, json!({"redriveFilter": "REDRIVEN"}));
        (again.len() == 1).then_some(again)
    });
    assert_eq!(text(&listed[0]["executionArn"]), failed_arn);
    assert_eq!(listed[0]["redriveCount"], 1, "{listed:?}");
    let status = work_until_ended(&api, &activity, &parent, |_| false);
    assert_eq!(status, "SUCCEEDED");

    // The same Map Run, redriven once.
    let runs = call(&api, "ListMapRuns", json!({"executionArn": parent}));
    assert_eq!(runs["mapRuns"].as_array().map(Vec::len), Some(1), "{runs}");
    let events = history(&api, &parent);
    let redriven = details(&events, "MapRunRedriven", "mapRunRedrivenEventDetails");
    assert_eq!(
        redriven,
        [&json!({"mapRunArn": run, "redriveCount": 1})],
        "{events:?}"
    );
    assert!(
        details(&events, "MapRunStarted", "mapRunStartedEventDetails")
            .iter()
            .all(|d| d["mapRunArn"] == run.as_str()),
        "{events:?}"
    );
    let after = call(&api, "DescribeMapRun", json!({"mapRunArn": run}));
    assert_eq!(after["status"], "SUCCEEDED", "{after}");
    assert_eq!(after["redriveCount"], 1, "{after}");
    assert!(after["redriveDate"].is_number(), "{after}");
    let counts = &after["executionCounts"];
    assert_eq!(
        (
            counts["succeeded"].as_u64(),
            counts["failed"].as_u64(),
            counts["total"].as_u64()
        ),
        (Some(3), Some(0), Some(3)),
        "{after}"
    );

    // The failed child ran again under its ARN, from the state that failed, and says so.
    let all = children(&api, &run, json!({}));
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all.iter().all(|c| c["status"] == "SUCCEEDED"), "{all:?}");
    let again = children(&api, &run, json!({"redriveFilter": "REDRIVEN"}));
    let [again] = &again[..] else {
        panic!("{again:?}")
    };
    assert_eq!(text(&again["executionArn"]), failed_arn);
    assert_eq!(again["redriveCount"], 1, "{again}");
    let described = call(
        &api,
        "DescribeExecution",
        json!({"executionArn": failed_arn}),
    );
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    assert_eq!(described["redriveCount"], 1, "{described}");
    assert_eq!(described["redriveStatus"], "NOT_REDRIVABLE", "{described}");
    let types = event_types(&api, &failed_arn);
    let redrive_at = types.iter().position(|t| t == "ExecutionRedriven");
    assert!(redrive_at.is_some(), "{types:?}");
    let after_redrive = &types[redrive_at.unwrap_or_default()..];
    assert_eq!(
        after_redrive.first().map(String::as_str),
        Some("ExecutionRedriven")
    );
    assert!(
        !after_redrive.iter().any(|t| t == "PassStateEntered"),
        "the child's Pass succeeded before and is not run again: {types:?}"
    );
    assert_eq!(
        after_redrive.last().map(String::as_str),
        Some("ExecutionSucceeded")
    );
}

#[test]
fn a_batched_run_inside_its_parent_is_redriven_under_its_arn() {
    // Children inside the parent (a shell that does not run them as executions).
    let config = Config {
        map_run_children: false,
        ..short_polls()
    };
    let api = Api::new(Arc::new(MemoryStore::new()), config);
    let activity = text(&call(&api, "CreateActivity", json!({"name": "work"}))["activityArn"]);
    let batched = json!({"ItemBatcher": {"MaxItemsPerBatch": 2}});
    let parent = start(&api, definition(&activity, batched), 5);
    // The batch holding item 2 fails the run; the last batch never starts.
    let status = work_until_ended(&api, &activity, &parent, |input| {
        input["Items"][0]["n"] == 2
    });
    assert_eq!(status, "FAILED");
    call(&api, "RedriveExecution", json!({"executionArn": parent}));
    let status = work_until_ended(&api, &activity, &parent, |_| false);
    assert_eq!(status, "SUCCEEDED");

    let events = history(&api, &parent);
    // Both MapStateStarted events count the 5 items, not the 3 batches.
    let lengths = details(&events, "MapStateStarted", "mapStateStartedEventDetails");
    assert_eq!(
        lengths,
        [&json!({"length": 5}), &json!({"length": 5})],
        "{events:?}"
    );
    let started = details(&events, "MapRunStarted", "mapRunStartedEventDetails");
    let [started] = &started[..] else {
        panic!("one MapRunStarted: {events:?}")
    };
    let run = text(&started["mapRunArn"]);
    let redriven = details(&events, "MapRunRedriven", "mapRunRedrivenEventDetails");
    assert_eq!(redriven, [&json!({"mapRunArn": run, "redriveCount": 1})]);
    let described = call(&api, "DescribeMapRun", json!({"mapRunArn": run}));
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    assert_eq!(described["redriveCount"], 1, "{described}");
    let items = &described["itemCounts"];
    assert_eq!(
        (items["succeeded"].as_u64(), items["total"].as_u64()),
        (Some(5), Some(5)),
        "{described}"
    );
    let runs = call(&api, "ListMapRuns", json!({"executionArn": parent}));
    assert_eq!(runs["mapRuns"].as_array().map(Vec::len), Some(1), "{runs}");
}

#[test]
fn children_stopped_with_their_parent_are_redriven_with_it() {
    let api = Api::new(Arc::new(MemoryStore::new()), short_polls());
    let activity = text(&call(&api, "CreateActivity", json!({"name": "work"}))["activityArn"]);
    let parent = start(&api, definition(&activity, json!({"MaxConcurrency": 2})), 3);
    let run = until_some(|| {
        let runs = call(&api, "ListMapRuns", json!({"executionArn": parent}));
        runs["mapRuns"][0]["mapRunArn"].as_str().map(str::to_string)
    });
    until_some(|| {
        (children(&api, &run, json!({"statusFilter": "RUNNING"})).len() == 2).then_some(())
    });
    call(&api, "StopExecution", json!({"executionArn": parent}));
    // The children under way are stopped with their parent; the third never started.
    until_some(|| {
        (children(&api, &run, json!({"statusFilter": "ABORTED"})).len() == 2).then_some(())
    });
    let stopped = call(&api, "DescribeMapRun", json!({"mapRunArn": run}));
    assert_eq!(stopped["status"], "ABORTED", "{stopped}");

    call(&api, "RedriveExecution", json!({"executionArn": parent}));
    let status = work_until_ended(&api, &activity, &parent, |_| false);
    assert_eq!(status, "SUCCEEDED");
    let all = children(&api, &run, json!({}));
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all.iter().all(|c| c["status"] == "SUCCEEDED"), "{all:?}");
    let again = children(&api, &run, json!({"redriveFilter": "REDRIVEN"}));
    assert_eq!(again.len(), 2, "{again:?}");
    let described = call(&api, "DescribeMapRun", json!({"mapRunArn": run}));
    assert_eq!(
        (&described["status"], &described["redriveCount"]),
        (&json!("SUCCEEDED"), &json!(1)),
        "{described}"
    );
}

fn until_some<T>(mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "waited too long");
        std::thread::sleep(Duration::from_millis(20));
    }
}
