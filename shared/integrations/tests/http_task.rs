//! The HTTP Task end to end: state machines run through the same run loop as `cairn run`
//! against a small HTTP/1.1 server started inside the test, with connections read from a
//! `CAIRN_CONNECTIONS` file. The server records what reached it, so the request is checked
//! on the wire rather than as the code that built it sees it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use cairn_integrations::{Integrations, Settings};
use cairn_interpreter::{Machine, Status};
use cairn_runtime::{run_to_completion, RunOptions, RunResult, Unsupported};
use cairn_test_support::succeeded;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const API_KEY: &str = "arn:aws:events:us-east-1:123456789012:connection/api-key/1";
const OAUTH: &str = "arn:aws:events:us-east-1:123456789012:connection/oauth/2";

/// One request as the server read it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    /// Lower-cased names.
    headers: BTreeMap<String, String>,
    body: String,
}

/// A server answering by path: `/token` grants an OAuth token, `/items` echoes a JSON body
/// with 201, `/missing` is 404, anything else is 200 text.
struct Server {
    address: std::net::SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    fn start() -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((socket, _)) = listener.accept().await {
                let log = Arc::clone(&log);
                tokio::spawn(async move { serve(socket, log).await });
            }
        });
        Server {
            address,
            seen,
            _runtime: runtime,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve(mut socket: tokio::net::TcpStream, log: Arc<Mutex<Vec<Seen>>>) {
    let mut data = Vec::new();
    let mut buffer = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buffer[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut start = lines.next().unwrap_or_default().split(' ');
    let method = start.next().unwrap_or_default().to_owned();
    let target = start.next().unwrap_or_default().to_owned();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + length {
        match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => data.extend_from_slice(&buffer[..n]),
        }
    }
    let body = String::from_utf8_lossy(&data[head_end..]).into_owned();
    let seen = Seen {
        method,
        target,
        headers,
        body,
    };
    let path = seen.target.split('?').next().unwrap_or_default().to_owned();
    let (status, content_type, answer) = match path.as_str() {
        "/token" => (
            "200 OK",
            "application/json",
            r#"{"access_token":"tok-1","token_type":"Bearer","expires_in":3600}"#.to_owned(),
        ),
        "/items" => {
            let received: Value = serde_json::from_str(&seen.body).unwrap_or(Value::Null);
            (
                "201 Created",
                "application/json",
                json!({"received": received, "id": 7}).to_string(),
            )
        }
        "/missing" => ("404 Not Found", "text/plain", "no such thing".to_owned()),
        _ => ("200 OK", "text/plain", "ok".to_owned()),
    };
    log.lock().unwrap().push(seen);
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\nx-served-by: test\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{answer}",
        answer.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}

/// Integrations whose connections come from a `CAIRN_CONNECTIONS` file, as `cairn run` reads
/// them from the environment.
fn integrations(server: &Server) -> Integrations {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let connections = json!({
        API_KEY: {
            "AuthorizationType": "API_KEY",
            "AuthParameters": {
                "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k-1"},
                "InvocationHttpParameters": {
                    "HeaderParameters": [{"Key": "x-tenant", "Value": "acme", "IsValueSecret": false}]
                }
            }
        },
        OAUTH: {
            "AuthorizationType": "OAUTH_CLIENT_CREDENTIALS",
            "AuthParameters": {
                "OAuthParameters": {
                    "AuthorizationEndpoint": server.url("/token"),
                    "HttpMethod": "POST",
                    "ClientParameters": {"ClientID": "client-1", "ClientSecret": "secret-1"}
                }
            }
        }
    });
    let path = std::env::temp_dir().join(format!(
        "cairn-http-task-{}-{}.json",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, connections.to_string()).unwrap();
    let from_env =
        Settings::from_vars([("CAIRN_CONNECTIONS".to_string(), path.display().to_string())]);
    let settings = Settings {
        region: Some("us-east-1".into()),
        static_credentials: Some(("test".into(), "test".into())),
        connections: from_env.connections,
        ..Settings::default()
    };
    Integrations::new(settings, Arc::new(Unsupported)).unwrap()
}

fn run(parameters: Value, extra: Value, integrations: &Integrations) -> RunResult {
    let mut call = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::http:invoke",
        "Parameters": parameters,
        "End": true
    });
    let mut states = serde_json::Map::new();
    if let (Some(call), Value::Object(extra)) = (call.as_object_mut(), extra) {
        if extra.contains_key("Next") {
            call.remove("End");
            states.insert("Handled".into(), json!({"Type": "Pass", "End": true}));
        }
        call.extend(extra);
    }
    states.insert("Call".into(), call);
    let definition = json!({"StartAt": "Call", "States": states});
    let machine = Machine::from_json(&definition).unwrap();
    run_to_completion(
        &machine,
        json!({}),
        Arc::new(integrations.clone()),
        &RunOptions::default(),
    )
    .unwrap()
}

#[test]
fn http_get_with_query_parameters_carries_the_connections_api_key() {
    let server = Server::start();
    let result = run(
        json!({
            "ApiEndpoint": server.url("/search"),
            "Method": "GET",
            "InvocationConfig": {"ConnectionArn": API_KEY},
            "QueryParameters": {"q": "step functions", "tags": ["a", "b"]},
            "Headers": {"Accept": "text/plain"}
        }),
        json!({}),
        &integrations(&server),
    );
    let output = succeeded(&result);
    assert_eq!(output["StatusCode"], 200);
    assert_eq!(output["StatusText"], "OK");
    assert_eq!(output["ResponseBody"], "ok");
    assert_eq!(output["Headers"]["x-served-by"], json!(["test"]));
    let seen = server.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let request = &seen[0];
    assert_eq!(request.method, "GET");
    assert_eq!(
        request.target,
        "/search?q=step%20functions&tags%5B0%5D=a&tags%5B1%5D=b"
    );
    assert_eq!(request.headers["x-api-key"], "k-1");
    assert_eq!(request.headers["x-tenant"], "acme");
    assert_eq!(request.headers["accept"], "text/plain");
    assert_eq!(
        request.headers["user-agent"],
        "Amazon|StepFunctions|HttpInvoke|us-east-1"
    );
    assert_eq!(request.headers["range"], "bytes=0-262144");
}

#[test]
fn http_post_of_json_gives_the_parsed_answer_and_status() {
    let server = Server::start();
    let result = run(
        json!({
            "ApiEndpoint": server.url("/items"),
            "Method": "POST",
            "Authentication": {"ConnectionArn": API_KEY},
            "RequestBody": {"name": "widget", "count": 2}
        }),
        json!({}),
        &integrations(&server),
    );
    let output = succeeded(&result);
    assert_eq!(output["StatusCode"], 201);
    assert_eq!(output["StatusText"], "Created");
    assert_eq!(
        output["ResponseBody"],
        json!({"received": {"name": "widget", "count": 2}, "id": 7})
    );
    assert_eq!(
        output["Headers"]["content-type"],
        json!(["application/json"])
    );
    let seen = server.seen();
    assert_eq!(
        seen[0].headers["content-type"],
        "application/json; charset=UTF-8"
    );
}

#[test]
fn http_oauth_connection_fetches_a_token_and_sends_it_as_bearer() {
    let server = Server::start();
    let result = run(
        json!({
            "ApiEndpoint": server.url("/items"),
            "Method": "PUT",
            "InvocationConfig": {"ConnectionArn": OAUTH},
            "RequestBody": {"n": 1}
        }),
        json!({}),
        &integrations(&server),
    );
    succeeded(&result);
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].target, "/token");
    assert_eq!(seen[0].method, "POST");
    assert_eq!(
        seen[0].body,
        "grant_type=client_credentials&client_id=client-1&client_secret=secret-1"
    );
    assert_eq!(seen[1].method, "PUT");
    assert_eq!(seen[1].headers["authorization"], "Bearer tok-1");
}

#[test]
fn http_404_is_caught_by_its_status_code_error() {
    let server = Server::start();
    let result = run(
        json!({
            "ApiEndpoint": server.url("/missing"),
            "Method": "GET",
            "InvocationConfig": {"ConnectionArn": API_KEY}
        }),
        json!({
            "Next": "Handled",
            "Catch": [{
                "ErrorEquals": ["States.Http.StatusCode.404"],
                "ResultPath": "$.error",
                "Next": "Handled"
            }]
        }),
        &integrations(&server),
    );
    let output = succeeded(&result);
    assert_eq!(output["error"]["Error"], "States.Http.StatusCode.404");
    assert_eq!(output["error"]["Cause"], "Not Found");
}

#[test]
fn http_closed_port_is_a_socket_error() {
    let server = Server::start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let result = run(
        json!({
            "ApiEndpoint": format!("http://{address}/anything"),
            "Method": "GET",
            "InvocationConfig": {"ConnectionArn": API_KEY}
        }),
        json!({}),
        &integrations(&server),
    );
    assert_eq!(result.status, Status::Failed, "{result:?}");
    assert_eq!(result.error.as_deref(), Some("States.Http.Socket"));
}

#[test]
fn http_unknown_connection_fails_naming_the_variable() {
    let server = Server::start();
    let result = run(
        json!({
            "ApiEndpoint": server.url("/search"),
            "Method": "GET",
            "InvocationConfig": {"ConnectionArn": "arn:aws:events:us-east-1:1:connection/nope/3"}
        }),
        json!({}),
        &integrations(&server),
    );
    assert_eq!(result.status, Status::Failed);
    assert_eq!(
        result.error.as_deref(),
        Some("Events.ConnectionResource.ResourceNotFound")
    );
    assert!(
        result
            .cause
            .as_deref()
            .unwrap_or_default()
            .contains("CAIRN_CONNECTIONS"),
        "{:?}",
        result.cause
    );
    assert!(server.seen().is_empty());
}
