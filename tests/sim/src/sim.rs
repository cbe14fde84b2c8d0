//! One run: a workload driven through one shell under one fault plan, in simulated time.
//!
//! Everything happens on one thread in the order of a queue of timed actions; time jumps
//! from one action to the next. The shells are the real code: cairn serve's [`Driver`]
//! (its threads replaced by this loop: the same wheel, the same dispatch, the same
//! recovery after a restart) and the serverless [`Engine`] (its messages handed to this
//! loop, which plays EventBridge, SQS and the sweep schedule).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use cairn_api::{ApiError, Config, Driver};
use cairn_interpreter::{Command, IntegrationPattern, ResourceKind, TaskId, TimerId};
use cairn_runtime::{Clock, TaskFailure, TaskRequest, Unsupported};
use cairn_serverless::engine::Claimed;
use cairn_serverless::long_task::{
    EventInvoker, InvocationRecord, RequestContext, ResponseContext, FAILURE_DETAIL_TYPE,
    SUCCESS_DETAIL_TYPE,
};
use cairn_serverless::outbox::{Outgoing, Sink};
use cairn_serverless::{Engine, EngineError, Message, Outbox, Settings, SweepStep};
use cairn_store::{ExecutionStore, Store};
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;

use crate::faults::FaultPlan;
use crate::plans::{Answer, Plans, Step};
use crate::rng::{mix, Rng};
use crate::store::{Dice, FaultStore};
use crate::workload::{activity_arn, Workload, ACCOUNT, REGION, ROLE};
use crate::world::{block_on, guarded, Guarded, SimClock};

/// Simulated epoch of every run: 2025-01-01T00:00:00Z.
const EPOCH_MS: i64 = 1_735_689_600_000;
/// A run gives up (and reports the executions still running) after this long.
const HORIZON_MS: i64 = 3 * 86_400_000;
/// After the last execution ends, late and duplicate deliveries keep arriving this long:
/// none of them may change anything.
const SETTLE_MS: i64 = 20 * 60_000;
/// The serverless sweep: its schedule and grace (functions/README.md).
const SWEEP_EVERY_MS: i64 = 5 * 60_000;
const SWEEP_GRACE_MS: i64 = 120_000;
const SWEEP_PAGE: usize = 2;
/// The advance function's timeout plus a margin, as the template sets it: a claim older than
/// this was lost with its invocation.
const CLAIM_TIMEOUT_MS: i64 = 60_000;
/// SQS visibility timeout: when an unacknowledged timer message comes back.
const VISIBILITY_MS: i64 = 30_000;
/// Lambda's asynchronous invocation (the bus's target) tries an event three times.
const BUS_ATTEMPTS: u32 = 3;
const QUEUE_ATTEMPTS: u32 = 20;
/// Lambda tasks whose TimeoutSeconds passes this are invoked asynchronously (the template's
/// SyncTaskSeconds): the workload's 2-hour task timeouts go that way, its 30-40 minute ones
/// run inside their invocation.
const SYNC_TASK_LIMIT_MS: i64 = 3_600_000;
/// The destination rule's retries (the template allows 185; a lost claim's re-run comes well
/// before these run out).
const RESULT_ATTEMPTS: u32 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ShellKind {
    Serve,
    Serverless,
}

impl std::fmt::Display for ShellKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ShellKind::Serve => "serve",
            ShellKind::Serverless => "serverless",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    Bus,
    Queue,
}

#[derive(Debug, Clone)]
enum Action {
    Start {
        exec: usize,
    },
    Stop {
        exec: usize,
    },
    /// SendTaskSuccess / SendTaskFailure with a token.
    Callback {
        token: String,
        answer: Answer,
    },
    Heartbeat {
        token: String,
    },
    ActivityPoll,
    ClockJump,
    /// cairn serve: a task the driver dispatched, run by "its thread".
    ServeTask {
        life: u64,
        arn: String,
        command: Command,
        started: bool,
    },
    /// cairn serve: a task call's answer reaches its thread.
    ServeAnswer {
        life: u64,
        arn: String,
        task_id: TaskId,
        command: Command,
        result: Result<Value, TaskFailure>,
    },
    /// cairn serve: a due timer, handed by the wheel to a worker.
    ServeTimer {
        life: u64,
        arn: String,
        timer_id: TimerId,
    },
    ServeKill,
    ServeRestart,
    /// Serverless: a message reaches the advance function.
    Deliver {
        message: Message,
        channel: Channel,
        attempt: u32,
    },
    /// Serverless: a long Lambda task's destination event reaches the advance function.
    LambdaResult {
        request_id: String,
        result: Result<Value, TaskFailure>,
        attempt: u32,
    },
    /// Serverless: a task call inside its advance invocation answers.
    TaskAnswer {
        message: Message,
        attempt: u32,
        arn: String,
        task_id: TaskId,
        kind: ResourceKind,
        result: Result<Value, TaskFailure>,
    },
    Sweep,
}

impl Action {
    fn label(&self) -> &'static str {
        match self {
            Action::Start { .. } => "start",
            Action::Stop { .. } => "stop",
            Action::Callback { .. } => "callback",
            Action::Heartbeat { .. } => "heartbeat",
            Action::ActivityPoll => "poll",
            Action::ClockJump => "clock",
            Action::ServeTask { .. } => "serve-task",
            Action::ServeAnswer { .. } => "serve-answer",
            Action::ServeTimer { .. } => "serve-timer",
            Action::ServeKill => "kill",
            Action::ServeRestart => "restart",
            Action::Deliver { .. } => "deliver",
            Action::TaskAnswer { .. } => "task-answer",
            Action::LambdaResult { .. } => "lambda-result",
            Action::Sweep => "sweep",
        }
    }
}

/// How a task call answers: its result after `after` ms and, for a callback, the worker
/// that will answer through SendTask* later.
struct CallAnswer {
    result: Result<Value, TaskFailure>,
    after: i64,
    callback: Option<(String, Step)>,
}

/// Lambda for long tasks: each asynchronous invocation gets a request id and waits for the
/// harness to run it; its destination record comes back as [`Action::LambdaResult`].
#[derive(Default)]
struct SimLambda {
    next: Mutex<u64>,
    invoked: Mutex<Vec<String>>,
}

impl SimLambda {
    fn take(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .invoked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl EventInvoker for SimLambda {
    fn invoke_event<'a>(
        &'a self,
        _function: &'a str,
        _qualifier: Option<&'a str>,
        _payload: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Result<String, TaskFailure>> + Send + 'a>> {
        Box::pin(async move {
            let mut next = self
                .next
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *next += 1;
            let id = format!("req-{next}");
            self.invoked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(id.clone());
            Ok(id)
        })
    }

    /// The plans answer as they do inside an invocation: the payload, or their error and
    /// cause (so the histories compare with the synchronous path's shape).
    fn outcome(
        &self,
        record: &InvocationRecord,
        succeeded: bool,
        _kind: &ResourceKind,
        _now_ms: i64,
    ) -> Result<Value, TaskFailure> {
        if succeeded {
            return Ok(record.response_payload.clone());
        }
        let text = |key: &str| {
            record.response_payload[key]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        Err(TaskFailure::new(text("errorType"), text("errorMessage")))
    }
}

/// The outbox's far side: what the engine sent, collected for the harness to deliver.
struct SimSink {
    store: Arc<FaultStore>,
    sent: Mutex<Vec<(Outgoing, i64)>>,
}

impl Sink for SimSink {
    fn send(&self, outgoing: Vec<Outgoing>, now_ms: i64) -> Result<(), EngineError> {
        {
            let mut dice = self
                .store
                .dice
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let rate = dice.plan.send_fail;
            if dice.roll(rate) {
                drop(dice);
                self.store.count("send_fail");
                return Err(EngineError::Send(
                    "simulated: the bus and the queue are unreachable".into(),
                ));
            }
        }
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sent.extend(outgoing.into_iter().map(|item| (item, now_ms)));
        Ok(())
    }
}

struct Serve {
    /// `None` while the process is down.
    driver: Option<Arc<Driver>>,
    /// Which process life an in-flight action belongs to: a dead process's threads,
    /// wheel and pending tasks die with it.
    life: u64,
}

struct Serverless {
    engine: Engine,
    sink: Arc<SimSink>,
    /// Lambda's side of long tasks' asynchronous invocations.
    lambda: Arc<SimLambda>,
    /// The shared API GetActivityTask goes through in the api function (its in-process
    /// wheel dies with the invocation: the sweep sends what it held).
    activities: Arc<Driver>,
}

#[derive(Debug, Clone, Default)]
struct ExecState {
    started: bool,
    start_failed: bool,
    stop_sent: bool,
}

/// Everything a run leaves for the invariants.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub store: Arc<FaultStore>,
    pub started: Vec<bool>,
    /// True time when the run stopped.
    pub end_ms: i64,
    pub steps: u64,
    /// A digest of every action taken, in order: equal digests mean the same run.
    pub trace: u64,
    /// Things the harness itself saw go wrong (an invalid token, a workload without a plan).
    pub anomalies: Vec<String>,
    /// Serverless: every status-change event the outbox got out, in the order it sent them
    /// (their `detail`).
    pub status_events: Vec<Value>,
    /// The run's fault plan (none: the fault-free run).
    pub plan: FaultPlan,
    pub shell: ShellKind,
}

impl std::fmt::Debug for FaultStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaultStore")
    }
}

pub struct Sim<'a> {
    seed: u64,
    shell: ShellKind,
    workload: &'a Workload,
    clock: Arc<SimClock>,
    store: Arc<FaultStore>,
    dice: Arc<Mutex<Dice>>,
    queue: BTreeMap<(i64, u64), Action>,
    seq: u64,
    plans: Plans,
    execs: Vec<ExecState>,
    serve: Option<Serve>,
    serverless: Option<Serverless>,
    trace: u64,
    steps: u64,
    anomalies: Vec<String>,
    /// Message -> how many times in a row it was lost.
    dropped: BTreeMap<String, u32>,
    status_events: Vec<Value>,
}

fn config(clock: Arc<SimClock>) -> Config {
    Config {
        region: REGION.into(),
        account: ACCOUNT.into(),
        activity_poll: std::time::Duration::ZERO,
        invoker: Arc::new(Unsupported),
        clock,
        workers: 1,
        express_history: 0,
        token_key: vec![7; 32],
        express_journal: None,
        ..Config::default()
    }
}

/// The serverless api function's StopExecution and SendTask* never reach the shared API,
/// but its signature wants one: a single idle instance serves every run.
fn idle_api() -> &'static cairn_api::Api {
    static API: OnceLock<cairn_api::Api> = OnceLock::new();
    API.get_or_init(|| {
        cairn_api::Api::new(
            Arc::new(cairn_store::MemoryStore::new()),
            Config {
                workers: 1,
                ..Config::default()
            },
        )
    })
}

impl<'a> Sim<'a> {
    pub fn new(
        seed: u64,
        shell: ShellKind,
        workload: &'a Workload,
        plan: FaultPlan,
        fault_seed: u64,
    ) -> Sim<'a> {
        let clock = Arc::new(SimClock::new(EPOCH_MS));
        let dice = Arc::new(Mutex::new(Dice {
            rng: Rng::new(fault_seed),
            plan,
            armed: false,
            no_crash: false,
            no_crash_after: false,
            no_ambiguous: false,
        }));
        let store = Arc::new(FaultStore::new(Arc::clone(&dice)));
        let mut sim = Sim {
            seed,
            shell,
            workload,
            clock,
            store,
            dice,
            queue: BTreeMap::new(),
            seq: 0,
            plans: Plans::default(),
            execs: vec![ExecState::default(); workload.executions.len()],
            serve: None,
            serverless: None,
            trace: mix(seed),
            steps: 0,
            anomalies: Vec::new(),
            dropped: BTreeMap::new(),
            status_events: Vec::new(),
        };
        sim.setup();
        sim
    }

    fn plan(&self) -> FaultPlan {
        self.lock_dice().plan
    }

    fn lock_dice(&self) -> std::sync::MutexGuard<'_, Dice> {
        self.dice
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A fault of this class, at this rate, now?
    fn roll(&self, class: &'static str, rate: u32) -> bool {
        let hit = self.lock_dice().roll(rate);
        if hit {
            self.store.count(class);
        }
        hit
    }

    /// A random amount in `0..=max` (only drawn when faults are on).
    fn draw(&self, max: i64) -> i64 {
        let mut dice = self.lock_dice();
        if dice.plan.is_none() {
            return 0;
        }
        dice.rng.range(0, max)
    }

    fn now(&self) -> i64 {
        self.clock.true_ms()
    }

    fn at(&mut self, when: i64, action: Action) {
        self.seq += 1;
        self.queue.insert((when.max(self.now()), self.seq), action);
    }

    fn after(&mut self, delay: i64, action: Action) {
        self.at(self.now() + delay.max(0), action);
    }

    fn setup(&mut self) {
        let setup = Driver::simulated(
            Arc::clone(&self.store) as Arc<dyn Store>,
            config(Arc::clone(&self.clock)),
            self.seed,
        );
        let mut failures = Vec::new();
        for exec in &self.workload.executions {
            let request = json!({
                "name": exec.machine,
                "definition": exec.definition.to_string(),
                "roleArn": ROLE,
            });
            if let Err(error) = setup.handle_action("CreateStateMachine", &request) {
                failures.push(format!("CreateStateMachine {}: {error}", exec.machine));
            }
        }
        if let Err(error) = setup.handle_action(
            "CreateActivity",
            &json!({"name": crate::workload::ACTIVITY}),
        ) {
            failures.push(format!("CreateActivity: {error}"));
        }
        self.anomalies.extend(failures);
        match self.shell {
            ShellKind::Serve => {
                self.serve = Some(Serve {
                    driver: Some(self.new_driver()),
                    life: 0,
                });
            }
            ShellKind::Serverless => {
                let lambda = Arc::new(SimLambda::default());
                let sink = Arc::new(SimSink {
                    store: Arc::clone(&self.store),
                    sent: Mutex::new(Vec::new()),
                });
                let settings = Settings {
                    region: REGION.into(),
                    account: ACCOUNT.into(),
                    ..Settings::default()
                };
                let engine = Engine::new(
                    Arc::clone(&self.store) as Arc<dyn cairn_store::asynchronous::Store>,
                    Outbox::with_sink(settings, Arc::clone(&sink) as Arc<dyn Sink>),
                    Arc::new(Unsupported),
                    Arc::clone(&self.clock) as Arc<dyn Clock>,
                )
                .seeded(self.seed)
                .with_claim_timeout(CLAIM_TIMEOUT_MS)
                .with_long_lambda_tasks(
                    Arc::clone(&lambda) as Arc<dyn EventInvoker>,
                    SYNC_TASK_LIMIT_MS,
                )
                // Pages of 2 running executions: a workload's 1-3 executions take the
                // sweep through its continuation messages, lost and doubled like the rest.
                .with_sweep_page(SWEEP_PAGE);
                self.serverless = Some(Serverless {
                    engine,
                    sink,
                    lambda,
                    activities: self.new_driver(),
                });
                self.after(SWEEP_EVERY_MS, Action::Sweep);
            }
        }
        for (index, exec) in self.workload.executions.iter().enumerate() {
            self.at(EPOCH_MS + exec.start_at_ms, Action::Start { exec: index });
        }
        let plan = self.plan();
        if plan.clock_jumps {
            self.after(60_000, Action::ClockJump);
        }
        if plan.kill > 0 && self.shell == ShellKind::Serve {
            self.after(1_000, Action::ServeKill);
        }
    }

    fn new_driver(&self) -> Arc<Driver> {
        Driver::simulated(
            Arc::clone(&self.store) as Arc<dyn Store>,
            config(Arc::clone(&self.clock)),
            self.seed,
        )
    }

    /// Runs to the end: every execution ended and the late deliveries settled, or the horizon.
    pub fn run(mut self) -> RunOutput {
        self.lock_dice().armed = true;
        let mut settle_until: Option<i64> = None;
        loop {
            if settle_until.is_none() && self.all_ended() {
                settle_until = Some(self.now() + SETTLE_MS);
            }
            let next_action = self.queue.keys().next().map(|(when, _)| *when);
            let next_timer = self.next_serve_timer();
            let next = match (next_action, next_timer) {
                (Some(a), Some(t)) => a.min(t),
                (a, t) => match a.or(t) {
                    Some(next) => next,
                    None => break,
                },
            };
            let limit = settle_until.unwrap_or(EPOCH_MS + HORIZON_MS);
            if next > limit {
                self.clock.set_true_ms(limit);
                break;
            }
            self.clock.set_true_ms(next.max(self.now()));
            if next_timer.is_some_and(|t| t <= self.now()) {
                self.wheel();
                continue;
            }
            let Some((key, action)) = self.queue.pop_first() else {
                break;
            };
            self.steps += 1;
            self.trace =
                mix(self.trace ^ mix(key.0 as u64) ^ mix(self.steps) ^ label_hash(action.label()));
            self.step(action);
            self.after_step();
        }
        self.lock_dice().armed = false;
        let plan = self.plan();
        RunOutput {
            store: Arc::clone(&self.store),
            started: self.execs.iter().map(|e| e.started).collect(),
            end_ms: self.now(),
            steps: self.steps,
            trace: self.trace,
            anomalies: self.anomalies,
            status_events: self.status_events,
            plan,
            shell: self.shell,
        }
    }

    fn all_ended(&self) -> bool {
        if self.execs.iter().any(|e| !e.started) {
            return false;
        }
        let running = self.store.running_executions().unwrap_or_default();
        // Serverless: and every status change confirmed sent (the sweep's last phase).
        running.is_empty() && !self.store.unsent_left()
    }

    fn step(&mut self, action: Action) {
        match action {
            Action::Start { exec } => self.start(exec),
            Action::Stop { exec } => self.stop(exec),
            Action::Callback { token, answer } => self.callback(token, answer),
            Action::Heartbeat { token } => {
                let _ = self.client("SendTaskHeartbeat", json!({"taskToken": token}));
            }
            Action::ActivityPoll => self.poll_activity(),
            Action::ClockJump => self.clock_jump(),
            Action::ServeTask {
                life,
                arn,
                command,
                started,
            } => self.serve_task(life, &arn, &command, started),
            Action::ServeAnswer {
                life,
                arn,
                task_id,
                command,
                result,
            } => {
                if let Some(driver) = self.live_driver(life) {
                    if let Guarded::Crashed =
                        guarded(|| driver.end_task(&arn, task_id, &command, result))
                    {
                        self.serve_crashed();
                    }
                }
            }
            Action::ServeTimer {
                life,
                arn,
                timer_id,
            } => {
                if let Some(driver) = self.live_driver(life) {
                    if let Guarded::Crashed = guarded(|| driver.fire_timer(&arn, timer_id)) {
                        self.serve_crashed();
                    }
                }
            }
            Action::ServeKill => {
                if self.serve.as_ref().is_some_and(|s| s.driver.is_some())
                    && self.roll("kill", self.plan().kill * 10)
                {
                    self.serve_crashed();
                }
                if !self.all_ended() {
                    let every = 2_000 + self.draw(20_000);
                    self.after(every, Action::ServeKill);
                }
            }
            Action::ServeRestart => self.serve_restart(),
            Action::Deliver {
                message,
                channel,
                attempt,
            } => self.deliver(message, channel, attempt),
            Action::TaskAnswer {
                message,
                attempt,
                arn,
                task_id,
                kind,
                result,
            } => self.task_answer(message, attempt, &arn, task_id, &kind, result),
            Action::LambdaResult {
                request_id,
                result,
                attempt,
            } => self.lambda_result(request_id, result, attempt),
            Action::Sweep => self.sweep(),
        }
    }

    /// What the shells queued during a step becomes timed actions.
    fn after_step(&mut self) {
        if self.store.take_activity_queued() {
            // A worker long-polls: it hears of a queued task at once.
            self.after(500, Action::ActivityPoll);
        }
        match self.shell {
            ShellKind::Serve => self.take_serve_tasks(),
            ShellKind::Serverless => self.take_sent(),
        }
    }

    // ----- the client and the workers -----

    /// One API call as a client makes it (through the shell's API entry point).
    fn client(&mut self, action: &str, body: Value) -> Result<Value, ApiError> {
        let duplicate = self.roll("duplicate", self.plan().duplicate);
        let first = self.call(action, body.clone());
        if duplicate {
            // The client's retry after a lost response: the same request again.
            let second = self.call(action, body);
            if first.is_err() {
                return second;
            }
        }
        first
    }

    fn call(&mut self, action: &str, body: Value) -> Result<Value, ApiError> {
        let unavailable = || {
            Err(ApiError::new(
                "ServiceUnavailable",
                "simulated: the server is down",
            ))
        };
        match self.shell {
            ShellKind::Serve => {
                let Some(driver) = self.serve.as_ref().and_then(|s| s.driver.clone()) else {
                    return unavailable();
                };
                match guarded(|| driver.handle_action(action, &body)) {
                    Guarded::Done(result) => result,
                    Guarded::Crashed => {
                        self.serve_crashed();
                        unavailable()
                    }
                }
            }
            ShellKind::Serverless => {
                let Some(serverless) = &self.serverless else {
                    return unavailable();
                };
                let outcome = if action == "GetActivityTask" {
                    let driver = Arc::clone(&serverless.activities);
                    let outcome = guarded(|| driver.handle_action(action, &body));
                    // The invocation's in-process wheel ends with it.
                    let _ = driver.due_timers(i64::MAX);
                    let _ = driver.take_pending_tasks();
                    outcome
                } else {
                    let engine = &serverless.engine;
                    guarded(|| {
                        block_on(cairn_serverless::api::handle_action(
                            engine,
                            idle_api(),
                            action,
                            body,
                        ))
                    })
                };
                match outcome {
                    Guarded::Done(result) => result,
                    Guarded::Crashed => {
                        if action == "GetActivityTask" {
                            // A dead invocation's driver may hold a poisoned lock.
                            let fresh = self.new_driver();
                            if let Some(serverless) = &mut self.serverless {
                                serverless.activities = fresh;
                            }
                        }
                        Err(ApiError::new(
                            "InternalFailure",
                            "simulated: the invocation died",
                        ))
                    }
                }
            }
        }
    }

    fn start(&mut self, exec: usize) {
        let spec = &self.workload.executions[exec];
        let body = json!({
            "stateMachineArn": spec.machine_arn(),
            "name": spec.name,
            "input": spec.input.to_string(),
        });
        let stop_after = spec.stop_after_ms;
        let result = self.client("StartExecution", body);
        let started = match result {
            Ok(_) => true,
            // An earlier attempt did start it; only its answer was lost.
            Err(error)
                if error.error_type == "ExecutionAlreadyExists"
                    && self.execs[exec].start_failed =>
            {
                true
            }
            Err(error) if error.is_server_fault() || error.error_type == "ServiceUnavailable" => {
                false
            }
            Err(error) => {
                self.anomalies
                    .push(format!("StartExecution of e{exec}: {error}"));
                self.execs[exec].started = true;
                return;
            }
        };
        if started {
            self.execs[exec].started = true;
            if let Some(after) = stop_after {
                if !self.execs[exec].stop_sent {
                    self.execs[exec].stop_sent = true;
                    self.after(after, Action::Stop { exec });
                }
            }
        } else {
            self.execs[exec].start_failed = true;
            let retry = 1_000 + self.draw(4_000);
            self.after(retry, Action::Start { exec });
        }
    }

    fn stop(&mut self, exec: usize) {
        let arn = self.workload.executions[exec].arn();
        let body =
            json!({"executionArn": arn, "error": "Sim.Stop", "cause": "the workload stops it"});
        if let Err(error) = self.client("StopExecution", body) {
            if error.is_server_fault() || error.error_type == "ServiceUnavailable" {
                let retry = 1_000 + self.draw(4_000);
                self.after(retry, Action::Stop { exec });
            } else {
                self.anomalies
                    .push(format!("StopExecution of e{exec}: {error}"));
            }
        }
    }

    fn callback(&mut self, token: String, answer: Answer) {
        let (action, body) = match &answer {
            Answer::Ok(output) => (
                "SendTaskSuccess",
                json!({"taskToken": token, "output": output.to_string()}),
            ),
            Answer::Fail(error) => (
                "SendTaskFailure",
                json!({"taskToken": token, "error": error, "cause": "the worker says no"}),
            ),
        };
        match self.client(action, body) {
            Ok(_) => {}
            // A duplicate (or a stop) got there first: the task is over.
            Err(error) if error.error_type == "TaskTimedOut" => {}
            Err(error) if error.is_server_fault() || error.error_type == "ServiceUnavailable" => {
                let retry = 1_000 + self.draw(2_000);
                self.after(retry, Action::Callback { token, answer });
            }
            Err(error) => self.anomalies.push(format!("{action}: {error}")),
        }
    }

    /// Schedules what a worker holding `token` does: heartbeats, then its answer.
    fn work_on(&mut self, token: String, step: Step) {
        let Some(answer) = step.answer else {
            return;
        };
        let beats = i64::try_from(step.beats).unwrap_or(0);
        for beat in 1..=beats {
            self.after(
                step.after * beat / (beats + 1),
                Action::Heartbeat {
                    token: token.clone(),
                },
            );
        }
        let late = if self.roll("answer_late", self.plan().answer_late) {
            self.draw(5_000)
        } else {
            0
        };
        self.after(
            step.after + late,
            Action::Callback {
                token: token.clone(),
                answer: answer.clone(),
            },
        );
        if self.roll("answer_twice", self.plan().answer_twice) {
            let again = step.after + self.draw(10_000);
            self.after(again, Action::Callback { token, answer });
        }
    }

    fn poll_activity(&mut self) {
        let body = json!({"activityArn": activity_arn(), "workerName": "sim-worker"});
        // A task handed to a worker whose answer is lost (the claim applied, the response
        // did not arrive) is lost: activity tasks are delivered at most once, as AWS's, and
        // time out. That outcome differs from the fault-free run by design, so the claim's
        // write never fails after applying and the process never dies after it.
        {
            let mut dice = self.lock_dice();
            dice.no_ambiguous = true;
            dice.no_crash_after = true;
        }
        let polled = self.call("GetActivityTask", body);
        {
            let mut dice = self.lock_dice();
            dice.no_ambiguous = false;
            dice.no_crash_after = false;
        }
        match polled {
            Ok(task) => {
                let Some(token) = task
                    .get("taskToken")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                else {
                    return;
                };
                let input: Value = task
                    .get("input")
                    .and_then(Value::as_str)
                    .and_then(|text| serde_json::from_str(text).ok())
                    .unwrap_or(Value::Null);
                match self.plans.step(&input, &token) {
                    Some(step) => self.work_on(token, step),
                    None => self
                        .anomalies
                        .push(format!("activity task without a plan: {input}")),
                }
                // More may be queued.
                self.after(100, Action::ActivityPoll);
            }
            Err(_) => {
                let retry = 1_000 + self.draw(2_000);
                self.after(retry, Action::ActivityPoll);
            }
        }
    }

    fn clock_jump(&mut self) {
        let skew = self.clock.skew_ms();
        let jump = {
            let mut dice = self.lock_dice();
            if dice.rng.chance(100) {
                120_000
            } else {
                dice.rng.range(-10_000, 10_000)
            }
        };
        self.store.count("clock_jump");
        self.clock
            .set_skew_ms((skew + jump).clamp(-30_000, 300_000));
        if !self.all_ended() {
            let every = 30_000 + self.draw(120_000);
            self.after(every, Action::ClockJump);
        }
    }

    /// The answer a task call gets, and when.
    fn answer(&mut self, request: &TaskRequest) -> Option<CallAnswer> {
        let call = request
            .task_token
            .clone()
            .unwrap_or_else(|| request.task_id.to_string());
        let Some(step) = self.plans.step(&request.input, &call) else {
            self.anomalies
                .push(format!("task call without a plan: {}", request.input));
            return None;
        };
        if let Some(token) = &request.task_token {
            // A callback: the call only hands the token over; the answer comes through
            // SendTask*. (The call answers whether or not the worker ever will.)
            return Some(CallAnswer {
                result: Ok(json!({"StatusCode": 200})),
                after: 200,
                callback: Some((token.clone(), step)),
            });
        }
        let result = match step.answer.clone()? {
            Answer::Ok(value) => Ok(value),
            Answer::Fail(error) => Err(TaskFailure::new(error, "the task says no")),
        };
        Some(CallAnswer {
            result,
            after: step.after,
            callback: None,
        })
    }

    // ----- cairn serve -----

    fn live_driver(&self, life: u64) -> Option<Arc<Driver>> {
        let serve = self.serve.as_ref()?;
        if serve.life != life {
            return None;
        }
        serve.driver.clone()
    }

    fn next_serve_timer(&self) -> Option<i64> {
        let driver = self.serve.as_ref()?.driver.as_ref()?;
        let (fire_at, _, _) = driver.next_timer()?;
        // The wheel fires when the (skewed) clock reaches the time.
        Some(fire_at - self.clock.skew_ms())
    }

    /// The timer thread's turn: due timers go to the worker pool.
    fn wheel(&mut self) {
        let Some(serve) = &self.serve else { return };
        let Some(driver) = serve.driver.clone() else {
            return;
        };
        let life = serve.life;
        for (_, arn, timer_id) in driver.due_timers(self.clock.now_ms()) {
            let late = if self.roll("delay", self.plan().delay) {
                self.draw(5_000)
            } else {
                0
            };
            self.after(
                late,
                Action::ServeTimer {
                    life,
                    arn: arn.clone(),
                    timer_id,
                },
            );
            if self.roll("duplicate", self.plan().duplicate) {
                let again = self.draw(5_000);
                self.after(
                    again,
                    Action::ServeTimer {
                        life,
                        arn,
                        timer_id,
                    },
                );
            }
        }
    }

    fn take_serve_tasks(&mut self) {
        let Some(serve) = &self.serve else { return };
        let Some(driver) = serve.driver.clone() else {
            return;
        };
        let life = serve.life;
        for task in driver.take_pending_tasks() {
            let late = if self.roll("delay", self.plan().delay) {
                self.draw(5_000)
            } else {
                0
            };
            self.after(
                late,
                Action::ServeTask {
                    life,
                    arn: task.execution_arn,
                    command: task.command,
                    started: task.started,
                },
            );
        }
    }

    fn serve_task(&mut self, life: u64, arn: &str, command: &Command, started: bool) {
        let Some(driver) = self.live_driver(life) else {
            return;
        };
        let request = match guarded(|| driver.begin_task(arn, command, started)) {
            Guarded::Done(Some(request)) => request,
            Guarded::Done(None) => return,
            Guarded::Crashed => return self.serve_crashed(),
        };
        self.deliver_answer(&request, |result| Action::ServeAnswer {
            life,
            arn: arn.to_string(),
            task_id: request.task_id,
            command: command.clone(),
            result,
        });
    }

    /// Plays the called service: its answer (possibly late, possibly twice, under the fault
    /// plan) becomes the action `answer` makes of it. Both shells' task calls come here.
    fn deliver_answer(
        &mut self,
        request: &TaskRequest,
        answer: impl Fn(Result<Value, TaskFailure>) -> Action,
    ) {
        let Some(CallAnswer {
            result,
            after,
            callback,
        }) = self.answer(request)
        else {
            return;
        };
        if let Some((token, step)) = callback {
            self.work_on(token, step);
        }
        let late = if self.roll("answer_late", self.plan().answer_late) {
            self.draw(5_000)
        } else {
            0
        };
        self.after(after + late, answer(result.clone()));
        if self.roll("answer_twice", self.plan().answer_twice) {
            let again = after + self.draw(5_000);
            self.after(again, answer(result));
        }
    }

    /// The process died: its wheel, its task threads and their pending answers with it.
    fn serve_crashed(&mut self) {
        let Some(serve) = &mut self.serve else { return };
        if serve.driver.is_none() {
            return;
        }
        serve.driver = None;
        serve.life += 1;
        self.store.count("process_death");
        let restart = 1_000 + self.draw(30_000);
        self.after(restart, Action::ServeRestart);
    }

    fn serve_restart(&mut self) {
        let driver = self.new_driver();
        let recovered = guarded(|| driver.recover());
        match recovered {
            Guarded::Done(Ok(_)) => {
                if let Some(serve) = &mut self.serve {
                    serve.driver = Some(driver);
                }
            }
            // The restart itself failed (a read failed or it died again): try again.
            Guarded::Done(Err(_)) | Guarded::Crashed => {
                let retry = 1_000 + self.draw(10_000);
                self.after(retry, Action::ServeRestart);
            }
        }
    }

    // ----- serverless -----

    fn engine(&self) -> Option<&Engine> {
        self.serverless.as_ref().map(|s| &s.engine)
    }

    /// Messages the engine sent become deliveries: timers after their delay, task runs
    /// at once; some lost, doubled or late.
    fn take_sent(&mut self) {
        let Some(serverless) = &self.serverless else {
            return;
        };
        let sent: Vec<(Outgoing, i64)> = std::mem::take(
            &mut *serverless
                .sink
                .sent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for (item, sent_at) in sent {
            let (message, channel, delay) = match item {
                Outgoing::Timer {
                    message,
                    fire_at_ms,
                } => {
                    // SQS counts the delay from the send, in whole seconds, rounded up.
                    let wait = fire_at_ms.saturating_sub(sent_at).max(0);
                    (message, Channel::Queue, (wait + 999) / 1000 * 1000)
                }
                Outgoing::Advance(message) => (message, Channel::Bus, 100),
                Outgoing::StatusChange { detail, .. } => {
                    self.status_events.push(detail);
                    continue;
                }
            };
            // A message is lost at most twice in a row: the workload's margins allow two
            // sweep periods of delay, not unbounded bad luck.
            let key = serde_json::to_string(&message).unwrap_or_default();
            let dropped = self.dropped.get(&key).copied().unwrap_or(0);
            if dropped < 2 && self.roll("drop", self.plan().drop) {
                self.dropped.insert(key, dropped + 1);
                continue;
            }
            self.dropped.remove(&key);
            let late = if self.roll("delay", self.plan().delay) {
                self.draw(5_000)
            } else {
                0
            };
            self.after(
                delay + late,
                Action::Deliver {
                    message: message.clone(),
                    channel,
                    attempt: 1,
                },
            );
            if self.roll("duplicate", self.plan().duplicate) {
                let again = delay + self.draw(10_000);
                self.after(
                    again,
                    Action::Deliver {
                        message,
                        channel,
                        attempt: 1,
                    },
                );
            }
        }
    }

    /// The message was not acknowledged: its queue or bus tries again, up to its limit.
    fn redeliver(&mut self, message: Message, channel: Channel, attempt: u32) {
        let (limit, wait) = match channel {
            Channel::Bus => (BUS_ATTEMPTS, 60_000 * i64::from(attempt)),
            Channel::Queue => (QUEUE_ATTEMPTS, VISIBILITY_MS),
        };
        if attempt < limit {
            self.after(
                wait,
                Action::Deliver {
                    message,
                    channel,
                    attempt: attempt + 1,
                },
            );
        }
    }

    fn deliver(&mut self, message: Message, channel: Channel, attempt: u32) {
        let Some(engine) = self.engine() else { return };
        if let Message::RunTask {
            execution_arn,
            task_id,
        } = &message
        {
            // An invocation that dies after writing its claim leaves the task claimed by
            // nobody: the sweep finds the claim lost once it is older than any invocation
            // lives, and the task runs again.
            let claimed = guarded(|| block_on(engine.claim_task(execution_arn, *task_id)));
            match claimed {
                Guarded::Done(Ok(Claimed::Run {
                    request,
                    kind,
                    timeout_seconds,
                })) => {
                    let arn = execution_arn.clone();
                    let task_id = *task_id;
                    let long = guarded(|| {
                        block_on(engine.run_claimed_long_lambda(
                            &arn,
                            task_id,
                            &request,
                            &kind,
                            timeout_seconds,
                        ))
                    });
                    if !matches!(long, Guarded::Done(None)) {
                        // Lambda runs whatever was invoked, whatever became of the invocation
                        // that invoked it (its lookup may be unwritten: the record then fails
                        // until the lost claim's re-run answers instead).
                        let invoked = self
                            .serverless
                            .as_ref()
                            .map(|s| s.lambda.take())
                            .unwrap_or_default();
                        for request_id in invoked {
                            self.deliver_answer(&request, |result| Action::LambdaResult {
                                request_id: request_id.clone(),
                                result,
                                attempt: 1,
                            });
                        }
                        if matches!(long, Guarded::Done(Some(Err(_))) | Guarded::Crashed) {
                            self.redeliver(message, channel, attempt);
                        }
                        return;
                    }
                    self.deliver_answer(&request, |result| Action::TaskAnswer {
                        message: message.clone(),
                        attempt,
                        arn: arn.clone(),
                        task_id,
                        kind: kind.clone(),
                        result,
                    });
                }
                Guarded::Done(Ok(Claimed::Skip(_))) => {}
                Guarded::Done(Err(_)) | Guarded::Crashed => {
                    self.redeliver(message, channel, attempt)
                }
            }
            return;
        }
        let handled = guarded(|| block_on(engine.handle(message.clone())));
        match handled {
            Guarded::Done(Ok(_)) => {
                if self.roll("crash_before_ack", self.plan().crash_before_ack) {
                    self.redeliver(message, channel, attempt);
                }
            }
            Guarded::Done(Err(_)) | Guarded::Crashed => self.redeliver(message, channel, attempt),
        }
    }

    /// The end of a task's advance invocation: its answer applied. If that fails the
    /// invocation fails, and the bus retries the task run message.
    fn task_answer(
        &mut self,
        message: Message,
        attempt: u32,
        arn: &str,
        task_id: TaskId,
        kind: &ResourceKind,
        result: Result<Value, TaskFailure>,
    ) {
        let Some(engine) = self.engine() else { return };
        // A process death here loses this answer; the claim it held is found lost by the
        // sweep and the task runs again (at least once; the first answer applied wins). Not
        // for a callback task: its answer is only `TaskSubmitted`, and a worker may answer
        // the token meanwhile, ending the task with no `TaskSubmitted` in the history (the
        // known difference from the fault-free run; the outcome is the same).
        let callback = matches!(
            kind,
            ResourceKind::Service {
                pattern: IntegrationPattern::WaitForTaskToken | IntegrationPattern::Sync,
                ..
            }
        );
        self.lock_dice().no_crash = callback;
        let applied = guarded(|| block_on(engine.finish_task(arn, task_id, kind, result)));
        self.lock_dice().no_crash = false;
        match applied {
            Guarded::Done(Ok(_)) => {}
            Guarded::Done(Err(_)) | Guarded::Crashed => {
                self.redeliver(message, Channel::Bus, attempt)
            }
        }
    }

    /// A long task's destination event: applied, or tried again later as EventBridge does.
    fn lambda_result(
        &mut self,
        request_id: String,
        result: Result<Value, TaskFailure>,
        attempt: u32,
    ) {
        let Some(engine) = self.engine() else { return };
        let (detail_type, function_error, response_payload) = match &result {
            Ok(payload) => (SUCCESS_DETAIL_TYPE, None, payload.clone()),
            Err(failure) => (
                FAILURE_DETAIL_TYPE,
                Some("Unhandled".to_string()),
                json!({"errorType": failure.error, "errorMessage": failure.cause}),
            ),
        };
        let record = InvocationRecord {
            request_context: RequestContext {
                request_id: request_id.clone(),
                function_arn: String::new(),
                condition: String::new(),
            },
            response_context: ResponseContext {
                executed_version: None,
                function_error,
            },
            response_payload,
        };
        let applied = guarded(|| block_on(engine.lambda_result(detail_type, record.clone())));
        if matches!(applied, Guarded::Done(Ok(_))) || attempt >= RESULT_ATTEMPTS {
            return;
        }
        self.after(
            60_000 * i64::from(attempt),
            Action::LambdaResult {
                request_id,
                result,
                attempt: attempt + 1,
            },
        );
    }

    fn sweep(&mut self) {
        if let Some(engine) = self.engine() {
            // The first page; the engine sends the rest as continuation messages on the bus.
            let step = SweepStep::new((SWEEP_GRACE_MS / 1000) as u32);
            let _ = guarded(|| block_on(engine.sweep(step)));
        }
        self.after(SWEEP_EVERY_MS, Action::Sweep);
    }
}

fn label_hash(label: &str) -> u64 {
    cairn_common::entropy::fnv1a(label.as_bytes())
}
