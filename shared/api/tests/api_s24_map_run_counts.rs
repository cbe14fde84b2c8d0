//! DescribeMapRun's counts as AWS gives them: under an ItemBatcher `itemCounts` counts items
//! and `executionCounts` child executions (one per batch), and `resultsWritten` counts what a
//! ResultWriter exported, nothing for a run without one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_api::{Api, Config};
use cairn_store::MemoryStore;
use serde_json::{json, Value};

mod support;
use support::{call, ROLE};

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Batches of two items; a batch whose first item is bad fails; each child waits `$.wait`.
fn batched(extra: Value) -> String {
    let mut map = json!({
        "Type": "Map",
        "ItemsPath": "$.items",
        "Label": "batches",
        "ItemBatcher": {"MaxItemsPerBatch": 2},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "W",
            "States": {
                "W": {"Type": "Wait", "SecondsPath": "$.Items[0].wait", "Next": "C"},
                "C": {"Type": "Choice",
                      "Choices": [{"Variable": "$.Items[0].bad", "BooleanEquals": true, "Next": "F"}],
                      "Default": "P"},
                "F": {"Type": "Fail", "Error": "Bad", "Cause": "a bad batch"},
                "P": {"Type": "Pass", "End": true}
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

fn start(api: &Api, definition: String, input: String) -> String {
    let machine = text(
        &call(
            api,
            "CreateStateMachine",
            json!({"name": "batched", "definition": definition, "roleArn": ROLE}),
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

/// `(pending, running, succeeded, failed, aborted, total, resultsWritten)`.
fn tally(counts: &Value) -> [u64; 7] {
    [
        "pending",
        "running",
        "succeeded",
        "failed",
        "aborted",
        "total",
        "resultsWritten",
    ]
    .map(|field| counts[field].as_u64().unwrap_or(u64::MAX))
}

fn map_run(api: &Api, parent: &str) -> Value {
    let run = until("the Map Run", || {
        let runs = call(api, "ListMapRuns", json!({"executionArn": parent}));
        runs["mapRuns"][0]["mapRunArn"].as_str().map(str::to_string)
    });
    call(api, "DescribeMapRun", json!({"mapRunArn": run}))
}

#[test]
fn item_counts_count_the_items_of_the_batches() {
    // Children inside the parent: stored, and only their counts kept, once the run ends.
    let config = Config {
        map_run_children: false,
        ..Config::default()
    };
    let api = Api::new(Arc::new(MemoryStore::new()), config);
    let parent = start(
        &api,
        batched(json!({"ToleratedFailureCount": 1})),
        items(5, &[2], 0),
    );
    let described = call(&api, "DescribeExecution", json!({"executionArn": parent}));
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    let run = map_run(&api, &parent);
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    // Batches [0, 1], [2, 3] (failed) and [4]; no ResultWriter, so nothing written.
    assert_eq!(
        tally(&run["executionCounts"]),
        [0, 0, 2, 1, 0, 3, 0],
        "{run}"
    );
    assert_eq!(tally(&run["itemCounts"]), [0, 0, 3, 2, 0, 5, 0], "{run}");
    for counts in [&run["executionCounts"], &run["itemCounts"]] {
        for field in ["timedOut", "failuresNotRedrivable", "pendingRedrive"] {
            assert_eq!(counts[field], 0, "{field}: {run}");
        }
    }
    assert_eq!(run["redriveCount"], 0, "{run}");
    assert!(run.get("redriveDate").is_none(), "{run}");
}

#[test]
fn pending_items_are_the_items_of_the_batches_not_started() {
    // Children as executions of their own, one at a time.
    let api = Api::new(Arc::new(MemoryStore::new()), Config::default());
    let parent = start(
        &api,
        batched(json!({"MaxConcurrency": 1})),
        items(5, &[], 2),
    );
    let run = until("the first batch running", || {
        let run = map_run(&api, &parent);
        (run["executionCounts"]["running"] == 1).then_some(run)
    });
    assert_eq!(
        tally(&run["executionCounts"]),
        [2, 1, 0, 0, 0, 3, 0],
        "{run}"
    );
    assert_eq!(tally(&run["itemCounts"]), [3, 2, 0, 0, 0, 5, 0], "{run}");
    call(&api, "StopExecution", json!({"executionArn": parent}));
    let run = until("the run aborted", || {
        let run = map_run(&api, &parent);
        (run["status"] == "ABORTED").then_some(run)
    });
    assert_eq!(tally(&run["itemCounts"])[5], 5, "{run}");
}
