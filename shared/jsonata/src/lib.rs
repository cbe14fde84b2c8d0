//! A native JSONata 2.x evaluator (a port of the jsonata-js 2.x semantics) with the Step Functions
//! additions `$partition`, `$range`, `$hash`, `$random`, `$uuid` and `$parse`.
//!
//! The core is deterministic: time, randomness and UUIDs come from the caller's [`Env`], and an
//! evaluation step budget and depth limit stand in for wall-clock limits so no expression can hang
//! or overflow the stack.
//!
//! ```
//! use cairn_jsonata::{parse, Bindings, FixedEnv};
//! let expr = parse("$sum(items.price)").unwrap();
//! let input = serde_json::json!({"items": [{"price": 2}, {"price": 3}]});
//! let out = expr.evaluate(Some(&input), &Bindings::new(), &mut FixedEnv::default()).unwrap();
//! assert_eq!(out, Some(serde_json::json!(5)));
//! ```
#![forbid(unsafe_code)]

mod datetime;
mod errors;
mod eval;
mod functions;
mod lexer;
mod numfmt;
mod parser;
mod signature;
mod value;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

pub use errors::Error;

/// A parsed JSONata expression, ready to evaluate any number of times.
#[derive(Debug, Clone)]
pub struct Expression {
    ast: Arc<parser::Node>,
}

/// Parses a JSONata expression. Syntax errors carry the reference implementation's `S0xxx` codes.
pub fn parse(expr: &str) -> Result<Expression, Error> {
    let ast = parser::parse(expr).map_err(Error::finish)?;
    Ok(Expression { ast: Arc::new(ast) })
}

impl Expression {
    /// Evaluates against `input` (`None` is JSONata's `undefined`). Returns `None` when the result
    /// is undefined.
    pub fn evaluate(
        &self,
        input: Option<&serde_json::Value>,
        bindings: &Bindings,
        env: &mut dyn Env,
    ) -> Result<Option<serde_json::Value>, Error> {
        eval::evaluate_root(&self.ast, input, bindings, env).map_err(Error::finish)
    }
}

/// Variables bound before evaluation (`$name` in the expression, without the `$`).
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    vars: BTreeMap<String, serde_json::Value>,
}

impl Bindings {
    pub fn new() -> Self {
        Self::default()
    }
    /// Binds `$name` (give the name without the `$`).
    pub fn insert(&mut self, name: impl Into<String>, value: serde_json::Value) -> &mut Self {
        self.vars.insert(name.into(), value);
        self
    }
    pub fn with(mut self, name: impl Into<String>, value: serde_json::Value) -> Self {
        self.vars.insert(name.into(), value);
        self
    }
    pub fn iter(&self) -> impl Iterator<Item = (&String, &serde_json::Value)> {
        self.vars.iter()
    }
}

impl FromIterator<(String, serde_json::Value)> for Bindings {
    fn from_iter<T: IntoIterator<Item = (String, serde_json::Value)>>(iter: T) -> Self {
        Self {
            vars: iter.into_iter().collect(),
        }
    }
}

/// Evaluation limits. Both are deterministic stand-ins for AWS's time and memory limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum number of expression evaluations (each AST node visit is one step).
    pub max_steps: u64,
    /// Maximum nesting of expression evaluation (recursion through lambdas counts).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_steps: 10_000_000,
            max_depth: 500,
        }
    }
}

/// What the evaluator needs from the outside world: nothing inside reads the clock or the OS.
pub trait Env {
    /// Milliseconds since the Unix epoch, read once per evaluation (`$now()`, `$millis()`).
    fn now_ms(&mut self) -> i64;
    /// A uniformly distributed number in `[0, 1)` (`$random()`, `$shuffle`).
    fn random(&mut self) -> f64;
    /// A version 4 UUID string (`$uuid()`).
    fn uuid(&mut self) -> String;
    fn limits(&self) -> Limits {
        Limits::default()
    }
}

/// A deterministic [`Env`]: a fixed clock and a seeded pseudo-random generator.
#[derive(Debug, Clone)]
pub struct FixedEnv {
    pub now_ms: i64,
    pub seed: u64,
    pub limits: Limits,
}

impl Default for FixedEnv {
    fn default() -> Self {
        FixedEnv {
            now_ms: 1_700_000_000_000,
            seed: 0x9E37_79B9_7F4A_7C15,
            limits: Limits::default(),
        }
    }
}

impl FixedEnv {
    fn next_u64(&mut self) -> u64 {
        // splitmix64: tiny, good enough for test randomness.
        self.seed = self.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Env for FixedEnv {
    fn now_ms(&mut self) -> i64 {
        self.now_ms
    }
    fn random(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn uuid(&mut self) -> String {
        uuid_from_bits(self.next_u64(), self.next_u64())
    }
    fn limits(&self) -> Limits {
        self.limits
    }
}

/// Formats 128 random bits as a version 4, variant 1 UUID.
pub fn uuid_from_bits(hi: u64, lo: u64) -> String {
    let hi = (hi & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<jsonata expression>")
    }
}
