//! Deployments and process definitions: `POST /deployment/create`, `GET /deployment`,
//! `GET /process-definition` and its count.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::HeaderMap;
use bptl_camunda::wire::ProcessDefinition;
use serde::Deserialize;
use serde_json::json;

use super::{Answer, Core, ok, query, self_link};
use crate::error::RestError;
use crate::state::{DeploymentRequest, DeploymentResource, State as EngineState};

pub(super) async fn deploy(
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
    let mut out = core.run(|s| {
        let deployed = s.deploy(req)?;
        Ok((s.deployed(&deployed), Default::default()))
    })?;
    if let Some(deployment) = &mut out {
        deployment.links = vec![self_link(&headers, "deployment", &deployment.id)];
    }
    Ok(ok(&out))
}

pub(super) async fn deployments(State(core): State<Core>) -> Answer {
    Ok(ok(&core.lock().deployments()))
}

pub(super) async fn deployment(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    Ok(ok(&core.lock().deployment(&id)?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DefinitionQuery {
    key: Option<String>,
    latest_version: Option<bool>,
    version: Option<i64>,
}

/// The definitions a list or count request asks for.
fn definitions_for(
    core: &Core,
    q: Result<Query<DefinitionQuery>, QueryRejection>,
) -> Result<Vec<ProcessDefinition>, RestError> {
    let q = query(q)?;
    Ok(core
        .lock()
        .definitions(q.key.as_deref(), q.latest_version == Some(true), q.version))
}

pub(super) async fn definitions(
    State(core): State<Core>,
    q: Result<Query<DefinitionQuery>, QueryRejection>,
) -> Answer {
    Ok(ok(&definitions_for(&core, q)?))
}

pub(super) async fn definitions_count(
    State(core): State<Core>,
    q: Result<Query<DefinitionQuery>, QueryRejection>,
) -> Answer {
    Ok(ok(&json!({"count": definitions_for(&core, q)?.len()})))
}

pub(super) async fn definition_by_key(State(core): State<Core>, Path(key): Path<String>) -> Answer {
    let def = core.lock().latest(&key)?;
    Ok(ok(&EngineState::definition_body(&def)))
}

pub(super) async fn definition_by_id(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    let def = core.lock().definition(&id)?;
    Ok(ok(&EngineState::definition_body(&def)))
}
