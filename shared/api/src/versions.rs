//! State machine versions and aliases (PublishStateMachineVersion, the alias actions, and
//! what StartExecution, DescribeStateMachine and ListExecutions do with a qualified ARN).
//!
//! Versions and aliases live inside their state machine's stored document (`versions`,
//! `nextVersion`, `aliases`) rather than as records of their own: every store keys state
//! machines by the last part of the ARN, which a version number or an alias name would
//! collide on, and one document makes each change a single version-conditional write.
//! Deleting the state machine therefore deletes its versions and aliases with it, as AWS
//! does.

use cairn_interpreter::HistoryEvent;
use cairn_store::{Error as StoreError, StateMachineRecord};
use serde_json::{json, Map, Value};

use crate::driver::{store_error, Driver};
use crate::machines::lifecycle;
use crate::names::{invalid_arn, machine_does_not_exist, parse_arn};
use crate::params::{invalid_token, page_token, timestamp, Params};
use crate::ApiError;

/// AWS's quotas per state machine.
const MAX_VERSIONS: usize = 1000;
const MAX_ALIASES: usize = 100;
/// Writes of one document retried when another writer got there first.
const ATTEMPTS: usize = 16;

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new("ValidationException", message)
}

/// `arn`: the alias or version asked for, which AWS names in `resourceName`.
fn resource_not_found(arn: &str) -> ApiError {
    ApiError::new(
        "ResourceNotFound",
        "Request references a resource that does not exist.",
    )
    .with_resource_name(arn)
}

/// What a state machine ARN names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Qualifier {
    Latest,
    Version(u64),
    Alias(String),
}

/// Splits a state machine ARN into the unqualified ARN and what its qualifier names;
/// `None` for anything that is not a state machine ARN.
pub fn split(arn: &str) -> Option<(String, Qualifier)> {
    let parsed = parse_arn(arn)?;
    if parsed.kind != "stateMachine" {
        return None;
    }
    match parsed.rest.split_once(':') {
        None => Some((arn.to_string(), Qualifier::Latest)),
        Some((name, qualifier)) if !name.is_empty() && !qualifier.is_empty() => {
            if qualifier.contains(':') {
                return None;
            }
            let base = arn[..arn.len() - qualifier.len() - 1].to_string();
            if qualifier.bytes().all(|b| b.is_ascii_digit()) {
                let number = qualifier.parse().ok()?;
                Some((base, Qualifier::Version(number)))
            } else {
                Some((base, Qualifier::Alias(qualifier.to_string())))
            }
        }
        _ => None,
    }
}

/// The state machine ARN without its version or alias qualifier (unchanged when it has
/// none or is not a state machine ARN).
pub fn without_qualifier(arn: &str) -> String {
    match split(arn) {
        Some((base, _)) => base,
        None => arn.to_string(),
    }
}

fn load(driver: &Driver, base: &str, shown: &str) -> Result<(StateMachineRecord, u64), ApiError> {
    driver
        .store
        .get_state_machine(base)
        .map_err(store_error)?
        .ok_or_else(|| machine_does_not_exist(shown))
}

fn version_entry(record: &StateMachineRecord, number: u64) -> Option<&Value> {
    record.document.get("versions")?.get(number.to_string())
}

fn alias_entry<'a>(record: &'a StateMachineRecord, name: &str) -> Option<&'a Value> {
    record.document.get("aliases")?.get(name)
}

fn section<'a>(
    record: &'a mut StateMachineRecord,
    field: &str,
) -> Result<&'a mut Map<String, Value>, ApiError> {
    let broken = || ApiError::internal("a stored state machine document is not an object");
    let document = record.document.as_object_mut().ok_or_else(broken)?;
    let entry = document
        .entry(field.to_string())
        .or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    entry.as_object_mut().ok_or_else(broken)
}

fn version_numbers(record: &StateMachineRecord) -> Vec<u64> {
    let mut numbers: Vec<u64> = record
        .document
        .get("versions")
        .and_then(Value::as_object)
        .map(|versions| versions.keys().filter_map(|k| k.parse().ok()).collect())
        .unwrap_or_default();
    numbers.sort_unstable();
    numbers
}

/// Writes a changed state machine document; `Ok(false)` when another writer changed it
/// first (the caller reads it again and retries).
fn save(driver: &Driver, record: &StateMachineRecord, version: u64) -> Result<bool, ApiError> {
    match driver.store.update_state_machine(record, version) {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(StoreError::NotFound(_)) => Err(machine_does_not_exist(&record.arn)),
        Err(other) => Err(store_error(other)),
    }
}

fn busy(arn: &str) -> ApiError {
    ApiError::new(
        "ConflictException",
        format!("State machine '{arn}' is being changed concurrently; retry the request"),
    )
}

/// A change that makes something new of a state machine (a version, an alias, an alias's
/// routing) while it is DELETING: StateMachineDeleting, or StateMachineDoesNotExist once
/// its last execution ended (which deletes it). `Ok` for an ACTIVE one.
fn refuse_deleting(driver: &Driver, record: &StateMachineRecord) -> Result<(), ApiError> {
    if !lifecycle::is_deleting(record) {
        return Ok(());
    }
    match lifecycle::settle(driver, Some((record.clone(), 0)))? {
        Some(_) => Err(lifecycle::deleting(&record.arn)),
        None => Err(machine_does_not_exist(&record.arn)),
    }
}

/// What StartExecution runs for a state machine, version or alias ARN.
#[derive(Debug, Clone)]
pub struct Target {
    /// The unqualified state machine (its ARN and name), with the document of what runs:
    /// the latest revision, or the version's definition, role and type.
    pub machine: StateMachineRecord,
    pub version_arn: Option<String>,
    pub alias_arn: Option<String>,
}

impl Target {
    /// `$$.StateMachine.Id`: the version that runs (an alias's pick too), as AWS gives it;
    /// the execution's records keep the unqualified ARN (`machine.arn`).
    pub fn context_arn(&self) -> &str {
        self.version_arn.as_deref().unwrap_or(&self.machine.arn)
    }
}

/// The unqualified state machine ARN whose record StartExecution reads for `arn` (a state
/// machine, version or alias ARN); InvalidArn for anything else.
pub fn start_base(arn: &str) -> Result<String, ApiError> {
    split(arn)
        .map(|(base, _)| base)
        .ok_or_else(|| invalid_arn(arn))
}

/// Resolves the ARN StartExecution names over the stored record of its state machine (read
/// at [`start_base`]; `None` when there is none), in AWS's order: what does not exist
/// (the state machine, the version, the alias or the version it routes to) is
/// StateMachineDoesNotExist naming `arn`, then a DELETING state machine is
/// StateMachineDeleting. An alias picks one of its versions by weight with `draw()` in
/// 0..100, asked for only then. Every shell resolves through this one function: cairn serve
/// with its driver's entropy, the serverless engine with its own.
pub fn resolve_loaded(
    record: Option<StateMachineRecord>,
    arn: &str,
    draw: impl FnOnce() -> u64,
) -> Result<Target, ApiError> {
    let (base, qualifier) = split(arn).ok_or_else(|| invalid_arn(arn))?;
    let mut record = record.ok_or_else(|| machine_does_not_exist(arn))?;
    let deleting = lifecycle::is_deleting(&record);
    let (number, alias_arn) = match qualifier {
        Qualifier::Latest => {
            if deleting {
                return Err(lifecycle::deleting(arn));
            }
            return Ok(Target {
                machine: record,
                version_arn: None,
                alias_arn: None,
            });
        }
        Qualifier::Version(number) => (number, None),
        Qualifier::Alias(name) => {
            let alias = alias_entry(&record, &name).ok_or_else(|| machine_does_not_exist(arn))?;
            let routes = alias
                .get("routingConfiguration")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let version_arn = pick(&routes, draw() % 100)
                .ok_or_else(|| ApiError::internal(format!("alias '{arn}' routes nowhere")))?;
            let number = match split(&version_arn) {
                Some((_, Qualifier::Version(number))) => number,
                _ => {
                    return Err(ApiError::internal(format!(
                        "alias '{arn}' routes to '{version_arn}'"
                    )))
                }
            };
            (number, Some(arn.to_string()))
        }
    };
    let entry = version_entry(&record, number)
        .cloned()
        .ok_or_else(|| machine_does_not_exist(arn))?;
    if deleting {
        return Err(lifecycle::deleting(arn));
    }
    record.document = entry;
    Ok(Target {
        machine: record,
        version_arn: Some(format!("{base}:{number}")),
        alias_arn,
    })
}

/// [`resolve_loaded`] over cairn serve's store; an alias draws from the driver's entropy
/// (seeded in simulations). A DELETING state machine whose last execution ended is deleted
/// here and answered as missing.
pub(crate) fn resolve(driver: &Driver, arn: &str) -> Result<Target, ApiError> {
    let base = start_base(arn)?;
    let mut record = driver
        .store
        .get_state_machine(&base)
        .map_err(store_error)?
        .map(|(record, _)| record);
    if record.as_ref().is_some_and(lifecycle::is_deleting) {
        record = lifecycle::settle(driver, record.map(|r| (r, 0)))?.map(|(r, _)| r);
    }
    resolve_loaded(record, arn, || driver.seed())
}

/// AWS's ExecutionStarted names the version and alias an execution was started through;
/// the decider does not know them.
pub(crate) fn name_qualifiers(
    history: &mut [HistoryEvent],
    version_arn: Option<&str>,
    alias_arn: Option<&str>,
) {
    let Some(details) = history
        .iter_mut()
        .find(|event| event.event_type == "ExecutionStarted")
        .and_then(|event| event.details.as_object_mut())
    else {
        return;
    };
    if let Some(alias) = alias_arn {
        details.insert("stateMachineAliasArn".into(), Value::from(alias));
    }
    if let Some(version) = version_arn {
        details.insert("stateMachineVersionArn".into(), Value::from(version));
    }
}

/// The version a draw in 0..100 lands on: each route owns `weight` consecutive draws.
fn pick(routes: &[Value], draw: u64) -> Option<String> {
    let mut left = draw;
    let mut last = None;
    for route in routes {
        let weight = route.get("weight").and_then(Value::as_u64).unwrap_or(0);
        let arn = route
            .get("stateMachineVersionArn")
            .and_then(Value::as_str)?;
        if weight > 0 {
            last = Some(arn.to_string());
        }
        if left < weight {
            return Some(arn.to_string());
        }
        left -= weight;
    }
    last
}

/// DescribeStateMachine on a version ARN; `None` for an unqualified ARN (the caller's
/// own path), an error for an alias ARN (AWS describes versions only).
pub(crate) fn describe_version(driver: &Driver, arn: &str) -> Option<Result<Value, ApiError>> {
    let (base, qualifier) = split(arn)?;
    let number = match qualifier {
        Qualifier::Latest => return None,
        Qualifier::Alias(_) => return Some(Err(machine_does_not_exist(arn))),
        Qualifier::Version(number) => number,
    };
    Some(load(driver, &base, arn).and_then(|(record, _)| {
        let entry = version_entry(&record, number).ok_or_else(|| machine_does_not_exist(arn))?;
        let mut out = json!({
            "stateMachineArn": arn,
            "name": record.name,
            "status": "ACTIVE",
            "definition": entry["definition"],
            "roleArn": entry["roleArn"],
            "type": entry["type"],
            "creationDate": timestamp(entry["created"].as_i64().unwrap_or(record.created_ms)),
            "loggingConfiguration": entry["loggingConfiguration"],
            "tracingConfiguration": entry["tracingConfiguration"],
            // A version keeps the encryption of the revision it was published from; one
            // published before Cairn kept it shows its state machine's.
            "encryptionConfiguration": entry
                .get("encryptionConfiguration")
                .cloned()
                .unwrap_or_else(|| crate::fields::stored_encryption(&record.document)),
        });
        for field in ["revisionId", "description"] {
            if let Some(value) = entry.get(field) {
                out[field] = value.clone();
            }
        }
        Ok(out)
    }))
}

/// The revision id a version of this execution was published from, for
/// DescribeStateMachineForExecution.
pub(crate) fn version_revision(driver: &Driver, version_arn: &str) -> Option<Value> {
    let (base, Qualifier::Version(number)) = split(version_arn)? else {
        return None;
    };
    let (record, _) = driver.store.get_state_machine(&base).ok()??;
    version_entry(&record, number)?.get("revisionId").cloned()
}

/// The `loggingConfiguration` of a state machine or version ARN (null when it is gone).
pub(crate) fn logging_configuration(driver: &Driver, arn: &str) -> Value {
    let Some((base, qualifier)) = split(arn) else {
        return Value::Null;
    };
    let Ok(Some((record, _))) = driver.store.get_state_machine(&base) else {
        return Value::Null;
    };
    let document = match qualifier {
        Qualifier::Version(number) => version_entry(&record, number),
        _ => Some(&record.document),
    };
    document
        .and_then(|doc| doc.get("loggingConfiguration"))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Adds the version and alias an execution was started through to a DescribeExecution or
/// ListExecutions item.
pub(crate) fn show_qualifiers(summary: &Value, out: &mut Value) {
    for field in ["stateMachineVersionArn", "stateMachineAliasArn"] {
        if let Some(arn) = summary.get(field) {
            out[field] = arn.clone();
        }
    }
}

/// ListExecutions on a version or alias ARN lists the state machine's executions started
/// through it: the unqualified ARN to query and the field and value to keep.
pub(crate) fn list_filter(arn: &str) -> Option<(String, &'static str)> {
    match split(arn)? {
        (_, Qualifier::Latest) => None,
        (base, Qualifier::Version(_)) => Some((base, "stateMachineVersionArn")),
        (base, Qualifier::Alias(_)) => Some((base, "stateMachineAliasArn")),
    }
}

fn description(p: &Params<'_>, member: &str) -> Result<Option<String>, ApiError> {
    let Some(text) = p.opt_string(member)? else {
        return Ok(None);
    };
    if text.chars().count() > 256 {
        return Err(validation(format!(
            "1 validation error detected: Value '{text}' at '{member}' failed to satisfy constraint: Member must have length less than or equal to 256"
        )));
    }
    Ok(Some(text.to_string()))
}

/// Publishes the current revision of `base` (or answers the version already published from
/// it). `expected_revision` is PublishStateMachineVersion's guard (`INITIAL` for a state
/// machine never updated). Returns the version ARN and its creation time.
pub(crate) fn publish(
    driver: &Driver,
    base: &str,
    description: Option<&str>,
    expected_revision: Option<&str>,
) -> Result<(String, i64), ApiError> {
    for _ in 0..ATTEMPTS {
        let (mut record, version) = load(driver, base, base)?;
        refuse_deleting(driver, &record)?;
        let current = record
            .document
            .get("revisionId")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(expected) = expected_revision {
            let shown = current.as_deref().unwrap_or("INITIAL");
            if expected != shown {
                return Err(ApiError::new(
                    "ConflictException",
                    format!(
                        "Failed to publish the State Machine version for revision {expected}. The current State Machine revision is {shown}."
                    ),
                ));
            }
        }
        let numbers = version_numbers(&record);
        // Idempotent per revision: the newest version of this revision is the answer.
        if let Some(&number) = numbers.iter().rev().find(|&&n| {
            version_entry(&record, n)
                .map(|v| v.get("revisionId").and_then(Value::as_str) == current.as_deref())
                .unwrap_or(false)
        }) {
            let created = version_entry(&record, number)
                .and_then(|v| v["created"].as_i64())
                .unwrap_or(record.created_ms);
            return Ok((format!("{base}:{number}"), created));
        }
        if numbers.len() >= MAX_VERSIONS {
            return Err(ApiError::new(
                "ServiceQuotaExceededException",
                format!(
                    "The state machine '{base}' has reached the maximum of {MAX_VERSIONS} versions; delete unused versions with DeleteStateMachineVersion"
                ),
            ));
        }
        // Numbers are never reused, even after a deletion.
        let last = record
            .document
            .get("nextVersion")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .max(numbers.last().copied().unwrap_or(0));
        let number = last + 1;
        let now = driver.now_ms();
        let doc = &record.document;
        let mut entry = json!({
            "definition": doc["definition"],
            "roleArn": doc["roleArn"],
            "type": doc["type"],
            "loggingConfiguration": doc["loggingConfiguration"],
            "tracingConfiguration": doc["tracingConfiguration"],
            "encryptionConfiguration": crate::fields::stored_encryption(doc),
            "created": now,
        });
        if let Some(revision) = &current {
            entry["revisionId"] = Value::from(revision.clone());
        }
        if let Some(description) = description {
            entry["description"] = Value::from(description);
        }
        section(&mut record, "versions")?.insert(number.to_string(), entry);
        record.document["nextVersion"] = Value::from(number);
        if save(driver, &record, version)? {
            return Ok((format!("{base}:{number}"), now));
        }
    }
    Err(busy(base))
}

/// The actions of this module; `None` for any other action.
pub(crate) fn dispatch(
    driver: &Driver,
    action: &str,
    p: &Params<'_>,
) -> Option<Result<Value, ApiError>> {
    Some(match action {
        "PublishStateMachineVersion" => publish_version(driver, p),
        "ListStateMachineVersions" => list_versions(driver, p),
        "DeleteStateMachineVersion" => delete_version(driver, p),
        "CreateStateMachineAlias" => create_alias(driver, p),
        "DescribeStateMachineAlias" => describe_alias(driver, p),
        "UpdateStateMachineAlias" => update_alias(driver, p),
        "DeleteStateMachineAlias" => delete_alias(driver, p),
        "ListStateMachineAliases" => list_aliases(driver, p),
        _ => return None,
    })
}

/// An unqualified state machine ARN, as the version actions take.
fn unqualified(arn: &str) -> Result<String, ApiError> {
    match split(arn) {
        Some((base, Qualifier::Latest)) => Ok(base),
        Some(_) => Err(machine_does_not_exist(arn)),
        None => Err(invalid_arn(arn)),
    }
}

fn publish_version(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("stateMachineArn")?;
    let description = description(p, "description")?;
    let revision = p.opt_string("revisionId")?;
    let base = unqualified(arn)?;
    let (version_arn, created) = publish(driver, &base, description.as_deref(), revision)?;
    Ok(json!({"stateMachineVersionArn": version_arn, "creationDate": timestamp(created)}))
}

/// A listing's page: `nextToken` carries the last key returned, dated like every other
/// listing's token (InvalidToken 24 hours after its page).
fn page<T: Clone>(
    driver: &Driver,
    items: &[(String, T)],
    p: &Params<'_>,
    after: impl Fn(&str, &str) -> bool,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let limit = p.max_results(100)?;
    let now = driver.now_ms();
    let start = match p.page_cursor(1024, now)? {
        Some(cursor) => {
            let Some(last) = cursor.strip_prefix("after:") else {
                return Err(invalid_token(p.next_token(1024)?.unwrap_or_default()));
            };
            items
                .iter()
                .position(|(key, _)| after(key, last))
                .unwrap_or(items.len())
        }
        None => 0,
    };
    let rest = &items[start..];
    let taken: Vec<(String, T)> = rest.iter().take(limit).cloned().collect();
    let next = match taken.last() {
        Some((key, _)) if rest.len() > taken.len() => {
            Some(page_token(&format!("after:{key}"), now))
        }
        _ => None,
    };
    Ok((taken.into_iter().map(|(_, item)| item).collect(), next))
}

fn list_versions(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("stateMachineArn")?;
    let base = unqualified(arn)?;
    let (record, _) = load(driver, &base, arn)?;
    // Newest first, as AWS lists them.
    let items: Vec<(String, Value)> = version_numbers(&record)
        .into_iter()
        .rev()
        .filter_map(|n| {
            let entry = version_entry(&record, n)?;
            let created = entry["created"].as_i64().unwrap_or(record.created_ms);
            Some((
                n.to_string(),
                json!({"stateMachineVersionArn": format!("{base}:{n}"), "creationDate": timestamp(created)}),
            ))
        })
        .collect();
    let (items, next) = page(driver, &items, p, |key, token| {
        key.parse::<u64>().unwrap_or(0) < token.parse::<u64>().unwrap_or(0)
    })?;
    let mut out = json!({"stateMachineVersions": items});
    if let Some(next) = next {
        out["nextToken"] = Value::from(next);
    }
    Ok(out)
}

fn routed_versions(alias: &Value) -> Vec<String> {
    alias
        .get("routingConfiguration")
        .and_then(Value::as_array)
        .map(|routes| {
            routes
                .iter()
                .filter_map(|r| r.get("stateMachineVersionArn").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn delete_version(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("stateMachineVersionArn")?;
    let (base, number) = match split(arn) {
        Some((base, Qualifier::Version(number))) => (base, number),
        _ => return Err(invalid_arn(arn)),
    };
    for _ in 0..ATTEMPTS {
        // Deleting what does not exist succeeds, as in AWS.
        let Some((mut record, version)) =
            driver.store.get_state_machine(&base).map_err(store_error)?
        else {
            return Ok(json!({}));
        };
        if version_entry(&record, number).is_none() {
            return Ok(json!({}));
        }
        let referencing: Vec<String> = record
            .document
            .get("aliases")
            .and_then(Value::as_object)
            .map(|aliases| {
                aliases
                    .iter()
                    .filter(|(_, alias)| routed_versions(alias).iter().any(|v| v == arn))
                    .map(|(name, _)| name.clone())
                    .collect()
            })
            .unwrap_or_default();
        if !referencing.is_empty() {
            return Err(ApiError::new(
                "ConflictException",
                format!(
                    "Version to be deleted must not be referenced by an alias. Current list of aliases referencing this version: [{}]",
                    referencing.join(", ")
                ),
            ));
        }
        let last = record
            .document
            .get("nextVersion")
            .and_then(Value::as_u64)
            .unwrap_or(number)
            .max(number);
        section(&mut record, "versions")?.remove(&number.to_string());
        record.document["nextVersion"] = Value::from(last);
        match driver.store.update_state_machine(&record, version) {
            Ok(_) | Err(StoreError::NotFound(_)) => return Ok(json!({})),
            Err(StoreError::Conflict(_)) => {}
            Err(other) => return Err(store_error(other)),
        }
    }
    Err(busy(&base))
}

/// AWS's alias name rule: 1 to 80 of letters, digits, `_`, `-`, `.`, at least one of them
/// not a digit (an all-digit qualifier is a version).
fn check_alias_name(name: &str) -> Result<(), ApiError> {
    let count = name.chars().count();
    if count == 0 {
        return Err(validation(
            "1 validation error detected: Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    if count > 80 {
        return Err(validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80"
        )));
    }
    let allowed = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    let not_all_digits = name.chars().any(|c| !c.is_ascii_digit());
    if allowed && not_all_digits {
        Ok(())
    } else {
        Err(validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(?=.*[a-zA-Z_\\-\\.])[a-zA-Z0-9_\\-\\.]+$"
        )))
    }
}

/// Checks a routing configuration as AWS does, in its order: the list's length, each
/// weight, then that the ARNs are distinct versions of `base` whose weights sum to 100.
/// Returns it normalised (`stateMachineVersionArn`, `weight`).
fn routing(
    driver: &Driver,
    p: &Params<'_>,
    base: Option<&str>,
) -> Result<Option<(String, Vec<Value>)>, ApiError> {
    let Some(value) = p.get("routingConfiguration") else {
        return Ok(None);
    };
    let list = value.as_array().ok_or_else(|| {
        ApiError::new(
            "SerializationException",
            "'routingConfiguration' must be a list",
        )
    })?;
    if list.is_empty() {
        return Err(validation(
            "1 validation error detected: Value '[]' at 'routingConfiguration' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    let mut routes = Vec::new();
    for route in list {
        let arn = route
            .get("stateMachineVersionArn")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                validation("1 validation error detected: Value null at 'routingConfiguration.member.stateMachineVersionArn' failed to satisfy constraint: Member must not be null")
            })?;
        let weight = route.get("weight").and_then(Value::as_i64).ok_or_else(|| {
            validation("1 validation error detected: Value null at 'routingConfiguration.member.weight' failed to satisfy constraint: Member must not be null")
        })?;
        routes.push((arn.to_string(), weight));
    }
    if routes.len() > 2 {
        let shown: Vec<String> = routes
            .iter()
            .map(|(arn, weight)| {
                format!(
                    "RoutingConfigurationListItem(stateMachineVersionArn={arn}, weight={weight})"
                )
            })
            .collect();
        return Err(validation(format!(
            "1 validation error detected: Value '[{}]' at 'routingConfiguration' failed to satisfy constraint: Member must have length less than or equal to 2",
            shown.join(", ")
        )));
    }
    for (index, (_, weight)) in routes.iter().enumerate() {
        let position = index + 1;
        if *weight > 100 {
            return Err(validation(format!(
                "1 validation error detected: Value '{weight}' at 'routingConfiguration.{position}.member.weight' failed to satisfy constraint: Member must have value less than or equal to 100"
            )));
        }
        if *weight < 0 {
            return Err(validation(format!(
                "1 validation error detected: Value '{weight}' at 'routingConfiguration.{position}.member.weight' failed to satisfy constraint: Member must have value greater than or equal to 0"
            )));
        }
    }
    let arns: Vec<&str> = routes.iter().map(|(arn, _)| arn.as_str()).collect();
    let received = format!("[{}]", arns.join(", "));
    let parsed: Vec<Option<(String, Qualifier)>> = arns.iter().map(|arn| split(arn)).collect();
    if parsed
        .iter()
        .any(|p| !matches!(p, Some((_, Qualifier::Version(_)))))
    {
        return Err(validation(format!(
            "Routing configuration must contain state machine version ARNs. Received: {received}"
        )));
    }
    if arns.len() == 2 && arns[0] == arns[1] {
        return Err(validation(format!(
            "Routing configuration must contain distinct state machine version ARNs. Received: {received}"
        )));
    }
    let bases: Vec<String> = parsed.into_iter().flatten().map(|(b, _)| b).collect();
    if bases.iter().any(|b| b != &bases[0]) || base.is_some_and(|base| base != bases[0]) {
        return Err(validation(format!(
            "Routing configuration must contain state machine version ARNs of the same state machine. Received: {received}"
        )));
    }
    let weights: Vec<String> = routes.iter().map(|(_, w)| w.to_string()).collect();
    if routes.iter().map(|(_, w)| w).sum::<i64>() != 100 {
        return Err(validation(format!(
            "Sum of routing configuration weights must equal 100. Received: [{}]",
            weights.join(", ")
        )));
    }
    let owner = bases[0].clone();
    let (record, _) = driver
        .store
        .get_state_machine(&owner)
        .map_err(store_error)?
        .ok_or_else(|| resource_not_found(arns[0]))?;
    for (arn, _) in &routes {
        if let Some((_, Qualifier::Version(number))) = split(arn) {
            if version_entry(&record, number).is_none() {
                return Err(resource_not_found(arn));
            }
        }
    }
    let normalised = routes
        .into_iter()
        .map(|(arn, weight)| json!({"stateMachineVersionArn": arn, "weight": weight}))
        .collect();
    Ok(Some((owner, normalised)))
}

fn create_alias(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let name = p.string("name")?;
    let description = description(p, "description")?;
    check_alias_name(name)?;
    let Some((base, routes)) = routing(driver, p, None)? else {
        return Err(validation(
            "1 validation error detected: Value null at 'routingConfiguration' failed to satisfy constraint: Member must not be null",
        ));
    };
    let alias_arn = format!("{base}:{name}");
    for _ in 0..ATTEMPTS {
        let (mut record, version) = load(driver, &base, &base)?;
        refuse_deleting(driver, &record)?;
        if let Some(existing) = alias_entry(&record, name) {
            // Idempotent on the same description and routing, a conflict otherwise.
            let same = existing.get("routingConfiguration") == Some(&Value::Array(routes.clone()))
                && existing.get("description").and_then(Value::as_str) == description.as_deref();
            if !same {
                return Err(ApiError::new(
                    "ConflictException",
                    "Failed to create alias because an alias with the same name and a different routing configuration already exists.",
                ));
            }
            let created = existing["created"].as_i64().unwrap_or(record.created_ms);
            return Ok(
                json!({"stateMachineAliasArn": alias_arn, "creationDate": timestamp(created)}),
            );
        }
        let count = record
            .document
            .get("aliases")
            .and_then(Value::as_object)
            .map_or(0, Map::len);
        if count >= MAX_ALIASES {
            return Err(ApiError::new(
                "ServiceQuotaExceededException",
                format!(
                    "The state machine '{base}' has reached the maximum of {MAX_ALIASES} aliases"
                ),
            ));
        }
        let now = driver.now_ms();
        let mut entry = json!({"routingConfiguration": routes, "created": now, "updated": now});
        if let Some(description) = &description {
            entry["description"] = Value::from(description.clone());
        }
        section(&mut record, "aliases")?.insert(name.to_string(), entry);
        if save(driver, &record, version)? {
            return Ok(json!({"stateMachineAliasArn": alias_arn, "creationDate": timestamp(now)}));
        }
    }
    Err(busy(&base))
}

/// An alias ARN's state machine and alias name.
fn alias_arn_parts(arn: &str) -> Result<(String, String), ApiError> {
    match split(arn) {
        Some((base, Qualifier::Alias(name))) => Ok((base, name)),
        _ => Err(invalid_arn(arn)),
    }
}

fn describe_alias(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("stateMachineAliasArn")?;
    let (base, name) = alias_arn_parts(arn)?;
    let (record, _) = driver
        .store
        .get_state_machine(&base)
        .map_err(store_error)?
        .ok_or_else(|| resource_not_found(arn))?;
    let alias = alias_entry(&record, &name).ok_or_else(|| resource_not_found(arn))?;
    let created = alias["created"].as_i64().unwrap_or(record.created_ms);
    let mut out = json!({
        "stateMachineAliasArn": arn,
        "name": name,
        "routingConfiguration": alias["routingConfiguration"],
        "creationDate": timestamp(created),
        "updateDate": timestamp(alias["updated"].as_i64().unwrap_or(created)),
    });
    if let Some(description) = alias.get("description") {
        out["description"] = description.clone();
    }
    Ok(out)
}

fn update_alias(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("stateMachineAliasArn")?;
    let (base, name) = alias_arn_parts(arn)?;
    let description = description(p, "description")?;
    let routes = routing(driver, p, Some(&base))?;
    if description.is_none() && routes.is_none() {
        return Err(ApiError::new(
            "MissingRequiredParameter",
            "Either the description or the routing configuration must be specified",
        ));
    }
    for _ in 0..ATTEMPTS {
        let Some((mut record, version)) =
            driver.store.get_state_machine(&base).map_err(store_error)?
        else {
            return Err(resource_not_found(arn));
        };
        refuse_deleting(driver, &record)?;
        let now = driver.now_ms();
        let aliases = section(&mut record, "aliases")?;
        let alias = aliases
            .get_mut(&name)
            .ok_or_else(|| resource_not_found(arn))?;
        let before = alias.clone();
        if let Some(description) = &description {
            alias["description"] = Value::from(description.clone());
        }
        if let Some((_, routes)) = &routes {
            alias["routingConfiguration"] = Value::Array(routes.clone());
        }
        if *alias == before {
            // AWS: an update that repeats the alias's configuration is idempotent, answered
            // with the update that made it so.
            let updated = before["updated"].as_i64().unwrap_or(now);
            return Ok(json!({"updateDate": timestamp(updated)}));
        }
        alias["updated"] = Value::from(now);
        if save(driver, &record, version)? {
            return Ok(json!({"updateDate": timestamp(now)}));
        }
    }
    Err(busy(&base))
}

fn delete_alias(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("stateMachineAliasArn")?;
    let (base, name) = alias_arn_parts(arn)?;
    for _ in 0..ATTEMPTS {
        // Deleting what does not exist succeeds, as in AWS.
        let Some((mut record, version)) =
            driver.store.get_state_machine(&base).map_err(store_error)?
        else {
            return Ok(json!({}));
        };
        if alias_entry(&record, &name).is_none() {
            return Ok(json!({}));
        }
        section(&mut record, "aliases")?.remove(&name);
        match driver.store.update_state_machine(&record, version) {
            Ok(_) | Err(StoreError::NotFound(_)) => return Ok(json!({})),
            Err(StoreError::Conflict(_)) => {}
            Err(other) => return Err(store_error(other)),
        }
    }
    Err(busy(&base))
}

fn list_aliases(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("stateMachineArn")?;
    // A version ARN lists the aliases that route to that version.
    let (base, only_version) = match split(arn) {
        Some((base, Qualifier::Latest)) => (base, None),
        Some((base, Qualifier::Version(_))) => (base, Some(arn)),
        Some(_) => return Err(invalid_arn(arn)),
        None => return Err(invalid_arn(arn)),
    };
    let (record, _) = load(driver, &base, arn)?;
    let mut items: Vec<(String, Value)> = record
        .document
        .get("aliases")
        .and_then(Value::as_object)
        .map(|aliases| {
            aliases
                .iter()
                .filter(|(_, alias)| {
                    only_version.is_none_or(|v| routed_versions(alias).iter().any(|r| r == v))
                })
                .map(|(name, alias)| {
                    let created = alias["created"].as_i64().unwrap_or(record.created_ms);
                    (
                        name.clone(),
                        json!({"stateMachineAliasArn": format!("{base}:{name}"), "creationDate": timestamp(created)}),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let (items, next) = page(driver, &items, p, |key, token| key > token)?;
    let mut out = json!({"stateMachineAliases": items});
    if let Some(next) = next {
        out["nextToken"] = Value::from(next);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_split_into_machine_and_qualifier() {
        let base = "arn:aws:states:us-east-1:1:stateMachine:m";
        assert_eq!(split(base), Some((base.to_string(), Qualifier::Latest)));
        assert_eq!(
            split(&format!("{base}:12")),
            Some((base.to_string(), Qualifier::Version(12)))
        );
        assert_eq!(
            split(&format!("{base}:PROD")),
            Some((base.to_string(), Qualifier::Alias("PROD".into())))
        );
        assert_eq!(split(&format!("{base}:a:b")), None);
        assert_eq!(split("arn:aws:states:us-east-1:1:activity:a"), None);
    }

    #[test]
    fn weights_own_consecutive_draws() {
        let routes = vec![
            json!({"stateMachineVersionArn": "v1", "weight": 90}),
            json!({"stateMachineVersionArn": "v2", "weight": 10}),
        ];
        let picks: Vec<String> = (0..100).filter_map(|d| pick(&routes, d)).collect();
        assert_eq!(picks.iter().filter(|v| *v == "v1").count(), 90);
        assert_eq!(picks.iter().filter(|v| *v == "v2").count(), 10);
        let only = vec![
            json!({"stateMachineVersionArn": "v1", "weight": 0}),
            json!({"stateMachineVersionArn": "v2", "weight": 100}),
        ];
        assert!((0..100).all(|d| pick(&only, d).as_deref() == Some("v2")));
    }

    /// A state machine whose latest revision, version 1 and version 2 differ, with an
    /// alias `live` routing 30/70 between the versions.
    fn stored(status: &str) -> StateMachineRecord {
        let base = "arn:aws:states:us-east-1:1:stateMachine:m";
        StateMachineRecord {
            arn: base.into(),
            name: "m".into(),
            created_ms: 0,
            document: json!({
                "definition": "latest", "roleArn": "r0", "type": "STANDARD", "status": status,
                "versions": {
                    "1": {"definition": "one", "roleArn": "r1", "type": "STANDARD"},
                    "2": {"definition": "two", "roleArn": "r2", "type": "STANDARD"},
                },
                "aliases": {"live": {"routingConfiguration": [
                    {"stateMachineVersionArn": format!("{base}:1"), "weight": 30},
                    {"stateMachineVersionArn": format!("{base}:2"), "weight": 70},
                ]}},
            }),
        }
    }

    fn refused(result: Result<Target, ApiError>) -> (String, String) {
        let error = result.expect_err("refused");
        (error.error_type, error.message)
    }

    #[test]
    fn starts_resolve_to_what_runs() {
        let base = "arn:aws:states:us-east-1:1:stateMachine:m";
        let never = || -> u64 { panic!("only an alias draws") };
        let latest = resolve_loaded(Some(stored("ACTIVE")), base, never).unwrap();
        assert_eq!(latest.machine.document["definition"], "latest");
        assert_eq!((latest.version_arn, latest.alias_arn), (None, None));
        assert_eq!(
            resolve_loaded(Some(stored("ACTIVE")), base, never)
                .unwrap()
                .context_arn(),
            base
        );

        let v2 = format!("{base}:2");
        let target = resolve_loaded(Some(stored("ACTIVE")), &v2, never).unwrap();
        assert_eq!(target.machine.document["definition"], "two");
        assert_eq!(target.machine.document["roleArn"], "r2");
        assert_eq!(target.machine.arn, base);
        assert_eq!(target.context_arn(), v2);
        assert_eq!(target.alias_arn, None);

        // The alias's draw: the first 30 of 100 land on version 1, the rest on version 2.
        let alias = format!("{base}:live");
        for (draw, want) in [
            (0, "one"),
            (29, "one"),
            (30, "two"),
            (99, "two"),
            (130, "two"),
        ] {
            let target = resolve_loaded(Some(stored("ACTIVE")), &alias, || draw).unwrap();
            assert_eq!(target.machine.document["definition"], want, "draw {draw}");
            assert_eq!(target.alias_arn.as_deref(), Some(alias.as_str()));
            let number = if want == "one" { 1 } else { 2 };
            assert_eq!(target.context_arn(), format!("{base}:{number}"));
        }
    }

    #[test]
    fn starts_are_refused_in_aws_order() {
        let base = "arn:aws:states:us-east-1:1:stateMachine:m";
        let missing = |arn: &str| {
            (
                "StateMachineDoesNotExist".to_string(),
                format!("State Machine Does Not Exist: '{arn}'"),
            )
        };
        let deleting = |arn: &str| {
            (
                "StateMachineDeleting".to_string(),
                format!("State machine is being deleted: '{arn}'"),
            )
        };
        for arn in [format!("{base}:3"), format!("{base}:gone")] {
            assert_eq!(
                refused(resolve_loaded(Some(stored("ACTIVE")), &arn, || 0)),
                missing(&arn)
            );
            // What does not exist is missing even while the state machine is being deleted.
            assert_eq!(
                refused(resolve_loaded(Some(stored("DELETING")), &arn, || 0)),
                missing(&arn)
            );
            assert_eq!(refused(resolve_loaded(None, &arn, || 0)), missing(&arn));
        }
        for arn in [
            base.to_string(),
            format!("{base}:1"),
            format!("{base}:live"),
        ] {
            assert_eq!(
                refused(resolve_loaded(Some(stored("DELETING")), &arn, || 0)),
                deleting(&arn)
            );
        }
        // An alias whose version went (AWS refuses that deletion; a store edited by hand).
        let mut record = stored("ACTIVE");
        record.document["versions"]
            .as_object_mut()
            .unwrap()
            .remove("1");
        let alias = format!("{base}:live");
        assert_eq!(
            refused(resolve_loaded(Some(record), &alias, || 0)),
            missing(&alias)
        );
        assert_eq!(
            refused(resolve_loaded(None, "m", || 0)),
            (
                "InvalidArn".to_string(),
                "Invalid Arn: 'Invalid ARN prefix: m'".to_string()
            )
        );
        assert_eq!(start_base(&format!("{base}:live")).unwrap(), base);
    }

    #[test]
    fn alias_names_follow_aws_rules() {
        for good in ["PROD", "a-b.c_d", "v1", "x"] {
            assert!(check_alias_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "123",
            "INVALID ALIAS",
            "!INVALID",
            "ALIAS@",
            &"A".repeat(81),
        ] {
            assert!(check_alias_name(bad).is_err(), "{bad}");
        }
    }
}
