//! Reading history a page at a time, as GetExecutionHistory does, from blocks (how histories
//! are written now) and from per-event rows (how databases written before blocks hold them,
//! still read through the same store). A bench, not a test: it prints figures.
//!
//! cargo run --release -p cairn-store-sqlite --example history_pages -- [EXECUTIONS] [PAGE]
//! Each execution has the 1,000-state chain's history shape: 2,002 events in one transition.

use std::time::Instant;

use cairn_store::{Effects, ExecutionRecord, ExecutionStore, HistoryQuery, StoredEvent};
use cairn_store_sqlite::{SqliteStore, DATABASE_FILE};

const PREFIX: &str = "arn:aws:states:us-east-1:123456789012:execution:chain:";

fn chain_history() -> Vec<StoredEvent> {
    let mut events = vec![StoredEvent {
        id: 1,
        body: r#"[1,0,1796664120308,"ExecutionStarted",{"input":{"i":7},"roleArn":"arn:aws:iam::123456789012:role/load"}]"#.into(),
    }];
    for step in 0..1000u64 {
        let entered = 2 + 2 * step;
        let input = if step == 0 {
            r#"{"i":7}"#.to_string()
        } else {
            format!(r#"{{"i":7,"step":{}}}"#, step - 1)
        };
        events.push(StoredEvent {
            id: entered,
            body: format!(
                r#"[{entered},{},1796664120308,"PassStateEntered",{{"input":{input},"name":"P{step:04}"}}]"#,
                entered - 1
            ),
        });
        events.push(StoredEvent {
            id: entered + 1,
            body: format!(
                r#"[{},{entered},1796664120308,"PassStateExited",{{"name":"P{step:04}","output":{{"i":7,"step":{step}}}}}]"#,
                entered + 1
            ),
        });
    }
    events.push(StoredEvent {
        id: 2002,
        body: r#"[2002,2001,1796664120308,"ExecutionSucceeded",{"output":{"i":7,"step":999}}]"#
            .into(),
    });
    events
}

fn record(name: &str) -> ExecutionRecord {
    ExecutionRecord {
        arn: format!("{PREFIX}{name}"),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:chain".into(),
        name: name.into(),
        status: "SUCCEEDED".into(),
        start_ms: 1,
        stop_ms: Some(2),
        summary: serde_json::json!({}),
        state: b"{}".to_vec(),
    }
}

/// Pages through every history in both directions; returns events read per second.
fn page_all(store: &SqliteStore, names: &[String], page: usize) -> (f64, usize) {
    let started = Instant::now();
    let mut read = 0;
    for name in names {
        let arn = format!("{PREFIX}{name}");
        for reverse in [false, true] {
            let mut after_id = None;
            loop {
                let events = store
                    .read_history(
                        &arn,
                        &HistoryQuery {
                            after_id,
                            limit: page + 1,
                            reverse,
                        },
                    )
                    .expect("read");
                let more = events.len() > page;
                read += events.len().min(page);
                if !more {
                    break;
                }
                after_id = events.get(page - 1).map(|e| e.id);
            }
        }
    }
    assert_eq!(
        read,
        names.len() * 2 * 2002,
        "every event read once each way"
    );
    (read as f64 / started.elapsed().as_secs_f64(), read)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let executions: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100);
    let page: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100)
        .max(1);
    let history = chain_history();
    let names: Vec<String> = (0..executions).map(|i| format!("e{i}")).collect();
    let base = std::env::temp_dir().join(format!("cairn-history-pages-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);

    // Blocks, written through the store.
    let blocks_dir = base.join("blocks");
    let store = SqliteStore::open(&blocks_dir)?;
    let started = Instant::now();
    for name in &names {
        store.create_execution(&record(name), &history, &Effects::default())?;
    }
    let written = started.elapsed();
    drop(store);
    let blocks_bytes = std::fs::metadata(blocks_dir.join(DATABASE_FILE))?.len()
        + std::fs::metadata(blocks_dir.join(format!("{DATABASE_FILE}-wal")))
            .map(|m| m.len())
            .unwrap_or(0);

    // Per-event rows: the executions written the same way, their history moved into the
    // earlier table by hand (the store then reads it as a database from before blocks).
    let rows_dir = base.join("rows");
    let store = SqliteStore::open(&rows_dir)?;
    for name in &names {
        store.create_execution(&record(name), &[], &Effects::default())?;
    }
    drop(store);
    {
        let raw = rusqlite::Connection::open(rows_dir.join(DATABASE_FILE))?;
        raw.execute_batch(
            "CREATE TABLE history(execution INTEGER NOT NULL, id INTEGER NOT NULL, body TEXT NOT NULL,
             PRIMARY KEY(execution, id)) WITHOUT ROWID; BEGIN;",
        )?;
        let mut insert = raw.prepare(
            "INSERT INTO history(execution, id, body)
             SELECT id, ?2, ?3 FROM executions WHERE tail = ?1",
        )?;
        for name in &names {
            for event in &history {
                insert.execute(rusqlite::params![name, event.id as i64, event.body])?;
            }
        }
        drop(insert);
        raw.execute_batch("COMMIT; PRAGMA wal_checkpoint(TRUNCATE);")?;
    }

    println!(
        "{executions} executions of 2,002 events; blocks written one at a time (a commit and fsync each) in {:.1} ms each, {:.1} KB each on disk",
        written.as_secs_f64() * 1e3 / executions as f64,
        blocks_bytes as f64 / 1e3 / executions as f64
    );
    // Alternate the two, three rounds each, so the machine's load falls on both alike.
    let blocks = SqliteStore::open(&blocks_dir)?;
    let rows = SqliteStore::open(&rows_dir)?;
    for round in 1..=3 {
        let (per_s, _) = page_all(&blocks, &names, page);
        println!(
            "round {round}: blocks          {:>10.0} events/s in pages of {page}",
            per_s
        );
        let (per_s, _) = page_all(&rows, &names, page);
        println!(
            "round {round}: per-event rows  {:>10.0} events/s in pages of {page}",
            per_s
        );
    }
    drop((blocks, rows));
    let _ = std::fs::remove_dir_all(&base);
    Ok(())
}
