//! GetExecutionHistory's wire shape for [`HistoryEvent`], and the text a store keeps for it.

use crate::api::HistoryEvent;
use crate::details::{write_clean_str, write_str, write_u64, Name, Payload, SharedText};
use crate::Details;
use serde_json::{Map, Value};
use std::borrow::Cow;

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

impl HistoryEvent {
    /// The JSON text a store keeps for the event: its fields as an array in the order
    /// they are declared, `[id, previousEventId, timestampMs, type, details]`, which the
    /// derived `Deserialize` reads back. Byte for byte `serde_json::to_string` of that
    /// tuple. [`HistoryEvent::stored_texts`] writes several more cheaply.
    pub fn stored_text(&self) -> String {
        StoredTexts::new(std::slice::from_ref(self), false)
            .next()
            .unwrap_or_default()
    }

    /// [`HistoryEvent::stored_text`] of each event, in order. Written directly rather than
    /// through serde_json's serializer, and once for what consecutive events share (a
    /// decision's events carry one timestamp; a state's output is the next one's input):
    /// through serde_json, a run's stored history cost about half as much again as the run.
    pub fn stored_texts(events: &[HistoryEvent]) -> impl Iterator<Item = String> + '_ {
        StoredTexts::new(events, true)
    }
}

struct StoredTexts<'a> {
    events: std::slice::Iter<'a, HistoryEvent>,
    shared: SharedText<'a>,
}

impl<'a> StoredTexts<'a> {
    /// `remember`: keep what the next event may share (false for one event alone).
    fn new(events: &'a [HistoryEvent], remember: bool) -> StoredTexts<'a> {
        StoredTexts {
            events: events.iter(),
            shared: SharedText::new(remember),
        }
    }
}

impl Iterator for StoredTexts<'_> {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let event = self.events.next()?;
        // Most events (a state's entry or exit with a small payload) fit; larger ones grow.
        let mut out = String::with_capacity(128);
        out.push('[');
        write_u64(&mut out, event.id);
        out.push(',');
        write_u64(&mut out, event.previous_event_id);
        out.push(',');
        self.shared.write_timestamp(&mut out, event.timestamp_ms);
        out.push(',');
        match &event.event_type {
            // The decider's own event types are AWS's names: letters only.
            Cow::Borrowed(event_type) => write_clean_str(&mut out, event_type),
            Cow::Owned(event_type) => write_str(&mut out, event_type),
        }
        out.push(',');
        event.details.write_json(&mut out, &mut self.shared);
        out.push(']');
        Some(out)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.events.size_hint()
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
    name: Name,
}

impl Shapes {
    pub(crate) fn new(name: &str) -> Shapes {
        Shapes {
            name: Name::new(name),
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
    use std::sync::Arc;

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

    /// What serde_json writes for the stored tuple, which `stored_text` must equal.
    fn serde_text(event: &HistoryEvent) -> String {
        serde_json::to_string(&(
            event.id,
            event.previous_event_id,
            event.timestamp_ms,
            &event.event_type,
            &event.details,
        ))
        .unwrap()
    }

    #[test]
    fn stored_text_is_serde_jsons_text_of_the_tuple() {
        let controls: String = (0u8..0x20).map(char::from).collect();
        let awkward = json!({
            "controls": controls,
            "quoted": "say \"hi\" \\ back\\",
            "unicode": "é ✓ \u{2028} \u{7f} 🦀",
            "": [],
            "empty": {},
            "ints": [0, 9, 10, 99, 100, 12345, u64::MAX, -1, -10, i64::MIN],
            "floats": [1.5, -0.0, 0.1, 1e300, 1e-7, 2.5e-320, 123456789.125, -3.75e21],
            "nested": [[{"a": null, "b": [true, false]}]],
            "z": 1, "a": 2
        });
        let shapes = Shapes::new("Step \"1\"\n\u{1}");
        let details: Vec<Details> = vec![
            Details::default(),
            Details::from(awkward.clone()),
            shapes.entered(awkward.clone()),
            shapes.exited(Arc::new(awkward.clone())),
            shapes.iteration(0),
            shapes.iteration(1_000_007),
            Details::started(
                Payload::Shared(Arc::new(awkward.clone())),
                "arn:aws:iam::1:role/r".into(),
            ),
            Details::started(awkward.clone().into(), "role \"q\"\n".into()),
            Details::field("output", Payload::Shared(Arc::new(awkward.clone()))),
            Details::from(json!({})),
        ];
        for (at, details) in details.into_iter().enumerate() {
            for (id, timestamp_ms) in [(at as u64, 1_700_000_000_000), (u64::MAX, -1_500)] {
                let event = HistoryEvent {
                    id,
                    previous_event_id: id / 2,
                    timestamp_ms,
                    event_type: if at % 2 == 0 {
                        "PassStateEntered".into()
                    } else {
                        String::from("Odd \"type\"\t").into()
                    },
                    details: details.clone(),
                };
                assert_eq!(event.stored_text(), serde_text(&event));
                let back: HistoryEvent = serde_json::from_str(&event.stored_text()).unwrap();
                assert_eq!(back, event);
            }
        }
    }

    #[test]
    fn stored_texts_write_shared_payloads_and_timestamps_once_with_the_same_text() {
        let shapes = Shapes::new("S");
        let first = Arc::new(json!({"a": [1, "x\\y"]}));
        let twin = Arc::new(json!({"a": [1, "x\\z"]}));
        let other = Arc::new(json!("o"));
        let details = [
            Details::started(Payload::Shared(Arc::clone(&first)), String::new()),
            shapes.entered(Arc::clone(&first)),
            shapes.exited(Arc::clone(&twin)),
            shapes.entered(Arc::clone(&other)),
            shapes.exited(json!({"a": 2})),
            shapes.entered(Arc::clone(&first)),
            shapes.exited(Arc::clone(&other)),
            Details::field("output", Payload::Shared(Arc::clone(&other))),
        ];
        let events: Vec<HistoryEvent> = details
            .into_iter()
            .enumerate()
            .map(|(at, details)| HistoryEvent {
                id: at as u64 + 1,
                previous_event_id: at as u64,
                // Repeated, changed, changed back, negative.
                timestamp_ms: [1_000, 1_000, 999, 1_000, -5, -5, 1_000, 1_000][at],
                event_type: "PassStateEntered".into(),
                details,
            })
            .collect();
        let texts: Vec<String> = HistoryEvent::stored_texts(&events).collect();
        assert_eq!(texts.len(), events.len());
        for (event, text) in events.iter().zip(&texts) {
            assert_eq!(*text, serde_text(event));
            assert_eq!(*text, event.stored_text());
        }
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
