//! A Distributed Map's children as executions of their own (`Capabilities::map_run_children`):
//! the decider asks for each child with `Command::StartMapRunChild`; this driver starts it
//! as a stored execution on its parent's definition (its own history, DescribeExecution and
//! ListExecutions by `mapRunArn` while it runs), and the write that ends it reports the end
//! to the parent as a task event. The ends of many children reach a parent in one write: a
//! parent's events wait in its inbox while a write of it is under way, and the next write
//! applies all of them, so a run of many short children costs the parent one write per
//! batch instead of one per child.

use cairn_interpreter::{Command, Context, Decision, Event, MapRunChildStart, Status};
use cairn_store::{Effects, Error as StoreError, Transition};

use crate::driver::{store_error, Driver};
use crate::persisted::{input_text, stored_history, Definition, NewMapRunChild, Persisted};
use crate::ApiError;

/// Children of one decision started at once (each start is one store write; concurrent
/// writes share the store's group commit).
const STARTERS: usize = 16;
/// Writes of one parent's batch before giving up on it (only another process writing the
/// parent makes a write conflict).
const MAX_ATTEMPTS: usize = 32;
/// The longest a parent's next write waits for more of its children's ends.
const MAX_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

/// The child executions a written decision asks to start or stop.
#[derive(Default)]
pub(crate) struct ChildWork {
    definition: Option<Definition>,
    role_arn: String,
    start: Vec<MapRunChildStart>,
    stop: Vec<String>,
}

impl ChildWork {
    /// What `decision`, just planned into `persisted`, asks of the children.
    pub(crate) fn of(persisted: &mut Persisted, decision: &Decision) -> ChildWork {
        let start: Vec<MapRunChildStart> = decision
            .commands
            .iter()
            .filter_map(|c| match c {
                // One started and stopped in the same decision is never started.
                Command::StartMapRunChild(s) if persisted.tasks.contains_key(&s.task_id) => {
                    Some((**s).clone())
                }
                _ => None,
            })
            .collect();
        let mut stop = std::mem::take(&mut persisted.children_to_stop);
        stop.retain(|arn| {
            !decision
                .commands
                .iter()
                .any(|c| matches!(c, Command::StartMapRunChild(s) if &s.execution_arn == arn))
        });
        ChildWork {
            definition: (!start.is_empty()).then(|| persisted.definition.clone()),
            role_arn: persisted.execution.info().role_arn.clone(),
            start,
            stop,
        }
    }
}

impl Driver {
    /// Starts and stops the children a written decision of `parent` asks for, on threads of
    /// their own: the caller may hold the parent's lock, which a child's end needs.
    pub(crate) fn carry_out_children(&self, parent: &str, work: ChildWork) {
        if work.start.is_empty() && work.stop.is_empty() {
            return;
        }
        let Some(driver) = self.handle() else { return };
        let parent = parent.to_string();
        let spawned = std::thread::Builder::new()
            .name("cairn-map-children".into())
            .spawn(move || {
                for arn in &work.stop {
                    driver.stop_child(arn);
                }
                let Some(definition) = work.definition else {
                    return;
                };
                let next = std::sync::atomic::AtomicUsize::new(0);
                std::thread::scope(|scope| {
                    for _ in 0..STARTERS.min(work.start.len()) {
                        scope.spawn(|| loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(start) = work.start.get(i) else {
                                return;
                            };
                            if let Err(error) = driver.start_map_run_child(
                                &parent,
                                &definition,
                                &work.role_arn,
                                start,
                            ) {
                                eprintln!(
                                    "cairn: starting {} for {parent} failed: {error}",
                                    start.execution_arn
                                );
                            }
                        });
                    }
                });
            });
        if let Err(error) = spawned {
            eprintln!("cairn: cannot start a Map Run's children: {error}");
        }
    }

    /// Stops a child, or has it stopped as soon as its start is written: the parent may
    /// give up on it while another thread is still starting it.
    fn stop_child(&self, arn: &str) {
        if let Ok(mut stopping) = self.stopping.lock() {
            stopping.insert(arn.to_string());
        }
        let stop = Event::Stop {
            error: None,
            cause: None,
        };
        if self.advance(arn, stop, None).is_ok() {
            if let Ok(mut stopping) = self.stopping.lock() {
                stopping.remove(arn);
            }
        }
    }

    /// Starts one child (at most once: a second start, after a restart, finds it and
    /// reports its end if it ended).
    pub(crate) fn start_map_run_child(
        &self,
        parent: &str,
        definition: &Definition,
        role_arn: &str,
        start: &MapRunChildStart,
    ) -> Result<(), ApiError> {
        let now = self.now_ms();
        let arn = start.execution_arn.clone();
        let machine = self.machine_of(definition)?;
        let NewMapRunChild {
            mut persisted,
            mut decision,
            record,
            input_text: input,
        } = NewMapRunChild::start(
            &machine,
            definition,
            parent,
            role_arn,
            start,
            now,
            self.decision_seed(&arn, 0),
            self.capabilities(),
        )?;
        self.signer.publish(&mut decision);
        self.store_map_run_children(&mut persisted.execution)?;
        let mut effects = Effects::default();
        let planned = persisted.plan(&decision, now, &mut effects);
        let work = ChildWork::of(&mut persisted, &decision);
        let record = persisted.record(record, &input, now)?;
        let history = stored_history(&decision);
        match self.store.create_execution(&record, &history, &effects) {
            Ok(_) => {
                self.observe_write(&record, &decision, None, &persisted);
                self.carry_out(&arn, planned);
                self.carry_out_children(&arn, work);
                let stopped = self
                    .stopping
                    .lock()
                    .map(|mut stopping| stopping.remove(&arn))
                    .unwrap_or(false);
                if stopped {
                    return self
                        .advance(
                            &arn,
                            Event::Stop {
                                error: None,
                                cause: None,
                            },
                            None,
                        )
                        .map(|_| ());
                }
                if let Some((parent, event)) = persisted.map_run_end() {
                    self.deliver(&parent, event);
                }
                Ok(())
            }
            // A child asked for without input is one a redrive of its parent wants again
            // (`redrive::child_work`): re-sent after a restart that came between the
            // parent's redrive and the child's, it is redriven for the new task, not
            // reported with the end it gave the old one (which the parent no longer waits
            // for). One already redriven for this task only reports its end.
            Err(StoreError::AlreadyExists(_)) if start.input.is_null() => {
                self.redrive_map_run_child(parent, start)
            }
            Err(StoreError::AlreadyExists(_)) => {
                let Some((record, _)) = self.store.get_execution(&arn).map_err(store_error)? else {
                    return Ok(());
                };
                if record.status != "RUNNING" {
                    if let Some((parent, event)) = Persisted::decode(&record)?.map_run_end() {
                        self.deliver(&parent, event);
                    }
                }
                Ok(())
            }
            Err(other) => Err(store_error(other)),
        }
    }

    /// Hands a child's end to its parent: applied at once, or with the ends that arrive
    /// while a write of the parent is under way, by the thread that made that write.
    pub(crate) fn deliver(&self, parent: &str, event: Event) {
        {
            let Ok(mut inbox) = self.inbox.lock() else {
                return;
            };
            if let Some(waiting) = inbox.get_mut(parent) {
                waiting.push(event);
                return;
            }
            inbox.insert(parent.to_string(), vec![event]);
        }
        let mut pause = std::time::Duration::ZERO;
        loop {
            // A parent's write costs as much for one end as for many (its whole state is
            // rewritten): waiting as long as the last write took lets the ends that arrive
            // meanwhile share the next one, so a large run spends at most about half its
            // time writing its parent.
            if !pause.is_zero() {
                std::thread::sleep(pause.min(MAX_PAUSE));
            }
            let events = {
                let Ok(mut inbox) = self.inbox.lock() else {
                    return;
                };
                match inbox.get_mut(parent) {
                    Some(waiting) if !waiting.is_empty() => std::mem::take(waiting),
                    _ => {
                        inbox.remove(parent);
                        return;
                    }
                }
            };
            let mut attempt = 0;
            let began = std::time::Instant::now();
            loop {
                attempt += 1;
                match self.advance_batch(parent, &events) {
                    Err(error) if error.is_server_fault() && attempt < 16 => {
                        std::thread::sleep(std::time::Duration::from_millis(50 << attempt.min(7)));
                    }
                    Err(error) => {
                        // Recovery re-dispatches the children still open in the parent: each
                        // finds itself ended and reports again.
                        eprintln!("cairn: children's ends for {parent} failed: {error}");
                        break;
                    }
                    Ok(()) => break,
                }
            }
            pause = began.elapsed();
        }
    }

    /// Applies several task events to a parent in one write: each event still open is
    /// applied in turn and their decisions written together.
    fn advance_batch(&self, arn: &str, events: &[Event]) -> Result<(), ApiError> {
        self.serialised_then_report(arn, || self.advance_batch_serialised(arn, events))
    }

    /// Runs `work` on execution `arn` under its lock, then hands the end it reports to the
    /// parent once the lock is released: delivering may write the parent, which must not
    /// wait while this execution's lock is held.
    pub(crate) fn serialised_then_report(
        &self,
        arn: &str,
        work: impl FnOnce() -> Result<Option<(String, Event)>, ApiError>,
    ) -> Result<(), ApiError> {
        let report = {
            let _serialised = self.serialise(arn)?;
            work()?
        };
        if let Some((parent, event)) = report {
            self.deliver(&parent, event);
        }
        Ok(())
    }

    fn advance_batch_serialised(
        &self,
        arn: &str,
        events: &[Event],
    ) -> Result<Option<(String, Event)>, ApiError> {
        for _ in 0..MAX_ATTEMPTS {
            let (record, version, mut persisted) = match self.load_standard(arn) {
                Ok(loaded) => loaded,
                Err(error) if error.error_type == "ExecutionDoesNotExist" => return Ok(None),
                Err(error) => return Err(error),
            };
            if persisted.execution.status() != Status::Running {
                return Ok(None);
            }
            let machine = self.machine_of(&persisted.definition)?;
            let mut effects = Effects::default();
            let mut decision = Decision::default();
            let mut now = record.start_ms;
            let mut applied = false;
            for event in events {
                if persisted.execution.status() != Status::Running || !persisted.still_open(event) {
                    continue;
                }
                now = now.max(persisted.effective_time(event, self.now_ms(), record.start_ms));
                persisted.prepare(event, &mut effects);
                let ctx = Context {
                    now_ms: now,
                    seed: self.decision_seed(arn, persisted.execution.event_count()),
                };
                let mut one = persisted.execution.apply(&machine, event.clone(), &ctx);
                applied = true;
                self.signer.publish(&mut one);
                decision.history.append(&mut one.history);
                decision.commands.append(&mut one.commands);
                if decision.nondeterminism.is_none() {
                    decision.nondeterminism = one.nondeterminism;
                }
            }
            if !applied {
                return Ok(None);
            }
            self.store_map_run_children(&mut persisted.execution)?;
            let planned = persisted.plan(&decision, now, &mut effects);
            let work = ChildWork::of(&mut persisted, &decision);
            let input = input_text(&record).to_string();
            let previous = record.status.clone();
            let next = persisted.record(record, &input, now)?;
            let transition = Transition {
                expected_version: version,
                record: next,
                history: stored_history(&decision),
                effects,
            };
            match self.store.commit(&transition) {
                Ok(_) => {
                    self.observe_write(&transition.record, &decision, Some(&previous), &persisted);
                    self.carry_out(arn, planned);
                    self.carry_out_children(arn, work);
                    return Ok(persisted.map_run_end());
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(store_error(other)),
            }
        }
        Err(ApiError::internal(format!(
            "{arn}: too many concurrent writers"
        )))
    }

    /// After a restart: the children a running parent still waits for are started again
    /// (the ones that exist report their end if they ended).
    pub(crate) fn recover_children(&self, parent: &str, persisted: &Persisted) {
        let start: Vec<MapRunChildStart> = persisted
            .tasks
            .values()
            .filter_map(|task| match &task.command {
                Command::StartMapRunChild(s) => Some((**s).clone()),
                _ => None,
            })
            .collect();
        if start.is_empty() {
            return;
        }
        self.carry_out_children(
            parent,
            ChildWork {
                definition: Some(persisted.definition.clone()),
                role_arn: persisted.execution.info().role_arn.clone(),
                start,
                stop: Vec::new(),
            },
        );
    }
}
