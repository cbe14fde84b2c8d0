//! Running one recorded execution and judging it: what the executions replay and the services
//! replay share (how a case is started, which functions play its Lambda tasks, and how its
//! result and history are compared with the recording).

use std::sync::mpsc;
use std::time::Duration;

use cairn_interpreter::{ExecutionInfo, MachineType};
use cairn_runtime::{RunOptions, RunResult, ScriptedLambda, TimeMode};
use serde_json::Value;

use crate::compare::{HistoryMode, Matcher, Mismatch, SkipPaths};
use crate::known::Outcome;

/// What became of one case, with which of its parts matched.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub outcome: Outcome,
    /// Whether a recorded history was compared, and whether it matched.
    pub history: Option<bool>,
    /// Whether status, output, error and cause matched (when the case ran).
    pub result: Option<bool>,
    /// Whether the step-by-step run gave the identical history (when the case ran).
    pub deterministic: Option<bool>,
}

impl Verdict {
    pub fn skipped(reason: impl Into<String>) -> Verdict {
        Verdict {
            outcome: Outcome::Skipped(reason.into()),
            history: None,
            result: None,
            deterministic: None,
        }
    }
    pub fn failed(reason: impl Into<String>) -> Verdict {
        Verdict {
            outcome: Outcome::Failed(reason.into()),
            history: None,
            result: None,
            deterministic: None,
        }
    }
}

/// Judges a case on a separate thread, so a case that hangs or panics is reported as a
/// failure instead of stopping the run.
pub fn with_time_limit(
    name: &str,
    limit: Duration,
    judge: impl FnOnce() -> Verdict + Send + 'static,
) -> Verdict {
    let (sender, receiver) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(name.to_owned())
        .stack_size(64 * 1024 * 1024)
        .spawn(move || {
            let verdict = std::panic::catch_unwind(std::panic::AssertUnwindSafe(judge))
                .unwrap_or_else(|panic| {
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_default();
                    Verdict::failed(format!("panicked: {message}"))
                });
            let _ = sender.send(verdict);
        });
    if let Err(err) = spawned {
        return Verdict::failed(format!("could not start a thread: {err}"));
    }
    match receiver.recv_timeout(limit) {
        Ok(verdict) => verdict,
        Err(_) => Verdict::failed(format!("did not finish within {limit:?}")),
    }
}

/// The recordings' functions live in the corpus's account and region.
pub fn corpus_lambda(functions: &Value) -> Result<ScriptedLambda, cairn_runtime::ScriptError> {
    ScriptedLambda::from_json(functions, "us-east-1", "111111111111")
}

/// A case's `lambda_functions`, each completed with what its handler file is known to do
/// (tests/fixtures/lambda-handlers.json) where the description alone would mislead.
pub fn playable_functions(case: &Value) -> Value {
    static HANDLERS: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    let handlers = HANDLERS.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/lambda-handlers.json");
        let text = std::fs::read_to_string(path).expect("tests/fixtures/lambda-handlers.json");
        serde_json::from_str(&text).expect("lambda-handlers.json is JSON")
    });
    let mut functions = case
        .get("lambda_functions")
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    for function in functions.as_array_mut().into_iter().flatten() {
        let file = function
            .get("handler_file")
            .and_then(Value::as_str)
            .and_then(|path| path.rsplit('/').next())
            .unwrap_or_default();
        if let (Some(known), Some(function)) = (
            handlers.get(file).and_then(Value::as_object),
            function.as_object_mut(),
        ) {
            for (key, value) in known.iter().filter(|(k, _)| !k.starts_with('_')) {
                function.insert(key.clone(), value.clone());
            }
        }
    }
    functions
}

pub fn run_options(case: &Value) -> RunOptions {
    let machine_type = match case.get("state_machine_type").and_then(Value::as_str) {
        Some("EXPRESS") => MachineType::Express,
        _ => MachineType::Standard,
    };
    let name = "ConformanceMachine";
    let execution = "conformance-execution";
    let info = ExecutionInfo {
        // Express execution ARNs carry a third part, a UUID.
        execution_arn: if machine_type == MachineType::Express {
            format!(
                "arn:aws:states:us-east-1:111111111111:express:{name}:{execution}:6a1ac3f4-1d2b-4c5e-9f80-2b7d1e3a4c5d"
            )
        } else {
            format!("arn:aws:states:us-east-1:111111111111:execution:{name}:{execution}")
        },
        name: execution.to_owned(),
        state_machine_arn: format!("arn:aws:states:us-east-1:111111111111:stateMachine:{name}"),
        state_machine_name: name.to_owned(),
        role_arn: "arn:aws:iam::111111111111:role/cairn-conformance".to_owned(),
        start_time_ms: 0,
        machine_type,
        // AWS shows no RedriveCount to synchronous Express executions.
        redrive_count: (case.get("start_api").and_then(Value::as_str)
            != Some("start_sync_execution"))
        .then_some(0),
    };
    // The one ABORTED recording is StopExecution called while the execution waited.
    let aborted = case.pointer("/expected/status").and_then(Value::as_str) == Some("ABORTED");
    RunOptions {
        info,
        time: TimeMode::Virtual,
        start_time_ms: Some(recorded_at_ms(case)),
        seed: 42,
        stop_after_ms: aborted.then_some(1000),
        ..RunOptions::default()
    }
}

/// `meta.recorded_date` ("06-11-2025, 12:31:08", day first) as epoch milliseconds, so Wait
/// states with timestamps see the time the recording saw. Falls back to a fixed instant.
pub fn recorded_at_ms(case: &Value) -> i64 {
    const FALLBACK: i64 = 1_762_430_400_000;
    let Some(text) = case.pointer("/meta/recorded_date").and_then(Value::as_str) else {
        return FALLBACK;
    };
    let numbers: Vec<i64> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    let [day, month, year, hour, minute, second] = numbers.as_slice() else {
        return FALLBACK;
    };
    let (Ok(month), Ok(day)) = (u32::try_from(*month), u32::try_from(*day)) else {
        return FALLBACK;
    };
    cairn_common::civil::days_from_civil(*year, month, day) * 86_400_000
        + (hour * 3600 + minute * 60 + second) * 1000
}

/// How an execution ended, in the API's terms: what a recording is compared with.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// `SUCCEEDED`, `FAILED`, ...
    pub status: String,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// GetExecutionHistory's events.
    pub history: Vec<Value>,
}

impl Observed {
    pub fn of_run(run: &RunResult) -> Observed {
        Observed {
            status: run.status.as_aws_str().to_owned(),
            output: run.output.as_deref().cloned(),
            error: run.error.clone(),
            cause: run.cause.clone(),
            history: run.history_json(),
        }
    }
}

/// Compares an execution with the case's recording: status, output, error, cause and history.
pub fn compare(case: &Value, expected: &Value, run: &Observed) -> Verdict {
    let meta = case.get("meta").cloned().unwrap_or(Value::Null);
    let clock_dependent =
        meta.get("input_matches_history").and_then(Value::as_str) == Some("differs");
    // CAIRN_STRICT=1 also verifies the fields AWS's recording tool skipped.
    let skip = if std::env::var_os("CAIRN_STRICT").is_some() {
        SkipPaths::default()
    } else {
        SkipPaths::of_case(case)
    };
    let mut matcher = Matcher::new(skip);
    let mut problems = Vec::new();

    let want_status = expected.get("status").and_then(Value::as_str).unwrap_or("");
    let got_status = run.status.as_str();
    if want_status != got_status {
        let why = match (&run.error, &run.cause) {
            (Some(error), Some(cause)) => format!(" ({error}: {cause})"),
            (Some(error), None) => format!(" ({error})"),
            _ => String::new(),
        };
        problems.push(format!(
            "status: expected {want_status}, got {got_status}{why}"
        ));
    }
    match (expected.get("error"), &run.error) {
        (Some(want), Some(got)) => {
            if let Err(m) = matcher.match_value(want, &Value::String(got.clone())) {
                problems.push(format!("error {m}"));
            }
        }
        (Some(want), None) => problems.push(format!("error: expected {want}, got none")),
        (None, Some(got)) if want_status == got_status => {
            problems.push(format!("error: expected none, got {got:?}"))
        }
        _ => {}
    }
    if !clock_dependent {
        match (expected.get("cause"), &run.cause) {
            (Some(want), Some(got)) => {
                let got = Value::String(got.clone());
                let parsed = expected
                    .get("cause_is_parsed_json_text")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let result = if parsed {
                    matcher.match_json_text(want, &got)
                } else {
                    matcher.match_value(want, &got)
                };
                if let Err(m) = result {
                    problems.push(format!("cause {m}"));
                }
            }
            (Some(want), None) => problems.push(format!("cause: expected {want}, got none")),
            _ => {}
        }
        if let Some(want) = expected.get("output") {
            let unparsed = expected
                .get("output_is_unparsed_text")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let result = match &run.output {
                Some(got) if unparsed => matcher.match_value(want, &Value::String(got.to_string())),
                Some(got) => matcher.match_value(want, got),
                None => Err(Mismatch {
                    path: "$".to_owned(),
                    expected: want.to_string(),
                    actual: "(no output)".to_owned(),
                }),
            };
            if let Err(m) = result {
                problems.push(format!("output {m}"));
            }
        }
    }
    let result_ok = problems.is_empty();

    let history = case.get("history").and_then(Value::as_array);
    let history_ok = history.map(|recorded| {
        let normalised = meta
            .get("history_parallel_normalised")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mode = HistoryMode::new(clock_dependent, normalised);
        match matcher.match_history(recorded, &run.history, mode) {
            Ok(()) => true,
            Err(m) => {
                problems.push(format!("history {m}"));
                false
            }
        }
    });

    Verdict {
        outcome: if problems.is_empty() {
            Outcome::Passed
        } else {
            Outcome::Failed(problems.join("; "))
        },
        history: history_ok,
        result: Some(result_ok),
        deterministic: None,
    }
}
