//! Drives Standard executions one message at a time: read the execution, drop the message if
//! it no longer applies, feed it to the decider, write the new state, history and effects in
//! one version-conditional transaction, then send what the decision asks for.
//!
//! Exactly-once: a message applies only while the timer or task it names is still open in
//! the state read, and the write is conditional on that state's version. A duplicate or
//! stale delivery finds the timer or task closed and writes nothing; of two racing
//! deliveries one write wins and the other re-reads and finds it closed.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cairn_api::machines::MachineCache;
use cairn_api::names::check_name;
use cairn_api::persisted::{
    input_text, stored_history, Definition, ParentTask, Persisted, Planned,
};
use cairn_api::ApiError;
use cairn_common::entropy::{finalize, uuid_from_bits, GOLDEN_GAMMA};
use cairn_interpreter::{
    Command, Context, Event, Execution, ExecutionInfo, Limits, Machine, MachineType, ResourceKind,
    Status, TaskId,
};
use cairn_runtime::{task_event, Clock, TaskInvoker, TaskRequest};
use cairn_store::asynchronous::{Blocking, Store};
use cairn_store::{Effects, Error as StoreError, ExecutionRecord, Transition};
use cairn_store_dynamodb::OnRuntime;
use serde_json::{json, Value};

use crate::long_task::{lookup_token, EventInvoker, InvocationRecord, SUCCESS_DETAIL_TYPE};
use crate::message::{Message, SweepPhase, SweepStep};
use crate::outbox::{Outbox, Outgoing};

/// Conditional-write attempts before giving up on a hot execution (the message is then
/// redelivered by its queue or bus).
const MAX_ATTEMPTS: usize = 16;
/// Tries at a write whose loss cannot be recovered by a redelivery (a task's claim and its
/// outcome); the SDK's own retries with backoff come first.
const STORE_ATTEMPTS: usize = 8;
/// Overdue timers or running executions one sweep invocation reads before it hands the rest
/// to a continuation message: each execution is one read, so a page of 500 takes a few
/// seconds, well inside the function's timeout.
pub const DEFAULT_SWEEP_PAGE: usize = 500;
/// STANDARD Distributed Map children run as executions of their own, spread over
/// invocations ([`crate::map_children`]); EXPRESS ones run inside their parent, whose one
/// write then covers many short children (AWS keeps no history of them either).
pub(crate) const CAPABILITIES: cairn_interpreter::Capabilities = cairn_interpreter::Capabilities {
    map_run_children: true,
    express_map_run_children: false,
};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A request the API rejects, with AWS's error code.
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("sending: {0}")]
    Send(String),
    #[error("the state machine definition cannot be loaded: {0}")]
    Definition(String),
    #[error("{0}: too many concurrent writers")]
    Contention(String),
}

/// The outcome of [`Engine::start`].
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    pub execution_arn: String,
    pub start_ms: i64,
    /// False when an execution of that name already existed (AWS's idempotent start).
    pub created: bool,
    pub status: Status,
}

/// The outcome of [`Engine::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Written; the execution's status after the event.
    Applied(Status),
    /// The timer or task the event names is no longer open: nothing changed.
    Duplicate,
    /// The execution had already ended: nothing changed.
    NotRunning,
    /// No such execution.
    Missing,
    /// A sweep page was handled ([`Message::Sweep`]).
    Swept,
}

/// What one sweep invocation did ([`Engine::sweep`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Timer messages re-sent.
    pub resent_timers: usize,
    /// Task runs re-sent for tasks never started.
    pub resent_tasks: usize,
    /// Task runs re-sent for lost claims.
    pub rerun_tasks: usize,
    /// Executions whose status events were re-sent (their send was not confirmed).
    pub resent_statuses: usize,
    /// The continuation sent for the rest, if this page was not the last.
    pub next: Option<SweepStep>,
}

/// The first half of running a task (see [`Engine::claim_task`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Claimed {
    /// `TaskStarted` is written: make this call, then apply its outcome as `kind` says.
    Run {
        request: Box<TaskRequest>,
        kind: ResourceKind,
        /// The state's TimeoutSeconds: a long Lambda task is invoked asynchronously.
        timeout_seconds: Option<u64>,
    },
    /// Nothing to run: why.
    Skip(Applied),
}

/// Sweeps that may re-send one overdue timer before it counts as poison ([`Engine::sweep`]).
/// Each re-sent message is received up to five times (the timer queue's `maxReceiveCount`),
/// so a timer is given up after 20 failed deliveries over three sweeps (15 minutes).
pub const MAX_TIMER_RESENDS: u64 = 3;

/// Where an execution's record counts the sweep's re-sends of each timer (by timer id).
const TIMER_RESENDS: &str = "timerResends";

/// What the sweep does with one overdue timer.
enum Resend {
    Send,
    GiveUp,
    Skip,
}

/// Lambda's 15-minute ceiling plus a minute: no invocation holds a claim longer.
pub const DEFAULT_CLAIM_TIMEOUT_MS: i64 = 16 * 60_000;

pub struct Engine {
    pub store: Arc<dyn Store>,
    pub outbox: Outbox,
    /// Carries out Task states: the same invoker serves Standard tasks (through `runTask`
    /// events) and what the shared API runs in place (Express, StartSyncExecution, TestState).
    pub invoker: Arc<dyn TaskInvoker>,
    clock: Arc<dyn Clock>,
    seeds: AtomicU64,
    /// Set by [`Engine::seeded`]: decisions take their entropy from it, reproducibly.
    fixed_seed: Option<u64>,
    /// The quotas executions run under (AWS's unless the template raises them).
    pub limits: Limits,
    /// A warm Lambda container compiles each state machine version once, not per message.
    machines: MachineCache,
    /// Conditional writes that lost a race and were retried (for tests and the bench).
    pub conflicts: AtomicU64,
    /// Committed execution writes.
    pub writes: AtomicU64,
    /// Timers the sweep stopped re-sending ([`MAX_TIMER_RESENDS`]).
    pub abandoned_timers: AtomicU64,
    /// Signs the task tokens decisions mint (HMAC, as `cairn serve` does); `None` leaves
    /// them as the decider minted them (tests and local runs without a key).
    signer: Option<cairn_api::TokenSigner>,
    /// The longest a task run's invocation can live: a claim older than this was lost.
    claim_timeout_ms: i64,
    /// Invokes long Lambda tasks asynchronously ([`crate::long_task`]); `None`: every task
    /// runs inside its advance invocation.
    event_invoker: Option<Arc<dyn EventInvoker>>,
    /// The longest a Lambda task's TimeoutSeconds may be for it to run inside its advance
    /// invocation; a longer one is invoked asynchronously.
    sync_task_limit_ms: i64,
    /// Items one sweep invocation reads ([`DEFAULT_SWEEP_PAGE`]).
    sweep_page: usize,
    /// Writes the execution logs `loggingConfiguration` asks for; `None`: none are written.
    execution_log: Option<Arc<crate::execution_log::ExecutionLog>>,
    /// Whether a state machine is DELETING, by ARN, with when it was read: the api function
    /// marks it, so an advance container reads it again after [`DELETING_TTL_MS`].
    deleting: std::sync::Mutex<std::collections::HashMap<String, (bool, i64)>>,
}

/// How long a container trusts what it read of a state machine's DELETING status: its
/// executions are terminated at their first transition after that (AWS: "on the next state
/// transition"), for one read per state machine and container at most this often.
const DELETING_TTL_MS: i64 = 5_000;

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        outbox: Outbox,
        invoker: Arc<dyn TaskInvoker>,
        clock: Arc<dyn Clock>,
    ) -> Engine {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_i64(clock.now_ms());
        Engine {
            store,
            outbox,
            invoker,
            clock,
            seeds: AtomicU64::new(hasher.finish()),
            fixed_seed: None,
            limits: Limits::default(),
            machines: MachineCache::new(Limits::default()),
            conflicts: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            abandoned_timers: AtomicU64::new(0),
            signer: None,
            claim_timeout_ms: DEFAULT_CLAIM_TIMEOUT_MS,
            sweep_page: DEFAULT_SWEEP_PAGE,
            event_invoker: None,
            sync_task_limit_ms: i64::MAX,
            execution_log: None,
            deleting: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The engine's store through the synchronous port, for the shared API's actions (run on
    /// blocking threads): each request waits on the runtime this is called on, the
    /// function's one runtime. Must be called inside it.
    pub fn sync_store(&self) -> Arc<dyn cairn_store::Store> {
        Arc::new(Blocking::new(
            Arc::clone(&self.store),
            Arc::new(OnRuntime::current()),
        ))
    }

    /// Writes each write's history events to the CloudWatch Logs group of the state machine's
    /// `loggingConfiguration`, as its level asks ([`crate::execution_log`]).
    pub fn with_execution_log(mut self, log: Arc<crate::execution_log::ExecutionLog>) -> Engine {
        self.execution_log = Some(log);
        self
    }

    /// Sends a write's history events to the execution log, if the machine asks for one. A
    /// failure is logged: the write stands, and AWS's log delivery is best effort too.
    pub(crate) async fn write_log(
        &self,
        machine_arn: &str,
        arn: &str,
        history: &[cairn_interpreter::HistoryEvent],
        redrive_count: u32,
    ) {
        let Some(log) = &self.execution_log else {
            return;
        };
        if history.is_empty() {
            return;
        }
        let config = log.config(self.store.as_ref(), machine_arn).await;
        let Some(batch) = crate::execution_log::batch(&config, arn, history, redrive_count) else {
            return;
        };
        if let Err(error) = log.put(batch).await {
            self.log_with(
                "ERROR",
                Some(arn),
                format_args!("the execution log could not be written: {error}"),
            );
        }
    }

    /// Lambda tasks whose TimeoutSeconds passes `sync_limit_ms` are invoked asynchronously
    /// through `invoker`, their result coming back as the function's destination event
    /// ([`Engine::lambda_result`]). Others, and those without TimeoutSeconds, still run inside
    /// their advance invocation.
    pub fn with_long_lambda_tasks(
        mut self,
        invoker: Arc<dyn EventInvoker>,
        sync_limit_ms: i64,
    ) -> Engine {
        self.event_invoker = Some(invoker);
        self.sync_task_limit_ms = sync_limit_ms;
        self
    }

    /// Each sweep invocation reads at most `items` overdue timers or running executions and
    /// sends itself a continuation for the rest.
    pub fn with_sweep_page(mut self, items: usize) -> Engine {
        self.sweep_page = items.max(1);
        self
    }

    /// Claims of task runs older than `ms` are taken for lost (their invocation has hit its
    /// timeout) and the task runs again. Default: Lambda's 15-minute ceiling plus a minute.
    pub fn with_claim_timeout(mut self, ms: i64) -> Engine {
        self.claim_timeout_ms = ms;
        self
    }

    /// Signs task tokens with `key` (the deployment's secret): a worker's token is checked
    /// before any lookup, and a forged or altered one is `InvalidToken`.
    pub fn with_token_key(mut self, key: Vec<u8>) -> Engine {
        self.signer = Some(cairn_api::TokenSigner::new(key));
        self
    }

    /// Whether `token` has the form this engine's tokens have: signed with its key when it
    /// has one, else the decider's 64 hex digits.
    pub fn token_is_genuine(&self, token: &str) -> bool {
        match &self.signer {
            Some(signer) => signer.verify(token),
            None => token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        }
    }

    fn publish(&self, decision: &mut cairn_interpreter::Decision) {
        if let Some(signer) = &self.signer {
            signer.publish(decision);
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub(crate) fn machine(&self, definition: &str) -> Result<Arc<Machine>, EngineError> {
        self.machines
            .get(definition)
            .map_err(|e| EngineError::Definition(e.to_string()))
    }

    /// The compiled machine of the definition an execution runs: by its key (read from the
    /// store the first time this container meets it) or by its text.
    pub(crate) async fn machine_of(
        &self,
        definition: &Definition,
    ) -> Result<Arc<Machine>, EngineError> {
        let (key, text) = match definition {
            Definition::Text(text) => return self.machine(text),
            Definition::Stored { key, text } => (key, text),
        };
        if let Some(machine) = self.machines.cached(key) {
            return Ok(machine);
        }
        let text = match text {
            Some(text) => Arc::clone(text),
            None => Arc::from(
                self.store
                    .get_definition(key)
                    .await?
                    .ok_or_else(|| cairn_api::persisted::missing_definition(key))?,
            ),
        };
        self.machines
            .compile_keyed(key, &text)
            .map_err(|e| EngineError::Definition(e.to_string()))
    }

    /// Whether the state machine an execution runs (a Map Run child's parent machine
    /// included: `…:stateMachine:NAME/LABEL`) is DELETING. A failed read or a state machine
    /// gone answers no: only a DELETING record terminates executions.
    async fn machine_deleting(&self, state_machine_arn: &str) -> bool {
        let base = cairn_api::machines::lifecycle::deleted_with(state_machine_arn);
        let now = self.now_ms();
        if let Ok(cache) = self.deleting.lock() {
            if let Some((deleting, read_ms)) = cache.get(&base) {
                if now - read_ms < DELETING_TTL_MS {
                    return *deleting;
                }
            }
        }
        let deleting = match self.store.get_state_machine(&base).await {
            Ok(Some((record, _))) => cairn_api::machines::lifecycle::is_deleting(&record),
            Ok(None) => false,
            Err(_) => return false,
        };
        if let Ok(mut cache) = self.deleting.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(base, (deleting, now));
        }
        deleting
    }

    /// Runs executions under these quotas instead of AWS's.
    pub fn with_limits(mut self, limits: Limits) -> Engine {
        self.limits = limits;
        self.machines = MachineCache::new(limits);
        self
    }

    /// For a deterministic simulation: every decision's entropy (UUIDs, jitter, task tokens)
    /// derives from `seed`, the execution and how far its history has got, so a replay
    /// under other faults decides the same. Tokens become predictable: never in production.
    pub fn seeded(mut self, seed: u64) -> Engine {
        self.fixed_seed = Some(seed);
        self.seeds = AtomicU64::new(seed);
        self
    }

    fn seed(&self) -> u64 {
        // Entropy for UUIDs and task tokens: distinct per event, not reproducible across
        // containers (tokens must not be guessable from an execution's history).
        let n = self.seeds.fetch_add(GOLDEN_GAMMA, Ordering::Relaxed);
        if self.fixed_seed.is_some() {
            return finalize(n);
        }
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(n);
        hasher.finish()
    }

    pub(crate) fn decision_seed(&self, arn: &str, event_count: u64) -> u64 {
        let Some(seed) = self.fixed_seed else {
            return self.seed();
        };
        cairn_common::entropy::decision_seed(seed, arn, event_count)
    }

    fn log(&self, message: std::fmt::Arguments<'_>) {
        self.log_with("WARN", None, message);
    }

    /// One structured log line ([`crate::logging`]).
    pub(crate) fn log_with(
        &self,
        level: &str,
        execution_arn: Option<&str>,
        message: std::fmt::Arguments<'_>,
    ) {
        // A simulation injects these failures by the thousand and checks their outcome.
        if self.fixed_seed.is_none() {
            crate::logging::log(level, execution_arn, message);
        }
    }

    pub(crate) fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }

    fn region_account(&self) -> (&str, &str) {
        (&self.outbox.settings.region, &self.outbox.settings.account)
    }

    /// StartExecution of a Standard state machine: validates like AWS, records the execution
    /// with its first decision, then sends the timers and task runs that decision asks for.
    pub async fn start(
        &self,
        state_machine_arn: &str,
        name: Option<&str>,
        input_text: Option<&str>,
    ) -> Result<Started, EngineError> {
        self.start_child(state_machine_arn, name, input_text, None)
            .await
    }

    /// [`Engine::start`] of a child a `.sync` task waits for: its end is sent to `parent`.
    pub async fn start_child(
        &self,
        state_machine_arn: &str,
        name: Option<&str>,
        input_text: Option<&str>,
        parent: Option<ParentTask>,
    ) -> Result<Started, EngineError> {
        // The same checks as cairn serve's StartExecution, in AWS's order: the ARN's form
        // (InvalidArn, another resource's type) before its existence; a version or alias ARN
        // resolves to what it runs by the shared rule (an alias draws from this engine's
        // entropy), DELETING refused as StateMachineDeleting.
        cairn_api::names::expect_resource_type(state_machine_arn, &["stateMachine"])?;
        let base = cairn_api::Driver::start_base(state_machine_arn)?;
        let stored = self.store.get_state_machine(&base).await?;
        let target = cairn_api::Driver::resolve_start(
            stored.map(|(record, _)| record),
            state_machine_arn,
            || self.seed(),
        )?;
        let context_arn = target.context_arn().to_string();
        let machine_record = &target.machine;
        let name = match name {
            Some(name) => {
                check_name(name)?;
                name.to_string()
            }
            None => uuid(self.seed()),
        };
        let (input_text, input) =
            cairn_api::names::execution_input(input_text, self.limits.max_payload_bytes)?;
        let doc = |field: &str| {
            machine_record
                .document
                .get(field)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        if doc("type") == "EXPRESS" {
            return Err(ApiError::new(
                "StateMachineTypeNotSupported",
                "Express executions are run by the api function (StartExecution or StartSyncExecution), not by the engine",
            )
            .into());
        }
        // Keyed by what runs, so that starts alternating between versions stay compiled.
        let prepared = self
            .machines
            .prepare(&context_arn, &doc("definition"))
            .map_err(|e| EngineError::Definition(e.to_string()))?;
        let machine = Arc::clone(&prepared.machine);
        // Named by its key where the store keeps definitions (the state then carries no text).
        let kept = self
            .store
            .put_definition(&prepared.key, &prepared.text)
            .await?;
        let definition = Definition::kept(kept, &prepared.key, &prepared.text);
        let (region, account) = self.region_account();
        let arn = format!(
            "arn:aws:states:{region}:{account}:execution:{}:{name}",
            machine_record.name
        );
        let now = self.now_ms();
        let info = ExecutionInfo {
            execution_arn: arn.clone(),
            name: name.clone(),
            // `$$.StateMachine.Id`: the version that runs, as AWS gives it; the record keeps
            // the unqualified ARN.
            state_machine_arn: context_arn,
            state_machine_name: machine_record.name.clone(),
            role_arn: doc("roleArn"),
            start_time_ms: now,
            machine_type: MachineType::Standard,
            redrive_count: Some(0),
        };
        let ctx = Context {
            now_ms: now,
            seed: self.decision_seed(&arn, 0),
        };
        let (execution, mut decision) =
            Execution::start_with_capabilities(&machine, input, info, &ctx, CAPABILITIES);
        cairn_api::Driver::name_qualifiers(
            &mut decision.history,
            target.version_arn.as_deref(),
            target.alias_arn.as_deref(),
        );
        let mut persisted = Persisted::new(execution, definition);
        persisted.parent = parent;
        persisted.version_arn = target.version_arn.clone();
        persisted.alias_arn = target.alias_arn.clone();
        let record = ExecutionRecord {
            arn: arn.clone(),
            state_machine_arn: machine_record.arn.clone(),
            name: name.clone(),
            status: String::new(),
            start_ms: now,
            stop_ms: None,
            summary: Value::Null,
            state: Vec::new(),
        };
        match self
            .create(persisted, decision, record, &input_text, now, true)
            .await
        {
            Ok(status) => Ok(Started {
                execution_arn: arn,
                start_ms: now,
                created: true,
                status,
            }),
            Err(EngineError::Store(StoreError::AlreadyExists(_))) => {
                let Some((existing, _)) = self.store.get_execution(&arn).await? else {
                    return Err(StoreError::NotFound(arn).into());
                };
                let same_input = existing.summary.get("input").and_then(Value::as_str)
                    == Some(input_text.as_str());
                if existing.status == "RUNNING" && same_input {
                    return Ok(Started {
                        execution_arn: arn,
                        start_ms: existing.start_ms,
                        created: false,
                        status: Status::Running,
                    });
                }
                Err(ApiError::new(
                    "ExecutionAlreadyExists",
                    format!("Execution Already Exists: '{arn}'"),
                )
                .into())
            }
            Err(other) => Err(other),
        }
    }

    /// Writes a new execution with its first decision (`StoreError::AlreadyExists` when one
    /// of its ARN exists), then sends what the decision asks for and its status events:
    /// RUNNING, and its end too when it ended at once (then also told to a parent).
    pub(crate) async fn create(
        &self,
        mut persisted: Persisted,
        mut decision: cairn_interpreter::Decision,
        record: ExecutionRecord,
        input_text: &str,
        now: i64,
        tell_parent: bool,
    ) -> Result<Status, EngineError> {
        self.publish(&mut decision);
        self.store_map_run_children(&mut persisted.execution)
            .await?;
        let arn = record.arn.clone();
        let mut effects = Effects::default();
        let planned = persisted.plan_by_task(&decision, now, &mut effects);
        let mut outgoing = outgoing(&arn, planned);
        outgoing.extend(crate::map_children::child_messages(
            &arn,
            &mut persisted,
            &decision,
            now,
        ));
        let mut record = persisted.record(record, input_text, now)?;
        let status = persisted.execution.status();
        let mut marks = vec!["RUNNING"];
        if status != Status::Running {
            marks.push(status.as_aws_str());
        }
        marks.retain(|status| self.outbox.sends_status(status));
        mark_unsent(&mut record, &marks);
        let history = stored_history(&decision);
        let version = self
            .store
            .create_execution(&record, &history, &effects)
            .await?;
        self.writes.fetch_add(1, Ordering::Relaxed);
        let mut running = record.clone();
        running.status = "RUNNING".into();
        running.stop_ms = None;
        outgoing.insert(
            0,
            Outgoing::StatusChange {
                detail: status_detail(&running),
                alert: false,
            },
        );
        if status != Status::Running {
            outgoing.push(status_change(&record, status));
            if tell_parent {
                outgoing.extend(self.report_to_parent(&persisted, &record).await);
            }
        }
        if self.after_commit(outgoing, now).await {
            self.confirm_sent(&record, version).await;
        }
        self.write_log(&record.state_machine_arn, &arn, &decision.history, 0)
            .await;
        Ok(status)
    }

    /// Handles one message from the bus or the timer queue.
    pub async fn handle(&self, message: Message) -> Result<Applied, EngineError> {
        match message {
            Message::Apply {
                execution_arn,
                event,
            } => self.apply(&execution_arn, event).await,
            Message::RunTask {
                execution_arn,
                task_id,
            } => self.run_task(&execution_arn, task_id).await,
            Message::Sweep(step) => {
                self.sweep(step).await?;
                Ok(Applied::Swept)
            }
            Message::RunExpress(job) => self.run_express(*job).await,
            Message::StartMapRunChildren {
                execution_arn,
                task_ids,
            } => self.start_map_run_children(&execution_arn, &task_ids).await,
            Message::MapRunChildEnded {
                execution_arn,
                child_arn,
            } => {
                self.map_run_children_ended(&execution_arn, &[child_arn])
                    .await
            }
        }
    }

    /// Feeds one event to an execution (see the module's exactly-once argument).
    pub async fn apply(&self, arn: &str, event: Event) -> Result<Applied, EngineError> {
        self.apply_events(arn, std::slice::from_ref(&event)).await
    }

    /// Feeds several events to one execution in one write (the ends of a Distributed Map's
    /// children arriving together): each event still open when its turn comes is applied in
    /// order, as if one message had come after the other, and the decisions are written
    /// together. Duplicate when none applied.
    pub async fn apply_events(&self, arn: &str, events: &[Event]) -> Result<Applied, EngineError> {
        for attempt in 0..MAX_ATTEMPTS {
            let Some((record, version)) = self.store.get_execution(arn).await? else {
                return Ok(Applied::Missing);
            };
            let mut persisted = Persisted::decode(&record)?;
            // RedriveExecution is the one event for an execution that has ended.
            let redrive = events.contains(&Event::Redrive);
            let was_running = persisted.execution.status() == Status::Running;
            if !was_running && !redrive {
                return Ok(Applied::NotRunning);
            }
            let machine = self.machine_of(&persisted.definition).await?;
            let mut effects = Effects::default();
            let mut decision = cairn_interpreter::Decision::default();
            let mut now = i64::MIN;
            let mut applied = false;
            let deleted = Event::MachineDeleted;
            for event in events {
                let running = persisted.execution.status() == Status::Running;
                if (!running && *event != Event::Redrive) || !persisted.still_open(event) {
                    continue;
                }
                // AWS terminates a DELETING state machine's execution at its next transition.
                let event = if running
                    && event.is_transition()
                    && self.machine_deleting(&record.state_machine_arn).await
                {
                    &deleted
                } else {
                    event
                };
                now = now.max(persisted.effective_time(event, self.now_ms(), record.start_ms));
                persisted.prepare(event, &mut effects);
                if let Event::TaskStarted { task_id, .. } = event {
                    if let Some(task) = persisted.tasks.get_mut(task_id) {
                        task.started_ms = self.now_ms();
                    }
                }
                let ctx = Context {
                    now_ms: now,
                    seed: self.decision_seed(arn, persisted.execution.event_count()),
                };
                let mut one = persisted.execution.apply(&machine, event.clone(), &ctx);
                self.publish(&mut one);
                decision.history.append(&mut one.history);
                decision.commands.append(&mut one.commands);
                if decision.nondeterminism.is_none() {
                    decision.nondeterminism = one.nondeterminism;
                }
                applied = true;
            }
            if !applied {
                return Ok(if was_running {
                    Applied::Duplicate
                } else {
                    Applied::NotRunning
                });
            }
            self.store_map_run_children(&mut persisted.execution)
                .await?;
            let planned = persisted.plan_by_task(&decision, now, &mut effects);
            let mut outgoing = outgoing(arn, planned);
            outgoing.extend(crate::map_children::child_messages(
                arn,
                &mut persisted,
                &decision,
                now,
            ));
            let status = persisted.execution.status();
            if redrive && decision.history.is_empty() {
                return Ok(Applied::NotRunning);
            }
            let input_text = input_text(&record).to_string();
            // Status changes of earlier writes not confirmed sent (a failed or partly failed
            // send, a lost confirmation) stay marked in this write: only a confirmation
            // removes a mark, so the sweep still sends a start's RUNNING after the execution
            // moved on or closed. A closing write sends them, first, with its own.
            let mut marks = cairn_store::unsent_marks(&record);
            let carried = if status != Status::Running {
                unsent_status_changes(&record)
            } else {
                Vec::new()
            };
            let mut record = record;
            if redrive {
                // Running again: it stops anew when it ends.
                record.stop_ms = None;
            }
            let mut next = persisted.record(record, &input_text, now)?;
            if status != Status::Running && self.outbox.sends_status(status.as_aws_str()) {
                marks.push(status.as_aws_str().to_string());
            }
            cairn_store::set_unsent_marks(&mut next, &marks);
            let transition = Transition {
                expected_version: version,
                record: next.clone(),
                history: stored_history(&decision),
                effects,
            };
            match self.store.commit(&transition).await {
                Ok(written) => {
                    self.writes.fetch_add(1, Ordering::Relaxed);
                    if status != Status::Running {
                        // RUNNING before the end, as AWS's events come.
                        outgoing.extend(carried);
                        outgoing.push(status_change(&next, status));
                        outgoing.extend(self.report_to_parent(&persisted, &next).await);
                    }
                    if self.after_commit(outgoing, now).await && status != Status::Running {
                        self.confirm_sent(&next, written).await;
                    }
                    self.write_log(
                        &next.state_machine_arn,
                        arn,
                        &decision.history,
                        persisted.execution.redrive_count(),
                    )
                    .await;
                    return Ok(Applied::Applied(status));
                }
                Err(StoreError::Conflict(_)) => {
                    self.conflicts.fetch_add(1, Ordering::Relaxed);
                    self.back_off(attempt).await;
                    continue;
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(EngineError::Contention(arn.to_string()))
    }

    /// Waits a random while, longer after each lost race, before writing again: many
    /// invocations writing one execution at once (the ends of a Distributed Map's children)
    /// would otherwise retry in step and lose again until they give up. Only on a Tokio
    /// runtime (the functions'); the simulation's own executor retries at once.
    async fn back_off(&self, attempt: usize) {
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let ceiling_ms = 2u64 << attempt.min(6);
        let ms = 1 + self.seed() % ceiling_ms;
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }

    /// The message that ends a `.sync` parent's task when its child has ended: the child's
    /// outcome as the parent's task result, applied to the parent by the advance function
    /// like any other event (a parent that stopped meanwhile ignores it).
    async fn report_to_parent(
        &self,
        persisted: &Persisted,
        child: &ExecutionRecord,
    ) -> Option<Outgoing> {
        if let Some(link) = &persisted.map_run_parent {
            return Some(crate::map_children::end_message(
                link,
                &child.arn,
                self.now_ms(),
            ));
        }
        let parent = persisted.parent.as_ref()?;
        let token = match self.store.get_task_token(&parent.task_token).await {
            Ok(Some(token)) => token,
            Ok(None) => return None,
            Err(error) => {
                self.log_with(
                    "ERROR",
                    Some(&child.arn),
                    format_args!("the parent cannot be told of its end: {error}"),
                );
                return None;
            }
        };
        let mut described = status_detail(child);
        for date in ["startDate", "stopDate"] {
            if let Some(ms) = described[date].as_i64() {
                described[date] = Value::from(ms as f64 / 1000.0);
            }
        }
        let nesting = if parent.json_output {
            cairn_integrations::states::Nesting::Sync2
        } else {
            cairn_integrations::states::Nesting::Sync
        };
        let task_id = token.task_id;
        let event = match cairn_integrations::states::sync_outcome(&described, nesting) {
            Ok(output) => Event::TaskSucceeded { task_id, output },
            Err(failure) => Event::TaskFailed {
                task_id,
                error: Some(failure.error),
                cause: failure.cause,
            },
        };
        Some(Outgoing::Advance(Message::Apply {
            execution_arn: token.execution_arn,
            event,
        }))
    }

    /// Sends what a committed write asks for. A failure is logged, not returned: the write
    /// stands, and a redelivery of the message that caused it would only find its work done
    /// and send nothing; lost timers come back through [`Engine::sweep_overdue_timers`].
    pub(crate) async fn after_commit(&self, outgoing: Vec<Outgoing>, now: i64) -> bool {
        match self.outbox.send(outgoing, now).await {
            Ok(()) => true,
            Err(error) => {
                self.log(format_args!("a committed step's messages were not all sent ({error}); the sweep re-sends overdue timers, task runs and status events"));
                false
            }
        }
    }

    /// Clears the unsent-status mark of `record` (as written or read at `version`) once every
    /// status change it marks went out. When the execution has moved on meanwhile, the write
    /// that moved it carried the marks forward: if what it carries is still only what was
    /// just sent, the confirmation follows it to its version (else the later write, which
    /// sends what it carries, confirms). A failure only costs a duplicate event from the sweep.
    async fn confirm_sent(&self, record: &ExecutionRecord, version: cairn_store::Version) {
        let sent = cairn_store::unsent_marks(record);
        if sent.is_empty() {
            return;
        }
        let mut target = (record.clone(), version);
        for _ in 0..MAX_ATTEMPTS {
            let error = match self.store.confirm_status_sent(&target.0, target.1).await {
                Ok(true) => return,
                Ok(false) => match self.store.get_execution(&record.arn).await {
                    Ok(Some((current, at))) => {
                        let marks = cairn_store::unsent_marks(&current);
                        if marks.is_empty() || !within(&marks, &sent) {
                            return;
                        }
                        target = (current, at);
                        continue;
                    }
                    Ok(None) => return,
                    Err(error) => error,
                },
                Err(error) => error,
            };
            self.log_with(
                "WARN",
                Some(&record.arn),
                format_args!("its status events went out but stay marked unsent ({error}): the sweep sends them again"),
            );
            return;
        }
    }

    /// Re-sends the status events (and alerts) of executions whose write marked them and
    /// whose mark is older than the grace, then confirms each. Returns how many executions'
    /// events went out. A failed send is logged, not returned: it must not stop the sweep's
    /// other work, and the marks stay for the next sweep.
    async fn resend_statuses(
        &self,
        marked: Vec<(ExecutionRecord, cairn_store::Version)>,
        now: i64,
    ) -> usize {
        if marked.is_empty() {
            return 0;
        }
        let outgoing = marked
            .iter()
            .flat_map(|(record, _)| unsent_status_changes(record))
            .collect();
        if let Err(error) = self.outbox.send(outgoing, now).await {
            self.log(format_args!(
                "status events were not all re-sent ({error}); the next sweep tries again"
            ));
            return 0;
        }
        for (record, version) in &marked {
            self.confirm_sent(record, *version).await;
        }
        marked.len()
    }

    /// The sweep's last phase: closed executions whose status events were not confirmed sent.
    async fn resend_closed_statuses(
        &self,
        now: i64,
        grace_ms: i64,
        cursor: Option<&str>,
    ) -> Result<(usize, Option<String>), EngineError> {
        let page = self
            .store
            .unsent_status_page(cursor, self.sweep_page)
            .await?;
        let mut marked = Vec::new();
        for arn in &page.items {
            if let Some((record, version)) = self.store.get_execution(arn).await? {
                if unsent_overdue(&record, now, grace_ms) {
                    marked.push((record, version));
                }
            }
        }
        Ok((self.resend_statuses(marked, now).await, page.next))
    }

    /// One page of the sweep: re-sends the messages of timers overdue by more than the
    /// grace (their message was lost: a crash between the write and the send), then the run
    /// messages of tasks never started or whose claim was lost, reading at most one page of
    /// timers and one of running executions. When more remain it sends the next step as an
    /// advance message, so the sweep goes on in another invocation however many executions
    /// are running. A timer or run whose message was only late does no harm: the second
    /// delivery finds it closed or claimed.
    pub async fn sweep(&self, step: SweepStep) -> Result<SweepReport, EngineError> {
        let now = self.now_ms();
        let grace_ms = i64::from(step.grace_seconds) * 1000;
        let mut report = SweepReport::default();
        let mut cursor = step.cursor.clone();
        let mut phase = step.phase;
        if phase == SweepPhase::Timers {
            let (count, next) = self
                .resend_timer_page(now, grace_ms, cursor.as_deref())
                .await?;
            report.resent_timers = count;
            match next {
                Some(next) => {
                    report.next = Some(SweepStep {
                        cursor: Some(next),
                        ..step.clone()
                    })
                }
                None => {
                    phase = SweepPhase::Tasks;
                    cursor = None;
                }
            }
        }
        if phase == SweepPhase::Tasks {
            let page = self
                .store
                .running_executions_page(cursor.as_deref(), self.sweep_page)
                .await?;
            let (unstarted, lost, statuses) = self
                .resend_task_runs(&page.items, Some(grace_ms), true, Some(grace_ms))
                .await?;
            report.resent_tasks = unstarted;
            report.rerun_tasks = lost;
            report.resent_statuses = statuses;
            match page.next {
                Some(next) => {
                    report.next = Some(SweepStep {
                        grace_seconds: step.grace_seconds,
                        phase: SweepPhase::Tasks,
                        cursor: Some(next),
                    })
                }
                None => {
                    phase = SweepPhase::Statuses;
                    cursor = None;
                }
            }
        }
        if phase == SweepPhase::Statuses {
            let (count, next) = self
                .resend_closed_statuses(now, grace_ms, cursor.as_deref())
                .await?;
            report.resent_statuses += count;
            report.next = next.map(|next| SweepStep {
                grace_seconds: step.grace_seconds,
                phase: SweepPhase::Statuses,
                cursor: Some(next),
            });
        }
        if let Some(next) = &report.next {
            self.outbox
                .send(vec![Outgoing::Advance(Message::Sweep(next.clone()))], now)
                .await?;
        }
        Ok(report)
    }

    async fn resend_timer_page(
        &self,
        now: i64,
        grace_ms: i64,
        cursor: Option<&str>,
    ) -> Result<(usize, Option<String>), EngineError> {
        let page = self
            .store
            .due_timers_page(now.saturating_sub(grace_ms), cursor, self.sweep_page)
            .await?;
        let mut outgoing = Vec::new();
        let mut sent = Vec::new();
        let mut abandoned = 0;
        for timer in page.items {
            match self.timer_resend(&timer).await? {
                Resend::Send => {
                    outgoing.push(Outgoing::Timer {
                        message: Message::Apply {
                            execution_arn: timer.execution_arn.clone(),
                            event: Event::TimerFired {
                                timer_id: timer.timer_id,
                            },
                        },
                        fire_at_ms: timer.fire_at_ms,
                    });
                    sent.push(timer);
                }
                // Counted past the limit first, so one sweep alone says so.
                Resend::GiveUp => {
                    if self.count_timer_resend(&timer).await? {
                        abandoned += 1;
                        self.give_up_timer(&timer).await;
                    }
                }
                Resend::Skip => {}
            }
        }
        let count = outgoing.len();
        // Counted only once sent (found by the simulation, seeds 188 and 558): a count
        // written before a send that failed, or by a write reported failed that applied,
        // gave timers up as poison after fewer than three real re-sends, and their
        // executions stayed RUNNING for good.
        self.outbox.send(outgoing, now).await?;
        for timer in &sent {
            // A lost count only costs one more re-send than the limit says.
            if let Err(error) = self.count_timer_resend(timer).await {
                self.log_with(
                    "WARN",
                    Some(&timer.execution_arn),
                    format_args!(
                        "timer {} was re-sent but its re-send is not counted ({error})",
                        timer.timer_id
                    ),
                );
            }
        }
        self.abandoned_timers
            .fetch_add(abandoned as u64, Ordering::Relaxed);
        Ok((count, page.next))
    }

    /// Whether the sweep re-sends an overdue timer, by the re-sends counted in its
    /// execution's record (the count lives until the execution's next transition rebuilds the
    /// summary, so it counts the re-sends since the execution last moved). Past
    /// [`MAX_TIMER_RESENDS`] the timer's message is poison: it failed every delivery (five
    /// each) and sits in the timer dead-letter queue, so re-sending it again would only fill
    /// that queue every sweep.
    async fn timer_resend(&self, timer: &cairn_store::TimerRecord) -> Result<Resend, EngineError> {
        let Some((record, _)) = self.store.get_execution(&timer.execution_arn).await? else {
            return Ok(Resend::Send);
        };
        let count = record.summary[TIMER_RESENDS][timer.timer_id.to_string()]
            .as_u64()
            .unwrap_or(0);
        Ok(match count {
            n if n > MAX_TIMER_RESENDS => Resend::Skip,
            MAX_TIMER_RESENDS => Resend::GiveUp,
            _ => Resend::Send,
        })
    }

    /// Counts one more re-send of an overdue timer in its execution's record (a conditional
    /// write). False when the execution moved meanwhile: the next sweep sees whether the timer
    /// still waits.
    async fn count_timer_resend(
        &self,
        timer: &cairn_store::TimerRecord,
    ) -> Result<bool, EngineError> {
        let Some((mut record, version)) = self.store.get_execution(&timer.execution_arn).await?
        else {
            return Ok(false);
        };
        let key = timer.timer_id.to_string();
        let count = record.summary[TIMER_RESENDS][&key].as_u64().unwrap_or(0);
        if !record.summary[TIMER_RESENDS].is_object() {
            record.summary[TIMER_RESENDS] = json!({});
        }
        record.summary[TIMER_RESENDS][&key] = Value::from(count + 1);
        let transition = Transition {
            expected_version: version,
            record,
            history: Vec::new(),
            effects: Effects::default(),
        };
        match self.store.commit(&transition).await {
            Ok(_) => {
                self.writes.fetch_add(1, Ordering::Relaxed);
                Ok(true)
            }
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }

    /// Tells the operator, once, that a timer is no longer re-sent: the execution stays
    /// RUNNING (nothing about the workflow failed), and the message in the timer dead-letter
    /// queue is the way on once its cause is fixed (SQS's redrive to the timer queue), or
    /// StopExecution ends it.
    async fn give_up_timer(&self, timer: &cairn_store::TimerRecord) {
        let message = format!(
            "The timer {} of {} failed every delivery after {MAX_TIMER_RESENDS} re-sends by the sweep and is no longer re-sent. Its message is in the timer dead-letter queue: once the cause in the advance function's log is fixed, redrive that queue to the timer queue (the execution goes on), or call StopExecution.",
            timer.timer_id, timer.execution_arn
        );
        self.log_with(
            "ERROR",
            Some(&timer.execution_arn),
            format_args!("{message}"),
        );
        if let Err(error) = self
            .outbox
            .alert_text("Cairn timer abandoned after repeated failures", &message)
            .await
        {
            self.log_with(
                "ERROR",
                Some(&timer.execution_arn),
                format_args!("the alert could not be sent: {error}"),
            );
        }
    }

    /// Every page of the timer half of [`Engine::sweep`] in this call (tests and the
    /// simulation; the advance function pages through continuations). Returns how many.
    pub async fn sweep_overdue_timers(&self, grace_ms: i64) -> Result<usize, EngineError> {
        let now = self.now_ms();
        let (mut total, mut cursor) = (0, None);
        loop {
            let (count, next) = self
                .resend_timer_page(now, grace_ms, cursor.as_deref())
                .await?;
            total += count;
            match next {
                Some(next) => cursor = Some(next),
                None => return Ok(total),
            }
        }
    }

    /// Re-sends the run message of every Lambda or service task scheduled more than
    /// `grace_ms` ago and still not started: its message was lost (a crash between the
    /// write and the send). A message that was only late does no harm: `TaskStarted` is the
    /// claim, so the task runs once. Returns how many.
    pub async fn sweep_unstarted_tasks(&self, grace_ms: i64) -> Result<usize, EngineError> {
        Ok(self.sweep_all_task_runs(Some(grace_ms), false).await?.0)
    }

    /// Re-sends the run message of every task whose claim was lost (its invocation died
    /// between the claim and the answer): the run takes the claim over and calls again.
    /// Returns how many.
    pub async fn sweep_lost_claims(&self) -> Result<usize, EngineError> {
        Ok(self.sweep_all_task_runs(None, true).await?.1)
    }

    /// Both task sweeps in one read of the running executions, every page in this call: the
    /// runs re-sent for tasks never started (scheduled more than `grace_ms` ago) and for lost
    /// claims.
    pub async fn sweep_tasks(&self, grace_ms: i64) -> Result<(usize, usize), EngineError> {
        self.sweep_all_task_runs(Some(grace_ms), true).await
    }

    async fn sweep_all_task_runs(
        &self,
        unstarted_grace_ms: Option<i64>,
        lost_claims: bool,
    ) -> Result<(usize, usize), EngineError> {
        let (mut totals, mut cursor) = ((0, 0), None);
        loop {
            let page = self
                .store
                .running_executions_page(cursor.as_deref(), self.sweep_page)
                .await?;
            let (unstarted, lost, _) = self
                .resend_task_runs(&page.items, unstarted_grace_ms, lost_claims, None)
                .await?;
            totals = (totals.0 + unstarted, totals.1 + lost);
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(totals),
            }
        }
    }

    async fn resend_task_runs(
        &self,
        running: &[String],
        unstarted_grace_ms: Option<i64>,
        lost_claims: bool,
        status_grace_ms: Option<i64>,
    ) -> Result<(usize, usize, usize), EngineError> {
        let now = self.now_ms();
        let (mut unstarted, mut lost, mut marked) = (Vec::new(), Vec::new(), Vec::new());
        let mut orphans = crate::map_children::Orphans::default();
        for arn in running {
            let Some((record, version)) = self.store.get_execution(arn).await? else {
                continue;
            };
            if status_grace_ms.is_some_and(|grace| unsent_overdue(&record, now, grace)) {
                marked.push((record.clone(), version));
            }
            // One unreadable execution must not stop the sweep for every other one.
            let persisted = match Persisted::decode(&record) {
                Ok(persisted) => persisted,
                Err(error) => {
                    self.log_with(
                        "ERROR",
                        Some(arn),
                        format_args!("the sweep skips it: {error}"),
                    );
                    continue;
                }
            };
            if let (Some(link), Some(grace)) = (&persisted.map_run_parent, unstarted_grace_ms) {
                if now - record.start_ms > grace {
                    orphans.check(arn, link);
                }
            }
            let mut children = Vec::new();
            for (task_id, task) in &persisted.tasks {
                if let Command::StartMapRunChild(_) = &task.command {
                    // Lost start or lost end alike: the start message creates the child if
                    // it is missing and reports its end if it ended.
                    if unstarted_grace_ms.is_some_and(|grace| now - task.scheduled_ms > grace) {
                        children.push(*task_id);
                    }
                    continue;
                }
                let run = || {
                    Outgoing::Advance(Message::RunTask {
                        execution_arn: arn.clone(),
                        task_id: *task_id,
                    })
                };
                let overdue = |grace_ms| now - task.scheduled_ms > grace_ms;
                if !task.started && !task.is_activity() && unstarted_grace_ms.is_some_and(overdue) {
                    unstarted.push(run());
                } else if lost_claims && task.claim_lost(now, self.claim_timeout_ms) {
                    lost.push(run());
                }
            }
            unstarted.extend(crate::map_children::start_messages(arn, &children, now));
        }
        unstarted.extend(self.stop_orphans(orphans).await?);
        let counts = (unstarted.len(), lost.len());
        unstarted.append(&mut lost);
        self.outbox.send(unstarted, now).await?;
        let statuses = self.resend_statuses(marked, now).await;
        Ok((counts.0, counts.1, statuses))
    }

    /// Takes over a task whose claim was lost: a conditional write of a fresh claim time, so
    /// of two runs that find it lost at once only one runs it. No history: `TaskStarted` is
    /// recorded once, and the first answer applied wins.
    async fn reclaim(&self, arn: &str, task_id: TaskId) -> Result<bool, EngineError> {
        let Some((record, version)) = self.store.get_execution(arn).await? else {
            return Ok(false);
        };
        let mut persisted = Persisted::decode(&record)?;
        let now = self.now_ms();
        if persisted.execution.status() != Status::Running {
            return Ok(false);
        }
        match persisted.tasks.get_mut(&task_id) {
            Some(task) if task.claim_lost(now, self.claim_timeout_ms) => task.started_ms = now,
            _ => return Ok(false),
        }
        let input_text = input_text(&record).to_string();
        let marks = cairn_store::unsent_marks(&record);
        let mut next = persisted.record(record, &input_text, now)?;
        cairn_store::set_unsent_marks(&mut next, &marks);
        let transition = Transition {
            expected_version: version,
            record: next,
            history: Vec::new(),
            effects: Effects::default(),
        };
        match self.store.commit(&transition).await {
            Ok(_) => {
                self.writes.fetch_add(1, Ordering::Relaxed);
                Ok(true)
            }
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }

    /// Starts an open task (once: `TaskStarted` is the claim), invokes it and applies its
    /// outcome in the same invocation, which saves an event and an invocation per task.
    pub async fn run_task(&self, arn: &str, task_id: TaskId) -> Result<Applied, EngineError> {
        let (request, kind, timeout_seconds) = match self.claim_task(arn, task_id).await? {
            Claimed::Run {
                request,
                kind,
                timeout_seconds,
            } => (request, kind, timeout_seconds),
            Claimed::Skip(applied) => return Ok(applied),
        };
        if let Some(applied) = self
            .run_claimed_long_lambda(arn, task_id, &request, &kind, timeout_seconds)
            .await
        {
            return applied;
        }
        let (sender, answer) = tokio::sync::oneshot::channel();
        let done = cairn_runtime::TaskDone::new(move |outcome| {
            let _ = sender.send(outcome);
        });
        // A service call waits on the integrations' runtime; only a blocking invoker (the
        // test stand-ins) takes a blocking thread.
        if let Err((request, done)) = self.invoker.start(*request, done) {
            let invoker = Arc::clone(&self.invoker);
            tokio::task::spawn_blocking(move || done.finish(invoker.invoke(&request)));
        }
        let outcome = answer
            .await
            .map_err(|e| EngineError::Send(format!("the task invocation was lost: {e}")))?;
        if outcome.delay_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(outcome.delay_ms)).await;
        }
        self.finish_task(arn, task_id, &kind, outcome.result).await
    }

    /// The asynchronous call a long Lambda task makes: the function, its qualifier and the
    /// payload; None for a task that runs inside the invocation.
    fn long_lambda_call(
        &self,
        request: &TaskRequest,
        kind: &ResourceKind,
        timeout_seconds: Option<u64>,
    ) -> Option<(Arc<dyn EventInvoker>, LongCall)> {
        let events = self.event_invoker.clone()?;
        let timeout_ms = i64::try_from(timeout_seconds?).ok()?.saturating_mul(1000);
        if timeout_ms <= self.sync_task_limit_ms {
            return None;
        }
        // The state's own kind, not the request's: a `.waitForTaskToken` call is made as the
        // plain action (found by the simulation: callbacks went asynchronous).
        let call = match kind {
            ResourceKind::LambdaFunction => LongCall {
                function: request.resource.clone(),
                qualifier: None,
                payload: serde_json::to_vec(&request.input).unwrap_or_default(),
            },
            ResourceKind::Service {
                service,
                action,
                pattern: cairn_interpreter::IntegrationPattern::RequestResponse,
            } if service == "lambda" && action == "invoke" => {
                let input = &request.input;
                let text = |key: &str| input.get(key).and_then(Value::as_str);
                // An explicit InvocationType is the workflow's own choice: call as it says.
                if text("InvocationType").is_some() || text("ClientContext").is_some() {
                    return None;
                }
                let payload = match input.get("Payload") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::String(text)) => text.clone().into_bytes(),
                    Some(payload) => serde_json::to_vec(payload).unwrap_or_default(),
                };
                LongCall {
                    function: text("FunctionName")?.to_string(),
                    qualifier: text("Qualifier").map(str::to_owned),
                    payload,
                }
            }
            _ => return None,
        };
        Some((events, call))
    }

    /// Invokes a long Lambda task asynchronously and records which task its request id
    /// belongs to; the claim is held until the task's own timeout (the destination event, or
    /// the timeout, ends the task). A refused call fails the task as the synchronous one would.
    async fn start_long_lambda(
        &self,
        arn: &str,
        task_id: TaskId,
        kind: &ResourceKind,
        events: Arc<dyn EventInvoker>,
        call: LongCall,
        timeout_seconds: Option<u64>,
    ) -> Result<Applied, EngineError> {
        let request_id = match events
            .invoke_event(&call.function, call.qualifier.as_deref(), call.payload)
            .await
        {
            Ok(id) => id,
            Err(failure) => return self.finish_task(arn, task_id, kind, Err(failure)).await,
        };
        let hold_ms = i64::try_from(timeout_seconds.unwrap_or(0))
            .unwrap_or(i64::MAX / 2_000)
            .saturating_mul(1000);
        // The invocation runs: its lookup must be written, so a store error is retried here.
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self
                .record_long_lambda(arn, task_id, &request_id, hold_ms)
                .await
            {
                Err(EngineError::Store(_)) if attempts < STORE_ATTEMPTS => continue,
                outcome => return outcome,
            }
        }
    }

    async fn record_long_lambda(
        &self,
        arn: &str,
        task_id: TaskId,
        request_id: &str,
        hold_ms: i64,
    ) -> Result<Applied, EngineError> {
        for _ in 0..MAX_ATTEMPTS {
            let Some((record, version)) = self.store.get_execution(arn).await? else {
                return Ok(Applied::Missing);
            };
            let mut persisted = Persisted::decode(&record)?;
            if persisted.execution.status() != Status::Running {
                return Ok(Applied::NotRunning);
            }
            let now = self.now_ms();
            let lookup = lookup_token(request_id);
            // The lookup rides on the task as its token, so whatever closes the task (its
            // result, its timeout, a stop) removes it with the task; a re-run's replaces the
            // first's, which goes.
            let mut replaced = None;
            match persisted.tasks.get_mut(&task_id) {
                Some(task) if task.started => {
                    task.started_ms = now.saturating_add(hold_ms);
                    if let Command::InvokeTask { task_token, .. } = &mut task.command {
                        replaced = task_token.replace(lookup.clone());
                    }
                }
                _ => return Ok(Applied::Duplicate),
            }
            let input_text = input_text(&record).to_string();
            let marks = cairn_store::unsent_marks(&record);
            let mut next = persisted.record(record, &input_text, now)?;
            cairn_store::set_unsent_marks(&mut next, &marks);
            let transition = Transition {
                expected_version: version,
                record: next,
                history: Vec::new(),
                effects: Effects {
                    tokens_add: vec![cairn_store::TaskTokenRecord {
                        token: lookup,
                        execution_arn: arn.to_string(),
                        task_id,
                    }],
                    tokens_remove: replaced.into_iter().collect(),
                    ..Effects::default()
                },
            };
            match self.store.commit(&transition).await {
                Ok(_) => {
                    self.writes.fetch_add(1, Ordering::Relaxed);
                    return Ok(Applied::Applied(Status::Running));
                }
                Err(StoreError::Conflict(_)) => {
                    self.conflicts.fetch_add(1, Ordering::Relaxed);
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(EngineError::Contention(arn.to_string()))
    }

    /// Applies a long Lambda task's result: the function's destination event
    /// (`detail_type` says success or failure). An invocation whose lookup is not written yet
    /// is an error, so EventBridge delivers the event again; one whose task has ended
    /// changes nothing.
    pub async fn lambda_result(
        &self,
        detail_type: &str,
        invocation: InvocationRecord,
    ) -> Result<Applied, EngineError> {
        let request_id = &invocation.request_context.request_id;
        let Some(lookup) = self.store.get_task_token(&lookup_token(request_id)).await? else {
            return Err(EngineError::Send(format!(
                "no task is recorded for the Lambda invocation {request_id} (yet)"
            )));
        };
        let Some((record, _)) = self.store.get_execution(&lookup.execution_arn).await? else {
            return Ok(Applied::Missing);
        };
        let persisted = Persisted::decode(&record)?;
        let Some(Command::InvokeTask { kind, .. }) = persisted
            .tasks
            .get(&lookup.task_id)
            .map(|task| task.command.clone())
        else {
            return Ok(Applied::Duplicate);
        };
        let succeeded = detail_type == SUCCESS_DETAIL_TYPE;
        let result = match &self.event_invoker {
            Some(events) => events.outcome(&invocation, succeeded, &kind, self.now_ms()),
            None => crate::long_task::aws_outcome(&invocation, succeeded, &kind, self.now_ms()),
        };
        self.finish_task(&lookup.execution_arn, lookup.task_id, &kind, result)
            .await
    }

    /// For a shell that claims tasks itself ([`Engine::claim_task`], as the simulation does):
    /// carries a claimed long Lambda task out asynchronously as [`Engine::run_task`] would;
    /// `None` for a task that runs inside its invocation.
    pub async fn run_claimed_long_lambda(
        &self,
        arn: &str,
        task_id: TaskId,
        request: &TaskRequest,
        kind: &ResourceKind,
        timeout_seconds: Option<u64>,
    ) -> Option<Result<Applied, EngineError>> {
        let (events, call) = self.long_lambda_call(request, kind, timeout_seconds)?;
        Some(
            self.start_long_lambda(arn, task_id, kind, events, call, timeout_seconds)
                .await,
        )
    }

    /// The first half of [`Engine::run_task`]: applies `TaskStarted` and returns the call to
    /// make. Its outcome goes back through [`Engine::finish_task`].
    pub async fn claim_task(&self, arn: &str, task_id: TaskId) -> Result<Claimed, EngineError> {
        let started = Event::TaskStarted {
            task_id,
            worker_name: None,
        };
        // A store error may hide a claim that was written (a timeout after the commit): the
        // retry then finds the task started, and stopping there would leave it started by
        // nobody until its timeout. After such an error a started task is run (at least
        // once, as a restarted cairn serve does).
        let mut uncertain = false;
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.apply(arn, started.clone()).await {
                Ok(Applied::Applied(Status::Running)) => break,
                Ok(Applied::Duplicate) if uncertain => break,
                // Started before: by a run that is still going (skip), or by one that died
                // holding the claim (take it over and run the task again).
                Ok(Applied::Duplicate) if self.reclaim(arn, task_id).await? => break,
                Ok(other) => return Ok(Claimed::Skip(other)),
                Err(EngineError::Store(_)) if attempts < STORE_ATTEMPTS => uncertain = true,
                Err(error) => return Err(error),
            }
        }
        // The claim is written: from here a failure would leave the task started by nobody
        // (a redelivery finds it started), so the read is retried too.
        let mut attempts = 0;
        let read = loop {
            attempts += 1;
            match self.store.get_execution(arn).await {
                Err(_) if attempts < STORE_ATTEMPTS => continue,
                read => break read,
            }
        };
        let Some((record, _)) = read? else {
            return Ok(Claimed::Skip(Applied::Missing));
        };
        let persisted = Persisted::decode(&record)?;
        // A ResultWriter's files are rendered from the execution here: its open task keeps none.
        let Some(command) = persisted.command_to_run(task_id) else {
            return Ok(Claimed::Skip(Applied::Duplicate));
        };
        let Command::InvokeTask { kind, .. } = &command else {
            return Ok(Claimed::Skip(Applied::Duplicate));
        };
        let kind = kind.clone();
        let timeout_seconds = match &command {
            Command::InvokeTask {
                timeout_seconds, ..
            } => *timeout_seconds,
            _ => None,
        };
        match TaskRequest::from_command(command, self.now_ms()) {
            Some(mut request) => {
                // A long Lambda task's lookup is no task token the call should carry.
                if request
                    .task_token
                    .as_deref()
                    .is_some_and(crate::long_task::is_lookup_token)
                {
                    request.task_token = None;
                }
                Ok(Claimed::Run {
                    request: Box::new(request),
                    kind,
                    timeout_seconds,
                })
            }
            None => Ok(Claimed::Skip(Applied::Duplicate)),
        }
    }

    /// The second half of [`Engine::run_task`]: applies the call's outcome. The outcome
    /// exists only in this invocation (a redelivered run message finds the task started and
    /// does not call again), so a store error is retried here rather than handed to the bus.
    pub async fn finish_task(
        &self,
        arn: &str,
        task_id: TaskId,
        kind: &ResourceKind,
        result: Result<Value, cairn_runtime::TaskFailure>,
    ) -> Result<Applied, EngineError> {
        let event = task_event(task_id, kind, result);
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.apply(arn, event.clone()).await {
                Err(EngineError::Store(_)) if attempts < STORE_ATTEMPTS => continue,
                outcome => return outcome,
            }
        }
    }
}

/// The asynchronous invocation a long Lambda task makes.
struct LongCall {
    function: String,
    qualifier: Option<String>,
    payload: Vec<u8>,
}

/// A version-4-shaped UUID from 64 bits of entropy (expanded by a second mix).
/// Map Run children stored per store call (a store may write one call in one transaction),
/// and store calls under way at once: the DynamoDB store writes records one by one.
const CHILD_BATCH: usize = 256;
const CHILD_WRITERS: usize = 16;

impl Engine {
    /// Stores the children of the Map Runs that ended in the decision just made as closed
    /// executions of their own, leaving only their counts in `execution`, as `cairn serve`
    /// does: a parent item stays small (DynamoDB's 400 KB), and DescribeExecution,
    /// GetExecutionHistory and ListExecutions by `mapRunArn` read the children from the
    /// store. Called before the parent's write that drops them: a lost race or a crash
    /// between the two redoes the decision, which writes the same children again.
    async fn store_map_run_children(&self, execution: &mut Execution) -> Result<(), EngineError> {
        let runs = execution.detach_map_run_children();
        if runs.is_empty() {
            return Ok(());
        }
        let role_arn = execution.info().role_arn.clone();
        let mut batches = Vec::new();
        for run in &runs {
            let records: Vec<ExecutionRecord> = run
                .children
                .iter()
                .map(|child| cairn_api::map_run_child_record(run, child, &role_arn))
                .collect();
            batches.extend(records.chunks(CHILD_BATCH).map(<[_]>::to_vec));
        }
        let mut writers = tokio::task::JoinSet::new();
        let mut first_error = None;
        for batch in batches {
            if writers.len() >= CHILD_WRITERS {
                if let Some(done) = writers.join_next().await {
                    first_error = first_error.or(joined(done).err());
                }
            }
            let store = self.store.clone();
            writers.spawn(async move { store.put_closed_executions(&batch).await });
        }
        while let Some(done) = writers.join_next().await {
            first_error = first_error.or(joined(done).err());
        }
        first_error.map_or(Ok(()), Err)
    }
}

fn joined(done: Result<Result<(), StoreError>, tokio::task::JoinError>) -> Result<(), EngineError> {
    match done {
        Ok(written) => Ok(written?),
        Err(e) => Err(EngineError::Store(StoreError::Backend(format!(
            "a Map Run child writer ended: {e}"
        )))),
    }
}

/// A child of an ended Map Run as a closed execution record, shaped as `cairn serve` stores
/// it (the shared API makes its history and describes it from this shape: no state, the
/// Map Run's ARN, input/output as JSON text, error and cause).
pub(crate) fn uuid(seed: u64) -> String {
    let low = seed.wrapping_mul(GOLDEN_GAMMA).rotate_left(29) ^ 0xd6e8_feb8_6659_fd93;
    uuid_from_bits(seed, low)
}

/// The messages that carry out a committed decision's work: task runs go back through the
/// bus to an `advance` invocation of their own; activity tasks wait in the table.
fn outgoing(arn: &str, planned: Vec<Planned>) -> Vec<Outgoing> {
    planned
        .into_iter()
        .filter_map(|work| match work {
            Planned::Invoke { task_id, .. } => Some(Outgoing::Advance(Message::RunTask {
                execution_arn: arn.to_string(),
                task_id,
            })),
            Planned::Timer {
                timer_id,
                fire_at_ms,
            } => Some(Outgoing::Timer {
                message: Message::Apply {
                    execution_arn: arn.to_string(),
                    event: Event::TimerFired { timer_id },
                },
                fire_at_ms,
            }),
            Planned::ActivityQueued => None,
        })
        .collect()
}

/// Marks the status changes a write makes as unsent ([`cairn_store::UNSENT_STATUS`]).
fn mark_unsent(record: &mut ExecutionRecord, statuses: &[&str]) {
    if statuses.is_empty() {
        return;
    }
    if let Some(summary) = record.summary.as_object_mut() {
        summary.insert(cairn_store::UNSENT_STATUS.into(), json!(statuses));
    }
}

/// Whether every mark of `marks` is one of `sent` (as many times as it is there): a status
/// change sent twice is two events (a redriven execution can fail twice).
fn within(marks: &[String], sent: &[String]) -> bool {
    let mut left = sent.to_vec();
    marks
        .iter()
        .all(|mark| match left.iter().position(|s| s == mark) {
            Some(at) => {
                left.swap_remove(at);
                true
            }
            None => false,
        })
}

/// Whether a record carries unsent status changes older than the grace: a RUNNING one dates
/// from the start, a closing one from the stop.
fn unsent_overdue(record: &ExecutionRecord, now: i64, grace_ms: i64) -> bool {
    let Some(marks) = record.summary[cairn_store::UNSENT_STATUS].as_array() else {
        return false;
    };
    let since = if marks.iter().any(|m| m != "RUNNING") {
        record.stop_ms.unwrap_or(record.start_ms)
    } else {
        record.start_ms
    };
    !marks.is_empty() && now - since > grace_ms
}

/// The status events (and alerts) a record's unsent mark stands for, as they were first sent.
fn unsent_status_changes(record: &ExecutionRecord) -> Vec<Outgoing> {
    let marks = record.summary[cairn_store::UNSENT_STATUS]
        .as_array()
        .cloned()
        .unwrap_or_default();
    marks
        .iter()
        .filter_map(Value::as_str)
        .map(|mark| {
            let mut shown = ExecutionRecord {
                arn: record.arn.clone(),
                state_machine_arn: record.state_machine_arn.clone(),
                name: record.name.clone(),
                status: mark.to_string(),
                start_ms: record.start_ms,
                stop_ms: record.stop_ms,
                summary: record.summary.clone(),
                state: Vec::new(),
            };
            if mark == "RUNNING" {
                // The start's event, sent before the end was known.
                shown.stop_ms = None;
                if let Some(summary) = shown.summary.as_object_mut() {
                    for field in ["output", "error", "cause"] {
                        summary.remove(field);
                    }
                }
            }
            Outgoing::StatusChange {
                detail: status_detail(&shown),
                alert: crate::outbox::alerts(mark),
            }
        })
        .collect()
}

fn status_change(record: &ExecutionRecord, status: Status) -> Outgoing {
    Outgoing::StatusChange {
        detail: status_detail(record),
        alert: crate::outbox::alerts(status.as_aws_str()),
    }
}

/// The `detail` of AWS's "Step Functions Execution Status Change" event: the shared API's
/// shape (redriveCount, the version and alias an execution was started through), so both
/// shells send the same fields.
pub fn status_detail(record: &ExecutionRecord) -> Value {
    cairn_api::observe::status_event(record, "", "", "", 0)["detail"].take()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_names_follow_the_aws_rule() {
        assert!(check_name("nightly-2024_01.x").is_ok());
        let err = check_name("has space").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("InvalidName: Invalid Name: 'has space'")
        );
        assert!(check_name(&"a".repeat(81)).is_err());
        assert!(check_name("").is_err());
    }

    struct Discard;

    impl crate::outbox::Sink for Discard {
        fn send(&self, _: Vec<Outgoing>, _: i64) -> Result<(), EngineError> {
            Ok(())
        }
    }

    #[test]
    fn a_warm_engine_compiles_each_definition_once() {
        let engine = Engine::new(
            Arc::new(cairn_store::MemoryStore::new()),
            Outbox::with_sink(crate::Settings::default(), Arc::new(Discard)),
            Arc::new(cairn_runtime::Unsupported),
            Arc::new(cairn_runtime::SystemClock),
        );
        let pass = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#;
        let wait =
            r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": true}}}"#;
        let first = engine.machine(pass).unwrap();
        assert!(Arc::ptr_eq(&first, &engine.machine(pass).unwrap()));
        assert!(!Arc::ptr_eq(&first, &engine.machine(wait).unwrap()));
        let raised = Limits {
            max_history_events: 100_000,
            ..Limits::default()
        };
        let engine = engine.with_limits(raised);
        assert_eq!(engine.machine(pass).unwrap().limits(), raised);
    }

    #[test]
    fn uuids_have_the_version_4_shape() {
        let id = uuid(0x0123_4567_89ab_cdef);
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert_eq!(id.chars().nth(14), Some('4'));
        assert_ne!(uuid(1), uuid(2));
    }

    /// An outbox's far side for the outbox tests: what went out, in order, unless failing.
    #[derive(Default)]
    struct Recorder {
        failing: std::sync::atomic::AtomicBool,
        sent: std::sync::Mutex<Vec<Outgoing>>,
        /// Called with each successful send before the sender goes on (a concurrent writer).
        during: std::sync::Mutex<Option<During>>,
    }

    type During = Box<dyn FnMut(&[Outgoing]) + Send>;

    impl Recorder {
        fn fail(&self, failing: bool) {
            self.failing.store(failing, Ordering::SeqCst);
        }

        fn statuses(&self) -> Vec<String> {
            self.sent
                .lock()
                .unwrap()
                .iter()
                .filter_map(|item| match item {
                    Outgoing::StatusChange { detail, .. } => {
                        Some(detail["status"].as_str().unwrap_or("").to_string())
                    }
                    _ => None,
                })
                .collect()
        }
    }

    impl crate::outbox::Sink for Recorder {
        fn send(&self, outgoing: Vec<Outgoing>, _: i64) -> Result<(), EngineError> {
            if self.failing.load(Ordering::SeqCst) {
                return Err(EngineError::Send("the bus is unreachable".into()));
            }
            if let Some(during) = self.during.lock().unwrap().as_mut() {
                during(&outgoing);
            }
            self.sent.lock().unwrap().extend(outgoing);
            Ok(())
        }
    }

    struct Manual(AtomicU64);

    impl Clock for Manual {
        fn now_ms(&self) -> i64 {
            self.0.load(Ordering::SeqCst) as i64
        }
    }

    const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:m";

    struct Rig {
        engine: Engine,
        store: Arc<cairn_store::MemoryStore>,
        sink: Arc<Recorder>,
        clock: Arc<Manual>,
    }

    fn rig(definition: Value) -> Rig {
        let store = Arc::new(cairn_store::MemoryStore::new());
        cairn_store::StateMachineStore::create_state_machine(
            store.as_ref(),
            &cairn_store::StateMachineRecord {
                arn: MACHINE.into(),
                name: "m".into(),
                created_ms: 0,
                document: json!({"definition": definition.to_string(), "type": "STANDARD",
                    "roleArn": "arn:aws:iam::123456789012:role/r"}),
            },
        )
        .unwrap();
        let sink = Arc::new(Recorder::default());
        let clock = Arc::new(Manual(AtomicU64::new(1_735_689_600_000)));
        let settings = crate::Settings {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            ..crate::Settings::default()
        };
        let engine = Engine::new(
            Arc::clone(&store) as Arc<dyn Store>,
            Outbox::with_sink(settings, Arc::clone(&sink) as Arc<dyn crate::outbox::Sink>),
            Arc::new(cairn_runtime::Unsupported),
            Arc::clone(&clock) as Arc<dyn Clock>,
        )
        .seeded(7);
        Rig {
            engine,
            store,
            sink,
            clock,
        }
    }

    impl Rig {
        fn later(&self, ms: u64) {
            self.clock.0.fetch_add(ms, Ordering::SeqCst);
        }

        fn record(&self, arn: &str) -> ExecutionRecord {
            cairn_store::ExecutionStore::get_execution(self.store.as_ref(), arn)
                .unwrap()
                .unwrap()
                .0
        }

        /// Fires the execution's open timer (its message having been lost or late).
        async fn fire(&self, arn: &str) -> Applied {
            let timers =
                cairn_store::TimerStore::due_timers(self.store.as_ref(), i64::MAX, 10).unwrap();
            let timer = timers.iter().find(|t| t.execution_arn == arn).unwrap();
            let event = Event::TimerFired {
                timer_id: timer.timer_id,
            };
            self.engine.apply(arn, event).await.unwrap()
        }
    }

    fn waits(n: usize) -> Value {
        let mut states = serde_json::Map::new();
        for i in 0..n {
            let mut state = json!({"Type": "Wait", "Seconds": 1});
            if i + 1 == n {
                state["End"] = json!(true);
            } else {
                state["Next"] = json!(format!("W{}", i + 1));
            }
            states.insert(format!("W{i}"), state);
        }
        json!({"StartAt": "W0", "States": states})
    }

    #[tokio::test]
    async fn without_status_events_only_alerts_are_marked_and_sent() {
        let mut rig = rig(json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}));
        rig.engine.outbox = rig.engine.outbox.clone().without_status_events();
        let ok = rig.engine.start(MACHINE, Some("ok"), None).await.unwrap();
        assert_eq!(ok.status, Status::Succeeded);
        assert!(rig.sink.statuses().is_empty());
        assert!(cairn_store::unsent_marks(&rig.record(&ok.execution_arn)).is_empty());

        let mut rig =
            self::rig(json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}));
        rig.engine.outbox = rig.engine.outbox.clone().without_status_events();
        // The alert's send fails: its mark stays (RUNNING, which sends nothing, is not marked)
        // and the sweep sends the alert, not the event.
        rig.sink.fail(true);
        let failed = rig.engine.start(MACHINE, Some("ko"), None).await.unwrap();
        assert_eq!(failed.status, Status::Failed);
        assert_eq!(
            cairn_store::unsent_marks(&rig.record(&failed.execution_arn)),
            ["FAILED"]
        );
        rig.sink.fail(false);
        rig.later(600_000);
        rig.engine.sweep(SweepStep::new(0)).await.unwrap();
        let sent = rig.sink.sent.lock().unwrap().clone();
        assert!(
            matches!(sent.as_slice(), [Outgoing::StatusChange { detail, alert: true }] if detail["status"] == "FAILED"),
            "{sent:?}"
        );
        assert!(cairn_store::unsent_marks(&rig.record(&failed.execution_arn)).is_empty());
    }

    /// What DeleteStateMachine does to a state machine with running executions.
    fn mark_deleting(rig: &Rig) {
        let (mut record, version) =
            cairn_store::StateMachineStore::get_state_machine(rig.store.as_ref(), MACHINE)
                .unwrap()
                .unwrap();
        record.document["status"] = json!("DELETING");
        cairn_store::StateMachineStore::update_state_machine(rig.store.as_ref(), &record, version)
            .unwrap();
    }

    #[tokio::test]
    async fn a_state_machine_being_deleted_starts_no_execution() {
        let rig = rig(waits(1));
        mark_deleting(&rig);
        let refused = rig.engine.start(MACHINE, Some("late"), None).await;
        match refused {
            Err(EngineError::Api(error)) => assert_eq!(error.error_type, "StateMachineDeleting"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_deleting_state_machines_execution_fails_at_its_next_transition() {
        let rig = rig(waits(1));
        let arn = rig
            .engine
            .start(MACHINE, Some("doomed"), None)
            .await
            .unwrap()
            .execution_arn;
        let fired = Event::TimerFired { timer_id: 1 };
        // Read ACTIVE just before the deletion: the container trusts that for a while.
        assert!(!rig.engine.machine_deleting(MACHINE).await);
        mark_deleting(&rig);
        rig.later(DELETING_TTL_MS as u64);
        assert_eq!(
            rig.engine.apply(&arn, fired).await.unwrap(),
            Applied::Applied(Status::Failed)
        );
        let stored = Persisted::decode(&rig.record(&arn)).unwrap();
        assert_eq!(stored.execution.error(), Some("States.Runtime"));
        assert_eq!(
            stored.execution.cause(),
            Some("State machine m has been deleted.")
        );
    }

    #[tokio::test]
    async fn a_timer_counts_only_the_re_sends_that_went_out() {
        // Found by the simulation (seeds 188 and 558): sweeps whose send failed counted their
        // re-send anyway, so the timer was given up as poison without one real re-send.
        let rig = rig(waits(1));
        let arn = rig
            .engine
            .start(MACHINE, Some("e"), None)
            .await
            .unwrap()
            .execution_arn;
        rig.later(600_000);
        rig.sink.fail(true);
        for _ in 0..MAX_TIMER_RESENDS + 1 {
            assert!(rig.engine.sweep(SweepStep::new(0)).await.is_err());
        }
        rig.sink.fail(false);
        for round in 1..=MAX_TIMER_RESENDS {
            let report = rig.engine.sweep(SweepStep::new(0)).await.unwrap();
            assert_eq!(report.resent_timers, 1, "re-send {round}");
        }
        assert_eq!(rig.engine.abandoned_timers.load(Ordering::SeqCst), 0);
        // Three re-sends that went out and still no delivery: now it is poison.
        let report = rig.engine.sweep(SweepStep::new(0)).await.unwrap();
        assert_eq!(report.resent_timers, 0);
        assert_eq!(rig.engine.abandoned_timers.load(Ordering::SeqCst), 1);
        assert_eq!(rig.record(&arn).status, "RUNNING");
    }

    #[tokio::test]
    async fn a_start_whose_running_event_was_lost_still_sends_it_after_moving_on() {
        let rig = rig(waits(2));
        rig.sink.fail(true);
        let arn = rig
            .engine
            .start(MACHINE, Some("e"), None)
            .await
            .unwrap()
            .execution_arn;
        rig.sink.fail(false);
        rig.later(2_000);
        // The next write does not send it (the sweep or the end does) but keeps it marked.
        assert_eq!(
            rig.fire(&arn).await,
            Applied::Applied(cairn_interpreter::Status::Running)
        );
        assert!(rig.sink.statuses().is_empty());
        assert_eq!(cairn_store::unsent_marks(&rig.record(&arn)), ["RUNNING"]);
        rig.later(600_000);
        let report = rig.engine.sweep(SweepStep::new(120)).await.unwrap();
        assert_eq!(report.resent_statuses, 1);
        assert_eq!(rig.sink.statuses(), ["RUNNING"]);
        assert!(cairn_store::unsent_marks(&rig.record(&arn)).is_empty());
        rig.fire(&arn).await;
        assert_eq!(rig.sink.statuses(), ["RUNNING", "SUCCEEDED"]);
        assert!(cairn_store::unsent_marks(&rig.record(&arn)).is_empty());
    }

    #[tokio::test]
    async fn an_end_sends_a_running_event_still_unsent_first() {
        let rig = rig(waits(2));
        rig.sink.fail(true);
        let arn = rig
            .engine
            .start(MACHINE, Some("e"), None)
            .await
            .unwrap()
            .execution_arn;
        rig.later(2_000);
        // This write's send fails too: both writes' marks stay.
        rig.fire(&arn).await;
        rig.sink.fail(false);
        rig.later(2_000);
        assert_eq!(
            rig.fire(&arn).await,
            Applied::Applied(cairn_interpreter::Status::Succeeded)
        );
        let sent = rig.sink.sent.lock().unwrap().clone();
        let statuses: Vec<(String, Value)> = sent
            .iter()
            .filter_map(|item| match item {
                Outgoing::StatusChange { detail, .. } => Some((
                    detail["status"].as_str()?.to_string(),
                    detail["output"].clone(),
                )),
                _ => None,
            })
            .collect();
        // In AWS's order, the RUNNING one as the start showed it (no output yet).
        assert_eq!(
            statuses,
            [
                ("RUNNING".to_string(), Value::Null),
                ("SUCCEEDED".to_string(), json!("{}"))
            ]
        );
        assert!(cairn_store::unsent_marks(&rig.record(&arn)).is_empty());
        // Nothing is left for the sweep.
        rig.later(600_000);
        let report = rig.engine.sweep(SweepStep::new(120)).await.unwrap();
        assert_eq!(report.resent_statuses, 0);
    }

    #[tokio::test]
    async fn a_confirmation_follows_a_write_that_only_carried_what_was_sent() {
        let rig = rig(waits(2));
        // Another invocation writes the execution between the start's send and its
        // confirmation (it read the start's record, mark and all, and carries the mark).
        let store = Arc::clone(&rig.store);
        *rig.sink.during.lock().unwrap() = Some(Box::new(move |_: &[Outgoing]| {
            let arns = cairn_store::ExecutionStore::running_executions(store.as_ref()).unwrap();
            for arn in arns {
                let (record, version) =
                    cairn_store::ExecutionStore::get_execution(store.as_ref(), &arn)
                        .unwrap()
                        .unwrap();
                let transition = Transition {
                    expected_version: version,
                    record,
                    history: Vec::new(),
                    effects: Effects::default(),
                };
                cairn_store::ExecutionStore::commit(store.as_ref(), &transition).unwrap();
            }
        }));
        let arn = rig
            .engine
            .start(MACHINE, Some("e"), None)
            .await
            .unwrap()
            .execution_arn;
        *rig.sink.during.lock().unwrap() = None;
        assert!(cairn_store::unsent_marks(&rig.record(&arn)).is_empty());
        rig.later(600_000);
        let report = rig.engine.sweep(SweepStep::new(120)).await.unwrap();
        assert_eq!(report.resent_statuses, 0, "RUNNING went out once");
        assert_eq!(rig.sink.statuses(), ["RUNNING"]);
    }
}
