use crate::execution::{ContextExtra, Fault, Runner, ThreadId};
use crate::machine::{CState, IoPath, ResultPath};
use serde_json::Value;

impl Runner<'_> {
    /// The result of a Pass computed from its raw input, which the caller holds.
    pub(crate) fn pass_result(
        &self,
        tid: ThreadId,
        state: &CState,
        result: Option<&Value>,
        input: &Value,
    ) -> Result<Value, Fault> {
        if let Some(result) = result {
            self.inspect(tid, "result", result);
            return Ok(result.clone());
        }
        let Some(parameters) = &state.parameters else {
            let effective = self.input_path(tid, state, input)?;
            self.inspect(tid, "afterInputPath", &effective);
            self.inspect(tid, "afterParameters", &effective);
            return Ok(effective);
        };
        let evaluate = |effective: &Value| {
            self.inspect(tid, "afterInputPath", effective);
            let parameters = self.eval(
                tid,
                effective,
                state.uses_context,
                ContextExtra::default(),
                |s, e| parameters.evaluate(s, e),
            )?;
            self.inspect(tid, "afterParameters", &parameters);
            Ok(parameters)
        };
        match state.input_path {
            IoPath::Whole => evaluate(input),
            _ => evaluate(&self.input_path(tid, state, input)?),
        }
    }

    /// Pass: the result is `Result`, or the effective parameters, or the effective input.
    pub(crate) fn run_pass(&mut self, tid: ThreadId, state: &CState, result: Option<&Value>) {
        let produced = (|| {
            if let Some(result) = result {
                self.inspect(tid, "result", result);
                return Ok(result.clone());
            }
            let effective =
                if state.result_path == ResultPath::Replace && state.input_path == IoPath::Whole {
                    // Nothing reads the raw input again (a Pass has no Catch): move it instead of copying.
                    self.exec
                        .threads
                        .get_mut(&tid)
                        .map(|t| std::mem::take(&mut t.input))
                        .unwrap_or(Value::Null)
                } else {
                    let input = self.thread(tid).map(|t| &t.input).unwrap_or(&Value::Null);
                    self.input_path(tid, state, input)?
                };
            self.inspect(tid, "afterInputPath", &effective);
            let parameters = match &state.parameters {
                Some(t) => self.eval(
                    tid,
                    &effective,
                    state.uses_context,
                    ContextExtra::default(),
                    |s, e| t.evaluate(s, e),
                )?,
                None => effective,
            };
            self.inspect(tid, "afterParameters", &parameters);
            Ok(parameters)
        })();
        match produced {
            Ok(result) => self.complete(tid, result),
            Err(fault) => self.fail(tid, fault),
        }
    }
}
