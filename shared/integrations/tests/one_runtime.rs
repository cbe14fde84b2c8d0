//! Issue 12, item 12: built on the caller's runtime, the integrations run their calls there
//! and start no runtime or thread of their own. Its own test binary, so no other test's
//! threads come and go while it counts; its two tests take turns (`ONE_AT_A_TIME`), since
//! the second one's runtime starts threads of its own.

use std::sync::Arc;

use cairn_integrations::Integrations;
use cairn_interpreter::{IntegrationPattern, ResourceKind};
use cairn_runtime::{TaskDone, TaskInvoker, TaskOutcome, TaskRequest, Unsupported};
use cairn_test_support::emulators;
use serde_json::{json, Value};

/// Held by each test of this binary for its whole run: the thread count of the first must not
/// see the second's runtime threads.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The names of this process's threads, by thread id.
fn threads() -> std::collections::BTreeMap<u64, String> {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let id = entry.file_name().to_str()?.parse().ok()?;
            let name = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            Some((id, name.trim().to_string()))
        })
        .collect()
}

fn sdk_request(task_id: u64, action: &str, input: Value) -> TaskRequest {
    TaskRequest {
        task_id,
        state_name: action.into(),
        resource: format!("arn:aws:states:::aws-sdk:sqs:{action}"),
        kind: ResourceKind::Service {
            service: "aws-sdk:sqs".into(),
            action: action.into(),
            pattern: IntegrationPattern::RequestResponse,
        },
        input,
        task_token: None,
        credentials: None,
        now_ms: 0,
        execution_arn: String::new(),
    }
}

/// Starts the call on the integrations and waits for its outcome without holding a thread.
async fn call(integrations: &Integrations, request: TaskRequest) -> TaskOutcome {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let done = TaskDone::new(move |outcome| {
        let _ = tx.send(outcome);
    });
    assert!(
        integrations.start(request, done).is_ok(),
        "the integrations carry out aws-sdk:sqs themselves"
    );
    rx.await.expect("an outcome")
}

/// A current-thread runtime, as small as a Lambda function's can be, carries the calls:
/// connecting, creating a queue, reading its URL back. Any thread that appears meanwhile
/// belongs to that runtime (its blocking pool, named below); the previous design built a
/// two-worker `cairn-integrations` runtime in every constructor.
#[test]
fn the_integrations_run_on_the_callers_current_thread_runtime_and_start_no_other() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(emulators) = emulators() else {
        return;
    };
    let before = threads();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("caller-runtime")
        .build()
        .expect("runtime");
    let mut seen = before.clone();
    let name = format!("cairn-one-runtime-{}", std::process::id());
    runtime.block_on(async {
        let integrations = Integrations::on_runtime(
            tokio::runtime::Handle::current(),
            emulators.settings(),
            Arc::new(Unsupported),
        );
        seen.extend(threads());
        let created = call(
            &integrations,
            sdk_request(1, "createQueue", json!({"QueueName": name})),
        )
        .await
        .result
        .expect("createQueue");
        seen.extend(threads());
        let url = created["QueueUrl"].as_str().expect("QueueUrl").to_string();
        assert!(url.ends_with(&name), "{created}");
        let read = call(
            &integrations,
            sdk_request(2, "getQueueUrl", json!({"QueueName": name})),
        )
        .await
        .result
        .expect("getQueueUrl");
        assert_eq!(read["QueueUrl"], json!(url));
        // A queue that does not exist fails as the service says, on this runtime too.
        let missing = call(
            &integrations,
            sdk_request(
                3,
                "getQueueUrl",
                json!({"QueueName": format!("{name}-none")}),
            ),
        )
        .await
        .result
        .expect_err("no such queue");
        assert!(missing.error.starts_with("Sqs."), "{missing:?}");
        seen.extend(threads());
        assert_eq!(integrations.calls(), 3);
    });
    let added: Vec<&String> = seen
        .iter()
        .filter(|(id, _)| !before.contains_key(id))
        .map(|(_, name)| name)
        .collect();
    assert!(
        added.iter().all(|name| name.as_str() == "caller-runtime"),
        "threads that are not the caller's runtime's: {added:?}"
    );
}

/// The blocking port still works on the caller's current-thread runtime, called from its
/// blocking pool as the shell calls it (an invoker that is not started goes there).
#[test]
fn the_blocking_port_works_from_the_callers_blocking_pool() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(emulators) = emulators() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let name = format!("cairn-one-runtime-blocking-{}", std::process::id());
    runtime.block_on(async {
        let integrations = Integrations::on_runtime(
            tokio::runtime::Handle::current(),
            emulators.settings(),
            Arc::new(Unsupported),
        );
        let request = sdk_request(1, "createQueue", json!({"QueueName": name}));
        let blocking = integrations.clone();
        let outcome = tokio::task::spawn_blocking(move || blocking.invoke(&request))
            .await
            .expect("joined");
        let created = outcome.result.expect("createQueue");
        assert!(
            created["QueueUrl"]
                .as_str()
                .is_some_and(|u| u.ends_with(&name)),
            "{created}"
        );
        assert_eq!(integrations.calls(), 1);
    });
}
