//! [`Details`]: a history event's details object, kept compact for the events a run emits
//! most (every state's entry and exit, every Map iteration's start and end).
//!
//! Building those as `serde_json::Value` trees cost five allocations an event (the map, its
//! two keys, the state's name); the compact forms hold the payload and a shared name, and
//! serialise to exactly the JSON text the tree would have. Readers that want the tree get
//! it through `Deref`, built once on first read.

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;
use std::sync::{Arc, OnceLock};

/// The details object of one history event (`Value::Null` when the event has none).
///
/// Reads like a [`Value`] (`details.get("name")`, `details["output"]`); writing through it
/// (`as_object_mut`) turns a compact form into the tree first.
pub struct Details {
    repr: Repr,
    /// The tree of a compact form, built when a reader first asks for it. Boxed so that
    /// the events nobody reads this way carry one pointer, not a whole `Value`.
    tree: OnceLock<Box<Value>>,
}

#[derive(Clone, PartialEq)]
enum Repr {
    Value(Value),
    /// `{"input": input, "name": name}`: `<Type>StateEntered`.
    Entered {
        input: Payload,
        name: Arc<str>,
    },
    /// `{"name": name, "output": output}`: `<Type>StateExited`.
    Exited {
        name: Arc<str>,
        output: Payload,
    },
    /// Fields in their order, such as `ExecutionStarted`'s `{"input", "roleArn"}`.
    Fields(Vec<(&'static str, Payload)>),
    /// `{"index": index, "name": name}`: a Map iteration's events.
    Iteration {
        index: u64,
        name: Arc<str>,
    },
}

impl Details {
    /// `{"input": input, "name": name}`.
    pub(crate) fn entered(name: &Arc<str>, input: Payload) -> Details {
        Details::compact(Repr::Entered {
            input,
            name: Arc::clone(name),
        })
    }

    /// `{"name": name, "output": output}`.
    pub(crate) fn exited(name: &Arc<str>, output: Payload) -> Details {
        Details::compact(Repr::Exited {
            name: Arc::clone(name),
            output,
        })
    }

    /// `{"index": index, "name": name}`.
    pub(crate) fn iteration(name: &Arc<str>, index: usize) -> Details {
        Details::compact(Repr::Iteration {
            index: index as u64,
            name: Arc::clone(name),
        })
    }

    /// An object of these fields, in this order.
    pub(crate) fn fields(fields: Vec<(&'static str, Payload)>) -> Details {
        Details::compact(Repr::Fields(fields))
    }

    fn compact(repr: Repr) -> Details {
        Details {
            repr,
            tree: OnceLock::new(),
        }
    }

    /// The details as a tree, built without keeping it (for one-off renderings).
    pub fn to_value(&self) -> Value {
        match &self.repr {
            Repr::Value(value) => value.clone(),
            compact => build(compact),
        }
    }

    /// The details as a tree, taking them apart.
    pub fn into_value(self) -> Value {
        match self.repr {
            Repr::Value(value) => value,
            Repr::Entered { input, name } => {
                pair(("input", input.into_value()), ("name", text(&name)))
            }
            Repr::Exited { name, output } => {
                pair(("name", text(&name)), ("output", output.into_value()))
            }
            Repr::Iteration { index, name } => pair(("index", index.into()), ("name", text(&name))),
            Repr::Fields(fields) => Value::Object(
                fields
                    .into_iter()
                    .map(|(key, value)| (key.to_owned(), value.into_value()))
                    .collect(),
            ),
        }
    }
}

/// A state's input or output in its event: its own, or shared with the event next to it
/// (a state's output is the next state's input, so the two events hold one copy).
#[derive(Clone)]
pub(crate) enum Payload {
    Owned(Value),
    Shared(Arc<Value>),
}

impl Payload {
    pub(crate) fn value(&self) -> &Value {
        match self {
            Payload::Owned(value) => value,
            Payload::Shared(value) => value,
        }
    }

    pub(crate) fn into_value(self) -> Value {
        match self {
            Payload::Owned(value) => value,
            Payload::Shared(value) => Arc::unwrap_or_clone(value),
        }
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        self.value() == other.value()
    }
}

impl From<Value> for Payload {
    fn from(value: Value) -> Payload {
        Payload::Owned(value)
    }
}

impl From<Arc<Value>> for Payload {
    fn from(value: Arc<Value>) -> Payload {
        Payload::Shared(value)
    }
}

fn text(name: &str) -> Value {
    Value::String(name.to_owned())
}

fn pair(first: (&str, Value), second: (&str, Value)) -> Value {
    let mut map = Map::with_capacity(2);
    map.insert(first.0.to_owned(), first.1);
    map.insert(second.0.to_owned(), second.1);
    Value::Object(map)
}

fn build(repr: &Repr) -> Value {
    match repr {
        Repr::Value(value) => value.clone(),
        Repr::Entered { input, name } => {
            pair(("input", input.value().clone()), ("name", text(name)))
        }
        Repr::Exited { name, output } => {
            pair(("name", text(name)), ("output", output.value().clone()))
        }
        Repr::Iteration { index, name } => pair(("index", (*index).into()), ("name", text(name))),
        Repr::Fields(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, value)| ((*key).to_owned(), value.value().clone()))
                .collect(),
        ),
    }
}

impl std::ops::Deref for Details {
    type Target = Value;

    fn deref(&self) -> &Value {
        match &self.repr {
            Repr::Value(value) => value,
            compact => self.tree.get_or_init(|| Box::new(build(compact))),
        }
    }
}

impl std::ops::DerefMut for Details {
    fn deref_mut(&mut self) -> &mut Value {
        if !matches!(self.repr, Repr::Value(_)) {
            let tree = match self.tree.take() {
                Some(tree) => *tree,
                None => build(&self.repr),
            };
            self.repr = Repr::Value(tree);
        }
        match &mut self.repr {
            Repr::Value(value) => value,
            // Just made a tree above.
            _ => unreachable!("details were turned into a tree"),
        }
    }
}

impl From<Value> for Details {
    fn from(value: Value) -> Details {
        Details::compact(Repr::Value(value))
    }
}

impl From<Details> for Value {
    fn from(details: Details) -> Value {
        details.into_value()
    }
}

impl Default for Details {
    fn default() -> Details {
        Details::from(Value::Null)
    }
}

impl Clone for Details {
    fn clone(&self) -> Details {
        // The tree is a cache: a copy builds its own if it is read.
        Details::compact(self.repr.clone())
    }
}

impl PartialEq for Details {
    fn eq(&self, other: &Details) -> bool {
        match (&self.repr, &other.repr) {
            (Repr::Value(a), Repr::Value(b)) => a == b,
            (a @ Repr::Entered { .. }, b @ Repr::Entered { .. })
            | (a @ Repr::Exited { .. }, b @ Repr::Exited { .. })
            | (a @ Repr::Iteration { .. }, b @ Repr::Iteration { .. })
            | (a @ Repr::Fields(_), b @ Repr::Fields(_)) => a == b,
            _ => **self == **other,
        }
    }
}

impl PartialEq<Value> for Details {
    fn eq(&self, other: &Value) -> bool {
        **self == *other
    }
}

impl PartialEq<Details> for Value {
    fn eq(&self, other: &Details) -> bool {
        *self == **other
    }
}

impl fmt::Debug for Details {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_value(), f)
    }
}

impl fmt::Display for Details {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_value(), f)
    }
}

impl Serialize for Details {
    /// The same JSON as the tree: keys in the order the tree keeps them.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (first, second) = match &self.repr {
            Repr::Value(value) => return value.serialize(serializer),
            Repr::Fields(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (key, value) in fields {
                    map.serialize_entry(key, value.value())?;
                }
                return map.end();
            }
            Repr::Entered { input, name } => (
                ("input", Field::Value(input.value())),
                ("name", Field::Text(name)),
            ),
            Repr::Exited { name, output } => (
                ("name", Field::Text(name)),
                ("output", Field::Value(output.value())),
            ),
            Repr::Iteration { index, name } => (
                ("index", Field::Number(*index)),
                ("name", Field::Text(name)),
            ),
        };
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry(first.0, &first.1)?;
        map.serialize_entry(second.0, &second.1)?;
        map.end()
    }
}

/// A field value of a compact form.
enum Field<'a> {
    Value(&'a Value),
    Text(&'a str),
    Number(u64),
}

impl Serialize for Field<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Value(value) => value.serialize(serializer),
            Field::Text(text) => serializer.serialize_str(text),
            Field::Number(n) => serializer.serialize_u64(*n),
        }
    }
}

impl<'de> Deserialize<'de> for Details {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Details, D::Error> {
        Value::deserialize(deserializer).map(Details::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn forms() -> Vec<(Details, Value)> {
        let name: Arc<str> = Arc::from("Step \"1\"");
        vec![
            (
                Details::entered(&name, json!({"a": [1, 2.5, null], "b": "x"}).into()),
                json!({"input": {"a": [1, 2.5, null], "b": "x"}, "name": "Step \"1\""}),
            ),
            (
                Details::exited(&name, Payload::Shared(Arc::new(json!("out")))),
                json!({"name": "Step \"1\"", "output": "out"}),
            ),
            (
                Details::iteration(&name, 7),
                json!({"index": 7, "name": "Step \"1\""}),
            ),
            (
                Details::from(json!({"z": 1, "a": 2})),
                json!({"z": 1, "a": 2}),
            ),
            (
                Details::fields(vec![
                    ("output", Payload::Shared(Arc::new(json!([{"n": 1}])))),
                    ("roleArn", json!("arn:r").into()),
                ]),
                json!({"output": [{"n": 1}], "roleArn": "arn:r"}),
            ),
        ]
    }

    #[test]
    fn compact_forms_serialise_as_their_trees() {
        for (details, tree) in forms() {
            assert_eq!(
                serde_json::to_string(&details).unwrap(),
                serde_json::to_string(&tree).unwrap()
            );
            assert_eq!(*details, tree);
            assert_eq!(details.to_value(), tree);
            assert_eq!(details.clone().into_value(), tree);
            let back: Details =
                serde_json::from_str(&serde_json::to_string(&details).unwrap()).unwrap();
            assert_eq!(back, details);
            assert_eq!(format!("{details}"), tree.to_string());
        }
    }

    #[test]
    fn writing_turns_a_compact_form_into_its_tree() {
        let name: Arc<str> = Arc::from("S");
        let mut details = Details::exited(&name, json!(1).into());
        assert_eq!(details["name"], "S");
        details
            .as_object_mut()
            .unwrap()
            .insert("extra".into(), json!(true));
        assert_eq!(*details, json!({"name": "S", "output": 1, "extra": true}));
        assert_ne!(details, Details::exited(&name, json!(1).into()));
    }
}
