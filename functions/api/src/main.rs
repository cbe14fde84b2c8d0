//! The api Lambda: API Gateway (REST proxy) requests, or Function URL requests, into the Step
//! Functions actions.
#![forbid(unsafe_code)]
use cairn_serverless::api::{handle_request, request_from_event};
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
    let (engine, api) = (&engine, &api);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Both payload formats: the API Gateway route's (1.0) and the Function URL's (2.0).
        let request = request_from_event(event.payload)?;
        Ok::<_, Error>(Box::pin(handle_request(engine, api, request)).await)
    }))
    .await
}
