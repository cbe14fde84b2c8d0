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
}

impl Message {
    pub fn execution_arn(&self) -> &str {
        match self {
            Message::Apply { execution_arn, .. } | Message::RunTask { execution_arn, .. } => {
                execution_arn
            }
        }
    }
}
