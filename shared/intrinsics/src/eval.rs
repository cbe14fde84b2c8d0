//! Evaluation of a parsed call against an [`Env`].
//!
//! Argument checks follow what AWS was observed to do: arity and type problems are run-time
//! `States.Runtime` failures ("Invalid arguments in States.X"), not definition errors, and
//! fractional numbers are rounded (`States.MathAdd`) or truncated (the array functions and
//! `States.MathRandom`) the way AWS's Java implementation does.

use cairn_common::{base64, hex};
use md5::Md5;
use serde_json::{Map, Number, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::error::{IntrinsicError, Result};
use crate::java::{self, JavaRandom};
use crate::parse::{Arg, Call, Function};
use crate::Env;

/// AWS's documented cap on the items `States.ArrayRange` may produce.
const ARRAY_RANGE_MAX_ITEMS: i64 = 1000;
/// AWS's documented cap on the input of `States.Base64Encode`, `States.Base64Decode` and
/// `States.Hash`, counted in Java `String.length()` units (UTF-16).
const MAX_INPUT_CHARS: usize = 10_000;
/// Bounds the recursion over argument values (formatting, comparing, serialising) so a
/// pathological value is an error, never a stack overflow.
const MAX_VALUE_DEPTH: usize = 512;

/// `States.Base64Decode` is lenient the way AWS was observed to be (it decodes `abc`, `ab==cd`,
/// text with surrounding spaces and even `!!!invalid!!!` instead of failing): characters
/// outside the standard alphabet are skipped and the first `=` ends the data.
const AWS_BASE64_DECODE: base64::Lenient = base64::Lenient {
    url_safe: false,
    padding_ends_data: true,
};

pub(crate) fn eval_call(call: &Call, env: &mut dyn Env) -> Result<Value> {
    let mut args = Vec::with_capacity(call.args.len());
    for arg in &call.args {
        args.push(eval_arg(call, arg, env)?);
    }
    apply(call, args, env)
}

fn eval_arg(call: &Call, arg: &Arg, env: &mut dyn Env) -> Result<Value> {
    match arg {
        Arg::Str(s) => Ok(Value::String(s.value.clone())),
        Arg::Number(n) => Ok(Value::Number(n.clone())),
        Arg::Bool(b) => Ok(Value::Bool(*b)),
        Arg::Null => Ok(Value::Null),
        Arg::Path(path) => env.resolve(path).map_err(|cause| failure(call, &cause)),
        Arg::Call(inner) => eval_call(inner, env),
    }
}

/// The conformance corpus records no failing intrinsic; this cause shape and the
/// "Invalid arguments in States.X" detail are what published AWS parity probes show. Which
/// call a nested failure names (we name the innermost failing one) is unverified.
fn failure(call: &Call, detail: &str) -> IntrinsicError {
    IntrinsicError::runtime(format!(
        "There was an error while evaluating the intrinsic function: {}. {detail}",
        call.text
    ))
}

fn invalid(call: &Call) -> IntrinsicError {
    failure(
        call,
        &format!("Invalid arguments in {}", call.function.name()),
    )
}

fn apply(call: &Call, args: Vec<Value>, env: &mut dyn Env) -> Result<Value> {
    let bad = || invalid(call);
    match call.function {
        Function::Array => Ok(Value::Array(args)),
        Function::Format => format(call, &args),
        Function::StringToJson => {
            let [Value::String(text)] = args.as_slice() else {
                return Err(bad());
            };
            // AWS answers null for a blank string rather than a parse error.
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            let mut value: Value = serde_json::from_str(text).map_err(|_| bad())?;
            normalize_negative_zero(&mut value);
            Ok(value)
        }
        Function::JsonToString => {
            let [value] = args.as_slice() else {
                return Err(bad());
            };
            to_json_text(value).map(Value::String).ok_or_else(bad)
        }
        Function::ArrayPartition => {
            let [Value::Array(items), size] = args.as_slice() else {
                return Err(bad());
            };
            let size = int_arg(size, java::truncate).ok_or_else(bad)?;
            let size = usize::try_from(size)
                .ok()
                .filter(|s| *s > 0)
                .ok_or_else(bad)?;
            Ok(Value::Array(
                items
                    .chunks(size)
                    .map(|chunk| Value::Array(chunk.to_vec()))
                    .collect(),
            ))
        }
        Function::ArrayContains => {
            let [Value::Array(items), wanted] = args.as_slice() else {
                return Err(bad());
            };
            let mut found = false;
            for item in items {
                if json_eq(item, wanted, 0).ok_or_else(bad)? {
                    found = true;
                    break;
                }
            }
            Ok(Value::Bool(found))
        }
        Function::ArrayRange => {
            let [start, end, step] = args.as_slice() else {
                return Err(bad());
            };
            let start = int_arg(start, java::truncate).ok_or_else(bad)?;
            let end = int_arg(end, java::truncate).ok_or_else(bad)?;
            let step = int_arg(step, java::truncate).ok_or_else(bad)?;
            if step == 0 {
                return Err(bad());
            }
            let count = if (step > 0 && end < start) || (step < 0 && end > start) {
                0
            } else {
                (end - start) / step + 1
            };
            if count > ARRAY_RANGE_MAX_ITEMS {
                return Err(bad());
            }
            Ok(Value::Array(
                (0..count).map(|i| Value::from(start + i * step)).collect(),
            ))
        }
        Function::ArrayGetItem => {
            let [Value::Array(items), index] = args.as_slice() else {
                return Err(bad());
            };
            let index = int_arg(index, java::truncate).ok_or_else(bad)?;
            // Observed on AWS: any index into an empty array yields null, while an index past
            // the end of a non-empty array fails.
            if items.is_empty() {
                return Ok(Value::Null);
            }
            usize::try_from(index)
                .ok()
                .and_then(|i| items.get(i))
                .cloned()
                .ok_or_else(bad)
        }
        Function::ArrayLength => {
            let [Value::Array(items)] = args.as_slice() else {
                return Err(bad());
            };
            Ok(Value::from(items.len()))
        }
        Function::ArrayUnique => {
            let [Value::Array(items)] = args.as_slice() else {
                return Err(bad());
            };
            let mut unique: Vec<(i32, Value)> = Vec::new();
            for item in items {
                let mut seen = false;
                for (_, kept) in &unique {
                    if json_eq(kept, item, 0).ok_or_else(bad)? {
                        seen = true;
                        break;
                    }
                }
                if !seen {
                    let hash = java::value_hash(item, MAX_VALUE_DEPTH).ok_or_else(bad)?;
                    unique.push((hash, item.clone()));
                }
            }
            // AWS collects the items in a java.util.HashSet: the result comes out in hash
            // order, not first-seen order ([true, false, true] gives [false, true]).
            Ok(Value::Array(java::hash_order(unique)))
        }
        Function::Base64Encode => {
            let [Value::String(text)] = args.as_slice() else {
                return Err(bad());
            };
            if java_length(text) > MAX_INPUT_CHARS {
                return Err(bad());
            }
            Ok(Value::String(base64::encode(text.as_bytes())))
        }
        Function::Base64Decode => {
            let [Value::String(text)] = args.as_slice() else {
                return Err(bad());
            };
            if java_length(text) > MAX_INPUT_CHARS {
                return Err(bad());
            }
            let bytes = base64::decode_lenient(text, AWS_BASE64_DECODE);
            Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        }
        Function::Hash => {
            let [data, Value::String(algorithm)] = args.as_slice() else {
                return Err(bad());
            };
            // AWS hashes a non-string value through its JSON text instead of failing.
            let data = match data {
                Value::String(s) => s.clone(),
                other => to_json_text(other).ok_or_else(bad)?,
            };
            if java_length(&data) > MAX_INPUT_CHARS {
                return Err(bad());
            }
            let bytes = data.as_bytes();
            let digest = match algorithm.as_str() {
                "MD5" => hex::encode(&Md5::digest(bytes)),
                "SHA-1" => hex::encode(&Sha1::digest(bytes)),
                "SHA-256" => hex::encode(&Sha256::digest(bytes)),
                "SHA-384" => hex::encode(&Sha384::digest(bytes)),
                "SHA-512" => hex::encode(&Sha512::digest(bytes)),
                _ => return Err(bad()),
            };
            Ok(Value::String(digest))
        }
        Function::JsonMerge => {
            let [Value::Object(left), Value::Object(right), Value::Bool(deep)] = args.as_slice()
            else {
                return Err(bad());
            };
            // Only the shallow mode exists on AWS: the flag must be false.
            if *deep {
                return Err(bad());
            }
            Ok(Value::Object(java_hash_map_merge(left, right)))
        }
        Function::MathRandom => {
            let (start, end, seed) = match args.as_slice() {
                [start, end] => (start, end, None),
                [start, end, seed] => (start, end, Some(seed)),
                _ => return Err(bad()),
            };
            let start = int_arg(start, java::truncate).ok_or_else(bad)?;
            let end = int_arg(end, java::truncate).ok_or_else(bad)?;
            let seed = match seed {
                Some(seed) => seed
                    .as_f64()
                    .filter(|s| s.is_finite())
                    .map(|s| java::truncate(s) as i64)
                    .ok_or_else(bad)?,
                None => env.random_u64() as i64,
            };
            let bound = i32::try_from(end - start)
                .ok()
                .filter(|b| *b > 0)
                .ok_or_else(bad)?;
            let offset = JavaRandom::new(seed).next_int(bound).ok_or_else(bad)?;
            Ok(Value::from(start + i64::from(offset)))
        }
        Function::MathAdd => {
            let [left, right] = args.as_slice() else {
                return Err(bad());
            };
            let left = int_arg(left, java::round).ok_or_else(bad)?;
            let right = int_arg(right, java::round).ok_or_else(bad)?;
            let sum = i32::try_from(left + right).map_err(|_| bad())?;
            Ok(Value::from(sum))
        }
        Function::StringSplit => {
            let [Value::String(text), Value::String(delimiters)] = args.as_slice() else {
                return Err(bad());
            };
            // The second argument is a set of delimiter characters, and empty pieces are
            // dropped (",,,," splits into []), as recorded on AWS.
            let pieces = text
                .split(|c: char| delimiters.contains(c))
                .filter(|piece| !piece.is_empty())
                .map(|piece| Value::String(piece.to_owned()))
                .collect();
            Ok(Value::Array(pieces))
        }
        Function::Uuid => {
            if !args.is_empty() {
                return Err(bad());
            }
            Ok(Value::String(env.uuid()))
        }
    }
}

/// An integer argument in the int range of AWS's Java implementation, after `convert`
/// (rounding or truncation) of a fractional value. Non-numbers give `None`.
fn int_arg(value: &Value, convert: fn(f64) -> f64) -> Option<i64> {
    let Value::Number(n) = value else {
        return None;
    };
    let i = match n.as_i64() {
        Some(i) => i,
        None => {
            let f = convert(n.as_f64()?);
            if !f.is_finite() || f.abs() > f64::from(i32::MAX) + 1.0 {
                return None;
            }
            f as i64
        }
    };
    i32::try_from(i).ok().map(i64::from)
}

/// serde_json reads `-0` as the float -0.0; AWS's Jackson reads it as the integer 0.
/// The recursion is bounded by serde_json's own nesting limit on parsing (128).
fn normalize_negative_zero(value: &mut Value) {
    match value {
        Value::Number(n) if n.as_f64().is_some_and(|f| f == 0.0 && f.is_sign_negative()) => {
            *value = Value::from(0)
        }
        Value::Array(items) => items.iter_mut().for_each(normalize_negative_zero),
        Value::Object(map) => map.values_mut().for_each(normalize_negative_zero),
        _ => {}
    }
}

fn java_length(s: &str) -> usize {
    s.encode_utf16().count()
}

/// JSON text, compact, as AWS prints it; `None` when the value nests too deep to serialise
/// safely.
fn to_json_text(value: &Value) -> Option<String> {
    if exceeds_depth(value, MAX_VALUE_DEPTH) {
        return None;
    }
    serde_json::to_string(value).ok()
}

fn exceeds_depth(value: &Value, limit: usize) -> bool {
    let mut stack = vec![(value, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        if depth > limit {
            return true;
        }
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, depth + 1))),
            _ => {}
        }
    }
    false
}

/// Structural equality where numbers compare by value (`1` equals `1.0`). `None` when the
/// values nest deeper than [`MAX_VALUE_DEPTH`].
fn json_eq(a: &Value, b: &Value, depth: usize) -> Option<bool> {
    if depth > MAX_VALUE_DEPTH {
        return None;
    }
    Some(match (a, b) {
        (Value::Number(x), Value::Number(y)) => number_eq(x, y),
        (Value::Array(xs), Value::Array(ys)) => {
            if xs.len() != ys.len() {
                return Some(false);
            }
            for (x, y) in xs.iter().zip(ys) {
                if !json_eq(x, y, depth + 1)? {
                    return Some(false);
                }
            }
            true
        }
        (Value::Object(xs), Value::Object(ys)) => {
            if xs.len() != ys.len() {
                return Some(false);
            }
            for (k, x) in xs {
                let Some(y) = ys.get(k) else {
                    return Some(false);
                };
                if !json_eq(x, y, depth + 1)? {
                    return Some(false);
                }
            }
            true
        }
        _ => a == b,
    })
}

fn number_eq(x: &Number, y: &Number) -> bool {
    match (x.as_i64(), y.as_i64()) {
        (Some(a), Some(b)) => a == b,
        _ => match (x.as_u64(), y.as_u64()) {
            (Some(a), Some(b)) => a == b,
            _ => x.as_f64() == y.as_f64(),
        },
    }
}

/// `States.JsonMerge` result: the keys of `right` overwrite those of `left`, and the merged
/// object comes out in the iteration order of a `java.util.HashMap`, which is what AWS
/// returns (the recorded merge of `{a,b,d}` and `{a,c,d}` yields `a,b,c,d`, not the
/// insertion order `a,b,d,c`).
fn java_hash_map_merge(
    left: &Map<String, Value>,
    right: &Map<String, Value>,
) -> Map<String, Value> {
    let mut merged = left.clone();
    for (k, v) in right {
        merged.insert(k.clone(), v.clone());
    }
    let entries = merged
        .into_iter()
        .map(|(k, v)| (java::string_hash(&k), (k, v)))
        .collect();
    java::hash_order(entries).into_iter().collect()
}

fn format(call: &Call, args: &[Value]) -> Result<Value> {
    let bad = || invalid(call);
    let (template, values) = args.split_first().ok_or_else(bad)?;
    let Value::String(template_value) = template else {
        return Err(bad());
    };
    // A literal template keeps its escapes (`\{` is a literal brace); a template read from a
    // path is taken as it is.
    let pieces = match call.args.first() {
        Some(Arg::Str(lit)) => parse_template(&lit.raw, true),
        _ => parse_template(template_value, false),
    }
    .map_err(|detail| {
        failure(
            call,
            &format!("Invalid template in States.Format: {detail}"),
        )
    })?;
    let placeholders = pieces.iter().filter(|p| p.is_none()).count();
    if placeholders != values.len() {
        return Err(failure(
            call,
            "Invalid arguments in States.Format: number of arguments do not match the occurrences of {}.",
        ));
    }
    let mut out = String::new();
    let mut next = values.iter();
    for piece in pieces {
        match piece {
            Some(text) => out.push_str(&text),
            None => {
                let value = next.next().ok_or_else(bad)?;
                render(value, &mut out, 0).ok_or_else(bad)?;
            }
        }
    }
    Ok(Value::String(out))
}

/// Splits a template into literal text (`Some`) and `{}` placeholders (`None`).
fn parse_template(
    template: &str,
    escapes: bool,
) -> std::result::Result<Vec<Option<String>>, &'static str> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if escapes => {
                if let Some(escaped) = chars.next() {
                    text.push(escaped);
                }
            }
            '{' => {
                if chars.next() != Some('}') {
                    return Err("matching '}' not found for '{'.");
                }
                if !text.is_empty() {
                    pieces.push(Some(std::mem::take(&mut text)));
                }
                pieces.push(None);
            }
            '}' => return Err("matching '{' not found for '}'."),
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Some(text));
    }
    Ok(pieces)
}

/// How `States.Format` prints a value: strings bare, and containers the way Java's
/// `Map.toString`/`List.toString` print them (`{Arg1=1, Arg2=[]}`), as recorded on AWS.
fn render(value: &Value, out: &mut String, depth: usize) -> Option<()> {
    if depth > MAX_VALUE_DEPTH {
        return None;
    }
    match value {
        Value::String(s) => out.push_str(s),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render(item, out, depth + 1)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                render(v, out, depth + 1)?;
            }
            out.push('}');
        }
    }
    Some(())
}
