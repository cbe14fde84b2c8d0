//! `cairn serve`: the Step Functions API over HTTP/1.1 (AWS JSON 1.0) on the embedded
//! durable store.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use cairn_api::{Api, ApiError, Config};
use cairn_runtime::{ScriptedLambda, TaskInvoker};
use cairn_store_sqlite::SqliteStore;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};

/// Largest request body: payloads are at most 256 KiB, definitions at most 1 MiB. A raised
/// payload limit raises it too (a payload travels as JSON text inside the JSON request, where
/// escaping can double it).
const MAX_BODY: usize = 8 * 1024 * 1024;
const TARGET_PREFIX: &str = "AWSStepFunctions.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// AWS JSON 1.1, which some clients send; Step Functions answers in the version asked.
const CONTENT_TYPE_1_1: &str = "application/x-amz-json-1.1";
const TOKEN_KEY_FILE: &str = "task-token.key";
/// Enough writes in flight for a group commit to share its fsync among many (the Standard
/// load of 64 clients), few enough that 64 clients no longer mean 130-300 threads.
const DEFAULT_ACTION_THREADS: usize = 64;
/// AWS's quota of pollers per activity ARN.
const DEFAULT_ACTIVITY_POLLERS: usize = 1000;

#[derive(clap::Args)]
pub struct Args {
    /// TCP port to listen on (0 picks a free one and prints it).
    #[arg(long, default_value_t = 8083)]
    pub port: u16,
    /// Address to bind; the default keeps the API on this machine.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
    /// Directory of the durable store (created if missing).
    #[arg(long, value_name = "DIR", default_value = "cairn-data")]
    pub data: PathBuf,
    /// Region in the ARNs Cairn mints.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Account id in the ARNs Cairn mints.
    #[arg(long, default_value = "123456789012")]
    pub account: String,
    /// Play Lambda functions in-process from a JSON list
    /// (`[{"name", "behaviour": "echo" | "raise" | "return" | ...}]`) instead of calling
    /// Lambda. Other services are called as the AWS SDKs would (AWS_REGION, credentials,
    /// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>).
    #[arg(long, value_name = "FILE")]
    pub functions: Option<PathBuf>,
    /// Keep the last N finished Express executions in memory so DescribeExecution and
    /// GetExecutionHistory show them (AWS keeps none; 0 behaves as AWS).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub express_history: usize,
    /// Verify each request's SigV4 signature against the access keys in this JSON file
    /// (`[{"AccessKeyId", "SecretAccessKey", "SessionToken"?}]`), scoped to `--region` and
    /// `states`, and refuse the others with AWS's errors. Without it signatures go unchecked.
    #[arg(long, value_name = "KEYS_FILE")]
    pub auth: Option<PathBuf>,
    /// AWS Step Functions Local's mock configuration file (default: the file named by
    /// SFN_MOCK_CONFIG): StartExecution on `<stateMachineArn>#<TestCaseName>` answers that
    /// execution's Task states from the test case's mocked responses.
    #[arg(long, value_name = "FILE")]
    pub mock_config: Option<PathBuf>,
    /// Write the log events that state machines' `loggingConfiguration` asks for (level
    /// ALL, ERROR or FATAL; `includeExecutionData`) as JSON lines in AWS's CloudWatch Logs
    /// shape, to FILE (appended) or `-` (standard output).
    #[arg(long, value_name = "FILE|-")]
    pub execution_log: Option<String>,
    /// Send each Standard execution's status changes ("Step Functions Execution Status
    /// Change", source `aws.states`) to `http://HOST:PORT/PATH` (a webhook POST) or to
    /// `eventbridge[:BUS]` (PutEvents through the integrations' EventBridge endpoint).
    #[arg(long, value_name = "TARGET")]
    pub status_events: Option<String>,
    /// Delete closed executions and their histories this many days after they ended (AWS
    /// keeps them 90 days), in a sweep at start and every hour; 0 keeps them forever.
    #[arg(long, value_name = "N", default_value_t = cairn_api::retention::DEFAULT_DAYS)]
    pub retention_days: u32,
    /// Threads that run API actions (a Standard write waits on one for its group commit, so
    /// this bounds how many writes share an fsync; more requests at once wait in line).
    /// GetActivityTask's long polls have their own threads (`--max-activity-pollers`).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_ACTION_THREADS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub action_threads: usize,
    /// GetActivityTask long polls held at once (each holds a thread up to 60 s); one more is
    /// refused with ActivityWorkerLimitExceeded, as AWS refuses pollers past its quota.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_ACTIVITY_POLLERS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_activity_pollers: usize,
    /// Run a Distributed Map's EXPRESS children as executions of their own, each stored with
    /// its whole history while it runs, as STANDARD children always are. Without it they run
    /// inside their parent and are stored, with only their start and end, when their Map Run
    /// ends: AWS shows no history of an Express execution, and a run of many short children
    /// is then written a few times instead of once per batch of ends.
    #[arg(long)]
    pub express_map_run_children: bool,
    #[command(flatten)]
    pub limits: crate::limits::LimitArgs,
}

pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let mut integrations = crate::integrations(&args.region)?;
    if let Some(path) = &args.functions {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let list: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        integrations = integrations.with_lambda_stand_in(Arc::new(
            ScriptedLambda::from_json(&list, &args.region, &args.account)
                .with_context(|| format!("in {}", path.display()))?,
        ));
    }
    let keys = match &args.auth {
        Some(path) => Some(Arc::new(crate::auth::Keys::load(path, &args.region)?)),
        None => None,
    };
    let mut invoker: Arc<dyn TaskInvoker> = Arc::new(integrations.clone());
    let mocks = match args
        .mock_config
        .clone()
        .or_else(|| std::env::var_os("SFN_MOCK_CONFIG").map(PathBuf::from))
    {
        Some(path) => {
            let config = crate::run::load_mock_config(Some(&path))?;
            let registry = Arc::new(cairn_runtime::MockRegistry::new(config, invoker));
            invoker = registry.clone();
            Some(registry)
        }
        None => None,
    };
    let store = SqliteStore::open(&args.data)
        .with_context(|| format!("opening the store in {}", args.data.display()))?;
    let token_key = token_key(&args.data)?;
    let execution_log = match &args.execution_log {
        Some(target) => Some(Arc::new(crate::observers::LineLog::open(target)?)
            as Arc<dyn cairn_api::observe::ExecutionLogSink>),
        None => None,
    };
    let status_events = match &args.status_events {
        Some(target) => Some(Arc::new(crate::observers::status_events(
            target,
            Arc::new(integrations.clone()),
        )?) as Arc<dyn cairn_api::observe::StatusEventSink>),
        None => None,
    };
    let config = Config {
        region: args.region.clone(),
        account: args.account.clone(),
        invoker,
        express_history: args.express_history,
        token_key,
        express_journal: Some(args.data.join("express-journal")),
        limits: args.limits.limits(),
        mocks,
        execution_log,
        status_events,
        express_map_run_children: args.express_map_run_children,
        ..Config::default()
    };
    let api = Api::new(Arc::new(store), config);
    // A nested execution of a state machine stored here runs here, and a `.sync` parent
    // hears of its child's end from this process.
    integrations.with_step_functions(Arc::new(api.clone()), true);
    let resumed = api
        .recover()
        .map_err(|e| anyhow::anyhow!("resuming running executions: {e}"))?;
    if args.retention_days > 0 {
        let (sweeper, days) = (api.clone(), args.retention_days);
        std::thread::Builder::new()
            .name("cairn-retention".into())
            .spawn(move || loop {
                if let Err(error) = sweeper.sweep_retention(days) {
                    eprintln!("cairn: the retention sweep failed: {error}");
                }
                std::thread::sleep(std::time::Duration::from_secs(3600));
            })
            .context("starting the retention sweep")?;
    }

    let addr: SocketAddr = format!("{}:{}", args.bind, args.port)
        .parse()
        .with_context(|| format!("'{}' is not an IP address", args.bind))?;
    // The blocking pool serves only the long polls: every other action runs on `lanes.actions`.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_io()
        .max_blocking_threads(args.max_activity_pollers)
        .build()
        .context("starting the async runtime")?;
    let lanes = Arc::new(Lanes {
        actions: pool::ActionPool::new("cairn-action", args.action_threads),
        pollers: Pollers::new(args.max_activity_pollers),
    });
    runtime.block_on(serve(api, addr, resumed, &args, keys, lanes))?;
    Ok(ExitCode::SUCCESS)
}

/// The task-token signing key, kept in the data directory so tokens stay valid across
/// restarts; created (readable by the owner only) on first start.
fn token_key(data: &Path) -> anyhow::Result<Vec<u8>> {
    let path = data.join(TOKEN_KEY_FILE);
    match std::fs::read(&path) {
        Ok(key) if key.len() >= 16 => return Ok(key),
        Ok(_) => anyhow::bail!(
            "{} is too short to be a key: delete it to make a new one",
            path.display()
        ),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
    }
    let key = cairn_api::new_token_key()
        .map_err(|e| anyhow::anyhow!("no random source for the token key: {e}"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    std::io::Write::write_all(&mut file, &key)
        .with_context(|| format!("writing {}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(key)
}

async fn serve(
    api: Api,
    addr: SocketAddr,
    resumed: usize,
    args: &Args,
    keys: Option<Arc<crate::auth::Keys>>,
    lanes: Arc<Lanes>,
) -> anyhow::Result<()> {
    let max_body = MAX_BODY.max(
        args.limits
            .max_payload_bytes
            .saturating_mul(2)
            .saturating_add(1024 * 1024),
    );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr().context("reading the bound address")?;
    // Scripts wait for this line (and read the port from it when --port 0).
    println!(
        "cairn serve listening on http://{local} (data: {}, resumed {resumed} running executions)",
        args.data.display()
    );
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                eprintln!("cairn: accept failed: {error}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let api = api.clone();
        let keys = keys.clone();
        let lanes = lanes.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                handle(api.clone(), request, max_body, keys.clone(), lanes.clone())
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(error) = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(io, service)
                .await
            {
                if !error.is_incomplete_message() {
                    eprintln!("cairn: connection error: {error}");
                }
            }
        });
    }
}

fn respond_as(
    status: StatusCode,
    body: &Value,
    error_type: Option<&str>,
    content_type: &'static str,
) -> Response<Full<Bytes>> {
    let mut builder = Response::builder()
        .status(status)
        .header("Content-Type", content_type)
        .header("x-amzn-RequestId", request_id());
    if let Some(error_type) = error_type {
        builder = builder.header("X-Amzn-ErrorType", error_type);
    }
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    builder
        .body(Full::new(Bytes::from(bytes)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn error_response(error: &ApiError) -> Response<Full<Bytes>> {
    error_response_as(error, CONTENT_TYPE)
}

fn error_response_as(error: &ApiError, content_type: &'static str) -> Response<Full<Bytes>> {
    let status = if error.is_server_fault() {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::BAD_REQUEST
    };
    error_with_status(status, error, content_type)
}

fn error_with_status(
    status: StatusCode,
    error: &ApiError,
    content_type: &'static str,
) -> Response<Full<Bytes>> {
    respond_as(
        status,
        &error.wire_body(),
        Some(&error.error_type),
        content_type,
    )
}

/// A random version 4 UUID, as AWS's request ids are: a per-process random seed (std's
/// hasher keys come from the operating system) stepped by SplitMix64.
fn request_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static SEED: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    });
    let n = NEXT.fetch_add(2, Ordering::Relaxed);
    let entropy = |i: u64| cairn_common::entropy::splitmix64(seed.wrapping_add(i));
    cairn_common::entropy::uuid_from_bits(entropy(n), entropy(n + 1))
}

/// The error AWS's request handling answers a body over the size limit with (HTTP 413).
fn too_large(action: &str, max_body: usize, content_type: &'static str) -> Response<Full<Bytes>> {
    let error = ApiError::new(
        "RequestEntityTooLargeException",
        format!("Request must be smaller than {max_body} bytes for the {action} operation"),
    );
    error_with_status(StatusCode::PAYLOAD_TOO_LARGE, &error, content_type)
}

/// A `Content-Encoding: gzip` body inflated, at most `max_body` bytes of it (`None`: more).
fn gunzip(body: &[u8], max_body: usize) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read as _;
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(max_body as u64 + 1)
        .read_to_end(&mut inflated)?;
    Ok((inflated.len() <= max_body).then_some(inflated))
}

/// One AWS JSON 1.0 request. The Host header is ignored, so StartSyncExecution and TestState
/// sent to a `sync-` prefixed host name are served like any other action.
async fn handle(
    api: Api,
    request: Request<Incoming>,
    max_body: usize,
    keys: Option<Arc<crate::auth::Keys>>,
    lanes: Arc<Lanes>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    // The web console (GET /console/..., and a browser's GET /) shares the API's port.
    if let Some(response) = crate::console::route(&request) {
        return Ok(response);
    }
    if request.method() != Method::POST {
        let error = ApiError::new(
            "UnknownOperationException",
            "The Step Functions API takes POST / requests",
        );
        return Ok(error_response(&error));
    }
    let (parts, body) = request.into_parts();
    // The media type without parameters (`; charset=utf-8`) decides the answer's version.
    let media_type = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or_default();
    let content_type = if media_type.eq_ignore_ascii_case(CONTENT_TYPE_1_1) {
        CONTENT_TYPE_1_1
    } else {
        CONTENT_TYPE
    };
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_default();
    let Some(action) = target.strip_prefix(TARGET_PREFIX).map(str::to_string) else {
        let error = ApiError::new(
            "UnknownOperationException",
            format!("Missing or unknown X-Amz-Target '{target}': expected {TARGET_PREFIX}<Action>"),
        );
        return Ok(error_response_as(&error, content_type));
    };
    // A declared length over the limit is refused before the body is read.
    let declared = parts
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max_body as u64) {
        return Ok(too_large(&action, max_body, content_type));
    }
    let body = match Limited::new(body, max_body).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            return Ok(too_large(&action, max_body, content_type))
        }
        Err(error) => {
            return Ok(error_response_as(
                &ApiError::new(
                    "SerializationException",
                    format!("cannot read the body: {error}"),
                ),
                content_type,
            ))
        }
    };
    // The signature covers the body as sent, so it is checked before inflating.
    if let Some(keys) = &keys {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let signed = crate::auth::Signed {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers: &parts.headers,
            body: &body,
        };
        if let Err(rejection) = keys.verify(&signed, now_ms) {
            let error = ApiError::new(rejection.error_type, rejection.message);
            return Ok(error_with_status(
                StatusCode::BAD_REQUEST,
                &error,
                content_type,
            ));
        }
    }
    let encoding = parts
        .headers
        .get("content-encoding")
        .map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let body = match encoding.as_str() {
        "" | "identity" => body.to_vec(),
        "gzip" | "x-gzip" => match gunzip(&body, max_body) {
            Ok(Some(inflated)) => inflated,
            Ok(None) => return Ok(too_large(&action, max_body, content_type)),
            Err(error) => {
                let error = ApiError::new(
                    "SerializationException",
                    format!("the body is not valid gzip: {error}"),
                );
                return Ok(error_response_as(&error, content_type));
            }
        },
        other => {
            let error = ApiError::new(
                "SerializationException",
                format!("Content-Encoding '{other}' is not supported: send the body as is or gzip-compressed"),
            );
            return Ok(error_response_as(&error, content_type));
        }
    };
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        // The same reading as the api function's: an unpaired surrogate in a name is
        // InvalidName, as AWS answers, not a body refused whole.
        match cairn_api::names::parse_request(&body) {
            Ok(value) => value,
            Err(error) => {
                let error = ApiError::new(
                    "SerializationException",
                    format!("the body is not JSON: {error}"),
                );
                return Ok(error_response_as(&error, content_type));
            }
        }
    };
    // AWS prefers the X-Ray header to the body's traceHeader.
    let trace = parts
        .headers
        .get("x-amzn-trace-id")
        .and_then(|v| v.to_str().ok());
    let body = cairn_api::fields::with_trace_header(&action, body, trace);
    // Actions block (store commits, the 60 s GetActivityTask long poll): keep them off the
    // async threads. A long poll holds its thread for up to a minute, so polls get threads of
    // their own: a thousand waiting workers must not leave StartExecution without a thread.
    let result = if action == "GetActivityTask" {
        let Some(held) = lanes.pollers.hold() else {
            let error = ApiError::new(
                "ActivityWorkerLimitExceeded",
                "The maximum number of workers concurrently polling for activity tasks has been reached.",
            );
            return Ok(error_response_as(&error, content_type));
        };
        tokio::task::spawn_blocking(move || {
            let _held = held;
            api.handle(&action, body)
        })
        .await
        .map_err(|join| join.to_string())
    } else {
        lanes
            .actions
            .run(move || api.handle(&action, body))
            .await
            .map_err(|_| "it panicked, or no thread could be started for it".to_string())
    };
    Ok(match result {
        Ok(Ok(value)) => respond_as(StatusCode::OK, &value, None, content_type),
        Ok(Err(error)) => error_response_as(&error, content_type),
        Err(failure) => error_response_as(
            &ApiError::new("InternalFailure", format!("the action failed: {failure}")),
            content_type,
        ),
    })
}

/// Where actions run: the bounded action threads, and the long polls' own allowance.
struct Lanes {
    actions: pool::ActionPool,
    pollers: Pollers,
}

/// Counts the GetActivityTask polls being held.
struct Pollers {
    held: Arc<std::sync::atomic::AtomicUsize>,
    limit: usize,
}

/// One poll's place among [`Pollers`], given back when dropped.
struct HeldPoll(Arc<std::sync::atomic::AtomicUsize>);

impl Pollers {
    fn new(limit: usize) -> Pollers {
        Pollers {
            held: Arc::default(),
            limit,
        }
    }

    /// A place for one more poll, or `None` when `limit` are held.
    fn hold(&self) -> Option<HeldPoll> {
        use std::sync::atomic::Ordering;
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held < self.limit).then_some(held + 1)
            })
            .ok()
            .map(|_| HeldPoll(Arc::clone(&self.held)))
    }
}

impl Drop for HeldPoll {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// The threads API actions run on.
///
/// Not tokio's blocking pool, which starts a thread whenever none is idle: 64 clients grew it
/// to 130-300 threads (memory follows them), and each call woke one of them through the pool's
/// one lock. Here at most `limit` threads are started, when requests need them, and kept; a
/// thread that finishes an action takes the next queued one without sleeping, so under load
/// most calls wake nobody.
mod pool {
    use std::collections::VecDeque;
    use std::sync::{Arc, Condvar, Mutex, MutexGuard};

    type Job = Box<dyn FnOnce() + Send>;

    pub struct ActionPool {
        shared: Arc<Shared>,
    }

    struct Shared {
        state: Mutex<State>,
        wake: Condvar,
        limit: usize,
        name: &'static str,
    }

    #[derive(Default)]
    struct State {
        queue: VecDeque<Job>,
        threads: usize,
        /// Threads waiting for a job and not yet called.
        idle: usize,
        /// Calls made to idle threads not yet answered (a condition variable may also wake
        /// a thread nobody called).
        called: usize,
        closed: bool,
    }

    impl Shared {
        fn lock(&self) -> MutexGuard<'_, State> {
            // A job runs outside the lock, so a panic cannot leave the state half changed.
            self.state.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    impl ActionPool {
        pub fn new(name: &'static str, limit: usize) -> ActionPool {
            ActionPool {
                shared: Arc::new(Shared {
                    state: Mutex::new(State::default()),
                    wake: Condvar::new(),
                    limit: limit.max(1),
                    name,
                }),
            }
        }

        /// Runs `work` on one of the pool's threads; the answer is an error if the work
        /// panicked or no thread could be started.
        pub fn run<T: Send + 'static>(
            &self,
            work: impl FnOnce() -> T + Send + 'static,
        ) -> tokio::sync::oneshot::Receiver<T> {
            let (answer, answered) = tokio::sync::oneshot::channel();
            self.submit(Box::new(move || {
                let _ = answer.send(work());
            }));
            answered
        }

        fn submit(&self, job: Job) {
            let mut state = self.shared.lock();
            state.queue.push_back(job);
            if state.idle > 0 {
                state.idle -= 1;
                state.called += 1;
                drop(state);
                self.shared.wake.notify_one();
            } else if state.threads < self.shared.limit {
                state.threads += 1;
                let started = state.threads;
                drop(state);
                let shared = Arc::clone(&self.shared);
                let spawned = std::thread::Builder::new()
                    .name(format!("{}-{started}", self.shared.name))
                    .spawn(move || work(&shared));
                if let Err(error) = spawned {
                    eprintln!("cairn: cannot start an action thread: {error}");
                    let mut state = self.shared.lock();
                    state.threads -= 1;
                    if state.threads == 0 {
                        // Nobody would ever run them: dropping them answers their callers.
                        state.queue.clear();
                    }
                }
            }
            // Otherwise every thread is busy, and the first to finish takes it.
        }

        #[cfg(test)]
        pub fn threads(&self) -> usize {
            self.shared.lock().threads
        }
    }

    impl Drop for ActionPool {
        fn drop(&mut self) {
            self.shared.lock().closed = true;
            self.shared.wake.notify_all();
        }
    }

    fn work(shared: &Shared) {
        let mut state = shared.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                // A panicking action loses only its answer (its caller hears the channel
                // close), not the thread.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                state = shared.lock();
                continue;
            }
            if state.closed {
                state.threads -= 1;
                return;
            }
            state.idle += 1;
            loop {
                state = shared.wake.wait(state).unwrap_or_else(|e| e.into_inner());
                if state.called > 0 {
                    state.called -= 1;
                    break;
                }
                if state.closed {
                    state.idle -= 1;
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pool::ActionPool;
    use super::Pollers;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};
    use std::time::Duration;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    }

    #[test]
    fn more_actions_than_threads_wait_for_one_and_all_run() {
        let pool = ActionPool::new("test-action", 4);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let answers: Vec<_> = (0..64)
            .map(|i| {
                let (running, most) = (Arc::clone(&running), Arc::clone(&most));
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(2));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i * 2
                })
            })
            .collect();
        let results: Vec<usize> = runtime().block_on(async {
            let mut results = Vec::new();
            for answer in answers {
                results.push(answer.await.expect("an answer"));
            }
            results
        });
        assert_eq!(results, (0..64).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(pool.threads(), 4);
        assert!(most.load(Ordering::SeqCst) <= 4, "{most:?} ran at once");
    }

    #[test]
    fn the_pool_starts_threads_only_as_actions_need_them() {
        let pool = ActionPool::new("test-action", 64);
        let rt = runtime();
        for i in 0..100 {
            assert_eq!(rt.block_on(pool.run(move || i)).expect("an answer"), i);
        }
        // One caller at a time needs one thread, and a second now and then: the caller can
        // send its next call before the thread that answered it is back waiting.
        assert!(pool.threads() <= 4, "{} threads", pool.threads());
    }

    #[test]
    fn blocked_actions_use_all_threads_at_once() {
        let pool = ActionPool::new("test-action", 8);
        // Eight actions that each wait for all eight: they finish only if each has a thread.
        let barrier = Arc::new(Barrier::new(8));
        let answers: Vec<_> = (0..8)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                pool.run(move || barrier.wait().is_leader())
            })
            .collect();
        let leaders = runtime().block_on(async {
            let mut leaders = 0;
            for answer in answers {
                leaders += usize::from(answer.await.expect("an answer"));
            }
            leaders
        });
        assert_eq!(leaders, 1);
    }

    #[test]
    fn a_panicking_action_loses_its_answer_not_its_thread() {
        let pool = ActionPool::new("test-action", 1);
        let rt = runtime();
        let failed = rt.block_on(pool.run(|| -> usize { panic!("an action failed") }));
        assert!(failed.is_err());
        assert_eq!(rt.block_on(pool.run(|| 7)).expect("an answer"), 7);
        assert_eq!(pool.threads(), 1);
    }

    #[test]
    fn polls_past_the_allowance_are_refused_until_one_ends() {
        let pollers = Pollers::new(2);
        let first = pollers.hold().expect("a place");
        let _second = pollers.hold().expect("a place");
        assert!(pollers.hold().is_none());
        drop(first);
        assert!(pollers.hold().is_some());
    }
}
