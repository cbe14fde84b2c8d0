//! The `schedule` function: schedules start executions. A schedule is an EventBridge
//! Scheduler schedule (cron, rate or one-time, with a time zone and an on/off state) whose
//! target is this function and whose input names what to start ([`ScheduledStart`]); the
//! template's sample schedule is one, and users add their own (functions/README.md). A
//! schedule rule of the default bus (`Scheduled Event`) still works too, starting the machine
//! the function's environment names ([`ScheduleTarget`]).
//!
//! A start is named after its schedule and the time it was scheduled for, so a redelivery (the
//! function's or Scheduler's retry of the same firing) starts nothing new. Standard and Express
//! targets go through the api function's StartExecution: an Express execution is queued and
//! run by the Express queue's function, as every asynchronous Express start is.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::engine::{Engine, EngineError, Started};

/// Execution names: at most 80 characters.
const NAME_LIMIT: usize = 80;

/// What a Scheduler schedule sends (its target's `Input`, Scheduler's context attributes
/// filled in): `{"stateMachineArn", "input", "scheduleArn": "<aws.scheduler.schedule-arn>",
/// "scheduledTime": "<aws.scheduler.scheduled-time>"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledStart {
    pub state_machine_arn: String,
    /// The execution input: a JSON value, or a string holding the input's JSON text (as
    /// StartExecution takes it). Absent means `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_time: Option<String>,
}

impl ScheduledStart {
    /// The execution input as StartExecution takes it (JSON text).
    pub fn input_text(&self) -> String {
        match &self.input {
            None | Some(Value::Null) => "{}".into(),
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        }
    }

    /// `<schedule name>-<scheduled time>` (`nightly-20251125T060000Z`): the same for every
    /// delivery of one firing (Scheduler's execution id is not: it changes per attempt), and
    /// different for each firing. None when the schedule sends no time (no idempotency then:
    /// the execution gets a generated name).
    pub fn execution_name(&self) -> Option<String> {
        let time: String = self
            .scheduled_time
            .as_deref()?
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        if time.is_empty() {
            return None;
        }
        let schedule = self
            .schedule_arn
            .as_deref()
            .and_then(|arn| arn.rsplit('/').next())
            .unwrap_or("schedule");
        let schedule = clean(schedule);
        let room = NAME_LIMIT.saturating_sub(time.len() + 1);
        let schedule: String = schedule.chars().take(room).collect();
        Some(format!("{schedule}-{time}"))
    }
}

/// What invokes the function: a Scheduler schedule, or a schedule rule of the default bus.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ScheduleTrigger {
    Scheduler(ScheduledStart),
    Rule(Box<EventBridgeEvent<Value>>),
}

/// Keeps what an execution name allows (letters, digits, `-`, `_`), replacing the rest.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Starts what a Scheduler schedule names. A firing delivered again after its execution ended
/// finds the name taken (`ExecutionAlreadyExists`): that is success, not a failure to retry
/// into the dead-letter queue.
pub async fn handle_scheduled_start(
    engine: &Engine,
    api: &cairn_api::Api,
    start: &ScheduledStart,
) -> Result<Value, EngineError> {
    let mut body = json!({
        "stateMachineArn": start.state_machine_arn,
        "input": start.input_text(),
    });
    if let Some(name) = start.execution_name() {
        body["name"] = Value::String(name);
    }
    match crate::api::handle_action(engine, api, "StartExecution", body).await {
        Ok(out) => Ok(out),
        Err(error) if error.error_type == "ExecutionAlreadyExists" => {
            Ok(json!({"alreadyStarted": true, "message": error.message}))
        }
        Err(error) => Err(error.into()),
    }
}

/// Either trigger: a Scheduler schedule's start, or a rule's scheduled event for the machine
/// the environment names (an error when it names none).
pub async fn handle_trigger(
    engine: &Engine,
    api: &cairn_api::Api,
    target: Option<&ScheduleTarget>,
    trigger: ScheduleTrigger,
) -> Result<Value, EngineError> {
    match trigger {
        ScheduleTrigger::Scheduler(start) => handle_scheduled_start(engine, api, &start).await,
        ScheduleTrigger::Rule(event) => {
            let target = target.ok_or_else(|| {
                EngineError::Config(
                    "a scheduled rule event arrived but STATE_MACHINE_ARN is not set: use a Scheduler schedule whose input names the state machine".into(),
                )
            })?;
            let started = handle_schedule(engine, target, *event).await?;
            Ok(json!({"executionArn": started.execution_arn, "created": started.created}))
        }
    }
}

/// What a schedule rule starts (from the function's environment).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleTarget {
    pub state_machine_arn: String,
    /// JSON text; `{}` when not configured.
    pub input: String,
}

impl ScheduleTarget {
    /// `STATE_MACHINE_ARN` and `EXECUTION_INPUT`.
    pub fn from_env() -> Result<ScheduleTarget, EngineError> {
        Ok(ScheduleTarget {
            state_machine_arn: std::env::var("STATE_MACHINE_ARN")
                .map_err(|_| EngineError::Config("STATE_MACHINE_ARN is not set".into()))?,
            input: std::env::var("EXECUTION_INPUT").unwrap_or_else(|_| "{}".into()),
        })
    }
}

/// The execution name for a rule's scheduled event: `schedule-` and the event id (ids are
/// UUIDs; anything outside the name alphabet is replaced, and the name is capped at 80).
pub fn execution_name(event: &EventBridgeEvent<Value>) -> String {
    let id = event.id.as_deref().unwrap_or("unknown");
    format!("schedule-{}", clean(id))
        .chars()
        .take(NAME_LIMIT)
        .collect()
}

/// Starts a rule's target (Standard state machines only).
pub async fn handle_schedule(
    engine: &Engine,
    target: &ScheduleTarget,
    event: EventBridgeEvent<Value>,
) -> Result<Started, EngineError> {
    let name = execution_name(&event);
    engine
        .start(&target.state_machine_arn, Some(&name), Some(&target.input))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(arn: Option<&str>, time: Option<&str>, input: Option<Value>) -> ScheduledStart {
        ScheduledStart {
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
            input,
            schedule_arn: arn.map(str::to_string),
            scheduled_time: time.map(str::to_string),
        }
    }

    #[test]
    fn a_firing_is_named_after_its_schedule_and_time() {
        let arn = "arn:aws:scheduler:us-east-1:123456789012:schedule/default/nightly-report";
        let s = start(Some(arn), Some("2025-11-25T06:00:00Z"), None);
        assert_eq!(
            s.execution_name().as_deref(),
            Some("nightly-report-20251125T060000Z")
        );
        // Two firings differ; no time, no name.
        let later = start(Some(arn), Some("2025-11-26T06:00:00Z"), None);
        assert_ne!(s.execution_name(), later.execution_name());
        assert_eq!(start(Some(arn), None, None).execution_name(), None);
        // A long schedule name is cut so the whole fits 80 characters, keeping the time.
        let long = format!(
            "arn:aws:scheduler:us-east-1:1:schedule/g/{}",
            "n.".repeat(60)
        );
        let name = start(Some(&long), Some("2025-11-25T06:00:00Z"), None)
            .execution_name()
            .unwrap();
        assert_eq!(name.len(), 80);
        assert!(name.ends_with("-20251125T060000Z") && !name.contains('.'));
    }

    #[test]
    fn the_input_is_a_json_value_or_its_text() {
        assert_eq!(start(None, None, None).input_text(), "{}");
        assert_eq!(
            start(None, None, Some(json!({"a": [1]}))).input_text(),
            "{\"a\":[1]}"
        );
        assert_eq!(
            start(None, None, Some(json!("{\"a\":1}"))).input_text(),
            "{\"a\":1}"
        );
    }

    #[test]
    fn a_scheduler_start_and_a_rule_event_are_told_apart() {
        let scheduler: ScheduleTrigger = serde_json::from_value(json!({
            "stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:m",
            "input": {"x": 1},
            "scheduleArn": "arn:aws:scheduler:us-east-1:1:schedule/default/s",
            "scheduledTime": "2025-11-25T06:00:00Z"
        }))
        .unwrap();
        assert!(matches!(scheduler, ScheduleTrigger::Scheduler(_)));
        let rule: ScheduleTrigger = serde_json::from_value(json!({
            "version": "0", "id": "e", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "1", "time": "2025-11-25T06:00:00Z", "region": "us-east-1",
            "resources": [], "detail": {}
        }))
        .unwrap();
        assert!(matches!(rule, ScheduleTrigger::Rule(_)));
    }
}
