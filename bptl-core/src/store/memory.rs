//! [`InMemoryStore`]: the default store, bounded, and for tests.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use jiff::Timestamp;

use super::{Claim, StatsRow, StoreError, TaskFilter, TaskKey, TaskRecord, TaskStore};
use crate::task::TaskStatus;
use crate::timeline::TimelineEntry;

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

    /// Remove the records `doomed` picks (with their timelines); returns how many.
    fn remove_where(&self, doomed: impl Fn(&TaskRecord) -> bool) -> u64 {
        let mut inner = self.lock();
        let before = inner.records.len();
        inner.records.retain(|_, s| !doomed(&s.record));
        (before - inner.records.len()) as u64
    }

    /// Store a record under a key that holds none yet (the next sequence number, an empty
    /// timeline), then evict what exceeds the capacity.
    fn insert_fresh(&self, inner: &mut Inner, key: TaskKey, record: &TaskRecord) {
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
        self.evict(inner);
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

/// A save of `record` over `stored`: the record's state replaces the stored one; the task's
/// topic, process instance, business key and `created_at` stay as stored. Nothing is copied
/// that is already there: the variables (the task's input, the same at every save) are copied
/// only when they differ.
fn save_over(stored: &mut TaskRecord, record: &TaskRecord) {
    let TaskRecord {
        engine: _,
        task_id: _,
        topic: _,
        worker_id,
        process_instance_id: _,
        business_key: _,
        priority,
        retries,
        lock_expires_at,
        variables,
        status,
        result_variables,
        execution_error,
        engine_error,
        executions,
        created_at: _,
        updated_at,
        reported_at,
    } = record;
    stored.worker_id.clone_from(worker_id);
    stored.priority = *priority;
    stored.retries = *retries;
    stored.lock_expires_at = *lock_expires_at;
    if stored.variables != *variables {
        stored.variables.clone_from(variables);
    }
    stored.status = *status;
    stored.result_variables.clone_from(result_variables);
    stored.execution_error.clone_from(execution_error);
    stored.engine_error.clone_from(engine_error);
    stored.executions = *executions;
    stored.updated_at = *updated_at;
    stored.reported_at = *reported_at;
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
                save_over(&mut stored.record, record);
            }
            return Ok(());
        }
        self.insert_fresh(&mut inner, key, record);
        Ok(())
    }

    async fn insert_new(&self, record: &TaskRecord) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let key = record.key();
        if inner.records.contains_key(&key) {
            return Ok(false);
        }
        self.insert_fresh(&mut inner, key, record);
        Ok(true)
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
        Ok(self.remove_where(|r| r.status == TaskStatus::Completed && r.updated_at < before))
    }

    async fn prune_failed(&self, before: Timestamp) -> Result<u64, StoreError> {
        Ok(self.remove_where(|r| r.status == TaskStatus::Failed && r.updated_at < before))
    }

    async fn erase_process_instance(&self, process_instance_id: &str) -> Result<u64, StoreError> {
        Ok(self.remove_where(|r| r.process_instance_id.as_deref() == Some(process_instance_id)))
    }

    async fn claim(&self, record: &TaskRecord) -> Result<Claim, StoreError> {
        // Atomic: the whole decision happens under the lock.
        let mut inner = self.lock();
        let key = record.key();
        if let Some(stored) = inner.records.get_mut(&key) {
            if stored.record.claim_refused() {
                return Ok(Claim::Performed(stored.record.clone()));
            }
            let previous = stored.record.status;
            stored.record = TaskRecord::claimed(record, Some(&stored.record));
            return Ok(Claim::Run {
                record: stored.record.clone(),
                previous: Some(previous),
            });
        }
        let claimed = TaskRecord::claimed(record, None);
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
}
