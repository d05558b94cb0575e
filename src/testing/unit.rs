//! [`UnitTest`]: run one registered unit the way the worker runs it, and see what the engine
//! would hear.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bptl_camunda::ExternalTask;
use bptl_core::runtime::{Worker, WorkerConfig};
use bptl_core::{
    BpmnError, EventKind, FailureReport, InMemoryStore, Registry, RetryPolicy, TaskKey,
    TaskMapping, TaskMappings, TaskRecord, TaskStore, TimelineEntry, UnitEntry, Variables,
};
use serde_json::{Value as Json, json};

use super::TestKitError;
use super::one_task::OneTaskEngine;
use super::services::{AppCredentials, ServiceSet, ServiceSpec};

/// How long [`UnitTest::run`] waits for the outcome unless told otherwise.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// One unit test: a registered unit, the variables of its task, the services and application
/// credentials it uses, and its mapping's settings.
///
/// [`run`](UnitTest::run) runs the unit in the real worker runtime (claim, lock heartbeat,
/// outcome decision, report, timeline) against an engine that hands out this one task with the
/// variables typed as Camunda sends them, and returns what that engine heard.
///
/// ```
/// use bptl::prelude::*;
/// use bptl::testing::UnitTest;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let run = UnitTest::new("bptl_dummy::Double")
///     .variables(variables! { "amount": 21 })
///     .run()
///     .await;
/// assert_eq!(run.assert_completed().get("doubled"), Some(&Value::from(42)));
///
/// let run = UnitTest::new("bptl_dummy::Double").run().await;
/// let failure = run.assert_failure();
/// assert_eq!(failure.error_message, "The variable amount is missing or empty.");
/// assert_eq!(failure.retries, 0); // a missing variable is an incident at once
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct UnitTest {
    unit: String,
    topic: Option<String>,
    variables: Variables,
    services: BTreeMap<String, ServiceSpec>,
    apps: BTreeMap<String, Vec<(String, AppCredentials)>>,
    timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
    retries_left: Option<i32>,
    business_key: Option<String>,
    wait: Duration,
}

impl UnitTest {
    /// A test of the unit registered under `unit` (its path, e.g. `my_units::CreateZaak`).
    pub fn new(unit: impl Into<String>) -> Self {
        Self {
            unit: unit.into(),
            topic: None,
            variables: Variables::new(),
            services: BTreeMap::new(),
            apps: BTreeMap::new(),
            timeout: None,
            retry: None,
            retries_left: None,
            business_key: None,
            wait: DEFAULT_WAIT,
        }
    }

    /// The task's process variables (added to any given before).
    pub fn variables(mut self, variables: Variables) -> Self {
        for (name, value) in variables.iter() {
            self.variables.insert(name.clone(), value.clone());
        }
        self
    }

    /// The service under `alias` in the mapping: a URL (no authentication) or a
    /// [`ServiceSpec`] with any `[services.*]` keys. Its name is the alias unless the spec says
    /// otherwise; its `api_type` is the unit's declared type for the alias unless the spec says
    /// otherwise.
    pub fn service(mut self, alias: &str, service: impl Into<ServiceSpec>) -> Self {
        self.services.insert(alias.to_owned(), service.into());
        self
    }

    /// Credentials of the application `app_id` (the `bptlAppId` a process runs for), per
    /// service alias: `.app("https://app", [("zrc", AppCredentials::zgw("app", "secret"))])`.
    pub fn app<'a>(
        mut self,
        app_id: &str,
        credentials: impl IntoIterator<Item = (&'a str, AppCredentials)>,
    ) -> Self {
        self.apps.entry(app_id.to_owned()).or_default().extend(
            credentials
                .into_iter()
                .map(|(alias, creds)| (alias.to_owned(), creds)),
        );
        self
    }

    /// The mapping's time limit for the unit: past it, the engine hears a failure
    /// "timed out after …".
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The mapping's retry policy (default: 3 retries, 30 s apart).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// The retries the engine says the task has left (as after earlier failures; default:
    /// none reported yet).
    pub fn retries_left(mut self, retries: i32) -> Self {
        self.retries_left = Some(retries);
        self
    }

    /// The mapping's topic (default: the unit's path).
    pub fn topic(mut self, topic: &str) -> Self {
        self.topic = Some(topic.to_owned());
        self
    }

    /// The process instance's business key.
    pub fn business_key(mut self, key: &str) -> Self {
        self.business_key = Some(key.to_owned());
        self
    }

    /// How long [`run`](UnitTest::run) waits for the engine to hear the outcome (default
    /// [`DEFAULT_WAIT`]).
    pub fn wait_at_most(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Run the unit and return what the engine would hear, with the task's record and timeline.
    ///
    /// # Panics
    ///
    /// When the test is set up wrongly (see [`try_run`](UnitTest::try_run)), with a message
    /// that says what to change.
    pub async fn run(self) -> UnitRun {
        match self.try_run().await {
            Ok(run) => run,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`run`](UnitTest::run), but returns setup errors: an unknown unit, invalid services
    /// or credentials, a mapping that does not fit the unit's `#[require_service]`
    /// declarations, variables an engine cannot send, or no outcome in time.
    ///
    /// ```
    /// use bptl::testing::{TestKitError, UnitTest};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let err = UnitTest::new("bptl_dummy::fetch_json").try_run().await.unwrap_err();
    /// assert_eq!(err.to_string(),
    ///     "the task mapping does not fit its unit (as `worker check` would say): Missing service alias 'api'");
    /// # }
    /// ```
    pub async fn try_run(self) -> Result<UnitRun, TestKitError> {
        let registry = Registry::global().map_err(|e| TestKitError::Registry(e.to_string()))?;
        let entry = *find_unit(registry, &self.unit)?;
        let set = self.service_set(&entry);
        let (config, store) = set.store()?;
        let mapping = self.mapping(&entry);
        let problems = bptl_credentials::validate_mapping(&mapping, &entry, &config);
        if !problems.is_empty() {
            return Err(TestKitError::Mapping(
                problems.iter().map(|p| p.problem.to_string()).collect(),
            ));
        }
        let task_id = format!("unit-test-{:016x}", rand_id());
        let task = self.external_task(&task_id, &mapping.topic)?;
        let (engine, heard) = OneTaskEngine::new(Arc::new(task));
        let mut until_heard = heard.clone();
        let task_store = Arc::new(InMemoryStore::new());
        let worker = Worker::builder(engine)
            .registry(
                Registry::from_entries([entry])
                    .map_err(|e| TestKitError::Registry(e.to_string()))?,
            )
            .mappings(
                TaskMappings::new([mapping]).map_err(|e| TestKitError::Engine(e.to_string()))?,
            )
            .config(WorkerConfig {
                worker_id: Some("bptl-unit-test".into()),
                max_tasks: 1,
                async_response_timeout: Duration::from_secs(1),
                shutdown_grace: Duration::from_secs(5),
                report_backoff: Duration::from_millis(10),
                ..WorkerConfig::default()
            })
            .store(Arc::clone(&task_store) as Arc<dyn TaskStore>)
            .extension(Arc::new(store))
            .build()
            .map_err(|e| TestKitError::Engine(format!("the worker cannot be built: {e}")))?;
        let wait = self.wait;
        let handle = worker.handle();
        let running = tokio::spawn(worker.run(async move {
            if tokio::time::timeout(wait, until_heard.wait_for(Option::is_some))
                .await
                .is_err()
            {
                // The unit is still running: stop it now rather than after the grace period.
                handle.shutdown_now();
            }
        }));
        if let Err(e) = running.await {
            return Err(TestKitError::Engine(format!(
                "the worker stopped abnormally: {e}"
            )));
        }
        let heard = heard.borrow().clone();
        let key = TaskKey::new(bptl_core::mapping::DEFAULT_ENGINE, &task_id);
        let timeline = task_store.timeline(&key).await.unwrap_or_default();
        let record = task_store.get(&key).await.ok().flatten();
        match heard {
            Some(heard) => Ok(UnitRun {
                unit: self.unit,
                heard,
                timeline,
                record,
            }),
            None => Err(TestKitError::NotHeard { waited: wait }),
        }
    }

    fn service_set(&self, entry: &UnitEntry) -> ServiceSet {
        let mut set = ServiceSet::default();
        let mut names = BTreeMap::new();
        for (alias, spec) in &self.services {
            let name = spec.configured_name().unwrap_or(alias).to_owned();
            let mut spec = spec.clone();
            if !spec.has_api_type() {
                let declared = entry
                    .required_services
                    .iter()
                    .find(|r| r.alias == Some(alias.as_str()))
                    .map(|r| r.service_type)
                    .filter(|t| *t != bptl_credentials::ANY_SERVICE_TYPE)
                    .unwrap_or(alias.as_str());
                spec = spec.api_type(declared);
            }
            names.insert(alias.clone(), name.clone());
            set.services.insert(name, spec);
        }
        for (app_id, creds) in &self.apps {
            let app = set.apps.entry(app_id.clone()).or_default();
            for (alias, c) in creds {
                let service = names.get(alias).cloned().unwrap_or_else(|| alias.clone());
                app.insert(service, c.clone());
            }
        }
        set
    }

    fn mapping(&self, entry: &UnitEntry) -> TaskMapping {
        let topic = self.topic.clone().unwrap_or_else(|| entry.path.to_owned());
        let mut mapping = TaskMapping::new(topic, entry.path);
        for (alias, spec) in &self.services {
            mapping = mapping.service(alias.as_str(), spec.configured_name().unwrap_or(alias));
        }
        if let Some(timeout) = self.timeout {
            mapping = mapping.timeout(timeout);
        }
        if let Some(retry) = &self.retry {
            mapping = mapping.retry(retry.clone());
        }
        mapping
    }

    fn external_task(&self, task_id: &str, topic: &str) -> Result<ExternalTask, TestKitError> {
        let typed = bptl_camunda::variables::variables_to_typed(&self.variables)
            .map_err(|e| TestKitError::Variables(e.to_string()))?;
        ExternalTask::from_json(json!({
            "id": task_id,
            "topicName": topic,
            "workerId": "bptl-unit-test",
            "processInstanceId": format!("{task_id}-instance"),
            "processDefinitionKey": "unit-test",
            "activityId": "unit_test",
            "businessKey": self.business_key,
            "retries": self.retries_left,
            "variables": Json::Object(typed),
        }))
        .map_err(|e| TestKitError::Variables(e.to_string()))
    }
}

fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.finish()
}

/// The registry entry for `unit`, or an error that lists what is registered.
pub(crate) fn find_unit<'r>(
    registry: &'r Registry,
    unit: &str,
) -> Result<&'r UnitEntry, TestKitError> {
    registry.get(unit).ok_or_else(|| TestKitError::UnknownUnit {
        unit: unit.to_owned(),
        registered: registry.iter().map(|u| u.path.to_owned()).collect(),
        similar: registry
            .similar(unit)
            .into_iter()
            .map(str::to_owned)
            .collect(),
    })
}

/// What the engine hears about a task.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EngineHears {
    /// `complete` with these variables.
    Complete(Variables),
    /// `failure` with this message, details, retries and retry timeout.
    Failure(FailureReport),
    /// `bpmnError` with this code, message and variables.
    BpmnError(BpmnError),
}

impl fmt::Display for EngineHears {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineHears::Complete(vars) => write!(f, "complete with {}", vars.to_json()),
            EngineHears::Failure(r) => write!(
                f,
                "failure '{}' (retries {}, retry timeout {})",
                r.error_message,
                r.retries,
                bptl_core::duration::format_duration(r.retry_timeout)
            ),
            EngineHears::BpmnError(e) => {
                write!(f, "BPMN error '{}' ({})", e.code, e.message)?;
                if !e.variables.is_empty() {
                    write!(f, " with {}", e.variables.to_json())?;
                }
                Ok(())
            }
        }
    }
}

/// The outcome of a [`UnitTest`]: what the engine heard, the task's record and its timeline.
#[derive(Debug, Clone)]
pub struct UnitRun {
    unit: String,
    heard: EngineHears,
    timeline: Vec<TimelineEntry>,
    record: Option<TaskRecord>,
}

impl UnitRun {
    /// What the engine heard.
    pub fn outcome(&self) -> &EngineHears {
        &self.heard
    }

    /// The variables the task was completed with.
    ///
    /// # Panics
    ///
    /// When the engine heard anything else, saying what it heard.
    pub fn assert_completed(&self) -> &Variables {
        match &self.heard {
            EngineHears::Complete(vars) => vars,
            other => panic!(
                "expected unit '{}' to complete the task, the engine would hear: {other}{}",
                self.unit,
                self.details()
            ),
        }
    }

    /// The failure the engine heard.
    ///
    /// # Panics
    ///
    /// When the engine heard anything else, saying what it heard.
    pub fn assert_failure(&self) -> &FailureReport {
        match &self.heard {
            EngineHears::Failure(report) => report,
            other => panic!(
                "expected unit '{}' to fail the task, the engine would hear: {other}",
                self.unit
            ),
        }
    }

    /// The BPMN error the engine heard, which must have `code`.
    ///
    /// # Panics
    ///
    /// When the engine heard anything else, or a BPMN error with another code.
    pub fn assert_bpmn_error(&self, code: &str) -> &BpmnError {
        match &self.heard {
            EngineHears::BpmnError(e) if e.code == code => e,
            other => panic!(
                "expected a BPMN error '{code}' from unit '{}', the engine would hear: {other}{}",
                self.unit,
                self.details()
            ),
        }
    }

    /// The task's timeline: status changes, outgoing requests (redacted), lock extensions.
    pub fn timeline(&self) -> &[TimelineEntry] {
        &self.timeline
    }

    /// The requests the unit sent through its service clients, as the timeline records them
    /// (secrets shown as `***`).
    pub fn outgoing_requests(&self) -> Vec<OutgoingRequest> {
        self.timeline
            .iter()
            .filter(|e| e.kind == EventKind::Request)
            .map(OutgoingRequest::from_entry)
            .collect()
    }

    /// The task's record as the worker stored it (status, result, error, executions).
    pub fn record(&self) -> Option<&TaskRecord> {
        self.record.as_ref()
    }

    fn details(&self) -> String {
        match &self.heard {
            EngineHears::Failure(r) => r
                .error_details
                .as_deref()
                .filter(|d| *d != r.error_message)
                .map(|d| format!("\ndetails: {d}"))
                .unwrap_or_default(),
            _ => String::new(),
        }
    }
}

/// One request a unit sent, as recorded on its task's timeline (secrets redacted).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OutgoingRequest {
    /// The service's name.
    pub service: String,
    /// The HTTP method.
    pub method: String,
    /// The URL (query values of secret-looking names redacted).
    pub url: String,
    /// The response status, when an answer came.
    pub status: Option<u16>,
    /// The request headers, secrets as `***`.
    pub request_headers: Json,
    /// The request body as text, if any and recorded (the service's `log_bodies`: by default
    /// only for failed exchanges; `ServiceSpec::new(..).key("log_bodies", "all")` for all).
    pub request_body: Option<String>,
    /// The response body as text, if an answer came and it was recorded (see `request_body`).
    pub response_body: Option<String>,
    /// Why no answer came, if none did.
    pub error: Option<String>,
}

impl OutgoingRequest {
    fn from_entry(entry: &TimelineEntry) -> Self {
        let d = &entry.data;
        let text = |v: &Json| v.as_str().map(str::to_owned);
        Self {
            service: text(&d["service"]).unwrap_or_default(),
            method: text(&d["method"]).unwrap_or_default(),
            url: text(&d["url"]).unwrap_or_default(),
            status: d["status"].as_u64().and_then(|s| u16::try_from(s).ok()),
            request_headers: d["request"]["headers"].clone(),
            request_body: text(&d["request"]["body"]),
            response_body: text(&d["response"]["body"]),
            error: text(&d["error"]),
        }
    }
}
