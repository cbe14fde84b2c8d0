//! `cairn test`: runs suites of test cases against state machines, with mocked Task states
//! (AWS Step Functions Local's mocked-response format), and reports failures with a diff,
//! JUnit XML and coverage (states, Choice branches, Retry and Catch clauses).
//!
//! A suite is a JSON file, or YAML of the same shape (`.yaml`/`.yml`):
//!
//! ```json
//! {"machine": "flow.asl.json", "mockConfig": "MockConfigFile.json",
//!  "cases": [{"name": "happy", "input": {}, "testCase": "HappyPath",
//!             "mocks": {"State": {"0": {"Return": {}}}},
//!             "expect": {"status": "SUCCEEDED", "output": {}, "outputIncludes": {},
//!                        "error": "E", "cause": "C", "states": ["A", "B"],
//!                        "variables": {"A": {"x": 1}}, "attempts": {"A": 2}}}]}
//! ```
//!
//! Paths are relative to the suite file.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{bail, Context as _};
use cairn_interpreter::{ExecutionInfo, Machine, MachineType};
use cairn_runtime::{
    run_to_completion, MockInvoker, MockedResponse, RunOptions, RunResult, TaskDone, TaskInvoker,
    TaskOutcome, TaskRequest, TestCase, TimeMode,
};
use serde_json::{json, Map, Value};

#[derive(clap::Args)]
pub struct Args {
    /// Suite files (JSON, or YAML when named .yaml/.yml).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Write a JUnit XML report here (one testsuite per suite file).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the coverage report here as JSON (a text summary is always printed).
    #[arg(long, value_name = "FILE")]
    pub coverage: Option<PathBuf>,
    /// Let timers take real time instead of firing at once in logical time.
    #[arg(long)]
    pub real_time: bool,
    /// Region in the ARNs of the executions.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
}

/// One case's outcome.
struct CaseReport {
    name: String,
    millis: u128,
    failures: Vec<String>,
}

struct SuiteReport {
    file: String,
    cases: Vec<CaseReport>,
}

pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let integrations: Arc<dyn TaskInvoker> = Arc::new(crate::integrations(&args.region)?);
    let mut machines = Machines::default();
    let mut suites = Vec::new();
    for file in &args.files {
        let report = run_suite(file, &args, &integrations, &mut machines)?;
        suites.push(report);
    }

    let (mut passed, mut failed) = (0usize, 0usize);
    for suite in &suites {
        println!("{}", suite.file);
        for case in &suite.cases {
            if case.failures.is_empty() {
                passed += 1;
                println!("  ok    {} ({} ms)", case.name, case.millis);
            } else {
                failed += 1;
                println!("  FAIL  {} ({} ms)", case.name, case.millis);
                for failure in &case.failures {
                    for line in failure.lines() {
                        println!("        {line}");
                    }
                }
            }
        }
    }
    println!();
    for (path, coverage) in &machines.coverage {
        print!("{}", coverage.summary(path));
    }
    // Not "N passed, N failed" alone on a line: a suite that fails on purpose must not
    // read as a failing test run to tools that scan logs for runners' closing lines.
    println!(
        "cairn test: {} of {} cases passed, {failed} failed",
        passed,
        passed + failed
    );

    if let Some(path) = &args.junit {
        std::fs::write(path, junit(&suites))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.coverage {
        let body: Map<String, Value> = machines
            .coverage
            .iter()
            .map(|(path, coverage)| (path.clone(), coverage.to_json()))
            .collect();
        let text = serde_json::to_string_pretty(&json!({ "machines": body }))?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The machines the suites use, compiled once, and what the cases covered of each.
#[derive(Default)]
struct Machines {
    loaded: HashMap<PathBuf, (Arc<Machine>, Value)>,
    coverage: BTreeMap<String, Coverage>,
}

impl Machines {
    fn load(&mut self, path: &Path) -> anyhow::Result<(Arc<Machine>, Value)> {
        if let Some(found) = self.loaded.get(path) {
            return Ok(found.clone());
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let definition: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let report =
            cairn_asl::validate::validate(&definition, &cairn_asl::validate::Options::default());
        if let Some(message) = report.message() {
            bail!("{}: {message}", path.display());
        }
        let machine = Machine::from_json(&definition)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let found = (Arc::new(machine), definition);
        self.loaded.insert(path.to_path_buf(), found.clone());
        self.coverage
            .entry(path.display().to_string())
            .or_insert_with(|| Coverage::new(&found.1));
        Ok(found)
    }
}

fn run_suite(
    file: &Path,
    args: &Args,
    integrations: &Arc<dyn TaskInvoker>,
    machines: &mut Machines,
) -> anyhow::Result<SuiteReport> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let suite = parse_suite(file, &text)?;
    let dir = file.parent().unwrap_or(Path::new("."));
    let cases = suite
        .get("cases")
        .and_then(Value::as_array)
        .with_context(|| format!("{}: a suite needs a \"cases\" array", file.display()))?;
    let mut reports = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let name = case
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| format!("case {}", index + 1), str::to_owned);
        let started = Instant::now();
        let failures = match run_case(&suite, case, dir, args, integrations, machines) {
            Ok(failures) => failures,
            Err(error) => vec![format!("error: {error:#}")],
        };
        reports.push(CaseReport {
            name,
            millis: started.elapsed().as_millis(),
            failures,
        });
    }
    Ok(SuiteReport {
        file: file.display().to_string(),
        cases: reports,
    })
}

/// A suite file: YAML when its name says so (`.yaml`, `.yml`), else JSON.
fn parse_suite(file: &Path, text: &str) -> anyhow::Result<Value> {
    let yaml = file.extension().is_some_and(|e| e == "yaml" || e == "yml");
    if yaml {
        serde_norway::from_str(text).with_context(|| format!("{} is not YAML", file.display()))
    } else {
        serde_json::from_str(text).with_context(|| format!("{} is not JSON", file.display()))
    }
}

/// A field of the case, else of the suite.
fn field<'a>(suite: &'a Value, case: &'a Value, key: &str) -> Option<&'a Value> {
    case.get(key).or_else(|| suite.get(key))
}

fn text_field(suite: &Value, case: &Value, key: &str) -> anyhow::Result<Option<String>> {
    match field(suite, case, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => bail!("\"{key}\" must be a string, not {other}"),
    }
}

fn run_case(
    suite: &Value,
    case: &Value,
    dir: &Path,
    args: &Args,
    integrations: &Arc<dyn TaskInvoker>,
    machines: &mut Machines,
) -> anyhow::Result<Vec<String>> {
    let machine_path = dir
        .join(text_field(suite, case, "machine")?.context("the case names no \"machine\" file")?);
    let (machine, _) = machines.load(&machine_path)?;
    let machine_name = text_field(suite, case, "stateMachineName")?
        .unwrap_or_else(|| crate::run::machine_name(&machine_path));

    let mut mocks = match text_field(suite, case, "testCase")? {
        Some(test_case) => {
            let config_path = text_field(suite, case, "mockConfig")?
                .map(|p| dir.join(p))
                .context("\"testCase\" needs a \"mockConfig\" file")?;
            let config = crate::run::load_mock_config(Some(&config_path))?;
            config.test_case(&machine_name, &test_case)?
        }
        None => TestCase::new("inline", BTreeMap::new()),
    };
    if let Some(inline) = case.get("mocks") {
        let inline = inline
            .as_object()
            .context("\"mocks\" must map state names to mocked responses")?;
        for (state, response) in inline {
            mocks.insert(state.clone(), MockedResponse::from_json(state, response)?);
        }
    }
    let counter = Arc::new(Attempts::new(Arc::new(MockInvoker::new(
        Arc::clone(integrations),
        mocks,
    ))));

    let machine_type = match text_field(suite, case, "type")?.as_deref() {
        None | Some("STANDARD") => MachineType::Standard,
        Some("EXPRESS") => MachineType::Express,
        Some(other) => bail!("\"type\" must be STANDARD or EXPRESS, not {other}"),
    };
    let region = &args.region;
    let account = "123456789012";
    let execution = "test";
    let info = ExecutionInfo {
        execution_arn: format!(
            "arn:aws:states:{region}:{account}:execution:{machine_name}:{execution}"
        ),
        name: execution.to_owned(),
        state_machine_arn: format!("arn:aws:states:{region}:{account}:stateMachine:{machine_name}"),
        state_machine_name: machine_name.clone(),
        role_arn: format!("arn:aws:iam::{account}:role/cairn-test"),
        start_time_ms: 0,
        machine_type,
        redrive_count: Some(0),
    };
    let options = RunOptions {
        info,
        time: if args.real_time {
            TimeMode::Real
        } else {
            TimeMode::Virtual
        },
        // A fixed start and seed: a case gives the same history every time.
        start_time_ms: Some(1_700_000_000_000),
        seed: 13,
        ..RunOptions::default()
    };
    let input = case.get("input").cloned().unwrap_or_else(|| json!({}));
    let invoker: Arc<dyn TaskInvoker> = counter.clone();
    let run = run_to_completion(&machine, input, invoker, &options)?;
    let history = run.history_json();
    if let Some(coverage) = machines
        .coverage
        .get_mut(&machine_path.display().to_string())
    {
        coverage.record(&history);
    }
    let expect = case.get("expect").cloned().unwrap_or(Value::Null);
    Ok(check(&expect, &run, &history, &counter.counts()))
}

/// Counts the calls of each state (a retried state is called once per attempt).
struct Attempts {
    inner: Arc<dyn TaskInvoker>,
    counts: Mutex<BTreeMap<String, u64>>,
}

impl Attempts {
    fn new(inner: Arc<dyn TaskInvoker>) -> Attempts {
        Attempts {
            inner,
            counts: Mutex::new(BTreeMap::new()),
        }
    }

    fn count(&self, state: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry(state.to_owned()).or_insert(0) += 1;
    }

    fn counts(&self) -> BTreeMap<String, u64> {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl TaskInvoker for Attempts {
    fn invoke(&self, request: &TaskRequest) -> TaskOutcome {
        self.count(&request.state_name);
        self.inner.invoke(request)
    }

    fn start(&self, request: TaskRequest, done: TaskDone) -> Result<(), (TaskRequest, TaskDone)> {
        self.count(&request.state_name);
        self.inner.start(request, done)
    }
}

/// The assertions of `expect` that the run does not meet, each with what differs.
fn check(
    expect: &Value,
    run: &RunResult,
    history: &[Value],
    attempts: &BTreeMap<String, u64>,
) -> Vec<String> {
    let mut failures = Vec::new();
    let Some(expect) = expect.as_object() else {
        return failures;
    };
    let status = run.status.as_aws_str();
    let describe_end = || match (&run.error, &run.cause) {
        (Some(error), Some(cause)) => format!(" (error {error}: {cause})"),
        (Some(error), None) => format!(" (error {error})"),
        _ => String::new(),
    };
    for (key, wanted) in expect {
        match key.as_str() {
            "status" => {
                if wanted.as_str() != Some(status) {
                    failures.push(format!(
                        "status: expected {}, got {status}{}",
                        show(wanted),
                        describe_end()
                    ));
                }
            }
            "error" | "cause" => {
                let got = if key == "error" {
                    &run.error
                } else {
                    &run.cause
                };
                if wanted.as_str() != got.as_deref() {
                    failures.push(format!(
                        "{key}: expected {}, got {}",
                        show(wanted),
                        got.as_deref().map_or("none".into(), |g| show(&json!(g)))
                    ));
                }
            }
            "output" | "outputIncludes" => {
                let subset = key == "outputIncludes";
                match &run.output {
                    None => failures.push(format!(
                        "{key}: the execution has no output (status {status}{})",
                        describe_end()
                    )),
                    Some(output) => {
                        let mut diffs = Vec::new();
                        diff(wanted, output, "$", subset, &mut diffs);
                        if !diffs.is_empty() {
                            failures.push(format!(
                                "{key}: the output differs\n{}\n  expected: {}\n  actual:   {}",
                                diffs.join("\n"),
                                show(wanted),
                                show(output)
                            ));
                        }
                    }
                }
            }
            "states" => {
                let entered = entered_states(history);
                let wanted_names: Vec<&str> = wanted
                    .as_array()
                    .map(|names| names.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if wanted_names != entered {
                    let first = wanted_names
                        .iter()
                        .zip(&entered)
                        .position(|(a, b)| a != b)
                        .unwrap_or(wanted_names.len().min(entered.len()));
                    failures.push(format!(
                        "states: the states entered differ from position {first}\n  expected: {}\n  actual:   {}",
                        wanted_names.join(" → "),
                        entered.join(" → ")
                    ));
                }
            }
            "variables" => {
                let Some(by_state) = wanted.as_object() else {
                    failures.push("variables: expected an object of state → variables".into());
                    continue;
                };
                for (state, vars) in by_state {
                    match variables_after(history, state) {
                        None => {
                            failures.push(format!("variables at {state}: the state was never left"))
                        }
                        Some(actual) => {
                            let mut diffs = Vec::new();
                            diff(vars, &actual, "$", true, &mut diffs);
                            if !diffs.is_empty() {
                                failures.push(format!(
                                    "variables at {state}: they differ\n{}",
                                    diffs.join("\n")
                                ));
                            }
                        }
                    }
                }
            }
            "attempts" => {
                let Some(by_state) = wanted.as_object() else {
                    failures.push("attempts: expected an object of state → number".into());
                    continue;
                };
                for (state, count) in by_state {
                    let got = attempts.get(state).copied().unwrap_or(0);
                    if count.as_u64() != Some(got) {
                        failures.push(format!(
                            "attempts of {state}: expected {}, got {got}",
                            show(count)
                        ));
                    }
                }
            }
            other => failures.push(format!(
                "expect: unknown assertion \"{other}\" (status, output, outputIncludes, error, \
                 cause, states, variables, attempts)"
            )),
        }
    }
    failures
}

fn show(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Where `actual` differs from `expected`, one line per difference with its JSONPath;
/// `subset`: objects in `actual` may have more fields.
fn diff(expected: &Value, actual: &Value, path: &str, subset: bool, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, want) in want {
                let at = format!("{path}.{key}");
                match got.get(key) {
                    Some(got) => diff(want, got, &at, subset, out),
                    None => out.push(format!("  - {at}: missing (expected {})", show(want))),
                }
            }
            if !subset {
                for (key, got) in got {
                    if !want.contains_key(key) {
                        out.push(format!("  + {path}.{key}: unexpected {}", show(got)));
                    }
                }
            }
        }
        (Value::Array(want), Value::Array(got)) if want.len() == got.len() => {
            for (i, (want, got)) in want.iter().zip(got).enumerate() {
                diff(want, got, &format!("{path}[{i}]"), subset, out);
            }
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {}
        _ if expected == actual => {}
        _ => out.push(format!(
            "  ~ {path}: expected {}, got {}",
            show(expected),
            show(actual)
        )),
    }
}

/// The type name of a history event.
fn kind(event: &Value) -> &str {
    event.get("type").and_then(Value::as_str).unwrap_or("")
}

/// The details object of an event (`taskFailedEventDetails`, ...).
fn details(event: &Value) -> Option<&Map<String, Value>> {
    event.as_object()?.iter().find_map(|(key, value)| {
        key.ends_with("EventDetails")
            .then(|| value.as_object())
            .flatten()
    })
}

fn entered_states(history: &[Value]) -> Vec<&str> {
    history
        .iter()
        .filter(|e| kind(e).ends_with("StateEntered"))
        .filter_map(|e| details(e)?.get("name")?.as_str())
        .collect()
}

/// The variables after the last exit of `state`: every assignment up to it, in order.
fn variables_after(history: &[Value], state: &str) -> Option<Value> {
    let mut variables = Map::new();
    let mut seen = false;
    let mut at_exit = None;
    for event in history {
        if !kind(event).ends_with("StateExited") {
            continue;
        }
        let Some(details) = details(event) else {
            continue;
        };
        if let Some(Value::Object(assigned)) = details.get("assignedVariables") {
            for (name, text) in assigned {
                // The history carries each value as JSON text.
                let value = text
                    .as_str()
                    .and_then(|t| serde_json::from_str(t).ok())
                    .unwrap_or_else(|| text.clone());
                variables.insert(name.clone(), value);
            }
        }
        if details.get("name").and_then(Value::as_str) == Some(state) {
            seen = true;
            at_exit = Some(Value::Object(variables.clone()));
        }
    }
    seen.then_some(at_exit).flatten()
}

/// What the suites exercised of one machine.
struct Coverage {
    /// Every state, nested ones included, with how often it was entered.
    states: BTreeMap<String, u64>,
    /// Choice state → times each rule was taken, and the Default (None: no Default).
    choices: BTreeMap<String, (Vec<u64>, Option<u64>)>,
    /// State → times each Retry clause retried, and each Catch clause caught.
    retries: BTreeMap<String, Vec<u64>>,
    catches: BTreeMap<String, Vec<u64>>,
    /// Retry and Catch clauses of Parallel and Map states, which coverage does not track.
    untracked: Vec<String>,
    /// The state definitions by name, for Retry/Catch matching.
    state_defs: BTreeMap<String, Value>,
    query_language: Option<Value>,
}

impl Coverage {
    fn new(definition: &Value) -> Coverage {
        let mut coverage = Coverage {
            states: BTreeMap::new(),
            choices: BTreeMap::new(),
            retries: BTreeMap::new(),
            catches: BTreeMap::new(),
            untracked: Vec::new(),
            state_defs: BTreeMap::new(),
            query_language: definition.get("QueryLanguage").cloned(),
        };
        coverage.collect(definition);
        coverage
    }

    fn collect(&mut self, graph: &Value) {
        let Some(states) = graph.get("States").and_then(Value::as_object) else {
            return;
        };
        for (name, state) in states {
            self.states.insert(name.clone(), 0);
            self.state_defs.insert(name.clone(), state.clone());
            let clauses = |key: &str| state.get(key).and_then(Value::as_array).map_or(0, Vec::len);
            if state.get("Type").and_then(Value::as_str) == Some("Choice") {
                let default = state.get("Default").map(|_| 0);
                self.choices
                    .insert(name.clone(), (vec![0; clauses("Choices")], default));
            }
            let task = state.get("Type").and_then(Value::as_str) == Some("Task");
            for (key, counts) in [("Retry", &mut self.retries), ("Catch", &mut self.catches)] {
                let n = clauses(key);
                if n > 0 && task {
                    counts.insert(name.clone(), vec![0; n]);
                } else {
                    // A Parallel or Map state's history names no error for its failures, so
                    // which of its clauses handled one cannot be told from the history.
                    for i in 0..n {
                        self.untracked
                            .push(format!("{} {name} #{i}", key.to_lowercase()));
                    }
                }
            }
            for branch in state
                .get("Branches")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.collect(branch);
            }
            for key in ["ItemProcessor", "Iterator"] {
                if let Some(processor) = state.get(key) {
                    self.collect(processor);
                }
            }
        }
    }

    /// Adds one execution's history.
    fn record(&mut self, history: &[Value]) {
        // Each event belongs to the state entry its chain of previous events starts from.
        let mut owner: HashMap<i64, (String, i64)> = HashMap::new();
        // Per state entry: how often each retrier has retried.
        let mut retried: HashMap<i64, Vec<u64>> = HashMap::new();
        let mut variables = Map::new();
        for event in history {
            let id = event.get("id").and_then(Value::as_i64).unwrap_or(0);
            let previous = event
                .get("previousEventId")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let event_kind = kind(event);
            let details = details(event);
            if event_kind.ends_with("StateEntered") {
                let name = details
                    .and_then(|d| d.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                if let Some(count) = self.states.get_mut(&name) {
                    *count += 1;
                }
                if event_kind == "ChoiceStateEntered" {
                    let input = details
                        .and_then(|d| d.get("input"))
                        .and_then(Value::as_str)
                        .and_then(|t| serde_json::from_str(t).ok())
                        .unwrap_or(Value::Null);
                    self.record_choice(&name, input, &variables);
                }
                owner.insert(id, (name, id));
                continue;
            }
            if event_kind.ends_with("StateExited") {
                if let Some(Value::Object(assigned)) =
                    details.and_then(|d| d.get("assignedVariables"))
                {
                    for (name, text) in assigned {
                        let value = text
                            .as_str()
                            .and_then(|t| serde_json::from_str(t).ok())
                            .unwrap_or_else(|| text.clone());
                        variables.insert(name.clone(), value);
                    }
                }
            }
            let Some((state, entry)) = owner.get(&previous).cloned() else {
                continue;
            };
            owner.insert(id, (state.clone(), entry));
            if !is_task_failure(event_kind) {
                continue;
            }
            let Some(error) = details
                .and_then(|d| d.get("error"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| {
                    event_kind
                        .ends_with("TimedOut")
                        .then(|| "States.Timeout".into())
                })
            else {
                continue;
            };
            let Some(def) = self.state_defs.get(&state) else {
                continue;
            };
            // As the interpreter decides: the first retrier naming the error retries while
            // it has attempts left; then the first catcher naming it catches.
            let retriers = def.get("Retry").and_then(Value::as_array);
            let counts = retried
                .entry(entry)
                .or_insert_with(|| vec![0; retriers.map_or(0, Vec::len)]);
            let matching = retriers.and_then(|list| {
                list.iter()
                    .position(|r| error_matches(r.get("ErrorEquals"), &error))
            });
            if let Some(index) = matching {
                let max = retriers
                    .and_then(|list| list[index].get("MaxAttempts"))
                    .and_then(Value::as_u64)
                    .unwrap_or(3);
                if counts[index] < max {
                    counts[index] += 1;
                    if let Some(total) = self.retries.get_mut(&state) {
                        total[index] += 1;
                    }
                    continue;
                }
            }
            let caught = def.get("Catch").and_then(Value::as_array).and_then(|list| {
                list.iter()
                    .position(|c| error_matches(c.get("ErrorEquals"), &error))
            });
            if let (Some(index), Some(total)) = (caught, self.catches.get_mut(&state)) {
                total[index] += 1;
            }
        }
    }

    /// Which rule of a Choice state the input takes: the Choice runs again alone, its rules
    /// leading to marker states, with the variables it saw assigned first.
    fn record_choice(&mut self, name: &str, input: Value, variables: &Map<String, Value>) {
        let Some(mut choice) = self.state_defs.get(name).cloned() else {
            return;
        };
        let Some(rules) = choice.get_mut("Choices").and_then(Value::as_array_mut) else {
            return;
        };
        let mut states = Map::new();
        for (i, rule) in rules.iter_mut().enumerate() {
            rule["Next"] = json!(format!("cairn:rule:{i}"));
            states.insert(format!("cairn:rule:{i}"), json!({"Type": "Succeed"}));
        }
        if choice.get("Default").is_some() {
            choice["Default"] = json!("cairn:default");
            states.insert("cairn:default".into(), json!({"Type": "Succeed"}));
        }
        states.insert(name.to_owned(), choice);
        let start = if variables.is_empty() {
            name.to_owned()
        } else {
            states.insert(
                "cairn:variables".into(),
                json!({"Type": "Pass", "QueryLanguage": "JSONPath",
                       "Assign": Value::Object(variables.clone()), "Next": name}),
            );
            "cairn:variables".to_owned()
        };
        let mut definition = json!({"StartAt": start, "States": states});
        if let Some(language) = &self.query_language {
            definition["QueryLanguage"] = language.clone();
        }
        let Ok(machine) = Machine::from_json(&definition) else {
            return;
        };
        let Ok(run) = run_to_completion(
            &machine,
            input,
            Arc::new(cairn_runtime::Unsupported),
            &RunOptions::default(),
        ) else {
            return;
        };
        let history = run.history_json();
        let taken = entered_states(&history)
            .into_iter()
            .find(|n| n.starts_with("cairn:rule:") || *n == "cairn:default")
            .map(str::to_owned);
        let Some((rules, default)) = self.choices.get_mut(name) else {
            return;
        };
        match taken.as_deref() {
            Some("cairn:default") => {
                if let Some(count) = default {
                    *count += 1;
                }
            }
            Some(rule) => {
                if let Some(count) = rule
                    .strip_prefix("cairn:rule:")
                    .and_then(|i| i.parse::<usize>().ok())
                    .and_then(|i| rules.get_mut(i))
                {
                    *count += 1;
                }
            }
            None => {}
        }
    }

    fn to_json(&self) -> Value {
        let choices: Map<String, Value> = self
            .choices
            .iter()
            .map(|(name, (rules, default))| {
                let mut entry = json!({ "rules": rules });
                if let Some(default) = default {
                    entry["default"] = json!(default);
                }
                (name.clone(), entry)
            })
            .collect();
        let (covered, total) = self.totals();
        json!({
            "states": self.states,
            "choices": choices,
            "retries": self.retries,
            "catches": self.catches,
            "covered": covered,
            "total": total,
            "missing": self.missing(),
            "untracked": self.untracked,
        })
    }

    /// Everything a suite can exercise, named as the text summary names it.
    fn items(&self) -> Vec<(String, u64)> {
        let mut items = Vec::new();
        for (name, count) in &self.states {
            items.push((format!("state {name}"), *count));
        }
        for (name, (rules, default)) in &self.choices {
            for (i, count) in rules.iter().enumerate() {
                items.push((format!("choice {name} rule {i}"), *count));
            }
            if let Some(count) = default {
                items.push((format!("choice {name} Default"), *count));
            }
        }
        for (name, counts) in &self.retries {
            for (i, count) in counts.iter().enumerate() {
                items.push((format!("retry {name} #{i}"), *count));
            }
        }
        for (name, counts) in &self.catches {
            for (i, count) in counts.iter().enumerate() {
                items.push((format!("catch {name} #{i}"), *count));
            }
        }
        items
    }

    fn totals(&self) -> (usize, usize) {
        let items = self.items();
        (items.iter().filter(|(_, n)| *n > 0).count(), items.len())
    }

    fn missing(&self) -> Vec<String> {
        self.items()
            .into_iter()
            .filter(|(_, n)| *n == 0)
            .map(|(name, _)| name)
            .collect()
    }

    fn summary(&self, path: &str) -> String {
        let count = |pred: &dyn Fn(&str) -> bool| {
            let items: Vec<_> = self.items().into_iter().filter(|(n, _)| pred(n)).collect();
            let covered = items.iter().filter(|(_, n)| *n > 0).count();
            format!("{covered}/{}", items.len())
        };
        let (covered, total) = self.totals();
        let mut text = format!(
            "coverage {path}: {covered}/{total} (states {}, choice branches {}, retry {}, catch {})\n",
            count(&|n| n.starts_with("state ")),
            count(&|n| n.starts_with("choice ")),
            count(&|n| n.starts_with("retry ")),
            count(&|n| n.starts_with("catch ")),
        );
        let missing = self.missing();
        if !missing.is_empty() {
            text.push_str(&format!("  not exercised: {}\n", missing.join(", ")));
        }
        if !self.untracked.is_empty() {
            text.push_str(&format!(
                "  not tracked (Parallel and Map clauses): {}\n",
                self.untracked.join(", ")
            ));
        }
        text
    }
}

/// The failure events of a task, whose error Retry and Catch see.
fn is_task_failure(kind: &str) -> bool {
    matches!(
        kind,
        "TaskFailed"
            | "TaskTimedOut"
            | "TaskStartFailed"
            | "TaskSubmitFailed"
            | "LambdaFunctionFailed"
            | "LambdaFunctionTimedOut"
            | "LambdaFunctionStartFailed"
            | "LambdaFunctionScheduleFailed"
            | "ActivityFailed"
            | "ActivityTimedOut"
            | "ActivityScheduleFailed"
    )
}

/// Whether an ErrorEquals list handles an error of a Task state, as the interpreter
/// decides (`States.Runtime` is never handled; `States.TaskFailed` is every error but the
/// timeouts).
fn error_matches(list: Option<&Value>, error: &str) -> bool {
    if error == "States.Runtime" {
        return false;
    }
    let timeout = matches!(error, "States.Timeout" | "States.HeartbeatTimeout");
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .any(|e| {
            e == error
                || e == "States.ALL"
                || (e == "States.Timeout" && timeout)
                || (e == "States.TaskFailed" && !timeout)
        })
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 allows no other control characters.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => out.push(c),
        }
    }
    out
}

fn junit(suites: &[SuiteReport]) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for suite in suites {
        let failures = suite
            .cases
            .iter()
            .filter(|c| !c.failures.is_empty())
            .count();
        let seconds: u128 = suite.cases.iter().map(|c| c.millis).sum();
        xml.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{:.3}\">\n",
            xml_escape(&suite.file),
            suite.cases.len(),
            seconds as f64 / 1000.0
        ));
        for case in &suite.cases {
            xml.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                xml_escape(&suite.file),
                xml_escape(&case.name),
                case.millis as f64 / 1000.0
            ));
            if case.failures.is_empty() {
                xml.push_str("/>\n");
            } else {
                let first = case.failures[0].lines().next().unwrap_or("");
                xml.push_str(&format!(
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                    xml_escape(first),
                    xml_escape(&case.failures.join("\n"))
                ));
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_name_each_path_and_subsets_ignore_extra_fields() {
        let mut out = Vec::new();
        diff(
            &json!({"a": 1, "b": {"c": [1, 2]}}),
            &json!({"a": 2, "b": {"c": [1, 3], "d": true}}),
            "$",
            false,
            &mut out,
        );
        assert_eq!(
            out,
            vec![
                "  ~ $.a: expected 1, got 2",
                "  ~ $.b.c[1]: expected 2, got 3",
                "  + $.b.d: unexpected true"
            ]
        );
        let mut out = Vec::new();
        diff(
            &json!({"b": {}}),
            &json!({"b": {"d": 1}, "e": 2}),
            "$",
            true,
            &mut out,
        );
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn junit_escapes_and_counts_failures() {
        let xml = junit(&[SuiteReport {
            file: "s.json".into(),
            cases: vec![
                CaseReport {
                    name: "a<b".into(),
                    millis: 5,
                    failures: vec![],
                },
                CaseReport {
                    name: "c".into(),
                    millis: 1,
                    failures: vec!["status: expected \"X\"".into()],
                },
            ],
        }]);
        assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
        assert!(xml.contains("name=\"a&lt;b\""), "{xml}");
        assert!(
            xml.contains("message=\"status: expected &quot;X&quot;\""),
            "{xml}"
        );
    }

    #[test]
    fn parallel_and_map_clauses_are_listed_as_untracked_not_as_missed() {
        let coverage = Coverage::new(&json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Branches": [{"StartAt": "T", "States": {
                "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                      "Retry": [{"ErrorEquals": ["States.ALL"]}], "End": true}}}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "D"}], "Next": "D"},
            "D": {"Type": "Succeed"}}}));
        assert_eq!(coverage.untracked, vec!["catch P #0"]);
        assert_eq!(coverage.retries.get("T"), Some(&vec![0]));
        assert!(coverage.missing().contains(&"retry T #0".to_owned()));
        assert!(!coverage.missing().iter().any(|m| m.contains(" P #")));
    }

    #[test]
    fn retry_and_catch_matching_follows_the_interpreter() {
        assert!(error_matches(Some(&json!(["States.ALL"])), "Lambda.X"));
        assert!(!error_matches(
            Some(&json!(["States.ALL"])),
            "States.Runtime"
        ));
        assert!(!error_matches(
            Some(&json!(["States.TaskFailed"])),
            "States.Timeout"
        ));
        assert!(error_matches(
            Some(&json!(["States.Timeout"])),
            "States.HeartbeatTimeout"
        ));
        assert!(!error_matches(Some(&json!(["A"])), "B"));
    }
}
