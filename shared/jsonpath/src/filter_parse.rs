//! The filter compiler: Jayway's `FilterCompiler`, which reads `[?( ... )]`.
//!
//! Its grammar, with Jayway's precedence (`&&` binds tighter than `||`):
//! ```text
//! or      = and { '||' and }
//! and     = operand { '&&' operand }
//! operand = '!' operand | '(' or ')' | value [ operator value ]
//! ```
//! A path operand runs until a space, an operator character (`<>=~!`) or a closing
//! parenthesis, then compiles as a path of its own: `@.a&&@.b` is therefore one odd path,
//! not a conjunction, exactly as in Jayway. A value with no operator after it must be a
//! path and tests existence. Only the space counts as blank.

use crate::filter::{Expr, LitNum, Operand, Pattern, RelOp};
use crate::java::{unescape, Decimal};
use crate::parse::{matching_close, next_unescaped, parse_filter_path, Limits};
use crate::PathError;
use serde_json::Value;

/// Compiles `criteria`, the full `[?(...)]` text.
pub(crate) fn compile(criteria: &[char], limits: &mut Limits) -> Result<Expr, PathError> {
    let text = || criteria.iter().collect::<String>();
    let Some(last) = criteria.len().checked_sub(1) else {
        return Err(PathError::syntax("Filter must not be empty"));
    };
    let mut f = FilterParser {
        chars: criteria,
        pos: 0,
        end: last,
        limits,
    };
    f.trim();
    if f.current() != Some('[') || f.chars.get(f.end) != Some(&']') {
        return Err(PathError::syntax(format!(
            "Filter must start with '[' and end with ']'. {}",
            text()
        )));
    }
    f.pos += 1;
    f.end = f.end.saturating_sub(1);
    f.trim();
    if f.current() != Some('?') {
        return Err(PathError::syntax(format!(
            "Filter must start with '[?' and end with ']'. {}",
            text()
        )));
    }
    f.pos += 1;
    f.trim();
    if f.current() != Some('(') || f.chars.get(f.end) != Some(&')') {
        return Err(PathError::syntax(format!(
            "Filter must start with '[?(' and end with ')]'. {}",
            text()
        )));
    }
    let expr = f.logical_or()?;
    f.skip_blanks();
    if f.in_bounds(f.pos) {
        let rest: String = f.chars[f.pos..=f.end].iter().collect();
        return Err(PathError::syntax(format!(
            "Expected end of filter expression instead of: {rest}"
        )));
    }
    Ok(expr)
}

struct FilterParser<'c, 'l> {
    chars: &'c [char],
    pos: usize,
    /// Last index of the text still to read (inclusive), as Jayway's `CharacterIndex`.
    end: usize,
    limits: &'l mut Limits,
}

fn is_operator_char(c: char) -> bool {
    matches!(c, '<' | '>' | '=' | '~' | '!')
}

impl FilterParser<'_, '_> {
    fn in_bounds(&self, i: usize) -> bool {
        i <= self.end && i < self.chars.len()
    }

    fn current(&self) -> Option<char> {
        self.in_bounds(self.pos).then(|| self.chars[self.pos])
    }

    fn skip_blanks(&mut self) {
        while self.pos < self.end && self.current() == Some(' ') {
            self.pos += 1;
        }
    }

    fn trim(&mut self) {
        self.skip_blanks();
        while self.pos < self.end && self.chars.get(self.end) == Some(&' ') {
            self.end -= 1;
        }
    }

    fn error(&self, message: &str) -> PathError {
        let text: String = self.chars.iter().collect();
        PathError::syntax(format!(
            "Failed to parse filter {text} at position {}: {message}",
            self.pos
        ))
    }

    fn read_significant(&mut self, c: char) -> Result<(), PathError> {
        self.skip_blanks();
        if self.current() != Some(c) {
            return Err(self.error(&format!("expected character: {c}")));
        }
        self.pos += 1;
        Ok(())
    }

    fn has_significant(&mut self, s: &str) -> bool {
        self.skip_blanks();
        let len = s.chars().count();
        if !self.in_bounds(self.pos + len - 1) {
            return false;
        }
        if !self.chars[self.pos..self.pos + len]
            .iter()
            .copied()
            .eq(s.chars())
        {
            return false;
        }
        self.pos += len;
        true
    }

    fn logical_or(&mut self) -> Result<Expr, PathError> {
        self.chain("||", Self::logical_and, Expr::Or)
    }

    fn logical_and(&mut self) -> Result<Expr, PathError> {
        self.chain("&&", Self::and_operand, Expr::And)
    }

    /// Operands joined by `op` (`&&` binds tighter than `||`, so `||` chains `&&` chains).
    fn chain(
        &mut self,
        op: &str,
        operand: fn(&mut Self) -> Result<Expr, PathError>,
        joined: fn(Vec<Expr>) -> Expr,
    ) -> Result<Expr, PathError> {
        let mut ops = vec![operand(self)?];
        loop {
            let save = self.pos;
            if self.has_significant(op) {
                ops.push(operand(self)?);
            } else {
                self.pos = save;
                break;
            }
        }
        Ok(if ops.len() == 1 {
            ops.swap_remove(0)
        } else {
            joined(ops)
        })
    }

    fn and_operand(&mut self) -> Result<Expr, PathError> {
        self.skip_blanks();
        let save = self.pos;
        if self.current() == Some('!') {
            self.pos += 1;
            self.skip_blanks();
            if matches!(self.current(), Some('$' | '@')) {
                // `!@.a` is a negated existence test, read as a value.
                self.pos = save;
            } else {
                self.limits.enter()?;
                let inner = self.and_operand()?;
                self.limits.leave();
                return Ok(Expr::Not(Box::new(inner)));
            }
        }
        self.skip_blanks();
        if self.current() == Some('(') {
            self.pos += 1;
            self.limits.enter()?;
            let inner = self.logical_or()?;
            self.limits.leave();
            self.read_significant(')')?;
            return Ok(inner);
        }
        self.expression()
    }

    /// `value [operator value]`. Jayway tries the operator and, when the text there is
    /// not one, backs up and treats the value as an existence test.
    fn expression(&mut self) -> Result<Expr, PathError> {
        let left = self.value()?;
        let save = self.pos;
        if let Some(op) = self.operator() {
            let right = self.value()?;
            return Ok(Expr::Rel(left, op, right));
        }
        self.pos = save;
        match left {
            Operand::Path { path, negated } => Ok(Expr::Exists {
                path,
                expect: !negated,
            }),
            _ => Err(self.error("a value without an operator must be a path")),
        }
    }

    /// Operator characters run together (`==`, `<=`, `=~`); a word operator runs to the
    /// next space. Case does not matter (`IN`, `in`).
    fn operator(&mut self) -> Option<RelOp> {
        self.skip_blanks();
        let begin = self.pos;
        if self.current().is_some_and(is_operator_char) {
            while self.current().is_some_and(is_operator_char) {
                self.pos += 1;
            }
        } else {
            while self.current().is_some_and(|c| c != ' ') {
                self.pos += 1;
            }
        }
        let text: String = self.chars[begin..self.pos].iter().collect();
        RelOp::from_jayway(&text.to_uppercase())
    }

    fn value(&mut self) -> Result<Operand, PathError> {
        self.skip_blanks();
        match self.current() {
            Some('$' | '@') => self.path(),
            Some('!') => {
                self.pos += 1;
                self.skip_blanks();
                match self.current() {
                    Some('$' | '@') => self.path(),
                    _ => Err(self.error("unexpected character: !")),
                }
            }
            _ => self.literal(),
        }
    }

    fn previous_significant(&self) -> Option<char> {
        self.chars[..self.pos]
            .iter()
            .rev()
            .find(|c| **c != ' ')
            .copied()
    }

    /// Jayway treats `)` as part of the path when it closes a function call (`@.x.length()`).
    fn closes_function(&self, begin: usize) -> bool {
        let Some(open) = self.chars[..self.pos].iter().rposition(|c| *c != ' ') else {
            return false;
        };
        self.chars[open] == '(' && self.chars[begin + 1..open].contains(&'.')
    }

    fn path(&mut self) -> Result<Operand, PathError> {
        let negated = self.previous_significant() == Some('!');
        let begin = self.pos;
        self.pos += 1;
        while self.in_bounds(self.pos) {
            if self.chars[self.pos] == '[' {
                let close = matching_close(self.chars, self.pos, self.end + 1, ('[', ']'), false)?
                    .ok_or_else(|| self.error("square brackets do not match"))?;
                self.pos = close + 1;
                if !self.in_bounds(self.pos) {
                    break;
                }
            }
            let c = self.chars[self.pos];
            if is_operator_char(c) || c == ' ' || (c == ')' && !self.closes_function(begin)) {
                break;
            }
            self.pos += 1;
        }
        let path = parse_filter_path(&self.chars[begin..self.pos], self.limits)?;
        Ok(Operand::Path { path, negated })
    }

    fn literal(&mut self) -> Result<Operand, PathError> {
        match self.current() {
            Some(quote @ ('\'' | '"')) => {
                let close =
                    next_unescaped(self.chars, self.pos, quote, self.end + 1).ok_or_else(|| {
                        self.error(&format!("string literal is missing its closing {quote}"))
                    })?;
                let raw: String = self.chars[self.pos + 1..close].iter().collect();
                self.pos = close + 1;
                let text = unescape(&raw)
                    .ok_or_else(|| self.error("invalid unicode escape in string literal"))?;
                Ok(Operand::Str(text.into_owned()))
            }
            Some('t' | 'f') => {
                for (word, value) in [("true", true), ("false", false)] {
                    if self.has_word(word) {
                        return Ok(Operand::Bool(value));
                    }
                }
                Err(self.error("expected boolean literal"))
            }
            Some('n') => {
                if self.has_word("null") {
                    return Ok(Operand::Null);
                }
                Err(self.error("expected <null> value"))
            }
            Some(open @ ('{' | '[')) => {
                let close = if open == '{' { '}' } else { ']' };
                let end = matching_close(self.chars, self.pos, self.end + 1, (open, close), false)?
                    .ok_or_else(|| self.error("JSON literal is not closed"))?;
                let text: String = self.chars[self.pos..=end].iter().collect();
                self.pos = end + 1;
                let value = parse_lenient_json(&text)
                    .ok_or_else(|| self.error(&format!("invalid JSON literal {text}")))?;
                Ok(Operand::Json(value))
            }
            Some('/') => {
                let close = next_unescaped(self.chars, self.pos, '/', self.end + 1)
                    .ok_or_else(|| self.error("regular expression is not closed"))?;
                let source: String = self.chars[self.pos + 1..close].iter().collect();
                self.pos = close + 1;
                let flags_start = self.pos;
                while self.current().is_some_and(|c| c.is_ascii_alphabetic()) {
                    self.pos += 1;
                }
                let flags: String = self.chars[flags_start..self.pos].iter().collect();
                let pattern = Pattern::new(&source, &flags).map_err(|e| {
                    self.error(&format!("invalid regular expression /{source}/: {e}"))
                })?;
                Ok(Operand::Pattern(pattern))
            }
            _ => {
                let begin = self.pos;
                while self
                    .current()
                    .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '.' | 'e' | 'E'))
                {
                    self.pos += 1;
                }
                let text: String = self.chars[begin..self.pos].iter().collect();
                let decimal = Decimal::parse(&text)
                    .ok_or_else(|| self.error(&format!("invalid number '{text}'")))?;
                Ok(Operand::Num(LitNum::new(&decimal)))
            }
        }
    }

    /// Jayway reads `true`, `false` and `null` by length, whatever follows.
    fn has_word(&mut self, word: &str) -> bool {
        let len = word.chars().count();
        if self.in_bounds(self.pos + len - 1)
            && self.chars[self.pos..self.pos + len]
                .iter()
                .copied()
                .eq(word.chars())
        {
            self.pos += len;
            return true;
        }
        false
    }
}

/// JSON as Jayway's JSON literals accept it: standard JSON, or with strings in single
/// quotes (json-smart's permissive mode, which Jayway uses to read them).
pub(crate) fn parse_lenient_json(text: &str) -> Option<Value> {
    if let Ok(value) = serde_json::from_str(text) {
        return Some(value);
    }
    if !text.contains('\'') {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push('"');
                while let Some(inner) = chars.next() {
                    out.push(inner);
                    if inner == '\\' {
                        out.extend(chars.next());
                    } else if inner == '"' {
                        break;
                    }
                }
            }
            '\'' => {
                out.push('"');
                while let Some(inner) = chars.next() {
                    match inner {
                        '\\' => match chars.next() {
                            Some('\'') => out.push('\''),
                            Some(other) => {
                                out.push('\\');
                                out.push(other);
                            }
                            None => out.push('\\'),
                        },
                        '"' => out.push_str("\\\""),
                        '\'' => break,
                        other => out.push(other),
                    }
                }
                out.push('"');
            }
            other => out.push(other),
        }
    }
    serde_json::from_str(&out).ok()
}
