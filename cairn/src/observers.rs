//! Where `cairn serve` sends what the API lets the world watch: execution log events
//! (`--execution-log`, AWS: CloudWatch Logs) and status change events (`--status-events`,
//! AWS: EventBridge).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use cairn_api::observe::{ExecutionLogSink, StatusEventSink};
use cairn_interpreter::{IntegrationPattern, ResourceKind};
use cairn_runtime::{TaskInvoker, TaskRequest};
use serde_json::{json, Value};

/// JSON lines on standard output (`-`) or appended to a file.
pub struct LineLog {
    out: Mutex<Box<dyn Write + Send>>,
}

impl LineLog {
    pub fn open(target: &str) -> anyhow::Result<LineLog> {
        let out: Box<dyn Write + Send> = if target == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(target)
                    .with_context(|| format!("opening the execution log {target}"))?,
            )
        };
        Ok(LineLog {
            out: Mutex::new(out),
        })
    }
}

impl ExecutionLogSink for LineLog {
    fn write(&self, line: &str) {
        if let Ok(mut out) = self.out.lock() {
            // One write per line so readers never see half a message; a failing log must not
            // fail the execution, as a CloudWatch Logs outage does not in AWS.
            let mut text = String::with_capacity(line.len() + 1);
            text.push_str(line);
            text.push('\n');
            if out
                .write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .is_err()
            {
                eprintln!("cairn: cannot write the execution log");
            }
        }
    }
}

/// Sends events from one background thread, in order, so an execution never waits for a
/// slow or dead receiver.
pub struct Events {
    queue: Mutex<Sender<Value>>,
}

impl StatusEventSink for Events {
    fn send(&self, event: Value) {
        if let Ok(queue) = self.queue.lock() {
            let _ = queue.send(event);
        }
    }
}

/// Hands one event to its receiver.
type Deliver = dyn Fn(&Value) -> Result<(), String> + Send;

/// `--status-events TARGET`: `http://HOST:PORT/PATH` POSTs each event as JSON (a webhook);
/// `eventbridge` or `eventbridge:BUS` puts it on that bus (default: `default`) through the
/// integrations' PutEvents, so AWS_ENDPOINT_URL_EVENTS can point it at LocalStack or moto.
pub fn status_events(target: &str, invoker: Arc<dyn TaskInvoker>) -> anyhow::Result<Events> {
    let deliver: Box<Deliver> = if let Some(rest) = target.strip_prefix("eventbridge") {
        let bus = match rest.strip_prefix(':') {
            Some(bus) if !bus.is_empty() => bus.to_string(),
            None if rest.is_empty() => "default".to_string(),
            _ => anyhow::bail!(
                "--status-events: expected eventbridge or eventbridge:BUS, not '{target}'"
            ),
        };
        Box::new(move |event| put_event(invoker.as_ref(), &bus, event))
    } else if let Some(rest) = target.strip_prefix("http://") {
        let (host, path) = match rest.split_once('/') {
            Some((host, path)) => (host.to_string(), format!("/{path}")),
            None => (rest.to_string(), "/".to_string()),
        };
        if host.is_empty() {
            anyhow::bail!("--status-events: no host in '{target}'");
        }
        Box::new(move |event| post(&host, &path, event))
    } else if target.starts_with("https://") {
        anyhow::bail!(
            "--status-events: https webhooks are not supported; use http:// or eventbridge[:BUS]"
        )
    } else {
        anyhow::bail!(
            "--status-events: expected http://HOST:PORT/PATH or eventbridge[:BUS], not '{target}'"
        )
    };
    let (queue, events) = channel::<Value>();
    std::thread::Builder::new()
        .name("cairn-status-events".into())
        .spawn(move || {
            for event in events {
                if let Err(error) = deliver(&event) {
                    eprintln!("cairn: a status event was not delivered: {error}");
                }
            }
        })
        .context("starting the status event thread")?;
    Ok(Events {
        queue: Mutex::new(queue),
    })
}

fn put_event(invoker: &dyn TaskInvoker, bus: &str, event: &Value) -> Result<(), String> {
    let entry = json!({
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": event["detail"],
        "Resources": event["resources"],
        "EventBusName": bus,
    });
    let request = TaskRequest {
        task_id: 0,
        state_name: "StatusEvent".into(),
        resource: "arn:aws:states:::events:putEvents".into(),
        kind: ResourceKind::Service {
            service: "events".into(),
            action: "putEvents".into(),
            pattern: IntegrationPattern::RequestResponse,
        },
        input: json!({"Entries": [entry]}),
        task_token: None,
        credentials: None,
        now_ms: 0,
        execution_arn: String::new(),
    };
    match invoker.invoke(&request).result {
        Ok(_) => Ok(()),
        Err(failure) => Err(format!("{failure:?}")),
    }
}

/// One HTTP/1.1 POST of the event; a 2xx answer is delivery.
fn post(host: &str, path: &str, event: &Value) -> Result<(), String> {
    let body = event.to_string();
    let mut stream = TcpStream::connect(host).map_err(|e| format!("{host}: {e}"))?;
    let timeout = Some(Duration::from_secs(10));
    let _ = stream.set_read_timeout(timeout);
    let _ = stream.set_write_timeout(timeout);
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("{host}: {e}"))?;
    let mut answer = Vec::new();
    let _ = stream.take(64 * 1024).read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.split_whitespace().nth(1).unwrap_or("");
    if status.starts_with('2') {
        Ok(())
    } else {
        Err(format!(
            "http://{host}{path} answered '{}'",
            answer.lines().next().unwrap_or("")
        ))
    }
}
