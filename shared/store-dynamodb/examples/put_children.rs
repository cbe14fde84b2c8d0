//! Bench (not a test): a Distributed Map's children stored as closed executions, as the
//! advance function stores them when their Map Run ends (calls of 256 records, 16 calls under
//! way), against DynamoDB Local. Two ways, alternating, each round on a fresh table:
//! `single` writes each child as the port's default `put_closed_executions` does (one
//! conditional create per record, a read and a conditional replace when it exists), `batch`
//! calls the store's own `put_closed_executions`. Prints the time, children/s, the write
//! units DynamoDB reported and the requests, then checks every child reads back.
//!
//! set -a; . .emulators/endpoints.env; set +a
//! cargo run --release -p cairn-store-dynamodb --example put_children -- 1000 3

use std::sync::Arc;
use std::time::Instant;

use cairn_store::asynchronous::ExecutionStore;
use cairn_store::{Effects, Error, ExecutionRecord, Transition};
use cairn_store_dynamodb::DynamoStore;
use serde_json::json;

const CALL: usize = 256;
const CALLS_AT_ONCE: usize = 16;

/// A child shaped as `cairn_api::map_runs::child_record` makes it: no state, the Map Run's
/// ARN, input and output as JSON text.
fn child(run: &str, i: usize) -> ExecutionRecord {
    let machine = format!("arn:aws:states:us-east-1:123456789012:stateMachine:bench/each-{run}");
    let name = format!("{i:08x}-0000-4000-8000-000000000000");
    ExecutionRecord {
        arn: format!("arn:aws:states:us-east-1:123456789012:execution:bench/each-{run}:{name}"),
        state_machine_arn: machine,
        name,
        status: "SUCCEEDED".into(),
        start_ms: 1_765_000_000_000 + i as i64,
        stop_ms: Some(1_765_000_000_050 + i as i64),
        summary: json!({
            "mapRunArn": format!("arn:aws:states:us-east-1:123456789012:mapRun:bench/each-{run}:r"),
            "redriveCount": 0,
            "roleArn": "arn:aws:iam::123456789012:role/bench",
            "input": json!({"n": i, "name": format!("item {i}")}).to_string(),
            "output": json!({"n": i, "doubled": 2 * i}).to_string(),
        }),
        state: Vec::new(),
    }
}

/// The port's default `put_closed_executions`, written out: what the store did before it
/// had its own.
async fn one_by_one(store: &DynamoStore, records: &[ExecutionRecord]) -> Result<(), Error> {
    for record in records {
        match store
            .create_execution(record, &[], &Effects::default())
            .await
        {
            Ok(_) => {}
            Err(Error::AlreadyExists(_)) => {
                let Some((stored, version)) = store.get_execution(&record.arn).await? else {
                    continue;
                };
                if &stored == record {
                    continue;
                }
                let transition = Transition {
                    expected_version: version,
                    record: record.clone(),
                    history: Vec::new(),
                    effects: Effects::default(),
                };
                match store.commit(&transition).await {
                    Ok(_) | Err(Error::Conflict(_)) => {}
                    Err(other) => return Err(other),
                }
            }
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

async fn round(mode: &str, n: usize, table: &str) -> anyhow::Result<()> {
    let store = Arc::new(DynamoStore::from_env(table).await);
    store.create_table().await?;
    let records: Vec<ExecutionRecord> = (0..n).map(|i| child(table, i)).collect();
    let batches: Vec<Vec<ExecutionRecord>> = records.chunks(CALL).map(<[_]>::to_vec).collect();
    let before = store.usage().snapshot();
    let started = Instant::now();
    let mut writers = tokio::task::JoinSet::new();
    for batch in batches {
        if writers.len() >= CALLS_AT_ONCE {
            if let Some(done) = writers.join_next().await {
                done??;
            }
        }
        let (store, single) = (store.clone(), mode == "single");
        writers.spawn(async move {
            if single {
                one_by_one(&store, &batch).await
            } else {
                store.put_closed_executions(&batch).await
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = store.usage().snapshot();
    println!(
        "{mode:>6}: {n} children in {:.3} s = {:.0} children/s, {:.1} write units ({:.2} per child), {} requests",
        elapsed,
        n as f64 / elapsed,
        after.1 - before.1,
        (after.1 - before.1) / n as f64,
        after.2 - before.2,
    );
    for record in &records {
        let (stored, _) = store
            .get_execution(&record.arn)
            .await?
            .ok_or_else(|| anyhow::anyhow!("{} was not stored", record.arn))?;
        anyhow::ensure!(&stored == record, "{} reads back otherwise", record.arn);
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(1000), |a| a.parse())?;
    let rounds: usize = args.next().map_or(Ok(3), |a| a.parse())?;
    let modes: Vec<String> = match args.next() {
        Some(mode) => vec![mode],
        None => vec!["single".into(), "batch".into()],
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    for r in 0..rounds {
        for mode in &modes {
            let table = format!("bench-children-{}-{r}-{mode}", std::process::id());
            runtime.block_on(round(mode, n, &table))?;
        }
    }
    Ok(())
}
