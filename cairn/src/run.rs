//! `cairn run`: one execution of a definition in this process.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use cairn_interpreter::{ExecutionInfo, HistoryEvent, Machine, MachineType, Status};
use cairn_runtime::{
    run_observed, RunOptions, RunResult, ScriptedLambda, SystemClock, TaskInvoker, TimeMode,
};
use serde_json::{json, Value};

mod pretty;

use pretty::Pretty;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Type {
    #[value(name = "STANDARD", alias = "standard")]
    Standard,
    #[value(name = "EXPRESS", alias = "express")]
    Express,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object: status, output, error, cause (and history with --history).
    Json,
    /// For people: a line per state as it runs, then the result.
    Pretty,
}

#[derive(clap::Args)]
pub struct Args {
    /// The definition file (JSON).
    pub file: PathBuf,
    /// The execution input: JSON text, or @FILE to read it from a file. Default `{}`.
    #[arg(long)]
    pub input: Option<String>,
    /// The state machine type.
    #[arg(long = "type", value_enum, default_value = "STANDARD")]
    pub machine_type: Type,
    /// Output format (default: pretty on a terminal, json otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Include the execution history (GetExecutionHistory's events).
    #[arg(long)]
    pub history: bool,
    /// Let timers fire at once in logical time (history timestamps still advance by the
    /// waited amount) instead of sleeping.
    #[arg(long)]
    pub virtual_time: bool,
    /// Play Lambda functions in-process from a JSON list
    /// (`[{"name", "behaviour": "echo" | "raise" | "return" | ...}]`) instead of calling
    /// Lambda. Other services are called as the AWS SDKs would (AWS_REGION, credentials,
    /// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>).
    #[arg(long, value_name = "FILE")]
    pub functions: Option<PathBuf>,
    /// Name of the execution (default: a UUID, as StartExecution generates).
    #[arg(long)]
    pub name: Option<String>,
    /// Entropy for UUIDs, random numbers and generated names: the same seed gives the same
    /// values again (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Region in the ARNs of the execution (default: AWS_REGION, then AWS_DEFAULT_REGION,
    /// then us-east-1).
    #[arg(long)]
    pub region: Option<String>,
    /// Account id in the ARNs of the execution.
    #[arg(long, default_value = "123456789012")]
    pub account: String,
    /// AWS Step Functions Local's mock configuration file (default: the file named by
    /// SFN_MOCK_CONFIG). Used with --test-case.
    #[arg(long, value_name = "FILE")]
    pub mock_config: Option<PathBuf>,
    /// The test case of the mock configuration whose mocked responses answer Task states
    /// (the state machine is named after the definition file); unmocked states run for real.
    #[arg(long, value_name = "NAME")]
    pub test_case: Option<String>,
    #[command(flatten)]
    pub limits: crate::limits::LimitArgs,
}

pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let format = args.format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Pretty
    } else {
        Format::Json
    });

    let definition: Value = match cairn_asl::json::parse(&text) {
        Ok(value) => value,
        Err(_) => {
            // The validator words a definition that is not JSON as AWS does.
            let options = validate_options(args.machine_type);
            let report = cairn_asl::validate::validate_str(&text, &options);
            let message = report
                .message()
                .unwrap_or_else(|| "Invalid State Machine Definition: not JSON".to_owned());
            return rejected(format, "InvalidDefinition", &message);
        }
    };
    let report = cairn_asl::validate::validate(&definition, &validate_options(args.machine_type));
    if let Some(message) = report.message() {
        return rejected(format, "InvalidDefinition", &message);
    }
    let machine = match Machine::from_json(&definition) {
        Ok(machine) => machine.with_limits(args.limits.limits()),
        Err(err) => {
            return rejected(
                format,
                "InvalidDefinition",
                &format!("Invalid State Machine Definition: '{err}'"),
            )
        }
    };

    let input = match read_input(args.input.as_deref()) {
        Ok(input) => input,
        Err(message) => return rejected(format, "InvalidExecutionInput", &message),
    };

    let seed = args.seed.unwrap_or_else(clock_seed);
    let region = args.region.clone().unwrap_or_else(|| {
        std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|_| "us-east-1".to_owned())
    });
    let info = execution_info(&args, &region, seed);
    let integrations = crate::integrations(&region)?;
    // A `.sync` child (at the configured Step Functions endpoint) reports its end through
    // the parent's task token, which this loop answers.
    let callbacks = cairn_runtime::Callbacks::default();
    integrations.with_step_functions(Arc::new(callbacks.clone()), true);
    let invoker: Arc<dyn TaskInvoker> = match &args.functions {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let list: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", path.display()))?;
            let functions = ScriptedLambda::from_json(&list, &region, &args.account)
                .with_context(|| path.display().to_string())?
                .with_seed(seed);
            Arc::new(integrations.with_lambda_stand_in(Arc::new(functions)))
        }
        None => Arc::new(integrations),
    };
    let invoker = match &args.test_case {
        Some(case) => {
            let config = load_mock_config(args.mock_config.as_deref())?;
            let case = config
                .test_case(&machine_name(&args.file), case)
                .with_context(|| {
                    format!(
                        "the state machine is named after its file ({})",
                        args.file.display()
                    )
                })?;
            Arc::new(cairn_runtime::MockInvoker::new(invoker, case))
        }
        None => invoker,
    };

    let options = RunOptions {
        info,
        time: if args.virtual_time {
            TimeMode::Virtual
        } else {
            TimeMode::Real
        },
        start_time_ms: None,
        seed,
        step_by_step: false,
        max_events: RunOptions::default().max_events,
        stop_after_ms: None,
        wait_for_callbacks: true,
        callbacks: Some(callbacks),
        clock: Arc::new(SystemClock),
    };

    let run = match format {
        Format::Json => run_observed(&machine, input, invoker, &options, &mut |_| {})?,
        Format::Pretty => {
            let mut pretty = Pretty::new(std::io::stdout().is_terminal());
            let run = run_observed(&machine, input, invoker, &options, &mut |event| {
                pretty.event(event)
            })?;
            pretty.result(&run, args.history);
            run
        }
    };
    if format == Format::Json {
        print_json(&run, args.history)?;
    }
    Ok(if run.status == Status::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Reads a mock configuration: `path`, else the file SFN_MOCK_CONFIG names, as Step
/// Functions Local finds it.
pub fn load_mock_config(path: Option<&Path>) -> anyhow::Result<cairn_runtime::MockConfig> {
    let path = match path {
        Some(path) => path.to_path_buf(),
        None => std::env::var_os("SFN_MOCK_CONFIG")
            .map(PathBuf::from)
            .context(
                "--test-case needs a mock configuration: --mock-config FILE or SFN_MOCK_CONFIG",
            )?,
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    cairn_runtime::MockConfig::parse(&text).with_context(|| path.display().to_string())
}

fn validate_options(machine_type: Type) -> cairn_asl::validate::Options {
    cairn_asl::validate::Options {
        machine_type: match machine_type {
            Type::Standard => cairn_asl::validate::MachineType::Standard,
            Type::Express => cairn_asl::validate::MachineType::Express,
        },
    }
}

/// Reads `--input`: JSON text or `@FILE`. The error is StartExecution's
/// `InvalidExecutionInput` message.
fn read_input(arg: Option<&str>) -> Result<Value, String> {
    let text = match arg {
        None => return Ok(json!({})),
        Some(arg) => match arg.strip_prefix('@') {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|err| format!("cannot read the input file {path}: {err}"))?,
            None => arg.to_owned(),
        },
    };
    serde_json::from_str(&text)
        .map_err(|err| format!("Invalid State Machine Execution Input: '{err}'"))
}

fn rejected(format: Format, error: &str, message: &str) -> anyhow::Result<ExitCode> {
    match format {
        Format::Json => {
            let body = json!({"status": "REJECTED", "error": error, "cause": message});
            println!("{body}");
        }
        Format::Pretty => eprintln!("{error}: {message}"),
    }
    Ok(ExitCode::FAILURE)
}

fn execution_info(args: &Args, region: &str, seed: u64) -> ExecutionInfo {
    let account = &args.account;
    let machine_name = machine_name(&args.file);
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| cairn_runtime::uuid(seed, 1));
    let (machine_type, execution_arn) = match args.machine_type {
        Type::Standard => (
            MachineType::Standard,
            format!("arn:aws:states:{region}:{account}:execution:{machine_name}:{name}"),
        ),
        // Express execution ARNs carry a third part, a UUID.
        Type::Express => (
            MachineType::Express,
            format!(
                "arn:aws:states:{region}:{account}:express:{machine_name}:{name}:{}",
                cairn_runtime::uuid(seed, 0)
            ),
        ),
    };
    ExecutionInfo {
        execution_arn,
        name,
        state_machine_arn: format!("arn:aws:states:{region}:{account}:stateMachine:{machine_name}"),
        state_machine_name: machine_name,
        role_arn: format!("arn:aws:iam::{account}:role/cairn-run"),
        start_time_ms: 0,
        machine_type,
        redrive_count: Some(0),
    }
}

/// The file name without `.json` / `.asl.json`, limited to the characters AWS allows in names.
pub fn machine_name(file: &Path) -> String {
    let stem = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = stem
        .trim_end_matches(".json")
        .trim_end_matches(".asl")
        .to_owned();
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(80)
        .collect();
    if name.is_empty() {
        "StateMachine".to_owned()
    } else {
        name
    }
}

fn clock_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    // Fold the 128-bit nanosecond count; the process id separates two runs in one instant.
    (nanos as u64) ^ ((nanos >> 64) as u64) ^ u64::from(std::process::id()).rotate_left(32)
}

fn print_json(run: &RunResult, with_history: bool) -> anyhow::Result<()> {
    let mut body = serde_json::Map::new();
    body.insert("status".into(), run.status.as_aws_str().into());
    if let Some(output) = &run.output {
        body.insert("output".into(), Value::clone(output));
    }
    if let Some(error) = &run.error {
        body.insert("error".into(), error.clone().into());
    }
    if let Some(cause) = &run.cause {
        body.insert("cause".into(), cause.clone().into());
    }
    if with_history {
        let events: Vec<Value> = run.history.iter().map(HistoryEvent::to_aws_json).collect();
        body.insert("history".into(), Value::Array(events));
    }
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer(&mut stdout, &Value::Object(body))?;
    writeln!(stdout)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_is_json_text_or_a_file() {
        assert_eq!(read_input(None), Ok(json!({})));
        assert_eq!(read_input(Some("[1, 2]")), Ok(json!([1, 2])));
        let err = read_input(Some("{'not': 'json'}")).unwrap_err();
        assert!(
            err.starts_with("Invalid State Machine Execution Input: '"),
            "{err}"
        );
        let path =
            std::env::temp_dir().join(format!("cairn-run-input-{}.json", std::process::id()));
        std::fs::write(&path, r#"{"from": "file"}"#).unwrap();
        let arg = format!("@{}", path.display());
        assert_eq!(read_input(Some(&arg)), Ok(json!({"from": "file"})));
        let _ = std::fs::remove_file(&path);
        assert!(read_input(Some("@/no/such/input.json"))
            .unwrap_err()
            .starts_with("cannot read the input file"));
    }

    #[test]
    fn machine_names_come_from_the_file_name() {
        assert_eq!(
            machine_name(Path::new("/x/b1_pass_chain.asl.json")),
            "b1_pass_chain"
        );
        assert_eq!(machine_name(Path::new("flow.json")), "flow");
        assert_eq!(machine_name(Path::new("my flow!.json")), "my-flow-");
        assert_eq!(machine_name(Path::new("")), "StateMachine");
    }
}
