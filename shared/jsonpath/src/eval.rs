//! Applying a path to a document, with Jayway's results and messages.

use crate::{Path, PathError, Root, Segment, Selector};
use serde_json::{Map, Value};

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
        Selector::Slice { start, end, step } => {
            s.push('[');
            if let Some(n) = start {
                s.push_str(&n.to_string());
            }
            s.push(':');
            if let Some(n) = end {
                s.push_str(&n.to_string());
            }
            if let Some(n) = step {
                s.push(':');
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
        collect(root_value, root_value, segments, &mut out, 0);
        return Ok(Value::Array(out));
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
    let mut so_far = canonical(path.root(), &[]);
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        let here_len = so_far.len();
        push_segment(&mut so_far, seg);
        let is_leaf = full && i == last;
        let next = match seg {
            Segment::Child(Selector::Names(names)) => {
                let name = names.first().map(String::as_str).unwrap_or_default();
                match current {
                    Value::Object(map) => match map.get(name) {
                        Some(v) => v,
                        None if is_leaf => {
                            return Err(PathError::not_found(format!(
                                "No results for path: {}",
                                path.canonical()
                            )))
                        }
                        None => {
                            return Err(PathError::not_found(format!(
                                "Missing property in path {so_far}"
                            )))
                        }
                    },
                    other => {
                        return Err(PathError::not_found(format!(
                            "Expected to find an object with property ['{name}'] in path {} but found '{}'. This is not a json object according to the JsonProvider: 'com.jayway.jsonpath.spi.json.JacksonJsonNodeJsonProvider'.",
                            so_far.get(..here_len).unwrap_or_default(),
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

/// Python-style slice bounds, which is what Jayway's `[a:b]` amounts to.
fn slice_indices(
    len: usize,
    start: Option<i64>,
    end: Option<i64>,
    step: Option<i64>,
) -> Vec<usize> {
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let step = step.unwrap_or(1);
    let norm = |v: i64, lo: i64, hi: i64| -> i64 {
        let v = if v < 0 { v.saturating_add(len_i) } else { v };
        v.clamp(lo, hi)
    };
    let mut out = Vec::new();
    if step > 0 {
        let s = start.map_or(0, |v| norm(v, 0, len_i));
        let e = end.map_or(len_i, |v| norm(v, 0, len_i));
        let mut i = s;
        while i < e {
            if let Ok(u) = usize::try_from(i) {
                out.push(u);
            }
            i = i.saturating_add(step);
        }
    } else {
        let s = start.map_or(len_i - 1, |v| norm(v, -1, len_i - 1));
        let e = end.map_or(-1, |v| norm(v, -1, len_i - 1));
        let mut i = s;
        while i > e {
            if let Ok(u) = usize::try_from(i) {
                out.push(u);
            }
            i = i.saturating_add(step);
        }
    }
    out
}

/// Collects every match of `segments` under `start` (indefinite semantics: nothing
/// that is missing or of the wrong type is an error).
pub(crate) fn collect(
    start: &Value,
    root: &Value,
    segments: &[Segment],
    out: &mut Vec<Value>,
    depth: usize,
) {
    if depth > MAX_EVAL_DEPTH {
        return;
    }
    let mut nodes: Vec<&Value> = vec![start];
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        if i == last {
            if let Segment::Child(Selector::Names(names)) = seg {
                if names.len() > 1 {
                    for node in nodes {
                        if let Value::Object(map) = node {
                            out.push(Value::Object(merge_names(map, names)));
                        }
                    }
                    return;
                }
            }
        }
        let mut next = Vec::new();
        match seg {
            Segment::Child(sel) => {
                for node in nodes {
                    apply(sel, node, root, &mut next, depth, false);
                }
            }
            Segment::Descendant(sel) => {
                for node in nodes {
                    // Pre-order walk with an explicit stack: documents can be deep.
                    let mut stack = vec![node];
                    while let Some(n) = stack.pop() {
                        apply(sel, n, root, &mut next, depth, true);
                        match n {
                            Value::Object(map) => stack.extend(map.values().rev()),
                            Value::Array(items) => stack.extend(items.iter().rev()),
                            _ => {}
                        }
                    }
                }
            }
        }
        nodes = next;
    }
    out.extend(nodes.into_iter().cloned());
}

fn apply<'a>(
    sel: &Selector,
    node: &'a Value,
    root: &Value,
    next: &mut Vec<&'a Value>,
    depth: usize,
    in_scan: bool,
) {
    match sel {
        Selector::Names(names) => {
            if let Value::Object(map) = node {
                next.extend(names.iter().filter_map(|n| map.get(n)));
            }
        }
        Selector::Indexes(idx) => {
            if let Value::Array(items) = node {
                next.extend(
                    idx.iter()
                        .filter_map(|n| index(items.len(), *n).and_then(|i| items.get(i))),
                );
            }
        }
        Selector::Wildcard => match node {
            Value::Object(map) => next.extend(map.values()),
            Value::Array(items) => next.extend(items.iter()),
            _ => {}
        },
        Selector::Slice { start, end, step } => {
            if let Value::Array(items) = node {
                next.extend(
                    slice_indices(items.len(), *start, *end, *step)
                        .into_iter()
                        .filter_map(|i| items.get(i)),
                );
            }
        }
        Selector::Filter(expr) => match node {
            Value::Array(items) => {
                next.extend(items.iter().filter(|item| expr.test(item, root, depth + 1)))
            }
            Value::Object(map) if in_scan => {
                next.extend(map.values().filter(|v| expr.test(v, root, depth + 1)))
            }
            // Jayway applies a filter on an object to the object itself.
            Value::Object(_) if expr.test(node, root, depth + 1) => next.push(node),
            _ => {}
        },
    }
}
