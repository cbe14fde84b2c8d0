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
        let request = match request {
            Ok(r) => r,
            Err(fault) => {
                self.map_run_failed(tid, failing.unwrap_or(fault));
                return true;
            }
        };
        let destination = writer::Destination {
            bucket: request["Bucket"].as_str().unwrap_or_default().to_string(),
            prefix: request
                .get("Prefix")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            transformation: writer.transformation,
            output_type: writer.output_type,
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

    /// The thread whose result files `task_id` writes, if it is such a request.
    pub(crate) fn writer_of(&self, task_id: TaskId) -> Option<ThreadId> {
        let tid = *self.exec.tasks.get(&task_id)?;
        match &self.thread(tid)?.phase {
            Phase::Fanout(f) if f.run.as_ref()?.writing == Some(task_id) => Some(tid),
            _ => None,
        }
    }

    /// The shell wrote the results (`Err` when it could not).
    pub(crate) fn results_written(&mut self, tid: ThreadId, answer: Result<Value, Fault>) {
        let Some(state) = self.state_of(tid) else {
            return;
        };
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
        let pending = fanout.items.get(fanout.next_item..).unwrap_or_default();
        Some(writer::request(log, destination, &fanout.results, pending))
    }

    fn writing(&self, task_id: TaskId) -> Option<(&Fanout, &writer::RunLog)> {
        let tid = self.tasks.get(&task_id)?;
        match &self.threads.get(tid)?.phase {
            Phase::Fanout(f) => {
                let log = f.run.as_deref()?;
                (log.writing == Some(task_id)).then_some((&**f, log))
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
