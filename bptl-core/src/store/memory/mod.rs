//! [`InMemoryStore`]: the default store, bounded, and for tests.

mod packed;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use jiff::Timestamp;

use super::{Claim, StatsRow, StoreError, TaskFilter, TaskKey, TaskRecord, TaskStore};
use crate::task::TaskStatus;
use crate::timeline::TimelineEntry;
use packed::{Prepacked, Stored, is_done};

/// A [`TaskStore`] in memory: the default, and for tests.
///
/// Bounded: it keeps at most [`InMemoryStore::DEFAULT_CAPACITY`] records and at most
/// [`InMemoryStore::DEFAULT_DONE_BYTES`] of finished ones (`completed`, or `failed` and
/// reported; their estimated size). When either bound is passed, the records that finished
/// longest ago are dropped, down to nine tenths of the bound, so a long-running worker does
/// not grow without limit. Records not finished are never dropped.
///
/// A finished record keeps its input variables as JSON text and every timeline entry's data
/// as text, parsed back when read: a few hundred bytes plus the variables' text per record.
///
/// ```
/// use bptl_core::InMemoryStore;
/// let store = InMemoryStore::with_limits(1_000, 4 << 20); // 1 000 records, 4 MiB finished
/// assert!(store.is_empty());
/// ```
#[derive(Debug)]
pub struct InMemoryStore {
    inner: Mutex<Inner>,
    capacity: usize,
    done_budget: usize,
}

#[derive(Debug, Default)]
struct Inner {
    records: HashMap<TaskKey, Stored>,
    next_seq: u64,
    /// The done records by `done_seq`, the oldest first.
    done: BTreeMap<u64, TaskKey>,
    /// The estimated bytes of the done records.
    done_bytes: usize,
}

impl Inner {
    fn next(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// After a change of `key`'s record: a done record is packed and queued for dropping, one
    /// no longer done leaves the queue; the byte count follows.
    fn settle(&mut self, key: &TaskKey) {
        let seq = self.next_seq + 1;
        let Some(stored) = self.records.get_mut(key) else {
            return;
        };
        self.done_bytes -= stored.counted;
        stored.counted = 0;
        match (is_done(&stored.record), stored.done_seq) {
            (true, was) => {
                stored.pack();
                stored.counted = stored.bytes();
                self.done_bytes += stored.counted;
                if was.is_none() {
                    stored.done_seq = Some(seq);
                    self.next_seq = seq;
                    self.done.insert(seq, key.clone());
                }
            }
            (false, Some(was)) => {
                stored.done_seq = None;
                self.done.remove(&was);
            }
            (false, None) => {}
        }
    }

    fn remove(&mut self, key: &TaskKey) -> Option<Stored> {
        let stored = self.records.remove(key)?;
        if let Some(done) = stored.done_seq {
            self.done.remove(&done);
        }
        self.done_bytes -= stored.counted;
        Some(stored)
    }

    /// A record, made live again for a change.
    fn live(&mut self, key: &TaskKey) -> Result<Option<&mut Stored>, StoreError> {
        match self.records.get_mut(key) {
            Some(stored) => {
                stored.unpack()?;
                Ok(Some(stored))
            }
            None => Ok(None),
        }
    }
}

impl Default for InMemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryStore {
    /// The default number of records kept.
    pub const DEFAULT_CAPACITY: usize = 5_000;

    /// The default bound of the finished records' estimated size: 8 MiB (about twice that in
    /// resident memory, with the allocator's overhead).
    pub const DEFAULT_DONE_BYTES: usize = 8 << 20;

    /// An empty store with the default bounds.
    pub fn new() -> Self {
        Self::with_limits(Self::DEFAULT_CAPACITY, Self::DEFAULT_DONE_BYTES)
    }

    /// An empty store keeping at most `capacity` records (records not yet done are never
    /// dropped, so it may hold more while many tasks are in flight), and the default bound of
    /// bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_limits(capacity, Self::DEFAULT_DONE_BYTES)
    }

    /// An empty store keeping at most `capacity` records and at most `done_bytes` of finished
    /// ones (estimated).
    pub fn with_limits(capacity: usize, done_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
            done_budget: done_bytes,
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

    /// The estimated size of the finished records held, in bytes.
    pub fn done_bytes(&self) -> usize {
        self.lock().done_bytes
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
        let keys: Vec<TaskKey> = inner
            .records
            .iter()
            .filter(|(_, s)| doomed(&s.record))
            .map(|(k, _)| k.clone())
            .collect();
        for key in &keys {
            inner.remove(key);
        }
        keys.len() as u64
    }

    /// Store a record under a key that holds none yet (the next sequence number, an empty
    /// timeline), then evict what exceeds the bounds.
    fn insert_fresh(&self, inner: &mut Inner, key: TaskKey, record: TaskRecord) {
        let seq = inner.next();
        inner.records.insert(key.clone(), Stored::new(seq, record));
        inner.settle(&key);
        self.evict(inner);
    }

    fn evict(&self, inner: &mut Inner) {
        let over_count = inner.records.len() > self.capacity;
        let over_bytes = inner.done_bytes > self.done_budget;
        if !over_count && !over_bytes {
            return;
        }
        // Drop to nine tenths of the bound passed, so that eviction runs once per that many
        // saves instead of on every save once the store is full.
        let count_goal = self.capacity - self.capacity / 10;
        let bytes_goal = self.done_budget - self.done_budget / 10;
        while (over_count && inner.records.len() > count_goal)
            || (over_bytes && inner.done_bytes > bytes_goal)
        {
            let Some(key) = inner.done.first_key_value().map(|(_, k)| k.clone()) else {
                break;
            };
            inner.remove(&key);
        }
    }
}

/// A save of `record` over `stored`: the record's state replaces the stored one; the task's
/// topic, process instance, business key and `created_at` stay as stored. Nothing is copied
/// that is already there: the variables (the task's input, the same at every save) are copied
/// only when they differ, and only if `variables_too` (a packed record takes them as text).
fn save_over(stored: &mut TaskRecord, record: &TaskRecord, variables_too: bool) {
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
    if variables_too && stored.variables != *variables {
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
        // A finished record's variables are written as text, and the ones it replaces are
        // dropped, outside the lock: other tasks' claims and saves wait for it.
        let prepacked = Prepacked::of(record);
        let key = record.key();
        let replaced;
        {
            let mut inner = self.lock();
            let Some(stored) = inner.records.get_mut(&key) else {
                self.insert_fresh(&mut inner, key, record.clone());
                return Ok(());
            };
            replaced = if supersedes(record, &stored.record) {
                match prepacked {
                    Some(text) => {
                        save_over(&mut stored.record, record, false);
                        stored.pack_with(text)
                    }
                    None => {
                        stored.unpack()?;
                        save_over(&mut stored.record, record, true);
                        serde_json::Value::Null
                    }
                }
            } else {
                serde_json::Value::Null
            };
            inner.settle(&key);
            self.evict(&mut inner);
        }
        drop(replaced);
        Ok(())
    }

    async fn insert_new(&self, record: &TaskRecord) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let key = record.key();
        if inner.records.contains_key(&key) {
            return Ok(false);
        }
        self.insert_fresh(&mut inner, key, record.clone());
        Ok(true)
    }

    async fn get(&self, key: &TaskKey) -> Result<Option<TaskRecord>, StoreError> {
        let copied = self.lock().records.get(key).map(Stored::copy);
        copied.map(packed::Copied::into_record).transpose()
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
        let page: Vec<_> = hits
            .into_iter()
            .skip(filter.offset)
            .take(filter.limit.unwrap_or(usize::MAX))
            .map(Stored::copy)
            .collect();
        drop(inner);
        page.into_iter().map(packed::Copied::into_record).collect()
    }

    async fn append_timeline(
        &self,
        key: &TaskKey,
        entry: &TimelineEntry,
    ) -> Result<(), StoreError> {
        self.append_timelines(std::slice::from_ref(&(key.clone(), entry.clone())))
            .await
    }

    async fn append_timelines(
        &self,
        entries: &[(TaskKey, TimelineEntry)],
    ) -> Result<(), StoreError> {
        // Packed before the lock is taken.
        let packed: Vec<packed::Entry> = entries
            .iter()
            .map(|(_, e)| packed::Entry::pack(e))
            .collect();
        let mut inner = self.lock();
        let mut grown = 0;
        for ((key, _), entry) in entries.iter().zip(packed) {
            if let Some(stored) = inner.records.get_mut(key) {
                let bytes = stored.push(entry);
                if stored.done_seq.is_some() {
                    stored.counted += bytes;
                    grown += bytes;
                }
            }
        }
        inner.done_bytes += grown;
        if grown > 0 {
            self.evict(&mut inner);
        }
        Ok(())
    }

    async fn timeline(&self, key: &TaskKey) -> Result<Vec<TimelineEntry>, StoreError> {
        match self.lock().records.get(key) {
            Some(stored) => stored.timeline(),
            None => Ok(Vec::new()),
        }
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
                return Ok(Claim::Performed(stored.record()?));
            }
            stored.unpack()?;
            let previous = stored.record.status;
            stored.record = TaskRecord::claimed(record, Some(&stored.record));
            let claimed = stored.record.clone();
            inner.settle(&key);
            return Ok(Claim::Run {
                record: claimed,
                previous: Some(previous),
            });
        }
        let claimed = TaskRecord::claimed(record, None);
        self.insert_fresh(&mut inner, key, claimed.clone());
        Ok(Claim::Run {
            record: claimed,
            previous: None,
        })
    }

    async fn reset_status(&self, key: &TaskKey, status: TaskStatus) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        match inner.live(key)? {
            Some(stored) => {
                stored.record.status = status;
                stored.record.updated_at = Timestamp::now();
                inner.settle(key);
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

    #[tokio::test]
    async fn finished_records_are_bounded_by_bytes_and_read_back_whole() {
        let big = "x".repeat(10_000);
        let done = |n: usize| {
            let task = InMemoryTask::new("t", variables! { "note": big.clone(), "n": n as i64 });
            let mut r = TaskRecord::from_task(&task, "w");
            r.status = TaskStatus::Completed;
            r
        };
        // Room for about ten finished records of 10 KB.
        let store = InMemoryStore::with_limits(1_000, 100_000);
        let first = done(0);
        store.save(&first).await.unwrap();
        assert_eq!(
            store.get(&first.key()).await.unwrap().as_ref(),
            Some(&first)
        );
        let mut keys = vec![first.key()];
        let mut newest = first;
        for n in 1..30 {
            newest = done(n);
            keys.push(newest.key());
            store.save(&newest).await.unwrap();
        }
        assert!(store.done_bytes() <= 100_000, "{}", store.done_bytes());
        assert!(store.len() >= 8 && store.len() < 12, "{}", store.len());
        assert!(
            store.get(&keys[0]).await.unwrap().is_none(),
            "oldest dropped"
        );
        let last = store.get(&keys[29]).await.unwrap().unwrap();
        assert!(last == newest, "the newest record reads back whole");
        // Pruning everything leaves no bytes counted.
        store
            .prune_completed(Timestamp::now() + jiff::SignedDuration::from_secs(1))
            .await
            .unwrap();
        assert_eq!((store.len(), store.done_bytes()), (0, 0));
    }

    #[tokio::test]
    async fn a_finished_failure_claimed_again_is_live_and_whole() {
        let store = InMemoryStore::new();
        let task = InMemoryTask::new("t", variables! { "n": 7i64 });
        let mut failed = TaskRecord::from_task(&task, "w");
        failed.status = TaskStatus::Failed;
        failed.executions = 1;
        failed.reported_at = Some(Timestamp::now());
        store.save(&failed).await.unwrap();
        assert!(store.done_bytes() > 0);
        let Claim::Run { record, previous } = store.claim(&failed).await.unwrap() else {
            panic!("a reported failure is claimed again");
        };
        assert_eq!(previous, Some(TaskStatus::Failed));
        assert_eq!(record.variables, failed.variables);
        assert_eq!(store.done_bytes(), 0, "no longer finished");
        assert_eq!(
            store.get(&failed.key()).await.unwrap().map(|r| r.status),
            Some(TaskStatus::InProgress)
        );
    }
}
