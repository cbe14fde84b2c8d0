#![forbid(unsafe_code)]
//! Serverless Cairn: what the `api`, `advance` and `schedule` Lambda functions do.
//!
//! The pure decider ([`cairn_interpreter`]) runs inside the functions; executions live in
//! DynamoDB ([`cairn_store_dynamodb`]); every event an execution receives arrives as a
//! message ([`Message`]) on the EventBridge bus (task runs) or the SQS timer queue (Wait,
//! Retry back-off, timeouts), and [`Engine::apply`] turns it into one version-conditional
//! transaction. A message that no longer matches an open timer or task (a duplicate, a stale
//! or a late delivery) changes nothing.
//!
//! Timers: a fire time up to 15 minutes away is an SQS message with `DelaySeconds` (one
//! message, no clean-up); a later one is a one-time EventBridge Scheduler schedule that
//! sends the same message to the same queue and deletes itself.

pub mod advance;
pub mod api;
pub mod engine;
pub mod execution_log;
pub mod express;
pub mod logging;
pub mod long_task;
pub mod map_children;
pub mod message;
pub mod nested;
pub mod outbox;
pub mod schedule;

pub use cairn_api::persisted::Persisted;
pub use engine::{Applied, Engine, EngineError, Started, SweepReport};
pub use message::{
    Message, SweepPhase, SweepStep, ADVANCE_DETAIL_TYPE, ADVANCE_SOURCE, STATUS_DETAIL_TYPE,
    STATUS_SOURCE,
};
pub use outbox::{Outbox, Settings};

// The functions' event types, so the thin mains need no dependency of their own.
pub use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
pub use aws_lambda_events::eventbridge::EventBridgeEvent;

use std::sync::Arc;

use cairn_runtime::{Clock, SystemClock, TaskInvoker};
use cairn_store_dynamodb::DynamoStore;

/// Reads an environment variable the function's template sets.
fn env(name: &str) -> Result<String, EngineError> {
    std::env::var(name).map_err(|_| EngineError::Config(format!("{name} is not set")))
}

/// The quotas executions run under: AWS's, unless the template's `MaxHistoryEvents`,
/// `MaxPayloadBytes` or `MaxInlineMapConcurrency` parameters raise them (beyond AWS), read
/// from `CAIRN_MAX_HISTORY_EVENTS`, `CAIRN_MAX_PAYLOAD_BYTES` and
/// `CAIRN_MAX_INLINE_MAP_CONCURRENCY`.
pub fn limits_from_env() -> Result<cairn_interpreter::Limits, EngineError> {
    limits_from(env_var)
}

/// A setting that must be a positive integer when it is set; `None` when it is not, so the
/// caller picks its default. Anything else is refused by name rather than silently replaced.
fn positive_setting<T: std::str::FromStr + PartialOrd + From<u8>>(
    var: &impl Fn(&str) -> Option<String>,
    name: &str,
) -> Result<Option<T>, EngineError> {
    match var(name) {
        None => Ok(None),
        Some(text) => match text.trim().parse::<T>() {
            Ok(n) if n >= T::from(1) => Ok(Some(n)),
            _ => Err(EngineError::Config(format!(
                "{name} must be a positive integer, not '{text}'"
            ))),
        },
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn limits_from(
    var: impl Fn(&str) -> Option<String>,
) -> Result<cairn_interpreter::Limits, EngineError> {
    let aws = cairn_interpreter::Limits::default();
    Ok(cairn_interpreter::Limits {
        max_history_events: positive_setting(&var, "CAIRN_MAX_HISTORY_EVENTS")?
            .unwrap_or(aws.max_history_events),
        max_payload_bytes: positive_setting(&var, "CAIRN_MAX_PAYLOAD_BYTES")?
            .unwrap_or(aws.max_payload_bytes),
        max_inline_map_concurrency: positive_setting(&var, "CAIRN_MAX_INLINE_MAP_CONCURRENCY")?
            .unwrap_or(aws.max_inline_map_concurrency),
    })
}

/// Builds the engine from the environment the template gives every function:
/// `TABLE_NAME`, `EVENT_BUS_NAME`, `ALERT_TOPIC_ARN`, `TIMER_QUEUE_URL`, `TIMER_QUEUE_ARN`,
/// `SCHEDULER_ROLE_ARN`, `EXPRESS_QUEUE_URL`, `AWS_REGION`, `ACCOUNT_ID`, `PAYLOAD_BUCKET`
/// (large items), `CAIRN_RETENTION_DAYS` (90 by default) and `CAIRN_STATUS_EVENTS`
/// (`ENABLED` by default, as AWS; `DISABLED` sends no status-change events, alerts still go).
pub async fn engine_from_env() -> Result<Engine, EngineError> {
    let table = env("TABLE_NAME")?;
    let settings = Settings {
        bus_name: env("EVENT_BUS_NAME")?,
        alert_topic_arn: env("ALERT_TOPIC_ARN")?,
        timer_queue_url: env("TIMER_QUEUE_URL")?,
        timer_queue_arn: env("TIMER_QUEUE_ARN")?,
        scheduler_role_arn: std::env::var("SCHEDULER_ROLE_ARN").unwrap_or_default(),
        scheduler_group: std::env::var("SCHEDULER_GROUP").unwrap_or_else(|_| "default".into()),
        express_queue_url: std::env::var("EXPRESS_QUEUE_URL").unwrap_or_default(),
        region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
        account: std::env::var("ACCOUNT_ID").unwrap_or_else(|_| "123456789012".into()),
    };
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let mut dynamo = DynamoStore::with_client(cairn_store_dynamodb::Client::new(&config), &table);
    // Items past DynamoDB's 400 KB (large inputs, outputs and states) keep their payload in
    // the template's bucket.
    if let Some(bucket) = std::env::var("PAYLOAD_BUCKET")
        .ok()
        .filter(|b| !b.is_empty())
    {
        dynamo = dynamo.with_payload_bucket(cairn_store_dynamodb::s3_client(&config), &bucket);
    }
    // Closed executions expire through the table's TTL (AWS keeps them 90 days).
    let retention_days = match std::env::var("CAIRN_RETENTION_DAYS") {
        Ok(text) => text.trim().parse::<u32>().map_err(|_| {
            EngineError::Config(format!(
                "CAIRN_RETENTION_DAYS must be a number of days (0 keeps everything), not '{text}'"
            ))
        })?,
        Err(_) => 90,
    };
    let dynamo = dynamo.with_retention_days(retention_days);
    let store: Arc<dyn cairn_store::asynchronous::Store> = Arc::new(dynamo);
    let region = settings.region.clone();
    let outbox = match std::env::var("CAIRN_STATUS_EVENTS").as_deref() {
        Err(_) | Ok("" | "ENABLED") => Outbox::new(&config, settings),
        Ok("DISABLED") => Outbox::new(&config, settings).without_status_events(),
        Ok(other) => {
            return Err(EngineError::Config(format!(
                "CAIRN_STATUS_EVENTS must be ENABLED or DISABLED, not '{other}'"
            )))
        }
    };
    // The service calls run on the function's one runtime (issue 12, item 12).
    let integrations = cairn_integrations::Integrations::on_runtime(
        tokio::runtime::Handle::current(),
        cairn_integrations::Settings {
            region: Some(region),
            ..cairn_integrations::Settings::from_env()
        },
        Arc::new(cairn_runtime::Unsupported),
    );
    let invoker: Arc<dyn TaskInvoker> = Arc::new(integrations.clone());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let limits = limits_from_env()?;
    // A nested child starts in this table; no invocation lives on to watch a `.sync` child.
    let children = Engine::new(
        Arc::clone(&store),
        outbox.clone(),
        Arc::clone(&invoker),
        Arc::clone(&clock),
    )
    .with_limits(limits);
    let claim_timeout_ms = positive_setting::<i64>(&env_var, "CAIRN_TASK_CLAIM_TIMEOUT_SECONDS")?
        .map_or(engine::DEFAULT_CLAIM_TIMEOUT_MS, |seconds| seconds * 1000);
    let sweep_page =
        positive_setting(&env_var, "CAIRN_SWEEP_PAGE")?.unwrap_or(engine::DEFAULT_SWEEP_PAGE);
    let mut engine = Engine::new(store, outbox, invoker, clock)
        .with_limits(limits)
        .with_claim_timeout(claim_timeout_ms)
        .with_sweep_page(sweep_page);
    // Lambda tasks with a TimeoutSeconds above this run asynchronously: their functions need
    // the Cairn bus as their asynchronous invocation destination (functions/README.md).
    if let Some(seconds) = positive_setting::<i64>(&env_var, "CAIRN_SYNC_TASK_SECONDS")? {
        engine = engine.with_long_lambda_tasks(
            Arc::new(long_task::LambdaEvents::new(&config)),
            seconds * 1000,
        );
    }
    // Execution logs go to this container's own stream of each log group.
    let stream = format!(
        "states/{}/{:016x}",
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "cairn".into()),
        {
            use std::hash::{BuildHasher, Hasher};
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u32(std::process::id());
            hasher.finish()
        }
    );
    let execution_log = Arc::new(execution_log::ExecutionLog::new(
        integrations.clone(),
        stream,
    ));
    engine = engine.with_execution_log(Arc::clone(&execution_log));
    let mut children = children.with_execution_log(execution_log);
    if let Ok(secret) = std::env::var("TASK_TOKEN_SECRET_ARN") {
        let key = token_key(&integrations, &secret).await?;
        children = children.with_token_key(key.clone());
        engine = engine.with_token_key(key);
    }
    integrations.with_step_functions(Arc::new(nested::EngineApi::new(children)), false);
    Ok(engine)
}

/// The key task tokens are signed with: the deployment's secret (the template generates it),
/// read once per container through the integrations' Secrets Manager model.
async fn token_key(
    integrations: &cairn_integrations::Integrations,
    secret_arn: &str,
) -> Result<Vec<u8>, EngineError> {
    let request = cairn_runtime::TaskRequest {
        task_id: 0,
        state_name: "task-token key".into(),
        resource: "arn:aws:states:::aws-sdk:secretsmanager:getSecretValue".into(),
        kind: cairn_interpreter::ResourceKind::Service {
            service: "aws-sdk:secretsmanager".into(),
            action: "getSecretValue".into(),
            pattern: cairn_interpreter::IntegrationPattern::RequestResponse,
        },
        input: serde_json::json!({"SecretId": secret_arn}),
        task_token: None,
        credentials: None,
        now_ms: 0,
        execution_arn: String::new(),
    };
    let answer = integrations
        .call(&request)
        .await
        .result
        .map_err(|failure| {
            EngineError::Config(format!(
                "the task-token key {secret_arn} cannot be read: {}: {}",
                failure.error,
                failure.cause.unwrap_or_default()
            ))
        })?;
    let key = answer
        .get("SecretString")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .as_bytes()
        .to_vec();
    if key.len() < cairn_api::TOKEN_KEY_BYTES {
        return Err(EngineError::Config(format!(
            "the task-token key {secret_arn} is shorter than {} bytes",
            cairn_api::TOKEN_KEY_BYTES
        )));
    }
    Ok(key)
}

/// The shared Step Functions actions over the engine's store (through the synchronous port:
/// they run on blocking threads, waiting on the runtime this is called on). Each
/// GetActivityTask round waits 1 s ([`api::handle_action`] repeats it for up to 20 s).
pub fn shared_api(engine: &Engine) -> cairn_api::Api {
    let (region, account) = (
        engine.outbox.settings.region.clone(),
        engine.outbox.settings.account.clone(),
    );
    cairn_api::Api::new(
        engine.sync_store(),
        cairn_api::Config {
            region,
            account,
            activity_poll: std::time::Duration::from_secs(1),
            workers: 1,
            limits: engine.limits,
            invoker: Arc::clone(&engine.invoker),
            ..cairn_api::Config::default()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_aws_quotas_unless_the_template_raises_them() {
        let none = limits_from(|_| None).unwrap();
        assert_eq!(none, cairn_interpreter::Limits::default());
        let raised = limits_from(|name| match name {
            "CAIRN_MAX_HISTORY_EVENTS" => Some("100000".into()),
            "CAIRN_MAX_INLINE_MAP_CONCURRENCY" => Some("64".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(raised.max_history_events, 100_000);
        assert_eq!(raised.max_inline_map_concurrency, 64);
        assert_eq!(raised.max_payload_bytes, 262_144);
        let zero = limits_from(|name| (name == "CAIRN_MAX_PAYLOAD_BYTES").then(|| "0".into()));
        assert!(
            matches!(zero, Err(EngineError::Config(m)) if m.contains("CAIRN_MAX_PAYLOAD_BYTES"))
        );
    }

    #[test]
    fn a_positive_setting_is_trimmed_and_anything_not_positive_is_refused_by_name() {
        let set = |value: &'static str| move |_: &str| Some(value.to_string());
        assert_eq!(positive_setting::<i64>(&|_| None, "X").unwrap(), None);
        assert_eq!(
            positive_setting::<i64>(&set(" 30\n"), "X").unwrap(),
            Some(30)
        );
        assert_eq!(positive_setting::<usize>(&set("1"), "X").unwrap(), Some(1));
        for bad in ["0", "-5", "ten", ""] {
            match positive_setting::<i64>(&set(bad), "CAIRN_SWEEP_PAGE") {
                Err(EngineError::Config(m)) => assert_eq!(
                    m,
                    format!("CAIRN_SWEEP_PAGE must be a positive integer, not '{bad}'")
                ),
                other => panic!("{bad:?} was taken: {other:?}"),
            }
        }
    }
}
