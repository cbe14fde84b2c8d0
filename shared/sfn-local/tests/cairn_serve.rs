//! `aws-sdk-sfn` against the real `cairn serve` binary: with the helper the `sync-` operations
//! reach it, without it they do not.
//!
//! Cargo cannot give one package's tests another package's binary (`CARGO_BIN_EXE_*` is for
//! the package's own), so the tests ask the cargo running them to build `cairn` and read the
//! executable's path from its JSON messages: that follows `CARGO_TARGET_DIR` and is a no-op
//! when `cargo test --workspace` has just built it. A build or start failure fails the test.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_sfn::config::retry::RetryConfig;
use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::error::SdkError;
use aws_sdk_sfn::types::{
    ExecutionStatus, StateMachineType, SyncExecutionStatus, TestExecutionStatus,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use cairn_sfn_local::DisableHostPrefix;
use serde_json::{json, Value};

const ROLE: &str = "arn:aws:iam::123456789012:role/cairn-sfn-local";
const ADD: &str = r#"{"StartAt": "Add", "States": {"Add": {"Type": "Pass",
    "Parameters": {"sum.$": "States.MathAdd($.a, $.b)"}, "End": true}}}"#;

fn cairn_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        // --locked: the cargo running this test has already resolved the lock file; the
        // nested build must never rewrite it.
        let output = Command::new(&cargo)
            .args([
                "build", "--quiet", "--locked", "-p", "cairn", "--bin", "cairn",
            ])
            .arg("--message-format=json-render-diagnostics")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|error| panic!("cannot run {cargo:?} to build cairn: {error}"));
        assert!(
            output.status.success(),
            "`cargo build -p cairn` failed ({}); its messages are above",
            output.status
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|message| message["reason"] == "compiler-artifact")
            .filter(|message| message["target"]["name"] == "cairn")
            .find_map(|message| message["executable"].as_str().map(PathBuf::from))
            .expect("`cargo build -p cairn` reported no cairn executable")
    })
}

/// A `cairn serve` on a free port over a fresh data directory, killed and removed on drop.
struct Server {
    child: Child,
    data: PathBuf,
    endpoint: String,
}

impl Server {
    fn start() -> Server {
        Server::start_with(&[])
    }

    /// `cairn serve` with extra arguments (e.g. `--auth FILE`).
    fn start_with(extra: &[&std::ffi::OsStr]) -> Server {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let data = std::env::temp_dir().join(format!(
            "cairn-sfn-local-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&data);
        let binary = cairn_binary();
        let mut child = Command::new(binary)
            .args(["serve", "--port", "0", "--data"])
            .arg(&data)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));
        // Read on a thread so that a server that never prints fails the test instead of
        // hanging it, and keep draining so that later output never fills the pipe.
        let stdout = child.stdout.take().expect("stdout is piped");
        let (first_line, receive) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = first_line.send(lines.next());
            for _ in lines {}
        });
        let mut server = Server {
            child,
            data,
            endpoint: String::new(),
        };
        let line = match receive.recv_timeout(Duration::from_secs(30)) {
            Ok(Some(Ok(line))) => line,
            other => panic!(
                "cairn serve printed no first line within 30 s ({other:?}); exit status: {:?}",
                server.child.try_wait()
            ),
        };
        server.endpoint = line
            .split_once("listening on ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line from cairn serve: {line}"))
            .to_owned();
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

async fn create(sfn: &aws_sdk_sfn::Client, name: &str, kind: StateMachineType) -> String {
    sfn.create_state_machine()
        .name(name)
        .definition(ADD)
        .role_arn(ROLE)
        .r#type(kind)
        .send()
        .await
        .unwrap_or_else(|error| panic!("CreateStateMachine {name}: {error:?}"))
        .state_machine_arn
}

#[tokio::test]
async fn the_helper_reaches_every_operation_sync_ones_included() {
    let server = Server::start();
    let sfn = cairn_sfn_local::client(&server.endpoint);

    let standard = create(&sfn, "standard", StateMachineType::Standard).await;
    let express = create(&sfn, "express", StateMachineType::Express).await;

    let sync = sfn
        .start_sync_execution()
        .state_machine_arn(&express)
        .input(r#"{"a": 2, "b": 5}"#)
        .send()
        .await
        .expect("StartSyncExecution through the helper");
    assert_eq!(sync.status, SyncExecutionStatus::Succeeded);
    assert!(sync.execution_arn.contains(":express:express:"));
    let output: Value = serde_json::from_str(sync.output().expect("an output")).unwrap();
    assert_eq!(output, json!({"sum": 7}));

    let tested = sfn
        .test_state()
        .definition(r#"{"Type": "Pass", "Parameters": {"greeting.$": "States.Format('hello {}', $.who)"}, "End": true}"#)
        .role_arn(ROLE)
        .input(r#"{"who": "cairn"}"#)
        .send()
        .await
        .expect("TestState through the helper");
    assert_eq!(tested.status, Some(TestExecutionStatus::Succeeded));
    let output: Value = serde_json::from_str(tested.output().expect("an output")).unwrap();
    assert_eq!(output, json!({"greeting": "hello cairn"}));

    // The interceptor leaves the unprefixed operations as they were.
    let started = sfn
        .start_execution()
        .state_machine_arn(&standard)
        .input(r#"{"a": 20, "b": 22}"#)
        .send()
        .await
        .expect("StartExecution through the helper");
    let deadline = Instant::now() + Duration::from_secs(10);
    let described = loop {
        let described = sfn
            .describe_execution()
            .execution_arn(&started.execution_arn)
            .send()
            .await
            .expect("DescribeExecution through the helper");
        if described.status != ExecutionStatus::Running || Instant::now() > deadline {
            break described;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(described.status, ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(described.output().expect("an output")).unwrap();
    assert_eq!(output, json!({"sum": 42}));
}

#[tokio::test]
async fn without_the_helper_the_sync_operations_miss_the_endpoint() {
    let server = Server::start();
    // The same client as the helper builds, minus the interceptor; no retries, so the
    // failure is reported at once.
    let sfn = aws_sdk_sfn::Client::from_conf(
        aws_sdk_sfn::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(cairn_sfn_local::DEFAULT_REGION))
            .credentials_provider(Credentials::new("cairn", "cairn", None, None, "test"))
            .endpoint_url(&server.endpoint)
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    // The endpoint itself is reachable...
    let express = create(&sfn, "express", StateMachineType::Express).await;

    // ...but the sync operations go to `sync-127.0.0.1`, which is no host.
    let error = sfn
        .start_sync_execution()
        .state_machine_arn(&express)
        .input(r#"{"a": 2, "b": 5}"#)
        .send()
        .await
        .expect_err("StartSyncExecution without the helper must not reach cairn serve");
    assert!(
        matches!(error, SdkError::DispatchFailure(_)),
        "expected a dispatch (connection) failure, got {error:?}"
    );
    let error = sfn
        .test_state()
        .definition(r#"{"Type": "Pass", "End": true}"#)
        .role_arn(ROLE)
        .send()
        .await
        .expect_err("TestState without the helper must not reach cairn serve");
    assert!(
        matches!(error, SdkError::DispatchFailure(_)),
        "expected a dispatch (connection) failure, got {error:?}"
    );
}

/// Records the URI of the request about to be sent, then stops the call there: these checks
/// need the SDK's decision, not a server.
#[derive(Debug, Default, Clone)]
struct StopAndRecordUri(Arc<Mutex<Option<String>>>);

impl Intercept for StopAndRecordUri {
    fn name(&self) -> &'static str {
        "StopAndRecordUri"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        *self.0.lock().unwrap() = Some(context.request().uri().to_owned());
        Err("recorded".into())
    }
}

async fn sync_uri(interceptor: DisableHostPrefix, endpoint_url: Option<&str>) -> String {
    let recorder = StopAndRecordUri::default();
    let mut config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("cairn", "cairn", None, None, "test"))
        .interceptor(interceptor)
        .interceptor(recorder.clone());
    config.set_endpoint_url(endpoint_url.map(str::to_owned));
    let sfn = aws_sdk_sfn::Client::from_conf(config.build());
    let _ = sfn
        .start_sync_execution()
        .state_machine_arn("arn:aws:states:eu-west-1:123456789012:stateMachine:m")
        .send()
        .await;
    let uri = recorder.0.lock().unwrap().take();
    uri.expect("the request reached read_before_transmit")
}

#[tokio::test]
async fn the_prefix_is_dropped_only_for_an_overridden_endpoint_unless_always() {
    assert_eq!(
        sync_uri(DisableHostPrefix::new(), Some("http://127.0.0.1:1")).await,
        "http://127.0.0.1:1/"
    );
    assert_eq!(
        sync_uri(DisableHostPrefix::new(), None).await,
        "https://sync-states.eu-west-1.amazonaws.com/"
    );
    assert_eq!(
        sync_uri(DisableHostPrefix::always(), None).await,
        "https://states.eu-west-1.amazonaws.com/"
    );
}

/// The client matrix's scenario beyond the sync operations: tags, history paged two events
/// at a time, and a typed error the SDK maps from cairn serve's `__type`.
#[tokio::test]
async fn history_paging_tags_and_typed_errors_reach_the_rust_sdk() {
    let server = Server::start();
    let sfn = cairn_sfn_local::client(&server.endpoint);
    let machine = sfn
        .create_state_machine()
        .name("tagged")
        .definition(ADD)
        .role_arn(ROLE)
        .tags(
            aws_sdk_sfn::types::Tag::builder()
                .key("team")
                .value("cairn")
                .build(),
        )
        .send()
        .await
        .expect("CreateStateMachine with tags")
        .state_machine_arn;
    let tags = sfn
        .list_tags_for_resource()
        .resource_arn(&machine)
        .send()
        .await
        .expect("ListTagsForResource");
    let pairs: Vec<(Option<&str>, Option<&str>)> =
        tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(pairs, [(Some("team"), Some("cairn"))]);

    let started = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .input(r#"{"a": 1, "b": 2}"#)
        .send()
        .await
        .expect("StartExecution");
    let deadline = Instant::now() + Duration::from_secs(10);
    while sfn
        .describe_execution()
        .execution_arn(&started.execution_arn)
        .send()
        .await
        .expect("DescribeExecution")
        .status
        == ExecutionStatus::Running
    {
        assert!(Instant::now() < deadline, "the execution did not end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut pages = sfn
        .get_execution_history()
        .execution_arn(&started.execution_arn)
        .max_results(2)
        .into_paginator()
        .send();
    let (mut types, mut page_count) = (Vec::new(), 0);
    while let Some(page) = pages.next().await {
        let page = page.expect("a history page");
        assert!(page.events().len() <= 2);
        page_count += 1;
        types.extend(page.events().iter().map(|e| e.r#type().as_str().to_owned()));
    }
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert_eq!(page_count, 2);

    let missing = format!(
        "{}:no-such-run",
        machine.replace(":stateMachine:", ":execution:")
    );
    let error = sfn
        .describe_execution()
        .execution_arn(&missing)
        .send()
        .await
        .expect_err("a missing execution");
    let service_error = error.into_service_error();
    assert!(
        service_error.is_execution_does_not_exist(),
        "{service_error:?}"
    );
}

fn signed_client(endpoint: &str, key_id: &str, secret: &str) -> aws_sdk_sfn::Client {
    let builder = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(cairn_sfn_local::DEFAULT_REGION))
        .credentials_provider(Credentials::new(key_id, secret, None, None, "test"))
        .retry_config(RetryConfig::disabled());
    aws_sdk_sfn::Client::from_conf(cairn_sfn_local::local(builder, endpoint).build())
}

/// `cairn serve --auth`: the SDK's own SigV4 signatures pass, the sync operations' included
/// (the helper drops the prefix before signing, so the signed host is the one connected to),
/// and a wrong secret or an unknown key gets AWS's error code.
#[tokio::test]
async fn auth_accepts_the_sdk_signature_and_refuses_wrong_keys() {
    use aws_sdk_sfn::error::ProvideErrorMetadata;
    let keys =
        std::env::temp_dir().join(format!("cairn-sfn-local-keys-{}.json", std::process::id()));
    std::fs::write(
        &keys,
        r#"[{"AccessKeyId": "AKIDRUSTSDK", "SecretAccessKey": "rust/sdk+secret"}]"#,
    )
    .expect("writing the keys file");
    let server = Server::start_with(&["--auth".as_ref(), keys.as_os_str()]);
    let _ = std::fs::remove_file(&keys);

    let sfn = signed_client(&server.endpoint, "AKIDRUSTSDK", "rust/sdk+secret");
    let express = create(&sfn, "signed", StateMachineType::Express).await;
    let sync = sfn
        .start_sync_execution()
        .state_machine_arn(&express)
        .input(r#"{"a": 1, "b": 1}"#)
        .send()
        .await
        .expect("a signed StartSyncExecution");
    assert_eq!(sync.status, SyncExecutionStatus::Succeeded);
    let tested = sfn
        .test_state()
        .definition(r#"{"Type": "Pass", "End": true}"#)
        .role_arn(ROLE)
        .input("{}")
        .send()
        .await
        .expect("a signed TestState");
    assert_eq!(tested.status, Some(TestExecutionStatus::Succeeded));
    let missing = sfn
        .describe_state_machine()
        .state_machine_arn(format!("{express}-missing"))
        .send()
        .await
        .expect_err("a missing machine")
        .into_service_error();
    assert!(missing.is_state_machine_does_not_exist(), "{missing:?}");

    for (key_id, secret, code) in [
        ("AKIDRUSTSDK", "wrong", "InvalidSignatureException"),
        (
            "AKIDUNKNOWN",
            "rust/sdk+secret",
            "UnrecognizedClientException",
        ),
    ] {
        let error = signed_client(&server.endpoint, key_id, secret)
            .start_sync_execution()
            .state_machine_arn(&express)
            .send()
            .await
            .expect_err("a wrongly signed request must be refused")
            .into_service_error();
        assert_eq!(error.code(), Some(code), "{error:?}");
    }
}
