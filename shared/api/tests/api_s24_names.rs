//! ARNs and names as AWS judges them: a bare name is "Invalid ARN prefix", an ARN of another
//! resource type is "Resource type not valid in this context", and names refuse AWS's
//! noncharacters and unpaired surrogates (a JSON request can escape one).

use cairn_api::names::parse_request;
use serde_json::{json, Value};

mod support;
use support::{api, call, fails, ROLE};

const PASS: &str = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#;

fn create(api: &cairn_api::Api, name: &str) -> String {
    let out = call(
        api,
        "CreateStateMachine",
        json!({"name": name, "definition": PASS, "roleArn": ROLE}),
    );
    out["stateMachineArn"].as_str().unwrap().to_string()
}

/// (error type, message) of a refused call.
fn refusal(api: &cairn_api::Api, action: &str, request: Value) -> (String, String) {
    let error = fails(api, action, request);
    (error.error_type, error.message)
}

#[test]
fn a_bare_name_where_an_arn_belongs_is_an_invalid_arn_prefix() {
    let api = api();
    let machine = create(&api, "m");
    let prefix = |text: &str| {
        (
            "InvalidArn".to_string(),
            format!("Invalid Arn: 'Invalid ARN prefix: {text}'"),
        )
    };
    let cases = [
        ("DescribeStateMachine", json!({"stateMachineArn": "abc"})),
        ("ListExecutions", json!({"stateMachineArn": "abc"})),
        ("StartExecution", json!({"stateMachineArn": "abc"})),
        (
            "UpdateStateMachine",
            json!({"stateMachineArn": "abc", "definition": PASS}),
        ),
        ("DeleteStateMachine", json!({"stateMachineArn": "abc"})),
        (
            "PublishStateMachineVersion",
            json!({"stateMachineArn": "abc"}),
        ),
        (
            "ListStateMachineVersions",
            json!({"stateMachineArn": "abc"}),
        ),
        ("ListStateMachineAliases", json!({"stateMachineArn": "abc"})),
        ("DescribeExecution", json!({"executionArn": "abc"})),
        ("StopExecution", json!({"executionArn": "abc"})),
        ("GetExecutionHistory", json!({"executionArn": "abc"})),
        ("RedriveExecution", json!({"executionArn": "abc"})),
        ("DescribeActivity", json!({"activityArn": "abc"})),
        ("GetActivityTask", json!({"activityArn": "abc"})),
        ("ListTagsForResource", json!({"resourceArn": "abc"})),
        ("DescribeMapRun", json!({"mapRunArn": "abc"})),
    ];
    for (action, request) in cases {
        assert_eq!(refusal(&api, action, request), prefix("abc"), "{action}");
    }
    // Something that starts as an ARN but does not read as one keeps AWS's plain form.
    let broken = "arn:aws:states:us-east-1";
    assert_eq!(
        refusal(
            &api,
            "DescribeStateMachine",
            json!({"stateMachineArn": broken})
        ),
        ("InvalidArn".to_string(), format!("Invalid Arn: '{broken}'"))
    );
    // The machine itself is still found.
    call(
        &api,
        "DescribeStateMachine",
        json!({"stateMachineArn": machine}),
    );
}

#[test]
fn an_arn_of_another_resource_type_is_not_valid_in_that_context() {
    let api = api();
    let machine = create(&api, "m");
    let started = call(
        &api,
        "StartExecution",
        json!({"stateMachineArn": machine, "name": "e"}),
    );
    let execution = started["executionArn"].as_str().unwrap().to_string();
    let activity = call(&api, "CreateActivity", json!({"name": "act"}))["activityArn"]
        .as_str()
        .unwrap()
        .to_string();
    let kind = |kind: &str| {
        (
            "InvalidArn".to_string(),
            format!("Invalid Arn: 'Resource type not valid in this context: {kind}'"),
        )
    };
    // StartExecution on an execution's ARN and DescribeExecution on a state machine's are
    // answered so by AWS.
    assert_eq!(
        refusal(
            &api,
            "StartExecution",
            json!({"stateMachineArn": execution})
        ),
        kind("execution")
    );
    assert_eq!(
        refusal(&api, "DescribeExecution", json!({"executionArn": machine})),
        kind("stateMachine")
    );
    assert_eq!(
        refusal(&api, "StopExecution", json!({"executionArn": activity})),
        kind("activity")
    );
    assert_eq!(
        refusal(
            &api,
            "GetExecutionHistory",
            json!({"executionArn": machine})
        ),
        kind("stateMachine")
    );
    assert_eq!(
        refusal(
            &api,
            "DescribeStateMachine",
            json!({"stateMachineArn": activity})
        ),
        kind("activity")
    );
    assert_eq!(
        refusal(&api, "DescribeActivity", json!({"activityArn": machine})),
        kind("stateMachine")
    );
    // The Express form AWS recorded is the same rule.
    let express = "arn:aws:states:us-east-1:123456789012:express:m:e:0b8d6f2e";
    assert_eq!(
        refusal(&api, "StopExecution", json!({"executionArn": express})),
        kind("express")
    );
}

#[test]
fn names_refuse_aws_noncharacters() {
    let api = api();
    for name in ["a\u{FFFE}", "a\u{FFFF}b", "\u{10FFFF}"] {
        let (error_type, message) = refusal(&api, "CreateActivity", json!({ "name": name }));
        assert_eq!(error_type, "InvalidName", "{name:?}");
        assert_eq!(message, format!("Invalid Name: '{name}'"));
        let (error_type, _) = refusal(
            &api,
            "CreateStateMachine",
            json!({"name": name, "definition": PASS, "roleArn": ROLE}),
        );
        assert_eq!(error_type, "InvalidName", "{name:?}");
    }
    // Characters beside them are names' as before.
    call(&api, "CreateActivity", json!({"name": "a\u{FFFD}"}));
    call(&api, "CreateActivity", json!({"name": "a\u{10FFFD}"}));
}

#[test]
fn an_unpaired_surrogate_in_a_request_is_read_and_then_refused_as_a_name() {
    let api = api();
    for body in [
        r#"{"name": "a\ud800"}"#,
        r#"{"name": "\udc00b"}"#,
        r#"{"name": "a\ud800\ud800"}"#,
        r#"{"name": "\uDBFFx"}"#,
    ] {
        let request = parse_request(body.as_bytes()).expect(body);
        let (error_type, _) = refusal(&api, "CreateActivity", request);
        assert_eq!(error_type, "InvalidName", "{body}");
    }
    // A pair is one character, and escaped backslashes are not escapes.
    let paired = parse_request(br#"{"name": "a\ud83d\ude00"}"#).unwrap();
    assert_eq!(paired["name"], "a\u{1F600}");
    call(&api, "CreateActivity", paired);
    let text = parse_request(br#"{"input": "\\ud800", "n": "\u00e9"}"#).unwrap();
    assert_eq!(text["input"], "\\ud800");
    assert_eq!(text["n"], "\u{e9}");
    // A surrogate outside the name would be kept altered: the body stays refused.
    assert!(parse_request(br#"{"name": "n", "input": "\"\ud800\""}"#).is_err());
    // What is not JSON stays an error.
    assert!(parse_request(br#"{"name": "a\ud800"#).is_err());
    assert!(parse_request(b"{nope}").is_err());
}
