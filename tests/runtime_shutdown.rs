//! Graceful shutdown with tasks in flight: running units finish (locks kept alive), nothing is
//! lost, nothing runs twice; units still running when the grace period ends are aborted and
//! their tasks unlocked at once.
#![allow(clippy::unwrap_used)]

mod runtime_support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use bptl::prelude::*;
use bptl::{TaskMapping, TaskMappings};
use runtime_support::*;
use serde_json::json;

static RUNS: LazyLock<Mutex<HashMap<String, usize>>> = LazyLock::new(Mutex::default);
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Sleep `durationMs`, counting runs per task.
#[register]
async fn tracked(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    *RUNS
        .lock()
        .unwrap()
        .entry(task.task_id().to_owned())
        .or_default() += 1;
    RUNNING.fetch_add(1, Ordering::SeqCst);
    let ms: u64 = check_variable_as(&task.get_variables()?, "durationMs")?;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    RUNNING.fetch_sub(1, Ordering::SeqCst);
    Ok(variables! { "ran": true })
}

static LONG_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Sleep `durationMs` (for the grace-period test).
#[register]
async fn tracked_long(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    LONG_RUNS.fetch_add(1, Ordering::SeqCst);
    let ms: u64 = check_variable_as(&task.get_variables()?, "durationMs")?;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(variables! { "ran": true })
}

fn mappings() -> TaskMappings {
    TaskMappings::new([TaskMapping::new("work", "runtime_shutdown::tracked")]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_units_finish_and_nothing_is_lost_or_run_twice() {
    let engine = engine().await;
    deploy_and_start(
        &engine,
        "s",
        &["work"],
        6,
        json!({ "durationMs": int(1500) }),
    );
    let cfg = bptl::runtime::WorkerConfig {
        max_tasks: 3,
        lock_duration: Duration::from_secs(1),
        ..config()
    };
    let first = spawn_worker(&engine, mappings(), cfg.clone(), None, |b| b);
    wait_until("3 units run", Duration::from_secs(10), || {
        RUNNING.load(Ordering::SeqCst) == 3
    })
    .await;
    let asked = Instant::now();
    first.handle.shutdown();
    let stats = tokio::time::timeout(Duration::from_secs(10), first.join)
        .await
        .unwrap()
        .unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        asked.elapsed()
    );
    assert_eq!(
        stats.completed, 3,
        "the running units finished and were completed: {stats:?}"
    );
    assert_eq!(stats.aborted, 0);
    assert_eq!(engine.active_instance_count(), 3);
    // The others were never started and are free to take at once.
    for task in engine.external_tasks(Some("work")) {
        assert!(task["lockExpirationTime"].is_null(), "{task}");
    }

    let second = spawn_worker(&engine, mappings(), cfg, None, |b| b);
    engine
        .wait_until_all_ended(Duration::from_secs(15))
        .await
        .unwrap();
    let stats = second.stop().await;
    assert_eq!(stats.completed, 3);
    let runs = RUNS.lock().unwrap().clone();
    assert_eq!(runs.len(), 6, "every task ran");
    assert!(runs.values().all(|n| *n == 1), "a task ran twice: {runs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_running_past_the_grace_period_are_aborted_and_unlocked() {
    let engine = engine().await;
    engine
        .deploy_str("g.bpmn", &chain_bpmn("g", &["work"], None))
        .unwrap();
    let id = engine
        .start_process("g", json!({ "durationMs": int(30_000) }), None)
        .unwrap();
    let cfg = bptl::runtime::WorkerConfig {
        shutdown_grace: Duration::from_millis(500),
        lock_duration: Duration::from_secs(30),
        ..config()
    };
    let mappings =
        TaskMappings::new([TaskMapping::new("work", "runtime_shutdown::tracked_long")]).unwrap();
    let worker = spawn_worker(&engine, mappings, cfg, None, |b| b);
    wait_until("the unit runs", Duration::from_secs(10), || {
        LONG_RUNS.load(Ordering::SeqCst) == 1
    })
    .await;
    let asked = Instant::now();
    let stats = worker.stop().await;
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        asked.elapsed()
    );
    assert_eq!(
        (stats.aborted, stats.unlocked, stats.completed),
        (1, 1, 0),
        "{stats:?}"
    );
    let task = &engine.external_tasks(Some("work"))[0];
    assert_eq!(task["processInstanceId"], json!(id));
    assert!(
        task["lockExpirationTime"].is_null(),
        "the aborted task is unlocked: {task}"
    );
}
