//! The invariants. Every run: each started execution ended; its history is numbered
//! 1..N with each event following an earlier one; no history id was written twice; nothing
//! is left open once it ended (timers, tasks, tokens, queued activity tasks, in the
//! execution state and in the store's tables). Each faulty run against the fault-free run
//! of the same seed and shell: the same status, output, error and cause; the same number
//! of writes that appended history (no transition applied twice, none lost; sequential
//! executions only, see [`compare`]); and the same history.
//!
//! "The same history": event types, `previousEventId`s and details are identical, task
//! tokens aside for concurrent executions (a token derives from the history's length when
//! it is minted, which concurrency may change). When an execution runs branches or
//! iterations at once, the order in which their events arrive is the world's, not Cairn's,
//! so only the multiset of (type, details) must be equal. Timestamps are never compared
//! across runs: every fault class moves time (delays, retries, sweeps, restarts, jumps).
//! Within a run, a Wait state never exits before its entry plus its Seconds.

use std::collections::BTreeMap;

use cairn_api::persisted::Persisted;
use cairn_interpreter::HistoryEvent;
use cairn_store::{
    ActivityTaskStore, ExecutionRecord, ExecutionStore, HistoryQuery, TaskTokenStore, TimerStore,
};
use serde_json::Value;

use crate::sim::{RunOutput, ShellKind};
use crate::workload::{activity_arn, Workload};

/// What one execution came to in one run.
#[derive(Debug, Clone)]
pub struct ExecOutcome {
    pub name: String,
    pub status: String,
    pub output: Option<Value>,
    pub error: Option<Value>,
    pub cause: Option<Value>,
    pub history: Vec<HistoryEvent>,
    pub history_writes: usize,
    /// The history ids each of those writes appended.
    pub write_spans: Vec<(u64, u64)>,
    pub open: Vec<String>,
    pub tokens: Vec<String>,
}

pub fn collect(workload: &Workload, run: &RunOutput) -> Vec<ExecOutcome> {
    let store = &run.store;
    let ledger = store.ledger();
    workload
        .executions
        .iter()
        .map(|spec| {
            let arn = spec.arn();
            let mut outcome = ExecOutcome {
                name: spec.name.clone(),
                status: "NOT STARTED".into(),
                output: None,
                error: None,
                cause: None,
                history: Vec::new(),
                history_writes: ledger.history_writes.get(&arn).copied().unwrap_or(0),
                write_spans: ledger.write_spans.get(&arn).cloned().unwrap_or_default(),
                open: Vec::new(),
                tokens: ledger.tokens.get(&arn).cloned().unwrap_or_default(),
            };
            let Ok(Some((record, _))) = store.get_execution(&arn) else {
                return outcome;
            };
            outcome.status = record.status.clone();
            outcome.output = record
                .summary
                .get("output")
                .and_then(Value::as_str)
                .map(|text| serde_json::from_str(text).unwrap_or(Value::String(text.into())));
            outcome.error = record.summary.get("error").cloned();
            outcome.cause = record.summary.get("cause").cloned();
            let query = HistoryQuery {
                after_id: None,
                limit: 1_000_000,
                reverse: false,
            };
            for stored in store.read_history(&arn, &query).unwrap_or_default() {
                match serde_json::from_str::<HistoryEvent>(&stored.body) {
                    Ok(event) => outcome.history.push(event),
                    Err(error) => outcome
                        .open
                        .push(format!("history event {} unreadable: {error}", stored.id)),
                }
            }
            match Persisted::decode(&record) {
                Ok(persisted) => {
                    for task_id in persisted.tasks.keys() {
                        outcome
                            .open
                            .push(format!("task {task_id} open in the execution state"));
                    }
                    for timer_id in persisted.timers.keys() {
                        outcome
                            .open
                            .push(format!("timer {timer_id} open in the execution state"));
                    }
                }
                Err(error) => outcome.open.push(format!("state unreadable: {error}")),
            }
            for timer in store.due_timers(i64::MAX, usize::MAX).unwrap_or_default() {
                if timer.execution_arn == arn {
                    outcome
                        .open
                        .push(format!("timer {} left in the timers table", timer.timer_id));
                }
            }
            for token in &outcome.tokens {
                if let Ok(Some(_)) = store.get_task_token(token) {
                    outcome.open.push(format!(
                        "task token {}… still valid",
                        &token[..token.len().min(12)]
                    ));
                }
            }
            for task in store
                .peek_activity_tasks(&activity_arn(), 10_000)
                .unwrap_or_default()
            {
                if task.execution_arn == arn {
                    outcome
                        .open
                        .push(format!("activity task {} still queued", task.task_id));
                }
            }
            outcome
        })
        .collect()
}

/// What every run must satisfy on its own.
pub fn check_run(workload: &Workload, run: &RunOutput, outcomes: &[ExecOutcome]) -> Vec<String> {
    let mut problems: Vec<String> = run
        .anomalies
        .iter()
        .map(|a| format!("harness: {a}"))
        .collect();
    for (arn, id) in run.store.ledger().duplicate_ids {
        problems.push(format!("{arn}: history event {id} written twice"));
    }
    for ((spec, outcome), started) in workload.executions.iter().zip(outcomes).zip(&run.started) {
        let who = &outcome.name;
        if !started {
            problems.push(format!("{who}: never started (the client gave up?)"));
            continue;
        }
        if outcome.status == "RUNNING" || outcome.status == "NOT STARTED" {
            problems.push(format!(
                "{who}: still {} at the end of the run",
                outcome.status
            ));
            continue;
        }
        for open in &outcome.open {
            problems.push(format!(
                "{who}: {open} after the execution ended ({})",
                outcome.status
            ));
        }
        for (index, event) in outcome.history.iter().enumerate() {
            let expected = index as u64 + 1;
            if event.id != expected {
                problems.push(format!(
                    "{who}: history event #{expected} has id {}",
                    event.id
                ));
                break;
            }
            if event.previous_event_id >= event.id {
                problems.push(format!(
                    "{who}: event {} ({}) follows a later event {}",
                    event.id, event.event_type, event.previous_event_id
                ));
            }
        }
        if !spec.concurrent {
            problems.extend(early_waits(who, &spec.waits, &outcome.history));
        }
        if run.shell == ShellKind::Serverless {
            let record = run.store.peek_execution(&spec.arn());
            problems.extend(status_events(who, &spec.arn(), record.as_ref(), run));
        }
    }
    problems
}

/// Serverless status-change events (the durable outbox): each status change of an ended
/// execution went out at least once (exactly once without faults), its RUNNING before its
/// end, showing what DescribeExecution shows, and nothing is left marked unsent.
fn status_events(
    who: &str,
    arn: &str,
    record: Option<&ExecutionRecord>,
    run: &RunOutput,
) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(record) = record else {
        return problems;
    };
    let marks = cairn_store::unsent_marks(record);
    if !marks.is_empty() {
        problems.push(format!(
            "{who}: status changes {marks:?} still marked unsent at the end of the run"
        ));
    }
    let events: Vec<&Value> = run
        .status_events
        .iter()
        .filter(|detail| detail["executionArn"] == arn)
        .collect();
    let statuses: Vec<&str> = events
        .iter()
        .map(|detail| detail["status"].as_str().unwrap_or(""))
        .collect();
    let end = record.status.as_str();
    let count = |status: &str| statuses.iter().filter(|s| **s == status).count();
    let first = |status: &str| statuses.iter().position(|s| *s == status);
    let (running, ended) = (count("RUNNING"), count(end));
    if running == 0 || ended == 0 {
        problems.push(format!(
            "{who}: status events {statuses:?} lack RUNNING or {end}"
        ));
    } else if first("RUNNING") > first(end) {
        problems.push(format!(
            "{who}: status events {statuses:?}: {end} went out before RUNNING"
        ));
    }
    if let Some(other) = statuses.iter().find(|s| **s != "RUNNING" && **s != end) {
        problems.push(format!(
            "{who}: a {other} status event for an execution that ended {end}"
        ));
    }
    if run.plan.is_none() && (running != 1 || ended != 1) {
        problems.push(format!(
            "{who}: status events {statuses:?} without faults (each once expected)"
        ));
    }
    for detail in events {
        let shown = detail["status"].as_str().unwrap_or("");
        let field = |name: &str| record.summary.get(name).cloned().unwrap_or(Value::Null);
        let want = if shown == "RUNNING" {
            (Value::Null, Value::Null, Value::Null, Value::Null)
        } else {
            (
                field("output"),
                field("error"),
                field("cause"),
                record.stop_ms.map_or(Value::Null, Value::from),
            )
        };
        let got = (
            detail["output"].clone(),
            detail["error"].clone(),
            detail["cause"].clone(),
            detail["stopDate"].clone(),
        );
        if got != want || detail["input"] != field("input") {
            problems.push(format!(
                "{who}: the {shown} status event shows {got:?} instead of {want:?}"
            ));
            break;
        }
    }
    problems
}

/// A Wait never ends before its time (the shell's clock: a backward jump included).
fn early_waits(who: &str, waits: &[(String, i64)], history: &[HistoryEvent]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut entered: BTreeMap<String, i64> = BTreeMap::new();
    let name = |event: &HistoryEvent| {
        event
            .details
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    for event in history {
        match event.event_type.as_ref() {
            "WaitStateEntered" => {
                entered.insert(name(event), event.timestamp_ms);
            }
            "WaitStateExited" => {
                let state = name(event);
                let seconds = waits.iter().find(|(n, _)| *n == state).map(|(_, s)| *s);
                if let (Some(seconds), Some(at)) = (seconds, entered.get(&state)) {
                    let due = at + seconds * 1000;
                    if event.timestamp_ms < due {
                        problems.push(format!(
                            "{who}: Wait {state} exited {} ms early (event {})",
                            due - event.timestamp_ms,
                            event.id
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    problems
}

/// Task tokens in details replaced by a marker.
fn normalise(value: &Value, tokens: &[String]) -> Value {
    match value {
        Value::String(text) if tokens.iter().any(|t| t == text) => Value::String("<token>".into()),
        Value::Array(items) => Value::Array(items.iter().map(|v| normalise(v, tokens)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), normalise(v, tokens)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn brief(event: &HistoryEvent) -> String {
    let details = event.details.to_string();
    let cut: String = details.chars().take(160).collect();
    format!(
        "{} {} (after {}) {cut}",
        event.id, event.event_type, event.previous_event_id
    )
}

/// A faulty run against the fault-free run of the same seed and shell.
pub fn compare(
    workload: &Workload,
    reference: &[ExecOutcome],
    faulty: &[ExecOutcome],
) -> Vec<String> {
    let mut problems = Vec::new();
    for ((spec, want), got) in workload.executions.iter().zip(reference).zip(faulty) {
        let who = &want.name;
        if want.status != got.status {
            problems.push(format!(
                "{who}: status {} instead of {}",
                got.status, want.status
            ));
        }
        if want.output != got.output {
            problems.push(format!(
                "{who}: output {:?} instead of {:?}",
                got.output, want.output
            ));
        }
        if want.error != got.error || want.cause != got.cause {
            problems.push(format!(
                "{who}: error/cause {:?}/{:?} instead of {:?}/{:?}",
                got.error, got.cause, want.error, want.cause
            ));
        }
        // In a concurrent execution a retry's jitter derives from the history's length when
        // the task fails, which the arrival order changes; a zero backoff retries inside the
        // same write. There the history's multiset carries the check.
        if !spec.concurrent && want.history_writes != got.history_writes {
            problems.push(format!(
                "{who}: {} writes appended history instead of {} (ids {:?} instead of {:?})",
                got.history_writes, want.history_writes, got.write_spans, want.write_spans
            ));
        }
        if spec.concurrent {
            let bag = |outcome: &ExecOutcome| {
                let mut bag: BTreeMap<String, i64> = BTreeMap::new();
                for event in &outcome.history {
                    let key = format!(
                        "{} {}",
                        event.event_type,
                        normalise(&event.details, &outcome.tokens)
                    );
                    *bag.entry(key).or_default() += 1;
                }
                bag
            };
            let (want_bag, got_bag) = (bag(want), bag(got));
            if want_bag != got_bag {
                let mut diff = Vec::new();
                for (key, count) in &want_bag {
                    let other = got_bag.get(key).copied().unwrap_or(0);
                    if other != *count {
                        diff.push(format!(
                            "{other}× instead of {count}×: {}",
                            key.chars().take(160).collect::<String>()
                        ));
                    }
                }
                for (key, count) in &got_bag {
                    if !want_bag.contains_key(key) {
                        diff.push(format!(
                            "{count}× instead of 0×: {}",
                            key.chars().take(160).collect::<String>()
                        ));
                    }
                }
                problems.push(format!("{who}: history differs: {}", diff.join("; ")));
            }
        } else {
            let n = want.history.len().max(got.history.len());
            for index in 0..n {
                let (a, b) = (want.history.get(index), got.history.get(index));
                let same = match (a, b) {
                    (Some(a), Some(b)) => {
                        a.event_type == b.event_type
                            && a.previous_event_id == b.previous_event_id
                            && a.details == b.details
                    }
                    _ => false,
                };
                if !same {
                    problems.push(format!(
                        "{who}: history differs at event {}: {} instead of {} ({} events instead of {})",
                        index + 1,
                        b.map_or("nothing".into(), brief),
                        a.map_or("nothing".into(), brief),
                        got.history.len(),
                        want.history.len()
                    ));
                    break;
                }
            }
        }
    }
    problems
}
