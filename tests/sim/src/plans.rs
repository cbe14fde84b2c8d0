//! How the simulated world answers a task call: the plan written in the call's input (see
//! the workload), picked by attempt. An attempt is a distinct call (task id or task token)
//! for the same `id`: a Retry makes a new one; a task re-run after a restart is the same
//! call and answers the same.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Ok(Value),
    Fail(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// `None`: the call never answers.
    pub answer: Option<Answer>,
    /// Milliseconds after the call.
    pub after: i64,
    /// Heartbeats sent before answering (callbacks and activities).
    pub beats: u64,
}

#[derive(Debug, Default)]
pub struct Plans {
    calls: BTreeMap<String, Vec<String>>,
}

impl Plans {
    /// The step for this call, or `None` when the input carries no plan (a bug in the
    /// workload: the simulation reports it).
    pub fn step(&mut self, input: &Value, call: &str) -> Option<Step> {
        let holder = if input.get("plan").is_some() {
            input
        } else {
            input.get("Payload")?
        };
        let id = holder.get("id")?.as_str()?.to_string();
        let plan = holder.get("plan")?.as_array()?;
        let calls = self.calls.entry(id).or_default();
        let attempt = match calls.iter().position(|c| c == call) {
            Some(at) => at,
            None => {
                calls.push(call.to_string());
                calls.len() - 1
            }
        };
        let entry = plan.get(attempt).or_else(|| plan.last())?;
        let after = entry.get("after").and_then(Value::as_i64).unwrap_or(0);
        let beats = entry.get("beats").and_then(Value::as_u64).unwrap_or(0);
        let answer = if entry.get("hang").is_some() {
            None
        } else if let Some(error) = entry.get("fail").and_then(Value::as_str) {
            Some(Answer::Fail(error.to_string()))
        } else {
            Some(Answer::Ok(entry.get("ok").cloned().unwrap_or(Value::Null)))
        };
        Some(Step {
            answer,
            after,
            beats,
        })
    }
}
