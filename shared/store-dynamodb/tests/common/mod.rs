//! What the DynamoDB test files share: finding DynamoDB Local.

/// DynamoDB Local's endpoint from `CAIRN_TEST_DYNAMODB` (set by tests/serverless/run.sh after
/// tests/emulators/start.sh). Without it a test fails when CAIRN_REQUIRE_EMULATORS=1 (set by
/// tests/run.sh and tests/serverless/run.sh), and otherwise prints `SKIPPED: <reason>` and
/// the caller returns (a test run alone).
pub fn emulator() -> Option<String> {
    match std::env::var("CAIRN_TEST_DYNAMODB") {
        Ok(endpoint) if !endpoint.is_empty() => Some(endpoint),
        _ => {
            let reason = "CAIRN_TEST_DYNAMODB is not set: DynamoDB Local is not running \
                          (tests/serverless/run.sh starts it)";
            assert!(
                std::env::var("CAIRN_REQUIRE_EMULATORS").as_deref() != Ok("1"),
                "CAIRN_REQUIRE_EMULATORS=1 but {reason}"
            );
            eprintln!("SKIPPED: {reason}");
            None
        }
    }
}
