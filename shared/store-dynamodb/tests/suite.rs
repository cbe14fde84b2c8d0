//! The generic store suite against DynamoDB Local. Needs `CAIRN_TEST_DYNAMODB` (the emulator's
//! endpoint, set by tests/serverless/run.sh after tests/emulators/start.sh). Without it each
//! test fails when CAIRN_REQUIRE_EMULATORS=1 (set by tests/run.sh and tests/serverless/run.sh),
//! and otherwise prints `SKIPPED: <reason>` and returns (a test run alone).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use cairn_store::asynchronous::Blocking;
use cairn_store_dynamodb::{DynamoStore, OnRuntime};

mod common;
use common::emulator;

/// The store seen through the synchronous port, as the shared API sees it in the api
/// function: each request waits on the runtime below from the test's own thread.
type Synced = Blocking<DynamoStore>;

/// The one runtime these tests' requests run on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fn synced(store: DynamoStore) -> Synced {
    Blocking::new(
        Arc::new(store),
        Arc::new(OnRuntime(runtime().handle().clone())),
    )
}

fn fresh_dynamo(endpoint: &str) -> DynamoStore {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB", endpoint);
    let table = format!(
        "cairn-suite-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let store = runtime().block_on(DynamoStore::from_env(&table));
    runtime()
        .block_on(store.create_table())
        .expect("create table");
    store
}

fn fresh_store(endpoint: &str) -> Synced {
    synced(fresh_dynamo(endpoint))
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

fn running_record(i: usize) -> cairn_store::ExecutionRecord {
    cairn_store::ExecutionRecord {
        arn: format!("arn:aws:states:us-east-1:123456789012:execution:m:run{i:03}"),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
        name: format!("run{i:03}"),
        status: "RUNNING".into(),
        start_ms: i64::try_from(i).unwrap_or(0),
        stop_ms: None,
        summary: serde_json::json!({"input": "{}"}),
        state: vec![1; 10],
    }
}

/// The index partition keys an index holds (a scan: the test table is small).
fn index_keys(store: &Synced, index: &str, attribute: &str) -> std::collections::BTreeSet<String> {
    let store = store.inner();
    let out = runtime()
        .block_on(
            store
                .client()
                .scan()
                .table_name(store.table_name())
                .index_name(index)
                .send(),
        )
        .expect("scan");
    out.items()
        .iter()
        .filter_map(|item| item.get(attribute)?.as_s().ok().cloned())
        .collect()
}

/// Item 9 of issue 12: running executions and timers spread over several index partition
/// keys, and a sweep that reads them a small page at a time still sees each exactly once.
#[test]
fn running_and_timer_indexes_are_sharded_and_paged() {
    use cairn_store::{Effects, ExecutionStore, TimerRecord, TimerStore};
    let Some(endpoint) = emulator() else { return };
    let store = fresh_store(&endpoint);
    let mut expected_running = Vec::new();
    let mut expected_due = Vec::new();
    for i in 0..40 {
        let record = running_record(i);
        // Half the timers are due at 1,000, the others later.
        let fire_at_ms = if i % 2 == 0 { 500 + i as i64 } else { 5_000 };
        let timer = TimerRecord {
            fire_at_ms,
            execution_arn: record.arn.clone(),
            timer_id: 1,
        };
        let effects = Effects {
            timers_add: vec![timer.clone()],
            ..Effects::default()
        };
        store
            .create_execution(&record, &[], &effects)
            .expect("create");
        expected_running.push(record.arn.clone());
        if fire_at_ms <= 1_000 {
            expected_due.push(timer);
        }
    }
    let running_keys = index_keys(&store, cairn_store_dynamodb::INDEX_RUNNING, "gr");
    assert!(
        running_keys.len() > 1,
        "one running shard: {running_keys:?}"
    );
    assert!(running_keys.iter().all(|k| k.starts_with("RUNNING#")));
    let timer_keys = index_keys(&store, cairn_store_dynamodb::INDEX_TIMERS, "gt");
    assert!(timer_keys.len() > 1, "one timer shard: {timer_keys:?}");

    // Pages of 3: every running execution once, and no page larger than asked.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store
            .running_executions_page(cursor.as_deref(), 3)
            .expect("page");
        assert!(page.items.len() <= 3);
        seen.extend(page.items);
        pages += 1;
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert!(
        pages >= 14,
        "40 executions in pages of 3 took {pages} pages"
    );
    seen.sort();
    assert_eq!(seen, expected_running);
    assert_eq!(store.running_executions().expect("all"), expected_running);

    let mut due = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .due_timers_page(1_000, cursor.as_deref(), 3)
            .expect("timers page");
        assert!(page.items.len() <= 3);
        due.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    due.sort_by_key(|t| t.fire_at_ms);
    assert_eq!(due, expected_due);
    // The unpaged read merges the shards earliest first.
    assert_eq!(store.due_timers(1_000, 5).expect("due"), expected_due[..5]);
    assert_eq!(
        store.next_timer().expect("next"),
        expected_due.first().cloned()
    );
}

/// A table written before the sharding keeps the bare `RUNNING` / `TIMERS` keys on its items:
/// they stay visible, and an execution moves to its shard at its next write.
#[test]
fn items_from_before_the_sharding_stay_readable() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use cairn_store::{ExecutionStore, TimerRecord, TimerStore, Transition};
    let Some(endpoint) = emulator() else { return };
    let store = fresh_store(&endpoint);
    let record = running_record(7);
    store
        .create_execution(&record, &[], &cairn_store::Effects::default())
        .expect("create");
    let rt = runtime();
    let s = |v: &str| AttributeValue::S(v.to_string());
    let pk = format!("EX#{}", record.arn);
    let dynamo = store.inner();
    // Rewrite the index keys as the unsharded version wrote them.
    rt.block_on(
        dynamo
            .client()
            .update_item()
            .table_name(dynamo.table_name())
            .key("pk", s(&pk))
            .key("sk", s("EX"))
            .update_expression("SET gr = :r")
            .expression_attribute_values(":r", s("RUNNING"))
            .send(),
    )
    .expect("old running key");
    let gf = format!("{:020}#{}#{:020}", (40u64) ^ (1 << 63), record.arn, 3);
    rt.block_on(
        dynamo
            .client()
            .put_item()
            .table_name(dynamo.table_name())
            .item("pk", s(&pk))
            .item("sk", s(&format!("T#{:020}", 3)))
            .item("gt", s("TIMERS"))
            .item("gf", s(&gf))
            .item("arn", s(&record.arn))
            .item("fire", AttributeValue::N("40".into()))
            .item("timer", AttributeValue::N("3".into()))
            .send(),
    )
    .expect("old timer");
    assert_eq!(
        index_keys(&store, cairn_store_dynamodb::INDEX_RUNNING, "gr").len(),
        1
    );
    assert_eq!(
        store.running_executions().expect("running"),
        vec![record.arn.clone()]
    );
    let page = store.running_executions_page(None, 10).expect("page");
    assert_eq!(page.items, vec![record.arn.clone()]);
    let timer = TimerRecord {
        fire_at_ms: 40,
        execution_arn: record.arn.clone(),
        timer_id: 3,
    };
    assert_eq!(store.due_timers(100, 10).expect("due"), vec![timer.clone()]);
    assert_eq!(
        store.due_timers_page(100, None, 10).expect("page").items,
        [timer]
    );
    // The next write moves the execution to its shard.
    let (current, version) = store
        .get_execution(&record.arn)
        .expect("get")
        .expect("found");
    store
        .commit(&Transition {
            expected_version: version,
            record: current,
            history: Vec::new(),
            effects: cairn_store::Effects::default(),
        })
        .expect("commit");
    let keys = index_keys(&store, cairn_store_dynamodb::INDEX_RUNNING, "gr");
    assert_eq!(
        keys.into_iter().collect::<Vec<_>>(),
        [format!(
            "RUNNING#{}",
            cairn_store_dynamodb::index_shard(&record.arn)
        )]
    );
}

/// Moto's endpoint for S3 (the payload bucket), or None after the same skip-or-fail rule.
fn moto() -> Option<String> {
    match std::env::var("CAIRN_TEST_MOTO") {
        Ok(endpoint) if !endpoint.is_empty() => Some(endpoint),
        _ => {
            let reason = "CAIRN_TEST_MOTO is not set: moto is not running \
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

/// A store whose large items go to a fresh bucket on moto; the bucket's S3 client.
fn offloading_store(
    dynamodb: &str,
    moto: &str,
) -> (Synced, cairn_store_dynamodb::S3Client, String) {
    let store = fresh_dynamo(dynamodb);
    let rt = runtime();
    let config = rt.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(moto)
            .load(),
    );
    let s3 = cairn_store_dynamodb::S3Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let bucket = store.table_name().to_lowercase();
    rt.block_on(s3.create_bucket().bucket(&bucket).send())
        .expect("create bucket");
    let store = store.with_payload_bucket(s3.clone(), &bucket);
    (synced(store), s3, bucket)
}

fn object_count(s3: &cairn_store_dynamodb::S3Client, bucket: &str) -> usize {
    runtime()
        .block_on(s3.list_objects_v2().bucket(bucket).send())
        .expect("list objects")
        .contents()
        .len()
}

/// Bytes deflate cannot shrink (a SplitMix64 stream as hex digits, which halves at best).
fn noise(seed: u64, len: usize) -> String {
    let mut state = seed;
    let mut out = String::with_capacity(len);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.push_str(&format!("{:016x}", z ^ (z >> 31)));
    }
    out.truncate(len);
    out
}

/// Issue 12, item 5: an execution item past DynamoDB's 400 KB, a history chunk past it and
/// a transaction past 4 MB are written (their large attributes in S3) and read back whole;
/// the object of a replaced version is deleted.
#[test]
fn items_past_dynamodb_limits_go_to_s3_and_read_back() {
    use cairn_store::{
        Effects, ExecutionQuery, ExecutionStore, HistoryQuery, StoredEvent, Transition,
    };
    let Some(dynamodb) = emulator() else { return };
    let Some(moto) = moto() else { return };
    let (store, s3, bucket) = offloading_store(&dynamodb, &moto);
    let mut record = running_record(1);
    record.summary = serde_json::json!({"input": noise(1, 300_000)});
    record.state = noise(2, 900_000).into_bytes();
    let first = vec![StoredEvent {
        id: 1,
        body: noise(3, 700_000),
    }];
    store
        .create_execution(&record, &first, &Effects::default())
        .expect("create a 1.2 MB execution");
    let (read, version) = store
        .get_execution(&record.arn)
        .expect("get")
        .expect("found");
    assert_eq!(read, record);
    // The execution item and the one history chunk each went to S3.
    assert_eq!(object_count(&s3, &bucket), 2);

    // A transition of 30 events of 290 KB each: 30 chunks of about 145 KB deflated, past
    // 4 MB together.
    let history: Vec<StoredEvent> = (2..32)
        .map(|id| StoredEvent {
            id,
            body: noise(id, 290_000),
        })
        .collect();
    let mut next = record.clone();
    next.state = noise(4, 800_000).into_bytes();
    store
        .commit(&Transition {
            expected_version: version,
            record: next.clone(),
            history: history.clone(),
            effects: Effects::default(),
        })
        .expect("commit a 5 MB transition");
    let (read, _) = store
        .get_execution(&record.arn)
        .expect("get")
        .expect("found");
    assert_eq!(read, next);
    let events = store
        .read_history(
            &record.arn,
            &HistoryQuery {
                after_id: None,
                limit: 100,
                reverse: false,
            },
        )
        .expect("history");
    let mut expected = first.clone();
    expected.extend(history);
    assert_eq!(events, expected);
    // The first execution object is gone; the new one, the first chunk's and those of the
    // chunks moved to fit the transaction are there.
    let objects = object_count(&s3, &bucket);
    assert!((3..=32).contains(&objects), "{objects} objects");
    // ListExecutions reads records through BatchGetItem: offloaded ones come back whole.
    let page = store
        .list_executions(&ExecutionQuery {
            state_machine_arn: record.state_machine_arn.clone(),
            status: None,
            cursor: None,
            limit: 10,
        })
        .expect("list");
    assert_eq!(page.items, vec![next]);
}

/// Without a payload bucket an oversized item is refused with a message that says why.
#[test]
fn an_oversized_item_without_a_bucket_says_so() {
    use cairn_store::{Effects, ExecutionStore};
    let Some(dynamodb) = emulator() else { return };
    let store = fresh_store(&dynamodb);
    let mut record = running_record(2);
    record.state = noise(5, 900_000).into_bytes();
    let err = store
        .create_execution(&record, &[], &Effects::default())
        .expect_err("too large");
    assert!(err.to_string().contains("PAYLOAD_BUCKET"), "{err}");
}

#[test]
fn the_store_suite_passes_with_a_payload_bucket() {
    let Some(dynamodb) = emulator() else { return };
    let Some(moto) = moto() else { return };
    cairn_store::suite::run_store_suite(|| offloading_store(&dynamodb, &moto).0);
}

fn all_due_timers(store: &Synced) -> Vec<cairn_store::TimerRecord> {
    use cairn_store::TimerStore;
    let mut timers = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .due_timers_page(i64::MAX / 2, cursor.as_deref(), 1000)
            .expect("timers");
        timers.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return timers,
        }
    }
}

fn pending_item_exists(store: &Synced, arn: &str) -> bool {
    use aws_sdk_dynamodb::types::AttributeValue;
    let store = store.inner();
    runtime()
        .block_on(
            store
                .client()
                .get_item()
                .table_name(store.table_name())
                .key("pk", AttributeValue::S(format!("EX#{arn}")))
                .key("sk", AttributeValue::S("PEND".into()))
                .consistent_read(true)
                .send(),
        )
        .expect("get")
        .item
        .is_some()
}

/// Issue 12, item 5: one transition with more effects than a transaction's 100 items (a Map
/// starting hundreds of timers and callbacks at once) writes them all, whether the writer
/// finishes its pending work itself or dies first and the next read finishes it; a later
/// transition removes them all the same way.
#[test]
fn a_transition_past_100_items_writes_every_effect() {
    use cairn_store::{
        Effects, ExecutionStore, TaskTokenRecord, TaskTokenStore, TimerRecord, Transition,
    };
    let Some(dynamodb) = emulator() else { return };
    for writer_dies in [false, true] {
        let mut dynamo = fresh_dynamo(&dynamodb);
        if writer_dies {
            dynamo = dynamo.leaving_pending_work();
        }
        let store = synced(dynamo);
        let record = running_record(3);
        let version = store
            .create_execution(&record, &[], &Effects::default())
            .expect("create");
        let timers: Vec<TimerRecord> = (0..250)
            .map(|id| TimerRecord {
                fire_at_ms: 1_000 + id as i64,
                execution_arn: record.arn.clone(),
                timer_id: id,
            })
            .collect();
        let tokens: Vec<TaskTokenRecord> = (0..120)
            .map(|id| TaskTokenRecord {
                token: format!("token-{id:04}"),
                execution_arn: record.arn.clone(),
                task_id: id,
            })
            .collect();
        let history = vec![cairn_store::StoredEvent {
            id: 1,
            body: "{}".into(),
        }];
        let version = store
            .commit(&Transition {
                expected_version: version,
                record: record.clone(),
                history: history.clone(),
                effects: Effects {
                    timers_add: timers.clone(),
                    tokens_add: tokens.clone(),
                    ..Effects::default()
                },
            })
            .expect("a transition of 372 items");
        if writer_dies {
            // Only what fit in the transaction is there, and the rest waits.
            assert!(all_due_timers(&store).len() < 250);
            assert!(pending_item_exists(&store, &record.arn));
        }
        // A read finishes the work before anyone can write on top of it.
        let (_, read_version) = store
            .get_execution(&record.arn)
            .expect("get")
            .expect("found");
        assert_eq!(read_version, version);
        assert!(!pending_item_exists(&store, &record.arn));
        let mut found = all_due_timers(&store);
        found.sort_by_key(|t| t.timer_id);
        assert_eq!(found, timers);
        for token in &tokens {
            assert_eq!(
                store.get_task_token(&token.token).expect("token").as_ref(),
                Some(token)
            );
        }
        let history_read = store
            .read_history(
                &record.arn,
                &cairn_store::HistoryQuery {
                    after_id: None,
                    limit: 10,
                    reverse: false,
                },
            )
            .expect("history");
        assert_eq!(history_read, history);

        store
            .commit(&Transition {
                expected_version: version,
                record: record.clone(),
                history: Vec::new(),
                effects: Effects {
                    timers_remove: timers.clone(),
                    tokens_remove: tokens.iter().map(|t| t.token.clone()).collect(),
                    ..Effects::default()
                },
            })
            .expect("a transition removing 370 items");
        store.get_execution(&record.arn).expect("get");
        assert_eq!(all_due_timers(&store), vec![]);
        assert_eq!(store.get_task_token("token-0007").expect("token"), None);
    }
}

/// The `ttl` attribute (epoch seconds) of the item `pk`/`sk`, if it has one.
fn ttl_of(store: &Synced, pk: &str, sk: &str) -> Option<i64> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let store = store.inner();
    let item = runtime()
        .block_on(
            store
                .client()
                .get_item()
                .table_name(store.table_name())
                .key("pk", AttributeValue::S(pk.into()))
                .key("sk", AttributeValue::S(sk.into()))
                .consistent_read(true)
                .send(),
        )
        .expect("get")
        .item
        .expect("the item exists");
    item.get("ttl")
        .and_then(|v| v.as_n().ok())
        .map(|n| n.parse().expect("a number"))
}

/// Issue 14, item 6: retention by DynamoDB TTL. A running execution has no `ttl`; the write
/// that closes it sets the stop plus the retention; its history chunks expire after a year
/// and redrive's 14 days beyond that; a redrive (running again) drops it. DynamoDB Local
/// keeps the attribute (it does not expire items, so expiry itself is AWS's).
#[test]
fn closed_executions_carry_a_ttl_of_their_stop_plus_the_retention() {
    use cairn_store::{Effects, ExecutionStore, StoredEvent, Transition};
    let Some(endpoint) = emulator() else { return };
    let store = synced(fresh_dynamo(&endpoint).with_retention_days(90));
    let mut record = running_record(1);
    record.start_ms = 1_764_000_000_123;
    let event = |id: u64| StoredEvent {
        id,
        body: format!("{{\"id\":{id}}}"),
    };
    let version = store
        .create_execution(&record, &[event(1)], &Effects::default())
        .expect("create");
    let pk = format!("EX#{}", record.arn);
    assert_eq!(ttl_of(&store, &pk, "EX"), None);
    let history_ttl = 1_764_000_000 + (365 + 14 + 90) * 86_400;
    assert_eq!(
        ttl_of(&store, &pk, &format!("H#{:020}", 1)),
        Some(history_ttl)
    );

    let mut closed = record.clone();
    closed.status = "SUCCEEDED".into();
    closed.stop_ms = Some(1_764_000_500_999);
    let version = store
        .commit(&Transition {
            expected_version: version,
            record: closed.clone(),
            history: vec![event(2)],
            effects: Effects::default(),
        })
        .expect("close");
    assert_eq!(ttl_of(&store, &pk, "EX"), Some(1_764_000_500 + 90 * 86_400));
    assert_eq!(
        ttl_of(&store, &pk, &format!("H#{:020}", 2)),
        Some(history_ttl)
    );

    // Its storage: the record and two chunks, each with DynamoDB's 100 bytes of overhead.
    let stored = runtime()
        .block_on(store.inner().execution_storage_bytes(&record.arn))
        .expect("storage");
    assert!((300..2_000).contains(&stored), "{stored} bytes");

    // Redriven: running again, kept until it closes anew.
    store
        .commit(&Transition {
            expected_version: version,
            record: record.clone(),
            history: Vec::new(),
            effects: Effects::default(),
        })
        .expect("redrive");
    assert_eq!(ttl_of(&store, &pk, "EX"), None);

    // Without a retention nothing expires.
    let keep_all = fresh_store(&endpoint);
    let mut other = running_record(2);
    other.status = "FAILED".into();
    other.stop_ms = Some(5_000);
    keep_all
        .create_execution(&other, &[event(1)], &Effects::default())
        .expect("create");
    let pk = format!("EX#{}", other.arn);
    assert_eq!(ttl_of(&keep_all, &pk, "EX"), None);
    // Started and ended in one write: its history is in its item, which expires with it.
    assert_eq!(item_sort_keys(&keep_all, &other.arn), ["EX"]);
}

/// The sort keys of an execution's items.
fn item_sort_keys(store: &Synced, arn: &str) -> Vec<String> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let store = store.inner();
    let out = runtime()
        .block_on(
            store
                .client()
                .query()
                .table_name(store.table_name())
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(format!("EX#{arn}")))
                .consistent_read(true)
                .send(),
        )
        .expect("query");
    out.items()
        .iter()
        .filter_map(|item| item.get("sk")?.as_s().ok().cloned())
        .collect()
}

fn history_ids(
    store: &Synced,
    arn: &str,
    after_id: Option<u64>,
    limit: usize,
    reverse: bool,
) -> Vec<u64> {
    use cairn_store::ExecutionStore;
    store
        .read_history(
            arn,
            &cairn_store::HistoryQuery {
                after_id,
                limit,
                reverse,
            },
        )
        .expect("history")
        .iter()
        .map(|e| e.id)
        .collect()
}

/// Issue 16 (B4's cost): an execution that starts and ends in one write is one item, its
/// history deflated with its state (one transactional item costs half of two); the history
/// reads back in every order and page; a redrive moves it to a chunk before writing on top,
/// so no event is lost; a long history still goes to chunks.
#[test]
fn an_execution_closed_in_its_first_write_keeps_its_history_in_its_item() {
    use cairn_store::{Effects, ExecutionStore, StoredEvent, Transition, UNSENT_STATUS};
    let Some(endpoint) = emulator() else { return };
    let store = synced(fresh_dynamo(&endpoint).with_retention_days(90));
    let event = |id: u64| StoredEvent {
        id,
        body: format!("{{\"id\":{id},\"type\":\"PassStateEntered\"}}"),
    };
    let mut closed = running_record(3);
    closed.status = "FAILED".into();
    closed.stop_ms = Some(9_000);
    closed.summary[UNSENT_STATUS] = serde_json::json!(["RUNNING", "FAILED"]);
    let history: Vec<StoredEvent> = (1..=5).map(event).collect();
    let version = store
        .create_execution(&closed, &history, &Effects::default())
        .expect("create");
    assert_eq!(item_sort_keys(&store, &closed.arn), ["EX"]);
    let (read, read_version) = store
        .get_execution(&closed.arn)
        .expect("get")
        .expect("found");
    assert_eq!((read, read_version), (closed.clone(), version));
    let stored = store
        .read_history(
            &closed.arn,
            &cairn_store::HistoryQuery {
                after_id: None,
                limit: 100,
                reverse: false,
            },
        )
        .expect("history");
    assert_eq!(stored, history);
    assert_eq!(history_ids(&store, &closed.arn, None, 2, false), [1, 2]);
    assert_eq!(history_ids(&store, &closed.arn, Some(2), 2, false), [3, 4]);
    assert_eq!(
        history_ids(&store, &closed.arn, Some(5), 2, false),
        Vec::<u64>::new()
    );
    assert_eq!(history_ids(&store, &closed.arn, None, 2, true), [5, 4]);
    assert_eq!(
        history_ids(&store, &closed.arn, Some(4), 10, true),
        [3, 2, 1]
    );
    // The confirmation of its status events leaves the history alone.
    assert!(store
        .confirm_status_sent(&closed, version)
        .expect("confirm"));
    assert_eq!(
        history_ids(&store, &closed.arn, None, 100, false),
        [1, 2, 3, 4, 5]
    );

    // Redriven: the write moves the five events to a chunk, then adds its own.
    let (current, version) = store
        .get_execution(&closed.arn)
        .expect("get")
        .expect("found");
    let mut redriven = current.clone();
    redriven.status = "RUNNING".into();
    redriven.stop_ms = None;
    let version = store
        .commit(&Transition {
            expected_version: version,
            record: redriven.clone(),
            history: vec![event(6), event(7)],
            effects: Effects::default(),
        })
        .expect("redrive");
    assert_eq!(
        history_ids(&store, &closed.arn, None, 100, false),
        [1, 2, 3, 4, 5, 6, 7]
    );
    assert_eq!(history_ids(&store, &closed.arn, None, 3, true), [7, 6, 5]);
    assert_eq!(
        item_sort_keys(&store, &closed.arn),
        ["EX", &format!("H#{:020}", 1)]
    );
    // The chunk keeps a history's expiry (a year and 14 days past the start, 3 ms after the
    // epoch here, plus the retention).
    assert_eq!(
        ttl_of(
            &store,
            &format!("EX#{}", closed.arn),
            &format!("H#{:020}", 1)
        ),
        Some((365 + 14 + 90) * 86_400)
    );
    // A stale write after the move is still a conflict, not a second move.
    let stale = store.commit(&Transition {
        expected_version: version - 1,
        record: redriven.clone(),
        history: vec![event(8)],
        effects: Effects::default(),
    });
    assert!(
        matches!(stale, Err(cairn_store::Error::Conflict(_))),
        "{stale:?}"
    );
    let mut ended = redriven;
    ended.status = "SUCCEEDED".into();
    ended.stop_ms = Some(12_000);
    store
        .commit(&Transition {
            expected_version: version,
            record: ended,
            history: vec![event(8)],
            effects: Effects::default(),
        })
        .expect("end");
    assert_eq!(
        history_ids(&store, &closed.arn, None, 100, false),
        (1..=8).collect::<Vec<_>>()
    );

    // Written alone (a put, not a transaction), the item keeps the create's condition: a
    // second create of the ARN finds it.
    let again = store.create_execution(&closed, &history, &Effects::default());
    assert!(
        matches!(again, Err(cairn_store::Error::AlreadyExists(_))),
        "{again:?}"
    );
    // A later write of nothing but the item (a put too) still moves an inline history to a
    // chunk first, and a stale one is a conflict.
    let mut quiet = running_record(5);
    quiet.status = "SUCCEEDED".into();
    quiet.stop_ms = Some(2);
    let version = store
        .create_execution(&quiet, &history, &Effects::default())
        .expect("create");
    let stale = store.commit(&Transition {
        expected_version: version + 1,
        record: quiet.clone(),
        history: Vec::new(),
        effects: Effects::default(),
    });
    assert!(
        matches!(stale, Err(cairn_store::Error::Conflict(_))),
        "{stale:?}"
    );
    let moved = store
        .commit(&Transition {
            expected_version: version,
            record: quiet.clone(),
            history: Vec::new(),
            effects: Effects::default(),
        })
        .expect("rewrite");
    assert_eq!(moved, version + 1);
    assert_eq!(
        item_sort_keys(&store, &quiet.arn),
        ["EX", &format!("H#{:020}", 1)]
    );
    assert_eq!(
        history_ids(&store, &quiet.arn, None, 100, false),
        [1, 2, 3, 4, 5]
    );

    // A long history goes to chunks even in a first write.
    let mut long = running_record(4);
    long.status = "SUCCEEDED".into();
    long.stop_ms = Some(1);
    let bulky: Vec<StoredEvent> = (1..=100)
        .map(|id| StoredEvent {
            id,
            body: format!("{{\"id\":{id},\"pad\":\"{}\"}}", "x".repeat(400)),
        })
        .collect();
    store
        .create_execution(&long, &bulky, &Effects::default())
        .expect("create");
    assert_eq!(
        item_sort_keys(&store, &long.arn),
        ["EX", &format!("H#{:020}", 1)]
    );
    assert_eq!(
        history_ids(&store, &long.arn, Some(98), 10, false),
        [99, 100]
    );
}

/// Items written before the packed body (summary as JSON text, state in `stz`, the name
/// attribute) read back, and the next write replaces them in the new form.
#[test]
fn execution_items_of_the_earlier_form_stay_readable() {
    use aws_sdk_dynamodb::primitives::Blob;
    use aws_sdk_dynamodb::types::AttributeValue;
    use cairn_store::{Effects, ExecutionStore, StoredEvent, Transition};
    let Some(endpoint) = emulator() else { return };
    let store = fresh_store(&endpoint);
    let record = running_record(8);
    let pk = format!("EX#{}", record.arn);
    let s = |v: &str| AttributeValue::S(v.to_string());
    let dynamo = store.inner();
    let deflated = |bytes: &[u8]| {
        AttributeValue::B(Blob::new(miniz_oxide::deflate::compress_to_vec(bytes, 1)))
    };
    runtime()
        .block_on(
            dynamo
                .client()
                .put_item()
                .table_name(dynamo.table_name())
                .item("pk", s(&pk))
                .item("sk", s("EX"))
                .item("sm", s(&record.state_machine_arn))
                .item("name", s(&record.name))
                .item("status", s("RUNNING"))
                .item("start", AttributeValue::N(record.start_ms.to_string()))
                .item("summary", s(&record.summary.to_string()))
                .item("stz", deflated(&record.state))
                .item("version", AttributeValue::N("3".into()))
                .item("gs", s("old"))
                .send(),
        )
        .expect("old execution item");
    let old_events = serde_json::to_vec(&[(1u64, "{\"id\":1}")]).unwrap();
    runtime()
        .block_on(
            dynamo
                .client()
                .put_item()
                .table_name(dynamo.table_name())
                .item("pk", s(&pk))
                .item("sk", s(&format!("H#{:020}", 1)))
                .item("first", AttributeValue::N("1".into()))
                .item("last", AttributeValue::N("1".into()))
                .item("evz", deflated(&old_events))
                .send(),
        )
        .expect("old chunk");
    let (read, version) = store
        .get_execution(&record.arn)
        .expect("get")
        .expect("found");
    assert_eq!((&read, version), (&record, 3));
    let mut closed = record.clone();
    closed.status = "SUCCEEDED".into();
    closed.stop_ms = Some(50);
    store
        .commit(&Transition {
            expected_version: 3,
            record: closed.clone(),
            history: vec![StoredEvent {
                id: 2,
                body: "{\"id\":2}".into(),
            }],
            effects: Effects::default(),
        })
        .expect("commit on an old item");
    let (read, version) = store
        .get_execution(&record.arn)
        .expect("get")
        .expect("found");
    assert_eq!((read, version), (closed, 4));
    assert_eq!(history_ids(&store, &record.arn, None, 10, false), [1, 2]);
}

/// Issue 12, item 4: a closed execution whose status events are marked unsent is listed for
/// the sweep until the mark is confirmed, and the confirmation (no new version) takes it off
/// the list; a confirmation for a version that moved on changes nothing.
#[test]
fn unsent_status_marks_are_listed_until_confirmed() {
    use cairn_store::{Effects, ExecutionStore, UNSENT_STATUS};
    let Some(endpoint) = emulator() else { return };
    let store = fresh_store(&endpoint);
    let mut closed = running_record(4);
    closed.status = "FAILED".into();
    closed.stop_ms = Some(9);
    closed.summary[UNSENT_STATUS] = serde_json::json!(["RUNNING", "FAILED"]);
    let version = store
        .create_execution(&closed, &[], &Effects::default())
        .expect("create");
    let mut running = running_record(5);
    running.summary[UNSENT_STATUS] = serde_json::json!(["RUNNING"]);
    store
        .create_execution(&running, &[], &Effects::default())
        .expect("create");
    let (read, _) = store
        .get_execution(&closed.arn)
        .expect("get")
        .expect("found");
    assert_eq!(read, closed);
    let listed = store.unsent_status_page(None, 10).expect("page").items;
    assert_eq!(listed, vec![closed.arn.clone()]);
    assert_eq!(
        store.running_executions().expect("running"),
        vec![running.arn.clone()]
    );
    assert!(!store
        .confirm_status_sent(&closed, version + 1)
        .expect("stale"));
    assert!(store
        .confirm_status_sent(&closed, version)
        .expect("confirm"));
    assert!(store
        .confirm_status_sent(&running, 1)
        .expect("confirm running"));
    assert!(store
        .unsent_status_page(None, 10)
        .expect("page")
        .items
        .is_empty());
    let (read, read_version) = store
        .get_execution(&closed.arn)
        .expect("get")
        .expect("found");
    assert_eq!(read_version, version);
    assert!(read.summary.get(UNSENT_STATUS).is_none());
    assert_eq!(
        store.running_executions().expect("running"),
        vec![running.arn.clone()]
    );
    let (read, _) = store
        .get_execution(&running.arn)
        .expect("get")
        .expect("found");
    assert!(read.summary.get(UNSENT_STATUS).is_none());

    // Closed by a later write, its mark keeps the entry it had while running (no index
    // write): the sweep's running pages list it until the confirmation.
    let (_, version) = store
        .get_execution(&running.arn)
        .expect("get")
        .expect("found");
    let mut ended = running.clone();
    ended.status = "SUCCEEDED".into();
    ended.stop_ms = Some(20);
    ended.summary[UNSENT_STATUS] = serde_json::json!(["SUCCEEDED"]);
    let version = store
        .commit(&cairn_store::Transition {
            expected_version: version,
            record: ended.clone(),
            history: Vec::new(),
            effects: Effects::default(),
        })
        .expect("end");
    let shard = |prefix: &str| {
        format!(
            "{prefix}#{}",
            cairn_store_dynamodb::index_shard(&running.arn)
        )
    };
    assert!(
        index_keys(&store, cairn_store_dynamodb::INDEX_RUNNING, "gr").contains(&shard("RUNNING"))
    );
    assert_eq!(
        store.running_executions().expect("running"),
        vec![running.arn.clone()]
    );
    assert!(store
        .unsent_status_page(None, 10)
        .expect("page")
        .items
        .is_empty());
    assert!(store.confirm_status_sent(&ended, version).expect("confirm"));
    assert!(store.running_executions().expect("running").is_empty());
    let (read, _) = store
        .get_execution(&running.arn)
        .expect("get")
        .expect("found");
    assert_eq!(read.status, "SUCCEEDED");
    assert!(read.summary.get(UNSENT_STATUS).is_none());
}

/// A Map Run's child as the shared API shapes it: closed, no state, its Map Run's ARN.
fn map_run_child(i: usize, status: &str) -> cairn_store::ExecutionRecord {
    cairn_store::ExecutionRecord {
        arn: format!("arn:aws:states:us-east-1:123456789012:execution:m/each:child{i:05}"),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m/each".into(),
        name: format!("child{i:05}"),
        status: status.into(),
        start_ms: 1_764_000_000_000 + i64::try_from(i).unwrap_or(0),
        stop_ms: Some(1_764_000_001_000),
        summary: serde_json::json!({
            "mapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:m/each:r",
            "input": format!("{{\"n\":{i}}}"),
        }),
        state: Vec::new(),
    }
}

/// Every execution of the children's state machine, through ListExecutions.
fn listed_children(store: &Synced) -> Vec<cairn_store::ExecutionRecord> {
    use cairn_store::{ExecutionQuery, ExecutionStore};
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_executions(&ExecutionQuery {
                state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m/each"
                    .into(),
                status: None,
                cursor,
                limit: 1000,
            })
            .expect("list");
        all.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    all.sort_by(|a, b| a.arn.cmp(&b.arn));
    all
}

/// Issue 16: a Map Run's children go in BatchWriteItems of 25, several at once. A call of
/// 1,003 records (a child twice in one call: the later copy wins, as written one by one)
/// stores every child once, listed and read back whole; the same call again changes
/// nothing; a call that changes some children's ends replaces exactly those; each write of
/// a child is billed as a plain put, not a transaction; closed children carry their TTL.
#[test]
fn closed_executions_are_batch_written_and_replaced() {
    use cairn_store::ExecutionStore;
    let Some(endpoint) = emulator() else { return };
    let store = synced(fresh_dynamo(&endpoint).with_retention_days(90));
    let mut records: Vec<_> = (0..1000).map(|i| map_run_child(i, "SUCCEEDED")).collect();
    // The first copies of three children, later replaced in the same call.
    let mut call: Vec<_> = (0..3).map(|i| map_run_child(i, "ABORTED")).collect();
    call.append(&mut records.clone());
    let (_, writes_before, requests_before) = store.inner().usage().snapshot();
    store.put_closed_executions(&call).expect("put");
    let (_, writes, requests) = store.inner().usage().snapshot();
    // 1,000 puts in 40 requests; about 1 unit each for the item and 1 for its index entry
    // (a transaction each billed the item twice).
    assert_eq!(requests - requests_before, 40);
    let units = writes - writes_before;
    assert!((1000.0..=2500.0).contains(&units), "{units} write units");
    assert_eq!(listed_children(&store), records);

    store.put_closed_executions(&records).expect("put again");
    assert_eq!(listed_children(&store), records);

    // A redriven run's children ended otherwise: their records replace the earlier ones.
    let changed: Vec<_> = (0..1000)
        .step_by(7)
        .map(|i| map_run_child(i, "FAILED"))
        .collect();
    store.put_closed_executions(&changed).expect("replace");
    for record in &changed {
        records[record.name[5..].parse::<usize>().expect("an index")] = record.clone();
    }
    assert_eq!(listed_children(&store), records);
    let (read, _) = store
        .get_execution(&changed[3].arn)
        .expect("get")
        .expect("found");
    assert_eq!(read, changed[3]);
    assert_eq!(
        ttl_of(&store, &format!("EX#{}", changed[3].arn), "EX"),
        Some(1_764_000_001 + 90 * 86_400)
    );
    assert!(store.running_executions().expect("running").is_empty());
}

/// A child past DynamoDB's item limit keeps its large attributes in S3, as any write does,
/// and reads back whole beside its small siblings of the same call.
#[test]
fn a_closed_execution_past_the_item_limit_is_batch_written_through_s3() {
    use cairn_store::ExecutionStore;
    let Some(dynamodb) = emulator() else { return };
    let Some(moto) = moto() else { return };
    let (store, s3, bucket) = offloading_store(&dynamodb, &moto);
    let mut large = map_run_child(0, "SUCCEEDED");
    large.summary["output"] = serde_json::Value::from(noise(7, 900_000));
    let records = vec![
        large,
        map_run_child(1, "SUCCEEDED"),
        map_run_child(2, "FAILED"),
    ];
    store.put_closed_executions(&records).expect("put");
    assert_eq!(object_count(&s3, &bucket), 1);
    assert_eq!(listed_children(&store), records);
}

/// The definition item's attributes, read directly (None when there is no item).
fn definition_item(
    store: &Synced,
    key: &str,
) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let store = store.inner();
    runtime()
        .block_on(
            store
                .client()
                .get_item()
                .table_name(store.table_name())
                .key("pk", AttributeValue::S(format!("DEF#{key}")))
                .key("sk", AttributeValue::S("DEF".into()))
                .consistent_read(true)
                .send(),
        )
        .expect("get")
        .item
}

/// Issue 16: definitions kept once, by key. A warm container (a store and its clones) writes
/// and reads each at most once; a cold one on the same table reads it back strongly and finds
/// it at its put without writing again; the item is deflated and never expires; a
/// definition whose item would pass the item limit is not kept, and its states carry it.
#[test]
fn definitions_are_written_and_read_once_per_container() {
    use cairn_store::ExecutionStore;
    let Some(endpoint) = emulator() else { return };
    let warm = synced(fresh_dynamo(&endpoint).with_retention_days(90));
    let requests = |store: &Synced| store.inner().usage().snapshot().2;
    let states: Vec<String> = (0..1_000)
        .map(|i| format!(r#""S{i}":{{"Type":"Pass","Next":"S{}"}}"#, i + 1))
        .collect();
    let text = format!(r#"{{"StartAt":"S0","States":{{{}}}}}"#, states.join(","));

    // A cold put reads, then writes.
    assert!(warm.put_definition("chain", &text).expect("put"));
    assert_eq!(requests(&warm), 2);
    let (_, writes, _) = warm.inner().usage().snapshot();
    assert!(writes >= 1.0, "{writes} write units");
    // Known now: neither a put nor a get asks DynamoDB again, in this store or a clone.
    let clone = synced(cairn_store_dynamodb::DynamoStore::clone(warm.inner()));
    for store in [&warm, &clone] {
        assert!(store.put_definition("chain", &text).expect("put again"));
        assert_eq!(
            store.get_definition("chain").expect("get").as_deref(),
            Some(text.as_str())
        );
    }
    assert_eq!(requests(&warm), 2);

    let item = definition_item(&warm, "chain").expect("the item");
    let packed = item["dz"].as_b().expect("deflated text").as_ref().len();
    assert!(packed * 5 < text.len(), "{packed} of {} bytes", text.len());
    assert!(!item.contains_key("ttl"), "a definition never expires");

    // Another container: its first get reads the item, its second nothing.
    let cold = synced(cairn_store_dynamodb::DynamoStore::with_client(
        warm.inner().client().clone(),
        warm.inner().table_name(),
    ));
    assert_eq!(
        cold.get_definition("chain").expect("get").as_deref(),
        Some(text.as_str())
    );
    assert_eq!(
        cold.get_definition("chain").expect("get").as_deref(),
        Some(text.as_str())
    );
    assert!(cold.put_definition("chain", &text).expect("put"));
    assert_eq!(requests(&cold), 1);
    // A cold put finds the key by a read and writes nothing: the first text stays.
    let fresh = synced(cairn_store_dynamodb::DynamoStore::with_client(
        warm.inner().client().clone(),
        warm.inner().table_name(),
    ));
    assert!(fresh.put_definition("chain", "{}").expect("put"));
    let (reads, writes, calls) = fresh.inner().usage().snapshot();
    assert_eq!((writes, calls), (0.0, 1));
    assert!(reads > 0.0);
    assert_eq!(
        fresh.get_definition("chain").expect("get").as_deref(),
        Some(text.as_str())
    );
    // A missing key is not remembered as missing: another container may put it next.
    assert_eq!(cold.get_definition("later").expect("get"), None);
    assert!(warm.put_definition("later", "{\"v\":1}").expect("put"));
    assert_eq!(
        cold.get_definition("later").expect("get").as_deref(),
        Some("{\"v\":1}")
    );

    // Past the item limit once deflated (hex digits deflate to half at best): not kept,
    // nothing written, and the next put asks nothing.
    let huge = noise(11, 900_000);
    let before = warm.inner().usage().snapshot();
    assert!(!warm.put_definition("huge", &huge).expect("put huge"));
    let after = warm.inner().usage().snapshot();
    assert_eq!(after.1, before.1, "nothing written");
    assert!(definition_item(&warm, "huge").is_none());
    assert!(!warm.put_definition("huge", &huge).expect("put huge again"));
    assert_eq!(warm.inner().usage().snapshot().2, after.2);
    assert_eq!(warm.get_definition("huge").expect("get"), None);
}
