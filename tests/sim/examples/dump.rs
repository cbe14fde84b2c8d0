//! Prints each run's history of one seed: `cargo run -p cairn-sim --example dump -- SEED
//! serve|serverless SCHEDULE` (schedule 0: the fault-free run).

use cairn_sim::rng::Rng;
use cairn_sim::sim::Sim;
use cairn_sim::workload::Workload;
use cairn_sim::{schedule, FaultPlan, ShellKind};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seed: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let shell = match args.get(2).map(String::as_str) {
        Some("serverless") => ShellKind::Serverless,
        _ => ShellKind::Serve,
    };
    let index: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
    let workload = Workload::generate(&mut Rng::new(seed));
    let (plan, dice) = if index == 0 {
        (FaultPlan::none(), 0)
    } else {
        schedule(seed, index, None)
    };
    let run = Sim::new(seed, shell, &workload, plan, dice).run();
    for outcome in cairn_sim::check::collect(&workload, &run) {
        println!(
            "{} {} writes {:?}",
            outcome.name, outcome.status, outcome.write_spans
        );
        for event in &outcome.history {
            println!(
                "  {:>3} <{:>3} {:>8} {} {}",
                event.id,
                event.previous_event_id,
                event.timestamp_ms % 100_000_000,
                event.event_type,
                event
                    .details
                    .to_string()
                    .chars()
                    .take(100)
                    .collect::<String>()
            );
        }
    }
}
