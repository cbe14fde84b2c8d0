//! What the unit tests of several states share: one execution's identity and a clock.

use crate::{Context, ExecutionInfo};

pub(crate) fn info() -> ExecutionInfo {
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

/// A decision's context at `now_ms`, with a fixed seed so names repeat.
pub(crate) fn at(now_ms: i64) -> Context {
    Context { now_ms, seed: 7 }
}
