//! History and incidents: `GET /history/process-instance`, `GET /history/variable-instance`
//! (and a historic variable's content), `GET /incident`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};

use super::process::binary_response;
use super::{Answer, Core, InstanceQuery, ok, query};

pub(super) async fn history_variable_data(
    State(core): State<Core>,
    Path(id): Path<String>,
) -> Answer {
    let var = core.lock().history_variable(&id)?;
    binary_response(&var, &id)
}

pub(super) async fn history_instances(
    State(core): State<Core>,
    q: Result<Query<InstanceQuery>, QueryRejection>,
) -> Answer {
    let q = query(q)?;
    let list = core.lock().history_instances(
        q.process_instance_id.as_deref(),
        q.process_definition_key.as_deref(),
        q.finished,
        q.unfinished,
    );
    Ok(ok(&list))
}

pub(super) async fn history_instance(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    Ok(ok(&core.lock().history_instance_body(&id)?))
}

pub(super) async fn history_variables(
    State(core): State<Core>,
    q: Result<Query<InstanceQuery>, QueryRejection>,
) -> Answer {
    let q = query(q)?;
    let list = core.lock().history_variables(
        q.process_instance_id.as_deref(),
        q.variable_name.as_deref(),
        q.deserialize_values != Some(false),
    );
    Ok(ok(&list))
}

pub(super) async fn incidents(
    State(core): State<Core>,
    q: Result<Query<InstanceQuery>, QueryRejection>,
) -> Answer {
    let q = query(q)?;
    let list = core.lock().incidents(
        q.process_instance_id.as_deref(),
        q.incident_type.as_deref(),
        q.configuration.as_deref(),
    );
    Ok(ok(&list))
}
