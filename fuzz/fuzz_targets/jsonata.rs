#![no_main]
//! Any string as a JSONata expression: parse errors, never panics.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = cairn_jsonata::parse(text);
    }
});
