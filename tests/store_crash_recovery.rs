//! Exactly-once effects across real crashes: a real worker process (`worker run --config`,
//! SQLite store in a temporary directory) is SIGKILLed (a) while its units run, (b) after the
//! units performed and before the engine heard, (c) while the completions are on the wire; a
//! second worker process is started on the same store and every process instance must
//! complete. In (b) and (c) every unit ran exactly once; in (a) — the one case a unit may run
//! twice — every unit ran exactly twice, and the record says so.
//!
//! The worker process is this test executable (see `support/store_worker.rs`).
#![allow(clippy::unwrap_used)]

#[path = "support/store_support.rs"]
mod store_support;
#[path = "support/store_worker.rs"]
mod store_worker;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bptl::sql_store::SqliteStore;
use bptl_core::store::{TaskFilter, TaskStore};
use bptl_core::{EventKind, TaskStatus};
use bptl_dev_engine::{DevEngine, Endpoint, InstanceState};
use serde_json::json;

use store_support::TempDir;
use store_worker::{WorkerProcess, runs};

const TOPIC: &str = "crash";
const INSTANCES: usize = 3;

struct Scenario {
    engine: DevEngine,
    dir: TempDir,
    effects: PathBuf,
    store_url: String,
    instances: Vec<String>,
}

impl Scenario {
    async fn new(key: &str, sleep_ms: i64) -> Self {
        let engine = DevEngine::start().await.unwrap();
        engine
            .deploy_str(
                &format!("{key}.bpmn"),
                &store_support::one_task_bpmn(key, TOPIC),
            )
            .unwrap();
        let dir = TempDir::new();
        let effects = dir.0.join("effects.txt");
        let store_url = dir.sqlite_url("bptl.db");
        let instances = (0..INSTANCES)
            .map(|_| {
                engine
                    .start_process(
                        key,
                        json!({"sleepMs": {"value": sleep_ms, "type": "Long"}}),
                        None,
                    )
                    .unwrap()
            })
            .collect();
        Self {
            engine,
            dir,
            effects,
            store_url,
            instances,
        }
    }

    fn worker(&self, name: &str) -> WorkerProcess {
        let config = store_worker::write_config(
            &self.dir.0,
            &store_worker::WorkerConfig {
                engine_url: &self.engine.url(),
                worker_id: name,
                topic: TOPIC,
                store_url: &self.store_url,
                max_tasks: INSTANCES,
                lock_duration: "3s",
            },
        );
        WorkerProcess::spawn(&config, &self.effects, name)
    }

    async fn store(&self) -> SqliteStore {
        SqliteStore::connect(&self.store_url).await.unwrap()
    }

    /// Wait until `INSTANCES` records have `status` (the worker writes them).
    async fn wait_for_status(&self, status: TaskStatus, worker: &mut WorkerProcess) {
        let store = self.store().await;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let n = store
                .list(&TaskFilter::default().status(status))
                .await
                .unwrap()
                .len();
            if n == INSTANCES {
                break;
            }
            worker.assert_running();
            assert!(
                Instant::now() < deadline,
                "no {INSTANCES} records {status} after 60 s:\n{}",
                worker.output()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        store.close().await;
    }

    /// Start a worker `id`, wait until every instance completed and every record says so
    /// (the engine accepts a completion a moment before the worker records it), then stop it.
    async fn restart_until_all_completed(&self, id: &str) {
        let mut worker = self.worker(id);
        self.wait_until_all_completed(&mut worker).await;
        self.wait_for_status(TaskStatus::Completed, &mut worker)
            .await;
        worker.kill();
    }

    async fn wait_until_all_completed(&self, worker: &mut WorkerProcess) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self
            .instances
            .iter()
            .all(|i| self.engine.instance_state(i) == Some(InstanceState::Completed))
        {
            worker.assert_running();
            assert!(
                Instant::now() < deadline,
                "not every instance completed within 60 s after the restart:\n{}",
                worker.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for i in &self.instances {
            let ran = self.engine.history_variables(i).unwrap()["ran"]["value"].clone();
            assert_eq!(ran, json!(true), "instance {i} got the unit's result");
        }
    }
}

/// Every instance's unit ran exactly `times` times (counted by its side effects).
fn assert_each_unit_ran(effects: &std::path::Path, times: usize, what: &str) {
    let counted = runs(effects);
    assert_eq!(counted.len(), INSTANCES);
    assert!(counted.values().all(|n| *n == times), "{what}: {counted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_while_units_run_they_run_again_once_and_everything_completes() {
    let s = Scenario::new("crash_a", 3_000).await;
    let mut first = s.worker("crash-a-1");
    s.wait_for_status(TaskStatus::InProgress, &mut first).await;
    // Every unit has started (its side effect is written first, then it sleeps 3 s).
    let deadline = Instant::now() + Duration::from_secs(10);
    while runs(&s.effects).len() < INSTANCES {
        assert!(Instant::now() < deadline, "the units did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill();
    assert!(
        s.instances
            .iter()
            .all(|i| s.engine.instance_state(i) == Some(InstanceState::Active))
    );

    s.restart_until_all_completed("crash-a-2").await;

    assert_each_unit_ran(&s.effects, 2, "each abandoned unit ran again exactly once");
    let store = s.store().await;
    for record in store.list(&TaskFilter::default()).await.unwrap() {
        assert_eq!(record.status, TaskStatus::Completed, "{record:?}");
        assert_eq!(record.executions, 2, "the record counts both runs");
        assert_eq!(record.worker_id, "crash-a-2");
        let timeline = store.timeline(&record.key()).await.unwrap();
        assert!(
            timeline
                .iter()
                .any(|e| e.kind == EventKind::Recovery && e.message.contains("abandoned")),
            "the re-run is recorded as abandoned: {timeline:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_killed_after_perform_before_complete_the_results_are_delivered_without_running_again() {
    let s = Scenario::new("crash_b", 0).await;
    // Completions are held by the engine and never processed: the worker is parked between
    // "performed" (stored) and "completed".
    s.engine
        .faults()
        .drop_next(Endpoint::Complete, INSTANCES, Duration::from_secs(120));
    let mut first = s.worker("crash-b-1");
    s.wait_for_status(TaskStatus::Performed, &mut first).await;
    first.kill();
    assert_eq!(runs(&s.effects).values().sum::<usize>(), INSTANCES);
    assert!(
        s.instances
            .iter()
            .all(|i| s.engine.instance_state(i) == Some(InstanceState::Active))
    );
    s.engine.faults().clear();

    s.restart_until_all_completed("crash-b-2").await;

    assert_each_unit_ran(&s.effects, 1, "every unit ran exactly once");
    let store = s.store().await;
    for record in store.list(&TaskFilter::default()).await.unwrap() {
        assert_eq!(record.status, TaskStatus::Completed, "{record:?}");
        assert_eq!(record.executions, 1);
        let timeline = store.timeline(&record.key()).await.unwrap();
        assert!(
            timeline.iter().any(|e| e.kind == EventKind::Recovery),
            "the delivery from the stored result is recorded: {timeline:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_killed_while_completing_every_unit_ran_once_and_everything_completes() {
    let s = Scenario::new("crash_c", 0).await;
    // The completions reach the engine and wait there; the worker dies meanwhile. The engine
    // may still process them after the worker is gone (it heard, the worker never knew).
    s.engine
        .faults()
        .add_latency(Endpoint::Complete, Duration::from_millis(1500));
    let mut first = s.worker("crash-c-1");
    let deadline = Instant::now() + Duration::from_secs(60);
    while s.engine.faults().request_count(Endpoint::Complete) < INSTANCES as u64 {
        first.assert_running();
        assert!(
            Instant::now() < deadline,
            "no completions reached the engine:\n{}",
            first.output()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill();
    s.engine.faults().clear();

    s.restart_until_all_completed("crash-c-2").await;

    assert_each_unit_ran(&s.effects, 1, "every unit ran exactly once");
    let store = s.store().await;
    for record in store.list(&TaskFilter::default()).await.unwrap() {
        assert_eq!(record.executions, 1, "{record:?}");
        assert!(record.result_variables.is_some());
    }
}
