#![forbid(unsafe_code)]
//! What the emulator tests share. `tests/emulators/start.sh` starts DynamoDB Local and moto
//! and exports their endpoints as `CAIRN_TEST_DYNAMODB` and `CAIRN_TEST_MOTO`; a test that
//! finds them missing skips, saying why, unless `CAIRN_REQUIRE_EMULATORS=1` (set by the
//! README's test command), where that is a failure.

use std::collections::BTreeMap;

use cairn_integrations::Settings;

/// Where the emulators listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emulators {
    pub moto: String,
    pub dynamodb: String,
}

/// The running emulators, or `None` after printing `SKIPPED: <reason>`. Panics when they
/// are missing and `CAIRN_REQUIRE_EMULATORS=1`.
pub fn emulators() -> Option<Emulators> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (dynamodb, moto) = (var("CAIRN_TEST_DYNAMODB"), var("CAIRN_TEST_MOTO"));
    if let (Some(dynamodb), Some(moto)) = (&dynamodb, &moto) {
        return Some(Emulators {
            moto: moto.clone(),
            dynamodb: dynamodb.clone(),
        });
    }
    let missing: Vec<&str> = [
        ("CAIRN_TEST_DYNAMODB", &dynamodb),
        ("CAIRN_TEST_MOTO", &moto),
    ]
    .into_iter()
    .filter(|(_, value)| value.is_none())
    .map(|(name, _)| name)
    .collect();
    let reason = format!(
        "{} not set: DynamoDB Local and moto are not running (tests/emulators/start.sh starts them)",
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
