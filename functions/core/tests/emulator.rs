//! The functions' handlers in-process against DynamoDB Local and moto server, through the
//! real SDK clients. Advance events travel bus -> rule -> SQS queue, which the test drains
//! into the advance handler, as Lambda's EventBridge trigger would deliver them; timers go
//! through the SQS timer queue with real delays.
//!
//! Needs CAIRN_TEST_DYNAMODB and CAIRN_TEST_MOTO (tests/serverless/run.sh sets them after
//! starting the emulators). Without them each test fails when CAIRN_REQUIRE_EMULATORS=1 (set by
//! tests/run.sh and tests/serverless/run.sh, so the README's test command never passes without
//! having run them), and otherwise prints `SKIPPED: <reason>` and returns (a test run alone).

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::SqsEvent;
use cairn_interpreter::HistoryEvent;
use cairn_runtime::{SystemClock, TaskFailure, TaskInvoker, TaskOutcome, TaskRequest};
use cairn_serverless::advance::{handle_event, handle_sqs};
use cairn_serverless::api::handle_request;
use cairn_serverless::schedule::{handle_schedule, ScheduleTarget};
use cairn_serverless::{Applied, Engine, Message, Outbox, Settings};
use cairn_store::{ExecutionRecord, HistoryQuery};
use cairn_store_dynamodb::DynamoStore;
use serde_json::{json, Value};

mod support;
use support::{emulators, queue};

const ROLE: &str = "arn:aws:iam::123456789012:role/cairn";

/// Lambda functions played in-process by name: `echo` returns its input, `flaky` fails its
/// first two calls, `boom` always fails.
#[derive(Default)]
struct TestLambda {
    flaky_calls: AtomicU32,
}

impl TaskInvoker for TestLambda {
    fn invoke(&self, request: &TaskRequest) -> TaskOutcome {
        let function = request.resource.rsplit(':').next().unwrap_or("");
        TaskOutcome::now(match function {
            "echo" => Ok(request.input.clone()),
            "flaky" if self.flaky_calls.fetch_add(1, Ordering::SeqCst) < 2 => {
                Err(TaskFailure::new("Flaky.Busy", "try again"))
            }
            "flaky" => Ok(json!({"ok": true})),
            _ => Err(TaskFailure::new("Boom.Error", "always fails")),
        })
    }
}

fn lambda(name: &str) -> String {
    format!("arn:aws:lambda:us-east-1:123456789012:function:{name}")
}

struct Harness {
    config: aws_config::SdkConfig,
    settings: Settings,
    table: String,
    /// The payload bucket (moto) every store of the harness offloads large items to.
    bucket: String,
    advance_queue: String,
    status_queue: String,
    alert_queue: String,
    sqs: aws_sdk_sqs::Client,
    invoker: Arc<TestLambda>,
    engine: Engine,
    api: cairn_api::Api,
}

/// A store on `table` whose large items go to `bucket`, as the template's functions have.
fn payload_store(config: &aws_config::SdkConfig, table: &str, bucket: &str) -> DynamoStore {
    DynamoStore::with_client(cairn_store_dynamodb::Client::new(config), table)
        .with_payload_bucket(cairn_store_dynamodb::s3_client(config), bucket)
}

impl Harness {
    async fn new() -> Harness {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let id = format!(
            "{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        let events = aws_sdk_eventbridge::Client::new(&config);
        let sns = aws_sdk_sns::Client::new(&config);

        let bus = format!("cairn-{id}");
        events
            .create_event_bus()
            .name(&bus)
            .send()
            .await
            .expect("bus");
        let (timer_url, timer_arn) = queue(&sqs, &format!("timers-{id}")).await;
        let (advance_url, advance_arn) = queue(&sqs, &format!("advance-{id}")).await;
        let (status_url, status_arn) = queue(&sqs, &format!("status-{id}")).await;
        let (alert_url, alert_arn) = queue(&sqs, &format!("alerts-{id}")).await;
        let (express_url, _) = queue(&sqs, &format!("express-{id}")).await;
        for (rule, pattern, target) in [
            (
                "advance",
                json!({"source": [cairn_serverless::ADVANCE_SOURCE], "detail-type": [cairn_serverless::ADVANCE_DETAIL_TYPE]}),
                advance_arn,
            ),
            (
                "status",
                json!({"source": [cairn_serverless::STATUS_SOURCE], "detail-type": [cairn_serverless::STATUS_DETAIL_TYPE]}),
                status_arn,
            ),
        ] {
            events
                .put_rule()
                .name(rule)
                .event_bus_name(&bus)
                .event_pattern(pattern.to_string())
                .send()
                .await
                .expect("rule");
            events
                .put_targets()
                .rule(rule)
                .event_bus_name(&bus)
                .targets(
                    aws_sdk_eventbridge::types::Target::builder()
                        .id("queue")
                        .arn(target)
                        .build()
                        .expect("target"),
                )
                .send()
                .await
                .expect("targets");
        }
        let topic = sns
            .create_topic()
            .name(format!("alerts-{id}"))
            .send()
            .await
            .expect("topic")
            .topic_arn
            .unwrap_or_default();
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(alert_arn)
            .send()
            .await
            .expect("subscribe");

        let settings = Settings {
            bus_name: bus,
            alert_topic_arn: topic,
            timer_queue_url: timer_url,
            timer_queue_arn: timer_arn,
            scheduler_role_arn: ROLE.replace(":role/cairn", ":role/cairn-scheduler"),
            scheduler_group: "default".into(),
            express_queue_url: express_url,
            region: "us-east-1".into(),
            account: "123456789012".into(),
        };
        let table = format!("cairn-{id}");
        let bucket = format!("payloads-{id}");
        cairn_store_dynamodb::s3_client(&config)
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("payload bucket");
        let store = payload_store(&config, &table, &bucket);
        store.create_table().await.expect("table");
        let invoker = Arc::new(TestLambda::default());
        let engine = Engine::new(
            Arc::new(store),
            Outbox::new(&config, settings.clone()),
            invoker.clone(),
            Arc::new(SystemClock),
        );
        let api = cairn_serverless::shared_api(&engine);
        Harness {
            config,
            settings,
            table,
            bucket,
            advance_queue: advance_url,
            status_queue: status_url,
            alert_queue: alert_url,
            sqs,
            invoker,
            engine,
            api,
        }
    }

    /// A second engine on the same resources: another Lambda container.
    fn other_engine(&self) -> Engine {
        self.engine_with(self.invoker.clone())
    }

    fn engine_with(&self, invoker: Arc<dyn TaskInvoker>) -> Engine {
        let store = payload_store(&self.config, &self.table, &self.bucket);
        Engine::new(
            Arc::new(store),
            Outbox::new(&self.config, self.settings.clone()),
            invoker,
            Arc::new(SystemClock),
        )
    }

    async fn create_machine(&self, name: &str, definition: Value, kind: &str) -> String {
        let api = self.api.clone();
        let request = json!({
            "name": name,
            "definition": definition.to_string(),
            "roleArn": ROLE,
            "type": kind,
        });
        let out = tokio::task::spawn_blocking(move || api.handle("CreateStateMachine", request))
            .await
            .expect("join")
            .expect("CreateStateMachine");
        out["stateMachineArn"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn start(&self, machine: &str, input: Value) -> String {
        self.engine
            .start(machine, None, Some(&input.to_string()))
            .await
            .expect("start")
            .execution_arn
    }

    async fn receive(&self, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        let messages = out.messages.unwrap_or_default();
        for m in &messages {
            if let Some(handle) = &m.receipt_handle {
                self.sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .expect("delete");
            }
        }
        messages
    }

    /// The advance events waiting on the rule's queue, as the function receives them.
    async fn advance_events(&self) -> Vec<EventBridgeEvent<Message>> {
        self.receive(&self.advance_queue)
            .await
            .into_iter()
            .map(|m| serde_json::from_str(m.body.as_deref().unwrap_or("")).expect("advance event"))
            .collect()
    }

    /// The due timer messages, as the SQS trigger delivers them.
    async fn timer_batch(&self) -> SqsEvent {
        let records: Vec<Value> = self
            .receive(&self.settings.timer_queue_url)
            .await
            .into_iter()
            .map(|m| json!({"messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body, "eventSource": "aws:sqs"}))
            .collect();
        serde_json::from_value(json!({ "Records": records })).expect("sqs event")
    }

    /// The queued asynchronous Express executions, as the Express queue's trigger delivers
    /// them.
    async fn express_batch(&self) -> SqsEvent {
        let records: Vec<Value> = self
            .receive(&self.settings.express_queue_url)
            .await
            .into_iter()
            .map(|m| json!({"messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body, "eventSource": "aws:sqs"}))
            .collect();
        serde_json::from_value(json!({ "Records": records })).expect("sqs event")
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

    /// Drains both queues into the advance handler until the execution ends.
    async fn run_to_end(&self, arn: &str) -> ExecutionRecord {
        self.run_to_end_on(&self.engine, arn).await
    }

    /// [`Harness::run_to_end`] with the events handled by `engine` (another invoker).
    async fn run_to_end_on(&self, engine: &Engine, arn: &str) -> ExecutionRecord {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let record = self.record(arn).await;
            if record.status != "RUNNING" {
                return record;
            }
            assert!(Instant::now() < deadline, "{arn} still running after 60 s");
            let mut delivered = 0;
            for event in self.advance_events().await {
                handle_event(engine, event).await.expect("advance");
                delivered += 1;
            }
            let batch = self.timer_batch().await;
            if !batch.records.is_empty() {
                delivered += batch.records.len();
                let response = handle_sqs(engine, batch).await;
                assert!(response.batch_item_failures.is_empty());
            }
            if delivered == 0 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    async fn history(&self, arn: &str) -> Vec<HistoryEvent> {
        self.engine
            .store
            .read_history(
                arn,
                &HistoryQuery {
                    after_id: None,
                    limit: 10_000,
                    reverse: false,
                },
            )
            .await
            .expect("history")
            .iter()
            .map(|e| serde_json::from_str(&e.body).expect("history event"))
            .collect()
    }

    async fn count(&self, arn: &str, event_type: &str) -> usize {
        self.history(arn)
            .await
            .iter()
            .filter(|e| e.event_type == event_type)
            .count()
    }

    /// Status-change events for `arn` seen on the status queue within a few seconds.
    async fn status_changes(&self, arn: &str, want: usize) -> Vec<Value> {
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while seen.len() < want && Instant::now() < deadline {
            for m in self.receive(&self.status_queue).await {
                let event: Value =
                    serde_json::from_str(m.body.as_deref().unwrap_or("")).expect("event");
                if event["detail"]["executionArn"] == arn {
                    seen.push(event);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        seen
    }

    async fn alerts(&self) -> Vec<Value> {
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(3);
        while seen.is_empty() && Instant::now() < deadline {
            for m in self.receive(&self.alert_queue).await {
                seen.push(
                    serde_json::from_str(m.body.as_deref().unwrap_or("")).expect("sns envelope"),
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        seen
    }
}

/// An API Gateway request like events/api-start-execution.json, for another path, target
/// and body.
fn api_request(
    path: &str,
    target: Option<&str>,
    body: Value,
) -> aws_lambda_events::apigw::ApiGatewayProxyRequest {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/api-start-execution.json");
    let mut request: Value =
        serde_json::from_str(&std::fs::read_to_string(file).expect("sample")).expect("json");
    request["path"] = json!(path);
    request["headers"] = match target {
        Some(action) => json!({"X-Amz-Target": format!("AWSStepFunctions.{action}")}),
        None => json!({}),
    };
    request["multiValueHeaders"] = json!({});
    request["body"] = json!(body.to_string());
    serde_json::from_value(request).expect("request")
}

fn text_body(response: &aws_lambda_events::apigw::ApiGatewayProxyResponse) -> Value {
    match &response.body {
        Some(aws_lambda_events::encodings::Body::Text(text)) => {
            serde_json::from_str(text).expect("json")
        }
        other => panic!("unexpected body {other:?}"),
    }
}

fn output(record: &ExecutionRecord) -> Value {
    record.summary["output"]
        .as_str()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_and_choice_chain_finishes_in_one_write() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let machine = h
        .create_machine(
            "chain",
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Result": {"n": 2}, "Next": "Pick"},
                "Pick": {"Type": "Choice", "Choices": [
                    {"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}], "Default": "Small"},
                "Big": {"Type": "Pass", "Result": "big", "End": true},
                "Small": {"Type": "Pass", "Result": "small", "End": true}}}),
            "STANDARD",
        )
        .await;
    let arn = h.start(&machine, json!({})).await;
    let record = h.record(&arn).await;
    assert_eq!(record.status, "SUCCEEDED");
    assert_eq!(output(&record), json!("big"));
    assert_eq!(h.engine.writes.load(Ordering::Relaxed), 1);
    let changes = h.status_changes(&arn, 2).await;
    let statuses: Vec<&str> = changes
        .iter()
        .filter_map(|e| e["detail"]["status"].as_str())
        .collect();
    assert_eq!(statuses, ["RUNNING", "SUCCEEDED"]);
    assert_eq!(
        changes[1]["detail-type"],
        "Step Functions Execution Status Change"
    );
    assert_eq!(changes[1]["detail"]["output"], "\"big\"");
    // Nothing failed: no alert.
    assert!(h.alerts().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_map_and_parallel_run_to_completion_through_the_queues() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let machine = h
        .create_machine(
            "flow",
            json!({"StartAt": "Nap", "States": {
                "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Each"},
                "Each": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.doubled",
                    "Iterator": {"StartAt": "Call", "States": {
                        "Call": {"Type": "Task", "Resource": lambda("echo"), "End": true}}},
                    "Next": "Both"},
                "Both": {"Type": "Parallel", "Branches": [
                    {"StartAt": "L", "States": {"L": {"Type": "Pass", "Result": "left", "End": true}}},
                    {"StartAt": "R", "States": {"R": {"Type": "Task", "Resource": lambda("echo"), "InputPath": "$.doubled", "End": true}}}],
                    "End": true}}}),
            "STANDARD",
        )
        .await;
    let arn = h.start(&machine, json!({"items": [1, 2, 3]})).await;
    let started = Instant::now();
    let record = h.run_to_end(&arn).await;
    assert_eq!(record.status, "SUCCEEDED", "{:?}", record.summary);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the Wait waited"
    );
    assert_eq!(output(&record), json!(["left", [1, 2, 3]]));
    assert_eq!(h.count(&arn, "WaitStateExited").await, 1);
    assert_eq!(h.count(&arn, "LambdaFunctionSucceeded").await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_backs_off_through_the_timer_queue_and_catch_recovers() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let machine = h
        .create_machine(
            "retry",
            json!({"StartAt": "Flaky", "States": {
                "Flaky": {"Type": "Task", "Resource": lambda("flaky"), "ResultPath": "$.flaky",
                    "Retry": [{"ErrorEquals": ["Flaky.Busy"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 1}],
                    "Next": "Boom"},
                "Boom": {"Type": "Task", "Resource": lambda("boom"),
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Recovered"}],
                    "End": true},
                "Recovered": {"Type": "Pass", "End": true}}}),
            "STANDARD",
        )
        .await;
    let arn = h.start(&machine, json!({})).await;
    let record = h.run_to_end(&arn).await;
    assert_eq!(record.status, "SUCCEEDED", "{:?}", record.summary);
    let out = output(&record);
    assert_eq!(out["flaky"], json!({"ok": true}));
    assert_eq!(out["caught"]["Error"], "Boom.Error");
    assert_eq!(out["caught"]["Cause"], "always fails");
    assert_eq!(h.count(&arn, "LambdaFunctionFailed").await, 3);
    assert_eq!(h.count(&arn, "LambdaFunctionSucceeded").await, 1);
    assert_eq!(h.invoker.flaky_calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_and_reordered_deliveries_change_nothing_twice() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let machine = h
        .create_machine(
            "fanout",
            json!({"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": lambda("echo"), "Parameters": {"v": "a"}, "End": true}}},
                {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": lambda("echo"), "Parameters": {"v": "b"}, "End": true}}}]}}}),
            "STANDARD",
        )
        .await;
    let arn = h.start(&machine, json!({})).await;
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while events.len() < 2 && Instant::now() < deadline {
        events.extend(h.advance_events().await);
    }
    assert_eq!(events.len(), 2, "one run-task event per branch");
    // Reordered: the second branch's task first.
    events.reverse();
    let first = events[0].clone();
    assert_eq!(
        handle_event(&h.engine, first.clone())
            .await
            .expect("advance"),
        Applied::Applied(cairn_interpreter::Status::Running)
    );
    let before = h.history(&arn).await.len();
    // Duplicate delivery of the same event: the task is no longer open.
    assert_eq!(
        handle_event(&h.engine, first.clone())
            .await
            .expect("advance"),
        Applied::Duplicate
    );
    assert_eq!(h.history(&arn).await.len(), before);
    assert_eq!(
        handle_event(&h.engine, events[1].clone())
            .await
            .expect("advance"),
        Applied::Applied(cairn_interpreter::Status::Succeeded)
    );
    let record = h.record(&arn).await;
    assert_eq!(output(&record), json!([{"v": "a"}, {"v": "b"}]));
    // A late duplicate after the end.
    assert_eq!(
        handle_event(&h.engine, first).await.expect("advance"),
        Applied::NotRunning
    );
    assert_eq!(h.count(&arn, "LambdaFunctionScheduled").await, 2);
    assert_eq!(h.count(&arn, "LambdaFunctionSucceeded").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_racing_advances_of_one_timer_apply_it_once() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let machine = h
        .create_machine(
            "race",
            json!({"StartAt": "W1", "States": {
                "W1": {"Type": "Wait", "Seconds": 1, "Next": "W2"},
                "W2": {"Type": "Wait", "Seconds": 1, "End": true}}}),
            "STANDARD",
        )
        .await;
    let arn = h.start(&machine, json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut batch = h.timer_batch().await;
    while batch.records.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        batch = h.timer_batch().await;
    }
    let message: Message =
        serde_json::from_str(batch.records[0].body.as_deref().unwrap_or("")).expect("timer");
    let other = h.other_engine();
    let (a, b) = tokio::join!(h.engine.handle(message.clone()), other.handle(message));
    let mut results = [a.expect("first"), b.expect("second")];
    results.sort_by_key(|r| format!("{r:?}"));
    assert_eq!(
        results,
        [
            Applied::Applied(cairn_interpreter::Status::Running),
            Applied::Duplicate
        ]
    );
    assert_eq!(h.count(&arn, "WaitStateExited").await, 1);
    let record = h.run_to_end(&arn).await;
    assert_eq!(record.status, "SUCCEEDED");
    assert_eq!(h.count(&arn, "WaitStateExited").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_execution_alerts_through_sns_and_the_bus() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let machine = h
        .create_machine(
            "doomed",
            json!({"StartAt": "Nap", "States": {
                "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Die"},
                "Die": {"Type": "Fail", "Error": "Order.Rejected", "Cause": "out of stock"}}}),
            "STANDARD",
        )
        .await;
    let arn = h.start(&machine, json!({"order": 7})).await;
    let record = h.run_to_end(&arn).await;
    assert_eq!(record.status, "FAILED");
    let alerts = h.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        alerts[0]["Subject"],
        "Cairn execution FAILED: ".to_string() + &record.name
    );
    let detail: Value =
        serde_json::from_str(alerts[0]["Message"].as_str().unwrap_or("")).expect("detail");
    assert_eq!(detail["executionArn"], arn.as_str());
    assert_eq!(detail["error"], "Order.Rejected");
    assert_eq!(detail["cause"], "out of stock");
    assert_eq!(detail["input"], "{\"order\":7}");
    let changes = h.status_changes(&arn, 2).await;
    let last = changes.last().expect("status change");
    assert_eq!(last["source"], cairn_serverless::STATUS_SOURCE);
    assert_eq!(last["detail"]["status"], "FAILED");
    assert_eq!(last["detail"]["stopDate"], json!(record.stop_ms));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_wait_becomes_a_one_time_schedule_and_stop_aborts_with_an_alert() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let machine = h
        .create_machine(
            "sleepy",
            json!({"StartAt": "Hour", "States": {"Hour": {"Type": "Wait", "Seconds": 3600, "End": true}}}),
            "STANDARD",
        )
        .await;
    let arn = h.start(&machine, json!({})).await;
    let scheduler = aws_sdk_scheduler::Client::new(&h.config);
    let schedules = scheduler
        .list_schedules()
        .send()
        .await
        .expect("list schedules");
    // Other tests share this moto server and create and delete schedules of their own in
    // other groups meanwhile: read each in its group, and pass over one deleted since.
    let names: Vec<(String, Option<String>)> = schedules
        .schedules()
        .iter()
        .filter_map(|s| {
            s.name()
                .map(|name| (name.to_string(), s.group_name().map(str::to_string)))
        })
        .collect();
    let mut found = None;
    for (name, group) in names {
        let s = match scheduler
            .get_schedule()
            .name(&name)
            .set_group_name(group)
            .send()
            .await
        {
            Ok(s) => s,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                continue
            }
            Err(error) => panic!("get schedule {name}: {error:?}"),
        };
        if s.target()
            .and_then(|t| t.input())
            .is_some_and(|i| i.contains(&arn))
        {
            found = Some(s);
        }
    }
    let schedule = found.expect("a schedule for the hour-long wait");
    let expected =
        cairn_serverless::outbox::utc_seconds(h.record(&arn).await.start_ms + 3_600_000 + 999);
    assert_eq!(
        schedule.schedule_expression(),
        Some(format!("at({expected})").as_str())
    );
    assert_eq!(
        schedule.target().map(|t| t.arn()),
        Some(h.settings.timer_queue_arn.as_str())
    );

    let request = api_request(
        "/StopExecution",
        None,
        json!({"executionArn": arn, "error": "Ops.Cancel", "cause": "by hand"}),
    );
    let response = handle_request(&h.engine, &h.api, request).await;
    assert_eq!(response.status_code, 200);
    let record = h.record(&arn).await;
    assert_eq!(record.status, "ABORTED");
    let alerts = h.alerts().await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        alerts[0]["Subject"],
        "Cairn execution ABORTED: ".to_string() + &record.name
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_function_starts_one_execution_per_scheduled_event() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let machine = h
        .create_machine(
            "nightly",
            json!({"StartAt": "Go", "States": {"Go": {"Type": "Pass", "End": true}}}),
            "STANDARD",
        )
        .await;
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/schedule-rule.json");
    let event: EventBridgeEvent<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("event");
    let target = ScheduleTarget {
        state_machine_arn: machine,
        input: "{\"report\":\"daily\"}".into(),
    };
    let first = handle_schedule(&h.engine, &target, event.clone())
        .await
        .expect("start");
    assert!(first.created);
    assert!(first
        .execution_arn
        .ends_with(":execution:nightly:schedule-53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa"));
    let record = h.record(&first.execution_arn).await;
    assert_eq!(
        (record.status.as_str(), output(&record)),
        ("SUCCEEDED", json!({"report": "daily"}))
    );
    // A redelivery of the same scheduled event starts nothing: the name is taken and the
    // execution is over, so AWS's idempotency rule refuses it.
    let again = handle_schedule(&h.engine, &target, event).await;
    assert_eq!(
        again.err().map(|e| e.to_string()),
        Some(format!(
            "ExecutionAlreadyExists: Execution Already Exists: '{}'",
            first.execution_arn
        ))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_function_starts_asynchronously_and_synchronously() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let standard = h
        .create_machine(
            "orders",
            json!({"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 1, "End": true}}}),
            "STANDARD",
        )
        .await;
    let express = h
        .create_machine(
            "quote",
            json!({"StartAt": "Price", "States": {"Price": {"Type": "Pass", "Parameters": {"sku.$": "$.sku", "price": 10}, "End": true}}}),
            "EXPRESS",
        )
        .await;
    let sample = |file: &str| -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../events")
            .join(file);
        serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("json")
    };
    let mut start = sample("api-start-execution.json");
    start["body"] =
        json!({"stateMachineArn": standard, "name": "order-1042", "input": "{\"orderId\":1042}"})
            .to_string()
            .into();
    let response = handle_request(
        &h.engine,
        &h.api,
        serde_json::from_value(start.clone()).expect("request"),
    )
    .await;
    assert_eq!(response.status_code, 200);
    let body = text_body(&response);
    let arn = body["executionArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(arn.ends_with(":execution:orders:order-1042"));
    // Asynchronous: the answer came before the Wait ended.
    assert_eq!(h.record(&arn).await.status, "RUNNING");
    // The same request again while it runs is AWS's idempotent start.
    let again = handle_request(
        &h.engine,
        &h.api,
        serde_json::from_value(start).expect("request"),
    )
    .await;
    assert_eq!(again.status_code, 200);
    h.run_to_end(&arn).await;

    let describe = api_request("/", Some("DescribeExecution"), json!({"executionArn": arn}));
    let response = handle_request(&h.engine, &h.api, describe).await;
    let body = text_body(&response);
    assert_eq!(
        (response.status_code, body["status"].as_str()),
        (200, Some("SUCCEEDED"))
    );

    let mut sync = sample("api-start-sync-execution.json");
    sync["body"] = json!({"stateMachineArn": express, "input": "{\"sku\":\"A-1\"}"})
        .to_string()
        .into();
    let response = handle_request(
        &h.engine,
        &h.api,
        serde_json::from_value(sync).expect("request"),
    )
    .await;
    let body = text_body(&response);
    assert_eq!(response.status_code, 200, "{body}");
    assert_eq!(body["status"], "SUCCEEDED");
    assert_eq!(body["output"], "{\"sku\":\"A-1\",\"price\":10}");

    let missing = api_request(
        "/executions",
        None,
        json!({"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:nope"}),
    );
    let response = handle_request(&h.engine, &h.api, missing).await;
    assert_eq!(response.status_code, 400);
    assert_eq!(
        response.body,
        Some(aws_lambda_events::encodings::Body::Text(
            json!({"__type": "StateMachineDoesNotExist", "message": "State Machine Does Not Exist: 'arn:aws:states:us-east-1:123456789012:stateMachine:nope'"}).to_string()
        ))
    );
    // A malformed ARN is refused for its form first, as cairn serve and AWS refuse it.
    let malformed = api_request(
        "/executions",
        None,
        json!({"stateMachineArn": "arn:aws:states:us-east-1:123456789012:execution:nope"}),
    );
    let response = handle_request(&h.engine, &h.api, malformed).await;
    assert_eq!(response.status_code, 400);
    assert_eq!(text_body(&response)["__type"], "InvalidArn");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asynchronous_express_starts_answer_at_once_and_run_from_the_express_queue() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let express = h
        .create_machine(
            "ingest",
            json!({"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": lambda("flaky"),
                "Retry": [{"ErrorEquals": ["Flaky.Busy"], "IntervalSeconds": 1, "BackoffRate": 1}],
                "Next": "Nap"},
                "Nap": {"Type": "Wait", "Seconds": 1, "End": true}}}),
            "EXPRESS",
        )
        .await;
    let start = api_request(
        "/executions",
        None,
        json!({"stateMachineArn": express, "name": "batch-7", "input": "{\"n\":7}"}),
    );
    let response = handle_request(&h.engine, &h.api, start).await;
    let body = text_body(&response);
    assert_eq!(response.status_code, 200, "{body}");
    let arn = body["executionArn"].as_str().expect("arn").to_string();
    assert!(
        arn.starts_with("arn:aws:states:us-east-1:123456789012:express:ingest:batch-7:"),
        "{arn}"
    );
    assert!(body["startDate"].as_f64().is_some());
    // Nothing ran inside the API call: the task was not called.
    assert_eq!(h.invoker.flaky_calls.load(Ordering::SeqCst), 0);

    let mut batch = h.express_batch().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while batch.records.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        batch = h.express_batch().await;
    }
    assert_eq!(batch.records.len(), 1);
    let response = handle_sqs(&h.engine, batch).await;
    assert!(response.batch_item_failures.is_empty());
    // Two failures retried, then the answer: the task went through the engine's invoker.
    assert_eq!(h.invoker.flaky_calls.load(Ordering::SeqCst), 3);
    let changes = h.status_changes(&arn, 2).await;
    let statuses: Vec<&str> = changes
        .iter()
        .map(|e| e["detail"]["status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(statuses, ["RUNNING", "SUCCEEDED"]);
    let ended = &changes[1]["detail"];
    assert_eq!(ended["output"], "{\"ok\":true}");
    assert_eq!(ended["input"], "{\"n\":7}");
    assert_eq!(ended["stateMachineArn"], express.as_str());
    // AWS's detail fields, as cairn serve sends them.
    assert_eq!(ended["redriveCount"], 0);
    assert!(ended["stopDate"].as_i64() >= ended["startDate"].as_i64().map(|s| s + 1000));

    // A failing Express execution alerts as a Standard one does.
    let failing = h
        .create_machine(
            "ingest-broken",
            json!({"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": lambda("boom"), "End": true}}}),
            "EXPRESS",
        )
        .await;
    let start = api_request("/executions", None, json!({"stateMachineArn": failing}));
    let response = handle_request(&h.engine, &h.api, start).await;
    assert_eq!(response.status_code, 200);
    let arn = text_body(&response)["executionArn"]
        .as_str()
        .expect("arn")
        .to_string();
    let mut batch = h.express_batch().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while batch.records.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        batch = h.express_batch().await;
    }
    assert!(handle_sqs(&h.engine, batch)
        .await
        .batch_item_failures
        .is_empty());
    let changes = h.status_changes(&arn, 2).await;
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[1]["detail"]["status"], "FAILED");
    assert_eq!(changes[1]["detail"]["error"], "Boom.Error");
    let alerts = h.alerts().await;
    assert!(
        alerts
            .iter()
            .any(|a| a["Message"].as_str().is_some_and(|m| m.contains(&arn))),
        "{alerts:?}"
    );

    // A missing state machine is refused before anything is queued.
    let missing = api_request(
        "/executions",
        None,
        json!({"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:nope"}),
    );
    assert_eq!(
        handle_request(&h.engine, &h.api, missing).await.status_code,
        400
    );
}

/// Log events of a CloudWatch Logs group (moto), oldest first, as parsed messages.
async fn log_messages(
    log: &cairn_serverless::execution_log::ExecutionLog,
    group: &str,
) -> Vec<Value> {
    let out = log
        .call(
            "arn:aws:states:::aws-sdk:cloudwatchlogs:filterLogEvents",
            json!({"logGroupName": group}),
        )
        .await
        .expect("filterLogEvents");
    // The aws-sdk integrations answer in the SDK's PascalCase, as Step Functions does.
    out["Events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| serde_json::from_str(e["Message"].as_str().unwrap_or("")).expect("a JSON message"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execution_logs_reach_the_log_group_their_logging_configuration_names() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let log = Arc::new(cairn_serverless::execution_log::ExecutionLog::new(
        integrations(),
        "states/test/container-1",
    ));
    let engine = h.other_engine().with_execution_log(Arc::clone(&log));
    let mut machines = Vec::new();
    for (name, level, lambda_name) in [
        ("logged-all", "ALL", "flaky"),
        ("logged-errors", "ERROR", "boom"),
    ] {
        let group = format!("/cairn/{}/{name}", h.table);
        log.call(
            "arn:aws:states:::aws-sdk:cloudwatchlogs:createLogGroup",
            json!({"logGroupName": group}),
        )
        .await
        .expect("createLogGroup");
        let api = h.api.clone();
        let request = json!({
            "name": name,
            "definition": json!({"StartAt": "Call", "States": {"Call": {"Type": "Task",
                "Resource": lambda(lambda_name),
                "Retry": [{"ErrorEquals": ["Flaky.Busy"], "IntervalSeconds": 1, "BackoffRate": 1}],
                "End": true}}}).to_string(),
            "roleArn": ROLE,
            "loggingConfiguration": {"level": level, "includeExecutionData": level == "ALL",
                "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn":
                    format!("arn:aws:logs:us-east-1:123456789012:log-group:{group}:*")}}]},
        });
        let out = tokio::task::spawn_blocking(move || api.handle("CreateStateMachine", request))
            .await
            .expect("join")
            .expect("CreateStateMachine");
        machines.push((
            out["stateMachineArn"].as_str().expect("arn").to_string(),
            group,
        ));
    }

    let (machine, group) = &machines[0];
    let arn = engine
        .start(machine, None, Some("{\"n\":1}"))
        .await
        .expect("start")
        .execution_arn;
    assert_eq!(h.run_to_end_on(&engine, &arn).await.status, "SUCCEEDED");
    let logged = log_messages(&log, group).await;
    let types: Vec<&str> = logged
        .iter()
        .map(|m| m["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(types.first(), Some(&"ExecutionStarted"), "{types:?}");
    assert_eq!(types.last(), Some(&"ExecutionSucceeded"), "{types:?}");
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "LambdaFunctionFailed")
            .count(),
        2,
        "{types:?}"
    );
    assert!(logged.iter().all(|m| m["execution_arn"] == arn.as_str()));
    // includeExecutionData: the input is there, as AWS writes it.
    assert_eq!(logged[0]["details"]["input"], "{\"n\":1}");
    let ids: Vec<u64> = logged
        .iter()
        .map(|m| m["id"].as_str().and_then(|t| t.parse().ok()).expect("id"))
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    // ERROR logs only the failures, without execution data.
    let (machine, group) = &machines[1];
    let arn = engine
        .start(machine, None, Some("{\"secret\":1}"))
        .await
        .expect("start")
        .execution_arn;
    assert_eq!(h.run_to_end_on(&engine, &arn).await.status, "FAILED");
    let logged = log_messages(&log, group).await;
    let types: Vec<&str> = logged
        .iter()
        .map(|m| m["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(types, ["LambdaFunctionFailed", "ExecutionFailed"]);
    assert!(!logged.iter().any(|m| m.to_string().contains("secret")));
}

/// The integrations as a deployed function configures them (on the function's own runtime:
/// every caller is a multi-thread Tokio test), pointed at the emulators.
fn integrations() -> cairn_integrations::Integrations {
    let emulators = cairn_test_support::emulators().expect("the emulators are running");
    cairn_integrations::Integrations::on_runtime(
        tokio::runtime::Handle::current(),
        emulators.settings(),
        Arc::new(cairn_runtime::Unsupported),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_tasks_run_through_the_integrations_in_standard_and_express() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let engine = h.engine_with(Arc::new(integrations()));
    // Queue, table, topic and bucket share one name: lowercase, as S3 wants it.
    let names = format!("cairn-fn-{}", h.table.trim_start_matches("cairn-")).to_lowercase();
    let definition = json!({"StartAt": "Queue", "States": {
        "Queue": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sqs:createQueue",
            "Parameters": {"QueueName.$": "$.name"}, "ResultPath": "$.queue", "Next": "Send"},
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl.$": "$.queue.QueueUrl", "MessageBody": {"order.$": "$.order"}},
            "ResultSelector": {"status.$": "$.SdkHttpMetadata.HttpStatusCode"},
            "ResultPath": "$.sent", "Next": "Table"},
        "Table": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:createTable",
            "Parameters": {"TableName.$": "$.name", "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]},
            "ResultPath": null, "Next": "Put"},
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {"TableName.$": "$.name", "Item": {"id": {"S": "o"}, "order": {"N.$": "States.Format('{}', $.order)"}}},
            "ResultPath": null, "Next": "Get"},
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
            "Parameters": {"TableName.$": "$.name", "Key": {"id": {"S": "o"}}},
            "ResultSelector": {"order.$": "$.Item.order.N"}, "ResultPath": "$.got", "Next": "Topic"},
        "Topic": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sns:createTopic",
            "Parameters": {"Name.$": "$.name"}, "ResultPath": "$.topic", "Next": "Publish"},
        "Publish": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {"TopicArn.$": "$.topic.TopicArn", "Message": {"order.$": "$.order"}},
            "ResultSelector": {"id.$": "$.MessageId"}, "ResultPath": "$.published", "Next": "Events"},
        "Events": {"Type": "Task", "Resource": "arn:aws:states:::events:putEvents",
            "Parameters": {"Entries": [{"Source": "cairn.test", "DetailType": "order", "Detail": {"n": 1}}]},
            "ResultSelector": {"failed.$": "$.FailedEntryCount"}, "ResultPath": "$.events", "Next": "Bucket"},
        "Bucket": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:createBucket",
            "Parameters": {"Bucket.$": "$.name"}, "ResultPath": null, "Next": "PutObject"},
        "PutObject": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
            "Parameters": {"Bucket.$": "$.name", "Key": "order.json", "Body": {"order.$": "$.order"}},
            "ResultPath": null, "Next": "GetObject"},
        "GetObject": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {"Bucket.$": "$.name", "Key": "order.json"},
            "ResultSelector": {"body.$": "$.Body"}, "ResultPath": "$.object", "Next": "Call"},
        "Call": {"Type": "Task", "Resource": lambda("cairn-missing-function"),
            "Catch": [{"ErrorEquals": ["Lambda.ResourceNotFoundException"], "ResultPath": "$.caught",
                "Next": "Done"}], "Next": "Done"},
        "Done": {"Type": "Succeed"}}});
    let standard = h
        .create_machine("services", definition.clone(), "STANDARD")
        .await;
    let arn = engine
        .start(
            &standard,
            None,
            Some(&json!({"name": names, "order": 7}).to_string()),
        )
        .await
        .expect("start")
        .execution_arn;
    let record = h.run_to_end_on(&engine, &arn).await;
    assert_eq!(record.status, "SUCCEEDED");
    let out = output(&record);
    assert_eq!(out["sent"]["status"], 200, "{out}");
    assert_eq!(out["got"]["order"], "7", "{out}");
    assert!(out["published"]["id"].is_string(), "{out}");
    assert_eq!(out["events"]["failed"], 0, "{out}");
    assert_eq!(out["object"]["body"], "{\"order\":7}", "{out}");
    // moto answers like Lambda: the function does not exist.
    assert_eq!(
        out["caught"]["Error"], "Lambda.ResourceNotFoundException",
        "{out}"
    );
    assert_eq!(h.count(&arn, "TaskSucceeded").await, 11);
    assert_eq!(h.count(&arn, "LambdaFunctionFailed").await, 1);
    let queue_url = out["queue"]["QueueUrl"].as_str().unwrap_or_default();
    let bodies: Vec<String> = h
        .receive(queue_url)
        .await
        .into_iter()
        .filter_map(|m| m.body)
        .collect();
    assert_eq!(bodies, vec![json!({"order": 7}).to_string()]);

    // Express runs in place, inside the API function: the same integrations serve it.
    let express = h
        .create_machine("services-sync", definition, "EXPRESS")
        .await;
    let api = cairn_serverless::shared_api(&engine);
    let input = json!({"name": format!("{names}-sync"), "order": 8}).to_string();
    let answer = tokio::task::spawn_blocking(move || {
        api.handle(
            "StartSyncExecution",
            json!({"stateMachineArn": express, "input": input}),
        )
    })
    .await
    .expect("join")
    .expect("StartSyncExecution");
    assert_eq!(answer["status"], "SUCCEEDED", "{answer}");
    let out: Value = serde_json::from_str(answer["output"].as_str().unwrap_or("null")).unwrap();
    assert_eq!(out["sent"]["status"], 200, "{out}");
    assert_eq!(out["caught"]["Error"], "Lambda.ResourceNotFoundException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_executions_start_in_the_same_table_and_a_sync_parent_hears_its_childs_end() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let integrations = integrations();
    let invoker: Arc<dyn TaskInvoker> = Arc::new(integrations.clone());
    let engine = h.engine_with(Arc::clone(&invoker));
    integrations.with_step_functions(
        Arc::new(cairn_serverless::nested::EngineApi::new(
            h.engine_with(invoker),
        )),
        false,
    );
    let child = h
        .create_machine(
            "child",
            json!({"StartAt": "Nap", "States": {
                "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Echo"},
                "Echo": {"Type": "Pass", "Parameters": {"got.$": "$"}, "End": true}}}),
            "STANDARD",
        )
        .await;
    let failing = h
        .create_machine(
            "failing",
            json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Broke", "Cause": "why"}}}),
            "STANDARD",
        )
        .await;
    let parent = h
        .create_machine(
            "parent",
            json!({"StartAt": "Start", "States": {
                "Start": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
                    "Parameters": {"StateMachineArn": child, "Name": "kid", "Input": {"n": 1}},
                    "ResultSelector": {"arn.$": "$.ExecutionArn"}, "ResultPath": "$.started",
                    "Next": "Wait"},
                "Wait": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                    "Parameters": {"StateMachineArn": child, "Input": {"n": 2}},
                    "ResultSelector": {"Output.$": "$.Output", "Status.$": "$.Status"},
                    "ResultPath": "$.sync", "Next": "Text"},
                "Text": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
                    "Parameters": {"StateMachineArn": failing},
                    "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failed",
                        "Next": "Done"}], "Next": "Done"},
                "Done": {"Type": "Succeed"}}}),
            "STANDARD",
        )
        .await;
    let arn = engine
        .start(&parent, None, Some("{}"))
        .await
        .expect("start")
        .execution_arn;
    let record = h.run_to_end_on(&engine, &arn).await;
    assert_eq!(record.status, "SUCCEEDED");
    let out = output(&record);
    let kid = child.replacen(":stateMachine:", ":execution:", 1) + ":kid";
    assert_eq!(out["started"]["arn"], kid.as_str(), "{out}");
    // `.sync:2`: the child ran in the same table and its end reached the parent.
    assert_eq!(
        out["sync"],
        json!({"Output": {"got": {"n": 2}}, "Status": "SUCCEEDED"}),
        "{out}"
    );
    assert_eq!(out["failed"]["Error"], "States.TaskFailed", "{out}");
    let cause: Value =
        serde_json::from_str(out["failed"]["Cause"].as_str().unwrap_or("null")).unwrap();
    assert_eq!(
        (cause["Error"].as_str(), cause["Status"].as_str()),
        (Some("Broke"), Some("FAILED"))
    );
    assert_eq!(h.count(&arn, "TaskSubmitted").await, 2);
    // The child was recorded in the same table and runs through the same queues.
    let child_record = h.run_to_end_on(&engine, &kid).await;
    assert_eq!(child_record.status, "SUCCEEDED");
    assert_eq!(output(&child_record), json!({"got": {"n": 1}}));
}

/// An EventBridge connection with an API key, as a deployment has it (the key in Secrets
/// Manager); its ARN.
async fn api_key_connection(h: &Harness, name: &str, key: &str) -> String {
    let key = aws_sdk_eventbridge::types::CreateConnectionApiKeyAuthRequestParameters::builder()
        .api_key_name("x-api-key")
        .api_key_value(key)
        .build()
        .expect("key");
    aws_sdk_eventbridge::Client::new(&h.config)
        .create_connection()
        .name(name)
        .authorization_type(aws_sdk_eventbridge::types::ConnectionAuthorizationType::ApiKey)
        .auth_parameters(
            aws_sdk_eventbridge::types::CreateConnectionAuthRequestParameters::builder()
                .api_key_auth_parameters(key)
                .build(),
        )
        .send()
        .await
        .expect("connection")
        .connection_arn
        .unwrap_or_default()
}

/// A third-party API on a local port: answers JSON and keeps each request's head.
async fn third_party_api() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 2048];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                log.lock()
                    .expect("log")
                    .push(String::from_utf8_lossy(&head).to_lowercase());
                let body = br#"{"price": 42}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.write_all(body).await;
            });
        }
    });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_task_authorizes_with_an_eventbridge_connection() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let (url, seen) = third_party_api().await;
    let connection = api_key_connection(
        &h,
        &format!("prices-{}", h.table.trim_start_matches("cairn-")),
        "k-serverless",
    )
    .await;
    let engine = h.engine_with(Arc::new(integrations()));
    let machine = h
        .create_machine(
            "prices",
            json!({"StartAt": "Price", "States": {"Price": {
                "Type": "Task", "Resource": "arn:aws:states:::http:invoke",
                "Parameters": {"ApiEndpoint": format!("{url}/prices"), "Method": "GET",
                    "QueryParameters": {"sku": "A-1"},
                    "Authentication": {"ConnectionArn": connection}},
                "ResultSelector": {"price.$": "$.ResponseBody.price", "status.$": "$.StatusCode"},
                "End": true}}}),
            "STANDARD",
        )
        .await;
    let arn = engine
        .start(&machine, None, Some("{}"))
        .await
        .expect("start")
        .execution_arn;
    let record = h.run_to_end_on(&engine, &arn).await;
    assert_eq!(record.status, "SUCCEEDED", "{:?}", record.summary);
    assert_eq!(output(&record), json!({"price": 42, "status": 200}));
    let seen = seen.lock().expect("log").clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].starts_with("get /prices?sku=a-1 "), "{seen:?}");
    assert!(seen[0].contains("x-api-key: k-serverless"), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_workflow_reaches_every_service_through_the_functions() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let (url, seen) = third_party_api().await;
    let name = format!("cairn-all-{}", h.table.trim_start_matches("cairn-")).to_lowercase();
    let connection = api_key_connection(&h, &name, "k-all").await;
    let integrations = integrations();
    let invoker: Arc<dyn TaskInvoker> = Arc::new(integrations.clone());
    let engine = h.engine_with(Arc::clone(&invoker));
    integrations.with_step_functions(
        Arc::new(cairn_serverless::nested::EngineApi::new(
            h.engine_with(invoker),
        )),
        false,
    );
    let child = h
        .create_machine(
            "double",
            json!({"StartAt": "D", "States": {"D": {"Type": "Pass",
                "Parameters": {"total.$": "States.MathAdd($.price, $.price)"}, "End": true}}}),
            "STANDARD",
        )
        .await;
    let task = |resource: &str, parameters: Value, next: &str, path: Value| {
        json!({"Type": "Task", "Resource": format!("arn:aws:states:::{resource}"),
            "Parameters": parameters, "ResultPath": path, "Next": next})
    };
    let mut states = json!({
        "Table": task("aws-sdk:dynamodb:createTable", json!({"TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}), "Put", Value::Null),
        "Put": task("dynamodb:putItem", json!({"TableName": name, "Item": {"id": {"S": "a"}}}),
            "Get", Value::Null),
        "Get": task("dynamodb:getItem", json!({"TableName": name, "Key": {"id": {"S": "a"}}}),
            "Queue", json!("$.got")),
        "Queue": task("aws-sdk:sqs:createQueue", json!({"QueueName": name}), "Send", json!("$.queue")),
        "Send": task("sqs:sendMessage", json!({"QueueUrl.$": "$.queue.QueueUrl", "MessageBody": {"n": 1}}),
            "Topic", Value::Null),
        "Topic": task("aws-sdk:sns:createTopic", json!({"Name": name}), "Publish", json!("$.topic")),
        "Publish": task("sns:publish", json!({"TopicArn.$": "$.topic.TopicArn", "Message": "hi"}),
            "Events", Value::Null),
        "Events": task("events:putEvents", json!({"Entries": [{"Source": "cairn.test",
            "DetailType": "t", "Detail": {"x": 1}}]}), "Bucket", Value::Null),
        "Bucket": task("aws-sdk:s3:createBucket", json!({"Bucket": name}), "PutObject", Value::Null),
        "PutObject": task("aws-sdk:s3:putObject", json!({"Bucket": name, "Key": "k", "Body": "v"}),
            "GetObject", Value::Null),
        "GetObject": task("aws-sdk:s3:getObject", json!({"Bucket": name, "Key": "k"}), "Http",
            json!("$.object")),
        "Http": task("http:invoke", json!({"ApiEndpoint": format!("{url}/prices"), "Method": "GET",
            "Authentication": {"ConnectionArn": connection}}), "Child", json!("$.http")),
        "Child": task("states:startExecution.sync:2", json!({"StateMachineArn": child,
            "Input": {"price.$": "$.http.ResponseBody.price"}}), "Missing", json!("$.nested")),
        "Missing": task("dynamodb:getItem", json!({"TableName": format!("{name}-missing"),
            "Key": {"id": {"S": "a"}}}), "Done", Value::Null),
        "Done": {"Type": "Succeed"}
    });
    states["Missing"]["Catch"] = json!([{"ErrorEquals": ["DynamoDB.ResourceNotFoundException"],
        "ResultPath": "$.caught", "Next": "Done"}]);
    let machine = h
        .create_machine(
            "everything",
            json!({"StartAt": "Table", "States": states}),
            "STANDARD",
        )
        .await;
    let arn = engine
        .start(&machine, None, Some("{}"))
        .await
        .expect("start")
        .execution_arn;
    let record = h.run_to_end_on(&engine, &arn).await;
    assert_eq!(record.status, "SUCCEEDED", "{:?}", record.summary);
    let out = output(&record);
    assert_eq!(out["got"]["Item"], json!({"id": {"S": "a"}}), "{out}");
    assert_eq!(out["object"]["Body"], "v", "{out}");
    assert_eq!(out["http"]["StatusCode"], 200, "{out}");
    assert_eq!(out["nested"]["Output"], json!({"total": 84}), "{out}");
    assert_eq!(
        out["caught"]["Error"], "DynamoDB.ResourceNotFoundException",
        "{out}"
    );
    assert!(seen.lock().expect("log")[0].contains("x-api-key: k-all"));
    let queue_url = out["queue"]["QueueUrl"].as_str().unwrap_or_default();
    let bodies: Vec<String> = h
        .receive(queue_url)
        .await
        .into_iter()
        .filter_map(|m| m.body)
        .collect();
    assert_eq!(bodies, vec![json!({"n": 1}).to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_resends_a_lost_timer_message_and_the_execution_finishes() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let machine = h
        .create_machine(
            "lossy",
            json!({"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 1, "End": true}}}),
            "STANDARD",
        )
        .await;
    let arn = h.start(&machine, json!({})).await;
    // Lose the timer's message: take it off the queue without delivering it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut lost = h.timer_batch().await;
    while lost.records.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        lost = h.timer_batch().await;
    }
    assert_eq!(lost.records.len(), 1);
    // Not yet overdue by the grace: nothing to re-send.
    assert_eq!(
        h.engine.sweep_overdue_timers(60_000).await.expect("sweep"),
        0
    );
    let trigger: cairn_serverless::advance::AdvanceTrigger =
        serde_json::from_value(json!({"sweep": {"graceSeconds": 0}})).expect("sweep trigger");
    let answer = cairn_serverless::advance::handle_trigger(&h.engine, trigger)
        .await
        .expect("sweep");
    assert_eq!(
        answer,
        json!({"resentTimers": 1, "resentTasks": 0, "rerunTasks": 0, "resentStatuses": 0, "continued": false})
    );
    let record = h.run_to_end(&arn).await;
    assert_eq!(record.status, "SUCCEEDED");
    assert_eq!(h.count(&arn, "WaitStateExited").await, 1);
}

/// Issue 12, item 4: status events and alerts go through the durable outbox. The write that
/// ends an execution records its status change as unsent; when the send after it is lost
/// (here: an engine whose bus does not exist, as a crash between the write and the send),
/// the sweep finds the mark, sends the event and the alert, and confirms them, so the next
/// sweep sends nothing again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_event_lost_after_its_write_is_sent_by_the_sweep() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let machine = h
        .create_machine(
            "fails-at-once",
            json!({"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Broken", "Cause": "on purpose"}}}),
            "STANDARD",
        )
        .await;
    let lossy = Engine::new(
        Arc::new(payload_store(&h.config, &h.table, &h.bucket)),
        Outbox::new(
            &h.config,
            Settings {
                bus_name: "no-such-bus".into(),
                alert_topic_arn: h
                    .settings
                    .alert_topic_arn
                    .replace("alerts-", "no-such-topic-"),
                ..h.settings.clone()
            },
        ),
        h.invoker.clone(),
        Arc::new(SystemClock),
    );
    let started = lossy
        .start(&machine, None, Some("{}"))
        .await
        .expect("the write stands though the send fails");
    let arn = started.execution_arn;
    assert_eq!(h.record(&arn).await.status, "FAILED");
    assert!(
        h.status_changes(&arn, 1).await.is_empty(),
        "nothing was sent"
    );
    assert_eq!(
        h.record(&arn).await.summary[cairn_store::UNSENT_STATUS],
        json!(["RUNNING", "FAILED"])
    );
    let trigger: cairn_serverless::advance::AdvanceTrigger =
        serde_json::from_value(json!({"sweep": {"graceSeconds": 0}})).expect("sweep trigger");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let answer = cairn_serverless::advance::handle_trigger(&h.engine, trigger.clone())
        .await
        .expect("sweep");
    assert_eq!(answer["resentStatuses"], 1, "{answer}");
    let mut statuses: Vec<String> = h
        .status_changes(&arn, 2)
        .await
        .iter()
        .map(|event| event["detail"]["status"].as_str().unwrap_or("").to_string())
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["FAILED", "RUNNING"]);
    let alerts = h.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0]["Message"].as_str().unwrap_or("").contains(&arn));
    // Confirmed: the mark is gone and a second sweep sends nothing.
    assert!(h
        .record(&arn)
        .await
        .summary
        .get(cairn_store::UNSENT_STATUS)
        .is_none());
    let again = cairn_serverless::advance::handle_trigger(&h.engine, trigger)
        .await
        .expect("sweep");
    assert_eq!(again["resentStatuses"], 0, "{again}");
    assert!(h.status_changes(&arn, 1).await.is_empty());
}

/// A start whose RUNNING event never went out (its PutEvents failed) and whose execution then
/// moved on: the next write keeps the mark in DynamoDB, the sweep sends RUNNING and confirms
/// it, and the end comes after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_event_lost_at_the_start_survives_the_next_write() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let machine = h
        .create_machine(
            "two-naps",
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Wait", "Seconds": 1, "Next": "B"},
                "B": {"Type": "Wait", "Seconds": 1, "End": true}}}),
            "STANDARD",
        )
        .await;
    let lossy = Engine::new(
        Arc::new(payload_store(&h.config, &h.table, &h.bucket)),
        Outbox::new(
            &h.config,
            Settings {
                bus_name: "no-such-bus".into(),
                ..h.settings.clone()
            },
        ),
        h.invoker.clone(),
        Arc::new(SystemClock),
    );
    let arn = lossy
        .start(&machine, None, Some("{}"))
        .await
        .expect("the write stands though the send fails")
        .execution_arn;
    let fire = || async {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let timers = h
            .engine
            .store
            .due_timers_page(i64::MAX, None, 100)
            .await
            .expect("timers")
            .items;
        let timer = timers
            .iter()
            .find(|t| t.execution_arn == arn)
            .expect("an open timer");
        h.engine
            .apply(
                &arn,
                cairn_interpreter::Event::TimerFired {
                    timer_id: timer.timer_id,
                },
            )
            .await
            .expect("apply")
    };
    fire().await;
    assert_eq!(h.record(&arn).await.status, "RUNNING");
    assert_eq!(
        h.record(&arn).await.summary[cairn_store::UNSENT_STATUS],
        json!(["RUNNING"]),
        "the write that moved on kept the mark"
    );
    assert!(
        h.status_changes(&arn, 1).await.is_empty(),
        "nothing sent yet"
    );
    let trigger: cairn_serverless::advance::AdvanceTrigger =
        serde_json::from_value(json!({"sweep": {"graceSeconds": 0}})).expect("sweep trigger");
    let answer = cairn_serverless::advance::handle_trigger(&h.engine, trigger)
        .await
        .expect("sweep");
    assert_eq!(answer["resentStatuses"], 1, "{answer}");
    assert!(h
        .record(&arn)
        .await
        .summary
        .get(cairn_store::UNSENT_STATUS)
        .is_none());
    fire().await;
    let statuses: Vec<String> = h
        .status_changes(&arn, 2)
        .await
        .iter()
        .map(|event| event["detail"]["status"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(statuses, ["RUNNING", "SUCCEEDED"]);
}

/// An end written by a later write whose status event was lost: the DynamoDB store keeps the
/// closed execution under its running index key until the confirmation (closing costs no
/// index write), so the sweep finds the mark among its running pages and sends the event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_event_lost_after_a_later_write_is_sent_by_the_sweep() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let machine = h
        .create_machine(
            "one-nap",
            json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1, "End": true}}}),
            "STANDARD",
        )
        .await;
    let arn = h
        .engine
        .start(&machine, None, Some("{}"))
        .await
        .expect("start")
        .execution_arn;
    let lossy = Engine::new(
        Arc::new(payload_store(&h.config, &h.table, &h.bucket)),
        Outbox::new(
            &h.config,
            Settings {
                bus_name: "no-such-bus".into(),
                ..h.settings.clone()
            },
        ),
        h.invoker.clone(),
        Arc::new(SystemClock),
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let timers = h
        .engine
        .store
        .due_timers_page(i64::MAX, None, 100)
        .await
        .expect("timers")
        .items;
    let timer = timers
        .iter()
        .find(|t| t.execution_arn == arn)
        .expect("an open timer");
    lossy
        .apply(
            &arn,
            cairn_interpreter::Event::TimerFired {
                timer_id: timer.timer_id,
            },
        )
        .await
        .expect("the write stands though the send fails");
    let record = h.record(&arn).await;
    assert_eq!(record.status, "SUCCEEDED");
    assert_eq!(
        record.summary[cairn_store::UNSENT_STATUS],
        json!(["SUCCEEDED"])
    );
    assert_eq!(
        h.engine
            .store
            .running_executions_page(None, 100)
            .await
            .expect("running")
            .items,
        vec![arn.clone()]
    );
    let trigger: cairn_serverless::advance::AdvanceTrigger =
        serde_json::from_value(json!({"sweep": {"graceSeconds": 0}})).expect("sweep trigger");
    let answer = cairn_serverless::advance::handle_trigger(&h.engine, trigger)
        .await
        .expect("sweep");
    assert_eq!(answer["resentStatuses"], 1, "{answer}");
    assert!(h
        .record(&arn)
        .await
        .summary
        .get(cairn_store::UNSENT_STATUS)
        .is_none());
    assert!(h
        .engine
        .store
        .running_executions_page(None, 100)
        .await
        .expect("running")
        .items
        .is_empty());
    let statuses: Vec<String> = h
        .status_changes(&arn, 2)
        .await
        .iter()
        .map(|event| event["detail"]["status"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(statuses, ["RUNNING", "SUCCEEDED"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_timer_is_re_sent_three_times_then_given_up_with_one_alert() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let machine = h
        .create_machine(
            "poison",
            json!({"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 1, "End": true}}}),
            "STANDARD",
        )
        .await;
    let arn = h.start(&machine, json!({})).await;
    // Every delivery of the timer fails: its messages are taken off the queue unapplied, as
    // the queue moves them to its dead-letter queue after five failed receives.
    let mut first = h.timer_batch().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while first.records.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        first = h.timer_batch().await;
    }
    assert_eq!(first.records.len(), 1);
    let poisoned = first.records[0].body.clone().expect("body");
    let sweep = || async {
        let trigger: cairn_serverless::advance::AdvanceTrigger =
            serde_json::from_value(json!({"sweep": {"graceSeconds": 0}})).expect("trigger");
        cairn_serverless::advance::handle_trigger(&h.engine, trigger)
            .await
            .expect("sweep")["resentTimers"]
            .as_u64()
    };
    for round in 1..=cairn_serverless::engine::MAX_TIMER_RESENDS {
        assert_eq!(sweep().await, Some(1), "re-send {round}");
        let mut lost = h.timer_batch().await;
        let deadline = Instant::now() + Duration::from_secs(5);
        while lost.records.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            lost = h.timer_batch().await;
        }
        assert_eq!(lost.records.len(), 1, "re-send {round} reached the queue");
    }
    assert_eq!(h.engine.abandoned_timers.load(Ordering::Relaxed), 0);
    assert!(h.alerts().await.is_empty());
    // The fourth sweep gives the timer up and says so once; later sweeps stay quiet.
    assert_eq!(sweep().await, Some(0));
    assert_eq!(h.engine.abandoned_timers.load(Ordering::Relaxed), 1);
    let alerts = h.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let text = alerts[0]["Message"].as_str().unwrap_or_default();
    assert!(
        text.contains(&arn) && text.contains("dead-letter queue"),
        "{text}"
    );
    assert_eq!(sweep().await, Some(0));
    assert!(h.timer_batch().await.records.is_empty());
    assert!(h.alerts().await.is_empty());
    assert_eq!(h.engine.abandoned_timers.load(Ordering::Relaxed), 1);
    assert_eq!(h.record(&arn).await.status, "RUNNING");
    // Once the cause is fixed, the message redriven from the dead-letter queue ends the Wait.
    let redriven: Message = serde_json::from_str(&poisoned).expect("timer message");
    assert_eq!(
        h.engine.handle(redriven).await.expect("apply"),
        Applied::Applied(cairn_interpreter::Status::Succeeded)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_resends_a_lost_task_run_and_the_task_runs_once() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let machine = h
        .create_machine(
            "lost-run",
            json!({"StartAt": "Call", "States": {
                "Call": {"Type": "Task", "Resource": lambda("echo"), "End": true}}}),
            "STANDARD",
        )
        .await;
    let arn = h.start(&machine, json!({"n": 7})).await;
    // Lose the run-task message: take it off the bus queue without delivering it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut lost = Vec::new();
    while lost.is_empty() && Instant::now() < deadline {
        lost.extend(h.advance_events().await);
    }
    assert_eq!(lost.len(), 1);
    assert_eq!(
        h.engine.sweep_unstarted_tasks(60_000).await.expect("sweep"),
        0,
        "not overdue by the grace yet"
    );
    let trigger: cairn_serverless::advance::AdvanceTrigger =
        serde_json::from_value(json!({"sweep": {"graceSeconds": 0}})).expect("sweep trigger");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let answer = cairn_serverless::advance::handle_trigger(&h.engine, trigger)
        .await
        .expect("sweep");
    assert_eq!(
        answer,
        json!({"resentTimers": 0, "resentTasks": 1, "rerunTasks": 0, "resentStatuses": 0, "continued": false})
    );
    let record = h.run_to_end(&arn).await;
    assert_eq!(record.status, "SUCCEEDED");
    assert_eq!(output(&record), json!({"n": 7}));
    // The lost message arriving late after all changes nothing: the task already ran.
    for event in lost {
        assert_eq!(
            handle_event(&h.engine, event).await.expect("late delivery"),
            Applied::NotRunning
        );
    }
    assert_eq!(h.count(&arn, "LambdaFunctionStarted").await, 1);
}

/// Issue 12, item 9: a sweep reads a bounded page per invocation and carries on through
/// continuation messages on the bus, so every lost task run and timer is re-sent however many
/// executions are running, none twice in one sweep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paged_sweep_continues_through_the_bus_until_every_execution_is_seen() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let engine = h.engine_with(h.invoker.clone()).with_sweep_page(2);
    let task_machine = h
        .create_machine(
            "paged-task",
            json!({"StartAt": "Call", "States": {
                "Call": {"Type": "Task", "Resource": lambda("echo"), "End": true}}}),
            "STANDARD",
        )
        .await;
    let wait_machine = h
        .create_machine(
            "paged-wait",
            json!({"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 1, "End": true}}}),
            "STANDARD",
        )
        .await;
    let mut arns = Vec::new();
    for n in 0..5 {
        arns.push(h.start(&task_machine, json!({"n": n})).await);
    }
    for _ in 0..3 {
        arns.push(h.start(&wait_machine, json!({})).await);
    }
    // Lose every first message: the run-task events and the timer messages.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut lost_runs = 0;
    while lost_runs < 5 && Instant::now() < deadline {
        lost_runs += h.advance_events().await.len();
    }
    assert_eq!(lost_runs, 5);
    let mut lost_timers = 0;
    while lost_timers < 3 && Instant::now() < deadline {
        lost_timers += h.timer_batch().await.records.len();
    }
    assert_eq!(lost_timers, 3);
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    let trigger: cairn_serverless::advance::AdvanceTrigger =
        serde_json::from_value(json!({"sweep": {"graceSeconds": 0}})).expect("sweep trigger");
    let first = cairn_serverless::advance::handle_trigger(&engine, trigger)
        .await
        .expect("sweep");
    assert_eq!(first["resentTimers"], 2, "a page holds 2: {first}");
    assert_eq!(first["continued"], true);
    // Play the bus: deliver each sweep continuation, keep the re-sent runs aside.
    let mut pages = 1;
    let mut runs = Vec::new();
    let mut continuations = 0;
    loop {
        let mut next = None;
        // Each page sends its continuation last: none within a few seconds means the end.
        let deadline = Instant::now() + Duration::from_secs(3);
        while next.is_none() && Instant::now() < deadline {
            for event in h.advance_events().await {
                match event.detail {
                    Message::Sweep(_) => next = Some(event),
                    Message::RunTask { .. } => runs.push(event),
                    other => panic!("unexpected advance message {other:?}"),
                }
            }
        }
        let Some(event) = next else { break };
        continuations += 1;
        assert_eq!(
            handle_event(&engine, event).await.expect("sweep page"),
            Applied::Swept
        );
        pages += 1;
        assert!(pages < 20, "the sweep does not end");
    }
    // 3 timers (pages of 2, 2 pages) then 8 running executions (4 pages of 2), a page of each
    // phase sharing the invocation where the timers end: 5 invocations, 4 continuations.
    assert!(continuations >= 4, "{continuations} continuations");
    assert_eq!(runs.len(), 5, "each lost run re-sent once");
    let mut timers = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while timers < 3 && Instant::now() < deadline {
        let batch = h.timer_batch().await;
        timers += batch.records.len();
        cairn_serverless::advance::handle_sqs(&engine, batch).await;
    }
    assert_eq!(timers, 3, "each lost timer re-sent once");
    for event in runs {
        handle_event(&engine, event).await.expect("run");
    }
    for arn in &arns {
        assert_eq!(h.run_to_end_on(&engine, arn).await.status, "SUCCEEDED");
    }
}

/// Text deflate cannot shrink much (SplitMix64 as hex digits).
fn noise(seed: u64, len: usize) -> String {
    let mut state = seed;
    let mut out = String::with_capacity(len + 16);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.push_str(&format!("{:016x}", z ^ (z >> 31)));
    }
    out.truncate(len);
    out
}

/// Issue 12, item 5: payloads as AWS allows them. An execution whose item grows past
/// DynamoDB's 400 KB (a 200 KB input, the same output, its state) completes, its payload in
/// the bucket; a state output past the 256 KiB limit fails the execution with
/// States.DataLimitExceeded, once; an input past it is refused at the start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_past_dynamodb_items_complete_and_past_the_limit_fail() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let s3 = cairn_store_dynamodb::s3_client(&h.config);
    let engine = h.other_engine();
    let big = json!({"blob": noise(9, 200_000)});

    let grows = h
        .create_machine(
            "grows",
            json!({"StartAt": "Call", "States": {
                "Call": {"Type": "Task", "Resource": lambda("echo"), "Next": "Tag"},
                "Tag": {"Type": "Pass", "Result": "done", "ResultPath": "$.tag", "End": true}}}),
            "STANDARD",
        )
        .await;
    let arn = engine
        .start(&grows, None, Some(&big.to_string()))
        .await
        .expect("start")
        .execution_arn;
    let record = h.run_to_end_on(&engine, &arn).await;
    assert_eq!(record.status, "SUCCEEDED");
    let mut expected = big.clone();
    expected["tag"] = json!("done");
    assert_eq!(output(&record), expected);
    let objects = s3
        .list_objects_v2()
        .bucket(&h.bucket)
        .send()
        .await
        .expect("list")
        .contents()
        .len();
    assert!(objects >= 1, "the large item went to the bucket");

    let doubles = h
        .create_machine(
            "doubles",
            json!({"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": true,
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}]}}}),
            "STANDARD",
        )
        .await;
    let arn = engine
        .start(&doubles, None, Some(&big.to_string()))
        .await
        .expect("start")
        .execution_arn;
    let record = h.run_to_end_on(&engine, &arn).await;
    assert_eq!(record.status, "FAILED");
    assert_eq!(record.summary["error"], "States.DataLimitExceeded");
    assert_eq!(h.count(&arn, "ExecutionFailed").await, 1);

    let too_big = json!({"blob": noise(10, 270_000)}).to_string();
    let refused = engine
        .start(&grows, None, Some(&too_big))
        .await
        .expect_err("an input past 256 KiB");
    assert!(
        refused.to_string().starts_with("InvalidExecutionInput"),
        "{refused}"
    );
}

/// Asynchronous Lambda invocations played in-process: each is recorded and given a request
/// id; `missing` is refused as Lambda refuses an unknown function.
#[derive(Default)]
struct EventLambda {
    calls: std::sync::Mutex<Vec<(String, Value)>>,
}

impl cairn_serverless::long_task::EventInvoker for EventLambda {
    fn invoke_event<'a>(
        &'a self,
        function: &'a str,
        _qualifier: Option<&'a str>,
        payload: Vec<u8>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, TaskFailure>> + Send + 'a>>
    {
        Box::pin(async move {
            if function.ends_with("missing") {
                return Err(TaskFailure::new(
                    "Lambda.ResourceNotFoundException",
                    "Function not found",
                ));
            }
            let mut calls = self.calls.lock().expect("calls");
            let body = serde_json::from_slice(&payload).unwrap_or(Value::Null);
            calls.push((function.to_string(), body));
            Ok(format!("req-{}", calls.len()))
        })
    }
}

/// A Lambda destination event as EventBridge delivers it to the advance function.
fn destination_event(
    request_id: &str,
    succeeded: bool,
    response: Value,
) -> cairn_serverless::advance::AdvanceTrigger {
    let (detail_type, response_context) = if succeeded {
        (
            cairn_serverless::long_task::SUCCESS_DETAIL_TYPE,
            json!({"statusCode": 200, "executedVersion": "$LATEST"}),
        )
    } else {
        (
            cairn_serverless::long_task::FAILURE_DETAIL_TYPE,
            json!({"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}),
        )
    };
    serde_json::from_value(json!({
        "version": "0", "id": format!("event-{request_id}"), "detail-type": detail_type,
        "source": cairn_serverless::long_task::DESTINATION_SOURCE, "account": "123456789012",
        "time": "2026-01-01T00:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {
            "version": "1.0", "timestamp": "2026-01-01T00:00:00.000Z",
            "requestContext": {"requestId": request_id, "functionArn": lambda("slow"),
                "condition": if succeeded { "Success" } else { "RetriesExhausted" },
                "approximateInvokeCount": 1},
            "requestPayload": {},
            "responseContext": response_context,
            "responsePayload": response,
        }
    }))
    .expect("destination event")
}

/// Issue 12, item 3: a Lambda task whose TimeoutSeconds is longer than the advance function
/// can wait is invoked asynchronously and its destination event ends it, for a legacy
/// resource and `lambda:invoke` alike, failures included; a short one still runs inside the
/// invocation, and the sweep leaves a long one's claim alone while it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lambda_tasks_run_asynchronously_and_their_destination_event_ends_them() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let events = Arc::new(EventLambda::default());
    let engine = h
        .other_engine()
        .with_claim_timeout(1)
        .with_long_lambda_tasks(events.clone(), 20_000);
    let machine = h
        .create_machine(
            "long-tasks",
            json!({"StartAt": "Long", "States": {
                "Long": {"Type": "Task", "Resource": lambda("slow"), "TimeoutSeconds": 3600,
                    "Next": "LongInvoke"},
                "LongInvoke": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "slow2", "Payload.$": "$"},
                    "TimeoutSeconds": 3600, "ResultSelector": {"p.$": "$.Payload"},
                    "Catch": [{"ErrorEquals": ["Slow.Error"], "ResultPath": "$.caught",
                        "Next": "Short"}],
                    "Next": "Short"},
                "Short": {"Type": "Task", "Resource": lambda("echo"), "TimeoutSeconds": 5,
                    "End": true}}}),
            "STANDARD",
        )
        .await;
    let arn = engine
        .start(&machine, None, Some(&json!({"n": 1}).to_string()))
        .await
        .expect("start")
        .execution_arn;
    let deliver_runs = |expected_calls: usize| {
        let (h, engine, events) = (&h, &engine, events.clone());
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            while events.calls.lock().expect("calls").len() < expected_calls {
                assert!(
                    Instant::now() < deadline,
                    "no asynchronous call {expected_calls}"
                );
                for event in h.advance_events().await {
                    handle_event(engine, event).await.expect("run");
                }
            }
        }
    };
    deliver_runs(1).await;
    assert_eq!(
        events.calls.lock().expect("calls")[0],
        (lambda("slow"), json!({"n": 1}))
    );
    assert_eq!(h.record(&arn).await.status, "RUNNING");
    // Its claim is held until the task's own timeout, however old: no re-run.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(engine.sweep_lost_claims().await.expect("sweep"), 0);
    // A record for an invocation nobody recorded is refused (EventBridge retries it).
    assert!(cairn_serverless::advance::handle_trigger(
        &engine,
        destination_event("req-unknown", true, json!({}))
    )
    .await
    .is_err());
    cairn_serverless::advance::handle_trigger(
        &engine,
        destination_event("req-1", true, json!({"n": 2})),
    )
    .await
    .expect("success record");
    deliver_runs(2).await;
    assert_eq!(
        events.calls.lock().expect("calls")[1],
        ("slow2".to_string(), json!({"n": 2}))
    );
    // The first record again changes nothing: its lookup went with its task.
    assert!(cairn_serverless::advance::handle_trigger(
        &engine,
        destination_event("req-1", true, json!({"n": 99})),
    )
    .await
    .is_err());
    assert_eq!(h.count(&arn, "LambdaFunctionSucceeded").await, 1);
    let error = json!({"errorType": "Slow.Error", "errorMessage": "too slow", "trace": []});
    cairn_serverless::advance::handle_trigger(
        &engine,
        destination_event("req-2", false, error.clone()),
    )
    .await
    .expect("failure record");
    let record = h.run_to_end_on(&engine, &arn).await;
    assert_eq!(record.status, "SUCCEEDED");
    let out = output(&record);
    assert_eq!(out["n"], 2);
    assert_eq!(out["caught"]["Error"], "Slow.Error");
    assert_eq!(out["caught"]["Cause"], error.to_string());
    // The short task ran inside its invocation: no third asynchronous call.
    assert_eq!(events.calls.lock().expect("calls").len(), 2);
    assert_eq!(h.count(&arn, "LambdaFunctionSucceeded").await, 2);

    // An asynchronous call Lambda refuses fails the task as the synchronous one would.
    let refused = h
        .create_machine(
            "long-missing",
            json!({"StartAt": "Long", "States": {
                "Long": {"Type": "Task", "Resource": lambda("missing"), "TimeoutSeconds": 3600,
                    "End": true}}}),
            "STANDARD",
        )
        .await;
    let arn = engine
        .start(&refused, None, Some("{}"))
        .await
        .expect("start")
        .execution_arn;
    let record = h.run_to_end_on(&engine, &arn).await;
    assert_eq!(record.status, "FAILED");
    assert_eq!(record.summary["error"], "Lambda.ResourceNotFoundException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_whose_invocation_died_after_its_claim_runs_again() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let engine = h.engine_with(h.invoker.clone()).with_claim_timeout(1_000);
    let machine = h
        .create_machine(
            "lost-claim",
            json!({"StartAt": "Call", "States": {
                "Call": {"Type": "Task", "Resource": lambda("echo"), "End": true}}}),
            "STANDARD",
        )
        .await;
    let arn = engine
        .start(&machine, None, Some(&json!({"n": 8}).to_string()))
        .await
        .expect("start")
        .execution_arn;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut runs = Vec::new();
    while runs.is_empty() && Instant::now() < deadline {
        runs.extend(h.advance_events().await);
    }
    let event = runs.pop().expect("a run-task event");
    let Message::RunTask { task_id, .. } = event.detail.clone() else {
        panic!("not a task run: {:?}", event.detail)
    };
    // The invocation claims the task, then dies before it calls or answers.
    assert!(matches!(
        engine.claim_task(&arn, task_id).await.expect("claim"),
        cairn_serverless::engine::Claimed::Run { .. }
    ));
    // Its message comes again at once: the claim is fresh, so it is another run's.
    assert_eq!(
        handle_event(&engine, event).await.expect("redelivery"),
        Applied::Duplicate
    );
    assert_eq!(engine.sweep_lost_claims().await.expect("sweep"), 0);
    assert_eq!(h.record(&arn).await.status, "RUNNING");
    // Once the claim is older than any invocation lives, the sweep runs the task again.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(engine.sweep_lost_claims().await.expect("sweep"), 1);
    let record = h.run_to_end_on(&engine, &arn).await;
    assert_eq!(record.status, "SUCCEEDED");
    assert_eq!(output(&record), json!({"n": 8}));
    // TaskStarted is the history's, once; the call was made again.
    assert_eq!(h.count(&arn, "LambdaFunctionStarted").await, 1);
    assert_eq!(engine.sweep_lost_claims().await.expect("sweep"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_tokens_are_signed_and_a_forged_one_is_refused() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let engine = h.engine_with(h.invoker.clone()).with_token_key(vec![7; 32]);
    let api = cairn_serverless::shared_api(&engine);
    let call = |action: &str, body: Value| {
        let request = api_request("/", Some(action), body);
        let (engine, api) = (&engine, &api);
        async move { text_body(&handle_request(engine, api, request).await) }
    };
    let activity = call("CreateActivity", json!({"name": "sign"})).await["activityArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let machine = h
        .create_machine(
            "signed",
            json!({"StartAt": "Approve", "States": {"Approve": {"Type": "Task", "Resource": activity, "End": true}}}),
            "STANDARD",
        )
        .await;
    let arn = engine
        .start(&machine, None, Some("{}"))
        .await
        .expect("start")
        .execution_arn;
    let task = call(
        "GetActivityTask",
        json!({"activityArn": activity, "workerName": "w1"}),
    )
    .await;
    let token = task["taskToken"].as_str().unwrap_or_default().to_string();
    // The decider's 64 hex digits and their HMAC under the deployment's key.
    assert_eq!(token.len(), 128, "{task}");
    let mut forged = token.clone().into_bytes();
    forged[100] = if forged[100] == b'0' { b'1' } else { b'0' };
    let forged = String::from_utf8(forged).unwrap_or_default();
    let refused = call(
        "SendTaskSuccess",
        json!({"taskToken": forged, "output": "{}"}),
    )
    .await;
    assert_eq!(refused["__type"], "InvalidToken", "{refused}");
    let unsigned = call(
        "SendTaskSuccess",
        json!({"taskToken": &token[..64], "output": "{}"}),
    )
    .await;
    assert_eq!(unsigned["__type"], "InvalidToken", "{unsigned}");
    let done = call(
        "SendTaskSuccess",
        json!({"taskToken": token, "output": "{\"ok\":1}"}),
    )
    .await;
    assert_eq!(done, json!({}));
    let record = h.record(&arn).await;
    assert_eq!(
        (record.status.as_str(), output(&record)),
        ("SUCCEEDED", json!({"ok": 1}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activities_and_callbacks_go_through_the_api_function() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let hr = &h;
    let call = |action: &str, body: Value| {
        let request = api_request("/", Some(action), body);
        async move { text_body(&handle_request(&hr.engine, &hr.api, request).await) }
    };
    let activity = call("CreateActivity", json!({"name": "approve"})).await["activityArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let machine = h
        .create_machine(
            "approval",
            json!({"StartAt": "Approve", "States": {"Approve": {"Type": "Task", "Resource": activity, "End": true}}}),
            "STANDARD",
        )
        .await;
    let arn = h.start(&machine, json!({"amount": 5})).await;
    let task = call(
        "GetActivityTask",
        json!({"activityArn": activity, "workerName": "w1"}),
    )
    .await;
    assert_eq!(task["input"], "{\"amount\":5}");
    let token = task["taskToken"].as_str().unwrap_or_default().to_string();
    assert_eq!(h.count(&arn, "ActivityStarted").await, 1);
    let done = call(
        "SendTaskSuccess",
        json!({"taskToken": token, "output": "{\"approved\":true}"}),
    )
    .await;
    assert_eq!(done, json!({}));
    let record = h.record(&arn).await;
    assert_eq!(
        (record.status.as_str(), output(&record)),
        ("SUCCEEDED", json!({"approved": true}))
    );
    // The token is spent: AWS answers TaskTimedOut.
    let again = call(
        "SendTaskSuccess",
        json!({"taskToken": token, "output": "{}"}),
    )
    .await;
    assert_eq!(again["__type"], "TaskTimedOut");
    // Asynchronous Express runs inside the invocation and answers like StartExecution.
    let express = h
        .create_machine(
            "fire",
            json!({"StartAt": "Go", "States": {"Go": {"Type": "Pass", "End": true}}}),
            "EXPRESS",
        )
        .await;
    let started = call("StartExecution", json!({"stateMachineArn": express})).await;
    assert!(
        started["executionArn"]
            .as_str()
            .is_some_and(|a| a.contains(":express:fire:")),
        "{started}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_function_redrives_a_failed_execution_through_the_queues() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    // The gate fails until the execution is redriven; the Wait after it goes through the
    // timer queue, so the redrive's work is carried out by the advance function.
    let machine = h
        .create_machine(
            "redriven",
            json!({"StartAt": "Nap", "States": {
                "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Gate"},
                "Gate": {"Type": "Pass", "QueryLanguage": "JSONata",
                         "Output": "{% $states.context.Execution.RedriveCount = 0 ? $error('NotYet', 'first run') : 'open' %}",
                         "Next": "Again"},
                "Again": {"Type": "Wait", "Seconds": 1, "End": true}}}),
            "STANDARD",
        )
        .await;
    let arn = h.start(&machine, json!({})).await;
    let record = h.run_to_end(&arn).await;
    assert_eq!(record.status, "FAILED");
    assert_eq!(record.summary["error"], "States.QueryEvaluationError");

    let redrive =
        |arn: &str| api_request("/", Some("RedriveExecution"), json!({"executionArn": arn}));
    let response = handle_request(&h.engine, &h.api, redrive(&arn)).await;
    assert_eq!(response.status_code, 200, "{:?}", response.body);
    assert!(text_body(&response)["redriveDate"].is_number());
    let running = h.record(&arn).await;
    assert_eq!(running.status, "RUNNING");
    assert_eq!(running.stop_ms, None);
    let refused = handle_request(&h.engine, &h.api, redrive(&arn)).await;
    assert_eq!(refused.status_code, 400);
    assert_eq!(text_body(&refused)["__type"], "ExecutionNotRedrivable");

    let record = h.run_to_end(&arn).await;
    assert_eq!(record.status, "SUCCEEDED");
    assert_eq!(record.summary["redriveCount"], 1);
    assert_eq!(h.count(&arn, "ExecutionRedriven").await, 1);
    assert_eq!(
        h.count(&arn, "WaitStateEntered").await,
        2,
        "Nap is not run again"
    );
    let described = handle_request(
        &h.engine,
        &h.api,
        api_request("/", Some("DescribeExecution"), json!({"executionArn": arn})),
    )
    .await;
    let described = text_body(&described);
    assert_eq!(described["redriveCount"], 1);
    assert_eq!(
        described["redriveStatusReason"],
        "Execution is SUCCEEDED and cannot be redriven"
    );
}

/// The serverless engine stores an ended Distributed Map's children as executions of their
/// own (as `cairn serve` does), so the api function lists them by `mapRunArn` from the table
/// and describes each, while the parent keeps only their counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_map_children_are_listed_and_described_through_the_api_function() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let machine = h
        .create_machine(
            "fanout",
            json!({"StartAt": "Each", "States": {
                "Each": {"Type": "Map", "ItemsPath": "$.items", "Label": "Each",
                    "ToleratedFailureCount": 1,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                        "StartAt": "Pick", "States": {
                            "Pick": {"Type": "Choice", "Choices": [
                                {"Variable": "$", "NumericEquals": 3, "Next": "Bad"}],
                                "Default": "Double"},
                            "Bad": {"Type": "Fail", "Error": "Odd.Three", "Cause": "three"},
                            // A task: the run ends in a later decision than the start.
                            "Double": {"Type": "Task", "Resource": lambda("echo"),
                                "Parameters": {"n.$": "$"}, "End": true}}},
                    "End": true}}}),
            "STANDARD",
        )
        .await;
    let arn = h.start(&machine, json!({"items": [1, 2, 3]})).await;
    let record = h.run_to_end(&arn).await;
    assert_eq!(record.status, "SUCCEEDED", "{:?}", record.summary);

    let call = |target: &str, body: Value| {
        let request = api_request("/", Some(target), body);
        let (engine, api) = (&h.engine, &h.api);
        async move {
            let response = handle_request(engine, api, request).await;
            let body = text_body(&response);
            assert_eq!(response.status_code, 200, "{body}");
            body
        }
    };
    let runs = call("ListMapRuns", json!({"executionArn": arn})).await;
    let map_run = runs["mapRuns"][0]["mapRunArn"]
        .as_str()
        .expect("a Map Run")
        .to_string();
    let run = call("DescribeMapRun", json!({"mapRunArn": map_run})).await;
    assert_eq!(run["executionCounts"]["succeeded"], 2, "{run}");
    assert_eq!(run["executionCounts"]["failed"], 1, "{run}");

    let listed = call("ListExecutions", json!({"mapRunArn": map_run})).await;
    let children = listed["executions"].as_array().expect("executions");
    assert_eq!(children.len(), 3, "{listed}");
    let mut statuses: Vec<&str> = children
        .iter()
        .filter_map(|c| c["status"].as_str())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, ["FAILED", "SUCCEEDED", "SUCCEEDED"]);
    assert!(children.iter().all(|c| c["mapRunArn"] == map_run.as_str()));

    // Each child is an execution of its own in the table (it ran as one: its state is
    // kept, as any closed execution's), with nothing left to advance.
    let mut outputs = Vec::new();
    for child in children {
        let child_arn = child["executionArn"].as_str().expect("arn");
        let stored = h.record(child_arn).await;
        let left = cairn_serverless::Persisted::decode(&stored).expect("state");
        assert!(
            left.tasks.is_empty() && left.timers.is_empty(),
            "{child_arn}"
        );
        assert_eq!(stored.summary["mapRunArn"], map_run.as_str());
        let described = call("DescribeExecution", json!({"executionArn": child_arn})).await;
        assert_eq!(described["mapRunArn"], map_run.as_str(), "{described}");
        match described["status"].as_str() {
            Some("SUCCEEDED") => {
                let output: Value =
                    serde_json::from_str(described["output"].as_str().expect("output"))
                        .expect("json");
                outputs.push(output);
            }
            Some("FAILED") => assert_eq!(described["error"], "Odd.Three", "{described}"),
            other => panic!("child {child_arn} is {other:?}"),
        }
        let history = call("GetExecutionHistory", json!({"executionArn": child_arn})).await;
        assert_eq!(
            history["events"][0]["type"], "ExecutionStarted",
            "{history}"
        );
    }
    outputs.sort_by_key(|o| o["n"].as_i64());
    assert_eq!(outputs, [json!({"n": 1}), json!({"n": 2})]);
    // The children's state machine is the Map's label ARN, which StartExecution refuses with
    // AWS's reason in the error body, as cairn serve answers it.
    let label_machine = children[0]["stateMachineArn"].as_str().expect("machine");
    assert!(label_machine.ends_with("fanout/Each"), "{label_machine}");
    let request = api_request(
        "/",
        Some("StartExecution"),
        json!({"stateMachineArn": label_machine}),
    );
    let response = handle_request(&h.engine, &h.api, request).await;
    assert_eq!(response.status_code, 400);
    let body = text_body(&response);
    assert_eq!(body["__type"], "ValidationException", "{body}");
    assert_eq!(
        body["reason"], "API_DOES_NOT_SUPPORT_LABELED_ARNS",
        "{body}"
    );
}

/// Issue 16: an execution's state names its definition by key (the definition item is
/// written once); another container, whose store never met it, reads it back to advance the
/// execution and to answer DescribeStateMachineForExecution.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_container_runs_an_execution_by_its_definition_key() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    // A comment deflate cannot shrink away: a state carrying the text would hold all of it.
    let definition = json!({"Comment": noise(4, 40_000), "StartAt": "Nap", "States": {
        "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
        "Done": {"Type": "Pass", "Result": "ok", "End": true}}});
    let machine = h
        .create_machine("keyed", definition.clone(), "STANDARD")
        .await;
    let arn = h.start(&machine, json!({})).await;
    let running = h.record(&arn).await;
    assert_eq!(running.status, "RUNNING");
    assert!(
        running.state.len() < 10_000,
        "{} bytes of state",
        running.state.len()
    );
    let record = h.run_to_end_on(&h.other_engine(), &arn).await;
    assert_eq!(record.status, "SUCCEEDED");
    assert_eq!(h.count(&arn, "PassStateExited").await, 1);
    let api = cairn_serverless::shared_api(&h.other_engine());
    let request = json!({ "executionArn": arn });
    let out = tokio::task::spawn_blocking(move || {
        api.handle("DescribeStateMachineForExecution", request)
    })
    .await
    .expect("join")
    .expect("DescribeStateMachineForExecution");
    assert_eq!(out["definition"], definition.to_string());
}
