//! [`TestEngine`]: the dev engine with BPMN deployed and a worker running, for end-to-end
//! tests of a process.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bptl_camunda::{CamundaClient, CamundaEngine};
use bptl_core::runtime::{Worker, WorkerConfig, WorkerHandle, WorkerStats};
use bptl_core::{
    InMemoryStore, Registry, TaskFilter, TaskKey, TaskMapping, TaskMappings, TaskRecord, TaskStore,
    TimelineEntry, Variables,
};
use bptl_dev_engine::{DevEngine, InstanceState};
use serde_json::Value as Json;
use tokio::task::JoinHandle;

use super::TestKitError;
use super::services::{AppCredentials, ServiceSet, ServiceSpec};
use super::unit::find_unit;

/// How long [`TestEngine::wait_until_ended`] waits unless told otherwise.
pub const DEFAULT_PROCESS_WAIT: Duration = Duration::from_secs(30);

/// The dev engine with BPMN deployed and a worker running the given task mappings, for
/// end-to-end tests of a process.
///
/// Dropping it stops the worker at once and shuts the engine down;
/// [`shutdown`](TestEngine::shutdown) stops them gracefully and returns the worker's counts.
///
/// ```
/// use bptl::prelude::*;
/// use bptl::testing::TestEngine;
/// use bptl::TaskMapping;
///
/// const BPMN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
/// <bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
///     xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="x">
///   <bpmn:process id="double" isExecutable="true">
///     <bpmn:startEvent id="start" />
///     <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
///     <bpmn:serviceTask id="work" camunda:type="external" camunda:topic="double" />
///     <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
///     <bpmn:endEvent id="end" />
///   </bpmn:process>
/// </bpmn:definitions>"#;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), bptl::testing::TestKitError> {
/// let engine = TestEngine::builder()
///     .bpmn(BPMN)
///     .mapping(TaskMapping::new("double", "bptl_dummy::Double"))
///     .start()
///     .await?;
/// let id = engine.start("double", variables! { "amount": 21 })?;
/// engine.wait_until_ended(&[&id]).await?;
/// assert_eq!(engine.history_variables(&id)?.get("doubled"), Some(&Value::from(42)));
/// assert!(engine.incidents().is_empty());
/// # Ok(()) }
/// ```
pub struct TestEngine {
    engine: Option<DevEngine>,
    handle: WorkerHandle,
    worker: Option<JoinHandle<WorkerStats>>,
    store: Arc<InMemoryStore>,
    wait: Duration,
}

impl std::fmt::Debug for TestEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestEngine")
            .field("url", &self.engine.as_ref().map(DevEngine::url))
            .finish_non_exhaustive()
    }
}

/// Builds a [`TestEngine`]: BPMN to deploy, task mappings, services and applications.
#[derive(Debug, Clone, Default)]
pub struct TestEngineBuilder {
    bpmn: Vec<(String, String)>,
    mappings: Vec<TaskMapping>,
    services: BTreeMap<String, ServiceSpec>,
    apps: BTreeMap<String, Vec<(String, AppCredentials)>>,
    wait: Option<Duration>,
}

impl TestEngineBuilder {
    /// Deploy this BPMN XML.
    pub fn bpmn(mut self, xml: &str) -> Self {
        let name = format!("process-{}.bpmn", self.bpmn.len() + 1);
        self.bpmn.push((name, xml.to_owned()));
        self
    }

    /// Deploy this BPMN file.
    ///
    /// # Panics
    ///
    /// When the file cannot be read, naming it.
    pub fn bpmn_file(mut self, path: impl AsRef<std::path::Path>) -> Self {
        let path = path.as_ref();
        match std::fs::read_to_string(path) {
            Ok(xml) => {
                let name = path.file_name().map_or_else(
                    || "process.bpmn".to_owned(),
                    |n| n.to_string_lossy().into_owned(),
                );
                self.bpmn.push((name, xml));
            }
            Err(e) => panic!("cannot read the BPMN file {}: {e}", path.display()),
        }
        self
    }

    /// Run this task mapping (its engine must be `camunda`, the default). Services it names by
    /// alias must be given with [`service`](TestEngineBuilder::service) under their names.
    pub fn mapping(mut self, mapping: TaskMapping) -> Self {
        self.mappings.push(mapping);
        self
    }

    /// The service `name` (what mappings name, `[services.NAME]`): a URL or a
    /// [`ServiceSpec`]. Its `api_type` defaults to the type the units declare for the aliases
    /// the service is mapped to.
    pub fn service(mut self, name: &str, service: impl Into<ServiceSpec>) -> Self {
        self.services.insert(name.to_owned(), service.into());
        self
    }

    /// Credentials of the application `app_id`, per service name.
    pub fn app<'a>(
        mut self,
        app_id: &str,
        credentials: impl IntoIterator<Item = (&'a str, AppCredentials)>,
    ) -> Self {
        self.apps.entry(app_id.to_owned()).or_default().extend(
            credentials
                .into_iter()
                .map(|(service, creds)| (service.to_owned(), creds)),
        );
        self
    }

    /// How long [`TestEngine::wait_until_ended`] waits (default [`DEFAULT_PROCESS_WAIT`]).
    pub fn wait_at_most(mut self, wait: Duration) -> Self {
        self.wait = Some(wait);
        self
    }

    /// Start the dev engine, deploy the BPMN, check the mappings as `worker check` does and
    /// start the worker.
    pub async fn start(self) -> Result<TestEngine, TestKitError> {
        let registry = Registry::global().map_err(|e| TestKitError::Registry(e.to_string()))?;
        let mut set = ServiceSet::default();
        for (name, spec) in &self.services {
            let mut spec = spec.clone();
            if !spec.has_api_type() {
                spec = spec.api_type(&declared_type(name, &self.mappings, registry));
            }
            set.services.insert(name.clone(), spec);
        }
        for (app_id, creds) in &self.apps {
            set.apps
                .entry(app_id.clone())
                .or_default()
                .extend(creds.iter().cloned());
        }
        let (config, store) = set.store()?;
        let mut problems = Vec::new();
        for mapping in &self.mappings {
            let entry = find_unit(registry, &mapping.callback)?;
            problems.extend(
                bptl_credentials::validate_mapping(mapping, entry, &config)
                    .iter()
                    .map(ToString::to_string),
            );
        }
        if !problems.is_empty() {
            return Err(TestKitError::Mapping(problems));
        }
        let mappings = TaskMappings::new(self.mappings.iter().cloned())
            .map_err(|e| TestKitError::Mapping(vec![e.to_string()]))?;

        let engine = DevEngine::start()
            .await
            .map_err(|e| TestKitError::Engine(e.to_string()))?;
        for (name, xml) in &self.bpmn {
            engine
                .deploy_str(name, xml)
                .map_err(|e| TestKitError::Engine(format!("cannot deploy {name}: {e}")))?;
        }
        let client =
            CamundaClient::new(engine.url()).map_err(|e| TestKitError::Engine(e.to_string()))?;
        let task_store = Arc::new(InMemoryStore::new());
        let worker = Worker::builder(CamundaEngine::new(client.clone()))
            .registry(registry.clone())
            .mappings(mappings)
            .config(WorkerConfig {
                worker_id: Some("bptl-test-engine".into()),
                lock_duration: Duration::from_secs(30),
                async_response_timeout: Duration::from_secs(1),
                shutdown_grace: Duration::from_secs(5),
                report_backoff: Duration::from_millis(20),
                engine_backoff_min: Duration::from_millis(20),
                engine_backoff_max: Duration::from_millis(500),
                ..WorkerConfig::default()
            })
            .store(Arc::clone(&task_store) as Arc<dyn TaskStore>)
            .extension(Arc::new(store))
            // The worker's own engine, as `worker run` attaches it.
            .extension(Arc::new(client))
            .build()
            .map_err(|e| TestKitError::Engine(format!("the worker cannot be built: {e}")))?;
        let handle = worker.handle();
        let join = tokio::spawn(worker.run(std::future::pending::<()>()));
        Ok(TestEngine {
            engine: Some(engine),
            handle,
            worker: Some(join),
            store: task_store,
            wait: self.wait.unwrap_or(DEFAULT_PROCESS_WAIT),
        })
    }
}

/// The type the units declare for the aliases `service` is mapped to, else its name.
fn declared_type(service: &str, mappings: &[TaskMapping], registry: &Registry) -> String {
    let types: BTreeSet<&str> = mappings
        .iter()
        .flat_map(|m| {
            let unit = registry.get(&m.callback);
            m.services
                .iter()
                .filter(move |(_, name)| name.as_str() == service)
                .filter_map(move |(alias, _)| {
                    unit?
                        .required_services
                        .iter()
                        .find(|r| r.alias == Some(alias.as_str()))
                        .map(|r| r.service_type)
                })
        })
        .filter(|t| *t != bptl_credentials::ANY_SERVICE_TYPE)
        .collect();
    types.into_iter().next().unwrap_or(service).to_owned()
}

/// An open incident of a process instance.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Incident {
    /// The process instance.
    pub process_instance_id: String,
    /// The BPMN activity (service task) id.
    pub activity_id: String,
    /// The external task whose retries ran out.
    pub task_id: String,
    /// The last failure's message.
    pub message: String,
}

impl Incident {
    fn from_json(json: &Json) -> Self {
        let text = |k: &str| json[k].as_str().unwrap_or_default().to_owned();
        Self {
            process_instance_id: text("processInstanceId"),
            activity_id: text("activityId"),
            task_id: text("configuration"),
            message: text("incidentMessage"),
        }
    }
}

impl TestEngine {
    /// A builder: add BPMN, mappings, services and applications, then
    /// [`start`](TestEngineBuilder::start).
    pub fn builder() -> TestEngineBuilder {
        TestEngineBuilder::default()
    }

    /// Start the latest version of process `key` with these variables; returns the instance id.
    pub fn start(&self, key: &str, variables: Variables) -> Result<String, TestKitError> {
        self.start_with_business_key(key, variables, None)
    }

    /// Like [`start`](TestEngine::start), with a business key.
    pub fn start_with_business_key(
        &self,
        key: &str,
        variables: Variables,
        business_key: Option<&str>,
    ) -> Result<String, TestKitError> {
        let typed = bptl_camunda::variables::variables_to_typed(&variables)
            .map_err(|e| TestKitError::Variables(e.to_string()))?;
        self.dev_engine()
            .start_process(key, Json::Object(typed), business_key)
            .map_err(|e| TestKitError::Engine(e.to_string()))
    }

    /// Wait until these instances have ended.
    ///
    /// Fails at once when one of them has an incident (it would not end by itself), naming
    /// the activity and the failure's message; and after the wait (default 30 s, see
    /// [`wait_at_most`](TestEngineBuilder::wait_at_most)) naming the instances still running
    /// and their open tasks.
    pub async fn wait_until_ended(&self, instances: &[&str]) -> Result<(), TestKitError> {
        let dev = self.dev_engine();
        let deadline = Instant::now() + self.wait;
        loop {
            let mut running = Vec::new();
            for id in instances {
                match dev.instance_state(id) {
                    None => return Err(TestKitError::UnknownInstance((*id).to_owned())),
                    Some(InstanceState::Active) => running.push((*id).to_owned()),
                    Some(_) => {}
                }
            }
            if running.is_empty() {
                return Ok(());
            }
            if let Some(incident) = running
                .iter()
                .flat_map(|id| dev.incidents(Some(id)))
                .map(|j| Incident::from_json(&j))
                .next()
            {
                return Err(TestKitError::Incident {
                    instance: incident.process_instance_id,
                    activity: incident.activity_id,
                    message: incident.message,
                });
            }
            if Instant::now() >= deadline {
                let open_tasks = dev
                    .external_tasks(None)
                    .iter()
                    .filter(|t| {
                        t["processInstanceId"]
                            .as_str()
                            .is_some_and(|id| running.iter().any(|r| r == id))
                    })
                    .map(|t| {
                        format!(
                            "{} ({})",
                            t["topicName"].as_str().unwrap_or_default(),
                            t["activityId"].as_str().unwrap_or_default()
                        )
                    })
                    .collect();
                return Err(TestKitError::NotEnded {
                    instances: running,
                    open_tasks,
                    waited: self.wait,
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The variables of an instance, also after it ended.
    pub fn history_variables(&self, instance: &str) -> Result<Variables, TestKitError> {
        let typed = self
            .dev_engine()
            .history_variables(instance)
            .ok_or_else(|| TestKitError::UnknownInstance(instance.to_owned()))?;
        bptl_camunda::variables::variables_from_typed(&typed)
            .map_err(|e| TestKitError::Variables(e.to_string()))
    }

    /// The open incidents of every instance.
    pub fn incidents(&self) -> Vec<Incident> {
        self.engine
            .as_ref()
            .map(|dev| {
                dev.incidents(None)
                    .iter()
                    .map(Incident::from_json)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The worker's task records of an instance (newest first), with status, result and error.
    pub async fn tasks_of(&self, instance: &str) -> Vec<TaskRecord> {
        self.store
            .list(&TaskFilter::default().process_instance(instance))
            .await
            .unwrap_or_default()
    }

    /// The timeline of one of the worker's tasks.
    pub async fn timeline(&self, task_id: &str) -> Vec<TimelineEntry> {
        self.store
            .timeline(&TaskKey::new(bptl_core::mapping::DEFAULT_ENGINE, task_id))
            .await
            .unwrap_or_default()
    }

    /// The dev engine itself (faults, external tasks, instance states, ...).
    ///
    /// # Panics
    ///
    /// Never before [`shutdown`](TestEngine::shutdown), which consumes the `TestEngine`.
    pub fn dev_engine(&self) -> &DevEngine {
        match &self.engine {
            Some(engine) => engine,
            None => unreachable!("the engine is only taken by shutdown and drop"),
        }
    }

    /// The worker's counts so far.
    pub fn stats(&self) -> WorkerStats {
        self.handle.stats()
    }

    /// Stop the worker gracefully, then the engine; returns what the worker did.
    pub async fn shutdown(mut self) -> WorkerStats {
        self.handle.shutdown();
        let stats = match self.worker.take() {
            Some(join) => match tokio::time::timeout(Duration::from_secs(10), join).await {
                Ok(Ok(stats)) => stats,
                _ => self.handle.stats(),
            },
            None => self.handle.stats(),
        };
        if let Some(engine) = self.engine.take() {
            engine.shutdown().await;
        }
        stats
    }
}

impl Drop for TestEngine {
    fn drop(&mut self) {
        self.handle.shutdown_now();
        if let Some(join) = self.worker.take() {
            join.abort();
        }
        // The dev engine's own drop closes its listener and connections.
        self.engine.take();
    }
}
