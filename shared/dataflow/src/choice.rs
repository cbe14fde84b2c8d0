//! Choice rules of the JSONPath query language.

use crate::error::escape_pointer;
use crate::{parse_timestamp, CompileError, DataflowError, PayloadTemplate, Scope};
use cairn_jsonpath::Path;
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// Deepest And/Or/Not nesting accepted.
const MAX_RULE_DEPTH: usize = 64;

/// One Choice rule: a comparison of `Variable` with one of the 39 comparison
/// operators, or an `And`/`Or`/`Not` of nested rules, plus the top-level `Next`
/// (and `Assign`) that apply when it matches.
#[derive(Debug, Clone)]
pub struct ChoiceRule {
    next: Option<String>,
    assign: Option<PayloadTemplate>,
    condition: Condition,
}

#[derive(Debug, Clone)]
enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    Test {
        variable: Path,
        comparison: Comparison,
        operand: Operand,
    },
}

#[derive(Debug, Clone)]
enum Operand {
    Literal(Value),
    Path(Path),
}

/// The comparison operators of JSONPath Choice rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    StringEquals,
    StringEqualsPath,
    StringLessThan,
    StringLessThanPath,
    StringGreaterThan,
    StringGreaterThanPath,
    StringLessThanEquals,
    StringLessThanEqualsPath,
    StringGreaterThanEquals,
    StringGreaterThanEqualsPath,
    StringMatches,
    NumericEquals,
    NumericEqualsPath,
    NumericLessThan,
    NumericLessThanPath,
    NumericGreaterThan,
    NumericGreaterThanPath,
    NumericLessThanEquals,
    NumericLessThanEqualsPath,
    NumericGreaterThanEquals,
    NumericGreaterThanEqualsPath,
    BooleanEquals,
    BooleanEqualsPath,
    TimestampEquals,
    TimestampEqualsPath,
    TimestampLessThan,
    TimestampLessThanPath,
    TimestampGreaterThan,
    TimestampGreaterThanPath,
    TimestampLessThanEquals,
    TimestampLessThanEqualsPath,
    TimestampGreaterThanEquals,
    TimestampGreaterThanEqualsPath,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
    Matches,
    TypeTest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rel {
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
}

use Comparison as C;

const ALL: [(&str, Comparison); 39] = [
    ("StringEquals", C::StringEquals),
    ("StringEqualsPath", C::StringEqualsPath),
    ("StringLessThan", C::StringLessThan),
    ("StringLessThanPath", C::StringLessThanPath),
    ("StringGreaterThan", C::StringGreaterThan),
    ("StringGreaterThanPath", C::StringGreaterThanPath),
    ("StringLessThanEquals", C::StringLessThanEquals),
    ("StringLessThanEqualsPath", C::StringLessThanEqualsPath),
    ("StringGreaterThanEquals", C::StringGreaterThanEquals),
    (
        "StringGreaterThanEqualsPath",
        C::StringGreaterThanEqualsPath,
    ),
    ("StringMatches", C::StringMatches),
    ("NumericEquals", C::NumericEquals),
    ("NumericEqualsPath", C::NumericEqualsPath),
    ("NumericLessThan", C::NumericLessThan),
    ("NumericLessThanPath", C::NumericLessThanPath),
    ("NumericGreaterThan", C::NumericGreaterThan),
    ("NumericGreaterThanPath", C::NumericGreaterThanPath),
    ("NumericLessThanEquals", C::NumericLessThanEquals),
    ("NumericLessThanEqualsPath", C::NumericLessThanEqualsPath),
    ("NumericGreaterThanEquals", C::NumericGreaterThanEquals),
    (
        "NumericGreaterThanEqualsPath",
        C::NumericGreaterThanEqualsPath,
    ),
    ("BooleanEquals", C::BooleanEquals),
    ("BooleanEqualsPath", C::BooleanEqualsPath),
    ("TimestampEquals", C::TimestampEquals),
    ("TimestampEqualsPath", C::TimestampEqualsPath),
    ("TimestampLessThan", C::TimestampLessThan),
    ("TimestampLessThanPath", C::TimestampLessThanPath),
    ("TimestampGreaterThan", C::TimestampGreaterThan),
    ("TimestampGreaterThanPath", C::TimestampGreaterThanPath),
    ("TimestampLessThanEquals", C::TimestampLessThanEquals),
    (
        "TimestampLessThanEqualsPath",
        C::TimestampLessThanEqualsPath,
    ),
    ("TimestampGreaterThanEquals", C::TimestampGreaterThanEquals),
    (
        "TimestampGreaterThanEqualsPath",
        C::TimestampGreaterThanEqualsPath,
    ),
    ("IsNull", C::IsNull),
    ("IsPresent", C::IsPresent),
    ("IsNumeric", C::IsNumeric),
    ("IsString", C::IsString),
    ("IsBoolean", C::IsBoolean),
    ("IsTimestamp", C::IsTimestamp),
];

impl Comparison {
    /// The operator of an ASL field name (`"NumericLessThanPath"`).
    pub fn from_name(name: &str) -> Option<Comparison> {
        ALL.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
    }

    pub fn name(self) -> &'static str {
        ALL.iter()
            .find(|(_, c)| *c == self)
            .map(|(n, _)| *n)
            .unwrap_or_default()
    }

    /// True for the `...Path` variants, whose operand is a path to the value to compare with.
    pub fn takes_path(self) -> bool {
        self.name().ends_with("Path")
    }

    fn kind(self) -> Kind {
        let n = self.name();
        if self == C::StringMatches {
            Kind::Matches
        } else if n.starts_with("Is") {
            Kind::TypeTest
        } else if n.starts_with("String") {
            Kind::String
        } else if n.starts_with("Numeric") {
            Kind::Numeric
        } else if n.starts_with("Boolean") {
            Kind::Boolean
        } else {
            Kind::Timestamp
        }
    }

    fn rel(self) -> Rel {
        let n = self.name().trim_end_matches("Path");
        if n.ends_with("LessThanEquals") {
            Rel::Le
        } else if n.ends_with("GreaterThanEquals") {
            Rel::Ge
        } else if n.ends_with("LessThan") {
            Rel::Lt
        } else if n.ends_with("GreaterThan") {
            Rel::Gt
        } else {
            Rel::Eq
        }
    }
}

fn err(pointer: impl Into<String>, message: impl Into<String>) -> CompileError {
    CompileError::new(pointer, message)
}

impl ChoiceRule {
    /// Compiles one element of a Choice state's `Choices`.
    pub fn compile(v: &Value) -> Result<Self, CompileError> {
        let Value::Object(map) = v else {
            return Err(err("", "A Choice rule must be a JSON object"));
        };
        let next = match map.get("Next") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(err(
                    "/Next",
                    "The value for the field 'Next' must be a STRING",
                ))
            }
        };
        let assign = match map.get("Assign") {
            None => None,
            Some(a @ Value::Object(_)) => {
                Some(PayloadTemplate::compile(a).map_err(|e| e.under("Assign"))?)
            }
            Some(_) => {
                return Err(err(
                    "/Assign",
                    "The value for the field 'Assign' must be an OBJECT",
                ))
            }
        };
        let condition = compile_condition(map, true, 0)?;
        Ok(ChoiceRule {
            next,
            assign,
            condition,
        })
    }

    /// The state to go to when the rule matches (absent only in nested rules).
    pub fn next(&self) -> Option<&str> {
        self.next.as_deref()
    }

    /// The rule's `Assign`, evaluated by the interpreter when the rule is taken.
    pub fn assign(&self) -> Option<&PayloadTemplate> {
        self.assign.as_ref()
    }

    /// Evaluates the rule against the Choice state's effective input (`scope.input`).
    pub fn matches(&self, scope: &Scope) -> Result<bool, DataflowError> {
        eval(&self.condition, scope)
    }
}

fn compile_condition(
    map: &Map<String, Value>,
    top: bool,
    depth: usize,
) -> Result<Condition, CompileError> {
    if depth > MAX_RULE_DEPTH {
        return Err(err(
            "",
            format!("Choice rules nest deeper than {MAX_RULE_DEPTH} levels"),
        ));
    }
    let mut operator: Option<(&str, &Value)> = None;
    let mut variable: Option<&Value> = None;
    for (key, value) in map {
        match key.as_str() {
            "Variable" => variable = Some(value),
            "Comment" => {}
            "Next" | "Assign" if top => {}
            "And" | "Or" | "Not" => set_operator(&mut operator, key, value)?,
            k if Comparison::from_name(k).is_some() => set_operator(&mut operator, key, value)?,
            k => {
                return Err(err(
                    format!("/{}", escape_pointer(k)),
                    format!("Field '{k}' is not supported"),
                ))
            }
        }
    }
    let Some((op, operand)) = operator else {
        return Err(err(
            "",
            "A Choice rule must have exactly one comparison operator or one of And, Or, Not",
        ));
    };
    let pointer = format!("/{op}");
    match op {
        "And" | "Or" => {
            if variable.is_some() {
                return Err(err(
                    "/Variable",
                    format!("Field 'Variable' is not allowed with '{op}'"),
                ));
            }
            let Value::Array(items) = operand else {
                return Err(err(
                    &pointer,
                    format!("The value for the field '{op}' must be an ARRAY"),
                ));
            };
            if items.is_empty() {
                return Err(err(&pointer, format!("The field '{op}' must not be empty")));
            }
            let mut rules = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                rules.push(nested(item, depth).map_err(|e| e.under(&i.to_string()).under(op))?);
            }
            Ok(if op == "And" {
                Condition::And(rules)
            } else {
                Condition::Or(rules)
            })
        }
        "Not" => {
            if variable.is_some() {
                return Err(err(
                    "/Variable",
                    "Field 'Variable' is not allowed with 'Not'",
                ));
            }
            Ok(Condition::Not(Box::new(
                nested(operand, depth).map_err(|e| e.under("Not"))?,
            )))
        }
        _ => {
            let comparison = Comparison::from_name(op)
                .ok_or_else(|| err(&pointer, format!("Unknown operator '{op}'")))?;
            let variable = match variable {
                Some(Value::String(s)) => Path::parse(s).map_err(|_| {
                    err(
                        "/Variable",
                        "The value for the field 'Variable' must be a valid JSONPath",
                    )
                })?,
                Some(_) => {
                    return Err(err(
                        "/Variable",
                        "The value for the field 'Variable' must be a valid JSONPath",
                    ))
                }
                None => {
                    return Err(err(
                        "",
                        format!("The field 'Variable' is required with '{op}'"),
                    ))
                }
            };
            let operand = compile_operand(comparison, operand).map_err(|m| err(&pointer, m))?;
            Ok(Condition::Test {
                variable,
                comparison,
                operand,
            })
        }
    }
}

fn set_operator<'a>(
    slot: &mut Option<(&'a str, &'a Value)>,
    key: &'a str,
    value: &'a Value,
) -> Result<(), CompileError> {
    if let Some((first, _)) = slot {
        return Err(err(
            format!("/{}", escape_pointer(key)),
            format!("A Choice rule must have only one operator, found '{first}' and '{key}'"),
        ));
    }
    *slot = Some((key, value));
    Ok(())
}

fn nested(v: &Value, depth: usize) -> Result<Condition, CompileError> {
    let Value::Object(map) = v else {
        return Err(err("", "A Choice rule must be a JSON object"));
    };
    compile_condition(map, false, depth + 1)
}

fn compile_operand(c: Comparison, v: &Value) -> Result<Operand, String> {
    let name = c.name();
    if c.takes_path() {
        return match v {
            Value::String(s) => Path::parse(s)
                .map(Operand::Path)
                .map_err(|_| format!("The value for the field '{name}' must be a valid JSONPath")),
            _ => Err(format!(
                "The value for the field '{name}' must be a valid JSONPath"
            )),
        };
    }
    let ok = match c.kind() {
        Kind::String | Kind::Matches => v.is_string(),
        Kind::Numeric => v.is_number(),
        Kind::Boolean | Kind::TypeTest => v.is_boolean(),
        Kind::Timestamp => v.as_str().and_then(parse_timestamp).is_some(),
    };
    if !ok {
        let expected = match c.kind() {
            Kind::String | Kind::Matches => "a STRING",
            Kind::Numeric => "a NUMBER",
            Kind::Boolean | Kind::TypeTest => "a BOOLEAN",
            Kind::Timestamp => "a valid ISO-8601 timestamp STRING",
        };
        return Err(format!(
            "The value for the field '{name}' must be {expected}"
        ));
    }
    Ok(Operand::Literal(v.clone()))
}

fn eval(c: &Condition, scope: &Scope) -> Result<bool, DataflowError> {
    // Recursion depth is bounded by compile_condition.
    match c {
        Condition::And(rules) => {
            for r in rules {
                if !eval(r, scope)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Condition::Or(rules) => {
            for r in rules {
                if eval(r, scope)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Condition::Not(r) => Ok(!eval(r, scope)?),
        Condition::Test {
            variable,
            comparison,
            operand,
        } => test(variable, *comparison, operand, scope),
    }
}

fn test(
    variable: &Path,
    comparison: Comparison,
    operand: &Operand,
    scope: &Scope,
) -> Result<bool, DataflowError> {
    if comparison == C::IsPresent {
        let present = scope.try_select(variable).is_ok();
        return Ok(Some(present) == operand_bool(operand));
    }
    let value = scope.select(variable)?;
    let other = match operand {
        Operand::Literal(v) => v.clone(),
        Operand::Path(p) => scope.select(p)?,
    };
    Ok(match comparison.kind() {
        Kind::TypeTest => {
            let is = match comparison {
                C::IsNull => value.is_null(),
                C::IsNumeric => value.is_number(),
                C::IsString => value.is_string(),
                C::IsBoolean => value.is_boolean(),
                _ => value.as_str().and_then(parse_timestamp).is_some(),
            };
            Some(is) == other.as_bool()
        }
        Kind::String => match (value.as_str(), other.as_str()) {
            (Some(a), Some(b)) => holds(comparison.rel(), a.cmp(b)),
            _ => false,
        },
        Kind::Matches => match (value.as_str(), other.as_str()) {
            (Some(a), Some(pattern)) => string_matches(a, pattern),
            _ => false,
        },
        Kind::Numeric => match (&value, &other) {
            (Value::Number(a), Value::Number(b)) => {
                compare_numbers(a, b).is_some_and(|o| holds(comparison.rel(), o))
            }
            _ => false,
        },
        Kind::Boolean => match (value.as_bool(), other.as_bool()) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        },
        Kind::Timestamp => {
            match (
                value.as_str().and_then(parse_timestamp),
                other.as_str().and_then(parse_timestamp),
            ) {
                (Some(a), Some(b)) => holds(comparison.rel(), a.cmp(&b)),
                _ => false,
            }
        }
    })
}

fn operand_bool(o: &Operand) -> Option<bool> {
    match o {
        Operand::Literal(v) => v.as_bool(),
        Operand::Path(_) => None,
    }
}

fn holds(rel: Rel, o: Ordering) -> bool {
    match rel {
        Rel::Eq => o.is_eq(),
        Rel::Lt => o.is_lt(),
        Rel::Gt => o.is_gt(),
        Rel::Le => o.is_le(),
        Rel::Ge => o.is_ge(),
    }
}

/// Exact for integers, IEEE for the rest (AWS compares as Java numbers).
fn compare_numbers(a: &serde_json::Number, b: &serde_json::Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// `StringMatches`: `*` matches any run of characters; `\*` is a literal star and
/// `\\` a literal backslash.
pub(crate) fn string_matches(text: &str, pattern: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Tok {
        Star,
        Char(char),
    }
    let mut toks = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => toks.push(Tok::Char(n)),
                None => toks.push(Tok::Char('\\')),
            },
            '*' => toks.push(Tok::Star),
            c => toks.push(Tok::Char(c)),
        }
    }
    let text: Vec<char> = text.chars().collect();
    // Greedy matching with backtracking to the last star: linear in practice, no recursion.
    let (mut t, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match toks.get(p) {
            Some(Tok::Char(c)) if text.get(t) == Some(c) => {
                t += 1;
                p += 1;
            }
            Some(Tok::Star) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    toks.get(p..)
        .is_some_and(|rest| rest.iter().all(|t| *t == Tok::Star))
}
