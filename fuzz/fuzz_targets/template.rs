#![no_main]
//! Any JSON as a payload template or Choice rule: compile errors, never panics.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = cairn_dataflow::PayloadTemplate::compile(&value);
        let _ = cairn_dataflow::ChoiceRule::compile(&value);
    }
});
