//! The external-task endpoints: `/external-task/...`.

use std::time::Duration;

use bptl_core::Variables;
use reqwest::Method;
use reqwest::header;
use serde_json::{Value as Json, json};

use super::{
    BpmnErrorRequest, CamundaClient, ExternalTaskQuery, FailureRequest, FetchAndLock, model,
    typed_unless_empty,
};
use crate::error::CamundaError;
use crate::external_task::ExternalTask;
use crate::variables::variables_to_typed;
use crate::wire::{BpmnErrorBody, CompleteBody, FailureBody, LockBody};

impl CamundaClient {
    /// Fetch and lock tasks: `POST /external-task/fetchAndLock`.
    ///
    /// With `async_response_timeout` the engine parks the request until a task is available
    /// or the timeout passes (then `[]`); the HTTP timeout is the long-poll time plus the
    /// client's long-poll margin, so a vanished engine never hangs the caller.
    pub async fn fetch_and_lock(
        &self,
        request: &FetchAndLock,
    ) -> Result<Vec<ExternalTask>, CamundaError> {
        let (mut builder, call) = self.request(Method::POST, &["external-task", "fetchAndLock"]);
        if let Some(long_poll) = request.async_response_timeout {
            builder = builder.timeout(long_poll.saturating_add(self.inner.long_poll_margin));
        }
        self.send_json(&call, builder.json(request)).await
    }

    /// Complete a task: `POST /external-task/{id}/complete` with process variables.
    pub async fn complete(
        &self,
        task_id: &str,
        worker_id: &str,
        variables: &Variables,
    ) -> Result<(), CamundaError> {
        self.complete_with_local(task_id, worker_id, variables, &Variables::new())
            .await
    }

    /// Complete a task with process variables and local variables.
    pub async fn complete_with_local(
        &self,
        task_id: &str,
        worker_id: &str,
        variables: &Variables,
        local_variables: &Variables,
    ) -> Result<(), CamundaError> {
        let body = CompleteBody {
            worker_id: Some(worker_id.to_owned()),
            variables: Some(Json::Object(variables_to_typed(variables)?)),
            local_variables: typed_unless_empty(local_variables)?,
        };
        self.post_json(&["external-task", task_id, "complete"], &body)
            .await
    }

    /// Report a failure: `POST /external-task/{id}/failure`. `retries` is always sent.
    pub async fn failure(
        &self,
        task_id: &str,
        request: &FailureRequest,
    ) -> Result<(), CamundaError> {
        let body = FailureBody {
            worker_id: Some(request.worker_id.clone()),
            error_message: Some(request.error_message.clone()),
            error_details: request.error_details.clone(),
            retries: Some(i64::from(request.retries)),
            retry_timeout: Some(model::millis(request.retry_timeout)),
            variables: typed_unless_empty(&request.variables)?,
            local_variables: typed_unless_empty(&request.local_variables)?,
        };
        self.post_json(&["external-task", task_id, "failure"], &body)
            .await
    }

    /// Raise a BPMN error: `POST /external-task/{id}/bpmnError`.
    pub async fn bpmn_error(
        &self,
        task_id: &str,
        request: &BpmnErrorRequest,
    ) -> Result<(), CamundaError> {
        let body = BpmnErrorBody {
            worker_id: Some(request.worker_id.clone()),
            error_code: Some(request.error_code.clone()),
            error_message: request.error_message.clone(),
            variables: typed_unless_empty(&request.variables)?,
        };
        self.post_json(&["external-task", task_id, "bpmnError"], &body)
            .await
    }

    /// Extend the lock to now + `duration`: `POST /external-task/{id}/extendLock`.
    pub async fn extend_lock(
        &self,
        task_id: &str,
        worker_id: &str,
        duration: Duration,
    ) -> Result<(), CamundaError> {
        let body = LockBody {
            worker_id: Some(worker_id.to_owned()),
            new_duration: Some(model::millis(duration)),
            ..LockBody::default()
        };
        self.post_json(&["external-task", task_id, "extendLock"], &body)
            .await
    }

    /// Lock a task that no other worker holds: `POST /external-task/{id}/lock` (Camunda 7.15+).
    pub async fn lock(
        &self,
        task_id: &str,
        worker_id: &str,
        duration: Duration,
    ) -> Result<(), CamundaError> {
        let body = LockBody {
            worker_id: Some(worker_id.to_owned()),
            lock_duration: Some(model::millis(duration)),
            ..LockBody::default()
        };
        self.post_json(&["external-task", task_id, "lock"], &body)
            .await
    }

    /// Release a task's lock: `POST /external-task/{id}/unlock` (no worker check).
    pub async fn unlock(&self, task_id: &str) -> Result<(), CamundaError> {
        let (builder, call) = self.request(Method::POST, &["external-task", task_id, "unlock"]);
        self.send(&call, builder).await.map(drop)
    }

    /// One task (without variables): `GET /external-task/{id}`.
    pub async fn get_external_task(&self, task_id: &str) -> Result<ExternalTask, CamundaError> {
        let (builder, call) = self.request(Method::GET, &["external-task", task_id]);
        self.send_json(&call, builder).await
    }

    /// Tasks matching `query`: `GET /external-task`.
    pub async fn list_external_tasks(
        &self,
        query: &ExternalTaskQuery,
    ) -> Result<Vec<ExternalTask>, CamundaError> {
        let (builder, call) = self.request(Method::GET, &["external-task"]);
        self.send_json(&call, builder.query(query)).await
    }

    /// How many tasks match `query`: `GET /external-task/count`.
    pub async fn count_external_tasks(
        &self,
        query: &ExternalTaskQuery,
    ) -> Result<u64, CamundaError> {
        #[derive(serde::Deserialize)]
        struct Count {
            count: u64,
        }
        let (builder, call) = self.request(Method::GET, &["external-task", "count"]);
        let count: Count = self
            .send_json(&call, builder.query(&query.for_count()))
            .await?;
        Ok(count.count)
    }

    /// Set a task's retries: `PUT /external-task/{id}/retries` (> 0 makes a task with an
    /// incident fetchable again).
    pub async fn set_retries(&self, task_id: &str, retries: i32) -> Result<(), CamundaError> {
        let (builder, call) = self.request(Method::PUT, &["external-task", task_id, "retries"]);
        self.send(&call, builder.json(&json!({ "retries": retries })))
            .await
            .map(drop)
    }

    /// The details of a task's last failure: `GET /external-task/{id}/errorDetails`
    /// (`None` when there are none).
    pub async fn get_error_details(&self, task_id: &str) -> Result<Option<String>, CamundaError> {
        let (builder, call) =
            self.request(Method::GET, &["external-task", task_id, "errorDetails"]);
        let body = self
            .send(&call, builder.header(header::ACCEPT, "text/plain, */*"))
            .await?;
        let text = String::from_utf8_lossy(&body).into_owned();
        Ok((!text.is_empty()).then_some(text))
    }
}
