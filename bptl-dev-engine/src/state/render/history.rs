//! The rendering of history and incidents: `GET /history/process-instance`,
//! `GET /history/variable-instance` and `GET /incident`.

use serde_json::{Value, json};

use super::super::{HistoryVar, Incident, Instance, InstanceState, State};
use super::{format_date, opt_date};
use crate::error::RestError;
use crate::variables::StoredVariable;

impl Incident {
    fn to_json(&self) -> Value {
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
    fn history_instance(&self, i: &Instance) -> Value {
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
        // One instance asked for by id is looked up, not searched for among all.
        let candidates: Box<dyn Iterator<Item = &Instance>> = match id {
            Some(id) => Box::new(self.instances.get(id).into_iter()),
            None => Box::new(self.instances.values()),
        };
        let mut list: Vec<&Instance> = candidates
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
}
