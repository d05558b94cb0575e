//! The push engine behind the HTTP API: the handler [`push`](HttpEngine::push)es a call's task
//! and awaits its [`CallOutcome`]; the worker runtime fetches the task like any engine's and
//! reports its outcome through the [`Engine`](bptl_core::Engine) calls, which resolve the handler's wait.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bptl_core::{
    BaseTask, BpmnError, EngineError, FailureReport, FetchRequest, PushEngine, TaskRef, UnitError,
    Variables,
};
use jiff::{SignedDuration, Timestamp};
use tokio::sync::{mpsc, oneshot};

/// The engine type of the HTTP API's tasks: their records' `engine`, their mappings' `engine`.
pub const ENGINE_TYPE: &str = "http";

/// How a call's task ended, as the runtime reported it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CallOutcome {
    /// The unit succeeded with these variables.
    Completed(Variables),
    /// The unit failed (or could not run): the one-line message.
    Failed(String),
    /// The unit raised a BPMN error.
    BpmnError(BpmnError),
    /// The unit never started (the worker is shutting down): why.
    NotStarted(String),
}

/// One call's task, as pushed and as the runtime receives it.
#[derive(Debug, Clone)]
pub struct HttpTask {
    id: String,
    topic: String,
    variables: Variables,
    raw: serde_json::Value,
    lock_expires_at: Option<Timestamp>,
    worker_id: Option<String>,
}

impl HttpTask {
    /// A task `id` on `topic`; `raw` is how its variables are recorded (Camunda's typed form).
    pub fn new(
        id: impl Into<String>,
        topic: impl Into<String>,
        variables: Variables,
        raw: serde_json::Value,
    ) -> Self {
        Self {
            id: id.into(),
            topic: topic.into(),
            variables,
            raw,
            lock_expires_at: None,
            worker_id: None,
        }
    }
}

impl BaseTask for HttpTask {
    fn task_id(&self) -> &str {
        &self.id
    }
    fn topic_name(&self) -> &str {
        &self.topic
    }
    fn get_variables(&self) -> Result<Variables, UnitError> {
        Ok(self.variables.clone())
    }
    fn engine_type(&self) -> &str {
        ENGINE_TYPE
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn lock_expires_at(&self) -> Option<Timestamp> {
        self.lock_expires_at
    }
    fn worker_id(&self) -> Option<&str> {
        self.worker_id.as_deref()
    }
    fn raw_variables(&self) -> serde_json::Value {
        self.raw.clone()
    }
}

/// The engine a [`Worker`](bptl_core::Worker) runs the HTTP API's calls with (engine type
/// `http`). Cheap to clone: clones share the queue.
///
/// `fetch_and_lock` hands out the pushed tasks (waiting for one as a long poll does);
/// `complete`, `failure` and `bpmn_error` resolve the pushing call's wait, and `unlock` (a task
/// fetched while the worker shuts down) answers it with [`CallOutcome::NotStarted`]. Failures are
/// never retried: the caller hears them at once. An outcome whose caller stopped waiting is
/// accepted all the same (it is in the task's record).
#[derive(Clone)]
pub struct HttpEngine {
    inner: Arc<Inner>,
}

struct Inner {
    queue: mpsc::UnboundedSender<HttpTask>,
    pending: tokio::sync::Mutex<mpsc::UnboundedReceiver<HttpTask>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<CallOutcome>>>,
}

impl std::fmt::Debug for HttpEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpEngine")
            .field("waiting", &self.lock_waiting().len())
            .finish_non_exhaustive()
    }
}

impl Default for HttpEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpEngine {
    /// An engine with an empty queue.
    pub fn new() -> Self {
        let (queue, pending) = mpsc::unbounded_channel();
        Self {
            inner: Arc::new(Inner {
                queue,
                pending: tokio::sync::Mutex::new(pending),
                waiting: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Queue `task` for the worker; the receiver gets its outcome (an error: the engine was
    /// dropped, i.e. the worker stopped, before the task ended).
    pub fn push(&self, task: HttpTask) -> oneshot::Receiver<CallOutcome> {
        let (tx, rx) = oneshot::channel();
        self.lock_waiting().insert(task.id.clone(), tx);
        // The receiver lives in `inner` as long as the sender: sending cannot fail.
        let _ = self.inner.queue.send(task);
        rx
    }

    fn lock_waiting(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<CallOutcome>>> {
        self.inner
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Answer every call still waiting (the worker stopped): `why` is the message.
    pub(crate) fn abandon_all(&self, why: &str) {
        let waiting: Vec<_> = self.lock_waiting().drain().collect();
        for (_, tx) in waiting {
            let _ = tx.send(CallOutcome::NotStarted(why.to_owned()));
        }
    }

    fn resolve(&self, task_id: &str, outcome: CallOutcome) {
        if let Some(tx) = self.lock_waiting().remove(task_id) {
            // The caller may have stopped waiting (timeout): the outcome is in the record.
            let _ = tx.send(outcome);
        }
    }
}

/// A push engine: nobody else can take an HTTP call's task, so there is no lock to keep.
#[async_trait]
impl PushEngine for HttpEngine {
    fn engine_type(&self) -> &str {
        ENGINE_TYPE
    }

    async fn fetch_and_lock(&self, request: &FetchRequest) -> Result<Vec<TaskRef>, EngineError> {
        let mut pending = self.inner.pending.lock().await;
        let mut tasks = Vec::new();
        if request.max_tasks == 0 {
            return Ok(tasks);
        }
        let first = match request.async_response_timeout {
            Some(wait) => tokio::time::timeout(wait, pending.recv())
                .await
                .ok()
                .flatten(),
            None => pending.try_recv().ok(),
        };
        let mut next = first;
        while let Some(mut task) = next.take() {
            match request.topics.iter().find(|t| t.topic == task.topic) {
                Some(topic) => {
                    let lock = SignedDuration::try_from(topic.lock_duration)
                        .unwrap_or(SignedDuration::from_hours(24));
                    task.lock_expires_at = Timestamp::now().checked_add(lock).ok();
                    task.worker_id = Some(request.worker_id.clone());
                    tasks.push(Arc::new(task) as TaskRef);
                }
                // The handler checks the topic against the same mappings: not reached unless
                // the worker and the API were given different mappings.
                None => self.resolve(
                    &task.id,
                    CallOutcome::Failed(format!(
                        "the worker does not run the topic '{}' (no active mapping with engine = \"http\")",
                        task.topic
                    )),
                ),
            }
            if tasks.len() < request.max_tasks {
                next = pending.try_recv().ok();
            }
        }
        Ok(tasks)
    }

    async fn complete(
        &self,
        task_id: &str,
        _worker_id: &str,
        variables: &Variables,
    ) -> Result<(), EngineError> {
        self.resolve(task_id, CallOutcome::Completed(variables.clone()));
        Ok(())
    }

    async fn failure(
        &self,
        task_id: &str,
        _worker_id: &str,
        failure: &FailureReport,
    ) -> Result<(), EngineError> {
        self.resolve(task_id, CallOutcome::Failed(failure.error_message.clone()));
        Ok(())
    }

    async fn bpmn_error(
        &self,
        task_id: &str,
        _worker_id: &str,
        error: &BpmnError,
    ) -> Result<(), EngineError> {
        self.resolve(task_id, CallOutcome::BpmnError(error.clone()));
        Ok(())
    }

    async fn release(&self, task_id: &str) -> Result<(), EngineError> {
        self.resolve(
            task_id,
            CallOutcome::NotStarted(
                "the worker is shutting down: the unit did not start, or was stopped at the end of the shutdown grace period"
                    .to_owned(),
            ),
        );
        Ok(())
    }
}
