//! Where compiling a definition goes: JSON text to value, validation, the typed model and the
//! compiled machine, on the 1,000-state B1 definition; the least and the median of many runs of
//! each, with the load average beside them (the figures move with the machine's load).
//!
//! `cargo run --release -p cairn-interpreter --example compile_time [-- --runs N] [--only STAGE] [DEFINITION]`
//!
//! `--only STAGE` (parse, serde_parse, validate, typed, compile, from_json, all) repeats one stage for a few
//! seconds without printing figures, for a profiler to watch.

use mimalloc::MiMalloc;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cairn_asl::model::StateMachine;
use cairn_asl::validate::{validate, Options};
use cairn_interpreter::Machine;
use serde_json::Value;

/// mimalloc, the allocator of every shell (cairn serve, the Lambda functions), counting
/// allocations: how many a stage makes is printed beside its times, as allocating is most of
/// what compiling a definition costs. Built with `CAIRN_SYSTEM_ALLOCATOR=1` in the environment,
/// the system allocator instead (the whole process uses one or the other).
struct Counting;

const SYSTEM: bool = option_env!("CAIRN_SYSTEM_ALLOCATOR").is_some();

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
/// Counting only while a stage's allocations are counted: a locked increment on every
/// allocation would slow the timed runs.
static COUNTING: AtomicBool = AtomicBool::new(false);

// SAFETY: every call is passed on unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's layout, as GlobalAlloc::alloc requires.
        unsafe {
            if SYSTEM {
                System.alloc(layout)
            } else {
                MiMalloc.alloc(layout)
            }
        }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr was allocated by the same allocator with this layout.
        unsafe {
            if SYSTEM {
                System.dealloc(ptr, layout)
            } else {
                MiMalloc.dealloc(ptr, layout)
            }
        }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as GlobalAlloc::realloc requires, passed on to the allocator of ptr.
        unsafe {
            if SYSTEM {
                System.realloc(ptr, layout, new_size)
            } else {
                MiMalloc.realloc(ptr, layout, new_size)
            }
        }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations (and reallocations) made by one call of `f`.
fn allocations(mut f: impl FnMut()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    f();
    COUNTING.store(false, Ordering::Relaxed);
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

/// Least and median of `runs` timed calls.
fn measure(mut f: impl FnMut(), runs: usize) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    (times[0], times[runs / 2])
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".into())
}

fn main() {
    let mut runs = 200usize;
    let mut only: Option<String> = None;
    let mut path: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => {
                runs = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .expect("--runs takes a positive number")
            }
            "--only" => only = Some(args.next().expect("--only takes a stage")),
            _ => path = Some(arg),
        }
    }
    let path = path.unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/bench/asl/b1_pass_chain.asl.json"
        )
        .to_owned()
    });
    let text = std::fs::read_to_string(&path).expect("the definition");
    let value: Value = serde_json::from_str(&text).expect("JSON");
    let model = StateMachine::from_value(&value).expect("model");
    let options = Options::default();
    // What a shell does with a definition it is given: parse, validate, compile.
    let all = || {
        let value = cairn_asl::json::parse(&text).unwrap();
        let report = validate(&value, &options);
        assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
        drop(Machine::from_json(&value).unwrap());
    };
    let parse = || drop(cairn_asl::json::parse(&text).unwrap());
    let serde_parse = || drop(serde_json::from_str::<Value>(&text).unwrap());
    let check = || drop(validate(&value, &options));
    let typed = || drop(StateMachine::from_value(&value).unwrap());
    let compile = || drop(Machine::new(&model).unwrap());
    let from_json = || drop(Machine::from_json(&value).unwrap());
    if let Some(stage) = only {
        let f: Box<dyn Fn()> = match stage.as_str() {
            "parse" => Box::new(parse),
            "serde_parse" => Box::new(serde_parse),
            "validate" => Box::new(check),
            "typed" => Box::new(typed),
            "compile" => Box::new(compile),
            "from_json" => Box::new(from_json),
            "all" => Box::new(all),
            other => panic!("no stage {other}"),
        };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            f();
        }
        return;
    }
    println!("{path}");
    println!(
        "allocator: {}; load average before: {}",
        if SYSTEM { "system" } else { "mimalloc" },
        load_average()
    );
    println!(
        "{:<22} {:>12} {:>12} {:>12}  (of {runs} runs)",
        "", "least", "median", "allocations"
    );
    let row = |name: &str, f: &dyn Fn()| {
        let (least, median) = measure(f, runs);
        // In microseconds throughout: Debug's 1.0ms hides the differences that matter here.
        let us = |d: Duration| format!("{:.1}µs", d.as_secs_f64() * 1e6);
        println!(
            "{name:<22} {:>12} {:>12} {:>12}",
            us(least),
            us(median),
            allocations(f)
        )
    };
    row("JSON text -> value", &parse);
    row("  with serde_json", &serde_parse);
    row("  lexing alone", &|| {
        let _ = serde_json::from_str::<serde::de::IgnoredAny>(&text).unwrap();
    });
    row("validate", &check);
    row("value -> typed model", &typed);
    row("typed -> machine", &compile);
    row("value -> machine", &from_json);
    row("text -> machine", &all);
    println!("(JSON text -> value is cairn_asl::json::parse, which validate_str calls; value ->");
    println!(" machine is Machine::from_json, what the shells call; text -> machine is parse +");
    println!(" validate + Machine::from_json in one run, issue 16's figure)");
    println!("load average after: {}", load_average());
}
