//! Replays the AWS recordings that only need this crate: executions made of Pass,
//! Choice, Succeed and Fail states (JSONPath, no variables), and TestState calls on
//! Pass/Choice states without mocks, comparing outputs, next states, the
//! after-InputPath/Parameters/ResultPath snapshots and failure causes.

use cairn_dataflow::{
    apply_input_path, apply_output_path, apply_result_path, ChoiceRule, DataflowError, Entropy,
    PathSetting, PayloadTemplate, Scope,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("CAIRN_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        });
    dir.is_dir().then_some(dir)
}

struct NoEntropy;
impl Entropy for NoEntropy {
    fn uuid(&mut self) -> String {
        "00000000-0000-4000-8000-000000000000".into()
    }
    fn random_u64(&mut self) -> u64 {
        0
    }
}

#[derive(Debug, Default)]
struct Trace {
    after_input_path: Option<Value>,
    after_parameters: Option<Value>,
    after_result_selector: Option<Value>,
    after_result_path: Option<Value>,
}

enum Outcome {
    Next(Option<String>, Value),
    Failed(DataflowError),
}

fn compile_err(e: cairn_dataflow::CompileError) -> String {
    format!("compile: {e}")
}

/// Runs one state. `Err` means the state uses something outside this crate.
fn run_state(
    state: &Value,
    input: &Value,
    context: &Value,
    vars: &mut Map<String, Value>,
    trace: &mut Trace,
) -> Result<Outcome, String> {
    let snapshot = vars.clone();
    let base = Scope {
        input: context,
        context,
        variables: &snapshot,
    };
    let scope = |v| base.with_input(v);
    let base2 = base;
    // JSONPath Assign: every value is computed from the variables as they were
    // before the state, then all are assigned at once.
    let mut assign = |template: Option<&Value>, dollar: &Value| -> Result<(), DataflowError> {
        let Some(t) = template else { return Ok(()) };
        let t = PayloadTemplate::compile(t)
            .map_err(|e| DataflowError::new("compile", e.to_string()))?;
        if let Value::Object(values) = t.evaluate(&base2.with_input(dollar), &mut NoEntropy)? {
            vars.extend(values);
        }
        Ok(())
    };
    let ty = state["Type"].as_str().unwrap_or_default();
    let input_path = PathSetting::input_or_output(state.get("InputPath")).map_err(compile_err)?;
    let output_path = PathSetting::input_or_output(state.get("OutputPath")).map_err(compile_err)?;
    let next = state.get("Next").and_then(Value::as_str).map(str::to_owned);
    macro_rules! tri {
        ($e:expr) => {
            match $e {
                Ok(v) => v,
                Err(e) => return Ok(Outcome::Failed(e)),
            }
        };
    }
    match ty {
        "Pass" => {
            let effective = tri!(apply_input_path(&input_path, &scope(input)));
            trace.after_input_path = Some(effective.clone());
            let effective = match state.get("Parameters") {
                Some(p) => {
                    let t = PayloadTemplate::compile(p).map_err(compile_err)?;
                    let v = tri!(t.evaluate(&scope(&effective), &mut NoEntropy));
                    trace.after_parameters = Some(v.clone());
                    v
                }
                // TestState reports afterParameters even when there are none.
                None => {
                    trace.after_parameters = Some(effective.clone());
                    effective
                }
            };
            let result = state.get("Result").cloned().unwrap_or(effective);
            trace.after_result_selector = Some(result.clone());
            tri!(assign(state.get("Assign"), &result));
            let rp = PathSetting::result(state.get("ResultPath")).map_err(compile_err)?;
            let after = tri!(apply_result_path(&rp, input, result));
            trace.after_result_path = Some(after.clone());
            let out = tri!(apply_output_path(&output_path, &scope(&after)));
            Ok(Outcome::Next(next, out))
        }
        "Succeed" => {
            let effective = tri!(apply_input_path(&input_path, &scope(input)));
            let out = tri!(apply_output_path(&output_path, &scope(&effective)));
            Ok(Outcome::Next(None, out))
        }
        "Choice" => {
            let effective = tri!(apply_input_path(&input_path, &scope(input)));
            trace.after_input_path = Some(effective.clone());
            let mut chosen = None;
            for rule in state["Choices"].as_array().cloned().unwrap_or_default() {
                let compiled = ChoiceRule::compile(&rule).map_err(compile_err)?;
                if tri!(compiled.matches(&scope(&effective))) {
                    chosen = compiled.next().map(str::to_owned);
                    tri!(assign(rule.get("Assign"), &effective));
                    break;
                }
            }
            if chosen.is_none() {
                tri!(assign(state.get("Assign"), &effective));
            }
            let chosen = chosen.or_else(|| {
                state
                    .get("Default")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            let out = tri!(apply_output_path(&output_path, &scope(&effective)));
            match chosen {
                Some(n) => Ok(Outcome::Next(Some(n), out)),
                None => Ok(Outcome::Failed(DataflowError::new(
                    "States.NoChoiceMatched",
                    "No Matches!",
                ))),
            }
        }
        "Fail" => {
            let field = |name: &str| -> Result<Result<String, DataflowError>, String> {
                let Some(src) = state.get(format!("{name}Path")).and_then(Value::as_str) else {
                    return Ok(Ok(state
                        .get(name)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()));
                };
                let f = cairn_dataflow::DynamicField::compile(&format!("{name}Path"), &json!(src))
                    .map_err(|e| e.to_string())?;
                Ok(f.evaluate(&scope(input), &mut NoEntropy)
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            };
            let error = tri!(field("Error")?);
            let cause = tri!(field("Cause")?);
            Ok(Outcome::Failed(DataflowError::new(error, cause)))
        }
        other => Err(format!("state type {other}")),
    }
}

/// The context object of a standard execution, with the corpus's normalised
/// names and times.
fn context_object(input: &Value, state: &str) -> Value {
    json!({
        "Execution": {
            "Id": "arn:<partition>:states:<region>:111111111111:execution:<ArnPart_0idx>:<ExecArnPart_0idx>",
            "Input": input,
            "StartTime": "date",
            "Name": "<ExecArnPart_0idx>",
            "RoleArn": "snf_role_arn",
            "RedriveCount": 0
        },
        "StateMachine": {
            "Id": "arn:<partition>:states:<region>:111111111111:stateMachine:<ArnPart_0idx>",
            "Name": "<ArnPart_0idx>"
        },
        "State": {"Name": state, "EnteredTime": "date"}
    })
}

/// Equality where the corpus's normalised times match any string.
fn same(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::String(e), Value::String(_))
            if matches!(
                e.as_str(),
                "date" | "start-time" | "entered-time" | "timestamp" | "datetime"
            ) =>
        {
            true
        }
        (Value::Object(e), Value::Object(a)) => {
            e.len() == a.len()
                && e.iter()
                    .all(|(k, v)| a.get(k).is_some_and(|av| same(v, av)))
        }
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(x, y)| same(x, y))
        }
        _ => expected == actual,
    }
}

/// Strips AWS's `An error occurred while executing the state 'X' (entered at the event id #N). ` prefix.
fn strip_prefix(cause: &str) -> &str {
    if cause.starts_with("An error occurred while executing the state '") {
        if let Some(i) = cause.find("). ") {
            return &cause[i + 3..];
        }
    }
    cause
}

/// `<json-input:1>`-style placeholders stand for any text.
fn cause_matches(expected: &str, actual: &str) -> bool {
    let mut rest = actual;
    let parts: Vec<&str> = expected.split("<json-input:1>").collect();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(pos) = rest.find(part) else {
                return false;
            };
            rest = &rest[pos + part.len()..];
        }
    }
    rest.is_empty()
}

fn uses_unsupported(defn: &Value) -> bool {
    let text = defn.to_string();
    text.contains("JSONata")
}

/// Cases not run, counted by reason.
#[derive(Default)]
struct Skips(BTreeMap<&'static str, usize>);

impl Skips {
    fn add(&mut self, reason: &'static str) {
        *self.0.entry(reason).or_default() += 1;
    }

    fn total(&self) -> usize {
        self.0.values().sum()
    }

    fn print(&self) {
        for (reason, count) in &self.0 {
            eprintln!("  skipped {count:4}: {reason}");
        }
    }
}

/// Why an execution is not replayed here: decided from the recording, before running it.
fn skip_reason(case: &Value) -> Option<&'static str> {
    let defn = &case["definition"];
    let Some(states) = defn["States"].as_object() else {
        return Some("the recording kept no definition");
    };
    let simple = states.values().all(|s| {
        matches!(
            s["Type"].as_str(),
            Some("Pass" | "Choice" | "Succeed" | "Fail")
        )
    });
    let expected = &case["expected"];
    let output = expected["output"].to_string();
    if !simple {
        return Some("uses states other than Pass, Choice, Succeed and Fail (outside this crate)");
    }
    if uses_unsupported(defn) {
        return Some("JSONata (outside this crate)");
    }
    // The context object below imitates a standard execution's normalised ARNs.
    if case["state_machine_type"] == "EXPRESS" {
        return Some("an Express execution (the context object here is a Standard one's)");
    }
    // Outside this crate: input validation at StartExecution, the payload size
    // limit, and recordings whose random output was normalised away.
    if expected["status"] == "START_REJECTED" {
        return Some("StartExecution was rejected (an API check)");
    }
    if expected["error"] == "States.DataLimitExceeded" {
        return Some("the payload size limit (the runtime's check)");
    }
    if output.contains("RandomNumberGenerated") || output.contains("<uuid:") {
        return Some("the recording normalised a random output away");
    }
    None
}

#[test]
fn pass_and_choice_executions_match_aws() {
    let Some(dir) = corpus_dir() else {
        eprintln!(
            "SKIPPED: the conformance corpus is not on this machine (set CAIRN_CONFORMANCE_DIR)"
        );
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(dir.join("executions"))
        .expect("executions dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let (mut passed, mut skipped) = (0, Skips::default());
    let mut failures = Vec::new();
    for file in files {
        let case: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
        if let Some(reason) = skip_reason(&case) {
            skipped.add(reason);
            continue;
        }
        let defn = &case["definition"];
        let states = defn["States"]
            .as_object()
            .expect("skip_reason keeps only definitions with States");
        let expected = &case["expected"];
        let input = case["input"].clone();
        let mut current = defn["StartAt"].as_str().unwrap_or_default().to_owned();
        let mut value = input.clone();
        let mut steps = 0;
        let mut vars = Map::new();
        let outcome = loop {
            steps += 1;
            if steps > 1000 {
                break Err("too many steps".to_owned());
            }
            let Some(state) = states.get(&current) else {
                break Err(format!("no state {current}"));
            };
            let context = context_object(&input, &current);
            match run_state(state, &value, &context, &mut vars, &mut Trace::default()) {
                Err(e) => break Err(e),
                Ok(Outcome::Failed(e)) => break Ok(Err(e)),
                Ok(Outcome::Next(next, out)) => {
                    value = out;
                    let end = state.get("End").and_then(Value::as_bool) == Some(true)
                        || state["Type"] == "Succeed";
                    match next {
                        Some(n) if !end => current = n,
                        _ => break Ok(Ok(value.clone())),
                    }
                }
            }
        };
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        match outcome {
            // Every state here is one this crate runs: not running it is a failure.
            Err(why) => failures.push(format!("{name}: could not run: {why}")),
            Ok(Ok(out)) => {
                if expected["status"] == "SUCCEEDED" && same(&expected["output"], &out) {
                    passed += 1;
                } else {
                    failures.push(format!(
                        "{name}: got output {out:.300}, expected {expected:.300}"
                    ));
                }
            }
            Ok(Err(e)) => {
                let exp_cause = expected["cause"].as_str().unwrap_or_default();
                if expected["status"] == "FAILED"
                    && expected["error"].as_str().unwrap_or_default() == e.error
                    && cause_matches(strip_prefix(exp_cause), &e.cause)
                {
                    passed += 1;
                } else {
                    failures.push(format!("{name}: got {e:.300}, expected {expected:.300}"));
                }
            }
        }
    }
    eprintln!(
        "corpus executions: {passed} passed, {} failed, {} skipped",
        failures.len(),
        skipped.total()
    );
    skipped.print();
    assert!(passed > 300, "only {passed} cases passed");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn test_state_pass_and_choice_match_aws() {
    let Some(dir) = corpus_dir() else {
        eprintln!(
            "SKIPPED: the conformance corpus is not on this machine (set CAIRN_CONFORMANCE_DIR)"
        );
        return;
    };
    let mut passed = 0;
    let mut skipped = Skips::default();
    let mut failures = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir.join("test_state"))
        .expect("test_state dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for file in entries {
        let case: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
        let defn = &case["definition"];
        let skip = if !matches!(defn["Type"].as_str(), Some("Pass" | "Choice")) {
            Some("not a lone Pass or Choice state (tests/tests/test_state_api.rs runs it)")
        } else if case["request"].to_string().to_lowercase().contains("mock") {
            Some("a mocked request (tests/tests/test_state_api.rs runs it)")
        } else if case["expected_raised"] == true {
            Some("a rejected request (tests/tests/test_state_api.rs runs it)")
        } else {
            None
        };
        if let Some(reason) = skip {
            skipped.add(reason);
            continue;
        }
        let input: Value = case["request"]["input"]
            .as_str()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(json!({}));
        let context = json!({"Execution": {"Input": input.clone()}});
        let mut trace = Trace::default();
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let resp = &case["expected_response"];
        let outcome = run_state(defn, &input, &context, &mut Map::new(), &mut trace);
        let shown = match &outcome {
            Ok(Outcome::Next(next, out)) => format!("next {next:?} out {out:.300} trace {trace:?}"),
            Ok(Outcome::Failed(e)) => format!("failed {e}"),
            Err(e) => format!("unsupported {e}"),
        };
        let ok = match outcome {
            Ok(Outcome::Next(next, out)) => {
                let mut ok = resp["output"] == out;
                if let Some(n) = resp.get("nextState") {
                    ok &= n.as_str() == next.as_deref();
                }
                let insp = &resp["inspectionData"];
                for (key, got) in [
                    ("afterInputPath", &trace.after_input_path),
                    ("afterParameters", &trace.after_parameters),
                    ("afterResultSelector", &trace.after_result_selector),
                    ("afterResultPath", &trace.after_result_path),
                ] {
                    if let Some(exp) = insp.get(key) {
                        ok &= got.as_ref() == Some(exp);
                    }
                }
                ok
            }
            _ => false,
        };
        if ok {
            passed += 1;
        } else {
            failures.push(format!("{name}: {shown} expected {resp:.400}"));
        }
    }
    eprintln!(
        "test_state cases: {passed} passed, {} failed, {} skipped",
        failures.len(),
        skipped.total()
    );
    skipped.print();
    assert!(passed >= 10, "only {passed} passed");
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Every JSONPath state of every definition AWS accepted must compile here.
#[test]
fn every_accepted_definition_compiles() {
    let Some(dir) = corpus_dir() else {
        eprintln!(
            "SKIPPED: the conformance corpus is not on this machine (set CAIRN_CONFORMANCE_DIR)"
        );
        return;
    };
    fn walk_states(states: &Map<String, Value>, inherited_jsonata: bool, out: &mut Vec<Value>) {
        for state in states.values() {
            let jsonata = match state.get("QueryLanguage").and_then(Value::as_str) {
                Some(q) => q == "JSONata",
                None => inherited_jsonata,
            };
            if !jsonata {
                out.push(state.clone());
            }
            for key in ["Iterator", "ItemProcessor"] {
                if let Some(sub) = state
                    .get(key)
                    .and_then(|v| v.get("States"))
                    .and_then(Value::as_object)
                {
                    walk_states(sub, jsonata, out);
                }
            }
            for branch in state
                .get("Branches")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(sub) = branch.get("States").and_then(Value::as_object) {
                    walk_states(sub, jsonata, out);
                }
            }
        }
    }
    let mut checked = 0;
    let mut skipped = Skips::default();
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(dir.join("executions")).expect("executions dir") {
        let file = entry.expect("entry").path();
        let case: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
        let defn = &case["definition"];
        let Some(states) = defn["States"].as_object() else {
            skipped.add("the recording kept no definition");
            continue;
        };
        let top_jsonata = defn["QueryLanguage"] == "JSONata";
        let mut found = Vec::new();
        walk_states(states, top_jsonata, &mut found);
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for state in found {
            let mut check = |what: &str, r: Result<(), cairn_dataflow::CompileError>| {
                checked += 1;
                if let Err(e) = r {
                    failures.push(format!("{name}: {what}: {e}"));
                }
            };
            for key in ["Parameters", "ResultSelector", "ItemSelector", "Assign"] {
                if let Some(t) = state.get(key) {
                    check(key, PayloadTemplate::compile(t).map(|_| ()));
                }
            }
            for key in ["InputPath", "OutputPath"] {
                check(
                    key,
                    PathSetting::input_or_output(state.get(key)).map(|_| ()),
                );
            }
            check(
                "ResultPath",
                PathSetting::result(state.get("ResultPath")).map(|_| ()),
            );
            for rule in state
                .get("Choices")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                check("Choices", ChoiceRule::compile(rule).map(|_| ()));
            }
        }
    }
    eprintln!(
        "JSONPath fields of accepted definitions: {} compiled, {} failed; {} definitions skipped",
        checked - failures.len(),
        failures.len(),
        skipped.total()
    );
    skipped.print();
    assert!(checked > 1000, "only {checked} checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
