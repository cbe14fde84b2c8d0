//! Reading request members with the errors AWS's request validation gives.

use serde_json::Value;

use crate::ApiError;

pub struct Params<'a> {
    body: &'a Value,
}

fn validation(message: String) -> ApiError {
    ApiError::new("ValidationException", message)
}

impl<'a> Params<'a> {
    pub fn new(body: &'a Value) -> Result<Params<'a>, ApiError> {
        if body.is_object() {
            Ok(Params { body })
        } else {
            Err(ApiError::new(
                "SerializationException",
                "The request body must be a JSON object",
            ))
        }
    }

    pub fn get(&self, member: &str) -> Option<&'a Value> {
        self.body.get(member).filter(|v| !v.is_null())
    }

    /// A required string member.
    pub fn string(&self, member: &str) -> Result<&'a str, ApiError> {
        match self.get(member) {
            None => Err(validation(format!(
                "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
            ))),
            Some(value) => value.as_str().ok_or_else(|| {
                ApiError::new("SerializationException", format!("'{member}' must be a string"))
            }),
        }
    }

    pub fn opt_string(&self, member: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(value) => value.as_str().map(Some).ok_or_else(|| {
                ApiError::new(
                    "SerializationException",
                    format!("'{member}' must be a string"),
                )
            }),
        }
    }

    pub fn opt_bool(&self, member: &str) -> Result<Option<bool>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(value) => value.as_bool().map(Some).ok_or_else(|| {
                ApiError::new(
                    "SerializationException",
                    format!("'{member}' must be a boolean"),
                )
            }),
        }
    }

    /// `maxResults`: 0 (or absent) means the default; AWS caps it at 1000.
    pub fn max_results(&self, default: usize) -> Result<usize, ApiError> {
        let Some(value) = self.get("maxResults") else {
            return Ok(default);
        };
        let Some(n) = value.as_i64() else {
            return Err(ApiError::new(
                "SerializationException",
                "'maxResults' must be an integer",
            ));
        };
        if n > 1000 {
            return Err(validation(format!(
                "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"
            )));
        }
        if n < 0 {
            return Err(validation(format!(
                "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 0"
            )));
        }
        Ok(if n == 0 {
            default
        } else {
            usize::try_from(n).unwrap_or(default)
        })
    }

    /// `nextToken`, with AWS's length limit for the action.
    pub fn next_token(&self, max_len: usize) -> Result<Option<&'a str>, ApiError> {
        let Some(token) = self.opt_string("nextToken")? else {
            return Ok(None);
        };
        if token.chars().count() > max_len {
            return Err(validation(format!(
                "1 validation error detected: Value '{token}' at 'nextToken' failed to satisfy constraint: Member must have length less than or equal to {max_len}"
            )));
        }
        if token.is_empty() {
            return Err(validation(
                "1 validation error detected: Value '' at 'nextToken' failed to satisfy constraint: Member must have length greater than or equal to 1".into(),
            ));
        }
        Ok(Some(token))
    }
}

/// How AWS's request validation bounds a member (the `stepfunctions` service model).
#[derive(Clone, Copy)]
enum Rule {
    /// A string of `min..=max` characters. A sensitive member's value is not repeated in
    /// the message (AWS: "Value at 'cause' failed to satisfy constraint: ...").
    Text {
        min: usize,
        max: usize,
        sensitive: bool,
    },
    /// A sensitive JSON payload (`input`, `output`...): at most 262,144 bytes of UTF-8, or
    /// the payload quota the server was given when that is larger. AWS counts these in
    /// bytes and says so ("Member must have size less than or equal to 262144 bytes in UTF-8
    /// encoding").
    Payload,
    /// A required member of another type, checked only for presence here.
    Present,
}

/// AWS's payload bound (`SensitiveData`), in bytes.
const PAYLOAD_BYTES: usize = 262_144;

const fn text(min: usize, max: usize) -> Rule {
    Rule::Text {
        min,
        max,
        sensitive: false,
    }
}

const fn secret(min: usize, max: usize) -> Rule {
    Rule::Text {
        min,
        max,
        sensitive: true,
    }
}

const ARN: Rule = text(1, 256);
const LONG_ARN: Rule = text(1, 2000);
const NAME: Rule = text(1, 80);
const TOKEN: Rule = text(1, 1024);
const EXECUTIONS_TOKEN: Rule = text(1, 3096);
const STATE_NAME: Rule = secret(1, 80);
const TASK_TOKEN: Rule = text(1, 2048);
const DEFINITION: Rule = secret(1, 1_048_576);
const VALIDATED_DEFINITION: Rule = secret(0, 1_048_576);
const DESCRIPTION: Rule = secret(0, 256);
const ERROR: Rule = secret(0, 256);
const CAUSE: Rule = secret(0, 32_768);
const TRACE_HEADER: Rule = text(0, 256);

/// Each action's members AWS validates before the action runs: `(member, required, rule)`,
/// in the model's member order. The Map Run actions and RedriveExecution check their own.
fn rules(action: &str) -> &'static [(&'static str, bool, Rule)] {
    match action {
        "CreateActivity" => &[("name", true, NAME)],
        "CreateStateMachine" => &[
            ("name", true, NAME),
            ("definition", true, DEFINITION),
            ("roleArn", true, ARN),
            ("versionDescription", false, DESCRIPTION),
        ],
        "CreateStateMachineAlias" => &[
            ("description", false, DESCRIPTION),
            ("name", true, NAME),
            ("routingConfiguration", true, Rule::Present),
        ],
        "DeleteActivity" | "DescribeActivity" => &[("activityArn", true, ARN)],
        "DeleteStateMachine" | "DescribeStateMachine" => &[("stateMachineArn", true, ARN)],
        "DeleteStateMachineAlias" | "DescribeStateMachineAlias" => {
            &[("stateMachineAliasArn", true, ARN)]
        }
        "DeleteStateMachineVersion" => &[("stateMachineVersionArn", true, LONG_ARN)],
        "DescribeExecution" | "DescribeStateMachineForExecution" => &[("executionArn", true, ARN)],
        "GetActivityTask" => &[("activityArn", true, ARN), ("workerName", false, NAME)],
        "GetExecutionHistory" => &[("executionArn", true, ARN), ("nextToken", false, TOKEN)],
        "ListActivities" | "ListStateMachines" => &[("nextToken", false, TOKEN)],
        "ListExecutions" => &[
            ("stateMachineArn", false, ARN),
            ("nextToken", false, EXECUTIONS_TOKEN),
            ("mapRunArn", false, LONG_ARN),
        ],
        "ListStateMachineAliases" | "ListStateMachineVersions" => {
            &[("stateMachineArn", true, ARN), ("nextToken", false, TOKEN)]
        }
        "ListTagsForResource" => &[("resourceArn", true, ARN)],
        "PublishStateMachineVersion" => &[
            ("stateMachineArn", true, ARN),
            ("description", false, DESCRIPTION),
        ],
        "SendTaskFailure" => &[
            ("taskToken", true, TASK_TOKEN),
            ("error", false, ERROR),
            ("cause", false, CAUSE),
        ],
        "SendTaskHeartbeat" => &[("taskToken", true, TASK_TOKEN)],
        "SendTaskSuccess" => &[
            ("taskToken", true, TASK_TOKEN),
            ("output", true, Rule::Payload),
        ],
        "StartExecution" | "StartSyncExecution" => &[
            ("stateMachineArn", true, ARN),
            ("name", false, NAME),
            ("input", false, Rule::Payload),
            ("traceHeader", false, TRACE_HEADER),
        ],
        "StopExecution" => &[
            ("executionArn", true, ARN),
            ("error", false, ERROR),
            ("cause", false, CAUSE),
        ],
        "TagResource" => &[("resourceArn", true, ARN), ("tags", true, Rule::Present)],
        "TestState" => &[
            ("definition", true, DEFINITION),
            ("roleArn", false, ARN),
            ("input", false, Rule::Payload),
            ("variables", false, Rule::Payload),
            ("stateName", false, STATE_NAME),
            ("context", false, Rule::Payload),
        ],
        "UntagResource" => &[("resourceArn", true, ARN), ("tagKeys", true, Rule::Present)],
        "UpdateStateMachine" => &[
            ("stateMachineArn", true, ARN),
            ("definition", false, DEFINITION),
            ("roleArn", false, ARN),
            ("versionDescription", false, DESCRIPTION),
        ],
        "UpdateStateMachineAlias" => &[
            ("stateMachineAliasArn", true, ARN),
            ("description", false, DESCRIPTION),
        ],
        // AWS answers an empty definition here with a diagnostic, not a validation error.
        "ValidateStateMachineDefinition" => &[("definition", true, VALIDATED_DEFINITION)],
        _ => &[],
    }
}

/// AWS's request validation, which answers before the action looks at anything: every
/// required member present, every string member within its length bounds. All the
/// violations are reported together, as AWS does ("2 validation errors detected: ...; ...").
/// A member of the wrong JSON type is left to the action's own reading
/// (SerializationException). `payload_chars` is the server's payload quota, which may be
/// larger than AWS's.
pub(crate) fn check_request(
    action: &str,
    body: &Value,
    payload_bytes: usize,
) -> Result<(), ApiError> {
    let mut problems = Vec::new();
    for &(member, required, rule) in rules(action) {
        let value = body.get(member).filter(|v| !v.is_null());
        let Some(value) = value else {
            if required {
                problems.push(format!(
                    "Value null at '{member}' failed to satisfy constraint: Member must not be null"
                ));
            }
            continue;
        };
        let (min, max, sensitive) = match rule {
            Rule::Text {
                min,
                max,
                sensitive,
            } => (min, max, sensitive),
            Rule::Payload => (0, PAYLOAD_BYTES.max(payload_bytes), true),
            Rule::Present => continue,
        };
        let Some(text) = value.as_str() else {
            continue;
        };
        if matches!(rule, Rule::Payload) {
            if text.len() > max {
                problems.push(format!(
                    "Value at '{member}' failed to satisfy constraint: Member must have size less than or equal to {max} bytes in UTF-8 encoding"
                ));
            }
            continue;
        }
        let count = text.chars().count();
        let bound = if count < min {
            format!("greater than or equal to {min}")
        } else if count > max {
            format!("less than or equal to {max}")
        } else {
            continue;
        };
        let shown = if sensitive {
            String::new()
        } else {
            format!(" '{text}'")
        };
        problems.push(format!(
            "Value{shown} at '{member}' failed to satisfy constraint: Member must have length {bound}"
        ));
    }
    match problems.len() {
        0 => Ok(()),
        1 => Err(validation(format!(
            "1 validation error detected: {}",
            problems[0]
        ))),
        n => Err(validation(format!(
            "{n} validation errors detected: {}",
            problems.join("; ")
        ))),
    }
}

impl Params<'_> {
    /// `nextToken` as [`page_token`] issued it: the listing's cursor it carries.
    /// InvalidToken for a token Cairn did not issue (tokens from before Cairn dated them
    /// included: such a listing starts over, as it would after AWS's 24 hours) and for one
    /// issued more than [`PAGE_TOKEN_TTL_MS`] before `now_ms`.
    pub fn page_cursor(&self, max_len: usize, now_ms: i64) -> Result<Option<String>, ApiError> {
        let Some(token) = self.next_token(max_len)? else {
            return Ok(None);
        };
        let (issued_ms, cursor) = read_page_token(token).ok_or_else(|| invalid_token(token))?;
        if now_ms.saturating_sub(issued_ms) > PAGE_TOKEN_TTL_MS {
            return Err(invalid_token(token));
        }
        Ok(Some(cursor))
    }
}

/// How long a pagination token stays usable (AWS: "Each pagination token expires after 24
/// hours").
pub const PAGE_TOKEN_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// Marks a dated token; a cursor never starts with it (names cannot hold `~`).
const PAGE_TOKEN_PREFIX: &str = "~1";

/// A page's `nextToken`: the listing's own cursor with the time it was issued (the
/// Driver's clock), so that [`Params::page_cursor`] can refuse it once it expired.
pub fn page_token(cursor: &str, now_ms: i64) -> String {
    let body = format!("{now_ms}.{cursor}");
    format!(
        "{PAGE_TOKEN_PREFIX}{}",
        cairn_common::base64::encode(body.as_bytes())
    )
}

/// The issue time and cursor of a token [`page_token`] made; `None` for anything else
/// (the encoding is checked exactly, so a changed token is not read as another one).
fn read_page_token(token: &str) -> Option<(i64, String)> {
    let encoded = token.strip_prefix(PAGE_TOKEN_PREFIX)?;
    let lenient = cairn_common::base64::Lenient {
        url_safe: false,
        padding_ends_data: true,
    };
    let bytes = cairn_common::base64::decode_lenient(encoded, lenient);
    if cairn_common::base64::encode(&bytes) != encoded {
        return None;
    }
    let body = String::from_utf8(bytes).ok()?;
    let (issued, cursor) = body.split_once('.')?;
    Some((issued.parse().ok()?, cursor.to_string()))
}

pub fn invalid_token(token: &str) -> ApiError {
    ApiError::new("InvalidToken", format!("Invalid Token: '{token}'"))
}

/// Epoch milliseconds as the JSON protocol's epoch-seconds number.
pub fn timestamp(ms: i64) -> Value {
    Value::from(ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cursor_of(token: &str, now_ms: i64) -> Result<Option<String>, ApiError> {
        let body = json!({ "nextToken": token });
        Params::new(&body)?.page_cursor(3096, now_ms)
    }

    #[test]
    fn a_page_token_carries_its_cursor_for_24_hours() {
        let issued = 1_700_000_000_000;
        for cursor in [
            "event:12",
            "1700000000000/arn:aws:states:us-east-1:1:execution:m:e",
            "0",
            "a.b",
        ] {
            let token = page_token(cursor, issued);
            assert_eq!(cursor_of(&token, issued).unwrap().as_deref(), Some(cursor));
            assert_eq!(
                cursor_of(&token, issued + PAGE_TOKEN_TTL_MS)
                    .unwrap()
                    .as_deref(),
                Some(cursor)
            );
            let expired = cursor_of(&token, issued + PAGE_TOKEN_TTL_MS + 1).unwrap_err();
            assert_eq!(expired.error_type, "InvalidToken");
            assert_eq!(expired.message, format!("Invalid Token: '{token}'"));
        }
    }

    #[test]
    fn tokens_cairn_did_not_issue_are_invalid() {
        let now = 1_700_000_000_000;
        let token = page_token("event:3", now);
        let mut changed = token.clone();
        changed.push('A');
        for other in ["event:3", "~1", "~1!!!!", changed.as_str(), "12/arn"] {
            assert_eq!(
                cursor_of(other, now).unwrap_err().error_type,
                "InvalidToken",
                "{other}"
            );
        }
        // No token: the first page.
        let body = json!({});
        assert_eq!(
            Params::new(&body).unwrap().page_cursor(1024, now).unwrap(),
            None
        );
    }
}
