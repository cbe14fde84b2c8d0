use crate::execution::{ContextExtra, Fanout, Fault, Parent, Phase, Runner, ThreadId};
use crate::flow::Failure;
use crate::history::details;
use crate::history::json_text;
use crate::jsonata::{JTemplate, Produced};
use crate::machine::{CState, IoPath, MapSpec, ResultPath, Setting};
use crate::states::wait::plain;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A Distributed Map's default and largest number of concurrent child executions.
const DISTRIBUTED_MAX_CONCURRENCY: usize = 10_000;

/// What a Map state evaluated before its iterations start, in either query language.
pub(crate) struct MapPlan {
    /// `$` of the ItemSelector (the effective input; unused without a selector).
    pub input: Value,
    pub items: Vec<Value>,
    /// 0: no limit of the state's own.
    pub max_concurrency: usize,
    pub tolerated_count: Option<u64>,
    pub tolerated_percentage: Option<f64>,
}

impl Runner<'_> {
    fn map_number(
        &self,
        tid: ThreadId,
        effective: &Value,
        setting: &Setting<u64>,
    ) -> Result<Value, Fault> {
        match setting {
            Setting::Fixed(n) => Ok(Value::from(*n)),
            Setting::Path { path, .. } => self.eval(
                tid,
                effective,
                path.is_context(),
                ContextExtra::default(),
                |s, _| path.select(s),
            ),
        }
    }

    /// `arn:aws:states:<region>:<account>:mapRun:<machine>/<label or id>:<id>`.
    pub(crate) fn map_run_arn(&self, spec: &MapSpec) -> String {
        let mut entropy = crate::flow::SeededEntropy {
            seed: self.ctx.seed ^ self.exec.event_count,
            counter: &self.entropy_counter,
        };
        let run_id = cairn_dataflow::Entropy::uuid(&mut entropy);
        let label = spec
            .label
            .clone()
            .unwrap_or_else(|| run_id.chars().take(8).collect());
        // An execution of a version or alias has the version ARN in its info (its
        // `$$.StateMachine.Id`); its Map Runs belong to the state machine.
        let machine = &self.exec.info.state_machine_arn;
        let unqualified = match machine.match_indices(':').nth(6) {
            Some((at, _)) => &machine[..at],
            None => machine.as_str(),
        };
        let base = unqualified.replacen(":stateMachine:", ":mapRun:", 1);
        format!("{base}/{label}:{run_id}")
    }

    /// Map: one iteration thread per item, at most MaxConcurrency at a time. A Distributed
    /// Map runs its iterations the same way, as child executions outside this history.
    pub(crate) fn run_map(&mut self, tid: ThreadId, state: &CState, spec: &MapSpec) {
        // When nothing can read the raw input's items again (no Retry or Catch re-reads the
        // input, and OutputPath keeps only what ResultPath wrote), they are moved out of it
        // instead of copied.
        let moved = match (&spec.items_path, &state.result_path, &state.output_path) {
            (IoPath::Path(items), ResultPath::Path(rp), IoPath::Path(op))
                if state.retry.is_empty()
                    && state.catch.is_empty()
                    && state.input_path == IoPath::Whole
                    && spec.item_selector.is_none()
                    && spec.reader.is_none()
                    && spec.batcher.is_none()
                    && spec.writer.is_none()
                    && !items.is_context()
                    // Settings read from the input after this point must see it whole.
                    && matches!(spec.max_concurrency, Setting::Fixed(_))
                    && !matches!(spec.tolerated_count, Some(Setting::Path { .. }))
                    && !matches!(spec.tolerated_percentage, Some(Setting::Path { .. }))
                    && rp.text() == op.text() =>
            {
                self.thread_mut(tid)
                    .and_then(|t| crate::flow::take_in_place(&mut t.input, items))
            }
            _ => None,
        };
        let prepared = (|| {
            let input = self.thread(tid).map(|t| &t.input).unwrap_or(&Value::Null);
            // The effective input is copied only when an ItemSelector reads it later.
            let whole = state.input_path == IoPath::Whole;
            let effective = if whole && spec.item_selector.is_none() {
                Value::Null
            } else {
                self.input_path(tid, state, input)?
            };
            let scope_input = if whole { input } else { &effective };
            let items = match &spec.items_path {
                // With an ItemReader the items come from the reader; ItemsPath is ignored.
                _ if spec.reader.is_some() => Value::Array(Vec::new()),
                _ if moved.is_some() => moved.unwrap_or_default(),
                IoPath::Path(p) => self.eval(
                    tid,
                    scope_input,
                    p.is_context(),
                    ContextExtra::default(),
                    |s, _| p.select(s),
                )?,
                _ => scope_input.clone(),
            };
            let Value::Array(items) = items else {
                return Err(self.state_fault(
                    tid,
                    Failure::runtime(format!(
                        "Map state input must be an array but was: {}",
                        json_text(&items)
                    )),
                ));
            };
            let max_concurrency = match &spec.max_concurrency {
                Setting::Fixed(n) => *n,
                Setting::Path { field, path } => {
                    let v = self.map_number(tid, scope_input, &spec.max_concurrency)?;
                    as_integer(&v).and_then(|n| u64::try_from(n).ok()).ok_or_else(|| {
                        self.state_fault(tid, Failure::runtime(format!(
                            "The {field} field refers to value \"{}\" which is not a valid integer: {}",
                            plain(&v),
                            path.text()
                        )))
                    })?
                }
            };
            Ok((effective, items, max_concurrency))
        })();
        let (effective, items, max_concurrency) = match prepared {
            Ok(p) => p,
            Err(fault) => return self.fail(tid, fault),
        };
        let started = self.map_started(tid, spec, items.len());
        // AWS reads the failure tolerance only once the Map has started.
        let tolerance = (|| {
            let input = self.thread(tid).map(|t| &t.input).unwrap_or(&Value::Null);
            let scope_input = if state.input_path == IoPath::Whole {
                input
            } else {
                &effective
            };
            let tolerated_count = match &spec.tolerated_count {
                None => None,
                Some(setting) => {
                    let v = self.map_number(tid, scope_input, setting)?;
                    match as_integer(&v) {
                        Some(n) if n < 0 => {
                            return Err(self.state_fault(
                                tid,
                                Failure::runtime("ToleratedFailureCount cannot be negative."),
                            ))
                        }
                        Some(n) => Some(n as u64),
                        None => {
                            let text = match setting {
                                Setting::Path { path, .. } => path.text().to_string(),
                                Setting::Fixed(_) => String::new(),
                            };
                            return Err(self.state_fault(tid, Failure::runtime(format!(
                                "The ToleratedFailureCountPath field refers to value \"{}\" which is not a valid integer: {text}",
                                plain(&v)
                            ))));
                        }
                    }
                }
            };
            let tolerated_percentage = match &spec.tolerated_percentage {
                None => None,
                Some(setting) => {
                    let (v, text) = match setting {
                        Setting::Fixed(p) => (json!(p), String::new()),
                        Setting::Path { path, .. } => (
                            self.eval(
                                tid,
                                scope_input,
                                path.is_context(),
                                ContextExtra::default(),
                                |s, _| path.select(s),
                            )?,
                            path.text().to_string(),
                        ),
                    };
                    let Some(p) = v
                        .as_f64()
                        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                    else {
                        return Err(self.state_fault(tid, Failure::runtime(format!(
                            "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: {text}",
                            plain(&v)
                        ))));
                    };
                    if !(0.0..=100.0).contains(&p) {
                        return Err(self.state_fault(
                            tid,
                            Failure::runtime(
                                "ToleratedFailurePercentage must be between 0 and 100.",
                            ),
                        ));
                    }
                    Some(p)
                }
            };
            Ok((tolerated_count, tolerated_percentage))
        })();
        let (tolerated_count, tolerated_percentage) = match tolerance {
            Ok(t) => t,
            Err(fault) => return self.fail(tid, fault),
        };
        let plan = MapPlan {
            input: effective,
            items,
            max_concurrency: usize::try_from(max_concurrency).unwrap_or(usize::MAX),
            tolerated_count,
            tolerated_percentage,
        };
        self.launch_map(tid, state, spec, started, plan);
    }

    /// `MapStateStarted`, the first event of a Map whose items are known (either query
    /// language).
    pub(crate) fn map_started(&mut self, tid: ThreadId, spec: &MapSpec, total: usize) -> u64 {
        if !spec.distributed && !self.silent(tid) {
            // Each iteration of an inline Map records at least four events.
            self.reserve_history(total.saturating_mul(4).saturating_add(4));
        }
        self.emit(tid, "MapStateStarted", details([("length", total.into())]))
    }

    /// Starts a Map's iterations (or its ItemReader) once its settings are evaluated, the
    /// same for both query languages. `started` is the `MapStateStarted` event's id.
    pub(crate) fn launch_map(
        &mut self,
        tid: ThreadId,
        state: &CState,
        spec: &MapSpec,
        started: u64,
        plan: MapPlan,
    ) {
        let ceiling = if spec.distributed {
            DISTRIBUTED_MAX_CONCURRENCY
        } else {
            self.exec.limits.max_inline_map_concurrency.max(1)
        };
        let limit = if plan.max_concurrency == 0 {
            ceiling
        } else {
            plan.max_concurrency.min(ceiling)
        };
        let mut prev = started;
        let mut run = None;
        if spec.distributed {
            let arn = self.map_run_arn(spec);
            // Without a ResultWriter nothing reads a succeeded child again once the shell
            // has stored it; with ResultPath null (and no ResultSelector that could fail
            // on them) its result is not read either. A ResultWriter that puts files reads
            // neither once a part of its files holds the child's record.
            let writes_parts = spec.writer.as_ref().is_some_and(|w| w.resource.is_some());
            let hands_over = spec.writer.is_none() || writes_parts;
            run = Some(Box::new(crate::writer::RunLog {
                map_run_arn: arn.clone(),
                start_ms: self.ctx.now_ms,
                hands_over,
                writes_parts,
                drops_results: writes_parts
                    || (hands_over
                        && state.jsonata.is_none()
                        && state.result_selector.is_none()
                        && matches!(state.result_path, ResultPath::Discard)),
                ..Default::default()
            }));
            prev = self.emit(
                tid,
                "MapRunStarted",
                details([("mapRunArn", Value::String(arn))]),
            );
        }
        // An ItemBatcher groups the items taken from the state input (ItemsPath or Items)
        // here, as AWS does; an ItemReader's are grouped once read.
        let (items, batch_fault) = if spec.distributed && spec.reader.is_none() {
            match self.input_batches(tid, state, spec, plan.items) {
                Ok(items) => (items, None),
                Err(fault) => (Vec::new(), Some(fault)),
            }
        } else {
            (plan.items, None)
        };
        let total = items.len();
        let fanout = Fanout {
            input: plan.input,
            items,
            total,
            next_item: 0,
            running: BTreeMap::new(),
            results: vec![Value::Null; total],
            finished: 0,
            failed: 0,
            max_concurrency: limit,
            tolerated_count: plan.tolerated_count,
            tolerated_percentage: plan.tolerated_percentage,
            run,
            children_outside: spec.distributed
                && if spec.express {
                    self.exec.capabilities.express_map_run_children
                } else {
                    self.exec.capabilities.map_run_children
                },
            outside: BTreeMap::new(),
        };
        if let Some(reader) = &spec.reader {
            return self.start_reading(tid, state, reader, fanout);
        }
        if let Some(t) = self.thread_mut(tid) {
            t.phase = Phase::Fanout(Box::new(fanout));
        }
        if let Some(fault) = batch_fault {
            return self.map_run_failed(tid, fault);
        }
        if total == 0 {
            self.fanout_succeeded(tid, state);
        } else {
            self.start_iterations(tid, state, prev);
        }
    }

    /// Whether a Distributed Map running its children inside the execution has started a
    /// whole [`crate::writer::SLICE`] of them since it last paused: it pauses then (a timer
    /// due at once, [`Runner::map_slice_resumed`]), so that the decision ends and the shell
    /// stores the children that ended before more start.
    fn slice_done(&mut self, tid: ThreadId, state: &CState) -> bool {
        let (since, pause, parts) = match self.thread(tid).map(|t| &t.phase) {
            // Only where there is a child to start now, and the shell takes the ended ones.
            Some(Phase::Fanout(f))
                if !f.children_outside
                    && f.next_item < f.total
                    && f.outstanding() < f.max_concurrency =>
            {
                match f.run.as_deref() {
                    // Paused until the part being written is.
                    Some(log) if log.part.is_some() => return true,
                    Some(log) if log.hands_over => (log.since_pause, log.pause, log.writes_parts),
                    _ => return false,
                }
            }
            _ => return false,
        };
        if since < crate::writer::SLICE {
            return false;
        }
        // A pause whose timer the execution no longer holds (a redrive) is over.
        if pause.is_some_and(|timer| self.exec.timers.contains_key(&timer)) {
            return true;
        }
        // A run that exports its results pauses on a part of them, written now.
        if parts && self.write_part(tid, state) {
            return true;
        }
        let now = self.ctx.now_ms;
        let timer = self.start_timer(crate::execution::TimerFor::MapSlice(tid), now);
        if let Some(Phase::Fanout(f)) = self.thread_mut(tid).map(|t| &mut t.phase) {
            if let Some(log) = f.run.as_deref_mut() {
                log.pause = Some(timer);
            }
        }
        true
    }

    /// The pause of a Distributed Map's run is over: the next slice of its children starts.
    pub(crate) fn map_slice_resumed(&mut self, tid: ThreadId) {
        let Some(state) = self.state_of(tid) else {
            return;
        };
        let Some(thread) = self.thread_mut(tid) else {
            return;
        };
        let last = thread.last_event;
        if let Phase::Fanout(f) = &mut thread.phase {
            if let Some(log) = f.run.as_deref_mut() {
                log.pause = None;
                log.since_pause = 0;
            }
        }
        self.start_iterations(tid, state, last);
    }

    /// Starts iterations while there are items left and room under MaxConcurrency.
    pub(crate) fn start_iterations(&mut self, tid: ThreadId, state: &CState, prev: u64) {
        let crate::machine::Kind::Map(spec) = &state.kind else {
            return;
        };
        loop {
            if spec.distributed && self.slice_done(tid, state) {
                return;
            }
            let (index, item) = match self.thread_mut(tid).map(|t| &mut t.phase) {
                // A failed run writing its results starts nothing more (an UpdateMapRun
                // raising its concurrency then), and its pending items stay as written.
                Some(Phase::Fanout(f))
                    if f.next_item < f.total
                        && f.outstanding() < f.max_concurrency
                        && f.run.as_ref().is_none_or(|r| r.writing.is_none()) =>
                {
                    let index = f.next_item;
                    f.next_item += 1;
                    let item = f
                        .items
                        .get_mut(index)
                        .map(std::mem::take)
                        .unwrap_or(Value::Null);
                    (index, item)
                }
                _ => return,
            };
            let iteration = if spec.distributed {
                prev
            } else {
                self.emit_after(
                    tid,
                    prev,
                    "MapIterationStarted",
                    state.shapes.iteration(index),
                )
            };
            // A batch's size, read before an ItemSelector reshapes it.
            let batch_size = match &spec.batcher {
                Some(_) => item
                    .get("Items")
                    .and_then(Value::as_array)
                    .map_or(0, |items| items.len() as u64),
                None => 0,
            };
            let jsonata_selector = state
                .jsonata
                .as_ref()
                .and_then(|j| j.item_selector.as_ref().map(|t| (&**j, t)));
            // A failed selection gives its item back, so a redrive starts that iteration.
            let input = match &spec.item_selector {
                None if jsonata_selector.is_some() => match jsonata_selector {
                    Some((j, selector)) => self
                        .jsonata_item(tid, state, j, selector, index, &item)
                        .map_err(|fault| (fault, item)),
                    None => Ok(item),
                },
                None => Ok(item),
                Some(selector) => {
                    let effective = match self.thread(tid).map(|t| &t.phase) {
                        Some(Phase::Fanout(f)) => f.input.clone(),
                        _ => Value::Null,
                    };
                    let extra = ContextExtra {
                        task_token: None,
                        map_item: Some((index, &item)),
                    };
                    let selected = self.eval(
                        tid,
                        &effective,
                        spec.selector_uses_context,
                        extra,
                        |s, e| selector.evaluate(s, e),
                    );
                    selected.map_err(|fault| (fault, item))
                }
            };
            match input {
                Ok(input) => {
                    let name =
                        self.child_started(tid, index, &input, spec.writer.is_some(), batch_size);
                    if let Some(name) = name.filter(|_| self.children_outside(tid)) {
                        self.start_child_execution(tid, state, spec, index, name, input);
                        continue;
                    }
                    let child = self.new_thread(
                        Parent {
                            thread: tid,
                            slot: index,
                        },
                        spec.processor,
                        input,
                        iteration,
                        spec.distributed,
                    );
                    if let Some(Phase::Fanout(f)) = self.thread_mut(tid).map(|t| &mut t.phase) {
                        f.running.insert(index, child);
                        if let Some(log) = f.run.as_deref_mut() {
                            log.since_pause += 1;
                        }
                    }
                }
                Err((fault, item)) => {
                    if let Some(Phase::Fanout(f)) = self.thread_mut(tid).map(|t| &mut t.phase) {
                        if let Some(slot) = f.items.get_mut(index) {
                            *slot = item;
                            f.next_item = index;
                        }
                    }
                    self.abort_children(tid, state);
                    return self.fail(tid, fault);
                }
            }
        }
    }
}

impl Runner<'_> {
    /// The batches a Distributed Map's ItemBatcher makes of items taken from the state
    /// input (the items unchanged without one). Its settings are read as for an
    /// ItemReader's items: from the effective input (JSONPath) or `$states.input`
    /// (JSONata), once the Map Run has started.
    fn input_batches(
        &self,
        tid: ThreadId,
        state: &CState,
        spec: &MapSpec,
        items: Vec<Value>,
    ) -> Result<Vec<Value>, Fault> {
        let Some(batcher) = spec.batcher.as_deref() else {
            return Ok(items);
        };
        let (per_batch, max_bytes, batch_input) = match state.jsonata.as_deref() {
            Some(j) => {
                let count = |template: Option<&JTemplate>, field: &str| match template {
                    None => Ok(0),
                    Some(t) => {
                        let value = self.jsonata_eval(
                            tid,
                            j,
                            t,
                            field,
                            Produced::Nothing,
                            ContextExtra::default(),
                        )?;
                        self.batch_count(tid, &value, field)
                    }
                };
                let per_batch = count(j.batch_max_items.as_ref(), "ItemBatcher/MaxItemsPerBatch")?;
                let max_bytes = count(
                    j.batch_max_bytes.as_ref(),
                    "ItemBatcher/MaxInputBytesPerBatch",
                )?;
                let batch_input = j
                    .batch_input
                    .as_ref()
                    .map(|t| {
                        self.jsonata_eval(
                            tid,
                            j,
                            t,
                            "ItemBatcher/BatchInput",
                            Produced::Nothing,
                            ContextExtra::default(),
                        )
                    })
                    .transpose()?;
                (per_batch, max_bytes, batch_input)
            }
            None => {
                let input = self.thread(tid).map(|t| &t.input).unwrap_or(&Value::Null);
                let effective;
                let scope = if state.input_path == IoPath::Whole {
                    input
                } else {
                    effective = self.input_path(tid, state, input)?;
                    &effective
                };
                let count = |setting: Option<&Setting<Value>>, field: &str| {
                    let value = match setting {
                        None => return Ok(0),
                        Some(Setting::Fixed(v)) => v.clone(),
                        Some(Setting::Path { path, .. }) => self.eval(
                            tid,
                            scope,
                            path.is_context(),
                            ContextExtra::default(),
                            |s, _| path.select(s),
                        )?,
                    };
                    self.batch_count(tid, &value, field)
                };
                let per_batch = count(batcher.max_items.as_ref(), "MaxItemsPerBatch")?;
                let max_bytes = count(batcher.max_bytes.as_ref(), "MaxInputBytesPerBatch")?;
                let batch_input = batcher
                    .batch_input
                    .as_ref()
                    .map(|t| {
                        self.eval(tid, scope, true, ContextExtra::default(), |s, e| {
                            t.evaluate(s, e)
                        })
                    })
                    .transpose()?;
                (per_batch, max_bytes, batch_input)
            }
        };
        Ok(crate::reader::batches(
            items,
            per_batch,
            max_bytes,
            batch_input.as_ref(),
        ))
    }

    /// A batching limit read from the input: a non-negative integer (or a string holding
    /// one); 0 is no limit.
    fn batch_count(&self, tid: ThreadId, value: &Value, field: &str) -> Result<u64, Fault> {
        match as_integer(value) {
            Some(n) => u64::try_from(n).map_err(|_| {
                self.state_fault(
                    tid,
                    Failure::runtime(format!("field {field} must be positive")),
                )
            }),
            None => Err(self.state_fault(
                tid,
                Failure::runtime(format!(
                    "field {field} must be an integer, got {}",
                    plain(value)
                )),
            )),
        }
    }

    fn children_outside(&self, tid: ThreadId) -> bool {
        matches!(self.thread(tid).map(|t| &t.phase), Some(Phase::Fanout(f)) if f.children_outside)
    }

    /// A child execution the shell runs: a task of this thread whose end is the child's.
    fn start_child_execution(
        &mut self,
        tid: ThreadId,
        state: &CState,
        spec: &MapSpec,
        index: usize,
        name: String,
        input: Value,
    ) {
        let task_id = self.exec.next_task;
        self.exec.next_task += 1;
        let Some(Phase::Fanout(f)) = self.thread_mut(tid).map(|t| &mut t.phase) else {
            return;
        };
        f.outside.insert(task_id, index);
        let Some(log) = f.run.as_deref() else { return };
        let start = crate::api::MapRunChildStart {
            task_id,
            map_run_arn: log.map_run_arn.clone(),
            execution_arn: log.execution_arn(&name),
            state_machine_arn: log.child_machine_arn(),
            name,
            state_name: state.name.clone(),
            processor: spec.processor,
            machine_type: if spec.express {
                crate::api::MachineType::Express
            } else {
                crate::api::MachineType::Standard
            },
            input,
        };
        self.exec.tasks.insert(task_id, tid);
        self.out
            .commands
            .push(crate::api::Command::StartMapRunChild(Box::new(start)));
    }

    /// A Map Run keeps each child's name, start and batch size (and its input when its
    /// results are written); returns the name.
    fn child_started(
        &mut self,
        tid: ThreadId,
        index: usize,
        input: &Value,
        keep_input: bool,
        batch_size: u64,
    ) -> Option<String> {
        let logged =
            matches!(self.thread(tid).map(|t| &t.phase), Some(Phase::Fanout(f)) if f.run.is_some());
        if !logged {
            return None;
        }
        let name = {
            // The item's index too: a child's end adds no event to its parent's history, so
            // two decisions that each start one child can see the same seed and count (a
            // shell with reproducible seeds then named both children alike).
            let mut entropy = crate::flow::SeededEntropy {
                seed: self.ctx.seed ^ self.exec.event_count ^ crate::execution::mix(index as u64),
                counter: &self.entropy_counter,
            };
            cairn_dataflow::Entropy::uuid(&mut entropy)
        };
        let now = self.ctx.now_ms;
        if let Some(Phase::Fanout(f)) = self.thread_mut(tid).map(|t| &mut t.phase) {
            if let Some(child) = f.run.as_mut().and_then(|r| r.child_mut(index)) {
                *child = crate::writer::Child {
                    name: name.clone(),
                    input: if keep_input {
                        crate::writer::kept_input(input.clone())
                    } else {
                        None
                    },
                    start_ms: now,
                    stop_ms: now,
                    items: batch_size,
                    ..Default::default()
                };
            }
        }
        Some(name)
    }
}

/// An integer setting read from the input: a JSON integer or a string holding one (AWS accepts both).
fn as_integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::{Capabilities, Command, Decision, Event, Execution, Machine, Status};
    use serde_json::{json, Value};

    use crate::test_support::{at, info};

    /// A Distributed Map over the input's `rows` whose children pass their input on.
    fn machine(map: Value) -> Machine {
        let mut state = json!({"Type": "Map", "Label": "Rows", "End": true,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": true}}}});
        for (k, v) in map.as_object().into_iter().flatten() {
            state[k] = v.clone();
        }
        Machine::from_json(&json!({"StartAt": "M", "States": {"M": state}})).unwrap()
    }

    fn types(d: &Decision) -> Vec<&str> {
        d.history.iter().map(|e| &*e.event_type).collect()
    }

    fn started_length(d: &Decision) -> Value {
        d.history
            .iter()
            .find(|e| e.event_type == "MapStateStarted")
            .map(|e| e.details.to_value()["length"].clone())
            .unwrap_or(Value::Null)
    }

    fn input() -> Value {
        json!({"rows": [1, 2, 3, 4, 5], "per": 2, "factor": 7})
    }

    #[test]
    fn items_from_the_state_input_are_batched() {
        let m = machine(json!({"ItemsPath": "$.rows",
            "ItemBatcher": {"MaxItemsPerBatchPath": "$.per", "BatchInput": {"factor.$": "$.factor"}}}));
        let (exec, d) = Execution::start(&m, input(), info(), &at(10));
        assert_eq!(exec.status(), Status::Succeeded, "{:?}", types(&d));
        assert_eq!(
            exec.output(),
            Some(&json!([
                {"BatchInput": {"factor": 7}, "Items": [1, 2]},
                {"BatchInput": {"factor": 7}, "Items": [3, 4]},
                {"BatchInput": {"factor": 7}, "Items": [5]}
            ]))
        );
        // One child per batch; MapStateStarted counts the items taken from the input.
        let runs = exec.map_runs();
        assert_eq!((runs[0].total, runs[0].succeeded), (3, 3));
        assert_eq!(started_length(&d), json!(5));

        // By size: each number is one byte of JSON text.
        let m =
            machine(json!({"ItemsPath": "$.rows", "ItemBatcher": {"MaxInputBytesPerBatch": 3}}));
        let (exec, _) = Execution::start(&m, input(), info(), &at(10));
        assert_eq!(
            exec.output(),
            Some(&json!([{"Items": [1, 2, 3]}, {"Items": [4, 5]}]))
        );

        // Without an ItemBatcher each item is a child of its own.
        let m = machine(json!({"ItemsPath": "$.rows"}));
        let (exec, _) = Execution::start(&m, input(), info(), &at(10));
        assert_eq!(exec.output(), Some(&json!([1, 2, 3, 4, 5])));
        assert_eq!(exec.map_runs()[0].total, 5);
    }

    #[test]
    fn jsonata_items_are_batched_too() {
        let m = machine(
            json!({"QueryLanguage": "JSONata", "Items": "{% $states.input.rows %}",
            "ItemBatcher": {"MaxItemsPerBatch": "{% $states.input.per + 1 %}",
                            "BatchInput": {"f": "{% $states.input.factor %}"}}}),
        );
        let (exec, d) = Execution::start(&m, input(), info(), &at(10));
        assert_eq!(exec.status(), Status::Succeeded, "{:?}", types(&d));
        assert_eq!(
            exec.output(),
            Some(&json!([
                {"BatchInput": {"f": 7}, "Items": [1, 2, 3]},
                {"BatchInput": {"f": 7}, "Items": [4, 5]}
            ]))
        );
    }

    #[test]
    fn a_child_execution_of_its_own_gets_its_batch() {
        let m = machine(json!({"ItemsPath": "$.rows", "MaxConcurrency": 1,
            "ItemBatcher": {"MaxItemsPerBatch": 2}}));
        let outside = Capabilities {
            map_run_children: true,
            express_map_run_children: true,
        };
        let (mut exec, mut d) =
            Execution::start_with_capabilities(&m, input(), info(), &at(10), outside);
        let mut inputs = Vec::new();
        let mut now = 20;
        loop {
            let starts: Vec<_> = d
                .commands
                .iter()
                .filter_map(|c| match c {
                    Command::StartMapRunChild(start) => Some((start.task_id, start.input.clone())),
                    _ => None,
                })
                .collect();
            let Some((task_id, input)) = starts.into_iter().next() else {
                break;
            };
            inputs.push(input.clone());
            d = exec.apply(
                &m,
                Event::TaskSucceeded {
                    task_id,
                    output: input,
                },
                &at(now),
            );
            now += 10;
        }
        assert_eq!(
            inputs,
            [
                json!({"Items": [1, 2]}),
                json!({"Items": [3, 4]}),
                json!({"Items": [5]})
            ]
        );
        assert_eq!(exec.status(), Status::Succeeded);
    }

    /// Each child the execution's state keeps in its Map Runs, as read back from the state.
    fn kept_children(exec: &Execution) -> Vec<crate::writer::Child> {
        let stored = serde_json::to_string(exec).unwrap();
        let read: Execution = serde_json::from_str(&stored).unwrap();
        read.map_runs
            .iter()
            .flat_map(|run| run.log.children.iter().cloned())
            .collect()
    }

    #[test]
    fn each_child_keeps_its_batch_size_without_its_input() {
        // No ResultWriter: the children's inputs are not kept, their batch sizes are.
        let m = machine(
            json!({"ItemsPath": "$.rows", "ItemBatcher": {"MaxItemsPerBatch": 2},
            "ItemSelector": {"batch.$": "$$.Map.Item.Value"}}),
        );
        let (exec, _) = Execution::start(&m, input(), info(), &at(10));
        assert_eq!(exec.status(), Status::Succeeded);
        let kept = kept_children(&exec);
        let sizes: Vec<u64> = kept.iter().map(|c| c.items).collect();
        assert_eq!(sizes, [2, 2, 1]);
        assert!(kept.iter().all(|c| c.input.is_none()), "{kept:?}");

        // Unbatched children keep nothing more.
        let m = machine(json!({"ItemsPath": "$.rows"}));
        let (exec, _) = Execution::start(&m, input(), info(), &at(10));
        let kept = kept_children(&exec);
        assert_eq!(kept.len(), 5);
        assert!(kept.iter().all(|c| c.items == 0 && c.input.is_none()));
    }

    /// Runs `m` over `items` numbers as a shell does: each decision's timers fired at once,
    /// and, when `storing`, the ended children taken out after each decision as a storing
    /// shell does. Returns the execution, the children handed over per decision and the
    /// largest state written after the first decision.
    fn run_in_slices(m: &Machine, items: usize, storing: bool) -> (Execution, Vec<usize>, usize) {
        let input = json!({"rows": (0..items).collect::<Vec<_>>()});
        let (mut exec, mut d) = Execution::start(m, input, info(), &at(10));
        let (mut handed, mut largest, mut now) = (Vec::new(), 0, 20);
        loop {
            if storing {
                let runs = exec.detach_map_run_children();
                handed.push(runs.iter().map(|r| r.children.len()).sum());
                let text = serde_json::to_string(&exec).unwrap();
                largest = largest.max(text.len());
                exec = serde_json::from_str(&text).unwrap();
            }
            let timers: Vec<_> = d
                .commands
                .iter()
                .filter_map(|c| match c {
                    Command::StartTimer { timer_id, .. } => Some(*timer_id),
                    _ => None,
                })
                .collect();
            let [timer_id] = timers.as_slice() else {
                assert!(timers.is_empty(), "{timers:?}");
                return (exec, handed, largest);
            };
            d = exec.apply(
                m,
                Event::TimerFired {
                    timer_id: *timer_id,
                },
                &at(now),
            );
            now += 10;
        }
    }

    #[test]
    fn children_inside_the_execution_run_in_slices_and_are_handed_over_as_they_end() {
        let slice = crate::writer::SLICE as usize;
        let items = 2 * slice + 5_000;
        let express = |extra: Value| {
            let mut m = json!({"ItemsPath": "$.rows", "MaxConcurrency": 1000,
                "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": true}}}});
            for (k, v) in extra.as_object().into_iter().flatten() {
                m[k] = v.clone();
            }
            machine(m)
        };

        // ResultPath null: the results go with the children, the state stays small.
        let m = express(json!({"ResultPath": null}));
        let (exec, handed, largest) = run_in_slices(&m, items, true);
        assert_eq!(exec.status(), Status::Succeeded);
        assert_eq!(
            handed,
            [slice, slice, 5_000],
            "children stored after each decision"
        );
        let run = &exec.map_runs()[0];
        assert_eq!(
            (run.total, run.succeeded, run.pending),
            (items as u64, items as u64, 0)
        );
        assert!(run.children_detached);
        // The input's numbers (the execution's input, the state's, and the items not
        // started or the output) are most of it; the 45,000 children's records alone took
        // 2 MB kept in it.
        let numbers = serde_json::to_string(&(0..items).collect::<Vec<_>>())
            .unwrap()
            .len();
        assert!(largest < 3 * numbers, "{largest} bytes");
        let kept = serde_json::to_string(&exec).unwrap();
        assert!(kept.len() < 2 * numbers + 10_000, "{} bytes", kept.len());

        // The results kept for the Map's output: each handed child's output in it once.
        let m = express(json!({}));
        let (exec, handed, _) = run_in_slices(&m, items, true);
        assert_eq!(handed.iter().sum::<usize>(), items);
        let output = exec.output().and_then(Value::as_array).map(Vec::len);
        assert_eq!(output, Some(items));

        // A shell that stores nothing keeps every child, and the run ends the same.
        let (exec, _, _) = run_in_slices(&m, items, false);
        assert_eq!(exec.status(), Status::Succeeded);
        let run = &exec.map_runs()[0];
        assert_eq!((run.succeeded, run.children.len()), (items as u64, items));
        assert!(!run.children_detached);
    }

    #[test]
    fn a_run_of_child_executions_keeps_only_the_count_of_those_that_succeeded() {
        let m = machine(json!({"ItemsPath": "$.rows", "MaxConcurrency": 2}));
        let outside = Capabilities {
            map_run_children: true,
            express_map_run_children: true,
        };
        let rows: Vec<u64> = (0..20).collect();
        let (mut exec, mut d) =
            Execution::start_with_capabilities(&m, json!({"rows": rows}), info(), &at(10), outside);
        let (mut now, mut ended) = (20, 0);
        let mut open = std::collections::VecDeque::new();
        loop {
            open.extend(d.commands.iter().filter_map(|c| match c {
                Command::StartMapRunChild(start) => Some(start.task_id),
                _ => None,
            }));
            let Some(task_id) = open.pop_front() else {
                break;
            };
            d = exec.apply(
                &m,
                Event::TaskSucceeded {
                    task_id,
                    output: json!(ended),
                },
                &at(now),
            );
            ended += 1;
            now += 10;
            // Executions of their own are stored already: nothing is handed to the shell.
            let runs = exec.detach_map_run_children();
            assert!(runs.iter().all(|r| r.children.is_empty()), "{runs:?}");
            if exec.status() == Status::Running {
                let run = &exec.map_runs()[0];
                assert_eq!((run.succeeded, run.running), (ended, 2.min(20 - ended)));
                assert!(kept_children(&exec).iter().all(|c| !c.ended));
            }
        }
        assert_eq!(exec.status(), Status::Succeeded);
        assert_eq!(
            exec.output().and_then(Value::as_array).map(Vec::len),
            Some(20)
        );
        let run = &exec.map_runs()[0];
        assert_eq!((run.succeeded, run.pending, run.total), (20, 0, 20));
    }

    #[test]
    fn a_run_paused_between_slices_stops_with_its_execution() {
        let slice = crate::writer::SLICE as usize;
        let m = machine(json!({"ItemsPath": "$.rows", "ResultPath": null,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": true}}}}));
        let input = json!({"rows": (0..slice + 10).collect::<Vec<_>>()});
        let (mut exec, d) = Execution::start(&m, input, info(), &at(10));
        let timer_id = d
            .commands
            .iter()
            .find_map(|c| match c {
                Command::StartTimer { timer_id, .. } => Some(*timer_id),
                _ => None,
            })
            .expect("a pause");
        let stopped = exec.apply(
            &m,
            Event::Stop {
                error: None,
                cause: None,
            },
            &at(20),
        );
        assert_eq!(exec.status(), Status::Aborted);
        assert!(
            stopped
                .commands
                .iter()
                .any(|c| matches!(c, Command::CancelTimer { timer_id: t } if *t == timer_id)),
            "{:?}",
            stopped.commands
        );
        let run = &exec.map_runs()[0];
        assert_eq!((run.status.as_str(), run.pending), ("ABORTED", 10));
        // Its late firing changes nothing.
        let late = exec.apply(&m, Event::TimerFired { timer_id }, &at(30));
        assert!(late.nondeterminism.is_none() && late.history.is_empty());
    }

    #[test]
    fn a_batch_limit_that_is_not_a_count_fails_the_map_run() {
        let m = machine(
            json!({"ItemsPath": "$.rows", "ItemBatcher": {"MaxItemsPerBatchPath": "$.per"}}),
        );
        for per in [json!("two"), json!(-1)] {
            let mut bad = input();
            bad["per"] = per.clone();
            let (exec, d) = Execution::start(&m, bad, info(), &at(10));
            assert_eq!(exec.status(), Status::Failed, "{per}");
            assert_eq!(exec.error(), Some("States.Runtime"), "{per}");
            assert!(
                exec.cause()
                    .unwrap_or_default()
                    .contains("MaxItemsPerBatch"),
                "{:?}",
                exec.cause()
            );
            let seen = types(&d);
            let run_failed = seen.iter().position(|t| *t == "MapRunFailed");
            let map_failed = seen.iter().position(|t| *t == "MapStateFailed");
            assert!(
                run_failed.is_some() && run_failed < map_failed,
                "{per}: {seen:?}"
            );
        }
    }
}
