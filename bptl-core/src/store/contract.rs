//! The [`TaskStore`] contract and the outcome of a [`claim`](TaskStore::claim).

use async_trait::async_trait;
use jiff::Timestamp;

use super::{
    HourlyRow, StatsRow, StoreError, TaskFilter, TaskKey, TaskRecord, hour_of, hourly_rows,
};
use crate::task::TaskStatus;
use crate::timeline::TimelineEntry;

/// The outcome of [`TaskStore::claim`]: whether this worker should run the task's unit.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Run the unit: the stored record is now `in_progress` under the claiming worker, and its
    /// `executions` already counts this run (more than 1: an earlier run was abandoned by a
    /// crash or failed).
    Run {
        /// The record as stored now.
        record: TaskRecord,
        /// The stored record's status before this claim: `None` for a new record (or when a
        /// store shared by several processes could not tell, because another process stored
        /// the record in the same instant); `in_progress` when an earlier run was abandoned,
        /// `failed` when it failed, `initial` after a reset.
        previous: Option<TaskStatus>,
    },
    /// Do not run the unit: it already succeeded (`performed` or `completed` with result
    /// variables). Complete the task with this record's result variables. The stored record is
    /// unchanged.
    Performed(TaskRecord),
}

/// Where task records and their timelines live.
///
/// Implementations must be safe to share between the worker's tasks (`Send + Sync`); every
/// method is one short operation (no transaction spans two calls). Records are keyed by
/// [`TaskKey`] (engine type + task id).
#[async_trait]
pub trait TaskStore: Send + Sync + 'static {
    /// Insert the record, or update the stored record with the same key (the timeline is
    /// kept). `updated_at` is taken from the record as given. An update keeps what identifies
    /// the task and never changes in the engine: the topic, process instance, business key and
    /// `created_at` stay the ones first stored (so the stores need not rewrite their indexes
    /// on them); every other field is replaced.
    ///
    /// A save never replaces a stored record whose `executions` count is higher, unless it
    /// brings a result the stored record lacks: a stale writer (a worker whose lock expired
    /// while another worker claimed the task again) cannot overwrite the newer run's record
    /// with its failure, and a stored result is never lost.
    async fn save(&self, record: &TaskRecord) -> Result<(), StoreError>;

    /// Store `record` only if no record has its key; returns whether this call stored it.
    ///
    /// Task sources without an engine use it to take a key exactly once: a schedule's tick
    /// (`schedule:NAME@TIME`), an HTTP call's idempotency key. Stores shared by several worker
    /// processes must make it atomic (one `INSERT ... ON CONFLICT DO NOTHING`), so that of
    /// several processes inserting the same key exactly one gets `true`. An existing record is
    /// never changed. The default reads, then saves: correct for a store used by one process
    /// at a time only.
    async fn insert_new(&self, record: &TaskRecord) -> Result<bool, StoreError> {
        if self.get(&record.key()).await?.is_some() {
            return Ok(false);
        }
        self.save(record).await?;
        Ok(true)
    }

    /// Whether several worker processes write this store at once (a fleet sharing one
    /// history). The runtime then leaves, at start-up, a task another worker id performed to
    /// that worker while its lock lasts: the worker may be alive and completing it. A store
    /// used by one worker process (the default, `false`) lets a restarted worker deliver every
    /// stored result at once, whatever worker id performed it.
    fn shared_by_processes(&self) -> bool {
        false
    }

    /// Release what the store holds (connections, threads); calls made afterwards fail with
    /// [`StoreError::Closed`]. Every write that returned is already durable: closing loses
    /// nothing, it only lets the database shut down cleanly (SQLite checkpoints its WAL). The
    /// default does nothing.
    async fn close(&self) {}

    /// The record with this key.
    async fn get(&self, key: &TaskKey) -> Result<Option<TaskRecord>, StoreError>;

    /// Records passing the filter, newest first, paged.
    async fn list(&self, filter: &TaskFilter) -> Result<Vec<TaskRecord>, StoreError>;

    /// Append an entry to a record's timeline (an entry for an unknown key may be kept or
    /// dropped; the runtime writes the record first).
    async fn append_timeline(&self, key: &TaskKey, entry: &TimelineEntry)
    -> Result<(), StoreError>;

    /// Append several entries, in order, possibly to different records (entries for unknown
    /// keys may be kept or dropped, as with [`append_timeline`](Self::append_timeline)).
    ///
    /// The worker's timeline writer hands over everything recorded since its last call at once,
    /// so that a store can write them in one statement or transaction (the SQL stores commit them
    /// together with the record writes made at the same moment). The default appends them one by
    /// one.
    async fn append_timelines(
        &self,
        entries: &[(TaskKey, TimelineEntry)],
    ) -> Result<(), StoreError> {
        for (key, entry) in entries {
            self.append_timeline(key, entry).await?;
        }
        Ok(())
    }

    /// A record's timeline, oldest first (empty for an unknown key).
    async fn timeline(&self, key: &TaskKey) -> Result<Vec<TimelineEntry>, StoreError>;

    /// Counts per topic and status of records created at or after `since` (all when `None`),
    /// sorted by topic, then status.
    async fn stats(&self, since: Option<Timestamp>) -> Result<Vec<StatsRow>, StoreError>;

    /// Per hour of `created_at`, from the hour of `since` on: how many of the records fetched
    /// then are now completed, failed with a BPMN error, or failed otherwise; oldest hour
    /// first, hours with none of these left out. The default lists the records (fine for
    /// [`InMemoryStore`]); the SQL stores count in the database.
    async fn hourly(&self, since: Timestamp) -> Result<Vec<HourlyRow>, StoreError> {
        let records = self
            .list(&TaskFilter {
                statuses: vec![TaskStatus::Completed, TaskStatus::Failed],
                since: Some(hour_of(since)),
                ..TaskFilter::default()
            })
            .await?;
        Ok(hourly_rows(&records))
    }

    /// Delete `completed` records (and their timelines) last updated before `before`; returns
    /// how many were deleted.
    async fn prune_completed(&self, before: Timestamp) -> Result<u64, StoreError>;

    /// Delete `failed` records (and their timelines) last updated before `before`; returns how
    /// many were deleted (`store.retention_failed`). A task the engine delivers again after
    /// its record was pruned is claimed as new.
    async fn prune_failed(&self, before: Timestamp) -> Result<u64, StoreError>;

    /// Delete every record of the process instance `process_instance_id`, whatever its status,
    /// and their timelines (erasure of what the store holds about one instance); returns how
    /// many records were deleted. A task of the instance that is still running is stored again
    /// when the worker records its outcome: erase an instance once it has ended.
    async fn erase_process_instance(&self, process_instance_id: &str) -> Result<u64, StoreError>;

    /// Set a record's status (e.g. back to `initial` for `execute --force`), clearing nothing
    /// else; returns whether the record exists.
    async fn reset_status(&self, key: &TaskKey, status: TaskStatus) -> Result<bool, StoreError>;

    /// Decide, in one step, whether the worker that fetched `record`'s task runs its unit: the
    /// claim transition of the [status machine](crate::status) ([`TaskRecord::claim_refused`],
    /// [`TaskRecord::claimed`]).
    ///
    /// * No stored record, or one in `initial`, `in_progress` (abandoned) or `failed`: the
    ///   record is stored as given except that its status becomes `in_progress`, `executions`
    ///   is the stored count plus one (1 for a new record), `created_at` stays the stored one,
    ///   and `result_variables`, `execution_error` and `reported_at` are cleared; returns
    ///   [`Claim::Run`] with the stored record and the status it had before.
    /// * A stored record `performed` or `completed` with result variables: nothing changes;
    ///   returns [`Claim::Performed`] with it.
    ///
    /// Stores shared by several worker processes must make this atomic (one statement or one
    /// transaction), so that of two workers racing for the same task at most one runs a unit
    /// whose result is already stored. The default implementation reads, then saves: it is
    /// correct for a store used by one process at a time only.
    async fn claim(&self, record: &TaskRecord) -> Result<Claim, StoreError> {
        let previous = self.get(&record.key()).await?;
        if let Some(prev) = previous.as_ref().filter(|p| p.claim_refused()) {
            return Ok(Claim::Performed(prev.clone()));
        }
        let claimed = TaskRecord::claimed(record, previous.as_ref());
        self.save(&claimed).await?;
        Ok(Claim::Run {
            record: claimed,
            previous: previous.map(|p| p.status),
        })
    }
}
