//! [`InMemoryTask`]: a task without an engine.

use std::any::Any;
use std::sync::Arc;

use jiff::Timestamp;

use super::{BaseTask, TaskRef};
use crate::error::UnitError;
use crate::value::Variables;

/// A plain in-memory task, for tests and task sources without an engine.
///
/// ```
/// use bptl_core::{BaseTask, InMemoryTask, variables};
/// let task = InMemoryTask::new("double", variables! { "amount": 21 });
/// assert_eq!(task.topic_name(), "double");
/// assert_eq!(task.get_variables().unwrap().len(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct InMemoryTask {
    /// The task id (a random one by default).
    pub id: String,
    /// The topic.
    pub topic: String,
    /// The variables.
    pub variables: Variables,
    /// The process instance, if any.
    pub process_instance_id: Option<String>,
    /// The lock expiry, if any.
    pub lock_expires_at: Option<Timestamp>,
    /// The retries left, if known.
    pub retries: Option<i32>,
}

impl InMemoryTask {
    /// A task on `topic` with `variables` and a fresh random id.
    pub fn new(topic: impl Into<String>, variables: Variables) -> Self {
        Self {
            id: format!("memory-{:016x}", rand::random::<u64>()),
            topic: topic.into(),
            variables,
            process_instance_id: None,
            lock_expires_at: None,
            retries: None,
        }
    }

    /// Set the lock expiry.
    pub fn with_lock_expiry(mut self, at: Timestamp) -> Self {
        self.lock_expires_at = Some(at);
        self
    }

    /// Set the id.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Share it as a [`TaskRef`].
    pub fn into_ref(self) -> TaskRef {
        Arc::new(self)
    }
}

impl BaseTask for InMemoryTask {
    fn task_id(&self) -> &str {
        &self.id
    }
    fn topic_name(&self) -> &str {
        &self.topic
    }
    fn get_variables(&self) -> Result<Variables, UnitError> {
        Ok(self.variables.clone())
    }
    fn engine_type(&self) -> &str {
        "memory"
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn process_instance_id(&self) -> Option<&str> {
        self.process_instance_id.as_deref()
    }
    fn lock_expires_at(&self) -> Option<Timestamp> {
        self.lock_expires_at
    }
    fn retries(&self) -> Option<i32> {
        self.retries
    }
}
