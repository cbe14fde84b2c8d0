//! Request and response fields AWS added to existing actions (2024): encryption
//! configuration, `includedData`, `variableReferences`, `traceHeader`, Distributed Map label
//! ARNs and the open executions quota. Kept apart from the actions so each is checked and
//! shaped in one place and the actions only call in.

use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

use crate::params::Params;
use crate::ApiError;

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new("ValidationException", message)
}

fn invalid_encryption(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidEncryptionConfiguration", message)
}

pub(crate) const AWS_OWNED_KEY: &str = "AWS_OWNED_KEY";
pub(crate) const CUSTOMER_MANAGED_KMS_KEY: &str = "CUSTOMER_MANAGED_KMS_KEY";
/// AWS's default data key reuse period for a customer managed key.
pub(crate) const DEFAULT_REUSE_SECONDS: i64 = 300;

/// The configuration a resource created without one has: AWS owned keys.
pub(crate) fn default_encryption() -> Value {
    json!({ "type": AWS_OWNED_KEY })
}

/// `encryptionConfiguration` of CreateStateMachine, UpdateStateMachine and CreateActivity,
/// checked as AWS checks it and completed with AWS's default reuse period, so that the
/// stored value is what Describe answers and what idempotency compares. Cairn records a
/// customer managed key but never calls KMS with it.
pub(crate) fn encryption_configuration(value: Option<&Value>) -> Result<Value, ApiError> {
    let Some(value) = value else {
        return Ok(default_encryption());
    };
    let Some(object) = value.as_object() else {
        return Err(ApiError::new(
            "SerializationException",
            "'encryptionConfiguration' must be an object",
        ));
    };
    let kind = match object.get("type").filter(|v| !v.is_null()) {
        None => {
            return Err(validation(
                "1 validation error detected: Value null at 'encryptionConfiguration.type' failed to satisfy constraint: Member must not be null",
            ))
        }
        Some(Value::String(kind)) => kind.as_str(),
        Some(_) => {
            return Err(ApiError::new(
                "SerializationException",
                "'encryptionConfiguration.type' must be a string",
            ))
        }
    };
    if kind != AWS_OWNED_KEY && kind != CUSTOMER_MANAGED_KMS_KEY {
        return Err(validation(format!(
            "1 validation error detected: Value '{kind}' at 'encryptionConfiguration.type' failed to satisfy constraint: Member must satisfy enum value set: [{AWS_OWNED_KEY}, {CUSTOMER_MANAGED_KMS_KEY}]"
        )));
    }
    let key = match object.get("kmsKeyId").filter(|v| !v.is_null()) {
        None => None,
        Some(Value::String(key)) => Some(key.as_str()),
        Some(_) => {
            return Err(ApiError::new(
                "SerializationException",
                "'encryptionConfiguration.kmsKeyId' must be a string",
            ))
        }
    };
    if let Some(key) = key {
        if key.is_empty() || key.chars().count() > 2048 {
            return Err(validation(format!(
                "1 validation error detected: Value '{key}' at 'encryptionConfiguration.kmsKeyId' failed to satisfy constraint: Member must have length between 1 and 2048"
            )));
        }
    }
    let reuse = match object
        .get("kmsDataKeyReusePeriodSeconds")
        .filter(|v| !v.is_null())
    {
        None => None,
        Some(number) => Some(number.as_i64().ok_or_else(|| {
            ApiError::new(
                "SerializationException",
                "'encryptionConfiguration.kmsDataKeyReusePeriodSeconds' must be an integer",
            )
        })?),
    };
    if let Some(reuse) = reuse {
        let bound = if reuse < 60 {
            Some("greater than or equal to 60")
        } else if reuse > 900 {
            Some("less than or equal to 900")
        } else {
            None
        };
        if let Some(bound) = bound {
            return Err(validation(format!(
                "1 validation error detected: Value '{reuse}' at 'encryptionConfiguration.kmsDataKeyReusePeriodSeconds' failed to satisfy constraint: Member must have value {bound}"
            )));
        }
    }
    if kind == AWS_OWNED_KEY {
        // The key and its reuse period belong to customer managed keys only.
        if key.is_some() || reuse.is_some() {
            return Err(invalid_encryption(
                "Invalid Encryption Configuration: kmsKeyId and kmsDataKeyReusePeriodSeconds can only be specified with type CUSTOMER_MANAGED_KMS_KEY.",
            ));
        }
        return Ok(default_encryption());
    }
    let Some(key) = key else {
        return Err(invalid_encryption(
            "Invalid Encryption Configuration: kmsKeyId is required when type is CUSTOMER_MANAGED_KMS_KEY.",
        ));
    };
    Ok(json!({
        "type": CUSTOMER_MANAGED_KMS_KEY,
        "kmsKeyId": key,
        "kmsDataKeyReusePeriodSeconds": reuse.unwrap_or(DEFAULT_REUSE_SECONDS),
    }))
}

/// A stored resource's encryption configuration; resources stored before Cairn knew the
/// field use AWS owned keys, as AWS's did.
pub(crate) fn stored_encryption(document: &Value) -> Value {
    document
        .get("encryptionConfiguration")
        .cloned()
        .unwrap_or_else(default_encryption)
}

/// `includedData`: whether the caller asked for metadata only.
pub(crate) fn metadata_only(p: &Params<'_>) -> Result<bool, ApiError> {
    match p.opt_string("includedData")? {
        None | Some("ALL_DATA") => Ok(false),
        Some("METADATA_ONLY") => Ok(true),
        Some(other) => Err(validation(format!(
            "1 validation error detected: Value '{other}' at 'includedData' failed to satisfy constraint: Member must satisfy enum value set: [ALL_DATA, METADATA_ONLY]"
        ))),
    }
}

/// DescribeStateMachine with METADATA_ONLY: AWS answers the definition as `{}` and leaves
/// out what is derived from it.
pub(crate) fn strip_definition(out: &mut Value) {
    if let Some(object) = out.as_object_mut() {
        if object.contains_key("definition") {
            object.insert("definition".into(), Value::from("{}"));
        }
        object.remove("variableReferences");
    }
}

/// DescribeExecution and StartSyncExecution with METADATA_ONLY: no input or output, and
/// their details say so.
pub(crate) fn strip_execution_data(out: &mut Value) {
    let Some(object) = out.as_object_mut() else {
        return;
    };
    for (field, details) in [("input", "inputDetails"), ("output", "outputDetails")] {
        if object.remove(field).is_some() || object.contains_key(details) {
            object.insert(details.into(), json!({"included": false}));
        }
    }
}

/// `traceHeader` of StartExecution and StartSyncExecution, with AWS's constraints (at most
/// 256 characters, ASCII).
pub(crate) fn trace_header<'a>(p: &Params<'a>) -> Result<Option<&'a str>, ApiError> {
    let Some(header) = p.opt_string("traceHeader")? else {
        return Ok(None);
    };
    if header.chars().count() > 256 {
        return Err(validation(format!(
            "1 validation error detected: Value '{header}' at 'traceHeader' failed to satisfy constraint: Member must have length less than or equal to 256"
        )));
    }
    if !header.is_ascii() {
        return Err(validation(format!(
            "1 validation error detected: Value '{header}' at 'traceHeader' failed to satisfy constraint: Member must satisfy regular expression pattern: \\p{{ASCII}}*"
        )));
    }
    Ok(Some(header))
}

/// The request body a transport hands to [`crate::Api::handle`] when the HTTP request
/// carried an `X-Amzn-Trace-Id` header: AWS prefers the header to the body's
/// `traceHeader` for StartExecution and StartSyncExecution.
pub fn with_trace_header(action: &str, mut body: Value, header: Option<&str>) -> Value {
    let (Some(header), "StartExecution" | "StartSyncExecution") = (header, action) else {
        return body;
    };
    if let Some(object) = body.as_object_mut() {
        object.insert("traceHeader".into(), Value::from(header));
    }
    body
}

/// `…:stateMachine:<name>/<label>`: the state machine a Distributed Map's child executions
/// run. Returns the unqualified state machine ARN and the label.
pub(crate) fn split_label(arn: &str) -> Option<(String, &str)> {
    let parsed = crate::names::parse_arn(arn)?;
    if parsed.kind != "stateMachine" {
        return None;
    }
    let (name, label) = parsed.rest.split_once('/')?;
    if name.is_empty() || label.is_empty() || label.contains('/') {
        return None;
    }
    let base = &arn[..arn.len() - label.len() - 1];
    Some((base.to_string(), label))
}

/// StartExecution (and StartSyncExecution) on a Distributed Map label ARN.
pub(crate) fn labeled_arn_refused() -> ApiError {
    ApiError::new(
        "ValidationException",
        "This API does not support Map Run labeled state machine ARNs",
    )
    .with_reason("API_DOES_NOT_SUPPORT_LABELED_ARNS")
}

/// The Distributed Map state of `definition` whose `Label` is `label` (at any depth), as
/// the state machine its child executions run: its ItemProcessor's definition.
pub(crate) fn labeled_map(definition: &str, label: &str) -> Option<Value> {
    let definition: Value = serde_json::from_str(definition).ok()?;
    find_label(&definition, label)
}

fn find_label(machine: &Value, label: &str) -> Option<Value> {
    for (_, state) in machine.get("States")?.as_object()? {
        if state.get("Type").and_then(Value::as_str) == Some("Map") {
            let processor = state.get("ItemProcessor").or_else(|| state.get("Iterator"));
            let distributed = processor
                .and_then(|p| p.pointer("/ProcessorConfig/Mode"))
                .and_then(Value::as_str)
                == Some("DISTRIBUTED");
            if distributed && state.get("Label").and_then(Value::as_str) == Some(label) {
                let mut processor = processor?.clone();
                if let Some(object) = processor.as_object_mut() {
                    object.remove("ProcessorConfig");
                }
                return Some(processor);
            }
            if let Some(found) = processor.and_then(|p| find_label(p, label)) {
                return Some(found);
            }
        }
        for branch in state
            .get("Branches")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(found) = find_label(branch, label) {
                return Some(found);
            }
        }
    }
    None
}

/// `variableReferences`: for each state that reads variables, the names it reads, in the
/// order they first appear. `None` when no state reads one (AWS leaves the field out).
pub(crate) fn variable_references(definition: &str) -> Option<Value> {
    let definition: Value = serde_json::from_str(definition).ok()?;
    let jsonata_default =
        definition.get("QueryLanguage").and_then(Value::as_str) == Some("JSONata");
    let mut out = Map::new();
    collect_machine(&definition, jsonata_default, &mut out);
    (!out.is_empty()).then_some(Value::Object(out))
}

fn collect_machine(machine: &Value, jsonata: bool, out: &mut Map<String, Value>) {
    let Some(states) = machine.get("States").and_then(Value::as_object) else {
        return;
    };
    for (name, state) in states {
        let jsonata = match state.get("QueryLanguage").and_then(Value::as_str) {
            Some("JSONata") => true,
            Some("JSONPath") => false,
            _ => jsonata,
        };
        let mut names = Vec::new();
        if let Some(fields) = state.as_object() {
            for (key, value) in fields {
                match key.as_str() {
                    // Other states, with their own entries.
                    "Branches" => {
                        for branch in value.as_array().into_iter().flatten() {
                            collect_machine(branch, jsonata, out);
                        }
                    }
                    "ItemProcessor" | "Iterator" => collect_machine(value, jsonata, out),
                    _ => scan_field(key, value, jsonata, &mut names),
                }
            }
        }
        if names.is_empty() {
            continue;
        }
        let entry = out
            .entry(name.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            for variable in names {
                if !list.iter().any(|known| known.as_str() == Some(&variable)) {
                    list.push(Value::from(variable));
                }
            }
        }
    }
}

/// Where a state's strings are expressions: JSONata `{% %}` anywhere; in JSONPath, the
/// `.$` members of templates, the `…Path` fields and a Choice rule's `Variable`.
fn scan_field(key: &str, value: &Value, jsonata: bool, names: &mut Vec<String>) {
    match value {
        Value::String(text) => {
            let trimmed = text.trim();
            if trimmed.starts_with("{%") && trimmed.ends_with("%}") && trimmed.len() >= 4 {
                scan_expression(&trimmed[2..trimmed.len() - 2], true, names);
            } else if !jsonata
                && (key.ends_with(".$") || key.ends_with("Path") || key == "Variable")
            {
                scan_expression(text, false, names);
            }
        }
        Value::Array(items) => {
            for item in items {
                scan_field(key, item, jsonata, names);
            }
        }
        Value::Object(members) => {
            for (member, item) in members {
                scan_field(member, item, jsonata, names);
            }
        }
        _ => {}
    }
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The `$name` tokens of an expression outside its string literals. In JSONata, names the
/// expression binds itself (`$x := …`, function parameters, `@$x`, `#$i`), function calls
/// (`$sum(…)`) and `$states` are not variable references.
fn scan_expression(text: &str, jsonata: bool, names: &mut Vec<String>) {
    let chars: Vec<char> = text.chars().collect();
    let mut found: Vec<(String, bool)> = Vec::new();
    let mut bound: Vec<String> = Vec::new();
    let mut i = 0;
    let mut in_params = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            continue;
        }
        if jsonata && c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
            continue;
        }
        if jsonata && text_at(&chars, i, "function") {
            in_params = true;
        }
        if in_params && c == ')' {
            in_params = false;
        }
        if c == '$' && chars.get(i + 1).copied().is_some_and(is_name_start) {
            let previous = i.checked_sub(1).map(|p| chars[p]);
            let mut end = i + 1;
            while end < chars.len() && is_name_char(chars[end]) {
                end += 1;
            }
            let name: String = chars[i + 1..end].iter().collect();
            let mut next = end;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let call = chars.get(next) == Some(&'(');
            let assigns = chars.get(next) == Some(&':') && chars.get(next + 1) == Some(&'=');
            let positional = matches!(previous, Some('@') | Some('#'));
            if previous == Some('$') {
                // `$$`: the context object.
            } else if jsonata && (assigns || positional || in_params) {
                bound.push(name);
            } else {
                found.push((name, jsonata && call));
            }
            i = end;
            continue;
        }
        i += 1;
    }
    for (name, call) in found {
        if call || name == "states" || bound.contains(&name) || names.contains(&name) {
            continue;
        }
        names.push(name);
    }
}

fn text_at(chars: &[char], at: usize, word: &str) -> bool {
    let mut k = at;
    for expected in word.chars() {
        if chars.get(k) != Some(&expected) {
            return false;
        }
        k += 1;
    }
    let before = at.checked_sub(1).map(|p| chars[p]);
    !before.is_some_and(is_name_char)
        && chars[k..]
            .iter()
            .find(|c| !c.is_whitespace())
            .is_some_and(|c| *c == '(')
}

/// ValidateStateMachineDefinition's `severity` (ERROR, the default, answers only errors;
/// WARNING answers warnings too) and `maxResults` (1-100, 0 or absent meaning 100): the
/// diagnostics to answer and whether some were left out (`truncated`). `diagnostics` holds
/// each diagnostic with its `severity` field.
pub(crate) fn validation_diagnostics(
    p: &Params<'_>,
    diagnostics: Vec<Value>,
) -> Result<(Vec<Value>, bool), ApiError> {
    let warnings = match p.opt_string("severity")? {
        None | Some("ERROR") => false,
        Some("WARNING") => true,
        Some(other) => {
            return Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'severity' failed to satisfy constraint: Member must satisfy enum value set: [ERROR, WARNING]"
            )))
        }
    };
    let limit = match p.get("maxResults") {
        None => 100,
        Some(value) => {
            let n = value.as_i64().ok_or_else(|| {
                ApiError::new("SerializationException", "'maxResults' must be an integer")
            })?;
            if !(0..=100).contains(&n) {
                let bound = if n < 0 {
                    "greater than or equal to 0"
                } else {
                    "less than or equal to 100"
                };
                return Err(validation(format!(
                    "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value {bound}"
                )));
            }
            if n == 0 {
                100
            } else {
                usize::try_from(n).unwrap_or(100)
            }
        }
    };
    let mut kept: Vec<Value> = diagnostics
        .into_iter()
        .filter(|d| warnings || d["severity"] == "ERROR")
        .collect();
    let truncated = kept.len() > limit;
    kept.truncate(limit);
    Ok((kept, truncated))
}

/// The open (RUNNING) executions quota: AWS's is 1,000,000 per account and Region, and
/// StartExecution past it answers `ExecutionLimitExceeded`. Counting the store's running
/// executions on every start would cost as much as the count, so the quota keeps an upper
/// bound (the last exact count plus the starts since) and counts again only when that bound
/// reaches the limit.
#[derive(Clone)]
pub struct OpenExecutionsQuota {
    pub limit: usize,
    bound: Arc<Mutex<Option<usize>>>,
}

/// AWS's default open executions quota.
pub const DEFAULT_OPEN_EXECUTIONS: usize = 1_000_000;

impl OpenExecutionsQuota {
    pub fn new(limit: usize) -> OpenExecutionsQuota {
        OpenExecutionsQuota {
            limit,
            bound: Arc::new(Mutex::new(None)),
        }
    }

    /// Admits one more open execution or answers ExecutionLimitExceeded. `count` counts
    /// the open executions, stopping at `limit` (enough to decide).
    pub(crate) fn admit(
        &self,
        count: impl FnOnce(usize) -> Result<usize, ApiError>,
    ) -> Result<(), ApiError> {
        let mut bound = self
            .bound
            .lock()
            .map_err(|_| ApiError::internal("the open executions count is poisoned"))?;
        let open = match *bound {
            Some(open) if open < self.limit => open,
            _ => count(self.limit)?,
        };
        if open >= self.limit {
            *bound = Some(open);
            return Err(ApiError::new(
                "ExecutionLimitExceeded",
                format!(
                    "Execution Limit Exceeded: the maximum number of open executions ({}) has been reached",
                    self.limit
                ),
            ));
        }
        *bound = Some(open + 1);
        Ok(())
    }
}

impl Default for OpenExecutionsQuota {
    fn default() -> Self {
        OpenExecutionsQuota::new(DEFAULT_OPEN_EXECUTIONS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_defaults_and_checks() {
        assert_eq!(
            encryption_configuration(None).unwrap(),
            json!({"type": "AWS_OWNED_KEY"})
        );
        let customer = json!({"type": "CUSTOMER_MANAGED_KMS_KEY", "kmsKeyId": "alias/k"});
        assert_eq!(
            encryption_configuration(Some(&customer)).unwrap(),
            json!({"type": "CUSTOMER_MANAGED_KMS_KEY", "kmsKeyId": "alias/k", "kmsDataKeyReusePeriodSeconds": 300})
        );
        let missing_key = json!({"type": "CUSTOMER_MANAGED_KMS_KEY"});
        assert_eq!(
            encryption_configuration(Some(&missing_key))
                .unwrap_err()
                .error_type,
            "InvalidEncryptionConfiguration"
        );
        for reuse in [59, 901] {
            let config = json!({"type": "CUSTOMER_MANAGED_KMS_KEY", "kmsKeyId": "k", "kmsDataKeyReusePeriodSeconds": reuse});
            let error = encryption_configuration(Some(&config)).unwrap_err();
            assert_eq!(error.error_type, "ValidationException");
            assert!(error.message.contains("kmsDataKeyReusePeriodSeconds"));
        }
        for reuse in [60, 900] {
            let config = json!({"type": "CUSTOMER_MANAGED_KMS_KEY", "kmsKeyId": "k", "kmsDataKeyReusePeriodSeconds": reuse});
            assert_eq!(
                encryption_configuration(Some(&config)).unwrap()["kmsDataKeyReusePeriodSeconds"],
                reuse
            );
        }
        let bad_type = json!({"type": "AES"});
        assert!(encryption_configuration(Some(&bad_type))
            .unwrap_err()
            .message
            .contains("enum value set"));
        let owned_with_key = json!({"type": "AWS_OWNED_KEY", "kmsKeyId": "k"});
        assert_eq!(
            encryption_configuration(Some(&owned_with_key))
                .unwrap_err()
                .error_type,
            "InvalidEncryptionConfiguration"
        );
    }

    #[test]
    fn references_of_jsonpath_and_jsonata_states() {
        let definition = json!({
            "StartAt": "A",
            "States": {
                "A": {"Type": "Pass", "Assign": {"x": 1, "y.$": "$.in"}, "Next": "B"},
                "B": {"Type": "Pass", "Parameters": {"a.$": "$x", "b.$": "States.Format('{} $q', $y.f)", "c": "$literal"},
                      "OutputPath": "$x", "Next": "C"},
                "C": {"Type": "Choice", "Choices": [{"Variable": "$z", "IsPresent": true, "Next": "D"}], "Default": "D"},
                "D": {"Type": "Pass", "QueryLanguage": "JSONata",
                      "Output": "{% $sum($nums) + $x + $states.input.v + ($local := 2; $local) + $count(['$no']) %}",
                      "Next": "P"},
                "P": {"Type": "Parallel", "End": true, "Branches": [
                    {"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "InputPath": "$$.Execution.Id", "Parameters": {"v.$": "$w"}, "End": true}}}
                ]}
            }
        });
        let refs = variable_references(&definition.to_string()).unwrap();
        assert_eq!(
            refs,
            json!({"B": ["x", "y"], "C": ["z"], "D": ["nums", "x"], "Inner": ["w"]})
        );
    }

    #[test]
    fn no_references_leaves_the_field_out() {
        let definition = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"a.$": "$.x"}, "End": true}}});
        assert_eq!(variable_references(&definition.to_string()), None);
    }

    #[test]
    fn jsonata_function_parameters_are_not_references() {
        let mut names = Vec::new();
        scan_expression(
            "$map($items, function($v) { $v * $factor })",
            true,
            &mut names,
        );
        assert_eq!(names, vec!["items", "factor"]);
    }

    #[test]
    fn label_arns() {
        let (base, label) =
            split_label("arn:aws:states:us-east-1:123456789012:stateMachine:m/Label1").unwrap();
        assert_eq!(base, "arn:aws:states:us-east-1:123456789012:stateMachine:m");
        assert_eq!(label, "Label1");
        assert!(split_label("arn:aws:states:us-east-1:123456789012:stateMachine:m").is_none());
        let definition = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "Label": "L", "End": true,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                              "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}});
        let child = labeled_map(&definition.to_string(), "L").unwrap();
        assert_eq!(child["StartAt"], "P");
        assert!(child.get("ProcessorConfig").is_none());
        assert!(labeled_map(&definition.to_string(), "Other").is_none());
    }

    #[test]
    fn quota_counts_again_only_near_the_limit() {
        let quota = OpenExecutionsQuota::new(3);
        let counts = std::cell::Cell::new(0);
        let counts = &counts;
        let count = |open: usize| {
            move |_limit: usize| -> Result<usize, ApiError> {
                counts.set(counts.get() + 1);
                Ok(open)
            }
        };
        // The first start counts; the next ones trust the bound until it reaches the limit.
        quota.admit(count(1)).unwrap();
        quota.admit(count(99)).unwrap();
        assert_eq!(counts.get(), 1);
        // The bound says 3: count again; one execution ended meanwhile.
        quota.admit(count(2)).unwrap();
        assert_eq!(counts.get(), 2);
        let refused = quota.admit(count(3)).unwrap_err();
        assert_eq!(refused.error_type, "ExecutionLimitExceeded");
        assert_eq!(counts.get(), 3);
    }

    #[test]
    fn validation_severity_and_max_results() {
        let diagnostics = vec![
            json!({"severity": "ERROR", "code": "A"}),
            json!({"severity": "ERROR", "code": "B"}),
            json!({"severity": "WARNING", "code": "C"}),
        ];
        let body = json!({});
        let (kept, truncated) =
            validation_diagnostics(&Params::new(&body).unwrap(), diagnostics.clone()).unwrap();
        assert_eq!(kept.len(), 2);
        assert!(!truncated);
        let body = json!({"severity": "WARNING", "maxResults": 2});
        let (kept, truncated) =
            validation_diagnostics(&Params::new(&body).unwrap(), diagnostics.clone()).unwrap();
        assert_eq!(kept.len(), 2);
        assert!(truncated);
        let body = json!({"severity": "WARNING", "maxResults": 0});
        let (kept, _) =
            validation_diagnostics(&Params::new(&body).unwrap(), diagnostics.clone()).unwrap();
        assert_eq!(kept.len(), 3);
        let body = json!({"maxResults": 101});
        assert!(
            validation_diagnostics(&Params::new(&body).unwrap(), diagnostics)
                .unwrap_err()
                .message
                .contains("less than or equal to 100")
        );
    }

    #[test]
    fn trace_header_and_included_data() {
        let long = "a".repeat(257);
        let body = json!({"traceHeader": long, "includedData": "SOME"});
        let p = Params::new(&body).unwrap();
        assert!(trace_header(&p).unwrap_err().message.contains("256"));
        assert!(metadata_only(&p)
            .unwrap_err()
            .message
            .contains("includedData"));
        let body = with_trace_header(
            "StartExecution",
            json!({"traceHeader": "body"}),
            Some("Root=1-2"),
        );
        assert_eq!(body["traceHeader"], "Root=1-2");
        let body = with_trace_header("DescribeExecution", json!({}), Some("Root=1-2"));
        assert!(body.get("traceHeader").is_none());
        let mut out = json!({"input": "{}", "inputDetails": {"included": true}, "output": "1", "outputDetails": {"included": true}});
        strip_execution_data(&mut out);
        assert_eq!(
            out,
            json!({"inputDetails": {"included": false}, "outputDetails": {"included": false}})
        );
    }

    /// Through the actions, over the in-memory store.
    mod through_api {
        use std::sync::Arc;

        use serde_json::{json, Value};

        use crate::{Api, ApiError, Config};

        const ROLE: &str = "arn:aws:iam::123456789012:role/r";

        fn api(open: usize) -> Api {
            let config = Config {
                open_executions: super::OpenExecutionsQuota::new(open),
                ..Config::default()
            };
            Api::new(Arc::new(cairn_store::MemoryStore::new()), config)
        }

        fn call(api: &Api, action: &str, request: Value) -> Result<Value, ApiError> {
            api.handle(action, request)
        }

        fn waiting_machine(api: &Api) -> String {
            let definition = json!({"StartAt": "W", "States": {
                "W": {"Type": "Wait", "Seconds": 3600, "Next": "M"},
                "M": {"Type": "Map", "Label": "Lbl", "End": true,
                      "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                        "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}});
            let created = call(
                api,
                "CreateStateMachine",
                json!({"name": "waits", "definition": definition.to_string(), "roleArn": ROLE}),
            )
            .unwrap();
            created["stateMachineArn"].as_str().unwrap().to_string()
        }

        #[test]
        fn open_executions_quota() {
            let api = api(2);
            let machine = waiting_machine(&api);
            let mut started = Vec::new();
            for name in ["a", "b"] {
                let out = call(
                    &api,
                    "StartExecution",
                    json!({"stateMachineArn": machine, "name": name}),
                )
                .unwrap();
                started.push(out["executionArn"].as_str().unwrap().to_string());
            }
            let refused = call(
                &api,
                "StartExecution",
                json!({"stateMachineArn": machine, "name": "c"}),
            )
            .unwrap_err();
            assert_eq!(refused.error_type, "ExecutionLimitExceeded");
            call(&api, "StopExecution", json!({"executionArn": started[0]})).unwrap();
            call(
                &api,
                "StartExecution",
                json!({"stateMachineArn": machine, "name": "c"}),
            )
            .unwrap();
            api.shutdown();
        }

        #[test]
        fn label_arns() {
            let api = api(10);
            let machine = waiting_machine(&api);
            let labeled = format!("{machine}/Lbl");
            let refused =
                call(&api, "StartExecution", json!({"stateMachineArn": labeled})).unwrap_err();
            assert_eq!(refused.error_type, "ValidationException");
            assert_eq!(
                refused.reason.as_deref(),
                Some("API_DOES_NOT_SUPPORT_LABELED_ARNS")
            );
            assert_eq!(
                refused.wire_body()["reason"],
                "API_DOES_NOT_SUPPORT_LABELED_ARNS"
            );
            let described = call(
                &api,
                "DescribeStateMachine",
                json!({"stateMachineArn": labeled}),
            )
            .unwrap();
            assert_eq!(described["label"], "Lbl");
            assert_eq!(described["stateMachineArn"], labeled.as_str());
            let child: Value =
                serde_json::from_str(described["definition"].as_str().unwrap()).unwrap();
            assert_eq!(child["StartAt"], "P");
            let unknown = call(
                &api,
                "DescribeStateMachine",
                json!({"stateMachineArn": format!("{machine}/Nope")}),
            )
            .unwrap_err();
            assert_eq!(unknown.error_type, "StateMachineDoesNotExist");
            api.shutdown();
        }
    }
}
