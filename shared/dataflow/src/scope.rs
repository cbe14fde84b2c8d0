use crate::DataflowError;
use cairn_jsonpath::{Path, Root};
use serde_json::{Map, Value};

/// Where random values come from: the interpreter supplies them so that a run can
/// be replayed exactly.
pub trait Entropy {
    fn uuid(&mut self) -> String;
    fn random_u64(&mut self) -> u64;
}

/// The ASL variables in scope (`$name`).
pub trait Variables {
    fn lookup(&self, name: &str) -> Option<&Value>;
}

impl Variables for Map<String, Value> {
    fn lookup(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

/// The documents a JSONPath can read.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    /// `$`: the current input of the step being evaluated.
    pub input: &'a Value,
    /// `$$`: the context object.
    pub context: &'a Value,
    /// `$name`: the variables.
    pub variables: &'a dyn Variables,
}

impl std::fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("input", self.input)
            .field("context", self.context)
            .finish_non_exhaustive()
    }
}

impl<'a> Scope<'a> {
    /// The same scope with a different `$` (e.g. the result, for ResultSelector).
    pub fn with_input(&self, input: &'a Value) -> Scope<'a> {
        Scope { input, ..*self }
    }

    /// The document a path's root designates; `None` for an undefined variable.
    pub fn root_value(&self, root: &Root) -> Option<&'a Value> {
        match root {
            Root::Input => Some(self.input),
            Root::Context => Some(self.context),
            Root::Variable(name) => self.variables.lookup(name),
        }
    }

    /// Applies a path, failing as AWS does for InputPath, OutputPath and the
    /// `...Path` fields: `States.Runtime` with `Invalid path '<path>' : <reason>`.
    pub fn select(&self, path: &Path) -> Result<Value, DataflowError> {
        self.try_select(path).map_err(|reason| {
            DataflowError::runtime(format!("Invalid path '{}' : {reason}", path.as_str()))
        })
    }

    /// Applies a path; on failure returns Jayway's reason alone, for callers that
    /// word the cause themselves.
    pub fn try_select(&self, path: &Path) -> Result<Value, String> {
        let Some(doc) = self.root_value(path.root()) else {
            let name = match path.root() {
                Root::Variable(n) => n.as_str(),
                _ => "",
            };
            return Err(format!("The variable '{name}' is not defined"));
        };
        path.select(doc).map_err(|e| e.to_string())
    }

    /// Applies a path for a field of the definition (payload template keys,
    /// `ErrorPath`, `CausePath`, ...), failing with AWS's
    /// `The JSONPath '<path>' specified for the field '<field>' could not be found in the input '<input>'`.
    pub fn select_for_field(&self, path: &Path, field: &str) -> Result<Value, DataflowError> {
        self.try_select(path).map_err(|_| {
            DataflowError::runtime(format!(
                "The JSONPath '{}' specified for the field '{field}' could not be found in the input '{}'",
                path.as_str(),
                serde_json::to_string(self.input).unwrap_or_default()
            ))
        })
    }
}
