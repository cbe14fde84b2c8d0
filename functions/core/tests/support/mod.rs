//! What the emulator tests share: whether DynamoDB Local and moto are there to test against.

/// True when `tests/serverless/run.sh` started the emulators (it exports their endpoints).
/// Without them a test skips, saying why, unless `CAIRN_REQUIRE_EMULATORS=1` (set by the
/// README's test command), where a missing emulator is a failure.
pub fn emulators() -> bool {
    let missing: Vec<&str> = ["CAIRN_TEST_DYNAMODB", "CAIRN_TEST_MOTO"]
        .into_iter()
        .filter(|name| !std::env::var(name).is_ok_and(|v| !v.is_empty()))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let reason = format!(
        "{} not set: DynamoDB Local and moto are not running (tests/serverless/run.sh starts them)",
        missing.join(" and ")
    );
    assert!(
        std::env::var("CAIRN_REQUIRE_EMULATORS").as_deref() != Ok("1"),
        "CAIRN_REQUIRE_EMULATORS=1 but {reason}"
    );
    eprintln!("SKIPPED: {reason}");
    false
}
