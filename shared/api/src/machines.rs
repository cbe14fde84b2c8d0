//! Compiled machines, by definition text, for the shells that run Standard executions
//! (`cairn serve`'s driver and the serverless engine): a definition is compiled once per
//! process or warm container, not once per event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cairn_interpreter::{Limits, Machine};
use serde_json::Value;

/// Machines a process keeps before it starts over: versions come and go in a long-lived
/// process, and its memory must not grow with them.
const CAPACITY: usize = 256;

/// Why a stored definition cannot be run (it was validated when stored, so this means a
/// corrupted row or a definition this build cannot compile).
#[derive(Debug, thiserror::Error)]
pub enum MachineError {
    #[error("stored definition is not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("the definition cannot be run: {0}")]
    Compile(cairn_interpreter::LoadError),
}

pub struct MachineCache {
    limits: Limits,
    machines: Mutex<HashMap<String, Arc<Machine>>>,
}

impl MachineCache {
    /// Machines compiled under `limits`.
    pub fn new(limits: Limits) -> MachineCache {
        MachineCache {
            limits,
            machines: Mutex::new(HashMap::new()),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The compiled machine of a definition, compiled on first use.
    pub fn get(&self, definition: &str) -> Result<Arc<Machine>, MachineError> {
        if let Some(machine) = self
            .machines
            .lock()
            .ok()
            .and_then(|cache| cache.get(definition).cloned())
        {
            return Ok(machine);
        }
        // The definition reader builds maps at their final size: a fifth less than serde_json
        // for a large definition, with the same value or error.
        let value: Value = cairn_asl::json::parse(definition).map_err(MachineError::NotJson)?;
        let machine = Arc::new(
            Machine::from_json(&value)
                .map_err(MachineError::Compile)?
                .with_limits(self.limits),
        );
        if let Ok(mut cache) = self.machines.lock() {
            if cache.len() >= CAPACITY {
                cache.clear();
            }
            cache.insert(definition.to_owned(), Arc::clone(&machine));
        }
        Ok(machine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_definition_is_compiled_once_under_the_given_limits() {
        let raised = Limits {
            max_history_events: 100_000,
            ..Limits::default()
        };
        let cache = MachineCache::new(raised);
        let pass = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#;
        let wait =
            r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": true}}}"#;
        let first = cache.get(pass).unwrap();
        assert!(Arc::ptr_eq(&first, &cache.get(pass).unwrap()));
        assert!(!Arc::ptr_eq(&first, &cache.get(wait).unwrap()));
        assert_eq!(first.limits(), raised);
        assert!(matches!(cache.get("{"), Err(MachineError::NotJson(_))));
        assert!(matches!(
            cache.get(r#"{"StartAt": "X", "States": {}}"#),
            Err(MachineError::Compile(_))
        ));
    }
}
