//! Where compiling a definition goes: JSON text to value, the typed model, validation, and the
//! compiled machine, on the 1,000-state B1 definition (medians of many runs).
//!
//! `cargo run --release -p cairn-interpreter --example compile_time [DEFINITION]`

use std::time::{Duration, Instant};

use cairn_asl::model::StateMachine;
use cairn_interpreter::Machine;
use serde_json::Value;

fn median(mut f: impl FnMut(), runs: usize) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/bench/asl/b1_pass_chain.asl.json"
        )
        .to_owned()
    });
    let text = std::fs::read_to_string(&path).expect("the definition");
    let value: Value = serde_json::from_str(&text).expect("JSON");
    let model = StateMachine::from_value(&value).expect("model");
    let options = cairn_asl::validate::Options::default();
    let runs = 200;
    let parse = median(|| drop(serde_json::from_str::<Value>(&text).unwrap()), runs);
    let validate = median(
        || drop(cairn_asl::validate::validate(&value, &options)),
        runs,
    );
    let typed = median(|| drop(StateMachine::from_value(&value).unwrap()), runs);
    let compile = median(|| drop(Machine::new(&model).unwrap()), runs);
    let from_json = median(|| drop(Machine::from_json(&value).unwrap()), runs);
    println!("{path}");
    println!("JSON text -> value   {parse:?}");
    println!("validate             {validate:?}");
    println!("value -> typed model {typed:?}");
    println!("typed -> machine     {compile:?}");
    println!("value -> machine     {from_json:?} (Machine::from_json, what the shells call)");
    println!("total                {:?}", parse + validate + from_json);
}
