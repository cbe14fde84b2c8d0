//! InputPath, ResultPath and OutputPath.

use crate::{error_names, CompileError, DataflowError, Scope};
use cairn_jsonpath::{set_at, Path, Root};
use serde_json::{Map, Value};

/// The value of an InputPath, ResultPath or OutputPath field.
#[derive(Debug, Clone, PartialEq)]
pub enum PathSetting {
    /// The field is not in the definition: behaves as `"$"`.
    Absent,
    /// The field is JSON `null`: InputPath/OutputPath give `{}`, ResultPath keeps the input and discards the result.
    Null,
    Path(Path),
}

impl PathSetting {
    /// InputPath or OutputPath: any JSONPath, or null.
    pub fn input_or_output(field: Option<&Value>) -> Result<Self, CompileError> {
        Self::input_or_output_named("", field)
    }

    /// As [`PathSetting::input_or_output`], naming the field (`InputPath`, `OutputPath`,
    /// `ItemsPath`, ...) in the error message as AWS does.
    pub fn input_or_output_named(name: &str, field: Option<&Value>) -> Result<Self, CompileError> {
        match field {
            None => Ok(PathSetting::Absent),
            Some(Value::Null) => Ok(PathSetting::Null),
            Some(Value::String(s)) => Path::parse(s)
                .map(PathSetting::Path)
                .map_err(|_| CompileError::new("", invalid_message(name, "JSONPath"))),
            Some(_) => Err(CompileError::new("", invalid_message(name, "JSONPath"))),
        }
    }

    /// ResultPath: a reference path into the state input (not `$$`, not a variable), or null.
    pub fn result(field: Option<&Value>) -> Result<Self, CompileError> {
        let bad = || CompileError::new("", invalid_message("ResultPath", "ReferencePath"));
        match field {
            None => Ok(PathSetting::Absent),
            Some(Value::Null) => Ok(PathSetting::Null),
            Some(Value::String(s)) => {
                let path = Path::parse_reference(s).map_err(|_| bad())?;
                if path.root() != &Root::Input {
                    return Err(bad());
                }
                Ok(PathSetting::Path(path))
            }
            Some(_) => Err(bad()),
        }
    }
}

fn invalid_message(name: &str, kind: &str) -> String {
    if name.is_empty() {
        format!("The value must be a valid {kind}")
    } else {
        format!("The value for the field '{name}' must be a valid {kind}")
    }
}

/// InputPath: selects the effective input from `scope.input` (the raw state input).
pub fn apply_input_path(setting: &PathSetting, scope: &Scope) -> Result<Value, DataflowError> {
    select_setting(setting, scope)
}

/// OutputPath: selects the state output from `scope.input` (the value after ResultPath).
pub fn apply_output_path(setting: &PathSetting, scope: &Scope) -> Result<Value, DataflowError> {
    select_setting(setting, scope)
}

fn select_setting(setting: &PathSetting, scope: &Scope) -> Result<Value, DataflowError> {
    match setting {
        PathSetting::Absent => Ok(scope.input.clone()),
        PathSetting::Null => Ok(Value::Object(Map::new())),
        PathSetting::Path(path) => scope.select(path),
    }
}

/// ResultPath: combines the raw state input and the (selected) result.
pub fn apply_result_path(
    setting: &PathSetting,
    raw_input: &Value,
    result: Value,
) -> Result<Value, DataflowError> {
    match setting {
        PathSetting::Absent => Ok(result),
        PathSetting::Null => Ok(raw_input.clone()),
        PathSetting::Path(path) => set_at(raw_input.clone(), path, result)
            .map_err(|e| DataflowError::new(error_names::RESULT_PATH_MATCH_FAILURE, e.to_string())),
    }
}
