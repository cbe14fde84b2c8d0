#![forbid(unsafe_code)]
//! The Store port: what the API and the execution driver need to keep between requests and
//! across restarts. Split by capability (state machines, activities, executions, history,
//! timers, activity tasks, task tokens) so each caller takes the narrowest trait.
//!
//! The one rule every adapter keeps: an execution's new state, its new history events and
//! the timers, activity tasks and task tokens its commands create or retire are written in
//! one atomic operation, conditional on the version the writer read ([`ExecutionStore::commit`]).
//! Two drivers racing on one execution therefore never both apply an event: the loser gets
//! [`Error::Conflict`] and re-reads. A DynamoDB adapter implements the same contract with one
//! `TransactWriteItems` and a condition on the version attribute.
//!
//! Documents (`StateMachineRecord::document`, `ExecutionRecord::summary`) are opaque JSON the
//! API owns; the decider's serialised `Execution` is opaque bytes. The store only indexes the
//! fields it must query on (names, status, start time, fire time).

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod asynchronous;
mod memory;
pub mod suite;

pub use memory::MemoryStore;

/// The summary field that lists the status changes (`RUNNING`, `SUCCEEDED`, ...) of an
/// execution whose events a shell has still to send: written in the same write as the status
/// change, removed by [`ExecutionStore::confirm_status_sent`] once they went out, so a sweep
/// re-sends the ones a crash lost (the serverless shell's durable outbox for status events).
pub const UNSENT_STATUS: &str = "unsentStatus";

/// The status changes `record` lists as not confirmed sent ([`UNSENT_STATUS`]), oldest first.
pub fn unsent_marks(record: &ExecutionRecord) -> Vec<String> {
    record
        .summary
        .get(UNSENT_STATUS)
        .and_then(Value::as_array)
        .map(|marks| {
            marks
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Writes `marks` as `record`'s unsent status changes (none: the field goes). Every write that
/// rebuilds an execution's summary must carry the marks of the record it read into the one it
/// writes: only a confirmation removes a mark, so a status change whose send failed is still
/// re-sent by the sweep after the execution moved on.
pub fn set_unsent_marks(record: &mut ExecutionRecord, marks: &[String]) {
    let Some(summary) = record.summary.as_object_mut() else {
        return;
    };
    if marks.is_empty() {
        summary.remove(UNSENT_STATUS);
    } else {
        summary.insert(UNSENT_STATUS.into(), Value::from(marks.to_vec()));
    }
}

/// Optimistic-concurrency version of a record: 1 when created, +1 per committed write.
pub type Version = u64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The record changed since it was read (or a claimed activity task was already taken).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// The paging cursor was not produced by this store.
    #[error("invalid cursor")]
    InvalidCursor,
    /// The underlying database failed (I/O, corruption, closed writer).
    #[error("store backend error: {0}")]
    Backend(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// A state machine (or activity: same shape) as the API stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateMachineRecord {
    pub arn: String,
    pub name: String,
    pub created_ms: i64,
    /// Everything else DescribeStateMachine returns (definition, roleArn, type, tags, ...).
    pub document: Value,
}

/// An activity: the same shape as a state machine record.
pub type ActivityRecord = StateMachineRecord;

/// One execution's indexed fields, its API summary and the decider's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    pub arn: String,
    pub state_machine_arn: String,
    pub name: String,
    /// AWS's status spelling: `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`.
    pub status: String,
    pub start_ms: i64,
    pub stop_ms: Option<i64>,
    /// What DescribeExecution returns beyond the indexed fields (input, output, error, ...).
    pub summary: Value,
    /// The decider's serialised execution state.
    pub state: Vec<u8>,
}

/// One history event: its id and its serialised body (the adapter never parses it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub id: u64,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimerRecord {
    pub fire_at_ms: i64,
    pub execution_arn: String,
    pub timer_id: u64,
}

/// A task waiting in an activity's queue for a GetActivityTask poller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityTaskRecord {
    pub activity_arn: String,
    pub task_token: String,
    pub execution_arn: String,
    pub task_id: u64,
    /// The task's input as JSON text (GetActivityTask returns it verbatim).
    pub input: String,
    pub created_ms: i64,
}

/// What a task token stands for: which execution's which open task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskTokenRecord {
    pub token: String,
    pub execution_arn: String,
    pub task_id: u64,
}

/// The side effects committed atomically with an execution's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    pub timers_add: Vec<TimerRecord>,
    /// Timers to delete (fired or cancelled), matched on execution and timer id only
    /// (`fire_at_ms` is ignored); missing ones are ignored.
    pub timers_remove: Vec<TimerRecord>,
    pub activity_tasks_add: Vec<ActivityTaskRecord>,
    /// Tokens of queued activity tasks a poller takes: each must still be queued, otherwise
    /// the whole write fails with [`Error::Conflict`] (a task is handed out exactly once).
    pub activity_tasks_claim: Vec<String>,
    /// Queued activity tasks that are no longer wanted; missing ones are ignored.
    pub activity_tasks_remove: Vec<String>,
    pub tokens_add: Vec<TaskTokenRecord>,
    pub tokens_remove: Vec<String>,
}

impl Effects {
    pub fn is_empty(&self) -> bool {
        self == &Effects::default()
    }
}

/// One conditional write of an execution.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The version the writer read; the write fails with [`Error::Conflict`] if it moved on.
    pub expected_version: Version,
    pub record: ExecutionRecord,
    /// New history events, ids continuing the stored ones.
    pub history: Vec<StoredEvent>,
    pub effects: Effects,
}

/// One page of a listing. `next` is an opaque cursor for the following page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecutionQuery {
    pub state_machine_arn: String,
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub limit: usize,
}

/// Where a history read starts and in which direction it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HistoryQuery {
    /// Return events strictly after (or, reversed, strictly before) this id.
    pub after_id: Option<u64>,
    pub limit: usize,
    pub reverse: bool,
}

/// State machines. Listing order is by name, like AWS.
pub trait StateMachineStore: Send + Sync {
    /// Fails with [`Error::AlreadyExists`] if the ARN is taken.
    fn create_state_machine(&self, record: &StateMachineRecord) -> Result<()>;
    fn get_state_machine(&self, arn: &str) -> Result<Option<(StateMachineRecord, Version)>>;
    /// Conditional on `expected`; [`Error::NotFound`] if it was deleted.
    fn update_state_machine(
        &self,
        record: &StateMachineRecord,
        expected: Version,
    ) -> Result<Version>;
    /// Returns whether it existed.
    fn delete_state_machine(&self, arn: &str) -> Result<bool>;
    fn list_state_machines(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<StateMachineRecord>>;
}

/// Activities. Listing order is by name.
pub trait ActivityStore: Send + Sync {
    fn create_activity(&self, record: &ActivityRecord) -> Result<()>;
    fn get_activity(&self, arn: &str) -> Result<Option<ActivityRecord>>;
    fn delete_activity(&self, arn: &str) -> Result<bool>;
    fn list_activities(&self, cursor: Option<&str>, limit: usize) -> Result<Page<ActivityRecord>>;
}

/// Executions with their history: every write is atomic with its history and effects.
pub trait ExecutionStore: Send + Sync {
    /// Creates the execution with its first history events and effects. If the ARN exists,
    /// nothing is written and [`Error::AlreadyExists`] is returned (the caller applies AWS's
    /// idempotency rule by reading the existing record).
    fn create_execution(
        &self,
        record: &ExecutionRecord,
        history: &[StoredEvent],
        effects: &Effects,
    ) -> Result<Version>;
    fn get_execution(&self, arn: &str) -> Result<Option<(ExecutionRecord, Version)>>;
    /// The atomic, version-conditional write of a state transition.
    fn commit(&self, transition: &Transition) -> Result<Version>;
    /// Newest first (by start time, then ARN), optionally only one status.
    fn list_executions(&self, query: &ExecutionQuery) -> Result<Page<ExecutionRecord>>;
    /// ARNs of every `RUNNING` execution: what a restarted server resumes. An adapter may
    /// also list an execution that has ended while its end's status event is not yet
    /// confirmed sent (the DynamoDB store keeps its index entry until then, sparing two index
    /// writes), so callers check the status of what they read.
    fn running_executions(&self) -> Result<Vec<String>>;
    /// One page of the running executions, so a caller (the serverless sweep) never holds a
    /// million of them at once: `cursor` is the previous page's `next`. The order is the
    /// adapter's own, stable across calls. This default pages [`Self::running_executions`];
    /// an adapter with an index pages the index.
    fn running_executions_page(&self, cursor: Option<&str>, limit: usize) -> Result<Page<String>> {
        let mut all = self.running_executions()?;
        all.sort();
        let start = cursor.map_or(0, |after| all.partition_point(|arn| arn.as_str() <= after));
        let rest = all.get(start..).unwrap_or_default();
        let items: Vec<String> = rest.iter().take(limit.max(1)).cloned().collect();
        let next = match items.last() {
            Some(last) if rest.len() > items.len() => Some(last.clone()),
            _ => None,
        };
        Ok(Page { items, next })
    }
    fn read_history(&self, execution_arn: &str, query: &HistoryQuery) -> Result<Vec<StoredEvent>>;
    /// One page of the closed executions whose record still carries status changes not yet
    /// confirmed sent ([`UNSENT_STATUS`] in the summary), so a sweep re-sends them (running
    /// ones it finds through [`Self::running_executions_page`]). The order is the adapter's
    /// own. This default lists none: an adapter without such an index leaves a lost status
    /// event lost.
    fn unsent_status_page(&self, cursor: Option<&str>, limit: usize) -> Result<Page<String>> {
        let _ = (cursor, limit);
        Ok(Page {
            items: Vec::new(),
            next: None,
        })
    }
    /// Removes the [`UNSENT_STATUS`] mark of `record`'s execution if it is still at
    /// `version` (the record as written then): its status changes were sent. `Ok(false)` when
    /// the execution moved on (the write that moved it decided its own mark). An adapter
    /// clears it without writing a new version (DynamoDB: one small conditional update).
    /// This default keeps the mark, as the default [`Self::unsent_status_page`] lists none:
    /// a store that cannot clear a mark cheaply should not pay a whole write for it.
    fn confirm_status_sent(&self, record: &ExecutionRecord, version: Version) -> Result<bool> {
        let _ = (record, version);
        Ok(false)
    }
    /// Stores closed executions that have no state to advance (a Distributed Map's children
    /// once their Map Run ended), each replacing an earlier copy of itself, without history
    /// (the API makes theirs from the record). A store can write one call's records in one
    /// transaction; this default writes them one by one.
    fn put_closed_executions(&self, records: &[ExecutionRecord]) -> Result<()> {
        for record in records {
            match self.create_execution(record, &[], &Effects::default()) {
                Ok(_) => {}
                Err(Error::AlreadyExists(_)) => {
                    let Some((stored, version)) = self.get_execution(&record.arn)? else {
                        continue;
                    };
                    if &stored == record {
                        continue;
                    }
                    let transition = Transition {
                        expected_version: version,
                        record: record.clone(),
                        history: Vec::new(),
                        effects: Effects::default(),
                    };
                    match self.commit(&transition) {
                        // A concurrent writer of the same child wrote the same end.
                        Ok(_) | Err(Error::Conflict(_)) => {}
                        Err(other) => return Err(other),
                    }
                }
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }
    /// Keeps a state machine definition once, under `key` (the caller's content hash of
    /// `text`), so that executions' states name it instead of each carrying its text (a
    /// 1,000-state definition is 137 KB, written with every transition). Immutable: a key
    /// kept keeps its first text, a second put changes nothing. `Ok(true)` once the
    /// definition is durable; `Ok(false)` from a store that keeps no definitions (this
    /// default), whose callers write the text into every state as before.
    fn put_definition(&self, key: &str, text: &str) -> Result<bool> {
        let _ = (key, text);
        Ok(false)
    }
    /// The definition kept under `key` by [`Self::put_definition`], or `None`.
    fn get_definition(&self, key: &str) -> Result<Option<String>> {
        let _ = key;
        Ok(None)
    }
    /// Retention: deletes up to `limit` executions that ended (any status but `RUNNING`)
    /// before `before_ms`, with their history, and returns how many it deleted (fewer than
    /// `limit`: none are left). An adapter that keeps executions some other way (DynamoDB's
    /// TTL) answers [`Error::Backend`] saying so.
    fn delete_closed_executions(&self, before_ms: i64, limit: usize) -> Result<usize> {
        let _ = (before_ms, limit);
        Err(Error::Backend(
            "this store does not delete closed executions by a sweep".into(),
        ))
    }
}

/// Timers persist so a restart fires them late rather than never.
pub trait TimerStore: Send + Sync {
    /// Up to `limit` timers due at `now_ms` or earlier, earliest first.
    fn due_timers(&self, now_ms: i64, limit: usize) -> Result<Vec<TimerRecord>>;
    /// The earliest pending timer, if any.
    fn next_timer(&self) -> Result<Option<TimerRecord>>;
    /// One page of the timers due at `now_ms` or earlier, in the adapter's own order (stable
    /// across calls, not necessarily by fire time): `cursor` is the previous page's `next`.
    /// This default pages [`Self::due_timers`] by (fire time, execution, timer id).
    fn due_timers_page(
        &self,
        now_ms: i64,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<TimerRecord>> {
        let mut all = self.due_timers(now_ms, usize::MAX)?;
        let order = |t: &TimerRecord| (t.fire_at_ms, t.execution_arn.clone(), t.timer_id);
        all.sort_by_key(order);
        let after = match cursor {
            Some(text) => Some(parse_timer_cursor(text)?),
            None => None,
        };
        let start = after.map_or(0, |after| all.partition_point(|t| order(t) <= after));
        let rest = all.get(start..).unwrap_or_default();
        let items: Vec<TimerRecord> = rest.iter().take(limit.max(1)).cloned().collect();
        let next = match items.last() {
            Some(last) if rest.len() > items.len() => Some(format!(
                "{}/{}/{}",
                last.fire_at_ms, last.timer_id, last.execution_arn
            )),
            _ => None,
        };
        Ok(Page { items, next })
    }
}

/// Activity task queues (written through [`Effects`], read here).
pub trait ActivityTaskStore: Send + Sync {
    /// The oldest queued tasks of one activity, oldest first.
    fn peek_activity_tasks(
        &self,
        activity_arn: &str,
        limit: usize,
    ) -> Result<Vec<ActivityTaskRecord>>;
}

/// Task tokens (written through [`Effects`], read here).
pub trait TaskTokenStore: Send + Sync {
    fn get_task_token(&self, token: &str) -> Result<Option<TaskTokenRecord>>;
}

/// The whole port, for shells that wire one adapter into everything.
pub trait Store:
    StateMachineStore + ActivityStore + ExecutionStore + TimerStore + ActivityTaskStore + TaskTokenStore
{
}

impl<T> Store for T where
    T: StateMachineStore
        + ActivityStore
        + ExecutionStore
        + TimerStore
        + ActivityTaskStore
        + TaskTokenStore
{
}

fn parse_timer_cursor(text: &str) -> Result<(i64, String, u64)> {
    let mut parts = text.splitn(3, '/');
    let bad = || Error::Backend(format!("malformed timer cursor '{text}'"));
    let fire = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let id = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let arn = parts.next().ok_or_else(bad)?.to_string();
    Ok((fire, arn, id))
}

/// The cursor of an execution listing: the sort key of the last item returned. Shared so
/// every adapter accepts the same tokens.
pub fn execution_cursor(start_ms: i64, arn: &str) -> String {
    format!("{start_ms}/{arn}")
}

/// Parses an [`execution_cursor`]; [`Error::InvalidCursor`] for anything else.
pub fn parse_execution_cursor(cursor: &str) -> Result<(i64, String)> {
    let (start, arn) = cursor.split_once('/').ok_or(Error::InvalidCursor)?;
    let start_ms = start.parse::<i64>().map_err(|_| Error::InvalidCursor)?;
    Ok((start_ms, arn.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default pagers visit every running execution and due timer once, in pages no
    /// larger than asked, and a malformed cursor is an error, not a panic.
    #[test]
    fn default_pages_visit_everything_once() {
        let store = MemoryStore::new();
        let mut timers = Vec::new();
        for i in 0..5 {
            let arn = format!("arn:aws:states:us-east-1:123456789012:execution:m:e{i}");
            let record = ExecutionRecord {
                arn: arn.clone(),
                state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
                name: format!("e{i}"),
                status: "RUNNING".into(),
                start_ms: i,
                stop_ms: None,
                summary: serde_json::Value::Null,
                state: Vec::new(),
            };
            // Two timers share a fire time: the cursor must tell them apart.
            let timer = TimerRecord {
                fire_at_ms: 100 + i / 2,
                execution_arn: arn,
                timer_id: 1,
            };
            let effects = Effects {
                timers_add: vec![timer.clone()],
                ..Effects::default()
            };
            store.create_execution(&record, &[], &effects).unwrap();
            timers.push(timer);
        }
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = store.running_executions_page(cursor.as_deref(), 2).unwrap();
            assert!(page.items.len() <= 2);
            seen.extend(page.items);
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, store.running_executions().unwrap());
        assert_eq!(seen.len(), 5);
        let mut due = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = store.due_timers_page(1_000, cursor.as_deref(), 2).unwrap();
            assert!(page.items.len() <= 2);
            due.extend(page.items);
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(due, timers);
        assert!(store.due_timers_page(1_000, Some("nonsense"), 2).is_err());
    }
}
