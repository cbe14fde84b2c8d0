use cairn_jsonpath::{set_at, Path};
use proptest::prelude::*;
use serde_json::json;

fn doc() -> serde_json::Value {
    json!({"a": [1, {"b": "c", "d": [null, true]}, [2, 3]], "e": {"f": {"g": 1.5}}, "h": "i"})
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics(src in ".{0,64}") {
        if let Ok(p) = Path::parse(&src) {
            let _ = p.select(&doc());
            let _ = set_at(doc(), &p, json!(0));
        }
        let _ = Path::parse_reference(&src);
    }

    #[test]
    fn path_like_strings_never_panic(src in r"\$[\$a-z]?([.\[\]'\x22*?@()<>=!&|:,0-9 -]|\.\.|[a-h]){0,40}") {
        if let Ok(p) = Path::parse(&src) {
            let _ = p.select(&doc());
            let _ = p.canonical();
            let _ = set_at(doc(), &p, json!(0));
        }
    }

    #[test]
    fn definite_selection_agrees_with_set(key in "[a-z]{1,8}", value in any::<i64>()) {
        let path = Path::parse_reference(&format!("$.x.{key}")).unwrap();
        let written = set_at(json!({}), &path, json!(value)).unwrap();
        prop_assert_eq!(path.select(&written).unwrap(), json!(value));
    }
}

#[test]
fn nesting_bombs_are_errors() {
    for bomb in [
        format!("${}", "[?(@".repeat(100_000)),
        format!("$[?({}@.a{})]", "(".repeat(100_000), ")".repeat(100_000)),
        format!("$[?({}@.a)]", "!".repeat(100_000)),
        format!("${}", "[".repeat(100_000)),
    ] {
        assert!(Path::parse(&bomb).is_err());
    }
}
