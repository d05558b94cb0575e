//! Task records: what the worker writes down about every task it fetches, and the
//! [`TaskStore`] trait stores implement.
//!
//! The worker runtime [claims](TaskStore::claim) a task's record **before** its unit runs (one
//! atomic write: the record is stored `in_progress`, or found `performed`), keeps the status,
//! result variables, errors and timeline up to date, and consults the record when a task comes
//! back:
//!
//! * a task fetched again whose record is `performed` is completed from the stored result
//!   without running the unit again (exactly-once completion);
//! * at start-up, records that are `performed` but not `completed` are completed with their
//!   stored result under the worker id that fetched them. In a store shared by several
//!   worker processes ([`TaskStore::shared_by_processes`]) only this worker's own records and
//!   those whose lock expired: another worker's task with a live lock is left to it;
//! * records left `in_progress` by a crash (lock expired, nobody heartbeating) are marked
//!   abandoned on their timeline and run again when the engine hands the task out again. This
//!   is the only case in which a unit runs twice; the record's `executions` count shows it.
//!
//! [`InMemoryStore`] is the default. Persistent stores (SQLite, PostgreSQL) implement the same
//! trait in their own crate; [`encode_variables`] / [`decode_variables`] give them a lossless
//! JSON form of [`Variables`] to put in a column.
//!
//! ```
//! use bptl_core::store::{InMemoryStore, TaskFilter, TaskKey, TaskRecord, TaskStore};
//! use bptl_core::{variables, InMemoryTask, TaskStatus};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let store = InMemoryStore::new();
//! let task = InMemoryTask::new("double", variables! { "amount": 21 }).into_ref();
//! let mut record = TaskRecord::from_task(&*task, "worker-1");
//! store.save(&record).await.unwrap();
//!
//! record.status = TaskStatus::Performed;
//! record.result_variables = Some(variables! { "doubled": 42 });
//! store.save(&record).await.unwrap();
//!
//! let stored = store.get(&record.key()).await.unwrap().unwrap();
//! assert_eq!(stored.status, TaskStatus::Performed);
//! let performed = store.list(&TaskFilter::default().status(TaskStatus::Performed)).await.unwrap();
//! assert_eq!(performed.len(), 1);
//! # }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use jiff::Timestamp;

use crate::task::{BaseTask, TaskStatus};
use crate::timeline::TimelineEntry;
use crate::value::{DateValue, FileValue, ObjectData, ObjectValue, Value, Variables};

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
    /// The engine's retries when the task was fetched (`None`: never failed).
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

/// Count `records` per hour of `created_at` into [`HourlyRow`]s, oldest hour first, leaving
/// out hours without a completed or failed record.
pub fn hourly_rows<'a>(records: impl IntoIterator<Item = &'a TaskRecord>) -> Vec<HourlyRow> {
    let mut hours: BTreeMap<Timestamp, HourlyRow> = BTreeMap::new();
    for r in records {
        let counter = |row: &mut HourlyRow| match r.status {
            TaskStatus::Completed => row.completed += 1,
            TaskStatus::Failed if is_bpmn_error(r.execution_error.as_deref()) => {
                row.bpmn_errors += 1;
            }
            TaskStatus::Failed => row.failed += 1,
            _ => {}
        };
        if matches!(r.status, TaskStatus::Completed | TaskStatus::Failed) {
            let hour = hour_of(r.created_at);
            counter(hours.entry(hour).or_insert(HourlyRow {
                hour,
                completed: 0,
                bpmn_errors: 0,
                failed: 0,
            }));
        }
    }
    hours.into_values().collect()
}

/// A store failed: what kind of failure (what the caller can do about it), in which store, and
/// what to check.
///
/// The message names the store (its URL with the password replaced by `***`, set by the store
/// that failed) and the operation, and ends with what to check. The kinds are the ones the
/// runtime acts on: [`Unavailable`](Self::Unavailable) and [`Conflict`](Self::Conflict) are
/// worth retrying ([`is_transient`](Self::is_transient)); the others are not.
///
/// ```
/// use bptl_core::store::StoreError;
/// let err = StoreError::full("saving a task record: database or disk is full")
///     .in_store("sqlite:///var/lib/bptl/bptl.db");
/// let text = err.to_string();
/// assert!(text.starts_with("task store 'sqlite:///var/lib/bptl/bptl.db' is full"), "{text}");
/// assert!(text.contains("free disk space"), "{text}");
/// assert!(!err.is_transient());
/// assert!(StoreError::unavailable("connection refused").is_transient());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot be reached or is busy (server down, connection lost, a lock held too
    /// long by another process): the same call may succeed later.
    Unavailable {
        /// The store (URL, password redacted); empty until the store names itself.
        store: String,
        /// What failed, naming the operation.
        message: String,
    },
    /// The store was closed ([`TaskStore::close`]): calls made afterwards fail.
    Closed {
        /// The store (URL, password redacted).
        store: String,
        /// What was attempted.
        message: String,
    },
    /// The store refuses writes because it is full (disk, quota); nothing written before is
    /// lost, and reads still work.
    Full {
        /// The store (URL, password redacted).
        store: String,
        /// What failed, naming the operation.
        message: String,
    },
    /// A concurrent write got in the way (a deadlock or serialization failure between
    /// processes sharing the store): the same call may succeed when retried.
    Conflict {
        /// The store (URL, password redacted).
        store: String,
        /// What failed, naming the operation.
        message: String,
    },
    /// Stored data cannot be read back (not what this version of bptl writes, or damaged).
    Corrupt {
        /// The store (URL, password redacted).
        store: String,
        /// What could not be read.
        message: String,
    },
    /// Anything else (a bug, a schema changed by hand, a permission).
    Other {
        /// The store (URL, password redacted).
        store: String,
        /// What failed, naming the operation.
        message: String,
    },
}

impl StoreError {
    /// [`StoreError::Unavailable`] with this message.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable {
            store: String::new(),
            message: message.into(),
        }
    }

    /// [`StoreError::Closed`] with this message.
    pub fn closed(message: impl Into<String>) -> Self {
        Self::Closed {
            store: String::new(),
            message: message.into(),
        }
    }

    /// [`StoreError::Full`] with this message.
    pub fn full(message: impl Into<String>) -> Self {
        Self::Full {
            store: String::new(),
            message: message.into(),
        }
    }

    /// [`StoreError::Conflict`] with this message.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            store: String::new(),
            message: message.into(),
        }
    }

    /// [`StoreError::Corrupt`] with this message.
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::Corrupt {
            store: String::new(),
            message: message.into(),
        }
    }

    /// [`StoreError::Other`] with this message.
    pub fn other(message: impl Into<String>) -> Self {
        Self::Other {
            store: String::new(),
            message: message.into(),
        }
    }

    /// The same error naming `store` (a URL with its password redacted), unless it names one
    /// already.
    pub fn in_store(mut self, name: &str) -> Self {
        let (store, _) = self.parts_mut();
        if store.is_empty() {
            name.clone_into(store);
        }
        self
    }

    /// The store the error names (empty if none).
    pub fn store(&self) -> &str {
        self.parts().0
    }

    /// What failed, without the store's name and the hint.
    pub fn message(&self) -> &str {
        self.parts().1
    }

    /// Whether the same call may succeed later ([`Unavailable`](Self::Unavailable),
    /// [`Conflict`](Self::Conflict)).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::Conflict { .. })
    }

    fn parts(&self) -> (&str, &str) {
        match self {
            Self::Unavailable { store, message }
            | Self::Closed { store, message }
            | Self::Full { store, message }
            | Self::Conflict { store, message }
            | Self::Corrupt { store, message }
            | Self::Other { store, message } => (store, message),
        }
    }

    fn parts_mut(&mut self) -> (&mut String, &mut String) {
        match self {
            Self::Unavailable { store, message }
            | Self::Closed { store, message }
            | Self::Full { store, message }
            | Self::Conflict { store, message }
            | Self::Corrupt { store, message }
            | Self::Other { store, message } => (store, message),
        }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (store, message) = self.parts();
        if store.is_empty() {
            f.write_str("task store")?;
        } else {
            write!(f, "task store '{store}'")?;
        }
        match self {
            Self::Unavailable { .. } => write!(
                f,
                " is unavailable: {message}; check that the database is reachable and not locked by another program (the call may succeed when retried)"
            ),
            Self::Closed { .. } => write!(
                f,
                " is closed: {message}; the store was closed by its owner (a worker that stopped): open it again"
            ),
            Self::Full { .. } => write!(
                f,
                " is full: {message}; free disk space or raise the database's quota (nothing written before was lost)"
            ),
            Self::Conflict { .. } => write!(
                f,
                ": a concurrent write got in the way: {message}; retry (several processes wrote the same records at once)"
            ),
            Self::Corrupt { .. } => write!(
                f,
                " holds data this worker cannot read: {message}; check that only bptl writes its tables and that the database is intact (SQLite: PRAGMA integrity_check)"
            ),
            Self::Other { .. } => write!(f, ": {message}"),
        }
    }
}

impl std::error::Error for StoreError {}

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
    /// Insert the record, or replace the stored record with the same key (the timeline is
    /// kept). `updated_at` is taken from the record as given.
    ///
    /// A save never replaces a stored record whose `executions` count is higher, unless it
    /// brings a result the stored record lacks: a stale writer (a worker whose lock expired
    /// while another worker claimed the task again) cannot overwrite the newer run's record
    /// with its failure, and a stored result is never lost.
    async fn save(&self, record: &TaskRecord) -> Result<(), StoreError>;

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

    /// Set a record's status (e.g. back to `initial` for `execute --force`), clearing nothing
    /// else; returns whether the record exists.
    async fn reset_status(&self, key: &TaskKey, status: TaskStatus) -> Result<bool, StoreError>;

    /// Decide, in one step, whether the worker that fetched `record`'s task runs its unit.
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
        if let Some(prev) = previous.as_ref().filter(|p| claim_is_performed(p)) {
            return Ok(Claim::Performed(prev.clone()));
        }
        let claimed = claimed_record(record, previous.as_ref());
        self.save(&claimed).await?;
        Ok(Claim::Run {
            record: claimed,
            previous: previous.map(|p| p.status),
        })
    }
}

/// Whether a stored record means "the unit already succeeded" for [`TaskStore::claim`].
fn claim_is_performed(record: &TaskRecord) -> bool {
    matches!(record.status, TaskStatus::Performed | TaskStatus::Completed)
        && record.result_variables.is_some()
}

/// The record [`TaskStore::claim`] stores when the unit is to run.
fn claimed_record(record: &TaskRecord, previous: Option<&TaskRecord>) -> TaskRecord {
    let mut claimed = record.clone();
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

/// A [`TaskStore`] in memory: the default, and for tests.
///
/// Bounded by default to [`InMemoryStore::DEFAULT_CAPACITY`] records: when full, the oldest
/// records that are done (`completed`, or `failed` and reported) are dropped first, a tenth of
/// the capacity at a time, so a long-running worker does not grow without limit.
#[derive(Debug)]
pub struct InMemoryStore {
    inner: Mutex<Inner>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Inner {
    records: HashMap<TaskKey, Stored>,
    next_seq: u64,
}

#[derive(Debug)]
struct Stored {
    seq: u64,
    record: TaskRecord,
    timeline: Vec<TimelineEntry>,
}

impl Default for InMemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryStore {
    /// The default number of records kept.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// An empty store keeping at most [`Self::DEFAULT_CAPACITY`] records.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// An empty store keeping at most `capacity` records (records not yet done are never
    /// dropped, so it may hold more while many tasks are in flight).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
        }
    }

    /// The number of records held.
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether the store holds no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every critical section leaves the maps consistent, even if a panic interrupts it.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn evict(&self, inner: &mut Inner) {
        if inner.records.len() <= self.capacity {
            return;
        }
        // Drop a tenth of the capacity more than needed, so that the scan below runs once per
        // that many saves instead of on every save once the store is full.
        let excess = inner.records.len() - self.capacity + self.capacity / 10;
        let mut done: Vec<(u64, TaskKey)> = inner
            .records
            .iter()
            .filter(|(_, s)| {
                s.record.status == TaskStatus::Completed
                    || (s.record.status == TaskStatus::Failed && s.record.reported_at.is_some())
            })
            .map(|(k, s)| (s.seq, k.clone()))
            .collect();
        done.sort_unstable();
        for (_, key) in done.into_iter().take(excess) {
            inner.records.remove(&key);
        }
    }
}

/// Whether a save of `new` may replace `stored` (see [`TaskStore::save`]).
pub fn supersedes(new: &TaskRecord, stored: &TaskRecord) -> bool {
    new.executions >= stored.executions
        || (stored.result_variables.is_none() && new.result_variables.is_some())
}

#[async_trait]
impl TaskStore for InMemoryStore {
    async fn save(&self, record: &TaskRecord) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let key = record.key();
        if let Some(stored) = inner.records.get_mut(&key) {
            if supersedes(record, &stored.record) {
                stored.record = record.clone();
            }
            return Ok(());
        }
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.records.insert(
            key,
            Stored {
                seq,
                record: record.clone(),
                timeline: Vec::new(),
            },
        );
        self.evict(&mut inner);
        Ok(())
    }

    async fn get(&self, key: &TaskKey) -> Result<Option<TaskRecord>, StoreError> {
        Ok(self.lock().records.get(key).map(|s| s.record.clone()))
    }

    async fn list(&self, filter: &TaskFilter) -> Result<Vec<TaskRecord>, StoreError> {
        let inner = self.lock();
        let mut hits: Vec<&Stored> = inner
            .records
            .values()
            .filter(|s| filter.matches(&s.record))
            .collect();
        hits.sort_unstable_by(|a, b| {
            b.record
                .created_at
                .cmp(&a.record.created_at)
                .then(b.seq.cmp(&a.seq))
        });
        Ok(hits
            .into_iter()
            .skip(filter.offset)
            .take(filter.limit.unwrap_or(usize::MAX))
            .map(|s| s.record.clone())
            .collect())
    }

    async fn append_timeline(
        &self,
        key: &TaskKey,
        entry: &TimelineEntry,
    ) -> Result<(), StoreError> {
        if let Some(stored) = self.lock().records.get_mut(key) {
            stored.timeline.push(entry.clone());
        }
        Ok(())
    }

    async fn append_timelines(
        &self,
        entries: &[(TaskKey, TimelineEntry)],
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        for (key, entry) in entries {
            if let Some(stored) = inner.records.get_mut(key) {
                stored.timeline.push(entry.clone());
            }
        }
        Ok(())
    }

    async fn timeline(&self, key: &TaskKey) -> Result<Vec<TimelineEntry>, StoreError> {
        Ok(self
            .lock()
            .records
            .get(key)
            .map(|s| s.timeline.clone())
            .unwrap_or_default())
    }

    async fn stats(&self, since: Option<Timestamp>) -> Result<Vec<StatsRow>, StoreError> {
        let inner = self.lock();
        let mut counts: BTreeMap<(String, TaskStatus), u64> = BTreeMap::new();
        for s in inner.records.values() {
            if since.is_none_or(|since| s.record.created_at >= since) {
                *counts
                    .entry((s.record.topic.clone(), s.record.status))
                    .or_default() += 1;
            }
        }
        Ok(counts
            .into_iter()
            .map(|((topic, status), count)| StatsRow {
                topic,
                status,
                count,
            })
            .collect())
    }

    async fn prune_completed(&self, before: Timestamp) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let before_len = inner.records.len();
        inner.records.retain(|_, s| {
            !(s.record.status == TaskStatus::Completed && s.record.updated_at < before)
        });
        Ok((before_len - inner.records.len()) as u64)
    }

    async fn claim(&self, record: &TaskRecord) -> Result<Claim, StoreError> {
        // Atomic: the whole decision happens under the lock.
        let mut inner = self.lock();
        let key = record.key();
        if let Some(stored) = inner.records.get_mut(&key) {
            if claim_is_performed(&stored.record) {
                return Ok(Claim::Performed(stored.record.clone()));
            }
            let previous = stored.record.status;
            stored.record = claimed_record(record, Some(&stored.record));
            return Ok(Claim::Run {
                record: stored.record.clone(),
                previous: Some(previous),
            });
        }
        let claimed = claimed_record(record, None);
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.records.insert(
            key,
            Stored {
                seq,
                record: claimed.clone(),
                timeline: Vec::new(),
            },
        );
        self.evict(&mut inner);
        Ok(Claim::Run {
            record: claimed,
            previous: None,
        })
    }

    async fn reset_status(&self, key: &TaskKey, status: TaskStatus) -> Result<bool, StoreError> {
        match self.lock().records.get_mut(key) {
            Some(stored) => {
                stored.record.status = status;
                stored.record.updated_at = Timestamp::now();
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// Variables as JSON that keeps every value's kind, for stores that keep result variables in
/// a text or JSON column: `{"name": {"type": "Integer", "value": 42}, ...}`.
///
/// The shape follows Camunda's typed values (`type`, `value`, `valueInfo`), except that bytes
/// and file contents are arrays of numbers. [`decode_variables`] reads it back unchanged.
///
/// ```
/// use bptl_core::store::{decode_variables, encode_variables};
/// use bptl_core::{variables, Value};
/// let vars = variables! { "n": 1i64 << 40, "when": jiff::Timestamp::UNIX_EPOCH, "doc": serde_json::json!({"a": [1]}) };
/// let json = encode_variables(&vars);
/// assert_eq!(json["n"]["type"], "Long");
/// assert_eq!(decode_variables(&json).unwrap(), vars);
/// ```
pub fn encode_variables(vars: &Variables) -> serde_json::Value {
    use serde_json::json;
    let mut out = serde_json::Map::new();
    for (name, value) in vars {
        let (value_json, info) = match value {
            Value::Date(d) => (json!(d.to_camunda_string()), None),
            Value::Bytes(b) => (json!(b), None),
            Value::Object(o) => (
                match &o.data {
                    ObjectData::Json(j) => j.clone(),
                    ObjectData::Serialized(s) => json!(s),
                },
                Some(json!({
                    "objectTypeName": o.object_type_name,
                    "serializationDataFormat": o.serialization_data_format,
                    "serialized": matches!(o.data, ObjectData::Serialized(_)),
                })),
            ),
            Value::File(f) => (
                json!(f.content),
                Some(
                    json!({ "filename": f.filename, "mimeType": f.mime_type, "encoding": f.encoding }),
                ),
            ),
            other => (other.to_json(), None),
        };
        let mut typed = serde_json::Map::new();
        typed.insert("type".into(), json!(value.type_name()));
        typed.insert("value".into(), value_json);
        if let Some(info) = info {
            typed.insert("valueInfo".into(), info);
        }
        out.insert(name.clone(), serde_json::Value::Object(typed));
    }
    serde_json::Value::Object(out)
}

/// Read variables written by [`encode_variables`].
pub fn decode_variables(json: &serde_json::Value) -> Result<Variables, StoreError> {
    let bad =
        |name: &str, why: &str| StoreError::corrupt(format!("stored variable '{name}': {why}"));
    let object = json
        .as_object()
        .ok_or_else(|| StoreError::corrupt("stored variables are not a JSON object"))?;
    let mut vars = Variables::new();
    for (name, typed) in object {
        let kind = typed["type"].as_str().unwrap_or("");
        let v = &typed["value"];
        let info = &typed["valueInfo"];
        let str_of = |j: &serde_json::Value| j.as_str().map(str::to_owned);
        let bytes_of = |j: &serde_json::Value| -> Option<Vec<u8>> {
            j.as_array()?
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect()
        };
        let value = match kind {
            "Null" => Value::Null,
            "Boolean" => Value::Boolean(v.as_bool().ok_or_else(|| bad(name, "not a boolean"))?),
            "Short" => Value::Short(
                v.as_i64()
                    .and_then(|n| i16::try_from(n).ok())
                    .ok_or_else(|| bad(name, "not a short"))?,
            ),
            "Integer" => Value::Integer(
                v.as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(|| bad(name, "not an integer"))?,
            ),
            "Long" => Value::Long(v.as_i64().ok_or_else(|| bad(name, "not a long"))?),
            "Double" => Value::Double(v.as_f64().ok_or_else(|| bad(name, "not a number"))?),
            "String" => Value::String(str_of(v).ok_or_else(|| bad(name, "not a string"))?),
            "Xml" => Value::Xml(str_of(v).ok_or_else(|| bad(name, "not a string"))?),
            "Json" => Value::Json(v.clone()),
            "Date" => Value::Date(
                DateValue::parse(v.as_str().unwrap_or(""))
                    .map_err(|e| bad(name, &e.to_string()))?,
            ),
            "Bytes" => Value::Bytes(bytes_of(v).ok_or_else(|| bad(name, "not bytes"))?),
            "Object" => Value::Object(ObjectValue {
                object_type_name: str_of(&info["objectTypeName"]),
                serialization_data_format: str_of(&info["serializationDataFormat"]),
                data: if info["serialized"].as_bool().unwrap_or(false) {
                    ObjectData::Serialized(str_of(v).unwrap_or_default())
                } else {
                    ObjectData::Json(v.clone())
                },
            }),
            "File" => Value::File(FileValue {
                filename: str_of(&info["filename"]).unwrap_or_default(),
                mime_type: str_of(&info["mimeType"]),
                encoding: str_of(&info["encoding"]),
                content: bytes_of(v),
            }),
            other => return Err(bad(name, &format!("unknown type '{other}'"))),
        };
        vars.insert(name.clone(), value);
    }
    Ok(vars)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::task::InMemoryTask;
    use crate::timeline::EventKind;
    use crate::variables;

    fn record(topic: &str, status: TaskStatus) -> TaskRecord {
        let task = InMemoryTask::new(topic, variables! {});
        let mut r = TaskRecord::from_task(&task, "w");
        r.status = status;
        r
    }

    #[tokio::test]
    async fn save_get_list_stats_prune() {
        let store = InMemoryStore::new();
        let a = record("a", TaskStatus::Completed);
        let b = record("b", TaskStatus::Performed);
        let c = record("a", TaskStatus::Completed);
        for r in [&a, &b, &c] {
            store.save(r).await.unwrap();
        }
        let all = store.list(&TaskFilter::default()).await.unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].task_id, c.task_id, "newest first");
        let page = store.list(&TaskFilter::default().page(1, 1)).await.unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].task_id, b.task_id);
        let only_a = store.list(&TaskFilter::default().topic("a")).await.unwrap();
        assert_eq!(only_a.len(), 2);
        let stats = store.stats(None).await.unwrap();
        assert_eq!(
            stats,
            vec![
                StatsRow {
                    topic: "a".into(),
                    status: TaskStatus::Completed,
                    count: 2
                },
                StatsRow {
                    topic: "b".into(),
                    status: TaskStatus::Performed,
                    count: 1
                },
            ]
        );
        let pruned = store
            .prune_completed(Timestamp::now() + jiff::SignedDuration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(pruned, 2);
        assert!(
            store
                .reset_status(&b.key(), TaskStatus::Initial)
                .await
                .unwrap()
        );
        assert_eq!(
            store.get(&b.key()).await.unwrap().map(|r| r.status),
            Some(TaskStatus::Initial)
        );
        assert!(
            !store
                .reset_status(&a.key(), TaskStatus::Initial)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn timeline_survives_saves_and_capacity_drops_done_records_first() {
        let store = InMemoryStore::with_capacity(2);
        let pending = record("p", TaskStatus::InProgress);
        store.save(&pending).await.unwrap();
        let entry = TimelineEntry {
            at: Timestamp::now(),
            kind: EventKind::Note,
            message: "hi".into(),
            data: serde_json::Value::Null,
        };
        store.append_timeline(&pending.key(), &entry).await.unwrap();
        store.save(&pending).await.unwrap();
        assert_eq!(store.timeline(&pending.key()).await.unwrap(), vec![entry]);
        for _ in 0..3 {
            store
                .save(&record("d", TaskStatus::Completed))
                .await
                .unwrap();
        }
        assert_eq!(store.len(), 2);
        assert!(store.get(&pending.key()).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_full_store_drops_a_tenth_at_a_time_oldest_first() {
        let store = InMemoryStore::with_capacity(100);
        let mut saved = Vec::new();
        for _ in 0..101 {
            let r = record("d", TaskStatus::Completed);
            store.save(&r).await.unwrap();
            saved.push(r.key());
        }
        // Over capacity by one: the eleven oldest went, the newest stayed.
        assert_eq!(store.len(), 90);
        assert!(store.get(&saved[10]).await.unwrap().is_none());
        assert!(store.get(&saved[11]).await.unwrap().is_some());
        for _ in 0..10 {
            store
                .save(&record("d", TaskStatus::Completed))
                .await
                .unwrap();
        }
        assert_eq!(store.len(), 100);
    }

    #[test]
    fn every_kind_round_trips() {
        let vars = variables! {
            "null": Value::Null, "b": true, "s": Value::Short(3), "i": 4, "l": 1i64 << 40,
            "d": 1.5, "str": "x", "xml": Value::Xml("<a/>".into()),
            "date": DateValue::parse("2015-10-06T16:34:42.000+0200").unwrap(),
            "json": serde_json::json!([1, {"a": null}]), "bytes": vec![0u8, 255],
            "obj": Value::Object(ObjectValue { object_type_name: Some("java.util.HashMap".into()),
                serialization_data_format: Some("application/json".into()),
                data: ObjectData::Json(serde_json::json!({"k": 1})) }),
            "ser": Value::Object(ObjectValue { object_type_name: None,
                serialization_data_format: Some("application/xml".into()),
                data: ObjectData::Serialized("<x/>".into()) }),
            "file": Value::File(FileValue { filename: "a.txt".into(), mime_type: Some("text/plain".into()),
                encoding: None, content: Some(b"hi".to_vec()) })
        };
        let json = encode_variables(&vars);
        assert_eq!(decode_variables(&json).unwrap(), vars);
        let text = serde_json::to_string(&json).unwrap();
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(decode_variables(&back).unwrap(), vars);
        assert!(decode_variables(&serde_json::json!({"x": {"type": "Nope"}})).is_err());
    }
}
