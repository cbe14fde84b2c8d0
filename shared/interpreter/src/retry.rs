//! Retry and Catch: which entry handles an error, and how long a retry waits.

use cairn_asl::model::{JitterStrategy, Retrier};

/// Errors no Retry or Catch handles, not even one naming them: AWS fails the execution
/// (a Catch of `States.Runtime` does not catch a path failure in the recordings).
const UNCATCHABLE: [&str; 1] = ["States.Runtime"];

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CompiledRetrier {
    pub errors: Vec<String>,
    pub interval_seconds: u64,
    pub max_attempts: u64,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<u64>,
    pub full_jitter: bool,
}

impl CompiledRetrier {
    pub fn new(r: &Retrier) -> CompiledRetrier {
        CompiledRetrier {
            errors: r.error_equals.clone(),
            interval_seconds: r.interval_seconds.unwrap_or(1),
            max_attempts: r.max_attempts.unwrap_or(3),
            backoff_rate: r.backoff_rate.unwrap_or(2.0),
            max_delay_seconds: r.max_delay_seconds,
            full_jitter: r.jitter_strategy == Some(JitterStrategy::Full),
        }
    }

    /// Milliseconds to wait before retry number `attempt` (0-based), jittered with `entropy`.
    pub fn delay_ms(&self, attempt: u32, entropy: u64) -> i64 {
        let mut seconds =
            self.interval_seconds as f64 * self.backoff_rate.powi(attempt.min(1_000) as i32);
        if let Some(max) = self.max_delay_seconds {
            seconds = seconds.min(max as f64);
        }
        // A year caps absurd backoffs so the float-to-int conversion stays in range.
        let mut ms = (seconds * 1000.0).clamp(0.0, 31_536_000_000.0);
        if self.full_jitter {
            // Uniform in [0, ms]: the top 53 bits of the entropy as a fraction.
            ms *= cairn_common::entropy::unit_interval(entropy);
        }
        ms as i64
    }
}

/// Whether an `ErrorEquals` list handles `error`. In a Task state, `States.TaskFailed`
/// matches every error but the timeouts.
pub(crate) fn error_matches(list: &[String], error: &str, in_task: bool) -> bool {
    if UNCATCHABLE.contains(&error) {
        return false;
    }
    let timeout = matches!(error, "States.Timeout" | "States.HeartbeatTimeout");
    list.iter().any(|e| {
        e == error
            || e == "States.ALL"
            || (e == "States.Timeout" && timeout)
            || (e == "States.TaskFailed" && in_task && !timeout)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retrier(interval: u64, rate: f64, max_delay: Option<u64>, jitter: bool) -> CompiledRetrier {
        CompiledRetrier {
            errors: vec!["States.ALL".into()],
            interval_seconds: interval,
            max_attempts: 3,
            backoff_rate: rate,
            max_delay_seconds: max_delay,
            full_jitter: jitter,
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let r = retrier(2, 3.0, Some(10), false);
        assert_eq!(r.delay_ms(0, 0), 2_000);
        assert_eq!(r.delay_ms(1, 0), 6_000);
        assert_eq!(r.delay_ms(2, 0), 10_000);
    }

    #[test]
    fn full_jitter_stays_within_the_backoff() {
        let r = retrier(4, 1.0, None, true);
        assert_eq!(r.delay_ms(0, 0), 0);
        assert_eq!(r.delay_ms(0, u64::MAX >> 1), 1_999);
    }

    #[test]
    fn runtime_errors_are_never_caught() {
        let all = vec!["States.ALL".to_string()];
        assert!(error_matches(&all, "Lambda.Unknown", false));
        assert!(error_matches(&all, "States.DataLimitExceeded", false));
        assert!(!error_matches(&all, "States.Runtime", true));
        assert!(!error_matches(
            &["States.Runtime".to_string()],
            "States.Runtime",
            false
        ));
        assert!(error_matches(
            &["States.Timeout".to_string()],
            "States.HeartbeatTimeout",
            true
        ));
    }

    #[test]
    fn task_failed_matches_task_errors_but_timeouts() {
        let task_failed = vec!["States.TaskFailed".to_string()];
        assert!(error_matches(&task_failed, "Exception", true));
        assert!(!error_matches(&task_failed, "Exception", false));
        assert!(!error_matches(&task_failed, "States.Timeout", true));
    }
}
