//! A worker on the dev engine with a real store (SQLite, or PostgreSQL), its dashboard served
//! on loopback, and instances that end completed, failed and with a BPMN error: what the
//! dashboard tests look at.
#![allow(dead_code, clippy::unwrap_used)]
// Test support shared by several test crates: its `pub` items are used across modules.
#![allow(unreachable_pub)]

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bptl::camunda::{CamundaClient, CamundaEngine};
use bptl::config::Config;
use bptl::dashboard::{Dashboard, Running};
use bptl::prelude::*;
use bptl_core::store::{TaskFilter, TaskStore};
use bptl_core::{TaskStatus, Worker};
use bptl_dev_engine::DevEngine;
use serde_json::json;

use super::store_support::{self, TempDir, TestDatabase};

/// The business keys whose [`flaky`] tasks succeed (tests running at once heal only their own).
static HEALED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Environments started, for business keys unique to each.
static ENVS: AtomicUsize = AtomicUsize::new(0);

/// Test unit: fails (no retries left, so the engine does not hand it out again) until its
/// business key is [healed](Env::heal), then returns `fixed = true`.
#[register]
pub async fn flaky(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let _ = task.get_variables()?;
    let key = task.business_key().unwrap_or_default().to_owned();
    if HEALED.lock().unwrap().contains(&key) {
        Ok(variables! { "fixed": true })
    } else {
        Err(Failure::new("the archive is down: connection refused")
            .retries(0)
            .into())
    }
}

/// The callback path of [`flaky`].
pub const FLAKY: &str = concat!(module_path!(), "::flaky");

/// Which store the worker writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

/// The running environment.
pub struct Env {
    pub engine: DevEngine,
    pub store: Arc<dyn TaskStore>,
    pub dashboard: Running,
    pub base: String,
    pub worker: bptl_core::WorkerHandle,
    pub worker_task: tokio::task::JoinHandle<bptl_core::WorkerStats>,
    pub instances: Instances,
    _dir: TempDir,
    _db: Option<TestDatabase>,
}

/// The process instances started, by how they end.
#[derive(Debug, Clone, Default)]
pub struct Instances {
    pub completed: Vec<String>,
    pub failed: Vec<String>,
    pub bpmn_error: Vec<String>,
}

/// The `<script>` payload one completed instance carries in a variable.
pub const XSS: &str = "<script>alert('pwned')</script>";

impl Env {
    /// Start everything with `[dashboard]` keys `dashboard_toml` (the address is chosen here)
    /// and wait until the instances' tasks are recorded with their outcomes.
    pub async fn start(kind: StoreKind, dashboard_toml: &str) -> Env {
        let n = ENVS.fetch_add(1, Ordering::SeqCst);
        let engine = DevEngine::start().await.unwrap();
        let dir = TempDir::new();
        let (store_url, db) = match kind {
            StoreKind::Sqlite => (dir.sqlite_url("dashboard.db"), None),
            StoreKind::Postgres => {
                let db = TestDatabase::create().await;
                (db.url.clone(), Some(db))
            }
        };
        let toml = format!(
            r#"[engine]
url = "{url}"
worker_id = "dashboard-worker"
max_tasks = 4
lock_duration = "1m"
async_response_timeout = "1s"
shutdown_grace = "1s"

[[task_mappings]]
topic = "double"
callback = "bptl_dummy::Double"

[[task_mappings]]
topic = "flaky"
callback = "{FLAKY}"

[[task_mappings]]
topic = "reject"
callback = "bptl_dummy::bpmn_error"

[store]
enabled = true
url = "{store_url}"

[dashboard]
{dashboard_toml}
"#,
            url = engine.url()
        );
        let config = Config::from_toml_str(&toml, &|_| None).unwrap();
        let store = bptl::cli::open_store(&config.store).await.unwrap();
        for (key, topic) in [
            ("double", "double"),
            ("flaky", "flaky"),
            ("reject", "reject"),
        ] {
            engine
                .deploy_str(
                    &format!("{key}.bpmn"),
                    &store_support::one_task_bpmn(key, topic),
                )
                .unwrap();
        }
        let mut instances = Instances::default();
        for i in 0..3 {
            let vars = if i == 0 {
                json!({"amount": {"value": 21, "type": "Integer"}, "note": {"value": XSS, "type": "String"}})
            } else {
                json!({"amount": {"value": 21 + i, "type": "Integer"}})
            };
            instances.completed.push(
                engine
                    .start_process("double", vars, Some(&format!("BK-{i}")))
                    .unwrap(),
            );
        }
        for i in 0..2 {
            instances.failed.push(
                engine
                    .start_process("flaky", json!({}), Some(&format!("FLAKY-{n}-{i}")))
                    .unwrap(),
            );
        }
        instances.bpmn_error.push(
            engine
                .start_process(
                    "reject",
                    json!({"errorCode": {"value": "REJECTED", "type": "String"}, "errorMessage": {"value": "not allowed", "type": "String"}}),
                    Some("REJECT-0"),
                )
                .unwrap(),
        );
        let client = CamundaClient::new(engine.url()).unwrap();
        let worker = Worker::builder(CamundaEngine::new(client))
            .mappings(config.mappings())
            .config(config.worker_config())
            .store(Arc::clone(&store))
            .build()
            .unwrap();
        let handle = worker.handle();
        let stop = handle.clone();
        let worker_task = tokio::spawn(worker.run(async move {
            while !stop.is_shutting_down() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
        // Every task recorded with its outcome (6 tasks: 3 completed, 3 failed).
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let done = store
                .list(&TaskFilter::default())
                .await
                .unwrap()
                .iter()
                .filter(|r| {
                    matches!(r.status, TaskStatus::Completed | TaskStatus::Failed)
                        && r.reported_at.is_some()
                })
                .count();
            if done == 6 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the worker did not finish the 6 tasks ({done} done)"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let dashboard = Dashboard::new(Arc::clone(&store), &config.dashboard)
            .unwrap()
            .with_config(&config)
            .with_worker(handle.clone())
            .serve(config.dashboard.addr.unwrap_or(([127, 0, 0, 1], 0).into()))
            .await
            .unwrap();
        let base = format!("http://{}", dashboard.addr);
        Env {
            engine,
            store,
            base,
            dashboard,
            worker: handle,
            worker_task,
            instances,
            _dir: dir,
            _db: db,
        }
    }

    /// The stored id (`camunda:TASK_ID`) of the task of `instance`.
    pub async fn task_of(&self, instance: &str) -> String {
        let records = self
            .store
            .list(&TaskFilter::default().process_instance(instance))
            .await
            .unwrap();
        assert_eq!(records.len(), 1, "one task for instance {instance}");
        records[0].key().to_string()
    }

    /// From now on the unit of failed instance `i` succeeds.
    pub async fn heal(&self, i: usize) {
        let records = self
            .store
            .list(&TaskFilter::default().process_instance(&self.instances.failed[i]))
            .await
            .unwrap();
        let key = records[0].business_key.clone().unwrap();
        HEALED.lock().unwrap().push(key);
    }

    /// Stop the worker and the dashboard.
    pub async fn stop(self) {
        self.worker.shutdown();
        let _ = self.worker_task.await;
        self.dashboard.task.abort();
        self.store.close().await;
    }
}
