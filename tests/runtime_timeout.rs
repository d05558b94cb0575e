//! A unit running longer than its mapping's timeout fails with "timed out after …".
#![allow(clippy::unwrap_used)]

mod runtime_support;

use std::time::{Duration, Instant};

use bptl::prelude::*;
use bptl::{RetryPolicy, TaskMapping, TaskMappings};
use runtime_support::*;

/// Sleep far too long.
#[register]
async fn dawdle(_task: &dyn BaseTask) -> Result<Variables, UnitError> {
    tokio::time::sleep(Duration::from_secs(60)).await;
    Ok(variables! {})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_over_its_timeout_fails() {
    let engine = engine().await;
    let ids = deploy_and_start(&engine, "t", &["dawdle"], 1, serde_json::json!({}));
    let mappings = TaskMappings::new([TaskMapping::new("dawdle", "runtime_timeout::dawdle")
        .timeout(Duration::from_millis(300))
        .retry(RetryPolicy {
            retries: 1,
            ..RetryPolicy::default()
        })])
    .unwrap();
    let started = Instant::now();
    let worker = spawn_worker(&engine, mappings, config(), None, |b| b);
    wait_until("the incident exists", Duration::from_secs(10), || {
        engine.incidents(Some(&ids[0])).len() == 1
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(10));
    let stats = worker.stop().await;
    assert_eq!(
        engine.incidents(Some(&ids[0]))[0]["incidentMessage"],
        "timed out after 300ms"
    );
    assert_eq!(stats.failed, 1);
}
