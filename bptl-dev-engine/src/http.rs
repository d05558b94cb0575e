//! The engine-rest HTTP API over axum, plus a listener whose connections the engine can close.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::serve::IncomingStream;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use bptl_camunda::wire::{BpmnErrorBody, CompleteBody, FailureBody, FetchAndLockBody, LockBody};

use super::engine::EngineCore;
use super::error::RestError;
use super::faults::{Endpoint, FaultAction};
use super::state::{
    Definition, DeploymentRequest, DeploymentResource, State as EngineState, TaskQuery,
    request_variables,
};
use super::variables::{StoredVariable, VariableContext, variables_to_json};

type Core = Arc<EngineCore>;

// ----- connections the engine can close -----

/// A TCP connection that errors out as soon as its token is cancelled.
pub(crate) struct GuardedStream {
    inner: TcpStream,
    token: CancellationToken,
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl GuardedStream {
    fn closed(&mut self, cx: &mut Context<'_>) -> bool {
        self.token.is_cancelled() || self.cancelled.as_mut().poll(cx).is_ready()
    }
}

fn aborted() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection closed by the dev engine",
    )
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.closed(cx) {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.closed(cx) {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.closed(cx) {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The token the connections of a listener derive from; swapped after each mass close.
pub(crate) type KillSwitch = Arc<std::sync::Mutex<CancellationToken>>;

/// Cancels every connection accepted so far; later connections are unaffected.
pub(crate) fn close_all(kill: &KillSwitch) {
    let mut guard = kill.lock().unwrap_or_else(|p| p.into_inner());
    guard.cancel();
    *guard = CancellationToken::new();
}

/// A TCP listener whose connections can all be closed through its [`KillSwitch`].
pub(crate) struct EngineListener {
    pub inner: TcpListener,
    pub kill: KillSwitch,
}

impl axum::serve::Listener for EngineListener {
    type Io = GuardedStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let token = self
                        .kill
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .child_token();
                    let cancelled = Box::pin(token.clone().cancelled_owned());
                    let io = GuardedStream {
                        inner: stream,
                        token,
                        cancelled,
                    };
                    return (io, addr);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "dev engine: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// The per-connection token, available to handlers as `ConnectInfo<ConnToken>`.
#[derive(Clone, Debug)]
pub(crate) struct ConnToken(pub CancellationToken);

impl Connected<IncomingStream<'_, EngineListener>> for ConnToken {
    fn connect_info(stream: IncomingStream<'_, EngineListener>) -> Self {
        ConnToken(stream.io().token.clone())
    }
}

// ----- responses -----

fn json_response(status: StatusCode, value: &Value) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

fn ok(value: &Value) -> Response {
    json_response(StatusCode::OK, value)
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        json_response(status, &self.body())
    }
}

type Answer = Result<Response, RestError>;

fn parse_body<T: DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, RestError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| {
        RestError::invalid_request(format!("Cannot parse the request body as JSON: {e}"))
    })
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, RestError> {
    q.map(|Query(t)| t)
        .map_err(|e| RestError::invalid_request(format!("Invalid query parameters: {e}")))
}

// ----- router -----

/// Builds the router for `/engine-rest`.
pub(crate) fn router(core: Core) -> Router {
    let api = Router::new()
        .route(
            "/engine",
            get(|| async { ok(&json!([{"name": "default"}])) }),
        )
        .route(
            "/version",
            get(|| async { ok(&json!({"version": "7.24.0"})) }),
        )
        .route("/deployment/create", post(deploy))
        .route("/deployment", get(deployments))
        .route("/deployment/{id}", get(deployment))
        .route("/process-definition", get(definitions))
        .route("/process-definition/count", get(definitions_count))
        .route("/process-definition/key/{key}", get(definition_by_key))
        .route("/process-definition/key/{key}/start", post(start_by_key))
        .route("/process-definition/{id}", get(definition_by_id))
        .route("/process-definition/{id}/start", post(start_by_id))
        .route("/process-instance", get(instances))
        .route(
            "/process-instance/{id}",
            get(instance).delete(delete_instance),
        )
        .route("/process-instance/{id}/variables", get(instance_variables))
        .route(
            "/process-instance/{id}/variables/{name}",
            get(instance_variable),
        )
        .route(
            "/process-instance/{id}/variables/{name}/data",
            get(instance_variable_data),
        )
        .route(
            "/execution/{id}/localVariables",
            get(execution_local_variables),
        )
        .route(
            "/execution/{id}/localVariables/{name}",
            get(execution_local_variable),
        )
        .route(
            "/execution/{id}/localVariables/{name}/data",
            get(execution_local_variable_data),
        )
        .route("/history/process-instance", get(history_instances))
        .route("/history/process-instance/{id}", get(history_instance))
        .route("/history/variable-instance", get(history_variables))
        .route(
            "/history/variable-instance/{id}/data",
            get(history_variable_data),
        )
        .route("/incident", get(incidents))
        .route("/external-task", get(tasks))
        .route("/external-task/count", get(task_count))
        .route("/external-task/fetchAndLock", post(fetch_and_lock))
        .route("/external-task/{id}", get(task))
        .route("/external-task/{id}/errorDetails", get(task_error_details))
        .route("/external-task/{id}/complete", post(complete))
        .route("/external-task/{id}/failure", post(failure))
        .route("/external-task/{id}/bpmnError", post(bpmn_error))
        .route("/external-task/{id}/extendLock", post(extend_lock))
        .route("/external-task/{id}/lock", post(lock))
        .route("/external-task/{id}/unlock", post(unlock))
        .route("/external-task/{id}/retries", put(set_retries));
    Router::new()
        .nest("/engine-rest", api)
        .fallback(|| async {
            RestError::not_found("The dev engine has no resource at this path").into_response()
        })
        .layer(middleware::from_fn_with_state(core.clone(), faults_layer))
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(core)
}

async fn faults_layer(State(core): State<Core>, request: Request, next: Next) -> Response {
    let endpoint = Endpoint::classify(request.method().as_str(), request.uri().path());
    let (latency, action) = core.faults.on_request(endpoint);
    if let Some(latency) = latency {
        tokio::time::sleep(latency).await;
    }
    match action {
        Some(FaultAction::Respond { status, body }) => json_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &body,
        ),
        Some(FaultAction::Drop { after }) => {
            let conn = request
                .extensions()
                .get::<ConnectInfo<ConnToken>>()
                .map(|c| c.0.0.clone());
            tokio::time::sleep(after).await;
            if let Some(conn) = conn {
                conn.cancel();
            }
            // Never written: the connection is closed.
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        _ => next.run(request).await,
    }
}

// ----- deployments and definitions -----

/// The engine-rest root as the client addressed it (`http://HOST/engine-rest`), for the
/// `links` Camunda puts into answers (it builds them from the request URI).
fn rest_root(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}/engine-rest")
}

/// Sets `links` to Camunda's one `self` link: `GET {root}/{path}/{id}`.
fn self_link(out: &mut Value, headers: &HeaderMap, path: &str) {
    if let Some(id) = out.get("id").and_then(Value::as_str) {
        let href = format!("{}/{path}/{id}", rest_root(headers));
        out["links"] = json!([{"method": "GET", "href": href, "rel": "self"}]);
    }
}

async fn deploy(
    State(core): State<Core>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Answer {
    let mut multipart = multipart.map_err(|e| {
        RestError::invalid_request(format!(
            "The deployment must be sent as multipart/form-data: {e}"
        ))
    })?;
    let mut req = DeploymentRequest::default();
    let bad = |e: axum::extract::multipart::MultipartError| {
        RestError::invalid_request(format!("Invalid multipart body: {e}"))
    };
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(str::to_string);
        let text = field.text().await.map_err(bad)?;
        match (name.as_str(), file_name) {
            ("deployment-name", None) => req.name = Some(text),
            ("deployment-source", None) => req.source = Some(text),
            ("enable-duplicate-filtering", None) => req.duplicate_filtering = text.trim() == "true",
            ("deploy-changed-only", None) => req.changed_only = text.trim() == "true",
            ("tenant-id" | "deployment-activation-time", None) => {}
            (_, file_name) => req.resources.push(DeploymentResource {
                name: file_name.unwrap_or(name),
                content: text,
            }),
        }
    }
    if req.changed_only {
        req.duplicate_filtering = true;
    }
    let mut out = core.run(|s| Ok((s.deploy(req)?, Default::default())))?;
    self_link(&mut out, &headers, "deployment");
    Ok(ok(&out))
}

async fn deployments(State(core): State<Core>) -> Answer {
    Ok(ok(&core.lock().deployments()))
}

async fn deployment(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    Ok(ok(&core.lock().deployment(&id)?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DefinitionQuery {
    key: Option<String>,
    latest_version: Option<bool>,
    version: Option<i64>,
}

/// The definitions a list or count request asks for.
fn definitions_for(
    core: &Core,
    q: Result<Query<DefinitionQuery>, QueryRejection>,
) -> Result<Vec<Value>, RestError> {
    let q = query(q)?;
    Ok(core
        .lock()
        .definitions(q.key.as_deref(), q.latest_version == Some(true), q.version))
}

async fn definitions(
    State(core): State<Core>,
    q: Result<Query<DefinitionQuery>, QueryRejection>,
) -> Answer {
    Ok(ok(&Value::Array(definitions_for(&core, q)?)))
}

async fn definitions_count(
    State(core): State<Core>,
    q: Result<Query<DefinitionQuery>, QueryRejection>,
) -> Answer {
    Ok(ok(&json!({"count": definitions_for(&core, q)?.len()})))
}

async fn definition_by_key(State(core): State<Core>, Path(key): Path<String>) -> Answer {
    let def = core.lock().latest(&key)?;
    Ok(ok(&EngineState::definition_json(&def)))
}

async fn definition_by_id(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    let def = core.lock().definition(&id)?;
    Ok(ok(&EngineState::definition_json(&def)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartBody {
    variables: Option<Value>,
    business_key: Option<String>,
}

async fn start_by_key(
    State(core): State<Core>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let body: StartBody = parse_body(&body)?;
    let def = core.lock().latest(&key)?;
    start(&core, def, body, &headers)
}

async fn start_by_id(
    State(core): State<Core>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let body: StartBody = parse_body(&body)?;
    let def = core.lock().definition(&id)?;
    start(&core, def, body, &headers)
}

/// Start an instance of `def` with the request's variables and business key.
fn start(core: &Core, def: Arc<Definition>, body: StartBody, headers: &HeaderMap) -> Answer {
    let vars = request_variables(body.variables.as_ref(), VariableContext::Start(&def.id))?;
    let mut out = core.run(|s| Ok(s.start_instance(def, vars, body.business_key)))?;
    self_link(&mut out, headers, "process-instance");
    Ok(ok(&out))
}

// ----- instances and history -----

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstanceQuery {
    process_definition_key: Option<String>,
    business_key: Option<String>,
    process_instance_id: Option<String>,
    finished: Option<bool>,
    unfinished: Option<bool>,
    delete_reason: Option<String>,
    deserialize_values: Option<bool>,
    deserialize_value: Option<bool>,
    variable_name: Option<String>,
    incident_type: Option<String>,
    configuration: Option<String>,
}

async fn instances(
    State(core): State<Core>,
    q: Result<Query<InstanceQuery>, QueryRejection>,
) -> Answer {
    let q = query(q)?;
    let list = core.lock().instances_json(
        q.process_definition_key.as_deref(),
        q.business_key.as_deref(),
    );
    Ok(ok(&Value::Array(list)))
}

async fn instance(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    Ok(ok(&core.lock().instance_json(&id)?))
}

async fn delete_instance(
    State(core): State<Core>,
    Path(id): Path<String>,
    q: Result<Query<InstanceQuery>, QueryRejection>,
) -> Answer {
    let q = query(q)?;
    core.run(|s| Ok(((), s.delete_instance(&id, q.delete_reason)?)))?;
    Ok(no_content())
}

async fn instance_variables(
    State(core): State<Core>,
    Path(id): Path<String>,
    q: Result<Query<InstanceQuery>, QueryRejection>,
) -> Answer {
    let q = query(q)?;
    Ok(ok(&core.lock().instance_variables(
        &id,
        // Camunda deserialises unless asked not to.
        q.deserialize_values != Some(false),
    )?))
}

async fn instance_variable(
    State(core): State<Core>,
    Path((id, name)): Path<(String, String)>,
    q: Result<Query<InstanceQuery>, QueryRejection>,
) -> Answer {
    let q = query(q)?;
    let var = core.lock().instance_variable(&id, &name)?;
    // Camunda deserialises unless asked not to (`deserializeValue`, singular, here).
    Ok(ok(&if q.deserialize_value == Some(false) {
        var.to_json()
    } else {
        var.to_json_deserialized(true)
    }))
}

async fn instance_variable_data(
    State(core): State<Core>,
    Path((id, name)): Path<(String, String)>,
) -> Answer {
    let var = core.lock().instance_variable(&id, &name)?;
    binary_response(&var, &name)
}

async fn execution_local_variables(
    State(core): State<Core>,
    Path(id): Path<String>,
    q: Result<Query<InstanceQuery>, QueryRejection>,
) -> Answer {
    let q = query(q)?;
    let state = core.lock();
    let vars = state.execution_local_variables(&id)?;
    Ok(ok(&variables_to_json(
        vars,
        q.deserialize_values != Some(false),
    )))
}

async fn execution_local_variable(
    State(core): State<Core>,
    Path((id, name)): Path<(String, String)>,
    q: Result<Query<InstanceQuery>, QueryRejection>,
) -> Answer {
    let q = query(q)?;
    let var = core.lock().execution_local_variable(&id, &name)?;
    Ok(ok(&if q.deserialize_value == Some(false) {
        var.to_json()
    } else {
        var.to_json_deserialized(true)
    }))
}

async fn execution_local_variable_data(
    State(core): State<Core>,
    Path((id, name)): Path<(String, String)>,
) -> Answer {
    let var = core.lock().execution_local_variable(&id, &name)?;
    binary_response(&var, &name)
}

async fn history_variable_data(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    let var = core.lock().history_variable(&id)?;
    binary_response(&var, &id)
}

/// The content of a `Bytes` or `File` variable, typed as Camunda types it: a File with its
/// `mimeType` (and `;charset=` its `encoding`), Bytes as `application/octet-stream`.
fn binary_response(var: &StoredVariable, name: &str) -> Answer {
    let Some(data) = var.data.clone() else {
        return Err(RestError::bad_request(format!(
            "Value of variable with id {name} is not a binary value."
        )));
    };
    let info = |key: &str| var.value_info.get(key).and_then(Value::as_str);
    let mime = match (var.type_name, info("mimeType"), info("encoding")) {
        ("File", Some(mime), Some(encoding)) => format!("{mime};charset={encoding}"),
        ("File", Some(mime), None) => mime.to_string(),
        _ => "application/octet-stream".to_string(),
    };
    let mut response = Response::new(Body::from(data));
    if let Ok(v) = HeaderValue::from_str(&mime) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    if let Some(file) = info("filename")
        && let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\""))
    {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

async fn history_instances(
    State(core): State<Core>,
    q: Result<Query<InstanceQuery>, QueryRejection>,
) -> Answer {
    let q = query(q)?;
    let list = core.lock().history_instances_json(
        q.process_instance_id.as_deref(),
        q.process_definition_key.as_deref(),
        q.finished,
        q.unfinished,
    );
    Ok(ok(&Value::Array(list)))
}

async fn history_instance(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    Ok(ok(&core.lock().history_instance_json(&id)?))
}

async fn history_variables(
    State(core): State<Core>,
    q: Result<Query<InstanceQuery>, QueryRejection>,
) -> Answer {
    let q = query(q)?;
    let list = core.lock().history_variables(
        q.process_instance_id.as_deref(),
        q.variable_name.as_deref(),
        q.deserialize_values != Some(false),
    );
    Ok(ok(&Value::Array(list)))
}

async fn incidents(
    State(core): State<Core>,
    q: Result<Query<InstanceQuery>, QueryRejection>,
) -> Answer {
    let q = query(q)?;
    let list = core.lock().incidents_json(
        q.process_instance_id.as_deref(),
        q.incident_type.as_deref(),
        q.configuration.as_deref(),
    );
    Ok(ok(&Value::Array(list)))
}

// ----- external tasks -----

async fn tasks(State(core): State<Core>, q: Result<Query<TaskQuery>, QueryRejection>) -> Answer {
    let q = query(q)?;
    Ok(ok(&Value::Array(core.lock().query_tasks(&q))))
}

async fn task_count(
    State(core): State<Core>,
    q: Result<Query<TaskQuery>, QueryRejection>,
) -> Answer {
    let mut q = query(q)?;
    q.first_result = None;
    q.max_results = None;
    Ok(ok(&json!({"count": core.lock().query_tasks(&q).len()})))
}

async fn fetch_and_lock(
    State(core): State<Core>,
    ConnectInfo(ConnToken(conn)): ConnectInfo<ConnToken>,
    body: Bytes,
) -> Answer {
    let req: FetchAndLockBody = parse_body(&body)?;
    // Camunda and Operaton keep a parked fetch whose client went away and lock the next
    // matching tasks for it (they stay locked until the lock expires). The request runs on
    // its own task so that the client closing its connection (which drops this handler)
    // does not cancel it; the engine closing connections still ends it.
    let running = tokio::spawn(async move { core.fetch_and_lock(req, Some(conn)).await });
    let tasks = running
        .await
        .map_err(|e| RestError::engine(format!("fetchAndLock failed: {e}")))??;
    Ok(ok(&Value::Array(tasks)))
}

async fn task(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    Ok(ok(&core.lock().task_json(&id)?))
}

async fn task_error_details(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    match core.lock().task_error_details(&id)? {
        Some(details) => Ok((
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))],
            details,
        )
            .into_response()),
        None => Ok(no_content()),
    }
}

async fn complete(State(core): State<Core>, Path(id): Path<String>, body: Bytes) -> Answer {
    let b: CompleteBody = parse_body(&body)?;
    let vars = request_variables(b.variables.as_ref(), VariableContext::Task)?;
    let local = request_variables(b.local_variables.as_ref(), VariableContext::Task)?;
    core.run(|s| Ok(((), s.complete(&id, b.worker_id.as_deref(), vars, local)?)))?;
    Ok(no_content())
}

async fn failure(State(core): State<Core>, Path(id): Path<String>, body: Bytes) -> Answer {
    let b: FailureBody = parse_body(&body)?;
    let vars = request_variables(b.variables.as_ref(), VariableContext::Task)?;
    let local = request_variables(b.local_variables.as_ref(), VariableContext::Task)?;
    core.run(|s| {
        Ok((
            (),
            s.failure(
                &id,
                b.worker_id.as_deref(),
                b.error_message,
                b.error_details,
                b.retries.unwrap_or(0),
                b.retry_timeout.unwrap_or(0),
                vars,
                local,
            )?,
        ))
    })?;
    Ok(no_content())
}

async fn bpmn_error(State(core): State<Core>, Path(id): Path<String>, body: Bytes) -> Answer {
    let b: BpmnErrorBody = parse_body(&body)?;
    let vars = request_variables(b.variables.as_ref(), VariableContext::Task)?;
    core.run(|s| {
        Ok((
            (),
            s.bpmn_error(
                &id,
                b.worker_id.as_deref(),
                b.error_code.as_deref(),
                b.error_message.as_deref(),
                vars,
            )?,
        ))
    })?;
    Ok(no_content())
}

async fn extend_lock(State(core): State<Core>, Path(id): Path<String>, body: Bytes) -> Answer {
    let b: LockBody = parse_body(&body)?;
    core.run(|s| {
        Ok((
            (),
            s.extend_lock(&id, b.worker_id.as_deref(), b.new_duration)?,
        ))
    })?;
    Ok(no_content())
}

async fn lock(State(core): State<Core>, Path(id): Path<String>, body: Bytes) -> Answer {
    let b: LockBody = parse_body(&body)?;
    core.run(|s| Ok(((), s.lock(&id, b.worker_id.as_deref(), b.lock_duration)?)))?;
    Ok(no_content())
}

async fn unlock(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    core.run(|s| Ok(((), s.unlock(&id)?)))?;
    Ok(no_content())
}

async fn set_retries(State(core): State<Core>, Path(id): Path<String>, body: Bytes) -> Answer {
    let b: HashMap<String, Value> = parse_body(&body)?;
    let retries = match b.get("retries") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| {
            RestError::invalid_request(format!("Cannot convert retries '{v}' to a number"))
        })?),
    };
    core.run(|s| Ok(((), s.set_retries(&id, retries)?)))?;
    Ok(no_content())
}
