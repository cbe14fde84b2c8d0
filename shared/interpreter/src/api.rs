//! The types a shell exchanges with the decider. Stable: extend, don't break.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Identifies one task invocation (or activity / callback wait) issued by an [`Command::InvokeTask`].
pub type TaskId = u64;
/// Identifies one timer issued by a [`Command::StartTimer`].
pub type TimerId = u64;

/// STANDARD or EXPRESS: feeds the context object and the execution's time limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum MachineType {
    #[default]
    Standard,
    Express,
}

/// Who and what is running: feeds `$$.Execution` and `$$.StateMachine`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ExecutionInfo {
    pub execution_arn: String,
    pub name: String,
    pub state_machine_arn: String,
    pub state_machine_name: String,
    pub role_arn: String,
    /// Epoch milliseconds of StartExecution.
    pub start_time_ms: i64,
    pub machine_type: MachineType,
    /// `$$.Execution.RedriveCount`; `None` where AWS shows none: synchronous Express
    /// executions and TestState.
    #[serde(default)]
    pub redrive_count: Option<u32>,
}

/// Everything outside the decider's purity: the time of the event and entropy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Context {
    /// Epoch milliseconds at which the event is applied.
    pub now_ms: i64,
    /// Entropy for UUIDs, `States.MathRandom`, retry jitter and task tokens.
    pub seed: u64,
}

/// Something that happened to an execution, fed to [`crate::Execution::apply`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// A worker (Lambda invoke, activity poller, service call) picked the task up.
    /// Activities report the worker name in `ActivityStarted`.
    TaskStarted {
        task_id: TaskId,
        worker_name: Option<String>,
    },
    /// A `.waitForTaskToken` / `.sync` integration's first call returned: history records `TaskSubmitted`.
    TaskSubmitted {
        task_id: TaskId,
        output: Value,
    },
    TaskSucceeded {
        task_id: TaskId,
        output: Value,
    },
    TaskFailed {
        task_id: TaskId,
        error: Option<String>,
        cause: Option<String>,
    },
    /// SendTaskHeartbeat for an activity or a callback token.
    Heartbeat {
        task_id: TaskId,
    },
    TimerFired {
        timer_id: TimerId,
    },
    /// StopExecution.
    Stop {
        error: Option<String>,
        cause: Option<String>,
    },
    /// The execution's state machine is being deleted (DeleteStateMachine left it DELETING):
    /// AWS terminates a running execution at its next state transition, failing it with
    /// `States.Runtime` ("State machine NAME has been deleted."). The shell applies it in
    /// place of the event that transition would have applied.
    MachineDeleted,
    /// RedriveExecution of a FAILED, TIMED_OUT or ABORTED execution: `ExecutionRedriven`,
    /// then the states that did not succeed run again from their inputs (only the failed or
    /// aborted branches and iterations of a Parallel or Map). Ignored unless
    /// [`crate::Execution::redrive_blocker`] is `None`; the shell checks AWS's time windows.
    Redrive,
    /// UpdateMapRun of a running Map Run: its MaxConcurrency (0: no limit of its own) and
    /// tolerated failures change from now on; no history event records it.
    UpdateMapRun {
        map_run_arn: String,
        max_concurrency: Option<u64>,
        tolerated_failure_count: Option<u64>,
        tolerated_failure_percentage: Option<f64>,
    },
}

impl Event {
    /// Whether the event moves the execution on (a task's answer, a timer): its next state
    /// transition, at which AWS terminates an execution of a DELETING state machine
    /// ([`Event::MachineDeleted`]). A stop, a heartbeat, a redrive or an UpdateMapRun is none.
    pub fn is_transition(&self) -> bool {
        matches!(
            self,
            Event::TimerFired { .. }
                | Event::TaskStarted { .. }
                | Event::TaskSubmitted { .. }
                | Event::TaskSucceeded { .. }
                | Event::TaskFailed { .. }
        )
    }

    /// The task the event reports on; timers and stops concern none.
    pub fn task_id(&self) -> Option<TaskId> {
        match self {
            Event::TaskStarted { task_id, .. }
            | Event::TaskSubmitted { task_id, .. }
            | Event::TaskSucceeded { task_id, .. }
            | Event::TaskFailed { task_id, .. }
            | Event::Heartbeat { task_id } => Some(*task_id),
            Event::TimerFired { .. }
            | Event::Stop { .. }
            | Event::MachineDeleted
            | Event::Redrive
            | Event::UpdateMapRun { .. } => None,
        }
    }
}

/// Final status of an execution, or `Running`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl Status {
    /// AWS's spelling (`DescribeExecution.status`).
    pub fn as_aws_str(self) -> &'static str {
        match self {
            Status::Running => "RUNNING",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED_OUT",
            Status::Aborted => "ABORTED",
        }
    }
}

/// How a Task state's `Resource` is reached: decides the history event family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResourceKind {
    /// A legacy `arn:aws:lambda:...:function:...` resource: `LambdaFunction*` events.
    LambdaFunction,
    /// `arn:aws:states:...:activity:...`: `Activity*` events; the shell lets a worker poll it.
    Activity,
    /// `arn:aws:states:::<service>:<action>[.sync|.sync:2|.waitForTaskToken]`: `Task*` events.
    Service {
        /// e.g. `lambda`, `sqs`, `aws-sdk:s3`.
        service: String,
        /// e.g. `invoke`, `sendMessage.waitForTaskToken`, `getObject`.
        action: String,
        pattern: IntegrationPattern,
    },
}

/// The service integration pattern of a Task resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IntegrationPattern {
    RequestResponse,
    /// `.sync` or `.sync:2`: the shell reports `TaskSucceeded` when the job completes.
    Sync,
    /// `.waitForTaskToken`: the shell reports `TaskSucceeded`/`TaskFailed` on SendTaskSuccess/Failure.
    WaitForTaskToken,
}

/// Something the shell must do on the decider's behalf.
// A decision carries a handful of commands, mostly InvokeTask: boxing it would add an
// allocation per task to save a few bytes on the rare small commands.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Run a Task: invoke the resource with `input` (the effective parameters).
    ///
    /// A Distributed Map's ItemReader uses the same command with its own resource
    /// (`arn:aws:states:::s3:getObject` / `arn:aws:states:::s3:listObjectsV2`, which no Task
    /// state can name) and its evaluated `Parameters` as `input`; the shell answers with
    /// [`Event::TaskSucceeded`] whose output is the object's content as a JSON string (or the
    /// listing as an array), or [`Event::TaskFailed`]. The decider parses JSON, JSON Lines and
    /// CSV itself; nothing of the read appears in the history.
    InvokeTask {
        task_id: TaskId,
        state_name: String,
        resource: String,
        kind: ResourceKind,
        input: Value,
        /// The state's effective TimeoutSeconds (the decider schedules its own timeout timer).
        timeout_seconds: Option<u64>,
        heartbeat_seconds: Option<u64>,
        /// Present for activities and `.waitForTaskToken` tasks.
        task_token: Option<String>,
        /// The evaluated `Credentials` object, when the state has one.
        credentials: Option<Value>,
    },
    StartTimer {
        timer_id: TimerId,
        fire_at_ms: i64,
    },
    CancelTimer {
        timer_id: TimerId,
    },
    /// The task's result is no longer wanted (timeout, abort, a sibling branch failed).
    CancelTask {
        task_id: TaskId,
    },
    /// Start a Distributed Map's child execution, for a shell that declared
    /// [`Capabilities::map_run_children`] (without it the children run inside the parent and
    /// this command never comes). The shell starts it with
    /// [`crate::Execution::start_map_run_child`] on this execution's machine (at most once per
    /// `execution_arn`: a repeated command after a restart finds it started) and reports its
    /// end to this execution as [`Event::TaskSucceeded`] with its output, or
    /// [`Event::TaskFailed`] with its error and cause (an aborted or timed-out child too).
    /// [`Command::CancelTask`] with its `task_id` asks the shell to stop it. Nothing of it
    /// appears in this execution's history.
    StartMapRunChild(Box<MapRunChildStart>),
    /// The execution ended; always the last command the execution emits. The output of a
    /// SUCCEEDED execution is [`crate::Execution::output`] (and the `ExecutionSucceeded`
    /// event's): not repeated here, because copying a large output is a run's last big cost.
    Finish {
        status: Status,
        error: Option<String>,
        cause: Option<String>,
    },
}

/// A Distributed Map child execution to start: see [`Command::StartMapRunChild`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapRunChildStart {
    /// The id its end is reported with.
    pub task_id: TaskId,
    pub map_run_arn: String,
    pub name: String,
    /// `…:execution:<machine>/<label>:<name>`.
    pub execution_arn: String,
    /// `…:stateMachine:<machine>/<label>`: what `$$.StateMachine.Id` says in the child.
    pub state_machine_arn: String,
    /// The Map state that runs it (for messages).
    pub state_name: String,
    /// Where the child starts in the parent's machine: its ItemProcessor's StartAt. The
    /// child runs on the parent's compiled machine, so nothing else names its definition.
    pub processor: usize,
    /// The ItemProcessor's ProcessorConfig ExecutionType (AWS's default: STANDARD).
    pub machine_type: MachineType,
    pub input: Value,
}

/// What a shell can do beyond the commands every shell carries out. An execution keeps the
/// capabilities it started with ([`crate::Execution::start_with_capabilities`]); all off by
/// default, so a shell that does not know of one never sees what it enables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Capabilities {
    /// The shell runs a Distributed Map's STANDARD children as executions of their own
    /// ([`Command::StartMapRunChild`]). A Map Run started without it runs its children
    /// inside the parent until it ends, whatever the shell declares later.
    #[serde(default)]
    pub map_run_children: bool,
    /// The same for EXPRESS children (ProcessorConfig ExecutionType EXPRESS). A shell may
    /// keep them inside: AWS shows no history of an Express execution, and a parent that
    /// runs many short children itself writes its state far fewer times.
    #[serde(default)]
    pub express_map_run_children: bool,
}

impl Capabilities {
    pub fn is_default(&self) -> bool {
        *self == Capabilities::default()
    }
}

/// One GetExecutionHistory event. `details` holds JSON values; JSON-text fields are
/// serialized only in [`HistoryEvent::to_aws_json`] because serializing is the main cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    pub id: u64,
    pub previous_event_id: u64,
    pub timestamp_ms: i64,
    /// AWS's `HistoryEventType`, e.g. `PassStateEntered`. Borrowed when the decider
    /// emits it (no allocation per event), owned when read back from a store.
    pub event_type: std::borrow::Cow<'static, str>,
    /// The details object (`Value::Null` when the event has none), with JSON-text fields
    /// (`input`, `output`, `parameters`, `assignedVariables` values) still as values and
    /// without the `inputDetails`/`outputDetails`/`assignedVariablesDetails` companions,
    /// which [`HistoryEvent::to_aws_json`] adds. Reads like a `Value`; the frequent events
    /// keep a compact form that serialises to the same text.
    pub details: crate::Details,
}

/// What one event produced: new history events (in order) and commands for the shell.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Decision {
    pub history: Vec<HistoryEvent>,
    pub commands: Vec<Command>,
    /// The data-flow stages of the states this decision ran, only for a machine built
    /// [`crate::Machine::with_inspection`] (TestState's `inspectionData`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inspection: Vec<Inspected>,
    /// Set when the execution state did not fit its definition or the event (a thread at a
    /// state the machine lacks, a task or timer whose thread is not waiting on it): a
    /// corrupted or mismatched state, which fails the execution with `States.Runtime`
    /// instead of being skipped. Shells should log it: it is never the workflow's fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nondeterminism: Option<String>,
}

/// One stage of a state's input/output processing, as TestState's `inspectionData` names
/// it: `afterInputPath`, `afterParameters`, `result`, `afterResultSelector`, `afterResultPath`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inspected {
    pub state: String,
    pub stage: std::borrow::Cow<'static, str>,
    pub value: Value,
}

/// Service limits the decider enforces; configurable per Machine and per Execution. The
/// defaults are AWS's quotas; shells let users raise them ("beyond AWS").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest state input/output or execution input/output, in bytes of JSON text
    /// (`States.DataLimitExceeded` beyond it). AWS: 256 KiB.
    pub max_payload_bytes: usize,
    /// Most history events of one Standard execution (`States.Runtime` beyond it). AWS:
    /// 25,000. Express executions keep no history in AWS, so none applies to them.
    pub max_history_events: u64,
    /// Iterations an inline Map runs at once, whatever its MaxConcurrency says. AWS: 40.
    #[serde(default = "default_inline_map_concurrency")]
    pub max_inline_map_concurrency: usize,
}

/// AWS runs at most 40 iterations of an inline Map at a time.
pub const AWS_INLINE_MAP_CONCURRENCY: usize = 40;

fn default_inline_map_concurrency() -> usize {
    AWS_INLINE_MAP_CONCURRENCY
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_payload_bytes: 256 * 1024,
            max_history_events: 25_000,
            max_inline_map_concurrency: AWS_INLINE_MAP_CONCURRENCY,
        }
    }
}
