//! Process instances, their history and incidents as Camunda's engine-rest answers them: read
//! by the client ([`CamundaClient::start_process_by_key`](crate::CamundaClient::start_process_by_key),
//! [`get_historic_process_instance`](crate::CamundaClient::get_historic_process_instance),
//! [`get_historic_variables`](crate::CamundaClient::get_historic_variables),
//! [`list_incidents`](crate::CamundaClient::list_incidents), ...) and written by the dev
//! engine.
//!
//! Fields are in the order of their JSON names (see [`ExternalTaskBody`](super::ExternalTaskBody));
//! every one is written, `null` when unset, as Camunda writes it.

use bptl_core::DateValue;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::deployment::Link;
use super::fields::{null_as_default, optional_date};

/// The body of `POST /process-definition/key/{key}/start` and `POST
/// /process-definition/{id}/start`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartBody {
    /// The business key of the new instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_key: Option<String>,
    /// The instance's first variables (typed JSON, `{"name": {"value", "type", "valueInfo"}}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<Value>,
}

/// A process instance (`POST .../start`, `GET /process-instance/{id}`, `GET
/// /process-instance`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessInstance {
    /// The business key.
    #[serde(default)]
    pub business_key: Option<String>,
    /// The case instance, if any.
    #[serde(default)]
    pub case_instance_id: Option<String>,
    /// The process definition id.
    #[serde(default)]
    pub definition_id: Option<String>,
    /// The process definition key (Camunda 7.20+).
    #[serde(default)]
    pub definition_key: Option<String>,
    /// Whether the instance has ended.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ended: bool,
    /// The instance id.
    pub id: String,
    /// Links to related resources.
    #[serde(default, deserialize_with = "null_as_default")]
    pub links: Vec<Link>,
    /// Whether the instance is suspended.
    #[serde(default, deserialize_with = "null_as_default")]
    pub suspended: bool,
    /// The tenant, if any.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// A historic process instance (`GET /history/process-instance[/{id}]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoricProcessInstance {
    /// The business key.
    #[serde(default)]
    pub business_key: Option<String>,
    /// The case instance, if any.
    #[serde(default)]
    pub case_instance_id: Option<String>,
    /// Why it was deleted, if it was.
    #[serde(default)]
    pub delete_reason: Option<String>,
    /// How long it ran, once it ended.
    #[serde(default)]
    pub duration_in_millis: Option<i64>,
    /// When it ended.
    #[serde(default, with = "optional_date")]
    pub end_time: Option<DateValue>,
    /// The instance id.
    pub id: String,
    /// The process definition id.
    #[serde(default)]
    pub process_definition_id: Option<String>,
    /// The process definition key.
    #[serde(default)]
    pub process_definition_key: Option<String>,
    /// The process definition's name.
    #[serde(default)]
    pub process_definition_name: Option<String>,
    /// The process definition's version.
    #[serde(default)]
    pub process_definition_version: Option<i32>,
    /// When its history is due for removal.
    #[serde(default, with = "optional_date")]
    pub removal_time: Option<DateValue>,
    /// The instance it restarted, if any.
    #[serde(default)]
    pub restarted_process_instance_id: Option<String>,
    /// The root of its call hierarchy.
    #[serde(default)]
    pub root_process_instance_id: Option<String>,
    /// The start event it started at.
    #[serde(default)]
    pub start_activity_id: Option<String>,
    /// When it started.
    #[serde(default, with = "optional_date")]
    pub start_time: Option<DateValue>,
    /// Who started it.
    #[serde(default)]
    pub start_user_id: Option<String>,
    /// `ACTIVE`, `SUSPENDED`, `COMPLETED`, `EXTERNALLY_TERMINATED`, `INTERNALLY_TERMINATED`.
    #[serde(default)]
    pub state: Option<String>,
    /// The calling case instance, if any.
    #[serde(default)]
    pub super_case_instance_id: Option<String>,
    /// The calling instance, for a call activity's instance.
    #[serde(default)]
    pub super_process_instance_id: Option<String>,
    /// The tenant, if any.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// A historic variable instance (`GET /history/variable-instance`): a variable of a process
/// instance's scope or of a task's execution, also after the instance ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoricVariableInstance {
    /// The activity instance whose scope holds it (the process instance id for process
    /// variables).
    #[serde(default)]
    pub activity_instance_id: Option<String>,
    /// The case definition id, if any.
    #[serde(default)]
    pub case_definition_id: Option<String>,
    /// The case definition key, if any.
    #[serde(default)]
    pub case_definition_key: Option<String>,
    /// The case execution id, if any.
    #[serde(default)]
    pub case_execution_id: Option<String>,
    /// The case instance id, if any.
    #[serde(default)]
    pub case_instance_id: Option<String>,
    /// When it was created.
    #[serde(default, with = "optional_date")]
    pub create_time: Option<DateValue>,
    /// Why its value cannot be read, if it cannot.
    #[serde(default)]
    pub error_message: Option<String>,
    /// The execution whose scope holds it.
    #[serde(default)]
    pub execution_id: Option<String>,
    /// Its id (its content: `GET /history/variable-instance/{id}/data`).
    #[serde(default)]
    pub id: Option<String>,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// The process definition id.
    #[serde(default)]
    pub process_definition_id: Option<String>,
    /// The process definition key.
    #[serde(default)]
    pub process_definition_key: Option<String>,
    /// The process instance.
    #[serde(default)]
    pub process_instance_id: Option<String>,
    /// When its history is due for removal.
    #[serde(default, with = "optional_date")]
    pub removal_time: Option<DateValue>,
    /// The root of the call hierarchy.
    #[serde(default)]
    pub root_process_instance_id: Option<String>,
    /// `CREATED` or `DELETED`.
    #[serde(default)]
    pub state: Option<String>,
    /// The user task, if any.
    #[serde(default)]
    pub task_id: Option<String>,
    /// The tenant, if any.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Camunda's type name (`String`, `Integer`, `Bytes`, ...).
    #[serde(rename = "type", default)]
    pub type_name: Option<String>,
    /// The value, as in [`TypedValueBody`](super::TypedValueBody) (`null` for `Bytes`,
    /// whose content is at its `data`).
    #[serde(default)]
    pub value: Value,
    /// Details of the value (`objectTypeName`, `filename`, ...).
    #[serde(default)]
    pub value_info: Option<Map<String, Value>>,
}

impl HistoricVariableInstance {
    /// Its value in Camunda's typed JSON (`{"type", "value", "valueInfo"}`), as
    /// [`crate::variables::from_typed`] reads it.
    pub fn typed_json(&self) -> Value {
        let mut map = Map::new();
        if let Some(type_name) = &self.type_name {
            map.insert("type".to_owned(), Value::String(type_name.clone()));
        }
        map.insert("value".to_owned(), self.value.clone());
        if let Some(info) = &self.value_info {
            map.insert("valueInfo".to_owned(), Value::Object(info.clone()));
        }
        Value::Object(map)
    }
}

/// An incident (`GET /incident`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Incident {
    /// The activity.
    #[serde(default)]
    pub activity_id: Option<String>,
    /// The annotation an operator gave it.
    #[serde(default)]
    pub annotation: Option<String>,
    /// The incident that caused it (itself for a failed external task).
    #[serde(default)]
    pub cause_incident_id: Option<String>,
    /// For `failedExternalTask`: the external task id.
    #[serde(default)]
    pub configuration: Option<String>,
    /// The execution.
    #[serde(default)]
    pub execution_id: Option<String>,
    /// The activity that failed (job incidents only).
    #[serde(default)]
    pub failed_activity_id: Option<String>,
    /// The incident id.
    pub id: String,
    /// The message (the failure's errorMessage).
    #[serde(default)]
    pub incident_message: Option<String>,
    /// When it was created.
    #[serde(default, with = "optional_date")]
    pub incident_timestamp: Option<DateValue>,
    /// The type, e.g. `failedExternalTask`.
    #[serde(default)]
    pub incident_type: Option<String>,
    /// The job definition (job incidents only).
    #[serde(default)]
    pub job_definition_id: Option<String>,
    /// The process definition.
    #[serde(default)]
    pub process_definition_id: Option<String>,
    /// The process instance.
    #[serde(default)]
    pub process_instance_id: Option<String>,
    /// The root of the chain of incidents.
    #[serde(default)]
    pub root_cause_incident_id: Option<String>,
    /// The tenant, if any.
    #[serde(default)]
    pub tenant_id: Option<String>,
}
