//! What the decider tests share: one execution's identity, a clock, and histories in AWS's
//! numbering. Each test binary includes this module and uses only part of it.
#![allow(dead_code)]

use cairn_interpreter::{Context, Decision, ExecutionInfo};

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
