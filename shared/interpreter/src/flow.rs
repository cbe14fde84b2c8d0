//! The decider's one doorway to data flow (paths, payload templates, Choice rules),
//! all provided by cairn-dataflow; this module adapts them to the decider's needs.

use cairn_dataflow::{ChoiceRule, DataflowError, Entropy, PayloadTemplate};
use cairn_jsonpath::Root;
use serde_json::Value;
use std::cell::Cell;

pub(crate) use cairn_dataflow::Scope;

/// A runtime failure of a data-flow step: its ASL error name and AWS's cause text
/// (without the `An error occurred while executing the state ...` prefix).
pub(crate) type Failure = DataflowError;

/// Entropy derived from the event's seed (UUIDs, `States.MathRandom`), so runs replay exactly.
pub(crate) struct SeededEntropy<'a> {
    pub seed: u64,
    pub counter: &'a Cell<u64>,
}

impl SeededEntropy<'_> {
    fn next(&mut self) -> u64 {
        let n = self.counter.get().wrapping_add(1);
        self.counter.set(n);
        crate::execution::mix(self.seed ^ crate::execution::mix(n))
    }
}

impl Entropy for SeededEntropy<'_> {
    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        cairn_common::entropy::uuid_from_bits(a, b)
    }

    fn random_u64(&mut self) -> u64 {
        self.next()
    }
}

/// A compiled JSONPath (`$.a.b[0]`, `$$.Execution.Id`, `$var.x`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Path(cairn_jsonpath::Path);

impl Path {
    pub fn compile(text: &str) -> Result<Path, String> {
        cairn_jsonpath::Path::parse(text)
            .map(Path)
            .map_err(|e| format!("invalid path '{text}': {}", e.message()))
    }

    pub fn text(&self) -> &str {
        self.0.as_str()
    }

    /// `$` alone: the whole input.
    pub fn is_root(&self) -> bool {
        self.0.is_root() && matches!(self.0.root(), Root::Input)
    }

    pub fn is_context(&self) -> bool {
        matches!(self.0.root(), Root::Context)
    }

    /// The value the path points at, or `None` when it points at nothing.
    pub fn find(&self, scope: &Scope) -> Option<Value> {
        scope.try_select(&self.0).ok()
    }

    /// InputPath/OutputPath/ItemsPath/...: a missing value is `States.Runtime`.
    pub fn select(&self, scope: &Scope) -> Result<Value, Failure> {
        scope.select(&self.0)
    }
}

/// A compiled JSONPath payload template (Parameters, ResultSelector, ItemSelector, Assign).
#[derive(Debug, Clone)]
pub(crate) struct Template(PayloadTemplate);

impl Template {
    pub fn compile(value: &Value) -> Result<Template, String> {
        PayloadTemplate::compile(value)
            .map(Template)
            .map_err(|e| e.to_string())
    }

    pub fn evaluate(&self, scope: &Scope, entropy: &mut SeededEntropy) -> Result<Value, Failure> {
        self.0.evaluate(scope, entropy)
    }
}

/// A compiled top-level JSONPath Choice rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule(ChoiceRule);

impl Rule {
    pub fn compile(raw: &Value) -> Result<Rule, String> {
        ChoiceRule::compile(raw)
            .map(Rule)
            .map_err(|e| e.to_string())
    }

    pub fn matches(&self, scope: &Scope) -> Result<bool, Failure> {
        self.0.matches(scope)
    }

    pub fn assign(&self) -> Option<Template> {
        self.0.assign().cloned().map(Template)
    }
}

/// Writes `result` at `path` inside `target` (ResultPath), consuming the target
/// (cairn-dataflow's `apply_result_path` would copy it).
pub(crate) fn set_result(target: Value, path: &Path, result: Value) -> Result<Value, Failure> {
    cairn_jsonpath::set_at(target, &path.0, result).map_err(|e| {
        DataflowError::new(
            cairn_dataflow::error_names::RESULT_PATH_MATCH_FAILURE,
            e.to_string(),
        )
    })
}

/// For a definite path of plain names and indexes (`$.a.b[0]`, `$['a']`), moves the value
/// it selects out of `value` instead of copying it; `Err(value)` gives the value back when
/// the path is of another kind or selects nothing, for the general (copying) evaluation.
pub(crate) fn take_at(value: Value, path: &Path) -> Result<Value, Value> {
    let Some(steps) = simple_steps(path.text()) else {
        return Err(value);
    };
    let mut value = value;
    let mut at = &mut value;
    for step in &steps {
        let next = match (step, at) {
            (Step::Name(name), Value::Object(map)) => map.get_mut(name.as_str()),
            (Step::Index(i), Value::Array(items)) => items.get_mut(*i),
            _ => None,
        };
        match next {
            Some(next) => at = next,
            None => return Err(value),
        }
    }
    Ok(std::mem::take(at))
}

/// Like [`take_at`], but in place: the selected value is moved out and `null` left behind.
/// `None` when the path is of another kind or selects nothing (`value` is then unchanged).
pub(crate) fn take_in_place(value: &mut Value, path: &Path) -> Option<Value> {
    let steps = simple_steps(path.text())?;
    let mut at = value;
    for step in &steps {
        at = match (step, at) {
            (Step::Name(name), Value::Object(map)) => map.get_mut(name.as_str())?,
            (Step::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(std::mem::take(at))
}

enum Step {
    Name(String),
    Index(usize),
}

/// `$.a['b'][0]` as steps; `None` for anything else (wildcards, filters, `$$`, variables...).
fn simple_steps(text: &str) -> Option<Vec<Step>> {
    let mut rest = text.strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = after.get(..end)?;
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
            {
                return None;
            }
            steps.push(Step::Name(name.to_string()));
            rest = after.get(end..)?;
        } else if let Some(after) = rest.strip_prefix("['") {
            let end = after.find("']")?;
            let name = after.get(..end)?;
            if name.contains(['\\', '\'']) {
                return None;
            }
            steps.push(Step::Name(name.to_string()));
            rest = after.get(end + 2..)?;
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let digits = after.get(..end)?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            steps.push(Step::Index(digits.parse().ok()?));
            rest = after.get(end + 1..)?;
        } else {
            return None;
        }
    }
    Some(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(text: &str) -> Path {
        Path::compile(text).unwrap()
    }

    #[test]
    fn take_at_moves_what_a_plain_path_selects() {
        let doc = json!({"a": {"b": [10, {"c": "x"}]}, "d-e": 1});
        assert_eq!(take_at(doc.clone(), &path("$.a.b[1].c")), Ok(json!("x")));
        assert_eq!(take_at(doc.clone(), &path("$['a']['b'][0]")), Ok(json!(10)));
        assert_eq!(take_at(doc.clone(), &path("$.d-e")), Ok(json!(1)));
        assert_eq!(
            take_at(doc.clone(), &path("$.missing")),
            Err(doc.clone()),
            "misses go to the general evaluation"
        );
        assert_eq!(
            take_at(doc.clone(), &path("$.a.b[*]")),
            Err(doc.clone()),
            "indefinite paths are not taken"
        );
    }

    #[test]
    fn take_in_place_leaves_null() {
        let mut doc = json!({"a": {"items": [1, 2]}, "b": 3});
        assert_eq!(
            take_in_place(&mut doc, &path("$.a.items")),
            Some(json!([1, 2]))
        );
        assert_eq!(doc, json!({"a": {"items": null}, "b": 3}));
        assert_eq!(take_in_place(&mut doc, &path("$.c")), None);
        assert_eq!(take_in_place(&mut doc, &path("$..b")), None);
    }

    #[test]
    fn set_result_reports_a_blocked_path() {
        let err = set_result(json!({"a": 1}), &path("$.a.b"), json!(2)).unwrap_err();
        assert_eq!(err.error, "States.ResultPathMatchFailure");
        assert_eq!(
            set_result(json!({"a": 1}), &path("$.b"), json!(2)),
            Ok(json!({"a": 1, "b": 2}))
        );
    }
}
