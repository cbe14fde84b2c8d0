//! The s24 audit of the API against AWS's model and recorded answers: AWS's request
//! validation (lengths, required members, sensitive values left out of messages, payload
//! sizes in bytes) answers before an action looks at anything; StartExecution judges the
//! state machine before the name and input; DescribeStateMachineForExecution takes
//! `includedData`; `tracingConfiguration` is kept and described as AWS does; a Distributed
//! Map label ARN cannot be updated or deleted.

use serde_json::{json, Value};

mod support;
use support::{api, call, fails, ROLE};

const MACHINES: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:";

fn pass() -> String {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}).to_string()
}

fn create(api: &cairn_api::Api, name: &str) -> String {
    let created = call(
        api,
        "CreateStateMachine",
        json!({"name": name, "definition": pass(), "roleArn": ROLE}),
    );
    created["stateMachineArn"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn validation(api: &cairn_api::Api, action: &str, request: Value) -> String {
    let error = fails(api, action, request);
    assert_eq!(error.error_type, "ValidationException", "{action}: {error}");
    error.message
}

#[test]
fn names_past_80_characters_are_validation_errors_before_anything_else() {
    let api = api();
    let long = "a".repeat(81);
    let expected = format!(
        "1 validation error detected: Value '{long}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80"
    );
    for (action, request) in [
        (
            "CreateStateMachine",
            json!({"name": long, "definition": pass(), "roleArn": ROLE}),
        ),
        ("CreateActivity", json!({"name": long})),
        // AWS checks the model before the state machine exists.
        (
            "StartExecution",
            json!({"stateMachineArn": format!("{MACHINES}missing"), "name": long}),
        ),
    ] {
        assert_eq!(validation(&api, action, request), expected, "{action}");
    }
    assert_eq!(
        validation(
            &api,
            "CreateActivity",
            json!({"name": ""}),
        ),
        "1 validation error detected: Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1"
    );
    // A character AWS refuses in a name is still InvalidName.
    let refused = fails(&api, "CreateActivity", json!({"name": "a b"}));
    assert_eq!(
        (refused.error_type.as_str(), refused.message.as_str()),
        ("InvalidName", "Invalid Name: 'a b'")
    );
    api.shutdown();
}

#[test]
fn start_execution_judges_the_state_machine_before_the_name_and_input() {
    let api = api();
    let missing = format!("{MACHINES}missing");
    let error = fails(
        &api,
        "StartExecution",
        json!({"stateMachineArn": missing, "name": "a b", "input": "{"}),
    );
    assert_eq!(error.error_type, "StateMachineDoesNotExist");
    assert_eq!(
        error.message,
        format!("State Machine Does Not Exist: '{missing}'")
    );
    let arn = create(&api, "judged");
    let error = fails(
        &api,
        "StartExecution",
        json!({"stateMachineArn": arn, "name": "a b", "input": "{"}),
    );
    assert_eq!(error.error_type, "InvalidName");
    let error = fails(
        &api,
        "StartExecution",
        json!({"stateMachineArn": arn, "name": "ok", "input": "{"}),
    );
    assert_eq!(error.error_type, "InvalidExecutionInput");
    api.shutdown();
}

#[test]
fn sensitive_members_are_not_repeated_and_payloads_count_bytes() {
    let api = api();
    let arn = create(&api, "sensitive");
    let long_cause = "c".repeat(32_769);
    let started = call(&api, "StartExecution", json!({"stateMachineArn": arn}));
    let execution = started["executionArn"].as_str().unwrap_or_default();
    assert_eq!(
        validation(
            &api,
            "StopExecution",
            json!({"executionArn": execution, "cause": long_cause}),
        ),
        "1 validation error detected: Value at 'cause' failed to satisfy constraint: Member must have length less than or equal to 32768"
    );
    // Length first, then the token: a cause too long never reaches the token check.
    assert_eq!(
        validation(
            &api,
            "SendTaskFailure",
            json!({"taskToken": "t", "error": "e".repeat(257), "cause": long_cause}),
        ),
        "2 validation errors detected: Value at 'error' failed to satisfy constraint: Member must have length less than or equal to 256; Value at 'cause' failed to satisfy constraint: Member must have length less than or equal to 32768"
    );
    assert_eq!(
        validation(
            &api,
            "PublishStateMachineVersion",
            json!({"stateMachineArn": arn, "description": "d".repeat(257)}),
        ),
        "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256"
    );
    // 131,073 two-byte characters: under 262,144 characters, over 262,144 bytes.
    let input = format!("\"{}\"", "é".repeat(131_073));
    assert_eq!(
        validation(
            &api,
            "StartExecution",
            json!({"stateMachineArn": arn, "input": input}),
        ),
        "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have size less than or equal to 262144 bytes in UTF-8 encoding"
    );
    api.shutdown();
}

#[test]
fn task_tokens_up_to_2048_characters_reach_the_token_check() {
    let api = api();
    for action in ["SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"] {
        let error = fails(
            &api,
            action,
            json!({"taskToken": "x".repeat(2048), "output": "{}"}),
        );
        assert_eq!(error.error_type, "InvalidToken", "{action}");
        let message = validation(
            &api,
            action,
            json!({"taskToken": "x".repeat(2049), "output": "{}"}),
        );
        assert!(
            message.ends_with(
                "at 'taskToken' failed to satisfy constraint: Member must have length less than or equal to 2048"
            ),
            "{action}: {message}"
        );
    }
    api.shutdown();
}

#[test]
fn required_and_bounded_members_of_other_actions() {
    let api = api();
    let arn = create(&api, "bounded");
    for (action, request, expected) in [
        (
            "TagResource",
            json!({"resourceArn": arn}),
            "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null",
        ),
        (
            "UntagResource",
            json!({"resourceArn": arn}),
            "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null",
        ),
        (
            "CreateStateMachine",
            json!({"name": "r", "definition": pass(), "roleArn": ""}),
            "1 validation error detected: Value '' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ),
        (
            "CreateStateMachine",
            json!({"name": "r", "definition": ""}),
            "2 validation errors detected: Value at 'definition' failed to satisfy constraint: Member must have length greater than or equal to 1; Value null at 'roleArn' failed to satisfy constraint: Member must not be null",
        ),
    ] {
        assert_eq!(validation(&api, action, request), expected, "{action}");
    }
    let worker = "w".repeat(81);
    assert_eq!(
        validation(
            &api,
            "GetActivityTask",
            json!({"activityArn": "arn:aws:states:us-east-1:123456789012:activity:none", "workerName": worker}),
        ),
        format!("1 validation error detected: Value '{worker}' at 'workerName' failed to satisfy constraint: Member must have length less than or equal to 80")
    );
    // An empty tag list is a valid TagResource.
    call(&api, "TagResource", json!({"resourceArn": arn, "tags": []}));
    api.shutdown();
}

#[test]
fn describe_state_machine_for_execution_takes_included_data() {
    let api = api();
    let arn = create(&api, "included");
    let started = call(&api, "StartExecution", json!({"stateMachineArn": arn}));
    let execution = started["executionArn"].as_str().unwrap_or_default();
    let full = call(
        &api,
        "DescribeStateMachineForExecution",
        json!({"executionArn": execution}),
    );
    assert_eq!(full["definition"], pass().as_str());
    let metadata = call(
        &api,
        "DescribeStateMachineForExecution",
        json!({"executionArn": execution, "includedData": "METADATA_ONLY"}),
    );
    assert_eq!(metadata["definition"], "{}");
    assert_eq!(metadata["name"], "included");
    let refused = validation(
        &api,
        "DescribeStateMachineForExecution",
        json!({"executionArn": execution, "includedData": "SOME"}),
    );
    assert!(refused.contains("at 'includedData'"), "{refused}");
    api.shutdown();
}

#[test]
fn tracing_configuration_is_kept_as_aws_describes_it() {
    let api = api();
    let created = call(
        &api,
        "CreateStateMachine",
        json!({"name": "traced", "definition": pass(), "roleArn": ROLE, "tracingConfiguration": {}}),
    );
    let arn = created["stateMachineArn"].as_str().unwrap_or_default();
    let described = call(
        &api,
        "DescribeStateMachine",
        json!({"stateMachineArn": arn}),
    );
    assert_eq!(described["tracingConfiguration"], json!({"enabled": false}));
    // Creating it again with the default spelled out is the same state machine.
    let again = call(
        &api,
        "CreateStateMachine",
        json!({"name": "traced", "definition": pass(), "roleArn": ROLE, "tracingConfiguration": {"enabled": false}}),
    );
    assert_eq!(again["stateMachineArn"], arn);
    let error = fails(
        &api,
        "UpdateStateMachine",
        json!({"stateMachineArn": arn, "tracingConfiguration": {"enabled": "yes"}}),
    );
    assert_eq!(error.error_type, "InvalidTracingConfiguration");
    call(
        &api,
        "UpdateStateMachine",
        json!({"stateMachineArn": arn, "tracingConfiguration": {"enabled": true}}),
    );
    let started = call(&api, "StartExecution", json!({"stateMachineArn": arn}));
    let execution = started["executionArn"].as_str().unwrap_or_default();
    let for_execution = call(
        &api,
        "DescribeStateMachineForExecution",
        json!({"executionArn": execution}),
    );
    assert_eq!(
        for_execution["tracingConfiguration"],
        json!({"enabled": true})
    );
    api.shutdown();
}

#[test]
fn a_label_arn_cannot_be_updated_or_deleted() {
    let api = api();
    let arn = create(&api, "labelled");
    let labelled = format!("{arn}/Label");
    for (action, request) in [
        ("DeleteStateMachine", json!({"stateMachineArn": labelled})),
        (
            "UpdateStateMachine",
            json!({"stateMachineArn": labelled, "roleArn": ROLE}),
        ),
    ] {
        let error = fails(&api, action, request);
        assert_eq!(error.error_type, "ValidationException", "{action}");
        assert_eq!(
            error.reason.as_deref(),
            Some("API_DOES_NOT_SUPPORT_LABELED_ARNS"),
            "{action}"
        );
    }
    // The state machine itself is untouched.
    let described = call(
        &api,
        "DescribeStateMachine",
        json!({"stateMachineArn": arn}),
    );
    assert_eq!(described["status"], "ACTIVE");
    api.shutdown();
}

#[test]
fn a_version_describes_the_encryption_it_was_published_with() {
    let api = api();
    let created = call(
        &api,
        "CreateStateMachine",
        json!({"name": "encrypted", "definition": pass(), "roleArn": ROLE, "publish": true,
               "encryptionConfiguration": {"type": "CUSTOMER_MANAGED_KMS_KEY", "kmsKeyId": "alias/one"}}),
    );
    let arn = created["stateMachineArn"].as_str().unwrap_or_default();
    let v1 = created["stateMachineVersionArn"]
        .as_str()
        .unwrap_or_default();
    call(
        &api,
        "UpdateStateMachine",
        json!({"stateMachineArn": arn, "encryptionConfiguration": {"type": "AWS_OWNED_KEY"}}),
    );
    let described = call(&api, "DescribeStateMachine", json!({"stateMachineArn": v1}));
    assert_eq!(
        described["encryptionConfiguration"],
        json!({"type": "CUSTOMER_MANAGED_KMS_KEY", "kmsKeyId": "alias/one", "kmsDataKeyReusePeriodSeconds": 300})
    );
    let latest = call(
        &api,
        "DescribeStateMachine",
        json!({"stateMachineArn": arn}),
    );
    assert_eq!(
        latest["encryptionConfiguration"],
        json!({"type": "AWS_OWNED_KEY"})
    );
    api.shutdown();
}

#[test]
fn logging_include_execution_data_must_be_a_boolean() {
    let api = api();
    let error = fails(
        &api,
        "CreateStateMachine",
        json!({"name": "logged", "definition": pass(), "roleArn": ROLE, "loggingConfiguration": {
            "level": "ALL", "includeExecutionData": "yes",
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:g:*"}}]}}),
    );
    assert_eq!(error.error_type, "SerializationException");
    api.shutdown();
}

#[test]
fn the_shared_validation_is_public_for_shells_that_run_actions_themselves() {
    let long = "c".repeat(32_769);
    let error = cairn_api::validate_request(
        "StopExecution",
        &json!({"executionArn": "arn", "cause": long}),
        262_144,
    )
    .unwrap_err();
    assert_eq!(error.error_type, "ValidationException");
    // A server whose payload quota is raised accepts what AWS's would refuse.
    let big = json!({"stateMachineArn": "arn", "input": "x".repeat(300_000)});
    assert!(cairn_api::validate_request("StartExecution", &big, 262_144).is_err());
    assert!(cairn_api::validate_request("StartExecution", &big, 1_000_000).is_ok());
}

#[test]
fn list_executions_gives_every_execution_its_redrive_count() {
    let api = api();
    let arn = create(&api, "listed");
    call(
        &api,
        "StartExecution",
        json!({"stateMachineArn": arn, "name": "one"}),
    );
    let listed = call(&api, "ListExecutions", json!({"stateMachineArn": arn}));
    let executions = listed["executions"].as_array().cloned().unwrap_or_default();
    assert_eq!(executions.len(), 1, "{listed}");
    assert_eq!(executions[0]["redriveCount"], 0, "{listed}");
    assert!(executions[0].get("redriveDate").is_none(), "{listed}");
    api.shutdown();
}

#[test]
fn an_empty_definition_is_a_failed_validation_not_a_refused_request() {
    let api = api();
    let answer = call(
        &api,
        "ValidateStateMachineDefinition",
        json!({"definition": ""}),
    );
    assert_eq!(
        answer,
        json!({"result": "FAIL", "truncated": false, "diagnostics": [
            {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED",
             "message": "Definition must be a valid JSON object"}]})
    );
    // CreateStateMachine's definition must be at least one character.
    let refused = validation(
        &api,
        "CreateStateMachine",
        json!({"name": "empty", "definition": "", "roleArn": ROLE}),
    );
    assert!(refused.contains("at 'definition'"), "{refused}");
    api.shutdown();
}

#[test]
fn creating_again_is_idempotent_only_with_the_same_publish_and_version_description() {
    let api = api();
    let first = call(
        &api,
        "CreateStateMachine",
        json!({"name": "again", "definition": pass(), "roleArn": ROLE, "publish": true,
               "versionDescription": "v1"}),
    );
    let same = call(
        &api,
        "CreateStateMachine",
        json!({"name": "again", "definition": pass(), "roleArn": ROLE, "publish": true,
               "versionDescription": "v1"}),
    );
    assert_eq!(same["stateMachineArn"], first["stateMachineArn"]);
    assert_eq!(
        same["stateMachineVersionArn"],
        first["stateMachineVersionArn"]
    );
    assert_eq!(same["creationDate"], first["creationDate"]);
    for different in [
        json!({"name": "again", "definition": pass(), "roleArn": ROLE}),
        json!({"name": "again", "definition": pass(), "roleArn": ROLE, "publish": true,
               "versionDescription": "other"}),
    ] {
        let error = fails(&api, "CreateStateMachine", different);
        assert_eq!(error.error_type, "StateMachineAlreadyExists");
    }
    // A different role is ignored, as before.
    let other_role = call(
        &api,
        "CreateStateMachine",
        json!({"name": "again", "definition": pass(), "roleArn": "arn:aws:iam::123456789012:role/other",
               "publish": true, "versionDescription": "v1"}),
    );
    assert_eq!(other_role["stateMachineArn"], first["stateMachineArn"]);
    let versions = call(
        &api,
        "ListStateMachineVersions",
        json!({"stateMachineArn": first["stateMachineArn"]}),
    );
    assert_eq!(
        versions["stateMachineVersions"].as_array().map(Vec::len),
        Some(1)
    );
    api.shutdown();
}

#[test]
fn a_log_group_arn_needs_its_star_qualifier() {
    let api = api();
    let logging = |arn: &str| {
        json!({"name": "starred", "definition": pass(), "roleArn": ROLE, "loggingConfiguration": {
            "level": "ERROR", "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": arn}}]}})
    };
    let error = fails(
        &api,
        "CreateStateMachine",
        logging("arn:aws:logs:us-east-1:123456789012:log-group:g"),
    );
    assert_eq!(
        (error.error_type.as_str(), error.message.as_str()),
        (
            "InvalidLoggingConfiguration",
            "Invalid Logging Configuration: Log Group ARN must be provided with '*' qualifier."
        )
    );
    call(
        &api,
        "CreateStateMachine",
        logging("arn:aws:logs:us-east-1:123456789012:log-group:g:*"),
    );
    api.shutdown();
}

/// A clock the test moves, so that two updates are apart in time.
struct SteppingClock(std::sync::atomic::AtomicI64);

impl cairn_runtime::Clock for SteppingClock {
    fn now_ms(&self) -> i64 {
        self.0.fetch_add(1000, std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn repeating_an_alias_update_is_idempotent() {
    let api = cairn_api::Api::new(
        std::sync::Arc::new(cairn_store::MemoryStore::new()),
        cairn_api::Config {
            clock: std::sync::Arc::new(SteppingClock(1_700_000_000_000.into())),
            ..cairn_api::Config::default()
        },
    );
    let created = call(
        &api,
        "CreateStateMachine",
        json!({"name": "aliased", "definition": pass(), "roleArn": ROLE, "publish": true}),
    );
    let version = created["stateMachineVersionArn"]
        .as_str()
        .unwrap_or_default();
    let alias = call(
        &api,
        "CreateStateMachineAlias",
        json!({"name": "live", "routingConfiguration": [{"stateMachineVersionArn": version, "weight": 100}]}),
    )["stateMachineAliasArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let update = json!({"stateMachineAliasArn": alias, "description": "now"});
    let first = call(&api, "UpdateStateMachineAlias", update.clone());
    let again = call(&api, "UpdateStateMachineAlias", update);
    assert_eq!(again["updateDate"], first["updateDate"]);
    let changed = call(
        &api,
        "UpdateStateMachineAlias",
        json!({"stateMachineAliasArn": alias, "description": "later"}),
    );
    assert_ne!(changed["updateDate"], first["updateDate"]);
    let described = call(
        &api,
        "DescribeStateMachineAlias",
        json!({"stateMachineAliasArn": alias}),
    );
    assert_eq!(described["updateDate"], changed["updateDate"]);
    api.shutdown();
}
