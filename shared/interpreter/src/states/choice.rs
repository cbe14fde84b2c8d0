use crate::execution::{ContextExtra, Fault, Output, Runner, Stash, ThreadId};
use crate::machine::{CState, ChoiceBranch, IoPath};
use serde_json::{Map, Value};
use std::sync::Arc;

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
        // Nothing reads a Choice's raw input once it has its effective input (it has no
        // ResultPath, Retry or Catch): with InputPath `$` it is moved, not copied, and put
        // back whenever the state may fail (a redrive enters it again with it).
        let moved = state.input_path == IoPath::Whole && !self.machine.inspect;
        let effective = if moved {
            self.exec
                .threads
                .get_mut(&tid)
                .map(|t| std::mem::take(&mut t.input))
                .unwrap_or(Value::Null)
        } else {
            let input = self.thread(tid).map(|t| &t.input).unwrap_or(&Value::Null);
            match self.input_path(tid, state, input) {
                Ok(effective) => effective,
                Err(fault) => return self.fail(tid, fault),
            }
        };
        self.inspect(tid, "afterInputPath", &effective);
        let chosen = self.choose(tid, state, branches, default, &effective);
        let put_back = |run: &mut Self, effective: Value| {
            if let Some(t) = run.thread_mut(tid) {
                t.input = effective;
            }
        };
        let (next, assigned) = match chosen {
            Ok(chosen) => chosen,
            Err(fault) => {
                if moved {
                    put_back(self, effective);
                }
                return self.fail(tid, fault);
            }
        };
        if moved && state.output_path != IoPath::Whole {
            put_back(self, effective.clone());
        }
        match self.output_path(tid, state, effective) {
            Ok(output) => self.exit(tid, state, output, assigned, Some(next)),
            Err(fault) => self.fail(tid, fault),
        }
    }

    /// A Choice whose input passes through unchanged (InputPath and OutputPath `$`), held
    /// shared with its events instead of by its thread.
    pub(crate) fn run_choice_shared(
        &mut self,
        tid: ThreadId,
        state: &CState,
        branches: &[ChoiceBranch],
        default: Option<usize>,
        input: Stash,
    ) {
        match self.choose(tid, state, branches, default, &input.input) {
            Ok((next, assigned)) => self.exit_with(
                tid,
                state,
                Output::Shared(input.input),
                input.within_limit,
                assigned,
                Some(next),
            ),
            Err(fault) => {
                if let Some(t) = self.thread_mut(tid) {
                    t.input = Arc::unwrap_or_clone(input.input);
                }
                self.fail(tid, fault)
            }
        }
    }

    /// The first matching rule's Next (else Default) and the variables it assigns.
    fn choose(
        &self,
        tid: ThreadId,
        state: &CState,
        branches: &[ChoiceBranch],
        default: Option<usize>,
        effective: &Value,
    ) -> Result<(usize, Option<Map<String, Value>>), Fault> {
        let mut next = None;
        let mut assign = state.assign.as_ref();
        for branch in branches {
            let matched = self.eval(
                tid,
                effective,
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
        let assigned = self.assign(tid, assign, effective, state.uses_context)?;
        Ok((next, assigned))
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
