//! The schedule Lambda: EventBridge Scheduler schedules (and schedule rules) start executions.
#![forbid(unsafe_code)]
use cairn_serverless::schedule::{handle_trigger, ScheduleTarget, ScheduleTrigger};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let engine = cairn_serverless::engine_from_env().await?;
    let api = cairn_serverless::shared_api(&engine);
    // Only a schedule rule needs it: a Scheduler schedule names its own state machine.
    let target = std::env::var("STATE_MACHINE_ARN")
        .is_ok()
        .then(ScheduleTarget::from_env)
        .transpose()?;
    let (engine, api, target) = (&engine, &api, &target);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ScheduleTrigger>| async move {
            Ok::<_, Error>(
                Box::pin(handle_trigger(engine, api, target.as_ref(), event.payload)).await?,
            )
        },
    ))
    .await
}
