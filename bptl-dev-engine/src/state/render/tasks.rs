//! The rendering of external tasks: `GET /external-task` and the answer of fetchAndLock.

use bptl_camunda::wire::FetchAndLockBody;
use serde_json::{Map, Value, json};

use super::super::{Locked, State, Task, TaskQuery, now_ms};
use super::{format_date, opt_date};
use crate::bpmn::NodeKind;
use crate::error::RestError;
use crate::variables::{Variables, variables_to_json};

impl Task {
    fn to_json(&self) -> Value {
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

impl State {
    /// The answer of fetchAndLock: the tasks `req` locked, each with the variables and
    /// extension properties its topic asked for.
    pub(crate) fn locked_json(&self, req: &FetchAndLockBody, locked: &[Locked]) -> Vec<Value> {
        let topics = req.topics.as_deref().unwrap_or_default();
        locked
            .iter()
            .filter_map(|l| Some((self.tasks.get(&l.task_id)?, topics.get(l.topic)?)))
            .map(|(task, topic)| {
                let mut value = task.to_json();
                let deserialize = topic.deserialize_values.unwrap_or(false);
                // Without localVariables a task sees what its execution sees: the process
                // variables and its own local ones (which win), as in Operaton and Camunda.
                let visible;
                let source = if topic.local_variables.unwrap_or(false) {
                    &task.local_variables
                } else {
                    let mut all = self
                        .instances
                        .get(&task.instance_id)
                        .map(|i| i.variables.clone())
                        .unwrap_or_default();
                    all.extend(
                        task.local_variables
                            .iter()
                            .map(|(n, v)| (n.clone(), v.clone())),
                    );
                    visible = all;
                    &visible
                };
                let vars: Variables = match &topic.variables {
                    None => source.clone(),
                    Some(names) => source
                        .iter()
                        .filter(|(n, _)| names.contains(n))
                        .map(|(n, v)| (n.clone(), v.clone()))
                        .collect(),
                };
                value["variables"] = variables_to_json(&vars, deserialize);
                value["errorDetails"] = json!(task.error_details);
                let props: Map<String, Value> =
                    if topic.include_extension_properties.unwrap_or(false) {
                        match task.definition.model.nodes.get(&task.activity_id) {
                            Some(NodeKind::ServiceTask(st)) => st
                                .extension_properties
                                .iter()
                                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                                .collect(),
                            _ => Map::new(),
                        }
                    } else {
                        Map::new()
                    };
                value["extensionProperties"] = Value::Object(props);
                value
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
