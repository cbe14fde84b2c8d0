//! The web console's HTTP side: its static assets, built into the binary so the console
//! works offline and `cargo build` needs no Node. The pages call the Step Functions API of
//! the server that served them (POST /): `cairn serve` answers itself, and `cairn console
//! --endpoint URL` forwards each call to a deployed Cairn, signed with the user's AWS
//! credentials.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use cairn_integrations::protocol::WireRequest;
use cairn_integrations::transport::{Signing, Transport};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ACCEPT, CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use hyper::{Method, Request, Response, StatusCode};

/// Where the console lives on the server.
pub const PREFIX: &str = "/console";

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "/console/",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../console/index.html"),
    },
    Asset {
        path: "/console/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../console/app.js"),
    },
    Asset {
        path: "/console/graph.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../console/graph.js"),
    },
    Asset {
        path: "/console/history.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../console/history.js"),
    },
    Asset {
        path: "/console/sigv4.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../console/sigv4.js"),
    },
    Asset {
        path: "/console/style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../console/style.css"),
    },
    Asset {
        path: "/console/favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../console/favicon.svg"),
    },
];

/// Bytes the console adds to the binary (its assets).
#[cfg(test)]
fn assets_size() -> usize {
    ASSETS.iter().map(|a| a.body.len()).sum()
}

/// Answers a GET or HEAD request that is the console's, or None for the API to answer.
/// `GET /` from a browser (it accepts text/html; AWS clients never ask for it) goes to the
/// console; every other request to `/` stays the API's, unchanged.
pub fn route<B>(request: &Request<B>) -> Option<Response<Full<Bytes>>> {
    let method = request.method();
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let path = request.uri().path();
    let head = method == Method::HEAD;
    if path == "/" {
        let browser = request
            .headers()
            .get(ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
        return browser.then(|| redirect("/console/"));
    }
    if path == PREFIX {
        return Some(redirect("/console/"));
    }
    if !path.starts_with("/console/") {
        return None;
    }
    Some(match ASSETS.iter().find(|a| a.path == path) {
        Some(asset) => asset_response(asset, head),
        None => not_found(path, head),
    })
}

fn asset_response(asset: &Asset, head: bool) -> Response<Full<Bytes>> {
    let body = if head {
        Bytes::new()
    } else {
        Bytes::from_static(asset.body)
    };
    let mut response = Response::new(Full::new(body));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    // The assets change with the binary: always revalidate rather than show a stale console
    // after an upgrade.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    // Nothing but this server: no inline script, no CDN, no font service.
    headers.insert(
        "Content-Security-Policy",
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
        ),
    );
    if !head {
        return response;
    }
    headers.insert(
        hyper::header::CONTENT_LENGTH,
        HeaderValue::from(asset.body.len()),
    );
    response
}

fn redirect(to: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::FOUND;
    response
        .headers_mut()
        .insert(LOCATION, HeaderValue::from_static(to));
    response
}

fn not_found(path: &str, head: bool) -> Response<Full<Bytes>> {
    let text = if head {
        String::new()
    } else {
        format!("{path}: no such page in the console\n")
    };
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Largest API request forwarded (definitions are at most 1 MiB, payloads 256 KiB).
const MAX_FORWARD_BODY: usize = 8 * 1024 * 1024;
/// A call forwarded gets this long for its answer (the API's own long polls stay under 70 s).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(75);

#[derive(clap::Args)]
pub struct Args {
    /// The Step Functions API to forward the console's calls to: a deployed serverless
    /// Cairn's stage URL (https://ID.execute-api.REGION.amazonaws.com/v1/) or a cairn serve.
    #[arg(long, value_name = "URL")]
    pub endpoint: String,
    /// TCP port of the local console (0 picks a free one and prints it).
    #[arg(long, default_value_t = 8084)]
    pub port: u16,
    /// Address to bind; the default keeps the console, which signs as you, on this machine.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
    /// Region to sign for (default: the AWS SDKs' region chain, then us-east-1).
    #[arg(long)]
    pub region: Option<String>,
    /// Service name in the signatures: execute-api for API Gateway (the default when the
    /// endpoint's host is an execute-api one), states otherwise (a cairn serve --auth).
    #[arg(long, value_name = "NAME")]
    pub signing_name: Option<String>,
}

/// What forwarding needs: where, and signed as whom.
struct Forward {
    endpoint: String,
    region: String,
    signing_name: String,
    credentials: SharedCredentialsProvider,
    transport: Transport,
}

/// `cairn console --endpoint URL`: the console on this machine for a Cairn elsewhere.
pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let endpoint = args.endpoint.trim().to_owned();
    if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
        anyhow::bail!("--endpoint must be an http:// or https:// URL, not '{endpoint}'");
    }
    let signing_name = args.signing_name.clone().unwrap_or_else(|| {
        if endpoint.contains(".execute-api.") {
            "execute-api".to_owned()
        } else {
            "states".to_owned()
        }
    });
    let addr: SocketAddr = format!("{}:{}", args.bind, args.port)
        .parse()
        .with_context(|| format!("'{}' is not an IP address", args.bind))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = &args.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        let config = loader.load().await;
        let region = config
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".to_owned());
        let credentials = config
            .credentials_provider()
            .context("no AWS credentials provider is configured")?;
        // Fail at start, not on the first click, when there are no credentials at all.
        let identity = credentials
            .provide_credentials()
            .await
            .context("loading AWS credentials (the SDKs' chain: environment, profile, ...)")?;
        let transport = Transport::new(FORWARD_TIMEOUT).context("starting the HTTP client")?;
        let forward = Arc::new(Forward {
            endpoint: endpoint.clone(),
            region,
            signing_name,
            credentials,
            transport,
        });
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let local = listener.local_addr().context("reading the bound address")?;
        // Scripts wait for this line (and read the port from it when --port 0).
        println!(
            "cairn console listening on http://{local}/console/ (forwarding to {endpoint}, signed for {} in {} as {})",
            forward.signing_name,
            forward.region,
            identity.access_key_id()
        );
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    eprintln!("cairn console: accept failed: {error}");
                    continue;
                }
            };
            let forward = forward.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    handle_forward(forward.clone(), request)
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                if let Err(error) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await
                {
                    if !error.is_incomplete_message() {
                        eprintln!("cairn console: connection error: {error}");
                    }
                }
            });
        }
    })
}

async fn handle_forward(
    forward: Arc<Forward>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if let Some(response) = route(&request) {
        return Ok(response);
    }
    if request.method() != Method::POST || request.uri().path() != "/" {
        return Ok(local_error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            "The console forwards Step Functions API calls: POST / requests",
        ));
    }
    // Only what the AWS JSON 1.0 protocol needs travels on; the browser's other headers
    // (cookies, origin) stay here.
    let mut wire = WireRequest::new(Method::POST, "/");
    for name in ["content-type", "x-amz-target"] {
        if let Some(value) = request.headers().get(name).and_then(|v| v.to_str().ok()) {
            wire.headers.push((name.to_owned(), value.to_owned()));
        }
    }
    wire.body = match Limited::new(request.into_body(), MAX_FORWARD_BODY)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(error) => {
            return Ok(local_error(
                StatusCode::BAD_REQUEST,
                "SerializationException",
                &format!("cannot read the body: {error}"),
            ))
        }
    };
    let credentials = match forward.credentials.provide_credentials().await {
        Ok(credentials) => credentials,
        Err(error) => {
            return Ok(local_error(
                StatusCode::UNAUTHORIZED,
                "UnrecognizedClientException",
                &format!("cairn console could not load AWS credentials: {error}"),
            ))
        }
    };
    let signing = Signing {
        credentials: &credentials,
        region: &forward.region,
        name: &forward.signing_name,
    };
    match forward
        .transport
        .send(&forward.endpoint, wire, Some(signing))
        .await
    {
        Ok(answer) => {
            let mut response = Response::new(Full::new(Bytes::from(answer.body)));
            *response.status_mut() =
                StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
            for (name, value) in &answer.headers {
                let keep = name.eq_ignore_ascii_case("content-type")
                    || name.eq_ignore_ascii_case("x-amzn-errortype")
                    || name.eq_ignore_ascii_case("x-amzn-requestid");
                if let (true, Ok(name), Ok(value)) = (
                    keep,
                    hyper::header::HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(value),
                ) {
                    response.headers_mut().insert(name, value);
                }
            }
            Ok(response)
        }
        Err(error) => Ok(local_error(
            StatusCode::BAD_GATEWAY,
            "ServiceUnavailable",
            &format!(
                "cairn console could not reach {}: {error}",
                forward.endpoint
            ),
        )),
    }
}

/// An error the console's own forwarder answers, shaped as the API's errors are.
fn local_error(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"__type": error_type, "message": message});
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    if let Ok(value) = HeaderValue::from_str(error_type) {
        response.headers_mut().insert("x-amzn-ErrorType", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, accept: Option<&str>) -> Request<()> {
        let mut builder = Request::builder().method(Method::GET).uri(path);
        if let Some(accept) = accept {
            builder = builder.header(ACCEPT, accept);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn a_browser_at_the_root_goes_to_the_console_and_api_clients_do_not() {
        let response = route(&get("/", Some("text/html,application/xhtml+xml,*/*"))).unwrap();
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(response.headers()[LOCATION], "/console/");
        assert!(route(&get("/", None)).is_none());
        assert!(route(&get("/", Some("application/x-amz-json-1.0"))).is_none());
        let post = Request::builder()
            .method(Method::POST)
            .uri("/console/")
            .body(())
            .unwrap();
        assert!(route(&post).is_none());
    }

    #[test]
    fn assets_are_served_with_their_types_and_unknown_paths_are_404() {
        let page = route(&get("/console/", None)).unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let script = route(&get("/console/graph.js", None)).unwrap();
        assert!(script.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript"));
        assert_eq!(
            route(&get("/console", None)).unwrap().status(),
            StatusCode::FOUND
        );
        assert_eq!(
            route(&get("/console/../Cargo.toml", None))
                .unwrap()
                .status(),
            StatusCode::NOT_FOUND
        );
        assert!(route(&get("/other", None)).is_none());
    }

    #[test]
    fn the_page_loads_only_assets_that_exist_and_nothing_from_elsewhere() {
        let html = std::str::from_utf8(ASSETS[0].body).unwrap();
        for reference in html
            .split(['"', '\''])
            .filter(|s| s.starts_with("/console/"))
        {
            assert!(
                ASSETS.iter().any(|a| a.path == reference),
                "index.html refers to {reference}, which is not embedded"
            );
        }
        for asset in ASSETS {
            let text = String::from_utf8_lossy(asset.body);
            assert!(
                !text.contains("https://") && !text.contains("//cdn"),
                "{} loads something from the network",
                asset.path
            );
        }
        assert!(assets_size() < 200 * 1024);
    }
}
