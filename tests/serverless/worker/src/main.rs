//! The Lambda function the serverless end-to-end test (tests/serverless/e2e.py) calls from its
//! Task states, served by `cargo lambda watch` like the three Cairn functions. What it does is
//! decided by its input alone, so a run is repeatable:
//! - `{"fail": "Name", "message": "..."}`: fails with that error type (a Lambda function error,
//!   which Step Functions names by its `errorType`);
//! - `{"failUntilAttempt": n, "attempt": k}`: fails with `Flaky` while `k < n` (the state passes
//!   `$$.State.RetryCount` as `attempt`, so a Retry ends it without any state kept here);
//! - anything else: answers `{"echo": <input>, "attempt": k}`.
#![forbid(unsafe_code)]
use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use serde_json::{json, Value};

fn failure(error_type: &str, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        error_type: error_type.to_string(),
        error_message: message.into(),
    }
}

fn answer(input: Value) -> Result<Value, Diagnostic> {
    if let Some(error) = input.get("fail").and_then(Value::as_str) {
        let message = input
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("failed on purpose");
        return Err(failure(error, message));
    }
    let attempt = input.get("attempt").and_then(Value::as_u64).unwrap_or(0);
    if let Some(until) = input.get("failUntilAttempt").and_then(Value::as_u64) {
        if attempt < until {
            return Err(failure(
                "Flaky",
                format!("attempt {attempt} fails; attempt {until} will succeed"),
            ));
        }
    }
    Ok(json!({"echo": input, "attempt": attempt}))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        answer(event.payload)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fails_until_the_named_attempt_then_echoes() {
        let first = answer(json!({"failUntilAttempt": 1, "attempt": 0})).unwrap_err();
        assert_eq!(first.error_type, "Flaky");
        let second = answer(json!({"failUntilAttempt": 1, "attempt": 1})).unwrap();
        assert_eq!(second["attempt"], 1);
        assert_eq!(second["echo"]["failUntilAttempt"], 1);
    }

    #[test]
    fn fails_with_the_error_it_is_told() {
        let error = answer(json!({"fail": "Broken", "message": "no"})).unwrap_err();
        assert_eq!(
            (error.error_type.as_str(), error.error_message.as_str()),
            ("Broken", "no")
        );
    }
}
