//! The evaluator's value model: JSON plus functions, with jsonata-js's array flags.

use std::fmt::Write as _;
use std::rc::Rc;

use indexmap::IndexMap;

use crate::eval::Function;
use crate::Error;

pub(crate) type Object = IndexMap<String, Value>;

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
    pub fn object(map: Object) -> Value {
        Value::Obj(Rc::new(map))
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

const MAX_OUTPUT_DEPTH: usize = 10_000;

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
            let mut m = serde_json::Map::new();
            for (k, x) in o.iter() {
                m.insert(k.clone(), to_json_inner(x, depth + 1)?);
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
            for (i, (k, x)) in o.iter().enumerate() {
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
