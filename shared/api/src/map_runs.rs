//! The Map Run API: DescribeMapRun, ListMapRuns, and ListExecutions by `mapRunArn`, answered
//! from the Map Runs the decider keeps in its parent execution (`Execution::map_runs`).
//!
//! Differences from AWS: a Map Run's children run inside the parent execution, so they are
//! listed (name, ARN, status, dates) but DescribeExecution and GetExecutionHistory do not
//! know them; a Map Run is found by scanning its state machine's executions.

use cairn_interpreter::{Event, MapRun, MapRunChild};
use cairn_store::{Error as StoreError, ExecutionQuery};
use serde_json::{json, Value};

use crate::driver::{store_error, Driver};
use crate::names::{check_execution_arn, execution_does_not_exist, invalid_arn, parse_arn};
use crate::params::{invalid_token, timestamp, Params};
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
fn find(driver: &Driver, arn: &str) -> Result<(MapRun, String), ApiError> {
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
                return Ok((run, record.arn.clone()));
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

fn counts(run: &MapRun) -> Value {
    json!({
        "pending": run.pending,
        "running": run.running,
        "succeeded": run.succeeded,
        "failed": run.failed,
        "timedOut": 0,
        "aborted": run.aborted,
        "total": run.total,
        "resultsWritten": if run.status == "RUNNING" { 0 } else { run.succeeded + run.failed + run.aborted },
        "failuresNotRedrivable": 0,
        "pendingRedrive": 0,
    })
}

fn describe_map_run(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("mapRunArn")?;
    let (run, execution) = find(driver, arn)?;
    let mut out = json!({
        "mapRunArn": run.map_run_arn,
        "executionArn": execution,
        "status": run.status,
        "startDate": timestamp(run.start_ms),
        "maxConcurrency": run.max_concurrency,
        "toleratedFailurePercentage": run.tolerated_failure_percentage,
        "toleratedFailureCount": run.tolerated_failure_count,
        "itemCounts": counts(&run),
        "executionCounts": counts(&run),
        "redriveCount": 0,
    });
    if let Some(stop) = run.stop_ms {
        out["stopDate"] = timestamp(stop);
    }
    Ok(out)
}

/// `nextToken` of these lists: the offset of the next item.
fn offset(p: &Params<'_>) -> Result<usize, ApiError> {
    match p.next_token(1024)? {
        None => Ok(0),
        Some(token) => token.parse().map_err(|_| invalid_token(token)),
    }
}

fn page(items: Vec<Value>, key: &str, start: usize, limit: usize) -> Value {
    let total = items.len();
    let end = start.saturating_add(limit).min(total);
    let chosen: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
    let mut out = json!({ key: chosen });
    if end < total {
        out["nextToken"] = Value::String(end.to_string());
    }
    out
}

fn list_map_runs(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("executionArn")?;
    check_execution_arn(arn)?;
    let limit = p.max_results(100)?;
    let start = offset(p)?;
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
    Ok(page(items, "mapRuns", start, limit))
}

/// `…:mapRun:<machine>/<label>:<id>` → `…:stateMachine:<machine>/<label>`.
fn child_machine(map_run_arn: &str) -> String {
    let base = map_run_arn.rsplit_once(':').map_or(map_run_arn, |(b, _)| b);
    base.replacen(":mapRun:", ":stateMachine:", 1)
}

/// ListExecutions with `mapRunArn`: the Map Run's child executions.
fn list_children(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    if p.get("stateMachineArn").is_some() {
        return Err(ApiError::new(
            "ValidationException",
            "Cannot provide both stateMachineArn and mapRunArn",
        ));
    }
    let status = crate::actions::status_filter(p)?;
    let limit = p.max_results(100)?;
    let start = offset(p)?;
    let arn = p.string("mapRunArn")?;
    let (run, _) = find(driver, arn)?;
    let items: Vec<Value> = run
        .children
        .iter()
        .filter(|c| status.is_none_or(|s| s == c.status))
        .map(|c| child_item(c, &run.map_run_arn))
        .collect();
    Ok(page(items, "executions", start, limit))
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
        ));
    }
    let event = Event::UpdateMapRun {
        map_run_arn: arn.to_string(),
        max_concurrency,
        tolerated_failure_count: tolerated_count,
        tolerated_failure_percentage: tolerated_percentage,
    };
    Ok((execution, event))
}
