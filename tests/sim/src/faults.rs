//! Which faults a run injects, and how often (per mille of opportunities).

use std::fmt;

use crate::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultPlan {
    /// A message, timer firing or client call delivered twice.
    pub duplicate: u32,
    /// A message, timer firing or task dispatch delivered up to 5 s late (reorders them).
    pub delay: u32,
    /// A timer message or task-run event lost on its way (serverless: the sweep re-sends).
    pub drop: u32,
    /// A store write rejected before it applies (throttling, a busy database).
    pub write_fail: u32,
    /// A store write applied, but reported as failed (a timeout after the commit).
    pub write_ambiguous: u32,
    /// A store read failing.
    pub read_fail: u32,
    /// The process dies just before a store write.
    pub crash_before_write: u32,
    /// The process dies just after a store write, before anything is sent.
    pub crash_after_write: u32,
    /// The serverless handler dies after its sends, before acknowledging its message.
    pub crash_before_ack: u32,
    /// cairn serve is killed between two steps (per step).
    pub kill: u32,
    /// A task's answer arrives twice.
    pub answer_twice: u32,
    /// A task's answer arrives up to 5 s late.
    pub answer_late: u32,
    /// The shells' clock jumps (forwards or backwards) every few minutes.
    pub clock_jumps: bool,
    /// The outbox fails to send a step's messages (the write stands).
    pub send_fail: u32,
    /// A status confirmation (serverless) lands late, after later writes, its caller told
    /// it timed out.
    pub confirm_late: u32,
}

impl FaultPlan {
    pub fn none() -> FaultPlan {
        FaultPlan::default()
    }

    /// A random schedule: each class is on or off, at a random rate.
    pub fn random(rng: &mut Rng) -> FaultPlan {
        let mut rate = |on: u32| -> u32 {
            if rng.chance(on) {
                u32::try_from(rng.range(10, 150)).unwrap_or(50)
            } else {
                0
            }
        };
        let mut plan = FaultPlan {
            duplicate: rate(600),
            delay: rate(600),
            drop: rate(500),
            write_fail: rate(400),
            write_ambiguous: rate(300),
            read_fail: rate(300),
            crash_before_write: rate(300),
            crash_after_write: rate(300),
            crash_before_ack: rate(300),
            kill: rate(200) / 10,
            answer_twice: rate(400),
            answer_late: rate(400),
            clock_jumps: false,
            send_fail: rate(200),
            confirm_late: 0,
        };
        plan.clock_jumps = rng.chance(400);
        plan
    }

    /// Draws the classes added after the first ones from their own stream, so the plans of
    /// earlier classes (and the seeds kept for the bugs they found) stay as they were.
    pub fn add_later_classes(mut self, rng: &mut Rng) -> FaultPlan {
        if rng.chance(400) {
            self.confirm_late = u32::try_from(rng.range(10, 150)).unwrap_or(50);
        }
        self
    }

    /// Every fault class on, at `rate` (the allowance [`FaultPlan::within`] narrows).
    pub fn all(rate: u32) -> FaultPlan {
        FaultPlan {
            duplicate: rate,
            delay: rate,
            drop: rate,
            write_fail: rate,
            write_ambiguous: rate,
            read_fail: rate,
            crash_before_write: rate,
            crash_after_write: rate,
            crash_before_ack: rate,
            kill: rate,
            answer_twice: rate,
            answer_late: rate,
            clock_jumps: true,
            send_fail: rate,
            confirm_late: rate,
        }
    }

    /// This plan without the classes `allowed` turns off.
    pub fn within(self, allowed: &FaultPlan) -> FaultPlan {
        let keep = |rate: u32, allowed: u32| if allowed == 0 { 0 } else { rate };
        FaultPlan {
            duplicate: keep(self.duplicate, allowed.duplicate),
            delay: keep(self.delay, allowed.delay),
            drop: keep(self.drop, allowed.drop),
            write_fail: keep(self.write_fail, allowed.write_fail),
            write_ambiguous: keep(self.write_ambiguous, allowed.write_ambiguous),
            read_fail: keep(self.read_fail, allowed.read_fail),
            crash_before_write: keep(self.crash_before_write, allowed.crash_before_write),
            crash_after_write: keep(self.crash_after_write, allowed.crash_after_write),
            crash_before_ack: keep(self.crash_before_ack, allowed.crash_before_ack),
            kill: keep(self.kill, allowed.kill),
            answer_twice: keep(self.answer_twice, allowed.answer_twice),
            answer_late: keep(self.answer_late, allowed.answer_late),
            clock_jumps: self.clock_jumps && allowed.clock_jumps,
            send_fail: keep(self.send_fail, allowed.send_fail),
            confirm_late: keep(self.confirm_late, allowed.confirm_late),
        }
    }

    /// Parses a comma-separated list of class names into an allowance.
    pub fn only(classes: &str) -> Result<FaultPlan, String> {
        let mut plan = FaultPlan::none();
        for class in classes.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            match class {
                "duplicate" => plan.duplicate = 1,
                "delay" => plan.delay = 1,
                "drop" => plan.drop = 1,
                "write_fail" => plan.write_fail = 1,
                "write_ambiguous" => plan.write_ambiguous = 1,
                "read_fail" => plan.read_fail = 1,
                "crash_before_write" => plan.crash_before_write = 1,
                "crash_after_write" => plan.crash_after_write = 1,
                "crash_before_ack" => plan.crash_before_ack = 1,
                "kill" => plan.kill = 1,
                "answer_twice" => plan.answer_twice = 1,
                "answer_late" => plan.answer_late = 1,
                "clock_jumps" => plan.clock_jumps = true,
                "send_fail" => plan.send_fail = 1,
                "confirm_late" => plan.confirm_late = 1,
                other => return Err(format!("unknown fault class {other}")),
            }
        }
        Ok(plan)
    }

    pub fn is_none(&self) -> bool {
        *self == FaultPlan::none()
    }
}

impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let classes = [
            ("duplicate", self.duplicate),
            ("delay", self.delay),
            ("drop", self.drop),
            ("write_fail", self.write_fail),
            ("write_ambiguous", self.write_ambiguous),
            ("read_fail", self.read_fail),
            ("crash_before_write", self.crash_before_write),
            ("crash_after_write", self.crash_after_write),
            ("crash_before_ack", self.crash_before_ack),
            ("kill", self.kill),
            ("answer_twice", self.answer_twice),
            ("answer_late", self.answer_late),
            ("clock_jumps", u32::from(self.clock_jumps)),
            ("send_fail", self.send_fail),
            ("confirm_late", self.confirm_late),
        ];
        let on: Vec<String> = classes
            .iter()
            .filter(|(_, rate)| *rate > 0)
            .map(|(name, rate)| format!("{name}={rate}"))
            .collect();
        if on.is_empty() {
            write!(f, "no faults")
        } else {
            write!(f, "{}", on.join(" "))
        }
    }
}
