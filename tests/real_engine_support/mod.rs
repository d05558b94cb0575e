//! Helpers of the real-engine suite (`tests/real_engine/`): the engine named by
//! `BPTL_REAL_ENGINE_URL` (Operaton or Camunda 7, started by `tests/engines/start.sh`), BPMN
//! deployed through `POST /deployment/create`, instances, history, incidents and external
//! tasks read over real HTTP, and workers running in the background against the engine.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
// Test support shared by several test crates: its `pub` items are used across modules.
#![allow(unreachable_pub)]

use std::io::Write as _;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use bptl::camunda::{CamundaClient, CamundaEngine, DeploymentRequest, StartProcess};
use bptl::runtime::{Worker, WorkerBuilder, WorkerConfig};
use bptl::{InMemoryStore, Registry, TaskMappings, TaskStore, Variables};
use reqwest::Method;
use serde_json::{Map, Value as Json, json};

// The worker handle and the waiting helpers are the runtime tests' own.
#[path = "../runtime_support/mod.rs"]
mod runtime_support;
pub use runtime_support::{Running, wait_until, wait_until_async};

/// The environment variable naming the engine-rest root of the engine under test.
pub const URL_VAR: &str = "BPTL_REAL_ENGINE_URL";

static NOT_RUN: Once = Once::new();

/// The engine under test, with a name prefix unique to one test.
pub struct Rig {
    /// The engine-rest root, e.g. `http://127.0.0.1:18080/engine-rest`.
    pub url: String,
    /// `operaton` or `camunda` (`BPTL_REAL_ENGINE_NAME`), for messages.
    pub name: String,
    /// Our client, pointed at the engine.
    pub client: CamundaClient,
    http: reqwest::Client,
    suffix: String,
}

impl Rig {
    /// The engine under test, or `None` (after printing once that the suite was not run) when
    /// `BPTL_REAL_ENGINE_URL` is not set.
    pub fn new() -> Option<Rig> {
        let Ok(url) = std::env::var(URL_VAR) else {
            NOT_RUN.call_once(|| {
                // Straight to stderr: the test harness captures print macros of passing tests.
                let _ = writeln!(
                    std::io::stderr(),
                    "real_engine: not run: {URL_VAR} is not set (bash .ci/real-engines.sh starts \
                     Operaton and Camunda and sets it; see tests/engines/README.md)"
                );
            });
            return None;
        };
        let url = url.trim_end_matches('/').to_owned();
        let name = std::env::var("BPTL_REAL_ENGINE_NAME").unwrap_or_else(|_| "engine".into());
        let client = CamundaClient::builder(url.clone())
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        // reqwest needs a TLS crypto provider before its first client.
        bptl::credentials::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        Some(Rig {
            url,
            name,
            client,
            http,
            suffix: format!("{:08x}", rand::random::<u32>()),
        })
    }

    /// `base` made unique to this test run: a process key or topic nobody else uses.
    pub fn unique(&self, base: &str) -> String {
        format!("{base}_{}", self.suffix)
    }

    // ----- raw HTTP -----

    /// A call to the engine: `(status, body as JSON or Null)`.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Json>) -> (u16, Json) {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            if bytes.is_empty() {
                Json::Null
            } else {
                Json::String(String::from_utf8_lossy(&bytes).into_owned())
            }
        });
        (status, json)
    }

    /// GET `path`, which must answer 200.
    pub async fn get(&self, path: &str) -> Json {
        let (status, body) = self.call(Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// GET `path` and the raw bytes, which must answer 200.
    pub async fn get_bytes(&self, path: &str) -> Vec<u8> {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "GET {path}");
        response.bytes().await.unwrap().to_vec()
    }

    /// POST `body` to `path`: `(status, body)`.
    pub async fn post(&self, path: &str, body: &Json) -> (u16, Json) {
        self.call(Method::POST, path, Some(body)).await
    }

    // ----- deployments and instances -----

    /// Deploy one BPMN file (multipart `POST /deployment/create`, through our client).
    pub async fn deploy(&self, bpmn: &str) -> bptl::camunda::Deployment {
        self.deploy_tenant(bpmn, None).await
    }

    /// Deploy one BPMN file for a tenant.
    pub async fn deploy_tenant(
        &self,
        bpmn: &str,
        tenant: Option<&str>,
    ) -> bptl::camunda::Deployment {
        let mut request = DeploymentRequest::new(self.unique("bptl-real-engine"))
            .resource("process.bpmn", bpmn.as_bytes().to_vec());
        request.tenant_id = tenant.map(str::to_owned);
        let deployment = self
            .client
            .deploy(&request)
            .await
            .unwrap_or_else(|e| panic!("deploying failed: {e}\n{bpmn}"));
        assert_eq!(
            deployment.deployed_process_definitions.len(),
            1,
            "{deployment:?}"
        );
        deployment
    }

    /// Start the latest version of `key` with typed JSON variables (as they go on the wire).
    pub async fn start_typed(
        &self,
        key: &str,
        variables: Json,
        business_key: Option<&str>,
    ) -> String {
        self.start_in(key, None, variables, business_key).await
    }

    /// Start the latest version of `key` of a tenant (`None`: without tenant) with typed JSON
    /// variables. A tenant's definition is not found by key alone (404 "No matching process
    /// definition with key: ... and no tenant-id").
    pub async fn start_in(
        &self,
        key: &str,
        tenant: Option<&str>,
        variables: Json,
        business_key: Option<&str>,
    ) -> String {
        let mut body = json!({ "variables": variables });
        if let Some(bk) = business_key {
            body["businessKey"] = json!(bk);
        }
        let path = match tenant {
            Some(t) => format!("/process-definition/key/{key}/tenant-id/{t}/start"),
            None => format!("/process-definition/key/{key}/start"),
        };
        let (status, answer) = self.post(&path, &body).await;
        assert_eq!(status, 200, "starting {key}: {answer}");
        answer["id"].as_str().unwrap().to_owned()
    }

    /// Start the latest version of `key` with variables (through our client).
    pub async fn start(&self, key: &str, variables: Variables) -> String {
        self.client
            .start_process_by_key(key, &StartProcess::new(variables))
            .await
            .unwrap()
            .id
    }

    /// A call retried on optimistic locking conflicts (500, code 1: the engine's answer when a
    /// worker touches the same task at the same moment, e.g. extending its lock; Camunda's
    /// advice is to retry). It must end in 204.
    pub async fn call_204(&self, method: Method, path: &str, body: Option<&Json>) {
        for _ in 0..20 {
            let (status, answer) = self.call(method.clone(), path, body).await;
            if status == 500 && answer["code"] == json!(1) {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            assert_eq!(status, 204, "{method} {path}: {answer}");
            return;
        }
        panic!("{method} {path}: conflicts all the time");
    }

    /// Cancel an instance: `DELETE /process-instance/{id}`.
    pub async fn cancel(&self, instance: &str) {
        self.call_204(
            Method::DELETE,
            &format!("/process-instance/{instance}"),
            None,
        )
        .await;
    }

    /// Start `count` instances of `key` without variables.
    pub async fn start_many(&self, key: &str, count: usize) -> Vec<String> {
        let mut ids = Vec::with_capacity(count);
        for _ in 0..count {
            ids.push(self.start(key, Variables::new()).await);
        }
        ids
    }

    /// The instance's state from history: `ACTIVE`, `COMPLETED`, `EXTERNALLY_TERMINATED`, ...
    pub async fn state(&self, instance: &str) -> String {
        self.get(&format!("/history/process-instance/{instance}"))
            .await["state"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Wait until every instance has left `ACTIVE`; their final states.
    pub async fn wait_ended(&self, instances: &[String], timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut states = Vec::with_capacity(instances.len());
        for id in instances {
            loop {
                let state = self.state(id).await;
                if state != "ACTIVE" {
                    states.push(state);
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "instance {id} still ACTIVE after {timeout:?} ({})",
                    self.name
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        states
    }

    /// Wait until every instance has ended and assert they all `COMPLETED`.
    pub async fn wait_completed(&self, instances: &[String], timeout: Duration) {
        let states = self.wait_ended(instances, timeout).await;
        assert!(
            states.iter().all(|s| s == "COMPLETED"),
            "not every instance completed: {states:?}"
        );
    }

    /// The instance's variables from history in the engine's typed form (`type`, `value`,
    /// `valueInfo`, ...), process-instance scope only.
    pub async fn history_typed(&self, instance: &str) -> Map<String, Json> {
        let items = self
            .get(&format!(
                "/history/variable-instance?processInstanceId={instance}&deserializeValues=false"
            ))
            .await;
        let mut out = Map::new();
        for item in items.as_array().unwrap() {
            if item["activityInstanceId"].as_str() == Some(instance) {
                out.insert(item["name"].as_str().unwrap().to_owned(), item.clone());
            }
        }
        out
    }

    /// Every historic variable instance of the instance (all scopes).
    pub async fn history_all(&self, instance: &str) -> Vec<Json> {
        self.get(&format!(
            "/history/variable-instance?processInstanceId={instance}&deserializeValues=false"
        ))
        .await
        .as_array()
        .unwrap()
        .clone()
    }

    /// The external tasks matching a query string (`topicName=...&...`).
    pub async fn external_tasks(&self, query: &str) -> Vec<Json> {
        self.get(&format!("/external-task?{query}"))
            .await
            .as_array()
            .unwrap()
            .clone()
    }

    /// The open external tasks of an instance.
    pub async fn tasks_of(&self, instance: &str) -> Vec<Json> {
        self.external_tasks(&format!("processInstanceId={instance}"))
            .await
    }

    /// Wait until the instance has an open external task; returns it.
    pub async fn wait_task_of(&self, instance: &str, timeout: Duration) -> Json {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(task) = self.tasks_of(instance).await.into_iter().next() {
                return task;
            }
            assert!(Instant::now() < deadline, "no task of {instance}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The incidents of an instance.
    pub async fn incidents(&self, instance: &str) -> Vec<Json> {
        self.get(&format!("/incident?processInstanceId={instance}"))
            .await
            .as_array()
            .unwrap()
            .clone()
    }

    /// The historic external task log of an instance, oldest first.
    pub async fn task_log(&self, instance: &str) -> Vec<Json> {
        self.get(&format!(
            "/history/external-task-log?processInstanceId={instance}&sortBy=timestamp&sortOrder=asc"
        ))
        .await
        .as_array()
        .unwrap()
        .clone()
    }

    /// The historic activity instances of an instance, by activity id.
    pub async fn activities(&self, instance: &str) -> Vec<String> {
        self.get(&format!(
            "/history/activity-instance?processInstanceId={instance}&sortBy=startTime&sortOrder=asc"
        ))
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["activityId"].as_str().unwrap_or_default().to_owned())
        .collect()
    }

    // ----- workers -----

    /// Build a worker against the engine and run it in the background. `customize` may set a
    /// store, extensions, ...
    pub fn spawn_worker(
        &self,
        mappings: TaskMappings,
        config: WorkerConfig,
        customize: impl FnOnce(WorkerBuilder<CamundaEngine>) -> WorkerBuilder<CamundaEngine>,
    ) -> Running {
        let store = Arc::new(InMemoryStore::new());
        let builder = Worker::builder(CamundaEngine::new(self.client.clone()))
            .registry(Registry::global().unwrap().clone())
            .mappings(mappings)
            .config(config)
            .store(Arc::clone(&store) as Arc<dyn TaskStore>)
            .extension(Arc::new(self.client.clone()));
        let worker = customize(builder).build().unwrap();
        let handle = worker.handle();
        let join = tokio::spawn(worker.run(std::future::pending::<()>()));
        Running {
            handle,
            join,
            store,
        }
    }
}

/// Short timings for tests: long poll 1 s, lock 20 s unless the test says otherwise.
pub fn config() -> WorkerConfig {
    WorkerConfig {
        max_tasks: 5,
        lock_duration: Duration::from_secs(20),
        async_response_timeout: Duration::from_secs(1),
        shutdown_grace: Duration::from_secs(10),
        report_backoff: Duration::from_millis(50),
        engine_backoff_min: Duration::from_millis(50),
        engine_backoff_max: Duration::from_millis(500),
        ..WorkerConfig::default()
    }
}

// ----- BPMN -----

/// One external service task of a [`process`].
#[derive(Debug, Clone, Default)]
pub struct Task {
    topic: String,
    priority: Option<i64>,
    properties: Vec<(String, String)>,
    inputs: Vec<(String, String)>,
    catch: Option<String>,
}

impl Task {
    /// An external task on `topic`.
    pub fn new(topic: &str) -> Self {
        Self {
            topic: topic.to_owned(),
            ..Self::default()
        }
    }

    /// `camunda:taskPriority`.
    pub fn priority(mut self, priority: i64) -> Self {
        self.priority = Some(priority);
        self
    }

    /// A `camunda:property` extension property.
    pub fn property(mut self, name: &str, value: &str) -> Self {
        self.properties.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A `camunda:inputParameter` with a literal value (makes the task a scope, so that its
    /// local variables stay local).
    pub fn input(mut self, name: &str, value: &str) -> Self {
        self.inputs.push((name.to_owned(), value.to_owned()));
        self
    }

    /// An error boundary event catching `code` (`*`: any code), leading to the end event
    /// `Caught_<index>`; it sets `caughtCode` and `caughtMessage`.
    pub fn catch(mut self, code: &str) -> Self {
        self.catch = Some(code.to_owned());
        self
    }
}

/// BPMN for process `key`: start → the tasks in a row → end. Optional version tag.
pub fn process(key: &str, tasks: &[Task], version_tag: Option<&str>) -> String {
    let mut nodes = String::new();
    let mut flows = String::new();
    let mut errors = String::new();
    let mut previous = "Start".to_owned();
    for (i, task) in tasks.iter().enumerate() {
        let id = format!("Task_{i}");
        let priority = task
            .priority
            .map(|p| format!(r#" camunda:taskPriority="{p}""#))
            .unwrap_or_default();
        let mut extension = String::new();
        if !task.properties.is_empty() {
            extension.push_str("<camunda:properties>");
            for (name, value) in &task.properties {
                extension.push_str(&format!(
                    r#"<camunda:property name="{name}" value="{value}" />"#
                ));
            }
            extension.push_str("</camunda:properties>");
        }
        if !task.inputs.is_empty() {
            extension.push_str("<camunda:inputOutput>");
            for (name, value) in &task.inputs {
                extension.push_str(&format!(
                    r#"<camunda:inputParameter name="{name}">{value}</camunda:inputParameter>"#
                ));
            }
            extension.push_str("</camunda:inputOutput>");
        }
        if !extension.is_empty() {
            extension = format!("<bpmn:extensionElements>{extension}</bpmn:extensionElements>");
        }
        nodes.push_str(&format!(
            r#"<bpmn:serviceTask id="{id}" camunda:type="external" camunda:topic="{topic}"{priority}>{extension}<bpmn:incoming>F_{i}</bpmn:incoming><bpmn:outgoing>F_{next}</bpmn:outgoing></bpmn:serviceTask>
"#,
            topic = task.topic,
            next = i + 1
        ));
        flows.push_str(&format!(
            r#"<bpmn:sequenceFlow id="F_{i}" sourceRef="{previous}" targetRef="{id}" />
"#
        ));
        if let Some(code) = &task.catch {
            let reference = if code == "*" {
                String::new()
            } else {
                errors.push_str(&format!(
                    r#"<bpmn:error id="Error_{i}" name="E{i}" errorCode="{code}" />"#
                ));
                format!(r#" errorRef="Error_{i}""#)
            };
            nodes.push_str(&format!(
                r#"<bpmn:boundaryEvent id="Boundary_{i}" attachedToRef="{id}"><bpmn:outgoing>B_{i}</bpmn:outgoing><bpmn:errorEventDefinition{reference} camunda:errorCodeVariable="caughtCode" camunda:errorMessageVariable="caughtMessage" /></bpmn:boundaryEvent>
<bpmn:endEvent id="Caught_{i}"><bpmn:incoming>B_{i}</bpmn:incoming></bpmn:endEvent>
"#
            ));
            flows.push_str(&format!(
                r#"<bpmn:sequenceFlow id="B_{i}" sourceRef="Boundary_{i}" targetRef="Caught_{i}" />
"#
            ));
        }
        previous = id;
    }
    let n = tasks.len();
    flows.push_str(&format!(
        r#"<bpmn:sequenceFlow id="F_{n}" sourceRef="{previous}" targetRef="End" />"#
    ));
    let tag = version_tag
        .map(|t| format!(r#" camunda:versionTag="{t}""#))
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_{key}" targetNamespace="http://bptl.test/real-engine">
  {errors}
  <bpmn:process id="{key}" isExecutable="true" camunda:historyTimeToLive="P1D"{tag}>
    <bpmn:startEvent id="Start"><bpmn:outgoing>F_0</bpmn:outgoing></bpmn:startEvent>
    {nodes}
    <bpmn:endEvent id="End"><bpmn:incoming>F_{n}</bpmn:incoming></bpmn:endEvent>
    {flows}
  </bpmn:process>
</bpmn:definitions>"#
    )
}

/// Deploy a process of one task per topic (in a row) and return its key.
pub async fn deploy_chain(rig: &Rig, key: &str, tasks: &[Task]) -> String {
    rig.deploy(&process(key, tasks, None)).await;
    key.to_owned()
}
