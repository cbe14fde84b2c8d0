#![no_main]
//! Any string as a JSONPath, selected against a fixed document: errors, never panics.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let doc = serde_json::json!({"a": [1, {"b": "x"}, [2, 3]], "c": {"d": null}});
        if let Ok(path) = cairn_jsonpath::Path::parse(text) {
            let _ = path.select(&doc);
        }
        let _ = cairn_jsonpath::Path::parse_reference(text);
    }
});
