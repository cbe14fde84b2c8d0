//! The schedules file: what users write (functions/README.md, "Schedules"), checked before
//! anything reaches EventBridge Scheduler, so a typo fails the deploy with a message naming the
//! schedule instead of half-syncing the group.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::SchedulesError;

/// The whole file: `{"schedules": [...]}` (an object, so later settings have a place).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulesFile {
    pub schedules: Vec<ScheduleSpec>,
}

/// One schedule as the file writes it. Unknown fields are refused: a misspelt `timeZone`
/// silently ignored would fire the schedule in UTC.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScheduleSpec {
    /// The schedule's name in the group, and the first part of each execution's name.
    pub name: String,
    /// `cron(...)`, `rate(...)` or `at(...)`, as EventBridge Scheduler takes them.
    pub expression: String,
    /// IANA time zone of a cron or at expression; UTC when absent.
    #[serde(default)]
    pub timezone: Option<String>,
    /// The state machine (Standard or Express): its name in the stack's account and region, or
    /// its ARN.
    pub state_machine: String,
    /// The execution input (any JSON value); `{}` when absent.
    #[serde(default)]
    pub input: Option<Value>,
    /// Whether it fires; a disabled schedule is kept in the group.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    #[serde(default)]
    pub description: Option<String>,
}

fn enabled_by_default() -> bool {
    true
}

/// Scheduler's limits on a schedule name (and a group name): 1 to 64 of `[0-9a-zA-Z-_.]`.
pub const NAME_LIMIT: usize = 64;
/// Scheduler's limit on a description.
const DESCRIPTION_LIMIT: usize = 512;
/// Scheduler's limit on a target's input text.
const INPUT_LIMIT: usize = 8192;

/// What a schedule's name must be, and a group's.
pub fn check_name(what: &str, name: &str) -> Result<(), SchedulesError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > NAME_LIMIT || !name.chars().all(allowed) {
        return Err(SchedulesError::Invalid(format!(
            "{what} '{name}' must be 1 to {NAME_LIMIT} letters, digits, '-', '_' or '.'"
        )));
    }
    Ok(())
}

/// Where the stack runs, from its ARN (`arn:aws:cloudformation:eu-west-1:123456789012:stack/...`):
/// a state machine named without an ARN is in the same partition, region and account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackPlace {
    pub partition: String,
    pub region: String,
    pub account: String,
}

impl StackPlace {
    pub fn from_arn(arn: &str) -> Result<StackPlace, SchedulesError> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        match parts.as_slice() {
            ["arn", partition, _, region, account, _]
                if !partition.is_empty() && !region.is_empty() && !account.is_empty() =>
            {
                Ok(StackPlace {
                    partition: partition.to_string(),
                    region: region.to_string(),
                    account: account.to_string(),
                })
            }
            _ => Err(SchedulesError::Invalid(format!(
                "'{arn}' is not an ARN with a partition, region and account"
            ))),
        }
    }

    fn state_machine_arn(&self, name_or_arn: &str) -> String {
        if name_or_arn.starts_with("arn:") {
            name_or_arn.to_string()
        } else {
            format!(
                "arn:{}:states:{}:{}:stateMachine:{name_or_arn}",
                self.partition, self.region, self.account
            )
        }
    }
}

/// A schedule as it must stand in the group: every field Scheduler stores that the sync sets,
/// so "already as wanted" is one comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredSchedule {
    pub name: String,
    pub expression: String,
    pub timezone: String,
    pub enabled: bool,
    pub description: Option<String>,
    /// The target input the schedule function reads (`ScheduledStart` in functions/core).
    pub target_input: Value,
}

impl SchedulesFile {
    /// Parses and checks the file's text.
    pub fn parse(text: &str) -> Result<SchedulesFile, SchedulesError> {
        let file: SchedulesFile = serde_json::from_str(text)
            .map_err(|e| SchedulesError::Invalid(format!("the schedules file: {e}")))?;
        let mut names = BTreeSet::new();
        for spec in &file.schedules {
            spec.check()?;
            if !names.insert(spec.name.as_str()) {
                return Err(SchedulesError::Invalid(format!(
                    "schedule '{}' is defined twice",
                    spec.name
                )));
            }
        }
        Ok(file)
    }

    /// The schedules as the group must hold them.
    pub fn desired(&self, place: &StackPlace) -> Vec<DesiredSchedule> {
        self.schedules.iter().map(|s| s.desired(place)).collect()
    }
}

impl ScheduleSpec {
    fn check(&self) -> Result<(), SchedulesError> {
        check_name("schedule name", &self.name)?;
        let invalid =
            |why: String| SchedulesError::Invalid(format!("schedule '{}': {why}", self.name));
        let expression = self.expression.trim();
        let known = ["cron(", "rate(", "at("]
            .iter()
            .any(|prefix| expression.starts_with(prefix));
        if !known || !expression.ends_with(')') {
            return Err(invalid(format!(
                "expression '{}' is not cron(...), rate(...) or at(...)",
                self.expression
            )));
        }
        if self.state_machine.trim().is_empty() {
            return Err(invalid("stateMachine is empty".into()));
        }
        if let Some(zone) = &self.timezone {
            if zone.trim().is_empty() || zone.len() > 50 {
                return Err(invalid(format!(
                    "timezone '{zone}' is not a time zone name"
                )));
            }
        }
        if let Some(description) = &self.description {
            if description.len() > DESCRIPTION_LIMIT {
                return Err(invalid(format!(
                    "the description is longer than {DESCRIPTION_LIMIT} characters"
                )));
            }
        }
        // The placeholders Scheduler fills in are longer once filled, but not by much: the
        // text sent must fit Scheduler's limit as written.
        let text = self
            .desired(&StackPlace {
                partition: "aws".into(),
                region: "us-east-1".into(),
                account: "123456789012".into(),
            })
            .target_input
            .to_string();
        if text.len() > INPUT_LIMIT {
            return Err(invalid(format!(
                "its input makes a target input of {} bytes, over Scheduler's {INPUT_LIMIT}",
                text.len()
            )));
        }
        Ok(())
    }

    fn desired(&self, place: &StackPlace) -> DesiredSchedule {
        DesiredSchedule {
            name: self.name.clone(),
            expression: self.expression.trim().to_string(),
            timezone: self.timezone.clone().unwrap_or_else(|| "UTC".into()),
            enabled: self.enabled,
            description: self.description.clone(),
            // Scheduler fills in the two context attributes on each firing: the schedule
            // function names the execution after them, so a retried firing starts nothing new.
            target_input: json!({
                "stateMachineArn": place.state_machine_arn(&self.state_machine),
                "input": self.input.clone().unwrap_or_else(|| json!({})),
                "scheduleArn": "<aws.scheduler.schedule-arn>",
                "scheduledTime": "<aws.scheduler.scheduled-time>",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place() -> StackPlace {
        StackPlace::from_arn("arn:aws-cn:cloudformation:cn-north-1:111122223333:stack/s/guid")
            .unwrap()
    }

    #[test]
    fn a_schedule_gets_defaults_and_a_state_machine_arn() {
        let file = SchedulesFile::parse(
            r#"{"schedules": [
                {"name": "nightly", "expression": "cron(0 6 * * ? *)", "stateMachine": "report"},
                {"name": "hourly.cleanup", "expression": "rate(1 hour)", "timezone": "Europe/Paris",
                 "stateMachine": "arn:aws:states:eu-west-1:1:stateMachine:clean",
                 "input": {"olderThanDays": 30}, "enabled": false, "description": "old rows"}
            ]}"#,
        )
        .unwrap();
        let desired = file.desired(&place());
        assert_eq!(desired[0].timezone, "UTC");
        assert!(desired[0].enabled);
        assert_eq!(
            desired[0].target_input["stateMachineArn"],
            "arn:aws-cn:states:cn-north-1:111122223333:stateMachine:report"
        );
        assert_eq!(desired[0].target_input["input"], json!({}));
        assert_eq!(
            desired[1].target_input["stateMachineArn"],
            "arn:aws:states:eu-west-1:1:stateMachine:clean"
        );
        assert_eq!(desired[1].target_input["input"]["olderThanDays"], 30);
        assert_eq!(
            desired[1].target_input["scheduledTime"],
            "<aws.scheduler.scheduled-time>"
        );
        assert!(!desired[1].enabled);
        assert_eq!(desired[1].description.as_deref(), Some("old rows"));
    }

    #[test]
    fn mistakes_are_refused_with_the_schedule_named() {
        let refused = |text: &str| SchedulesFile::parse(text).unwrap_err().to_string();
        let one = |fields: &str| {
            refused(&format!(
                r#"{{"schedules": [{{"name": "s1", "stateMachine": "m", {fields}}}]}}"#
            ))
        };
        assert!(one(r#""expression": "every day""#).contains("schedule 's1'"));
        assert!(one(r#""expression": "rate(1 day)", "timeZone": "UTC""#).contains("timeZone"));
        assert!(refused(
            r#"{"schedules": [{"name": "a b", "expression": "rate(1 day)", "stateMachine": "m"}]}"#
        )
        .contains("'a b'"));
        let twice = r#"{"schedules": [
            {"name": "x", "expression": "rate(1 day)", "stateMachine": "m"},
            {"name": "x", "expression": "rate(2 days)", "stateMachine": "m"}]}"#;
        assert!(refused(twice).contains("defined twice"));
        let big = format!(
            r#""expression": "rate(1 day)", "input": "{}""#,
            "x".repeat(9000)
        );
        assert!(one(&big).contains("over Scheduler's"));
        assert!(SchedulesFile::parse(r#"[]"#).is_err());
        assert!(SchedulesFile::parse(r#"{"schedules": []}"#).is_ok());
    }

    #[test]
    fn a_stack_arn_gives_the_place() {
        assert_eq!(place().account, "111122223333");
        assert!(StackPlace::from_arn("not-an-arn").is_err());
    }
}
