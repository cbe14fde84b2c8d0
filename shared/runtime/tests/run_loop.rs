//! The run loop driving the real interpreter: virtual and real time, task results, timeouts,
//! unsupported resources, and resuming from JSON between events.

use std::sync::Arc;
use std::time::Instant;

use cairn_interpreter::{Machine, Status};
use cairn_runtime::{
    run_to_completion, RunOptions, RunResult, ScriptedLambda, TaskInvoker, TimeMode, Unsupported,
};
use serde_json::{json, Value};

const START: i64 = 1_700_000_000_000;

fn run(
    definition: Value,
    input: Value,
    invoker: Arc<dyn TaskInvoker>,
    options: RunOptions,
) -> RunResult {
    let machine = Machine::from_json(&definition).expect("definition loads");
    run_to_completion(&machine, input, invoker, &options).expect("run ends")
}

fn virtual_options() -> RunOptions {
    RunOptions {
        start_time_ms: Some(START),
        ..RunOptions::default()
    }
}

fn functions() -> Arc<dyn TaskInvoker> {
    Arc::new(
        ScriptedLambda::from_json(&json!([
            {"name": "echo", "arn": "arn:aws:lambda:us-east-1:111111111111:function:echo", "behaviour": "echo"},
            {"name": "slow", "arn": "arn:aws:lambda:us-east-1:111111111111:function:slow",
             "behaviour": "sleep_then_echo", "seconds": 60},
        ]), "us-east-1", "111111111111")
        .expect("functions"),
    )
}

fn types(run: &RunResult) -> Vec<&str> {
    run.history.iter().map(|e| &*e.event_type).collect()
}

#[test]
fn virtual_time_waits_without_sleeping_but_timestamps_advance() {
    let definition =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}});
    let wall = Instant::now();
    let result = run(
        definition,
        json!({"a": 1}),
        Arc::new(Unsupported),
        virtual_options(),
    );
    assert!(wall.elapsed().as_secs() < 5);
    assert_eq!(result.status, Status::Succeeded);
    assert_eq!(result.output.as_deref(), Some(&json!({"a": 1})));
    let last = result.history.last().expect("history");
    assert_eq!(last.event_type, "ExecutionSucceeded");
    assert_eq!(last.timestamp_ms - START, 3_600_000);
    assert_eq!(result.end_ms - result.start_ms, 3_600_000);
}

#[test]
fn real_time_waits_on_the_clock() {
    let definition =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": true}}});
    let options = RunOptions {
        time: TimeMode::Real,
        ..RunOptions::default()
    };
    let wall = Instant::now();
    let result = run(definition, json!({}), Arc::new(Unsupported), options);
    assert!(
        wall.elapsed().as_millis() >= 990,
        "took {:?}",
        wall.elapsed()
    );
    assert_eq!(result.status, Status::Succeeded);
}

#[test]
fn lambda_results_are_fed_back() {
    let definition = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:echo", "End": true}}});
    for time in [TimeMode::Virtual, TimeMode::Real] {
        let options = RunOptions {
            time,
            ..virtual_options()
        };
        let result = run(
            definition.clone(),
            json!({"x": [1, 2]}),
            functions(),
            options,
        );
        assert_eq!(result.status, Status::Succeeded, "{time:?}");
        assert_eq!(result.output.as_deref(), Some(&json!({"x": [1, 2]})));
        assert_eq!(
            types(&result),
            [
                "ExecutionStarted",
                "TaskStateEntered",
                "LambdaFunctionScheduled",
                "LambdaFunctionStarted",
                "LambdaFunctionSucceeded",
                "TaskStateExited",
                "ExecutionSucceeded"
            ]
        );
    }
}

#[test]
fn a_task_slower_than_its_timeout_times_out_in_virtual_time() {
    let definition = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:slow",
        "TimeoutSeconds": 5, "End": true}}});
    let result = run(definition, json!({}), functions(), virtual_options());
    assert_eq!(result.status, Status::Failed);
    assert_eq!(result.error.as_deref(), Some("States.Timeout"));
    assert_eq!(result.end_ms - START, 5_000);
}

#[test]
fn unsupported_resources_fail_catchably() {
    let definition = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
              "Parameters": {"QueueUrl": "q", "MessageBody": "m"},
              "Catch": [{"ErrorEquals": ["Cairn.UnsupportedResource"], "Next": "Handled"}], "End": true},
        "Handled": {"Type": "Pass", "End": true}}});
    let result = run(
        definition,
        json!({}),
        Arc::new(Unsupported),
        virtual_options(),
    );
    assert_eq!(result.status, Status::Succeeded);
    let output = result.output.expect("output");
    assert_eq!(output["Error"], "Cairn.UnsupportedResource");
    assert!(output["Cause"]
        .as_str()
        .is_some_and(|c| c.contains("arn:aws:states:::sqs:sendMessage")));
}

#[test]
fn resuming_from_json_between_events_changes_nothing() {
    let definition = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "M", "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:111111111111:function:echo", "End": true}}},
            {"StartAt": "B", "States": {"B": {"Type": "Wait", "Seconds": 2, "End": true}}}]},
        "M": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "I", "States": {
            "I": {"Type": "Pass", "Parameters": {"item.$": "$"}, "End": true}}}}}});
    let plain = run(
        definition.clone(),
        json!({"k": 1}),
        functions(),
        virtual_options(),
    );
    let stepped = run(
        definition,
        json!({"k": 1}),
        functions(),
        RunOptions {
            step_by_step: true,
            ..virtual_options()
        },
    );
    assert_eq!(
        plain.status,
        Status::Succeeded,
        "{:?} {:?}",
        plain.error,
        plain.cause
    );
    assert_eq!(plain, stepped);
}

#[test]
fn the_same_seed_gives_the_same_run_and_another_seed_other_uuids() {
    let definition = json!({"StartAt": "U", "States": {"U": {"Type": "Pass",
        "Parameters": {"id.$": "States.UUID()"}, "End": true}}});
    let a = run(
        definition.clone(),
        json!({}),
        Arc::new(Unsupported),
        virtual_options(),
    );
    let b = run(
        definition.clone(),
        json!({}),
        Arc::new(Unsupported),
        virtual_options(),
    );
    let c = run(
        definition,
        json!({}),
        Arc::new(Unsupported),
        RunOptions {
            seed: 99,
            ..virtual_options()
        },
    );
    assert_eq!(a, b);
    assert_ne!(a.output, c.output);
}

/// Blocks its worker thread, as a real remote call does.
struct Blocking;

impl TaskInvoker for Blocking {
    fn invoke(&self, request: &cairn_runtime::TaskRequest) -> cairn_runtime::TaskOutcome {
        std::thread::sleep(std::time::Duration::from_millis(500));
        cairn_runtime::TaskOutcome::now(Ok(request.input.clone()))
    }
}

#[test]
fn under_real_time_parallel_tasks_run_at_once() {
    let task = json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f", "End": true});
    let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "A", "States": {"A": task.clone()}},
        {"StartAt": "B", "States": {"B": task}}]}}});
    let options = RunOptions {
        time: TimeMode::Real,
        ..RunOptions::default()
    };
    let wall = Instant::now();
    let result = run(definition, json!(7), Arc::new(Blocking), options);
    assert_eq!(result.status, Status::Succeeded, "{:?}", result.cause);
    assert_eq!(result.output.as_deref(), Some(&json!([7, 7])));
    assert!(
        wall.elapsed().as_millis() < 950,
        "took {:?}",
        wall.elapsed()
    );
}

#[test]
fn a_stop_aborts_a_waiting_execution() {
    let definition =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}});
    let options = RunOptions {
        stop_after_ms: Some(1000),
        ..virtual_options()
    };
    let result = run(definition, json!({}), Arc::new(Unsupported), options);
    assert_eq!(result.status, Status::Aborted);
    assert_eq!(
        types(&result),
        ["ExecutionStarted", "WaitStateEntered", "ExecutionAborted"]
    );
    assert_eq!(result.end_ms - START, 1000);
}

#[test]
fn a_callback_task_waits_for_its_token_until_its_timeout() {
    let definition = json!({"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "TimeoutSeconds": 30,
        "Parameters": {"FunctionName": "echo", "Payload": {"token.$": "$$.Task.Token"}},
        "End": true}}});
    let result = run(
        definition.clone(),
        json!({}),
        functions(),
        virtual_options(),
    );
    // The function's answer only submitted the work; nobody sent the token back.
    assert_eq!(result.status, Status::Failed);
    assert_eq!(result.error.as_deref(), Some("States.Timeout"));
    assert_eq!(
        types(&result)[2..6],
        [
            "TaskScheduled",
            "TaskStarted",
            "TaskSubmitted",
            "TaskTimedOut"
        ]
    );
    assert_eq!(result.end_ms - result.start_ms, 30_000);
    // TestState's way: the answer is the state's result.
    let answered = run(
        definition,
        json!({}),
        functions(),
        RunOptions {
            wait_for_callbacks: false,
            ..virtual_options()
        },
    );
    assert_eq!(answered.status, Status::Succeeded);
    assert!(types(&answered).contains(&"TaskSucceeded"));
}
