//! Helpers for the `store_*` tests: temporary directories, throw-away PostgreSQL databases,
//! BPMN, and the real worker binary run as a child process.
#![allow(dead_code, clippy::unwrap_used)]
// Test support shared by several test crates: its `pub` items are used across modules.
#![allow(unreachable_pub)]

use std::time::{Duration, Instant};

/// Temporary directories and throw-away PostgreSQL databases: the store crate's test support.
#[path = "../../bptl-store/tests/support/mod.rs"]
mod databases;

#[allow(unused_imports)] // each test crate that includes this file uses a part of it
pub use databases::{TempDir, TestDatabase};

/// BPMN for process `key` with one external task on `topic`.
pub fn one_task_bpmn(key: &str, topic: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D_{key}" targetNamespace="t">
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Task" camunda:type="external" camunda:topic="{topic}"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task" targetRef="End" />
  </bpmn:process>
</bpmn:definitions>"#
    )
}

/// Wait (up to 30 s) until `cond` holds.
pub async fn wait_for(mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
