//! Which fields each state type accepts, and which query language each field belongs to.
//! The per-type lists follow what ValidateStateMachineDefinition accepts (AWS refuses a field
//! on a state type that does not support it with `Field 'X' is not supported`).

/// AWS's list, in AWS's order, as its message prints it.
pub(crate) const STATE_TYPES: [&str; 8] = [
    "Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map",
];

const COMMON: [&str; 3] = ["Type", "Comment", "QueryLanguage"];

const PASS: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Result",
    "ResultPath",
    "Parameters",
    "Output",
    "Assign",
    "Next",
    "End",
];
const TASK: &[&str] = &[
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "Arguments",
    "Output",
    "Assign",
    "Resource",
    "Credentials",
    "ResultSelector",
    "Retry",
    "Catch",
    "TimeoutSeconds",
    "TimeoutSecondsPath",
    "HeartbeatSeconds",
    "HeartbeatSecondsPath",
    "Next",
    "End",
];
const WAIT: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Output",
    "Assign",
    "Seconds",
    "Timestamp",
    "SecondsPath",
    "TimestampPath",
    "Next",
    "End",
];
const PARALLEL: &[&str] = &[
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "Arguments",
    "Output",
    "Assign",
    "ResultSelector",
    "Retry",
    "Catch",
    "Branches",
    "Next",
    "End",
];
const MAP: &[&str] = &[
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "Output",
    "Assign",
    "ResultSelector",
    "Retry",
    "Catch",
    "ItemProcessor",
    "Iterator",
    "ItemsPath",
    "Items",
    "ItemSelector",
    "ItemReader",
    "ItemBatcher",
    "ResultWriter",
    "MaxConcurrency",
    "MaxConcurrencyPath",
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
    "Label",
    "Next",
    "End",
];
const CHOICE: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Output",
    "Assign",
    "Choices",
    "Default",
];
const SUCCEED: &[&str] = &["InputPath", "OutputPath", "Output"];
const FAIL: &[&str] = &["Error", "Cause", "ErrorPath", "CausePath"];

pub(crate) fn state_accepts(state_type: &str, field: &str) -> bool {
    if COMMON.contains(&field) {
        return true;
    }
    let fields = match state_type {
        "Pass" => PASS,
        "Task" => TASK,
        "Wait" => WAIT,
        "Parallel" => PARALLEL,
        "Map" => MAP,
        "Choice" => CHOICE,
        "Succeed" => SUCCEED,
        "Fail" => FAIL,
        _ => return false,
    };
    fields.contains(&field)
}

/// Fields that exist in only one query language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Only {
    JsonPath,
    Jsonata,
}

pub(crate) fn field_language(field: &str) -> Option<Only> {
    match field {
        "InputPath"
        | "OutputPath"
        | "ResultPath"
        | "Parameters"
        | "ResultSelector"
        | "Result"
        | "ItemsPath"
        | "MaxConcurrencyPath"
        | "ToleratedFailureCountPath"
        | "ToleratedFailurePercentagePath"
        | "TimeoutSecondsPath"
        | "HeartbeatSecondsPath"
        | "SecondsPath"
        | "TimestampPath"
        | "ErrorPath"
        | "CausePath"
        | "Variable"
        | "MaxItemsPath"
        | "MaxItemsPerBatchPath"
        | "MaxInputBytesPerBatchPath" => Some(Only::JsonPath),
        "Arguments" | "Output" | "Items" | "Condition" => Some(Only::Jsonata),
        _ if is_comparison_operator(field) => Some(Only::JsonPath),
        _ => None,
    }
}

/// Choice comparison operators whose operand is a literal, with the operand's kind.
pub(crate) const LITERAL_OPERATORS: [(&str, Operand); 22] = [
    ("StringEquals", Operand::String),
    ("StringLessThan", Operand::String),
    ("StringGreaterThan", Operand::String),
    ("StringLessThanEquals", Operand::String),
    ("StringGreaterThanEquals", Operand::String),
    ("StringMatches", Operand::String),
    ("NumericEquals", Operand::Number),
    ("NumericLessThan", Operand::Number),
    ("NumericGreaterThan", Operand::Number),
    ("NumericLessThanEquals", Operand::Number),
    ("NumericGreaterThanEquals", Operand::Number),
    ("BooleanEquals", Operand::Boolean),
    ("TimestampEquals", Operand::Timestamp),
    ("TimestampLessThan", Operand::Timestamp),
    ("TimestampGreaterThan", Operand::Timestamp),
    ("TimestampLessThanEquals", Operand::Timestamp),
    ("TimestampGreaterThanEquals", Operand::Timestamp),
    ("IsNull", Operand::Boolean),
    ("IsPresent", Operand::Boolean),
    ("IsNumeric", Operand::Boolean),
    ("IsString", Operand::Boolean),
    ("IsBoolean", Operand::Boolean),
];

/// `IsTimestamp` is kept apart only because the array above is fixed-size by kind count.
pub(crate) const IS_TIMESTAMP: &str = "IsTimestamp";

/// Operators whose operand is a reference path to compare with.
pub(crate) const PATH_OPERATORS: [&str; 16] = [
    "StringEqualsPath",
    "StringLessThanPath",
    "StringGreaterThanPath",
    "StringLessThanEqualsPath",
    "StringGreaterThanEqualsPath",
    "NumericEqualsPath",
    "NumericLessThanPath",
    "NumericGreaterThanPath",
    "NumericLessThanEqualsPath",
    "NumericGreaterThanEqualsPath",
    "BooleanEqualsPath",
    "TimestampEqualsPath",
    "TimestampLessThanPath",
    "TimestampGreaterThanPath",
    "TimestampLessThanEqualsPath",
    "TimestampGreaterThanEqualsPath",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operand {
    String,
    Number,
    Boolean,
    Timestamp,
}

pub(crate) fn literal_operand(field: &str) -> Option<Operand> {
    if field == IS_TIMESTAMP {
        return Some(Operand::Boolean);
    }
    LITERAL_OPERATORS
        .iter()
        .find(|(name, _)| *name == field)
        .map(|(_, operand)| *operand)
}

pub(crate) fn is_comparison_operator(field: &str) -> bool {
    literal_operand(field).is_some() || PATH_OPERATORS.contains(&field)
}
