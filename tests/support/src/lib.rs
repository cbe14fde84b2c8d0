#![forbid(unsafe_code)]
//! What the emulator tests share. `tests/emulators/start.sh` starts DynamoDB Local and moto
//! and exports their endpoints as `CAIRN_TEST_DYNAMODB` and `CAIRN_TEST_MOTO`; a test that
//! finds them missing skips, saying why, unless `CAIRN_REQUIRE_EMULATORS=1` (set by the
//! README's test command), where that is a failure. Also the helpers their checks share.

use std::collections::BTreeMap;

use cairn_integrations::Settings;

/// Where the emulators listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emulators {
    pub moto: String,
    pub dynamodb: String,
    /// LocalStack in host mode, for the tests that need AWS's behaviour where moto differs
    /// ([`emulators_with_localstack`]).
    pub localstack: Option<String>,
}

/// DynamoDB Local and moto, or `None` after printing `SKIPPED: <reason>`. Panics when they
/// are missing and `CAIRN_REQUIRE_EMULATORS=1`.
pub fn emulators() -> Option<Emulators> {
    let [dynamodb, moto] = running(["CAIRN_TEST_DYNAMODB", "CAIRN_TEST_MOTO"])?;
    Some(Emulators {
        moto,
        dynamodb,
        localstack: None,
    })
}

/// [`emulators`] and LocalStack too.
pub fn emulators_with_localstack() -> Option<Emulators> {
    let [dynamodb, moto, localstack] = running([
        "CAIRN_TEST_DYNAMODB",
        "CAIRN_TEST_MOTO",
        "CAIRN_TEST_LOCALSTACK",
    ])?;
    Some(Emulators {
        moto,
        dynamodb,
        localstack: Some(localstack),
    })
}

/// The endpoints the variables name, or `None` (skip) / a panic (required) when one is unset.
fn running<const N: usize>(names: [&str; N]) -> Option<[String; N]> {
    let values = names.map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
    if values.iter().all(Option::is_some) {
        return Some(values.map(Option::unwrap_or_default));
    }
    let missing: Vec<&str> = names
        .iter()
        .zip(&values)
        .filter(|(_, value)| value.is_none())
        .map(|(name, _)| *name)
        .collect();
    let reason = format!(
        "{} not set: the emulators are not running (tests/emulators/start.sh starts them)",
        missing.join(" and ")
    );
    assert!(
        std::env::var("CAIRN_REQUIRE_EMULATORS").as_deref() != Ok("1"),
        "CAIRN_REQUIRE_EMULATORS=1 but {reason}"
    );
    eprintln!("SKIPPED: {reason}");
    None
}

impl Emulators {
    /// Integration settings spelled out rather than read from the process environment, so
    /// tests call the emulators whatever else the environment holds (a real AWS profile,
    /// other endpoints): DynamoDB at DynamoDB Local, every other service at moto.
    pub fn settings(&self) -> Settings {
        Settings {
            region: Some("us-east-1".into()),
            endpoint_url: Some(self.moto.clone()),
            service_endpoints: BTreeMap::from([("DYNAMODB".to_string(), self.dynamodb.clone())]),
            static_credentials: Some(("test".into(), "test".into())),
            ..Settings::default()
        }
    }
}

/// The configuration of an official AWS SDK client for one emulator (test credentials,
/// us-east-1), to read back what a workflow wrote with a second, independent client.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            "test",
            "test",
            None,
            None,
            "emulators",
        ))
        .load()
        .await
}

/// The output of a run that must have succeeded; a failed run's error and cause otherwise.
pub fn succeeded(result: &cairn_runtime::RunResult) -> &serde_json::Value {
    assert_eq!(
        result.status,
        cairn_interpreter::Status::Succeeded,
        "the execution ended {} with {:?}: {:?}",
        result.status.as_aws_str(),
        result.error,
        result.cause
    );
    result
        .output
        .as_ref()
        .expect("a succeeded run has an output")
}
