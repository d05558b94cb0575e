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
///
/// Every method is required, on purpose: the lease calls ([`extend_lock`](Self::extend_lock),
/// [`lock`](Self::lock), [`unlock`](Self::unlock)) have no default, because a do-nothing
/// default would be wrong for an engine that other workers poll (a forgotten `extend_lock`
/// would let the lock expire under a running unit, silently). An engine that *pushes* its
/// tasks to one worker, so that nobody else can take them (schedules, the HTTP work-unit API,
/// a test engine), implements [`PushEngine`] instead and gets these calls from it.
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

/// An engine whose tasks no other worker can take: it hands each task to the one worker that
/// runs it (schedules, the HTTP work-unit API, a test's engine). Such an engine keeps no leases,
/// so every type implementing `PushEngine` is an [`Engine`] whose lease calls are these:
///
/// * [`Engine::extend_lock`] and [`Engine::lock`] succeed without doing anything: there is no
///   lock to keep, and nobody to take the task meanwhile;
/// * [`Engine::unlock`] (a task the worker fetched but will not run, e.g. at shutdown) is
///   [`release`](Self::release), by default nothing as well.
///
/// An engine that other workers poll (Camunda) must implement [`Engine`] itself.
///
/// ```
/// use std::time::Duration;
/// use bptl_core::{
///     BpmnError, Engine, EngineError, FailureReport, FetchRequest, PushEngine, TaskRef, Variables,
/// };
///
/// /// Hands out nothing; accepts every outcome.
/// struct Quiet;
///
/// #[async_trait::async_trait]
/// impl PushEngine for Quiet {
///     fn engine_type(&self) -> &str { "quiet" }
///     async fn fetch_and_lock(&self, _: &FetchRequest) -> Result<Vec<TaskRef>, EngineError> {
///         Ok(Vec::new())
///     }
///     async fn complete(&self, _: &str, _: &str, _: &Variables) -> Result<(), EngineError> { Ok(()) }
///     async fn failure(&self, _: &str, _: &str, _: &FailureReport) -> Result<(), EngineError> { Ok(()) }
///     async fn bpmn_error(&self, _: &str, _: &str, _: &BpmnError) -> Result<(), EngineError> { Ok(()) }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // An Engine: the lease calls need nothing.
/// assert!(Quiet.extend_lock("t", "w", Duration::from_secs(60)).await.is_ok());
/// assert!(Quiet.unlock("t").await.is_ok());
/// # }
/// ```
#[async_trait]
pub trait PushEngine: Send + Sync + 'static {
    /// The engine type mappings name (`"schedule"`, `"http"`).
    fn engine_type(&self) -> &str;

    /// Hand out tasks; waits for some up to the request's long-poll time.
    async fn fetch_and_lock(&self, request: &FetchRequest) -> Result<Vec<TaskRef>, EngineError>;

    /// The task's unit succeeded with these variables.
    async fn complete(
        &self,
        task_id: &str,
        worker_id: &str,
        variables: &Variables,
    ) -> Result<(), EngineError>;

    /// The task's unit failed.
    async fn failure(
        &self,
        task_id: &str,
        worker_id: &str,
        failure: &FailureReport,
    ) -> Result<(), EngineError>;

    /// The task's unit raised a BPMN error.
    async fn bpmn_error(
        &self,
        task_id: &str,
        worker_id: &str,
        error: &BpmnError,
    ) -> Result<(), EngineError>;

    /// The worker hands a fetched task back without running it (or stopped it at the end of
    /// a shutdown's grace period): [`Engine::unlock`]. By default nothing happens.
    async fn release(&self, task_id: &str) -> Result<(), EngineError> {
        let _ = task_id;
        Ok(())
    }
}

#[async_trait]
impl<P: PushEngine> Engine for P {
    fn engine_type(&self) -> &str {
        PushEngine::engine_type(self)
    }

    async fn fetch_and_lock(&self, request: &FetchRequest) -> Result<Vec<TaskRef>, EngineError> {
        PushEngine::fetch_and_lock(self, request).await
    }

    async fn complete(
        &self,
        task_id: &str,
        worker_id: &str,
        variables: &Variables,
    ) -> Result<(), EngineError> {
        PushEngine::complete(self, task_id, worker_id, variables).await
    }

    async fn failure(
        &self,
        task_id: &str,
        worker_id: &str,
        failure: &FailureReport,
    ) -> Result<(), EngineError> {
        PushEngine::failure(self, task_id, worker_id, failure).await
    }

    async fn bpmn_error(
        &self,
        task_id: &str,
        worker_id: &str,
        error: &BpmnError,
    ) -> Result<(), EngineError> {
        PushEngine::bpmn_error(self, task_id, worker_id, error).await
    }

    /// Nothing to extend: nobody else can take a pushed task.
    async fn extend_lock(
        &self,
        _task_id: &str,
        _worker_id: &str,
        _duration: Duration,
    ) -> Result<(), EngineError> {
        Ok(())
    }

    /// Nothing to take: nobody else holds a pushed task.
    async fn lock(
        &self,
        _task_id: &str,
        _worker_id: &str,
        _duration: Duration,
    ) -> Result<(), EngineError> {
        Ok(())
    }

    async fn unlock(&self, task_id: &str) -> Result<(), EngineError> {
        self.release(task_id).await
    }
}
