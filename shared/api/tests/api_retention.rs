//! Retention through the API: closed executions older than the period are deleted with
//! their histories by the sweep; younger and running ones stay.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use cairn_api::{Api, Config};
use cairn_runtime::Clock;
use cairn_store::MemoryStore;
use serde_json::{json, Value};

const DAY_MS: i64 = 86_400_000;

struct ManualClock(AtomicI64);

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn call(api: &Api, action: &str, request: Value) -> Result<Value, String> {
    api.handle(action, request).map_err(|e| e.error_type)
}

#[test]
fn the_sweep_deletes_executions_closed_longer_than_the_period() -> Result<(), String> {
    let clock = Arc::new(ManualClock(AtomicI64::new(1_700_000_000_000)));
    let api = Api::new(
        Arc::new(MemoryStore::new()),
        Config {
            clock: clock.clone(),
            ..Config::default()
        },
    );
    let pass = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let wait = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 99999999, "End": true}}});
    let create = |name: &str, definition: &Value| {
        call(
            &api,
            "CreateStateMachine",
            json!({"name": name, "definition": definition.to_string(), "roleArn": "arn:aws:iam::1:role/r"}),
        )
        .map(|out| out["stateMachineArn"].as_str().unwrap_or("").to_string())
    };
    let quick = create("quick", &pass)?;
    let slow = create("slow", &wait)?;
    let start = |machine: &str| {
        call(&api, "StartExecution", json!({"stateMachineArn": machine}))
            .map(|out| out["executionArn"].as_str().unwrap_or("").to_string())
    };
    let old = start(&quick)?;
    let running = start(&slow)?;
    clock.0.fetch_add(10 * DAY_MS, Ordering::SeqCst);
    let young = start(&quick)?;
    clock.0.fetch_add(85 * DAY_MS, Ordering::SeqCst);

    // 95 days after the first ended, 85 after the second.
    assert_eq!(api.sweep_retention(90), Ok(1));
    assert_eq!(
        call(&api, "DescribeExecution", json!({"executionArn": old})),
        Err("ExecutionDoesNotExist".to_string())
    );
    assert_eq!(
        call(&api, "GetExecutionHistory", json!({"executionArn": old})),
        Err("ExecutionDoesNotExist".to_string())
    );
    for kept in [&young, &running] {
        assert!(call(&api, "DescribeExecution", json!({"executionArn": kept})).is_ok());
    }
    let listed = call(&api, "ListExecutions", json!({"stateMachineArn": quick}))?;
    assert_eq!(listed["executions"].as_array().map(Vec::len), Some(1));
    assert_eq!(api.sweep_retention(90), Ok(0));
    api.shutdown();
    Ok(())
}
