//! RedriveExecution in the decider: only what did not succeed runs again, in the same history.

use cairn_interpreter::{Command, Decision, Event, Execution, ExecutionInfo, Machine, Status};
use serde_json::{json, Value};

mod support;
use support::{at, invoked};

const LAMBDA: &str = "arn:aws:lambda:us-east-1:111111111111:function:f";

fn info() -> ExecutionInfo {
    ExecutionInfo {
        redrive_count: Some(0),
        ..support::info()
    }
}

fn types(d: &Decision) -> Vec<String> {
    d.history
        .iter()
        .map(|e| {
            let name = e.details.get("name").and_then(Value::as_str).unwrap_or("");
            format!("{} {name}", e.event_type).trim_end().to_string()
        })
        .collect()
}

fn succeed(exec: &mut Execution, m: &Machine, task_id: u64, output: Value, now: i64) -> Decision {
    exec.apply(m, Event::TaskSucceeded { task_id, output }, &at(now))
}

fn fail(exec: &mut Execution, m: &Machine, task_id: u64, now: i64) -> Decision {
    let event = Event::TaskFailed {
        task_id,
        error: Some("Boom".into()),
        cause: Some("missing".into()),
    };
    exec.apply(m, event, &at(now))
}

/// What a store does between two events: the state goes through JSON.
fn stored(exec: &Execution) -> Execution {
    serde_json::from_str(&serde_json::to_string(exec).unwrap()).unwrap()
}

#[test]
fn a_failed_task_after_a_successful_one_runs_again_alone() {
    let m = Machine::from_json(&json!({
        "StartAt": "A",
        "States": {
            "A": {"Type": "Task", "Resource": LAMBDA, "ResultPath": "$.a", "Next": "B"},
            "B": {"Type": "Task", "Resource": LAMBDA,
                  "Parameters": {"in.$": "$", "redrives.$": "$$.Execution.RedriveCount"},
                  "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 1, "IntervalSeconds": 0}],
                  "End": true}
        }
    }))
    .unwrap();
    let (mut exec, d) = Execution::start(&m, json!({"k": 1}), info(), &at(1_000));
    let (a, _) = invoked(&d)[0].clone();
    let d = succeed(&mut exec, &m, a, json!("A-result"), 2_000);
    let (b, input) = invoked(&d)[0].clone();
    assert_eq!(
        input,
        json!({"in": {"k": 1, "a": "A-result"}, "redrives": 0})
    );
    let d = fail(&mut exec, &m, b, 3_000);
    let (retry, _) = invoked(&d)[0].clone();
    fail(&mut exec, &m, retry, 3_100);
    assert_eq!(exec.status(), Status::Failed);
    assert_eq!(exec.redrive_blocker(), None);
    let failed_events = exec.event_count();

    let mut exec = stored(&exec);
    let d = exec.apply(&m, Event::Redrive, &at(10_000));
    assert_eq!(exec.status(), Status::Running);
    assert_eq!(exec.redrive_count(), 1);
    assert_eq!(exec.redrive_time_ms(), Some(10_000));
    assert_eq!(
        types(&d),
        [
            "ExecutionRedriven",
            "TaskStateEntered B",
            "LambdaFunctionScheduled"
        ]
    );
    let redriven = d.history[0].to_aws_json();
    assert_eq!(redriven["id"], failed_events + 1);
    assert_eq!(redriven["previousEventId"], failed_events);
    assert_eq!(
        redriven["executionRedrivenEventDetails"],
        json!({"redriveCount": 1})
    );
    assert_eq!(
        d.history[1].details["input"],
        json!({"k": 1, "a": "A-result"}),
        "B is entered again with the input it had"
    );
    let tasks = invoked(&d);
    assert_eq!(tasks.len(), 1, "A is not run again: {tasks:?}");
    assert_eq!(
        tasks[0].1,
        json!({"in": {"k": 1, "a": "A-result"}, "redrives": 1})
    );

    // The retry counter starts over: one failure is retried again.
    let d = fail(&mut exec, &m, tasks[0].0, 11_000);
    let (again, _) = invoked(&d)[0].clone();
    let d = succeed(&mut exec, &m, again, json!("B-result"), 12_000);
    assert_eq!(exec.status(), Status::Succeeded);
    assert_eq!(exec.output(), Some(&json!("B-result")));
    assert!(types(&d).contains(&"ExecutionSucceeded".to_string()));
    assert_eq!(
        exec.redrive_blocker(),
        Some("Execution is SUCCEEDED and cannot be redriven")
    );
    assert!(exec
        .apply(&m, Event::Redrive, &at(13_000))
        .history
        .is_empty());
}

#[test]
fn a_parallel_runs_again_only_its_failed_branch() {
    let m = Machine::from_json(&json!({
        "StartAt": "Par",
        "States": {
            "Par": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "One", "States": {"One": {"Type": "Task", "Resource": LAMBDA, "End": true}}},
                {"StartAt": "Two", "States": {
                    "Two": {"Type": "Pass", "Result": "two", "ResultPath": "$.p", "Next": "Three"},
                    "Three": {"Type": "Task", "Resource": LAMBDA, "End": true}}}
            ]}
        }
    }))
    .unwrap();
    let (mut exec, d) = Execution::start(&m, json!({"v": 0}), info(), &at(1_000));
    let tasks = invoked(&d);
    assert_eq!(tasks.len(), 2);
    succeed(&mut exec, &m, tasks[0].0, json!("one"), 2_000);
    let d = fail(&mut exec, &m, tasks[1].0, 3_000);
    assert_eq!(exec.status(), Status::Failed);
    assert!(types(&d).contains(&"ParallelStateFailed".to_string()));

    let mut exec = stored(&exec);
    let d = exec.apply(&m, Event::Redrive, &at(10_000));
    assert_eq!(
        types(&d),
        [
            "ExecutionRedriven",
            "ParallelStateEntered Par",
            "ParallelStateStarted",
            "TaskStateEntered Three",
            "LambdaFunctionScheduled"
        ],
        "the second branch resumes at the state that failed; the first is not run again"
    );
    let tasks = invoked(&d);
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].1, json!({"v": 0, "p": "two"}));
    succeed(&mut exec, &m, tasks[0].0, json!("three"), 11_000);
    assert_eq!(exec.status(), Status::Succeeded);
    assert_eq!(exec.output(), Some(&json!(["one", "three"])));
}

#[test]
fn a_map_runs_again_its_failed_and_unfinished_iterations() {
    let m = Machine::from_json(&json!({
        "StartAt": "M",
        "States": {
            "M": {"Type": "Map", "End": true, "MaxConcurrency": 2,
                  "ItemProcessor": {"StartAt": "Work", "States": {
                      "Work": {"Type": "Task", "Resource": LAMBDA, "End": true}}}}
        }
    }))
    .unwrap();
    let (mut exec, d) = Execution::start(&m, json!([10, 11, 12, 13]), info(), &at(1_000));
    let tasks = invoked(&d);
    assert_eq!(
        tasks.iter().map(|t| t.1.clone()).collect::<Vec<_>>(),
        [json!(10), json!(11)]
    );
    // Item 10 succeeds and item 12 starts; item 11 fails while 12 runs: 12 is aborted, 13
    // never starts.
    let d = succeed(&mut exec, &m, tasks[0].0, json!("r10"), 2_000);
    assert_eq!(invoked(&d)[0].1, json!(12));
    let d = fail(&mut exec, &m, tasks[1].0, 3_000);
    assert_eq!(exec.status(), Status::Failed);
    assert!(
        types(&d).contains(&"MapIterationAborted M".to_string()),
        "{:?}",
        types(&d)
    );

    let mut exec = stored(&exec);
    let d = exec.apply(&m, Event::Redrive, &at(10_000));
    let inputs: Vec<Value> = invoked(&d).iter().map(|t| t.1.clone()).collect();
    assert_eq!(
        inputs,
        [json!(11), json!(12)],
        "the failed and the aborted iteration run again, not the one that succeeded"
    );
    let kinds = types(&d);
    assert_eq!(
        &kinds[..3],
        ["ExecutionRedriven", "MapStateEntered M", "MapStateStarted"]
    );
    let mut pending = invoked(&d);
    let mut results = std::collections::BTreeMap::new();
    while let Some((task_id, input)) = pending.pop() {
        let d = succeed(&mut exec, &m, task_id, json!(format!("r{input}")), 11_000);
        pending.extend(invoked(&d));
        results.insert(input.to_string(), ());
    }
    assert_eq!(results.len(), 3, "11, 12 and the never-started 13 ran");
    assert_eq!(exec.status(), Status::Succeeded);
    assert_eq!(exec.output(), Some(&json!(["r10", "r11", "r12", "r13"])));
}

#[test]
fn a_caught_failure_is_not_run_again_and_an_aborted_wait_is() {
    // The Catch made Guard succeed: a redrive enters the Fail state it led to, not Guard.
    let m = Machine::from_json(&json!({
        "StartAt": "Guard",
        "States": {
            "Guard": {"Type": "Task", "Resource": LAMBDA,
                      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Stop"}], "End": true},
            "Stop": {"Type": "Fail", "Error": "Stopped"}
        }
    }))
    .unwrap();
    let (mut exec, d) = Execution::start(&m, json!({}), info(), &at(1_000));
    fail(&mut exec, &m, invoked(&d)[0].0, 2_000);
    assert_eq!(exec.status(), Status::Failed);
    let d = exec.apply(&m, Event::Redrive, &at(3_000));
    assert_eq!(
        types(&d),
        [
            "ExecutionRedriven",
            "FailStateEntered Stop",
            "ExecutionFailed"
        ]
    );
    assert!(invoked(&d).is_empty());
    assert_eq!(exec.status(), Status::Failed);
    assert_eq!(exec.redrive_count(), 1);

    // StopExecution during a Wait: the redrive waits again, the whole time.
    let m = Machine::from_json(&json!({
        "StartAt": "W", "TimeoutSeconds": 100,
        "States": {"W": {"Type": "Wait", "Seconds": 30, "End": true}}
    }))
    .unwrap();
    let (mut exec, _) = Execution::start(&m, json!({"w": 1}), info(), &at(1_000));
    assert_eq!(
        exec.redrive_blocker(),
        Some("Execution is RUNNING and cannot be redriven")
    );
    exec.apply(
        &m,
        Event::Stop {
            error: None,
            cause: None,
        },
        &at(2_000),
    );
    assert_eq!(exec.status(), Status::Aborted);
    let d = exec.apply(&m, Event::Redrive, &at(50_000));
    assert_eq!(types(&d), ["ExecutionRedriven", "WaitStateEntered W"]);
    let timers: Vec<i64> = d
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::StartTimer { fire_at_ms, .. } => Some(*fire_at_ms),
            _ => None,
        })
        .collect();
    assert_eq!(
        timers,
        [150_000, 80_000],
        "the execution's TimeoutSeconds starts over, and the Wait waits again"
    );
}

#[test]
fn a_timed_out_parallel_inside_a_map_resumes_where_each_thread_stood() {
    // The execution times out while one iteration's second branch still waits for its task;
    // everything that had finished keeps its result.
    let m = Machine::from_json(&json!({
        "StartAt": "M", "TimeoutSeconds": 60,
        "States": {
            "M": {"Type": "Map", "End": true,
                  "ItemProcessor": {"StartAt": "Par", "States": {
                      "Par": {"Type": "Parallel", "End": true, "Branches": [
                          {"StartAt": "Quick", "States": {"Quick": {"Type": "Pass", "End": true}}},
                          {"StartAt": "Slow", "States": {"Slow": {"Type": "Task", "Resource": LAMBDA, "End": true}}}
                      ]}}}}
        }
    }))
    .unwrap();
    let (mut exec, d) = Execution::start(&m, json!(["a", "b"]), info(), &at(1_000));
    let tasks = invoked(&d);
    assert_eq!(tasks.len(), 2);
    succeed(&mut exec, &m, tasks[0].0, json!("slow-a"), 2_000);
    let d = exec.apply(&m, Event::TimerFired { timer_id: 1 }, &at(61_000));
    assert_eq!(exec.status(), Status::TimedOut);
    assert!(types(&d).contains(&"ExecutionTimedOut".to_string()));
    assert_eq!(exec.redrive_blocker(), None);

    let mut exec = stored(&exec);
    let d = exec.apply(&m, Event::Redrive, &at(70_000));
    assert_eq!(
        types(&d),
        [
            "ExecutionRedriven",
            "MapStateEntered M",
            "MapStateStarted",
            "MapIterationStarted M",
            "ParallelStateEntered Par",
            "ParallelStateStarted",
            "TaskStateEntered Slow",
            "LambdaFunctionScheduled"
        ],
        "only iteration 1's Slow branch runs again"
    );
    let tasks = invoked(&d);
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].1, json!("b"));
    succeed(&mut exec, &m, tasks[0].0, json!("slow-b"), 71_000);
    assert_eq!(exec.status(), Status::Succeeded);
    assert_eq!(
        exec.output(),
        Some(&json!([["a", "slow-a"], ["b", "slow-b"]]))
    );
}

#[test]
fn an_item_selector_failure_gives_its_item_back_to_the_redrive() {
    // The selector refuses "oops" until the execution is redriven.
    let m = Machine::from_json(&json!({
        "QueryLanguage": "JSONata",
        "StartAt": "M",
        "States": {
            "M": {"Type": "Map", "End": true, "MaxConcurrency": 1,
                  "ItemSelector": "{% ($v := $states.context.Map.Item.Value; $v = 'oops' and $states.context.Execution.RedriveCount = 0 ? $error('Bad', 'item') : $v) %}",
                  "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}
        }
    }))
    .unwrap();
    let (mut exec, _) = Execution::start(&m, json!(["1", "oops", "3"]), info(), &at(1_000));
    assert_eq!(exec.status(), Status::Failed);
    let d = exec.apply(&m, Event::Redrive, &at(2_000));
    let started: Vec<Value> = d
        .history
        .iter()
        .filter(|e| e.event_type == "MapIterationStarted")
        .map(|e| e.details["index"].clone())
        .collect();
    assert_eq!(
        started,
        [json!(1), json!(2)],
        "item 0 succeeded and is not run again"
    );
    assert_eq!(exec.status(), Status::Succeeded);
    assert_eq!(
        exec.output(),
        Some(&json!(["1", "oops", "3"])),
        "the item whose selection failed is selected again, not lost"
    );
}

#[test]
fn jsonata_sees_the_redrive_count_and_time() {
    let m = Machine::from_json(&json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Gate",
        "States": {
            "Gate": {"Type": "Pass", "End": true,
                     "Output": "{% $states.context.Execution.RedriveCount = 0 ? $error('NotYet', 'first run') : {'count': $states.context.Execution.RedriveCount, 'at': $states.context.Execution.RedriveTime} %}"}
        }
    }))
    .unwrap();
    let (mut exec, _) = Execution::start(&m, json!({}), info(), &at(1_000));
    assert_eq!(exec.status(), Status::Failed);
    exec.apply(&m, Event::Redrive, &at(86_400_000));
    assert_eq!(exec.status(), Status::Succeeded);
    assert_eq!(
        exec.output(),
        Some(&json!({"count": 1, "at": "1970-01-02T00:00:00.000Z"}))
    );
}

#[test]
fn an_express_execution_is_not_redriven() {
    let m = Machine::from_json(&json!({
        "StartAt": "No", "States": {"No": {"Type": "Fail", "Error": "E"}}
    }))
    .unwrap();
    let express = ExecutionInfo {
        machine_type: cairn_interpreter::MachineType::Express,
        ..info()
    };
    let (mut exec, _) = Execution::start(&m, json!({}), express, &at(1_000));
    assert_eq!(exec.status(), Status::Failed);
    assert_eq!(
        exec.redrive_blocker(),
        Some("Execution is EXPRESS and cannot be redriven")
    );
    assert!(exec
        .apply(&m, Event::Redrive, &at(2_000))
        .history
        .is_empty());
    assert_eq!(exec.status(), Status::Failed);
}
