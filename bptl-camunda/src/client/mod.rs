//! [`CamundaClient`]: the Camunda 7 REST client (also Operaton and CIB seven).

mod model;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bptl_core::Variables;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, RequestBuilder, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{Value as Json, json};

pub use model::{
    BpmnErrorRequest, Deployment, DeploymentRequest, ExternalTaskQuery, FailureRequest,
    FetchAndLock, FetchSorting, FetchTopic, HistoricProcessInstance, Incident, ProcessDefinition,
    ProcessInstance, SortOrder, StartProcess,
};

use crate::error::CamundaError;
use crate::external_task::ExternalTask;
use crate::variables::{variables_from_typed, variables_to_typed};
use crate::wire::{BpmnErrorBody, CompleteBody, FailureBody, LockBody};

/// Typed JSON of `variables`, `None` when there are none (the field is then left out).
fn typed_unless_empty(variables: &Variables) -> Result<Option<Json>, CamundaError> {
    if variables.is_empty() {
        return Ok(None);
    }
    Ok(Some(Json::Object(variables_to_typed(variables)?)))
}

/// The default HTTP timeout of calls other than a long-polling fetchAndLock.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default time a long poll may take beyond its `asyncResponseTimeout` before the client
/// gives up on the engine.
pub const DEFAULT_LONG_POLL_MARGIN: Duration = Duration::from_secs(10);
/// The default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the client authenticates to the engine. Secrets are never printed.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum EngineAuth {
    /// No authentication.
    #[default]
    None,
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: SecretString,
    },
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token.
        token: SecretString,
    },
    /// Custom headers (e.g. an API gateway key); the values are secret.
    Headers(Vec<(String, SecretString)>),
}

impl fmt::Debug for EngineAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineAuth::None => f.write_str("None"),
            EngineAuth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"[REDACTED]")
                .finish(),
            EngineAuth::Bearer { .. } => f
                .debug_struct("Bearer")
                .field("token", &"[REDACTED]")
                .finish(),
            EngineAuth::Headers(headers) => f
                .debug_map()
                .entries(headers.iter().map(|(name, _)| (name, "[REDACTED]")))
                .finish(),
        }
    }
}

impl EngineAuth {
    fn headers(&self) -> Result<HeaderMap, CamundaError> {
        let mut map = HeaderMap::new();
        let secret_value = |text: &str, what: &str| {
            let mut value = HeaderValue::from_str(text).map_err(|_| {
                CamundaError::Config(format!(
                    "the {what} contains characters not allowed in an HTTP header"
                ))
            })?;
            value.set_sensitive(true);
            Ok::<_, CamundaError>(value)
        };
        match self {
            EngineAuth::None => {}
            EngineAuth::Basic { username, password } => {
                let encoded =
                    BASE64.encode(format!("{username}:{}", password.expose_secret()).as_bytes());
                map.insert(
                    header::AUTHORIZATION,
                    secret_value(&format!("Basic {encoded}"), "basic auth credential")?,
                );
            }
            EngineAuth::Bearer { token } => {
                map.insert(
                    header::AUTHORIZATION,
                    secret_value(&format!("Bearer {}", token.expose_secret()), "bearer token")?,
                );
            }
            EngineAuth::Headers(headers) => {
                for (name, value) in headers {
                    let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                        CamundaError::Config(format!("'{name}' is not a valid HTTP header name"))
                    })?;
                    map.append(
                        header_name,
                        secret_value(value.expose_secret(), &format!("value of header '{name}'"))?,
                    );
                }
            }
        }
        Ok(map)
    }
}

/// Builds a [`CamundaClient`]; start with [`CamundaClient::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct CamundaClientBuilder {
    url: String,
    auth: EngineAuth,
    timeout: Duration,
    long_poll_margin: Duration,
    connect_timeout: Duration,
    user_agent: String,
}

impl CamundaClientBuilder {
    /// Authenticate with HTTP basic authentication.
    pub fn basic_auth(
        mut self,
        username: impl Into<String>,
        password: impl Into<SecretString>,
    ) -> Self {
        self.auth = EngineAuth::Basic {
            username: username.into(),
            password: password.into(),
        };
        self
    }

    /// Authenticate with a bearer token.
    pub fn bearer_token(mut self, token: impl Into<SecretString>) -> Self {
        self.auth = EngineAuth::Bearer {
            token: token.into(),
        };
        self
    }

    /// Add a custom (secret) header sent with every call, e.g. an API gateway key. Replaces
    /// basic or bearer authentication set before.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<SecretString>) -> Self {
        let entry = (name.into(), value.into());
        match &mut self.auth {
            EngineAuth::Headers(headers) => headers.push(entry),
            other => *other = EngineAuth::Headers(vec![entry]),
        }
        self
    }

    /// Set the authentication.
    pub fn auth(mut self, auth: EngineAuth) -> Self {
        self.auth = auth;
        self
    }

    /// The HTTP timeout of every call but a long-polling fetchAndLock
    /// (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long a long-polling fetchAndLock may take beyond its `asyncResponseTimeout`
    /// (default [`DEFAULT_LONG_POLL_MARGIN`]).
    pub fn long_poll_margin(mut self, margin: Duration) -> Self {
        self.long_poll_margin = margin;
        self
    }

    /// The connect timeout (default [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Build the client.
    ///
    /// Fails when the URL is not an absolute `http`/`https` URL, contains credentials (use
    /// [`basic_auth`](Self::basic_auth)), is `https` while TLS is not compiled in (enable the
    /// `tls` feature of `bptl` or `bptl-camunda`), or a header is invalid.
    pub fn build(self) -> Result<CamundaClient, CamundaError> {
        let mut base = Url::parse(self.url.trim()).map_err(|e| {
            CamundaError::Config(format!(
                "'{}' is not a valid engine URL ({e}); expected e.g. http://localhost:8080/engine-rest",
                self.url
            ))
        })?;
        match base.scheme() {
            "http" => {}
            "https" => {
                if !cfg!(feature = "tls") {
                    return Err(CamundaError::Config(format!(
                        "the engine URL {base} uses https, but bptl-camunda was built without TLS: \
                         enable the `tls` feature of bptl (or bptl-camunda)"
                    )));
                }
            }
            other => {
                return Err(CamundaError::Config(format!(
                    "the engine URL must be http or https, not '{other}'"
                )));
            }
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(CamundaError::Config(
                "the engine URL must not contain credentials; use basic_auth(user, password)"
                    .to_owned(),
            ));
        }
        if base.cannot_be_a_base() || base.host().is_none() {
            return Err(CamundaError::Config(format!(
                "the engine URL {base} has no host"
            )));
        }
        let path = base.path().trim_end_matches('/').to_owned();
        base.set_path(&path);
        base.set_query(None);
        base.set_fragment(None);

        let mut headers = self.auth.headers()?;
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(self.user_agent)
            .connect_timeout(self.connect_timeout)
            .tcp_keepalive(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(50))
            .build()
            .map_err(|e| CamundaError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(CamundaClient {
            inner: Arc::new(Inner {
                http,
                base,
                auth: self.auth,
                timeout: self.timeout,
                long_poll_margin: self.long_poll_margin,
            }),
        })
    }
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    auth: EngineAuth,
    timeout: Duration,
    long_poll_margin: Duration,
}

/// A client for one Camunda 7 engine's REST API (`.../engine-rest`), with connection pooling.
/// Cheap to clone: clones share the connection pool.
///
/// ```
/// use bptl_camunda::CamundaClient;
/// use std::time::Duration;
///
/// let client = CamundaClient::builder("http://127.0.0.1:8080/engine-rest/")
///     .basic_auth("demo", "s3cret")
///     .timeout(Duration::from_secs(10))
///     .build()
///     .unwrap();
/// assert_eq!(client.base_url(), "http://127.0.0.1:8080/engine-rest");
/// assert!(!format!("{client:?}").contains("s3cret"));
/// ```
#[derive(Clone)]
pub struct CamundaClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for CamundaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CamundaClient")
            .field("base_url", &self.base_url())
            .field("auth", &self.inner.auth)
            .field("timeout", &self.inner.timeout)
            .field("long_poll_margin", &self.inner.long_poll_margin)
            .finish()
    }
}

impl CamundaClient {
    /// Start building a client for the engine-rest root `url`, e.g.
    /// `http://127.0.0.1:8080/engine-rest` (a trailing slash is fine).
    pub fn builder(url: impl Into<String>) -> CamundaClientBuilder {
        CamundaClientBuilder {
            url: url.into(),
            auth: EngineAuth::None,
            timeout: DEFAULT_TIMEOUT,
            long_poll_margin: DEFAULT_LONG_POLL_MARGIN,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            user_agent: concat!("bptl-camunda/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }

    /// A client without authentication and with default timeouts.
    pub fn new(url: impl Into<String>) -> Result<Self, CamundaError> {
        Self::builder(url).build()
    }

    /// The engine-rest root, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str().trim_end_matches('/')
    }

    // ----- plumbing -----

    fn request(&self, method: Method, segments: &[&str]) -> (RequestBuilder, String) {
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        let call = format!("{method} /{}", segments.join("/"));
        let builder = self
            .inner
            .http
            .request(method, url)
            .timeout(self.inner.timeout);
        (builder, call)
    }

    /// Send, read the whole body, and turn an error status into a [`CamundaError`].
    async fn send(&self, call: &str, builder: RequestBuilder) -> Result<Vec<u8>, CamundaError> {
        let started = Instant::now();
        let result = async {
            let response = builder.send().await?;
            let status = response.status();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        }
        .await;
        let (status, body) = match result {
            Ok(ok) => ok,
            Err(error) => {
                let error = CamundaError::from_reqwest(call.to_owned(), error);
                tracing::debug!(call, elapsed = ?started.elapsed(), %error, "engine call failed");
                return Err(error);
            }
        };
        tracing::debug!(call, status = status.as_u16(), elapsed = ?started.elapsed(), "engine call");
        if status.is_success() {
            Ok(body.to_vec())
        } else {
            Err(CamundaError::from_status(
                call.to_owned(),
                status.as_u16(),
                &body,
            ))
        }
    }

    async fn send_json<T: DeserializeOwned>(
        &self,
        call: &str,
        builder: RequestBuilder,
    ) -> Result<T, CamundaError> {
        let body = self.send(call, builder).await?;
        serde_json::from_slice(&body).map_err(|e| CamundaError::Decode {
            call: call.to_owned(),
            detail: e.to_string(),
            body: crate::error::shorten(&String::from_utf8_lossy(&body)),
        })
    }

    async fn post_json<B: serde::Serialize + ?Sized>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<(), CamundaError> {
        let (builder, call) = self.request(Method::POST, segments);
        self.send(&call, builder.json(body)).await.map(drop)
    }

    // ----- external tasks -----

    /// Fetch and lock tasks: `POST /external-task/fetchAndLock`.
    ///
    /// With `async_response_timeout` the engine parks the request until a task is available
    /// or the timeout passes (then `[]`); the HTTP timeout is the long-poll time plus the
    /// client's long-poll margin, so a vanished engine never hangs the caller.
    pub async fn fetch_and_lock(
        &self,
        request: &FetchAndLock,
    ) -> Result<Vec<ExternalTask>, CamundaError> {
        let (mut builder, call) = self.request(Method::POST, &["external-task", "fetchAndLock"]);
        if let Some(long_poll) = request.async_response_timeout {
            builder = builder.timeout(long_poll.saturating_add(self.inner.long_poll_margin));
        }
        self.send_json(&call, builder.json(request)).await
    }

    /// Complete a task: `POST /external-task/{id}/complete` with process variables.
    pub async fn complete(
        &self,
        task_id: &str,
        worker_id: &str,
        variables: &Variables,
    ) -> Result<(), CamundaError> {
        self.complete_with_local(task_id, worker_id, variables, &Variables::new())
            .await
    }

    /// Complete a task with process variables and local variables.
    pub async fn complete_with_local(
        &self,
        task_id: &str,
        worker_id: &str,
        variables: &Variables,
        local_variables: &Variables,
    ) -> Result<(), CamundaError> {
        let body = CompleteBody {
            worker_id: Some(worker_id.to_owned()),
            variables: Some(Json::Object(variables_to_typed(variables)?)),
            local_variables: typed_unless_empty(local_variables)?,
        };
        self.post_json(&["external-task", task_id, "complete"], &body)
            .await
    }

    /// Report a failure: `POST /external-task/{id}/failure`. `retries` is always sent.
    pub async fn failure(
        &self,
        task_id: &str,
        request: &FailureRequest,
    ) -> Result<(), CamundaError> {
        let body = FailureBody {
            worker_id: Some(request.worker_id.clone()),
            error_message: Some(request.error_message.clone()),
            error_details: request.error_details.clone(),
            retries: Some(i64::from(request.retries)),
            retry_timeout: Some(model::millis(request.retry_timeout)),
            variables: typed_unless_empty(&request.variables)?,
            local_variables: typed_unless_empty(&request.local_variables)?,
        };
        self.post_json(&["external-task", task_id, "failure"], &body)
            .await
    }

    /// Raise a BPMN error: `POST /external-task/{id}/bpmnError`.
    pub async fn bpmn_error(
        &self,
        task_id: &str,
        request: &BpmnErrorRequest,
    ) -> Result<(), CamundaError> {
        let body = BpmnErrorBody {
            worker_id: Some(request.worker_id.clone()),
            error_code: Some(request.error_code.clone()),
            error_message: request.error_message.clone(),
            variables: typed_unless_empty(&request.variables)?,
        };
        self.post_json(&["external-task", task_id, "bpmnError"], &body)
            .await
    }

    /// Extend the lock to now + `duration`: `POST /external-task/{id}/extendLock`.
    pub async fn extend_lock(
        &self,
        task_id: &str,
        worker_id: &str,
        duration: Duration,
    ) -> Result<(), CamundaError> {
        let body = LockBody {
            worker_id: Some(worker_id.to_owned()),
            new_duration: Some(model::millis(duration)),
            ..LockBody::default()
        };
        self.post_json(&["external-task", task_id, "extendLock"], &body)
            .await
    }

    /// Lock a task that no other worker holds: `POST /external-task/{id}/lock` (Camunda 7.15+).
    pub async fn lock(
        &self,
        task_id: &str,
        worker_id: &str,
        duration: Duration,
    ) -> Result<(), CamundaError> {
        let body = LockBody {
            worker_id: Some(worker_id.to_owned()),
            lock_duration: Some(model::millis(duration)),
            ..LockBody::default()
        };
        self.post_json(&["external-task", task_id, "lock"], &body)
            .await
    }

    /// Release a task's lock: `POST /external-task/{id}/unlock` (no worker check).
    pub async fn unlock(&self, task_id: &str) -> Result<(), CamundaError> {
        let (builder, call) = self.request(Method::POST, &["external-task", task_id, "unlock"]);
        self.send(&call, builder).await.map(drop)
    }

    /// One task (without variables): `GET /external-task/{id}`.
    pub async fn get_external_task(&self, task_id: &str) -> Result<ExternalTask, CamundaError> {
        let (builder, call) = self.request(Method::GET, &["external-task", task_id]);
        self.send_json(&call, builder).await
    }

    /// Tasks matching `query`: `GET /external-task`.
    pub async fn list_external_tasks(
        &self,
        query: &ExternalTaskQuery,
    ) -> Result<Vec<ExternalTask>, CamundaError> {
        let (builder, call) = self.request(Method::GET, &["external-task"]);
        self.send_json(&call, builder.query(query)).await
    }

    /// How many tasks match `query`: `GET /external-task/count`.
    pub async fn count_external_tasks(
        &self,
        query: &ExternalTaskQuery,
    ) -> Result<u64, CamundaError> {
        #[derive(serde::Deserialize)]
        struct Count {
            count: u64,
        }
        let (builder, call) = self.request(Method::GET, &["external-task", "count"]);
        let count: Count = self
            .send_json(&call, builder.query(&query.for_count()))
            .await?;
        Ok(count.count)
    }

    /// Set a task's retries: `PUT /external-task/{id}/retries` (> 0 makes a task with an
    /// incident fetchable again).
    pub async fn set_retries(&self, task_id: &str, retries: i32) -> Result<(), CamundaError> {
        let (builder, call) = self.request(Method::PUT, &["external-task", task_id, "retries"]);
        self.send(&call, builder.json(&json!({ "retries": retries })))
            .await
            .map(drop)
    }

    /// The details of a task's last failure: `GET /external-task/{id}/errorDetails`
    /// (`None` when there are none).
    pub async fn get_error_details(&self, task_id: &str) -> Result<Option<String>, CamundaError> {
        let (builder, call) =
            self.request(Method::GET, &["external-task", task_id, "errorDetails"]);
        let body = self
            .send(&call, builder.header(header::ACCEPT, "text/plain, */*"))
            .await?;
        let text = String::from_utf8_lossy(&body).into_owned();
        Ok((!text.is_empty()).then_some(text))
    }

    // ----- process side -----

    /// Start the latest version of the process with `key`:
    /// `POST /process-definition/key/{key}/start`.
    pub async fn start_process_by_key(
        &self,
        key: &str,
        start: &StartProcess,
    ) -> Result<ProcessInstance, CamundaError> {
        self.start(&["process-definition", "key", key, "start"], start)
            .await
    }

    /// Start the process definition with `id`: `POST /process-definition/{id}/start`.
    pub async fn start_process_by_id(
        &self,
        definition_id: &str,
        start: &StartProcess,
    ) -> Result<ProcessInstance, CamundaError> {
        self.start(&["process-definition", definition_id, "start"], start)
            .await
    }

    async fn start(
        &self,
        segments: &[&str],
        start: &StartProcess,
    ) -> Result<ProcessInstance, CamundaError> {
        let mut body = json!({ "variables": variables_to_typed(&start.variables)? });
        if let Some(key) = &start.business_key {
            body["businessKey"] = Json::from(key.as_str());
        }
        let (builder, call) = self.request(Method::POST, segments);
        self.send_json(&call, builder.json(&body)).await
    }

    /// A running process instance: `GET /process-instance/{id}` (404 once it has ended).
    pub async fn get_process_instance(&self, id: &str) -> Result<ProcessInstance, CamundaError> {
        let (builder, call) = self.request(Method::GET, &["process-instance", id]);
        self.send_json(&call, builder).await
    }

    /// Cancel a running process instance: `DELETE /process-instance/{id}`. Its open external
    /// tasks disappear; their workers get 404 on complete and extendLock.
    pub async fn delete_process_instance(&self, id: &str) -> Result<(), CamundaError> {
        let (builder, call) = self.request(Method::DELETE, &["process-instance", id]);
        self.send(&call, builder).await.map(drop)
    }

    /// A running process instance's variables in Camunda's typed JSON:
    /// `GET /process-instance/{id}/variables?deserializeValues=false`.
    pub async fn get_process_variables_typed(
        &self,
        id: &str,
    ) -> Result<serde_json::Map<String, Json>, CamundaError> {
        let (builder, call) = self.request(Method::GET, &["process-instance", id, "variables"]);
        self.send_json(&call, builder.query(&[("deserializeValues", "false")]))
            .await
    }

    /// A running process instance's variables, read into [`Value`](bptl_core::Value)s.
    pub async fn get_process_variables(&self, id: &str) -> Result<Variables, CamundaError> {
        let typed = self.get_process_variables_typed(id).await?;
        Ok(variables_from_typed(&Json::Object(typed))?)
    }

    /// The content of a File (or Bytes) variable:
    /// `GET /process-instance/{id}/variables/{name}/data`.
    pub async fn get_process_variable_data(
        &self,
        id: &str,
        name: &str,
    ) -> Result<Vec<u8>, CamundaError> {
        let (builder, call) = self.request(
            Method::GET,
            &["process-instance", id, "variables", name, "data"],
        );
        self.send(&call, builder.header(header::ACCEPT, "*/*"))
            .await
    }

    /// The content of a File (or Bytes) variable local to an execution:
    /// `GET /execution/{id}/localVariables/{name}/data`. An external task's own scope (a task
    /// with input mappings or boundary events) is such an execution.
    pub async fn get_execution_local_variable_data(
        &self,
        execution_id: &str,
        name: &str,
    ) -> Result<Vec<u8>, CamundaError> {
        let (builder, call) = self.request(
            Method::GET,
            &["execution", execution_id, "localVariables", name, "data"],
        );
        self.send(&call, builder.header(header::ACCEPT, "*/*"))
            .await
    }

    /// A process instance from history (also after it ended):
    /// `GET /history/process-instance/{id}`.
    pub async fn get_historic_process_instance(
        &self,
        id: &str,
    ) -> Result<HistoricProcessInstance, CamundaError> {
        let (builder, call) = self.request(Method::GET, &["history", "process-instance", id]);
        self.send_json(&call, builder).await
    }

    /// A process instance's variables from history (also after it ended):
    /// `GET /history/variable-instance?processInstanceId=...&deserializeValues=false`.
    /// When a name exists in several scopes, the process-instance scope wins. Bytes, which
    /// history lists without their value, are read from their `data`.
    pub async fn get_historic_variables(
        &self,
        process_instance_id: &str,
    ) -> Result<Variables, CamundaError> {
        let (builder, call) = self.request(Method::GET, &["history", "variable-instance"]);
        let items: Vec<serde_json::Map<String, Json>> = self
            .send_json(
                &call,
                builder.query(&[
                    ("processInstanceId", process_instance_id),
                    ("deserializeValues", "false"),
                ]),
            )
            .await?;
        let mut variables = Variables::new();
        let mut process_scoped = std::collections::BTreeSet::new();
        for item in &items {
            let Some(name) = item.get("name").and_then(Json::as_str) else {
                continue;
            };
            let scope = item
                .get("activityInstanceId")
                .or_else(|| item.get("executionId"))
                .and_then(Json::as_str);
            let is_process_scope = scope.is_none_or(|s| s == process_instance_id);
            if process_scoped.contains(name) && !is_process_scope {
                continue;
            }
            let mut value = crate::variables::from_typed(name, &Json::Object(item.clone()))?;
            // History answers Bytes without their value (`"value": null`, unlike the runtime
            // API): the content is at `.../variable-instance/{id}/data`.
            let is_bytes = item
                .get("type")
                .and_then(Json::as_str)
                .and_then(crate::variables::canonical_type)
                == Some("Bytes");
            if is_bytes
                && value == bptl_core::Value::Null
                && let Some(id) = item.get("id").and_then(Json::as_str)
            {
                value = bptl_core::Value::Bytes(self.get_historic_variable_data(id).await?);
            }
            variables.insert(name, value);
            if is_process_scope {
                process_scoped.insert(name.to_owned());
            }
        }
        Ok(variables)
    }

    /// The content of a historic Bytes or File variable instance:
    /// `GET /history/variable-instance/{id}/data`.
    pub async fn get_historic_variable_data(&self, id: &str) -> Result<Vec<u8>, CamundaError> {
        let (builder, call) =
            self.request(Method::GET, &["history", "variable-instance", id, "data"]);
        self.send(&call, builder.header(header::ACCEPT, "*/*"))
            .await
    }

    /// A process instance's incidents: `GET /incident?processInstanceId=...`.
    pub async fn list_incidents(
        &self,
        process_instance_id: &str,
    ) -> Result<Vec<Incident>, CamundaError> {
        let (builder, call) = self.request(Method::GET, &["incident"]);
        self.send_json(
            &call,
            builder.query(&[("processInstanceId", process_instance_id)]),
        )
        .await
    }

    /// The latest version of the process definition with `key`:
    /// `GET /process-definition/key/{key}`.
    pub async fn get_process_definition_by_key(
        &self,
        key: &str,
    ) -> Result<ProcessDefinition, CamundaError> {
        let (builder, call) = self.request(Method::GET, &["process-definition", "key", key]);
        self.send_json(&call, builder).await
    }

    /// The process definition with `key` and `version`:
    /// `GET /process-definition?key=...&version=...`; none is
    /// [`CamundaError::DefinitionNotFound`] (which [`is_not_found`](CamundaError::is_not_found)).
    pub async fn get_process_definition_by_key_and_version(
        &self,
        key: &str,
        version: i32,
    ) -> Result<ProcessDefinition, CamundaError> {
        let (builder, call) = self.request(Method::GET, &["process-definition"]);
        let version_text = version.to_string();
        let found: Vec<ProcessDefinition> = self
            .send_json(
                &call,
                builder.query(&[("key", key), ("version", version_text.as_str())]),
            )
            .await?;
        found
            .into_iter()
            .find(|d| d.key == key && d.version == version)
            .ok_or_else(|| CamundaError::DefinitionNotFound {
                key: key.to_owned(),
                version,
            })
    }

    /// Deploy resources (BPMN files): multipart `POST /deployment/create`.
    pub async fn deploy(&self, request: &DeploymentRequest) -> Result<Deployment, CamundaError> {
        let (boundary, body) = request.multipart();
        let (builder, call) = self.request(Method::POST, &["deployment", "create"]);
        let builder = builder
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        self.send_json(&call, builder).await
    }

    /// The engine's version: `GET /version` (a cheap health check).
    pub async fn version(&self) -> Result<String, CamundaError> {
        #[derive(serde::Deserialize)]
        struct Version {
            version: String,
        }
        let (builder, call) = self.request(Method::GET, &["version"]);
        let version: Version = self.send_json(&call, builder).await?;
        Ok(version.version)
    }
}
