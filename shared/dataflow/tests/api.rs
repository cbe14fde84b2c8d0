use cairn_dataflow::{
    apply_input_path, apply_output_path, apply_result_path, ChoiceRule, Comparison, Entropy,
    PathSetting, PayloadTemplate, Scope,
};
use serde_json::{json, Map, Value};

struct Seq(u64);
impl Entropy for Seq {
    fn uuid(&mut self) -> String {
        self.0 += 1;
        format!("00000000-0000-4000-8000-{:012}", self.0)
    }
    fn random_u64(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

fn with_scope<R>(input: &Value, f: impl FnOnce(&Scope) -> R) -> R {
    let context =
        json!({"Execution": {"Id": "arn:exec", "Input": {"k": 1}}, "Map": {"Item": {"Value": 7}}});
    let mut vars = Map::new();
    vars.insert("myVar".into(), json!({"x": [10, 20]}));
    vars.insert("n".into(), json!(3));
    let scope = Scope {
        input,
        context: &context,
        variables: &vars,
    };
    f(&scope)
}

fn render(template: Value, input: Value) -> Result<Value, String> {
    let t = PayloadTemplate::compile(&template).map_err(|e| e.to_string())?;
    with_scope(&input, |s| {
        t.evaluate(s, &mut Seq(0)).map_err(|e| e.to_string())
    })
}

fn rule_matches(rule: Value, input: Value) -> Result<bool, String> {
    let r = ChoiceRule::compile(&rule).map_err(|e| e.to_string())?;
    with_scope(&input, |s| r.matches(s).map_err(|e| e.to_string()))
}

#[test]
fn template_paths_context_variables_and_static_values() {
    let out = render(
        json!({
            "static": "v", "n": 1,
            "fromInput.$": "$.a",
            "nested": {"ctx.$": "$$.Execution.Id", "list": [1, {"item.$": "$$.Map.Item.Value"}]},
            "var.$": "$myVar.x[1]",
            "all.$": "$",
            "many.$": "$.arr[*].v"
        }),
        json!({"a": "A", "arr": [{"v": 1}, {"v": 2}]}),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({
            "static": "v", "n": 1,
            "fromInput": "A",
            "nested": {"ctx": "arn:exec", "list": [1, {"item": 7}]},
            "var": 20,
            "all": {"a": "A", "arr": [{"v": 1}, {"v": 2}]},
            "many": [1, 2]
        })
    );
    // Key order is the template's.
    let keys: Vec<String> = out.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        ["static", "n", "fromInput", "nested", "var", "all", "many"]
    );
}

#[test]
fn template_keys_written_twice_keep_the_first_position_and_the_last_value() {
    // "a" and "a.$" both give the output key "a": the object is built field by field, as a
    // map insert does, not from the copied skeleton of unique keys.
    let cases = [
        (
            json!({"a": 1, "b.$": "$.y", "a.$": "$.x"}),
            json!({"a": "X", "b": "Y"}),
        ),
        (
            json!({"a.$": "$.x", "b": 2, "a": {"s": true}}),
            json!({"a": {"s": true}, "b": 2}),
        ),
        (
            json!({"u.$": "States.UUID()", "v.$": "States.UUID()", "w": 0}),
            json!({"u": "00000000-0000-4000-8000-000000000001", "v": "00000000-0000-4000-8000-000000000002", "w": 0}),
        ),
    ];
    for (template, expected) in cases {
        let out = render(template, json!({"x": "X", "y": "Y"})).unwrap();
        assert_eq!(out, expected);
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        let expected_keys: Vec<&String> = expected.as_object().unwrap().keys().collect();
        assert_eq!(keys, expected_keys);
    }
}

#[test]
fn template_missing_path_uses_aws_cause() {
    // Corpus: "The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' could not be found in the input '<json>'".
    let t = PayloadTemplate::compile(&json!({"value.$": "$.no_such_jsonpath"})).unwrap();
    let input = json!({"int-literal": 0});
    let err = with_scope(&input, |s| t.evaluate(s, &mut Seq(0))).unwrap_err();
    assert_eq!(err.error, "States.Runtime");
    assert_eq!(
        err.cause,
        "The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' could not be found in the input '{\"int-literal\":0}'"
    );
    let t = PayloadTemplate::compile(&json!({"value.$": "$$.Execution.Input.no_such_jsonpath"}))
        .unwrap();
    let err = with_scope(&input, |s| t.evaluate(s, &mut Seq(0))).unwrap_err();
    assert!(err.cause.starts_with(
        "The JSONPath '$$.Execution.Input.no_such_jsonpath' specified for the field 'value.$' could not be found in the input"
    ));
}

#[test]
fn template_compile_errors() {
    for (t, pointer, field) in [
        (json!({"a.$": "not a path"}), "/a.$", "a.$"),
        (json!({"a.$": 5}), "/a.$", "a.$"),
        (json!({"o": {"b.$": "$.["}}), "/o/b.$", "b.$"),
        (
            json!({"l": [0, {"c.$": "States.Nope()"}]}),
            "/l/1/c.$",
            "c.$",
        ),
        (json!({"d.$": "States.Format('x'"}), "/d.$", "d.$"),
    ] {
        let e = PayloadTemplate::compile(&t).unwrap_err();
        assert_eq!(e.pointer, pointer, "{t}");
        assert_eq!(
            e.message,
            format!("The value for the field '{field}' must be a valid JSONPath or a valid intrinsic function call")
        );
    }
}

#[test]
fn template_intrinsics() {
    let out = render(
        json!({
            "greeting.$": "States.Format('Hello {}', $.name)",
            "sum.$": "States.MathAdd($n, 2)",
            "id.$": "States.UUID()",
            "parts.$": "States.StringSplit($$.Execution.Id, ':')"
        }),
        json!({"name": "Ada"}),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"greeting": "Hello Ada", "sum": 5, "id": "00000000-0000-4000-8000-000000000001", "parts": ["arn", "exec"]})
    );
    let err = render(
        json!({"x.$": "States.ArrayGetItem($.l, 3)"}),
        json!({"l": [1]}),
    )
    .unwrap_err();
    assert_eq!(
        err,
        "States.Runtime: There was an error while evaluating the intrinsic function: States.ArrayGetItem($.l, 3). Invalid arguments in States.ArrayGetItem"
    );
}

#[test]
fn deep_templates_are_rejected() {
    let mut v = json!(1);
    for _ in 0..100_000 {
        v = Value::Array(vec![v]);
    }
    assert!(PayloadTemplate::compile(&v).is_err());
    // Dropping a 100k-deep serde_json value recurses in serde_json itself; leak it instead.
    std::mem::forget(v);
}

#[test]
fn input_and_output_path() {
    let input = json!({"a": {"b": 1}, "c": [1, 2]});
    let p = |v: Value| PathSetting::input_or_output(Some(&v)).unwrap();
    with_scope(&input, |s| {
        assert_eq!(apply_input_path(&PathSetting::Absent, s).unwrap(), input);
        assert_eq!(apply_input_path(&PathSetting::Null, s).unwrap(), json!({}));
        assert_eq!(
            apply_input_path(&p(json!("$.a")), s).unwrap(),
            json!({"b": 1})
        );
        assert_eq!(
            apply_output_path(&p(json!("$.c[*]")), s).unwrap(),
            json!([1, 2])
        );
        let err = apply_output_path(&p(json!("$.no.such.result.path")), s).unwrap_err();
        assert_eq!(err.error, "States.Runtime");
        assert_eq!(
            err.cause,
            "Invalid path '$.no.such.result.path' : Missing property in path $['no']"
        );
        let err = apply_input_path(&p(json!("$.x")), s).unwrap_err();
        assert_eq!(
            err.cause,
            "Invalid path '$.x' : No results for path: $['x']"
        );
    });
    assert_eq!(
        PathSetting::input_or_output_named("InputPath", Some(&json!("a.b")))
            .unwrap_err()
            .message,
        "The value for the field 'InputPath' must be a valid JSONPath"
    );
    assert_eq!(
        PathSetting::input_or_output(None).unwrap(),
        PathSetting::Absent
    );
}

#[test]
fn result_path() {
    let raw = json!({"comment": "x"});
    let r = |v: Value| PathSetting::result(Some(&v)).unwrap();
    assert_eq!(
        apply_result_path(&PathSetting::Absent, &raw, json!(1)).unwrap(),
        json!(1)
    );
    assert_eq!(
        apply_result_path(&PathSetting::Null, &raw, json!(1)).unwrap(),
        raw
    );
    assert_eq!(
        apply_result_path(&r(json!("$.taskresult")), &raw, json!("Hello")).unwrap(),
        json!({"comment": "x", "taskresult": "Hello"})
    );
    assert_eq!(
        apply_result_path(&r(json!("$.a.b")), &raw, json!(2)).unwrap(),
        json!({"comment": "x", "a": {"b": 2}})
    );
    let err = apply_result_path(&r(json!("$.a")), &json!("text"), json!(2)).unwrap_err();
    assert_eq!(err.error, "States.ResultPathMatchFailure");
    for bad in [
        json!("$$.a"),
        json!("$v.a"),
        json!("$.a[*]"),
        json!("$..a"),
        json!(3),
        json!("a"),
    ] {
        let e = PathSetting::result(Some(&bad)).unwrap_err();
        assert_eq!(
            e.message,
            "The value for the field 'ResultPath' must be a valid ReferencePath"
        );
    }
}

#[test]
fn string_operators() {
    let input = json!({"s": "b", "n": 1, "other": "c"});
    let t = |op: &str, v: Value| {
        rule_matches(
            json!({"Variable": "$.s", op: v, "Next": "N"}),
            input.clone(),
        )
        .unwrap()
    };
    assert!(t("StringEquals", json!("b")));
    assert!(!t("StringEquals", json!("B")));
    assert!(t("StringLessThan", json!("c")));
    assert!(!t("StringLessThan", json!("b")));
    assert!(t("StringLessThanEquals", json!("b")));
    assert!(t("StringGreaterThan", json!("a")));
    assert!(t("StringGreaterThanEquals", json!("b")));
    assert!(!t("StringGreaterThanEquals", json!("c")));
    assert!(t("StringLessThanPath", json!("$.other")));
    assert!(t("StringEqualsPath", json!("$.s")));
    assert!(!t("StringGreaterThanPath", json!("$.other")));
    assert!(t("StringLessThanEqualsPath", json!("$.other")));
    assert!(!t("StringGreaterThanEqualsPath", json!("$.other")));
    // Type mismatch is false, not an error.
    assert!(!rule_matches(
        json!({"Variable": "$.n", "StringEquals": "1"}),
        input.clone()
    )
    .unwrap());
    assert!(!rule_matches(json!({"Variable": "$.s", "StringEqualsPath": "$.n"}), input).unwrap());
}

#[test]
fn string_matches() {
    let m = |text: &str, pattern: &str| {
        rule_matches(
            json!({"Variable": "$.s", "StringMatches": pattern}),
            json!({"s": text}),
        )
        .unwrap()
    };
    assert!(m("log-2024.txt", "log-*.txt"));
    assert!(m("anything", "*"));
    assert!(m("", "*"));
    assert!(!m("log.csv", "log-*.txt"));
    assert!(m("a*b", "a\\*b"));
    assert!(!m("axb", "a\\*b"));
    assert!(m("a\\b", "a\\\\b"));
    assert!(m("abcabc", "*c*c"));
    assert!(!m("abcab", "*c*c"));
    assert!(m("xaaay", "x*a*y"));
}

#[test]
fn numeric_operators() {
    let input = json!({"n": 5, "f": 5.5, "s": "5", "big": 9007199254740993i64, "five": 5.0});
    let t = |var: &str, op: &str, v: Value| {
        rule_matches(json!({"Variable": var, op: v}), input.clone()).unwrap()
    };
    assert!(t("$.n", "NumericEquals", json!(5)));
    assert!(t("$.n", "NumericEquals", json!(5.0)));
    assert!(!t("$.s", "NumericEquals", json!(5)));
    assert!(t("$.f", "NumericGreaterThan", json!(5)));
    assert!(t("$.n", "NumericLessThan", json!(5.5)));
    assert!(t("$.n", "NumericLessThanEquals", json!(5)));
    assert!(t("$.n", "NumericGreaterThanEquals", json!(5)));
    assert!(!t("$.n", "NumericGreaterThanEquals", json!(6)));
    assert!(!t("$.big", "NumericEquals", json!(9007199254740992i64)));
    assert!(t("$.n", "NumericEqualsPath", json!("$.five")));
    assert!(t("$.n", "NumericLessThanPath", json!("$.f")));
    assert!(!t("$.n", "NumericGreaterThanPath", json!("$.f")));
    assert!(t("$.n", "NumericLessThanEqualsPath", json!("$.n")));
    assert!(t("$.f", "NumericGreaterThanEqualsPath", json!("$.n")));
    assert!(!t("$.n", "NumericEqualsPath", json!("$.s")));
}

#[test]
fn boolean_and_type_tests() {
    let input = json!({"t": true, "f": false, "z": null, "n": 1.5, "s": "x", "ts": "2016-03-14T01:59:00Z", "o": {}});
    let t = |var: &str, op: &str, v: Value| {
        rule_matches(json!({"Variable": var, op: v}), input.clone()).unwrap()
    };
    assert!(t("$.t", "BooleanEquals", json!(true)));
    assert!(!t("$.f", "BooleanEquals", json!(true)));
    assert!(!t("$.s", "BooleanEquals", json!(true)));
    assert!(t("$.f", "BooleanEqualsPath", json!("$.f")));
    assert!(!t("$.f", "BooleanEqualsPath", json!("$.t")));
    assert!(t("$.z", "IsNull", json!(true)));
    assert!(!t("$.s", "IsNull", json!(true)));
    assert!(t("$.s", "IsNull", json!(false)));
    assert!(t("$.n", "IsNumeric", json!(true)));
    assert!(!t("$.s", "IsNumeric", json!(true)));
    assert!(t("$.s", "IsString", json!(true)));
    assert!(t("$.o", "IsString", json!(false)));
    assert!(t("$.t", "IsBoolean", json!(true)));
    assert!(!t("$.z", "IsBoolean", json!(true)));
    assert!(t("$.ts", "IsTimestamp", json!(true)));
    assert!(!t("$.s", "IsTimestamp", json!(true)));
    assert!(t("$.s", "IsPresent", json!(true)));
    assert!(t("$.z", "IsPresent", json!(true)));
    assert!(!t("$.missing", "IsPresent", json!(true)));
    assert!(t("$.missing", "IsPresent", json!(false)));
    assert!(!t("$.missing.deeper", "IsPresent", json!(true)));
}

#[test]
fn timestamp_operators() {
    let input = json!({"t": "2016-03-14T01:59:00Z", "later": "2016-03-14T03:59:00.001+02:00", "bad": "2016-03-14 01:59:00Z"});
    let t = |var: &str, op: &str, v: Value| {
        rule_matches(json!({"Variable": var, op: v}), input.clone()).unwrap()
    };
    assert!(t("$.t", "TimestampEquals", json!("2016-03-14T01:59:00Z")));
    assert!(t(
        "$.t",
        "TimestampEquals",
        json!("2016-03-14T02:59:00+01:00")
    ));
    assert!(t("$.t", "TimestampLessThan", json!("2016-03-14T01:59:01Z")));
    assert!(t(
        "$.t",
        "TimestampGreaterThan",
        json!("2016-03-14T01:58:59Z")
    ));
    assert!(t(
        "$.t",
        "TimestampLessThanEquals",
        json!("2016-03-14T01:59:00Z")
    ));
    assert!(t(
        "$.t",
        "TimestampGreaterThanEquals",
        json!("2016-03-14T01:59:00Z")
    ));
    assert!(!t(
        "$.bad",
        "TimestampEquals",
        json!("2016-03-14T01:59:00Z")
    ));
    assert!(t("$.t", "TimestampLessThanPath", json!("$.later")));
    assert!(!t("$.t", "TimestampEqualsPath", json!("$.later")));
    assert!(!t("$.t", "TimestampGreaterThanPath", json!("$.later")));
    assert!(t("$.t", "TimestampLessThanEqualsPath", json!("$.t")));
    assert!(t("$.later", "TimestampGreaterThanEqualsPath", json!("$.t")));
    assert!(!t("$.t", "TimestampEqualsPath", json!("$.bad")));
}

#[test]
fn and_or_not_and_next() {
    let rule = ChoiceRule::compile(&json!({
        "And": [
            {"Variable": "$.v", "NumericGreaterThanEquals": 20},
            {"Not": {"Variable": "$.v", "NumericEquals": 25}},
            {"Or": [{"Variable": "$.t", "StringEquals": "a"}, {"Variable": "$.t", "StringEquals": "b"}]}
        ],
        "Next": "InTwenties",
        "Comment": "c"
    }))
    .unwrap();
    assert_eq!(rule.next(), Some("InTwenties"));
    let m = |input: Value| with_scope(&input, |s| rule.matches(s).unwrap());
    assert!(m(json!({"v": 22, "t": "b"})));
    assert!(!m(json!({"v": 25, "t": "b"})));
    assert!(!m(json!({"v": 22, "t": "c"})));
    assert!(!m(json!({"v": 19, "t": "a"})));
}

#[test]
fn missing_variable_fails_except_is_present() {
    let err = rule_matches(
        json!({"Variable": "$.nope", "StringEquals": "x"}),
        json!({}),
    )
    .unwrap_err();
    assert_eq!(
        err,
        "States.Runtime: Invalid path '$.nope' : No results for path: $['nope']"
    );
    let ok = rule_matches(json!({"Variable": "$.nope", "IsPresent": false}), json!({})).unwrap();
    assert!(ok);
}

#[test]
fn choice_variables_and_context() {
    assert!(rule_matches(json!({"Variable": "$n", "NumericEquals": 3}), json!({})).unwrap());
    assert!(rule_matches(
        json!({"Variable": "$myVar.x[0]", "NumericEqualsPath": "$.ten"}),
        json!({"ten": 10})
    )
    .unwrap());
    assert!(rule_matches(
        json!({"Variable": "$$.Map.Item.Value", "NumericEquals": 7}),
        json!({})
    )
    .unwrap());
}

#[test]
fn choice_compile_errors() {
    let e = |v: Value| ChoiceRule::compile(&v).unwrap_err();
    assert_eq!(
        e(json!({"Variable": "$.a", "StringEquals": 1})).message,
        "The value for the field 'StringEquals' must be a STRING"
    );
    assert_eq!(
        e(json!({"Variable": "$.a", "StringEquals": 1})).pointer,
        "/StringEquals"
    );
    assert_eq!(
        e(json!({"Variable": "$.a", "NumericEquals": "1"})).message,
        "The value for the field 'NumericEquals' must be a NUMBER"
    );
    assert_eq!(
        e(json!({"Variable": "$.a", "IsNull": "yes"})).message,
        "The value for the field 'IsNull' must be a BOOLEAN"
    );
    assert_eq!(
        e(json!({"Variable": "$.a", "TimestampEquals": "2016-12-05T25:29:29Z"})).message,
        "The value for the field 'TimestampEquals' must be a valid ISO-8601 timestamp STRING"
    );
    assert_eq!(
        e(json!({"Variable": "a", "IsNull": true})).pointer,
        "/Variable"
    );
    assert_eq!(
        e(json!({"Variable": "$.a", "StringEqualsPath": "x"})).pointer,
        "/StringEqualsPath"
    );
    assert!(
        e(json!({"Variable": "$.a", "StringEquals": "x", "NumericEquals": 1}))
            .message
            .contains("only one operator")
    );
    assert!(e(json!({"Variable": "$.a"}))
        .message
        .contains("exactly one comparison operator"));
    assert_eq!(e(json!({"Variable": "$.a", "Nope": 1})).pointer, "/Nope");
    assert_eq!(e(json!({"And": []})).pointer, "/And");
    assert_eq!(
        e(json!({"And": [{"Variable": "$.a", "IsNull": 1}]})).pointer,
        "/And/0/IsNull"
    );
    assert_eq!(
        e(json!({"Not": {"Variable": "$.a", "IsNull": true, "Next": "x"}})).pointer,
        "/Not/Next"
    );
    assert_eq!(
        Comparison::from_name("NumericLessThanPath"),
        Some(Comparison::NumericLessThanPath)
    );
    assert!(Comparison::NumericLessThanPath.takes_path());
    assert!(!Comparison::StringMatches.takes_path());
}

#[test]
fn deep_choice_nesting_is_an_error() {
    let mut v = json!({"Variable": "$.a", "IsNull": true});
    for _ in 0..1_000 {
        let mut m = Map::new();
        m.insert("Not".into(), v);
        v = Value::Object(m);
    }
    assert!(ChoiceRule::compile(&v)
        .unwrap_err()
        .message
        .contains("nest deeper"));
}

#[test]
fn dynamic_fields() {
    use cairn_dataflow::DynamicField;
    let input = json!({"err": "Boom", "n": 2});
    let f = DynamicField::compile("ErrorPath", &json!("$.err")).unwrap();
    assert_eq!(f.path().map(|p| p.as_str()), Some("$.err"));
    assert_eq!(
        with_scope(&input, |s| f.evaluate(s, &mut Seq(0))).unwrap(),
        json!("Boom")
    );
    let f = DynamicField::compile("CausePath", &json!("States.Format('n={}', $.n)")).unwrap();
    assert!(f.path().is_none());
    assert_eq!(
        with_scope(&input, |s| f.evaluate(s, &mut Seq(0))).unwrap(),
        json!("n=2")
    );
    // Corpus: "The JSONPath '$.ErrorX' specified for the field 'ErrorPath' could not be found in the input '<json>'".
    let f = DynamicField::compile("ErrorPath", &json!("$.ErrorX")).unwrap();
    let err = with_scope(&input, |s| f.evaluate(s, &mut Seq(0))).unwrap_err();
    assert_eq!(
        err.cause,
        "The JSONPath '$.ErrorX' specified for the field 'ErrorPath' could not be found in the input '{\"err\":\"Boom\",\"n\":2}'"
    );
    let e = DynamicField::compile("ErrorPath", &json!("nope")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "The value for the field 'ErrorPath' must be a valid JSONPath or a valid intrinsic function call"
    );
    let e = PayloadTemplate::compile(&json!({"a": {"b.$": 1}})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "The value for the field 'b.$' must be a valid JSONPath or a valid intrinsic function call at /a/b.$"
    );
}
