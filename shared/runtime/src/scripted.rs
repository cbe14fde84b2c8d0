//! Lambda functions played in-process from a script: the behaviours the conformance corpus
//! records for its functions (`lambda_functions` of a case), answering as AWS Lambda would,
//! both for a legacy `arn:aws:lambda:...:function:...` resource and for the
//! `arn:aws:states:::lambda:invoke` integration (whose result is Lambda's Invoke response).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use cairn_common::base64;
use cairn_common::civil::http_date;
use cairn_common::entropy::{splitmix64, uuid_from_bits, GOLDEN_GAMMA};
use cairn_interpreter::ResourceKind;
use serde_json::{json, Map, Value};

use crate::ports::{unsupported, TaskFailure, TaskInvoker, TaskOutcome, TaskRequest};
use crate::python;

/// What a scripted function does with its event.
#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    /// Returns its event.
    Echo,
    /// Raises a Python exception of this type with this message, from this line of the
    /// handler with this statement (they appear in the stack trace Lambda reports).
    Raise {
        error_type: String,
        message: String,
        line: u32,
        statement: String,
    },
    /// Returns a fixed value.
    Return(Value),
    /// Returns a string of this many `a` characters.
    ReturnStringOfA(usize),
    /// Sleeps, then returns its event.
    SleepThenEcho { seconds: u64 },
    /// Returns `'input-event-' + repr(event)`.
    ReturnPythonFormat,
}

/// A script entry could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    #[error("a scripted function needs a string `{0}`")]
    MissingField(&'static str),
    #[error("function '{name}': unknown behaviour '{behaviour}' (known: echo, raise, return, return_json_string_of_a, sleep_then_echo, return_python_format)")]
    UnknownBehaviour { name: String, behaviour: String },
    #[error("function '{name}': behaviour '{behaviour}' needs `{field}`")]
    BehaviourField {
        name: String,
        behaviour: String,
        field: &'static str,
    },
    #[error("the function list must be a JSON array")]
    NotAnArray,
}

#[derive(Debug, Clone, PartialEq)]
struct Function {
    arn: String,
    behaviour: Behaviour,
}

/// In-process Lambda functions, keyed by name. Resources that are not Lambda fail with the
/// catchable `Cairn.UnsupportedResource` error.
#[derive(Debug, Default)]
pub struct ScriptedLambda {
    functions: HashMap<String, Function>,
    account: String,
    region: String,
    /// Feeds the request ids, which must differ between invocations.
    invocations: AtomicU64,
    seed: u64,
}

impl ScriptedLambda {
    /// Reads a function list in the corpus's `lambda_functions` shape:
    /// `[{"name", "arn", "behaviour", ...behaviour fields}]`. The caller's `region` and
    /// `account` are where a function without an `arn` lives, and what Lambda's "function
    /// not found" errors name.
    pub fn from_json(
        functions: &Value,
        region: &str,
        account: &str,
    ) -> Result<ScriptedLambda, ScriptError> {
        let list = functions.as_array().ok_or(ScriptError::NotAnArray)?;
        let mut out = ScriptedLambda {
            account: account.to_owned(),
            region: region.to_owned(),
            ..ScriptedLambda::default()
        };
        for entry in list {
            let name = str_field(entry, "name")?;
            let arn = match entry.get("arn").and_then(Value::as_str) {
                Some(arn) => arn.to_owned(),
                None => format!("arn:aws:lambda:{region}:{account}:function:{name}"),
            };
            let behaviour = parse_behaviour(&name, entry)?;
            out.functions.insert(name, Function { arn, behaviour });
        }
        Ok(out)
    }

    /// Varies the request ids between runs (they are deterministic for one seed).
    pub fn with_seed(mut self, seed: u64) -> ScriptedLambda {
        self.seed = seed;
        self
    }

    fn request_id(&self) -> String {
        let n = self.invocations.fetch_add(1, Ordering::Relaxed);
        uuid_from(self.seed, n)
    }

    /// Runs the named function on `event`: its return value, or the error Lambda reports.
    fn call(
        &self,
        function: &Function,
        event: &Value,
        request_id: &str,
        legacy: bool,
    ) -> TaskOutcome {
        let result = match &function.behaviour {
            Behaviour::Echo | Behaviour::SleepThenEcho { .. } => Ok(event.clone()),
            Behaviour::Return(value) => Ok(value.clone()),
            Behaviour::ReturnStringOfA(count) => Ok(Value::String("a".repeat(*count))),
            Behaviour::ReturnPythonFormat => Ok(Value::String(format!(
                "input-event-{}",
                python::repr(event)
            ))),
            Behaviour::Raise {
                error_type,
                message,
                line,
                statement,
            } => {
                let cause = json!({
                    "errorMessage": message,
                    "errorType": error_type,
                    "requestId": request_id,
                    "stackTrace": [format!(
                        "  File \"/var/task/handler.py\", line {line}, in handler\n    {statement}\n"
                    )],
                });
                // A legacy Lambda resource passes on the Python runtime's own error text;
                // the lambda:invoke integration re-serialises it compactly.
                let cause = if legacy {
                    python::json_dumps(&cause)
                } else {
                    cause.to_string()
                };
                Err(TaskFailure::new(error_type.clone(), cause))
            }
        };
        let delay_ms = match function.behaviour {
            Behaviour::SleepThenEcho { seconds } => seconds.saturating_mul(1000),
            _ => 0,
        };
        TaskOutcome {
            result,
            delay_ms,
            ends_task: false,
        }
    }

    fn find(&self, name_or_arn: &str) -> Option<&Function> {
        self.functions.get(function_name(name_or_arn))
    }

    fn not_found(&self, name_or_arn: &str, request_id: &str) -> TaskFailure {
        let name = function_name(name_or_arn);
        TaskFailure::new(
            "Lambda.ResourceNotFoundException",
            format!(
                "Function not found: arn:aws:lambda:{}:{}:function:{name}:$LATEST (Service: AWSLambda; \
                 Status Code: 404; Error Code: ResourceNotFoundException; Request ID: {request_id}; Proxy: null)",
                self.region, self.account
            ),
        )
    }

    fn invoke_legacy(&self, request: &TaskRequest) -> TaskOutcome {
        let request_id = self.request_id();
        match self.find(&request.resource) {
            Some(function) => self.call(function, &request.input, &request_id, true),
            None => TaskOutcome::now(Err(self.not_found(&request.resource, &request_id))),
        }
    }

    fn invoke_integration(&self, request: &TaskRequest) -> TaskOutcome {
        let request_id = self.request_id();
        let Some(name) = request.input.get("FunctionName").and_then(Value::as_str) else {
            return TaskOutcome::now(Err(TaskFailure::new(
                "States.Runtime",
                "lambda:invoke needs a string FunctionName parameter",
            )));
        };
        let Some(function) = self.find(name) else {
            return TaskOutcome::now(Err(self.not_found(name, &request_id)));
        };
        // The integration sends a string Payload as the request body itself (so "0" reaches
        // the function as 0), and no body at all for an absent or null one, which the Python
        // runtime hands over as an empty event.
        let event = match request.input.get("Payload") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(Value::String(text)) => match serde_json::from_str(text) {
                Ok(event) => event,
                Err(err) => {
                    return TaskOutcome::now(Err(TaskFailure::new(
                        "Lambda.InvalidRequestContentException",
                        format!(
                            "Could not parse request body into json: {err} (Service: AWSLambda; \
                             Status Code: 400; Error Code: InvalidRequestContentException; \
                             Request ID: {request_id}; Proxy: null)"
                        ),
                    )))
                }
            },
            Some(payload) => payload.clone(),
        };
        let tail = request.input.get("LogType").and_then(Value::as_str) == Some("Tail");
        let outcome = self.call(function, &event, &request_id, false);
        let log = tail.then(|| log_tail(&request_id));
        let result = outcome.result.map(|payload| {
            lambda_invoke_output(InvokeAnswer {
                content_length: python::json_dumps(&payload).len(),
                payload,
                request_id: &request_id,
                now_ms: request.now_ms,
                executed_version: "$LATEST",
                log_result: log.as_deref(),
            })
        });
        TaskOutcome {
            result,
            delay_ms: outcome.delay_ms,
            ends_task: outcome.ends_task,
        }
    }

    /// The ARNs of the scripted functions.
    pub fn arns(&self) -> impl Iterator<Item = &str> {
        self.functions.values().map(|f| f.arn.as_str())
    }
}

impl TaskInvoker for ScriptedLambda {
    fn invoke(&self, request: &TaskRequest) -> TaskOutcome {
        match &request.kind {
            ResourceKind::LambdaFunction => self.invoke_legacy(request),
            ResourceKind::Service {
                service, action, ..
            } if service == "lambda" && action == "invoke" => self.invoke_integration(request),
            _ => TaskOutcome::now(Err(unsupported(&request.resource))),
        }
    }
}

/// What Lambda answered to one Invoke call.
#[derive(Debug, Clone, PartialEq)]
pub struct InvokeAnswer<'a> {
    /// The function's result, decoded.
    pub payload: Value,
    pub request_id: &'a str,
    /// Epoch milliseconds of the answer (the `Date` header).
    pub now_ms: i64,
    /// Bytes of the payload as Lambda sent it (the `Content-Length` header).
    pub content_length: usize,
    pub executed_version: &'a str,
    /// Base64 log tail, when the call asked for `LogType: Tail`.
    pub log_result: Option<&'a str>,
}

/// Lambda's Invoke response as the `lambda:invoke` integration returns it to the state
/// machine: the payload with the SDK's HTTP metadata around it.
pub fn lambda_invoke_output(answer: InvokeAnswer<'_>) -> Value {
    let InvokeAnswer {
        payload,
        request_id,
        now_ms,
        content_length,
        executed_version,
        log_result,
    } = answer;
    let length = content_length.to_string();
    let date = http_date(now_ms);
    let trace_bits = splitmix64(
        request_id
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))),
    );
    let trace = format!(
        "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0;Lineage=1:{:08x}:0",
        now_ms.div_euclid(1000),
        u128::from(trace_bits) << 32 | u128::from(trace_bits >> 32),
        splitmix64(trace_bits),
        trace_bits >> 32
    );
    let mut all_headers = Map::new();
    let mut headers = Map::new();
    if let Some(log) = log_result {
        all_headers.insert("X-Amz-Log-Result".into(), json!([log]));
    }
    for (key, value) in [
        ("X-Amz-Executed-Version", executed_version),
        ("x-amzn-Remapped-Content-Length", "0"),
        ("Connection", "keep-alive"),
        ("x-amzn-RequestId", request_id),
        ("Content-Length", &length),
        ("Date", &date),
        ("X-Amzn-Trace-Id", &trace),
        ("Content-Type", "application/json"),
    ] {
        all_headers.insert(key.into(), json!([value]));
    }
    // HttpHeaders lists the same headers sorted, case-insensitively.
    let mut sorted: Vec<(&String, &Value)> = all_headers.iter().collect();
    sorted.sort_by_key(|(key, _)| key.to_ascii_lowercase());
    for (key, value) in sorted {
        let single = value.get(0).cloned().unwrap_or(Value::Null);
        headers.insert(key.clone(), single);
    }
    let mut out = Map::new();
    out.insert("ExecutedVersion".into(), executed_version.into());
    if let Some(log) = log_result {
        out.insert("LogResult".into(), log.into());
    }
    out.insert("Payload".into(), payload);
    out.insert(
        "SdkHttpMetadata".into(),
        json!({
            "AllHttpHeaders": all_headers,
            "HttpHeaders": headers,
            "HttpStatusCode": 200,
        }),
    );
    out.insert(
        "SdkResponseMetadata".into(),
        json!({"RequestId": request_id}),
    );
    out.insert("StatusCode".into(), 200.into());
    Value::Object(out)
}

/// The log tail Lambda returns for `LogType: Tail`, base64-encoded.
fn log_tail(request_id: &str) -> String {
    let log = format!(
        "START RequestId: {request_id} Version: $LATEST\nEND RequestId: {request_id}\n\
         REPORT RequestId: {request_id}\tDuration: 1.00 ms\tBilled Duration: 1 ms\t\
         Memory Size: 128 MB\tMax Memory Used: 32 MB\t\n"
    );
    base64::encode(log.as_bytes())
}

fn str_field(entry: &Value, field: &'static str) -> Result<String, ScriptError> {
    entry
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(ScriptError::MissingField(field))
}

fn parse_behaviour(name: &str, entry: &Value) -> Result<Behaviour, ScriptError> {
    let behaviour = str_field(entry, "behaviour")?;
    let need = |field: &'static str| ScriptError::BehaviourField {
        name: name.to_owned(),
        behaviour: behaviour.clone(),
        field,
    };
    Ok(match behaviour.as_str() {
        "echo" => Behaviour::Echo,
        "raise" => {
            let error_type = entry
                .get("errorType")
                .and_then(Value::as_str)
                .unwrap_or("Exception")
                .to_owned();
            let message = entry
                .get("errorMessage")
                .and_then(Value::as_str)
                .ok_or_else(|| need("errorMessage"))?
                .to_owned();
            // Where the handler raises (its stack trace shows the line and the statement);
            // by default, a one-line handler raising the message.
            let line = match entry.get("line") {
                None => 2,
                Some(line) => line
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| need("line"))?,
            };
            let statement = match entry.get("statement") {
                None => format!("raise {error_type}(\"{message}\")"),
                Some(statement) => statement
                    .as_str()
                    .ok_or_else(|| need("statement"))?
                    .to_owned(),
            };
            Behaviour::Raise {
                error_type,
                message,
                line,
                statement,
            }
        }
        "return" => Behaviour::Return(entry.get("value").cloned().ok_or_else(|| need("value"))?),
        "return_json_string_of_a" => Behaviour::ReturnStringOfA(
            entry
                .get("bytes")
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| need("bytes"))?,
        ),
        "sleep_then_echo" => Behaviour::SleepThenEcho {
            seconds: entry
                .get("seconds")
                .and_then(Value::as_u64)
                .ok_or_else(|| need("seconds"))?,
        },
        "return_python_format" => Behaviour::ReturnPythonFormat,
        _ => {
            return Err(ScriptError::UnknownBehaviour {
                name: name.to_owned(),
                behaviour,
            })
        }
    })
}

/// `name`, `arn:aws:lambda:r:a:function:name[:qualifier]` or `a:function:name` -> `name`.
fn function_name(name_or_arn: &str) -> &str {
    match name_or_arn.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => name_or_arn,
    }
}

/// A version-4-shaped UUID from a seed and a counter (splitmix64), so runs are reproducible.
pub fn uuid_from(seed: u64, n: u64) -> String {
    let a = splitmix64(seed ^ n.wrapping_mul(GOLDEN_GAMMA));
    // A second mix for the low half, so the two halves are not simply related.
    let b = splitmix64(a ^ 0xD1B5_4A32_D192_ED03);
    uuid_from_bits(a, b)
}

#[cfg(test)]
mod tests {
    use cairn_interpreter::IntegrationPattern;

    use super::*;

    fn request(kind: ResourceKind, resource: &str, input: Value) -> TaskRequest {
        TaskRequest {
            task_id: 1,
            state_name: "S".into(),
            resource: resource.into(),
            kind,
            input,
            task_token: None,
            credentials: None,
            now_ms: 0,
            execution_arn: String::new(),
        }
    }

    fn invoke_kind() -> ResourceKind {
        ResourceKind::Service {
            service: "lambda".into(),
            action: "invoke".into(),
            pattern: IntegrationPattern::RequestResponse,
        }
    }

    fn functions() -> ScriptedLambda {
        ScriptedLambda::from_json(
            &json!([
            {"name": "echo", "arn": "arn:aws:lambda:us-east-1:111111111111:function:echo", "behaviour": "echo"},
            {"name": "boom", "arn": "arn:aws:lambda:us-east-1:111111111111:function:boom", "behaviour": "raise",
             "errorType": "Exception", "errorMessage": "Some exception was raised."},
            {"name": "slow", "behaviour": "sleep_then_echo", "seconds": 60},
            ]),
            "us-east-1",
            "111111111111",
        )
        .unwrap()
    }

    #[test]
    fn legacy_resource_echoes_and_raises() {
        let f = functions();
        let arn = "arn:aws:lambda:us-east-1:111111111111:function:echo";
        let out = f.invoke(&request(ResourceKind::LambdaFunction, arn, json!({"a": 1})));
        assert_eq!(out.result, Ok(json!({"a": 1})));
        let arn = "arn:aws:lambda:us-east-1:111111111111:function:boom";
        let failure = f
            .invoke(&request(ResourceKind::LambdaFunction, arn, json!({})))
            .result
            .unwrap_err();
        assert_eq!(failure.error, "Exception");
        assert!(failure
            .cause
            .as_deref()
            .unwrap()
            .starts_with(r#"{"errorMessage": "Some exception was raised.", "errorType": "Exception", "requestId": ""#));
        let cause: Value = serde_json::from_str(failure.cause.as_deref().unwrap()).unwrap();
        assert_eq!(cause["errorMessage"], "Some exception was raised.");
        assert_eq!(
            cause["stackTrace"][0],
            "  File \"/var/task/handler.py\", line 2, in handler\n    raise Exception(\"Some exception was raised.\")\n"
        );
    }

    #[test]
    fn integration_wraps_the_payload_like_lambda_invoke() {
        let f = functions();
        let input = json!({"FunctionName": "echo", "Payload": {"foo": "foo-1"}});
        let out = f.invoke(&request(
            invoke_kind(),
            "arn:aws:states:::lambda:invoke",
            input,
        ));
        let response = out.result.unwrap();
        assert_eq!(response["Payload"], json!({"foo": "foo-1"}));
        assert_eq!(response["StatusCode"], 200);
        assert_eq!(
            response["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"],
            "16"
        );
        assert_eq!(
            response["SdkResponseMetadata"]["RequestId"],
            response["SdkHttpMetadata"]["HttpHeaders"]["x-amzn-RequestId"]
        );
    }

    #[test]
    fn unknown_function_is_resource_not_found() {
        let f = functions();
        let input = json!({"FunctionName": "nope", "Payload": null});
        let failure = f
            .invoke(&request(
                invoke_kind(),
                "arn:aws:states:::lambda:invoke",
                input,
            ))
            .result
            .unwrap_err();
        assert_eq!(failure.error, "Lambda.ResourceNotFoundException");
        assert!(failure.cause.unwrap().starts_with(
            "Function not found: arn:aws:lambda:us-east-1:111111111111:function:nope:$LATEST (Service: AWSLambda; Status Code: 404;"
        ));
    }

    #[test]
    fn functions_without_arns_live_in_the_given_region_and_account() {
        let f = ScriptedLambda::from_json(
            &json!([{"name": "echo", "behaviour": "echo"}]),
            "eu-west-1",
            "222222222222",
        )
        .unwrap();
        assert_eq!(
            f.arns().collect::<Vec<_>>(),
            ["arn:aws:lambda:eu-west-1:222222222222:function:echo"]
        );
        let input = json!({"FunctionName": "nope"});
        let failure = f
            .invoke(&request(
                invoke_kind(),
                "arn:aws:states:::lambda:invoke",
                input,
            ))
            .result
            .unwrap_err();
        assert!(failure.cause.unwrap().starts_with(
            "Function not found: arn:aws:lambda:eu-west-1:222222222222:function:nope:$LATEST"
        ));
    }

    #[test]
    fn where_a_handler_raises_is_data() {
        let f = ScriptedLambda::from_json(
            &json!([{"name": "custom", "behaviour": "raise", "errorType": "CustomException",
                     "errorMessage": "", "line": 9, "statement": "raise CustomException()"}]),
            "us-east-1",
            "111111111111",
        )
        .unwrap();
        let failure = f
            .invoke(&request(ResourceKind::LambdaFunction, "custom", json!({})))
            .result
            .unwrap_err();
        let cause: Value = serde_json::from_str(failure.cause.as_deref().unwrap()).unwrap();
        assert_eq!(cause["errorMessage"], "");
        assert_eq!(
            cause["stackTrace"][0],
            "  File \"/var/task/handler.py\", line 9, in handler\n    raise CustomException()\n"
        );
        let bad = json!([{"name": "x", "behaviour": "raise", "errorMessage": "m", "line": "nine"}]);
        assert!(matches!(
            ScriptedLambda::from_json(&bad, "us-east-1", "1"),
            Err(ScriptError::BehaviourField { field: "line", .. })
        ));
    }

    #[test]
    fn sleeping_function_reports_its_delay() {
        let f = functions();
        let input = json!({"FunctionName": "slow", "Payload": 1});
        let out = f.invoke(&request(
            invoke_kind(),
            "arn:aws:states:::lambda:invoke",
            input,
        ));
        assert_eq!(out.delay_ms, 60_000);
    }

    #[test]
    fn other_resources_are_unsupported_and_catchable() {
        let kind = ResourceKind::Service {
            service: "sqs".into(),
            action: "sendMessage".into(),
            pattern: IntegrationPattern::RequestResponse,
        };
        let failure = functions()
            .invoke(&request(
                kind,
                "arn:aws:states:::sqs:sendMessage",
                json!({}),
            ))
            .result
            .unwrap_err();
        assert_eq!(failure.error, "Cairn.UnsupportedResource");
    }

    #[test]
    fn string_payloads_are_the_request_body_and_null_is_an_empty_event() {
        let f = functions();
        let call = |payload: Value| {
            let input = json!({"FunctionName": "echo", "Payload": payload});
            f.invoke(&request(
                invoke_kind(),
                "arn:aws:states:::lambda:invoke",
                input,
            ))
            .result
            .map(|response| response["Payload"].clone())
        };
        assert_eq!(call(json!("0")), Ok(json!(0)));
        assert_eq!(call(json!("[]")), Ok(json!([])));
        assert_eq!(call(Value::Null), Ok(json!({})));
        assert_eq!(
            call(json!("not json")).unwrap_err().error,
            "Lambda.InvalidRequestContentException"
        );
    }

    #[test]
    fn log_type_tail_adds_the_log_result() {
        let f = functions();
        let input = json!({"FunctionName": "echo", "Payload": {}, "LogType": "Tail"});
        let response = f
            .invoke(&request(
                invoke_kind(),
                "arn:aws:states:::lambda:invoke",
                input,
            ))
            .result
            .unwrap();
        let keys: Vec<&str> = response
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(&keys[..3], ["ExecutedVersion", "LogResult", "Payload"]);
    }

    #[test]
    fn http_date_and_uuid_shapes() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date(1_764_063_000_000),
            "Tue, 25 Nov 2025 09:30:00 GMT"
        );
        // Request ids are part of recorded-looking output: they must not drift.
        assert_eq!(uuid_from(7, 1), "ec779c36-93f8-4501-a7d8-d04a2f9cdb53");
        assert_eq!(uuid_from(0, 0), "e220a839-7b1d-4daf-b161-346224370df2");
        assert_ne!(uuid_from(7, 1), uuid_from(7, 2));
    }
}
