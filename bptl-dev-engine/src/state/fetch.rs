//! Fetch and lock: which tasks a `POST /external-task/fetchAndLock` request gets, validated
//! as Camunda validates it.

use std::collections::HashSet;

use bptl_camunda::wire::{FetchAndLockBody, TopicBody};

use super::{Effects, State, Task};
use crate::error::RestError;

/// A task a fetchAndLock request locked, and the request's topic it was locked for.
#[derive(Debug, Clone)]
pub(crate) struct Locked {
    /// The task.
    pub task_id: String,
    /// Its topic's place in the request (the topic's options say what the answer shows).
    pub topic: usize,
}

/// Validates a fetchAndLock request the way Camunda does.
pub(crate) fn validate_fetch(request: &FetchAndLockBody) -> Result<(), RestError> {
    if let Some(t) = request.async_response_timeout
        && t > 1_800_000
    {
        return Err(RestError::invalid_request(
            "The asynchronous response timeout cannot be set to a value greater than 1800000 milliseconds",
        ));
    }
    if request.worker_id.is_none() {
        return Err(RestError::null_value("workerId"));
    }
    for sort in request.sorting.iter().flatten() {
        if sort.sort_by.as_deref() != Some("createTime") {
            return Err(RestError::invalid_request(format!(
                "Cannot set query sortBy parameter to value {}",
                sort.sort_by.as_deref().unwrap_or("null")
            )));
        }
        match sort.sort_order.as_deref() {
            Some("asc" | "desc") => {}
            other => {
                return Err(RestError::invalid_request(format!(
                    "Cannot set query sortOrder parameter to value {}",
                    other.unwrap_or("null")
                )));
            }
        }
    }
    for topic in request.topics.iter().flatten() {
        if topic.topic_name.is_none() {
            return Err(RestError::null_value("topicName"));
        }
        match topic.lock_duration {
            Some(d) if d > 0 => {}
            _ => return Err(RestError::engine("lockTime is not greater than 0")),
        }
    }
    Ok(())
}

impl State {
    /// Fetches and locks tasks (`POST /external-task/fetchAndLock`).
    pub(crate) fn fetch_and_lock(
        &mut self,
        req: &FetchAndLockBody,
        now: i64,
    ) -> (Vec<Locked>, Effects) {
        let mut effects = Effects::default();
        let max = usize::try_from(req.max_tasks.unwrap_or(0).max(0)).unwrap_or(0);
        let Some(worker) = req.worker_id.clone() else {
            return (Vec::new(), effects);
        };
        let topics = req.topics.as_deref().unwrap_or_default();
        if max == 0 || topics.is_empty() {
            return (Vec::new(), effects);
        }
        let use_priority = req.use_priority.unwrap_or(false);
        let create_desc = req
            .sorting
            .iter()
            .flatten()
            .any(|s| s.sort_order.as_deref() == Some("desc"));
        // Locks that ended by now make their tasks fetchable first (the timer may not have
        // run yet).
        effects.topics.extend(self.reap(now));
        let index_order = !create_desc;
        let mut chosen: Vec<(usize, String)> = Vec::new();
        let mut seen = HashSet::new();
        for (ti, topic) in topics.iter().enumerate() {
            let Some(queue) = topic.topic_name.as_ref().and_then(|n| self.queues.get(n)) else {
                continue;
            };
            // The queue holds only fetchable tasks, in the request's order: the first `max`
            // that match are the answer (before merging the topics).
            let mut found = 0;
            for id in queue.ordered(use_priority, create_desc) {
                if found >= max {
                    break;
                }
                let Some(task) = self.tasks.get(id) else {
                    continue;
                };
                if !task.fetchable(now) || seen.contains(id) || !self.matches(task, topic) {
                    continue;
                }
                seen.insert(id.clone());
                chosen.push((ti, id.clone()));
                found += 1;
            }
        }
        let key = |id: &str| -> (i64, i64) {
            let t = self.tasks.get(id);
            let prio = if use_priority || index_order {
                t.map_or(0, |t| -t.priority)
            } else {
                0
            };
            let seq = t.map_or(0, |t| i64::try_from(t.seq).unwrap_or(i64::MAX));
            (prio, if create_desc { -seq } else { seq })
        };
        chosen.sort_by_key(|(_, id)| key(id));
        chosen.truncate(max);
        let mut out = Vec::with_capacity(chosen.len());
        for (topic, id) in chosen {
            let lock = now.saturating_add(topics[topic].lock_duration.unwrap_or(0));
            let Some(task) = self.tasks.get_mut(&id) else {
                continue;
            };
            task.worker_id = Some(worker.clone());
            self.set_lock(&id, Some(lock), now);
            effects.deadlines.push(lock);
            out.push(Locked { task_id: id, topic });
        }
        (out, effects)
    }

    fn matches(&self, task: &Task, topic: &TopicBody) -> bool {
        if let Some(bk) = &topic.business_key
            && task.business_key.as_ref() != Some(bk)
        {
            return false;
        }
        if let Some(id) = &topic.process_definition_id
            && &task.definition.id != id
        {
            return false;
        }
        if let Some(ids) = &topic.process_definition_id_in
            && !ids.contains(&task.definition.id)
        {
            return false;
        }
        if let Some(key) = &topic.process_definition_key
            && &task.definition.key != key
        {
            return false;
        }
        if let Some(keys) = &topic.process_definition_key_in
            && !keys.contains(&task.definition.key)
        {
            return false;
        }
        if let Some(tag) = &topic.process_definition_version_tag
            && task.definition.model.version_tag.as_ref() != Some(tag)
        {
            return false;
        }
        // The dev engine has no tenants: every task is without tenant id, so a tenant filter
        // matches only when it also admits tasks without tenant.
        if topic.tenant_id_in.as_ref().is_some_and(|t| !t.is_empty())
            && topic.without_tenant_id != Some(true)
        {
            return false;
        }
        if let Some(filter) = &topic.process_variables {
            let Some(instance) = self.instances.get(&task.instance_id) else {
                return false;
            };
            for (name, expected) in filter {
                match instance.variables.get(name) {
                    Some(var) if var.value_equals(expected) => {}
                    _ => return false,
                }
            }
        }
        true
    }
}
