//! The behaviour every [`Store`] adapter must show. Adapters call [`run_store_suite`] from a
//! test with a constructor of fresh, empty stores; a failed check panics with what differed,
//! as test assertions do.

use std::sync::Arc;

use serde_json::json;

use crate::{
    ActivityTaskRecord, Effects, Error, ExecutionQuery, ExecutionRecord, HistoryQuery,
    StateMachineRecord, Store, StoredEvent, TaskTokenRecord, TimerRecord, Transition,
};

const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:m";
const ACTIVITY: &str = "arn:aws:states:us-east-1:123456789012:activity:a";

fn machine(name: &str) -> StateMachineRecord {
    StateMachineRecord {
        arn: format!("arn:aws:states:us-east-1:123456789012:stateMachine:{name}"),
        name: name.into(),
        created_ms: 1,
        document: json!({"definition": "{}", "name": name}),
    }
}

fn execution(name: &str, start_ms: i64, status: &str) -> ExecutionRecord {
    ExecutionRecord {
        arn: format!("arn:aws:states:us-east-1:123456789012:execution:m:{name}"),
        state_machine_arn: MACHINE.into(),
        name: name.into(),
        status: status.into(),
        start_ms,
        stop_ms: None,
        summary: json!({"input": "{}"}),
        state: name.as_bytes().to_vec(),
    }
}

fn events(ids: std::ops::RangeInclusive<u64>) -> Vec<StoredEvent> {
    ids.map(|id| StoredEvent {
        id,
        body: format!("{{\"id\":{id}}}"),
    })
    .collect()
}

fn ids(events: &[StoredEvent]) -> Vec<u64> {
    events.iter().map(|e| e.id).collect()
}

fn task(token: &str, execution_arn: &str, created_ms: i64) -> ActivityTaskRecord {
    ActivityTaskRecord {
        activity_arn: ACTIVITY.into(),
        task_token: token.into(),
        execution_arn: execution_arn.into(),
        task_id: 1,
        input: "{\"k\":1}".into(),
        created_ms,
    }
}

/// Runs every check against stores made by `make` (each check gets a fresh one).
pub fn run_store_suite<S: Store + 'static>(make: impl Fn() -> S) {
    state_machines(&make());
    activities(&make());
    executions_and_history(&make());
    commit_is_conditional_and_atomic(&make());
    listing_executions(&make());
    timers(&make());
    activity_tasks_are_claimed_once(&make());
    task_tokens(&make());
    closed_executions_are_put_and_replaced(&make());
    definitions_are_kept_once(&make());
    concurrent_commits_have_one_winner(Arc::new(make()));
}

/// Retention: the closed executions that ended before the cutoff go, with their history;
/// running ones and later ones stay. For the adapters that sweep (not DynamoDB's TTL).
pub fn run_retention_suite<S: Store + 'static>(make: impl Fn() -> S) {
    let store = make();
    let ended = |name: &str, status: &str, stop_ms: Option<i64>| {
        let mut record = execution(name, 500, status);
        record.stop_ms = stop_ms;
        record
    };
    let old = ended("old", "SUCCEEDED", Some(1_000));
    let old_failed = ended("old-failed", "FAILED", Some(2_000));
    let recent = ended("recent", "SUCCEEDED", Some(9_000));
    let running = ended("running", "RUNNING", None);
    for record in [&old, &old_failed, &recent, &running] {
        store
            .create_execution(record, &events(1..=3), &Effects::default())
            .expect("create");
    }
    // The executions that run a definition are not known to the store (their states are
    // opaque): a sweep leaves every definition, which later executions may run again.
    let kept_definition = store.put_definition("k", "{}").expect("put definition");
    assert_eq!(store.delete_closed_executions(5_000, 1).expect("sweep"), 1);
    assert_eq!(store.delete_closed_executions(5_000, 10).expect("sweep"), 1);
    assert_eq!(store.delete_closed_executions(5_000, 10).expect("sweep"), 0);
    for gone in [&old, &old_failed] {
        assert_eq!(store.get_execution(&gone.arn).expect("get"), None);
        let history = store
            .read_history(
                &gone.arn,
                &HistoryQuery {
                    limit: 10,
                    ..HistoryQuery::default()
                },
            )
            .unwrap_or_default();
        assert!(history.is_empty(), "{} kept its history", gone.arn);
    }
    for kept in [&recent, &running] {
        assert!(store.get_execution(&kept.arn).expect("get").is_some());
    }
    let listed = store
        .list_executions(&ExecutionQuery {
            state_machine_arn: MACHINE.into(),
            limit: 10,
            ..ExecutionQuery::default()
        })
        .expect("list");
    let mut names: Vec<_> = listed.items.iter().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["recent", "running"]);
    if kept_definition {
        assert_eq!(
            store
                .get_definition("k")
                .expect("get definition")
                .as_deref(),
            Some("{}")
        );
    }
}

fn state_machines(store: &dyn Store) {
    for name in ["c", "a", "b"] {
        store.create_state_machine(&machine(name)).expect("create");
    }
    assert!(matches!(
        store.create_state_machine(&machine("a")),
        Err(Error::AlreadyExists(_))
    ));
    let (record, version) = store
        .get_state_machine(&machine("a").arn)
        .expect("get")
        .expect("a exists");
    assert_eq!((record, version), (machine("a"), 1));
    assert_eq!(
        store
            .get_state_machine(&format!("{MACHINE}zz"))
            .expect("get"),
        None
    );

    let mut updated = machine("a");
    updated.document = json!({"definition": "{\"v\":2}"});
    assert_eq!(store.update_state_machine(&updated, 1).expect("update"), 2);
    assert!(matches!(
        store.update_state_machine(&updated, 1),
        Err(Error::Conflict(_))
    ));
    assert_eq!(
        store.get_state_machine(&updated.arn).expect("get"),
        Some((updated.clone(), 2))
    );

    let first = store.list_state_machines(None, 2).expect("list");
    let names: Vec<_> = first.items.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    let second = store
        .list_state_machines(first.next.as_deref(), 2)
        .expect("list page 2");
    let names: Vec<_> = second.items.iter().map(|r| r.name.as_str()).collect();
    assert_eq!((names, second.next), (vec!["c"], None));

    assert!(store.delete_state_machine(&updated.arn).expect("delete"));
    assert!(!store
        .delete_state_machine(&updated.arn)
        .expect("delete twice"));
    assert_eq!(store.get_state_machine(&updated.arn).expect("get"), None);
    assert!(matches!(
        store.update_state_machine(&updated, 2),
        Err(Error::NotFound(_))
    ));
}

fn activities(store: &dyn Store) {
    let mut record = machine("act");
    record.arn = ACTIVITY.replace(":a", ":act");
    store.create_activity(&record).expect("create");
    assert!(matches!(
        store.create_activity(&record),
        Err(Error::AlreadyExists(_))
    ));
    assert_eq!(
        store.get_activity(&record.arn).expect("get"),
        Some(record.clone())
    );
    assert_eq!(
        store.list_activities(None, 10).expect("list").items,
        vec![record.clone()]
    );
    assert!(store.delete_activity(&record.arn).expect("delete"));
    assert_eq!(store.get_activity(&record.arn).expect("get"), None);
    assert!(store
        .list_activities(None, 10)
        .expect("list")
        .items
        .is_empty());
}

fn executions_and_history(store: &dyn Store) {
    let record = execution("e1", 100, "RUNNING");
    assert_eq!(
        store
            .create_execution(&record, &events(1..=2), &Effects::default())
            .expect("create"),
        1
    );
    assert!(matches!(
        store.create_execution(&record, &events(1..=1), &Effects::default()),
        Err(Error::AlreadyExists(_))
    ));
    assert_eq!(
        store.get_execution(&record.arn).expect("get"),
        Some((record.clone(), 1))
    );

    let mut next = record.clone();
    next.status = "SUCCEEDED".into();
    next.stop_ms = Some(200);
    next.state = b"done".to_vec();
    let transition = Transition {
        expected_version: 1,
        record: next.clone(),
        history: events(3..=5),
        effects: Effects::default(),
    };
    assert_eq!(store.commit(&transition).expect("commit"), 2);
    assert_eq!(
        store.get_execution(&record.arn).expect("get"),
        Some((next, 2))
    );

    let all = store.read_history(
        &record.arn,
        &HistoryQuery {
            after_id: None,
            limit: 100,
            reverse: false,
        },
    );
    assert_eq!(ids(&all.expect("history")), [1, 2, 3, 4, 5]);
    let page = store.read_history(
        &record.arn,
        &HistoryQuery {
            after_id: Some(2),
            limit: 2,
            reverse: false,
        },
    );
    assert_eq!(ids(&page.expect("history page")), [3, 4]);
    let reversed = store.read_history(
        &record.arn,
        &HistoryQuery {
            after_id: None,
            limit: 2,
            reverse: true,
        },
    );
    assert_eq!(ids(&reversed.expect("reverse")), [5, 4]);
    let reversed = store.read_history(
        &record.arn,
        &HistoryQuery {
            after_id: Some(4),
            limit: 10,
            reverse: true,
        },
    );
    assert_eq!(ids(&reversed.expect("reverse page")), [3, 2, 1]);
    let body = store.read_history(
        &record.arn,
        &HistoryQuery {
            after_id: Some(4),
            limit: 1,
            reverse: false,
        },
    );
    assert_eq!(body.expect("body")[0].body, "{\"id\":5}");
    assert_eq!(
        store.running_executions().expect("running"),
        Vec::<String>::new()
    );
    assert!(matches!(
        store.commit(&Transition {
            expected_version: 1,
            ..transition.clone()
        }),
        Err(Error::Conflict(_))
    ));
    let mut ghost = transition;
    ghost.record.arn.push_str("-missing");
    assert!(matches!(store.commit(&ghost), Err(Error::NotFound(_))));
}

fn commit_is_conditional_and_atomic(store: &dyn Store) {
    let record = execution("e2", 1, "RUNNING");
    let timer = TimerRecord {
        fire_at_ms: 50,
        execution_arn: record.arn.clone(),
        timer_id: 7,
    };
    let created = Effects {
        timers_add: vec![timer.clone()],
        ..Effects::default()
    };
    store
        .create_execution(&record, &events(1..=1), &created)
        .expect("create");
    // A stale writer changes nothing: no history, no effects.
    let stale = Transition {
        expected_version: 5,
        record: execution("e2", 1, "FAILED"),
        history: events(2..=3),
        effects: Effects {
            timers_remove: vec![timer.clone()],
            tokens_add: vec![TaskTokenRecord {
                token: "t".into(),
                execution_arn: record.arn.clone(),
                task_id: 1,
            }],
            ..Effects::default()
        },
    };
    assert!(matches!(store.commit(&stale), Err(Error::Conflict(_))));
    assert_eq!(
        store
            .get_execution(&record.arn)
            .expect("get")
            .map(|(r, v)| (r.status, v)),
        Some(("RUNNING".into(), 1))
    );
    let history = store.read_history(
        &record.arn,
        &HistoryQuery {
            after_id: None,
            limit: 10,
            reverse: false,
        },
    );
    assert_eq!(ids(&history.expect("history")), [1]);
    assert_eq!(store.due_timers(100, 10).expect("timers"), vec![timer]);
    assert_eq!(store.get_task_token("t").expect("token"), None);
    assert_eq!(
        store.running_executions().expect("running"),
        vec![record.arn.clone()]
    );
}

fn listing_executions(store: &dyn Store) {
    for (i, status) in ["RUNNING", "SUCCEEDED", "RUNNING", "FAILED", "RUNNING"]
        .iter()
        .enumerate()
    {
        let start = i64::try_from(i).unwrap_or(0) * 10;
        store
            .create_execution(
                &execution(&format!("x{i}"), start, status),
                &[],
                &Effects::default(),
            )
            .expect("create");
    }
    let mut other = execution("other", 5, "RUNNING");
    other.state_machine_arn.push_str("-other");
    other.arn.push_str("-other");
    store
        .create_execution(&other, &[], &Effects::default())
        .expect("create other");

    let mut query = ExecutionQuery {
        state_machine_arn: MACHINE.into(),
        status: None,
        cursor: None,
        limit: 2,
    };
    let mut names = Vec::new();
    loop {
        let page = store.list_executions(&query).expect("list");
        assert!(page.items.len() <= 2);
        names.extend(page.items.into_iter().map(|r| r.name));
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(names, ["x4", "x3", "x2", "x1", "x0"]);

    let running = ExecutionQuery {
        state_machine_arn: MACHINE.into(),
        status: Some("RUNNING".into()),
        cursor: None,
        limit: 10,
    };
    let page = store.list_executions(&running).expect("list running");
    let names: Vec<_> = page.items.into_iter().map(|r| r.name).collect();
    assert_eq!(
        (names, page.next),
        (vec!["x4".to_string(), "x2".into(), "x0".into()], None)
    );
    let bad = ExecutionQuery {
        cursor: Some("not a cursor".into()),
        ..running
    };
    assert_eq!(store.list_executions(&bad), Err(Error::InvalidCursor));
}

fn timers(store: &dyn Store) {
    let record = execution("t", 1, "RUNNING");
    let timer = |id: u64, at: i64| TimerRecord {
        fire_at_ms: at,
        execution_arn: record.arn.clone(),
        timer_id: id,
    };
    let effects = Effects {
        timers_add: vec![timer(1, 300), timer(2, 100), timer(3, 200)],
        ..Effects::default()
    };
    store
        .create_execution(&record, &[], &effects)
        .expect("create");
    assert_eq!(store.next_timer().expect("next"), Some(timer(2, 100)));
    assert_eq!(
        store.due_timers(250, 10).expect("due"),
        vec![timer(2, 100), timer(3, 200)]
    );
    assert_eq!(store.due_timers(250, 1).expect("due"), vec![timer(2, 100)]);
    assert_eq!(store.due_timers(50, 10).expect("due"), vec![]);
    let fired = Transition {
        expected_version: 1,
        record: record.clone(),
        history: vec![],
        effects: Effects {
            timers_remove: vec![timer(2, 0), timer(9, 1)],
            ..Effects::default()
        },
    };
    store.commit(&fired).expect("commit");
    assert_eq!(
        store.due_timers(1000, 10).expect("due"),
        vec![timer(3, 200), timer(1, 300)]
    );
}

fn activity_tasks_are_claimed_once(store: &dyn Store) {
    let record = execution("act", 1, "RUNNING");
    let effects = Effects {
        activity_tasks_add: vec![
            task("tok-b", &record.arn, 20),
            task("tok-a", &record.arn, 10),
        ],
        ..Effects::default()
    };
    store
        .create_execution(&record, &[], &effects)
        .expect("create");
    let queued = store.peek_activity_tasks(ACTIVITY, 10).expect("peek");
    assert_eq!(
        queued
            .iter()
            .map(|t| t.task_token.as_str())
            .collect::<Vec<_>>(),
        ["tok-a", "tok-b"]
    );
    assert!(store
        .peek_activity_tasks("arn:other", 10)
        .expect("peek")
        .is_empty());

    let claim = |version, token: &str| Transition {
        expected_version: version,
        record: record.clone(),
        history: events(1..=1),
        effects: Effects {
            activity_tasks_claim: vec![token.into()],
            ..Effects::default()
        },
    };
    assert_eq!(store.commit(&claim(1, "tok-a")).expect("claim"), 2);
    // Claiming again (even at the right version) fails and writes nothing.
    assert!(matches!(
        store.commit(&claim(2, "tok-a")),
        Err(Error::Conflict(_))
    ));
    let history = store.read_history(
        &record.arn,
        &HistoryQuery {
            after_id: None,
            limit: 10,
            reverse: false,
        },
    );
    assert_eq!(ids(&history.expect("history")), [1]);
    assert_eq!(
        store.peek_activity_tasks(ACTIVITY, 10).expect("peek"),
        vec![task("tok-b", &record.arn, 20)]
    );
    let remove = Transition {
        expected_version: 2,
        record: record.clone(),
        history: vec![],
        effects: Effects {
            activity_tasks_remove: vec!["tok-b".into(), "gone".into()],
            ..Effects::default()
        },
    };
    store.commit(&remove).expect("remove");
    assert!(store
        .peek_activity_tasks(ACTIVITY, 10)
        .expect("peek")
        .is_empty());
}

fn task_tokens(store: &dyn Store) {
    let record = execution("tok", 1, "RUNNING");
    let token = TaskTokenRecord {
        token: "secret".into(),
        execution_arn: record.arn.clone(),
        task_id: 3,
    };
    store
        .create_execution(
            &record,
            &[],
            &Effects {
                tokens_add: vec![token.clone()],
                ..Effects::default()
            },
        )
        .expect("create");
    assert_eq!(store.get_task_token("secret").expect("get"), Some(token));
    assert_eq!(store.get_task_token("other").expect("get"), None);
    let used = Transition {
        expected_version: 1,
        record,
        history: vec![],
        effects: Effects {
            tokens_remove: vec!["secret".into()],
            ..Effects::default()
        },
    };
    store.commit(&used).expect("commit");
    assert_eq!(store.get_task_token("secret").expect("get"), None);
}

fn concurrent_commits_have_one_winner<S: Store + 'static>(store: Arc<S>) {
    let record = execution("race", 1, "RUNNING");
    store
        .create_execution(&record, &events(1..=1), &Effects::default())
        .expect("create");
    let handles: Vec<_> = (0..8u64)
        .map(|i| {
            let store = Arc::clone(&store);
            let record = record.clone();
            std::thread::spawn(move || {
                let transition = Transition {
                    expected_version: 1,
                    record,
                    history: vec![StoredEvent {
                        id: 2,
                        body: format!("writer {i}"),
                    }],
                    effects: Effects::default(),
                };
                store.commit(&transition)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().filter_map(|h| h.join().ok()).collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .all(|r| r.is_ok() || matches!(r, Err(Error::Conflict(_)))));
    let history = store.read_history(
        &record.arn,
        &HistoryQuery {
            after_id: None,
            limit: 10,
            reverse: false,
        },
    );
    assert_eq!(ids(&history.expect("history")), [1, 2]);
}

/// A Map Run's children: stored closed, listed under their own state machine, written again
/// unchanged without harm, replaced when their end changed.
fn closed_executions_are_put_and_replaced(store: &dyn Store) {
    let child = |name: &str, status: &str| ExecutionRecord {
        arn: format!("arn:aws:states:us-east-1:123456789012:execution:m/each:{name}"),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m/each".into(),
        name: name.into(),
        status: status.into(),
        start_ms: 10,
        stop_ms: Some(20),
        summary: json!({"mapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:m/each:r"}),
        state: Vec::new(),
    };
    let first = [child("a", "FAILED"), child("b", "SUCCEEDED")];
    store.put_closed_executions(&first).expect("put");
    store.put_closed_executions(&first).expect("put again");
    let replaced = [child("a", "SUCCEEDED")];
    store.put_closed_executions(&replaced).expect("replace");
    let query = ExecutionQuery {
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m/each".into(),
        status: None,
        cursor: None,
        limit: 10,
    };
    let listed = store.list_executions(&query).expect("list").items;
    let mut statuses: Vec<(String, String)> = listed
        .iter()
        .map(|r| (r.name.clone(), r.status.clone()))
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        vec![
            ("a".to_string(), "SUCCEEDED".to_string()),
            ("b".to_string(), "SUCCEEDED".to_string())
        ]
    );
    let (a, _) = store
        .get_execution(&replaced[0].arn)
        .expect("get")
        .expect("stored");
    assert_eq!(a, replaced[0]);
    assert!(store
        .read_history(
            &a.arn,
            &HistoryQuery {
                after_id: None,
                limit: 10,
                reverse: false
            }
        )
        .expect("history")
        .is_empty());
    // Not running: a restart resumes none of them.
    assert!(store.running_executions().expect("running").is_empty());
}

/// Definitions kept apart from the executions' states ([`crate::ExecutionStore::put_definition`]):
/// once per key, immutably, whole however large. A store that keeps none says so at the put
/// and has none to give back, so its callers keep the text in each state.
fn definitions_are_kept_once(store: &dyn Store) {
    let text = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Comment":"é \"q\"","End":true}}}"#;
    assert_eq!(store.get_definition("k1").expect("get"), None);
    if !store.put_definition("k1", text).expect("put") {
        assert_eq!(
            store.get_definition("k1").expect("get"),
            None,
            "a store that keeps no definitions has none to give"
        );
        return;
    }
    assert_eq!(
        store.get_definition("k1").expect("get").as_deref(),
        Some(text)
    );
    // Executions started later put it again; a key's text never changes.
    assert!(store.put_definition("k1", text).expect("put again"));
    assert!(store.put_definition("k1", "{}").expect("put another text"));
    assert_eq!(
        store.get_definition("k1").expect("get").as_deref(),
        Some(text)
    );
    // A 1,000-state chain's definition is 137 KB.
    let states: Vec<String> = (0..3_000)
        .map(|i| format!(r#""S{i}":{{"Type":"Pass","Next":"S{}"}}"#, i + 1))
        .collect();
    let large = format!(r#"{{"StartAt":"S0","States":{{{}}}}}"#, states.join(","));
    assert!(large.len() > 100_000);
    assert!(store.put_definition("k2", &large).expect("put large"));
    assert_eq!(store.get_definition("k2").expect("get large"), Some(large));
    assert_eq!(
        store.get_definition("k1").expect("get").as_deref(),
        Some(text)
    );
    assert_eq!(store.get_definition("k3").expect("get missing"), None);
}
