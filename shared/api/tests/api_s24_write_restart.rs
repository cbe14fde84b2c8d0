//! A Distributed Map's ResultWriter survives a restart of the server while its write is
//! open: the first server puts the files in S3 (moto) but stops before it records the
//! write's answer; a second API over the same SQLite data directory sends the write again,
//! rendered anew from the execution (`Persisted::command_to_run`, the open task keeps no
//! files), and the execution succeeds. The request sent again must be the one sent first,
//! sent once, and the bucket must hold the same files with the same bodies: re-rendering may
//! neither add, lose nor change a file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_api::{Api, Config};
use cairn_integrations::{Integrations, Settings};
use cairn_interpreter::{IntegrationPattern, ResourceKind};
use cairn_runtime::{TaskDone, TaskInvoker, TaskOutcome, TaskRequest};
use cairn_store_sqlite::SqliteStore;
use serde_json::{json, Value};

const ROLE: &str = "arn:aws:iam::123456789012:role/r";
const RESULT_WRITER: &str = "arn:aws:states:::s3:putObject";

fn moto() -> Option<String> {
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
    Some(moto)
}

fn integrations(moto: &str) -> Arc<Integrations> {
    let settings = Settings {
        region: Some("us-east-1".into()),
        endpoint_url: Some(moto.to_string()),
        static_credentials: Some(("test".into(), "test".into())),
        ..Settings::default()
    };
    Arc::new(
        Integrations::new(settings, Arc::new(cairn_runtime::Unsupported))
            .expect("the integrations start"),
    )
}

/// The real integrations, watching the ResultWriter's requests. With `crash`, a
/// ResultWriter's write is carried out but its answer never reaches the execution, as when
/// the server dies between the S3 puts and the store write that records them.
struct Watching {
    inner: Arc<Integrations>,
    crash: bool,
    writes: Mutex<Vec<Value>>,
}

impl Watching {
    fn new(inner: Arc<Integrations>, crash: bool) -> Arc<Watching> {
        Arc::new(Watching {
            inner,
            crash,
            writes: Mutex::new(Vec::new()),
        })
    }

    fn writes(&self) -> Vec<Value> {
        self.writes.lock().map(|w| w.clone()).unwrap_or_default()
    }

    fn note(&self, request: &TaskRequest) {
        if request.resource == RESULT_WRITER {
            if let Ok(mut writes) = self.writes.lock() {
                writes.push(request.input.clone());
            }
        }
    }
}

impl TaskInvoker for Watching {
    fn invoke(&self, request: &TaskRequest) -> TaskOutcome {
        self.note(request);
        self.inner.invoke(request)
    }

    fn start(&self, request: TaskRequest, done: TaskDone) -> Result<(), (TaskRequest, TaskDone)> {
        if self.crash && request.resource == RESULT_WRITER {
            let outcome = self.inner.invoke(&request);
            assert!(
                outcome.result.is_ok(),
                "the first write failed: {:?}",
                outcome.result
            );
            // Noted once the files are all in the bucket.
            self.note(&request);
            // Dropping `done` would report a failure; the crashed server reports nothing.
            std::mem::forget(done);
            return Ok(());
        }
        self.note(&request);
        self.inner.start(request, done)
    }
}

fn data_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "cairn-api-write-restart-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The database files of a data directory (not its lock), into another directory.
fn copy_store(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("read the data directory") {
        let entry = entry.expect("a directory entry");
        let name = entry.file_name();
        if entry.path().is_file() && name != cairn_store_sqlite::LOCK_FILE {
            std::fs::copy(entry.path(), to.join(&name)).expect("copy a store file");
        }
    }
}

fn open(dir: &Path, invoker: Arc<Watching>, map_run_children: bool) -> Api {
    let store = SqliteStore::open(dir).expect("open the store");
    Api::new(
        Arc::new(store),
        Config {
            invoker,
            map_run_children,
            token_key: vec![7; 32],
            ..Config::default()
        },
    )
}

fn call(api: &Api, action: &str, request: Value) -> Value {
    api.handle(action, request)
        .unwrap_or_else(|e| panic!("{action}: {e}"))
}

fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn s3(integrations: &Integrations, action: &str, input: Value) -> Value {
    let request = TaskRequest {
        task_id: 1,
        state_name: "Check".into(),
        resource: format!("arn:aws:states:::aws-sdk:s3:{action}"),
        kind: ResourceKind::Service {
            service: "aws-sdk:s3".into(),
            action: action.into(),
            pattern: IntegrationPattern::RequestResponse,
        },
        input,
        task_token: None,
        credentials: None,
        now_ms: 0,
        execution_arn: String::new(),
    };
    integrations
        .invoke(&request)
        .result
        .unwrap_or_else(|e| panic!("s3 {action}: {e:?}"))
}

/// Every object under `prefix`: key and body.
fn objects(integrations: &Integrations, bucket: &str, prefix: &str) -> Vec<(String, String)> {
    let listed = s3(
        integrations,
        "listObjectsV2",
        json!({"Bucket": bucket, "Prefix": prefix}),
    );
    let mut keys: Vec<String> = listed["Contents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["Key"].as_str().map(str::to_string))
        .collect();
    keys.sort();
    keys.into_iter()
        .map(|key| {
            let got = s3(
                integrations,
                "getObject",
                json!({"Bucket": bucket, "Key": key}),
            );
            let body = match &got["Body"] {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            (key, body)
        })
        .collect()
}

/// Creates the bucket, then maps over six items in DISTRIBUTED mode; item 3 fails (a
/// tolerated failure), so the export has SUCCEEDED and FAILED files and a manifest.
fn definition(bucket: &str) -> String {
    json!({"StartAt": "Bucket", "States": {
        "Bucket": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:createBucket",
                   "Parameters": {"Bucket": bucket}, "ResultPath": null, "Next": "M"},
        "M": {"Type": "Map", "Label": "each", "ItemsPath": "$.items",
              "ToleratedFailurePercentage": 100,
              "ResultWriter": {"Resource": RESULT_WRITER,
                               "Parameters": {"Bucket": bucket, "Prefix": "out"}},
              "ItemProcessor": {
                  "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                  "StartAt": "Which",
                  "States": {
                      "Which": {"Type": "Choice", "Choices": [
                          {"Variable": "$.n", "NumericEquals": 3, "Next": "Broken"}],
                          "Default": "Square"},
                      "Broken": {"Type": "Fail", "Error": "Item.Broken", "Cause": "item 3"},
                      "Square": {"Type": "Pass", "Parameters": {"n.$": "$.n", "label.$": "States.Format('item {}', $.n)"}, "End": true}}},
              "End": true}
    }})
    .to_string()
}

fn restart_while_writing(map_run_children: bool) {
    let Some(moto) = moto() else {
        return;
    };
    let integrations = integrations(&moto);
    let mode = if map_run_children { "own" } else { "inside" };
    let dir = data_dir(mode);
    let bucket = format!("s24-write-restart-{mode}-{}", std::process::id());

    let first = Watching::new(integrations.clone(), true);
    let api = open(&dir, first.clone(), map_run_children);
    let machine = call(
        &api,
        "CreateStateMachine",
        json!({"name": "writes", "definition": definition(&bucket), "roleArn": ROLE}),
    )["stateMachineArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let items: Vec<Value> = (0..6).map(|n| json!({"n": n})).collect();
    let execution = call(
        &api,
        "StartExecution",
        json!({"stateMachineArn": machine, "name": "p", "input": json!({"items": items}).to_string()}),
    )["executionArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let sent_first = until("the first server's write", || {
        first.writes().first().cloned()
    });
    let written_first = objects(&integrations, &bucket, "out");
    let keys: Vec<&str> = written_first.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        keys.iter().any(|k| k.ends_with("/manifest.json"))
            && keys.iter().any(|k| k.contains("/SUCCEEDED_"))
            && keys.iter().any(|k| k.contains("/FAILED_")),
        "{keys:?}"
    );
    // The crashed server never learnt that the write happened.
    let described = call(
        &api,
        "DescribeExecution",
        json!({"executionArn": execution}),
    );
    assert_eq!(described["status"], "RUNNING");
    api.shutdown();
    drop(api);
    // The crashed process would have let its data directory go; here the write's answer it
    // never gave keeps its store (and the directory's lock) alive, so the second server
    // opens a copy of the directory as the crash left it: the state that holds the open
    // write was committed before the write was sent.
    let restarted = data_dir(&format!("{mode}-restarted"));
    copy_store(&dir, &restarted);

    let second = Watching::new(integrations.clone(), false);
    let api = open(&restarted, second.clone(), map_run_children);
    assert!(api.recover().expect("recover") >= 1);
    let described = until("the execution to end after the restart", || {
        let out = call(
            &api,
            "DescribeExecution",
            json!({"executionArn": execution}),
        );
        (out["status"] != "RUNNING").then_some(out)
    });
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    let output: Value =
        serde_json::from_str(described["output"].as_str().unwrap_or("null")).unwrap_or_default();
    assert_eq!(output["ResultWriterDetails"]["Bucket"], bucket.as_str());

    // Sent again once, rendered from the execution into the very request sent first.
    let sent_again = second.writes();
    assert_eq!(sent_again.len(), 1, "{sent_again:?}");
    assert_eq!(sent_again[0], sent_first);
    // Nothing added, lost or changed in the bucket.
    let written_again = objects(&integrations, &bucket, "out");
    assert_eq!(written_again, written_first);
    api.shutdown();
    let _ = std::fs::remove_dir_all(&restarted);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_result_writer_open_at_a_restart_writes_the_same_files_once_more() {
    restart_while_writing(true);
}

#[test]
fn a_result_writer_of_children_run_inside_their_parent_too() {
    restart_while_writing(false);
}
