//! Parser of the intrinsic call syntax: `States.Name(arg, ...)`.

use serde_json::Number;

use crate::error::{IntrinsicError, Result};

/// AWS documents that a field may nest up to 10 intrinsic functions; the outermost call is
/// level 1. The limit also bounds the parser's recursion, so deep nesting is an error and
/// never a stack overflow.
pub(crate) const MAX_NESTING: usize = 10;

/// The 18 intrinsic functions of ASL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// `States.Format`
    Format,
    /// `States.StringToJson`
    StringToJson,
    /// `States.JsonToString`
    JsonToString,
    /// `States.Array`
    Array,
    /// `States.ArrayPartition`
    ArrayPartition,
    /// `States.ArrayContains`
    ArrayContains,
    /// `States.ArrayRange`
    ArrayRange,
    /// `States.ArrayGetItem`
    ArrayGetItem,
    /// `States.ArrayLength`
    ArrayLength,
    /// `States.ArrayUnique`
    ArrayUnique,
    /// `States.Base64Encode`
    Base64Encode,
    /// `States.Base64Decode`
    Base64Decode,
    /// `States.Hash`
    Hash,
    /// `States.JsonMerge`
    JsonMerge,
    /// `States.MathRandom`
    MathRandom,
    /// `States.MathAdd`
    MathAdd,
    /// `States.StringSplit`
    StringSplit,
    /// `States.UUID`
    Uuid,
}

const FUNCTIONS: [Function; 18] = [
    Function::Format,
    Function::StringToJson,
    Function::JsonToString,
    Function::Array,
    Function::ArrayPartition,
    Function::ArrayContains,
    Function::ArrayRange,
    Function::ArrayGetItem,
    Function::ArrayLength,
    Function::ArrayUnique,
    Function::Base64Encode,
    Function::Base64Decode,
    Function::Hash,
    Function::JsonMerge,
    Function::MathRandom,
    Function::MathAdd,
    Function::StringSplit,
    Function::Uuid,
];

impl Function {
    /// The ASL name, e.g. `States.Format`.
    pub fn name(self) -> &'static str {
        match self {
            Function::Format => "States.Format",
            Function::StringToJson => "States.StringToJson",
            Function::JsonToString => "States.JsonToString",
            Function::Array => "States.Array",
            Function::ArrayPartition => "States.ArrayPartition",
            Function::ArrayContains => "States.ArrayContains",
            Function::ArrayRange => "States.ArrayRange",
            Function::ArrayGetItem => "States.ArrayGetItem",
            Function::ArrayLength => "States.ArrayLength",
            Function::ArrayUnique => "States.ArrayUnique",
            Function::Base64Encode => "States.Base64Encode",
            Function::Base64Decode => "States.Base64Decode",
            Function::Hash => "States.Hash",
            Function::JsonMerge => "States.JsonMerge",
            Function::MathRandom => "States.MathRandom",
            Function::MathAdd => "States.MathAdd",
            Function::StringSplit => "States.StringSplit",
            Function::Uuid => "States.UUID",
        }
    }

    /// Names are case-sensitive in AWS (`States.format` is rejected).
    pub fn from_name(name: &str) -> Option<Function> {
        FUNCTIONS.iter().copied().find(|f| f.name() == name)
    }
}

/// A string literal keeps its escaped source form too: `States.Format` must tell an escaped
/// brace (`\{`, literal text) from a placeholder brace, which the unescaped value cannot.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StrLit {
    pub(crate) value: String,
    pub(crate) raw: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Str(StrLit),
    Number(Number),
    Bool(bool),
    Null,
    Path(String),
    Call(Call),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    pub(crate) function: Function,
    pub(crate) args: Vec<Arg>,
    /// The call's own source text, quoted in run-time error causes.
    pub(crate) text: String,
}

pub(crate) fn parse_call_expression(src: &str) -> Result<Call> {
    let mut parser = Parser { src, pos: 0 };
    let call = parser.call(1)?;
    parser.skip_ws();
    if parser.pos < src.len() {
        return Err(parser.error("unexpected text after the closing ')'"));
    }
    Ok(call)
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn slice(&self, start: usize) -> &'a str {
        self.src.get(start..self.pos).unwrap_or("")
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn error(&self, detail: &str) -> IntrinsicError {
        let at = self.src.get(..self.pos).map_or(0, |s| s.chars().count());
        IntrinsicError::parse(format!(
            "Invalid intrinsic function call '{}': {detail} at character {at}",
            self.src
        ))
    }

    fn call(&mut self, depth: usize) -> Result<Call> {
        if depth > MAX_NESTING {
            return Err(self.error(&format!(
                "intrinsic functions can be nested at most {MAX_NESTING} levels deep"
            )));
        }
        let start = self.pos;
        let name = self.identifier();
        if name.is_empty() {
            return Err(self.error("expected an intrinsic function name such as 'States.Format'"));
        }
        let function = Function::from_name(name).ok_or_else(|| {
            self.error(&format!("'{name}' is not a supported intrinsic function"))
        })?;
        if self.bump() != Some('(') {
            return Err(self.error(&format!("expected '(' after '{name}'")));
        }
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.bump();
        } else {
            loop {
                self.skip_ws();
                args.push(self.arg(depth)?);
                self.skip_ws();
                match self.bump() {
                    Some(',') => continue,
                    Some(')') => break,
                    Some(_) => return Err(self.error("expected ',' or ')' after an argument")),
                    None => return Err(self.error("missing ')' at the end of the call")),
                }
            }
        }
        Ok(Call {
            function,
            args,
            text: self.slice(start).to_owned(),
        })
    }

    fn identifier(&mut self) -> &'a str {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            self.bump();
        }
        self.slice(start)
    }

    fn arg(&mut self, depth: usize) -> Result<Arg> {
        match self.peek() {
            Some('\'') => self.string().map(Arg::Str),
            Some('$') => Ok(Arg::Path(self.path().to_owned())),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number().map(Arg::Number),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                let word = self.identifier();
                match word {
                    "true" => Ok(Arg::Bool(true)),
                    "false" => Ok(Arg::Bool(false)),
                    "null" => Ok(Arg::Null),
                    _ if self.peek() == Some('(') => {
                        self.pos = start;
                        self.call(depth + 1).map(Arg::Call)
                    }
                    _ => Err(self.error(&format!("'{word}' is not a valid argument"))),
                }
            }
            Some(')') | Some(',') => Err(self.error("missing argument")),
            Some(c) => Err(self.error(&format!("unexpected character '{c}'"))),
            None => Err(self.error("missing ')' at the end of the call")),
        }
    }

    /// `'...'` with the escapes `\'`, `\{`, `\}` and `\\`. Any other backslash sequence is
    /// rejected, as AWS rejects `\n` in an intrinsic string at definition time.
    fn string(&mut self) -> Result<StrLit> {
        self.bump();
        let mut value = String::new();
        let mut raw = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error("unterminated string literal")),
                Some('\'') => return Ok(StrLit { value, raw }),
                Some('\\') => match self.bump() {
                    Some(c @ ('\'' | '{' | '}' | '\\')) => {
                        value.push(c);
                        raw.push('\\');
                        raw.push(c);
                    }
                    Some(c) => {
                        return Err(self.error(&format!(
                            "invalid escape sequence '\\{c}' in a string literal (only \\', \\{{, \\}} and \\\\ are allowed)"
                        )))
                    }
                    None => return Err(self.error("unterminated string literal")),
                },
                Some(c) => {
                    value.push(c);
                    raw.push(c);
                }
            }
        }
    }

    /// A path argument runs to the `,` or `)` that ends the argument. Brackets, the parentheses
    /// of filters and quoted names inside brackets are skipped over, so
    /// `$.a[?(@.b == 'x,y')]` stays one argument.
    fn path(&mut self) -> &'a str {
        let start = self.pos;
        let mut brackets = 0usize;
        let mut parens = 0usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek() {
            if let Some(q) = quote {
                self.bump();
                if c == '\\' {
                    self.bump();
                } else if c == q {
                    quote = None;
                }
                continue;
            }
            let nested = brackets > 0 || parens > 0;
            match c {
                '\'' | '"' if brackets > 0 => quote = Some(c),
                '[' => brackets += 1,
                ']' if brackets > 0 => brackets -= 1,
                '(' => parens += 1,
                ')' if parens > 0 => parens -= 1,
                ')' | ',' if !nested => break,
                c if c.is_whitespace() && !nested => break,
                _ => {}
            }
            self.bump();
        }
        self.slice(start)
    }

    /// JSON number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Result<Number> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.bump();
        }
        match self.peek() {
            Some('0') => {
                self.bump();
            }
            Some(c) if c.is_ascii_digit() => self.digits(),
            _ => return Err(self.error("invalid number")),
        }
        let mut integral = true;
        if self.peek() == Some('.') {
            integral = false;
            self.bump();
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(self.error("invalid number: expected a digit after '.'"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            integral = false;
            self.bump();
            if matches!(self.peek(), Some('+' | '-')) {
                self.bump();
            }
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(self.error("invalid number: expected a digit in the exponent"));
            }
            self.digits();
        }
        if self
            .peek()
            .is_some_and(|c| !(c.is_whitespace() || c == ',' || c == ')'))
        {
            return Err(self.error("invalid number"));
        }
        let text = self.slice(start);
        if integral {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Number::from(i));
            }
        }
        text.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .ok_or_else(|| self.error("number out of range"))
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
    }
}
