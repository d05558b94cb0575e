//! A long poll parked when the shutdown comes is kept while running units finish: tasks it
//! brings during the shutdown are unlocked at once, their units never start. (Camunda and
//! Operaton lock tasks for a long poll whose client went away; dropping the poll would leave
//! such tasks locked under the stopped worker's id. `tests/real_engine/locks.rs` shows it.)
#![allow(clippy::unwrap_used)]

mod runtime_support;

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use bptl::prelude::*;
use bptl::{TaskMapping, TaskMappings};
use runtime_support::*;
use serde_json::json;

static RUNS: LazyLock<Mutex<HashMap<String, usize>>> = LazyLock::new(Mutex::default);

fn runs(instance: &str) -> usize {
    RUNS.lock().unwrap().get(instance).copied().unwrap_or(0)
}

/// Sleep `durationMs`, counting runs per instance.
#[register]
async fn nap(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    *RUNS
        .lock()
        .unwrap()
        .entry(task.process_instance_id().unwrap_or_default().to_owned())
        .or_default() += 1;
    let ms: u64 = check_variable_as(&task.get_variables()?, "durationMs")?;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(variables! { "napped": true })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_a_parked_poll_brings_during_the_shutdown_are_unlocked() {
    let engine = engine().await;
    engine
        .deploy_str("p.bpmn", &chain_bpmn("p", &["nap"], None))
        .unwrap();
    let busy = engine
        .start_process("p", json!({ "durationMs": int(1500) }), None)
        .unwrap();
    let cfg = bptl::runtime::WorkerConfig {
        max_tasks: 2,
        lock_duration: Duration::from_secs(60),
        async_response_timeout: Duration::from_secs(20),
        ..config()
    };
    let mappings =
        TaskMappings::new([TaskMapping::new("nap", "runtime_shutdown_poll::nap")]).unwrap();
    let worker = spawn_worker(&engine, mappings, cfg, None, |b| b);
    wait_until("the unit runs", Duration::from_secs(10), || {
        runs(&busy) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    worker.handle.shutdown();
    let late = engine
        .start_process("p", json!({ "durationMs": int(10) }), None)
        .unwrap();
    let stats = tokio::time::timeout(Duration::from_secs(15), worker.join)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stats.fetched, stats.completed, stats.unlocked),
        (2, 1, 1),
        "{stats:?}"
    );
    assert_eq!(runs(&late), 0, "the late task's unit never started");
    let task = engine
        .external_tasks(Some("nap"))
        .into_iter()
        .find(|t| t["processInstanceId"] == json!(late))
        .unwrap();
    assert!(task["lockExpirationTime"].is_null(), "{task}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_still_stops_at_once() {
    let engine = engine().await;
    engine
        .deploy_str("p.bpmn", &chain_bpmn("p", &["nap"], None))
        .unwrap();
    let cfg = bptl::runtime::WorkerConfig {
        async_response_timeout: Duration::from_secs(20),
        ..config()
    };
    let mappings =
        TaskMappings::new([TaskMapping::new("nap", "runtime_shutdown_poll::nap")]).unwrap();
    let worker = spawn_worker(&engine, mappings, cfg, None, |b| b);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = std::time::Instant::now();
    worker.stop().await;
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "an idle worker's shutdown took {:?}",
        asked.elapsed()
    );
}
