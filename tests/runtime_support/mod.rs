//! Helpers shared by the `runtime_*` integration tests: a dev engine speaking real HTTP, BPMN
//! for chains of external tasks, and a worker running in the background.
#![allow(dead_code, clippy::unwrap_used)]
// Test support shared by several test crates: its `pub` items are used across modules.
#![allow(unreachable_pub)]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bptl::camunda::{CamundaClient, CamundaEngine};
use bptl::runtime::{Worker, WorkerConfig, WorkerHandle, WorkerStats};
use bptl::{InMemoryStore, Registry, TaskMappings, TaskStore};
use bptl_dev_engine::DevEngine;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// A dev engine on a free port.
pub async fn engine() -> DevEngine {
    DevEngine::start().await.unwrap()
}

/// BPMN for process `key`: a chain of external tasks on `topics`; when `boundary` is
/// `Some((code, topic))`, the first task has an error boundary event for `code` leading to a
/// task on `topic`.
pub fn chain_bpmn(key: &str, topics: &[&str], boundary: Option<(&str, &str)>) -> String {
    let mut nodes = String::new();
    let mut flows = String::new();
    let mut previous = "Start".to_owned();
    for (i, topic) in topics.iter().enumerate() {
        let id = format!("Task_{i}");
        nodes.push_str(&format!(
            r#"<bpmn:serviceTask id="{id}" camunda:type="external" camunda:topic="{topic}"><bpmn:incoming>F_{i}</bpmn:incoming><bpmn:outgoing>F_{}</bpmn:outgoing></bpmn:serviceTask>"#,
            i + 1
        ));
        flows.push_str(&format!(
            r#"<bpmn:sequenceFlow id="F_{i}" sourceRef="{previous}" targetRef="{id}" />"#
        ));
        previous = id;
    }
    let n = topics.len();
    flows.push_str(&format!(
        r#"<bpmn:sequenceFlow id="F_{n}" sourceRef="{previous}" targetRef="End" />"#
    ));
    let mut errors = String::new();
    if let Some((code, topic)) = boundary {
        errors = format!(r#"<bpmn:error id="Err" errorCode="{code}" />"#);
        nodes.push_str(&format!(
            r#"<bpmn:boundaryEvent id="B" attachedToRef="Task_0"><bpmn:outgoing>FB1</bpmn:outgoing><bpmn:errorEventDefinition errorRef="Err" camunda:errorCodeVariable="caughtCode" camunda:errorMessageVariable="caughtMessage" /></bpmn:boundaryEvent>
               <bpmn:serviceTask id="Handle" camunda:type="external" camunda:topic="{topic}"><bpmn:incoming>FB1</bpmn:incoming><bpmn:outgoing>FB2</bpmn:outgoing></bpmn:serviceTask>
               <bpmn:endEvent id="EndB"><bpmn:incoming>FB2</bpmn:incoming></bpmn:endEvent>"#
        ));
        flows.push_str(
            r#"<bpmn:sequenceFlow id="FB1" sourceRef="B" targetRef="Handle" /><bpmn:sequenceFlow id="FB2" sourceRef="Handle" targetRef="EndB" />"#,
        );
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" targetNamespace="t">
  {errors}
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F_0</bpmn:outgoing></bpmn:startEvent>
    {nodes}
    <bpmn:endEvent id="End"><bpmn:incoming>F_{n}</bpmn:incoming></bpmn:endEvent>
    {flows}
  </bpmn:process>
</bpmn:definitions>"#
    )
}

/// Deploy a chain process and start `count` instances with `vars` (typed JSON map).
pub fn deploy_and_start(
    engine: &DevEngine,
    key: &str,
    topics: &[&str],
    count: usize,
    vars: Value,
) -> Vec<String> {
    engine
        .deploy_str(&format!("{key}.bpmn"), &chain_bpmn(key, topics, None))
        .unwrap();
    (0..count)
        .map(|_| engine.start_process(key, vars.clone(), None).unwrap())
        .collect()
}

/// A typed integer variable.
pub fn int(v: i64) -> Value {
    json!({ "value": v, "type": "Integer" })
}

/// A typed string variable.
pub fn string(v: &str) -> Value {
    json!({ "value": v, "type": "String" })
}

/// A worker running in the background.
pub struct Running {
    pub handle: WorkerHandle,
    pub join: JoinHandle<WorkerStats>,
    pub store: Arc<InMemoryStore>,
}

impl Running {
    /// Shut down gracefully and return the final counts.
    pub async fn stop(self) -> WorkerStats {
        self.handle.shutdown();
        // 30 s: against a real engine a shutdown may wait for a kept long poll too.
        tokio::time::timeout(Duration::from_secs(30), self.join)
            .await
            .expect("the worker did not stop within 30 s")
            .unwrap()
    }
}

/// Short timings for tests: long poll 1 s, lock 10 s unless the test says otherwise.
pub fn config() -> WorkerConfig {
    WorkerConfig {
        max_tasks: 5,
        lock_duration: Duration::from_secs(10),
        async_response_timeout: Duration::from_secs(1),
        shutdown_grace: Duration::from_secs(10),
        report_backoff: Duration::from_millis(50),
        engine_backoff_min: Duration::from_millis(50),
        engine_backoff_max: Duration::from_millis(500),
        ..WorkerConfig::default()
    }
}

/// Build a worker against `engine` and run it in the background.
pub fn spawn_worker(
    engine: &DevEngine,
    mappings: TaskMappings,
    config: WorkerConfig,
    store: Option<Arc<InMemoryStore>>,
    customize: impl FnOnce(
        bptl::runtime::WorkerBuilder<CamundaEngine>,
    ) -> bptl::runtime::WorkerBuilder<CamundaEngine>,
) -> Running {
    let store = store.unwrap_or_else(|| Arc::new(InMemoryStore::new()));
    let client = CamundaClient::new(engine.url()).unwrap();
    let builder = Worker::builder(CamundaEngine::new(client))
        .registry(Registry::global().unwrap().clone())
        .mappings(mappings)
        .config(config)
        .store(Arc::clone(&store) as Arc<dyn TaskStore>);
    let worker = customize(builder).build().unwrap();
    let handle = worker.handle();
    let join = tokio::spawn(worker.run(std::future::pending::<()>()));
    Running {
        handle,
        join,
        store,
    }
}

/// Wait until `cond` holds, polling every 20 ms; panics with `what` after `timeout`.
pub async fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Like [`wait_until`] with an async condition.
pub async fn wait_until_async<F, Fut>(what: &str, timeout: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The history variable `name` of an instance, as plain JSON (`value`).
pub fn history_value(engine: &DevEngine, instance: &str, name: &str) -> Option<Value> {
    engine
        .history_variables(instance)
        .and_then(|v| v.get(name).map(|t| t["value"].clone()))
}
