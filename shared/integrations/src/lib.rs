#![forbid(unsafe_code)]
//! Task states reach AWS services. One invoker ([`Integrations`]) serves `cairn run`,
//! `cairn serve` and the Lambda functions alike:
//! - Lambda: legacy function ARNs and `lambda:invoke`;
//! - the optimized integrations `sns:publish`, `sqs:sendMessage`, `events:putEvents` and
//!   `dynamodb:getItem|putItem|updateItem|deleteItem` (each also `.waitForTaskToken`);
//! - `aws-sdk:<service>:<action>` for every service with an API model ([`model`]), carried
//!   by the model's wire protocol ([`protocol`]), so a new action or service needs no code.
//!
//! It is configured as the AWS SDKs are: `AWS_REGION`, the credentials chain,
//! `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`; pointing it at LocalStack, moto or
//! AWS is one environment switch. Extra models come from `CAIRN_AWS_MODELS`.

pub mod errors;
pub mod http_task;
mod lambda;
pub mod model;
pub mod protocol;
pub mod states;
pub mod transport;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use cairn_interpreter::ResourceKind;
use cairn_runtime::{
    TaskDone, TaskFailure, TaskInvoker, TaskOutcome, TaskRequest, UNSUPPORTED_RESOURCE,
};
use serde_json::{json, Map, Value};
use tokio::sync::OnceCell;

use crate::errors::Flavor;
use crate::model::{Models, ServiceModel};
use crate::protocol::WireResponse;
use crate::states::{Nesting, StepFunctionsApi};
use crate::transport::{Signing, Transport};

/// Where and as whom the integrations call.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The region to call and sign for (default: the SDK's region chain, then `us-east-1`).
    pub region: Option<String>,
    /// One endpoint for every service (`AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
    /// Endpoints per service, keyed as the SDKs' variables name them
    /// (`AWS_ENDPOINT_URL_DYNAMODB` → `DYNAMODB`).
    pub service_endpoints: BTreeMap<String, String>,
    /// Fixed credentials (access key id, secret) instead of the SDK's chain.
    pub static_credentials: Option<(String, String)>,
    /// A directory of extra API models in botocore's `data/` layout.
    pub models_dir: Option<PathBuf>,
    /// How long one call may take before it fails.
    pub timeout: Duration,
    /// The connections HTTP Tasks authorize with (`CAIRN_CONNECTIONS`).
    pub connections: http_task::Connections,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            region: None,
            endpoint_url: None,
            service_endpoints: BTreeMap::new(),
            static_credentials: None,
            models_dir: None,
            timeout: Duration::from_secs(60),
            connections: http_task::Connections::default(),
        }
    }
}

impl Settings {
    /// The settings the environment gives, read as the AWS SDKs read them.
    pub fn from_env() -> Settings {
        Settings::from_vars(std::env::vars())
    }

    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Settings {
        let mut settings = Settings::default();
        for (name, value) in vars {
            if value.is_empty() {
                continue;
            }
            if name == "AWS_ENDPOINT_URL" {
                settings.endpoint_url = Some(value);
            } else if let Some(service) = name.strip_prefix("AWS_ENDPOINT_URL_") {
                settings.service_endpoints.insert(service.to_owned(), value);
            } else if name == "CAIRN_AWS_MODELS" {
                settings.models_dir = Some(PathBuf::from(value));
            } else if name == http_task::CONNECTIONS_VAR {
                settings.connections = http_task::Connections::file(value);
            }
        }
        settings
    }

    /// The endpoint for a service: its own variable, the shared one, or AWS's.
    pub fn endpoint_for(&self, model: &ServiceModel, region: &str) -> String {
        let key = model.service_id().to_ascii_uppercase().replace(' ', "_");
        if let Some(url) = self.service_endpoints.get(&key) {
            return url.clone();
        }
        if let Some(url) = &self.endpoint_url {
            return url.clone();
        }
        format!("https://{}.{region}.amazonaws.com", model.endpoint_prefix())
    }
}

/// What the first call sets up: the SDK configuration, credentials and connections.
struct Connected {
    region: String,
    credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    lambda: aws_sdk_lambda::Client,
    transport: Transport,
}

struct Inner {
    settings: Settings,
    models: Models,
    connected: OnceCell<Result<Connected, String>>,
    lambda_stand_in: OnceLock<Arc<dyn TaskInvoker>>,
    fallback: Arc<dyn TaskInvoker>,
    calls: AtomicU64,
    /// The shell's own Step Functions API, once the shell has built it.
    local: OnceLock<LocalApi>,
}

struct LocalApi {
    api: Arc<dyn StepFunctionsApi>,
    /// Whether this process lives long enough to watch a `.sync` child to its end.
    watches: bool,
}

/// The task invoker for AWS services. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct Integrations {
    inner: Arc<Inner>,
    /// Runs the calls of the synchronous [`TaskInvoker`] port.
    runtime: Arc<Runtime>,
}

/// Where the calls run: the caller's runtime (a Lambda function's one runtime), or one of
/// the integrations' own for a caller that has none (`cairn run`), stopped without waiting
/// when dropped (a runtime dropped inside another runtime's context would panic otherwise).
enum Runtime {
    Callers(tokio::runtime::Handle),
    Own(Option<tokio::runtime::Runtime>),
}

impl Runtime {
    fn handle(&self) -> Option<&tokio::runtime::Handle> {
        match self {
            Runtime::Callers(handle) => Some(handle),
            Runtime::Own(runtime) => runtime.as_ref().map(|runtime| runtime.handle()),
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Runtime::Own(runtime) = self {
            if let Some(runtime) = runtime.take() {
                runtime.shutdown_background();
            }
        }
    }
}

impl std::fmt::Debug for Integrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Integrations")
            .field("settings", &self.inner.settings)
            .finish()
    }
}

/// Why the integrations could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start the integrations' runtime: {0}")]
    Runtime(std::io::Error),
}

impl Integrations {
    /// Integrations with these settings; resources they do not know go to `fallback`
    /// (activities, or `Unsupported`).
    /// The calls run on a runtime of their own (two workers), for a caller without one.
    pub fn new(settings: Settings, fallback: Arc<dyn TaskInvoker>) -> Result<Self, StartError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cairn-integrations")
            .enable_all()
            .build()
            .map_err(StartError::Runtime)?;
        Ok(Self::with_runtime(
            settings,
            fallback,
            Runtime::Own(Some(runtime)),
        ))
    }

    /// Integrations whose calls run on the caller's runtime, starting no runtime or thread
    /// of their own (issue 12, item 12: a Lambda function has one runtime). The blocking
    /// [`TaskInvoker::invoke`] must then be called off the threads that drive that runtime
    /// (the shell calls it from `spawn_blocking`): on them it waits for a call that can never
    /// run. [`TaskInvoker::start`] needs no thread at all.
    pub fn on_runtime(
        handle: tokio::runtime::Handle,
        settings: Settings,
        fallback: Arc<dyn TaskInvoker>,
    ) -> Self {
        Self::with_runtime(settings, fallback, Runtime::Callers(handle))
    }

    fn with_runtime(settings: Settings, fallback: Arc<dyn TaskInvoker>, runtime: Runtime) -> Self {
        Integrations {
            inner: Arc::new(Inner {
                models: Models::new(settings.models_dir.clone()),
                settings,
                connected: OnceCell::new(),
                lambda_stand_in: OnceLock::new(),
                fallback,
                calls: AtomicU64::new(0),
                local: OnceLock::new(),
            }),
            runtime: Arc::new(runtime),
        }
    }

    /// Lambda tasks go to `stand_in` (scripted functions in tests and `--functions`) instead
    /// of Lambda; every other service is still called.
    pub fn with_lambda_stand_in(self, stand_in: Arc<dyn TaskInvoker>) -> Self {
        let _ = self.inner.lambda_stand_in.set(stand_in);
        self
    }

    /// Nested executions go to the shell's own API first (`cairn serve`, the serverless API),
    /// so a child whose state machine lives here runs here. `watches`: the process lives on
    /// to see a `.sync` child end (`cairn serve`; not a Lambda invocation, which is frozen
    /// when it answers). Set once; later calls change nothing.
    pub fn with_step_functions(&self, api: Arc<dyn StepFunctionsApi>, watches: bool) {
        let _ = self.inner.local.set(LocalApi { api, watches });
    }

    /// Service requests made so far (for the cost benchmark).
    pub fn calls(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    /// Whether this invoker carries out the resource itself (the rest goes to the fallback).
    pub fn handles(&self, kind: &ResourceKind) -> bool {
        self.own_route(kind).is_ok()
    }

    /// The call this invoker makes for a resource, or the invoker that carries it out
    /// instead: the Lambda stand-in for Lambda resources, the fallback for what no route
    /// knows (activities, services without an integration).
    fn own_route(&self, kind: &ResourceKind) -> Result<Route, &Arc<dyn TaskInvoker>> {
        let route = match kind {
            ResourceKind::LambdaFunction => Some(Route::LegacyLambda),
            ResourceKind::Activity => None,
            ResourceKind::Service {
                service, action, ..
            } => route(service, action),
        };
        match (route, self.inner.lambda_stand_in.get()) {
            (Some(Route::Lambda | Route::LegacyLambda), Some(stand_in)) => Err(stand_in),
            (Some(route), _) => Ok(route),
            (None, _) => Err(&self.inner.fallback),
        }
    }

    /// Carries out one task.
    pub async fn call(&self, request: &TaskRequest) -> TaskOutcome {
        match self.own_route(&request.kind) {
            Ok(route) => {
                self.inner.calls.fetch_add(1, Ordering::Relaxed);
                TaskOutcome::now(self.call_route(route, request).await)
            }
            Err(other) => other.invoke(request),
        }
    }

    async fn call_route(&self, route: Route, request: &TaskRequest) -> Result<Value, TaskFailure> {
        let connected = self.connect().await?;
        match route {
            Route::LegacyLambda => lambda::invoke_legacy(&connected.lambda, request).await,
            Route::Lambda => lambda::invoke_integration(&connected.lambda, request).await,
            Route::Optimized {
                service,
                operation,
                metadata,
            } => {
                let model = self.model(service)?;
                let (output, response) = self
                    .call_service(
                        connected,
                        &model,
                        operation,
                        &request.input,
                        Flavor::Optimized,
                    )
                    .await?;
                if service == "events" {
                    return put_events_result(output);
                }
                Ok(if metadata {
                    with_sdk_metadata(output, &response)
                } else {
                    output
                })
            }
            Route::StartExecution(nesting) => self.start_execution(request, nesting).await,
            Route::ItemReader { list } => self.read_items(connected, &request.input, list).await,
            Route::ResultWriter => self.write_results(connected, &request.input).await,
            Route::Http => {
                let connections = &self.inner.settings.connections;
                let resolved = if connections.configured() {
                    None
                } else {
                    let arn = http_task::connection_arn(&request.input)?;
                    Some(self.eventbridge_connection(connected, &arn).await?)
                };
                http_task::invoke(
                    &connected.transport,
                    &connected.region,
                    connections,
                    resolved,
                    &request.input,
                )
                .await
            }
            Route::AwsSdk => {
                let ResourceKind::Service {
                    service, action, ..
                } = &request.kind
                else {
                    return Err(unsupported(&request.resource, "not an aws-sdk resource"));
                };
                let name = service.trim_start_matches("aws-sdk:");
                let model = self.model(name)?;
                let Some((operation, _)) = model.operation_for_action(action) else {
                    return Err(unsupported(
                        &request.resource,
                        &format!("the API model of '{name}' has no action '{action}'"),
                    ));
                };
                let operation = operation.to_owned();
                let (output, _) = self
                    .call_service(
                        connected,
                        &model,
                        &operation,
                        &request.input,
                        Flavor::AwsSdk,
                    )
                    .await?;
                Ok(output)
            }
        }
    }

    fn model(&self, service: &str) -> Result<Arc<ServiceModel>, TaskFailure> {
        self.inner
            .models
            .get(service)
            .map_err(|e| TaskFailure::new(UNSUPPORTED_RESOURCE, e.to_string()))
    }

    async fn connect(&self) -> Result<&Connected, TaskFailure> {
        let settings = &self.inner.settings;
        let connected = self
            .inner
            .connected
            .get_or_init(|| async {
                let region = aws_config::meta::region::RegionProviderChain::first_try(
                    settings.region.clone().map(aws_config::Region::new),
                )
                .or_default_provider()
                .or_else("us-east-1");
                let mut loader =
                    aws_config::defaults(aws_config::BehaviorVersion::latest()).region(region);
                if let Some(url) = &settings.endpoint_url {
                    loader = loader.endpoint_url(url);
                }
                if let Some((id, secret)) = &settings.static_credentials {
                    loader = loader
                        .credentials_provider(Credentials::new(id, secret, None, None, "cairn"));
                }
                let config = loader.load().await;
                let mut lambda = aws_sdk_lambda::config::Builder::from(&config);
                if let Some(url) = settings.service_endpoints.get("LAMBDA") {
                    lambda = lambda.endpoint_url(url);
                }
                Ok(Connected {
                    region: config
                        .region()
                        .map_or_else(|| "us-east-1".to_owned(), ToString::to_string),
                    credentials: config.credentials_provider(),
                    lambda: aws_sdk_lambda::Client::from_conf(lambda.build()),
                    transport: Transport::new(settings.timeout).map_err(|e| e.to_string())?,
                })
            })
            .await;
        connected
            .as_ref()
            .map_err(|message| TaskFailure::new("States.Runtime", message.clone()))
    }

    /// One signed call of `operation`, its output read by the model.
    async fn call_service(
        &self,
        connected: &Connected,
        model: &ServiceModel,
        operation: &str,
        input: &Value,
        flavor: Flavor,
    ) -> Result<(Value, WireResponse), TaskFailure> {
        let input = protocol::with_idempotency_tokens(model, operation, input, fresh_uuid);
        let request = protocol::serialize(model, operation, &input)
            .map_err(|e| errors::client_failure(model, flavor, e.to_string()))?;
        let credentials = match &connected.credentials {
            Some(provider) => Some(provider.provide_credentials().await.map_err(|e| {
                errors::client_failure(model, flavor, format!("Unable to load credentials: {e}"))
            })?),
            None => None,
        };
        let endpoint = self.inner.settings.endpoint_for(model, &connected.region);
        let signing = credentials.as_ref().map(|credentials| Signing {
            credentials,
            region: &connected.region,
            name: model.signing_name(),
        });
        let response = connected
            .transport
            .send(&endpoint, request, signing)
            .await
            .map_err(|e| {
                errors::client_failure(
                    model,
                    flavor,
                    format!("Unable to execute HTTP request: {e}"),
                )
            })?;
        if !response.is_success() {
            let error = s3_head_error(
                model,
                operation,
                &response,
                protocol::error(model, &response),
            );
            return Err(errors::service_failure(model, flavor, &response, &error));
        }
        let output = protocol::deserialize(model, operation, &response)
            .map_err(|e| errors::client_failure(model, flavor, e.to_string()))?;
        Ok((output, response))
    }
}

impl Integrations {
    /// A nested execution: started here when its state machine lives here, else through the
    /// configured Step Functions endpoint; a `.sync` parent then waits for it by its token.
    async fn start_execution(
        &self,
        request: &TaskRequest,
        nesting: Nesting,
    ) -> Result<Value, TaskFailure> {
        let local = self.inner.local.get();
        // A long-lived shell watches the child itself; one that is not (a Lambda invocation)
        // hands the child a link to the parent's task, and the child's end is sent there.
        let (watcher, parent_link) = match nesting {
            Nesting::Start => (None, None),
            Nesting::Sync | Nesting::Sync2 => match (local, &request.task_token) {
                (Some(local), Some(token)) if local.watches => {
                    (Some((Arc::clone(&local.api), token.clone())), None)
                }
                (Some(_), Some(token)) => {
                    let output = if nesting == Nesting::Sync2 {
                        "json"
                    } else {
                        "text"
                    };
                    (None, Some(json!({"taskToken": token, "output": output})))
                }
                _ => {
                    return Err(unsupported(
                        &request.resource,
                        "a .sync nested execution needs a Cairn that can see the child end \
                         (cairn serve, or the serverless functions); start the child without \
                         .sync, or with .waitForTaskToken and SendTaskSuccess",
                    ))
                }
            },
        };
        let mut start = states::start_request(request)?;
        let remote_start = start.clone();
        if let Some(link) = parent_link.clone() {
            start["cairnParent"] = link;
        }
        let basis = format!("{}{}", request.now_ms, remote_start);
        let request_id = cairn_runtime::uuid(cairn_common::entropy::fnv1a(basis.as_bytes()), 0);
        // `cairn run` holds no state machines: its children run at the configured endpoint.
        let (answer, remote) = match local.filter(|local| local.api.holds_state_machines()) {
            Some(local) => match self
                .local_call(&local.api, "StartExecution", start.clone())
                .await
            {
                Ok(answer) => (answer, false),
                Err(failure)
                    if failure.code == "StateMachineDoesNotExist"
                        && parent_link.is_none()
                        && self.inner.settings.service_endpoints.contains_key("SFN") =>
                {
                    (
                        self.remote_call("StartExecution", &remote_start).await?,
                        true,
                    )
                }
                // The child started before (a restarted Cairn runs the open task again) and
                // has ended since: watch it all the same.
                Err(failure) if failure.code == "ExecutionAlreadyExists" && watcher.is_some() => {
                    (json!({"executionArn": child_arn(&start)}), false)
                }
                Err(failure) => return Err(states::api_failure(&failure, &request_id)),
            },
            None => (
                self.remote_call("StartExecution", &remote_start).await?,
                true,
            ),
        };
        if let Some((api, token)) = watcher {
            let arn = answer
                .get("executionArn")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let this = self.clone();
            tokio::spawn(async move { this.watch(arn, remote, nesting, api, token).await });
        }
        Ok(states::start_output(&answer, request.now_ms, &request_id))
    }

    /// Waits for a `.sync` child to end and reports its outcome through the parent's token.
    async fn watch(
        &self,
        arn: String,
        remote: bool,
        nesting: Nesting,
        api: Arc<dyn StepFunctionsApi>,
        token: String,
    ) {
        let describe = json!({"executionArn": arn});
        let outcome = loop {
            tokio::time::sleep(states::POLL).await;
            let description = if remote {
                self.remote_call("DescribeExecution", &describe)
                    .await
                    .map_err(|failure| failure.cause.unwrap_or(failure.error))
            } else {
                self.local_call(&api, "DescribeExecution", describe.clone())
                    .await
                    .map_err(|failure| format!("{}: {}", failure.code, failure.message))
            };
            match description {
                Ok(description) if states::ended(&description) => {
                    break states::sync_outcome(&description, nesting)
                }
                Ok(_) => continue,
                Err(message) => {
                    break Err(TaskFailure::new(
                        "States.TaskFailed",
                        format!("the child execution {arn} cannot be followed: {message}"),
                    ))
                }
            }
        };
        let (action, report) = match outcome {
            Ok(output) => (
                "SendTaskSuccess",
                json!({"taskToken": token, "output": output.to_string()}),
            ),
            Err(failure) => (
                "SendTaskFailure",
                json!({"taskToken": token, "error": failure.error, "cause": failure.cause}),
            ),
        };
        // A parent that stopped or timed out meanwhile no longer wants the answer.
        let _ = self.local_call(&api, action, report).await;
    }

    /// What a Distributed Map's ItemReader reads from S3: the object's text (the decider
    /// parses JSON, JSON Lines or CSV), or every object under a prefix as AWS lists them for
    /// a map (`Etag`, `Key`, `LastModified` in epoch seconds, `Size`, `StorageClass`).
    async fn read_items(
        &self,
        connected: &Connected,
        parameters: &Value,
        list: bool,
    ) -> Result<Value, TaskFailure> {
        let s3 = self.model("s3")?;
        if !list {
            let (object, response) = self
                .call_service(connected, &s3, "GetObject", parameters, Flavor::AwsSdk)
                .await?;
            // An S3 inventory's data files are gzipped CSV.
            if response.body.starts_with(&[0x1f, 0x8b]) {
                let mut text = String::new();
                std::io::Read::read_to_string(
                    &mut flate2::read::GzDecoder::new(&response.body[..]),
                    &mut text,
                )
                .map_err(|e| {
                    TaskFailure::new(
                        "States.ItemReaderFailed",
                        format!("The gzipped object cannot be read as text: {e}"),
                    )
                })?;
                return Ok(Value::String(text));
            }
            return Ok(object
                .get("Body")
                .cloned()
                .unwrap_or(Value::String(String::new())));
        }
        let mut items = Vec::new();
        let mut request = parameters.clone();
        loop {
            let (page, _) = self
                .call_service(connected, &s3, "ListObjectsV2", &request, Flavor::AwsSdk)
                .await?;
            for object in page
                .get("Contents")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let field = |key: &str| object.get(key).cloned().unwrap_or(Value::Null);
                let modified = object
                    .get("LastModified")
                    .and_then(Value::as_str)
                    .and_then(cairn_common::timestamp::parse_millis)
                    .map_or(Value::Null, |ms| Value::from(ms.div_euclid(1000)));
                items.push(json!({
                    "Etag": field("ETag"),
                    "Key": field("Key"),
                    "LastModified": modified,
                    "Size": field("Size"),
                    "StorageClass": field("StorageClass"),
                }));
            }
            match page.get("NextContinuationToken").and_then(Value::as_str) {
                Some(token) if page.get("IsTruncated") == Some(&Value::Bool(true)) => {
                    request["ContinuationToken"] = Value::String(token.to_owned());
                }
                _ => return Ok(Value::Array(items)),
            }
        }
    }

    /// What a Distributed Map's ResultWriter exports: each object put in turn, the manifest
    /// (the decider's last) only once the result files it lists are there.
    async fn write_results(
        &self,
        connected: &Connected,
        request: &Value,
    ) -> Result<Value, TaskFailure> {
        let s3 = self.model("s3")?;
        let bucket = request.get("Bucket").cloned().unwrap_or(Value::Null);
        // A write always has its manifest: a request without objects is one a shell sent
        // from a stored open task without rendering its files, which must fail, not "succeed"
        // with nothing written.
        let Some(objects) = request.get("Objects").and_then(Value::as_array) else {
            return Err(TaskFailure::new(
                "States.ResultWriterFailed",
                "the ResultWriter's request names no objects to write",
            ));
        };
        for object in objects {
            let put = json!({
                "Bucket": bucket,
                "Key": object.get("Key").cloned().unwrap_or(Value::Null),
                "Body": object.get("Body").cloned().unwrap_or(Value::Null),
                "ContentType": "application/json",
            });
            self.call_service(connected, &s3, "PutObject", &put, Flavor::AwsSdk)
                .await?;
        }
        Ok(json!({}))
    }

    /// An EventBridge connection as AWS keeps it: DescribeConnection names its authorization
    /// type and secret, Secrets Manager holds the credentials.
    async fn eventbridge_connection(
        &self,
        connected: &Connected,
        arn: &str,
    ) -> Result<Value, TaskFailure> {
        let not_found = |why: String| {
            TaskFailure::new(
                "Events.ConnectionResource.ResourceNotFound",
                format!("the connection '{arn}' cannot be read from EventBridge: {why}"),
            )
        };
        let name = arn
            .split_once(":connection/")
            .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
            .ok_or_else(|| not_found("not a connection ARN".into()))?;
        let events = self.model("eventbridge")?;
        let (described, _) = self
            .call_service(
                connected,
                &events,
                "DescribeConnection",
                &json!({"Name": name}),
                Flavor::AwsSdk,
            )
            .await
            .map_err(|f| not_found(f.cause.unwrap_or(f.error)))?;
        let text = |key: &str| {
            described
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let (Some(kind), Some(secret_arn)) = (text("AuthorizationType"), text("SecretArn")) else {
            return Err(not_found("it names no authorization type or secret".into()));
        };
        let secrets = self.model("secretsmanager")?;
        let (secret, _) = self
            .call_service(
                connected,
                &secrets,
                "GetSecretValue",
                &json!({"SecretId": secret_arn}),
                Flavor::AwsSdk,
            )
            .await
            .map_err(|f| not_found(f.cause.unwrap_or(f.error)))?;
        let secret: Value = secret
            .get("SecretString")
            .and_then(Value::as_str)
            .and_then(|text| serde_json::from_str(text).ok())
            .ok_or_else(|| not_found("its secret is not JSON".into()))?;
        Ok(http_task::from_eventbridge(&kind, &secret))
    }

    /// One action of the shell's own API, on a blocking thread (the API may block).
    async fn local_call(
        &self,
        api: &Arc<dyn StepFunctionsApi>,
        action: &'static str,
        request: Value,
    ) -> Result<Value, states::ApiFailure> {
        let api = Arc::clone(api);
        tokio::task::spawn_blocking(move || api.call(action, request))
            .await
            .unwrap_or_else(|e| {
                Err(states::ApiFailure {
                    code: "InternalError".into(),
                    message: format!("the API call stopped: {e}"),
                })
            })
    }

    /// One action of the Step Functions endpoint, in the API's own JSON shape.
    async fn remote_call(&self, operation: &str, request: &Value) -> Result<Value, TaskFailure> {
        let connected = self.connect().await?;
        let model = self.model("sfn")?;
        let input = pascal_keys(request);
        let (output, _) = self
            .call_service(connected, &model, operation, &input, Flavor::Optimized)
            .await?;
        Ok(camel_keys(&output))
    }
}

/// A random version-4 UUID, as the SDKs generate idempotency tokens.
fn fresh_uuid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let bits = |salt: u64| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(salt);
        hasher.finish()
    };
    cairn_common::entropy::uuid_from_bits(bits(1), bits(2))
}

/// The ARN of a named child: its state machine's ARN with `execution` and the name.
fn child_arn(start: &Value) -> String {
    let machine = start
        .get("stateMachineArn")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = start
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    format!(
        "{}:{name}",
        machine.replacen(":stateMachine:", ":execution:", 1)
    )
}

/// `{"executionArn": ..}` → `{"ExecutionArn": ..}` (top level only: the API's members).
fn pascal_keys(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (model::pascal_first(k), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The inverse of [`pascal_keys`].
fn camel_keys(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| {
                    let mut chars = k.chars();
                    let key = chars
                        .next()
                        .map(|c| c.to_lowercase().chain(chars).collect())
                        .unwrap_or_default();
                    (key, v.clone())
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

impl TaskInvoker for Integrations {
    fn start(&self, request: TaskRequest, done: TaskDone) -> Result<(), (TaskRequest, TaskDone)> {
        let Some(runtime) = self
            .runtime
            .handle()
            .filter(|_| self.handles(&request.kind))
        else {
            return Err((request, done));
        };
        let this = self.clone();
        runtime.spawn(async move { done.finish(this.call(&request).await) });
        Ok(())
    }

    fn invoke(&self, request: &TaskRequest) -> TaskOutcome {
        if let Err(other) = self.own_route(&request.kind) {
            return other.invoke(request);
        }
        let Some(runtime) = self.runtime.handle() else {
            return TaskOutcome::now(Err(TaskFailure::new(
                "States.Runtime",
                "the integrations' runtime has stopped",
            )));
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let this = self.clone();
        let request = request.clone();
        runtime.spawn(async move {
            let _ = tx.send(this.call(&request).await);
        });
        rx.recv().unwrap_or_else(|_| {
            TaskOutcome::now(Err(TaskFailure::new(
                "States.Runtime",
                "the service call stopped without an answer",
            )))
        })
    }
}

/// Which kind of call a resource is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    LegacyLambda,
    Lambda,
    Optimized {
        /// The model's service name.
        service: &'static str,
        operation: &'static str,
        /// Whether the result carries `SdkHttpMetadata`/`SdkResponseMetadata`.
        metadata: bool,
    },
    /// `states:startExecution` and its `.sync` forms.
    StartExecution(Nesting),
    /// A Distributed Map's ItemReader: `s3:getObject` (the object's text) or
    /// `s3:listObjectsV2` (the listing as items).
    ItemReader {
        list: bool,
    },
    /// A Distributed Map's ResultWriter: `{"Bucket", "Objects": [{"Key", "Body"}]}`, the
    /// result files and the manifest the decider shaped, put in that order.
    ResultWriter,
    /// The HTTP Task, `http:invoke`.
    Http,
    AwsSdk,
}

/// The call a `Service` resource's service and action (pattern suffix removed) make.
fn route(service: &str, action: &str) -> Option<Route> {
    let action = action.strip_suffix(".waitForTaskToken").unwrap_or(action);
    let optimized = |service, operation| {
        Some(Route::Optimized {
            service,
            operation,
            metadata: true,
        })
    };
    match (service, action) {
        ("lambda", "invoke") => Some(Route::Lambda),
        ("sns", "publish") => optimized("sns", "Publish"),
        ("sqs", "sendMessage") => optimized("sqs", "SendMessage"),
        ("dynamodb", "getItem") => optimized("dynamodb", "GetItem"),
        ("dynamodb", "putItem") => optimized("dynamodb", "PutItem"),
        ("dynamodb", "updateItem") => optimized("dynamodb", "UpdateItem"),
        ("dynamodb", "deleteItem") => optimized("dynamodb", "DeleteItem"),
        ("events", "putEvents") => Some(Route::Optimized {
            service: "events",
            operation: "PutEvents",
            metadata: false,
        }),
        ("states", action) => Nesting::of(action).map(Route::StartExecution),
        ("s3", "getObject") => Some(Route::ItemReader { list: false }),
        ("s3", "listObjectsV2") => Some(Route::ItemReader { list: true }),
        ("s3", "putObject") => Some(Route::ResultWriter),
        ("http", "invoke") => Some(Route::Http),
        (service, _) if service.starts_with("aws-sdk:") => Some(Route::AwsSdk),
        _ => None,
    }
}

fn unsupported(resource: &str, why: &str) -> TaskFailure {
    TaskFailure::new(
        UNSUPPORTED_RESOURCE,
        format!("Cairn cannot call the resource '{resource}': {why}"),
    )
}

/// S3 answers a HEAD it cannot serve with a bare 404, having no body to name the error; the
/// SDKs read it as the missing object or bucket the request named.
fn s3_head_error(
    model: &ServiceModel,
    operation: &str,
    response: &WireResponse,
    error: protocol::WireError,
) -> protocol::WireError {
    if model.name != "s3" || response.status != 404 || !response.body.is_empty() {
        return error;
    }
    let code = match operation {
        "HeadObject" => "NoSuchKey",
        "HeadBucket" => "NoSuchBucket",
        _ => return error,
    };
    protocol::WireError {
        code: code.to_owned(),
        ..error
    }
}

/// `events:putEvents` fails when any entry failed, with the whole answer as the cause.
fn put_events_result(output: Value) -> Result<Value, TaskFailure> {
    let failed = output
        .get("FailedEntryCount")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if failed > 0 {
        return Err(TaskFailure::new(
            "EventBridge.FailedEntry",
            output.to_string(),
        ));
    }
    Ok(output)
}

/// The SDK v1 response metadata the optimized integrations add to a result.
fn with_sdk_metadata(output: Value, response: &WireResponse) -> Value {
    let mut all = Map::new();
    let mut single = Map::new();
    for (name, value) in &response.headers {
        if let Some(values) = all
            .entry(name.clone())
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
        {
            values.push(Value::String(value.clone()));
        }
        single.insert(name.clone(), Value::String(value.clone()));
    }
    let mut result = match output {
        Value::Object(fields) => fields,
        other => {
            let mut fields = Map::new();
            fields.insert("Result".into(), other);
            fields
        }
    };
    result.insert(
        "SdkHttpMetadata".into(),
        json!({
            "AllHttpHeaders": all,
            "HttpHeaders": single,
            "HttpStatusCode": response.status,
        }),
    );
    result.insert(
        "SdkResponseMetadata".into(),
        json!({"RequestId": errors::request_id(response)}),
    );
    Value::Object(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_route_to_their_integrations() {
        assert_eq!(route("lambda", "invoke"), Some(Route::Lambda));
        assert_eq!(
            route("sqs", "sendMessage.waitForTaskToken"),
            Some(Route::Optimized {
                service: "sqs",
                operation: "SendMessage",
                metadata: true
            })
        );
        assert_eq!(route("aws-sdk:s3", "getObject"), Some(Route::AwsSdk));
        assert_eq!(route("http", "invoke"), Some(Route::Http));
        assert_eq!(
            route("states", "startExecution.sync"),
            Some(Route::StartExecution(Nesting::Sync))
        );
        assert_eq!(route("states", "describeExecution"), None);
        assert_eq!(route("batch", "submitJob"), None);
    }

    #[test]
    fn a_result_write_without_its_objects_fails_instead_of_writing_nothing() {
        // Nothing listens on the endpoint: the request must fail before any call.
        let settings = Settings {
            region: Some("us-east-1".into()),
            endpoint_url: Some("http://127.0.0.1:9".into()),
            static_credentials: Some(("test".into(), "test".into())),
            ..Settings::default()
        };
        let integrations = Integrations::new(settings, Arc::new(cairn_runtime::Unsupported))
            .expect("integrations");
        let request = TaskRequest {
            task_id: 1,
            state_name: "Map".into(),
            resource: "arn:aws:states:::s3:putObject".into(),
            kind: ResourceKind::Service {
                service: "s3".into(),
                action: "putObject".into(),
                pattern: cairn_interpreter::IntegrationPattern::RequestResponse,
            },
            input: json!({"Bucket": "b"}),
            task_token: None,
            credentials: None,
            now_ms: 0,
            execution_arn: String::new(),
        };
        let failure = integrations
            .invoke(&request)
            .result
            .expect_err("a write of nothing");
        assert_eq!(failure.error, "States.ResultWriterFailed");
    }

    #[test]
    fn endpoints_come_from_the_services_variable_then_the_shared_one_then_aws() {
        let models = Models::new(None);
        let secrets = models.get("secretsmanager").unwrap();
        let sfn = models.get("sfn").unwrap();
        let settings = Settings::from_vars([
            (
                "AWS_ENDPOINT_URL".to_string(),
                "http://shared:1".to_string(),
            ),
            (
                "AWS_ENDPOINT_URL_SECRETS_MANAGER".to_string(),
                "http://secrets:2".to_string(),
            ),
        ]);
        assert_eq!(
            settings.endpoint_for(&secrets, "eu-west-1"),
            "http://secrets:2"
        );
        assert_eq!(settings.endpoint_for(&sfn, "eu-west-1"), "http://shared:1");
        assert_eq!(
            Settings::default().endpoint_for(&sfn, "eu-west-1"),
            "https://states.eu-west-1.amazonaws.com"
        );
    }

    #[test]
    fn a_bare_404_to_an_s3_head_names_the_missing_object_or_bucket() {
        let models = Models::new(None);
        let s3 = models.get("s3").unwrap();
        let response = WireResponse {
            status: 404,
            headers: vec![],
            body: Vec::new(),
        };
        let bare = protocol::error(&s3, &response);
        let failure = |operation| {
            let error = s3_head_error(&s3, operation, &response, bare.clone());
            errors::service_failure(&s3, Flavor::AwsSdk, &response, &error).error
        };
        assert_eq!(failure("HeadObject"), "S3.NoSuchKeyException");
        assert_eq!(failure("HeadBucket"), "S3.NoSuchBucketException");
        assert_eq!(failure("GetObject"), "S3.S3Exception");
    }

    #[test]
    fn failed_event_entries_fail_the_task_with_the_answer_as_cause() {
        let answer = json!({"Entries": [{"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}], "FailedEntryCount": 1});
        let failure = put_events_result(answer.clone()).unwrap_err();
        assert_eq!(failure.error, "EventBridge.FailedEntry");
        assert_eq!(
            serde_json::from_str::<Value>(failure.cause.as_deref().unwrap()).unwrap(),
            answer
        );
        let ok = json!({"Entries": [{"EventId": "e"}], "FailedEntryCount": 0});
        assert_eq!(put_events_result(ok.clone()).unwrap(), ok);
    }

    #[test]
    fn optimized_results_carry_the_sdk_metadata() {
        let response = WireResponse {
            status: 200,
            headers: vec![
                ("x-amzn-RequestId".into(), "r-9".into()),
                ("Content-Type".into(), "application/x-amz-json-1.0".into()),
            ],
            body: b"{}".to_vec(),
        };
        let result = with_sdk_metadata(json!({"MessageId": "m"}), &response);
        assert_eq!(result["MessageId"], "m");
        assert_eq!(result["SdkResponseMetadata"], json!({"RequestId": "r-9"}));
        assert_eq!(result["SdkHttpMetadata"]["HttpStatusCode"], 200);
        assert_eq!(
            result["SdkHttpMetadata"]["AllHttpHeaders"]["Content-Type"],
            json!(["application/x-amz-json-1.0"])
        );
        assert_eq!(
            result["SdkHttpMetadata"]["HttpHeaders"]["x-amzn-RequestId"],
            "r-9"
        );
    }
}
