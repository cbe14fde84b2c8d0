//! The one error type of the crate.

/// When the problem is found: in the definition, or while a state runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text is not a well-formed intrinsic call. AWS rejects such a definition at
    /// CreateStateMachine (`SCHEMA_VALIDATION_FAILED`); the caller adds the field and location.
    Parse,
    /// A well-formed call failed on the data it was given: AWS fails the state with
    /// `States.Runtime`, and the message is the cause text after the state prefix.
    Runtime,
}

/// A parse or evaluation failure. `Display` is the message AWS shows (for `Runtime`, the
/// cause text that follows "An error occurred while executing the state '…' (…). ").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct IntrinsicError {
    kind: ErrorKind,
    message: String,
}

impl IntrinsicError {
    pub(crate) fn parse(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Parse,
            message: message.into(),
        }
    }

    pub(crate) fn runtime(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Runtime,
            message: message.into(),
        }
    }

    /// Definition-time or run-time.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message text (same as `Display`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The ASL error name a run-time failure surfaces as; `None` for a parse error, which
    /// never reaches an execution.
    pub fn error_name(&self) -> Option<&'static str> {
        match self.kind {
            ErrorKind::Parse => None,
            ErrorKind::Runtime => Some("States.Runtime"),
        }
    }
}

/// Result alias of the crate.
pub type Result<T, E = IntrinsicError> = std::result::Result<T, E>;
