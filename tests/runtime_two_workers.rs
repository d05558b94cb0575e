//! Two workers on one engine never run the same task.
#![allow(clippy::unwrap_used)]

mod runtime_support;

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use bptl::prelude::*;
use bptl::{TaskMapping, TaskMappings};
use runtime_support::*;

static RUNS: LazyLock<Mutex<HashMap<String, usize>>> = LazyLock::new(Mutex::default);

/// Count runs per task.
#[register]
async fn tracked(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    *RUNS
        .lock()
        .unwrap()
        .entry(task.task_id().to_owned())
        .or_default() += 1;
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(variables! {})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_the_work_without_overlap() {
    let engine = engine().await;
    deploy_and_start(&engine, "two", &["a", "b"], 40, serde_json::json!({}));
    let mappings = || {
        TaskMappings::new([
            TaskMapping::new("a", "runtime_two_workers::tracked"),
            TaskMapping::new("b", "runtime_two_workers::tracked"),
        ])
        .unwrap()
    };
    let one = spawn_worker(&engine, mappings(), config(), None, |b| b);
    let two = spawn_worker(&engine, mappings(), config(), None, |b| b);
    assert_ne!(
        one.handle.worker_id(),
        two.handle.worker_id(),
        "worker ids are never shared"
    );
    engine
        .wait_until_all_ended(Duration::from_secs(20))
        .await
        .unwrap();
    let (s1, s2) = (one.stop().await, two.stop().await);
    assert_eq!(s1.completed + s2.completed, 80);
    let runs = RUNS.lock().unwrap().clone();
    assert_eq!(runs.len(), 80);
    assert!(runs.values().all(|n| *n == 1), "a task ran twice: {runs:?}");
}
