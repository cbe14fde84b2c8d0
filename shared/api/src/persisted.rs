//! How a Standard execution is kept in a [`Store`](cairn_store::Store), shared by every shell
//! that drives one: `cairn serve`'s [`Driver`](crate::Driver) and the serverless `advance`
//! engine. Both read what the other wrote (the API actions describe executions the functions
//! advanced), so the shape and the bookkeeping around one decision live here, once.
//!
//! One decision becomes one store write: the new [`Persisted`] state inside the execution
//! record, its history events, and the [`Effects`] its commands have on the shared tables
//! (timers, activity queue, task tokens). What a shell does after the write is durable is
//! returned as [`Planned`] work; how it does it (threads, queues, buses) is the shell's.

use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_interpreter::{
    Command, Decision, Event, Execution, HistoryEvent, ResourceKind, Status, TaskId, TimerId,
};
use cairn_store::{
    ActivityTaskRecord, Effects, ExecutionRecord, ExecutionStore, StoredEvent, TaskTokenRecord,
    TimerRecord,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::ApiError;

/// The definition an execution runs, as its stored state names it. Updates to the state
/// machine do not change running executions, so the state names the very text it started
/// with: by the key of that text in the store ([`ExecutionStore::put_definition`], kept once
/// and never changed), or by the text itself where the store keeps no definitions (and in
/// every state written before definitions were kept apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Definition {
    /// The text, written into the state.
    Text(Arc<str>),
    /// Kept in the store under `key` ([`definition_key`] of the text); `text` when this
    /// process has it at hand (a state read back has only the key until [`Definition::resolve`]).
    Stored {
        key: Arc<str>,
        text: Option<Arc<str>>,
    },
}

impl Definition {
    /// `text` as an execution started now keeps it: put in `store` under `key` (its
    /// [`definition_key`]) and named by it, or written into the state when the store keeps no
    /// definitions.
    pub fn keep<S: ExecutionStore + ?Sized>(
        store: &S,
        key: &Arc<str>,
        text: &Arc<str>,
    ) -> Result<Definition, ApiError> {
        let kept = store.put_definition(key, text).map_err(|e| {
            ApiError::internal(format!("the definition cannot be saved: store: {e}"))
        })?;
        Ok(Definition::kept(kept, key, text))
    }

    /// The definition of an execution whose store said `kept` at [`ExecutionStore::put_definition`].
    pub fn kept(kept: bool, key: &Arc<str>, text: &Arc<str>) -> Definition {
        if kept {
            Definition::Stored {
                key: Arc::clone(key),
                text: Some(Arc::clone(text)),
            }
        } else {
            Definition::Text(Arc::clone(text))
        }
    }

    /// The key it is kept under in the store, if it is.
    pub fn key(&self) -> Option<&Arc<str>> {
        match self {
            Definition::Text(_) => None,
            Definition::Stored { key, .. } => Some(key),
        }
    }

    /// The text, when the state carries it or this process has it at hand.
    pub fn text(&self) -> Option<&Arc<str>> {
        match self {
            Definition::Text(text) => Some(text),
            Definition::Stored { text, .. } => text.as_ref(),
        }
    }

    /// The text, from the store when only its key is known.
    pub fn resolve<S: ExecutionStore + ?Sized>(&self, store: &S) -> Result<Arc<str>, ApiError> {
        if let Some(text) = self.text() {
            return Ok(Arc::clone(text));
        }
        let key = self.key().map(|key| &**key).unwrap_or_default();
        match store.get_definition(key) {
            Ok(Some(text)) => Ok(Arc::from(text)),
            Ok(None) => Err(missing_definition(key)),
            Err(e) => Err(ApiError::internal(format!(
                "the definition {key} cannot be read: store: {e}"
            ))),
        }
    }
}

/// A state names a definition the store does not have: a damaged or incomplete database.
pub fn missing_definition(key: &str) -> ApiError {
    ApiError::internal(format!(
        "the definition {key} an execution runs is missing from the store"
    ))
}

/// The key a definition is kept under: the SHA-256 of its text, in hex. Content-addressed, so
/// executions of one definition share it and a key never names two texts.
pub fn definition_key(text: &str) -> String {
    use sha2::Digest;
    cairn_common::hex::encode(&sha2::Sha256::digest(text.as_bytes()))
}

/// What the store keeps for a Standard execution beyond the decider's state: the definition
/// it runs, the tasks it waits on (to re-dispatch them after a restart and to retire their
/// tokens) and its timers.
#[derive(Debug)]
pub struct Persisted {
    pub execution: Execution,
    pub definition: Definition,
    pub tasks: BTreeMap<TaskId, OpenTask>,
    pub timers: BTreeMap<TimerId, i64>,
    /// The `.sync` task that started this execution and waits for its end, in a shell where
    /// nothing watches the child (serverless): its end is sent to that task.
    pub parent: Option<ParentTask>,
    /// The `clientToken` of the last RedriveExecution: the same request again is answered
    /// with that redrive instead of making another.
    pub redrive_token: Option<String>,
    /// The version (and alias) StartExecution named, shown by DescribeExecution and
    /// ListExecutions as AWS does (`stateMachineVersionArn`, `stateMachineAliasArn`).
    pub version_arn: Option<String>,
    pub alias_arn: Option<String>,
    /// The mock configuration's test case StartExecution selected (`<arn>#<TestCase>`): kept
    /// so that a restarted server answers the remaining Task states from the same mocks
    /// instead of calling the real services.
    pub test_case: Option<String>,
    /// The X-Ray `traceHeader` StartExecution was given, shown by DescribeExecution as AWS
    /// does. States stored before it was kept decode without it.
    pub trace_header: Option<String>,
    /// The Distributed Map this execution is a child of ([`Command::StartMapRunChild`]): the
    /// write that ends it makes its shell report the end to that parent.
    pub map_run_parent: Option<MapRunParent>,
    /// The child executions the last planned decision stopped (their parent's Map gave up,
    /// or the parent ended): ARNs for the shell to stop once the decision is written.
    pub children_to_stop: Vec<String>,
}

/// A Map Run child's link to the parent that waits for its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapRunParent {
    pub execution_arn: String,
    pub map_run_arn: String,
    /// The parent's task its end is reported to.
    pub task_id: TaskId,
}

/// A `.sync` parent waiting for a child execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentTask {
    /// The parent task's token: it names the parent execution and task.
    pub task_token: String,
    /// `.sync:2` (the child's input and output as JSON) rather than `.sync` (as JSON text).
    pub json_output: bool,
}

impl ParentTask {
    /// The link a StartExecution request carries for a `.sync` parent
    /// (`"cairnParent": {"taskToken": "...", "output": "json" | "text"}`), as the integrations
    /// send it to a shell that does not watch children.
    pub fn from_request(request: &Value) -> Option<ParentTask> {
        let link = request.get(PARENT_FIELD)?;
        Some(ParentTask {
            task_token: link.get("taskToken")?.as_str()?.to_owned(),
            json_output: link.get("output").and_then(Value::as_str) == Some("json"),
        })
    }
}

/// The StartExecution field carrying a [`ParentTask`].
pub const PARENT_FIELD: &str = "cairnParent";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenTask {
    pub command: Command,
    /// `TaskStarted` was applied: the task runs (or ran) somewhere and must not be started
    /// again, after a restart or by a redelivered message.
    pub started: bool,
    /// When the decision that asked for the task was written: a shell can tell a task whose
    /// start message was lost from one whose message is merely on its way.
    #[serde(default)]
    pub scheduled_ms: i64,
    /// `TaskSubmitted` was applied: a second answer of the call (a re-run after a restart,
    /// a duplicate) must not record it again.
    #[serde(default)]
    pub submitted: bool,
    /// When the task was last claimed to run (epoch ms; 0 when unknown): a claim older than
    /// the longest an invocation can live was lost with its invocation, and the task may run
    /// again (at least once; the first answer applied wins).
    #[serde(default)]
    pub started_ms: i64,
}

/// A Distributed Map child as every shell starts it ([`Command::StartMapRunChild`]): its
/// first decision on the parent's compiled machine, its state linked to the parent's task,
/// the record to write (before [`Persisted::record`] fills it) and its input as stored.
pub struct NewMapRunChild {
    pub persisted: Persisted,
    pub decision: Decision,
    pub record: ExecutionRecord,
    pub input_text: String,
}

impl NewMapRunChild {
    /// `definition` is the parent's (the child runs on it from `start.processor`, and its state
    /// names it as the parent's does); `seed` the child's first decision seed; `capabilities`
    /// the shell's.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        machine: &cairn_interpreter::Machine,
        definition: &Definition,
        parent: &str,
        role_arn: &str,
        start: &cairn_interpreter::MapRunChildStart,
        now: i64,
        seed: u64,
        capabilities: cairn_interpreter::Capabilities,
    ) -> Result<NewMapRunChild, ApiError> {
        let machine_name = start
            .state_machine_arn
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_string();
        let info = cairn_interpreter::ExecutionInfo {
            execution_arn: start.execution_arn.clone(),
            name: start.name.clone(),
            state_machine_arn: start.state_machine_arn.clone(),
            state_machine_name: machine_name,
            role_arn: role_arn.to_string(),
            start_time_ms: now,
            machine_type: start.machine_type,
            redrive_count: Some(0),
        };
        let ctx = cairn_interpreter::Context { now_ms: now, seed };
        let (execution, decision) = Execution::start_map_run_child(
            machine,
            start.processor,
            start.input.clone(),
            info,
            &ctx,
            capabilities,
        );
        let mut persisted = Persisted::new(execution, definition.clone());
        persisted.map_run_parent = Some(MapRunParent {
            execution_arn: parent.to_string(),
            map_run_arn: start.map_run_arn.clone(),
            task_id: start.task_id,
        });
        let input_text = serde_json::to_string(&start.input)
            .map_err(|e| ApiError::internal(format!("a child's input cannot be saved: {e}")))?;
        let record = ExecutionRecord {
            arn: start.execution_arn.clone(),
            state_machine_arn: start.state_machine_arn.clone(),
            name: start.name.clone(),
            status: String::new(),
            start_ms: now,
            stop_ms: None,
            summary: Value::Null,
            state: Vec::new(),
        };
        Ok(NewMapRunChild {
            persisted,
            decision,
            record,
            input_text,
        })
    }
}

impl Persisted {
    /// What the write that ended a Map Run child tells its parent: (parent ARN, the task
    /// event [`Execution::map_run_child_end`] makes of the child's end); None for a running
    /// child or an execution that is no child.
    pub fn map_run_end(&self) -> Option<(String, Event)> {
        let link = self.map_run_parent.as_ref()?;
        let event = self.execution.map_run_child_end(link.task_id)?;
        Some((link.execution_arn.clone(), event))
    }
}

impl Persisted {
    /// The command open task `task_id` carries out, as the decision asked for it: a
    /// ResultWriter's request (kept without its files, see [`Persisted::plan`]) rendered again
    /// from the execution. Every shell sends an open task again through this.
    pub fn command_to_run(&self, task_id: TaskId) -> Option<Command> {
        let mut command = self.tasks.get(&task_id)?.command.clone();
        if let Command::InvokeTask { input, .. } = &mut command {
            if let Some(request) = self.execution.result_write_request(task_id) {
                *input = request;
            }
        }
        Some(command)
    }

    /// The command an open task keeps: as decided, but a ResultWriter's write without its
    /// request (the files of a 100,000-child Map Run took ~70 MB of the parent's state, past
    /// what the DynamoDB store reads back); [`Persisted::command_to_run`] renders it.
    fn open_form(&self, command: &Command) -> Command {
        match command {
            Command::InvokeTask {
                task_id,
                state_name,
                resource,
                kind,
                input: _,
                timeout_seconds,
                heartbeat_seconds,
                task_token,
                credentials,
            } if self.execution.writes_results(*task_id) => Command::InvokeTask {
                task_id: *task_id,
                state_name: state_name.clone(),
                resource: resource.clone(),
                kind: kind.clone(),
                input: Value::Null,
                timeout_seconds: *timeout_seconds,
                heartbeat_seconds: *heartbeat_seconds,
                task_token: task_token.clone(),
                credentials: credentials.clone(),
            },
            other => other.clone(),
        }
    }
}

impl OpenTask {
    /// Whether the task was claimed by a run that must have died by `now`: started, its call
    /// not yet answered (a submitted callback waits for its token legitimately), and claimed
    /// longer than `claim_timeout_ms` ago. Activities are claimed by workers, not runs.
    pub fn claim_lost(&self, now: i64, claim_timeout_ms: i64) -> bool {
        self.started
            && !self.submitted
            && !self.is_activity()
            && now - self.started_ms > claim_timeout_ms
    }

    /// An activity task: workers take it from the queue, no run of the shell's.
    pub fn is_activity(&self) -> bool {
        matches!(
            self.command,
            Command::InvokeTask {
                kind: ResourceKind::Activity,
                ..
            }
        )
    }
}

/// Work a committed decision asks the shell to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Planned {
    /// Run a Lambda or service task (the command is an [`Command::InvokeTask`]).
    Invoke {
        task_id: TaskId,
        command: Box<Command>,
    },
    /// Fire `timer_id` at `fire_at_ms`.
    Timer { timer_id: TimerId, fire_at_ms: i64 },
    /// An activity task was queued: wake the workers polling for one.
    ActivityQueued,
}

impl Persisted {
    /// A new execution's state, before its first decision is planned.
    pub fn new(execution: Execution, definition: Definition) -> Persisted {
        Persisted {
            execution,
            definition,
            tasks: BTreeMap::new(),
            timers: BTreeMap::new(),
            parent: None,
            redrive_token: None,
            version_arn: None,
            alias_arn: None,
            test_case: None,
            trace_header: None,
            map_run_parent: None,
            children_to_stop: Vec::new(),
        }
    }

    /// The state stored in an execution record, in the form [`Persisted::record`] writes
    /// or in the complete form earlier versions wrote.
    pub fn decode(record: &ExecutionRecord) -> Result<Persisted, ApiError> {
        let unreadable = |e: serde_json::Error| {
            ApiError::internal(format!(
                "stored execution state of {} is unreadable: {e}",
                record.arn
            ))
        };
        let mut loaded: Loaded = serde_json::from_slice(&record.state).map_err(unreadable)?;
        if let Some(execution) = loaded.execution.as_object_mut() {
            restore_execution(execution, record);
        }
        let definition = match (loaded.definition_key, loaded.definition) {
            (Some(key), text) => Definition::Stored {
                key: Arc::from(key),
                text: text.map(Arc::from),
            },
            (None, Some(text)) => Definition::Text(Arc::from(text)),
            (None, None) => {
                return Err(ApiError::internal(format!(
                    "stored execution state of {} names no definition",
                    record.arn
                )))
            }
        };
        Ok(Persisted {
            execution: serde_json::from_value(loaded.execution).map_err(unreadable)?,
            definition,
            tasks: loaded.tasks,
            timers: loaded.timers,
            parent: loaded.parent,
            redrive_token: loaded.redrive_token,
            version_arn: loaded.version_arn,
            alias_arn: loaded.alias_arn,
            test_case: loaded.test_case,
            trace_header: loaded.trace_header,
            map_run_parent: loaded.map_run_parent,
            children_to_stop: Vec::new(),
        })
    }

    fn arn(&self) -> &str {
        &self.execution.info().execution_arn
    }

    /// When `event` takes effect: now, but a timer never before its fire time (clocks differ
    /// and step back; SQS rounds delays to seconds, Scheduler to minutes) and nothing before
    /// the execution started. Read it before [`Persisted::prepare`] closes the timer.
    pub fn effective_time(&self, event: &Event, now_ms: i64, start_ms: i64) -> i64 {
        let not_before = match event {
            Event::TimerFired { timer_id } => self.timers.get(timer_id).copied().unwrap_or(0),
            _ => 0,
        };
        now_ms.max(not_before).max(start_ms)
    }

    /// Whether the event still concerns something open in this state; anything else is a
    /// duplicate or stale delivery that must change nothing.
    pub fn still_open(&self, event: &Event) -> bool {
        match event {
            Event::TimerFired { timer_id } => self.timers.contains_key(timer_id),
            Event::TaskStarted { task_id, .. } => {
                self.tasks.get(task_id).is_some_and(|task| !task.started)
            }
            Event::TaskSubmitted { task_id, .. } => {
                self.tasks.get(task_id).is_some_and(|task| !task.submitted)
            }
            Event::TaskSucceeded { task_id, .. }
            | Event::TaskFailed { task_id, .. }
            | Event::Heartbeat { task_id } => self.tasks.contains_key(task_id),
            Event::Stop { .. }
            | Event::MachineDeleted
            | Event::Redrive
            | Event::UpdateMapRun { .. } => true,
        }
    }

    /// Store effects of the event itself: a fired timer is gone, a finished task retires its
    /// token, a started task is not started again.
    pub fn prepare(&mut self, event: &Event, effects: &mut Effects) {
        match event {
            Event::TimerFired { timer_id } => {
                self.timers.remove(timer_id);
                effects.timers_remove.push(TimerRecord {
                    fire_at_ms: 0,
                    execution_arn: self.arn().to_string(),
                    timer_id: *timer_id,
                });
            }
            Event::TaskSucceeded { task_id, .. } | Event::TaskFailed { task_id, .. } => {
                self.retire(*task_id, effects);
            }
            Event::TaskStarted { task_id, .. } => {
                if let Some(task) = self.tasks.get_mut(task_id) {
                    task.started = true;
                }
            }
            Event::TaskSubmitted { task_id, .. } => {
                if let Some(task) = self.tasks.get_mut(task_id) {
                    task.submitted = true;
                }
            }
            Event::Heartbeat { .. }
            | Event::Stop { .. }
            | Event::MachineDeleted
            | Event::Redrive
            | Event::UpdateMapRun { .. } => {}
        }
    }

    /// A task no longer wanted: retired, and a child execution stopped.
    fn cancel(&mut self, task_id: TaskId, effects: &mut Effects) {
        if let Some(OpenTask {
            command: Command::StartMapRunChild(start),
            ..
        }) = self.tasks.get(&task_id)
        {
            self.children_to_stop.push(start.execution_arn.clone());
        }
        self.retire(task_id, effects);
    }

    fn retire(&mut self, task_id: TaskId, effects: &mut Effects) {
        let Some(task) = self.tasks.remove(&task_id) else {
            return;
        };
        if let Command::InvokeTask {
            task_token: Some(token),
            kind,
            ..
        } = task.command
        {
            if kind == ResourceKind::Activity {
                effects.activity_tasks_remove.push(token.clone());
            }
            effects.tokens_remove.push(token);
        }
    }

    /// Records the decision's commands in this state and as store effects (written with
    /// it), and returns the work to do once that write is durable, each task with the
    /// command to carry out.
    pub fn plan(&mut self, decision: &Decision, now: i64, effects: &mut Effects) -> Vec<Planned> {
        self.plan_with(decision, now, effects, true)
    }

    /// [`Persisted::plan`] for a shell that runs each task later from the stored state
    /// ([`Persisted::command_to_run`], the serverless engine's `RunTask`): a task's work item
    /// carries the command as the open task keeps it, so a ResultWriter's request (68 MB of
    /// files for a 100,000-child Map Run) is not copied into work the shell never reads.
    pub fn plan_by_task(
        &mut self,
        decision: &Decision,
        now: i64,
        effects: &mut Effects,
    ) -> Vec<Planned> {
        self.plan_with(decision, now, effects, false)
    }

    fn plan_with(
        &mut self,
        decision: &Decision,
        now: i64,
        effects: &mut Effects,
        with_commands: bool,
    ) -> Vec<Planned> {
        let arn = self.arn().to_string();
        if let Some(what) = &decision.nondeterminism {
            // Never the workflow's fault (a corrupted row, a definition changed under a
            // running execution): the operator must hear of it, not only the execution's cause.
            eprintln!("cairn: {arn}: the execution state contradicts its definition: {what}");
        }
        let mut planned = Vec::new();
        for command in &decision.commands {
            match command {
                Command::InvokeTask {
                    task_id,
                    resource,
                    kind,
                    input,
                    task_token,
                    ..
                } => {
                    let open = self.open_form(command);
                    let dispatched = if with_commands {
                        command.clone()
                    } else {
                        open.clone()
                    };
                    self.tasks.insert(
                        *task_id,
                        OpenTask {
                            command: open,
                            started: false,
                            scheduled_ms: now,
                            submitted: false,
                            started_ms: 0,
                        },
                    );
                    if let Some(token) = task_token {
                        effects.tokens_add.push(TaskTokenRecord {
                            token: token.clone(),
                            execution_arn: arn.clone(),
                            task_id: *task_id,
                        });
                    }
                    match (kind, task_token) {
                        // Activities wait in the queue for a GetActivityTask poller.
                        (ResourceKind::Activity, Some(token)) => {
                            effects.activity_tasks_add.push(ActivityTaskRecord {
                                activity_arn: resource.clone(),
                                task_token: token.clone(),
                                execution_arn: arn.clone(),
                                task_id: *task_id,
                                input: serde_json::to_string(input).unwrap_or_else(|_| "{}".into()),
                                created_ms: now,
                            });
                            planned.push(Planned::ActivityQueued);
                        }
                        _ => planned.push(Planned::Invoke {
                            task_id: *task_id,
                            command: Box::new(dispatched),
                        }),
                    }
                }
                Command::StartTimer {
                    timer_id,
                    fire_at_ms,
                } => {
                    self.timers.insert(*timer_id, *fire_at_ms);
                    effects.timers_add.push(TimerRecord {
                        fire_at_ms: *fire_at_ms,
                        execution_arn: arn.clone(),
                        timer_id: *timer_id,
                    });
                    planned.push(Planned::Timer {
                        timer_id: *timer_id,
                        fire_at_ms: *fire_at_ms,
                    });
                }
                Command::CancelTimer { timer_id } => {
                    // A timer already handed to a wheel or queue stays there; when it fires
                    // it finds the timer closed and is dropped.
                    self.timers.remove(timer_id);
                    effects.timers_remove.push(TimerRecord {
                        fire_at_ms: 0,
                        execution_arn: arn.clone(),
                        timer_id: *timer_id,
                    });
                }
                Command::CancelTask { task_id } => self.cancel(*task_id, effects),
                Command::StartMapRunChild(start) => {
                    // Started by the shell from the decision; kept open until its end is
                    // reported, so a restart starts it again if it never was.
                    self.tasks.insert(
                        start.task_id,
                        OpenTask {
                            command: command.clone(),
                            started: false,
                            scheduled_ms: now,
                            submitted: false,
                            started_ms: 0,
                        },
                    );
                }
                Command::Finish { .. } => {}
            }
        }
        if self.execution.status() != Status::Running {
            // Nothing waits any more: drop what the execution still had open.
            let open: Vec<TaskId> = self.tasks.keys().copied().collect();
            for task_id in open {
                self.cancel(task_id, effects);
            }
            for timer_id in std::mem::take(&mut self.timers).into_keys() {
                effects.timers_remove.push(TimerRecord {
                    fire_at_ms: 0,
                    execution_arn: arn.clone(),
                    timer_id,
                });
            }
            planned.retain(|work| matches!(work, Planned::ActivityQueued));
        }
        planned
    }

    /// The record to write: status, summary (for DescribeExecution without reading the
    /// history), stop time once ended, and this state.
    pub fn record(
        &self,
        mut record: ExecutionRecord,
        input_text: &str,
        now: i64,
    ) -> Result<ExecutionRecord, ApiError> {
        let status = self.execution.status();
        record.status = status.as_aws_str().to_string();
        // Status changes not yet confirmed as sent stay marked whoever writes next (here the
        // serverless api function's activity claim): only the outbox's confirmation clears one.
        let unsent = cairn_store::unsent_marks(&record);
        record.summary = summary(&self.execution, input_text);
        cairn_store::set_unsent_marks(&mut record, &unsent);
        if let Some(version) = &self.version_arn {
            record.summary["stateMachineVersionArn"] = Value::from(version.clone());
        }
        if let Some(alias) = &self.alias_arn {
            record.summary["stateMachineAliasArn"] = Value::from(alias.clone());
        }
        if let Some(link) = &self.map_run_parent {
            record.summary["mapRunArn"] = Value::from(link.map_run_arn.clone());
            // What DescribeStateMachineForExecution shows of a child, as for a stored one.
            record.summary["roleArn"] = Value::from(self.execution.info().role_arn.clone());
            if status != Status::Running && status != Status::Succeeded {
                record.summary[crate::redrive::BLOCKER_FIELD] =
                    Value::from(crate::map_runs::CHILD_NOT_REDRIVABLE);
            }
        }
        if let Some(header) = &self.trace_header {
            record.summary["traceHeader"] = Value::from(header.clone());
        }
        if status != Status::Running && record.stop_ms.is_none() {
            record.stop_ms = Some(now);
        }
        record.state = self
            .encode(&record)
            .map_err(|e| ApiError::internal(format!("the execution state cannot be saved: {e}")))?;
        Ok(record)
    }

    /// This state without what `record` already says (the execution's ARN, name, machine
    /// and start time) and without the decider's empty fields and default limits: a closed
    /// B4 execution's state 1,045 -> 554 bytes. [`Persisted::decode`] puts them back. Only the
    /// decider's state goes through a `Value` (its fields are the interpreter's); the rest is
    /// written as it is.
    fn encode(&self, record: &ExecutionRecord) -> serde_json::Result<Vec<u8>> {
        let mut execution = serde_json::to_value(&self.execution)?;
        if let Some(execution) = execution.as_object_mut() {
            execution.retain(|field, value| match (field.as_str(), &*value) {
                ("output" | "error" | "cause", Value::Null) => false,
                ("threads" | "tasks" | "timers", Value::Object(map)) => !map.is_empty(),
                ("limits", limits) => limits != default_limits(),
                _ => true,
            });
            if let Some(info) = execution.get_mut("info").and_then(Value::as_object_mut) {
                info.retain(|field, value| !implied_by(record, field, value));
            }
        }
        let (definition, definition_key) = match &self.definition {
            Definition::Text(text) => (Some(&**text), None),
            Definition::Stored { key, .. } => (None, Some(&**key)),
        };
        serde_json::to_vec(&Stored {
            execution,
            definition,
            definition_key,
            tasks: &self.tasks,
            timers: &self.timers,
            parent: &self.parent,
            redrive_token: &self.redrive_token,
            version_arn: &self.version_arn,
            alias_arn: &self.alias_arn,
            test_case: &self.test_case,
            trace_header: &self.trace_header,
            map_run_parent: &self.map_run_parent,
        })
    }
}

/// [`Persisted`] as [`Persisted::encode`] writes it, under the same field names.
#[derive(Serialize)]
struct Stored<'a> {
    execution: Value,
    /// The text, where the store keeps no definitions; otherwise only `definition_key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    definition: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    definition_key: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tasks: &'a BTreeMap<TaskId, OpenTask>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    timers: &'a BTreeMap<TimerId, i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: &'a Option<ParentTask>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redrive_token: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_arn: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alias_arn: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    test_case: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_header: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    map_run_parent: &'a Option<MapRunParent>,
}

/// A stored [`Persisted`] in either form, the decider's state still to be completed.
#[derive(Deserialize)]
struct Loaded {
    execution: Value,
    #[serde(default)]
    definition: Option<String>,
    #[serde(default)]
    definition_key: Option<String>,
    #[serde(default)]
    tasks: BTreeMap<TaskId, OpenTask>,
    #[serde(default)]
    timers: BTreeMap<TimerId, i64>,
    #[serde(default)]
    parent: Option<ParentTask>,
    #[serde(default)]
    redrive_token: Option<String>,
    #[serde(default)]
    version_arn: Option<String>,
    #[serde(default)]
    alias_arn: Option<String>,
    #[serde(default)]
    test_case: Option<String>,
    #[serde(default)]
    trace_header: Option<String>,
    #[serde(default)]
    map_run_parent: Option<MapRunParent>,
}

/// The decider's maps that a closed or simple execution leaves empty.
const EMPTY_BY_DEFAULT: [&str; 3] = ["threads", "tasks", "timers"];

fn default_limits() -> &'static Value {
    static LIMITS: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    LIMITS.get_or_init(|| {
        serde_json::to_value(cairn_interpreter::Limits::default()).unwrap_or(Value::Null)
    })
}

/// The execution info fields an execution record says already.
const IMPLIED_INFO: [&str; 5] = [
    "execution_arn",
    "name",
    "state_machine_arn",
    "state_machine_name",
    "start_time_ms",
];

/// Whether an execution info field holds what `record` says of it.
fn implied_by(record: &ExecutionRecord, field: &str, value: &Value) -> bool {
    match field {
        "start_time_ms" => value.as_i64() == Some(record.start_ms),
        _ => value
            .as_str()
            .is_some_and(|text| implied_text(record, field).is_some_and(|implied| implied == text)),
    }
}

fn implied_text<'a>(record: &'a ExecutionRecord, field: &str) -> Option<&'a str> {
    match field {
        "execution_arn" => Some(&record.arn),
        "name" => Some(&record.name),
        "state_machine_arn" => Some(&record.state_machine_arn),
        "state_machine_name" => record.state_machine_arn.rsplit(':').next(),
        _ => None,
    }
}

/// Puts back what [`Persisted::encode`] left out; a field present (every field of the
/// earlier complete form) is kept as stored.
fn restore_execution(execution: &mut serde_json::Map<String, Value>, record: &ExecutionRecord) {
    for field in EMPTY_BY_DEFAULT {
        if !execution.contains_key(field) {
            execution.insert(field.into(), Value::Object(serde_json::Map::new()));
        }
    }
    if !execution.contains_key("limits") {
        execution.insert("limits".into(), default_limits().clone());
    }
    if let Some(info) = execution.get_mut("info").and_then(Value::as_object_mut) {
        for field in IMPLIED_INFO {
            if !info.contains_key(field) {
                let implied = match field {
                    "start_time_ms" => Value::from(record.start_ms),
                    _ => Value::from(implied_text(record, field).unwrap_or_default()),
                };
                info.insert(field.into(), implied);
            }
        }
    }
}

/// The execution input a record keeps in its summary.
pub fn input_text(record: &ExecutionRecord) -> &str {
    record
        .summary
        .get("input")
        .and_then(Value::as_str)
        .unwrap_or("{}")
}

fn summary(execution: &Execution, input_text: &str) -> Value {
    let mut summary = json!({ "input": input_text });
    if let Some(output) = execution.output() {
        summary["output"] = Value::String(serde_json::to_string(output).unwrap_or_default());
    }
    if let Some(error) = execution.error() {
        summary["error"] = Value::String(error.to_string());
    }
    if let Some(cause) = execution.cause() {
        summary["cause"] = Value::String(cause.to_string());
    }
    // What DescribeExecution and ListExecutions show of redrives, without decoding the state.
    summary["redriveCount"] = Value::from(execution.redrive_count());
    if let Some(redriven) = execution.redrive_time_ms() {
        summary["redriveDate"] = Value::from(redriven);
    }
    if matches!(
        execution.status(),
        Status::Failed | Status::TimedOut | Status::Aborted
    ) {
        if let Some(reason) = execution.redrive_blocker() {
            summary[crate::redrive::BLOCKER_FIELD] = Value::from(reason);
        }
    }
    summary
}

/// The decision's history events as the store keeps them: each event's fields as an array in
/// the order [`HistoryEvent`] declares them, `[id, previousEventId, timestampMs, type,
/// details]`. Without the field names an event is about 60 bytes shorter (a B4 execution's
/// history 1,142 -> 680 bytes) and quicker to write; `HistoryEvent`'s derived `Deserialize`
/// reads this form as it reads the object form that earlier versions stored, so every reader
/// (`serde_json::from_str::<HistoryEvent>`) takes both. Written by the interpreter's direct
/// writer, byte for byte serde_json's text of that tuple (what `cairn-bench --render` times).
pub fn stored_history(decision: &Decision) -> Vec<StoredEvent> {
    decision
        .history
        .iter()
        .zip(HistoryEvent::stored_texts(&decision.history))
        .map(|(event, body)| StoredEvent { id: event.id, body })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_interpreter::{Context, ExecutionInfo, Machine, MachineType};

    const ARN: &str = "arn:aws:states:us-east-1:123456789012:execution:m:e";

    /// A definition written into the state, as every state was before definitions were kept
    /// apart (and still is in a store that keeps none).
    fn text(definition: &Value) -> Definition {
        Definition::Text(Arc::from(definition.to_string()))
    }

    /// What versions before the compact form stored: every field, under its own name.
    fn complete_form(persisted: &Persisted) -> String {
        let Definition::Text(definition) = &persisted.definition else {
            panic!("the complete form carried its definition");
        };
        json!({
            "execution": persisted.execution,
            "definition": &**definition,
            "tasks": persisted.tasks,
            "timers": persisted.timers,
        })
        .to_string()
    }

    fn start(definition: Value) -> (Persisted, Decision) {
        let machine = Machine::from_json(&definition).expect("definition");
        let info = ExecutionInfo {
            execution_arn: ARN.into(),
            machine_type: MachineType::Standard,
            redrive_count: Some(0),
            ..ExecutionInfo::default()
        };
        let ctx = Context {
            now_ms: 1_000,
            seed: 7,
        };
        let (execution, decision) = Execution::start(&machine, json!({}), info, &ctx);
        (Persisted::new(execution, text(&definition)), decision)
    }

    #[test]
    fn a_wait_becomes_an_open_timer_and_its_firing_closes_it() {
        let (mut persisted, decision) = start(json!({
            "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "End": true}}
        }));
        let mut effects = Effects::default();
        let planned = persisted.plan(&decision, 1_000, &mut effects);
        let [Planned::Timer {
            timer_id,
            fire_at_ms,
        }] = planned.as_slice()
        else {
            panic!("expected one timer, got {planned:?}");
        };
        assert_eq!(*fire_at_ms, 6_000);
        assert_eq!(effects.timers_add.len(), 1);
        assert_eq!(effects.timers_add[0].execution_arn, ARN);
        let fired = Event::TimerFired {
            timer_id: *timer_id,
        };
        assert!(persisted.still_open(&fired));

        let mut effects = Effects::default();
        persisted.prepare(&fired, &mut effects);
        assert_eq!(effects.timers_remove.len(), 1);
        assert!(
            !persisted.still_open(&fired),
            "a second delivery of the same timer is a duplicate"
        );
    }

    #[test]
    fn an_activity_task_is_queued_with_its_token_and_retired_when_it_ends() {
        let activity = "arn:aws:states:us-east-1:123456789012:activity:work";
        let (mut persisted, decision) = start(json!({
            "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": activity, "End": true}}
        }));
        let mut effects = Effects::default();
        let planned = persisted.plan(&decision, 1_000, &mut effects);
        assert_eq!(planned, [Planned::ActivityQueued]);
        assert_eq!(effects.activity_tasks_add.len(), 1);
        assert_eq!(effects.activity_tasks_add[0].activity_arn, activity);
        assert_eq!(effects.tokens_add.len(), 1);
        let task_id = effects.tokens_add[0].task_id;
        assert_eq!(persisted.tasks[&task_id].scheduled_ms, 1_000);

        let started = Event::TaskStarted {
            task_id,
            worker_name: Some("w".into()),
        };
        assert!(persisted.still_open(&started));
        persisted.prepare(&started, &mut Effects::default());
        assert!(
            !persisted.still_open(&started),
            "a task starts once: a second claim is stale"
        );

        let mut effects = Effects::default();
        persisted.prepare(
            &Event::TaskSucceeded {
                task_id,
                output: json!({}),
            },
            &mut effects,
        );
        assert_eq!(effects.tokens_remove.len(), 1);
        assert_eq!(effects.activity_tasks_remove.len(), 1);
        assert!(persisted.tasks.is_empty());
    }

    #[test]
    fn an_ended_execution_plans_no_work_and_keeps_its_output_in_the_record() {
        let (mut persisted, decision) = start(json!({
            "StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"x": 1}, "End": true}}
        }));
        let mut effects = Effects::default();
        assert!(persisted.plan(&decision, 1_000, &mut effects).is_empty());
        assert!(effects.is_empty());
        let record = ExecutionRecord {
            arn: ARN.into(),
            state_machine_arn: String::new(),
            name: "e".into(),
            status: String::new(),
            start_ms: 1_000,
            stop_ms: None,
            summary: Value::Null,
            state: Vec::new(),
        };
        let record = persisted.record(record, "{}", 2_000).expect("record");
        assert_eq!(record.status, "SUCCEEDED");
        assert_eq!(record.stop_ms, Some(2_000));
        assert_eq!(record.summary["output"], "{\"x\":1}");
        assert_eq!(input_text(&record), "{}");
        let back = Persisted::decode(&record).expect("decode");
        assert_eq!(back.execution.output(), Some(&json!({"x": 1})));
    }

    #[test]
    fn a_result_write_is_kept_open_without_its_files_and_sent_again_whole() {
        let definition = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "ItemsPath": "$.rows", "Label": "Rows",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true,
                    "Parameters": {"row.$": "$", "text": "written in a result file"}}}},
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                "Parameters": {"Bucket": "b", "Prefix": "out"}}}}});
        let machine = Machine::from_json(&definition).expect("definition");
        let info = ExecutionInfo {
            execution_arn: ARN.into(),
            name: "e".into(),
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
            state_machine_name: "m".into(),
            machine_type: MachineType::Standard,
            ..ExecutionInfo::default()
        };
        let ctx = Context {
            now_ms: 1_000,
            seed: 7,
        };
        let rows: Vec<u64> = (0..200).collect();
        let (execution, decision) = Execution::start(&machine, json!({"rows": rows}), info, &ctx);
        let mut persisted = Persisted::new(execution, text(&definition));
        let planned = persisted.plan(&decision, 1_000, &mut Effects::default());
        let decided = decision
            .commands
            .iter()
            .find(|c| matches!(c, Command::InvokeTask { .. }))
            .expect("the write")
            .clone();
        let Command::InvokeTask { task_id, .. } = decided else {
            unreachable!()
        };
        // The first dispatch carries the decision's request, files and all.
        assert_eq!(
            planned,
            [Planned::Invoke {
                task_id,
                command: Box::new(decided.clone()),
            }]
        );
        let record = persisted
            .record(empty_record(ARN, "e"), "{}", 1_000)
            .expect("record");
        // No file's key, body or record (the children's outputs are kept once, as results).
        let stored = String::from_utf8_lossy(&record.state);
        for file_text in ["Body", "SUCCEEDED_0.json", "ExecutionArn"] {
            assert!(!stored.contains(file_text), "{file_text} in {stored}");
        }

        // Read back (a restart, the serverless claim): the same request, rendered again.
        let back = Persisted::decode(&record).expect("decode");
        assert_eq!(back.command_to_run(task_id), Some(decided.clone()));
        assert_eq!(back.command_to_run(task_id + 1), None);
        let Some(Command::InvokeTask { input, .. }) = back.command_to_run(task_id) else {
            panic!("no write");
        };
        assert!(input["Objects"][0]["Body"]
            .as_str()
            .is_some_and(|body| body.contains("written in a result file")));

        // A shell that runs the task from the stored state gets no copy of the files.
        let mut by_task = Persisted::decode(&record).expect("decode");
        by_task.tasks.clear();
        let planned = by_task.plan_by_task(&decision, 1_000, &mut Effects::default());
        let [Planned::Invoke {
            task_id: id,
            command,
        }] = planned.as_slice()
        else {
            panic!("{planned:?}");
        };
        assert_eq!(*id, task_id);
        assert!(
            matches!(
                &**command,
                Command::InvokeTask {
                    input: Value::Null,
                    ..
                }
            ),
            "{command:?}"
        );
        assert_eq!(by_task.command_to_run(task_id), Some(decided));
    }

    fn empty_record(arn: &str, name: &str) -> ExecutionRecord {
        ExecutionRecord {
            arn: arn.into(),
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
            name: name.into(),
            status: String::new(),
            start_ms: 1_000,
            stop_ms: None,
            summary: Value::Null,
            state: Vec::new(),
        }
    }

    fn started(definition: Value) -> Persisted {
        let machine = Machine::from_json(&definition).expect("definition");
        let info = ExecutionInfo {
            execution_arn: ARN.into(),
            name: "e".into(),
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
            state_machine_name: "m".into(),
            role_arn: "arn:aws:iam::123456789012:role/r".into(),
            start_time_ms: 1_000,
            machine_type: MachineType::Standard,
            redrive_count: Some(0),
        };
        let ctx = Context {
            now_ms: 1_000,
            seed: 7,
        };
        let (execution, decision) = Execution::start(&machine, json!({"n": 1}), info, &ctx);
        let mut persisted = Persisted::new(execution, text(&definition));
        persisted.plan(&decision, 1_000, &mut Effects::default());
        persisted
    }

    #[test]
    fn the_stored_state_leaves_out_what_the_record_says_and_reads_back_whole() {
        let waiting = started(json!({
            "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "End": true}}
        }));
        let ended = started(json!({
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}
        }));
        assert!(!waiting.timers.is_empty());
        assert_eq!(ended.execution.status(), Status::Succeeded);
        for persisted in [waiting, ended] {
            let record = persisted
                .record(empty_record(ARN, "e"), "{\"n\":1}", 2_000)
                .expect("record");
            let text = String::from_utf8(record.state.clone()).expect("text");
            let complete = complete_form(&persisted);
            for implied in [
                ARN,
                "stateMachine:m",
                "\"name\"",
                "\"state_machine_name\"",
                "start_time_ms",
                "limits",
                "\"output\":null",
                "\"tasks\":{}",
            ] {
                assert!(
                    !text.contains(implied),
                    "{implied} is stored again in {text}"
                );
            }
            assert!(text.len() + 250 < complete.len(), "{text} vs {complete}");
            let back = Persisted::decode(&record).expect("decode");
            assert_eq!(back.execution, persisted.execution);
            assert_eq!(back.definition, persisted.definition);
            assert_eq!(back.timers, persisted.timers);

            // What earlier versions stored: every field, whatever the record says.
            let mut earlier = record.clone();
            earlier.state = complete.into_bytes();
            let back = Persisted::decode(&earlier).expect("decode the complete form");
            assert_eq!(back.execution, persisted.execution);
        }
    }

    #[test]
    fn the_trace_header_is_kept_in_the_state_and_shown_in_the_summary() {
        let mut persisted = started(json!({
            "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "End": true}}
        }));
        let before = persisted
            .record(empty_record(ARN, "e"), "{}", 1_000)
            .expect("record");
        assert!(before.summary.get("traceHeader").is_none());
        // A state stored before the header was kept reads back without one.
        assert_eq!(
            Persisted::decode(&before).expect("decode").trace_header,
            None
        );
        persisted.trace_header = Some("Root=1-5759e988-bd862e3fe1be46a994272793".into());
        let record = persisted
            .record(empty_record(ARN, "e"), "{}", 1_000)
            .expect("record");
        assert_eq!(
            record.summary["traceHeader"],
            "Root=1-5759e988-bd862e3fe1be46a994272793"
        );
        let back = Persisted::decode(&record).expect("decode");
        assert_eq!(back.trace_header, persisted.trace_header);
    }

    #[test]
    fn a_kept_definition_is_named_by_its_key_and_found_again_in_the_store() {
        let definition = json!({
            "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "End": true}}
        });
        let mut persisted = started(definition.clone());
        let text: Arc<str> = Arc::from(definition.to_string());
        let key: Arc<str> = Arc::from(definition_key(&text));
        assert_eq!(key.len(), 64);
        assert_ne!(&*key, definition_key("{}"));
        let store = cairn_store::MemoryStore::new();
        persisted.definition = Definition::keep(&store, &key, &text).expect("keep");
        let record = persisted
            .record(empty_record(ARN, "e"), "{}", 1_000)
            .expect("record");
        let state = String::from_utf8(record.state.clone()).expect("text");
        assert!(!state.contains("StartAt"), "{state}");
        assert!(state.contains(&*key), "{state}");
        let back = Persisted::decode(&record).expect("decode");
        assert_eq!(
            back.definition,
            Definition::Stored {
                key: Arc::clone(&key),
                text: None
            }
        );
        assert_eq!(back.execution, persisted.execution);
        assert_eq!(
            back.definition.resolve(&store).expect("resolve").as_ref(),
            &*text
        );
        // A process that never met it compiles it from the store, once, by its key.
        let machines = crate::machines::MachineCache::new(cairn_interpreter::Limits::default());
        let machine = machines.of(&back.definition, &store).expect("machine");
        assert!(Arc::ptr_eq(
            &machine,
            &machines
                .of(&back.definition, &cairn_store::MemoryStore::new())
                .expect("cached")
        ));
        // A store without it is an error, not an empty definition.
        let empty = cairn_store::MemoryStore::new();
        assert!(back.definition.resolve(&empty).is_err());
        assert!(
            crate::machines::MachineCache::new(cairn_interpreter::Limits::default())
                .of(&back.definition, &empty)
                .is_err()
        );
    }

    #[test]
    fn a_store_that_keeps_no_definitions_gets_the_text_in_the_state() {
        struct Keeps(cairn_store::MemoryStore, bool);
        impl ExecutionStore for Keeps {
            fn put_definition(&self, key: &str, text: &str) -> cairn_store::Result<bool> {
                Ok(self.1 && self.0.put_definition(key, text)?)
            }
            fn get_definition(&self, key: &str) -> cairn_store::Result<Option<String>> {
                self.0.get_definition(key)
            }
            fn create_execution(
                &self,
                record: &ExecutionRecord,
                history: &[StoredEvent],
                effects: &Effects,
            ) -> cairn_store::Result<u64> {
                self.0.create_execution(record, history, effects)
            }
            fn get_execution(
                &self,
                arn: &str,
            ) -> cairn_store::Result<Option<(ExecutionRecord, u64)>> {
                self.0.get_execution(arn)
            }
            fn commit(&self, transition: &cairn_store::Transition) -> cairn_store::Result<u64> {
                self.0.commit(transition)
            }
            fn list_executions(
                &self,
                query: &cairn_store::ExecutionQuery,
            ) -> cairn_store::Result<cairn_store::Page<ExecutionRecord>> {
                self.0.list_executions(query)
            }
            fn running_executions(&self) -> cairn_store::Result<Vec<String>> {
                self.0.running_executions()
            }
            fn read_history(
                &self,
                arn: &str,
                query: &cairn_store::HistoryQuery,
            ) -> cairn_store::Result<Vec<StoredEvent>> {
                self.0.read_history(arn, query)
            }
        }
        let text: Arc<str> =
            Arc::from(r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#);
        let key: Arc<str> = Arc::from(definition_key(&text));
        for keeps in [false, true] {
            let store = Keeps(cairn_store::MemoryStore::new(), keeps);
            let kept = Definition::keep(&store, &key, &text).expect("keep");
            assert_eq!(kept.key().is_some(), keeps);
            let mut persisted = started(serde_json::from_str(&text).expect("json"));
            persisted.definition = kept;
            let record = persisted
                .record(empty_record(ARN, "e"), "{}", 1_000)
                .expect("record");
            let state = String::from_utf8(record.state.clone()).expect("text");
            assert_eq!(state.contains("StartAt"), !keeps, "{state}");
            let back = Persisted::decode(&record).expect("decode");
            assert_eq!(back.definition.resolve(&store).expect("resolve"), text);
        }
    }

    /// An execution keeps the definition it started with, whatever the state machine becomes,
    /// whether its state names the definition by key or carries the text as states written
    /// before definitions were kept apart do; and a process that never saw the definition
    /// (a restarted server) finds it in the store.
    #[test]
    fn executions_stored_either_way_run_on_their_own_definition() {
        use crate::{Api, Config};
        let call = |api: &Api, action: &str, request: Value| {
            api.handle(action, request)
                .unwrap_or_else(|e| panic!("{action}: {e}"))
        };
        // The key a server keeps in its data directory: the same across restarts.
        let config = || Config {
            token_key: vec![42; 32],
            ..Config::default()
        };
        let store = Arc::new(cairn_store::MemoryStore::new());
        let api = Api::new(store.clone(), config());
        let activity = call(&api, "CreateActivity", json!({"name": "job"}))["activityArn"]
            .as_str()
            .expect("activity")
            .to_string();
        let definition = |result: &str| {
            json!({"StartAt": "Work", "States": {
                "Work": {"Type": "Task", "Resource": activity, "ResultPath": null, "Next": "Done"},
                "Done": {"Type": "Pass", "Result": result, "End": true}}})
            .to_string()
        };
        let machine = call(
            &api,
            "CreateStateMachine",
            json!({"name": "m", "definition": definition("first"),
                   "roleArn": "arn:aws:iam::123456789012:role/r"}),
        )["stateMachineArn"]
            .as_str()
            .expect("machine")
            .to_string();
        let start = |name: &str| {
            call(
                &api,
                "StartExecution",
                json!({"stateMachineArn": machine, "name": name}),
            )["executionArn"]
                .as_str()
                .expect("execution")
                .to_string()
        };
        let keyed = start("keyed");
        let earlier = start("earlier");
        let key = definition_key(&definition("first"));
        assert_eq!(
            store.get_definition(&key).expect("get").as_deref(),
            Some(definition("first").as_str())
        );
        for arn in [&keyed, &earlier] {
            let (record, _) = store.get_execution(arn).expect("get").expect("stored");
            let state = String::from_utf8(record.state).expect("text");
            assert!(
                state.contains(&key) && !state.contains("StartAt"),
                "{state}"
            );
        }
        // `earlier` as a version before this one stored it: the definition's text in the state.
        let (mut record, version) = store.get_execution(&earlier).expect("get").expect("stored");
        let mut state: Value = serde_json::from_slice(&record.state).expect("json");
        let fields = state.as_object_mut().expect("object");
        fields.remove("definition_key");
        fields.insert("definition".into(), Value::from(definition("first")));
        record.state = serde_json::to_vec(&state).expect("state");
        store
            .commit(&cairn_store::Transition {
                expected_version: version,
                record,
                history: Vec::new(),
                effects: Effects::default(),
            })
            .expect("rewrite");
        call(
            &api,
            "UpdateStateMachine",
            json!({"stateMachineArn": machine, "definition": definition("second")}),
        );
        // The tasks are answered through a second server over the same store, as after a
        // restart: it has compiled nothing yet.
        api.shutdown();
        let second = Api::new(store.clone(), config());
        for _ in [&keyed, &earlier] {
            let task = call(
                &second,
                "GetActivityTask",
                json!({"activityArn": activity, "workerName": "w"}),
            );
            let token = task["taskToken"].as_str().expect("a queued task");
            call(
                &second,
                "SendTaskSuccess",
                json!({"taskToken": token, "output": "{}"}),
            );
        }
        for arn in [&keyed, &earlier] {
            let mut described = Value::Null;
            for _ in 0..500 {
                described = call(&second, "DescribeExecution", json!({"executionArn": arn}));
                if described["status"] != "RUNNING" {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            assert_eq!(described["status"], "SUCCEEDED", "{described}");
            assert_eq!(described["output"], "\"first\"", "{described}");
            let shown = call(
                &second,
                "DescribeStateMachineForExecution",
                json!({"executionArn": arn}),
            );
            assert_eq!(shown["definition"], definition("first"));
        }
        second.shutdown();
    }

    #[test]
    fn what_the_record_does_not_say_is_kept_in_the_state() {
        let persisted = started(json!({
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}
        }));
        // A record that names the execution otherwise (as no shell writes one today).
        let record = persisted
            .record(
                empty_record("arn:aws:states:us-east-1:123456789012:execution:m:x", "x"),
                "{}",
                2_000,
            )
            .expect("record");
        let text = String::from_utf8(record.state.clone()).expect("text");
        assert!(text.contains(ARN), "{text}");
        let back = Persisted::decode(&record).expect("decode");
        assert_eq!(back.execution, persisted.execution);
    }

    #[test]
    fn stored_history_is_compact_and_reads_back_like_the_older_object_form() {
        let (_, decision) = start(json!({
            "StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"x": "\"q\""}, "End": true}}
        }));
        let stored = stored_history(&decision);
        assert_eq!(stored.len(), decision.history.len());
        for (event, row) in decision.history.iter().zip(&stored) {
            assert_eq!(row.id, event.id);
            let older = serde_json::to_string(event).expect("object form");
            assert!(
                row.body.len() + 50 < older.len(),
                "{} is not shorter than {older}",
                row.body
            );
            let back: HistoryEvent = serde_json::from_str(&row.body).expect("compact form");
            assert_eq!(&back, event);
            let back: HistoryEvent = serde_json::from_str(&older).expect("object form");
            assert_eq!(&back, event);
        }
        assert!(stored[0]
            .body
            .starts_with("[1,0,1000,\"ExecutionStarted\","));
    }
}
