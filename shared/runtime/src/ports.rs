//! The narrow ports the run loop needs from the outside world: something that carries out
//! Task states, and a clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_interpreter::{ResourceKind, TaskId};
use serde_json::Value;

/// One Task invocation, as the decider asked for it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRequest {
    pub task_id: TaskId,
    pub state_name: String,
    /// The state's `Resource` ARN.
    pub resource: String,
    pub kind: ResourceKind,
    /// The effective parameters (after `Parameters`/`Arguments`).
    pub input: Value,
    pub task_token: Option<String>,
    pub credentials: Option<Value>,
    /// Epoch milliseconds at which the task is started (logical time under virtual time).
    pub now_ms: i64,
}

/// A Task's failure as the state machine sees it: `error` and `cause` feed `Retry`/`Catch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    pub error: String,
    pub cause: Option<String>,
}

impl TaskFailure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> TaskFailure {
        TaskFailure {
            error: error.into(),
            cause: Some(cause.into()),
        }
    }
}

/// What a Task invocation produced, and how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskOutcome {
    pub result: Result<Value, TaskFailure>,
    /// How long the work takes beyond the call itself, in milliseconds. Simulated work (a
    /// scripted function that "sleeps") reports it here instead of blocking a thread: under
    /// virtual time the result arrives that much later in logical time, under real time the
    /// run loop waits for it. Real integrations that block while working report 0.
    pub delay_ms: u64,
}

impl TaskOutcome {
    pub fn now(result: Result<Value, TaskFailure>) -> TaskOutcome {
        TaskOutcome {
            result,
            delay_ms: 0,
        }
    }
}

/// Carries out Task states. Called from worker threads under real time (several tasks of a
/// Parallel or Map state run at once) and inline under virtual time, so it must be `Sync`.
pub trait TaskInvoker: Send + Sync {
    fn invoke(&self, request: &TaskRequest) -> TaskOutcome;
}

/// The error name of [`Unsupported`]: a task failure that `Retry`/`Catch` can handle.
pub const UNSUPPORTED_RESOURCE: &str = "Cairn.UnsupportedResource";

/// An invoker for resources Cairn cannot call yet: every task fails with a catchable
/// [`UNSUPPORTED_RESOURCE`] error naming the resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unsupported;

impl TaskInvoker for Unsupported {
    fn invoke(&self, request: &TaskRequest) -> TaskOutcome {
        TaskOutcome::now(Err(unsupported(&request.resource)))
    }
}

/// The failure for a resource nothing in this process can call.
pub fn unsupported(resource: &str) -> TaskFailure {
    TaskFailure::new(
        UNSUPPORTED_RESOURCE,
        format!(
            "Cairn cannot call the resource '{resource}' yet: service integrations are not \
             implemented in this build (the integrations work adds them)"
        ),
    )
}

/// Where the run loop reads the time under real time.
pub trait Clock: Send + Sync {
    /// Epoch milliseconds.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
    }
}
