//! The api Lambda: API Gateway (REST proxy) requests into the Step Functions actions.
#![forbid(unsafe_code)]
use cairn_serverless::api::handle_request;
use cairn_serverless::ApiGatewayProxyRequest;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let engine = cairn_serverless::engine_from_env().await?;
    let api = cairn_serverless::shared_api(&engine);
    let (engine, api) = (&engine, &api);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayProxyRequest>| async move {
            Ok::<_, Error>(Box::pin(handle_request(engine, api, event.payload)).await)
        },
    ))
    .await
}
