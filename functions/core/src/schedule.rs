//! The `schedule` function: an EventBridge schedule (cron or rate) starts an execution of a
//! configured state machine with a configured input. The execution is named after the
//! scheduled event's id, so a redelivered event starts nothing new.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::Value;

use crate::engine::{Engine, EngineError, Started};

/// What the schedule starts (from the function's environment).
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

/// The execution name for a scheduled event: `schedule-` and the event id (ids are UUIDs;
/// anything outside the name alphabet is replaced, and the name is capped at 80).
pub fn execution_name(event: &EventBridgeEvent<Value>) -> String {
    let id = event.id.as_deref().unwrap_or("unknown");
    let clean: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("schedule-{clean}").chars().take(80).collect()
}

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
