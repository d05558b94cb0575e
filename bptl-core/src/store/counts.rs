//! Counts of records: per topic and status ([`StatsRow`]) and per hour ([`HourlyRow`]).

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::TaskRecord;
use crate::task::TaskStatus;

/// The number of records of one topic in one status.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatsRow {
    /// The topic.
    pub topic: String,
    /// The status.
    pub status: TaskStatus,
    /// How many records.
    pub count: u64,
}

/// The outcomes of the records fetched in one hour ([`TaskStore::hourly`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HourlyRow {
    /// The start of the hour (UTC, a whole hour).
    pub hour: Timestamp,
    /// Records now `completed`.
    pub completed: u64,
    /// Records `failed` with a BPMN error (their execution error starts with `BPMN error `).
    pub bpmn_errors: u64,
    /// Records `failed` otherwise.
    pub failed: u64,
}

/// The nanoseconds in an hour, for [`hour_of`].
pub const HOUR_NANOS: i64 = 3_600_000_000_000;

/// The start of the (UTC) hour `at` falls in.
pub fn hour_of(at: Timestamp) -> Timestamp {
    let hour = i128::from(HOUR_NANOS);
    Timestamp::from_nanosecond(at.as_nanosecond().div_euclid(hour) * hour).unwrap_or(at)
}

/// Whether a failed record's execution error is a BPMN error (how the runtime writes it).
pub fn is_bpmn_error(execution_error: Option<&str>) -> bool {
    execution_error.is_some_and(|e| e.starts_with("BPMN error "))
}

/// What a record counts as in its hour's [`HourlyRow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HourlyOutcome {
    /// `completed`.
    Completed,
    /// `failed` with a BPMN error ([`is_bpmn_error`]).
    BpmnError,
    /// `failed` otherwise.
    Failed,
}

impl HourlyOutcome {
    /// What a record in `status` with `execution_error` counts as (`None`: neither completed
    /// nor failed, not counted).
    pub fn of(status: TaskStatus, execution_error: Option<&str>) -> Option<Self> {
        match status {
            TaskStatus::Completed => Some(Self::Completed),
            TaskStatus::Failed if is_bpmn_error(execution_error) => Some(Self::BpmnError),
            TaskStatus::Failed => Some(Self::Failed),
            _ => None,
        }
    }
}

/// Sum `counts` (an instant in the hour, the outcome, how many records) into [`HourlyRow`]s,
/// oldest hour first; hours without counts are left out. Every store's
/// [`hourly`](super::TaskStore::hourly) ends here.
///
/// ```
/// use bptl_core::store::{hour_of, sum_hourly, HourlyOutcome};
/// let now = jiff::Timestamp::now();
/// let rows = sum_hourly([(now, HourlyOutcome::Completed, 2), (now, HourlyOutcome::BpmnError, 1)]);
/// assert_eq!((rows.len(), rows[0].hour, rows[0].completed, rows[0].bpmn_errors), (1, hour_of(now), 2, 1));
/// ```
pub fn sum_hourly(
    counts: impl IntoIterator<Item = (Timestamp, HourlyOutcome, u64)>,
) -> Vec<HourlyRow> {
    let mut hours: BTreeMap<Timestamp, HourlyRow> = BTreeMap::new();
    for (at, outcome, n) in counts {
        let hour = hour_of(at);
        let row = hours.entry(hour).or_insert(HourlyRow {
            hour,
            completed: 0,
            bpmn_errors: 0,
            failed: 0,
        });
        match outcome {
            HourlyOutcome::Completed => row.completed += n,
            HourlyOutcome::BpmnError => row.bpmn_errors += n,
            HourlyOutcome::Failed => row.failed += n,
        }
    }
    hours.into_values().collect()
}

/// Count `records` per hour of `created_at` into [`HourlyRow`]s ([`sum_hourly`]).
pub fn hourly_rows<'a>(records: impl IntoIterator<Item = &'a TaskRecord>) -> Vec<HourlyRow> {
    sum_hourly(records.into_iter().filter_map(|r| {
        HourlyOutcome::of(r.status, r.execution_error.as_deref()).map(|o| (r.created_at, o, 1))
    }))
}
