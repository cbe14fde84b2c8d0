#![no_main]
//! Any string as an intrinsic function call: parse errors, never panics.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = cairn_intrinsics::parse(text);
    }
});
