//! Makes a schedule group hold exactly the file's schedules. Every step is idempotent (an
//! existing group is kept, a schedule already as wanted is not written, a missing one is not
//! an error to delete), so CloudFormation may send the same request again.
//!
//! The functions here carry `schedules_` in their names: tests/serverless/permissions.py
//! follows calls by name, and a common name (`sync`, `delete`) would make every function's
//! code seem to reach these Scheduler calls.

use aws_sdk_scheduler::error::DisplayErrorContext;
use aws_sdk_scheduler::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_scheduler::types::{
    DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, ScheduleState,
    Target,
};
use aws_sdk_scheduler::Client;
use serde_json::Value;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

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

fn error_code<E, R>(error: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    error.as_service_error().and_then(|e| e.code())
}

/// Whether Scheduler refused a schedule's execution role as one it cannot assume. On a first
/// deploy the role was created seconds before, and IAM takes a few seconds to make it usable
/// by the service: AWS answers this until then, so it is worth waiting for. A role that truly
/// lacks the trust gets the same answer: the wait is bounded by [`RolePatience`].
pub fn schedules_role_not_yet_usable(code: Option<&str>, message: Option<&str>) -> bool {
    code == Some("ValidationException")
        && message.is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            m.contains("execution role") && m.contains("assume")
        })
}

/// How long the sync may wait for IAM to make a new role usable by Scheduler: until the
/// custom resource's time budget (the Lambda invocation's remaining time, less what the answer
/// to CloudFormation needs) runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolePatience {
    until: Instant,
}

/// The first wait after a refusal; each next one doubles, up to [`LONGEST_WAIT`]. AWS's
/// propagation takes seconds, so the first tries are close together.
const FIRST_WAIT: Duration = Duration::from_millis(500);
const LONGEST_WAIT: Duration = Duration::from_secs(4);

impl RolePatience {
    /// Retrying until `until`.
    pub fn until(until: Instant) -> RolePatience {
        RolePatience { until }
    }

    /// No retry: the first refusal is the answer.
    pub fn none() -> RolePatience {
        RolePatience {
            until: Instant::now(),
        }
    }

    /// How long to wait before try `attempt + 1` (the first try is attempt 0), or None when
    /// that wait would end past the budget.
    pub fn wait_before_retry(&self, attempt: u32, now: Instant) -> Option<Duration> {
        let wait = FIRST_WAIT
            .saturating_mul(1u32 << attempt.min(16))
            .min(LONGEST_WAIT);
        (now + wait <= self.until).then_some(wait)
    }
}

/// Runs `call` (a Scheduler write naming the role) again while Scheduler refuses the role as
/// not yet assumable and the budget lasts; any other outcome is returned at once. When the
/// budget runs out, the error says so, with how many tries and how long they took.
async fn schedules_with_role_patience<T, E, R, F, Fut>(
    patience: &RolePatience,
    what: &str,
    role_arn: &str,
    call: F,
) -> Result<T, SchedulesError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, R>>>,
{
    schedules_retry_refused_role(
        patience,
        what,
        role_arn,
        call,
        Instant::now,
        tokio::time::sleep,
    )
    .await
}

/// The loop of [`schedules_with_role_patience`], its clock given (tests run it in simulated
/// time).
async fn schedules_retry_refused_role<T, E, R, F, Fut, N, S, SFut>(
    patience: &RolePatience,
    what: &str,
    role_arn: &str,
    mut call: F,
    now: N,
    sleep: S,
) -> Result<T, SchedulesError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, R>>>,
    N: Fn() -> Instant,
    S: Fn(Duration) -> SFut,
    SFut: Future<Output = ()>,
{
    let started = now();
    let mut attempt = 0u32;
    loop {
        let error = match call().await {
            Ok(out) => return Ok(out),
            Err(error) => error,
        };
        let refused_role = error
            .as_service_error()
            .is_some_and(|e| schedules_role_not_yet_usable(e.code(), e.message()));
        if !refused_role {
            return Err(failed(what, DisplayErrorContext(error)));
        }
        match patience.wait_before_retry(attempt, now()) {
            Some(wait) => {
                sleep(wait).await;
                attempt += 1;
            }
            None => {
                return Err(SchedulesError::RoleNotUsable(format!(
                    "{what}: EventBridge Scheduler still could not assume the execution role \
                     {role_arn} after {} tries over {:.1} s, and the custom resource's time ran \
                     out. A role created by this deploy takes IAM a few seconds to reach \
                     Scheduler: deploying again usually succeeds; otherwise check that the \
                     role's trust policy allows scheduler.amazonaws.com. Last answer: {}",
                    attempt + 1,
                    (now() - started).as_secs_f64(),
                    DisplayErrorContext(error)
                )))
            }
        }
    }
}

/// The group's schedules as wanted: created, updated or deleted so that they match `desired`.
pub async fn schedules_sync_group(
    client: &Client,
    group: &str,
    targets: &ScheduleTargets,
    desired: &[DesiredSchedule],
    patience: &RolePatience,
) -> Result<SyncReport, SchedulesError> {
    schedules_ensure_group(client, group).await?;
    let existing = schedules_in_group(client, group).await?;
    let mut report = SyncReport::default();
    for schedule in desired {
        if !existing.contains(&schedule.name) {
            schedules_write(client, group, targets, schedule, false, patience).await?;
            report.created.push(schedule.name.clone());
        } else if schedules_stands_as_wanted(client, group, targets, schedule).await? {
            report.unchanged.push(schedule.name.clone());
        } else {
            schedules_write(client, group, targets, schedule, true, patience).await?;
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

/// Creates the schedule, or replaces it whole (UpdateSchedule sets every field). Both name the
/// role, so both may meet a role IAM has not yet made usable.
async fn schedules_write(
    client: &Client,
    group: &str,
    targets: &ScheduleTargets,
    schedule: &DesiredSchedule,
    replace: bool,
    patience: &RolePatience,
) -> Result<(), SchedulesError> {
    let window = FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .map_err(|e| failed("building a time window", e))?;
    let target = target_of(targets, schedule)?;
    let verb = if replace { "updating" } else { "creating" };
    let what = format!("{verb} schedule '{}' in group '{group}'", schedule.name);
    let role = targets.role_arn.as_str();
    if replace {
        let request = client
            .update_schedule()
            .name(&schedule.name)
            .group_name(group)
            .schedule_expression(&schedule.expression)
            .schedule_expression_timezone(&schedule.timezone)
            .state(state_of(schedule))
            .set_description(schedule.description.clone())
            .flexible_time_window(window)
            .target(target);
        schedules_with_role_patience(patience, &what, role, || request.clone().send()).await?;
    } else {
        let request = client
            .create_schedule()
            .name(&schedule.name)
            .group_name(group)
            .schedule_expression(&schedule.expression)
            .schedule_expression_timezone(&schedule.timezone)
            .state(state_of(schedule))
            .set_description(schedule.description.clone())
            .flexible_time_window(window)
            .target(target);
        schedules_with_role_patience(patience, &what, role, || request.clone().send()).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_scheduler::error::ErrorMetadata;
    use aws_sdk_scheduler::operation::create_schedule::{
        CreateScheduleError, CreateScheduleOutput,
    };
    use aws_sdk_scheduler::types::error::ValidationException;
    use std::cell::Cell;

    /// AWS's answer while a new role is not yet usable by Scheduler.
    const NOT_YET: &str =
        "The execution role you provide must allow AWS EventBridge Scheduler to assume the role.";
    const ROLE: &str = "arn:aws:iam::123456789012:role/invoke";

    /// The error the SDK makes of a ValidationException answer (code and message in its
    /// metadata, as its deserializer puts them).
    fn refusal(message: &str) -> SdkError<CreateScheduleError, ()> {
        let meta = ErrorMetadata::builder()
            .code("ValidationException")
            .message(message)
            .build();
        let error = ValidationException::builder()
            .message(message)
            .meta(meta)
            .build()
            .unwrap();
        SdkError::service_error(CreateScheduleError::ValidationException(error), ())
    }

    fn created() -> CreateScheduleOutput {
        CreateScheduleOutput::builder()
            .schedule_arn("arn:aws:scheduler:us-east-1:123456789012:schedule/g/s")
            .build()
            .unwrap()
    }

    #[test]
    fn only_the_refused_role_is_waited_for() {
        assert!(schedules_role_not_yet_usable(
            Some("ValidationException"),
            Some(NOT_YET)
        ));
        // Other validation failures are the request's fault: waiting changes nothing.
        for other in [
            "Invalid Schedule Expression daily.",
            "Provided ScheduleExpressionTimezone Mars/Olympus is not supported.",
        ] {
            assert!(!schedules_role_not_yet_usable(
                Some("ValidationException"),
                Some(other)
            ));
        }
        assert!(!schedules_role_not_yet_usable(
            Some("ResourceNotFoundException"),
            Some(NOT_YET)
        ));
        assert!(!schedules_role_not_yet_usable(None, None));
        let error = refusal(NOT_YET);
        let service = error.as_service_error().unwrap();
        assert!(schedules_role_not_yet_usable(
            service.code(),
            service.message()
        ));
    }

    #[test]
    fn waits_double_up_to_a_cap_and_stop_at_the_budget() {
        let now = Instant::now();
        let patience = RolePatience::until(now + Duration::from_secs(10));
        let waits: Vec<_> = (0..6)
            .map(|a| patience.wait_before_retry(a, now).unwrap().as_millis())
            .collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 4000, 4000]);
        // A wait that would end past the budget is not taken.
        assert_eq!(
            patience.wait_before_retry(0, now + Duration::from_millis(9_600)),
            None
        );
        assert_eq!(
            patience.wait_before_retry(3, now + Duration::from_secs(6)),
            Some(Duration::from_secs(4))
        );
        assert_eq!(
            patience.wait_before_retry(3, now + Duration::from_millis(6_001)),
            None
        );
        assert_eq!(
            RolePatience::none().wait_before_retry(0, Instant::now()),
            None
        );
    }

    /// A clock that moves only when the loop sleeps.
    struct Simulated {
        start: Instant,
        elapsed: Cell<Duration>,
    }

    impl Simulated {
        fn new() -> Simulated {
            Simulated {
                start: Instant::now(),
                elapsed: Cell::new(Duration::ZERO),
            }
        }
        fn now(&self) -> Instant {
            self.start + self.elapsed.get()
        }
        fn sleep(&self, wait: Duration) -> std::future::Ready<()> {
            self.elapsed.set(self.elapsed.get() + wait);
            std::future::ready(())
        }
    }

    #[tokio::test]
    async fn a_role_that_becomes_usable_within_the_budget_succeeds() {
        let calls = Cell::new(0);
        let clock = Simulated::new();
        let patience = RolePatience::until(clock.now() + Duration::from_secs(25));
        let out = schedules_retry_refused_role(
            &patience,
            "creating schedule 's'",
            ROLE,
            || {
                calls.set(calls.get() + 1);
                let answer = if calls.get() <= 3 {
                    Err(refusal(NOT_YET))
                } else {
                    Ok(created())
                };
                async move { answer }
            },
            || clock.now(),
            |wait| clock.sleep(wait),
        )
        .await
        .expect("the fourth try succeeds");
        assert!(out.schedule_arn().ends_with("/s"));
        assert_eq!(calls.get(), 4);
        // 0.5 + 1 + 2 s of waiting.
        assert_eq!(clock.elapsed.get(), Duration::from_millis(3_500));
    }

    #[tokio::test]
    async fn a_role_still_refused_when_the_budget_ends_fails_with_the_reason() {
        let calls = Cell::new(0);
        let clock = Simulated::new();
        let patience = RolePatience::until(clock.now() + Duration::from_secs(10));
        let error = schedules_retry_refused_role(
            &patience,
            "creating schedule 's' in group 'g'",
            ROLE,
            || {
                calls.set(calls.get() + 1);
                async { Err::<CreateScheduleOutput, _>(refusal(NOT_YET)) }
            },
            || clock.now(),
            |wait| clock.sleep(wait),
        )
        .await
        .unwrap_err();
        // Waits 0.5, 1, 2, 4 (7.5 s); the next 4 s would end past 10 s.
        assert_eq!(calls.get(), 5);
        assert_eq!(clock.elapsed.get(), Duration::from_millis(7_500));
        let SchedulesError::RoleNotUsable(reason) = &error else {
            panic!("{error:?}");
        };
        for part in [
            "creating schedule 's' in group 'g'",
            ROLE,
            "after 5 tries over 7.5 s",
            "deploying again",
            NOT_YET,
        ] {
            assert!(reason.contains(part), "{part} in {reason}");
        }
    }

    #[tokio::test]
    async fn another_refusal_or_no_budget_fails_at_once() {
        let clock = Simulated::new();
        for (message, patience) in [
            (
                "Invalid Schedule Expression daily.",
                RolePatience::until(clock.now() + Duration::from_secs(25)),
            ),
            (NOT_YET, RolePatience::none()),
        ] {
            let calls = Cell::new(0);
            let error = schedules_retry_refused_role(
                &patience,
                "creating schedule 's'",
                ROLE,
                || {
                    calls.set(calls.get() + 1);
                    async { Err::<CreateScheduleOutput, _>(refusal(message)) }
                },
                || clock.now(),
                |wait| clock.sleep(wait),
            )
            .await
            .unwrap_err();
            assert_eq!(calls.get(), 1);
            assert!(error.to_string().contains(message), "{error}");
        }
        assert_eq!(clock.elapsed.get(), Duration::ZERO);
    }
}
