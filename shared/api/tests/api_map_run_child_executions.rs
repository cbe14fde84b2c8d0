//! A Distributed Map's children as executions of their own (the default of `cairn serve`'s
//! driver): each child is a stored execution with its own history while it runs, its end
//! reaches the parent, MaxConcurrency holds across the run, and a parent that gives up
//! stops the children under way. The parent's history is what it is when they run inside.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_api::{Api, Config};
use cairn_store::{ExecutionStore, MemoryStore};
use serde_json::{json, Value};

mod support;
use support::{call, event_types, fails, ROLE};

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Items with `"bad": true` fail; each child waits `$.wait` seconds first.
fn definition(extra: Value) -> String {
    let mut map = json!({
        "Type": "Map",
        "ItemsPath": "$.items",
        "Label": "each",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "W",
            "States": {
                "W": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "C"},
                "C": {"Type": "Choice",
                      "Choices": [{"Variable": "$.bad", "BooleanEquals": true, "Next": "F"}],
                      "Default": "P"},
                "F": {"Type": "Fail", "Error": "Bad", "Cause": "a bad item"},
                "P": {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "End": true}
            }
        },
        "End": true
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        map[k] = v.clone();
    }
    json!({"StartAt": "M", "States": {"M": map}}).to_string()
}

fn items(n: usize, bad: &[usize], wait: u64) -> String {
    let items: Vec<Value> = (0..n)
        .map(|i| json!({"n": i, "bad": bad.contains(&i), "wait": wait}))
        .collect();
    json!({ "items": items }).to_string()
}

fn start(api: &Api, name: &str, definition: String, input: String) -> String {
    let machine = text(
        &call(
            api,
            "CreateStateMachine",
            json!({"name": name, "definition": definition, "roleArn": ROLE}),
        )["stateMachineArn"],
    );
    text(
        &call(
            api,
            "StartExecution",
            json!({"stateMachineArn": machine, "name": "p", "input": input}),
        )["executionArn"],
    )
}

fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "waited too long for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The execution's end; a child listed by its parent may not be stored yet.
fn ended(api: &Api, arn: &str) -> String {
    until("the execution's end", || {
        let described = api
            .handle("DescribeExecution", json!({"executionArn": arn}))
            .ok()?;
        Some(text(&described["status"])).filter(|s| s != "RUNNING")
    })
}

fn children(api: &Api, run: &str, filter: Option<&str>) -> Vec<Value> {
    let mut request = json!({"mapRunArn": run, "maxResults": 1000});
    if let Some(status) = filter {
        request["statusFilter"] = Value::from(status);
    }
    call(api, "ListExecutions", request)["executions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn children_run_as_executions_with_histories_of_their_own() {
    let store = Arc::new(MemoryStore::new());
    let api = Api::new(store.clone(), Config::default());
    let parent = start(
        &api,
        "dm",
        definition(json!({"MaxConcurrency": 2, "ToleratedFailureCount": 1})),
        items(5, &[3], 1),
    );
    let run = until("the Map Run", || {
        let runs = call(&api, "ListMapRuns", json!({"executionArn": parent}));
        runs["mapRuns"][0]["mapRunArn"].as_str().map(str::to_string)
    });

    // While the run goes on, MaxConcurrency children run, each an execution with its history.
    let running = until("two running children", || {
        Some(children(&api, &run, Some("RUNNING"))).filter(|c| c.len() == 2)
    });
    let map_run = call(&api, "DescribeMapRun", json!({"mapRunArn": run}));
    assert_eq!(map_run["itemCounts"]["running"], 2, "{map_run}");
    assert_eq!(map_run["itemCounts"]["pending"], 3, "{map_run}");
    let child = text(&running[0]["executionArn"]);
    assert!(child.contains(":execution:dm/each:"), "{child}");
    // Listed as soon as its parent asked for it; stored once its start is written.
    let described = until("the child's record", || {
        api.handle("DescribeExecution", json!({"executionArn": child}))
            .ok()
    });
    assert_eq!(described["status"], "RUNNING");
    assert_eq!(described["mapRunArn"], run.as_str());
    assert!(text(&described["stateMachineArn"]).ends_with(":stateMachine:dm/each"));
    assert_eq!(
        event_types(&api, &child),
        ["ExecutionStarted", "WaitStateEntered"],
        "the running child's own history"
    );
    // Its state machine is the Map's ItemProcessor, under the child state machine's ARN.
    let machine_of = call(
        &api,
        "DescribeStateMachineForExecution",
        json!({"executionArn": child}),
    );
    assert_eq!(machine_of["mapRunArn"], run.as_str());
    assert_eq!(machine_of["label"], "each");
    let processor: Value =
        serde_json::from_str(machine_of["definition"].as_str().unwrap_or("null"))
            .unwrap_or_default();
    assert_eq!(processor["StartAt"], "W", "{machine_of}");
    assert_eq!(machine_of["roleArn"], ROLE);

    assert_eq!(ended(&api, &parent), "SUCCEEDED");
    let described = call(&api, "DescribeExecution", json!({"executionArn": parent}));
    let output: Value = serde_json::from_str(&text(&described["output"])).unwrap_or_default();
    assert_eq!(
        output,
        json!([{"doubled": 0}, {"doubled": 2}, {"doubled": 4},
               {"Error": "Bad", "Cause": "a bad item"}, {"doubled": 8}])
    );
    assert_eq!(
        event_types(&api, &parent),
        [
            "ExecutionStarted",
            "MapStateEntered",
            "MapStateStarted",
            "MapRunStarted",
            "MapRunSucceeded",
            "MapStateSucceeded",
            "MapStateExited",
            "ExecutionSucceeded"
        ]
    );
    let all = children(&api, &run, None);
    assert_eq!(all.len(), 5, "{all:?}");
    let failed = children(&api, &run, Some("FAILED"));
    let [failed] = &failed[..] else {
        panic!("{failed:?}")
    };
    let arn = text(&failed["executionArn"]);
    assert_eq!(
        event_types(&api, &arn),
        [
            "ExecutionStarted",
            "WaitStateEntered",
            "WaitStateExited",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "FailStateEntered",
            "ExecutionFailed"
        ]
    );
    let described = call(&api, "DescribeExecution", json!({"executionArn": arn}));
    assert_eq!(
        (text(&described["error"]), text(&described["cause"])),
        ("Bad".into(), "a bad item".into())
    );
    assert_eq!(described["redriveStatus"], "NOT_REDRIVABLE", "{described}");
    let refused = fails(&api, "RedriveExecution", json!({"executionArn": arn}));
    assert_eq!(refused.error_type, "ExecutionNotRedrivable");
    let map_run = call(&api, "DescribeMapRun", json!({"mapRunArn": run}));
    let counts = &map_run["executionCounts"];
    assert_eq!(
        (
            counts["succeeded"].as_u64(),
            counts["failed"].as_u64(),
            counts["total"].as_u64()
        ),
        (Some(4), Some(1), Some(5)),
        "{map_run}"
    );
}

#[test]
fn a_run_that_fails_stops_the_children_under_way() {
    let store = Arc::new(MemoryStore::new());
    let api = Api::new(store.clone(), Config::default());
    // The bad item fails at once; the others wait a minute.
    let input = json!({"items": [
        {"n": 0, "bad": true, "wait": 0},
        {"n": 1, "bad": false, "wait": 60},
        {"n": 2, "bad": false, "wait": 60},
        {"n": 3, "bad": false, "wait": 60}
    ]})
    .to_string();
    let parent = start(
        &api,
        "fails",
        definition(json!({"MaxConcurrency": 3})),
        input,
    );
    assert_eq!(ended(&api, &parent), "FAILED");
    let described = call(&api, "DescribeExecution", json!({"executionArn": parent}));
    assert_eq!(described["error"], "States.ExceedToleratedFailureThreshold");
    let run = text(
        &call(&api, "ListMapRuns", json!({"executionArn": parent}))["mapRuns"][0]["mapRunArn"],
    );
    // The two children under way are stopped: ABORTED, as their own records say.
    let aborted = until("the stopped children", || {
        Some(children(&api, &run, Some("ABORTED"))).filter(|c| c.len() == 2)
    });
    for child in aborted {
        let arn = text(&child["executionArn"]);
        let (record, _) = store.get_execution(&arn).ok().flatten().expect("stored");
        assert_eq!(record.status, "ABORTED");
        assert_eq!(
            event_types(&api, &arn).last().map(String::as_str),
            Some("ExecutionAborted")
        );
    }
    assert!(children(&api, &run, Some("RUNNING")).is_empty());
}

#[test]
fn stopping_the_parent_stops_its_children() {
    let store = Arc::new(MemoryStore::new());
    let api = Api::new(store.clone(), Config::default());
    let parent = start(&api, "stopped", definition(json!({})), items(3, &[], 60));
    let run = until("the Map Run", || {
        let runs = call(&api, "ListMapRuns", json!({"executionArn": parent}));
        runs["mapRuns"][0]["mapRunArn"].as_str().map(str::to_string)
    });
    let running = until("three running children", || {
        Some(children(&api, &run, Some("RUNNING"))).filter(|c| c.len() == 3)
    });
    call(&api, "StopExecution", json!({"executionArn": parent}));
    for child in running {
        let arn = text(&child["executionArn"]);
        assert_eq!(ended(&api, &arn), "ABORTED");
    }
}

#[test]
fn express_children_run_outside_only_when_the_shell_says_so() {
    let express = |api: &Api, name: &str| {
        let definition = definition(json!({})).replace("\"STANDARD\"", "\"EXPRESS\"");
        let parent = start(api, name, definition, items(2, &[], 0));
        assert_eq!(ended(api, &parent), "SUCCEEDED");
        let run = text(
            &call(api, "ListMapRuns", json!({"executionArn": parent}))["mapRuns"][0]["mapRunArn"],
        );
        let child = text(&children(api, &run, None)[0]["executionArn"]);
        event_types(api, &child)
    };
    let inside = Api::new(Arc::new(MemoryStore::new()), Config::default());
    assert_eq!(
        express(&inside, "inside"),
        ["ExecutionStarted", "ExecutionSucceeded"],
        "run inside the parent, stored when the run ended"
    );
    let outside = Api::new(
        Arc::new(MemoryStore::new()),
        Config {
            express_map_run_children: true,
            ..Config::default()
        },
    );
    assert_eq!(
        express(&outside, "outside"),
        [
            "ExecutionStarted",
            "WaitStateEntered",
            "WaitStateExited",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
}
