//! The generic store suite against DynamoDB Local. Needs `CAIRN_TEST_DYNAMODB` (the emulator's
//! endpoint, set by tests/serverless/run.sh after tests/emulators/start.sh). Without it each
//! test fails when CAIRN_REQUIRE_EMULATORS=1 (set by tests/run.sh and tests/serverless/run.sh),
//! and otherwise prints `SKIPPED: <reason>` and returns (a test run alone).

use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_store_dynamodb::DynamoStore;

fn emulator() -> Option<String> {
    match std::env::var("CAIRN_TEST_DYNAMODB") {
        Ok(endpoint) if !endpoint.is_empty() => Some(endpoint),
        _ => {
            let reason = "CAIRN_TEST_DYNAMODB is not set: DynamoDB Local is not running \
                          (tests/serverless/run.sh starts it)";
            assert!(
                std::env::var("CAIRN_REQUIRE_EMULATORS").as_deref() != Ok("1"),
                "CAIRN_REQUIRE_EMULATORS=1 but {reason}"
            );
            eprintln!("SKIPPED: {reason}");
            None
        }
    }
}

fn fresh_store(endpoint: &str) -> DynamoStore {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB", endpoint);
    let table = format!(
        "cairn-suite-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let store = DynamoStore::from_env(&table).expect("client");
    store.create_table().expect("create table");
    store
}

#[test]
fn dynamodb_store_passes_the_store_suite() {
    let Some(endpoint) = emulator() else { return };
    cairn_store::suite::run_store_suite(|| fresh_store(&endpoint));
}

/// The status filter is a filter expression over the one index: paging by one must still
/// find every match, in order, across non-matching items.
#[test]
fn status_filtered_listing_pages_across_other_statuses() {
    use cairn_store::{Effects, ExecutionQuery, ExecutionRecord, ExecutionStore};
    let Some(endpoint) = emulator() else { return };
    let store = fresh_store(&endpoint);
    let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:m";
    for (i, status) in [
        "RUNNING",
        "FAILED",
        "FAILED",
        "RUNNING",
        "SUCCEEDED",
        "RUNNING",
    ]
    .iter()
    .enumerate()
    {
        let record = ExecutionRecord {
            arn: format!("arn:aws:states:us-east-1:123456789012:execution:m:e{i}"),
            state_machine_arn: machine.into(),
            name: format!("e{i}"),
            status: (*status).into(),
            start_ms: i64::try_from(i).unwrap_or(0),
            stop_ms: None,
            summary: serde_json::json!({"input": "{}"}),
            state: vec![7; 3000],
        };
        store
            .create_execution(&record, &[], &Effects::default())
            .expect("create");
    }
    let mut query = ExecutionQuery {
        state_machine_arn: machine.into(),
        status: Some("RUNNING".into()),
        cursor: None,
        limit: 1,
    };
    let mut names = Vec::new();
    loop {
        let page = store.list_executions(&query).expect("list");
        assert!(page.items.iter().all(|r| r.state == vec![7; 3000]));
        names.extend(page.items.into_iter().map(|r| r.name));
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(names, ["e5", "e3", "e0"]);
}
