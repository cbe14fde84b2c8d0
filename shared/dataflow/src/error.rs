use crate::error_names;

/// A run-time failure of a state: the ASL error name and AWS's cause text (without
/// the `An error occurred while executing the state ...` prefix, which depends on
/// the execution and is added by the interpreter).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct DataflowError {
    pub error: String,
    pub cause: String,
}

impl DataflowError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        DataflowError {
            error: error.into(),
            cause: cause.into(),
        }
    }
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new(error_names::RUNTIME, cause)
    }
}

/// A problem found when compiling part of a definition. `pointer` is a JSON pointer
/// relative to the value that was compiled (`""` for the value itself, `/a/b.$` for
/// a nested field); `message` is AWS's text without the
/// `SCHEMA_VALIDATION_FAILED: ` prefix and ` at /States/...` suffix, which the
/// definition validator adds once it knows where the value sits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", if pointer.is_empty() { String::new() } else { format!(" at {pointer}") })]
pub struct CompileError {
    pub pointer: String,
    pub message: String,
}

impl CompileError {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        CompileError {
            pointer: pointer.into(),
            message: message.into(),
        }
    }

    /// The same error seen from a parent value: `key` is prepended to the pointer.
    pub(crate) fn under(mut self, key: &str) -> Self {
        self.pointer = format!("/{}{}", escape_pointer(key), self.pointer);
        self
    }
}

/// JSON pointer escaping (RFC 6901).
pub(crate) fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
