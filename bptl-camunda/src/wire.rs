//! The bodies of Camunda's external-task requests as they travel, shared by the client (which
//! writes them) and the dev engine (`bptl-dev-engine`, which reads them).
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

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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
