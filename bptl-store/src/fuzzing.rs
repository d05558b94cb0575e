//! Record decoding as the stores run it, for the fuzz targets in `fuzz/` (feature `fuzzing`;
//! not part of the API).

use bptl_core::store::{StoreError, TaskRecord};

use crate::sql::Columns;

/// The columns of a `bptl_tasks` row that a read decodes (the others are plain text).
#[derive(Debug, Clone, Copy)]
pub struct StoredColumns<'a> {
    /// `status`.
    pub status: &'a str,
    /// `variables`: JSON text.
    pub variables: &'a str,
    /// `result_variables`: the JSON text `encode_variables` wrote, or NULL.
    pub result_variables: Option<&'a str>,
    /// `executions`.
    pub executions: i64,
    /// `created_at`, nanoseconds since the epoch.
    pub created_at: i64,
    /// `updated_at`, nanoseconds since the epoch.
    pub updated_at: i64,
    /// `lock_expires_at`, nanoseconds since the epoch, or NULL.
    pub lock_expires_at: Option<i64>,
    /// `reported_at`, nanoseconds since the epoch, or NULL.
    pub reported_at: Option<i64>,
}

/// The record a store reads from `row`, and that record written to columns as a store writes
/// it and read back.
pub fn read_record(row: StoredColumns<'_>) -> Result<(TaskRecord, TaskRecord), StoreError> {
    let columns = Columns {
        engine: "camunda".into(),
        task_id: "task".into(),
        topic: "topic".into(),
        worker_id: "worker".into(),
        process_instance_id: None,
        business_key: None,
        priority: 0,
        retries: None,
        lock_expires_at: row.lock_expires_at,
        variables: row.variables.to_owned(),
        status: row.status.to_owned().into(),
        result_variables: row.result_variables.map(str::to_owned),
        execution_error: None,
        engine_error: None,
        executions: row.executions,
        created_at: row.created_at,
        updated_at: row.updated_at,
        reported_at: row.reported_at,
    };
    let record = columns.into_record()?;
    let again = Columns::new(&record)?.into_record()?;
    Ok((record, again))
}
