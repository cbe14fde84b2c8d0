//! The task port is asynchronous: a Map of 40 HTTP calls in flight at once waits on the
//! integrations' runtime, not on 40 threads. A server inside the test holds every request
//! until all 40 have arrived, then counts the process's threads (Linux's /proc/self/task)
//! before answering them: with one thread per call the count would pass 40.
//!
//! Alone in its file so that no other test's threads are counted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cairn_integrations::{Integrations, Settings};
use cairn_interpreter::{Machine, Status};
use cairn_runtime::{run_to_completion, RunOptions, TimeMode, Unsupported};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

const CALLS: usize = 40;
const CONNECTION: &str = "arn:aws:events:us-east-1:123456789012:connection/fan/1";

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |entries| entries.count())
}

#[test]
fn forty_calls_in_flight_hold_no_thread_each() {
    if threads() == 0 {
        eprintln!("SKIPPED: /proc/self/task is not readable here (not Linux)");
        return;
    }
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    let arrived = Arc::new(AtomicUsize::new(0));
    let all_in = Arc::new(Notify::new());
    let peak = Arc::new(AtomicUsize::new(0));
    {
        let (arrived, all_in, peak) = (arrived.clone(), all_in.clone(), peak.clone());
        server.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((mut socket, _)) = listener.accept().await {
                let (arrived, all_in, peak) = (arrived.clone(), all_in.clone(), peak.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buffer = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let waiting = all_in.notified();
                    if arrived.fetch_add(1, Ordering::SeqCst) + 1 == CALLS {
                        peak.store(threads(), Ordering::SeqCst);
                        all_in.notify_waiters();
                    } else {
                        waiting.await;
                    }
                    let body = b"{\"ok\":true}";
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        body.len()
                    );
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(body).await;
                });
            }
        });
    }
    let definition = json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "MaxConcurrency": CALLS, "ItemsPath": "$.items",
        "ItemProcessor": {"StartAt": "Call", "States": {"Call": {
            "Type": "Task", "Resource": "arn:aws:states:::http:invoke",
            "Parameters": {"ApiEndpoint": format!("http://{address}/item"), "Method": "GET",
                "Authentication": {"ConnectionArn": CONNECTION}},
            "ResultSelector": {"ok.$": "$.ResponseBody.ok"}, "End": true}}},
        "End": true}}});
    let machine = Machine::from_json(&definition).unwrap();
    let connections = std::env::temp_dir().join(format!("cairn-fan-{}.json", std::process::id()));
    std::fs::write(
        &connections,
        json!({CONNECTION: {"AuthorizationType": "API_KEY", "AuthParameters": {
            "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k"}}}})
        .to_string(),
    )
    .unwrap();
    let settings = Settings::from_vars([(
        "CAIRN_CONNECTIONS".into(),
        connections.display().to_string(),
    )]);
    let invoker = Integrations::new(settings, Arc::new(Unsupported)).unwrap();
    let before = threads();
    let run = run_to_completion(
        &machine,
        json!({"items": (0..CALLS).collect::<Vec<_>>()}),
        Arc::new(invoker),
        &RunOptions {
            time: TimeMode::Real,
            ..RunOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        run.status,
        Status::Succeeded,
        "{:?} {:?}",
        run.error,
        run.cause
    );
    assert_eq!(
        run.output.as_deref(),
        Some(&json!(vec![json!({"ok": true}); CALLS]))
    );
    assert_eq!(arrived.load(Ordering::SeqCst), CALLS);
    let _ = std::fs::remove_file(connections);
    let during = peak.load(Ordering::SeqCst);
    // The integrations' runtime adds its workers and blocking helpers, not a thread per call.
    assert!(
        during < before + CALLS / 2,
        "{during} threads with {CALLS} calls in flight (before the run: {before})"
    );
}
