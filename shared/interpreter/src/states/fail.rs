use crate::execution::{ContextExtra, Fault, Runner, ThreadId};
use crate::flow::Failure;
use crate::history::json_text;
use crate::machine::FailField;
use serde_json::Value;

impl Runner<'_> {
    /// Fail: only `FailStateEntered` is recorded; the thread ends with the error and cause.
    pub(crate) fn run_fail(&mut self, tid: ThreadId, error: &FailField, cause: &FailField) {
        let input = self
            .thread(tid)
            .map(|t| t.input.clone())
            .unwrap_or(Value::Null);
        // A Fail state has no InputPath: what AWS shows as after it is the input.
        self.inspect(tid, "afterInputPath", &input);
        let resolve = |field: &FailField, name: &str| -> Result<Option<String>, Fault> {
            let value = match field {
                FailField::None => return Ok(None),
                FailField::Literal(s) => return Ok(Some(s.clone())),
                FailField::Path(p) => self.eval(tid, &input, p.is_context(), ContextExtra::default(), |s, _| {
                    p.find(s).ok_or_else(|| {
                        Failure::runtime(format!(
                            "The JSONPath '{}' specified for the field '{name}' could not be found in the input '{}'",
                            p.text(),
                            json_text(s.input)
                        ))
                    })
                })?,
                FailField::Intrinsic(t) => {
                    let v = self.eval(tid, &input, true, ContextExtra::default(), |s, e| t.evaluate(s, e))?;
                    v.get(name).cloned().unwrap_or(Value::Null)
                }
            };
            Ok(Some(match value {
                Value::String(text) => text,
                other => json_text(&other),
            }))
        };
        let fault = match (resolve(error, "ErrorPath"), resolve(cause, "CausePath")) {
            (Ok(error), Ok(cause)) => Fault {
                error,
                cause,
                evaluation: None,
            },
            (Err(f), _) | (_, Err(f)) => f,
        };
        self.end_thread(tid, Err(fault));
    }
}
