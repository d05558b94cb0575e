//! The concurrency limit: never more units at once than `max_tasks`, and the limit is used.
#![allow(clippy::unwrap_used)]

mod runtime_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bptl::prelude::*;
use bptl::{TaskMapping, TaskMappings};
use runtime_support::*;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static RUNS: AtomicUsize = AtomicUsize::new(0);

/// Count how many run at once.
#[register]
async fn slow(_task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let now = CURRENT.fetch_add(1, Ordering::SeqCst) + 1;
    PEAK.fetch_max(now, Ordering::SeqCst);
    RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    CURRENT.fetch_sub(1, Ordering::SeqCst);
    Ok(variables! {})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_more_units_at_once_than_max_tasks() {
    let engine = engine().await;
    deploy_and_start(&engine, "slow", &["slow"], 12, serde_json::json!({}));
    let mappings =
        TaskMappings::new([TaskMapping::new("slow", "runtime_concurrency::slow")]).unwrap();
    let worker = spawn_worker(
        &engine,
        mappings,
        bptl::runtime::WorkerConfig {
            max_tasks: 3,
            ..config()
        },
        None,
        |b| b,
    );
    // While it runs, the engine never has more than 3 tasks locked.
    let mut max_locked = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while engine.active_instance_count() > 0 {
        let locked = engine
            .external_tasks(Some("slow"))
            .iter()
            .filter(|t| !t["lockExpirationTime"].is_null())
            .count();
        max_locked = max_locked.max(locked);
        assert!(
            std::time::Instant::now() < deadline,
            "instances did not finish"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stats = worker.stop().await;
    assert_eq!(stats.completed, 12);
    assert_eq!(RUNS.load(Ordering::SeqCst), 12);
    assert_eq!(
        PEAK.load(Ordering::SeqCst),
        3,
        "the limit is reached but never exceeded"
    );
    assert!(max_locked <= 3, "{max_locked} tasks were locked at once");
}
