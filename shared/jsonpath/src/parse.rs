//! The path parser: hand-written because AWS's dialect is Jayway's, which no crate reproduces.
//!
//! It follows Jayway's `PathCompiler` token by token, so what Jayway accepts parses here
//! and reads the same: a `.` may precede a bracket (`$.[0]`, `$..['a']`, `$.[?(...)]`),
//! dot-notation names run to the next `.` or `[`, slices ignore a step, and a filter is
//! found by its balanced parentheses before its content is compiled (`filter_parse`).
//! Where Jayway tolerates garbage by accident (it drops a lone trailing character after
//! a bracket, reads `$['a']b` as `$['a']['b']`) this parser refuses instead.

use crate::filter::RelPath;
use crate::java::java_trim;
use crate::{Path, PathError, PathErrorKind, Root, Segment, Selector, MAX_DEPTH};

/// Filters inside filters: each level multiplies the evaluation cost by the document
/// size, so the nesting is kept small.
const MAX_FILTER_NESTING: usize = 4;

pub(crate) fn parse(src: &str) -> Result<Path, PathError> {
    match parse_plain(src) {
        Some(path) => Ok(path),
        None => parse_full(src),
    }
}

/// The paths most definitions are made of (`$`, `$.a.b`, `$$.Map.Item.Value`, `$var.x`:
/// ASCII names in dot notation) read without the parser, which copies the text into chars
/// first: parsing was most of compiling a payload template. `None` for anything else,
/// which the parser reads; the tests check both agree wherever this answers.
fn parse_plain(src: &str) -> Option<Path> {
    let rest = src.strip_prefix('$')?;
    let (root, rest) = if let Some(rest) = rest.strip_prefix('$') {
        (Root::Context, rest)
    } else if rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        (Root::Variable(rest[..end].to_owned()), &rest[end..])
    } else {
        (Root::Input, rest)
    };
    let mut segments = Vec::new();
    if !rest.is_empty() {
        for name in rest.strip_prefix('.')?.split('.') {
            let plain = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !plain {
                return None;
            }
            segments.push(Segment::Child(Selector::Names(vec![name.to_owned()])));
        }
    }
    Some(Path {
        src: src.to_owned(),
        root,
        segments,
    })
}

fn parse_full(src: &str) -> Result<Path, PathError> {
    let chars: Vec<char> = src.chars().collect();
    let mut limits = Limits::default();
    let mut compiler = Compiler {
        chars: &chars,
        pos: 0,
        limits: &mut limits,
    };
    let root = compiler.root()?;
    let segments = compiler.tokens()?;
    Ok(Path {
        src: src.to_owned(),
        root,
        segments,
    })
}

/// Compiles a path met inside a filter: `@...` (the item) or `$...` (the document),
/// exactly the text Jayway's filter compiler cut out for it.
pub(crate) fn parse_filter_path(chars: &[char], limits: &mut Limits) -> Result<RelPath, PathError> {
    let absolute = match chars.first() {
        Some('$') => true,
        Some('@') => false,
        _ => return Err(PathError::syntax("Path must start with '$' or '@'")),
    };
    let mut compiler = Compiler {
        chars,
        pos: 1,
        limits,
    };
    compiler.after_root()?;
    let segments = compiler.tokens()?;
    Ok(RelPath::new(absolute, segments))
}

/// True when Jayway would compile `text` as a path (it decides so for strings inside
/// the value lists of `in`, `anyof`, ...: such a string stands for a path, not a value).
pub(crate) fn is_jayway_path(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    parse_filter_path(&chars, &mut Limits::default()).is_ok()
}

/// Nesting counters shared by a path and the filters and sub-paths inside it.
#[derive(Default)]
pub(crate) struct Limits {
    depth: usize,
    filters: usize,
}

impl Limits {
    pub(crate) fn enter(&mut self) -> Result<(), PathError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(PathError::syntax(format!(
                "Path nesting exceeds the maximum depth of {MAX_DEPTH}"
            )));
        }
        Ok(())
    }
    pub(crate) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }
}

struct Compiler<'c, 'l> {
    chars: &'c [char],
    pos: usize,
    limits: &'l mut Limits,
}

/// Jayway's "next significant character": the first one after `start` that is not a space.
fn next_significant_index(chars: &[char], start: usize) -> Option<usize> {
    (start + 1..chars.len()).find(|&i| chars[i] != ' ')
}

/// The index of `c` when it is the next significant character after `start`.
fn index_of_next_significant(chars: &[char], start: usize, c: char) -> Option<usize> {
    next_significant_index(chars, start).filter(|&i| chars[i] == c)
}

/// The next `c` after `start` that no backslash escapes, before `end`.
pub(crate) fn next_unescaped(chars: &[char], start: usize, c: char, end: usize) -> Option<usize> {
    let mut escaped = false;
    for (i, &ch) in chars.iter().enumerate().take(end).skip(start + 1) {
        if escaped {
            escaped = false;
        } else if ch == '\\' {
            escaped = true;
        } else if ch == c {
            return Some(i);
        }
    }
    None
}

/// Jayway's `indexOfMatchingCloseChar`: the `close` balancing the `open` at `start`,
/// stepping over quoted strings and, when asked, over `/regex/` literals.
pub(crate) fn matching_close(
    chars: &[char],
    start: usize,
    end: usize,
    (open, close): (char, char),
    skip_regex: bool,
) -> Result<Option<usize>, PathError> {
    let text = || chars.iter().collect::<String>();
    let mut opened = 1usize;
    let mut r = start + 1;
    while r < end {
        let quote = chars[r];
        if quote == '\'' || quote == '"' {
            r = next_unescaped(chars, r, quote, end).ok_or_else(|| {
                PathError::syntax(format!(
                    "Could not find matching close quote for {quote} when parsing : {}",
                    text()
                ))
            })? + 1;
        }
        if skip_regex && chars.get(r) == Some(&'/') && r < end {
            r = next_unescaped(chars, r, '/', end).ok_or_else(|| {
                PathError::syntax(format!(
                    "Could not find matching close for / when parsing regex in : {}",
                    text()
                ))
            })? + 1;
        }
        let Some(&c) = chars.get(r).filter(|_| r < end) else {
            return Err(PathError::syntax(format!(
                "Could not find a closing {close} in : {}",
                text()
            )));
        };
        if c == open {
            opened += 1;
        }
        if c == close {
            opened -= 1;
            if opened == 0 {
                return Ok(Some(r));
            }
        }
        r += 1;
    }
    Ok(None)
}

/// `Integer.parseInt`: an optional `-`, digits, within the `int` range.
fn parse_int(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i32>().ok().map(i64::from)
}

impl Compiler<'_, '_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn unexpected(&self) -> PathError {
        match self.peek() {
            Some(c) => PathError::syntax(format!(
                "Could not parse token starting at position {}: unexpected '{c}'",
                self.pos
            )),
            None => PathError::syntax("Path must not end with a '.', '..' or an open bracket"),
        }
    }

    /// `$` (input), `$$` (context object) or `$name` (a variable).
    fn root(&mut self) -> Result<Root, PathError> {
        if self.peek() != Some('$') {
            return Err(PathError::syntax("Path must start with '$'"));
        }
        self.pos += 1;
        let root = if self.peek() == Some('$') {
            self.pos += 1;
            Root::Context
        } else if self.peek().is_some_and(|c| c.is_alphabetic() || c == '_') {
            let start = self.pos;
            while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                self.pos += 1;
            }
            Root::Variable(self.chars[start..self.pos].iter().collect())
        } else {
            Root::Input
        };
        self.after_root()?;
        Ok(root)
    }

    fn after_root(&self) -> Result<(), PathError> {
        match self.peek() {
            None | Some('.' | '[') => Ok(()),
            Some(_) => Err(PathError::syntax(format!(
                "Illegal character at position {} expected '.' or '['",
                self.pos
            ))),
        }
    }

    /// The tokens after the root: `.name`, `.*`, `..x`, `[...]`, and a `.` or `..`
    /// directly before a bracket, as Jayway reads them.
    fn tokens(&mut self) -> Result<Vec<Segment>, PathError> {
        if self.chars.last() == Some(&'.') {
            return Err(PathError::syntax("Path must not end with a '.' or '..'"));
        }
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            let segment = match c {
                '.' => {
                    let scan = self.chars.get(self.pos + 1) == Some(&'.');
                    self.pos += if scan { 2 } else { 1 };
                    let selector = match self.peek() {
                        Some('.') => {
                            return Err(PathError::syntax(format!(
                                "Character '.' on position {} is not valid.",
                                self.pos
                            )))
                        }
                        Some('[') => self.bracket()?,
                        Some('*') => {
                            self.pos += 1;
                            Selector::Wildcard
                        }
                        Some(_) => Selector::Names(vec![self.dot_name()?]),
                        None => return Err(self.unexpected()),
                    };
                    if scan {
                        Segment::Descendant(selector)
                    } else {
                        Segment::Child(selector)
                    }
                }
                '[' => Segment::Child(self.bracket()?),
                _ => return Err(self.unexpected()),
            };
            out.push(segment);
        }
        Ok(out)
    }

    /// A dot-notation name: everything up to the next `.` or `[` (Jayway accepts any other
    /// character, `]` and quotes included), but never a space.
    fn dot_name(&mut self) -> Result<String, PathError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            match c {
                '.' | '[' => break,
                ' ' => {
                    return Err(PathError::syntax(format!(
                        "Use bracket notion ['my prop'] if your property contains blank characters. position: {}",
                        self.pos
                    )))
                }
                '(' => {
                    return Err(PathError::new(
                        PathErrorKind::Unsupported,
                        "JSONPath functions such as length() are not supported",
                    ))
                }
                _ => self.pos += 1,
            }
        }
        if self.pos == start {
            return Err(self.unexpected());
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    /// `[...]`, positioned on the `[`: Jayway tries names, indexes and slices, the
    /// wildcard, then a filter.
    fn bracket(&mut self) -> Result<Selector, PathError> {
        if let Some(selector) = self.bracket_names()? {
            return Ok(selector);
        }
        if let Some(selector) = self.indexes_or_slice()? {
            return Ok(selector);
        }
        if let Some(selector) = self.bracket_wildcard()? {
            return Ok(selector);
        }
        if let Some(selector) = self.filter()? {
            return Ok(selector);
        }
        let next = next_significant_index(self.chars, self.pos).map(|i| self.chars[i]);
        match next {
            Some('(') => Err(PathError::new(
                PathErrorKind::Unsupported,
                "JSONPath script expressions such as [(@.length-1)] are not supported",
            )),
            Some('?') => Err(PathError::syntax(format!(
                "Could not parse the filter starting at position {}: expected [?(<expression>)]",
                self.pos
            ))),
            _ => Err(PathError::syntax(format!(
                "Could not parse token starting at position {}. Expected ?, ', 0-9, * ",
                self.pos
            ))),
        }
    }

    /// `['a']`, `["a"]`, `['a', 'b']`. Like the Jayway version AWS runs, a backslash keeps
    /// the next character from closing the name but stays in the name as written
    /// (`$['a\"b']` reads the key `a\"b`, which the corpus confirms).
    fn bracket_names(&mut self) -> Result<Option<Selector>, PathError> {
        let chars = self.chars;
        let Some(delimiter) = next_significant_index(chars, self.pos)
            .map(|i| chars[i])
            .filter(|c| *c == '\'' || *c == '"')
        else {
            return Ok(None);
        };
        let mut names = Vec::new();
        let mut start = self.pos + 1;
        let mut last_close = None;
        let mut in_name = false;
        let mut escaped = false;
        let mut after_comma = false;
        let mut read = self.pos + 1;
        while let Some(&c) = chars.get(read) {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == ']' && !in_name {
                if after_comma {
                    return Err(PathError::syntax(format!(
                        "Found empty property at index {read}"
                    )));
                }
                break;
            } else if c == delimiter {
                if in_name {
                    let next = next_significant_index(chars, read).map(|i| chars[i]);
                    if next != Some(']') && next != Some(',') {
                        return Err(PathError::syntax(format!(
                            "Property must be separated by comma or Property must be terminated close square bracket at index {read}"
                        )));
                    }
                    names.push(chars[start..read].iter().collect());
                    last_close = Some(read);
                    in_name = false;
                } else {
                    start = read + 1;
                    in_name = true;
                    after_comma = false;
                }
            } else if c == ',' && !in_name {
                if after_comma {
                    return Err(PathError::syntax(format!(
                        "Found empty property at index {read}"
                    )));
                }
                after_comma = true;
            }
            read += 1;
        }
        if in_name {
            return Err(PathError::syntax(format!(
                "Property has not been closed - missing closing {delimiter}"
            )));
        }
        let close = last_close
            .and_then(|i| index_of_next_significant(chars, i, ']'))
            .ok_or_else(|| PathError::syntax("Property has not been closed - missing closing ]"))?;
        self.pos = close + 1;
        Ok(Some(Selector::Names(names)))
    }

    /// `[1]`, `[-1]`, `[0, 2]`, `[1:]`, `[:2]`, `[1:3]`. Jayway reads at most two slice
    /// bounds: `[0:3:2]` is `[0:3]`, and `[:]`, `[::2]` are errors.
    fn indexes_or_slice(&mut self) -> Result<Option<Selector>, PathError> {
        let chars = self.chars;
        let Some(next) = next_significant_index(chars, self.pos).map(|i| chars[i]) else {
            return Ok(None);
        };
        if !(next.is_ascii_digit() || next == '-' || next == ':') {
            return Ok(None);
        }
        let begin = self.pos + 1;
        let Some(end) = (begin..chars.len()).find(|&i| chars[i] == ']') else {
            return Ok(None);
        };
        let raw: String = chars[begin..end].iter().collect();
        let expr = java_trim(&raw);
        if !expr
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ',' | '-' | ':' | ' '))
        {
            return Ok(None);
        }
        let selector = if expr.contains(':') {
            slice(expr)?
        } else {
            indexes(expr)?
        };
        self.pos = end + 1;
        Ok(Some(selector))
    }

    /// `[*]`, spaces allowed inside.
    fn bracket_wildcard(&mut self) -> Result<Option<Selector>, PathError> {
        let Some(star) = index_of_next_significant(self.chars, self.pos, '*') else {
            return Ok(None);
        };
        let close = index_of_next_significant(self.chars, star, ']').ok_or_else(|| {
            PathError::syntax(format!(
                "Expected wildcard token to end with ']' on position {}",
                star + 1
            ))
        })?;
        self.pos = close + 1;
        Ok(Some(Selector::Wildcard))
    }

    /// `[?(...)]`: the parenthesis that balances the opening one must be followed by `]`;
    /// the whole `[?(...)]` then goes to the filter compiler.
    fn filter(&mut self) -> Result<Option<Selector>, PathError> {
        let chars = self.chars;
        let Some(question) = index_of_next_significant(chars, self.pos, '?') else {
            return Ok(None);
        };
        let Some(open) = index_of_next_significant(chars, question, '(') else {
            return Ok(None);
        };
        let Some(close) = matching_close(chars, open, chars.len(), ('(', ')'), true)? else {
            return Ok(None);
        };
        let Some(close_statement) = index_of_next_significant(chars, close, ']') else {
            return Ok(None);
        };
        self.limits.filters += 1;
        if self.limits.filters > MAX_FILTER_NESTING {
            return Err(PathError::syntax(format!(
                "Filters nest deeper than {MAX_FILTER_NESTING} levels"
            )));
        }
        self.limits.enter()?;
        let expr = crate::filter_parse::compile(&chars[self.pos..=close_statement], self.limits)?;
        self.limits.leave();
        self.limits.filters -= 1;
        self.pos = close_statement + 1;
        Ok(Some(Selector::Filter(Box::new(expr))))
    }
}

fn slice(expr: &str) -> Result<Selector, PathError> {
    let fail = || PathError::syntax(format!("Failed to parse SliceOperation: {expr}"));
    if !expr
        .chars()
        .all(|c| c.is_ascii_digit() || c == '-' || c == ':')
    {
        return Err(fail());
    }
    // Java's `split(":")`: trailing empty parts are dropped, leading ones kept.
    let mut parts: Vec<&str> = expr.split(':').collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    let bound = |i: usize| -> Result<Option<i64>, PathError> {
        match parts.get(i) {
            None | Some(&"") => Ok(None),
            Some(text) => parse_int(text).map(Some).ok_or_else(fail),
        }
    };
    let (start, end) = (bound(0)?, bound(1)?);
    if start.is_none() && end.is_none() {
        return Err(fail());
    }
    Ok(Selector::Slice { start, end })
}

fn indexes(expr: &str) -> Result<Selector, PathError> {
    if !expr
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ',' | ' ' | '-'))
    {
        return Err(PathError::syntax(format!(
            "Failed to parse ArrayIndexOperation: {expr}"
        )));
    }
    expr.split(',')
        .map(|token| {
            let token = token.trim_matches(' ');
            parse_int(token).ok_or_else(|| {
                PathError::syntax(format!(
                    "Failed to parse token in ArrayIndexOperation: {token}"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Selector::Indexes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string over an alphabet of path characters, up to five of them: wherever the
    /// shortcut answers, the parser reads the same path.
    #[test]
    fn plain_paths_read_as_the_parser_reads_them() {
        let alphabet = [
            '$', '.', 'a', 'Z', '1', '_', '-', '[', ']', '*', ' ', 'é', '\'',
        ];
        let mut texts = vec![String::new()];
        let mut answered = 0;
        for _ in 0..5 {
            let mut longer = Vec::new();
            for text in &texts {
                for c in alphabet {
                    let mut t = text.clone();
                    t.push(c);
                    if let Some(plain) = parse_plain(&t) {
                        assert_eq!(parse_full(&t), Ok(plain), "{t}");
                        answered += 1;
                    }
                    longer.push(t);
                }
            }
            texts = longer;
        }
        for t in [
            "$.a.b.c",
            "$$.Map.Item.Value",
            "$$.Execution.Input",
            "$var.field_1.x-y",
            "$_v",
            "$.0.1",
        ] {
            assert_eq!(parse_full(t), Ok(parse_plain(t).expect(t)), "{t}");
        }
        assert!(answered > 500, "the shortcut answered only {answered}");
        for t in [
            "$.a..b", "$..a", "$.a[0]", "$.a.", "$abé", "$.a b", "$.*", "$$a",
        ] {
            assert!(parse_plain(t).is_none(), "{t}");
        }
    }
}
