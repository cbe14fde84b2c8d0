//! The `advance` function: the target of the bus rule for advance events and the consumer of
//! the timer queue. Each message is one [`Engine::handle`].

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Deserialize;

use crate::engine::{Applied, Engine, EngineError};
use crate::long_task::InvocationRecord;
use crate::message::{Message, SweepStep};

/// What invokes the function: an EventBridge rule (one event: an advance message or a long
/// Lambda task's destination record), the SQS timer queue (a batch), or the sweep schedule
/// (its constant input `{"sweep": {"graceSeconds": N}}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum AdvanceTrigger {
    Sqs(SqsEvent),
    EventBridge(Box<EventBridgeEvent<Message>>),
    /// A long Lambda task's destination event ([`crate::long_task`]).
    LambdaResult(Box<EventBridgeEvent<InvocationRecord>>),
    Sweep {
        sweep: Sweep,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sweep {
    /// How late a timer must be before its message counts as lost.
    pub grace_seconds: u32,
}

/// Handles an EventBridge event; an error makes Lambda retry it (EventBridge's async retry).
pub async fn handle_event(
    engine: &Engine,
    event: EventBridgeEvent<Message>,
) -> Result<Applied, EngineError> {
    engine.handle(event.detail).await
}

/// Handles a batch of timer messages. Failed ones are reported (ReportBatchItemFailures) so
/// only they come back; an unreadable body is dropped with a log line, as redelivering it
/// could never succeed. The ends of one parent's Distributed Map children in the batch are
/// applied to it in one write ([`Engine::map_run_children_ended`]).
pub async fn handle_sqs(engine: &Engine, event: SqsEvent) -> SqsBatchResponse {
    let (mut ids, mut arns, mut messages) = (Vec::new(), Vec::new(), Vec::new());
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let message: Message = match record.body.as_deref().map(serde_json::from_str) {
            Some(Ok(message)) => message,
            Some(Err(e)) => {
                crate::logging::log(
                    "ERROR",
                    None,
                    format_args!("dropping unreadable message {id}: {e}"),
                );
                continue;
            }
            None => {
                crate::logging::log("ERROR", None, format_args!("dropping empty message {id}"));
                continue;
            }
        };
        ids.push(id);
        arns.push(message.execution_arn().to_string());
        messages.push(message);
    }
    let mut failures = Vec::new();
    for failure in engine.handle_batch(messages).await {
        for i in failure.messages {
            failed(&mut failures, &arns[i], &ids[i], &failure.error);
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

fn failed(failures: &mut Vec<BatchItemFailure>, arn: &str, id: &str, error: &EngineError) {
    crate::logging::log(
        "ERROR",
        Some(arn).filter(|arn| !arn.is_empty()),
        format_args!("message {id} failed and will be retried: {error}"),
    );
    let mut failure = BatchItemFailure::default();
    failure.item_identifier = id.to_string();
    failures.push(failure);
}

/// Dispatches either trigger; the JSON answer is what Lambda expects back from each.
pub async fn handle_trigger(
    engine: &Engine,
    trigger: AdvanceTrigger,
) -> Result<serde_json::Value, EngineError> {
    match trigger {
        AdvanceTrigger::Sqs(event) => {
            let response = handle_sqs(engine, event).await;
            serde_json::to_value(response).map_err(|e| EngineError::Send(e.to_string()))
        }
        AdvanceTrigger::Sweep { sweep } => {
            // The first page; a continuation message carries the sweep on if more remain.
            let report = engine.sweep(SweepStep::new(sweep.grace_seconds)).await?;
            Ok(serde_json::json!({
                "resentTimers": report.resent_timers,
                "resentTasks": report.resent_tasks,
                "rerunTasks": report.rerun_tasks,
                "resentStatuses": report.resent_statuses,
                "continued": report.next.is_some(),
            }))
        }
        AdvanceTrigger::LambdaResult(event) => {
            let event = *event;
            let applied = engine
                .lambda_result(&event.detail_type, event.detail)
                .await?;
            Ok(serde_json::json!({"applied": format!("{applied:?}")}))
        }
        AdvanceTrigger::EventBridge(event) => {
            let applied = handle_event(engine, *event).await?;
            Ok(serde_json::json!({"applied": format!("{applied:?}")}))
        }
    }
}
