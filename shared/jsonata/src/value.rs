//! The evaluator's value model: JSON plus functions, with jsonata-js's array flags.

use std::cell::{Cell, OnceCell, RefCell};
use std::fmt::Write as _;
use std::ops::{Deref, DerefMut};
use std::rc::Rc;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::eval::Function;
use crate::Error;

/// An object's entries in insertion order, plus its cached nesting depth.
///
/// Objects that come from a bound JSON document are materialised lazily, one level at a time,
/// on first access: a large `$states` costs only what the expression actually reads.
#[derive(Debug, Default)]
pub(crate) struct Object {
    /// Entries of an object built (or already materialised) in memory.
    own: IndexMap<String, Value>,
    /// Source of a not-yet-modified object from a bound document; `cache` holds its entries.
    lazy: Option<LazyJson>,
    cache: OnceCell<IndexMap<String, Value>>,
    /// Containers handed out by [`Object::get_cloned`] before `cache` was filled: reading one
    /// field of a large object must not convert its siblings, and filling `cache` later reuses
    /// these so that a child keeps its identity (`in` and transforms compare by identity).
    picked: RefCell<Picked>,
    /// The lazy object's own path, made once for all its children.
    own_path: OnceCell<Option<Rc<PathNode>>>,
    depth: Cell<u32>,
}

/// How many fields of a lazy object [`Object::get_cloned`] reads one by one before it
/// materialises the whole level.
const MAX_PICKED: usize = 4;

/// Containers taken from a lazy object, by field position (held inline: no allocation).
type Picked = [Option<(usize, Value)>; MAX_PICKED];

/// Where a lazily materialised object lives in its shared JSON document.
#[derive(Debug, Clone)]
struct LazyJson {
    /// The document, behind an `Rc` so that each lazy value costs no atomic operation.
    root: Rc<Document>,
    /// The path from the root to the parent container, innermost segment first; siblings
    /// share it, so converting an array or an object level costs no allocation per child.
    parent: Option<Rc<PathNode>>,
    /// The step from the parent (`None` for the root).
    last: Option<PathSeg>,
}

#[derive(Debug)]
struct Document(Arc<serde_json::Value>);

#[derive(Debug)]
struct PathNode {
    parent: Option<Rc<PathNode>>,
    seg: PathSeg,
}

#[derive(Debug, Clone)]
enum PathSeg {
    Key(Rc<str>),
    /// The n-th field of a small object (found by a short scan, and no key to copy).
    Field(usize),
    Index(usize),
}

/// Objects up to this size are searched by scanning rather than hashing.
const SMALL_OBJECT: usize = 16;

impl LazyJson {
    fn node(&self) -> Option<&serde_json::Value> {
        // Typical documents are shallow: walk them without allocating.
        const INLINE: usize = 16;
        let mut inline: [Option<&PathSeg>; INLINE] = [None; INLINE];
        let mut spill = Vec::new();
        let mut len = 0;
        let mut p = self.parent.as_deref();
        while let Some(n) = p {
            match inline.get_mut(len) {
                Some(slot) => *slot = Some(&n.seg),
                None => spill.push(&n.seg),
            }
            len += 1;
            p = n.parent.as_deref();
        }
        let mut v: &serde_json::Value = &self.root.0;
        // Outermost first: the spilled segments, then the inline ones, then the last step.
        for seg in spill
            .iter()
            .rev()
            .copied()
            .chain(inline.iter().take(len.min(INLINE)).rev().flatten().copied())
            .chain(self.last.as_ref())
        {
            v = match (seg, v) {
                (PathSeg::Key(k), serde_json::Value::Object(o)) => json_field(o, k)?,
                (PathSeg::Field(i), serde_json::Value::Object(o)) => o.values().nth(*i)?,
                (PathSeg::Index(i), serde_json::Value::Array(a)) => a.get(*i)?,
                _ => return None,
            };
        }
        Some(v)
    }

    /// This node's own path, for its children to share.
    fn own_path(&self) -> Option<Rc<PathNode>> {
        let seg = self.last.clone()?;
        Some(Rc::new(PathNode {
            parent: self.parent.clone(),
            seg,
        }))
    }

    fn child(&self, own_path: &Option<Rc<PathNode>>, seg: PathSeg) -> LazyJson {
        LazyJson {
            root: self.root.clone(),
            parent: own_path.clone(),
            last: Some(seg),
        }
    }
}

/// The path segment naming field `key` at position `at` of `o`.
fn field_seg(o: &serde_json::Map<String, serde_json::Value>, at: usize, key: &str) -> PathSeg {
    if o.len() <= SMALL_OBJECT {
        PathSeg::Field(at)
    } else {
        PathSeg::Key(Rc::from(key))
    }
}

/// A field of a JSON object. Small objects are scanned: comparing a few short keys is cheaper
/// than hashing with the map's DoS-resistant hasher.
fn json_field<'a>(
    o: &'a serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Option<&'a serde_json::Value> {
    if o.len() <= SMALL_OBJECT {
        o.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v)
    } else {
        o.get(key)
    }
}

/// Converts the JSON at `at`, keeping objects lazy. `bound` is an upper bound on its nesting
/// depth (known from the document's measured depth) so depth checks need not materialise it.
fn lazy_value(v: &serde_json::Value, at: &LazyJson, bound: u32) -> Value {
    match v {
        serde_json::Value::Object(_) => Value::Obj(Rc::new(Object {
            lazy: Some(at.clone()),
            depth: Cell::new(bound.max(1)),
            ..Object::default()
        })),
        serde_json::Value::Array(items) => {
            let mut own_path = None;
            Value::Arr(Rc::new(Array {
                items: items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| match x {
                        serde_json::Value::Object(_) | serde_json::Value::Array(_) => {
                            let own = own_path.get_or_insert_with(|| at.own_path());
                            let child = at.child(own, PathSeg::Index(i));
                            lazy_value(x, &child, bound.saturating_sub(1))
                        }
                        scalar => from_json(scalar),
                    })
                    .collect(),
                depth: Cell::new(bound.max(1)),
                ..Array::default()
            }))
        }
        scalar => from_json(scalar),
    }
}

/// A value over a shared JSON document whose objects materialise on first access.
pub(crate) fn from_shared_json(root: &Arc<serde_json::Value>, depth_bound: u32) -> Value {
    let at = LazyJson {
        root: Rc::new(Document(root.clone())),
        parent: None,
        last: None,
    };
    lazy_value(root, &at, depth_bound)
}

impl Object {
    pub fn new() -> Object {
        Object::default()
    }

    fn entries(&self) -> &IndexMap<String, Value> {
        match &self.lazy {
            None => &self.own,
            Some(lazy) => self.cache.get_or_init(|| {
                let picked = std::mem::take(&mut *self.picked.borrow_mut());
                let own = self.own_path.get_or_init(|| lazy.own_path());
                materialise(lazy, own, self.depth.get().saturating_sub(1), picked)
            }),
        }
    }

    /// Still a view of a JSON document (so it holds no functions).
    pub fn is_json(&self) -> bool {
        self.lazy.is_some()
    }

    /// `self.get(key).cloned()`, without converting the other fields of a lazy object.
    pub fn get_cloned(&self, key: &str) -> Option<Value> {
        let Some(lazy) = &self.lazy else {
            return self.own.get(key).cloned();
        };
        if let Some(map) = self.cache.get() {
            return map.get(key).cloned();
        }
        let Some(serde_json::Value::Object(o)) = lazy.node() else {
            return None;
        };
        if o.len() > SMALL_OBJECT {
            // Large objects are looked up by hash, once the level is converted.
            return self.entries().get(key).cloned();
        }
        let (at, field) = o
            .values()
            .enumerate()
            .zip(o.keys())
            .find(|(_, k)| k.as_str() == key)
            .map(|(found, _)| found)?;
        if !matches!(
            field,
            serde_json::Value::Object(_) | serde_json::Value::Array(_)
        ) {
            return Some(from_json(field));
        }
        {
            let picked = self.picked.borrow();
            if let Some((_, v)) = picked.iter().flatten().find(|(i, _)| *i == at) {
                return Some(v.clone());
            }
            if picked.iter().all(Option::is_some) {
                drop(picked);
                return self.entries().get(key).cloned();
            }
        }
        let bound = self.depth.get().saturating_sub(1);
        let own = self.own_path.get_or_init(|| lazy.own_path());
        let child = lazy.child(own, field_seg(o, at, key));
        let v = lazy_value(field, &child, bound);
        if let Some(slot) = self.picked.borrow_mut().iter_mut().find(|p| p.is_none()) {
            *slot = Some((at, v.clone()));
        }
        Some(v)
    }
}

/// One level of a lazy object: scalars converted, nested objects left lazy (or taken from
/// `picked`, the containers already handed out).
fn materialise(
    lazy: &LazyJson,
    own_path: &Option<Rc<PathNode>>,
    bound: u32,
    picked: Picked,
) -> IndexMap<String, Value> {
    match lazy.node() {
        Some(serde_json::Value::Object(o)) => {
            let map: IndexMap<String, Value> = o
                .iter()
                .enumerate()
                .map(|(at, (k, v))| {
                    if let Some((_, p)) = picked.iter().flatten().find(|(i, _)| *i == at) {
                        return (k.clone(), p.clone());
                    }
                    let v = match v {
                        serde_json::Value::Object(_) | serde_json::Value::Array(_) => {
                            let child = lazy.child(own_path, field_seg(o, at, k));
                            lazy_value(v, &child, bound)
                        }
                        scalar => from_json(scalar),
                    };
                    (k.clone(), v)
                })
                .collect();
            // As JavaScript's JSON.parse would hold it.
            if map.keys().any(|k| array_index(k).is_some()) {
                js_order(map)
            } else {
                map
            }
        }
        _ => IndexMap::new(),
    }
}

impl Clone for Object {
    fn clone(&self) -> Object {
        Object {
            own: self.own.clone(),
            lazy: self.lazy.clone(),
            cache: self.cache.clone(),
            picked: self.picked.clone(),
            own_path: self.own_path.clone(),
            depth: Cell::new(self.depth.get()),
        }
    }
}

impl Deref for Object {
    type Target = IndexMap<String, Value>;
    fn deref(&self) -> &Self::Target {
        self.entries()
    }
}

impl DerefMut for Object {
    fn deref_mut(&mut self) -> &mut Self::Target {
        if let Some(lazy) = self.lazy.take() {
            let bound = self.depth.get().saturating_sub(1);
            let picked = std::mem::take(self.picked.get_mut());
            let own = std::mem::take(&mut self.own_path)
                .into_inner()
                .unwrap_or_else(|| lazy.own_path());
            self.own = std::mem::take(&mut self.cache)
                .into_inner()
                .unwrap_or_else(|| materialise(&lazy, &own, bound, picked));
        }
        // Any change may alter the nesting depth.
        self.depth.set(0);
        &mut self.own
    }
}

impl FromIterator<(String, Value)> for Object {
    fn from_iter<T: IntoIterator<Item = (String, Value)>>(iter: T) -> Self {
        Object {
            own: iter.into_iter().collect(),
            ..Object::default()
        }
    }
}

impl IntoIterator for Object {
    type Item = (String, Value);
    type IntoIter = indexmap::map::IntoIter<String, Value>;
    fn into_iter(mut self) -> Self::IntoIter {
        std::mem::take(&mut *self).into_iter()
    }
}

/// Deepest nesting a value may reach. Deeper values are refused where they are built, so that
/// every recursive walk over values (comparison, cloning, output, drop) stays shallow.
pub(crate) const MAX_VALUE_DEPTH: u32 = 10_000;

/// jsonata-js tags arrays with hidden flags that drive singleton flattening; they are kept here
/// as fields so the same rules apply.
#[derive(Clone, Debug, Default)]
pub(crate) struct Array {
    pub items: Vec<Value>,
    /// A result sequence (collapses to its single item, or to undefined when empty).
    pub sequence: bool,
    /// `[]` on a step asked to keep singleton sequences as arrays.
    pub keep_singleton: bool,
    /// Built by an array constructor: never flattened into a surrounding sequence.
    pub cons: bool,
    /// The top-level input array, wrapped so that it is treated as a single value.
    pub outer_wrapper: bool,
    /// A stream of tuples (objects holding `@` and the bound variables).
    pub tuple_stream: bool,
    /// Cached nesting depth (0: not computed yet); reset whenever `items` change.
    pub depth: Cell<u32>,
}

#[derive(Clone, Debug)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Num(f64),
    Str(Rc<str>),
    Arr(Rc<Array>),
    Obj(Rc<Object>),
    Func(Rc<Function>),
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(Rc::from(s))
    }
    pub fn string(s: String) -> Value {
        Value::Str(Rc::from(s))
    }
    pub fn array(items: Vec<Value>) -> Value {
        Value::Arr(Rc::new(Array {
            items,
            ..Array::default()
        }))
    }
    pub fn sequence(items: Vec<Value>) -> Value {
        Value::Arr(Rc::new(Array {
            items,
            sequence: true,
            ..Array::default()
        }))
    }
    pub fn object(mut map: Object) -> Value {
        if map.keys().any(|k| array_index(k).is_some()) {
            let entries = std::mem::take(&mut *map);
            *map = js_order(entries);
        }
        Value::Obj(Rc::new(map))
    }
    /// Nesting depth (a scalar is 0), cached per container.
    pub fn depth(&self) -> u32 {
        match self {
            Value::Arr(a) => {
                if a.depth.get() == 0 {
                    let d = 1 + a.items.iter().map(Value::depth).max().unwrap_or(0);
                    a.depth.set(d);
                }
                a.depth.get()
            }
            Value::Obj(o) => {
                if o.depth.get() == 0 {
                    let d = 1 + o.values().map(Value::depth).max().unwrap_or(0);
                    o.depth.set(d);
                }
                o.depth.get()
            }
            _ => 0,
        }
    }
    /// A number that can take part in arithmetic (jsonata's `isNumeric`).
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Num(n) if !n.is_nan() => Some(*n),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    /// The single-letter type symbol used by function signatures.
    pub fn sig_symbol(v: Option<&Value>) -> char {
        match v {
            None => 'm',
            Some(Value::Null) => 'l',
            Some(Value::Bool(_)) => 'b',
            Some(Value::Num(_)) => 'n',
            Some(Value::Str(_)) => 's',
            Some(Value::Arr(_)) => 'a',
            Some(Value::Obj(_)) => 'o',
            Some(Value::Func(_)) => 'f',
        }
    }
    /// Items of an array, or the value itself as a one-item slice.
    pub fn members(&self) -> Vec<Value> {
        match self {
            Value::Arr(a) => a.items.clone(),
            other => vec![other.clone()],
        }
    }
}

/// Wraps an optional value as a sequence item list (jsonata's `createSequence(x)`).
pub(crate) fn seq_items(v: Option<Value>) -> Vec<Value> {
    match v {
        None => vec![],
        Some(v) => vec![v],
    }
}

/// The nesting depth of a JSON value, measured without recursion.
pub(crate) fn json_depth(v: &serde_json::Value) -> usize {
    let mut max = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        max = max.max(d);
        match v {
            serde_json::Value::Array(a) => stack.extend(a.iter().map(|x| (x, d + 1))),
            serde_json::Value::Object(o) => stack.extend(o.values().map(|x| (x, d + 1))),
            _ => {}
        }
    }
    max
}

pub(crate) fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Num(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Value::str(s),
        serde_json::Value::Array(a) => Value::array(a.iter().map(from_json).collect()),
        serde_json::Value::Object(o) => {
            Value::object(o.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        }
    }
}

/// Results go back to the caller as `serde_json::Value`, whose drop and serialisation recurse:
/// keep them shallow enough for any thread.
const MAX_OUTPUT_DEPTH: usize = 1_000;

/// Converts a result to JSON. Functions become `""` inside structures (as `JSON.stringify` with
/// jsonata's replacer does) and undefined at the top level.
pub(crate) fn to_json(v: &Value) -> Result<Option<serde_json::Value>, Error> {
    match v {
        Value::Func(_) => Ok(None),
        other => to_json_inner(other, 0).map(Some),
    }
}

fn to_json_inner(v: &Value, depth: usize) -> Result<serde_json::Value, Error> {
    if depth > MAX_OUTPUT_DEPTH {
        return Err(Error::new(
            "U1001",
            "Stack overflow error: result nested too deeply",
        ));
    }
    Ok(match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Num(n) => number_to_json(*n)?,
        Value::Str(s) => serde_json::Value::String(s.to_string()),
        Value::Arr(a) => serde_json::Value::Array(
            a.items
                .iter()
                .map(|x| to_json_inner(x, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Obj(o) => {
            let mut m = serde_json::Map::with_capacity(o.len());
            if o.keys().any(|k| array_index(k).is_some()) {
                for (k, x) in js_ordered(o) {
                    m.insert(k.clone(), to_json_inner(x, depth + 1)?);
                }
            } else {
                for (k, x) in o.iter() {
                    m.insert(k.clone(), to_json_inner(x, depth + 1)?);
                }
            }
            serde_json::Value::Object(m)
        }
        Value::Func(_) => serde_json::Value::String(String::new()),
    })
}

pub(crate) fn number_to_json(n: f64) -> Result<serde_json::Value, Error> {
    if !n.is_finite() {
        return Err(Error::new(
            "D1001",
            format!("Number out of range: {}", format_number_js(n)),
        ));
    }
    // Integral values print as integers, as JSON.stringify does.
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        return Ok(serde_json::Value::from(n as i64));
    }
    Ok(serde_json::Number::from_f64(n)
        .map(serde_json::Value::Number)
        .unwrap_or(serde_json::Value::Null))
}

/// `Number.prototype.toString()` for finite and non-finite numbers.
pub(crate) fn format_number_js(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if n == 0.0 {
        return "0".into();
    }
    // Shortest round-trip digits, then JS's layout rules.
    let sci = format!("{:e}", n.abs());
    let (mant, exp) = match sci.split_once('e') {
        Some(p) => p,
        None => return sci,
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let k = digits.len() as i32;
    let nexp = exp + 1; // position of the decimal point relative to the digits
    let mut out = String::new();
    if n < 0.0 {
        out.push('-');
    }
    if k <= nexp && nexp <= 21 {
        out.push_str(&digits);
        for _ in 0..(nexp - k) {
            out.push('0');
        }
    } else if 0 < nexp && nexp <= 21 {
        out.push_str(&digits[..nexp as usize]);
        out.push('.');
        out.push_str(&digits[nexp as usize..]);
    } else if -6 < nexp && nexp <= 0 {
        out.push_str("0.");
        for _ in 0..(-nexp) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        let e = nexp - 1;
        if e >= 0 {
            out.push('+');
        }
        let _ = write!(out, "{e}");
    }
    out
}

/// `Number(n.toPrecision(15))`: jsonata's way of hiding floating point noise in `$string`.
pub(crate) fn round15(n: f64) -> f64 {
    if !n.is_finite() || n == 0.0 {
        return n;
    }
    format!("{:.14e}", n).parse::<f64>().unwrap_or(n)
}

/// The array index a property name denotes in JavaScript (such names iterate first).
fn array_index(k: &str) -> Option<u32> {
    if k == "0" || (!k.is_empty() && !k.starts_with('0') && k.bytes().all(|b| b.is_ascii_digit())) {
        k.parse::<u32>().ok().filter(|n| *n != u32::MAX)
    } else {
        None
    }
}

/// Reorders entries the way a JavaScript object holds them: index-like keys first, ascending.
fn js_order(map: IndexMap<String, Value>) -> IndexMap<String, Value> {
    let (mut indexed, rest): (Vec<_>, Vec<_>) =
        map.into_iter().partition(|(k, _)| array_index(k).is_some());
    indexed.sort_by_key(|(k, _)| array_index(k));
    indexed.into_iter().chain(rest).collect()
}

/// A JavaScript object's property order: array-index-like keys first, ascending, then the rest
/// in insertion order. Output follows it so results match the reference implementation.
pub(crate) fn js_ordered(o: &Object) -> Vec<(&String, &Value)> {
    let index = array_index;
    if !o.keys().any(|k| index(k).is_some()) {
        return o.iter().collect();
    }
    let mut indexed: Vec<(u32, (&String, &Value))> = o
        .iter()
        .filter_map(|(k, v)| index(k).map(|n| (n, (k, v))))
        .collect();
    indexed.sort_by_key(|(n, _)| *n);
    let mut out: Vec<(&String, &Value)> = indexed.into_iter().map(|(_, kv)| kv).collect();
    out.extend(o.iter().filter(|(k, _)| index(k).is_none()));
    out
}

/// `JSON.stringify` with jsonata's replacer (numbers to 15 significant digits, functions as "").
pub(crate) fn stringify(v: &Value, pretty: bool) -> Result<String, Error> {
    let mut out = String::new();
    write_json(&mut out, v, pretty, 0)?;
    Ok(out)
}

fn write_json(out: &mut String, v: &Value, pretty: bool, depth: usize) -> Result<(), Error> {
    if depth > MAX_OUTPUT_DEPTH {
        return Err(Error::new(
            "U1001",
            "Stack overflow error: value nested too deeply",
        ));
    }
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Num(n) => {
            if !n.is_finite() {
                return Err(Error::new(
                    "D1001",
                    format!("Number out of range: {}", format_number_js(*n)),
                ));
            }
            // Integers print exactly; other numbers to 15 significant digits.
            let n = if n.fract() == 0.0 { *n } else { round15(*n) };
            out.push_str(&format_number_js(n))
        }
        Value::Str(s) => write_json_string(out, s),
        Value::Func(_) => out.push_str("\"\""),
        Value::Arr(a) => {
            if a.items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, x) in a.items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, pretty, depth + 1);
                write_json(out, x, pretty, depth + 1)?;
            }
            newline(out, pretty, depth);
            out.push(']');
        }
        Value::Obj(o) => {
            if o.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (i, (k, x)) in js_ordered(o).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, pretty, depth + 1);
                write_json_string(out, k);
                out.push(':');
                if pretty {
                    out.push(' ');
                }
                write_json(out, x, pretty, depth + 1)?;
            }
            newline(out, pretty, depth);
            out.push('}');
        }
    }
    Ok(())
}

fn newline(out: &mut String, pretty: bool, depth: usize) {
    if pretty {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    }
}

fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// jsonata's `isDeepEqual`.
pub(crate) fn deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Num(x), Value::Num(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Arr(x), Value::Arr(y)) => {
            x.items.len() == y.items.len()
                && x.items
                    .iter()
                    .zip(y.items.iter())
                    .all(|(p, q)| deep_equal(p, q))
        }
        (Value::Obj(x), Value::Obj(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| deep_equal(v, w)))
        }
        (Value::Func(x), Value::Func(y)) => Rc::ptr_eq(x, y),
        _ => false,
    }
}

/// Strict (`===`) equality: objects and arrays compare by identity.
pub(crate) fn strict_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Arr(x), Value::Arr(y)) => Rc::ptr_eq(x, y),
        (Value::Obj(x), Value::Obj(y)) => Rc::ptr_eq(x, y),
        _ => deep_equal(a, b),
    }
}

/// The number of UTF-16 code units, as JavaScript's `length` counts them.
pub(crate) fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_number_formatting() {
        assert_eq!(format_number_js(1e21), "1e+21");
        assert_eq!(format_number_js(1e20), "100000000000000000000");
        assert_eq!(format_number_js(1.5e-7), "1.5e-7");
        assert_eq!(format_number_js(0.000001), "0.000001");
        assert_eq!(format_number_js(-12.5), "-12.5");
        assert_eq!(format_number_js(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_number_js(round15(0.1 + 0.2)), "0.3");
        assert_eq!(
            format_number_js(9.33262154439441e155),
            "9.33262154439441e+155"
        );
    }
}
