//! Both durable shells run Standard executions under the quotas they are given: AWS's
//! 25,000-event history limit by default, a raised one when the user sets it. Driven through
//! the same single-threaded setup the simulation uses (no threads, no emulators).

use std::sync::Arc;

use cairn_api::{Config, Driver};
use cairn_interpreter::{Limits, Status};
use cairn_runtime::{Clock, Unsupported};
use cairn_serverless::outbox::{Outgoing, Settings, Sink};
use cairn_serverless::{Engine, EngineError, Outbox};
use cairn_sim::world::{block_on, SimClock};
use cairn_store::{MemoryStore, Store};
use serde_json::{json, Value};

const START_MS: i64 = 1_700_000_000_000;

/// A Choice loop of 10,000 rounds: about 40,000 history events in one decision.
fn choice_loop() -> Value {
    json!({"StartAt": "Increment", "States": {
        "Increment": {"Type": "Pass",
            "Parameters": {"counter.$": "States.MathAdd($.counter, 1)"}, "Next": "Check"},
        "Check": {"Type": "Choice",
            "Choices": [{"Variable": "$.counter", "NumericEquals": 10000, "Next": "Done"}],
            "Default": "Increment"},
        "Done": {"Type": "Succeed"}}})
}

struct Discard;

impl Sink for Discard {
    fn send(&self, _: Vec<Outgoing>, _: i64) -> Result<(), EngineError> {
        Ok(())
    }
}

fn raised() -> Limits {
    Limits {
        max_history_events: 100_000,
        ..Limits::default()
    }
}

/// Creates the machine through the API actions and returns its ARN.
fn create(store: &Arc<MemoryStore>, clock: &Arc<SimClock>) -> String {
    let setup = Driver::simulated(
        Arc::clone(store) as Arc<dyn Store>,
        Config {
            clock: Arc::clone(clock) as Arc<dyn Clock>,
            ..Config::default()
        },
        1,
    );
    let created = setup
        .handle_action(
            "CreateStateMachine",
            &json!({"name": "loop", "definition": choice_loop().to_string(),
                    "roleArn": "arn:aws:iam::123456789012:role/r"}),
        )
        .expect("created");
    created["stateMachineArn"].as_str().unwrap().to_owned()
}

fn serverless_status(limits: Option<Limits>) -> Status {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(SimClock::new(START_MS));
    let arn = create(&store, &clock);
    let mut engine = Engine::new(
        Arc::clone(&store) as Arc<dyn cairn_store::asynchronous::Store>,
        Outbox::with_sink(Settings::default(), Arc::new(Discard)),
        Arc::new(Unsupported),
        clock as Arc<dyn Clock>,
    );
    if let Some(limits) = limits {
        engine = engine.with_limits(limits);
    }
    let started =
        block_on(engine.start(&arn, Some("run"), Some(r#"{"counter": 0}"#))).expect("started");
    started.status
}

fn serve_status(limits: Option<Limits>) -> String {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(SimClock::new(START_MS));
    let arn = create(&store, &clock);
    let mut config = Config {
        clock: clock as Arc<dyn Clock>,
        ..Config::default()
    };
    if let Some(limits) = limits {
        config.limits = limits;
    }
    let driver = Driver::simulated(Arc::clone(&store) as Arc<dyn Store>, config, 1);
    let started = driver
        .handle_action(
            "StartExecution",
            &json!({"stateMachineArn": arn, "input": r#"{"counter": 0}"#}),
        )
        .expect("started");
    let described = driver
        .handle_action(
            "DescribeExecution",
            &json!({"executionArn": started["executionArn"]}),
        )
        .expect("described");
    described["status"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn the_serverless_engine_applies_the_history_limit_it_is_given() {
    assert_eq!(serverless_status(None), Status::Failed);
    assert_eq!(serverless_status(Some(raised())), Status::Succeeded);
}

#[test]
fn cairn_serve_applies_the_history_limit_it_is_given() {
    assert_eq!(serve_status(None), "FAILED");
    assert_eq!(serve_status(Some(raised())), "SUCCEEDED");
}
