//! The dev engine's REST rendering: the JSON that Camunda's engine-rest answers for
//! deployments, definitions, instances, history, incidents and external tasks, read from the
//! domain state without changing it.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{Definition, Deployed, Deployment, Instance, InstanceState, State, format_date};
use crate::error::RestError;
use crate::variables::variables_to_json;

mod history;
mod tasks;

/// An optional date as Camunda answers it (`null` when absent).
fn opt_date(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |m| Value::String(format_date(m)))
}

impl Definition {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "key": self.key,
            "category": self.model.category,
            "description": null,
            "name": self.model.name,
            "version": self.version,
            "resource": self.resource,
            "deploymentId": self.deployment_id,
            "diagram": null,
            "suspended": false,
            "tenantId": null,
            "versionTag": self.model.version_tag,
            "historyTimeToLive": self.model.history_ttl_days,
            "startableInTasklist": true,
        })
    }
}

impl State {
    /// A deployment as `GET /deployment` and `GET /deployment/{id}` answer it: without the
    /// `deployed*Definitions` fields the create answer has.
    pub(super) fn deployment_resource_json(d: &Deployment) -> Value {
        json!({
            "id": d.id,
            "name": d.name,
            "source": d.source,
            "tenantId": null,
            "deploymentTime": format_date(d.time),
            "links": [],
        })
    }

    /// The answer of `POST /deployment/create`: the deployment, with the definitions it
    /// created (`null` for an unchanged duplicate).
    pub(crate) fn deployed_json(&self, deployed: &Deployed) -> Value {
        match self.deployments.get(deployed.index) {
            Some(d) => self.deployment_json(d, deployed.created),
            None => Value::Null,
        }
    }

    fn deployment_json(&self, d: &Deployment, with_definitions: bool) -> Value {
        let defs: Map<String, Value> = d
            .definitions
            .iter()
            .filter_map(|id| self.definitions.get(id))
            .map(|def| (def.id.clone(), def.to_json()))
            .collect();
        json!({
            "id": d.id,
            "name": d.name,
            "source": d.source,
            "tenantId": null,
            "deploymentTime": format_date(d.time),
            "links": [],
            "deployedProcessDefinitions": if with_definitions && !defs.is_empty() { Value::Object(defs) } else { Value::Null },
            "deployedCaseDefinitions": null,
            "deployedDecisionDefinitions": null,
            "deployedDecisionRequirementsDefinitions": null,
        })
    }

    /// `GET /deployment/{id}`.
    pub(crate) fn deployment(&self, id: &str) -> Result<Value, RestError> {
        self.deployments
            .iter()
            .find(|d| d.id == id)
            .map(Self::deployment_resource_json)
            .ok_or_else(|| {
                RestError::not_found(format!("Deployment with id '{id}' does not exist"))
            })
    }

    /// `GET /deployment`.
    pub(crate) fn deployments(&self) -> Value {
        Value::Array(
            self.deployments
                .iter()
                .map(Self::deployment_resource_json)
                .collect(),
        )
    }

    /// `GET /process-definition/key/{key}` and `/process-definition/{id}`.
    pub(crate) fn definition_json(def: &Definition) -> Value {
        def.to_json()
    }

    /// `GET /process-definition`.
    pub(crate) fn definitions(
        &self,
        key: Option<&str>,
        latest_only: bool,
        version: Option<i64>,
    ) -> Vec<Value> {
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
        out.into_iter().map(|d| d.to_json()).collect()
    }

    /// A process instance as `POST .../start` and `GET /process-instance/{id}` answer it.
    fn process_instance_json(i: &Instance) -> Value {
        json!({
            "id": i.id,
            "definitionId": i.definition.id,
            "definitionKey": i.definition.key,
            "businessKey": i.business_key,
            "caseInstanceId": null,
            "ended": i.state != InstanceState::Active,
            "suspended": false,
            "tenantId": null,
            "links": [],
        })
    }

    /// The answer of `POST .../start`: the instance, which may have ended already.
    pub(crate) fn started_instance_json(&self, id: &str) -> Value {
        self.instances
            .get(id)
            .map_or(Value::Null, Self::process_instance_json)
    }

    /// `GET /process-instance/{id}`.
    pub(crate) fn instance_json(&self, id: &str) -> Result<Value, RestError> {
        self.active_instance(id).map(Self::process_instance_json)
    }

    /// `GET /process-instance`.
    pub(crate) fn instances_json(
        &self,
        key: Option<&str>,
        business_key: Option<&str>,
    ) -> Vec<Value> {
        self.active
            .matching(key, business_key)
            .filter_map(|id| self.instances.get(id))
            .filter(|i| key.is_none_or(|k| k == i.definition.key))
            .filter(|i| business_key.is_none_or(|b| Some(b) == i.business_key.as_deref()))
            .map(Self::process_instance_json)
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
