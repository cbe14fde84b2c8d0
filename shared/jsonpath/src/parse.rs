//! The path parser: hand-written because AWS's dialect is Jayway's, which no crate reproduces.

use crate::filter::{CmpOp, Expr, Operand};
use crate::{Path, PathError, PathErrorKind, Root, Segment, Selector, MAX_DEPTH};
use serde_json::Value;

pub(crate) fn parse(src: &str) -> Result<Path, PathError> {
    let mut p = Parser {
        chars: src.chars().collect(),
        pos: 0,
        depth: 0,
        filters: 0,
    };
    let root = p.root()?;
    let segments = p.segments(false)?;
    if p.pos < p.chars.len() {
        return Err(p.unexpected());
    }
    Ok(Path {
        src: src.to_owned(),
        root,
        segments,
    })
}

pub(crate) struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
    /// Filters inside filters: each level multiplies the evaluation cost by the
    /// document size, so the nesting is kept small.
    filters: usize,
}

const MAX_FILTER_NESTING: usize = 4;

/// Characters that end a dot-notation name inside a filter expression, where the
/// name is followed by an operator rather than by the end of the path.
fn ends_name_in_filter(c: char) -> bool {
    matches!(c, '=' | '<' | '>' | '!' | '&' | '|' | ')' | ',' | '~') || c.is_whitespace()
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }
    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
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
    fn enter(&mut self) -> Result<(), PathError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(PathError::syntax(format!(
                "Path nesting exceeds the maximum depth of {MAX_DEPTH}"
            )));
        }
        Ok(())
    }
    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn root(&mut self) -> Result<Root, PathError> {
        if !self.eat('$') {
            return Err(PathError::syntax("Path must start with '$'"));
        }
        if self.eat('$') {
            return Ok(Root::Context);
        }
        if self.peek().is_some_and(|c| c.is_alphabetic() || c == '_') {
            let start = self.pos;
            while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                self.pos += 1;
            }
            let name: String = self.chars[start..self.pos].iter().collect();
            return Ok(Root::Variable(name));
        }
        Ok(Root::Input)
    }

    /// Segments until the end of the text or, inside a filter, until something
    /// that is not a segment (an operator, a parenthesis).
    fn segments(&mut self, in_filter: bool) -> Result<Vec<Segment>, PathError> {
        let mut out = Vec::new();
        loop {
            match self.peek() {
                Some('.') if self.peek_at(1) == Some('.') => {
                    self.pos += 2;
                    let sel = match self.peek() {
                        Some('[') => self.bracket()?,
                        Some('*') => {
                            self.pos += 1;
                            Selector::Wildcard
                        }
                        _ => Selector::Names(vec![self.dot_name(in_filter)?]),
                    };
                    out.push(Segment::Descendant(sel));
                }
                Some('.') => {
                    self.pos += 1;
                    if self.eat('*') {
                        out.push(Segment::Child(Selector::Wildcard));
                    } else {
                        let name = self.dot_name(in_filter)?;
                        out.push(Segment::Child(Selector::Names(vec![name])));
                    }
                }
                Some('[') => {
                    let sel = self.bracket()?;
                    out.push(Segment::Child(sel));
                }
                None => return Ok(out),
                Some(_) if in_filter => return Ok(out),
                Some(_) => return Err(self.unexpected()),
            }
        }
    }

    fn dot_name(&mut self, in_filter: bool) -> Result<String, PathError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if matches!(c, '.' | '[' | '(' | ']' | '\'' | '"')
                || c.is_whitespace()
                || (in_filter && ends_name_in_filter(c))
            {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.unexpected());
        }
        if self.peek() == Some('(') {
            return Err(PathError::new(
                PathErrorKind::Unsupported,
                "JSONPath functions such as length() are not supported",
            ));
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    /// `[...]`, positioned on the `[`.
    fn bracket(&mut self) -> Result<Selector, PathError> {
        self.enter()?;
        self.pos += 1;
        self.skip_ws();
        let sel = match self.peek() {
            Some('*') => {
                self.pos += 1;
                Selector::Wildcard
            }
            Some('?') => {
                self.pos += 1;
                self.skip_ws();
                if !self.eat('(') {
                    return Err(self.unexpected());
                }
                self.filters += 1;
                if self.filters > MAX_FILTER_NESTING {
                    return Err(PathError::syntax(format!(
                        "Filters nest deeper than {MAX_FILTER_NESTING} levels"
                    )));
                }
                let expr = self.or_expr()?;
                self.filters -= 1;
                self.skip_ws();
                if !self.eat(')') {
                    return Err(self.unexpected());
                }
                Selector::Filter(Box::new(expr))
            }
            Some('\'' | '"') => {
                let mut names = vec![self.quoted()?];
                loop {
                    self.skip_ws();
                    if !self.eat(',') {
                        break;
                    }
                    self.skip_ws();
                    names.push(self.quoted()?);
                }
                Selector::Names(names)
            }
            Some(c) if c == '-' || c == ':' || c.is_ascii_digit() => self.indexes_or_slice()?,
            Some('(') => {
                return Err(PathError::new(
                    PathErrorKind::Unsupported,
                    "JSONPath script expressions such as [(@.length-1)] are not supported",
                ))
            }
            _ => return Err(self.unexpected()),
        };
        self.skip_ws();
        if !self.eat(']') {
            return Err(self.unexpected());
        }
        self.leave();
        Ok(sel)
    }

    /// A quoted name. Like the Jayway version AWS runs, a backslash keeps the next
    /// character from closing the string but stays in the name as written
    /// (`$['a\"b']` reads the key `a\"b`, which the corpus confirms).
    fn quoted(&mut self) -> Result<String, PathError> {
        let Some(quote) = self.peek().filter(|c| *c == '\'' || *c == '"') else {
            return Err(self.unexpected());
        };
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        loop {
            let Some(c) = self.peek() else {
                return Err(PathError::syntax(
                    "Property has not been closed - missing closing quote",
                ));
            };
            self.pos += 1;
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == quote {
                break;
            }
        }
        Ok(self.chars[start..self.pos - 1].iter().collect())
    }

    fn int(&mut self) -> Result<Option<i64>, PathError> {
        self.skip_ws();
        let start = self.pos;
        self.eat('-');
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == start {
            return Ok(None);
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        let n = text
            .parse::<i64>()
            .map_err(|_| PathError::syntax(format!("Invalid array index '{text}'")))?;
        self.skip_ws();
        Ok(Some(n))
    }

    fn indexes_or_slice(&mut self) -> Result<Selector, PathError> {
        let first = self.int()?;
        if self.eat(':') {
            let end = self.int()?;
            let step = if self.eat(':') { self.int()? } else { None };
            if step == Some(0) {
                return Err(PathError::syntax("Array slice step must not be 0"));
            }
            return Ok(Selector::Slice {
                start: first,
                end,
                step,
            });
        }
        let Some(first) = first else {
            return Err(self.unexpected());
        };
        let mut out = vec![first];
        while self.eat(',') {
            match self.int()? {
                Some(n) => out.push(n),
                None => return Err(self.unexpected()),
            }
        }
        Ok(Selector::Indexes(out))
    }

    // ---- filter expressions ----

    fn or_expr(&mut self) -> Result<Expr, PathError> {
        self.enter()?;
        let mut left = self.and_expr()?;
        loop {
            self.skip_ws();
            if self.peek() == Some('|') && self.peek_at(1) == Some('|') {
                self.pos += 2;
                let right = self.and_expr()?;
                left = Expr::Or(Box::new(left), Box::new(right));
            } else {
                break;
            }
        }
        self.leave();
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, PathError> {
        let mut left = self.unary()?;
        loop {
            self.skip_ws();
            if self.peek() == Some('&') && self.peek_at(1) == Some('&') {
                self.pos += 2;
                let right = self.unary()?;
                left = Expr::And(Box::new(left), Box::new(right));
            } else {
                break;
            }
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, PathError> {
        self.skip_ws();
        if self.peek() == Some('!') && self.peek_at(1) != Some('=') {
            self.pos += 1;
            self.enter()?;
            let inner = self.unary()?;
            self.leave();
            return Ok(Expr::Not(Box::new(inner)));
        }
        if self.eat('(') {
            let inner = self.or_expr()?;
            self.skip_ws();
            if !self.eat(')') {
                return Err(self.unexpected());
            }
            return Ok(inner);
        }
        let left = self.operand()?;
        self.skip_ws();
        let op = match (self.peek(), self.peek_at(1)) {
            (Some('='), Some('=')) => Some((CmpOp::Eq, 2)),
            (Some('!'), Some('=')) => Some((CmpOp::Ne, 2)),
            (Some('<'), Some('=')) => Some((CmpOp::Le, 2)),
            (Some('>'), Some('=')) => Some((CmpOp::Ge, 2)),
            (Some('<'), _) => Some((CmpOp::Lt, 1)),
            (Some('>'), _) => Some((CmpOp::Gt, 1)),
            (Some('='), Some('~')) => {
                return Err(PathError::new(
                    PathErrorKind::Unsupported,
                    "Regular expression filters (=~) are not supported",
                ))
            }
            (Some(c), _) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                let mut end = start;
                while self.chars.get(end).is_some_and(char::is_ascii_alphabetic) {
                    end += 1;
                }
                let word: String = self.chars[start..end].iter().collect();
                return Err(PathError::new(
                    PathErrorKind::Unsupported,
                    format!("Filter operator '{word}' is not supported"),
                ));
            }
            _ => None,
        };
        let Some((op, len)) = op else {
            return match left {
                Operand::Path(p) => Ok(Expr::Exists(p)),
                _ => Err(self.unexpected()),
            };
        };
        self.pos += len;
        let right = self.operand()?;
        Ok(Expr::Cmp(left, op, right))
    }

    fn operand(&mut self) -> Result<Operand, PathError> {
        self.skip_ws();
        match self.peek() {
            Some('@') => {
                self.pos += 1;
                let segments = self.segments(true)?;
                Ok(Operand::Path(crate::filter::RelPath {
                    absolute: false,
                    segments,
                }))
            }
            Some('$') => {
                self.pos += 1;
                let segments = self.segments(true)?;
                Ok(Operand::Path(crate::filter::RelPath {
                    absolute: true,
                    segments,
                }))
            }
            Some('\'' | '"') => {
                let s = self.quoted()?;
                Ok(Operand::Literal(Value::String(unescape_literal(&s))))
            }
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let start = self.pos;
                self.pos += 1;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
                {
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                let v: Value = serde_json::from_str(&text)
                    .ok()
                    .filter(Value::is_number)
                    .ok_or_else(|| {
                        PathError::syntax(format!("Invalid number '{text}' in filter"))
                    })?;
                Ok(Operand::Literal(v))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                    self.pos += 1;
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                match word.as_str() {
                    "true" => Ok(Operand::Literal(Value::Bool(true))),
                    "false" => Ok(Operand::Literal(Value::Bool(false))),
                    "null" => Ok(Operand::Literal(Value::Null)),
                    _ => Err(PathError::new(
                        PathErrorKind::Unsupported,
                        format!("Filter operator or literal '{word}' is not supported"),
                    )),
                }
            }
            _ => Err(self.unexpected()),
        }
    }
}

/// String literals in filters compare by their meaning, so `\'` stands for `'`.
fn unescape_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}
