//! Cancellation: an instance deleted while its unit runs → the 404 on lock extension is
//! noticed and recorded, nothing is reported, the worker carries on.
#![allow(clippy::unwrap_used)]

mod runtime_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bptl::prelude::*;
use bptl::{EventKind, TaskFilter, TaskMapping, TaskMappings, TaskStore};
use runtime_support::*;

static STARTED: AtomicUsize = AtomicUsize::new(0);
static FINISHED: AtomicUsize = AtomicUsize::new(0);

/// Sleep `durationMs`.
#[register]
async fn slow(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    STARTED.fetch_add(1, Ordering::SeqCst);
    let ms: u64 = check_variable_as(&task.get_variables()?, "durationMs")?;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    FINISHED.fetch_add(1, Ordering::SeqCst);
    Ok(variables! { "slept": true })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_task_is_noticed_and_not_reported() {
    let engine = engine().await;
    let ids = deploy_and_start(
        &engine,
        "c",
        &["slow"],
        1,
        serde_json::json!({ "durationMs": int(2500) }),
    );
    let mappings =
        TaskMappings::new([TaskMapping::new("slow", "runtime_cancellation::slow")]).unwrap();
    let cfg = bptl::runtime::WorkerConfig {
        lock_duration: Duration::from_secs(1),
        ..config()
    };
    let worker = spawn_worker(&engine, mappings, cfg, None, |b| b);
    wait_until("the unit runs", Duration::from_secs(10), || {
        STARTED.load(Ordering::SeqCst) == 1
    })
    .await;

    // reqwest needs a TLS crypto provider before its first client.
    bptl::credentials::install_crypto_provider();
    let response = reqwest::Client::new()
        .delete(format!("{}/process-instance/{}", engine.url(), ids[0]))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());

    let handle = worker.handle.clone();
    wait_until(
        "the cancellation is noticed",
        Duration::from_secs(10),
        || handle.stats().cancelled == 1,
    )
    .await;
    wait_until("the unit finishes", Duration::from_secs(10), || {
        FINISHED.load(Ordering::SeqCst) == 1
    })
    .await;

    // The worker is fine: a new instance is handled.
    let next = engine
        .start_process("c", serde_json::json!({ "durationMs": int(10) }), None)
        .unwrap();
    engine
        .wait_until_all_ended(Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        history_value(&engine, &next, "slept"),
        Some(serde_json::json!(true))
    );

    let store = worker.store.clone();
    let stats = worker.stop().await;
    assert_eq!(stats.cancelled, 1);
    assert_eq!(
        stats.completed, 1,
        "only the second instance's task is completed"
    );
    assert_eq!(stats.failed, 0);
    let cancelled = store
        .list(&TaskFilter::default().process_instance(&ids[0]))
        .await
        .unwrap()
        .remove(0);
    let timeline = store.timeline(&cancelled.key()).await.unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| e.kind == EventKind::EngineError
                && e.message.contains("no longer knows the task")),
        "{timeline:#?}"
    );
    assert!(timeline.iter().all(|e| !e.message.contains("→ completed")));
}
