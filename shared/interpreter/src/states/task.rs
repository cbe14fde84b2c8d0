use crate::api::{Command, ResourceKind, TaskId};
use crate::execution::{
    exceeds_size, mix, ContextExtra, Fault, Phase, Runner, TaskWait, ThreadId, TimerFor,
};
use crate::flow::Failure;
use crate::machine::{CState, Setting, TaskSpec};
use crate::states::wait::plain;
use serde_json::{Map, Value};

/// A task token: opaque, deterministic from the event's seed and the task id (shells sign it).
fn task_token(seed: u64, task_id: TaskId) -> String {
    let a = mix(seed ^ task_id.rotate_left(17));
    let b = mix(a ^ 0x5EED);
    let c = mix(b ^ task_id);
    let d = mix(c ^ seed);
    format!("{a:016x}{b:016x}{c:016x}{d:016x}")
}

/// A task's effective parameters, credentials, TimeoutSeconds and HeartbeatSeconds.
pub(crate) type TaskInputs = (Value, Option<Value>, Option<u64>, Option<u64>);

/// Names of the history events of one resource family.
struct Family {
    scheduled: &'static str,
    started: &'static str,
    succeeded: &'static str,
    failed: &'static str,
    timed_out: &'static str,
}

fn family(kind: &ResourceKind) -> Family {
    match kind {
        ResourceKind::LambdaFunction => Family {
            scheduled: "LambdaFunctionScheduled",
            started: "LambdaFunctionStarted",
            succeeded: "LambdaFunctionSucceeded",
            failed: "LambdaFunctionFailed",
            timed_out: "LambdaFunctionTimedOut",
        },
        ResourceKind::Activity => Family {
            scheduled: "ActivityScheduled",
            started: "ActivityStarted",
            succeeded: "ActivitySucceeded",
            failed: "ActivityFailed",
            timed_out: "ActivityTimedOut",
        },
        ResourceKind::Service { .. } => Family {
            scheduled: "TaskScheduled",
            started: "TaskStarted",
            succeeded: "TaskSucceeded",
            failed: "TaskFailed",
            timed_out: "TaskTimedOut",
        },
    }
}

/// Service tasks name their resource in every event: `resource` (action) and `resourceType`.
fn with_resource(kind: &ResourceKind, mut details: Map<String, Value>) -> Value {
    if let ResourceKind::Service {
        service, action, ..
    } = kind
    {
        details.insert("resource".into(), Value::String(action.clone()));
        details.insert("resourceType".into(), Value::String(service.clone()));
    }
    Value::Object(details)
}

fn error_details(fault: &Fault) -> Map<String, Value> {
    let mut details = Map::new();
    if let Some(c) = fault.cause.as_ref().filter(|c| !c.is_empty()) {
        details.insert("cause".into(), Value::String(c.clone()));
    }
    if let Some(e) = &fault.error {
        details.insert("error".into(), Value::String(e.clone()));
    }
    details
}

impl Runner<'_> {
    fn resolve_seconds(
        &self,
        tid: ThreadId,
        effective: &Value,
        setting: &Option<Setting<u64>>,
    ) -> Result<Option<u64>, Fault> {
        match setting {
            None => Ok(None),
            Some(Setting::Fixed(n)) => Ok(Some(*n)),
            Some(Setting::Path { field, path }) => self.eval(tid, effective, path.is_context(), ContextExtra::default(), |s, _| {
                let v = path.select(s)?;
                v.as_u64().filter(|n| *n > 0).map(Some).ok_or_else(|| {
                    Failure::runtime(format!(
                        "The {field} field refers to value \"{}\" which is not a valid positive integer: {}",
                        plain(&v),
                        path.text()
                    ))
                })
            }),
        }
    }

    fn region(&self) -> String {
        self.exec
            .info
            .execution_arn
            .split(':')
            .nth(3)
            .filter(|r| !r.is_empty())
            .unwrap_or("us-east-1")
            .to_string()
    }

    /// Task: evaluate the parameters, schedule the work, and wait for its outcome.
    pub(crate) fn run_task(&mut self, tid: ThreadId, state: &CState, spec: &TaskSpec) {
        let task_id = self.exec.next_task;
        // Only callback-style tasks have a token (`$$.Task` exists only for them).
        let needs_token = matches!(spec.kind, ResourceKind::Activity)
            || matches!(
                &spec.kind,
                ResourceKind::Service {
                    pattern: crate::api::IntegrationPattern::WaitForTaskToken
                        | crate::api::IntegrationPattern::Sync,
                    ..
                }
            );
        let token = task_token(self.ctx.seed, task_id);
        let prepared = if let Some(j) = &state.jsonata {
            self.jsonata_task_inputs(tid, state, j, needs_token.then_some(token.as_str()))
        } else {
            self.task_inputs(tid, state, spec, needs_token.then_some(token.as_str()))
        };
        let (parameters, credentials, timeout, heartbeat) = match prepared {
            Ok(p) => p,
            Err(fault) => return self.fail(tid, fault),
        };
        self.schedule_task(
            tid,
            state,
            spec,
            (parameters, credentials, timeout, heartbeat),
            needs_token.then_some(token),
        );
    }

    /// A JSONPath Task's effective parameters, credentials, timeout and heartbeat.
    fn task_inputs(
        &self,
        tid: ThreadId,
        state: &CState,
        spec: &TaskSpec,
        token: Option<&str>,
    ) -> Result<TaskInputs, Fault> {
        (|| {
            let input = self.thread(tid).map(|t| &t.input).unwrap_or(&Value::Null);
            let effective = self.input_path(tid, state, input)?;
            self.inspect(tid, "afterInputPath", &effective);
            let extra = ContextExtra {
                task_token: token,
                map_item: None,
            };
            let parameters = match &state.parameters {
                Some(t) => self.eval(tid, &effective, state.uses_context, extra, |s, e| {
                    t.evaluate(s, e)
                })?,
                None => effective.clone(),
            };
            self.inspect(tid, "afterParameters", &parameters);
            let credentials = match &spec.credentials {
                Some(t) => {
                    Some(
                        self.eval(tid, &effective, state.uses_context, extra, |s, e| {
                            t.evaluate(s, e)
                        })?,
                    )
                }
                None => None,
            };
            let timeout = self.resolve_seconds(tid, &effective, &spec.timeout)?;
            let heartbeat = self.resolve_seconds(tid, &effective, &spec.heartbeat)?;
            Ok::<_, Fault>((parameters, credentials, timeout, heartbeat))
        })()
    }

    /// Records `*Scheduled` and asks the shell to run the task.
    fn schedule_task(
        &mut self,
        tid: ThreadId,
        state: &CState,
        spec: &TaskSpec,
        inputs: TaskInputs,
        token: Option<String>,
    ) {
        let (parameters, credentials, timeout, heartbeat) = inputs;
        let task_id = self.exec.next_task;
        self.exec.next_task += 1;
        self.exec.tasks.insert(task_id, tid);
        let fam = family(&spec.kind);
        let mut details = Map::new();
        match &spec.kind {
            ResourceKind::Service {
                service, action, ..
            } => {
                details.insert("parameters".into(), parameters.clone());
                details.insert("region".into(), Value::String(self.region()));
                details.insert("resource".into(), Value::String(action.clone()));
                details.insert("resourceType".into(), Value::String(service.clone()));
            }
            _ => {
                details.insert("input".into(), parameters.clone());
                details.insert("resource".into(), Value::String(spec.resource.clone()));
            }
        }
        if let Some(t) = timeout {
            details.insert("timeoutInSeconds".into(), t.into());
        }
        if let Some(h) = heartbeat {
            details.insert("heartbeatInSeconds".into(), h.into());
        }
        if let Some(Value::Object(c)) = &credentials {
            if let Some(role) = c.get("RoleArn") {
                details.insert(
                    "taskCredentials".into(),
                    crate::history::details([("roleArn", role.clone())]),
                );
            }
        }
        self.emit(tid, fam.scheduled, Value::Object(details));
        self.out.commands.push(Command::InvokeTask {
            task_id,
            state_name: state.name.clone(),
            resource: spec.resource.clone(),
            kind: spec.kind.clone(),
            input: parameters,
            timeout_seconds: timeout,
            heartbeat_seconds: heartbeat,
            task_token: token,
            credentials,
        });
        let now = self.ctx.now_ms;
        let timeout_timer = timeout.map(|t| {
            self.start_timer(
                TimerFor::TaskTimeout(tid),
                now.saturating_add(crate::execution::seconds_to_ms(t)),
            )
        });
        let heartbeat_ms = heartbeat.map(crate::execution::seconds_to_ms);
        let heartbeat_timer =
            heartbeat_ms.map(|h| self.start_timer(TimerFor::Heartbeat(tid), now.saturating_add(h)));
        if let Some(t) = self.thread_mut(tid) {
            t.phase = Phase::Task(TaskWait {
                task_id,
                timeout_timer,
                heartbeat_timer,
                heartbeat_ms,
                started: false,
                submitted: false,
            });
        }
    }

    /// The thread and spec of a task the execution still waits on.
    /// A task the execution no longer holds has ended: a late answer for it is moot. One it
    /// holds for a thread that is not waiting on it is nondeterminism.
    fn waiting(&self, task_id: TaskId) -> Option<(ThreadId, &TaskSpec, &TaskWait)> {
        let tid = *self.exec.tasks.get(&task_id)?;
        let found = self.thread(tid).and_then(|thread| {
            let Phase::Task(wait) = &thread.phase else {
                return None;
            };
            let crate::machine::Kind::Task(spec) = &self.machine.state(thread.state)?.kind else {
                return None;
            };
            (wait.task_id == task_id).then_some((tid, &**spec, wait))
        });
        // An ItemReader request is a task too, but without task events: not waited on here.
        let reading = || {
            matches!(self.thread(tid).map(|t| &t.phase), Some(Phase::Reading(r))
                if r.task_id == task_id || r.manifest.as_ref().is_some_and(|m| m.tasks.contains_key(&task_id)))
                || self.writer_of(task_id).is_some()
                || self.map_child_of(task_id).is_some()
        };
        if found.is_none() && !reading() {
            self.nondeterministic(|| {
                format!("task {task_id} is open for thread {tid}, which is not waiting on it")
            });
        }
        found
    }

    pub(crate) fn task_started(&mut self, task_id: TaskId, worker_name: Option<String>) {
        let Some((tid, spec, wait)) = self.waiting(task_id) else {
            return;
        };
        if wait.started {
            return;
        }
        let kind = spec.kind.clone();
        let details = match &kind {
            ResourceKind::LambdaFunction => Value::Null,
            ResourceKind::Activity => {
                let mut d = Map::new();
                if let Some(w) = worker_name {
                    d.insert("workerName".into(), Value::String(w));
                }
                Value::Object(d)
            }
            ResourceKind::Service { .. } => with_resource(&kind, Map::new()),
        };
        self.emit(tid, family(&kind).started, details);
        self.mark_task(tid, |wait| wait.started = true);
    }

    fn mark_task(&mut self, tid: ThreadId, mark: impl FnOnce(&mut TaskWait)) {
        if let Some(Phase::Task(wait)) = self.thread_mut(tid).map(|t| &mut t.phase) {
            mark(wait);
        }
    }

    pub(crate) fn task_submitted(&mut self, task_id: TaskId, output: Value) {
        let Some((tid, spec, wait)) = self.waiting(task_id) else {
            return;
        };
        if wait.submitted {
            return;
        }
        let kind = spec.kind.clone();
        let mut d = Map::new();
        d.insert("output".into(), output);
        self.emit(tid, "TaskSubmitted", with_resource(&kind, d));
        self.mark_task(tid, |wait| wait.submitted = true);
    }

    pub(crate) fn task_heartbeat(&mut self, task_id: TaskId) {
        let Some((tid, _, wait)) = self.waiting(task_id) else {
            return;
        };
        let (old, every) = (wait.heartbeat_timer, wait.heartbeat_ms);
        let Some(every) = every else { return };
        self.cancel_timer(old);
        let timer = self.start_timer(
            TimerFor::Heartbeat(tid),
            self.ctx.now_ms.saturating_add(every),
        );
        if let Some(t) = self.thread_mut(tid) {
            if let Phase::Task(w) = &mut t.phase {
                w.heartbeat_timer = Some(timer);
            }
        }
    }

    /// Forgets the task and its timers; returns the thread that waited on it.
    fn settle(&mut self, task_id: TaskId) -> Option<(ThreadId, ResourceKind, String)> {
        let (tid, spec, wait) = self.waiting(task_id)?;
        let (kind, resource) = (spec.kind.clone(), spec.resource.clone());
        let (t1, t2) = (wait.timeout_timer, wait.heartbeat_timer);
        self.exec.tasks.remove(&task_id);
        self.cancel_timer(t1);
        self.cancel_timer(t2);
        if let Some(t) = self.thread_mut(tid) {
            t.phase = Phase::Idle;
        }
        Some((tid, kind, resource))
    }

    pub(crate) fn task_succeeded(&mut self, task_id: TaskId, output: Value) {
        if self.map_child_of(task_id).is_some() {
            return self.map_child_ended(task_id, Ok(output));
        }
        if let Some(tid) = self.reader_of(task_id) {
            return self.items_read(tid, task_id, Ok(output));
        }
        if let Some(tid) = self.writer_of(task_id) {
            return self.results_written(tid, Ok(output));
        }
        if exceeds_size(&output, self.exec.limits.max_payload_bytes) {
            // AWS names a service integration by its service, a Lambda function or activity by its ARN.
            let resource = match self.waiting(task_id).map(|(_, s, _)| s) {
                Some(TaskSpec {
                    kind: ResourceKind::Service { service, .. },
                    ..
                }) => service.clone(),
                Some(spec) => spec.resource.clone(),
                None => String::new(),
            };
            let fault = Fault::new(
                "States.DataLimitExceeded",
                format!("The state/task '{resource}' returned a result with a size exceeding the maximum number of bytes service limit."),
            );
            return self.task_failed(task_id, fault);
        }
        let Some((tid, kind, _)) = self.settle(task_id) else {
            return;
        };
        let mut d = Map::new();
        d.insert("output".into(), output.clone());
        self.emit(tid, family(&kind).succeeded, with_resource(&kind, d));
        self.complete(tid, output);
    }

    pub(crate) fn task_failed(&mut self, task_id: TaskId, fault: Fault) {
        if self.map_child_of(task_id).is_some() {
            return self.map_child_ended(task_id, Err(fault));
        }
        if let Some(tid) = self.reader_of(task_id) {
            let fault = Fault {
                error: Some("States.ItemReaderFailed".into()),
                cause: fault.cause.or(fault.error),
                evaluation: None,
            };
            return self.items_read(tid, task_id, Err(fault));
        }
        if let Some(tid) = self.writer_of(task_id) {
            return self.results_written(tid, Err(fault));
        }
        let Some((tid, kind, _)) = self.settle(task_id) else {
            return;
        };
        self.emit(
            tid,
            family(&kind).failed,
            with_resource(&kind, error_details(&fault)),
        );
        self.fail(tid, fault);
    }

    /// TimeoutSeconds or HeartbeatSeconds elapsed: the task is abandoned and the state fails.
    pub(crate) fn task_timed_out(&mut self, tid: ThreadId, error: &str) {
        let task_id = match self.thread(tid).map(|t| &t.phase) {
            Some(Phase::Task(w)) => w.task_id,
            _ => return,
        };
        let Some((tid, kind, _)) = self.settle(task_id) else {
            return;
        };
        self.out.commands.push(Command::CancelTask { task_id });
        // The error output of a timeout carries an empty cause, which events leave out.
        let fault = Fault {
            error: Some(error.to_string()),
            cause: Some(String::new()),
            evaluation: None,
        };
        self.emit(
            tid,
            family(&kind).timed_out,
            with_resource(&kind, error_details(&fault)),
        );
        self.fail(tid, fault);
    }
}
