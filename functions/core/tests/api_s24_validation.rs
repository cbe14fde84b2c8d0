//! The api function's own actions (StartExecution, StopExecution, SendTask*, RedriveExecution)
//! refuse a bad request as the shared actions of `cairn serve` do: AWS's request validation
//! first, then the actions' own checks. Over the in-memory store, no emulator needed.

use std::sync::Arc;

use cairn_api::{Api, ApiError};
use cairn_serverless::api::{handle_action, handle_request, request_from_event};
use cairn_serverless::outbox::{Outgoing, Sink};
use cairn_serverless::{Engine, EngineError, Outbox, Settings};
use serde_json::{json, Value};

struct Discard;

impl Sink for Discard {
    fn send(&self, _: Vec<Outgoing>, _: i64) -> Result<(), EngineError> {
        Ok(())
    }
}

const ROLE: &str = "arn:aws:iam::123456789012:role/r";

fn engine() -> Engine {
    Engine::new(
        Arc::new(cairn_store::MemoryStore::new()),
        Outbox::with_sink(
            Settings {
                region: "us-east-1".into(),
                account: "123456789012".into(),
                ..Settings::default()
            },
            Arc::new(Discard),
        ),
        Arc::new(cairn_runtime::Unsupported),
        Arc::new(cairn_runtime::SystemClock),
    )
}

/// The shared API's answer (as cairn serve gives it), off the async threads.
async fn shared(api: &Api, action: &str, body: &Value) -> Result<Value, ApiError> {
    let (api, action, body) = (api.clone(), action.to_string(), body.clone());
    tokio::task::spawn_blocking(move || api.handle(&action, body))
        .await
        .expect("join")
}

async fn create_machine(api: &Api, name: &str) -> String {
    let definition =
        r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}}"#;
    let created = shared(
        api,
        "CreateStateMachine",
        &json!({"name": name, "definition": definition, "roleArn": ROLE}),
    )
    .await
    .expect("created");
    created["stateMachineArn"].as_str().unwrap().to_string()
}

fn error_of(result: Result<Value, ApiError>) -> (String, String) {
    match result {
        Ok(value) => panic!("should be refused, answered {value}"),
        Err(error) => (error.error_type, error.message),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_functions_own_actions_refuse_bad_requests_as_cairn_serve_does() {
    let engine = engine();
    let api = cairn_serverless::shared_api(&engine);
    let machine = create_machine(&api, "m").await;
    let missing = "arn:aws:states:us-east-1:123456789012:stateMachine:missing";
    let execution = "arn:aws:states:us-east-1:123456789012:execution:m:e";
    // Valid as a token's length, and never issued.
    let token = "t".repeat(2048);
    let validation = |problem: &str| {
        (
            "ValidationException".to_string(),
            format!("1 validation error detected: {problem}"),
        )
    };
    let long_name = "n".repeat(81);
    let cases: Vec<(&str, Value, (String, String))> = vec![
        (
            // The name's length is judged before the state machine's existence.
            "StartExecution",
            json!({"stateMachineArn": missing, "name": long_name}),
            validation(&format!("Value '{long_name}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80")),
        ),
        (
            // 131,073 two-byte characters: within AWS's bound in characters, not in bytes.
            "StartExecution",
            json!({"stateMachineArn": machine, "input": format!("\"{}\"", "é".repeat(131_073))}),
            validation("Value at 'input' failed to satisfy constraint: Member must have size less than or equal to 262144 bytes in UTF-8 encoding"),
        ),
        (
            "StartExecution",
            json!({"stateMachineArn": format!("{missing}{}", "x".repeat(200))}),
            validation(&format!("Value '{missing}{}' at 'stateMachineArn' failed to satisfy constraint: Member must have length less than or equal to 256", "x".repeat(200))),
        ),
        (
            "StartExecution",
            json!({"stateMachineArn": machine, "name": 7}),
            ("SerializationException".to_string(), "'name' must be a string".to_string()),
        ),
        (
            "StartExecution",
            json!(["not", "an", "object"]),
            ("SerializationException".to_string(), "The request body must be a JSON object".to_string()),
        ),
        (
            "StartExecution",
            json!({"stateMachineArn": "m"}),
            ("InvalidArn".to_string(), "Invalid Arn: 'Invalid ARN prefix: m'".to_string()),
        ),
        (
            "StopExecution",
            json!({"executionArn": "abc"}),
            ("InvalidArn".to_string(), "Invalid Arn: 'Invalid ARN prefix: abc'".to_string()),
        ),
        (
            "StopExecution",
            json!({"executionArn": machine}),
            ("InvalidArn".to_string(), "Invalid Arn: 'Resource type not valid in this context: stateMachine'".to_string()),
        ),
        (
            "StopExecution",
            json!({"executionArn": execution, "cause": "c".repeat(32_769)}),
            validation("Value at 'cause' failed to satisfy constraint: Member must have length less than or equal to 32768"),
        ),
        (
            "StopExecution",
            json!({"executionArn": execution, "error": 5}),
            ("SerializationException".to_string(), "'error' must be a string".to_string()),
        ),
        (
            "SendTaskSuccess",
            json!({"taskToken": "t".repeat(2049), "output": "{}"}),
            validation(&format!("Value '{}' at 'taskToken' failed to satisfy constraint: Member must have length less than or equal to 2048", "t".repeat(2049))),
        ),
        (
            "SendTaskSuccess",
            json!({"taskToken": token}),
            validation("Value null at 'output' failed to satisfy constraint: Member must not be null"),
        ),
        (
            "SendTaskFailure",
            json!({"taskToken": token, "error": "e".repeat(257)}),
            validation("Value at 'error' failed to satisfy constraint: Member must have length less than or equal to 256"),
        ),
        (
            "SendTaskHeartbeat",
            json!({"taskToken": ""}),
            validation("Value '' at 'taskToken' failed to satisfy constraint: Member must have length greater than or equal to 1"),
        ),
        (
            "RedriveExecution",
            json!({"executionArn": "abc"}),
            ("InvalidArn".to_string(), "Invalid Arn: 'Invalid ARN prefix: abc'".to_string()),
        ),
    ];
    for (action, body, expected) in cases {
        let own = error_of(handle_action(&engine, &api, action, body.clone()).await);
        assert_eq!(own, expected, "{action} {:.200}", body.to_string());
        let served = error_of(shared(&api, action, &body).await);
        assert_eq!(own, served, "{action}: the two shells differ");
    }

    // A good request still starts, and a second name length is still only InvalidName.
    let started = handle_action(
        &engine,
        &api,
        "StartExecution",
        json!({"stateMachineArn": machine, "name": "ok"}),
    )
    .await
    .expect("started");
    assert_eq!(
        started["executionArn"],
        "arn:aws:states:us-east-1:123456789012:execution:m:ok"
    );
    let named = error_of(
        handle_action(
            &engine,
            &api,
            "StartExecution",
            json!({"stateMachineArn": machine, "name": "a b"}),
        )
        .await,
    );
    assert_eq!(named.0, "InvalidName");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_escaping_an_unpaired_surrogate_is_an_invalid_name() {
    let engine = engine();
    let api = cairn_serverless::shared_api(&engine);
    let machine = create_machine(&api, "m").await;
    let body = format!(r#"{{"stateMachineArn": "{machine}", "name": "a\ud800"}}"#);
    let request = request_from_event(json!({
        "version": "2.0",
        "rawPath": "/",
        "headers": {"x-amz-target": "AWSStepFunctions.StartExecution"},
        "requestContext": {"http": {"method": "POST"}},
        "body": body,
    }))
    .expect("request");
    let response = handle_request(&engine, &api, request).await;
    assert_eq!(response.status_code, 400);
    let text = match &response.body {
        Some(aws_lambda_events::encodings::Body::Text(text)) => text.clone(),
        other => panic!("not a text body: {other:?}"),
    };
    let answer: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(answer["__type"], "InvalidName", "{answer}");
}
