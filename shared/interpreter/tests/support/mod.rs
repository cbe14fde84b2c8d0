//! What the decider tests share: one execution's identity, a clock, and histories in AWS's
//! numbering. Each test binary includes this module and uses only part of it.
#![allow(dead_code)]

use cairn_interpreter::{Command, Context, Decision, ExecutionInfo};
use serde_json::Value;

pub fn info() -> ExecutionInfo {
    ExecutionInfo {
        execution_arn: "arn:aws:states:us-east-1:111111111111:execution:sm:run".into(),
        name: "run".into(),
        state_machine_arn: "arn:aws:states:us-east-1:111111111111:stateMachine:sm".into(),
        state_machine_name: "sm".into(),
        role_arn: "arn:aws:iam::111111111111:role/r".into(),
        start_time_ms: 1_000,
        ..Default::default()
    }
}

pub fn at(now_ms: i64) -> Context {
    Context { now_ms, seed: 7 }
}

/// `id prev Type` per event, the shape AWS numbers.
pub fn lines(d: &Decision) -> Vec<String> {
    d.history
        .iter()
        .map(|e| format!("{} {} {}", e.id, e.previous_event_id, e.event_type))
        .collect()
}

/// The (task id, input) of each task the decision asks for.
pub fn invoked(d: &Decision) -> Vec<(u64, Value)> {
    d.commands
        .iter()
        .filter_map(|c| match c {
            Command::InvokeTask { task_id, input, .. } => Some((*task_id, input.clone())),
            _ => None,
        })
        .collect()
}
