#![forbid(unsafe_code)]
//! The Step Functions API actions, independent of the transport: `cairn serve` maps AWS JSON
//! 1.0 requests onto [`Api::handle`], and the Lambda `api` function of a later issue can do
//! the same.
//!
//! Standard executions live in a [`Store`]; every event an execution receives (a timer
//! firing, a task's result, a worker picking an activity task up, StopExecution) is one
//! atomic, version-conditional store write of the decider's new state, its history events
//! and the timers, activity tasks and task tokens its commands create or retire. Express
//! executions run in memory through the runtime's run loop (asynchronous ones are lost if
//! the process dies: at most once). Task tokens are HMAC-signed with [`Config::token_key`].
//! Actions Cairn does not implement yet answer `UnsupportedOperation` naming the action.

mod actions;
mod driver;
pub mod fields;
pub mod machines;
mod map_children;
mod map_runs;
pub mod names;
pub mod observe;
mod params;
pub mod persisted;
pub mod redrive;
pub mod retention;
mod scheduler;
mod tags;
mod test_state;
mod tokens;
mod versions;

use std::sync::Arc;

use cairn_runtime::{Clock, SystemClock, TaskInvoker, Unsupported};
use cairn_store::Store;
use serde_json::Value;

pub use driver::Driver;
pub use map_runs::child_record as map_run_child_record;
pub use tokens::{new_key as new_token_key, Signer as TokenSigner, KEY_BYTES as TOKEN_KEY_BYTES};

/// Where ARNs point and how the API behaves.
#[derive(Clone)]
pub struct Config {
    pub region: String,
    pub account: String,
    /// How long GetActivityTask waits for a task before answering with no task (AWS: 60 s).
    pub activity_poll: std::time::Duration,
    pub invoker: Arc<dyn TaskInvoker>,
    pub clock: Arc<dyn Clock>,
    /// Threads that fire timers and apply their events.
    pub workers: usize,
    /// How many finished Express executions to keep in memory so DescribeExecution and
    /// GetExecutionHistory can show them. AWS keeps none (0, the default, behaves as AWS:
    /// those calls answer InvalidArn for Express ARNs).
    pub express_history: usize,
    /// The HMAC key task tokens are signed with. Persist it (as `cairn serve` does in its
    /// data directory) so tokens handed out before a restart stay valid.
    pub token_key: Vec<u8>,
    /// Where asynchronous Express executions are journaled until they end, so that a
    /// restart runs the ones a crash interrupted again (AWS: at least once). `None` keeps
    /// them in memory only: lost with the process.
    pub express_journal: Option<std::path::PathBuf>,
    /// The quotas executions run under (AWS's by default; larger values are beyond AWS).
    pub limits: cairn_interpreter::Limits,
    /// Step Functions Local's mock configuration: StartExecution and StartSyncExecution on
    /// `<stateMachineArn>#<TestCaseName>` answer that execution's Task states from the test
    /// case's mocked responses. The registry must also be (or wrap) `invoker`.
    pub mocks: Option<Arc<cairn_runtime::MockRegistry>>,
    /// Where the log events that state machines' `loggingConfiguration` asks for go (AWS:
    /// CloudWatch Logs). `None` logs nothing.
    pub execution_log: Option<Arc<dyn observe::ExecutionLogSink>>,
    /// Where Standard executions' status change events go (AWS: the default event bus).
    pub status_events: Option<Arc<dyn observe::StatusEventSink>>,
    /// The open executions quota StartExecution answers `ExecutionLimitExceeded` at
    /// (AWS: 1,000,000).
    pub open_executions: fields::OpenExecutionsQuota,
    /// A Distributed Map's STANDARD children run as executions of their own, each stored
    /// with its own history and reporting its end to its parent (on by default); off, they
    /// run inside their parent and are stored when their Map Run ends. Executions keep the
    /// way they started with. A simulated driver always keeps them inside.
    pub map_run_children: bool,
    /// The same for EXPRESS children; off by default: AWS shows no history of an Express
    /// execution, and a run of many short children inside its parent is written a few
    /// times instead of once per batch of ends (the 100,000-row CSV map: ~9,900 items/s
    /// inside, ~600 outside, where every write of the parent rewrites its whole state).
    pub express_map_run_children: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            activity_poll: std::time::Duration::from_secs(60),
            invoker: Arc::new(Unsupported),
            clock: Arc::new(SystemClock),
            workers: 8,
            express_history: 0,
            token_key: default_token_key(),
            express_journal: None,
            limits: cairn_interpreter::Limits::default(),
            mocks: None,
            execution_log: None,
            status_events: None,
            open_executions: fields::OpenExecutionsQuota::default(),
            map_run_children: true,
            express_map_run_children: false,
        }
    }
}

/// A random key for this process; if the OS has no random source, one derived from std's
/// randomly keyed hasher (still unpredictable from outside).
fn default_token_key() -> Vec<u8> {
    tokens::new_key().unwrap_or_else(|_| {
        use std::hash::{BuildHasher, Hasher};
        let state = std::collections::hash_map::RandomState::new();
        (0..tokens::KEY_BYTES / 8)
            .flat_map(|i| {
                let mut hasher = state.build_hasher();
                hasher.write_usize(i);
                hasher.finish().to_le_bytes()
            })
            .collect()
    })
}

/// An API error as AWS reports it: `__type` and `message` on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {message}")]
pub struct ApiError {
    /// AWS's error code, e.g. `StateMachineDoesNotExist`.
    pub error_type: String,
    pub message: String,
    /// A ValidationException's `reason` (`API_DOES_NOT_SUPPORT_LABELED_ARNS`, ...).
    pub reason: Option<String>,
    /// The resource a ResourceNotFound or TooManyTags names (its ARN), as AWS's model
    /// carries it in `resourceName`.
    pub resource_name: Option<String>,
}

impl ApiError {
    pub fn new(error_type: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            error_type: error_type.to_string(),
            message: message.into(),
            reason: None,
            resource_name: None,
        }
    }

    pub fn with_reason(mut self, reason: &str) -> ApiError {
        self.reason = Some(reason.to_string());
        self
    }

    pub fn with_resource_name(mut self, name: &str) -> ApiError {
        self.resource_name = Some(name.to_string());
        self
    }

    /// The error as AWS's JSON protocols carry it: `__type`, `message` and, when AWS gives
    /// them, `reason` and `resourceName`.
    pub fn wire_body(&self) -> Value {
        let mut body = serde_json::json!({"__type": self.error_type, "message": self.message});
        if let Some(reason) = &self.reason {
            body["reason"] = Value::from(reason.clone());
        }
        if let Some(name) = &self.resource_name {
            body["resourceName"] = Value::from(name.clone());
        }
        body
    }

    /// Whether the fault is the server's (HTTP 500) rather than the request's (HTTP 400).
    pub fn is_server_fault(&self) -> bool {
        self.error_type == "InternalFailure"
    }

    pub(crate) fn internal(message: impl std::fmt::Display) -> ApiError {
        ApiError::new("InternalFailure", message.to_string())
    }
}

impl From<cairn_store::Error> for ApiError {
    fn from(error: cairn_store::Error) -> ApiError {
        ApiError::internal(format!("store: {error}"))
    }
}

/// The 37 actions of the Step Functions API.
pub const ACTIONS: [&str; 37] = [
    "CreateActivity",
    "CreateStateMachine",
    "CreateStateMachineAlias",
    "DeleteActivity",
    "DeleteStateMachine",
    "DeleteStateMachineAlias",
    "DeleteStateMachineVersion",
    "DescribeActivity",
    "DescribeExecution",
    "DescribeMapRun",
    "DescribeStateMachine",
    "DescribeStateMachineAlias",
    "DescribeStateMachineForExecution",
    "GetActivityTask",
    "GetExecutionHistory",
    "ListActivities",
    "ListExecutions",
    "ListMapRuns",
    "ListStateMachineAliases",
    "ListStateMachineVersions",
    "ListStateMachines",
    "ListTagsForResource",
    "PublishStateMachineVersion",
    "RedriveExecution",
    "SendTaskFailure",
    "SendTaskHeartbeat",
    "SendTaskSuccess",
    "StartExecution",
    "StartSyncExecution",
    "StopExecution",
    "TagResource",
    "TestState",
    "UntagResource",
    "UpdateMapRun",
    "UpdateStateMachine",
    "UpdateStateMachineAlias",
    "ValidateStateMachineDefinition",
];

/// The API over one store. Cheap to clone; every method is thread-safe and blocking
/// (GetActivityTask blocks up to [`Config::activity_poll`]), so async transports call it
/// from blocking threads.
#[derive(Clone)]
pub struct Api {
    driver: Arc<Driver>,
}

impl Api {
    /// Builds the API and starts its timer and worker threads. Call [`Api::recover`] once
    /// after a restart to resume the executions that were running.
    pub fn new(store: Arc<dyn Store>, config: Config) -> Api {
        Api {
            driver: Driver::start(store, config),
        }
    }

    /// Resumes every RUNNING Standard execution: reloads its timers and re-dispatches the
    /// task invocations that had not reported back; runs again the asynchronous Express
    /// executions [`Config::express_journal`] holds. Returns how many executions it resumed.
    pub fn recover(&self) -> Result<usize, ApiError> {
        self.driver.recover()
    }

    /// Runs one action. `request` is the JSON body AWS's JSON 1.0 protocol carries.
    pub fn handle(&self, action: &str, request: Value) -> Result<Value, ApiError> {
        actions::dispatch(&self.driver, action, &request)
    }

    /// UpdateMapRun checked but not applied: the execution and the event to apply to it,
    /// for a shell that moves executions itself (the serverless engine).
    pub fn map_run_update(
        &self,
        request: &Value,
    ) -> Result<(String, cairn_interpreter::Event), ApiError> {
        map_runs::update_event(&self.driver, &params::Params::new(request)?)
    }

    /// Deletes the executions closed more than `days` days ago, with their histories (see
    /// [`retention`]); returns how many. A store that keeps executions some other way
    /// (DynamoDB's TTL) answers an error saying so.
    pub fn sweep_retention(&self, days: u32) -> Result<usize, ApiError> {
        retention::sweep(&self.driver, days)
    }

    /// Stops the timer and worker threads.
    pub fn shutdown(&self) {
        self.driver.shutdown();
    }
}

/// The API as the integrations reach it: a nested execution started here, a `.sync` child's
/// end reported to its parent through the task token.
impl cairn_runtime::StepFunctionsApi for Api {
    fn call(&self, action: &str, request: Value) -> Result<Value, cairn_runtime::ApiFailure> {
        self.handle(action, request)
            .map_err(|error| cairn_runtime::ApiFailure {
                code: error.error_type,
                message: error.message,
            })
    }
}

/// AWS's request validation alone (required members, string lengths, payload sizes in
/// bytes), for a shell that carries some actions out itself instead of through
/// [`Api::handle`] (the serverless api function's StartExecution, StopExecution and
/// SendTask*), so that they answer as the shared actions do. `payload_bytes` is the
/// server's payload quota (AWS's 262,144 bytes when smaller).
pub fn validate_request(
    action: &str,
    request: &Value,
    payload_bytes: usize,
) -> Result<(), ApiError> {
    params::check_request(action, request, payload_bytes)
}
