//! What the API tests over the in-memory store share: an API with a short activity poll, calls
//! that fail the test with the action's name, and an execution's event types. Each test binary
//! includes this module and uses only part of it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use cairn_api::{Api, ApiError, Config};
use cairn_store::MemoryStore;
use serde_json::{json, Value};

pub const ROLE: &str = "arn:aws:iam::123456789012:role/r";

pub fn api() -> Api {
    let config = Config {
        activity_poll: Duration::from_secs(2),
        ..Config::default()
    };
    Api::new(Arc::new(MemoryStore::new()), config)
}

pub fn call(api: &Api, action: &str, request: Value) -> Value {
    match api.handle(action, request) {
        Ok(value) => value,
        Err(error) => panic!("{action} failed: {error}"),
    }
}

pub fn fails(api: &Api, action: &str, request: Value) -> ApiError {
    match api.handle(action, request) {
        Ok(value) => panic!("{action} should fail, answered {value}"),
        Err(error) => error,
    }
}

pub fn event_types(api: &Api, arn: &str) -> Vec<String> {
    let history = call(
        api,
        "GetExecutionHistory",
        json!({"executionArn": arn, "maxResults": 1000}),
    );
    history["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter_map(|e| e["type"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
