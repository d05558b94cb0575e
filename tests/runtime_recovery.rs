//! Exactly-once completion with the task store: a task whose unit already succeeded is
//! completed from its record, never run again.
#![allow(clippy::unwrap_used)]

mod runtime_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bptl::camunda::{CamundaClient, CamundaEngine};
use bptl::prelude::*;
use bptl::runtime::Worker;
use bptl::{
    EventKind, InMemoryStore, Registry, TaskFilter, TaskMapping, TaskMappings, TaskStatus,
    TaskStore,
};
use bptl_dev_engine::Endpoint;
use runtime_support::*;
use serde_json::json;

static RUNS: AtomicUsize = AtomicUsize::new(0);
static RUNS_B: AtomicUsize = AtomicUsize::new(0);

/// Double, counting runs.
#[register]
async fn counted_double(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    RUNS.fetch_add(1, Ordering::SeqCst);
    let amount: i64 = check_variable_as(&task.get_variables()?, "amount")?;
    Ok(variables! { "doubled": amount * 2 })
}

/// Double, counting runs (for the second test).
#[register]
async fn counted_double_b(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    RUNS_B.fetch_add(1, Ordering::SeqCst);
    let amount: i64 = check_variable_as(&task.get_variables()?, "amount")?;
    Ok(variables! { "doubled": amount * 2 })
}

fn mappings() -> TaskMappings {
    TaskMappings::new([TaskMapping::new(
        "double",
        "runtime_recovery::counted_double",
    )])
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn performed_but_not_completed_is_completed_at_start_up() {
    let engine = engine().await;
    let ids = deploy_and_start(&engine, "r", &["double"], 1, json!({ "amount": int(21) }));
    let store = Arc::new(InMemoryStore::new());

    // A worker locks the task and "crashes" after its unit succeeded: the record says
    // performed with the result, the engine never heard.
    let crashed = Worker::builder(CamundaEngine::new(
        CamundaClient::new(engine.url()).unwrap(),
    ))
    .registry(Registry::global().unwrap().clone())
    .mappings(mappings())
    .config(config())
    .store(Arc::clone(&store) as Arc<dyn TaskStore>)
    .build()
    .unwrap();
    let mut record = crashed.fetch_and_save(1).await.unwrap().remove(0);
    let crashed_id = crashed.worker_id().to_owned();
    drop(crashed);
    assert_eq!(record.worker_id, crashed_id);
    record.status = TaskStatus::Performed;
    record.result_variables = Some(variables! { "doubled": 4242 });
    store.save(&record).await.unwrap();

    // A new worker with the same store completes it under the original worker id.
    let worker = spawn_worker(
        &engine,
        mappings(),
        config(),
        Some(Arc::clone(&store)),
        |b| b,
    );
    engine
        .wait_until_all_ended(Duration::from_secs(10))
        .await
        .unwrap();
    let stats = worker.stop().await;
    assert_eq!(
        RUNS.load(Ordering::SeqCst),
        0,
        "the unit must not run again"
    );
    assert_eq!(
        history_value(&engine, &ids[0], "doubled"),
        Some(json!(4242))
    );
    assert_eq!((stats.recovered, stats.completed), (1, 1));
    let stored = store.get(&record.key()).await.unwrap().unwrap();
    assert_eq!(stored.status, TaskStatus::Completed);
    let timeline = store.timeline(&record.key()).await.unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| e.kind == EventKind::Recovery && e.message.contains(&crashed_id)),
        "{timeline:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undelivered_completion_is_delivered_from_the_record_when_fetched_again() {
    let engine = engine().await;
    let ids = deploy_and_start(&engine, "u", &["double"], 1, json!({ "amount": int(5) }));
    // Every completion attempt of the first round fails: the worker gives up, the lock expires.
    engine.faults().fail_next(
        Endpoint::Complete,
        2,
        503,
        json!({"type": "X", "message": "busy"}),
    );
    let cfg = bptl::runtime::WorkerConfig {
        report_attempts: 2,
        lock_duration: Duration::from_secs(1),
        ..config()
    };
    let mappings = TaskMappings::new([TaskMapping::new(
        "double",
        "runtime_recovery::counted_double_b",
    )])
    .unwrap();
    let worker = spawn_worker(&engine, mappings, cfg, None, |b| b);
    engine
        .wait_until_all_ended(Duration::from_secs(15))
        .await
        .unwrap();
    let store = worker.store.clone();
    let stats = worker.stop().await;
    let before = RUNS_B.load(Ordering::SeqCst);
    assert_eq!(history_value(&engine, &ids[0], "doubled"), Some(json!(10)));
    assert_eq!(stats.not_reported, 1);
    assert_eq!(stats.recovered, 1, "{stats:?}");
    assert_eq!(stats.fetched, 2, "fetched twice, run once");
    assert_eq!(before, 1, "the unit ran {before} times");
    let record = store.list(&TaskFilter::default()).await.unwrap().remove(0);
    assert_eq!(
        (record.status, record.executions),
        (TaskStatus::Completed, 1)
    );
}
