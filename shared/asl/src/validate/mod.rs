//! Validation of a raw definition (`serde_json::Value`) with AWS's codes, locations and messages.
//!
//! CreateStateMachine, UpdateStateMachine and ValidateStateMachineDefinition all reject a
//! definition with the same diagnostics; this module reproduces them. The definition is checked
//! as JSON rather than through the typed model because an invalid definition cannot become the
//! model, and AWS's messages name JSON locations.
//!
//! Locations are written the way AWS writes them: `/States/<name>/<Field>`, array elements as
//! `Choices[0]`, and state names are not escaped (a `/` inside a name stays a `/`).
//!
//! ```
//! use cairn_asl::validate::{validate_str, Options};
//!
//! let report = validate_str(r#"{"StartAt": "A"}"#, &Options::default());
//! assert_eq!(
//!     report.message().as_deref(),
//!     Some("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: These fields are required: [States] at /'")
//! );
//! ```

mod checker;
mod choice;
mod graph;
mod json_text;
mod location;
mod lookup;
mod paths;
mod tables;
#[cfg(test)]
mod tests;

use serde_json::Value;

/// The state machine type the definition is created as; Express machines refuse some resources.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MachineType {
    #[default]
    Standard,
    Express,
}

impl MachineType {
    /// Reads the API spelling (`STANDARD`, `EXPRESS`); `None` for anything else.
    pub fn from_api(text: &str) -> Option<MachineType> {
        match text {
            "STANDARD" => Some(MachineType::Standard),
            "EXPRESS" => Some(MachineType::Express),
            _ => None,
        }
    }
}

/// What the definition is validated for.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub machine_type: MachineType,
}

/// ValidateStateMachineDefinition's severities: only errors make a definition invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
        }
    }
}

/// One problem, as ValidateStateMachineDefinition reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// AWS's code: `SCHEMA_VALIDATION_FAILED`, `MISSING_TRANSITION_TARGET`, ...
    pub code: String,
    /// Where: `/` for the root, `/States/State0/Credentials`, ... `None` where AWS gives no
    /// location (a definition that is not JSON, a workflow without a terminal state); AWS's
    /// one-line message then says `at null`.
    pub location: Option<String>,
    pub message: String,
    pub severity: Severity,
}

impl Diagnostic {
    fn error(code: &str, location: Option<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code: code.to_owned(),
            location,
            message: message.into(),
            severity: Severity::Error,
        }
    }

    /// `CODE: message at location`, the piece AWS's InvalidDefinition message joins.
    pub fn render(&self) -> String {
        format!(
            "{}: {} at {}",
            self.code,
            self.message,
            self.location.as_deref().unwrap_or("null")
        )
    }
}

/// Everything found in one definition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Errors, in the order AWS reports them (the first is AWS's first).
    pub diagnostics: Vec<Diagnostic>,
    /// Warnings (they do not make the definition invalid).
    pub warnings: Vec<Diagnostic>,
}

impl Report {
    /// True when CreateStateMachine would accept the definition.
    pub fn is_valid(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// AWS's InvalidDefinition message, e.g.
    /// `Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: These fields are required: [States] at /'`;
    /// several problems are joined with `, ` as AWS joins them. `None` when valid.
    pub fn message(&self) -> Option<String> {
        if self.diagnostics.is_empty() {
            return None;
        }
        let joined: Vec<String> = self.diagnostics.iter().map(Diagnostic::render).collect();
        Some(format!(
            "Invalid State Machine Definition: '{}'",
            joined.join(", ")
        ))
    }
}

/// Validates a definition that is already JSON.
pub fn validate(definition: &Value, options: &Options) -> Report {
    checker::check(definition, options)
}

/// Validates definition text: text that is not JSON gets AWS's `INVALID_JSON_DESCRIPTION`.
pub fn validate_str(text: &str, options: &Options) -> Report {
    if text.trim().is_empty() {
        return Report {
            diagnostics: vec![Diagnostic::error(
                "MISSING_DESCRIPTION",
                None,
                "Received a null or empty workflow input",
            )],
            warnings: Vec::new(),
        };
    }
    match crate::json::parse(text) {
        Ok(value) => validate(&value, options),
        Err(error) => Report {
            diagnostics: vec![Diagnostic::error(
                "INVALID_JSON_DESCRIPTION",
                None,
                json_text::describe(text, &error),
            )],
            warnings: Vec::new(),
        },
    }
}
