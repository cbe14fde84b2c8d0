//! The `api` function: API Gateway (REST, proxy integration) in front of the Step Functions
//! actions. The actions that move an execution (StartExecution, StopExecution,
//! SendTaskSuccess/Failure/Heartbeat) go through the [`Engine`], so their follow-up work
//! leaves as messages; every other action (and StartSyncExecution, which runs an Express
//! execution to its end inside the invocation) is the shared [`cairn_api::Api`].
//!
//! Routing, in order: the AWS JSON 1.0 header `X-Amz-Target: AWSStepFunctions.<Action>`;
//! the path `/executions` (StartExecution) or `/sync-executions` (StartSyncExecution); the
//! last path segment as the action name.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderValue};
use cairn_api::{Api, ApiError};
use cairn_interpreter::Event;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

use crate::engine::{Applied, Engine, EngineError};

/// The request an api invocation carries, from either of the payloads that reach the api
/// function: API Gateway's REST proxy (payload format 1.0, the template's routes) or a Lambda
/// Function URL (payload format 2.0: `rawPath`, `requestContext.http.method`, a body that may
/// be base64), which the 1.0 type refuses for its missing `httpMethod`.
pub fn request_from_event(event: Value) -> Result<ApiGatewayProxyRequest, serde_json::Error> {
    let is_v2 = event.get("version").and_then(Value::as_str) == Some("2.0")
        || event.get("rawPath").is_some();
    if !is_v2 {
        return serde_json::from_value(event);
    }
    let context = event.get("requestContext").cloned().unwrap_or(json!({}));
    let method = context
        .pointer("/http/method")
        .cloned()
        .unwrap_or_else(|| json!("POST"));
    let mut body = event.get("body").cloned().unwrap_or(Value::Null);
    if event.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        let bytes: aws_lambda_events::encodings::Base64Data = serde_json::from_value(body)?;
        body = Value::from(String::from_utf8_lossy(&bytes).into_owned());
    }
    serde_json::from_value(json!({
        "path": event.get("rawPath").cloned().unwrap_or(Value::Null),
        "httpMethod": method,
        "headers": event.get("headers").cloned().unwrap_or(json!({})),
        "requestContext": {
            "accountId": context.get("accountId"),
            "requestId": context.get("requestId"),
            "apiId": context.get("apiId"),
            "stage": context.get("stage"),
            "httpMethod": method,
        },
        "body": body,
        "isBase64Encoded": false,
    }))
}

/// The action a request names, if any.
pub fn action_of(request: &ApiGatewayProxyRequest) -> Option<String> {
    let target = request
        .headers
        .iter()
        .find(|(name, _)| name.as_str().eq_ignore_ascii_case("x-amz-target"))
        .and_then(|(_, value)| value.to_str().ok());
    if let Some(target) = target {
        return target.strip_prefix("AWSStepFunctions.").map(str::to_string);
    }
    let path = request.path.as_deref().unwrap_or("");
    let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    match last {
        "executions" => Some("StartExecution".into()),
        "sync-executions" => Some("StartSyncExecution".into()),
        "" => None,
        other => Some(other.to_string()),
    }
}

fn response(status: i64, body: &Value) -> ApiGatewayProxyResponse {
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response.headers = headers;
    response.body = Some(Body::Text(body.to_string()));
    response
}

fn error_response(error: &ApiError) -> ApiGatewayProxyResponse {
    let status = if error.is_server_fault() { 500 } else { 400 };
    // The shared body, so a `reason` (API_DOES_NOT_SUPPORT_LABELED_ARNS, ...) reaches the
    // caller as it does from `cairn serve`.
    response(status, &error.wire_body())
}

fn internal(error: EngineError) -> ApiError {
    match error {
        EngineError::Api(api) => api,
        other => ApiError::new("InternalFailure", other.to_string()),
    }
}

/// Handles one API Gateway request.
pub async fn handle_request(
    engine: &Engine,
    api: &Api,
    request: ApiGatewayProxyRequest,
) -> ApiGatewayProxyResponse {
    let Some(action) = action_of(&request) else {
        return error_response(&ApiError::new(
            "UnknownOperationException",
            "The request names no action: send X-Amz-Target: AWSStepFunctions.<Action>",
        ));
    };
    let body = request.body.as_deref().unwrap_or("");
    let body: Value = if body.trim().is_empty() {
        json!({})
    } else {
        match cairn_api::names::parse_request(body.as_bytes()) {
            Ok(value) => value,
            Err(e) => {
                return error_response(&ApiError::new(
                    "SerializationException",
                    format!("the request body is not JSON: {e}"),
                ))
            }
        }
    };
    match handle_action(engine, api, &action, body).await {
        Ok(value) => response(200, &value),
        Err(error) => error_response(&error),
    }
}

/// A Distributed Map's label ARN (`…:stateMachine:<name>/<label>`) names the state machine
/// its children run, which StartExecution refuses with AWS's reason, as cairn serve does
/// (the engine would otherwise answer StateMachineDoesNotExist).
fn refuse_labeled_arn(arn: &str) -> Result<(), ApiError> {
    let labeled = cairn_api::names::parse_arn(arn).is_some_and(|parsed| {
        parsed.kind == "stateMachine"
            && parsed
                .rest
                .split_once('/')
                .is_some_and(|(name, label)| !name.is_empty() && !label.is_empty())
    });
    if labeled {
        return Err(ApiError::new(
            "ValidationException",
            "This API does not support Map Run labeled state machine ARNs",
        )
        .with_reason("API_DOES_NOT_SUPPORT_LABELED_ARNS"));
    }
    Ok(())
}

/// A required string member, with the shared actions' errors: absent (or null) is AWS's
/// validation error, another JSON type a SerializationException.
fn string<'a>(body: &'a Value, field: &str) -> Result<&'a str, ApiError> {
    match body.get(field).filter(|v| !v.is_null()) {
        None => Err(ApiError::new(
            "ValidationException",
            format!("1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"),
        )),
        Some(value) => value.as_str().ok_or_else(|| not_a_string(field)),
    }
}

fn opt_string(body: &Value, field: &str) -> Result<Option<String>, ApiError> {
    match body.get(field).filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(value) => value
            .as_str()
            .map(|text| Some(text.to_string()))
            .ok_or_else(|| not_a_string(field)),
    }
}

fn not_a_string(field: &str) -> ApiError {
    ApiError::new(
        "SerializationException",
        format!("'{field}' must be a string"),
    )
}

/// What the shared actions check before they act ([`cairn_api::validate_request`]: AWS's
/// request validation, from the service model's bounds), for the actions this function
/// carries out itself, so that both shells refuse a bad request alike.
fn check_request(engine: &Engine, action: &str, body: &Value) -> Result<(), ApiError> {
    if !body.is_object() {
        return Err(ApiError::new(
            "SerializationException",
            "The request body must be a JSON object",
        ));
    }
    cairn_api::validate_request(action, body, engine.limits.max_payload_bytes)?;
    // The members these actions read, of the types the shared actions require.
    let members: &[&str] = match action {
        "StartExecution" => &["stateMachineArn", "name", "input", "traceHeader"],
        "StopExecution" => &["executionArn", "error", "cause"],
        "SendTaskSuccess" => &["taskToken", "output"],
        "SendTaskFailure" => &["taskToken", "error", "cause"],
        "SendTaskHeartbeat" => &["taskToken"],
        "RedriveExecution" => &["executionArn", "clientToken"],
        _ => &[],
    };
    for member in members {
        opt_string(body, member)?;
    }
    Ok(())
}

/// The actions [`handle_action`] carries out itself rather than through the shared API
/// (which validates every request it is handed).
const OWN_ACTIONS: &[&str] = &[
    "StartExecution",
    "StopExecution",
    "SendTaskSuccess",
    "SendTaskFailure",
    "SendTaskHeartbeat",
    "RedriveExecution",
    "UpdateMapRun",
];

fn seconds(ms: i64) -> Value {
    Value::from(ms as f64 / 1000.0)
}

/// Runs one action.
pub async fn handle_action(
    engine: &Engine,
    api: &Api,
    action: &str,
    body: Value,
) -> Result<Value, ApiError> {
    if OWN_ACTIONS.contains(&action) {
        check_request(engine, action, &body)?;
    }
    match action {
        "StartExecution" if is_express(engine, &body).await => {
            // Queued, not run here: the Express function runs it (crate::express).
            crate::express::start_async(engine, &body).await
        }
        "GetActivityTask" => get_activity_task(api, body).await,
        "StartExecution" => {
            let machine = string(&body, "stateMachineArn")?;
            refuse_labeled_arn(machine)?;
            let started = engine
                .start_child(
                    machine,
                    body.get("name").and_then(Value::as_str),
                    body.get("input").and_then(Value::as_str),
                    cairn_api::persisted::ParentTask::from_request(&body),
                )
                .await
                .map_err(internal)?;
            Ok(
                json!({"executionArn": started.execution_arn, "startDate": seconds(started.start_ms)}),
            )
        }
        "StopExecution" => {
            let arn = string(&body, "executionArn")?;
            cairn_api::names::check_execution_arn(arn)?;
            let event = Event::Stop {
                error: opt_string(&body, "error")?,
                cause: opt_string(&body, "cause")?,
            };
            match engine.apply(arn, event).await.map_err(internal)? {
                Applied::Missing => Err(ApiError::new(
                    "ExecutionDoesNotExist",
                    format!("Execution Does Not Exist: '{arn}'"),
                )),
                _ => {
                    let stop = engine
                        .store
                        .get_execution(arn)
                        .await
                        .map_err(|e| internal(e.into()))?
                        .and_then(|(record, _)| record.stop_ms)
                        .unwrap_or_else(|| engine.now_ms());
                    Ok(json!({"stopDate": seconds(stop)}))
                }
            }
        }
        "SendTaskSuccess" | "SendTaskFailure" | "SendTaskHeartbeat" => {
            send_task_result(engine, action, &body).await
        }
        "RedriveExecution" => redrive(engine, &body).await,
        "UpdateMapRun" => {
            // The children it lets start leave as advance messages, through the engine.
            let checker = api.clone();
            let (arn, event) = tokio::task::spawn_blocking(move || checker.map_run_update(&body))
                .await
                .map_err(|e| ApiError::new("InternalFailure", e.to_string()))??;
            match engine.apply(&arn, event).await.map_err(internal)? {
                Applied::Missing => Err(cairn_api::names::execution_does_not_exist(&arn)),
                _ => Ok(json!({})),
            }
        }
        _ => {
            // The shared actions block (GetActivityTask long-polls): keep them off the
            // async threads.
            let api = api.clone();
            let action = action.to_string();
            tokio::task::spawn_blocking(move || api.handle(&action, body))
                .await
                .map_err(|e| ApiError::new("InternalFailure", e.to_string()))?
        }
    }
}

/// RedriveExecution through the engine, so that what the redrive asks for (tasks, timers)
/// goes out as advance messages. AWS's rules are the shared API's; a repeated `clientToken`
/// is not recognised here (a retry of a redrive that took effect is refused as RUNNING).
async fn redrive(engine: &Engine, body: &Value) -> Result<Value, ApiError> {
    let arn = string(body, "executionArn")?;
    cairn_api::names::check_execution_arn(arn)?;
    let missing = || cairn_api::names::execution_does_not_exist(arn);
    let read = || async {
        engine
            .store
            .get_execution(arn)
            .await
            .map_err(|e| internal(e.into()))?
            .map(|(record, _)| record)
            .ok_or_else(missing)
    };
    let record = read().await?;
    if let Some(reason) = redrive_blocker(engine, record.clone()).await? {
        return Err(cairn_api::redrive::not_redrivable(arn, &reason));
    }
    match engine.apply(arn, Event::Redrive).await.map_err(internal)? {
        Applied::Missing => Err(missing()),
        Applied::Applied(_) => {
            let record = read().await?;
            let date = record.summary["redriveDate"]
                .as_i64()
                .unwrap_or_else(|| engine.now_ms());
            Ok(json!({"redriveDate": seconds(date)}))
        }
        _ => {
            // Another writer got there first (a concurrent redrive, say).
            let record = read().await?;
            let reason = redrive_blocker(engine, record)
                .await?
                .unwrap_or_else(|| "Execution cannot be redriven".into());
            Err(cairn_api::redrive::not_redrivable(arn, &reason))
        }
    }
}

/// The shared API's redrive rules ([`cairn_api::redrive::blocker`]), which read the store
/// through the synchronous port: on a blocking thread, waiting on this runtime.
async fn redrive_blocker(
    engine: &Engine,
    record: cairn_store::ExecutionRecord,
) -> Result<Option<String>, ApiError> {
    let (store, now) = (engine.sync_store(), engine.now_ms());
    tokio::task::spawn_blocking(move || cairn_api::redrive::blocker(store.as_ref(), &record, now))
        .await
        .map_err(|e| ApiError::new("InternalFailure", e.to_string()))
}

/// How long GetActivityTask waits for a task; API Gateway ends a request after 29 s.
const ACTIVITY_POLL: Duration = Duration::from_secs(20);

/// GetActivityTask as a loop of short shared-API polls: tasks are queued by other
/// invocations, which cannot wake this one, so each round re-reads the queue.
async fn get_activity_task(api: &Api, body: Value) -> Result<Value, ApiError> {
    let until = Instant::now() + ACTIVITY_POLL;
    loop {
        let (api, request) = (api.clone(), body.clone());
        let out = tokio::task::spawn_blocking(move || api.handle("GetActivityTask", request))
            .await
            .map_err(|e| ApiError::new("InternalFailure", e.to_string()))??;
        if out.get("taskToken").is_some() || Instant::now() >= until {
            return Ok(out);
        }
    }
}

async fn is_express(engine: &Engine, body: &Value) -> bool {
    let Some(arn) = body.get("stateMachineArn").and_then(Value::as_str) else {
        return false;
    };
    // A version or alias has its state machine's type (UpdateStateMachine cannot change it).
    let Ok(base) = cairn_api::Driver::start_base(arn) else {
        return false;
    };
    matches!(
        engine.store.get_state_machine(&base).await,
        Ok(Some((record, _))) if record.document.get("type").and_then(Value::as_str) == Some("EXPRESS")
    )
}

fn task_gone() -> ApiError {
    ApiError::new(
        "TaskTimedOut",
        "Task Timed Out: 'Provided task does not exist anymore'",
    )
}

async fn send_task_result(engine: &Engine, action: &str, body: &Value) -> Result<Value, ApiError> {
    let token = string(body, "taskToken")?;
    if !engine.token_is_genuine(token) {
        return Err(ApiError::new("InvalidToken", "Invalid token"));
    }
    let Some(record) = engine
        .store
        .get_task_token(token)
        .await
        .map_err(|e| internal(e.into()))?
    else {
        return Err(task_gone());
    };
    let task_id = record.task_id;
    let event = match action {
        "SendTaskSuccess" => {
            let text = string(body, "output")?;
            let output = serde_json::from_str(text)
                .map_err(|e| ApiError::new("InvalidOutput", format!("Invalid Output: '{e}'")))?;
            Event::TaskSucceeded { task_id, output }
        }
        "SendTaskFailure" => Event::TaskFailed {
            task_id,
            error: opt_string(body, "error")?,
            cause: opt_string(body, "cause")?,
        },
        _ => Event::Heartbeat { task_id },
    };
    match engine
        .apply(&record.execution_arn, event)
        .await
        .map_err(internal)?
    {
        Applied::Applied(_) => Ok(json!({})),
        _ => Err(task_gone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(response: &ApiGatewayProxyResponse) -> Value {
        match &response.body {
            Some(Body::Text(text)) => serde_json::from_str(text).expect("JSON body"),
            other => panic!("not a text body: {other:?}"),
        }
    }

    #[test]
    fn error_bodies_carry_the_reason_as_cairn_serve_does() {
        let error = ApiError::new("ValidationException", "labeled")
            .with_reason("API_DOES_NOT_SUPPORT_LABELED_ARNS");
        let response = error_response(&error);
        assert_eq!(response.status_code, 400);
        assert_eq!(body_of(&response), error.wire_body());
        assert_eq!(
            body_of(&response)["reason"],
            "API_DOES_NOT_SUPPORT_LABELED_ARNS"
        );
        assert_eq!(body_of(&response)["__type"], "ValidationException");

        // No reason, no field; a server fault is a 500.
        let response = error_response(&ApiError::new("InternalFailure", "boom"));
        assert_eq!(response.status_code, 500);
        let body = body_of(&response);
        assert!(body.get("reason").is_none(), "{body}");
        assert_eq!(body["message"], "boom");
    }
}
