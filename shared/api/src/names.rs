//! Names and ARNs in AWS's shapes.

use serde_json::Value;

use crate::ApiError;

/// AWS's rule for state machine, execution and activity names: 1 to 80 characters, none of
/// whitespace, `< > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : /`, nor control characters.
pub fn is_valid_name(name: &str) -> bool {
    let count = name.chars().count();
    (1..=80).contains(&count)
        && name.chars().all(|c| {
            !c.is_whitespace()
                && !c.is_control()
                && !matches!(
                    c,
                    '<' | '>'
                        | '{'
                        | '}'
                        | '['
                        | ']'
                        | '?'
                        | '*'
                        | '"'
                        | '#'
                        | '%'
                        | '\\'
                        | '^'
                        | '|'
                        | '~'
                        | '`'
                        | '$'
                        | '&'
                        | ','
                        | ';'
                        | ':'
                        | '/'
                )
        })
}

/// StartExecution's `input`: JSON text, `{}` when absent, at most `max_bytes` long. Returns
/// the text as given and its value, or AWS's `InvalidExecutionInput`.
pub fn execution_input(text: Option<&str>, max_bytes: usize) -> Result<(String, Value), ApiError> {
    let text = text.unwrap_or("{}");
    if text.trim().is_empty() {
        return Err(ApiError::new(
            "InvalidExecutionInput",
            "Invalid State Machine Execution Input: 'Invalid execution input.'",
        ));
    }
    let value = serde_json::from_str(text).map_err(|e| {
        ApiError::new(
            "InvalidExecutionInput",
            format!("Invalid State Machine Execution Input: '{e}'"),
        )
    })?;
    if text.len() > max_bytes {
        return Err(ApiError::new(
            "InvalidExecutionInput",
            format!(
                "Invalid State Machine Execution Input: 'The input exceeds the maximum size of {max_bytes} bytes'"
            ),
        ));
    }
    Ok((text.to_string(), value))
}

pub fn check_name(name: &str) -> Result<(), ApiError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(ApiError::new(
            "InvalidName",
            format!("Invalid Name: '{name}'"),
        ))
    }
}

/// The parts of an `arn:aws:states:<region>:<account>:<kind>:<name>[:<more>]` ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatesArn<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub kind: &'a str,
    /// Everything after the kind: `name` or `machine:execution`.
    pub rest: &'a str,
}

pub fn parse_arn(arn: &str) -> Option<StatesArn<'_>> {
    let mut parts = arn.splitn(7, ':');
    let (Some("arn"), Some(_partition), Some("states")) =
        (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let region = parts.next()?;
    let account = parts.next()?;
    let kind = parts.next()?;
    let rest = parts.next()?;
    if region.is_empty() || account.is_empty() || rest.is_empty() {
        return None;
    }
    Some(StatesArn {
        region,
        account,
        kind,
        rest,
    })
}

pub fn invalid_arn(arn: &str) -> ApiError {
    ApiError::new("InvalidArn", format!("Invalid Arn: '{arn}'"))
}

/// Checks a state machine ARN; version and alias ARNs (`...:name:1`) are reported as not
/// existing, as Cairn has no versions yet.
pub fn check_state_machine_arn(arn: &str) -> Result<(), ApiError> {
    match parse_arn(arn) {
        Some(parsed) if parsed.kind == "stateMachine" => {
            if parsed.rest.contains(':') {
                return Err(machine_does_not_exist(arn));
            }
            Ok(())
        }
        _ => Err(invalid_arn(arn)),
    }
}

/// Checks an execution ARN. Express executions (`...:express:...`) are not kept, and AWS
/// answers their Describe/Stop/History calls with this InvalidArn.
pub fn check_execution_arn(arn: &str) -> Result<(), ApiError> {
    match parse_arn(arn) {
        Some(parsed) if parsed.kind == "execution" && parsed.rest.contains(':') => Ok(()),
        Some(parsed) if parsed.kind == "express" => Err(ApiError::new(
            "InvalidArn",
            "Invalid Arn: 'Resource type not valid in this context: express'",
        )),
        _ => Err(invalid_arn(arn)),
    }
}

pub fn check_activity_arn(arn: &str) -> Result<(), ApiError> {
    match parse_arn(arn) {
        Some(parsed) if parsed.kind == "activity" && !parsed.rest.contains(':') => Ok(()),
        _ => Err(invalid_arn(arn)),
    }
}

pub fn machine_does_not_exist(arn: &str) -> ApiError {
    ApiError::new(
        "StateMachineDoesNotExist",
        format!("State Machine Does Not Exist: '{arn}'"),
    )
}

pub fn execution_does_not_exist(arn: &str) -> ApiError {
    ApiError::new(
        "ExecutionDoesNotExist",
        format!("Execution Does Not Exist: '{arn}'"),
    )
}

pub fn activity_does_not_exist(arn: &str) -> ApiError {
    ApiError::new(
        "ActivityDoesNotExist",
        format!("Activity Does Not Exist: '{arn}'"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_aws_rules() {
        for bad in [
            "",
            "a b",
            "a:b",
            "a$b",
            "a\\b",
            "\u{0}a",
            "a\u{7f}",
            "a\u{1f}",
            "a{b",
            &"x".repeat(81),
        ] {
            assert!(!is_valid_name(bad), "{bad:?} should be invalid");
        }
        for good in ["a", "Hello-World_1.2", "é-ok", &"x".repeat(80)] {
            assert!(is_valid_name(good), "{good:?} should be valid");
        }
    }

    #[test]
    fn arns_are_classified() {
        assert!(check_state_machine_arn("arn:aws:states:us-east-1:1:stateMachine:m").is_ok());
        assert_eq!(
            check_state_machine_arn("arn:aws:states:us-east-1:1:stateMachine:m:2")
                .map_err(|e| e.error_type),
            Err("StateMachineDoesNotExist".to_string())
        );
        assert_eq!(
            check_state_machine_arn("not-an-arn").map_err(|e| e.message),
            Err("Invalid Arn: 'not-an-arn'".to_string())
        );
        assert!(check_execution_arn("arn:aws:states:us-east-1:1:execution:m:e").is_ok());
        assert_eq!(
            check_execution_arn("arn:aws:states:us-east-1:1:express:m:e:u").map_err(|e| e.message),
            Err("Invalid Arn: 'Resource type not valid in this context: express'".to_string())
        );
    }
}
