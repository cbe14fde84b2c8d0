//! History is stored as blocks of consecutive events (a transition's, split at about 64 KiB),
//! not a row per event. Callers see the same events: every page, in both directions, reads as
//! the events were written; and a database written with a row per event still reads, takes
//! new events after its old ones, and loses its old table once retention has emptied it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_store::{
    Effects, ExecutionRecord, ExecutionStore, HistoryQuery, StoredEvent, Transition,
};
use cairn_store_sqlite::{SqliteStore, DATABASE_FILE};
use rusqlite::{params, Connection};

const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:m";
const PREFIX: &str = "arn:aws:states:us-east-1:123456789012:execution:m:";

fn fresh_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "cairn-store-sqlite-blocks-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

fn execution(name: &str) -> ExecutionRecord {
    ExecutionRecord {
        arn: format!("{PREFIX}{name}"),
        state_machine_arn: MACHINE.into(),
        name: name.into(),
        status: "RUNNING".into(),
        start_ms: 100,
        stop_ms: None,
        summary: serde_json::json!({"input": "{}"}),
        state: b"state".to_vec(),
    }
}

/// Events whose bodies differ in length (up to ~600 bytes) and carry non-ASCII text, so block
/// boundaries fall at varied places and the lengths are bytes, not characters.
fn events(ids: std::ops::RangeInclusive<u64>) -> Vec<StoredEvent> {
    ids.map(|id| StoredEvent {
        id,
        body: format!(
            "{{\"id\":{id},\"pad\":\"{}\"}}",
            "é∑x".repeat((id as usize * 37) % 100)
        ),
    })
    .collect()
}

fn commit(store: &SqliteStore, record: &ExecutionRecord, version: u64, history: Vec<StoredEvent>) {
    store
        .commit(&Transition {
            record: record.clone(),
            expected_version: version,
            history,
            effects: Effects::default(),
        })
        .expect("commit");
}

fn read(
    store: &SqliteStore,
    arn: &str,
    after_id: Option<u64>,
    limit: usize,
    reverse: bool,
) -> Vec<StoredEvent> {
    store
        .read_history(
            arn,
            &HistoryQuery {
                after_id,
                limit,
                reverse,
            },
        )
        .expect("history")
}

/// What a read must return, from the events as written (in id order).
fn expected(
    all: &[StoredEvent],
    after_id: Option<u64>,
    limit: usize,
    reverse: bool,
) -> Vec<StoredEvent> {
    let limit = limit.max(1);
    if reverse {
        all.iter()
            .rev()
            .filter(|e| after_id.is_none_or(|bound| e.id < bound))
            .take(limit)
            .cloned()
            .collect()
    } else {
        all.iter()
            .filter(|e| after_id.is_none_or(|bound| e.id > bound))
            .take(limit)
            .cloned()
            .collect()
    }
}

fn raw(dir: &Path) -> Connection {
    Connection::open(dir.join(DATABASE_FILE)).expect("raw connection")
}

#[test]
fn every_page_of_a_long_history_reads_as_written() {
    let dir = fresh_dir();
    let store = SqliteStore::open(&dir).expect("open");
    let record = execution("long");
    store
        .create_execution(&record, &events(1..=2), &Effects::default())
        .expect("create");
    // A 1,000-state chain's one transition, then small ones.
    commit(&store, &record, 1, events(3..=2004));
    commit(&store, &record, 2, events(2005..=2005));
    commit(&store, &record, 3, events(2006..=2010));
    let all = events(1..=2010);

    for reverse in [false, true] {
        for after_id in [
            None,
            Some(0),
            Some(1),
            Some(2),
            Some(3),
            Some(700),
            Some(2004),
            Some(2005),
            Some(2010),
            Some(2011),
        ] {
            for limit in [0, 1, 2, 100, 1000, 5000] {
                assert_eq!(
                    read(&store, &record.arn, after_id, limit, reverse),
                    expected(&all, after_id, limit, reverse),
                    "after {after_id:?}, limit {limit}, reverse {reverse}"
                );
            }
        }
        // Page by page as GetExecutionHistory does, each page starting after the last one's end.
        let mut paged = Vec::new();
        let mut after_id = None;
        loop {
            let page = read(&store, &record.arn, after_id, 77, reverse);
            let Some(last) = page.last() else { break };
            after_id = Some(last.id);
            paged.extend(page);
        }
        let mut all_in_order = all.clone();
        if reverse {
            all_in_order.reverse();
        }
        assert_eq!(paged, all_in_order, "reverse {reverse}");
    }
    assert!(read(&store, &format!("{PREFIX}other"), None, 10, false).is_empty());

    // Stored as a few blocks, none much over 64 KiB: a page reads one or two.
    let (rows, largest): (i64, i64) = raw(&dir)
        .query_row(
            "SELECT count(*), max(length(events)) FROM history_blocks",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("blocks");
    let bytes: usize = all.iter().map(|e| e.body.len()).sum();
    assert!(
        bytes > 4 * 65_536,
        "the test's history spans several blocks ({bytes} bytes)"
    );
    assert!(
        (4..=16).contains(&rows),
        "2,010 events in 4 transitions took {rows} rows"
    );
    assert!(largest <= 66_000, "a block of {largest} bytes");
    // These events repeat themselves: their blocks are stored compressed.
    let compressed: i64 = raw(&dir)
        .query_row(
            "SELECT count(*) FROM history_blocks WHERE substr(events, 1, 1) = x'02'",
            [],
            |r| r.get(0),
        )
        .expect("formats");
    assert_eq!(compressed, rows);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_event_larger_than_a_block_is_stored_whole() {
    let dir = fresh_dir();
    let store = SqliteStore::open(&dir).expect("open");
    let record = execution("large");
    let mut history = events(1..=2);
    history.push(StoredEvent {
        id: 3,
        body: format!("{{\"output\":\"{}\"}}", "ü🦀".repeat(40_000)),
    });
    history.extend(events(4..=5));
    store
        .create_execution(&record, &history, &Effects::default())
        .expect("create");
    assert_eq!(read(&store, &record.arn, None, 10, false), history);
    assert_eq!(read(&store, &record.arn, Some(2), 1, false), history[2..3]);
    assert_eq!(read(&store, &record.arn, Some(4), 1, true), history[2..3]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The rows' primary key refused an event id written twice; the blocks refuse it too, and the
/// write changes nothing.
#[test]
fn an_event_id_written_twice_or_out_of_order_is_refused() {
    let dir = fresh_dir();
    let store = SqliteStore::open(&dir).expect("open");
    let record = execution("twice");
    store
        .create_execution(&record, &events(1..=3), &Effects::default())
        .expect("create");
    let mut ended = record.clone();
    ended.status = "SUCCEEDED".into();
    let refused = |history: Vec<StoredEvent>| {
        store
            .commit(&Transition {
                record: ended.clone(),
                expected_version: 1,
                history,
                effects: Effects::default(),
            })
            .is_err()
    };
    assert!(refused(events(3..=4)), "event 3 again");
    assert!(refused(events(2..=2)), "an event before the last");
    let mut backwards = events(5..=6);
    backwards.reverse();
    assert!(refused(backwards), "events out of order");
    assert_eq!(
        store.get_execution(&record.arn).expect("get"),
        Some((record.clone(), 1))
    );
    assert_eq!(read(&store, &record.arn, None, 10, false), events(1..=3));
    commit(&store, &ended, 1, events(4..=4));
    assert_eq!(read(&store, &record.arn, None, 10, false), events(1..=4));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unreadable_block_is_an_error() {
    let dir = fresh_dir();
    let store = SqliteStore::open(&dir).expect("open");
    let record = execution("damaged");
    store
        .create_execution(&record, &events(1..=3), &Effects::default())
        .expect("create");
    // An unknown format, a length past the end, a body that is not UTF-8.
    // Compressed: a length its data does not make, an offset before the start.
    for damaged in [
        vec![9u8, 0, 1, b'x'],
        vec![1, 0, 9, b'x'],
        vec![1, 0, 2, 0xff, 0xfe],
        vec![2, 50, 0x00],
        vec![2, 9, 0x14, b'a', 9, 0],
    ] {
        raw(&dir)
            .execute("UPDATE history_blocks SET events = ?1", [&damaged])
            .expect("damage");
        let read = store.read_history(
            &record.arn,
            &HistoryQuery {
                after_id: None,
                limit: 10,
                reverse: false,
            },
        );
        assert!(read.is_err(), "{damaged:?} read as {read:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The tables of the version before history blocks that hold executions and their history.
const ROW_PER_EVENT_SCHEMA: &str = "
CREATE TABLE arns(id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);
CREATE TABLE executions(
    id INTEGER PRIMARY KEY, prefix INTEGER NOT NULL, tail TEXT NOT NULL,
    machine INTEGER NOT NULL, name TEXT, status TEXT NOT NULL, start_ms INTEGER NOT NULL,
    stop_ms INTEGER, summary TEXT NOT NULL, state BLOB NOT NULL, version INTEGER NOT NULL);
CREATE UNIQUE INDEX executions_by_arn ON executions(prefix, tail);
CREATE INDEX executions_listing ON executions(machine, start_ms);
CREATE INDEX executions_open ON executions(id) WHERE status = 'RUNNING';
CREATE TABLE history(
    execution INTEGER NOT NULL, id INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY(execution, id)) WITHOUT ROWID;
";

/// (row id, name, status, stop_ms, version, events): each event a history row.
fn write_row_per_event_database(dir: &Path) {
    let connection = raw(dir);
    connection
        .execute_batch(ROW_PER_EVENT_SCHEMA)
        .expect("schema");
    connection
        .execute(
            "INSERT INTO arns(id, text) VALUES (1, ?1), (2, ?2)",
            [PREFIX, MACHINE],
        )
        .expect("arns");
    for (id, name, status, stop_ms, events_written) in [
        (1, "done", "SUCCEEDED", Some(150), 5),
        (2, "open", "RUNNING", None, 4),
    ] {
        connection
            .execute(
                "INSERT INTO executions(id, prefix, tail, machine, name, status, start_ms, stop_ms, summary, state, version)
                 VALUES (?1, 1, ?2, 2, NULL, ?3, 100, ?4, '{\"input\":\"{}\"}', x'00', 3)",
                params![id, name, status, stop_ms],
            )
            .expect("execution");
        for event in events(1..=events_written) {
            connection
                .execute(
                    "INSERT INTO history(execution, id, body) VALUES (?1, ?2, ?3)",
                    params![id, event.id, event.body],
                )
                .expect("history row");
        }
    }
}

fn has_table(dir: &Path, name: &str) -> bool {
    raw(dir)
        .prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1")
        .and_then(|mut s| s.exists([name]))
        .expect("schema")
}

#[test]
fn a_database_with_a_row_per_event_reads_and_continues() {
    let dir = fresh_dir();
    write_row_per_event_database(&dir);
    let done = format!("{PREFIX}done");
    let open = format!("{PREFIX}open");

    let store = SqliteStore::open(&dir).expect("open the earlier form");
    let done_events = events(1..=5);
    for reverse in [false, true] {
        for after_id in [None, Some(1), Some(3), Some(5)] {
            for limit in [1, 2, 10] {
                assert_eq!(
                    read(&store, &done, after_id, limit, reverse),
                    expected(&done_events, after_id, limit, reverse),
                    "after {after_id:?}, limit {limit}, reverse {reverse}"
                );
            }
        }
    }

    // The open execution continues: its new events are read after its old ones, and pages
    // cross from the rows to the blocks in both directions.
    // Its state was stored as it is (no state_length column then); the next one is compressed.
    let (mut record, version) = store.get_execution(&open).expect("get").expect("found");
    assert_eq!((record.state.as_slice(), version), (&[0u8][..], 3));
    assert!(
        store
            .commit(&Transition {
                record: record.clone(),
                expected_version: 3,
                history: events(4..=5),
                effects: Effects::default(),
            })
            .is_err(),
        "event 4 is one of the rows"
    );
    record.state = "{\"state\":\"P0001\"}".repeat(100).into_bytes();
    commit(&store, &record, 3, events(5..=7));
    drop(store);
    let store = SqliteStore::open(&dir).expect("reopen");
    assert_eq!(
        store.get_execution(&open).expect("get"),
        Some((record.clone(), 4))
    );
    let open_events = events(1..=7);
    for reverse in [false, true] {
        for after_id in [None, Some(2), Some(4), Some(5), Some(7), Some(8)] {
            for limit in [1, 2, 3, 10] {
                assert_eq!(
                    read(&store, &open, after_id, limit, reverse),
                    expected(&open_events, after_id, limit, reverse),
                    "after {after_id:?}, limit {limit}, reverse {reverse}"
                );
            }
        }
    }
    let mut ended = record.clone();
    ended.status = "SUCCEEDED".into();
    ended.stop_ms = Some(300);
    assert!(
        store
            .commit(&Transition {
                record: ended.clone(),
                expected_version: 4,
                history: events(7..=7),
                effects: Effects::default(),
            })
            .is_err(),
        "the blocks' last event is 7"
    );
    commit(&store, &ended, 4, events(8..=8));
    assert_eq!(read(&store, &open, Some(6), 10, false), events(7..=8));

    // Retention removes both kinds; the old table goes at the next open once empty.
    assert_eq!(store.delete_closed_executions(1_000, 10).expect("sweep"), 2);
    assert!(read(&store, &done, None, 10, false).is_empty());
    assert!(read(&store, &open, None, 10, false).is_empty());
    let rows: i64 = raw(&dir)
        .query_row(
            "SELECT (SELECT count(*) FROM history) + (SELECT count(*) FROM history_blocks)",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(rows, 0);
    assert!(has_table(&dir, "history"));
    drop(store);
    let store = SqliteStore::open(&dir).expect("reopen");
    assert!(!has_table(&dir, "history"));
    let fresh = execution("fresh");
    store
        .create_execution(&fresh, &events(1..=2), &Effects::default())
        .expect("create");
    assert_eq!(
        read(&store, &fresh.arn, None, 10, true),
        events(1..=2).into_iter().rev().collect::<Vec<_>>()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Events that do not compress stay as they are, and read the same.
#[test]
fn events_that_do_not_compress_are_stored_plain() {
    let dir = fresh_dir();
    let store = SqliteStore::open(&dir).expect("open");
    let record = execution("noise");
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let history: Vec<StoredEvent> = (1..=300)
        .map(|id| StoredEvent {
            id,
            body: (0..200)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    char::from(b'!' + (state % 90) as u8)
                })
                .collect(),
        })
        .collect();
    store
        .create_execution(&record, &history, &Effects::default())
        .expect("create");
    let formats: Vec<Vec<u8>> = raw(&dir)
        .prepare("SELECT substr(events, 1, 1) FROM history_blocks")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("formats");
    assert!(!formats.is_empty());
    assert!(formats.iter().all(|f| f == &[1u8]), "{formats:?}");
    for reverse in [false, true] {
        for after_id in [None, Some(150)] {
            assert_eq!(
                read(&store, &record.arn, after_id, 1000, reverse),
                expected(&history, after_id, 1000, reverse)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
