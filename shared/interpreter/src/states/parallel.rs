use crate::execution::{ContextExtra, Fanout, Parent, Phase, Runner, ThreadId};
use crate::machine::CState;
use serde_json::Value;
use std::collections::BTreeMap;

impl Runner<'_> {
    /// Parallel: every branch starts as its own thread on the same input.
    pub(crate) fn run_parallel(&mut self, tid: ThreadId, state: &CState, branches: &[usize]) {
        let prepared = (|| {
            let input = self.thread(tid).map(|t| &t.input).unwrap_or(&Value::Null);
            let effective = self.input_path(tid, state, input)?;
            match &state.parameters {
                Some(t) => self.eval(
                    tid,
                    &effective,
                    state.uses_context,
                    ContextExtra::default(),
                    |s, e| t.evaluate(s, e),
                ),
                None => Ok(effective),
            }
        })();
        let branch_input = match prepared {
            Ok(v) => v,
            Err(fault) => return self.fail(tid, fault),
        };
        self.start_branches(tid, state, branches, branch_input);
    }

    /// Starts one thread per Parallel branch on `input`.
    pub(crate) fn start_branches(
        &mut self,
        tid: ThreadId,
        state: &CState,
        branches: &[usize],
        input: Value,
    ) {
        let started = self.emit(tid, "ParallelStateStarted", Value::Null);
        let mut running = BTreeMap::new();
        for (slot, start) in branches.iter().enumerate() {
            let child = self.new_thread(
                Parent { thread: tid, slot },
                *start,
                input.clone(),
                started,
                false,
            );
            running.insert(slot, child);
        }
        let total = branches.len();
        if let Some(t) = self.thread_mut(tid) {
            t.phase = Phase::Fanout(Box::new(Fanout {
                input: Value::Null,
                items: Vec::new(),
                total,
                next_item: total,
                running,
                results: vec![Value::Null; total],
                finished: 0,
                failed: 0,
                max_concurrency: 0,
                tolerated_count: None,
                tolerated_percentage: None,
                run: None,
                ..Fanout::default()
            }));
        }
        if total == 0 {
            self.fanout_succeeded(tid, state);
        }
    }
}
