use crate::execution::{ContextExtra, Fault, Phase, Runner, ThreadId, TimerFor};
use crate::flow::Failure;
use crate::history::json_text;
use crate::machine::{CState, WaitSpec};
use crate::time::parse_timestamp;
use serde_json::Value;

impl Runner<'_> {
    /// Wait: a timer until the computed time; a time already past continues at once.
    pub(crate) fn run_wait(&mut self, tid: ThreadId, state: &CState, spec: &WaitSpec) {
        let now = self.ctx.now_ms;
        let planned = (|| {
            let input = self.thread(tid).map(|t| &t.input).unwrap_or(&Value::Null);
            let effective = self.input_path(tid, state, input)?;
            let fire_at = match spec {
                WaitSpec::Seconds(s) => now.saturating_add(crate::execution::seconds_to_ms(*s)),
                WaitSpec::Timestamp(t) => parse_timestamp(t).ok_or_else(|| {
                    self.state_fault(tid, Failure::runtime(format!(
                        "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {t}"
                    )))
                })?,
                WaitSpec::SecondsPath(p) => {
                    let seconds = self.eval(tid, &effective, p.is_context(), ContextExtra::default(), |s, _| {
                        let text = p.text();
                        match p.find(s).as_ref() {
                            None => Err(Failure::runtime(format!(
                                "The SecondsPath parameter does not reference an input value: {text}"
                            ))),
                            Some(Value::Number(n)) => match n.as_i64() {
                                Some(v) if v < 0 => Err(Failure::runtime(format!(
                                    "The SecondsPath parameter references a negative value: {text} == {v}"
                                ))),
                                Some(v) => Ok(v),
                                None => Err(Failure::runtime(format!(
                                    "The SecondsPath parameter cannot be parsed as a long value: {text} == {n}"
                                ))),
                            },
                            Some(other) => Err(Failure::runtime(format!(
                                "The SecondsPath parameter cannot be parsed as a long value: {text} == {}",
                                plain(other)
                            ))),
                        }
                    })?;
                    now.saturating_add(seconds.saturating_mul(1000))
                }
                WaitSpec::TimestampPath(p) => self.eval(tid, &effective, p.is_context(), ContextExtra::default(), |s, _| {
                    let text = p.text();
                    match p.find(s).as_ref() {
                        None => Err(Failure::runtime(format!(
                            "The TimestampPath parameter does not reference an input value: {text}"
                        ))),
                        Some(v) => v.as_str().and_then(parse_timestamp).ok_or_else(|| {
                            Failure::runtime(format!(
                                "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {text} == {}",
                                plain(v)
                            ))
                        }),
                    }
                })?,
            };
            Ok::<_, Fault>((effective, fire_at))
        })();
        self.wait_until(tid, planned);
    }

    /// Waits for the planned time (a time already past continues at once), keeping the
    /// effective input for the state's exit; or fails the state. Both query languages.
    pub(crate) fn wait_until(&mut self, tid: ThreadId, planned: Result<(Value, i64), Fault>) {
        let now = self.ctx.now_ms;
        match planned {
            Ok((effective, fire_at)) if fire_at <= now => {
                if let Some(t) = self.thread_mut(tid) {
                    t.phase = Phase::Wait {
                        timer: 0,
                        effective,
                    };
                }
                self.wait_done(tid);
            }
            Ok((effective, fire_at)) => {
                let timer = self.start_timer(TimerFor::Wait(tid), fire_at);
                if let Some(t) = self.thread_mut(tid) {
                    t.phase = Phase::Wait { timer, effective };
                }
            }
            Err(fault) => self.fail(tid, fault),
        }
    }

    /// The Wait state's time came: Assign, OutputPath, exit.
    pub(crate) fn wait_done(&mut self, tid: ThreadId) {
        let Some(state) = self.state_of(tid) else {
            return;
        };
        let effective = match self
            .thread_mut(tid)
            .map(|t| std::mem::replace(&mut t.phase, Phase::Idle))
        {
            Some(Phase::Wait { effective, .. }) => effective,
            _ => return,
        };
        if let Some(j) = &state.jsonata {
            let finished = self.jsonata_finish(
                tid,
                state,
                j,
                crate::jsonata::Produced::Nothing,
                j.output.as_ref(),
                j.assign.as_ref(),
            );
            return match finished {
                Ok((output, assigned)) => {
                    let output = output.unwrap_or(effective);
                    self.exit(tid, state, output, assigned, state.next)
                }
                Err(fault) => self.fail(tid, fault),
            };
        }
        let finished = self
            .assign(tid, state.assign.as_ref(), &effective, state.uses_context)
            .and_then(|assigned| Ok((self.output_path(tid, state, effective)?, assigned)));
        match finished {
            Ok((output, assigned)) => self.exit(tid, state, output, assigned, state.next),
            Err(fault) => self.fail(tid, fault),
        }
    }
}

/// A value as AWS quotes it in messages: strings bare, anything else as JSON text.
pub(crate) fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => json_text(other),
    }
}
