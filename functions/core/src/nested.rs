//! Nested executions in the serverless shell: a `states:startExecution` task whose state
//! machine lives in this deployment's table starts its child here, through the same actions
//! the api function answers (so the child runs on the bus and the timer queue like any other).

use cairn_api::Api;
use cairn_runtime::{ApiFailure, StepFunctionsApi};
use serde_json::Value;

use crate::engine::Engine;

/// The api function's actions, for the integrations. Its calls come from blocking threads
/// (the integrations' own), so it may block on the function's runtime.
pub struct EngineApi {
    engine: Engine,
    api: Api,
    runtime: tokio::runtime::Handle,
}

impl EngineApi {
    /// Over a second engine on the same table and bus. Must be called inside the function's
    /// Tokio runtime.
    pub fn new(engine: Engine) -> EngineApi {
        let api = crate::shared_api(&engine);
        EngineApi {
            engine,
            api,
            runtime: tokio::runtime::Handle::current(),
        }
    }
}

impl StepFunctionsApi for EngineApi {
    fn call(&self, action: &str, request: Value) -> Result<Value, ApiFailure> {
        self.runtime
            .block_on(crate::api::handle_action(
                &self.engine,
                &self.api,
                action,
                request,
            ))
            .map_err(|error| ApiFailure {
                code: error.error_type,
                message: error.message,
            })
    }
}
