//! [`Details`]: a history event's details object, kept compact for the events a run emits
//! most (every state's entry and exit, every Map iteration's start and end).
//!
//! Building those as `serde_json::Value` trees cost five allocations an event (the map, its
//! two keys, the state's name); the compact forms hold the payload and a shared name, and
//! serialise to exactly the JSON text the tree would have. Readers that want the tree get
//! it through `Deref`, built once on first read.

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Number, Value};
use std::collections::BTreeSet;
use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, OnceLock};

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

/// Every form is small (an event is moved several times on its way into the history, and
/// a large one was copied with a call to memmove each time): trees and owned payloads are
/// boxed, and no details at all (`null`, frequent) take no box.
#[derive(Clone, PartialEq)]
enum Repr {
    Null,
    Value(Box<Value>),
    /// `{"input": input, "name": name}`: `<Type>StateEntered`.
    Entered {
        input: Payload,
        name: Name,
    },
    /// `{"name": name, "output": output}`: `<Type>StateExited`.
    Exited {
        name: Name,
        output: Payload,
    },
    /// `{"input": input, "roleArn": role_arn}`: `ExecutionStarted`, once per execution
    /// (as fields, a vector and a boxed role: two allocations more per execution).
    Started {
        input: Payload,
        role_arn: String,
    },
    /// One field, such as `ExecutionSucceeded`'s `{"output"}`.
    Field(&'static str, Payload),
    /// `{"index": index, "name": name}`: a Map iteration's events.
    Iteration {
        index: u64,
        name: Name,
    },
}

impl Details {
    /// `{"input": input, "name": name}`.
    pub(crate) fn entered(name: &Name, input: Payload) -> Details {
        Details::compact(Repr::Entered {
            input,
            name: name.clone(),
        })
    }

    /// `{"name": name, "output": output}`.
    pub(crate) fn exited(name: &Name, output: Payload) -> Details {
        Details::compact(Repr::Exited {
            name: name.clone(),
            output,
        })
    }

    /// `{"index": index, "name": name}`.
    pub(crate) fn iteration(name: &Name, index: usize) -> Details {
        Details::compact(Repr::Iteration {
            index: index as u64,
            name: name.clone(),
        })
    }

    /// `{"input": input, "roleArn": role_arn}`.
    pub(crate) fn started(input: Payload, role_arn: String) -> Details {
        Details::compact(Repr::Started { input, role_arn })
    }

    /// An object of one field.
    pub(crate) fn field(key: &'static str, value: Payload) -> Details {
        Details::compact(Repr::Field(key, value))
    }

    fn compact(repr: Repr) -> Details {
        Details {
            repr,
            tree: OnceLock::new(),
        }
    }

    /// The details as a tree, built without keeping it (for one-off renderings).
    pub fn to_value(&self) -> Value {
        build(&self.repr)
    }

    /// The details as a tree, taking them apart.
    pub fn into_value(self) -> Value {
        match self.repr {
            Repr::Null => Value::Null,
            Repr::Value(value) => *value,
            Repr::Field(key, value) => one(key, value.into_value()),
            Repr::Entered { input, name } => {
                pair(("input", input.into_value()), ("name", text(&name)))
            }
            Repr::Exited { name, output } => {
                pair(("name", text(&name)), ("output", output.into_value()))
            }
            Repr::Iteration { index, name } => pair(("index", index.into()), ("name", text(&name))),
            Repr::Started { input, role_arn } => pair(
                ("input", input.into_value()),
                ("roleArn", Value::String(role_arn)),
            ),
        }
    }
}

impl Details {
    /// Appends the details' compact JSON text to `out`: byte for byte what `serde_json`
    /// writes for them (their `Serialize`), but written straight from the compact form.
    /// A payload shared with an event written just before (`shared`) is copied from its
    /// text instead of written again.
    #[inline]
    pub(crate) fn write_json<'a>(&'a self, out: &mut String, shared: &mut SharedText<'a>) {
        match &self.repr {
            Repr::Null => out.push_str("null"),
            Repr::Value(value) => write_value(out, value),
            Repr::Field(key, value) => {
                out.push('{');
                write_str(out, key);
                out.push(':');
                shared.write(out, value);
                out.push('}');
            }
            Repr::Entered { input, name } => {
                out.push_str("{\"input\":");
                shared.write(out, input);
                out.push_str(",\"name\":");
                name.write_json(out);
                out.push('}');
            }
            Repr::Exited { name, output } => {
                out.push_str("{\"name\":");
                name.write_json(out);
                out.push_str(",\"output\":");
                shared.write(out, output);
                out.push('}');
            }
            Repr::Iteration { index, name } => {
                out.push_str("{\"index\":");
                write_u64(out, *index);
                out.push_str(",\"name\":");
                name.write_json(out);
                out.push('}');
            }
            Repr::Started { input, role_arn } => {
                out.push_str("{\"input\":");
                shared.write(out, input);
                out.push_str(",\"roleArn\":");
                write_str(out, role_arn);
                out.push('}');
            }
        }
    }
}

/// What consecutive events of a history share, kept as text: the last timestamp and the
/// last shared payload written. A decision's events carry one timestamp, and a state's
/// output is the next state's input as one shared value (three events' worth through a
/// Choice), so the events of a history written in order find most of both here.
pub(crate) struct SharedText<'a> {
    /// Borrowed from the events being written, so it outlives the writing: an address
    /// seen here cannot be freed and reused by another value meanwhile.
    value: Option<&'a Value>,
    timestamp: Option<i64>,
    /// The timestamp's digits (`text[..stamp_len]`), then the payload's text: one
    /// allocation for both.
    text: String,
    stamp_len: usize,
    /// False when nothing follows (one event alone): keeping the text would be wasted.
    remember: bool,
}

impl<'a> SharedText<'a> {
    pub(crate) fn new(remember: bool) -> SharedText<'a> {
        SharedText {
            value: None,
            timestamp: None,
            text: String::new(),
            stamp_len: 0,
            remember,
        }
    }

    /// Room for the timestamp and the next few payloads at once: a decision's payloads are
    /// mostly small, and growing from each one's exact size cost an allocation apiece.
    fn make_room(&mut self, more: usize) {
        if self.text.capacity() < self.text.len() + more {
            self.text.reserve(more.max(120));
        }
    }

    #[inline]
    pub(crate) fn write_timestamp(&mut self, out: &mut String, timestamp_ms: i64) {
        if self.timestamp == Some(timestamp_ms) {
            out.push_str(&self.text[..self.stamp_len]);
            return;
        }
        let start = out.len();
        write_i64(out, timestamp_ms);
        if self.remember {
            let digits = &out[start..];
            self.make_room(digits.len());
            self.text.replace_range(..self.stamp_len, digits);
            self.stamp_len = digits.len();
            self.timestamp = Some(timestamp_ms);
        }
    }

    #[inline]
    fn write(&mut self, out: &mut String, payload: &'a Payload) {
        let Payload::Shared(value) = payload else {
            return write_value(out, payload.value());
        };
        if !self.remember {
            return write_value(out, value);
        }
        let value: &'a Value = value;
        if self.value.is_some_and(|last| std::ptr::eq(last, value)) {
            out.push_str(&self.text[self.stamp_len..]);
            return;
        }
        let start = out.len();
        write_value(out, value);
        let text = &out[start..];
        self.text.truncate(self.stamp_len);
        self.make_room(text.len());
        self.text.push_str(text);
        self.value = Some(value);
    }
}

/// `value` as `serde_json::to_string` writes it (compact, keys in the map's order).
fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => write_number(out, number),
        Value::String(text) => write_str(out, text),
        Value::Array(items) => {
            out.push('[');
            for (at, item) in items.iter().enumerate() {
                if at > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (at, (key, item)) in map.iter().enumerate() {
                if at > 0 {
                    out.push(',');
                }
                write_str(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

fn write_number(out: &mut String, number: &Number) {
    if let Some(n) = number.as_u64() {
        write_u64(out, n);
    } else if let Some(n) = number.as_i64() {
        write_i64(out, n);
    } else {
        // A float: serde_json's Display is its serializer's shortest form (a Value holds
        // no NaN or infinity, which it would write as null).
        let _ = write!(out, "{number}");
    }
}

pub(crate) fn write_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    write_u64(out, n.unsigned_abs());
}

/// Inline for the single digits of early ids and small counters, the most frequent.
#[inline]
pub(crate) fn write_u64(out: &mut String, n: u64) {
    if n < 10 {
        out.push(char::from(b'0' + n as u8));
    } else {
        write_digits(out, n);
    }
}

/// Two digits at a time, as itoa (serde_json's integer writer) does; pushed a byte at a
/// time because ids and counters are short and a slice would need checking as UTF-8.
fn write_digits(out: &mut String, mut n: u64) {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        at -= 2;
        digits[at] = PAIRS[pair];
        digits[at + 1] = PAIRS[pair + 1];
    }
    if n >= 10 {
        let pair = n as usize * 2;
        at -= 2;
        digits[at] = PAIRS[pair];
        digits[at + 1] = PAIRS[pair + 1];
    } else {
        at -= 1;
        digits[at] = b'0' + n as u8;
    }
    let digits = &digits[at..];
    out.reserve(digits.len());
    for &digit in digits {
        // Masked, the compiler knows each is ASCII and pushes one byte: unmasked, every
        // digit took the branches for a multi-byte character (B3's ids and indexes).
        out.push(char::from(digit & 0x7f));
    }
}

/// `text` as a JSON string with serde_json's escapes: `\"`, `\\`, `\b` `\t` `\n` `\f` `\r`,
/// `\u00xx` (lower-case hex) for the other control characters, everything else as is.
pub(crate) fn write_str(out: &mut String, text: &str) {
    if needs_escape(text.as_bytes()) {
        out.push('"');
        write_escaped(out, text);
        out.push('"');
    } else {
        write_clean_str(out, text);
    }
}

/// `text`, known to need no escape, as a JSON string.
#[inline]
pub(crate) fn write_clean_str(out: &mut String, text: &str) {
    debug_assert!(!needs_escape(text.as_bytes()), "{text:?}");
    // One capacity check for the three pieces.
    out.reserve(text.len() + 2);
    out.push('"');
    out.push_str(text);
    out.push('"');
}

/// Whether any byte of `bytes` is a control character, `"` or `\`, eight bytes at a
/// time: names and event types are short and almost never need an escape, and a byte at
/// a time was most of the time spent writing them.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Whether a byte is below `n` (n <= 0x80): exact for the word as a whole, and bytes of
    // 0x80 and above (UTF-8 beyond ASCII) never count.
    let below = |word: u64, n: u64| word.wrapping_sub(ONES * n) & !word & HIGHS != 0;
    let escapes = |chunk: &[u8]| {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        below(word, 0x20)
            || below(word ^ (ONES * u64::from(b'"')), 1)
            || below(word ^ (ONES * u64::from(b'\\')), 1)
    };
    if bytes.len() < 8 {
        // Padding a short string into a word costs a stalled load; a few bytes are quicker.
        return bytes
            .iter()
            .any(|&byte| byte < 0x20 || byte == b'"' || byte == b'\\');
    }
    // The last eight bytes again, overlapping the words already seen, rather than the few
    // left over a byte at a time.
    bytes.chunks_exact(8).any(escapes) || escapes(&bytes[bytes.len() - 8..])
}

fn write_escaped(out: &mut String, text: &str) {
    let mut run = 0;
    for (at, &byte) in text.as_bytes().iter().enumerate() {
        let escape = match byte {
            b'"' => '"',
            b'\\' => '\\',
            0x08 => 'b',
            b'\t' => 't',
            b'\n' => 'n',
            0x0c => 'f',
            b'\r' => 'r',
            0x00..=0x1f => 'u',
            _ => continue,
        };
        // `at` is an ASCII byte, so both ends of the run are character boundaries.
        out.push_str(&text[run..at]);
        out.push('\\');
        out.push(escape);
        if escape == 'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        run = at + 1;
    }
    out.push_str(&text[run..]);
}

/// A state's name as its events carry it: the text, interned once per process when the
/// machine is compiled. Each event copies two words. The names were copied inline before
/// (23 bytes moved piecewise into each event, then read back whole, a stalled load per
/// event: B4 5 % slower) and shared as one `Arc<str>` before that (two locked
/// instructions per event). Past [`INTERNED_BYTES`] of distinct names, a name is shared.
#[derive(Clone)]
pub(crate) enum Name {
    /// ASCII needing no escape in JSON (found once, when interned).
    Plain(&'static str),
    Interned(&'static str),
    Shared(Arc<str>),
}

/// The most bytes of distinct state names a process keeps for good. Names are short (80
/// characters at most) and machines reuse them, so this holds tens of thousands.
const INTERNED_BYTES: usize = 4 << 20;

/// Every name interned so far, and their total length.
static INTERNED: Mutex<(BTreeSet<&'static str>, usize)> = Mutex::new((BTreeSet::new(), 0));

impl Name {
    pub(crate) fn new(name: &str) -> Name {
        let Some(text) = intern(name) else {
            return Name::Shared(Arc::from(name));
        };
        if text.is_ascii() && !needs_escape(text.as_bytes()) {
            Name::Plain(text)
        } else {
            Name::Interned(text)
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            Name::Plain(text) | Name::Interned(text) => text,
            Name::Shared(name) => name,
        }
    }

    /// The name as a JSON string (see [`write_str`]).
    #[inline]
    fn write_json(&self, out: &mut String) {
        match self {
            Name::Plain(text) => write_clean_str(out, text),
            _ => write_str(out, self.as_str()),
        }
    }
}

/// `name` kept for the rest of the process: the same text once, however many machines
/// name a state so. `None` once [`INTERNED_BYTES`] are taken (or the lock was poisoned).
fn intern(name: &str) -> Option<&'static str> {
    intern_within(name, INTERNED_BYTES)
}

fn intern_within(name: &str, limit: usize) -> Option<&'static str> {
    let mut interned = INTERNED.lock().ok()?;
    let (names, bytes) = &mut *interned;
    if let Some(&known) = names.get(name) {
        return Some(known);
    }
    if *bytes + name.len() > limit {
        return None;
    }
    let text: &'static str = Box::leak(Box::from(name));
    names.insert(text);
    *bytes += text.len();
    Some(text)
}

impl std::ops::Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A state's input or output in its event: its own, or shared with the event next to it
/// (a state's output is the next state's input, so the two events hold one copy).
/// Boxed when owned, so that it is as small as when shared.
#[derive(Clone)]
pub(crate) enum Payload {
    Owned(Box<Value>),
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
            Payload::Owned(value) => *value,
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
        Payload::Owned(Box::new(value))
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

fn one(key: &str, value: Value) -> Value {
    let mut map = Map::with_capacity(1);
    map.insert(key.to_owned(), value);
    Value::Object(map)
}

fn pair(first: (&str, Value), second: (&str, Value)) -> Value {
    let mut map = Map::with_capacity(2);
    map.insert(first.0.to_owned(), first.1);
    map.insert(second.0.to_owned(), second.1);
    Value::Object(map)
}

fn build(repr: &Repr) -> Value {
    match repr {
        Repr::Null => Value::Null,
        Repr::Value(value) => Value::clone(value),
        Repr::Field(key, value) => one(key, value.value().clone()),
        Repr::Entered { input, name } => {
            pair(("input", input.value().clone()), ("name", text(name)))
        }
        Repr::Exited { name, output } => {
            pair(("name", text(name)), ("output", output.value().clone()))
        }
        Repr::Iteration { index, name } => pair(("index", (*index).into()), ("name", text(name))),
        Repr::Started { input, role_arn } => pair(
            ("input", input.value().clone()),
            ("roleArn", text(role_arn)),
        ),
    }
}

impl std::ops::Deref for Details {
    type Target = Value;

    fn deref(&self) -> &Value {
        static NULL: Value = Value::Null;
        match &self.repr {
            Repr::Null => &NULL,
            Repr::Value(value) => value,
            compact => self.tree.get_or_init(|| Box::new(build(compact))),
        }
    }
}

impl std::ops::DerefMut for Details {
    fn deref_mut(&mut self) -> &mut Value {
        if !matches!(self.repr, Repr::Value(_)) {
            let tree = match self.tree.take() {
                Some(tree) => tree,
                None => Box::new(build(&self.repr)),
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
        Details::compact(match value {
            Value::Null => Repr::Null,
            value => Repr::Value(Box::new(value)),
        })
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
            (Repr::Null, Repr::Null) => true,
            (a @ Repr::Field(..), b @ Repr::Field(..))
            | (a @ Repr::Entered { .. }, b @ Repr::Entered { .. })
            | (a @ Repr::Exited { .. }, b @ Repr::Exited { .. })
            | (a @ Repr::Iteration { .. }, b @ Repr::Iteration { .. })
            | (a @ Repr::Started { .. }, b @ Repr::Started { .. }) => a == b,
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
            Repr::Null => return serializer.serialize_unit(),
            Repr::Value(value) => return value.serialize(serializer),
            Repr::Field(key, value) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(key, value.value())?;
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
            Repr::Started { input, role_arn } => (
                ("input", Field::Value(input.value())),
                ("roleArn", Field::Text(role_arn)),
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
        let name = Name::new("Step \"1\"");
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
            (Details::from(Value::Null), Value::Null),
            (Details::from(json!("text")), json!("text")),
            (
                Details::field("output", Payload::Shared(Arc::new(json!({"n": [1]})))),
                json!({"output": {"n": [1]}}),
            ),
            (
                Details::started(
                    Payload::Shared(Arc::new(json!({"n": [1]}))),
                    "arn:aws:iam::1:role/\"r\"".into(),
                ),
                json!({"input": {"n": [1]}, "roleArn": "arn:aws:iam::1:role/\"r\""}),
            ),
            (
                Details::started(json!(null).into(), String::new()),
                json!({"input": null, "roleArn": ""}),
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
            let mut written = String::new();
            details.write_json(&mut written, &mut SharedText::new(false));
            assert_eq!(written, serde_json::to_string(&tree).unwrap());
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
    fn strings_escape_as_serde_json_does_at_every_length_and_position() {
        // Each length around the eight-byte words, each position, each kind of byte: the
        // word-at-a-time check must find every escape and invent none (0x7f, UTF-8).
        let plain = ["a", " ", "~", "\u{7f}", "é", "✓"];
        let escaped = [
            "\"", "\\", "\u{0}", "\u{8}", "\t", "\n", "\u{c}", "\r", "\u{1f}",
        ];
        for len in 0..26 {
            for filler in plain {
                let clean: String = filler.repeat(len);
                let mut out = String::new();
                write_str(&mut out, &clean);
                assert_eq!(out, serde_json::to_string(&clean).unwrap());
                assert!(!needs_escape(clean.as_bytes()), "{clean:?}");
                for at in 0..len {
                    for bad in escaped {
                        let text =
                            format!("{}{bad}{}", filler.repeat(at), filler.repeat(len - at - 1));
                        assert!(needs_escape(text.as_bytes()), "{text:?}");
                        let mut out = String::new();
                        write_str(&mut out, &text);
                        assert_eq!(out, serde_json::to_string(&text).unwrap());
                    }
                }
            }
        }
    }

    #[test]
    fn numbers_write_as_serde_json_does() {
        let mut numbers: Vec<Value> = Vec::new();
        for digits in 0..20 {
            let n = 10u64.pow(digits);
            numbers.extend([n - 1, n, n + 1].map(Value::from));
            numbers.push(Value::from(-(n as i64 / 10 * 9)));
        }
        numbers.extend([u64::MAX.into(), i64::MIN.into(), i64::MAX.into()]);
        numbers.extend([0.5, -1.25e-9, 1e21, 123.0, f64::MAX, f64::MIN_POSITIVE].map(Value::from));
        for number in numbers {
            let mut out = String::new();
            write_value(&mut out, &number);
            assert_eq!(out, serde_json::to_string(&number).unwrap());
        }
    }

    #[test]
    fn names_interned_read_back_whole_and_once() {
        // In one- and multi-byte characters, escaped or not (80 is AWS's longest).
        for len in 0..=80 {
            for filler in ["a", "é", "✓", "🦀", "a\"", "\u{1}b", "\\"] {
                let text: String = filler.repeat(len).chars().take(len).collect();
                let name = Name::new(&text);
                assert_eq!(name.as_str(), text);
                assert_eq!(
                    matches!(name, Name::Plain(_)),
                    !needs_escape(text.as_bytes()) && text.is_ascii(),
                    "{text:?}"
                );
                // A second machine naming a state so gets the same text, not another copy.
                match (&name, Name::new(&text)) {
                    (Name::Plain(a), Name::Plain(b)) | (Name::Interned(a), Name::Interned(b)) => {
                        assert!(std::ptr::eq(*a, b), "{text:?}")
                    }
                    _ => panic!("{text:?} was not interned"),
                }
                let details = Details::exited(&name, json!(null).into());
                let tree = json!({"name": text, "output": null});
                assert_eq!(details.to_value(), tree);
                let mut written = String::new();
                details.write_json(&mut written, &mut SharedText::new(false));
                assert_eq!(written, tree.to_string(), "{text:?}");
            }
        }
    }

    #[test]
    fn names_past_the_bound_are_shared_and_known_ones_still_found() {
        let known = Name::new("Known past the bound");
        let Name::Plain(text) = known else {
            panic!("not interned");
        };
        assert!(intern_within("Known past the bound", 0).is_some_and(|t| std::ptr::eq(t, text)));
        assert_eq!(intern_within("Never interned: no room left", 0), None);
        let shared = match intern_within("Never interned either", 0) {
            Some(text) => Name::Plain(text),
            None => Name::Shared(Arc::from("Never interned either")),
        };
        let details = Details::exited(&shared, json!(1).into());
        assert_eq!(
            details.to_value(),
            json!({"name": "Never interned either", "output": 1})
        );
    }

    #[test]
    fn writing_turns_a_compact_form_into_its_tree() {
        let name = Name::new("S");
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
