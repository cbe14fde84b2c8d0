//! Execution logs in the serverless shell (issue 14, item 4): for a state machine whose
//! `loggingConfiguration` asks for them, the history events of each write, filtered by its
//! level and shaped as AWS writes them to CloudWatch Logs (`cairn_api::observe`), go to the
//! log group of its destination through `PutLogEvents`, called through the integrations'
//! bundled CloudWatch Logs model (no further SDK crate in the functions).
//!
//! Each function container writes to a stream of its own, created on its first write to a
//! group. Delivery is best effort, as AWS's is: a failed write is logged, never the
//! execution's failure.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cairn_integrations::Integrations;
use cairn_interpreter::{HistoryEvent, IntegrationPattern, ResourceKind};
use cairn_runtime::TaskRequest;
use cairn_store::asynchronous::Store;
use serde_json::{json, Value};

/// How long a state machine's logging configuration is used before it is read again (an
/// UpdateStateMachine reaches running executions within seconds, as on AWS).
const CONFIG_TTL: Duration = Duration::from_secs(5);

/// PutLogEvents takes at most 10,000 events per call.
const EVENTS_PER_CALL: usize = 10_000;

/// Where one write's log events go: the group's name and the lines, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct LogBatch {
    pub group: String,
    pub events: Vec<(i64, String)>,
}

pub struct ExecutionLog {
    integrations: Integrations,
    stream: String,
    configs: Mutex<HashMap<String, (Value, Instant)>>,
    /// The groups this container's stream exists in.
    streams: Mutex<HashSet<String>>,
}

/// The log group's name in a destination's `logGroupArn`
/// (`arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*`).
pub fn group_name(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once(":log-group:")?;
    let name = rest.strip_suffix(":*").unwrap_or(rest);
    (!name.is_empty()).then_some(name)
}

/// What a write's history gives to the log its configuration names: `None` when it logs
/// nothing (OFF, no destination, or no event of its level).
pub fn batch(
    config: &Value,
    execution_arn: &str,
    history: &[HistoryEvent],
    redrive_count: u32,
) -> Option<LogBatch> {
    let level = config.get("level").and_then(Value::as_str).unwrap_or("OFF");
    if level == "OFF" {
        return None;
    }
    let include = config
        .get("includeExecutionData")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let group = config["destinations"][0]["cloudWatchLogsLogGroup"]["logGroupArn"]
        .as_str()
        .and_then(group_name)?;
    let events: Vec<(i64, String)> = history
        .iter()
        .filter(|event| cairn_api::observe::logs(level, &event.event_type))
        .map(|event| {
            let message =
                cairn_api::observe::log_message(execution_arn, event, include, redrive_count);
            (event.timestamp_ms, message.to_string())
        })
        .collect();
    (!events.is_empty()).then(|| LogBatch {
        group: group.to_string(),
        events,
    })
}

/// The Task-shaped request of one CloudWatch Logs call: `resource` names the action as a
/// Task state would (`arn:aws:states:::aws-sdk:cloudwatchlogs:putLogEvents`).
fn request(resource: &str, input: Value) -> TaskRequest {
    let action = resource.rsplit(':').next().unwrap_or_default();
    TaskRequest {
        task_id: 0,
        state_name: "execution log".into(),
        resource: resource.to_string(),
        kind: ResourceKind::Service {
            service: "aws-sdk:cloudwatchlogs".into(),
            action: action.into(),
            pattern: IntegrationPattern::RequestResponse,
        },
        input,
        task_token: None,
        credentials: None,
        now_ms: 0,
        execution_arn: String::new(),
    }
}

impl ExecutionLog {
    /// Writes to a stream named after the function and a random id of this container.
    pub fn new(integrations: Integrations, stream: impl Into<String>) -> ExecutionLog {
        ExecutionLog {
            integrations,
            stream: stream.into(),
            configs: Mutex::new(HashMap::new()),
            streams: Mutex::new(HashSet::new()),
        }
    }

    /// The logging configuration of a state machine (null when it has none or is gone).
    pub async fn config(&self, store: &dyn Store, machine_arn: &str) -> Value {
        if let Ok(configs) = self.configs.lock() {
            if let Some((config, read)) = configs.get(machine_arn) {
                if read.elapsed() < CONFIG_TTL {
                    return config.clone();
                }
            }
        }
        let config = match store.get_state_machine(machine_arn).await {
            Ok(Some((record, _))) => record
                .document
                .get("loggingConfiguration")
                .cloned()
                .unwrap_or(Value::Null),
            _ => Value::Null,
        };
        if let Ok(mut configs) = self.configs.lock() {
            if configs.len() > 1_000 {
                configs.clear();
            }
            configs.insert(machine_arn.to_string(), (config.clone(), Instant::now()));
        }
        config
    }

    /// One CloudWatch Logs call through the integrations, named by its Task resource
    /// (`arn:aws:states:::aws-sdk:cloudwatchlogs:filterLogEvents`).
    pub async fn call(&self, resource: &str, input: Value) -> Result<Value, String> {
        self.integrations
            .call(&request(resource, input))
            .await
            .result
            .map_err(|failure| format!("{}: {}", failure.error, failure.cause.unwrap_or_default()))
    }

    async fn ensure_stream(&self, group: &str) -> Result<(), String> {
        if self.streams.lock().is_ok_and(|s| s.contains(group)) {
            return Ok(());
        }
        match self
            .call(
                "arn:aws:states:::aws-sdk:cloudwatchlogs:createLogStream",
                json!({"logGroupName": group, "logStreamName": self.stream}),
            )
            .await
        {
            Ok(_) => {}
            Err(error) if error.contains("ResourceAlreadyExists") => {}
            Err(error) => return Err(error),
        }
        if let Ok(mut streams) = self.streams.lock() {
            streams.insert(group.to_string());
        }
        Ok(())
    }

    /// Puts the batch's events on this container's stream of its group.
    pub async fn put(&self, batch: LogBatch) -> Result<(), String> {
        self.ensure_stream(&batch.group).await?;
        for events in batch.events.chunks(EVENTS_PER_CALL) {
            let events: Vec<Value> = events
                .iter()
                .map(|(timestamp, message)| json!({"timestamp": timestamp, "message": message}))
                .collect();
            self.call(
                "arn:aws:states:::aws-sdk:cloudwatchlogs:putLogEvents",
                json!({"logGroupName": batch.group, "logStreamName": self.stream, "logEvents": events}),
            )
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: u64, event_type: &'static str) -> HistoryEvent {
        HistoryEvent {
            id,
            previous_event_id: id - 1,
            timestamp_ms: 1_764_000_000_000 + id as i64,
            event_type: event_type.into(),
            details: Value::Null.into(),
        }
    }

    #[test]
    fn group_names_come_from_the_destination_arn() {
        assert_eq!(
            group_name("arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/x:*"),
            Some("/aws/vendedlogs/states/x")
        );
        assert_eq!(
            group_name("arn:aws:logs:us-east-1:1:log-group:plain"),
            Some("plain")
        );
        assert_eq!(group_name("arn:aws:logs:us-east-1:1:log-group::*"), None);
        assert_eq!(group_name("not an arn"), None);
    }

    #[test]
    fn the_level_chooses_the_events_and_off_logs_nothing() {
        let arn = "arn:aws:states:us-east-1:1:execution:m:e";
        let history = [
            event(1, "ExecutionStarted"),
            event(2, "TaskFailed"),
            event(3, "ExecutionFailed"),
        ];
        let config = |level: &str| {
            json!({"level": level, "includeExecutionData": false, "destinations": [
                {"cloudWatchLogsLogGroup": {"logGroupArn": "arn:aws:logs:us-east-1:1:log-group:g:*"}}]})
        };
        let types = |level: &str| -> Vec<String> {
            batch(&config(level), arn, &history, 0)
                .map(|b| {
                    assert_eq!(b.group, "g");
                    b.events
                        .iter()
                        .map(|(_, m)| {
                            let m: Value = serde_json::from_str(m).unwrap();
                            assert_eq!(m["execution_arn"], arn);
                            m["type"].as_str().unwrap().to_string()
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(
            types("ALL"),
            ["ExecutionStarted", "TaskFailed", "ExecutionFailed"]
        );
        assert_eq!(types("ERROR"), ["TaskFailed", "ExecutionFailed"]);
        assert_eq!(types("FATAL"), ["ExecutionFailed"]);
        assert!(types("OFF").is_empty());
        assert!(batch(&Value::Null, arn, &history, 0).is_none());
        assert!(batch(&json!({"level": "ALL"}), arn, &history, 0).is_none());
    }
}
