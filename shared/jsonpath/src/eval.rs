//! Applying a path to a document, with Jayway's results and messages.
//!
//! A definite path (single names and indexes) is walked directly and fails with Jayway's
//! texts. Everything else runs through [`run`], which follows Jayway's path tokens: a
//! token whose upstream is definite fails on a missing property or a wrong type, any
//! later one skips silently; a deep scan visits containers in document order and hands
//! each one that suits the next token to it, with Jayway's quirks kept (after `..`, an
//! index that is not the last token is not applied: `$..[0].b` reads `.b` of every
//! array element).

use crate::{Path, PathError, Root, Segment, Selector};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// How deep a filter may nest sub-paths while evaluating (the parser bounds it too).
const MAX_EVAL_DEPTH: usize = 128;

pub(crate) fn canonical(root: &Root, segments: &[Segment]) -> String {
    let mut s = match root {
        Root::Input => "$".to_owned(),
        Root::Context => "$$".to_owned(),
        Root::Variable(name) => format!("${name}"),
    };
    for seg in segments {
        push_segment(&mut s, seg);
    }
    s
}

fn push_segment(s: &mut String, seg: &Segment) {
    let sel = match seg {
        Segment::Child(sel) => sel,
        Segment::Descendant(sel) => {
            s.push_str("..");
            sel
        }
    };
    match sel {
        Selector::Names(names) => {
            s.push('[');
            for (i, n) in names.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push('\'');
                s.push_str(n);
                s.push('\'');
            }
            s.push(']');
        }
        Selector::Indexes(idx) => {
            s.push('[');
            for (i, n) in idx.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push_str(&n.to_string());
            }
            s.push(']');
        }
        Selector::Wildcard => s.push_str("[*]"),
        Selector::Slice { start, end } => {
            s.push('[');
            if let Some(n) = start {
                s.push_str(&n.to_string());
            }
            s.push(':');
            if let Some(n) = end {
                s.push_str(&n.to_string());
            }
            s.push(']');
        }
        Selector::Filter(_) => s.push_str("[?]"),
    }
}

/// The name Jayway's Jackson provider reports for a node that is not an object.
fn java_class(v: &Value) -> &'static str {
    match v {
        Value::Null => "com.fasterxml.jackson.databind.node.NullNode",
        Value::Bool(_) => "com.fasterxml.jackson.databind.node.BooleanNode",
        Value::Number(n) if n.is_f64() => "com.fasterxml.jackson.databind.node.DoubleNode",
        Value::Number(_) => "com.fasterxml.jackson.databind.node.IntNode",
        Value::String(_) => "com.fasterxml.jackson.databind.node.TextNode",
        Value::Array(_) => "com.fasterxml.jackson.databind.node.ArrayNode",
        Value::Object(_) => "com.fasterxml.jackson.databind.node.ObjectNode",
    }
}

pub(crate) fn select(path: &Path, root_value: &Value) -> Result<Value, PathError> {
    let segments = path.segments();
    // Jayway treats a trailing multi-name selector (`$.a['x','y']`) as definite:
    // it merges the named properties into one object.
    let (prefix, merge) = match segments.split_last() {
        Some((Segment::Child(Selector::Names(names)), prefix)) if names.len() > 1 => {
            (prefix, Some(names))
        }
        _ => (segments, None),
    };
    let prefix_definite = prefix
        .iter()
        .all(|s| matches!(s, Segment::Child(sel) if sel.is_definite()));
    if !prefix_definite {
        let mut out = Vec::new();
        // Jayway fails an indefinite path whose definite prefix misses (`$.items[*]` on
        // `{}`); Step Functions answers those with an empty array. Failures only happen
        // before the first indefinite token, so nothing was collected yet.
        if run(segments, root_value, &Env::new(root_value), &mut out).is_err() {
            out.clear();
        }
        return Ok(Value::Array(out.into_iter().map(Cow::into_owned).collect()));
    }
    let node = select_definite(path, prefix, merge.is_none(), root_value)?;
    match merge {
        None => Ok(node.clone()),
        Some(names) => match node {
            Value::Object(map) => Ok(Value::Object(merge_names(map, names))),
            other => Err(PathError::not_found(format!(
                "Expected to find an object with property {} in path {} but found '{}'. This is not a json object according to the JsonProvider: 'com.jayway.jsonpath.spi.json.JacksonJsonNodeJsonProvider'.",
                names_fragment(names),
                canonical(path.root(), prefix),
                java_class(other)
            ))),
        },
    }
}

fn names_fragment(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    format!("[{}]", quoted.join(","))
}

fn merge_names(map: &Map<String, Value>, names: &[String]) -> Map<String, Value> {
    names
        .iter()
        .filter_map(|n| map.get(n).map(|v| (n.clone(), v.clone())))
        .collect()
}

/// Walks a definite path, failing with Jayway's text at the first step that misses.
/// `full` says whether `segments` is the whole path (so its last step is the leaf).
fn select_definite<'a>(
    path: &Path,
    segments: &[Segment],
    full: bool,
    root_value: &'a Value,
) -> Result<&'a Value, PathError> {
    let mut current = root_value;
    let last = segments.len().saturating_sub(1);
    // The path walked so far is spelled out only for an error: building it at every step
    // was an allocation per selection.
    let so_far =
        |through: usize| canonical(path.root(), segments.get(..through).unwrap_or(segments));
    for (i, seg) in segments.iter().enumerate() {
        let is_leaf = full && i == last;
        let next = match seg {
            Segment::Child(Selector::Names(names)) => {
                let name = names.first().map(String::as_str).unwrap_or_default();
                match current {
                    Value::Object(map) => match member(map, name) {
                        Some(v) => v,
                        None if is_leaf => {
                            return Err(PathError::not_found(format!(
                                "No results for path: {}",
                                path.canonical()
                            )))
                        }
                        None => {
                            return Err(PathError::not_found(format!(
                                "Missing property in path {}",
                                so_far(i + 1)
                            )))
                        }
                    },
                    other => {
                        return Err(PathError::not_found(format!(
                            "Expected to find an object with property ['{name}'] in path {} but found '{}'. This is not a json object according to the JsonProvider: 'com.jayway.jsonpath.spi.json.JacksonJsonNodeJsonProvider'.",
                            so_far(i),
                            java_class(other)
                        )))
                    }
                }
            }
            Segment::Child(Selector::Indexes(idx)) => {
                let n = idx.first().copied().unwrap_or_default();
                match current {
                    Value::Array(items) => match index(items.len(), n).and_then(|i| items.get(i)) {
                        Some(v) => v,
                        None => {
                            return Err(PathError::not_found(format!(
                                "No results for path: {}",
                                path.canonical()
                            )))
                        }
                    },
                    other => {
                        return Err(PathError::not_found(format!(
                        "Filter: [{n}] can only be applied to arrays. Current context is: {other}"
                    )))
                    }
                }
            }
            // Callers only pass definite segments here.
            _ => {
                return Err(PathError::syntax(format!(
                    "'{}' is not a definite path",
                    path.as_str()
                )))
            }
        };
        current = next;
    }
    Ok(current)
}

/// Resolves a possibly negative index against a length.
pub(crate) fn index(len: usize, n: i64) -> Option<usize> {
    if n < 0 {
        let back = usize::try_from(n.unsigned_abs()).ok()?;
        len.checked_sub(back)
    } else {
        usize::try_from(n).ok().filter(|i| *i < len)
    }
}

/// What a path evaluation sees besides the node it starts from.
pub(crate) struct Env<'a> {
    /// The document `$` refers to inside filters.
    pub(crate) root: &'a Value,
    /// Jayway's `REQUIRE_PROPERTIES`, which it sets for existence tests (and keeps for
    /// filters evaluated inside them): every missing property fails the path.
    pub(crate) strict: bool,
    depth: usize,
}

impl<'a> Env<'a> {
    pub(crate) fn new(root: &'a Value) -> Env<'a> {
        Env {
            root,
            strict: false,
            depth: 0,
        }
    }

    /// The environment of a path or predicate evaluated inside this one.
    pub(crate) fn nested(&self, strict: bool) -> Env<'a> {
        Env {
            root: self.root,
            strict,
            depth: self.depth + 1,
        }
    }
}

/// Why Jayway stopped evaluating a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Miss {
    /// `PathNotFoundException`: in a filter the operand is UNDEFINED.
    NotFound,
    /// `InvalidPathException` (a filter applied to a primitive): the predicate fails.
    Abort,
}

/// Whether Jayway counts a token as definite (selecting at most one node). A trailing
/// multi-name selector merges its names into one object, so it counts.
pub(crate) fn token_definite(segment: &Segment, leaf: bool) -> bool {
    match segment {
        Segment::Child(Selector::Names(names)) => names.len() == 1 || leaf,
        Segment::Child(Selector::Indexes(indexes)) => indexes.len() == 1,
        _ => false,
    }
}

/// `map.get(name)`. Payloads are mostly small objects, and comparing a few keys is quicker
/// than hashing the name (the map's SipHash), which was most of a path step's time; keys
/// are unique, so the first equal key is the one `get` finds.
#[inline]
pub(crate) fn member<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if map.len() <= 8 {
        map.iter()
            .find_map(|(key, value)| (key == name).then_some(value))
    } else {
        map.get(name)
    }
}

/// Walks single names and indexes; `None` as soon as one misses.
pub(crate) fn walk_direct<'a>(segments: &[Segment], start: &'a Value) -> Option<&'a Value> {
    let mut current = start;
    for segment in segments {
        current = match segment {
            Segment::Child(Selector::Names(names)) => member(current.as_object()?, names.first()?)?,
            Segment::Child(Selector::Indexes(indexes)) => {
                let items = current.as_array()?;
                items.get(index(items.len(), *indexes.first()?)?)?
            }
            _ => return None,
        };
    }
    Some(current)
}

/// A pending step of [`run`]: a node still to pass the segments from `.1` on, or a result.
enum Item<'a> {
    Visit(&'a Value, usize),
    Done(Cow<'a, Value>),
}

/// Evaluates `segments` from `start` as Jayway does, appending the matches in Jayway's
/// order (depth first, document order).
pub(crate) fn run<'a>(
    segments: &'a [Segment],
    start: &'a Value,
    env: &Env<'a>,
    out: &mut Vec<Cow<'a, Value>>,
) -> Result<(), Miss> {
    if env.depth > MAX_EVAL_DEPTH {
        return Ok(());
    }
    let last = segments.len().saturating_sub(1);
    // A token's upstream is definite when every token before it is.
    let definite_prefix = segments
        .iter()
        .enumerate()
        .position(|(i, s)| !token_definite(s, i == last))
        .unwrap_or(segments.len());
    let mut stack = vec![Item::Visit(start, 0)];
    let mut emitted = Vec::new();
    while let Some(item) = stack.pop() {
        match item {
            Item::Done(value) => out.push(value),
            Item::Visit(node, i) => {
                let Some(segment) = segments.get(i) else {
                    out.push(Cow::Borrowed(node));
                    continue;
                };
                let leaf = i == last;
                match segment {
                    Segment::Child(selector) => child(
                        selector,
                        i + 1,
                        leaf,
                        node,
                        i <= definite_prefix,
                        env,
                        &mut emitted,
                    )?,
                    Segment::Descendant(selector) => {
                        scan(selector, i + 1, leaf, node, env, &mut emitted)?
                    }
                }
                stack.extend(emitted.drain(..).rev());
            }
        }
    }
    Ok(())
}

fn wrong_type(upstream_definite: bool) -> Result<(), Miss> {
    if upstream_definite {
        Err(Miss::NotFound)
    } else {
        Ok(())
    }
}

/// One token applied to one node; what it selects goes on to segment `next`.
fn child<'a>(
    selector: &'a Selector,
    next: usize,
    leaf: bool,
    node: &'a Value,
    upstream_definite: bool,
    env: &Env<'a>,
    emit: &mut Vec<Item<'a>>,
) -> Result<(), Miss> {
    match selector {
        Selector::Names(names) => {
            let Value::Object(map) = node else {
                return wrong_type(upstream_definite);
            };
            if let [name] = names.as_slice() {
                match member(map, name) {
                    Some(v) => emit.push(Item::Visit(v, next)),
                    // A missing leaf only fails under REQUIRE_PROPERTIES; a missing step
                    // also fails while the path so far is definite.
                    None if env.strict || (!leaf && upstream_definite) => {
                        return Err(Miss::NotFound)
                    }
                    None => {}
                }
            } else if leaf {
                let mut merged = Map::new();
                for name in names {
                    match map.get(name) {
                        Some(v) => {
                            merged.insert(name.clone(), v.clone());
                        }
                        None if env.strict => return Err(Miss::NotFound),
                        None => {}
                    }
                }
                emit.push(Item::Done(Cow::Owned(Value::Object(merged))));
            } else {
                for name in names {
                    match map.get(name) {
                        Some(v) => emit.push(Item::Visit(v, next)),
                        None if env.strict => return Err(Miss::NotFound),
                        None => {}
                    }
                }
            }
        }
        Selector::Indexes(indexes) => {
            let Value::Array(items) = node else {
                return wrong_type(upstream_definite);
            };
            emit.extend(
                indexes
                    .iter()
                    .filter_map(|n| index(items.len(), *n).and_then(|i| items.get(i)))
                    .map(|v| Item::Visit(v, next)),
            );
        }
        Selector::Slice { start, end } => {
            let Value::Array(items) = node else {
                return wrong_type(upstream_definite);
            };
            emit.extend(
                slice_positions(items.len(), *start, *end)
                    .filter_map(|i| items.get(i))
                    .map(|v| Item::Visit(v, next)),
            );
        }
        Selector::Wildcard => match node {
            Value::Object(map) => emit.extend(map.values().map(|v| Item::Visit(v, next))),
            Value::Array(items) => emit.extend(items.iter().map(|v| Item::Visit(v, next))),
            _ => {}
        },
        Selector::Filter(expr) => {
            let inner = env.nested(env.strict);
            match node {
                // Jayway applies a filter on an object to the object itself.
                Value::Object(_) if expr.test(node, &inner) => emit.push(Item::Visit(node, next)),
                Value::Object(_) => {}
                Value::Array(items) => emit.extend(
                    items
                        .iter()
                        .filter(|item| expr.test(item, &inner))
                        .map(|v| Item::Visit(v, next)),
                ),
                _ if upstream_definite => return Err(Miss::Abort),
                _ => {}
            }
        }
    }
    Ok(())
}

/// Jayway's deep scan: every object and array under `node`, itself included, in
/// document order; each one the next token applies to is handed to it.
fn scan<'a>(
    selector: &'a Selector,
    next: usize,
    leaf: bool,
    node: &'a Value,
    env: &Env<'a>,
    emit: &mut Vec<Item<'a>>,
) -> Result<(), Miss> {
    let is_container = |v: &&Value| v.is_object() || v.is_array();
    let mut pending = vec![node];
    while let Some(n) = pending.pop() {
        match n {
            Value::Object(map) => {
                let applies = match selector {
                    Selector::Names(names) => match names.as_slice() {
                        [name] => map.contains_key(name),
                        _ if leaf => names.iter().all(|name| map.contains_key(name)),
                        _ => true,
                    },
                    Selector::Indexes(_) | Selector::Slice { .. } => false,
                    Selector::Wildcard => true,
                    Selector::Filter(expr) => expr.test(n, &env.nested(env.strict)),
                };
                if applies {
                    if let Selector::Filter(_) = selector {
                        emit.push(Item::Visit(n, next));
                    } else {
                        child(selector, next, leaf, n, false, env, emit)?;
                    }
                }
                pending.extend(map.values().rev().filter(is_container));
            }
            Value::Array(items) => {
                let applies = match selector {
                    Selector::Names(_) => false,
                    Selector::Indexes(_) | Selector::Slice { .. } | Selector::Wildcard => true,
                    Selector::Filter(expr) => expr.test(n, &env.nested(env.strict)),
                };
                if applies {
                    if leaf {
                        child(selector, next, leaf, n, false, env, emit)?;
                    } else {
                        // Jayway hands the array's elements straight to the token after
                        // this one, without applying this one.
                        emit.extend(items.iter().map(|v| Item::Visit(v, next)));
                    }
                }
                pending.extend(items.iter().rev().filter(is_container));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The positions Jayway's `[start:end]` reads. `[start:]` counts a negative start from
/// the end; `[:end]` likewise for the end; `[start:end]` clamps the end to the length
/// but resolves neither bound, so a negative start walks up from below zero, each
/// negative position reading from the end (`[-2:3]` reads 3, 4, 0, 1, 2 of five).
fn slice_positions(
    len: usize,
    start: Option<i64>,
    end: Option<i64>,
) -> impl Iterator<Item = usize> {
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let (from, to) = match (start, end) {
        (Some(from), None) => {
            let from = if from < 0 { len_i + from } else { from };
            (from.max(0), len_i)
        }
        (Some(from), Some(to)) => (from.max(-len_i), to.min(len_i)),
        (None, Some(to)) => {
            let to = if to < 0 { len_i + to } else { to };
            (0, to.min(len_i))
        }
        (None, None) => (0, 0),
    };
    (from..to.max(from)).filter_map(move |i| index(len, i))
}
