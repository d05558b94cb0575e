//! An engine that hands out one task and remembers what the worker tells it about it.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use bptl_core::{
    BpmnError, EngineError, EngineErrorKind, FailureReport, FetchRequest, PushEngine, TaskRef,
    Variables,
};
use tokio::sync::watch;

use super::unit::EngineHears;

/// Hands out its task on the first fetch, then long-polls with nothing; records the first
/// outcome reported for the task.
pub(crate) struct OneTaskEngine {
    task_id: String,
    task: Mutex<Option<TaskRef>>,
    heard: watch::Sender<Option<EngineHears>>,
}

impl OneTaskEngine {
    pub(crate) fn new(task: TaskRef) -> (Self, watch::Receiver<Option<EngineHears>>) {
        let (heard, rx) = watch::channel(None);
        let engine = Self {
            task_id: task.task_id().to_owned(),
            task: Mutex::new(Some(task)),
            heard,
        };
        (engine, rx)
    }

    fn hear(&self, task_id: &str, what: EngineHears) -> Result<(), EngineError> {
        if task_id != self.task_id {
            return Err(EngineError::new(
                EngineErrorKind::NotFound,
                format!("External task with id {task_id} does not exist"),
            ));
        }
        self.heard.send_if_modified(|heard| {
            if heard.is_none() {
                *heard = Some(what);
                true
            } else {
                false
            }
        });
        Ok(())
    }
}

#[async_trait]
impl PushEngine for OneTaskEngine {
    fn engine_type(&self) -> &str {
        bptl_core::mapping::DEFAULT_ENGINE
    }

    async fn fetch_and_lock(&self, request: &FetchRequest) -> Result<Vec<TaskRef>, EngineError> {
        let task = self.task.lock().map(|mut t| t.take()).unwrap_or_default();
        if let Some(task) = task {
            return Ok(vec![task]);
        }
        // Nothing more to hand out: park like a long poll (the worker drops it at shutdown).
        let wait = request
            .async_response_timeout
            .unwrap_or(Duration::ZERO)
            .max(Duration::from_millis(10));
        tokio::time::sleep(wait).await;
        Ok(Vec::new())
    }

    async fn complete(
        &self,
        task_id: &str,
        _worker_id: &str,
        variables: &Variables,
    ) -> Result<(), EngineError> {
        self.hear(task_id, EngineHears::Complete(variables.clone()))
    }

    async fn failure(
        &self,
        task_id: &str,
        _worker_id: &str,
        failure: &FailureReport,
    ) -> Result<(), EngineError> {
        self.hear(task_id, EngineHears::Failure(failure.clone()))
    }

    async fn bpmn_error(
        &self,
        task_id: &str,
        _worker_id: &str,
        error: &BpmnError,
    ) -> Result<(), EngineError> {
        self.hear(task_id, EngineHears::BpmnError(error.clone()))
    }
}
