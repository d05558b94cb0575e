//! External tasks: queries, fetchAndLock and the task operations (complete, failure,
//! bpmnError, extendLock, lock, unlock, retries, errorDetails).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use bptl_camunda::wire::{BpmnErrorBody, CompleteBody, FailureBody, FetchAndLockBody, LockBody};

use super::conn::ConnToken;
use super::{Answer, Core, no_content, ok, parse_body, query};
use crate::error::RestError;
use crate::state::{TaskQuery, request_variables};
use crate::variables::VariableContext;

pub(super) async fn tasks(
    State(core): State<Core>,
    q: Result<Query<TaskQuery>, QueryRejection>,
) -> Answer {
    let q = query(q)?;
    Ok(ok(&Value::Array(core.lock().query_tasks(&q))))
}

pub(super) async fn task_count(
    State(core): State<Core>,
    q: Result<Query<TaskQuery>, QueryRejection>,
) -> Answer {
    let mut q = query(q)?;
    q.first_result = None;
    q.max_results = None;
    Ok(ok(&json!({"count": core.lock().query_tasks(&q).len()})))
}

pub(super) async fn fetch_and_lock(
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
    Ok(ok(&tasks))
}

pub(super) async fn task(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    Ok(ok(&core.lock().task_json(&id)?))
}

pub(super) async fn task_error_details(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    match core.lock().task_error_details(&id)? {
        Some(details) => Ok((
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))],
            details,
        )
            .into_response()),
        None => Ok(no_content()),
    }
}

pub(super) async fn complete(
    State(core): State<Core>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let b: CompleteBody = parse_body(&body)?;
    let vars = request_variables(b.variables.as_ref(), VariableContext::Task)?;
    let local = request_variables(b.local_variables.as_ref(), VariableContext::Task)?;
    core.run(|s| Ok(((), s.complete(&id, b.worker_id.as_deref(), vars, local)?)))?;
    Ok(no_content())
}

pub(super) async fn failure(
    State(core): State<Core>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
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

pub(super) async fn bpmn_error(
    State(core): State<Core>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
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

pub(super) async fn extend_lock(
    State(core): State<Core>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let b: LockBody = parse_body(&body)?;
    core.run(|s| {
        Ok((
            (),
            s.extend_lock(&id, b.worker_id.as_deref(), b.new_duration)?,
        ))
    })?;
    Ok(no_content())
}

pub(super) async fn lock(State(core): State<Core>, Path(id): Path<String>, body: Bytes) -> Answer {
    let b: LockBody = parse_body(&body)?;
    core.run(|s| Ok(((), s.lock(&id, b.worker_id.as_deref(), b.lock_duration)?)))?;
    Ok(no_content())
}

pub(super) async fn unlock(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    core.run(|s| Ok(((), s.unlock(&id)?)))?;
    Ok(no_content())
}

pub(super) async fn set_retries(
    State(core): State<Core>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
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
