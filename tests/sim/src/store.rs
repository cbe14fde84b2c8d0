//! The in-memory store behind a fault injector: writes fail before or after they apply,
//! reads fail, and the process "dies" (a [`Crash`] panic the harness catches) just before or
//! just after a write. It also keeps the ledger the invariants need: how many writes with
//! history each execution took, and every task token ever issued.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use cairn_store::{
    ActivityRecord, ActivityStore, ActivityTaskRecord, ActivityTaskStore, Effects, Error,
    ExecutionQuery, ExecutionRecord, ExecutionStore, HistoryQuery, MemoryStore, Page, Result,
    StateMachineRecord, StateMachineStore, StoredEvent, TaskTokenRecord, TaskTokenStore,
    TimerRecord, TimerStore, Transition, Version,
};

use crate::faults::FaultPlan;
use crate::rng::Rng;

/// The panic payload of a simulated process death.
#[derive(Debug, Clone, Copy)]
pub struct Crash;

/// The fault dice, shared by the store and the harness (one stream, drawn in the single
/// thread's order, so a seed replays).
#[derive(Debug)]
pub struct Dice {
    pub rng: Rng,
    pub plan: FaultPlan,
    /// Off while the harness sets up and inspects.
    pub armed: bool,
    /// No process deaths now (see the serverless task answer).
    pub no_crash: bool,
    /// No process deaths after a write now (see the serverless task claim).
    pub no_crash_after: bool,
    /// No write that applies but reports a failure now (see the activity claim).
    pub no_ambiguous: bool,
}

impl Dice {
    pub fn roll(&mut self, per_mille: u32) -> bool {
        self.armed && self.rng.chance(per_mille)
    }
}

#[derive(Debug, Default, Clone)]
pub struct Ledger {
    /// Execution ARN -> committed writes that appended history.
    pub history_writes: BTreeMap<String, usize>,
    /// Execution ARN -> the first and last history id of each such write.
    pub write_spans: BTreeMap<String, Vec<(u64, u64)>>,
    /// Execution ARN -> every task token issued to it.
    pub tokens: BTreeMap<String, Vec<String>>,
    /// An activity task was queued since the harness last looked.
    pub activity_queued: bool,
    /// Faults injected, by class.
    pub injected: BTreeMap<&'static str, u64>,
    /// History event ids written twice for one execution.
    pub duplicate_ids: Vec<(String, u64)>,
}

pub struct FaultStore {
    inner: MemoryStore,
    pub dice: Arc<Mutex<Dice>>,
    ledger: Mutex<Ledger>,
    /// Execution ARN -> last history id written, to catch an id written twice.
    last_ids: Mutex<BTreeMap<String, u64>>,
    /// Status confirmations still on their way: each lands after the next write (of any
    /// execution), so it arrives after writes made later than it, still conditional on the
    /// version it names.
    late_confirms: Mutex<Vec<(ExecutionRecord, Version)>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A simulated crash may unwind through a holder; the data is still consistent.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum WriteFault {
    None,
    FailBefore,
    CrashBefore,
    Ambiguous,
    CrashAfter,
}

impl FaultStore {
    pub fn new(dice: Arc<Mutex<Dice>>) -> FaultStore {
        FaultStore {
            inner: MemoryStore::new(),
            dice,
            ledger: Mutex::new(Ledger::default()),
            last_ids: Mutex::new(BTreeMap::new()),
            late_confirms: Mutex::new(Vec::new()),
        }
    }

    /// Whether a closed execution still carries status changes not confirmed sent (read
    /// past the fault injector).
    pub fn unsent_left(&self) -> bool {
        self.inner
            .unsent_status_page(None, 1)
            .is_ok_and(|page| !page.items.is_empty())
    }

    /// An execution as stored, read past the fault injector (for the invariants).
    pub fn peek_execution(&self, arn: &str) -> Option<ExecutionRecord> {
        self.inner.get_execution(arn).ok().flatten().map(|(r, _)| r)
    }

    pub fn ledger(&self) -> Ledger {
        lock(&self.ledger).clone()
    }

    pub fn take_activity_queued(&self) -> bool {
        std::mem::take(&mut lock(&self.ledger).activity_queued)
    }

    pub fn count(&self, class: &'static str) {
        *lock(&self.ledger).injected.entry(class).or_default() += 1;
    }

    fn write_fault(&self) -> WriteFault {
        let mut dice = lock(&self.dice);
        let plan = dice.plan;
        let crash_ok = !dice.no_crash;
        if dice.roll(plan.write_fail) {
            return WriteFault::FailBefore;
        }
        if crash_ok && dice.roll(plan.crash_before_write) {
            return WriteFault::CrashBefore;
        }
        if !dice.no_ambiguous && dice.roll(plan.write_ambiguous) {
            return WriteFault::Ambiguous;
        }
        if crash_ok && !dice.no_crash_after && dice.roll(plan.crash_after_write) {
            return WriteFault::CrashAfter;
        }
        WriteFault::None
    }

    fn read_fault(&self) -> bool {
        let mut dice = lock(&self.dice);
        let rate = dice.plan.read_fail;
        dice.roll(rate)
    }

    /// Runs a write under the fault the dice pick, recording what it wrote.
    fn write<T>(
        &self,
        arn: &str,
        history: &[StoredEvent],
        effects: &Effects,
        apply: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let fault = self.write_fault();
        match fault {
            WriteFault::FailBefore => {
                self.count("write_fail");
                return Err(Error::Backend("simulated: write throttled".into()));
            }
            WriteFault::CrashBefore => {
                self.count("crash_before_write");
                std::panic::panic_any(Crash);
            }
            _ => {}
        }
        let written = apply();
        self.land_late_confirms();
        let written = written?;
        self.record(arn, history, effects);
        match fault {
            WriteFault::Ambiguous => {
                self.count("write_ambiguous");
                Err(Error::Backend(
                    "simulated: the write timed out (it did apply)".into(),
                ))
            }
            WriteFault::CrashAfter => {
                self.count("crash_after_write");
                std::panic::panic_any(Crash)
            }
            _ => Ok(written),
        }
    }

    /// The confirmations held back by `confirm_late` arrive now (after a later write).
    fn land_late_confirms(&self) {
        let late = std::mem::take(&mut *lock(&self.late_confirms));
        for (record, version) in late {
            let _ = self.inner.confirm_status_sent(&record, version);
        }
    }

    fn record(&self, arn: &str, history: &[StoredEvent], effects: &Effects) {
        let mut ledger = lock(&self.ledger);
        if !history.is_empty() {
            *ledger.history_writes.entry(arn.to_string()).or_default() += 1;
            let first = history.first().map_or(0, |e| e.id);
            let last = history.last().map_or(0, |e| e.id);
            ledger
                .write_spans
                .entry(arn.to_string())
                .or_default()
                .push((first, last));
            let mut last_ids = lock(&self.last_ids);
            let last = last_ids.entry(arn.to_string()).or_default();
            for event in history {
                if event.id <= *last {
                    ledger.duplicate_ids.push((arn.to_string(), event.id));
                }
                *last = (*last).max(event.id);
            }
        }
        for token in &effects.tokens_add {
            ledger
                .tokens
                .entry(token.execution_arn.clone())
                .or_default()
                .push(token.token.clone());
        }
        if !effects.activity_tasks_add.is_empty() {
            ledger.activity_queued = true;
        }
    }
}

impl StateMachineStore for FaultStore {
    fn create_state_machine(&self, record: &StateMachineRecord) -> Result<()> {
        self.inner.create_state_machine(record)
    }
    fn get_state_machine(&self, arn: &str) -> Result<Option<(StateMachineRecord, Version)>> {
        self.inner.get_state_machine(arn)
    }
    fn update_state_machine(
        &self,
        record: &StateMachineRecord,
        expected: Version,
    ) -> Result<Version> {
        self.inner.update_state_machine(record, expected)
    }
    fn delete_state_machine(&self, arn: &str) -> Result<bool> {
        self.inner.delete_state_machine(arn)
    }
    fn list_state_machines(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<StateMachineRecord>> {
        self.inner.list_state_machines(cursor, limit)
    }
}

impl ActivityStore for FaultStore {
    fn create_activity(&self, record: &ActivityRecord) -> Result<()> {
        self.inner.create_activity(record)
    }
    fn get_activity(&self, arn: &str) -> Result<Option<ActivityRecord>> {
        self.inner.get_activity(arn)
    }
    fn delete_activity(&self, arn: &str) -> Result<bool> {
        self.inner.delete_activity(arn)
    }
    fn list_activities(&self, cursor: Option<&str>, limit: usize) -> Result<Page<ActivityRecord>> {
        self.inner.list_activities(cursor, limit)
    }
}

impl ExecutionStore for FaultStore {
    fn create_execution(
        &self,
        record: &ExecutionRecord,
        history: &[StoredEvent],
        effects: &Effects,
    ) -> Result<Version> {
        self.write(&record.arn, history, effects, || {
            self.inner.create_execution(record, history, effects)
        })
    }
    fn get_execution(&self, arn: &str) -> Result<Option<(ExecutionRecord, Version)>> {
        if self.read_fault() {
            self.count("read_fail");
            return Err(Error::Backend("simulated: read failed".into()));
        }
        self.inner.get_execution(arn)
    }
    fn commit(&self, transition: &Transition) -> Result<Version> {
        self.write(
            &transition.record.arn,
            &transition.history,
            &transition.effects,
            || self.inner.commit(transition),
        )
    }
    fn list_executions(&self, query: &ExecutionQuery) -> Result<Page<ExecutionRecord>> {
        self.inner.list_executions(query)
    }
    fn running_executions(&self) -> Result<Vec<String>> {
        self.inner.running_executions()
    }
    fn read_history(&self, execution_arn: &str, query: &HistoryQuery) -> Result<Vec<StoredEvent>> {
        self.inner.read_history(execution_arn, query)
    }
    /// A definition's put is a write like an execution's (lost, applied but reported failed,
    /// the process dying around it), so the keyed form is exercised under the same faults.
    fn put_definition(&self, key: &str, text: &str) -> Result<bool> {
        self.write("", &[], &Effects::default(), || {
            self.inner.put_definition(key, text)
        })
    }
    fn get_definition(&self, key: &str) -> Result<Option<String>> {
        if self.read_fault() {
            self.count("read_fail");
            return Err(Error::Backend("simulated: read failed".into()));
        }
        self.inner.get_definition(key)
    }
    fn unsent_status_page(&self, cursor: Option<&str>, limit: usize) -> Result<Page<String>> {
        if self.read_fault() {
            self.count("read_fail");
            return Err(Error::Backend("simulated: read failed".into()));
        }
        self.inner.unsent_status_page(cursor, limit)
    }
    /// A confirmation is a store write like any other (lost, applied but reported failed,
    /// the process dying around it), and may also arrive late: after later writes.
    fn confirm_status_sent(&self, record: &ExecutionRecord, version: Version) -> Result<bool> {
        let late = {
            let mut dice = lock(&self.dice);
            let rate = dice.plan.confirm_late;
            dice.roll(rate)
        };
        if late {
            self.count("confirm_late");
            lock(&self.late_confirms).push((record.clone(), version));
            return Err(Error::Backend(
                "simulated: the confirmation timed out (it is still on its way)".into(),
            ));
        }
        self.write(&record.arn, &[], &Effects::default(), || {
            self.inner.confirm_status_sent(record, version)
        })
    }
}

impl TimerStore for FaultStore {
    fn due_timers(&self, now_ms: i64, limit: usize) -> Result<Vec<TimerRecord>> {
        self.inner.due_timers(now_ms, limit)
    }
    fn next_timer(&self) -> Result<Option<TimerRecord>> {
        self.inner.next_timer()
    }
}

impl ActivityTaskStore for FaultStore {
    fn peek_activity_tasks(
        &self,
        activity_arn: &str,
        limit: usize,
    ) -> Result<Vec<ActivityTaskRecord>> {
        self.inner.peek_activity_tasks(activity_arn, limit)
    }
}

impl TaskTokenStore for FaultStore {
    fn get_task_token(&self, token: &str) -> Result<Option<TaskTokenRecord>> {
        self.inner.get_task_token(token)
    }
}
