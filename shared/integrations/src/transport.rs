//! Sends wire requests: SigV4-signed to an AWS service endpoint, or plain (HTTP Task). One
//! connection pool serves every call, so a Map of many concurrent calls waits on one runtime.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::protocol::{WireRequest, WireResponse};

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("the endpoint '{0}' is not a valid URL")]
    Endpoint(String),
    #[error("the request could not be signed: {0}")]
    Signing(String),
    #[error("{0}")]
    Connection(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// What a signed request is signed as.
pub struct Signing<'a> {
    pub credentials: &'a Credentials,
    pub region: &'a str,
    /// The service's signing name (`dynamodb`, `states`, `s3`).
    pub name: &'a str,
}

/// The HTTP client.
#[derive(Clone)]
pub struct Transport {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Transport {
    /// A client that trusts the system's root certificates. Must be called inside a Tokio
    /// runtime.
    pub fn new(timeout: Duration) -> Result<Transport, TransportError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(|e| TransportError::Connection(format!("no TLS roots: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Transport {
            client: Client::builder(TokioExecutor::new()).build(https),
            timeout,
        })
    }

    /// Sends `request` to `endpoint` (scheme, host, optional port and base path), signed when
    /// `signing` is given.
    pub async fn send(
        &self,
        endpoint: &str,
        request: WireRequest,
        signing: Option<Signing<'_>>,
    ) -> Result<WireResponse, TransportError> {
        let url = url_for(endpoint, &request)?;
        let uri: http::Uri = url
            .parse()
            .map_err(|_| TransportError::Endpoint(endpoint.to_owned()))?;
        let authority = uri
            .authority()
            .ok_or_else(|| TransportError::Endpoint(endpoint.to_owned()))?
            .to_string();
        let mut builder = http::Request::builder()
            .method(request.method.clone())
            .uri(uri);
        let mut has_host = false;
        for (name, value) in &request.headers {
            has_host |= name.eq_ignore_ascii_case("host");
            builder = builder.header(name.as_str(), value.as_str());
        }
        if !has_host {
            builder = builder.header("host", authority);
        }
        let mut http_request = builder
            .body(Full::new(Bytes::from(request.body.clone())))
            .map_err(|e| TransportError::Connection(format!("bad request: {e}")))?;
        if let Some(signing) = signing {
            sign_request(&mut http_request, &url, &request, &signing)?;
        }
        let call = async {
            let response = self
                .client
                .request(http_request)
                .await
                .map_err(|e| TransportError::Connection(connection_message(&e)))?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| TransportError::Connection(format!("the answer broke off: {e}")))?
                .to_bytes()
                .to_vec();
            Ok(WireResponse {
                status,
                headers,
                body,
            })
        };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::Timeout(self.timeout)),
        }
    }
}

fn connection_message(err: &hyper_util::client::legacy::Error) -> String {
    let mut message = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    message
}

fn sign_request(
    http_request: &mut http::Request<Full<Bytes>>,
    url: &str,
    request: &WireRequest,
    signing: &Signing<'_>,
) -> Result<(), TransportError> {
    let identity = signing.credentials.clone().into();
    let mut settings = SigningSettings::default();
    if signing.name == "s3" {
        // S3 signs the payload's hash in a header and its paths as they are.
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(signing.region)
        .name(signing.name)
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .map_err(|e| TransportError::Signing(e.to_string()))?
        .into();
    let headers: Vec<(String, String)> = http_request
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let signable = SignableRequest::new(
        request.method.as_str(),
        url,
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(&request.body),
    )
    .map_err(|e| TransportError::Signing(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| TransportError::Signing(e.to_string()))?
        .into_parts();
    instructions.apply_to_request_http1x(http_request);
    Ok(())
}

/// The full URL: the endpoint with the operation's host prefix, path and encoded query.
pub fn url_for(endpoint: &str, request: &WireRequest) -> Result<String, TransportError> {
    let endpoint = endpoint.trim_end_matches('/');
    let (scheme, rest) = endpoint
        .split_once("://")
        .ok_or_else(|| TransportError::Endpoint(endpoint.to_owned()))?;
    let mut url = format!(
        "{scheme}://{}{rest}{}",
        request.host_prefix.as_deref().unwrap_or_default(),
        if request.path.starts_with('/') {
            request.path.clone()
        } else {
            format!("/{}", request.path)
        }
    );
    for (i, (key, value)) in request.query.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(&percent_encode(key));
        url.push('=');
        url.push_str(&percent_encode(value));
    }
    Ok(url)
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_join_endpoint_prefix_path_and_encoded_query() {
        let mut request = WireRequest::new(http::Method::GET, "/bucket/a%20b");
        request.query = vec![
            ("list-type".into(), "2".into()),
            ("prefix".into(), "x y/z".into()),
        ];
        assert_eq!(
            url_for("http://127.0.0.1:5000/", &request).unwrap(),
            "http://127.0.0.1:5000/bucket/a%20b?list-type=2&prefix=x%20y%2Fz"
        );
        request.host_prefix = Some("data-".into());
        request.query.clear();
        assert_eq!(
            url_for("https://s3.us-east-1.amazonaws.com", &request).unwrap(),
            "https://data-s3.us-east-1.amazonaws.com/bucket/a%20b"
        );
        assert!(url_for("not a url", &request).is_err());
    }

    #[tokio::test]
    async fn signed_requests_carry_sigv4_headers_to_the_server() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buffer = [0u8; 4096];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buffer).await.unwrap();
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buffer[..n]);
            }
            socket
                .write_all(
                    b"HTTP/1.1 200 OK\r\nx-amzn-RequestId: r-1\r\ncontent-length: 2\r\n\r\n{}",
                )
                .await
                .unwrap();
            String::from_utf8_lossy(&seen).into_owned()
        });
        let transport = Transport::new(Duration::from_secs(5)).unwrap();
        let credentials = Credentials::new("AKID", "secret", None, None, "test");
        let mut request = WireRequest::new(http::Method::POST, "/");
        request.body = b"{}".to_vec();
        let response = transport
            .send(
                &format!("http://{address}"),
                request,
                Some(Signing {
                    credentials: &credentials,
                    region: "eu-west-1",
                    name: "dynamodb",
                }),
            )
            .await
            .unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.header("X-Amzn-RequestId"), Some("r-1"));
        let seen = server.await.unwrap().to_ascii_lowercase();
        assert!(
            seen.contains("authorization: aws4-hmac-sha256 credential=akid/"),
            "{seen}"
        );
        assert!(seen.contains("/eu-west-1/dynamodb/aws4_request"), "{seen}");
        assert!(seen.contains("x-amz-date: "), "{seen}");
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connection_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let transport = Transport::new(Duration::from_secs(5)).unwrap();
        let result = transport
            .send(
                &format!("http://{address}"),
                WireRequest::new(http::Method::GET, "/"),
                None,
            )
            .await;
        assert!(
            matches!(result, Err(TransportError::Connection(_))),
            "{result:?}"
        );
    }
}
