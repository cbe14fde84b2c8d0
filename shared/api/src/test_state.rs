//! TestState: one state run on an input, optionally with its task's result mocked.
//!
//! The state is run by the decider inside a wrapper machine whose other states are
//! `Succeed` stand-ins, so the answer (output, next state, error) is what the state itself
//! decided. At DEBUG and TRACE the machine records its data-flow stages
//! ([`Machine::with_inspection`]), which become `inspectionData`. `Retry` is not tried: a
//! retriable error is reported as RETRIABLE without waiting, with the retrier's index and
//! backoff; `stateConfiguration.retrierRetryCount` says how many retries came before, so an
//! exhausted retrier lets the error through to Catch or the failure. A mocked Map or
//! Parallel runs as itself through the same core, its branches or iterations answering with
//! the mock; a JSONPath Map's ItemsPath is still read (shown as `afterItemsPath`, and a
//! non-array fails the state as in AWS); a mocked Map shows its `maxConcurrency` and
//! tolerated failures, and `mapIterationFailureCount` beyond its tolerance fails it with
//! `States.ExceedToleratedFailureThreshold`. A given `context` replaces the context object
//! (`$$`) the run would build; given `variables` are assigned before the state runs. A
//! mocked Task result is checked against the service action's output shape in its API
//! model (the bundled ones, CAIRN_AWS_MODELS for others), with AWS's messages.

use std::sync::Arc;

use cairn_interpreter::{ExecutionInfo, HistoryEvent, Machine, MachineType, Status};
use cairn_runtime::{RunOptions, TaskFailure, TaskInvoker, TaskOutcome, TaskRequest, TimeMode};
use serde_json::{json, Map, Value};

use crate::driver::Driver;
use crate::params::Params;
use crate::ApiError;

/// The name the state runs under when the definition is a lone state (AWS's name for it in
/// validation locations and in `$$.State.Name`).
const LONE_STATE: &str = "StateName";

struct Mock {
    result: Result<Value, TaskFailure>,
}

impl TaskInvoker for Mock {
    fn invoke(&self, _request: &TaskRequest) -> TaskOutcome {
        TaskOutcome::now(self.result.clone())
    }
}

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new("ValidationException", message)
}

fn mock_param(p: &Params<'_>) -> Result<Option<Mock>, ApiError> {
    let Some(mock) = p.get("mock") else {
        return Ok(None);
    };
    let result = mock.get("result");
    let error_output = mock.get("errorOutput");
    if result.is_some() && error_output.is_some() {
        return Err(validation(
            "A test mock should have only one of the following fields: [result, errorOutput].",
        ));
    }
    if let Some(result) = result {
        let value = result
            .as_str()
            .and_then(|text| serde_json::from_str(text).ok())
            .ok_or_else(|| validation("Mocked result must be valid JSON"))?;
        return Ok(Some(Mock { result: Ok(value) }));
    }
    if let Some(error) = error_output {
        let text = |field: &str| error.get(field).and_then(Value::as_str).map(str::to_string);
        let failure = TaskFailure {
            error: text("error").unwrap_or_default(),
            cause: text("cause"),
        };
        return Ok(Some(Mock {
            result: Err(failure),
        }));
    }
    Err(validation(
        "A test mock should have only one of the following fields: [result, errorOutput].",
    ))
}

/// The service models mocked results are checked against: the bundled ones, and those of
/// CAIRN_AWS_MODELS (botocore's `data/` layout), as the integrations find them.
fn models() -> &'static cairn_integrations::model::Models {
    static MODELS: std::sync::OnceLock<cairn_integrations::model::Models> =
        std::sync::OnceLock::new();
    MODELS.get_or_init(|| {
        cairn_integrations::model::Models::new(
            std::env::var_os("CAIRN_AWS_MODELS").map(std::path::PathBuf::from),
        )
    })
}

/// AWS checks a mocked result against the output shape of the service action the Task
/// calls (`fieldValidationMode` STRICT, the default, or PRESENT; NONE skips the check):
/// types, lengths, ranges and enums of the fields present. A service without a model here
/// is not checked.
fn check_mock_result(state: &Value, mock: &Value, result: &Value) -> Result<(), ApiError> {
    let mode = mock
        .get("fieldValidationMode")
        .and_then(Value::as_str)
        .unwrap_or("STRICT");
    if mode == "NONE" {
        return Ok(());
    }
    let Some(resource) = state.get("Resource").and_then(Value::as_str) else {
        return Ok(());
    };
    let Some((_, call)) = resource.split_once(":states:::") else {
        return Ok(());
    };
    let call = call.strip_prefix("aws-sdk:").unwrap_or(call);
    let Some((service, action)) = call.split_once(':') else {
        return Ok(());
    };
    let action = action.split('.').next().unwrap_or(action);
    let Ok(model) = models().get(service) else {
        return Ok(());
    };
    let Some(output) = model
        .operation_for_action(action)
        .and_then(|(_, operation)| operation.get("output"))
        .and_then(|output| output.get("shape"))
        .and_then(Value::as_str)
    else {
        return Ok(());
    };
    // Step Functions hands a Lambda function's payload over as JSON, not as the blob the
    // model describes.
    let skip = if service == "lambda" && action == "invoke" {
        Some("Payload")
    } else {
        None
    };
    check_shape(&model, output, result, "", skip, 0)
        .map_err(|problem| validation(format!("Mock result schema validation error: {problem}")))
}

/// Deepest nesting of shapes checked (recursive shapes end here).
const MAX_SHAPE_DEPTH: usize = 32;

fn check_shape(
    model: &cairn_integrations::model::ServiceModel,
    shape_name: &str,
    value: &Value,
    field: &str,
    skip: Option<&str>,
    depth: usize,
) -> Result<(), String> {
    let Some(shape) = model.shape(shape_name) else {
        return Ok(());
    };
    if depth > MAX_SHAPE_DEPTH || value.is_null() {
        return Ok(());
    }
    let problem = |what: &str| Err(format!("Field '{field}' {what}"));
    let number = |key: &str| shape.get(key).and_then(Value::as_f64);
    let target = |member: &Value| {
        member
            .get("shape")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match shape.get("type").and_then(Value::as_str).unwrap_or("") {
        "structure" => {
            let Some(fields) = value.as_object() else {
                return problem("must be an object");
            };
            let members = shape.get("members").and_then(Value::as_object);
            for (name, value) in fields {
                if Some(name.as_str()) == skip && depth == 0 {
                    continue;
                }
                if let Some(member) = members.and_then(|m| m.get(name)).and_then(target) {
                    check_shape(model, &member, value, name, skip, depth + 1)?;
                }
            }
        }
        "list" => {
            let Some(items) = value.as_array() else {
                return problem("must be an array");
            };
            if let Some(member) = shape.get("member").and_then(target) {
                for item in items {
                    check_shape(model, &member, item, field, skip, depth + 1)?;
                }
            }
        }
        "map" => {
            let Some(entries) = value.as_object() else {
                return problem("must be an object");
            };
            if let Some(member) = shape.get("value").and_then(target) {
                for item in entries.values() {
                    check_shape(model, &member, item, field, skip, depth + 1)?;
                }
            }
        }
        "string" | "blob" => {
            let Some(text) = value.as_str() else {
                return problem("must be a string");
            };
            let length = text.chars().count() as f64;
            if number("min").is_some_and(|min| length < min) {
                return problem("is smaller than the minimum length");
            }
            if number("max").is_some_and(|max| length > max) {
                return problem("is larger than the maximum length");
            }
            if let Some(values) = shape.get("enum").and_then(Value::as_array) {
                if !values.iter().any(|v| v.as_str() == Some(text)) {
                    return problem("is not an expected value");
                }
            }
        }
        "integer" | "long" | "float" | "double" => {
            let Some(n) = value.as_f64() else {
                return problem("must be a number");
            };
            if number("min").is_some_and(|min| n < min) {
                return problem("is less than the minimum value");
            }
            if number("max").is_some_and(|max| n > max) {
                return problem("exceeds the maximum value");
            }
        }
        "boolean" if !value.is_boolean() => return problem("must be a boolean"),
        _ => {}
    }
    Ok(())
}

/// The checks AWS makes of a request before it runs the state, in AWS's order.
fn check_request(p: &Params<'_>, state: &Value, mock: Option<&Mock>) -> Result<(), ApiError> {
    let kind = state
        .get("Type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let fanout = kind == "Map" || kind == "Parallel";
    if let Some(mock) = mock {
        if p.get("revealSecrets").and_then(Value::as_bool) == Some(true) {
            return Err(validation(
                "TestState does not support RevealSecrets when a mock is specified.",
            ));
        }
        if !fanout && kind != "Task" {
            return Err(validation(format!(
                "State type '{kind}' is not supported when a mock is specified"
            )));
        }
        if let (true, Ok(result)) = (fanout, &mock.result) {
            let Some(items) = result.as_array() else {
                return Err(validation("Mocked result must be an array."));
            };
            let branches = state.get("Branches").and_then(Value::as_array);
            if kind == "Parallel" && branches.is_some_and(|b| b.len() != items.len()) {
                return Err(validation(
                    "Mocked result must contain the same number of items as number of Parallel branches.",
                ));
            }
        }
        return Ok(());
    }
    let configuration = p.get("stateConfiguration");
    if configuration.is_some_and(|c| c.get("mapIterationFailureCount").is_some()) {
        return Err(validation(
            "TestState does not support MapIterationFailureCount when a mock is not specified.",
        ));
    }
    if fanout {
        return Err(ApiError::new(
            "InvalidDefinition",
            "TestState API does not support Map or Parallel states. Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]",
        ));
    }
    if kind == "Task" && p.get("roleArn").and_then(Value::as_str).is_none() {
        return Err(validation(
            "RoleArn must be specified when testing a Task state",
        ));
    }
    Ok(())
}

/// Request fields Cairn's TestState does not implement yet: refused by name rather than
/// ignored, since ignoring them would answer a different question than the one asked.
/// `stateConfiguration`: the circumstances of the attempt TestState runs.
#[derive(Debug, Default)]
struct Configuration {
    /// Retries that came before this attempt (`retrierRetryCount`).
    retries_before: u64,
    /// Iterations of a mocked Map that failed (`mapIterationFailureCount`).
    map_failures: Option<u64>,
}

fn check_supported(p: &Params<'_>) -> Result<Configuration, ApiError> {
    let Some(configuration) = p.get("stateConfiguration") else {
        return Ok(Configuration::default());
    };
    let Some(fields) = configuration.as_object() else {
        return Err(validation("stateConfiguration must be an object"));
    };
    let count = |field: &str| -> Result<Option<u64>, ApiError> {
        match fields.get(field) {
            None => Ok(None),
            Some(value) => value.as_u64().map(Some).ok_or_else(|| {
                validation(format!(
                    "1 validation error detected: Value '{value}' at 'stateConfiguration.{field}' failed to satisfy constraint: Member must have value greater than or equal to 0"
                ))
            }),
        }
    };
    for field in fields.keys() {
        // errorCausedByState names the state inside a mocked Map whose error the mocked
        // errorOutput is, and mapItemReaderData the items an ItemReader would read: with
        // the Map's result mocked, neither changes the answer.
        if ![
            "retrierRetryCount",
            "mapIterationFailureCount",
            "errorCausedByState",
            "mapItemReaderData",
        ]
        .contains(&field.as_str())
        {
            return Err(validation(format!(
                "Cairn does not support the TestState field 'stateConfiguration.{field}'"
            )));
        }
    }
    Ok(Configuration {
        retries_before: count("retrierRetryCount")?.unwrap_or(0),
        map_failures: count("mapIterationFailureCount")?,
    })
}

/// A Map state's concurrency and tolerated failures, evaluated on the state's input as the
/// state would (a number, a JSONata expression or a `...Path`): TestState shows them in
/// `inspectionData` of a mocked Map, and the tolerance decides whether the mocked failures
/// fail the Map.
fn map_limits(
    state: &Value,
    input: &Value,
    query_language: Option<&Value>,
    variables: &Map<String, Value>,
) -> Map<String, Value> {
    let jsonata = state
        .get("QueryLanguage")
        .or(query_language)
        .and_then(Value::as_str)
        == Some("JSONata");
    let mut literal = Map::new();
    let mut evaluated = Map::new();
    for (field, key) in [
        ("MaxConcurrency", "maxConcurrency"),
        ("ToleratedFailureCount", "toleratedFailureCount"),
        ("ToleratedFailurePercentage", "toleratedFailurePercentage"),
    ] {
        match (state.get(field), state.get(format!("{field}Path"))) {
            (Some(Value::String(expression)), _) if jsonata => {
                evaluated.insert(key.to_owned(), expression.clone().into());
            }
            (Some(value), _) => {
                literal.insert(key.to_owned(), value.clone());
            }
            (None, Some(Value::String(path))) if !jsonata => {
                evaluated.insert(format!("{key}.$"), path.clone().into());
            }
            _ => {}
        }
    }
    if !evaluated.is_empty() {
        // The interpreter evaluates them as a Pass state of the same language would.
        let field = if jsonata { "Output" } else { "Parameters" };
        let mut pass = json!({"Type": "Pass", "End": true});
        pass[field] = Value::Object(evaluated);
        let definition = json!({
            "QueryLanguage": if jsonata { "JSONata" } else { "JSONPath" },
            "StartAt": "Limits",
            "States": {"Limits": pass},
        });
        let run = Machine::from_json(&definition).ok().and_then(|machine| {
            let machine = if variables.is_empty() {
                machine
            } else {
                machine.with_variables(variables.clone())
            };
            cairn_runtime::run_to_completion(
                &machine,
                input.clone(),
                Arc::new(cairn_runtime::Unsupported),
                &RunOptions::default(),
            )
            .ok()
        });
        if let Some(Value::Object(values)) = run.and_then(|r| r.output).map(Arc::unwrap_or_clone) {
            literal.extend(values);
        }
    }
    let mut out = Map::new();
    out.insert(
        "maxConcurrency".into(),
        literal
            .get("maxConcurrency")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .into(),
    );
    if let Some(count) = literal.get("toleratedFailureCount").and_then(Value::as_u64) {
        out.insert("toleratedFailureCount".into(), count.into());
    }
    if let Some(percentage) = literal
        .get("toleratedFailurePercentage")
        .and_then(Value::as_f64)
    {
        out.insert("toleratedFailurePercentage".into(), json!(percentage));
    }
    out
}

/// A JSONPath Map's `ItemsPath` (with its path), and the input it applies to (after
/// `InputPath`), evaluated as a Pass state of the same paths would; `None` for a JSONata Map
/// or a path that does not resolve.
fn map_items(
    state: &Value,
    input: &Value,
    query_language: Option<&Value>,
    context: Option<&Value>,
    variables: &Map<String, Value>,
) -> Option<(String, Value, Value)> {
    let language = state.get("QueryLanguage").or(query_language);
    if language.and_then(Value::as_str) == Some("JSONata") {
        return None;
    }
    let path = state
        .get("ItemsPath")
        .and_then(Value::as_str)
        .unwrap_or("$")
        .to_owned();
    let mut pass = json!({"Type": "Pass", "End": true,
        "Parameters": {"input.$": "$", "items.$": path}});
    if let Some(input_path) = state.get("InputPath") {
        pass["InputPath"] = input_path.clone();
    }
    let definition = json!({"StartAt": "Items", "States": {"Items": pass}});
    let mut machine = Machine::from_json(&definition).ok()?;
    if let Some(context) = context {
        machine = machine.with_context_object(context.clone());
    }
    if !variables.is_empty() {
        machine = machine.with_variables(variables.clone());
    }
    let run = cairn_runtime::run_to_completion(
        &machine,
        input.clone(),
        Arc::new(cairn_runtime::Unsupported),
        &RunOptions::default(),
    )
    .ok()?;
    let mut output = Arc::unwrap_or_clone(run.output?);
    let effective = output.get_mut("input")?.take();
    let items = output.get_mut("items")?.take();
    Some((path, effective, items))
}

/// Whether `failures` of `items` iterations exceed a Map's tolerance. A Map that declares
/// no tolerance is not failed by TestState's failure count (AWS answers SUCCEEDED then).
fn exceeds_tolerance(limits: &Map<String, Value>, failures: u64, items: usize) -> bool {
    let by_count = limits
        .get("toleratedFailureCount")
        .and_then(Value::as_u64)
        .is_some_and(|tolerated| failures > tolerated);
    let by_percentage = limits
        .get("toleratedFailurePercentage")
        .and_then(Value::as_f64)
        .is_some_and(|tolerated| {
            items > 0 && (failures as f64) * 100.0 / (items as f64) > tolerated
        });
    by_count || by_percentage
}

/// CreateStateMachine's validation of what TestState runs: a lone state is checked as the
/// state `StateName` of a machine (AWS's locations say `/States/StateName/...`) whose
/// transitions lead to stand-ins.
fn check_definition(definition: &Value) -> Result<(), ApiError> {
    let machine = if definition.get("States").is_some() {
        definition.clone()
    } else {
        let mut states = Map::new();
        for target in targets(definition) {
            states.insert(target, json!({"Type": "Succeed"}));
        }
        states.insert("StateName".into(), definition.clone());
        json!({"StartAt": "StateName", "States": states})
    };
    let report = cairn_asl::validate::validate(&machine, &cairn_asl::validate::Options::default());
    match report.message() {
        Some(message) => Err(ApiError::new("InvalidDefinition", message)),
        None => Ok(()),
    }
}

/// Deepest nesting searched for a state name (Map processors and Parallel branches).
const MAX_NESTING: usize = 32;

/// A state by name, at the top level or inside a Map's processor or a Parallel's branches.
fn find_state(states: &Map<String, Value>, name: &str, depth: usize) -> Option<Value> {
    if depth > MAX_NESTING {
        return None;
    }
    if let Some(state) = states.get(name) {
        return Some(state.clone());
    }
    states.values().find_map(|state| {
        let nested = ["ItemProcessor", "Iterator"]
            .iter()
            .filter_map(|key| state.get(*key))
            .chain(
                state
                    .get("Branches")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            );
        nested
            .filter_map(|scope| scope.get("States").and_then(Value::as_object))
            .find_map(|inner| find_state(inner, name, depth + 1))
    })
}

/// The variable a stubbed JSONPath Map reads its mocked items from.
const MOCKED_ITEMS: &str = "cairnMockedItems";

/// A mocked Map or Parallel state runs as itself, through the same core as any state, with
/// its work replaced by the mock (AWS runs none of its branches or iterations): a Parallel's
/// branches each answer their item of the mocked result, a Map iterates over the mocked
/// result and passes each item through, and a mocked error is what every branch or
/// iteration fails with. The fields that shape the state's input, output, Retry and Catch
/// stay as written; a Map's item reading, selection and tolerance go (the tolerance is
/// decided from `mapIterationFailureCount` before). For a JSONPath Map, the items come from
/// a variable the caller assigns ([`MOCKED_ITEMS`], returned here).
fn stub_fanout(
    mut state: Value,
    result: &Result<Value, TaskFailure>,
    machine_language: Option<&Value>,
) -> (Value, Option<Value>) {
    let is_jsonata = |language: Option<&Value>| language.and_then(Value::as_str) == Some("JSONata");
    // Nested states take the machine's language; the state may set its own.
    let nested_jsonata = is_jsonata(machine_language);
    let jsonata = is_jsonata(state.get("QueryLanguage").or(machine_language));
    let answer = |item: &Value| {
        if nested_jsonata {
            json!({"Type": "Pass", "Output": item, "End": true})
        } else {
            json!({"Type": "Pass", "Result": item, "End": true})
        }
    };
    let fail = |failure: &TaskFailure| {
        let mut fail = json!({"Type": "Fail", "Error": failure.error});
        if let Some(cause) = &failure.cause {
            fail["Cause"] = cause.clone().into();
        }
        fail
    };
    let graph = |state: Value| json!({"StartAt": "Mocked", "States": {"Mocked": state}});
    let kind = state
        .get("Type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let Some(fields) = state.as_object_mut() else {
        return (state, None);
    };
    let mut items_variable = None;
    match kind.as_str() {
        "Parallel" => {
            let count = fields
                .get("Branches")
                .and_then(Value::as_array)
                .map_or(1, Vec::len)
                .max(1);
            let branches: Vec<Value> = match result {
                Ok(Value::Array(items)) => items.iter().map(|item| graph(answer(item))).collect(),
                Ok(other) => vec![graph(answer(other))],
                Err(failure) => (0..count).map(|_| graph(fail(failure))).collect(),
            };
            fields.insert("Branches".into(), Value::Array(branches));
        }
        "Map" => {
            for key in [
                "ItemsPath",
                "Items",
                "ItemSelector",
                "Parameters",
                "ItemReader",
                "ItemBatcher",
                "ResultWriter",
                "Iterator",
                "ToleratedFailureCount",
                "ToleratedFailureCountPath",
                "ToleratedFailurePercentage",
                "ToleratedFailurePercentagePath",
            ] {
                fields.remove(key);
            }
            let (items, iteration) = match result {
                Ok(Value::Array(items)) => (
                    Value::Array(items.clone()),
                    json!({"Type": "Pass", "End": true}),
                ),
                Ok(other) => (json!([other]), json!({"Type": "Pass", "End": true})),
                // One iteration is enough to fail the Map with the mocked error.
                Err(failure) => (json!([null]), fail(failure)),
            };
            let mut processor = graph(iteration);
            processor["ProcessorConfig"] = json!({"Mode": "INLINE"});
            fields.insert("ItemProcessor".into(), processor);
            if jsonata {
                fields.insert("Items".into(), items);
            } else {
                fields.insert("ItemsPath".into(), format!("${MOCKED_ITEMS}").into());
                items_variable = Some(items);
            }
        }
        _ => {}
    }
    (state, items_variable)
}

/// Every state name a state can go to next.
fn targets(state: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |value: Option<&Value>| {
        if let Some(name) = value.and_then(Value::as_str) {
            if !out.iter().any(|seen| seen == name) {
                out.push(name.to_string());
            }
        }
    };
    push(state.get("Next"));
    push(state.get("Default"));
    for list in ["Choices", "Catch"] {
        for entry in state
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            push(entry.get("Next"));
        }
    }
    out
}

pub fn test_state(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let definition_text = p.string("definition")?;
    let input_text = p.opt_string("input")?.unwrap_or("{}");
    let level = p.opt_string("inspectionLevel")?.unwrap_or("INFO");
    if !["INFO", "DEBUG", "TRACE"].contains(&level) {
        return Err(validation(format!(
            "1 validation error detected: Value '{level}' at 'inspectionLevel' failed to satisfy constraint: Member must satisfy enum value set: [INFO, DEBUG, TRACE]"
        )));
    }
    let definition: Value = serde_json::from_str(definition_text).map_err(|e| {
        ApiError::new(
            "InvalidDefinition",
            format!("Invalid State Machine Definition: '{e}'"),
        )
    })?;
    let input: Value = serde_json::from_str(input_text).map_err(|e| {
        ApiError::new(
            "InvalidExecutionInput",
            format!("Invalid State Machine Execution Input: '{e}'"),
        )
    })?;
    let (name, mut state, query_language) =
        match definition.get("States").and_then(Value::as_object) {
            Some(states) => {
                let name = p.opt_string("stateName")?.ok_or_else(|| {
                    validation("stateName is required when the definition is a state machine")
                })?;
                let state = find_state(states, name, 0).ok_or_else(|| {
                    validation(format!(
                        "State '{name}' is not a state of the state machine"
                    ))
                })?;
                (
                    name.to_string(),
                    state,
                    definition.get("QueryLanguage").cloned(),
                )
            }
            None => (LONE_STATE.to_string(), definition.clone(), None),
        };
    check_definition(&definition)?;
    let mut mock = mock_param(p)?;
    check_request(p, &state, mock.as_ref())?;
    if let (Some(Mock { result: Ok(result) }), Some(request)) = (&mock, p.get("mock")) {
        if state.get("Type").and_then(Value::as_str) == Some("Task") {
            check_mock_result(&state, request, result)?;
        }
    }
    let configuration = check_supported(p)?;
    let state_type = state
        .get("Type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mocked_map = (state_type == "Map" && mock.is_some()).then(|| state.clone());
    let outer_language = query_language.clone();
    let mocked = mock.is_some() && (state_type == "Map" || state_type == "Parallel");
    let context_object: Option<Value> = match p.opt_string("context")? {
        Some(context) => Some(
            serde_json::from_str(context)
                .map_err(|e| validation(format!("The context is not a valid JSON object: {e}")))?,
        ),
        None => None,
    };
    let variables = match p.opt_string("variables")? {
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(variables)) => variables,
            _ => {
                return Err(validation(
                    "The variables must be a JSON object of variable names and values",
                ))
            }
        },
        None => Map::new(),
    };
    let limits = mocked_map
        .as_ref()
        .map(|map| map_limits(map, &input, outer_language.as_ref(), &variables));
    if let (Some(limits), Some(failures), Some(mock)) =
        (&limits, configuration.map_failures, mock.as_mut())
    {
        let items = mock
            .result
            .as_ref()
            .ok()
            .and_then(Value::as_array)
            .map(Vec::len);
        if items.is_some_and(|items| exceeds_tolerance(limits, failures, items)) {
            mock.result = Err(TaskFailure::new(
                "States.ExceedToleratedFailureThreshold",
                "The specified tolerated failure threshold was exceeded",
            ));
        }
    }
    // A JSONPath Map reads its items even when its result is mocked: AWS shows them, and
    // fails the state when they are not an array.
    let items = mocked_map.as_ref().and_then(|map| {
        map_items(
            map,
            &input,
            outer_language.as_ref(),
            context_object.as_ref(),
            &variables,
        )
    });
    // A mocked Map or Parallel runs as itself, its iterations or branches answering with
    // the mock.
    let mut mocked_failure = None;
    let mut mocked_items = None;
    if let (true, Some(mock)) = (mocked, &mock) {
        mocked_failure = mock
            .result
            .as_ref()
            .err()
            .map(|f| (f.error.clone(), f.cause.clone()));
        let (stubbed, items) = stub_fanout(state, &mock.result, outer_language.as_ref());
        state = stubbed;
        mocked_items = items;
    }
    let retriers = state.as_object_mut().and_then(|s| s.remove("Retry"));
    // AWS runs the state on its own under the name `StateName` (what `$$.State.Name` shows),
    // whatever it is called in the machine; where it goes next are stand-ins.
    let targets = targets(&state);
    let name = if targets.iter().any(|t| t == LONE_STATE) {
        name
    } else {
        LONE_STATE.to_string()
    };
    let mut states = Map::new();
    for target in targets {
        if target != name {
            states.insert(target, json!({"Type": "Succeed"}));
        }
    }
    states.insert(name.clone(), state);
    let mut wrapper = json!({"StartAt": name, "States": states});
    if let Some(language) = query_language {
        wrapper["QueryLanguage"] = language;
    }
    let mut machine = Machine::from_json(&wrapper).map_err(|e| {
        ApiError::new(
            "InvalidDefinition",
            format!("Invalid State Machine Definition: '{e}'"),
        )
    })?;
    if level != "INFO" {
        machine = machine.with_inspection();
    }
    if let Some(context) = &context_object {
        machine = machine.with_context_object(context.clone());
    }
    let mut machine_variables = variables.clone();
    if let Some(items) = mocked_items {
        machine_variables.insert(MOCKED_ITEMS.into(), items);
    }
    if !machine_variables.is_empty() {
        machine = machine.with_variables(machine_variables);
    }
    let invoker: Arc<dyn TaskInvoker> = match mock {
        // A stubbed Map or Parallel calls nothing.
        Some(_) if mocked => Arc::new(cairn_runtime::Unsupported),
        Some(mock) => Arc::new(mock),
        None => Arc::clone(&driver.config.invoker),
    };
    let config = &driver.config;
    let now = driver.now_ms();
    // AWS runs the state as a synchronous Express execution: an `express:` ARN named by a
    // UUID, and no RedriveCount in the context object.
    let execution_name = crate::actions::uuid(driver);
    let info = ExecutionInfo {
        execution_arn: format!(
            "arn:aws:states:{}:{}:express:TestStateMachine:{execution_name}",
            config.region, config.account,
        ),
        name: execution_name,
        state_machine_arn: format!(
            "arn:aws:states:{}:{}:stateMachine:TestStateMachine",
            config.region, config.account
        ),
        state_machine_name: "TestStateMachine".into(),
        role_arn: p.opt_string("roleArn")?.unwrap_or_default().to_string(),
        start_time_ms: now,
        machine_type: MachineType::Express,
        redrive_count: None,
    };
    let options = RunOptions {
        info,
        time: TimeMode::Virtual,
        start_time_ms: Some(now),
        seed: driver.seed(),
        max_events: 100_000,
        clock: Arc::clone(&config.clock),
        wait_for_callbacks: false,
        ..RunOptions::default()
    };
    let result = cairn_runtime::run_to_completion(&machine, input, invoker, &options)
        .map_err(|e| ApiError::internal(format!("the state could not run: {e}")))?;
    let in_task = state_type == "Task";
    let mut answer = answer(
        &name,
        &result,
        Retrying {
            retriers: retriers.as_ref(),
            retries_before: configuration.retries_before,
            in_task,
        },
        input_text,
        level != "INFO",
        mocked_failure,
    );
    if let Some((path, effective, items)) = &items {
        if !items.is_array() {
            // The Map fails before its (mocked) iterations.
            let shown = path
                .strip_prefix('$')
                .filter(|p| p.starts_with('$'))
                .unwrap_or(path);
            let mut failed = json!({
                "status": "FAILED",
                "error": "States.Runtime",
                "cause": format!("Reference path \"{shown}\" must point to array."),
            });
            if level != "INFO" {
                failed["inspectionData"] = json!({
                    "input": input_text,
                    "afterInputPath": serde_json::to_string(effective).unwrap_or_default(),
                });
            }
            return Ok(failed);
        }
    }
    if let (true, Some(Value::Object(data))) = (mocked, answer.get_mut("inspectionData")) {
        // The mock stands for the Map's or Parallel's work: AWS shows none of these stages
        // for it (a JSONPath Map's input and items are added below, as AWS reads them).
        for stage in [
            "afterInputPath",
            "afterParameters",
            "afterArguments",
            "result",
        ] {
            data.remove(stage);
        }
        if let Some((_, effective, items)) = &items {
            let text = |v: &Value| Value::from(serde_json::to_string(v).unwrap_or_default());
            data.insert("afterInputPath".into(), text(effective));
            data.insert("afterItemsPath".into(), text(items));
        }
    }
    if let (Some(limits), Some(Value::Object(data))) = (limits, answer.get_mut("inspectionData")) {
        data.extend(limits);
    }
    if let (false, Some(Value::Object(data))) =
        (variables.is_empty(), answer.get_mut("inspectionData"))
    {
        data.insert(
            "variables".into(),
            serde_json::to_string(&variables).unwrap_or_default().into(),
        );
    }
    Ok(answer)
}

fn state_name(event: &HistoryEvent) -> Option<&str> {
    event.details.get("name").and_then(Value::as_str)
}

/// The state's Retry field (taken out of the state: TestState does not wait and try again)
/// and how many retries came before (`stateConfiguration.retrierRetryCount`).
struct Retrying<'a> {
    retriers: Option<&'a Value>,
    retries_before: u64,
    in_task: bool,
}

/// What the state's Retry does with an error: the first retrier naming it (AWS tries no
/// other), and the seconds before the next attempt when it has attempts left.
fn retry_of(retrying: &Retrying<'_>, error: &str) -> Option<(usize, Option<u64>)> {
    if error == "States.Runtime" {
        return None;
    }
    let timeout = matches!(error, "States.Timeout" | "States.HeartbeatTimeout");
    let list = retrying.retriers.and_then(Value::as_array)?;
    let index = list.iter().position(|retrier| {
        retrier
            .get("ErrorEquals")
            .and_then(Value::as_array)
            .is_some_and(|names| {
                names.iter().filter_map(Value::as_str).any(|n| {
                    n == error
                        || n == "States.ALL"
                        || (n == "States.Timeout" && timeout)
                        || (n == "States.TaskFailed" && retrying.in_task && !timeout)
                })
            })
    })?;
    let retrier = &list[index];
    let number =
        |key: &str, default: f64| retrier.get(key).and_then(Value::as_f64).unwrap_or(default);
    let max_attempts = number("MaxAttempts", 3.0);
    let count = retrying.retries_before;
    if (count as f64) >= max_attempts {
        return Some((index, None));
    }
    let mut seconds =
        number("IntervalSeconds", 1.0) * number("BackoffRate", 2.0).powi(count.min(1_000) as i32);
    if let Some(max) = retrier.get("MaxDelaySeconds").and_then(Value::as_f64) {
        seconds = seconds.min(max);
    }
    Some((index, Some(seconds.clamp(0.0, 31_536_000.0) as u64)))
}

fn answer(
    name: &str,
    result: &cairn_runtime::RunResult,
    retrying: Retrying<'_>,
    input_text: &str,
    inspect: bool,
    known_failure: Option<(String, Option<String>)>,
) -> Value {
    let history = &result.history;
    let entered = history
        .iter()
        .position(|e| e.event_type.ends_with("StateEntered") && state_name(e) == Some(name));
    let exited = entered.and_then(|start| {
        history
            .iter()
            .enumerate()
            .skip(start + 1)
            .find(|(_, e)| e.event_type.ends_with("StateExited") && state_name(e) == Some(name))
            .map(|(i, _)| i)
    });
    let span = match (entered, exited) {
        (Some(start), Some(end)) => &history[start..end],
        (Some(start), None) => &history[start..],
        _ => &history[..0],
    };
    // The failure the state met, caught or not.
    // A stubbed Map's or Parallel's history names no error: the mock says which it was.
    let failure = known_failure.or_else(|| {
        span.iter().rev().find_map(|e| {
            let error = e.details.get("error").and_then(Value::as_str)?;
            Some((
                error.to_string(),
                e.details
                    .get("cause")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            ))
        })
    });

    let mut out = Map::new();
    let retry = failure
        .as_ref()
        .and_then(|(error, _)| retry_of(&retrying, error));
    // A retrier with attempts left retries; an exhausted one lets the error through.
    let retriable = matches!(retry, Some((_, Some(_))));
    match (exited, &failure) {
        (Some(end), Some((error, cause))) if !retriable => {
            out.insert("status".into(), "CAUGHT_ERROR".into());
            out.insert("error".into(), error.clone().into());
            if let Some(cause) = cause {
                out.insert("cause".into(), cause.clone().into());
            }
            if let Some(output) = history.get(end).and_then(|e| e.details.get("output")) {
                out.insert(
                    "output".into(),
                    serde_json::to_string(output).unwrap_or_default().into(),
                );
            }
            if let Some(next) = next_state(history, end) {
                out.insert("nextState".into(), next.into());
            }
        }
        (_, Some((error, cause))) if retriable => {
            out.insert("status".into(), "RETRIABLE".into());
            out.insert("error".into(), error.clone().into());
            if let Some(cause) = cause {
                out.insert("cause".into(), cause.clone().into());
            }
        }
        (Some(end), _) => {
            out.insert("status".into(), "SUCCEEDED".into());
            if let Some(output) = history.get(end).and_then(|e| e.details.get("output")) {
                out.insert(
                    "output".into(),
                    serde_json::to_string(output).unwrap_or_default().into(),
                );
            }
            if let Some(next) = next_state(history, end) {
                out.insert("nextState".into(), next.into());
            }
        }
        (None, _) if result.status == Status::Succeeded => {
            // Succeed states exit into the execution's end without a StateExited of their own.
            out.insert("status".into(), "SUCCEEDED".into());
            if let Some(output) = &result.output {
                out.insert(
                    "output".into(),
                    serde_json::to_string(output.as_ref())
                        .unwrap_or_default()
                        .into(),
                );
            }
        }
        (None, _) => {
            out.insert("status".into(), "FAILED".into());
            if let Some(error) = &result.error {
                out.insert("error".into(), error.clone().into());
            }
            if let Some(cause) = &result.cause {
                out.insert("cause".into(), cause.clone().into());
            }
        }
    }
    if inspect {
        let mut data = Map::new();
        data.insert("input".into(), input_text.into());
        for stage in result.inspection.iter().filter(|s| s.state == name) {
            data.insert(
                stage.stage.to_string(),
                serde_json::to_string(&stage.value)
                    .unwrap_or_default()
                    .into(),
            );
        }
        if let Some((index, backoff)) = retry {
            let mut details: Map<String, Value> = data
                .get("errorDetails")
                .and_then(Value::as_str)
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or_default();
            if let Some(seconds) = backoff {
                // Retried, so not caught: the stand-in ran without its Retry.
                details.remove("catchIndex");
                details.insert("retryBackoffIntervalSeconds".into(), seconds.into());
            }
            details.insert("retryIndex".into(), index.into());
            data.insert(
                "errorDetails".into(),
                serde_json::to_string(&details).unwrap_or_default().into(),
            );
        }
        out.insert("inspectionData".into(), Value::Object(data));
    }
    Value::Object(out)
}

fn next_state(history: &[HistoryEvent], after: usize) -> Option<String> {
    history
        .iter()
        .skip(after + 1)
        .find(|e| e.event_type.ends_with("StateEntered"))
        .and_then(|e| state_name(e).map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_retrier_naming_the_error_decides_and_its_backoff_grows_per_retry_before() {
        let retriers = json!([
            {"ErrorEquals": ["Other"], "MaxAttempts": 9},
            {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 3, "BackoffRate": 2, "MaxAttempts": 3, "MaxDelaySeconds": 10},
            {"ErrorEquals": ["States.ALL"]}
        ]);
        let retrying = |retries_before, in_task| Retrying {
            retriers: Some(&retriers),
            retries_before,
            in_task,
        };
        assert_eq!(retry_of(&retrying(0, true), "E"), Some((1, Some(3))));
        assert_eq!(retry_of(&retrying(1, true), "E"), Some((1, Some(6))));
        // MaxDelaySeconds caps the backoff.
        assert_eq!(retry_of(&retrying(2, true), "E"), Some((1, Some(10))));
        // Exhausted: the error goes through to Catch, and no later retrier is tried.
        assert_eq!(retry_of(&retrying(3, true), "E"), Some((1, None)));
        // States.TaskFailed names task errors only, and never a timeout.
        assert_eq!(retry_of(&retrying(0, false), "E"), Some((2, Some(1))));
        assert_eq!(
            retry_of(&retrying(0, true), "States.Timeout"),
            Some((2, Some(1)))
        );
        assert_eq!(retry_of(&retrying(0, true), "States.Runtime"), None);
    }

    #[test]
    fn a_map_fails_its_failures_only_past_a_tolerance_it_declares() {
        let input = json!({"n": 2, "p": 50});
        let jsonata = json!({"Type": "Map", "QueryLanguage": "JSONata",
            "MaxConcurrency": "{% $states.input.n + 1 %}", "ToleratedFailureCount": "{% $states.input.n %}"});
        let limits = map_limits(&jsonata, &input, None, &Map::new());
        assert_eq!(
            Value::Object(limits.clone()),
            json!({"maxConcurrency": 3, "toleratedFailureCount": 2})
        );
        assert!(!exceeds_tolerance(&limits, 2, 10));
        assert!(exceeds_tolerance(&limits, 3, 10));
        let jsonpath = json!({"Type": "Map", "ToleratedFailurePercentagePath": "$.p"});
        let limits = map_limits(&jsonpath, &input, None, &Map::new());
        assert_eq!(
            Value::Object(limits.clone()),
            json!({"maxConcurrency": 0, "toleratedFailurePercentage": 50.0})
        );
        assert!(!exceeds_tolerance(&limits, 1, 2));
        assert!(exceeds_tolerance(&limits, 2, 3));
        // No tolerance declared: AWS answers SUCCEEDED whatever the failure count.
        let none = map_limits(&json!({"Type": "Map"}), &input, None, &Map::new());
        assert!(!exceeds_tolerance(&none, 3, 3));
    }
}
