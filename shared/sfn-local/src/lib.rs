//! Point the AWS SDK for Rust's Step Functions client at a local `cairn serve`.
//!
//! The Step Functions model gives `StartSyncExecution` and `TestState` the host prefix
//! `sync-`, and `aws-sdk-sfn` prepends it to every endpoint, an overridden one included: with
//! `endpoint_url("http://127.0.0.1:8083")` those two calls go to `sync-127.0.0.1`, which
//! does not resolve, while every other call works. The SDK has no setting to turn the prefix
//! off (boto3's `inject_host_prefix=False`, Java's `DISABLE_HOST_PREFIX_INJECTION`), so this
//! crate supplies one as an interceptor, [`DisableHostPrefix`], and one-call helpers that
//! build a client for a local endpoint with it.
//!
//! ```no_run
//! # async fn example() -> Result<(), aws_sdk_sfn::Error> {
//! let sfn = cairn_sfn_local::client("http://127.0.0.1:8083");
//! let answer = sfn
//!     .start_sync_execution()
//!     .state_machine_arn("arn:aws:states:us-east-1:123456789012:stateMachine:hello")
//!     .input(r#"{"who": "world"}"#)
//!     .send()
//!     .await?;
//! println!("{:?}", answer.output());
//! # Ok(())
//! # }
//! ```
//!
//! With a configuration loaded by `aws-config` (profiles, credentials, region):
//!
//! ```no_run
//! # async fn example() {
//! let shared = aws_config::load_from_env().await;
//! let builder = aws_sdk_sfn::config::Builder::from(&shared);
//! let sfn = aws_sdk_sfn::Client::from_conf(
//!     cairn_sfn_local::local(builder, "http://127.0.0.1:8083").build(),
//! );
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::endpoint::EndpointPrefix;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_types::endpoint_config::EndpointUrl;

/// The region [`config`] and [`client`] use: `cairn serve` takes its ARNs' region from its
/// own `--region`, not from the request, so any value works; this one matches its default.
pub const DEFAULT_REGION: &str = "us-east-1";

/// An interceptor that stops the SDK from prepending an operation's modelled host prefix
/// (`sync-` for `StartSyncExecution` and `TestState`) to the endpoint.
///
/// By default it acts only when the client has an endpoint URL override (`endpoint_url`, or
/// `AWS_ENDPOINT_URL` through `aws-config`), so the same client configuration still reaches
/// `sync-states.<region>.amazonaws.com` when the override is removed. [`always`](Self::always)
/// drops the prefix whatever the endpoint, for clients that reach a local server through a
/// custom endpoint resolver instead of an endpoint URL.
///
/// It works with any Smithy-generated client (`config::Builder::interceptor`); only Step
/// Functions needs it for `cairn serve`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DisableHostPrefix {
    even_without_endpoint_url: bool,
}

impl DisableHostPrefix {
    /// Drops the host prefix when the client's endpoint URL is overridden.
    pub const fn new() -> Self {
        DisableHostPrefix {
            even_without_endpoint_url: false,
        }
    }

    /// Drops the host prefix whatever the endpoint.
    pub const fn always() -> Self {
        DisableHostPrefix {
            even_without_endpoint_url: true,
        }
    }
}

impl Intercept for DisableHostPrefix {
    fn name(&self) -> &'static str {
        "DisableHostPrefix"
    }

    // The operation stores its prefix in the config bag in `read_before_execution`, and each
    // attempt prepends whatever prefix the bag then holds while it applies the endpoint,
    // before signing. This hook runs once per operation between the two: early enough that
    // the request is built, signed and sent for the endpoint's own host (no host rewriting,
    // the Host header and the SigV4 signature agree, every retry included), late enough that
    // the order of client and operation interceptors does not matter.
    fn modify_before_retry_loop(
        &self,
        _context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let overridden = cfg.load::<EndpointUrl>().is_some();
        if (overridden || self.even_without_endpoint_url) && cfg.load::<EndpointPrefix>().is_some()
        {
            cfg.interceptor_state().unset::<EndpointPrefix>();
        }
        Ok(())
    }
}

/// Sets `endpoint_url` on `builder` and adds [`DisableHostPrefix`]: every operation,
/// `StartSyncExecution` and `TestState` included, goes to that endpoint. Credentials, region
/// and everything else stay as `builder` has them.
pub fn local(
    builder: aws_sdk_sfn::config::Builder,
    endpoint_url: impl Into<String>,
) -> aws_sdk_sfn::config::Builder {
    builder
        .endpoint_url(endpoint_url)
        .interceptor(DisableHostPrefix::new())
}

/// A complete Step Functions client configuration for a local `cairn serve` at
/// `endpoint_url`, without reading the environment: static placeholder credentials (`cairn
/// serve` checks no signature unless started with `--auth KEYS_FILE`; then build the client
/// with [`local`] and one of those keys), [`DEFAULT_REGION`], the latest behavior version.
pub fn config(endpoint_url: impl Into<String>) -> aws_sdk_sfn::Config {
    let builder = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(DEFAULT_REGION))
        .credentials_provider(Credentials::new(
            "cairn",
            "cairn",
            None,
            None,
            "cairn-sfn-local",
        ));
    local(builder, endpoint_url).build()
}

/// A Step Functions client for a local `cairn serve` at `endpoint_url` (see [`config`]).
pub fn client(endpoint_url: impl Into<String>) -> aws_sdk_sfn::Client {
    aws_sdk_sfn::Client::from_conf(config(endpoint_url))
}
