//! The external-task transitions: complete, failure (retries, incidents), BPMN error, lock
//! extension, lock, unlock and retries, each checked the way Camunda checks it.

use super::{
    Effects, Incident, InstanceState, MAX_INCIDENT_MESSAGE, State, Task, new_id, now_ms,
    set_local_history, set_variables, string_var,
};
use crate::error::RestError;
use crate::variables::StoredVariable;

impl State {
    pub(super) fn task(&self, id: &str) -> Result<&Task, RestError> {
        self.tasks
            .get(id)
            .ok_or_else(|| RestError::task_not_found(id))
    }

    pub(super) fn check_worker(&self, id: &str, worker: &str, what: &str) -> Result<(), RestError> {
        let task = self.task(id)?;
        if task.worker_id.as_deref() != Some(worker) {
            return Err(RestError::bad_request(format!(
                "{what} by worker '{worker}'. It is locked by worker '{}'.",
                task.worker_id.as_deref().unwrap_or("null")
            )));
        }
        Ok(())
    }

    /// `POST /external-task/{id}/complete`.
    pub(crate) fn complete(
        &mut self,
        id: &str,
        worker: Option<&str>,
        variables: Vec<(String, StoredVariable)>,
        local: Vec<(String, StoredVariable)>,
    ) -> Result<Effects, RestError> {
        let worker = worker.ok_or_else(|| RestError::null_value("workerId"))?;
        self.check_worker(
            id,
            worker,
            &format!("External Task {id} cannot be completed"),
        )?;
        let Some(task) = self.remove_task(id) else {
            return Err(RestError::task_not_found(id));
        };
        let now = now_ms();
        if let Some(instance) = self.instances.get_mut(&task.instance_id) {
            set_local_history(instance, &mut self.history_ids, &task, &local, now);
            set_variables(instance, &mut self.history_ids, variables, now);
        }
        Ok(self.advance(&task.instance_id, &task.activity_id))
    }

    /// `POST /external-task/{id}/failure`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn failure(
        &mut self,
        id: &str,
        worker: Option<&str>,
        error_message: Option<String>,
        error_details: Option<String>,
        retries: i64,
        retry_timeout: i64,
        variables: Vec<(String, StoredVariable)>,
        local: Vec<(String, StoredVariable)>,
    ) -> Result<Effects, RestError> {
        let worker = worker.ok_or_else(|| RestError::null_value("workerId"))?;
        if retries < 0 {
            return Err(RestError::engine(
                "retries is not greater than or equal to 0",
            ));
        }
        if retry_timeout < 0 {
            return Err(RestError::engine(
                "retryDuration is not greater than or equal to 0",
            ));
        }
        self.check_worker(
            id,
            worker,
            &format!("Failure of External Task {id} cannot be reported"),
        )?;
        let now = now_ms();
        let mut effects = Effects::default();
        let instance_id = self.task(id)?.instance_id.clone();
        if let Some(instance) = self.instances.get_mut(&instance_id) {
            set_variables(instance, &mut self.history_ids, variables, now);
        }
        let needs_incident;
        let topic;
        let lock;
        {
            let Some(task) = self.tasks.get_mut(id) else {
                return Err(RestError::task_not_found(id));
            };
            if let Some(instance) = self.instances.get_mut(&task.instance_id) {
                set_local_history(instance, &mut self.history_ids, task, &local, now);
            }
            for (name, var) in local {
                task.local_variables.insert(name, var);
            }
            let had_retries = task.retries_left();
            task.error_message = error_message.clone();
            // Camunda keeps the previous details when a failure brings none.
            if error_details.is_some() {
                task.error_details = error_details;
            }
            task.retries = Some(retries);
            lock = now.saturating_add(retry_timeout);
            topic = task.topic.clone();
            needs_incident = retries == 0 && had_retries;
            if retries > 0 {
                if retry_timeout == 0 {
                    effects.topics.insert(topic.clone());
                } else {
                    effects.deadlines.push(lock);
                }
            }
        }
        self.set_lock(id, Some(lock), now);
        if needs_incident {
            self.create_incident(id, error_message, now);
        }
        Ok(effects)
    }

    pub(super) fn create_incident(&mut self, task_id: &str, message: Option<String>, now: i64) {
        let Some(task) = self.tasks.get_mut(task_id) else {
            return;
        };
        let incident_id = new_id();
        let incident = Incident {
            id: incident_id.clone(),
            time: now,
            message: message.map(|m| m.chars().take(MAX_INCIDENT_MESSAGE).collect()),
            task_id: task_id.to_string(),
            activity_id: task.activity_id.clone(),
            execution_id: task.execution_id.clone(),
            instance_id: task.instance_id.clone(),
            definition_id: task.definition.id.clone(),
        };
        task.incident = Some(incident_id.clone());
        let key = (now, incident_id.clone());
        self.incident_keys.insert(incident_id, key.clone());
        self.incidents.insert(key, incident);
    }

    /// `POST /external-task/{id}/bpmnError`.
    pub(crate) fn bpmn_error(
        &mut self,
        id: &str,
        worker: Option<&str>,
        error_code: Option<&str>,
        error_message: Option<&str>,
        variables: Vec<(String, StoredVariable)>,
    ) -> Result<Effects, RestError> {
        let worker = worker.ok_or_else(|| RestError::null_value("workerId"))?;
        let code = error_code.ok_or_else(|| RestError::null_value("errorCode"))?;
        self.check_worker(
            id,
            worker,
            &format!("Bpmn error of External Task {id} cannot be reported"),
        )?;
        let Some(task) = self.remove_task(id) else {
            return Err(RestError::task_not_found(id));
        };
        let now = now_ms();
        let boundary = task
            .definition
            .model
            .catching_boundary(&task.activity_id, code)
            .cloned();
        let Some(instance) = self.instances.get_mut(&task.instance_id) else {
            return Ok(Effects::default());
        };
        set_variables(instance, &mut self.history_ids, variables, now);
        match boundary {
            Some(b) => {
                let mut extra = Vec::new();
                if let Some(name) = &b.code_variable {
                    extra.push((name.clone(), string_var(Some(code))));
                }
                if let Some(name) = &b.message_variable {
                    extra.push((name.clone(), string_var(error_message)));
                }
                set_variables(instance, &mut self.history_ids, extra, now);
                Ok(self.advance(&task.instance_id, &b.id))
            }
            None => {
                self.end_instance(&task.instance_id, InstanceState::Completed, None);
                Ok(Effects {
                    instance_ended: true,
                    ..Effects::default()
                })
            }
        }
    }

    /// `POST /external-task/{id}/extendLock`.
    pub(crate) fn extend_lock(
        &mut self,
        id: &str,
        worker: Option<&str>,
        new_duration: Option<i64>,
    ) -> Result<Effects, RestError> {
        let worker = worker.ok_or_else(|| RestError::null_value("workerId"))?;
        let duration = new_duration.unwrap_or(0);
        if duration <= 0 {
            return Err(RestError::bad_request("lockTime is not greater than 0"));
        }
        let now = now_ms();
        let task = self.task(id)?;
        if task.worker_id.as_deref() != Some(worker) {
            return Err(RestError::bad_request(format!(
                "The lock of the External Task {id} cannot be extended by worker '{worker}''. It is locked by worker '{}'.",
                task.worker_id.as_deref().unwrap_or("null")
            )));
        }
        if task.lock_expiration.is_none_or(|l| l < now) {
            return Err(RestError::bad_request(format!(
                "Cannot extend a lock that expired: lockExpirationTime is not greater than or equal to {now}"
            )));
        }
        let lock = now.saturating_add(duration);
        self.set_lock(id, Some(lock), now);
        Ok(Effects {
            deadlines: vec![lock],
            ..Effects::default()
        })
    }

    /// `POST /external-task/{id}/lock`.
    pub(crate) fn lock(
        &mut self,
        id: &str,
        worker: Option<&str>,
        duration: Option<i64>,
    ) -> Result<Effects, RestError> {
        let worker = worker.ok_or_else(|| RestError::null_value("workerId"))?;
        let duration = duration.unwrap_or(0);
        if duration <= 0 {
            return Err(RestError::bad_request("lockDuration is not greater than 0"));
        }
        let now = now_ms();
        let task = self.task(id)?;
        if let Some(holder) = &task.worker_id
            && holder != worker
            && task.lock_expiration.is_some_and(|l| l > now)
        {
            return Err(RestError::bad_request(format!(
                "External Task {id} cannot be locked by worker '{worker}'. It is locked by worker '{holder}'."
            )));
        }
        let lock = now.saturating_add(duration);
        if let Some(task) = self.tasks.get_mut(id) {
            task.worker_id = Some(worker.to_string());
        }
        self.set_lock(id, Some(lock), now);
        Ok(Effects {
            deadlines: vec![lock],
            ..Effects::default()
        })
    }

    /// `POST /external-task/{id}/unlock`.
    pub(crate) fn unlock(&mut self, id: &str) -> Result<Effects, RestError> {
        let Some(task) = self.tasks.get_mut(id) else {
            return Err(RestError::task_not_found(id));
        };
        task.worker_id = None;
        let mut effects = Effects::default();
        if task.retries_left() {
            effects.topics.insert(task.topic.clone());
        }
        self.set_lock(id, None, now_ms());
        Ok(effects)
    }

    /// `PUT /external-task/{id}/retries`.
    pub(crate) fn set_retries(
        &mut self,
        id: &str,
        retries: Option<i64>,
    ) -> Result<Effects, RestError> {
        let Some(retries) = retries else {
            return Err(RestError::invalid_request(
                "The number of retries cannot be null.",
            ));
        };
        if retries < 0 {
            return Err(RestError::bad_user_request(
                "The number of retries cannot be negative: retries is not greater than or equal to 0",
            ));
        }
        let now = now_ms();
        let Some(task) = self.tasks.get_mut(id) else {
            return Err(RestError::task_not_found(id));
        };
        let had_retries = task.retries_left();
        task.retries = Some(retries);
        let message = task.error_message.clone();
        let incident = if !had_retries && retries > 0 {
            task.incident.take()
        } else {
            None
        };
        self.reindex(id, now);
        let mut effects = Effects::default();
        if had_retries && retries == 0 {
            self.create_incident(id, message, now);
        } else if !had_retries && retries > 0 {
            if let Some(incident) = incident {
                self.remove_incident(&incident);
            }
            if let Some(task) = self.tasks.get(id) {
                if task.fetchable(now) {
                    effects.topics.insert(task.topic.clone());
                } else if let Some(l) = task.lock_expiration {
                    effects.deadlines.push(l);
                }
            }
        }
        Ok(effects)
    }

    /// `GET /external-task/{id}/errorDetails`.
    pub(crate) fn task_error_details(&self, id: &str) -> Result<Option<String>, RestError> {
        self.tasks
            .get(id)
            .map(|t| t.error_details.clone())
            .ok_or_else(|| RestError {
                status: 500,
                kind: "NullValueException",
                message: format!("No external task found with id {id}: externalTask is null"),
                code: Some(0),
            })
    }

    /// The number of open external tasks.
    pub(crate) fn open_task_count(&self) -> usize {
        self.tasks.len()
    }
}
