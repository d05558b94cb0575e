//! Two real worker processes (`worker run`, as `examples/worker.rs` runs it) with the same
//! every-second schedule share one PostgreSQL store (a fresh database on the test server):
//! every tick runs exactly once, on one of them, and the shared history holds one record per
//! tick.
//!
//! The worker processes are this test executable (see `support/store_worker.rs`).
#![allow(clippy::unwrap_used)]

#[path = "support/store_support.rs"]
mod store_support;
#[path = "support/store_worker.rs"]
mod store_worker;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bptl_core::TaskStatus;
use bptl_core::store::TaskFilter;

use store_support::{TempDir, TestDatabase};
use store_worker::{RECORD_RUN, WorkerProcess, runs};

/// A worker whose only work is the schedule `fleet-pulse` (every second), on `store_url`.
fn write_config(dir: &Path, worker_id: &str, store_url: &str) -> PathBuf {
    let path = dir.join(format!("{worker_id}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"[engine]
# Nothing is mapped for the engine: the worker runs ticks only.
url = "http://127.0.0.1:9/engine-rest"
worker_id = "{worker_id}"
max_tasks = 4
async_response_timeout = "2s"
shutdown_grace = "1s"

[[task_mappings]]
topic = "pulse"
callback = "{RECORD_RUN}"
engine = "schedule"

[[schedules]]
name = "fleet-pulse"
cron = "* * * * * *"
topic = "pulse"

[store]
url = "{store_url}"
"#
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_postgres_store_run_every_tick_once() {
    const TICKS: usize = 6;
    let db = TestDatabase::create().await;
    let dir = TempDir::new();
    let effects = dir.0.join("effects.txt");
    let mut workers: Vec<WorkerProcess> = ["pulse-1", "pulse-2"]
        .iter()
        .map(|name| WorkerProcess::spawn(&write_config(&dir.0, name, &db.url), &effects, name))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while runs(&effects).len() < TICKS {
        for w in &mut workers {
            w.assert_running();
        }
        assert!(
            Instant::now() < deadline,
            "fewer than {TICKS} ticks ran within 60 s; logs:\n{}",
            workers
                .iter()
                .map(WorkerProcess::output)
                .collect::<Vec<_>>()
                .join("\n----\n")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Both take part in every tick for a few more seconds.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let store = bptl::sql_store::connect(&db.url).await.unwrap();
    // The last tick's completion may still be on its way: wait until every run is recorded.
    let counted = runs(&effects);
    let wait = Instant::now() + Duration::from_secs(10);
    loop {
        let records = store
            .list(&TaskFilter::default().engine("schedule"))
            .await
            .unwrap();
        let done = records
            .iter()
            .filter(|r| r.status == TaskStatus::Completed)
            .count();
        if done >= counted.len() || Instant::now() >= wait {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for w in &mut workers {
        w.kill();
    }

    let counted = runs(&effects);
    let twice: Vec<_> = counted.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "ticks that ran more than once: {twice:?}");
    let records = store
        .list(&TaskFilter::default().engine("schedule"))
        .await
        .unwrap();
    let mut per_worker: BTreeMap<String, usize> = BTreeMap::new();
    for r in &records {
        assert!(r.task_id.starts_with("fleet-pulse@"), "{r:?}");
        assert!(
            counted.contains_key(&r.task_id),
            "a record without a run: {r:?}"
        );
        assert_eq!(r.executions, 1, "{r:?}");
        *per_worker.entry(r.worker_id.clone()).or_default() += 1;
    }
    assert_eq!(records.len(), counted.len(), "one record per tick that ran");
    let mut ticks: Vec<jiff::Timestamp> = records
        .iter()
        .map(|r| r.task_id.split_once('@').unwrap().1.parse().unwrap())
        .collect();
    ticks.sort();
    assert!(ticks.len() >= TICKS, "{ticks:?}");
    eprintln!("{} ticks by two processes: {per_worker:?}", ticks.len());
    store.close().await;
}
