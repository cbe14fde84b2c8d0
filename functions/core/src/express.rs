//! Asynchronous Express executions (StartExecution on an EXPRESS state machine): the api
//! function checks the request as AWS does, puts the execution on the Express queue and
//! answers at once; an SQS-triggered function (the advance binary, with Express's 5-minute
//! timeout) runs it to its end. SQS delivers at least once and a failed run is received
//! again until the queue's `maxReceiveCount` moves it to its dead-letter queue: at least
//! once, as AWS runs asynchronous Express executions.
//!
//! Synchronous Express (StartSyncExecution) stays inside the api invocation, through the
//! shared API. Both call tasks through the engine's invoker (the integrations).

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use cairn_api::ApiError;
use cairn_interpreter::{ExecutionInfo, MachineType, Status};
use cairn_store::ExecutionRecord;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::engine::{status_detail, Applied, Engine, EngineError};
use crate::message::Message;
use crate::outbox::Outgoing;

/// SQS's largest message (the template raises the Express queue's limit to it).
pub const MAX_QUEUED_BYTES: usize = 1024 * 1024;

/// A queued execution must fit one SQS message: the definition and the input together.
fn check_queued_size(bytes: usize) -> Result<(), ApiError> {
    if bytes > MAX_QUEUED_BYTES {
        return Err(ApiError::new(
            "ValidationException",
            format!(
                "The state machine's definition and the input take {bytes} bytes together: the serverless shell queues an asynchronous Express execution as one SQS message of at most {MAX_QUEUED_BYTES} bytes; use a smaller input (or StartSyncExecution)"
            ),
        ));
    }
    Ok(())
}

/// AWS stops an Express execution five minutes after its start.
pub const EXPRESS_LIMIT_MS: u64 = 5 * 60 * 1000;

/// One asynchronous Express execution as it waits on the Express queue: what to run, under
/// which ARN and start time (the ones StartExecution answered).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpressJob {
    pub definition: String,
    /// `stateMachineArn` is what `$$.StateMachine.Id` shows: the version that runs when
    /// started through a version or alias.
    pub info: ExecutionInfo,
    pub input_text: String,
    /// The version and alias ARNs it was started through, which its status events name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias_arn: Option<String>,
}

fn field<'a>(body: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    body.get(name).and_then(Value::as_str).ok_or_else(|| {
        ApiError::new(
            "ValidationException",
            format!("1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"),
        )
    })
}

fn random() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u8(0);
    hasher.finish()
}

/// StartExecution of an Express state machine: checks the request in AWS's order, queues the
/// execution and answers its ARN and start date. A failed send is a server fault, so the
/// caller's SDK retries; nothing runs inside this invocation.
pub async fn start_async(engine: &Engine, body: &Value) -> Result<Value, ApiError> {
    let machine_arn = field(body, "stateMachineArn")?;
    // What a state machine, version or alias ARN starts, by the rule cairn serve starts by:
    // an alias picks one of its versions by weight.
    cairn_api::names::expect_resource_type(machine_arn, &["stateMachine"])?;
    let base = cairn_api::Driver::start_base(machine_arn)?;
    let stored = engine
        .store
        .get_state_machine(&base)
        .await
        .map_err(|e| ApiError::new("InternalFailure", e.to_string()))?;
    let target =
        cairn_api::Driver::resolve_start(stored.map(|(record, _)| record), machine_arn, random)?;
    let name = match body.get("name").and_then(Value::as_str) {
        Some(name) => {
            cairn_api::names::check_name(name)?;
            name.to_string()
        }
        None => crate::engine::uuid(random()),
    };
    let (input_text, _) = cairn_api::names::execution_input(
        body.get("input").and_then(Value::as_str),
        engine.limits.max_payload_bytes,
    )?;
    let machine = &target.machine;
    let text = |key: &str| {
        machine
            .document
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let settings = &engine.outbox.settings;
    let now = engine.now_ms();
    let info = ExecutionInfo {
        execution_arn: format!(
            "arn:aws:states:{}:{}:express:{}:{name}:{}",
            settings.region,
            settings.account,
            machine.name,
            crate::engine::uuid(random())
        ),
        name,
        state_machine_arn: target.context_arn().to_string(),
        state_machine_name: machine.name.clone(),
        role_arn: text("roleArn"),
        start_time_ms: now,
        machine_type: MachineType::Express,
        redrive_count: Some(0),
    };
    let job = ExpressJob {
        definition: text("definition"),
        info,
        input_text,
        version_arn: target.version_arn.clone(),
        alias_arn: target.alias_arn.clone(),
    };
    let answer = json!({
        "executionArn": job.info.execution_arn,
        "startDate": now as f64 / 1000.0,
    });
    let message = Message::RunExpress(Box::new(job));
    let bytes = serde_json::to_string(&message).map_or(usize::MAX, |text| text.len());
    check_queued_size(bytes)?;
    engine
        .outbox
        .queue_express(&message)
        .await
        .map_err(|e| ApiError::new("InternalFailure", e.to_string()))?;
    Ok(answer)
}

/// The unqualified state machine of an execution started through a version or alias.
fn unqualified(job: &ExpressJob) -> String {
    let arn = &job.info.state_machine_arn;
    cairn_api::Driver::start_base(arn).unwrap_or_else(|_| arn.clone())
}

fn record(job: &ExpressJob, status: Status) -> ExecutionRecord {
    let mut summary = json!({"input": job.input_text});
    if let Some(version) = &job.version_arn {
        summary["stateMachineVersionArn"] = Value::from(version.clone());
    }
    if let Some(alias) = &job.alias_arn {
        summary["stateMachineAliasArn"] = Value::from(alias.clone());
    }
    ExecutionRecord {
        arn: job.info.execution_arn.clone(),
        state_machine_arn: unqualified(job),
        name: job.info.name.clone(),
        status: status.as_aws_str().to_string(),
        start_ms: job.info.start_time_ms,
        stop_ms: None,
        summary,
        state: Vec::new(),
    }
}

impl Engine {
    /// Runs a queued asynchronous Express execution to its end (tasks through the engine's
    /// invoker, Waits in real time, stopped after Express's five minutes), with its status
    /// events (RUNNING, then the end, alerting as a Standard one does). An error leaves the
    /// message on the queue for another try.
    pub async fn run_express(&self, job: ExpressJob) -> Result<Applied, EngineError> {
        let machine = self.machine(&job.definition)?;
        let input: Value = serde_json::from_str(&job.input_text)
            .map_err(|e| EngineError::Definition(format!("the queued input is not JSON: {e}")))?;
        let arn = job.info.execution_arn.clone();
        self.log_with(
            "INFO",
            Some(&arn),
            format_args!("running the asynchronous Express execution"),
        );
        let running = record(&job, Status::Running);
        self.after_commit(
            vec![Outgoing::StatusChange {
                detail: status_detail(&running),
                alert: false,
            }],
            self.now_ms(),
        )
        .await;
        let options = cairn_runtime::RunOptions {
            info: job.info.clone(),
            time: cairn_runtime::TimeMode::Real,
            seed: random(),
            stop_after_ms: Some(EXPRESS_LIMIT_MS),
            clock: self.clock(),
            ..cairn_runtime::RunOptions::default()
        };
        let invoker = Arc::clone(&self.invoker);
        let result = tokio::task::spawn_blocking(move || {
            cairn_runtime::run_to_completion(&machine, input, invoker, &options)
        })
        .await
        .map_err(|e| EngineError::Send(format!("the Express run was lost: {e}")))?
        .map_err(|e| EngineError::Send(format!("the Express execution could not run: {e}")))?;
        // Express executions have no history but this log, as in AWS.
        self.write_log(&unqualified(&job), &arn, &result.history, 0)
            .await;
        let mut ended = record(&job, result.status);
        ended.stop_ms = Some(result.end_ms);
        if let Some(output) = &result.output {
            ended.summary["output"] = Value::from(output.to_string());
        }
        if let Some(error) = &result.error {
            ended.summary["error"] = Value::from(error.clone());
        }
        if let Some(cause) = &result.cause {
            ended.summary["cause"] = Value::from(cause.clone());
        }
        let alert = matches!(
            result.status,
            Status::Failed | Status::TimedOut | Status::Aborted
        );
        self.after_commit(
            vec![Outgoing::StatusChange {
                detail: status_detail(&ended),
                alert,
            }],
            self.now_ms(),
        )
        .await;
        Ok(Applied::Applied(result.status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queued_execution_must_fit_one_sqs_message() {
        assert!(check_queued_size(MAX_QUEUED_BYTES).is_ok());
        let refused = check_queued_size(MAX_QUEUED_BYTES + 1).expect_err("refused");
        assert_eq!(refused.error_type, "ValidationException");
        assert!(refused.message.contains("one SQS message"));
    }

    #[test]
    fn a_job_round_trips_as_an_express_queue_message() {
        let job = ExpressJob {
            definition: "{}".into(),
            info: ExecutionInfo {
                execution_arn: "arn:aws:states:us-east-1:1:express:m:n:u".into(),
                machine_type: MachineType::Express,
                ..ExecutionInfo::default()
            },
            input_text: "{\"a\":1}".into(),
            version_arn: None,
            alias_arn: None,
        };
        let message = Message::RunExpress(Box::new(job));
        let text = serde_json::to_string(&message).unwrap();
        assert!(text.contains("\"kind\":\"runExpress\""), "{text}");
        let back: Message = serde_json::from_str(&text).unwrap();
        assert_eq!(back, message);
        assert_eq!(
            back.execution_arn(),
            "arn:aws:states:us-east-1:1:express:m:n:u"
        );
    }
}
