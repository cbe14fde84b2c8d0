//! The schedule Lambda: an EventBridge schedule starts the configured state machine.
#![forbid(unsafe_code)]
use cairn_serverless::schedule::{handle_schedule, ScheduleTarget};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let engine = cairn_serverless::engine_from_env().await?;
    let target = ScheduleTarget::from_env()?;
    let (engine, target) = (&engine, &target);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<cairn_serverless::EventBridgeEvent<serde_json::Value>>| async move {
            let started = Box::pin(handle_schedule(engine, target, event.payload)).await?;
            Ok::<_, Error>(serde_json::json!({
                "executionArn": started.execution_arn,
                "created": started.created,
            }))
        },
    ))
    .await
}
