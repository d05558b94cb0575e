//! Process instances: starting them, `GET /process-instance`, their variables and those
//! local to executions (binary content included).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use bptl_camunda::wire::StartBody;
use serde_json::Value;

use super::{Answer, Core, InstanceQuery, no_content, ok, parse_body, query, self_link};
use crate::error::RestError;
use crate::state::{Definition, request_variables};
use crate::variables::{StoredVariable, VariableContext, variables_to_json};

pub(super) async fn start_by_key(
    State(core): State<Core>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let body: StartBody = parse_body(&body)?;
    let def = core.lock().latest(&key)?;
    start(&core, def, body, &headers)
}

pub(super) async fn start_by_id(
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
    let mut out = core.run(|s| {
        let (id, effects) = s.start_instance(def, vars, body.business_key);
        Ok((s.started_instance(&id), effects))
    })?;
    if let Some(instance) = &mut out {
        instance.links = vec![self_link(headers, "process-instance", &instance.id)];
    }
    Ok(ok(&out))
}

pub(super) async fn instances(
    State(core): State<Core>,
    q: Result<Query<InstanceQuery>, QueryRejection>,
) -> Answer {
    let q = query(q)?;
    let list = core.lock().instances(
        q.process_definition_key.as_deref(),
        q.business_key.as_deref(),
    );
    Ok(ok(&list))
}

pub(super) async fn instance(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    Ok(ok(&core.lock().instance(&id)?))
}

pub(super) async fn delete_instance(
    State(core): State<Core>,
    Path(id): Path<String>,
    q: Result<Query<InstanceQuery>, QueryRejection>,
) -> Answer {
    let q = query(q)?;
    core.run(|s| Ok(((), s.delete_instance(&id, q.delete_reason)?)))?;
    Ok(no_content())
}

pub(super) async fn instance_variables(
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

pub(super) async fn instance_variable(
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

pub(super) async fn instance_variable_data(
    State(core): State<Core>,
    Path((id, name)): Path<(String, String)>,
) -> Answer {
    let var = core.lock().instance_variable(&id, &name)?;
    binary_response(&var, &name)
}

pub(super) async fn execution_local_variables(
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

pub(super) async fn execution_local_variable(
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

pub(super) async fn execution_local_variable_data(
    State(core): State<Core>,
    Path((id, name)): Path<(String, String)>,
) -> Answer {
    let var = core.lock().execution_local_variable(&id, &name)?;
    binary_response(&var, &name)
}

/// The content of a `Bytes` or `File` variable, typed as Camunda types it: a File with its
/// `mimeType` (and `;charset=` its `encoding`), Bytes as `application/octet-stream`.
pub(super) fn binary_response(var: &StoredVariable, name: &str) -> Answer {
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
