//! Runs every recorded execution of the AWS conformance corpus through the interpreter and the
//! in-memory run loop, and compares status, output, error, cause and history with what AWS did.
//!
//! Cases whose tasks call Lambda run against in-process functions that behave as the case's
//! `lambda_functions` describe; cases needing other services are skipped (and counted) here
//! and run against the emulators by `services.rs`. Every
//! runnable case also runs step by step (the execution saved to JSON and read back between
//! every two events), which must give the identical history.
//!
//! `tests/known-failures/executions.txt` lists the cases that do not pass yet, each with its
//! reason; they still count as failed in the printed tally. A listed case that passes, or an
//! unlisted case that fails, fails this test. To regenerate the list from the actual results
//! (keeping the reasons written for cases that still fail):
//! `CAIRN_UPDATE_KNOWN_FAILURES=1 cargo test -p cairn-conformance --test executions`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_conformance::corpus::{self, Case};
use cairn_conformance::known::{KnownFailures, Outcome};
use cairn_conformance::replay::{
    compare, corpus_lambda, playable_functions, run_options, with_time_limit, Observed, Verdict,
};
use cairn_interpreter::Machine;
use cairn_runtime::{run_to_completion, RunOptions, RunResult, TaskInvoker};
use serde_json::Value;

/// One case may not take longer than this (the whole corpus must run well under two minutes).
const CASE_TIME_LIMIT: Duration = Duration::from_secs(10);

#[test]
fn executions_match_aws_recordings() {
    let Some(dir) = corpus::locate() else {
        eprintln!(
            "SKIPPED: the conformance corpus is not on this machine (set CAIRN_CONFORMANCE_DIR)"
        );
        return;
    };
    let cases = match corpus::load(&dir, "executions") {
        Ok(cases) => cases,
        Err(err) => panic!("cannot read the corpus: {err}"),
    };
    let known = KnownFailures::read("executions.txt").expect("the known-failures list is valid");

    // CAIRN_CASE=<part of a file stem> runs only the matching cases and shows every problem.
    if let Ok(filter) = std::env::var("CAIRN_CASE") {
        for case in cases.iter().filter(|c| c.key.contains(&filter)) {
            println!("{}: {:?}", case.key, judge_with_time_limit(case).outcome);
        }
        return;
    }

    let started = Instant::now();
    let mut verdicts: Vec<(&Case, Verdict)> = Vec::with_capacity(cases.len());
    for case in &cases {
        verdicts.push((case, judge_with_time_limit(case)));
    }
    let elapsed = started.elapsed();

    print_report(&verdicts, &known, elapsed);

    if KnownFailures::updating() {
        write_known_failures(&verdicts, &known);
        return;
    }

    let mut unexpected_failures = Vec::new();
    let mut unexpected_passes = Vec::new();
    let mut stale = Vec::new();
    let keys: BTreeSet<&str> = cases.iter().map(|c| c.key.as_str()).collect();
    for (case, verdict) in &verdicts {
        let listed = known.contains(&case.key);
        match (&verdict.outcome, listed) {
            (Outcome::Failed(reason), false) => {
                unexpected_failures.push(format!("{}: {reason}", case.key))
            }
            (Outcome::Passed, true) => unexpected_passes.push(case.key.clone()),
            (Outcome::Skipped(_), true) => stale.push(format!("{} (skipped)", case.key)),
            _ => {}
        }
    }
    for key in known.keys() {
        if !keys.contains(key) {
            stale.push(format!("{key} (no such case)"));
        }
    }
    let mut problems = String::new();
    if !unexpected_failures.is_empty() {
        problems.push_str(&format!(
            "\n{} case(s) fail but are not in {}:\n  {}",
            unexpected_failures.len(),
            known.name(),
            unexpected_failures.join("\n  ")
        ));
    }
    if !unexpected_passes.is_empty() {
        problems.push_str(&format!(
            "\n{} listed case(s) now pass: remove them from the known-failures list:\n  {}",
            unexpected_passes.len(),
            unexpected_passes.join("\n  ")
        ));
    }
    if !stale.is_empty() {
        problems.push_str(&format!(
            "\n{} stale known-failures entr(ies):\n  {}",
            stale.len(),
            stale.join("\n  ")
        ));
    }
    assert!(
        problems.is_empty(),
        "{problems}\n(regenerate with CAIRN_UPDATE_KNOWN_FAILURES=1)"
    );
    assert!(
        elapsed < Duration::from_secs(110),
        "the corpus took {elapsed:?}, over the two-minute budget"
    );
}

/// A case that hangs or panics is reported as a failure instead of stopping the run.
fn judge_with_time_limit(case: &Case) -> Verdict {
    let json = case.json.clone();
    with_time_limit(&case.key, CASE_TIME_LIMIT, move || judge(&json))
}

/// Services the in-process mocks can play.
const MOCKED_SERVICES: &[&str] = &["lambda"];

fn judge(case: &Value) -> Verdict {
    let Some(definition) = case.get("definition").filter(|d| !d.is_null()) else {
        return Verdict::skipped("no definition recorded");
    };
    let expected = case.get("expected").cloned().unwrap_or(Value::Null);
    let status = expected.get("status").and_then(Value::as_str).unwrap_or("");
    if status == "START_REJECTED" {
        return Verdict::skipped("StartExecution was rejected (an API check, not an execution)");
    }
    let services: Vec<&str> = case
        .get("needs_services")
        .and_then(Value::as_array)
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let unmocked: Vec<&str> = services
        .iter()
        .copied()
        .filter(|s| !MOCKED_SERVICES.contains(s))
        .collect();
    if !unmocked.is_empty() {
        return Verdict::skipped(format!("needs services: {}", unmocked.join(", ")));
    }
    let functions = playable_functions(case);
    let invoker: Arc<dyn TaskInvoker> = match corpus_lambda(&functions) {
        Ok(functions) => Arc::new(functions),
        Err(err) => return Verdict::skipped(format!("lambda functions not playable: {err}")),
    };

    let machine = match Machine::from_json(definition) {
        Ok(machine) => machine,
        Err(err) => return Verdict::failed(format!("definition did not load: {err}")),
    };
    let input = case.get("input").cloned().unwrap_or(Value::Null);
    let options = run_options(case);
    let run = match run_to_completion(&machine, input.clone(), Arc::clone(&invoker), &options) {
        Ok(run) => run,
        Err(err) => return Verdict::failed(format!("run failed: {err}")),
    };

    let mut verdict = compare(case, &expected, &Observed::of_run(&run));

    // The determinism check: the same run, persisted and resumed between every two events.
    // A fresh invoker, so its request ids start over as the first run's did.
    let invoker: Arc<dyn TaskInvoker> = match corpus_lambda(&functions) {
        Ok(functions) => Arc::new(functions),
        Err(err) => return Verdict::failed(format!("lambda functions not playable: {err}")),
    };
    let stepped_options = RunOptions {
        step_by_step: true,
        ..options
    };
    let determinism = match run_to_completion(&machine, input, invoker, &stepped_options) {
        Ok(stepped) if stepped == run => None,
        Ok(stepped) => Some(first_difference(&run, &stepped)),
        Err(err) => Some(format!("step-by-step run failed: {err}")),
    };
    verdict.deterministic = Some(determinism.is_none());
    if let Some(difference) = determinism {
        verdict.outcome = Outcome::Failed(format!("not deterministic when resumed: {difference}"));
    }
    verdict
}

fn first_difference(a: &RunResult, b: &RunResult) -> String {
    for (i, (x, y)) in a.history.iter().zip(&b.history).enumerate() {
        if x != y {
            return format!(
                "event {} differs: {} vs {}",
                i + 1,
                x.to_aws_json(),
                y.to_aws_json()
            );
        }
    }
    if a.history.len() != b.history.len() {
        return format!("{} vs {} events", a.history.len(), b.history.len());
    }
    format!(
        "result differs: {:?}/{:?}/{:?} vs {:?}/{:?}/{:?}",
        a.status, a.error, a.output, b.status, b.error, b.output
    )
}

fn features(case: &Case) -> Vec<String> {
    case.json
        .get("features")
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn print_report(verdicts: &[(&Case, Verdict)], known: &KnownFailures, elapsed: Duration) {
    #[derive(Default)]
    struct Counts {
        passed: usize,
        failed: usize,
        skipped: usize,
    }
    let mut total = Counts::default();
    let mut by_feature: BTreeMap<String, Counts> = BTreeMap::new();
    let mut skip_reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut known_failed = 0;
    let (mut history_compared, mut history_matched) = (0, 0);
    let (mut results_compared, mut results_matched) = (0, 0);
    let (mut resumed, mut resumed_identical) = (0, 0);
    for (case, verdict) in verdicts {
        let mut feature_list = features(case);
        if feature_list.is_empty() {
            feature_list.push("(none)".to_owned());
        }
        for feature in feature_list {
            let counts = by_feature.entry(feature).or_default();
            match verdict.outcome {
                Outcome::Passed => counts.passed += 1,
                Outcome::Failed(_) => counts.failed += 1,
                Outcome::Skipped(_) => counts.skipped += 1,
            }
        }
        match &verdict.outcome {
            Outcome::Passed => total.passed += 1,
            Outcome::Failed(_) => {
                total.failed += 1;
                known_failed += usize::from(known.contains(&case.key));
            }
            Outcome::Skipped(reason) => {
                total.skipped += 1;
                *skip_reasons.entry(reason.clone()).or_default() += 1;
            }
        }
        if let Some(matched) = verdict.history {
            history_compared += 1;
            history_matched += usize::from(matched);
        }
        if let Some(identical) = verdict.deterministic {
            resumed += 1;
            resumed_identical += usize::from(identical);
        }
        if let Some(matched) = verdict.result {
            results_compared += 1;
            results_matched += usize::from(matched);
        }
    }
    println!("\n== AWS conformance: executions ({elapsed:.1?}) ==");
    // Known failures are failures: the list only keeps them from failing the run.
    println!(
        "cases: {} passed, {} failed ({known_failed} known, listed in {}), {} skipped (of {})",
        total.passed,
        total.failed,
        known.name(),
        total.skipped,
        verdicts.len()
    );
    println!(
        "result (status/output/error/cause) matched: {results_matched} of {results_compared} run"
    );
    println!(
        "history matched: {history_matched} of {history_compared} run with a recorded history"
    );
    println!(
        "determinism: {resumed_identical} of {resumed} runs gave the identical result and history when resumed from JSON between events"
    );
    println!("skipped because:");
    for (reason, count) in &skip_reasons {
        println!("  {count:4}  {reason}");
    }
    println!("by feature (passed / failed / skipped):");
    for (feature, counts) in &by_feature {
        println!(
            "  {:5} {:5} {:5}  {feature}",
            counts.passed, counts.failed, counts.skipped
        );
    }
}

fn write_known_failures(verdicts: &[(&Case, Verdict)], known: &KnownFailures) {
    let failures = verdicts
        .iter()
        .filter_map(|(case, verdict)| match &verdict.outcome {
            Outcome::Failed(reason) => Some((case.key.as_str(), reason.as_str())),
            _ => None,
        });
    let header = "# Execution cases of the AWS corpus that Cairn does not pass yet (file stem # first problem).\n\
         # Generated by CAIRN_UPDATE_KNOWN_FAILURES=1 cargo test -p cairn-conformance --test executions\n";
    match known.rewrite(header, failures) {
        Ok(()) => println!("wrote {}", known.name()),
        Err(err) => panic!("{err}"),
    }
}
