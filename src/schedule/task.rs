//! [`ScheduleTask`]: one tick of a schedule, as the runtime receives it.

use std::any::Any;

use jiff::Timestamp;

use bptl_core::{BaseTask, UnitError, Variables};

use super::engine::ENGINE_TYPE;

/// One tick's task: id `NAME@TIME`, the schedule's topic and variables, business key `NAME`.
#[derive(Debug, Clone)]
pub struct ScheduleTask {
    pub(super) id: String,
    pub(super) schedule: String,
    pub(super) tick: Timestamp,
    pub(super) topic: String,
    pub(super) variables: Variables,
    pub(super) retries: Option<i32>,
    pub(super) lock_expires_at: Option<Timestamp>,
}

impl ScheduleTask {
    /// The schedule's name.
    pub fn schedule(&self) -> &str {
        &self.schedule
    }

    /// The instant the tick was due.
    pub fn tick(&self) -> Timestamp {
        self.tick
    }
}

impl BaseTask for ScheduleTask {
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
        ENGINE_TYPE
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn business_key(&self) -> Option<&str> {
        Some(&self.schedule)
    }
    fn lock_expires_at(&self) -> Option<Timestamp> {
        self.lock_expires_at
    }
    fn retries(&self) -> Option<i32> {
        self.retries
    }
    fn raw_variables(&self) -> serde_json::Value {
        bptl_core::store::encode_variables(&self.variables)
    }
}
