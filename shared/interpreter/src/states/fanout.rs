//! The children of Parallel and Map states: starting them, and what their ends mean.

use crate::api::{Command, TaskId};
use crate::execution::{Fault, Parent, Phase, Runner, Thread, ThreadId, Work};
use crate::machine::{CState, Kind};
use serde_json::Value;
use std::collections::BTreeMap;

impl Runner<'_> {
    pub(crate) fn new_thread(
        &mut self,
        parent: Parent,
        start: usize,
        input: Value,
        last_event: u64,
        silent: bool,
    ) -> ThreadId {
        let child = self.exec.next_thread;
        self.exec.next_thread = self.exec.next_thread.wrapping_add(1);
        let mut thread = Thread::new(Some(parent), start, input, last_event);
        thread.silent = silent || self.silent(parent.thread);
        self.exec.threads.insert(child, Box::new(thread));
        self.work.push_back(Work::Run(child));
        child
    }

    /// All children succeeded: `<Type>StateSucceeded`, then the state completes with their results.
    pub(crate) fn fanout_succeeded(&mut self, tid: ThreadId, state: &CState) {
        // A Map that exports its results ends when the shell has written them.
        if self.write_results(tid, state, None) {
            return;
        }
        self.close_map_run(tid, "SUCCEEDED");
        let (results, run) = match self
            .thread_mut(tid)
            .map(|t| std::mem::replace(&mut t.phase, Phase::Idle))
        {
            Some(Phase::Fanout(f)) => (f.results, f.run),
            _ => return,
        };
        let results = match &state.kind {
            Kind::Map(spec) => match spec.writer.as_deref() {
                Some(w) => crate::writer::transformed(w, run.as_deref(), results),
                None => results,
            },
            _ => results,
        };
        self.map_succeeded(tid, state, Value::Array(results));
    }

    /// `<Type>StateSucceeded` (after `MapRunSucceeded` for a Distributed Map), then the
    /// state completes with `output`.
    pub(crate) fn map_succeeded(&mut self, tid: ThreadId, state: &CState, output: Value) {
        let run_started = self.thread(tid).map_or(0, |t| t.last_event);
        if distributed(state) {
            self.emit(tid, "MapRunSucceeded", Value::Null);
        }
        let last = self.thread(tid).map_or(0, |t| t.last_event);
        self.emit_after(
            tid,
            last,
            format!("{}StateSucceeded", state.type_name),
            Value::Null,
        );
        // AWS (recordings since late 2024, whatever the query language) chains a Distributed
        // Map's exit to its MapRunStarted, not to the MapRunSucceeded just written.
        if distributed(state) {
            if let Some(t) = self.thread_mut(tid) {
                t.last_event = run_started;
            }
        }
        self.complete(tid, output);
    }

    /// Aborts every running child of a Parallel/Map state.
    pub(crate) fn abort_children(&mut self, tid: ThreadId, state: &CState) {
        let (running, outside) = match self.thread_mut(tid).map(|t| &mut t.phase) {
            Some(Phase::Fanout(f)) => (
                std::mem::take(&mut f.running),
                std::mem::take(&mut f.outside),
            ),
            _ => return,
        };
        self.stop_children_outside(outside);
        for (slot, child) in running {
            let last = self.thread(child).map_or(0, |t| t.last_event);
            self.abort_thread(child);
            if matches!(state.kind, Kind::Map(_)) && !distributed(state) {
                self.emit_after(
                    tid,
                    last,
                    "MapIterationAborted",
                    state.shapes.iteration(slot),
                );
            }
        }
    }

    /// The shell is asked to stop the child executions still under way.
    pub(crate) fn stop_children_outside(&mut self, outside: BTreeMap<TaskId, usize>) {
        for task_id in outside.into_keys() {
            if self.exec.tasks.remove(&task_id).is_some() {
                self.out.commands.push(Command::CancelTask { task_id });
            }
        }
    }

    /// The Map whose child execution reports on `task_id`, and the child's item index.
    pub(crate) fn map_child_of(&self, task_id: TaskId) -> Option<(ThreadId, usize)> {
        let tid = *self.exec.tasks.get(&task_id)?;
        match &self.thread(tid)?.phase {
            Phase::Fanout(f) => f.outside.get(&task_id).map(|slot| (tid, *slot)),
            _ => None,
        }
    }

    /// A child execution the shell ran ended (`Err`: failed, timed out or aborted).
    pub(crate) fn map_child_ended(&mut self, task_id: TaskId, outcome: Result<Value, Fault>) {
        let Some((tid, slot)) = self.map_child_of(task_id) else {
            return;
        };
        self.exec.tasks.remove(&task_id);
        let Some(thread) = self.thread_mut(tid) else {
            return;
        };
        let last = thread.last_event;
        if let Phase::Fanout(f) = &mut thread.phase {
            f.outside.remove(&task_id);
        }
        self.child_ended(Parent { thread: tid, slot }, last, outcome);
    }

    /// A branch or iteration ended.
    pub(crate) fn child_ended(
        &mut self,
        parent: Parent,
        child_last: u64,
        outcome: Result<Value, Fault>,
    ) {
        let tid = parent.thread;
        let Some(state) = self.state_of(tid) else {
            return;
        };
        let is_map = matches!(state.kind, Kind::Map(_));
        let now = self.ctx.now_ms;
        let silent = distributed(state);
        // A parent that no longer exists was aborted earlier in this decision: moot.
        let Some(thread) = self.exec.threads.get_mut(&tid) else {
            return;
        };
        let Phase::Fanout(fanout) = &mut thread.phase else {
            return self.nondeterministic(|| {
                format!(
                    "a child of thread {tid} ended, but the thread runs no branches or iterations"
                )
            });
        };
        fanout.running.remove(&parent.slot);
        if let Some(child) = fanout.run.as_mut().and_then(|r| r.child_mut(parent.slot)) {
            child.stop_ms = now;
            child.failed = outcome.is_err();
            child.ended = true;
        }
        // The parent's next event follows the child's last one (a child execution's
        // events are not in this history).
        if !silent {
            thread.last_event = child_last;
        }
        match outcome {
            Ok(value) => {
                if let Some(slot) = fanout.results.get_mut(parent.slot) {
                    *slot = value;
                }
                fanout.finished += 1;
                let done = fanout.finished == fanout.total;
                if is_map && !silent {
                    let id = self.emit_after(
                        tid,
                        child_last,
                        "MapIterationSucceeded",
                        state.shapes.iteration(parent.slot),
                    );
                    if let Some(t) = self.thread_mut(tid) {
                        t.last_event = id;
                    }
                }
                if done {
                    self.fanout_succeeded(tid, state);
                } else if is_map {
                    self.start_iterations(tid, state, child_last);
                }
            }
            Err(fault) => {
                if !is_map {
                    self.abort_children(tid, state);
                    return self.fail(tid, fault);
                }
                fanout.failed += 1;
                let (failed, total) = (fanout.failed, fanout.total);
                let (count, percentage) = (fanout.tolerated_count, fanout.tolerated_percentage);
                if !silent {
                    self.emit_after(
                        tid,
                        child_last,
                        "MapIterationFailed",
                        state.shapes.iteration(parent.slot),
                    );
                }
                let tolerated = match (count, percentage) {
                    (None, None) => false,
                    (c, p) => {
                        !matches!(c, Some(c) if failed > c)
                            && !matches!(p, Some(p) if (failed as f64) * 100.0 / (total.max(1) as f64) > p)
                    }
                };
                if !tolerated {
                    let now = self.ctx.now_ms;
                    if let Some(Phase::Fanout(f)) = self.thread_mut(tid).map(|t| &mut t.phase) {
                        // The children still running are aborted: exported with the failed.
                        if let Some(slot) = f.results.get_mut(parent.slot) {
                            *slot = fault.to_output();
                        }
                        let running: Vec<usize> = f
                            .running
                            .keys()
                            .chain(f.outside.values())
                            .copied()
                            .collect();
                        if let Some(log) = f.run.as_mut() {
                            for slot in running {
                                if let Some(child) = log.child_mut(slot) {
                                    child.failed = true;
                                    child.aborted = true;
                                    child.ended = true;
                                    child.stop_ms = now;
                                }
                            }
                        }
                    }
                    self.abort_children(tid, state);
                    let fault = if count.is_some() || percentage.is_some() || silent {
                        Fault::new(
                            "States.ExceedToleratedFailureThreshold",
                            "The specified tolerated failure threshold was exceeded",
                        )
                    } else {
                        fault
                    };
                    if self.write_results(tid, state, Some(fault.clone())) {
                        return;
                    }
                    if silent {
                        self.close_map_run(tid, "FAILED");
                        self.emit(tid, "MapRunFailed", fault_details(&fault));
                    }
                    return self.fail(tid, fault);
                }
                let done = match self.thread_mut(tid).map(|t| &mut t.phase) {
                    Some(Phase::Fanout(f)) => {
                        if let Some(slot) = f.results.get_mut(parent.slot) {
                            *slot = fault.to_output();
                        }
                        f.finished += 1;
                        f.finished == f.total
                    }
                    _ => return,
                };
                if done {
                    self.fanout_succeeded(tid, state);
                } else {
                    self.start_iterations(tid, state, child_last);
                }
            }
        }
    }
}

fn distributed(state: &CState) -> bool {
    matches!(&state.kind, Kind::Map(spec) if spec.distributed)
}

fn fault_details(fault: &Fault) -> Value {
    let mut fields = serde_json::Map::new();
    if let Some(c) = &fault.cause {
        fields.insert("cause".into(), Value::String(c.clone()));
    }
    if let Some(e) = &fault.error {
        fields.insert("error".into(), Value::String(e.clone()));
    }
    Value::Object(fields)
}
