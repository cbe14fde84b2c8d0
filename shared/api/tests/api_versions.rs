//! Versions and aliases over the in-memory store: AWS's quotas (1000 versions, 100 aliases
//! per state machine) and the draw of an alias's version.

use std::sync::Arc;

use cairn_api::{Api, Config};
use cairn_store::MemoryStore;
use serde_json::{json, Value};

fn call(api: &Api, action: &str, request: Value) -> Result<Value, String> {
    api.handle(action, request).map_err(|e| e.error_type)
}

fn definition(n: usize) -> String {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": n, "End": true}}}).to_string()
}

#[test]
fn versions_and_aliases_stop_at_aws_quotas() -> Result<(), String> {
    let api = Api::new(Arc::new(MemoryStore::new()), Config::default());
    let created = call(
        &api,
        "CreateStateMachine",
        json!({"name": "q", "definition": definition(0), "roleArn": "arn:aws:iam::1:role/r", "publish": true}),
    )?;
    let arn = created["stateMachineArn"]
        .as_str()
        .unwrap_or("")
        .to_string();
    for n in 1..1000 {
        let out = call(
            &api,
            "UpdateStateMachine",
            json!({"stateMachineArn": arn, "definition": definition(n), "publish": true}),
        )?;
        assert_eq!(out["stateMachineVersionArn"], format!("{arn}:{}", n + 1));
    }
    let full = call(
        &api,
        "UpdateStateMachine",
        json!({"stateMachineArn": arn, "definition": definition(1000), "publish": true}),
    );
    assert_eq!(full, Err("ServiceQuotaExceededException".to_string()));
    // Deleting one makes room; the next number is still new.
    call(
        &api,
        "DeleteStateMachineVersion",
        json!({"stateMachineVersionArn": format!("{arn}:1")}),
    )?;
    let next = call(
        &api,
        "PublishStateMachineVersion",
        json!({"stateMachineArn": arn}),
    )?;
    assert_eq!(next["stateMachineVersionArn"], format!("{arn}:1001"));

    let route = json!([{"stateMachineVersionArn": format!("{arn}:2"), "weight": 100}]);
    for n in 0..100 {
        call(
            &api,
            "CreateStateMachineAlias",
            json!({"name": format!("a{n}"), "routingConfiguration": route}),
        )?;
    }
    let over = call(
        &api,
        "CreateStateMachineAlias",
        json!({"name": "a100", "routingConfiguration": route}),
    );
    assert_eq!(over, Err("ServiceQuotaExceededException".to_string()));
    let listed = call(
        &api,
        "ListStateMachineAliases",
        json!({"stateMachineArn": arn, "maxResults": 1000}),
    )?;
    assert_eq!(
        listed["stateMachineAliases"].as_array().map(Vec::len),
        Some(100)
    );
    // The version every alias routes to stays.
    assert_eq!(
        call(
            &api,
            "DeleteStateMachineVersion",
            json!({"stateMachineVersionArn": format!("{arn}:2")})
        ),
        Err("ConflictException".to_string())
    );
    api.shutdown();
    Ok(())
}

#[test]
fn an_alias_runs_the_version_its_draw_lands_on() -> Result<(), String> {
    let api = Api::new(Arc::new(MemoryStore::new()), Config::default());
    let created = call(
        &api,
        "CreateStateMachine",
        json!({"name": "d", "definition": definition(1), "roleArn": "arn:aws:iam::1:role/r", "publish": true}),
    )?;
    let arn = created["stateMachineArn"]
        .as_str()
        .unwrap_or("")
        .to_string();
    call(
        &api,
        "UpdateStateMachine",
        json!({"stateMachineArn": arn, "definition": definition(2), "publish": true}),
    )?;
    let alias = call(
        &api,
        "CreateStateMachineAlias",
        json!({"name": "half", "routingConfiguration": [
            {"stateMachineVersionArn": format!("{arn}:1"), "weight": 50},
            {"stateMachineVersionArn": format!("{arn}:2"), "weight": 50},
        ]}),
    )?;
    let alias = alias["stateMachineAliasArn"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let mut seen = [0; 2];
    for _ in 0..100 {
        let started = call(&api, "StartExecution", json!({"stateMachineArn": alias}))?;
        let described = call(
            &api,
            "DescribeExecution",
            json!({"executionArn": started["executionArn"]}),
        )?;
        let version = described["stateMachineVersionArn"].as_str().unwrap_or("");
        let output = described["output"].as_str().unwrap_or("");
        // A Pass chain ends in its start: the version's own definition ran.
        match version.rsplit(':').next() {
            Some("1") => {
                assert_eq!(output, "1");
                seen[0] += 1;
            }
            Some("2") => {
                assert_eq!(output, "2");
                seen[1] += 1;
            }
            other => return Err(format!("routed to {other:?}")),
        }
    }
    // 50/50 over 100 draws: each side between 20 and 80 fails by chance about once in 10^9.
    assert!(seen.iter().all(|&n| (20..=80).contains(&n)), "{seen:?}");
    api.shutdown();
    Ok(())
}
