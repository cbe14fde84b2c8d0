//! The decider driven by hand, event by event: exact histories and commands.

use cairn_interpreter::{
    Command, Context, Decision, Event, Execution, ExecutionInfo, Limits, Machine, ResourceKind,
    Status,
};
use serde_json::{json, Value};

mod support;
use support::{at, info, invoked, lines};

fn aws(d: &Decision, id: u64) -> Value {
    d.history
        .iter()
        .find(|e| e.id == id)
        .map(|e| e.to_aws_json())
        .unwrap_or(Value::Null)
}

fn timers(d: &Decision) -> Vec<(u64, i64)> {
    d.commands
        .iter()
        .filter_map(|c| match c {
            Command::StartTimer {
                timer_id,
                fire_at_ms,
            } => Some((*timer_id, *fire_at_ms)),
            _ => None,
        })
        .collect()
}

/// The `Finish` command's status, error and cause, with the output its
/// `ExecutionSucceeded` event records.
type Finished = (Status, Option<Value>, Option<String>, Option<String>);

fn finish(d: &Decision) -> Option<Finished> {
    let output = d
        .history
        .iter()
        .find(|e| e.event_type == "ExecutionSucceeded")
        .map(|e| e.details["output"].clone());
    d.commands.iter().find_map(|c| match c {
        Command::Finish {
            status,
            error,
            cause,
        } => Some((*status, output.clone(), error.clone(), cause.clone())),
        _ => None,
    })
}

const LAMBDA: &str = "arn:aws:lambda:us-east-1:111111111111:function:f";

fn pass_wait_task() -> Machine {
    Machine::from_json(&json!({
        "StartAt": "P",
        "States": {
            "P": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.p", "Next": "W"},
            "W": {"Type": "Wait", "Seconds": 10, "Next": "T"},
            "T": {"Type": "Task", "Resource": LAMBDA,
                  "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "MaxAttempts": 1}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Done"}],
                  "Next": "Done"},
            "Done": {"Type": "Succeed"}
        }
    }))
    .unwrap()
}

#[test]
fn pass_wait_task_retry_then_catch() {
    let machine = pass_wait_task();
    let (mut exec, d) = Execution::start(&machine, json!({"a": 1}), info(), &at(1_000));
    assert_eq!(
        lines(&d),
        [
            "1 0 ExecutionStarted",
            "2 0 PassStateEntered",
            "3 2 PassStateExited",
            "4 3 WaitStateEntered"
        ]
    );
    assert_eq!(
        aws(&d, 1),
        json!({"id": 1, "previousEventId": 0, "timestamp": 1.0, "type": "ExecutionStarted",
               "executionStartedEventDetails": {"input": "{\"a\":1}", "inputDetails": {"truncated": false},
                                                "roleArn": "arn:aws:iam::111111111111:role/r"}})
    );
    assert_eq!(
        aws(&d, 3)["stateExitedEventDetails"]["output"],
        "{\"a\":1,\"p\":{\"x\":1}}"
    );
    assert_eq!(timers(&d), [(1, 11_000)]);

    let d = exec.apply(&machine, Event::TimerFired { timer_id: 1 }, &at(11_000));
    assert_eq!(
        lines(&d),
        [
            "5 4 WaitStateExited",
            "6 5 TaskStateEntered",
            "7 6 LambdaFunctionScheduled"
        ]
    );
    assert_eq!(
        aws(&d, 7)["lambdaFunctionScheduledEventDetails"],
        json!({"input": "{\"a\":1,\"p\":{\"x\":1}}", "inputDetails": {"truncated": false}, "resource": LAMBDA})
    );
    match &d.commands[..] {
        [Command::InvokeTask {
            task_id: 1,
            kind: ResourceKind::LambdaFunction,
            input,
            task_token: None,
            ..
        }] => {
            assert_eq!(input, &json!({"a": 1, "p": {"x": 1}}))
        }
        other => panic!("unexpected commands {other:?}"),
    }

    let d = exec.apply(
        &machine,
        Event::TaskStarted {
            task_id: 1,
            worker_name: None,
        },
        &at(11_100),
    );
    assert_eq!(lines(&d), ["8 7 LambdaFunctionStarted"]);
    let failed = Event::TaskFailed {
        task_id: 1,
        error: Some("Boom".into()),
        cause: Some("first".into()),
    };
    let d = exec.apply(&machine, failed, &at(11_200));
    assert_eq!(lines(&d), ["9 8 LambdaFunctionFailed"]);
    assert_eq!(
        aws(&d, 9)["lambdaFunctionFailedEventDetails"],
        json!({"cause": "first", "error": "Boom"})
    );
    assert_eq!(
        timers(&d),
        [(2, 13_200)],
        "IntervalSeconds 2 before the retry"
    );

    let d = exec.apply(&machine, Event::TimerFired { timer_id: 2 }, &at(13_200));
    assert_eq!(
        lines(&d),
        ["10 9 LambdaFunctionScheduled"],
        "a retry schedules again without re-entering"
    );
    assert_eq!(invoked(&d).len(), 1);
    assert_eq!(invoked(&d)[0].0, 2);

    let failed = Event::TaskFailed {
        task_id: 2,
        error: Some("Boom".into()),
        cause: Some("second".into()),
    };
    let d = exec.apply(&machine, failed, &at(13_300));
    assert_eq!(
        lines(&d),
        [
            "11 10 LambdaFunctionFailed",
            "12 11 TaskStateExited",
            "13 12 SucceedStateEntered",
            "14 13 SucceedStateExited",
            "15 14 ExecutionSucceeded"
        ]
    );
    let output = json!({"a": 1, "p": {"x": 1}, "err": {"Error": "Boom", "Cause": "second"}});
    assert_eq!(
        finish(&d),
        Some((Status::Succeeded, Some(output.clone()), None, None))
    );
    assert_eq!(exec.status(), Status::Succeeded);
    assert_eq!(exec.output(), Some(&output));
    // Late events change nothing.
    assert_eq!(
        exec.apply(&machine, Event::TimerFired { timer_id: 2 }, &at(20_000)),
        Decision::default()
    );
}

#[test]
fn serde_round_trip_mid_run_continues_identically() {
    let machine = pass_wait_task();
    let (mut exec, _) = Execution::start(&machine, json!({"a": 1}), info(), &at(1_000));
    exec.apply(&machine, Event::TimerFired { timer_id: 1 }, &at(11_000));
    let stored = serde_json::to_string(&exec).unwrap();
    let mut restored: Execution = serde_json::from_str(&stored).unwrap();
    assert_eq!(restored, exec);
    let events = [
        Event::TaskStarted {
            task_id: 1,
            worker_name: None,
        },
        Event::TaskFailed {
            task_id: 1,
            error: Some("Boom".into()),
            cause: None,
        },
        Event::TimerFired { timer_id: 2 },
        Event::TaskSucceeded {
            task_id: 2,
            output: json!({"ok": true}),
        },
    ];
    for (i, event) in events.into_iter().enumerate() {
        let ctx = at(12_000 + i as i64 * 1_000);
        assert_eq!(
            exec.apply(&machine, event.clone(), &ctx),
            restored.apply(&machine, event, &ctx)
        );
    }
    assert_eq!(restored.status(), Status::Succeeded);
    assert_eq!(restored.output(), Some(&json!({"ok": true})));
}

#[test]
fn parallel_branch_failure_aborts_the_others() {
    let machine = Machine::from_json(&json!({
        "StartAt": "Par",
        "States": {"Par": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
            {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": LAMBDA, "End": true}}},
            {"StartAt": "C", "States": {"C": {"Type": "Fail", "Error": "Bad", "Cause": "branch C"}}}
        ]}}
    }))
    .unwrap();
    let (mut exec, d) = Execution::start(&machine, json!({}), info(), &at(0));
    assert_eq!(
        lines(&d),
        [
            "1 0 ExecutionStarted",
            "2 0 ParallelStateEntered",
            "3 2 ParallelStateStarted",
            "4 3 PassStateEntered",
            "5 4 PassStateExited",
            "6 3 TaskStateEntered",
            "7 6 LambdaFunctionScheduled",
            "8 3 FailStateEntered",
            "9 7 TaskStateAborted",
            "10 8 ParallelStateFailed",
            "11 10 ExecutionFailed",
        ]
    );
    assert!(d.commands.contains(&Command::CancelTask { task_id: 1 }));
    assert_eq!(
        finish(&d),
        Some((
            Status::Failed,
            None,
            Some("Bad".into()),
            Some("branch C".into())
        ))
    );
    assert_eq!(
        aws(&d, 11)["executionFailedEventDetails"],
        json!({"cause": "branch C", "error": "Bad"})
    );
    assert_eq!(
        exec.apply(
            &machine,
            Event::TaskSucceeded {
                task_id: 1,
                output: json!(1)
            },
            &at(5)
        ),
        Decision::default()
    );
}

#[test]
fn parallel_results_in_branch_order_with_scoped_variables() {
    let machine = Machine::from_json(&json!({
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"x": 42}, "Next": "Par"},
            "Par": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "Slow", "States": {"Slow": {"Type": "Task", "Resource": LAMBDA, "End": true}}},
                {"StartAt": "Read", "States": {"Read": {"Type": "Pass", "Parameters": {"seen.$": "$x"}, "Assign": {"inner.$": "$x"}, "End": true}}}
            ]}
        }
    }))
    .unwrap();
    let (mut exec, d) = Execution::start(&machine, json!({}), info(), &at(0));
    assert_eq!(
        aws(&d, 3)["stateExitedEventDetails"]["assignedVariables"],
        json!({"x": "42"})
    );
    let read_exit = d
        .history
        .iter()
        .find(|e| e.event_type == "PassStateExited" && e.details["name"] == "Read")
        .unwrap();
    assert_eq!(
        read_exit.to_aws_json()["stateExitedEventDetails"]["assignedVariables"],
        json!({"inner": "42"})
    );
    let d = exec.apply(
        &machine,
        Event::TaskSucceeded {
            task_id: 1,
            output: json!("slow"),
        },
        &at(10),
    );
    let types: Vec<&str> = d.history.iter().map(|e| &*e.event_type).collect();
    assert_eq!(
        types,
        [
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "ParallelStateSucceeded",
            "ParallelStateExited",
            "ExecutionSucceeded"
        ]
    );
    let output = json!(["slow", {"seen": 42}]);
    assert_eq!(finish(&d).map(|f| f.1), Some(Some(output)));
}

#[test]
fn map_sequential_with_a_tolerated_failure() {
    let machine = Machine::from_json(&json!({
        "StartAt": "M",
        "States": {"M": {"Type": "Map", "MaxConcurrency": 1, "ToleratedFailureCount": 1, "End": true,
            "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
            "ItemProcessor": {"StartAt": "Check", "States": {
                "Check": {"Type": "Choice", "Choices": [{"Variable": "$.v", "IsNumeric": true, "Next": "Ok"}], "Default": "No"},
                "Ok": {"Type": "Pass", "End": true},
                "No": {"Type": "Fail", "Error": "NaN"}
            }}}}
    }))
    .unwrap();
    let (_, d) = Execution::start(&machine, json!([1, "x", 3]), info(), &at(0));
    assert_eq!(
        lines(&d),
        [
            "1 0 ExecutionStarted",
            "2 0 MapStateEntered",
            "3 2 MapStateStarted",
            "4 3 MapIterationStarted",
            "5 4 ChoiceStateEntered",
            "6 5 ChoiceStateExited",
            "7 6 PassStateEntered",
            "8 7 PassStateExited",
            "9 8 MapIterationSucceeded",
            "10 8 MapIterationStarted",
            "11 10 ChoiceStateEntered",
            "12 11 ChoiceStateExited",
            "13 12 FailStateEntered",
            "14 13 MapIterationFailed",
            "15 13 MapIterationStarted",
            "16 15 ChoiceStateEntered",
            "17 16 ChoiceStateExited",
            "18 17 PassStateEntered",
            "19 18 PassStateExited",
            "20 19 MapIterationSucceeded",
            "21 20 MapStateSucceeded",
            "22 20 MapStateExited",
            "23 22 ExecutionSucceeded",
        ]
    );
    assert_eq!(
        aws(&d, 3)["mapStateStartedEventDetails"],
        json!({"length": 3})
    );
    assert_eq!(
        aws(&d, 10)["mapIterationStartedEventDetails"],
        json!({"index": 1, "name": "M"})
    );
    assert_eq!(
        aws(&d, 11)["stateEnteredEventDetails"]["input"],
        "{\"v\":\"x\",\"i\":1}"
    );
    let output = json!([{"v": 1, "i": 0}, {"Error": "NaN", "Cause": null}, {"v": 3, "i": 2}]);
    assert_eq!(finish(&d).map(|f| f.1), Some(Some(output)));
}

#[test]
fn map_max_concurrency_one_waits_for_each_iteration() {
    let machine = Machine::from_json(&json!({
        "StartAt": "M",
        "States": {"M": {"Type": "Map", "MaxConcurrency": 1, "End": true,
            "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": true}}}}}
    }))
    .unwrap();
    let (mut exec, d) = Execution::start(&machine, json!(["a", "b"]), info(), &at(0));
    assert_eq!(invoked(&d), [(1, json!("a"))]);
    let d = exec.apply(
        &machine,
        Event::TaskSucceeded {
            task_id: 1,
            output: json!("A"),
        },
        &at(1),
    );
    assert_eq!(invoked(&d), [(2, json!("b"))]);
    let d = exec.apply(
        &machine,
        Event::TaskSucceeded {
            task_id: 2,
            output: json!("B"),
        },
        &at(2),
    );
    assert_eq!(finish(&d).map(|f| f.1), Some(Some(json!(["A", "B"]))));
}

#[test]
fn map_failure_beyond_tolerance_fails_with_the_iteration_error() {
    let machine = Machine::from_json(&json!({
        "StartAt": "M",
        "States": {"M": {"Type": "Map", "End": true,
            "ItemProcessor": {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}}}}
    }))
    .unwrap();
    let (_, d) = Execution::start(&machine, json!([1]), info(), &at(0));
    assert_eq!(
        lines(&d),
        [
            "1 0 ExecutionStarted",
            "2 0 MapStateEntered",
            "3 2 MapStateStarted",
            "4 3 MapIterationStarted",
            "5 4 FailStateEntered",
            "6 5 MapIterationFailed",
            "7 5 MapStateFailed",
            "8 7 ExecutionFailed"
        ]
    );
    assert_eq!(
        finish(&d),
        Some((Status::Failed, None, Some("E".into()), Some("C".into())))
    );
}

#[test]
fn task_timeout_and_heartbeat_timers() {
    let machine = Machine::from_json(&json!({
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:111111111111:activity:act",
                         "TimeoutSeconds": 100, "HeartbeatSeconds": 10, "End": true}}
    }))
    .unwrap();
    let (mut exec, d) = Execution::start(&machine, json!({}), info(), &at(0));
    assert_eq!(timers(&d), [(1, 100_000), (2, 10_000)]);
    match &d.commands[0] {
        Command::InvokeTask {
            task_token: Some(token),
            kind: ResourceKind::Activity,
            ..
        } => assert_eq!(token.len(), 64),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        aws(&d, 3)["activityScheduledEventDetails"],
        json!({"input": "{}", "inputDetails": {"truncated": false}, "resource": "arn:aws:states:us-east-1:111111111111:activity:act",
               "timeoutInSeconds": 100, "heartbeatInSeconds": 10})
    );
    let d = exec.apply(
        &machine,
        Event::TaskStarted {
            task_id: 1,
            worker_name: Some("w".into()),
        },
        &at(1_000),
    );
    assert_eq!(
        aws(&d, 4)["activityStartedEventDetails"],
        json!({"workerName": "w"})
    );
    let d = exec.apply(&machine, Event::Heartbeat { task_id: 1 }, &at(5_000));
    assert_eq!(
        d.commands,
        [
            Command::CancelTimer { timer_id: 2 },
            Command::StartTimer {
                timer_id: 3,
                fire_at_ms: 15_000
            }
        ]
    );
    let d = exec.apply(&machine, Event::TimerFired { timer_id: 3 }, &at(15_000));
    assert_eq!(lines(&d), ["5 4 ActivityTimedOut", "6 5 ExecutionFailed"]);
    assert_eq!(
        aws(&d, 5)["activityTimedOutEventDetails"],
        json!({"error": "States.Timeout"}),
        "AWS reports a missed heartbeat as States.Timeout"
    );
    assert!(d.commands.contains(&Command::CancelTask { task_id: 1 }));
    assert!(d.commands.contains(&Command::CancelTimer { timer_id: 1 }));
    assert_eq!(exec.error(), Some("States.Timeout"));
}

#[test]
fn service_task_events_name_resource_and_type() {
    let machine = Machine::from_json(&json!({
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                         "Parameters": {"QueueUrl.$": "$.q", "MessageBody": {"TaskToken.$": "$$.Task.Token"}}, "End": true}}
    }))
    .unwrap();
    let (mut exec, d) = Execution::start(&machine, json!({"q": "url"}), info(), &at(0));
    let (token, input) = match &d.commands[0] {
        Command::InvokeTask {
            task_token: Some(t),
            input,
            ..
        } => (t.clone(), input.clone()),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(
        input,
        json!({"QueueUrl": "url", "MessageBody": {"TaskToken": token}})
    );
    assert_eq!(
        aws(&d, 3)["taskScheduledEventDetails"],
        json!({"parameters": input.to_string(), "region": "us-east-1", "resource": "sendMessage.waitForTaskToken", "resourceType": "sqs"})
    );
    let d = exec.apply(
        &machine,
        Event::TaskFailed {
            task_id: 1,
            error: None,
            cause: None,
        },
        &at(1),
    );
    assert_eq!(
        aws(&d, 4)["taskFailedEventDetails"],
        json!({"resource": "sendMessage.waitForTaskToken", "resourceType": "sqs"})
    );
    assert_eq!(lines(&d), ["4 3 TaskFailed", "5 4 ExecutionFailed"]);
    assert_eq!(aws(&d, 5)["executionFailedEventDetails"], json!({}));
}

#[test]
fn runtime_errors_name_the_state_and_are_not_caught() {
    let machine = Machine::from_json(&json!({
        "StartAt": "P",
        "States": {
            "P": {"Type": "Pass", "InputPath": "$.missing", "Next": "Q"},
            "Q": {"Type": "Pass", "End": true}
        }
    }))
    .unwrap();
    let (exec, d) = Execution::start(&machine, json!({"a": 1}), info(), &at(0));
    assert_eq!(
        lines(&d),
        [
            "1 0 ExecutionStarted",
            "2 0 PassStateEntered",
            "3 2 ExecutionFailed"
        ]
    );
    assert_eq!(exec.error(), Some("States.Runtime"));
    assert_eq!(
        exec.cause(),
        Some("An error occurred while executing the state 'P' (entered at the event id #2). Invalid path '$.missing' : No results for path: $['missing']")
    );
}

#[test]
fn wait_seconds_path_errors_use_aws_wording() {
    let machine = Machine::from_json(&json!({
        "StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}
    }))
    .unwrap();
    let (exec, _) = Execution::start(&machine, json!({"s": -1}), info(), &at(0));
    assert_eq!(
        exec.cause(),
        Some("An error occurred while executing the state 'W' (entered at the event id #2). The SecondsPath parameter references a negative value: $.s == -1")
    );
    let (exec, d) = Execution::start(&machine, json!({"s": 0}), info(), &at(0));
    assert_eq!(
        exec.status(),
        Status::Succeeded,
        "a wait already due continues at once"
    );
    assert!(timers(&d).is_empty());
}

#[test]
fn execution_timeout_stop_and_limits() {
    let machine = Machine::from_json(&json!({
        "StartAt": "W", "TimeoutSeconds": 5,
        "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}
    }))
    .unwrap();
    let (mut exec, d) = Execution::start(&machine, json!({}), info(), &at(0));
    assert_eq!(timers(&d), [(1, 5_000), (2, 60_000)]);
    let d = exec.apply(&machine, Event::TimerFired { timer_id: 1 }, &at(5_000));
    assert_eq!(lines(&d), ["3 2 ExecutionTimedOut"]);
    assert_eq!(
        aws(&d, 3)["executionTimedOutEventDetails"]["error"],
        "States.Timeout"
    );
    assert_eq!(exec.status(), Status::TimedOut);
    assert_eq!(exec.error(), None, "DescribeExecution shows no error");
    assert!(d.commands.contains(&Command::CancelTimer { timer_id: 2 }));

    let (mut exec, _) = Execution::start(&machine, json!({}), info(), &at(0));
    let d = exec.apply(
        &machine,
        Event::Stop {
            error: Some("E".into()),
            cause: None,
        },
        &at(1),
    );
    assert_eq!(lines(&d), ["3 0 ExecutionAborted"]);
    assert_eq!(exec.status(), Status::Aborted);

    // A DELETING state machine's execution ends at its next transition, failed as AWS fails
    // it, and what it waited on is cancelled.
    let (mut exec, _) = Execution::start(&machine, json!({}), info(), &at(0));
    let d = exec.apply(&machine, Event::MachineDeleted, &at(2));
    assert_eq!(lines(&d), ["3 2 ExecutionFailed"]);
    assert_eq!(
        aws(&d, 3)["executionFailedEventDetails"],
        json!({"error": "States.Runtime", "cause": "State machine sm has been deleted."})
    );
    assert_eq!(exec.status(), Status::Failed);
    assert_eq!(exec.error(), Some("States.Runtime"));
    for timer_id in [1, 2] {
        assert!(d.commands.contains(&Command::CancelTimer { timer_id }));
    }

    let small = Limits {
        max_payload_bytes: 10,
        max_history_events: 25_000,
        ..Limits::default()
    };
    let pass = Machine::from_json(
        &json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
    )
    .unwrap();
    let (exec, _) =
        Execution::start_with_limits(&pass, json!({"long": "0123456789"}), info(), &at(0), small);
    assert_eq!(exec.error(), Some("States.DataLimitExceeded"));

    let chain = Machine::from_json(
        &json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "P"}}}),
    )
    .unwrap();
    let few = Limits {
        max_payload_bytes: 1024,
        max_history_events: 50,
        ..Limits::default()
    };
    let (exec, _) = Execution::start_with_limits(&chain, json!({}), info(), &at(0), few);
    assert_eq!(exec.error(), Some("States.Runtime"));
    // The limit is checked between steps; one Pass step adds two events, the failure one more.
    assert!(
        (50..=53).contains(&exec.event_count()),
        "{}",
        exec.event_count()
    );
}

#[test]
fn the_history_limit_applies_to_standard_executions_only() {
    // A Choice loop of 10,000 rounds: about 40,000 events.
    let machine = Machine::from_json(&json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericGreaterThanEquals": 10000, "Next": "Done"}],
            "Default": "Inc"},
        "Inc": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "C"},
        "Done": {"Type": "Succeed"}
    }}))
    .unwrap();
    let standard = info();
    let (exec, _) = Execution::start(&machine, json!({"n": 0}), standard.clone(), &at(0));
    assert_eq!(exec.status(), Status::Failed);
    assert_eq!(
        exec.cause(),
        Some("The execution reached the maximum number of history events (25000).")
    );
    let express = ExecutionInfo {
        machine_type: cairn_interpreter::MachineType::Express,
        ..standard.clone()
    };
    let (exec, _) = Execution::start(&machine, json!({"n": 0}), express, &at(0));
    assert_eq!(exec.status(), Status::Succeeded);
    assert!(exec.event_count() > 25_000);
    // A user may raise the Standard limit, beyond AWS.
    let raised = machine.clone().with_limits(Limits {
        max_history_events: 100_000,
        ..Limits::default()
    });
    let (exec, _) = Execution::start(&raised, json!({"n": 0}), standard, &at(0));
    assert_eq!(exec.status(), Status::Succeeded);
}

#[test]
fn inline_map_concurrency_is_capped_by_the_limit_setting() {
    let machine = |limit: usize| {
        Machine::from_json(&json!({"StartAt": "M", "States": {"M": {
            "Type": "Map", "End": true,
            "ItemProcessor": {"StartAt": "T", "States": {"T": {
                "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
                "End": true}}}}}}))
        .unwrap()
        .with_limits(Limits {
            max_inline_map_concurrency: limit,
            ..Limits::default()
        })
    };
    let items = json!((0..100).collect::<Vec<_>>());
    let (_, d) = Execution::start(&machine(40), items.clone(), info(), &at(0));
    assert_eq!(invoked(&d).len(), 40, "AWS's default: 40 at once");
    let (_, d) = Execution::start(&machine(64), items, info(), &at(0));
    assert_eq!(invoked(&d).len(), 64);
}

#[test]
fn result_writer_with_another_resource_fails_clearly() {
    let machine = Machine::from_json(&json!({
        "StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "ResultWriter": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b", "Prefix": "p"}},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}
    }))
    .unwrap();
    let (exec, _) = Execution::start(&machine, json!([]), info(), &at(0));
    assert_eq!(
        exec.cause(),
        Some("ResultWriter Resource arn:aws:states:::s3:getObject is not supported (state 'M')")
    );
}

#[test]
fn item_reader_asks_the_shell_and_batches_the_rows() {
    let machine = Machine::from_json(&json!({
        "StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                           "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "MaxItems": 3},
                           "Parameters": {"Bucket.$": "$.bucket", "Key": "rows.csv"}},
            "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"from.$": "$.bucket"}},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}
    }))
    .unwrap();
    let (mut exec, d) = Execution::start(&machine, json!({"bucket": "b"}), info(), &at(0));
    assert_eq!(
        lines(&d),
        [
            "1 0 ExecutionStarted",
            "2 0 MapStateEntered",
            "3 2 MapStateStarted",
            "4 3 MapRunStarted"
        ],
        "the read itself is not in the history"
    );
    match &d.commands[..] {
        [Command::InvokeTask {
            task_id: 1,
            resource,
            input,
            ..
        }] => {
            assert_eq!(resource, "arn:aws:states:::s3:getObject");
            assert_eq!(input, &json!({"Bucket": "b", "Key": "rows.csv"}));
        }
        other => panic!("unexpected {other:?}"),
    }
    let body = json!("id,name\n1,a\n2,b\n3,c\n4,d\n");
    let d = exec.apply(
        &machine,
        Event::TaskSucceeded {
            task_id: 1,
            output: body,
        },
        &at(1),
    );
    assert_eq!(
        lines(&d),
        [
            "5 4 MapRunSucceeded",
            "6 5 MapStateSucceeded",
            "7 4 MapStateExited",
            "8 7 ExecutionSucceeded"
        ]
    );
    assert_eq!(
        exec.output(),
        Some(&json!([
            {"BatchInput": {"from": "b"}, "Items": [{"id": "1", "name": "a"}, {"id": "2", "name": "b"}]},
            {"BatchInput": {"from": "b"}, "Items": [{"id": "3", "name": "c"}]}
        ]))
    );
}

#[test]
fn item_reader_failures_fail_the_map_run() {
    let machine = Machine::from_json(&json!({
        "StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                           "ReaderConfig": {"InputType": "JSON", "MaxItemsPath": "$.max"},
                           "Parameters": {"Bucket": "b", "Key": "k"}},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}
    }))
    .unwrap();
    let (exec, d) = Execution::start(&machine, json!({"max": -1}), info(), &at(0));
    assert_eq!(
        lines(&d),
        [
            "1 0 ExecutionStarted",
            "2 0 MapStateEntered",
            "3 2 MapStateStarted",
            "4 3 MapRunStarted",
            "5 4 MapRunFailed",
            "6 5 MapStateFailed",
            "7 6 ExecutionFailed"
        ]
    );
    assert_eq!(
        (exec.error(), exec.cause()),
        (
            Some("States.ItemReaderFailed"),
            Some("field MaxItems must be positive")
        )
    );
    let (mut exec, _) = Execution::start(&machine, json!({"max": 0}), info(), &at(0));
    let failed = Event::TaskFailed {
        task_id: 1,
        error: Some("S3.NoSuchKey".into()),
        cause: Some("gone".into()),
    };
    exec.apply(&machine, failed, &at(1));
    assert_eq!(
        (exec.error(), exec.cause()),
        (Some("States.ItemReaderFailed"), Some("gone"))
    );
}

#[test]
fn distributed_map_runs_children_outside_the_history() {
    let machine = Machine::from_json(&json!({
        "StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "Label": "run",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": true}}}}}
    }))
    .unwrap();
    let (exec, d) = Execution::start(&machine, json!([1, 2]), info(), &at(0));
    assert_eq!(
        lines(&d),
        [
            "1 0 ExecutionStarted",
            "2 0 MapStateEntered",
            "3 2 MapStateStarted",
            "4 3 MapRunStarted",
            "5 4 MapRunSucceeded",
            "6 5 MapStateSucceeded",
            "7 4 MapStateExited",
            "8 7 ExecutionSucceeded"
        ]
    );
    let arn = aws(&d, 4)["mapRunStartedEventDetails"]["mapRunArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        arn.starts_with("arn:aws:states:us-east-1:111111111111:mapRun:sm/run:"),
        "{arn}"
    );
    assert_eq!(exec.output(), Some(&json!([{"v": 1}, {"v": 2}])));
}

#[test]
fn map_settings_read_from_the_input() {
    let machine = Machine::from_json(&json!({
        "StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ItemsPath": "$.items",
            "MaxConcurrencyPath": "$.max",
            "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": true}}}}}
    }))
    .unwrap();
    let (_, d) = Execution::start(
        &machine,
        json!({"items": [1, 2, 3], "max": "2"}),
        info(),
        &at(0),
    );
    assert_eq!(
        invoked(&d),
        [(1, json!(1)), (2, json!(2))],
        "a numeric string is a valid MaxConcurrency"
    );
    let (exec, _) = Execution::start(
        &machine,
        json!({"items": [1], "max": "many"}),
        info(),
        &at(0),
    );
    assert_eq!(
        exec.cause(),
        Some("An error occurred while executing the state 'M' (entered at the event id #2). The MaxConcurrencyPath field refers to value \"many\" which is not a valid integer: $.max")
    );
}

#[test]
fn choice_without_a_match_or_default_fails() {
    let machine = Machine::from_json(&json!({
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "A"}]},
            "A": {"Type": "Succeed"}
        }
    }))
    .unwrap();
    let (exec, d) = Execution::start(&machine, json!({"x": 2}), info(), &at(0));
    assert_eq!(
        lines(&d),
        [
            "1 0 ExecutionStarted",
            "2 0 ChoiceStateEntered",
            "3 2 ExecutionFailed"
        ]
    );
    assert_eq!(exec.error(), Some("States.Runtime"));
    let (exec, _) = Execution::start(&machine, json!({"x": 1}), info(), &at(0));
    assert_eq!(exec.status(), Status::Succeeded);
}

#[test]
fn fail_state_paths() {
    let machine = Machine::from_json(&json!({
        "StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}}
    }))
    .unwrap();
    let (exec, d) = Execution::start(&machine, json!({"e": "E", "c": "C"}), info(), &at(0));
    assert_eq!(
        lines(&d),
        [
            "1 0 ExecutionStarted",
            "2 0 FailStateEntered",
            "3 2 ExecutionFailed"
        ]
    );
    assert_eq!((exec.error(), exec.cause()), (Some("E"), Some("C")));
    let (exec, _) = Execution::start(&machine, json!({"c": "C"}), info(), &at(0));
    assert_eq!(exec.error(), Some("States.Runtime"));
    assert_eq!(
        exec.cause(),
        Some("An error occurred while executing the state 'F' (entered at the event id #2). The JSONPath '$.e' specified for the field 'ErrorPath' could not be found in the input '{\"c\":\"C\"}'")
    );
}

#[test]
fn branch_variables_stay_in_their_branch() {
    let machine = Machine::from_json(&json!({
        "StartAt": "Par",
        "States": {
            "Par": {"Type": "Parallel", "Next": "After", "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {"inner": 1}, "End": true}}}
            ]},
            "After": {"Type": "Pass", "Parameters": {"v.$": "$inner"}, "End": true}
        }
    }))
    .unwrap();
    let (exec, _) = Execution::start(&machine, json!({}), info(), &at(0));
    assert_eq!(exec.error(), Some("States.Runtime"), "{:?}", exec.cause());
}

#[test]
fn retry_jitter_comes_from_the_seed() {
    let machine = Machine::from_json(&json!({
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": true,
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 100, "JitterStrategy": "FULL"}]}}
    }))
    .unwrap();
    let delay = |seed: u64| {
        let (mut exec, _) = Execution::start(&machine, json!({}), info(), &at(0));
        let failed = Event::TaskFailed {
            task_id: 1,
            error: Some("E".into()),
            cause: None,
        };
        let d = exec.apply(&machine, failed, &Context { now_ms: 0, seed });
        timers(&d).first().map(|t| t.1)
    };
    let (a, b) = (delay(1), delay(2));
    assert_eq!(a, delay(1), "the same seed gives the same backoff");
    assert_ne!(a, b);
    assert!(a.is_some_and(|ms| (0..=100_000).contains(&ms)), "{a:?}");
}

#[test]
fn oversized_task_result_is_a_catchable_data_limit_failure() {
    let machine = Machine::from_json(&json!({
        "StartAt": "T",
        "States": {
            "T": {"Type": "Task", "Resource": LAMBDA, "Next": "Done",
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}]},
            "Done": {"Type": "Succeed"}
        }
    }))
    .unwrap();
    let (mut exec, _) = Execution::start(&machine, json!({}), info(), &at(0));
    let big = json!("a".repeat(300 * 1024));
    let d = exec.apply(
        &machine,
        Event::TaskSucceeded {
            task_id: 1,
            output: big,
        },
        &at(1),
    );
    assert_eq!(d.history[0].event_type, "LambdaFunctionFailed");
    let cause = format!(
        "The state/task '{LAMBDA}' returned a result with a size exceeding the maximum number of bytes service limit."
    );
    assert_eq!(
        d.history[0].details,
        json!({"cause": cause, "error": "States.DataLimitExceeded"})
    );
    assert_eq!(
        exec.output(),
        Some(&json!({"Error": "States.DataLimitExceeded", "Cause": cause}))
    );
}

#[test]
fn jsonata_task_arguments_output_and_assign_see_states_and_entry_variables() {
    let machine = Machine::from_json(&json!({
        "QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"x": 1}, "Output": {"n": "{% $states.input.n %}"}, "Next": "T"},
            "T": {"Type": "Task", "Resource": LAMBDA,
                  "Arguments": {"v": "{% $states.input.n + $x %}", "name": "{% $states.context.State.Name %}"},
                  "Assign": {"x": "{% $states.result.r %}", "old": "{% $x %}"},
                  "Output": {"r": "{% $states.result.r %}", "x": "{% $x %}"},
                  "End": true}
        }
    }))
    .unwrap();
    let (mut exec, d) = Execution::start(&machine, json!({"n": 41}), info(), &at(0));
    assert_eq!(invoked(&d), [(1, json!({"v": 42, "name": "T"}))]);
    let d = exec.apply(
        &machine,
        Event::TaskSucceeded {
            task_id: 1,
            output: json!({"r": "done"}),
        },
        &at(5),
    );
    // Output reads the variables as they were when the state was entered.
    assert_eq!(
        finish(&d),
        Some((
            Status::Succeeded,
            Some(json!({"r": "done", "x": 1})),
            None,
            None
        ))
    );
    let exited = d
        .history
        .iter()
        .find(|e| e.event_type == "TaskStateExited")
        .map(|e| e.to_aws_json())
        .unwrap_or(Value::Null);
    assert_eq!(
        exited["stateExitedEventDetails"]["assignedVariables"],
        json!({"x": "\"done\"", "old": "1"})
    );
}

#[test]
fn jsonata_undefined_result_fails_with_evaluation_failed_event() {
    let machine = Machine::from_json(&json!({
        "QueryLanguage": "JSONata", "StartAt": "S", "States": {
            "S": {"Type": "Pass", "Assign": {"result": "{% $doesNotExist %}"}, "End": true}
        }
    }))
    .unwrap();
    let (_, d) = Execution::start(&machine, json!({}), info(), &at(0));
    assert_eq!(
        lines(&d),
        [
            "1 0 ExecutionStarted",
            "2 0 PassStateEntered",
            "3 0 EvaluationFailed",
            "4 3 ExecutionFailed"
        ]
    );
    let cause = "An error occurred while executing the state 'S' (entered at the event id #2). The JSONata expression '$doesNotExist' specified for the field 'Assign/result' returned nothing (undefined).";
    assert_eq!(
        aws(&d, 3)["evaluationFailedEventDetails"],
        json!({"cause": cause, "error": "States.QueryEvaluationError", "location": "Assign/result", "state": "S"})
    );
    assert_eq!(
        finish(&d),
        Some((
            Status::Failed,
            None,
            Some("States.QueryEvaluationError".into()),
            Some(cause.into())
        ))
    );
}

#[test]
fn jsonata_choice_map_and_catch() {
    let machine = Machine::from_json(&json!({
        "QueryLanguage": "JSONata", "StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [
                    {"Condition": "{% $states.input.go %}", "Output": {"items": [1, 2, 3]}, "Next": "M"}],
                  "Default": "F"},
            "M": {"Type": "Map", "Items": "{% $states.input.items %}",
                  "ItemSelector": {"v": "{% $states.context.Map.Item.Value * 10 %}", "i": "{% $states.context.Map.Item.Index %}"},
                  "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
                  "Output": "{% $sum($states.result.v) %}", "Next": "T"},
            "T": {"Type": "Task", "Resource": LAMBDA, "Arguments": {"total": "{% $states.input %}"},
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Output": {"caught": "{% $states.errorOutput.Error %}", "in": "{% $states.input %}"}, "Next": "Done"}],
                  "End": true},
            "Done": {"Type": "Succeed"},
            "F": {"Type": "Fail", "Error": "{% 'E' & $states.input.code %}", "Cause": "no"}
        }
    }))
    .unwrap();
    let (mut exec, d) = Execution::start(&machine, json!({"go": true}), info(), &at(0));
    assert_eq!(invoked(&d), [(1, json!({"total": 60}))]);
    let d = exec.apply(
        &machine,
        Event::TaskFailed {
            task_id: 1,
            error: Some("Boom".into()),
            cause: None,
        },
        &at(1),
    );
    assert_eq!(
        finish(&d).map(|f| f.1),
        Some(Some(json!({"caught": "Boom", "in": 60})))
    );
    let (_, d) = Execution::start(&machine, json!({"go": false, "code": 7}), info(), &at(0));
    assert_eq!(
        finish(&d),
        Some((Status::Failed, None, Some("E7".into()), Some("no".into())))
    );
    let (_, d) = Execution::start(&machine, json!({"go": 1}), info(), &at(0));
    assert_eq!(
        finish(&d).and_then(|f| f.3),
        Some("An error occurred while executing the state 'C' (entered at the event id #2). The JSONata expression '$states.input.go' specified for the field 'Condition' returned an unexpected result type. Expected 'boolean', but was 'number' for value: 1".into())
    );
}

#[test]
fn jsonata_now_and_random_come_from_the_context() {
    let machine = Machine::from_json(&json!({
        "QueryLanguage": "JSONata", "StartAt": "P", "States": {
            "P": {"Type": "Pass", "Output": {"t": "{% $millis() %}", "u": "{% $uuid() %}"}, "End": true}
        }
    }))
    .unwrap();
    let (_, a) = Execution::start(&machine, json!({}), info(), &at(1234));
    let (_, b) = Execution::start(&machine, json!({}), info(), &at(1234));
    let out = finish(&a).and_then(|f| f.1).unwrap_or(Value::Null);
    assert_eq!(out["t"], json!(1234));
    assert_eq!(out["u"].as_str().map(str::len), Some(36));
    assert_eq!(finish(&a), finish(&b), "same context, same values");
}

#[test]
fn a_variable_over_256_kib_is_refused() {
    let machine = Machine::from_json(&json!({
        "StartAt": "P", "States": {
            "P": {"Type": "Pass", "Assign": {"big.$": "$.s"}, "End": true}
        }
    }))
    .unwrap()
    // Payloads may be larger here, so that only the variable limit applies.
    .with_limits(Limits {
        max_payload_bytes: 1 << 20,
        ..Limits::default()
    });
    let (_, d) = Execution::start(
        &machine,
        json!({"s": "x".repeat(256 * 1024)}),
        info(),
        &at(0),
    );
    assert_eq!(
        finish(&d),
        Some((
            Status::Failed,
            None,
            Some("States.DataLimitExceeded".into()),
            Some("The state 'P' assigned the variable 'big' exceeding the maximum size of 262144 bytes.".into())
        ))
    );
    let (_, d) = Execution::start(&machine, json!({"s": "small"}), info(), &at(0));
    assert_eq!(finish(&d).map(|f| f.0), Some(Status::Succeeded));
}

#[test]
fn jsonata_wait_and_map_failures_record_evaluation_failed_as_aws_numbers_them() {
    let wait = Machine::from_json(&json!({
        "QueryLanguage": "JSONata", "StartAt": "W", "States": {
            "W": {"Type": "Wait", "Timestamp": "{% $states.input.t %}", "End": true}
        }
    }))
    .unwrap();
    let (_, d) = Execution::start(&wait, json!({"t": "2016-12-05T21:29:29"}), info(), &at(0));
    assert_eq!(
        lines(&d),
        [
            "1 0 ExecutionStarted",
            "2 0 WaitStateEntered",
            "3 2 EvaluationFailed",
            "4 3 ExecutionFailed"
        ]
    );
    assert_eq!(
        finish(&d).and_then(|f| f.3),
        Some("An error occurred while executing the state 'W' (entered at the event id #2). The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: 2016-12-05T21:29:29".into())
    );
    let (mut exec, d) =
        Execution::start(&wait, json!({"t": "2016-12-05T21:29:29Z"}), info(), &at(0));
    assert_eq!(
        finish(&d),
        None,
        "2016 lies ahead of the clock at 0: a timer"
    );
    let fired = timers(&d);
    assert_eq!(fired.len(), 1);
    let d = exec.apply(
        &wait,
        Event::TimerFired {
            timer_id: fired[0].0,
        },
        &at(1),
    );
    assert_eq!(finish(&d).map(|f| f.0), Some(Status::Succeeded));

    let map = Machine::from_json(&json!({
        "QueryLanguage": "JSONata", "StartAt": "M", "States": {
            "M": {"Type": "Map", "Items": "{% $states.input.x %}",
                  "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
                  "End": true}
        }
    }))
    .unwrap();
    let (_, d) = Execution::start(&map, json!({"x": {"foo": "bar"}}), info(), &at(0));
    assert_eq!(
        lines(&d),
        [
            "1 0 ExecutionStarted",
            "2 0 MapStateEntered",
            "3 0 EvaluationFailed",
            "4 3 MapStateFailed",
            "5 4 ExecutionFailed"
        ]
    );
    assert_eq!(
        aws(&d, 3)["evaluationFailedEventDetails"]["cause"],
        "An error occurred while executing the state 'M' (entered at the event id #2). The JSONata expression '$states.input.x' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'object' for value: {\"foo\":\"bar\"}"
    );
}

#[test]
fn jsonata_parallel_arguments_and_variable_scopes() {
    let machine = Machine::from_json(&json!({
        "QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"outer": 5}, "Next": "P"},
            "P": {"Type": "Parallel", "Arguments": {"v": "{% $outer %}"},
                  "Branches": [{"StartAt": "B", "States": {
                      "B": {"Type": "Pass", "Assign": {"inner": 1}, "Next": "C"},
                      "C": {"Type": "Pass", "Output": "{% $states.input.v + $outer + $inner %}", "End": true}}}],
                  "Output": {"r": "{% $states.result[0] %}", "inner": "{% $exists($inner) %}"},
                  "End": true}
        }
    }))
    .unwrap();
    let (_, d) = Execution::start(&machine, json!({}), info(), &at(0));
    // Branches read outer variables; their own vanish when the branch ends.
    assert_eq!(
        finish(&d).and_then(|f| f.1),
        Some(json!({"r": 11, "inner": false}))
    );
}

#[test]
fn distributed_map_iterations_cannot_read_outer_variables() {
    let machine = Machine::from_json(&json!({
        "QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"outer": 1}, "Next": "M"},
            "M": {"Type": "Map", "Items": [1],
                  "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                      "StartAt": "P", "States": {"P": {"Type": "Pass", "Output": "{% $outer %}", "End": true}}},
                  "End": true}
        }
    }))
    .unwrap();
    let (_, d) = Execution::start(&machine, json!({}), info(), &at(0));
    let (status, _, error, _) = finish(&d).unwrap_or((Status::Running, None, None, None));
    assert_eq!(status, Status::Failed);
    assert_eq!(
        error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold"),
        "the child execution fails: '$outer' is undefined there"
    );
    let inline = Machine::from_json(&json!({
        "QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"outer": 1}, "Next": "M"},
            "M": {"Type": "Map", "Items": [1],
                  "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "Output": "{% $outer %}", "End": true}}},
                  "End": true}
        }
    }))
    .unwrap();
    let (_, d) = Execution::start(&inline, json!({}), info(), &at(0));
    assert_eq!(finish(&d).and_then(|f| f.1), Some(json!([1])));
}

#[test]
fn map_items_moved_out_of_the_input_only_when_nothing_reads_them_again() {
    let map = |output_path: &str| {
        Machine::from_json(
            &json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "ItemsPath": "$.items", "ResultPath": "$.r", "OutputPath": output_path,
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}}),
        )
        .unwrap()
    };
    let input = json!({"items": [1, 2], "keep": true});
    let (_, d) = Execution::start(&map("$.r"), input.clone(), info(), &at(0));
    assert_eq!(finish(&d).and_then(|f| f.1), Some(json!([1, 2])));
    let (_, d) = Execution::start(&map("$"), input, info(), &at(0));
    assert_eq!(
        finish(&d).and_then(|f| f.1),
        Some(json!({"items": [1, 2], "keep": true, "r": [1, 2]}))
    );
}

// ----- nondeterminism: a state that contradicts its machine or event is reported -----

fn lambda_task(next: Option<&str>) -> Value {
    let mut state =
        json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f"});
    match next {
        Some(n) => state["Next"] = json!(n),
        None => state["End"] = json!(true),
    }
    state
}

#[test]
fn a_state_index_the_machine_lacks_fails_the_execution_instead_of_hanging() {
    let long = Machine::from_json(&json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Pass", "Next": "T"},
        "T": lambda_task(None),
    }}))
    .unwrap();
    let (mut exec, first) = Execution::start(&long, json!({}), info(), &at(1_000));
    let (task_id, _) = invoked(&first)[0].clone();
    // The same execution state resumed with a definition of fewer states (an update the
    // shell failed to pin to the execution's version).
    let short =
        Machine::from_json(&json!({"StartAt": "T", "States": {"T": lambda_task(None)}})).unwrap();
    let decision = exec.apply(
        &short,
        Event::TaskSucceeded {
            task_id,
            output: json!(1),
        },
        &at(2_000),
    );
    let what = decision.nondeterminism.clone().expect("reported");
    assert!(what.contains("thread"), "{what}");
    let (status, _, error, cause) = finish(&decision).expect("the execution ends");
    assert_eq!(status, Status::Failed);
    assert_eq!(error.as_deref(), Some("States.Runtime"));
    assert!(cause.unwrap_or_default().contains("does not match"));
    assert!(lines(&decision)
        .last()
        .unwrap()
        .ends_with("ExecutionFailed"));
}

#[test]
fn a_timer_held_for_a_thread_that_does_not_wait_on_it_is_reported() {
    let machine = Machine::from_json(&json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 5, "Next": "T"},
        "T": lambda_task(None),
    }}))
    .unwrap();
    let (exec, first) = Execution::start(&machine, json!({}), info(), &at(1_000));
    let (timer_id, _) = timers(&first)[0];
    // Corrupt the stored state: the Wait timer now claims to belong to another thread.
    let mut stored = serde_json::to_value(&exec).unwrap();
    let timers = stored["timers"].as_object_mut().expect("timers map");
    let purpose = timers
        .get_mut(&timer_id.to_string())
        .expect("the wait timer");
    *purpose = json!({"Wait": 99});
    let mut exec: Execution = serde_json::from_value(stored).unwrap();
    let decision = exec.apply(&machine, Event::TimerFired { timer_id }, &at(6_000));
    assert!(decision.nondeterminism.is_some());
    assert_eq!(exec.status(), Status::Failed);
    assert_eq!(exec.error(), Some("States.Runtime"));
}

#[test]
fn late_answers_for_ended_tasks_and_cancelled_timers_stay_quiet() {
    let machine = Machine::from_json(&json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
              "TimeoutSeconds": 5, "Next": "W"},
        "W": {"Type": "Wait", "Seconds": 100, "End": true},
    }}))
    .unwrap();
    let (mut exec, first) = Execution::start(&machine, json!({}), info(), &at(1_000));
    let (task_id, _) = invoked(&first)[0].clone();
    let (timeout_timer, _) = timers(&first)[0];
    let done = exec.apply(
        &machine,
        Event::TaskSucceeded {
            task_id,
            output: json!(1),
        },
        &at(2_000),
    );
    assert!(done.nondeterminism.is_none());
    // A duplicate answer and the cancelled TimeoutSeconds timer change nothing.
    for event in [
        Event::TaskSucceeded {
            task_id,
            output: json!(2),
        },
        Event::TimerFired {
            timer_id: timeout_timer,
        },
    ] {
        let d = exec.apply(&machine, event, &at(3_000));
        assert_eq!(d, Decision::default());
    }
    assert_eq!(exec.status(), Status::Running);
}

#[test]
fn a_redelivered_task_started_or_submitted_records_nothing_more() {
    let machine = Machine::from_json(&json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
        "End": true}}}))
    .unwrap();
    let (mut exec, first) = Execution::start(&machine, json!({}), info(), &at(0));
    let (task_id, _) = invoked(&first)[0].clone();
    let started = Event::TaskStarted {
        task_id,
        worker_name: None,
    };
    let submitted = Event::TaskSubmitted {
        task_id,
        output: json!({"MessageId": "m"}),
    };
    let once = exec.apply(&machine, started.clone(), &at(1));
    assert_eq!(lines(&once), ["4 3 TaskStarted"]);
    assert_eq!(exec.apply(&machine, started, &at(2)), Decision::default());
    let once = exec.apply(&machine, submitted.clone(), &at(3));
    assert_eq!(lines(&once), ["5 4 TaskSubmitted"]);
    assert_eq!(exec.apply(&machine, submitted, &at(4)), Decision::default());
    let done = exec.apply(
        &machine,
        Event::TaskSucceeded {
            task_id,
            output: json!({"ok": true}),
        },
        &at(5),
    );
    assert_eq!(
        lines(&done),
        [
            "6 5 TaskSucceeded",
            "7 6 TaskStateExited",
            "8 7 ExecutionSucceeded"
        ]
    );
}
