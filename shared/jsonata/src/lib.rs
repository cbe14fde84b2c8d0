//! A native JSONata 2.x evaluator (a port of the jsonata-js 2.x semantics: sequences and
//! singleton flattening, tuple streams for `@`/`#`/`%`, signatures, the full standard library
//! and its error codes) with the Step Functions additions `$partition`, `$range`, `$hash`,
//! `$random([seed])`, `$uuid` and `$parse`. It passes the whole jsonata-js test suite.
//!
//! The core is deterministic: the clock, randomness and UUIDs come from the caller's [`Env`],
//! and a step budget and depth limits ([`Limits`]) stand in for AWS's time and memory limits,
//! so no expression can hang, exhaust memory by doubling, or overflow the stack. Evaluation
//! first runs on the caller's stack with tight depth limits; an expression that needs more
//! (deep recursion, deeply nested values) is rerun on a dedicated thread with a large stack.
//!
//! `$eval` is implemented (the reference suite covers it) although Step Functions rejects it;
//! the state machine validator is the place to refuse it.
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

use cairn_common::entropy;

/// Formats 128 random bits as a version 4, variant 1 UUID (for an [`Env`]'s `uuid`).
pub use cairn_common::entropy::uuid_from_bits;
pub use errors::Error;
pub use eval::UNSUPPORTED_RESULT;

/// A parsed JSONata expression, ready to evaluate any number of times.
#[derive(Debug, Clone)]
pub struct Expression {
    ast: Arc<parser::Node>,
    source: Arc<str>,
}

/// Parses a JSONata expression. Syntax errors carry the reference implementation's `S0xxx` codes.
pub fn parse(expr: &str) -> Result<Expression, Error> {
    // Most expressions are shallow: parse on the caller's stack, and only move to a large
    // stack for deeply nested ones.
    let ast = match parser::parse_with_depth(expr, parser::INLINE_PARSE_DEPTH) {
        Err(e) if e.code == eval::RETRY_ON_LARGE_STACK => {
            on_evaluation_stack(|| parser::parse(expr))
        }
        other => other,
    }
    .map_err(Error::finish)?;
    Ok(Expression {
        ast: Arc::new(ast),
        source: Arc::from(expr),
    })
}

/// Stack for parsing and evaluation. Recursion is bounded by [`Limits::max_depth`] and the
/// parser's nesting limit; this size covers both even in unoptimised builds, whatever the
/// caller's thread stack is. It is only reserved address space until used.
const EVALUATION_STACK_BYTES: usize = 256 << 20;

fn on_evaluation_stack<T: Send>(f: impl FnOnce() -> Result<T, Error> + Send) -> Result<T, Error> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("jsonata-eval".into())
            .stack_size(EVALUATION_STACK_BYTES)
            .spawn_scoped(scope, f)
            .map_err(|e| {
                Error::new(
                    "U1001",
                    format!("Could not start the JSONata evaluation thread: {e}"),
                )
            })?;
        match handle.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

impl Expression {
    /// The expression text as given to [`parse`].
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates against `input` (`None` is JSONata's `undefined`). Returns `None` when the result
    /// is undefined; a function result (which JSON cannot carry) is an error with code
    /// [`UNSUPPORTED_RESULT`]. Errors carry the reference implementation's code (`T2001`,
    /// `D3001`, ...), its message template filled in, and a character position; exceeding
    /// [`Limits`] gives `U1001`.
    pub fn evaluate(
        &self,
        input: Option<&serde_json::Value>,
        bindings: &Bindings,
        env: &mut dyn Env,
    ) -> Result<Option<serde_json::Value>, Error> {
        let ast = &self.ast;
        let mut now = None;
        // First on the caller's stack with tight depth limits (cheap, and enough for typical
        // expressions); if those are exceeded, rerun on a large stack with the real limits.
        // A rerun repeats any `$random()`/`$uuid()` draws with fresh values from `env`.
        match eval::evaluate_root(ast, input, bindings, env, true, &mut now) {
            Err(e) if e.code == eval::RETRY_ON_LARGE_STACK => on_evaluation_stack(move || {
                eval::evaluate_root(ast, input, bindings, env, false, &mut now)
            }),
            other => other,
        }
        .map_err(Error::finish)
    }
}

/// Variables bound before evaluation (`$name` in the expression, without the `$`).
///
/// Values are held behind an `Arc` and read lazily: an expression pays only for the parts of a
/// large document (such as `$states`) it actually reads. Reuse one `Bindings` (or share values
/// with [`Bindings::insert_shared`]) across the evaluations that see the same data.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    vars: BTreeMap<String, Bound>,
}

#[derive(Debug, Clone)]
pub(crate) struct Bound {
    /// The name again, shared with each evaluation's variable frame.
    pub name: Arc<str>,
    pub value: Arc<serde_json::Value>,
    /// Nesting depth, measured once when bound.
    pub depth: usize,
}

impl Bindings {
    pub fn new() -> Self {
        Self::default()
    }
    /// Binds `$name` (give the name without the `$`).
    pub fn insert(&mut self, name: impl Into<String>, value: serde_json::Value) -> &mut Self {
        self.insert_shared(name, Arc::new(value))
    }
    /// Binds `$name` to a document shared with other bindings or evaluations, without copying.
    pub fn insert_shared(
        &mut self,
        name: impl Into<String>,
        value: Arc<serde_json::Value>,
    ) -> &mut Self {
        let name = name.into();
        let depth = value::json_depth(&value);
        let bound = Bound {
            name: Arc::from(name.as_str()),
            value,
            depth,
        };
        self.vars.insert(name, bound);
        self
    }
    pub fn with(mut self, name: impl Into<String>, value: serde_json::Value) -> Self {
        self.insert(name, value);
        self
    }
    pub fn get(&self, name: &str) -> Option<&serde_json::Value> {
        self.vars.get(name).map(|b| &*b.value)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&String, &serde_json::Value)> {
        self.vars.iter().map(|(k, b)| (k, &*b.value))
    }
    pub(crate) fn bound(&self) -> impl Iterator<Item = &Bound> {
        self.vars.values()
    }
}

impl FromIterator<(String, serde_json::Value)> for Bindings {
    fn from_iter<T: IntoIterator<Item = (String, serde_json::Value)>>(iter: T) -> Self {
        let mut b = Bindings::new();
        for (k, v) in iter {
            b.insert(k, v);
        }
        b
    }
}

/// Evaluation limits. Both are deterministic stand-ins for AWS's time and memory limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum number of expression evaluations (each AST node visit is one step).
    pub max_steps: u64,
    /// Maximum nesting of expression evaluation (recursion through lambdas counts; each
    /// non-tail call costs about three levels). Capped at 20,000.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_steps: 10_000_000,
            max_depth: 1000,
        }
    }
}

/// What the evaluator needs from the outside world: nothing inside reads the clock or the OS.
pub trait Env: Send {
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
            seed: entropy::GOLDEN_GAMMA,
            limits: Limits::default(),
        }
    }
}

impl Env for FixedEnv {
    fn now_ms(&mut self) -> i64 {
        self.now_ms
    }
    fn random(&mut self) -> f64 {
        entropy::unit_interval(entropy::splitmix64_next(&mut self.seed))
    }
    fn uuid(&mut self) -> String {
        let hi = entropy::splitmix64_next(&mut self.seed);
        uuid_from_bits(hi, entropy::splitmix64_next(&mut self.seed))
    }
    fn limits(&self) -> Limits {
        self.limits
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}
