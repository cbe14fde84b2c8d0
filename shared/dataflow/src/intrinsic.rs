//! The bridge to cairn-intrinsics: its `Env` reads paths through our [`Scope`].

use crate::{DataflowError, Entropy, Scope};
use cairn_jsonpath::Path;
use serde_json::Value;

/// A compiled `States.*` call.
#[derive(Debug, Clone)]
pub(crate) struct Intrinsic {
    call: cairn_intrinsics::Intrinsic,
}

impl Intrinsic {
    /// `Err(message)` is the definition-time message; empty means AWS's generic
    /// "must be a valid JSONPath or a valid intrinsic function call".
    pub(crate) fn compile(src: &str) -> Result<Self, String> {
        if !cairn_intrinsics::is_intrinsic(src) {
            return Err(String::new());
        }
        let call = cairn_intrinsics::parse(src).map_err(|_| String::new())?;
        if call.paths().iter().any(|p| Path::parse(p).is_err()) {
            return Err(String::new());
        }
        Ok(Intrinsic { call })
    }

    pub(crate) fn evaluate(
        &self,
        scope: &Scope,
        entropy: &mut dyn Entropy,
        _field: &str,
    ) -> Result<Value, DataflowError> {
        let mut env = Env { scope, entropy };
        self.call.evaluate(&mut env).map_err(|e| {
            DataflowError::new(
                e.error_name().unwrap_or(crate::error_names::RUNTIME),
                e.to_string(),
            )
        })
    }
}

struct Env<'s, 'a, 'e> {
    scope: &'s Scope<'a>,
    entropy: &'e mut dyn Entropy,
}

impl cairn_intrinsics::Env for Env<'_, '_, '_> {
    fn resolve(&self, path: &str) -> Result<Value, String> {
        let not_found = || {
            format!(
                "The JsonPath argument for the field '{path}' could not be found in the input '{}'",
                serde_json::to_string(self.scope.input).unwrap_or_default()
            )
        };
        let parsed = Path::parse(path).map_err(|_| not_found())?;
        self.scope.try_select(&parsed).map_err(|_| not_found())
    }
    fn uuid(&mut self) -> String {
        self.entropy.uuid()
    }
    fn random_u64(&mut self) -> u64 {
        self.entropy.random_u64()
    }
}
