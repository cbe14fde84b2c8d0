//! Every sample in events/ round-trips through the typed event its function takes, and means
//! what the function will do with it.

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::SqsEvent;
use cairn_interpreter::Event;
use cairn_serverless::advance::AdvanceTrigger;
use cairn_serverless::api::{action_of, request_from_event};
use cairn_serverless::schedule::{execution_name, ScheduleTrigger, ScheduledStart};
use cairn_serverless::Message;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

fn sample(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("sample event");
    serde_json::from_str(&text).expect("sample is JSON")
}

/// Parses, serialises and parses again: the typed value must survive unchanged.
fn round_trip<T: DeserializeOwned + Serialize + std::fmt::Debug + PartialEq>(json: &Value) -> T {
    let typed: T = serde_json::from_value(json.clone()).expect("typed parse");
    let again: T =
        serde_json::from_value(serde_json::to_value(&typed).expect("serialise")).expect("reparse");
    assert_eq!(typed, again);
    typed
}

#[test]
fn api_samples_name_their_actions_and_carry_aws_json_bodies() {
    for (file, action, field) in [
        (
            "api-start-execution.json",
            "StartExecution",
            "stateMachineArn",
        ),
        (
            "api-start-sync-execution.json",
            "StartSyncExecution",
            "stateMachineArn",
        ),
    ] {
        let request: ApiGatewayProxyRequest = round_trip(&sample(file));
        assert_eq!(action_of(&request).as_deref(), Some(action), "{file}");
        let body: Value =
            serde_json::from_str(request.body.as_deref().unwrap_or("")).expect("body");
        assert!(body[field]
            .as_str()
            .is_some_and(|arn| arn.contains(":stateMachine:")));
    }
    // Without the header the path decides.
    let mut request: ApiGatewayProxyRequest = round_trip(&sample("api-start-sync-execution.json"));
    request.headers.clear();
    assert_eq!(action_of(&request).as_deref(), Some("StartSyncExecution"));
    request.path = Some("/DescribeExecution".into());
    assert_eq!(action_of(&request).as_deref(), Some("DescribeExecution"));
}

#[test]
fn api_takes_both_payload_formats_to_the_same_request() {
    // API Gateway's REST proxy (1.0) passes through as the typed 1.0 request.
    let rest = sample("api-start-sync-execution.json");
    let typed: ApiGatewayProxyRequest = serde_json::from_value(rest.clone()).expect("1.0");
    let from_rest = request_from_event(rest).expect("1.0 request");
    assert_eq!(from_rest, typed);

    // A Function URL (2.0) has no httpMethod: the 1.0 type alone refuses it.
    let url = sample("function-url-start-sync-execution.json");
    assert!(serde_json::from_value::<ApiGatewayProxyRequest>(url.clone()).is_err());
    let from_url = request_from_event(url.clone()).expect("2.0 request");
    assert_eq!(from_url.http_method.as_str(), "POST");
    assert_eq!(from_url.path.as_deref(), Some("/sync-executions"));
    assert_eq!(action_of(&from_url).as_deref(), Some("StartSyncExecution"));
    // The base64 body arrives decoded, the same AWS JSON body as the REST sample's.
    assert!(!from_url.is_base64_encoded);
    let body = |request: &ApiGatewayProxyRequest| -> Value {
        serde_json::from_str(request.body.as_deref().unwrap_or("")).expect("JSON body")
    };
    assert_eq!(body(&from_url), body(&from_rest));

    // A plain-text 2.0 body, and no target header: the path decides.
    let mut plain = url;
    plain["isBase64Encoded"] = Value::Bool(false);
    plain["body"] = Value::from(r#"{"executionArn":"arn:x"}"#);
    plain["headers"] = serde_json::json!({"content-type": "application/x-amz-json-1.0"});
    plain["rawPath"] = Value::from("/DescribeExecution");
    let request = request_from_event(plain).expect("plain 2.0 request");
    assert_eq!(action_of(&request).as_deref(), Some("DescribeExecution"));
    assert_eq!(body(&request)["executionArn"], "arn:x");
}

#[test]
fn advance_samples_carry_messages_for_the_engine() {
    let json = sample("advance-eventbridge.json");
    let event: EventBridgeEvent<Message> = round_trip(&json);
    assert_eq!(
        event.detail,
        Message::RunTask {
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:orders:order-1042"
                .into(),
            task_id: 1
        }
    );
    assert!(matches!(
        serde_json::from_value::<AdvanceTrigger>(json),
        Ok(AdvanceTrigger::EventBridge(_))
    ));

    let json = sample("advance-timer-sqs.json");
    let batch: SqsEvent = round_trip(&json);
    let body = batch.records[0].body.as_deref().unwrap_or("");
    let message: Message = serde_json::from_str(body).expect("timer message");
    assert_eq!(
        message,
        Message::Apply {
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:orders:order-1042"
                .into(),
            event: Event::TimerFired { timer_id: 2 }
        }
    );
    assert!(matches!(
        serde_json::from_value::<AdvanceTrigger>(json),
        Ok(AdvanceTrigger::Sqs(_))
    ));
}

#[test]
fn express_sample_is_a_queued_asynchronous_express_execution() {
    let json = sample("advance-express-sqs.json");
    let batch: SqsEvent = round_trip(&json);
    let body = batch.records[0].body.as_deref().unwrap_or("");
    let message: Message = serde_json::from_str(body).expect("express message");
    let Message::RunExpress(job) = &message else {
        panic!("not a queued Express execution: {message:?}");
    };
    assert_eq!(
        job.info.execution_arn,
        "arn:aws:states:us-east-1:123456789012:express:quotes:quote-17:4c5d0a3e-6f1b-4a3c-9d1e-2b7f5e8a9c01"
    );
    assert_eq!(
        job.info.machine_type,
        cairn_interpreter::MachineType::Express
    );
    assert_eq!(job.input_text, "{\"sku\":\"A-1\"}");
    assert!(job.definition.contains("\"StartAt\""));
    assert!(matches!(
        serde_json::from_value::<AdvanceTrigger>(json),
        Ok(AdvanceTrigger::Sqs(_))
    ));
}

/// Keeps the status events a run sends.
#[derive(Default)]
struct Kept(std::sync::Mutex<Vec<cairn_serverless::outbox::Outgoing>>);

impl cairn_serverless::outbox::Sink for Kept {
    fn send(
        &self,
        outgoing: Vec<cairn_serverless::outbox::Outgoing>,
        _now_ms: i64,
    ) -> Result<(), cairn_serverless::EngineError> {
        self.0.lock().expect("kept").extend(outgoing);
        Ok(())
    }
}

#[tokio::test]
async fn the_express_sample_runs_to_its_end_in_one_invocation() {
    let kept = std::sync::Arc::new(Kept::default());
    let engine = cairn_serverless::Engine::new(
        std::sync::Arc::new(cairn_store::MemoryStore::new()),
        cairn_serverless::Outbox::with_sink(cairn_serverless::Settings::default(), kept.clone()),
        std::sync::Arc::new(cairn_runtime::Unsupported),
        std::sync::Arc::new(cairn_runtime::SystemClock),
    );
    let batch: SqsEvent =
        serde_json::from_value(sample("advance-express-sqs.json")).expect("batch");
    let response = cairn_serverless::advance::handle_sqs(&engine, batch).await;
    assert!(response.batch_item_failures.is_empty());
    let statuses: Vec<(String, String)> = kept
        .0
        .lock()
        .expect("kept")
        .iter()
        .map(|sent| match sent {
            cairn_serverless::outbox::Outgoing::StatusChange { detail, .. } => (
                detail["status"].as_str().unwrap_or("").to_string(),
                detail["output"].as_str().unwrap_or("").to_string(),
            ),
            other => panic!("only status events: {other:?}"),
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("RUNNING".to_string(), String::new()),
            (
                "SUCCEEDED".to_string(),
                "{\"sku\":\"A-1\",\"price\":10}".to_string()
            )
        ]
    );
}

#[test]
fn schedule_sample_is_what_the_templates_scheduler_schedule_sends() {
    let start: ScheduledStart = round_trip(&sample("schedule.json"));
    assert_eq!(
        start.execution_name().as_deref(),
        Some("cairn-nightly-20251125T060000Z")
    );
    assert_eq!(start.input_text(), "{\"report\":\"daily\"}");
    assert!(matches!(
        serde_json::from_value::<ScheduleTrigger>(sample("schedule.json")),
        Ok(ScheduleTrigger::Scheduler(_))
    ));
    // The same keys as the template's sample schedule sends (its Target Input, whose
    // context attributes Scheduler fills in).
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml"),
    )
    .expect("template");
    for key in sample("schedule.json").as_object().expect("object").keys() {
        assert!(
            template.contains(&format!("\"{key}\":")),
            "template.yaml's schedule input lacks {key}"
        );
    }
}

#[test]
fn schedule_rule_sample_names_its_execution_after_the_event() {
    assert!(matches!(
        serde_json::from_value::<ScheduleTrigger>(sample("schedule-rule.json")),
        Ok(ScheduleTrigger::Rule(_))
    ));
    let event: EventBridgeEvent<Value> = round_trip(&sample("schedule-rule.json"));
    assert_eq!(event.detail_type, "Scheduled Event");
    assert_eq!(
        execution_name(&event),
        "schedule-53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa"
    );
}
