//! Records and timeline entries as columns to bind, and columns read back as records.

use bptl_core::TaskStatus;
use bptl_core::store::{StoreError, TaskRecord, decode_variables, encode_variables};
use jiff::Timestamp;

/// A claim waiting to be written: the fresh record (`in_progress`, executions 1) and its
/// columns.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRow {
    pub columns: Columns,
    pub record: TaskRecord,
}

/// What a claim found stored (SQLite reads it before its upsert).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Previous {
    pub status: TaskStatus,
    pub executions: u32,
    pub created_at: Timestamp,
    pub performed: bool,
}

/// One timeline entry's columns, ready to bind.
#[derive(Debug, Clone)]
pub(crate) struct TimelineRow {
    pub engine: String,
    pub task_id: String,
    pub at: i64,
    pub kind: &'static str,
    pub message: String,
    pub data: String,
}

impl TimelineRow {
    /// The columns of `entry` on `key`'s timeline.
    pub(crate) fn new(
        key: &bptl_core::store::TaskKey,
        entry: &bptl_core::TimelineEntry,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            engine: key.engine.clone(),
            task_id: key.task_id.clone(),
            at: to_nanos(entry.at)?,
            kind: entry.kind.as_str(),
            message: entry.message.clone(),
            data: entry.data.to_string(),
        })
    }
}

/// Runs a store's batches (see [`crate::group`]) on its writer pool; `name` is the store's
/// redacted URL, for errors.
pub(crate) struct PoolDb<DB: sqlx::Database> {
    pub pool: sqlx::Pool<DB>,
    pub name: std::sync::Arc<str>,
}

/// Nanoseconds since the epoch, as stored.
pub(crate) fn to_nanos(at: Timestamp) -> Result<i64, StoreError> {
    i64::try_from(at.as_nanosecond())
        .map_err(|_| StoreError::other(format!("the instant {at} is outside the storable range")))
}

/// An instant read back from nanoseconds.
pub(crate) fn from_nanos(nanos: i64, column: &str) -> Result<Timestamp, StoreError> {
    Timestamp::from_nanosecond(i128::from(nanos))
        .map_err(|e| StoreError::corrupt(format!("stored {column} {nanos} is not an instant: {e}")))
}

/// A status read back.
pub(crate) fn parse_status(text: &str) -> Result<TaskStatus, StoreError> {
    text.parse::<TaskStatus>()
        .map_err(|e| StoreError::corrupt(format!("stored status: {e}")))
}

/// JSON text read back.
pub(crate) fn parse_json(text: &str, column: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::corrupt(format!("stored {column} is not JSON: {e}")))
}

/// The columns of one record: as bound to statements, in [`COLUMNS`] order, and as read back.
#[derive(Debug, Clone)]
pub(crate) struct Columns {
    pub engine: String,
    pub task_id: String,
    pub topic: String,
    pub worker_id: String,
    pub process_instance_id: Option<String>,
    pub business_key: Option<String>,
    pub priority: i64,
    pub retries: Option<i32>,
    pub lock_expires_at: Option<i64>,
    pub variables: String,
    /// Borrowed when the columns come from a record (no allocation), owned when read back.
    pub status: std::borrow::Cow<'static, str>,
    pub result_variables: Option<String>,
    pub execution_error: Option<String>,
    pub engine_error: Option<String>,
    pub executions: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub reported_at: Option<i64>,
}

impl Columns {
    /// The columns of `record`, ready to bind in [`COLUMNS`] order.
    pub(crate) fn new(record: &TaskRecord) -> Result<Self, StoreError> {
        Ok(Self {
            engine: record.engine.clone(),
            task_id: record.task_id.clone(),
            topic: record.topic.clone(),
            worker_id: record.worker_id.clone(),
            process_instance_id: record.process_instance_id.clone(),
            business_key: record.business_key.clone(),
            priority: record.priority,
            retries: record.retries,
            lock_expires_at: record.lock_expires_at.map(to_nanos).transpose()?,
            variables: record.variables.to_string(),
            status: std::borrow::Cow::Borrowed(record.status.as_str()),
            result_variables: record
                .result_variables
                .as_ref()
                .map(|v| encode_variables(v).to_string()),
            execution_error: record.execution_error.clone(),
            engine_error: record.engine_error.clone(),
            executions: i64::from(record.executions),
            created_at: to_nanos(record.created_at)?,
            updated_at: to_nanos(record.updated_at)?,
            reported_at: record.reported_at.map(to_nanos).transpose()?,
        })
    }

    /// The record these columns hold.
    pub(crate) fn into_record(self) -> Result<TaskRecord, StoreError> {
        Ok(TaskRecord {
            engine: self.engine,
            task_id: self.task_id,
            topic: self.topic,
            worker_id: self.worker_id,
            process_instance_id: self.process_instance_id,
            business_key: self.business_key,
            priority: self.priority,
            retries: self.retries,
            lock_expires_at: self
                .lock_expires_at
                .map(|n| from_nanos(n, "lock_expires_at"))
                .transpose()?,
            variables: parse_json(&self.variables, "variables")?,
            status: parse_status(&self.status)?,
            result_variables: self
                .result_variables
                .map(|text| decode_variables(&parse_json(&text, "result_variables")?))
                .transpose()?,
            execution_error: self.execution_error,
            engine_error: self.engine_error,
            executions: u32::try_from(self.executions.max(0)).unwrap_or(u32::MAX),
            created_at: from_nanos(self.created_at, "created_at")?,
            updated_at: from_nanos(self.updated_at, "updated_at")?,
            reported_at: self
                .reported_at
                .map(|n| from_nanos(n, "reported_at"))
                .transpose()?,
        })
    }
}
