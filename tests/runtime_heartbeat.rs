//! Lock heartbeat: a unit running three times its lock duration keeps its lock, nobody else
//! gets the task, and every extension is on the timeline.
#![allow(clippy::unwrap_used)]

mod runtime_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bptl::prelude::*;
use bptl::{EventKind, TaskFilter, TaskMapping, TaskMappings, TaskStore};
use runtime_support::*;

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// Sleep 3 s.
#[register]
async fn long_running(_task: &dyn BaseTask) -> Result<Variables, UnitError> {
    RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(3)).await;
    Ok(variables! { "done": true })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_unit_keeps_its_lock() {
    let engine = engine().await;
    let ids = deploy_and_start(&engine, "long", &["long"], 1, serde_json::json!({}));
    let mappings = || {
        TaskMappings::new([TaskMapping::new("long", "runtime_heartbeat::long_running")]).unwrap()
    };
    let cfg = bptl::runtime::WorkerConfig {
        lock_duration: Duration::from_secs(1),
        ..config()
    };
    let first = spawn_worker(&engine, mappings(), cfg.clone(), None, |b| b);
    wait_until("the unit runs", Duration::from_secs(10), || {
        RUNS.load(Ordering::SeqCst) == 1
    })
    .await;
    // A second worker polls all the while: it must never get the task.
    let second = spawn_worker(&engine, mappings(), cfg, None, |b| b);
    engine
        .wait_until_all_ended(Duration::from_secs(15))
        .await
        .unwrap();
    let store = first.store.clone();
    // The instance ends when the engine accepts the completion, a moment before the worker
    // has read the answer: read the counts once the worker has stopped.
    let (s1_final, s2) = (first.stop().await, second.stop().await);
    assert_eq!(s1_final.completed, 1);
    assert_eq!(s1_final.not_reported, 0);
    assert_eq!(
        s2.fetched, 0,
        "the second worker got a task whose lock was kept alive"
    );
    assert_eq!(RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(
        history_value(&engine, &ids[0], "done"),
        Some(serde_json::json!(true))
    );
    let record = store.list(&TaskFilter::default()).await.unwrap().remove(0);
    let extensions = store
        .timeline(&record.key())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == EventKind::LockExtended)
        .count();
    assert!(
        (4..=8).contains(&extensions),
        "{extensions} lock extensions in 3 s with a 1 s lock"
    );
}
