//! ListExecutions by `mapRunArn` gives each child's `itemCount`: the number of items it
//! processed (a batch's size under ItemBatcher, otherwise 1), whether the children run as
//! executions of their own or inside their parent; ListExecutions by state machine never
//! gives it.

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

/// A Distributed Map over `$.items` whose children wait `wait` seconds; batched by
/// `per_batch` items when given.
fn definition(per_batch: Option<u64>, wait: u64) -> String {
    let mut map = json!({
        "Type": "Map",
        "ItemsPath": "$.items",
        "Label": "each",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "W",
            "States": {"W": {"Type": "Wait", "Seconds": wait, "End": true}}
        },
        "End": true
    });
    if let Some(n) = per_batch {
        map["ItemBatcher"] = json!({"MaxItemsPerBatch": n});
    }
    json!({"StartAt": "M", "States": {"M": map}}).to_string()
}

fn start(api: &Api, definition: String, items: usize) -> (String, String) {
    let machine = text(
        &call(
            api,
            "CreateStateMachine",
            json!({"name": "dm", "definition": definition, "roleArn": ROLE}),
        )["stateMachineArn"],
    );
    let items: Vec<Value> = (0..items).map(|i| json!({"n": i})).collect();
    let parent = text(
        &call(
            api,
            "StartExecution",
            json!({"stateMachineArn": machine, "name": "p", "input": json!({"items": items}).to_string()}),
        )["executionArn"],
    );
    (machine, parent)
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

fn map_run(api: &Api, parent: &str) -> String {
    until("the Map Run", || {
        let runs = call(api, "ListMapRuns", json!({"executionArn": parent}));
        runs["mapRuns"][0]["mapRunArn"].as_str().map(str::to_string)
    })
}

fn succeeded(api: &Api, arn: &str) {
    let status = until("the parent's end", || {
        let described = call(api, "DescribeExecution", json!({"executionArn": arn}));
        Some(text(&described["status"])).filter(|s| s != "RUNNING")
    });
    assert_eq!(status, "SUCCEEDED");
}

fn children(api: &Api, run: &str, page: u64) -> Vec<Value> {
    let mut all = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = json!({"mapRunArn": run, "maxResults": page});
        if let Some(token) = &token {
            request["nextToken"] = Value::from(token.clone());
        }
        let out = call(api, "ListExecutions", request);
        all.extend(out["executions"].as_array().cloned().unwrap_or_default());
        match out["nextToken"].as_str() {
            Some(next) => token = Some(next.to_string()),
            None => return all,
        }
    }
}

fn counts(children: &[Value]) -> Vec<u64> {
    let mut counts: Vec<u64> = children
        .iter()
        .map(|c| {
            c["itemCount"]
                .as_u64()
                .unwrap_or_else(|| panic!("no itemCount in {c}"))
        })
        .collect();
    counts.sort_unstable();
    counts
}

fn inside() -> Config {
    Config {
        map_run_children: false,
        ..Config::default()
    }
}

#[test]
fn one_item_per_child_without_a_batcher() {
    for config in [Config::default(), inside()] {
        let api = Api::new(Arc::new(MemoryStore::new()), config);
        let (machine, parent) = start(&api, definition(None, 0), 3);
        let run = map_run(&api, &parent);
        succeeded(&api, &parent);
        assert_eq!(counts(&children(&api, &run, 2)), vec![1, 1, 1]);
        // redriveFilter applies to the children too: none of them was redriven.
        let filtered = |filter: &str| {
            call(
                &api,
                "ListExecutions",
                json!({"mapRunArn": run, "redriveFilter": filter}),
            )["executions"]
                .as_array()
                .map_or(0, Vec::len)
        };
        assert_eq!(filtered("REDRIVEN"), 0);
        assert_eq!(filtered("NOT_REDRIVEN"), 3);
        let bad = api
            .handle(
                "ListExecutions",
                json!({"mapRunArn": run, "redriveFilter": "SOME"}),
            )
            .unwrap_err();
        assert_eq!(bad.error_type, "ValidationException");
        // Listed by state machine, no execution carries the field.
        let listed = call(&api, "ListExecutions", json!({"stateMachineArn": machine}));
        let executions = listed["executions"].as_array().cloned().unwrap_or_default();
        assert_eq!(executions.len(), 1);
        assert!(executions[0].get("itemCount").is_none(), "{listed}");
        api.shutdown();
    }
}

/// An API whose Task states and ItemReaders reach moto, or `None` (skipped) without it.
fn with_moto(map_run_children: bool) -> Option<Api> {
    let Some(moto) = std::env::var("CAIRN_TEST_MOTO")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        assert!(
            std::env::var("CAIRN_REQUIRE_EMULATORS").as_deref() != Ok("1"),
            "CAIRN_REQUIRE_EMULATORS=1 but CAIRN_TEST_MOTO is not set"
        );
        eprintln!("SKIPPED: CAIRN_TEST_MOTO not set (tests/emulators/start.sh starts moto)");
        return None;
    };
    let settings = cairn_integrations::Settings {
        region: Some("us-east-1".into()),
        endpoint_url: Some(moto),
        static_credentials: Some(("test".into(), "test".into())),
        ..cairn_integrations::Settings::default()
    };
    let invoker =
        cairn_integrations::Integrations::new(settings, Arc::new(cairn_runtime::Unsupported))
            .expect("the integrations start");
    let config = Config {
        invoker: Arc::new(invoker),
        map_run_children,
        ..Config::default()
    };
    Some(Api::new(Arc::new(MemoryStore::new()), config))
}

/// Writes `items` to a new bucket of moto as a JSON object, then maps over it with an
/// ItemReader and ItemBatcher of `per_batch`; children wait `wait` seconds.
fn batched(api: &Api, items: usize, per_batch: u64, wait: u64) -> String {
    static BUCKETS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = BUCKETS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let bucket = format!("s22-items-{}-{n}", std::process::id());
    let items: Vec<Value> = (0..items).map(|i| json!({"n": i})).collect();
    let definition = json!({"StartAt": "Bucket", "States": {
        "Bucket": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:createBucket",
                   "Parameters": {"Bucket": bucket}, "ResultPath": null, "Next": "Put"},
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                "Parameters": {"Bucket": bucket, "Key": "items.json", "Body": items},
                "ResultPath": null, "Next": "M"},
        "M": {"Type": "Map", "Label": "each",
              "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                             "ReaderConfig": {"InputType": "JSON"},
                             "Parameters": {"Bucket": bucket, "Key": "items.json"}},
              "ItemBatcher": {"MaxItemsPerBatch": per_batch},
              "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                               "Parameters": {"Bucket": bucket, "Prefix": "out"}},
              "ItemProcessor": {
                  "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                  "StartAt": "W",
                  "States": {"W": {"Type": "Wait", "Seconds": wait, "End": true}}},
              "End": true}
    }});
    let machine = text(
        &call(
            api,
            "CreateStateMachine",
            json!({"name": "batched", "definition": definition.to_string(), "roleArn": ROLE}),
        )["stateMachineArn"],
    );
    text(
        &call(
            api,
            "StartExecution",
            json!({"stateMachineArn": machine, "name": "p"}),
        )["executionArn"],
    )
}

/// A run whose children ran inside their parent keeps their inputs only for its
/// ResultWriter (the tests' runs have one): without it the stored children have no input to
/// count and leave `itemCount` out.
#[test]
fn a_batch_child_counts_its_batch() {
    for map_run_children in [true, false] {
        let Some(api) = with_moto(map_run_children) else {
            return;
        };
        let parent = batched(&api, 5, 2, 0);
        let run = map_run(&api, &parent);
        succeeded(&api, &parent);
        // Pages of one: each page reads its children on its own.
        let listed = children(&api, &run, 1);
        assert_eq!(listed.len(), 3);
        assert_eq!(counts(&listed), vec![1, 2, 2]);
        let succeeded_only = call(
            &api,
            "ListExecutions",
            json!({"mapRunArn": run, "statusFilter": "SUCCEEDED"}),
        );
        assert_eq!(
            counts(succeeded_only["executions"].as_array().unwrap()),
            vec![1, 2, 2]
        );
        api.shutdown();
    }
}

#[test]
fn a_running_batch_child_counts_its_batch() {
    // Children as executions of their own: while the run goes on, each child's count is
    // read from its own record.
    let Some(api) = with_moto(true) else {
        return;
    };
    let parent = batched(&api, 4, 3, 2);
    let run = map_run(&api, &parent);
    // The parent lists a child a moment before the child's own record is written (which
    // DescribeExecution of it waits for too); from then on it has its count.
    let running = until("two listed children with their counts", || {
        let listed = children(&api, &run, 100);
        let counted = listed.iter().all(|c| c.get("itemCount").is_some());
        (listed.len() == 2 && counted).then_some(listed)
    });
    assert!(
        running.iter().all(|c| c["status"] == "RUNNING"),
        "{running:?}"
    );
    assert_eq!(counts(&running), vec![1, 3]);
    succeeded(&api, &parent);
    assert_eq!(counts(&children(&api, &run, 100)), vec![1, 3]);
    api.shutdown();
}
