//! `cairn run` under AWS's quotas by default: Express executions have no history limit,
//! Standard ones stop at 25,000 events unless the user raises the limit (beyond AWS).
//! The workloads are the team's B2 and B3 benchmarks (shared/bench/asl), written out here
//! so the test needs nothing beside the checkout.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

/// B2 choice-loop: about 40,000 history events.
fn choice_loop() -> (Value, Value) {
    let definition = json!({
        "StartAt": "Increment",
        "States": {
            "Increment": {"Type": "Pass",
                "Parameters": {"counter.$": "States.MathAdd($.counter, 1)", "limit.$": "$.limit"},
                "Next": "Check"},
            "Check": {"Type": "Choice",
                "Choices": [{"Variable": "$.counter", "NumericEqualsPath": "$.limit", "Next": "Done"}],
                "Default": "Increment"},
            "Done": {"Type": "Succeed"}
        }
    });
    (definition, json!({"counter": 0, "limit": 10000}))
}

/// B3 map-10k: an inline Map of 10,000 items, about 40,000 history events.
fn map_10k() -> (Value, Value) {
    let definition = json!({
        "StartAt": "Fan",
        "States": {"Fan": {
            "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 0,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Shape",
                "States": {"Shape": {"Type": "Pass",
                    "Parameters": {"id.$": "$.n", "ok": true}, "End": true}}},
            "ResultPath": "$.results", "OutputPath": "$.results", "End": true}}
    });
    let items: Vec<Value> = (0..10_000).map(|n| json!({"n": n})).collect();
    (definition, json!({"items": items}))
}

fn write(name: &str, value: &Value) -> PathBuf {
    let path = std::env::temp_dir().join(format!("cairn-limits-{}-{name}", std::process::id()));
    std::fs::write(&path, value.to_string()).expect("write a temporary file");
    path
}

/// Runs `cairn run` and returns its JSON answer.
fn cairn_run(workload: (Value, Value), name: &str, extra: &[&str]) -> Value {
    let definition = write(&format!("{name}.asl.json"), &workload.0);
    let input = write(&format!("{name}.input.json"), &workload.1);
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("run")
        .arg(&definition)
        .arg("--input")
        .arg(format!("@{}", input.display()))
        .args(["--virtual-time", "--format", "json", "--seed", "1"])
        .args(extra)
        .output()
        .expect("cairn runs");
    let _ = std::fs::remove_file(definition);
    let _ = std::fs::remove_file(input);
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[test]
fn express_runs_long_workloads_with_default_settings() {
    let b2 = cairn_run(choice_loop(), "b2-express", &["--type", "EXPRESS"]);
    assert_eq!(b2["status"], "SUCCEEDED", "{b2}");
    assert_eq!(b2["output"]["counter"], 10000);
    let b3 = cairn_run(map_10k(), "b3-express", &["--type", "EXPRESS"]);
    assert_eq!(b3["status"], "SUCCEEDED", "{}", b3["cause"]);
    assert_eq!(b3["output"].as_array().map(Vec::len), Some(10_000));
}

#[test]
fn standard_stops_at_25000_events_unless_the_limit_is_raised() {
    let b2 = cairn_run(choice_loop(), "b2-standard", &[]);
    assert_eq!(b2["status"], "FAILED");
    assert_eq!(b2["error"], "States.Runtime");
    assert_eq!(
        b2["cause"],
        "The execution reached the maximum number of history events (25000)."
    );
    let raised = cairn_run(
        choice_loop(),
        "b2-raised",
        &["--max-history-events", "100000"],
    );
    assert_eq!(raised["status"], "SUCCEEDED", "{raised}");
}

#[test]
fn region_and_account_name_the_execution() {
    let workload = (
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
            "Parameters": {"arn.$": "$$.Execution.Id"}, "End": true}}}),
        json!({}),
    );
    let run = cairn_run(
        workload,
        "arn",
        &[
            "--region",
            "eu-central-1",
            "--account",
            "210987654321",
            "--name",
            "x",
        ],
    );
    assert_eq!(
        run["output"]["arn"],
        "arn:aws:states:eu-central-1:210987654321:execution:cairn-limits-arn:x".replace(
            "cairn-limits-arn",
            &format!("cairn-limits-{}-arn", std::process::id())
        )
    );
}
