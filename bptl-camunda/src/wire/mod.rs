//! The bodies of Camunda's requests and answers as they travel, shared by the client and the
//! dev engine (`bptl-dev-engine`): the external-task requests (the client writes them, the
//! dev engine reads them), and the answers (the dev engine writes them, the client reads
//! them): the external task, the typed value, the error body, and the resources of
//! [`deployment`] (deployments, process definitions) and [`process`] (process instances,
//! historic process and variable instances, incidents). The client returns the latter as
//! they are (`bptl_camunda::ProcessInstance` is [`ProcessInstance`]).
//!
//! Every field is optional and keeps the JSON type Camunda reads it as, so that a reader can
//! answer a missing or wrong field the way Camunda does (`workerId` missing is a
//! `NullValueException`, `lockDuration` ≤ 0 an engine error) instead of failing to parse.
//! A writer leaves out what it does not set: an absent field and a default mean the same to
//! Camunda. Variables are Camunda's typed JSON (`{"name": {"value": …, "type": …}}`, see
//! [`crate::variables`]).
//!
//! ```
//! use bptl_camunda::wire::FetchAndLockBody;
//!
//! let body: FetchAndLockBody = serde_json::from_str(
//!     r#"{"workerId": "w", "maxTasks": 2, "topics": [{"topicName": "t", "lockDuration": 1000}]}"#,
//! )?;
//! assert_eq!(body.topic_names(), ["t"]);
//! assert_eq!(
//!     serde_json::to_string(&body)?,
//!     r#"{"workerId":"w","maxTasks":2,"topics":[{"topicName":"t","lockDuration":1000}]}"#
//! );
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub mod deployment;
pub(crate) mod fields;
pub mod process;

pub use deployment::{Deployment, Link, ProcessDefinition};
pub use process::{
    HistoricProcessInstance, HistoricVariableInstance, Incident, ProcessInstance, StartBody,
};

/// The body of `POST /external-task/fetchAndLock`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchAndLockBody {
    /// The worker id the tasks are locked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// At most this many tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tasks: Option<i64>,
    /// Highest priority first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_priority: Option<bool>,
    /// Long-poll this many milliseconds when no task is available.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub async_response_timeout: Option<i64>,
    /// Sort criteria (Camunda 7.21+).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sorting: Option<Vec<SortingBody>>,
    /// The topics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topics: Option<Vec<TopicBody>>,
}

impl FetchAndLockBody {
    /// The topic names of the request.
    pub fn topic_names(&self) -> Vec<String> {
        self.topics
            .iter()
            .flatten()
            .filter_map(|t| t.topic_name.clone())
            .collect()
    }
}

/// One topic of a fetchAndLock request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicBody {
    /// The topic name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    /// How many milliseconds fetched tasks stay locked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_duration: Option<i64>,
    /// Only these variables (absent: all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variables: Option<Vec<String>>,
    /// Only the task's local variables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_variables: Option<bool>,
    /// Only tasks of process instances with this business key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_key: Option<String>,
    /// Only tasks of this process definition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_definition_id: Option<String>,
    /// Only tasks of these process definitions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_definition_id_in: Option<Vec<String>>,
    /// Only tasks of process definitions with this key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_definition_key: Option<String>,
    /// Only tasks of process definitions with one of these keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_definition_key_in: Option<Vec<String>>,
    /// Only tasks of process definitions with this version tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_definition_version_tag: Option<String>,
    /// Only tasks without a tenant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub without_tenant_id: Option<bool>,
    /// Only tasks of these tenants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id_in: Option<Vec<String>>,
    /// Only tasks whose process variables equal these plain JSON values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_variables: Option<Map<String, Value>>,
    /// Object values deserialized.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deserialize_values: Option<bool>,
    /// Include the service task's extension properties (Camunda 7.14+).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_extension_properties: Option<bool>,
}

/// A sort criterion of a fetchAndLock request (`createTime`, `asc` / `desc`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SortingBody {
    /// What to sort by: Camunda knows `createTime`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_by: Option<String>,
    /// `asc` or `desc`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_order: Option<String>,
}

/// The body of `POST /external-task/{id}/complete`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompleteBody {
    /// The worker that holds the lock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// Process variables to set (typed JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variables: Option<Value>,
    /// Variables local to the task's execution (typed JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_variables: Option<Value>,
}

/// The body of `POST /external-task/{id}/failure`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureBody {
    /// The worker that holds the lock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// The failure's message (the incident's message when no retries are left).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Details, e.g. a stack trace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_details: Option<String>,
    /// The retries left (0: an incident).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    /// Milliseconds before the task may be fetched again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_timeout: Option<i64>,
    /// Process variables to set (typed JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variables: Option<Value>,
    /// Variables local to the task's execution (typed JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_variables: Option<Value>,
}

/// The body of `POST /external-task/{id}/bpmnError`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BpmnErrorBody {
    /// The worker that holds the lock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// The error code an error boundary event catches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The error's message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Process variables to set (typed JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variables: Option<Value>,
}

/// The body of `POST /external-task/{id}/extendLock` (`newDuration`) and
/// `POST /external-task/{id}/lock` (`lockDuration`), in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockBody {
    /// The worker that holds (or takes) the lock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// extendLock: the new lock duration from now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_duration: Option<i64>,
    /// lock: the lock duration from now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_duration: Option<i64>,
}

/// A typed variable value as it travels: `{"type": "Integer", "value": 3, "valueInfo": {}}`,
/// written by the client ([`crate::variables::to_typed`]) and by the dev engine's answers.
///
/// The fields are in the order of their JSON names, so that a struct and a JSON map of it
/// write the same bytes.
///
/// ```
/// use bptl_camunda::wire::TypedValueBody;
///
/// let value = TypedValueBody::new("Integer", serde_json::json!(3));
/// assert_eq!(serde_json::to_string(&value)?, r#"{"type":"Integer","value":3}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypedValueBody {
    /// Camunda's type name (`String`, `Integer`, `Json`, ...).
    #[serde(rename = "type", default)]
    pub type_name: String,
    /// The value (a string for `Date`, `Json`, `Xml`, serialized `Object`s; base64 for
    /// `Bytes` and `File`).
    #[serde(default)]
    pub value: Value,
    /// Details of the value (`objectTypeName`, `filename`, ...); left out when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_info: Option<Map<String, Value>>,
}

impl TypedValueBody {
    /// A value of a type, without `valueInfo`.
    pub fn new(type_name: impl Into<String>, value: Value) -> Self {
        Self {
            type_name: type_name.into(),
            value,
            value_info: None,
        }
    }

    /// Sets the `valueInfo`.
    pub fn with_info(mut self, info: Map<String, Value>) -> Self {
        self.value_info = Some(info);
        self
    }

    /// The JSON value of it (`{"type", "value"}`, and `valueInfo` when set).
    pub fn into_json(self) -> Value {
        let mut map = Map::new();
        map.insert("type".to_owned(), Value::String(self.type_name));
        map.insert("value".to_owned(), self.value);
        if let Some(info) = self.value_info {
            map.insert("valueInfo".to_owned(), Value::Object(info));
        }
        Value::Object(map)
    }
}

/// Camunda's error body, `{"type": "RestException", "message": "...", "code": 0}`: what the
/// client reads from an error answer and the dev engine answers.
///
/// ```
/// use bptl_camunda::wire::ErrorBody;
///
/// let body: ErrorBody = serde_json::from_str(r#"{"type": "RestException", "message": "gone"}"#)?;
/// assert_eq!(body.code, None);
/// assert_eq!(
///     serde_json::to_string(&body)?,
///     r#"{"code":null,"message":"gone","type":"RestException"}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Camunda's error code (since 7.18: 0 generic, 1 optimistic locking, ...); `null` for
    /// errors of the REST layer itself.
    pub code: Option<i64>,
    /// The message.
    pub message: Option<String>,
    /// The exception class, e.g. `RestException`.
    #[serde(rename = "type")]
    pub error_type: Option<String>,
}

/// An external task as fetchAndLock and `GET /external-task` answer it: what the dev engine
/// writes and the client reads into [`ExternalTask`](crate::ExternalTask).
///
/// The fields are in the order of their JSON names (a struct and a JSON map of it write the
/// same bytes). `errorDetails`, `extensionProperties` and `variables` come with fetchAndLock
/// only: left out when `None` (`Some(None)` writes `"errorDetails": null`); every other field
/// is written, `null` when unset, as Camunda writes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalTaskBody {
    /// The BPMN activity id of the service task.
    #[serde(default)]
    pub activity_id: Option<String>,
    /// The activity instance id.
    #[serde(default)]
    pub activity_instance_id: Option<String>,
    /// The process instance's business key.
    #[serde(default)]
    pub business_key: Option<String>,
    /// When the task was created (Camunda's date format; 7.21+).
    #[serde(default)]
    pub create_time: Option<String>,
    /// The details of the last failure (fetchAndLock only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_details: Option<Option<String>>,
    /// The message of the last failure.
    #[serde(default)]
    pub error_message: Option<String>,
    /// The execution id.
    #[serde(default)]
    pub execution_id: Option<String>,
    /// The service task's extension properties (fetchAndLock only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_properties: Option<BTreeMap<String, String>>,
    /// The external task id.
    pub id: String,
    /// When the lock expires (Camunda's date format), if locked.
    #[serde(default)]
    pub lock_expiration_time: Option<String>,
    /// The priority.
    #[serde(default)]
    pub priority: Option<i64>,
    /// The process definition id.
    #[serde(default)]
    pub process_definition_id: Option<String>,
    /// The process definition key.
    #[serde(default)]
    pub process_definition_key: Option<String>,
    /// The process definition's version tag.
    #[serde(default)]
    pub process_definition_version_tag: Option<String>,
    /// The process instance.
    #[serde(default)]
    pub process_instance_id: Option<String>,
    /// Retries left; `None` until the first failure.
    #[serde(default)]
    pub retries: Option<i64>,
    /// Whether the task is suspended.
    #[serde(default)]
    pub suspended: Option<bool>,
    /// The tenant, if any.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// The topic.
    #[serde(default)]
    pub topic_name: Option<String>,
    /// The variables, `{"name": {"value", "type", "valueInfo"}}` (fetchAndLock only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<Map<String, Value>>,
    /// The worker holding the lock, if locked.
    #[serde(default)]
    pub worker_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answers' fields are in the order of their JSON names: written from the struct or
    /// from a JSON map of it (which orders its keys), the bytes are the same.
    #[test]
    fn answers_write_the_same_bytes_as_their_json_maps() -> Result<(), serde_json::Error> {
        fn same<T: Serialize>(value: &T) -> Result<(), serde_json::Error> {
            let direct = serde_json::to_string(value)?;
            let via_map = serde_json::to_string(&serde_json::to_value(value)?)?;
            assert_eq!(direct, via_map);
            Ok(())
        }
        let text = |s: &str| Some(s.to_owned());
        let task = ExternalTaskBody {
            activity_id: text("a"),
            activity_instance_id: text("ai"),
            business_key: text("bk"),
            create_time: text("2015-10-06T16:34:42.000+0200"),
            error_details: Some(None),
            error_message: text("m"),
            execution_id: text("e"),
            extension_properties: Some(BTreeMap::from([("k".to_owned(), "v".to_owned())])),
            id: "t".to_owned(),
            lock_expiration_time: text("2015-10-06T16:34:42.000+0200"),
            priority: Some(3),
            process_definition_id: text("d"),
            process_definition_key: text("dk"),
            process_definition_version_tag: text("1.0"),
            process_instance_id: text("p"),
            retries: Some(2),
            suspended: Some(false),
            tenant_id: None,
            topic_name: text("topic"),
            variables: Some(Map::new()),
            worker_id: text("w"),
        };
        same(&task)?;
        same(&ExternalTaskBody {
            id: "t".to_owned(),
            ..ExternalTaskBody::default()
        })?;
        same(&ErrorBody {
            code: Some(0),
            message: text("gone"),
            error_type: text("RestException"),
        })?;
        same(&TypedValueBody::new("Integer", Value::from(3)).with_info(Map::new()))?;
        Ok(())
    }
}
