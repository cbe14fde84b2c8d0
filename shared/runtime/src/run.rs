//! The one-process run loop: drives an [`Execution`] from start to its end, carrying out the
//! decider's commands (tasks through a [`TaskInvoker`], timers in a priority queue) and feeding
//! the outcomes back as events. Nothing is persisted: the execution lives in memory.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_common::entropy::splitmix64;
use cairn_interpreter::{
    Command, Context, Decision, Event, Execution, ExecutionInfo, HistoryEvent, Inspected, Machine,
    ResourceKind, Status, TaskId, TimerId,
};
use serde_json::Value;

use crate::ports::{
    task_event, ApiFailure, Clock, StepFunctionsApi, SystemClock, TaskDone, TaskFailure,
    TaskInvoker, TaskOutcome, TaskRequest,
};

/// How time passes for timers (Wait states, task timeouts, retry intervals) and slow tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeMode {
    /// Timers fire at once in logical time; history timestamps still advance by the waited
    /// amount. Tasks run one after the other, so a run is reproducible.
    #[default]
    Virtual,
    /// Timers fire when the clock reaches them; tasks run on worker threads.
    Real,
}

/// How to run one execution.
#[derive(Clone)]
pub struct RunOptions {
    pub info: ExecutionInfo,
    pub time: TimeMode,
    /// Epoch milliseconds of the start under virtual time (default: the clock's now).
    pub start_time_ms: Option<i64>,
    /// Entropy for the decider (UUIDs, jitter, task tokens); a run is a function of it.
    pub seed: u64,
    /// Save the execution to JSON and read it back between every two events: the check that
    /// an execution survives being persisted and resumed without changing its history.
    pub step_by_step: bool,
    /// Most events fed to the decider before giving up (a guard; the decider's own history
    /// limit normally ends a runaway execution first).
    pub max_events: u64,
    /// Stop the execution (StopExecution, no error or cause) this long after its start.
    pub stop_after_ms: Option<u64>,
    /// A `.waitForTaskToken` or `.sync` task's answer only submits it, and the execution
    /// waits for its token (or its timeout), as on AWS. TestState turns this off: there the
    /// answer (a mocked result, or the call's) is the state's result.
    pub wait_for_callbacks: bool,
    /// Where task tokens can be answered from outside the loop (under real time): the
    /// integrations report a `.sync` child's end here. None: nothing can answer a token.
    pub callbacks: Option<Callbacks>,
    pub clock: Arc<dyn Clock>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            info: ExecutionInfo::default(),
            time: TimeMode::Virtual,
            start_time_ms: None,
            seed: 0,
            step_by_step: false,
            max_events: 10_000_000,
            stop_after_ms: None,
            wait_for_callbacks: true,
            callbacks: None,
            clock: Arc::new(SystemClock),
        }
    }
}

/// The run loop's own small Step Functions API: SendTaskSuccess, SendTaskFailure and
/// SendTaskHeartbeat for the tokens of the execution it runs. `cairn run` has no store, so it
/// holds no state machine: a nested child always runs at the configured endpoint.
#[derive(Clone, Default)]
pub struct Callbacks {
    inbox: Arc<Mutex<Option<mpsc::Sender<Incoming>>>>,
}

impl std::fmt::Debug for Callbacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Callbacks")
    }
}

impl Callbacks {
    fn deliver(&self, token: &str, answer: TokenAnswer) -> Result<Value, ApiFailure> {
        let sent = self.inbox.lock().ok().and_then(|inbox| {
            inbox
                .as_ref()
                .map(|s| s.send(Incoming::Token(token.to_owned(), answer)))
        });
        match sent {
            Some(Ok(())) => Ok(Value::Object(serde_json::Map::new())),
            _ => Err(ApiFailure {
                code: "TaskTimedOut".into(),
                message: "Task Timed Out: the run has ended".into(),
            }),
        }
    }
}

impl StepFunctionsApi for Callbacks {
    fn holds_state_machines(&self) -> bool {
        false
    }

    fn call(&self, action: &str, request: Value) -> Result<Value, ApiFailure> {
        let text = |key: &str| request.get(key).and_then(Value::as_str).map(str::to_owned);
        let Some(token) = text("taskToken") else {
            return Err(ApiFailure {
                code: "UnsupportedOperation".into(),
                message: format!("cairn run answers task tokens only, not {action}"),
            });
        };
        let answer = match action {
            "SendTaskSuccess" => {
                let output = text("output")
                    .and_then(|output| serde_json::from_str(&output).ok())
                    .ok_or_else(|| ApiFailure {
                        code: "InvalidOutput".into(),
                        message: "Invalid Output: not JSON".into(),
                    })?;
                TokenAnswer::Success(output)
            }
            "SendTaskFailure" => TokenAnswer::Failure(text("error"), text("cause")),
            "SendTaskHeartbeat" => TokenAnswer::Heartbeat,
            other => {
                return Err(ApiFailure {
                    code: "UnsupportedOperation".into(),
                    message: format!("cairn run answers task tokens only, not {other}"),
                })
            }
        };
        self.deliver(&token, answer)
    }
}

/// What reaches the loop from other threads.
enum Incoming {
    Task(TaskId, TaskOutcome),
    Token(String, TokenAnswer),
}

enum TokenAnswer {
    Success(Value),
    Failure(Option<String>, Option<String>),
    Heartbeat,
}

/// How an execution ended, with its whole history.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    pub status: Status,
    /// Shared with the `ExecutionSucceeded` event of `history`: copying a large output (B3's
    /// 10,000 results) was a tenth of a run.
    pub output: Option<Arc<Value>>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub history: Vec<HistoryEvent>,
    /// Epoch milliseconds of the start and of the end (logical under virtual time).
    pub start_ms: i64,
    pub end_ms: i64,
    /// The data-flow stages an inspecting machine recorded ([`Machine::with_inspection`]).
    pub inspection: Vec<Inspected>,
}

impl RunResult {
    /// The history in GetExecutionHistory's JSON shape.
    pub fn history_json(&self) -> Vec<Value> {
        self.history.iter().map(HistoryEvent::to_aws_json).collect()
    }
}

/// The run loop could not drive the execution to an end.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the execution could not be saved to JSON between two events: {0}")]
    Save(serde_json::Error),
    #[error("the execution could not be read back from its saved JSON: {0}")]
    Restore(serde_json::Error),
    #[error(
        "the execution is still running but waits for nothing (no task, no timer): \
         the decider issued no command that could make progress"
    )]
    Stalled,
    #[error("the execution did not end after {0} events")]
    TooManyEvents(u64),
    #[error("a task worker thread stopped without reporting its result")]
    WorkerLost,
}

/// Runs an execution to its end.
pub fn run_to_completion(
    machine: &Machine,
    input: Value,
    invoker: Arc<dyn TaskInvoker>,
    options: &RunOptions,
) -> Result<RunResult, RunError> {
    run_loop(machine, input, &invoker, options, None)
}

/// [`run_to_completion`] with the invoker lent rather than handed over: a shell that runs
/// many executions on one invoker (Express, the benchmarks) makes no reference-count update
/// on it per run: two locked instructions, 1-2 % of B4's three-state execution.
pub fn run_lent(
    machine: &Machine,
    input: Value,
    invoker: &Arc<dyn TaskInvoker>,
    options: &RunOptions,
) -> Result<RunResult, RunError> {
    run_loop(machine, input, invoker, options, None)
}

/// Runs an execution to its end, showing each history event to `observer` as it happens.
pub fn run_observed(
    machine: &Machine,
    input: Value,
    invoker: Arc<dyn TaskInvoker>,
    options: &RunOptions,
    observer: &mut dyn FnMut(&HistoryEvent),
) -> Result<RunResult, RunError> {
    run_loop(machine, input, &invoker, options, Some(observer))
}

/// The loop of both: without an observer, no call is made per event.
fn run_loop(
    machine: &Machine,
    input: Value,
    invoker: &Arc<dyn TaskInvoker>,
    options: &RunOptions,
    mut observer: Option<&mut dyn FnMut(&HistoryEvent)>,
) -> Result<RunResult, RunError> {
    let start_ms = match (options.time, options.start_time_ms) {
        (TimeMode::Virtual, Some(start)) => start,
        _ => options.clock.now_ms(),
    };
    let mut info = options.info.clone();
    info.start_time_ms = start_ms;
    let mut run = Loop {
        invoker,
        options,
        now_ms: start_ms,
        seq: 0,
        queue: BinaryHeap::new(),
        cancelled_timers: BTreeSet::new(),
        cancelled_tasks: BTreeSet::new(),
        running: BTreeSet::new(),
        kinds: BTreeMap::new(),
        tokens: BTreeMap::new(),
        results: None,
        history: Vec::new(),
        inspection: Vec::new(),
        finish: None,
    };
    if let (Some(callbacks), TimeMode::Real) = (&options.callbacks, options.time) {
        let sender = run.results.get_or_insert_with(mpsc::channel).0.clone();
        if let Ok(mut inbox) = callbacks.inbox.lock() {
            *inbox = Some(sender);
        }
    }
    if let Some(after) = options.stop_after_ms {
        let at = start_ms.saturating_add(i64::try_from(after).unwrap_or(i64::MAX));
        run.schedule(
            at,
            Due::Event(Event::Stop {
                error: None,
                cause: None,
            }),
        );
    }
    let context = run.context(0);
    // Started where it stays: returned, it was copied twice on its way here.
    let mut slot = None;
    let (execution, decision) = Execution::start_into(&mut slot, machine, input, info, &context);
    run.handle(decision, observer.as_deref_mut());
    let mut applied: u64 = 0;
    while run.finish.is_none() {
        let event = run.next_event()?;
        applied += 1;
        if applied > options.max_events {
            return Err(RunError::TooManyEvents(options.max_events));
        }
        if options.step_by_step {
            *execution = round_trip(execution)?;
        }
        let context = run.context(applied);
        let decision = execution.apply(machine, event, &context);
        run.handle(decision, observer.as_deref_mut());
    }
    if let Some(callbacks) = &options.callbacks {
        if let Ok(mut inbox) = callbacks.inbox.lock() {
            *inbox = None;
        }
    }
    let (status, error, cause) = run.finish.take().unwrap_or((Status::Running, None, None));
    // The execution is dropped where it is, at the end: `drop(execution)` moved it (416
    // bytes) into the call first.
    let output = execution.take_shared_output();
    Ok(RunResult {
        status,
        output,
        error,
        cause,
        history: run.history,
        inspection: run.inspection,
        start_ms,
        end_ms: run.now_ms,
    })
}

fn round_trip(execution: &Execution) -> Result<Execution, RunError> {
    let saved = serde_json::to_string(execution).map_err(RunError::Save)?;
    serde_json::from_str(&saved).map_err(RunError::Restore)
}

/// Something due at a point in time: an event for the decider, or a timer.
#[derive(Debug)]
enum Due {
    Event(Event),
    Timer(TimerId),
}

/// A queue entry, ordered by time and then by the order it was queued (so equal times keep
/// their order and the run stays deterministic).
#[derive(Debug)]
struct Scheduled {
    at_ms: i64,
    seq: u64,
    due: Due,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at_ms, self.seq) == (other.at_ms, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    // Reversed: BinaryHeap is a max-heap and the earliest entry must come out first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at_ms, other.seq).cmp(&(self.at_ms, self.seq))
    }
}

/// A task's outcome, sent back by its worker thread under real time.
type TaskResult = Incoming;

type Finish = (Status, Option<String>, Option<String>);

struct Loop<'a> {
    invoker: &'a Arc<dyn TaskInvoker>,
    options: &'a RunOptions,
    now_ms: i64,
    seq: u64,
    queue: BinaryHeap<Scheduled>,
    // Ordered sets and maps rather than hashed ones: a new hashed one seeds its hasher from
    // a thread-local, five times per run, and most runs (no tasks) never insert at all.
    cancelled_timers: BTreeSet<TimerId>,
    cancelled_tasks: BTreeSet<TaskId>,
    /// Tasks on worker threads (real time) whose results have not arrived.
    running: BTreeSet<TaskId>,
    /// What each open task calls, as the decider named it (with its integration pattern).
    kinds: BTreeMap<TaskId, ResourceKind>,
    /// The tokens of open callback and `.sync` tasks, which [`Callbacks`] may answer.
    tokens: BTreeMap<String, TaskId>,
    /// Where worker threads send task results; opened by the first task under real time.
    results: Option<(mpsc::Sender<TaskResult>, mpsc::Receiver<TaskResult>)>,
    history: Vec<HistoryEvent>,
    inspection: Vec<Inspected>,
    finish: Option<Finish>,
}

impl Loop<'_> {
    fn context(&self, event_number: u64) -> Context {
        Context {
            now_ms: self.now_ms,
            seed: splitmix64(self.options.seed ^ event_number.wrapping_mul(0xA24B_AED4_963E_E407)),
        }
    }

    fn schedule(&mut self, at_ms: i64, due: Due) {
        self.seq += 1;
        self.queue.push(Scheduled {
            at_ms,
            seq: self.seq,
            due,
        });
    }

    fn handle<'o>(
        &mut self,
        decision: Decision,
        observer: Option<&mut (dyn FnMut(&HistoryEvent) + 'o)>,
    ) {
        if let Some(observer) = observer {
            for event in &decision.history {
                observer(event);
            }
        }
        self.inspection.extend(decision.inspection);
        if self.history.is_empty() {
            // A run without tasks or timers is one decision: keep its history as it is.
            self.history = decision.history;
        } else {
            self.history.extend(decision.history);
        }
        let mut tasks = Vec::new();
        for command in decision.commands {
            match command {
                command @ Command::InvokeTask { .. } => {
                    if let Command::InvokeTask {
                        task_id,
                        kind,
                        task_token,
                        ..
                    } = &command
                    {
                        self.kinds.insert(*task_id, kind.clone());
                        if let Some(token) = task_token {
                            self.tokens.insert(token.clone(), *task_id);
                        }
                    }
                    if let Some(mut request) = TaskRequest::from_command(command, self.now_ms) {
                        request.execution_arn = self.options.info.execution_arn.clone();
                        tasks.push(request);
                    }
                }
                Command::StartTimer {
                    timer_id,
                    fire_at_ms,
                } => self.schedule(fire_at_ms, Due::Timer(timer_id)),
                Command::CancelTimer { timer_id } => {
                    self.cancelled_timers.insert(timer_id);
                }
                Command::CancelTask { task_id } => {
                    self.tokens.retain(|_, open| *open != task_id);
                    self.cancelled_tasks.insert(task_id);
                    self.running.remove(&task_id);
                }
                Command::Finish {
                    status,
                    error,
                    cause,
                } => self.finish = Some((status, error, cause)),
                // Only for a shell that declares Capabilities::map_run_children, which this
                // loop does not: its Distributed Maps run their children inside.
                Command::StartMapRunChild(_) => {}
            }
        }
        // The tasks of one decision (the branches of a Parallel, the iterations of a Map)
        // start together, and only then does any of them finish.
        for request in &tasks {
            self.schedule(
                self.now_ms,
                Due::Event(Event::TaskStarted {
                    task_id: request.task_id,
                    worker_name: None,
                }),
            );
        }
        for request in tasks {
            self.start_task(request);
        }
    }

    fn start_task(&mut self, request: TaskRequest) {
        let task_id = request.task_id;
        match self.options.time {
            TimeMode::Virtual => {
                let outcome = invoke_guarded(self.invoker.as_ref(), &request);
                self.complete(task_id, outcome);
            }
            TimeMode::Real => {
                let sender = self.results.get_or_insert_with(mpsc::channel).0.clone();
                self.running.insert(task_id);
                // The run may have ended meanwhile; then nobody wants the result.
                let done = TaskDone::new(move |outcome| {
                    let _ = sender.send(Incoming::Task(task_id, outcome));
                });
                if let Err((request, done)) = self.invoker.start(request, done) {
                    let invoker = Arc::clone(self.invoker);
                    std::thread::spawn(move || {
                        done.finish(invoke_guarded(invoker.as_ref(), &request));
                    });
                }
            }
        }
    }

    fn complete(&mut self, task_id: TaskId, outcome: TaskOutcome) {
        let delay = i64::try_from(outcome.delay_ms).unwrap_or(i64::MAX);
        let at = self.now_ms.saturating_add(delay);
        let kind = self.kinds.remove(&task_id);
        if outcome.ends_task {
            // No token answer follows: the task ends with this result.
            self.tokens.retain(|_, open| *open != task_id);
        }
        let event = match (kind, outcome.result) {
            (Some(kind), result) if self.options.wait_for_callbacks && !outcome.ends_task => {
                task_event(task_id, &kind, result)
            }
            (_, Ok(output)) => Event::TaskSucceeded { task_id, output },
            (_, Err(failure)) => Event::TaskFailed {
                task_id,
                error: Some(failure.error),
                cause: failure.cause,
            },
        };
        self.schedule(at, Due::Event(event));
    }

    /// Whether a token answer may still come: the run has an inbox and open tokens.
    fn awaits_tokens(&self) -> bool {
        self.options.callbacks.is_some() && !self.tokens.is_empty()
    }

    fn answer_token(&mut self, token: &str, answer: TokenAnswer) {
        let Some(&task_id) = self.tokens.get(token) else {
            return;
        };
        let event = match answer {
            TokenAnswer::Success(output) => Event::TaskSucceeded { task_id, output },
            TokenAnswer::Failure(error, cause) => Event::TaskFailed {
                task_id,
                error,
                cause,
            },
            TokenAnswer::Heartbeat => Event::Heartbeat { task_id },
        };
        if !matches!(event, Event::Heartbeat { .. }) {
            self.tokens.remove(token);
        }
        self.schedule(self.now_ms, Due::Event(event));
    }

    /// The next event for the decider, advancing the time to it.
    fn next_event(&mut self) -> Result<Event, RunError> {
        loop {
            let due = match self.options.time {
                TimeMode::Virtual => {
                    let next = self.queue.pop().ok_or(RunError::Stalled)?;
                    self.now_ms = self.now_ms.max(next.at_ms);
                    next.due
                }
                TimeMode::Real => self.next_real()?,
            };
            let event = match due {
                Due::Timer(timer_id) => {
                    if self.cancelled_timers.remove(&timer_id) {
                        continue;
                    }
                    Event::TimerFired { timer_id }
                }
                Due::Event(event) => event,
            };
            if let Some(task_id) = event.task_id() {
                if self.cancelled_tasks.contains(&task_id) {
                    continue;
                }
            }
            return Ok(event);
        }
    }

    fn next_real(&mut self) -> Result<Due, RunError> {
        loop {
            self.now_ms = self.options.clock.now_ms().max(self.now_ms);
            let next_at = self.queue.peek().map(|next| next.at_ms);
            if let Some(at) = next_at {
                if at <= self.now_ms {
                    if let Some(next) = self.queue.pop() {
                        return Ok(next.due);
                    }
                }
            }
            if next_at.is_none() && self.running.is_empty() && !self.awaits_tokens() {
                return Err(RunError::Stalled);
            }
            let wait = |at: i64, now: i64| {
                Duration::from_millis(u64::try_from(at.saturating_sub(now)).unwrap_or(0))
            };
            let received = match (next_at, &self.results) {
                (Some(at), Some((_, receiver))) => {
                    match receiver.recv_timeout(wait(at, self.now_ms)) {
                        Ok(result) => Some(result),
                        Err(mpsc::RecvTimeoutError::Timeout) => None,
                        Err(mpsc::RecvTimeoutError::Disconnected) => {
                            return Err(RunError::WorkerLost)
                        }
                    }
                }
                (Some(at), None) => {
                    std::thread::sleep(wait(at, self.now_ms));
                    None
                }
                (None, Some((_, receiver))) => {
                    Some(receiver.recv().map_err(|_| RunError::WorkerLost)?)
                }
                (None, None) => return Err(RunError::Stalled),
            };
            match received {
                Some(Incoming::Task(task_id, outcome)) if self.running.remove(&task_id) => {
                    self.now_ms = self.options.clock.now_ms().max(self.now_ms);
                    self.complete(task_id, outcome);
                }
                Some(Incoming::Task(..)) => {}
                Some(Incoming::Token(token, answer)) => {
                    self.now_ms = self.options.clock.now_ms().max(self.now_ms);
                    self.answer_token(&token, answer);
                }
                None => {}
            }
        }
    }
}

/// A panicking invoker becomes a failed task instead of a lost worker (under real time the
/// loop would otherwise wait for its result forever).
fn invoke_guarded(invoker: &dyn TaskInvoker, request: &TaskRequest) -> TaskOutcome {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| invoker.invoke(request)))
        .unwrap_or_else(|_| {
            TaskOutcome::now(Err(TaskFailure::new(
                "Cairn.TaskInvokerFailed",
                format!("the task invoker for '{}' panicked", request.resource),
            )))
        })
}
