//! The narrow ports the run loop needs from the outside world: something that carries out
//! Task states, and a clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_interpreter::{Command, Event, IntegrationPattern, ResourceKind, TaskId};
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
    /// The execution the task belongs to (empty where the shell does not say): mocked
    /// responses are chosen and their attempts counted per execution.
    pub execution_arn: String,
}

impl TaskRequest {
    /// The call an `InvokeTask` command asks for (`None` for any other command). A
    /// `.waitForTaskToken` task calls the plain action (the pattern only changes what the
    /// execution waits for), so invokers see `lambda:invoke`, not
    /// `lambda:invoke.waitForTaskToken`.
    pub fn from_command(command: Command, now_ms: i64) -> Option<TaskRequest> {
        let Command::InvokeTask {
            task_id,
            state_name,
            resource,
            kind,
            input,
            task_token,
            credentials,
            ..
        } = command
        else {
            return None;
        };
        let kind = match kind {
            ResourceKind::Service {
                service,
                action,
                pattern: IntegrationPattern::WaitForTaskToken,
            } => ResourceKind::Service {
                service,
                action: action
                    .strip_suffix(".waitForTaskToken")
                    .map_or(action.clone(), str::to_string),
                pattern: IntegrationPattern::RequestResponse,
            },
            other => other,
        };
        Some(TaskRequest {
            task_id,
            state_name,
            resource,
            kind,
            input,
            task_token,
            credentials,
            now_ms,
            execution_arn: String::new(),
        })
    }
}

/// The event a finished task call is for the decider: for a `.waitForTaskToken` or `.sync`
/// task the call only submitted the work (`TaskSubmitted`); the task's token brings the
/// result later (for `.sync`, the integration sends it when the job ends).
pub fn task_event(
    task_id: TaskId,
    kind: &ResourceKind,
    result: Result<Value, TaskFailure>,
) -> Event {
    let waits_for_token = matches!(
        kind,
        ResourceKind::Service {
            pattern: IntegrationPattern::WaitForTaskToken | IntegrationPattern::Sync,
            ..
        }
    );
    match result {
        Ok(output) if waits_for_token => Event::TaskSubmitted { task_id, output },
        Ok(output) => Event::TaskSucceeded { task_id, output },
        Err(failure) => Event::TaskFailed {
            task_id,
            error: Some(failure.error),
            cause: failure.cause,
        },
    }
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
    /// The result is the task's own even for a `.waitForTaskToken` or `.sync` task, which
    /// then waits for no token: a mocked response (Step Functions Local answers such a task
    /// with its mock).
    pub ends_task: bool,
}

impl TaskOutcome {
    pub fn now(result: Result<Value, TaskFailure>) -> TaskOutcome {
        TaskOutcome {
            result,
            delay_ms: 0,
            ends_task: false,
        }
    }

    /// A result that ends the task whatever its pattern.
    pub fn ending(result: Result<Value, TaskFailure>) -> TaskOutcome {
        TaskOutcome {
            ends_task: true,
            ..TaskOutcome::now(result)
        }
    }
}

/// The command as a request-response task: how an outcome that ends its task is recorded
/// (`TaskSucceeded`/`TaskFailed`, no `TaskSubmitted`).
pub fn ended_by_its_call(mut command: Command) -> Command {
    if let Command::InvokeTask {
        kind: ResourceKind::Service { pattern, .. },
        ..
    } = &mut command
    {
        *pattern = IntegrationPattern::RequestResponse;
    }
    command
}

/// Carries out Task states. Called from worker threads under real time (several tasks of a
/// Parallel or Map state run at once) and inline under virtual time, so it must be `Sync`.
pub trait TaskInvoker: Send + Sync {
    /// Makes the call and returns its outcome, blocking the calling thread meanwhile.
    fn invoke(&self, request: &TaskRequest) -> TaskOutcome;

    /// Starts the call without holding the caller's thread, for an invoker that waits on
    /// I/O itself (service calls on one runtime: a Map of 40 calls needs no 40 threads);
    /// `done` gets the outcome, on any thread. An invoker that can only block hands the
    /// request and `done` back, and the shell runs [`TaskInvoker::invoke`] where blocking
    /// is fine.
    #[allow(clippy::result_large_err)]
    fn start(&self, request: TaskRequest, done: TaskDone) -> Result<(), (TaskRequest, TaskDone)> {
        Err((request, done))
    }
}

/// Where a started call's outcome goes. Dropped without an outcome (the call's future was
/// dropped, its runtime stopped, it panicked), it reports a failure instead, so nobody
/// waits for an answer that cannot come.
pub struct TaskDone {
    finish: Option<Box<dyn FnOnce(TaskOutcome) + Send>>,
}

impl TaskDone {
    pub fn new(finish: impl FnOnce(TaskOutcome) + Send + 'static) -> TaskDone {
        TaskDone {
            finish: Some(Box::new(finish)),
        }
    }

    pub fn finish(mut self, outcome: TaskOutcome) {
        if let Some(finish) = self.finish.take() {
            finish(outcome);
        }
    }
}

impl Drop for TaskDone {
    fn drop(&mut self) {
        if let Some(finish) = self.finish.take() {
            finish(TaskOutcome::now(Err(TaskFailure::new(
                "Cairn.TaskInvokerFailed",
                "the task's call stopped without an outcome",
            ))));
        }
    }
}

impl std::fmt::Debug for TaskDone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaskDone")
    }
}

/// The shell's own Step Functions API, for integrations that act on executions of this
/// Cairn (a nested `states:startExecution`, a `.sync` child reporting to its parent).
pub trait StepFunctionsApi: Send + Sync {
    /// The answer to `action` (`StartExecution`, `DescribeExecution`, `SendTaskSuccess`, ...)
    /// with the API's JSON request; an error is AWS's error code and message.
    fn call(&self, action: &str, request: Value) -> Result<Value, ApiFailure>;

    /// Whether state machines live here (a nested child may run here). `cairn run`'s loop
    /// only answers task tokens.
    fn holds_state_machines(&self) -> bool {
        true
    }
}

/// A Step Functions API error: AWS's code (`StateMachineDoesNotExist`) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    pub code: String,
    pub message: String,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn callback_task() -> Command {
        Command::InvokeTask {
            task_id: 3,
            state_name: "Notify".into(),
            resource: "arn:aws:states:::lambda:invoke.waitForTaskToken".into(),
            kind: ResourceKind::Service {
                service: "lambda".into(),
                action: "invoke.waitForTaskToken".into(),
                pattern: IntegrationPattern::WaitForTaskToken,
            },
            input: json!({"FunctionName": "f"}),
            timeout_seconds: None,
            heartbeat_seconds: None,
            task_token: Some("token".into()),
            credentials: None,
        }
    }

    #[test]
    fn a_dropped_done_reports_a_failure_and_a_finished_one_reports_once() {
        let (tx, rx) = std::sync::mpsc::channel();
        let sender = tx.clone();
        drop(TaskDone::new(move |outcome| sender.send(outcome).unwrap()));
        let dropped = rx.recv().unwrap();
        assert_eq!(dropped.result.unwrap_err().error, "Cairn.TaskInvokerFailed");
        TaskDone::new(move |outcome| tx.send(outcome).unwrap())
            .finish(TaskOutcome::now(Ok(json!(1))));
        assert_eq!(rx.recv().unwrap().result, Ok(json!(1)));
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn a_callback_task_calls_the_plain_action_and_its_answer_only_submits() {
        let request = TaskRequest::from_command(callback_task(), 42).expect("a task");
        assert_eq!(
            request.kind,
            ResourceKind::Service {
                service: "lambda".into(),
                action: "invoke".into(),
                pattern: IntegrationPattern::RequestResponse,
            }
        );
        assert_eq!((request.task_id, request.now_ms), (3, 42));
        let Command::InvokeTask { kind, .. } = callback_task() else {
            unreachable!()
        };
        assert_eq!(
            task_event(3, &kind, Ok(json!({"StatusCode": 200}))),
            Event::TaskSubmitted {
                task_id: 3,
                output: json!({"StatusCode": 200})
            }
        );
        assert_eq!(
            task_event(3, &request.kind, Err(TaskFailure::new("E", "c"))),
            Event::TaskFailed {
                task_id: 3,
                error: Some("E".into()),
                cause: Some("c".into())
            }
        );
        assert_eq!(
            TaskRequest::from_command(Command::CancelTask { task_id: 3 }, 0),
            None
        );
    }
}
