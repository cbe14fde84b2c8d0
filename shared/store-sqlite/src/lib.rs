#![forbid(unsafe_code)]
//! The embedded durable [`Store`](cairn_store::Store): one SQLite database in WAL mode under
//! the data directory.
//!
//! Every write goes to one writer thread, which drains whatever writes are queued and commits
//! them in one transaction (group commit): under load many executions' transitions share one
//! fsync instead of paying one each. Each write runs inside its own savepoint, so a write that
//! fails its version condition is rolled back alone while the rest of the batch commits.
//! Callers block until the transaction holding their write is durable. Reads use a small pool
//! of read-only connections, which WAL lets run beside the writer.
//!
//! What a write carries is prepared on the caller's thread, so the writer only inserts it: a
//! transition's history events as a few compressed blocks (not a row per event), the
//! execution's state compressed when large. Fewer bytes means less for the writer to put
//! through the pages, the WAL, its fsync and the checkpoint.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;

use cairn_store::{
    execution_cursor, parse_execution_cursor, ActivityRecord, ActivityStore, ActivityTaskRecord,
    ActivityTaskStore, Effects, Error, ExecutionQuery, ExecutionRecord, ExecutionStore,
    HistoryQuery, Page, Result, StateMachineRecord, StateMachineStore, StoredEvent,
    TaskTokenRecord, TaskTokenStore, TimerRecord, TimerStore, Transition, Version,
};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

mod lz;

/// The database file's name inside the data directory.
pub const DATABASE_FILE: &str = "cairn.sqlite3";
/// Held (advisory lock) by the process that has the store open; released by the OS when the
/// process dies, even by `kill -9`.
pub const LOCK_FILE: &str = "cairn.lock";
/// Most writes committed in one transaction: bounds the latency a batch adds to its first write.
const MAX_BATCH: usize = 2048;
/// State machine records kept decoded in memory; past it the cache starts over, so a process
/// with many machines keeps bounded memory (a record carries all its versions and aliases).
const MACHINE_CACHE_CAPACITY: usize = 256;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS state_machines(
    name TEXT PRIMARY KEY, arn TEXT NOT NULL, created_ms INTEGER NOT NULL,
    document TEXT NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS activities(
    name TEXT PRIMARY KEY, arn TEXT NOT NULL, created_ms INTEGER NOT NULL,
    document TEXT NOT NULL) WITHOUT ROWID;
-- The ARN texts executions share (a machine's ARN, the part of its executions' ARNs before
-- the name), each stored once: an execution row and its indexes hold small integers instead
-- of two 70-byte ARNs (the row, the ARN index and the listing index each carried them).
CREATE TABLE IF NOT EXISTS arns(id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);
-- An execution's ARN is its prefix's text followed by tail; name is NULL when it is the tail
-- (it always is for ARNs Cairn makes). state_length is NULL when state is stored as it is,
-- and its length when state is compressed (pack_state).
CREATE TABLE IF NOT EXISTS executions(
    id INTEGER PRIMARY KEY, prefix INTEGER NOT NULL, tail TEXT NOT NULL,
    machine INTEGER NOT NULL, name TEXT, status TEXT NOT NULL, start_ms INTEGER NOT NULL,
    stop_ms INTEGER, summary TEXT NOT NULL, state BLOB NOT NULL, version INTEGER NOT NULL,
    state_length INTEGER);
CREATE UNIQUE INDEX IF NOT EXISTS executions_by_arn ON executions(prefix, tail);
-- Ascending, so a new execution lands at the index's right edge and its pages fill up (a DESC
-- index took every insert at a page's left edge and split pages half empty). Listing newest
-- first reads it backwards; ties on start_ms are sorted by ARN after the index.
CREATE INDEX IF NOT EXISTS executions_listing ON executions(machine, start_ms);
CREATE INDEX IF NOT EXISTS executions_open ON executions(id) WHERE status = 'RUNNING';
-- An execution's history, a row per run of consecutive events written together (a
-- transition's events, split at BLOCK_BYTES): a 1,000-state Pass chain is one transition of
-- 2,002 events, and a row per event made its inserts a third of cairn serve's CPU. `events`
-- is the block encoding (encode_blocks); first and last are its first and last event ids.
-- A rowid table: the blocks are large (a WITHOUT ROWID b-tree suits small rows, and measured
-- slower here, B4 Standard included).
CREATE TABLE IF NOT EXISTS history_blocks(
    execution INTEGER NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL,
    events BLOB NOT NULL, PRIMARY KEY(execution, first));
CREATE TABLE IF NOT EXISTS timers(
    fire_at_ms INTEGER NOT NULL, execution_arn TEXT NOT NULL, timer_id INTEGER NOT NULL,
    PRIMARY KEY(fire_at_ms, execution_arn, timer_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS activity_tasks(
    token TEXT PRIMARY KEY, activity_arn TEXT NOT NULL, created_ms INTEGER NOT NULL,
    execution_arn TEXT NOT NULL, task_id INTEGER NOT NULL, input TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS activity_task_queue ON activity_tasks(activity_arn, created_ms, token);
CREATE INDEX IF NOT EXISTS timers_by_execution ON timers(execution_arn, timer_id);
CREATE TABLE IF NOT EXISTS task_tokens(
    token TEXT PRIMARY KEY, execution_arn TEXT NOT NULL, task_id INTEGER NOT NULL) WITHOUT ROWID;
-- State machine definitions as executions run them, each once under its content hash (the
-- caller's key): an execution's state names its definition instead of carrying the text,
-- which for a 1,000-state chain was 137 KB of its 141 KB state. Never changed or deleted: a
-- key names one text, and any execution, running or redriven later, may name it. A rowid
-- table: a definition is large.
CREATE TABLE IF NOT EXISTS definitions(key TEXT PRIMARY KEY, text TEXT NOT NULL);
";

/// Databases written before the ARNs were shared kept each execution's ARN and machine ARN as
/// text (`executions(id, arn, machine_arn, name, ...)`): moved to the current form when such
/// a database is opened, keeping each execution's id so its history rows still belong to it.
fn migrate_executions(connection: &Connection) -> rusqlite::Result<()> {
    let old_form = connection
        .prepare("SELECT 1 FROM pragma_table_info('executions') WHERE name = 'arn'")?
        .exists([])?;
    if !old_form {
        return Ok(());
    }
    let tx = connection.unchecked_transaction()?;
    tx.execute_batch(
        "DROP INDEX IF EXISTS executions_by_machine;
         DROP INDEX IF EXISTS executions_by_machine_start;
         DROP INDEX IF EXISTS executions_running;
         ALTER TABLE executions RENAME TO executions_before_arns;",
    )?;
    tx.execute_batch(SCHEMA)?;
    {
        let mut select = tx.prepare(
            "SELECT id, arn, machine_arn, name, status, start_ms, stop_ms, summary, state, version
             FROM executions_before_arns",
        )?;
        let mut rows = select.query([])?;
        while let Some(row) = rows.next()? {
            let arn: String = row.get(1)?;
            let machine_arn: String = row.get(2)?;
            let name: String = row.get(3)?;
            let (prefix, tail) = split_arn(&arn);
            let prefix = intern_arn(&tx, prefix)?;
            let machine = intern_arn(&tx, &machine_arn)?;
            tx.prepare_cached(
                "INSERT INTO executions(id, prefix, tail, machine, name, status, start_ms, stop_ms, summary, state, version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                row.get::<_, i64>(0)?,
                prefix,
                tail,
                machine,
                (name != tail).then_some(name.as_str()),
                row.get::<_, String>(4)?,
                row.get::<_, i64>(5)?,
                row.get::<_, Option<i64>>(6)?,
                row.get::<_, String>(7)?,
                row.get::<_, Vec<u8>>(8)?,
                row.get::<_, i64>(9)?,
            ])?;
        }
    }
    tx.execute_batch("DROP TABLE executions_before_arns;")?;
    tx.commit()
}

/// Databases written before history blocks kept a row per event in
/// `history(execution, id, body)`. Their rows stay where they are and are read beside the
/// blocks (an execution begun then and continued now has both), so opening a large database
/// rewrites nothing; new events go to blocks only. Once retention has removed the last such
/// row, the next open drops the table. Returns whether the table is still there.
fn keep_legacy_history(connection: &Connection) -> rusqlite::Result<bool> {
    let exists = connection
        .prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'history'")?
        .exists([])?;
    if !exists {
        return Ok(false);
    }
    if connection
        .prepare("SELECT 1 FROM history LIMIT 1")?
        .exists([])?
    {
        return Ok(true);
    }
    connection.execute_batch("DROP TABLE history;")?;
    Ok(false)
}

/// Databases written before states were compressed have no `state_length` column: added (NULL,
/// a state as it is, for every row there), which SQLite does without rewriting the table.
fn add_state_length(connection: &Connection) -> rusqlite::Result<()> {
    let present = connection
        .prepare("SELECT 1 FROM pragma_table_info('executions') WHERE name = 'state_length'")?
        .exists([])?;
    if !present {
        connection.execute_batch("ALTER TABLE executions ADD COLUMN state_length INTEGER;")?;
    }
    Ok(())
}

/// An execution's state as stored: compressed when that saves an eighth, with its length
/// (the state of a 1,000-state chain carried its 137 KB definition, which every write
/// pushed through the pages, the WAL and the checkpoint); as it is otherwise, length NULL.
struct StoredState {
    bytes: Vec<u8>,
    length: Option<i64>,
}

/// What a write of an execution row needs of its record besides the state and summary, which
/// go in encoded: copying the whole record copied the state once more (a chain's is 141 KB).
struct RowFields {
    arn: String,
    state_machine_arn: String,
    name: String,
    status: String,
    start_ms: i64,
    stop_ms: Option<i64>,
}

impl RowFields {
    fn of(record: &ExecutionRecord) -> RowFields {
        RowFields {
            arn: record.arn.clone(),
            state_machine_arn: record.state_machine_arn.clone(),
            name: record.name.clone(),
            status: record.status.clone(),
            start_ms: record.start_ms,
            stop_ms: record.stop_ms,
        }
    }
}

/// Below this a state is stored as it is: too small for compression to pay for itself.
const STATE_COMPRESS_FROM: usize = 512;

fn pack_state(state: &[u8]) -> Result<StoredState> {
    if state.len() >= STATE_COMPRESS_FROM {
        let mut packed = Vec::with_capacity(state.len() / 4 + 16);
        lz::compress(state, &mut packed);
        if packed.len() < state.len() - state.len() / 8 {
            return Ok(StoredState {
                bytes: packed,
                length: Some(to_sql_int(state.len() as u64)?),
            });
        }
    }
    Ok(StoredState {
        bytes: state.to_vec(),
        length: None,
    })
}

fn unpack_state(stored: Vec<u8>, length: Option<i64>) -> rusqlite::Result<Vec<u8>> {
    let Some(length) = length else {
        return Ok(stored);
    };
    usize::try_from(length)
        .ok()
        .and_then(|length| lz::decompress(&stored, length))
        .ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                7,
                rusqlite::types::Type::Blob,
                "a stored execution state is damaged".into(),
            )
        })
}

/// An execution ARN as the prefix its executions share (through the last `:`) and the rest.
fn split_arn(arn: &str) -> (&str, &str) {
    match arn.rfind(':') {
        Some(at) => arn.split_at(at + 1),
        None => ("", arn),
    }
}

/// The id of an ARN text in `arns`, adding it if new. Looked up in the write's own
/// transaction, never cached: a write rolled back would leave a cached id naming nothing.
fn intern_arn(tx: &Connection, text: &str) -> rusqlite::Result<i64> {
    let found: Option<i64> = tx
        .prepare_cached("SELECT id FROM arns WHERE text = ?1")?
        .query_row([text], |r| r.get(0))
        .optional()?;
    match found {
        Some(id) => Ok(id),
        None => {
            tx.prepare_cached("INSERT INTO arns(text) VALUES (?1)")?
                .execute([text])?;
            Ok(tx.last_insert_rowid())
        }
    }
}

type WriteFn = Box<dyn FnOnce(&Connection) -> Result<u64> + Send>;

struct WriteRequest {
    write: WriteFn,
    reply: Sender<Result<u64>>,
}

/// The SQLite adapter. Cheap to share behind an `Arc`; every method is thread-safe.
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Option<Sender<WriteRequest>>>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    /// Every StartExecution reads its state machine: decoding the record from SQLite was a
    /// seventh of a StartSyncExecution's CPU. This process is the store's only writer (the
    /// directory lock), so its own writes are all that can make an entry stale.
    machines: Mutex<MachineCache>,
    /// Keys of the definitions known to be in the database: every StartExecution puts its
    /// definition, and only the first of each needs a write.
    definitions: Mutex<std::collections::HashSet<String>>,
    /// The database still has per-event history rows from before history blocks
    /// ([`keep_legacy_history`]): reads merge them in and deletes remove them too.
    legacy_history: bool,
    /// Keeps the directory's lock for the store's lifetime.
    _lock: std::fs::File,
}

#[derive(Default)]
struct MachineCache {
    /// Bumped by every write to the state_machines table: a read that started before a write
    /// may have seen the old row and must not cache it after the write dropped the entry.
    generation: u64,
    /// By name, as the table's key. Shared so a read copies the record outside the lock: 64
    /// action threads starting executions of one machine queued on it while one copied.
    entries: std::collections::HashMap<String, std::sync::Arc<(StateMachineRecord, Version)>>,
}

fn backend(error: impl std::fmt::Display) -> Error {
    Error::Backend(error.to_string())
}

fn poisoned<T>(_: PoisonError<T>) -> Error {
    Error::Backend("a thread panicked while holding the store".into())
}

/// SQLite stores integers as i64; ids and versions beyond i64::MAX cannot occur in practice
/// but must not wrap silently.
fn to_sql_int(value: u64) -> Result<i64> {
    i64::try_from(value)
        .map_err(|_| Error::Backend(format!("{value} does not fit SQLite's integers")))
}

fn from_sql_int(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl SqliteStore {
    /// Opens (creating if needed) the database in `dir`.
    pub fn open(dir: &Path) -> Result<SqliteStore> {
        std::fs::create_dir_all(dir).map_err(|e| backend(format!("{}: {e}", dir.display())))?;
        // Two processes driving the same executions would fire every timer twice: one owner.
        let lock_path = dir.join(LOCK_FILE);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| backend(format!("{}: {e}", lock_path.display())))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(backend(format!(
                    "another process is using the data directory {}",
                    dir.display()
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(backend(format!("{}: {e}", lock_path.display())))
            }
        }
        let path = dir.join(DATABASE_FILE);
        let connection = Connection::open(&path).map_err(backend)?;
        // Another process (a server not yet dead) may hold the write lock for a moment.
        connection
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(backend)?;
        // FULL: a commit is on disk when the writer replies (survives power loss, not only kill -9).
        // 8 KiB pages (a new database only: an existing one keeps its own): an execution row
        // with its state is about 1.4 KB, and 4 KiB pages held two of them, half empty.
        connection
            .execute_batch(
                "PRAGMA page_size=8192; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;",
            )
            .map_err(backend)?;
        migrate_executions(&connection).map_err(backend)?;
        connection.execute_batch(SCHEMA).map_err(backend)?;
        add_state_length(&connection).map_err(backend)?;
        let legacy_history = keep_legacy_history(&connection).map_err(backend)?;
        let checkpoints = Connection::open(&path).map_err(backend)?;
        let (sender, receiver) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("cairn-store-writer".into())
            .spawn(move || writer_loop(connection, checkpoints, receiver))
            .map_err(backend)?;
        Ok(SqliteStore {
            path,
            writer: Mutex::new(Some(sender)),
            writer_thread: Mutex::new(Some(thread)),
            readers: Mutex::new(Vec::new()),
            machines: Mutex::new(MachineCache::default()),
            definitions: Mutex::new(std::collections::HashSet::new()),
            legacy_history,
            _lock: lock,
        })
    }

    fn write(
        &self,
        write: impl FnOnce(&Connection) -> Result<u64> + Send + 'static,
    ) -> Result<u64> {
        let (reply, answer) = mpsc::channel();
        {
            let writer = self.writer.lock().map_err(poisoned)?;
            let writer = writer
                .as_ref()
                .ok_or_else(|| backend("the store is closed"))?;
            writer
                .send(WriteRequest {
                    write: Box::new(write),
                    reply,
                })
                .map_err(|_| backend("the store's writer thread stopped"))?;
        }
        answer
            .recv()
            .map_err(|_| backend("the store's writer thread stopped"))?
    }

    fn read<T>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let pooled = self.readers.lock().map_err(poisoned)?.pop();
        let connection = match pooled {
            Some(connection) => connection,
            None => {
                let connection = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(backend)?;
                connection
                    .busy_timeout(std::time::Duration::from_secs(5))
                    .map_err(backend)?;
                connection
            }
        };
        let result = read(&connection).map_err(backend);
        self.readers.lock().map_err(poisoned)?.push(connection);
        result
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the channel ends the writer loop once the queued writes are committed.
        if let Ok(mut writer) = self.writer.lock() {
            writer.take();
        }
        if let Ok(mut thread) = self.writer_thread.lock() {
            if let Some(thread) = thread.take() {
                let _ = thread.join();
            }
        }
    }
}

/// Pause between two background checkpoints while writes go on.
const CHECKPOINT_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

fn writer_loop(
    mut connection: Connection,
    checkpoints: Connection,
    receiver: Receiver<WriteRequest>,
) {
    let (committed, commits) = mpsc::sync_channel::<()>(1);
    let checkpointer = std::thread::Builder::new()
        .name("cairn-store-checkpoint".into())
        .spawn(move || checkpoint_loop(&checkpoints, &commits));
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        commit_batch(&mut connection, batch);
        // Full: a checkpoint is already due.
        let _ = committed.try_send(());
    }
    drop(committed);
    if let Ok(checkpointer) = checkpointer {
        let _ = checkpointer.join();
    }
}

/// Copies committed pages from the WAL into the database on its own thread. SQLite's automatic
/// checkpoint ran inside the writer's commits, which a 1,000-state chain's 2,002 history rows
/// filled every few executions: a tenth of cairn serve's CPU, all on the one writer thread
/// that every write waits for. The writer's automatic checkpoint stays as the backstop (and
/// lets the WAL start over): it finds most pages already copied.
fn checkpoint_loop(connection: &Connection, commits: &Receiver<()>) {
    while commits.recv().is_ok() {
        // PASSIVE never waits for the writer or readers: it copies what it can.
        if let Err(error) = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            eprintln!("cairn: a background checkpoint failed: {error}");
        }
        std::thread::sleep(CHECKPOINT_PAUSE);
    }
}

fn commit_batch(connection: &mut Connection, batch: Vec<WriteRequest>) {
    let mut replies = Vec::with_capacity(batch.len());
    let outcome = (|| -> rusqlite::Result<()> {
        let transaction =
            connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // The savepoint statements are prepared once: rusqlite's Savepoint parsed its SQL
        // twice per write, a tenth of the writer thread's time under load.
        for request in batch {
            transaction.prepare_cached("SAVEPOINT write")?.execute([])?;
            let result = (request.write)(&transaction);
            if result.is_err() {
                // Only this write is undone; the rest of the batch still commits.
                transaction
                    .prepare_cached("ROLLBACK TO write")?
                    .execute([])?;
            }
            transaction.prepare_cached("RELEASE write")?.execute([])?;
            replies.push((request.reply, result));
        }
        transaction.commit()
    })();
    match outcome {
        Ok(()) => {
            for (reply, result) in replies {
                let _ = reply.send(result);
            }
        }
        Err(error) => {
            for (reply, _) in replies {
                let _ = reply.send(Err(backend(format!("commit failed: {error}"))));
            }
        }
    }
}

fn write_sql(error: rusqlite::Error) -> Error {
    backend(error)
}

fn apply_effects(tx: &Connection, effects: &Effects) -> Result<()> {
    for token in &effects.activity_tasks_claim {
        let removed = tx
            .prepare_cached("DELETE FROM activity_tasks WHERE token = ?1")
            .and_then(|mut s| s.execute([token]))
            .map_err(write_sql)?;
        if removed == 0 {
            return Err(Error::Conflict(format!(
                "activity task {token} is no longer queued"
            )));
        }
    }
    for token in &effects.activity_tasks_remove {
        tx.prepare_cached("DELETE FROM activity_tasks WHERE token = ?1")
            .and_then(|mut s| s.execute([token]))
            .map_err(write_sql)?;
    }
    for timer in &effects.timers_remove {
        let timer_id = to_sql_int(timer.timer_id)?;
        tx.prepare_cached("DELETE FROM timers WHERE execution_arn = ?1 AND timer_id = ?2")
            .and_then(|mut s| s.execute(params![timer.execution_arn, timer_id]))
            .map_err(write_sql)?;
    }
    for timer in &effects.timers_add {
        let timer_id = to_sql_int(timer.timer_id)?;
        tx.prepare_cached("INSERT OR REPLACE INTO timers(fire_at_ms, execution_arn, timer_id) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![timer.fire_at_ms, timer.execution_arn, timer_id]))
            .map_err(write_sql)?;
    }
    for task in &effects.activity_tasks_add {
        let task_id = to_sql_int(task.task_id)?;
        tx.prepare_cached(
            "INSERT OR REPLACE INTO activity_tasks(token, activity_arn, created_ms, execution_arn, task_id, input)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut s| {
            s.execute(params![
                task.task_token,
                task.activity_arn,
                task.created_ms,
                task.execution_arn,
                task_id,
                task.input
            ])
        })
        .map_err(write_sql)?;
    }
    for token in &effects.tokens_remove {
        tx.prepare_cached("DELETE FROM task_tokens WHERE token = ?1")
            .and_then(|mut s| s.execute([token]))
            .map_err(write_sql)?;
    }
    for token in &effects.tokens_add {
        let task_id = to_sql_int(token.task_id)?;
        tx.prepare_cached(
            "INSERT OR REPLACE INTO task_tokens(token, execution_arn, task_id) VALUES (?1, ?2, ?3)",
        )
        .and_then(|mut s| s.execute(params![token.token, token.execution_arn, task_id]))
        .map_err(write_sql)?;
    }
    Ok(())
}

/// The first byte of a block says how the rest is encoded: the events as they are, or
/// (BLOCK_LZ) the varint of their encoding's length and that encoding compressed ([`lz`]).
const BLOCK_PLAIN: u8 = 1;
const BLOCK_LZ: u8 = 2;
/// A transition's events go into blocks of about this many bytes: a page of
/// GetExecutionHistory then reads a block or two, not a whole transition's history (a Map
/// state's can be many megabytes), and no row nears SQLite's size limit. An event larger
/// than this gets a block of its own.
const BLOCK_BYTES: usize = 64 * 1024;

/// One row of `history_blocks`: consecutive events of one execution, `first` and `last` ids.
struct Block {
    first: i64,
    last: i64,
    bytes: Vec<u8>,
}

/// A transition's events as blocks, encoded on the caller's thread so the writer thread, which
/// every write waits for, only inserts them. After the format byte each event is the varint
/// of its id minus the previous one's (0 for the first, whose id is the row's `first`), the
/// varint of its body's length, and the body's UTF-8.
fn encode_blocks(history: &[StoredEvent]) -> Result<Vec<Block>> {
    // A block's plain encoding is built in a buffer each thread keeps, and only its stored
    // form is allocated: not a fresh buffer of up to 64 KiB per block, its page faults and its
    // copy when compression does not pay.
    PLAIN_BLOCK.with_borrow_mut(|plain| {
        plain.clear();
        let mut blocks: Vec<Block> = Vec::new();
        // The first and last ids of the block being built.
        let mut open: Option<(i64, i64)> = None;
        let mut previous: Option<u64> = None;
        for event in history {
            let id = to_sql_int(event.id)?;
            let mut delta = match previous {
                Some(previous) if event.id <= previous => {
                    return Err(backend(format!(
                        "history event {} follows event {previous}: ids must increase",
                        event.id
                    )))
                }
                Some(previous) => event.id - previous,
                None => 0,
            };
            previous = Some(event.id);
            // A bound on the event's encoding (the two varints take at most 10 bytes each).
            let encoded = 20 + event.body.len();
            if let Some((first, last)) = open {
                if plain.len() + encoded > BLOCK_BYTES {
                    blocks.push(Block {
                        first,
                        last,
                        bytes: stored_block(plain),
                    });
                    plain.clear();
                    open = None;
                }
            }
            let (first, _) = *open.get_or_insert_with(|| {
                delta = 0;
                (id, id)
            });
            put_varint(plain, delta);
            put_varint(plain, event.body.len() as u64);
            plain.extend_from_slice(event.body.as_bytes());
            open = Some((first, id));
        }
        if let Some((first, last)) = open {
            blocks.push(Block {
                first,
                last,
                bytes: stored_block(plain),
            });
        }
        // Keeps a thread's buffer near a block's size after an event far larger than one.
        if plain.capacity() > 4 * BLOCK_BYTES {
            *plain = Vec::new();
        }
        Ok(blocks)
    })
}

thread_local! {
    static PLAIN_BLOCK: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A block's events (plain encoding) as stored: compressed, unless that saves less than an
/// eighth.
fn stored_block(events: &[u8]) -> Vec<u8> {
    let mut packed = Vec::with_capacity(events.len() / 3 + 16);
    packed.push(BLOCK_LZ);
    put_varint(&mut packed, events.len() as u64);
    lz::compress(events, &mut packed);
    let plain = events.len() + 1;
    if packed.len() < plain - plain / 8 {
        packed
    } else {
        let mut bytes = Vec::with_capacity(plain);
        bytes.push(BLOCK_PLAIN);
        bytes.extend_from_slice(events);
        bytes
    }
}

/// A stored block's events in the plain encoding: borrowed from the row, or decompressed.
fn block_events(stored: &[u8]) -> rusqlite::Result<std::borrow::Cow<'_, [u8]>> {
    match stored.split_first() {
        Some((&BLOCK_PLAIN, events)) => Ok(std::borrow::Cow::Borrowed(events)),
        Some((&BLOCK_LZ, mut rest)) => {
            let length = take_varint(&mut rest)
                .and_then(|length| usize::try_from(length).ok())
                .ok_or_else(|| unreadable_block("cut short"))?;
            lz::decompress(rest, length)
                .map(std::borrow::Cow::Owned)
                .ok_or_else(|| unreadable_block("damaged compression"))
        }
        _ => Err(unreadable_block("an unknown format")),
    }
}

fn put_varint(bytes: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        bytes.push((value as u8) | 0x80);
        value >>= 7;
    }
    bytes.push(value as u8);
}

fn take_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

/// The events of a stored block in id order, each as (id, body) borrowed from the block.
struct BlockEvents<'a> {
    rest: &'a [u8],
    id: u64,
}

impl<'a> BlockEvents<'a> {
    /// `events`: a block's events in the plain encoding ([`block_events`]).
    fn new(first: i64, events: &'a [u8]) -> BlockEvents<'a> {
        BlockEvents {
            rest: events,
            id: from_sql_int(first),
        }
    }
}

impl<'a> Iterator for BlockEvents<'a> {
    type Item = rusqlite::Result<(u64, &'a str)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let event = (|| {
            let delta = take_varint(&mut self.rest).ok_or_else(|| unreadable_block("cut short"))?;
            let length = take_varint(&mut self.rest)
                .and_then(|length| usize::try_from(length).ok())
                .filter(|length| *length <= self.rest.len())
                .ok_or_else(|| unreadable_block("cut short"))?;
            let (body, rest) = self.rest.split_at(length);
            self.rest = rest;
            self.id = self
                .id
                .checked_add(delta)
                .ok_or_else(|| unreadable_block("an id overflow"))?;
            let body = std::str::from_utf8(body)
                .map_err(|_| unreadable_block("a body that is not UTF-8"))?;
            Ok((self.id, body))
        })();
        if event.is_err() {
            self.rest = &[];
        }
        Some(event)
    }
}

fn unreadable_block(what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        3,
        rusqlite::types::Type::Blob,
        format!("a stored history block has {what}").into(),
    )
}

/// What an execution may already have of its history, for [`append_history`]'s order check.
#[derive(Clone, Copy)]
enum StoredBefore {
    /// A row just inserted: nothing.
    Nothing,
    Blocks,
    /// In a database from before blocks, per-event rows too.
    BlocksAndRows,
}

/// Appends a transition's blocks after the execution's last one. The per-event rows' primary
/// key refused an event id written twice; the order check keeps that, and keeps the blocks
/// apart, which paging relies on. A row just inserted has no history to check (an execution's
/// blocks are deleted with it, so a reused row id starts empty): a Standard start skips the read.
fn append_history(
    tx: &Connection,
    execution: i64,
    blocks: &[Block],
    before: StoredBefore,
) -> Result<()> {
    let Some(first) = blocks.first() else {
        return Ok(());
    };
    let last_block = || -> Result<Option<i64>> {
        tx.prepare_cached(
            "SELECT last FROM history_blocks WHERE execution = ?1 ORDER BY first DESC LIMIT 1",
        )
        .and_then(|mut s| s.query_row([execution], |r| r.get(0)).optional())
        .map_err(write_sql)
    };
    let last: Option<i64> = match before {
        StoredBefore::Nothing => None,
        StoredBefore::Blocks => last_block()?,
        StoredBefore::BlocksAndRows => {
            let last_row: Option<i64> = tx
                .prepare_cached("SELECT max(id) FROM history WHERE execution = ?1")
                .and_then(|mut s| s.query_row([execution], |r| r.get(0)))
                .map_err(write_sql)?;
            last_block()?.max(last_row)
        }
    };
    if let Some(last) = last.filter(|last| *last >= first.first) {
        return Err(backend(format!(
            "history event {} is not after the execution's last event {last}",
            first.first
        )));
    }
    let mut statement = tx
        .prepare_cached(
            "INSERT INTO history_blocks(execution, first, last, events) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(write_sql)?;
    for block in blocks {
        statement
            .execute(params![execution, block.first, block.last, block.bytes])
            .map_err(write_sql)?;
    }
    Ok(())
}

/// Up to `limit` events of the execution with row id `execution`, after (or, reversed,
/// before) `bound`, from its blocks.
fn read_blocks(
    c: &Connection,
    execution: i64,
    bound: Option<i64>,
    limit: usize,
    reverse: bool,
) -> rusqlite::Result<Vec<StoredEvent>> {
    // Forward from a bound, the block holding the first event wanted is the last one to start
    // at or before the bound; every later block is wanted too.
    let sql = match (reverse, bound) {
        (false, None) => {
            "SELECT first, events FROM history_blocks WHERE execution = ?1 ORDER BY first"
        }
        (false, Some(_)) => {
            "SELECT first, events FROM history_blocks WHERE execution = ?1 AND first >= coalesce(
                (SELECT max(first) FROM history_blocks WHERE execution = ?1 AND first <= ?2), 0)
             ORDER BY first"
        }
        (true, None) => {
            "SELECT first, events FROM history_blocks WHERE execution = ?1 ORDER BY first DESC"
        }
        (true, Some(_)) => {
            "SELECT first, events FROM history_blocks WHERE execution = ?1 AND first < ?2
             ORDER BY first DESC"
        }
    };
    let mut statement = c.prepare_cached(sql)?;
    let mut rows = match bound {
        Some(bound) => statement.query(params![execution, bound])?,
        None => statement.query(params![execution])?,
    };
    let bound = bound.map(from_sql_int);
    let mut events = Vec::new();
    let wanted = |id: u64, body: &str, events: &mut Vec<StoredEvent>| {
        let inside = match bound {
            Some(bound) if reverse => id < bound,
            Some(bound) => id > bound,
            None => true,
        };
        if inside {
            events.push(StoredEvent {
                id,
                body: body.to_owned(),
            });
        }
    };
    while events.len() < limit {
        let Some(row) = rows.next()? else { break };
        let plain = block_events(row.get_ref(1)?.as_blob()?)?;
        let block = BlockEvents::new(row.get(0)?, &plain);
        if reverse {
            let block = block.collect::<rusqlite::Result<Vec<_>>>()?;
            for (id, body) in block.into_iter().rev() {
                if events.len() == limit {
                    break;
                }
                wanted(id, body, &mut events);
            }
        } else {
            for event in block {
                if events.len() == limit {
                    break;
                }
                let (id, body) = event?;
                wanted(id, body, &mut events);
            }
        }
    }
    Ok(events)
}

/// The same from the per-event rows of a database written before blocks.
fn read_legacy_rows(
    c: &Connection,
    execution: i64,
    bound: Option<i64>,
    limit: usize,
    reverse: bool,
) -> rusqlite::Result<Vec<StoredEvent>> {
    let sql = if reverse {
        "SELECT id, body FROM history WHERE execution = ?1 AND (?2 IS NULL OR id < ?2)
         ORDER BY id DESC LIMIT ?3"
    } else {
        "SELECT id, body FROM history WHERE execution = ?1 AND (?2 IS NULL OR id > ?2)
         ORDER BY id LIMIT ?3"
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    c.prepare_cached(sql)?
        .query_map(params![execution, bound, limit], |r| {
            Ok(StoredEvent {
                id: from_sql_int(r.get(0)?),
                body: r.get(1)?,
            })
        })?
        .collect()
}

/// Two runs of events each in the read's order, merged, at most `limit`.
fn merge_events(
    a: Vec<StoredEvent>,
    b: Vec<StoredEvent>,
    limit: usize,
    reverse: bool,
) -> Vec<StoredEvent> {
    let mut merged: Vec<StoredEvent> = a.into_iter().chain(b).collect();
    if reverse {
        merged.sort_by_key(|event| std::cmp::Reverse(event.id));
    } else {
        merged.sort_by_key(|event| event.id);
    }
    merged.truncate(limit);
    merged
}

fn json_text(value: &serde_json::Value) -> Result<String> {
    serde_json::to_string(value).map_err(backend)
}

fn json_value(text: &str) -> rusqlite::Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn record_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StateMachineRecord> {
    Ok(StateMachineRecord {
        name: row.get(0)?,
        arn: row.get(1)?,
        created_ms: row.get(2)?,
        document: json_value(&row.get::<_, String>(3)?)?,
    })
}

/// An execution row with its ARNs put back together, in [`execution_from_row`]'s order.
const EXECUTION_SELECT: &str =
    "SELECT p.text || e.tail, m.text, coalesce(e.name, e.tail), e.status, e.start_ms, e.stop_ms,
            e.summary, e.state, e.version, e.state_length
     FROM executions e JOIN arns p ON p.id = e.prefix JOIN arns m ON m.id = e.machine";

/// The row id of the execution `arn` names, for a statement's `?N` (prefix) and `?N+1` (tail).
const EXECUTION_ID_BY_ARN: &str =
    "SELECT id FROM executions WHERE prefix = (SELECT id FROM arns WHERE text = ?1) AND tail = ?2";

fn execution_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(ExecutionRecord, Version)> {
    Ok((
        ExecutionRecord {
            arn: row.get(0)?,
            state_machine_arn: row.get(1)?,
            name: row.get(2)?,
            status: row.get(3)?,
            start_ms: row.get(4)?,
            stop_ms: row.get(5)?,
            summary: json_value(&row.get::<_, String>(6)?)?,
            state: unpack_state(row.get(7)?, row.get(9)?)?,
        },
        from_sql_int(row.get(8)?),
    ))
}

fn name_of_arn(arn: &str) -> String {
    arn.rsplit(':').next().unwrap_or(arn).to_string()
}

fn page_by_name(
    connection: &Connection,
    table: &str,
    cursor: Option<&str>,
    limit: usize,
) -> rusqlite::Result<Page<StateMachineRecord>> {
    let limit = limit.max(1);
    let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT name, arn, created_ms, document FROM {table} WHERE name > ?1 ORDER BY name LIMIT ?2"
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let mut items: Vec<StateMachineRecord> = statement
        .query_map(params![cursor.unwrap_or(""), fetch], record_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|r| r.name.clone())
    } else {
        None
    };
    Ok(Page { items, next })
}

impl SqliteStore {
    /// Drops the cached record of `name` after a write to it (whatever its outcome: a failed
    /// commit may still have changed nothing or everything, the table says which).
    fn forget_machine(&self, name: &str) {
        if let Ok(mut cache) = self.machines.lock() {
            cache.generation += 1;
            cache.entries.remove(name);
        }
    }
}

impl StateMachineStore for SqliteStore {
    fn create_state_machine(&self, record: &StateMachineRecord) -> Result<()> {
        let written = self.create_state_machine_row(record);
        self.forget_machine(&record.name);
        written
    }

    fn get_state_machine(&self, arn: &str) -> Result<Option<(StateMachineRecord, Version)>> {
        let name = name_of_arn(arn);
        let (cached, generation) = {
            let cache = self.machines.lock().map_err(poisoned)?;
            (cache.entries.get(&name).cloned(), cache.generation)
        };
        if let Some(cached) = cached {
            let (record, version) = cached.as_ref();
            return Ok((record.arn == arn).then(|| (record.clone(), *version)));
        }
        let found = self.read(|c| {
            c.prepare_cached("SELECT name, arn, created_ms, document, version FROM state_machines WHERE name = ?1")?
                .query_row([&name], |row| Ok((record_from_row(row)?, from_sql_int(row.get(4)?))))
                .optional()
        })?;
        if let Some(found) = &found {
            let mut cache = self.machines.lock().map_err(poisoned)?;
            if cache.generation == generation {
                if cache.entries.len() >= MACHINE_CACHE_CAPACITY {
                    cache.entries.clear();
                }
                cache
                    .entries
                    .insert(name, std::sync::Arc::new(found.clone()));
            }
        }
        Ok(found.filter(|(r, _)| r.arn == arn))
    }

    fn update_state_machine(
        &self,
        record: &StateMachineRecord,
        expected: Version,
    ) -> Result<Version> {
        let written = self.update_state_machine_row(record, expected);
        self.forget_machine(&record.name);
        written
    }

    fn delete_state_machine(&self, arn: &str) -> Result<bool> {
        let deleted = self.delete_state_machine_row(arn);
        self.forget_machine(&name_of_arn(arn));
        deleted
    }

    fn list_state_machines(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<StateMachineRecord>> {
        self.read(|c| page_by_name(c, "state_machines", cursor, limit))
    }
}

impl SqliteStore {
    fn create_state_machine_row(&self, record: &StateMachineRecord) -> Result<()> {
        let record = record.clone();
        let document = json_text(&record.document)?;
        self.write(move |tx| {
            let inserted = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO state_machines(name, arn, created_ms, document, version)
                     VALUES (?1, ?2, ?3, ?4, 1)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        record.name,
                        record.arn,
                        record.created_ms,
                        document
                    ])
                })
                .map_err(write_sql)?;
            if inserted == 0 {
                return Err(Error::AlreadyExists(record.arn));
            }
            Ok(1)
        })
        .map(|_| ())
    }

    fn update_state_machine_row(
        &self,
        record: &StateMachineRecord,
        expected: Version,
    ) -> Result<Version> {
        let record = record.clone();
        let document = json_text(&record.document)?;
        let expected = to_sql_int(expected)?;
        self.write(move |tx| {
            let current: Option<i64> = tx
                .prepare_cached("SELECT version FROM state_machines WHERE name = ?1 AND arn = ?2")
                .and_then(|mut s| {
                    s.query_row(params![record.name, record.arn], |r| r.get(0))
                        .optional()
                })
                .map_err(write_sql)?;
            match current {
                None => Err(Error::NotFound(record.arn)),
                Some(version) if version != expected => Err(Error::Conflict(record.arn)),
                Some(version) => {
                    tx.prepare_cached(
                        "UPDATE state_machines SET document = ?1, version = ?2 WHERE name = ?3",
                    )
                    .and_then(|mut s| s.execute(params![document, version + 1, record.name]))
                    .map_err(write_sql)?;
                    Ok(from_sql_int(version + 1))
                }
            }
        })
    }

    fn delete_state_machine_row(&self, arn: &str) -> Result<bool> {
        let arn = arn.to_string();
        self.write(move |tx| {
            tx.prepare_cached("DELETE FROM state_machines WHERE name = ?1 AND arn = ?2")
                .and_then(|mut s| s.execute(params![name_of_arn(&arn), arn]))
                .map(|n| n as u64)
                .map_err(write_sql)
        })
        .map(|n| n > 0)
    }
}

impl ActivityStore for SqliteStore {
    fn create_activity(&self, record: &ActivityRecord) -> Result<()> {
        let record = record.clone();
        let document = json_text(&record.document)?;
        self.write(move |tx| {
            let inserted = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO activities(name, arn, created_ms, document) VALUES (?1, ?2, ?3, ?4)",
                )
                .and_then(|mut s| s.execute(params![record.name, record.arn, record.created_ms, document]))
                .map_err(write_sql)?;
            if inserted == 0 {
                return Err(Error::AlreadyExists(record.arn));
            }
            Ok(1)
        })
        .map(|_| ())
    }

    fn get_activity(&self, arn: &str) -> Result<Option<ActivityRecord>> {
        let name = name_of_arn(arn);
        let found = self.read(|c| {
            c.prepare_cached(
                "SELECT name, arn, created_ms, document FROM activities WHERE name = ?1",
            )?
            .query_row([&name], record_from_row)
            .optional()
        })?;
        Ok(found.filter(|r| r.arn == arn))
    }

    fn delete_activity(&self, arn: &str) -> Result<bool> {
        let arn = arn.to_string();
        self.write(move |tx| {
            tx.prepare_cached("DELETE FROM activities WHERE name = ?1 AND arn = ?2")
                .and_then(|mut s| s.execute(params![name_of_arn(&arn), arn]))
                .map(|n| n as u64)
                .map_err(write_sql)
        })
        .map(|n| n > 0)
    }

    fn list_activities(&self, cursor: Option<&str>, limit: usize) -> Result<Page<ActivityRecord>> {
        self.read(|c| page_by_name(c, "activities", cursor, limit))
    }
}

impl ExecutionStore for SqliteStore {
    fn put_definition(&self, key: &str, text: &str) -> Result<bool> {
        if self.definitions.lock().map_err(poisoned)?.contains(key) {
            return Ok(true);
        }
        let (owned_key, owned_text) = (key.to_string(), text.to_string());
        self.write(move |tx| {
            // Another start of the same definition may have written it first: the text
            // under a key never changes.
            tx.prepare_cached("INSERT OR IGNORE INTO definitions(key, text) VALUES (?1, ?2)")
                .and_then(|mut s| s.execute(params![owned_key, owned_text]))
                .map_err(write_sql)?;
            Ok(0)
        })?;
        // Known only once committed: a failed batch leaves it to the next put.
        self.definitions
            .lock()
            .map_err(poisoned)?
            .insert(key.to_string());
        Ok(true)
    }

    fn get_definition(&self, key: &str) -> Result<Option<String>> {
        self.read(|c| {
            c.prepare_cached("SELECT text FROM definitions WHERE key = ?1")?
                .query_row([key], |row| row.get(0))
                .optional()
        })
    }

    fn delete_closed_executions(&self, before_ms: i64, limit: usize) -> Result<usize> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let legacy_history = self.legacy_history;
        self.write(move |tx| {
            let ids: Vec<i64> = tx
                .prepare_cached(
                    "SELECT id FROM executions WHERE status <> 'RUNNING' AND stop_ms < ?1 LIMIT ?2",
                )
                .and_then(|mut s| {
                    s.query_map(params![before_ms, limit], |row| row.get(0))?
                        .collect::<rusqlite::Result<Vec<i64>>>()
                })
                .map_err(write_sql)?;
            for id in &ids {
                tx.prepare_cached("DELETE FROM history_blocks WHERE execution = ?1")
                    .and_then(|mut s| s.execute([id]))
                    .map_err(write_sql)?;
                if legacy_history {
                    tx.prepare_cached("DELETE FROM history WHERE execution = ?1")
                        .and_then(|mut s| s.execute([id]))
                        .map_err(write_sql)?;
                }
                tx.prepare_cached("DELETE FROM executions WHERE id = ?1")
                    .and_then(|mut s| s.execute([id]))
                    .map_err(write_sql)?;
            }
            Ok(u64::try_from(ids.len()).unwrap_or(0))
        })
        .map(|deleted| usize::try_from(deleted).unwrap_or(0))
    }

    fn create_execution(
        &self,
        record: &ExecutionRecord,
        history: &[StoredEvent],
        effects: &Effects,
    ) -> Result<Version> {
        let history = encode_blocks(history)?;
        let state = pack_state(&record.state)?;
        let summary = json_text(&record.summary)?;
        let record = RowFields::of(record);
        let effects = effects.clone();
        self.write(move |tx| {
            let (prefix, tail) = split_arn(&record.arn);
            let prefix = intern_arn(tx, prefix).map_err(write_sql)?;
            let machine = intern_arn(tx, &record.state_machine_arn).map_err(write_sql)?;
            let name = (record.name != tail).then_some(record.name.as_str());
            let inserted = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO executions(prefix, tail, machine, name, status, start_ms, stop_ms, summary, state, state_length, version)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        prefix,
                        tail,
                        machine,
                        name,
                        record.status,
                        record.start_ms,
                        record.stop_ms,
                        summary,
                        state.bytes,
                        state.length
                    ])
                })
                .map_err(write_sql)?;
            if inserted == 0 {
                return Err(Error::AlreadyExists(record.arn));
            }
            let id = tx.last_insert_rowid();
            apply_effects(tx, &effects)?;
            append_history(tx, id, &history, StoredBefore::Nothing)?;
            Ok(1)
        })
    }

    /// One write (one savepoint of the group commit) for the whole call: a Distributed Map's
    /// children came 256 to a call, and one write each made the writer thread's per-write
    /// overhead the Map Run's bottleneck. An upsert keeps the default's meaning: an unchanged
    /// record is left alone (same version), a changed one replaces the row at the next version.
    fn put_closed_executions(&self, records: &[ExecutionRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let rows = records
            .iter()
            .map(|record| {
                Ok((
                    record.clone(),
                    json_text(&record.summary)?,
                    pack_state(&record.state)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        self.write(move |tx| {
            // The children of one call share their machine and ARN prefix: looked up once per
            // text within this write (never kept past it, as intern_arn says).
            let mut interned: std::collections::HashMap<String, i64> =
                std::collections::HashMap::new();
            let mut intern = |text: &str| -> Result<i64> {
                if let Some(id) = interned.get(text) {
                    return Ok(*id);
                }
                let id = intern_arn(tx, text).map_err(write_sql)?;
                interned.insert(text.to_string(), id);
                Ok(id)
            };
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO executions(prefix, tail, machine, name, status, start_ms, stop_ms, summary, state, state_length, version)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1)
                     ON CONFLICT(prefix, tail) DO UPDATE SET
                         machine = excluded.machine, name = excluded.name, status = excluded.status,
                         start_ms = excluded.start_ms, stop_ms = excluded.stop_ms,
                         summary = excluded.summary, state = excluded.state,
                         state_length = excluded.state_length, version = version + 1
                     WHERE machine IS NOT excluded.machine OR name IS NOT excluded.name
                        OR status IS NOT excluded.status OR start_ms IS NOT excluded.start_ms
                        OR stop_ms IS NOT excluded.stop_ms OR summary IS NOT excluded.summary
                        OR state IS NOT excluded.state OR state_length IS NOT excluded.state_length",
                )
                .map_err(write_sql)?;
            for (record, summary, state) in &rows {
                let (prefix, tail) = split_arn(&record.arn);
                let prefix = intern(prefix)?;
                let machine = intern(&record.state_machine_arn)?;
                let name = (record.name != tail).then_some(record.name.as_str());
                upsert
                    .execute(params![
                        prefix,
                        tail,
                        machine,
                        name,
                        record.status,
                        record.start_ms,
                        record.stop_ms,
                        summary,
                        state.bytes,
                        state.length
                    ])
                    .map_err(write_sql)?;
            }
            Ok(u64::try_from(rows.len()).unwrap_or(0))
        })
        .map(|_| ())
    }

    fn get_execution(&self, arn: &str) -> Result<Option<(ExecutionRecord, Version)>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "{EXECUTION_SELECT} WHERE e.prefix = (SELECT id FROM arns WHERE text = ?1) AND e.tail = ?2"
            ))?
            .query_row(split_arn(arn), execution_from_row)
            .optional()
        })
    }

    fn commit(&self, transition: &Transition) -> Result<Version> {
        let history = encode_blocks(&transition.history)?;
        let state = pack_state(&transition.record.state)?;
        let record = RowFields::of(&transition.record);
        let effects = transition.effects.clone();
        let summary = json_text(&transition.record.summary)?;
        let expected = to_sql_int(transition.expected_version)?;
        let before = if self.legacy_history {
            StoredBefore::BlocksAndRows
        } else {
            StoredBefore::Blocks
        };
        self.write(move |tx| {
            let current: Option<(i64, i64)> = tx
                .prepare_cached(
                    "SELECT id, version FROM executions
                     WHERE prefix = (SELECT id FROM arns WHERE text = ?1) AND tail = ?2",
                )
                .and_then(|mut s| s.query_row(split_arn(&record.arn), |r| Ok((r.get(0)?, r.get(1)?))).optional())
                .map_err(write_sql)?;
            let (id, version) = match current {
                None => return Err(Error::NotFound(record.arn.clone())),
                Some((_, version)) if version != expected => {
                    return Err(Error::Conflict(format!("{} is at version {version}, not {expected}", record.arn)))
                }
                Some(found) => found,
            };
            apply_effects(tx, &effects)?;
            tx.prepare_cached(
                "UPDATE executions SET status = ?1, stop_ms = ?2, summary = ?3, state = ?4, state_length = ?5, version = ?6 WHERE id = ?7",
            )
            .and_then(|mut s| s.execute(params![record.status, record.stop_ms, summary, state.bytes, state.length, version + 1, id]))
            .map_err(write_sql)?;
            append_history(tx, id, &history, before)?;
            Ok(from_sql_int(version + 1))
        })
    }

    fn list_executions(&self, query: &ExecutionQuery) -> Result<Page<ExecutionRecord>> {
        let (after_start, after_arn) = match &query.cursor {
            Some(cursor) => {
                let (start, arn) = parse_execution_cursor(cursor)?;
                (Some(start), arn)
            }
            None => (None, String::new()),
        };
        let limit = query.limit.max(1);
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let mut items = self.read(|c| {
            let sql = format!(
                "{EXECUTION_SELECT}
                 WHERE e.machine = (SELECT id FROM arns WHERE text = ?1) AND (?2 IS NULL OR e.status = ?2)
                   AND (?3 IS NULL OR e.start_ms < ?3 OR (e.start_ms = ?3 AND p.text || e.tail > ?4))
                 ORDER BY e.start_ms DESC, p.text || e.tail LIMIT ?5"
            );
            c.prepare_cached(&sql)?
                .query_map(
                    params![
                        query.state_machine_arn,
                        query.status,
                        after_start,
                        after_arn,
                        fetch
                    ],
                    execution_from_row,
                )?
                .map(|row| row.map(|(record, _)| record))
                .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|r| execution_cursor(r.start_ms, &r.arn))
        } else {
            None
        };
        Ok(Page { items, next })
    }

    fn running_executions(&self) -> Result<Vec<String>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT p.text || e.tail AS arn FROM executions e JOIN arns p ON p.id = e.prefix
                 WHERE e.status = 'RUNNING' ORDER BY arn",
            )?
            .query_map([], |r| r.get(0))?
            .collect()
        })
    }

    fn read_history(&self, execution_arn: &str, query: &HistoryQuery) -> Result<Vec<StoredEvent>> {
        let limit = query.limit.max(1);
        let bound = query.after_id.map(to_sql_int).transpose()?;
        let (prefix, tail) = split_arn(execution_arn);
        self.read(|c| {
            let execution: Option<i64> = c
                .prepare_cached(EXECUTION_ID_BY_ARN)?
                .query_row([prefix, tail], |r| r.get(0))
                .optional()?;
            let Some(execution) = execution else {
                return Ok(Vec::new());
            };
            let events = read_blocks(c, execution, bound, limit, query.reverse)?;
            if !self.legacy_history {
                return Ok(events);
            }
            let rows = read_legacy_rows(c, execution, bound, limit, query.reverse)?;
            Ok(merge_events(events, rows, limit, query.reverse))
        })
    }
}

impl TimerStore for SqliteStore {
    fn due_timers(&self, now_ms: i64, limit: usize) -> Result<Vec<TimerRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            c.prepare_cached(
                "SELECT fire_at_ms, execution_arn, timer_id FROM timers WHERE fire_at_ms <= ?1
                 ORDER BY fire_at_ms, execution_arn, timer_id LIMIT ?2",
            )?
            .query_map(params![now_ms, limit], |r| {
                Ok(TimerRecord {
                    fire_at_ms: r.get(0)?,
                    execution_arn: r.get(1)?,
                    timer_id: from_sql_int(r.get(2)?),
                })
            })?
            .collect()
        })
    }

    fn next_timer(&self) -> Result<Option<TimerRecord>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT fire_at_ms, execution_arn, timer_id FROM timers ORDER BY fire_at_ms, execution_arn, timer_id LIMIT 1",
            )?
            .query_row([], |r| {
                Ok(TimerRecord { fire_at_ms: r.get(0)?, execution_arn: r.get(1)?, timer_id: from_sql_int(r.get(2)?) })
            })
            .optional()
        })
    }
}

impl ActivityTaskStore for SqliteStore {
    fn peek_activity_tasks(
        &self,
        activity_arn: &str,
        limit: usize,
    ) -> Result<Vec<ActivityTaskRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            c.prepare_cached(
                "SELECT token, activity_arn, created_ms, execution_arn, task_id, input FROM activity_tasks
                 WHERE activity_arn = ?1 ORDER BY created_ms, token LIMIT ?2",
            )?
            .query_map(params![activity_arn, limit], |r| {
                Ok(ActivityTaskRecord {
                    task_token: r.get(0)?,
                    activity_arn: r.get(1)?,
                    created_ms: r.get(2)?,
                    execution_arn: r.get(3)?,
                    task_id: from_sql_int(r.get(4)?),
                    input: r.get(5)?,
                })
            })?
            .collect()
        })
    }
}

impl TaskTokenStore for SqliteStore {
    fn get_task_token(&self, token: &str) -> Result<Option<TaskTokenRecord>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT token, execution_arn, task_id FROM task_tokens WHERE token = ?1",
            )?
            .query_row([token], |r| {
                Ok(TaskTokenRecord {
                    token: r.get(0)?,
                    execution_arn: r.get(1)?,
                    task_id: from_sql_int(r.get(2)?),
                })
            })
            .optional()
        })
    }
}
