//! Makes a schedule group hold exactly the file's schedules. Every step is idempotent (an
//! existing group is kept, a schedule already as wanted is not written, a missing one is not
//! an error to delete), so CloudFormation may send the same request again.
//!
//! The functions here carry `schedules_` in their names: tests/serverless/permissions.py
//! follows calls by name, and a common name (`sync`, `delete`) would make every function's
//! code seem to reach these Scheduler calls.

use aws_sdk_scheduler::error::DisplayErrorContext;
use aws_sdk_scheduler::types::{
    DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, ScheduleState,
    Target,
};
use aws_sdk_scheduler::Client;
use serde_json::Value;

use crate::file::DesiredSchedule;
use crate::SchedulesError;

/// Where the schedules send their firings: the schedule function, the role Scheduler assumes
/// to invoke it, and the queue a firing it could not deliver goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleTargets {
    pub function_arn: String,
    pub role_arn: String,
    pub dead_letter_arn: Option<String>,
}

/// What one sync did, schedule names in each list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    pub deleted: Vec<String>,
}

/// As the template's other schedules: Scheduler retries a firing for a day before giving it to
/// the dead-letter queue.
const RETRY_ATTEMPTS: i32 = 185;
const RETRY_AGE_SECONDS: i32 = 86_400;

fn failed(what: &str, error: impl std::fmt::Display) -> SchedulesError {
    SchedulesError::Scheduler(format!("{what}: {error}"))
}

fn error_code<E, R>(error: &aws_sdk_scheduler::error::SdkError<E, R>) -> Option<&str>
where
    E: aws_sdk_scheduler::error::ProvideErrorMetadata,
{
    error.as_service_error().and_then(|e| e.code())
}

/// The group's schedules as wanted: created, updated or deleted so that they match `desired`.
pub async fn schedules_sync_group(
    client: &Client,
    group: &str,
    targets: &ScheduleTargets,
    desired: &[DesiredSchedule],
) -> Result<SyncReport, SchedulesError> {
    schedules_ensure_group(client, group).await?;
    let existing = schedules_in_group(client, group).await?;
    let mut report = SyncReport::default();
    for schedule in desired {
        if !existing.contains(&schedule.name) {
            schedules_write(client, group, targets, schedule, false).await?;
            report.created.push(schedule.name.clone());
        } else if schedules_stands_as_wanted(client, group, targets, schedule).await? {
            report.unchanged.push(schedule.name.clone());
        } else {
            schedules_write(client, group, targets, schedule, true).await?;
            report.updated.push(schedule.name.clone());
        }
    }
    for name in existing {
        if !desired.iter().any(|s| s.name == name) {
            schedules_delete_one(client, group, &name).await?;
            report.deleted.push(name);
        }
    }
    Ok(report)
}

/// Deletes the group's schedules, then the group (the stack's delete). A group already gone
/// is not an error.
pub async fn schedules_delete_group(
    client: &Client,
    group: &str,
) -> Result<Vec<String>, SchedulesError> {
    match client.get_schedule_group().name(group).send().await {
        Ok(_) => {}
        Err(e) if error_code(&e) == Some("ResourceNotFoundException") => return Ok(Vec::new()),
        Err(e) => {
            return Err(failed(
                &format!("reading schedule group '{group}'"),
                DisplayErrorContext(e),
            ))
        }
    }
    let names = match schedules_in_group(client, group).await {
        Ok(names) => names,
        Err(SchedulesError::GroupMissing) => return Ok(Vec::new()),
        Err(other) => return Err(other),
    };
    for name in &names {
        schedules_delete_one(client, group, name).await?;
    }
    match client.delete_schedule_group().name(group).send().await {
        Ok(_) => Ok(names),
        Err(e) if error_code(&e) == Some("ResourceNotFoundException") => Ok(names),
        Err(e) => Err(failed(
            &format!("deleting schedule group '{group}'"),
            DisplayErrorContext(e),
        )),
    }
}

/// Looks before creating: AWS refuses to create a group twice (ConflictException, taken as
/// success below), but moto replaces the group, dropping its schedules.
async fn schedules_ensure_group(client: &Client, group: &str) -> Result<(), SchedulesError> {
    match client.get_schedule_group().name(group).send().await {
        Ok(_) => return Ok(()),
        Err(e) if error_code(&e) == Some("ResourceNotFoundException") => {}
        Err(e) => {
            return Err(failed(
                &format!("reading schedule group '{group}'"),
                DisplayErrorContext(e),
            ))
        }
    }
    match client.create_schedule_group().name(group).send().await {
        Ok(_) => Ok(()),
        Err(e) if error_code(&e) == Some("ConflictException") => Ok(()),
        Err(e) => Err(failed(
            &format!("creating schedule group '{group}'"),
            DisplayErrorContext(e),
        )),
    }
}

/// The names of the group's schedules (every page).
async fn schedules_in_group(client: &Client, group: &str) -> Result<Vec<String>, SchedulesError> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_schedules()
            .group_name(group)
            .set_next_token(token.take())
            .send()
            .await;
        let page = match page {
            Ok(page) => page,
            Err(e) if error_code(&e) == Some("ResourceNotFoundException") => {
                return Err(SchedulesError::GroupMissing)
            }
            Err(e) => {
                return Err(failed(
                    &format!("listing the schedules of group '{group}'"),
                    DisplayErrorContext(e),
                ))
            }
        };
        for summary in page.schedules() {
            // A group filter the service ignored must not let the sync delete other groups'
            // schedules.
            if summary.group_name().is_none_or(|g| g == group) {
                if let Some(name) = summary.name() {
                    names.push(name.to_string());
                }
            }
        }
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => return Ok(names),
        }
    }
}

fn target_of(
    targets: &ScheduleTargets,
    schedule: &DesiredSchedule,
) -> Result<Target, SchedulesError> {
    let mut target = Target::builder()
        .arn(&targets.function_arn)
        .role_arn(&targets.role_arn)
        .input(schedule.target_input.to_string())
        .retry_policy(
            RetryPolicy::builder()
                .maximum_retry_attempts(RETRY_ATTEMPTS)
                .maximum_event_age_in_seconds(RETRY_AGE_SECONDS)
                .build(),
        );
    if let Some(queue) = &targets.dead_letter_arn {
        target = target.dead_letter_config(DeadLetterConfig::builder().arn(queue).build());
    }
    target.build().map_err(|e| failed("building a target", e))
}

fn state_of(schedule: &DesiredSchedule) -> ScheduleState {
    if schedule.enabled {
        ScheduleState::Enabled
    } else {
        ScheduleState::Disabled
    }
}

/// Creates the schedule, or replaces it whole (UpdateSchedule sets every field).
async fn schedules_write(
    client: &Client,
    group: &str,
    targets: &ScheduleTargets,
    schedule: &DesiredSchedule,
    replace: bool,
) -> Result<(), SchedulesError> {
    let window = FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .map_err(|e| failed("building a time window", e))?;
    let target = target_of(targets, schedule)?;
    let what = |verb: &str| format!("{verb} schedule '{}' in group '{group}'", schedule.name);
    if replace {
        client
            .update_schedule()
            .name(&schedule.name)
            .group_name(group)
            .schedule_expression(&schedule.expression)
            .schedule_expression_timezone(&schedule.timezone)
            .state(state_of(schedule))
            .set_description(schedule.description.clone())
            .flexible_time_window(window)
            .target(target)
            .send()
            .await
            .map_err(|e| failed(&what("updating"), DisplayErrorContext(e)))?;
    } else {
        client
            .create_schedule()
            .name(&schedule.name)
            .group_name(group)
            .schedule_expression(&schedule.expression)
            .schedule_expression_timezone(&schedule.timezone)
            .state(state_of(schedule))
            .set_description(schedule.description.clone())
            .flexible_time_window(window)
            .target(target)
            .send()
            .await
            .map_err(|e| failed(&what("creating"), DisplayErrorContext(e)))?;
    }
    Ok(())
}

/// Whether the stored schedule already has every field the sync sets as wanted.
async fn schedules_stands_as_wanted(
    client: &Client,
    group: &str,
    targets: &ScheduleTargets,
    schedule: &DesiredSchedule,
) -> Result<bool, SchedulesError> {
    let stored = client
        .get_schedule()
        .name(&schedule.name)
        .group_name(group)
        .send()
        .await
        .map_err(|e| {
            failed(
                &format!("reading schedule '{}' in group '{group}'", schedule.name),
                DisplayErrorContext(e),
            )
        })?;
    let Some(target) = stored.target() else {
        return Ok(false);
    };
    // Compared as JSON: the service may keep the text with other spacing.
    let input: Option<Value> = target.input().and_then(|t| serde_json::from_str(t).ok());
    let retry = target.retry_policy();
    Ok(
        stored.schedule_expression() == Some(schedule.expression.as_str())
            && stored.schedule_expression_timezone().unwrap_or("UTC") == schedule.timezone
            && stored.state() == Some(&state_of(schedule))
            && stored.description().filter(|d| !d.is_empty()) == schedule.description.as_deref()
            && target.arn() == targets.function_arn
            && target.role_arn() == targets.role_arn
            && input.as_ref() == Some(&schedule.target_input)
            && target.dead_letter_config().and_then(|d| d.arn())
                == targets.dead_letter_arn.as_deref()
            && retry.and_then(|r| r.maximum_retry_attempts()) == Some(RETRY_ATTEMPTS)
            && retry.and_then(|r| r.maximum_event_age_in_seconds()) == Some(RETRY_AGE_SECONDS),
    )
}

async fn schedules_delete_one(
    client: &Client,
    group: &str,
    name: &str,
) -> Result<(), SchedulesError> {
    match client
        .delete_schedule()
        .name(name)
        .group_name(group)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if error_code(&e) == Some("ResourceNotFoundException") => Ok(()),
        Err(e) => Err(failed(
            &format!("deleting schedule '{name}' in group '{group}'"),
            DisplayErrorContext(e),
        )),
    }
}
