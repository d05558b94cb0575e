//! The rendering of history and incidents: `GET /history/process-instance`,
//! `GET /history/variable-instance` and `GET /incident`.

use bptl_camunda::wire::{HistoricProcessInstance, HistoricVariableInstance, Incident as Body};
use serde_json::Value;

use super::super::{HistoryVar, Incident, Instance, InstanceState, State, date_value};
use super::opt_date;
use crate::error::RestError;
use crate::variables::StoredVariable;

impl Incident {
    fn to_body(&self) -> Body {
        Body {
            activity_id: Some(self.activity_id.clone()),
            annotation: None,
            cause_incident_id: Some(self.id.clone()),
            configuration: Some(self.task_id.clone()),
            execution_id: Some(self.execution_id.clone()),
            // Camunda sets it for job incidents only; external-task incidents have null.
            failed_activity_id: None,
            id: self.id.clone(),
            incident_message: self.message.clone(),
            incident_timestamp: Some(date_value(self.time)),
            incident_type: Some("failedExternalTask".to_owned()),
            job_definition_id: None,
            process_definition_id: Some(self.definition_id.clone()),
            process_instance_id: Some(self.instance_id.clone()),
            root_cause_incident_id: Some(self.id.clone()),
            tenant_id: None,
        }
    }
}

impl State {
    fn history_instance(i: &Instance) -> HistoricProcessInstance {
        HistoricProcessInstance {
            business_key: i.business_key.clone(),
            case_instance_id: None,
            delete_reason: i.delete_reason.clone(),
            duration_in_millis: i.end_time.map(|e| e - i.start_time),
            end_time: opt_date(i.end_time),
            id: i.id.clone(),
            process_definition_id: Some(i.definition.id.clone()),
            process_definition_key: Some(i.definition.key.clone()),
            process_definition_name: i.definition.model.name.clone(),
            process_definition_version: Some(
                i32::try_from(i.definition.version).unwrap_or(i32::MAX),
            ),
            removal_time: opt_date(i.removal_time()),
            restarted_process_instance_id: None,
            root_process_instance_id: Some(i.id.clone()),
            start_activity_id: Some(i.definition.model.start.clone()),
            start_time: Some(date_value(i.start_time)),
            start_user_id: None,
            state: Some(i.state.as_str().to_owned()),
            super_case_instance_id: None,
            super_process_instance_id: None,
            tenant_id: None,
        }
    }

    /// `GET /history/process-instance/{id}`.
    pub(crate) fn history_instance_body(
        &self,
        id: &str,
    ) -> Result<HistoricProcessInstance, RestError> {
        self.instances
            .get(id)
            .map(Self::history_instance)
            .ok_or_else(|| {
                RestError::invalid_not_found(format!(
                    "Historic process instance with id {id} does not exist"
                ))
            })
    }

    /// `GET /history/process-instance`.
    pub(crate) fn history_instances(
        &self,
        id: Option<&str>,
        key: Option<&str>,
        finished: Option<bool>,
        unfinished: Option<bool>,
    ) -> Vec<HistoricProcessInstance> {
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
        list.into_iter().map(Self::history_instance).collect()
    }

    /// `GET /history/variable-instance`.
    pub(crate) fn history_variables(
        &self,
        instance_id: Option<&str>,
        name: Option<&str>,
        deserialize: bool,
    ) -> Vec<HistoricVariableInstance> {
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
                out.push(HistoricVariableInstance {
                    activity_instance_id: Some(activity_instance.to_owned()),
                    case_definition_id: None,
                    case_definition_key: None,
                    case_execution_id: None,
                    case_instance_id: None,
                    create_time: meta.map(|m| date_value(m.create_time)),
                    error_message: None,
                    execution_id: Some(execution.to_owned()),
                    id: meta.map(|m| m.id.clone()),
                    name: var_name.to_owned(),
                    process_definition_id: Some(i.definition.id.clone()),
                    process_definition_key: Some(i.definition.key.clone()),
                    process_instance_id: Some(i.id.clone()),
                    removal_time: opt_date(i.removal_time()),
                    root_process_instance_id: Some(i.id.clone()),
                    state: Some("CREATED".to_owned()),
                    task_id: None,
                    tenant_id: None,
                    type_name: Some(var.type_name.to_owned()),
                    value: typed.get("value").cloned().unwrap_or(Value::Null),
                    value_info: typed.get("valueInfo").and_then(Value::as_object).cloned(),
                });
            }
        }
        out
    }

    /// `GET /incident`.
    pub(crate) fn incidents(
        &self,
        instance_id: Option<&str>,
        incident_type: Option<&str>,
        configuration: Option<&str>,
    ) -> Vec<Body> {
        self.incidents
            .values()
            .filter(|i| instance_id.is_none_or(|id| id == i.instance_id))
            .filter(|_| incident_type.is_none_or(|t| t == "failedExternalTask"))
            .filter(|i| configuration.is_none_or(|c| c == i.task_id))
            .map(Incident::to_body)
            .collect()
    }
}
