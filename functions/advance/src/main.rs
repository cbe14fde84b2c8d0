//! The advance Lambda: EventBridge advance events and SQS timer batches into the engine.
#![forbid(unsafe_code)]
use cairn_serverless::advance::{handle_trigger, AdvanceTrigger};
use lambda_runtime::{service_fn, Error, LambdaEvent};

// The allocator `cairn serve` uses (cairn/src/main.rs): the same decider and JSON work runs
// here per invocation.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let engine = cairn_serverless::engine_from_env().await?;
    let engine = &engine;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<AdvanceTrigger>| async move {
            // Boxed: the engine's future is too deep to lay out inline in the runtime's.
            Ok::<_, Error>(Box::pin(handle_trigger(engine, event.payload)).await?)
        },
    ))
    .await
}
