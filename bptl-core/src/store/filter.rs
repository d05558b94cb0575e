//! [`TaskFilter`]: which records [`TaskStore::list`](super::TaskStore::list) returns.

use jiff::Timestamp;

use super::TaskRecord;
use crate::task::TaskStatus;

/// Which records to list: every field set narrows the selection. Results are newest first
/// (by `created_at`), `offset` records skipped, at most `limit` returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskFilter {
    /// Only this engine type.
    pub engine: Option<String>,
    /// Only these statuses (empty: all).
    pub statuses: Vec<TaskStatus>,
    /// Only this topic.
    pub topic: Option<String>,
    /// Only this process instance.
    pub process_instance_id: Option<String>,
    /// Only this business key.
    pub business_key: Option<String>,
    /// Only records created at or after this instant.
    pub since: Option<Timestamp>,
    /// Skip this many (paging).
    pub offset: usize,
    /// At most this many (`None`: all).
    pub limit: Option<usize>,
}

impl TaskFilter {
    /// Also accept `status`.
    pub fn status(mut self, status: TaskStatus) -> Self {
        self.statuses.push(status);
        self
    }

    /// Only `engine`.
    pub fn engine(mut self, engine: impl Into<String>) -> Self {
        self.engine = Some(engine.into());
        self
    }

    /// Only `topic`.
    pub fn topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }

    /// Only records of process instance `id`.
    pub fn process_instance(mut self, id: impl Into<String>) -> Self {
        self.process_instance_id = Some(id.into());
        self
    }

    /// Only records with business key `key`.
    pub fn business_key(mut self, key: impl Into<String>) -> Self {
        self.business_key = Some(key.into());
        self
    }

    /// Only records created at or after `since`.
    pub fn since(mut self, since: Timestamp) -> Self {
        self.since = Some(since);
        self
    }

    /// One page: skip `offset`, return at most `limit`.
    pub fn page(mut self, offset: usize, limit: usize) -> Self {
        self.offset = offset;
        self.limit = Some(limit);
        self
    }

    /// Whether `record` passes the filter (ignoring paging).
    pub fn matches(&self, record: &TaskRecord) -> bool {
        self.engine.as_ref().is_none_or(|e| *e == record.engine)
            && (self.statuses.is_empty() || self.statuses.contains(&record.status))
            && self.topic.as_ref().is_none_or(|t| *t == record.topic)
            && self
                .process_instance_id
                .as_ref()
                .is_none_or(|p| record.process_instance_id.as_ref() == Some(p))
            && self
                .business_key
                .as_ref()
                .is_none_or(|k| record.business_key.as_ref() == Some(k))
            && self.since.is_none_or(|s| record.created_at >= s)
    }
}
