//! Restarts: a restarted worker does not run a tick again, and resumes the ticks it took and
//! did not finish.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_worker_does_not_run_a_tick_again() {
    let dir = TempDir::new();
    let schedule = every_second("restart", "restart", "restart");
    let mappings = || vec![mapping("restart", "record_tick", RetryPolicy::default())];
    let first = start(vec![schedule.clone()], mappings(), sqlite(&dir).await, None);
    wait_until("three ticks", Duration::from_secs(15), || {
        runs("restart").len() >= 3
    })
    .await;
    first.stop().await;
    let before = run_ids("restart");
    // A new process: a new store connection, a new worker id, catching up one tick.
    let store = sqlite(&dir).await;
    let second = start(vec![schedule], mappings(), Arc::clone(&store), None);
    wait_until("three more ticks", Duration::from_secs(15), || {
        runs("restart").len() >= before.len() + 3
    })
    .await;
    second.stop().await;
    let all = run_ids("restart");
    let mut counted: BTreeMap<&str, usize> = BTreeMap::new();
    for id in &all {
        *counted.entry(id).or_default() += 1;
    }
    assert!(
        counted.values().all(|n| *n == 1),
        "every tick ran once across the restart: {counted:?}"
    );
    let last_before = before.iter().map(|id| tick(id)).max().unwrap();
    assert!(
        all[before.len()..].iter().all(|id| tick(id) > last_before),
        "the restarted worker ran only later ticks: {all:?}"
    );
    let records = store
        .list(&TaskFilter::default().engine("schedule"))
        .await
        .unwrap();
    assert_eq!(records.len(), all.len(), "{records:#?}");
    assert!(
        records
            .iter()
            .all(|r| r.status == TaskStatus::Completed && r.executions == 1)
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_taken_but_never_started_runs_when_its_worker_restarts() {
    let dir = TempDir::new();
    let store = sqlite(&dir).await;
    // Yearly: the latest tick is this year's 1 January, the next one far away.
    let schedule = Schedule::new("yearly", "0 0 1 1 *", "yearly")
        .unwrap()
        .time_zone("UTC")
        .unwrap()
        .variables(variables! { "test": "resume" });
    let latest = schedule.last_at_or_before(Timestamp::now()).unwrap();
    // The worker "w-1" took the tick, then died before its unit started.
    store
        .save(&recorded_tick(
            "yearly",
            "yearly",
            latest,
            TaskStatus::Initial,
            "w-1",
        ))
        .await
        .unwrap();
    let worker = start(
        vec![schedule],
        vec![mapping("yearly", "record_tick", RetryPolicy::default())],
        Arc::clone(&store),
        Some("w-1"),
    );
    wait_until("the resumed tick ran", Duration::from_secs(10), || {
        !runs("resume").is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    worker.stop().await;
    assert_eq!(run_ids("resume"), [format!("yearly@{latest}")]);
    let record = store
        .get(&bptl::TaskKey::new("schedule", format!("yearly@{latest}")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, TaskStatus::Completed);
    assert_eq!(record.executions, 1);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_a_failed_ticks_retries_and_not_a_tick_that_is_over() {
    let dir = TempDir::new();
    let store = sqlite(&dir).await;
    // Yearly ticks with a recorded tick two years back: the latest tick is caught up at once.
    let yearly = |name: &str, failures: i64| {
        Schedule::new(name, "0 0 1 1 *", name)
            .unwrap()
            .time_zone("UTC")
            .unwrap()
            .variables(variables! { "test": name, "failures": failures })
    };
    let pending = yearly("retry-pending", 2);
    let over = yearly("retry-over", 100);
    let silent = yearly("retry-silent", 100);
    let latest = pending.last_at_or_before(Timestamp::now()).unwrap();
    let long_ago = latest
        .checked_sub(jiff::SignedDuration::from_hours(2 * 366 * 24))
        .unwrap();
    for s in [&pending, &over] {
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
    // The latest tick of `retry-silent`: failed with no retries left, and no timeline at all.
    let mut exhausted = recorded_tick(
        silent.name(),
        silent.topic(),
        latest,
        TaskStatus::Failed,
        "w-fail",
    );
    exhausted.retries = Some(0);
    store.save(&exhausted).await.unwrap();
    let policy = |retries| RetryPolicy {
        retries,
        retry_timeout: Duration::from_millis(1500),
        ..RetryPolicy::default()
    };
    let mappings = || {
        vec![
            mapping("retry-pending", "flaky", policy(3)),
            mapping("retry-over", "flaky", policy(1)),
            mapping("retry-silent", "flaky", policy(3)),
        ]
    };
    let schedules = vec![pending.clone(), over.clone(), silent.clone()];
    let first = start(
        schedules.clone(),
        mappings(),
        Arc::clone(&store),
        Some("w-fail"),
    );
    wait_until("both ticks failed once", Duration::from_secs(10), || {
        runs("retry-pending").len() == 1 && runs("retry-over").len() == 1
    })
    .await;
    first.stop().await;
    let key = |s: &Schedule| bptl::TaskKey::new("schedule", s.task_id(latest));
    let failed = store.get(&key(&pending)).await.unwrap().unwrap();
    assert_eq!(
        (failed.status, failed.retries),
        (TaskStatus::Failed, Some(2)),
        "the record keeps the retries the failure left: {failed:?}"
    );
    let ended = store.get(&key(&over)).await.unwrap().unwrap();
    assert_eq!((ended.status, ended.retries), (TaskStatus::Failed, Some(0)));

    // A new process: a new store connection, the same worker id.
    let store = sqlite(&dir).await;
    let second = start(schedules, mappings(), Arc::clone(&store), Some("w-fail"));
    wait_until(
        "the pending tick's two retries",
        Duration::from_secs(15),
        || runs("retry-pending").len() >= 3,
    )
    .await;
    // A wrong run of a tick that is over would come at once.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    second.stop().await;

    let resumed = runs("retry-pending");
    assert_eq!(resumed.len(), 3, "{resumed:?}");
    assert!(resumed.iter().all(|(id, _)| *id == pending.task_id(latest)));
    assert!(
        resumed[2].1 - resumed[1].1 >= Duration::from_millis(1450),
        "the retry after the restart waited the policy's retry_timeout"
    );
    let record = store.get(&key(&pending)).await.unwrap().unwrap();
    assert_eq!(record.status, TaskStatus::Completed, "{record:?}");
    assert_eq!(record.executions, 3);
    assert_eq!(record.result_variables, Some(variables! { "runs": 3 }));
    assert_eq!(
        run_ids("retry-over").len(),
        1,
        "a tick that is over is not run again"
    );
    assert!(
        run_ids("retry-silent").is_empty(),
        "its record says no retries are left: over, without a timeline to read"
    );
    store.close().await;
}
