//! The forms of Jayway's dialect that AWS accepts and how they evaluate.
//!
//! Expected results follow Jayway's PathCompiler, FilterCompiler and EvaluatorFactory;
//! those marked "comparison" are Jayway's recorded answers in the json-path-comparison
//! project (cburgmer/json-path-comparison, regression_suite/Java_com.jayway.jsonpath.yaml).

use cairn_jsonpath::{Path, PathErrorKind};
use serde_json::{json, Value};

fn parse(path: &str) -> Path {
    Path::parse(path).unwrap_or_else(|e| panic!("{path} should parse: {e}"))
}

fn sel(path: &str, doc: &Value) -> Value {
    parse(path)
        .select(doc)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn rejected(path: &str) -> PathErrorKind {
    match Path::parse(path) {
        Ok(p) => panic!("{path} should not parse, got {:?}", p.canonical()),
        Err(e) => e.kind(),
    }
}

/// The `id`s of the items a filter keeps.
fn ids(filter: &str, doc: &Value) -> Vec<i64> {
    let out = sel(filter, doc);
    out.as_array()
        .unwrap_or_else(|| panic!("{filter} gave {out}"))
        .iter()
        .map(|item| item["id"].as_i64().unwrap_or(-1))
        .collect()
}

// ---- a dot before a bracket ----

#[test]
fn dot_before_index_is_the_index() {
    let p = parse("$.[0]");
    assert!(p.is_definite());
    assert_eq!(p.canonical(), "$[0]");
    assert_eq!(sel("$.[0]", &json!(["x", "y"])), json!("x"));
    assert_eq!(sel("$.[-1]", &json!(["x", "y"])), json!("y"));
}

#[test]
fn dot_before_index_inside_a_path() {
    // Published AWS samples read EC2/RDS snapshot states this way.
    let doc =
        json!({"Snapshots": [{"State": "available", "Id": "a"}, {"State": "pending", "Id": "b"}]});
    let p = parse("$.Snapshots.[0].State");
    assert!(p.is_definite());
    assert_eq!(p.canonical(), "$['Snapshots'][0]['State']");
    assert_eq!(sel("$.Snapshots.[0].State", &doc), json!("available"));
    assert_eq!(sel("$.Snapshots.[1].Id", &doc), json!("b"));
    assert_eq!(
        Path::parse_reference("$.Snapshots.[0].State")
            .unwrap()
            .canonical(),
        "$['Snapshots'][0]['State']"
    );
}

#[test]
fn dot_before_wildcard_and_names() {
    let doc = json!([
        {"bucket": "b1", "key": "k1", "size": 1},
        {"bucket": "b2", "key": "k2"},
        {"other": true}
    ]);
    // Each item's named properties merge into one object; items without them give {}.
    assert_eq!(
        sel("$.[*].['bucket', 'key']", &doc),
        json!([{"bucket": "b1", "key": "k1"}, {"bucket": "b2", "key": "k2"}, {}])
    );
    assert_eq!(sel("$.[*].bucket", &doc), json!(["b1", "b2"]));
    assert_eq!(sel("$.[ * ].key", &doc), json!(["k1", "k2"]));
    let obj = json!({"a": 1, "b c": 2});
    assert_eq!(sel("$.['a']", &obj), json!(1));
    assert_eq!(sel("$.[\"b c\"]", &obj), json!(2));
    assert!(parse("$.['a']").is_definite());
    assert_eq!(parse("$.['a'].[\"b\"]").canonical(), "$['a']['b']");
}

#[test]
fn deep_scan_before_a_bracket() {
    let doc = json!({"a": 1, "b": {"a": 2, "c": [{"a": 3}]}});
    assert_eq!(sel("$..['a']", &doc), json!([1, 2, 3]));
    assert_eq!(sel("$..[\"a\"]", &doc), json!([1, 2, 3]));
    assert_eq!(parse("$..['a']").canonical(), "$..['a']");
    assert_eq!(sel("$..[0].a", &doc), json!([3]));
}

#[test]
fn dot_before_slice_and_filter() {
    let doc = json!([1, 2, 3]);
    assert_eq!(sel("$.[1:]", &doc), json!([2, 3]));
    assert_eq!(sel("$.[?(@ > 1)]", &doc), json!([2, 3]));
}

// ---- a filter right after the root ----

#[test]
fn filter_right_after_the_root() {
    let doc = json!([{"OU": 1, "Name": "a"}, {"OU": 0, "Name": "b"}, {"OU": "5", "Name": "c"}, {"Name": "d"}]);
    // "5" is a string: ordering a number against a string is false, not an error.
    assert_eq!(
        sel("$.[?(@.OU > 0)]", &doc),
        json!([{"OU": 1, "Name": "a"}])
    );
    assert_eq!(sel("$[?(@.OU > 0)]", &doc), json!([{"OU": 1, "Name": "a"}]));
    assert_eq!(sel("$.[?(@.OU > 0)].Name", &doc), json!(["a"]));
    assert_eq!(parse("$.[?(@.OU > 0)]").canonical(), "$[?]");
    assert!(!parse("$.[?(@.OU > 0)]").is_definite());
    // Jayway applies a filter on an object to the object itself.
    assert_eq!(
        sel("$[?(@.key)]", &json!({"key": 42})),
        json!([{"key": 42}])
    );
}

// ---- filter comparisons ----

fn items() -> Value {
    json!({
        "limit": 15,
        "wanted": [1, "3"],
        "items": [
            {"id": 1, "name": "alpha", "tags": ["x", "y"], "price": 10, "code": "10"},
            {"id": 2, "name": "Beta", "tags": [], "price": 20.5, "code": "abc"},
            {"id": 3, "name": "gamma", "price": "30"},
            {"id": 4, "name": "", "tags": ["y"], "flag": true, "n": null, "said": "it's"}
        ]
    })
}

#[test]
fn equality_numbers_and_strings() {
    let d = items();
    assert_eq!(ids("$.items[?(@.price == 10)]", &d), [1]);
    assert_eq!(ids("$.items[?(@.price == 10.0)]", &d), [1]);
    assert_eq!(ids("$.items[?(@.price == 20.50)]", &d), [2]);
    assert_eq!(ids("$.items[?(@.name == 'alpha')]", &d), [1]);
    assert_eq!(ids("$.items[?(@.name == \"alpha\")]", &d), [1]);
    // A number equals a string that reads as the same decimal (comparison: filter_expression_with_equals).
    assert_eq!(ids("$.items[?(@.price == '10')]", &d), [1]);
    assert_eq!(ids("$.items[?(@.code == 10)]", &d), [1]);
    assert_eq!(ids("$.items[?(@.price == '30')]", &d), [3]);
    // Jayway's equality is not symmetric: a number on the left reads the string as a
    // decimal, a string on the left compares with the number's decimal text.
    assert_eq!(ids("$.items[?(@.price == '10.0')]", &d), [1]);
    assert_eq!(ids("$.items[?('10.0' == @.price)]", &d), Vec::<i64>::new());
    assert_eq!(ids("$.items[?('10' == @.price)]", &d), [1]);
    assert_eq!(ids("$.items[?(@.said == 'it\\'s')]", &d), [4]);
    assert_eq!(ids("$.items[?(@.n == null)]", &d), [4]);
    assert_eq!(ids("$.items[?(@.flag == true)]", &d), [4]);
    assert_eq!(ids("$.items[?(@.price == $.limit)]", &d), Vec::<i64>::new());
}

#[test]
fn not_equal_counts_missing_as_different() {
    let d = items();
    assert_eq!(ids("$.items[?(@.flag != true)]", &d), [1, 2, 3]);
    assert_eq!(ids("$.items[?(@.price != 10)]", &d), [2, 3, 4]);
}

#[test]
fn type_safe_equality() {
    let d = items();
    assert_eq!(ids("$.items[?(@.price === 10)]", &d), [1]);
    assert_eq!(ids("$.items[?(@.code === 10)]", &d), Vec::<i64>::new());
    assert_eq!(ids("$.items[?(@.price !== 10)]", &d), [2, 3, 4]);
}

#[test]
fn ordering_numbers_and_strings() {
    let d = items();
    // The string "30" and the missing price are neither smaller nor greater.
    assert_eq!(ids("$.items[?(@.price < 100)]", &d), [1, 2]);
    assert_eq!(ids("$.items[?(@.price >= 20.5)]", &d), [2]);
    assert_eq!(ids("$.items[?(@.price <= $.limit)]", &d), [1]);
    assert_eq!(ids("$.items[?(@.price > '5')]", &d), Vec::<i64>::new());
    assert_eq!(ids("$.items[?(@.price<15)]", &d), [1]);
    assert_eq!(ids("$.items[?(@.id>-1)]", &d), [1, 2, 3, 4]);
    // Strings order by UTF-16 code units: uppercase before lowercase.
    assert_eq!(ids("$.items[?(@.name < 'b')]", &d), [1, 2, 4]);
    assert_eq!(ids("$.items[?(@.name >= 'gamma')]", &d), [3]);
}

#[test]
fn regular_expressions_match_the_whole_text() {
    let d = items();
    assert_eq!(ids("$.items[?(@.name =~ /a.*/)]", &d), [1]);
    assert_eq!(ids("$.items[?(@.name =~ /.*A/i)]", &d), [1, 2, 3]);
    assert_eq!(ids("$.items[?(@.name=~/[a-z]+/)]", &d), [1, 3]);
    // A number is matched through its decimal text.
    assert_eq!(ids("$.items[?(@.price =~ /20\\.5/)]", &d), [2]);
    assert_eq!(ids("$.items[?(@.price =~ /1\\d/)]", &d), [1]);
    // Anything that is not a string, number or boolean is matched as "".
    assert_eq!(ids("$.items[?(@.missing =~ /.*/)]", &d), [1, 2, 3, 4]);
    assert_eq!(ids("$.items[?(@.name =~ 'alpha')]", &d), Vec::<i64>::new());
}

#[test]
fn membership_operators() {
    let d = items();
    assert_eq!(ids("$.items[?(@.name in ['alpha', 'gamma'])]", &d), [1, 3]);
    assert_eq!(ids("$.items[?(@.name IN [\"Beta\"])]", &d), [2]);
    assert_eq!(ids("$.items[?(@.id in [1, \"2\"])]", &d), [1, 2]);
    assert_eq!(ids("$.items[?(@.id in $.wanted)]", &d), [1, 3]);
    assert_eq!(ids("$.items[?(@.id nin [1, 2])]", &d), [3, 4]);
    // Without an array on the right Jayway aborts the predicate: nothing passes,
    // whichever of in/nin.
    assert_eq!(ids("$.items[?(@.id in 'x')]", &d), Vec::<i64>::new());
    assert_eq!(ids("$.items[?(@.id nin 'x')]", &d), Vec::<i64>::new());
    assert_eq!(ids("$.items[?(@.id in $.nothing)]", &d), Vec::<i64>::new());
    assert_eq!(ids("$.items[?(@.tags contains 'y')]", &d), [1, 4]);
    assert_eq!(ids("$.items[?(@.name contains 'mm')]", &d), [3]);
    assert_eq!(
        ids("$.items[?(@.tags subsetof ['x', 'y', 'z'])]", &d),
        [1, 2, 4]
    );
    assert_eq!(ids("$.items[?(@.tags anyof ['y', 'q'])]", &d), [1, 4]);
    // A missing left side is no list: noneof aborts there.
    assert_eq!(ids("$.items[?(@.tags noneof ['y'])]", &d), [2]);
}

#[test]
fn size_and_empty() {
    let d = items();
    assert_eq!(ids("$.items[?(@.tags size 2)]", &d), [1]);
    assert_eq!(ids("$.items[?(@.name size 4)]", &d), [2]);
    assert_eq!(ids("$.items[?(@.name size 0)]", &d), [4]);
    assert_eq!(ids("$.items[?(@.tags empty true)]", &d), [2]);
    assert_eq!(ids("$.items[?(@.tags empty false)]", &d), [1, 4]);
    assert_eq!(ids("$.items[?(@.name empty true)]", &d), [4]);
}

#[test]
fn logic_existence_and_negation() {
    let d = items();
    // && binds tighter than || (comparison: filter_expression_with_different_ungrouped_operators).
    assert_eq!(
        ids("$.items[?(@.id == 1 || @.id == 2 && @.price > 100)]", &d),
        [1]
    );
    assert_eq!(
        ids("$.items[?((@.id == 1 || @.id == 2) && @.price > 15)]", &d),
        [2]
    );
    assert_eq!(ids("$.items[?(@.price>5&&@.id<3)]", &d), [1, 2]);
    // Existence: any value, null included (comparison: filter_expression_with_value).
    assert_eq!(ids("$.items[?(@.flag)]", &d), [4]);
    assert_eq!(ids("$.items[?(@.n)]", &d), [4]);
    assert_eq!(ids("$.items[?(!@.flag)]", &d), [1, 2, 3]);
    assert_eq!(ids("$.items[?(@.tags && !@.flag)]", &d), [1, 2]);
    assert_eq!(ids("$.items[?(!(@.price < 15))]", &d), [2, 3, 4]);
    // A path runs until a space or an operator character, so without spaces `&&`
    // becomes part of a property name that no item has.
    assert_eq!(ids("$.items[?(@.flag&&@.id)]", &d), Vec::<i64>::new());
}

#[test]
fn json_literals_and_whole_items() {
    let d = items();
    assert_eq!(ids("$.items[?(@.tags == ['x', 'y'])]", &d), [1]);
    assert_eq!(ids("$.items[?(@.tags == [\"y\"])]", &d), [4]);
    // A JSON literal on the left compares as text: never equal.
    assert_eq!(
        ids("$.items[?(['x', 'y'] == @.tags)]", &d),
        Vec::<i64>::new()
    );
    // comparison: filter_expression_with_equals_on_array_of_numbers.
    assert_eq!(
        sel("$[?(@ == 42)]", &json!([0, 42, "42", 42.0, -1])),
        json!([42, "42", 42.0])
    );
    assert_eq!(
        sel("$[?(@)]", &json!(["a", null, 0, [], {}])),
        json!(["a", null, 0, [], {}])
    );
}

#[test]
fn operators_an_inline_filter_cannot_satisfy() {
    // They parse, but Jayway aborts every evaluation: nothing passes.
    let d = items();
    for op in ["all ['x']", "type 'string'", "matches 'x'"] {
        assert_eq!(
            ids(&format!("$.items[?(@.tags {op})]"), &d),
            Vec::<i64>::new(),
            "{op}"
        );
    }
    // An explicit `exists` compares booleans and aborts on anything else.
    assert_eq!(ids("$.items[?(@.flag exists true)]", &d), [4]);
}

#[test]
fn nested_filter_existence_counts_empty_matches() {
    // comparison: filter_expression_with_subfilter. An indefinite path exists once its
    // definite part does, even when it matches nothing.
    let doc = json!([
        {"a": [{"price": 1}, {"price": 3}]},
        {"a": [{"price": 11}]},
        {"a": []},
        {"b": 1}
    ]);
    assert_eq!(
        sel("$[?(@.a[?(@.price>10)])]", &doc),
        json!([{"a": [{"price": 1}, {"price": 3}]}, {"a": [{"price": 11}]}, {"a": []}])
    );
    // To keep only the items with a match, compare the matches instead.
    assert_eq!(
        sel("$[?(@.a[?(@.price>10)] empty false)]", &doc),
        json!([{"a": [{"price": 11}]}])
    );
}

// ---- deep scan as Jayway walks it ----

#[test]
fn filter_after_deep_scan() {
    // comparison: filter_expression_after_recursive_descent.
    let doc =
        json!({"id": 2, "more": [{"id": 2}, {"more": {"id": 2}}, {"id": {"id": 2}}, [{"id": 2}]]});
    let out = sel("$..[?(@.id==2)]", &doc);
    assert_eq!(
        out,
        json!([doc.clone(), {"id": 2}, {"id": 2}, {"id": 2}, {"id": 2}])
    );
}

#[test]
fn index_after_deep_scan() {
    // comparison: recursive_array_index.
    let doc = json!(["first", {"key": ["first nested", {"more": [{"nested": ["deepest", "second"]}, ["more", "values"]]}]}]);
    assert_eq!(
        sel("$..[0]", &doc),
        json!(["first", "first nested", {"nested": ["deepest", "second"]}, "deepest", "more"])
    );
    // comparison: dot_notation_after_bracket_notation_after_recursive_descent. Jayway
    // hands the elements of every array to `.key` without applying `[1]`.
    let doc = json!({
        "k": [{"key": "some value"}, {"key": 42}],
        "kk": [[{"key": 100}, {"key": 200}, {"key": 300}], [{"key": 400}, {"key": 500}, {"key": 600}]],
        "key": [0, 1]
    });
    assert_eq!(
        sel("$..[1].key", &doc),
        json!(["some value", 42, 100, 200, 300, 400, 500, 600])
    );
}

#[test]
fn wildcard_then_filter_after_deep_scan() {
    // comparison: filter_expression_after_dot_notation_with_wildcard_after_recursive_descent.
    let doc = json!([
        {"complext": {"one": [
            {"name": "first", "id": 1}, {"name": "next", "id": 2},
            {"name": "another", "id": 3}, {"name": "more", "id": 4}
        ], "more": {"name": "next to last", "id": 5}}},
        {"name": "last", "id": 6}
    ]);
    let out = sel("$..*[?(@.id>2)]", &doc);
    let got: Vec<i64> = out
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, [6, 3, 4, 5, 3, 4]);
}

#[test]
fn merged_names_after_deep_scan() {
    let doc = json!({"a": 1, "b": 2, "c": {"a": 3}, "d": [{"a": 4, "b": 5, "e": 6}]});
    assert_eq!(
        sel("$..['a','b']", &doc),
        json!([{"a": 1, "b": 2}, {"a": 4, "b": 5}])
    );
}

// ---- slices and indexes ----

#[test]
fn slices_read_as_jayway_reads_them() {
    let d = json!([0, 1, 2, 3, 4]);
    assert_eq!(sel("$[1:3]", &d), json!([1, 2]));
    assert_eq!(sel("$[-2:]", &d), json!([3, 4]));
    assert_eq!(sel("$[:2]", &d), json!([0, 1]));
    assert_eq!(sel("$[:-1]", &d), json!([0, 1, 2, 3]));
    assert_eq!(sel("$[-10:]", &d), json!([0, 1, 2, 3, 4]));
    assert_eq!(sel("$[:10]", &d), json!([0, 1, 2, 3, 4]));
    // [start:end] resolves neither bound.
    assert_eq!(sel("$[1:-1]", &d), json!([]));
    assert_eq!(sel("$[-2:3]", &d), json!([3, 4, 0, 1, 2]));
    // A step is read and ignored (comparison: array_slice_with_step, ..._with_step_0).
    assert_eq!(sel("$[0:3:2]", &d), json!([0, 1, 2]));
    assert_eq!(sel("$[0:3:0]", &d), json!([0, 1, 2]));
    assert_eq!(parse("$[0:3:2]").canonical(), "$[0:3]");
    assert_eq!(sel("$[ 1:3 ]", &d), json!([1, 2]));
    for bad in ["$[:]", "$[::2]", "$[::]", "$[::-2]", "$[1: 3]", "$[1:x]"] {
        assert_eq!(rejected(bad), PathErrorKind::Syntax, "{bad}");
    }
}

#[test]
fn indexes_with_spaces_and_lists() {
    let d = json!(["a", "b", "c"]);
    assert_eq!(sel("$[ 1 ]", &d), json!("b"));
    assert_eq!(sel("$[0, 2]", &d), json!(["a", "c"]));
    assert_eq!(sel("$[ 0 , -1 ]", &d), json!(["a", "c"]));
    for bad in ["$[1 2]", "$[1,]", "$[,1]", "$[2147483648]", "$[-]", "$[1-]"] {
        assert_eq!(rejected(bad), PathErrorKind::Syntax, "{bad}");
    }
}

// ---- names ----

#[test]
fn bracket_names_with_spaces_and_lists() {
    let d = json!({"a": 1, "b": 2, "": 3});
    assert_eq!(sel("$[ 'a' ]", &d), json!(1));
    assert_eq!(sel("$['a' , 'b']", &d), json!({"a": 1, "b": 2}));
    assert_eq!(sel("$['']", &d), json!(3));
    for bad in [
        "$['a',\"b\"]",
        "$['a',]",
        "$['a' 'b']",
        "$['a'.'b']",
        "$[]",
        "$['a'",
    ] {
        assert_eq!(rejected(bad), PathErrorKind::Syntax, "{bad}");
    }
}

#[test]
fn dot_names_take_any_character_but_dot_bracket_and_space() {
    let d = json!({"a]": 1, "a'b": 2, "@type": 3, "a:b": 4, "*x": 5});
    assert_eq!(sel("$.a]", &d), json!(1));
    assert_eq!(sel("$.a'b", &d), json!(2));
    assert_eq!(sel("$.@type", &d), json!(3));
    assert_eq!(sel("$.a:b", &d), json!(4));
    assert_eq!(parse("$.a'b").canonical(), "$['a'b']");
}

// ---- what stays rejected ----

#[test]
fn rejections() {
    for bad in [
        "$.a b",
        "$...a",
        "$.",
        "$..",
        "$.a.",
        "$.a[",
        "$['a']b",
        "$.*b",
        "$[?()]",
        "$[?(@.a = 1)]",
        "$[?(@.a == 'x)]",
        "$[?(@.a == 1 &&)]",
        "$[?(@.a ~= 1)]",
        "$[?(true)]",
        "$[?(@.a == 1) || (@.b == 2)]",
        "$[?(@.a == tru)]",
        "$[?(@.a == nul)]",
        "$[?(@.a == 1.2.3)]",
        "$[?(@.a == 1e)]",
        "$[?(@.a in [1,)]",
        "$[?(@.a in [1, 2)]",
        "$[?(@.a =~ /[/)]",
        "$[?(@.a =~ /x)]",
        "$[?(@.a == '\\uZZZZ')]",
        "$[?(@.a ==)]",
        "$[?(!true)]",
        "$[?(@.a == $$.x)]",
        "$[?]",
        "$[?(@.a)",
        "$[?(@.a)]]x",
    ] {
        let kind = rejected(bad);
        assert_ne!(kind, PathErrorKind::NotFound, "{bad}");
    }
    assert_eq!(
        rejected("$[?(@.a.length() > 1)]"),
        PathErrorKind::Unsupported
    );
}

#[test]
fn filter_operands_keep_their_kind_through_canonical_and_reference_checks() {
    for p in ["$.[?(@.a)]", "$..[0]", "$.a[0:1]", "$.[*]"] {
        assert_eq!(
            Path::parse_reference(p).unwrap_err().kind(),
            PathErrorKind::Syntax,
            "{p}"
        );
    }
    assert!(Path::parse_reference("$.a.[0].['b']").is_ok());
}
