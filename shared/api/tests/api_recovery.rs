//! Standard executions survive the server going away: a new API over the same SQLite data
//! directory resumes timers, keeps queued activity tasks and honours tokens handed out before.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cairn_api::{Api, Config};
use cairn_store_sqlite::SqliteStore;
use serde_json::{json, Value};

fn data_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("cairn-api-recovery-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn open(dir: &Path) -> Api {
    open_with(
        dir,
        Config {
            activity_poll: Duration::from_secs(2),
            ..Config::default()
        },
    )
}

fn open_with(dir: &Path, config: Config) -> Api {
    let store = SqliteStore::open(dir).expect("open the store");
    Api::new(
        Arc::new(store),
        Config {
            // The key a server keeps in its data directory: the same across restarts.
            token_key: vec![42; 32],
            ..config
        },
    )
}

fn call(api: &Api, action: &str, request: Value) -> Value {
    api.handle(action, request)
        .unwrap_or_else(|e| panic!("{action}: {e}"))
}

fn wait_done(api: &Api, arn: &str) -> Value {
    for _ in 0..300 {
        let out = call(api, "DescribeExecution", json!({"executionArn": arn}));
        if out["status"] != "RUNNING" {
            return out;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{arn} did not finish")
}

fn entered(api: &Api, arn: &str) -> Vec<String> {
    let history = call(
        api,
        "GetExecutionHistory",
        json!({"executionArn": arn, "maxResults": 1000}),
    );
    history["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter(|e| {
                    e["type"]
                        .as_str()
                        .is_some_and(|t| t.ends_with("StateEntered"))
                })
                .filter_map(|e| {
                    e["stateEnteredEventDetails"]["name"]
                        .as_str()
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn timers_and_activity_tasks_resume_after_a_restart() {
    let dir = data_dir("resume");
    let first = open(&dir);
    let activity = call(&first, "CreateActivity", json!({"name": "job"}))["activityArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let definition = json!({"StartAt": "Nap", "States": {
        "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Work"},
        "Work": {"Type": "Task", "Resource": activity, "End": true}}});
    let machine = call(
        &first,
        "CreateStateMachine",
        json!({"name": "resume", "definition": definition.to_string(), "roleArn": "arn:aws:iam::123456789012:role/r"}),
    )["stateMachineArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let napping = call(
        &first,
        "StartExecution",
        json!({"stateMachineArn": machine, "name": "napping"}),
    )["executionArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // The server goes away while the execution waits on its timer.
    first.shutdown();
    drop(first);

    let second = open(&dir);
    assert_eq!(second.recover(), Ok(1));
    let task = call(
        &second,
        "GetActivityTask",
        json!({"activityArn": activity, "workerName": "w"}),
    );
    let token = task["taskToken"]
        .as_str()
        .expect("the resumed execution queued its activity task")
        .to_string();
    second.shutdown();
    drop(second);

    // A token handed out before a restart is still good after it.
    let third = open(&dir);
    assert_eq!(third.recover(), Ok(1));
    call(
        &third,
        "SendTaskSuccess",
        json!({"taskToken": token, "output": "{\"ok\":1}"}),
    );
    let done = wait_done(&third, &napping);
    assert_eq!(
        (done["status"].as_str(), done["output"].as_str()),
        (Some("SUCCEEDED"), Some("{\"ok\":1}"))
    );
    assert_eq!(entered(&third, &napping), ["Nap", "Work"]);
    third.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_silent_activity_worker_times_out_on_its_heartbeat() {
    let dir = data_dir("heartbeat");
    let api = open(&dir);
    let activity = call(&api, "CreateActivity", json!({"name": "quiet"}))["activityArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let definition = json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": activity, "HeartbeatSeconds": 1, "TimeoutSeconds": 60, "End": true}}});
    let machine = call(
        &api,
        "CreateStateMachine",
        json!({"name": "hb", "definition": definition.to_string(), "roleArn": "arn:aws:iam::123456789012:role/r"}),
    )["stateMachineArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let arn = call(&api, "StartExecution", json!({"stateMachineArn": machine}))["executionArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let task = call(&api, "GetActivityTask", json!({"activityArn": activity}));
    assert!(task["taskToken"].is_string());
    // Well before TimeoutSeconds (60 s): the missed heartbeat ends it, with the error AWS
    // reports for both timeouts (the corpus records States.Timeout for heartbeats).
    let done = wait_done(&api, &arn);
    assert_eq!(
        (done["status"].as_str(), done["error"].as_str()),
        (Some("FAILED"), Some("States.Timeout"))
    );
    let late = api.handle(
        "SendTaskSuccess",
        json!({"taskToken": task["taskToken"], "output": "{}"}),
    );
    assert_eq!(
        late.map_err(|e| e.error_type),
        Err("TaskTimedOut".to_string())
    );
    api.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

/// An invoker that answers only when its gate opens (a Lambda still running at the crash).
struct Gated {
    gate: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl cairn_runtime::TaskInvoker for Gated {
    fn invoke(&self, _request: &cairn_runtime::TaskRequest) -> cairn_runtime::TaskOutcome {
        if let Ok(gate) = self.gate.lock() {
            let _ = gate.recv();
        }
        cairn_runtime::TaskOutcome::now(Ok(json!({"from": "the first process"})))
    }
}

struct Answers;

impl cairn_runtime::TaskInvoker for Answers {
    fn invoke(&self, _request: &cairn_runtime::TaskRequest) -> cairn_runtime::TaskOutcome {
        cairn_runtime::TaskOutcome::now(Ok(json!({"from": "the second process"})))
    }
}

#[test]
fn an_invocation_in_flight_at_a_crash_is_dispatched_again_and_started_once() {
    let store: Arc<cairn_store::MemoryStore> = Arc::new(cairn_store::MemoryStore::new());
    let (open_gate, gate) = std::sync::mpsc::channel();
    let gated = Gated {
        gate: std::sync::Mutex::new(gate),
    };
    let first = Api::new(
        store.clone(),
        Config {
            invoker: Arc::new(gated),
            ..Config::default()
        },
    );
    let definition = json!({"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "End": true}}});
    let machine = call(
        &first,
        "CreateStateMachine",
        json!({"name": "lambda", "definition": definition.to_string(), "roleArn": "arn:aws:iam::123456789012:role/r"}),
    )["stateMachineArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let arn = call(
        &first,
        "StartExecution",
        json!({"stateMachineArn": machine}),
    )["executionArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Wait until the first process has started the invocation, then it "dies".
    for _ in 0..200 {
        let history = call(&first, "GetExecutionHistory", json!({"executionArn": arn}));
        if history["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["type"] == "LambdaFunctionStarted"))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    first.shutdown();

    let second = Api::new(
        store.clone(),
        Config {
            invoker: Arc::new(Answers),
            ..Config::default()
        },
    );
    assert_eq!(second.recover(), Ok(1));
    let done = wait_done(&second, &arn);
    assert_eq!(done["output"], "{\"from\":\"the second process\"}");
    // The first process's late answer changes nothing.
    let _ = open_gate.send(());
    std::thread::sleep(Duration::from_millis(100));
    let history = call(&second, "GetExecutionHistory", json!({"executionArn": arn}));
    let types: Vec<&str> = history["events"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["type"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    second.shutdown();
}

/// A server whose Lambda functions are all missing, so a task that is not mocked fails.
fn open_mocked(dir: &Path) -> Api {
    let mocks = cairn_runtime::MockConfig::from_json(&json!({
        "StateMachines": {"mocked": {"TestCases": {"Happy": {"Work": "WorkOk"}}}},
        "MockedResponses": {"WorkOk": {"0": {"Return": {"ok": 1}}}}
    }))
    .expect("a valid mock configuration");
    let missing = cairn_runtime::ScriptedLambda::from_json(&json!([]), "us-east-1", "123456789012")
        .expect("an empty function list");
    let registry = Arc::new(cairn_runtime::MockRegistry::new(mocks, Arc::new(missing)));
    open_with(
        dir,
        Config {
            invoker: registry.clone(),
            mocks: Some(registry),
            ..Config::default()
        },
    )
}

#[test]
fn a_mocked_execution_stays_mocked_across_a_restart() {
    let dir = data_dir("mocked");
    let first = open_mocked(&dir);
    let definition = json!({"StartAt": "Nap", "States": {
        "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Work"},
        "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work", "End": true}}});
    let machine = call(
        &first,
        "CreateStateMachine",
        json!({"name": "mocked", "definition": definition.to_string(), "roleArn": "arn:aws:iam::123456789012:role/r"}),
    )["stateMachineArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let arn = call(
        &first,
        "StartExecution",
        json!({"stateMachineArn": format!("{machine}#Happy"), "name": "happy"}),
    )["executionArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // The server goes away before the mocked task is reached.
    first.shutdown();
    drop(first);

    let second = open_mocked(&dir);
    assert_eq!(second.recover(), Ok(1));
    let done = wait_done(&second, &arn);
    assert_eq!(
        (done["status"].as_str(), done["output"].as_str()),
        (Some("SUCCEEDED"), Some("{\"ok\":1}")),
        "the task after the restart is answered by the test case's mock: {done}"
    );
    second.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_map_runs_child_executions_finish_their_parent_after_a_restart() {
    let dir = data_dir("map-children");
    let first = open(&dir);
    let definition = json!({"StartAt": "M", "States": {"M": {
    "Type": "Map", "End": true, "MaxConcurrency": 2, "Label": "each",
    "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Nap",
        "States": {
            "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Double"},
            "Double": {"Type": "Pass", "Parameters": {"d.$": "States.MathAdd($, $)"}, "End": true}
        }
    }}}});
    let machine = call(
        &first,
        "CreateStateMachine",
        json!({"name": "children", "definition": definition.to_string(), "roleArn": "arn:aws:iam::123456789012:role/r"}),
    )["stateMachineArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let parent = call(
        &first,
        "StartExecution",
        json!({"stateMachineArn": machine, "name": "parent", "input": "[1, 2, 3]"}),
    )["executionArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // The server goes away once its first two children are stored, waiting on their timers.
    let run = loop {
        let runs = call(&first, "ListMapRuns", json!({"executionArn": parent}));
        if let Some(run) = runs["mapRuns"][0]["mapRunArn"].as_str() {
            break run.to_string();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let listed = call(&first, "ListExecutions", json!({"mapRunArn": run}));
    let children: Vec<String> = listed["executions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["executionArn"].as_str().map(str::to_string))
        .collect();
    assert_eq!(children.len(), 2, "{listed}");
    for child in &children {
        for attempt in 0.. {
            if first
                .handle("DescribeExecution", json!({"executionArn": child}))
                .is_ok()
            {
                break;
            }
            assert!(attempt < 500, "{child} was never stored");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    first.shutdown();
    drop(first);

    let second = open(&dir);
    assert_eq!(second.recover(), Ok(3), "the parent and its two children");
    let done = wait_done(&second, &parent);
    assert_eq!(
        (done["status"].as_str(), done["output"].as_str()),
        (Some("SUCCEEDED"), Some("[{\"d\":2},{\"d\":4},{\"d\":6}]")),
        "{done}"
    );
    for child in &children {
        assert_eq!(wait_done(&second, child)["status"], "SUCCEEDED");
        assert_eq!(entered(&second, child), ["Nap", "Double"]);
    }
    second.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
