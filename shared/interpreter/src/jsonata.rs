//! JSONata field values: `{% ... %}` expressions anywhere inside a field (nested objects and
//! arrays too), compiled once per Machine and evaluated with `$states` and the variables.

use cairn_jsonata::{Bindings, Env, Expression};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

/// A field value with its `{% %}` expressions parsed.
#[derive(Debug, Clone)]
pub(crate) enum JTemplate {
    /// No expression inside: used as is.
    Literal(Value),
    Expr(Expression),
    Object(Vec<(String, JTemplate)>),
    Array(Vec<JTemplate>),
}

/// Why a field could not be evaluated: AWS's cause text (without the state prefix) and the
/// `location` its `EvaluationFailed` event names.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JFailure {
    pub cause: String,
    pub location: Option<String>,
}

/// The expression inside `{% ... %}`, when `text` is one.
pub(crate) fn expression_text(text: &str) -> Option<&str> {
    // AWS takes only a string that starts with `{%` and ends with `%}`: ` {% x %} ` is text.
    text.strip_prefix("{%")
        .and_then(|t| t.strip_suffix("%}"))
        .map(str::trim)
}

/// Nesting beyond which a field value is refused (serde_json stops at 128 anyway).
const MAX_TEMPLATE_DEPTH: usize = 200;

impl JTemplate {
    pub fn compile(value: &Value) -> Result<JTemplate, String> {
        Self::compile_at(value, 0)
    }

    fn compile_at(value: &Value, depth: usize) -> Result<JTemplate, String> {
        if depth > MAX_TEMPLATE_DEPTH {
            return Err("the field value is nested too deeply".into());
        }
        if !contains_expression(value, depth) {
            return Ok(JTemplate::Literal(value.clone()));
        }
        Ok(match value {
            Value::String(s) => match expression_text(s) {
                Some(text) => JTemplate::Expr(
                    cairn_jsonata::parse(text)
                        .map_err(|e| format!("invalid JSONata expression '{text}': {e}"))?,
                ),
                None => JTemplate::Literal(value.clone()),
            },
            Value::Object(map) => JTemplate::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), Self::compile_at(v, depth + 1)?)))
                    .collect::<Result<_, String>>()?,
            ),
            Value::Array(items) => JTemplate::Array(
                items
                    .iter()
                    .map(|v| Self::compile_at(v, depth + 1))
                    .collect::<Result<_, String>>()?,
            ),
            other => JTemplate::Literal(other.clone()),
        })
    }

    /// Evaluates every expression; `field` names the field for error messages
    /// (`Arguments`, then `Arguments/FunctionName` inside it, as AWS's `location` does).
    pub fn evaluate(
        &self,
        field: &str,
        input: Option<&Value>,
        bindings: &Bindings,
        env: &mut dyn Env,
    ) -> Result<Value, JFailure> {
        match self {
            JTemplate::Literal(v) => Ok(v.clone()),
            JTemplate::Expr(expr) => evaluate_expression(expr, field, input, bindings, env),
            JTemplate::Object(fields) => {
                let mut out = Map::with_capacity(fields.len());
                for (key, t) in fields {
                    let at = format!("{field}/{key}");
                    out.insert(key.clone(), t.evaluate(&at, input, bindings, env)?);
                }
                Ok(Value::Object(out))
            }
            JTemplate::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, t) in items.iter().enumerate() {
                    let at = format!("{field}[{i}]");
                    out.push(t.evaluate(&at, input, bindings, env)?);
                }
                Ok(Value::Array(out))
            }
        }
    }

    /// The expressions' source texts (for finding the variables they may read).
    fn sources<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            JTemplate::Literal(_) => {}
            JTemplate::Expr(e) => out.push(e.source()),
            JTemplate::Object(fields) => fields.iter().for_each(|(_, t)| t.sources(out)),
            JTemplate::Array(items) => items.iter().for_each(|t| t.sources(out)),
        }
    }
}

fn contains_expression(value: &Value, depth: usize) -> bool {
    if depth > MAX_TEMPLATE_DEPTH {
        return false;
    }
    match value {
        Value::String(s) => expression_text(s).is_some(),
        Value::Object(map) => map.values().any(|v| contains_expression(v, depth + 1)),
        Value::Array(items) => items.iter().any(|v| contains_expression(v, depth + 1)),
        _ => false,
    }
}

fn evaluate_expression(
    expr: &Expression,
    field: &str,
    input: Option<&Value>,
    bindings: &Bindings,
    env: &mut dyn Env,
) -> Result<Value, JFailure> {
    let source = expr.source();
    let fail = |what: String| JFailure {
        cause: format!(
            "The JSONata expression '{source}' specified for the field '{field}' {what}"
        ),
        location: Some(field.to_string()),
    };
    match expr.evaluate(input, bindings, env) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(fail("returned nothing (undefined).".into())),
        Err(e) if e.code == cairn_jsonata::UNSUPPORTED_RESULT => {
            Err(fail("returned an unsupported result type.".into()))
        }
        Err(e) => Err(fail(format!(
            "threw an error during evaluation: {} ({}).",
            e.message, e.code
        ))),
    }
}

/// JSONata's name for a value's type, as AWS's messages use it.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A field that must evaluate to one type: AWS's message when it does not.
pub(crate) fn unexpected_type(
    template: &JTemplate,
    field: &str,
    expected: &str,
    value: &Value,
) -> JFailure {
    let source = match template {
        JTemplate::Expr(e) => e.source().to_string(),
        _ => crate::history::json_text(value),
    };
    JFailure {
        cause: format!(
            "The JSONata expression '{source}' specified for the field '{field}' returned an unexpected result type. Expected '{expected}', but was '{}' for value: {}",
            type_name(value),
            crate::history::json_text(value)
        ),
        location: Some(field.to_string()),
    }
}

/// The variable names (`$name`, without `$`) some expression of `templates` may read, so that
/// only those are bound for an evaluation. `states` is bound separately.
pub(crate) fn referenced_variables<'a>(
    templates: impl IntoIterator<Item = &'a JTemplate>,
) -> Vec<String> {
    let mut sources = Vec::new();
    for t in templates {
        t.sources(&mut sources);
    }
    let mut names = BTreeSet::new();
    for source in sources {
        let mut chars = source.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            if c != '$' {
                continue;
            }
            let start = at + 1;
            let mut end = start;
            while let Some(&(i, c)) = chars.peek() {
                if c.is_alphanumeric() || c == '_' {
                    end = i + c.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            if let Some(name) = source.get(start..end).filter(|n| !n.is_empty()) {
                if name != "states" {
                    names.insert(name.to_string());
                }
            }
        }
    }
    names.into_iter().collect()
}

/// The members of `$states` a state's expressions may read: only those are built.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct StatesUse {
    pub input: bool,
    pub result: bool,
    pub error_output: bool,
    pub context: bool,
}

pub(crate) fn states_use<'a>(templates: impl IntoIterator<Item = &'a JTemplate>) -> StatesUse {
    let mut sources = Vec::new();
    for t in templates {
        t.sources(&mut sources);
    }
    let mut used = StatesUse::default();
    for source in sources {
        for (at, _) in source.match_indices("$states") {
            let after = source.get(at + 7..).unwrap_or_default();
            if after.starts_with(".input") {
                used.input = true;
            } else if after.starts_with(".result") {
                used.result = true;
            } else if after.starts_with(".errorOutput") {
                used.error_output = true;
            } else if after.starts_with(".context") {
                used.context = true;
            } else {
                // `$states` as a whole, or written in a way not recognised here.
                used = StatesUse {
                    input: true,
                    result: true,
                    error_output: true,
                    context: true,
                };
            }
        }
    }
    used
}

/// What a state produced, as `$states` shows it to Output and Assign.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Produced<'v> {
    Nothing,
    Result(&'v Value),
    ErrorOutput(&'v Value),
}

/// The `$states` document of one evaluation.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StatesVar<'v> {
    pub input: Option<&'v Value>,
    pub result: Option<&'v Value>,
    pub error_output: Option<&'v Value>,
    pub context: Option<&'v Value>,
}

impl StatesVar<'_> {
    pub fn to_value(self) -> Value {
        let mut map = Map::with_capacity(4);
        if let Some(v) = self.input {
            map.insert("input".into(), v.clone());
        }
        if let Some(v) = self.result {
            map.insert("result".into(), v.clone());
        }
        if let Some(v) = self.error_output {
            map.insert("errorOutput".into(), v.clone());
        }
        if let Some(v) = self.context {
            map.insert("context".into(), v.clone());
        }
        Value::Object(map)
    }
}

/// The clock and entropy of one evaluation: the event's time and values derived from its seed.
pub(crate) struct StepEnv {
    pub now_ms: i64,
    pub seed: u64,
    pub counter: u64,
}

impl StepEnv {
    fn next(&mut self) -> u64 {
        self.counter = self.counter.wrapping_add(1);
        crate::execution::mix(self.seed ^ crate::execution::mix(self.counter))
    }
}

impl Env for StepEnv {
    fn now_ms(&mut self) -> i64 {
        self.now_ms
    }
    fn random(&mut self) -> f64 {
        cairn_common::entropy::unit_interval(self.next())
    }
    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        cairn_jsonata::uuid_from_bits(a, b)
    }
}

/// Bindings for one evaluation: `$states` and the named variables that exist.
pub(crate) fn bindings<'v>(
    states: StatesVar<'_>,
    names: &[String],
    lookup: impl Fn(&str) -> Option<&'v Value>,
) -> Bindings {
    let mut b = Bindings::new();
    b.insert_shared("states", Arc::new(states.to_value()));
    for name in names {
        if let Some(v) = lookup(name) {
            b.insert(name.clone(), v.clone());
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env() -> StepEnv {
        StepEnv {
            now_ms: 0,
            seed: 1,
            counter: 0,
        }
    }

    #[test]
    fn nested_expressions_are_evaluated_and_located() {
        let t = JTemplate::compile(&json!({"a": "{% 1 + 2 %}", "b": ["x", "{% $v %}"], "c": 5}))
            .unwrap();
        let b = Bindings::new().with("v", json!("V"));
        assert_eq!(
            t.evaluate("Output", None, &b, &mut env()),
            Ok(json!({"a": 3, "b": ["x", "V"], "c": 5}))
        );
        let err = t
            .evaluate("Output", None, &Bindings::new(), &mut env())
            .unwrap_err();
        assert_eq!(
            err.cause,
            "The JSONata expression '$v' specified for the field 'Output/b[1]' returned nothing (undefined)."
        );
    }

    #[test]
    fn functions_are_an_unsupported_result() {
        let t = JTemplate::compile(&json!("{% $fn := function($x){$x} %}")).unwrap();
        let err = t
            .evaluate("Items", None, &Bindings::new(), &mut env())
            .unwrap_err();
        assert_eq!(
            err.cause,
            "The JSONata expression '$fn := function($x){$x}' specified for the field 'Items' returned an unsupported result type."
        );
        assert_eq!(err.location.as_deref(), Some("Items"));
    }

    #[test]
    fn finds_the_states_members_read() {
        let t = JTemplate::compile(
            &json!({"a": "{% $states.input.x %}", "b": "{% $states.context.State %}"}),
        )
        .unwrap();
        assert_eq!(
            states_use([&t]),
            StatesUse {
                input: true,
                context: true,
                ..StatesUse::default()
            }
        );
        let all = JTemplate::compile(&json!("{% $keys($states) %}")).unwrap();
        assert!(states_use([&all]).result && states_use([&all]).error_output);
    }

    #[test]
    fn finds_referenced_variables() {
        let t =
            JTemplate::compile(&json!({"a": "{% $x + $states.input.y %}", "b": "{% $sum($ys) %}"}))
                .unwrap();
        assert_eq!(referenced_variables([&t]), ["sum", "x", "ys"]);
    }
}
