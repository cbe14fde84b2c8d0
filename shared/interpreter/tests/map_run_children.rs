//! A Distributed Map whose children are executions of their own (a shell that declared
//! `Capabilities::map_run_children`): the parent asks for each child with a command, keeps
//! MaxConcurrency by the children under way, learns of their ends as task events, stops the
//! ones under way when it gives up, and writes the same history as when its children ran
//! inside it.

use cairn_interpreter::{
    Capabilities, Command, Decision, Event, Execution, ExecutionInfo, Machine, MachineType,
    MapRunChildStart,
};
use serde_json::{json, Value};

mod support;
use support::{at, info};

const OUTSIDE: Capabilities = Capabilities {
    map_run_children: true,
    express_map_run_children: true,
};

fn machine(processor: Value, extra: Value) -> Machine {
    let mut map = json!({"Type": "Map", "Label": "Rows", "Next": "After",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
        "StartAt": "Check", "States": processor}});
    for (k, v) in extra.as_object().unwrap() {
        map[k] = v.clone();
    }
    Machine::from_json(&json!({"StartAt": "M", "TimeoutSeconds": 5, "States": {
        "M": map,
        "After": {"Type": "Pass", "End": true}
    }}))
    .unwrap()
}

/// Fails the items that say `bad`, doubles the others.
fn checking() -> Value {
    json!({
        "Check": {"Type": "Choice", "Choices": [{"And": [{"Variable": "$.bad", "IsPresent": true}, {"Variable": "$.bad", "BooleanEquals": true}], "Next": "Boom"}], "Default": "Ok"},
        "Boom": {"Type": "Fail", "Error": "Bad.Row", "Cause": "row is bad"},
        "Ok": {"Type": "Pass", "Parameters": {"double.$": "States.MathAdd($.n, $.n)"}, "End": true}
    })
}

fn children(d: &Decision) -> Vec<MapRunChildStart> {
    d.commands
        .iter()
        .filter_map(|c| match c {
            Command::StartMapRunChild(start) => Some((**start).clone()),
            _ => None,
        })
        .collect()
}

fn cancelled(d: &Decision) -> Vec<u64> {
    d.commands
        .iter()
        .filter_map(|c| match c {
            Command::CancelTask { task_id } => Some(*task_id),
            _ => None,
        })
        .collect()
}

/// Each event as `type details`, ids and times left out (they are compared by shape).
fn shapes(history: &[Decision]) -> Vec<String> {
    history
        .iter()
        .flat_map(|d| d.history.iter())
        .map(|e| {
            let mut details = e.details.to_value();
            // Run ids and child names are entropy: the same seed gives the same ones, but
            // the two modes draw them at other points.
            if let Some(arn) = details.get_mut("mapRunArn") {
                *arn = json!(arn.as_str().unwrap().rsplit_once(':').unwrap().0);
            }
            format!("{} {} {}", e.id, e.previous_event_id, e.event_type) + &format!(" {details}")
        })
        .collect()
}

/// Runs a child the way a shell does: on the parent's machine, from its processor.
fn run_child(m: &Machine, start: &MapRunChildStart, now: i64) -> (Execution, Decision) {
    let child_info = ExecutionInfo {
        execution_arn: start.execution_arn.clone(),
        name: start.name.clone(),
        state_machine_arn: start.state_machine_arn.clone(),
        state_machine_name: "sm/Rows".into(),
        role_arn: info().role_arn,
        start_time_ms: now,
        machine_type: start.machine_type,
        redrive_count: Some(0),
    };
    Execution::start_map_run_child(
        m,
        start.processor,
        start.input.clone(),
        child_info,
        &at(now),
        OUTSIDE,
    )
}

fn report(child: &Execution, task_id: u64) -> Event {
    match child.status() {
        cairn_interpreter::Status::Succeeded => Event::TaskSucceeded {
            task_id,
            output: child.output().cloned().unwrap(),
        },
        _ => Event::TaskFailed {
            task_id,
            error: child.error().map(str::to_string),
            cause: child.cause().map(str::to_string),
        },
    }
}

#[test]
fn children_are_commands_under_max_concurrency_and_the_history_is_the_inline_one() {
    let m = machine(checking(), json!({"MaxConcurrency": 2}));
    let items = json!([{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}, {"n": 5}]);
    let (mut exec, first) =
        Execution::start_with_capabilities(&m, items.clone(), info(), &at(10), OUTSIDE);
    let started = children(&first);
    assert_eq!(started.len(), 2, "MaxConcurrency 2: {:?}", first.commands);
    let run_arn = started[0].map_run_arn.clone();
    assert!(run_arn.starts_with("arn:aws:states:us-east-1:111111111111:mapRun:sm/Rows:"));
    for (start, n) in started.iter().zip([1, 2]) {
        assert_eq!(start.input, json!({"n": n}));
        assert_eq!(start.machine_type, MachineType::Express);
        assert_eq!(start.state_name, "M");
        assert_eq!(
            start.state_machine_arn,
            "arn:aws:states:us-east-1:111111111111:stateMachine:sm/Rows"
        );
        assert_eq!(
            start.execution_arn,
            format!(
                "arn:aws:states:us-east-1:111111111111:execution:sm/Rows:{}",
                start.name
            )
        );
    }
    assert_ne!(started[0].name, started[1].name);

    // The child runs on the parent's machine from the ItemProcessor, with a history of its own.
    let (child, child_start) = run_child(&m, &started[0], 11);
    let types: Vec<&str> = child_start.history.iter().map(|e| &*e.event_type).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert_eq!(child.output(), Some(&json!({"double": 2})));
    assert!(
        !child_start
            .commands
            .iter()
            .any(|c| matches!(c, Command::StartTimer { .. })),
        "the parent's TimeoutSeconds is not the child's"
    );

    // Each end lets one more child start, never more than two at a time.
    let mut decisions = vec![first];
    let mut open = started;
    let mut now = 20;
    let mut outputs = Vec::new();
    while let Some(start) = open.first().cloned() {
        open.remove(0);
        let (child, _) = run_child(&m, &start, now);
        outputs.push(child.output().cloned());
        let d = exec.apply(&m, report(&child, start.task_id), &at(now));
        open.extend(children(&d));
        assert!(open.len() <= 2, "{open:?}");
        decisions.push(d);
        now += 10;
    }
    assert_eq!(
        exec.output(),
        Some(&json!([{"double": 2}, {"double": 4}, {"double": 6}, {"double": 8}, {"double": 10}]))
    );
    let runs = exec.map_runs();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].succeeded, runs[0].total), (5, 5));
    assert_eq!(runs[0].map_run_arn, run_arn);

    // The same run with its children inside the parent writes the same history (its Pass
    // children end within the decision that starts them).
    let (inline, d) = Execution::start(&m, items, info(), &at(10));
    assert_eq!(inline.status(), cairn_interpreter::Status::Succeeded);
    assert_eq!(shapes(&decisions), shapes(&[d]));
}

#[test]
fn a_failure_beyond_tolerance_stops_the_children_under_way() {
    let m = machine(checking(), json!({"MaxConcurrency": 3}));
    let items = json!([{"n": 1, "bad": true}, {"n": 2}, {"n": 3}, {"n": 4}]);
    let (mut exec, d) = Execution::start_with_capabilities(&m, items, info(), &at(0), OUTSIDE);
    let started = children(&d);
    assert_eq!(started.len(), 3);
    let (child, _) = run_child(&m, &started[0], 1);
    assert_eq!(child.error(), Some("Bad.Row"));
    let d = exec.apply(&m, report(&child, started[0].task_id), &at(2));
    let mut stopped = cancelled(&d);
    stopped.sort_unstable();
    assert_eq!(stopped, [started[1].task_id, started[2].task_id]);
    assert!(children(&d).is_empty());
    let types: Vec<&str> = d.history.iter().map(|e| &*e.event_type).collect();
    assert_eq!(
        types,
        ["MapRunFailed", "MapStateFailed", "ExecutionFailed"],
        "{:?}",
        d.history
    );
    assert_eq!(exec.error(), Some("States.ExceedToleratedFailureThreshold"));
    let run = &exec.map_runs()[0];
    assert_eq!(
        (run.status.as_str(), run.failed, run.aborted, run.pending),
        ("FAILED", 1, 2, 1),
        "the stopped children are aborted, as they are inline"
    );
    // A stopped child that reports its end afterwards changes nothing.
    let late = exec.apply(
        &m,
        Event::TaskFailed {
            task_id: started[1].task_id,
            error: Some("States.Aborted".into()),
            cause: None,
        },
        &at(3),
    );
    assert_eq!(late, Decision::default());
}

#[test]
fn tolerated_failures_count_and_the_run_goes_on() {
    let m = machine(
        checking(),
        json!({"MaxConcurrency": 1, "ToleratedFailureCount": 1}),
    );
    let items = json!([{"n": 1, "bad": true}, {"n": 2}]);
    let (mut exec, d) = Execution::start_with_capabilities(&m, items, info(), &at(0), OUTSIDE);
    let [first] = &children(&d)[..] else {
        panic!("{:?}", d.commands)
    };
    let (child, _) = run_child(&m, first, 1);
    let d = exec.apply(&m, report(&child, first.task_id), &at(2));
    let [second] = &children(&d)[..] else {
        panic!("{:?}", d.commands)
    };
    assert!(d.history.is_empty(), "{:?}", d.history);
    let (child, _) = run_child(&m, second, 3);
    exec.apply(&m, report(&child, second.task_id), &at(4));
    assert_eq!(exec.status(), cairn_interpreter::Status::Succeeded);
    assert_eq!(
        exec.output(),
        Some(&json!([{"Error": "Bad.Row", "Cause": "row is bad"}, {"double": 4}]))
    );
}

#[test]
fn stopping_the_parent_stops_its_children_and_keeps_none_to_hand_over() {
    let m = machine(checking(), json!({}));
    let items = json!([{"n": 1}, {"n": 2}]);
    let (mut exec, d) = Execution::start_with_capabilities(&m, items, info(), &at(0), OUTSIDE);
    let started = children(&d);
    assert_eq!(started.len(), 2);
    let d = exec.apply(
        &m,
        Event::Stop {
            error: None,
            cause: None,
        },
        &at(5),
    );
    let mut stopped = cancelled(&d);
    stopped.sort_unstable();
    assert_eq!(stopped, [started[0].task_id, started[1].task_id]);
    let runs = exec.detach_map_run_children();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, "ABORTED");
    assert!(
        runs[0].children.is_empty(),
        "the shell stored them as they ran"
    );
    assert_eq!(exec.map_runs()[0].aborted, 2);
}

#[test]
fn without_the_capability_the_children_run_inside() {
    let m = machine(checking(), json!({}));
    let (exec, d) = Execution::start(&m, json!([{"n": 1}]), info(), &at(0));
    assert!(children(&d).is_empty());
    assert_eq!(exec.output(), Some(&json!([{"double": 2}])));
    let persisted = serde_json::to_string(&exec).unwrap();
    assert!(!persisted.contains("capabilities"), "{persisted}");
}

#[test]
fn express_children_stay_inside_unless_the_shell_runs_them_too() {
    let m = machine(checking(), json!({}));
    let standard_only = Capabilities {
        map_run_children: true,
        express_map_run_children: false,
    };
    let (exec, d) =
        Execution::start_with_capabilities(&m, json!([{"n": 1}]), info(), &at(0), standard_only);
    assert!(children(&d).is_empty(), "{:?}", d.commands);
    assert_eq!(exec.output(), Some(&json!([{"double": 2}])));
}
