//! `cairn validate`: checks a definition as CreateStateMachine would, with AWS's messages.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cairn_asl::validate::{validate_str, Diagnostic, MachineType, Options, Report};
use serde_json::{json, Value};

#[derive(clap::Args)]
pub struct Args {
    /// The definition file (JSON); `-` reads standard input.
    pub file: PathBuf,
    /// How to print the result: `text` for people, `json` for tools.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The state machine type the definition is checked for.
    #[arg(long = "type", value_enum, default_value_t = TypeArg::Standard)]
    pub machine_type: TypeArg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TypeArg {
    #[value(name = "STANDARD", alias = "standard")]
    Standard,
    #[value(name = "EXPRESS", alias = "express")]
    Express,
}

pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let text = read_definition(&args.file)?;
    let options = Options {
        machine_type: match args.machine_type {
            TypeArg::Standard => MachineType::Standard,
            TypeArg::Express => MachineType::Express,
        },
    };
    let report = validate_str(&text, &options);
    let mut stdout = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer(&mut stdout, &to_json(&report))?;
            writeln!(stdout)?;
        }
        Format::Text => {
            let colour = std::io::stdout().is_terminal();
            write_text(&mut stdout, &args.file, &report, colour)?;
        }
    }
    stdout.flush()?;
    Ok(if report.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn read_definition(file: &PathBuf) -> anyhow::Result<String> {
    if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the definition from standard input")?;
        return Ok(text);
    }
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

fn diagnostic_json(diagnostic: &Diagnostic) -> Value {
    json!({
        "code": diagnostic.code,
        "location": diagnostic.location,
        "message": diagnostic.message,
    })
}

pub(crate) fn to_json(report: &Report) -> Value {
    json!({
        "valid": report.is_valid(),
        "message": report.message(),
        "diagnostics": report.diagnostics.iter().map(diagnostic_json).collect::<Vec<_>>(),
        "warnings": report.warnings.iter().map(diagnostic_json).collect::<Vec<_>>(),
    })
}

const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const GREEN: &str = "\x1b[32m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

fn write_text(
    out: &mut impl Write,
    file: &std::path::Path,
    report: &Report,
    colour: bool,
) -> std::io::Result<()> {
    let paint = |code: &'static str| if colour { code } else { "" };
    let (red, yellow, green, bold, dim, reset) = (
        paint(RED),
        paint(YELLOW),
        paint(GREEN),
        paint(BOLD),
        paint(DIM),
        paint(RESET),
    );
    for (label, tint, diagnostics) in [
        ("error", red, &report.diagnostics),
        ("warning", yellow, &report.warnings),
    ] {
        for diagnostic in diagnostics {
            writeln!(
                out,
                "{tint}{bold}{label}{reset}{bold}[{}]{reset}: {}",
                diagnostic.code, diagnostic.message
            )?;
            writeln!(
                out,
                "  {dim}at{reset} {}",
                diagnostic.location.as_deref().unwrap_or("(no location)")
            )?;
        }
    }
    match report.message() {
        Some(message) => {
            writeln!(
                out,
                "{red}{bold}{} is invalid{reset} ({} error(s), {} warning(s))",
                file.display(),
                report.diagnostics.len(),
                report.warnings.len()
            )?;
            writeln!(
                out,
                "{dim}AWS would answer: InvalidDefinition: {message}{reset}"
            )?;
        }
        None => writeln!(
            out,
            "{green}{bold}{} is valid{reset} ({} warning(s))",
            file.display(),
            report.warnings.len()
        )?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_output_names_each_problem_with_its_location_and_aws_message() {
        let report = validate_str(r#"{"StartAt": "A"}"#, &Options::default());
        let mut out = Vec::new();
        write_text(&mut out, std::path::Path::new("m.json"), &report, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "error[SCHEMA_VALIDATION_FAILED]: These fields are required: [States]\n  at /\n\
             m.json is invalid (1 error(s), 0 warning(s))\n\
             AWS would answer: InvalidDefinition: Invalid State Machine Definition: \
             'SCHEMA_VALIDATION_FAILED: These fields are required: [States] at /'\n"
        );
    }

    #[test]
    fn colour_is_only_added_when_asked() {
        let report = validate_str(r#"{"StartAt": "A"}"#, &Options::default());
        let mut out = Vec::new();
        write_text(&mut out, std::path::Path::new("m.json"), &report, true).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("\x1b[31m\x1b[1merror\x1b[0m"));
    }

    #[test]
    fn json_output_has_the_documented_shape() {
        let report = validate_str(
            r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#,
            &Options::default(),
        );
        assert_eq!(
            to_json(&report),
            json!({"valid": true, "message": null, "diagnostics": [], "warnings": []})
        );
    }
}
