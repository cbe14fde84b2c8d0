//! Simulated time and the harness plumbing: a clock the shells read (true time plus a skew
//! that jumps), a single-threaded executor for the engine's futures, and crash points.

use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Once;
use std::task::{Context, Poll, Waker};

use cairn_runtime::Clock;

use crate::store::Crash;

/// The clock both shells read: the simulation's true time plus a skew (clock jumps).
#[derive(Debug, Default)]
pub struct SimClock {
    true_ms: AtomicI64,
    skew_ms: AtomicI64,
}

impl SimClock {
    pub fn new(start_ms: i64) -> SimClock {
        SimClock {
            true_ms: AtomicI64::new(start_ms),
            skew_ms: AtomicI64::new(0),
        }
    }

    pub fn true_ms(&self) -> i64 {
        self.true_ms.load(Ordering::SeqCst)
    }

    pub fn set_true_ms(&self, ms: i64) {
        self.true_ms.store(ms, Ordering::SeqCst);
    }

    pub fn skew_ms(&self) -> i64 {
        self.skew_ms.load(Ordering::SeqCst)
    }

    pub fn set_skew_ms(&self, ms: i64) {
        self.skew_ms.store(ms, Ordering::SeqCst);
    }
}

impl Clock for SimClock {
    fn now_ms(&self) -> i64 {
        self.true_ms() + self.skew_ms()
    }
}

/// Runs a future that never waits on anything outside the simulation (the engine over the
/// in-memory store and the simulated outbox completes in one poll).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("a simulated step waited on something outside the simulation"),
    }
}

/// What a call into a shell came to: its value, or the process died inside it.
pub enum Guarded<T> {
    Done(T),
    Crashed,
}

/// Calls into a shell, turning a simulated process death into [`Guarded::Crashed`]. Any
/// other panic is a real one and propagates.
pub fn guarded<T>(f: impl FnOnce() -> T) -> Guarded<T> {
    quiet_crashes();
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => Guarded::Done(value),
        Err(payload) if payload.is::<Crash>() => Guarded::Crashed,
        Err(payload) => resume_unwind(payload),
    }
}

/// Simulated deaths are routine: keep them off stderr, and report every other panic as
/// usual.
fn quiet_crashes() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<Crash>() {
                default(info);
            }
        }));
    });
}
