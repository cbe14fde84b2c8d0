#![no_main]
//! Any bytes as a definition: validation must answer with diagnostics, never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        for machine_type in [
            cairn_asl::validate::MachineType::Standard,
            cairn_asl::validate::MachineType::Express,
        ] {
            let options = cairn_asl::validate::Options { machine_type };
            let report = cairn_asl::validate::validate_str(text, &options);
            // A rejected definition always explains itself.
            assert_eq!(report.is_valid(), report.message().is_none());
        }
    }
});
