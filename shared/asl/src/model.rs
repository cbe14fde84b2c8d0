//! The typed ASL model, parsed with serde from a definition that passed validation.
//!
//! Payload templates, JSONPath rules and anything either query language may express
//! stay raw [`Value`]s: their meaning depends on the query language, which is compiled
//! later (cairn-dataflow). Fields whose `null` differs from absence (`ResultPath: null`
//! discards the result, `InputPath: null` gives `{}`) are `Option<Value>` where `None`
//! is absent and `Some(Value::Null)` is an explicit `null`. The states are generic over
//! how they hold those fields ([`Raw`]): copied, or only [`Seen`] by a reader (the compiler)
//! that has the raw definition at hand and wants serde's checks of a state without copies.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use std::str::FromStr;

/// Why a definition could not be read into the model.
#[derive(Debug, thiserror::Error)]
#[error("invalid state machine definition: {0}")]
pub struct ModelError(#[from] serde_json::Error);

/// Keeps an explicit JSON `null` as `Some(Value::Null)`; absence stays `None` via `#[serde(default)]`.
fn present<'de, D: Deserializer<'de>, V: Deserialize<'de>>(d: D) -> Result<Option<V>, D::Error> {
    V::deserialize(d).map(Some)
}

/// How the model holds the fields it keeps raw (templates, paths, anything JSONata may
/// write): as copied [`Value`]s, the default, or only as [`Seen`], for a reader that has the
/// raw definition at hand and wants serde's checks of a state (its `Type`, required fields and
/// their types, with serde's messages) without copying its templates.
pub trait Raw: std::fmt::Debug + Clone + PartialEq {
    /// The `States` of a Parallel branch or a Map processor.
    type States: std::fmt::Debug + Clone + PartialEq;
    /// A state's `Next` and a Choice state's `Default`.
    type Name: std::fmt::Debug + Clone + PartialEq;
}

impl Raw for Value {
    type States = Map<String, Value>;
    type Name = String;
}

/// A raw field that is present (its value, `null` included, is read from the definition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen;

impl Raw for Seen {
    type States = SeenStates;
    type Name = SeenName;
}

/// A state name (`Next`, `Default`), checked to be a string as `String` is, and not copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenName;

impl<'de> Deserialize<'de> for SeenName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SeenName, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = SeenName;
            // String's own visitor's words, so a non-string reads the same.
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<SeenName, E> {
                Ok(SeenName)
            }
        }
        d.deserialize_string(Visitor)
    }
}

impl<'de> Deserialize<'de> for Seen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Seen, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| Seen)
    }
}

/// A branch's `States`, checked to be an object as `Map<String, Value>` is, and not copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenStates;

impl<'de> Deserialize<'de> for SeenStates {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SeenStates, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = SeenStates;
            // serde_json's own map visitor's words, so a non-object reads the same.
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<SeenStates, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(SeenStates)
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// `JSONPath` (the default) or `JSONata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum QueryLanguage {
    #[default]
    JSONPath,
    JSONata,
}

/// A whole definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateMachine {
    #[serde(rename = "StartAt")]
    pub start_at: String,
    #[serde(rename = "States")]
    pub states: Map<String, Value>,
    #[serde(rename = "Comment", default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(rename = "Version", default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(
        rename = "TimeoutSeconds",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout_seconds: Option<u64>,
    #[serde(
        rename = "QueryLanguage",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub query_language: Option<QueryLanguage>,
}

impl StateMachine {
    pub fn from_value(value: &Value) -> Result<StateMachine, ModelError> {
        Ok(StateMachine::deserialize(value)?)
    }

    /// The typed states, in definition order.
    pub fn typed_states(&self) -> Result<Vec<(String, State)>, ModelError> {
        typed_states(&self.states)
    }

    /// The machine's query language (`JSONPath` when absent).
    pub fn language(&self) -> QueryLanguage {
        self.query_language.unwrap_or_default()
    }
}

impl FromStr for StateMachine {
    type Err = ModelError;
    fn from_str(text: &str) -> Result<StateMachine, ModelError> {
        Ok(serde_json::from_str(text)?)
    }
}

fn typed_states(states: &Map<String, Value>) -> Result<Vec<(String, State)>, ModelError> {
    states
        .iter()
        .map(|(name, raw)| Ok((name.clone(), State::deserialize(raw)?)))
        .collect()
}

/// A Parallel branch, a Map `ItemProcessor` or a legacy `Iterator`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Branch<S = Map<String, Value>> {
    #[serde(rename = "StartAt")]
    pub start_at: String,
    #[serde(rename = "States")]
    pub states: S,
    #[serde(rename = "Comment", default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(
        rename = "ProcessorConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub processor_config: Option<ProcessorConfig>,
}

impl Branch<Map<String, Value>> {
    pub fn typed_states(&self) -> Result<Vec<(String, State)>, ModelError> {
        typed_states(&self.states)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum ProcessorMode {
    #[default]
    Inline,
    Distributed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ExecutionType {
    Standard,
    Express,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ProcessorConfig {
    #[serde(rename = "Mode", default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ProcessorMode>,
    #[serde(
        rename = "ExecutionType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub execution_type: Option<ExecutionType>,
}

/// One state, tagged by `Type`. Deserialized by hand (below), not by serde's internally
/// tagged enums, which copy every state into an intermediate buffer before reading it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    tag = "Type",
    bound(serialize = "V: Serialize, V::States: Serialize, V::Name: Serialize")
)]
pub enum State<V: Raw = Value> {
    Task(Box<TaskState<V>>),
    Pass(Box<PassState<V>>),
    Choice(Box<ChoiceState<V>>),
    Wait(Box<WaitState<V>>),
    Succeed(Box<SucceedState<V>>),
    Fail(Box<FailState<V>>),
    Parallel(Box<ParallelState<V>>),
    Map(Box<MapState<V>>),
}

impl<V: Raw> State<V> {
    /// AWS's name for the type (`Task`, `Pass`, ...): the prefix of its history events.
    pub fn type_name(&self) -> &'static str {
        match self {
            State::Task(_) => "Task",
            State::Pass(_) => "Pass",
            State::Choice(_) => "Choice",
            State::Wait(_) => "Wait",
            State::Succeed(_) => "Succeed",
            State::Fail(_) => "Fail",
            State::Parallel(_) => "Parallel",
            State::Map(_) => "Map",
        }
    }

    /// The state's own `QueryLanguage`, if it declares one.
    pub fn query_language(&self) -> Option<QueryLanguage> {
        match self {
            State::Task(s) => s.query_language,
            State::Pass(s) => s.query_language,
            State::Choice(s) => s.query_language,
            State::Wait(s) => s.query_language,
            State::Succeed(s) => s.query_language,
            State::Fail(s) => s.query_language,
            State::Parallel(s) => s.query_language,
            State::Map(s) => s.query_language,
        }
    }
}

/// The `Type` names, in the order serde's derive numbers them (it also reads a variant index).
const STATE_TYPES: &[&str] = &[
    "Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map",
];

/// Reads `Type` as serde's derived identifier of an internally tagged enum does, with the
/// same messages.
struct TypeTag;

impl<'de> serde::de::DeserializeSeed<'de> for TypeTag {
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de> serde::de::Visitor<'de> for TypeTag {
    type Value = usize;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("variant identifier")
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<usize, E> {
        match usize::try_from(v) {
            Ok(i) if i < STATE_TYPES.len() => Ok(i),
            _ => Err(E::invalid_value(
                serde::de::Unexpected::Unsigned(v),
                &"variant index 0 <= i < 8",
            )),
        }
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<usize, E> {
        STATE_TYPES
            .iter()
            .position(|t| *t == v)
            .ok_or_else(|| E::unknown_variant(v, STATE_TYPES))
    }
    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<usize, E> {
        match STATE_TYPES.iter().position(|t| t.as_bytes() == v) {
            Some(i) => Ok(i),
            None => Err(E::unknown_variant(&String::from_utf8_lossy(v), STATE_TYPES)),
        }
    }
}

/// The fields met before `Type` (kept as values), then the rest of the state's map: what
/// the variant's struct reads. `Type` almost always comes first, so nothing is kept.
struct AfterTag<A> {
    before: std::vec::IntoIter<(String, Value)>,
    value: Option<Value>,
    rest: A,
}

impl<'de, A: serde::de::MapAccess<'de>> serde::de::MapAccess<'de> for AfterTag<A> {
    type Error = A::Error;
    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        match self.before.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(serde::de::value::StringDeserializer::<A::Error>::new(key))
                    .map(Some)
            }
            None => self.rest.next_key_seed(seed),
        }
    }
    fn next_value_seed<V: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, A::Error> {
        match self.value.take() {
            Some(value) => seed
                .deserialize(value)
                .map_err(<A::Error as serde::de::Error>::custom),
            None => self.rest.next_value_seed(seed),
        }
    }
}

/// A state's key: `None` for `Type`, which is only compared, not copied.
struct TypeKey;

impl<'de> serde::de::DeserializeSeed<'de> for TypeKey {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for TypeKey {
    type Value = Option<String>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Option<String>, E> {
        Ok((v != "Type").then(|| v.to_owned()))
    }
}

struct StateVisitor<V>(std::marker::PhantomData<V>);

impl<'de, V: Raw + Deserialize<'de>> serde::de::Visitor<'de> for StateVisitor<V>
where
    V::States: Deserialize<'de>,
    V::Name: Deserialize<'de>,
{
    type Value = State<V>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("internally tagged enum State")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<State<V>, A::Error> {
        let mut before = Vec::new();
        let tag = loop {
            match map.next_key_seed(TypeKey)? {
                Some(None) => break map.next_value_seed(TypeTag)?,
                Some(Some(key)) => before.push((key, map.next_value::<Value>()?)),
                None => return Err(serde::de::Error::missing_field("Type")),
            }
        };
        let fields = serde::de::value::MapAccessDeserializer::new(AfterTag {
            before: before.into_iter(),
            value: None,
            rest: map,
        });
        Ok(match tag {
            0 => State::Task(Box::new(TaskState::deserialize(fields)?)),
            1 => State::Pass(Box::new(PassState::deserialize(fields)?)),
            2 => State::Choice(Box::new(ChoiceState::deserialize(fields)?)),
            3 => State::Wait(Box::new(WaitState::deserialize(fields)?)),
            4 => State::Succeed(Box::new(SucceedState::deserialize(fields)?)),
            5 => State::Fail(Box::new(FailState::deserialize(fields)?)),
            6 => State::Parallel(Box::new(ParallelState::deserialize(fields)?)),
            _ => State::Map(Box::new(MapState::deserialize(fields)?)),
        })
    }
}

impl<'de, V: Raw + Deserialize<'de>> Deserialize<'de> for State<V>
where
    V::States: Deserialize<'de>,
    V::Name: Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<State<V>, D::Error> {
        d.deserialize_map(StateVisitor(std::marker::PhantomData))
    }
}

/// A `Retry` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retrier {
    #[serde(rename = "ErrorEquals")]
    pub error_equals: Vec<String>,
    #[serde(
        rename = "IntervalSeconds",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub interval_seconds: Option<u64>,
    #[serde(
        rename = "MaxAttempts",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_attempts: Option<u64>,
    #[serde(
        rename = "BackoffRate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub backoff_rate: Option<f64>,
    #[serde(
        rename = "MaxDelaySeconds",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_delay_seconds: Option<u64>,
    #[serde(
        rename = "JitterStrategy",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub jitter_strategy: Option<JitterStrategy>,
    #[serde(rename = "Comment", default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum JitterStrategy {
    Full,
    None,
}

/// A `Catch` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "V: Deserialize<'de>"))]
pub struct Catcher<V = Value> {
    #[serde(rename = "ErrorEquals")]
    pub error_equals: Vec<String>,
    #[serde(rename = "Next")]
    pub next: String,
    #[serde(
        rename = "ResultPath",
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub result_path: Option<V>,
    #[serde(
        rename = "Output",
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub output: Option<V>,
    #[serde(
        rename = "Assign",
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub assign: Option<V>,
    #[serde(rename = "Comment", default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Declares the fields every non-terminal state shares, so each struct lists them once.
macro_rules! state_struct {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(bound(
            serialize = "V: Serialize, V::States: Serialize, V::Name: Serialize",
            deserialize = "V: Deserialize<'de>, V::States: Deserialize<'de>, V::Name: Deserialize<'de>"
        ))]
        pub struct $name<V: Raw = Value> {
            #[serde(rename = "Comment", default, skip_serializing_if = "Option::is_none")]
            pub comment: Option<String>,
            #[serde(rename = "QueryLanguage", default, skip_serializing_if = "Option::is_none")]
            pub query_language: Option<QueryLanguage>,
            $($(#[$fmeta])* pub $field: $ty,)*
        }
    };
}

state_struct!(
    /// `Type: Task`.
    TaskState {
        #[serde(rename = "Resource")] resource: String,
        #[serde(rename = "Parameters", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] parameters: Option<V>,
        #[serde(rename = "Arguments", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] arguments: Option<V>,
        #[serde(rename = "ResultSelector", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] result_selector: Option<V>,
        #[serde(rename = "InputPath", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] input_path: Option<V>,
        #[serde(rename = "ResultPath", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] result_path: Option<V>,
        #[serde(rename = "OutputPath", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] output_path: Option<V>,
        #[serde(rename = "Output", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] output: Option<V>,
        #[serde(rename = "Assign", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] assign: Option<V>,
        /// A number, or a JSONata `{% %}` string.
        #[serde(rename = "TimeoutSeconds", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] timeout_seconds: Option<V>,
        #[serde(rename = "TimeoutSecondsPath", default, skip_serializing_if = "Option::is_none")] timeout_seconds_path: Option<String>,
        #[serde(rename = "HeartbeatSeconds", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] heartbeat_seconds: Option<V>,
        #[serde(rename = "HeartbeatSecondsPath", default, skip_serializing_if = "Option::is_none")] heartbeat_seconds_path: Option<String>,
        #[serde(rename = "Credentials", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] credentials: Option<V>,
        #[serde(rename = "Retry", default, skip_serializing_if = "Vec::is_empty")] retry: Vec<Retrier>,
        #[serde(rename = "Catch", default, skip_serializing_if = "Vec::is_empty")] catch: Vec<Catcher<V>>,
        #[serde(rename = "Next", default, skip_serializing_if = "Option::is_none")] next: Option<V::Name>,
        #[serde(rename = "End", default, skip_serializing_if = "std::ops::Not::not")] end: bool,
    }
);

state_struct!(
    /// `Type: Pass`.
    PassState {
        #[serde(rename = "Result", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] result: Option<V>,
        #[serde(rename = "Parameters", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] parameters: Option<V>,
        #[serde(rename = "InputPath", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] input_path: Option<V>,
        #[serde(rename = "ResultPath", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] result_path: Option<V>,
        #[serde(rename = "OutputPath", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] output_path: Option<V>,
        #[serde(rename = "Output", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] output: Option<V>,
        #[serde(rename = "Assign", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] assign: Option<V>,
        #[serde(rename = "Next", default, skip_serializing_if = "Option::is_none")] next: Option<V::Name>,
        #[serde(rename = "End", default, skip_serializing_if = "std::ops::Not::not")] end: bool,
    }
);

/// One rule of a Choice state. JSONPath rules keep their comparison raw (compiled by
/// cairn-dataflow); JSONata rules use `Condition`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "V: Deserialize<'de>"))]
pub struct ChoiceRule<V = Value> {
    #[serde(rename = "Next")]
    pub next: String,
    #[serde(
        rename = "Condition",
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub condition: Option<V>,
    #[serde(
        rename = "Output",
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub output: Option<V>,
    #[serde(
        rename = "Assign",
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub assign: Option<V>,
    #[serde(rename = "Comment", default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The whole rule object as written (Variable, operators, And/Or/Not, ...).
    #[serde(skip)]
    pub raw: Value,
}

state_struct!(
    /// `Type: Choice`. `Choices` stays raw here; [`ChoiceState::rules`] types it.
    ChoiceState {
        #[serde(rename = "Choices")] choices: Vec<V>,
        #[serde(rename = "Default", default, skip_serializing_if = "Option::is_none")] default: Option<V::Name>,
        #[serde(rename = "InputPath", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] input_path: Option<V>,
        #[serde(rename = "OutputPath", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] output_path: Option<V>,
        #[serde(rename = "Output", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] output: Option<V>,
        #[serde(rename = "Assign", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] assign: Option<V>,
    }
);

impl ChoiceState {
    /// The top-level rules with their `Next`, each keeping its raw object.
    pub fn rules(&self) -> Result<Vec<ChoiceRule>, ModelError> {
        self.choices
            .iter()
            .map(|raw| {
                let mut rule = ChoiceRule::deserialize(raw)?;
                rule.raw = raw.clone();
                Ok(rule)
            })
            .collect()
    }
}

state_struct!(
    /// `Type: Wait`. `Seconds`/`Timestamp` may be JSONata strings, so they stay raw.
    WaitState {
        #[serde(rename = "Seconds", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] seconds: Option<V>,
        #[serde(rename = "SecondsPath", default, skip_serializing_if = "Option::is_none")] seconds_path: Option<String>,
        #[serde(rename = "Timestamp", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] timestamp: Option<V>,
        #[serde(rename = "TimestampPath", default, skip_serializing_if = "Option::is_none")] timestamp_path: Option<String>,
        #[serde(rename = "InputPath", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] input_path: Option<V>,
        #[serde(rename = "OutputPath", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] output_path: Option<V>,
        #[serde(rename = "Output", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] output: Option<V>,
        #[serde(rename = "Assign", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] assign: Option<V>,
        #[serde(rename = "Next", default, skip_serializing_if = "Option::is_none")] next: Option<V::Name>,
        #[serde(rename = "End", default, skip_serializing_if = "std::ops::Not::not")] end: bool,
    }
);

state_struct!(
    /// `Type: Succeed`.
    SucceedState {
        #[serde(rename = "InputPath", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] input_path: Option<V>,
        #[serde(rename = "OutputPath", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] output_path: Option<V>,
        #[serde(rename = "Output", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] output: Option<V>,
    }
);

state_struct!(
    /// `Type: Fail`. `Error`/`Cause` may be JSONata strings.
    FailState {
        #[serde(rename = "Error", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] error: Option<V>,
        #[serde(rename = "ErrorPath", default, skip_serializing_if = "Option::is_none")] error_path: Option<String>,
        #[serde(rename = "Cause", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] cause: Option<V>,
        #[serde(rename = "CausePath", default, skip_serializing_if = "Option::is_none")] cause_path: Option<String>,
    }
);

state_struct!(
    /// `Type: Parallel`.
    ParallelState {
        #[serde(rename = "Branches")] branches: Vec<Branch<V::States>>,
        #[serde(rename = "Parameters", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] parameters: Option<V>,
        #[serde(rename = "Arguments", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] arguments: Option<V>,
        #[serde(rename = "ResultSelector", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] result_selector: Option<V>,
        #[serde(rename = "InputPath", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] input_path: Option<V>,
        #[serde(rename = "ResultPath", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] result_path: Option<V>,
        #[serde(rename = "OutputPath", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] output_path: Option<V>,
        #[serde(rename = "Output", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] output: Option<V>,
        #[serde(rename = "Assign", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] assign: Option<V>,
        #[serde(rename = "Retry", default, skip_serializing_if = "Vec::is_empty")] retry: Vec<Retrier>,
        #[serde(rename = "Catch", default, skip_serializing_if = "Vec::is_empty")] catch: Vec<Catcher<V>>,
        #[serde(rename = "Next", default, skip_serializing_if = "Option::is_none")] next: Option<V::Name>,
        #[serde(rename = "End", default, skip_serializing_if = "std::ops::Not::not")] end: bool,
    }
);

state_struct!(
    /// `Type: Map`, inline or distributed. Distributed-only settings stay raw values.
    MapState {
        #[serde(rename = "ItemProcessor", default, skip_serializing_if = "Option::is_none")] item_processor: Option<Branch<V::States>>,
        #[serde(rename = "Iterator", default, skip_serializing_if = "Option::is_none")] iterator: Option<Branch<V::States>>,
        #[serde(rename = "ItemsPath", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] items_path: Option<V>,
        #[serde(rename = "Items", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] items: Option<V>,
        #[serde(rename = "ItemSelector", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] item_selector: Option<V>,
        #[serde(rename = "Parameters", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] parameters: Option<V>,
        #[serde(rename = "MaxConcurrency", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] max_concurrency: Option<V>,
        #[serde(rename = "MaxConcurrencyPath", default, skip_serializing_if = "Option::is_none")] max_concurrency_path: Option<String>,
        #[serde(rename = "ToleratedFailureCount", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] tolerated_failure_count: Option<V>,
        #[serde(rename = "ToleratedFailureCountPath", default, skip_serializing_if = "Option::is_none")] tolerated_failure_count_path: Option<String>,
        #[serde(rename = "ToleratedFailurePercentage", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] tolerated_failure_percentage: Option<V>,
        #[serde(rename = "ToleratedFailurePercentagePath", default, skip_serializing_if = "Option::is_none")] tolerated_failure_percentage_path: Option<String>,
        #[serde(rename = "Label", default, skip_serializing_if = "Option::is_none")] label: Option<String>,
        #[serde(rename = "ItemReader", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] item_reader: Option<V>,
        #[serde(rename = "ItemBatcher", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] item_batcher: Option<V>,
        #[serde(rename = "ResultWriter", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] result_writer: Option<V>,
        #[serde(rename = "ResultSelector", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] result_selector: Option<V>,
        #[serde(rename = "InputPath", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] input_path: Option<V>,
        #[serde(rename = "ResultPath", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] result_path: Option<V>,
        #[serde(rename = "OutputPath", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] output_path: Option<V>,
        #[serde(rename = "Output", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] output: Option<V>,
        #[serde(rename = "Assign", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")] assign: Option<V>,
        #[serde(rename = "Retry", default, skip_serializing_if = "Vec::is_empty")] retry: Vec<Retrier>,
        #[serde(rename = "Catch", default, skip_serializing_if = "Vec::is_empty")] catch: Vec<Catcher<V>>,
        #[serde(rename = "Next", default, skip_serializing_if = "Option::is_none")] next: Option<V::Name>,
        #[serde(rename = "End", default, skip_serializing_if = "std::ops::Not::not")] end: bool,
    }
);

impl<V: Raw> MapState<V> {
    /// `ItemProcessor`, or the legacy `Iterator`.
    pub fn processor(&self) -> Option<&Branch<V::States>> {
        self.item_processor.as_ref().or(self.iterator.as_ref())
    }

    /// `ItemSelector`, or the legacy `Parameters`.
    pub fn selector(&self) -> Option<&V> {
        self.item_selector.as_ref().or(self.parameters.as_ref())
    }

    pub fn mode(&self) -> ProcessorMode {
        self.processor()
            .and_then(|p| p.processor_config.as_ref())
            .and_then(|c| c.mode)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn distinguishes_null_from_absent_paths() {
        let sm = StateMachine::from_value(&json!({
            "StartAt": "A",
            "States": {"A": {"Type": "Pass", "ResultPath": null, "End": true}}
        }))
        .unwrap();
        let states = sm.typed_states().unwrap();
        let State::Pass(pass) = &states[0].1 else {
            panic!("not a Pass")
        };
        assert_eq!(pass.result_path, Some(Value::Null));
        assert_eq!(pass.input_path, None);
        assert!(pass.end);
    }

    #[test]
    fn reads_type_wherever_it_is_with_serdes_messages() {
        let state = State::<Value>::deserialize(&json!({
            "Comment": "c", "Parameters": {"a.$": "$.x"}, "Next": "B", "Type": "Pass", "End": false
        }))
        .unwrap();
        let State::Pass(pass) = state else {
            panic!("not a Pass")
        };
        assert_eq!(pass.comment.as_deref(), Some("c"));
        assert_eq!(pass.parameters, Some(json!({"a.$": "$.x"})));
        assert_eq!(pass.next.as_deref(), Some("B"));
        let message = |raw: Value| {
            let message = State::<Value>::deserialize(&raw).unwrap_err().to_string();
            let seen = State::<Seen>::deserialize(&raw).unwrap_err().to_string();
            assert_eq!(message, seen, "{raw}");
            message
        };
        assert_eq!(message(json!({"Next": "B"})), "missing field `Type`");
        assert_eq!(
            message(json!({"Type": "Bogus"})),
            "unknown variant `Bogus`, expected one of `Task`, `Pass`, `Choice`, `Wait`, `Succeed`, `Fail`, `Parallel`, `Map`"
        );
        assert_eq!(
            message(json!({"Next": "B", "Type": "Task"})),
            "missing field `Resource`"
        );
        assert_eq!(
            message(json!({"Resource": 5, "Type": "Task"})),
            "invalid type: integer `5`, expected a string"
        );
        assert_eq!(
            message(json!("x")),
            "invalid type: string \"x\", expected internally tagged enum State"
        );
        assert_eq!(
            message(json!({"Type": 3})),
            "invalid type: integer `3`, expected variant identifier"
        );
    }

    /// A state read only for its shape ([`Seen`]) is accepted or refused as the full model
    /// reads it, with the same message: the compiler relies on it.
    #[test]
    fn seen_fields_check_what_values_check() {
        let branch = json!({"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}});
        let states = [
            json!({"Type": "Pass", "Parameters": {"a.$": "$.x"}, "ResultPath": null, "Result": [1], "End": true}),
            json!({"Type": "Task", "Resource": "r", "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 2}],
                   "Catch": [{"ErrorEquals": ["E"], "Next": "A", "ResultPath": null, "Output": 1}],
                   "TimeoutSeconds": "{% 1 %}", "Credentials": {}, "Next": "A"}),
            json!({"Type": "Task", "Resource": "r", "Catch": [{"ErrorEquals": ["E"]}]}),
            json!({"Type": "Task", "Resource": "r", "Catch": {"ErrorEquals": ["E"]}}),
            json!({"Type": "Task", "Resource": "r", "Retry": [{"ErrorEquals": "E"}]}),
            json!({"Type": "Task", "Resource": "r", "TimeoutSecondsPath": 3}),
            json!({"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "A"}], "Default": "A"}),
            json!({"Type": "Choice", "Choices": {"Next": "A"}}),
            json!({"Type": "Choice"}),
            json!({"Type": "Wait", "Seconds": "x", "Next": "A"}),
            json!({"Type": "Fail", "Error": 3, "CausePath": "$.c"}),
            json!({"Type": "Parallel", "Branches": [branch.clone()], "End": true}),
            json!({"Type": "Parallel", "Branches": [{"StartAt": "X", "States": "no"}], "End": true}),
            json!({"Type": "Parallel", "Branches": [{"StartAt": "X", "States": []}], "End": true}),
            json!({"Type": "Parallel", "Branches": [{"States": {}}], "End": true}),
            json!({"Type": "Parallel", "Branches": {}, "End": true}),
            json!({"Type": "Map", "ItemProcessor": branch.clone(), "ItemSelector": {"a.$": "$$.Map.Item.Value"},
                   "ItemReader": {"Resource": "r"}, "MaxConcurrency": "x", "End": true}),
            json!({"Type": "Map", "Iterator": {"StartAt": "X", "States": 5}, "End": true}),
            json!({"Type": "Map", "ItemProcessor": {"ProcessorConfig": {"Mode": "ELSEWHERE"}, "StartAt": "X", "States": {}}}),
            json!({"Type": "Map", "Label": 5}),
            json!({"QueryLanguage": "JSONata", "Type": "Pass", "Output": "{% 1 %}", "Next": "A"}),
            json!({"QueryLanguage": "XPath", "Type": "Pass"}),
            json!({"Next": "A", "Parameters": {"b": 1}, "Type": "Pass", "End": "yes"}),
            json!({"Next": 1, "Type": "Pass"}),
            json!({"Type": "Choice", "Choices": [], "Default": ["A"]}),
            json!({"Type": "Map", "ItemProcessor": branch.clone(), "Next": null}),
        ];
        for raw in states {
            let full = State::<Value>::deserialize(&raw);
            let seen = State::<Seen>::deserialize(&raw);
            match (&full, &seen) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a.type_name(), b.type_name(), "{raw}");
                    assert_eq!(a.query_language(), b.query_language(), "{raw}");
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{raw}"),
                _ => panic!("{raw}: {full:?} against {seen:?}"),
            }
        }
    }

    #[test]
    fn parses_every_state_type() {
        let sm: StateMachine = r#"{
          "StartAt": "T", "TimeoutSeconds": 30, "QueryLanguage": "JSONPath",
          "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "TimeoutSecondsPath": "$.t",
                  "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "BackoffRate": 1.5, "JitterStrategy": "FULL"}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "C"}], "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "W"}], "Default": "F"},
            "W": {"Type": "Wait", "SecondsPath": "$.s", "Next": "P"},
            "P": {"Type": "Parallel", "Branches": [{"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}], "Next": "M"},
            "M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1,
                  "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, "StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}},
                  "End": true},
            "F": {"Type": "Fail", "Error": "E", "CausePath": "$.c"}
          }
        }"#
        .parse()
        .unwrap();
        assert_eq!(sm.timeout_seconds, Some(30));
        let states = sm.typed_states().unwrap();
        let names: Vec<&str> = states.iter().map(|(_, s)| s.type_name()).collect();
        assert_eq!(names, ["Task", "Choice", "Wait", "Parallel", "Map", "Fail"]);
        let State::Task(task) = &states[0].1 else {
            panic!("not a Task")
        };
        assert_eq!(task.retry[0].jitter_strategy, Some(JitterStrategy::Full));
        assert_eq!(task.catch[0].result_path, Some(json!("$.err")));
        let State::Choice(choice) = &states[1].1 else {
            panic!("not a Choice")
        };
        let rules = choice.rules().unwrap();
        assert_eq!(rules[0].next, "W");
        assert_eq!(rules[0].raw["Variable"], "$.x");
        let State::Map(map) = &states[4].1 else {
            panic!("not a Map")
        };
        assert_eq!(map.mode(), ProcessorMode::Distributed);
        assert_eq!(map.max_concurrency, Some(json!(1)));
    }

    #[test]
    fn parses_jsonata_fields_and_distributed_settings() {
        let sm = StateMachine::from_value(&json!({
            "QueryLanguage": "JSONata", "StartAt": "T",
            "States": {
                "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                      "Arguments": {"Payload": "{% $states.input %}"}, "Output": "{% $states.result %}",
                      "TimeoutSeconds": "{% $t %}", "Credentials": {"RoleArn": "arn:aws:iam::1:role/r"},
                      "Catch": [{"ErrorEquals": ["States.ALL"], "Output": "{% $states.errorOutput %}", "Assign": {"e": 1}, "Next": "C"}],
                      "Next": "C"},
                "C": {"Type": "Choice", "Choices": [{"Condition": "{% $x %}", "Output": 1, "Assign": {"y": 2}, "Next": "M"}], "Default": "M"},
                "M": {"Type": "Map", "Items": "{% [1,2] %}", "Label": "L", "ToleratedFailurePercentage": 10,
                      "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "CSV"}},
                      "ItemBatcher": {"MaxItemsPerBatch": 2}, "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject"},
                      "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                        "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
                      "End": true}
            }
        }))
        .unwrap();
        assert_eq!(sm.language(), QueryLanguage::JSONata);
        let states = sm.typed_states().unwrap();
        let State::Task(task) = &states[0].1 else {
            panic!("not a Task")
        };
        assert_eq!(task.timeout_seconds, Some(json!("{% $t %}")));
        assert_eq!(
            task.catch[0].output,
            Some(json!("{% $states.errorOutput %}"))
        );
        let State::Choice(choice) = &states[1].1 else {
            panic!("not a Choice")
        };
        let rules = choice.rules().unwrap();
        assert_eq!(
            (rules[0].condition.clone(), rules[0].assign.clone()),
            (Some(json!("{% $x %}")), Some(json!({"y": 2})))
        );
        let State::Map(map) = &states[2].1 else {
            panic!("not a Map")
        };
        assert_eq!(map.label.as_deref(), Some("L"));
        assert_eq!(map.item_batcher, Some(json!({"MaxItemsPerBatch": 2})));
        assert_eq!(map.processor().map(|p| p.start_at.as_str()), Some("P"));
        let back = serde_json::to_value(&**map).unwrap();
        assert_eq!(back["Items"], "{% [1,2] %}");
        assert!(
            back.get("ResultPath").is_none(),
            "absent fields stay absent"
        );
    }
}
