//! Filter expressions `[?(...)]`, evaluated with Jayway's comparison rules.
//!
//! Jayway compares "value nodes": a path operand yields a number, a string, a boolean,
//! null, a JSON node (object or array; an indefinite path yields the array of its
//! matches) or UNDEFINED when a definite path selects nothing. The rules that follow,
//! taken from its `EvaluatorFactory` and `ValueNodes`:
//! - `==`: numbers by value; a number equals a string that reads as the same decimal
//!   (`'42' == 42`), the string side comparing texts; JSON nodes structurally (when the
//!   left one comes from the document); UNDEFINED equals nothing. `!=` is its negation,
//!   so a missing operand is "not equal". `===`/`!==` also require the same kind.
//! - `<`, `<=`, `>`, `>=`: numbers with numbers, strings with strings (UTF-16 order);
//!   anything else, a number against a string included, is false.
//! - `=~`: a `/regex/flags` on one side, matched against the whole text of the other
//!   (a number's decimal text, `true`/`false`, or "" for anything else).
//! - `in`, `nin`, `subsetof`, `anyof`, `noneof`, `contains`: against arrays; `size`
//!   against a string's length or an array's; `empty` with a boolean.
//! - An evaluation Jayway aborts with an invalid-path error (`in` with no array on the
//!   right, `all`, `type`, `matches`, `empty` with a non-boolean) rejects the item.

use crate::eval::{run, walk_direct, Env, Miss};
use crate::java::{self, compare_strings, java_trim, utf16_len, Decimal};
use crate::{Segment, Selector};
use serde_json::{Number, Value};
use std::borrow::Cow;
use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    /// A path alone (`@.x`, or `!@.x` with `expect` false): whether it selects something.
    Exists {
        path: RelPath,
        expect: bool,
    },
    Rel(Operand, RelOp, Operand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RelOp {
    Eq,
    TypeSafeEq,
    Ne,
    TypeSafeNe,
    Lt,
    Le,
    Gt,
    Ge,
    Regex,
    In,
    Nin,
    Contains,
    All,
    Size,
    Exists,
    Type,
    Matches,
    Empty,
    SubsetOf,
    AnyOf,
    NoneOf,
}

impl RelOp {
    /// Jayway's `RelationalOperator.fromString`, given the upper-cased text.
    pub(crate) fn from_jayway(text: &str) -> Option<RelOp> {
        Some(match text {
            ">=" => RelOp::Ge,
            "<=" => RelOp::Le,
            "==" => RelOp::Eq,
            "===" => RelOp::TypeSafeEq,
            "!=" => RelOp::Ne,
            "!==" => RelOp::TypeSafeNe,
            "<" => RelOp::Lt,
            ">" => RelOp::Gt,
            "=~" => RelOp::Regex,
            "NIN" => RelOp::Nin,
            "IN" => RelOp::In,
            "CONTAINS" => RelOp::Contains,
            "ALL" => RelOp::All,
            "SIZE" => RelOp::Size,
            "EXISTS" => RelOp::Exists,
            "TYPE" => RelOp::Type,
            "MATCHES" => RelOp::Matches,
            "EMPTY" => RelOp::Empty,
            "SUBSETOF" => RelOp::SubsetOf,
            "ANYOF" => RelOp::AnyOf,
            "NONEOF" => RelOp::NoneOf,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    /// `negated` records a `!` before the path, which only matters for existence tests.
    Path {
        path: RelPath,
        negated: bool,
    },
    Str(String),
    Num(LitNum),
    Bool(bool),
    Null,
    /// A JSON object or array literal (`['a', 'b']`, `{"k": 1}`).
    Json(Value),
    Pattern(Pattern),
}

/// A number literal, kept as Jayway's `BigDecimal` would see it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LitNum {
    value: f64,
    int: Option<i128>,
    /// `BigDecimal.toString()`, for comparisons with strings and regexes.
    text: String,
}

impl LitNum {
    pub(crate) fn new(decimal: &Decimal) -> LitNum {
        LitNum {
            value: decimal.to_f64(),
            int: decimal.to_int(),
            text: decimal.to_java_string(),
        }
    }
}

/// A `/regex/flags` literal. Java's `Matcher.matches()` needs the whole text to match.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    source: String,
    flags: String,
    regex: regex::Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source && self.flags == other.flags
    }
}

/// Compiled regexes stay small: a filter runs for every item of every array it meets.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl Pattern {
    pub(crate) fn new(source: &str, flags: &str) -> Result<Pattern, regex::Error> {
        // Free-spacing mode turns `#` into a comment to the end of the line, which must
        // not swallow the closing anchor.
        let extended = flags.contains('x');
        let anchored = if extended {
            format!("\\A(?:{source}\n)\\z")
        } else {
            format!("\\A(?:{source})\\z")
        };
        let regex = regex::RegexBuilder::new(&anchored)
            .case_insensitive(flags.contains('i'))
            .multi_line(flags.contains('m'))
            .dot_matches_new_line(flags.contains('s'))
            .ignore_whitespace(extended)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()?;
        Ok(Pattern {
            source: source.to_owned(),
            flags: flags.to_owned(),
            regex,
        })
    }
}

/// `@...` (relative to the candidate) or `$...` (relative to the document root).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RelPath {
    absolute: bool,
    segments: Vec<Segment>,
    /// Jayway's definiteness: a definite path yields one value or UNDEFINED, an
    /// indefinite one the array of its matches.
    definite: bool,
    /// Only single names and indexes: walked without the general machinery.
    direct: bool,
}

impl RelPath {
    pub(crate) fn new(absolute: bool, segments: Vec<Segment>) -> RelPath {
        let last = segments.len().saturating_sub(1);
        let definite = segments
            .iter()
            .enumerate()
            .all(|(i, s)| crate::eval::token_definite(s, i == last));
        let direct = segments.iter().all(|s| {
            matches!(s, Segment::Child(Selector::Names(n)) if n.len() == 1)
                || matches!(s, Segment::Child(Selector::Indexes(i)) if i.len() == 1)
        });
        RelPath {
            absolute,
            segments,
            definite,
            direct,
        }
    }

    fn start<'a>(&self, item: &'a Value, env: &Env<'a>) -> &'a Value {
        if self.absolute {
            env.root
        } else {
            item
        }
    }

    /// Jayway evaluates an existence test with `REQUIRE_PROPERTIES`: any missing
    /// property on the way fails it, while an indefinite path that matches nothing
    /// still "exists".
    fn exists<'a>(&'a self, item: &'a Value, env: &Env<'a>) -> Result<bool, Abort> {
        let start = self.start(item, env);
        if self.direct {
            return Ok(walk_direct(&self.segments, start).is_some());
        }
        let strict = env.nested(true);
        let mut out = Vec::new();
        match run(&self.segments, start, &strict, &mut out) {
            Ok(()) => Ok(!self.definite || !out.is_empty()),
            Err(Miss::NotFound) => Ok(false),
            Err(Miss::Abort) => Err(Abort),
        }
    }

    fn value<'a>(&'a self, item: &'a Value, env: &Env<'a>) -> Result<Val<'a>, Abort> {
        let start = self.start(item, env);
        if self.direct {
            return Ok(walk_direct(&self.segments, start).map_or(Val::Undefined, Val::from_doc));
        }
        let mut out = Vec::new();
        match run(&self.segments, start, &env.nested(env.strict), &mut out) {
            Ok(()) if self.definite => Ok(match out.pop() {
                Some(Cow::Borrowed(v)) => Val::from_doc(v),
                Some(Cow::Owned(v)) => Val::Json(JsonRef::Owned(v), true),
                None => Val::Undefined,
            }),
            Ok(()) => Ok(Val::Json(JsonRef::List(out), true)),
            Err(Miss::NotFound) => Ok(Val::Undefined),
            Err(Miss::Abort) => Err(Abort),
        }
    }
}

/// Jayway aborted the predicate with an invalid-path error: the item is rejected.
#[derive(Debug)]
pub(crate) struct Abort;

/// A JSON node: borrowed from the document or the expression, built (a merged
/// multi-property result), or the matches of an indefinite path.
pub(crate) enum JsonRef<'a> {
    One(&'a Value),
    Owned(Value),
    List(Vec<Cow<'a, Value>>),
}

/// The elements of an array node.
enum Items<'b, 'a> {
    Slice(std::slice::Iter<'b, Value>),
    Cows(std::slice::Iter<'b, Cow<'a, Value>>),
}

impl<'b> Iterator for Items<'b, '_> {
    type Item = &'b Value;
    fn next(&mut self) -> Option<&'b Value> {
        match self {
            Items::Slice(it) => it.next(),
            Items::Cows(it) => it.next().map(AsRef::as_ref),
        }
    }
}

impl<'a> JsonRef<'a> {
    fn value(&self) -> Option<&Value> {
        match self {
            JsonRef::One(v) => Some(v),
            JsonRef::Owned(v) => Some(v),
            JsonRef::List(_) => None,
        }
    }

    /// The elements, when the node is an array.
    fn items(&self) -> Option<Items<'_, 'a>> {
        match self {
            JsonRef::List(list) => Some(Items::Cows(list.iter())),
            other => match other.value() {
                Some(Value::Array(items)) => Some(Items::Slice(items.iter())),
                _ => None,
            },
        }
    }

    /// Jayway's `length`: an array's size, -1 for anything else.
    fn length(&self) -> i64 {
        match self.items() {
            Some(Items::Slice(it)) => i64::try_from(it.len()).unwrap_or(i64::MAX),
            Some(Items::Cows(it)) => i64::try_from(it.len()).unwrap_or(i64::MAX),
            None => -1,
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            JsonRef::List(list) => list.is_empty(),
            other => match other.value() {
                Some(Value::Array(items)) => items.is_empty(),
                Some(Value::Object(map)) => map.is_empty(),
                Some(Value::String(s)) => s.is_empty(),
                _ => true,
            },
        }
    }

    /// Java's `List.equals` / `Map.equals` over the parsed JSON.
    fn structurally_equal(&self, other: &JsonRef<'_>) -> bool {
        match (self.items(), other.items()) {
            (Some(a), Some(b)) => a.eq(b),
            (None, None) => self.value() == other.value(),
            _ => false,
        }
    }
}

/// A number from the document or from the expression.
#[derive(Clone, Copy)]
pub(crate) enum Num<'a> {
    Doc(&'a Number),
    Lit(&'a LitNum),
}

/// A number reduced for comparison: exact when integral, else a double.
#[derive(Clone, Copy)]
struct NumKey {
    value: f64,
    int: Option<i128>,
}

impl NumKey {
    fn cmp(self, other: NumKey) -> Option<Ordering> {
        match (self.int, other.int) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => self.value.partial_cmp(&other.value),
        }
    }
    fn of_decimal(d: &Decimal) -> NumKey {
        NumKey {
            value: d.to_f64(),
            int: d.to_int(),
        }
    }
}

impl<'a> Num<'a> {
    fn key(self) -> NumKey {
        match self {
            Num::Doc(n) => NumKey {
                value: n.as_f64().unwrap_or(f64::NAN),
                int: n
                    .as_i64()
                    .map(i128::from)
                    .or_else(|| n.as_u64().map(i128::from)),
            },
            Num::Lit(l) => NumKey {
                value: l.value,
                int: l.int,
            },
        }
    }

    /// The text of Jayway's `BigDecimal` for this number.
    fn java_string(self) -> Cow<'a, str> {
        match self {
            Num::Doc(n) => match n.as_i64().map(i128::from).or(n.as_u64().map(i128::from)) {
                Some(i) => Cow::Owned(i.to_string()),
                None => Cow::Owned(Decimal::from_f64(n.as_f64().unwrap_or(0.0)).to_java_string()),
            },
            Num::Lit(l) => Cow::Borrowed(&l.text),
        }
    }

    /// `BigDecimal.intValue()`: truncated, then the low 32 bits.
    fn int_value(self) -> i64 {
        let key = self.key();
        let whole = key.int.unwrap_or_else(|| {
            let t = key.value.trunc();
            if t.is_finite() {
                // Saturates far outside the int range; Jayway's result there is noise too.
                t as i128
            } else {
                0
            }
        });
        // Keeping the low 32 bits is the point.
        let low = whole as i32;
        i64::from(low)
    }
}

/// One of Jayway's value nodes, as a filter compares it.
pub(crate) enum Val<'a> {
    Undefined,
    Null,
    Bool(bool),
    Num(Num<'a>),
    Str(Cow<'a, str>),
    /// A JSON node; the flag says whether it came from the document (Jayway compares a
    /// JSON literal on the left of `==` as text, so it never equals anything).
    Json(JsonRef<'a>, bool),
    Pattern(&'a Pattern),
    /// A string inside a value list that Jayway reads as a path (`None`) or as JSON text
    /// (`Some`): equal to nothing but the same JSON text.
    Opaque(Option<&'a str>),
}

impl<'a> Val<'a> {
    pub(crate) fn from_doc(v: &'a Value) -> Val<'a> {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => Val::Num(Num::Doc(n)),
            Value::String(s) => Val::Str(Cow::Borrowed(s)),
            Value::Array(_) | Value::Object(_) => Val::Json(JsonRef::One(v), true),
        }
    }

    /// Jayway's `toValueNode` for an element of a value list. Strings there are read
    /// again: one that compiles as a path or parses as JSON stops being a string, and
    /// the others lose surrounding quotes and backslash escapes. Nested objects and
    /// arrays make Jayway fail the whole evaluation; here they reject the item.
    fn from_list_element(v: &'a Value) -> Result<Val<'a>, Abort> {
        match v {
            Value::String(s) => {
                let trimmed = java_trim(s);
                if trimmed.starts_with(['@', '$']) && crate::parse::is_jayway_path(trimmed) {
                    return Ok(Val::Opaque(None));
                }
                let json_like = (trimmed.starts_with('[') && trimmed.ends_with(']'))
                    || (trimmed.starts_with('{') && trimmed.ends_with('}'));
                if json_like
                    && trimmed.chars().nth(1).is_some()
                    && crate::filter_parse::parse_lenient_json(trimmed).is_some()
                {
                    return Ok(Val::Opaque(Some(s)));
                }
                let unquoted = ['\'', '"']
                    .iter()
                    .find_map(|q| s.strip_prefix(*q)?.strip_suffix(*q))
                    .filter(|_| s.chars().nth(1).is_some())
                    .unwrap_or(s);
                let text = java::unescape(unquoted).ok_or(Abort)?;
                Ok(Val::Str(text))
            }
            Value::Array(_) | Value::Object(_) => Err(Abort),
            other => Ok(Val::from_doc(other)),
        }
    }

    fn same_kind(&self, other: &Val<'_>) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }

    /// Jayway's `ValueNode.equals`, `self` being the receiver (it is not symmetric).
    fn equals(&self, other: &Val<'_>) -> bool {
        match (self, other) {
            (Val::Num(a), Val::Num(b)) => a.key().cmp(b.key()) == Some(Ordering::Equal),
            (Val::Num(a), Val::Str(s)) => Decimal::parse(s)
                .is_some_and(|d| a.key().cmp(NumKey::of_decimal(&d)) == Some(Ordering::Equal)),
            (Val::Str(s), Val::Num(n)) => s.as_ref() == n.java_string().as_ref(),
            (Val::Str(a), Val::Str(b)) => a == b,
            (Val::Bool(a), Val::Bool(b)) => a == b,
            (Val::Null, Val::Null) => true,
            (Val::Json(a, true), Val::Json(b, true)) => a.structurally_equal(b),
            (Val::Opaque(Some(a)), Val::Opaque(Some(b))) => a == b,
            _ => false,
        }
    }

    /// The `==` evaluator: two JSON nodes compare structurally when the left one comes
    /// from the document; anything else uses `equals`.
    fn eq_op(&self, other: &Val<'_>) -> bool {
        match (self, other) {
            (Val::Json(a, from_doc), Val::Json(b, _)) => *from_doc && a.structurally_equal(b),
            _ => self.equals(other),
        }
    }

    fn text_for_regex(&self) -> Cow<'_, str> {
        match self {
            Val::Str(s) => Cow::Borrowed(s.as_ref()),
            Val::Num(n) => n.java_string(),
            Val::Bool(true) => Cow::Borrowed("true"),
            Val::Bool(false) => Cow::Borrowed("false"),
            _ => Cow::Borrowed(""),
        }
    }

    /// The elements of an array node, none for anything else.
    fn elements(&self) -> Items<'_, 'a> {
        match self {
            Val::Json(json, _) => json.items(),
            _ => None,
        }
        .unwrap_or(Items::Slice([].iter()))
    }

    /// `asValueListNode`: the elements of an array node (`None` for an object), and an
    /// abort for anything that is not a JSON node.
    fn list(&self) -> Result<Option<Items<'_, 'a>>, Abort> {
        match self {
            Val::Json(json, _) => {
                let Some(items) = json.items() else {
                    return Ok(None);
                };
                // Jayway converts every element before comparing any.
                if json
                    .items()
                    .into_iter()
                    .flatten()
                    .any(|e| e.is_array() || e.is_object())
                {
                    return Err(Abort);
                }
                Ok(Some(items))
            }
            _ => Err(Abort),
        }
    }
}

fn contains(list: Items<'_, '_>, needle: &Val<'_>) -> Result<bool, Abort> {
    for e in list {
        if needle.equals(&Val::from_list_element(e)?) {
            return Ok(true);
        }
    }
    Ok(false)
}

impl RelOp {
    fn apply(self, l: &Val<'_>, r: &Val<'_>) -> Result<bool, Abort> {
        Ok(match self {
            RelOp::Eq => l.eq_op(r),
            RelOp::Ne => !l.eq_op(r),
            RelOp::TypeSafeEq => l.same_kind(r) && l.eq_op(r),
            RelOp::TypeSafeNe => !(l.same_kind(r) && l.eq_op(r)),
            RelOp::Lt | RelOp::Le | RelOp::Gt | RelOp::Ge => {
                let ord = match (l, r) {
                    (Val::Num(a), Val::Num(b)) => a.key().cmp(b.key()),
                    (Val::Str(a), Val::Str(b)) => Some(compare_strings(a, b)),
                    _ => None,
                };
                ord.is_some_and(|o| match self {
                    RelOp::Lt => o.is_lt(),
                    RelOp::Le => o.is_le(),
                    RelOp::Gt => o.is_gt(),
                    _ => o.is_ge(),
                })
            }
            RelOp::Regex => match (l, r) {
                (Val::Pattern(_), Val::Pattern(_)) => false,
                (Val::Pattern(p), other) | (other, Val::Pattern(p)) => {
                    p.regex.is_match(&other.text_for_regex())
                }
                _ => false,
            },
            RelOp::Size => {
                let Val::Num(n) = r else { return Ok(false) };
                let expected = n.int_value();
                match l {
                    Val::Str(s) => i64::try_from(utf16_len(s)).is_ok_and(|len| len == expected),
                    Val::Json(json, _) => json.length() == expected,
                    _ => false,
                }
            }
            RelOp::Empty => {
                let empty = match l {
                    Val::Str(s) => s.is_empty(),
                    Val::Json(json, _) => json.is_empty(),
                    _ => return Ok(false),
                };
                let Val::Bool(expected) = r else {
                    return Err(Abort);
                };
                empty == *expected
            }
            RelOp::In | RelOp::Nin => {
                let found = match r.list()? {
                    Some(items) => contains(items, l)?,
                    None => false,
                };
                found == (self == RelOp::In)
            }
            RelOp::Contains => match (l, r) {
                (Val::Str(a), Val::Str(b)) => a.contains(b.as_ref()),
                (Val::Json(..), _) => match l.list()? {
                    Some(items) => contains(items, r)?,
                    None => false,
                },
                _ => false,
            },
            RelOp::SubsetOf => {
                if r.list()?.is_none() {
                    return Ok(false);
                }
                let Some(left) = l.list()? else {
                    return Ok(false);
                };
                for e in left {
                    if !contains(r.elements(), &Val::from_list_element(e)?)? {
                        return Ok(false);
                    }
                }
                true
            }
            RelOp::AnyOf | RelOp::NoneOf => {
                if r.list()?.is_none() {
                    return Ok(false);
                }
                let Some(left) = l.list()? else {
                    return Ok(false);
                };
                let mut shared = false;
                for e in left {
                    if contains(r.elements(), &Val::from_list_element(e)?)? {
                        shared = true;
                        break;
                    }
                }
                shared == (self == RelOp::AnyOf)
            }
            RelOp::Exists => match (l, r) {
                (Val::Bool(a), Val::Bool(b)) => a == b,
                _ => return Err(Abort),
            },
            // These need operands (classes, predicates, value lists built in Java) that
            // an inline filter cannot write, so Jayway always aborts them.
            RelOp::All | RelOp::Type | RelOp::Matches => return Err(Abort),
        })
    }
}

impl Operand {
    fn value<'a>(&'a self, item: &'a Value, env: &Env<'a>) -> Result<Val<'a>, Abort> {
        Ok(match self {
            Operand::Path { path, .. } => return path.value(item, env),
            Operand::Str(s) => Val::Str(Cow::Borrowed(s)),
            Operand::Num(n) => Val::Num(Num::Lit(n)),
            Operand::Bool(b) => Val::Bool(*b),
            Operand::Null => Val::Null,
            Operand::Json(v) => Val::Json(JsonRef::One(v), false),
            Operand::Pattern(p) => Val::Pattern(p),
        })
    }
}

impl Expr {
    /// Jayway's `accept`: whether the item passes; an aborted evaluation rejects it.
    pub(crate) fn test<'a>(&'a self, item: &'a Value, env: &Env<'a>) -> bool {
        self.eval(item, env).unwrap_or(false)
    }

    fn eval<'a>(&'a self, item: &'a Value, env: &Env<'a>) -> Result<bool, Abort> {
        match self {
            Expr::Or(ops) => {
                for op in ops {
                    if op.eval(item, env)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Expr::And(ops) => {
                for op in ops {
                    if !op.eval(item, env)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Expr::Not(inner) => Ok(!inner.eval(item, env)?),
            Expr::Exists { path, expect } => Ok(path.exists(item, env)? == *expect),
            Expr::Rel(l, op, r) => {
                let l = l.value(item, env)?;
                let r = r.value(item, env)?;
                op.apply(&l, &r)
            }
        }
    }
}
