//! Distributed Map throughput of the serverless shell against DynamoDB Local: a run of
//! `CAIRN_MAP_ITEMS` items (default 2,000; MaxConcurrency `CAIRN_MAP_CONCURRENCY`, default
//! 1,000) whose STANDARD children are executions of their own, handled by
//! `CAIRN_MAP_WORKERS` concurrent handlers (default 16, standing in for as many concurrent
//! advance invocations), and the same run with EXPRESS children, which run inside their
//! parent (`CAIRN_MAP_TYPES` picks). Messages go from the engine's outbox straight to the
//! handlers (an in-process queue: what is measured is the engine and the store, not the
//! bus), and a queue batch's child ends reach their parent together, as the advance function
//! takes an SQS batch; a handler that loses too many write races puts its messages back, as
//! SQS returns a failed message.
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

/// The heap this process holds, and the most it held since the peak was last reset: what
/// handling one message needs, apart from what the allocator keeps of earlier ones (the
/// resident set only grows with that).
struct Counting;

static HELD: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static PEAK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

// SAFETY: every call goes to the system allocator unchanged; only the sizes are counted.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        let held = HELD.fetch_add(layout.size(), std::sync::atomic::Ordering::Relaxed);
        PEAK.fetch_max(held + layout.size(), std::sync::atomic::Ordering::Relaxed);
        std::alloc::System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        HELD.fetch_sub(layout.size(), std::sync::atomic::Ordering::Relaxed);
        std::alloc::System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let grown = new_size - layout.size();
            let held = HELD.fetch_add(grown, std::sync::atomic::Ordering::Relaxed);
            PEAK.fetch_max(held + grown, std::sync::atomic::Ordering::Relaxed);
        } else {
            HELD.fetch_sub(
                layout.size() - new_size,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        std::alloc::System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The heap's peak since the last call, which resets it to what is held now.
fn heap_peak() -> usize {
    let held = HELD.load(std::sync::atomic::Ordering::Relaxed);
    PEAK.swap(held, std::sync::atomic::Ordering::Relaxed)
}

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

/// An engine over DynamoDB Local (table `table`, payloads past its item limit in `bucket`)
/// running the real integrations against moto, its messages sent to the returned receiver.
async fn engine_on_emulators(
    config: &aws_config::SdkConfig,
    table: &str,
    bucket: &str,
) -> (Engine, mpsc::UnboundedReceiver<Outgoing>) {
    let store = DynamoStore::from_env(table)
        .await
        .with_payload_bucket(cairn_store_dynamodb::s3_client(config), bucket);
    store.create_table().await.expect("table");
    let integrations = cairn_integrations::Integrations::on_runtime(
        tokio::runtime::Handle::current(),
        cairn_integrations::Settings {
            region: Some("us-east-1".into()),
            ..cairn_integrations::Settings::from_env()
        },
        Arc::new(Unsupported),
    );
    let (sender, receiver) = mpsc::unbounded_channel();
    let engine = Engine::new(
        Arc::new(store),
        Outbox::with_sink(
            Settings {
                region: "us-east-1".into(),
                account: "123456789012".into(),
                ..Settings::default()
            },
            Arc::new(Channel(sender)),
        ),
        Arc::new(integrations),
        Arc::new(SystemClock),
    );
    (engine, receiver)
}

/// CreateStateMachine through the engine's api: the new state machine's ARN.
async fn create_machine(engine: &Engine, name: &str, definition: &Value) -> String {
    let api = cairn_serverless::shared_api(engine);
    let request = json!({"name": name, "definition": definition.to_string(),
        "roleArn": "arn:aws:iam::123456789012:role/cairn"});
    let machine = tokio::task::spawn_blocking(move || api.handle("CreateStateMachine", request))
        .await
        .expect("join")
        .expect("create");
    machine["stateMachineArn"]
        .as_str()
        .expect("arn")
        .to_string()
}

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs one Distributed Map to its end; returns (items/s, execution writes, lost write races,
/// children stored).
async fn run(execution_type: &str, items: usize, workers: usize) -> (f64, u64, u64, usize) {
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
    let requeue = sender.clone();
    let engine = Arc::new(Engine::new(
        Arc::new(store.clone()),
        Outbox::with_sink(settings, Arc::new(Channel(sender))),
        Arc::new(Unsupported),
        Arc::new(SystemClock),
    ));
    drop(config);
    let definition = json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "ItemsPath": "$.items", "Label": "Fan",
        "MaxConcurrency": setting("CAIRN_MAP_CONCURRENCY", 1000),
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
        let requeue = requeue.clone();
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
                let messages: Vec<Message> = batch
                    .into_iter()
                    .filter_map(|outgoing| match outgoing {
                        Outgoing::Timer { message, .. } | Outgoing::Advance(message) => {
                            Some(message)
                        }
                        Outgoing::StatusChange { .. } => None,
                    })
                    .collect();
                for failure in engine.handle_batch(messages.clone()).await {
                    // What SQS does with a message whose handler failed: it comes back.
                    let error = failure.error;
                    assert!(matches!(error, EngineError::Contention(_)), "{error}");
                    for i in failure.messages {
                        requeue
                            .send(Outgoing::Advance(messages[i].clone()))
                            .expect("requeue");
                    }
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
    let mut children = 0;
    let mut cursor = None;
    loop {
        let query = cairn_store::ExecutionQuery {
            state_machine_arn: format!("{machine}/Fan"),
            status: Some("SUCCEEDED".into()),
            cursor,
            limit: 1000,
        };
        let page = engine
            .store
            .list_executions(&query)
            .await
            .expect("children");
        children += page.items.len();
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let writes = engine.writes.load(std::sync::atomic::Ordering::Relaxed) - writes_before;
    let conflicts = engine.conflicts.load(std::sync::atomic::Ordering::Relaxed);
    (items as f64 / elapsed, writes, conflicts, children)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a benchmark: run by hand after tests/emulators/start.sh"]
async fn distributed_map_items_per_second() {
    if !emulators() {
        return;
    }
    let items = setting("CAIRN_MAP_ITEMS", 2_000);
    let workers = setting("CAIRN_MAP_WORKERS", 16);
    let types = std::env::var("CAIRN_MAP_TYPES").unwrap_or_else(|_| "STANDARD,EXPRESS".into());
    for execution_type in types.split(',') {
        let (rate, writes, conflicts, children) = run(execution_type, items, workers).await;
        println!(
            "{execution_type} children: {items} items, {workers} handlers: {rate:.0} items/s, {writes} execution writes, {conflicts} lost write races, {children} children stored"
        );
        assert_eq!(children, items);
    }
}

/// A Distributed Map over a CSV of `CAIRN_DMAP_ITEMS` rows (default 10,000) in S3 (moto),
/// its EXPRESS children inside the parent, results written to S3 by the ResultWriter with
/// AWS's manifest: the serverless half of the CSV check (tests/clients has
/// `cairn serve`'s). The engine runs the real integrations against moto, its store on
/// DynamoDB Local; messages are handled as they come, one at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_of_many_rows_in_s3_exports_its_results_with_the_manifest() {
    if !emulators() {
        return;
    }
    let items = setting("CAIRN_DMAP_ITEMS", 10_000);
    let suffix = std::process::id();
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let s3 = cairn_store_dynamodb::s3_client(&config);
    let bucket = format!("rows-{suffix}");
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("bucket");
    let mut csv = String::from("id,name,amount\n");
    for i in 0..items {
        csv.push_str(&format!("{i},item-{i},{}\n", i % 97));
    }
    s3.put_object()
        .bucket(&bucket)
        .key("in/rows.csv")
        .body(aws_sdk_s3::primitives::ByteStream::from(csv.into_bytes()))
        .send()
        .await
        .expect("csv");

    let (engine, mut receiver) =
        engine_on_emulators(&config, &format!("rows-{suffix}"), &bucket).await;
    let definition = json!({"StartAt": "Map", "States": {"Map": {
        "Type": "Map", "Label": "Rows", "MaxConcurrency": 1000,
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
            "Parameters": {"Bucket.$": "$.bucket", "Key": "in/rows.csv"}
        },
        "ItemSelector": {"id.$": "$$.Map.Item.Value.id",
            "amount.$": "States.StringToJson($$.Map.Item.Value.amount)"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "P",
            "States": {"P": {"Type": "Pass", "Parameters": {"id.$": "$.id",
                "double.$": "States.MathAdd($.amount, $.amount)"}, "End": true}}
        },
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket.$": "$.bucket", "Prefix": "out"}},
        "End": true}}});
    let machine = create_machine(&engine, &format!("rows-{suffix}"), &definition).await;

    let began = Instant::now();
    let input = json!({ "bucket": bucket }).to_string();
    let started = engine
        .start(&machine, Some("rows"), Some(&input))
        .await
        .expect("start");
    let deadline = Instant::now() + Duration::from_secs(600);
    // The parent is read after each message for its state's size; the reads are not timed.
    let (mut peak_state, mut reading, mut messages) = (0, Duration::ZERO, 0);
    let mut slowest = (Duration::ZERO, String::new());
    let record = loop {
        let outgoing = tokio::time::timeout(Duration::from_secs(60), receiver.recv())
            .await
            .expect("a message within a minute while the parent runs")
            .expect("the outbox is open");
        assert!(
            Instant::now() < deadline,
            "the run did not end in 10 minutes"
        );
        let (Outgoing::Timer { message, .. } | Outgoing::Advance(message)) = outgoing else {
            continue;
        };
        let kind = format!("{message:?}")
            .split([' ', '('])
            .next()
            .unwrap_or_default()
            .to_string();
        let handled = Instant::now();
        engine.handle(message).await.expect("handle");
        slowest = slowest.max((handled.elapsed(), kind));
        messages += 1;
        let read = Instant::now();
        let (record, _) = engine
            .store
            .get_execution(&started.execution_arn)
            .await
            .expect("read")
            .expect("parent");
        reading += read.elapsed();
        peak_state = peak_state.max(record.state.len());
        if record.status != "RUNNING" {
            break record;
        }
    };
    let elapsed = (began.elapsed() - reading).as_secs_f64();
    assert_eq!(record.status, "SUCCEEDED", "{:?}", record.summary);
    println!(
        "Distributed Map, serverless shell: {items} CSV rows in {elapsed:.1}s, {:.0} items/s (EXPRESS children inside the parent, DynamoDB Local + moto); {messages} messages, the slowest {:.1}s ({}), the parent's state at most {:.1} MB",
        items as f64 / elapsed,
        slowest.0.as_secs_f64(),
        slowest.1,
        peak_state as f64 / 1e6
    );

    let output: Value =
        serde_json::from_str(record.summary["output"].as_str().unwrap_or("null")).expect("output");
    let run_arn = output["MapRunArn"].as_str().expect("MapRunArn").to_string();
    let run_id = run_arn.rsplit(':').next().unwrap_or_default();
    let manifest_key = format!("out/{run_id}/manifest.json");
    assert_eq!(
        output["ResultWriterDetails"],
        json!({"Bucket": bucket, "Key": manifest_key})
    );
    let read = |key: String| {
        let s3 = s3.clone();
        let bucket = bucket.clone();
        async move {
            let object = s3
                .get_object()
                .bucket(&bucket)
                .key(&key)
                .send()
                .await
                .expect("object");
            let bytes = object.body.collect().await.expect("body").into_bytes();
            serde_json::from_slice::<Value>(&bytes).expect("json")
        }
    };
    let manifest = read(manifest_key).await;
    assert_eq!(manifest["DestinationBucket"], bucket.as_str());
    assert_eq!(manifest["MapRunArn"], run_arn.as_str());
    assert_eq!(manifest["ResultFiles"]["FAILED"], json!([]));
    assert_eq!(manifest["ResultFiles"]["PENDING"], json!([]));
    let files = manifest["ResultFiles"]["SUCCEEDED"]
        .as_array()
        .expect("files");
    let mut rows = Vec::new();
    for file in files {
        let key = file["Key"].as_str().expect("key").to_string();
        rows.extend(read(key).await.as_array().cloned().unwrap_or_default());
    }
    assert_eq!(rows.len(), items);
    let last = rows.last().expect("a row");
    let n = items - 1;
    let output: Value =
        serde_json::from_str(last["Output"].as_str().expect("Output")).expect("json");
    assert_eq!(output, json!({"id": n.to_string(), "double": 2 * (n % 97)}));
    assert_eq!(last["Status"], "SUCCEEDED");
}

/// A Distributed Map over a JSON array of `CAIRN_DMAP_BIG_ITEMS` numbers (default 1,000,000)
/// in S3 (moto), its EXPRESS children inside the parent, its results written to S3 by a
/// ResultWriter (`CAIRN_DMAP_BIG_WRITER=0`: none, and ResultPath null): the run goes in
/// slices of children, each slice's records written as a part of the result files and its
/// children stored as closed executions before the next starts, so the parent's state and
/// each decision stay small whatever the run's size. Prints the time, items/s, the largest
/// parent state and the slowest message.
///
/// `CAIRN_DMAP_BIG_ITEMS=1000000 cargo test -p cairn-serverless --release --test
/// map_throughput -- --ignored --nocapture a_million` (after tests/emulators/start.sh).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run by hand after tests/emulators/start.sh"]
async fn a_million_items_run_in_slices_with_a_small_parent() {
    if !emulators() {
        return;
    }
    let items = setting("CAIRN_DMAP_BIG_ITEMS", 1_000_000);
    let writes = setting("CAIRN_DMAP_BIG_WRITER", 1) != 0;
    let suffix = std::process::id();
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let s3 = cairn_store_dynamodb::s3_client(&config);
    let bucket = format!("many-{suffix}");
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("bucket");
    let numbers = serde_json::to_vec(&(0..items).collect::<Vec<_>>()).expect("json");
    s3.put_object()
        .bucket(&bucket)
        .key("in/items.json")
        .body(aws_sdk_s3::primitives::ByteStream::from(numbers))
        .send()
        .await
        .expect("items");

    let (engine, mut receiver) =
        engine_on_emulators(&config, &format!("many-{suffix}"), &bucket).await;
    let mut definition = json!({"StartAt": "Map", "States": {"Map": {
        "Type": "Map", "Label": "Many", "MaxConcurrency": 1000,
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket.$": "$.bucket", "Key": "in/items.json"}
        },
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "P",
            "States": {"P": {"Type": "Pass",
                "Parameters": {"twice.$": "States.MathAdd($, $)"}, "End": true}}
        },
        "End": true}}});
    if writes {
        definition["States"]["Map"]["ResultWriter"] = json!({
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket.$": "$.bucket", "Prefix": "out"}});
    } else {
        definition["States"]["Map"]["ResultPath"] = Value::Null;
    }
    let machine = create_machine(&engine, &format!("many-{suffix}"), &definition).await;

    let began = Instant::now();
    let input = json!({ "bucket": bucket }).to_string();
    let started = engine
        .start(&machine, Some("many"), Some(&input))
        .await
        .expect("start");
    let deadline = Instant::now() + Duration::from_secs(1800);
    let (mut peak_state, mut reading, mut messages) = (0, Duration::ZERO, 0);
    let mut slowest = (Duration::ZERO, String::new());
    // The process's peak resident memory while one message is handled, what a Lambda
    // invocation handling it would need (Linux: the peak is reset before each message).
    let (mut peak_rss_kb, mut peak_heap) = (0, 0);
    let record = loop {
        let outgoing = tokio::time::timeout(Duration::from_secs(120), receiver.recv())
            .await
            .expect("a message within two minutes while the parent runs")
            .expect("the outbox is open");
        assert!(
            Instant::now() < deadline,
            "the run did not end in 30 minutes"
        );
        let (Outgoing::Timer { message, .. } | Outgoing::Advance(message)) = outgoing else {
            continue;
        };
        let kind = format!("{message:?}")
            .split([' ', '('])
            .next()
            .unwrap_or_default()
            .to_string();
        let handled = Instant::now();
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let heap_before = heap_peak();
        engine.handle(message).await.expect("handle");
        let peak = resident_peak_kb();
        peak_rss_kb = peak_rss_kb.max(peak);
        let heap = heap_peak();
        peak_heap = peak_heap.max(heap);
        if std::env::var_os("CAIRN_DMAP_EACH").is_some() {
            println!(
                "  {kind}: {:.1}s, heap at most {} MB (from {} MB), resident at most {} MB",
                handled.elapsed().as_secs_f64(),
                heap >> 20,
                heap_before.min(heap) >> 20,
                peak / 1024
            );
        }
        slowest = slowest.max((handled.elapsed(), kind));
        messages += 1;
        let read = Instant::now();
        let (record, _) = engine
            .store
            .get_execution(&started.execution_arn)
            .await
            .expect("read")
            .expect("parent");
        reading += read.elapsed();
        peak_state = peak_state.max(record.state.len());
        if record.status != "RUNNING" {
            break record;
        }
    };
    let elapsed = (began.elapsed() - reading).as_secs_f64();
    assert_eq!(record.status, "SUCCEEDED", "{:?}", record.summary);
    println!(
        "Distributed Map, serverless shell: {items} items from S3 in {elapsed:.1}s, {:.0} items/s (EXPRESS children inside the parent in slices, stored as they end; {}; DynamoDB Local + moto); {messages} messages, the slowest {:.1}s ({}), the parent's state at most {:.2} MB, the heap at most {:.0} MB and the process's resident memory at most {:.0} MB while a message is handled",
        items as f64 / elapsed,
        if writes {
            "results written in parts by the ResultWriter"
        } else {
            "no ResultWriter"
        },
        slowest.0.as_secs_f64(),
        slowest.1,
        peak_state as f64 / 1e6,
        peak_heap as f64 / 1048576.0,
        peak_rss_kb as f64 / 1024.0
    );

    // The Map Run counts every child, and a child stored in the first slice reads back.
    let api = cairn_serverless::shared_api(&engine);
    let parent = started.execution_arn.clone();
    let (run, child) = tokio::task::spawn_blocking(move || {
        let runs = api
            .handle("ListMapRuns", json!({"executionArn": parent}))
            .expect("runs");
        let arn = runs["mapRuns"][0]["mapRunArn"].clone();
        let run = api
            .handle("DescribeMapRun", json!({"mapRunArn": arn}))
            .expect("run");
        let listed = api
            .handle("ListExecutions", json!({"mapRunArn": arn, "maxResults": 1}))
            .expect("children");
        let first = listed["executions"][0]["executionArn"].clone();
        let child = api
            .handle("DescribeExecution", json!({"executionArn": first}))
            .expect("child");
        (run, child)
    })
    .await
    .expect("join");
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(run["executionCounts"]["succeeded"], items, "{run}");
    assert_eq!(run["executionCounts"]["total"], items, "{run}");
    assert_eq!(child["status"], "SUCCEEDED", "{child}");
    let output: Value =
        serde_json::from_str(child["output"].as_str().expect("output")).expect("json");
    assert!(
        output["twice"].as_i64().is_some_and(|n| n % 2 == 0),
        "{child}"
    );
    if !writes {
        return;
    }

    // The manifest lists a part of the files per slice; the first part's records read back.
    let output: Value =
        serde_json::from_str(record.summary["output"].as_str().unwrap_or("null")).expect("output");
    let manifest_key = output["ResultWriterDetails"]["Key"]
        .as_str()
        .expect("manifest")
        .to_string();
    let read = |key: String| {
        let s3 = s3.clone();
        let bucket = bucket.clone();
        async move {
            let object = s3
                .get_object()
                .bucket(&bucket)
                .key(&key)
                .send()
                .await
                .expect("object");
            let bytes = object.body.collect().await.expect("body").into_bytes();
            serde_json::from_slice::<Value>(&bytes).expect("json")
        }
    };
    let manifest = read(manifest_key).await;
    assert_eq!(manifest["ResultFiles"]["FAILED"], json!([]));
    let files = manifest["ResultFiles"]["SUCCEEDED"]
        .as_array()
        .expect("files")
        .clone();
    assert!(!files.is_empty());
    let first = read(files[0]["Key"].as_str().expect("key").to_string()).await;
    let records = first.as_array().expect("records");
    assert!(!records.is_empty() && records.len() <= items);
    let input: Value =
        serde_json::from_str(records[0]["Input"].as_str().expect("Input")).expect("json");
    let output: Value =
        serde_json::from_str(records[0]["Output"].as_str().expect("Output")).expect("json");
    assert_eq!(output["twice"], input.as_i64().expect("a number") * 2);
    let size: u64 = files.iter().filter_map(|f| f["Size"].as_u64()).sum();
    println!(
        "  {} result files, {:.1} MB",
        files.len(),
        size as f64 / 1e6
    );
}

/// The process's peak resident set since it was last reset (`VmHWM`, Linux; 0 elsewhere).
fn resident_peak_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
