//! One behaviour suite for every `TaskStore`: core's `InMemoryStore`, `SqliteStore` (a file in
//! a temporary directory) and `PostgresStore` (a fresh database on the test server per test).
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use bptl_core::store::{Claim, StatsRow, TaskFilter, TaskKey, TaskRecord, TaskStore};
use bptl_core::{
    EventKind, InMemoryStore, InMemoryTask, TaskStatus, TimelineEntry, Value, variables,
};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use support::{TempDir, TestDatabase};

struct Fixture {
    store: Arc<dyn TaskStore>,
    _db: Option<TestDatabase>,
    _dir: Option<TempDir>,
}

async fn memory() -> Fixture {
    Fixture {
        store: Arc::new(InMemoryStore::new()),
        _db: None,
        _dir: None,
    }
}

async fn sqlite() -> Fixture {
    let dir = TempDir::new();
    let store = bptl_store::connect(&dir.sqlite_url("bptl.db"))
        .await
        .unwrap();
    Fixture {
        store,
        _db: None,
        _dir: Some(dir),
    }
}

async fn postgres() -> Fixture {
    let db = TestDatabase::create().await;
    let store = bptl_store::connect(&db.url).await.unwrap();
    Fixture {
        store,
        _db: Some(db),
        _dir: None,
    }
}

/// Runs every check against every store.
macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod memory_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $check() {
                    let f = super::memory().await;
                    super::$check(Arc::clone(&f.store)).await;
                }
            )*
            use std::sync::Arc;
        }
        mod sqlite_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $check() {
                    let f = super::sqlite().await;
                    super::$check(Arc::clone(&f.store)).await;
                }
            )*
            use std::sync::Arc;
        }
        mod postgres_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $check() {
                    let f = super::postgres().await;
                    super::$check(Arc::clone(&f.store)).await;
                }
            )*
            use std::sync::Arc;
        }
    };
}

conformance!(
    a_record_round_trips_exactly,
    save_replaces_the_record_and_keeps_the_timeline,
    timeline_is_ordered_and_drops_unknown_keys,
    list_filters_newest_first_and_pages,
    stats_count_per_topic_and_status,
    prune_deletes_only_old_completed_records_with_their_timelines,
    reset_status_changes_only_the_status,
    claim_decides_whether_the_unit_runs,
    concurrent_claims_of_one_task_are_serial,
    concurrent_claims_never_rerun_a_performed_task,
    concurrent_writes_of_many_tasks_stay_apart,
    batched_timeline_entries_keep_their_order,
    a_stale_save_never_overwrites_a_newer_run,
    process_instances_that_end_alike_are_told_apart,
    list_filters_by_business_key,
    hourly_counts_outcomes_per_hour_of_fetching,
    a_save_keeps_what_identifies_the_task,
    insert_new_takes_a_key_exactly_once,
    prune_failed_deletes_only_old_failed_records_with_their_timelines,
    erasing_a_process_instance_deletes_all_its_records_and_timelines,
);

fn record(topic: &str) -> TaskRecord {
    TaskRecord::from_task(&InMemoryTask::new(topic, variables! {}), "worker-1")
}

fn entry(kind: EventKind, message: &str, data: serde_json::Value) -> TimelineEntry {
    TimelineEntry {
        at: Timestamp::now(),
        kind,
        message: message.to_owned(),
        data,
    }
}

async fn a_record_round_trips_exactly(store: Arc<dyn TaskStore>) {
    let task = InMemoryTask::new("zaak aanmaken", variables! { "amount": 21 })
        .with_id("ext-1")
        .with_lock_expiry(Timestamp::now() + SignedDuration::from_mins(5));
    let mut r = TaskRecord::from_task(&task, "worker-ü");
    r.process_instance_id = Some("pi-1".into());
    r.business_key = Some("bk/ß€".into());
    r.priority = -7;
    r.retries = Some(2);
    r.variables = json!({
        "amount": {"type": "Integer", "value": 21, "valueInfo": {}},
        "big": {"type": "Long", "value": 9_007_199_254_740_993_i64},
        "text": {"type": "String", "value": "tab\tnul\u{0}quote\"'; DROP TABLE bptl_tasks; --"},
        "pi": {"type": "Double", "value": 2.718281828459045e-300}
    });
    r.status = TaskStatus::Completed;
    r.result_variables = Some(variables! {
        "doubled": 42, "long": 1i64 << 40, "half": 0.5, "none": Value::Null, "yes": true,
        "when": Timestamp::UNIX_EPOCH, "doc": json!({"a": [1, {"b": null}]}),
        "bytes": vec![0u8, 255], "xml": Value::Xml("<a/>".into()), "s": "€"
    });
    r.execution_error = Some("first\nsecond".into());
    r.engine_error = Some(r#"HTTP 500: {"type":"OptimisticLockingException"}"#.into());
    r.executions = 3;
    r.reported_at = Some(Timestamp::now());
    r.updated_at = Timestamp::now();
    store.save(&r).await.unwrap();
    assert_eq!(store.get(&r.key()).await.unwrap(), Some(r.clone()));
    assert_eq!(
        store.get(&TaskKey::new("memory", "nope")).await.unwrap(),
        None
    );
    assert_eq!(
        store.get(&TaskKey::new("camunda", "ext-1")).await.unwrap(),
        None,
        "the engine type is part of the key"
    );

    // Nothing optional set.
    let mut bare = record("bare");
    bare.lock_expires_at = None;
    bare.variables = json!({});
    store.save(&bare).await.unwrap();
    assert_eq!(store.get(&bare.key()).await.unwrap(), Some(bare));
}

async fn save_replaces_the_record_and_keeps_the_timeline(store: Arc<dyn TaskStore>) {
    let mut r = record("t");
    store.save(&r).await.unwrap();
    let e = entry(
        EventKind::Status,
        "initial → in_progress",
        json!({"from": "initial"}),
    );
    store.append_timeline(&r.key(), &e).await.unwrap();
    r.status = TaskStatus::Performed;
    r.result_variables = Some(variables! { "x": 1 });
    r.worker_id = "worker-2".into();
    r.updated_at = Timestamp::now();
    store.save(&r).await.unwrap();
    assert_eq!(store.get(&r.key()).await.unwrap(), Some(r.clone()));
    assert_eq!(store.timeline(&r.key()).await.unwrap(), vec![e]);
    assert_eq!(store.list(&TaskFilter::default()).await.unwrap().len(), 1);
    // Replacing with fewer fields clears them.
    r.result_variables = None;
    r.status = TaskStatus::Initial;
    store.save(&r).await.unwrap();
    assert_eq!(store.get(&r.key()).await.unwrap(), Some(r));
}

async fn a_save_keeps_what_identifies_the_task(store: Arc<dyn TaskStore>) {
    let mut r = record("first topic");
    r.process_instance_id = Some("pi-first".into());
    r.business_key = Some("bk-first".into());
    store.save(&r).await.unwrap();
    let mut changed = r.clone();
    changed.topic = "another topic".into();
    changed.process_instance_id = Some("pi-other".into());
    changed.business_key = None;
    changed.created_at = r.created_at + SignedDuration::from_secs(60);
    changed.status = TaskStatus::Performed;
    changed.result_variables = Some(variables! { "x": 1 });
    changed.worker_id = "worker-2".into();
    store.save(&changed).await.unwrap();
    let mut expected = changed.clone();
    expected.topic = r.topic.clone();
    expected.process_instance_id = r.process_instance_id.clone();
    expected.business_key = r.business_key.clone();
    expected.created_at = r.created_at;
    assert_eq!(store.get(&r.key()).await.unwrap(), Some(expected));
    let by_key = store
        .list(&TaskFilter::default().business_key("bk-first"))
        .await
        .unwrap();
    assert_eq!(by_key.len(), 1);
}

async fn timeline_is_ordered_and_drops_unknown_keys(store: Arc<dyn TaskStore>) {
    let a = record("a");
    let b = record("b");
    store.save(&a).await.unwrap();
    store.save(&b).await.unwrap();
    let kinds = [
        EventKind::Status,
        EventKind::Request,
        EventKind::EngineError,
        EventKind::LockExtended,
        EventKind::Callback,
        EventKind::Recovery,
        EventKind::Note,
    ];
    let mut expected = Vec::new();
    for (i, kind) in kinds.into_iter().enumerate() {
        // Same instant for all: the order of appending decides.
        let e = TimelineEntry {
            at: Timestamp::UNIX_EPOCH,
            kind,
            message: format!("event {i}"),
            data: if i % 2 == 0 {
                json!({"i": i, "url": "http://x/?…"})
            } else {
                serde_json::Value::Null
            },
        };
        store.append_timeline(&a.key(), &e).await.unwrap();
        store
            .append_timeline(&b.key(), &entry(EventKind::Note, "other", json!(null)))
            .await
            .unwrap();
        expected.push(e);
    }
    assert_eq!(store.timeline(&a.key()).await.unwrap(), expected);
    assert_eq!(store.timeline(&b.key()).await.unwrap().len(), kinds.len());
    let unknown = TaskKey::new("memory", "unknown");
    store
        .append_timeline(&unknown, &entry(EventKind::Note, "lost", json!(null)))
        .await
        .unwrap();
    assert!(store.timeline(&unknown).await.unwrap().is_empty());
}

async fn list_filters_newest_first_and_pages(store: Arc<dyn TaskStore>) {
    let base = Timestamp::now();
    let mut saved = Vec::new();
    for i in 0..10 {
        let mut r = record(if i % 2 == 0 { "even" } else { "odd" });
        r.created_at = base + SignedDuration::from_secs(i);
        r.status = TaskStatus::ALL[i as usize % 5];
        r.process_instance_id = Some(format!("pi-{}", i % 3));
        if i == 9 {
            r.engine = "camunda".into();
        }
        store.save(&r).await.unwrap();
        saved.push(r);
    }
    let ids = |records: Vec<TaskRecord>| records.into_iter().map(|r| r.task_id).collect::<Vec<_>>();
    let newest_first: Vec<String> = saved.iter().rev().map(|r| r.task_id.clone()).collect();
    assert_eq!(
        ids(store.list(&TaskFilter::default()).await.unwrap()),
        newest_first
    );
    assert_eq!(
        ids(store.list(&TaskFilter::default().page(2, 3)).await.unwrap()),
        newest_first[2..5]
    );
    assert_eq!(
        ids(store
            .list(&TaskFilter {
                offset: 8,
                ..TaskFilter::default()
            })
            .await
            .unwrap()),
        newest_first[8..]
    );
    assert!(
        store
            .list(&TaskFilter::default().page(10, 5))
            .await
            .unwrap()
            .is_empty()
    );
    let check = |filter: TaskFilter| {
        let expected: Vec<String> = saved
            .iter()
            .rev()
            .filter(|r| filter.matches(r))
            .map(|r| r.task_id.clone())
            .collect();
        (filter, expected)
    };
    for (filter, expected) in [
        check(TaskFilter::default().topic("even")),
        check(TaskFilter::default().status(TaskStatus::Failed)),
        check(
            TaskFilter::default()
                .status(TaskStatus::Failed)
                .status(TaskStatus::Initial),
        ),
        check(TaskFilter::default().process_instance("pi-1")),
        check(TaskFilter::default().engine("camunda")),
        check(TaskFilter::default().since(base + SignedDuration::from_secs(7))),
        check(
            TaskFilter::default()
                .topic("odd")
                .status(TaskStatus::InProgress)
                .engine("memory"),
        ),
    ] {
        assert!(!expected.is_empty(), "{filter:?} selects something");
        assert_eq!(
            ids(store.list(&filter).await.unwrap()),
            expected,
            "{filter:?}"
        );
    }
    assert!(
        store
            .list(&TaskFilter::default().topic("none"))
            .await
            .unwrap()
            .is_empty()
    );

    // Equal creation instants: the later saved record comes first.
    let at = base + SignedDuration::from_hours(1);
    let (mut x, mut y) = (record("tie"), record("tie"));
    x.created_at = at;
    y.created_at = at;
    store.save(&x).await.unwrap();
    store.save(&y).await.unwrap();
    assert_eq!(
        ids(store
            .list(&TaskFilter::default().topic("tie"))
            .await
            .unwrap()),
        vec![y.task_id, x.task_id]
    );
}

async fn stats_count_per_topic_and_status(store: Arc<dyn TaskStore>) {
    let old = Timestamp::now() - SignedDuration::from_hours(48);
    for (topic, status, n, created) in [
        ("b", TaskStatus::Completed, 3, None),
        ("b", TaskStatus::Initial, 1, None),
        ("a", TaskStatus::Failed, 2, None),
        ("a", TaskStatus::InProgress, 1, None),
        ("a", TaskStatus::Completed, 4, Some(old)),
    ] {
        for _ in 0..n {
            let mut r = record(topic);
            r.status = status;
            if let Some(at) = created {
                r.created_at = at;
            }
            store.save(&r).await.unwrap();
        }
    }
    let row = |topic: &str, status, count| StatsRow {
        topic: topic.into(),
        status,
        count,
    };
    assert_eq!(
        store.stats(None).await.unwrap(),
        vec![
            row("a", TaskStatus::InProgress, 1),
            row("a", TaskStatus::Failed, 2),
            row("a", TaskStatus::Completed, 4),
            row("b", TaskStatus::Initial, 1),
            row("b", TaskStatus::Completed, 3),
        ]
    );
    let day = Timestamp::now() - SignedDuration::from_hours(24);
    assert_eq!(
        store.stats(Some(day)).await.unwrap(),
        vec![
            row("a", TaskStatus::InProgress, 1),
            row("a", TaskStatus::Failed, 2),
            row("b", TaskStatus::Initial, 1),
            row("b", TaskStatus::Completed, 3),
        ]
    );
}

async fn prune_deletes_only_old_completed_records_with_their_timelines(store: Arc<dyn TaskStore>) {
    let cutoff = Timestamp::now();
    let old = cutoff - SignedDuration::from_hours(24 * 31);
    let mut keep = Vec::new();
    let mut gone = Vec::new();
    for status in TaskStatus::ALL {
        for updated in [old, cutoff + SignedDuration::from_secs(1)] {
            let mut r = record("p");
            r.status = status;
            r.updated_at = updated;
            store.save(&r).await.unwrap();
            store
                .append_timeline(&r.key(), &entry(EventKind::Note, "x", json!(null)))
                .await
                .unwrap();
            if status == TaskStatus::Completed && updated == old {
                gone.push(r.key());
            } else {
                keep.push(r.key());
            }
        }
    }
    assert_eq!(store.prune_completed(cutoff).await.unwrap(), 1);
    assert_eq!(store.prune_completed(cutoff).await.unwrap(), 0);
    for key in &gone {
        assert_eq!(store.get(key).await.unwrap(), None);
        assert!(store.timeline(key).await.unwrap().is_empty());
    }
    for key in &keep {
        assert!(store.get(key).await.unwrap().is_some());
        assert_eq!(store.timeline(key).await.unwrap().len(), 1);
    }
    // The helper behind `prune --older-than` and `store.retention`.
    assert_eq!(
        bptl_store::prune_older_than(&*store, std::time::Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    let mut two_hours = record("p");
    two_hours.status = TaskStatus::Completed;
    two_hours.updated_at = Timestamp::now() - SignedDuration::from_hours(2);
    store.save(&two_hours).await.unwrap();
    assert_eq!(
        bptl_store::prune_older_than(&*store, std::time::Duration::from_secs(3600))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.get(&two_hours.key()).await.unwrap(), None);
}

async fn reset_status_changes_only_the_status(store: Arc<dyn TaskStore>) {
    let mut r = record("r");
    r.status = TaskStatus::Failed;
    r.execution_error = Some("boom".into());
    r.executions = 1;
    store.save(&r).await.unwrap();
    assert!(
        store
            .reset_status(&r.key(), TaskStatus::Initial)
            .await
            .unwrap()
    );
    let stored = store.get(&r.key()).await.unwrap().unwrap();
    assert_eq!(stored.status, TaskStatus::Initial);
    assert!(stored.updated_at >= r.updated_at);
    assert_eq!(
        TaskRecord {
            status: r.status,
            updated_at: r.updated_at,
            ..stored
        },
        r,
        "nothing else changes"
    );
    assert!(
        !store
            .reset_status(&TaskKey::new("memory", "nope"), TaskStatus::Initial)
            .await
            .unwrap()
    );
}

async fn claim_decides_whether_the_unit_runs(store: Arc<dyn TaskStore>) {
    // A new task runs.
    let first = record("c");
    let Claim::Run {
        record: claimed,
        previous: None,
    } = store.claim(&first).await.unwrap()
    else {
        panic!("a new task runs, and there was no record before");
    };
    assert_eq!(claimed.status, TaskStatus::InProgress);
    assert_eq!(claimed.executions, 1);
    assert_eq!(
        store.get(&first.key()).await.unwrap(),
        Some(claimed.clone())
    );

    // Abandoned in progress (a crash): it runs again, counted, under the new worker.
    let mut again = first.clone();
    again.worker_id = "worker-2".into();
    again.created_at = Timestamp::now() + SignedDuration::from_secs(60);
    again.lock_expires_at = Some(Timestamp::now() + SignedDuration::from_mins(10));
    let Claim::Run {
        record: rerun,
        previous: Some(TaskStatus::InProgress),
    } = store.claim(&again).await.unwrap()
    else {
        panic!("an abandoned task runs again, and the claim says it was in progress");
    };
    assert_eq!(rerun.executions, 2);
    assert_eq!(rerun.worker_id, "worker-2");
    assert_eq!(rerun.lock_expires_at, again.lock_expires_at);
    assert_eq!(rerun.created_at, first.created_at, "created_at stays");
    assert_eq!(store.get(&first.key()).await.unwrap(), Some(rerun.clone()));

    // Performed: never again, whoever asks; nothing changes.
    let mut performed = rerun.clone();
    performed.status = TaskStatus::Performed;
    performed.result_variables = Some(variables! { "doubled": 42 });
    store.save(&performed).await.unwrap();
    for worker in ["worker-1", "worker-3"] {
        let mut asking = first.clone();
        asking.worker_id = worker.into();
        assert_eq!(
            store.claim(&asking).await.unwrap(),
            Claim::Performed(performed.clone())
        );
    }
    let mut completed = performed.clone();
    completed.status = TaskStatus::Completed;
    store.save(&completed).await.unwrap();
    assert_eq!(
        store.claim(&first).await.unwrap(),
        Claim::Performed(completed)
    );
    assert_eq!(
        store.get(&first.key()).await.unwrap().unwrap().executions,
        2
    );

    // Failed (the engine retries it): runs again, the old error cleared.
    let mut failed = record("c");
    failed.status = TaskStatus::Failed;
    failed.execution_error = Some("boom".into());
    failed.executions = 1;
    store.save(&failed).await.unwrap();
    let Claim::Run {
        record: retry,
        previous: Some(TaskStatus::Failed),
    } = store.claim(&failed).await.unwrap()
    else {
        panic!("a failed task is retried, and the claim says it had failed");
    };
    assert_eq!((retry.executions, retry.execution_error), (2, None));

    // Reset by an operator (`execute --force`): runs again.
    assert!(
        store
            .reset_status(&first.key(), TaskStatus::Initial)
            .await
            .unwrap()
    );
    assert!(matches!(
        store.claim(&first).await.unwrap(),
        Claim::Run { record, previous: Some(TaskStatus::Initial) } if record.executions == 3
    ));
}

async fn concurrent_claims_of_one_task_are_serial(store: Arc<dyn TaskStore>) {
    // 16 claims of the same new task at once: each sees the previous one (no lost update).
    let r = record("race");
    let claims = (0..16).map(|i| {
        let store = Arc::clone(&store);
        let mut mine = r.clone();
        mine.worker_id = format!("worker-{i}");
        tokio::spawn(async move { store.claim(&mine).await.unwrap() })
    });
    let mut executions = Vec::new();
    for claim in claims {
        match claim.await.unwrap() {
            Claim::Run { record, .. } => executions.push(record.executions),
            Claim::Performed(_) => panic!("nothing was performed"),
        }
    }
    executions.sort_unstable();
    assert_eq!(executions, (1..=16).collect::<Vec<u32>>());
    assert_eq!(store.get(&r.key()).await.unwrap().unwrap().executions, 16);
}

async fn concurrent_claims_never_rerun_a_performed_task(store: Arc<dyn TaskStore>) {
    // Many tasks; for each, one worker performs while others claim: a claim that comes after
    // the result is stored must say Performed, and the stored result is never lost.
    let mut handles = Vec::new();
    for _ in 0..20 {
        let r = record("race2");
        let Claim::Run {
            record: mut mine, ..
        } = store.claim(&r).await.unwrap()
        else {
            panic!("new");
        };
        let store_a = Arc::clone(&store);
        let performer = tokio::spawn(async move {
            mine.status = TaskStatus::Performed;
            mine.result_variables = Some(variables! { "ok": true });
            store_a.save(&mine).await.unwrap();
        });
        let claimers: Vec<_> = (0..4)
            .map(|_| {
                let store = Arc::clone(&store);
                let r = r.clone();
                tokio::spawn(async move { store.claim(&r).await.unwrap() })
            })
            .collect();
        handles.push((r, performer, claimers));
    }
    for (r, performer, claimers) in handles {
        performer.await.unwrap();
        for c in claimers {
            if let Claim::Performed(p) = c.await.unwrap() {
                assert_eq!(p.result_variables, Some(variables! { "ok": true }));
            }
        }
        // A claim either ran before the result was stored (and the performer's save replaced
        // it) or found the result: in no order is the stored result lost.
        let stored = store.get(&r.key()).await.unwrap().unwrap();
        assert_eq!(stored.status, TaskStatus::Performed, "{stored:?}");
        assert_eq!(stored.result_variables, Some(variables! { "ok": true }));
        assert_eq!(store.claim(&r).await.unwrap(), Claim::Performed(stored));
    }
}

async fn concurrent_writes_of_many_tasks_stay_apart(store: Arc<dyn TaskStore>) {
    // What a busy worker does: many tasks at once, each claim → timeline → performed → timeline
    // → completed. Stores that commit concurrent writes together must keep every task's writes
    // in order and apart from the others'.
    let tasks: Vec<_> = (0..150)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let r = record("busy");
                let Claim::Run {
                    record: mut mine, ..
                } = store.claim(&r).await.unwrap()
                else {
                    panic!("a new task runs");
                };
                assert_eq!(mine.executions, 1);
                let key = r.key();
                store
                    .append_timeline(&key, &entry(EventKind::Status, "started", json!(i)))
                    .await
                    .unwrap();
                mine.status = TaskStatus::Performed;
                mine.result_variables = Some(variables! { "i": i });
                store.save(&mine).await.unwrap();
                // Fetched again meanwhile: the result is found, the unit does not run again.
                assert!(matches!(store.claim(&r).await.unwrap(), Claim::Performed(p) if p == mine));
                store
                    .append_timelines(&[
                        (key.clone(), entry(EventKind::Status, "performed", json!(i))),
                        (key.clone(), entry(EventKind::Note, "reporting", json!(i))),
                    ])
                    .await
                    .unwrap();
                mine.status = TaskStatus::Completed;
                mine.reported_at = Some(Timestamp::now());
                store.save(&mine).await.unwrap();
                (i, mine)
            })
        })
        .collect();
    for task in tasks {
        let (i, mine) = task.await.unwrap();
        assert_eq!(store.get(&mine.key()).await.unwrap(), Some(mine.clone()));
        let messages: Vec<_> = store
            .timeline(&mine.key())
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.message, e.data))
            .collect();
        assert_eq!(
            messages,
            vec![
                ("started".to_owned(), json!(i)),
                ("performed".to_owned(), json!(i)),
                ("reporting".to_owned(), json!(i)),
            ]
        );
    }
    assert_eq!(
        store
            .list(&TaskFilter::default().status(TaskStatus::Completed))
            .await
            .unwrap()
            .len(),
        150
    );
}

async fn batched_timeline_entries_keep_their_order(store: Arc<dyn TaskStore>) {
    let (a, b) = (record("batch"), record("batch"));
    store.save(&a).await.unwrap();
    store.save(&b).await.unwrap();
    let unknown = TaskKey::new("memory", "nobody");
    // More entries than one statement takes, interleaved between two records and an unknown
    // key (whose entries are dropped).
    let entries: Vec<(TaskKey, TimelineEntry)> = (0..150)
        .map(|i| {
            let key = match i % 3 {
                0 => a.key(),
                1 => b.key(),
                _ => unknown.clone(),
            };
            (key, entry(EventKind::Note, &format!("n{i}"), json!(i)))
        })
        .collect();
    store.append_timelines(&entries).await.unwrap();
    store.append_timelines(&[]).await.unwrap();
    for (key, rest) in [(a.key(), 0), (b.key(), 1)] {
        let got: Vec<_> = store
            .timeline(&key)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.message)
            .collect();
        let want: Vec<_> = (0..150)
            .filter(|i| i % 3 == rest)
            .map(|i| format!("n{i}"))
            .collect();
        assert_eq!(got, want);
    }
    assert!(store.timeline(&unknown).await.unwrap().is_empty());
}

async fn a_stale_save_never_overwrites_a_newer_run(store: Arc<dyn TaskStore>) {
    // Worker 1 claims the task; its lock expires; worker 2 claims it again and performs it.
    let first = record("stale");
    let Claim::Run {
        record: mut run1, ..
    } = store.claim(&first).await.unwrap()
    else {
        panic!("a new task runs");
    };
    let mut second = first.clone();
    second.worker_id = "worker-2".into();
    let Claim::Run {
        record: mut run2, ..
    } = store.claim(&second).await.unwrap()
    else {
        panic!("an abandoned task runs again");
    };
    assert_eq!((run1.executions, run2.executions), (1, 2));
    run2.status = TaskStatus::Performed;
    run2.result_variables = Some(variables! { "done": true });
    store.save(&run2).await.unwrap();

    // Worker 1's unit ends late with a failure: its save must not replace the newer record.
    run1.status = TaskStatus::Failed;
    run1.execution_error = Some("late failure".into());
    store.save(&run1).await.unwrap();
    let stored = store.get(&first.key()).await.unwrap().unwrap();
    assert_eq!(stored.status, TaskStatus::Performed);
    assert_eq!(stored.worker_id, "worker-2");
    assert_eq!(stored.executions, 2);
    assert_eq!(stored.execution_error, None);

    // The newer run's own saves still apply.
    run2.status = TaskStatus::Completed;
    store.save(&run2).await.unwrap();
    assert_eq!(
        store.get(&first.key()).await.unwrap().unwrap().status,
        TaskStatus::Completed
    );
}

async fn process_instances_that_end_alike_are_told_apart(store: Arc<dyn TaskStore>) {
    // Ids with the same last characters (UUIDs rarely, numeric ids often), one without any, and
    // ids shorter than those characters.
    let ids = [
        Some("11111111-aaaa-4aaa-8aaa-123456789abc"),
        Some("22222222-bbbb-4bbb-8bbb-123456789abc"),
        Some("1000012345678"),
        Some("2000012345678"),
        Some("42"),
        None,
    ];
    let mut saved = Vec::new();
    for (i, pi) in ids.iter().enumerate() {
        let mut r = record("alike");
        r.process_instance_id = pi.map(str::to_owned);
        r.status = TaskStatus::ALL[i % 5];
        store.save(&r).await.unwrap();
        saved.push(r);
    }
    for (pi, r) in ids.iter().zip(&saved) {
        let Some(pi) = pi else { continue };
        let found = store
            .list(&TaskFilter::default().process_instance(*pi))
            .await
            .unwrap();
        assert_eq!(
            found.iter().map(|f| &f.task_id).collect::<Vec<_>>(),
            vec![&r.task_id],
            "{pi}"
        );
    }
    assert!(
        store
            .list(&TaskFilter::default().process_instance("12345678"))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn list_filters_by_business_key(store: Arc<dyn TaskStore>) {
    for (i, key) in [Some("zaak-1"), Some("zaak-2"), None, Some("zaak-1")]
        .into_iter()
        .enumerate()
    {
        let mut r = record("bk");
        r.business_key = key.map(str::to_owned);
        r.created_at = Timestamp::now() + SignedDuration::from_secs(i as i64);
        store.save(&r).await.unwrap();
    }
    let hits = store
        .list(&TaskFilter::default().business_key("zaak-1"))
        .await
        .unwrap();
    assert_eq!(hits.len(), 2);
    assert!(
        hits.iter()
            .all(|r| r.business_key.as_deref() == Some("zaak-1"))
    );
    assert!(hits[0].created_at > hits[1].created_at, "newest first");
    let none = store
        .list(&TaskFilter::default().business_key("zaak-9"))
        .await
        .unwrap();
    assert!(none.is_empty());
}

async fn hourly_counts_outcomes_per_hour_of_fetching(store: Arc<dyn TaskStore>) {
    let this_hour = bptl_core::store::hour_of(Timestamp::now());
    let earlier = this_hour - SignedDuration::from_hours(3);
    let too_old = this_hour - SignedDuration::from_hours(30);
    for (at, status, error, n) in [
        (this_hour, TaskStatus::Completed, None, 3),
        (
            this_hour,
            TaskStatus::Failed,
            Some("BPMN error E1: rejected"),
            2,
        ),
        (this_hour, TaskStatus::Failed, Some("boom"), 1),
        (this_hour, TaskStatus::InProgress, None, 4),
        (
            earlier + SignedDuration::from_mins(59),
            TaskStatus::Failed,
            Some("boom"),
            2,
        ),
        (too_old, TaskStatus::Completed, None, 5),
    ] {
        for _ in 0..n {
            let mut r = record("hourly");
            r.status = status;
            r.execution_error = error.map(str::to_owned);
            r.created_at = at;
            store.save(&r).await.unwrap();
        }
    }
    let rows = store
        .hourly(Timestamp::now() - SignedDuration::from_hours(24))
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![
            bptl_core::HourlyRow {
                hour: earlier,
                completed: 0,
                bpmn_errors: 0,
                failed: 2,
            },
            bptl_core::HourlyRow {
                hour: this_hour,
                completed: 3,
                bpmn_errors: 2,
                failed: 1,
            },
        ]
    );
}

async fn insert_new_takes_a_key_exactly_once(store: Arc<dyn TaskStore>) {
    // 16 inserts of one new key at once (a schedule's tick taken by a fleet): exactly one wins.
    let r = record("tick");
    let inserts = (0..16).map(|i| {
        let store = Arc::clone(&store);
        let mut mine = r.clone();
        mine.worker_id = format!("worker-{i}");
        tokio::spawn(async move { (i, store.insert_new(&mine).await.unwrap()) })
    });
    let mut winners = Vec::new();
    for insert in inserts {
        let (i, won) = insert.await.unwrap();
        if won {
            winners.push(i);
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one insert takes the key: {winners:?}"
    );
    let stored = store.get(&r.key()).await.unwrap().unwrap();
    assert_eq!(stored.worker_id, format!("worker-{}", winners[0]));
    assert_eq!(stored.status, TaskStatus::Initial);

    // An existing record is never changed by a later insert, whatever its status.
    let mut performed = stored.clone();
    performed.status = TaskStatus::Performed;
    performed.result_variables = Some(variables! { "done": true });
    store.save(&performed).await.unwrap();
    let mut again = r.clone();
    again.worker_id = "late".to_owned();
    assert!(!store.insert_new(&again).await.unwrap());
    let kept = store.get(&r.key()).await.unwrap().unwrap();
    assert_eq!(kept.status, TaskStatus::Performed);
    assert_eq!(kept.worker_id, performed.worker_id);
    assert_eq!(kept.result_variables, performed.result_variables);

    // Another key of the same topic is free.
    assert!(store.insert_new(&record("tick")).await.unwrap());
}

async fn prune_failed_deletes_only_old_failed_records_with_their_timelines(
    store: Arc<dyn TaskStore>,
) {
    let cutoff = Timestamp::now();
    let old = cutoff - SignedDuration::from_hours(24 * 91);
    let mut keep = Vec::new();
    let mut gone = Vec::new();
    for status in TaskStatus::ALL {
        for updated in [old, cutoff + SignedDuration::from_secs(1)] {
            let mut r = record("p");
            r.status = status;
            r.updated_at = updated;
            store.save(&r).await.unwrap();
            store
                .append_timeline(&r.key(), &entry(EventKind::Note, "x", json!(null)))
                .await
                .unwrap();
            if status == TaskStatus::Failed && updated == old {
                gone.push(r.key());
            } else {
                keep.push(r.key());
            }
        }
    }
    assert_eq!(store.prune_failed(cutoff).await.unwrap(), 1);
    assert_eq!(store.prune_failed(cutoff).await.unwrap(), 0);
    for key in &gone {
        assert_eq!(store.get(key).await.unwrap(), None);
        assert!(store.timeline(key).await.unwrap().is_empty());
    }
    for key in &keep {
        assert!(store.get(key).await.unwrap().is_some());
        assert_eq!(store.timeline(key).await.unwrap().len(), 1);
    }
    // `store.retention_failed` as the worker applies it: failed records older than it go,
    // completed ones of the same age stay (their retention is not set).
    let two_hours_ago = Timestamp::now() - SignedDuration::from_hours(2);
    let mut failed = record("p");
    failed.status = TaskStatus::Failed;
    failed.updated_at = two_hours_ago;
    store.save(&failed).await.unwrap();
    let mut completed = record("p");
    completed.status = TaskStatus::Completed;
    completed.updated_at = two_hours_ago;
    store.save(&completed).await.unwrap();
    let retention = bptl_store::Retention {
        completed: None,
        failed: Some(std::time::Duration::from_secs(3600)),
    };
    let pruning = bptl_store::spawn_retention(
        Arc::clone(&store),
        retention,
        std::time::Duration::from_secs(3600),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.get(&failed.key()).await.unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "retention did not prune the failed record"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    pruning.abort();
    assert!(store.get(&completed.key()).await.unwrap().is_some());
    assert_eq!(
        bptl_store::prune_failed_older_than(&*store, std::time::Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
}

async fn erasing_a_process_instance_deletes_all_its_records_and_timelines(
    store: Arc<dyn TaskStore>,
) {
    let mut erased = Vec::new();
    let mut kept = Vec::new();
    for instance in [Some("pi-erase"), Some("pi-erase-2"), Some("PI-ERASE"), None] {
        for status in TaskStatus::ALL {
            let mut r = record("p");
            r.status = status;
            r.process_instance_id = instance.map(str::to_owned);
            store.save(&r).await.unwrap();
            store
                .append_timelines(&[
                    (
                        r.key(),
                        entry(EventKind::Note, "personal", json!({"name": "x"})),
                    ),
                    (r.key(), entry(EventKind::Note, "more", json!(null))),
                ])
                .await
                .unwrap();
            if instance == Some("pi-erase") {
                erased.push(r);
            } else {
                kept.push(r);
            }
        }
    }
    let n = u64::try_from(erased.len()).unwrap();
    assert_eq!(store.erase_process_instance("pi-erase").await.unwrap(), n);
    assert_eq!(store.erase_process_instance("pi-erase").await.unwrap(), 0);
    for r in &erased {
        assert_eq!(store.get(&r.key()).await.unwrap(), None);
        assert!(store.timeline(&r.key()).await.unwrap().is_empty());
    }
    let listed = store
        .list(&TaskFilter::default().process_instance("pi-erase"))
        .await
        .unwrap();
    assert!(listed.is_empty(), "{listed:?}");
    for r in &kept {
        assert_eq!(store.get(&r.key()).await.unwrap().as_ref(), Some(r));
        assert_eq!(store.timeline(&r.key()).await.unwrap().len(), 2);
    }
    // A task of the instance stored again later starts with an empty timeline.
    store.save(&erased[0]).await.unwrap();
    assert!(store.timeline(&erased[0].key()).await.unwrap().is_empty());
}
