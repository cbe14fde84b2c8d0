//! The tokenizer, following jsonata-js token for token (positions count characters).

use crate::Error;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Name(String),
    Variable(String),
    Operator(&'static str),
    Str(String),
    Num(f64),
    True,
    False,
    Null,
    /// Pattern and flags of a `/.../flags` literal.
    Regex(String, String),
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

const OPERATORS: &[&str] = &[
    ".", "[", "]", "{", "}", "(", ")", ",", "@", "#", ";", ":", "?", "+", "-", "*", "/", "%", "|",
    "=", "<", ">", "^", "&", "!", "~",
];

fn is_operator_char(c: char) -> bool {
    matches!(
        c,
        '.' | '['
            | ']'
            | '{'
            | '}'
            | '('
            | ')'
            | ','
            | '@'
            | '#'
            | ';'
            | ':'
            | '?'
            | '+'
            | '-'
            | '*'
            | '/'
            | '%'
            | '|'
            | '='
            | '<'
            | '>'
            | '^'
            | '&'
            | '!'
            | '~'
    )
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}')
}

pub(crate) struct Lexer {
    src: Vec<char>,
    pos: usize,
}

impl Lexer {
    pub fn new(src: &str) -> Lexer {
        Lexer {
            src: src.chars().collect(),
            pos: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.src.len()
    }

    fn at(&self, i: usize) -> Option<char> {
        self.src.get(i).copied()
    }

    /// A token positioned, as in jsonata-js, just after its last character.
    fn token(&self, tok: Tok) -> Result<Option<Token>, Error> {
        Ok(Some(Token { tok, pos: self.pos }))
    }

    /// The next token; `infix` is jsonata's `prefix` flag: a `/` is division, not a regex.
    pub fn next(&mut self, infix: bool) -> Result<Option<Token>, Error> {
        loop {
            while self.at(self.pos).is_some_and(is_space) {
                self.pos += 1;
            }
            if self.at(self.pos) == Some('/') && self.at(self.pos + 1) == Some('*') {
                let start = self.pos;
                self.pos += 2;
                loop {
                    if self.pos + 1 >= self.src.len() {
                        return Err(Error::code("S0106").pos(start));
                    }
                    if self.at(self.pos) == Some('*') && self.at(self.pos + 1) == Some('/') {
                        self.pos += 2;
                        break;
                    }
                    self.pos += 1;
                }
                continue;
            }
            break;
        }
        let Some(c) = self.at(self.pos) else {
            return Ok(None);
        };
        let start = self.pos;
        if !infix && c == '/' {
            self.pos += 1;
            return self.scan_regex();
        }
        let c2 = self.at(self.pos + 1);
        let double = match (c, c2) {
            ('.', Some('.')) => Some(".."),
            (':', Some('=')) => Some(":="),
            ('!', Some('=')) => Some("!="),
            ('>', Some('=')) => Some(">="),
            ('<', Some('=')) => Some("<="),
            ('*', Some('*')) => Some("**"),
            ('~', Some('>')) => Some("~>"),
            ('?', Some(':')) => Some("?:"),
            ('?', Some('?')) => Some("??"),
            _ => None,
        };
        if let Some(op) = double {
            self.pos += 2;
            return self.token(Tok::Operator(op));
        }
        if is_operator_char(c) {
            self.pos += 1;
            let op = OPERATORS
                .iter()
                .find(|o| o.starts_with(c))
                .copied()
                .unwrap_or("?");
            return self.token(Tok::Operator(op));
        }
        if c == '"' || c == '\'' {
            self.pos += 1;
            let mut s = String::new();
            while let Some(ch) = self.at(self.pos) {
                if ch == '\\' {
                    self.pos += 1;
                    let esc = self.at(self.pos);
                    match esc {
                        Some('"') => s.push('"'),
                        Some('\\') => s.push('\\'),
                        Some('/') => s.push('/'),
                        Some('b') => s.push('\u{8}'),
                        Some('f') => s.push('\u{c}'),
                        Some('n') => s.push('\n'),
                        Some('r') => s.push('\r'),
                        Some('t') => s.push('\t'),
                        Some('u') => {
                            let hex: String = self
                                .src
                                .get(self.pos + 1..(self.pos + 5).min(self.src.len()))
                                .unwrap_or(&[])
                                .iter()
                                .collect();
                            if hex.len() == 4 && hex.chars().all(|h| h.is_ascii_hexdigit()) {
                                let mut cp = u32::from_str_radix(&hex, 16).unwrap_or(0xFFFD);
                                self.pos += 4;
                                // A surrogate pair spelled as two escapes.
                                if (0xD800..0xDC00).contains(&cp)
                                    && self.at(self.pos + 1) == Some('\\')
                                    && self.at(self.pos + 2) == Some('u')
                                {
                                    let lo: String = self
                                        .src
                                        .get(self.pos + 3..(self.pos + 7).min(self.src.len()))
                                        .unwrap_or(&[])
                                        .iter()
                                        .collect();
                                    if let Ok(l) = u32::from_str_radix(&lo, 16) {
                                        if (0xDC00..0xE000).contains(&l) {
                                            cp = 0x10000 + ((cp - 0xD800) << 10) + (l - 0xDC00);
                                            self.pos += 6;
                                        }
                                    }
                                }
                                s.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                            } else {
                                return Err(Error::code("S0104").pos(self.pos));
                            }
                        }
                        other => {
                            return Err(Error::code("S0103")
                                .pos(self.pos)
                                .token(other.map(String::from).unwrap_or_default()))
                        }
                    }
                } else if ch == c {
                    self.pos += 1;
                    return self.token(Tok::Str(s));
                } else {
                    s.push(ch);
                }
                self.pos += 1;
            }
            return Err(Error::code("S0101").pos(self.pos));
        }
        if c.is_ascii_digit() {
            let mut i = self.pos;
            if c == '0' {
                i += 1;
            } else {
                while self.at(i).is_some_and(|d| d.is_ascii_digit()) {
                    i += 1;
                }
            }
            if self.at(i) == Some('.') && self.at(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                i += 1;
                while self.at(i).is_some_and(|d| d.is_ascii_digit()) {
                    i += 1;
                }
            }
            if matches!(self.at(i), Some('e' | 'E')) {
                let mut j = i + 1;
                if matches!(self.at(j), Some('+' | '-')) {
                    j += 1;
                }
                if self.at(j).is_some_and(|d| d.is_ascii_digit()) {
                    while self.at(j).is_some_and(|d| d.is_ascii_digit()) {
                        j += 1;
                    }
                    i = j;
                }
            }
            let text: String = self.src[self.pos..i].iter().collect();
            let n: f64 = text.parse().unwrap_or(f64::NAN);
            if n.is_finite() {
                self.pos = i;
                return self.token(Tok::Num(n));
            }
            return Err(Error::code("S0102").pos(start).token(text));
        }
        if c == '`' {
            self.pos += 1;
            let rest = &self.src[self.pos..];
            if let Some(end) = rest.iter().position(|&x| x == '`') {
                let name: String = rest[..end].iter().collect();
                self.pos += end + 1;
                return self.token(Tok::Name(name));
            }
            self.pos = self.src.len();
            return Err(Error::code("S0105").pos(self.pos));
        }
        let mut i = self.pos;
        while let Some(ch) = self.at(i) {
            if is_space(ch) || is_operator_char(ch) {
                break;
            }
            i += 1;
        }
        if c == '$' {
            let name: String = self.src[self.pos + 1..i].iter().collect();
            self.pos = i;
            return self.token(Tok::Variable(name));
        }
        let name: String = self.src[self.pos..i].iter().collect();
        self.pos = i;
        match name.as_str() {
            "or" => self.token(Tok::Operator("or")),
            "and" => self.token(Tok::Operator("and")),
            "in" => self.token(Tok::Operator("in")),
            "true" => self.token(Tok::True),
            "false" => self.token(Tok::False),
            "null" => self.token(Tok::Null),
            "" => Ok(None),
            _ => self.token(Tok::Name(name)),
        }
    }

    fn scan_regex(&mut self) -> Result<Option<Token>, Error> {
        let start = self.pos;
        let mut depth: i64 = 0;
        while let Some(c) = self.at(self.pos) {
            if c == '/' && depth == 0 {
                let mut backslashes = 0;
                while self.pos > backslashes && self.at(self.pos - (backslashes + 1)) == Some('\\')
                {
                    backslashes += 1;
                }
                if backslashes % 2 == 0 {
                    let pattern: String = self.src[start..self.pos].iter().collect();
                    if pattern.is_empty() {
                        return Err(Error::code("S0301").pos(self.pos));
                    }
                    self.pos += 1;
                    let fstart = self.pos;
                    while matches!(self.at(self.pos), Some('i' | 'm')) {
                        self.pos += 1;
                    }
                    let flags: String = self.src[fstart..self.pos].iter().collect();
                    return self.token(Tok::Regex(pattern, flags));
                }
            }
            let prev_escape = self.pos > 0 && self.at(self.pos - 1) == Some('\\');
            if matches!(c, '(' | '[' | '{') && !prev_escape {
                depth += 1;
            }
            if matches!(c, ')' | ']' | '}') && !prev_escape {
                depth -= 1;
            }
            self.pos += 1;
        }
        Err(Error::code("S0302").pos(self.pos))
    }
}
