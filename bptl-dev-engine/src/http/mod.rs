//! The engine-rest HTTP API over axum, by resource: deployments and definitions, process
//! instances, history, external tasks; and the listener whose connections the engine can
//! close ([`conn`]).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use bptl_camunda::wire::Link;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::engine::EngineCore;
use super::error::RestError;
use super::faults::{Endpoint, FaultAction};

mod conn;
mod deployment;
mod external_tasks;
mod history;
mod process;

pub(crate) use conn::{ConnToken, EngineListener, KillSwitch, close_all};

type Core = Arc<EngineCore>;

fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
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

fn ok<T: Serialize + ?Sized>(value: &T) -> Response {
    json_response(StatusCode::OK, value)
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        json_response(status, &self.wire())
    }
}

/// The query parameters of the instance, variable, history and incident resources.
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
        .route("/deployment/create", post(deployment::deploy))
        .route("/deployment", get(deployment::deployments))
        .route("/deployment/{id}", get(deployment::deployment))
        .route("/process-definition", get(deployment::definitions))
        .route(
            "/process-definition/count",
            get(deployment::definitions_count),
        )
        .route(
            "/process-definition/key/{key}",
            get(deployment::definition_by_key),
        )
        .route(
            "/process-definition/key/{key}/start",
            post(process::start_by_key),
        )
        .route(
            "/process-definition/{id}",
            get(deployment::definition_by_id),
        )
        .route("/process-definition/{id}/start", post(process::start_by_id))
        .route("/process-instance", get(process::instances))
        .route(
            "/process-instance/{id}",
            get(process::instance).delete(process::delete_instance),
        )
        .route(
            "/process-instance/{id}/variables",
            get(process::instance_variables),
        )
        .route(
            "/process-instance/{id}/variables/{name}",
            get(process::instance_variable),
        )
        .route(
            "/process-instance/{id}/variables/{name}/data",
            get(process::instance_variable_data),
        )
        .route(
            "/execution/{id}/localVariables",
            get(process::execution_local_variables),
        )
        .route(
            "/execution/{id}/localVariables/{name}",
            get(process::execution_local_variable),
        )
        .route(
            "/execution/{id}/localVariables/{name}/data",
            get(process::execution_local_variable_data),
        )
        .route("/history/process-instance", get(history::history_instances))
        .route(
            "/history/process-instance/{id}",
            get(history::history_instance),
        )
        .route(
            "/history/variable-instance",
            get(history::history_variables),
        )
        .route(
            "/history/variable-instance/{id}/data",
            get(history::history_variable_data),
        )
        .route("/incident", get(history::incidents))
        .route("/external-task", get(external_tasks::tasks))
        .route("/external-task/count", get(external_tasks::task_count))
        .route(
            "/external-task/fetchAndLock",
            post(external_tasks::fetch_and_lock),
        )
        .route("/external-task/{id}", get(external_tasks::task))
        .route(
            "/external-task/{id}/errorDetails",
            get(external_tasks::task_error_details),
        )
        .route(
            "/external-task/{id}/complete",
            post(external_tasks::complete),
        )
        .route("/external-task/{id}/failure", post(external_tasks::failure))
        .route(
            "/external-task/{id}/bpmnError",
            post(external_tasks::bpmn_error),
        )
        .route(
            "/external-task/{id}/extendLock",
            post(external_tasks::extend_lock),
        )
        .route("/external-task/{id}/lock", post(external_tasks::lock))
        .route("/external-task/{id}/unlock", post(external_tasks::unlock))
        .route(
            "/external-task/{id}/retries",
            put(external_tasks::set_retries),
        );
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

/// The engine-rest root as the client addressed it (`http://HOST/engine-rest`), for the
/// `links` Camunda puts into answers (it builds them from the request URI).
fn rest_root(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}/engine-rest")
}

/// The `self` link of the resource `path/id`, as Camunda puts it into a create answer's `links`: `GET {root}/{path}/{id}`.
fn self_link(headers: &HeaderMap, path: &str, id: &str) -> Link {
    Link {
        href: Some(format!("{}/{path}/{id}", rest_root(headers))),
        method: Some("GET".to_owned()),
        rel: Some("self".to_owned()),
    }
}
