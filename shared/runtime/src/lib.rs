#![forbid(unsafe_code)]
//! Ports and the in-memory run loop for one process (`cairn run`, Express).
//!
//! The decider ([`cairn_interpreter`]) is pure; this crate is the shell around it for a single
//! process: it carries out the decider's commands (tasks through a [`TaskInvoker`], timers in a
//! priority queue, under virtual or real time) and feeds their outcomes back as events.

pub mod mock;
pub mod ports;
mod python;
pub mod run;
pub mod scripted;

pub use mock::{MockConfig, MockConfigError, MockInvoker, MockRegistry, MockedResponse, TestCase};
pub use ports::{
    task_event, unsupported, ApiFailure, Clock, StepFunctionsApi, SystemClock, TaskDone,
    TaskFailure, TaskInvoker, TaskOutcome, TaskRequest, Unsupported, UNSUPPORTED_RESOURCE,
};
pub use run::{
    run_observed, run_to_completion, Callbacks, RunError, RunOptions, RunResult, TimeMode,
};
pub use scripted::{
    lambda_invoke_output, uuid_from as uuid, Behaviour, InvokeAnswer, ScriptError, ScriptedLambda,
};
