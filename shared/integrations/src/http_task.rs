//! The HTTP Task, `arn:aws:states:::http:invoke`: a Task state calls an HTTP API, as AWS's
//! "Call HTTPS APIs in Step Functions workflows" describes it.
//!
//! - Parameters: `ApiEndpoint` and `Method` (GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD),
//!   the connection in `InvocationConfig.ConnectionArn` or `Authentication.ConnectionArn`,
//!   and the optional `Headers`, `QueryParameters`, `RequestBody` and `Transform`
//!   (`RequestBodyEncoding` `NONE` | `URL_ENCODED`, `RequestEncodingOptions.ArrayFormat`
//!   `INDICES` (the default) | `REPEAT` | `COMMAS` | `BRACKETS`).
//! - The connection's invocation headers, query parameters and body parameters are merged
//!   over the task's, the connection winning on a clash; a string `RequestBody` cannot take
//!   connection body parameters (`States.Runtime`). The headers AWS reserves for itself
//!   (`Authorization`, `Host`, `x-amz-*`, ...) fail the task with `States.Runtime`.
//!   `User-Agent: Amazon|StepFunctions|HttpInvoke|<region>` and `Range: bytes=0-262144` are
//!   sent as Step Functions sends them.
//! - The result is `{"Headers": {name: [values]}, "ResponseBody": .., "StatusCode": n,
//!   "StatusText": ".."}`; a JSON answer's body is parsed, any other is text. An answer that is
//!   binary (`application/octet-stream`, `image/*`, `video/*`, `audio/*`, or not UTF-8) fails
//!   with `States.Runtime`.
//! - Any status outside 2xx fails the task with `States.Http.StatusCode.<status>` and the
//!   status text as the cause (AWS does not pass the answer's body on in the failure); no
//!   answer at all (refused, reset, or none within the timeout) is `States.Http.Socket`.
//!
//! Connections: on AWS the authorization comes from an EventBridge connection, its secret kept
//! in Secrets Manager. Cairn reads connections from a local JSON file named by
//! `CAIRN_CONNECTIONS`: an object from connection ARN to the connection as EventBridge's
//! `CreateConnection` takes it (`AuthorizationType` `API_KEY` | `BASIC` |
//! `OAUTH_CLIENT_CREDENTIALS`, `AuthParameters` with `ApiKeyAuthParameters`,
//! `BasicAuthParameters` or `OAuthParameters`, and `InvocationHttpParameters`). The file is
//! read at each call, so an edited secret takes effect without a restart. A connection the
//! file lacks fails the task with `Events.ConnectionResource.ResourceNotFound`. OAuth client
//! credentials are exchanged for a token at the `AuthorizationEndpoint` on every call (a form
//! POST of `grant_type=client_credentials`, `client_id` and `client_secret`), sent as
//! `Authorization: Bearer`.
//!
//! Not here: reading EventBridge connections and their Secrets Manager secrets (what the
//! serverless shell would do on AWS), private APIs through VPC lattice, following redirects,
//! and AWS's HTTPS-only rule (plain `http://` is allowed, so a local API can be called).

use std::path::PathBuf;

use serde_json::{Map, Value};

use cairn_runtime::TaskFailure;

use crate::protocol::{WireRequest, WireResponse};
use crate::transport::{percent_encode, Transport, TransportError};

/// The variable that names the connections file.
pub const CONNECTIONS_VAR: &str = "CAIRN_CONNECTIONS";

const RUNTIME: &str = "States.Runtime";
const SOCKET: &str = "States.Http.Socket";
const NOT_FOUND: &str = "Events.ConnectionResource.ResourceNotFound";
const INVALID_CONNECTION: &str = "Events.ConnectionResource.InvalidConnectionState";
const CONNECTION_ERROR: &str = "Events.ConnectionResource.InternalError";

/// The headers a task may not set (AWS: "You can't use the following headers in your HTTP
/// Task definition"); prefixes end in `-`.
const RESERVED_HEADERS: [&str; 35] = [
    "a-im",
    "accept-charset",
    "accept-datetime",
    "accept-encoding",
    "authorization",
    "cache-control",
    "connection",
    "content-encoding",
    "content-md5",
    "date",
    "expect",
    "forwarded",
    "from",
    "host",
    "http2-settings",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "max-forwards",
    "origin",
    "pragma",
    "proxy-authorization",
    "referer",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "via",
    "warning",
    "x-forwarded-",
    "x-amz-",
    "x-amzn-",
];

/// Where the connections come from.
#[derive(Clone, Default)]
pub struct Connections(Source);

#[derive(Clone, Default)]
enum Source {
    #[default]
    None,
    File(PathBuf),
    Inline(Map<String, Value>),
}

impl Connections {
    /// Connections read from this file at each call.
    pub fn file(path: impl Into<PathBuf>) -> Connections {
        Connections(Source::File(path.into()))
    }

    /// Connections given directly: an object from ARN to connection (anything else is none).
    pub fn inline(connections: Value) -> Connections {
        match connections {
            Value::Object(map) => Connections(Source::Inline(map)),
            _ => Connections(Source::Inline(Map::new())),
        }
    }

    /// Whether connections are configured here (`CAIRN_CONNECTIONS`); without, they come from
    /// EventBridge and Secrets Manager, as on AWS.
    pub fn configured(&self) -> bool {
        !matches!(self.0, Source::None)
    }

    fn lookup(&self, arn: &str) -> Result<Connection, TaskFailure> {
        let all = match &self.0 {
            Source::None => {
                return Err(TaskFailure::new(
                    NOT_FOUND,
                    format!(
                        "the connection '{arn}' is unknown: no connections are configured \
                         (set {CONNECTIONS_VAR} to a JSON file mapping connection ARNs to \
                         connections)"
                    ),
                ))
            }
            Source::File(path) => read_file(path)?,
            Source::Inline(map) => map.clone(),
        };
        let Some(connection) = all.get(arn) else {
            let place = match &self.0 {
                Source::File(path) => format!("the {CONNECTIONS_VAR} file {}", path.display()),
                _ => "the configured connections".to_owned(),
            };
            return Err(TaskFailure::new(
                NOT_FOUND,
                format!("the connection '{arn}' is not in {place}"),
            ));
        };
        Connection::parse(arn, connection)
    }
}

// Secrets stay out of logs: only where the connections are, and their ARNs, are shown.
impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Source::None => f.write_str("Connections(none)"),
            Source::File(path) => write!(f, "Connections({})", path.display()),
            Source::Inline(map) => f.debug_list().entries(map.keys()).finish(),
        }
    }
}

fn read_file(path: &std::path::Path) -> Result<Map<String, Value>, TaskFailure> {
    let failure = |why: String| {
        TaskFailure::new(
            CONNECTION_ERROR,
            format!(
                "the connections file {} ({CONNECTIONS_VAR}) {why}",
                path.display()
            ),
        )
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| failure(format!("cannot be read: {e}")))?;
    match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(failure(
            "is not a JSON object from connection ARN to connection".into(),
        )),
        Err(e) => Err(failure(format!("is not valid JSON: {e}"))),
    }
}

/// A connection's authorization and the parameters it adds to every call.
#[derive(Debug, Clone, PartialEq)]
struct Connection {
    auth: Auth,
    invocation: Extra,
}

#[derive(Debug, Clone, PartialEq)]
enum Auth {
    ApiKey { name: String, value: String },
    Basic { username: String, password: String },
    OAuth(OAuth),
}

#[derive(Debug, Clone, PartialEq)]
struct OAuth {
    endpoint: String,
    method: String,
    client_id: String,
    client_secret: String,
    extra: Extra,
}

/// EventBridge's `ConnectionHttpParameters`: header, query and body parameters.
#[derive(Debug, Clone, Default, PartialEq)]
struct Extra {
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    body: Vec<(String, String)>,
}

impl Connection {
    fn parse(arn: &str, connection: &Value) -> Result<Connection, TaskFailure> {
        let invalid = |why: &str| {
            TaskFailure::new(
                INVALID_CONNECTION,
                format!("the connection '{arn}' in {CONNECTIONS_VAR} {why}"),
            )
        };
        let params = connection.get("AuthParameters").unwrap_or(&Value::Null);
        let text = |value: &Value, key: &str| -> Result<String, TaskFailure> {
            value
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| invalid(&format!("has no string '{key}'")))
        };
        let auth = match connection.get("AuthorizationType").and_then(Value::as_str) {
            Some("API_KEY") => {
                let p = params.get("ApiKeyAuthParameters").unwrap_or(&Value::Null);
                Auth::ApiKey {
                    name: text(p, "ApiKeyName")?,
                    value: text(p, "ApiKeyValue")?,
                }
            }
            Some("BASIC") => {
                let p = params.get("BasicAuthParameters").unwrap_or(&Value::Null);
                Auth::Basic {
                    username: text(p, "Username")?,
                    password: text(p, "Password")?,
                }
            }
            Some("OAUTH_CLIENT_CREDENTIALS") => {
                let p = params.get("OAuthParameters").unwrap_or(&Value::Null);
                let client = p.get("ClientParameters").unwrap_or(&Value::Null);
                Auth::OAuth(OAuth {
                    endpoint: text(p, "AuthorizationEndpoint")?,
                    method: p
                        .get("HttpMethod")
                        .and_then(Value::as_str)
                        .unwrap_or("POST")
                        .to_ascii_uppercase(),
                    client_id: text(client, "ClientID")?,
                    client_secret: text(client, "ClientSecret")?,
                    extra: Extra::parse(p.get("OAuthHttpParameters")),
                })
            }
            Some(other) => {
                return Err(invalid(&format!(
                    "has the AuthorizationType '{other}' (API_KEY, BASIC or \
                     OAUTH_CLIENT_CREDENTIALS)"
                )))
            }
            None => return Err(invalid("has no AuthorizationType")),
        };
        Ok(Connection {
            auth,
            invocation: Extra::parse(params.get("InvocationHttpParameters")),
        })
    }
}

impl Extra {
    fn parse(value: Option<&Value>) -> Extra {
        let list = |key: &str| -> Vec<(String, String)> {
            value
                .and_then(|v| v.get(key))
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| {
                            let key = item.get("Key")?.as_str()?;
                            Some((key.to_owned(), scalar_text(item.get("Value")?)))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        Extra {
            headers: list("HeaderParameters"),
            query: list("QueryStringParameters"),
            body: list("BodyParameters"),
        }
    }
}

/// Name-value pairs in order: headers, query parameters, form fields.
type Pairs = Vec<(String, String)>;

/// How arrays become form or query pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrayFormat {
    /// `a[0]=x&a[1]=y` (AWS's default).
    Indices,
    /// `a=x&a=y`.
    Repeat,
    /// `a=x,y`.
    Commas,
    /// `a[]=x&a[]=y`.
    Brackets,
}

/// The HTTP Task's parameters, checked.
#[derive(Debug, Clone, PartialEq)]
struct Call {
    /// `scheme://authority`.
    origin: String,
    /// The URL's path, percent-encoded.
    path: String,
    method: http::Method,
    connection_arn: String,
    headers: Vec<(String, String)>,
    /// The URL's own query pairs, then `QueryParameters`'.
    query: Vec<(String, String)>,
    body: Option<Value>,
    url_encoded: bool,
    arrays: ArrayFormat,
}

fn runtime(message: impl Into<String>) -> TaskFailure {
    TaskFailure::new(RUNTIME, message)
}

impl Call {
    fn parse(input: &Value) -> Result<Call, TaskFailure> {
        let Some(parameters) = input.as_object() else {
            return Err(runtime("the HTTP Task's Parameters must be a JSON object"));
        };
        let endpoint = parameters
            .get("ApiEndpoint")
            .and_then(Value::as_str)
            .ok_or_else(|| runtime("the HTTP Task needs an ApiEndpoint string"))?;
        let (origin, path, own_query) = split_url(endpoint)
            .ok_or_else(|| runtime(format!("the ApiEndpoint '{endpoint}' is not an HTTP URL")))?;
        let method = parameters
            .get("Method")
            .and_then(Value::as_str)
            .ok_or_else(|| runtime("the HTTP Task needs a Method string"))?;
        let method = match method.to_ascii_uppercase().as_str() {
            "GET" => http::Method::GET,
            "POST" => http::Method::POST,
            "PUT" => http::Method::PUT,
            "DELETE" => http::Method::DELETE,
            "PATCH" => http::Method::PATCH,
            "OPTIONS" => http::Method::OPTIONS,
            "HEAD" => http::Method::HEAD,
            _ => {
                return Err(runtime(format!(
                    "the Method '{method}' is not one of GET, POST, PUT, DELETE, PATCH, \
                     OPTIONS, HEAD"
                )))
            }
        };
        let connection_arn = ["InvocationConfig", "Authentication"]
            .iter()
            .find_map(|key| parameters.get(*key)?.get("ConnectionArn")?.as_str())
            .ok_or_else(|| {
                runtime(
                    "the HTTP Task needs a connection: InvocationConfig.ConnectionArn or \
                     Authentication.ConnectionArn",
                )
            })?
            .to_owned();
        let (url_encoded, arrays) = transform(parameters.get("Transform"))?;
        let headers = task_headers(parameters.get("Headers"))?;
        let mut query = own_query;
        match parameters.get("QueryParameters") {
            None | Some(Value::Null) => {}
            Some(Value::String(text)) => query.extend(parse_query(text)),
            Some(value @ (Value::Object(_) | Value::Array(_))) => {
                query.extend(form_pairs(value, arrays))
            }
            Some(_) => {
                return Err(runtime(
                    "QueryParameters must be a JSON object, an array or a query string",
                ))
            }
        }
        Ok(Call {
            origin,
            path,
            method,
            connection_arn,
            headers,
            query,
            body: parameters
                .get("RequestBody")
                .filter(|body| !body.is_null())
                .cloned(),
            url_encoded,
            arrays,
        })
    }
}

fn transform(value: Option<&Value>) -> Result<(bool, ArrayFormat), TaskFailure> {
    let Some(transform) = value.filter(|v| !v.is_null()) else {
        return Ok((false, ArrayFormat::Indices));
    };
    let url_encoded = match transform.get("RequestBodyEncoding").and_then(Value::as_str) {
        None | Some("NONE") => false,
        Some("URL_ENCODED") => true,
        Some(other) => {
            return Err(runtime(format!(
                "the RequestBodyEncoding '{other}' is not NONE or URL_ENCODED"
            )))
        }
    };
    let arrays = match transform
        .get("RequestEncodingOptions")
        .and_then(|o| o.get("ArrayFormat"))
        .and_then(Value::as_str)
    {
        None | Some("INDICES") => ArrayFormat::Indices,
        Some("REPEAT") => ArrayFormat::Repeat,
        Some("COMMAS") => ArrayFormat::Commas,
        Some("BRACKETS") => ArrayFormat::Brackets,
        Some(other) => {
            return Err(runtime(format!(
                "the ArrayFormat '{other}' is not INDICES, REPEAT, COMMAS or BRACKETS"
            )))
        }
    };
    Ok((url_encoded, arrays))
}

fn task_headers(value: Option<&Value>) -> Result<Vec<(String, String)>, TaskFailure> {
    let objects: Vec<&Map<String, Value>> = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(map)) => vec![map],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
        Some(_) => return Err(runtime("Headers must be a JSON object")),
    };
    let mut headers = Vec::new();
    for (name, value) in objects.into_iter().flatten() {
        let lower = name.to_ascii_lowercase();
        let reserved = RESERVED_HEADERS.iter().any(|reserved| match reserved {
            prefix if prefix.ends_with('-') => lower.starts_with(prefix),
            exact => lower == *exact,
        });
        if reserved {
            return Err(runtime(format!(
                "the header '{name}' cannot be set in an HTTP Task (put credentials in the \
                 connection)"
            )));
        }
        let text = match value {
            Value::Array(items) => items.iter().map(scalar_text).collect::<Vec<_>>().join(","),
            other => scalar_text(other),
        };
        set_header(&mut headers, name, text);
    }
    Ok(headers)
}

/// Replaces any header of that name (names are case-insensitive), keeping the new spelling.
fn set_header(headers: &mut Vec<(String, String)>, name: &str, value: String) {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    headers.push((name.to_owned(), value));
}

/// A JSON value as the text of one header, query or form value.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `scheme://authority`, the percent-encoded path and the URL's own query pairs.
fn split_url(url: &str) -> Option<(String, String, Pairs)> {
    let (scheme, rest) = url.trim().split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let rest = rest.split('#').next().unwrap_or_default();
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.is_empty() || authority.contains(char::is_whitespace) {
        return None;
    }
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    let path = if path.is_empty() { "/" } else { path };
    Some((
        format!("{}://{authority}", scheme.to_ascii_lowercase()),
        encode_path(path),
        parse_query(query),
    ))
}

/// Encodes what a URL path cannot hold as it is, leaving existing escapes alone.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b'!'
            | b'$'
            | b'&'
            | b'\''
            | b'('
            | b')'
            | b'*'
            | b'+'
            | b','
            | b';'
            | b'='
            | b':'
            | b'@'
            | b'/'
            | b'%' => out.push(byte as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// `a=1&b=x%20y` as decoded pairs (`+` is a space, as forms write it).
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 3 <= bytes.len()
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit() =>
            {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A JSON value as form pairs, nested keys bracketed (`a[b][0]=x`), arrays as `format` says.
/// Empty arrays and objects give no pairs, and neither does a scalar; `null` gives an empty
/// value.
pub fn form_pairs(value: &Value, format: ArrayFormat) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                flatten(key.clone(), value, format, &mut pairs);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(i.to_string(), item, format, &mut pairs);
            }
        }
        _ => {}
    }
    pairs
}

fn flatten(key: String, value: &Value, format: ArrayFormat, pairs: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (inner, value) in map {
                flatten(format!("{key}[{inner}]"), value, format, pairs);
            }
        }
        Value::Array(items) => {
            let scalars = items.iter().all(|i| !i.is_object() && !i.is_array());
            match format {
                ArrayFormat::Commas if scalars => {
                    if !items.is_empty() {
                        let joined = items.iter().map(scalar_text).collect::<Vec<_>>().join(",");
                        pairs.push((key, joined));
                    }
                }
                ArrayFormat::Repeat => {
                    for item in items {
                        flatten(key.clone(), item, format, pairs);
                    }
                }
                ArrayFormat::Brackets => {
                    for item in items {
                        flatten(format!("{key}[]"), item, format, pairs);
                    }
                }
                // Commas cannot hold nested values: their positions keep them apart.
                ArrayFormat::Indices | ArrayFormat::Commas => {
                    for (i, item) in items.iter().enumerate() {
                        flatten(format!("{key}[{i}]"), item, format, pairs);
                    }
                }
            }
        }
        other => pairs.push((key, scalar_text(other))),
    }
}

/// Pairs as `application/x-www-form-urlencoded` text, percent-encoded as AWS sends them
/// (`%20` for a space, brackets escaped).
pub fn encode_pairs(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Adds `extra` to `pairs`, an extra key replacing every pair of that key.
fn merge_pairs(pairs: &mut Vec<(String, String)>, extra: &[(String, String)]) {
    for (key, value) in extra {
        pairs.retain(|(k, _)| k != key);
        pairs.push((key.clone(), value.clone()));
    }
}

/// The request the call makes: its origin and the request (path with the encoded query).
fn build(
    call: &Call,
    connection: &Connection,
    region: &str,
    token: Option<&str>,
) -> Result<(String, WireRequest), TaskFailure> {
    let mut headers = call.headers.clone();
    for (name, value) in &connection.invocation.headers {
        set_header(&mut headers, name, value.clone());
    }
    match &connection.auth {
        Auth::ApiKey { name, value } => set_header(&mut headers, name, value.clone()),
        Auth::Basic { username, password } => set_header(
            &mut headers,
            "Authorization",
            format!(
                "Basic {}",
                cairn_common::base64::encode(format!("{username}:{password}").as_bytes())
            ),
        ),
        Auth::OAuth(_) => {
            if let Some(token) = token {
                set_header(&mut headers, "Authorization", format!("Bearer {token}"));
            }
        }
    }
    let mut query = call.query.clone();
    merge_pairs(&mut query, &connection.invocation.query);

    let extra_body = &connection.invocation.body;
    let body = match &call.body {
        Some(Value::String(_)) if !extra_body.is_empty() => {
            return Err(runtime(
                "a string RequestBody cannot be merged with the connection's body parameters",
            ))
        }
        Some(Value::Object(fields)) => {
            let mut fields = fields.clone();
            for (key, value) in extra_body {
                fields.insert(key.clone(), Value::String(value.clone()));
            }
            Some(Value::Object(fields))
        }
        Some(other) if !extra_body.is_empty() => {
            return Err(runtime(format!(
                "a RequestBody that is not an object ({other}) cannot be merged with the \
                 connection's body parameters"
            )))
        }
        Some(other) => Some(other.clone()),
        None if extra_body.is_empty() => None,
        None => Some(Value::Object(
            extra_body
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )),
    };
    let (bytes, content_type) = match &body {
        None => (Vec::new(), None),
        Some(Value::String(text)) => (text.clone().into_bytes(), None),
        Some(value @ (Value::Object(_) | Value::Array(_))) if call.url_encoded => (
            encode_pairs(&form_pairs(value, call.arrays)).into_bytes(),
            Some("application/x-www-form-urlencoded"),
        ),
        Some(value) if call.url_encoded => (scalar_text(value).into_bytes(), None),
        Some(value) => (
            value.to_string().into_bytes(),
            Some("application/json; charset=UTF-8"),
        ),
    };
    if let Some(content_type) = content_type {
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("Content-Type".into(), content_type.into()));
        }
    }
    set_header(
        &mut headers,
        "User-Agent",
        format!("Amazon|StepFunctions|HttpInvoke|{region}"),
    );
    set_header(&mut headers, "Range", "bytes=0-262144".into());
    // Checked here so that a bad header fails the task as bad input, not as a broken socket.
    for (name, value) in &headers {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err()
            || http::HeaderValue::from_str(value).is_err()
        {
            return Err(runtime(format!(
                "the header '{name}' cannot be sent: its name or value holds characters HTTP \
                 headers cannot"
            )));
        }
    }

    let mut path = call.path.clone();
    if !query.is_empty() {
        path.push('?');
        path.push_str(&encode_pairs(&query));
    }
    let mut request = WireRequest::new(call.method.clone(), path);
    request.headers = headers;
    request.body = bytes;
    Ok((call.origin.clone(), request))
}

/// The client-credentials grant a connection's OAuth parameters ask for.
fn token_request(oauth: &OAuth) -> Result<(String, WireRequest), TaskFailure> {
    let (origin, path, mut query) = split_url(&oauth.endpoint).ok_or_else(|| {
        TaskFailure::new(
            INVALID_CONNECTION,
            format!(
                "the AuthorizationEndpoint '{}' is not an HTTP URL",
                oauth.endpoint
            ),
        )
    })?;
    merge_pairs(&mut query, &oauth.extra.query);
    let method = http::Method::from_bytes(oauth.method.as_bytes()).unwrap_or(http::Method::POST);
    let mut form = vec![
        ("grant_type".to_owned(), "client_credentials".to_owned()),
        ("client_id".to_owned(), oauth.client_id.clone()),
        ("client_secret".to_owned(), oauth.client_secret.clone()),
    ];
    merge_pairs(&mut form, &oauth.extra.body);
    let mut headers = vec![(
        "Content-Type".to_owned(),
        "application/x-www-form-urlencoded".to_owned(),
    )];
    for (name, value) in &oauth.extra.headers {
        set_header(&mut headers, name, value.clone());
    }
    let mut path = path;
    if !query.is_empty() {
        path.push('?');
        path.push_str(&encode_pairs(&query));
    }
    let mut request = WireRequest::new(method, path);
    request.headers = headers;
    request.body = encode_pairs(&form).into_bytes();
    Ok((origin, request))
}

fn access_token(response: &WireResponse, endpoint: &str) -> Result<String, TaskFailure> {
    let token = serde_json::from_slice::<Value>(&response.body)
        .ok()
        .and_then(|v| v.get("access_token")?.as_str().map(str::to_owned));
    match token {
        Some(token) if response.is_success() => Ok(token),
        _ => Err(TaskFailure::new(
            INVALID_CONNECTION,
            format!(
                "the authorization endpoint {endpoint} gave no access token (HTTP {}): {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            ),
        )),
    }
}

fn socket_failure(error: TransportError) -> TaskFailure {
    match error {
        TransportError::Endpoint(_) | TransportError::Signing(_) => runtime(error.to_string()),
        TransportError::Connection(_) | TransportError::Timeout(_) => {
            TaskFailure::new(SOCKET, error.to_string())
        }
    }
}

/// The task's result from the answer, or its failure.
fn result(response: &WireResponse) -> Result<Value, TaskFailure> {
    let status = response.status;
    let status_text = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or_default();
    if !response.is_success() {
        return Err(TaskFailure::new(
            format!("States.Http.StatusCode.{status}"),
            status_text,
        ));
    }
    let media = response
        .header("content-type")
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let binary = media == "application/octet-stream"
        || ["image/", "video/", "audio/"]
            .iter()
            .any(|p| media.starts_with(p));
    if binary {
        return Err(runtime(format!(
            "the HTTP Task cannot take an answer of content-type '{media}'"
        )));
    }
    let Ok(text) = std::str::from_utf8(&response.body) else {
        return Err(runtime("the answer's body cannot be read as text"));
    };
    let json = media == "application/json" || media.ends_with("+json");
    let body = json
        .then(|| serde_json::from_str::<Value>(text).ok())
        .flatten()
        .unwrap_or_else(|| Value::String(text.to_owned()));
    let mut headers = Map::new();
    for (name, value) in &response.headers {
        if let Some(values) = headers
            .entry(name.clone())
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
        {
            values.push(Value::String(value.clone()));
        }
    }
    let mut out = Map::new();
    out.insert("Headers".into(), Value::Object(headers));
    out.insert("ResponseBody".into(), body);
    out.insert("StatusCode".into(), Value::from(status));
    out.insert("StatusText".into(), Value::String(status_text.to_owned()));
    Ok(Value::Object(out))
}

/// The connection a task's parameters name, if they are well formed.
pub(crate) fn connection_arn(input: &Value) -> Result<String, TaskFailure> {
    Call::parse(input).map(|call| call.connection_arn)
}

/// The connection EventBridge keeps: its `AuthorizationType` (DescribeConnection) and the
/// secret it stores the authorization in (Secrets Manager, keys in snake_case:
/// `api_key_name`, `client_parameters.client_id`, `invocation_http_parameters`), in the shape
/// of a `CAIRN_CONNECTIONS` entry.
pub(crate) fn from_eventbridge(authorization_type: &str, secret: &Value) -> Value {
    let pascal = pascal_keys(secret);
    let group = match authorization_type {
        "API_KEY" => "ApiKeyAuthParameters",
        "BASIC" => "BasicAuthParameters",
        _ => "OAuthParameters",
    };
    let mut auth = pascal.as_object().cloned().unwrap_or_default();
    let invocation = auth.remove("InvocationHttpParameters");
    let mut parameters = Map::new();
    parameters.insert(group.to_owned(), Value::Object(auth));
    if let Some(invocation) = invocation {
        parameters.insert("InvocationHttpParameters".into(), invocation);
    }
    serde_json::json!({"AuthorizationType": authorization_type, "AuthParameters": parameters})
}

/// `client_id` → `ClientID`, `o_auth_http_parameters` → `OAuthHttpParameters`,
/// `api_key_name` → `ApiKeyName`: EventBridge's own member names.
fn pascal_keys(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, v)| {
                    let name: String = key
                        .split('_')
                        .map(|word| match word {
                            "id" => "ID".to_owned(),
                            "o" => "O".to_owned(),
                            other => {
                                let mut chars = other.chars();
                                chars
                                    .next()
                                    .map(|c| c.to_uppercase().chain(chars).collect())
                                    .unwrap_or_default()
                            }
                        })
                        .collect();
                    (name, pascal_keys(v))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(pascal_keys).collect()),
        other => other.clone(),
    }
}

/// Carries out one HTTP Task.
pub(crate) async fn invoke(
    transport: &Transport,
    region: &str,
    connections: &Connections,
    resolved: Option<Value>,
    input: &Value,
) -> Result<Value, TaskFailure> {
    let call = Call::parse(input)?;
    let connection = match resolved {
        Some(value) => Connection::parse(&call.connection_arn, &value)?,
        None => connections.lookup(&call.connection_arn)?,
    };
    let token = match &connection.auth {
        Auth::OAuth(oauth) => {
            let (origin, request) = token_request(oauth)?;
            let response = transport.send(&origin, request, None).await.map_err(|e| {
                TaskFailure::new(
                    INVALID_CONNECTION,
                    format!(
                        "the authorization endpoint {} cannot be reached: {e}",
                        oauth.endpoint
                    ),
                )
            })?;
            Some(access_token(&response, &oauth.endpoint)?)
        }
        _ => None,
    };
    let (origin, request) = build(&call, &connection, region, token.as_deref())?;
    let response = transport
        .send(&origin, request, None)
        .await
        .map_err(socket_failure)?;
    result(&response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn eventbridge_secrets_read_as_connections() {
        let secret = json!({
            "client_parameters": {"client_id": "c", "client_secret": "s"},
            "authorization_endpoint": "https://auth.example/token",
            "http_method": "POST",
            "o_auth_http_parameters": {"body_parameters": [{"key": "scope", "value": "all", "is_value_secret": false}]},
            "invocation_http_parameters": {"header_parameters": [{"key": "x-t", "value": "1", "is_value_secret": false}]}
        });
        let value = from_eventbridge("OAUTH_CLIENT_CREDENTIALS", &secret);
        let connection = Connection::parse("arn", &value).unwrap();
        let Auth::OAuth(oauth) = &connection.auth else {
            panic!("{value}")
        };
        assert_eq!(
            (oauth.client_id.as_str(), oauth.client_secret.as_str()),
            ("c", "s")
        );
        assert_eq!(oauth.extra.body, pairs(&[("scope", "all")]));
        assert_eq!(connection.invocation.headers, pairs(&[("x-t", "1")]));
        let key = from_eventbridge(
            "API_KEY",
            &json!({"api_key_name": "x-api-key", "api_key_value": "k"}),
        );
        assert_eq!(
            Connection::parse("arn", &key).unwrap().auth,
            Auth::ApiKey {
                name: "x-api-key".into(),
                value: "k".into()
            }
        );
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn api_key() -> Connection {
        Connection::parse(
            "arn",
            &json!({
                "AuthorizationType": "API_KEY",
                "AuthParameters": {
                    "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k-1"}
                }
            }),
        )
        .unwrap()
    }

    fn call(parameters: Value) -> Call {
        let mut base = json!({
            "ApiEndpoint": "https://api.example.com/v1/items",
            "Method": "POST",
            "InvocationConfig": {"ConnectionArn": "arn"}
        });
        if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), parameters) {
            base.extend(extra);
        }
        Call::parse(&base).unwrap()
    }

    fn header<'a>(request: &'a WireRequest, name: &str) -> Option<&'a str> {
        request.header(name)
    }

    #[test]
    fn arrays_become_pairs_as_each_array_format_says() {
        let body = json!({"array": ["a", "b", "c", "d"]});
        assert_eq!(
            form_pairs(&body, ArrayFormat::Indices),
            pairs(&[
                ("array[0]", "a"),
                ("array[1]", "b"),
                ("array[2]", "c"),
                ("array[3]", "d")
            ])
        );
        assert_eq!(
            form_pairs(&body, ArrayFormat::Repeat),
            pairs(&[
                ("array", "a"),
                ("array", "b"),
                ("array", "c"),
                ("array", "d")
            ])
        );
        assert_eq!(
            form_pairs(&body, ArrayFormat::Commas),
            pairs(&[("array", "a,b,c,d")])
        );
        assert_eq!(
            form_pairs(&body, ArrayFormat::Brackets),
            pairs(&[
                ("array[]", "a"),
                ("array[]", "b"),
                ("array[]", "c"),
                ("array[]", "d")
            ])
        );
    }

    #[test]
    fn query_parameters_follow_the_array_format_and_join_the_urls_own_query() {
        let c = call(json!({
            "ApiEndpoint": "https://api.example.com/search?lang=en%20GB",
            "QueryParameters": {"ids": [1, 2], "q": "a b"},
            "Transform": {"RequestEncodingOptions": {"ArrayFormat": "BRACKETS"}}
        }));
        let (origin, request) = build(&c, &api_key(), "eu-west-1", None).unwrap();
        assert_eq!(origin, "https://api.example.com");
        assert_eq!(
            crate::transport::url_for(&origin, &request).unwrap(),
            "https://api.example.com/search?lang=en%20GB&ids%5B%5D=1&ids%5B%5D=2&q=a%20b"
        );
        let repeat = call(json!({"QueryParameters": {"ids": [1, 2]},
            "Transform": {"RequestEncodingOptions": {"ArrayFormat": "REPEAT"}}}));
        assert_eq!(repeat.query, pairs(&[("ids", "1"), ("ids", "2")]));
        let indices = call(json!({"QueryParameters": {"ids": [1, 2]}}));
        assert_eq!(indices.query, pairs(&[("ids[0]", "1"), ("ids[1]", "2")]));
        let commas = call(json!({"QueryParameters": {"ids": [1, 2]},
            "Transform": {"RequestEncodingOptions": {"ArrayFormat": "COMMAS"}}}));
        assert_eq!(commas.query, pairs(&[("ids", "1,2")]));
    }

    #[test]
    fn url_encoded_bodies_are_form_text_with_nested_keys_bracketed() {
        // The request AWS's documentation shows for its Stripe invoice example.
        let c = call(json!({
            "Headers": {"Content-Type": "application/x-www-form-urlencoded"},
            "RequestBody": {
                "description": "Monthly subscription",
                "metadata": {"order_details": "monthly report data"},
                "customer": "1234567890"
            },
            "Transform": {
                "RequestBodyEncoding": "URL_ENCODED",
                "RequestEncodingOptions": {"ArrayFormat": "INDICES"}
            }
        }));
        let (_, request) = build(&c, &api_key(), "us-east-1", None).unwrap();
        assert_eq!(
            std::str::from_utf8(&request.body).unwrap(),
            "description=Monthly%20subscription&metadata%5Border_details%5D=monthly%20report%20data&customer=1234567890"
        );
        assert_eq!(
            header(&request, "content-type"),
            Some("application/x-www-form-urlencoded")
        );
    }

    #[test]
    fn json_bodies_are_serialized_and_typed_unless_the_task_says_otherwise() {
        let c = call(json!({"RequestBody": {"a": 1}}));
        let (_, request) = build(&c, &api_key(), "us-east-1", None).unwrap();
        assert_eq!(request.body, br#"{"a":1}"#);
        assert_eq!(
            header(&request, "Content-Type"),
            Some("application/json; charset=UTF-8")
        );
        assert_eq!(
            header(&request, "User-Agent"),
            Some("Amazon|StepFunctions|HttpInvoke|us-east-1")
        );
        assert_eq!(header(&request, "Range"), Some("bytes=0-262144"));
        let text = call(json!({"RequestBody": "<x/>", "Headers": {"content-type": "text/xml"}}));
        let (_, request) = build(&text, &api_key(), "us-east-1", None).unwrap();
        assert_eq!(request.body, b"<x/>");
        assert_eq!(header(&request, "Content-Type"), Some("text/xml"));
    }

    #[test]
    fn connections_authorize_and_win_over_the_tasks_parameters() {
        // AWS's data-merging example: the connection's values replace the task's.
        let connection = Connection::parse(
            "arn",
            &json!({
                "AuthorizationType": "API_KEY",
                "AuthParameters": {
                    "ApiKeyAuthParameters": {"ApiKeyName": "ApiKey", "ApiKeyValue": "key_value"},
                    "InvocationHttpParameters": {
                        "BodyParameters": [{"Key": "BodyParam", "Value": "connection_body_param"}],
                        "HeaderParameters": [{"Key": "Header-Param", "Value": "connection_header_param"}],
                        "QueryStringParameters": [{"Key": "QueryParam", "Value": "connection_query_param"}]
                    }
                }
            }),
        )
        .unwrap();
        let c = call(json!({
            "ApiEndpoint": "https://example.com/path",
            "Headers": {"Request-Id": "my_request_id", "Header-Param": "state_machine_header_param"},
            "RequestBody": {"Job": "Software Engineer", "Company": "AnyCompany", "BodyParam": "state_machine_body_param"},
            "QueryParameters": {"QueryParam": "state_machine_query_param"}
        }));
        let (_, request) = build(&c, &connection, "us-east-1", None).unwrap();
        assert_eq!(request.path, "/path?QueryParam=connection_query_param");
        assert_eq!(header(&request, "ApiKey"), Some("key_value"));
        assert_eq!(
            header(&request, "Header-Param"),
            Some("connection_header_param")
        );
        assert_eq!(header(&request, "Request-Id"), Some("my_request_id"));
        assert_eq!(
            serde_json::from_slice::<Value>(&request.body).unwrap(),
            json!({"Job": "Software Engineer", "Company": "AnyCompany", "BodyParam": "connection_body_param"})
        );
        let text = call(json!({"RequestBody": "plain"}));
        let failure = build(&text, &connection, "us-east-1", None).unwrap_err();
        assert_eq!(failure.error, "States.Runtime");
    }

    #[test]
    fn basic_and_oauth_connections_send_their_authorization() {
        let basic = Connection::parse(
            "arn",
            &json!({"AuthorizationType": "BASIC", "AuthParameters": {
                "BasicAuthParameters": {"Username": "myUsername", "Password": "myPassword"}}}),
        )
        .unwrap();
        let (_, request) = build(&call(json!({})), &basic, "us-east-1", None).unwrap();
        assert_eq!(
            header(&request, "Authorization"),
            Some("Basic bXlVc2VybmFtZTpteVBhc3N3b3Jk")
        );
        let oauth = Connection::parse(
            "arn",
            &json!({"AuthorizationType": "OAUTH_CLIENT_CREDENTIALS", "AuthParameters": {
            "OAuthParameters": {
                "AuthorizationEndpoint": "https://auth.example.com/oauth/token?aud=x",
                "HttpMethod": "POST",
                "ClientParameters": {"ClientID": "id-1", "ClientSecret": "s 2"},
                "OAuthHttpParameters": {
                    "BodyParameters": [{"Key": "scope", "Value": "read"}],
                    "HeaderParameters": [{"Key": "x-tenant", "Value": "t"}]
                }
            }}}),
        )
        .unwrap();
        let (_, request) = build(&call(json!({})), &oauth, "us-east-1", Some("tok")).unwrap();
        assert_eq!(header(&request, "Authorization"), Some("Bearer tok"));
        let Auth::OAuth(parameters) = &oauth.auth else {
            panic!("not OAuth: {oauth:?}")
        };
        let (origin, grant) = token_request(parameters).unwrap();
        assert_eq!(origin, "https://auth.example.com");
        assert_eq!(grant.method, http::Method::POST);
        assert_eq!(grant.path, "/oauth/token?aud=x");
        assert_eq!(
            std::str::from_utf8(&grant.body).unwrap(),
            "grant_type=client_credentials&client_id=id-1&client_secret=s%202&scope=read"
        );
        assert_eq!(grant.header("x-tenant"), Some("t"));
        let answer = WireResponse {
            status: 200,
            headers: vec![],
            body: br#"{"access_token":"abc","expires_in":3600}"#.to_vec(),
        };
        assert_eq!(access_token(&answer, "e").unwrap(), "abc");
        let refused = WireResponse {
            status: 401,
            headers: vec![],
            body: b"no".to_vec(),
        };
        assert_eq!(
            access_token(&refused, "e").unwrap_err().error,
            "Events.ConnectionResource.InvalidConnectionState"
        );
    }

    #[test]
    fn bad_parameters_fail_with_states_runtime() {
        let base = json!({"ApiEndpoint": "https://a.example", "Method": "GET",
            "Authentication": {"ConnectionArn": "arn"}});
        assert!(Call::parse(&base).is_ok());
        let with = |key: &str, value: Value| {
            let mut v = base.clone();
            v[key] = value;
            Call::parse(&v).unwrap_err()
        };
        for failure in [
            with("Method", json!("TRACE")),
            with("ApiEndpoint", json!("ftp://a.example")),
            with("Headers", json!({"Authorization": "Bearer x"})),
            with("Headers", json!({"X-Amz-Date": "now"})),
            with("Transform", json!({"RequestBodyEncoding": "GZIP"})),
        ] {
            assert_eq!(failure.error, "States.Runtime", "{failure:?}");
        }
        let mut no_connection = base.clone();
        no_connection
            .as_object_mut()
            .unwrap()
            .remove("Authentication");
        assert_eq!(
            Call::parse(&no_connection).unwrap_err().error,
            "States.Runtime"
        );
    }

    #[test]
    fn headers_http_cannot_carry_fail_as_bad_input() {
        let c = call(json!({"Headers": {"X-Note": "line\nbreak"}}));
        let failure = build(&c, &api_key(), "us-east-1", None).unwrap_err();
        assert_eq!(failure.error, "States.Runtime");
        let c = call(json!({"Headers": {"Bad Name": "x"}}));
        assert_eq!(
            build(&c, &api_key(), "us-east-1", None).unwrap_err().error,
            "States.Runtime"
        );
    }

    #[test]
    fn unknown_connections_name_the_variable() {
        let none = Connections::default().lookup("arn:x").unwrap_err();
        assert_eq!(none.error, "Events.ConnectionResource.ResourceNotFound");
        assert!(none.cause.unwrap().contains("CAIRN_CONNECTIONS"));
        let file = Connections::file("/nonexistent/cairn-connections.json")
            .lookup("arn:x")
            .unwrap_err();
        assert!(file.cause.unwrap().contains("CAIRN_CONNECTIONS"));
        let inline = Connections::inline(json!({"arn:y": {}}))
            .lookup("arn:x")
            .unwrap_err();
        assert_eq!(inline.error, "Events.ConnectionResource.ResourceNotFound");
        let debug = format!(
            "{:?}",
            Connections::inline(json!({"arn:y": {"AuthParameters": {"secret": "s3cr3t"}}}))
        );
        assert!(!debug.contains("s3cr3t"), "{debug}");
    }

    #[test]
    fn answers_become_the_result_or_the_status_failure() {
        let answer = WireResponse {
            status: 200,
            headers: vec![
                (
                    "content-type".into(),
                    "application/json; charset=utf-8".into(),
                ),
                ("set-cookie".into(), "a=1".into()),
                ("set-cookie".into(), "b=2".into()),
            ],
            body: br#"{"id":7}"#.to_vec(),
        };
        assert_eq!(
            result(&answer).unwrap(),
            json!({
                "Headers": {
                    "content-type": ["application/json; charset=utf-8"],
                    "set-cookie": ["a=1", "b=2"]
                },
                "ResponseBody": {"id": 7},
                "StatusCode": 200,
                "StatusText": "OK"
            })
        );
        let text = WireResponse {
            status: 201,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: b"{\"not\":\"parsed\"}".to_vec(),
        };
        let shaped = result(&text).unwrap();
        assert_eq!(shaped["ResponseBody"], "{\"not\":\"parsed\"}");
        assert_eq!(shaped["StatusText"], "Created");
        let missing = WireResponse {
            status: 404,
            headers: vec![],
            body: b"nothing here".to_vec(),
        };
        let failure = result(&missing).unwrap_err();
        assert_eq!(failure.error, "States.Http.StatusCode.404");
        assert_eq!(failure.cause.as_deref(), Some("Not Found"));
        let image = WireResponse {
            status: 200,
            headers: vec![("content-type".into(), "image/png".into())],
            body: vec![0x89, b'P'],
        };
        assert_eq!(result(&image).unwrap_err().error, "States.Runtime");
        let binary = WireResponse {
            status: 200,
            headers: vec![],
            body: vec![0xff, 0xfe],
        };
        assert_eq!(result(&binary).unwrap_err().error, "States.Runtime");
    }

    #[test]
    fn no_answer_is_a_socket_failure() {
        let refused = socket_failure(TransportError::Connection("refused".into()));
        assert_eq!(refused.error, "States.Http.Socket");
        let slow = socket_failure(TransportError::Timeout(std::time::Duration::from_secs(60)));
        assert_eq!(slow.error, "States.Http.Socket");
    }

    #[test]
    fn percent_decoding_forgives_stray_percent_signs() {
        assert_eq!(percent_decode("a%20b+c"), "a b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
