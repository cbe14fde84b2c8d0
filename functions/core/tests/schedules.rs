//! The schedule function's handler against DynamoDB Local: a Scheduler schedule's start of a
//! Standard and of an Express state machine, a redelivered firing, a schedule rule's event,
//! and a target that does not exist. Messages go to an in-memory sink (the bus and queues are
//! emulator.rs's business); the executions and their names are in the real table.
//!
//! Needs DynamoDB Local (CAIRN_TEST_DYNAMODB, set by tests/serverless/run.sh). Without it each
//! test fails when CAIRN_REQUIRE_EMULATORS=1 and otherwise prints `SKIPPED: <reason>`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use cairn_runtime::{SystemClock, TaskInvoker, TaskOutcome, TaskRequest};
use cairn_serverless::outbox::{Outgoing, Sink};
use cairn_serverless::schedule::{handle_trigger, ScheduleTarget, ScheduleTrigger};
use cairn_serverless::{Engine, EngineError, Message, Outbox, Settings};
use cairn_store::ExecutionRecord;
use cairn_store_dynamodb::DynamoStore;
use serde_json::{json, Value};

mod support;
use support::emulators;

const ROLE: &str = "arn:aws:iam::123456789012:role/cairn";

/// Records every task's input and echoes it.
#[derive(Default)]
struct Recorder {
    inputs: Mutex<Vec<Value>>,
}

impl TaskInvoker for Recorder {
    fn invoke(&self, request: &TaskRequest) -> TaskOutcome {
        self.inputs
            .lock()
            .expect("recorder")
            .push(request.input.clone());
        TaskOutcome::now(Ok(request.input.clone()))
    }
}

/// Keeps what the engine sends, and the asynchronous Express executions it queues.
#[derive(Default)]
struct Kept(Mutex<Vec<Outgoing>>, Mutex<Vec<Message>>);

impl Sink for Kept {
    fn send(&self, outgoing: Vec<Outgoing>, _now_ms: i64) -> Result<(), EngineError> {
        self.0.lock().expect("sink").extend(outgoing);
        Ok(())
    }

    fn queue_express(&self, message: &Message) -> Result<(), EngineError> {
        self.1.lock().expect("sink").push(message.clone());
        Ok(())
    }
}

struct Harness {
    engine: Engine,
    api: cairn_api::Api,
    recorder: Arc<Recorder>,
    sent: Arc<Kept>,
}

impl Harness {
    async fn new() -> Harness {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let table = format!(
            "cairn-schedules-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let store = DynamoStore::from_env(&table).await;
        store.create_table().await.expect("table");
        let settings = Settings {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            ..Settings::default()
        };
        let sent = Arc::new(Kept::default());
        let recorder = Arc::new(Recorder::default());
        let engine = Engine::new(
            Arc::new(store),
            Outbox::with_sink(settings, sent.clone()),
            recorder.clone(),
            Arc::new(SystemClock),
        );
        let api = cairn_serverless::shared_api(&engine);
        Harness {
            engine,
            api,
            recorder,
            sent,
        }
    }

    async fn create_machine(&self, name: &str, definition: Value, kind: &str) -> String {
        let api = self.api.clone();
        let request = json!({"name": name, "definition": definition.to_string(),
            "roleArn": ROLE, "type": kind});
        let out = tokio::task::spawn_blocking(move || api.handle("CreateStateMachine", request))
            .await
            .expect("join")
            .expect("CreateStateMachine");
        out["stateMachineArn"].as_str().expect("arn").to_string()
    }

    async fn record(&self, arn: &str) -> ExecutionRecord {
        self.engine
            .store
            .get_execution(arn)
            .await
            .expect("get")
            .expect("exists")
            .0
    }

    async fn fire(&self, trigger: Value, target: Option<&ScheduleTarget>) -> Result<Value, String> {
        let trigger: ScheduleTrigger = serde_json::from_value(trigger).expect("trigger");
        handle_trigger(&self.engine, &self.api, target, trigger)
            .await
            .map_err(|e| e.to_string())
    }
}

fn sample() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/schedule.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("json")
}

fn status_changes(h: &Harness) -> Vec<String> {
    h.sent
        .0
        .lock()
        .expect("sink")
        .iter()
        .filter_map(|o| match o {
            Outgoing::StatusChange { detail, .. } => detail["status"].as_str().map(String::from),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_firing_starts_a_standard_execution_once() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let machine = h
        .create_machine(
            "cairn-local",
            json!({"StartAt": "Go", "States": {"Go": {"Type": "Pass", "End": true}}}),
            "STANDARD",
        )
        .await;
    let mut firing = sample();
    firing["stateMachineArn"] = json!(machine);
    let out = h.fire(firing.clone(), None).await.expect("started");
    let arn = out["executionArn"]
        .as_str()
        .expect("executionArn")
        .to_string();
    assert!(
        arn.ends_with(":execution:cairn-local:cairn-nightly-20251125T060000Z"),
        "{arn}"
    );
    let record = h.record(&arn).await;
    assert_eq!(record.status, "SUCCEEDED");
    assert_eq!(record.summary["input"], json!("{\"report\":\"daily\"}"));
    assert_eq!(status_changes(&h), ["RUNNING", "SUCCEEDED"]);

    // The same firing again (a Lambda or Scheduler retry): nothing new starts, and it is not
    // an error that would send it to the dead-letter queue.
    let again = h.fire(firing.clone(), None).await.expect("redelivery");
    assert_eq!(again["alreadyStarted"], json!(true), "{again}");
    assert_eq!(status_changes(&h).len(), 2);

    // The next firing is a new execution.
    firing["scheduledTime"] = json!("2025-11-26T06:00:00Z");
    let next = h.fire(firing, None).await.expect("next firing");
    assert!(next["executionArn"]
        .as_str()
        .expect("arn")
        .ends_with(":cairn-nightly-20251126T060000Z"));
    assert_eq!(status_changes(&h).len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_firing_runs_an_express_execution_to_its_end() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let machine = h
        .create_machine(
            "express-report",
            json!({"StartAt": "Work", "States": {"Work": {"Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:report", "End": true}}}),
            "EXPRESS",
        )
        .await;
    let firing = json!({"stateMachineArn": machine, "input": "{\"n\": 7}",
        "scheduleArn": "arn:aws:scheduler:us-east-1:123456789012:schedule/default/every-minute",
        "scheduledTime": "2025-11-25T06:01:00Z"});
    let out = h.fire(firing, None).await.expect("started");
    assert!(out["executionArn"]
        .as_str()
        .expect("arn")
        .contains(":express:express-report:every-minute-20251125T060100Z"));
    // Queued, not run inside the invocation: the Express queue's function runs it.
    assert!(h.recorder.inputs.lock().expect("recorder").is_empty());
    let queued: Vec<Message> = std::mem::take(&mut *h.sent.1.lock().expect("sink"));
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].execution_arn(), out["executionArn"]);
    let applied = h.engine.handle(queued[0].clone()).await.expect("run");
    assert_eq!(
        applied,
        cairn_serverless::Applied::Applied(cairn_interpreter::Status::Succeeded)
    );
    // The task ran with the schedule's input.
    assert_eq!(
        *h.recorder.inputs.lock().expect("recorder"),
        vec![json!({"n": 7})]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_target_fails_so_the_firing_reaches_the_dead_letter_queue() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let error = h.fire(sample(), None).await.expect_err("no such machine");
    assert_eq!(
        error,
        "StateMachineDoesNotExist: State Machine Does Not Exist: 'arn:aws:states:us-east-1:123456789012:stateMachine:cairn-local'"
    );
    // A rule's event without STATE_MACHINE_ARN says what is missing.
    let rule = json!({"version": "0", "id": "e-1", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2025-11-25T06:00:00Z",
        "region": "us-east-1", "resources": [], "detail": {}});
    let error = h.fire(rule.clone(), None).await.expect_err("no target");
    assert!(error.contains("STATE_MACHINE_ARN is not set"), "{error}");
    // With one, the rule's event starts it, named after the event.
    let machine = h
        .create_machine(
            "by-rule",
            json!({"StartAt": "Go", "States": {"Go": {"Type": "Pass", "End": true}}}),
            "STANDARD",
        )
        .await;
    let target = ScheduleTarget {
        state_machine_arn: machine,
        input: "{}".into(),
    };
    let out = h.fire(rule, Some(&target)).await.expect("rule start");
    assert!(out["executionArn"]
        .as_str()
        .expect("arn")
        .ends_with(":execution:by-rule:schedule-e-1"));
}
