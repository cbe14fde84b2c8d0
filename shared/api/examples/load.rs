//! Load driver for `cairn serve` (a bench, not a test): many concurrent clients, each on one
//! keep-alive HTTP/1.1 connection, start B4 executions (Pass -> Choice -> Succeed) and report
//! executions/s and latency percentiles.
//!
//! cargo run --release -p cairn-api --example load -- 127.0.0.1:8083 standard 64 20000
//! (mode: `standard` = StartExecution, each execution completes inside the call;
//!  `express` = StartSyncExecution; `chain` = StartExecution of the bench's B1, a Standard
//!  1,000-state Pass chain with its 2,002 history events, also completed inside the call)
//! An optional fifth argument P first opens P GetActivityTask long polls on an activity with
//! no tasks, each on its own connection, and keeps them open during the run: the polls hold
//! server threads for up to 60 s each and must not slow the executions down.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const B4: &str = r#"{"StartAt":"Tag","States":{"Tag":{"Type":"Pass","Parameters":{"n.$":"$.n","tagged":true},"Next":"Route"},"Route":{"Type":"Choice","Choices":[{"Variable":"$.tagged","BooleanEquals":true,"Next":"Ok"}],"Default":"Ok"},"Ok":{"Type":"Succeed"}}}"#;

struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    host: String,
}

impl Client {
    fn connect(addr: &str) -> std::io::Result<Client> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        Ok(Client {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
            host: addr.to_string(),
        })
    }

    /// One request; returns (HTTP status, body).
    fn call(&mut self, action: &str, body: &str) -> std::io::Result<(u16, String)> {
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nX-Amz-Target: AWSStepFunctions.{action}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.writer.write_all(request.as_bytes())?;
        let mut status_line = String::new();
        self.reader.read_line(&mut status_line)?;
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Opens `count` GetActivityTask long polls (each on a connection and thread of its own) and
/// waits until the server holds them: they count as open until they are answered.
fn open_polls(addr: &str, setup: &mut Client, count: usize) -> std::io::Result<Arc<AtomicUsize>> {
    let open = Arc::new(AtomicUsize::new(0));
    if count == 0 {
        return Ok(open);
    }
    let name = format!("load-idle-{}", std::process::id());
    let (status, body) = setup.call(
        "CreateActivity",
        &serde_json::json!({ "name": name }).to_string(),
    )?;
    if status != 200 {
        return Err(std::io::Error::other(format!(
            "CreateActivity failed: {status} {body}"
        )));
    }
    let created: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let poll = serde_json::json!({"activityArn": created["activityArn"], "workerName": "idle"})
        .to_string();
    for _ in 0..count {
        let mut client = Client::connect(addr)?;
        let (poll, open) = (poll.clone(), Arc::clone(&open));
        open.fetch_add(1, Ordering::Relaxed);
        std::thread::spawn(move || {
            let answer = client.call("GetActivityTask", &poll);
            open.fetch_sub(1, Ordering::Relaxed);
            match answer {
                Ok((200, _)) => {}
                Ok((status, body)) => eprintln!("GetActivityTask answered {status}: {body}"),
                Err(error) => eprintln!("GetActivityTask failed: {error}"),
            }
        });
    }
    // The requests are written; give the server a moment to start holding them.
    std::thread::sleep(Duration::from_millis(500));
    println!(
        "{} long polls open before the run",
        open.load(Ordering::Relaxed)
    );
    Ok(open)
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let addr = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:8083".into());
    let mode = args.get(2).cloned().unwrap_or_else(|| "standard".into());
    let clients: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(64);
    let total: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let pollers: usize = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(0);
    let express = mode == "express";
    let (machine_type, action) = if express {
        ("EXPRESS", "StartSyncExecution")
    } else {
        ("STANDARD", "StartExecution")
    };
    let (definition, input) = if mode == "chain" {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/bench/asl/b1_pass_chain.asl.json");
        let definition = std::fs::read_to_string(&path)
            .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
        (definition, "{\"i\": 7}")
    } else {
        (B4.to_string(), "{\"n\": 1}")
    };

    let mut setup = Client::connect(&addr)?;
    let name = format!("load-b4-{}-{}", mode, std::process::id());
    let create = serde_json::json!({
        "name": name, "definition": definition, "type": machine_type,
        "roleArn": "arn:aws:iam::123456789012:role/load",
    });
    let (status, body) = setup.call("CreateStateMachine", &create.to_string())?;
    if status != 200 {
        eprintln!("CreateStateMachine failed: {status} {body}");
        std::process::exit(1);
    }
    let created: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let machine = created["stateMachineArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let request = serde_json::json!({"stateMachineArn": machine, "input": input}).to_string();
    let polling = open_polls(&addr, &mut setup, pollers)?;

    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let last_arn = Arc::new(Mutex::new(String::new()));
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (addr, request, next, failures, latencies, last_arn) = (
                addr.clone(),
                request.clone(),
                Arc::clone(&next),
                Arc::clone(&failures),
                Arc::clone(&latencies),
                Arc::clone(&last_arn),
            );
            std::thread::spawn(move || {
                let Ok(mut client) = Client::connect(&addr) else {
                    failures.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                let mut mine = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    let t0 = Instant::now();
                    match client.call(action, &request) {
                        Ok((200, body)) => {
                            mine.push(t0.elapsed());
                            if express && !body.contains("\"SUCCEEDED\"") {
                                failures.fetch_add(1, Ordering::Relaxed);
                            } else if let Ok(mut last) = last_arn.lock() {
                                if let Some(arn) = serde_json::from_str::<serde_json::Value>(&body)
                                    .ok()
                                    .and_then(|v| v["executionArn"].as_str().map(str::to_string))
                                {
                                    *last = arn;
                                }
                            }
                        }
                        _ => {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                if let Ok(mut all) = latencies.lock() {
                    all.extend(mine);
                }
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
    let elapsed = started.elapsed();
    let mut latencies = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    latencies.sort();
    let done = latencies.len();
    println!(
        "{mode}: {done} executions in {:.2}s = {:.0} executions/s with {clients} clients; p50 {:.2} ms, p99 {:.2} ms; {} failures",
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        failures.load(Ordering::Relaxed)
    );
    println!(
        "long polls still open at the end: {} of {pollers}",
        polling.load(Ordering::Relaxed)
    );
    if !express {
        // Standard: a chain of Pass and Choice states runs to its end inside StartExecution;
        // confirm it.
        let arn = last_arn.lock().map(|a| a.clone()).unwrap_or_default();
        let (_, body) = setup.call(
            "DescribeExecution",
            &serde_json::json!({"executionArn": arn}).to_string(),
        )?;
        let described: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        println!("last execution: {}", described["status"]);
    }
    Ok(())
}
