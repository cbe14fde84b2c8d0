//! RedriveExecution: an execution that ended FAILED, TIMED_OUT or ABORTED runs again from
//! the states that did not succeed, in the same history.
//!
//! While an execution runs, a thread that fails (and is not caught or retried) or is aborted
//! is kept, at the state it was in and with that state's input, instead of being dropped; a
//! failed Parallel or Map keeps its children's results. Threads kept under a state that later
//! succeeds (a Catch, a Retry, a tolerated iteration) are dropped when it moves on, so what is
//! left when the execution ends is exactly the unfinished part of the tree. A redrive enters
//! each kept state again from the root down: a Parallel or Map records its entry again and
//! starts only its unsuccessful branches or iterations (and a Map's items never started);
//! every other state starts over, its retry counters reset.
//!
//! A Distributed Map's Map Run is redriven under its ARN (`MapRunRedriven`, its redrive count
//! kept with the run for DescribeMapRun). Its children that run inside the parent go on from
//! where each stopped; children that are executions of their own are, with a shell that
//! redrives them ([`Execution::redrive_map_run_children`]), asked for again under their own
//! names so that the shell redrives each stored child execution (same ARN, its own
//! `redriveCount`) as AWS does; other shells run such a Map Run again whole.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::api::{Command, Context, Decision, MachineType, MapRunChildStart, Status};
use crate::execution::{
    entered_type, seconds_to_ms, Execution, Fanout, Phase, Runner, Thread, ThreadId, TimerFor,
    Work, ROOT,
};
use crate::history::details;
use crate::machine::{CState, Kind, Machine, MapSpec};

impl Execution {
    /// Why RedriveExecution cannot restart the execution now, as AWS's `redriveStatusReason`
    /// says it; `None` when it can (the shell still checks AWS's time windows, which depend
    /// on when the execution stopped).
    pub fn redrive_blocker(&self) -> Option<&'static str> {
        match self.status {
            Status::Running => return Some("Execution is RUNNING and cannot be redriven"),
            Status::Succeeded => return Some("Execution is SUCCEEDED and cannot be redriven"),
            Status::Failed | Status::TimedOut | Status::Aborted => {}
        }
        if self.info.machine_type == MachineType::Express {
            return Some("Execution is EXPRESS and cannot be redriven");
        }
        if self.event_count.saturating_add(1) >= self.limits.max_history_events {
            return Some("Execution history event limit exceeded");
        }
        if !self.unsuccessful.contains_key(&ROOT) {
            // Stored by a Cairn that kept no redrive point: the execution predates redrive.
            return Some("Execution was started before the launch of RedriveExecution");
        }
        None
    }

    /// RedriveExecution (as [`crate::Event::Redrive`]) for a shell that redrives a Map Run's
    /// unsuccessful STANDARD child executions itself: each is asked for again with
    /// [`Command::StartMapRunChild`] under its name (its execution ARN) and a `Null` input,
    /// and the shell redrives the stored child, linked to the new task, instead of starting
    /// one. A shell that cannot (`Event::Redrive`) gets such a run started again whole.
    pub fn redrive_map_run_children(&mut self, machine: &Machine, ctx: &Context) -> Decision {
        if self.redrive_blocker().is_some() {
            return Decision::default();
        }
        let mut run = Runner::new(self, machine, ctx);
        run.redrive_with(true);
        run.fail_if_nondeterministic();
        run.drain();
        run.finish()
    }
}

impl Runner<'_> {
    /// Keeps a thread that did not succeed for a redrive: at its state, waiting for nothing.
    pub(crate) fn keep_unsuccessful(&mut self, tid: ThreadId, mut thread: Box<Thread>) {
        let fanout = self.failed_fanouts.remove(&tid);
        // Express executions cannot be redriven: nothing is worth keeping.
        if self.exec.info.machine_type == MachineType::Express {
            return;
        }
        if let Some(fanout) = fanout {
            thread.phase = Phase::Fanout(fanout);
        } else if !matches!(thread.phase, Phase::Fanout(_)) {
            thread.phase = Phase::Idle;
        }
        // A Pass that failed moved its input into its StateEntered event, in this decision.
        if thread.input.is_null() && !thread.silent && thread.entered_event != 0 {
            let recorded = self
                .out
                .history
                .iter()
                .rev()
                .find(|e| e.id == thread.entered_event)
                .and_then(|e| e.details.get("input"));
            if let Some(input) = recorded {
                thread.input = input.clone();
            }
        }
        self.exec.unsuccessful.insert(tid, thread);
    }

    /// The state of `tid` succeeded or is tried again: what its children left unfinished is
    /// no longer anything a redrive should run.
    pub(crate) fn forget_unsuccessful_children(&mut self, tid: ThreadId) {
        if self.exec.unsuccessful.is_empty() {
            return;
        }
        let mut stack = vec![tid];
        while let Some(parent) = stack.pop() {
            let children: Vec<ThreadId> = self
                .exec
                .unsuccessful
                .iter()
                .filter(|(_, t)| t.parent.is_some_and(|p| p.thread == parent))
                .map(|(id, _)| *id)
                .collect();
            for child in children {
                self.exec.unsuccessful.remove(&child);
                stack.push(child);
            }
        }
    }

    /// Applies RedriveExecution (the caller checked [`Execution::redrive_blocker`]).
    pub(crate) fn redrive(&mut self) {
        self.redrive_with(false);
    }

    /// `children_in_place`: the shell redrives a Map Run's child executions (see
    /// [`Execution::redrive_map_run_children`]).
    fn redrive_with(&mut self, children_in_place: bool) {
        let count = self.exec.info.redrive_count.unwrap_or(0).saturating_add(1);
        let now = self.ctx.now_ms;
        self.exec.info.redrive_count = Some(count);
        self.exec.redrive_ms = Some(now);
        self.exec.status = Status::Running;
        self.exec.output = None;
        self.exec.error = None;
        self.exec.cause = None;
        let last = self.exec.event_count;
        let redriven = self.emit_with_prev(
            last,
            "ExecutionRedriven",
            details([("redriveCount", count.into())]),
        );
        // AWS restarts the state machine's TimeoutSeconds with the redrive.
        if let Some(seconds) = self.machine.timeout_seconds {
            self.start_timer(
                TimerFor::Execution,
                now.saturating_add(seconds_to_ms(seconds)),
            );
        }
        let mut kept = std::mem::take(&mut self.exec.unsuccessful);
        // Only threads still hanging under the root through running Parallel/Map states run
        // again; anything else could never report to a parent.
        let mut reachable = BTreeSet::from([ROOT]);
        loop {
            let before = reachable.len();
            for (tid, thread) in &kept {
                if let Some(parent) = thread.parent {
                    let under_fanout = kept
                        .get(&parent.thread)
                        .is_some_and(|p| matches!(p.phase, Phase::Fanout(_)));
                    if reachable.contains(&parent.thread) && under_fanout {
                        reachable.insert(*tid);
                    }
                }
            }
            if reachable.len() == before {
                break;
            }
        }
        kept.retain(|tid, _| reachable.contains(tid));
        self.exec.threads = kept;
        self.resume(ROOT, redriven, children_in_place);
    }

    /// Enters a kept thread's state again, following event `prev`.
    fn resume(&mut self, tid: ThreadId, prev: u64, children_in_place: bool) {
        let Some(state) = self.state_of(tid) else {
            return;
        };
        let mut children: Vec<(usize, ThreadId)> = self
            .exec
            .threads
            .iter()
            .filter_map(|(id, t)| t.parent.filter(|p| p.thread == tid).map(|p| (p.slot, *id)))
            .collect();
        children.sort_unstable();
        let Some(thread) = self.thread_mut(tid) else {
            return;
        };
        thread.last_event = prev;
        let fanout = match std::mem::replace(&mut thread.phase, Phase::Idle) {
            Phase::Fanout(fanout) => fanout,
            _ => {
                self.work.push_back(Work::Run(tid));
                return;
            }
        };
        let unstarted = fanout.total.saturating_sub(fanout.next_item);
        let spec = match &state.kind {
            Kind::Map(spec) => Some(&**spec),
            _ => None,
        };
        // The stored children a shell redrives: every one started that did not succeed.
        let outside = match spec {
            Some(spec) if fanout.children_outside && children_in_place && !spec.express => {
                fanout.run.as_deref().map(unsuccessful_children)
            }
            _ => None,
        };
        // A run whose children were executions of their own, with a shell that does not
        // redrive them, kept no inputs of the failed ones: it runs again whole too, a new
        // Map Run of all its items (as do EXPRESS ones: an Express execution is not redriven).
        let outside_again = outside.as_ref().is_some_and(|slots| !slots.is_empty());
        let nothing_left = children.is_empty() && unstarted == 0 && !outside_again;
        if nothing_left || (fanout.children_outside && outside.is_none()) {
            // Nothing of the children is left to run: the state itself failed after them
            // (its ResultSelector, say), so it runs again whole.
            self.work.push_back(Work::Run(tid));
            return;
        }
        let input = thread.input.clone();
        thread.entered_prev = prev;
        let entered = self.emit(
            tid,
            entered_type(state.type_name),
            state.shapes.entered(input),
        );
        self.mark_entered(tid, state, entered);
        let (is_map, distributed) = match &state.kind {
            Kind::Map(spec) => (true, spec.distributed),
            _ => (false, false),
        };
        let started = match &state.kind {
            Kind::Map(spec) => {
                let started = self.map_started(tid, spec, started_length(self.exec, spec, &fanout));
                match fanout.run.as_deref() {
                    Some(log) if spec.distributed => {
                        let arn = log.map_run_arn.clone();
                        let count = self.map_run_redriven(&arn);
                        self.emit(
                            tid,
                            "MapRunRedriven",
                            details([
                                ("mapRunArn", Value::String(arn)),
                                ("redriveCount", count.into()),
                            ]),
                        )
                    }
                    _ => started,
                }
            }
            _ => self.emit(tid, "ParallelStateStarted", Value::Null),
        };
        let mut fanout = fanout;
        let redriven = outside.as_ref().map_or(0, Vec::len);
        fanout.finished = fanout
            .total
            .saturating_sub(children.len() + redriven + unstarted);
        fanout.failed = 0;
        fanout.running = children.iter().copied().collect::<BTreeMap<_, _>>();
        // Whatever was under way when the run stopped reports to tasks it no longer holds.
        fanout.outside = BTreeMap::new();
        if let Some(log) = fanout.run.as_deref_mut() {
            // The children going on again are running, not what they ended as.
            let again = children.iter().map(|(slot, _)| *slot);
            for slot in again.chain(outside.iter().flatten().copied()) {
                if let Some(child) = log.children.get_mut(slot) {
                    reset(child);
                }
            }
        }
        if let Some(t) = self.thread_mut(tid) {
            t.phase = Phase::Fanout(fanout);
        }
        // All at once: MaxConcurrency holds for the items started after them.
        if let (Some(spec), Some(slots)) = (spec, &outside) {
            for slot in slots {
                self.redrive_child_execution(tid, state, spec, *slot);
            }
        }
        for (slot, child) in children {
            let prev = if is_map && !distributed {
                self.emit_after(
                    tid,
                    started,
                    "MapIterationStarted",
                    state.shapes.iteration(slot),
                )
            } else {
                started
            };
            self.resume(child, prev, children_in_place);
        }
        if is_map {
            self.start_iterations(tid, state, started);
        }
    }
}

impl Runner<'_> {
    /// A Map Run redriven: its redrive count (kept with the end it was redriven from) goes up.
    fn map_run_redriven(&mut self, arn: &str) -> u64 {
        let now = self.ctx.now_ms;
        match self
            .exec
            .map_runs
            .iter_mut()
            .find(|e| e.log.map_run_arn == arn)
        {
            Some(ended) => {
                ended.redrive_count = ended.redrive_count.saturating_add(1);
                ended.redrive_ms = Some(now);
                ended.redrive_count
            }
            None => 1,
        }
    }

    /// Asks the shell to redrive the stored child execution of item `slot`: a task of this
    /// thread, under the child's name, whose end is the child's.
    fn redrive_child_execution(
        &mut self,
        tid: ThreadId,
        state: &CState,
        spec: &MapSpec,
        slot: usize,
    ) {
        let task_id = self.exec.next_task;
        let Some(Phase::Fanout(f)) = self.thread_mut(tid).map(|t| &mut t.phase) else {
            return;
        };
        let Some(log) = f.run.as_deref() else { return };
        let Some(name) = log.children.get(slot).map(|c| c.name.clone()) else {
            return;
        };
        let start = MapRunChildStart {
            task_id,
            map_run_arn: log.map_run_arn.clone(),
            execution_arn: log.execution_arn(&name),
            state_machine_arn: log.child_machine_arn(),
            name,
            state_name: state.name.clone(),
            processor: spec.processor,
            machine_type: MachineType::Standard,
            input: Value::Null,
        };
        f.outside.insert(task_id, slot);
        self.exec.next_task += 1;
        self.exec.tasks.insert(task_id, tid);
        self.out
            .commands
            .push(Command::StartMapRunChild(Box::new(start)));
    }
}

/// A child that runs again: running, not what it ended as (its start stays the first).
fn reset(child: &mut crate::writer::Child) {
    child.ended = false;
    child.failed = false;
    child.aborted = false;
}

/// The items of a run whose children started and did not succeed (failed, aborted, or
/// still under way when the run stopped).
fn unsuccessful_children(log: &crate::writer::RunLog) -> Vec<usize> {
    log.children
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.name.is_empty() && (!c.ended || c.failed))
        .map(|(slot, _)| slot)
        .collect()
}

/// `MapStateStarted`'s length on a redrive, as the first attempt gave it: the items taken
/// from the input (before an ItemBatcher grouped them; none yet for an ItemReader's).
fn started_length(exec: &Execution, spec: &MapSpec, fanout: &Fanout) -> usize {
    if spec.reader.is_some() {
        return 0;
    }
    let batched = spec.distributed && spec.batcher.is_some();
    let Some(log) = fanout.run.as_deref().filter(|_| batched) else {
        return fanout.total;
    };
    // The run's items as the Map Run API counts them, from the end it was redriven from.
    exec.map_runs()
        .into_iter()
        .find(|run| run.map_run_arn == log.map_run_arn)
        .map_or(fanout.total, |run| run.items.total() as usize)
}
