//! StartExecution on a version or alias ARN through the serverless api function, against
//! DynamoDB Local and moto: the version's definition, role and type run (not the latest
//! revision), `$$.StateMachine.Id` is the version ARN, and DescribeExecution, ListExecutions,
//! the history and the status events name the version and alias as cairn serve does. Standard
//! starts go through the engine, asynchronous Express ones through the Express queue and
//! synchronous ones through the shared API; all three resolve the ARN by the shared rule.
//!
//! Needs CAIRN_TEST_DYNAMODB and CAIRN_TEST_MOTO (see emulator.rs): without them each test
//! skips, or fails when CAIRN_REQUIRE_EMULATORS=1.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::SqsEvent;
use cairn_api::ApiError;
use cairn_serverless::advance::handle_sqs;
use cairn_serverless::api::handle_action;
use cairn_serverless::{Engine, Outbox, Settings};
use cairn_store_dynamodb::DynamoStore;
use serde_json::{json, Value};

mod support;
use support::{emulators, queue};

const ROLE: &str = "arn:aws:iam::123456789012:role/cairn";
const ROLE_V2: &str = "arn:aws:iam::123456789012:role/cairn-v2";

struct Harness {
    sqs: aws_sdk_sqs::Client,
    settings: Settings,
    status_queue: String,
    engine: Engine,
    api: cairn_api::Api,
}

impl Harness {
    async fn new() -> Harness {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let id = format!(
            "v{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        let events = aws_sdk_eventbridge::Client::new(&config);
        let bus = format!("cairn-{id}");
        events
            .create_event_bus()
            .name(&bus)
            .send()
            .await
            .expect("bus");
        let (timer_url, timer_arn) = queue(&sqs, &format!("timers-{id}")).await;
        let (status_url, status_arn) = queue(&sqs, &format!("status-{id}")).await;
        let (express_url, _) = queue(&sqs, &format!("express-{id}")).await;
        events
            .put_rule()
            .name("status")
            .event_bus_name(&bus)
            .event_pattern(
                json!({"source": [cairn_serverless::STATUS_SOURCE], "detail-type": [cairn_serverless::STATUS_DETAIL_TYPE]})
                    .to_string(),
            )
            .send()
            .await
            .expect("rule");
        events
            .put_targets()
            .rule("status")
            .event_bus_name(&bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("queue")
                    .arn(status_arn)
                    .build()
                    .expect("target"),
            )
            .send()
            .await
            .expect("targets");
        let settings = Settings {
            bus_name: bus,
            timer_queue_url: timer_url,
            timer_queue_arn: timer_arn,
            express_queue_url: express_url,
            region: "us-east-1".into(),
            account: "123456789012".into(),
            ..Settings::default()
        };
        let table = format!("cairn-{id}");
        let store =
            DynamoStore::with_client(cairn_store_dynamodb::Client::new(&config), table.as_str());
        store.create_table().await.expect("table");
        let engine = Engine::new(
            Arc::new(store),
            Outbox::new(&config, settings.clone()),
            Arc::new(cairn_runtime::Unsupported),
            Arc::new(cairn_runtime::SystemClock),
        );
        let api = cairn_serverless::shared_api(&engine);
        Harness {
            sqs,
            settings,
            status_queue: status_url,
            engine,
            api,
        }
    }

    /// One action through the api function, as API Gateway hands it over.
    async fn call(&self, action: &str, body: Value) -> Result<Value, ApiError> {
        handle_action(&self.engine, &self.api, action, body).await
    }

    async fn ok(&self, action: &str, body: Value) -> Value {
        let shown = body.to_string();
        self.call(action, body)
            .await
            .unwrap_or_else(|e| panic!("{action} {shown}: {e}"))
    }

    /// The same request answered by the shared API alone: cairn serve's answer.
    async fn serve(&self, action: &str, body: Value) -> Result<Value, ApiError> {
        let (api, action) = (self.api.clone(), action.to_string());
        tokio::task::spawn_blocking(move || api.handle(&action, body))
            .await
            .expect("join")
    }

    /// A state machine with two published versions whose definitions say which runs and
    /// what `$$.StateMachine.Id` is, then a third revision left unpublished (the latest).
    async fn versioned(&self, name: &str, kind: &str) -> String {
        let definition = |which: &str| {
            json!({"StartAt": "Say", "States": {"Say": {"Type": "Pass",
                "Parameters": {"which": which, "id.$": "$$.StateMachine.Id",
                    "role.$": "$$.Execution.RoleArn", "input.$": "$"},
                "End": true}}})
            .to_string()
        };
        let created = self
            .ok(
                "CreateStateMachine",
                json!({"name": name, "definition": definition("one"), "roleArn": ROLE,
                    "type": kind, "publish": true}),
            )
            .await;
        let arn = created["stateMachineArn"]
            .as_str()
            .expect("arn")
            .to_string();
        assert_eq!(created["stateMachineVersionArn"], format!("{arn}:1"));
        let updated = self
            .ok(
                "UpdateStateMachine",
                json!({"stateMachineArn": arn, "definition": definition("two"),
                    "roleArn": ROLE_V2, "publish": true}),
            )
            .await;
        assert_eq!(updated["stateMachineVersionArn"], format!("{arn}:2"));
        self.ok(
            "UpdateStateMachine",
            json!({"stateMachineArn": arn, "definition": definition("latest"), "roleArn": ROLE}),
        )
        .await;
        arn
    }

    async fn status_of(&self, arn: &str) -> Value {
        self.ok("DescribeExecution", json!({"executionArn": arn}))
            .await
    }

    /// The ExecutionStarted event's details, as GetExecutionHistory shows them.
    async fn started_event(&self, arn: &str) -> Value {
        let history = self
            .ok(
                "GetExecutionHistory",
                json!({"executionArn": arn, "maxResults": 1}),
            )
            .await;
        let first = &history["events"][0];
        assert_eq!(first["type"], "ExecutionStarted", "{history}");
        first["executionStartedEventDetails"].clone()
    }

    async fn express_batch(&self) -> SqsEvent {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.settings.express_queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive");
            let messages = out.messages.unwrap_or_default();
            if !messages.is_empty() || Instant::now() > deadline {
                for m in &messages {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.settings.express_queue_url)
                        .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                        .send()
                        .await
                        .expect("delete");
                }
                let records: Vec<Value> = messages
                    .iter()
                    .map(|m| json!({"messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body, "eventSource": "aws:sqs"}))
                    .collect();
                return serde_json::from_value(json!({ "Records": records })).expect("sqs");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The status events of `arn` seen within a few seconds, until `want` arrived.
    async fn status_changes(&self, arn: &str, want: usize) -> Vec<Value> {
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while seen.len() < want && Instant::now() < deadline {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.status_queue)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive");
            for m in out.messages.unwrap_or_default() {
                let event: Value =
                    serde_json::from_str(m.body.as_deref().unwrap_or("")).expect("event");
                if event["detail"]["executionArn"] == arn {
                    seen.push(event);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        seen
    }
}

fn output_of(described: &Value) -> Value {
    serde_json::from_str(described["output"].as_str().unwrap_or("null")).expect("output")
}

fn refusal(result: Result<Value, ApiError>) -> (String, String) {
    match result {
        Ok(value) => panic!("should be refused, answered {value}"),
        Err(error) => (error.error_type, error.message),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_starts_on_versions_and_aliases_run_the_version() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let machine = h.versioned("orders", "STANDARD").await;
    let (v1, v2) = (format!("{machine}:1"), format!("{machine}:2"));

    // Version 1: its definition and role run, not the latest revision's.
    let started = h
        .ok(
            "StartExecution",
            json!({"stateMachineArn": v1, "name": "on-v1", "input": "{\"n\":1}"}),
        )
        .await;
    let on_v1 = started["executionArn"].as_str().expect("arn").to_string();
    assert_eq!(
        on_v1,
        "arn:aws:states:us-east-1:123456789012:execution:orders:on-v1"
    );
    let described = h.status_of(&on_v1).await;
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    assert_eq!(
        output_of(&described),
        json!({"which": "one", "id": v1, "role": ROLE, "input": {"n": 1}})
    );
    assert_eq!(described["stateMachineArn"], machine.as_str());
    assert_eq!(described["stateMachineVersionArn"], v1.as_str());
    assert!(
        described.get("stateMachineAliasArn").is_none(),
        "{described}"
    );
    let details = h.started_event(&on_v1).await;
    assert_eq!(details["stateMachineVersionArn"], v1.as_str(), "{details}");
    assert!(details.get("stateMachineAliasArn").is_none(), "{details}");
    assert_eq!(details["roleArn"], ROLE);
    // The definition it ran, with the revision version 1 was published from.
    let ran = h
        .ok(
            "DescribeStateMachineForExecution",
            json!({"executionArn": on_v1}),
        )
        .await;
    assert!(
        ran["definition"]
            .as_str()
            .is_some_and(|d| d.contains("\"one\"")),
        "{ran}"
    );

    // Version 2, with its own role.
    let started = h.ok("StartExecution", json!({"stateMachineArn": v2})).await;
    let on_v2 = started["executionArn"].as_str().expect("arn").to_string();
    let described = h.status_of(&on_v2).await;
    assert_eq!(output_of(&described)["which"], "two");
    assert_eq!(output_of(&described)["id"], v2.as_str());
    assert_eq!(output_of(&described)["role"], ROLE_V2);
    assert_eq!(described["stateMachineVersionArn"], v2.as_str());
    // The revision version 2 was published from, not the latest one.
    let ran = h
        .ok(
            "DescribeStateMachineForExecution",
            json!({"executionArn": on_v2}),
        )
        .await;
    let version = h
        .ok("DescribeStateMachine", json!({"stateMachineArn": v2}))
        .await;
    let latest = h
        .ok("DescribeStateMachine", json!({"stateMachineArn": machine}))
        .await;
    assert!(version["revisionId"].is_string(), "{version}");
    assert_eq!(ran["revisionId"], version["revisionId"], "{ran}");
    assert_ne!(ran["revisionId"], latest["revisionId"], "{ran}");
    assert_eq!(ran["roleArn"], ROLE_V2);

    // The unqualified ARN runs the latest revision and names no version.
    let started = h
        .ok("StartExecution", json!({"stateMachineArn": machine}))
        .await;
    let latest = h
        .status_of(started["executionArn"].as_str().expect("arn"))
        .await;
    assert_eq!(output_of(&latest)["which"], "latest");
    assert_eq!(output_of(&latest)["id"], machine.as_str());
    assert!(latest.get("stateMachineVersionArn").is_none(), "{latest}");

    // An alias routing 100/0, then 0/100: deterministic picks.
    let alias = h
        .ok(
            "CreateStateMachineAlias",
            json!({"name": "live", "routingConfiguration": [
                {"stateMachineVersionArn": v1, "weight": 100},
                {"stateMachineVersionArn": v2, "weight": 0}]}),
        )
        .await["stateMachineAliasArn"]
        .as_str()
        .expect("alias")
        .to_string();
    assert_eq!(alias, format!("{machine}:live"));
    let mut through_alias = Vec::new();
    for (round, want) in [(0, "one"), (1, "two")] {
        if round == 1 {
            h.ok(
                "UpdateStateMachineAlias",
                json!({"stateMachineAliasArn": alias, "routingConfiguration": [
                    {"stateMachineVersionArn": v1, "weight": 0},
                    {"stateMachineVersionArn": v2, "weight": 100}]}),
            )
            .await;
        }
        let version = if want == "one" { &v1 } else { &v2 };
        for _ in 0..3 {
            let started = h
                .ok("StartExecution", json!({"stateMachineArn": alias}))
                .await;
            let arn = started["executionArn"].as_str().expect("arn").to_string();
            let described = h.status_of(&arn).await;
            assert_eq!(output_of(&described)["which"], want, "{described}");
            assert_eq!(output_of(&described)["id"], version.as_str());
            assert_eq!(described["stateMachineArn"], machine.as_str());
            assert_eq!(described["stateMachineVersionArn"], version.as_str());
            assert_eq!(described["stateMachineAliasArn"], alias.as_str());
            let details = h.started_event(&arn).await;
            assert_eq!(details["stateMachineVersionArn"], version.as_str());
            assert_eq!(details["stateMachineAliasArn"], alias.as_str());
            through_alias.push((arn, version.clone()));
        }
    }

    // ListExecutions on the version lists what ran it (directly or through the alias), on
    // the alias what started through it, each naming the version and alias as cairn serve does.
    let listed = h.ok("ListExecutions", json!({"stateMachineArn": v1})).await;
    let mut arns: Vec<&str> = listed["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .map(|e| e["executionArn"].as_str().unwrap_or(""))
        .collect();
    arns.sort_unstable();
    let mut want: Vec<&str> = through_alias
        .iter()
        .filter(|(_, v)| v == &v1)
        .map(|(a, _)| a.as_str())
        .chain([on_v1.as_str()])
        .collect();
    want.sort_unstable();
    assert_eq!(arns, want, "{listed}");
    for item in listed["executions"].as_array().expect("executions") {
        assert_eq!(item["stateMachineVersionArn"], v1.as_str(), "{item}");
        assert_eq!(item["stateMachineArn"], machine.as_str(), "{item}");
    }
    let listed = h
        .ok("ListExecutions", json!({"stateMachineArn": alias}))
        .await;
    let items = listed["executions"].as_array().expect("executions");
    assert_eq!(items.len(), 6, "{listed}");
    assert!(items
        .iter()
        .all(|item| item["stateMachineAliasArn"] == alias.as_str()));

    // The version runs even once the state machine's latest revision changed again.
    h.ok(
        "UpdateStateMachine",
        json!({"stateMachineArn": machine,
            "definition": json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Latest"}}}).to_string()}),
    )
    .await;
    let again = h.ok("StartExecution", json!({"stateMachineArn": v1})).await;
    let described = h
        .status_of(again["executionArn"].as_str().expect("arn"))
        .await;
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    assert_eq!(output_of(&described)["which"], "one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qualified_starts_are_refused_as_cairn_serve_refuses_them() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let machine = h.versioned("refusals", "STANDARD").await;
    let missing_version = format!("{machine}:7");
    let missing_alias = format!("{machine}:nope");
    let missing_machine = "arn:aws:states:us-east-1:123456789012:stateMachine:absent:1";
    for arn in [
        missing_version.as_str(),
        missing_alias.as_str(),
        missing_machine,
    ] {
        let request = json!({"stateMachineArn": arn});
        let ours = refusal(h.call("StartExecution", request.clone()).await);
        assert_eq!(
            ours,
            (
                "StateMachineDoesNotExist".to_string(),
                format!("State Machine Does Not Exist: '{arn}'")
            )
        );
        assert_eq!(ours, refusal(h.serve("StartExecution", request).await));
    }

    // A version of a state machine being deleted (an execution of it still runs).
    let waiting = h
        .ok(
            "CreateStateMachine",
            json!({"name": "doomed", "roleArn": ROLE, "publish": true,
                "definition": json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}}).to_string()}),
        )
        .await;
    let doomed = waiting["stateMachineArn"]
        .as_str()
        .expect("arn")
        .to_string();
    h.ok("StartExecution", json!({"stateMachineArn": doomed}))
        .await;
    h.ok("DeleteStateMachine", json!({"stateMachineArn": doomed}))
        .await;
    let version = format!("{doomed}:1");
    let request = json!({"stateMachineArn": version});
    let ours = refusal(h.call("StartExecution", request.clone()).await);
    assert_eq!(
        ours,
        (
            "StateMachineDeleting".to_string(),
            format!("State machine is being deleted: '{version}'")
        )
    );
    assert_eq!(ours, refusal(h.serve("StartExecution", request).await));
    // A missing version of it is still StateMachineDoesNotExist, as in cairn serve.
    let request = json!({"stateMachineArn": format!("{doomed}:9")});
    let ours = refusal(h.call("StartExecution", request.clone()).await);
    assert_eq!(ours.0, "StateMachineDoesNotExist");
    assert_eq!(ours, refusal(h.serve("StartExecution", request).await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn express_starts_on_versions_and_aliases_run_the_version() {
    if !emulators() {
        return;
    }
    let h = Harness::new().await;
    let machine = h.versioned("ingest", "EXPRESS").await;
    let (v1, v2) = (format!("{machine}:1"), format!("{machine}:2"));
    let alias = h
        .ok(
            "CreateStateMachineAlias",
            json!({"name": "live", "routingConfiguration": [
                {"stateMachineVersionArn": v1, "weight": 0},
                {"stateMachineVersionArn": v2, "weight": 100}]}),
        )
        .await["stateMachineAliasArn"]
        .as_str()
        .expect("alias")
        .to_string();

    // Synchronous: inside the api invocation.
    let answer = h
        .ok(
            "StartSyncExecution",
            json!({"stateMachineArn": v1, "input": "{}"}),
        )
        .await;
    assert_eq!(answer["status"], "SUCCEEDED", "{answer}");
    let out: Value = serde_json::from_str(answer["output"].as_str().expect("output")).unwrap();
    assert_eq!(out["which"], "one");
    assert_eq!(out["id"], v1.as_str());
    let answer = h
        .ok("StartSyncExecution", json!({"stateMachineArn": alias}))
        .await;
    let out: Value = serde_json::from_str(answer["output"].as_str().expect("output")).unwrap();
    assert_eq!((&out["which"], &out["id"]), (&json!("two"), &json!(v2)));
    assert_eq!(out["role"], ROLE_V2);

    // Asynchronous: queued, then run by the Express function.
    for (arn, which, version, alias_arn) in
        [(&v1, "one", &v1, None), (&alias, "two", &v2, Some(&alias))]
    {
        let started = h
            .ok(
                "StartExecution",
                json!({"stateMachineArn": arn, "input": "{\"k\":3}"}),
            )
            .await;
        let execution = started["executionArn"].as_str().expect("arn").to_string();
        assert!(
            execution.starts_with("arn:aws:states:us-east-1:123456789012:express:ingest:"),
            "{execution}"
        );
        let batch = h.express_batch().await;
        assert_eq!(batch.records.len(), 1);
        assert!(handle_sqs(&h.engine, batch)
            .await
            .batch_item_failures
            .is_empty());
        let changes = h.status_changes(&execution, 2).await;
        assert_eq!(changes.len(), 2, "{changes:?}");
        let ended = &changes[1]["detail"];
        assert_eq!(ended["status"], "SUCCEEDED", "{ended}");
        let out: Value = serde_json::from_str(ended["output"].as_str().expect("output")).unwrap();
        assert_eq!(
            out,
            json!({"which": which, "id": version, "role": if which == "one" { ROLE } else { ROLE_V2 }, "input": {"k": 3}})
        );
        // The events name the state machine, and the version and alias started through.
        for change in &changes {
            let detail = &change["detail"];
            assert_eq!(detail["stateMachineArn"], machine.as_str(), "{detail}");
            assert_eq!(
                detail["stateMachineVersionArn"],
                version.as_str(),
                "{detail}"
            );
            assert_eq!(
                detail.get("stateMachineAliasArn"),
                alias_arn.map(|a| Value::from(a.as_str())).as_ref(),
                "{detail}"
            );
        }
    }

    // A missing version is refused before anything is queued, as cairn serve refuses it.
    let request = json!({"stateMachineArn": format!("{machine}:5")});
    let ours = refusal(h.call("StartExecution", request.clone()).await);
    assert_eq!(ours.0, "StateMachineDoesNotExist");
    assert_eq!(ours, refusal(h.serve("StartExecution", request).await));
    let request = json!({"stateMachineArn": format!("{machine}:gone")});
    let ours = refusal(h.call("StartExecution", request.clone()).await);
    assert_eq!(ours, refusal(h.serve("StartExecution", request).await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alias_splits_standard_starts_by_weight() {
    if !emulators() {
        return;
    }
    let mut h = Harness::new().await;
    // Seeded, so the draws (and this count) are the same on every run; the split is the
    // engine's, drawn per start.
    h.engine = h.engine.seeded(0x5eed);
    let machine = h.versioned("split", "STANDARD").await;
    let (v1, v2) = (format!("{machine}:1"), format!("{machine}:2"));
    let alias = h
        .ok(
            "CreateStateMachineAlias",
            json!({"name": "canary", "routingConfiguration": [
                {"stateMachineVersionArn": v1, "weight": 90},
                {"stateMachineVersionArn": v2, "weight": 10}]}),
        )
        .await["stateMachineAliasArn"]
        .as_str()
        .expect("alias")
        .to_string();
    const STARTS: usize = 100;
    for _ in 0..STARTS {
        h.ok("StartExecution", json!({"stateMachineArn": alias}))
            .await;
    }
    let mut counts = Vec::new();
    for version in [&v1, &v2] {
        let listed = h
            .ok(
                "ListExecutions",
                json!({"stateMachineArn": version, "maxResults": 1000}),
            )
            .await;
        let items = listed["executions"].as_array().expect("executions");
        assert!(items
            .iter()
            .all(|item| item["stateMachineAliasArn"] == alias.as_str()
                && item["stateMachineVersionArn"] == version.as_str()));
        counts.push(items.len());
    }
    assert_eq!(counts[0] + counts[1], STARTS, "{counts:?}");
    // 90/10 of 100: 90 expected (a standard deviation of 3), 10 for the canary.
    assert!((78..=98).contains(&counts[0]), "{counts:?}");
    assert!(counts[1] >= 2, "{counts:?}");
    println!("an alias routing 90/10 split {STARTS} starts {counts:?}");
}
