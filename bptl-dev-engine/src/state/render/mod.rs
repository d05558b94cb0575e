//! The dev engine's REST rendering: the JSON that Camunda's engine-rest answers for
//! deployments, definitions, instances, history, incidents and external tasks, read from the
//! domain state without changing it.

use std::sync::Arc;

use bptl_camunda::wire::{Deployment as DeploymentBody, ProcessDefinition, ProcessInstance};
use bptl_core::DateValue;
use serde_json::Value;

use super::{Definition, Deployed, Deployment, Instance, InstanceState, State, date_value};
use crate::error::RestError;
use crate::variables::variables_to_json;

mod history;
mod tasks;

/// An optional date as Camunda answers it (`null` when absent).
fn opt_date(ms: Option<i64>) -> Option<DateValue> {
    ms.map(date_value)
}

impl Definition {
    fn to_body(&self) -> ProcessDefinition {
        ProcessDefinition {
            category: self.model.category.clone(),
            deployment_id: Some(self.deployment_id.clone()),
            description: None,
            diagram: None,
            history_time_to_live: self.model.history_ttl_days,
            id: self.id.clone(),
            key: self.key.clone(),
            name: self.model.name.clone(),
            resource: Some(self.resource.clone()),
            startable_in_tasklist: true,
            suspended: false,
            tenant_id: None,
            version: i32::try_from(self.version).unwrap_or(i32::MAX),
            version_tag: self.model.version_tag.clone(),
        }
    }
}

impl State {
    /// A deployment with the definitions it created (none for an unchanged duplicate).
    fn deployment_body(&self, d: &Deployment, with_definitions: bool) -> DeploymentBody {
        let definitions = d
            .definitions
            .iter()
            .filter(|_| with_definitions)
            .filter_map(|id| self.definitions.get(id))
            .map(|def| (def.id.clone(), def.to_body()))
            .collect();
        DeploymentBody {
            deployed_case_definitions: None,
            deployed_decision_definitions: None,
            deployed_decision_requirements_definitions: None,
            deployed_process_definitions: definitions,
            deployment_time: Some(date_value(d.time)),
            id: d.id.clone(),
            links: Vec::new(),
            name: d.name.clone(),
            source: d.source.clone(),
            tenant_id: None,
        }
    }

    /// The answer of `POST /deployment/create`: the deployment, with the definitions it
    /// created.
    pub(crate) fn deployed(&self, deployed: &Deployed) -> Option<DeploymentBody> {
        self.deployments
            .get(deployed.index)
            .map(|d| self.deployment_body(d, deployed.created))
    }

    /// `GET /deployment/{id}`.
    pub(crate) fn deployment(&self, id: &str) -> Result<Value, RestError> {
        self.deployments
            .iter()
            .find(|d| d.id == id)
            .map(|d| self.deployment_body(d, false).resource_json())
            .ok_or_else(|| {
                RestError::not_found(format!("Deployment with id '{id}' does not exist"))
            })
    }

    /// `GET /deployment`.
    pub(crate) fn deployments(&self) -> Vec<Value> {
        self.deployments
            .iter()
            .map(|d| self.deployment_body(d, false).resource_json())
            .collect()
    }

    /// `GET /process-definition/key/{key}` and `/process-definition/{id}`.
    pub(crate) fn definition_body(def: &Definition) -> ProcessDefinition {
        def.to_body()
    }

    /// `GET /process-definition`.
    pub(crate) fn definitions(
        &self,
        key: Option<&str>,
        latest_only: bool,
        version: Option<i64>,
    ) -> Vec<ProcessDefinition> {
        let mut out: Vec<&Arc<Definition>> = Vec::new();
        for (k, versions) in &self.versions {
            if key.is_some_and(|key| key != k) {
                continue;
            }
            if latest_only {
                out.extend(versions.last());
            } else {
                out.extend(versions.iter());
            }
        }
        out.retain(|d| version.is_none_or(|v| v == d.version));
        out.sort_by(|a, b| a.key.cmp(&b.key).then(a.version.cmp(&b.version)));
        out.into_iter().map(|d| d.to_body()).collect()
    }

    /// A process instance as `POST .../start` and `GET /process-instance/{id}` answer it.
    fn process_instance(i: &Instance) -> ProcessInstance {
        ProcessInstance {
            business_key: i.business_key.clone(),
            case_instance_id: None,
            definition_id: Some(i.definition.id.clone()),
            definition_key: Some(i.definition.key.clone()),
            ended: i.state != InstanceState::Active,
            id: i.id.clone(),
            links: Vec::new(),
            suspended: false,
            tenant_id: None,
        }
    }

    /// The answer of `POST .../start`: the instance, which may have ended already.
    pub(crate) fn started_instance(&self, id: &str) -> Option<ProcessInstance> {
        self.instances.get(id).map(Self::process_instance)
    }

    /// `GET /process-instance/{id}`.
    pub(crate) fn instance(&self, id: &str) -> Result<ProcessInstance, RestError> {
        self.active_instance(id).map(Self::process_instance)
    }

    /// `GET /process-instance`: the running instances, oldest first.
    pub(crate) fn instances(
        &self,
        key: Option<&str>,
        business_key: Option<&str>,
    ) -> Vec<ProcessInstance> {
        self.active
            .matching(key, business_key)
            .filter_map(|id| self.instances.get(id))
            .filter(|i| key.is_none_or(|k| k == i.definition.key))
            .filter(|i| business_key.is_none_or(|b| Some(b) == i.business_key.as_deref()))
            .map(Self::process_instance)
            .collect()
    }

    /// `GET /process-instance/{id}/variables`.
    pub(crate) fn instance_variables(
        &self,
        id: &str,
        deserialize: bool,
    ) -> Result<Value, RestError> {
        let i = self.active_instance(id).map_err(|_| RestError {
            status: 500,
            kind: "NullValueException",
            message: format!("execution {id} doesn't exist: execution is null"),
            code: Some(0),
        })?;
        Ok(variables_to_json(&i.variables, deserialize))
    }

    /// The final (or current) variables of an instance, also after it ended.
    pub(crate) fn history_variables_map(&self, id: &str) -> Option<Value> {
        self.instances
            .get(id)
            .map(|i| variables_to_json(&i.variables, false))
    }
}
