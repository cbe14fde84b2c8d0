//! A Distributed Map's STANDARD children as executions of their own in the serverless shell
//! ([`crate::engine::CAPABILITIES`]), so a large run spreads over as many invocations as
//! Lambda gives it instead of living in one parent item.
//!
//! - The parent's write keeps each child it asks for open as a task (its
//!   `Command::StartMapRunChild`), and its messages name them:
//!   [`Message::StartMapRunChildren`], a few children per message. The handler reads the
//!   parent once and creates each child still open there as an execution of its own, unless
//!   it exists (a redelivery or the sweep's re-send: then an ended child reports again).
//! - A child that ends sends [`Message::MapRunChildEnded`] through the timer queue, small
//!   whatever its output (the handler reads the child), and the queue's batches let the ends
//!   of one parent arriving together share one parent write ([`Engine::apply_events`]).
//! - A child the parent gave up (its run failed, the parent stopped) is stopped by an
//!   `Apply Stop` message. One created after its parent gave up on it (a start message
//!   handled late) is stopped by its creator, which reads the parent again after creating.
//! - Lost messages: the sweep re-sends the start message of every child task open longer
//!   than its grace; the handler then creates what is missing and reports what ended.

use std::collections::BTreeMap;

use futures_util::StreamExt;

use cairn_api::persisted::{Definition, MapRunParent, NewMapRunChild, Persisted};
use cairn_interpreter::{Command, Decision, Event, MapRunChildStart, Status, TaskId};
use cairn_store::{Error as StoreError, ExecutionRecord};

use crate::engine::{Applied, Engine, EngineError, CAPABILITIES};
use crate::message::Message;
use crate::outbox::Outgoing;

/// Children one start message names: each is one write in the handling invocation, made a
/// few at a time, so a message is handled well inside the function's timeout.
pub const CHILDREN_PER_MESSAGE: usize = 50;
/// Children of one message created at once.
const CREATORS: usize = 8;

/// The messages that start and stop the children a written decision of `arn` asks for.
pub(crate) fn child_messages(
    arn: &str,
    persisted: &mut Persisted,
    decision: &Decision,
    now: i64,
) -> Vec<Outgoing> {
    let started: Vec<TaskId> = decision
        .commands
        .iter()
        .filter_map(|command| match command {
            // One started and given up in the same decision is never started.
            Command::StartMapRunChild(start) if persisted.tasks.contains_key(&start.task_id) => {
                Some(start.task_id)
            }
            _ => None,
        })
        .collect();
    let mut messages = start_messages(arn, &started, now);
    for child in std::mem::take(&mut persisted.children_to_stop) {
        messages.push(Outgoing::Advance(Message::Apply {
            execution_arn: child,
            event: Event::Stop {
                error: None,
                cause: None,
            },
        }));
    }
    messages
}

/// [`Message::StartMapRunChildren`] for `task_ids` of `parent`, a few children a message,
/// through the timer queue (due at once).
pub(crate) fn start_messages(parent: &str, task_ids: &[TaskId], now: i64) -> Vec<Outgoing> {
    task_ids
        .chunks(CHILDREN_PER_MESSAGE)
        .map(|chunk| Outgoing::Timer {
            message: Message::StartMapRunChildren {
                execution_arn: parent.to_string(),
                task_ids: chunk.to_vec(),
            },
            fire_at_ms: now,
        })
        .collect()
}

/// What a child that ended sends its parent.
pub(crate) fn end_message(link: &MapRunParent, child_arn: &str, now: i64) -> Outgoing {
    Outgoing::Timer {
        message: Message::MapRunChildEnded {
            execution_arn: link.execution_arn.clone(),
            child_arn: child_arn.to_string(),
        },
        fire_at_ms: now,
    }
}

/// Running children the sweep found, by parent: each parent is read once per sweep page to
/// find the children it no longer waits for (their stop message was lost).
#[derive(Default)]
pub(crate) struct Orphans {
    by_parent: BTreeMap<String, Vec<(String, TaskId)>>,
}

impl Orphans {
    pub(crate) fn check(&mut self, child: &str, link: &MapRunParent) {
        self.by_parent
            .entry(link.execution_arn.clone())
            .or_default()
            .push((child.to_string(), link.task_id));
    }
}

/// Where one child stands after its start message.
enum Child {
    /// Created now, running.
    Created(String),
    /// Ended (now or before): the event its parent applies.
    Ended(Event),
    /// Exists and runs, or belongs to another parent: nothing to do.
    Nothing,
}

impl Engine {
    /// Handles [`Message::StartMapRunChildren`].
    pub async fn start_map_run_children(
        &self,
        parent: &str,
        task_ids: &[TaskId],
    ) -> Result<Applied, EngineError> {
        let Some((record, _)) = self.store.get_execution(parent).await? else {
            return Ok(Applied::Missing);
        };
        let persisted = Persisted::decode(&record)?;
        if persisted.execution.status() != Status::Running {
            return Ok(Applied::NotRunning);
        }
        let starts: Vec<MapRunChildStart> = task_ids
            .iter()
            .filter_map(|id| match persisted.tasks.get(id).map(|t| &t.command) {
                Some(Command::StartMapRunChild(start)) => Some((**start).clone()),
                _ => None,
            })
            .collect();
        if starts.is_empty() {
            return Ok(Applied::Duplicate);
        }
        let definition = &persisted.definition;
        let role_arn = persisted.execution.info().role_arn.as_str();
        let mut created = Vec::new();
        let mut ended = Vec::new();
        let mut first_error = None;
        // The futures made first: a stream's mapping closure over borrowed starts would make
        // this future's Send-ness higher-ranked, which the Lambda runtime cannot prove.
        let creations: Vec<_> = starts
            .iter()
            .map(|start| self.start_map_run_child(parent, definition, role_arn, start))
            .collect();
        let mut outcomes = futures_util::stream::iter(creations).buffer_unordered(CREATORS);
        while let Some(outcome) = outcomes.next().await {
            match outcome {
                Ok(Child::Created(arn)) => created.push(arn),
                Ok(Child::Ended(event)) => ended.push(event),
                Ok(Child::Nothing) => {}
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        drop(outcomes);
        if !created.is_empty() {
            self.stop_children_given_up(parent, &created).await?;
        }
        let applied = if ended.is_empty() {
            Applied::Applied(Status::Running)
        } else {
            self.apply_events(parent, &ended).await?
        };
        // The children that were made stand; the message comes back for the rest.
        match first_error {
            Some(error) => Err(error),
            None => Ok(applied),
        }
    }

    /// Stops the children just created whose parent no longer waits for them: it gave them
    /// up (and sent their stop, which found nothing) between the read that named them and
    /// their creation.
    async fn stop_children_given_up(
        &self,
        parent: &str,
        created: &[String],
    ) -> Result<(), EngineError> {
        let still_wanted: std::collections::HashSet<String> =
            match self.store.get_execution(parent).await? {
                Some((record, _)) => {
                    let persisted = Persisted::decode(&record)?;
                    if persisted.execution.status() == Status::Running {
                        persisted
                            .tasks
                            .values()
                            .filter_map(|task| match &task.command {
                                Command::StartMapRunChild(start) => {
                                    Some(start.execution_arn.clone())
                                }
                                _ => None,
                            })
                            .collect()
                    } else {
                        Default::default()
                    }
                }
                None => Default::default(),
            };
        for child in created.iter().filter(|arn| !still_wanted.contains(*arn)) {
            let stop = Event::Stop {
                error: None,
                cause: None,
            };
            self.apply(child, stop).await?;
        }
        Ok(())
    }

    /// Creates one child unless it exists; reports where it stands.
    async fn start_map_run_child(
        &self,
        parent: &str,
        definition: &Definition,
        role_arn: &str,
        start: &MapRunChildStart,
    ) -> Result<Child, EngineError> {
        // A read first: the sweep re-sends the start of every child still running, and a
        // read costs half a failed conditional write.
        if let Some((record, _)) = self.store.get_execution(&start.execution_arn).await? {
            return existing(&record, parent);
        }
        let now = self.now_ms();
        let arn = start.execution_arn.clone();
        let machine = self.machine_of(definition).await?;
        let child = NewMapRunChild::start(
            &machine,
            definition,
            parent,
            role_arn,
            start,
            now,
            self.decision_seed(&arn, 0),
            CAPABILITIES,
        )?;
        // Ended in its first decision: its parent hears of it from this handler, in the one
        // write that takes the ends of the whole message, not from a message of its own.
        let report = child.persisted.execution.map_run_child_end(start.task_id);
        match self
            .create(
                child.persisted,
                child.decision,
                child.record,
                &child.input_text,
                now,
                false,
            )
            .await
        {
            Ok(_) => Ok(match report {
                Some(event) => Child::Ended(event),
                None => Child::Created(arn),
            }),
            Err(EngineError::Store(StoreError::AlreadyExists(_))) => {
                match self.store.get_execution(&arn).await? {
                    Some((record, _)) => existing(&record, parent),
                    None => Ok(Child::Nothing),
                }
            }
            Err(other) => Err(other),
        }
    }
}

impl Engine {
    /// Stop messages for the running children whose parent no longer waits for them: it
    /// ended, or retired their task (gave them up), and the stop it sent was lost.
    pub(crate) async fn stop_orphans(
        &self,
        orphans: Orphans,
    ) -> Result<Vec<Outgoing>, EngineError> {
        let mut stops = Vec::new();
        for (parent, children) in orphans.by_parent {
            let waiting = match self.store.get_execution(&parent).await? {
                Some((record, _)) => match Persisted::decode(&record) {
                    Ok(persisted) if persisted.execution.status() == Status::Running => {
                        persisted.tasks
                    }
                    Ok(_) => Default::default(),
                    // Unreadable: leave its children alone rather than stop them wrongly.
                    Err(_) => continue,
                },
                None => Default::default(),
            };
            for (child, task_id) in children {
                let wanted = matches!(
                    waiting.get(&task_id).map(|t| &t.command),
                    Some(Command::StartMapRunChild(start)) if start.execution_arn == child
                );
                if !wanted {
                    stops.push(Outgoing::Advance(Message::Apply {
                        execution_arn: child,
                        event: Event::Stop {
                            error: None,
                            cause: None,
                        },
                    }));
                }
            }
        }
        Ok(stops)
    }
}

/// A child found existing: its end, if it ended and is this parent's.
fn existing(record: &ExecutionRecord, parent: &str) -> Result<Child, EngineError> {
    if record.status == "RUNNING" {
        return Ok(Child::Nothing);
    }
    let persisted = Persisted::decode(record)?;
    Ok(match persisted.map_run_end() {
        Some((to, event)) if to == parent => Child::Ended(event),
        _ => Child::Nothing,
    })
}

/// Messages of a batch that failed together (the child ends of one parent share a write),
/// by their index in the batch.
#[derive(Debug)]
pub struct BatchFailure {
    pub messages: Vec<usize>,
    pub error: EngineError,
}

impl Engine {
    /// Handles a batch of messages as the advance function takes an SQS batch: each in
    /// turn, except the [`Message::MapRunChildEnded`] of one parent, which reach it together
    /// in one write after the rest ([`Engine::map_run_children_ended`]). Returns what failed.
    pub async fn handle_batch(&self, messages: Vec<Message>) -> Vec<BatchFailure> {
        let mut failures = Vec::new();
        let mut ends: BTreeMap<String, (Vec<usize>, Vec<String>)> = BTreeMap::new();
        for (i, message) in messages.into_iter().enumerate() {
            match message {
                Message::MapRunChildEnded {
                    execution_arn,
                    child_arn,
                } => {
                    let (indexes, children) = ends.entry(execution_arn).or_default();
                    indexes.push(i);
                    children.push(child_arn);
                }
                other => {
                    if let Err(error) = self.handle(other).await {
                        failures.push(BatchFailure {
                            messages: vec![i],
                            error,
                        });
                    }
                }
            }
        }
        for (parent, (indexes, children)) in ends {
            if let Err(error) = self.map_run_children_ended(&parent, &children).await {
                failures.push(BatchFailure {
                    messages: indexes,
                    error,
                });
            }
        }
        failures
    }

    /// Handles the [`Message::MapRunChildEnded`] of one parent that arrived together: reads
    /// each child and applies their ends to the parent in one write.
    pub async fn map_run_children_ended(
        &self,
        parent: &str,
        children: &[String],
    ) -> Result<Applied, EngineError> {
        // Joined in this task (no spawn): the engine runs on whatever drives it, the
        // simulation's executor included.
        let reads = children.iter().map(|child| self.store.get_execution(child));
        let reads = futures_util::future::join_all(reads).await;
        let mut events = Vec::new();
        for read in reads {
            if let Some((record, _)) = read? {
                if let Child::Ended(event) = existing(&record, parent)? {
                    events.push(event);
                }
            }
        }
        if events.is_empty() {
            return Ok(Applied::Duplicate);
        }
        self.apply_events(parent, &events).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::{Arc, Mutex};

    use cairn_runtime::Clock;
    use cairn_store::{ExecutionStore, HistoryQuery, StateMachineRecord, StateMachineStore};
    use serde_json::{json, Value};

    use super::*;
    use crate::outbox::{Outbox, Sink};

    const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:fan";

    /// Keeps what the engine sends; `drop_next` loses the next sends (a broken queue).
    #[derive(Default)]
    struct Queue {
        sent: Mutex<Vec<Outgoing>>,
        lose: std::sync::atomic::AtomicBool,
    }

    impl Sink for Queue {
        fn send(&self, outgoing: Vec<Outgoing>, _: i64) -> Result<(), EngineError> {
            if !self.lose.load(Ordering::SeqCst) {
                self.sent.lock().unwrap().extend(outgoing);
            }
            Ok(())
        }
    }

    struct Manual(AtomicI64);

    impl Clock for Manual {
        fn now_ms(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    struct Rig {
        engine: Engine,
        store: Arc<cairn_store::MemoryStore>,
        queue: Arc<Queue>,
        clock: Arc<Manual>,
        /// The most children running at once, seen between deliveries.
        most_running: usize,
    }

    fn rig(definition: Value) -> Rig {
        let store = Arc::new(cairn_store::MemoryStore::new());
        store
            .create_state_machine(&StateMachineRecord {
                arn: MACHINE.into(),
                name: "fan".into(),
                created_ms: 0,
                document: json!({"definition": definition.to_string(), "type": "STANDARD",
                    "roleArn": "arn:aws:iam::123456789012:role/r"}),
            })
            .unwrap();
        let queue = Arc::new(Queue::default());
        let clock = Arc::new(Manual(AtomicI64::new(1_735_689_600_000)));
        let settings = crate::Settings {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            ..crate::Settings::default()
        };
        let engine = Engine::new(
            Arc::clone(&store) as Arc<dyn cairn_store::asynchronous::Store>,
            Outbox::with_sink(settings, Arc::clone(&queue) as Arc<dyn Sink>),
            Arc::new(cairn_runtime::Unsupported),
            Arc::clone(&clock) as Arc<dyn Clock>,
        )
        .seeded(11);
        Rig {
            engine,
            store,
            queue,
            clock,
            most_running: 0,
        }
    }

    fn fan_out(max_concurrency: u64, item_states: Value, extra: Value) -> Value {
        let mut map = json!({
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": max_concurrency,
            "Label": "Fan",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Work",
                "States": item_states
            },
            "End": true
        });
        if let (Some(map), Some(extra)) = (map.as_object_mut(), extra.as_object()) {
            map.extend(extra.clone());
        }
        json!({"StartAt": "Fan", "States": {"Fan": map}})
    }

    fn items(n: usize) -> String {
        json!({"items": (0..n).map(|v| json!({"v": v})).collect::<Vec<_>>()}).to_string()
    }

    impl Rig {
        fn take(&self) -> Vec<Outgoing> {
            std::mem::take(&mut *self.queue.sent.lock().unwrap())
        }

        fn running_children(&self) -> usize {
            self.children()
                .iter()
                .filter(|c| c.status == "RUNNING")
                .count()
        }

        fn children(&self) -> Vec<ExecutionRecord> {
            let query = cairn_store::ExecutionQuery {
                state_machine_arn: format!("{MACHINE}/Fan"),
                status: None,
                cursor: None,
                limit: 1000,
            };
            self.store.list_executions(&query).unwrap().items
        }

        fn record(&self, arn: &str) -> ExecutionRecord {
            self.store.get_execution(arn).unwrap().unwrap().0
        }

        fn history_types(&self, arn: &str) -> Vec<String> {
            let query = HistoryQuery {
                after_id: None,
                limit: 10_000,
                reverse: false,
            };
            self.store
                .read_history(arn, &query)
                .unwrap()
                .iter()
                .map(|e| {
                    let event: Value = serde_json::from_str(&e.body).unwrap();
                    event[3].as_str().unwrap_or_default().to_string()
                })
                .collect()
        }

        /// Delivers what is due now (the children's start messages), once.
        async fn settle_once(&mut self) {
            let now = self.clock.now_ms();
            let messages: Vec<Message> = self
                .take()
                .into_iter()
                .filter_map(|outgoing| match outgoing {
                    Outgoing::Timer {
                        message,
                        fire_at_ms,
                    } if fire_at_ms <= now => Some(message),
                    Outgoing::Advance(message) => Some(message),
                    _ => None,
                })
                .collect();
            let failures = self.engine.handle_batch(messages).await;
            assert!(failures.is_empty(), "{failures:?}");
        }

        /// Delivers what was sent until nothing is left, timers when due (the clock moves
        /// to the earliest), each round as one batch of the advance function.
        async fn settle(&mut self) {
            for _ in 0..10_000 {
                let sent = self.take();
                if sent.is_empty() {
                    return;
                }
                self.most_running = self.most_running.max(self.running_children());
                let now = self.clock.now_ms();
                let (due, later): (Vec<_>, Vec<_>) = sent.into_iter().partition(|o| match o {
                    Outgoing::Timer { fire_at_ms, .. } => *fire_at_ms <= now,
                    _ => true,
                });
                if due.is_empty() {
                    let next = later
                        .iter()
                        .filter_map(|o| match o {
                            Outgoing::Timer { fire_at_ms, .. } => Some(*fire_at_ms),
                            _ => None,
                        })
                        .min()
                        .unwrap();
                    self.clock.0.store(next, Ordering::SeqCst);
                }
                self.queue.sent.lock().unwrap().extend(later);
                let messages: Vec<Message> = due
                    .into_iter()
                    .filter_map(|outgoing| match outgoing {
                        Outgoing::Timer { message, .. } | Outgoing::Advance(message) => {
                            Some(message)
                        }
                        Outgoing::StatusChange { .. } => None,
                    })
                    .collect();
                let failures = self.engine.handle_batch(messages).await;
                assert!(failures.is_empty(), "{failures:?}");
            }
            panic!("the run never settled");
        }
    }

    #[tokio::test]
    async fn standard_children_run_as_executions_of_their_own_within_max_concurrency() {
        let states = json!({
            "Work": {"Type": "Wait", "Seconds": 5, "Next": "Double"},
            "Double": {"Type": "Pass", "Parameters": {"twice.$": "States.MathAdd($.v, $.v)"}, "End": true}
        });
        let mut rig = rig(fan_out(4, states, json!({})));
        let started = rig
            .engine
            .start(MACHINE, Some("run"), Some(&items(10)))
            .await
            .unwrap();
        rig.settle().await;
        let parent = rig.record(&started.execution_arn);
        assert_eq!(parent.status, "SUCCEEDED");
        let persisted = Persisted::decode(&parent).unwrap();
        let output: Vec<i64> = persisted
            .execution
            .output()
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["twice"].as_i64().unwrap())
            .collect();
        assert_eq!(output, (0..10).map(|v| 2 * v).collect::<Vec<_>>());
        let children = rig.children();
        assert_eq!(children.len(), 10);
        for child in &children {
            assert_eq!(child.status, "SUCCEEDED", "{}", child.arn);
            assert_eq!(
                child.summary["mapRunArn"]
                    .as_str()
                    .map(|a| a.contains(":mapRun:fan/Fan:")),
                Some(true),
                "{:?}",
                child.summary
            );
            // Its own history, state by state, as AWS keeps a STANDARD child's.
            let types = rig.history_types(&child.arn);
            assert_eq!(types.first().map(String::as_str), Some("ExecutionStarted"));
            assert!(types.iter().any(|t| t == "WaitStateExited"), "{types:?}");
            assert_eq!(types.last().map(String::as_str), Some("ExecutionSucceeded"));
        }
        assert!(
            rig.most_running <= 4,
            "{} running at once",
            rig.most_running
        );
        assert!(rig.most_running >= 2, "children ran one at a time");
        // The parent's history is the Map's, not its children's states.
        let types = rig.history_types(&started.execution_arn);
        assert!(types.iter().any(|t| t == "MapRunSucceeded"), "{types:?}");
        assert!(!types.iter().any(|t| t == "WaitStateEntered"), "{types:?}");
    }

    #[tokio::test]
    async fn children_that_end_at_once_reach_their_parent_in_the_start_messages_write() {
        let states = json!({"Work": {"Type": "Pass", "End": true}});
        let mut rig = rig(fan_out(0, states, json!({})));
        let started = rig
            .engine
            .start(MACHINE, Some("run"), Some(&items(40)))
            .await
            .unwrap();
        let before = rig.engine.writes.load(Ordering::Relaxed);
        rig.settle().await;
        assert_eq!(rig.record(&started.execution_arn).status, "SUCCEEDED");
        let writes = rig.engine.writes.load(Ordering::Relaxed) - before;
        // 40 child creations, and the parent once per start message.
        assert_eq!(writes, 40 + 40_u64.div_ceil(CHILDREN_PER_MESSAGE as u64));
    }

    #[tokio::test]
    async fn a_failed_child_fails_the_run_and_its_running_siblings_are_aborted() {
        let states = json!({
            "Work": {"Type": "Choice", "Choices": [
                {"Variable": "$.v", "NumericEquals": 0, "Next": "Broken"}
            ], "Default": "Slow"},
            "Broken": {"Type": "Fail", "Error": "Item.Broken", "Cause": "item 0"},
            "Slow": {"Type": "Wait", "Seconds": 3600, "End": true}
        });
        let mut rig = rig(fan_out(3, states, json!({})));
        let started = rig
            .engine
            .start(MACHINE, Some("run"), Some(&items(6)))
            .await
            .unwrap();
        rig.settle().await;
        let parent = rig.record(&started.execution_arn);
        assert_eq!(parent.status, "FAILED");
        assert_eq!(
            parent.summary["error"].as_str(),
            Some("States.ExceedToleratedFailureThreshold"),
            "{:?}",
            parent.summary
        );
        let mut statuses: Vec<String> = rig.children().into_iter().map(|c| c.status).collect();
        statuses.sort();
        assert_eq!(statuses, ["ABORTED", "ABORTED", "FAILED"]);
    }

    #[tokio::test]
    async fn the_sweep_starts_children_whose_start_was_lost_and_reports_ends_that_were_lost() {
        let states = json!({"Work": {"Type": "Wait", "Seconds": 5, "End": true}});
        let mut rig = rig(fan_out(0, states, json!({})));
        // Every start message is lost.
        rig.queue.lose.store(true, Ordering::SeqCst);
        let started = rig
            .engine
            .start(MACHINE, Some("run"), Some(&items(3)))
            .await
            .unwrap();
        rig.queue.lose.store(false, Ordering::SeqCst);
        assert!(rig.children().is_empty());
        rig.clock.0.fetch_add(600_000, Ordering::SeqCst);
        let (resent, _) = rig.engine.sweep_tasks(120_000).await.unwrap();
        assert_eq!(resent, 1, "one start message for the three children");
        // The children run, but their ends are lost.
        let sent = rig.take();
        for outgoing in sent {
            if let Outgoing::Timer { message, .. } = outgoing {
                rig.engine.handle(message).await.unwrap();
            }
        }
        assert_eq!(rig.children().len(), 3);
        rig.clock.0.fetch_add(10_000, Ordering::SeqCst);
        let timers = rig.take();
        rig.queue.lose.store(true, Ordering::SeqCst);
        for outgoing in timers {
            if let Outgoing::Timer { message, .. } = outgoing {
                rig.engine.handle(message).await.unwrap();
            }
        }
        rig.queue.lose.store(false, Ordering::SeqCst);
        assert!(rig.children().iter().all(|c| c.status == "SUCCEEDED"));
        assert_eq!(rig.record(&started.execution_arn).status, "RUNNING");
        rig.clock.0.fetch_add(600_000, Ordering::SeqCst);
        rig.engine.sweep_tasks(120_000).await.unwrap();
        rig.settle().await;
        assert_eq!(rig.record(&started.execution_arn).status, "SUCCEEDED");
    }

    #[tokio::test]
    async fn the_sweep_stops_children_whose_stop_was_lost() {
        let states = json!({"Work": {"Type": "Wait", "Seconds": 86_400, "End": true}});
        let mut rig = rig(fan_out(0, states, json!({})));
        let started = rig
            .engine
            .start(MACHINE, Some("run"), Some(&items(3)))
            .await
            .unwrap();
        rig.settle_once().await;
        assert_eq!(rig.running_children(), 3);
        // The parent is stopped and its stop messages for the children are lost.
        rig.queue.lose.store(true, Ordering::SeqCst);
        let stop = Event::Stop {
            error: None,
            cause: None,
        };
        rig.engine
            .apply(&started.execution_arn, stop)
            .await
            .unwrap();
        rig.queue.lose.store(false, Ordering::SeqCst);
        assert_eq!(rig.running_children(), 3);
        // Within the grace a child is left alone; past it, the sweep stops it.
        rig.engine.sweep_tasks(120_000).await.unwrap();
        rig.take();
        assert_eq!(rig.running_children(), 3);
        rig.clock.0.fetch_add(600_000, Ordering::SeqCst);
        rig.engine.sweep_tasks(120_000).await.unwrap();
        for outgoing in rig.take() {
            if let Outgoing::Advance(message) = outgoing {
                rig.engine.handle(message).await.unwrap();
            }
        }
        let mut statuses: Vec<String> = rig.children().into_iter().map(|c| c.status).collect();
        statuses.sort();
        assert_eq!(statuses, ["ABORTED", "ABORTED", "ABORTED"]);
    }

    #[tokio::test]
    async fn a_sweep_leaves_children_their_parent_waits_for_alone() {
        let states = json!({"Work": {"Type": "Wait", "Seconds": 86_400, "End": true}});
        let mut rig = rig(fan_out(0, states, json!({})));
        rig.engine
            .start(MACHINE, Some("run"), Some(&items(3)))
            .await
            .unwrap();
        rig.settle_once().await;
        rig.clock.0.fetch_add(600_000, Ordering::SeqCst);
        rig.engine.sweep_tasks(120_000).await.unwrap();
        let stops = rig
            .take()
            .into_iter()
            .filter(|o| {
                matches!(
                    o,
                    Outgoing::Advance(Message::Apply {
                        event: Event::Stop { .. },
                        ..
                    })
                )
            })
            .count();
        assert_eq!(stops, 0);
    }

    #[tokio::test]
    async fn a_child_created_after_its_parent_gave_up_on_it_is_stopped() {
        let states = json!({"Work": {"Type": "Wait", "Seconds": 3600, "End": true}});
        let mut rig = rig(fan_out(0, states, json!({})));
        let started = rig
            .engine
            .start(MACHINE, Some("run"), Some(&items(2)))
            .await
            .unwrap();
        // The start message is held back while the parent is stopped: its stops find no
        // child to stop.
        let held = rig.take();
        let stop = Event::Stop {
            error: None,
            cause: None,
        };
        rig.engine
            .apply(&started.execution_arn, stop)
            .await
            .unwrap();
        assert_eq!(rig.record(&started.execution_arn).status, "ABORTED");
        rig.settle().await;
        assert!(rig.children().is_empty());
        // Handled late, the start message finds the parent ended: nothing is created.
        for outgoing in held.clone() {
            if let Outgoing::Timer { message, .. } = outgoing {
                assert_eq!(
                    rig.engine.handle(message).await.unwrap(),
                    Applied::NotRunning
                );
            }
        }
        assert!(rig.children().is_empty());
    }
}
