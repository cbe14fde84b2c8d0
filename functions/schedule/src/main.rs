//! The schedule Lambda: EventBridge Scheduler schedules (and schedule rules) start executions,
//! and CloudFormation's requests for the `Schedules` custom resource sync the schedules file
//! into the stack's schedule group (crate cairn-schedules).
#![forbid(unsafe_code)]
use cairn_schedules::{is_custom_resource_request, serve_custom_resource};
use cairn_serverless::schedule::{handle_trigger, ScheduleTarget, ScheduleTrigger};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

// The allocator `cairn serve` uses (cairn/src/main.rs): the same decider and JSON work runs
// here per invocation.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let engine = cairn_serverless::engine_from_env().await?;
    let api = cairn_serverless::shared_api(&engine);
    let scheduler = cairn_schedules::scheduler_client_from_env().await;
    let schedules_file = cairn_schedules::schedules_file_path();
    // Only a schedule rule needs it: a Scheduler schedule names its own state machine.
    let target = std::env::var("STATE_MACHINE_ARN")
        .is_ok()
        .then(ScheduleTarget::from_env)
        .transpose()?;
    let (engine, api, target) = (&engine, &api, &target);
    let (scheduler, schedules_file) = (&scheduler, &schedules_file);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        if is_custom_resource_request(&event.payload) {
            return Ok::<_, Error>(
                serve_custom_resource(
                    scheduler,
                    event.payload,
                    schedules_file,
                    event.context.deadline(),
                )
                .await?,
            );
        }
        let trigger: ScheduleTrigger = serde_json::from_value(event.payload)?;
        Ok(Box::pin(handle_trigger(engine, api, target.as_ref(), trigger)).await?)
    }))
    .await
}
