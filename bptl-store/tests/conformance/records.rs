//! Records: saving, reading back, the identity a save keeps, stale saves, status resets, insert_new, many writers at once.

use super::*;

pub(super) async fn a_record_round_trips_exactly(store: Arc<dyn TaskStore>) {
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

pub(super) async fn save_replaces_the_record_and_keeps_the_timeline(store: Arc<dyn TaskStore>) {
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

pub(super) async fn a_save_keeps_what_identifies_the_task(store: Arc<dyn TaskStore>) {
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

pub(super) async fn a_stale_save_never_overwrites_a_newer_run(store: Arc<dyn TaskStore>) {
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

pub(super) async fn reset_status_changes_only_the_status(store: Arc<dyn TaskStore>) {
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

pub(super) async fn insert_new_takes_a_key_exactly_once(store: Arc<dyn TaskStore>) {
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

pub(super) async fn concurrent_writes_of_many_tasks_stay_apart(store: Arc<dyn TaskStore>) {
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
