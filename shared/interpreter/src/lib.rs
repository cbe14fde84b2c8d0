#![forbid(unsafe_code)]
//! The pure decider: `(execution state, one event, context) -> (new state, history events, commands)`.
//!
//! No I/O, no clock, no randomness: the time of an event and a seed come in a [`Context`].
//! A shell (the run loop, a server) persists [`Execution`] between events, carries out the
//! [`Command`]s and feeds the outcomes back as [`Event`]s:
//!
//! 1. [`Machine::new`] compiles a definition once per version (paths, templates, Choice
//!    rules and JSONata `{% %}` expressions precompiled, state names resolved). Both query
//!    languages run: JSONata states see `$states` (`input`, `result`, `errorOutput`,
//!    `context`) and the variables; `$now()`/`$millis()` read the event's time and
//!    `$random()`/`$uuid()` derive from its seed, so replays are exact.
//! 2. [`Execution::start`] runs until the first waiting point and returns the first
//!    [`Decision`]: history events (ids and `previousEventId`s as GetExecutionHistory
//!    numbers them) and commands.
//! 3. For each [`Command::InvokeTask`] the shell reports [`Event::TaskStarted`] when a worker
//!    picks the task up (it records `LambdaFunctionStarted` / `ActivityStarted` /
//!    `TaskStarted`), optionally [`Event::TaskSubmitted`] for `.waitForTaskToken`/`.sync`
//!    integrations, then [`Event::TaskSucceeded`] or [`Event::TaskFailed`];
//!    [`Event::Heartbeat`] for SendTaskHeartbeat. For each [`Command::StartTimer`] it reports
//!    [`Event::TimerFired`] at `fire_at_ms` unless a [`Command::CancelTimer`] came first.
//!    Task timeouts, heartbeat timeouts, retry backoff, Wait states and the execution's
//!    `TimeoutSeconds` are all timers the decider schedules itself.
//! 4. [`Command::Finish`] is the last command of an execution; events after it are ignored.
//!
//! [`HistoryEvent::to_aws_json`] gives each event in GetExecutionHistory's wire shape.

pub mod api;
mod details;
mod execution;
mod flow;
mod history;
mod jsonata;
mod machine;
mod map_run;
mod reader;
mod redrive;
mod retry;
mod states;
#[cfg(test)]
mod test_support;
mod time;
mod writer;

pub use api::{
    Capabilities, Command, Context, Decision, Event, ExecutionInfo, HistoryEvent, Inspected,
    IntegrationPattern, Limits, MachineType, MapRunChildStart, ResourceKind, Status, TaskId,
    TimerId, AWS_INLINE_MAP_CONCURRENCY,
};
pub use details::Details;
pub use execution::Execution;
pub use machine::{LoadError, Machine};
pub use map_run::{MapRun, MapRunChild};
