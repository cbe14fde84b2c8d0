//! The Map Run API: DescribeMapRun, ListMapRuns, and ListExecutions by `mapRunArn`, answered
//! from the Map Runs the decider keeps in its parent execution (`Execution::map_runs`).
//!
//! In `cairn serve` a Map Run's STANDARD children are executions of their own from their
//! start (`crate::map_children`); its EXPRESS children, and every child in a shell that does
//! not run them so (the serverless engine), run inside the parent execution. Either way,
//! while the run goes on they are listed from the parent's state; when it ends, the children
//! that ran inside are stored as closed executions of their own
//! (`Driver::store_map_run_children`: DescribeExecution, a two-event GetExecutionHistory,
//! ListExecutions by `mapRunArn` from the store; the serverless engine stores them the same
//! way before the parent's write) and the parent keeps only their counts. A shell that does
//! not store them keeps them in the parent, and they are listed from there. A Map Run is
//! found by scanning its state machine's executions.

use cairn_interpreter::{Event, Execution, HistoryEvent, MapRun, MapRunChild};
use cairn_store::{Error as StoreError, ExecutionQuery, ExecutionRecord};
use serde_json::{json, Value};

use crate::driver::{store_error, Driver};
use crate::names::{check_execution_arn, execution_does_not_exist, invalid_arn, parse_arn};
use crate::params::{invalid_token, page_token, timestamp, Params};
use crate::persisted::Persisted;
use crate::ApiError;

/// The Map Run actions; `None` for the others.
pub fn dispatch(driver: &Driver, action: &str, p: &Params<'_>) -> Option<Result<Value, ApiError>> {
    match action {
        "DescribeMapRun" => Some(describe_map_run(driver, p)),
        "ListMapRuns" => Some(list_map_runs(driver, p)),
        "UpdateMapRun" => Some(update_map_run(driver, p)),
        "ListExecutions" if p.get("mapRunArn").is_some() => Some(list_children(driver, p)),
        _ => None,
    }
}

fn not_found(arn: &str) -> ApiError {
    ApiError::new(
        "ResourceNotFound",
        format!("Map Run Does Not Exist: '{arn}'"),
    )
    .with_resource_name(arn)
}

/// `arn:aws:states:<region>:<account>:mapRun:<machine>/<label>:<id>` → the machine's ARN.
fn machine_of(arn: &str) -> Result<String, ApiError> {
    let parsed = parse_arn(arn).filter(|a| a.kind == "mapRun");
    let Some(parsed) = parsed else {
        return Err(invalid_arn(arn));
    };
    let machine = parsed
        .rest
        .split_once('/')
        .map(|(m, _)| m)
        .filter(|m| !m.is_empty() && parsed.rest.contains(':'))
        .ok_or_else(|| invalid_arn(arn))?;
    Ok(format!(
        "arn:aws:states:{}:{}:stateMachine:{machine}",
        parsed.region, parsed.account
    ))
}

/// The Map Run and the ARN of the execution that runs it.
pub(crate) fn find(driver: &Driver, arn: &str) -> Result<(MapRun, String), ApiError> {
    find_with_definition(driver, arn).map(|(run, parent, _)| (run, parent))
}

/// [`find`], with the definition its parent execution runs (decoded anyway to find the run).
fn find_with_definition(
    driver: &Driver,
    arn: &str,
) -> Result<(MapRun, String, crate::persisted::Definition), ApiError> {
    let machine = machine_of(arn)?;
    let mut cursor = None;
    loop {
        let query = ExecutionQuery {
            state_machine_arn: machine.clone(),
            status: None,
            cursor,
            limit: 100,
        };
        let page = match driver.store.list_executions(&query) {
            Ok(page) => page,
            Err(StoreError::NotFound(_)) => return Err(not_found(arn)),
            Err(other) => return Err(store_error(other)),
        };
        for record in &page.items {
            // Only an execution whose state mentions the ARN is decoded.
            if !contains(&record.state, arn.as_bytes()) {
                continue;
            }
            let persisted = Persisted::decode(record)?;
            if let Some(run) = persisted
                .execution
                .map_runs()
                .into_iter()
                .find(|r| r.map_run_arn == arn)
            {
                return Ok((run, record.arn.clone(), persisted.definition));
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Err(not_found(arn)),
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// One of DescribeMapRun's counts: `[pending, running, succeeded, failed, aborted]`.
/// `written`: a ResultWriter exported the run's results, each ended child's (or its
/// batch's items) among them.
fn counts(tally: [u64; 5], written: bool) -> Value {
    let [pending, running, succeeded, failed, aborted] = tally;
    json!({
        "pending": pending,
        "running": running,
        "succeeded": succeeded,
        "failed": failed,
        "timedOut": 0,
        "aborted": aborted,
        "total": pending + running + succeeded + failed + aborted,
        "resultsWritten": if written { succeeded + failed + aborted } else { 0 },
        "failuresNotRedrivable": 0,
        "pendingRedrive": 0,
    })
}

fn describe_map_run(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("mapRunArn")?;
    let (run, execution, definition) = find_with_definition(driver, arn)?;
    let definition = definition.resolve(driver.store.as_ref())?;
    let definition: Value = serde_json::from_str(&definition).unwrap_or_default();
    let map = map_state(&definition, label_of(&child_machine(&run.map_run_arn)));
    let batched = map.is_some_and(|m| m.get("ItemBatcher").is_some());
    // Only a ResultWriter with a Resource exports; it writes once the run has ended (a
    // failed run's results too).
    let exports = map.is_some_and(|m| m.pointer("/ResultWriter/Resource").is_some());
    let written = exports && run.status != "RUNNING";
    let children = [
        run.pending,
        run.running,
        run.succeeded,
        run.failed,
        run.aborted,
    ];
    let items = if batched {
        let i = &run.items;
        [i.pending, i.running, i.succeeded, i.failed, i.aborted]
    } else {
        children
    };
    let mut out = json!({
        "mapRunArn": run.map_run_arn,
        "executionArn": execution,
        "status": run.status,
        "startDate": timestamp(run.start_ms),
        "maxConcurrency": run.max_concurrency,
        "toleratedFailurePercentage": run.tolerated_failure_percentage,
        "toleratedFailureCount": run.tolerated_failure_count,
        "itemCounts": counts(items, written),
        "executionCounts": counts(children, written),
        "redriveCount": run.redrive_count,
    });
    if let Some(stop) = run.stop_ms {
        out["stopDate"] = timestamp(stop);
    }
    if let Some(redriven) = run.redrive_ms {
        out["redriveDate"] = timestamp(redriven);
    }
    Ok(out)
}

/// `nextToken` of these lists: the offset of the next item.
fn offset(p: &Params<'_>, now: i64) -> Result<usize, ApiError> {
    match p.page_cursor(1024, now)? {
        None => Ok(0),
        Some(cursor) => cursor
            .parse()
            .map_err(|_| invalid_token(p.next_token(1024).ok().flatten().unwrap_or(""))),
    }
}

fn page(items: Vec<Value>, key: &str, start: usize, limit: usize, now: i64) -> Value {
    let total = items.len();
    let end = start.saturating_add(limit).min(total);
    let chosen: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
    let mut out = json!({ key: chosen });
    if end < total {
        out["nextToken"] = Value::String(page_token(&end.to_string(), now));
    }
    out
}

fn list_map_runs(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("executionArn")?;
    check_execution_arn(arn)?;
    let limit = p.max_results(100)?;
    let now = driver.now_ms();
    let start = offset(p, now)?;
    let (record, _) = driver
        .store
        .get_execution(arn)
        .map_err(store_error)?
        .ok_or_else(|| execution_does_not_exist(arn))?;
    let persisted = Persisted::decode(&record)?;
    let items: Vec<Value> = persisted
        .execution
        .map_runs()
        .into_iter()
        .map(|run| {
            let machine = run
                .children
                .first()
                .map(|c| c.state_machine_arn.clone())
                .unwrap_or_else(|| child_machine(&run.map_run_arn));
            let mut item = json!({
                "executionArn": record.arn,
                "mapRunArn": run.map_run_arn,
                "stateMachineArn": machine,
                "startDate": timestamp(run.start_ms),
            });
            if let Some(stop) = run.stop_ms {
                item["stopDate"] = timestamp(stop);
            }
            item
        })
        .collect();
    Ok(page(items, "mapRuns", start, limit, now))
}

/// `…:mapRun:<machine>/<label>:<id>` → `…:stateMachine:<machine>/<label>`.
fn child_machine(map_run_arn: &str) -> String {
    let base = map_run_arn.rsplit_once(':').map_or(map_run_arn, |(b, _)| b);
    base.replacen(":mapRun:", ":stateMachine:", 1)
}

/// ListExecutions with `mapRunArn`: the Map Run's child executions, each with the number
/// of items it processed (`itemCount`, which AWS gives only in this listing).
fn list_children(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    if p.get("stateMachineArn").is_some() {
        return Err(ApiError::new(
            "ValidationException",
            "Cannot provide both stateMachineArn and mapRunArn",
        ));
    }
    let status = crate::actions::status_filter(p)?;
    let redriven = crate::redrive::filter_param(p)?;
    let limit = p.max_results(100)?;
    let arn = p.string("mapRunArn")?;
    let (run, _, definition) = find_with_definition(driver, arn)?;
    let definition = definition.resolve(driver.store.as_ref())?;
    let batched = is_batched(&definition, &child_machine(&run.map_run_arn));
    let now = driver.now_ms();
    if run.children_detached {
        let cursor = p.page_cursor(3096, now)?;
        let token = p.next_token(3096)?;
        let listing = Listing {
            batched,
            status,
            redriven,
            limit,
            now,
        };
        return list_stored_children(driver, &run, &listing, cursor, token);
    }
    let start = offset(p, now)?;
    let mut items: Vec<Value> = run
        .children
        .iter()
        .filter(|c| status.is_none_or(|s| s == c.status))
        .map(|c| child_item(c, &run.map_run_arn))
        .collect();
    if run.redrive_count == 0 {
        // A child of a run never redriven has never been redriven.
        if redriven == Some(true) {
            items.clear();
        }
    } else {
        // A redriven run's children that are executions of their own were redriven
        // themselves: their records say how often.
        let mut kept = Vec::with_capacity(items.len());
        for mut item in items {
            let arn = item["executionArn"].as_str().unwrap_or_default();
            if let Some((record, _)) = driver.store.get_execution(arn).map_err(store_error)? {
                crate::redrive::list_fields(&record, &mut item);
                if redriven.is_some_and(|wanted| crate::redrive::is_redriven(&record) != wanted) {
                    continue;
                }
            } else if redriven == Some(true) {
                continue;
            }
            kept.push(item);
        }
        items = kept;
    }
    let total = items.len();
    let end = start.saturating_add(limit).min(total);
    if batched {
        // The decider knows each batch's size; a child it started before it kept that has
        // its size read from its own record (its input), for the page's children only.
        for item in items.iter_mut().take(end).skip(start) {
            if item.get("itemCount").is_some() {
                continue;
            }
            let Some(arn) = item["executionArn"].as_str() else {
                continue;
            };
            let stored = driver.store.get_execution(arn).map_err(store_error)?;
            if let Some(count) = stored.and_then(|(r, _)| batch_size(r.summary.get("input"))) {
                item["itemCount"] = Value::from(count);
            }
        }
    } else {
        for item in &mut items {
            item["itemCount"] = Value::from(1);
        }
    }
    Ok(page(items, "executions", start, limit, now))
}

/// Whether the Distributed Map whose children run `child_machine` (`…/<label>`) batches its
/// items (ItemBatcher): a child then processes a batch, not one item.
fn is_batched(definition: &str, child_machine: &str) -> bool {
    let definition: Value = serde_json::from_str(definition).unwrap_or_default();
    map_state(&definition, label_of(child_machine))
        .is_some_and(|map| map.get("ItemBatcher").is_some())
}

/// `…:stateMachine:<machine>/<label>` → the label.
fn label_of(child_machine: &str) -> &str {
    child_machine
        .rsplit_once('/')
        .map_or("", |(_, label)| label)
}

/// A batch child's item count: the length of the `Items` its input (as stored, JSON text)
/// holds.
fn batch_size(input: Option<&Value>) -> Option<usize> {
    let input: Value = serde_json::from_str(input?.as_str()?).ok()?;
    Some(input.get("Items")?.as_array()?.len())
}

fn child_item(child: &MapRunChild, map_run_arn: &str) -> Value {
    let mut item = json!({
        "executionArn": child.execution_arn,
        "stateMachineArn": child.state_machine_arn,
        "name": child.name,
        "status": child.status,
        "startDate": timestamp(child.start_ms),
        "mapRunArn": map_run_arn,
    });
    if let Some(stop) = child.stop_ms {
        item["stopDate"] = timestamp(stop);
    }
    if let Some(count) = child.item_count {
        item["itemCount"] = Value::from(count);
    }
    item
}

fn validation(member: &str, value: &Value, constraint: &str) -> ApiError {
    ApiError::new(
        "ValidationException",
        format!("1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"),
    )
}

/// A non-negative integer member.
fn count(p: &Params<'_>, member: &str) -> Result<Option<u64>, ApiError> {
    match p.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            validation(
                member,
                v,
                "Member must have value greater than or equal to 0",
            )
        }),
    }
}

/// UpdateMapRun: the running Map Run's MaxConcurrency and tolerated failures, applied by
/// the decider to the iterations still to come.
fn update_map_run(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let (execution, event) = update_event(driver, p)?;
    driver.advance(&execution, event, None)?;
    Ok(json!({}))
}

/// UpdateMapRun checked as AWS checks it: the execution that runs the Map Run and the
/// event that changes it.
pub fn update_event(driver: &Driver, p: &Params<'_>) -> Result<(String, Event), ApiError> {
    let arn = p.string("mapRunArn")?;
    let max_concurrency = count(p, "maxConcurrency")?;
    let tolerated_count = count(p, "toleratedFailureCount")?;
    let tolerated_percentage = match p.get("toleratedFailurePercentage") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_f64() {
            Some(f) if (0.0..=100.0).contains(&f) => Some(f),
            _ => return Err(validation(
                "toleratedFailurePercentage",
                v,
                "Member must have value less than or equal to 100 and greater than or equal to 0",
            )),
        },
    };
    if max_concurrency.is_none() && tolerated_count.is_none() && tolerated_percentage.is_none() {
        return Err(ApiError::new(
            "ValidationException",
            "At least one of maxConcurrency, toleratedFailurePercentage or toleratedFailureCount must be given",
        ));
    }
    let (run, execution) = find(driver, arn)?;
    if run.status != "RUNNING" {
        return Err(ApiError::new(
            "ValidationException",
            format!("Map Run is not RUNNING: '{arn}'"),
        )
        .with_reason("CANNOT_UPDATE_COMPLETED_MAP_RUN"));
    }
    let event = Event::UpdateMapRun {
        map_run_arn: arn.to_string(),
        max_concurrency,
        tolerated_failure_count: tolerated_count,
        tolerated_failure_percentage: tolerated_percentage,
    };
    Ok((execution, event))
}

/// What a ListExecutions by `mapRunArn` asks for.
struct Listing<'a> {
    /// The run batches its items (ItemBatcher).
    batched: bool,
    status: Option<&'a str>,
    /// `redriveFilter`: only the redriven children (or only the others).
    redriven: Option<bool>,
    limit: usize,
    /// The Driver's time, which the page's token is dated with.
    now: i64,
}

/// ListExecutions by `mapRunArn` once the children are stored: the store's listing of the
/// child state machine (`<machine>/<label>`, shared by every run of that Map state), kept
/// to this run's children. Each read asks for exactly the items missing, so only the last
/// page is short.
fn list_stored_children(
    driver: &Driver,
    run: &MapRun,
    listing: &Listing<'_>,
    cursor: Option<String>,
    token: Option<&str>,
) -> Result<Value, ApiError> {
    let Listing {
        batched,
        status,
        redriven,
        limit,
        now,
    } = *listing;
    let machine = child_machine(&run.map_run_arn);
    let mut items = Vec::new();
    let mut next = cursor;
    loop {
        let query = ExecutionQuery {
            state_machine_arn: machine.clone(),
            status: status.map(str::to_string),
            cursor: next.take(),
            limit: limit - items.len(),
        };
        let page = match driver.store.list_executions(&query) {
            Ok(page) => page,
            Err(StoreError::InvalidCursor) => return Err(invalid_token(token.unwrap_or(""))),
            Err(other) => return Err(store_error(other)),
        };
        let ours = |r: &&ExecutionRecord| {
            r.summary.get("mapRunArn").and_then(Value::as_str) == Some(run.map_run_arn.as_str())
                && redriven.is_none_or(|wanted| crate::redrive::is_redriven(r) == wanted)
        };
        items.extend(page.items.iter().filter(ours).map(|r| {
            let mut item = json!({
                "executionArn": r.arn,
                "stateMachineArn": r.state_machine_arn,
                "name": r.name,
                "status": r.status,
                "startDate": timestamp(r.start_ms),
                "mapRunArn": run.map_run_arn,
            });
            if let Some(stop) = r.stop_ms {
                item["stopDate"] = timestamp(stop);
            }
            let count = if batched {
                let kept = r.summary.get("itemCount").and_then(Value::as_u64);
                kept.map(|n| n as usize)
                    .or_else(|| batch_size(r.summary.get("input")))
            } else {
                Some(1)
            };
            if let Some(count) = count {
                item["itemCount"] = Value::from(count);
            }
            crate::redrive::list_fields(r, &mut item);
            item
        }));
        next = page.next;
        if items.len() >= limit || next.is_none() {
            break;
        }
    }
    let mut out = json!({ "executions": items });
    if let Some(next) = next {
        out["nextToken"] = Value::from(page_token(&next, now));
    }
    Ok(out)
}

/// AWS redrives a Map Run's children through their parent only.
pub(crate) const CHILD_NOT_REDRIVABLE: &str =
    "Execution is a child execution of a Map Run: redrive its parent execution";

/// A child of an ended Map Run as a closed execution record (its two history events are
/// made from it when read). Every shell that stores children builds them here.
pub fn child_record(run: &MapRun, child: &MapRunChild, role_arn: &str) -> ExecutionRecord {
    let text = |v: &Value| Value::String(serde_json::to_string(v).unwrap_or_default());
    let stop_ms = child.stop_ms.unwrap_or(child.start_ms);
    let mut summary = json!({
        "mapRunArn": run.map_run_arn,
        "redriveCount": 0,
        "roleArn": role_arn,
    });
    if !child.input.is_null() {
        summary["input"] = text(&child.input);
    }
    if child.status == "SUCCEEDED" {
        summary["output"] = text(&child.output);
    }
    if let Some(error) = &child.error {
        summary["error"] = Value::from(error.clone());
    }
    if let Some(cause) = &child.cause {
        summary["cause"] = Value::from(cause.clone());
    }
    if let Some(count) = child.item_count {
        summary["itemCount"] = Value::from(count);
    }
    ExecutionRecord {
        arn: child.execution_arn.clone(),
        state_machine_arn: child.state_machine_arn.clone(),
        name: child.name.clone(),
        status: child.status.to_string(),
        start_ms: child.start_ms,
        stop_ms: Some(stop_ms),
        summary,
        state: Vec::new(),
    }
}

/// A stored Map Run child's history, made from its record when read (`None` for any other
/// execution): `ExecutionStarted` and the event that ended it, as AWS shapes them. Not
/// written with the child, which halves what storing a run's children writes.
pub(crate) fn stored_child_history(record: &ExecutionRecord) -> Option<Vec<HistoryEvent>> {
    if !record.state.is_empty() || record.summary.get("mapRunArn").is_none() {
        return None;
    }
    let summary = &record.summary;
    let json_of = |field: &str| {
        summary
            .get(field)
            .and_then(Value::as_str)
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
    };
    let mut started = json!({"roleArn": summary.get("roleArn").cloned().unwrap_or(Value::Null)});
    if let Some(input) = json_of("input") {
        started["input"] = input;
    }
    let (end_type, end) = match record.status.as_str() {
        "SUCCEEDED" => (
            "ExecutionSucceeded",
            json!({"output": json_of("output").unwrap_or(Value::Null)}),
        ),
        "FAILED" => {
            let mut details = json!({});
            for field in ["error", "cause"] {
                if let Some(value) = summary.get(field) {
                    details[field] = value.clone();
                }
            }
            ("ExecutionFailed", details)
        }
        _ => ("ExecutionAborted", json!({})),
    };
    Some(vec![
        HistoryEvent {
            id: 1,
            previous_event_id: 0,
            timestamp_ms: record.start_ms,
            event_type: "ExecutionStarted".into(),
            details: started.into(),
        },
        HistoryEvent {
            id: 2,
            previous_event_id: 1,
            timestamp_ms: record.stop_ms.unwrap_or(record.start_ms),
            event_type: end_type.into(),
            details: end.into(),
        },
    ])
}

/// Children stored per store call: a store may write each call in one transaction.
const CHILD_BATCH: usize = 256;
/// Store calls under way at once for one Map Run, so a store writing records one by one
/// (the port's default) still has its group commit gather many.
const CHILD_WRITERS: usize = 128;

impl Driver {
    /// Stores the children of the Map Runs that ended in the decision just made as closed
    /// executions of their own, and leaves only their counts in `execution`. Called before
    /// the parent's write that drops them: a crash between the two redoes the decision,
    /// which finds the children stored and writes them again (a redriven run's children
    /// are rewritten the same way).
    pub(crate) fn store_map_run_children(&self, execution: &mut Execution) -> Result<(), ApiError> {
        let runs = execution.detach_map_run_children();
        let role_arn = execution.info().role_arn.clone();
        for run in &runs {
            let records: Vec<ExecutionRecord> = run
                .children
                .iter()
                .map(|child| child_record(run, child, &role_arn))
                .collect();
            let batches: Vec<&[ExecutionRecord]> = records.chunks(CHILD_BATCH).collect();
            if batches.len() <= 1 {
                for batch in batches {
                    self.store
                        .put_closed_executions(batch)
                        .map_err(store_error)?;
                }
                continue;
            }
            let next = std::sync::atomic::AtomicUsize::new(0);
            let writers = CHILD_WRITERS.min(batches.len());
            let failures: Vec<ApiError> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..writers)
                    .map(|_| {
                        scope.spawn(|| loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(batch) = batches.get(i) else {
                                return Ok(());
                            };
                            self.store
                                .put_closed_executions(batch)
                                .map_err(store_error)?;
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .filter_map(|h| match h.join() {
                        Ok(Ok(())) => None,
                        Ok(Err(e)) => Some(e),
                        Err(_) => Some(ApiError::internal("a Map Run child writer panicked")),
                    })
                    .collect()
            });
            if let Some(error) = failures.into_iter().next() {
                return Err(error);
            }
        }
        Ok(())
    }
}

/// DescribeStateMachineForExecution of a Map Run child (stored when its run ended, or an
/// execution of its own): its Map state's ItemProcessor as the definition, under the child
/// state machine's ARN, with the Map Run and its label. `None` for any other execution.
pub(crate) fn describe_child_machine(
    driver: &Driver,
    record: &ExecutionRecord,
) -> Option<Result<Value, ApiError>> {
    let map_run = record.summary.get("mapRunArn")?.as_str()?.to_string();
    Some((|| {
        let (_, parent_arn, definition) = find_with_definition(driver, &map_run)?;
        let definition = definition.resolve(driver.store.as_ref())?;
        let (parent, _) = driver
            .store
            .get_execution(&parent_arn)
            .map_err(store_error)?
            .ok_or_else(|| execution_does_not_exist(&parent_arn))?;
        let label = record
            .state_machine_arn
            .rsplit_once('/')
            .map_or("", |(_, label)| label)
            .to_string();
        let definition: Value = serde_json::from_str(&definition).unwrap_or_default();
        let processor = item_processor(&definition, &label).unwrap_or(Value::Null);
        let mut processor = processor;
        if let Some(fields) = processor.as_object_mut() {
            fields.remove("ProcessorConfig");
        }
        let name = record
            .state_machine_arn
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_string();
        Ok(json!({
            "stateMachineArn": record.state_machine_arn,
            "name": name,
            "definition": serde_json::to_string(&processor).unwrap_or_default(),
            "roleArn": record.summary.get("roleArn").cloned().unwrap_or(Value::Null),
            "updateDate": timestamp(parent.start_ms),
            "mapRunArn": map_run,
            "label": label,
        }))
    })())
}

/// The ItemProcessor (or Iterator) of the Distributed Map labelled `label`.
fn item_processor(definition: &Value, label: &str) -> Option<Value> {
    let map = map_state(definition, label)?;
    map.get("ItemProcessor")
        .or_else(|| map.get("Iterator"))
        .cloned()
}

/// The Distributed Map state labelled `label`, searched through every nested Parallel
/// branch and Map processor; a Map without a Label matches when no labelled one does (its
/// label is made from its run's id).
fn map_state<'a>(definition: &'a Value, label: &str) -> Option<&'a Value> {
    let mut unlabelled = None;
    let mut stack = vec![definition];
    while let Some(machine) = stack.pop() {
        let Some(states) = machine.get("States").and_then(Value::as_object) else {
            continue;
        };
        for state in states.values() {
            if let Some(branches) = state.get("Branches").and_then(Value::as_array) {
                stack.extend(branches.iter());
            }
            let Some(processor) = state.get("ItemProcessor").or_else(|| state.get("Iterator"))
            else {
                continue;
            };
            stack.push(processor);
            let distributed = processor
                .pointer("/ProcessorConfig/Mode")
                .and_then(Value::as_str)
                == Some("DISTRIBUTED");
            if !distributed {
                continue;
            }
            match state.get("Label").and_then(Value::as_str) {
                Some(own) if own == label => return Some(state),
                None if unlabelled.is_none() => unlabelled = Some(state),
                _ => {}
            }
        }
    }
    unlabelled
}
