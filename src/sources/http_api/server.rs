//! `POST /api/v1/work-unit`: authenticate, read the call, claim its idempotency key, push its
//! task to the [`HttpEngine`] and answer with its outcome (or the stored one, for a repeated
//! key).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bptl_core::store::{TaskKey, TaskRecord, TaskStore, is_bpmn_error};
use bptl_core::{EventKind, TaskStatus, TimelineEntry, WorkerHandle};
use bptl_credentials::APP_ID_VARIABLE;
use jiff::Timestamp;
use serde_json::{Value as Json, json};

use super::engine::{CallOutcome, ENGINE_TYPE, HttpEngine, HttpTask};
use super::request::{Call, idempotency_key, parse_body};
use super::{ApiTokens, PATH};
use bptl_core::duration::format_duration;

/// What every call shares.
pub(super) struct ApiState {
    pub(super) engine: HttpEngine,
    pub(super) tokens: ApiTokens,
    pub(super) timeout: Duration,
    pub(super) store: Arc<dyn TaskStore>,
    pub(super) topics: HashSet<String>,
    pub(super) worker_id: String,
    pub(super) handle: WorkerHandle,
}

pub(super) fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route(PATH, post(work_unit))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                format!("not found: the work-unit API is POST {PATH}"),
                None,
            )
        })
        .with_state(state)
}

/// A JSON error answer `{"error": ..., "taskId": ...}`.
fn error(status: StatusCode, message: impl Into<String>, task_id: Option<&str>) -> Response {
    let mut body = json!({ "error": message.into() });
    if let Some(id) = task_id {
        body["taskId"] = Json::from(id);
    }
    (status, axum::Json(body)).into_response()
}

async fn work_unit(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(app_id) = state.tokens.authenticate(&headers) else {
        let mut response = error(
            StatusCode::UNAUTHORIZED,
            "send Authorization: Bearer TOKEN with your application's api_token",
            None,
        );
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    };
    if state.handle.is_shutting_down() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the worker is shutting down: send the call to another worker or try again later",
            None,
        );
    }
    let key = match idempotency_key(&headers) {
        Ok(key) => key,
        Err(e) => return error(StatusCode::BAD_REQUEST, e, None),
    };
    let Call { topic, mut vars } = match parse_body(&body) {
        Ok(call) => call,
        Err(e) => return error(StatusCode::BAD_REQUEST, e, None),
    };
    if !state.topics.contains(&topic) {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "Could not find a topic/callback mapping for topic '{topic}': the API runs the active [[task_mappings]] with engine = \"http\""
            ),
            None,
        );
    }
    if let Some(sent) = vars.get(APP_ID_VARIABLE)
        && sent.as_str() != Some(app_id)
    {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "vars.{APP_ID_VARIABLE}: your token is the application '{app_id}'s, which the task gets as {APP_ID_VARIABLE}; leave it out"
            ),
            None,
        );
    }
    vars.insert(APP_ID_VARIABLE, app_id);
    let raw = match bptl_camunda::variables::variables_to_typed(&vars) {
        Ok(raw) => Json::Object(raw),
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("vars: {e}"), None),
    };
    // A space never occurs in a key, so the app id and the key cannot run into each other.
    let task_id = match &key {
        Some(key) => format!("{app_id} {key}"),
        None => format!("call-{:032x}", rand::random::<u128>()),
    };
    let task = HttpTask::new(task_id.clone(), topic, vars, raw);
    let record = TaskRecord::from_task(&task, &state.worker_id);
    match state.store.insert_new(&record).await {
        Ok(true) => {}
        Ok(false) => return replay(&state, &record).await,
        Err(e) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the task store failed: {e}"),
                None,
            );
        }
    }
    note(
        &state,
        &record.key(),
        format!(
            "received over the HTTP work-unit API from the application '{app_id}'{}",
            key.as_deref()
                .map(|k| format!(" (Idempotency-Key {k})"))
                .unwrap_or_default()
        ),
        json!({ "appId": app_id, "idempotencyKey": key }),
    )
    .await;
    let outcome = state.engine.push(task);
    match tokio::time::timeout(state.timeout, outcome).await {
        Ok(Ok(outcome)) => answer(outcome, &task_id),
        Ok(Err(_)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the worker stopped before the unit ended",
            Some(&task_id),
        ),
        Err(_) => {
            let again = if key.is_some() {
                "call again with the same Idempotency-Key to get it"
            } else {
                "send an Idempotency-Key to be able to ask for an outcome again"
            };
            error(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "the unit did not finish within {} ([http_api] timeout); it goes on, and its outcome is recorded on task {ENGINE_TYPE}:{task_id}: {again}",
                    format_duration(state.timeout)
                ),
                Some(&task_id),
            )
        }
    }
}

/// The answer for an outcome.
fn answer(outcome: CallOutcome, task_id: &str) -> Response {
    match outcome {
        CallOutcome::Completed(vars) => (
            StatusCode::OK,
            axum::Json(json!({ "resultVars": vars.to_json(), "taskId": task_id })),
        )
            .into_response(),
        CallOutcome::Failed(message) => {
            error(StatusCode::INTERNAL_SERVER_ERROR, message, Some(task_id))
        }
        CallOutcome::BpmnError(bpmn) => bpmn_answer(&bpmn.code, &bpmn.message, task_id),
        CallOutcome::NotStarted(why) => error(StatusCode::SERVICE_UNAVAILABLE, why, Some(task_id)),
    }
}

fn bpmn_answer(code: &str, message: &str, task_id: &str) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::Json(json!({ "errorCode": code, "errorMessage": message, "taskId": task_id })),
    )
        .into_response()
}

/// Put a note on the task's timeline (the record exists: written first).
async fn note(state: &ApiState, key: &TaskKey, message: String, data: Json) {
    let entry = TimelineEntry {
        at: Timestamp::now(),
        kind: EventKind::Note,
        message,
        data,
    };
    if let Err(e) = state.store.append_timeline(key, &entry).await {
        tracing::warn!(task = %key, "cannot write the timeline: {e}");
    }
}

/// A call whose Idempotency-Key is taken: the stored outcome, once there is one (waiting for
/// an earlier call still running, up to the timeout). The unit never runs again.
async fn replay(state: &ApiState, fresh: &TaskRecord) -> Response {
    let key = fresh.key();
    let task_id = fresh.task_id.as_str();
    let deadline = Instant::now() + state.timeout;
    let mut pause = Duration::from_millis(10);
    loop {
        let stored = match state.store.get(&key).await {
            Ok(Some(stored)) => stored,
            Ok(None) => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the record of this Idempotency-Key is gone (pruned?): send a new key",
                    Some(task_id),
                );
            }
            Err(e) => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("the task store failed: {e}"),
                    Some(task_id),
                );
            }
        };
        if stored.topic != fresh.topic || stored.variables != fresh.variables {
            return error(
                StatusCode::CONFLICT,
                format!(
                    "this Idempotency-Key was used for another call (topic '{}', other vars): use a new key for a new call",
                    stored.topic
                ),
                Some(task_id),
            );
        }
        if let Some(response) = stored_answer(&stored) {
            let status = stored.status.as_str();
            note(
                state,
                &key,
                format!("a repeated call with the same Idempotency-Key was answered from this record ({status}); the unit did not run again"),
                json!({ "status": status }),
            )
            .await;
            let mut response = response;
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return response;
        }
        let now = Instant::now();
        if now >= deadline {
            return error(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "an earlier call with this Idempotency-Key has not ended within {} (its task is {}); call again later",
                    format_duration(state.timeout),
                    stored.status.as_str()
                ),
                Some(task_id),
            );
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// The answer a stored record gives, when it has an outcome (`None`: still to come).
fn stored_answer(stored: &TaskRecord) -> Option<Response> {
    let task_id = stored.task_id.as_str();
    match stored.status {
        TaskStatus::Performed | TaskStatus::Completed => Some(answer(
            CallOutcome::Completed(stored.result_variables.clone().unwrap_or_default()),
            task_id,
        )),
        TaskStatus::Failed => {
            let text = stored.execution_error.as_deref().unwrap_or_default();
            let bpmn = is_bpmn_error(Some(text))
                .then(|| text.strip_prefix("BPMN error ")?.split_once(": "))
                .flatten();
            Some(match bpmn {
                Some((code, message)) => bpmn_answer(code, message, task_id),
                None => error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    text.lines()
                        .map(str::trim)
                        .find(|l| !l.is_empty())
                        .unwrap_or("the work unit failed without a message"),
                    Some(task_id),
                ),
            })
        }
        TaskStatus::InProgress
            if stored
                .lock_expires_at
                .is_some_and(|at| at < Timestamp::now()) =>
        {
            Some(error(
                StatusCode::CONFLICT,
                "the earlier call with this Idempotency-Key did not end: its worker stopped while the unit ran, so its outcome is unknown and it is not run again; check what the unit did, then use a new key",
                Some(task_id),
            ))
        }
        _ => None,
    }
}
