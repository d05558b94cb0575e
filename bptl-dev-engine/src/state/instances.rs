//! Process instances: starting one, moving it along its flow, ending or deleting it, and
//! reading its variables (also those local to its tasks' executions and in history).

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{
    Definition, Effects, Instance, InstanceState, State, Task, new_id, now_ms, set_variables,
};
use crate::bpmn::NodeKind;
use crate::error::RestError;
use crate::variables::{StoredVariable, Variables};

impl State {
    /// Starts an instance; returns its id and the effects.
    pub(crate) fn start_instance(
        &mut self,
        def: Arc<Definition>,
        variables: Vec<(String, StoredVariable)>,
        business_key: Option<String>,
    ) -> (String, Effects) {
        let now = now_ms();
        let id = new_id();
        let mut instance = Instance {
            id: id.clone(),
            definition: def.clone(),
            business_key,
            variables: Variables::new(),
            var_meta: HashMap::new(),
            local_history: BTreeMap::new(),
            state: InstanceState::Active,
            start_time: now,
            end_time: None,
            delete_reason: None,
            open_task: None,
        };
        set_variables(&mut instance, &mut self.history_ids, variables, now);
        self.active.insert(&instance);
        self.instances.insert(id.clone(), instance);
        let start = def.model.start.clone();
        let effects = self.advance(&id, &start);
        (id, effects)
    }

    /// Moves an instance on from `from` along its outgoing flow.
    pub(super) fn advance(&mut self, instance_id: &str, from: &str) -> Effects {
        let mut effects = Effects::default();
        let Some(instance) = self.instances.get(instance_id) else {
            return effects;
        };
        let def = instance.definition.clone();
        let target = def.model.next.get(from).cloned();
        match target
            .as_ref()
            .and_then(|t| def.model.nodes.get(t).map(|n| (t, n)))
        {
            Some((activity, NodeKind::ServiceTask(task))) => {
                self.seq += 1;
                let now = now_ms();
                let id = new_id();
                let t = Task {
                    id: id.clone(),
                    seq: self.seq,
                    topic: task.topic.clone(),
                    priority: task.priority,
                    instance_id: instance_id.to_string(),
                    definition: def.clone(),
                    activity_id: activity.clone(),
                    activity_instance_id: format!("{activity}:{}", new_id()),
                    execution_id: new_id(),
                    business_key: instance.business_key.clone(),
                    create_time: now,
                    worker_id: None,
                    lock_expiration: None,
                    retries: None,
                    error_message: None,
                    error_details: None,
                    local_variables: Variables::new(),
                    incident: None,
                };
                effects.topics.insert(t.topic.clone());
                self.executions.insert(t.execution_id.clone(), id.clone());
                self.tasks.insert(id.clone(), t);
                self.reindex(&id, now);
                if let Some(instance) = self.instances.get_mut(instance_id) {
                    instance.open_task = Some(id);
                }
            }
            Some((activity, NodeKind::Boundary(_) | NodeKind::Start)) => {
                // Not reachable through sequence flows in a valid model; treat as pass-through.
                let activity = activity.clone();
                effects.merge(self.advance(instance_id, &activity));
            }
            Some((_, NodeKind::End)) => {
                self.end_instance(instance_id, InstanceState::Completed, None);
                effects.instance_ended = true;
            }
            None => {
                self.end_instance(instance_id, InstanceState::Completed, None);
                effects.instance_ended = true;
            }
        }
        effects
    }

    pub(super) fn end_instance(
        &mut self,
        instance_id: &str,
        state: InstanceState,
        reason: Option<String>,
    ) {
        let open_task = match self.instances.get_mut(instance_id) {
            Some(instance) if instance.state == InstanceState::Active => {
                self.active.remove(instance);
                instance.state = state;
                instance.end_time = Some(now_ms());
                instance.delete_reason = reason;
                instance.open_task.take()
            }
            _ => return,
        };
        if let Some(task) = open_task {
            self.remove_task(&task);
        }
        self.retire(instance_id);
    }

    pub(super) fn remove_task(&mut self, task_id: &str) -> Option<Task> {
        let task = self.tasks.remove(task_id)?;
        self.unqueue(&task.topic, (Reverse(task.priority), task.seq));
        if let Some(lock) = task.lock_expiration {
            self.deadlines.remove(&(lock, task.id.clone()));
        }
        self.executions.remove(&task.execution_id);
        if let Some(incident) = &task.incident {
            self.remove_incident(incident);
        }
        if let Some(instance) = self.instances.get_mut(&task.instance_id)
            && instance.open_task.as_deref() == Some(task_id)
        {
            instance.open_task = None;
        }
        Some(task)
    }

    pub(super) fn remove_incident(&mut self, id: &str) {
        if let Some(key) = self.incident_keys.remove(id) {
            self.incidents.remove(&key);
        }
    }

    pub(super) fn active_instance(&self, id: &str) -> Result<&Instance, RestError> {
        self.instances
            .get(id)
            .filter(|i| i.state == InstanceState::Active)
            .ok_or_else(|| {
                RestError::invalid_not_found(format!(
                    "Process instance with id {id} does not exist"
                ))
            })
    }

    /// One variable of an active instance.
    pub(crate) fn instance_variable(
        &self,
        id: &str,
        name: &str,
    ) -> Result<StoredVariable, RestError> {
        let i = self.active_instance(id).map_err(|_| RestError {
            status: 500,
            kind: "RestException",
            message: format!(
                "Cannot get process instance variable {name}: execution {id} doesn't exist: execution is null"
            ),
            code: Some(0),
        })?;
        i.variables.get(name).cloned().ok_or_else(|| {
            RestError::invalid_not_found(format!(
                "process instance variable with name {name} does not exist"
            ))
        })
    }

    /// The state of an instance (also after it ended).
    pub(crate) fn instance_state(&self, id: &str) -> Option<InstanceState> {
        self.instances.get(id).map(|i| i.state)
    }

    /// The number of running instances.
    pub(crate) fn active_instance_count(&self) -> usize {
        self.active.len()
    }

    /// `DELETE /process-instance/{id}`.
    pub(crate) fn delete_instance(
        &mut self,
        id: &str,
        reason: Option<String>,
    ) -> Result<Effects, RestError> {
        self.active_instance(id).map_err(|_| RestError {
            code: Some(0),
            ..RestError::invalid_not_found(format!(
                "No process instance found for id '{id}': processInstance is null"
            ))
        })?;
        self.end_instance(id, InstanceState::ExternallyTerminated, reason);
        Ok(Effects {
            instance_ended: true,
            ..Effects::default()
        })
    }

    /// The variables local to an execution (a task's), `GET /execution/{id}/localVariables`.
    pub(crate) fn execution_local_variables(&self, id: &str) -> Result<&Variables, RestError> {
        self.executions
            .get(id)
            .and_then(|task| self.tasks.get(task))
            .map(|t| &t.local_variables)
            .ok_or_else(|| RestError {
                status: 500,
                kind: "NullValueException",
                message: format!("execution {id} doesn't exist: execution is null"),
                code: Some(0),
            })
    }

    /// One variable local to an execution, answered as Operaton 1.0 answers it.
    pub(crate) fn execution_local_variable(
        &self,
        id: &str,
        name: &str,
    ) -> Result<StoredVariable, RestError> {
        let vars = self.execution_local_variables(id).map_err(|_| RestError {
            status: 500,
            kind: "RestException",
            message: format!(
                "Cannot get execution variable {name}: execution {id} doesn't exist: execution is null"
            ),
            code: Some(0),
        })?;
        vars.get(name).cloned().ok_or_else(|| {
            RestError::invalid_not_found(format!(
                "execution variable with name {name} does not exist"
            ))
        })
    }

    /// A historic variable instance by its id (`GET /history/variable-instance/{id}/data`).
    pub(crate) fn history_variable(&self, id: &str) -> Result<StoredVariable, RestError> {
        self.historic_variable(id).cloned().ok_or_else(|| {
            RestError::invalid_not_found(format!(
                "Historic variable instance with Id '{id}' does not exist."
            ))
        })
    }
}
