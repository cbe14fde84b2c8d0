//! JSONata states: the same behaviour as their JSONPath twins, with `Arguments`, `Output`,
//! `Assign` and the other fields evaluated as JSONata with `$states` and the variables.

use crate::execution::ThreadId;
use crate::execution::{ChainVars, ContextExtra, EvalFailure, Fault, Phase, Runner};
use crate::flow::Failure;
use crate::history::json_text;
use crate::jsonata::{
    bindings, unexpected_type, JFailure, JTemplate, Produced, StatesVar, StepEnv,
};
use crate::machine::{CState, JSpec, Kind, MapSpec};
use crate::states::map::MapPlan;
use crate::states::task::TaskInputs;
use cairn_dataflow::Variables;
use cairn_jsonata::Bindings;
use serde_json::{Map, Value};

/// A JSONata state's Output (`None`: the default applies) and assigned variables.
pub(crate) type Finished = (Option<Value>, Option<Map<String, Value>>);

const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";

impl Runner<'_> {
    /// A failed evaluation as the state's fault.
    fn query_fault(&self, tid: ThreadId, failure: JFailure) -> Fault {
        let mut fault = self.state_fault(tid, Failure::new(QUERY_EVALUATION_ERROR, failure.cause));
        fault.evaluation = Some(EvalFailure {
            location: failure.location,
            after_entered: false,
        });
        fault
    }

    /// Evaluates one field of a JSONata state with `$states.input` = the state's input.
    pub(crate) fn jsonata_eval(
        &self,
        tid: ThreadId,
        j: &JSpec,
        template: &JTemplate,
        field: &str,
        produced: Produced<'_>,
        extra: ContextExtra<'_>,
    ) -> Result<Value, Fault> {
        if let JTemplate::Literal(v) = template {
            return Ok(v.clone());
        }
        let input = self.thread(tid).map(|t| &t.input).unwrap_or(&Value::Null);
        self.jsonata_eval_on(tid, j, template, field, input, produced, extra)
    }

    #[allow(clippy::too_many_arguments)]
    fn jsonata_eval_on(
        &self,
        tid: ThreadId,
        j: &JSpec,
        template: &JTemplate,
        field: &str,
        input: &Value,
        produced: Produced<'_>,
        extra: ContextExtra<'_>,
    ) -> Result<Value, Fault> {
        let b = self.jsonata_bindings(tid, j, input, produced, extra);
        self.jsonata_run(tid, template, field, &b)
    }

    /// `$states` and the variables the state's expressions read, built once per step.
    fn jsonata_bindings(
        &self,
        tid: ThreadId,
        j: &JSpec,
        input: &Value,
        produced: Produced<'_>,
        extra: ContextExtra<'_>,
    ) -> Bindings {
        // A Map item is always readable as `$states.context.Map.Item.Value`.
        let wants_context = j.uses_context || extra.map_item.is_some();
        let context = wants_context.then(|| self.context_object(tid, extra));
        let (result, error_output) = match produced {
            Produced::Nothing => (None, None),
            Produced::Result(v) => (Some(v), None),
            Produced::ErrorOutput(v) => (None, Some(v)),
        };
        let used = j.states;
        let states = StatesVar {
            input: used.input.then_some(input),
            result: result.filter(|_| used.result),
            error_output: error_output.filter(|_| used.error_output),
            context: context.as_ref(),
        };
        let vars = ChainVars {
            threads: &self.exec.threads,
            thread: tid,
        };
        bindings(states, &j.variables, |name| vars.lookup(name))
    }

    fn jsonata_run(
        &self,
        tid: ThreadId,
        template: &JTemplate,
        field: &str,
        b: &Bindings,
    ) -> Result<Value, Fault> {
        if let JTemplate::Literal(v) = template {
            return Ok(v.clone());
        }
        let mut env = StepEnv {
            now_ms: self.ctx.now_ms,
            seed: self.entropy(),
            counter: 0,
        };
        template
            .evaluate(field, None, b, &mut env)
            .map_err(|f| self.query_fault(tid, f))
    }

    /// Output (`None`: the caller's default) and Assign of a JSONata state, both evaluated
    /// with the variables as they were when the state was entered.
    pub(crate) fn jsonata_finish(
        &self,
        tid: ThreadId,
        _state: &CState,
        j: &JSpec,
        produced: Produced<'_>,
        output: Option<&JTemplate>,
        assign: Option<&JTemplate>,
    ) -> Result<Finished, Fault> {
        let needs_bindings =
            |t: Option<&JTemplate>| t.is_some_and(|t| !matches!(t, JTemplate::Literal(_)));
        let b = if needs_bindings(assign) || needs_bindings(output) {
            let input = self.thread(tid).map(|t| &t.input).unwrap_or(&Value::Null);
            self.jsonata_bindings(tid, j, input, produced, ContextExtra::default())
        } else {
            Bindings::new()
        };
        let assigned = match assign {
            None => None,
            Some(JTemplate::Object(fields)) => {
                let mut vars = Map::with_capacity(fields.len());
                for (name, t) in fields {
                    let v = self.jsonata_run(tid, t, &format!("Assign/{name}"), &b)?;
                    vars.insert(name.clone(), v);
                }
                Some(vars)
            }
            Some(t) => match self.jsonata_run(tid, t, "Assign", &b)? {
                Value::Object(vars) => Some(vars),
                _ => Some(Map::new()),
            },
        };
        let output = output
            .map(|t| self.jsonata_run(tid, t, "Output", &b))
            .transpose()?;
        Ok((output, assigned))
    }

    /// Records AWS's `EvaluationFailed` event for a failed JSONata evaluation.
    pub(crate) fn evaluation_failed(
        &mut self,
        tid: ThreadId,
        state: &CState,
        fault: &Fault,
        evaluation: EvalFailure,
    ) {
        let Some(t) = self.thread(tid) else {
            return;
        };
        let prev = if evaluation.after_entered {
            t.entered_event
        } else {
            t.entered_prev
        };
        let mut fields = Map::with_capacity(4);
        if let Some(c) = &fault.cause {
            fields.insert("cause".into(), Value::String(c.clone()));
        }
        if let Some(e) = &fault.error {
            fields.insert("error".into(), Value::String(e.clone()));
        }
        if let Some(l) = evaluation.location {
            fields.insert("location".into(), Value::String(l));
        }
        fields.insert("state".into(), Value::String(state.name.clone()));
        if self.silent(tid) {
            return;
        }
        let id = self.emit_with_prev(prev, "EvaluationFailed", Value::Object(fields));
        if let Some(t) = self.thread_mut(tid) {
            t.last_event = id;
        }
        // A Map that fails before starting its iterations still records MapStateFailed.
        if matches!(state.kind, Kind::Map(_))
            && !matches!(self.thread(tid).map(|t| &t.phase), Some(Phase::Fanout(_)))
        {
            self.emit(tid, "MapStateFailed", Value::Null);
        }
    }

    /// Runs a JSONata state once entered.
    pub(crate) fn run_jsonata(&mut self, tid: ThreadId, state: &CState) {
        let Some(j) = state.jsonata.as_deref() else {
            return;
        };
        match &state.kind {
            Kind::Pass { .. } | Kind::Succeed => {
                let finished = self.jsonata_finish(
                    tid,
                    state,
                    j,
                    Produced::Nothing,
                    j.output.as_ref(),
                    j.assign.as_ref(),
                );
                match finished {
                    Ok((output, assigned)) => {
                        let output = output.unwrap_or_else(|| {
                            self.thread(tid)
                                .map(|t| t.input.clone())
                                .unwrap_or(Value::Null)
                        });
                        let next = if matches!(state.kind, Kind::Succeed) {
                            None
                        } else {
                            state.next
                        };
                        self.exit(tid, state, output, assigned, next)
                    }
                    Err(fault) => self.fail(tid, fault),
                }
            }
            Kind::Task(spec) => self.run_task(tid, state, spec),
            Kind::Choice { default, .. } => self.run_jsonata_choice(tid, state, j, *default),
            Kind::Wait(_) => self.run_jsonata_wait(tid, state, j),
            Kind::Fail { .. } => {
                let text = |t: &Option<JTemplate>, field: &str| -> Result<Option<String>, Fault> {
                    t.as_ref()
                        .map(|t| {
                            self.jsonata_eval(
                                tid,
                                j,
                                t,
                                field,
                                Produced::Nothing,
                                ContextExtra::default(),
                            )
                            .map(|v| match v {
                                Value::String(s) => s,
                                other => json_text(&other),
                            })
                        })
                        .transpose()
                };
                let fault = match (text(&j.error, "Error"), text(&j.cause, "Cause")) {
                    (Ok(error), Ok(cause)) => Fault {
                        error,
                        cause,
                        evaluation: None,
                    },
                    (Err(f), _) | (_, Err(f)) => {
                        return self.fail(tid, f);
                    }
                };
                self.end_thread(tid, Err(fault));
            }
            Kind::Parallel { branches } => {
                let input = match &j.arguments {
                    Some(t) => match self.jsonata_eval(
                        tid,
                        j,
                        t,
                        "Arguments",
                        Produced::Nothing,
                        ContextExtra::default(),
                    ) {
                        Ok(v) => v,
                        Err(fault) => return self.fail(tid, fault),
                    },
                    None => self
                        .thread(tid)
                        .map(|t| t.input.clone())
                        .unwrap_or(Value::Null),
                };
                self.start_branches(tid, state, branches, input);
            }
            Kind::Map(spec) => self.run_jsonata_map(tid, state, j, spec),
            Kind::Unsupported(message) => {
                let fault = Fault::new("States.Runtime", message.clone());
                self.end_thread(tid, Err(fault));
            }
        }
    }

    fn run_jsonata_choice(
        &mut self,
        tid: ThreadId,
        state: &CState,
        j: &JSpec,
        default: Option<usize>,
    ) {
        let decided = (|| {
            for choice in &j.choices {
                let v = self.jsonata_eval(
                    tid,
                    j,
                    &choice.condition,
                    "Condition",
                    Produced::Nothing,
                    ContextExtra::default(),
                )?;
                match v {
                    Value::Bool(true) => {
                        // A matched rule's Output and Assign replace the state's.
                        let output = choice.output.as_ref().or(j.output.as_ref());
                        let assign = choice.assign.as_ref().or(j.assign.as_ref());
                        let (output, assigned) =
                            self.jsonata_finish(tid, state, j, Produced::Nothing, output, assign)?;
                        return Ok((output, assigned, choice.next));
                    }
                    Value::Bool(false) => {}
                    other => {
                        return Err(self.query_fault(
                            tid,
                            unexpected_type(&choice.condition, "Condition", "boolean", &other),
                        ))
                    }
                }
            }
            let Some(next) = default else {
                return Err(self.no_choice_matched(tid, state));
            };
            let (output, assigned) = self.jsonata_finish(
                tid,
                state,
                j,
                Produced::Nothing,
                j.output.as_ref(),
                j.assign.as_ref(),
            )?;
            Ok((output, assigned, next))
        })();
        match decided {
            Ok((output, assigned, next)) => {
                let output = output.unwrap_or_else(|| {
                    self.thread(tid)
                        .map(|t| t.input.clone())
                        .unwrap_or(Value::Null)
                });
                self.exit(tid, state, output, assigned, Some(next))
            }
            Err(fault) => self.fail(tid, fault),
        }
    }

    fn run_jsonata_wait(&mut self, tid: ThreadId, _state: &CState, j: &JSpec) {
        let now = self.ctx.now_ms;
        let planned = (|| {
            if let Some(t) = &j.seconds {
                let v = self.jsonata_eval(
                    tid,
                    j,
                    t,
                    "Seconds",
                    Produced::Nothing,
                    ContextExtra::default(),
                )?;
                let seconds = v.as_u64().ok_or_else(|| {
                    self.query_fault(tid, unexpected_type(t, "Seconds", "integer", &v))
                })?;
                return Ok(now.saturating_add(crate::execution::seconds_to_ms(seconds)));
            }
            let Some(t) = &j.timestamp else {
                return Ok(now);
            };
            let v = self.jsonata_eval(
                tid,
                j,
                t,
                "Timestamp",
                Produced::Nothing,
                ContextExtra::default(),
            )?;
            v.as_str()
                .and_then(crate::time::parse_timestamp)
                .ok_or_else(|| {
                    let mut fault = self.state_fault(
                        tid,
                        Failure::new(
                            QUERY_EVALUATION_ERROR,
                            format!(
                                "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {}",
                                crate::states::wait::plain(&v)
                            ),
                        ),
                    );
                    fault.evaluation = Some(EvalFailure {
                        location: Some("Timestamp".into()),
                        after_entered: true,
                    });
                    fault
                })
        })();
        let planned = planned.map(|fire_at| {
            let effective = self
                .thread(tid)
                .map(|t| t.input.clone())
                .unwrap_or(Value::Null);
            (effective, fire_at)
        });
        self.wait_until(tid, planned);
    }

    /// A JSONata Task's arguments, credentials, TimeoutSeconds and HeartbeatSeconds.
    pub(crate) fn jsonata_task_inputs(
        &self,
        tid: ThreadId,
        _state: &CState,
        j: &JSpec,
        token: Option<&str>,
    ) -> Result<TaskInputs, Fault> {
        let extra = ContextExtra {
            task_token: token,
            map_item: None,
        };
        let arguments = match &j.arguments {
            Some(t) => self.jsonata_eval(tid, j, t, "Arguments", Produced::Nothing, extra)?,
            None => self
                .thread(tid)
                .map(|t| t.input.clone())
                .unwrap_or(Value::Null),
        };
        self.inspect(tid, "afterArguments", &arguments);
        let credentials = j
            .credentials
            .as_ref()
            .map(|t| self.jsonata_eval(tid, j, t, "Credentials", Produced::Nothing, extra))
            .transpose()?;
        let seconds = |t: &Option<JTemplate>, field: &str| -> Result<Option<u64>, Fault> {
            let Some(t) = t else { return Ok(None) };
            let v = self.jsonata_eval(tid, j, t, field, Produced::Nothing, extra)?;
            match v.as_u64().filter(|n| *n > 0) {
                Some(n) => Ok(Some(n)),
                None => Err(self.query_fault(tid, unexpected_type(t, field, "integer", &v))),
            }
        };
        let timeout = seconds(&j.timeout, "TimeoutSeconds")?;
        let heartbeat = seconds(&j.heartbeat, "HeartbeatSeconds")?;
        Ok((arguments, credentials, timeout, heartbeat))
    }

    /// A Map iteration's input from a JSONata ItemSelector.
    pub(crate) fn jsonata_item(
        &self,
        tid: ThreadId,
        _state: &CState,
        j: &JSpec,
        selector: &JTemplate,
        index: usize,
        item: &Value,
    ) -> Result<Value, Fault> {
        let input = match self.thread(tid).map(|t| &t.phase) {
            Some(Phase::Fanout(f)) => &f.input,
            _ => &Value::Null,
        };
        let extra = ContextExtra {
            task_token: None,
            map_item: Some((index, item)),
        };
        self.jsonata_eval_on(
            tid,
            j,
            selector,
            "ItemSelector",
            input,
            Produced::Nothing,
            extra,
        )
    }

    fn run_jsonata_map(&mut self, tid: ThreadId, state: &CState, j: &JSpec, spec: &MapSpec) {
        let prepared = (|| {
            let items = match &j.items {
                // With an ItemReader the items come from the reader.
                _ if spec.reader.is_some() => Vec::new(),
                Some(t) => {
                    let v = self.jsonata_eval(
                        tid,
                        j,
                        t,
                        "Items",
                        Produced::Nothing,
                        ContextExtra::default(),
                    )?;
                    match v {
                        Value::Array(items) => items,
                        other => {
                            return Err(
                                self.query_fault(tid, unexpected_type(t, "Items", "array", &other))
                            )
                        }
                    }
                }
                None => match self.thread(tid).map(|t| &t.input) {
                    Some(Value::Array(items)) => items.clone(),
                    other => {
                        let text = json_text(other.unwrap_or(&Value::Null));
                        let mut fault = self.state_fault(
                            tid,
                            Failure::new(
                                QUERY_EVALUATION_ERROR,
                                format!("Map state input must be an array but was: {text}"),
                            ),
                        );
                        fault.evaluation = Some(EvalFailure {
                            location: None,
                            after_entered: false,
                        });
                        return Err(fault);
                    }
                },
            };
            let number = |t: &Option<JTemplate>, field: &str| -> Result<Option<f64>, Fault> {
                let Some(t) = t else { return Ok(None) };
                let v = self.jsonata_eval(
                    tid,
                    j,
                    t,
                    field,
                    Produced::Nothing,
                    ContextExtra::default(),
                )?;
                match v.as_f64() {
                    Some(n) if n >= 0.0 => Ok(Some(n)),
                    _ => Err(self.query_fault(tid, unexpected_type(t, field, "number", &v))),
                }
            };
            let max_concurrency =
                number(&j.max_concurrency, "MaxConcurrency")?.unwrap_or(0.0) as usize;
            let tolerated_count =
                number(&j.tolerated_count, "ToleratedFailureCount")?.map(|n| n as u64);
            let tolerated_percentage =
                number(&j.tolerated_percentage, "ToleratedFailurePercentage")?;
            if tolerated_percentage.is_some_and(|p| p > 100.0) {
                return Err(self.state_fault(
                    tid,
                    Failure::runtime("ToleratedFailurePercentage must be between 0 and 100."),
                ));
            }
            Ok((
                items,
                max_concurrency,
                tolerated_count,
                tolerated_percentage,
            ))
        })();
        let (items, max_concurrency, tolerated_count, tolerated_percentage) = match prepared {
            Ok(p) => p,
            Err(fault) => return self.fail(tid, fault),
        };
        let started = self.map_started(tid, spec, items.len());
        let input = if j.item_selector.is_some() {
            self.thread(tid)
                .map(|t| t.input.clone())
                .unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        let plan = MapPlan {
            input,
            items,
            max_concurrency,
            tolerated_count,
            tolerated_percentage,
        };
        self.launch_map(tid, state, spec, started, plan);
    }
}
