//! Pagination tokens expire as AWS's do: a token is good for 24 hours after the page that
//! gave it (by the Driver's clock), then InvalidToken (HTTP 400); a token Cairn did not
//! issue, as those from before it dated them, is InvalidToken too.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use cairn_api::{Api, Config};
use cairn_runtime::Clock;
use cairn_store::MemoryStore;
use serde_json::{json, Value};

mod support;
use support::{call, fails, ROLE};

const DAY_MS: i64 = 86_400_000;

struct ManualClock(AtomicI64);

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn api() -> (Api, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock(AtomicI64::new(1_700_000_000_000)));
    let api = Api::new(
        Arc::new(MemoryStore::new()),
        Config {
            clock: clock.clone(),
            ..Config::default()
        },
    );
    (api, clock)
}

/// The first page's token of `action`, then the second page read at 24 hours (still good)
/// and one millisecond later (InvalidToken, also for a changed token).
fn expires_after_a_day(
    api: &Api,
    clock: &ManualClock,
    action: &str,
    request: Value,
    key: &str,
) -> Vec<Value> {
    let first = call(api, action, request.clone());
    let token = first["nextToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{action} gave no nextToken: {first}"))
        .to_string();
    let mut next = request.clone();
    next["nextToken"] = Value::from(token.clone());

    clock.0.fetch_add(DAY_MS, Ordering::SeqCst);
    let second = call(api, action, next.clone());
    let mut seen: Vec<Value> = first[key].as_array().cloned().unwrap_or_default();
    seen.extend(second[key].as_array().cloned().unwrap_or_default());

    clock.0.fetch_add(1, Ordering::SeqCst);
    let expired = fails(api, action, next);
    assert_eq!(expired.error_type, "InvalidToken", "{action}");
    assert_eq!(expired.message, format!("Invalid Token: '{token}'"));
    assert!(!expired.is_server_fault());
    // A fresh listing goes on.
    assert!(call(api, action, request)[key].is_array());
    seen
}

#[test]
fn each_listing_token_expires_24_hours_after_its_page() {
    let (api, clock) = api();
    let pass = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "Q"},
                                                  "Q": {"Type": "Pass", "End": true}}})
    .to_string();
    let mut machine = String::new();
    for name in ["a", "b", "c"] {
        machine = call(
            &api,
            "CreateStateMachine",
            json!({"name": name, "definition": pass, "roleArn": ROLE}),
        )["stateMachineArn"]
            .as_str()
            .unwrap()
            .to_string();
        call(&api, "CreateActivity", json!({"name": name}));
    }
    let mut execution = String::new();
    for name in ["e1", "e2", "e3"] {
        execution = call(
            &api,
            "StartExecution",
            json!({"stateMachineArn": machine, "name": name}),
        )["executionArn"]
            .as_str()
            .unwrap()
            .to_string();
    }

    let machines = expires_after_a_day(
        &api,
        &clock,
        "ListStateMachines",
        json!({"maxResults": 2}),
        "stateMachines",
    );
    assert_eq!(machines.len(), 3);
    let activities = expires_after_a_day(
        &api,
        &clock,
        "ListActivities",
        json!({"maxResults": 2}),
        "activities",
    );
    assert_eq!(activities.len(), 3);
    let executions = expires_after_a_day(
        &api,
        &clock,
        "ListExecutions",
        json!({"stateMachineArn": machine, "maxResults": 2}),
        "executions",
    );
    // Started at the same instant: the order is the store's, each once.
    let mut names: Vec<&str> = executions
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["e1", "e2", "e3"]);
    let events = expires_after_a_day(
        &api,
        &clock,
        "GetExecutionHistory",
        json!({"executionArn": execution, "maxResults": 3}),
        "events",
    );
    let ids: Vec<u64> = events.iter().filter_map(|e| e["id"].as_u64()).collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
    assert!(ids.len() > 3, "{ids:?}");
    api.shutdown();
}

#[test]
fn tokens_from_before_dated_tokens_are_invalid() {
    let (api, _) = api();
    let pass = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}).to_string();
    let machine = call(
        &api,
        "CreateStateMachine",
        json!({"name": "m", "definition": pass, "roleArn": ROLE}),
    )["stateMachineArn"]
        .as_str()
        .unwrap()
        .to_string();
    let execution = call(&api, "StartExecution", json!({"stateMachineArn": machine}))
        ["executionArn"]
        .as_str()
        .unwrap()
        .to_string();
    // The undated forms Cairn answered before: an event id, a name, a store cursor.
    for (action, request) in [
        (
            "GetExecutionHistory",
            json!({"executionArn": execution, "nextToken": "event:1"}),
        ),
        ("ListStateMachines", json!({"nextToken": "m"})),
        (
            "ListExecutions",
            json!({"stateMachineArn": machine, "nextToken": format!("1700000000000/{execution}")}),
        ),
    ] {
        let error = fails(&api, action, request);
        assert_eq!(error.error_type, "InvalidToken", "{action}");
    }
    api.shutdown();
}
