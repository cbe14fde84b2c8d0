//! Names and ARNs in AWS's shapes.

use serde_json::Value;

use crate::ApiError;

/// AWS's rule for state machine, execution and activity names: 1 to 80 characters, none of
/// whitespace, `< > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : /`, nor control characters
/// (U+0000-001F, U+007F-009F and, in AWS's list, U+FFFE-FFFF), surrogates (U+D800-DFFF) or
/// U+10FFFF. A Rust string holds no surrogate: [`parse_request`] reads an unpaired one as
/// U+FFFF, which this refuses in its place.
pub fn is_valid_name(name: &str) -> bool {
    let count = name.chars().count();
    (1..=80).contains(&count)
        && name.chars().all(|c| {
            !c.is_whitespace()
                && !c.is_control()
                && !matches!(c, '\u{FFFE}' | '\u{FFFF}' | '\u{10FFFF}')
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

/// A request body as AWS reads it. JSON text may escape an unpaired surrogate (`"\ud800"`),
/// which AWS's parser takes and its name rules then refuse (InvalidName), but which no Rust
/// string can hold: serde_json refuses the whole body. Such a body is read again with each
/// unpaired surrogate as U+FFFF, a noncharacter AWS's names refuse too, so the request gets
/// the answer AWS gives instead of a SerializationException. The mended body is used only
/// when its `name` carries the replacement, so it is refused before anything is kept: a
/// surrogate elsewhere (a payload) stays a SerializationException rather than being stored
/// altered. Every other body is read as is.
pub fn parse_request(body: &[u8]) -> Result<Value, serde_json::Error> {
    match serde_json::from_slice(body) {
        Ok(value) => Ok(value),
        Err(error) => {
            let mended = std::str::from_utf8(body)
                .ok()
                .and_then(unpaired_surrogates_replaced)
                .and_then(|text| serde_json::from_str::<Value>(&text).ok());
            match mended {
                Some(value)
                    if value
                        .get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|name| name.contains('\u{FFFF}')) =>
                {
                    Ok(value)
                }
                _ => Err(error),
            }
        }
    }
}

/// `text` with every `\uD800`-`\uDFFF` escape that is not half of a pair written `\uFFFF`;
/// `None` when there is none. Backslashes occur only inside JSON strings, where each starts
/// an escape, so escapes are found without following the strings.
fn unpaired_surrogates_replaced(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let code_at = |at: usize| -> Option<u32> {
        if bytes.get(at) != Some(&b'\\') || bytes.get(at + 1) != Some(&b'u') {
            return None;
        }
        let hex = text.get(at + 2..at + 6)?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(hex, 16).ok()
    };
    let mut out = String::new();
    let (mut copied, mut replaced) = (0, false);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        let Some(code) = code_at(i) else {
            // `\\`, `\"` and the like: the escaped character is not an escape's start.
            i += 2;
            continue;
        };
        let lone = match code {
            0xD800..=0xDBFF => {
                if code_at(i + 6).is_some_and(|next| (0xDC00..=0xDFFF).contains(&next)) {
                    i += 12;
                    continue;
                }
                true
            }
            0xDC00..=0xDFFF => true,
            _ => false,
        };
        if lone {
            out.push_str(&text[copied..i]);
            out.push_str("\\uFFFF");
            copied = i + 6;
            replaced = true;
        }
        i += 6;
    }
    if !replaced {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
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

/// InvalidArn for an ARN Cairn cannot read. Text that does not even start as an ARN is
/// named as AWS names it ("Invalid Arn: 'Invalid ARN prefix: abc'", as AWS answers
/// ListExecutions, DescribeStateMachine and StopExecution with a bare name).
pub fn invalid_arn(arn: &str) -> ApiError {
    if !arn.starts_with("arn:") {
        return ApiError::new(
            "InvalidArn",
            format!("Invalid Arn: 'Invalid ARN prefix: {arn}'"),
        );
    }
    ApiError::new("InvalidArn", format!("Invalid Arn: '{arn}'"))
}

/// AWS's InvalidArn for a Step Functions ARN of another resource type than the action takes
/// (an execution's ARN given to StartExecution, a state machine's to DescribeExecution,
/// an Express execution's to StopExecution).
pub fn resource_type_not_valid(kind: &str) -> ApiError {
    ApiError::new(
        "InvalidArn",
        format!("Invalid Arn: 'Resource type not valid in this context: {kind}'"),
    )
}

/// Refuses a readable Step Functions ARN whose resource type is none of `kinds`; anything
/// else (the right type, or an ARN that does not read) is left to the caller's own checks.
pub fn expect_resource_type(arn: &str, kinds: &[&str]) -> Result<(), ApiError> {
    match parse_arn(arn) {
        Some(parsed) if !kinds.contains(&parsed.kind) => Err(resource_type_not_valid(parsed.kind)),
        _ => Ok(()),
    }
}

/// Checks an unqualified state machine ARN, for the actions that take no version or alias
/// (StartExecution resolves those through `versions`): a qualified one (`...:name:1`) is
/// reported as not existing.
pub fn check_state_machine_arn(arn: &str) -> Result<(), ApiError> {
    match parse_arn(arn) {
        Some(parsed) if parsed.kind == "stateMachine" => {
            if parsed.rest.contains(':') {
                return Err(machine_does_not_exist(arn));
            }
            Ok(())
        }
        Some(parsed) => Err(resource_type_not_valid(parsed.kind)),
        None => Err(invalid_arn(arn)),
    }
}

/// Checks an execution ARN. Express executions (`...:express:...`) are not kept, and AWS
/// answers their Describe/Stop/History calls with the InvalidArn of another resource type.
pub fn check_execution_arn(arn: &str) -> Result<(), ApiError> {
    match parse_arn(arn) {
        Some(parsed) if parsed.kind == "execution" && parsed.rest.contains(':') => Ok(()),
        Some(parsed) if parsed.kind != "execution" => Err(resource_type_not_valid(parsed.kind)),
        _ => Err(invalid_arn(arn)),
    }
}

pub fn check_activity_arn(arn: &str) -> Result<(), ApiError> {
    match parse_arn(arn) {
        Some(parsed) if parsed.kind == "activity" && !parsed.rest.contains(':') => Ok(()),
        Some(parsed) if parsed.kind != "activity" => Err(resource_type_not_valid(parsed.kind)),
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
            Err("Invalid Arn: 'Invalid ARN prefix: not-an-arn'".to_string())
        );
        assert!(check_execution_arn("arn:aws:states:us-east-1:1:execution:m:e").is_ok());
        assert_eq!(
            check_execution_arn("arn:aws:states:us-east-1:1:express:m:e:u").map_err(|e| e.message),
            Err("Invalid Arn: 'Resource type not valid in this context: express'".to_string())
        );
    }
}
