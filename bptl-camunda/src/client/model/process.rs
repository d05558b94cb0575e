//! Process instances: what to start one with, running and historic instances, incidents.

use bptl_core::{DateValue, Variables};
use serde::Deserialize;

use crate::external_task::{null_as_default, optional_date};

/// What to start a process instance with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StartProcess {
    /// The instance's variables.
    pub variables: Variables,
    /// The business key.
    pub business_key: Option<String>,
}

impl StartProcess {
    /// Start with these variables.
    pub fn new(variables: Variables) -> Self {
        Self {
            variables,
            business_key: None,
        }
    }

    /// Set the business key.
    pub fn business_key(mut self, key: impl Into<String>) -> Self {
        self.business_key = Some(key.into());
        self
    }
}

/// A process instance (`POST .../start`, `GET /process-instance/{id}`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ProcessInstance {
    /// The instance id.
    pub id: String,
    /// The process definition id.
    #[serde(default)]
    pub definition_id: Option<String>,
    /// The business key.
    #[serde(default)]
    pub business_key: Option<String>,
    /// The case instance, if any.
    #[serde(default)]
    pub case_instance_id: Option<String>,
    /// Whether the instance has ended.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ended: bool,
    /// Whether the instance is suspended.
    #[serde(default, deserialize_with = "null_as_default")]
    pub suspended: bool,
    /// The tenant, if any.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// A historic process instance (`GET /history/process-instance/{id}`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct HistoricProcessInstance {
    /// The instance id.
    pub id: String,
    /// The business key.
    #[serde(default)]
    pub business_key: Option<String>,
    /// The process definition id.
    #[serde(default)]
    pub process_definition_id: Option<String>,
    /// The process definition key.
    #[serde(default)]
    pub process_definition_key: Option<String>,
    /// When it started.
    #[serde(default, deserialize_with = "optional_date")]
    pub start_time: Option<DateValue>,
    /// When it ended.
    #[serde(default, deserialize_with = "optional_date")]
    pub end_time: Option<DateValue>,
    /// `ACTIVE`, `SUSPENDED`, `COMPLETED`, `EXTERNALLY_TERMINATED`, `INTERNALLY_TERMINATED`.
    #[serde(default)]
    pub state: Option<String>,
    /// Why it was deleted, if it was.
    #[serde(default)]
    pub delete_reason: Option<String>,
    /// The calling instance, for a call activity's instance.
    #[serde(default)]
    pub super_process_instance_id: Option<String>,
}

/// An incident (`GET /incident`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Incident {
    /// The incident id.
    pub id: String,
    /// The type, e.g. `failedExternalTask`.
    #[serde(default)]
    pub incident_type: Option<String>,
    /// The message (the failure's errorMessage).
    #[serde(default)]
    pub incident_message: Option<String>,
    /// The process instance.
    #[serde(default)]
    pub process_instance_id: Option<String>,
    /// The execution.
    #[serde(default)]
    pub execution_id: Option<String>,
    /// The activity.
    #[serde(default)]
    pub activity_id: Option<String>,
    /// For `failedExternalTask`: the external task id.
    #[serde(default)]
    pub configuration: Option<String>,
}
