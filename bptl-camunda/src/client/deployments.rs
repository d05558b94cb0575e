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

    /// The process definitions with `key`: of `version`, or the latest when `version` is
    /// `None`; of the tenant `tenant_id` when given:
    /// `GET /process-definition?key=...&version=...|latestVersion=true&tenantIdIn=...`.
    /// The answer is filtered again here (an engine without tenants ignores `tenantIdIn`), so
    /// every definition returned has the key, version and tenant asked for; none is an empty
    /// list.
    pub async fn find_process_definitions(
        &self,
        key: &str,
        version: Option<i32>,
        tenant_id: Option<&str>,
    ) -> Result<Vec<ProcessDefinition>, CamundaError> {
        let (builder, call) = self.request(Method::GET, &["process-definition"]);
        let mut query = vec![("key", key.to_owned())];
        match version {
            Some(v) => query.push(("version", v.to_string())),
            None => query.push(("latestVersion", "true".to_owned())),
        }
        if let Some(tenant) = tenant_id {
            query.push(("tenantIdIn", tenant.to_owned()));
        }
        let found: Vec<ProcessDefinition> = self.send_json(&call, builder.query(&query)).await?;
        Ok(found
            .into_iter()
            .filter(|d| d.key == key && version.is_none_or(|v| d.version == v))
            .filter(|d| tenant_id.is_none_or(|t| d.tenant_id.as_deref() == Some(t)))
            .collect())
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
