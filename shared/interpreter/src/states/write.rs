//! A Distributed Map's ResultWriter: once its children have ended, one request to the shell
//! (outside the history) puts the result files and the manifest in S3; its answer ends the
//! Map with the ResultWriterDetails, or fails it with `States.ResultWriterFailed`.

use crate::api::{Command, TaskId};
use crate::execution::{ContextExtra, Execution, Fanout, Fault, Phase, Runner, ThreadId};
use crate::jsonata::Produced;
use crate::machine::{CState, Kind};
use crate::writer;
use serde_json::{json, Value};

const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";

impl Runner<'_> {
    /// Asks the shell to write the run's results when the Map exports them; `false` when
    /// there is nothing to write (no export, or a write already under way) and the Map
    /// goes on as without a writer. `failing`: the fault the Map Run ends with once written.
    pub(crate) fn write_results(
        &mut self,
        tid: ThreadId,
        state: &CState,
        failing: Option<Fault>,
    ) -> bool {
        let Kind::Map(spec) = &state.kind else {
            return false;
        };
        let Some(writer) = spec.writer.as_deref() else {
            return false;
        };
        let Some((resource, kind)) = &writer.resource else {
            return false;
        };
        match self.thread(tid).map(|t| &t.phase) {
            Some(Phase::Fanout(f)) if f.run.as_ref().is_some_and(|r| r.writing.is_none()) => {}
            _ => return false,
        }
        // A part under way is given up: its children go in this write.
        self.drop_part(tid);
        let destination = match self.destination(tid, state, writer) {
            Ok(d) => d,
            Err(fault) => {
                self.map_run_failed(tid, failing.unwrap_or(fault));
                return true;
            }
        };
        let task_id = self.exec.next_task;
        let Some(Phase::Fanout(f)) = self.thread_mut(tid).map(|t| &mut t.phase) else {
            return false;
        };
        // The ItemSelector's `$` is read by no child from here on.
        f.input = Value::Null;
        let Some(log) = f.run.as_deref_mut() else {
            return false;
        };
        let pending = f.items.get(f.next_item..).unwrap_or_default();
        let input = writer::request(log, &destination, &f.results, pending);
        log.output = writer::written(log, &destination);
        log.writing = Some(task_id);
        log.destination = Some(destination);
        log.failing = failing;
        self.exec.next_task += 1;
        self.exec.tasks.insert(task_id, tid);
        self.out.commands.push(Command::InvokeTask {
            task_id,
            state_name: state.name.clone(),
            resource: resource.clone(),
            kind: kind.clone(),
            input,
            timeout_seconds: None,
            heartbeat_seconds: None,
            task_token: None,
            credentials: None,
        });
        true
    }

    /// Where the run's files go: as the ResultWriter's request is evaluated (once: a run
    /// that writes parts keeps it from its first part).
    fn destination(
        &mut self,
        tid: ThreadId,
        state: &CState,
        writer: &writer::WriterSpec,
    ) -> Result<writer::Destination, Fault> {
        if let Some(Phase::Fanout(f)) = self.thread(tid).map(|t| &t.phase) {
            if let Some(kept) = f.run.as_ref().and_then(|r| r.destination.clone()) {
                return Ok(kept);
            }
        }
        let request = (|| {
            if let Some(j) = &state.jsonata {
                return match &j.writer_arguments {
                    Some(t) => self.jsonata_eval(
                        tid,
                        j,
                        t,
                        "ResultWriter/Arguments",
                        Produced::Nothing,
                        ContextExtra::default(),
                    ),
                    None => Ok(json!({})),
                };
            }
            let input = self.thread(tid).map(|t| &t.input).unwrap_or(&Value::Null);
            let scope = self.input_path(tid, state, input)?;
            match &writer.parameters {
                Some(t) => self.eval(
                    tid,
                    &scope,
                    state.uses_context,
                    ContextExtra::default(),
                    |s, e| t.evaluate(s, e),
                ),
                None => Ok(json!({})),
            }
        })();
        let request = request.and_then(|r| match r.get("Bucket").and_then(Value::as_str) {
            Some(_) => Ok(r),
            None => Err(Fault::new(
                RESULT_WRITER_FAILED,
                "The ResultWriter's Parameters must name a Bucket",
            )),
        });
        let request = request?;
        Ok(writer::Destination {
            bucket: request["Bucket"].as_str().unwrap_or_default().to_string(),
            prefix: request
                .get("Prefix")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            transformation: writer.transformation,
            output_type: writer.output_type,
        })
    }

    /// At a pause of a run whose ResultWriter puts files: writes the records of the children
    /// ended since the last part, once there are [`writer::PART_CHILDREN`] of them, so that
    /// they can be handed over; the run goes on when the part is written. `false` when there
    /// are fewer (or no destination yet).
    pub(crate) fn write_part(&mut self, tid: ThreadId, state: &CState) -> bool {
        let Kind::Map(spec) = &state.kind else {
            return false;
        };
        let Some(writer) = spec.writer.as_deref() else {
            return false;
        };
        let Some((resource, kind)) = &writer.resource else {
            return false;
        };
        // A request that cannot be evaluated fails the run when it ends, as it did.
        let Ok(destination) = self.destination(tid, state, writer) else {
            return false;
        };
        let task_id = self.exec.next_task;
        let Some(Phase::Fanout(f)) = self.thread_mut(tid).map(|t| &mut t.phase) else {
            return false;
        };
        let Some(log) = f.run.as_deref_mut() else {
            return false;
        };
        let unwritten = |c: &&mut writer::Child| c.ended && !c.written && !c.name.is_empty();
        if log.children.iter_mut().filter(unwritten).count() < writer::PART_CHILDREN {
            return false;
        }
        for child in log.children.iter_mut().filter(unwritten) {
            child.in_part = true;
        }
        let made = writer::part_objects(log, &destination, &f.results);
        let files = made.iter().map(|(file, _)| file.clone()).collect();
        let objects = made.into_iter().map(|(f, body)| (f.key, body)).collect();
        let input = writer::put_request(&destination, objects);
        log.part = Some(writer::Part { task_id, files });
        log.destination = Some(destination);
        self.exec.next_task += 1;
        self.exec.tasks.insert(task_id, tid);
        self.out.commands.push(Command::InvokeTask {
            task_id,
            state_name: state.name.clone(),
            resource: resource.clone(),
            kind: kind.clone(),
            input,
            timeout_seconds: None,
            heartbeat_seconds: None,
            task_token: None,
            credentials: None,
        });
        true
    }

    /// Gives up the part under way (the run's last write takes its children).
    fn drop_part(&mut self, tid: ThreadId) {
        let Some(Phase::Fanout(f)) = self.thread_mut(tid).map(|t| &mut t.phase) else {
            return;
        };
        let Some(log) = f.run.as_deref_mut() else {
            return;
        };
        let Some(part) = log.part.take() else { return };
        for child in &mut log.children {
            child.in_part = false;
        }
        if self.exec.tasks.remove(&part.task_id).is_some() {
            self.out.commands.push(Command::CancelTask {
                task_id: part.task_id,
            });
        }
    }

    /// The part under way was written (`Err` when it could not be): its children may be
    /// handed over, and the run goes on.
    fn part_written(&mut self, tid: ThreadId, state: &CState, answer: Result<Value, Fault>) {
        let Some(Phase::Fanout(f)) = self.thread_mut(tid).map(|t| &mut t.phase) else {
            return;
        };
        let Some(log) = f.run.as_deref_mut() else {
            return;
        };
        let Some(part) = log.part.take() else { return };
        let failed = answer.is_err();
        for child in &mut log.children {
            if child.in_part {
                child.in_part = false;
                child.written = !failed;
            }
        }
        if !failed {
            log.files.extend(part.files);
        }
        self.exec.tasks.remove(&part.task_id);
        if let Err(fault) = answer {
            let fault = Fault::new(
                RESULT_WRITER_FAILED,
                fault.cause.or(fault.error).unwrap_or_default(),
            );
            self.abort_children(tid, state);
            return self.map_run_failed(tid, fault);
        }
        self.map_slice_resumed(tid);
    }

    /// The thread whose result files `task_id` writes, if it is such a request.
    pub(crate) fn writer_of(&self, task_id: TaskId) -> Option<ThreadId> {
        let tid = *self.exec.tasks.get(&task_id)?;
        match &self.thread(tid)?.phase {
            Phase::Fanout(f) => {
                let log = f.run.as_ref()?;
                let part = log.part.as_ref().map(|p| p.task_id);
                (log.writing == Some(task_id) || part == Some(task_id)).then_some(tid)
            }
            _ => None,
        }
    }

    /// The shell wrote the results (`Err` when it could not).
    pub(crate) fn results_written(&mut self, tid: ThreadId, answer: Result<Value, Fault>) {
        let Some(state) = self.state_of(tid) else {
            return;
        };
        // Only one write of a run is under way at a time: a part, or the last.
        if matches!(self.thread(tid).map(|t| &t.phase),
            Some(Phase::Fanout(f)) if f.run.as_ref().is_some_and(|r| r.part.is_some()))
        {
            return self.part_written(tid, state, answer);
        }
        let taken = match self.thread_mut(tid).map(|t| &mut t.phase) {
            Some(Phase::Fanout(f)) => f.run.as_deref_mut().map(|log| {
                log.destination = None;
                (
                    log.writing.take(),
                    log.failing.take(),
                    std::mem::take(&mut log.output),
                )
            }),
            _ => None,
        };
        let Some((Some(task_id), failing, output)) = taken else {
            return;
        };
        self.exec.tasks.remove(&task_id);
        match (answer, failing) {
            (Err(fault), _) => {
                let fault = Fault::new(
                    RESULT_WRITER_FAILED,
                    fault.cause.or(fault.error).unwrap_or_default(),
                );
                self.map_run_failed(tid, fault);
            }
            (Ok(_), Some(fault)) => self.map_run_failed(tid, fault),
            (Ok(_), None) => {
                self.close_map_run(tid, "SUCCEEDED");
                if let Some(t) = self.thread_mut(tid) {
                    t.phase = Phase::Idle;
                }
                self.map_succeeded(tid, state, output);
            }
        }
    }
}

impl Execution {
    /// Whether `task_id` is a ResultWriter's write under way: its request (the result files'
    /// bodies, as large as all the children's inputs and outputs together) need not be kept
    /// with the open task, [`Execution::result_write_request`] renders it again.
    pub fn writes_results(&self, task_id: TaskId) -> bool {
        self.writing(task_id).is_some()
    }

    /// The request of the ResultWriter's write `task_id`, exactly as the decision that asked
    /// for it carried it (`{"Bucket", "Objects": [{"Key", "Body"}]}`), rendered from this
    /// state; `None` when `task_id` is no write under way. A shell that sends the write again
    /// (after a restart, from its stored open task) calls it instead of keeping the bodies.
    pub fn result_write_request(&self, task_id: TaskId) -> Option<Value> {
        let (fanout, log) = self.writing(task_id)?;
        let destination = log.destination.as_ref()?;
        if log.part.as_ref().is_some_and(|p| p.task_id == task_id) {
            let made = writer::part_objects(log, destination, &fanout.results);
            let objects = made.into_iter().map(|(f, body)| (f.key, body)).collect();
            return Some(writer::put_request(destination, objects));
        }
        let pending = fanout.items.get(fanout.next_item..).unwrap_or_default();
        Some(writer::request(log, destination, &fanout.results, pending))
    }

    fn writing(&self, task_id: TaskId) -> Option<(&Fanout, &writer::RunLog)> {
        let tid = self.tasks.get(&task_id)?;
        match &self.threads.get(tid)?.phase {
            Phase::Fanout(f) => {
                let log = f.run.as_deref()?;
                let part = log.part.as_ref().map(|p| p.task_id);
                (log.writing == Some(task_id) || part == Some(task_id)).then_some((&**f, log))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Capabilities, Command, Decision, Event, Execution, Machine, Status, TaskId};
    use serde_json::{json, Value};

    use crate::test_support::{at, info};

    /// A Distributed Map over `$.rows` exporting to `out/`; its children fail on `{"bad": true}`.
    fn machine(extra: Value) -> Machine {
        let mut map = json!({"Type": "Map", "Label": "Rows", "End": true, "ItemsPath": "$.rows",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "C", "States": {
                    "C": {"Type": "Choice", "Choices": [{"Variable": "$.bad", "IsPresent": true, "Next": "F"}],
                          "Default": "P"},
                    "F": {"Type": "Fail", "Error": "Bad", "Cause": "a bad row"},
                    "P": {"Type": "Pass", "Parameters": {"row.$": "$.n", "text": "a row's output"}, "End": true}}},
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                "Parameters": {"Bucket.$": "$.bucket", "Prefix": "out"}}});
        for (k, v) in extra.as_object().into_iter().flatten() {
            map[k] = v.clone();
        }
        Machine::from_json(&json!({"StartAt": "M", "States": {"M": map}})).unwrap()
    }

    /// The decision's one write: (task id, request).
    fn write(d: &Decision) -> (TaskId, Value) {
        let found: Vec<_> = d
            .commands
            .iter()
            .filter_map(|c| match c {
                Command::InvokeTask {
                    task_id,
                    resource,
                    input,
                    ..
                } if resource == crate::writer::PUT_OBJECT => Some((*task_id, input.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(found.len(), 1, "{:?}", d.commands);
        found.into_iter().next().unwrap()
    }

    /// The execution as a shell stores it and reads it back.
    fn stored(exec: &Execution) -> (String, Execution) {
        let text = serde_json::to_string(exec).unwrap();
        let read = serde_json::from_str(&text).unwrap();
        (text, read)
    }

    #[test]
    fn the_stored_state_keeps_no_bodies_and_renders_the_same_request() {
        let m = machine(json!({}));
        let rows: Vec<Value> = (0..50).map(|n| json!({"n": n})).collect();
        let (exec, d) = Execution::start(&m, json!({"bucket": "b", "rows": rows}), info(), &at(10));
        let (task_id, request) = write(&d);
        let objects = request["Objects"].as_array().unwrap();
        assert_eq!(objects.len(), 2, "{request}");
        assert!(objects[0]["Body"]
            .as_str()
            .unwrap()
            .contains("a row's output"));

        let (text, mut read) = stored(&exec);
        assert!(
            !text.contains("Body") && !text.contains("Objects"),
            "{text}"
        );
        assert!(!text.contains("SUCCEEDED_0.json"), "{text}");
        assert!(read.writes_results(task_id));
        assert_eq!(read.result_write_request(task_id), Some(request.clone()));
        assert_eq!(read.result_write_request(task_id + 1), None);
        assert!(!read.writes_results(task_id + 1));

        // The serverless shell renders it once its claim (TaskStarted) is written.
        let started = read.apply(
            &m,
            Event::TaskStarted {
                task_id,
                worker_name: None,
            },
            &at(20),
        );
        assert!(started.commands.is_empty() && started.history.is_empty());
        let (_, mut read) = stored(&read);
        assert_eq!(read.result_write_request(task_id), Some(request));

        read.apply(
            &m,
            Event::TaskSucceeded {
                task_id,
                output: json!({}),
            },
            &at(30),
        );
        assert_eq!(read.status(), Status::Succeeded);
        assert_eq!(read.result_write_request(task_id), None);
        let (text, _) = stored(&read);
        assert!(!text.contains("destination"), "{text}");
    }

    /// Runs `m` as a shell does, every write answered at once and its objects kept by key;
    /// `storing`: the ended children taken out after each decision (and the state written
    /// and read back). Returns the execution, the objects, and the largest state.
    fn run_writing(
        m: &Machine,
        input: Value,
        storing: bool,
    ) -> (Execution, std::collections::BTreeMap<String, String>, usize) {
        let (mut exec, mut d) = Execution::start(m, input, info(), &at(10));
        let mut objects = std::collections::BTreeMap::new();
        let (mut largest, mut now) = (0, 20);
        loop {
            if storing {
                exec.detach_map_run_children();
                let (text, read) = stored(&exec);
                largest = largest.max(text.len());
                exec = read;
            }
            let event = d.commands.iter().find_map(|c| match c {
                Command::InvokeTask { task_id, input, .. } => {
                    // What a shell sending the write again renders is what was asked.
                    assert_eq!(exec.result_write_request(*task_id).as_ref(), Some(input));
                    for object in input["Objects"].as_array().into_iter().flatten() {
                        let key = object["Key"].as_str().unwrap().to_string();
                        let body = object["Body"].as_str().unwrap().to_string();
                        assert!(objects.insert(key.clone(), body).is_none(), "{key} twice");
                    }
                    Some(Event::TaskSucceeded {
                        task_id: *task_id,
                        output: json!({}),
                    })
                }
                Command::StartTimer { timer_id, .. } => Some(Event::TimerFired {
                    timer_id: *timer_id,
                }),
                _ => None,
            });
            let Some(event) = event else {
                return (exec, objects, largest);
            };
            d = exec.apply(m, event, &at(now));
            now += 10;
        }
    }

    #[test]
    fn a_large_run_writes_its_results_in_parts_and_hands_the_children_over() {
        let slice = crate::writer::SLICE as usize;
        let items = 3 * slice + 300;
        let m = machine(json!({"MaxConcurrency": 500,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "P", "States": {"P": {"Type": "Pass",
                    "Parameters": {"row.$": "$.n"}, "End": true}}}}));
        let rows: Vec<Value> = (0..items).map(|n| json!({"n": n})).collect();
        let input = json!({"bucket": "b", "rows": rows});
        let (exec, objects, largest) = run_writing(&m, input.clone(), true);
        assert_eq!(exec.status(), Status::Succeeded, "{:?}", exec.error());
        let manifest_key = exec.output().unwrap()["ResultWriterDetails"]["Key"]
            .as_str()
            .unwrap()
            .to_string();
        let manifest: Value = serde_json::from_str(&objects[&manifest_key]).unwrap();
        let files = manifest["ResultFiles"]["SUCCEEDED"].as_array().unwrap();
        // No part at the first pause (fewer than PART_CHILDREN ended: 500 still run), a part
        // at each of the next two, and the last file with the manifest.
        let keys: Vec<&str> = files.iter().map(|f| f["Key"].as_str().unwrap()).collect();
        assert_eq!(keys.len(), 3, "{keys:?}");
        assert!(keys[2].ends_with("/SUCCEEDED_2.json"), "{keys:?}");
        let mut rows_written = Vec::new();
        for file in files {
            let body = &objects[file["Key"].as_str().unwrap()];
            assert_eq!(file["Size"], json!(body.len()));
            let records: Vec<Value> = serde_json::from_str(body).unwrap();
            for record in records {
                let output: Value =
                    serde_json::from_str(record["Output"].as_str().unwrap()).unwrap();
                let row: Value = serde_json::from_str(record["Input"].as_str().unwrap()).unwrap();
                assert_eq!(output["row"], row["n"]);
                rows_written.push(row["n"].as_u64().unwrap());
            }
        }
        assert_eq!(rows_written, (0..items as u64).collect::<Vec<_>>());
        assert_eq!(objects.len(), 4, "{:?}", objects.keys());
        let run = &exec.map_runs()[0];
        assert_eq!((run.succeeded, run.total), (items as u64, items as u64));
        // The rows (in the input and the items not started) and the children not yet in a
        // part (under PART_CHILDREN and a slice; ~100 bytes each with their inputs and
        // results) bound the state, whatever the run's size.
        let rows_text = serde_json::to_string(&input).unwrap().len();
        let bound = 3 * rows_text + 100 * (slice + crate::writer::PART_CHILDREN);
        assert!(largest < bound, "{largest} bytes, rows {rows_text}");

        let (ended, _) = stored(&exec);

        // A shell that stores nothing writes the same files, keeping every child.
        let (exec, kept, _) = run_writing(&m, input, false);
        assert_eq!(exec.status(), Status::Succeeded);
        assert_eq!(kept, objects);
        let (everything, _) = stored(&exec);
        assert!(
            ended.len() + 40 * items < everything.len(),
            "{} bytes, {} keeping every child",
            ended.len(),
            everything.len()
        );
    }

    #[test]
    fn a_failed_run_renders_its_pending_items_and_starts_no_more() {
        let m = machine(json!({"MaxConcurrency": 2}));
        let outside = Capabilities {
            map_run_children: true,
            express_map_run_children: false,
        };
        let rows = json!([{"n": 0}, {"bad": true}, {"n": 2}, {"n": 3}]);
        let (mut exec, d) = Execution::start_with_capabilities(
            &m,
            json!({"bucket": "b", "rows": rows}),
            info(),
            &at(10),
            outside,
        );
        let children: Vec<(TaskId, Value)> = d
            .commands
            .iter()
            .filter_map(|c| match c {
                Command::StartMapRunChild(s) => Some((s.task_id, s.input.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(children.len(), 2);
        let d = exec.apply(
            &m,
            Event::TaskFailed {
                task_id: children[1].0,
                error: Some("Bad".into()),
                cause: Some("a bad row".into()),
            },
            &at(20),
        );
        let (task_id, request) = write(&d);
        let keys: Vec<&str> = request["Objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["Key"].as_str().unwrap())
            .collect();
        assert!(keys[0].ends_with("/FAILED_0.json") && keys[1].ends_with("/PENDING_0.json"));
        let (text, mut read) = stored(&exec);
        assert!(!text.contains("Body"), "{text}");
        assert_eq!(read.result_write_request(task_id), Some(request.clone()));

        // Raising the concurrency while the failed run writes starts none of its pending items.
        let arn = read.map_runs()[0].map_run_arn.clone();
        let d = read.apply(
            &m,
            Event::UpdateMapRun {
                map_run_arn: arn,
                max_concurrency: Some(10),
                tolerated_failure_count: None,
                tolerated_failure_percentage: None,
            },
            &at(30),
        );
        assert!(
            !d.commands
                .iter()
                .any(|c| matches!(c, Command::StartMapRunChild(_))),
            "{:?}",
            d.commands
        );
        assert_eq!(read.result_write_request(task_id), Some(request));
        read.apply(
            &m,
            Event::TaskSucceeded {
                task_id,
                output: json!({}),
            },
            &at(40),
        );
        assert_eq!(read.status(), Status::Failed);
        assert_eq!(read.error(), Some("States.ExceedToleratedFailureThreshold"));
    }
}
