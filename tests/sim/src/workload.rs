//! What a seed runs: a few small Standard state machines (tasks with Retry/Catch and
//! timeouts, Wait and Choice loops, Parallel, Map (inline or Distributed), callbacks,
//! activities, stop requests, execution timeouts), and how each task call answers.
//!
//! How a task answers is written in its input (`id` and a `plan`, one entry per attempt),
//! so the answer depends on what the call is, never on when or how often it arrives: the
//! fault-free run and every faulty run of a seed meet the same world.
//!
//! Timing margins keep the outcome independent of the faults: every race the workload
//! sets up (a task's answer against its TimeoutSeconds, a stop request against the end,
//! an execution timeout against a Wait) is decided by minutes or hours, while the faults
//! move events by seconds (and a lost message by one sweep period). Failures inside
//! Parallel branches and Map iterations are caught in the branch, so a failing branch
//! never races its siblings.

use serde_json::{json, Value};

use crate::rng::Rng;

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";
pub const ROLE: &str = "arn:aws:iam::123456789012:role/sim";
pub const ACTIVITY: &str = "worker";
/// How long an answering task may take at most before its timeout fires: far beyond what
/// the faults can delay it (a lost task run waits for the sweep: 5 minutes plus grace, and
/// a message is lost at most twice in a row).
const LONG_TIMEOUT: i64 = 7200;
/// Timeouts meant to fire (a call that never answers) still leave the task time to start:
/// decider timers count from the schedule, and a lost start waits for the sweep.
const HANG_TIMEOUT: (i64, i64) = (1800, 2400);
/// HeartbeatSeconds of a worker that does answer (and heartbeat).
const LONG_HEARTBEAT: i64 = 3600;
/// When a parked execution is stopped, and how long it would stay parked otherwise.
pub const STOP_AFTER_MS: i64 = 4 * 3600 * 1000;
const PARK_SECONDS: i64 = 86_400;

pub fn activity_arn() -> String {
    format!("arn:aws:states:{REGION}:{ACCOUNT}:activity:{ACTIVITY}")
}

/// One execution the client starts.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    pub machine: String,
    pub name: String,
    pub definition: Value,
    pub input: Value,
    /// Milliseconds after the run begins.
    pub start_at_ms: i64,
    /// A StopExecution this long after the start.
    pub stop_after_ms: Option<i64>,
    /// Runs branches or iterations at once: the history's order may legitimately differ
    /// between runs, so only its content is compared.
    pub concurrent: bool,
    /// Wait states and their Seconds: an exit is never earlier than entry + Seconds.
    pub waits: Vec<(String, i64)>,
    pub template: &'static str,
}

impl ExecSpec {
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:states:{REGION}:{ACCOUNT}:execution:{}:{}",
            self.machine, self.name
        )
    }

    pub fn machine_arn(&self) -> String {
        format!(
            "arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{}",
            self.machine
        )
    }
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub executions: Vec<ExecSpec>,
}

/// One attempt of a task: succeed or fail after `after` ms, or never answer.
fn attempt_ok(rng: &mut Rng, tag: &str) -> Value {
    json!({"ok": {"tag": tag, "v": rng.below(100)}, "after": rng.range(0, 3000)})
}

fn attempt_fail(rng: &mut Rng, error: &str) -> Value {
    json!({"fail": error, "after": rng.range(0, 2000)})
}

/// A plan for a task with `Retry` on `Busy` (3 attempts) and a `Catch` of everything.
fn answering_plan(rng: &mut Rng, tag: &str) -> Value {
    let mut plan = Vec::new();
    for _ in 0..rng.below(3) {
        plan.push(attempt_fail(rng, "Busy"));
    }
    match rng.below(6) {
        0 => plan.push(attempt_fail(rng, "Fatal")),
        1 => {
            for _ in 0..3 {
                plan.push(attempt_fail(rng, "Busy"));
            }
        }
        _ => plan.push(attempt_ok(rng, tag)),
    }
    Value::Array(plan)
}

fn retry(rng: &mut Rng, errors: &[&str]) -> Value {
    let mut rule = json!({
        "ErrorEquals": errors,
        "IntervalSeconds": rng.range(1, 4),
        "MaxAttempts": 3,
        "BackoffRate": 2.0,
    });
    if rng.chance(300) {
        rule["JitterStrategy"] = json!("FULL");
    }
    if rng.chance(300) {
        rule["MaxDelaySeconds"] = json!(5);
    }
    json!([rule])
}

const LAMBDA: &str = "arn:aws:states:::lambda:invoke";
const CALLBACK: &str = "arn:aws:states:::lambda:invoke.waitForTaskToken";

fn legacy_lambda() -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:legacy")
}

/// Task with Retry/Catch, then a legacy Lambda task; sometimes a task that never answers
/// and times out (retried once on States.Timeout, then caught).
fn retry_chain(rng: &mut Rng, p: &str) -> (Value, Value, bool, Vec<(String, i64)>) {
    let hangs = rng.chance(250);
    let (plan, timeout) = if hangs {
        (
            json!([{"hang": true}, {"hang": true}]),
            rng.range(HANG_TIMEOUT.0, HANG_TIMEOUT.1),
        )
    } else {
        (answering_plan(rng, "work"), LONG_TIMEOUT)
    };
    let definition = json!({
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task", "Resource": LAMBDA, "TimeoutSeconds": timeout,
                "Retry": retry(rng, &["Busy", "States.Timeout"]),
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recover"}],
                "ResultPath": "$.work", "Next": "Legacy"
            },
            "Recover": {"Type": "Pass", "Result": "recovered", "ResultPath": "$.recovered", "Next": "Legacy"},
            "Legacy": {
                "Type": "Task", "Resource": legacy_lambda(), "InputPath": "$.legacy",
                "TimeoutSeconds": LONG_TIMEOUT, "ResultPath": "$.legacyResult", "End": true
            }
        }
    });
    let input = json!({
        "id": format!("{p}-work"), "plan": plan,
        "legacy": {"id": format!("{p}-legacy"), "plan": [attempt_ok(rng, "legacy")]}
    });
    (definition, input, false, Vec::new())
}

/// A Choice loop: Wait, a task, a counter; n rounds.
fn wait_loop(rng: &mut Rng, p: &str) -> (Value, Value, bool, Vec<(String, i64)>) {
    let seconds = *rng.pick(&[0, 1, 5, 30, 600]);
    let definition = json!({
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Parameters": {"i": 0, "n.$": "$.rounds"}, "ResultPath": "$.loop", "Next": "Check"},
            "Check": {"Type": "Choice", "Choices": [
                {"Variable": "$.loop.i", "NumericLessThanPath": "$.loop.n", "Next": "Nap"}
            ], "Default": "Done"},
            "Nap": {"Type": "Wait", "Seconds": seconds, "Next": "Step"},
            "Step": {
                "Type": "Task", "Resource": LAMBDA, "TimeoutSeconds": LONG_TIMEOUT,
                "Parameters": {"id.$": format!("States.Format('{p}-step-{{}}', $.loop.i)"), "plan": [{"ok": {"step": true}, "after": 200}]},
                "Retry": retry(rng, &["Busy"]),
                "ResultPath": "$.last", "Next": "Inc"
            },
            "Inc": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.loop.i, 1)", "n.$": "$.loop.n"}, "ResultPath": "$.loop", "Next": "Check"},
            "Done": {"Type": "Succeed", "OutputPath": "$.loop"}
        }
    });
    let input = json!({"rounds": rng.range(1, 4)});
    (definition, input, false, vec![("Nap".into(), seconds)])
}

/// Parallel branches: tasks with Retry/Catch, a Wait, a callback.
fn parallel(rng: &mut Rng, p: &str) -> (Value, Value, bool, Vec<(String, i64)>) {
    let count = rng.range(2, 3);
    let mut branches = Vec::new();
    let mut input = serde_json::Map::new();
    for b in 0..count {
        let task = format!("B{b}Task");
        let caught = format!("B{b}Caught");
        let key = format!("b{b}");
        let branch = if rng.chance(300) {
            let wait = format!("B{b}Wait");
            json!({"StartAt": wait, "States": {
                wait.clone(): {"Type": "Wait", "Seconds": rng.range(1, 20), "Next": task},
                task.clone(): {"Type": "Task", "Resource": LAMBDA, "TimeoutSeconds": LONG_TIMEOUT,
                    "InputPath": format!("$.{key}"), "End": true}
            }})
        } else {
            json!({"StartAt": task, "States": {
                task.clone(): {"Type": "Task", "Resource": LAMBDA, "TimeoutSeconds": LONG_TIMEOUT,
                    "InputPath": format!("$.{key}"),
                    "Retry": retry(rng, &["Busy"]),
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": caught}],
                    "End": true},
                caught.clone(): {"Type": "Pass", "Result": {"caught": b}, "End": true}
            }})
        };
        let plan = if branch["States"]
            .as_object()
            .is_some_and(|s| s.len() == 2 && s.contains_key(&caught))
        {
            answering_plan(rng, &key)
        } else {
            json!([attempt_ok(rng, &key)])
        };
        input.insert(
            key.clone(),
            json!({"id": format!("{p}-{key}"), "plan": plan}),
        );
        branches.push(branch);
    }
    let definition = json!({
        "StartAt": "Fan",
        "States": {
            "Fan": {"Type": "Parallel", "Branches": branches, "ResultPath": "$.fan", "Next": "Done"},
            "Done": {"Type": "Pass", "OutputPath": "$.fan", "End": true}
        }
    });
    (definition, Value::Object(input), true, Vec::new())
}

/// A Map over items, each a task with Retry and a Catch inside the iteration.
fn map(rng: &mut Rng, p: &str) -> (Value, Value, bool, Vec<(String, i64)>) {
    let items: Vec<Value> = (0..rng.range(2, 5))
        .map(|i| json!({"id": format!("{p}-item-{i}"), "plan": answering_plan(rng, &format!("item{i}"))}))
        .collect();
    let mut definition = json!({
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": *rng.pick(&[0, 1, 2]),
                "ItemProcessor": {"StartAt": "Item", "States": {
                    "Item": {"Type": "Task", "Resource": LAMBDA, "TimeoutSeconds": LONG_TIMEOUT,
                        "Retry": retry(rng, &["Busy"]),
                        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "ItemCaught"}],
                        "End": true},
                    "ItemCaught": {"Type": "Pass", "Result": "caught", "End": true}
                }},
                "End": true
            }
        }
    });
    // A Map of four items is a Distributed Map whose children are STANDARD executions of
    // their own (no new draw: the seeds that found earlier bugs keep their workloads).
    if items.len() == 4 {
        definition["States"]["Each"]["ItemProcessor"]["ProcessorConfig"] =
            json!({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"});
    }
    (definition, json!({"items": items}), true, Vec::new())
}

/// A callback plan: answered by SendTaskSuccess/Failure well after the call, with
/// heartbeats; or never (the heartbeat timeout fires).
fn callback_plan(rng: &mut Rng, tag: &str) -> (Value, i64) {
    if rng.chance(250) {
        return (
            json!([{"hang": true}]),
            rng.range(HANG_TIMEOUT.0, HANG_TIMEOUT.1),
        );
    }
    // Answers come 30 s or more after the call: the call's own answer (TaskSubmitted) is
    // then long applied, whatever the faults did to it.
    let after = rng.range(30_000, 60_000);
    let entry = if rng.chance(200) {
        json!({"fail": "Rejected", "after": after, "beats": rng.below(4)})
    } else {
        json!({"ok": {"tag": tag, "v": rng.below(100)}, "after": after, "beats": rng.below(4)})
    };
    (json!([entry]), LONG_HEARTBEAT)
}

fn callback(rng: &mut Rng, p: &str) -> (Value, Value, bool, Vec<(String, i64)>) {
    let (plan, heartbeat) = callback_plan(rng, "callback");
    let definition = json!({
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task", "Resource": CALLBACK, "TimeoutSeconds": LONG_TIMEOUT,
                "HeartbeatSeconds": heartbeat,
                "Parameters": {"FunctionName": "callback", "Payload": {
                    "id": format!("{p}-callback"), "plan": plan, "token.$": "$$.Task.Token"}},
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Fallback"}],
                "ResultPath": "$.answer", "End": true
            },
            "Fallback": {"Type": "Pass", "Result": "fallback", "ResultPath": "$.fallback", "End": true}
        }
    });
    (definition, json!({"question": 42}), false, Vec::new())
}

fn activity(rng: &mut Rng, p: &str) -> (Value, Value, bool, Vec<(String, i64)>) {
    let (plan, heartbeat) = callback_plan(rng, "activity");
    let definition = json!({
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task", "Resource": activity_arn(), "TimeoutSeconds": LONG_TIMEOUT,
                "HeartbeatSeconds": heartbeat,
                "Parameters": {"id": format!("{p}-activity"), "plan": plan},
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Fallback"}],
                "ResultPath": "$.answer", "End": true
            },
            "Fallback": {"Type": "Pass", "Result": "fallback", "ResultPath": "$.fallback", "End": true}
        }
    });
    (definition, json!({}), false, Vec::new())
}

/// Parks (a long Wait, a callback or an activity task that is never answered) and is
/// stopped meanwhile: whatever it held open must be closed by the stop.
fn stopped(rng: &mut Rng, p: &str) -> (Value, Value, bool, Vec<(String, i64)>) {
    let park = match rng.below(3) {
        0 => json!({"Type": "Wait", "Seconds": PARK_SECONDS, "End": true}),
        1 => json!({"Type": "Task", "Resource": CALLBACK, "TimeoutSeconds": PARK_SECONDS,
            "Parameters": {"FunctionName": "callback", "Payload": {
                "id": format!("{p}-park"), "plan": [{"hang": true}], "token.$": "$$.Task.Token"}},
            "End": true}),
        _ => json!({"Type": "Task", "Resource": activity_arn(), "TimeoutSeconds": PARK_SECONDS,
            "Parameters": {"id": format!("{p}-park"), "plan": [{"hang": true}]}, "End": true}),
    };
    let definition = json!({
        "StartAt": "Before",
        "States": {
            "Before": {"Type": "Task", "Resource": LAMBDA, "TimeoutSeconds": LONG_TIMEOUT,
                "ResultPath": "$.before", "Next": "Park"},
            "Park": park
        }
    });
    let input = json!({"id": format!("{p}-before"), "plan": [attempt_ok(rng, "before")]});
    (definition, input, false, Vec::new())
}

/// The execution's own TimeoutSeconds ends it in the middle of a long Wait.
fn timed_out(_rng: &mut Rng, _p: &str) -> (Value, Value, bool, Vec<(String, i64)>) {
    let definition = json!({
        "TimeoutSeconds": 3 * 3600,
        "StartAt": "Park",
        "States": {"Park": {"Type": "Wait", "Seconds": PARK_SECONDS, "End": true}}
    });
    (definition, json!({}), false, Vec::new())
}

type Template = fn(&mut Rng, &str) -> (Value, Value, bool, Vec<(String, i64)>);

const TEMPLATES: [(&str, Template); 8] = [
    ("retry-chain", retry_chain),
    ("wait-loop", wait_loop),
    ("parallel", parallel),
    ("map", map),
    ("callback", callback),
    ("activity", activity),
    ("stopped", stopped),
    ("timed-out", timed_out),
];

impl Workload {
    pub fn generate(rng: &mut Rng) -> Workload {
        let count = rng.range(1, 3);
        let executions = (0..count)
            .map(|k| {
                let (template, build) = *rng.pick(&TEMPLATES);
                let prefix = format!("e{k}");
                let (definition, input, concurrent, waits) = build(rng, &prefix);
                ExecSpec {
                    machine: format!("m{k}-{template}"),
                    name: prefix,
                    definition,
                    input,
                    start_at_ms: rng.range(0, 5000),
                    stop_after_ms: (template == "stopped").then_some(STOP_AFTER_MS),
                    concurrent,
                    waits,
                    template,
                }
            })
            .collect();
        Workload { executions }
    }
}
