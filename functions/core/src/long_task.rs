//! Long Lambda tasks: a Lambda task whose TimeoutSeconds is longer than the advance function
//! can wait is invoked asynchronously (`InvocationType: Event`), and its result comes back as
//! the function's destination record on the Cairn bus ("Lambda Function Invocation Result -
//! Success/Failure"), which the advance function applies like any task result.
//!
//! The record names the invocation only by Lambda's request id, which the Invoke answer
//! gives: the run writes a lookup from that id to the task (a task-token item, `lambda:<id>`,
//! kept as the task's token so that whatever closes the task removes it) right after the
//! call, and holds the task's claim until the task's own timeout, so the sweep does not run it
//! again meanwhile. A record without a lookup fails: one that arrived before its lookup was
//! written comes again (EventBridge's and Lambda's retries) and applies; a duplicate, or one
//! for a task that ended meanwhile (its lookup went with it), is refused each time and
//! changes nothing.

use std::future::Future;
use std::pin::Pin;

use aws_sdk_lambda::operation::RequestId;
use cairn_interpreter::ResourceKind;
use cairn_runtime::TaskFailure;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `source` of Lambda's destination events on EventBridge.
pub const DESTINATION_SOURCE: &str = "lambda";
/// `detail-type` of a successful invocation's destination event.
pub const SUCCESS_DETAIL_TYPE: &str = "Lambda Function Invocation Result - Success";
/// `detail-type` of a failed invocation's destination event.
pub const FAILURE_DETAIL_TYPE: &str = "Lambda Function Invocation Result - Failure";

/// The task-token key under which a run records which task an invocation belongs to.
pub fn lookup_token(request_id: &str) -> String {
    format!("lambda:{request_id}")
}

/// Whether a task token is such a lookup (no signed or minted token has a colon).
pub fn is_lookup_token(token: &str) -> bool {
    token.starts_with("lambda:")
}

/// Starts Lambda invocations without waiting for them.
pub trait EventInvoker: Send + Sync {
    /// Invokes `function` (a name or ARN, with `qualifier`) asynchronously with `payload`;
    /// answers Lambda's request id, which its destination record carries.
    fn invoke_event<'a>(
        &'a self,
        function: &'a str,
        qualifier: Option<&'a str>,
        payload: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Result<String, TaskFailure>> + Send + 'a>>;

    /// The task's outcome from an invocation's destination record, shaped as the synchronous
    /// call of `kind` would give it (by default as Lambda and Step Functions do:
    /// [`aws_outcome`]).
    fn outcome(
        &self,
        record: &InvocationRecord,
        succeeded: bool,
        kind: &ResourceKind,
        now_ms: i64,
    ) -> Result<Value, TaskFailure> {
        aws_outcome(record, succeeded, kind, now_ms)
    }
}

/// A legacy Lambda resource's result is the payload and a function error's cause its error
/// document as sent; `lambda:invoke` wraps the payload as Step Functions does (`Payload`,
/// `StatusCode`, `SdkHttpMetadata`, ...) and re-serialises the error document.
pub fn aws_outcome(
    record: &InvocationRecord,
    succeeded: bool,
    kind: &ResourceKind,
    now_ms: i64,
) -> Result<Value, TaskFailure> {
    let legacy = *kind == ResourceKind::LambdaFunction;
    let payload = record.outcome(succeeded, !legacy)?;
    if legacy {
        return Ok(payload);
    }
    let content_length = payload.to_string().len();
    let executed_version = record
        .response_context
        .executed_version
        .clone()
        .unwrap_or_else(|| "$LATEST".into());
    Ok(cairn_runtime::lambda_invoke_output(
        cairn_runtime::InvokeAnswer {
            payload,
            request_id: &record.request_context.request_id,
            now_ms,
            content_length,
            executed_version: &executed_version,
            log_result: None,
        },
    ))
}

/// [`EventInvoker`] over Lambda's Invoke API.
pub struct LambdaEvents {
    client: aws_sdk_lambda::Client,
}

impl LambdaEvents {
    pub fn new(config: &aws_config::SdkConfig) -> LambdaEvents {
        LambdaEvents {
            client: aws_sdk_lambda::Client::new(config),
        }
    }
}

impl EventInvoker for LambdaEvents {
    fn invoke_event<'a>(
        &'a self,
        function: &'a str,
        qualifier: Option<&'a str>,
        payload: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Result<String, TaskFailure>> + Send + 'a>> {
        Box::pin(async move {
            let out = self
                .client
                .invoke()
                .function_name(function)
                .set_qualifier(qualifier.map(str::to_owned))
                .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
                .payload(aws_sdk_lambda::primitives::Blob::new(payload))
                .send()
                .await
                .map_err(|e| {
                    let service = e.as_service_error().map(|s| {
                        aws_sdk_lambda::error::ProvideErrorMetadata::code(s)
                            .unwrap_or("ServiceException")
                            .to_string()
                    });
                    TaskFailure::new(
                        format!(
                            "Lambda.{}",
                            service.as_deref().unwrap_or("SdkClientException")
                        ),
                        aws_sdk_lambda::error::DisplayErrorContext(e).to_string(),
                    )
                })?;
            out.request_id().map(str::to_owned).ok_or_else(|| {
                TaskFailure::new(
                    "Lambda.SdkClientException",
                    format!("Lambda's answer to the asynchronous invocation of {function} has no request id"),
                )
            })
        })
    }
}

/// The `detail` of a destination event (Lambda's invocation record).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvocationRecord {
    pub request_context: RequestContext,
    #[serde(default)]
    pub response_context: ResponseContext,
    #[serde(default)]
    pub response_payload: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestContext {
    pub request_id: String,
    #[serde(default)]
    pub function_arn: String,
    /// `Success`, `RetriesExhausted`, `EventAgeExceeded`.
    #[serde(default)]
    pub condition: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseContext {
    #[serde(default)]
    pub executed_version: Option<String>,
    /// `Unhandled` or `Handled` when the function raised.
    #[serde(default)]
    pub function_error: Option<String>,
}

impl InvocationRecord {
    /// The task's outcome as the synchronous call would have given it: the payload, or the
    /// function's `errorType` with its error document as the cause (`compact_cause`: the
    /// `lambda:invoke` integration re-serialises it, a legacy resource passes it on).
    pub fn outcome(&self, succeeded: bool, compact_cause: bool) -> Result<Value, TaskFailure> {
        if succeeded && self.response_context.function_error.is_none() {
            return Ok(self.response_payload.clone());
        }
        let error = self
            .response_payload
            .get("errorType")
            .and_then(Value::as_str)
            .unwrap_or("Lambda.Unknown")
            .to_string();
        let cause = match &self.response_payload {
            Value::Null => format!(
                "the asynchronous invocation ended with {}",
                self.request_context.condition
            ),
            Value::String(text) if !compact_cause => text.clone(),
            other => other.to_string(),
        };
        Err(TaskFailure {
            error,
            cause: Some(cause),
        })
    }
}
