//! Shared by the `client_*` integration tests: a dev engine with the client fixtures deployed,
//! and a `CamundaClient` pointed at it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
// Test support shared by several test crates: its `pub` items are used across modules.
#![allow(unreachable_pub)]

use std::path::PathBuf;
use std::time::Duration;

use bptl_camunda::{CamundaClient, ExternalTask, FetchAndLock, FetchTopic, StartProcess};
use bptl_core::Variables;
use bptl_dev_engine::DevEngine;

pub const TOPIC: &str = "client-echo";
pub const LOCK: Duration = Duration::from_secs(60);

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

/// A dev engine with `client_echo` (topic `client-echo`, priority 7, error boundary `REJECTED`
/// leading to topic `client-rejected`) and `client_low` (topic `client-echo`, priority 1).
pub struct Env {
    pub engine: DevEngine,
    pub client: CamundaClient,
}

impl Env {
    pub async fn new() -> Env {
        let engine = DevEngine::start().await.expect("dev engine starts");
        engine
            .deploy_file(fixture("client_echo.bpmn"))
            .expect("client_echo deploys");
        engine
            .deploy_file(fixture("client_low.bpmn"))
            .expect("client_low deploys");
        let client = CamundaClient::builder(engine.url())
            .timeout(Duration::from_secs(10))
            .long_poll_margin(Duration::from_secs(5))
            .build()
            .expect("client builds");
        Env { engine, client }
    }

    /// Starts `client_echo` over HTTP; returns the instance id.
    pub async fn start(&self, variables: Variables, business_key: Option<&str>) -> String {
        self.start_key("client_echo", variables, business_key).await
    }

    pub async fn start_key(
        &self,
        key: &str,
        variables: Variables,
        business_key: Option<&str>,
    ) -> String {
        let mut start = StartProcess::new(variables);
        if let Some(key) = business_key {
            start = start.business_key(key);
        }
        self.client
            .start_process_by_key(key, &start)
            .await
            .expect("process starts")
            .id
    }

    /// Fetches (no long poll) up to `max` tasks of `topic` for `worker`.
    pub async fn fetch(&self, worker: &str, topic: &str, max: u32) -> Vec<ExternalTask> {
        self.client
            .fetch_and_lock(&FetchAndLock::new(worker, max).topic(FetchTopic::new(topic, LOCK)))
            .await
            .expect("fetchAndLock answers")
    }

    /// Fetches exactly one task of `topic`.
    pub async fn fetch_one(&self, worker: &str, topic: &str) -> ExternalTask {
        let mut tasks = self.fetch(worker, topic, 1).await;
        assert_eq!(tasks.len(), 1, "expected one task of {topic}: {tasks:?}");
        tasks.remove(0)
    }

    /// The state of an instance from history (`ACTIVE`, `COMPLETED`, ...).
    pub async fn state(&self, instance: &str) -> String {
        self.client
            .get_historic_process_instance(instance)
            .await
            .expect("history answers")
            .state
            .expect("history has a state")
    }
}

/// A port on 127.0.0.1 that nobody listens on.
pub async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}
