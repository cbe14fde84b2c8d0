//! What the world may watch of executions: the log events a state machine's
//! `loggingConfiguration` asks for, in the shape AWS writes to CloudWatch Logs, and the
//! "Step Functions Execution Status Change" events AWS puts on EventBridge. The API decides
//! what to send and in which shape; where it goes is the shell's ([`ExecutionLogSink`],
//! [`StatusEventSink`] in [`crate::Config`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cairn_interpreter::HistoryEvent;
use cairn_store::ExecutionRecord;
use serde_json::{json, Map, Value};

use crate::driver::Driver;
use crate::ApiError;

/// Receives one execution log event, as the JSON text of one CloudWatch Logs message.
pub trait ExecutionLogSink: Send + Sync {
    fn write(&self, line: &str);
}

/// Receives one EventBridge event (the whole envelope: `source`, `detail-type`, `detail`...).
pub trait StatusEventSink: Send + Sync {
    fn send(&self, event: Value);
}

/// How long a state machine's logging configuration is used before it is read again: AWS
/// applies an UpdateStateMachine to running executions within seconds, not at once.
const CONFIG_TTL: Duration = Duration::from_secs(2);

/// The events each level logs (AWS's CloudWatch log levels).
const ERROR_EVENTS: [&str; 22] = [
    "ExecutionAborted",
    "ExecutionFailed",
    "ExecutionTimedOut",
    "FailStateEntered",
    "LambdaFunctionFailed",
    "LambdaFunctionScheduleFailed",
    "LambdaFunctionStartFailed",
    "LambdaFunctionTimedOut",
    "MapIterationAborted",
    "MapIterationFailed",
    "MapRunAborted",
    "MapRunFailed",
    "MapStateAborted",
    "MapStateFailed",
    "ParallelStateAborted",
    "ParallelStateFailed",
    "TaskFailed",
    "TaskStartFailed",
    "TaskStateAborted",
    "TaskSubmitFailed",
    "TaskTimedOut",
    "WaitStateAborted",
];
const FATAL_EVENTS: [&str; 3] = ["ExecutionAborted", "ExecutionFailed", "ExecutionTimedOut"];

/// A request's `loggingConfiguration` checked as AWS does (a level other than OFF needs
/// exactly one destination, and no level takes two) and with AWS's defaults filled in.
pub(crate) fn logging_configuration(given: &Value) -> Result<Value, ApiError> {
    let Some(object) = given.as_object() else {
        return Err(ApiError::new(
            "SerializationException",
            "'loggingConfiguration' must be an object",
        ));
    };
    let level = match object.get("level") {
        None | Some(Value::Null) => "OFF",
        Some(Value::String(level))
            if ["ALL", "ERROR", "FATAL", "OFF"].contains(&level.as_str()) =>
        {
            level.as_str()
        }
        Some(other) => {
            let shown = other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_string);
            return Err(ApiError::new(
                "ValidationException",
                format!(
                    "1 validation error detected: Value '{shown}' at 'loggingConfiguration.level' failed to satisfy constraint: Member must satisfy enum value set: [ALL, ERROR, FATAL, OFF]"
                ),
            ));
        }
    };
    let destinations = object.get("destinations").and_then(Value::as_array);
    let count = destinations.map_or(0, Vec::len);
    if count > 1 || (level != "OFF" && count != 1) {
        return Err(ApiError::new(
            "InvalidLoggingConfiguration",
            "Invalid Logging Configuration: Must specify exactly one Log Destination.",
        ));
    }
    let include = match object.get("includeExecutionData") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(include)) => *include,
        Some(_) => {
            return Err(ApiError::new(
                "SerializationException",
                "'loggingConfiguration.includeExecutionData' must be a boolean",
            ))
        }
    };
    // AWS: "Log Group ARN must be provided with '*' qualifier" (the log group's ARN as
    // CloudFormation's Arn attribute gives it, ending `:*`).
    for destination in destinations.into_iter().flatten() {
        let arn = destination.pointer("/cloudWatchLogsLogGroup/logGroupArn");
        if let Some(arn) = arn.and_then(Value::as_str) {
            if !arn.ends_with(":*") {
                return Err(ApiError::new(
                    "InvalidLoggingConfiguration",
                    "Invalid Logging Configuration: Log Group ARN must be provided with '*' qualifier.",
                ));
            }
        }
    }
    let mut out = json!({"level": level, "includeExecutionData": include});
    if let Some(destinations) = destinations {
        out["destinations"] = Value::Array(destinations.clone());
    }
    Ok(out)
}

/// Whether `level` logs events of this type.
pub fn logs(level: &str, event_type: &str) -> bool {
    match level {
        "ALL" => true,
        "ERROR" => ERROR_EVENTS.contains(&event_type),
        "FATAL" => FATAL_EVENTS.contains(&event_type),
        _ => false,
    }
}

/// One history event as the log message AWS writes: ids and the time as strings, the
/// event's details (without input, output and other execution data unless
/// `include_data`).
pub fn log_message(
    execution_arn: &str,
    event: &HistoryEvent,
    include_data: bool,
    redrive_count: u32,
) -> Value {
    let wire = event.to_aws_json();
    let mut details = wire
        .as_object()
        .and_then(|object| {
            object
                .iter()
                .find(|(key, _)| key.ends_with("EventDetails"))
                .map(|(_, details)| details.clone())
        })
        .unwrap_or_else(|| Value::Object(Map::new()));
    if !include_data {
        if let Some(details) = details.as_object_mut() {
            for field in [
                "input",
                "output",
                "parameters",
                "result",
                "assignedVariables",
            ] {
                details.remove(field);
            }
            for field in ["inputDetails", "outputDetails", "assignedVariablesDetails"] {
                if details.contains_key(field) {
                    details.insert(field.to_string(), json!({"included": false}));
                }
            }
        }
    }
    json!({
        "id": event.id.to_string(),
        "type": event.event_type,
        "details": details,
        "previous_event_id": event.previous_event_id.to_string(),
        "event_timestamp": event.timestamp_ms.to_string(),
        "execution_arn": execution_arn,
        "redrive_count": redrive_count.to_string(),
    })
}

/// An execution's status change as AWS puts it on the default event bus (`detail` as
/// DescribeExecution shows it, dates in epoch milliseconds, absent values as null).
pub fn status_event(
    record: &ExecutionRecord,
    region: &str,
    account: &str,
    id: &str,
    now_ms: i64,
) -> Value {
    let summary = &record.summary;
    let text = |field: &str| summary.get(field).cloned().unwrap_or(Value::Null);
    let output = text("output");
    let mut detail = json!({
        "executionArn": record.arn,
        "stateMachineArn": record.state_machine_arn,
        "name": record.name,
        "status": record.status,
        "startDate": record.start_ms,
        "stopDate": record.stop_ms,
        "input": text("input"),
        "inputDetails": {"included": true},
        "output": output,
        "outputDetails": if output.is_null() { Value::Null } else { json!({"included": true}) },
        "error": text("error"),
        "cause": text("cause"),
        "redriveCount": summary.get("redriveCount").cloned().unwrap_or(Value::from(0)),
    });
    crate::versions::show_qualifiers(summary, &mut detail);
    json!({
        "version": "0",
        "id": id,
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": account,
        "time": rfc3339_seconds(now_ms),
        "region": region,
        "resources": [record.arn],
        "detail": detail,
    })
}

/// `2019-02-26T19:42:21Z`: EventBridge's event time, to the second.
fn rfc3339_seconds(epoch_ms: i64) -> String {
    let millis = cairn_common::civil::rfc3339_millis(epoch_ms);
    format!("{}Z", millis.get(..19).unwrap_or(&millis))
}

/// The logging configurations read lately, by state machine or version ARN.
#[derive(Default)]
pub(crate) struct LoggingCache {
    entries: Mutex<HashMap<String, (Value, Instant)>>,
}

impl LoggingCache {
    /// The logging configuration of what an execution runs: its version's when it was
    /// started through one, else the state machine's (null when it is gone).
    fn get(&self, driver: &Driver, machine_arn: &str) -> Value {
        if let Ok(entries) = self.entries.lock() {
            if let Some((config, read)) = entries.get(machine_arn) {
                if read.elapsed() < CONFIG_TTL {
                    return config.clone();
                }
            }
        }
        let config = crate::versions::logging_configuration(driver, machine_arn);
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() > 10_000 {
                entries.clear();
            }
            entries.insert(machine_arn.to_string(), (config.clone(), Instant::now()));
        }
        config
    }
}

/// Sends what a write of an execution shows: its new history events to the execution log
/// (as its logging configuration asks) and, when its status changed, a status event.
/// `previous_status` is `None` for the write that created the execution.
pub(crate) fn written(
    driver: &Driver,
    record: &ExecutionRecord,
    events: &[HistoryEvent],
    previous_status: Option<&str>,
    redrive_count: u32,
) {
    let config = &driver.config;
    if let Some(sink) = &config.execution_log {
        let machine = record
            .summary
            .get("stateMachineVersionArn")
            .and_then(Value::as_str)
            .unwrap_or(&record.state_machine_arn);
        log_events(
            driver,
            sink.as_ref(),
            machine,
            &record.arn,
            events,
            redrive_count,
        );
    }
    if let Some(sink) = &config.status_events {
        let send = |record: &ExecutionRecord| {
            let id = crate::actions::uuid(driver);
            let now = driver.now_ms();
            sink.send(status_event(
                record,
                &config.region,
                &config.account,
                &id,
                now,
            ));
        };
        if previous_status.is_none() && record.status != "RUNNING" {
            // Ended in its first decision (a chain of Pass states): AWS still reports
            // that it ran before it ended.
            let mut running = record.clone();
            running.status = "RUNNING".into();
            running.stop_ms = None;
            if let Some(summary) = running.summary.as_object_mut() {
                for field in ["output", "error", "cause"] {
                    summary.remove(field);
                }
            }
            running.state = Vec::new();
            send(&running);
        }
        if previous_status != Some(record.status.as_str()) {
            send(record);
        }
    }
}

/// Writes the events an execution's logging configuration asks for.
pub(crate) fn log_events(
    driver: &Driver,
    sink: &dyn ExecutionLogSink,
    machine_arn: &str,
    execution_arn: &str,
    events: &[HistoryEvent],
    redrive_count: u32,
) {
    if events.is_empty() {
        return;
    }
    let logging = driver.logging.get(driver, machine_arn);
    let level = logging
        .get("level")
        .and_then(Value::as_str)
        .unwrap_or("OFF");
    let include_data = logging
        .get("includeExecutionData")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    for event in events {
        if logs(level, &event.event_type) {
            let message = log_message(execution_arn, event, include_data, redrive_count);
            sink.write(&message.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &'static str, details: Value) -> HistoryEvent {
        HistoryEvent {
            id: 2,
            previous_event_id: 1,
            timestamp_ms: 1_592_916_785_447,
            event_type: event_type.into(),
            details: details.into(),
        }
    }

    #[test]
    fn logging_configurations_are_checked_as_aws_does() {
        let destination = json!([{"cloudWatchLogsLogGroup": {"logGroupArn": "arn:aws:logs:us-east-1:1:log-group:g:*"}}]);
        let error = |given: Value| logging_configuration(&given).map_err(|e| e.error_type);
        assert_eq!(
            error(json!({"level": "ALL"})),
            Err("InvalidLoggingConfiguration".to_string())
        );
        assert_eq!(
            error(json!({"level": "OFF", "destinations": [destination[0], destination[0]]})),
            Err("InvalidLoggingConfiguration".to_string())
        );
        assert_eq!(
            error(json!({"level": "LOUD"})),
            Err("ValidationException".to_string())
        );
        assert_eq!(
            logging_configuration(&json!({"includeExecutionData": true})),
            Ok(json!({"level": "OFF", "includeExecutionData": true}))
        );
        let full = json!({"level": "ERROR", "destinations": destination});
        assert_eq!(
            logging_configuration(&full),
            Ok(
                json!({"level": "ERROR", "includeExecutionData": false, "destinations": destination})
            )
        );
    }

    #[test]
    fn levels_select_aws_event_types() {
        assert!(logs("ALL", "PassStateEntered"));
        assert!(!logs("ERROR", "PassStateEntered"));
        assert!(logs("ERROR", "TaskFailed"));
        assert!(logs("ERROR", "ExecutionFailed"));
        assert!(!logs("FATAL", "TaskFailed"));
        assert!(logs("FATAL", "ExecutionTimedOut"));
        assert!(!logs("OFF", "ExecutionFailed"));
    }

    #[test]
    fn log_messages_have_cloudwatch_shape() {
        let started = event(
            "ExecutionStarted",
            json!({"input": {"a": 1}, "roleArn": "arn:aws:iam::1:role/r"}),
        );
        let with_data = log_message("arn:x", &started, true, 0);
        assert_eq!(with_data["id"], "2");
        assert_eq!(with_data["previous_event_id"], "1");
        assert_eq!(with_data["event_timestamp"], "1592916785447");
        assert_eq!(with_data["type"], "ExecutionStarted");
        assert_eq!(with_data["execution_arn"], "arn:x");
        assert_eq!(with_data["details"]["input"], "{\"a\":1}");
        assert_eq!(with_data["details"]["roleArn"], "arn:aws:iam::1:role/r");
        let without = log_message("arn:x", &started, false, 0);
        assert!(without["details"].get("input").is_none());
        assert_eq!(
            without["details"]["inputDetails"],
            json!({"included": false})
        );
        assert_eq!(without["details"]["roleArn"], "arn:aws:iam::1:role/r");
    }

    #[test]
    fn status_events_have_eventbridge_shape() {
        let record = ExecutionRecord {
            arn: "arn:aws:states:us-east-1:1:execution:m:e".into(),
            state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:m".into(),
            name: "e".into(),
            status: "SUCCEEDED".into(),
            start_ms: 1000,
            stop_ms: Some(2500),
            summary: json!({"input": "{}", "output": "{\"ok\":true}"}),
            state: Vec::new(),
        };
        let event = status_event(&record, "us-east-1", "1", "id-1", 2500);
        assert_eq!(event["source"], "aws.states");
        assert_eq!(
            event["detail-type"],
            "Step Functions Execution Status Change"
        );
        assert_eq!(event["resources"], json!([record.arn]));
        assert_eq!(event["time"], "1970-01-01T00:00:02Z");
        let detail = &event["detail"];
        assert_eq!(detail["status"], "SUCCEEDED");
        assert_eq!(detail["startDate"], 1000);
        assert_eq!(detail["stopDate"], 2500);
        assert_eq!(detail["output"], "{\"ok\":true}");
        assert_eq!(detail["outputDetails"], json!({"included": true}));
        assert_eq!(detail["error"], Value::Null);
    }
}
