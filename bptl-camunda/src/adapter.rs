//! [`CamundaEngine`]: the runtime's [`Engine`] for Camunda 7 (and Operaton, CIB seven).

use std::sync::Arc;
use std::time::Duration;

use bptl_core::{
    BpmnError, Engine, EngineError, FailureReport, FetchRequest, TaskRef, Variables, async_trait,
};

use crate::client::{BpmnErrorRequest, CamundaClient, FailureRequest, FetchAndLock, FetchTopic};
use crate::error::CamundaError;

/// The bptl runtime's [`Engine`] over a [`CamundaClient`]: fetched tasks are
/// [`ExternalTask`](crate::ExternalTask)s, errors are classified [`EngineError`]s.
///
/// ```
/// use bptl_camunda::{CamundaClient, CamundaEngine};
/// use bptl_core::Engine;
///
/// let engine = CamundaEngine::new(CamundaClient::new("http://127.0.0.1:8080/engine-rest").unwrap());
/// assert_eq!(engine.engine_type(), "camunda");
/// ```
#[derive(Debug, Clone)]
pub struct CamundaEngine {
    client: CamundaClient,
}

impl CamundaEngine {
    /// An engine speaking to Camunda through `client`.
    pub fn new(client: CamundaClient) -> Self {
        Self { client }
    }

    /// The underlying client, for calls the [`Engine`] trait does not cover.
    pub fn client(&self) -> &CamundaClient {
        &self.client
    }

    /// The fetchAndLock request for a runtime [`FetchRequest`].
    pub fn fetch_and_lock_request(request: &FetchRequest) -> FetchAndLock {
        FetchAndLock {
            worker_id: request.worker_id.clone(),
            max_tasks: u32::try_from(request.max_tasks).unwrap_or(u32::MAX),
            use_priority: request.use_priority,
            async_response_timeout: request.async_response_timeout,
            sorting: Vec::new(),
            topics: request
                .topics
                .iter()
                .map(|t| {
                    let mut topic = FetchTopic::new(t.topic.clone(), t.lock_duration)
                        .local_variables(t.local_variables);
                    topic.variables = t.variables.clone();
                    topic
                })
                .collect(),
        }
    }
}

impl From<CamundaClient> for CamundaEngine {
    fn from(client: CamundaClient) -> Self {
        Self::new(client)
    }
}

fn engine_error(error: CamundaError) -> EngineError {
    EngineError::from(error)
}

#[async_trait]
impl Engine for CamundaEngine {
    fn engine_type(&self) -> &str {
        "camunda"
    }

    async fn fetch_and_lock(&self, request: &FetchRequest) -> Result<Vec<TaskRef>, EngineError> {
        let tasks = self
            .client
            .fetch_and_lock(&Self::fetch_and_lock_request(request))
            .await
            .map_err(engine_error)?;
        Ok(tasks
            .into_iter()
            .map(|task| Arc::new(task) as TaskRef)
            .collect())
    }

    async fn complete(
        &self,
        task_id: &str,
        worker_id: &str,
        variables: &Variables,
    ) -> Result<(), EngineError> {
        self.client
            .complete(task_id, worker_id, variables)
            .await
            .map_err(engine_error)
    }

    async fn failure(
        &self,
        task_id: &str,
        worker_id: &str,
        failure: &FailureReport,
    ) -> Result<(), EngineError> {
        let mut request = FailureRequest::new(
            worker_id,
            failure.error_message.clone(),
            failure.retries,
            failure.retry_timeout,
        );
        request.error_details = failure.error_details.clone();
        self.client
            .failure(task_id, &request)
            .await
            .map_err(engine_error)
    }

    async fn bpmn_error(
        &self,
        task_id: &str,
        worker_id: &str,
        error: &BpmnError,
    ) -> Result<(), EngineError> {
        let mut request =
            BpmnErrorRequest::new(worker_id, error.code.clone()).variables(error.variables.clone());
        if !error.message.is_empty() {
            request = request.message(error.message.clone());
        }
        self.client
            .bpmn_error(task_id, &request)
            .await
            .map_err(engine_error)
    }

    async fn extend_lock(
        &self,
        task_id: &str,
        worker_id: &str,
        duration: Duration,
    ) -> Result<(), EngineError> {
        self.client
            .extend_lock(task_id, worker_id, duration)
            .await
            .map_err(engine_error)
    }

    async fn lock(
        &self,
        task_id: &str,
        worker_id: &str,
        duration: Duration,
    ) -> Result<(), EngineError> {
        self.client
            .lock(task_id, worker_id, duration)
            .await
            .map_err(engine_error)
    }

    async fn unlock(&self, task_id: &str) -> Result<(), EngineError> {
        self.client.unlock(task_id).await.map_err(engine_error)
    }
}
