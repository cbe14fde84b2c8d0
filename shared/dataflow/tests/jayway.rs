//! Jayway's JSONPath forms that published Step Functions samples use, through the
//! payload-template pipeline: they compile where AWS's definitions would, and select
//! what AWS selects.

use cairn_dataflow::{
    apply_input_path, apply_output_path, ChoiceRule, Entropy, PathSetting, PayloadTemplate, Scope,
};
use serde_json::{json, Map, Value};

struct NoEntropy;
impl Entropy for NoEntropy {
    fn uuid(&mut self) -> String {
        "00000000-0000-4000-8000-000000000000".to_owned()
    }
    fn random_u64(&mut self) -> u64 {
        4
    }
}

fn scope_for<R>(input: &Value, f: impl FnOnce(&Scope) -> R) -> R {
    let context = json!({"Execution": {"Id": "arn:exec"}});
    let vars = Map::new();
    f(&Scope {
        input,
        context: &context,
        variables: &vars,
    })
}

fn render(template: Value, input: Value) -> Result<Value, String> {
    let t = PayloadTemplate::compile(&template).map_err(|e| e.to_string())?;
    scope_for(&input, |s| {
        t.evaluate(s, &mut NoEntropy).map_err(|e| e.to_string())
    })
}

fn snapshots() -> Value {
    json!({
        "Snapshots": [
            {"SnapshotId": "snap-1", "State": "completed", "Progress": "100%", "VolumeSize": 8},
            {"SnapshotId": "snap-2", "State": "pending", "Progress": "40%", "VolumeSize": 16}
        ],
        "Records": [
            {"s3": {"bucket": {"name": "in"}, "object": {"key": "a.csv", "size": 10}}},
            {"s3": {"bucket": {"name": "in"}, "object": {"key": "b.csv", "size": 0}}}
        ],
        "Accounts": [{"Id": "1", "OU": 2}, {"Id": "2", "OU": 0}, {"Id": "3", "OU": 1}]
    })
}

#[test]
fn parameters_with_a_dot_before_brackets_and_filters() {
    let out = render(
        json!({
            "state.$": "$.Snapshots.[0].State",
            "first.$": "$.Snapshots.[0]",
            "ids.$": "$.Snapshots.[*].SnapshotId",
            "objects.$": "$.Records.[*].s3.object.['key', 'size']",
            "keys.$": "$..['key']",
            "inOUs.$": "$.Accounts.[?(@.OU > 0)].Id",
            "pending.$": "$.Snapshots[?(@.State == 'pending' && @.VolumeSize >= 16)].SnapshotId",
            "csv.$": "$.Records[?(@.s3.object.key =~ /.*\\.csv/)].s3.object.size",
            "states.$": "$.Snapshots[?(@.State in ['completed', 'error'])].SnapshotId"
        }),
        snapshots(),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({
            "state": "completed",
            "first": {"SnapshotId": "snap-1", "State": "completed", "Progress": "100%", "VolumeSize": 8},
            "ids": ["snap-1", "snap-2"],
            "objects": [{"key": "a.csv", "size": 10}, {"key": "b.csv", "size": 0}],
            "keys": ["a.csv", "b.csv"],
            "inOUs": ["1", "3"],
            "pending": ["snap-2"],
            "csv": [10, 0],
            "states": ["snap-1"]
        })
    );
}

#[test]
fn root_filter_as_input_and_output_path() {
    let accounts = json!([{"Id": "1", "OU": 2}, {"Id": "2", "OU": "x"}, {"Id": "3"}]);
    let setting = PathSetting::input_or_output(Some(&json!("$.[?(@.OU > 0)]"))).unwrap();
    scope_for(&accounts, |s| {
        assert_eq!(
            apply_input_path(&setting, s).unwrap(),
            json!([{"Id": "1", "OU": 2}])
        );
        assert_eq!(
            apply_output_path(&setting, s).unwrap(),
            json!([{"Id": "1", "OU": 2}])
        );
    });
    let first = PathSetting::input_or_output(Some(&json!("$.[0].Id"))).unwrap();
    scope_for(&accounts, |s| {
        assert_eq!(apply_input_path(&first, s).unwrap(), json!("1"));
    });
}

#[test]
fn choice_variable_with_a_dot_before_an_index() {
    let rule = ChoiceRule::compile(&json!({
        "Variable": "$.Snapshots.[0].State", "StringEquals": "completed", "Next": "Done"
    }))
    .unwrap();
    let input = snapshots();
    assert!(scope_for(&input, |s| rule.matches(s)).unwrap());
}

#[test]
fn paths_jayway_rejects_do_not_compile() {
    for bad in [
        "$.Snapshots[?(@.State = 'pending')]",
        "$.Snapshots[?(@.State == 'pending)]",
        "$.Snapshots.[:]",
        "$.Snapshots[?(@.State)] || [?(@.Progress)]",
    ] {
        assert_eq!(
            render(json!({"x.$": bad}), json!({})).unwrap_err(),
            "The value for the field 'x.$' must be a valid JSONPath or a valid intrinsic function call at /x.$",
            "{bad}"
        );
    }
}
