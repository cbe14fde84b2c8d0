//! Definition text to a JSON value, as `serde_json::from_str::<Value>` reads it, faster.
//!
//! serde_json grows each object's map one insert at a time (a definition's `States` map of a
//! thousand states regrows ten times, rehashing as it goes); this reader collects an object's
//! entries first and builds its map at its final size. It answers only well-formed text with
//! nothing unusual in it: numbers other than plain integers are read by serde_json itself,
//! and anything else it does not expect (an error, a lone surrogate, nesting past serde_json's
//! limit) sends the whole text to serde_json, so the value, and the error of text that is
//! not JSON, are serde_json's to the byte.

use serde_json::{Map, Number, Value};

/// serde_json's nesting limit: text that opens this many arrays or objects goes to serde_json,
/// which refuses it.
const MAX_DEPTH: usize = 128;

/// Parses `text` as `serde_json::from_str::<Value>` does, with the same value or error.
pub fn parse(text: &str) -> Result<Value, serde_json::Error> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        entries: Vec::new(),
        items: Vec::new(),
    };
    match reader.document() {
        Some(value) => Ok(value),
        None => serde_json::from_str(text),
    }
}

struct Reader<'t> {
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
    /// Entries of the objects being read, innermost last: one buffer for all of them.
    entries: Vec<(String, Value)>,
    /// Items of the arrays being read, likewise.
    items: Vec<Value>,
}

impl Reader<'_> {
    fn document(&mut self) -> Option<Value> {
        let value = self.value(0)?;
        self.skip_whitespace();
        (self.pos == self.bytes.len()).then_some(value)
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn literal(&mut self, word: &str, value: Value) -> Option<Value> {
        let end = self.pos + word.len();
        (self.bytes.get(self.pos..end)? == word.as_bytes()).then(|| {
            self.pos = end;
            value
        })
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        self.skip_whitespace();
        match self.peek()? {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => self.string().map(Value::String),
            b't' => self.literal("true", Value::Bool(true)),
            b'f' => self.literal("false", Value::Bool(false)),
            b'n' => self.literal("null", Value::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn object(&mut self, depth: usize) -> Option<Value> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        let start = self.entries.len();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Some(Value::Object(Map::new()));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return None;
            }
            let key = self.string()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return None;
            }
            self.pos += 1;
            let value = self.value(depth)?;
            self.entries.push((key, value));
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    break;
                }
                _ => return None,
            }
        }
        let mut map = Map::with_capacity(self.entries.len() - start);
        // A repeated key keeps its first place and its last value, as serde_json's map does.
        for (key, value) in self.entries.drain(start..) {
            map.insert(key, value);
        }
        Some(Value::Object(map))
    }

    fn array(&mut self, depth: usize) -> Option<Value> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        let start = self.items.len();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Some(Value::Array(Vec::new()));
        }
        loop {
            let value = self.value(depth)?;
            self.items.push(value);
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    break;
                }
                _ => return None,
            }
        }
        Some(Value::Array(self.items.drain(start..).collect()))
    }

    /// A string, positioned on its opening quote.
    fn string(&mut self) -> Option<String> {
        self.pos += 1;
        let start = self.pos;
        loop {
            match *self.bytes.get(self.pos)? {
                b'"' => {
                    let text = self.text.get(start..self.pos)?.to_owned();
                    self.pos += 1;
                    return Some(text);
                }
                b'\\' => break,
                0..=0x1f => return None,
                _ => self.pos += 1,
            }
        }
        let mut out = self.text.get(start..self.pos)?.to_owned();
        loop {
            let run = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(self.text.get(run..self.pos)?);
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return Some(out);
                }
                b'\\' => {
                    let escape = *self.bytes.get(self.pos + 1)?;
                    self.pos += 2;
                    out.push(match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    });
                }
                _ => return None,
            }
        }
    }

    /// The character of a `\u` escape (positioned after the `u`); a surrogate pair takes two
    /// escapes. Lone surrogates are left to serde_json.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        if !(0xD800..0xDC00).contains(&first) {
            return char::from_u32(first);
        }
        if self.bytes.get(self.pos..self.pos + 2)? != b"\\u" {
            return None;
        }
        self.pos += 2;
        let second = self.hex4()?;
        if !(0xDC00..0xE000).contains(&second) {
            return None;
        }
        char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.pos..self.pos + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.pos += 4;
        u32::from_str_radix(digits, 16).ok()
    }

    /// A number. Integers of up to 18 digits are exact in both u64 and i64, as serde_json
    /// reads them; any other number (fractions, exponents, `-0`, longer integers) is read by
    /// serde_json, whose float reading is the one in use.
    fn number(&mut self) -> Option<Value> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let digits_start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        let digits = self.text.get(digits_start..self.pos)?;
        let plain = matches!(
            self.peek(),
            None | Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\t' | b'\r')
        ) && !digits.is_empty()
            && digits.len() <= 18
            && (digits == "0" || !digits.starts_with('0'))
            && !(negative && digits == "0");
        if plain {
            let magnitude: u64 = digits.parse().ok()?;
            return Some(Value::Number(if negative {
                Number::from(-i64::try_from(magnitude).ok()?)
            } else {
                Number::from(magnitude)
            }));
        }
        while let Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') = self.peek() {
            self.pos += 1;
        }
        serde_json::from_str::<Number>(self.text.get(start..self.pos)?)
            .ok()
            .map(Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `text` is JSON, after checking both readers agree on it.
    fn same(text: &str) -> bool {
        let ours = parse(text);
        let theirs = serde_json::from_str::<Value>(text);
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b, "{text}");
                // Equal maps may still differ in order; the order is part of the value here.
                assert_eq!(
                    serde_json::to_string(a).unwrap(),
                    serde_json::to_string(b).unwrap(),
                    "{text}"
                );
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{text}"),
            _ => panic!("{text}: {ours:?} against {theirs:?}"),
        }
        ours.is_ok()
    }

    #[test]
    fn reads_as_serde_json_reads() {
        for text in [
            "{}",
            "[]",
            " {\"a\" : [1, -2, 3.5, 1e3, -0, 0, 123456789012345678, 1234567890123456789, 18446744073709551616, -9223372036854775808, -9223372036854775809] } ",
            r#"{"a": 1, "b": {"c": [true, false, null]}, "a": 2}"#,
            r#"{"s": "plain", "e": "q\"b\\s\/n\nt\tr\ru\u00e9\ud83d\ude00 end", "\u0041": 1}"#,
            r#""\ud800""#,
            r#""\ud83d\u0041""#,
            r#""\udc00""#,
            r#"{"a": 01}"#,
            r#"{"a": 1.}"#,
            r#"{"a": .5}"#,
            r#"{"a": -}"#,
            r#"{"a": 1e}"#,
            r#"{"a": 1,}"#,
            r#"[1, 2,]"#,
            r#"{"a" 1}"#,
            "{\"a\": \"tab\there\"}",
            r#"{"a": "\x"}"#,
            r#"{"a": tru}"#,
            r#"{"a": 1} x"#,
            r#"{"a": 1}}"#,
            "",
            "   ",
            "\u{feff}{}",
            r#"{"a": 1.7976931348623157e309}"#,
            r#"{"a": 0.1, "b": 2.2250738585072014e-308, "c": 5e-324, "d": 1.0000000000000002}"#,
            r#"{"a": 1E+2, "b": -1e-2}"#,
            r#"{"é": "ü", "k": "\u20ac"}"#,
            "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
        ] {
            let _ = same(text);
        }
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        for n in [127, 128, 129, 200] {
            assert_eq!(same(&deep(n)), n < 128);
            let _ = same(&format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n)));
        }
    }

    /// Texts a few bytes away from a definition (seeded, so a failure replays) read the same:
    /// most are errors, which must be serde_json's too.
    #[test]
    fn reads_mutated_text_as_serde_json_reads_it() {
        let text = r#"{"Comment": "c\u00e9\n", "StartAt": "A", "States": {"A": {"Type": "Pass",
            "Parameters": {"i.$": "$.i", "n": [1, -2, 3.5e1, 0, true, null, {"x": "y"}]},
            "ResultPath": "$.r", "Next": "B"}, "B": {"Type": "Succeed"}}}"#;
        let pieces = [
            "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "0", "-", ".", "e", "1", " ", "\n",
            "t", "n", "\u{1}", "é", "\\ud800", "",
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        let mut json = 0;
        for _ in 0..20_000 {
            let mut mutated = text.to_owned();
            for _ in 0..1 + next(3) {
                let at = mutated.floor_char_boundary(next(mutated.len() + 1));
                let end = mutated.floor_char_boundary(at + next(3));
                mutated.replace_range(at..end, pieces[next(pieces.len())]);
            }
            json += usize::from(same(&mutated));
        }
        assert!(json > 1_000, "only {json} mutated texts were JSON");
    }

    /// Every definition of the benchmarks and the conformance corpus reads the same.
    #[test]
    fn reads_the_corpus_as_serde_json_reads_it() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
        let mut stack = vec![root.join("bench"), root.join("conformance")];
        let mut files = 0;
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "json") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    let _ = same(&text);
                    // Cut short, the same text is an error, which must read the same too.
                    let _ = same(&text[..text.floor_char_boundary(text.len() / 2)]);
                    files += 1;
                }
            }
        }
        assert!(
            files > 100,
            "only {files} files found under {}",
            root.display()
        );
    }
}
