//! The actions: request validation with AWS's errors, then the store or the driver.

use std::time::{Duration, Instant};

use cairn_asl::validate::{validate_str, MachineType as ValidateType, Options, Report};
use cairn_common::entropy::uuid_from_bits;
use cairn_interpreter::{Event, ExecutionInfo, HistoryEvent, MachineType};
use cairn_store::{Error as StoreError, ExecutionQuery, HistoryQuery, StateMachineRecord};
use serde_json::{json, Value};

use crate::driver::{store_error, Advanced, Driver, ExpressJob, ExpressRun};
use crate::machines::lifecycle;
use crate::names::{
    activity_does_not_exist, check_activity_arn, check_execution_arn, check_name,
    check_state_machine_arn, execution_does_not_exist, machine_does_not_exist,
};
use crate::params::{invalid_token, page_token, timestamp, Params};
use crate::persisted::Persisted;
use crate::{ApiError, ACTIONS};

pub fn dispatch(driver: &Driver, action: &str, request: &Value) -> Result<Value, ApiError> {
    let p = Params::new(request)?;
    crate::params::check_request(action, request, driver.config.limits.max_payload_bytes)?;
    if let Some(result) = crate::versions::dispatch(driver, action, &p) {
        return result;
    }
    if let Some(result) = crate::tags::dispatch(driver, action, &p) {
        return result;
    }
    if let Some(result) = crate::map_runs::dispatch(driver, action, &p) {
        return result;
    }
    match action {
        "CreateStateMachine" => create_state_machine(driver, &p),
        "DescribeStateMachine" => describe_state_machine(driver, &p),
        "UpdateStateMachine" => update_state_machine(driver, &p),
        "DeleteStateMachine" => delete_state_machine(driver, &p),
        "ListStateMachines" => list_state_machines(driver, &p),
        "DescribeStateMachineForExecution" => describe_state_machine_for_execution(driver, &p),
        "ValidateStateMachineDefinition" => validate_definition(&p),
        "StartExecution" => start_execution(driver, &p),
        "StartSyncExecution" => start_sync_execution(driver, &p),
        "StopExecution" => stop_execution(driver, &p),
        "RedriveExecution" => crate::redrive::redrive_execution(driver, &p),
        "DescribeExecution" => describe_execution(driver, &p),
        "ListExecutions" => list_executions(driver, &p),
        "GetExecutionHistory" => get_execution_history(driver, &p),
        "CreateActivity" => create_activity(driver, &p),
        "DescribeActivity" => describe_activity(driver, &p),
        "DeleteActivity" => delete_activity(driver, &p),
        "ListActivities" => list_activities(driver, &p),
        "GetActivityTask" => get_activity_task(driver, &p),
        "SendTaskSuccess" => send_task_result(driver, &p, TaskResult::Success),
        "SendTaskFailure" => send_task_result(driver, &p, TaskResult::Failure),
        "SendTaskHeartbeat" => send_task_result(driver, &p, TaskResult::Heartbeat),
        "TestState" => crate::test_state::test_state(driver, &p),
        known if ACTIONS.contains(&known) => Err(ApiError::new(
            "UnsupportedOperation",
            format!("Cairn does not support the action '{known}' yet"),
        )),
        unknown => Err(ApiError::new(
            "UnknownOperationException",
            format!("Unknown operation: '{unknown}'"),
        )),
    }
}

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new("ValidationException", message)
}

fn machine_type_param(p: &Params<'_>) -> Result<&'static str, ApiError> {
    match p.opt_string("type")? {
        None | Some("STANDARD") => Ok("STANDARD"),
        Some("EXPRESS") => Ok("EXPRESS"),
        Some(other) => Err(validation(format!(
            "1 validation error detected: Value '{other}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
        ))),
    }
}

fn validate_for(definition: &str, machine_type: &str) -> Report {
    let machine_type = if machine_type == "EXPRESS" {
        ValidateType::Express
    } else {
        ValidateType::Standard
    };
    validate_str(definition, &Options { machine_type })
}

/// Validation as CreateStateMachine does it, then a check that Cairn can run the definition.
fn check_definition(driver: &Driver, definition: &str, machine_type: &str) -> Result<(), ApiError> {
    if let Some(message) = validate_for(definition, machine_type).message() {
        return Err(ApiError::new("InvalidDefinition", message));
    }
    driver.machine(definition).map(|_| ()).map_err(|e| {
        ApiError::new(
            "InvalidDefinition",
            format!("Cairn cannot run this definition yet: {}", e.message),
        )
    })
}

/// CreateStateMachine's and CreateActivity's `tags`, with AWS's limits.
fn tags_param(p: &Params<'_>, arn: &str) -> Result<Vec<Value>, ApiError> {
    crate::tags::merged(Vec::new(), crate::tags::parse(p)?, arn)
}

fn doc_str<'a>(record: &'a StateMachineRecord, field: &str) -> &'a str {
    record
        .document
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The state machine (ACTIVE, or DELETING while executions of it run).
fn get_machine(driver: &Driver, arn: &str) -> Result<(StateMachineRecord, u64), ApiError> {
    check_state_machine_arn(arn)?;
    let found = driver.store.get_state_machine(arn).map_err(store_error)?;
    lifecycle::settle(driver, found)?.ok_or_else(|| machine_does_not_exist(arn))
}

fn create_state_machine(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let name = p.string("name")?;
    let definition = p.string("definition")?;
    let role_arn = p.string("roleArn")?;
    let machine_type = machine_type_param(p)?;
    let publish = p.opt_bool("publish")?.unwrap_or(false);
    if p.get("versionDescription").is_some() && !publish {
        return Err(validation(
            "Version description can only be set when publish is true",
        ));
    }
    let version_description = p.opt_string("versionDescription")?;
    check_name(name)?;
    check_definition(driver, definition, machine_type)?;
    let config = &driver.config;
    let arn = format!(
        "arn:aws:states:{}:{}:stateMachine:{name}",
        config.region, config.account
    );
    let now = driver.now_ms();
    let logging = match p.get("loggingConfiguration") {
        Some(logging) => crate::observe::logging_configuration(logging)?,
        None => json!({"level": "OFF", "includeExecutionData": false}),
    };
    let tracing = tracing_configuration(p.get("tracingConfiguration"))?;
    let encryption = crate::fields::encryption_configuration(p.get("encryptionConfiguration"))?;
    // AWS's idempotency compares `publish` and `versionDescription` with the creating
    // request's too, so the record remembers them.
    let created_with = json!({"publish": publish, "versionDescription": version_description});
    let record = StateMachineRecord {
        arn: arn.clone(),
        name: name.to_string(),
        created_ms: now,
        document: json!({
            "definition": definition,
            "roleArn": role_arn,
            "type": machine_type,
            "loggingConfiguration": logging.clone(),
            "tracingConfiguration": tracing.clone(),
            "encryptionConfiguration": encryption,
            "tags": tags_param(p, &arn)?,
            "createdWith": created_with.clone(),
        }),
    };
    // Publishing on creation: the new state machine's first version.
    let published = |mut out: Value| -> Result<Value, ApiError> {
        if publish {
            let (version, _) = crate::versions::publish(driver, &arn, version_description, None)?;
            out["stateMachineVersionArn"] = Value::from(version);
        }
        Ok(out)
    };
    crate::machines::quotas::admit_state_machine(
        driver.store.as_ref(),
        crate::machines::quotas::STATE_MACHINES,
        || {
            Ok(driver
                .store
                .get_state_machine(&arn)
                .map_err(store_error)?
                .is_some())
        },
    )?;
    match driver.store.create_state_machine(&record) {
        Ok(()) => published(json!({"stateMachineArn": arn, "creationDate": timestamp(now)})),
        Err(StoreError::AlreadyExists(_)) => {
            // AWS's idempotency: the same name, definition, type, logging, tracing and
            // encryption configurations, publish and versionDescription answer the original;
            // a different role or tags are ignored (and not applied).
            let existing = driver.store.get_state_machine(&arn).map_err(store_error)?;
            let Some((existing, _)) = lifecycle::settle(driver, existing)? else {
                // A DELETING one just deleted (or a concurrent delete): the name is free.
                return match driver.store.create_state_machine(&record) {
                    Ok(()) => {
                        published(json!({"stateMachineArn": arn, "creationDate": timestamp(now)}))
                    }
                    Err(StoreError::AlreadyExists(_)) => Err(ApiError::new(
                        "ConflictException",
                        format!("State machine '{arn}' is being created concurrently; retry"),
                    )),
                    Err(other) => Err(store_error(other)),
                };
            };
            if lifecycle::is_deleting(&existing) {
                return Err(lifecycle::deleting(&arn));
            }
            if doc_str(&existing, "definition") == definition
                && doc_str(&existing, "type") == machine_type
                && existing.document["loggingConfiguration"] == logging
                && tracing_configuration(existing.document.get("tracingConfiguration")).ok()
                    == Some(tracing.clone())
                && crate::fields::stored_encryption(&existing.document) == encryption
                // Records from before Cairn kept the creating request's flags match any.
                && existing
                    .document
                    .get("createdWith")
                    .is_none_or(|kept| *kept == created_with)
            {
                published(
                    json!({"stateMachineArn": arn, "creationDate": timestamp(existing.created_ms)}),
                )
            } else {
                Err(ApiError::new(
                    "StateMachineAlreadyExists",
                    format!("State Machine Already Exists: '{arn}'"),
                ))
            }
        }
        Err(other) => Err(store_error(other)),
    }
}

/// `tracingConfiguration` as AWS keeps and describes it: `enabled` always present, false
/// unless set (a request's `{}` describes as `{"enabled": false}`).
fn tracing_configuration(given: Option<&Value>) -> Result<Value, ApiError> {
    let Some(given) = given else {
        return Ok(json!({"enabled": false}));
    };
    let Some(object) = given.as_object() else {
        return Err(ApiError::new(
            "SerializationException",
            "'tracingConfiguration' must be an object",
        ));
    };
    match object.get("enabled") {
        None | Some(Value::Null) => Ok(json!({"enabled": false})),
        Some(Value::Bool(enabled)) => Ok(json!({"enabled": enabled})),
        Some(_) => Err(ApiError::new(
            "InvalidTracingConfiguration",
            "Invalid Tracing Configuration: 'enabled' must be true or false",
        )),
    }
}

/// A stored state machine's tracing configuration as AWS describes it (records stored
/// before Cairn completed it may hold the request's `{}`).
fn stored_tracing(document: &Value) -> Value {
    tracing_configuration(document.get("tracingConfiguration"))
        .unwrap_or_else(|_| document["tracingConfiguration"].clone())
}

fn revision_id(driver: &Driver) -> String {
    uuid(driver)
}

/// A random version-4 UUID (execution names, revision ids).
pub fn uuid(driver: &Driver) -> String {
    let hi = driver.seed();
    uuid_from_bits(hi, driver.seed())
}

fn describe_state_machine(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("stateMachineArn")?;
    let metadata_only = crate::fields::metadata_only(p)?;
    if let Some((base, label)) = crate::fields::split_label(arn) {
        // AWS: METADATA_ONLY does not apply to a label ARN.
        return describe_labeled(driver, arn, &base, label);
    }
    let mut out = match crate::versions::describe_version(driver, arn) {
        Some(version) => {
            let mut out = version?;
            let definition = out["definition"].as_str().unwrap_or("").to_string();
            if let Some(references) = crate::fields::variable_references(&definition) {
                out["variableReferences"] = references;
            }
            out
        }
        None => machine_description(&get_machine(driver, arn)?.0),
    };
    if metadata_only {
        crate::fields::strip_definition(&mut out);
    }
    Ok(out)
}

/// DescribeStateMachine on `…:stateMachine:<name>/<label>`: the state machine a
/// Distributed Map's child executions run (its ItemProcessor), with the label.
fn describe_labeled(
    driver: &Driver,
    arn: &str,
    base: &str,
    label: &str,
) -> Result<Value, ApiError> {
    let (record, _) = get_machine(driver, base)?;
    let child = crate::fields::labeled_map(doc_str(&record, "definition"), label)
        .ok_or_else(|| machine_does_not_exist(arn))?;
    let definition = serde_json::to_string(&child)
        .map_err(|e| ApiError::internal(format!("a Map state cannot be shown: {e}")))?;
    let mut out = machine_description(&record);
    out["stateMachineArn"] = Value::from(arn);
    out["label"] = Value::from(label);
    out["definition"] = Value::from(definition.clone());
    match crate::fields::variable_references(&definition) {
        Some(references) => out["variableReferences"] = references,
        None => {
            if let Some(object) = out.as_object_mut() {
                object.remove("variableReferences");
            }
        }
    }
    Ok(out)
}

fn machine_description(record: &StateMachineRecord) -> Value {
    let doc = &record.document;
    let mut out = json!({
        "stateMachineArn": record.arn,
        "name": record.name,
        "status": lifecycle::status(record),
        "definition": doc["definition"],
        "roleArn": doc["roleArn"],
        "type": doc["type"],
        "creationDate": timestamp(record.created_ms),
        "loggingConfiguration": doc["loggingConfiguration"],
        "tracingConfiguration": stored_tracing(doc),
        "encryptionConfiguration": crate::fields::stored_encryption(doc),
    });
    if let Some(revision) = doc.get("revisionId") {
        out["revisionId"] = revision.clone();
    }
    if let Some(references) = crate::fields::variable_references(doc_str(record, "definition")) {
        out["variableReferences"] = references;
    }
    out
}

fn update_state_machine(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("stateMachineArn")?;
    let definition = p.opt_string("definition")?;
    let role_arn = p.opt_string("roleArn")?;
    let logging = p.get("loggingConfiguration");
    let tracing = p.get("tracingConfiguration");
    let encryption = p.get("encryptionConfiguration");
    // AWS: a Distributed Map's label ARN names no state machine that can change.
    if crate::fields::split_label(arn).is_some() {
        return Err(crate::fields::labeled_arn_refused());
    }
    let (mut record, version) = get_machine(driver, arn)?;
    if lifecycle::is_deleting(&record) {
        return Err(lifecycle::deleting(arn));
    }
    if definition.is_none()
        && role_arn.is_none()
        && logging.is_none()
        && tracing.is_none()
        && encryption.is_none()
    {
        return Err(ApiError::new(
            "MissingRequiredParameter",
            "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified",
        ));
    }
    let publish = p.opt_bool("publish")?.unwrap_or(false);
    let version_description = p.opt_string("versionDescription")?;
    if version_description.is_some() && !publish {
        return Err(validation(
            "Version description can only be set when publish is true",
        ));
    }
    let before = record.document.clone();
    if let Some(definition) = definition {
        let machine_type = doc_str(&record, "type").to_string();
        check_definition(driver, definition, &machine_type)?;
        record.document["definition"] = Value::from(definition);
    }
    if let Some(role_arn) = role_arn {
        record.document["roleArn"] = Value::from(role_arn);
    }
    if let Some(logging) = logging {
        record.document["loggingConfiguration"] = crate::observe::logging_configuration(logging)?;
    }
    if let Some(tracing) = tracing {
        record.document["tracingConfiguration"] = tracing_configuration(Some(tracing))?;
    }
    if let Some(encryption) = encryption {
        record.document["encryptionConfiguration"] =
            crate::fields::encryption_configuration(Some(encryption))?;
    }
    let now = driver.now_ms();
    // An update that changes nothing keeps the revision (AWS: a state machine never
    // changed has none), so publishing after it answers the version already published.
    if record.document != before {
        record.document["revisionId"] = Value::from(revision_id(driver));
    }
    record.document["updateDate"] = Value::from(now);
    match driver.store.update_state_machine(&record, version) {
        Ok(_) => {
            let mut out = json!({"updateDate": timestamp(now)});
            if let Some(revision) = record.document.get("revisionId") {
                out["revisionId"] = revision.clone();
            }
            if publish {
                let (version, _) =
                    crate::versions::publish(driver, arn, version_description, None)?;
                out["stateMachineVersionArn"] = Value::from(version);
            }
            Ok(out)
        }
        Err(StoreError::NotFound(_)) => Err(machine_does_not_exist(arn)),
        Err(StoreError::Conflict(_)) => Err(ApiError::new(
            "ConflictException",
            format!("State machine '{arn}' was updated concurrently; retry the update"),
        )),
        Err(other) => Err(store_error(other)),
    }
}

fn delete_state_machine(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("stateMachineArn")?;
    check_state_machine_arn(arn)?;
    // AWS: deleting through a Distributed Map's label ARN is a ValidationException (before,
    // Cairn answered success, deleting nothing).
    if crate::fields::split_label(arn).is_some() {
        return Err(crate::fields::labeled_arn_refused());
    }
    lifecycle::delete(driver, arn)?;
    Ok(json!({}))
}

fn list_state_machines(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let limit = p.max_results(100)?;
    let now = driver.now_ms();
    let cursor = p.page_cursor(1024, now)?;
    let page = driver
        .store
        .list_state_machines(cursor.as_deref(), limit)
        .map_err(store_error)?;
    let mut items = Vec::with_capacity(page.items.len());
    for record in page.items {
        // A DELETING one whose executions all ended is deleted here, not listed.
        let Some((r, _)) = lifecycle::settle(driver, Some((record, 0)))? else {
            continue;
        };
        items.push(json!({"stateMachineArn": r.arn, "name": r.name, "type": r.document["type"], "creationDate": timestamp(r.created_ms)}));
    }
    let mut out = json!({"stateMachines": items});
    if let Some(next) = page.next {
        out["nextToken"] = Value::from(page_token(&next, now));
    }
    Ok(out)
}

fn load_execution(driver: &Driver, arn: &str) -> Result<cairn_store::ExecutionRecord, ApiError> {
    check_execution_arn(arn)?;
    driver
        .store
        .get_execution(arn)
        .map_err(store_error)?
        .map(|(record, _)| record)
        .ok_or_else(|| execution_does_not_exist(arn))
}

fn describe_state_machine_for_execution(
    driver: &Driver,
    p: &Params<'_>,
) -> Result<Value, ApiError> {
    let metadata_only = crate::fields::metadata_only(p)?;
    let mut out = state_machine_for_execution(driver, p)?;
    if metadata_only {
        crate::fields::strip_definition(&mut out);
    }
    Ok(out)
}

fn state_machine_for_execution(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let record = load_execution(driver, p.string("executionArn")?)?;
    if let Some(child) = crate::map_runs::describe_child_machine(driver, &record) {
        return child;
    }
    let persisted = Persisted::decode(&record)?;
    let definition = persisted.definition.resolve(driver.store.as_ref())?;
    let machine = driver
        .store
        .get_state_machine(&record.state_machine_arn)
        .map_err(store_error)?;
    let name = record
        .state_machine_arn
        .rsplit(':')
        .next()
        .unwrap_or("")
        .to_string();
    let mut out = json!({
        "stateMachineArn": record.state_machine_arn,
        "name": name,
        "definition": &*definition,
        "roleArn": persisted.execution.info().role_arn,
        "updateDate": timestamp(record.start_ms),
    });
    if let Some((machine, _)) = machine {
        out["updateDate"] = timestamp(
            machine
                .document
                .get("updateDate")
                .and_then(Value::as_i64)
                .unwrap_or(machine.created_ms),
        );
        out["loggingConfiguration"] = machine.document["loggingConfiguration"].clone();
        out["tracingConfiguration"] = stored_tracing(&machine.document);
        let revision = match &persisted.version_arn {
            Some(version) => crate::versions::version_revision(driver, version),
            None => machine.document.get("revisionId").cloned(),
        };
        if let Some(revision) = revision {
            out["revisionId"] = revision;
        }
        out["encryptionConfiguration"] = crate::fields::stored_encryption(&machine.document);
    }
    if let Some(references) = crate::fields::variable_references(&definition) {
        out["variableReferences"] = references;
    }
    Ok(out)
}

fn validate_definition(p: &Params<'_>) -> Result<Value, ApiError> {
    let definition = p.string("definition")?;
    let machine_type = machine_type_param(p)?;
    if definition.is_empty() {
        // AWS's answer to an empty definition here (CreateStateMachine refuses it as a
        // request member shorter than 1 instead).
        let diagnostic = json!({"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED",
                                "message": "Definition must be a valid JSON object"});
        let (diagnostics, truncated) = crate::fields::validation_diagnostics(p, vec![diagnostic])?;
        return Ok(json!({"result": "FAIL", "diagnostics": diagnostics, "truncated": truncated}));
    }
    let report = validate_for(definition, machine_type);
    let diagnostics: Vec<Value> = report
        .diagnostics
        .iter()
        .chain(&report.warnings)
        .map(|d| {
            let mut out =
                json!({"severity": d.severity.as_str(), "code": d.code, "message": d.message});
            if let Some(location) = &d.location {
                out["location"] = Value::from(location.clone());
            }
            out
        })
        .collect();
    let (diagnostics, truncated) = crate::fields::validation_diagnostics(p, diagnostics)?;
    Ok(json!({
        "result": if report.is_valid() { "OK" } else { "FAIL" },
        "diagnostics": diagnostics,
        "truncated": truncated,
    }))
}

struct StartRequest {
    machine: StateMachineRecord,
    name: String,
    input_text: String,
    input: Value,
    info: ExecutionInfo,
    /// The version and alias ARNs the execution was started through.
    qualifiers: (Option<String>, Option<String>),
    /// The mock configuration's test case the execution's tasks are answered from.
    test_case: Option<String>,
    /// The X-Ray trace header the caller passed.
    trace_header: Option<String>,
}

fn start_request(driver: &Driver, p: &Params<'_>) -> Result<StartRequest, ApiError> {
    let machine_arn = p.string("stateMachineArn")?;
    // Step Functions Local selects a test case of its mock configuration with
    // `<stateMachineArn>#<TestCaseName>`: the execution belongs to the state machine.
    let (machine_arn, test_case) = match (&driver.config.mocks, machine_arn.split_once('#')) {
        (Some(_), Some((arn, case))) => (arn, Some(case)),
        _ => (machine_arn, None),
    };
    let trace_header = crate::fields::trace_header(p)?.map(str::to_string);
    if crate::fields::split_label(machine_arn).is_some() {
        return Err(crate::fields::labeled_arn_refused());
    }
    // An execution's ARN is AWS's "Resource type not valid in this context: execution".
    crate::names::expect_resource_type(machine_arn, &["stateMachine"])?;
    // AWS's order: the state machine must exist before the name and the input are judged
    // (a missing state machine with an invalid name is StateMachineDoesNotExist).
    // A DELETING state machine (or a version or alias of one) is StateMachineDeleting, or
    // StateMachineDoesNotExist once its last execution ended.
    let target = crate::versions::resolve(driver, machine_arn)?;
    let state_machine_arn = target.context_arn().to_string();
    let crate::versions::Target {
        machine,
        version_arn,
        alias_arn,
    } = target;
    let name = match p.opt_string("name")? {
        Some(name) => {
            check_name(name)?;
            name.to_string()
        }
        None => uuid(driver),
    };
    let (input_text, input) = crate::names::execution_input(
        p.opt_string("input")?,
        driver.config.limits.max_payload_bytes,
    )?;
    let express = doc_str(&machine, "type") == "EXPRESS";
    let config = &driver.config;
    let execution_arn = if express {
        format!(
            "arn:aws:states:{}:{}:express:{}:{name}:{}",
            config.region,
            config.account,
            machine.name,
            uuid(driver)
        )
    } else {
        format!(
            "arn:aws:states:{}:{}:execution:{}:{name}",
            config.region, config.account, machine.name
        )
    };
    let info = ExecutionInfo {
        execution_arn,
        name: name.clone(),
        // `$$.StateMachine.Id` names the version that runs (an alias's pick too), as AWS
        // does; the execution's records keep the unqualified ARN (`versions::without_qualifier`).
        state_machine_arn,
        state_machine_name: machine.name.clone(),
        role_arn: doc_str(&machine, "roleArn").to_string(),
        start_time_ms: driver.now_ms(),
        machine_type: if express {
            MachineType::Express
        } else {
            MachineType::Standard
        },
        redrive_count: Some(0),
    };
    if let (Some(mocks), Some(case)) = (&driver.config.mocks, test_case) {
        mocks
            .select(&info.execution_arn, &machine.name, case)
            .map_err(|e| ApiError::new("InvalidArn", format!("Invalid Arn: '{e}'")))?;
    }
    Ok(StartRequest {
        machine,
        name,
        input_text,
        input,
        info,
        qualifiers: (version_arn, alias_arn),
        test_case: test_case.map(str::to_string),
        trace_header,
    })
}

fn start_execution(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let request = start_request(driver, p)?;
    let arn = request.info.execution_arn.clone();
    let start = request.info.start_time_ms;
    let definition = doc_str(&request.machine, "definition").to_string();
    if request.info.machine_type == MachineType::Express {
        // Asynchronous Express: in memory, not visible to Describe/History (unless
        // express_history keeps it); at least once when the server keeps a journal.
        driver.start_express_async(
            ExpressJob {
                definition,
                info: request.info,
                input_text: request.input_text,
            },
            request.input,
        )?;
        return Ok(json!({"executionArn": arn, "startDate": timestamp(start)}));
    }
    driver
        .config
        .open_executions
        .admit(|limit| count_open(driver, limit))?;
    match driver.start_standard_of(
        &definition,
        request.info,
        request.input,
        &request.input_text,
        crate::driver::StartNamed {
            qualifiers: request.qualifiers,
            test_case: request.test_case,
            trace_header: request.trace_header,
        },
    )? {
        Some(start) => Ok(json!({"executionArn": arn, "startDate": timestamp(start)})),
        None => {
            // AWS's idempotency: the same name and input while the execution runs answer the original.
            let existing = load_execution(driver, &arn)?;
            let same_input = existing.summary.get("input").and_then(Value::as_str)
                == Some(request.input_text.as_str());
            if existing.status == "RUNNING" && same_input {
                Ok(json!({"executionArn": arn, "startDate": timestamp(existing.start_ms)}))
            } else {
                Err(ApiError::new(
                    "ExecutionAlreadyExists",
                    format!("Execution Already Exists: '{arn}'"),
                ))
            }
        }
    }
}

/// The running executions, counted up to `limit`.
fn count_open(driver: &Driver, limit: usize) -> Result<usize, ApiError> {
    let mut open = 0;
    let mut cursor: Option<String> = None;
    loop {
        let page = driver
            .store
            .running_executions_page(cursor.as_deref(), limit.clamp(1, 1000))
            .map_err(store_error)?;
        open += page.items.len();
        match page.next {
            Some(next) if open < limit => cursor = Some(next),
            _ => return Ok(open),
        }
    }
}

fn start_sync_execution(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let metadata_only = crate::fields::metadata_only(p)?;
    let request = start_request(driver, p)?;
    if request.info.machine_type != MachineType::Express {
        return Err(ApiError::new(
            "StateMachineTypeNotSupported",
            "This operation is not supported by this type of state machine",
        ));
    }
    let arn = request.info.execution_arn.clone();
    let machine_arn = request.machine.arn.clone();
    let trace_header = request.trace_header.clone();
    let definition = doc_str(&request.machine, "definition").to_string();
    let info = ExecutionInfo {
        // A synchronous Express execution's context object has no RedriveCount.
        redrive_count: None,
        ..request.info
    };
    let result = driver.run_express(&definition, info, request.input, &request.input_text)?;
    let status = match result.status {
        cairn_interpreter::Status::Succeeded => "SUCCEEDED",
        cairn_interpreter::Status::TimedOut => "TIMED_OUT",
        _ => "FAILED",
    };
    let duration = u64::try_from(result.end_ms.saturating_sub(result.start_ms)).unwrap_or(0);
    let mut out = json!({
        "executionArn": arn,
        "stateMachineArn": machine_arn,
        "name": request.name,
        "startDate": timestamp(result.start_ms),
        "stopDate": timestamp(result.end_ms),
        "status": status,
        "input": request.input_text,
        "inputDetails": {"included": true},
        "billingDetails": {
            "billedMemoryUsedInMB": 64,
            "billedDurationInMilliseconds": duration.div_ceil(100).max(1) * 100,
        },
    });
    if let Some(output) = &result.output {
        out["output"] = Value::from(serde_json::to_string(output.as_ref()).unwrap_or_default());
        out["outputDetails"] = json!({"included": true});
    }
    if let Some(error) = result.error {
        out["error"] = Value::from(error);
    }
    if let Some(cause) = result.cause {
        out["cause"] = Value::from(cause);
    }
    if let Some(header) = trace_header {
        out["traceHeader"] = Value::from(header);
    }
    if metadata_only {
        crate::fields::strip_execution_data(&mut out);
    }
    Ok(out)
}

fn stop_execution(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("executionArn")?;
    check_execution_arn(arn)?;
    let error = p.opt_string("error")?.map(str::to_string);
    let cause = p.opt_string("cause")?.map(str::to_string);
    let stored_child = driver
        .store
        .get_execution(arn)
        .ok()
        .flatten()
        .filter(|(r, _)| r.state.is_empty() && r.summary.get("mapRunArn").is_some());
    if let Some((child, _)) = stored_child {
        // A Map Run's stored child has ended already: stopping it changes nothing.
        return Ok(json!({"stopDate": timestamp(child.stop_ms.unwrap_or(child.start_ms))}));
    }
    driver.advance(arn, Event::Stop { error, cause }, None)?;
    let record = load_execution(driver, arn)?;
    Ok(json!({"stopDate": timestamp(record.stop_ms.unwrap_or_else(|| driver.now_ms()))}))
}

fn describe_execution(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let metadata_only = crate::fields::metadata_only(p)?;
    let mut out = describe_execution_data(driver, p)?;
    if metadata_only {
        crate::fields::strip_execution_data(&mut out);
    }
    Ok(out)
}

fn describe_execution_data(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("executionArn")?;
    if let Some(run) = driver.express_run(arn) {
        return Ok(describe_express(&run));
    }
    let record = load_execution(driver, arn)?;
    let mut out = json!({
        "executionArn": record.arn,
        "stateMachineArn": record.state_machine_arn,
        "name": record.name,
        "status": record.status,
        "startDate": timestamp(record.start_ms),
        "input": record.summary.get("input").cloned().unwrap_or(Value::Null),
        "inputDetails": {"included": true},
    });
    if let Some(map_run) = record.summary.get("mapRunArn") {
        out["mapRunArn"] = map_run.clone();
        if out["input"].is_null() {
            // A Map Run keeps its children's inputs only for its ResultWriter.
            if let Some(fields) = out.as_object_mut() {
                fields.remove("input");
            }
            out["inputDetails"] = json!({"included": false});
        }
    }
    crate::versions::show_qualifiers(&record.summary, &mut out);
    if let Some(header) = record.summary.get("traceHeader") {
        out["traceHeader"] = header.clone();
    }
    if let Some(stop) = record.stop_ms {
        out["stopDate"] = timestamp(stop);
    }
    if let Some(output) = record.summary.get("output") {
        out["output"] = output.clone();
        out["outputDetails"] = json!({"included": true});
    }
    for field in ["error", "cause"] {
        if let Some(value) = record.summary.get(field) {
            out[field] = value.clone();
        }
    }
    crate::redrive::describe_fields(driver, &record, &mut out);
    Ok(out)
}

/// DescribeExecution of a kept Express execution (an addition: AWS keeps none).
fn describe_express(run: &ExpressRun) -> Value {
    let result = &run.result;
    let mut out = json!({
        "executionArn": run.info.execution_arn,
        "stateMachineArn": crate::versions::without_qualifier(&run.info.state_machine_arn),
        "name": run.info.name,
        "status": result.status.as_aws_str(),
        "startDate": timestamp(result.start_ms),
        "stopDate": timestamp(result.end_ms),
        "input": run.input_text,
        "inputDetails": {"included": true},
    });
    if let Some(output) = &result.output {
        out["output"] = Value::from(serde_json::to_string(output.as_ref()).unwrap_or_default());
        out["outputDetails"] = json!({"included": true});
    }
    if let Some(error) = &result.error {
        out["error"] = Value::from(error.clone());
    }
    if let Some(cause) = &result.cause {
        out["cause"] = Value::from(cause.clone());
    }
    out
}

const STATUSES: [&str; 6] = [
    "SUCCEEDED",
    "TIMED_OUT",
    "PENDING_REDRIVE",
    "ABORTED",
    "FAILED",
    "RUNNING",
];

/// ListExecutions' `statusFilter`, checked against AWS's enum; shared by the
/// listing of a machine's executions and of a Map Run's children.
pub(crate) fn status_filter<'a>(p: &Params<'a>) -> Result<Option<&'a str>, ApiError> {
    let status = p.opt_string("statusFilter")?;
    if let Some(status) = status {
        if !STATUSES.contains(&status) {
            return Err(validation(format!(
                "1 validation error detected: Value '{status}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [SUCCEEDED, TIMED_OUT, PENDING_REDRIVE, ABORTED, FAILED, RUNNING]"
            )));
        }
    }
    Ok(status)
}

fn list_executions(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let status = status_filter(p)?;
    let limit = p.max_results(100)?;
    let now = driver.now_ms();
    let cursor = p.page_cursor(3096, now)?;
    let redriven = crate::redrive::filter_param(p)?;
    let requested = p.string("stateMachineArn")?;
    // A version or alias ARN lists the executions started through it.
    let through = crate::versions::list_filter(requested);
    let machine_arn = through
        .as_ref()
        .map_or(requested, |(base, _)| base.as_str());
    let (machine, _) = get_machine(driver, machine_arn)?;
    if doc_str(&machine, "type") == "EXPRESS" {
        return Err(ApiError::new(
            "StateMachineTypeNotSupported",
            "This operation is not supported by this type of state machine",
        ));
    }
    // The version, alias and redrive filters are applied here, not in the store: each read
    // asks for exactly the items still missing, so every item read is either kept or
    // filtered out and the store's cursor after the last one read is the page's nextToken.
    // A page is therefore short only when the listing ends.
    let keep = |r: &cairn_store::ExecutionRecord| {
        through.as_ref().is_none_or(|(_, field)| {
            r.summary.get(*field).and_then(Value::as_str) == Some(requested)
        }) && redriven.is_none_or(|wanted| crate::redrive::is_redriven(r) == wanted)
    };
    let mut items = Vec::new();
    let mut next = cursor;
    loop {
        let query = ExecutionQuery {
            state_machine_arn: machine.arn.clone(),
            status: status.map(str::to_string),
            cursor: next.take(),
            limit: limit - items.len(),
        };
        let page = match driver.store.list_executions(&query) {
            Ok(page) => page,
            Err(StoreError::InvalidCursor) => {
                return Err(invalid_token(p.next_token(3096)?.unwrap_or("")))
            }
            Err(other) => return Err(store_error(other)),
        };
        items.extend(page.items.iter().filter(|r| keep(r)).map(|r| {
            let mut item = json!({
                "executionArn": r.arn,
                "stateMachineArn": r.state_machine_arn,
                "name": r.name,
                "status": r.status,
                "startDate": timestamp(r.start_ms),
            });
            crate::versions::show_qualifiers(&r.summary, &mut item);
            if let Some(stop) = r.stop_ms {
                item["stopDate"] = timestamp(stop);
            }
            crate::redrive::list_fields(r, &mut item);
            // AWS lists every Standard execution with its redrive count, 0 included.
            if item.get("redriveCount").is_none() {
                item["redriveCount"] = Value::from(0);
            }
            item
        }));
        next = page.next;
        if items.len() >= limit || next.is_none() {
            break;
        }
    }
    let mut out = json!({"executions": items});
    if let Some(next) = next {
        out["nextToken"] = Value::from(page_token(&next, now));
    }
    Ok(out)
}

fn get_execution_history(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("executionArn")?;
    let limit = p.max_results(100)?;
    let reverse = p.opt_bool("reverseOrder")?.unwrap_or(false);
    let include_data = p.opt_bool("includeExecutionData")?.unwrap_or(true);
    let now = driver.now_ms();
    let after_id = match p.page_cursor(1024, now)? {
        Some(cursor) => Some(
            cursor
                .strip_prefix("event:")
                .and_then(|id| id.parse::<u64>().ok())
                .ok_or_else(|| invalid_token(p.next_token(1024).ok().flatten().unwrap_or("")))?,
        ),
        None => None,
    };
    let stored = match driver.express_run(arn) {
        Some(run) => paged_history(
            &run.result.history,
            after_id,
            limit.saturating_add(1),
            reverse,
        )?,
        None => {
            let record = load_execution(driver, arn)?;
            if let Some(history) = crate::map_runs::stored_child_history(&record) {
                return history_page(
                    paged_history(&history, after_id, limit.saturating_add(1), reverse)?,
                    limit,
                    include_data,
                    now,
                );
            }
            let query = HistoryQuery {
                after_id,
                limit: limit.saturating_add(1),
                reverse,
            };
            driver
                .store
                .read_history(arn, &query)
                .map_err(store_error)?
        }
    };
    history_page(stored, limit, include_data, now)
}

/// One GetExecutionHistory page from up to `limit + 1` events read.
fn history_page(
    mut stored: Vec<cairn_store::StoredEvent>,
    limit: usize,
    include_data: bool,
    now: i64,
) -> Result<Value, ApiError> {
    let more = stored.len() > limit;
    stored.truncate(limit);
    let mut events = Vec::with_capacity(stored.len());
    for event in &stored {
        let event: HistoryEvent = serde_json::from_str(&event.body).map_err(|e| {
            ApiError::internal(format!("a stored history event is unreadable: {e}"))
        })?;
        let mut wire = event.to_aws_json();
        if !include_data {
            strip_execution_data(&mut wire);
        }
        events.push(wire);
    }
    let mut out = json!({"events": events});
    if more {
        if let Some(last) = stored.last() {
            out["nextToken"] = Value::from(page_token(&format!("event:{}", last.id), now));
        }
    }
    Ok(out)
}

/// A history kept in memory (a kept Express execution's, a stored Map Run child's), paged
/// like a stored one.
fn paged_history(
    history: &[HistoryEvent],
    after_id: Option<u64>,
    limit: usize,
    reverse: bool,
) -> Result<Vec<cairn_store::StoredEvent>, ApiError> {
    let keep = |event: &&HistoryEvent| match after_id {
        Some(after) if reverse => event.id < after,
        Some(after) => event.id > after,
        None => true,
    };
    let selected: Vec<&HistoryEvent> = if reverse {
        history.iter().rev().filter(keep).take(limit).collect()
    } else {
        history.iter().filter(keep).take(limit).collect()
    };
    selected
        .into_iter()
        .map(|event| {
            serde_json::to_string(event)
                .map(|body| cairn_store::StoredEvent { id: event.id, body })
                .map_err(|e| ApiError::internal(format!("a history event cannot be shown: {e}")))
        })
        .collect()
}

/// `includeExecutionData: false`: the events keep their shape but not the payloads.
fn strip_execution_data(event: &mut Value) {
    let Some(object) = event.as_object_mut() else {
        return;
    };
    for (key, details) in object.iter_mut() {
        if !key.ends_with("EventDetails") {
            continue;
        }
        if let Some(details) = details.as_object_mut() {
            for field in ["input", "output", "parameters", "result"] {
                details.remove(field);
            }
            for field in ["inputDetails", "outputDetails"] {
                if details.contains_key(field) {
                    details.insert(field.to_string(), json!({"included": false}));
                }
            }
        }
    }
}

fn create_activity(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let name = p.string("name")?;
    check_name(name)?;
    let config = &driver.config;
    let arn = format!(
        "arn:aws:states:{}:{}:activity:{name}",
        config.region, config.account
    );
    let now = driver.now_ms();
    let encryption = crate::fields::encryption_configuration(p.get("encryptionConfiguration"))?;
    let record = StateMachineRecord {
        arn: arn.clone(),
        name: name.to_string(),
        created_ms: now,
        document: json!({"tags": tags_param(p, &arn)?, "encryptionConfiguration": encryption}),
    };
    crate::machines::quotas::admit_activity(
        driver.store.as_ref(),
        crate::machines::quotas::ACTIVITIES,
        || {
            Ok(driver
                .store
                .get_activity(&arn)
                .map_err(store_error)?
                .is_some())
        },
    )?;
    match driver.store.create_activity(&record) {
        Ok(()) => Ok(json!({"activityArn": arn, "creationDate": timestamp(now)})),
        Err(StoreError::AlreadyExists(_)) => {
            let existing = driver.store.get_activity(&arn).map_err(store_error)?;
            // AWS: an activity's encryption configuration cannot be changed by creating
            // it again.
            if existing
                .as_ref()
                .is_some_and(|r| crate::fields::stored_encryption(&r.document) != encryption)
            {
                return Err(ApiError::new(
                    "ActivityAlreadyExists",
                    format!("Activity already exists. EncryptionConfiguration may not be updated: '{arn}'"),
                ));
            }
            let created = existing.map(|r| r.created_ms).unwrap_or(now);
            Ok(json!({"activityArn": arn, "creationDate": timestamp(created)}))
        }
        Err(other) => Err(store_error(other)),
    }
}

fn get_activity(driver: &Driver, arn: &str) -> Result<StateMachineRecord, ApiError> {
    check_activity_arn(arn)?;
    driver
        .store
        .get_activity(arn)
        .map_err(store_error)?
        .ok_or_else(|| activity_does_not_exist(arn))
}

fn describe_activity(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let record = get_activity(driver, p.string("activityArn")?)?;
    Ok(json!({
        "activityArn": record.arn,
        "name": record.name,
        "creationDate": timestamp(record.created_ms),
        "encryptionConfiguration": crate::fields::stored_encryption(&record.document),
    }))
}

fn delete_activity(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("activityArn")?;
    check_activity_arn(arn)?;
    driver.store.delete_activity(arn).map_err(store_error)?;
    Ok(json!({}))
}

fn list_activities(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let limit = p.max_results(100)?;
    let now = driver.now_ms();
    let cursor = p.page_cursor(1024, now)?;
    let page = driver
        .store
        .list_activities(cursor.as_deref(), limit)
        .map_err(store_error)?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|r| json!({"activityArn": r.arn, "name": r.name, "creationDate": timestamp(r.created_ms)}))
        .collect();
    let mut out = json!({"activities": items});
    if let Some(next) = page.next {
        out["nextToken"] = Value::from(page_token(&next, now));
    }
    Ok(out)
}

fn get_activity_task(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("activityArn")?;
    let worker = p.opt_string("workerName")?.map(str::to_string);
    get_activity(driver, arn)?;
    let until = Instant::now() + driver.config.activity_poll;
    loop {
        let generation = driver.activity_generation();
        for task in driver
            .store
            .peek_activity_tasks(arn, 16)
            .map_err(store_error)?
        {
            let event = Event::TaskStarted {
                task_id: task.task_id,
                worker_name: worker.clone(),
            };
            match driver.advance(&task.execution_arn, event, Some(&task.task_token)) {
                Ok(Advanced::Applied(_)) => {
                    return Ok(json!({"taskToken": task.task_token, "input": task.input}));
                }
                Ok(_) => {}
                // The execution vanished: its queue entry is an orphan; skip it.
                Err(error) if error.error_type == "ExecutionDoesNotExist" => {}
                Err(error) => return Err(error),
            }
        }
        if !driver.wait_for_activity(generation, until) {
            return Ok(json!({}));
        }
        // Guards against a notification storm turning this into a busy loop.
        std::thread::sleep(Duration::from_millis(1));
    }
}

enum TaskResult {
    Success,
    Failure,
    Heartbeat,
}

/// Only tokens signed with this server's key were ever issued (the token's length was
/// checked with the request: `params::check_request`).
fn check_token(driver: &Driver, token: &str) -> Result<(), ApiError> {
    if !driver.signer.verify(token) {
        return Err(ApiError::new("InvalidToken", "Invalid token"));
    }
    Ok(())
}

fn task_gone() -> ApiError {
    ApiError::new(
        "TaskTimedOut",
        "Task Timed Out: 'Provided task does not exist anymore'",
    )
}

fn send_task_result(
    driver: &Driver,
    p: &Params<'_>,
    result: TaskResult,
) -> Result<Value, ApiError> {
    let token = p.string("taskToken")?;
    check_token(driver, token)?;
    let event_for = |task_id| -> Result<Event, ApiError> {
        Ok(match result {
            TaskResult::Success => {
                let text = p.string("output")?;
                let output = serde_json::from_str(text).map_err(|e| {
                    ApiError::new("InvalidOutput", format!("Invalid Output: '{e}'"))
                })?;
                Event::TaskSucceeded { task_id, output }
            }
            TaskResult::Failure => Event::TaskFailed {
                task_id,
                error: p.opt_string("error")?.map(str::to_string),
                cause: p.opt_string("cause")?.map(str::to_string),
            },
            TaskResult::Heartbeat => Event::Heartbeat { task_id },
        })
    };
    let Some(record) = driver.store.get_task_token(token).map_err(store_error)? else {
        return Err(task_gone());
    };
    let event = event_for(record.task_id)?;
    match driver.advance(&record.execution_arn, event, None) {
        Ok(Advanced::Applied(_)) => Ok(json!({})),
        Ok(_) => Err(task_gone()),
        Err(error) if error.error_type == "ExecutionDoesNotExist" => Err(task_gone()),
        Err(error) => Err(error),
    }
}
