use cairn_jsonpath::{set_at, Path, PathErrorKind, Root};
use serde_json::{json, Value};

fn sel(path: &str, doc: &Value) -> Value {
    Path::parse(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .select(doc)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn sel_err(path: &str, doc: &Value) -> String {
    match Path::parse(path).and_then(|p| p.select(doc)) {
        Ok(v) => panic!("{path} selected {v}"),
        Err(e) => e.to_string(),
    }
}

fn store() -> Value {
    json!({
        "store": {
            "book": [
                {"category": "reference", "author": "Nigel Rees", "title": "Sayings", "price": 8.95},
                {"category": "fiction", "author": "Evelyn Waugh", "title": "Sword", "price": 12.99},
                {"category": "fiction", "author": "Herman Melville", "title": "Moby Dick", "isbn": "0-553", "price": 8.99},
                {"category": "fiction", "author": "J. R. R. Tolkien", "title": "LOTR", "isbn": "0-395", "price": 22.99}
            ],
            "bicycle": {"color": "red", "price": 19.95}
        },
        "a b": 1,
        "x": "y"
    })
}

#[test]
fn roots() {
    assert_eq!(Path::parse("$").unwrap().root(), &Root::Input);
    assert_eq!(
        Path::parse("$$.Execution.Id").unwrap().root(),
        &Root::Context
    );
    assert_eq!(
        Path::parse("$myVar.a[0]").unwrap().root(),
        &Root::Variable("myVar".into())
    );
    assert_eq!(Path::parse("$.a").unwrap().as_str(), "$.a");
    assert_eq!(sel("$", &json!({"k": 1})), json!({"k": 1}));
}

#[test]
fn dot_and_bracket_notation() {
    let d = store();
    assert_eq!(sel("$.store.bicycle.color", &d), json!("red"));
    assert_eq!(sel("$['store']['bicycle']['color']", &d), json!("red"));
    assert_eq!(sel("$[\"store\"][\"bicycle\"].price", &d), json!(19.95));
    assert_eq!(sel("$['a b']", &d), json!(1));
    assert_eq!(sel("$.store.book[0].author", &d), json!("Nigel Rees"));
    assert_eq!(sel("$.store.book[-1].title", &d), json!("LOTR"));
    assert!(Path::parse("$.store.book[-1].title").unwrap().is_definite());
}

#[test]
fn escaped_quote_in_bracket_name_is_kept_verbatim() {
    // Corpus: test_escape_sequence_parsing (JSONPATH) reads key `Test\""Name"` with `$['Test\""Name"']`.
    let doc = json!({"Test\\\"\"Name\"": "Value\"\\"});
    assert_eq!(sel("$['Test\\\"\"Name\"']", &doc), json!("Value\"\\"));
}

#[test]
fn slices_wildcards_unions() {
    let d = json!({"a": [0, 1, 2, 3, 4], "o": {"x": 1, "y": 2}});
    assert_eq!(sel("$.a[1:3]", &d), json!([1, 2]));
    assert_eq!(sel("$.a[-2:]", &d), json!([3, 4]));
    assert_eq!(sel("$.a[:2]", &d), json!([0, 1]));
    // Jayway reads no slice step: `[0:4:2]` is `[0:4]`, and `[::2]` does not parse.
    assert_eq!(sel("$.a[0:4:2]", &d), json!([0, 1, 2, 3]));
    assert!(Path::parse("$.a[::2]").is_err());
    assert_eq!(sel("$.a[10:]", &d), json!([]));
    assert_eq!(sel("$.a[*]", &d), json!([0, 1, 2, 3, 4]));
    assert_eq!(sel("$.o.*", &d), json!([1, 2]));
    assert_eq!(sel("$.a[0,4]", &d), json!([0, 4]));
    assert_eq!(sel("$.a[0,9]", &d), json!([0]));
    assert!(!Path::parse("$.a[0,4]").unwrap().is_definite());
    // Jayway merges a trailing multi-name selector into one object.
    assert_eq!(sel("$.o['x','y']", &d), json!({"x": 1, "y": 2}));
    assert_eq!(sel("$.o['x','nope']", &d), json!({"x": 1}));
}

#[test]
fn indefinite_paths_on_missing_data_yield_empty_arrays() {
    // Corpus: test_json_path_array_wildcard_or_slice_with_no_input, all with input {}.
    for p in [
        "$[*]",
        "$.items[1:]",
        "$.items[1:].itemValue",
        "$.items[*].itemValue",
        "$.item.items[1:]",
        "$.item.items[*]",
    ] {
        assert_eq!(sel(p, &json!({})), json!([]), "{p}");
    }
}

#[test]
fn deep_scan() {
    let d = store();
    assert_eq!(
        sel("$..author", &d),
        json!([
            "Nigel Rees",
            "Evelyn Waugh",
            "Herman Melville",
            "J. R. R. Tolkien"
        ])
    );
    assert_eq!(
        sel("$.store..price", &d),
        json!([8.95, 12.99, 8.99, 22.99, 19.95])
    );
    assert_eq!(sel("$..book[2].title", &d), json!(["Moby Dick"]));
    assert_eq!(sel("$..nothing", &d), json!([]));
    let nested = json!({"a": {"a": {"a": 1}}});
    assert_eq!(sel("$..a", &nested), json!([{"a": {"a": 1}}, {"a": 1}, 1]));
}

#[test]
fn filters() {
    let d = store();
    assert_eq!(
        sel("$.store.book[?(@.price < 10)].title", &d),
        json!(["Sayings", "Moby Dick"])
    );
    assert_eq!(
        sel("$.store.book[?(@.isbn)].title", &d),
        json!(["Moby Dick", "LOTR"])
    );
    assert_eq!(
        sel("$.store.book[?(@.category == 'reference')].author", &d),
        json!(["Nigel Rees"])
    );
    assert_eq!(
        sel(
            "$.store.book[?(@.price > 10 && @.category == \"fiction\")].title",
            &d
        ),
        json!(["Sword", "LOTR"])
    );
    assert_eq!(
        sel("$.store.book[?(@.price < 9 || @.price > 20)].title", &d),
        json!(["Sayings", "Moby Dick", "LOTR"])
    );
    assert_eq!(
        sel("$.store.book[?(!(@.price < 10))].title", &d),
        json!(["Sword", "LOTR"])
    );
    assert_eq!(
        sel(
            "$.store.book[?(@.price <= $.store.bicycle.price)].title",
            &d
        ),
        json!(["Sayings", "Sword", "Moby Dick"])
    );
    // Jayway: a missing operand is "not equal" to anything.
    assert_eq!(
        sel("$.store.book[?(@.isbn != '0-553')].title", &d),
        json!(["Sayings", "Sword", "LOTR"])
    );
    // Corpus: test_state_pass_regex_json_path_base.
    let users = json!({"users": [{"year": 1997, "status": 0}, {"year": 1998, "status": 1}]});
    assert_eq!(
        sel("$.users[?(@.status == 0)]", &users),
        json!([{"year": 1997, "status": 0}])
    );
}

#[test]
fn definite_misses_use_jayway_messages() {
    // Corpus texts: `Invalid path '$.no.such.result.path' : Missing property in path $['no']`
    // and `Invalid path '$.NoSuchTimeoutSecondsPath' : No results for path: $['NoSuchTimeoutSecondsPath']`.
    assert_eq!(
        sel_err("$.no.such.result.path", &json!({})),
        "Missing property in path $['no']"
    );
    assert_eq!(
        sel_err("$.NoSuchTimeoutSecondsPath", &json!({"a": 1})),
        "No results for path: $['NoSuchTimeoutSecondsPath']"
    );
    assert_eq!(
        sel_err("$.a.b.c", &json!({"a": {"x": 1}})),
        "Missing property in path $['a']['b']"
    );
    assert_eq!(
        sel_err("$.a[5]", &json!({"a": [1]})),
        "No results for path: $['a'][5]"
    );
    assert_eq!(
        sel_err("$.a[0]", &json!({"a": {"b": 1}})),
        "Filter: [0] can only be applied to arrays. Current context is: {\"b\":1}"
    );
    assert!(sel_err("$.a.b", &json!({"a": 3}))
        .starts_with("Expected to find an object with property ['b'] in path $['a'] but found"));
}

#[test]
fn canonical_form() {
    assert_eq!(
        Path::parse("$.a['b c'][0].d[*]..e[1:2]")
            .unwrap()
            .canonical(),
        "$['a']['b c'][0]['d'][*]..['e'][1:2]"
    );
}

#[test]
fn reference_paths() {
    assert!(Path::parse_reference("$.a.b[0]['c']").is_ok());
    assert!(Path::parse_reference("$").is_ok());
    for bad in [
        "$..a",
        "$.a[*]",
        "$.a[1:2]",
        "$.a[?(@.x)]",
        "$.a[0,1]",
        "$['a','b']",
    ] {
        let e = Path::parse_reference(bad).unwrap_err();
        assert_eq!(e.kind(), PathErrorKind::Syntax, "{bad}");
    }
}

#[test]
fn syntax_errors() {
    for bad in [
        "",
        "a",
        ".a",
        "$.",
        "$..",
        "$[",
        "$['a'",
        "$['a",
        "$[a]",
        "$.a[",
        "$[?(@.a ==)]",
        "$[?@.a]",
        "$ .a",
        "$.a b",
        "$[:]",
    ] {
        assert!(Path::parse(bad).is_err(), "{bad:?} should not parse");
    }
    for unsupported in ["$.a.length()", "$[(@.length-1)]"] {
        assert_eq!(
            Path::parse(unsupported).unwrap_err().kind(),
            PathErrorKind::Unsupported,
            "{unsupported}"
        );
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("$.a{}", "[?(@".repeat(100_000));
    assert!(Path::parse(&deep).is_err());
    let brackets = format!("${}", "[".repeat(100_000));
    assert!(Path::parse(&brackets).is_err());
    // Long but flat paths are fine.
    let long = format!("${}", ".a".repeat(100_000));
    let p = Path::parse(&long).unwrap();
    assert_eq!(
        p.select(&json!({"a": {}})).unwrap_err().to_string(),
        "Missing property in path $['a']['a']"
    );
}

#[test]
fn set_at_creates_and_replaces() {
    let p = |s: &str| Path::parse_reference(s).unwrap();
    assert_eq!(
        set_at(json!({"x": 1}), &p("$.a.b"), json!(2)).unwrap(),
        json!({"x": 1, "a": {"b": 2}})
    );
    assert_eq!(
        set_at(json!({"a": {"b": 1, "c": 3}}), &p("$.a.b"), json!(2)).unwrap(),
        json!({"a": {"b": 2, "c": 3}})
    );
    assert_eq!(
        set_at(json!("anything"), &p("$"), json!(7)).unwrap(),
        json!(7)
    );
    assert_eq!(
        set_at(json!({"l": [1, 2]}), &p("$.l[1]"), json!("z")).unwrap(),
        json!({"l": [1, "z"]})
    );
    assert_eq!(
        set_at(json!({"l": [1, 2]}), &p("$.l[-1]"), json!("z")).unwrap(),
        json!({"l": [1, "z"]})
    );
}

#[test]
fn set_at_failures() {
    let p = |s: &str| Path::parse_reference(s).unwrap();
    for (doc, path) in [
        (json!("text"), "$.a"),
        (json!({"a": 5}), "$.a.b"),
        (json!({"l": [1]}), "$.l[3]"),
        (json!({}), "$.l[0]"),
        (json!([1, 2]), "$.a"),
    ] {
        let e = set_at(doc.clone(), &p(path), json!(1)).unwrap_err();
        assert_eq!(e.kind(), PathErrorKind::ResultPathMatch, "{path} on {doc}");
        assert!(e.to_string().contains(path), "{e}");
    }
    assert!(set_at(json!({}), &Path::parse("$$.a").unwrap(), json!(1)).is_err());
}

#[test]
fn nested_filters() {
    let d = json!({"a": [{"id": 1, "b": [{"c": 1}]}, {"id": 2, "b": [{"c": 2}]}, {"id": 3}]});
    // Jayway: an indefinite path exists as soon as its definite part does, even when
    // the inner filter keeps nothing; comparing the matches tells them apart.
    assert_eq!(sel("$.a[?(@.b[?(@.c == 1)])].id", &d), json!([1, 2]));
    assert_eq!(sel("$.a[?(@.b[?(@.c == 1)] size 1)].id", &d), json!([1]));
    let too_deep = "$[?(@[?(@[?(@[?(@[?(@.x)])])])])]";
    assert!(Path::parse(too_deep)
        .unwrap_err()
        .to_string()
        .contains("nest deeper"));
}
