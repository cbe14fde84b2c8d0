use crate::execution::{ContextExtra, Fault, Runner, ThreadId};
use crate::machine::{CState, ChoiceBranch};
use serde_json::Value;

impl Runner<'_> {
    /// Choice: the first matching rule's Next, else Default, else a `States.Runtime` failure
    /// (AWS's name for the spec's `States.NoChoiceMatched`).
    pub(crate) fn run_choice(
        &mut self,
        tid: ThreadId,
        state: &CState,
        branches: &[ChoiceBranch],
        default: Option<usize>,
    ) {
        let decided = (|| {
            let input = self.thread(tid).map(|t| &t.input).unwrap_or(&Value::Null);
            let effective = self.input_path(tid, state, input)?;
            self.inspect(tid, "afterInputPath", &effective);
            let mut next = None;
            let mut assign = state.assign.as_ref();
            for branch in branches {
                let matched = self.eval(
                    tid,
                    &effective,
                    state.uses_context,
                    ContextExtra::default(),
                    |s, _| branch.rule.matches(s),
                )?;
                if matched {
                    next = Some(branch.next);
                    // A matched rule's Assign replaces the state's.
                    if branch.assign.is_some() {
                        assign = branch.assign.as_ref();
                    }
                    break;
                }
            }
            let Some(next) = next.or(default) else {
                return Err(self.no_choice_matched(tid, state));
            };
            let assigned = self.assign(tid, assign, &effective, state.uses_context)?;
            let output = self.output_path(tid, state, effective)?;
            Ok((output, assigned, next))
        })();
        match decided {
            Ok((output, assigned, next)) => self.exit(tid, state, output, assigned, Some(next)),
            Err(fault) => self.fail(tid, fault),
        }
    }

    /// No rule matched and there is no Default: AWS's `States.Runtime` (the spec's
    /// `States.NoChoiceMatched`), in either query language.
    pub(crate) fn no_choice_matched(&self, tid: ThreadId, state: &CState) -> Fault {
        let entered = self.thread(tid).map_or(0, |t| t.entered_event);
        Fault::new(
            "States.Runtime",
            format!(
                "An error occurred while executing the state '{}' (entered at the event id #{entered}). No Choice Rule matched the input and the state has no Default.",
                state.name
            ),
        )
    }
}
