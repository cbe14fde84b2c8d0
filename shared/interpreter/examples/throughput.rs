//! Decider throughput in CPU time, history on:
//! `cargo run --release -p cairn-interpreter --example throughput`.

use cairn_interpreter::{Context, Execution, ExecutionInfo, Limits, Machine};

/// Measured with mimalloc, as the binaries may use it: glibc's malloc spends most of a Map's
/// time freeing its history's many small allocations. Run with `MIMALLOC_PURGE_DELAY=-1` to
/// keep freed pages (a long-running server reuses them) instead of faulting in fresh ones.
#[global_allocator]
static GLOBAL: Counting = Counting(mimalloc::MiMalloc);
use serde_json::{json, Map, Value};
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

/// Counts the bytes the program asked for (not what the allocator or the kernel rounds them
/// up to), so a change's effect on memory shows apart from the allocator's page keeping.
/// Only while `COUNTING` is on, so the timed runs pay one relaxed load per call.
struct Counting(mimalloc::MiMalloc);

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Relaxed).wrapping_add(by);
    PEAK.fetch_max(live, Relaxed);
}

// SAFETY: every call is passed on unchanged to mimalloc; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() && COUNTING.load(Relaxed) {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Relaxed) {
            LIVE.fetch_sub(layout.size(), Relaxed);
        }
        unsafe { self.0.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() && COUNTING.load(Relaxed) {
            LIVE.fetch_sub(layout.size(), Relaxed);
            grew(new_size);
        }
        p
    }
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

/// Nanoseconds this process has spent on a CPU: wall time lies on a shared machine.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    let mut states = Map::new();
    for i in 0..1000 {
        let mut s = json!({"Type": "Pass", "Parameters": {"i.$": "$.i", "step": i}});
        if i == 999 {
            s["End"] = json!(true);
        } else {
            s["Next"] = json!(format!("P{}", i + 1));
        }
        states.insert(format!("P{i}"), s);
    }
    let limits = Limits {
        max_payload_bytes: usize::MAX / 2,
        max_history_events: u64::MAX,
        ..Limits::default()
    };
    let chain = Machine::from_json(&json!({"StartAt": "P0", "States": Value::Object(states)}))
        .unwrap()
        .with_limits(limits);
    let ctx = Context { now_ms: 0, seed: 1 };
    let input = json!({"i": 7});
    let runs = if std::env::var_os("MAP_ONLY").is_some() {
        0
    } else {
        200
    };
    let t = cpu_ns();
    let mut events = 0;
    for _ in 0..runs {
        let (_, d) = Execution::start(&chain, input.clone(), ExecutionInfo::default(), &ctx);
        events += d.history.len();
    }
    let secs = (cpu_ns() - t) as f64 / 1e9;
    println!(
        "pass chain: {:.0} transitions/s ({events} events)",
        (runs * 1000) as f64 / secs
    );

    let map = Machine::from_json(
        &json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "ItemsPath": "$.items", "ResultPath": "$.results", "OutputPath": "$.results",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"id.$": "$.n", "ok": true}, "End": true}}}}}}),
    )
    .unwrap()
    .with_limits(limits);
    let items: Vec<Value> = (0..10_000).map(|i| json!({"n": i})).collect();
    let input = json!({ "items": items });
    // The inputs are copied before the clock starts (a shell hands the input over owned);
    // running the executions and dropping their histories and states are timed.
    let runs = 20;
    let inputs: Vec<Value> = (0..runs).map(|_| input.clone()).collect();
    let mut events = 0;
    let mut outputs = 0;
    let t = cpu_ns();
    for owned in inputs {
        let (exec, d) = Execution::start(&map, owned, ExecutionInfo::default(), &ctx);
        outputs += exec.output().and_then(Value::as_array).map_or(0, Vec::len);
        events = d.history.len();
    }
    let secs = (cpu_ns() - t) as f64 / 1e9;
    assert_eq!(outputs, runs * 10_000);
    println!(
        "inline map: {:.0} items/s ({events} events per execution)",
        (runs * 10_000) as f64 / secs
    );
    // The heap one execution needs (its input counted from when it is handed over), and
    // what its state alone keeps once the history is gone. Counted from zero: only what is
    // allocated and freed while counting is on moves the figures.
    let owned = input.clone();
    let input_bytes = {
        COUNTING.store(true, Relaxed);
        let copy = owned.clone();
        let bytes = LIVE.load(Relaxed);
        drop(copy);
        bytes
    };
    LIVE.store(input_bytes, Relaxed);
    PEAK.store(input_bytes, Relaxed);
    let (exec, d) = Execution::start(&map, owned, ExecutionInfo::default(), &ctx);
    let peak = PEAK.load(Relaxed);
    drop(d);
    let state = LIVE.load(Relaxed);
    drop(exec);
    COUNTING.store(false, Relaxed);
    println!(
        "inline map heap: peak {:.1} MB with its input of {:.1} MB; the state alone {:.1} MB",
        mb(peak),
        mb(input_bytes),
        mb(state),
    );
    // For profiling the JSONPath Map alone.
    if std::env::var_os("MAP_PATH_ONLY").is_some() {
        return;
    }

    // The same Map in JSONata: every item goes through an expression.
    let jsonata_map = Machine::from_json(
        &json!({"QueryLanguage": "JSONata", "StartAt": "M", "States": {
        "M": {"Type": "Map", "End": true, "Items": "{% $states.input.items %}",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass",
            "Output": {"id": "{% $states.input.n %}", "ok": true}, "End": true}}}}}}),
    )
    .unwrap()
    .with_limits(limits);
    let inputs: Vec<Value> = (0..runs).map(|_| input.clone()).collect();
    let t = cpu_ns();
    for owned in inputs {
        let (exec, _) = Execution::start(&jsonata_map, owned, ExecutionInfo::default(), &ctx);
        assert_eq!(
            exec.output().and_then(Value::as_array).map(Vec::len),
            Some(10_000),
            "{:?}",
            exec.cause()
        );
    }
    let secs = (cpu_ns() - t) as f64 / 1e9;
    println!(
        "inline map (JSONata): {:.0} items/s",
        (runs * 10_000) as f64 / secs
    );

    if std::env::var_os("MAP_ONLY").is_some() {
        return;
    }
    let small = Machine::from_json(&json!({"StartAt": "Tag", "States": {
        "Tag": {"Type": "Pass", "Parameters": {"n.$": "$.n", "tagged": true}, "Next": "Route"},
        "Route": {"Type": "Choice", "Choices": [{"Variable": "$.tagged", "BooleanEquals": true, "Next": "Ok"}], "Default": "Ok"},
        "Ok": {"Type": "Succeed"}}}))
    .unwrap();
    let input = json!({"n": 1});
    let info = ExecutionInfo {
        execution_arn: "arn:aws:states:us-east-1:111111111111:execution:small:run".into(),
        state_machine_arn: "arn:aws:states:us-east-1:111111111111:stateMachine:small".into(),
        ..Default::default()
    };
    let t = cpu_ns();
    for _ in 0..100_000 {
        let (exec, _) = Execution::start(&small, input.clone(), info.clone(), &ctx);
        assert_eq!(exec.status(), cairn_interpreter::Status::Succeeded);
    }
    let secs = (cpu_ns() - t) as f64 / 1e9;
    println!("many small: {:.0} executions/s", 100_000.0 / secs);
}
