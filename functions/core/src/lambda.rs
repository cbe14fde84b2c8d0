//! Lambda tasks through `aws-sdk-lambda`: legacy `arn:aws:lambda:...:function:...` resources
//! and the `arn:aws:states:::lambda:invoke` integration, invoked RequestResponse from the
//! advance invocation that runs the task (see functions/README.md for why not Event).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_lambda::primitives::Blob;
use cairn_interpreter::ResourceKind;
use cairn_runtime::{
    lambda_invoke_output, unsupported, InvokeAnswer, TaskFailure, TaskInvoker, TaskOutcome,
    TaskRequest,
};
use serde_json::{Map, Value};

/// Invokes Lambda functions; every other resource fails with `Cairn.UnsupportedResource`.
pub struct LambdaInvoker {
    client: aws_sdk_lambda::Client,
    rt: Option<tokio::runtime::Runtime>,
    /// Lambda requests made (for the cost bench).
    pub invocations: AtomicU64,
}

impl Drop for LambdaInvoker {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl LambdaInvoker {
    pub fn new(config: &aws_config::SdkConfig) -> std::io::Result<LambdaInvoker> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("cairn-lambda")
            .enable_all()
            .build()?;
        Ok(LambdaInvoker {
            client: aws_sdk_lambda::Client::new(config),
            rt: Some(rt),
            invocations: AtomicU64::new(0),
        })
    }

    /// Runs a future on the invoker's own runtime: `invoke` is called from blocking threads.
    fn run<T: Send + 'static>(&self, fut: impl Future<Output = T> + Send + 'static) -> Option<T> {
        let rt = self.rt.as_ref()?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().ok()
    }

    fn call(
        &self,
        function: &str,
        event: Option<&Value>,
        legacy: bool,
        now_ms: i64,
    ) -> TaskOutcome {
        self.invocations.fetch_add(1, Ordering::Relaxed);
        let mut request = self.client.invoke().function_name(function);
        if let Some(event) = event {
            request = request.payload(Blob::new(event.to_string()));
        }
        let Some(result) = self.run(async move { request.send().await }) else {
            return TaskOutcome::now(Err(TaskFailure::new(
                "Lambda.Unknown",
                "the Lambda request was dropped unfinished",
            )));
        };
        let out = match result {
            Ok(out) => out,
            Err(err) => {
                let code = err
                    .as_service_error()
                    .and_then(|e| aws_sdk_lambda::error::ProvideErrorMetadata::code(e))
                    .unwrap_or("Unknown")
                    .to_string();
                let cause = aws_sdk_lambda::error::DisplayErrorContext(&err).to_string();
                return TaskOutcome::now(Err(TaskFailure::new(format!("Lambda.{code}"), cause)));
            }
        };
        let bytes = out
            .payload()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let payload: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            match serde_json::from_str(&text) {
                Ok(value) => value,
                Err(_) => Value::String(text.clone()),
            }
        };
        if out.function_error().is_some() {
            // The runtime's error object: errorType names the error, the whole object is
            // the cause (compact for the integration, as the function sent it for legacy).
            let error = payload
                .get("errorType")
                .and_then(Value::as_str)
                .unwrap_or("Lambda.Unknown")
                .to_string();
            let cause = if legacy { text } else { payload.to_string() };
            return TaskOutcome::now(Err(TaskFailure::new(error, cause)));
        }
        if legacy {
            return TaskOutcome::now(Ok(payload));
        }
        let request_id = aws_sdk_lambda::operation::RequestId::request_id(&out)
            .unwrap_or("")
            .to_string();
        TaskOutcome::now(Ok(lambda_invoke_output(InvokeAnswer {
            content_length: bytes.len(),
            payload,
            request_id: &request_id,
            now_ms,
            executed_version: out.executed_version().unwrap_or("$LATEST"),
            log_result: out.log_result(),
        })))
    }
}

impl TaskInvoker for LambdaInvoker {
    fn invoke(&self, request: &TaskRequest) -> TaskOutcome {
        match &request.kind {
            ResourceKind::LambdaFunction => self.call(
                &request.resource,
                Some(&request.input),
                true,
                request.now_ms,
            ),
            ResourceKind::Service {
                service, action, ..
            } if service == "lambda" && action == "invoke" => {
                let Some(name) = request.input.get("FunctionName").and_then(Value::as_str) else {
                    return TaskOutcome::now(Err(TaskFailure::new(
                        "States.Runtime",
                        "lambda:invoke needs a string FunctionName parameter",
                    )));
                };
                // A string Payload is the request body itself; none or null sends `{}`.
                let event = match request.input.get("Payload") {
                    None | Some(Value::Null) => Value::Object(Map::new()),
                    Some(Value::String(text)) => {
                        serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()))
                    }
                    Some(other) => other.clone(),
                };
                self.call(name, Some(&event), false, request.now_ms)
            }
            _ => TaskOutcome::now(Err(unsupported(&request.resource))),
        }
    }
}
