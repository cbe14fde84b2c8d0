use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_store::{
    Effects, ExecutionRecord, ExecutionStore, HistoryQuery, StoredEvent, TimerRecord, TimerStore,
};
use cairn_store_sqlite::SqliteStore;

fn fresh_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "cairn-store-sqlite-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn sqlite_store_passes_the_store_suite() {
    cairn_store::suite::run_store_suite(|| SqliteStore::open(&fresh_dir()).expect("open"));
}

#[test]
fn sqlite_store_passes_the_retention_suite() {
    cairn_store::suite::run_retention_suite(|| SqliteStore::open(&fresh_dir()).expect("open"));
}

#[test]
fn writes_survive_reopening_the_database() {
    let dir = fresh_dir();
    let record = ExecutionRecord {
        arn: "arn:aws:states:us-east-1:123456789012:execution:m:e".into(),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
        name: "e".into(),
        status: "RUNNING".into(),
        start_ms: 5,
        stop_ms: None,
        summary: serde_json::json!({"input": "{\"a\":1}"}),
        state: vec![0, 1, 2, 255],
    };
    let timer = TimerRecord {
        fire_at_ms: 99,
        execution_arn: record.arn.clone(),
        timer_id: 4,
    };
    {
        let store = SqliteStore::open(&dir).expect("open");
        let effects = Effects {
            timers_add: vec![timer.clone()],
            ..Effects::default()
        };
        let history = [StoredEvent {
            id: 1,
            body: "{\"type\":\"ExecutionStarted\"}".into(),
        }];
        store
            .create_execution(&record, &history, &effects)
            .expect("create");
        assert!(store
            .put_definition("k", "{\"StartAt\":\"P\"}")
            .expect("put"));
    }
    let store = SqliteStore::open(&dir).expect("reopen");
    assert_eq!(
        store.get_definition("k").expect("definition").as_deref(),
        Some("{\"StartAt\":\"P\"}")
    );
    // A reopened store knows nothing of what is written: the put finds the key taken.
    assert!(store.put_definition("k", "other").expect("put again"));
    assert_eq!(
        store.get_definition("k").expect("definition").as_deref(),
        Some("{\"StartAt\":\"P\"}")
    );
    assert_eq!(
        store.get_execution(&record.arn).expect("get"),
        Some((record.clone(), 1))
    );
    assert_eq!(
        store.running_executions().expect("running"),
        vec![record.arn.clone()]
    );
    assert_eq!(store.next_timer().expect("timer"), Some(timer));
    let history = store.read_history(
        &record.arn,
        &HistoryQuery {
            after_id: None,
            limit: 10,
            reverse: false,
        },
    );
    assert_eq!(
        history.expect("history")[0].body,
        "{\"type\":\"ExecutionStarted\"}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn one_process_owns_a_data_directory() {
    let dir = fresh_dir();
    let first = SqliteStore::open(&dir).expect("open");
    let second = SqliteStore::open(&dir);
    assert!(
        matches!(&second, Err(cairn_store::Error::Backend(m)) if m.contains("another process")),
        "{:?}",
        second.err()
    );
    drop(first);
    assert!(
        SqliteStore::open(&dir).is_ok(),
        "the lock goes with the store"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The store keeps state machine records decoded in memory: every read after a write must
/// see that write, whether the record was cached before it or not.
#[test]
fn cached_state_machines_follow_updates_deletes_and_recreation() {
    use cairn_store::{StateMachineRecord, StateMachineStore};
    let store = SqliteStore::open(&fresh_dir()).expect("open");
    let arn = "arn:aws:states:us-east-1:123456789012:stateMachine:m";
    let record = |arn: &str, definition: &str| StateMachineRecord {
        arn: arn.into(),
        name: "m".into(),
        created_ms: 1,
        document: serde_json::json!({ "definition": definition }),
    };
    let document = |store: &SqliteStore, arn: &str| {
        store
            .get_state_machine(arn)
            .expect("get")
            .map(|(r, version)| (r.document["definition"].clone(), version))
    };
    store
        .create_state_machine(&record(arn, "one"))
        .expect("create");
    assert_eq!(document(&store, arn), Some(("one".into(), 1)));
    // Cached now: a second read, and a read by another ARN of the same name.
    assert_eq!(document(&store, arn), Some(("one".into(), 1)));
    assert_eq!(document(&store, &format!("{arn}x")), None);
    let other = "arn:aws:states:us-west-2:123456789012:stateMachine:m";
    assert_eq!(document(&store, other), None);

    store
        .update_state_machine(&record(arn, "two"), 1)
        .expect("update");
    assert_eq!(document(&store, arn), Some(("two".into(), 2)));
    assert!(store
        .update_state_machine(&record(arn, "stale"), 1)
        .is_err());
    assert_eq!(document(&store, arn), Some(("two".into(), 2)));

    assert!(store.delete_state_machine(arn).expect("delete"));
    assert_eq!(document(&store, arn), None);
    store
        .create_state_machine(&record(other, "three"))
        .expect("create again");
    assert_eq!(document(&store, arn), None);
    assert_eq!(document(&store, other), Some(("three".into(), 1)));
}

/// 8 KiB pages: an execution row with its state is over a kilobyte, and 4 KiB pages held
/// two of them, half empty.
#[test]
fn a_new_database_has_8_kib_pages() {
    let dir = fresh_dir();
    drop(SqliteStore::open(&dir).expect("open"));
    let raw = rusqlite::Connection::open(dir.join(cairn_store_sqlite::DATABASE_FILE)).expect("raw");
    let page_size: i64 = raw
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .expect("page size");
    assert_eq!(page_size, 8192);
}

/// The one-write batch keeps the default's versions: an equal re-put writes nothing, a changed
/// record replaces the row at the next version, and a batch with a new child adds it beside.
#[test]
fn put_closed_executions_replaces_only_changed_records() {
    let store = SqliteStore::open(&fresh_dir()).expect("open");
    let child = |name: &str, status: &str, stop_ms: i64| ExecutionRecord {
        arn: format!("arn:aws:states:us-east-1:123456789012:execution:m/each:{name}"),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m/each".into(),
        name: name.into(),
        status: status.into(),
        start_ms: 10,
        stop_ms: Some(stop_ms),
        summary: serde_json::json!({"output": name}),
        state: Vec::new(),
    };
    let version_of = |name: &str| {
        store
            .get_execution(&child(name, "", 0).arn)
            .expect("get")
            .map(|(record, version)| (record.status, record.stop_ms, version))
    };
    store
        .put_closed_executions(&[child("a", "FAILED", 20), child("b", "SUCCEEDED", 20)])
        .expect("put");
    assert_eq!(version_of("a"), Some(("FAILED".into(), Some(20), 1)));
    store
        .put_closed_executions(&[child("a", "FAILED", 20), child("b", "SUCCEEDED", 20)])
        .expect("put again");
    assert_eq!(version_of("a"), Some(("FAILED".into(), Some(20), 1)));
    store
        .put_closed_executions(&[child("a", "SUCCEEDED", 30), child("c", "ABORTED", 25)])
        .expect("replace");
    assert_eq!(version_of("a"), Some(("SUCCEEDED".into(), Some(30), 2)));
    assert_eq!(version_of("b"), Some(("SUCCEEDED".into(), Some(20), 1)));
    assert_eq!(version_of("c"), Some(("ABORTED".into(), Some(25), 1)));
}

/// A large state (a chain's carries its whole definition) is stored compressed and reads back
/// exactly, through every write that stores one; small or incompressible ones are stored as
/// they are; a damaged one is an error.
#[test]
fn large_states_are_stored_compressed_and_read_back_exactly() {
    use cairn_store::Transition;
    let dir = fresh_dir();
    let store = SqliteStore::open(&dir).expect("open");
    let record = |name: &str, state: Vec<u8>| ExecutionRecord {
        arn: format!("arn:aws:states:us-east-1:123456789012:execution:m:{name}"),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
        name: name.into(),
        status: "RUNNING".into(),
        start_ms: 5,
        stop_ms: None,
        summary: serde_json::json!({}),
        state,
    };
    let definition = |steps: usize| -> Vec<u8> {
        (0..steps)
            .map(|i| {
                format!(
                    "\"P{i:04}\":{{\"Type\":\"Pass\",\"Next\":\"P{:04}\"}},",
                    i + 1
                )
            })
            .collect::<String>()
            .into_bytes()
    };
    let mut noise = 0x9E37_79B9_7F4A_7C15u64;
    let noisy: Vec<u8> = (0..4_000)
        .map(|_| {
            noise ^= noise << 13;
            noise ^= noise >> 7;
            noise ^= noise << 17;
            noise as u8
        })
        .collect();
    let stored = |name: &str| -> (i64, Option<i64>) {
        rusqlite::Connection::open(dir.join(cairn_store_sqlite::DATABASE_FILE))
            .expect("raw")
            .query_row(
                "SELECT length(state), state_length FROM executions WHERE tail = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("row")
    };

    let large = record("large", definition(1_000));
    let small = record("small", b"{\"status\":\"Running\"}".to_vec());
    let noisy = record("noisy", noisy);
    for execution in [&large, &small, &noisy] {
        store
            .create_execution(execution, &[], &Effects::default())
            .expect("create");
        assert_eq!(
            store.get_execution(&execution.arn).expect("get"),
            Some((execution.clone(), 1))
        );
    }
    let (bytes, length) = stored("large");
    assert_eq!(length, Some(large.state.len() as i64));
    assert!(bytes * 3 < large.state.len() as i64, "{bytes} bytes stored");
    assert_eq!(stored("small"), (small.state.len() as i64, None));
    assert_eq!(stored("noisy"), (noisy.state.len() as i64, None));

    // A commit and a closed-executions put store the new state the same way.
    let mut next = large.clone();
    next.state = definition(1_500);
    next.status = "SUCCEEDED".into();
    store
        .commit(&Transition {
            record: next.clone(),
            expected_version: 1,
            history: vec![],
            effects: Effects::default(),
        })
        .expect("commit");
    assert_eq!(
        store.get_execution(&large.arn).expect("get"),
        Some((next.clone(), 2))
    );
    let mut child = record("child", definition(300));
    child.status = "SUCCEEDED".into();
    child.stop_ms = Some(9);
    store
        .put_closed_executions(std::slice::from_ref(&child))
        .expect("put");
    store
        .put_closed_executions(std::slice::from_ref(&child))
        .expect("put again");
    assert_eq!(
        store.get_execution(&child.arn).expect("get"),
        Some((child.clone(), 1)),
        "an equal put leaves the version"
    );
    child.state = noisy.state.clone();
    store
        .put_closed_executions(std::slice::from_ref(&child))
        .expect("put a change");
    assert_eq!(
        store.get_execution(&child.arn).expect("get"),
        Some((child.clone(), 2))
    );
    assert_eq!(stored("child").1, None);
    drop(store);
    let store = SqliteStore::open(&dir).expect("reopen");
    assert_eq!(
        store.get_execution(&large.arn).expect("get"),
        Some((next, 2))
    );

    rusqlite::Connection::open(dir.join(cairn_store_sqlite::DATABASE_FILE))
        .expect("raw")
        .execute(
            "UPDATE executions SET state = x'1f00' WHERE tail = 'large'",
            [],
        )
        .expect("damage");
    assert!(store.get_execution(&large.arn).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
