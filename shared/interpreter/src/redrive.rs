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

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::api::{MachineType, Status};
use crate::execution::{
    entered_type, seconds_to_ms, Execution, Phase, Runner, Thread, ThreadId, TimerFor, Work, ROOT,
};
use crate::history::details;
use crate::machine::Kind;

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
        self.resume(ROOT, redriven);
    }

    /// Enters a kept thread's state again, following event `prev`.
    fn resume(&mut self, tid: ThreadId, prev: u64) {
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
        // A run whose children were executions of their own kept no inputs of the failed
        // ones: it runs again whole too, a new Map Run of all its items.
        if (children.is_empty() && unstarted == 0) || fanout.children_outside {
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
                let started = self.map_started(tid, spec, fanout.total);
                if spec.distributed {
                    let arn = self.map_run_arn(spec);
                    self.emit(
                        tid,
                        "MapRunStarted",
                        details([("mapRunArn", Value::String(arn))]),
                    )
                } else {
                    started
                }
            }
            _ => self.emit(tid, "ParallelStateStarted", Value::Null),
        };
        let mut fanout = fanout;
        fanout.finished = fanout.total.saturating_sub(children.len() + unstarted);
        fanout.failed = 0;
        fanout.running = children.iter().copied().collect::<BTreeMap<_, _>>();
        if let Some(t) = self.thread_mut(tid) {
            t.phase = Phase::Fanout(fanout);
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
            self.resume(child, prev);
        }
        if is_map {
            self.start_iterations(tid, state, started);
        }
    }
}
