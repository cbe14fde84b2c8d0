//! RedriveExecution, and the redrive fields of DescribeExecution and ListExecutions.
//!
//! The decider decides what a redrive runs again ([`cairn_interpreter::Event::Redrive`]);
//! this module applies AWS's rules around it: only a FAILED, TIMED_OUT or ABORTED Standard
//! execution, within 14 days of its stop and a year of its start, and a retried request (the
//! same `clientToken`) answers the redrive it already made.
//!
//! A Distributed Map's unsuccessful STANDARD children that are executions of their own are
//! redriven as AWS redrives them: each stored child again, under its ARN, from where it
//! stopped, with its own `redriveCount` ([`Driver::redrive_map_run_child`]).

use cairn_interpreter::{Command, Context, Decision, MapRunChildStart, Status};
use cairn_store::{Effects, Error as StoreError, ExecutionRecord, Store, Transition};
use serde_json::Value;

use crate::driver::{store_error, Driver};
use crate::names::check_execution_arn;
use crate::params::{timestamp, Params};
use crate::persisted::{input_text, stored_history};
use crate::ApiError;

/// How long after its stop an execution can be redriven (AWS: 14 days).
const REDRIVABLE_PERIOD_MS: i64 = 14 * 24 * 3600 * 1000;
/// The longest an execution may stay open, redrives included (AWS: one year).
const MAX_OPEN_MS: i64 = 365 * 24 * 3600 * 1000;
/// Conditional writes lost to concurrent writers before giving up.
const MAX_ATTEMPTS: usize = 16;

/// AWS's `redriveStatusReason` for an execution whose state machine is being deleted.
const MACHINE_DELETING: &str = "State machine is in DELETING status";

/// The summary member the record keeps the decider's redrive verdict in.
pub(crate) const BLOCKER_FIELD: &str = "redriveStatusReason";

/// AWS's refusal of a redrive.
pub fn not_redrivable(arn: &str, reason: &str) -> ApiError {
    ApiError::new(
        "ExecutionNotRedrivable",
        format!("Execution '{arn}' cannot be redriven: {reason}"),
    )
}

pub(crate) fn redrive_execution(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("executionArn")?;
    let token = p.opt_string("clientToken")?;
    if let Some(token) = token {
        if token.is_empty() || token.chars().count() > 64 {
            return Err(ApiError::new(
                "ValidationException",
                format!(
                    "1 validation error detected: Value '{token}' at 'clientToken' failed to satisfy constraint: Member must have length between 1 and 64"
                ),
            ));
        }
    }
    check_execution_arn(arn)?;
    let redriven = driver.redrive(arn, token)?;
    Ok(serde_json::json!({ "redriveDate": timestamp(redriven) }))
}

/// Why the record's execution cannot be redriven at `now`, in AWS's words; `None` when it can.
pub fn blocker(store: &dyn Store, record: &ExecutionRecord, now: i64) -> Option<String> {
    match record.status.as_str() {
        "RUNNING" => return Some("Execution is RUNNING and cannot be redriven".into()),
        "SUCCEEDED" => return Some("Execution is SUCCEEDED and cannot be redriven".into()),
        _ => {}
    }
    // A Map Run's child, stored closed or run as an execution of its own.
    if record.summary.get("mapRunArn").is_some() {
        return Some(crate::map_runs::CHILD_NOT_REDRIVABLE.to_string());
    }
    // DeleteStateMachine leaves it DELETING while other executions of it run, and removes
    // it once none does: either way AWS refuses the redrive.
    match store.get_state_machine(&record.state_machine_arn) {
        Ok(None) => return Some(MACHINE_DELETING.into()),
        Ok(Some((machine, _))) if crate::machines::lifecycle::is_deleting(&machine) => {
            return Some(MACHINE_DELETING.into())
        }
        _ => {}
    }
    if let Some(reason) = record.summary.get(BLOCKER_FIELD) {
        return Some(reason.as_str().unwrap_or_default().to_string());
    }
    if record.summary.get("redriveCount").is_none() {
        // Written before Cairn kept what a redrive needs.
        return Some("Execution was started before the launch of RedriveExecution".into());
    }
    if now.saturating_sub(record.start_ms) > MAX_OPEN_MS {
        return Some("Execution has exceeded the max execution time".into());
    }
    match record.stop_ms {
        Some(stop) if now.saturating_sub(stop) > REDRIVABLE_PERIOD_MS => {
            Some("Execution redrivable period exceeded".into())
        }
        _ => None,
    }
}

/// DescribeExecution's `redriveCount`, `redriveDate`, `redriveStatus` and `redriveStatusReason`.
pub(crate) fn describe_fields(driver: &Driver, record: &ExecutionRecord, out: &mut Value) {
    out["redriveCount"] = record
        .summary
        .get("redriveCount")
        .cloned()
        .unwrap_or_else(|| Value::from(0));
    if let Some(date) = record.summary.get("redriveDate").and_then(Value::as_i64) {
        out["redriveDate"] = timestamp(date);
    }
    let now = driver.now_ms();
    match blocker(driver.store.as_ref(), record, now) {
        None => out["redriveStatus"] = Value::from("REDRIVABLE"),
        // AWS: an unsuccessful child its Map Run can run again, through its parent's redrive.
        Some(_) if redrivable_by_map_run(driver, record, now) => {
            out["redriveStatus"] = Value::from("REDRIVABLE_BY_MAP_RUN")
        }
        Some(reason) => {
            out["redriveStatus"] = Value::from("NOT_REDRIVABLE");
            out["redriveStatusReason"] = Value::from(reason);
        }
    }
}

/// Whether the record is an unsuccessful Map Run child whose parent a redrive would run
/// again (its Map Run, and the child with it).
fn redrivable_by_map_run(driver: &Driver, record: &ExecutionRecord, now: i64) -> bool {
    if !matches!(record.status.as_str(), "FAILED" | "TIMED_OUT" | "ABORTED") {
        return false;
    }
    let Some(map_run) = record.summary.get("mapRunArn").and_then(Value::as_str) else {
        return false;
    };
    // A child that ran as an execution of its own names its parent; one stored when its
    // run ended is found through the run.
    let linked = (!record.state.is_empty())
        .then(|| crate::persisted::Persisted::decode(record).ok())
        .flatten()
        .and_then(|child| child.map_run_parent)
        .map(|link| link.execution_arn);
    let parent = match linked {
        Some(parent) => parent,
        None => match crate::map_runs::find(driver, map_run) {
            Ok((_, parent)) => parent,
            Err(_) => return false,
        },
    };
    match driver.store.get_execution(&parent) {
        Ok(Some((parent, _))) => blocker(driver.store.as_ref(), &parent, now).is_none(),
        _ => false,
    }
}

/// ListExecutions' `redriveFilter`: `Some(true)` keeps redriven executions only.
pub(crate) fn filter_param(p: &Params<'_>) -> Result<Option<bool>, ApiError> {
    match p.opt_string("redriveFilter")? {
        None => Ok(None),
        Some("REDRIVEN") => Ok(Some(true)),
        Some("NOT_REDRIVEN") => Ok(Some(false)),
        Some(other) => Err(ApiError::new(
            "ValidationException",
            format!(
                "1 validation error detected: Value '{other}' at 'redriveFilter' failed to satisfy constraint: Member must satisfy enum value set: [REDRIVEN, NOT_REDRIVEN]"
            ),
        )),
    }
}

/// A ListExecutions item's redrive fields (only for an execution redriven at least once).
pub(crate) fn list_fields(record: &ExecutionRecord, item: &mut Value) {
    let count = record
        .summary
        .get("redriveCount")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if count > 0 {
        item["redriveCount"] = Value::from(count);
        if let Some(date) = record.summary.get("redriveDate").and_then(Value::as_i64) {
            item["redriveDate"] = timestamp(date);
        }
    }
}

/// Whether `redriveFilter: REDRIVEN` keeps this execution.
pub(crate) fn is_redriven(record: &ExecutionRecord) -> bool {
    record
        .summary
        .get("redriveCount")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        > 0
}

impl Driver {
    /// Redrives a Standard execution; returns the redrive's time (the earlier one when
    /// `client_token` repeats the request that made it).
    pub(crate) fn redrive(&self, arn: &str, client_token: Option<&str>) -> Result<i64, ApiError> {
        let _serialised = self.serialise(arn)?;
        for _ in 0..MAX_ATTEMPTS {
            let (record, version, mut persisted) = self.load_standard(arn)?;
            if let (Some(token), Some(done), Some(at)) = (
                client_token,
                persisted.redrive_token.as_deref(),
                persisted.execution.redrive_time_ms(),
            ) {
                if token == done {
                    return Ok(at);
                }
            }
            let now = self.now_ms().max(record.start_ms);
            if let Some(reason) = blocker(self.store.as_ref(), &record, now) {
                return Err(not_redrivable(arn, &reason));
            }
            let machine = self.machine_of(&persisted.definition)?;
            let ctx = Context {
                now_ms: now,
                seed: self.decision_seed(arn, persisted.execution.event_count()),
            };
            let mut decision = persisted.execution.redrive_map_run_children(&machine, &ctx);
            self.store_map_run_children(&mut persisted.execution)?;
            if persisted.execution.status() == Status::Running && decision.history.is_empty() {
                return Err(ApiError::internal("the redrive changed nothing"));
            }
            if decision.history.is_empty() {
                let reason = persisted
                    .execution
                    .redrive_blocker()
                    .unwrap_or("Execution cannot be redriven");
                return Err(not_redrivable(arn, reason));
            }
            self.signer.publish(&mut decision);
            persisted.redrive_token = client_token.map(str::to_string);
            let mut effects = Effects::default();
            let planned = persisted.plan(&decision, now, &mut effects);
            let (children, redriven) = self.child_work(&mut persisted, &decision)?;
            let input = input_text(&record).to_string();
            let mut record = record;
            // Running again: it stops anew when it ends.
            record.stop_ms = None;
            let next = persisted.record(record, &input, now)?;
            let transition = Transition {
                expected_version: version,
                record: next,
                history: stored_history(&decision),
                effects,
            };
            match self.store.commit(&transition) {
                Ok(_) => {
                    // Status events see the redrive as a new start: RUNNING, then its end
                    // if it ended at once (the execution log gets ExecutionRedriven).
                    crate::observe::written(
                        self,
                        &transition.record,
                        &decision.history,
                        None,
                        persisted.execution.redrive_count(),
                    );
                    self.carry_out(arn, planned);
                    self.carry_out_children(arn, children);
                    self.redrive_children(arn, redriven);
                    return Ok(now);
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(store_error(other)),
            }
        }
        Err(ApiError::internal(format!(
            "{arn}: too many concurrent writers"
        )))
    }
}

/// The longest a child's redrive waits for its store write to stop conflicting.
const CHILD_ATTEMPTS: usize = 16;
/// Children of one redrive redriven at once.
const CHILD_REDRIVERS: usize = 16;

impl Driver {
    /// The children a redrive's decision asks for, split: the ones to start, and the stored
    /// ones to redrive (asked for again under their own ARN: see
    /// [`cairn_interpreter::Execution::redrive_map_run_children`]).
    fn child_work(
        &self,
        persisted: &mut crate::persisted::Persisted,
        decision: &Decision,
    ) -> Result<(crate::map_children::ChildWork, Vec<MapRunChildStart>), ApiError> {
        let mut redriven = Vec::new();
        let mut rest = Decision::default();
        for command in &decision.commands {
            if let Command::StartMapRunChild(start) = command {
                // A child to redrive comes without input; a new one's name is new.
                let stored = start.input.is_null()
                    && self
                        .store
                        .get_execution(&start.execution_arn)
                        .map_err(store_error)?
                        .is_some();
                if stored {
                    redriven.push((**start).clone());
                    continue;
                }
            }
            rest.commands.push(command.clone());
        }
        let work = crate::map_children::ChildWork::of(persisted, &rest);
        Ok((work, redriven))
    }

    /// Redrives the stored children on a thread of its own: the caller holds the parent's
    /// lock, which a child that ends at once needs to report to it.
    fn redrive_children(&self, parent: &str, children: Vec<MapRunChildStart>) {
        if children.is_empty() {
            return;
        }
        let Some(driver) = self.handle() else { return };
        let parent = parent.to_string();
        let spawned = std::thread::Builder::new()
            .name("cairn-map-redrive".into())
            .spawn(move || {
                // Several at once, as children are started: concurrent writes share the
                // store's group commit.
                let next = std::sync::atomic::AtomicUsize::new(0);
                std::thread::scope(|scope| {
                    for _ in 0..CHILD_REDRIVERS.min(children.len()) {
                        scope.spawn(|| loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(start) = children.get(i) else {
                                return;
                            };
                            if let Err(error) = driver.redrive_map_run_child(&parent, start) {
                                eprintln!(
                                    "cairn: redriving {} for {parent} failed: {error}",
                                    start.execution_arn
                                );
                            }
                        });
                    }
                });
            });
        if let Err(error) = spawned {
            eprintln!("cairn: cannot redrive a Map Run's children: {error}");
        }
    }

    /// Redrives a Map Run's stored child execution for its parent's task `start.task_id`:
    /// the child is linked to that task and runs again from the states that did not succeed
    /// (`ExecutionRedriven` in its own history, its `redriveCount` up). A child AWS would not
    /// redrive (past its redrivable period, its history full) keeps its end, which is
    /// reported to the parent at once. Asked again for the same task (a restart), it only
    /// reports an end already reached.
    pub(crate) fn redrive_map_run_child(
        &self,
        parent: &str,
        start: &MapRunChildStart,
    ) -> Result<(), ApiError> {
        self.serialised_then_report(&start.execution_arn, || {
            self.redrive_child_serialised(parent, start)
        })
    }

    fn redrive_child_serialised(
        &self,
        parent: &str,
        start: &MapRunChildStart,
    ) -> Result<Option<(String, cairn_interpreter::Event)>, ApiError> {
        let arn = start.execution_arn.as_str();
        for _ in 0..CHILD_ATTEMPTS {
            let (record, version, mut persisted) = self.load_standard(arn)?;
            let Some(link) = persisted.map_run_parent.as_mut() else {
                return Ok(None);
            };
            if link.execution_arn != parent {
                return Ok(None);
            }
            if link.task_id == start.task_id {
                // Redriven for this task already: its end, if it came, is the task's.
                return Ok(persisted.map_run_end());
            }
            link.task_id = start.task_id;
            let now = self.now_ms().max(record.start_ms);
            let machine = self.machine_of(&persisted.definition)?;
            let ctx = Context {
                now_ms: now,
                seed: self.decision_seed(arn, persisted.execution.event_count()),
            };
            let mut decision = if child_window_closed(&record, now) {
                Decision::default()
            } else {
                persisted.execution.redrive_map_run_children(&machine, &ctx)
            };
            self.store_map_run_children(&mut persisted.execution)?;
            self.signer.publish(&mut decision);
            let mut effects = Effects::default();
            let planned = persisted.plan(&decision, now, &mut effects);
            let (children, redriven) = self.child_work(&mut persisted, &decision)?;
            let input = input_text(&record).to_string();
            let mut record = record;
            if !decision.history.is_empty() {
                record.stop_ms = None;
            }
            let next = persisted.record(record, &input, now)?;
            let transition = Transition {
                expected_version: version,
                record: next,
                history: stored_history(&decision),
                effects,
            };
            match self.store.commit(&transition) {
                Ok(_) => {
                    if !decision.history.is_empty() {
                        crate::observe::written(
                            self,
                            &transition.record,
                            &decision.history,
                            None,
                            persisted.execution.redrive_count(),
                        );
                    }
                    self.carry_out(arn, planned);
                    self.carry_out_children(arn, children);
                    self.redrive_children(arn, redriven);
                    // Not redriven, or ended at once: the parent's new task ends now.
                    return Ok(persisted.map_run_end());
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(store_error(other)),
            }
        }
        Err(ApiError::internal(format!(
            "{arn}: too many concurrent writers"
        )))
    }
}

/// A child past AWS's windows (14 days since it stopped, a year since it started) is not
/// redriven: its end stands.
fn child_window_closed(record: &ExecutionRecord, now: i64) -> bool {
    let stopped_long_ago = record
        .stop_ms
        .is_some_and(|stop| now.saturating_sub(stop) > REDRIVABLE_PERIOD_MS);
    stopped_long_ago || now.saturating_sub(record.start_ms) > MAX_OPEN_MS
}
