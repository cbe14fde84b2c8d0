//! The team's benchmark workloads (`shared/bench/asl`, see its README) run through the
//! interpreter and the in-memory run loop, history on, each definition parsed once.
//!
//! `cargo run --release -p cairn-runtime --bin cairn-bench [BENCH_DIR] [--quick] [--only B3] [--render] [--samples N]`
//!
//! `--render` also serialises every history event to the JSON text `cairn serve` stores for
//! it (one string per event, [`HistoryEvent::stored_texts`]), and
//! alternates samples with and without that work so both figures come from one window.

use std::alloc::{GlobalAlloc, Layout};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_interpreter::{HistoryEvent, Machine, MachineType, Status};
use cairn_runtime::run::run_lent;
use cairn_runtime::{RunOptions, RunResult, TaskInvoker, Unsupported};
use serde_json::Value;

// The same allocator as the `cairn` binary, so the figures are the ones users get; it
// counts allocations only while a check run asks it to (one untimed run per workload).
#[global_allocator]
static GLOBAL: Counting = Counting;

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed on to mimalloc unchanged; the counter only observes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
}

#[inline]
fn count() {
    // A plain load while not counting: the timed samples pay no atomic add.
    if COUNTING.load(Ordering::Relaxed) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

/// The allocations (and reallocations) `f` makes.
fn allocations_of<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let out = f();
    COUNTING.store(false, Ordering::Relaxed);
    (out, ALLOCATIONS.load(Ordering::Relaxed) - before)
}

struct Workload {
    id: &'static str,
    file: &'static str,
    unit: &'static str,
    /// Units of work per execution (transitions, items) and executions per sample.
    per_run: fn(&RunResult) -> f64,
    runs_per_sample: usize,
    check: fn(&RunResult) -> Result<(), String>,
    /// Run as an Express execution: B2 and B3 write about 40,000 history events, over the
    /// 25,000 AWS allows a Standard execution, so a user runs them as Express (no limit).
    express: bool,
}

fn transitions(run: &RunResult) -> f64 {
    run.history
        .iter()
        .filter(|e| e.event_type.ends_with("StateEntered"))
        .count() as f64
}

fn succeeded(run: &RunResult) -> Result<(), String> {
    if run.status == Status::Succeeded {
        Ok(())
    } else {
        Err(format!(
            "ended {} ({:?}: {:?})",
            run.status.as_aws_str(),
            run.error,
            run.cause
        ))
    }
}

fn main() {
    let mut quick = false;
    let mut render = false;
    let mut samples: Option<usize> = None;
    let mut dir = None;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--quick" {
            quick = true;
        } else if arg == "--render" {
            render = true;
        } else if arg == "--samples" {
            samples = args.next().and_then(|n| n.parse().ok()).filter(|&n| n > 0);
        } else if arg == "--only" {
            only = args.next();
        } else {
            dir = Some(PathBuf::from(arg));
        }
    }
    let dir = dir
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/asl"));
    let dir = dir.canonicalize().unwrap_or(dir);
    let workloads = [
        Workload {
            id: "B1 pass-chain",
            file: "b1_pass_chain",
            unit: "state transitions/s",
            per_run: transitions,
            runs_per_sample: 20,
            check: succeeded,
            express: false,
        },
        Workload {
            id: "B2 choice-loop",
            file: "b2_choice_loop",
            unit: "state transitions/s",
            per_run: transitions,
            runs_per_sample: 1,
            check: |run| {
                succeeded(run)?;
                match run.output.as_deref().and_then(|o| o.get("counter")) {
                    Some(counter) if counter == 10_000 => Ok(()),
                    other => Err(format!("counter ended at {other:?}")),
                }
            },
            express: true,
        },
        Workload {
            id: "B3 map-10k",
            file: "b3_map_10k",
            unit: "items/s",
            per_run: |run| {
                run.output
                    .as_deref()
                    .and_then(Value::as_array)
                    .map_or(0.0, |items| items.len() as f64)
            },
            runs_per_sample: 10,
            check: |run| {
                succeeded(run)?;
                match run.output.as_deref().and_then(Value::as_array) {
                    Some(items) if items.len() == 10_000 => Ok(()),
                    _ => Err("the Map did not return 10,000 results".to_owned()),
                }
            },
            express: true,
        },
        Workload {
            id: "B4 many-small",
            file: "b4_many_small",
            unit: "executions/s",
            per_run: |_| 1.0,
            runs_per_sample: 1000,
            check: succeeded,
            express: false,
        },
    ];
    let samples = samples.unwrap_or(if quick { 1 } else { 5 });
    println!(
        "cairn-bench: {} (history on, definition parsed once, virtual time, AWS's default limits; B2 and B3 as Express executions)",
        dir.display()
    );
    for workload in &workloads {
        if only
            .as_deref()
            .is_some_and(|id| !workload.id.starts_with(id))
        {
            continue;
        }
        match bench(&dir, workload, samples, render) {
            Ok(line) => println!("{line}"),
            Err(err) => println!("{:<15} FAILED: {err}", workload.id),
        }
    }
    println!(
        "peak memory of the whole process (VmHWM): {}",
        peak_memory()
    );
}

/// The text `cairn serve` keeps for each history event, one JSON string per event
/// ([`HistoryEvent::stored_texts`]: `[id, previousEventId, timestampMs, type, details]`).
/// The byte count keeps the work from being optimised away.
fn render_history(run: &RunResult) -> usize {
    HistoryEvent::stored_texts(&run.history)
        .map(|text| text.len())
        .sum()
}

/// Every event's stored text must be what serde_json writes for the same tuple (how it
/// was written before `stored_texts`): checked once per workload, outside the timed samples.
fn check_rendering(run: &RunResult) -> Result<(), String> {
    for (event, direct) in run
        .history
        .iter()
        .zip(HistoryEvent::stored_texts(&run.history))
    {
        let serde = serde_json::to_string(&(
            event.id,
            event.previous_event_id,
            event.timestamp_ms,
            &event.event_type,
            &event.details,
        ))
        .map_err(|e| e.to_string())?;
        if direct != serde {
            return Err(format!(
                "event {} renders as {direct}, serde_json as {serde}",
                event.id
            ));
        }
    }
    Ok(())
}

fn bench(dir: &Path, workload: &Workload, samples: usize, render: bool) -> Result<String, String> {
    let read = |name: String| -> Result<Value, String> {
        let path = dir.join(&name);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    };
    let definition = read(format!("{}.asl.json", workload.file))?;
    let input = read(format!("{}.input.json", workload.file))?;
    let parse_start = Instant::now();
    // AWS's quotas, as a user gets them by default.
    let machine =
        Machine::from_json(&definition).map_err(|e| format!("definition did not load: {e}"))?;
    let parse = parse_start.elapsed();
    let invoker: Arc<dyn TaskInvoker> = Arc::new(Unsupported);
    let mut options = RunOptions {
        start_time_ms: Some(1_700_000_000_000),
        ..RunOptions::default()
    };
    if workload.express {
        options.info.machine_type = MachineType::Express;
    }
    // One untimed run, counted: allocations per execution (the input's copy included, as
    // in the samples), and with --render those of writing its stored history.
    let (run, allocations) =
        allocations_of(|| run_lent(&machine, input.clone(), &invoker, &options));
    let run = run.map_err(|e| e.to_string())?;
    (workload.check)(&run)?;
    let (_, render_allocations) = allocations_of(|| render_history(&run));
    if render {
        check_rendering(&run)?;
    }
    drop(run);
    reset_peak_memory();
    let mut rates = Vec::with_capacity(samples);
    let mut rendered_rates = Vec::with_capacity(samples);
    let mut events = 0;
    let mut rendered_bytes = 0;
    for _ in 0..samples {
        // With --render, each sample is a pair (plain, then rendered): alternating keeps the
        // two figures comparable on a machine whose load changes from second to second.
        for with_render in [false, true] {
            if with_render && !render {
                continue;
            }
            let started = Instant::now();
            let mut work = 0.0;
            for _ in 0..workload.runs_per_sample {
                let run = run_lent(&machine, input.clone(), &invoker, &options)
                    .map_err(|e| e.to_string())?;
                (workload.check)(&run)?;
                if with_render {
                    rendered_bytes = render_history(&run);
                }
                work += (workload.per_run)(&run);
                events = run.history.len();
            }
            let elapsed = started.elapsed().max(Duration::from_nanos(1));
            let rate = work / elapsed.as_secs_f64();
            if with_render {
                rendered_rates.push(rate);
            } else {
                rates.push(rate);
            }
        }
    }
    let median_of = |rates: &mut Vec<f64>| {
        rates.sort_by(f64::total_cmp);
        rates.get(rates.len() / 2).copied().unwrap_or(0.0)
    };
    let median = median_of(&mut rates);
    let best = rates.last().copied().unwrap_or(0.0);
    let mut line = format!(
        "{:<15} {:>12.0} {} (median of {samples}; best {:.0}; {events} history events/execution; {allocations} allocations/execution; parse {:.1?}; peak RSS {})",
        workload.id,
        median,
        workload.unit,
        best,
        parse,
        peak_memory()
    );
    if render {
        let rendered = median_of(&mut rendered_rates);
        let rendered_best = rendered_rates.last().copied().unwrap_or(0.0);
        let ratio = |plain: f64, rendered: f64| {
            if rendered > 0.0 {
                plain / rendered
            } else {
                f64::INFINITY
            }
        };
        // The best samples too: on a loaded machine they are the ones least disturbed, so
        // their ratio moves less from window to window than the medians'.
        line.push_str(&format!(
            "\n{:<15} {:>12.0} {} with --render (median of {samples}; {:.2}x the time without, best to best {:.2}x; {} bytes of stored history/execution, {render_allocations} allocations more)",
            workload.id,
            rendered,
            workload.unit,
            ratio(median, rendered),
            ratio(best, rendered_best),
            rendered_bytes
        ));
    }
    Ok(line)
}

/// `VmHWM` of /proc/self/status: the peak resident set size.
fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Linux resets the peak RSS when 5 is written to clear_refs, so each workload reports its own.
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
