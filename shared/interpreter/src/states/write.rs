//! A Distributed Map's ResultWriter: once its children have ended, one request to the shell
//! (outside the history) puts the result files and the manifest in S3; its answer ends the
//! Map with the ResultWriterDetails, or fails it with `States.ResultWriterFailed`.

use crate::api::{Command, TaskId};
use crate::execution::{ContextExtra, Fault, Phase, Runner, ThreadId};
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
        let bucket = request["Bucket"].as_str().unwrap_or_default();
        let prefix = request
            .get("Prefix")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let task_id = self.exec.next_task;
        let Some(Phase::Fanout(f)) = self.thread_mut(tid).map(|t| &mut t.phase) else {
            return false;
        };
        let Some(log) = f.run.as_deref_mut() else {
            return false;
        };
        let pending = f.items.get(f.next_item..).unwrap_or_default();
        let (files, output) = writer::objects(writer, log, &f.results, pending, bucket, prefix);
        log.writing = Some(task_id);
        log.failing = failing;
        log.output = output;
        let objects: Vec<Value> = files
            .into_iter()
            .map(|(key, body)| json!({"Key": key, "Body": body}))
            .collect();
        self.exec.next_task += 1;
        self.exec.tasks.insert(task_id, tid);
        self.out.commands.push(Command::InvokeTask {
            task_id,
            state_name: state.name.clone(),
            resource: resource.clone(),
            kind: kind.clone(),
            input: json!({"Bucket": bucket, "Objects": objects}),
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
