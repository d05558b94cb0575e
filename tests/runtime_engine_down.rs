//! The engine down at start and mid-run: backoff, no crash, resume as soon as it answers;
//! conflicts while completing are retried.
#![allow(clippy::unwrap_used)]

mod runtime_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bptl::prelude::*;
use bptl::{TaskMapping, TaskMappings};
use bptl_dev_engine::Endpoint;
use runtime_support::*;
use serde_json::json;

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// Sleep `durationMs`, counting runs.
#[register]
async fn counted(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    RUNS.fetch_add(1, Ordering::SeqCst);
    let ms: u64 = check_variable_as(&task.get_variables()?, "durationMs")?;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(variables! { "ran": true })
}

fn mappings() -> TaskMappings {
    TaskMappings::new([TaskMapping::new("work", "runtime_engine_down::counted")]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_at_start_then_mid_run_then_conflicts() {
    let engine = engine().await;
    engine
        .deploy_str("w.bpmn", &chain_bpmn("w", &["work"], None))
        .unwrap();

    // 1. Down at start: the worker backs off and starts working once the engine answers.
    engine.stop_http().await;
    let first = engine
        .start_process("w", json!({ "durationMs": int(10) }), None)
        .unwrap();
    let cfg = bptl::runtime::WorkerConfig {
        report_attempts: 8,
        ..config()
    };
    let worker = spawn_worker(&engine, mappings(), cfg, None, |b| b);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !worker.join.is_finished(),
        "the worker must not die while the engine is down"
    );
    assert_eq!(RUNS.load(Ordering::SeqCst), 0);
    engine.restart_http().await.unwrap();
    engine
        .wait_until_all_ended(Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(history_value(&engine, &first, "ran"), Some(json!(true)));

    // 2. Failing fetches (503s, a dropped long poll) are ridden out.
    engine.faults().fail_next(
        Endpoint::FetchAndLock,
        3,
        503,
        json!({"type": "X", "message": "unavailable"}),
    );
    engine
        .faults()
        .drop_next(Endpoint::FetchAndLock, 1, Duration::from_millis(50));
    let second = engine
        .start_process("w", json!({ "durationMs": int(10) }), None)
        .unwrap();
    engine
        .wait_until_all_ended(Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(history_value(&engine, &second, "ran"), Some(json!(true)));

    // 3. The engine goes away while a unit runs: the completion is retried until it is back.
    let third = engine
        .start_process("w", json!({ "durationMs": int(400) }), None)
        .unwrap();
    wait_until("the third unit runs", Duration::from_secs(10), || {
        RUNS.load(Ordering::SeqCst) == 3
    })
    .await;
    engine.stop_http().await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    engine.restart_http().await.unwrap();
    engine
        .wait_until_all_ended(Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(history_value(&engine, &third, "ran"), Some(json!(true)));

    // 4. Optimistic-locking conflicts on complete are retried.
    engine.faults().fail_next(
        Endpoint::Complete,
        2,
        500,
        json!({"type": "OptimisticLockingException", "message": "conflict", "code": 1}),
    );
    let fourth = engine
        .start_process("w", json!({ "durationMs": int(10) }), None)
        .unwrap();
    engine
        .wait_until_all_ended(Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(history_value(&engine, &fourth, "ran"), Some(json!(true)));

    let stats = worker.stop().await;
    assert_eq!(
        RUNS.load(Ordering::SeqCst),
        4,
        "every unit ran exactly once"
    );
    assert_eq!(stats.completed, 4);
    assert_eq!(stats.not_reported, 0);
}
