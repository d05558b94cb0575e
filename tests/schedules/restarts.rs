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
