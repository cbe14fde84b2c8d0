//! The recorded executions of the AWS conformance corpus that call AWS services other than
//! Lambda, run through the run loop with the integrations pointed at the emulators (LocalStack
//! for SNS, SQS, EventBridge and Step Functions; moto for S3 and Secrets Manager; DynamoDB Local
//! for DynamoDB), and judged as `executions.rs` judges the self-contained ones.
//!
//! Each recording names the resources it was run against by placeholders
//! (`<fixture:sqs_create_queue>`, `<stub:fixture:sns_create_topic()['TopicArn']>`), by the
//! fixture's table names (`sfn_test_table_…`) and by the child state machines it starts, and
//! lists the calls its test made around the execution (`setup_calls`). What to create is read
//! from those, never from a case's name: the resources are made fresh (the emulators outlive
//! a run) and their real names replace the placeholders in the input. Lambda tasks run
//! against the scripted functions of `executions.rs`.
//!
//! An execution that waits on others (a `.waitForTaskToken` callback, an activity, a `.sync`
//! child) runs in Cairn's own API instead (in-memory store, the corpus's account), where the
//! recording's outside world is played from its history: each callback token and activity
//! task is answered as the recorded worker answered it (success with its output, failure with
//! its error and cause, or silence until the timeout), and each child state machine, whose
//! definition was not recorded, is a stand-in that ends as the recorded child ended.
//!
//! The emulators answer with their own account and URLs where AWS answered with the
//! recording's; before comparing, those are written back as the recording wrote them (the
//! account as `111111111111`, a resource's real name as the word the recording replaced it
//! with), the same normalisation the recordings went through.
//!
//! `tests/known-failures/services.txt` lists the cases that do not pass yet, with the reason:
//! `cairn bug: …` for Cairn's integrations, `moto: …` / `DynamoDB Local: …` where that emulator
//! answers otherwise than AWS.
//! They count as failed in the tally; a listed case that passes, or an unlisted case that
//! fails, fails this test (`CAIRN_UPDATE_KNOWN_FAILURES=1` rewrites the list).
//!
//! Without the emulators (`CAIRN_TEST_MOTO`, `CAIRN_TEST_DYNAMODB`, `CAIRN_TEST_LOCALSTACK`) the
//! test says so and passes, unless `CAIRN_REQUIRE_EMULATORS=1`, where that is a failure.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cairn_api::{Api, Config};
use cairn_conformance::corpus::{self, Case};
use cairn_conformance::known::{KnownFailures, Tally};
use cairn_conformance::replay::{
    compare, corpus_lambda, playable_functions, run_options, with_time_limit, Observed, Verdict,
};
use cairn_integrations::{Integrations, Settings};
use cairn_interpreter::{IntegrationPattern, Machine, ResourceKind};
use cairn_runtime::{run_to_completion, TaskInvoker, TaskOutcome, TaskRequest, Unsupported};
use cairn_store::MemoryStore;
use cairn_test_support::Emulators;
use serde_json::{json, Map, Value};

/// A case waits on real services; a minute is far more than any needs.
const CASE_TIME_LIMIT: Duration = Duration::from_secs(60);

/// The account the recordings show (they were normalised to it), the one moto answers with,
/// and LocalStack's (its default, for the access key `test`).
const RECORDED_ACCOUNT: &str = "111111111111";
const MOTO_ACCOUNT: &str = "123456789012";
const LOCALSTACK_ACCOUNT: &str = "000000000000";

/// The integrations' services (their `service_endpoints` keys) whose cases run against
/// LocalStack: where moto answers otherwise than AWS, LocalStack answers as AWS does (an unknown
/// task token is `Sfn.InvalidTokenException`, a Detail that is not a JSON object fails the
/// entry with `MalformedDetail`, Publish to a deleted topic is NotFound 'Topic does not
/// exist', Secrets Manager refuses an invalid name). SQS goes with SNS, so that a topic's SQS
/// subscription reaches its queue in the same emulator. S3 stays with moto, DynamoDB with
/// DynamoDB Local.
const LOCALSTACK_SERVICES: &[&str] = &["SNS", "SQS", "EVENTBRIDGE", "SFN", "SECRETS_MANAGER"];

/// Which emulator serves one of the integrations' services (`SQS`, `SNS`, ...).
fn endpoint<'a>(emulators: &'a Emulators, service: &str) -> &'a str {
    match &emulators.localstack {
        Some(localstack) if LOCALSTACK_SERVICES.contains(&service) => localstack,
        _ => &emulators.moto,
    }
}

/// The shared emulator settings with the LocalStack services routed there.
fn settings(emulators: &Emulators) -> Settings {
    let mut settings = emulators.settings();
    for service in LOCALSTACK_SERVICES {
        settings
            .service_endpoints
            .insert(service.to_string(), endpoint(emulators, service).to_owned());
    }
    settings
}

/// The official clients that create the fixtures, on their own runtime.
struct Sdk {
    runtime: tokio::runtime::Runtime,
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
    dynamodb: aws_sdk_dynamodb::Client,
}

impl Sdk {
    fn new(emulators: &Emulators) -> Sdk {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the SDK clients");
        let config = |endpoint: &str| runtime.block_on(cairn_test_support::sdk_config(endpoint));
        Sdk {
            sqs: aws_sdk_sqs::Client::new(&config(endpoint(emulators, "SQS"))),
            sns: aws_sdk_sns::Client::new(&config(endpoint(emulators, "SNS"))),
            dynamodb: aws_sdk_dynamodb::Client::new(&config(&emulators.dynamodb)),
            runtime,
        }
    }
}

/// A name no earlier run left behind: the emulators outlive the tests.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

#[test]
fn service_executions_match_aws_recordings() {
    let Some(emulators) = cairn_test_support::emulators_with_localstack() else {
        return;
    };
    let Some(dir) = corpus::locate() else {
        eprintln!(
            "SKIPPED: the conformance corpus is not on this machine (set CAIRN_CONFORMANCE_DIR)"
        );
        return;
    };
    let cases: Vec<Case> = corpus::load(&dir, "executions")
        .expect("the corpus is readable")
        .into_iter()
        .filter(|case| !services(&case.json).is_empty())
        .collect();
    let known = KnownFailures::read("services.txt").expect("the known-failures list is valid");
    let sdk = Arc::new(Sdk::new(&emulators));

    // CAIRN_CASE=<part of a file stem> runs only the matching cases and shows every problem.
    if let Ok(filter) = std::env::var("CAIRN_CASE") {
        for case in cases.iter().filter(|c| c.key.contains(&filter)) {
            let verdict = judge_with_time_limit(case, &emulators, &sdk);
            println!("{}: {:?}", case.key, verdict.outcome);
        }
        return;
    }

    let started = Instant::now();
    let verdicts: Vec<(&Case, Verdict)> = cases
        .iter()
        .map(|case| (case, judge_with_time_limit(case, &emulators, &sdk)))
        .collect();
    let elapsed = started.elapsed();

    println!("\n== AWS conformance: executions that call services, against the emulators ({elapsed:.1?}) ==");
    let mut by_service: BTreeMap<String, Vec<(&Case, &Verdict)>> = BTreeMap::new();
    for (case, verdict) in &verdicts {
        for service in services(&case.json) {
            by_service.entry(service).or_default().push((case, verdict));
        }
    }
    // A case that calls two services counts under each; the total below counts it once.
    for (service, entries) in &by_service {
        let keys: BTreeSet<&str> = entries.iter().map(|(case, _)| case.key.as_str()).collect();
        let mut tally = Tally::new(service.as_str(), known.only(|key| keys.contains(key)));
        for (case, verdict) in entries {
            tally.record(&case.key, verdict.outcome.clone());
        }
        print!("{}", tally.report());
    }
    let mut total = Tally::new("all service cases", known);
    for (case, verdict) in &verdicts {
        total.record(&case.key, verdict.outcome.clone());
    }
    let ran = total.passed() + total.failed();
    if ran > 0 {
        println!(
            "matching AWS: {} of {ran} run ({:.0} %)",
            total.passed(),
            100.0 * total.passed() as f64 / ran as f64
        );
    }
    total.finish(
        "# Service cases of the AWS corpus that Cairn does not pass yet against the emulators\n\
         # (file stem # reason: `cairn bug: …` for Cairn, `moto: …` / `LocalStack: …` / `DynamoDB Local: …`\n\
         # where that emulator differs from AWS, `not reproducible: …` where the recording lacks what it ran\n\
         # against, `recording …` where AWS has changed since it was recorded).\n\
         # Generated by CAIRN_UPDATE_KNOWN_FAILURES=1 cargo test -p cairn-conformance --test services\n",
    );
}

/// The services a case needs beyond the scripted Lambda functions (empty: not this replay's).
fn services(case: &Value) -> Vec<String> {
    case.get("needs_services")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|service| *service != "lambda")
        .map(str::to_owned)
        .collect()
}

fn judge_with_time_limit(case: &Case, emulators: &Emulators, sdk: &Arc<Sdk>) -> Verdict {
    let json = case.json.clone();
    let emulators = emulators.clone();
    let sdk = Arc::clone(sdk);
    with_time_limit(&case.key, CASE_TIME_LIMIT, move || {
        judge(&json, &emulators, &sdk)
    })
}

/// Every `Resource` of a definition, nested states included.
fn resources(definition: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![definition];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(fields) => {
                if let Some(resource) = fields.get("Resource").and_then(Value::as_str) {
                    found.push(resource.to_owned());
                }
                stack.extend(fields.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    found
}

/// Why a recording cannot be replayed, decided from the recording alone before anything
/// runs, so a skip never hides a failure.
fn unplayable(case: &Value) -> Option<String> {
    let status = case.pointer("/expected/status").and_then(Value::as_str);
    (status == Some("START_REJECTED"))
        .then(|| "StartExecution was rejected (an API check, not an execution)".into())
}

/// Whether an execution waits on something from outside (a task token's answer, an activity
/// worker, a `.sync` child): the run loop has no way in for those, Cairn's own API has.
fn waits_on_others(definition: &Value) -> bool {
    resources(definition).iter().any(|r| {
        r.contains(":activity:")
            || r.ends_with(".waitForTaskToken")
            || r.ends_with(".sync")
            || r.ends_with(".sync:2")
    })
}

fn judge(case: &Value, emulators: &Emulators, sdk: &Sdk) -> Verdict {
    let Some(definition) = case.get("definition").filter(|d| !d.is_null()) else {
        return Verdict::skipped("no definition recorded");
    };
    if let Some(reason) = unplayable(case) {
        return Verdict::skipped(reason);
    }
    let functions = playable_functions(case);
    let lambda = match corpus_lambda(&functions) {
        Ok(functions) => functions,
        Err(err) => return Verdict::skipped(format!("lambda functions not playable: {err}")),
    };
    let integrations = match Integrations::new(settings(emulators), Arc::new(Unsupported)) {
        Ok(integrations) => integrations.with_lambda_stand_in(Arc::new(lambda)),
        Err(err) => return Verdict::failed(format!("the integrations did not start: {err}")),
    };
    let local = waits_on_others(definition).then(|| Local::start(case, &integrations));
    let mut fixtures = Fixtures::new(sdk, &integrations, local.as_ref());
    let recorded_input = case.get("input").cloned().unwrap_or(Value::Null);
    let (input, definition) = match fixtures.prepare(case, &recorded_input, definition) {
        Ok(prepared) => prepared,
        Err(Setup::Unknown(why)) => return Verdict::skipped(why),
        Err(Setup::Failed(why)) => return Verdict::failed(format!("setup: {why}")),
    };
    let observed = match &local {
        Some(local) => match local.run(case, &definition, &input) {
            Ok(observed) => observed,
            Err(why) => return Verdict::failed(why),
        },
        None => {
            let machine = match Machine::from_json(&definition) {
                Ok(machine) => machine,
                Err(err) => return Verdict::failed(format!("definition did not load: {err}")),
            };
            match run_to_completion(
                &machine,
                input.clone(),
                Arc::new(integrations.clone()),
                &run_options(case),
            ) {
                Ok(run) => Observed::of_run(&run),
                Err(err) => return Verdict::failed(format!("run failed: {err}")),
            }
        }
    };
    let words = recorded_words(case, &recorded_input, &input);
    let observed = normalised(observed, &words);
    let expected = case.get("expected").cloned().unwrap_or(Value::Null);
    let (expected, observed) = unverified_removed(case, expected, observed);
    let case = with_recorder_words_free(case);
    compare(&case, &with_recorder_words_free(&expected), &observed)
}

/// Words the recording tool wrote over values it could not name otherwise (a task token, a
/// message id), wherever they were: each stands for any value, as an unnumbered placeholder.
const RECORDER_WORDS: &[&str] = &["a_task_token", "a_message_id"];

fn with_recorder_words_free(value: &Value) -> Value {
    match value {
        Value::String(text) if RECORDER_WORDS.contains(&text.as_str()) => {
            Value::String(format!("<{text}>"))
        }
        Value::Array(items) => Value::Array(items.iter().map(with_recorder_words_free).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), with_recorder_words_free(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// How the recording's outside world answered a task that waited on it: a callback's
/// SendTaskSuccess/SendTaskFailure, an activity worker's, or nothing (the task timed out).
#[derive(Debug, Clone)]
enum Answer {
    Success(Value),
    Failure {
        error: Option<String>,
        cause: Option<String>,
    },
    Silence,
}

impl Answer {
    /// The answer an outcome event of the recorded history shows.
    fn of_event(event: &Value) -> Option<Answer> {
        let kind = event.get("type").and_then(Value::as_str)?;
        let details = event
            .as_object()?
            .iter()
            .find(|(k, _)| k.ends_with("EventDetails"))
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null);
        let text = |key: &str| {
            details.get(key).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        };
        if kind.ends_with("Succeeded") {
            Some(Answer::Success(
                details.get("output").cloned().unwrap_or(json!({})),
            ))
        } else if kind.ends_with("Failed") {
            Some(Answer::Failure {
                error: text("error"),
                cause: text("cause"),
            })
        } else if kind.ends_with("TimedOut") {
            Some(Answer::Silence)
        } else {
            None
        }
    }

    /// Sends the answer for `token` through the API.
    fn send(&self, api: &Api, token: &str) {
        let request = match self {
            Answer::Success(output) => {
                let output = with_token(output, token);
                // The history holds JSON text that is no object as the text itself.
                let text = match &output {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                (
                    "SendTaskSuccess",
                    json!({"taskToken": token, "output": text}),
                )
            }
            Answer::Failure { error, cause } => {
                let mut request = json!({"taskToken": token});
                if let Some(error) = error {
                    request["error"] = json!(error);
                }
                if let Some(cause) = cause {
                    request["cause"] = json!(cause);
                }
                ("SendTaskFailure", request)
            }
            Answer::Silence => return,
        };
        // An execution that ended meanwhile no longer takes the answer; the comparison says so.
        let _ = api.handle(request.0, request.1);
    }
}

/// The recorded answers to the callback tasks, in the order their tasks were submitted.
fn callback_answers(case: &Value) -> VecDeque<Answer> {
    let mut answers = VecDeque::new();
    let mut waiting = 0usize;
    for event in case
        .get("history")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
        let callback = event
            .as_object()
            .into_iter()
            .flat_map(|fields| fields.values())
            .filter_map(|details| details.get("resource").and_then(Value::as_str))
            .any(|resource| resource.ends_with(".waitForTaskToken"));
        if !callback || !kind.starts_with("Task") {
            continue;
        }
        if kind == "TaskSubmitted" {
            waiting += 1;
        } else if waiting > 0 {
            if let Some(answer) = Answer::of_event(event) {
                waiting -= 1;
                answers.push_back(answer);
            }
        }
    }
    answers
}

/// The recorded activity workers' answers, in order, with the worker name each gave.
fn activity_answers(case: &Value) -> VecDeque<(Option<String>, Answer)> {
    let mut answers = VecDeque::new();
    let mut worker = None;
    for event in case
        .get("history")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match event.get("type").and_then(Value::as_str).unwrap_or("") {
            "ActivityStarted" => {
                worker = event
                    .pointer("/activityStartedEventDetails/workerName")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            }
            kind if kind.starts_with("Activity") && kind != "ActivityScheduled" => {
                if let Some(answer) = Answer::of_event(event) {
                    answers.push_back((worker.take(), answer));
                }
            }
            _ => {}
        }
    }
    answers
}

/// The recording's task-token placeholders (`<task_token:1>`, `a_task_token`) in an answer
/// replaced by the real token: the recorded worker echoed the token it was given.
fn with_token(value: &Value, token: &str) -> Value {
    match value {
        Value::String(text) if text.starts_with("<task_token") || text == "a_task_token" => {
            Value::String(token.to_owned())
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| with_token(v, token)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), with_token(v, token)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Cairn's own Step Functions API over an in-memory store, in the corpus's account, for the
/// executions that wait on others: the integrations start `.sync` children here, and the
/// recording's callback workers and activity workers answer through it.
struct Local {
    api: Api,
    worker: Arc<CallbackWorker>,
}

/// The integrations, with a stand-in worker that answers each callback task's token as the
/// recording's worker did once the task's call has gone out.
struct CallbackWorker {
    integrations: Integrations,
    answers: Mutex<VecDeque<Answer>>,
    /// How many answers have been handed out: the n-th waits for the n-th TaskSubmitted.
    handed: AtomicUsize,
    api: OnceLock<Api>,
    execution: OnceLock<String>,
}

impl TaskInvoker for CallbackWorker {
    fn invoke(&self, request: &TaskRequest) -> TaskOutcome {
        let outcome = self.integrations.invoke(request);
        let callback = request.resource.ends_with(".waitForTaskToken");
        if let (true, Ok(_), Some(token), Some(api)) = (
            callback,
            &outcome.result,
            &request.task_token,
            self.api.get(),
        ) {
            let answer = self
                .answers
                .lock()
                .ok()
                .and_then(|mut answers| answers.pop_front());
            if let Some(answer) = answer {
                let (api, token) = (api.clone(), token.clone());
                let execution = self.execution.get().cloned().unwrap_or_default();
                let position = self.handed.fetch_add(1, Ordering::Relaxed);
                // After the call's own answer is in the history, as a worker reading the
                // message would be.
                std::thread::spawn(move || {
                    let deadline = Instant::now() + Duration::from_secs(5);
                    while submitted(&api, &execution) <= position && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    answer.send(&api, &token);
                });
            }
        }
        outcome
    }
}

/// How many TaskSubmitted events an execution's history holds.
fn submitted(api: &Api, execution: &str) -> usize {
    api.handle(
        "GetExecutionHistory",
        json!({"executionArn": execution, "maxResults": 1000}),
    )
    .ok()
    .and_then(|history| history["events"].as_array().cloned())
    .unwrap_or_default()
    .iter()
    .filter(|event| event["type"] == "TaskSubmitted")
    .count()
}

const LOCAL_ROLE: &str = "arn:aws:iam::111111111111:role/cairn-conformance";

impl Local {
    fn start(case: &Value, integrations: &Integrations) -> Local {
        let worker = Arc::new(CallbackWorker {
            integrations: integrations.clone(),
            answers: Mutex::new(callback_answers(case)),
            handed: AtomicUsize::new(0),
            api: OnceLock::new(),
            execution: OnceLock::new(),
        });
        let config = Config {
            region: "us-east-1".into(),
            account: RECORDED_ACCOUNT.into(),
            activity_poll: Duration::from_secs(1),
            invoker: worker.clone(),
            workers: 2,
            ..Config::default()
        };
        let api = Api::new(Arc::new(MemoryStore::new()), config);
        let _ = worker.api.set(api.clone());
        integrations.with_step_functions(Arc::new(api.clone()), true);
        Local { api, worker }
    }

    fn call(&self, action: &str, request: Value) -> Result<Value, String> {
        self.api
            .handle(action, request)
            .map_err(|e| format!("{action}: {e}"))
    }

    /// A child state machine the recording started, made here under its recorded name (so
    /// its ARN is the recorded one). Its definition was not recorded: a stand-in ends as the
    /// recording shows the child ended (its `Output`, or its `Error` and `Cause`).
    fn make_child(&self, case: &Value, arn: &str) -> Result<(), String> {
        let name = arn.rsplit(':').next().unwrap_or_default();
        let definition = child_stand_in(case);
        self.call(
            "CreateStateMachine",
            json!({"name": name, "definition": definition.to_string(), "roleArn": LOCAL_ROLE}),
        )
        .map(|_| ())
    }

    /// Runs the execution to its end with the recording's workers answering, and reads it
    /// back as the API shows it.
    fn run(&self, case: &Value, definition: &Value, input: &Value) -> Result<Observed, String> {
        for resource in resources(definition) {
            if resource.contains(":activity:") {
                let name = resource.rsplit(':').next().unwrap_or_default();
                self.call("CreateActivity", json!({"name": name}))?;
            }
        }
        let express = case.get("state_machine_type").and_then(Value::as_str) == Some("EXPRESS");
        let machine = self.call(
            "CreateStateMachine",
            json!({
                "name": unique("cairn-conf-machine"),
                "definition": definition.to_string(),
                "roleArn": LOCAL_ROLE,
                "type": if express { "EXPRESS" } else { "STANDARD" },
            }),
        )?;
        let machine = machine["stateMachineArn"].as_str().unwrap_or_default();
        // The execution's name is chosen here, so the callback worker knows where to look
        // even for a task the first decision starts.
        let name = unique("cairn-conf-execution");
        let execution = format!(
            "{}:{name}",
            machine.replacen(":stateMachine:", ":execution:", 1)
        );
        let _ = self.worker.execution.set(execution.clone());
        let started = self.call(
            "StartExecution",
            json!({"stateMachineArn": machine, "input": input.to_string(), "name": name}),
        )?;
        if started["executionArn"] != execution.as_str() {
            return Err(format!("StartExecution answered {started}"));
        }
        self.play_activity_workers(case, definition);
        let deadline = Instant::now() + CASE_TIME_LIMIT - Duration::from_secs(5);
        let description = loop {
            let description = self.call("DescribeExecution", json!({"executionArn": execution}))?;
            if description["status"] != "RUNNING" {
                break description;
            }
            if Instant::now() > deadline {
                return Err("the execution did not end".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let history = self.call(
            "GetExecutionHistory",
            json!({"executionArn": execution, "maxResults": 1000}),
        )?;
        let text = |key: &str| {
            description
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Ok(Observed {
            status: text("status").unwrap_or_default(),
            output: text("output").map(|o| serde_json::from_str(&o).unwrap_or(Value::String(o))),
            error: text("error"),
            cause: text("cause"),
            history: history["events"].as_array().cloned().unwrap_or_default(),
        })
    }

    /// The recording's activity workers: each polls, under the name it gave, and answers as
    /// it did.
    fn play_activity_workers(&self, case: &Value, definition: &Value) {
        let activities: Vec<String> = resources(definition)
            .into_iter()
            .filter(|r| r.contains(":activity:"))
            .collect();
        let Some(activity) = activities.first().cloned() else {
            return;
        };
        let answers = activity_answers(case);
        let api = self.api.clone();
        std::thread::spawn(move || {
            for (worker, answer) in answers {
                let mut poll = json!({"activityArn": activity});
                if let Some(worker) = &worker {
                    poll["workerName"] = json!(worker);
                }
                let deadline = Instant::now() + CASE_TIME_LIMIT;
                let token = loop {
                    match api.handle("GetActivityTask", poll.clone()) {
                        Ok(task) => {
                            if let Some(token) = task.get("taskToken").and_then(Value::as_str) {
                                break Some(token.to_owned());
                            }
                        }
                        Err(_) => break None,
                    }
                    if Instant::now() > deadline {
                        break None;
                    }
                };
                match token {
                    Some(token) => answer.send(&api, &token),
                    None => return,
                }
            }
        });
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        self.api.shutdown();
    }
}

/// A child state machine that ends as the recording shows its child ended.
fn child_stand_in(case: &Value) -> Value {
    let outcome = case
        .get("history")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|event| {
            event
                .as_object()
                .into_iter()
                .flat_map(|fields| fields.values())
                .filter_map(|details| details.get("resource").and_then(Value::as_str))
                .any(|resource| resource.starts_with("startExecution.sync"))
        })
        .find_map(|event| match Answer::of_event(event)? {
            Answer::Success(output) => Some(Answer::Success(output)),
            Answer::Failure { cause, .. } => {
                let described: Value = cause
                    .as_deref()
                    .and_then(|c| serde_json::from_str(c).ok())
                    .unwrap_or(Value::Null);
                let field = |key: &str| {
                    described
                        .get(key)
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                Some(Answer::Failure {
                    error: field("Error"),
                    cause: field("Cause"),
                })
            }
            Answer::Silence => None,
        });
    let decoded = |value: &Value| match value {
        Value::String(text) => serde_json::from_str(text).unwrap_or_else(|_| value.clone()),
        other => other.clone(),
    };
    match outcome {
        Some(Answer::Success(output)) => {
            // A .sync task's result is the child's description; its `Output` is the child's.
            let result = match output.get("Output") {
                Some(child) => decoded(child),
                None => decoded(&output),
            };
            json!({"StartAt": "End", "States": {"End": {"Type": "Pass", "Result": result, "End": true}}})
        }
        Some(Answer::Failure { error, cause }) => {
            let mut fail = json!({"Type": "Fail"});
            if let Some(error) = error {
                fail["Error"] = json!(error);
            }
            if let Some(cause) = cause {
                fail["Cause"] = json!(cause);
            }
            json!({"StartAt": "End", "States": {"End": fail}})
        }
        _ => json!({"StartAt": "End", "States": {"End": {"Type": "Pass", "End": true}}}),
    }
}

/// The execution's own `error`, `cause` or `output` left out on both sides where the
/// recording tool skipped them (`$..cause`): the history's copies are skipped by the
/// matcher, and these are the same values. `CAIRN_STRICT=1` keeps them.
fn unverified_removed(
    case: &Value,
    mut expected: Value,
    mut observed: Observed,
) -> (Value, Observed) {
    if std::env::var_os("CAIRN_STRICT").is_some() {
        return (expected, observed);
    }
    let skipped: Vec<&str> = case
        .pointer("/meta/snapshot_skip_verify_paths")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|path| path.strip_prefix("$.."))
        .collect();
    for field in skipped {
        match field {
            "error" => observed.error = None,
            "cause" => observed.cause = None,
            "output" => observed.output = None,
            _ => continue,
        }
        if let Some(fields) = expected.as_object_mut() {
            fields.remove(field);
        }
    }
    (expected, observed)
}

/// Why a case's resources could not be set up: a fixture this harness does not know (the
/// case is skipped) or a call that failed (the case fails).
enum Setup {
    Unknown(String),
    Failed(String),
}

/// The resources of one case: each fixture is created once, on first mention.
struct Fixtures<'a> {
    sdk: &'a Sdk,
    integrations: &'a Integrations,
    /// Cairn's own API, where the execution runs when it waits on others.
    local: Option<&'a Local>,
    /// Fixture name (`sqs_create_queue`) -> what creating it returned.
    made: BTreeMap<String, Value>,
    /// `service.op` of a setup call -> its answer, for the placeholders that quote it.
    answers: BTreeMap<String, Value>,
    /// Table names the recording used -> the fresh ones made for this run.
    tables: BTreeMap<String, String>,
    /// State machine ARNs the recording started -> the ones made for this run.
    machines: BTreeMap<String, String>,
}

impl<'a> Fixtures<'a> {
    fn new(sdk: &'a Sdk, integrations: &'a Integrations, local: Option<&'a Local>) -> Fixtures<'a> {
        Fixtures {
            sdk,
            integrations,
            local,
            made: BTreeMap::new(),
            answers: BTreeMap::new(),
            tables: BTreeMap::new(),
            machines: BTreeMap::new(),
        }
    }

    /// Creates what the recording's input and setup calls name, plays the setup calls that
    /// change something, and returns the input and the definition with the real names in
    /// place.
    fn prepare(
        &mut self,
        case: &Value,
        input: &Value,
        definition: &Value,
    ) -> Result<(Value, Value), Setup> {
        let calls: Vec<Value> = case
            .get("setup_calls")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        // Calls that only look (get_*, receive_*) were the test reading results after the
        // execution; they are played only when a later placeholder quotes their answer.
        let quoted: BTreeSet<String> = placeholders(&Value::Array(calls.clone()))
            .into_iter()
            .chain(placeholders(input))
            .filter_map(|p| quoted_call(&p).map(|(call, _)| call))
            .collect();
        for call in &calls {
            let service = call.get("service").and_then(Value::as_str).unwrap_or("");
            let op = call.get("op").and_then(Value::as_str).unwrap_or("");
            let key = format!("{service}.{op}");
            if looks_only(op) && !quoted.contains(&key) {
                continue;
            }
            let kwargs = self.substitute(call.get("kwargs").unwrap_or(&Value::Null))?;
            let answer = self
                .sdk_call(service, &camel(op), &kwargs)
                .map_err(|why| Setup::Failed(format!("{key}: {why}")))?;
            self.answers.insert(key, answer);
        }
        let input = self.substitute(input)?;
        self.make_tables(&input)?;
        let input = replace_strings(&input, &self.tables);
        self.make_machines(case, &input)?;
        self.make_machines(case, definition)?;
        Ok((
            replace_strings(&input, &self.machines),
            replace_strings(definition, &self.machines),
        ))
    }

    /// `value` with every placeholder replaced by what it stands for, creating fixtures.
    fn substitute(&mut self, value: &Value) -> Result<Value, Setup> {
        let mut values = BTreeMap::new();
        for placeholder in placeholders(value) {
            let real = self.resolve(&placeholder)?;
            values.insert(format!("<{placeholder}>"), real);
        }
        Ok(replace_strings(value, &values))
    }

    fn resolve(&mut self, placeholder: &str) -> Result<String, Setup> {
        let text = placeholder.strip_prefix("stub:").unwrap_or(placeholder);
        let (value, path) = if let Some(fixture) = text.strip_prefix("fixture:") {
            let name_end = fixture.find(['(', '[']).unwrap_or(fixture.len());
            let name = &fixture[..name_end];
            let path = fixture[name_end..].trim_start_matches("()");
            if !self.made.contains_key(name) {
                let made = self.make(name)?;
                self.made.insert(name.to_owned(), made);
            }
            (self.made[name].clone(), path)
        } else if let Some((call, path)) = quoted_call(text) {
            let Some(answer) = self.answers.get(&call) else {
                return Err(Setup::Unknown(format!(
                    "placeholder quotes a call the recording did not list before it: <{placeholder}>"
                )));
            };
            (answer.clone(), &text[text.len() - path.len()..])
        } else {
            return Err(Setup::Unknown(format!(
                "unknown placeholder <{placeholder}>"
            )));
        };
        let value = index(&value, path)
            .ok_or_else(|| Setup::Failed(format!("<{placeholder}>: {path} is not in {value}")))?;
        Ok(match value {
            Value::String(text) => text,
            other => other.to_string(),
        })
    }

    /// Creates one of the fixtures of LocalStack's Step Functions tests, by its name.
    fn make(&mut self, fixture: &str) -> Result<Value, Setup> {
        let failed = |what: &str, err: &dyn std::fmt::Display| {
            Setup::Failed(format!("{fixture}: {what}: {err}"))
        };
        match fixture {
            // A queue; EventBridge's is the target the recording's rule fed.
            "sqs_create_queue" | "events_to_sqs_queue" => {
                let name = unique("cairn-conf-queue");
                let answer = self
                    .sdk
                    .runtime
                    .block_on(self.sdk.sqs.create_queue().queue_name(&name).send())
                    .map_err(|e| {
                        failed("CreateQueue", &aws_sdk_sqs::error::DisplayErrorContext(e))
                    })?;
                Ok(json!(answer.queue_url().unwrap_or_default()))
            }
            "sns_create_topic" => {
                let name = unique("cairn-conf-topic");
                let answer = self
                    .sdk
                    .runtime
                    .block_on(self.sdk.sns.create_topic().name(&name).send())
                    .map_err(|e| {
                        failed("CreateTopic", &aws_sdk_sns::error::DisplayErrorContext(e))
                    })?;
                Ok(json!({"TopicArn": answer.topic_arn().unwrap_or_default()}))
            }
            // S3 has no official client here: the integrations' own aws-sdk:s3 path creates it.
            "s3_create_bucket" => {
                let name = unique("cairn-conf-bucket");
                self.sdk_call("s3", "createBucket", &json!({"Bucket": name}))
                    .map_err(|e| failed("CreateBucket", &e))?;
                // AWS encrypts every new bucket's objects with SSE-S3 (since January 2023);
                // an emulator's bucket says so only when told.
                let encryption = json!({
                    "Bucket": name,
                    "ServerSideEncryptionConfiguration": {"Rules": [
                        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                    ]}
                });
                self.sdk_call("s3", "putBucketEncryption", &encryption)
                    .map_err(|e| failed("PutBucketEncryption", &e))?;
                Ok(json!(name))
            }
            // The role a task's `Credentials` assume: the emulators check no IAM policy, so
            // naming it is all there is to make.
            "create_cross_account_admin_role_and_policy" => Ok(json!(format!(
                "arn:aws:iam::{RECORDED_ACCOUNT}:role/{}",
                unique("cairn-conf-role")
            ))),
            other => Err(Setup::Unknown(format!("fixture not made here: {other}"))),
        }
    }

    /// The fixture's tables (`sfn_test_table_…`) named by the input, keyed as its `Key`
    /// shows (the recordings' tables are keyed by `id`, a string, when no `Key` says).
    /// Names meant not to exist (`no_such_…`, `/invalid_…`) are not the fixture's, and stay.
    fn make_tables(&mut self, input: &Value) -> Result<(), Setup> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        let names: BTreeSet<String> = strings_under(input, "TableName")
            .into_iter()
            .filter(|name| name.starts_with("sfn_test_table_"))
            .collect();
        let mut keys: Vec<(String, String)> = input
            .get("Key")
            .and_then(Value::as_object)
            .map(|key| {
                key.iter()
                    .map(|(name, value)| {
                        let kind = value
                            .as_object()
                            .and_then(|v| v.keys().next().cloned())
                            .unwrap_or_else(|| "S".into());
                        (name.clone(), kind)
                    })
                    .collect()
            })
            .unwrap_or_default();
        if keys.is_empty() {
            keys.push(("id".into(), "S".into()));
        }
        for recorded in names {
            let name = unique(&recorded);
            let mut request = self
                .sdk
                .dynamodb
                .create_table()
                .table_name(&name)
                .billing_mode(BillingMode::PayPerRequest);
            for (position, (attribute, kind)) in keys.iter().enumerate() {
                let role = if position == 0 {
                    KeyType::Hash
                } else {
                    KeyType::Range
                };
                request = request
                    .key_schema(
                        KeySchemaElement::builder()
                            .attribute_name(attribute)
                            .key_type(role)
                            .build()
                            .map_err(|e| Setup::Failed(e.to_string()))?,
                    )
                    .attribute_definitions(
                        AttributeDefinition::builder()
                            .attribute_name(attribute)
                            .attribute_type(ScalarAttributeType::from(kind.as_str()))
                            .build()
                            .map_err(|e| Setup::Failed(e.to_string()))?,
                    );
            }
            self.sdk.runtime.block_on(request.send()).map_err(|e| {
                Setup::Failed(format!(
                    "CreateTable {name}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                ))
            })?;
            self.tables.insert(recorded, name);
        }
        Ok(())
    }

    /// The state machines the input starts were made by the recording's test beforehand, and
    /// their definitions were not recorded: a stand-in is made for each, in Cairn's own API
    /// when the execution runs there (a `.sync` parent watches its child there), else a Pass
    /// machine at the emulators' Step Functions (LocalStack's), made through the integrations'
    /// aws-sdk:sfn path.
    fn make_machines(&mut self, case: &Value, input: &Value) -> Result<(), Setup> {
        let mut arns = Vec::new();
        collect_strings(input, &mut arns);
        for arn in arns {
            if !arn.starts_with("arn:aws:states:") || !arn.contains(":stateMachine:") {
                continue;
            }
            if self.machines.contains_key(&arn) {
                continue;
            }
            if let Some(local) = self.local {
                local.make_child(case, &arn).map_err(Setup::Failed)?;
                self.machines.insert(arn.clone(), arn);
                continue;
            }
            let definition =
                json!({"StartAt": "Pass", "States": {"Pass": {"Type": "Pass", "End": true}}});
            let answer = self
                .sdk_call(
                    "sfn",
                    "createStateMachine",
                    &json!({
                        "name": unique("cairn-conf-child"),
                        "definition": definition.to_string(),
                        "roleArn": format!("arn:aws:iam::{LOCALSTACK_ACCOUNT}:role/cairn-conformance"),
                    }),
                )
                .map_err(|e| Setup::Failed(format!("CreateStateMachine: {e}")))?;
            let made = answer
                .get("StateMachineArn")
                .and_then(Value::as_str)
                .ok_or_else(|| Setup::Failed(format!("CreateStateMachine answered {answer}")))?;
            self.machines.insert(arn, made.to_owned());
        }
        Ok(())
    }

    /// One call through the integrations' `aws-sdk:<service>:<action>` path.
    fn sdk_call(&self, service: &str, action: &str, parameters: &Value) -> Result<Value, String> {
        let service = format!("aws-sdk:{service}");
        let request = TaskRequest {
            task_id: 1,
            state_name: "Setup".into(),
            resource: format!("arn:aws:states:::{service}:{action}"),
            kind: ResourceKind::Service {
                service,
                action: action.to_owned(),
                pattern: IntegrationPattern::RequestResponse,
            },
            input: parameters.clone(),
            task_token: None,
            credentials: None,
            now_ms: 0,
            execution_arn: String::new(),
        };
        self.integrations
            .invoke(&request)
            .result
            .map_err(|failure| format!("{}: {}", failure.error, failure.cause.unwrap_or_default()))
    }
}

/// Whether a setup call only reads (the recording's test checking a result).
fn looks_only(op: &str) -> bool {
    ["get_", "receive_", "list_", "describe_", "head_"]
        .iter()
        .any(|prefix| op.starts_with(prefix))
        || op == "read"
}

/// `put_object` -> `putObject`.
fn camel(op: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in op.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A placeholder quoting a setup call's answer: `sqs.get_queue_attributes['Attributes']…`
/// -> (`sqs.get_queue_attributes`, `['Attributes']…`).
fn quoted_call(text: &str) -> Option<(String, &str)> {
    let text = text.strip_prefix("stub:").unwrap_or(text);
    let end = text.find('[')?;
    let call = &text[..end];
    let (service, op) = call.split_once('.')?;
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    (plain(service) && plain(op)).then(|| (call.to_owned(), &text[end..]))
}

/// `['Attributes']['QueueArn']` applied to a value (an empty path is the value itself).
fn index(value: &Value, path: &str) -> Option<Value> {
    let mut current = value.clone();
    let mut rest = path;
    while let Some(after) = rest.strip_prefix("['") {
        let (key, tail) = after.split_once("']")?;
        current = current.get(key)?.clone();
        rest = tail;
    }
    rest.is_empty().then_some(current)
}

/// The `<…>` placeholders in a value's strings that name a fixture or a setup call's answer.
fn placeholders(value: &Value) -> BTreeSet<String> {
    let mut texts = Vec::new();
    collect_strings(value, &mut texts);
    let mut found = BTreeSet::new();
    for text in texts {
        let mut rest = text.as_str();
        while let Some(start) = rest.find('<') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('>') else {
                break;
            };
            let inner = &after[..end];
            if inner.contains("fixture:") || quoted_call(inner).is_some() {
                found.insert(inner.to_owned());
            }
            rest = &after[end + 1..];
        }
    }
    found
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => out.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(fields) => fields.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// The string values of every `key` member, at any depth.
fn strings_under(value: &Value, key: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(fields) => {
                if let Some(text) = fields.get(key).and_then(Value::as_str) {
                    found.push(text.to_owned());
                }
                stack.extend(fields.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    found
}

/// `value` with each occurrence of a key of `replacements` inside its strings (and its
/// object keys) replaced by the key's value, longest keys first.
fn replace_strings(value: &Value, replacements: &BTreeMap<String, String>) -> Value {
    if replacements.is_empty() {
        return value.clone();
    }
    let mut ordered: Vec<(&String, &String)> = replacements.iter().collect();
    ordered.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    let apply = |text: &str| {
        ordered.iter().fold(text.to_owned(), |text, (from, to)| {
            text.replace(from.as_str(), to)
        })
    };
    fn walk(value: &Value, apply: &dyn Fn(&str) -> String) -> Value {
        match value {
            Value::String(text) => Value::String(apply(text)),
            Value::Array(items) => Value::Array(items.iter().map(|v| walk(v, apply)).collect()),
            Value::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (apply(k), walk(v, apply)))
                    .collect::<Map<_, _>>(),
            ),
            other => other.clone(),
        }
    }
    walk(value, &apply)
}

/// Real value -> the word the recording wrote for it. The recorded input of the first history
/// event shows the input as the recording normalised it; where the run's input holds a value
/// the recording replaced by a plain word (`sqs-queue-url`, `bucket-name`, `file-key`), the run's
/// results get the same word. Values the recording turned into `<…>` patterns are left to the
/// matcher.
fn recorded_words(case: &Value, recorded: &Value, input: &Value) -> BTreeMap<String, String> {
    let mut words = BTreeMap::new();
    let normalised = case
        .pointer("/history/0/executionStartedEventDetails/input")
        .cloned()
        .unwrap_or(Value::Null);
    pair_strings(recorded, input, &normalised, &mut words);
    words.insert(MOTO_ACCOUNT.to_owned(), RECORDED_ACCOUNT.to_owned());
    words.insert(LOCALSTACK_ACCOUNT.to_owned(), RECORDED_ACCOUNT.to_owned());
    words
}

fn pair_strings(
    recorded: &Value,
    real: &Value,
    normalised: &Value,
    words: &mut BTreeMap<String, String>,
) {
    match (recorded, real, normalised) {
        // Short values could stand inside unrelated text; resource names are long.
        (Value::String(recorded), Value::String(real), Value::String(word))
            if real != word && !word.contains('<') && recorded != word && real.len() >= 6 =>
        {
            words.insert(real.clone(), word.clone());
        }
        (Value::Array(a), Value::Array(b), Value::Array(c)) => {
            for ((a, b), c) in a.iter().zip(b).zip(c) {
                pair_strings(a, b, c, words);
            }
        }
        (Value::Object(a), Value::Object(b), Value::Object(c)) => {
            for (key, a) in a {
                if let (Some(b), Some(c)) = (b.get(key), c.get(key)) {
                    pair_strings(a, b, c, words);
                }
            }
        }
        _ => {}
    }
}

/// The run's results with the emulators' names written as the recording wrote AWS's.
fn normalised(observed: Observed, words: &BTreeMap<String, String>) -> Observed {
    let text = |s: Option<String>| {
        s.map(|s| match replace_strings(&Value::String(s), words) {
            Value::String(s) => s,
            other => other.to_string(),
        })
    };
    Observed {
        status: observed.status,
        output: observed.output.map(|o| replace_strings(&o, words)),
        error: text(observed.error),
        cause: text(observed.cause),
        history: observed
            .history
            .iter()
            .map(|event| replace_strings(event, words))
            .collect(),
    }
}

#[test]
fn placeholders_are_read_from_the_recording() {
    let input = json!({
        "TopicArn": "<stub:fixture:sns_create_topic()['TopicArn']>",
        "Endpoint": "<stub:sqs.get_queue_attributes['Attributes']['QueueArn']>",
        "Other": "<resource:1>"
    });
    let found = placeholders(&input);
    assert_eq!(
        found.iter().map(String::as_str).collect::<Vec<_>>(),
        [
            "stub:fixture:sns_create_topic()['TopicArn']",
            "stub:sqs.get_queue_attributes['Attributes']['QueueArn']"
        ]
    );
    assert_eq!(
        quoted_call("stub:sqs.get_queue_attributes['Attributes']['QueueArn']"),
        Some((
            "sqs.get_queue_attributes".to_owned(),
            "['Attributes']['QueueArn']"
        ))
    );
    assert_eq!(
        index(&json!({"A": {"B": "x"}}), "['A']['B']"),
        Some(json!("x"))
    );
    assert_eq!(camel("get_queue_attributes"), "getQueueAttributes");
    assert!(looks_only("receive_message") && !looks_only("put_object"));
}

#[test]
fn recorded_words_stand_for_the_real_names() {
    let case = json!({"history": [{"executionStartedEventDetails": {"input": {
        "QueueUrl": "sqs-queue-url", "Key": "file-key", "Arn": "arn:<partition>:sns:<region>:1:<resource:1>"
    }}}]});
    let recorded =
        json!({"QueueUrl": "<fixture:sqs_create_queue>", "Key": "file-key-00000280", "Arn": "<x>"});
    let real = json!({"QueueUrl": "http://moto/123456789012/q", "Key": "file-key-00000280", "Arn": "arn:aws:sns:us-east-1:123456789012:t"});
    let words = recorded_words(&case, &recorded, &real);
    assert_eq!(words["http://moto/123456789012/q"], "sqs-queue-url");
    assert_eq!(words["file-key-00000280"], "file-key");
    assert!(!words.contains_key("arn:aws:sns:us-east-1:123456789012:t"));
    let replaced = replace_strings(&json!({"u": "http://moto/123456789012/q"}), &words);
    assert_eq!(replaced, json!({"u": "sqs-queue-url"}));
}
