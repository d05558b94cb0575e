//! The JSON API under `/api/`: the same data as the pages, for scripts.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bptl_core::store::{TaskFilter, TaskRecord, encode_variables};
use bptl_core::{TaskStatus, TimelineEntry};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::auth::User;
use super::{DashState, MAX_PAGE, PAGE_SIZE};

/// The task list's filters, as they appear in the URL (empty values mean "any").
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub(crate) struct TaskQuery {
    /// A status, or several separated by commas.
    #[serde(default)]
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) topic: String,
    #[serde(default)]
    pub(crate) process_instance: String,
    #[serde(default)]
    pub(crate) business_key: String,
    /// An age such as `24h` or `7d`.
    #[serde(default)]
    pub(crate) since: String,
    /// 1-based.
    #[serde(default)]
    pub(crate) page: Option<usize>,
}

impl TaskQuery {
    /// The page asked for (1 when absent).
    pub(crate) fn page(&self) -> usize {
        self.page.unwrap_or(1).max(1)
    }

    /// The store filter for this query's page (one record more than a page, to tell whether
    /// there is a next one), or what is wrong with it.
    pub(crate) fn filter(&self) -> Result<TaskFilter, String> {
        let mut filter = TaskFilter::default();
        for status in self
            .status
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let parsed = TaskStatus::ALL
                .into_iter()
                .find(|s| s.as_str() == status)
                .ok_or_else(|| {
                    format!(
                        "status: '{status}' is not a status; use one of: {}",
                        TaskStatus::ALL.map(|s| s.as_str()).join(", ")
                    )
                })?;
            filter = filter.status(parsed);
        }
        let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        filter.topic = some(&self.topic);
        filter.process_instance_id = some(&self.process_instance);
        filter.business_key = some(&self.business_key);
        if let Some(age) = some(&self.since) {
            let at = crate::ops::parse_age(&age)
                .and_then(crate::ops::since_age)
                .map_err(|e| format!("since: {e}"))?;
            filter.since = Some(at);
        }
        let page = self.page();
        if page > MAX_PAGE {
            return Err(format!(
                "page: {page} is past the last page served ({MAX_PAGE}); narrow the filters (since, status, topic) to see older records"
            ));
        }
        Ok(filter.page((page - 1) * PAGE_SIZE, PAGE_SIZE + 1))
    }

    /// The query string of these filters on `page` (empty filters left out).
    pub(crate) fn to_query(&self, page: usize) -> String {
        let mut parts = Vec::new();
        for (key, value) in [
            ("status", &self.status),
            ("topic", &self.topic),
            ("process_instance", &self.process_instance),
            ("business_key", &self.business_key),
            ("since", &self.since),
        ] {
            if !value.trim().is_empty() {
                parts.push(format!("{key}={}", super::encode(value.trim())));
            }
        }
        if page > 1 {
            parts.push(format!("page={page}"));
        }
        parts.join("&")
    }
}

/// One page of records and whether there is a next one.
pub(crate) async fn page_of(
    state: &DashState,
    query: &TaskQuery,
) -> Result<(Vec<TaskRecord>, bool), Failure> {
    let filter = query.filter().map_err(Failure::bad_request)?;
    let mut records = state.store.list(&filter).await.map_err(Failure::store)?;
    let more = records.len() > PAGE_SIZE;
    records.truncate(PAGE_SIZE);
    Ok((records, more))
}

/// A failed request: a status and a message saying what to do.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn bad_request(message: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message,
        }
    }

    pub(crate) fn store(e: bptl_core::StoreError) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: e.to_string(),
        }
    }

    pub(crate) fn ops(e: crate::ops::OpsError) -> Self {
        let status = if matches!(e, crate::ops::OpsError::NotFound(_)) {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        Self {
            status,
            message: e.to_string(),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

fn at(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| json!(t.to_string()))
}

/// A record's summary as the list shows it.
pub(crate) fn record_json(r: &TaskRecord) -> Value {
    json!({
        "id": r.key().to_string(),
        "engine": r.engine,
        "task_id": r.task_id,
        "topic": r.topic,
        "status": r.status.as_str(),
        "worker_id": r.worker_id,
        "process_instance_id": r.process_instance_id,
        "business_key": r.business_key,
        "priority": r.priority,
        "retries": r.retries,
        "lock_expires_at": at(r.lock_expires_at),
        "executions": r.executions,
        "created_at": r.created_at.to_string(),
        "updated_at": r.updated_at.to_string(),
        "reported_at": at(r.reported_at),
        "execution_error": r.execution_error,
        "engine_error": r.engine_error,
    })
}

/// A timeline entry.
pub(crate) fn entry_json(e: &TimelineEntry) -> Value {
    json!({
        "at": e.at.to_string(),
        "kind": e.kind.as_str(),
        "message": e.message,
        "data": e.data,
    })
}

/// `GET /api`: what the API offers.
pub(crate) async fn index() -> Json<Value> {
    Json(json!({
        "endpoints": {
            "GET /api/tasks": "task records newest first; query: status (comma-separated), topic, process_instance, business_key, since (e.g. 24h), page (1-based, 50 per page)",
            "GET /api/tasks/{id}": "one record (id: ENGINE:TASK_ID or TASK_ID) with variables, result variables and timeline",
            "GET /api/stats": "counts per topic and status and per hour; query: since (default 24h) or all=true",
            "POST /api/tasks/{id}/run-again": "run the task again (execute --force) when [dashboard] allow_actions = true; send the header X-Bptl-Action: run-again",
        }
    }))
}

/// `GET /api/tasks`.
pub(crate) async fn tasks(
    State(state): State<Arc<DashState>>,
    Query(query): Query<TaskQuery>,
) -> Result<Json<Value>, Failure> {
    let (records, more) = page_of(&state, &query).await?;
    let page = query.page();
    Ok(Json(json!({
        "page": page,
        "page_size": PAGE_SIZE,
        "next_page": if more { json!(page + 1) } else { Value::Null },
        "tasks": records.iter().map(record_json).collect::<Vec<_>>(),
    })))
}

/// `GET /api/tasks/{id}`.
pub(crate) async fn task(
    State(state): State<Arc<DashState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Failure> {
    let record = crate::ops::find(&*state.store, &id)
        .await
        .map_err(Failure::ops)?;
    let timeline = state
        .store
        .timeline(&record.key())
        .await
        .map_err(Failure::store)?;
    let mut out = record_json(&record);
    out["variables"] = record.variables.clone();
    out["result_variables"] = record
        .result_variables
        .as_ref()
        .map_or(Value::Null, encode_variables);
    out["timeline"] = Value::Array(timeline.iter().map(entry_json).collect());
    Ok(Json(out))
}

/// The stats query.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct StatsQuery {
    #[serde(default)]
    since: String,
    #[serde(default)]
    all: bool,
}

/// `GET /api/stats`.
pub(crate) async fn stats(
    State(state): State<Arc<DashState>>,
    Query(query): Query<StatsQuery>,
) -> Result<Json<Value>, Failure> {
    let since = if query.all {
        None
    } else {
        let age = if query.since.trim().is_empty() {
            "24h"
        } else {
            query.since.trim()
        };
        Some(
            crate::ops::parse_age(age)
                .and_then(crate::ops::since_age)
                .map_err(|e| Failure::bad_request(format!("since: {e}")))?,
        )
    };
    let counts = state.store.stats(since).await.map_err(Failure::store)?;
    let now = Timestamp::now();
    let hourly = state
        .store
        .hourly(now - jiff::SignedDuration::from_hours(23))
        .await
        .map_err(Failure::store)?;
    let worker = state.worker.as_ref().map(|w| {
        let s = w.stats();
        json!({
            "worker_id": w.worker_id(),
            "fetched": s.fetched,
            "completed": s.completed,
            "failed": s.failed,
            "bpmn_errors": s.bpmn_errors,
            "not_reported": s.not_reported,
            "recovered": s.recovered,
            "in_flight": s.in_flight,
        })
    });
    Ok(Json(json!({
        "since": at(since),
        "counts": counts.iter().map(|r| json!({
            "topic": r.topic, "status": r.status.as_str(), "count": r.count,
        })).collect::<Vec<_>>(),
        "hourly": super::chart::last_24_hours(&hourly, now).iter().map(|h| json!({
            "hour": h.hour.to_string(),
            "completed": h.completed,
            "bpmn_errors": h.bpmn_errors,
            "failed": h.failed,
        })).collect::<Vec<_>>(),
        "worker": worker,
    })))
}

/// `POST /api/tasks/{id}/run-again`: needs `X-Bptl-Action: run-again` (a header no other site
/// can make a browser send).
pub(crate) async fn run_again(
    State(state): State<Arc<DashState>>,
    Path(id): Path<String>,
    axum::Extension(User(who)): axum::Extension<User>,
    headers: HeaderMap,
) -> Result<Json<Value>, Failure> {
    if headers.get("x-bptl-action").and_then(|v| v.to_str().ok()) != Some("run-again") {
        return Err(Failure {
            status: StatusCode::FORBIDDEN,
            message: "send the header X-Bptl-Action: run-again to run a task again".to_owned(),
        });
    }
    if !state.allow_actions {
        return Err(Failure {
            status: StatusCode::FORBIDDEN,
            message: "actions are off: set [dashboard] allow_actions = true".to_owned(),
        });
    }
    let status = super::run_again(&state, &id, &who)
        .await
        .map_err(|message| Failure {
            status: StatusCode::CONFLICT,
            message,
        })?;
    Ok(Json(
        json!({ "id": id, "status": status.as_str(), "requested_by": who }),
    ))
}
