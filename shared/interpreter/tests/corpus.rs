//! Developer check against the recorded AWS executions in the team's conformance corpus
//! (`CAIRN_CONFORMANCE_DIR`, default `../shared/conformance` beside the checkout). Runs the
//! self-contained cases (JSONPath and JSONata; `CAIRN_SKIP_JSONATA=1` leaves JSONata out)
//! and the Lambda cases, comparing recorded histories, and prints each mismatch; the
//! project's conformance harness (tests/) is the authoritative check.
//! Run with `cargo test -p cairn-interpreter --test corpus -- --ignored --nocapture`.

use cairn_interpreter::{Command, Context, Event, Execution, ExecutionInfo, Machine, Status};
use serde_json::Value;
use std::path::PathBuf;

fn corpus_dir() -> PathBuf {
    std::env::var("CAIRN_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        })
}

fn is_placeholder(s: &str) -> bool {
    (s.contains('<') && s.contains('>'))
        || matches!(
            s,
            "timestamp" | "datetime" | "date" | "snf_role_arn" | "activity_arn" | "map_run_arn"
        )
}

/// JSON text compares by its decoded value (the recording decoded objects only).
fn decode(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str::<Value>(s).unwrap_or_else(|_| v.clone()),
        other => other.clone(),
    }
}

fn decode_vars(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), decode(x))).collect()),
        other => other.clone(),
    }
}

fn same(recorded: &Value, mine: &Value) -> bool {
    match (recorded, mine) {
        (Value::String(r), _) if is_placeholder(r) => true,
        // Service metadata (headers, request ids) is the shell's business: compare the payload.
        (Value::Object(r), Value::Object(m)) if r.contains_key("SdkHttpMetadata") => r
            .get("Payload")
            .zip(m.get("Payload"))
            .is_none_or(|(a, b)| same(a, b)),
        (Value::Object(r), Value::Object(m)) => {
            r.len() == m.len() && r.iter().all(|(k, v)| m.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(r), Value::Array(m)) => {
            r.len() == m.len() && r.iter().zip(m).all(|(a, b)| same(a, b))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => recorded == mine,
    }
}

fn run_case(case: &Value) -> Result<(), String> {
    let machine = Machine::from_json(&case["definition"]).map_err(|e| format!("load: {e}"))?;
    let info = ExecutionInfo {
        execution_arn: "arn:aws:states:us-east-1:111111111111:execution:sm:exec".into(),
        name: "exec".into(),
        state_machine_arn: "arn:aws:states:us-east-1:111111111111:stateMachine:sm".into(),
        state_machine_name: "sm".into(),
        role_arn: "snf_role_arn".into(),
        start_time_ms: 1_700_000_000_000,
        ..Default::default()
    };
    let mut now = 1_700_000_000_000i64;
    let (mut exec, first) = Execution::start(
        &machine,
        case["input"].clone(),
        info,
        &Context {
            now_ms: now,
            seed: 1,
        },
    );
    let mut history = first.history;
    let mut timers: Vec<(i64, u64)> = Vec::new();
    let mut pending = first.commands;
    let mut invocations = 0usize;
    let mut steps = 0;
    while exec.status() == Status::Running && steps < 10_000 {
        steps += 1;
        while let Some(c) = (!pending.is_empty()).then(|| pending.remove(0)) {
            match c {
                Command::StartTimer {
                    timer_id,
                    fire_at_ms,
                } => timers.push((fire_at_ms, timer_id)),
                Command::CancelTimer { timer_id } => timers.retain(|t| t.1 != timer_id),
                Command::InvokeTask {
                    task_id,
                    resource,
                    kind,
                    input,
                    ..
                } => {
                    let ctx = Context {
                        now_ms: now,
                        seed: 3,
                    };
                    if resource == "arn:aws:states:::s3:getObject" {
                        // An ItemReader: serve the object the recording put into S3.
                        let body = case["setup_calls"]
                            .as_array()
                            .and_then(|calls| {
                                calls.iter().find(|c| {
                                    c["op"] == "put_object" && c["kwargs"]["Key"] == input["Key"]
                                })
                            })
                            .map(|c| c["kwargs"]["Body"].clone())
                            .ok_or("no such S3 object")?;
                        let event = Event::TaskSucceeded {
                            task_id,
                            output: body,
                        };
                        let d = exec.apply(&machine, event, &ctx);
                        history.extend(d.history);
                        pending.extend(d.commands);
                        continue;
                    }
                    let events = match replay(case, invocations) {
                        Some(events) => events,
                        None => lambda_mock(case, task_id, &resource, &kind, &input)?,
                    };
                    invocations += 1;
                    for event in events {
                        let event = match event {
                            Event::TaskStarted { worker_name, .. } => Event::TaskStarted {
                                task_id,
                                worker_name,
                            },
                            Event::TaskSubmitted { output, .. } => {
                                Event::TaskSubmitted { task_id, output }
                            }
                            Event::TaskSucceeded { output, .. } => {
                                Event::TaskSucceeded { task_id, output }
                            }
                            Event::TaskFailed { error, cause, .. } => Event::TaskFailed {
                                task_id,
                                error,
                                cause,
                            },
                            other => other,
                        };
                        let d = exec.apply(&machine, event, &ctx);
                        history.extend(d.history);
                        pending.extend(d.commands);
                    }
                }
                _ => {}
            }
        }
        if exec.status() != Status::Running {
            break;
        }
        timers.sort();
        if timers.is_empty() {
            return Err("stuck".into());
        }
        let (at, timer_id) = timers.remove(0);
        now = now.max(at);
        let d = exec.apply(
            &machine,
            Event::TimerFired { timer_id },
            &Context {
                now_ms: now,
                seed: 2,
            },
        );
        history.extend(d.history);
        pending = d.commands;
    }
    let expected = &case["expected"];
    let status = match exec.status() {
        Status::Succeeded => "SUCCEEDED",
        Status::Failed => "FAILED",
        Status::TimedOut => "TIMED_OUT",
        Status::Aborted => "ABORTED",
        Status::Running => "RUNNING",
    };
    if expected["status"] != status {
        return Err(format!(
            "status {status} != {} ({:?}: {:?})",
            expected["status"],
            exec.error(),
            exec.cause()
        ));
    }
    let Some(recorded) = case["history"].as_array() else {
        return Ok(());
    };
    let normalised = case["meta"]["history_parallel_normalised"] == Value::Bool(true);
    let input_text = case["input"].to_string();
    let fixtures = input_text.contains("<fixture")
        || input_text.contains("<stub")
        || input_text.contains("_0000");
    let mine: Vec<Value> = history.iter().map(|e| e.to_aws_json()).collect();
    if normalised {
        let mut r: Vec<&str> = recorded.iter().filter_map(|e| e["type"].as_str()).collect();
        let mut m: Vec<&str> = mine
            .iter()
            .filter_map(|e| e["type"].as_str())
            .filter(|t| *t != "ParallelStateSucceeded")
            .collect();
        r.sort_unstable();
        m.sort_unstable();
        return if r == m {
            Ok(())
        } else {
            Err(format!(
                "normalised history types differ\n   aws:  {r:?}\n   mine: {m:?}"
            ))
        };
    }
    if recorded.len() != mine.len() {
        let r: Vec<&str> = recorded.iter().filter_map(|e| e["type"].as_str()).collect();
        let m: Vec<&str> = mine.iter().filter_map(|e| e["type"].as_str()).collect();
        return Err(format!(
            "history length {} != {}\n   aws:  {r:?}\n   mine: {m:?}",
            recorded.len(),
            mine.len()
        ));
    }
    for (r, m) in recorded.iter().zip(&mine) {
        if r["type"] != m["type"] && !normalised {
            return Err(format!(
                "event {}: type {} != {}",
                r["id"], r["type"], m["type"]
            ));
        }
        if !normalised && (r["id"] != m["id"] || r["previousEventId"] != m["previousEventId"]) {
            return Err(format!(
                "event {} {}: prev {} != mine id {} prev {}",
                r["id"], r["type"], r["previousEventId"], m["id"], m["previousEventId"]
            ));
        }
        if normalised {
            continue;
        }
        let key = r
            .as_object()
            .and_then(|o| o.keys().find(|k| k.ends_with("EventDetails")).cloned());
        if let Some(key) = key {
            let (rd, md) = (&r[&key], &m[&key]);
            let Some(rd_obj) = rd.as_object() else {
                continue;
            };
            for (field, rv) in rd_obj {
                let (rv, mv) = match field.as_str() {
                    "input" | "output" | "parameters" => (decode(rv), decode(&md[field])),
                    "assignedVariables" => (decode_vars(rv), decode_vars(&md[field])),
                    _ => (rv.clone(), md[field].clone()),
                };
                let rv = &rv;
                if field == "cause" && rv.is_object() {
                    continue;
                }
                // Inputs built from fixtures were recorded with other placeholders than the
                // case's input holds: compare what follows from them, not the input itself.
                if fixtures && matches!(field.as_str(), "input" | "output" | "parameters") {
                    continue;
                }
                if !same(rv, &mv) {
                    return Err(format!(
                        "event {} {} field {field}: aws {rv} mine {mv}",
                        r["id"], r["type"]
                    ));
                }
            }
            if md.as_object().map_or(0, |o| o.len()) != rd_obj.len() {
                return Err(format!(
                    "event {} {}: details keys aws {:?} mine {:?}",
                    r["id"],
                    r["type"],
                    rd_obj.keys().collect::<Vec<_>>(),
                    md.as_object().map(|o| o.keys().collect::<Vec<_>>())
                ));
            }
        } else if m
            .as_object()
            .is_some_and(|o| o.keys().any(|k| k.ends_with("EventDetails")))
        {
            return Err(format!(
                "event {} {}: unexpected details {m}",
                r["id"], r["type"]
            ));
        }
    }
    Ok(())
}

/// A recorded JSON-text field as a value (the recording decoded objects already).
fn recorded_value(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| v.clone()),
        other => other.clone(),
    }
}

fn recorded_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// What AWS reported for the `n`-th task the recording scheduled: the events that followed
/// its `*Scheduled` event (a timeout is left to the decider's own timer).
fn replay(case: &Value, n: usize) -> Option<Vec<Event>> {
    let history = case["history"].as_array()?;
    if case["meta"]["history_parallel_normalised"] == Value::Bool(true) {
        return None;
    }
    let scheduled = history
        .iter()
        .filter(|e| {
            e["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("Scheduled") && !t.starts_with("Map"))
        })
        .nth(n)?;
    let mut at = scheduled["id"].clone();
    let mut events = Vec::new();
    while let Some(next) = history.iter().find(|e| e["previousEventId"] == at) {
        let t = next["type"].as_str().unwrap_or_default();
        let key = next
            .as_object()
            .and_then(|o| o.keys().find(|k| k.ends_with("EventDetails")).cloned());
        let d = key.map(|k| next[&k].clone()).unwrap_or(Value::Null);
        let dummy = 0;
        if t.ends_with("Started") && !t.starts_with("Map") && !t.starts_with("Parallel") {
            events.push(Event::TaskStarted {
                task_id: dummy,
                worker_name: d["workerName"].as_str().map(str::to_string),
            });
        } else if t == "TaskSubmitted" {
            events.push(Event::TaskSubmitted {
                task_id: dummy,
                output: recorded_value(&d["output"]),
            });
        } else if t.ends_with("Succeeded") && !t.starts_with("Execution") {
            events.push(Event::TaskSucceeded {
                task_id: dummy,
                output: recorded_value(&d["output"]),
            });
            break;
        } else if t.ends_with("Failed") && !t.starts_with("Execution") {
            events.push(Event::TaskFailed {
                task_id: dummy,
                error: recorded_text(&d["error"]),
                cause: recorded_text(&d["cause"]),
            });
            break;
        } else {
            break;
        }
        at = next["id"].clone();
    }
    Some(events)
}

fn lambda_mock(
    case: &Value,
    task_id: u64,
    resource: &str,
    kind: &cairn_interpreter::ResourceKind,
    input: &Value,
) -> Result<Vec<Event>, String> {
    let arn = match kind {
        cairn_interpreter::ResourceKind::LambdaFunction => resource.to_string(),
        cairn_interpreter::ResourceKind::Service {
            service, action, ..
        } if service == "lambda" && action == "invoke" => input["FunctionName"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        _ => return Err("needs a service".into()),
    };
    let payload = if matches!(kind, cairn_interpreter::ResourceKind::LambdaFunction) {
        input.clone()
    } else {
        input["Payload"].clone()
    };
    let functions = case["lambda_functions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let Some(f) = functions.iter().find(|f| {
        f["arn"] == arn.as_str()
            || f["name"] == arn.as_str()
            || arn.ends_with(&format!(":{}", f["name"].as_str().unwrap_or("?")))
    }) else {
        return Err(format!("unknown function {arn}"));
    };
    let result = match f["behaviour"].as_str() {
        Some("echo") | Some("sleep_then_echo") => Ok(payload),
        Some("return") => Ok(f["value"].clone()),
        Some("raise") => Err((
            f["errorType"].as_str().unwrap_or("Exception").to_string(),
            serde_json::json!({"errorMessage": f["errorMessage"], "errorType": f["errorType"]})
                .to_string(),
        )),
        Some("return_json_string_of_a") => Ok(Value::String(
            "a".repeat(f["bytes"].as_u64().unwrap_or(0) as usize),
        )),
        _ => return Err("unsupported lambda behaviour".into()),
    };
    let result = match (kind, result) {
        (cairn_interpreter::ResourceKind::Service { .. }, Ok(v)) => Ok(serde_json::json!({
            "ExecutedVersion": "$LATEST", "Payload": v, "SdkHttpMetadata": {}, "SdkResponseMetadata": {}, "StatusCode": 200
        })),
        (_, r) => r,
    };
    let end = match result {
        Ok(output) => Event::TaskSucceeded { task_id, output },
        Err((error, cause)) => Event::TaskFailed {
            task_id,
            error: Some(error),
            cause: Some(cause),
        },
    };
    Ok(vec![
        Event::TaskStarted {
            task_id,
            worker_name: None,
        },
        end,
    ])
}

#[test]
#[ignore = "developer tool: needs the team's conformance corpus"]
fn corpus_histories() {
    let dir = corpus_dir().join("executions");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "SKIPPED: the conformance corpus is not at {} (set CAIRN_CONFORMANCE_DIR)",
            dir.display()
        );
        return;
    };
    let filter = std::env::var("CASE").unwrap_or_default();
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    let (mut pass, mut fail) = (0, 0);
    let mut skipped: std::collections::BTreeMap<&str, usize> = Default::default();
    for path in files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        // Cases the CASE filter leaves out are not part of this run at all.
        if !name.contains(&filter) {
            continue;
        }
        let case = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok());
        let Some(case) = case else {
            fail += 1;
            println!("FAIL {name}: unreadable case file");
            continue;
        };
        let text_def = case["definition"].to_string();
        let skip = if case["definition"].is_null() {
            Some("the recording kept no definition")
        } else if case["history"].is_null()
            && case["needs_services"]
                .as_array()
                .is_some_and(|a| a.iter().any(|s| s != "lambda"))
        {
            Some("needs services other than Lambda and has no history to replay them from")
        } else if std::env::var("CAIRN_SKIP_JSONATA").is_ok() && text_def.contains("JSONata") {
            Some("JSONata (CAIRN_SKIP_JSONATA is set)")
        } else if case["expected"]["status"] == "START_REJECTED" {
            Some("StartExecution was rejected (an API check)")
        } else {
            None
        };
        if let Some(reason) = skip {
            *skipped.entry(reason).or_default() += 1;
            continue;
        }
        match run_case(&case) {
            Ok(()) => pass += 1,
            Err(e) => {
                fail += 1;
                println!("FAIL {name}: {e}");
            }
        }
    }
    println!(
        "corpus: {pass} passed, {fail} failed, {} skipped",
        skipped.values().sum::<usize>()
    );
    for (reason, count) in &skipped {
        println!("  skipped {count:4}: {reason}");
    }
}

/// Every definition the corpus holds, valid or not (AWS rejected the `api_errors` ones),
/// must load or be refused with an error, and run on a few inputs without panicking.
#[test]
#[ignore = "developer tool: needs the team's conformance corpus"]
fn corpus_definitions_never_panic() {
    let mut seen = 0;
    for folder in ["executions", "api_errors", "test_state"] {
        let Ok(entries) = std::fs::read_dir(corpus_dir().join(folder)) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            let Ok(case) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let definition = match (&case["definition"], case["request"]["definition"].as_str()) {
                (Value::Null, Some(raw)) => serde_json::from_str(raw).unwrap_or(Value::Null),
                (d, _) => d.clone(),
            };
            let Ok(machine) = Machine::from_json(&definition) else {
                continue;
            };
            seen += 1;
            for input in [
                serde_json::json!({}),
                serde_json::json!([1, "a", null]),
                case["input"].clone(),
            ] {
                let ctx = Context { now_ms: 0, seed: 9 };
                let (mut exec, mut d) =
                    Execution::start(&machine, input, ExecutionInfo::default(), &ctx);
                for _ in 0..50 {
                    let Some(event) = d.commands.iter().find_map(|c| match c {
                        Command::InvokeTask { task_id, .. } => Some(Event::TaskSucceeded {
                            task_id: *task_id,
                            output: serde_json::json!({"ok": 1}),
                        }),
                        Command::StartTimer { timer_id, .. } => Some(Event::TimerFired {
                            timer_id: *timer_id,
                        }),
                        _ => None,
                    }) else {
                        break;
                    };
                    d = exec.apply(&machine, event, &ctx);
                }
            }
        }
    }
    println!("ran {seen} definitions");
}
