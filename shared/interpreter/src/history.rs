//! GetExecutionHistory's wire shape for [`HistoryEvent`].

use crate::api::HistoryEvent;
use crate::details::Payload;
use crate::Details;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Details fields AWS sends as JSON text rather than as JSON.
const JSON_TEXT_FIELDS: [&str; 3] = ["input", "output", "parameters"];

/// Fields AWS follows with `<field>Details: {"truncated": false}`; the decider never
/// truncates, so the wire form adds them instead of every event storing them.
const DETAILED_FIELDS: [(&str, &str); 3] = [
    ("input", "inputDetails"),
    ("output", "outputDetails"),
    ("assignedVariables", "assignedVariablesDetails"),
];

impl HistoryEvent {
    /// The event exactly as GetExecutionHistory returns it:
    /// `{"id", "previousEventId", "timestamp", "type", "<camelCaseType>EventDetails": {...}}`,
    /// with `input`/`output`/`parameters` and each assigned variable as JSON text.
    /// `timestamp` is epoch seconds, as the JSON wire protocol carries it.
    pub fn to_aws_json(&self) -> Value {
        let mut out = Map::with_capacity(5);
        out.insert("id".into(), self.id.into());
        out.insert("previousEventId".into(), self.previous_event_id.into());
        out.insert(
            "timestamp".into(),
            Value::from(self.timestamp_ms as f64 / 1000.0),
        );
        out.insert("type".into(), Value::String(self.event_type.to_string()));
        if let Value::Object(details) = &*self.details {
            out.insert(
                details_key(&self.event_type),
                Value::Object(wire_details(details)),
            );
        }
        Value::Object(out)
    }
}

/// `PassStateEntered` -> `stateEnteredEventDetails`, `MapIterationStarted` -> `mapIterationStartedEventDetails`.
pub(crate) fn details_key(event_type: &str) -> String {
    if event_type.ends_with("StateEntered") {
        return "stateEnteredEventDetails".into();
    }
    if event_type.ends_with("StateExited") {
        return "stateExitedEventDetails".into();
    }
    let mut key = String::with_capacity(event_type.len() + 12);
    let mut chars = event_type.chars();
    if let Some(first) = chars.next() {
        key.extend(first.to_lowercase());
    }
    key.extend(chars);
    key.push_str("EventDetails");
    key
}

fn wire_details(details: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::with_capacity(details.len() + 2);
    for (key, value) in details {
        let wire = if JSON_TEXT_FIELDS.contains(&key.as_str()) {
            Value::String(json_text(value))
        } else if key == "assignedVariables" {
            match value {
                Value::Object(vars) => Value::Object(
                    vars.iter()
                        .map(|(k, v)| (k.clone(), Value::String(json_text(v))))
                        .collect(),
                ),
                other => other.clone(),
            }
        } else {
            value.clone()
        };
        out.insert(key.clone(), wire);
        if let Some((_, detail)) = DETAILED_FIELDS.iter().find(|(field, _)| field == key) {
            if !details.contains_key(*detail) {
                let mut truncated = Map::with_capacity(1);
                truncated.insert("truncated".into(), Value::Bool(false));
                out.insert((*detail).to_string(), Value::Object(truncated));
            }
        }
    }
    out
}

/// A details object from its fields.
pub(crate) fn details<const N: usize>(fields: [(&str, Value); N]) -> Value {
    let mut map = Map::with_capacity(N);
    for (key, value) in fields {
        map.insert(key.to_string(), value);
    }
    Value::Object(map)
}

/// The details of a state's most frequent events (a Map's four per item), sharing the
/// state's name instead of copying it into each.
#[derive(Debug, Clone)]
pub(crate) struct Shapes {
    name: Arc<str>,
}

impl Shapes {
    pub(crate) fn new(name: &str) -> Shapes {
        Shapes {
            name: Arc::from(name),
        }
    }

    /// `{"input": input, "name": <state>}`.
    pub(crate) fn entered(&self, input: impl Into<Payload>) -> Details {
        Details::entered(&self.name, input.into())
    }

    /// `{"name": <state>, "output": output}`.
    pub(crate) fn exited(&self, output: impl Into<Payload>) -> Details {
        Details::exited(&self.name, output.into())
    }

    /// `{"index": index, "name": <state>}`.
    pub(crate) fn iteration(&self, index: usize) -> Details {
        Details::iteration(&self.name, index)
    }
}

/// Compact JSON text, as AWS writes payloads (`[1,2,3]`, `{"a":1}`).
pub(crate) fn json_text(value: &Value) -> String {
    // Serializing a Value cannot fail: its keys are strings and it has no non-finite numbers.
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wire_shape_serializes_payloads_as_json_text() {
        let event = HistoryEvent {
            id: 3,
            previous_event_id: 2,
            timestamp_ms: 1_500,
            event_type: "PassStateExited".into(),
            details:
                json!({"name": "P", "output": [1, 2], "assignedVariables": {"x": 42, "s": "a"}})
                    .into(),
        };
        assert_eq!(
            event.to_aws_json(),
            json!({"id": 3, "previousEventId": 2, "timestamp": 1.5, "type": "PassStateExited",
                   "stateExitedEventDetails": {"name": "P", "output": "[1,2]", "outputDetails": {"truncated": false},
                   "assignedVariables": {"x": "42", "s": "\"a\""}, "assignedVariablesDetails": {"truncated": false}}})
        );
    }

    #[test]
    fn details_key_follows_event_type() {
        assert_eq!(
            details_key("MapIterationStarted"),
            "mapIterationStartedEventDetails"
        );
        assert_eq!(
            details_key("LambdaFunctionScheduled"),
            "lambdaFunctionScheduledEventDetails"
        );
        assert_eq!(details_key("TaskStateEntered"), "stateEnteredEventDetails");
    }
}
