//! A failing tick retries per the mapping's policy.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_tick_retries_per_the_mappings_policy() {
    let store: Arc<dyn TaskStore> = Arc::new(InMemoryStore::new());
    // Yearly ticks with a recorded tick two years back: the latest tick is caught up at
    // once, and it is the only one in this test.
    let yearly = |name: &str, failures: i64| {
        Schedule::new(name, "0 0 1 1 *", name)
            .unwrap()
            .time_zone("UTC")
            .unwrap()
            .variables(variables! { "test": name, "failures": failures })
    };
    let recovers = yearly("recovers", 2);
    let gives_up = yearly("gives-up", 100);
    let long_ago = recovers
        .last_at_or_before(Timestamp::now())
        .unwrap()
        .checked_sub(jiff::SignedDuration::from_hours(2 * 366 * 24))
        .unwrap();
    for s in [&recovers, &gives_up] {
        store
            .save(&recorded_tick(
                s.name(),
                s.topic(),
                long_ago,
                TaskStatus::Completed,
                "w-old",
            ))
            .await
            .unwrap();
    }
    let policy = |retries| RetryPolicy {
        retries,
        retry_timeout: Duration::from_millis(400),
        ..RetryPolicy::default()
    };
    let worker = start(
        vec![recovers, gives_up],
        vec![
            mapping("recovers", "flaky", policy(3)),
            mapping("gives-up", "flaky", policy(2)),
        ],
        Arc::clone(&store),
        None,
    );
    wait_until("three runs and two", Duration::from_secs(15), || {
        runs("recovers").len() >= 3 && runs("gives-up").len() >= 2
    })
    .await;
    // A wrong further retry would come within the retry wait.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let stats = worker.stop().await;

    let recovered = runs("recovers");
    assert_eq!(
        recovered.len(),
        3,
        "two failures, then success: {recovered:?}"
    );
    for pair in recovered.windows(2) {
        assert_eq!(pair[0].0, pair[1].0, "the same tick each time");
        assert!(
            pair[1].1 - pair[0].1 >= Duration::from_millis(380),
            "the retry waited the policy's retry_timeout"
        );
    }
    let record = store
        .get(&bptl::TaskKey::new("schedule", &recovered[0].0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, TaskStatus::Completed, "{record:?}");
    assert_eq!(record.executions, 3);
    assert_eq!(record.result_variables, Some(variables! { "runs": 3 }));

    let gave_up = runs("gives-up");
    assert_eq!(
        gave_up.len(),
        2,
        "retries = 2: one retry, then over: {gave_up:?}"
    );
    let record = store
        .get(&bptl::TaskKey::new("schedule", &gave_up[0].0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, TaskStatus::Failed, "{record:?}");
    assert_eq!(record.executions, 2);
    let timeline = store.timeline(&record.key()).await.unwrap();
    assert!(
        timeline.iter().any(|e| e
            .message
            .starts_with("failure reported: run 2 fails on purpose (0 retries left")),
        "{timeline:#?}"
    );
    assert_eq!(stats.failed, 4, "{stats:?}");
    assert_eq!(stats.completed, 1, "{stats:?}");
}
