//! Lambda tasks: a legacy `arn:aws:lambda:...:function:...` resource and the
//! `arn:aws:states:::lambda:invoke` integration, through `aws-sdk-lambda`.

use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::operation::invoke::InvokeError;
use aws_sdk_lambda::operation::RequestId;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{InvocationType, LogType};
use cairn_runtime::{lambda_invoke_output, InvokeAnswer, TaskFailure, TaskRequest};
use serde_json::{Map, Value};

/// A legacy resource: the state's input is the event, the function's answer the result, and
/// a function error passes its text on unchanged.
pub(crate) async fn invoke_legacy(
    client: &aws_sdk_lambda::Client,
    request: &TaskRequest,
) -> Result<Value, TaskFailure> {
    let call = Call {
        function: request.resource.clone(),
        body: Some(serde_json::to_vec(&request.input).unwrap_or_default()),
        ..Call::default()
    };
    let answer = call_lambda(client, call).await?;
    let text = String::from_utf8_lossy(&answer.body).into_owned();
    match answer.function_error {
        Some(_) => Err(function_failure(&text, text.clone())),
        None => Ok(decode_payload(&text)),
    }
}

/// `lambda:invoke`: Lambda's Invoke response as Step Functions shapes it (`Payload`,
/// `StatusCode`, `SdkHttpMetadata`, ...).
pub(crate) async fn invoke_integration(
    client: &aws_sdk_lambda::Client,
    request: &TaskRequest,
) -> Result<Value, TaskFailure> {
    let input = &request.input;
    let Some(function) = input.get("FunctionName").and_then(Value::as_str) else {
        return Err(TaskFailure::new(
            "States.Runtime",
            "lambda:invoke needs a string FunctionName parameter",
        ));
    };
    let text = |key: &str| input.get(key).and_then(Value::as_str).map(str::to_owned);
    // A string Payload is the request body itself; an absent or null one sends none.
    let body = match input.get("Payload") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone().into_bytes()),
        Some(payload) => Some(serde_json::to_vec(payload).unwrap_or_default()),
    };
    let call = Call {
        function: function.to_owned(),
        body,
        qualifier: text("Qualifier"),
        invocation_type: text("InvocationType"),
        log_type: text("LogType"),
        client_context: text("ClientContext"),
    };
    let answer = call_lambda(client, call).await?;
    let text = String::from_utf8_lossy(&answer.body).into_owned();
    if answer.function_error.is_some() {
        // The integration re-serialises the error document compactly.
        let cause = serde_json::from_str::<Value>(&text)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| text.clone());
        return Err(function_failure(&text, cause));
    }
    Ok(lambda_invoke_output(InvokeAnswer {
        payload: decode_payload(&text),
        request_id: &answer.request_id,
        now_ms: request.now_ms,
        content_length: answer.body.len(),
        executed_version: &answer.executed_version,
        log_result: answer.log_result.as_deref(),
    }))
}

#[derive(Debug, Default)]
struct Call {
    function: String,
    body: Option<Vec<u8>>,
    qualifier: Option<String>,
    invocation_type: Option<String>,
    log_type: Option<String>,
    client_context: Option<String>,
}

struct Answer {
    request_id: String,
    function_error: Option<String>,
    executed_version: String,
    log_result: Option<String>,
    body: Vec<u8>,
}

async fn call_lambda(client: &aws_sdk_lambda::Client, call: Call) -> Result<Answer, TaskFailure> {
    let mut invoke = client
        .invoke()
        .function_name(call.function.clone())
        .set_qualifier(call.qualifier)
        .set_invocation_type(call.invocation_type.as_deref().map(InvocationType::from))
        .set_log_type(call.log_type.as_deref().map(LogType::from))
        .set_client_context(call.client_context);
    if let Some(body) = call.body {
        invoke = invoke.payload(Blob::new(body));
    }
    match invoke.send().await {
        Ok(output) => Ok(Answer {
            request_id: output.request_id().unwrap_or_default().to_owned(),
            function_error: output.function_error().map(str::to_owned),
            executed_version: output.executed_version().unwrap_or("$LATEST").to_owned(),
            log_result: output.log_result().map(str::to_owned),
            body: output
                .payload()
                .map(|blob| blob.as_ref().to_vec())
                .unwrap_or_default(),
        }),
        Err(err) => Err(sdk_failure(&call.function, err)),
    }
}

/// The payload as JSON, or as a string when the function returned something else.
fn decode_payload(text: &str) -> Value {
    if text.is_empty() {
        return Value::Object(Map::new());
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// A function that raised: its `errorType` is the error name, its error document the cause.
fn function_failure(document: &str, cause: String) -> TaskFailure {
    let error = serde_json::from_str::<Value>(document)
        .ok()
        .and_then(|v| {
            v.get("errorType")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "Lambda.Unknown".to_owned());
    TaskFailure {
        error,
        cause: Some(cause),
    }
}

/// Lambda API errors read as the Java SDK behind Step Functions words them.
fn sdk_failure(function: &str, err: SdkError<InvokeError>) -> TaskFailure {
    match err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let error = service.err();
            let code = error.code().unwrap_or("Unknown").to_owned();
            let message = error.message().unwrap_or("").to_owned();
            let request_id = error.meta().request_id().unwrap_or("").to_owned();
            TaskFailure::new(
                format!("Lambda.{code}"),
                format!(
                    "{message} (Service: AWSLambda; Status Code: {status}; Error Code: {code}; \
                     Request ID: {request_id}; Proxy: null)"
                ),
            )
        }
        other => TaskFailure::new(
            "Lambda.SdkClientException",
            format!(
                "calling Lambda function '{function}' failed: {}",
                describe(&other)
            ),
        ),
    }
}

fn describe(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
