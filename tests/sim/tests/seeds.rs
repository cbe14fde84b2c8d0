//! The fixed set of seeds the test command runs (the long sweep is `cairn-sim --seeds N`):
//! each seed's workload on both shells, fault-free and under one random fault schedule,
//! plus the seeds that found bugs, under the schedule that found them.

use cairn_sim::{check_seed, FaultPlan, ShellKind};

/// Seeds 0..SEEDS on both shells.
const SEEDS: u64 = 150;

/// (seed, shell, schedules, fault classes): each found a bug (see tests/sim/README.md).
const REGRESSIONS: [(u64, ShellKind, usize, &str); 0] = [];

fn failures(reports: impl IntoIterator<Item = cairn_sim::SeedReport>) -> Vec<String> {
    reports
        .into_iter()
        .filter(|report| !report.ok())
        .map(|report| report.to_string())
        .collect()
}

#[test]
fn fixed_seeds_end_as_without_faults() {
    let reports = (0..SEEDS).flat_map(|seed| {
        [ShellKind::Serve, ShellKind::Serverless].map(|shell| check_seed(seed, shell, 1, None))
    });
    let failed = failures(reports);
    assert!(
        failed.is_empty(),
        "{} seeds failed:\n{}",
        failed.len(),
        failed.join("")
    );
}

#[test]
fn seeds_that_found_bugs_stay_fixed() {
    let reports = REGRESSIONS.iter().map(|(seed, shell, schedules, classes)| {
        let limit = FaultPlan::only(classes).expect("known fault classes");
        check_seed(*seed, *shell, *schedules, Some(limit))
    });
    let failed = failures(reports);
    assert!(
        failed.is_empty(),
        "{} seeds failed:\n{}",
        failed.len(),
        failed.join("")
    );
}

#[test]
fn a_seed_replays_exactly() {
    for seed in [3, 71, 198] {
        for shell in [ShellKind::Serve, ShellKind::Serverless] {
            let first = check_seed(seed, shell, 2, None);
            let again = check_seed(seed, shell, 2, None);
            assert_eq!(
                first.trace, again.trace,
                "seed {seed} on {shell} did not replay"
            );
            assert_eq!(first.steps, again.steps);
            assert_eq!(first.injected, again.injected);
        }
    }
}
