#![forbid(unsafe_code)]
//! The 18 intrinsic functions of the Amazon States Language (`States.Format`,
//! `States.ArrayRange`, ...): a parser of the call syntax and an evaluator with AWS's argument
//! checks and error texts.
//!
//! The crate is pure: path arguments, `States.UUID` ids and unseeded `States.MathRandom`
//! numbers all come from the caller through [`Env`].
//!
//! ```
//! use cairn_intrinsics::{parse, Env};
//! use serde_json::{json, Value};
//!
//! struct Input(Value);
//! impl Env for Input {
//!     fn resolve(&self, path: &str) -> Result<Value, String> {
//!         let key = path.strip_prefix("$.").unwrap_or(path);
//!         self.0.get(key).cloned().ok_or_else(|| {
//!             format!("The JsonPath argument for the field '{path}' could not be found in the input '{}'", self.0)
//!         })
//!     }
//!     fn uuid(&mut self) -> String { "c4e9a8d2-5f1b-4c3e-9a7d-2b6f8e0d1a34".into() }
//!     fn random_u64(&mut self) -> u64 { 7 }
//! }
//!
//! let call = parse("States.Format('Hello {}', $.name)").unwrap();
//! assert_eq!(call.paths(), vec!["$.name"]);
//! let mut env = Input(json!({"name": "Ada"}));
//! assert_eq!(call.evaluate(&mut env).unwrap(), json!("Hello Ada"));
//!
//! let err = parse("States.ArrayGetItem($.list, 3)").unwrap().evaluate(&mut Input(json!({"list": [1]}))).unwrap_err();
//! assert_eq!(err.to_string(), "There was an error while evaluating the intrinsic function: States.ArrayGetItem($.list, 3). Invalid arguments in States.ArrayGetItem");
//! ```

mod error;
mod eval;
mod java;
mod parse;

use serde_json::Value;

pub use error::{ErrorKind, IntrinsicError, Result};
pub use parse::Function;

/// What an intrinsic needs from the running state.
pub trait Env {
    /// The value of a path argument (`$.a`, `$$.Execution.Id`, `$var.x`, `$`). On failure,
    /// return AWS's cause text for the missing path, e.g.
    /// `The JsonPath argument for the field '$.a' could not be found in the input '{}'`;
    /// the evaluator prefixes it with the failing call.
    fn resolve(&self, path: &str) -> std::result::Result<Value, String>;
    /// The id `States.UUID` returns (a v4 UUID in canonical form).
    fn uuid(&mut self) -> String;
    /// Entropy for `States.MathRandom` without a seed.
    fn random_u64(&mut self) -> u64;
}

/// A parsed intrinsic call, possibly with nested calls as arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Intrinsic {
    source: String,
    call: parse::Call,
}

/// Parses an intrinsic call such as `States.Format('Hello {}', $.name)`.
///
/// Only syntax is checked here (the shape of the call, known function names, string escapes,
/// number grammar, at most 10 nesting levels): AWS accepts a definition whose arguments have
/// the wrong count or type and fails the state at run time instead.
pub fn parse(src: &str) -> Result<Intrinsic> {
    let call = parse::parse_call_expression(src)?;
    Ok(Intrinsic {
        source: src.to_owned(),
        call,
    })
}

/// Whether `src` looks like an intrinsic call (a `States.` name followed by `(`), which is how
/// a `.$` field tells an intrinsic from a path. It does not validate: use [`parse`].
pub fn is_intrinsic(src: &str) -> bool {
    src.strip_prefix("States.").is_some_and(|rest| {
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        name_len > 0 && rest.get(name_len..).is_some_and(|r| r.starts_with('('))
    })
}

impl Intrinsic {
    /// Evaluates the call. A failure is a [`ErrorKind::Runtime`] error whose text is AWS's
    /// `States.Runtime` cause (without the "An error occurred while executing the state" prefix).
    pub fn evaluate(&self, env: &mut dyn Env) -> Result<Value> {
        eval::eval_call(&self.call, env)
    }

    /// The text this was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The outermost function.
    pub fn function(&self) -> Function {
        self.call.function
    }

    /// Every path argument, nested calls included, in source order, for validation.
    pub fn paths(&self) -> Vec<&str> {
        let mut out = Vec::new();
        collect_paths(&self.call, &mut out);
        out
    }
}

fn collect_paths<'a>(call: &'a parse::Call, out: &mut Vec<&'a str>) {
    for arg in &call.args {
        match arg {
            parse::Arg::Path(p) => out.push(p),
            parse::Arg::Call(inner) => collect_paths(inner, out),
            _ => {}
        }
    }
}
