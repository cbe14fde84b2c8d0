//! An in-process [`Store`](crate::Store): the reference adapter the suite is written against,
//! and the store of tests and of shells that need no durability.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use crate::{
    execution_cursor, parse_execution_cursor, ActivityRecord, ActivityStore, ActivityTaskRecord,
    ActivityTaskStore, Effects, Error, ExecutionQuery, ExecutionRecord, ExecutionStore,
    HistoryQuery, Page, Result, StateMachineRecord, StateMachineStore, StoredEvent,
    TaskTokenRecord, TaskTokenStore, TimerRecord, TimerStore, Transition, Version, UNSENT_STATUS,
};

#[derive(Default)]
struct Inner {
    /// name -> (record, version); names are unique per kind, so listing by name is a scan.
    machines: BTreeMap<String, (StateMachineRecord, Version)>,
    activities: BTreeMap<String, ActivityRecord>,
    executions: HashMap<String, (ExecutionRecord, Version)>,
    /// (state machine ARN, -start, ARN): newest-first listing order.
    execution_index: BTreeSet<(String, i64, String)>,
    history: HashMap<String, Vec<StoredEvent>>,
    timers: BTreeSet<TimerRecord>,
    /// activity ARN -> (created, token) -> task: FIFO per activity.
    activity_tasks: HashMap<String, BTreeMap<(i64, String), ActivityTaskRecord>>,
    /// token -> activity ARN, to find a queued task from its token.
    activity_task_tokens: HashMap<String, (String, i64)>,
    tokens: HashMap<String, TaskTokenRecord>,
    /// Definitions by key, kept once ([`ExecutionStore::put_definition`]).
    definitions: HashMap<String, String>,
}

/// Everything behind one mutex: writes are trivially atomic.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>> {
        self.inner
            .lock()
            .map_err(|_| Error::Backend("memory store poisoned by a panicking writer".into()))
    }
}

/// Whether a record still lists status changes not confirmed sent.
fn has_unsent(record: &ExecutionRecord) -> bool {
    record
        .summary
        .get(UNSENT_STATUS)
        .and_then(serde_json::Value::as_array)
        .is_some_and(|marks| !marks.is_empty())
}

fn name_of_arn(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

fn page_by_name<T: Clone>(
    map: &BTreeMap<String, T>,
    cursor: Option<&str>,
    limit: usize,
) -> Page<T> {
    let limit = limit.max(1);
    let mut iter: Box<dyn Iterator<Item = (&String, &T)>> = match cursor {
        Some(after) => Box::new(
            map.range::<str, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
        ),
        None => Box::new(map.iter()),
    };
    let mut items = Vec::new();
    let mut last = None;
    for (name, value) in iter.by_ref() {
        if items.len() == limit {
            break;
        }
        items.push(value.clone());
        last = Some(name.clone());
    }
    let more = match &last {
        Some(last) => map
            .range::<str, _>((
                std::ops::Bound::Excluded(last.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .next()
            .is_some(),
        None => false,
    };
    Page {
        items,
        next: if more { last } else { None },
    }
}

impl Inner {
    fn apply_effects(&mut self, effects: &Effects) -> Result<()> {
        // Check claims first so a failed claim leaves nothing half-written.
        for token in &effects.activity_tasks_claim {
            if !self.activity_task_tokens.contains_key(token) {
                return Err(Error::Conflict(format!(
                    "activity task {token} is no longer queued"
                )));
            }
        }
        for token in effects
            .activity_tasks_claim
            .iter()
            .chain(&effects.activity_tasks_remove)
        {
            if let Some((activity, created)) = self.activity_task_tokens.remove(token) {
                if let Some(queue) = self.activity_tasks.get_mut(&activity) {
                    queue.remove(&(created, token.clone()));
                }
            }
        }
        for gone in &effects.timers_remove {
            self.timers.retain(|t| {
                !(t.execution_arn == gone.execution_arn && t.timer_id == gone.timer_id)
            });
        }
        self.timers.extend(effects.timers_add.iter().cloned());
        for task in &effects.activity_tasks_add {
            self.activity_task_tokens.insert(
                task.task_token.clone(),
                (task.activity_arn.clone(), task.created_ms),
            );
            self.activity_tasks
                .entry(task.activity_arn.clone())
                .or_default()
                .insert((task.created_ms, task.task_token.clone()), task.clone());
        }
        for token in &effects.tokens_remove {
            self.tokens.remove(token);
        }
        for token in &effects.tokens_add {
            self.tokens.insert(token.token.clone(), token.clone());
        }
        Ok(())
    }
}

impl StateMachineStore for MemoryStore {
    fn create_state_machine(&self, record: &StateMachineRecord) -> Result<()> {
        let mut inner = self.lock()?;
        if inner.machines.contains_key(&record.name) {
            return Err(Error::AlreadyExists(record.arn.clone()));
        }
        inner
            .machines
            .insert(record.name.clone(), (record.clone(), 1));
        Ok(())
    }

    fn get_state_machine(&self, arn: &str) -> Result<Option<(StateMachineRecord, Version)>> {
        let inner = self.lock()?;
        Ok(inner
            .machines
            .get(name_of_arn(arn))
            .filter(|(r, _)| r.arn == arn)
            .cloned())
    }

    fn update_state_machine(
        &self,
        record: &StateMachineRecord,
        expected: Version,
    ) -> Result<Version> {
        let mut inner = self.lock()?;
        match inner.machines.get_mut(&record.name) {
            Some((stored, version)) if stored.arn == record.arn => {
                if *version != expected {
                    return Err(Error::Conflict(record.arn.clone()));
                }
                *stored = record.clone();
                *version += 1;
                Ok(*version)
            }
            _ => Err(Error::NotFound(record.arn.clone())),
        }
    }

    fn delete_state_machine(&self, arn: &str) -> Result<bool> {
        let mut inner = self.lock()?;
        let name = name_of_arn(arn).to_string();
        if inner.machines.get(&name).is_some_and(|(r, _)| r.arn == arn) {
            inner.machines.remove(&name);
            return Ok(true);
        }
        Ok(false)
    }

    fn list_state_machines(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<StateMachineRecord>> {
        let inner = self.lock()?;
        let page = page_by_name(&inner.machines, cursor, limit);
        Ok(Page {
            items: page.items.into_iter().map(|(r, _)| r).collect(),
            next: page.next,
        })
    }
}

impl ActivityStore for MemoryStore {
    fn create_activity(&self, record: &ActivityRecord) -> Result<()> {
        let mut inner = self.lock()?;
        if inner.activities.contains_key(&record.name) {
            return Err(Error::AlreadyExists(record.arn.clone()));
        }
        inner.activities.insert(record.name.clone(), record.clone());
        Ok(())
    }

    fn get_activity(&self, arn: &str) -> Result<Option<ActivityRecord>> {
        let inner = self.lock()?;
        Ok(inner
            .activities
            .get(name_of_arn(arn))
            .filter(|r| r.arn == arn)
            .cloned())
    }

    fn delete_activity(&self, arn: &str) -> Result<bool> {
        let mut inner = self.lock()?;
        let name = name_of_arn(arn).to_string();
        if inner.activities.get(&name).is_some_and(|r| r.arn == arn) {
            inner.activities.remove(&name);
            return Ok(true);
        }
        Ok(false)
    }

    fn list_activities(&self, cursor: Option<&str>, limit: usize) -> Result<Page<ActivityRecord>> {
        let inner = self.lock()?;
        Ok(page_by_name(&inner.activities, cursor, limit))
    }
}

impl ExecutionStore for MemoryStore {
    fn put_definition(&self, key: &str, text: &str) -> Result<bool> {
        let mut inner = self.lock()?;
        if !inner.definitions.contains_key(key) {
            inner.definitions.insert(key.to_string(), text.to_string());
        }
        Ok(true)
    }

    fn get_definition(&self, key: &str) -> Result<Option<String>> {
        Ok(self.lock()?.definitions.get(key).cloned())
    }

    fn delete_closed_executions(&self, before_ms: i64, limit: usize) -> Result<usize> {
        let mut inner = self.lock()?;
        let doomed: Vec<String> = inner
            .executions
            .values()
            .filter(|(r, _)| r.status != "RUNNING" && r.stop_ms.is_some_and(|s| s < before_ms))
            .map(|(r, _)| r.arn.clone())
            .take(limit)
            .collect();
        for arn in &doomed {
            if let Some((record, _)) = inner.executions.remove(arn) {
                inner.execution_index.remove(&(
                    record.state_machine_arn,
                    -record.start_ms,
                    record.arn,
                ));
            }
            inner.history.remove(arn);
        }
        Ok(doomed.len())
    }

    fn create_execution(
        &self,
        record: &ExecutionRecord,
        history: &[StoredEvent],
        effects: &Effects,
    ) -> Result<Version> {
        let mut inner = self.lock()?;
        if inner.executions.contains_key(&record.arn) {
            return Err(Error::AlreadyExists(record.arn.clone()));
        }
        inner.apply_effects(effects)?;
        inner.execution_index.insert((
            record.state_machine_arn.clone(),
            -record.start_ms,
            record.arn.clone(),
        ));
        inner
            .executions
            .insert(record.arn.clone(), (record.clone(), 1));
        inner.history.insert(record.arn.clone(), history.to_vec());
        Ok(1)
    }

    fn get_execution(&self, arn: &str) -> Result<Option<(ExecutionRecord, Version)>> {
        Ok(self.lock()?.executions.get(arn).cloned())
    }

    fn commit(&self, transition: &Transition) -> Result<Version> {
        let mut inner = self.lock()?;
        let arn = &transition.record.arn;
        let version = match inner.executions.get(arn) {
            None => return Err(Error::NotFound(arn.clone())),
            Some((_, v)) if *v != transition.expected_version => {
                return Err(Error::Conflict(format!(
                    "{arn} is at version {v}, not {}",
                    transition.expected_version
                )))
            }
            Some((_, v)) => *v + 1,
        };
        inner.apply_effects(&transition.effects)?;
        inner
            .executions
            .insert(arn.clone(), (transition.record.clone(), version));
        inner
            .history
            .entry(arn.clone())
            .or_default()
            .extend(transition.history.iter().cloned());
        Ok(version)
    }

    fn unsent_status_page(&self, cursor: Option<&str>, limit: usize) -> Result<Page<String>> {
        let inner = self.lock()?;
        let mut marked: Vec<&String> = inner
            .executions
            .values()
            .filter(|(r, _)| r.status != "RUNNING" && has_unsent(r))
            .map(|(r, _)| &r.arn)
            .collect();
        marked.sort();
        let start = cursor.map_or(0, |after| {
            marked.partition_point(|arn| arn.as_str() <= after)
        });
        let rest = marked.get(start..).unwrap_or_default();
        let items: Vec<String> = rest
            .iter()
            .take(limit.max(1))
            .map(|a| (*a).clone())
            .collect();
        let next = match items.last() {
            Some(last) if rest.len() > items.len() => Some(last.clone()),
            _ => None,
        };
        Ok(Page { items, next })
    }

    /// As DynamoDB's one conditional update does it: the mark goes, the version stays (the
    /// next write, which read the record, decides its own mark).
    fn confirm_status_sent(&self, record: &ExecutionRecord, version: Version) -> Result<bool> {
        let mut inner = self.lock()?;
        match inner.executions.get_mut(&record.arn) {
            Some((stored, at)) if *at == version => {
                if let Some(summary) = stored.summary.as_object_mut() {
                    summary.remove(UNSENT_STATUS);
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn list_executions(&self, query: &ExecutionQuery) -> Result<Page<ExecutionRecord>> {
        let inner = self.lock()?;
        let start = match &query.cursor {
            Some(cursor) => {
                let (start_ms, arn) = parse_execution_cursor(cursor)?;
                std::ops::Bound::Excluded((query.state_machine_arn.clone(), -start_ms, arn))
            }
            None => std::ops::Bound::Included((
                query.state_machine_arn.clone(),
                i64::MIN,
                String::new(),
            )),
        };
        let limit = query.limit.max(1);
        let mut items = Vec::new();
        let mut more = false;
        for (machine, _, arn) in inner
            .execution_index
            .range((start, std::ops::Bound::Unbounded))
        {
            if machine != &query.state_machine_arn {
                break;
            }
            let Some((record, _)) = inner.executions.get(arn) else {
                continue;
            };
            if query.status.as_deref().is_some_and(|s| s != record.status) {
                continue;
            }
            if items.len() == limit {
                more = true;
                break;
            }
            items.push(record.clone());
        }
        let next = match items.last() {
            Some(last) if more => Some(execution_cursor(last.start_ms, &last.arn)),
            _ => None,
        };
        Ok(Page { items, next })
    }

    fn running_executions(&self) -> Result<Vec<String>> {
        let inner = self.lock()?;
        let mut arns: Vec<String> = inner
            .executions
            .values()
            .filter(|(r, _)| r.status == "RUNNING")
            .map(|(r, _)| r.arn.clone())
            .collect();
        arns.sort();
        Ok(arns)
    }

    fn read_history(&self, execution_arn: &str, query: &HistoryQuery) -> Result<Vec<StoredEvent>> {
        let inner = self.lock()?;
        let Some(events) = inner.history.get(execution_arn) else {
            return Ok(Vec::new());
        };
        let limit = query.limit.max(1);
        let selected: Vec<StoredEvent> = if query.reverse {
            events
                .iter()
                .rev()
                .filter(|e| !matches!(query.after_id, Some(after) if e.id >= after))
                .take(limit)
                .cloned()
                .collect()
        } else {
            events
                .iter()
                .filter(|e| !matches!(query.after_id, Some(after) if e.id <= after))
                .take(limit)
                .cloned()
                .collect()
        };
        Ok(selected)
    }
}

impl TimerStore for MemoryStore {
    fn due_timers(&self, now_ms: i64, limit: usize) -> Result<Vec<TimerRecord>> {
        let inner = self.lock()?;
        Ok(inner
            .timers
            .iter()
            .take_while(|t| t.fire_at_ms <= now_ms)
            .take(limit)
            .cloned()
            .collect())
    }

    fn next_timer(&self) -> Result<Option<TimerRecord>> {
        Ok(self.lock()?.timers.iter().next().cloned())
    }
}

impl ActivityTaskStore for MemoryStore {
    fn peek_activity_tasks(
        &self,
        activity_arn: &str,
        limit: usize,
    ) -> Result<Vec<ActivityTaskRecord>> {
        let inner = self.lock()?;
        Ok(inner
            .activity_tasks
            .get(activity_arn)
            .map(|queue| queue.values().take(limit).cloned().collect())
            .unwrap_or_default())
    }
}

impl TaskTokenStore for MemoryStore {
    fn get_task_token(&self, token: &str) -> Result<Option<TaskTokenRecord>> {
        Ok(self.lock()?.tokens.get(token).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(status: &str, marks: &[&str]) -> ExecutionRecord {
        ExecutionRecord {
            arn: "arn:aws:states:us-east-1:123456789012:execution:m:e".into(),
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
            name: "e".into(),
            status: status.into(),
            start_ms: 1,
            stop_ms: None,
            summary: json!({"input": "{}", UNSENT_STATUS: marks}),
            state: Vec::new(),
        }
    }

    #[test]
    fn a_confirmation_clears_the_mark_of_its_version_only_and_keeps_the_version() {
        let store = MemoryStore::new();
        let running = record("RUNNING", &["RUNNING"]);
        let v1 = store
            .create_execution(&running, &[], &Effects::default())
            .unwrap();
        // Running executions are the running index's, not the unsent page's.
        assert!(store.unsent_status_page(None, 10).unwrap().items.is_empty());
        let ended = record("SUCCEEDED", &["RUNNING", "SUCCEEDED"]);
        let v2 = store
            .commit(&Transition {
                expected_version: v1,
                record: ended.clone(),
                history: Vec::new(),
                effects: Effects::default(),
            })
            .unwrap();
        assert_eq!(
            store.unsent_status_page(None, 10).unwrap().items,
            std::slice::from_ref(&ended.arn)
        );
        // A late confirmation of the older version changes nothing.
        assert!(!store.confirm_status_sent(&running, v1).unwrap());
        assert_eq!(
            crate::unsent_marks(&store.get_execution(&ended.arn).unwrap().unwrap().0),
            ["RUNNING", "SUCCEEDED"]
        );
        assert!(store.confirm_status_sent(&ended, v2).unwrap());
        let (stored, version) = store.get_execution(&ended.arn).unwrap().unwrap();
        assert!(crate::unsent_marks(&stored).is_empty());
        assert_eq!(version, v2, "a confirmation writes no new version");
        assert!(store.unsent_status_page(None, 10).unwrap().items.is_empty());
    }
}
