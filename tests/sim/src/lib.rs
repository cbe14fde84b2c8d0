#![forbid(unsafe_code)]
//! A deterministic fault simulation of Cairn's two durable shells, the way FoundationDB and
//! TigerBeetle test: one seed picks a workload (a few small Standard state machines) and
//! fault schedules; the workload runs through cairn serve's [`cairn_api::Driver`] or the
//! serverless [`cairn_serverless::Engine`] over an in-memory store, first without faults,
//! then under each schedule; every run must end like the fault-free one (see [`check`]).
//!
//! Nothing reads the wall clock, the OS's entropy or a thread's timing: a failing seed
//! replays exactly (`cairn-sim --seed S --shell ...`).

pub mod check;
pub mod faults;
pub mod plans;
pub mod rng;
pub mod sim;
pub mod store;
pub mod workload;
pub mod world;

use check::{check_run, collect, compare, ExecOutcome};
pub use faults::FaultPlan;
use rng::Rng;
pub use sim::ShellKind;
use sim::Sim;
use workload::Workload;

/// What checking one seed on one shell found.
#[derive(Debug, Clone)]
pub struct SeedReport {
    pub seed: u64,
    pub shell: ShellKind,
    pub schedules: usize,
    /// The templates the workload used.
    pub templates: Vec<&'static str>,
    /// Faults injected over all schedules, by class.
    pub injected: std::collections::BTreeMap<&'static str, u64>,
    pub steps: u64,
    /// Each failure: the schedule (0: fault-free), its plan, and what broke.
    pub failures: Vec<Failure>,
    /// Digest of every run, in order: a replay must give the same.
    pub trace: u64,
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub schedule: usize,
    pub plan: FaultPlan,
    pub problems: Vec<String>,
}

impl SeedReport {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

impl std::fmt::Display for SeedReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "seed {} on {} ({}): {}",
            self.seed,
            self.shell,
            self.templates.join(", "),
            if self.ok() { "ok" } else { "FAILED" }
        )?;
        for failure in &self.failures {
            writeln!(f, "  schedule {} [{}]:", failure.schedule, failure.plan)?;
            for problem in &failure.problems {
                writeln!(f, "    {problem}")?;
            }
        }
        if !self.ok() {
            writeln!(
                f,
                "  replay: cargo run -p cairn-sim -- --seed {} --shell {} --schedules {}",
                self.seed, self.shell, self.schedules
            )?;
        }
        Ok(())
    }
}

/// The fault plan of schedule `index` (from 1) of a seed, and the seed of its dice.
pub fn schedule(seed: u64, index: usize, limit: Option<FaultPlan>) -> (FaultPlan, u64) {
    let mut rng = Rng::new(seed ^ rng::mix(0xfa17 + index as u64));
    let mut plan = FaultPlan::random(&mut rng);
    let dice = rng.next_u64();
    plan = plan.add_later_classes(&mut rng);
    if let Some(allowed) = limit {
        plan = plan.within(&allowed);
    }
    (plan, dice)
}

/// Runs one schedule; `None` as the plan is the fault-free run.
fn run_once(
    seed: u64,
    shell: ShellKind,
    workload: &Workload,
    plan: FaultPlan,
    dice_seed: u64,
) -> (Vec<ExecOutcome>, Vec<String>, sim::RunOutput) {
    let run = Sim::new(seed, shell, workload, plan, dice_seed).run();
    let outcomes = collect(workload, &run);
    let problems = check_run(workload, &run, &outcomes);
    (outcomes, problems, run)
}

/// Checks one seed: the fault-free run, then `schedules` faulty ones, each compared with it.
/// `limit` caps the fault classes (a class at 0 there is never injected).
pub fn check_seed(
    seed: u64,
    shell: ShellKind,
    schedules: usize,
    limit: Option<FaultPlan>,
) -> SeedReport {
    let workload = Workload::generate(&mut Rng::new(seed));
    let mut report = SeedReport {
        seed,
        shell,
        schedules,
        templates: workload.executions.iter().map(|e| e.template).collect(),
        injected: Default::default(),
        steps: 0,
        failures: Vec::new(),
        trace: 0,
    };
    let (reference, problems, run) = run_once(seed, shell, &workload, FaultPlan::none(), 0);
    report.steps += run.steps;
    report.trace = rng::mix(run.trace);
    if !problems.is_empty() {
        report.failures.push(Failure {
            schedule: 0,
            plan: FaultPlan::none(),
            problems,
        });
    }
    for index in 1..=schedules {
        let (plan, dice) = schedule(seed, index, limit);
        let (outcomes, mut problems, run) = run_once(seed, shell, &workload, plan, dice);
        report.steps += run.steps;
        report.trace = rng::mix(report.trace ^ run.trace);
        for (class, count) in run.store.ledger().injected {
            *report.injected.entry(class).or_default() += count;
        }
        problems.extend(compare(&workload, &reference, &outcomes));
        if !problems.is_empty() {
            report.failures.push(Failure {
                schedule: index,
                plan,
                problems,
            });
        }
    }
    report
}
