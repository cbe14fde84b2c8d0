//! The schedules users own: a schedules file deployed with the stack (format in [`file`],
//! documented in functions/README.md) and the CloudFormation custom resource, served by the
//! schedule function, that makes one EventBridge Scheduler schedule group of the stack hold
//! exactly the file's schedules on every deploy and empties it when the stack is deleted
//! ([`cloudformation`], [`sync`]).
#![forbid(unsafe_code)]

pub mod cloudformation;
pub mod file;
pub mod sync;

pub use cloudformation::{is_custom_resource_request, serve_custom_resource};
pub use file::{ScheduleSpec, SchedulesFile, StackPlace};
pub use sync::{RolePatience, ScheduleTargets, SyncReport};

/// Where the schedule function finds the file: the template ships it as a Lambda layer, which
/// Lambda unpacks under `/opt`. `CAIRN_SCHEDULES_FILE` names another path (local runs).
pub const DEFAULT_SCHEDULES_FILE: &str = "/opt/schedules.json";

/// The file's path for this process.
pub fn schedules_file_path() -> std::path::PathBuf {
    std::env::var_os("CAIRN_SCHEDULES_FILE")
        .filter(|v| !v.is_empty())
        .map(Into::into)
        .unwrap_or_else(|| DEFAULT_SCHEDULES_FILE.into())
}

/// Why a sync or its answer failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchedulesError {
    /// The file or the custom resource's properties are wrong: the deploy must fail.
    #[error("{0}")]
    Invalid(String),
    #[error("EventBridge Scheduler refused {0}")]
    Scheduler(String),
    /// Scheduler kept refusing the schedules' execution role until the time budget ran out.
    #[error("{0}")]
    RoleNotUsable(String),
    #[error("the schedule group does not exist")]
    GroupMissing,
    /// CloudFormation's presigned response URL did not take the answer.
    #[error("the answer to CloudFormation could not be sent: {0}")]
    Response(String),
}

/// A Scheduler client from the function's environment (region, credentials, and
/// `AWS_ENDPOINT_URL` for local runs).
pub async fn scheduler_client_from_env() -> aws_sdk_scheduler::Client {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    aws_sdk_scheduler::Client::new(&config)
}
