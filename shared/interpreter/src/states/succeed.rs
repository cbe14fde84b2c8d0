use crate::execution::{Runner, ThreadId};
use crate::machine::{CState, IoPath};
use serde_json::Value;

impl Runner<'_> {
    /// Succeed: InputPath then OutputPath, and the thread ends successfully.
    pub(crate) fn run_succeed(&mut self, tid: ThreadId, state: &CState) {
        // The thread ends here: its input is moved on, not copied, unless a path could fail
        // (a redrive would enter the state again with it).
        let whole = state.input_path == IoPath::Whole && state.output_path == IoPath::Whole;
        if whole && !self.machine.inspect {
            let output = self
                .thread_mut(tid)
                .map(|t| std::mem::take(&mut t.input))
                .unwrap_or(Value::Null);
            return self.exit(tid, state, output, None, None);
        }
        let input = self
            .thread(tid)
            .map(|t| t.input.clone())
            .unwrap_or(Value::Null);
        let output = self
            .input_path(tid, state, &input)
            .and_then(|e| self.output_path(tid, state, e));
        match output {
            Ok(output) => self.exit(tid, state, output, None, None),
            Err(fault) => self.fail(tid, fault),
        }
    }
}
