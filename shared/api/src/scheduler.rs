//! Timers in memory (mirroring the store's, which survive restarts) and a pool of worker
//! threads that apply the events timers and tasks produce.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use cairn_runtime::Clock;

pub type Job = Box<dyn FnOnce() + Send>;

/// A fixed pool of threads running jobs in arrival order.
pub struct Pool {
    sender: Mutex<Option<Sender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Pool {
    pub fn new(size: usize, name: &str) -> Pool {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let threads = (0..size.max(1))
            .filter_map(|i| {
                let receiver = Arc::clone(&receiver);
                std::thread::Builder::new()
                    .name(format!("{name}-{i}"))
                    .spawn(move || worker(&receiver))
                    .ok()
            })
            .collect();
        Pool {
            sender: Mutex::new(Some(sender)),
            threads: Mutex::new(threads),
        }
    }

    /// Queues a job; after [`Pool::shutdown`] jobs are dropped.
    pub fn submit(&self, job: Job) {
        if let Ok(sender) = self.sender.lock() {
            if let Some(sender) = sender.as_ref() {
                let _ = sender.send(job);
            }
        }
    }

    pub fn shutdown(&self) {
        if let Ok(mut sender) = self.sender.lock() {
            sender.take();
        }
        let threads = self
            .threads
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        for thread in threads {
            let _ = thread.join();
        }
    }
}

fn worker(receiver: &Mutex<Receiver<Job>>) {
    loop {
        let job = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// One pending timer: when, which execution, which timer.
pub type TimerEntry = (i64, String, u64);

struct Timers {
    heap: BinaryHeap<Reverse<TimerEntry>>,
    stopped: bool,
}

/// Fires timers at their time by handing them to `fire` (on the timer thread; `fire` should
/// only queue work).
pub struct TimerWheel {
    state: Mutex<Timers>,
    wake: Condvar,
}

impl TimerWheel {
    pub fn new() -> Arc<TimerWheel> {
        Arc::new(TimerWheel {
            state: Mutex::new(Timers {
                heap: BinaryHeap::new(),
                stopped: false,
            }),
            wake: Condvar::new(),
        })
    }

    pub fn schedule(&self, entry: TimerEntry) {
        if let Ok(mut state) = self.state.lock() {
            state.heap.push(Reverse(entry));
            self.wake.notify_one();
        }
    }

    /// The earliest pending timer.
    pub fn peek(&self) -> Option<TimerEntry> {
        let state = self.state.lock().ok()?;
        state.heap.peek().map(|Reverse(entry)| entry.clone())
    }

    /// Removes and returns the timers due at `now`, earliest first.
    pub fn take_due(&self, now: i64) -> Vec<TimerEntry> {
        match self.state.lock() {
            Ok(mut state) => pop_due(&mut state, now),
            Err(_) => Vec::new(),
        }
    }

    pub fn stop(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.stopped = true;
            self.wake.notify_all();
        }
    }

    /// Runs until [`TimerWheel::stop`].
    pub fn run(&self, clock: &dyn Clock, fire: &dyn Fn(TimerEntry)) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        loop {
            if state.stopped {
                return;
            }
            let now = clock.now_ms();
            let due = pop_due(&mut state, now);
            if !due.is_empty() {
                drop(state);
                for entry in due {
                    fire(entry);
                }
                state = match self.state.lock() {
                    Ok(state) => state,
                    Err(_) => return,
                };
                continue;
            }
            // Sleep until the next timer (capped so a clock jump is noticed).
            let wait = state
                .heap
                .peek()
                .map(|Reverse(next)| u64::try_from(next.0.saturating_sub(now)).unwrap_or(0))
                .unwrap_or(1000)
                .clamp(1, 1000);
            state = match self.wake.wait_timeout(state, Duration::from_millis(wait)) {
                Ok((state, _)) => state,
                Err(_) => return,
            };
        }
    }
}

fn pop_due(state: &mut Timers, now: i64) -> Vec<TimerEntry> {
    let mut due = Vec::new();
    while let Some(Reverse(next)) = state.heap.peek() {
        if next.0 > now {
            break;
        }
        if let Some(Reverse(entry)) = state.heap.pop() {
            due.push(entry);
        }
    }
    due
}
