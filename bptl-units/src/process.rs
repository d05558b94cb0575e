//! `start_process`: start a process instance in the engine under the alias `engine`, or in the
//! worker's own engine.

use bptl_camunda::{CamundaClient, ProcessDefinition, StartProcess};
use bptl_core::prelude::*;
use bptl_core::{EventKind, check_variable_as, optional_variable_as};
use bptl_credentials::TaskServices;
use serde_json::Value as Json;

use crate::files;

/// The alias of the engine `start_process` starts the process in.
pub(crate) const ALIAS: &str = "engine";

pub(crate) async fn run(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let vars = task.get_variables()?;
    let key = check_variable_as::<String>(&vars, "subprocessDefinition")?;
    let version = version(&vars)?;
    let tenant = optional_string(&vars, "subprocessTenantId")?;
    let business_key = optional_string(&vars, "subprocessBusinessKey")?;
    let variables = mapped_variables(task, &vars).await?;
    let client = engine(task).await?;

    let mut start = StartProcess::new(variables);
    if let Some(business_key) = business_key {
        start = start.business_key(business_key);
    }
    let started = if version.is_none() && tenant.is_none() {
        client.start_process_by_key(&key, &start).await
    } else {
        let definition = definition(&client, &key, version, tenant.as_deref()).await?;
        client.start_process_by_id(&definition.id, &start).await
    };
    let instance = started.map_err(|e| {
        if e.is_not_found() {
            UnitError::failure(format!(
                "no process definition with the key '{key}' in the engine {}: deploy it or \
                 correct subprocessDefinition ({e})",
                client.base_url()
            ))
        } else {
            UnitError::failure(format!(
                "cannot start the process '{key}' in the engine {}: {e}",
                client.base_url()
            ))
        }
    })?;
    if let Some(timeline) = task.timeline() {
        timeline.record(
            EventKind::Note,
            format!("started the process '{key}': instance {}", instance.id),
            serde_json::json!({
                "processDefinitionKey": key,
                "processDefinitionId": instance.definition_id,
                "processInstanceId": instance.id,
                "engine": client.base_url(),
            }),
        );
    }
    Ok(variables! { "processInstanceId": instance.id })
}

/// `subprocessDefinitionVersion`: an integer, or `"latest"` (the default).
fn version(vars: &Variables) -> Result<Option<i32>, UnitError> {
    let invalid = |found: String| UnitError::InvalidVariable {
        name: "subprocessDefinitionVersion".into(),
        expected: "a version number (1, 2, ...) or \"latest\"".into(),
        found,
    };
    match vars.get("subprocessDefinitionVersion") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match (value.as_i64(), value.as_str().map(str::trim)) {
            (Some(v), _) => i32::try_from(v)
                .ok()
                .filter(|v| *v >= 1)
                .map(Some)
                .ok_or_else(|| invalid(value.describe())),
            (None, Some("latest" | "")) => Ok(None),
            (None, Some(text)) => text
                .parse::<i32>()
                .ok()
                .filter(|v| *v >= 1)
                .map(Some)
                .ok_or_else(|| invalid(value.describe())),
            (None, None) => Err(invalid(value.describe())),
        },
    }
}

fn optional_string(vars: &Variables, name: &str) -> Result<Option<String>, UnitError> {
    Ok(optional_variable_as::<String>(vars, name)?.filter(|s| !s.trim().is_empty()))
}

/// The new instance's variables: those `variablesMapping` names, under their new names, or all
/// of the task's when there is no mapping. File variables go with their content.
async fn mapped_variables(task: &dyn BaseTask, vars: &Variables) -> Result<Variables, UnitError> {
    let pairs: Vec<(String, String)> = match vars.get("variablesMapping") {
        None | Some(Value::Null) => vars.names().map(|n| (n.clone(), n.clone())).collect(),
        Some(value) => mapping_pairs(value)?,
    };
    let mut out = Variables::new();
    for (from, to) in pairs {
        let Some(value) = vars.get(&from) else {
            return Err(UnitError::failure(format!(
                "variablesMapping maps the variable '{from}', which the task does not have: \
                 set it in the process or remove it from the mapping"
            )));
        };
        let value = match value {
            Value::File(file) => Value::File(files::with_content(task, &from, file).await?),
            other => other.clone(),
        };
        out.insert(to, value);
    }
    Ok(out)
}

/// `variablesMapping` as (task variable, new process's variable) pairs.
fn mapping_pairs(value: &Value) -> Result<Vec<(String, String)>, UnitError> {
    let invalid = |found: String| UnitError::InvalidVariable {
        name: "variablesMapping".into(),
        expected: "a JSON object from the task's variable names to the new process's, e.g. \
                   {\"zaakUrl\": \"hoofdZaakUrl\"}"
            .into(),
        found,
    };
    let Json::Object(map) = value.to_json() else {
        return Err(invalid(value.describe()));
    };
    map.into_iter()
        .map(|(from, to)| match to {
            Json::String(to) if !to.trim().is_empty() => Ok((from, to)),
            other => Err(invalid(format!("{other} as the new name of '{from}'"))),
        })
        .collect()
}

/// The engine under the alias `engine` (credentials of `bptlAppId`), else the worker's own.
async fn engine(task: &dyn BaseTask) -> Result<CamundaClient, UnitError> {
    let mapped = task
        .mapping()
        .is_some_and(|m| m.services.contains_key(ALIAS));
    if !mapped {
        return files::own_engine(task)
            .map(|client| (*client).clone())
            .ok_or_else(|| {
                UnitError::failure(
                    "start_process has no engine: map a service of api_type \"camunda\" under \
                     the alias 'engine', or run it in a worker with a Camunda engine",
                )
            });
    }
    let service = task.service(ALIAS)?;
    let headers = task.credentials(ALIAS).await?;
    let mut builder =
        CamundaClient::builder(service.api_root().as_str()).timeout(service.request_timeout());
    for (name, value) in headers.iter() {
        let value = value.to_str().map_err(|_| {
            UnitError::failure(format!(
                "the credentials for the service '{}' are not valid header text",
                service.name()
            ))
        })?;
        builder = builder.header(name.as_str(), value.to_owned());
    }
    builder.build().map_err(|e| {
        UnitError::failure(format!(
            "the service '{}' is not a usable engine: {e}",
            service.name()
        ))
    })
}

/// The one definition of `key` with `version` (latest when `None`) and `tenant`.
async fn definition(
    client: &CamundaClient,
    key: &str,
    version: Option<i32>,
    tenant: Option<&str>,
) -> Result<ProcessDefinition, UnitError> {
    let mut found = client
        .find_process_definitions(key, version, tenant)
        .await
        .map_err(|e| {
            UnitError::failure(format!(
                "cannot look up the process '{key}' in the engine {}: {e}",
                client.base_url()
            ))
        })?;
    let which = || {
        let version =
            version.map_or_else(|| "latest version".to_owned(), |v| format!("version {v}"));
        match tenant {
            Some(t) => format!("the key '{key}', {version}, tenant '{t}'"),
            None => format!("the key '{key}', {version}"),
        }
    };
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(UnitError::failure(format!(
            "no process definition with {} in the engine {}: deploy it or correct \
             subprocessDefinition, subprocessDefinitionVersion or subprocessTenantId",
            which(),
            client.base_url()
        ))),
        _ => Err(UnitError::failure(format!(
            "several process definitions with {} (one per tenant) in the engine {}: set \
             subprocessTenantId",
            which(),
            client.base_url()
        ))),
    }
}
