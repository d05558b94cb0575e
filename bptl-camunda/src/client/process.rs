//! Process instances: starting, reading and cancelling them, their variables, history and
//! incidents (`/process-definition/.../start`, `/process-instance`, `/execution`, `/history`,
//! `/incident`).

use bptl_core::Variables;
use reqwest::Method;
use reqwest::header;
use serde_json::Value as Json;

use super::{
    CamundaClient, HistoricProcessInstance, HistoricVariableInstance, Incident, ProcessInstance,
    StartProcess,
};
use crate::error::CamundaError;
use crate::variables::{variables_from_typed, variables_to_typed};
use crate::wire::StartBody;

impl CamundaClient {
    /// Start the latest version of the process with `key`:
    /// `POST /process-definition/key/{key}/start`.
    pub async fn start_process_by_key(
        &self,
        key: &str,
        start: &StartProcess,
    ) -> Result<ProcessInstance, CamundaError> {
        self.start(&["process-definition", "key", key, "start"], start)
            .await
    }

    /// Start the process definition with `id`: `POST /process-definition/{id}/start`.
    pub async fn start_process_by_id(
        &self,
        definition_id: &str,
        start: &StartProcess,
    ) -> Result<ProcessInstance, CamundaError> {
        self.start(&["process-definition", definition_id, "start"], start)
            .await
    }

    async fn start(
        &self,
        segments: &[&str],
        start: &StartProcess,
    ) -> Result<ProcessInstance, CamundaError> {
        let body = StartBody {
            business_key: start.business_key.clone(),
            variables: Some(Json::Object(variables_to_typed(&start.variables)?)),
        };
        let (builder, call) = self.request(Method::POST, segments);
        self.send_json(&call, builder.json(&body)).await
    }

    /// A running process instance: `GET /process-instance/{id}` (404 once it has ended).
    pub async fn get_process_instance(&self, id: &str) -> Result<ProcessInstance, CamundaError> {
        let (builder, call) = self.request(Method::GET, &["process-instance", id]);
        self.send_json(&call, builder).await
    }

    /// Cancel a running process instance: `DELETE /process-instance/{id}`. Its open external
    /// tasks disappear; their workers get 404 on complete and extendLock.
    pub async fn delete_process_instance(&self, id: &str) -> Result<(), CamundaError> {
        let (builder, call) = self.request(Method::DELETE, &["process-instance", id]);
        self.send(&call, builder).await.map(drop)
    }

    /// A running process instance's variables in Camunda's typed JSON:
    /// `GET /process-instance/{id}/variables?deserializeValues=false`.
    pub async fn get_process_variables_typed(
        &self,
        id: &str,
    ) -> Result<serde_json::Map<String, Json>, CamundaError> {
        let (builder, call) = self.request(Method::GET, &["process-instance", id, "variables"]);
        self.send_json(&call, builder.query(&[("deserializeValues", "false")]))
            .await
    }

    /// A running process instance's variables, read into [`Value`](bptl_core::Value)s.
    pub async fn get_process_variables(&self, id: &str) -> Result<Variables, CamundaError> {
        let typed = self.get_process_variables_typed(id).await?;
        Ok(variables_from_typed(&Json::Object(typed))?)
    }

    /// The content of a File (or Bytes) variable:
    /// `GET /process-instance/{id}/variables/{name}/data`.
    pub async fn get_process_variable_data(
        &self,
        id: &str,
        name: &str,
    ) -> Result<Vec<u8>, CamundaError> {
        let (builder, call) = self.request(
            Method::GET,
            &["process-instance", id, "variables", name, "data"],
        );
        self.send(&call, builder.header(header::ACCEPT, "*/*"))
            .await
    }

    /// The content of a File (or Bytes) variable local to an execution:
    /// `GET /execution/{id}/localVariables/{name}/data`. An external task's own scope (a task
    /// with input mappings or boundary events) is such an execution.
    pub async fn get_execution_local_variable_data(
        &self,
        execution_id: &str,
        name: &str,
    ) -> Result<Vec<u8>, CamundaError> {
        let (builder, call) = self.request(
            Method::GET,
            &["execution", execution_id, "localVariables", name, "data"],
        );
        self.send(&call, builder.header(header::ACCEPT, "*/*"))
            .await
    }

    /// A process instance from history (also after it ended):
    /// `GET /history/process-instance/{id}`.
    pub async fn get_historic_process_instance(
        &self,
        id: &str,
    ) -> Result<HistoricProcessInstance, CamundaError> {
        let (builder, call) = self.request(Method::GET, &["history", "process-instance", id]);
        self.send_json(&call, builder).await
    }

    /// A process instance's variables from history (also after it ended):
    /// `GET /history/variable-instance?processInstanceId=...&deserializeValues=false`.
    /// When a name exists in several scopes, the process-instance scope wins. Bytes, which
    /// history lists without their value, are read from their `data`.
    pub async fn get_historic_variables(
        &self,
        process_instance_id: &str,
    ) -> Result<Variables, CamundaError> {
        let (builder, call) = self.request(Method::GET, &["history", "variable-instance"]);
        let items: Vec<HistoricVariableInstance> = self
            .send_json(
                &call,
                builder.query(&[
                    ("processInstanceId", process_instance_id),
                    ("deserializeValues", "false"),
                ]),
            )
            .await?;
        let mut variables = Variables::new();
        let mut process_scoped = std::collections::BTreeSet::new();
        for item in &items {
            let name = item.name.as_str();
            if name.is_empty() {
                continue;
            }
            let scope = item
                .activity_instance_id
                .as_deref()
                .or(item.execution_id.as_deref());
            let is_process_scope = scope.is_none_or(|s| s == process_instance_id);
            if process_scoped.contains(name) && !is_process_scope {
                continue;
            }
            let mut value = crate::variables::from_typed(name, &item.typed_json())?;
            // History answers Bytes without their value (`"value": null`, unlike the runtime
            // API): the content is at `.../variable-instance/{id}/data`.
            let is_bytes = item
                .type_name
                .as_deref()
                .and_then(crate::variables::canonical_type)
                == Some("Bytes");
            if is_bytes
                && value == bptl_core::Value::Null
                && let Some(id) = &item.id
            {
                value = bptl_core::Value::Bytes(self.get_historic_variable_data(id).await?);
            }
            variables.insert(name, value);
            if is_process_scope {
                process_scoped.insert(name.to_owned());
            }
        }
        Ok(variables)
    }

    /// The content of a historic Bytes or File variable instance:
    /// `GET /history/variable-instance/{id}/data`.
    pub async fn get_historic_variable_data(&self, id: &str) -> Result<Vec<u8>, CamundaError> {
        let (builder, call) =
            self.request(Method::GET, &["history", "variable-instance", id, "data"]);
        self.send(&call, builder.header(header::ACCEPT, "*/*"))
            .await
    }

    /// A process instance's incidents: `GET /incident?processInstanceId=...`.
    pub async fn list_incidents(
        &self,
        process_instance_id: &str,
    ) -> Result<Vec<Incident>, CamundaError> {
        let (builder, call) = self.request(Method::GET, &["incident"]);
        self.send_json(
            &call,
            builder.query(&[("processInstanceId", process_instance_id)]),
        )
        .await
    }
}
