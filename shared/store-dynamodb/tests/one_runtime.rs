//! Issue 12, item 12: the DynamoDB store runs its requests on the caller's runtime and starts
//! no runtime or thread of its own. Its own test binary, so no other test's threads come and
//! go while it counts.

use cairn_store::asynchronous::{ExecutionStore, StateMachineStore};
use cairn_store::{Effects, ExecutionRecord, StateMachineRecord, Transition};
use cairn_store_dynamodb::DynamoStore;

mod common;

/// The names of this process's threads, by thread id.
fn threads() -> std::collections::BTreeMap<u64, String> {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let id = entry.file_name().to_str()?.parse().ok()?;
            let name = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            Some((id, name.trim().to_string()))
        })
        .collect()
}

/// A current-thread runtime, as small as a Lambda function's can be, carries every request:
/// creating the table, writes, reads, a conditional write that loses. Any thread that
/// appears meanwhile belongs to that runtime (its blocking pool, named below); the previous
/// design's private runtime added a `cairn-dynamodb` worker and a channel per request.
#[test]
fn the_store_runs_on_the_callers_current_thread_runtime_and_starts_no_other() {
    let Some(endpoint) = common::emulator() else {
        return;
    };
    std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB", &endpoint);
    let before = threads();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("caller-runtime")
        .build()
        .expect("runtime");
    let mut seen = before.clone();
    runtime.block_on(async {
        let table = format!("cairn-one-runtime-{}", std::process::id());
        let store = DynamoStore::from_env(&table).await;
        store.create_table().await.expect("table");
        seen.extend(threads());
        let machine = StateMachineRecord {
            arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
            name: "m".into(),
            created_ms: 1,
            document: serde_json::json!({"definition": "{}"}),
        };
        store.create_state_machine(&machine).await.expect("machine");
        let record = ExecutionRecord {
            arn: "arn:aws:states:us-east-1:123456789012:execution:m:e".into(),
            state_machine_arn: machine.arn.clone(),
            name: "e".into(),
            status: "RUNNING".into(),
            start_ms: 1,
            stop_ms: None,
            summary: serde_json::json!({"input": "{}"}),
            state: b"state".to_vec(),
        };
        let version = store
            .create_execution(&record, &[], &Effects::default())
            .await
            .expect("create");
        let transition = Transition {
            expected_version: version,
            record: record.clone(),
            history: Vec::new(),
            effects: Effects::default(),
        };
        let next = store.commit(&transition).await.expect("commit");
        assert_eq!(next, version + 1);
        // The same write again lost its race: a conflict, as on any runtime.
        assert!(matches!(
            store.commit(&transition).await,
            Err(cairn_store::Error::Conflict(_))
        ));
        let (read, read_version) = store
            .get_execution(&record.arn)
            .await
            .expect("get")
            .expect("found");
        assert_eq!((read, read_version), (record, next));
        seen.extend(threads());
    });
    let added: Vec<&String> = seen
        .iter()
        .filter(|(id, _)| !before.contains_key(id))
        .map(|(_, name)| name)
        .collect();
    assert!(
        added.iter().all(|name| name.as_str() == "caller-runtime"),
        "threads that are not the caller's runtime's: {added:?}"
    );
}
