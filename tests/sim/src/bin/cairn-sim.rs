//! The long sweep: `cairn-sim --seeds 10000` checks seeds 0..N on both shells (each seed:
//! the fault-free run and `--schedules` faulty ones); `--seed S` replays one seed. Exits
//! non-zero when any seed fails, after printing each failing seed with its replay command.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{anyhow, Result};
use cairn_sim::{check_seed, FaultPlan, ShellKind};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Deterministic fault simulation of Cairn's durable shells")]
struct Args {
    /// Check seeds FIRST..FIRST+N.
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    #[arg(long, default_value_t = 0)]
    first: u64,
    /// Check this one seed only (a replay).
    #[arg(long)]
    seed: Option<u64>,
    /// serve, serverless or both.
    #[arg(long, default_value = "both")]
    shell: String,
    /// Faulty schedules per seed (each compared with the fault-free run).
    #[arg(long, default_value_t = 4)]
    schedules: usize,
    /// Only these fault classes (comma-separated; default: all).
    #[arg(long)]
    only: Option<String>,
    /// Print every seed, not only failures.
    #[arg(long)]
    verbose: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let shells = match args.shell.as_str() {
        "serve" => vec![ShellKind::Serve],
        "serverless" => vec![ShellKind::Serverless],
        "both" => vec![ShellKind::Serve, ShellKind::Serverless],
        other => {
            return Err(anyhow!(
                "--shell must be serve, serverless or both, not {other}"
            ))
        }
    };
    let limit = match &args.only {
        Some(classes) => Some(FaultPlan::only(classes).map_err(|e| anyhow!(e))?),
        None => None,
    };
    let seeds: Vec<u64> = match args.seed {
        Some(seed) => vec![seed],
        None => (args.first..args.first + args.seeds).collect(),
    };
    let began = Instant::now();
    let mut failed = Vec::new();
    let mut runs = 0u64;
    let mut steps = 0u64;
    let mut injected: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut templates: BTreeMap<&'static str, u64> = BTreeMap::new();
    for seed in &seeds {
        for shell in &shells {
            let report = check_seed(*seed, *shell, args.schedules, limit);
            runs += 1 + args.schedules as u64;
            steps += report.steps;
            for (class, count) in &report.injected {
                *injected.entry(class).or_default() += count;
            }
            for template in &report.templates {
                *templates.entry(template).or_default() += 1;
            }
            if !report.ok() || args.verbose || args.seed.is_some() {
                print!("{report}");
            }
            if !report.ok() {
                failed.push((*seed, *shell));
            }
        }
    }
    let elapsed = began.elapsed();
    println!(
        "{} seeds x {} shells: {} runs ({} fault schedules), {} simulated steps in {:.1} s",
        seeds.len(),
        shells.len(),
        runs,
        runs - (seeds.len() * shells.len()) as u64,
        steps,
        elapsed.as_secs_f64()
    );
    println!("workloads: {templates:?}");
    println!("faults injected: {injected:?}");
    if failed.is_empty() {
        println!("all seeds passed");
        Ok(())
    } else {
        println!("{} failing (seed, shell): {failed:?}", failed.len());
        std::process::exit(1)
    }
}
