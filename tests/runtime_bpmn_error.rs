//! A BPMN error takes the boundary path, with its code and message.
#![allow(clippy::unwrap_used)]

mod runtime_support;

use std::time::Duration;

use bptl::{TaskMapping, TaskMappings};
use runtime_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bpmn_error_takes_the_boundary_path() {
    let engine = engine().await;
    engine
        .deploy_str(
            "b.bpmn",
            &chain_bpmn("b", &["check", "after"], Some(("REJECTED", "handle"))),
        )
        .unwrap();
    let id = engine
        .start_process(
            "b",
            serde_json::json!({ "errorCode": string("REJECTED"), "errorMessage": string("not allowed") }),
            None,
        )
        .unwrap();
    let mappings = TaskMappings::new([
        TaskMapping::new("check", "bptl_dummy::bpmn_error"),
        TaskMapping::new("after", "bptl_dummy::dummy"),
        TaskMapping::new("handle", "bptl_dummy::echo"),
    ])
    .unwrap();
    let worker = spawn_worker(&engine, mappings, config(), None, |b| b);
    engine
        .wait_until_all_ended(Duration::from_secs(10))
        .await
        .unwrap();
    let stats = worker.stop().await;
    assert_eq!(stats.bpmn_errors, 1);
    assert_eq!(stats.completed, 1, "only the boundary path's task ran");
    assert_eq!(stats.failed, 0);
    assert_eq!(
        history_value(&engine, &id, "caughtCode"),
        Some(serde_json::json!("REJECTED"))
    );
    assert_eq!(
        history_value(&engine, &id, "caughtMessage"),
        Some(serde_json::json!("not allowed"))
    );
    assert_eq!(
        history_value(&engine, &id, "echo_errorCode"),
        Some(serde_json::json!("REJECTED"))
    );
    assert!(engine.incidents(Some(&id)).is_empty());
}
