//! How long CreateStateMachine's validation takes on the benchmark workloads (B1..B4 from
//! ../shared/bench/asl) and on any other definition files given: the median over many runs of
//! `validate` on an already parsed definition, and of `validate_str` on its text (JSON parsing
//! included). Runs of the workloads alternate, so a burst of load on the machine spreads over
//! all of them instead of landing on one.
//!
//! `cargo run --release -p cairn-asl --example validate_bench [-- --runs N] [FILE...]`

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cairn_asl::validate::{validate, validate_str, Options};
use serde_json::Value;

struct Workload {
    name: String,
    text: String,
    value: Value,
    parsed: Vec<Duration>,
    text_runs: Vec<Duration>,
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let mut runs = 2_000usize;
    let mut files: Vec<PathBuf> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--runs" {
            runs = args
                .next()
                .and_then(|n| n.parse().ok())
                .filter(|&n| n > 0)
                .expect("--runs takes a positive number");
        } else {
            files.push(PathBuf::from(arg));
        }
    }
    if files.is_empty() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/asl");
        for name in [
            "b1_pass_chain",
            "b2_choice_loop",
            "b3_map_10k",
            "b4_many_small",
        ] {
            files.push(dir.join(format!("{name}.asl.json")));
        }
    }
    let options = Options::default();
    let mut workloads: Vec<Workload> = files
        .iter()
        .map(|path| {
            let text =
                std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let file: Value = serde_json::from_str(&text).expect("a JSON definition");
            // A conformance case holds its definition in `definition`.
            let value = match file.get("definition") {
                Some(definition) if definition.is_object() => definition.clone(),
                _ => file,
            };
            let text = serde_json::to_string(&value).expect("serialisable");
            let report = validate(&value, &options);
            // A bench of a rejected definition would time the error path, not the usual one.
            assert!(
                report.is_valid(),
                "{}: {:?}",
                path.display(),
                report.message()
            );
            Workload {
                name: short_name(path),
                text,
                value,
                parsed: Vec::with_capacity(runs),
                text_runs: Vec::with_capacity(runs),
            }
        })
        .collect();
    for _ in 0..runs {
        for workload in &mut workloads {
            let start = Instant::now();
            let report = validate(&workload.value, &options);
            workload.parsed.push(start.elapsed());
            assert!(report.is_valid());
            let start = Instant::now();
            let report = validate_str(&workload.text, &options);
            workload.text_runs.push(start.elapsed());
            assert!(report.is_valid());
        }
    }
    println!(
        "{:<40} {:>7} {:>14} {:>22}",
        "definition", "states", "validate µs", "validate_str µs (text)"
    );
    for workload in &mut workloads {
        let states = count_states(&workload.value);
        let parsed = median(&mut workload.parsed);
        let text = median(&mut workload.text_runs);
        println!(
            "{:<40} {:>7} {:>14.1} {:>22.1}",
            workload.name,
            states,
            parsed.as_secs_f64() * 1e6,
            text.as_secs_f64() * 1e6
        );
    }
    println!("medians of {runs} alternating runs each");
}

/// States in the definition, nested scopes included.
fn count_states(value: &Value) -> usize {
    match value {
        Value::Object(object) => {
            let own = object
                .get("States")
                .and_then(Value::as_object)
                .map_or(0, |states| states.len());
            own + object.values().map(count_states).sum::<usize>()
        }
        Value::Array(items) => items.iter().map(count_states).sum(),
        _ => 0,
    }
}

/// The file name, cut to fit the table (conformance case names run to 90 characters).
fn short_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    match name.char_indices().nth(39) {
        Some((end, _)) => format!("{}…", &name[..end]),
        None => name,
    }
}
