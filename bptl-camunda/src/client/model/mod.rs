//! Requests and answers of the Camunda REST API, as Rust types, by resource.

mod deployment;
mod external_task;
mod process;

use std::time::Duration;

pub use crate::wire::{
    Deployment, HistoricProcessInstance, HistoricVariableInstance, Incident, ProcessDefinition,
    ProcessInstance,
};
pub use deployment::DeploymentRequest;
pub use external_task::{
    BpmnErrorRequest, ExternalTaskQuery, FailureRequest, FetchAndLock, FetchSorting, FetchTopic,
    SortOrder,
};
pub use process::StartProcess;

/// Milliseconds, as Camunda's durations travel.
pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
