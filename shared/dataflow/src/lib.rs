#![forbid(unsafe_code)]
//! ASL data flow for states using the JSONPath query language: the
//! InputPath → Parameters → ResultSelector → ResultPath → OutputPath pipeline,
//! payload templates (`.$` keys with paths and intrinsic functions), and Choice rules.
//!
//! Everything is pure: the caller supplies the documents ([`Scope`]) and any
//! randomness ([`Entropy`]). Errors carry AWS's error name and the cause text that
//! follows AWS's `An error occurred while executing the state '…' (…). ` prefix,
//! which the interpreter adds.
//!
//! What `$` (`Scope::input`) is at each step of a JSONPath state:
//!
//! | step | `$` | call |
//! |---|---|---|
//! | InputPath | the raw state input | [`apply_input_path`] |
//! | Parameters / ItemSelector | the effective input (after InputPath) | [`PayloadTemplate::evaluate`] |
//! | ResultSelector | the raw result | [`PayloadTemplate::evaluate`] |
//! | ResultPath | merges the selected result into the raw input | [`apply_result_path`] |
//! | OutputPath | the value after ResultPath | [`apply_output_path`] |
//! | Choice rules | the effective input | [`ChoiceRule::matches`] |
//! | Assign (Pass) | the state result (Result, or the Parameters output) | [`PayloadTemplate::evaluate`] |
//!
//! The Assign row is what the Pass/Choice recordings of the corpus agree with
//! (`tests/corpus.rs` replays them).

mod choice;
mod error;
mod intrinsic;
mod pipeline;
mod scope;
mod template;

/// Parses an ASL timestamp into nanoseconds since the Unix epoch, as the Choice rules compare.
pub use cairn_common::timestamp::parse_nanos as parse_timestamp;
pub use choice::{ChoiceRule, Comparison};
pub use error::{CompileError, DataflowError};
pub use pipeline::{apply_input_path, apply_output_path, apply_result_path, PathSetting};
pub use scope::{Entropy, Scope, Variables};
pub use template::{DynamicField, PayloadTemplate};

/// The ASL error names this crate produces.
pub mod error_names {
    pub const RUNTIME: &str = "States.Runtime";
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
}

/// Fuzzing entry point: compiles arbitrary bytes as a payload template (when they
/// are JSON) and as a Choice rule, and evaluates what compiles. Must never panic.
pub fn fuzz_compile(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let input = serde_json::json!({"a": [1, 2], "b": {"c": "d"}, "t": "2016-03-14T01:59:00Z"});
    let context = serde_json::json!({"Execution": {"Id": "x"}});
    let vars = serde_json::Map::new();
    let scope = Scope {
        input: &input,
        context: &context,
        variables: &vars,
    };
    if let Ok(t) = PayloadTemplate::compile(&v) {
        let _ = t.evaluate(&scope, &mut FixedEntropy);
    }
    if let Ok(rule) = ChoiceRule::compile(&v) {
        let _ = rule.matches(&scope);
    }
}

/// Fuzzing entry point for paths: see [`cairn_jsonpath::fuzz_parse`].
pub fn fuzz_path(data: &[u8]) {
    cairn_jsonpath::fuzz_parse(data);
}

struct FixedEntropy;

impl Entropy for FixedEntropy {
    fn uuid(&mut self) -> String {
        "00000000-0000-4000-8000-000000000000".to_owned()
    }
    fn random_u64(&mut self) -> u64 {
        4
    }
}
