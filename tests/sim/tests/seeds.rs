//! The fixed set of seeds the test command runs (the long sweep is `cairn-sim --seeds N`):
//! each seed's workload on both shells, fault-free and under one random fault schedule,
//! plus the seeds that found bugs, under the schedule that found them.

use cairn_sim::{check_seed, FaultPlan, ShellKind};

/// Seeds 0..SEEDS on both shells.
const SEEDS: u64 = 150;

/// (seed, shell, schedules, fault classes): each found a bug (tests/sim/README.md lists
/// them); the run fails again when its fix is taken out.
const REGRESSIONS: [(u64, ShellKind, usize, &str); 14] = [
    // 1. The engine's "never before the fire time" read the timer after closing it.
    (3, ShellKind::Serverless, 2, "clock_jumps"),
    // 2. A second answer of a callback's call recorded TaskSubmitted twice.
    (12, ShellKind::Serve, 2, "answer_twice"),
    (12, ShellKind::Serverless, 2, "answer_twice"),
    // 3. The driver applied events for tasks already started or submitted.
    (
        0,
        ShellKind::Serve,
        1,
        "crash_after_write,kill,crash_before_write",
    ),
    // 4. A store failure dropped serve's background events (timers, task starts, results).
    (0, ShellKind::Serve, 1, "write_fail,read_fail"),
    // 5. A failed write of a task's outcome lost it (serverless).
    (4, ShellKind::Serverless, 2, "write_fail"),
    // 6. A claim written but reported failed left the task started by nobody.
    (0, ShellKind::Serverless, 2, "write_ambiguous"),
    // 7. A failed read right after the claim left the task started by nobody.
    (0, ShellKind::Serverless, 1, "read_fail"),
    // 8. Serve: a write that applied but failed never carried out its decision's work.
    (0, ShellKind::Serve, 2, "write_ambiguous"),
    // 9. Serve: a StartExecution retried after such a write never ran its first decision.
    (11, ShellKind::Serve, 2, "write_ambiguous,crash_after_write"),
    // 10. Serve applied a timer at the clock's time, before its fire time after a step back.
    (
        8079,
        ShellKind::Serve,
        2,
        "duplicate,delay,drop,crash_after_write,kill,answer_late,clock_jumps",
    ),
    // 11. A `.waitForTaskToken` Lambda task was taken for a long one and went asynchronous.
    (
        53,
        ShellKind::Serverless,
        4,
        "duplicate,drop,crash_before_write,crash_after_write",
    ),
    // 12. The sweep counted a timer's re-send before sending it: failed sends (188) and
    // counts written but reported failed (558) gave the timer up, the execution stayed
    // RUNNING. (The engine's unit test a_timer_counts_only_the_re_sends_that_went_out keeps
    // it independently of the dice.)
    (
        188,
        ShellKind::Serverless,
        2,
        "duplicate,delay,drop,write_ambiguous,answer_twice,answer_late,clock_jumps,send_fail",
    ),
    (
        558,
        ShellKind::Serverless,
        2,
        "delay,drop,write_ambiguous,crash_after_write,answer_twice,answer_late,confirm_late",
    ),
];

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
