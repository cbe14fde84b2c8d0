//! Distributed Map throughput of the serverless shell against DynamoDB Local: a run of
//! `CAIRN_MAP_ITEMS` items (default 2,000) whose STANDARD children are executions of their
//! own, handled by `CAIRN_MAP_WORKERS` concurrent handlers (default 16, standing in for as
//! many concurrent advance invocations), and the same run with EXPRESS children, which run
//! inside their parent. Messages go from the engine's outbox straight to the handlers (an
//! in-process queue: what is measured is the engine and the store, not the bus), and a
//! queue batch's child ends reach their parent together, as the advance function takes an
//! SQS batch.
//!
//! `cargo test -p cairn-serverless --release --test map_throughput -- --ignored --nocapture`
//! (after tests/emulators/start.sh): one line per execution type with items/s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_runtime::{SystemClock, Unsupported};
use cairn_serverless::outbox::{Outgoing, Sink};
use cairn_serverless::{Engine, EngineError, Message, Outbox, Settings};
use cairn_store_dynamodb::DynamoStore;
use serde_json::{json, Value};
use tokio::sync::mpsc;

mod support;
use support::emulators;

/// Largest SQS batch the advance function's trigger hands over (template.yaml BatchSize).
const BATCH: usize = 10;

struct Channel(mpsc::UnboundedSender<Outgoing>);

impl Sink for Channel {
    fn send(&self, outgoing: Vec<Outgoing>, _: i64) -> Result<(), EngineError> {
        for item in outgoing {
            if !matches!(item, Outgoing::StatusChange { .. }) {
                self.0
                    .send(item)
                    .map_err(|e| EngineError::Send(e.to_string()))?;
            }
        }
        Ok(())
    }
}

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs one Distributed Map to its end; returns (items/s, parent writes, children stored).
async fn run(execution_type: &str, items: usize, workers: usize) -> (f64, u64, usize) {
    let suffix = format!("{}-{execution_type}", std::process::id()).to_lowercase();
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let settings = Settings {
        region: "us-east-1".into(),
        account: "123456789012".into(),
        ..Settings::default()
    };
    let store = DynamoStore::from_env(&format!("mapbench-{suffix}")).await;
    store.create_table().await.expect("table");
    let (sender, receiver) = mpsc::unbounded_channel();
    let engine = Arc::new(Engine::new(
        Arc::new(store.clone()),
        Outbox::with_sink(settings, Arc::new(Channel(sender))),
        Arc::new(Unsupported),
        Arc::new(SystemClock),
    ));
    drop(config);
    let definition = json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "ItemsPath": "$.items", "Label": "Fan", "MaxConcurrency": 1000,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
            "StartAt": "Double",
            "States": {"Double": {"Type": "Pass",
                "Parameters": {"twice.$": "States.MathAdd($, $)"}, "End": true}}
        },
        "End": true}}});
    let api = cairn_serverless::shared_api(&engine);
    let request = json!({"name": format!("fan-{suffix}"), "definition": definition.to_string(),
        "roleArn": "arn:aws:iam::123456789012:role/cairn"});
    let machine = tokio::task::spawn_blocking(move || api.handle("CreateStateMachine", request))
        .await
        .expect("join")
        .expect("create");
    let machine = machine["stateMachineArn"]
        .as_str()
        .expect("arn")
        .to_string();
    let input = json!({"items": (0..items).collect::<Vec<_>>()}).to_string();

    let began = Instant::now();
    let writes_before = engine.writes.load(std::sync::atomic::Ordering::Relaxed);
    let started = engine
        .start(&machine, Some("run"), Some(&input))
        .await
        .expect("start");
    let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
    let mut handlers = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (engine, receiver) = (Arc::clone(&engine), Arc::clone(&receiver));
        let parent = started.execution_arn.clone();
        handlers.spawn(async move {
            loop {
                let batch = {
                    let mut receiver = receiver.lock().await;
                    let mut batch = Vec::new();
                    match tokio::time::timeout(Duration::from_millis(50), receiver.recv()).await {
                        Ok(Some(first)) => batch.push(first),
                        Ok(None) => return,
                        Err(_) => {}
                    }
                    while batch.len() < BATCH {
                        match receiver.try_recv() {
                            Ok(next) => batch.push(next),
                            Err(_) => break,
                        }
                    }
                    batch
                };
                if batch.is_empty() {
                    let (record, _) = engine
                        .store
                        .get_execution(&parent)
                        .await
                        .expect("read")
                        .expect("parent");
                    if record.status != "RUNNING" {
                        return;
                    }
                    continue;
                }
                let mut ends: Vec<(String, Vec<String>)> = Vec::new();
                for outgoing in batch {
                    let message = match outgoing {
                        Outgoing::Timer { message, .. } | Outgoing::Advance(message) => message,
                        Outgoing::StatusChange { .. } => continue,
                    };
                    if let Message::MapRunChildEnded {
                        execution_arn,
                        child_arn,
                    } = message
                    {
                        match ends.iter_mut().find(|(p, _)| *p == execution_arn) {
                            Some((_, children)) => children.push(child_arn),
                            None => ends.push((execution_arn, vec![child_arn])),
                        }
                        continue;
                    }
                    engine.handle(message).await.expect("handle");
                }
                for (parent, children) in ends {
                    engine
                        .map_run_children_ended(&parent, &children)
                        .await
                        .expect("ends");
                }
            }
        });
    }
    while handlers.join_next().await.is_some() {}
    let elapsed = began.elapsed().as_secs_f64();
    let (record, _) = engine
        .store
        .get_execution(&started.execution_arn)
        .await
        .expect("read")
        .expect("parent");
    assert_eq!(record.status, "SUCCEEDED", "{:?}", record.summary);
    let output: Value =
        serde_json::from_str(record.summary["output"].as_str().unwrap_or("null")).expect("output");
    let doubled: Vec<i64> = output
        .as_array()
        .expect("array")
        .iter()
        .map(|o| o["twice"].as_i64().expect("twice"))
        .collect();
    assert_eq!(
        doubled,
        (0..items as i64).map(|v| 2 * v).collect::<Vec<_>>()
    );
    let query = cairn_store::ExecutionQuery {
        state_machine_arn: format!("{machine}/Fan"),
        status: Some("SUCCEEDED".into()),
        cursor: None,
        limit: items + 1,
    };
    let children = engine
        .store
        .list_executions(&query)
        .await
        .expect("children")
        .items
        .len();
    let writes = engine.writes.load(std::sync::atomic::Ordering::Relaxed) - writes_before;
    (items as f64 / elapsed, writes, children)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a benchmark: run by hand after tests/emulators/start.sh"]
async fn distributed_map_items_per_second() {
    if !emulators() {
        return;
    }
    let items = setting("CAIRN_MAP_ITEMS", 2_000);
    let workers = setting("CAIRN_MAP_WORKERS", 16);
    for execution_type in ["STANDARD", "EXPRESS"] {
        let (rate, writes, children) = run(execution_type, items, workers).await;
        println!(
            "{execution_type} children: {items} items, {workers} handlers: {rate:.0} items/s, {writes} execution writes, {children} children stored"
        );
        assert_eq!(children, items);
    }
}
