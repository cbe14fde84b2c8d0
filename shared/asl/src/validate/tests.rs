//! Unit tests: one per rule, with AWS's exact message where it is known (the corpus, AWS's
//! documentation, or recordings of ValidateStateMachineDefinition quoted in public issues).

use serde_json::{json, Value};

use super::{validate, validate_str, MachineType, Options, Report};

fn check(definition: Value) -> Report {
    validate(&definition, &Options::default())
}

fn express(definition: Value) -> Report {
    validate(
        &definition,
        &Options {
            machine_type: MachineType::Express,
        },
    )
}

/// `(code, location, message)` of every error.
fn errors(report: &Report) -> Vec<(String, String, String)> {
    report
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.code.clone(),
                d.location.clone().unwrap_or_else(|| "null".to_owned()),
                d.message.clone(),
            )
        })
        .collect()
}

fn only_error(definition: Value) -> (String, String, String) {
    let report = check(definition);
    let all = errors(&report);
    assert_eq!(all.len(), 1, "expected exactly one error, got {all:#?}");
    all.into_iter().next().unwrap_or_default()
}

fn schema(location: &str, message: &str) -> (String, String, String) {
    (
        "SCHEMA_VALIDATION_FAILED".to_owned(),
        location.to_owned(),
        message.to_owned(),
    )
}

/// A machine whose StartAt is the first of `states`.
fn machine(states: Value) -> Value {
    let start = states
        .as_object()
        .and_then(|s| s.keys().next().cloned())
        .unwrap_or_default();
    json!({"StartAt": start, "States": states})
}

fn jsonata(states: Value) -> Value {
    let mut definition = machine(states);
    definition["QueryLanguage"] = json!("JSONata");
    definition
}

fn pass_end() -> Value {
    json!({"Type": "Pass", "End": true})
}

#[test]
fn a_minimal_machine_is_valid() {
    let report = check(machine(json!({"A": pass_end()})));
    assert!(report.is_valid(), "{report:#?}");
    assert_eq!(report.message(), None);
}

#[test]
fn missing_top_level_fields_are_listed_at_the_root() {
    // AWS's order, not the specification's.
    assert_eq!(
        check(json!({})).message().as_deref(),
        Some("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: These fields are required: [States, StartAt] at /'")
    );
    // A Map's ItemProcessor lacking both, the same rule.
    let map = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "ItemProcessor": {}}}});
    assert_eq!(
        only_error(map),
        schema(
            "/States/M/ItemProcessor",
            "These fields are required: [States, StartAt]"
        )
    );
}

#[test]
fn missing_fields_follow_a_java_hash_sets_order() {
    use super::checker::java_hash_set_order;
    // Buckets of 16 from Java's String.hashCode: States 0, Type 2, Choices 4, StartAt 6,
    // Next 7, Resource 8, Seconds 10, ErrorEquals 15.
    let mut names = [
        "ErrorEquals",
        "Next",
        "Seconds",
        "Resource",
        "StartAt",
        "Choices",
        "Type",
        "States",
    ];
    java_hash_set_order(&mut names);
    assert_eq!(
        names,
        [
            "States",
            "Type",
            "Choices",
            "StartAt",
            "Next",
            "Resource",
            "Seconds",
            "ErrorEquals"
        ]
    );
    // Names sharing a bucket keep the order they were added in ("Branches" and "StartAt"
    // both fall in bucket 6).
    let mut shared = ["StartAt", "Branches", "States"];
    java_hash_set_order(&mut shared);
    assert_eq!(shared, ["States", "StartAt", "Branches"]);
    let mut shared = ["Branches", "StartAt"];
    java_hash_set_order(&mut shared);
    assert_eq!(shared, ["Branches", "StartAt"]);
    // A catcher lacking both of its fields.
    let catcher = machine(
        json!({"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "End": true, "Catch": [{}]}}),
    );
    assert_eq!(
        only_error(catcher),
        schema(
            "/States/T/Catch[0]",
            "These fields are required: [Next, ErrorEquals]"
        )
    );
}

#[test]
fn unknown_top_level_fields_are_not_supported() {
    let mut definition = machine(json!({"A": pass_end()}));
    definition["Coment"] = json!("typo");
    assert_eq!(
        only_error(definition),
        schema("/", "Field 'Coment' is not supported")
    );
}

#[test]
fn version_must_be_1_0() {
    let mut definition = machine(json!({"A": pass_end()}));
    definition["Version"] = json!("2.0");
    assert_eq!(
        only_error(definition),
        schema("/Version", "Value should be one of the following: [1.0]")
    );
}

#[test]
fn an_unknown_state_type_names_the_allowed_ones() {
    // The corpus's TestState recording of this definition.
    let report = check(json!({
        "Comment": "Base state machine with a state that is not a valid state definition.",
        "StartAt": "ExistingButInvalidState",
        "States": {"ExistingButInvalidState": {"Type": "TypeThatDoesNotExist", "End": true}}
    }));
    assert_eq!(
        report.message().as_deref(),
        Some("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The field 'Type' should have one of these values: [Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map] at /States/ExistingButInvalidState/Type'")
    );
}

#[test]
fn credentials_need_a_role_arn_whatever_else_they_hold() {
    for credentials in [json!({}), json!({"InvalidField": "invalid"})] {
        let report = check(jsonata(json!({"State0": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Arguments": "{% $state.input %}",
            "Credentials": credentials,
            "End": true
        }})));
        assert_eq!(
            report.message().as_deref(),
            Some("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The field 'RoleArn' is required but was missing at /States/State0/Credentials'")
        );
    }
}

#[test]
fn credentials_accept_a_dynamic_role_in_jsonpath() {
    let report = check(machine(json!({"T": {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Credentials": {"RoleArn.$": "$.role"},
        "End": true
    }})));
    assert!(report.is_valid(), "{report:#?}");
}

#[test]
fn parallel_branches_cannot_be_empty() {
    assert_eq!(
        only_error(machine(
            json!({"StateName": {"Type": "Parallel", "Branches": [], "End": true}})
        )),
        schema("/States/StateName/Branches", "Value cannot be empty")
    );
}

#[test]
fn express_machines_refuse_activities_and_sync_and_callbacks() {
    let task =
        |resource: &str| machine(json!({"T": {"Type": "Task", "Resource": resource, "End": true}}));
    let activity = "arn:aws:states:us-east-1:111111111111:activity:activity-0000036b";
    assert_eq!(
        express(task(activity)).message().as_deref(),
        Some("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Express state machine does not support Activity ARN at /States/T/Resource'")
    );
    assert_eq!(
        express(task("arn:aws:states:::states:startExecution.sync")).message().as_deref(),
        Some("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Express state machine does not support '.sync' service integration at /States/T/Resource'")
    );
    assert_eq!(
        errors(&express(task(
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
        ))),
        vec![schema(
            "/States/T/Resource",
            "Express state machine does not support '.waitForTaskToken' service integration"
        )]
    );
    for resource in [activity, "arn:aws:states:::states:startExecution.sync:2"] {
        assert!(
            check(task(resource)).is_valid(),
            "Standard accepts {resource}"
        );
    }
}

#[test]
fn a_resource_must_be_an_arn() {
    assert_eq!(
        only_error(machine(
            json!({"T": {"Type": "Task", "Resource": "createToken", "End": true}})
        )),
        schema("/States/T/Resource", "Value is not a valid resource ARN")
    );
}

#[test]
fn missing_targets_and_unreachable_states_are_joined_like_aws_joins_them() {
    let report = check(json!({
        "StartAt": "pass1",
        "States": {
            "pass1": {"Type": "Pass", "Next": "pass3"},
            "pass2": {"Type": "Pass", "End": true}
        }
    }));
    assert_eq!(
        report.message().as_deref(),
        Some("Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3 at /States/pass1/Next, MISSING_TRANSITION_TARGET: State \"pass2\" is not reachable. at /States/pass2'")
    );
}

#[test]
fn every_kind_of_transition_is_checked_at_its_own_location() {
    let report = check(json!({
        "StartAt": "Nope",
        "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "Ghost1"}], "Default": "Ghost2"},
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Ghost3"}]}
        }
    }));
    let locations: Vec<String> = errors(&report).into_iter().map(|e| e.1).collect();
    assert_eq!(
        locations,
        [
            "/StartAt",
            "/States/C/Default",
            "/States/C/Choices[0]/Next",
            "/States/T/Catch[0]/Next",
            "/States/C",
            "/States/T"
        ]
    );
}

#[test]
fn a_workflow_without_a_terminal_state_has_no_location() {
    let report = check(json!({
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}
    }));
    assert_eq!(
        report.message().as_deref(),
        Some("Invalid State Machine Definition: 'MISSING_END_STATE: Workflow has no terminal state at null'")
    );
}

#[test]
fn transitions_do_not_cross_into_or_out_of_branches() {
    let report = check(json!({
        "StartAt": "P",
        "States": {
            "P": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "Outside"}}}
            ]},
            "Outside": {"Type": "Pass", "Next": "B"}
        }
    }));
    let all = errors(&report);
    assert!(all.contains(&(
        "MISSING_TRANSITION_TARGET".into(),
        "/States/Outside/Next".into(),
        "Missing 'Next' target: B".into()
    )));
    assert!(all.contains(&(
        "MISSING_TRANSITION_TARGET".into(),
        "/States/P/Branches[0]/States/B/Next".into(),
        "Missing 'Next' target: Outside".into()
    )));
}

#[test]
fn state_names_are_unique_across_the_machine() {
    let report = check(json!({
        "StartAt": "M",
        "States": {
            "M": {"Type": "Map", "Next": "Final State", "ItemProcessor": {
                "StartAt": "Final State",
                "States": {"Final State": {"Type": "Wait", "Seconds": 20, "End": true}}
            }},
            "Final State": {"Type": "Pass", "End": true}
        }
    }));
    assert_eq!(
        errors(&report),
        vec![(
            "DUPLICATE_STATE_NAME".into(),
            "/States/M/ItemProcessor/States/Final State".into(),
            "Duplicate State name: Final State".into()
        )]
    );
}

/// Names are compared across every scope, nested ones included: two branches of a Parallel,
/// a Map inside a branch, and the machine's own states.
#[test]
fn state_names_are_unique_across_nested_scopes() {
    let report = check(json!({
        "StartAt": "P",
        "States": {
            "P": {"Type": "Parallel", "Next": "Done", "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
                {"StartAt": "M", "States": {
                    "M": {"Type": "Map", "End": true, "ItemProcessor": {
                        "StartAt": "Done",
                        "States": {"Done": {"Type": "Succeed"}}
                    }},
                    "A": {"Type": "Pass", "Next": "M"}
                }}
            ]},
            "Done": {"Type": "Succeed"}
        }
    }));
    assert_eq!(
        errors(&report),
        vec![
            (
                "DUPLICATE_STATE_NAME".into(),
                "/States/P/Branches[1]/States/A".into(),
                "Duplicate State name: A".into()
            ),
            (
                "DUPLICATE_STATE_NAME".into(),
                "/States/P/Branches[1]/States/M/ItemProcessor/States/Done".into(),
                "Duplicate State name: Done".into()
            ),
            (
                "MISSING_TRANSITION_TARGET".into(),
                "/States/P/Branches[1]/States/A".into(),
                "State \"A\" is not reachable.".into()
            ),
        ]
    );
}

#[test]
fn state_names_are_at_most_80_characters() {
    let name = "n".repeat(81);
    let (code, location, _) = only_error(machine(json!({ name.clone(): pass_end() })));
    assert_eq!(
        (code.as_str(), location),
        ("INVALID_STATE_NAME", format!("/States/{name}"))
    );
    assert!(check(machine(json!({ "n".repeat(80): pass_end() }))).is_valid());
}

#[test]
fn next_and_end_are_exclusive_and_one_is_required() {
    assert_eq!(
        only_error(machine(
            json!({"A": {"Type": "Pass", "Next": "A", "End": true}})
        )),
        schema(
            "/States/A",
            "There should only be one of the following fields: [Next, End]"
        )
    );
    let report =
        check(json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}, "B": {"Type": "Succeed"}}}));
    assert_eq!(
        errors(&report).first().cloned().unwrap_or_default(),
        schema(
            "/States/A",
            "This object should have only one of the following fields: [Next, End]"
        )
    );
}

#[test]
fn fields_a_state_type_does_not_have_are_refused_at_the_state() {
    assert_eq!(
        only_error(machine(
            json!({"X": {"Type": "Pass", "TimeoutSeconds": 5, "End": true}})
        )),
        schema("/States/X", "Field 'TimeoutSeconds' is not supported")
    );
    assert_eq!(
        only_error(machine(json!({"X": {"Type": "Succeed", "End": true}}))),
        schema("/States/X", "Field 'End' is not supported")
    );
}

#[test]
fn query_language_fields_belong_to_their_language() {
    assert_eq!(
        only_error(machine(json!({"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Arguments": {"payload": "literal"}, "End": true}}))),
        schema("/States/T", "The QueryLanguage is set to 'JSONPath', but field 'Arguments' is only supported for the 'JSONata' QueryLanguage")
    );
    let report = check(jsonata(
        json!({"X": {"Type": "Pass", "InputPath": "$.a", "OutputPath": "$.b", "End": true}}),
    ));
    assert_eq!(
        errors(&report),
        vec![
            schema("/States/X", "The QueryLanguage is set to 'JSONata', but field 'InputPath' is only supported for the 'JSONPath' QueryLanguage"),
            schema("/States/X", "The QueryLanguage is set to 'JSONata', but field 'OutputPath' is only supported for the 'JSONPath' QueryLanguage"),
        ]
    );
}

#[test]
fn a_state_cannot_go_back_to_jsonpath_in_a_jsonata_machine() {
    assert_eq!(
        only_error(jsonata(
            json!({"X": {"Type": "Pass", "QueryLanguage": "JSONPath",
            "Output": {"v": "{% 1 %}"}, "End": true}})
        )),
        schema(
            "/States/X",
            "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine"
        )
    );
}

#[test]
fn query_language_outside_the_enum_is_reported_at_the_field_and_reads_as_jsonata() {
    let report = check(machine(
        json!({"X": {"Type": "Pass", "QueryLanguage": "jsonata",
        "Output": {"v": "{% 1 %}"}, "InputPath": "$.a", "End": true}}),
    ));
    assert_eq!(
        errors(&report),
        vec![
            schema("/States/X", "The QueryLanguage is set to 'JSONata', but field 'InputPath' is only supported for the 'JSONPath' QueryLanguage"),
            schema("/States/X/QueryLanguage", "Value should be one of the following: [JSONPath, JSONata]"),
        ]
    );
    let mut definition = machine(json!({"X": pass_end()}));
    definition["QueryLanguage"] = json!(5);
    assert_eq!(
        only_error(definition),
        schema("/QueryLanguage", "Expected value of type [STRING]")
    );
}

#[test]
fn states_inside_a_map_inherit_the_machine_language_not_the_map_language() {
    let report = check(machine(
        json!({"M": {"Type": "Map", "QueryLanguage": "JSONata", "End": true,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "Output": {"d": "{% 1 %}"}, "End": true}}}}}),
    ));
    assert_eq!(
        errors(&report),
        vec![schema("/States/M/ItemProcessor/States/P", "The QueryLanguage is set to 'JSONPath', but field 'Output' is only supported for the 'JSONata' QueryLanguage")]
    );
}

#[test]
fn processors_and_branches_carry_no_query_language() {
    assert_eq!(
        only_error(machine(json!({"M": {"Type": "Map", "End": true,
            "Iterator": {"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": pass_end()}}}}))),
        schema(
            "/States/M/Iterator",
            "Field 'QueryLanguage' is not supported"
        )
    );
    assert_eq!(
        only_error(machine(json!({"PAR": {"Type": "Parallel", "End": true,
            "Branches": [{"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": pass_end()}}]}}))),
        schema(
            "/States/PAR/Branches[0]",
            "Field 'QueryLanguage' is not supported"
        )
    );
}

#[test]
fn a_map_needs_exactly_one_processor() {
    assert_eq!(
        only_error(machine(json!({"M": {"Type": "Map", "End": true}}))),
        schema(
            "/States/M",
            "This object should have only one of the following fields: [ItemProcessor, Iterator]"
        )
    );
}

#[test]
fn distributed_processors_need_an_execution_type_and_inline_ones_refuse_it() {
    let map = |config: Value| {
        machine(json!({"M": {"Type": "Map", "End": true, "ItemProcessor": {
        "ProcessorConfig": config, "StartAt": "P", "States": {"P": pass_end()}}}}))
    };
    assert_eq!(
        only_error(map(json!({"Mode": "DISTRIBUTED"}))),
        schema(
            "/States/M/ItemProcessor/ProcessorConfig",
            "These fields are required: [ExecutionType]"
        )
    );
    assert_eq!(
        only_error(map(json!({"Mode": "INLINE", "ExecutionType": "STANDARD"}))),
        schema(
            "/States/M/ItemProcessor/ProcessorConfig",
            "Field 'ExecutionType' is not supported"
        )
    );
    assert_eq!(
        only_error(map(json!({"Mode": "DISTRIBUTED", "ExecutionType": "FAST"}))),
        schema(
            "/States/M/ItemProcessor/ProcessorConfig/ExecutionType",
            "Value should be one of the following: [STANDARD, EXPRESS]"
        )
    );
    assert!(check(map(
        json!({"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"})
    ))
    .is_valid());
}

#[test]
fn item_readers_read_from_s3_only() {
    assert_eq!(
        only_error(machine(json!({"M": {"Type": "Map", "End": true,
            "ItemReader": {"Resource": "arn:aws:states:::s3:unknownOperation", "Parameters": {"Bucket": "b", "Key": "k"}},
            "ItemProcessor": {"StartAt": "P", "States": {"P": pass_end()}}}}))),
        schema(
            "/States/M/ItemReader/Resource",
            "The field 'Resource' does not match any of the allowed values"
        )
    );
}

#[test]
fn wait_takes_exactly_one_duration() {
    let fields = "There should only be one of the following fields: [SecondsPath, Seconds, TimestampPath, Timestamp]";
    assert_eq!(
        only_error(machine(
            json!({"W": {"Type": "Wait", "Seconds": 1, "Timestamp": "2016-03-14T01:59:00Z", "End": true}})
        )),
        schema("/States/W", fields)
    );
    assert_eq!(
        only_error(machine(
            json!({"W": {"Type": "Wait", "Timestamp": "2016-03-14 01:59:00", "End": true}})
        )),
        schema(
            "/States/W/Timestamp",
            "String does not match RFC3339 timestamp"
        )
    );
    assert!(check(machine(
        json!({"W": {"Type": "Wait", "Timestamp": "2016-03-05T21:29:29.243167252Z", "End": true}})
    ))
    .is_valid());
}

#[test]
fn a_field_and_its_path_form_are_exclusive() {
    assert_eq!(
        only_error(machine(
            json!({"F": {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}})
        )),
        schema(
            "/States/F/Error",
            "There should only be one of the following fields: [Error, ErrorPath]"
        )
    );
    assert_eq!(
        only_error(machine(json!({"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t", "End": true}}))),
        schema("/States/T/TimeoutSeconds", "There should only be one of the following fields: [TimeoutSeconds, TimeoutSecondsPath]")
    );
}

#[test]
fn numbers_are_range_checked() {
    let task = |extra: Value| {
        let mut state =
            json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true});
        if let (Some(state), Some(extra)) = (state.as_object_mut(), extra.as_object()) {
            state.extend(extra.clone());
        }
        machine(json!({"T": state}))
    };
    assert_eq!(
        only_error(task(json!({"TimeoutSeconds": 0}))),
        schema("/States/T/TimeoutSeconds", "Minimum value is 1")
    );
    assert_eq!(
        only_error(task(json!({"HeartbeatSeconds": 100_000_000}))),
        schema("/States/T/HeartbeatSeconds", "Maximum value is 99999999")
    );
    assert_eq!(
        only_error(task(json!({"TimeoutSeconds": "10"}))),
        schema("/States/T/TimeoutSeconds", "Expected value of type Integer")
    );
    assert_eq!(
        only_error(task(json!({"TimeoutSeconds": 10, "HeartbeatSeconds": 10}))),
        schema(
            "/States/T/HeartbeatSeconds",
            "HeartbeatSeconds must be smaller than TimeoutSeconds"
        )
    );
    let map = |extra: Value| {
        let mut state = json!({"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "P", "States": {"P": pass_end()}}});
        if let (Some(state), Some(extra)) = (state.as_object_mut(), extra.as_object()) {
            state.extend(extra.clone());
        }
        machine(json!({"M": state}))
    };
    assert_eq!(
        only_error(map(json!({"MaxConcurrency": -1}))),
        schema("/States/M/MaxConcurrency", "Minimum value is 0")
    );
    assert_eq!(
        only_error(map(json!({"ToleratedFailurePercentage": 100.5}))),
        schema(
            "/States/M/ToleratedFailurePercentage",
            "Maximum value is 100.0"
        )
    );
    assert_eq!(
        only_error(map(json!({"MaxConcurrencyPath": "$.limits[*]"}))),
        schema(
            "/States/M/MaxConcurrencyPath",
            "Value is not a Reference Path"
        )
    );
    assert_eq!(
        only_error(map(
            json!({"ToleratedFailureCountPath": "$$.Execution.Input.n"})
        )),
        schema(
            "/States/M/ToleratedFailureCountPath",
            "Value is not a Reference Path"
        )
    );
    assert!(check(map(
        json!({"ItemsPath": "$$.Execution.Input.items", "MaxConcurrencyPath": "$limit"})
    ))
    .is_valid());
}

#[test]
fn retriers_are_checked() {
    let retry = |retriers: Value| {
        machine(json!({"T": {"Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke", "Retry": retriers, "End": true}}))
    };
    assert_eq!(
        only_error(retry(json!([{"ErrorEquals": []}]))),
        schema("/States/T/Retry[0]/ErrorEquals", "Value cannot be empty")
    );
    assert_eq!(
        only_error(retry(json!([{"MaxAttempts": 2}]))),
        schema(
            "/States/T/Retry[0]",
            "These fields are required: [ErrorEquals]"
        )
    );
    assert_eq!(
        only_error(retry(
            json!([{"ErrorEquals": ["States.ALL"], "BackoffRate": 0.5}])
        )),
        schema("/States/T/Retry[0]/BackoffRate", "Minimum value is 1.0")
    );
    assert_eq!(
        only_error(retry(
            json!([{"ErrorEquals": ["States.ALL"], "JitterStrategy": "SOME"}])
        )),
        schema(
            "/States/T/Retry[0]/JitterStrategy",
            "Value should be one of the following: [FULL, NONE]"
        )
    );
    assert_eq!(
        only_error(retry(
            json!([{"ErrorEquals": ["States.ALL"], "MaxDelaySeconds": 0}])
        )),
        schema("/States/T/Retry[0]/MaxDelaySeconds", "Minimum value is 1")
    );
    assert_eq!(
        only_error(retry(
            json!([{"ErrorEquals": ["States.ALL", "States.Timeout"]}])
        )),
        schema(
            "/States/T/Retry[0]/ErrorEquals",
            "The error 'States.ALL' must appear alone in ErrorEquals"
        )
    );
    assert_eq!(
        only_error(retry(
            json!([{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["E"]}])
        )),
        schema(
            "/States/T/Retry[0]",
            "The error 'States.ALL' must be in the last retrier"
        )
    );
    assert!(check(retry(json!([{"ErrorEquals": ["E"], "IntervalSeconds": 0, "MaxAttempts": 0,
        "BackoffRate": 1.5, "MaxDelaySeconds": 10, "JitterStrategy": "FULL"}, {"ErrorEquals": ["States.ALL"]}]))).is_valid());
}

#[test]
fn catchers_need_errors_and_a_next_state() {
    assert_eq!(
        only_error(machine(
            json!({"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL"]}]}})
        )),
        schema("/States/T/Catch[0]", "These fields are required: [Next]")
    );
}

#[test]
fn choice_rules_are_checked() {
    let choice = |rules: Value| json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": rules, "Default": "D"}, "D": {"Type": "Succeed"}}});
    assert_eq!(
        only_error(choice(json!([]))),
        schema("/States/C/Choices", "Value cannot be empty")
    );
    assert_eq!(
        only_error(choice(json!([{"Variable": "$.x", "IsPresent": true}]))),
        schema("/States/C/Choices[0]", "These fields are required: [Next]")
    );
    assert_eq!(
        only_error(choice(
            json!([{"Not": {"Variable": "$.x", "IsPresent": true, "Next": "D"}, "Next": "D"}])
        )),
        schema("/States/C/Choices[0]/Not", "Field 'Next' is not supported")
    );
    assert_eq!(
        only_error(choice(
            json!([{"Variable": "States.ArrayLength($.Arns)", "NumericEquals": 0, "Next": "D"}])
        )),
        schema(
            "/States/C/Choices[0]/Variable",
            "Value is not a Reference Path: Reference path didn't start with '$'"
        )
    );
    assert_eq!(
        only_error(choice(
            json!([{"Variable": "$.x", "StringEquals": 1, "Next": "D"}])
        )),
        schema(
            "/States/C/Choices[0]/StringEquals",
            "Expected value of type [STRING]"
        )
    );
    assert_eq!(
        only_error(choice(
            json!([{"Variable": "$.x", "TimestampEquals": "yesterday", "Next": "D"}])
        )),
        schema(
            "/States/C/Choices[0]/TimestampEquals",
            "String does not match RFC3339 timestamp"
        )
    );
    assert_eq!(
        only_error(choice(
            json!([{"Variable": "$.x", "IsNull": true, "IsString": true, "Next": "D"}])
        )),
        schema(
            "/States/C/Choices[0]",
            "There should only be one of the following fields: [IsNull, IsString]"
        )
    );
    assert_eq!(
        only_error(choice(json!([{"And": [], "Next": "D"}]))),
        schema("/States/C/Choices[0]/And", "Value cannot be empty")
    );
    assert!(check(choice(
        json!([{"Or": [{"Variable": "$.a", "NumericGreaterThanPath": "$.b"},
        {"Not": {"Variable": "$$.Execution.Input.x", "StringMatches": "a*"}}], "Next": "D"}])
    ))
    .is_valid());
}

#[test]
fn jsonata_choice_rules_use_condition() {
    let choice = |rule: Value| {
        jsonata(
            json!({"C": {"Type": "Choice", "Choices": [rule], "Default": "D"}, "D": {"Type": "Succeed"}}),
        )
    };
    assert!(check(choice(
        json!({"Condition": "{% $states.input.x > 1 %}", "Next": "D"})
    ))
    .is_valid());
    assert_eq!(
        errors(&check(choice(json!({"Variable": "$.x", "IsPresent": true, "Next": "D"})))).first().cloned().unwrap_or_default(),
        schema("/States/C/Choices[0]", "The QueryLanguage is set to 'JSONata', but field 'Variable' is only supported for the 'JSONPath' QueryLanguage")
    );
}

#[test]
fn deeply_nested_choice_rules_are_refused_without_exhausting_the_stack() {
    let mut rule = json!({"Variable": "$.x", "IsPresent": true});
    // Deep enough to pass the limit, shallow enough for serde_json's recursive drop.
    for _ in 0..300 {
        rule = json!({ "Not": rule });
    }
    rule["Next"] = json!("D");
    let report = check(
        json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [rule]}, "D": {"Type": "Succeed"}}}),
    );
    assert!(
        errors(&report).iter().any(|e| e.0 == "TOO_DEEPLY_NESTED"),
        "{:?}",
        report.message()
    );
}

#[test]
fn deeply_nested_parallel_states_are_walked_without_recursion() {
    let mut state = pass_end();
    for level in 0..300 {
        let name = format!("S{level}");
        state = json!({"Type": "Parallel", "End": true, "Branches": [{"StartAt": name, "States": { name.clone(): state }}]});
    }
    let report = check(machine(json!({"Top": state})));
    assert!(report.is_valid(), "{:?}", report.message());
}

#[test]
fn paths_are_checked() {
    let pass = |extra: Value| {
        let mut state = pass_end();
        if let (Some(state), Some(extra)) = (state.as_object_mut(), extra.as_object()) {
            state.extend(extra.clone());
        }
        machine(json!({"P": state}))
    };
    assert_eq!(
        only_error(pass(json!({"InputPath": "input"}))),
        schema(
            "/States/P/InputPath",
            "The value for the field 'InputPath' must be a valid JSONPath"
        )
    );
    assert_eq!(
        only_error(pass(json!({"ResultPath": "$$.Execution"}))),
        schema("/States/P/ResultPath", "Value is not a Reference Path")
    );
    assert_eq!(
        only_error(pass(json!({"Parameters": {"a": {"b.$": "not a path"}}}))),
        schema("/States/P/Parameters/a/b.$", "The value for the field 'b.$' must be a valid JSONPath or a valid intrinsic function call")
    );
    assert_eq!(
        only_error(pass(json!({"Parameters": {"a.$": "States.Nope($.x)"}}))),
        schema("/States/P/Parameters/a.$", "The value for the field 'a.$' must be a valid JSONPath or a valid intrinsic function call")
    );
    let valid = pass(json!({
        "InputPath": "$.items[?(@.status == 0)]",
        "OutputPath": null,
        "ResultPath": "$.result['a b']",
        "Parameters": {
            "list": [{"x.$": "$$.Map.Item.Value"}],
            "f.$": "States.Format('{} and \\'{}\\'', $.a, States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1)))",
            "v.$": "$constant_obj.in_obj_constant_lst",
            "slice.$": "$.items[1:5].itemValue"
        }
    }));
    let report = check(valid);
    assert!(report.is_valid(), "{:?}", report.message());
}

#[test]
fn fail_paths_take_a_path_or_an_intrinsic() {
    assert!(check(machine(
        json!({"F": {"Type": "Fail", "ErrorPath": "$.Error",
        "CausePath": "States.Format('Failed: {}', $.Cause)"}})
    ))
    .is_valid());
    assert_eq!(
        only_error(machine(json!({"F": {"Type": "Fail", "CausePath": "cause"}}))),
        schema("/States/F/CausePath", "The value for the field 'CausePath' must be a valid JSONPath or a valid intrinsic function call")
    );
}

#[test]
fn variable_names_are_identifiers_and_states_is_reserved() {
    let assign =
        |names: Value| machine(json!({"P": {"Type": "Pass", "Assign": names, "End": true}}));
    assert_eq!(
        only_error(assign(json!({"states": 1}))),
        (
            "RESERVED_VARIABLE_NAME".into(),
            "/States/P/Assign/states".into(),
            "Cannot assign to reserved variable '$states'.".into()
        )
    );
    assert_eq!(
        only_error(assign(json!({"x.y": 1}))),
        (
            "INVALID_VARIABLE_NAME".into(),
            "/States/P/Assign/x.y".into(),
            "Invalid variable name 'x.y': the variable name contains invalid characters.".into()
        )
    );
    assert!(check(assign(
        json!({"résumé": 1, "count.$": "$.n", "τ2": {"a.$": "$.b"}})
    ))
    .is_valid());
}

#[test]
fn jsonata_expressions_cannot_read_what_aws_does_not_offer() {
    let task = |output: &str, catcher_output: &str| {
        jsonata(json!({
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Output": output, "Next": "D",
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Output": catcher_output, "Next": "D"}]},
            "D": {"Type": "Succeed"}
        }))
    };
    assert!(check(task("{% $states.result %}", "{% $states.errorOutput %}")).is_valid());
    assert_eq!(
        errors(&check(task("{% $states.errorOutput %}", "{% 1 %}"))),
        vec![(
            "UNSUPPORTED_JSONATA_EXPRESSION".into(),
            "/States/T/Output".into(),
            "Field '$states.errorOutput' does not exist.".into()
        )]
    );
    assert_eq!(
        only_error(jsonata(
            json!({"P": {"Type": "Pass", "Output": {"v": "{% $$ %}"}, "End": true}})
        )),
        (
            "UNSUPPORTED_JSONATA_EXPRESSION".into(),
            "/States/P/Output/v".into(),
            "Reference to '$$' is not supported.".into()
        )
    );
    assert_eq!(
        only_error(jsonata(
            json!({"E": {"Type": "Pass", "Output": {"v": "{% phone.number %}"}, "End": true}})
        )),
        (
            "UNSUPPORTED_JSONATA_EXPRESSION".into(),
            "/States/E/Output/v".into(),
            "Reference to 'phone' at the top level is not supported.".into()
        )
    );
    assert_eq!(
        only_error(jsonata(
            json!({"E": {"Type": "Pass", "Output": {"v": "{% $eval('1 + 1') %}"}, "End": true}})
        )),
        (
            "UNSUPPORTED_JSONATA_EXPRESSION".into(),
            "/States/E/Output/v".into(),
            "The JSONata function '$eval' is not supported; use '$parse' instead.".into()
        )
    );
    // A variable named `eval` is not the function, nor is `$eval` inside a string.
    assert!(check(jsonata(
        json!({"P": {"Type": "Pass", "Output": "{% [$eval, '$eval(1)'] %}", "End": true}})
    ))
    .is_valid());
    // A string literal that mentions $$ is not a reference.
    assert!(check(jsonata(
        json!({"P": {"Type": "Pass", "Output": "{% '$$' & \"$states.result\" %}", "End": true}})
    ))
    .is_valid());
}

#[test]
fn text_that_is_not_json_gets_jacksons_wording() {
    let report = validate_str("{'StartAt': 'A'}", &Options::default());
    assert_eq!(
        report.message().as_deref(),
        Some("Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: Unexpected character (''' (code 39)): was expecting double-quote to start field name at null'")
    );
    let empty = validate_str("  ", &Options::default());
    assert_eq!(
        errors(&empty).first().map(|e| e.0.as_str()),
        Some("MISSING_DESCRIPTION")
    );
}

#[test]
fn plain_strings_that_look_like_paths_are_warned_about() {
    let report = check(machine(
        json!({"P": {"Type": "Pass", "Parameters": {"x": "$.input"}, "End": true}}),
    ));
    assert!(report.is_valid());
    assert_eq!(
        report
            .warnings
            .iter()
            .map(|w| (w.code.as_str(), w.location.as_deref()))
            .collect::<Vec<_>>(),
        vec![("NO_DOLLAR", Some("/States/P/Parameters/x"))]
    );
}

#[test]
fn integration_patterns_a_service_does_not_offer_are_not_recognized() {
    let task =
        |resource: &str| machine(json!({"T": {"Type": "Task", "Resource": resource, "End": true}}));
    assert_eq!(
        only_error(task("arn:aws:states:::lambda:invoke.sync")),
        schema(
            "/States/T/Resource",
            "The resource provided arn:aws:states:::lambda:invoke.sync is not recognized. The value is not a valid resource ARN, or the resource is not available in this region."
        )
    );
    for refused in [
        "arn:aws:states:::glue:startJobRun.waitForTaskToken",
        "arn:aws:states:::ecs:runTask.sync:2",
        "arn:aws:states:::aws-sdk:s3:GetObject",
        "arn:aws:states:::aws-sdk:s3:getObject.sync",
    ] {
        assert_eq!(errors(&check(task(refused))).len(), 1, "{refused}");
    }
    for accepted in [
        "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "arn:aws:states:::aws-sdk:s3:listBuckets.waitForTaskToken",
        "arn:aws:states:::states:startExecution.sync:2",
        "arn:aws:states:::ecs:runTask.sync",
        "arn:aws:lambda:us-east-1:111111111111:function:f",
    ] {
        assert!(check(task(accepted)).is_valid(), "{accepted}");
    }
}

#[test]
fn static_pass_results_and_path_like_errors_are_warned_about() {
    let report = check(machine(json!({
        "P": {"Type": "Pass", "Result": {"nested": {"value.$": "$.x"}}, "Next": "F"},
        "F": {"Type": "Fail", "Error": "$.error"}
    })));
    assert!(report.is_valid());
    assert_eq!(
        report
            .warnings
            .iter()
            .map(|w| (w.code.as_str(), w.location.as_deref()))
            .collect::<Vec<_>>(),
        vec![
            ("PASS_RESULT_IS_STATIC", Some("/States/P/Result")),
            ("NO_PATH", Some("/States/F/Error"))
        ]
    );
}

#[test]
fn jsonata_expressions_must_parse() {
    let report = check(jsonata(
        json!({"Main": {"Type": "Pass", "Output": "{% 1 + %}", "End": true}}),
    ));
    assert_eq!(
        errors(&report),
        vec![(
            "INVALID_JSONATA_EXPRESSION".into(),
            "/States/Main/Output".into(),
            "Unexpected end of expression".into()
        )]
    );
    let empty = check(jsonata(
        json!({"Main": {"Type": "Pass", "Output": {"v": ["{%  %}"]}, "End": true}}),
    ));
    assert_eq!(
        errors(&empty).first().map(|e| (e.0.as_str(), e.1.as_str())),
        Some(("INVALID_JSONATA_EXPRESSION", "/States/Main/Output/v[0]"))
    );
}

#[test]
fn map_fields_of_one_language_are_refused_in_the_other() {
    let processor = json!({"StartAt": "P", "States": {"P": pass_end()}});
    assert_eq!(
        only_error(machine(json!({"M": {"Type": "Map", "Items": [{"n": 1}], "ItemProcessor": processor.clone(), "End": true}}))),
        schema("/States/M", "The QueryLanguage is set to 'JSONPath', but field 'Items' is only supported for the 'JSONata' QueryLanguage")
    );
    assert_eq!(
        only_error(jsonata(json!({"M": {"Type": "Map", "MaxConcurrencyPath": "$.limit", "ItemProcessor": processor.clone(), "End": true}}))),
        schema("/States/M", "The QueryLanguage is set to 'JSONata', but field 'MaxConcurrencyPath' is only supported for the 'JSONPath' QueryLanguage")
    );
    assert!(check(jsonata(
        json!({"M": {"Type": "Map", "Items": "{% $states.input.items %}",
        "MaxConcurrency": "{% $states.input.limit %}", "ItemProcessor": processor, "End": true}})
    ))
    .is_valid());
}

#[test]
fn distributed_map_readers_batchers_and_writers_are_checked() {
    let map = |extra: Value| {
        let mut state = json!({"Type": "Map", "End": true, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": pass_end()}}});
        if let (Some(state), Some(extra)) = (state.as_object_mut(), extra.as_object()) {
            state.extend(extra.clone());
        }
        machine(json!({"M": state}))
    };
    assert_eq!(
        only_error(map(
            json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "UNSUPPORTED"}}})
        )),
        schema(
            "/States/M/ItemReader/ReaderConfig/InputType",
            "Value should be one of the following: [CSV, JSON, JSONL, MANIFEST, PARQUET]"
        )
    );
    assert_eq!(
        only_error(map(
            json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"MaxItems": 1, "MaxItemsPath": "$.n"}}})
        )),
        schema(
            "/States/M/ItemReader/ReaderConfig/MaxItems",
            "There should only be one of the following fields: [MaxItems, MaxItemsPath]"
        )
    );
    assert_eq!(
        only_error(map(
            json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN"}}})
        )),
        schema(
            "/States/M/ItemReader/ReaderConfig",
            "These fields are required: [CSVHeaders]"
        )
    );
    assert_eq!(
        only_error(map(json!({"ItemBatcher": {"MaxItemsPerBatch": -1}}))),
        schema(
            "/States/M/ItemBatcher/MaxItemsPerBatch",
            "Minimum value is 0"
        )
    );
    assert_eq!(
        only_error(map(
            json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b"}}})
        )),
        schema(
            "/States/M/ResultWriter/Resource",
            "The field 'Resource' does not match any of the allowed values"
        )
    );
    assert!(check(map(json!({
        "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket.$": "$.bucket"},
                       "ReaderConfig": {"MaxItems": 10}},
        "ItemBatcher": {"MaxItemsPerBatchPath": "$.batch", "BatchInput": {"k.$": "$.k"}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b", "Prefix": "p"},
                         "WriterConfig": {"OutputType": "JSONL", "Transformation": "FLATTEN"}},
        "ToleratedFailurePercentage": 5, "Label": "run"
    }))).is_valid());
}

#[test]
fn express_machines_refuse_distributed_maps() {
    let report = express(machine(
        json!({"M": {"Type": "Map", "End": true, "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
        "StartAt": "P", "States": {"P": pass_end()}}}}),
    ));
    assert_eq!(
        errors(&report),
        vec![schema(
            "/States/M/ItemProcessor/ProcessorConfig/Mode",
            "The field 'Mode' with value 'DISTRIBUTED' is not supported inside 'EXPRESS' state machines"
        )]
    );
}

#[test]
fn anything_but_an_object_is_not_a_definition() {
    assert_eq!(
        errors(&check(json!([1]))),
        vec![schema("/", "Expected value of type [OBJECT]")]
    );
    assert_eq!(
        errors(&check(json!({"StartAt": "A", "States": {}}))),
        vec![schema("/States", "Value cannot be empty")]
    );
    assert_eq!(
        errors(&check(json!({"StartAt": "A", "States": {"A": "Pass"}}))),
        vec![schema("/States/A", "Expected value of type [OBJECT]")]
    );
}
