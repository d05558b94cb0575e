//! The task status machine: the one place that says which status changes a task may make.
//!
//! ```text
//!              start                 perform                complete
//!   initial ─────────▶ in_progress ─────────▶ performed ─────────▶ completed
//!      │  ▲                 │                     │
//!      │  └──── reset ──────┤ (any status)        │ the engine no longer knows the task
//!      │                    ▼                     ▼
//!      └────── fail ────▶ failed ◀────────────────┘
//!                 (start again: failed → in_progress)
//! ```
//!
//! The transitions are methods on [`TaskRecord`] (what the runtime, `execute` and the
//! operator commands store, and what [`crate::TaskRun`] holds) and checks on [`TaskStatus`].
//! Each returns the [`Transition`] it made, which puts the one timeline entry for it.

use std::fmt;

use jiff::Timestamp;
use serde_json::json;

use crate::store::TaskRecord;
use crate::timeline::{EventKind, Timeline};
use crate::value::Variables;

/// The status of a task record, as in BPTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskStatus {
    /// Fetched, not yet run.
    Initial,
    /// The unit is running.
    InProgress,
    /// The unit succeeded; the engine has not heard yet.
    Performed,
    /// The unit failed.
    Failed,
    /// The engine accepted the completion.
    Completed,
}

impl TaskStatus {
    /// All statuses in lifecycle order.
    pub const ALL: [TaskStatus; 5] = [
        TaskStatus::Initial,
        TaskStatus::InProgress,
        TaskStatus::Performed,
        TaskStatus::Failed,
        TaskStatus::Completed,
    ];

    /// The status as BPTL spells it: `initial`, `in_progress`, `performed`, `failed`, `completed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            TaskStatus::Initial => "initial",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Performed => "performed",
            TaskStatus::Failed => "failed",
            TaskStatus::Completed => "completed",
        }
    }

    /// Whether the machine allows a task in this status to become `to`.
    ///
    /// ```
    /// use bptl_core::TaskStatus::*;
    /// assert!(Failed.can_become(InProgress));
    /// assert!(!Performed.can_become(InProgress), "a performed task's unit never runs again");
    /// assert!(Completed.can_become(Initial), "an operator may reset any task");
    /// ```
    pub fn can_become(self, to: TaskStatus) -> bool {
        use TaskStatus::*;
        matches!(
            (self, to),
            (Initial | Failed, InProgress)
                | (InProgress, Performed)
                | (Initial | InProgress | Failed | Performed, Failed)
                | (Performed, Completed)
                | (_, Initial)
        )
    }

    /// The statuses in which a record with result variables is never claimed again (its unit
    /// already succeeded): `performed` and `completed`. The SQL stores' claim statement builds
    /// its `status IN (...)` condition from this list.
    pub const RESULT_KEPT: [TaskStatus; 2] = [TaskStatus::Performed, TaskStatus::Completed];

    /// Whether this status is one of [`TaskStatus::RESULT_KEPT`].
    pub fn keeps_result(self) -> bool {
        Self::RESULT_KEPT.contains(&self)
    }

    /// Whether a unit may start for a task in this status (`initial` or `failed`).
    pub fn can_start(self) -> bool {
        self.can_become(TaskStatus::InProgress)
    }

    /// The transition to `to`, if the machine allows it.
    pub fn to(self, to: TaskStatus) -> Result<Transition, StatusError> {
        if self.can_become(to) {
            Ok(Transition { from: self, to })
        } else {
            Err(StatusError { from: self, to })
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TaskStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown task status '{s}': use one of initial, in_progress, performed, failed, completed"
                )
            })
    }
}

/// A status change the machine refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a task that is {from} cannot become {to}")]
pub struct StatusError {
    /// The status the task has.
    pub from: TaskStatus,
    /// The status asked for.
    pub to: TaskStatus,
}

/// One status change that was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a transition is recorded on the task's timeline with `record`"]
pub struct Transition {
    /// The status before.
    pub from: TaskStatus,
    /// The status after.
    pub to: TaskStatus,
}

impl Transition {
    /// Put the change on `timeline`: `from → to`, or `from → to: why`.
    pub fn record(self, timeline: &Timeline, why: Option<&str>) {
        let message = match why {
            Some(why) => format!("{self}: {why}"),
            None => self.to_string(),
        };
        timeline.record(
            EventKind::Status,
            message,
            json!({ "from": self.from.as_str(), "to": self.to.as_str() }),
        );
    }
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} → {}", self.from, self.to)
    }
}

/// The transitions of a stored task. Each checks the machine, changes the status and the
/// fields that go with it (`updated_at` included), and returns the transition made.
impl TaskRecord {
    fn go(&mut self, to: TaskStatus) -> Result<Transition, StatusError> {
        let transition = self.status.to(to)?;
        self.status = to;
        self.updated_at = Timestamp::now();
        Ok(transition)
    }

    /// A unit starts: `initial`/`failed` → `in_progress`; `executions` counts this run.
    pub fn start(&mut self) -> Result<Transition, StatusError> {
        let transition = self.go(TaskStatus::InProgress)?;
        self.executions += 1;
        Ok(transition)
    }

    /// The unit succeeded: `in_progress` → `performed`, its result kept (and stored before the
    /// engine hears, so that it is never run again).
    pub fn perform(&mut self, result: Variables) -> Result<Transition, StatusError> {
        let transition = self.go(TaskStatus::Performed)?;
        self.result_variables = Some(result);
        self.execution_error = None;
        Ok(transition)
    }

    /// The unit failed (or could not run): → `failed` with the error text.
    pub fn fail(&mut self, error: impl Into<String>) -> Result<Transition, StatusError> {
        let transition = self.go(TaskStatus::Failed)?;
        self.execution_error = Some(error.into());
        Ok(transition)
    }

    /// A performed task the engine no longer knows (cancelled, or handled elsewhere): its
    /// result is not delivered, `performed` → `failed` (the error stays in `engine_error`).
    pub fn abandon_result(&mut self) -> Result<Transition, StatusError> {
        self.go(TaskStatus::Failed)
    }

    /// The engine accepted the completion: `performed` → `completed`.
    pub fn complete(&mut self) -> Result<Transition, StatusError> {
        let transition = self.go(TaskStatus::Completed)?;
        self.reported_at = Some(self.updated_at);
        Ok(transition)
    }

    /// Start over (an operator's `--force`): any status → `initial`.
    pub fn reset(&mut self) -> Transition {
        self.go(TaskStatus::Initial).unwrap_or(Transition {
            from: self.status,
            to: TaskStatus::Initial,
        })
    }

    /// The engine accepted a failure or BPMN error report for this task.
    pub fn reported(&mut self) {
        self.reported_at = Some(Timestamp::now());
        self.updated_at = Timestamp::now();
    }
}

/// The claim, [`TaskStore::claim`](crate::store::TaskStore::claim)'s transition: a worker
/// that fetched a task takes its record to `in_progress` unless the unit already succeeded.
///
/// It is a transition of its own, not [`TaskRecord::start`]: a fetched task is claimed from no
/// record at all, and from `in_progress` too (a run abandoned by a worker that died, whose
/// lock expired). Every store makes it in one atomic step, so it is defined here as data (the
/// refusal rule and the record it stores) that the in-memory store applies in Rust and the SQL
/// stores in their single upsert statement (`WHERE NOT (status IN RESULT_KEPT AND
/// result_variables IS NOT NULL)`, `status = 'in_progress'`, `executions + 1`, results
/// cleared): running the machine in Rust inside the SQL stores would need a read, a decision
/// and a write per task, the round trips the one-statement claim exists to avoid.
impl TaskRecord {
    /// Whether a claim leaves this stored record alone: its status is in
    /// [`TaskStatus::RESULT_KEPT`] and it holds result variables.
    pub fn claim_refused(&self) -> bool {
        self.status.keeps_result() && self.result_variables.is_some()
    }

    /// The record a claim stores for the `fetched` record when `previous` (the stored one, if
    /// any) does not refuse it: `in_progress`, `executions` one more than stored (1 for a new
    /// record), `created_at` the stored one, results, error text and `reported_at` cleared.
    pub fn claimed(fetched: &TaskRecord, previous: Option<&TaskRecord>) -> TaskRecord {
        let mut claimed = fetched.clone();
        claimed.status = TaskStatus::InProgress;
        claimed.executions = previous.map_or(0, |p| p.executions) + 1;
        if let Some(prev) = previous {
            claimed.created_at = prev.created_at;
        }
        claimed.result_variables = None;
        claimed.execution_error = None;
        claimed.reported_at = None;
        claimed
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::InMemoryTask;
    use crate::variables;

    #[test]
    fn status_names() {
        for st in TaskStatus::ALL {
            assert_eq!(st.as_str().parse::<TaskStatus>(), Ok(st));
        }
        assert_eq!(TaskStatus::InProgress.to_string(), "in_progress");
    }

    #[test]
    fn a_record_walks_the_machine() {
        let task = InMemoryTask::new("t", variables! {});
        let mut record = TaskRecord::from_task(&task, "w");
        assert_eq!(record.start().unwrap().to_string(), "initial → in_progress");
        assert_eq!(record.executions, 1);
        let err = record.start().unwrap_err();
        assert_eq!(
            err.to_string(),
            "a task that is in_progress cannot become in_progress"
        );
        let _ = record.perform(variables! { "x": 1 }).unwrap();
        assert!(
            record.start().is_err(),
            "a performed task's unit never runs again"
        );
        assert!(
            record.fail("late").is_ok(),
            "a cancelled performed task is failed"
        );
        record.status = TaskStatus::Performed;
        let _ = record.complete().unwrap();
        assert!(record.reported_at.is_some());
        assert!(record.complete().is_err());
        assert_eq!(record.reset().to_string(), "completed → initial");
        let _ = record.start().unwrap();
        let _ = record.fail("boom").unwrap();
        assert_eq!(record.execution_error.as_deref(), Some("boom"));
        assert_eq!(record.start().unwrap().from, TaskStatus::Failed);
        assert_eq!(record.executions, 3);
    }

    #[test]
    fn a_claim_takes_any_record_to_in_progress_unless_its_result_is_kept() {
        let task = InMemoryTask::new("t", variables! {});
        let fetched = TaskRecord::from_task(&task, "w");
        let new = TaskRecord::claimed(&fetched, None);
        assert_eq!((new.status, new.executions), (TaskStatus::InProgress, 1));
        let again = TaskRecord::claimed(&fetched, Some(&new));
        assert_eq!(
            (again.status, again.executions),
            (TaskStatus::InProgress, 2),
            "an abandoned in_progress run is claimed again"
        );
        let mut performed = again.clone();
        let _ = performed.perform(variables! { "x": 1 }).unwrap();
        assert!(performed.claim_refused());
        performed.result_variables = None;
        assert!(!performed.claim_refused(), "no result: the unit runs again");
        let mut failed = again;
        let _ = failed.fail("boom").unwrap();
        assert!(!failed.claim_refused());
        let retried = TaskRecord::claimed(&fetched, Some(&failed));
        assert_eq!(retried.execution_error, None);
        assert_eq!(retried.created_at, failed.created_at);
    }

    #[test]
    fn a_transition_puts_one_status_entry_on_the_timeline() {
        let timeline = Timeline::new();
        let t = TaskStatus::Initial.to(TaskStatus::Failed).unwrap();
        t.record(&timeline, Some("no mapping"));
        let entries = timeline.entries();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].kind, EventKind::Status);
        assert_eq!(entries[0].message, "initial → failed: no mapping");
        assert_eq!(
            entries[0].data,
            json!({ "from": "initial", "to": "failed" })
        );
    }
}
