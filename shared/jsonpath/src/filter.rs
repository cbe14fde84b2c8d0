//! Filter expressions `[?(...)]`, evaluated with Jayway's comparison rules.

use crate::eval::collect;
use crate::Segment;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    /// `@.x` alone: true when the path selects something (whatever its value).
    Exists(RelPath),
    Cmp(Operand, CmpOp, Operand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Path(RelPath),
    Literal(Value),
}

/// `@...` (relative to the candidate) or `$...` (relative to the document root).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RelPath {
    pub absolute: bool,
    pub segments: Vec<Segment>,
}

impl RelPath {
    fn is_definite(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Child(sel) if sel.is_definite()))
    }

    /// `None` when nothing is selected (Jayway's UNDEFINED).
    fn eval(&self, current: &Value, root: &Value, depth: usize) -> Option<Value> {
        let start = if self.absolute { root } else { current };
        let mut out = Vec::new();
        collect(start, root, &self.segments, &mut out, depth);
        if self.is_definite() {
            out.into_iter().next()
        } else {
            Some(Value::Array(out))
        }
    }
}

impl Expr {
    pub(crate) fn test(&self, current: &Value, root: &Value, depth: usize) -> bool {
        match self {
            Expr::Or(a, b) => a.test(current, root, depth) || b.test(current, root, depth),
            Expr::And(a, b) => a.test(current, root, depth) && b.test(current, root, depth),
            Expr::Not(a) => !a.test(current, root, depth),
            Expr::Exists(p) => match p.eval(current, root, depth) {
                Some(Value::Array(a)) if !p.is_definite() => !a.is_empty(),
                Some(_) => true,
                None => false,
            },
            Expr::Cmp(l, op, r) => {
                let l = operand(l, current, root, depth);
                let r = operand(r, current, root, depth);
                compare(l.as_ref(), *op, r.as_ref())
            }
        }
    }
}

fn operand(o: &Operand, current: &Value, root: &Value, depth: usize) -> Option<Value> {
    match o {
        Operand::Literal(v) => Some(v.clone()),
        Operand::Path(p) => p.eval(current, root, depth),
    }
}

fn compare(l: Option<&Value>, op: CmpOp, r: Option<&Value>) -> bool {
    match op {
        CmpOp::Eq => equals(l, r),
        // Jayway defines != as the negation of ==, so a missing operand is "not equal".
        CmpOp::Ne => !equals(l, r),
        CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => {
            let ord = match (l, r) {
                (Some(Value::Number(a)), Some(Value::Number(b))) => num(a).partial_cmp(&num(b)),
                (Some(Value::String(a)), Some(Value::String(b))) => Some(a.cmp(b)),
                _ => None,
            };
            let Some(ord) = ord else { return false };
            match op {
                CmpOp::Lt => ord.is_lt(),
                CmpOp::Le => ord.is_le(),
                CmpOp::Gt => ord.is_gt(),
                _ => ord.is_ge(),
            }
        }
    }
}

fn num(n: &serde_json::Number) -> f64 {
    n.as_f64().unwrap_or(f64::NAN)
}

/// Jayway's equality: numbers compare by value, and a number equals a string that
/// reads as the same number; everything else compares structurally.
fn equals(l: Option<&Value>, r: Option<&Value>) -> bool {
    match (l, r) {
        (Some(Value::Number(a)), Some(Value::Number(b))) => num(a) == num(b),
        (Some(Value::Number(a)), Some(Value::String(s)))
        | (Some(Value::String(s)), Some(Value::Number(a))) => {
            s.trim().parse::<f64>().is_ok_and(|b| num(a) == b)
        }
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}
