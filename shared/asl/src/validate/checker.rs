//! The walk over a definition: the top level, every scope (the machine, each Parallel branch,
//! each Map processor) and every state, with AWS's schema rules.
//!
//! Scopes are queued rather than recursed into, so arbitrarily deep Parallel/Map nesting costs
//! heap, not stack.

use std::collections::{HashSet, VecDeque};

use serde_json::{Map, Value};

use super::choice;
use super::graph;
use super::location::{Loc, Step, Trail};
use super::lookup::Lookup;
use super::paths::{self, JsonataReference, Root};
use super::tables::{self, Only, STATE_TYPES};
use super::{Diagnostic, MachineType, Options, Report, Severity};

pub(crate) const SCHEMA: &str = "SCHEMA_VALIDATION_FAILED";

/// How deep nested payload templates and Choice rules may go before the definition is refused
/// (a `Value` built in code can be deeper than anything JSON text parses to).
pub(crate) const MAX_NESTING: usize = 100;

/// The query language a state's fields are read in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lang {
    JsonPath,
    Jsonata,
}

impl Lang {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Lang::JsonPath => "JSONPath",
            Lang::Jsonata => "JSONata",
        }
    }

    /// True when a field that exists only in `only` may not be used in this language.
    pub(crate) fn refuses(self, only: Only) -> bool {
        matches!(
            (self, only),
            (Lang::JsonPath, Only::Jsonata) | (Lang::Jsonata, Only::JsonPath)
        )
    }
}

/// AWS's message for a field of the other query language.
pub(crate) fn wrong_language(lang: Lang, field: &str) -> String {
    let other = match lang {
        Lang::JsonPath => Lang::Jsonata,
        Lang::Jsonata => Lang::JsonPath,
    };
    format!(
        "The QueryLanguage is set to '{}', but field '{field}' is only supported for the '{}' QueryLanguage",
        lang.name(),
        other.name()
    )
}

pub(crate) fn at(base: &str, field: &str) -> String {
    format!("{base}/{field}")
}

pub(crate) fn at_index(base: &str, field: &str, index: usize) -> String {
    format!("{base}/{field}[{index}]")
}

struct Scope<'a> {
    /// "" for the machine, "/States/M/ItemProcessor" for a processor, ...
    base: String,
    object: &'a Map<String, Value>,
    kind: ScopeKind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ScopeKind {
    Machine,
    Branch,
    Processor,
}

pub(crate) struct Checker<'a> {
    options: &'a Options,
    machine_lang: Lang,
    /// Schema diagnostics come first in AWS's answer...
    schema: Vec<Diagnostic>,
    /// ...then names and transitions.
    semantic: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    seen_names: HashSet<&'a str>,
    /// The machine's own states, added to `seen_names` only when a nested scope is met: a map's
    /// keys are unique, so a definition without Parallel or Map cannot repeat a name and
    /// needs no set at all.
    machine_states: Option<&'a Map<String, Value>>,
    pending: VecDeque<Scope<'a>>,
    /// Every scope's transitions, checked once the schema is known to be valid: a state that is
    /// not even a state would otherwise also show up as a dead end.
    graphs: Vec<(String, &'a str, &'a Map<String, Value>)>,
}

pub(crate) fn check(definition: &Value, options: &Options) -> Report {
    let mut checker = Checker {
        options,
        machine_lang: Lang::JsonPath,
        schema: Vec::new(),
        semantic: Vec::new(),
        warnings: Vec::new(),
        seen_names: HashSet::new(),
        machine_states: None,
        pending: VecDeque::new(),
        graphs: Vec::new(),
    };
    checker.machine(definition);
    while let Some(scope) = checker.pending.pop_front() {
        checker.scope(scope);
    }
    if checker.schema.is_empty() {
        for (base, start_at, states) in std::mem::take(&mut checker.graphs) {
            checker
                .semantic
                .extend(graph::transitions(&base, start_at, states));
        }
    }
    let mut diagnostics = checker.schema;
    diagnostics.append(&mut checker.semantic);
    Report {
        diagnostics,
        warnings: checker.warnings,
    }
}

impl<'a> Checker<'a> {
    pub(crate) fn error(&mut self, location: Loc<'_>, message: impl Into<String>) {
        self.schema.push(Diagnostic::error(
            SCHEMA,
            Some(location.to_string()),
            message,
        ));
    }

    pub(crate) fn error_code(&mut self, code: &str, location: Option<Loc<'_>>, message: String) {
        self.semantic.push(Diagnostic::error(
            code,
            location.map(|location| location.to_string()),
            message,
        ));
    }

    pub(crate) fn warning(&mut self, code: &str, location: Loc<'_>, message: String) {
        self.warnings.push(Diagnostic {
            code: code.to_owned(),
            location: Some(location.to_string()),
            message,
            severity: Severity::Warning,
        });
    }

    pub(crate) fn expect_type(&mut self, location: Loc<'_>, expected: &str) {
        self.error(location, format!("Expected value of type [{expected}]"));
    }

    /// Reports missing required fields; true when all are present. They are listed in AWS's
    /// order ([`java_hash_set_order`]): `{}` lacks "[States, StartAt]".
    pub(crate) fn required(
        &mut self,
        object: &Map<String, Value>,
        fields: &[&str],
        location: Loc<'_>,
    ) -> bool {
        let mut missing: Vec<&str> = fields
            .iter()
            .copied()
            .filter(|field| !object.has(field))
            .collect();
        if missing.is_empty() {
            return true;
        }
        java_hash_set_order(&mut missing);
        self.error(
            location,
            format!("These fields are required: [{}]", missing.join(", ")),
        );
        false
    }

    /// Reports fields outside `allowed`, in document order.
    pub(crate) fn only_fields(
        &mut self,
        object: &Map<String, Value>,
        allowed: &[&str],
        location: Loc<'_>,
    ) {
        for key in object.keys() {
            if !allowed.contains(&key.as_str()) {
                self.error(location, format!("Field '{key}' is not supported"));
            }
        }
    }

    pub(crate) fn one_of(&mut self, value: &Value, allowed: &[&str], location: Loc<'_>) {
        match value.as_str() {
            Some(text) if allowed.contains(&text) => {}
            Some(_) => self.error(
                location,
                format!(
                    "Value should be one of the following: [{}]",
                    allowed.join(", ")
                ),
            ),
            None => self.expect_type(location, "STRING"),
        }
    }

    fn machine(&mut self, definition: &'a Value) {
        let Some(root) = definition.as_object() else {
            self.expect_type(Loc::Text("/"), "OBJECT");
            return;
        };
        let complete = self.required(root, &["StartAt", "States"], Loc::Text("/"));
        if complete {
            self.only_fields(
                root,
                &[
                    "Comment",
                    "StartAt",
                    "States",
                    "Version",
                    "TimeoutSeconds",
                    "QueryLanguage",
                ],
                Loc::Text("/"),
            );
        }
        if let Some(language) = root.find("QueryLanguage") {
            // Anything but the exact "JSONPath" makes the machine JSONata, even when it is
            // also reported as outside the enum.
            if language.as_str() != Some("JSONPath") {
                self.machine_lang = Lang::Jsonata;
            }
            self.one_of(
                language,
                &["JSONPath", "JSONata"],
                Loc::Text("/QueryLanguage"),
            );
        }
        if let Some(version) = root.find("Version") {
            self.one_of(version, &["1.0"], Loc::Text("/Version"));
        }
        if let Some(comment) = root.find("Comment") {
            self.string(comment, Loc::Text("/Comment"));
        }
        if let Some(timeout) = root.find("TimeoutSeconds") {
            self.integer_in(timeout, 0, 99_999_999, Loc::Text("/TimeoutSeconds"), false);
        }
        self.scope(Scope {
            base: String::new(),
            object: root,
            kind: ScopeKind::Machine,
        });
    }

    fn scope(&mut self, scope: Scope<'a>) {
        let base = Loc::Text(&scope.base);
        let object = scope.object;
        if scope.kind != ScopeKind::Machine {
            let complete = self.required(object, &["StartAt", "States"], base);
            if complete {
                let allowed: &[&str] = match scope.kind {
                    ScopeKind::Processor => &["ProcessorConfig", "StartAt", "States", "Comment"],
                    _ => &["StartAt", "States", "Comment"],
                };
                self.only_fields(object, allowed, base);
            }
            if let Some(comment) = object.find("Comment") {
                self.string(comment, base.field("Comment"));
            }
        }
        if let Some(start_at) = object.find("StartAt") {
            self.string(start_at, base.field("StartAt"));
        }
        let Some(states_value) = object.find("States") else {
            return;
        };
        let Some(states) = states_value.as_object() else {
            self.expect_type(base.field("States"), "OBJECT");
            return;
        };
        if states.is_empty() {
            self.error(base.field("States"), "Value cannot be empty");
            return;
        }
        if scope.kind == ScopeKind::Machine {
            self.machine_states = Some(states);
        } else if let Some(machine_states) = self.machine_states.take() {
            self.seen_names.reserve(machine_states.len() + states.len());
            self.seen_names
                .extend(machine_states.keys().map(String::as_str));
        }
        let states_location = base.field("States");
        for (name, state) in states {
            let location = states_location.field(name);
            if name.len() > 80 && name.chars().count() > 80 {
                self.error_code(
                    "INVALID_STATE_NAME",
                    Some(location),
                    format!("State name '{name}' exceeds the maximum length of 80 characters"),
                );
            }
            if scope.kind != ScopeKind::Machine && !self.seen_names.insert(name.as_str()) {
                self.error_code(
                    "DUPLICATE_STATE_NAME",
                    Some(location),
                    format!("Duplicate State name: {name}"),
                );
            }
            self.state(state, location);
        }
        if let Some(start_at) = object.find("StartAt").and_then(Value::as_str) {
            self.graphs.push((scope.base, start_at, states));
        }
    }

    fn state(&mut self, state: &'a Value, location: Loc<'_>) {
        let Some(object) = state.as_object() else {
            self.expect_type(location, "OBJECT");
            return;
        };
        let Some(type_value) = object.find("Type") else {
            self.required(object, &["Type"], location);
            return;
        };
        let Some(state_type) = type_value
            .as_str()
            .filter(|name| STATE_TYPES.contains(name))
        else {
            self.error(
                location.field("Type"),
                format!(
                    "The field 'Type' should have one of these values: [{}]",
                    STATE_TYPES.join(", ")
                ),
            );
            return;
        };
        let declared = object.find("QueryLanguage");
        let lang = match declared {
            None => self.machine_lang,
            Some(Value::String(text)) if text == "JSONPath" => Lang::JsonPath,
            Some(_) => Lang::Jsonata,
        };
        // A state may not go back to JSONPath inside a JSONata machine; AWS then says only that
        // and does not also complain about the state's JSONata fields.
        let downgrade = self.machine_lang == Lang::Jsonata && lang == Lang::JsonPath;

        let required: &[&str] = match state_type {
            "Task" => &["Resource"],
            "Parallel" => &["Branches"],
            "Choice" => &["Choices"],
            _ => &[],
        };
        let complete = self.required(object, required, location);
        if downgrade {
            self.error(
                location,
                "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
            );
        }
        let mut refused: Vec<&str> = Vec::new();
        for key in object.keys() {
            let accepted = tables::state_accepts(state_type, key);
            if !accepted {
                refused.push(key.as_str());
                if complete {
                    self.error(location, format!("Field '{key}' is not supported"));
                }
                continue;
            }
            if let Some(only) = tables::field_language(key) {
                if lang.refuses(only) {
                    refused.push(key.as_str());
                    if !downgrade {
                        self.error(location, wrong_language(lang, key));
                    }
                }
            }
        }
        if let Some(declared) = declared {
            self.one_of(
                declared,
                &["JSONPath", "JSONata"],
                location.field("QueryLanguage"),
            );
        }
        self.exclusive_groups(state_type, object, location);

        let context = StateContext {
            state_type,
            lang,
            location,
        };
        for (key, value) in object {
            if refused.contains(&key.as_str()) {
                continue;
            }
            self.field(&context, key, value);
        }
        if state_type == "Task" {
            self.heartbeat_below_timeout(object, location);
        }
    }

    fn exclusive_groups(
        &mut self,
        state_type: &str,
        object: &Map<String, Value>,
        location: Loc<'_>,
    ) {
        if matches!(state_type, "Task" | "Pass" | "Wait" | "Parallel" | "Map") {
            let has_next = object.has("Next");
            let ends = object.find("End") == Some(&Value::Bool(true));
            if has_next && ends {
                self.error(
                    location,
                    "There should only be one of the following fields: [Next, End]",
                );
            } else if !has_next && !ends {
                self.error(
                    location,
                    "This object should have only one of the following fields: [Next, End]",
                );
            }
        }
        if state_type == "Wait" {
            const WAIT: [&str; 4] = ["SecondsPath", "Seconds", "TimestampPath", "Timestamp"];
            let count = WAIT.iter().filter(|f| object.has(f)).count();
            if count > 1 {
                self.error(
                    location,
                    format!(
                        "There should only be one of the following fields: [{}]",
                        WAIT.join(", ")
                    ),
                );
            } else if count == 0 {
                self.error(
                    location,
                    format!(
                        "This object should have only one of the following fields: [{}]",
                        WAIT.join(", ")
                    ),
                );
            }
        }
        if state_type == "Map" {
            let processor = object.has("ItemProcessor");
            let iterator = object.has("Iterator");
            if processor && iterator {
                self.error(
                    location,
                    "There should only be one of the following fields: [ItemProcessor, Iterator]",
                );
            } else if !processor && !iterator {
                self.error(
                    location,
                    "This object should have only one of the following fields: [ItemProcessor, Iterator]",
                );
            }
        }
        let pairs: &[(&str, &str)] = match state_type {
            "Task" => &[
                ("TimeoutSeconds", "TimeoutSecondsPath"),
                ("HeartbeatSeconds", "HeartbeatSecondsPath"),
            ],
            "Map" => &[
                ("MaxConcurrency", "MaxConcurrencyPath"),
                (
                    "ToleratedFailurePercentage",
                    "ToleratedFailurePercentagePath",
                ),
                ("ToleratedFailureCount", "ToleratedFailureCountPath"),
            ],
            "Fail" => &[("Error", "ErrorPath"), ("Cause", "CausePath")],
            _ => &[],
        };
        for (field, path) in pairs {
            if object.has(field) && object.has(path) {
                self.error(
                    location.field(field),
                    format!("There should only be one of the following fields: [{field}, {path}]"),
                );
            }
        }
    }

    fn heartbeat_below_timeout(&mut self, object: &Map<String, Value>, location: Loc<'_>) {
        let heartbeat = object.find("HeartbeatSeconds").and_then(Value::as_u64);
        let timeout = object.find("TimeoutSeconds").and_then(Value::as_u64);
        if let (Some(heartbeat), Some(timeout)) = (heartbeat, timeout) {
            if heartbeat >= timeout {
                self.error(
                    location.field("HeartbeatSeconds"),
                    "HeartbeatSeconds must be smaller than TimeoutSeconds",
                );
            }
        }
    }

    fn field(&mut self, context: &StateContext<'_>, key: &'a str, value: &'a Value) {
        let location = context.location.field(key);
        let lang = context.lang;
        if lang == Lang::Jsonata {
            self.jsonata_field(context, key, value, location);
        }
        match key {
            "Type" | "QueryLanguage" | "Output" => {}
            "Result" => self.static_result(value, location),
            "Comment" | "Label" => self.string(value, location),
            "Next" | "Default" => self.string(value, location),
            "End" if !value.is_boolean() => self.expect_type(location, "BOOLEAN"),
            "InputPath" | "OutputPath" => self.optional_path(value, key, location),
            "ResultPath" => self.result_path(value, location),
            "Parameters" | "ResultSelector" => self.template_object(value, location),
            "ItemSelector" => match lang {
                Lang::JsonPath => self.template_object(value, location),
                Lang::Jsonata => self.object_or_expression(value, location),
            },
            "Arguments" => self.object_or_expression(value, location),
            "Assign" => self.assign(value, lang, location),
            "Resource" => self.resource(value, location),
            "Credentials" => self.credentials(value, lang, location),
            "Retry" => self.retriers(value, location),
            "Catch" => self.catchers(context, value, location),
            "TimeoutSeconds" | "HeartbeatSeconds" => {
                self.integer_in(value, 1, 99_999_999, location, lang == Lang::Jsonata)
            }
            "Seconds" => self.integer_in(value, 0, 99_999_999, location, lang == Lang::Jsonata),
            "MaxConcurrency" | "ToleratedFailureCount" => {
                self.integer_in(value, 0, i64::MAX, location, lang == Lang::Jsonata)
            }
            "ToleratedFailurePercentage" => self.percentage(value, location, lang),
            // AWS refuses the context object in the Map's number paths (measured); the Task and
            // Wait paths are not known to be restricted, so they accept it.
            "TimeoutSecondsPath" | "HeartbeatSecondsPath" | "SecondsPath" | "TimestampPath" => {
                self.reference_path(value, location, true)
            }
            "MaxConcurrencyPath"
            | "ToleratedFailurePercentagePath"
            | "ToleratedFailureCountPath" => self.reference_path(value, location, false),
            "Timestamp" => self.timestamp(value, location, lang),
            "Error" | "Cause" => {
                if lang == Lang::JsonPath
                    && value.as_str().is_some_and(|text| {
                        text.starts_with('$') && paths::path_shape(text).is_some()
                    })
                {
                    self.warning(
                        "NO_PATH",
                        location,
                        format!("The value of the field '{key}' looks like a path, but the field name does not end with 'Path'"),
                    );
                }
                self.string(value, location)
            }
            "ErrorPath" | "CausePath" => self.path_or_intrinsic(value, key, location),
            "ItemsPath" => self.reference_path(value, location, true),
            "Items" => {
                let is_expression = value.as_str().and_then(paths::jsonata_body).is_some();
                if !value.is_array() && !is_expression {
                    self.expect_type(location, "ARRAY");
                }
            }
            "Choices" => choice::choices(self, value, lang, location),
            "Branches" => self.branches(value, location),
            "ItemProcessor" | "Iterator" => self.processor(value, location),
            "ItemReader" => self.item_reader(value, lang, location),
            "ItemBatcher" => self.item_batcher(value, lang, location),
            "ResultWriter" => self.result_writer(value, lang, location),
            _ => {}
        }
    }

    /// A Pass state's Result is used as written: a `.$` key in it is not resolved.
    fn static_result(&mut self, value: &Value, location: Loc<'_>) {
        let mut stack: Vec<(&Value, usize)> = vec![(value, 0)];
        while let Some((value, depth)) = stack.pop() {
            if depth > MAX_NESTING {
                continue;
            }
            match value {
                Value::Object(object) => {
                    if object.keys().any(|key| key.ends_with(".$")) {
                        self.warning(
                            "PASS_RESULT_IS_STATIC",
                            location,
                            "Attempt to use a path in the result of a pass state".to_owned(),
                        );
                        return;
                    }
                    stack.extend(object.values().map(|child| (child, depth + 1)));
                }
                Value::Array(items) => stack.extend(items.iter().map(|item| (item, depth + 1))),
                _ => {}
            }
        }
    }

    pub(crate) fn string(&mut self, value: &Value, location: Loc<'_>) {
        if !value.is_string() {
            self.expect_type(location, "STRING");
        }
    }

    /// An integer field; JSONata states may give a `{% %}` expression instead.
    pub(crate) fn integer_in(
        &mut self,
        value: &Value,
        minimum: i64,
        maximum: i64,
        location: Loc<'_>,
        expression_allowed: bool,
    ) {
        if expression_allowed && value.as_str().and_then(paths::jsonata_body).is_some() {
            return;
        }
        let number = match value {
            Value::Number(number) => number,
            _ => {
                self.error(location, "Expected value of type Integer");
                return;
            }
        };
        let Some(integer) = number
            .as_i64()
            .or_else(|| number.as_u64().map(|_| i64::MAX))
        else {
            self.error(location, "Expected value of type Integer");
            return;
        };
        if integer < minimum {
            self.error(location, format!("Minimum value is {minimum}"));
        } else if integer > maximum {
            self.error(location, format!("Maximum value is {maximum}"));
        }
    }

    fn percentage(&mut self, value: &Value, location: Loc<'_>, lang: Lang) {
        if lang == Lang::Jsonata && value.as_str().and_then(paths::jsonata_body).is_some() {
            return;
        }
        match value.as_f64() {
            None => self.expect_type(location, "NUMBER"),
            Some(number) if number < 0.0 => self.error(location, "Minimum value is 0.0"),
            Some(number) if number > 100.0 => self.error(location, "Maximum value is 100.0"),
            Some(_) => {}
        }
    }

    fn timestamp(&mut self, value: &Value, location: Loc<'_>, lang: Lang) {
        match value.as_str() {
            Some(text) if lang == Lang::Jsonata && paths::jsonata_body(text).is_some() => {}
            Some(text) if paths::is_rfc3339(text) => {}
            Some(_) => self.error(location, "String does not match RFC3339 timestamp"),
            None => self.expect_type(location, "STRING"),
        }
    }

    /// InputPath/OutputPath: any JSONPath (input, context or variable), or null.
    fn optional_path(&mut self, value: &Value, key: &str, location: Loc<'_>) {
        match value {
            Value::Null => {}
            Value::String(text) if paths::path_shape(text).is_some() => {}
            Value::String(_) => self.error(
                location,
                format!("The value for the field '{key}' must be a valid JSONPath"),
            ),
            _ => self.expect_type(location, "STRING"),
        }
    }

    /// ResultPath: a Reference Path into the input; null discards the result.
    pub(crate) fn result_path(&mut self, value: &Value, location: Loc<'_>) {
        match value {
            Value::Null => {}
            Value::String(text) => match paths::path_shape(text) {
                Some(shape) if shape.definite && shape.root == Root::Input => {}
                _ => self.not_reference_path(text, location),
            },
            _ => self.expect_type(location, "STRING"),
        }
    }

    /// The `...Path` fields: a Reference Path; only ItemsPath may read the context object.
    fn reference_path(&mut self, value: &Value, location: Loc<'_>, context_allowed: bool) {
        let Some(text) = value.as_str() else {
            self.expect_type(location, "STRING");
            return;
        };
        match paths::path_shape(text) {
            Some(shape) if shape.definite && (context_allowed || shape.root != Root::Context) => {}
            _ => self.not_reference_path(text, location),
        }
    }

    pub(crate) fn not_reference_path(&mut self, text: &str, location: Loc<'_>) {
        let message = if text.starts_with('$') {
            "Value is not a Reference Path".to_owned()
        } else {
            "Value is not a Reference Path: Reference path didn't start with '$'".to_owned()
        };
        self.error(location, message);
    }

    fn path_or_intrinsic(&mut self, value: &Value, key: &str, location: Loc<'_>) {
        let Some(text) = value.as_str() else {
            self.expect_type(location, "STRING");
            return;
        };
        if paths::path_shape(text).is_none() && !paths::is_intrinsic_call(text) {
            self.error(
                location,
                format!(
                    "The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call"
                ),
            );
        }
    }

    fn object_or_expression(&mut self, value: &Value, location: Loc<'_>) {
        let is_expression = value.as_str().and_then(paths::jsonata_body).is_some();
        if !value.is_object() && !is_expression {
            self.expect_type(location, "OBJECT");
        }
    }

    /// A JSONPath payload template: `key.$` values are paths or intrinsic calls, at any depth.
    pub(crate) fn template_object(&mut self, value: &Value, location: Loc<'_>) {
        if !value.is_object() {
            self.expect_type(location, "OBJECT");
            return;
        }
        self.template(value, location);
    }

    pub(crate) fn template(&mut self, value: &Value, location: Loc<'_>) {
        let mut trail = Trail::default();
        let mut stack: Vec<(&Value, usize, usize)> = Vec::new();
        let mut next = Some((value, Trail::ROOT, 0));
        while let Some((value, node, depth)) = next.take().or_else(|| stack.pop()) {
            if depth > MAX_NESTING {
                self.too_deep(trail.at(&location, node));
                continue;
            }
            match value {
                Value::Object(object) => {
                    let here = trail.at(&location, node);
                    for (key, child) in object {
                        if key.ends_with(".$") {
                            self.dynamic_value(key, child, here.field(key));
                        } else if let Some(text) = child.as_str() {
                            if looks_dynamic(text) {
                                self.warning(
                                    "NO_DOLLAR",
                                    here.field(key),
                                    format!("The value of the field '{key}' looks like a JSONPath or an intrinsic function, but the field name does not end with '.$'"),
                                );
                            }
                        }
                    }
                    for (key, child) in object.iter().rev() {
                        if !key.ends_with(".$") && needs_visit(child, depth + 1) {
                            let child_node = trail.push(node, Step::Key(key));
                            stack.push((child, child_node, depth + 1));
                        }
                    }
                }
                Value::Array(items) => {
                    for (index, item) in items.iter().enumerate().rev() {
                        if needs_visit(item, depth + 1) {
                            let child_node = trail.push(node, Step::Index(index));
                            stack.push((item, child_node, depth + 1));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn dynamic_value(&mut self, key: &str, value: &Value, location: Loc<'_>) {
        let valid = value.as_str().is_some_and(|text| {
            paths::path_shape(text).is_some() || paths::is_intrinsic_call(text)
        });
        if !valid {
            self.error(
                location,
                format!(
                    "The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call"
                ),
            );
        }
    }

    pub(crate) fn too_deep(&mut self, location: Loc<'_>) {
        self.semantic.push(Diagnostic::error(
            "TOO_DEEPLY_NESTED",
            Some(location.to_string()),
            "The states are too deeply nested",
        ));
    }

    /// Assign: variable names, and in JSONPath the `.$` values of a payload template.
    pub(crate) fn assign(&mut self, value: &Value, lang: Lang, location: Loc<'_>) {
        let Some(object) = value.as_object() else {
            self.expect_type(location, "OBJECT");
            return;
        };
        for (key, child) in object {
            let child_location = location.field(key);
            let name = match (lang, key.strip_suffix(".$")) {
                (Lang::JsonPath, Some(name)) => {
                    self.dynamic_value(key, child, child_location);
                    name
                }
                (Lang::JsonPath, None) => {
                    self.template(child, child_location);
                    key.as_str()
                }
                (Lang::Jsonata, _) => key.as_str(),
            };
            self.variable_name(name, child_location);
        }
    }

    fn variable_name(&mut self, name: &str, location: Loc<'_>) {
        if name == "states" {
            self.error_code(
                "RESERVED_VARIABLE_NAME",
                Some(location),
                "Cannot assign to reserved variable '$states'.".to_owned(),
            );
            return;
        }
        let mut chars = name.chars();
        let well_formed =
            chars.next().is_some_and(paths::is_name_start) && chars.all(paths::is_name_continue);
        if !well_formed {
            self.error_code(
                "INVALID_VARIABLE_NAME",
                Some(location),
                format!(
                    "Invalid variable name '{name}': the variable name contains invalid characters."
                ),
            );
        } else if name.chars().count() > 80 {
            self.error_code(
                "INVALID_VARIABLE_NAME",
                Some(location),
                format!("Invalid variable name '{name}': the variable name exceeds 80 characters."),
            );
        }
    }

    fn resource(&mut self, value: &Value, location: Loc<'_>) {
        let Some(resource) = value.as_str() else {
            self.expect_type(location, "STRING");
            return;
        };
        let parts: Vec<&str> = resource.split(':').collect();
        if parts.len() < 6 || parts.first() != Some(&"arn") {
            self.error(location, "Value is not a valid resource ARN");
            return;
        }
        if !integration_recognized(&parts) {
            self.error(
                location,
                format!("The resource provided {resource} is not recognized. The value is not a valid resource ARN, or the resource is not available in this region."),
            );
            return;
        }
        if self.options.machine_type == MachineType::Express {
            let activity = parts.get(2) == Some(&"states") && parts.get(5) == Some(&"activity");
            if activity {
                self.error(
                    location,
                    "Express state machine does not support Activity ARN",
                );
            } else if resource.ends_with(".sync") || resource.ends_with(".sync:2") {
                self.error(
                    location,
                    "Express state machine does not support '.sync' service integration",
                );
            } else if resource.ends_with(".waitForTaskToken") {
                self.error(
                    location,
                    "Express state machine does not support '.waitForTaskToken' service integration",
                );
            }
        }
    }

    fn credentials(&mut self, value: &Value, lang: Lang, location: Loc<'_>) {
        let Some(object) = value.as_object() else {
            self.expect_type(location, "OBJECT");
            return;
        };
        let has_role = object.has("RoleArn") || (lang == Lang::JsonPath && object.has("RoleArn.$"));
        if !has_role {
            self.error(location, "The field 'RoleArn' is required but was missing");
            return;
        }
        let allowed: &[&str] = match lang {
            Lang::JsonPath => &["RoleArn", "RoleArn.$"],
            Lang::Jsonata => &["RoleArn"],
        };
        self.only_fields(object, allowed, location);
        if let Some(role) = object.find("RoleArn") {
            self.string(role, location.field("RoleArn"));
        }
        if lang == Lang::JsonPath {
            if let Some(role) = object.find("RoleArn.$") {
                self.dynamic_value("RoleArn.$", role, location.field("RoleArn.$"));
            }
        }
    }

    fn error_equals(&mut self, object: &Map<String, Value>, location: Loc<'_>) -> bool {
        let Some(value) = object.find("ErrorEquals") else {
            return false;
        };
        let location = location.field("ErrorEquals");
        let Some(errors) = value.as_array() else {
            self.expect_type(location, "ARRAY");
            return false;
        };
        if errors.is_empty() {
            self.error(location, "Value cannot be empty");
            return false;
        }
        for (index, error) in errors.iter().enumerate() {
            self.string(error, location.index(index));
        }
        let has_all = errors.iter().any(|e| e.as_str() == Some("States.ALL"));
        if has_all && errors.len() > 1 {
            self.error(
                location,
                "The error 'States.ALL' must appear alone in ErrorEquals",
            );
        }
        has_all
    }

    fn retriers(&mut self, value: &Value, location: Loc<'_>) {
        let Some(retriers) = value.as_array() else {
            self.expect_type(location, "ARRAY");
            return;
        };
        let last = retriers.len().saturating_sub(1);
        for (index, retrier) in retriers.iter().enumerate() {
            let location = location.index(index);
            let Some(object) = retrier.as_object() else {
                self.expect_type(location, "OBJECT");
                continue;
            };
            if self.required(object, &["ErrorEquals"], location) {
                self.only_fields(
                    object,
                    &[
                        "ErrorEquals",
                        "IntervalSeconds",
                        "MaxAttempts",
                        "BackoffRate",
                        "MaxDelaySeconds",
                        "JitterStrategy",
                        "Comment",
                    ],
                    location,
                );
            }
            if self.error_equals(object, location) && index != last {
                self.error(
                    location,
                    "The error 'States.ALL' must be in the last retrier",
                );
            }
            // Retrier numbers are constants in both languages: JSONata expressions are only
            // accepted in the state-level number fields.
            let expression = false;
            for (key, field) in object {
                let field_location = location.field(key);
                match key.as_str() {
                    "IntervalSeconds" | "MaxAttempts" => {
                        self.integer_in(field, 0, 99_999_999, field_location, expression)
                    }
                    "MaxDelaySeconds" => {
                        self.integer_in(field, 1, 31_622_400, field_location, expression)
                    }
                    "BackoffRate" => match field.as_f64() {
                        None => self.expect_type(field_location, "NUMBER"),
                        Some(rate) if rate < 1.0 => {
                            self.error(field_location, "Minimum value is 1.0")
                        }
                        Some(_) => {}
                    },
                    "JitterStrategy" => self.one_of(field, &["FULL", "NONE"], field_location),
                    "Comment" => self.string(field, field_location),
                    _ => {}
                }
            }
        }
    }

    fn catchers(&mut self, context: &StateContext<'_>, value: &'a Value, location: Loc<'_>) {
        let Some(catchers) = value.as_array() else {
            self.expect_type(location, "ARRAY");
            return;
        };
        let lang = context.lang;
        let last = catchers.len().saturating_sub(1);
        for (index, catcher) in catchers.iter().enumerate() {
            let location = location.index(index);
            let Some(object) = catcher.as_object() else {
                self.expect_type(location, "OBJECT");
                continue;
            };
            let mut refused: Vec<&str> = Vec::new();
            if self.required(object, &["ErrorEquals", "Next"], location) {
                for key in object.keys() {
                    let known = matches!(
                        key.as_str(),
                        "ErrorEquals" | "Next" | "ResultPath" | "Output" | "Assign" | "Comment"
                    );
                    if !known {
                        refused.push(key);
                        self.error(location, format!("Field '{key}' is not supported"));
                    } else if tables::field_language(key).is_some_and(|only| lang.refuses(only)) {
                        refused.push(key);
                        self.error(location, wrong_language(lang, key));
                    }
                }
            }
            if self.error_equals(object, location) && index != last {
                self.error(
                    location,
                    "The error 'States.ALL' must be in the last catcher",
                );
            }
            for (key, field) in object {
                if refused.contains(&key.as_str()) {
                    continue;
                }
                let field_location = location.field(key);
                if lang == Lang::Jsonata && matches!(key.as_str(), "Output" | "Assign") {
                    self.jsonata_values(field, field_location, false, true);
                }
                match key.as_str() {
                    "Next" | "Comment" => self.string(field, field_location),
                    "ResultPath" => self.result_path(field, field_location),
                    "Assign" => self.assign(field, lang, field_location),
                    _ => {}
                }
            }
        }
    }

    fn branches(&mut self, value: &'a Value, location: Loc<'_>) {
        let Some(branches) = value.as_array() else {
            self.expect_type(location, "ARRAY");
            return;
        };
        if branches.is_empty() {
            self.error(location, "Value cannot be empty");
            return;
        }
        for (index, branch) in branches.iter().enumerate() {
            let branch_location = location.index(index);
            match branch.as_object() {
                Some(object) => self.pending.push_back(Scope {
                    base: branch_location.to_string(),
                    object,
                    kind: ScopeKind::Branch,
                }),
                None => self.expect_type(branch_location, "OBJECT"),
            }
        }
    }

    fn processor(&mut self, value: &'a Value, location: Loc<'_>) {
        let Some(object) = value.as_object() else {
            self.expect_type(location, "OBJECT");
            return;
        };
        if let Some(config) = object.find("ProcessorConfig") {
            self.processor_config(config, location.field("ProcessorConfig"));
        }
        self.pending.push_back(Scope {
            base: location.to_string(),
            object,
            kind: ScopeKind::Processor,
        });
    }

    fn processor_config(&mut self, value: &Value, location: Loc<'_>) {
        let Some(object) = value.as_object() else {
            self.expect_type(location, "OBJECT");
            return;
        };
        self.only_fields(object, &["Mode", "ExecutionType"], location);
        let mode = object.find("Mode");
        if let Some(mode) = mode {
            self.one_of(mode, &["INLINE", "DISTRIBUTED"], location.field("Mode"));
        }
        let distributed = mode.and_then(Value::as_str) == Some("DISTRIBUTED");
        match object.find("ExecutionType") {
            Some(execution_type) if distributed => {
                self.one_of(
                    execution_type,
                    &["STANDARD", "EXPRESS"],
                    location.field("ExecutionType"),
                );
            }
            Some(_) => self.error(location, "Field 'ExecutionType' is not supported"),
            None if distributed => {
                self.required(object, &["ExecutionType"], location);
            }
            None => {}
        }
        if distributed && self.options.machine_type == MachineType::Express {
            self.error(
                location.field("Mode"),
                "The field 'Mode' with value 'DISTRIBUTED' is not supported inside 'EXPRESS' state machines",
            );
        }
    }

    /// The parameters of ItemReader/ResultWriter: `Parameters` in JSONPath, `Arguments` in JSONata.
    fn resource_parameters(&mut self, object: &Map<String, Value>, lang: Lang, location: Loc<'_>) {
        for (key, only) in [("Parameters", Only::JsonPath), ("Arguments", Only::Jsonata)] {
            let Some(value) = object.find(key) else {
                continue;
            };
            let field_location = location.field(key);
            if lang.refuses(only) {
                self.error(field_location, wrong_language(lang, key));
            } else if lang == Lang::JsonPath {
                self.template_object(value, field_location);
            } else {
                self.object_or_expression(value, field_location);
            }
        }
    }

    fn item_reader(&mut self, value: &Value, lang: Lang, location: Loc<'_>) {
        let Some(object) = value.as_object() else {
            self.expect_type(location, "OBJECT");
            return;
        };
        if self.required(object, &["Resource"], location) {
            self.only_fields(
                object,
                &["Resource", "Parameters", "Arguments", "ReaderConfig"],
                location,
            );
        }
        if let Some(resource) = object.find("Resource") {
            self.s3_resource(
                resource,
                &["getObject", "listObjectsV2"],
                location.field("Resource"),
            );
        }
        self.resource_parameters(object, lang, location);
        let Some(config) = object.find("ReaderConfig") else {
            return;
        };
        let config_location = location.field("ReaderConfig");
        let Some(config) = config.as_object() else {
            self.expect_type(config_location, "OBJECT");
            return;
        };
        self.only_fields(
            config,
            &[
                "InputType",
                "CSVHeaderLocation",
                "CSVHeaders",
                "CSVDelimiter",
                "MaxItems",
                "MaxItemsPath",
                "ManifestType",
                "Transformation",
                "ItemsPointer",
            ],
            config_location,
        );
        if config.has("MaxItems") && config.has("MaxItemsPath") {
            self.error(
                config_location.field("MaxItems"),
                "There should only be one of the following fields: [MaxItems, MaxItemsPath]",
            );
        }
        if config.find("CSVHeaderLocation").and_then(Value::as_str) == Some("GIVEN") {
            self.required(config, &["CSVHeaders"], config_location);
        }
        for (key, field) in config {
            let field_location = config_location.field(key);
            match key.as_str() {
                "InputType" => self.one_of(
                    field,
                    &["CSV", "JSON", "JSONL", "MANIFEST", "PARQUET"],
                    field_location,
                ),
                "CSVHeaderLocation" => self.one_of(field, &["FIRST_ROW", "GIVEN"], field_location),
                "CSVDelimiter" => self.one_of(
                    field,
                    &["COMMA", "PIPE", "SEMICOLON", "SPACE", "TAB"],
                    field_location,
                ),
                "MaxItems" => {
                    self.integer_in(field, 0, 100_000_000, field_location, lang == Lang::Jsonata)
                }
                "MaxItemsPath" => {
                    if lang == Lang::Jsonata {
                        self.error(config_location, wrong_language(lang, key));
                    } else {
                        self.reference_path(field, field_location, false);
                    }
                }
                _ => {}
            }
        }
    }

    fn s3_resource(&mut self, value: &Value, operations: &[&str], location: Loc<'_>) {
        let Some(resource) = value.as_str() else {
            self.expect_type(location, "STRING");
            return;
        };
        let parts: Vec<&str> = resource.split(':').collect();
        let known = parts.len() == 7
            && parts.first() == Some(&"arn")
            && parts.get(2) == Some(&"states")
            && parts.get(5) == Some(&"s3")
            && parts.get(6).is_some_and(|op| operations.contains(op));
        if !known {
            self.error(
                location,
                "The field 'Resource' does not match any of the allowed values",
            );
        }
    }

    fn item_batcher(&mut self, value: &Value, lang: Lang, location: Loc<'_>) {
        let Some(object) = value.as_object() else {
            self.expect_type(location, "OBJECT");
            return;
        };
        self.only_fields(
            object,
            &[
                "MaxItemsPerBatch",
                "MaxItemsPerBatchPath",
                "MaxInputBytesPerBatch",
                "MaxInputBytesPerBatchPath",
                "BatchInput",
            ],
            location,
        );
        for field in ["MaxItemsPerBatch", "MaxInputBytesPerBatch"] {
            let path = format!("{field}Path");
            if object.has(field) && object.has(&path) {
                self.error(
                    location.field(field),
                    format!("There should only be one of the following fields: [{field}, {path}]"),
                );
            }
        }
        for (key, field) in object {
            let field_location = location.field(key);
            match key.as_str() {
                "MaxItemsPerBatch" | "MaxInputBytesPerBatch" => {
                    self.integer_in(field, 0, i64::MAX, field_location, lang == Lang::Jsonata)
                }
                "MaxItemsPerBatchPath" | "MaxInputBytesPerBatchPath" => {
                    if lang == Lang::Jsonata {
                        self.error(location, wrong_language(lang, key));
                    } else {
                        self.reference_path(field, field_location, false);
                    }
                }
                "BatchInput" if lang == Lang::JsonPath => self.template(field, field_location),
                _ => {}
            }
        }
    }

    fn result_writer(&mut self, value: &Value, lang: Lang, location: Loc<'_>) {
        let Some(object) = value.as_object() else {
            self.expect_type(location, "OBJECT");
            return;
        };
        self.only_fields(
            object,
            &["Resource", "Parameters", "Arguments", "WriterConfig"],
            location,
        );
        if let Some(resource) = object.find("Resource") {
            self.s3_resource(resource, &["putObject"], location.field("Resource"));
        }
        self.resource_parameters(object, lang, location);
        if let Some(config) = object.find("WriterConfig") {
            let config_location = location.field("WriterConfig");
            match config.as_object() {
                Some(config) => {
                    self.only_fields(config, &["OutputType", "Transformation"], config_location);
                    if let Some(output) = config.find("OutputType") {
                        self.one_of(
                            output,
                            &["JSON", "JSONL"],
                            config_location.field("OutputType"),
                        );
                    }
                    if let Some(transformation) = config.find("Transformation") {
                        self.one_of(
                            transformation,
                            &["NONE", "COMPACT", "FLATTEN"],
                            config_location.field("Transformation"),
                        );
                    }
                }
                None => self.expect_type(config_location, "OBJECT"),
            }
        }
    }

    /// JSONata-specific checks of a state field: the `$states` fields that only exist in some
    /// places.
    fn jsonata_field(
        &mut self,
        context: &StateContext<'_>,
        key: &str,
        value: &Value,
        location: Loc<'_>,
    ) {
        let skip = matches!(
            key,
            "Type"
                | "Comment"
                | "QueryLanguage"
                | "Next"
                | "End"
                | "Default"
                | "Resource"
                | "Branches"
                | "ItemProcessor"
                | "Iterator"
                | "Retry"
                | "Catch"
                | "Choices"
        );
        if skip {
            return;
        }
        let result_allowed = matches!(key, "Output" | "Assign")
            && matches!(context.state_type, "Task" | "Map" | "Parallel");
        self.jsonata_values(value, location, result_allowed, false);
    }

    /// Walks every string of a JSONata field value.
    pub(crate) fn jsonata_values(
        &mut self,
        value: &Value,
        location: Loc<'_>,
        result_allowed: bool,
        error_output_allowed: bool,
    ) {
        let mut trail = Trail::default();
        let mut stack: Vec<(&Value, usize, usize)> = Vec::new();
        let mut next = Some((value, Trail::ROOT, 0));
        while let Some((value, node, depth)) = next.take().or_else(|| stack.pop()) {
            if depth > MAX_NESTING {
                self.too_deep(trail.at(&location, node));
                continue;
            }
            match value {
                Value::String(text) => {
                    let Some(body) = paths::jsonata_body(text) else {
                        continue;
                    };
                    let here = trail.at(&location, node);
                    if let Err(error) = cairn_jsonata::parse(body) {
                        self.error_code("INVALID_JSONATA_EXPRESSION", Some(here), error.message);
                        continue;
                    }
                    for reference in paths::jsonata_references(body) {
                        let message = match reference {
                            JsonataReference::DoubleDollar => {
                                "Reference to '$$' is not supported.".to_owned()
                            }
                            JsonataReference::StatesResult if !result_allowed => {
                                "Field '$states.result' does not exist.".to_owned()
                            }
                            JsonataReference::StatesErrorOutput if !error_output_allowed => {
                                "Field '$states.errorOutput' does not exist.".to_owned()
                            }
                            JsonataReference::Eval => {
                                "The JSONata function '$eval' is not supported; use '$parse' instead."
                                    .to_owned()
                            }
                            JsonataReference::TopLevel(name) => {
                                format!("Reference to '{name}' at the top level is not supported.")
                            }
                            _ => continue,
                        };
                        self.error_code("UNSUPPORTED_JSONATA_EXPRESSION", Some(here), message);
                    }
                }
                Value::Object(object) => {
                    // AWS keeps `key.$` as a literal key in JSONata (its recordings accept it).
                    for (key, child) in object.iter().rev() {
                        if jsonata_needs_visit(child, depth + 1) {
                            let child_node = trail.push(node, Step::Key(key));
                            stack.push((child, child_node, depth + 1));
                        }
                    }
                }
                Value::Array(items) => {
                    for (index, item) in items.iter().enumerate().rev() {
                        if jsonata_needs_visit(item, depth + 1) {
                            let child_node = trail.push(node, Step::Index(index));
                            stack.push((item, child_node, depth + 1));
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

pub(crate) struct StateContext<'s> {
    pub(crate) state_type: &'s str,
    pub(crate) lang: Lang,
    pub(crate) location: Loc<'s>,
}

/// True when a template walk has anything to check at `value`: scalars only say something
/// when they are nested too deeply.
fn needs_visit(value: &Value, depth: usize) -> bool {
    depth > MAX_NESTING || value.is_object() || value.is_array()
}

/// True when a JSONata walk has anything to check at `value`: only its strings are read, and
/// any node when it is nested too deeply.
fn jsonata_needs_visit(value: &Value, depth: usize) -> bool {
    depth > MAX_NESTING || matches!(value, Value::Object(_) | Value::Array(_) | Value::String(_))
}

/// A plain string that reads like a path or an intrinsic call (for the NO_DOLLAR warning).
fn looks_dynamic(text: &str) -> bool {
    (text.starts_with("$.") || text.starts_with("$$.")) && paths::path_shape(text).is_some()
        || (paths::looks_like_intrinsic(text) && paths::is_intrinsic_call(text))
}

/// Optimized integrations that offer no `.sync` (Run a Job) pattern.
const NO_SYNC: [&str; 8] = [
    "lambda",
    "sns",
    "sqs",
    "dynamodb",
    "events",
    "apigateway",
    "aws-sdk",
    "bedrock-agentcore",
];

/// Optimized integrations that offer no `.waitForTaskToken` (callback) pattern.
const NO_CALLBACK: [&str; 12] = [
    "athena",
    "batch",
    "codebuild",
    "elasticmapreduce",
    "emr-containers",
    "emr-serverless",
    "glue",
    "databrew",
    "mediaconvert",
    "sagemaker",
    "dynamodb",
    "bedrock-agentcore",
];

/// False for a service-integration ARN (`arn:<partition>:states:::<service>:<action>`) that
/// asks for a pattern its service does not offer, or an SDK action AWS cannot have.
fn integration_recognized(parts: &[&str]) -> bool {
    let is_integration = parts.get(2) == Some(&"states")
        && parts.get(3).is_some_and(|region| region.is_empty())
        && parts.get(4).is_some_and(|account| account.is_empty());
    if !is_integration {
        return true;
    }
    let rest = parts.get(5..).unwrap_or_default().join(":");
    let (body, pattern) = [".sync:2", ".sync", ".waitForTaskToken"]
        .iter()
        .find_map(|pattern| rest.strip_suffix(pattern).map(|body| (body, *pattern)))
        .unwrap_or((rest.as_str(), ""));
    let mut pieces = body.split(':');
    let service = pieces.next().unwrap_or_default();
    let allowed = match pattern {
        ".sync:2" => service == "states",
        ".sync" => !NO_SYNC.contains(&service),
        ".waitForTaskToken" => !NO_CALLBACK.contains(&service),
        _ => true,
    };
    if service == "aws-sdk" {
        // aws-sdk:<service>:<action>, the action in camelCase as the SDK names it.
        let sdk_service = pieces.next().unwrap_or_default();
        let action = pieces.next().unwrap_or_default();
        let well_formed = !sdk_service.is_empty()
            && action
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase())
            && pieces.next().is_none();
        return allowed && well_formed;
    }
    allowed
}

/// Puts names in the order a `java.util.HashSet` of them iterates, which is the order AWS's
/// validator (a Java service) lists missing fields in: by hash bucket (the string's
/// `hashCode`, its high half folded into the low, modulo the table size), then in the order
/// they were added. The table has 16 buckets and doubles past three quarters full, as a
/// default `HashSet`'s does.
pub(crate) fn java_hash_set_order(names: &mut [&str]) {
    let mut buckets: u32 = 16;
    while names.len() as u32 * 4 > buckets * 3 {
        buckets *= 2;
    }
    let bucket = |name: &str| {
        let hash = name.encode_utf16().fold(0u32, |h, unit| {
            h.wrapping_mul(31).wrapping_add(u32::from(unit))
        });
        (hash ^ (hash >> 16)) & (buckets - 1)
    };
    names.sort_by_key(|name| bucket(name));
}
