//! What the emulator tests share: whether DynamoDB Local and moto are there to test against.

/// True when `tests/emulators/start.sh` started the emulators (it exports their endpoints).
/// Without them a test skips, saying why, unless `CAIRN_REQUIRE_EMULATORS=1` (set by the
/// README's test command), where a missing emulator is a failure.
pub fn emulators() -> bool {
    cairn_test_support::emulators().is_some()
}
