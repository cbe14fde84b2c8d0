//! `cairn validate` as a user runs it: the built binary, its JSON output and its exit code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::{json, Value};

/// Builds the `cairn` binary into the target directory this test runs from and returns its
/// path. The binary belongs to another package, so Cargo does not hand its path to this one.
fn cairn() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let test_binary = std::env::current_exe().expect("the test knows its own path");
        // <target>/<profile>/deps/validate_cli-<hash>
        let profile_dir = test_binary
            .parent()
            .and_then(Path::parent)
            .expect("the test binary lives in <target>/<profile>/deps");
        let target_dir = profile_dir
            .parent()
            .expect("a profile directory has a parent");
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut build = Command::new(env!("CARGO"));
        build
            .current_dir(&workspace)
            .args([
                "build",
                "--quiet",
                "-p",
                "cairn",
                "--bin",
                "cairn",
                "--target-dir",
            ])
            .arg(target_dir);
        if profile_dir
            .file_name()
            .is_some_and(|name| name == "release")
        {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "building the cairn binary failed");
        profile_dir.join(format!("cairn{}", std::env::consts::EXE_SUFFIX))
    })
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/validate")
        .join(name)
}

fn run(args: &[&str], file: &str) -> Output {
    Command::new(cairn())
        .arg("validate")
        .arg(fixture(file))
        .args(args)
        .output()
        .expect("cairn runs")
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).expect("--format json prints one JSON object")
}

#[test]
fn a_valid_definition_prints_valid_and_exits_0() {
    let output = run(&["--format", "json"], "valid.json");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        json_of(&output),
        json!({"valid": true, "message": null, "diagnostics": [], "warnings": []})
    );
}

#[test]
fn an_invalid_definition_prints_aws_message_and_exits_1() {
    let output = run(&["--format", "json"], "invalid.json");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        json_of(&output),
        json!({
            "valid": false,
            "message": "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3 at /States/pass1/Next, MISSING_TRANSITION_TARGET: State \"pass2\" is not reachable. at /States/pass2'",
            "diagnostics": [
                {"code": "MISSING_TRANSITION_TARGET", "location": "/States/pass1/Next", "message": "Missing 'Next' target: pass3"},
                {"code": "MISSING_TRANSITION_TARGET", "location": "/States/pass2", "message": "State \"pass2\" is not reachable."}
            ],
            "warnings": []
        })
    );
}

#[test]
fn the_machine_type_changes_what_is_accepted() {
    let standard = run(&["--format", "json"], "activity.json");
    assert_eq!(standard.status.code(), Some(0));
    let express = run(&["--format", "json", "--type", "EXPRESS"], "activity.json");
    assert_eq!(express.status.code(), Some(1));
    assert_eq!(
        json_of(&express)["message"],
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Express state machine does not support Activity ARN at /States/ActivityTask/Resource'"
    );
}

#[test]
fn text_that_is_not_json_is_invalid_json_description() {
    let output = run(&["--format", "json"], "not_json.json");
    assert_eq!(output.status.code(), Some(1));
    let report = json_of(&output);
    assert_eq!(report["diagnostics"][0]["code"], "INVALID_JSON_DESCRIPTION");
    assert_eq!(report["diagnostics"][0]["location"], Value::Null);
}

#[test]
fn text_format_is_for_people_and_has_no_colour_when_piped() {
    let output = run(&[], "invalid.json");
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout).expect("utf-8");
    assert!(
        !text.contains('\x1b'),
        "no ANSI codes when stdout is not a terminal"
    );
    assert!(text.contains(
        "error[MISSING_TRANSITION_TARGET]: Missing 'Next' target: pass3\n  at /States/pass1/Next\n"
    ));
}
