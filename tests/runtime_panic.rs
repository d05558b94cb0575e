//! A panicking unit becomes a failure carrying the panic message; the worker lives on.
#![allow(clippy::unwrap_used)]

mod runtime_support;

use std::time::Duration;

use bptl::prelude::*;
use bptl::{RetryPolicy, TaskMapping, TaskMappings};
use runtime_support::*;

/// Panic.
#[register]
async fn explode(_task: &dyn BaseTask) -> Result<Variables, UnitError> {
    panic!("boom at line 42")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_a_failure_and_the_worker_survives() {
    let engine = engine().await;
    let exploded = deploy_and_start(&engine, "p", &["explode"], 1, serde_json::json!({}));
    let fine = deploy_and_start(
        &engine,
        "d",
        &["double"],
        1,
        serde_json::json!({ "amount": int(21) }),
    );
    let mappings = TaskMappings::new([
        TaskMapping::new("explode", "runtime_panic::explode").retry(RetryPolicy {
            retries: 1,
            ..RetryPolicy::default()
        }),
        TaskMapping::new("double", "bptl_dummy::Double"),
    ])
    .unwrap();
    let worker = spawn_worker(&engine, mappings, config(), None, |b| b);
    wait_until("the incident exists", Duration::from_secs(10), || {
        engine.incidents(Some(&exploded[0])).len() == 1
    })
    .await;
    wait_until("the other instance ends", Duration::from_secs(10), || {
        engine.active_instance_count() == 1
    })
    .await;
    let stats = worker.stop().await;
    assert_eq!(
        engine.incidents(Some(&exploded[0]))[0]["incidentMessage"],
        "the work unit panicked: boom at line 42"
    );
    assert_eq!(
        history_value(&engine, &fine[0], "doubled"),
        Some(serde_json::json!(42))
    );
    assert_eq!((stats.failed, stats.completed), (1, 1));
}
