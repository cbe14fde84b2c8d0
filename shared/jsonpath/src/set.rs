//! Writing a value at a reference path: how ResultPath merges a result into the input.

use crate::{Path, PathError, PathErrorKind, Root, Segment, Selector};
use serde_json::{Map, Value};

/// Puts `value` at `path` inside `target` and returns the new document.
///
/// Missing intermediate objects are created, as AWS does for `$.a.b.c` on `{}`. It
/// fails (`States.ResultPathMatchFailure`) when the way is blocked: a step through
/// something that is not an object, or an index into a missing array slot.
pub fn set_at(mut target: Value, path: &Path, value: Value) -> Result<Value, PathError> {
    if path.root() != &Root::Input || !path.is_definite() {
        return Err(PathError::syntax(format!(
            "'{}' is not a reference path into the state input",
            path.as_str()
        )));
    }
    let segments = path.segments();
    // Check first, without touching the document, so the message can quote the
    // input as it was and the write below cannot fail half-way.
    check(&target, path)?;
    let Some((last, prefix)) = segments.split_last() else {
        return Ok(value);
    };
    let mut cur = &mut target;
    for seg in prefix {
        cur = match (seg, cur) {
            (Segment::Child(Selector::Names(names)), Value::Object(map)) => {
                let name = names.first().cloned().unwrap_or_default();
                map.entry(name).or_insert_with(|| Value::Object(Map::new()))
            }
            (Segment::Child(Selector::Indexes(idx)), Value::Array(items)) => {
                let n = idx.first().copied().unwrap_or_default();
                match crate::eval::index(items.len(), n).and_then(|i| items.get_mut(i)) {
                    Some(v) => v,
                    None => return Err(mismatch(path, &Value::Null)),
                }
            }
            _ => return Err(mismatch(path, &Value::Null)),
        };
    }
    match (last, cur) {
        (Segment::Child(Selector::Names(names)), Value::Object(map)) => {
            let name = names.first().cloned().unwrap_or_default();
            map.insert(name, value);
        }
        (Segment::Child(Selector::Indexes(idx)), Value::Array(items)) => {
            let n = idx.first().copied().unwrap_or_default();
            match crate::eval::index(items.len(), n).and_then(|i| items.get_mut(i)) {
                Some(slot) => *slot = value,
                None => return Err(mismatch(path, &Value::Null)),
            }
        }
        _ => return Err(mismatch(path, &Value::Null)),
    }
    Ok(target)
}

fn check(target: &Value, path: &Path) -> Result<(), PathError> {
    let mut cur = Some(target);
    for seg in path.segments() {
        cur = match (seg, cur) {
            // A missing object is created on the way down.
            (Segment::Child(Selector::Names(_)), None) => None,
            (Segment::Child(Selector::Names(names)), Some(Value::Object(map))) => {
                names.first().and_then(|n| map.get(n))
            }
            (Segment::Child(Selector::Indexes(idx)), Some(Value::Array(items))) => {
                let n = idx.first().copied().unwrap_or_default();
                match crate::eval::index(items.len(), n).and_then(|i| items.get(i)) {
                    Some(v) => Some(v),
                    None => return Err(mismatch(path, target)),
                }
            }
            _ => return Err(mismatch(path, target)),
        };
    }
    Ok(())
}

fn mismatch(path: &Path, input: &Value) -> PathError {
    PathError::new(
        PathErrorKind::ResultPathMatch,
        format!(
            "Unable to apply ResultPath \"{}\" to input {}",
            path.as_str(),
            serde_json::to_string(input).unwrap_or_default()
        ),
    )
}
