use crate::execution::{Runner, ThreadId};
use crate::machine::CState;
use serde_json::Value;

impl Runner<'_> {
    /// Succeed: InputPath then OutputPath, and the thread ends successfully.
    pub(crate) fn run_succeed(&mut self, tid: ThreadId, state: &CState) {
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
