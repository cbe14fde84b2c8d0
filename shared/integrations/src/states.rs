//! Nested workflows: `arn:aws:states:::states:startExecution` and its `.sync`, `.sync:2` and
//! `.waitForTaskToken` forms.
//!
//! A child whose state machine lives in this Cairn runs here, through the shell's own Step
//! Functions API ([`StepFunctionsApi`]); any other goes to the Step Functions endpoint the
//! environment configures. `.sync` works as AWS's does: the start is the task's
//! `TaskSubmitted`, and when the child ends its outcome reaches the parent through the task's
//! token (so a `SendTaskSuccess` with that token also ends it, as on AWS).

use std::time::Duration;

use cairn_runtime::{TaskFailure, TaskRequest};
use serde_json::{json, Map, Value};

pub use cairn_runtime::{ApiFailure, StepFunctionsApi};

/// How a `states:startExecution` task waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// Start the child and go on.
    Start,
    /// `.sync`: wait for the child; its input and output come back as JSON text.
    Sync,
    /// `.sync:2`: wait for the child; its input and output come back as JSON.
    Sync2,
}

impl Nesting {
    /// The nesting an action names (`startExecution.sync:2`), `None` for other actions.
    pub fn of(action: &str) -> Option<Nesting> {
        match action {
            "startExecution" | "startExecution.waitForTaskToken" => Some(Nesting::Start),
            "startExecution.sync" => Some(Nesting::Sync),
            "startExecution.sync:2" => Some(Nesting::Sync2),
            _ => None,
        }
    }
}

/// The StartExecution request a task's parameters ask for. An unnamed child of a `.sync`
/// task is named after the task's token, so that starting it again (a restarted Cairn
/// re-running the open task) finds the same child instead of starting a second one.
pub(crate) fn start_request(request: &TaskRequest) -> Result<Value, TaskFailure> {
    let input = &request.input;
    let Some(machine) = input.get("StateMachineArn").and_then(Value::as_str) else {
        return Err(TaskFailure::new(
            "States.Runtime",
            "states:startExecution needs a string StateMachineArn parameter",
        ));
    };
    // A JSON value is the child's input as JSON text; a string is that text; none is `{}`.
    let child_input = match input.get("Input") {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    let name = match input.get("Name").and_then(Value::as_str) {
        Some(name) => name.to_owned(),
        None => {
            let basis = request.task_token.clone().unwrap_or_else(|| {
                format!(
                    "{}:{}:{}:{child_input}",
                    request.state_name, request.task_id, request.now_ms
                )
            });
            let bits = cairn_common::entropy::fnv1a(basis.as_bytes());
            cairn_runtime::uuid(bits, 0)
        }
    };
    let mut start = json!({"stateMachineArn": machine, "input": child_input, "name": name});
    if let Some(trace) = input.get("TraceHeader").and_then(Value::as_str) {
        start["traceHeader"] = Value::String(trace.to_owned());
    }
    Ok(start)
}

/// The task's result of a start: what StartExecution answered, as the optimized integration
/// gives it (dates in epoch milliseconds, the SDK's response metadata).
pub(crate) fn start_output(answer: &Value, now_ms: i64, request_id: &str) -> Value {
    let arn = answer.get("executionArn").cloned().unwrap_or(Value::Null);
    let start = answer.get("startDate").and_then(epoch_ms).unwrap_or(now_ms);
    let body = json!({"executionArn": arn, "startDate": start as f64 / 1000.0}).to_string();
    let length = body.len().to_string();
    let date = cairn_common::civil::http_date(now_ms);
    json!({
        "ExecutionArn": arn,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "x-amzn-RequestId": [request_id],
                "connection": ["keep-alive"],
                "Content-Length": [length],
                "Date": [date],
                "Content-Type": ["application/x-amz-json-1.0"],
            },
            "HttpHeaders": {
                "connection": "keep-alive",
                "Content-Length": length,
                "Content-Type": "application/x-amz-json-1.0",
                "Date": date,
                "x-amzn-RequestId": request_id,
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StartDate": start,
    })
}

/// A date from the API's JSON (epoch seconds) or from the model-read form (ISO text), in
/// epoch milliseconds.
fn epoch_ms(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_f64().map(|secs| (secs * 1000.0).round() as i64),
        Value::String(text) => cairn_common::timestamp::parse_millis(text),
        _ => None,
    }
}

/// Whether DescribeExecution says the child has ended.
pub(crate) fn ended(description: &Value) -> bool {
    description
        .get("status")
        .and_then(Value::as_str)
        .is_some_and(|status| status != "RUNNING" && status != "PENDING_REDRIVE")
}

/// What the parent's `.sync` task ends with, from the child's DescribeExecution: its result
/// when the child succeeded, `States.TaskFailed` with the description as cause otherwise.
pub fn sync_outcome(description: &Value, nesting: Nesting) -> Result<Value, TaskFailure> {
    let text = |key: &str| description.get(key).and_then(Value::as_str);
    let as_json = nesting == Nesting::Sync2;
    let payload = |key: &str| -> Value {
        let raw = text(key).unwrap_or("null");
        if as_json {
            serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()))
        } else {
            Value::String(raw.to_owned())
        }
    };
    let date = |key: &str| {
        description
            .get(key)
            .and_then(epoch_ms)
            .map_or(Value::Null, Value::from)
    };
    let status = text("status").unwrap_or("FAILED");
    let mut result = Map::new();
    if status != "SUCCEEDED" {
        if let Some(cause) = text("cause") {
            result.insert("Cause".into(), Value::String(cause.to_owned()));
        }
        if let Some(error) = text("error") {
            result.insert("Error".into(), Value::String(error.to_owned()));
        }
    }
    result.insert(
        "ExecutionArn".into(),
        description
            .get("executionArn")
            .cloned()
            .unwrap_or(Value::Null),
    );
    result.insert("Input".into(), payload("input"));
    result.insert("InputDetails".into(), json!({"Included": true}));
    result.insert(
        "Name".into(),
        description.get("name").cloned().unwrap_or(Value::Null),
    );
    if status == "SUCCEEDED" {
        result.insert("Output".into(), payload("output"));
        result.insert("OutputDetails".into(), json!({"Included": true}));
    }
    result.insert("StartDate".into(), date("startDate"));
    result.insert(
        "StateMachineArn".into(),
        description
            .get("stateMachineArn")
            .cloned()
            .unwrap_or(Value::Null),
    );
    result.insert("Status".into(), Value::String(status.to_owned()));
    result.insert("StopDate".into(), date("stopDate"));
    let result = Value::Object(result);
    if status == "SUCCEEDED" {
        Ok(result)
    } else {
        Err(TaskFailure::new("States.TaskFailed", result.to_string()))
    }
}

/// The API error as the state's failure, named as the optimized integration names it.
pub(crate) fn api_failure(failure: &ApiFailure, request_id: &str) -> TaskFailure {
    let class = if failure.code.ends_with("Exception") {
        failure.code.clone()
    } else {
        format!("{}Exception", failure.code)
    };
    TaskFailure::new(
        format!("StepFunctions.{class}"),
        format!(
            "{} (Service: AWSStepFunctions; Status Code: 400; Error Code: {}; Request ID: \
             {request_id}; Proxy: null)",
            failure.message, failure.code
        ),
    )
}

/// How often a `.sync` parent looks at its child.
pub(crate) const POLL: Duration = Duration::from_millis(500);

#[cfg(test)]
mod tests {
    use super::*;

    fn task(input: Value, token: Option<&str>) -> TaskRequest {
        TaskRequest {
            task_id: 4,
            state_name: "Child".into(),
            resource: "arn:aws:states:::states:startExecution.sync:2".into(),
            kind: cairn_interpreter::ResourceKind::LambdaFunction,
            input,
            task_token: token.map(str::to_owned),
            credentials: None,
            now_ms: 1_000,
            execution_arn: String::new(),
        }
    }

    #[test]
    fn a_start_takes_the_childs_input_as_text_and_names_it_after_the_token() {
        let start = start_request(&task(
            json!({"StateMachineArn": "arn:sm", "Input": {"a": 1}}),
            Some("token-1"),
        ))
        .unwrap();
        assert_eq!(start["input"], "{\"a\":1}");
        let again = start_request(&task(
            json!({"StateMachineArn": "arn:sm", "Input": {"a": 1}}),
            Some("token-1"),
        ))
        .unwrap();
        assert_eq!(start["name"], again["name"]);
        let other =
            start_request(&task(json!({"StateMachineArn": "arn:sm"}), Some("token-2"))).unwrap();
        assert_ne!(start["name"], other["name"]);
        assert_eq!(other["input"], "{}");
        let named = start_request(&task(
            json!({"StateMachineArn": "arn:sm", "Name": "n", "Input": "raw"}),
            None,
        ))
        .unwrap();
        assert_eq!(
            (named["name"].as_str(), named["input"].as_str()),
            (Some("n"), Some("raw"))
        );
        assert!(start_request(&task(json!({}), None)).is_err());
    }

    #[test]
    fn a_succeeded_child_gives_its_output_as_text_or_json() {
        let description = json!({
            "executionArn": "arn:e", "stateMachineArn": "arn:sm", "name": "n",
            "status": "SUCCEEDED", "input": "{}", "output": "{\"Arg1\":\"argument1\"}",
            "startDate": 1.5, "stopDate": 2.0
        });
        let v2 = sync_outcome(&description, Nesting::Sync2).unwrap();
        assert_eq!(v2["Output"], json!({"Arg1": "argument1"}));
        assert_eq!(v2["Input"], json!({}));
        assert_eq!(
            (v2["StartDate"].as_i64(), v2["StopDate"].as_i64()),
            (Some(1500), Some(2000))
        );
        let v1 = sync_outcome(&description, Nesting::Sync).unwrap();
        assert_eq!(v1["Output"], "{\"Arg1\":\"argument1\"}");
        assert_eq!(v1["OutputDetails"], json!({"Included": true}));
    }

    #[test]
    fn a_failed_child_fails_the_task_with_its_description() {
        let description = json!({
            "executionArn": "arn:e", "stateMachineArn": "arn:sm", "name": "n",
            "status": "FAILED", "input": "{}", "error": "SomeFailure", "cause": "because",
            "startDate": 1.0, "stopDate": 2.0
        });
        let failure = sync_outcome(&description, Nesting::Sync).unwrap_err();
        assert_eq!(failure.error, "States.TaskFailed");
        let cause: Value = serde_json::from_str(failure.cause.as_deref().unwrap()).unwrap();
        assert_eq!(cause["Error"], "SomeFailure");
        assert_eq!(cause["Cause"], "because");
        assert_eq!(cause["Status"], "FAILED");
        assert_eq!(cause["Input"], "{}");
        assert!(cause.get("Output").is_none());
    }
}
