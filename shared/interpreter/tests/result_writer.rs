//! A Distributed Map's ResultWriter, driven by hand: the write is one command outside the
//! history, and its answer ends the Map with AWS's ResultWriterDetails.

use cairn_interpreter::{Command, Decision, Event, Execution, Machine};
use serde_json::{json, Value};

mod support;
use support::{at, info, lines};

fn machine(extra: Value) -> Machine {
    let mut map = json!({"Type": "Map", "End": true, "Label": "Map",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": true}}}});
    for (k, v) in extra.as_object().unwrap() {
        map[k] = v.clone();
    }
    Machine::from_json(&json!({"StartAt": "M", "States": {"M": map}})).unwrap()
}

/// The only write command of a decision: (task id, resource, input).
fn write(d: &Decision) -> (u64, String, Value) {
    let found: Vec<_> = d
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::InvokeTask {
                task_id,
                resource,
                input,
                ..
            } => Some((*task_id, resource.clone(), input.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(found.len(), 1, "{:?}", d.commands);
    found.into_iter().next().unwrap()
}

fn body(input: &Value, suffix: &str) -> Value {
    let objects = input["Objects"].as_array().unwrap();
    let found = objects
        .iter()
        .find(|o| o["Key"].as_str().unwrap().ends_with(suffix))
        .unwrap_or_else(|| panic!("no {suffix} in {input}"));
    serde_json::from_str(found["Body"].as_str().unwrap()).unwrap()
}

#[test]
fn results_go_to_s3_and_the_map_returns_the_manifest() {
    let m = machine(
        json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket.$": "$.bucket", "Prefix": "jobs"}}, "ItemsPath": "$.items"}),
    );
    let (mut exec, d) = Execution::start(
        &m,
        json!({"bucket": "out", "items": [1, 2, 3]}),
        info(),
        &at(0),
    );
    let (task_id, resource, input) = write(&d);
    assert_eq!(resource, "arn:aws:states:::s3:putObject");
    assert_eq!(input["Bucket"], json!("out"));
    let keys: Vec<&str> = input["Objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["Key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys.len(),
        2,
        "{keys:?}: no FAILED or PENDING file when none"
    );
    assert!(keys[0].starts_with("jobs/") && keys[0].ends_with("/SUCCEEDED_0.json"));
    assert!(keys[1].ends_with("/manifest.json"));
    let manifest = body(&input, "manifest.json");
    let run_arn = manifest["MapRunArn"].as_str().unwrap().to_string();
    assert!(run_arn.starts_with("arn:aws:states:us-east-1:111111111111:mapRun:sm/Map:"));
    let run_id = run_arn.rsplit(':').next().unwrap();
    assert_eq!(keys[1], format!("jobs/{run_id}/manifest.json"));
    assert_eq!(manifest["DestinationBucket"], json!("out"));
    assert_eq!(manifest["ResultFiles"]["FAILED"], json!([]));
    let succeeded = body(&input, "SUCCEEDED_0.json");
    assert_eq!(succeeded.as_array().unwrap().len(), 3);
    assert_eq!(succeeded[2]["Output"], json!("{\"v\":3}"));
    assert_eq!(succeeded[2]["Input"], json!("3"));
    assert_eq!(succeeded[2]["Status"], json!("SUCCEEDED"));
    assert!(succeeded[2]["ExecutionArn"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:states:us-east-1:111111111111:execution:sm/Map:"));
    assert_eq!(
        lines(&d).last().unwrap(),
        "4 3 MapRunStarted",
        "not done before the write"
    );

    let d = exec.apply(
        &m,
        Event::TaskSucceeded {
            task_id,
            output: json!({}),
        },
        &at(5),
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
        Some(&json!({"MapRunArn": run_arn,
            "ResultWriterDetails": {"Bucket": "out", "Key": format!("jobs/{run_id}/manifest.json")}}))
    );
}

#[test]
fn a_failed_write_fails_the_map_run() {
    let m = machine(
        json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": "out", "Prefix": "p/"}}}),
    );
    let (mut exec, d) = Execution::start(&m, json!([1]), info(), &at(0));
    let (task_id, _, _) = write(&d);
    let d = exec.apply(
        &m,
        Event::TaskFailed {
            task_id,
            error: Some("S3.NoSuchBucket".into()),
            cause: Some("no bucket".into()),
        },
        &at(1),
    );
    assert_eq!(
        lines(&d),
        [
            "5 4 MapRunFailed",
            "6 5 MapStateFailed",
            "7 6 ExecutionFailed"
        ]
    );
    assert_eq!(
        (exec.error(), exec.cause()),
        (Some("States.ResultWriterFailed"), Some("no bucket"))
    );
}

#[test]
fn writer_config_alone_shapes_the_output() {
    let m = Machine::from_json(
        &json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "ResultWriter": {"WriterConfig": {"Transformation": "FLATTEN", "OutputType": "JSON"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
        "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}}),
    )
    .unwrap();
    let (exec, d) = Execution::start(&m, json!([[1, 2], [3], 4]), info(), &at(0));
    assert!(d
        .commands
        .iter()
        .all(|c| !matches!(c, Command::InvokeTask { .. })));
    assert_eq!(exec.output(), Some(&json!([1, 2, 3, 4])));
}

#[test]
fn exceeding_the_tolerated_failures_writes_failed_and_pending_first() {
    let m = Machine::from_json(&json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "MaxConcurrency": 1, "ToleratedFailureCount": 0,
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": ""}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "why"}}}}}}))
    .unwrap();
    let (mut exec, d) = Execution::start(&m, json!([1, 2, 3]), info(), &at(0));
    let (task_id, _, input) = write(&d);
    let failed = body(&input, "FAILED_0.json");
    assert_eq!(failed.as_array().unwrap().len(), 1);
    assert_eq!(
        (
            &failed[0]["Error"],
            &failed[0]["Cause"],
            &failed[0]["Status"]
        ),
        (&json!("Boom"), &json!("why"), &json!("FAILED"))
    );
    assert_eq!(body(&input, "PENDING_0.json").as_array().unwrap().len(), 2);
    let manifest = body(&input, "manifest.json");
    assert_eq!(manifest["ResultFiles"]["SUCCEEDED"], json!([]));
    exec.apply(
        &m,
        Event::TaskSucceeded {
            task_id,
            output: json!({}),
        },
        &at(1),
    );
    assert_eq!(exec.error(), Some("States.ExceedToleratedFailureThreshold"));
}

#[test]
fn map_runs_are_viewed_while_running_and_after() {
    let m = Machine::from_json(&json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "Label": "L", "MaxConcurrency": 2, "ToleratedFailurePercentage": 50,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f", "End": true}}}}}}))
    .unwrap();
    let (mut exec, d) = Execution::start(&m, json!([1, 2, 3]), info(), &at(10));
    let tasks: Vec<u64> = d
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::InvokeTask { task_id, .. } => Some(*task_id),
            _ => None,
        })
        .collect();
    assert_eq!(tasks.len(), 2);
    let [run] = &exec.map_runs()[..] else {
        panic!("{:?}", exec.map_runs())
    };
    assert!(run
        .map_run_arn
        .starts_with("arn:aws:states:us-east-1:111111111111:mapRun:sm/L:"));
    assert_eq!(
        (
            run.status.as_str(),
            run.total,
            run.running,
            run.pending,
            run.max_concurrency
        ),
        ("RUNNING", 3, 2, 1, 2)
    );
    assert_eq!(run.tolerated_failure_percentage, 50.0);
    assert_eq!(run.children[0].status, "RUNNING");
    for (i, task_id) in [tasks[0], tasks[1], 3].into_iter().enumerate() {
        let output = json!(i);
        exec.apply(&m, Event::TaskSucceeded { task_id, output }, &at(20));
    }
    let [run] = &exec.map_runs()[..] else {
        panic!("{:?}", exec.map_runs())
    };
    assert_eq!(
        (run.status.as_str(), run.succeeded, run.running, run.stop_ms),
        ("SUCCEEDED", 3, 0, Some(20))
    );
    assert_eq!(run.children.len(), 3);
    assert!(run.children[2].execution_arn.contains(":execution:sm/L:"));
}

#[test]
fn update_map_run_starts_more_children_at_once() {
    let m = Machine::from_json(&json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "MaxConcurrency": 1,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f", "End": true}}}}}}))
    .unwrap();
    let (mut exec, d) = Execution::start(&m, json!([1, 2, 3, 4]), info(), &at(0));
    let invoked = |d: &Decision| {
        d.commands
            .iter()
            .filter(|c| matches!(c, Command::InvokeTask { .. }))
            .count()
    };
    assert_eq!(invoked(&d), 1);
    let arn = exec.map_runs()[0].map_run_arn.clone();
    let update = Event::UpdateMapRun {
        map_run_arn: arn,
        max_concurrency: Some(3),
        tolerated_failure_count: Some(1),
        tolerated_failure_percentage: None,
    };
    let d = exec.apply(&m, update, &at(1));
    assert!(d.history.is_empty(), "no history event records an update");
    assert_eq!(invoked(&d), 2, "two more children run at once");
    let run = &exec.map_runs()[0];
    assert_eq!(
        (
            run.max_concurrency,
            run.tolerated_failure_count,
            run.running
        ),
        (3, 1, 3)
    );
}

#[test]
fn a_stopped_execution_aborts_its_map_run() {
    let m = Machine::from_json(&json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f", "End": true}}}}}}))
    .unwrap();
    let (mut exec, _) = Execution::start(&m, json!([1, 2]), info(), &at(0));
    let stop = Event::Stop {
        error: None,
        cause: None,
    };
    exec.apply(&m, stop, &at(7));
    let [run] = &exec.map_runs()[..] else {
        panic!("{:?}", exec.map_runs())
    };
    assert_eq!(
        (run.status.as_str(), run.stop_ms, run.aborted, run.running),
        ("ABORTED", Some(7), 2, 0)
    );
}

#[test]
fn jsonata_arguments_name_the_bucket() {
    let m = Machine::from_json(&json!({"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
            "Arguments": {"Bucket": "{% $states.input.b %}", "Prefix": "x"},
            "WriterConfig": {"Transformation": "COMPACT", "OutputType": "JSONL"}},
        "Items": "{% $states.input.items %}",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
        "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}}))
    .unwrap();
    let (_, d) = Execution::start(&m, json!({"b": "bk", "items": [1, 2]}), info(), &at(0));
    let (_, _, input) = write(&d);
    assert_eq!(input["Bucket"], json!("bk"));
    let succeeded = input["Objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["Key"].as_str().unwrap().ends_with("SUCCEEDED_0.json"))
        .unwrap();
    assert_eq!(succeeded["Body"], json!("1\n2\n"));
}
