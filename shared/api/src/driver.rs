//! Drives Standard executions: feeds the decider one event at a time, writes the outcome to
//! the store in one conditional write, then carries out the commands (timers, task
//! invocations, activity queues).

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;

use cairn_common::entropy::{decision_seed, finalize};
use cairn_interpreter::{
    Capabilities, Command, Context, Decision, Event, Execution, ExecutionInfo, Machine,
    MachineType, ResourceKind, Status, TaskId, TimerId,
};
use cairn_runtime::{task_event, TaskDone, TaskFailure, TaskOutcome, TaskRequest, TimeMode};
use cairn_store::{Effects, Error as StoreError, ExecutionRecord, Store, Transition};
use serde_json::Value;

use crate::machines::MachineCache;
use crate::names::execution_does_not_exist;
use crate::persisted::{input_text, stored_history, Definition, Persisted, Planned};
use crate::scheduler::{Pool, TimerEntry, TimerWheel};
use crate::tokens::Signer;
use crate::{ApiError, Config};

/// Attempts at a conditional write before giving up (only another process writing the same
/// execution can make them fail: in-process writers are serialised per execution).
const MAX_ATTEMPTS: usize = 32;
/// Attempts at applying a background event (a timer, a task's start or outcome) through
/// store failures: nobody retries it for us, and giving up strands the execution until the
/// next restart.
const BACKGROUND_ATTEMPTS: u32 = 16;
const STRIPES: usize = 256;

/// What applying one event came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Advanced {
    Applied(Status),
    /// The execution had already ended: nothing changed.
    NotRunning,
    /// The activity task to claim is no longer wanted (or another worker took it).
    Stale,
    /// The timer or task the event names is no longer open (or the task already started,
    /// or already submitted): a duplicate or late delivery, which changes nothing.
    Duplicate,
}

/// A finished Express execution kept for [`Config::express_history`].
#[derive(Debug, Clone)]
pub(crate) struct ExpressRun {
    pub info: ExecutionInfo,
    pub input_text: String,
    pub result: cairn_runtime::RunResult,
}

#[derive(Default)]
struct ExpressHistory {
    order: VecDeque<String>,
    runs: HashMap<String, Arc<ExpressRun>>,
}

/// A Lambda or service task a committed decision asks to run, waiting for a harness to run
/// it (see [`Driver::simulated`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PendingTask {
    pub execution_arn: String,
    /// An [`Command::InvokeTask`].
    pub command: Command,
    /// `TaskStarted` was already applied (a task re-dispatched after a restart).
    pub started: bool,
}

/// Where the work a committed decision asks for runs.
enum Runner {
    /// `cairn serve`: a timer thread feeding a worker pool, and a thread per task.
    Threads {
        pool: Pool,
        timer_thread: Mutex<Option<JoinHandle<()>>>,
    },
    /// A deterministic harness: timers stay in the wheel and tasks in this queue until the
    /// harness takes them, on its one thread and at its own (simulated) time.
    Pumped { tasks: Mutex<VecDeque<PendingTask>> },
}

/// Where the decider's entropy comes from.
enum Entropy {
    /// Unpredictable: task tokens derive from it, so they must not be guessable.
    /// `RandomState` is keyed from the OS's random source.
    Os {
        state: RandomState,
        counter: AtomicU64,
    },
    /// Reproducible, for a simulation: a decision's seed depends only on the execution and
    /// how far its history has got, so a replay under other faults decides the same.
    Seeded { seed: u64, counter: AtomicU64 },
}

impl Entropy {
    fn next(&self) -> u64 {
        match self {
            Entropy::Os { state, counter } => {
                let mut hasher = state.build_hasher();
                hasher.write_u64(counter.fetch_add(1, Ordering::Relaxed));
                hasher.finish()
            }
            Entropy::Seeded { seed, counter } => {
                finalize(seed ^ finalize(counter.fetch_add(1, Ordering::Relaxed)))
            }
        }
    }

    fn for_decision(&self, arn: &str, event_count: u64) -> u64 {
        match self {
            Entropy::Os { .. } => self.next(),
            Entropy::Seeded { seed, .. } => decision_seed(*seed, arn, event_count),
        }
    }
}

/// The shell around the decider for Standard executions, shared by the API actions, the
/// timer thread and the task threads.
pub struct Driver {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) config: Config,
    me: Weak<Driver>,
    machines: MachineCache,
    stripes: Vec<Mutex<()>>,
    timers: Arc<TimerWheel>,
    runner: Runner,
    activity_signal: (Mutex<u64>, Condvar),
    entropy: Entropy,
    express: Mutex<ExpressHistory>,
    pub(crate) signer: Signer,
    /// State machines' logging configurations, read again every few seconds.
    pub(crate) logging: crate::observe::LoggingCache,
    /// Map Run children's ends waiting for their parent's next write, by parent ARN; a
    /// parent listed here has a thread writing them.
    pub(crate) inbox: Mutex<HashMap<String, Vec<Event>>>,
    /// Map Run children their parent stopped before their start was written.
    pub(crate) stopping: Mutex<std::collections::HashSet<String>>,
    /// State machines DeleteStateMachine left DELETING: their running executions fail at
    /// their next transition. One process serves every deletion, so this set (filled again
    /// by [`Driver::recover`]) is what the store says, without a read per transition.
    pub(crate) deleting: Mutex<std::collections::HashSet<String>>,
}

pub(crate) fn store_error(error: StoreError) -> ApiError {
    ApiError::internal(format!("store: {error}"))
}

impl Driver {
    fn build(
        store: Arc<dyn Store>,
        config: Config,
        runner: Runner,
        entropy: Entropy,
    ) -> Arc<Driver> {
        let signer = Signer::new(config.token_key.clone());
        let machines = MachineCache::new(config.limits);
        Arc::new_cyclic(|me| Driver {
            store,
            config,
            me: me.clone(),
            machines,
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            timers: TimerWheel::new(),
            runner,
            activity_signal: (Mutex::new(0), Condvar::new()),
            entropy,
            express: Mutex::new(ExpressHistory::default()),
            signer,
            logging: crate::observe::LoggingCache::default(),
            inbox: Mutex::new(HashMap::new()),
            stopping: Mutex::new(std::collections::HashSet::new()),
            deleting: Mutex::new(std::collections::HashSet::new()),
        })
    }

    pub(crate) fn start(store: Arc<dyn Store>, config: Config) -> Arc<Driver> {
        let runner = Runner::Threads {
            pool: Pool::new(config.workers, "cairn-worker"),
            timer_thread: Mutex::new(None),
        };
        let entropy = Entropy::Os {
            state: RandomState::new(),
            counter: AtomicU64::new(0),
        };
        let driver = Driver::build(store, config, runner, entropy);
        let weak = Arc::downgrade(&driver);
        let wheel = Arc::clone(&driver.timers);
        let clock = Arc::clone(&driver.config.clock);
        let thread = std::thread::Builder::new()
            .name("cairn-timers".into())
            .spawn(move || {
                wheel.run(clock.as_ref(), &|(_, arn, timer_id)| {
                    if let Some(driver) = weak.upgrade() {
                        let job_driver = Arc::clone(&driver);
                        if let Runner::Threads { pool, .. } = &driver.runner {
                            pool.submit(Box::new(move || job_driver.fire_timer(&arn, timer_id)));
                        }
                    }
                });
            });
        if let (Ok(thread), Runner::Threads { timer_thread, .. }) = (thread, &driver.runner) {
            if let Ok(mut slot) = timer_thread.lock() {
                *slot = Some(thread);
            }
        }
        driver
    }

    /// A driver without threads, for a deterministic simulation: timers wait in the wheel
    /// until [`Driver::due_timers`] hands them out, tasks in a queue until
    /// [`Driver::take_pending_tasks`] does, and the decider's entropy derives from `seed`
    /// (task tokens are then predictable: never serve clients with it). Everything else
    /// (the actions, what a transition writes, recovery) is the code `cairn serve` runs.
    pub fn simulated(store: Arc<dyn Store>, config: Config, seed: u64) -> Arc<Driver> {
        let runner = Runner::Pumped {
            tasks: Mutex::new(VecDeque::new()),
        };
        let entropy = Entropy::Seeded {
            seed,
            counter: AtomicU64::new(0),
        };
        Driver::build(store, config, runner, entropy)
    }

    pub(crate) fn shutdown(&self) {
        self.timers.stop();
        if let Runner::Threads { pool, timer_thread } = &self.runner {
            if let Ok(mut slot) = timer_thread.lock() {
                if let Some(thread) = slot.take() {
                    let _ = thread.join();
                }
            }
            pool.shutdown();
        }
    }

    /// Runs one API action (what [`crate::Api::handle`] does), for a simulated driver.
    pub fn handle_action(&self, action: &str, request: &Value) -> Result<Value, ApiError> {
        crate::actions::dispatch(self, action, request)
    }

    /// The unqualified state machine ARN whose record StartExecution reads for a state
    /// machine, version or alias ARN ([`Driver::resolve_start`]).
    pub fn start_base(arn: &str) -> Result<String, ApiError> {
        crate::versions::start_base(arn)
    }

    /// StartExecution's resolution of a state machine, version or alias ARN over its state
    /// machine's record (`crate::versions::resolve_loaded`: what runs, the version and alias
    /// ARNs, AWS's errors), for the shells that read records from a store of their own (the
    /// serverless engine's is asynchronous), so that they resolve as cairn serve does. It
    /// lives on the driver only because the `versions` module is private to this crate.
    pub fn resolve_start(
        record: Option<cairn_store::StateMachineRecord>,
        arn: &str,
        draw: impl FnOnce() -> u64,
    ) -> Result<crate::versions::Target, ApiError> {
        crate::versions::resolve_loaded(record, arn, draw)
    }

    /// Names the version and alias an execution was started through in its
    /// ExecutionStarted event, as AWS does (the decider does not know them).
    pub fn name_qualifiers(
        history: &mut [cairn_interpreter::HistoryEvent],
        version_arn: Option<&str>,
        alias_arn: Option<&str>,
    ) {
        crate::versions::name_qualifiers(history, version_arn, alias_arn);
    }

    /// The earliest timer the wheel holds, as `(fire_at_ms, execution ARN, timer id)`.
    pub fn next_timer(&self) -> Option<TimerEntry> {
        self.timers.peek()
    }

    /// Takes the timers due at `now_ms` out of the wheel; [`Driver::fire_timer`] applies one.
    pub fn due_timers(&self, now_ms: i64) -> Vec<TimerEntry> {
        self.timers.take_due(now_ms)
    }

    /// What the timer thread does with a due timer.
    pub fn fire_timer(&self, arn: &str, timer_id: TimerId) {
        self.background(arn, Event::TimerFired { timer_id }, "timer");
    }

    /// The tasks committed decisions asked for since the last call (a simulated driver only).
    pub fn take_pending_tasks(&self) -> Vec<PendingTask> {
        match &self.runner {
            Runner::Pumped { tasks } => tasks
                .lock()
                .map(|mut queue| queue.drain(..).collect())
                .unwrap_or_default(),
            Runner::Threads { .. } => Vec::new(),
        }
    }

    pub(crate) fn handle(&self) -> Option<Arc<Driver>> {
        self.me.upgrade()
    }

    /// What this driver's executions may ask of it beyond the basic commands.
    pub(crate) fn capabilities(&self) -> Capabilities {
        Capabilities {
            map_run_children: self.config.map_run_children
                && matches!(self.runner, Runner::Threads { .. }),
            express_map_run_children: self.config.express_map_run_children
                && matches!(self.runner, Runner::Threads { .. }),
        }
    }

    /// Tells the execution log and the status events of a write, when anything watches.
    pub(crate) fn observe_write(
        &self,
        record: &ExecutionRecord,
        decision: &Decision,
        previous_status: Option<&str>,
        persisted: &Persisted,
    ) {
        if self.observed() {
            let redrives = persisted.execution.redrive_count();
            crate::observe::written(self, record, &decision.history, previous_status, redrives);
        }
    }

    /// The seed of the execution's next decision.
    pub(crate) fn decision_seed(&self, arn: &str, event_count: u64) -> u64 {
        self.entropy.for_decision(arn, event_count)
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.config.clock.now_ms()
    }

    /// Entropy for ids the API mints (names, revision ids).
    pub(crate) fn seed(&self) -> u64 {
        self.entropy.next()
    }

    /// The compiled machine of a definition, compiled once.
    pub(crate) fn machine(&self, definition: &str) -> Result<Arc<Machine>, ApiError> {
        self.machines
            .get(definition)
            .map_err(|e| ApiError::internal(e.to_string()))
    }

    /// The compiled machine of the definition an execution runs, compiled once.
    pub(crate) fn machine_of(&self, definition: &Definition) -> Result<Arc<Machine>, ApiError> {
        self.machines
            .of(definition, self.store.as_ref())
            .map_err(|e| ApiError::internal(e.to_string()))
    }

    pub(crate) fn stripe(&self, arn: &str) -> &Mutex<()> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        hasher.write(arn.as_bytes());
        let index = usize::try_from(hasher.finish() % STRIPES as u64).unwrap_or(0);
        &self.stripes[index.min(STRIPES - 1)]
    }

    /// Starts a Standard execution. `Ok(None)` when the ARN exists: the caller applies AWS's
    /// idempotency rule.
    /// `qualifiers`: the version ARN and the alias ARN StartExecution named, which the
    /// execution's record keeps.
    /// A running execution started on a mock test case answers its tasks from it again
    /// after a restart; one whose test case the configuration no longer has says so and runs
    /// its tasks for real, as a state with no mock does.
    fn reselect_mocks(&self, arn: &str, persisted: &Persisted) {
        let (Some(mocks), Some(case)) = (&self.config.mocks, &persisted.test_case) else {
            return;
        };
        let machine = &persisted.execution.info().state_machine_name;
        if let Err(error) = mocks.select(arn, machine, case) {
            self.log(format_args!(
                "{arn}: its mock test case '{case}' is gone ({error}); its tasks now run for real"
            ));
        }
    }

    /// Starts a Standard execution; `None` when its ARN exists already.
    pub(crate) fn start_standard_of(
        &self,
        definition: &str,
        info: ExecutionInfo,
        input: Value,
        input_text: &str,
        named: StartNamed,
    ) -> Result<Option<i64>, ApiError> {
        let StartNamed {
            qualifiers,
            test_case,
            trace_header,
        } = named;
        let prepared = self
            .machines
            .prepare(&info.state_machine_arn, definition)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let machine = Arc::clone(&prepared.machine);
        // Kept once in the store: the state names it by key (a large definition's text was
        // most of every state written).
        let definition = Definition::keep(self.store.as_ref(), &prepared.key, &prepared.text)?;
        let ctx = Context {
            now_ms: info.start_time_ms,
            seed: self.entropy.for_decision(&info.execution_arn, 0),
        };
        let arn = info.execution_arn.clone();
        let state_machine_arn = crate::versions::without_qualifier(&info.state_machine_arn);
        let name = info.name.clone();
        let start_ms = info.start_time_ms;
        let (mut execution, mut decision) =
            Execution::start_with_capabilities(&machine, input, info, &ctx, self.capabilities());
        self.signer.publish(&mut decision);
        self.store_map_run_children(&mut execution)?;
        crate::versions::name_qualifiers(
            &mut decision.history,
            qualifiers.0.as_deref(),
            qualifiers.1.as_deref(),
        );
        let mut persisted = Persisted::new(execution, definition);
        (persisted.version_arn, persisted.alias_arn) = qualifiers;
        persisted.test_case = test_case;
        persisted.trace_header = trace_header;
        let mut effects = Effects::default();
        let planned = persisted.plan(&decision, ctx.now_ms, &mut effects);
        let children = crate::map_children::ChildWork::of(&mut persisted, &decision);
        let record = ExecutionRecord {
            arn: arn.clone(),
            state_machine_arn,
            name,
            status: String::new(),
            start_ms,
            stop_ms: None,
            summary: Value::Null,
            state: Vec::new(),
        };
        let record = persisted.record(record, input_text, ctx.now_ms)?;
        let history = stored_history(&decision);
        match self.store.create_execution(&record, &history, &effects) {
            Ok(_) => {
                if self.observed() {
                    let redrives = persisted.execution.redrive_count();
                    crate::observe::written(self, &record, &decision.history, None, redrives);
                }
                self.carry_out(&arn, planned);
                self.carry_out_children(&arn, children);
                Ok(Some(start_ms))
            }
            Err(StoreError::AlreadyExists(_)) => {
                // Perhaps a retry of a start whose write applied but failed to answer (so its
                // first decision's work was never carried out): hand it out again; if it was
                // carried out, the duplicates are dropped when they arrive.
                // Failing here makes the client retry, and the retry resume it.
                self.resume(&arn)?;
                Ok(None)
            }
            Err(other) => Err(store_error(other)),
        }
    }

    /// Holds the execution's stripe: one writer per execution in this process, so the
    /// conditional write below conflicts only with another process.
    pub(crate) fn serialise(&self, arn: &str) -> Result<std::sync::MutexGuard<'_, ()>, ApiError> {
        self.stripe(arn)
            .lock()
            .map_err(|_| ApiError::internal("execution lock poisoned"))
    }

    /// A Standard execution's record, the version it was read at and its decoded state.
    pub(crate) fn load_standard(
        &self,
        arn: &str,
    ) -> Result<(ExecutionRecord, cairn_store::Version, Persisted), ApiError> {
        let (record, version) = self
            .store
            .get_execution(arn)
            .map_err(store_error)?
            .ok_or_else(|| execution_does_not_exist(arn))?;
        if record.state.is_empty() && record.summary.get("mapRunArn").is_some() {
            // A stored child of a Map Run is closed and has no state to advance: only its
            // parent's redrive runs it again.
            return Err(crate::redrive::not_redrivable(
                arn,
                crate::map_runs::CHILD_NOT_REDRIVABLE,
            ));
        }
        let persisted = Persisted::decode(&record)?;
        Ok((record, version, persisted))
    }

    /// Applies `event` to a Standard execution. With `claim`, the event is a worker taking
    /// the queued activity task with that token: applied only if the task is still waiting.
    pub(crate) fn advance(
        &self,
        arn: &str,
        event: Event,
        claim: Option<&str>,
    ) -> Result<Advanced, ApiError> {
        let (advanced, report) = {
            let _serialised = self.serialise(arn)?;
            self.advance_serialised(arn, event, claim)?
        };
        // A Map Run child that ended tells its parent, once this execution's lock is free.
        if let Some((parent, event)) = report {
            self.deliver(&parent, event);
        }
        Ok(advanced)
    }

    fn advance_serialised(
        &self,
        arn: &str,
        event: Event,
        claim: Option<&str>,
    ) -> Result<(Advanced, Option<(String, Event)>), ApiError> {
        for _ in 0..MAX_ATTEMPTS {
            let (record, version, mut persisted) = self.load_standard(arn)?;
            let now = persisted.effective_time(&event, self.now_ms(), record.start_ms);
            let mut effects = Effects::default();
            let running = persisted.execution.status() == Status::Running;

            if let Some(token) = claim {
                let task_id = event.task_id();
                let waiting = task_id
                    .and_then(|id| persisted.tasks.get(&id))
                    .is_some_and(|task| !task.started);
                if !running || !waiting {
                    effects.activity_tasks_remove.push(token.to_string());
                    let transition = Transition {
                        expected_version: version,
                        record,
                        history: Vec::new(),
                        effects,
                    };
                    match self.store.commit(&transition) {
                        Ok(_) => return Ok((Advanced::Stale, None)),
                        Err(StoreError::Conflict(_)) => continue,
                        Err(other) => return Err(store_error(other)),
                    }
                }
                effects.activity_tasks_claim.push(token.to_string());
            }

            if running && claim.is_none() && !persisted.still_open(&event) {
                return Ok((Advanced::Duplicate, None));
            }
            // A claim (a worker taking an activity task) is applied as it is.
            let deleted = Event::MachineDeleted;
            let terminated =
                running && event.is_transition() && claim.is_none() && self.is_deleting(&record);
            let event = if terminated { &deleted } else { &event };
            persisted.prepare(event, &mut effects);
            if !running {
                if effects.is_empty() {
                    return Ok((Advanced::NotRunning, None));
                }
                let transition = Transition {
                    expected_version: version,
                    record,
                    history: Vec::new(),
                    effects,
                };
                match self.store.commit(&transition) {
                    Ok(_) => return Ok((Advanced::NotRunning, None)),
                    Err(StoreError::Conflict(_)) => continue,
                    Err(other) => return Err(store_error(other)),
                }
            }

            let machine = self.machine_of(&persisted.definition)?;
            let ctx = Context {
                now_ms: now,
                seed: self.decision_seed(arn, persisted.execution.event_count()),
            };
            let mut decision = persisted.execution.apply(&machine, event.clone(), &ctx);
            self.signer.publish(&mut decision);
            self.store_map_run_children(&mut persisted.execution)?;
            let planned = persisted.plan(&decision, now, &mut effects);
            let children = crate::map_children::ChildWork::of(&mut persisted, &decision);
            let input_text = input_text(&record).to_string();
            let previous_status = self.observed().then(|| record.status.clone());
            let next = persisted.record(record, &input_text, now)?;
            let status = persisted.execution.status();
            let transition = Transition {
                expected_version: version,
                record: next,
                history: stored_history(&decision),
                effects,
            };
            match self.store.commit(&transition) {
                Ok(_) => {
                    if let Some(previous) = &previous_status {
                        let redrives = persisted.execution.redrive_count();
                        crate::observe::written(
                            self,
                            &transition.record,
                            &decision.history,
                            Some(previous),
                            redrives,
                        );
                    }
                    self.carry_out(arn, planned);
                    self.carry_out_children(arn, children);
                    let report = if status != Status::Running {
                        persisted.map_run_end()
                    } else {
                        None
                    };
                    return Ok((Advanced::Applied(status), report));
                }
                Err(StoreError::Conflict(_)) if claim.is_some() => {
                    // Another worker took the task between our read and our write.
                    continue;
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(store_error(other)),
            }
        }
        Err(ApiError::internal(format!(
            "{arn}: too many concurrent writers"
        )))
    }

    /// Whether the state machine an execution runs (a Map Run child's parent machine
    /// included: `…:stateMachine:NAME/LABEL`) is being deleted.
    fn is_deleting(&self, record: &ExecutionRecord) -> bool {
        let Ok(deleting) = self.deleting.lock() else {
            return false;
        };
        if deleting.is_empty() {
            return false;
        }
        deleting.contains(&crate::machines::lifecycle::deleted_with(
            &record.state_machine_arn,
        ))
    }

    /// Reads which state machines are DELETING, after a restart.
    fn recover_deleting(&self) -> Result<(), ApiError> {
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .store
                .list_state_machines(cursor.as_deref(), 1_000)
                .map_err(store_error)?;
            if let Ok(mut deleting) = self.deleting.lock() {
                deleting.extend(
                    page.items
                        .iter()
                        .filter(|r| crate::machines::lifecycle::is_deleting(r))
                        .map(|r| r.arn.clone()),
                );
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Applies an event from a background thread, where nobody waits for the answer.
    fn background(&self, arn: &str, event: Event, what: &str) {
        if let Err(error) = self.advance_retrying(arn, event).0 {
            // Only the next restart's recovery can retry it now; tell the operator.
            self.log(format_args!("{what} event for {arn} failed: {error}"));
        }
    }

    /// [`Driver::advance`] through transient store failures. A failed write may have
    /// applied all the same (a timeout after the commit): the retry then finds the event a
    /// duplicate, and the work the applied decision planned was never carried out, so the
    /// execution's open timers and tasks are handed out again (duplicates are dropped when
    /// they arrive). Returns whether such an uncertain failure happened.
    fn advance_retrying(&self, arn: &str, event: Event) -> (Result<Advanced, ApiError>, bool) {
        let mut uncertain = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.advance(arn, event.clone(), None) {
                Err(error) if error.is_server_fault() && attempt < BACKGROUND_ATTEMPTS => {
                    uncertain = true;
                    if let Runner::Threads { .. } = self.runner {
                        let backoff = 50u64 << attempt.min(7);
                        std::thread::sleep(std::time::Duration::from_millis(backoff));
                    }
                }
                Ok(Advanced::Duplicate) if uncertain => {
                    if let Err(error) = self.resume(arn) {
                        self.log(format_args!("cannot resume {arn}: {error}"));
                    }
                    return (Ok(Advanced::Duplicate), true);
                }
                outcome => return (outcome, uncertain),
            }
        }
    }

    /// Hands an execution's open timers and not yet started tasks out again, after a write
    /// whose planned work may not have been carried out.
    fn resume(&self, arn: &str) -> Result<(), ApiError> {
        let mut attempt = 0;
        let read = loop {
            attempt += 1;
            match self.store.get_execution(arn) {
                Err(_) if attempt < BACKGROUND_ATTEMPTS => continue,
                read => break read.map_err(store_error)?,
            }
        };
        let Some((record, _)) = read else {
            return Ok(());
        };
        let persisted = Persisted::decode(&record)?;
        if persisted.execution.status() != Status::Running {
            return Ok(());
        }
        self.recover_children(arn, &persisted);
        for (timer_id, fire_at_ms) in &persisted.timers {
            self.timers
                .schedule((*fire_at_ms, arn.to_string(), *timer_id));
        }
        let mut activities = false;
        for (task_id, task) in &persisted.tasks {
            if let Command::InvokeTask { kind, .. } = &task.command {
                if *kind == ResourceKind::Activity {
                    activities = true;
                } else if !task.started {
                    if let Some(command) = persisted.command_to_run(*task_id) {
                        self.dispatch(arn.to_string(), command, false);
                    }
                }
            }
        }
        if activities {
            self.notify_activity_workers();
        }
        Ok(())
    }

    pub(crate) fn carry_out(&self, arn: &str, planned: Vec<Planned>) {
        let mut queued = false;
        for work in planned {
            match work {
                Planned::Timer {
                    timer_id,
                    fire_at_ms,
                } => self
                    .timers
                    .schedule((fire_at_ms, arn.to_string(), timer_id)),
                Planned::ActivityQueued => queued = true,
                Planned::Invoke { command, .. } => self.dispatch(arn.to_string(), *command, false),
            }
        }
        if queued {
            self.notify_activity_workers();
        }
    }

    pub(crate) fn notify_activity_workers(&self) {
        let (count, wake) = &self.activity_signal;
        if let Ok(mut count) = count.lock() {
            *count = count.wrapping_add(1);
            wake.notify_all();
        }
    }

    /// Waits until a task may have been queued, or `until` passes. Returns false at `until`.
    pub(crate) fn wait_for_activity(&self, seen: u64, until: std::time::Instant) -> bool {
        let (count, wake) = &self.activity_signal;
        let Ok(mut current) = count.lock() else {
            return false;
        };
        while *current == seen {
            let now = std::time::Instant::now();
            if now >= until {
                return false;
            }
            current = match wake.wait_timeout(current, until - now) {
                Ok((guard, _)) => guard,
                Err(_) => return false,
            };
        }
        true
    }

    pub(crate) fn activity_generation(&self) -> u64 {
        self.activity_signal.0.lock().map(|c| *c).unwrap_or(0)
    }

    /// Runs a Lambda or service task on its own thread (tasks may block for minutes) and
    /// feeds its outcome back; a simulated driver queues it for the harness instead.
    fn dispatch(&self, arn: String, command: Command, started: bool) {
        if let Runner::Pumped { tasks } = &self.runner {
            if let Ok(mut queue) = tasks.lock() {
                queue.push_back(PendingTask {
                    execution_arn: arn,
                    command,
                    started,
                });
            }
            return;
        }
        let Some(driver) = self.me.upgrade() else {
            return;
        };
        let spawned = std::thread::Builder::new()
            .name("cairn-task".into())
            .spawn(move || {
                driver.run_task(&arn, &command, started);
            });
        if let Err(error) = spawned {
            eprintln!("cairn: cannot start a task thread: {error}");
        }
    }

    fn run_task(&self, arn: &str, command: &Command, started: bool) {
        let Some(request) = self.begin_task(arn, command, started) else {
            return;
        };
        let Some(driver) = self.me.upgrade() else {
            return;
        };
        let (task_id, arn, command) = (request.task_id, arn.to_string(), command.clone());
        // An invoker that waits on I/O itself frees this thread for the call's duration; the
        // outcome's write gets a thread of its own (the store may block).
        let done = TaskDone::new(move |outcome: TaskOutcome| {
            let spawned = std::thread::Builder::new()
                .name("cairn-task-end".into())
                .spawn(move || {
                    if outcome.delay_ms > 0 {
                        std::thread::sleep(std::time::Duration::from_millis(outcome.delay_ms));
                    }
                    let command = if outcome.ends_task {
                        cairn_runtime::ports::ended_by_its_call(command)
                    } else {
                        command
                    };
                    driver.end_task(&arn, task_id, &command, outcome.result);
                });
            if let Err(error) = spawned {
                eprintln!("cairn: cannot record a task's outcome: {error}");
            }
        });
        if let Err((request, done)) = self.config.invoker.start(request, done) {
            done.finish(self.config.invoker.invoke(&request));
        }
    }

    /// The first half of running a task: claims it (`TaskStarted`, unless a run before a
    /// restart already did) and returns the call to make, or `None` when the task is no
    /// longer wanted or cannot be claimed now.
    pub fn begin_task(&self, arn: &str, command: &Command, started: bool) -> Option<TaskRequest> {
        let Command::InvokeTask { task_id, .. } = command else {
            return None;
        };
        let task_id = *task_id;
        if !started {
            let claim = Event::TaskStarted {
                task_id,
                worker_name: None,
            };
            match self.advance_retrying(arn, claim) {
                (Ok(Advanced::Applied(Status::Running)), _) => {}
                // The failed write was the claim itself, most likely: run the task (at least
                // once, as after a restart) rather than leave it started by nobody.
                (Ok(Advanced::Duplicate), true) => {}
                (Ok(_), _) => return None,
                (Err(error), _) => {
                    self.log(format_args!(
                        "starting task {task_id} of {arn} failed: {error}"
                    ));
                    return None;
                }
            }
        }
        let mut request = TaskRequest::from_command(command.clone(), self.now_ms())?;
        request.execution_arn = arn.to_owned();
        Some(request)
    }

    /// The second half: feeds the call's outcome back.
    pub fn end_task(
        &self,
        arn: &str,
        task_id: TaskId,
        command: &Command,
        result: Result<Value, TaskFailure>,
    ) {
        let Command::InvokeTask { kind, .. } = command else {
            return;
        };
        let event = task_event(task_id, kind, result);
        self.background(arn, event, "task result");
    }

    /// Whether anything watches executions' writes (execution log, status events).
    fn observed(&self) -> bool {
        self.config.execution_log.is_some() || self.config.status_events.is_some()
    }

    fn log(&self, message: std::fmt::Arguments<'_>) {
        // A simulation injects these failures by the thousand and checks their outcome.
        if matches!(self.runner, Runner::Threads { .. }) {
            eprintln!("cairn: {message}");
        }
    }

    /// After a restart: reload every pending timer and re-dispatch every task invocation
    /// that had not reported back (at least once, as AWS retries a Lambda invoke).
    pub fn recover(&self) -> Result<usize, ApiError> {
        self.recover_deleting()?;
        for timer in self
            .store
            .due_timers(i64::MAX, usize::MAX)
            .map_err(store_error)?
        {
            self.timers
                .schedule((timer.fire_at_ms, timer.execution_arn, timer.timer_id));
        }
        let running = self.store.running_executions().map_err(store_error)?;
        for arn in &running {
            let Some((record, _)) = self.store.get_execution(arn).map_err(store_error)? else {
                continue;
            };
            let Ok(persisted) = Persisted::decode(&record) else {
                self.log(format_args!(
                    "cannot resume {arn}: its stored state is unreadable"
                ));
                continue;
            };
            self.reselect_mocks(arn, &persisted);
            self.recover_children(arn, &persisted);
            for (task_id, task) in &persisted.tasks {
                if let Command::InvokeTask { kind, .. } = &task.command {
                    if *kind != ResourceKind::Activity {
                        if let Some(command) = persisted.command_to_run(*task_id) {
                            self.dispatch(arn.clone(), command, task.started);
                        }
                    }
                }
            }
        }
        self.notify_activity_workers();
        let express = self.resume_journaled_express();
        Ok(running.len() + express)
    }

    /// Starts an asynchronous Express execution on its own thread; with a journal, it is
    /// recorded before this returns and forgotten when it ends.
    pub(crate) fn start_express_async(
        &self,
        job: ExpressJob,
        input: Value,
    ) -> Result<(), ApiError> {
        let journal = match &self.config.express_journal {
            Some(dir) => Some(write_journal(dir, &job).map_err(|e| {
                ApiError::internal(format!("cannot journal the express execution: {e}"))
            })?),
            None => None,
        };
        self.spawn_express(job, input, journal)
    }

    fn spawn_express(
        &self,
        job: ExpressJob,
        input: Value,
        journal: Option<std::path::PathBuf>,
    ) -> Result<(), ApiError> {
        let Some(driver) = self.handle() else {
            return Err(ApiError::internal("the server is shutting down"));
        };
        let spawned = std::thread::Builder::new()
            .name("cairn-express".into())
            .spawn(move || {
                match driver.run_express(&job.definition, job.info, input, &job.input_text) {
                    Ok(_) => {
                        if let Some(path) = journal {
                            let _ = std::fs::remove_file(path);
                        }
                    }
                    // Kept in the journal: the next start tries it again.
                    Err(error) => eprintln!("cairn: express execution failed to run: {error}"),
                }
            });
        spawned
            .map(|_| ())
            .map_err(|e| ApiError::internal(format!("cannot start the express execution: {e}")))
    }

    /// Runs the journaled asynchronous Express executions again from their start.
    fn resume_journaled_express(&self) -> usize {
        let Some(dir) = &self.config.express_journal else {
            return 0;
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        let mut resumed = 0;
        for path in entries.flatten().map(|e| e.path()) {
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            // The journal keeps the input as its text (validated when the execution started).
            let job = std::fs::read(&path).ok().and_then(|bytes| {
                let job = serde_json::from_slice::<ExpressJob>(&bytes).ok()?;
                let input = serde_json::from_str::<Value>(&job.input_text).ok()?;
                Some((job, input))
            });
            match job {
                Some((job, input)) => match self.spawn_express(job, input, Some(path.clone())) {
                    Ok(()) => resumed += 1,
                    Err(error) => eprintln!("cairn: cannot resume {}: {error}", path.display()),
                },
                None => eprintln!(
                    "cairn: {} is not an express journal entry; left as it is",
                    path.display()
                ),
            }
        }
        resumed
    }

    /// Runs an Express execution to its end in memory (StartSyncExecution, or the thread of
    /// an asynchronous Express StartExecution).
    pub(crate) fn run_express(
        &self,
        definition: &str,
        info: ExecutionInfo,
        input: Value,
        input_text: &str,
    ) -> Result<cairn_runtime::RunResult, ApiError> {
        let machine = self.machine(definition)?;
        let info = ExecutionInfo {
            machine_type: MachineType::Express,
            ..info
        };
        let options = cairn_runtime::RunOptions {
            info: info.clone(),
            time: TimeMode::Real,
            seed: self.seed(),
            // AWS's 5-minute limit for Express executions.
            stop_after_ms: Some(5 * 60 * 1000),
            clock: Arc::clone(&self.config.clock),
            ..cairn_runtime::RunOptions::default()
        };
        let result = cairn_runtime::run_to_completion(
            &machine,
            input,
            Arc::clone(&self.config.invoker),
            &options,
        )
        .map_err(|e| ApiError::internal(format!("the express execution could not run: {e}")))?;
        if let Some(sink) = &self.config.execution_log {
            // Express executions have no history but this log, as in AWS.
            crate::observe::log_events(
                self,
                sink.as_ref(),
                &crate::versions::without_qualifier(&info.state_machine_arn),
                &info.execution_arn,
                &result.history,
                0,
            );
        }
        if self.config.express_history > 0 {
            let arn = info.execution_arn.clone();
            let run = Arc::new(ExpressRun {
                info,
                input_text: input_text.to_string(),
                result: result.clone(),
            });
            if let Ok(mut kept) = self.express.lock() {
                kept.order.push_back(arn.clone());
                kept.runs.insert(arn, run);
                while kept.order.len() > self.config.express_history {
                    if let Some(oldest) = kept.order.pop_front() {
                        kept.runs.remove(&oldest);
                    }
                }
            }
        }
        Ok(result)
    }

    /// A finished Express execution, when [`Config::express_history`] keeps them.
    pub(crate) fn express_run(&self, arn: &str) -> Option<Arc<ExpressRun>> {
        self.express
            .lock()
            .ok()
            .and_then(|kept| kept.runs.get(arn).cloned())
    }
}

/// An asynchronous Express execution as its journal keeps it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct ExpressJob {
    pub definition: String,
    pub info: ExecutionInfo,
    pub input_text: String,
}

/// What StartExecution said of a Standard execution beyond its machine and input, kept with
/// it: the version and alias it was started through, the mock test case it selected and its
/// X-Ray trace header.
#[derive(Debug, Default)]
pub(crate) struct StartNamed {
    pub qualifiers: (Option<String>, Option<String>),
    pub test_case: Option<String>,
    pub trace_header: Option<String>,
}

/// Writes the job durably (a temporary file, synced, then renamed) and returns its path.
fn write_journal(dir: &std::path::Path, job: &ExpressJob) -> std::io::Result<std::path::PathBuf> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    hasher.write(job.info.execution_arn.as_bytes());
    let path = dir.join(format!("{:016x}.json", hasher.finish()));
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(&serde_json::to_vec(job).map_err(std::io::Error::other)?)?;
    file.sync_all()?;
    std::fs::rename(&temporary, &path)?;
    Ok(path)
}
