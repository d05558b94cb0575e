//! A fleet: three real worker processes share one engine and one PostgreSQL store (a fresh
//! database on the test server). Every task completes, every unit runs exactly once, every
//! process does part of the work, and the shared history holds one record per task.
//!
//! The worker processes are this test executable (see `support/store_worker.rs`).
#![allow(clippy::unwrap_used)]

#[path = "support/store_support.rs"]
mod store_support;
#[path = "support/store_worker.rs"]
mod store_worker;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bptl_core::TaskStatus;
use bptl_core::store::TaskFilter;
use bptl_dev_engine::{DevEngine, InstanceState};
use serde_json::json;

use store_support::{TempDir, TestDatabase};
use store_worker::{WorkerProcess, runs};

const TASKS: usize = 300;
const WORKERS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_one_postgres_store_and_run_every_unit_once() {
    let db = TestDatabase::create().await;
    let engine = DevEngine::start().await.unwrap();
    engine
        .deploy_str(
            "fleet.bpmn",
            &store_support::one_task_bpmn("fleet", "fleet"),
        )
        .unwrap();
    let dir = TempDir::new();
    let effects = dir.0.join("effects.txt");
    let instances: Vec<String> = (0..TASKS)
        .map(|_| {
            engine
                .start_process(
                    "fleet",
                    json!({"sleepMs": {"value": 5, "type": "Long"}}),
                    None,
                )
                .unwrap()
        })
        .collect();

    let mut workers: Vec<WorkerProcess> = (1..=WORKERS)
        .map(|n| {
            let name = format!("fleet-{n}");
            let config = store_worker::write_config(
                &dir.0,
                &store_worker::WorkerConfig {
                    engine_url: &engine.url(),
                    worker_id: &name,
                    topic: "fleet",
                    store_url: &db.url,
                    max_tasks: 8,
                    lock_duration: "30s",
                },
            );
            WorkerProcess::spawn(&config, &effects, &name)
        })
        .collect();

    let started = Instant::now();
    let deadline = started + Duration::from_secs(120);
    while !instances
        .iter()
        .all(|i| engine.instance_state(i) == Some(InstanceState::Completed))
    {
        for w in &mut workers {
            w.assert_running();
        }
        assert!(
            Instant::now() < deadline,
            "not every task completed within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    // The engine has heard every completion; the workers record it right after.
    let store = bptl::sql_store::connect(&db.url).await.unwrap();
    let completed = TaskFilter::default().status(TaskStatus::Completed);
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.list(&completed).await.unwrap().len() < TASKS {
        if Instant::now() >= deadline {
            let open: Vec<_> = store
                .list(&TaskFilter::default())
                .await
                .unwrap()
                .into_iter()
                .filter(|r| r.status != TaskStatus::Completed)
                .collect();
            let logs: Vec<String> = workers.iter().map(|w| w.output()).collect();
            panic!(
                "the workers did not record every completion; not completed: {open:#?}\nworker logs:\n{}",
                logs.join("\n----\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for w in &mut workers {
        w.kill();
    }

    let counted = runs(&effects);
    assert_eq!(counted.len(), TASKS, "every task's unit ran");
    let twice: Vec<_> = counted.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "units that ran more than once: {twice:?}");

    let records = store.list(&TaskFilter::default()).await.unwrap();
    assert_eq!(
        records.len(),
        TASKS,
        "one record per task in the shared history"
    );
    let mut per_worker: BTreeMap<String, usize> = BTreeMap::new();
    for r in &records {
        assert_eq!(r.status, TaskStatus::Completed, "{r:?}");
        assert_eq!(r.executions, 1, "{r:?}");
        *per_worker.entry(r.worker_id.clone()).or_default() += 1;
    }
    assert_eq!(
        per_worker.len(),
        WORKERS,
        "every process took part: {per_worker:?}"
    );
    let stats = store.stats(None).await.unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].count, TASKS as u64);
    eprintln!("{TASKS} tasks by {WORKERS} processes in {elapsed:?}: {per_worker:?}");
}

/// A worker starting on a shared store leaves a task another worker performed to that worker
/// while its lock lasts (it may be completing it right now); once the lock expired the engine
/// hands the task out again and the stored result is delivered without running the unit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starting_worker_leaves_another_workers_performed_task_to_it_while_its_lock_lasts() {
    use bptl::camunda::{CamundaClient, CamundaEngine};
    use bptl::runtime::{Worker, WorkerConfig};
    use bptl::{Registry, TaskMapping, TaskMappings};

    const LOCK: Duration = Duration::from_secs(8);
    let db = TestDatabase::create().await;
    let engine = DevEngine::start().await.unwrap();
    engine
        .deploy_str("left.bpmn", &store_support::one_task_bpmn("left", "left"))
        .unwrap();
    let instance = engine.start_process("left", json!({}), None).unwrap();
    let store = bptl::sql_store::connect(&db.url).await.unwrap();
    assert!(store.shared_by_processes());

    // Another worker locks the task for 8 s and has performed it: its record holds the
    // result, the engine has not heard yet.
    let other = Worker::builder(CamundaEngine::new(
        CamundaClient::new(engine.url()).unwrap(),
    ))
    .registry(Registry::global().unwrap().clone())
    .mappings(TaskMappings::new([TaskMapping::new("left", store_worker::RECORD_RUN)]).unwrap())
    .config(WorkerConfig {
        worker_id: Some("left-other".into()),
        lock_duration: LOCK,
        ..WorkerConfig::default()
    })
    .store(std::sync::Arc::clone(&store))
    .build()
    .unwrap();
    let mut record = other.fetch_and_save(1).await.unwrap().remove(0);
    let locked_at = Instant::now();
    record.status = TaskStatus::Performed;
    record.result_variables = Some(bptl::variables! { "ran": "by left-other" });
    store.save(&record).await.unwrap();

    let dir = TempDir::new();
    let effects = dir.0.join("effects.txt");
    let config = store_worker::write_config(
        &dir.0,
        &store_worker::WorkerConfig {
            engine_url: &engine.url(),
            worker_id: "left-new",
            topic: "left",
            store_url: &db.url,
            max_tasks: 2,
            lock_duration: "30s",
        },
    );
    let mut worker = WorkerProcess::spawn(&config, &effects, "left-new");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !worker.output().contains("worker started") {
        worker.assert_running();
        assert!(Instant::now() < deadline, "the worker did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Start-up recovery is done right after "worker started"; give it a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The checks below must run while the other worker's lock lasts.
    assert!(
        locked_at.elapsed() < LOCK - Duration::from_secs(1),
        "the worker took longer than the lock ({LOCK:?}) to start: nothing would be proven"
    );
    assert_eq!(
        engine.instance_state(&instance),
        Some(InstanceState::Active),
        "the starting worker delivered a result another worker holds the lock for:\n{}",
        worker.output()
    );
    let stored = store.get(&record.key()).await.unwrap().unwrap();
    assert_eq!(stored.status, TaskStatus::Performed, "{stored:?}");

    let deadline = Instant::now() + Duration::from_secs(30);
    while engine.instance_state(&instance) != Some(InstanceState::Completed) {
        worker.assert_running();
        assert!(
            Instant::now() < deadline,
            "the stored result was not delivered after the lock expired:\n{}",
            worker.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ran = engine.history_variables(&instance).unwrap()["ran"]["value"].clone();
    assert_eq!(
        ran,
        json!("by left-other"),
        "the stored result was delivered"
    );
    assert!(runs(&effects).is_empty(), "the unit did not run again");
    worker.kill();
}
