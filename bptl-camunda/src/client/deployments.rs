//! Deployments and process definitions: `/deployment/create`, `/process-definition`.

use reqwest::Method;
use reqwest::header;

use super::{CamundaClient, Deployment, DeploymentRequest, ProcessDefinition};
use crate::error::CamundaError;

impl CamundaClient {
    /// The latest version of the process definition with `key`:
    /// `GET /process-definition/key/{key}`.
    pub async fn get_process_definition_by_key(
        &self,
        key: &str,
    ) -> Result<ProcessDefinition, CamundaError> {
        let (builder, call) = self.request(Method::GET, &["process-definition", "key", key]);
        self.send_json(&call, builder).await
    }

    /// The process definition with `key` and `version`:
    /// `GET /process-definition?key=...&version=...`; none is
    /// [`CamundaError::DefinitionNotFound`] (which [`is_not_found`](CamundaError::is_not_found)).
    pub async fn get_process_definition_by_key_and_version(
        &self,
        key: &str,
        version: i32,
    ) -> Result<ProcessDefinition, CamundaError> {
        let (builder, call) = self.request(Method::GET, &["process-definition"]);
        let version_text = version.to_string();
        let found: Vec<ProcessDefinition> = self
            .send_json(
                &call,
                builder.query(&[("key", key), ("version", version_text.as_str())]),
            )
            .await?;
        found
            .into_iter()
            .find(|d| d.key == key && d.version == version)
            .ok_or_else(|| CamundaError::DefinitionNotFound {
                key: key.to_owned(),
                version,
            })
    }

    /// Deploy resources (BPMN files): multipart `POST /deployment/create`.
    pub async fn deploy(&self, request: &DeploymentRequest) -> Result<Deployment, CamundaError> {
        let (boundary, body) = request.multipart();
        let (builder, call) = self.request(Method::POST, &["deployment", "create"]);
        let builder = builder
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        self.send_json(&call, builder).await
    }
}
