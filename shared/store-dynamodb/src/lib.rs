#![forbid(unsafe_code)]
//! DynamoDB adapter of the Cairn Store port ([`cairn_store`]), on the official
//! `aws-sdk-dynamodb`. Endpoints follow the SDK's environment (`AWS_ENDPOINT_URL_DYNAMODB`
//! points it at DynamoDB Local).
//!
//! # Table design (one table, string keys `pk`/`sk`)
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | state machine | `SMS` | name | `arn`, `created`, `doc` (JSON text), `version` |
//! | activity | `ACTS` | name | same attributes |
//! | execution | `EX#<arn>` | `EX` | `sm`, `name` (only when the ARN does not end with it), `status`, `start`, `stop`, `xz` (summary, state and an inline history, deflated together), `hi` (the last inline event's id), `version`, `us` (status changes not yet confirmed sent, [`cairn_store::UNSENT_STATUS`]); GSI keys below. Items written before `xz` hold `summary` (JSON text) and `stz` (deflated state) instead, and stay readable |
//! | history chunk | `EX#<arn>` | `H#<first id, 20 digits>` | `first`, `last`, `evz`: the events one write added, deflated |
//!
//! Inline history: an execution that starts and ends in its first write (B4's many small
//! executions) keeps that write's events in its own item rather than in a chunk: one
//! transactional item instead of two halves the units such a write is billed, and the
//! confirmation of its status events updates an item still within one KB. A reader that finds
//! no chunk reads them from the item; a later write (a redrive) is conditional on `hi` being
//! absent, and on that failure writes again with the events moved to a chunk.
//! | timer | `EX#<arn>` | `T#<timer id, 20 digits>` | `gt` = `TIMERS#<shard>`, `gf` = fire time + ARN + id |
//! | activity task | `AT#<activity arn>` | `<created>#<token>` | FIFO per activity |
//! | activity task lookup | `ATT#<token>` | `ATT` | `qpk`/`qsk`: where the queued task is |
//! | task token | `TT#<token>` | `TT` | `arn`, `task` |
//! | pending work | `EX#<arn>` | `PEND` | `ops`: the effects a transition could not fit in its transaction |
//! | definition | `DEF#<key>` | `DEF` | `dz`: the state machine definition an execution runs, deflated, under its content key ([`cairn_store::ExecutionStore::put_definition`]); written once, never changed, and never deleted (no `ttl`: which executions name it is not known to the table) |
//!
//! Retention ([`DynamoStore::with_retention_days`]): a closed execution's item and its history
//! chunks carry `ttl` (epoch seconds), the table's TTL attribute. Definition items carry none:
//! a running or later redriven execution may name any of them, as in the SQLite store.
//!
//! Definitions: an execution's state names its definition by key instead of carrying the text
//! (a 1,000-state chain's is 137 KB, rewritten with every transition). A container remembers
//! the keys it knows stored and the texts it read or wrote, so a warm one makes no request for
//! a definition it met before. On a cold one a put first reads the item (strongly consistent,
//! key only): finding it costs 1 RRU per 4 KB of the deflated item, where a refused
//! conditional put would be billed 1 WRU per KB (twenty times the price per KB); a missing
//! one costs 1 RRU before the put, which happens once per definition. A definition whose item
//! would pass 350 KB once deflated (DynamoDB's item limit is 400 KB) is not kept (`false`): the states carry it.
//!
//! Global secondary indexes: `by_machine` (`sm` = state machine ARN, `gs` = newest-first key,
//! projecting `status` only) serves ListExecutions (a status filter is a filter expression;
//! the page's records are then read from the table); `running` (`gr`, present only while RUNNING) is sparse and lists what to resume
//! (a closed execution whose status events are not confirmed sent stays in it until the
//! confirmation removes `us` and `gr`: closed by a later write, under its running key, so
//! closing costs no index write and the sweep's running pages find its mark; closed in its
//! first write, under the keys `UNSENT#<n>`, which the sweep also reads); `timers`
//! (`gt`, `gf`) orders pending timers by fire time for the due-timer sweep. Timers are keyed
//! by execution and timer id (what the port removes them by), so they live in the
//! execution's partition.
//!
//! Hot keys: one index partition key for every running execution (or every timer) would take
//! all their index writes on one partition (1,000 writes a second at most). `gr` and `gt` are
//! sharded instead: `RUNNING#<n>` and `TIMERS#<n>`, `n` = FNV-1a of the execution ARN modulo
//! [`INDEX_SHARDS`], so an execution and its timers always land in the same shard. Readers
//! query every shard and page through them ([`cairn_store::ExecutionStore::running_executions_page`],
//! [`cairn_store::TimerStore::due_timers_page`]). Items written before the sharding carry
//! the bare `RUNNING` / `TIMERS`: readers query that key too, so a table from an older
//! version stays readable without a migration (an execution moves to its shard at its next
//! write; an old timer leaves the index when it fires).
//!
//! Large items: an item past 350 KB (DynamoDB's item limit is 400 KB), or the largest items of
//! a transaction past 3.5 MB (its limit is 4 MB), move their large attributes (`summary`,
//! `stz`, `evz`, `input`) into one S3 object of the payload bucket
//! ([`DynamoStore::with_payload_bucket`]), named in the item's `s3` attribute and read back
//! transparently. The object is written before the transaction, under a name never used
//! again (racing writers each write their own); a cancelled transaction deletes its objects,
//! and a committed one the object of the execution version it replaced (when this store read
//! that version, as the engine always has). A reader that finds an object gone read a version
//! replaced meanwhile, and reads the item again. History chunk objects stay as long as the
//! history. Without a bucket such a write fails and says so.
//!
//! More than 100 items: a transition whose effects do not fit one transaction (a Map starting
//! hundreds of timers or callbacks at once) keeps in its transaction the execution item, the
//! history, the conditional deletes and what else fits, plus a pending-work item
//! (`EX#<arn>`/`PEND`, the other puts and deletes as JSON) and a `pend` mark on the execution
//! item. The writer then carries the work out in further transactions, each conditional on
//! the pending item; a writer that died first leaves it to the next read of the execution,
//! which finishes it before returning, so no transition is ever written on top of it.
//!
//! Execution-name idempotency: the execution item's key is its ARN (which holds the name), so
//! creating it is a put conditional on `attribute_not_exists(pk)`.
//!
//! Every execution write is one `TransactWriteItems`: the execution item (conditional on the
//! version read), its history chunk(s) and every effect item; a write whose only item is the
//! execution's (one that starts and ends at once, its history inline) is a `PutItem` under the
//! same condition, as atomic and billed half. History is packed into chunks
//! (one per write, split near 300 KB) so a write of many events stays within the
//! transaction's 100-item limit and costs few write units. State and history chunks are
//! deflated: DynamoDB bills writes per KB, and JSON shrinks several times.
//! The one exception: a Distributed Map's closed children, stored when their Map Run ends
//! (`put_closed_executions`), are plain puts 25 to a `BatchWriteItem`, unconditional (why that
//! is safe: the comment of `Table::put_closed_executions`).
//!
//! The adapter implements the asynchronous port ([`cairn_store::asynchronous`]): each SDK
//! request is a plain `.await` on the caller's runtime (a Lambda function's one runtime), and
//! the store owns no runtime or thread of its own. A caller of the synchronous port (the
//! shared API's actions, on a blocking thread) wraps it in [`cairn_store::asynchronous::Blocking`]
//! with [`OnRuntime`], which waits on that same runtime.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConsumedCapacity, Delete,
    GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, Put, PutRequest,
    ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure, ScalarAttributeType,
    TransactWriteItem, WriteRequest,
};
pub use aws_sdk_dynamodb::Client;
pub use aws_sdk_s3::Client as S3Client;
use cairn_store::asynchronous::{
    ActivityStore, ActivityTaskStore, ExecutionStore, StateMachineStore, StoreFuture,
    TaskTokenStore, TimerStore, Wait,
};
use cairn_store::{
    execution_cursor, parse_execution_cursor, ActivityRecord, ActivityTaskRecord, Effects, Error,
    ExecutionQuery, ExecutionRecord, HistoryQuery, Page, Result, StateMachineRecord, StoredEvent,
    TaskTokenRecord, TimerRecord, Transition, Version, UNSENT_STATUS,
};

type Item = HashMap<String, AttributeValue>;

/// DynamoDB allows 100 operations in one TransactWriteItems.
const MAX_TRANSACTION_ITEMS: usize = 100;
/// DynamoDB allows 25 puts in one BatchWriteItem.
const MAX_BATCH_WRITE_ITEMS: usize = 25;
/// BatchWriteItem requests one `put_closed_executions` call keeps under way: its callers
/// already make several calls at once (the advance function 16), so a few each is enough to
/// keep the connections busy without piling hundreds of requests on a throttled table.
const BATCH_WRITERS: usize = 4;
/// Requests of one batch before its unprocessed items are given up on, and the first and
/// longest wait between them (doubling, jittered): AWS's advice for UnprocessedItems, which
/// come back when a partition is throttled.
const BATCH_ATTEMPTS: u32 = 10;
const BATCH_BACKOFF_FIRST_MS: u64 = 25;
const BATCH_BACKOFF_MAX_MS: u64 = 2_000;
/// Bytes of event bodies per history chunk: well under DynamoDB's 400 KB item limit.
const CHUNK_BYTES: usize = 300_000;
/// An item larger than this (DynamoDB's count: names and values) moves its large attributes
/// to S3. DynamoDB's limit is 400 KB; the margin covers the estimate's slack.
const ITEM_OFFLOAD_BYTES: usize = 350_000;
/// A transaction larger than this moves its largest items' attributes to S3 until it fits
/// DynamoDB's 4 MB.
const TRANSACTION_OFFLOAD_BYTES: usize = 3_500_000;
/// The attributes that can be large, hence move to S3.
const LARGE_ATTRIBUTES: [&str; 6] = ["xz", "summary", "stz", "evz", "input", "ops"];

/// Keys remembered as stored, and bytes of definition text kept at hand, per store (and its
/// clones): past either, that part of the memory is cleared and refilled as met.
const KNOWN_DEFINITIONS: usize = 4_096;
const DEFINITION_TEXT_BYTES: usize = 16 * 1024 * 1024;

const SM_PK: &str = "SMS";
/// The sort key of a definition item (`DEF#<key>`).
const DEF_SK: &str = "DEF";
const ACT_PK: &str = "ACTS";
const TIMERS_PK: &str = "TIMERS";
const EXEC_SK: &str = "EX";
/// The sort key of an execution's pending-work item ([`pending_item`]).
const PEND_SK: &str = "PEND";
const RUNNING: &str = "RUNNING";
/// The `running` index's keys for closed executions with unsent status events.
const UNSENT: &str = "UNSENT";

/// Partition keys of the `running` and `timers` indexes per kind. Raising it is safe (readers
/// query every shard below it, items keep theirs); lowering it would hide the items in the
/// shards dropped.
pub const INDEX_SHARDS: u64 = 16;

/// The index shard of an execution (and of its timers): stable across processes and builds.
pub fn index_shard(execution_arn: &str) -> u64 {
    cairn_common::entropy::fnv1a(execution_arn.as_bytes()) % INDEX_SHARDS
}

/// Every partition key of a sharded index, the unsharded one of older tables first.
fn shard_keys(prefix: &str) -> Vec<String> {
    std::iter::once(prefix.to_string())
        .chain((0..INDEX_SHARDS).map(|n| format!("{prefix}#{n}")))
        .collect()
}

/// The index names [`DynamoStore::create_table`] creates (and `template.yaml` declares).
pub const INDEX_BY_MACHINE: &str = "by_machine";
pub const INDEX_RUNNING: &str = "running";
pub const INDEX_TIMERS: &str = "timers";

#[derive(Clone)]
struct Table {
    client: Client,
    name: String,
    usage: Arc<Usage>,
    offload: Option<Arc<Offload>>,
    /// False only in tests: a writer that dies between its write and its pending work.
    finish_after_commit: bool,
    /// Seconds a closed execution is kept ([`DynamoStore::with_retention_days`]).
    retention_secs: Option<i64>,
    /// What this container knows of the definition items ([`Definitions`]).
    definitions: Arc<std::sync::Mutex<Definitions>>,
}

/// The definition items this store (and its clones) knows: a definition never changes once
/// stored, so what is known stays true and a warm container needs no request for it.
#[derive(Default)]
struct Definitions {
    /// Keys known to be in the table.
    stored: std::collections::HashSet<String>,
    /// Keys whose item would pass the item limit: never stored, not worth deflating again.
    too_large: std::collections::HashSet<String>,
    /// Texts read or written, for reads (a cold container's first advance of an execution,
    /// DescribeStateMachineForExecution).
    texts: HashMap<String, Arc<str>>,
    text_bytes: usize,
}

impl Definitions {
    fn remember(&mut self, key: &str) {
        if self.stored.len() >= KNOWN_DEFINITIONS {
            self.stored.clear();
        }
        self.stored.insert(key.to_string());
    }

    fn keep_text(&mut self, key: &str, text: Arc<str>) {
        self.remember(key);
        if self.texts.contains_key(key) || text.len() > DEFINITION_TEXT_BYTES {
            return;
        }
        if self.text_bytes + text.len() > DEFINITION_TEXT_BYTES {
            self.texts.clear();
            self.text_bytes = 0;
        }
        self.text_bytes += text.len();
        self.texts.insert(key.to_string(), text);
    }
}

/// Where the large attributes of an item too big for DynamoDB go: one S3 object per item
/// version, named in the item's `s3` attribute.
struct Offload {
    client: S3Client,
    bucket: String,
    /// Object names must never repeat: two writers racing for one version each put their
    /// own object, and the loser's must not replace the winner's.
    nonce: AtomicU64,
    /// The object of each execution version this store last read or wrote, so a write can
    /// delete the object of the version it replaces.
    current: std::sync::Mutex<HashMap<String, (Version, String)>>,
}

/// Capacity units DynamoDB reported for this store's requests (`ReturnConsumedCapacity:
/// TOTAL`, indexes included): what on-demand billing charges. Kept in thousandths.
#[derive(Debug, Default)]
pub struct Usage {
    read_milli: AtomicU64,
    write_milli: AtomicU64,
    requests: AtomicU64,
    /// The index part of transactions' write units: AWS bills an index write in a
    /// transaction as a standard one, and DynamoDB Local reports it doubled.
    transaction_index_milli: AtomicU64,
}

impl Usage {
    fn add(counter: &AtomicU64, capacity: Option<&ConsumedCapacity>) {
        let units = capacity.and_then(|c| c.capacity_units()).unwrap_or(0.0);
        counter.fetch_add((units * 1000.0).round() as u64, Ordering::Relaxed);
    }

    fn read(&self, capacity: Option<&ConsumedCapacity>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        Usage::add(&self.read_milli, capacity);
    }

    fn write(&self, capacity: Option<&ConsumedCapacity>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        Usage::add(&self.write_milli, capacity);
    }

    /// A batch or transaction reports one capacity per table or index; one
    /// request's units are their sum.
    fn summed(capacities: &[ConsumedCapacity]) -> ConsumedCapacity {
        let units: f64 = capacities.iter().filter_map(|c| c.capacity_units()).sum();
        ConsumedCapacity::builder().capacity_units(units).build()
    }

    fn read_all(&self, capacities: &[ConsumedCapacity]) {
        self.read(Some(&Usage::summed(capacities)));
    }

    fn write_all(&self, capacities: &[ConsumedCapacity]) {
        self.write(Some(&Usage::summed(capacities)));
    }

    /// A transaction's units (`ReturnConsumedCapacity: INDEXES`), its index part kept apart.
    fn write_transaction(&self, capacities: &[ConsumedCapacity]) {
        self.write_all(capacities);
        let index: f64 = capacities
            .iter()
            .filter_map(|c| c.global_secondary_indexes())
            .flat_map(|indexes| indexes.values())
            .filter_map(|c| c.capacity_units())
            .sum();
        self.transaction_index_milli
            .fetch_add((index * 1000.0).round() as u64, Ordering::Relaxed);
    }

    /// The write units of index updates made by transactions, as reported (included in
    /// [`Usage::snapshot`]'s write units). AWS charges these as standard writes, one unit per
    /// KB of index entry (the transactional doubling is the base table's alone); DynamoDB
    /// Local reports them doubled, so a bench against it subtracts half of them.
    pub fn transaction_index_writes(&self) -> f64 {
        self.transaction_index_milli.load(Ordering::Relaxed) as f64 / 1000.0
    }

    /// Read units, write units and requests so far.
    pub fn snapshot(&self) -> (f64, f64, u64) {
        (
            self.read_milli.load(Ordering::Relaxed) as f64 / 1000.0,
            self.write_milli.load(Ordering::Relaxed) as f64 / 1000.0,
            self.requests.load(Ordering::Relaxed),
        )
    }
}

/// The DynamoDB store. Cheap to clone: clones share the client.
#[derive(Clone)]
pub struct DynamoStore {
    table: Table,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.table.name)
            .finish()
    }
}

fn backend(what: &str, err: impl std::fmt::Display) -> Error {
    Error::Backend(format!("DynamoDB {what}: {err}"))
}

fn sdk_backend<E, R>(what: &str, err: SdkError<E, R>) -> Error
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    Error::Backend(format!(
        "DynamoDB {what}: {}",
        aws_sdk_dynamodb::error::DisplayErrorContext(err)
    ))
}

impl DynamoStore {
    /// A store on `table`, with the SDK configured from the environment (region, credentials,
    /// `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL`).
    pub async fn from_env(table: &str) -> DynamoStore {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        DynamoStore::with_client(Client::new(&config), table)
    }

    /// A store on `table` through an existing client.
    pub fn with_client(client: Client, table: &str) -> DynamoStore {
        DynamoStore {
            table: Table {
                client,
                name: table.to_string(),
                usage: Arc::default(),
                offload: None,
                finish_after_commit: true,
                retention_secs: None,
                definitions: Arc::default(),
            },
        }
    }

    /// Items past DynamoDB's 400 KB item limit (or a transaction past its 4 MB) keep their
    /// large attributes (state, summary, history events, activity input) in `bucket`, read
    /// back transparently. Without a bucket such a write fails with a clear error.
    pub fn with_payload_bucket(mut self, client: S3Client, bucket: &str) -> DynamoStore {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(std::process::id().into());
        self.table.offload = Some(Arc::new(Offload {
            client,
            bucket: bucket.to_string(),
            nonce: AtomicU64::new(hasher.finish()),
            current: std::sync::Mutex::new(HashMap::new()),
        }));
        self
    }

    /// Closed executions expire `days` after their stop through the table's TTL (attribute
    /// `ttl`, epoch seconds; the template's `TimeToLiveSpecification`), as AWS keeps closed
    /// executions 90 days. The execution item gets it when it closes (a redrive rewrites the
    /// item without it); each history chunk gets one when written: its execution's start plus
    /// a year (the longest a Standard execution runs) and redrive's 14 days plus `days`, so
    /// a history never expires before its execution's item. 0 keeps everything.
    pub fn with_retention_days(mut self, days: u32) -> DynamoStore {
        self.table.retention_secs = (days > 0).then(|| i64::from(days) * 86_400);
        self
    }

    /// For tests: writes leave their pending work (see [`DynamoStore`]'s module
    /// documentation) to the next read, as a writer that died right after its write does.
    #[doc(hidden)]
    pub fn leaving_pending_work(mut self) -> DynamoStore {
        self.table.finish_after_commit = false;
        self
    }

    pub fn table_name(&self) -> &str {
        &self.table.name
    }

    pub fn client(&self) -> &Client {
        &self.table.client
    }

    /// The capacity this store (and its clones) consumed so far.
    pub fn usage(&self) -> &Usage {
        &self.table.usage
    }

    /// The size of each item an execution has in the table, as DynamoDB counts it for
    /// capacity (attribute names and values): its record, history chunks, timers and pending
    /// work. Payloads offloaded to the bucket are not counted (S3 bills them).
    pub async fn execution_item_sizes(&self, arn: &str) -> Result<Vec<u64>> {
        let table = &self.table;
        let pk = exec_pk(arn);
        {
            let mut sizes = Vec::new();
            let mut start: Option<Item> = None;
            loop {
                let out = table
                    .client
                    .query()
                    .table_name(&table.name)
                    .key_condition_expression("pk = :pk")
                    .expression_attribute_values(":pk", s(pk.clone()))
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(|e| sdk_backend("Query", e))?;
                sizes.extend(out.items().iter().map(|item| item_bytes(item) as u64));
                match out.last_evaluated_key() {
                    Some(k) if !k.is_empty() => start = Some(k.clone()),
                    _ => return Ok(sizes),
                }
            }
        }
    }

    /// The storage an execution takes in the table as DynamoDB bills it: its items' sizes
    /// plus 100 bytes of overhead each.
    pub async fn execution_storage_bytes(&self, arn: &str) -> Result<u64> {
        let sizes = self.execution_item_sizes(arn).await?;
        Ok(sizes.iter().sum::<u64>() + 100 * sizes.len() as u64)
    }

    /// Creates the table and its indexes (on-demand billing) and waits until it is active.
    /// For tests and local setups; deployments create it from `template.yaml`.
    pub async fn create_table(&self) -> Result<()> {
        self.table.create().await
    }
}

/// An S3 client for the payload bucket from an SDK configuration. With an endpoint override
/// (`AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`: an emulator) it addresses buckets by path,
/// since an emulator on a loopback address has no per-bucket host names.
pub fn s3_client(config: &aws_config::SdkConfig) -> S3Client {
    let overridden = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|v| !v.is_empty()));
    let s3 = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(overridden)
        .build();
    S3Client::from_conf(s3)
}

// ---------------------------------------------------------------------------------------
// Attribute helpers

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(Error::Backend(format!(
            "DynamoDB item lacks the string attribute {name}"
        ))),
    }
}

fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| Error::Backend(format!("DynamoDB attribute {name} is not a number: {v}"))),
        _ => Err(Error::Backend(format!(
            "DynamoDB item lacks the number attribute {name}"
        ))),
    }
}

fn get_json(item: &Item, name: &str) -> Result<serde_json::Value> {
    serde_json::from_str(get_s(item, name)?)
        .map_err(|e| Error::Backend(format!("DynamoDB attribute {name} is not JSON: {e}")))
}

/// Maps an i64 to a fixed-width string that sorts like the number (negative ones included).
fn ordered(v: i64) -> String {
    format!("{:020}", (v as u64) ^ (1 << 63))
}

/// Sorts newest first (larger start first), then by ARN, like the other adapters.
fn newest_first_key(start_ms: i64, arn: &str) -> String {
    let flipped = u64::MAX - ((start_ms as u64) ^ (1 << 63));
    format!("{flipped:020}#{arn}")
}

fn history_sk(first: u64) -> String {
    format!("H#{first:020}")
}

fn exec_pk(arn: &str) -> String {
    format!("EX#{arn}")
}

fn timer_key(t: &TimerRecord) -> (String, String) {
    (exec_pk(&t.execution_arn), format!("T#{:020}", t.timer_id))
}

fn timer_order(t: &TimerRecord) -> String {
    format!(
        "{}#{}#{:020}",
        ordered(t.fire_at_ms),
        t.execution_arn,
        t.timer_id
    )
}

fn activity_queue_sk(task: &ActivityTaskRecord) -> String {
    format!("{}#{}", ordered(task.created_ms), task.task_token)
}

fn name_of_arn(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

fn named_item(pk: &str, record: &StateMachineRecord, version: Version) -> Result<Item> {
    let mut item = key(pk, record.name.clone());
    item.insert("arn".into(), s(record.arn.clone()));
    item.insert("created".into(), n(record.created_ms));
    item.insert(
        "doc".into(),
        s(serde_json::to_string(&record.document).map_err(|e| backend("encode", e))?),
    );
    item.insert("version".into(), n(version));
    Ok(item)
}

fn named_record(item: &Item) -> Result<(StateMachineRecord, Version)> {
    Ok((
        StateMachineRecord {
            arn: get_s(item, "arn")?.to_string(),
            name: get_s(item, "sk")?.to_string(),
            created_ms: get_n(item, "created")?,
            document: get_json(item, "doc")?,
        },
        get_n(item, "version")?,
    ))
}

/// The longest history (events' bytes) an execution that starts and ends in one write keeps
/// inside its item ([`execution_item`]): beyond it a chunk item costs little next to the rest.
const INLINE_HISTORY_BYTES: usize = 16 * 1024;

/// The execution item. Summary, state and (`inline_history`, for an execution that starts
/// and ends in its first write) the whole history are deflated together in `xz`: the item is
/// written 2 units per KB in a transaction, and the confirmation of its status events 1 per
/// KB, so one small item instead of an item and a history chunk halves what such an
/// execution's write costs (the history shares the state's strings, so together they also
/// deflate smaller). `hi` (the last inline event's id) says the history is inline; the write
/// after it (a redrive) moves it to a chunk ([`Table::write_execution`]).
fn execution_item(
    record: &ExecutionRecord,
    version: Version,
    retention_secs: Option<i64>,
    inline_history: &[StoredEvent],
) -> Result<Item> {
    let mut item = key(exec_pk(&record.arn), EXEC_SK);
    item.insert("sm".into(), s(record.state_machine_arn.clone()));
    // The ARN ends with the name: kept only when it does not (fewer bytes in every write).
    if record.name != name_of_arn(&record.arn) {
        item.insert("name".into(), s(record.name.clone()));
    }
    item.insert("status".into(), s(record.status.clone()));
    item.insert("start".into(), n(record.start_ms));
    if let Some(stop) = record.stop_ms {
        item.insert("stop".into(), n(stop));
    }
    // The unsent-status mark is an attribute of its own (`us`), so confirming it is a small
    // update that leaves the summary (perhaps in S3) alone.
    let unsent = record
        .summary
        .get(UNSENT_STATUS)
        .filter(|marks| marks.as_array().is_some_and(|marks| !marks.is_empty()));
    let summary = match unsent {
        Some(marks) => {
            item.insert("us".into(), s(marks.to_string()));
            let mut summary = record.summary.clone();
            if let Some(fields) = summary.as_object_mut() {
                fields.remove(UNSENT_STATUS);
            }
            serde_json::to_vec(&summary)
        }
        None => serde_json::to_vec(&record.summary),
    }
    .map_err(|e| backend("encode", e))?;
    let history = match inline_history.last() {
        Some(last) => {
            item.insert("hi".into(), n(last.id));
            history_json(inline_history)
        }
        None => Vec::new(),
    };
    item.insert(
        "xz".into(),
        AttributeValue::B(Blob::new(pack_execution_body(
            &summary,
            &record.state,
            &history,
        )?)),
    );
    item.insert("version".into(), n(version));
    if let (Some(stop), Some(keep)) = (record.stop_ms, retention_secs) {
        item.insert("ttl".into(), n(stop.div_euclid(1000).saturating_add(keep)));
    }
    item.insert(
        "gs".into(),
        s(newest_first_key(record.start_ms, &record.arn)),
    );
    if record.status == RUNNING {
        item.insert(
            "gr".into(),
            s(format!("{RUNNING}#{}", index_shard(&record.arn))),
        );
    } else if unsent.is_some() {
        // A closed execution stays in the sparse index until its status events are confirmed
        // sent. Closed by a later write, under the key it had while running: the sweep's
        // pages of running executions find the mark as they find a running one's, and the
        // index (keys only) is not written, where moving the entry to other keys cost a
        // delete and a put. Closed in its first write, under the keys of
        // [`ExecutionStore::unsent_status_page`].
        let prefix = if version > 1 { RUNNING } else { UNSENT };
        item.insert(
            "gr".into(),
            s(format!("{prefix}#{}", index_shard(&record.arn))),
        );
    }
    Ok(item)
}

/// `xz`: the summary's JSON and the state, each after its length (4 bytes, little-endian),
/// then the inline history's JSON (nothing when the history is in chunks), deflated as one.
/// A body larger than the store reads back ([`MAX_INFLATED_BYTES`]) is refused here: written,
/// it would leave the execution unreadable (a 100,000-item Distributed Map whose children
/// run inside the parent reached it).
fn pack_execution_body(summary: &[u8], state: &[u8], history: &[u8]) -> Result<Vec<u8>> {
    let size = 8 + summary.len() + state.len() + history.len();
    if size > MAX_INFLATED_BYTES {
        return Err(Error::Backend(format!(
            "an execution's state and summary take {} MB, past the {} MB this store reads back",
            size / (1024 * 1024),
            MAX_INFLATED_BYTES / (1024 * 1024)
        )));
    }
    let mut raw = Vec::with_capacity(size);
    for part in [summary, state] {
        raw.extend_from_slice(&(part.len() as u32).to_le_bytes());
        raw.extend_from_slice(part);
    }
    raw.extend_from_slice(history);
    Ok(compress(&raw))
}

/// The summary's JSON, the state and the inline history's JSON of an `xz` attribute.
fn unpack_execution_body(packed: &[u8]) -> Result<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let raw = decompress(packed)?;
    let corrupt = || Error::Backend("an execution item's xz attribute is corrupt".into());
    let mut rest = raw.as_slice();
    let mut part = || -> Result<Vec<u8>> {
        let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(corrupt)?;
        let len = u32::from_le_bytes(*len) as usize;
        if tail.len() < len {
            return Err(corrupt());
        }
        let (bytes, tail) = tail.split_at(len);
        rest = tail;
        Ok(bytes.to_vec())
    };
    let summary = part()?;
    let state = part()?;
    Ok((summary, state, rest.to_vec()))
}

/// A history chunk's events as JSON: `[[id, body], ...]`.
fn history_json<'a>(events: impl IntoIterator<Item = &'a StoredEvent>) -> Vec<u8> {
    let pairs: Vec<(u64, &str)> = events
        .into_iter()
        .map(|e| (e.id, e.body.as_str()))
        .collect();
    serde_json::to_vec(&pairs).unwrap_or_default()
}

fn events_of_json(json: &[u8]) -> Result<Vec<StoredEvent>> {
    let pairs: Vec<(u64, String)> = serde_json::from_slice(json)
        .map_err(|e| Error::Backend(format!("malformed history chunk: {e}")))?;
    Ok(pairs
        .into_iter()
        .map(|(id, body)| StoredEvent { id, body })
        .collect())
}

/// The history an execution item keeps inline (empty when it has none).
fn inline_events(item: &Item) -> Result<Vec<StoredEvent>> {
    match (item.get("hi"), item.get("xz")) {
        (Some(_), Some(AttributeValue::B(packed))) => {
            events_of_json(&unpack_execution_body(packed.as_ref())?.2)
        }
        _ => Ok(Vec::new()),
    }
}

fn execution_record(item: &Item) -> Result<(ExecutionRecord, Version)> {
    // Items written before `xz` keep the summary as JSON text and the state in `stz` (or,
    // older still, `state`).
    let (mut summary, state) = match item.get("xz") {
        Some(AttributeValue::B(packed)) => {
            let (summary, state, _) = unpack_execution_body(packed.as_ref())?;
            let summary = serde_json::from_slice(&summary).map_err(|e| {
                Error::Backend(format!("DynamoDB execution summary is not JSON: {e}"))
            })?;
            (summary, state)
        }
        _ => {
            let state = match (item.get("stz"), item.get("state")) {
                (Some(AttributeValue::B(b)), _) => decompress(b.as_ref())?,
                (None, Some(AttributeValue::B(b))) => b.as_ref().to_vec(),
                _ => Vec::new(),
            };
            (get_json(item, "summary")?, state)
        }
    };
    let stop_ms = match item.get("stop") {
        Some(_) => Some(get_n(item, "stop")?),
        None => None,
    };
    if let (Some(AttributeValue::S(marks)), Some(fields)) =
        (item.get("us"), summary.as_object_mut())
    {
        let marks: serde_json::Value = serde_json::from_str(marks)
            .map_err(|e| Error::Backend(format!("DynamoDB attribute us is not JSON: {e}")))?;
        fields.insert(UNSENT_STATUS.into(), marks);
    }
    let arn = get_s(item, "pk")?
        .strip_prefix("EX#")
        .unwrap_or_default()
        .to_string();
    let name = match item.get("name") {
        Some(_) => get_s(item, "name")?.to_string(),
        None => name_of_arn(&arn).to_string(),
    };
    Ok((
        ExecutionRecord {
            arn,
            state_machine_arn: get_s(item, "sm")?.to_string(),
            name,
            status: get_s(item, "status")?.to_string(),
            start_ms: get_n(item, "start")?,
            stop_ms,
            summary,
            state,
        },
        get_n(item, "version")?,
    ))
}

/// A read of one sharded index: which index, its hash attribute and every partition key.
struct IndexQuery {
    index: &'static str,
    hash: &'static str,
    shards: Vec<String>,
    /// Timers only: the exclusive upper bound of `gf` (fire times up to a moment).
    upto: Option<String>,
}

impl IndexQuery {
    fn running() -> IndexQuery {
        IndexQuery {
            index: INDEX_RUNNING,
            hash: "gr",
            shards: shard_keys(RUNNING),
            upto: None,
        }
    }

    /// Closed executions whose status events are not confirmed sent: the running index's
    /// other keys.
    fn unsent() -> IndexQuery {
        IndexQuery {
            index: INDEX_RUNNING,
            hash: "gr",
            shards: (0..INDEX_SHARDS).map(|n| format!("{UNSENT}#{n}")).collect(),
            upto: None,
        }
    }

    fn timers(upto: Option<i64>) -> IndexQuery {
        IndexQuery {
            index: INDEX_TIMERS,
            hash: "gt",
            shards: shard_keys(TIMERS_PK),
            // Every sort key at `now` starts with ordered(now) followed by '#': '$' sorts after.
            upto: upto.map(|now| format!("{}$", ordered(now))),
        }
    }
}

/// Where a page through a sharded index stopped: the shard and, inside it, DynamoDB's
/// `LastEvaluatedKey` (whose attributes are all strings in this table).
fn encode_index_cursor(shard: usize, start: Option<&Item>) -> String {
    let key: serde_json::Map<String, serde_json::Value> = start
        .into_iter()
        .flatten()
        .filter_map(|(name, value)| match value {
            AttributeValue::S(text) => Some((name.clone(), serde_json::Value::from(text.clone()))),
            _ => None,
        })
        .collect();
    serde_json::json!({"shard": shard, "key": key}).to_string()
}

fn decode_index_cursor(text: &str) -> Result<(usize, Option<Item>)> {
    let bad = || Error::Backend(format!("malformed index cursor '{text}'"));
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| bad())?;
    let shard = value
        .get("shard")
        .and_then(serde_json::Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(bad)?;
    let key = value
        .get("key")
        .and_then(serde_json::Value::as_object)
        .ok_or_else(bad)?;
    if key.is_empty() {
        return Ok((shard, None));
    }
    let item = key
        .iter()
        .map(|(name, value)| Some((name.clone(), s(value.as_str()?))))
        .collect::<Option<Item>>()
        .ok_or_else(bad)?;
    Ok((shard, Some(item)))
}

fn timer_record(item: &Item) -> Result<TimerRecord> {
    Ok(TimerRecord {
        fire_at_ms: get_n(item, "fire")?,
        execution_arn: get_s(item, "arn")?.to_string(),
        timer_id: get_n(item, "timer")?,
    })
}

/// DynamoDB's size of an item: attribute names plus values (close enough for the margins
/// used: numbers are counted as their text).
fn item_bytes(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_bytes(value))
        .sum()
}

fn value_bytes(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) | AttributeValue::N(text) => text.len(),
        AttributeValue::B(bytes) => bytes.as_ref().len(),
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_bytes(v)).sum::<usize>(),
        AttributeValue::M(map) => 3 + item_bytes(map) + map.len(),
        _ => 1,
    }
}

/// The body of an offloaded item's object: each large attribute as name, kind (`S` or `B`),
/// length and bytes.
fn pack_attributes(attributes: &[(String, AttributeValue)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in attributes {
        let (kind, bytes): (u8, &[u8]) = match value {
            AttributeValue::S(text) => (b'S', text.as_bytes()),
            AttributeValue::B(blob) => (b'B', blob.as_ref()),
            _ => continue,
        };
        body.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
        body.extend_from_slice(name.as_bytes());
        body.push(kind);
        body.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        body.extend_from_slice(bytes);
    }
    body
}

fn unpack_attributes(mut body: &[u8]) -> Result<Vec<(String, AttributeValue)>> {
    let corrupt = || Error::Backend("an offloaded item's S3 object is corrupt".into());
    let take = |n: usize, body: &mut &[u8]| -> Result<Vec<u8>> {
        if body.len() < n {
            return Err(corrupt());
        }
        let (head, rest) = body.split_at(n);
        *body = rest;
        Ok(head.to_vec())
    };
    let mut attributes = Vec::new();
    while !body.is_empty() {
        let name_len = usize::from(take(1, &mut body)?[0]);
        let name = String::from_utf8(take(name_len, &mut body)?).map_err(|_| corrupt())?;
        let kind = take(1, &mut body)?[0];
        let len_bytes: [u8; 8] = take(8, &mut body)?.try_into().map_err(|_| corrupt())?;
        let len = usize::try_from(u64::from_le_bytes(len_bytes)).map_err(|_| corrupt())?;
        let bytes = take(len, &mut body)?;
        let value = match kind {
            b'S' => AttributeValue::S(String::from_utf8(bytes).map_err(|_| corrupt())?),
            b'B' => AttributeValue::B(Blob::new(bytes)),
            _ => return Err(corrupt()),
        };
        attributes.push((name, value));
    }
    Ok(attributes)
}

/// Largest inflated attribute accepted back: a guard against a corrupt or hostile item.
const MAX_INFLATED_BYTES: usize = 64 * 1024 * 1024;

fn compress(bytes: &[u8]) -> Vec<u8> {
    // Level 1 for large bodies: most of the size gain for a fraction of the time of the
    // higher levels. A small one takes microseconds at any level, and the higher one keeps
    // more items within a KB, the unit writes are billed by.
    let level = if bytes.len() <= 64 * 1024 { 6 } else { 1 };
    miniz_oxide::deflate::compress_to_vec(bytes, level)
}

fn decompress(bytes: &[u8]) -> Result<Vec<u8>> {
    miniz_oxide::inflate::decompress_to_vec_with_limit(bytes, MAX_INFLATED_BYTES)
        .map_err(|e| Error::Backend(format!("a compressed attribute is corrupt: {e}")))
}

/// Packs a write's history events into chunk items (usually one), deflated.
/// Seconds a history chunk outlives its execution's start beyond the retention: a Standard
/// execution's year and the 14 days in which it may be redriven.
const HISTORY_TTL_MARGIN_SECS: i64 = (365 + 14) * 86_400;

fn history_items(arn: &str, events: &[StoredEvent], ttl: Option<i64>) -> Vec<Item> {
    let mut items = Vec::new();
    let mut chunk: Vec<&StoredEvent> = Vec::new();
    let mut bytes = 0;
    let flush = |chunk: &mut Vec<&StoredEvent>, items: &mut Vec<Item>| {
        if let (Some(first), Some(last)) = (chunk.first(), chunk.last()) {
            let mut item = key(exec_pk(arn), history_sk(first.id));
            item.insert("first".into(), n(first.id));
            item.insert("last".into(), n(last.id));
            let json = history_json(chunk.iter().copied());
            item.insert("evz".into(), AttributeValue::B(Blob::new(compress(&json))));
            if let Some(ttl) = ttl {
                item.insert("ttl".into(), n(ttl));
            }
            items.push(item);
        }
        chunk.clear();
    };
    for event in events {
        if bytes + event.body.len() > CHUNK_BYTES && !chunk.is_empty() {
            flush(&mut chunk, &mut items);
            bytes = 0;
        }
        bytes += event.body.len();
        chunk.push(event);
    }
    flush(&mut chunk, &mut items);
    items
}

/// Adds a chunk's events that `q` asks for to `events`, in `q`'s order; true once `events`
/// holds `limit`.
fn page_of_chunk(
    mut chunk: Vec<StoredEvent>,
    q: &HistoryQuery,
    limit: usize,
    events: &mut Vec<StoredEvent>,
) -> bool {
    if q.reverse {
        chunk.reverse();
    }
    for event in chunk {
        let wanted = match (q.reverse, q.after_id) {
            (false, Some(after)) => event.id > after,
            (true, Some(before)) => event.id < before,
            _ => true,
        };
        if wanted {
            events.push(event);
            if events.len() == limit {
                return true;
            }
        }
    }
    false
}

fn chunk_events(item: &Item) -> Result<Vec<StoredEvent>> {
    if let Some(AttributeValue::B(packed)) = item.get("evz") {
        return events_of_json(&decompress(packed.as_ref())?);
    }
    let Some(AttributeValue::L(list)) = item.get("ev") else {
        return Err(Error::Backend("history chunk without events".into()));
    };
    list.iter()
        .map(|v| match v {
            AttributeValue::M(m) => Ok(StoredEvent {
                id: get_n(m, "i")?,
                body: get_s(m, "b")?.to_string(),
            }),
            _ => Err(Error::Backend("malformed history event".into())),
        })
        .collect()
}

/// What an attempt of an execution write did.
enum Written {
    Done(Version),
    /// Not written: the stored item (at the expected version) keeps its history inline, and
    /// must be rewritten with it in a chunk.
    InlineHistory(Item),
}

/// One operation of a transaction, keyed so a later operation on the same item replaces an
/// earlier one (DynamoDB rejects two operations on one item in a transaction).
enum Op {
    Put(Item),
    /// Put that fails the transaction unless the item exists (the pending-work item).
    PutExisting(Item),
    Delete,
    /// Delete that fails the transaction unless the item exists (a claim).
    DeleteExisting,
}

struct Ops {
    order: Vec<(String, String)>,
    ops: HashMap<(String, String), Op>,
}

impl Ops {
    fn new() -> Ops {
        Ops {
            order: Vec::new(),
            ops: HashMap::new(),
        }
    }

    fn add(&mut self, pk: String, sk: String, op: Op) {
        let k = (pk, sk);
        if !self.ops.contains_key(&k) {
            self.order.push(k.clone());
        }
        self.ops.insert(k, op);
    }

    fn put(&mut self, item: Item) -> Result<()> {
        let pk = get_s(&item, "pk")?.to_string();
        let sk = get_s(&item, "sk")?.to_string();
        self.add(pk, sk, Op::Put(item));
        Ok(())
    }

    /// The items this transaction puts, for [`Table::fit`].
    fn puts_mut(&mut self) -> Vec<&mut Item> {
        self.ops
            .values_mut()
            .filter_map(|op| match op {
                Op::Put(item) | Op::PutExisting(item) => Some(item),
                _ => None,
            })
            .collect()
    }

    /// Keeps at most `room` operations, the ones that must be atomic with the execution
    /// item first (conditional deletes, history chunks), and returns the others as JSON.
    fn split_overflow(&mut self, room: usize) -> Vec<serde_json::Value> {
        if self.order.len() <= room {
            return Vec::new();
        }
        let must = |k: &(String, String), op: &Op| {
            matches!(op, Op::DeleteExisting | Op::PutExisting(_)) || k.1.starts_with("H#")
        };
        let (mut keep, mut later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.order)
            .into_iter()
            .partition(|k| self.ops.get(k).is_some_and(|op| must(k, op)));
        let free = room.saturating_sub(keep.len());
        let moved = later.split_off(free.min(later.len()));
        keep.extend(later);
        self.order = keep;
        moved
            .into_iter()
            .filter_map(|k| {
                let op = self.ops.remove(&k)?;
                Some(match op {
                    Op::Put(item) => serde_json::json!({"put": item_json(&item)}),
                    _ => serde_json::json!({"delete": [k.0, k.1]}),
                })
            })
            .collect()
    }
}

/// An item as JSON, for the pending-work item (its attributes are strings, numbers and
/// binaries only).
fn item_json(item: &Item) -> serde_json::Value {
    item.iter()
        .filter_map(|(name, value)| {
            let v = match value {
                AttributeValue::S(text) => serde_json::json!({"S": text}),
                AttributeValue::N(text) => serde_json::json!({"N": text}),
                AttributeValue::B(blob) => {
                    serde_json::json!({"B": cairn_common::base64::encode(blob.as_ref())})
                }
                _ => return None,
            };
            Some((name.clone(), v))
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn item_from_json(value: &serde_json::Value) -> Result<Item> {
    let bad = || Error::Backend("a pending-work item holds a malformed item".into());
    let map = value.as_object().ok_or_else(bad)?;
    map.iter()
        .map(|(name, v)| {
            let attribute = if let Some(text) = v.get("S").and_then(|t| t.as_str()) {
                AttributeValue::S(text.to_string())
            } else if let Some(text) = v.get("N").and_then(|t| t.as_str()) {
                AttributeValue::N(text.to_string())
            } else if let Some(text) = v.get("B").and_then(|t| t.as_str()) {
                AttributeValue::B(Blob::new(cairn_common::base64::decode_lenient(
                    text,
                    cairn_common::base64::Lenient {
                        url_safe: false,
                        padding_ends_data: true,
                    },
                )))
            } else {
                return Err(bad());
            };
            Ok((name.clone(), attribute))
        })
        .collect()
}

/// The pending-work item of an execution: the effects one write could not fit in its
/// transaction, carried out right after it (by the writer, or by the next reader).
fn pending_item(arn: &str, ops: &[serde_json::Value]) -> Item {
    let mut item = key(exec_pk(arn), PEND_SK);
    item.insert(
        "ops".into(),
        s(serde_json::Value::from(ops.to_vec()).to_string()),
    );
    item
}

impl Table {
    fn put_builder(&self, item: Item) -> aws_sdk_dynamodb::types::builders::PutBuilder {
        Put::builder().table_name(&self.name).set_item(Some(item))
    }

    fn transact_items(&self, ops: Ops) -> Result<Vec<TransactWriteItem>> {
        let mut out = Vec::new();
        let Ops { order, mut ops } = ops;
        for k in order {
            let Some(op) = ops.remove(&k) else { continue };
            let item = match op {
                Op::Put(item) => TransactWriteItem::builder()
                    .put(
                        self.put_builder(item)
                            .build()
                            .map_err(|e| backend("put", e))?,
                    )
                    .build(),
                Op::PutExisting(item) => TransactWriteItem::builder()
                    .put(
                        self.put_builder(item)
                            .condition_expression("attribute_exists(pk)")
                            .build()
                            .map_err(|e| backend("put", e))?,
                    )
                    .build(),
                Op::Delete | Op::DeleteExisting => {
                    let mut delete = Delete::builder()
                        .table_name(&self.name)
                        .set_key(Some(key(k.0, k.1)));
                    if matches!(op, Op::DeleteExisting) {
                        delete = delete.condition_expression("attribute_exists(pk)");
                    }
                    TransactWriteItem::builder()
                        .delete(delete.build().map_err(|e| backend("delete", e))?)
                        .build()
                }
            };
            out.push(item);
        }
        Ok(out)
    }

    async fn get(&self, pk: String, sk: String) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_backend("GetItem", e))?;
        self.usage.read(out.consumed_capacity());
        Ok(out.item)
    }

    fn known_definitions(&self) -> Result<std::sync::MutexGuard<'_, Definitions>> {
        self.definitions
            .lock()
            .map_err(|_| Error::Backend("the definitions' memory is poisoned".into()))
    }

    async fn put_definition(&self, key: &str, text: &str) -> Result<bool> {
        {
            let known = self.known_definitions()?;
            if known.stored.contains(key) {
                return Ok(true);
            }
            if known.too_large.contains(key) {
                return Ok(false);
            }
        }
        let pk = format!("DEF#{key}");
        // A read first, not a conditional put: on a cold container the item is usually there
        // already (it is written once per definition), and a refused put is billed as a write
        // of the whole item, at twenty times a strong read's price per KB. The read is billed
        // by the item's size whatever it returns, so it asks for the key alone.
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .set_key(Some(crate::key(&pk, DEF_SK)))
            .projection_expression("pk")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_backend("GetItem", e))?;
        self.usage.read(out.consumed_capacity());
        if out.item.is_some_and(|item| !item.is_empty()) {
            self.known_definitions()?.remember(key);
            return Ok(true);
        }
        // Written once per definition, read once per cold container: worth deflate's best
        // level, which the per-write attributes leave for speed.
        let mut item = crate::key(&pk, DEF_SK);
        item.insert(
            "dz".into(),
            AttributeValue::B(Blob::new(miniz_oxide::deflate::compress_to_vec(
                text.as_bytes(),
                9,
            ))),
        );
        if item_bytes(&item) > ITEM_OFFLOAD_BYTES {
            self.known_definitions()?.too_large.insert(key.to_string());
            return Ok(false);
        }
        let result = self
            .client
            .put_item()
            .table_name(&self.name)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(out) => {
                self.usage.write(out.consumed_capacity());
                self.known_definitions()?.keep_text(key, Arc::from(text));
                Ok(true)
            }
            // Another container put it since the read: a key's text never changes, so it is
            // kept (the text at hand is not remembered: the stored one is the first put's).
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                self.usage.requests.fetch_add(1, Ordering::Relaxed);
                self.known_definitions()?.remember(key);
                Ok(true)
            }
            Err(err) => Err(sdk_backend("PutItem", err)),
        }
    }

    async fn get_definition(&self, key: &str) -> Result<Option<String>> {
        if let Some(text) = self.known_definitions()?.texts.get(key) {
            return Ok(Some(text.to_string()));
        }
        // Strongly consistent: the container that put it may have started the execution
        // this one advances a moment ago.
        let Some(item) = self.get(format!("DEF#{key}"), DEF_SK.into()).await? else {
            return Ok(None);
        };
        let text = match item.get("dz") {
            Some(AttributeValue::B(packed)) => String::from_utf8(decompress(packed.as_ref())?)
                .map_err(|_| Error::Backend(format!("the definition {key} is not UTF-8")))?,
            _ => {
                return Err(Error::Backend(format!(
                    "the definition item {key} has no text"
                )))
            }
        };
        self.known_definitions()?
            .keep_text(key, Arc::from(text.as_str()));
        Ok(Some(text))
    }

    async fn create(&self) -> Result<()> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| backend("CreateTable", e))
        };
        let key_el = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| backend("CreateTable", e))
        };
        let index = |name: &str, hash: &str, range: &str, projection: Projection| {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key_el(hash, KeyType::Hash)?)
                .key_schema(key_el(range, KeyType::Range)?)
                .projection(projection)
                .build()
                .map_err(|e| backend("CreateTable", e))
        };
        let only = |kind: ProjectionType| Projection::builder().projection_type(kind).build();
        let with_status = Projection::builder()
            .projection_type(ProjectionType::Include)
            .non_key_attributes("status")
            .build();
        let result = self
            .client
            .create_table()
            .table_name(&self.name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .attribute_definitions(attr("sm")?)
            .attribute_definitions(attr("gs")?)
            .attribute_definitions(attr("gr")?)
            .attribute_definitions(attr("gt")?)
            .attribute_definitions(attr("gf")?)
            .key_schema(key_el("pk", KeyType::Hash)?)
            .key_schema(key_el("sk", KeyType::Range)?)
            .global_secondary_indexes(index(INDEX_BY_MACHINE, "sm", "gs", with_status)?)
            .global_secondary_indexes(index(
                INDEX_RUNNING,
                "gr",
                "pk",
                only(ProjectionType::KeysOnly),
            )?)
            .global_secondary_indexes(index(INDEX_TIMERS, "gt", "gf", only(ProjectionType::All))?)
            .send()
            .await;
        if let Err(err) = result {
            let exists = err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception());
            if !exists {
                return Err(sdk_backend("CreateTable", err));
            }
        }
        for _ in 0..120 {
            let out = self
                .client
                .describe_table()
                .table_name(&self.name)
                .send()
                .await
                .map_err(|e| sdk_backend("DescribeTable", e))?;
            let active = out
                .table()
                .and_then(|t| t.table_status())
                .is_some_and(|s| *s == aws_sdk_dynamodb::types::TableStatus::Active);
            if active {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        Err(Error::Backend(format!(
            "table {} did not become active in 30 s",
            self.name
        )))
    }

    async fn create_named(&self, pk: &str, record: StateMachineRecord) -> Result<()> {
        let item = named_item(pk, &record, 1)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.name)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(out) => {
                self.usage.write(out.consumed_capacity());
                Ok(())
            }
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(Error::AlreadyExists(record.arn))
            }
            Err(err) => Err(sdk_backend("PutItem", err)),
        }
    }

    async fn get_named(
        &self,
        pk: &str,
        arn: String,
    ) -> Result<Option<(StateMachineRecord, Version)>> {
        let Some(item) = self.get(pk.into(), name_of_arn(&arn).into()).await? else {
            return Ok(None);
        };
        let (record, version) = named_record(&item)?;
        Ok((record.arn == arn).then_some((record, version)))
    }

    async fn delete_named(&self, pk: &str, arn: String) -> Result<bool> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.name)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .set_key(Some(key(pk, name_of_arn(&arn))))
            .condition_expression("arn = :arn")
            .expression_attribute_values(":arn", s(arn))
            .send()
            .await;
        match result {
            Ok(out) => {
                self.usage.write(out.consumed_capacity());
                Ok(true)
            }
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(sdk_backend("DeleteItem", err)),
        }
    }

    async fn list_named(
        &self,
        pk: &str,
        cursor: Option<String>,
        limit: usize,
    ) -> Result<Page<StateMachineRecord>> {
        let limit = limit.clamp(1, 1000);
        let mut query = self
            .client
            .query()
            .table_name(&self.name)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .consistent_read(true)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .expression_attribute_values(":pk", s(pk));
        query = match cursor {
            Some(after) => query
                .key_condition_expression("pk = :pk AND sk > :after")
                .expression_attribute_values(":after", s(after)),
            None => query.key_condition_expression("pk = :pk"),
        };
        let out = query.send().await.map_err(|e| sdk_backend("Query", e))?;
        self.usage.read(out.consumed_capacity());
        let mut items = out
            .items()
            .iter()
            .map(|item| named_record(item).map(|(r, _)| r))
            .collect::<Result<Vec<_>>>()?;
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if more {
            items.last().map(|r| r.name.clone())
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn update_state_machine(
        &self,
        record: StateMachineRecord,
        expected: Version,
    ) -> Result<Version> {
        let item = named_item(SM_PK, &record, expected + 1)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.name)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .set_item(Some(item))
            .condition_expression("arn = :arn AND version = :v")
            .expression_attribute_values(":arn", s(record.arn.clone()))
            .expression_attribute_values(":v", n(expected))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.usage.write(out.consumed_capacity());
                Ok(expected + 1)
            }
            Err(err) => match err.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(e)) => {
                    let same = e
                        .item()
                        .and_then(|old| get_s(old, "arn").ok())
                        .is_some_and(|arn| arn == record.arn);
                    if same {
                        Err(Error::Conflict(record.arn))
                    } else {
                        Err(Error::NotFound(record.arn))
                    }
                }
                _ => Err(sdk_backend("PutItem", err)),
            },
        }
    }

    /// Moves `item`'s large attributes into a new S3 object and names it in `s3`. Returns
    /// the object's key, or None when the item has nothing to move.
    async fn offload_item(&self, item: &mut Item) -> Result<Option<String>> {
        let size = item_bytes(item);
        let Some(offload) = &self.offload else {
            let pk = item
                .get("pk")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            return Err(Error::Backend(format!(
                "an item of {pk} needs {size} bytes, past DynamoDB's 400 KB item limit, and no \
                 payload bucket is configured (PAYLOAD_BUCKET) to hold it"
            )));
        };
        let large: Vec<(String, AttributeValue)> = LARGE_ATTRIBUTES
            .iter()
            .filter_map(|name| Some((name.to_string(), item.remove(*name)?)))
            .collect();
        if large.is_empty() {
            return Ok(None);
        }
        let pk = get_s(item, "pk")?;
        let sk = get_s(item, "sk")?;
        let hash = cairn_common::entropy::fnv1a(format!("{pk}\u{0}{sk}").as_bytes());
        let nonce = cairn_common::entropy::finalize(
            offload
                .nonce
                .fetch_add(cairn_common::entropy::GOLDEN_GAMMA, Ordering::Relaxed),
        );
        let key = format!("{}/{hash:016x}/{nonce:016x}", self.name);
        offload
            .client
            .put_object()
            .bucket(&offload.bucket)
            .key(&key)
            .body(aws_sdk_s3::primitives::ByteStream::from(pack_attributes(
                &large,
            )))
            .send()
            .await
            .map_err(|e| {
                Error::Backend(format!(
                    "S3 PutObject {}/{key}: {}",
                    offload.bucket,
                    aws_sdk_s3::error::DisplayErrorContext(e)
                ))
            })?;
        item.insert("s3".into(), s(key.clone()));
        Ok(Some(key))
    }

    /// Puts back the attributes an offloaded item keeps in S3. False when its object is gone:
    /// the item was replaced meanwhile (its writer deletes the old object), so read it again.
    async fn hydrate(&self, item: &mut Item) -> Result<bool> {
        let Some(AttributeValue::S(key)) = item.get("s3").cloned() else {
            return Ok(true);
        };
        let Some(offload) = &self.offload else {
            return Err(Error::Backend(format!(
                "an item keeps its payload in S3 ({key}) and no payload bucket is configured (PAYLOAD_BUCKET)"
            )));
        };
        let out = offload
            .client
            .get_object()
            .bucket(&offload.bucket)
            .key(&key)
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(false),
            Err(e) => {
                return Err(Error::Backend(format!(
                    "S3 GetObject {}/{key}: {}",
                    offload.bucket,
                    aws_sdk_s3::error::DisplayErrorContext(e)
                )))
            }
        };
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| Error::Backend(format!("S3 GetObject {key}: {e}")))?
            .into_bytes();
        for (name, value) in unpack_attributes(&body)? {
            item.insert(name, value);
        }
        item.remove("s3");
        Ok(true)
    }

    /// Deletes objects no item names any more. Best effort: a leftover costs storage only.
    async fn delete_objects(&self, keys: Vec<String>) {
        let Some(offload) = &self.offload else { return };
        for key in keys {
            let _ = offload
                .client
                .delete_object()
                .bucket(&offload.bucket)
                .key(&key)
                .send()
                .await;
        }
    }

    /// Fits a transaction's puts into DynamoDB's limits: every item over the item limit,
    /// then the largest ones while the whole is over the transaction limit, move their large
    /// attributes to S3. Returns the objects written.
    async fn fit(&self, items: &mut [&mut Item]) -> Result<Vec<String>> {
        let mut written = Vec::new();
        for item in items.iter_mut() {
            if item_bytes(item) > ITEM_OFFLOAD_BYTES {
                written.extend(self.offload_item(item).await?);
            }
        }
        loop {
            let total: usize = items.iter().map(|i| item_bytes(i)).sum();
            if total <= TRANSACTION_OFFLOAD_BYTES {
                return Ok(written);
            }
            let largest = items
                .iter_mut()
                .filter(|i| !i.contains_key("s3"))
                .max_by_key(|i| item_bytes(i));
            let Some(largest) = largest else {
                return Ok(written);
            };
            match self.offload_item(largest).await? {
                Some(key) => written.push(key),
                // Nothing movable in it: mark it so it is not picked again.
                None => return Ok(written),
            }
        }
    }

    /// Turns effects into operations. Claims and removals of queued activity tasks need the
    /// queue item's key, which only the token's lookup item knows: read it first.
    async fn effect_ops(&self, ops: &mut Ops, effects: &Effects) -> Result<()> {
        for token in &effects.activity_tasks_claim {
            let lookup = self.get(format!("ATT#{token}"), "ATT".into()).await?;
            let Some(lookup) = lookup else {
                return Err(Error::Conflict(format!(
                    "activity task {token} is no longer queued"
                )));
            };
            ops.add(
                get_s(&lookup, "qpk")?.into(),
                get_s(&lookup, "qsk")?.into(),
                Op::DeleteExisting,
            );
            ops.add(format!("ATT#{token}"), "ATT".into(), Op::DeleteExisting);
        }
        for token in &effects.activity_tasks_remove {
            if let Some(lookup) = self.get(format!("ATT#{token}"), "ATT".into()).await? {
                ops.add(
                    get_s(&lookup, "qpk")?.into(),
                    get_s(&lookup, "qsk")?.into(),
                    Op::Delete,
                );
                ops.add(format!("ATT#{token}"), "ATT".into(), Op::Delete);
            }
        }
        for timer in &effects.timers_remove {
            let (pk, sk) = timer_key(timer);
            ops.add(pk, sk, Op::Delete);
        }
        for timer in &effects.timers_add {
            let (pk, sk) = timer_key(timer);
            let mut item = key(pk, sk);
            item.insert(
                "gt".into(),
                s(format!("{TIMERS_PK}#{}", index_shard(&timer.execution_arn))),
            );
            item.insert("gf".into(), s(timer_order(timer)));
            item.insert("arn".into(), s(timer.execution_arn.clone()));
            item.insert("fire".into(), n(timer.fire_at_ms));
            item.insert("timer".into(), n(timer.timer_id));
            ops.put(item)?;
        }
        for task in &effects.activity_tasks_add {
            let qpk = format!("AT#{}", task.activity_arn);
            let qsk = activity_queue_sk(task);
            let mut item = key(qpk.clone(), qsk.clone());
            item.insert("activity".into(), s(task.activity_arn.clone()));
            item.insert("token".into(), s(task.task_token.clone()));
            item.insert("arn".into(), s(task.execution_arn.clone()));
            item.insert("task".into(), n(task.task_id));
            item.insert("input".into(), s(task.input.clone()));
            item.insert("created".into(), n(task.created_ms));
            ops.put(item)?;
            let mut lookup = key(format!("ATT#{}", task.task_token), "ATT");
            lookup.insert("qpk".into(), s(qpk));
            lookup.insert("qsk".into(), s(qsk));
            ops.put(lookup)?;
        }
        for token in &effects.tokens_remove {
            ops.add(format!("TT#{token}"), "TT".into(), Op::Delete);
        }
        for token in &effects.tokens_add {
            let mut item = key(format!("TT#{}", token.token), "TT");
            item.insert("arn".into(), s(token.execution_arn.clone()));
            item.insert("task".into(), n(token.task_id));
            ops.put(item)?;
        }
        Ok(())
    }

    /// Writes an execution item (conditionally), its history and its effects in one
    /// transaction. `expected` is None for a create. An execution that starts and ends in
    /// this write keeps its history in its item ([`execution_item`]); a later write of one
    /// that did (a redrive) finds out from its condition and writes again with that history
    /// moved to a chunk, so a Put never drops it.
    async fn write_execution(
        &self,
        record: ExecutionRecord,
        expected: Option<Version>,
        history: Vec<StoredEvent>,
        effects: Effects,
    ) -> Result<Version> {
        let guard = expected.is_some();
        match self
            .write_execution_once(&record, expected, &history, &effects, guard)
            .await?
        {
            Written::Done(version) => Ok(version),
            Written::InlineHistory(old) => {
                let mut all = inline_events(&old)?;
                all.extend(history);
                match self
                    .write_execution_once(&record, expected, &all, &effects, false)
                    .await?
                {
                    Written::Done(version) => Ok(version),
                    Written::InlineHistory(_) => Err(Error::Backend(format!(
                        "{}: the inline history could not be moved",
                        record.arn
                    ))),
                }
            }
        }
    }

    /// One attempt of [`Table::write_execution`]. `guard`: fail (answering the item) if the
    /// stored item keeps its history inline.
    async fn write_execution_once(
        &self,
        record: &ExecutionRecord,
        expected: Option<Version>,
        history: &[StoredEvent],
        effects: &Effects,
        guard: bool,
    ) -> Result<Written> {
        let version = expected.map_or(1, |v| v + 1);
        let mut ops = Ops::new();
        let history_ttl = self.retention_secs.map(|keep| {
            record
                .start_ms
                .div_euclid(1000)
                .saturating_add(HISTORY_TTL_MARGIN_SECS)
                .saturating_add(keep)
        });
        // Started and ended here: no later transition rewrites the item (only a redrive).
        let inline = expected.is_none()
            && record.status != RUNNING
            && history.iter().map(|e| e.body.len() + 24).sum::<usize>() <= INLINE_HISTORY_BYTES;
        if !inline {
            for item in history_items(&record.arn, history, history_ttl) {
                ops.put(item)?;
            }
        }
        self.effect_ops(&mut ops, effects).await?;
        let inline_history = if inline { history } else { &[] };
        let mut exec_item = execution_item(record, version, self.retention_secs, inline_history)?;
        // Past a transaction's 100 items (a Map starting hundreds of timers or callbacks at
        // once), the effects that need not be atomic with the state wait in a pending-work
        // item written in the transaction and are carried out right after it.
        let overflow = ops.split_overflow(MAX_TRANSACTION_ITEMS - 2);
        if !overflow.is_empty() {
            exec_item.insert("pend".into(), n(version));
            ops.put(pending_item(&record.arn, &overflow))?;
        }
        let written = {
            let mut puts = ops.puts_mut();
            puts.push(&mut exec_item);
            self.fit(&mut puts).await?
        };
        let exec_object = exec_item.get("s3").and_then(|v| v.as_s().ok()).cloned();
        let result = self
            .transact_execution(record, expected, version, exec_item, ops, guard)
            .await;
        match &result {
            Ok(Written::Done(_)) => {
                self.replaced_object(&record.arn, expected, version, exec_object)
                    .await;
                if !overflow.is_empty() && self.finish_after_commit {
                    // A failure here is not the write's: the next read finishes the work.
                    let _ = self.finish_pending(&record.arn).await;
                }
            }
            // Cancelled: nothing was written, so nothing names the new objects.
            Ok(Written::InlineHistory(_))
            | Err(Error::Conflict(_) | Error::AlreadyExists(_) | Error::NotFound(_)) => {
                self.delete_objects(written).await
            }
            Err(_) => {}
        }
        result
    }

    /// Carries out an execution's pending work ([`pending_item`]) in transactions of up to
    /// 100 operations, each also replacing the pending item by what is left (or deleting it)
    /// on condition that it still exists. Once one finisher has done the last part, another's
    /// later parts fail their condition and write nothing; and no transition can come between
    /// (every writer reads the execution first, and a read finishes the work), so a part
    /// applied twice puts and deletes the same items again, and nothing that a later
    /// transition changed.
    async fn finish_pending(&self, arn: &str) -> Result<()> {
        let pk = exec_pk(arn);
        let mut cancelled_parts = 0;
        while cancelled_parts < 16 {
            let Some(mut pending) = self.get(pk.clone(), PEND_SK.into()).await? else {
                return Ok(());
            };
            let object = pending.get("s3").and_then(|v| v.as_s().ok()).cloned();
            if !self.hydrate(&mut pending).await? {
                cancelled_parts += 1;
                continue;
            }
            let ops: Vec<serde_json::Value> = serde_json::from_str(get_s(&pending, "ops")?)
                .map_err(|e| Error::Backend(format!("{arn}: malformed pending work: {e}")))?;
            let (now, rest) = ops.split_at(ops.len().min(MAX_TRANSACTION_ITEMS - 1));
            let mut batch = Ops::new();
            for op in now {
                let delete = op.get("delete").and_then(|d| d.as_array()).map(|d| {
                    (
                        d.first().and_then(|v| v.as_str()),
                        d.get(1).and_then(|v| v.as_str()),
                    )
                });
                if let Some(put) = op.get("put") {
                    batch.put(item_from_json(put)?)?;
                } else if let Some((Some(dpk), Some(dsk))) = delete {
                    batch.add(dpk.to_string(), dsk.to_string(), Op::Delete);
                } else {
                    return Err(Error::Backend(format!(
                        "{arn}: malformed pending operation {op}"
                    )));
                }
            }
            let last = if rest.is_empty() {
                Op::DeleteExisting
            } else {
                Op::PutExisting(pending_item(arn, rest))
            };
            batch.add(pk.clone(), PEND_SK.into(), last);
            let written = self.fit(&mut batch.puts_mut()).await?;
            let items = self.transact_items(batch)?;
            let result = self
                .client
                .transact_write_items()
                .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
                .set_transact_items(Some(items))
                .send()
                .await;
            match result {
                Ok(out) => {
                    self.usage.write_transaction(out.consumed_capacity());
                    self.delete_objects(object.into_iter().collect()).await;
                    if rest.is_empty() {
                        return Ok(());
                    }
                }
                Err(err) => {
                    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError as E;
                    let cancelled = matches!(
                        err.as_service_error(),
                        Some(E::TransactionCanceledException(_))
                    );
                    if !cancelled {
                        return Err(sdk_backend("TransactWriteItems", err));
                    }
                    // Another finisher got there first (or is racing): read again.
                    cancelled_parts += 1;
                    self.delete_objects(written).await;
                }
            }
        }
        Err(Error::Backend(format!(
            "{arn}: its pending work did not finish"
        )))
    }

    /// After a committed write: deletes the object of the execution version it replaced
    /// (when this store read or wrote that version) and remembers the new one.
    async fn replaced_object(
        &self,
        arn: &str,
        expected: Option<Version>,
        version: Version,
        object: Option<String>,
    ) {
        let Some(offload) = &self.offload else { return };
        let old = {
            let Ok(mut current) = offload.current.lock() else {
                return;
            };
            let old = current.remove(arn);
            if let Some(key) = object {
                if current.len() >= 10_000 {
                    current.clear();
                }
                current.insert(arn.to_string(), (version, key));
            }
            old
        };
        if let (Some(expected), Some((old_version, old_key))) = (expected, old) {
            if old_version == expected {
                self.delete_objects(vec![old_key]).await;
            }
        }
    }

    /// The transaction of [`Table::write_execution`]: the execution item first (its
    /// condition's failure is reported by position), then the other operations.
    async fn transact_execution(
        &self,
        record: &ExecutionRecord,
        expected: Option<Version>,
        version: Version,
        exec_item: Item,
        ops: Ops,
        guard: bool,
    ) -> Result<Written> {
        let (condition, expected_value) = match expected {
            None => ("attribute_not_exists(pk)", None),
            Some(v) if guard => ("version = :v AND attribute_not_exists(hi)", Some(n(v))),
            Some(v) => ("version = :v", Some(n(v))),
        };
        if ops.order.is_empty() {
            return self
                .put_execution(
                    record,
                    expected,
                    version,
                    exec_item,
                    condition,
                    expected_value,
                    guard,
                )
                .await;
        }
        let mut items = self.transact_items(ops)?;
        let mut put = self
            .put_builder(exec_item)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .condition_expression(condition);
        if let Some(value) = expected_value {
            put = put.expression_attribute_values(":v", value);
        }
        let put = put.build().map_err(|e| backend("put", e))?;
        // The execution item goes first: cancellation reasons are reported by position.
        items.insert(0, TransactWriteItem::builder().put(put).build());
        if items.len() > MAX_TRANSACTION_ITEMS {
            return Err(Error::Backend(format!(
                "one transition of {} needs {} DynamoDB writes; a transaction holds at most {MAX_TRANSACTION_ITEMS}",
                record.arn,
                items.len()
            )));
        }
        let result = self
            .client
            .transact_write_items()
            .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
            .set_transact_items(Some(items))
            .send()
            .await;
        let err = match result {
            Ok(out) => {
                self.usage.write_transaction(out.consumed_capacity());
                return Ok(Written::Done(version));
            }
            Err(err) => err,
        };
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError as E;
        match err.as_service_error() {
            Some(E::TransactionCanceledException(e)) => {
                let reasons = e.cancellation_reasons();
                let first = reasons.first();
                let exec_failed = first
                    .and_then(|r| r.code())
                    .is_some_and(|c| c == "ConditionalCheckFailed");
                if exec_failed {
                    let old = first.and_then(|r| r.item());
                    return self.refused(record, expected, old, guard).await;
                }
                let codes: Vec<&str> = reasons.iter().filter_map(|r| r.code()).collect();
                if codes
                    .iter()
                    .any(|c| *c == "ConditionalCheckFailed" || *c == "TransactionConflict")
                {
                    return Err(Error::Conflict(format!(
                        "{}: transaction cancelled ({})",
                        record.arn,
                        codes.join(", ")
                    )));
                }
                Err(sdk_backend("TransactWriteItems", err))
            }
            _ => Err(sdk_backend("TransactWriteItems", err)),
        }
    }

    /// [`Table::transact_execution`] of a write whose only item is the execution's: one
    /// `PutItem` under the same condition. A single-item write is as atomic either way, and
    /// DynamoDB bills a transaction's item twice (2 write units per KB), a put once: an
    /// execution that starts and ends in its first write (its history inline, no effects)
    /// costs half.
    #[allow(clippy::too_many_arguments)]
    async fn put_execution(
        &self,
        record: &ExecutionRecord,
        expected: Option<Version>,
        version: Version,
        exec_item: Item,
        condition: &str,
        expected_value: Option<AttributeValue>,
        guard: bool,
    ) -> Result<Written> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(exec_item))
            .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .condition_expression(condition);
        if let Some(value) = expected_value {
            put = put.expression_attribute_values(":v", value);
        }
        let err = match put.send().await {
            Ok(out) => {
                self.usage.write(out.consumed_capacity());
                return Ok(Written::Done(version));
            }
            Err(err) => err,
        };
        use aws_sdk_dynamodb::operation::put_item::PutItemError as E;
        match err.as_service_error() {
            Some(E::ConditionalCheckFailedException(e)) => {
                let old = e.item().cloned();
                self.refused(record, expected, old.as_ref(), guard).await
            }
            _ => Err(sdk_backend("PutItem", err)),
        }
    }

    /// What a write refused by the execution item's condition means, from the item as stored
    /// (when DynamoDB returned it): an inline history to move first ([`Written::InlineHistory`]),
    /// an execution that exists (a create) or is missing, or a lost race.
    async fn refused(
        &self,
        record: &ExecutionRecord,
        expected: Option<Version>,
        old: Option<&Item>,
        guard: bool,
    ) -> Result<Written> {
        if let (Some(v), Some(old)) = (expected, old) {
            let same = get_n::<u64>(old, "version").is_ok_and(|o| o == v);
            if guard && same && old.contains_key("hi") {
                let mut old = old.clone();
                if !self.hydrate(&mut old).await? {
                    return Err(Error::Conflict(format!(
                        "{}: replaced while written",
                        record.arn
                    )));
                }
                return Ok(Written::InlineHistory(old));
            }
        }
        Err(match (expected, old) {
            (None, _) => Error::AlreadyExists(record.arn.clone()),
            (Some(_), None) => Error::NotFound(record.arn.clone()),
            (Some(v), Some(old)) => Error::Conflict(format!(
                "{} is at version {}, not {v}",
                record.arn,
                get_n::<u64>(old, "version").unwrap_or(0)
            )),
        })
    }

    /// [`ExecutionStore::put_closed_executions`]: each record one unconditional put of its
    /// execution item, 25 to a `BatchWriteItem`, [`BATCH_WRITERS`] requests under way. The
    /// port's default (one conditional create each, then a read and a conditional replace
    /// when the child exists) cost a transaction per child, each billed double.
    ///
    /// BatchWriteItem carries no condition, and these records need none. They are closed
    /// children of an ended Map Run, written before the parent's write that drops them from
    /// its state, and a retry of that decision (a lost race, a crash between the two writes)
    /// writes the same records again: a put of an equal record leaves the item as it was. A
    /// changed record (a redriven run's child) replaces its item, as the default's replace
    /// did. What the default's conditions added is only the version number, and nothing
    /// reads it here: a child has no state to advance, is never redriven itself (only through
    /// its parent) and carries no unsent status marks, so no writer ever commits a transition
    /// on the version it read; every child item is at version 1. Nor do the conditions order
    /// racing writers: the default's replace was conditional on the version it had just read,
    /// so a late writer of an older copy won there as it wins here. The records are never an
    /// execution's live item (children that ran as executions of their own are not passed
    /// here), so no inline history (`hi`) or pending work is overwritten. An item past
    /// DynamoDB's limit moves its large attributes to S3 first, as every write does; writing
    /// an equal offloaded child again leaves its earlier object unnamed (storage only).
    async fn put_closed_executions(&self, records: &[ExecutionRecord]) -> Result<()> {
        // One BatchWriteItem refuses two puts of one key: the last copy is the one the
        // default's writes one after another would have left.
        let last: HashMap<&str, usize> = records
            .iter()
            .enumerate()
            .map(|(i, record)| (record.arn.as_str(), i))
            .collect();
        let mut items = Vec::with_capacity(last.len());
        for (i, record) in records.iter().enumerate() {
            if last.get(record.arn.as_str()) != Some(&i) {
                continue;
            }
            let mut item = execution_item(record, 1, self.retention_secs, &[])?;
            if item_bytes(&item) > ITEM_OFFLOAD_BYTES {
                self.offload_item(&mut item).await?;
            }
            items.push(item);
        }
        let mut batches = Vec::new();
        while !items.is_empty() {
            let rest = items.split_off(items.len().min(MAX_BATCH_WRITE_ITEMS));
            batches.push(std::mem::replace(&mut items, rest));
        }
        all_bounded(
            batches.into_iter().map(|batch| self.batch_put(batch)),
            BATCH_WRITERS,
        )
        .await
    }

    /// Puts up to 25 items in one BatchWriteItem, asking again for the ones DynamoDB leaves
    /// unprocessed (a throttled partition) after a jittered, doubling wait.
    async fn batch_put(&self, items: Vec<Item>) -> Result<()> {
        let mut pending = items
            .into_iter()
            .map(|item| {
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| backend("BatchWriteItem", e))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>>>()?;
        let mut wait_ms = BATCH_BACKOFF_FIRST_MS;
        for attempt in 1..=BATCH_ATTEMPTS {
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.name, pending)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| sdk_backend("BatchWriteItem", e))?;
            self.usage.write_all(out.consumed_capacity());
            pending = out
                .unprocessed_items
                .and_then(|mut left| left.remove(&self.name))
                .unwrap_or_default();
            if pending.is_empty() {
                return Ok(());
            }
            if attempt < BATCH_ATTEMPTS {
                // Half the wait plus up to as much again at random, so racing writers spread.
                let jitter = std::collections::hash_map::RandomState::new()
                    .build_hasher()
                    .finish()
                    % (wait_ms / 2 + 1);
                tokio::time::sleep(std::time::Duration::from_millis(wait_ms / 2 + jitter)).await;
                wait_ms = (wait_ms * 2).min(BATCH_BACKOFF_MAX_MS);
            }
        }
        Err(Error::Backend(format!(
            "DynamoDB BatchWriteItem left {} items unprocessed after {BATCH_ATTEMPTS} requests",
            pending.len()
        )))
    }

    async fn get_execution(&self, arn: String) -> Result<Option<(ExecutionRecord, Version)>> {
        // An offloaded item's object disappears when a writer replaces the item: read again.
        for _ in 0..5 {
            let Some(mut item) = self.get(exec_pk(&arn), EXEC_SK.into()).await? else {
                return Ok(None);
            };
            if item.contains_key("pend") {
                // The last write left work to finish (it may have died before): finish it
                // before anyone writes on top of it.
                self.finish_pending(&arn).await?;
            }
            let object = item.get("s3").and_then(|v| v.as_s().ok()).cloned();
            if !self.hydrate(&mut item).await? {
                continue;
            }
            let (record, version) = execution_record(&item)?;
            if let (Some(key), Some(offload)) = (object, &self.offload) {
                if let Ok(mut current) = offload.current.lock() {
                    if current.len() >= 10_000 {
                        current.clear();
                    }
                    current.insert(arn.clone(), (version, key));
                }
            }
            return Ok(Some((record, version)));
        }
        Err(Error::Backend(format!(
            "{arn}: its S3 payload was replaced under every read"
        )))
    }

    async fn list_executions(&self, query: ExecutionQuery) -> Result<Page<ExecutionRecord>> {
        let limit = query.limit.clamp(1, 1000);
        let mut start_key = match &query.cursor {
            Some(cursor) => {
                let (start_ms, arn) = parse_execution_cursor(cursor)?;
                let mut k = key(exec_pk(&arn), EXEC_SK);
                k.insert("sm".into(), s(query.state_machine_arn.clone()));
                k.insert("gs".into(), s(newest_first_key(start_ms, &arn)));
                Some(k)
            }
            None => None,
        };
        // One index by state machine; a status filter reads on until it has a page. (A
        // second index by status would cost two more index writes per status change.)
        let mut keys = Vec::new();
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.name)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .index_name(INDEX_BY_MACHINE)
                .key_condition_expression("sm = :h")
                .expression_attribute_values(":h", s(query.state_machine_arn.clone()))
                .set_exclusive_start_key(start_key.take())
                .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX));
            if let Some(status) = &query.status {
                request = request
                    .filter_expression("#st = :st")
                    .expression_attribute_names("#st", "status")
                    .expression_attribute_values(":st", s(status.clone()));
            }
            let out = request.send().await.map_err(|e| sdk_backend("Query", e))?;
            self.usage.read(out.consumed_capacity());
            for item in out.items() {
                keys.push(get_s(item, "pk")?.to_string());
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() && keys.len() <= limit => start_key = Some(k.clone()),
                _ => break,
            }
        }
        // The index holds keys and status only (an index write then costs one unit, whatever
        // the state's size): the page's records come from the table.
        let more = keys.len() > limit;
        keys.truncate(limit);
        let mut by_pk = self.batch_get_executions(&keys).await?;
        let items: Vec<ExecutionRecord> = keys.iter().filter_map(|pk| by_pk.remove(pk)).collect();
        let next = match items.last() {
            Some(last) if more => Some(execution_cursor(last.start_ms, &last.arn)),
            _ => None,
        };
        Ok(Page { items, next })
    }

    /// Execution records by table key (`EX#<arn>`), read consistently in batches of 100.
    async fn batch_get_executions(
        &self,
        pks: &[String],
    ) -> Result<HashMap<String, ExecutionRecord>> {
        let mut found = HashMap::new();
        for batch in pks.chunks(100) {
            let mut pending: Vec<Item> = batch.iter().map(|pk| key(pk.clone(), EXEC_SK)).collect();
            // UnprocessedKeys come back under throttling: ask again for those.
            for _ in 0..10 {
                if pending.is_empty() {
                    break;
                }
                let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| backend("BatchGetItem", e))?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.name, request)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map_err(|e| sdk_backend("BatchGetItem", e))?;
                self.usage.read_all(out.consumed_capacity());
                for item in out
                    .responses()
                    .and_then(|r| r.get(&self.name))
                    .into_iter()
                    .flatten()
                {
                    let pk = get_s(item, "pk")?.to_string();
                    let mut item = item.clone();
                    if self.hydrate(&mut item).await? {
                        found.insert(pk, execution_record(&item)?.0);
                    } else if let Some(arn) = pk.strip_prefix("EX#") {
                        // Replaced since the batch read it: read it alone.
                        if let Some((record, _)) = self.get_execution(arn.to_string()).await? {
                            found.insert(pk, record);
                        }
                    }
                }
                if let Some(left) = out.unprocessed_keys().and_then(|u| u.get(&self.name)) {
                    pending = left.keys().to_vec();
                }
            }
            if !pending.is_empty() {
                return Err(Error::Backend(
                    "BatchGetItem kept leaving keys unprocessed".into(),
                ));
            }
        }
        Ok(found)
    }

    /// Up to `limit` items of a sharded index from where `cursor` stopped, shard after shard;
    /// the cursor of the rest, if any. Each shard is read in DynamoDB's pages, so no request
    /// returns more than `limit` items.
    async fn index_page(
        &self,
        query: &IndexQuery,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Item>, Option<String>)> {
        let limit = limit.clamp(1, 1000);
        let (mut shard, mut start) = match cursor {
            Some(text) => decode_index_cursor(text)?,
            None => (0, None),
        };
        let mut items = Vec::new();
        while shard < query.shards.len() && items.len() < limit {
            let (found, last) = self
                .query_shard(query, shard, start.take(), limit - items.len())
                .await?;
            items.extend(found);
            match last {
                Some(k) => start = Some(k),
                None => shard += 1,
            }
        }
        let next = (shard < query.shards.len()).then(|| encode_index_cursor(shard, start.as_ref()));
        Ok((items, next))
    }

    /// One DynamoDB page of one shard: its items and where it stopped (None at the end).
    async fn query_shard(
        &self,
        query: &IndexQuery,
        shard: usize,
        start: Option<Item>,
        limit: usize,
    ) -> Result<(Vec<Item>, Option<Item>)> {
        let mut request = self
            .client
            .query()
            .table_name(&self.name)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .index_name(query.index)
            .expression_attribute_names("#h", query.hash)
            .expression_attribute_values(":h", s(query.shards[shard].clone()))
            .set_exclusive_start_key(start)
            .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000));
        request = match &query.upto {
            Some(upto) => request
                .key_condition_expression("#h = :h AND gf < :upto")
                .expression_attribute_values(":upto", s(upto.clone())),
            None => request.key_condition_expression("#h = :h"),
        };
        let out = request.send().await.map_err(|e| sdk_backend("Query", e))?;
        self.usage.read(out.consumed_capacity());
        let last = out.last_evaluated_key().filter(|k| !k.is_empty()).cloned();
        Ok((out.items().to_vec(), last))
    }

    async fn running_executions_page(
        &self,
        cursor: Option<String>,
        limit: usize,
    ) -> Result<Page<String>> {
        self.arn_page(IndexQuery::running(), cursor, limit).await
    }

    /// One page of the executions an index lists, as ARNs.
    async fn arn_page(
        &self,
        query: IndexQuery,
        cursor: Option<String>,
        limit: usize,
    ) -> Result<Page<String>> {
        let (items, next) = self.index_page(&query, cursor.as_deref(), limit).await?;
        let mut arns = Vec::new();
        for item in &items {
            if let Some(arn) = get_s(item, "pk")?.strip_prefix("EX#") {
                arns.push(arn.to_string());
            }
        }
        Ok(Page { items: arns, next })
    }

    /// Removes the unsent-status mark (and, for a closed execution, its place in the running
    /// index) if the item is still at `version`: one small conditional update, no new version
    /// (the next write, which rebuilds the item from a read, decides its own mark).
    async fn confirm_status_sent(
        &self,
        record: &ExecutionRecord,
        version: Version,
    ) -> Result<bool> {
        let update = if record.status == RUNNING {
            "REMOVE us"
        } else {
            "REMOVE us, gr"
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .set_key(Some(key(exec_pk(&record.arn), EXEC_SK)))
            .update_expression(update)
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(version))
            .send()
            .await;
        match result {
            Ok(out) => {
                self.usage.write(out.consumed_capacity());
                Ok(true)
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_backend("UpdateItem", e)),
        }
    }

    async fn running_executions(&self) -> Result<Vec<String>> {
        let mut arns = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.running_executions_page(cursor, 1000).await?;
            arns.extend(page.items);
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        arns.sort();
        Ok(arns)
    }

    async fn due_timers_page(
        &self,
        now: i64,
        cursor: Option<String>,
        limit: usize,
    ) -> Result<Page<TimerRecord>> {
        let (items, next) = self
            .index_page(&IndexQuery::timers(Some(now)), cursor.as_deref(), limit)
            .await?;
        let items = items.iter().map(timer_record).collect::<Result<Vec<_>>>()?;
        Ok(Page { items, next })
    }

    /// The earliest `limit` timers (due at `upto`, if given) over every shard: each shard's
    /// earliest, merged.
    async fn timers(&self, upto: Option<i64>, limit: usize) -> Result<Vec<TimerRecord>> {
        let limit = limit.clamp(1, 1000);
        let query = IndexQuery::timers(upto);
        let mut found: Vec<(String, TimerRecord)> = Vec::new();
        for shard in 0..query.shards.len() {
            let (items, _) = self.query_shard(&query, shard, None, limit).await?;
            for item in items {
                found.push((get_s(&item, "gf")?.to_string(), timer_record(&item)?));
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found.truncate(limit);
        Ok(found.into_iter().map(|(_, timer)| timer).collect())
    }

    /// Reads history chunks in one direction from `from` (inclusive bound on sk) and keeps
    /// the events `keep` accepts, up to `limit`.
    async fn read_history(&self, arn: String, q: HistoryQuery) -> Result<Vec<StoredEvent>> {
        let limit = q.limit.max(1);
        let pk = exec_pk(&arn);
        let (low, high) = match (q.reverse, q.after_id) {
            (false, Some(after)) => {
                // The chunk holding `after + 1` may start at or before `after`.
                let first = self
                    .client
                    .query()
                    .table_name(&self.name)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .consistent_read(true)
                    .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
                    .expression_attribute_values(":pk", s(pk.clone()))
                    .expression_attribute_values(":lo", s("H#"))
                    .expression_attribute_values(":hi", s(history_sk(after)))
                    .scan_index_forward(false)
                    .limit(1)
                    .send()
                    .await
                    .map_err(|e| sdk_backend("Query", e))?;
                self.usage.read(first.consumed_capacity());
                let low = match first.items().first() {
                    Some(item) => get_s(item, "sk")?.to_string(),
                    None => "H#".to_string(),
                };
                (low, "H#~".to_string())
            }
            (true, Some(before)) => ("H#".to_string(), history_sk(before)),
            _ => ("H#".to_string(), "H#~".to_string()),
        };
        let mut events = Vec::new();
        let mut start: Option<Item> = None;
        let mut chunks = 0usize;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.name)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .consistent_read(true)
                .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":lo", s(low.clone()))
                .expression_attribute_values(":hi", s(high.clone()))
                .scan_index_forward(!q.reverse)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_backend("Query", e))?;
            self.usage.read(out.consumed_capacity());
            for item in out.items() {
                chunks += 1;
                let mut item = item.clone();
                if !self.hydrate(&mut item).await? {
                    return Err(Error::Backend(format!(
                        "a history chunk of {arn} names an S3 object that is gone"
                    )));
                }
                if page_of_chunk(chunk_events(&item)?, &q, limit, &mut events) {
                    return Ok(events);
                }
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        if chunks == 0 {
            // No chunk at all: an execution that started and ended in one write keeps its
            // history in its item.
            for _ in 0..5 {
                let Some(mut item) = self.get(pk.clone(), EXEC_SK.into()).await? else {
                    break;
                };
                if self.hydrate(&mut item).await? {
                    page_of_chunk(inline_events(&item)?, &q, limit, &mut events);
                    break;
                }
            }
        }
        Ok(events)
    }

    async fn peek_activity_tasks(
        &self,
        activity_arn: String,
        limit: usize,
    ) -> Result<Vec<ActivityTaskRecord>> {
        let out = self
            .client
            .query()
            .table_name(&self.name)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .consistent_read(true)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(format!("AT#{activity_arn}")))
            .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
            .send()
            .await
            .map_err(|e| sdk_backend("Query", e))?;
        self.usage.read(out.consumed_capacity());
        let mut items = Vec::new();
        for item in out.items() {
            let mut item = item.clone();
            // A queued task is written once and removed whole: its object stays while it does.
            if self.hydrate(&mut item).await? {
                items.push(item);
            }
        }
        items
            .iter()
            .map(|item| {
                Ok(ActivityTaskRecord {
                    activity_arn: get_s(item, "activity")?.to_string(),
                    task_token: get_s(item, "token")?.to_string(),
                    execution_arn: get_s(item, "arn")?.to_string(),
                    task_id: get_n(item, "task")?,
                    input: get_s(item, "input")?.to_string(),
                    created_ms: get_n(item, "created")?,
                })
            })
            .collect()
    }

    async fn get_task_token(&self, token: String) -> Result<Option<TaskTokenRecord>> {
        let Some(item) = self.get(format!("TT#{token}"), "TT".into()).await? else {
            return Ok(None);
        };
        Ok(Some(TaskTokenRecord {
            token,
            execution_arn: get_s(&item, "arn")?.to_string(),
            task_id: get_n(&item, "task")?,
        }))
    }
}

/// Runs `tasks` with at most `limit` of them under way at once, on the caller's task (they
/// wait on the network, not the CPU); the first error ends the call, dropping the rest.
async fn all_bounded<F>(tasks: impl IntoIterator<Item = F>, limit: usize) -> Result<()>
where
    F: Future<Output = Result<()>>,
{
    let mut waiting = tasks.into_iter();
    let mut running: Vec<Pin<Box<F>>> = waiting.by_ref().take(limit.max(1)).map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        let mut i = 0;
        while i < running.len() {
            match running[i].as_mut().poll(cx) {
                std::task::Poll::Pending => i += 1,
                std::task::Poll::Ready(Err(e)) => return std::task::Poll::Ready(Err(e)),
                // The next task (or the last one, moved here) takes its place and is polled
                // in this same pass, so it registers its waker.
                std::task::Poll::Ready(Ok(())) => match waiting.next() {
                    Some(next) => running[i] = Box::pin(next),
                    None => {
                        running.swap_remove(i);
                    }
                },
            }
        }
        if running.is_empty() {
            std::task::Poll::Ready(Ok(()))
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

// The port's methods: each is the table's request as a future on the caller's runtime.

impl StateMachineStore for DynamoStore {
    fn create_state_machine<'a>(&'a self, record: &'a StateMachineRecord) -> StoreFuture<'a, ()> {
        Box::pin(self.table.create_named(SM_PK, record.clone()))
    }

    fn get_state_machine<'a>(
        &'a self,
        arn: &'a str,
    ) -> StoreFuture<'a, Option<(StateMachineRecord, Version)>> {
        Box::pin(self.table.get_named(SM_PK, arn.to_string()))
    }

    fn update_state_machine<'a>(
        &'a self,
        record: &'a StateMachineRecord,
        expected: Version,
    ) -> StoreFuture<'a, Version> {
        Box::pin(self.table.update_state_machine(record.clone(), expected))
    }

    fn delete_state_machine<'a>(&'a self, arn: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(self.table.delete_named(SM_PK, arn.to_string()))
    }

    fn list_state_machines<'a>(
        &'a self,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page<StateMachineRecord>> {
        Box::pin(
            self.table
                .list_named(SM_PK, cursor.map(str::to_string), limit),
        )
    }
}

impl ActivityStore for DynamoStore {
    fn create_activity<'a>(&'a self, record: &'a ActivityRecord) -> StoreFuture<'a, ()> {
        Box::pin(self.table.create_named(ACT_PK, record.clone()))
    }

    fn get_activity<'a>(&'a self, arn: &'a str) -> StoreFuture<'a, Option<ActivityRecord>> {
        Box::pin(async move {
            Ok(self
                .table
                .get_named(ACT_PK, arn.to_string())
                .await?
                .map(|(r, _)| r))
        })
    }

    fn delete_activity<'a>(&'a self, arn: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(self.table.delete_named(ACT_PK, arn.to_string()))
    }

    fn list_activities<'a>(
        &'a self,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page<ActivityRecord>> {
        Box::pin(
            self.table
                .list_named(ACT_PK, cursor.map(str::to_string), limit),
        )
    }
}

impl ExecutionStore for DynamoStore {
    fn create_execution<'a>(
        &'a self,
        record: &'a ExecutionRecord,
        history: &'a [StoredEvent],
        effects: &'a Effects,
    ) -> StoreFuture<'a, Version> {
        Box::pin(self.table.write_execution(
            record.clone(),
            None,
            history.to_vec(),
            effects.clone(),
        ))
    }

    fn get_execution<'a>(
        &'a self,
        arn: &'a str,
    ) -> StoreFuture<'a, Option<(ExecutionRecord, Version)>> {
        Box::pin(self.table.get_execution(arn.to_string()))
    }

    fn commit<'a>(&'a self, transition: &'a Transition) -> StoreFuture<'a, Version> {
        let transition = transition.clone();
        Box::pin(self.table.write_execution(
            transition.record,
            Some(transition.expected_version),
            transition.history,
            transition.effects,
        ))
    }

    fn list_executions<'a>(
        &'a self,
        query: &'a ExecutionQuery,
    ) -> StoreFuture<'a, Page<ExecutionRecord>> {
        Box::pin(self.table.list_executions(query.clone()))
    }

    fn running_executions(&self) -> StoreFuture<'_, Vec<String>> {
        Box::pin(self.table.running_executions())
    }

    fn running_executions_page<'a>(
        &'a self,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page<String>> {
        Box::pin(
            self.table
                .running_executions_page(cursor.map(str::to_string), limit),
        )
    }

    fn read_history<'a>(
        &'a self,
        execution_arn: &'a str,
        query: &'a HistoryQuery,
    ) -> StoreFuture<'a, Vec<StoredEvent>> {
        Box::pin(self.table.read_history(execution_arn.to_string(), *query))
    }

    fn unsent_status_page<'a>(
        &'a self,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page<String>> {
        Box::pin(
            self.table
                .arn_page(IndexQuery::unsent(), cursor.map(str::to_string), limit),
        )
    }

    fn confirm_status_sent<'a>(
        &'a self,
        record: &'a ExecutionRecord,
        version: Version,
    ) -> StoreFuture<'a, bool> {
        Box::pin(self.table.confirm_status_sent(record, version))
    }

    fn put_definition<'a>(&'a self, key: &'a str, text: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(self.table.put_definition(key, text))
    }

    fn get_definition<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(self.table.get_definition(key))
    }

    fn put_closed_executions<'a>(&'a self, records: &'a [ExecutionRecord]) -> StoreFuture<'a, ()> {
        Box::pin(self.table.put_closed_executions(records))
    }

    /// Closed executions expire through the table's TTL ([`DynamoStore::with_retention_days`]).
    fn delete_closed_executions(&self, _before_ms: i64, _limit: usize) -> StoreFuture<'_, usize> {
        Box::pin(std::future::ready(Err(Error::Backend(
            "this store does not delete closed executions by a sweep: they expire through the table's TTL"
                .into(),
        ))))
    }
}

impl TimerStore for DynamoStore {
    fn due_timers(&self, now_ms: i64, limit: usize) -> StoreFuture<'_, Vec<TimerRecord>> {
        Box::pin(self.table.timers(Some(now_ms), limit))
    }

    fn next_timer(&self) -> StoreFuture<'_, Option<TimerRecord>> {
        Box::pin(async move { Ok(self.table.timers(None, 1).await?.into_iter().next()) })
    }

    fn due_timers_page<'a>(
        &'a self,
        now_ms: i64,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page<TimerRecord>> {
        Box::pin(
            self.table
                .due_timers_page(now_ms, cursor.map(str::to_string), limit),
        )
    }
}

impl ActivityTaskStore for DynamoStore {
    fn peek_activity_tasks<'a>(
        &'a self,
        activity_arn: &'a str,
        limit: usize,
    ) -> StoreFuture<'a, Vec<ActivityTaskRecord>> {
        Box::pin(
            self.table
                .peek_activity_tasks(activity_arn.to_string(), limit),
        )
    }
}

impl TaskTokenStore for DynamoStore {
    fn get_task_token<'a>(&'a self, token: &'a str) -> StoreFuture<'a, Option<TaskTokenRecord>> {
        Box::pin(self.table.get_task_token(token.to_string()))
    }
}

/// Waits for a store future on a Tokio runtime: what [`Blocking`] needs to use this store
/// through the synchronous port from a blocking thread of that runtime (the shared API's
/// actions in the api function). It is the caller's runtime: no second one is started.
#[derive(Debug, Clone)]
pub struct OnRuntime(pub tokio::runtime::Handle);

impl OnRuntime {
    /// The runtime the caller is running on. Panics outside one, as Tokio's `Handle::current`.
    pub fn current() -> OnRuntime {
        OnRuntime(tokio::runtime::Handle::current())
    }
}

impl Wait for OnRuntime {
    fn wait(&self, work: Pin<Box<dyn Future<Output = ()> + Send + '_>>) {
        self.0.block_on(work);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The BatchWriteItems of one `put_closed_executions`: never more than the limit under
    /// way, every one run, and the first failure ends the call before the rest start.
    #[test]
    fn bounded_tasks_run_all_a_few_at_a_time_and_stop_at_a_failure() {
        use std::sync::atomic::AtomicUsize;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let (running, most, done) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        );
        let task = |fail: bool| {
            let (running, most, done) = (&running, &most, &done);
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
                running.fetch_sub(1, Ordering::SeqCst);
                done.fetch_add(1, Ordering::SeqCst);
                if fail {
                    Err(Error::Backend("refused".into()))
                } else {
                    Ok(())
                }
            }
        };
        runtime
            .block_on(all_bounded((0..10).map(|_| task(false)), 3))
            .expect("all succeed");
        assert_eq!(done.load(Ordering::SeqCst), 10);
        assert_eq!(most.load(Ordering::SeqCst), 3);

        done.store(0, Ordering::SeqCst);
        let failed = runtime.block_on(all_bounded((0..10).map(|i| task(i == 0)), 2));
        assert!(matches!(failed, Err(Error::Backend(_))), "{failed:?}");
        assert!(done.load(Ordering::SeqCst) < 10);
    }

    #[test]
    fn remembered_definition_texts_stay_within_their_bytes() {
        let mut known = Definitions::default();
        let half: Arc<str> = Arc::from("x".repeat(DEFINITION_TEXT_BYTES / 2 + 1));
        known.keep_text("a", Arc::clone(&half));
        known.keep_text("a", Arc::clone(&half));
        assert_eq!(known.text_bytes, half.len());
        // Past the bound: the texts kept so far go, the keys stay known.
        known.keep_text("b", Arc::clone(&half));
        assert!(known.texts.contains_key("b") && !known.texts.contains_key("a"));
        assert_eq!(known.text_bytes, half.len());
        assert!(known.stored.contains("a") && known.stored.contains("b"));
        // One text past the bound alone is not kept, and costs the others nothing.
        known.keep_text("c", Arc::from("y".repeat(DEFINITION_TEXT_BYTES + 1)));
        assert!(!known.texts.contains_key("c") && known.stored.contains("c"));
        assert!(known.texts.contains_key("b"));
    }

    #[test]
    fn ordered_keys_sort_like_their_numbers() {
        let values = [i64::MIN, -5, -1, 0, 1, 42, i64::MAX];
        let keys: Vec<String> = values.iter().map(|v| ordered(*v)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        let newest: Vec<String> = values.iter().map(|v| newest_first_key(*v, "a")).collect();
        let mut sorted = newest.clone();
        sorted.sort();
        sorted.reverse();
        assert_eq!(newest, sorted);
    }

    #[test]
    fn an_execution_body_reads_back_and_a_cut_one_is_refused() {
        let summary = br#"{"input":"{}"}"#;
        let state = vec![7u8; 300];
        let history = history_json(&[StoredEvent {
            id: 1,
            body: "{}".into(),
        }]);
        let packed = pack_execution_body(summary, &state, &history).unwrap();
        let (s, st, h) = unpack_execution_body(&packed).unwrap();
        assert_eq!(
            (s.as_slice(), st, h),
            (&summary[..], state.clone(), history)
        );
        // No history: an empty third part.
        let packed = pack_execution_body(summary, &state, &[]).unwrap();
        assert!(unpack_execution_body(&packed).unwrap().2.is_empty());
        // What could not be read back is not written.
        let huge = vec![b' '; MAX_INFLATED_BYTES];
        let refused = pack_execution_body(summary, &huge, &[]).map(|_| ());
        assert!(
            matches!(&refused, Err(Error::Backend(m)) if m.contains("past the 64 MB")),
            "{refused:?}"
        );
        // A length past the end is corruption, not a short read.
        let mut raw = Vec::new();
        raw.extend_from_slice(&100u32.to_le_bytes());
        raw.extend_from_slice(b"short");
        assert!(unpack_execution_body(&compress(&raw)).is_err());
    }

    #[test]
    fn large_histories_split_into_chunks_under_the_item_limit() {
        let body = "x".repeat(100_000);
        let events: Vec<StoredEvent> = (1..=7)
            .map(|id| StoredEvent {
                id,
                body: body.clone(),
            })
            .collect();
        let items = history_items("arn", &events, None);
        let firsts: Vec<u64> = items
            .iter()
            .map(|i| get_n(i, "first").unwrap_or(0))
            .collect();
        assert_eq!(firsts, [1, 4, 7]);
        let back: Vec<StoredEvent> = items
            .iter()
            .flat_map(|i| chunk_events(i).unwrap_or_default())
            .collect();
        assert_eq!(back, events);
    }
}
