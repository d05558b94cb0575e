//! The rendering of external tasks: `GET /external-task` and the answer of fetchAndLock.

use std::collections::BTreeMap;

use bptl_camunda::wire::{ExternalTaskBody, FetchAndLockBody};
use serde_json::{Map, Value};

use super::super::format_date;
use super::super::{Locked, State, Task, TaskQuery, now_ms};
use crate::bpmn::NodeKind;
use crate::error::RestError;

impl Task {
    /// The task in the client's wire model, as `GET /external-task` answers it.
    fn to_body(&self) -> ExternalTaskBody {
        ExternalTaskBody {
            activity_id: Some(self.activity_id.clone()),
            activity_instance_id: Some(self.activity_instance_id.clone()),
            business_key: self.business_key.clone(),
            create_time: Some(format_date(self.create_time)),
            error_details: None,
            error_message: self.error_message.clone(),
            execution_id: Some(self.execution_id.clone()),
            extension_properties: None,
            id: self.id.clone(),
            lock_expiration_time: self.lock_expiration.map(format_date),
            priority: Some(self.priority),
            process_definition_id: Some(self.definition.id.clone()),
            process_definition_key: Some(self.definition.key.clone()),
            process_definition_version_tag: self.definition.model.version_tag.clone(),
            process_instance_id: Some(self.instance_id.clone()),
            retries: self.retries,
            suspended: Some(false),
            tenant_id: None,
            topic_name: Some(self.topic.clone()),
            variables: None,
            worker_id: self.worker_id.clone(),
        }
    }

    fn to_json(&self) -> Value {
        serde_json::to_value(self.to_body()).unwrap_or_default()
    }
}

impl State {
    /// The answer of fetchAndLock: the tasks `req` locked, each with the variables and
    /// extension properties its topic asked for.
    pub(crate) fn locked_bodies(
        &self,
        req: &FetchAndLockBody,
        locked: &[Locked],
    ) -> Vec<ExternalTaskBody> {
        let topics = req.topics.as_deref().unwrap_or_default();
        locked
            .iter()
            .filter_map(|l| Some((self.tasks.get(&l.task_id)?, topics.get(l.topic)?)))
            .map(|(task, topic)| {
                let deserialize = topic.deserialize_values.unwrap_or(false);
                let wanted =
                    |name: &String| topic.variables.as_ref().is_none_or(|n| n.contains(name));
                // Without localVariables a task sees what its execution sees: the process
                // variables and its own local ones (which win), as in Operaton and Camunda.
                let process = match topic.local_variables.unwrap_or(false) {
                    true => None,
                    false => self.instances.get(&task.instance_id).map(|i| &i.variables),
                };
                let mut variables = Map::new();
                for (name, var) in process.into_iter().flatten().chain(&task.local_variables) {
                    if wanted(name) {
                        variables.insert(name.clone(), var.to_json_as(deserialize));
                    }
                }
                let properties = match task.definition.model.nodes.get(&task.activity_id) {
                    Some(NodeKind::ServiceTask(st))
                        if topic.include_extension_properties.unwrap_or(false) =>
                    {
                        st.extension_properties.clone()
                    }
                    _ => BTreeMap::new(),
                };
                ExternalTaskBody {
                    variables: Some(variables),
                    error_details: Some(task.error_details.clone()),
                    extension_properties: Some(properties),
                    ..task.to_body()
                }
            })
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
        let mut list: Vec<&Task> = self
            .tasks
            .values()
            .filter(|t| q.topic_name.as_ref().is_none_or(|n| n == &t.topic))
            .collect();
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
