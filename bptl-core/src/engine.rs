//! The contract between the worker runtime and a process engine.
//!
//! The runtime is generic over [`Engine`]; `bptl-camunda` implements it for Camunda 7
//! (and Operaton, CIB seven).

use std::time::Duration;

use async_trait::async_trait;

use crate::error::BpmnError;
use crate::task::TaskRef;
use crate::value::Variables;

/// One topic of a fetch.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicRequest {
    /// The topic name.
    pub topic: String,
    /// How long fetched tasks stay locked.
    pub lock_duration: Duration,
    /// Only these variables (`None`: all).
    pub variables: Option<Vec<String>>,
    /// Only local variables.
    pub local_variables: bool,
}

/// A fetch-and-lock request.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchRequest {
    /// The worker id locking the tasks.
    pub worker_id: String,
    /// At most this many tasks.
    pub max_tasks: usize,
    /// Highest priority first.
    pub use_priority: bool,
    /// Long-poll this long when nothing is available (`None`: answer at once).
    pub async_response_timeout: Option<Duration>,
    /// The topics.
    pub topics: Vec<TopicRequest>,
}

/// A failure to report to the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureReport {
    /// A one-line message (shown in incidents).
    pub error_message: String,
    /// Details, e.g. the error chain.
    pub error_details: Option<String>,
    /// Retries left; 0 raises an incident.
    pub retries: i32,
    /// When the task may be fetched again.
    pub retry_timeout: Duration,
}

/// What went wrong talking to an engine, classified for the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineErrorKind {
    /// The task does not exist (any more): cancelled or completed elsewhere.
    NotFound,
    /// Another worker holds the lock.
    LockedByOther,
    /// A conflict the engine advises to retry (Camunda: optimistic locking).
    Conflict,
    /// The engine is unreachable or overloaded; try again later.
    Transient,
    /// The request was refused as invalid.
    BadRequest,
    /// Anything else.
    Other,
}

/// An error from an engine call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct EngineError {
    /// The classification.
    pub kind: EngineErrorKind,
    /// A message naming what was called and what the engine said.
    pub message: String,
    /// The HTTP status, if there was a response.
    pub status: Option<u16>,
    /// The engine's error body, if any.
    pub body: Option<String>,
}

impl EngineError {
    /// An error of `kind` with a message.
    pub fn new(kind: EngineErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: None,
            body: None,
        }
    }

    /// Whether the task is gone (cancelled or completed elsewhere).
    pub fn is_not_found(&self) -> bool {
        self.kind == EngineErrorKind::NotFound
    }

    /// Whether retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            EngineErrorKind::Transient | EngineErrorKind::Conflict
        )
    }
}

/// A process engine the runtime fetches tasks from and reports outcomes to.
///
/// Calls name tasks by id and worker id, so that a task can be reported after a restart with
/// the worker id it was fetched with.
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// The engine type mappings name (`"camunda"`).
    fn engine_type(&self) -> &str;

    /// Fetch and lock tasks; long-polls when the request says so.
    async fn fetch_and_lock(&self, request: &FetchRequest) -> Result<Vec<TaskRef>, EngineError>;

    /// Complete a task with output variables.
    async fn complete(
        &self,
        task_id: &str,
        worker_id: &str,
        variables: &Variables,
    ) -> Result<(), EngineError>;

    /// Report a failure.
    async fn failure(
        &self,
        task_id: &str,
        worker_id: &str,
        failure: &FailureReport,
    ) -> Result<(), EngineError>;

    /// Raise a BPMN error.
    async fn bpmn_error(
        &self,
        task_id: &str,
        worker_id: &str,
        error: &BpmnError,
    ) -> Result<(), EngineError>;

    /// Extend the lock to now + `duration`.
    async fn extend_lock(
        &self,
        task_id: &str,
        worker_id: &str,
        duration: Duration,
    ) -> Result<(), EngineError>;

    /// Lock a task that is not locked by someone else (used to re-run a stored task).
    async fn lock(
        &self,
        task_id: &str,
        worker_id: &str,
        duration: Duration,
    ) -> Result<(), EngineError>;

    /// Release a task's lock so that it can be fetched again.
    async fn unlock(&self, task_id: &str) -> Result<(), EngineError>;
}
