//! The messages that move executions forward, and the events Cairn puts on the bus.

use cairn_interpreter::{Event, TaskId};
use serde::{Deserialize, Serialize};

/// `source` of the events that carry a [`Message`] to the advance function.
pub const ADVANCE_SOURCE: &str = "cairn.serverless";
/// `detail-type` of those events (the bus rule matches on both).
pub const ADVANCE_DETAIL_TYPE: &str = "Cairn Execution Advance";
/// `source` of the status-change events. AWS uses `aws.states`, which only AWS may send.
pub const STATUS_SOURCE: &str = "cairn.states";
/// AWS's `detail-type` for an execution's status change.
pub const STATUS_DETAIL_TYPE: &str = "Step Functions Execution Status Change";

/// One thing to do to one execution: the body of an SQS timer message, or the `detail` of
/// an EventBridge advance event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Message {
    /// Feed this decider event to the execution.
    #[serde(rename_all = "camelCase")]
    Apply { execution_arn: String, event: Event },
    /// Start and run this open task of the execution (a Lambda or service integration).
    #[serde(rename_all = "camelCase")]
    RunTask {
        execution_arn: String,
        task_id: TaskId,
    },
    /// The next page of a sweep: sent by the sweep itself when a page was full, so no one
    /// invocation reads every running execution or overdue timer.
    Sweep(SweepStep),
    /// Run this asynchronous Express execution to its end (the body of an Express queue
    /// message, [`crate::express`]).
    RunExpress(Box<crate::express::ExpressJob>),
    /// Create these Distributed Map children of the execution as executions of their own
    /// (the open tasks of its `StartMapRunChild` commands: [`crate::map_children`]).
    #[serde(rename_all = "camelCase")]
    StartMapRunChildren {
        execution_arn: String,
        task_ids: Vec<TaskId>,
    },
    /// A Distributed Map child of the execution ended: its end becomes the parent's task
    /// event (read from the child, so the message stays small whatever the child's output).
    #[serde(rename_all = "camelCase")]
    MapRunChildEnded {
        execution_arn: String,
        child_arn: String,
    },
}

/// Where a sweep goes on: its phase and the store's cursor inside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepStep {
    /// How late a timer or a task run must be before its message counts as lost.
    pub grace_seconds: u32,
    pub phase: SweepPhase,
    /// The store's cursor inside the phase (`None`: its start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// A sweep re-sends lost timer messages first, then lost task runs (and the status events
/// of running executions), then the status events of closed ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SweepPhase {
    Timers,
    Tasks,
    /// Closed executions whose status events were not confirmed sent.
    Statuses,
}

impl SweepStep {
    /// A sweep from its start.
    pub fn new(grace_seconds: u32) -> SweepStep {
        SweepStep {
            grace_seconds,
            phase: SweepPhase::Timers,
            cursor: None,
        }
    }
}

impl Message {
    /// The execution the message moves; empty for a sweep, which moves none.
    pub fn execution_arn(&self) -> &str {
        match self {
            Message::Apply { execution_arn, .. }
            | Message::RunTask { execution_arn, .. }
            | Message::StartMapRunChildren { execution_arn, .. }
            | Message::MapRunChildEnded { execution_arn, .. } => execution_arn,
            Message::RunExpress(job) => &job.info.execution_arn,
            Message::Sweep(_) => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_continuation_round_trips_as_an_advance_detail() {
        let step = Message::Sweep(SweepStep {
            grace_seconds: 120,
            phase: SweepPhase::Tasks,
            cursor: Some("{\"shard\":3}".into()),
        });
        let json = serde_json::to_value(&step).unwrap();
        assert_eq!(json["kind"], "sweep");
        assert_eq!(json["phase"], "tasks");
        assert_eq!(serde_json::from_value::<Message>(json).unwrap(), step);
    }
}
