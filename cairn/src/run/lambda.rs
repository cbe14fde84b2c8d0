//! Lambda tasks of `cairn run` through the AWS SDK: a legacy `arn:aws:lambda:...:function:...`
//! resource and the `arn:aws:states:::lambda:invoke` integration. The SDK's usual settings
//! apply (`AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_LAMBDA`, `AWS_REGION`, credentials chain), so it
//! reaches real Lambda or an emulator alike. Other resources go to the fallback invoker.

use std::sync::{Arc, OnceLock};

use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::operation::invoke::InvokeError;
use aws_sdk_lambda::operation::RequestId;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{InvocationType, LogType};
use cairn_interpreter::ResourceKind;
use cairn_runtime::{
    lambda_invoke_output, InvokeAnswer, TaskFailure, TaskInvoker, TaskOutcome, TaskRequest,
};
use serde_json::{Map, Value};

/// How the SDK client is configured: from the environment, or pinned (tests).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    /// Static credentials (access key id, secret), instead of the default chain.
    pub static_credentials: Option<(String, String)>,
}

struct Connected {
    runtime: tokio::runtime::Runtime,
    client: aws_sdk_lambda::Client,
}

/// Calls Lambda for Lambda tasks; everything else goes to `fallback`.
pub struct AwsLambda {
    settings: Settings,
    /// Connected on the first Lambda task, so runs without one need no AWS configuration.
    connected: OnceLock<Result<Connected, String>>,
    fallback: Arc<dyn TaskInvoker>,
}

impl AwsLambda {
    pub fn new(settings: Settings, fallback: Arc<dyn TaskInvoker>) -> AwsLambda {
        AwsLambda {
            settings,
            connected: OnceLock::new(),
            fallback,
        }
    }

    fn connect(&self) -> Result<&Connected, TaskFailure> {
        let connected = self.connected.get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|err| format!("cannot start the AWS client runtime: {err}"))?;
            let settings = self.settings.clone();
            let config = runtime.block_on(async move {
                let region = aws_config::meta::region::RegionProviderChain::first_try(
                    settings.region.map(aws_config::Region::new),
                )
                .or_default_provider()
                .or_else("us-east-1");
                let mut loader =
                    aws_config::defaults(aws_config::BehaviorVersion::latest()).region(region);
                if let Some(url) = settings.endpoint_url {
                    loader = loader.endpoint_url(url);
                }
                if let Some((id, secret)) = settings.static_credentials {
                    loader = loader.credentials_provider(aws_sdk_lambda::config::Credentials::new(
                        id, secret, None, None, "cairn",
                    ));
                }
                loader.load().await
            });
            Ok(Connected {
                runtime,
                client: aws_sdk_lambda::Client::new(&config),
            })
        });
        connected
            .as_ref()
            .map_err(|message| TaskFailure::new("Lambda.SdkClientException", message.clone()))
    }

    fn call(&self, call: Call) -> Result<Answer, TaskFailure> {
        let connected = self.connect()?;
        let mut invoke = connected
            .client
            .invoke()
            .function_name(call.function.clone())
            .set_qualifier(call.qualifier)
            .set_invocation_type(call.invocation_type.as_deref().map(InvocationType::from))
            .set_log_type(call.log_type.as_deref().map(LogType::from))
            .set_client_context(call.client_context);
        if let Some(body) = call.body {
            invoke = invoke.payload(Blob::new(body));
        }
        match connected.runtime.block_on(invoke.send()) {
            Ok(output) => {
                let body = output
                    .payload()
                    .map(|blob| blob.as_ref().to_vec())
                    .unwrap_or_default();
                Ok(Answer {
                    request_id: output.request_id().unwrap_or_default().to_owned(),
                    function_error: output.function_error().map(str::to_owned),
                    executed_version: output.executed_version().unwrap_or("$LATEST").to_owned(),
                    log_result: output.log_result().map(str::to_owned),
                    body,
                })
            }
            Err(err) => Err(sdk_failure(&call.function, err)),
        }
    }

    fn invoke_legacy(&self, request: &TaskRequest) -> TaskOutcome {
        let body = serde_json::to_vec(&request.input).unwrap_or_default();
        let call = Call {
            function: request.resource.clone(),
            body: Some(body),
            ..Call::default()
        };
        let result = self.call(call).and_then(|answer| {
            let text = String::from_utf8_lossy(&answer.body).into_owned();
            match answer.function_error {
                // A legacy resource passes the function's error text on unchanged.
                Some(_) => Err(function_failure(&text, text.clone())),
                None => Ok(decode_payload(&text)),
            }
        });
        TaskOutcome::now(result)
    }

    fn invoke_integration(&self, request: &TaskRequest) -> TaskOutcome {
        let input = &request.input;
        let Some(function) = input.get("FunctionName").and_then(Value::as_str) else {
            return TaskOutcome::now(Err(TaskFailure::new(
                "States.Runtime",
                "lambda:invoke needs a string FunctionName parameter",
            )));
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
        let now_ms = request.now_ms;
        let result = self.call(call).and_then(|answer| {
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
                now_ms,
                content_length: answer.body.len(),
                executed_version: &answer.executed_version,
                log_result: answer.log_result.as_deref(),
            }))
        });
        TaskOutcome::now(result)
    }
}

impl TaskInvoker for AwsLambda {
    fn invoke(&self, request: &TaskRequest) -> TaskOutcome {
        match &request.kind {
            ResourceKind::LambdaFunction => self.invoke_legacy(request),
            ResourceKind::Service {
                service, action, ..
            } if service == "lambda" && action == "invoke" => self.invoke_integration(request),
            _ => self.fallback.invoke(request),
        }
    }
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

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};

    use cairn_interpreter::IntegrationPattern;
    use cairn_runtime::Unsupported;
    use serde_json::json;

    use super::*;

    /// A stand-in for Lambda's Invoke API on a local port: `echo` returns its payload,
    /// `boom` raises, every other function does not exist.
    fn fake_lambda() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || serve(stream));
            }
        });
        url
    }

    fn serve(stream: TcpStream) {
        let Ok(mut writer) = stream.try_clone() else {
            return;
        };
        let mut reader = BufReader::new(stream);
        loop {
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                return;
            }
            let mut length = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 {
                    return;
                }
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("");
            // The path holds the function's name or its URL-encoded ARN, as Lambda accepts.
            let function = path
                .strip_prefix("/2015-03-31/functions/")
                .and_then(|rest| rest.split('/').next())
                .unwrap_or("")
                .replace("%3A", ":");
            let function = function
                .rsplit_once(":function:")
                .map_or(function.as_str(), |(_, name)| name);
            let (status, headers, body) = match function {
                "echo" => {
                    let body = if body.is_empty() { b"{}".to_vec() } else { body };
                    ("200 OK", "X-Amz-Executed-Version: $LATEST\r\nx-amzn-RequestId: req-echo\r\n", body)
                }
                "boom" => (
                    "200 OK",
                    "X-Amz-Executed-Version: $LATEST\r\nX-Amz-Function-Error: Unhandled\r\nx-amzn-RequestId: req-boom\r\n",
                    br#"{"errorMessage": "bad input", "errorType": "ValueError", "requestId": "req-boom", "stackTrace": []}"#.to_vec(),
                ),
                other => (
                    "404 Not Found",
                    "x-amzn-ErrorType: ResourceNotFoundException\r\nx-amzn-RequestId: req-missing\r\n",
                    format!(
                        r#"{{"Type":"User","message":"Function not found: arn:aws:lambda:us-east-1:123456789012:function:{other}"}}"#
                    )
                    .into_bytes(),
                ),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\n\r\n",
                body.len()
            );
            if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&body).is_err() {
                return;
            }
        }
    }

    fn invoker() -> AwsLambda {
        AwsLambda::new(
            Settings {
                endpoint_url: Some(fake_lambda()),
                region: Some("us-east-1".into()),
                static_credentials: Some(("test".into(), "test".into())),
            },
            Arc::new(Unsupported),
        )
    }

    fn request(kind: ResourceKind, resource: &str, input: Value) -> TaskRequest {
        TaskRequest {
            task_id: 1,
            state_name: "T".into(),
            resource: resource.into(),
            kind,
            input,
            task_token: None,
            credentials: None,
            now_ms: 1_700_000_000_000,
        }
    }

    fn integration(input: Value) -> TaskRequest {
        let kind = ResourceKind::Service {
            service: "lambda".into(),
            action: "invoke".into(),
            pattern: IntegrationPattern::RequestResponse,
        };
        request(kind, "arn:aws:states:::lambda:invoke", input)
    }

    fn legacy(function: &str, input: Value) -> TaskRequest {
        let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{function}");
        request(ResourceKind::LambdaFunction, &arn, input)
    }

    #[test]
    fn integration_returns_lambdas_invoke_response() {
        let lambda = invoker();
        let out = lambda
            .invoke(&integration(
                json!({"FunctionName": "echo", "Payload": {"a": 1}}),
            ))
            .result
            .expect("echo succeeds");
        assert_eq!(out["Payload"], json!({"a": 1}));
        assert_eq!(out["StatusCode"], 200);
        assert_eq!(out["ExecutedVersion"], "$LATEST");
        assert_eq!(out["SdkResponseMetadata"]["RequestId"], "req-echo");
        assert_eq!(out["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"], "7");
        // A string payload is the request body itself.
        let out = lambda
            .invoke(&integration(
                json!({"FunctionName": "echo", "Payload": "0"}),
            ))
            .result
            .expect("echo succeeds");
        assert_eq!(out["Payload"], json!(0));
    }

    #[test]
    fn legacy_resource_returns_the_payload() {
        let out = invoker()
            .invoke(&legacy("echo", json!({"k": [1, 2]})))
            .result
            .expect("echo succeeds");
        assert_eq!(out, json!({"k": [1, 2]}));
    }

    #[test]
    fn function_errors_become_task_failures() {
        let lambda = invoker();
        let failure = lambda
            .invoke(&integration(json!({"FunctionName": "boom"})))
            .result
            .expect_err("boom raises");
        assert_eq!(failure.error, "ValueError");
        assert_eq!(
            failure.cause.as_deref(),
            Some(
                r#"{"errorMessage":"bad input","errorType":"ValueError","requestId":"req-boom","stackTrace":[]}"#
            )
        );
        let failure = lambda
            .invoke(&legacy("boom", json!({})))
            .result
            .expect_err("boom raises");
        assert_eq!(failure.error, "ValueError");
        assert!(failure
            .cause
            .as_deref()
            .is_some_and(|c| c.starts_with(r#"{"errorMessage": "bad input", "#)));
    }

    #[test]
    fn missing_functions_are_resource_not_found() {
        let failure = invoker()
            .invoke(&integration(
                json!({"FunctionName": "nope", "Payload": null}),
            ))
            .result
            .expect_err("no such function");
        assert_eq!(failure.error, "Lambda.ResourceNotFoundException");
        assert_eq!(
            failure.cause.as_deref(),
            Some(
                "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope \
                 (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; \
                 Request ID: req-missing; Proxy: null)"
            )
        );
    }

    #[test]
    fn other_resources_go_to_the_fallback() {
        let kind = ResourceKind::Service {
            service: "sqs".into(),
            action: "sendMessage".into(),
            pattern: IntegrationPattern::RequestResponse,
        };
        let failure = invoker()
            .invoke(&request(
                kind,
                "arn:aws:states:::sqs:sendMessage",
                json!({}),
            ))
            .result
            .expect_err("unsupported");
        assert_eq!(failure.error, "Cairn.UnsupportedResource");
    }

    #[test]
    fn a_run_calls_lambda_through_the_sdk() {
        let definition = json!({"StartAt": "T", "States": {"T": {"Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "echo", "Payload.$": "$"},
            "ResultSelector": {"echoed.$": "$.Payload"}, "End": true}}});
        let machine = cairn_interpreter::Machine::from_json(&definition).expect("loads");
        let options = cairn_runtime::RunOptions {
            time: cairn_runtime::TimeMode::Real,
            ..cairn_runtime::RunOptions::default()
        };
        let run = cairn_runtime::run_to_completion(
            &machine,
            json!({"x": 1}),
            Arc::new(invoker()),
            &options,
        )
        .expect("run ends");
        assert_eq!(
            run.status,
            cairn_interpreter::Status::Succeeded,
            "{:?}",
            run.cause
        );
        assert_eq!(run.output, Some(json!({"echoed": {"x": 1}})));
    }
}
