//! The resumable state of one execution and the loop that advances it.
//!
//! An execution is a tree of threads: the top level, each Parallel branch and each Map
//! iteration. A thread runs its states until it must wait (a task, a timer, its children);
//! everything it waits on is recorded so that a store can persist the whole value between
//! any two events.
//!
//! `previousEventId`, as the recorded AWS histories number it:
//! - `ExecutionStarted`, the first state's `StateEntered` and `ExecutionAborted` follow event 0;
//! - within a thread each event follows that thread's previous one; a branch's or an
//!   iteration's first event follows `ParallelStateStarted` / `MapIterationStarted`;
//! - `MapIterationSucceeded`/`Failed` and the next `MapIterationStarted` follow the
//!   iteration's last event; `<Type>StateSucceeded` and the state's `StateExited` both follow
//!   the last child event (or `MapRunSucceeded`), while `<Type>StateFailed` follows the failed
//!   child's last event and the state's later events follow it;
//! - a retried Task's next `*Scheduled` follows its `*Failed` event (backoff leaves no event).

use crate::api::{
    Capabilities, Command, Context, Decision, Event, ExecutionInfo, HistoryEvent, Limits,
    MachineType, Status, TaskId, TimerId,
};
use crate::details::Payload;
use crate::flow::{self, Scope, SeededEntropy};
use crate::history::details;
use crate::machine::{CState, IoPath, Kind, Machine, ResultPath};
use cairn_dataflow::Variables;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

pub(crate) type ThreadId = u32;

/// Largest variable, and largest Assign, in bytes of JSON text (AWS: 256 KiB).
const MAX_VARIABLE_BYTES: usize = 256 * 1024;
/// Largest total of the variables an execution holds (AWS: 10 MiB).
const MAX_STORED_VARIABLES_BYTES: usize = 10 * 1024 * 1024;
pub(crate) const ROOT: ThreadId = 0;

/// An error raised while running a state. AWS keeps absent error/cause as absent (and as
/// `null` in a Catch's error output), so both are optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Fault {
    pub error: Option<String>,
    pub cause: Option<String>,
    /// A JSONata evaluation failure, which AWS records as an `EvaluationFailed` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<EvalFailure>,
}

/// What the `EvaluationFailed` event of a failed JSONata evaluation says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct EvalFailure {
    pub location: Option<String>,
    /// Wait states evaluate after entering, so their event follows `StateEntered`; other
    /// states' follow the event before it, as AWS numbers them.
    pub after_entered: bool,
}

impl Fault {
    pub fn new(error: &str, cause: impl Into<String>) -> Fault {
        Fault {
            error: Some(error.to_string()),
            cause: Some(cause.into()),
            evaluation: None,
        }
    }

    fn error_name(&self) -> &str {
        self.error.as_deref().unwrap_or("")
    }

    /// The `{"Error", "Cause"}` object a Catch passes on.
    pub fn to_output(&self) -> Value {
        let text = |s: &Option<String>| s.clone().map_or(Value::Null, Value::String);
        crate::history::details([("Error", text(&self.error)), ("Cause", text(&self.cause))])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Parent {
    pub thread: ThreadId,
    pub slot: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TaskWait {
    pub task_id: TaskId,
    pub timeout_timer: Option<TimerId>,
    pub heartbeat_timer: Option<TimerId>,
    pub heartbeat_ms: Option<i64>,
    /// Whether `<Family>Started` / `TaskSubmitted` were recorded: a redelivered report of
    /// either (at-least-once transports) must not record it twice.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub started: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub submitted: bool,
}

/// The children of a running Parallel or Map state.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct Fanout {
    /// Parallel: each branch's input. Map: the effective input (`$` of the ItemSelector).
    pub input: Value,
    /// Map items not started yet (taken out as their iteration starts).
    #[serde(with = "crate::writer::sparse")]
    pub items: Vec<Value>,
    pub total: usize,
    pub next_item: usize,
    pub running: BTreeMap<usize, ThreadId>,
    #[serde(with = "crate::writer::sparse")]
    pub results: Vec<Value>,
    pub finished: usize,
    pub failed: u64,
    pub max_concurrency: usize,
    pub tolerated_count: Option<u64>,
    pub tolerated_percentage: Option<f64>,
    /// A Distributed Map with a ResultWriter: what its children did, for the export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<Box<crate::writer::RunLog>>,
    /// The children are executions the shell runs ([`Capabilities::map_run_children`]):
    /// `running` stays empty and `outside` holds the children under way.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub children_outside: bool,
    /// The children under way outside: the task id each one's end is reported with → its
    /// item's index.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outside: BTreeMap<TaskId, usize>,
}

impl Fanout {
    /// The children under way, wherever they run.
    pub fn outstanding(&self) -> usize {
        self.running.len() + self.outside.len()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Phase {
    /// About to enter `state`.
    Idle,
    Task(TaskWait),
    Wait {
        timer: TimerId,
        effective: Value,
    },
    Backoff {
        timer: TimerId,
    },
    Fanout(Box<Fanout>),
    /// A Distributed Map waiting for its ItemReader's content (a task without history).
    Reading(Box<Reading>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Reading {
    pub task_id: TaskId,
    /// The Map's children, items still to come.
    pub fanout: Fanout,
    /// `$` for the reader's and batcher's settings.
    pub scope: Value,
    /// 0: no limit.
    pub max_items: u64,
    /// An S3 inventory (InputType MANIFEST) whose data files are being read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Box<crate::reader::ManifestRead>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Thread {
    pub parent: Option<Parent>,
    pub state: usize,
    /// The state's raw input (before InputPath): ResultPath and Catch write into it.
    pub input: Value,
    pub entered_event: u64,
    /// The event `StateEntered` followed.
    #[serde(default)]
    pub entered_prev: u64,
    pub entered_ms: i64,
    /// The event the thread's next event follows (`previousEventId`).
    pub last_event: u64,
    /// Attempts used per retrier of the current state.
    pub attempts: Vec<u32>,
    pub retry_count: u32,
    pub phase: Phase,
    /// Variables assigned in this scope; outer scopes are read through `parent`.
    pub vars: Map<String, Value>,
    /// A Distributed Map iteration (or anything under one): a child execution whose
    /// events do not go into this execution's history.
    #[serde(default)]
    pub silent: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) enum TimerFor {
    Wait(ThreadId),
    Backoff(ThreadId),
    TaskTimeout(ThreadId),
    Heartbeat(ThreadId),
    Execution,
    /// A Distributed Map's run paused between two slices of its children.
    MapSlice(ThreadId),
}

impl TimerFor {
    /// The thread that waits on the timer (none for the execution's own timeout).
    fn thread(&self) -> Option<ThreadId> {
        match *self {
            TimerFor::Wait(tid)
            | TimerFor::Backoff(tid)
            | TimerFor::TaskTimeout(tid)
            | TimerFor::Heartbeat(tid)
            | TimerFor::MapSlice(tid) => Some(tid),
            TimerFor::Execution => None,
        }
    }
}

impl Phase {
    fn holds_timer(&self, timer_id: TimerId) -> bool {
        match self {
            Phase::Wait { timer, .. } | Phase::Backoff { timer } => *timer == timer_id,
            Phase::Task(wait) => {
                wait.timeout_timer == Some(timer_id) || wait.heartbeat_timer == Some(timer_id)
            }
            Phase::Fanout(f) => f.run.as_ref().is_some_and(|r| r.pause == Some(timer_id)),
            Phase::Idle | Phase::Reading(_) => false,
        }
    }
}

/// Everything needed to resume an execution. Persist it between any two events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub(crate) info: ExecutionInfo,
    /// Shared with `ExecutionStarted`, which holds the same value.
    #[serde(with = "shared_input")]
    pub(crate) input: Arc<Value>,
    pub(crate) status: Status,
    pub(crate) limits: Limits,
    pub(crate) event_count: u64,
    /// Boxed so that a Map's many short-lived threads do not move through the tree's nodes.
    pub(crate) threads: Threads,
    pub(crate) next_thread: ThreadId,
    pub(crate) tasks: BTreeMap<TaskId, ThreadId>,
    pub(crate) timers: BTreeMap<TimerId, TimerFor>,
    pub(crate) next_task: TaskId,
    pub(crate) next_timer: TimerId,
    /// Shared with the `ExecutionSucceeded` event (and the last state's exit), which hold
    /// the same value: a shell that stores the state and the history never copies it.
    #[serde(default, with = "shared_output")]
    pub(crate) output: Option<Arc<Value>>,
    pub(crate) error: Option<String>,
    pub(crate) cause: Option<String>,
    /// The threads that had not succeeded when the execution last ended unsuccessfully (the
    /// root, each failed or aborted branch and iteration, and the Parallel or Map states
    /// above them with their children's results), each at the state a redrive enters again.
    #[serde(default, skip_serializing_if = "Threads::is_empty")]
    pub(crate) unsuccessful: Threads,
    /// When the last RedriveExecution took effect (`$$.Execution.RedriveTime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) redrive_ms: Option<i64>,
    /// The Distributed Maps' runs that ended (the running ones are in their threads).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) map_runs: Vec<crate::map_run::Ended>,
    /// What the shell that started the execution can do.
    #[serde(default, skip_serializing_if = "Capabilities::is_default")]
    pub(crate) capabilities: Capabilities,
}

impl Execution {
    /// Starts an execution with the machine's limits.
    pub fn start(
        machine: &Machine,
        input: Value,
        info: ExecutionInfo,
        ctx: &Context,
    ) -> (Execution, Decision) {
        Execution::start_with_limits(machine, input, info, ctx, machine.limits)
    }

    /// Starts an execution with its own limits.
    pub fn start_with_limits(
        machine: &Machine,
        input: Value,
        info: ExecutionInfo,
        ctx: &Context,
        limits: Limits,
    ) -> (Execution, Decision) {
        Execution::begin(
            machine,
            input,
            info,
            ctx,
            limits,
            Capabilities::default(),
            None,
        )
    }

    /// Starts an execution for a shell that can do more than the basic commands.
    pub fn start_with_capabilities(
        machine: &Machine,
        input: Value,
        info: ExecutionInfo,
        ctx: &Context,
        capabilities: Capabilities,
    ) -> (Execution, Decision) {
        Execution::begin(
            machine,
            input,
            info,
            ctx,
            machine.limits,
            capabilities,
            None,
        )
    }

    /// Starts a Distributed Map's child execution ([`Command::StartMapRunChild`]) on its
    /// parent's machine: it runs the ItemProcessor from `processor`, with no TimeoutSeconds
    /// of the parent's. `info` is the child's (its ARN, name, label ARN, ExecutionType).
    pub fn start_map_run_child(
        machine: &Machine,
        processor: usize,
        input: Value,
        info: ExecutionInfo,
        ctx: &Context,
        capabilities: Capabilities,
    ) -> (Execution, Decision) {
        Execution::begin(
            machine,
            input,
            info,
            ctx,
            machine.limits,
            capabilities,
            Some(processor),
        )
    }

    /// [`Execution::start`] into `slot`, for a shell that keeps the execution where it
    /// runs it (the one-process run loop): returned, the execution (416 bytes) was copied
    /// twice on its way out, with wide loads of what narrower stores had just written.
    pub fn start_into<'s>(
        slot: &'s mut Option<Execution>,
        machine: &Machine,
        input: Value,
        info: ExecutionInfo,
        ctx: &Context,
    ) -> (&'s mut Execution, Decision) {
        // One copy of the input for ExecutionStarted, `$$.Execution.Input` and the first
        // state's StateEntered (the runner's stash hands it to the root thread).
        let input = Arc::new(input);
        let exec = slot.insert(Execution::fresh(
            Arc::clone(&input),
            info,
            machine.limits,
            Capabilities::default(),
        ));
        let decision = exec.first_decision(machine, input, ctx, None);
        (exec, decision)
    }

    fn begin(
        machine: &Machine,
        input: Value,
        info: ExecutionInfo,
        ctx: &Context,
        limits: Limits,
        capabilities: Capabilities,
        processor: Option<usize>,
    ) -> (Execution, Decision) {
        let input = Arc::new(input);
        let mut exec = Execution::fresh(Arc::clone(&input), info, limits, capabilities);
        let decision = exec.first_decision(machine, input, ctx, processor);
        (exec, decision)
    }

    /// A started execution before its first decision. Inlined, so that it is built where
    /// its caller keeps it.
    #[inline(always)]
    fn fresh(
        input: Arc<Value>,
        info: ExecutionInfo,
        limits: Limits,
        capabilities: Capabilities,
    ) -> Execution {
        Execution {
            info,
            input,
            status: Status::Running,
            limits,
            event_count: 0,
            threads: Threads::default(),
            next_thread: ROOT + 1,
            tasks: BTreeMap::new(),
            timers: BTreeMap::new(),
            next_task: 1,
            next_timer: 1,
            output: None,
            error: None,
            cause: None,
            unsuccessful: Threads::default(),
            redrive_ms: None,
            map_runs: Vec::new(),
            capabilities,
        }
    }

    /// The start's decision: ExecutionStarted, then the first state (or the ItemProcessor's,
    /// for a Distributed Map's child) run as far as it goes. `input` is the execution's.
    fn first_decision(
        &mut self,
        machine: &Machine,
        input: Arc<Value>,
        ctx: &Context,
        processor: Option<usize>,
    ) -> Decision {
        let mut run = Runner::new(self, machine, ctx);
        // A start's decision often runs a whole short execution (Pass, Choice, Succeed: 8
        // events), which grew the history from nothing twice.
        run.out.history.reserve(8);
        let role = run.exec.info.role_arn.clone();
        run.emit_with_prev(
            0,
            "ExecutionStarted",
            crate::Details::started(Payload::Shared(Arc::clone(&input)), role),
        );
        if let Some(seconds) = machine.timeout_seconds.filter(|_| processor.is_none()) {
            run.start_timer(
                TimerFor::Execution,
                ctx.now_ms.saturating_add(seconds_to_ms(seconds)),
            );
        }
        // AWS numbers the first state's events as following event 0, not ExecutionStarted.
        // Built in its box, made first: the thread is large (320 bytes), and built before
        // the allocation it was copied into the box with wide loads of what narrower stores
        // had just written.
        let mut root = Box::write(
            Box::new_uninit(),
            Thread::new(None, processor.unwrap_or(machine.start), Value::Null, 0),
        );
        if processor.is_none() {
            root.vars.clone_from(&machine.initial_variables);
        }
        run.exec.threads.insert(ROOT, root);
        // The execution's input was never measured against the payload limit here.
        run.stash = Some(Stash {
            tid: ROOT,
            input,
            within_limit: false,
        });
        run.work.push_back(Work::Run(ROOT));
        run.drain();
        run.finish()
    }

    /// Applies one event. Events for tasks or timers the execution no longer waits on
    /// (late results, cancelled timers) and any event after the end change nothing.
    pub fn apply(&mut self, machine: &Machine, event: Event, ctx: &Context) -> Decision {
        if event == Event::Redrive {
            if self.redrive_blocker().is_some() {
                return Decision::default();
            }
            let mut run = Runner::new(self, machine, ctx);
            run.redrive();
            run.fail_if_nondeterministic();
            run.drain();
            return run.finish();
        }
        if self.status != Status::Running {
            return Decision::default();
        }
        let mut run = Runner::new(self, machine, ctx);
        run.apply(event);
        run.fail_if_nondeterministic();
        run.drain();
        run.finish()
    }

    pub fn status(&self) -> Status {
        self.status
    }

    pub fn info(&self) -> &ExecutionInfo {
        &self.info
    }

    pub fn input(&self) -> &Value {
        &self.input
    }

    /// The output of a SUCCEEDED execution.
    pub fn output(&self) -> Option<&Value> {
        self.output.as_deref()
    }

    /// The output of a SUCCEEDED execution, for a shell done with the execution (a copy
    /// while its history still holds the same value).
    pub fn into_output(self) -> Option<Value> {
        self.output.map(Arc::unwrap_or_clone)
    }

    /// The output of a SUCCEEDED execution as the value its history holds too, without a copy.
    pub fn into_shared_output(mut self) -> Option<Arc<Value>> {
        self.take_shared_output()
    }

    /// [`Execution::into_shared_output`] for a shell that drops the execution where it
    /// is: moving it into a call copied its 400 bytes once more per run.
    pub fn take_shared_output(&mut self) -> Option<Arc<Value>> {
        self.output.take()
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    pub fn cause(&self) -> Option<&str> {
        self.cause.as_deref()
    }

    /// Events emitted so far (the id of the last one).
    pub fn event_count(&self) -> u64 {
        self.event_count
    }

    /// How many times RedriveExecution restarted the execution.
    pub fn redrive_count(&self) -> u32 {
        self.info.redrive_count.unwrap_or(0)
    }

    /// When the last redrive took effect (epoch milliseconds).
    pub fn redrive_time_ms(&self) -> Option<i64> {
        self.redrive_ms
    }

    /// Tasks the execution is waiting on.
    pub fn pending_tasks(&self) -> impl Iterator<Item = TaskId> + '_ {
        self.tasks.keys().copied()
    }
}

/// An execution's threads by id, stored as the map they were (`{"0": {...}, ...}`), with
/// the root apart: most executions never have another thread, and a map of one cost a node
/// allocation per execution and a search at each of a state's dozen lookups of its thread.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Threads {
    root: Option<Box<Thread>>,
    /// Every other thread (Parallel branches, Map iterations).
    others: BTreeMap<ThreadId, Box<Thread>>,
}

impl Threads {
    #[inline]
    pub fn get(&self, tid: &ThreadId) -> Option<&Thread> {
        if *tid == ROOT {
            self.root.as_deref()
        } else {
            self.others.get(tid).map(|t| &**t)
        }
    }

    #[inline]
    pub fn get_mut(&mut self, tid: &ThreadId) -> Option<&mut Thread> {
        if *tid == ROOT {
            self.root.as_deref_mut()
        } else {
            self.others.get_mut(tid).map(|t| &mut **t)
        }
    }

    pub fn contains_key(&self, tid: &ThreadId) -> bool {
        self.get(tid).is_some()
    }

    pub fn insert(&mut self, tid: ThreadId, thread: Box<Thread>) -> Option<Box<Thread>> {
        if tid == ROOT {
            self.root.replace(thread)
        } else {
            self.others.insert(tid, thread)
        }
    }

    pub fn remove(&mut self, tid: &ThreadId) -> Option<Box<Thread>> {
        if *tid == ROOT {
            self.root.take()
        } else {
            self.others.remove(tid)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.root.is_none() && self.others.is_empty()
    }

    pub fn clear(&mut self) {
        self.root = None;
        self.others.clear();
    }

    /// In the order of their ids, the root first.
    pub fn iter(&self) -> ThreadsIter<'_> {
        self.root
            .as_ref()
            .map(|root| (&ROOT, root))
            .into_iter()
            .chain(&self.others)
    }

    pub fn values(&self) -> impl Iterator<Item = &Box<Thread>> {
        self.iter().map(|(_, thread)| thread)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&ThreadId, &mut Box<Thread>) -> bool) {
        if self.root.as_mut().is_some_and(|root| !keep(&ROOT, root)) {
            self.root = None;
        }
        self.others.retain(keep);
    }
}

pub(crate) type ThreadsIter<'a> = std::iter::Chain<
    std::option::IntoIter<(&'a ThreadId, &'a Box<Thread>)>,
    std::collections::btree_map::Iter<'a, ThreadId, Box<Thread>>,
>;

impl<'a> IntoIterator for &'a Threads {
    type Item = (&'a ThreadId, &'a Box<Thread>);
    type IntoIter = ThreadsIter<'a>;

    fn into_iter(self) -> ThreadsIter<'a> {
        self.iter()
    }
}

impl IntoIterator for Threads {
    type Item = (ThreadId, Box<Thread>);
    type IntoIter = std::iter::Chain<
        std::option::IntoIter<(ThreadId, Box<Thread>)>,
        std::collections::btree_map::IntoIter<ThreadId, Box<Thread>>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.root
            .map(|root| (ROOT, root))
            .into_iter()
            .chain(self.others)
    }
}

impl Serialize for Threads {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Threads {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Threads, D::Error> {
        let mut others = BTreeMap::<ThreadId, Box<Thread>>::deserialize(d)?;
        let root = others.remove(&ROOT);
        Ok(Threads { root, others })
    }
}

impl Thread {
    pub fn new(parent: Option<Parent>, state: usize, input: Value, last_event: u64) -> Thread {
        Thread {
            parent,
            state,
            input,
            entered_event: 0,
            entered_prev: 0,
            entered_ms: 0,
            last_event,
            attempts: Vec::new(),
            retry_count: 0,
            phase: Phase::Idle,
            vars: Map::new(),
            silent: false,
        }
    }
}

pub(crate) enum Work {
    /// Enter the thread's current state.
    Run(ThreadId),
    /// Run the thread's current state again after a retry (no new StateEntered).
    Retry(ThreadId),
    ChildEnded {
        parent: Parent,
        child_last: u64,
        outcome: Result<Value, Fault>,
    },
}

/// The runner's work, first in first out. A chain of states (and a whole short execution)
/// holds one item at a time, which waits in `next` without the queue's allocation.
#[derive(Default)]
pub(crate) struct WorkQueue {
    /// The oldest item, when there is one.
    next: Option<Work>,
    rest: VecDeque<Work>,
}

impl WorkQueue {
    pub fn push_back(&mut self, work: Work) {
        if self.next.is_none() {
            self.next = Some(work);
        } else {
            self.rest.push_back(work);
        }
    }

    pub fn pop_front(&mut self) -> Option<Work> {
        let next = self.next.take()?;
        self.next = self.rest.pop_front();
        Some(next)
    }

    pub fn clear(&mut self) {
        self.next = None;
        self.rest.clear();
    }
}

/// Reads variables through a thread's scope chain.
pub(crate) struct ChainVars<'a> {
    pub threads: &'a Threads,
    pub thread: ThreadId,
}

impl Variables for ChainVars<'_> {
    fn lookup(&self, name: &str) -> Option<&Value> {
        let mut at = self.threads.get(&self.thread);
        // The chain is as deep as the definition's nesting, which Machine bounds.
        while let Some(t) = at {
            if let Some(v) = t.vars.get(name) {
                return Some(v);
            }
            let parent = t.parent.and_then(|p| self.threads.get(&p.thread));
            // A Distributed Map iteration is a child execution: it cannot read the
            // variables of the execution that started it.
            if t.silent && parent.is_some_and(|p| !p.silent) {
                return None;
            }
            at = parent;
        }
        None
    }
}

/// One `apply` in progress: the execution, the machine, the event's context and the output.
pub(crate) struct Runner<'a> {
    pub exec: &'a mut Execution,
    pub machine: &'a Machine,
    pub ctx: &'a Context,
    pub out: Decision,
    pub work: WorkQueue,
    /// Mixed into the seed so each use of entropy within one event differs.
    pub entropy_counter: Cell<u64>,
    /// Data-flow stages recorded for an inspecting machine (filled from `&self` paths).
    pub inspected: std::cell::RefCell<Vec<crate::api::Inspected>>,
    /// The first inconsistency found between the execution state and its machine or event
    /// (found from `&self` paths too); it fails the execution once the current work ends.
    pub nondeterminism: std::cell::RefCell<Option<String>>,
    /// The children's results of Parallel and Map states that failed in this decision, kept
    /// for a redrive until their thread ends (a Catch or Retry drops them).
    pub failed_fanouts: BTreeMap<ThreadId, Box<Fanout>>,
    /// A thread's input held outside it, shared with the `StateExited` event that produced
    /// it, until the thread's next state takes it for its `StateEntered` event: one copy
    /// for two events. Put back into the thread before any other work runs.
    stash: Option<Stash>,
}

/// A state's output on its way out: its own, or shared with its StateEntered event.
pub(crate) enum Output {
    Owned(Value),
    Shared(Arc<Value>),
}

impl Output {
    fn value(&self) -> &Value {
        match self {
            Output::Owned(value) => value,
            Output::Shared(value) => value,
        }
    }

    fn into_value(self) -> Value {
        match self {
            Output::Owned(value) => value,
            Output::Shared(value) => Arc::unwrap_or_clone(value),
        }
    }
}

/// A thread's input held by the runner (see `Runner::stash`).
pub(crate) struct Stash {
    tid: ThreadId,
    pub input: Arc<Value>,
    /// Whether this value was measured against the payload limit when a state produced it:
    /// a Choice or Succeed that passes it on unchanged need not measure it again.
    pub within_limit: bool,
}

/// SplitMix64: a tiny, good mixer for deriving values from the seed.
pub(crate) use cairn_common::entropy::splitmix64 as mix;

/// Whether the JSON text of `value` is longer than `limit` bytes, without serializing it.
pub(crate) fn exceeds_size(value: &Value, limit: usize) -> bool {
    fn walk(v: &Value, budget: &mut isize, depth: usize) -> bool {
        if *budget < 0 {
            return true;
        }
        // serde_json parses at most 128 levels; deeper values are not measured (and never
        // recursed into) so that measuring cannot exhaust the stack.
        if depth > 256 {
            return false;
        }
        match v {
            Value::Null => *budget -= 4,
            Value::Bool(_) => *budget -= 5,
            // Integers are measured exactly: a generous guess would send a large array of
            // small numbers (a Map's results) to the slow path of serializing it.
            Value::Number(n) => {
                *budget -= match (n.as_u64(), n.as_i64()) {
                    (Some(u), _) => decimal_digits(u),
                    (None, Some(i)) => 1 + decimal_digits(i.unsigned_abs()),
                    _ => 24,
                }
            }
            Value::String(s) => *budget -= quoted_len(s),
            Value::Array(a) => {
                *budget -= 2 + a.len() as isize;
                for x in a {
                    if walk(x, budget, depth + 1) {
                        return true;
                    }
                }
            }
            Value::Object(m) => {
                *budget -= 2 + m.len() as isize * 2;
                for (k, x) in m {
                    *budget -= quoted_len(k);
                    if walk(x, budget, depth + 1) {
                        return true;
                    }
                }
            }
        }
        *budget < 0
    }
    let mut budget = limit as isize;
    // The estimate is rough for numbers only (and generous); past it, the real text decides.
    walk(value, &mut budget, 0)
        && depth_at_most(value, 256)
        && crate::history::json_text(value).len() > limit
}

/// At least the length of `s` as a JSON string: an escape (`\"`, `\u0001`) takes at most six bytes.
fn quoted_len(s: &str) -> isize {
    let escaped = s
        .bytes()
        .filter(|b| *b < 0x20 || *b == b'"' || *b == b'\\')
        .count();
    (s.len() + 2 + 5 * escaped) as isize
}

fn decimal_digits(n: u64) -> isize {
    n.checked_ilog10().map_or(1, |log| log as isize + 1)
}

/// Whether `value` nests at most `max` levels (checked without deep recursion).
fn depth_at_most(value: &Value, max: usize) -> bool {
    let mut stack = vec![(value, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        if depth > max {
            return false;
        }
        match v {
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, depth + 1))),
            Value::Object(m) => stack.extend(m.values().map(|x| (x, depth + 1))),
            _ => {}
        }
    }
    true
}

impl<'a> Runner<'a> {
    pub fn new(exec: &'a mut Execution, machine: &'a Machine, ctx: &'a Context) -> Runner<'a> {
        Runner {
            exec,
            machine,
            ctx,
            out: Decision::default(),
            work: WorkQueue::default(),
            entropy_counter: Cell::new(0),
            inspected: std::cell::RefCell::new(Vec::new()),
            nondeterminism: std::cell::RefCell::new(None),
            failed_fanouts: BTreeMap::new(),
            stash: None,
        }
    }

    /// Puts a stashed input back into its thread (copied if its event still shares it).
    fn restore_stash(&mut self) {
        if let Some(Stash { tid, input, .. }) = self.stash.take() {
            if let Some(t) = self.exec.threads.get_mut(&tid) {
                t.input = Arc::unwrap_or_clone(input);
            }
        }
    }

    /// The input stashed for `tid`, if any; any other stash is put back.
    fn take_stash(&mut self, tid: ThreadId) -> Option<Stash> {
        match self.stash.take() {
            Some(stash) if stash.tid == tid => Some(stash),
            other => {
                self.stash = other;
                self.restore_stash();
                None
            }
        }
    }

    /// The decision, with what an inspecting machine recorded. Taken out by reference: the
    /// runner is large, and moving it here cost a copy of it per decision.
    pub(crate) fn finish(&mut self) -> Decision {
        self.restore_stash();
        let mut decision = std::mem::take(&mut self.out);
        decision.inspection = self.inspected.take();
        decision.nondeterminism = self.nondeterminism.take();
        decision
    }

    /// Records that the execution state contradicts its machine or the event, as temporal's
    /// nondeterminism error does: skipping it would leave a thread stuck forever, unseen.
    pub fn nondeterministic(&self, what: impl FnOnce() -> String) {
        let mut slot = self.nondeterminism.borrow_mut();
        if slot.is_none() {
            *slot = Some(what());
        }
    }

    /// Ends a running execution whose state was found inconsistent.
    pub(crate) fn fail_if_nondeterministic(&mut self) {
        if self.exec.status != Status::Running {
            return;
        }
        let Some(what) = self.nondeterminism.borrow().clone() else {
            return;
        };
        self.work.clear();
        self.finish_execution(Err(Fault::new(
            "States.Runtime",
            format!(
                "Internal error: the execution state does not match its state machine \
                 definition ({what}). The execution cannot continue."
            ),
        )));
    }

    /// Records a data-flow stage of the thread's current state, for an inspecting machine.
    #[inline]
    pub fn inspect(&self, tid: ThreadId, stage: &'static str, value: &Value) {
        if !self.machine.inspect {
            return;
        }
        let state = self
            .state_of(tid)
            .map(|s| s.name.clone())
            .unwrap_or_default();
        self.inspected.borrow_mut().push(crate::api::Inspected {
            state,
            stage: stage.into(),
            value: value.clone(),
        });
    }

    pub fn entropy(&self) -> u64 {
        let n = self.entropy_counter.get().wrapping_add(1);
        self.entropy_counter.set(n);
        mix(self.ctx.seed ^ mix(self.exec.event_count.wrapping_add(n << 32)))
    }

    // ----- history -----

    // Inline: the event is then built where it is stored, instead of built on the stack
    // and copied in, which stalled on reading back what had just been written.
    #[inline]
    pub fn emit_with_prev(
        &mut self,
        prev: u64,
        event_type: impl Into<std::borrow::Cow<'static, str>>,
        details: impl Into<crate::Details>,
    ) -> u64 {
        self.exec.event_count += 1;
        let id = self.exec.event_count;
        let event = |details: crate::Details| HistoryEvent {
            id,
            previous_event_id: prev,
            timestamp_ms: self.ctx.now_ms,
            event_type: event_type.into(),
            details,
        };
        let history = &mut self.out.history;
        // Where there is room (nearly always: the history is reserved ahead), the push
        // cannot grow the vector, and the event is written straight into it: made first
        // for a push that might grow, it went through the stack, copied in with wide loads
        // of what narrower stores had just written there (a stalled load per event).
        // The same code in both branches on purpose: only in the first does the compiler
        // know the push cannot grow. (Growing out of line instead measured 4 % slower.)
        #[allow(clippy::if_same_then_else)]
        if history.len() < history.capacity() {
            history.push(event(details.into()));
        } else {
            history.push(event(details.into()));
        }
        id
    }

    /// Emits an event on behalf of thread `tid` following event `prev`, without changing the
    /// thread's last event; nothing is recorded for a thread of a child execution.
    pub fn emit_after(
        &mut self,
        tid: ThreadId,
        prev: u64,
        event_type: impl Into<std::borrow::Cow<'static, str>>,
        details: impl Into<crate::Details>,
    ) -> u64 {
        if self.silent(tid) {
            return prev;
        }
        self.emit_with_prev(prev, event_type, details)
    }

    /// Emits an event following the thread's last one, and makes it the thread's last.
    #[inline]
    pub fn emit(
        &mut self,
        tid: ThreadId,
        event_type: impl Into<std::borrow::Cow<'static, str>>,
        details: impl Into<crate::Details>,
    ) -> u64 {
        self.emit_made(tid, event_type, || details.into())
    }

    /// [`Runner::emit`] with the details made by `details` once the event is known to be
    /// recorded, in the function that stores them.
    #[inline(always)]
    fn emit_made(
        &mut self,
        tid: ThreadId,
        event_type: impl Into<std::borrow::Cow<'static, str>>,
        details: impl FnOnce() -> crate::Details,
    ) -> u64 {
        // One thread lookup: a Map emits four events per item.
        let id = self.exec.event_count + 1;
        let prev = match self.exec.threads.get_mut(&tid) {
            Some(t) if t.silent => return t.last_event,
            Some(t) => std::mem::replace(&mut t.last_event, id),
            None => 0,
        };
        self.emit_with_prev(prev, event_type, details())
    }

    /// `<Type>StateEntered` of `state` with its input. Out of line, with the details made
    /// here from the payload (passed in two registers): made by the caller and passed to
    /// [`Runner::emit`] by reference, they were stored piecewise and then read back whole,
    /// a stalled load per event.
    #[inline(never)]
    pub(crate) fn emit_entered(
        &mut self,
        tid: ThreadId,
        event_type: &'static str,
        state: &CState,
        input: Payload,
    ) -> u64 {
        self.emit_made(tid, event_type, || state.shapes.entered(input))
    }

    /// `<Type>StateExited` of `state` with its output (see [`Runner::emit_entered`]).
    #[inline(never)]
    pub(crate) fn emit_exited(
        &mut self,
        tid: ThreadId,
        event_type: &'static str,
        state: &CState,
        output: Payload,
    ) -> u64 {
        self.emit_made(tid, event_type, || state.shapes.exited(output))
    }

    /// `ExecutionSucceeded` with the execution's output (see [`Runner::emit_entered`]).
    #[inline(never)]
    fn emit_succeeded(&mut self, output: Arc<Value>) -> u64 {
        self.emit_made(ROOT, "ExecutionSucceeded", || {
            crate::Details::field("output", Payload::Shared(output))
        })
    }

    /// Makes room for `events` more history events at once (a Map's iterations), so the
    /// history does not grow by doubling and copying; never beyond the history limit.
    pub fn reserve_history(&mut self, events: usize) {
        let left = self.history_limit().saturating_sub(self.exec.event_count);
        let events = events.min(usize::try_from(left).unwrap_or(usize::MAX));
        self.out.history.reserve(events);
    }

    /// The history length at which the execution fails: only Standard executions have one.
    fn history_limit(&self) -> u64 {
        match self.exec.info.machine_type {
            MachineType::Standard => self.exec.limits.max_history_events,
            MachineType::Express => u64::MAX,
        }
    }

    pub fn silent(&self, tid: ThreadId) -> bool {
        self.exec.threads.get(&tid).is_some_and(|t| t.silent)
    }

    pub fn thread(&self, tid: ThreadId) -> Option<&Thread> {
        self.exec.threads.get(&tid)
    }

    pub fn thread_mut(&mut self, tid: ThreadId) -> Option<&mut Thread> {
        self.exec.threads.get_mut(&tid)
    }

    /// The state a thread is at. A thread that no longer exists has ended or was aborted
    /// earlier in this decision (its queued work is then moot); a thread at a state the
    /// machine lacks is nondeterminism.
    pub fn state_of(&self, tid: ThreadId) -> Option<&'a CState> {
        let machine: &'a Machine = self.machine;
        let thread = self.exec.threads.get(&tid)?;
        let state = machine.state(thread.state);
        if state.is_none() {
            self.nondeterministic(|| {
                format!(
                    "thread {tid} is at state #{} but the definition has {} states",
                    thread.state,
                    machine.states.len()
                )
            });
        }
        state
    }

    // ----- commands -----

    pub fn start_timer(&mut self, purpose: TimerFor, fire_at_ms: i64) -> TimerId {
        let timer_id = self.exec.next_timer;
        self.exec.next_timer += 1;
        self.exec.timers.insert(timer_id, purpose);
        self.out.commands.push(Command::StartTimer {
            timer_id,
            fire_at_ms,
        });
        timer_id
    }

    pub fn cancel_timer(&mut self, timer_id: Option<TimerId>) {
        if let Some(timer_id) = timer_id {
            if self.exec.timers.remove(&timer_id).is_some() {
                self.out.commands.push(Command::CancelTimer { timer_id });
            }
        }
    }

    // ----- data flow helpers -----

    /// Evaluates `f` with `$` = `input`, `$$` = the context object (built only if `with_context`)
    /// and the thread's variables.
    pub fn eval<T>(
        &self,
        tid: ThreadId,
        input: &Value,
        with_context: bool,
        extra: ContextExtra<'_>,
        f: impl FnOnce(&Scope, &mut SeededEntropy) -> Result<T, flow::Failure>,
    ) -> Result<T, Fault> {
        let context = if with_context {
            self.context_object(tid, extra)
        } else {
            Value::Null
        };
        let vars = ChainVars {
            threads: &self.exec.threads,
            thread: tid,
        };
        let scope = Scope {
            input,
            context: &context,
            variables: &vars,
        };
        let mut entropy = SeededEntropy {
            seed: self.ctx.seed ^ self.exec.event_count,
            counter: &self.entropy_counter,
        };
        f(&scope, &mut entropy).map_err(|e| self.state_fault(tid, e))
    }

    /// Prefixes a data-flow failure with the state and its StateEntered id, as AWS does.
    pub fn state_fault(&self, tid: ThreadId, failure: flow::Failure) -> Fault {
        let (name, entered) = match (self.state_of(tid), self.thread(tid)) {
            (Some(s), Some(t)) => (s.name.as_str(), t.entered_event),
            _ => ("", 0),
        };
        Fault::new(
            &failure.error,
            format!(
                "An error occurred while executing the state '{name}' (entered at the event id #{entered}). {}",
                failure.cause
            ),
        )
    }

    pub fn context_object(&self, tid: ThreadId, extra: ContextExtra<'_>) -> Value {
        if let Some(context) = &self.machine.context_object {
            return context.clone();
        }
        let info = &self.exec.info;
        let (name, entered_ms, retry_count) = match (self.state_of(tid), self.thread(tid)) {
            // Only states that can retry carry a RetryCount.
            (Some(s), Some(t)) => (
                s.name.as_str(),
                t.entered_ms,
                matches!(s.kind, Kind::Task(_) | Kind::Parallel { .. } | Kind::Map(_))
                    .then_some(t.retry_count),
            ),
            _ => ("", 0, None),
        };
        let text = |s: &str| Value::String(s.to_string());
        let mut execution = Map::with_capacity(6);
        execution.insert("Id".into(), text(&info.execution_arn));
        if !matches!(self.state_of(tid), Some(s) if !s.context_input) {
            execution.insert("Input".into(), Value::clone(&self.exec.input));
        }
        execution.insert(
            "StartTime".into(),
            Value::String(crate::time::format_timestamp(info.start_time_ms)),
        );
        execution.insert("Name".into(), text(&info.name));
        // Null where the execution has no role (TestState called without roleArn).
        let role = if info.role_arn.is_empty() {
            Value::Null
        } else {
            text(&info.role_arn)
        };
        execution.insert("RoleArn".into(), role);
        if let Some(count) = info.redrive_count {
            execution.insert("RedriveCount".into(), count.into());
        }
        if let Some(redriven) = self.exec.redrive_ms {
            execution.insert(
                "RedriveTime".into(),
                Value::String(crate::time::format_timestamp(redriven)),
            );
        }
        let mut ctx = json!({
            "StateMachine": {"Id": info.state_machine_arn, "Name": info.state_machine_name},
            "State": {
                "Name": name,
                "EnteredTime": crate::time::format_timestamp(entered_ms),
            },
        });
        if let Value::Object(map) = &mut ctx {
            map.shift_insert(0, "Execution".into(), Value::Object(execution));
        }
        if let Value::Object(map) = &mut ctx {
            if let (Some(count), Some(Value::Object(state))) = (retry_count, map.get_mut("State")) {
                state.insert("RetryCount".into(), count.into());
            }
            if let Some(token) = extra.task_token {
                map.insert("Task".into(), json!({"Token": token}));
            }
            if let Some((index, value)) = extra.map_item {
                map.insert(
                    "Map".into(),
                    json!({"Item": {"Index": index, "Value": value}}),
                );
            }
        }
        ctx
    }

    pub fn input_path(&self, tid: ThreadId, state: &CState, input: &Value) -> Result<Value, Fault> {
        match &state.input_path {
            IoPath::Whole => Ok(input.clone()),
            IoPath::Empty => Ok(Value::Object(Map::new())),
            IoPath::Path(p) => self.eval(
                tid,
                input,
                p.is_context(),
                ContextExtra::default(),
                |s, _| p.select(s),
            ),
        }
    }

    pub fn output_path(
        &self,
        tid: ThreadId,
        state: &CState,
        output: Value,
    ) -> Result<Value, Fault> {
        match &state.output_path {
            IoPath::Whole => Ok(output),
            IoPath::Empty => Ok(Value::Object(Map::new())),
            // The rest of the output is discarded: move the selected part out of it.
            IoPath::Path(p) if !p.is_context() => match flow::take_at(output, p) {
                Ok(selected) => Ok(selected),
                Err(output) => self.eval(tid, &output, false, ContextExtra::default(), |s, _| {
                    p.select(s)
                }),
            },
            IoPath::Path(p) => self.eval(tid, &output, true, ContextExtra::default(), |s, _| {
                p.select(s)
            }),
        }
    }

    pub fn result_path(
        &self,
        tid: ThreadId,
        path: &ResultPath,
        raw_input: Value,
        result: Value,
    ) -> Result<Value, Fault> {
        match path {
            ResultPath::Replace => Ok(result),
            ResultPath::Discard => Ok(raw_input),
            ResultPath::Path(p) => {
                flow::set_result(raw_input, p, result).map_err(|e| self.state_fault(tid, e))
            }
        }
    }

    /// Evaluates an Assign template with `$` = `input`; returns the new variables.
    pub fn assign(
        &self,
        tid: ThreadId,
        template: Option<&flow::Template>,
        input: &Value,
        with_context: bool,
    ) -> Result<Option<Map<String, Value>>, Fault> {
        let Some(template) = template else {
            return Ok(None);
        };
        match self.eval(tid, input, with_context, ContextExtra::default(), |s, e| {
            template.evaluate(s, e)
        })? {
            Value::Object(vars) => Ok(Some(vars)),
            _ => Ok(Some(Map::new())),
        }
    }

    // ----- the loop -----

    pub fn drain(&mut self) {
        while let Some(work) = self.work.pop_front() {
            if !matches!((&work, &self.stash), (Work::Run(tid), Some(stash)) if *tid == stash.tid) {
                self.restore_stash();
            }
            if self.exec.status != Status::Running {
                self.work.clear();
                break;
            }
            match work {
                Work::Run(tid) => self.enter(tid),
                Work::Retry(tid) => self.act(tid),
                Work::ChildEnded {
                    parent,
                    child_last,
                    outcome,
                } => self.child_ended(parent, child_last, outcome),
            }
            self.fail_if_nondeterministic();
            if self.exec.event_count >= self.history_limit() && self.exec.status == Status::Running
            {
                let max = self.history_limit();
                self.finish_execution(Err(Fault::new(
                    "States.Runtime",
                    format!("The execution reached the maximum number of history events ({max})."),
                )));
            }
        }
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::TaskStarted {
                task_id,
                worker_name,
            } => self.task_started(task_id, worker_name),
            Event::TaskSubmitted { task_id, output } => self.task_submitted(task_id, output),
            Event::TaskSucceeded { task_id, output } => self.task_succeeded(task_id, output),
            Event::TaskFailed {
                task_id,
                error,
                cause,
            } => self.task_failed(
                task_id,
                Fault {
                    error,
                    cause,
                    evaluation: None,
                },
            ),
            Event::Heartbeat { task_id } => self.task_heartbeat(task_id),
            Event::TimerFired { timer_id } => self.timer_fired(timer_id),
            // Handled before a Runner exists (it applies to an ended execution).
            Event::Redrive => {}
            Event::UpdateMapRun {
                map_run_arn,
                max_concurrency,
                tolerated_failure_count,
                tolerated_failure_percentage,
            } => self.update_map_run(
                &map_run_arn,
                max_concurrency,
                tolerated_failure_count,
                tolerated_failure_percentage,
            ),
            Event::Stop { error, cause } => {
                let mut fields = Map::new();
                if let Some(e) = &error {
                    fields.insert("error".into(), Value::String(e.clone()));
                }
                if let Some(c) = &cause {
                    fields.insert("cause".into(), Value::String(c.clone()));
                }
                self.emit_with_prev(0, "ExecutionAborted", Value::Object(fields));
                self.end(Status::Aborted, None, error, cause);
            }
            Event::MachineDeleted => {
                self.work.clear();
                let cause = format!(
                    "State machine {} has been deleted.",
                    self.exec.info.state_machine_name
                );
                self.finish_execution(Err(Fault::new("States.Runtime", cause)));
            }
        }
    }

    fn timer_fired(&mut self, timer_id: TimerId) {
        // A timer the execution no longer holds was cancelled: its late firing is moot.
        let Some(purpose) = self.exec.timers.remove(&timer_id) else {
            return;
        };
        if let Some(tid) = purpose.thread() {
            let held = self
                .thread(tid)
                .is_some_and(|t| t.phase.holds_timer(timer_id));
            if !held {
                return self.nondeterministic(|| {
                    format!("timer {timer_id} is open for thread {tid}, which is not waiting on it")
                });
            }
        }
        match purpose {
            TimerFor::Wait(tid) => self.wait_done(tid),
            TimerFor::Backoff(tid) => {
                if let Some(t) = self.thread_mut(tid) {
                    t.phase = Phase::Idle;
                }
                self.act(tid);
            }
            TimerFor::TaskTimeout(tid) => self.task_timed_out(tid, "States.Timeout"),
            // AWS reports a missed heartbeat as `States.Timeout` too (the recordings agree).
            TimerFor::Heartbeat(tid) => self.task_timed_out(tid, "States.Timeout"),
            TimerFor::MapSlice(tid) => self.map_slice_resumed(tid),
            TimerFor::Execution => {
                let root_last = self.thread(ROOT).map_or(0, |t| t.last_event);
                self.emit_with_prev(
                    root_last,
                    "ExecutionTimedOut",
                    details([("error", Value::String("States.Timeout".into()))]),
                );
                // The event names the error; DescribeExecution of a TIMED_OUT execution has
                // none (the recordings agree), and the execution's error is what it shows.
                self.end(Status::TimedOut, None, None, None);
            }
        }
    }

    /// Emits `<Type>StateEntered` and runs the state.
    fn enter(&mut self, tid: ThreadId) {
        let Some(state) = self.state_of(tid) else {
            return;
        };
        if let Kind::Pass { result } = &state.kind {
            if state.result_path == ResultPath::Replace
                && (result.is_some()
                    || state.parameters.is_some()
                    || state.input_path != IoPath::Whole)
            {
                return self.enter_pass(tid, state, result.as_ref());
            }
        }
        let stashed = self.take_stash(tid);
        let passes_through = state.jsonata.is_none()
            && state.input_path == IoPath::Whole
            && state.output_path == IoPath::Whole
            && !self.machine.inspect;
        match (stashed, &state.kind) {
            // The input passes through unchanged: StateEntered, StateExited and the next
            // state's StateEntered (or ExecutionSucceeded) share it, and a size measured
            // when it was produced still holds.
            (Some(stash), Kind::Choice { branches, default }) if passes_through => {
                let Some(t) = self.exec.threads.get_mut(&tid) else {
                    return;
                };
                t.entered_prev = t.last_event;
                let id = self.emit_entered(
                    tid,
                    "ChoiceStateEntered",
                    state,
                    Payload::Shared(Arc::clone(&stash.input)),
                );
                self.mark_entered(tid, state, id);
                self.run_choice_shared(tid, state, branches, *default, stash)
            }
            (Some(stash), Kind::Succeed) if passes_through => {
                let Some(t) = self.exec.threads.get_mut(&tid) else {
                    return;
                };
                t.entered_prev = t.last_event;
                let id = self.emit_entered(
                    tid,
                    "SucceedStateEntered",
                    state,
                    Payload::Shared(Arc::clone(&stash.input)),
                );
                self.mark_entered(tid, state, id);
                self.exit_with(
                    tid,
                    state,
                    Output::Shared(stash.input),
                    stash.within_limit,
                    None,
                    None,
                )
            }
            (stashed, _) => {
                let Some(t) = self.exec.threads.get_mut(&tid) else {
                    return;
                };
                t.entered_prev = t.last_event;
                let input = match stashed {
                    Some(stash) => {
                        t.input = Value::clone(&stash.input);
                        Payload::Shared(stash.input)
                    }
                    None => Payload::from(t.input.clone()),
                };
                let id = self.emit_entered(tid, entered_type(state.type_name), state, input);
                self.mark_entered(tid, state, id);
                self.act(tid);
            }
        }
    }

    pub(crate) fn mark_entered(&mut self, tid: ThreadId, state: &CState, id: u64) {
        let now = self.ctx.now_ms;
        let retriers = state.retry.len();
        if let Some(t) = self.thread_mut(tid) {
            t.entered_event = id;
            t.entered_ms = now;
            t.attempts = vec![0; retriers];
            t.retry_count = 0;
        }
    }

    /// A Pass whose output never contains its raw input: the result is computed first so
    /// that the input moves into `PassStateEntered` instead of being copied (the hot path
    /// of Pass chains and Map iterations).
    fn enter_pass(&mut self, tid: ThreadId, state: &CState, result: Option<&Value>) {
        // The StateEntered event is the next one: failures name it before it is recorded.
        let id = self.exec.event_count + 1;
        self.mark_entered(tid, state, id);
        let (produced, input) = match self.take_stash(tid) {
            Some(stash) => (
                self.pass_result(tid, state, result, &stash.input),
                Payload::Shared(stash.input),
            ),
            None => {
                let input = self
                    .thread_mut(tid)
                    .map(|t| std::mem::take(&mut t.input))
                    .unwrap_or(Value::Null);
                (
                    self.pass_result(tid, state, result, &input),
                    Payload::from(input),
                )
            }
        };
        self.emit_entered(tid, "PassStateEntered", state, input);
        match produced {
            Ok(result) => self.complete(tid, result),
            Err(fault) => self.fail(tid, fault),
        }
    }

    /// Runs the current state's behaviour (first time, or again on a retry).
    fn act(&mut self, tid: ThreadId) {
        let Some(state) = self.state_of(tid) else {
            return;
        };
        match &state.kind {
            _ if state.jsonata.is_some() => self.run_jsonata(tid, state),
            Kind::Pass { result } => self.run_pass(tid, state, result.as_ref()),
            Kind::Task(spec) => self.run_task(tid, state, spec),
            Kind::Choice { branches, default } => self.run_choice(tid, state, branches, *default),
            Kind::Wait(spec) => self.run_wait(tid, state, spec),
            Kind::Succeed => self.run_succeed(tid, state),
            Kind::Fail { error, cause } => self.run_fail(tid, error, cause),
            Kind::Parallel { branches } => self.run_parallel(tid, state, branches),
            Kind::Map(spec) => self.run_map(tid, state, spec),
            Kind::Unsupported(message) => {
                let fault = Fault::new("States.Runtime", message.clone());
                self.end_thread(tid, Err(fault));
            }
        }
    }

    /// The common tail of a state that produced `result`: ResultSelector, Assign,
    /// ResultPath, OutputPath, `<Type>StateExited`, then Next or End.
    pub fn complete(&mut self, tid: ThreadId, result: Value) {
        let Some(state) = self.state_of(tid) else {
            return;
        };
        if matches!(state.kind, Kind::Task(_)) {
            self.inspect(tid, "result", &result);
        }
        if let Some(j) = &state.jsonata {
            let finished = self.jsonata_finish(
                tid,
                state,
                j,
                crate::jsonata::Produced::Result(&result),
                j.output.as_ref(),
                j.assign.as_ref(),
            );
            return match finished {
                Ok((output, assigned)) => {
                    let output = output.unwrap_or(result);
                    self.exit(tid, state, output, assigned, state.next)
                }
                Err(fault) => self.fail(tid, fault),
            };
        }
        let outcome = (|| -> Result<(Value, Option<Map<String, Value>>), Fault> {
            let result = match &state.result_selector {
                Some(t) => self.eval(
                    tid,
                    &result,
                    state.uses_context,
                    ContextExtra::default(),
                    |s, e| t.evaluate(s, e),
                )?,
                None => result,
            };
            let assigned = self.assign(tid, state.assign.as_ref(), &result, state.uses_context)?;
            let raw_input = match &state.result_path {
                ResultPath::Replace => Value::Null,
                // The raw input is replaced by the output on exit; only a Retry or Catch (after
                // a failing ResultPath or OutputPath) would read it again.
                _ if state.catch.is_empty() && state.retry.is_empty() => self
                    .thread_mut(tid)
                    .map(|t| std::mem::take(&mut t.input))
                    .unwrap_or(Value::Null),
                _ => self
                    .thread(tid)
                    .map(|t| t.input.clone())
                    .unwrap_or(Value::Null),
            };
            self.inspect(tid, "afterResultSelector", &result);
            let output = self.result_path(tid, &state.result_path, raw_input, result)?;
            self.inspect(tid, "afterResultPath", &output);
            let output = self.output_path(tid, state, output)?;
            Ok((output, assigned))
        })();
        match outcome {
            Ok((output, assigned)) => self.exit(tid, state, output, assigned, state.next),
            Err(fault) => self.fail(tid, fault),
        }
    }

    /// Emits `<Type>StateExited`, applies assignments and moves on to `next` (or ends the thread).
    pub fn exit(
        &mut self,
        tid: ThreadId,
        state: &CState,
        output: Value,
        assigned: Option<Map<String, Value>>,
        next: Option<usize>,
    ) {
        self.exit_with(tid, state, Output::Owned(output), false, assigned, next)
    }

    /// [`Runner::exit`] with an output that may be shared with the state's StateEntered
    /// (a Choice passes its input on unchanged), and may be known to be within the payload
    /// limit (`within_limit`: measured when an earlier state produced it).
    pub(crate) fn exit_with(
        &mut self,
        tid: ThreadId,
        state: &CState,
        output: Output,
        within_limit: bool,
        assigned: Option<Map<String, Value>>,
        next: Option<usize>,
    ) {
        if !within_limit && exceeds_size(output.value(), self.exec.limits.max_payload_bytes) {
            let fault = Fault::new(
                "States.DataLimitExceeded",
                format!(
                    "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                    state.name
                ),
            );
            return self.fail(tid, fault);
        }
        if let Some(vars) = assigned.as_ref().filter(|v| !v.is_empty()) {
            if let Some(fault) = self.variables_too_large(tid, state, vars) {
                return self.fail(tid, fault);
            }
        }
        let fields = match assigned.as_ref().filter(|v| !v.is_empty()) {
            Some(vars) => {
                let mut fields = Map::with_capacity(3);
                fields.insert("assignedVariables".into(), Value::Object(vars.clone()));
                fields.insert("name".into(), Value::String(state.name.clone()));
                fields.insert("output".into(), output.value().clone());
                Value::Object(fields).into()
            }
            // A Pass or Choice that moves on shares its output with the next state's
            // StateEntered (both exit as the last thing their state does).
            None if next.is_some()
                && state.jsonata.is_none()
                && matches!(state.kind, Kind::Pass { .. } | Kind::Choice { .. }) =>
            {
                let shared = match output {
                    Output::Owned(output) => Arc::new(output),
                    Output::Shared(shared) => shared,
                };
                self.emit_exited(
                    tid,
                    exited_type(state.type_name),
                    state,
                    Payload::Shared(Arc::clone(&shared)),
                );
                if let (Some(next), Some(t)) = (next, self.exec.threads.get_mut(&tid)) {
                    t.state = next;
                    t.input = Value::Null;
                    t.phase = Phase::Idle;
                }
                self.restore_stash();
                self.stash = Some(Stash {
                    tid,
                    input: shared,
                    within_limit: true,
                });
                if let (Some(vars), Some(t)) = (assigned, self.exec.threads.get_mut(&tid)) {
                    t.vars.extend(vars);
                }
                self.work.push_back(Work::Run(tid));
                return;
            }
            // The top level ends: StateExited and ExecutionSucceeded share the output.
            None if next.is_none()
                && self
                    .exec
                    .threads
                    .get(&tid)
                    .is_some_and(|t| t.parent.is_none()) =>
            {
                let shared = match output {
                    Output::Owned(output) => Arc::new(output),
                    Output::Shared(shared) => shared,
                };
                self.emit_exited(
                    tid,
                    exited_type(state.type_name),
                    state,
                    Payload::Shared(Arc::clone(&shared)),
                );
                if matches!(state.kind, Kind::Parallel { .. } | Kind::Map(_)) {
                    self.forget_unsuccessful_children(tid);
                }
                self.emit_succeeded(Arc::clone(&shared));
                self.end(Status::Succeeded, Some(shared), None, None);
                return;
            }
            None => match &output {
                Output::Shared(shared) => state.shapes.exited(Arc::clone(shared)),
                Output::Owned(output) => state.shapes.exited(output.clone()),
            },
        };
        let output = output.into_value();
        self.emit(tid, exited_type(state.type_name), fields);
        if matches!(state.kind, Kind::Parallel { .. } | Kind::Map(_)) {
            self.forget_unsuccessful_children(tid);
        }
        if let (Some(vars), Some(t)) = (assigned, self.exec.threads.get_mut(&tid)) {
            t.vars.extend(vars);
        }
        match next {
            Some(next) => {
                if let Some(t) = self.thread_mut(tid) {
                    t.state = next;
                    t.input = output;
                    t.phase = Phase::Idle;
                }
                self.work.push_back(Work::Run(tid));
            }
            None => self.end_thread(tid, Ok(output)),
        }
    }

    /// AWS's variable limits: 256 KiB per variable and per Assign, 10 MiB for all variables
    /// an execution holds (measured here over the scopes the state can see).
    fn variables_too_large(
        &self,
        tid: ThreadId,
        state: &CState,
        assigned: &Map<String, Value>,
    ) -> Option<Fault> {
        // AWS's cause texts for these limits are not in the recordings; these say what happened.
        let too_large = |what: String, limit: usize| {
            Some(Fault::new(
                "States.DataLimitExceeded",
                format!(
                    "The state '{}' assigned {what} exceeding the maximum size of {limit} bytes.",
                    state.name
                ),
            ))
        };
        let mut assign_total = 0usize;
        for (name, value) in assigned {
            if exceeds_size(value, MAX_VARIABLE_BYTES) {
                return too_large(format!("the variable '{name}'"), MAX_VARIABLE_BYTES);
            }
            assign_total += name.len() + crate::history::json_text(value).len();
        }
        if assign_total > MAX_VARIABLE_BYTES {
            return too_large("variables with a combined size".into(), MAX_VARIABLE_BYTES);
        }
        let mut stored = assign_total;
        let mut at = self.exec.threads.get(&tid);
        while let Some(t) = at {
            for (name, value) in &t.vars {
                if !assigned.contains_key(name) {
                    stored += name.len() + crate::history::json_text(value).len();
                }
            }
            at = t.parent.and_then(|p| self.exec.threads.get(&p.thread));
        }
        if stored > MAX_STORED_VARIABLES_BYTES {
            return too_large(
                "variables, bringing the execution's variables".into(),
                MAX_STORED_VARIABLES_BYTES,
            );
        }
        None
    }

    /// A state failed: retry it, catch the error, or fail the thread.
    pub fn fail(&mut self, tid: ThreadId, mut fault: Fault) {
        let Some(state) = self.state_of(tid) else {
            return;
        };
        if let Some(evaluation) = fault.evaluation.take() {
            self.evaluation_failed(tid, state, &fault, evaluation);
        }
        let error = fault.error_name().to_string();
        let in_task = matches!(state.kind, Kind::Task(_));
        // The first retrier whose ErrorEquals matches decides; exhausted means no retry.
        if let Some(index) = state
            .retry
            .iter()
            .position(|r| crate::retry::error_matches(&r.errors, &error, in_task))
        {
            let attempt = self
                .thread(tid)
                .and_then(|t| t.attempts.get(index).copied())
                .unwrap_or(0);
            if let Some(retrier) = state.retry.get(index) {
                if u64::from(attempt) < retrier.max_attempts {
                    let entropy = self.entropy();
                    let delay = retrier.delay_ms(attempt, entropy);
                    self.failed_fanouts.remove(&tid);
                    self.forget_unsuccessful_children(tid);
                    if let Some(t) = self.thread_mut(tid) {
                        if let Some(a) = t.attempts.get_mut(index) {
                            *a += 1;
                        }
                        t.retry_count += 1;
                        t.phase = Phase::Idle;
                    }
                    if delay <= 0 {
                        self.work.push_back(Work::Retry(tid));
                    } else {
                        let timer = self.start_timer(
                            TimerFor::Backoff(tid),
                            self.ctx.now_ms.saturating_add(delay),
                        );
                        if let Some(t) = self.thread_mut(tid) {
                            t.phase = Phase::Backoff { timer };
                        }
                    }
                    return;
                }
            }
        }
        if matches!(
            self.thread(tid).map(|t| &t.phase),
            Some(Phase::Fanout(_) | Phase::Reading(_))
        ) {
            self.emit(tid, format!("{}StateFailed", state.type_name), Value::Null);
        }
        if let Some(t) = self.thread_mut(tid) {
            // A redrive runs again only the children that did not succeed: their results
            // are kept until the thread ends (or a Catch moves it on).
            if let Phase::Fanout(fanout) = std::mem::replace(&mut t.phase, Phase::Idle) {
                self.failed_fanouts.insert(tid, fanout);
            }
        }
        if let Some((catch_index, catcher)) = state
            .catch
            .iter()
            .enumerate()
            .find(|(_, c)| crate::retry::error_matches(&c.errors, &error, in_task))
        {
            self.inspect(tid, "errorDetails", &json!({"catchIndex": catch_index}));
            let error_output = fault.to_output();
            if let Some(j) = &state.jsonata {
                let (output_t, assign_t) = j
                    .catch
                    .get(catch_index)
                    .map(|(o, a)| (o.as_ref(), a.as_ref()))
                    .unwrap_or((None, None));
                let finished = self.jsonata_finish(
                    tid,
                    state,
                    j,
                    crate::jsonata::Produced::ErrorOutput(&error_output),
                    output_t,
                    assign_t,
                );
                match finished {
                    Ok((output, assigned)) => {
                        let output = output.unwrap_or(error_output);
                        self.exit(tid, state, output, assigned, Some(catcher.next))
                    }
                    Err(mut fault) => {
                        if let Some(evaluation) = fault.evaluation.take() {
                            self.evaluation_failed(tid, state, &fault, evaluation);
                        }
                        self.end_thread(tid, Err(fault))
                    }
                }
                return;
            }
            let caught = (|| -> Result<(Value, Option<Map<String, Value>>), Fault> {
                let assigned = self.assign(
                    tid,
                    catcher.assign.as_ref(),
                    &error_output,
                    state.uses_context,
                )?;
                let raw_input = self
                    .thread(tid)
                    .map(|t| t.input.clone())
                    .unwrap_or(Value::Null);
                let output =
                    self.result_path(tid, &catcher.result_path, raw_input, error_output)?;
                Ok((output, assigned))
            })();
            match caught {
                Ok((output, assigned)) => {
                    self.exit(tid, state, output, assigned, Some(catcher.next))
                }
                Err(fault) => self.end_thread(tid, Err(fault)),
            }
            return;
        }
        self.end_thread(tid, Err(fault));
    }

    /// The thread reached an end: the execution ends, or the parent Parallel/Map learns of it.
    pub fn end_thread(&mut self, tid: ThreadId, outcome: Result<Value, Fault>) {
        let Some(thread) = self.exec.threads.get(&tid) else {
            return;
        };
        let Some(parent) = thread.parent else {
            self.finish_execution(outcome);
            return;
        };
        let child_last = thread.last_event;
        let failed = outcome.is_err();
        if failed && !thread.silent {
            if let Some(state) = self.state_of(tid) {
                if matches!(
                    state.kind,
                    Kind::Task(_) | Kind::Parallel { .. } | Kind::Map(_)
                ) {
                    // The failed state never exits: AWS marks it aborted, chained after its failure.
                    self.emit_with_prev(
                        child_last,
                        format!("{}StateAborted", state.type_name),
                        Value::Null,
                    );
                }
            }
        }
        if let Some(thread) = self.exec.threads.remove(&tid) {
            // A thread that ended well dropped its children's leftovers when its last state
            // exited.
            if failed {
                self.keep_unsuccessful(tid, thread);
            }
        }
        self.work.push_back(Work::ChildEnded {
            parent,
            child_last,
            outcome,
        });
    }

    fn finish_execution(&mut self, outcome: Result<Value, Fault>) {
        match outcome {
            Ok(output) => {
                let output = Arc::new(output);
                self.emit_succeeded(Arc::clone(&output));
                self.end(Status::Succeeded, Some(output), None, None);
            }
            Err(fault) => {
                let mut fields = Map::new();
                if let Some(c) = fault.cause.as_ref().filter(|c| !c.is_empty()) {
                    fields.insert("cause".into(), Value::String(c.clone()));
                }
                if let Some(e) = &fault.error {
                    fields.insert("error".into(), Value::String(e.clone()));
                }
                self.emit(ROOT, "ExecutionFailed", Value::Object(fields));
                self.end(Status::Failed, None, fault.error, fault.cause);
            }
        }
    }

    /// Final bookkeeping: cancel what is outstanding and tell the shell.
    fn end(
        &mut self,
        status: Status,
        output: Option<Arc<Value>>,
        error: Option<String>,
        cause: Option<String>,
    ) {
        self.restore_stash();
        for task_id in std::mem::take(&mut self.exec.tasks).into_keys() {
            self.out.commands.push(Command::CancelTask { task_id });
        }
        for timer_id in std::mem::take(&mut self.exec.timers).into_keys() {
            self.out.commands.push(Command::CancelTimer { timer_id });
        }
        if status == Status::Succeeded {
            self.exec.threads.clear();
            self.exec.unsuccessful.clear();
        } else {
            // Whatever still ran did not succeed: a redrive starts it again.
            for (tid, thread) in std::mem::take(&mut self.exec.threads) {
                self.abort_map_run(&thread.phase);
                self.keep_unsuccessful(tid, thread);
            }
        }
        self.exec.status = status;
        self.exec.output = output;
        self.exec.error = error.clone();
        self.exec.cause = cause.clone();
        self.out.commands.push(Command::Finish {
            status,
            error,
            cause,
        });
        self.work.clear();
    }

    /// Stops a thread and everything under it (a sibling branch failed, a Map gave up).
    pub fn abort_thread(&mut self, tid: ThreadId) {
        let mut stack = vec![tid];
        while let Some(tid) = stack.pop() {
            let Some(mut thread) = self.exec.threads.remove(&tid) else {
                continue;
            };
            let state = self.machine.state(thread.state);
            let silent = thread.silent;
            let last_event = thread.last_event;
            let phase = std::mem::replace(&mut thread.phase, Phase::Idle);
            let idle = matches!(phase, Phase::Idle);
            self.abort_map_run(&phase);
            match phase {
                Phase::Task(wait) => {
                    if self.exec.tasks.remove(&wait.task_id).is_some() {
                        self.out.commands.push(Command::CancelTask {
                            task_id: wait.task_id,
                        });
                    }
                    self.cancel_timer(wait.timeout_timer);
                    self.cancel_timer(wait.heartbeat_timer);
                }
                Phase::Wait { timer, .. } | Phase::Backoff { timer } => {
                    self.cancel_timer(Some(timer))
                }
                Phase::Fanout(mut f) => {
                    self.cancel_timer(f.run.as_ref().and_then(|r| r.pause));
                    stack.extend(f.running.values().copied());
                    self.stop_children_outside(std::mem::take(&mut f.outside));
                    thread.phase = Phase::Fanout(f);
                }
                Phase::Reading(r) => {
                    if self.exec.tasks.remove(&r.task_id).is_some() {
                        self.out
                            .commands
                            .push(Command::CancelTask { task_id: r.task_id });
                    }
                }
                Phase::Idle => {}
            }
            self.keep_unsuccessful(tid, thread);
            if idle {
                continue;
            }
            if let (Some(state), false) = (state, silent) {
                self.emit_with_prev(
                    last_event,
                    format!("{}StateAborted", state.type_name),
                    Value::Null,
                );
            }
        }
    }
}

/// Extra context-object members some evaluations see.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ContextExtra<'v> {
    pub task_token: Option<&'v str>,
    pub map_item: Option<(usize, &'v Value)>,
}

pub(crate) fn entered_type(type_name: &str) -> &'static str {
    match type_name {
        "Task" => "TaskStateEntered",
        "Pass" => "PassStateEntered",
        "Choice" => "ChoiceStateEntered",
        "Wait" => "WaitStateEntered",
        "Succeed" => "SucceedStateEntered",
        "Fail" => "FailStateEntered",
        "Parallel" => "ParallelStateEntered",
        _ => "MapStateEntered",
    }
}

fn exited_type(type_name: &str) -> &'static str {
    match type_name {
        "Task" => "TaskStateExited",
        "Pass" => "PassStateExited",
        "Choice" => "ChoiceStateExited",
        "Wait" => "WaitStateExited",
        "Succeed" => "SucceedStateExited",
        "Parallel" => "ParallelStateExited",
        _ => "MapStateExited",
    }
}

/// Seconds from a definition or an input as milliseconds, saturating instead of overflowing.
pub(crate) fn seconds_to_ms(seconds: u64) -> i64 {
    i64::try_from(seconds)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000)
}

/// The execution's input is stored as the value it shares.
mod shared_input {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::Value;
    use std::sync::Arc;

    pub fn serialize<S: Serializer>(input: &Arc<Value>, s: S) -> Result<S::Ok, S::Error> {
        Value::serialize(input, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<Value>, D::Error> {
        Value::deserialize(d).map(Arc::new)
    }
}

/// The execution's output is stored as the value it shares (serde's `rc` feature would do
/// the same, but is not on for the workspace).
mod shared_output {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::Value;
    use std::sync::Arc;

    pub fn serialize<S: Serializer>(output: &Option<Arc<Value>>, s: S) -> Result<S::Ok, S::Error> {
        output.as_deref().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Arc<Value>>, D::Error> {
        Ok(Option::<Value>::deserialize(d)?.map(Arc::new))
    }
}

#[cfg(test)]
mod size_tests {
    use super::exceeds_size;
    use serde_json::{json, Value};

    fn text_len(v: &Value) -> usize {
        crate::history::json_text(v).len()
    }

    #[test]
    fn measures_payloads_exactly_at_the_limit() {
        let results: Vec<Value> = (0..2000)
            .map(|i| json!({"id": i * 7919 - 5000, "ok": i % 2 == 0, "f": 0.5}))
            .collect();
        let cases = [
            Value::Array(results),
            json!({"q": "say \"hi\"\n\u{1}".repeat(50), "k\"": [1, -2, null]}),
            json!([u64::MAX, i64::MIN, 1.0e300, "\\"]),
        ];
        for value in cases {
            let len = text_len(&value);
            assert!(!exceeds_size(&value, len), "{len}");
            assert!(exceeds_size(&value, len - 1), "{len}");
        }
    }
}

#[cfg(test)]
mod output_tests {
    use crate::{Context, Execution, ExecutionInfo, Machine};
    use serde_json::json;
    use std::sync::Arc;

    /// However an execution succeeds, its state and its history hold one copy of its input
    /// and one of its output, and the stored state reads back with the same ones.
    #[test]
    fn the_output_is_shared_with_the_history_and_stored_whole() {
        let machines = [
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"a.$": "$.n"}, "End": true}}}),
            json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ItemsPath": "$.items",
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}}),
            json!({"StartAt": "S", "States": {"S": {"Type": "Succeed", "OutputPath": "$.items"}}}),
            // An exit that assigns variables ends the thread, then the execution.
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Assign": {"v": 1}, "End": true}}}),
        ];
        let ctx = Context { now_ms: 0, seed: 1 };
        for definition in machines {
            let machine = Machine::from_json(&definition).unwrap();
            let input = json!({"n": 3, "items": [{"x": 1}, {"x": 2}]});
            let (exec, decision) =
                Execution::start(&machine, input, ExecutionInfo::default(), &ctx);
            let last = decision.history.last().unwrap();
            assert_eq!(last.event_type, "ExecutionSucceeded", "{definition}");
            let output = exec.output.as_ref().unwrap();
            assert_eq!(last.details["output"], **output, "{definition}");
            assert!(Arc::strong_count(output) > 1, "copied: {definition}");
            assert_eq!(decision.history[0].details["input"], *exec.input);
            assert!(
                Arc::strong_count(&exec.input) > 1,
                "input copied: {definition}"
            );
            let stored = serde_json::to_string(&exec).unwrap();
            let read: Execution = serde_json::from_str(&stored).unwrap();
            assert_eq!(read, exec);
            assert_eq!(read.into_output().as_ref(), exec.output());
            drop(decision);
            assert_eq!(Arc::strong_count(exec.output.as_ref().unwrap()), 1);
            assert_eq!(exec.clone().into_output().as_ref(), exec.output());
        }
    }
}

#[cfg(test)]
mod threads_tests {
    use super::{Parent, Thread, ThreadId, Threads, ROOT};
    use serde_json::{json, Value};
    use std::collections::BTreeMap;

    fn thread(state: usize) -> Box<Thread> {
        let parent = (state > 0).then_some(Parent {
            thread: ROOT,
            slot: state,
        });
        Box::new(Thread::new(parent, state, json!({"at": state}), 0))
    }

    /// The root kept apart is stored as the map it was, and a map stored before reads back.
    #[test]
    fn threads_store_as_the_map_of_ids_they_were() {
        let mut threads = Threads::default();
        let mut map = BTreeMap::<ThreadId, Box<Thread>>::new();
        for tid in [7, ROOT, 2] {
            threads.insert(tid, thread(tid as usize));
            map.insert(tid, thread(tid as usize));
        }
        let stored = serde_json::to_value(&threads).unwrap();
        assert_eq!(stored, serde_json::to_value(&map).unwrap());
        let keys: Vec<&String> = stored.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["0", "2", "7"]);
        let read: Threads = serde_json::from_value(stored).unwrap();
        assert_eq!(read, threads);
        assert_eq!(read.get(&ROOT).map(|t| t.state), Some(0));
        assert_eq!(read.get(&7).map(|t| &t.input), Some(&json!({"at": 7})));
        let ids: Vec<ThreadId> = read.iter().map(|(tid, _)| *tid).collect();
        assert_eq!(ids, [0, 2, 7]);
        let owned: Vec<ThreadId> = read.into_iter().map(|(tid, _)| tid).collect();
        assert_eq!(owned, [0, 2, 7]);
    }

    #[test]
    fn the_root_is_found_removed_and_kept_like_any_thread() {
        let mut threads = Threads::default();
        assert!(threads.is_empty());
        assert!(threads.insert(ROOT, thread(0)).is_none());
        threads.insert(3, thread(3));
        assert!(threads.insert(ROOT, thread(0)).is_some());
        if let Some(root) = threads.get_mut(&ROOT) {
            root.input = Value::Null;
        }
        assert_eq!(threads.get(&ROOT).map(|t| &t.input), Some(&Value::Null));
        threads.retain(|tid, _| *tid != ROOT);
        assert!(!threads.contains_key(&ROOT));
        assert!(threads.contains_key(&3));
        assert_eq!(threads.values().count(), 1);
        assert!(threads.remove(&3).is_some());
        assert!(threads.is_empty());
        threads.insert(ROOT, thread(0));
        threads.clear();
        assert!(threads.get(&ROOT).is_none());
    }
}

#[cfg(test)]
mod start_into_tests {
    use crate::{Context, Execution, ExecutionInfo, Machine};
    use serde_json::json;

    /// Started into a slot, an execution and its first decision are those `start` returns.
    #[test]
    fn start_into_a_slot_is_start() {
        let machine = Machine::from_json(&json!({"StartAt": "P", "States": {
            "P": {"Type": "Pass", "Parameters": {"n.$": "$.n"}, "Next": "W"},
            "W": {"Type": "Wait", "Seconds": 5, "End": true}}}))
        .unwrap();
        let ctx = Context { now_ms: 7, seed: 3 };
        let input = json!({"n": 1});
        let info = ExecutionInfo {
            name: "e".into(),
            ..ExecutionInfo::default()
        };
        let (started, decision) = Execution::start(&machine, input.clone(), info.clone(), &ctx);
        let mut slot = None;
        let (into, into_decision) = Execution::start_into(&mut slot, &machine, input, info, &ctx);
        assert_eq!(*into, started);
        assert_eq!(into_decision, decision);
        // ExecutionStarted, PassStateEntered, PassStateExited, WaitStateEntered.
        assert_eq!(decision.history.len(), 4, "{:?}", decision.history);
        assert_eq!(slot.as_ref(), Some(&started));
    }
}
