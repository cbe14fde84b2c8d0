//! `cairn serve --express-map-run-children`: a Distributed Map's EXPRESS children run as
//! executions of their own (each child's history holds its states), and without the flag
//! inside their parent (a child's history is its start and its end). Through the real
//! binary and its HTTP API.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const ROLE: &str = "arn:aws:iam::123456789012:role/cairn-test";

/// A `cairn serve` on a free port and a fresh data directory, stopped when dropped.
struct Server {
    child: Child,
    addr: String,
    data: std::path::PathBuf,
}

impl Server {
    fn start(name: &str, extra: &[&str]) -> Server {
        let data = std::env::temp_dir().join(format!(
            "cairn-serve-children-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&data);
        let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(["serve", "--port", "0", "--data"])
            .arg(&data)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cairn serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the listening line");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Server { child, addr, data }
    }

    /// One AWS JSON 1.0 action on a connection of its own; the answer's JSON (an error's too).
    fn call(&self, action: &str, body: Value) -> Value {
        let body = body.to_string();
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        write!(
            stream,
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.0\r\n\
             X-Amz-Target: AWSStepFunctions.{action}\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .expect("send");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("answer");
        let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
        let value: Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("{action} answered no JSON ({e}): {head}\n{body}"));
        assert!(
            head.starts_with("HTTP/1.1 200"),
            "{action}: {head}\n{value}"
        );
        value
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

/// Runs a Standard parent whose Distributed Map has two EXPRESS children (a Pass each) to
/// its end, and answers the event types of one child's history.
fn child_history(server: &Server) -> Vec<String> {
    let definition = json!({
        "StartAt": "M",
        "States": {"M": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "Label": "each",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "P",
                "States": {"P": {"Type": "Pass", "End": true}}
            },
            "End": true
        }}
    });
    let machine = text(
        &server.call(
            "CreateStateMachine",
            json!({"name": "parent", "definition": definition.to_string(), "roleArn": ROLE}),
        )["stateMachineArn"],
    );
    let parent = text(
        &server.call(
            "StartExecution",
            json!({"stateMachineArn": machine, "input": json!({"items": [1, 2]}).to_string()}),
        )["executionArn"],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let described = server.call("DescribeExecution", json!({"executionArn": parent}));
        match described["status"].as_str() {
            Some("RUNNING") if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Some("SUCCEEDED") => break,
            _ => panic!("the parent did not succeed: {described}"),
        }
    }
    let runs = server.call("ListMapRuns", json!({"executionArn": parent}));
    let run = text(&runs["mapRuns"][0]["mapRunArn"]);
    let children = server.call("ListExecutions", json!({"mapRunArn": run}));
    let listed = children["executions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(listed.len(), 2, "{children}");
    let history = server.call(
        "GetExecutionHistory",
        json!({"executionArn": listed[0]["executionArn"]}),
    );
    history["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|event| text(&event["type"]))
        .collect()
}

#[test]
fn express_map_run_children_run_as_executions_of_their_own_only_with_the_flag() {
    let inside = Server::start("inside", &[]);
    assert_eq!(
        child_history(&inside),
        ["ExecutionStarted", "ExecutionSucceeded"]
    );
    let outside = Server::start("outside", &["--express-map-run-children"]);
    assert_eq!(
        child_history(&outside),
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
}
