//! The dev engine's REST rendering: the JSON that Camunda's engine-rest answers for
//! deployments, definitions, instances, history, incidents and external tasks, read from the
//! domain state without changing it.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{
    Definition, Deployment, HistoryVar, Incident, Instance, InstanceState, State, Task, TaskQuery,
    format_date, now_ms, opt_date,
};
use crate::error::RestError;
use crate::variables::{StoredVariable, variables_to_json};

impl Definition {
    pub(super) fn to_json(&self) -> Value {
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

impl Task {
    pub(super) fn to_json(&self) -> Value {
        json!({
            "activityId": self.activity_id,
            "activityInstanceId": self.activity_instance_id,
            "errorMessage": self.error_message,
            "executionId": self.execution_id,
            "id": self.id,
            "lockExpirationTime": opt_date(self.lock_expiration),
            "createTime": format_date(self.create_time),
            "processDefinitionId": self.definition.id,
            "processDefinitionKey": self.definition.key,
            "processDefinitionVersionTag": self.definition.model.version_tag,
            "processInstanceId": self.instance_id,
            "retries": self.retries,
            "suspended": false,
            "workerId": self.worker_id,
            "topicName": self.topic,
            "tenantId": null,
            "priority": self.priority,
            "businessKey": self.business_key,
        })
    }
}

impl Incident {
    pub(super) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "processDefinitionId": self.definition_id,
            "processInstanceId": self.instance_id,
            "executionId": self.execution_id,
            "incidentTimestamp": format_date(self.time),
            "incidentType": "failedExternalTask",
            "activityId": self.activity_id,
            // Camunda sets it for job incidents only; external-task incidents have null.
            "failedActivityId": null,
            "causeIncidentId": self.id,
            "rootCauseIncidentId": self.id,
            "configuration": self.task_id,
            "tenantId": null,
            "incidentMessage": self.message,
            "jobDefinitionId": null,
            "annotation": null,
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

    pub(super) fn deployment_json(&self, d: &Deployment, with_definitions: bool) -> Value {
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

    /// `GET /process-instance/{id}`.
    pub(crate) fn instance_json(&self, id: &str) -> Result<Value, RestError> {
        let i = self.active_instance(id)?;
        Ok(json!({
            "id": i.id,
            "definitionId": i.definition.id,
            "definitionKey": i.definition.key,
            "businessKey": i.business_key,
            "caseInstanceId": null,
            "ended": false,
            "suspended": false,
            "tenantId": null,
            "links": [],
        }))
    }

    /// `GET /process-instance`.
    pub(crate) fn instances_json(
        &self,
        key: Option<&str>,
        business_key: Option<&str>,
    ) -> Vec<Value> {
        let mut list: Vec<&Instance> = self
            .instances
            .values()
            .filter(|i| i.state == InstanceState::Active)
            .filter(|i| key.is_none_or(|k| k == i.definition.key))
            .filter(|i| business_key.is_none_or(|b| Some(b) == i.business_key.as_deref()))
            .collect();
        list.sort_by(|a, b| a.start_time.cmp(&b.start_time).then(a.id.cmp(&b.id)));
        list.into_iter()
            .filter_map(|i| self.instance_json(&i.id).ok())
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

    pub(super) fn history_instance(&self, i: &Instance) -> Value {
        json!({
            "id": i.id,
            "businessKey": i.business_key,
            "processDefinitionId": i.definition.id,
            "processDefinitionKey": i.definition.key,
            "processDefinitionName": i.definition.model.name,
            "processDefinitionVersion": i.definition.version,
            "startTime": format_date(i.start_time),
            "endTime": opt_date(i.end_time),
            "removalTime": opt_date(i.removal_time()),
            "durationInMillis": i.end_time.map(|e| e - i.start_time),
            "startUserId": null,
            "startActivityId": i.definition.model.start,
            "deleteReason": i.delete_reason,
            "rootProcessInstanceId": i.id,
            "restartedProcessInstanceId": null,
            "superProcessInstanceId": null,
            "superCaseInstanceId": null,
            "caseInstanceId": null,
            "tenantId": null,
            "state": i.state.as_str(),
        })
    }

    /// `GET /history/process-instance/{id}`.
    pub(crate) fn history_instance_json(&self, id: &str) -> Result<Value, RestError> {
        self.instances
            .get(id)
            .map(|i| self.history_instance(i))
            .ok_or_else(|| {
                RestError::invalid_not_found(format!(
                    "Historic process instance with id {id} does not exist"
                ))
            })
    }

    /// `GET /history/process-instance`.
    pub(crate) fn history_instances_json(
        &self,
        id: Option<&str>,
        key: Option<&str>,
        finished: Option<bool>,
        unfinished: Option<bool>,
    ) -> Vec<Value> {
        let mut list: Vec<&Instance> = self
            .instances
            .values()
            .filter(|i| id.is_none_or(|id| id == i.id))
            .filter(|i| key.is_none_or(|k| k == i.definition.key))
            .filter(|i| finished != Some(true) || i.state != InstanceState::Active)
            .filter(|i| unfinished != Some(true) || i.state == InstanceState::Active)
            .collect();
        list.sort_by(|a, b| a.start_time.cmp(&b.start_time).then(a.id.cmp(&b.id)));
        list.into_iter().map(|i| self.history_instance(i)).collect()
    }

    /// `GET /history/variable-instance`.
    pub(crate) fn history_variables(
        &self,
        instance_id: Option<&str>,
        name: Option<&str>,
        deserialize: bool,
    ) -> Vec<Value> {
        let mut out = Vec::new();
        let mut instances: Vec<&Instance> = match instance_id {
            Some(id) => self.instances.get(id).into_iter().collect(),
            None => self.instances.values().collect(),
        };
        instances.sort_by(|a, b| a.start_time.cmp(&b.start_time).then(a.id.cmp(&b.id)));
        for i in instances {
            // Process-scope variables, then those local to task executions; by name.
            let mut entries: Vec<(&str, &StoredVariable, Option<&HistoryVar>, &str, &str)> = i
                .variables
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str(),
                        v,
                        i.var_meta.get(n),
                        i.id.as_str(),
                        i.id.as_str(),
                    )
                })
                .collect();
            entries.extend(i.local_history.iter().map(|((n, execution), l)| {
                (
                    n.as_str(),
                    &l.var,
                    Some(&l.meta),
                    execution.as_str(),
                    l.activity_instance_id.as_str(),
                )
            }));
            entries.sort_by(|a, b| a.0.cmp(b.0));
            for (var_name, var, meta, execution, activity_instance) in entries {
                if name.is_some_and(|n| n != var_name) {
                    continue;
                }
                let typed = var.to_history_json(deserialize);
                out.push(json!({
                    "id": meta.map(|m| m.id.clone()),
                    "name": var_name,
                    "type": var.type_name,
                    "value": typed["value"],
                    "valueInfo": typed["valueInfo"],
                    "processDefinitionKey": i.definition.key,
                    "processDefinitionId": i.definition.id,
                    "processInstanceId": i.id,
                    "executionId": execution,
                    "activityInstanceId": activity_instance,
                    "caseDefinitionKey": null,
                    "caseDefinitionId": null,
                    "caseInstanceId": null,
                    "caseExecutionId": null,
                    "taskId": null,
                    "errorMessage": null,
                    "tenantId": null,
                    "state": "CREATED",
                    "createTime": meta.map(|m| format_date(m.create_time)),
                    "removalTime": opt_date(i.removal_time()),
                    "rootProcessInstanceId": i.id,
                }));
            }
        }
        out
    }

    /// `GET /incident`.
    pub(crate) fn incidents_json(
        &self,
        instance_id: Option<&str>,
        incident_type: Option<&str>,
        configuration: Option<&str>,
    ) -> Vec<Value> {
        self.incidents
            .values()
            .filter(|i| instance_id.is_none_or(|id| id == i.instance_id))
            .filter(|_| incident_type.is_none_or(|t| t == "failedExternalTask"))
            .filter(|i| configuration.is_none_or(|c| c == i.task_id))
            .map(Incident::to_json)
            .collect()
    }

    /// `GET /external-task/{id}`.
    pub(crate) fn task_json(&self, id: &str) -> Result<Value, RestError> {
        self.tasks.get(id).map(Task::to_json).ok_or_else(|| {
            RestError::not_found(format!("External task with id {id} does not exist"))
        })
    }

    /// `GET /external-task` (and count).
    pub(crate) fn query_tasks(&self, q: &TaskQuery) -> Vec<Value> {
        let now = now_ms();
        let mut list: Vec<&Task> = match &q.topic_name {
            Some(topic) => self
                .topic_index
                .get(topic)
                .into_iter()
                .flat_map(|i| i.values())
                .filter_map(|id| self.tasks.get(id))
                .collect(),
            None => self.tasks.values().collect(),
        };
        list.retain(|t| {
            q.external_task_id.as_ref().is_none_or(|id| id == &t.id)
                && q.worker_id
                    .as_ref()
                    .is_none_or(|w| Some(w) == t.worker_id.as_ref())
                && q.process_instance_id
                    .as_ref()
                    .is_none_or(|p| p == &t.instance_id)
                && q.activity_id.as_ref().is_none_or(|a| a == &t.activity_id)
                && q.process_definition_id
                    .as_ref()
                    .is_none_or(|d| d == &t.definition.id)
                && q.process_definition_key
                    .as_ref()
                    .is_none_or(|k| k == &t.definition.key)
                && (q.locked != Some(true) || t.lock_expiration.is_some_and(|l| l > now))
                && (q.not_locked != Some(true) || t.lock_expiration.is_none_or(|l| l <= now))
                && (q.with_retries_left != Some(true) || t.retries_left())
                && (q.no_retries_left != Some(true) || !t.retries_left())
        });
        list.sort_by_key(|t| t.seq);
        list.into_iter()
            .skip(q.first_result.unwrap_or(0))
            .take(q.max_results.unwrap_or(usize::MAX))
            .map(Task::to_json)
            .collect()
    }
}
