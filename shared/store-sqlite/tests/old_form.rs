//! A database written before the execution rows shared their ARNs (each row carried its ARN
//! and its machine's ARN as text, with a unique index on the ARN) opens and reads as before,
//! and takes new writes.

use std::path::PathBuf;

use cairn_store::{
    Effects, ExecutionQuery, ExecutionRecord, ExecutionStore, HistoryQuery, StoredEvent,
    TimerStore, Transition,
};
use cairn_store_sqlite::{SqliteStore, DATABASE_FILE};
use rusqlite::{params, Connection};

/// The tables and indexes of executions as the earlier versions created them, but for the
/// listing index (one of [`EARLIER_LISTING_INDEXES`]).
const EARLIER_SCHEMA: &str = "
CREATE TABLE executions(
    id INTEGER PRIMARY KEY, arn TEXT NOT NULL UNIQUE, machine_arn TEXT NOT NULL,
    name TEXT NOT NULL, status TEXT NOT NULL, start_ms INTEGER NOT NULL, stop_ms INTEGER,
    summary TEXT NOT NULL, state BLOB NOT NULL, version INTEGER NOT NULL);
CREATE INDEX executions_running ON executions(arn) WHERE status = 'RUNNING';
CREATE TABLE history(
    execution INTEGER NOT NULL, id INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY(execution, id)) WITHOUT ROWID;
CREATE TABLE timers(
    fire_at_ms INTEGER NOT NULL, execution_arn TEXT NOT NULL, timer_id INTEGER NOT NULL,
    PRIMARY KEY(fire_at_ms, execution_arn, timer_id)) WITHOUT ROWID;
CREATE INDEX timers_by_execution ON timers(execution_arn, timer_id);
";

/// The ascending listing index, and the descending one before it.
const EARLIER_LISTING_INDEXES: [&str; 2] = [
    "CREATE INDEX executions_by_machine_start ON executions(machine_arn, start_ms, arn);",
    "CREATE INDEX executions_by_machine ON executions(machine_arn, start_ms DESC, arn);",
];

const ALL_EVENTS: HistoryQuery = HistoryQuery {
    after_id: None,
    limit: 100,
    reverse: false,
};
const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:m";
const OTHER_MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:other";

fn execution_arn(machine: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        machine.replace(":stateMachine:", ":execution:")
    )
}

fn fresh_dir(variant: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "cairn-store-sqlite-old-form-{}-{variant}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// Writes the earlier form: `rows` are (id, machine, name, status, start_ms, state).
fn write_earlier_database(dir: &std::path::Path, listing_index: &str) {
    let connection = Connection::open(dir.join(DATABASE_FILE)).expect("open");
    connection.execute_batch(EARLIER_SCHEMA).expect("schema");
    connection
        .execute_batch(listing_index)
        .expect("listing index");
    let rows = [
        (1, MACHINE, "a", "SUCCEEDED", 100, Some(150)),
        (2, MACHINE, "b", "RUNNING", 200, None),
        (3, MACHINE, "c", "FAILED", 200, Some(260)),
        (4, OTHER_MACHINE, "d", "SUCCEEDED", 300, Some(310)),
    ];
    for (id, machine, name, status, start_ms, stop_ms) in rows {
        connection
            .execute(
                "INSERT INTO executions(id, arn, machine_arn, name, status, start_ms, stop_ms, summary, state, version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 3)",
                params![
                    id,
                    execution_arn(machine, name),
                    machine,
                    name,
                    status,
                    start_ms,
                    stop_ms,
                    format!("{{\"input\":\"{{\\\"n\\\":{id}}}\"}}"),
                    format!("state of {name}").into_bytes(),
                ],
            )
            .expect("row");
        for event in 1..=3 {
            connection
                .execute(
                    "INSERT INTO history(execution, id, body) VALUES (?1, ?2, ?3)",
                    params![id, event, format!("[{event},\"{name}\"]")],
                )
                .expect("history");
        }
    }
    connection
        .execute(
            "INSERT INTO timers(fire_at_ms, execution_arn, timer_id) VALUES (900, ?1, 1)",
            [execution_arn(MACHINE, "b")],
        )
        .expect("timer");
}

fn names(page: &[ExecutionRecord]) -> Vec<&str> {
    page.iter().map(|r| r.name.as_str()).collect()
}

#[test]
fn a_database_in_the_earlier_form_reads_as_before_and_takes_new_writes() {
    for (variant, listing_index) in EARLIER_LISTING_INDEXES.into_iter().enumerate() {
        reads_and_writes_an_earlier_database(variant, listing_index);
    }
}

fn reads_and_writes_an_earlier_database(variant: usize, listing_index: &str) {
    let dir = fresh_dir(variant);
    write_earlier_database(&dir, listing_index);

    let store = SqliteStore::open(&dir).expect("open the earlier form");
    let b = execution_arn(MACHINE, "b");
    let (record, version) = store.get_execution(&b).expect("get").expect("found");
    assert_eq!(record.arn, b);
    assert_eq!(record.state_machine_arn, MACHINE);
    assert_eq!(record.name, "b");
    assert_eq!(record.status, "RUNNING");
    assert_eq!(record.start_ms, 200);
    assert_eq!(record.summary["input"], "{\"n\":2}");
    assert_eq!(record.state, b"state of b");
    assert_eq!(version, 3);
    let history = store.read_history(&b, &ALL_EVENTS).expect("history");
    assert_eq!(
        history.iter().map(|e| e.body.as_str()).collect::<Vec<_>>(),
        ["[1,\"b\"]", "[2,\"b\"]", "[3,\"b\"]"]
    );
    assert_eq!(
        store.running_executions().expect("running"),
        vec![b.clone()]
    );
    assert_eq!(store.due_timers(1_000, 10).expect("timers").len(), 1);

    // Newest first, ties by ARN, one page at a time; only the machine's own executions.
    let mut query = ExecutionQuery {
        state_machine_arn: MACHINE.into(),
        status: None,
        cursor: None,
        limit: 2,
    };
    let first = store.list_executions(&query).expect("list");
    assert_eq!(names(&first.items), ["b", "c"]);
    query.cursor = first.next;
    let second = store.list_executions(&query).expect("list");
    assert_eq!(names(&second.items), ["a"]);
    assert!(second.next.is_none());
    query.cursor = None;
    query.status = Some("FAILED".into());
    assert_eq!(
        names(&store.list_executions(&query).expect("list").items),
        ["c"]
    );

    // The running execution ends; a new one is added beside the migrated ones.
    let mut ended = record.clone();
    ended.status = "SUCCEEDED".into();
    ended.stop_ms = Some(400);
    ended.state = b"ended".to_vec();
    let written = store
        .commit(&Transition {
            record: ended,
            expected_version: 3,
            history: vec![StoredEvent {
                id: 4,
                body: "[4,\"b\"]".into(),
            }],
            effects: Effects::default(),
        })
        .expect("commit");
    assert_eq!(written, 4);
    let e = ExecutionRecord {
        arn: execution_arn(MACHINE, "e"),
        state_machine_arn: MACHINE.into(),
        name: "e".into(),
        status: "RUNNING".into(),
        start_ms: 500,
        stop_ms: None,
        summary: serde_json::json!({"input": "{}"}),
        state: b"state of e".to_vec(),
    };
    store
        .create_execution(
            &e,
            &[StoredEvent {
                id: 1,
                body: "[1,\"e\"]".into(),
            }],
            &Effects::default(),
        )
        .expect("create");
    assert!(
        store
            .create_execution(&e, &[], &Effects::default())
            .is_err(),
        "an ARN is still unique"
    );
    drop(store);

    // Reopened (now in the current form): everything written is there, nothing twice.
    let store = SqliteStore::open(&dir).expect("reopen");
    let (b_now, version) = store.get_execution(&b).expect("get").expect("found");
    assert_eq!((b_now.status.as_str(), version), ("SUCCEEDED", 4));
    assert_eq!(
        store.read_history(&b, &ALL_EVENTS).expect("history").len(),
        4
    );
    assert_eq!(
        store
            .read_history(&execution_arn(MACHINE, "e"), &ALL_EVENTS)
            .expect("history")
            .len(),
        1
    );
    assert_eq!(
        store.running_executions().expect("running"),
        [execution_arn(MACHINE, "e")]
    );
    let all = store
        .list_executions(&ExecutionQuery {
            state_machine_arn: MACHINE.into(),
            status: None,
            cursor: None,
            limit: 10,
        })
        .expect("list");
    assert_eq!(names(&all.items), ["e", "b", "c", "a"]);
    let other = store
        .get_execution(&execution_arn(OTHER_MACHINE, "d"))
        .expect("get")
        .expect("found");
    assert_eq!(other.0.state_machine_arn, OTHER_MACHINE);
    drop(store);

    // Nothing of the earlier form is left behind to take space.
    let raw = Connection::open(dir.join(DATABASE_FILE)).expect("raw");
    let mut objects: Vec<String> = raw
        .prepare(
            "SELECT name FROM sqlite_schema
             WHERE tbl_name IN ('executions', 'executions_before_arns') ORDER BY name",
        )
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("schema");
    objects.sort();
    assert_eq!(
        objects,
        [
            "executions",
            "executions_by_arn",
            "executions_listing",
            "executions_open"
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
