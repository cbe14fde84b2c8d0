//! A Distributed Map's ItemReader: one request to the shell, outside the history, whose
//! answer becomes the Map's items (batched when the Map has an ItemBatcher).

use crate::api::{Command, TaskId};
use crate::execution::{ContextExtra, Fanout, Fault, Phase, Reading, Runner, ThreadId};
use crate::jsonata::{JTemplate, Produced};
use crate::machine::{CState, JSpec, Kind, Setting};
use crate::reader::{self, ReaderSpec};
use crate::states::wait::plain;
use serde_json::Value;

const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";

impl Runner<'_> {
    /// A count setting of the reader or batcher: a non-negative integer (or numeric string).
    fn count(
        &self,
        tid: ThreadId,
        scope: &Value,
        setting: Option<&Setting<Value>>,
        field: &str,
    ) -> Result<u64, Fault> {
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
        count_of(&value, field)
    }

    /// A JSONata count setting of the reader or batcher (0 when absent).
    fn jsonata_count(
        &self,
        tid: ThreadId,
        j: &JSpec,
        template: Option<&JTemplate>,
        field: &str,
    ) -> Result<u64, Fault> {
        match template {
            None => Ok(0),
            Some(t) => count_of(
                &self.jsonata_eval(tid, j, t, field, Produced::Nothing, ContextExtra::default())?,
                field,
            ),
        }
    }
}

/// A count: a non-negative integer (or a string holding one).
fn count_of(value: &Value, field: &str) -> Result<u64, Fault> {
    {
        let number = match &value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        match number {
            Some(n) if n >= 0 => Ok(n as u64),
            Some(_) => Err(Fault::new(
                ITEM_READER_FAILED,
                format!("field {field} must be positive"),
            )),
            None => Err(Fault::new(
                ITEM_READER_FAILED,
                format!("field {field} must be an integer, got {}", plain(value)),
            )),
        }
    }
}

impl Runner<'_> {
    /// After MapRunStarted: ask the shell for the reader's object.
    pub(crate) fn start_reading(
        &mut self,
        tid: ThreadId,
        state: &CState,
        spec: &ReaderSpec,
        fanout: Fanout,
    ) {
        let prepared = (|| {
            let input = self.thread(tid).map(|t| &t.input).unwrap_or(&Value::Null);
            if let Some(j) = &state.jsonata {
                let max_items = self.jsonata_count(
                    tid,
                    j,
                    j.reader_max_items.as_ref(),
                    "ItemReader/ReaderConfig/MaxItems",
                )?;
                let request = match &j.reader_arguments {
                    Some(t) => self.jsonata_eval(
                        tid,
                        j,
                        t,
                        "ItemReader/Arguments",
                        Produced::Nothing,
                        ContextExtra::default(),
                    )?,
                    None => Value::Object(serde_json::Map::new()),
                };
                return Ok((Value::Null, max_items, request));
            }
            let scope = self.input_path(tid, state, input)?;
            let max_items = self.count(tid, &scope, spec.max_items.as_ref(), "MaxItems")?;
            let request = match &spec.parameters {
                Some(t) => self.eval(
                    tid,
                    &scope,
                    state.uses_context,
                    ContextExtra::default(),
                    |s, e| t.evaluate(s, e),
                )?,
                None => Value::Object(serde_json::Map::new()),
            };
            Ok::<_, Fault>((scope, max_items, request))
        })();
        let (scope, max_items, request) = match prepared {
            Ok(p) => p,
            Err(fault) => return self.map_run_failed(tid, fault),
        };
        let task_id = self.exec.next_task;
        self.exec.next_task += 1;
        self.exec.tasks.insert(task_id, tid);
        self.out.commands.push(Command::InvokeTask {
            task_id,
            state_name: state.name.clone(),
            resource: spec.resource.clone(),
            kind: spec.kind.clone(),
            input: request,
            timeout_seconds: None,
            heartbeat_seconds: None,
            task_token: None,
            credentials: None,
        });
        if let Some(t) = self.thread_mut(tid) {
            t.phase = Phase::Reading(Box::new(Reading {
                task_id,
                fanout,
                scope,
                max_items,
                manifest: None,
            }));
        }
    }

    /// An S3 inventory: its manifest's answer asks for each data file, and each file's
    /// answer adds its rows; `Some` once every row is in (or on a failure).
    fn inventory_read(
        &mut self,
        tid: ThreadId,
        spec: &ReaderSpec,
        task_id: TaskId,
        answer: Result<Value, Fault>,
    ) -> Option<Result<Value, Fault>> {
        let first = matches!(
            self.thread(tid).map(|t| &t.phase),
            Some(Phase::Reading(r)) if r.manifest.is_none()
        );
        self.exec.tasks.remove(&task_id);
        let content = match answer {
            Ok(content) => content,
            Err(fault) => return Some(Err(fault)),
        };
        if first {
            let (files, schema) = match reader::inventory(content) {
                Ok(found) => found,
                Err(m) => return Some(Err(Fault::new(ITEM_READER_FAILED, m))),
            };
            if files.is_empty() {
                return Some(Ok(Value::Array(Vec::new())));
            }
            let mut read = reader::ManifestRead {
                schema,
                parts: vec![None; files.len()],
                tasks: Default::default(),
            };
            let state_name = self
                .state_of(tid)
                .map(|s| s.name.clone())
                .unwrap_or_default();
            for (index, (bucket, key)) in files.into_iter().enumerate() {
                let file_task = self.exec.next_task;
                self.exec.next_task += 1;
                self.exec.tasks.insert(file_task, tid);
                read.tasks.insert(file_task, index);
                self.out.commands.push(Command::InvokeTask {
                    task_id: file_task,
                    state_name: state_name.clone(),
                    resource: spec.resource.clone(),
                    kind: spec.kind.clone(),
                    input: serde_json::json!({"Bucket": bucket, "Key": key}),
                    timeout_seconds: None,
                    heartbeat_seconds: None,
                    task_token: None,
                    credentials: None,
                });
            }
            if let Some(Phase::Reading(r)) = self.thread_mut(tid).map(|t| &mut t.phase) {
                r.manifest = Some(Box::new(read));
            }
            return None;
        }
        let Some(Phase::Reading(r)) = self.thread_mut(tid).map(|t| &mut t.phase) else {
            return None;
        };
        let read = r.manifest.as_mut()?;
        let index = read.tasks.remove(&task_id)?;
        let rows = match reader::inventory_rows(content, &read.schema) {
            Ok(rows) => rows,
            Err(m) => return Some(Err(Fault::new(ITEM_READER_FAILED, m))),
        };
        if let Some(part) = read.parts.get_mut(index) {
            *part = Some(rows);
        }
        if !read.tasks.is_empty() {
            return None;
        }
        let items: Vec<Value> = read
            .parts
            .iter_mut()
            .flat_map(|p| p.take().unwrap_or_default())
            .collect();
        Some(Ok(Value::Array(items)))
    }

    /// The thread whose ItemReader request `task_id` is, if it is one.
    pub(crate) fn reader_of(&self, task_id: TaskId) -> Option<ThreadId> {
        let tid = *self.exec.tasks.get(&task_id)?;
        matches!(self.thread(tid)?.phase, Phase::Reading(_)).then_some(tid)
    }

    /// The shell answered the reader's request (`Err` when it failed).
    pub(crate) fn items_read(
        &mut self,
        tid: ThreadId,
        task_id: TaskId,
        answer: Result<Value, Fault>,
    ) {
        let Some(state) = self.state_of(tid) else {
            return;
        };
        let Kind::Map(spec) = &state.kind else { return };
        let Some(reader) = &spec.reader else { return };
        let answer = if reader.format == reader::Format::Manifest {
            match self.inventory_read(tid, reader, task_id, answer) {
                Some(items) => items,
                // More of the inventory's data files to come.
                None => return,
            }
        } else {
            answer
        };
        let reading = match self
            .thread_mut(tid)
            .map(|t| std::mem::replace(&mut t.phase, Phase::Idle))
        {
            Some(Phase::Reading(r)) => r,
            _ => return,
        };
        let Reading {
            task_id,
            mut fanout,
            scope,
            max_items,
            ..
        } = *reading;
        self.exec.tasks.remove(&task_id);
        // Until the items are known the Map counts as started, so a failure is a MapStateFailed.
        let placeholder = fanout.clone();
        if let Some(t) = self.thread_mut(tid) {
            t.phase = Phase::Fanout(Box::new(placeholder));
        }
        let items = answer.and_then(|content| {
            let mut items = reader::items(&reader.format, content)
                .map_err(|m| Fault::new(ITEM_READER_FAILED, m))?;
            if max_items > 0 {
                items.truncate(usize::try_from(max_items).unwrap_or(usize::MAX));
            }
            match &spec.batcher {
                None => Ok(items),
                Some(_) if state.jsonata.is_some() => {
                    let Some(j) = state.jsonata.as_deref() else {
                        return Ok(items);
                    };
                    let per_batch = self.jsonata_count(
                        tid,
                        j,
                        j.batch_max_items.as_ref(),
                        "ItemBatcher/MaxItemsPerBatch",
                    )?;
                    let bytes = self.jsonata_count(
                        tid,
                        j,
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
                    Ok(reader::batches(
                        items,
                        per_batch,
                        bytes,
                        batch_input.as_ref(),
                    ))
                }
                Some(batcher) => {
                    let per_batch =
                        self.count(tid, &scope, batcher.max_items.as_ref(), "MaxItemsPerBatch")?;
                    let bytes = self.count(
                        tid,
                        &scope,
                        batcher.max_bytes.as_ref(),
                        "MaxInputBytesPerBatch",
                    )?;
                    let batch_input = match &batcher.batch_input {
                        Some(t) => Some(self.eval(
                            tid,
                            &scope,
                            true,
                            ContextExtra::default(),
                            |s, e| t.evaluate(s, e),
                        )?),
                        None => None,
                    };
                    Ok(reader::batches(
                        items,
                        per_batch,
                        bytes,
                        batch_input.as_ref(),
                    ))
                }
            }
        });
        let items = match items {
            Ok(items) => items,
            Err(fault) => return self.map_run_failed(tid, fault),
        };
        fanout.total = items.len();
        fanout.results = vec![Value::Null; items.len()];
        fanout.items = items;
        let empty = fanout.total == 0;
        if let Some(t) = self.thread_mut(tid) {
            t.phase = Phase::Fanout(Box::new(fanout));
        }
        if empty {
            self.fanout_succeeded(tid, state);
        } else {
            let last = self.thread(tid).map_or(0, |t| t.last_event);
            self.start_iterations(tid, state, last);
        }
    }

    pub(crate) fn map_run_failed(&mut self, tid: ThreadId, fault: Fault) {
        self.close_map_run(tid, "FAILED");
        let mut fields = serde_json::Map::new();
        if let Some(c) = &fault.cause {
            fields.insert("cause".into(), Value::String(c.clone()));
        }
        if let Some(e) = &fault.error {
            fields.insert("error".into(), Value::String(e.clone()));
        }
        self.emit(tid, "MapRunFailed", Value::Object(fields));
        if !matches!(
            self.thread(tid).map(|t| &t.phase),
            Some(Phase::Fanout(_) | Phase::Reading(_))
        ) {
            // The Map had started: its failure is reported as MapStateFailed.
            let placeholder = Phase::Reading(Box::new(Reading {
                task_id: 0,
                fanout: Fanout::default(),
                scope: Value::Null,
                max_items: 0,
                manifest: None,
            }));
            if let Some(t) = self.thread_mut(tid) {
                t.phase = placeholder;
            }
        }
        self.fail(tid, fault);
    }
}
