//! What identifies a task record, and what the worker knows about one task.

use jiff::Timestamp;

use crate::task::{BaseTask, TaskStatus};
use crate::value::Variables;

/// What identifies a task record: the engine type and the task's id in that engine.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskKey {
    /// The engine type (`camunda`, `memory`, ...).
    pub engine: String,
    /// The task's id in the engine (Camunda: the external task id).
    pub task_id: String,
}

impl TaskKey {
    /// The key of task `task_id` of engine type `engine`.
    pub fn new(engine: impl Into<String>, task_id: impl Into<String>) -> Self {
        Self {
            engine: engine.into(),
            task_id: task_id.into(),
        }
    }
}

impl std::fmt::Display for TaskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.engine, self.task_id)
    }
}

/// Everything the worker knows about one task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRecord {
    /// The engine type the task came from.
    pub engine: String,
    /// The task's id in the engine.
    pub task_id: String,
    /// The topic.
    pub topic: String,
    /// The worker id that holds (or last held) the lock: completions after a restart are sent
    /// under this id.
    pub worker_id: String,
    /// The process instance, if any.
    pub process_instance_id: Option<String>,
    /// The business key, if any.
    pub business_key: Option<String>,
    /// The task's priority.
    pub priority: i64,
    /// The engine's retries: as the task was fetched, and after a failure was reported the
    /// retries the report left (`Some(0)`: none, an incident). `None`: never failed.
    pub retries: Option<i32>,
    /// When the lock expires (updated on every lock extension).
    pub lock_expires_at: Option<Timestamp>,
    /// The variables exactly as the engine delivered them.
    pub variables: serde_json::Value,
    /// The status.
    pub status: TaskStatus,
    /// What the unit returned, once performed.
    pub result_variables: Option<Variables>,
    /// The unit's error (its chain), once failed.
    pub execution_error: Option<String>,
    /// The last error the engine answered with (message and body), if any.
    pub engine_error: Option<String>,
    /// How many times the unit was started for this task (more than 1 only after a crash).
    pub executions: u32,
    /// When the record was first written.
    pub created_at: Timestamp,
    /// When the record last changed.
    pub updated_at: Timestamp,
    /// When the engine accepted the outcome (completion, failure or BPMN error).
    pub reported_at: Option<Timestamp>,
}

impl TaskRecord {
    /// A fresh `initial` record of a fetched task, locked by `worker_id`.
    pub fn from_task(task: &dyn BaseTask, worker_id: &str) -> Self {
        let now = Timestamp::now();
        Self {
            engine: task.engine_type().to_owned(),
            task_id: task.task_id().to_owned(),
            topic: task.topic_name().to_owned(),
            worker_id: task.worker_id().unwrap_or(worker_id).to_owned(),
            process_instance_id: task.process_instance_id().map(str::to_owned),
            business_key: task.business_key().map(str::to_owned),
            priority: task.priority(),
            retries: task.retries(),
            lock_expires_at: task.lock_expires_at(),
            variables: task.raw_variables(),
            status: TaskStatus::Initial,
            result_variables: None,
            execution_error: None,
            engine_error: None,
            executions: 0,
            created_at: now,
            updated_at: now,
            reported_at: None,
        }
    }

    /// The record's key.
    pub fn key(&self) -> TaskKey {
        TaskKey::new(&self.engine, &self.task_id)
    }
}
