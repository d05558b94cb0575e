//! Ticks on time: a schedule every second runs once a second; catch-up one and none.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_every_second_runs_once_a_second() {
    const N: usize = 5;
    let store: Arc<dyn TaskStore> = Arc::new(InMemoryStore::new());
    let started = Instant::now();
    let worker = start(
        vec![every_second("pulse", "pulse", "pulse")],
        vec![mapping("pulse", "record_tick", RetryPolicy::default())],
        Arc::clone(&store),
        None,
    );
    wait_until("five ticks ran", Duration::from_secs(15), || {
        runs("pulse").len() >= N
    })
    .await;
    let elapsed = started.elapsed();
    let stats = worker.stop().await;
    let ids = run_ids("pulse");
    // The first tick comes within a second of the start, then one a second.
    assert!(
        elapsed > Duration::from_millis(3900) && elapsed < Duration::from_secs(8),
        "{N} ticks took {elapsed:?}"
    );
    let ticks: Vec<Timestamp> = ids.iter().map(|id| tick(id)).collect();
    for pair in ticks.windows(2) {
        assert_eq!(
            pair[1].duration_since(pair[0]).as_secs(),
            1,
            "consecutive seconds, none skipped or twice: {ids:?}"
        );
    }
    assert!(ids.iter().all(|id| id.starts_with("pulse@")), "{ids:?}");
    assert!(stats.completed >= N as u64, "{stats:?}");
    let records = store
        .list(&TaskFilter::default().engine("schedule"))
        .await
        .unwrap();
    assert_eq!(
        records.len(),
        ids.len(),
        "one record per tick: {records:#?}"
    );
    for r in &records {
        assert_eq!(r.status, TaskStatus::Completed, "{r:?}");
        assert_eq!(r.executions, 1, "{r:?}");
        assert_eq!(r.topic, "pulse");
        assert_eq!(r.business_key.as_deref(), Some("pulse"));
        assert_eq!(r.result_variables, Some(variables! { "ran": true }));
    }
    let timeline = store.timeline(&records[0].key()).await.unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| e.message.contains("in_progress → performed")
                || e.message.contains("performed")),
        "the tick's timeline shows its run: {timeline:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_one_runs_the_latest_missed_tick_once_and_none_skips_it() {
    let store: Arc<dyn TaskStore> = Arc::new(InMemoryStore::new());
    let now = Timestamp::now();
    let make = |name: &str, catch_up: CatchUp| {
        Schedule::new(name, "* * * * *", name)
            .unwrap()
            .variables(variables! { "test": name })
            .catch_up(catch_up)
    };
    let one = make("catch-one", CatchUp::One);
    let none = make("catch-none", CatchUp::None);
    // Both last ran three minutes before the latest tick: three ticks passed unrun since.
    let latest = one.last_at_or_before(now).unwrap();
    let three_before = latest
        .checked_sub(jiff::SignedDuration::from_mins(3))
        .unwrap();
    for s in [&one, &none] {
        store
            .save(&recorded_tick(
                s.name(),
                s.topic(),
                three_before,
                TaskStatus::Completed,
                "w-old",
            ))
            .await
            .unwrap();
    }
    let started = Timestamp::now();
    let worker = start(
        vec![one.clone(), none.clone()],
        vec![
            mapping("catch-one", "record_tick", RetryPolicy::default()),
            mapping("catch-none", "record_tick", RetryPolicy::default()),
        ],
        Arc::clone(&store),
        None,
    );
    wait_until("the missed tick ran", Duration::from_secs(10), || {
        !runs("catch-one").is_empty()
    })
    .await;
    // Time for a wrong second catch-up tick, or one of the skipping schedule, to show up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    worker.stop().await;
    // Ticks after the start are regular ticks (a minute may turn meanwhile).
    let missed = |test: &str| -> Vec<String> {
        run_ids(test)
            .into_iter()
            .filter(|id| tick(id) <= started)
            .collect()
    };
    assert_eq!(
        missed("catch-one"),
        [format!("catch-one@{latest}")],
        "only the latest missed tick, once"
    );
    assert!(
        missed("catch-none").is_empty(),
        "{:?}",
        run_ids("catch-none")
    );
    let skipped = format!("catch-none@{latest}");
    assert!(
        store
            .get(&bptl::TaskKey::new("schedule", &skipped))
            .await
            .unwrap()
            .is_none(),
        "a skipped tick leaves no record"
    );
}
