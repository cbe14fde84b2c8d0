//! How a Python Lambda function renders values: the byte length of `json.dumps` (Lambda's
//! Content-Length) and `repr` (for functions that format their event into a string).

use serde_json::Value;

/// Values nested deeper than this are rendered as `...`: the payloads come from a state
/// machine whose own depth limits are far lower, so this only guards against a stack overflow.
const MAX_DEPTH: usize = 512;

/// How one Python rendering spells the scalars; containers are the same for both.
struct Style {
    null: &'static str,
    yes: &'static str,
    no: &'static str,
    string: fn(&str, &mut String),
}

const JSON_DUMPS: Style = Style {
    null: "null",
    yes: "true",
    no: "false",
    string: ascii_json_string,
};

const REPR: Style = Style {
    null: "None",
    yes: "True",
    no: "False",
    string: repr_string,
};

/// `json.dumps(value)` with Python's defaults (`", "`, `": "`, `ensure_ascii=True`).
pub fn json_dumps(value: &Value) -> String {
    let mut out = String::new();
    render(value, &JSON_DUMPS, &mut out, 0);
    out
}

/// `repr(value)` of the value as Python's `json.loads` would have built it.
pub fn repr(value: &Value) -> String {
    let mut out = String::new();
    render(value, &REPR, &mut out, 0);
    out
}

fn render(value: &Value, style: &Style, out: &mut String, depth: usize) {
    if depth > MAX_DEPTH {
        out.push_str("...");
        return;
    }
    match value {
        Value::Null => out.push_str(style.null),
        Value::Bool(b) => out.push_str(if *b { style.yes } else { style.no }),
        Value::Number(n) => out.push_str(&number_text(n)),
        Value::String(s) => (style.string)(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render(item, style, out, depth + 1);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                (style.string)(key, out);
                out.push_str(": ");
                render(item, style, out, depth + 1);
            }
            out.push('}');
        }
    }
}

fn ascii_json_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

/// Python's float repr differs from Rust's in the exponent form (`1e+20` vs `1e20`).
fn number_text(n: &serde_json::Number) -> String {
    if n.is_f64() {
        if let Some(f) = n.as_f64() {
            return float_repr(f);
        }
    }
    n.to_string()
}

fn float_repr(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        let text = format!("{f:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let (sign, digits) = match exponent.strip_prefix('-') {
            Some(digits) => ('-', digits),
            None => ('+', exponent),
        };
        format!("{mantissa}e{sign}{digits:0>2}")
    } else if f.fract() == 0.0 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

fn repr_string(text: &str, out: &mut String) {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dumps_uses_python_separators_and_ascii() {
        assert_eq!(json_dumps(&json!({"foo": "foo-1"})), r#"{"foo": "foo-1"}"#);
        assert_eq!(json_dumps(&json!([1, 2.5, null])), "[1, 2.5, null]");
        assert_eq!(json_dumps(&json!("é😀")), r#""\u00e9\ud83d\ude00""#);
        assert_eq!(json_dumps(&json!(0.0)), "0.0");
        assert_eq!(json_dumps(&json!(1e20)), "1e+20");
    }

    #[test]
    fn repr_matches_python() {
        assert_eq!(repr(&json!(["string-literal"])), "['string-literal']");
        assert_eq!(
            repr(&json!({"a": true, "b": null})),
            "{'a': True, 'b': None}"
        );
        assert_eq!(repr(&json!("it's")), "\"it's\"");
        assert_eq!(repr(&json!("a'b\"c")), "'a\\'b\"c'");
    }
}
