//! The Map Runs of an execution as the Map Run API shows them (DescribeMapRun, ListMapRuns,
//! ListExecutions by `mapRunArn`): the running ones read from their Map's children, the
//! ended ones from what the decider kept when they ended.

use crate::execution::{Execution, Fanout, Phase, Runner, ThreadId};
use crate::writer::RunLog;
use serde::{Deserialize, Serialize};

/// A Map Run that ended, kept in the execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Ended {
    pub log: RunLog,
    pub status: String,
    pub stop_ms: i64,
    pub total: u64,
    pub max_concurrency: u64,
    pub tolerated_count: u64,
    pub tolerated_percentage: f64,
    /// Set once the shell took the children out ([`Execution::detach_map_run_children`]):
    /// their counts, all the execution keeps of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detached: Option<Counts>,
    /// Each child's output (or `{"Error", "Cause"}`) by item index, for the shell that
    /// stores the children; never serialised, so a shell that keeps the children in the
    /// execution pays nothing for it.
    #[serde(skip)]
    pub outcomes: Vec<serde_json::Value>,
    /// Each child's input by item index, where the run kept it (for its ResultWriter).
    #[serde(skip)]
    pub inputs: Vec<serde_json::Value>,
    /// The children were executions of their own, which the shell stored as they ran:
    /// nothing of them is handed over when the run ends.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub children_outside: bool,
    /// The items of the batches never started (a run that batches its items).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pending_items: u64,
    /// RedriveExecution redrove the run this many times (`MapRunRedriven`), last at
    /// `redrive_ms`. Kept here while the redriven run goes on under the same ARN.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redrive_count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redrive_ms: Option<i64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// How many children of an ended Map Run ended each way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct Counts {
    pub started: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub aborted: u64,
    /// The items those children held, under an ItemBatcher.
    #[serde(default, skip_serializing_if = "is_unbatched")]
    pub items: MapRunItems,
}

fn is_unbatched(items: &MapRunItems) -> bool {
    *items == MapRunItems::default()
}

/// One child execution of a Map Run.
#[derive(Debug, Clone, PartialEq)]
pub struct MapRunChild {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub name: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED` or `ABORTED`.
    pub status: &'static str,
    pub start_ms: i64,
    pub stop_ms: Option<i64>,
    /// The child's input, output, error and cause where the decider still has them: only
    /// in what [`Execution::detach_map_run_children`] hands over (`Null`/`None` otherwise).
    pub input: serde_json::Value,
    pub output: serde_json::Value,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// How many items the child processes (its batch's size under ItemBatcher, else 1), when
    /// the decider knows it: ListExecutions' `itemCount`.
    pub item_count: Option<u64>,
}

/// A Map Run: its settings and how many of its items (here, one child execution per item or
/// batch) are in each state.
#[derive(Debug, Clone, PartialEq)]
pub struct MapRun {
    pub map_run_arn: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED` or `ABORTED`.
    pub status: String,
    pub start_ms: i64,
    pub stop_ms: Option<i64>,
    pub max_concurrency: u64,
    pub tolerated_failure_count: u64,
    pub tolerated_failure_percentage: f64,
    pub total: u64,
    pub pending: u64,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub aborted: u64,
    pub children: Vec<MapRunChild>,
    /// The children are stored as executions of their own (the shell took them out of the
    /// execution): `children` is empty and the counts come from the execution.
    pub children_detached: bool,
    /// The items the children hold, by the children's state, under an ItemBatcher
    /// (DescribeMapRun's `itemCounts`, where a child processes a batch of items): each
    /// child counts its batch's size; all zero for a run that does not batch.
    pub items: MapRunItems,
    /// How many times RedriveExecution redrove the run (`MapRunRedriven`), and when last.
    pub redrive_count: u64,
    pub redrive_ms: Option<i64>,
}

/// A batched Map Run's items in each state (see [`MapRun::items`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MapRunItems {
    #[serde(default)]
    pub pending: u64,
    #[serde(default)]
    pub running: u64,
    #[serde(default)]
    pub succeeded: u64,
    #[serde(default)]
    pub failed: u64,
    #[serde(default)]
    pub aborted: u64,
}

impl MapRunItems {
    pub fn total(&self) -> u64 {
        self.pending + self.running + self.succeeded + self.failed + self.aborted
    }
}

fn view(
    log: &RunLog,
    status: &str,
    stop_ms: Option<i64>,
    total: u64,
    settings: (u64, u64, f64),
) -> MapRun {
    let mut run = MapRun {
        map_run_arn: log.map_run_arn.clone(),
        status: status.to_string(),
        start_ms: log.start_ms,
        stop_ms,
        max_concurrency: settings.0,
        tolerated_failure_count: settings.1,
        tolerated_failure_percentage: settings.2,
        total,
        pending: 0,
        running: 0,
        succeeded: 0,
        failed: 0,
        aborted: 0,
        children: Vec::new(),
        children_detached: false,
        items: MapRunItems::default(),
        redrive_count: 0,
        redrive_ms: None,
    };
    let machine = log.child_machine_arn();
    for child in log.children.iter().filter(|c| !c.name.is_empty()) {
        let child_status = match (child.ended, child.aborted, child.failed) {
            (false, _, _) if stop_ms.is_some() => "ABORTED",
            (false, _, _) => "RUNNING",
            (true, true, _) => "ABORTED",
            (true, false, true) => "FAILED",
            (true, false, false) => "SUCCEEDED",
        };
        let (children, items) = match child_status {
            "RUNNING" => (&mut run.running, &mut run.items.running),
            "SUCCEEDED" => (&mut run.succeeded, &mut run.items.succeeded),
            "FAILED" => (&mut run.failed, &mut run.items.failed),
            _ => (&mut run.aborted, &mut run.items.aborted),
        };
        *children += 1;
        *items += child.items;
        run.children.push(MapRunChild {
            execution_arn: log.execution_arn(&child.name),
            state_machine_arn: machine.clone(),
            name: child.name.clone(),
            status: child_status,
            start_ms: child.start_ms,
            stop_ms: (child_status != "RUNNING").then_some(child.stop_ms),
            input: serde_json::Value::Null,
            output: serde_json::Value::Null,
            error: None,
            cause: None,
            item_count: (child.items > 0).then_some(child.items),
        });
    }
    // Succeeded children already handed to the shell are counted, and listed from the store.
    run.succeeded += log.handed.children;
    run.items.succeeded += log.handed.items;
    run.children_detached = log.handed.children > 0;
    let started = run.running + run.succeeded + run.failed + run.aborted;
    run.pending = total.saturating_sub(started);
    run
}

/// The succeeded children of a running Map Run that hands them over as they end, taken out
/// of it with their results (the run keeps their count); None when there are none.
fn hand_over(f: &mut Fanout) -> Option<MapRun> {
    let log = f.run.as_deref_mut().filter(|log| log.hands_over)?;
    // A run that exports its results hands over only the children a part has written.
    let parts = log.writes_parts;
    let ended = |c: &crate::writer::Child| {
        c.ended && !c.failed && !c.aborted && !c.name.is_empty() && (!parts || c.written)
    };
    if !log.children.iter().any(ended) {
        return None;
    }
    let outside = f.children_outside;
    // What the shell reads of the run: its ARN and these children.
    let named = RunLog {
        map_run_arn: log.map_run_arn.clone(),
        start_ms: log.start_ms,
        ..RunLog::default()
    };
    let mut run = view(&named, "RUNNING", None, f.total as u64, (0, 0, 0.0));
    let machine = log.child_machine_arn();
    let prefix = log.execution_arn("");
    let mut handed = log.handed;
    for (slot, child) in log.children.iter_mut().enumerate() {
        if !ended(child) {
            continue;
        }
        let child = std::mem::take(child);
        handed.children += 1;
        handed.items += child.items;
        // A child execution of its own is stored already: only its count is kept.
        if outside {
            continue;
        }
        let output = match f.results.get_mut(slot) {
            Some(result) if log.drops_results => std::mem::take(result),
            Some(result) => result.clone(),
            None => serde_json::Value::Null,
        };
        run.children.push(MapRunChild {
            execution_arn: format!("{prefix}{}", child.name),
            state_machine_arn: machine.clone(),
            name: child.name,
            status: "SUCCEEDED",
            start_ms: child.start_ms,
            stop_ms: Some(child.stop_ms),
            input: child.input.map(|input| *input).unwrap_or_default(),
            output,
            error: None,
            cause: None,
            item_count: (child.items > 0).then_some(child.items),
        });
    }
    log.handed = handed;
    run.children_detached = true;
    Some(run)
}

/// The items of the batches a batching run has not started (0 for a run that does not
/// batch: its items are not `{"Items": [...]}` objects).
fn pending_items(f: &Fanout) -> u64 {
    let pending = f.items.get(f.next_item..).unwrap_or_default();
    pending
        .iter()
        .filter_map(|batch| batch.get("Items").and_then(serde_json::Value::as_array))
        .map(|items| items.len() as u64)
        .sum()
}

/// A Distributed Map's largest number of concurrent child executions, its default.
const UNLIMITED: usize = 10_000;

/// AWS shows 0 for an unlimited MaxConcurrency.
fn shown_concurrency(f: &Fanout) -> u64 {
    if f.max_concurrency >= UNLIMITED {
        0
    } else {
        f.max_concurrency as u64
    }
}

fn settings(f: &Fanout) -> (u64, u64, f64) {
    (
        shown_concurrency(f),
        f.tolerated_count.unwrap_or(0),
        f.tolerated_percentage.unwrap_or(0.0),
    )
}

impl Execution {
    /// The execution's Map Runs, in the order they started.
    pub fn map_runs(&self) -> Vec<MapRun> {
        let mut runs: Vec<MapRun> = self
            .map_runs
            .iter()
            .map(|e| {
                let mut run = view(
                    &e.log,
                    &e.status,
                    Some(e.stop_ms),
                    e.total,
                    (e.max_concurrency, e.tolerated_count, e.tolerated_percentage),
                );
                if let Some(counts) = e.detached {
                    run.succeeded = counts.succeeded;
                    run.failed = counts.failed;
                    run.aborted = counts.aborted;
                    run.pending = e.total.saturating_sub(counts.started);
                    run.items = counts.items;
                    run.children_detached = true;
                }
                run.items.pending = e.pending_items;
                run.redrive_count = e.redrive_count;
                run.redrive_ms = e.redrive_ms;
                run
            })
            .collect();
        let stopped = self.status != crate::api::Status::Running;
        for thread in self.threads.values() {
            let fanout = match &thread.phase {
                Phase::Fanout(f) => &**f,
                Phase::Reading(r) => &r.fanout,
                _ => continue,
            };
            if let Some(log) = fanout.run.as_deref() {
                let (status, stop) = if stopped {
                    ("ABORTED", Some(log.start_ms.max(0)))
                } else {
                    ("RUNNING", None)
                };
                let mut run = view(log, status, stop, fanout.total as u64, settings(fanout));
                run.items.pending = pending_items(fanout);
                // A redriven run: the redrives are kept with the end it was redriven from.
                if let Some(ended) = self
                    .map_runs
                    .iter()
                    .find(|e| e.log.map_run_arn == log.map_run_arn)
                {
                    run.redrive_count = ended.redrive_count;
                    run.redrive_ms = ended.redrive_ms;
                }
                runs.push(run);
            }
        }
        // A redriven run goes on under its ARN: its live view replaces the ended one.
        let mut seen = std::collections::BTreeSet::new();
        runs.reverse();
        runs.retain(|r| seen.insert(r.map_run_arn.clone()));
        runs.sort_by_key(|r| r.start_ms);
        runs
    }
}

impl Execution {
    /// Takes the children of the Map Runs that ended since the last call out of the
    /// execution, for a shell that stores them as executions of their own (none of a run
    /// whose children already were: [`crate::Capabilities::map_run_children`]); the execution
    /// keeps their counts (a finished run of 100,000 children otherwise keeps ~10 MB here,
    /// rewritten by every later step). A shell that never calls it keeps them here, and the
    /// Map Run API reads them from here.
    pub fn detach_map_run_children(&mut self) -> Vec<MapRun> {
        let mut detached = Vec::new();
        // Running runs that hand their children over as they end (no ResultWriter): the
        // succeeded ones so far, so the execution never holds more than a slice of them.
        let running: Vec<ThreadId> = self
            .threads
            .iter()
            .filter(|(_, t)| matches!(&t.phase, Phase::Fanout(f) if f.run.is_some()))
            .map(|(tid, _)| *tid)
            .collect();
        for tid in running {
            if let Some(Phase::Fanout(f)) = self.threads.get_mut(&tid).map(|t| &mut t.phase) {
                detached.extend(hand_over(f));
            }
        }
        for ended in &mut self.map_runs {
            if ended.detached.is_some() {
                continue;
            }
            let mut run = view(
                &ended.log,
                &ended.status,
                Some(ended.stop_ms),
                ended.total,
                (
                    ended.max_concurrency,
                    ended.tolerated_count,
                    ended.tolerated_percentage,
                ),
            );
            let outcomes = std::mem::take(&mut ended.outcomes);
            let mut inputs = std::mem::take(&mut ended.inputs);
            let named = ended.log.children.iter().enumerate();
            let slots = named.filter(|(_, c)| !c.name.is_empty()).map(|(i, _)| i);
            for (child, slot) in run.children.iter_mut().zip(slots) {
                if let Some(input) = inputs.get_mut(slot) {
                    child.input = std::mem::take(input);
                }
                let outcome = outcomes.get(slot).unwrap_or(&serde_json::Value::Null);
                match child.status {
                    "SUCCEEDED" => child.output = outcome.clone(),
                    "FAILED" => {
                        let text = |field: &str| {
                            outcome
                                .get(field)
                                .and_then(serde_json::Value::as_str)
                                .map(str::to_string)
                        };
                        child.error = text("Error");
                        child.cause = text("Cause");
                    }
                    _ => {}
                }
            }
            if ended.children_outside {
                run.children.clear();
            }
            let mut items = run.items;
            items.aborted += std::mem::take(&mut items.running);
            items.pending = 0;
            ended.detached = Some(Counts {
                started: run.succeeded + run.failed + run.aborted + run.running,
                succeeded: run.succeeded,
                failed: run.failed,
                aborted: run.aborted + run.running,
                items,
            });
            ended.log.children = Vec::new();
            run.children_detached = true;
            detached.push(run);
        }
        detached
    }
}

impl Runner<'_> {
    /// UpdateMapRun: new settings for the running Map Run, and more children started at
    /// once if the concurrency rose.
    pub(crate) fn update_map_run(
        &mut self,
        arn: &str,
        max_concurrency: Option<u64>,
        tolerated_count: Option<u64>,
        tolerated_percentage: Option<f64>,
    ) {
        let found = self
            .exec
            .threads
            .iter()
            .find_map(|(tid, t)| match &t.phase {
                Phase::Fanout(f) if f.run.as_ref().is_some_and(|r| r.map_run_arn == arn) => {
                    Some(*tid)
                }
                _ => None,
            });
        let Some(tid) = found else { return };
        let Some(state) = self.state_of(tid) else {
            return;
        };
        let Some(thread) = self.thread_mut(tid) else {
            return;
        };
        let last = thread.last_event;
        if let Phase::Fanout(f) = &mut thread.phase {
            if let Some(n) = max_concurrency {
                f.max_concurrency = match usize::try_from(n) {
                    Ok(0) | Err(_) => UNLIMITED,
                    Ok(n) => n.min(UNLIMITED),
                };
            }
            if tolerated_count.is_some() {
                f.tolerated_count = tolerated_count;
            }
            if tolerated_percentage.is_some() {
                f.tolerated_percentage = tolerated_percentage;
            }
        }
        self.start_iterations(tid, state, last);
    }

    /// A Distributed Map's run ended with `status`: kept for the Map Run API.
    pub(crate) fn close_map_run(&mut self, tid: ThreadId, status: &str) {
        // A run paused between slices of its children that ends (a child failed past the
        // tolerance) waits no more.
        let pause = match self.thread(tid).map(|t| &t.phase) {
            Some(Phase::Fanout(f)) => f.run.as_ref().and_then(|r| r.pause),
            _ => None,
        };
        self.cancel_timer(pause);
        let ended = match self.thread(tid).map(|t| &t.phase) {
            Some(Phase::Fanout(f)) => self.ended(f, status),
            Some(Phase::Reading(r)) => self.ended(&r.fanout, status),
            _ => None,
        };
        self.keep_map_run(ended);
    }

    /// A Map Run whose thread is aborted (the execution stopped, timed out or failed
    /// elsewhere) ends ABORTED, its running children with it.
    pub(crate) fn abort_map_run(&mut self, phase: &Phase) {
        let ended = match phase {
            Phase::Fanout(f) => self.ended(f, "ABORTED"),
            Phase::Reading(r) => self.ended(&r.fanout, "ABORTED"),
            _ => None,
        };
        // A run that ended already (its Map failed, then its thread went) keeps that end.
        let known = |e: &Ended| {
            self.exec
                .map_runs
                .iter()
                .any(|k| k.log.map_run_arn == e.log.map_run_arn)
        };
        if ended.as_ref().is_some_and(known) {
            return;
        }
        self.keep_map_run(ended);
    }

    fn ended(&self, f: &Fanout, status: &str) -> Option<Ended> {
        let now = self.ctx.now_ms;
        f.run.as_deref().map(|log| {
            let mut log = log.clone();
            let inputs = log
                .children
                .iter_mut()
                .map(|child| child.input.take().map(|input| *input).unwrap_or_default())
                .collect();
            log.output = serde_json::Value::Null;
            // A write cut short (the execution stopped) leaves nothing to send again.
            log.writing = None;
            log.destination = None;
            let (max_concurrency, tolerated_count, tolerated_percentage) = settings(f);
            Ended {
                log,
                status: status.to_string(),
                stop_ms: now,
                total: f.total as u64,
                max_concurrency,
                tolerated_count,
                tolerated_percentage,
                detached: None,
                outcomes: if f.children_outside {
                    Vec::new()
                } else {
                    f.results.clone()
                },
                inputs,
                children_outside: f.children_outside,
                pending_items: pending_items(f),
                redrive_count: 0,
                redrive_ms: None,
            }
        })
    }

    fn keep_map_run(&mut self, ended: Option<Ended>) {
        if let Some(mut ended) = ended {
            let arn = ended.log.map_run_arn.clone();
            // A redriven run ends again under its ARN: its redrives stay with it.
            if let Some(before) = self.exec.map_runs.iter().find(|e| e.log.map_run_arn == arn) {
                ended.redrive_count = before.redrive_count;
                ended.redrive_ms = before.redrive_ms;
            }
            self.exec.map_runs.retain(|e| e.log.map_run_arn != arn);
            self.exec.map_runs.push(ended);
        }
    }
}

impl Execution {
    /// The event that tells a Distributed Map parent this child ([`crate::Command::StartMapRunChild`],
    /// reported with `task_id`) ended; None while it runs. Every shell reports the same
    /// outcome: a child's failure is its parent's task failure with the child's error and
    /// cause, or, when the child gave none, the error its status means (a TIMED_OUT child is
    /// `States.Timeout`, an ABORTED one `States.Aborted`), which the Map's tolerated failures
    /// and the parent's Retry/Catch then see.
    pub fn map_run_child_end(&self, task_id: crate::api::TaskId) -> Option<crate::api::Event> {
        use crate::api::{Event, Status};
        let failed = |default: &str| Event::TaskFailed {
            task_id,
            error: Some(self.error().unwrap_or(default).to_string()),
            cause: self.cause().map(str::to_string),
        };
        Some(match self.status() {
            Status::Running => return None,
            Status::Succeeded => Event::TaskSucceeded {
                task_id,
                output: self.output().cloned().unwrap_or(serde_json::Value::Null),
            },
            Status::Failed => failed("States.TaskFailed"),
            Status::TimedOut => failed("States.Timeout"),
            Status::Aborted => failed("States.Aborted"),
        })
    }
}
