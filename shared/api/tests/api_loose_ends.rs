//! What an execution started on a version or alias sees and shows (`$$.StateMachine`,
//! DescribeStateMachine, DescribeStateMachineForExecution), and ListExecutions' filters
//! filling whole pages.

use serde_json::{json, Value};

mod support;
use support::{api, call, fails, ROLE};

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// A Pass state answering the context object's state machine and which revision ran.
fn reporting(revision: u32) -> String {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {
        "id.$": "$$.StateMachine.Id", "name.$": "$$.StateMachine.Name", "revision": revision
    }, "End": true}}})
    .to_string()
}

fn output(api: &cairn_api::Api, arn: &str) -> Value {
    let described = call(api, "DescribeExecution", json!({"executionArn": arn}));
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    serde_json::from_str(described["output"].as_str().unwrap_or("null")).unwrap_or_default()
}

#[test]
fn an_execution_of_a_version_or_alias_names_the_version_that_runs() {
    let api = api();
    let created = call(
        &api,
        "CreateStateMachine",
        json!({"name": "ctx", "definition": reporting(1), "roleArn": ROLE, "publish": true}),
    );
    let arn = text(&created["stateMachineArn"]);
    let v1 = text(&created["stateMachineVersionArn"]);
    let v2 = text(
        &call(
            &api,
            "UpdateStateMachine",
            json!({"stateMachineArn": arn, "definition": reporting(2), "publish": true}),
        )["stateMachineVersionArn"],
    );
    let alias = text(
        &call(
            &api,
            "CreateStateMachineAlias",
            json!({"name": "live", "routingConfiguration": [{"stateMachineVersionArn": v2, "weight": 100}]}),
        )["stateMachineAliasArn"],
    );
    call(
        &api,
        "UpdateStateMachine",
        json!({"stateMachineArn": arn, "definition": reporting(3)}),
    );

    let start = |target: &str, name: &str| {
        text(
            &call(
                &api,
                "StartExecution",
                json!({"stateMachineArn": target, "name": name}),
            )["executionArn"],
        )
    };
    let latest = start(&arn, "latest");
    let on_v1 = start(&v1, "on-v1");
    let on_alias = start(&alias, "on-alias");
    assert_eq!(
        output(&api, &latest),
        json!({"id": arn, "name": "ctx", "revision": 3})
    );
    assert_eq!(
        output(&api, &on_v1),
        json!({"id": v1, "name": "ctx", "revision": 1})
    );
    assert_eq!(
        output(&api, &on_alias),
        json!({"id": v2, "name": "ctx", "revision": 2})
    );
    // The execution itself belongs to the unqualified state machine.
    for execution in [&latest, &on_v1, &on_alias] {
        let described = call(
            &api,
            "DescribeExecution",
            json!({"executionArn": execution}),
        );
        assert_eq!(described["stateMachineArn"], arn.as_str());
    }

    // DescribeStateMachineForExecution: the definition that ran, under the state machine's ARN.
    let for_v1 = call(
        &api,
        "DescribeStateMachineForExecution",
        json!({"executionArn": on_v1}),
    );
    assert_eq!(for_v1["stateMachineArn"], arn.as_str());
    assert_eq!(for_v1["definition"], reporting(1).as_str());
    let for_alias = call(
        &api,
        "DescribeStateMachineForExecution",
        json!({"executionArn": on_alias}),
    );
    assert_eq!(for_alias["definition"], reporting(2).as_str());

    // DescribeStateMachine describes a version by its ARN; an alias ARN names no state
    // machine (DescribeStateMachineAlias describes it).
    let version = call(&api, "DescribeStateMachine", json!({"stateMachineArn": v1}));
    assert_eq!(version["stateMachineArn"], v1.as_str());
    assert_eq!(version["definition"], reporting(1).as_str());
    let error = fails(
        &api,
        "DescribeStateMachine",
        json!({"stateMachineArn": alias}),
    );
    assert_eq!(error.error_type, "StateMachineDoesNotExist");
    assert_eq!(
        error.message,
        format!("State Machine Does Not Exist: '{alias}'")
    );
    let missing = fails(
        &api,
        "DescribeStateMachine",
        json!({"stateMachineArn": format!("{arn}:9")}),
    );
    assert_eq!(missing.error_type, "StateMachineDoesNotExist");
}

/// Every page of a filtered listing: the number of items on each, and their names. Checks
/// that every page with a nextToken is full (the last may be empty when the filtered-out
/// executions come last: the store knew of more, not that none of them passes).
fn pages(api: &cairn_api::Api, request: Value) -> (Vec<usize>, Vec<String>) {
    let limit = request["maxResults"].as_u64().unwrap_or(100) as usize;
    let mut sizes = Vec::new();
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = request.clone();
        if let Some(token) = &token {
            request["nextToken"] = Value::from(token.clone());
        }
        let page = call(api, "ListExecutions", request);
        let items = page["executions"].as_array().cloned().unwrap_or_default();
        sizes.push(items.len());
        names.extend(items.iter().map(|item| text(&item["name"])));
        match page.get("nextToken") {
            Some(next) => {
                assert_eq!(items.len(), limit, "a short page with a nextToken: {page}");
                token = Some(text(next));
            }
            None => return (sizes, names),
        }
    }
}

#[test]
fn filtered_listings_fill_every_page_but_the_last() {
    let api = api();
    // Fails the first time, so a redrive can be told apart.
    let definition = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}});
    let created = call(
        &api,
        "CreateStateMachine",
        json!({"name": "pages", "definition": definition.to_string(), "roleArn": ROLE, "publish": true}),
    );
    let arn = text(&created["stateMachineArn"]);
    let v1 = text(&created["stateMachineVersionArn"]);
    // Eleven executions, one in three on the version; executions 0, 4 and 8 redriven.
    for n in 0..11 {
        let target = if n % 3 == 0 { &v1 } else { &arn };
        let started = call(
            &api,
            "StartExecution",
            json!({"stateMachineArn": target, "name": format!("e{n:02}")}),
        );
        if n % 4 == 0 {
            call(
                &api,
                "RedriveExecution",
                json!({"executionArn": started["executionArn"]}),
            );
        }
    }
    let (_, mut names) = pages(&api, json!({"stateMachineArn": v1, "maxResults": 2}));
    names.sort();
    assert_eq!(names, vec!["e00", "e03", "e06", "e09"]);

    let (_, mut names) = pages(
        &api,
        json!({"stateMachineArn": arn, "maxResults": 2, "redriveFilter": "REDRIVEN"}),
    );
    names.sort();
    assert_eq!(names, vec!["e00", "e04", "e08"]);

    let (sizes, names) = pages(
        &api,
        json!({"stateMachineArn": arn, "maxResults": 3, "redriveFilter": "NOT_REDRIVEN"}),
    );
    assert_eq!(sizes, vec![3, 3, 2]);
    assert_eq!(names.len(), 8);

    // Both filters at once: e00 is the version's only redriven execution.
    let (_, names) = pages(
        &api,
        json!({"stateMachineArn": v1, "maxResults": 1, "redriveFilter": "REDRIVEN"}),
    );
    assert_eq!(names, vec!["e00"]);
}
