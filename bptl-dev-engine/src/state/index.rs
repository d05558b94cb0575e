//! The indexes that keep fetchAndLock, complete and the lock timer independent of the number
//! of open tasks: per topic, the tasks that are fetchable (unlocked, with retries left) in
//! the orders fetchAndLock asks for; the pending lock deadlines; execution → task.
//!
//! Invariant: a task is in its topic's [`TopicQueue`] exactly when it was fetchable when it
//! last changed or its deadline last passed ([`State::reindex`]); a lock that ends later is
//! in [`State::deadlines`] until [`State::reap`] takes it at its end.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashSet};

use super::State;

/// The fetchable tasks of one topic, in the two orders fetchAndLock asks for.
#[derive(Debug, Default)]
pub(crate) struct TopicQueue {
    /// By priority (highest first), then creation (oldest first).
    by_priority: BTreeMap<(Reverse<i64>, u64), String>,
    /// By creation (oldest first).
    by_creation: BTreeMap<u64, String>,
}

impl TopicQueue {
    /// The task ids in the order of a request: by priority then creation (the default), by
    /// creation newest first (`sorting` desc), or by priority then creation newest first
    /// (both).
    pub(super) fn ordered(
        &self,
        use_priority: bool,
        create_desc: bool,
    ) -> Box<dyn Iterator<Item = &String> + '_> {
        match (create_desc, use_priority) {
            (false, _) => Box::new(self.by_priority.values()),
            (true, false) => Box::new(self.by_creation.values().rev()),
            (true, true) => {
                let first = self.by_priority.keys().next().map(|k| k.0.0);
                let priorities = std::iter::successors(first, move |&p| {
                    self.by_priority
                        .range((Reverse(p), u64::MAX)..)
                        .map(|(k, _)| k.0.0)
                        .find(|&q| q != p)
                });
                Box::new(priorities.flat_map(move |p| {
                    self.by_priority
                        .range((Reverse(p), 0)..=(Reverse(p), u64::MAX))
                        .rev()
                        .map(|(_, id)| id)
                }))
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.by_priority.is_empty()
    }
}

impl State {
    /// Puts a task into its topic's queue or takes it out, as its state at `now` says.
    pub(super) fn reindex(&mut self, id: &str, now: i64) {
        let Some(task) = self.tasks.get(id) else {
            return;
        };
        let key = (Reverse(task.priority), task.seq);
        if task.fetchable(now) {
            if !self.queues.contains_key(&task.topic) {
                self.queues
                    .insert(task.topic.clone(), TopicQueue::default());
            }
            if let Some(queue) = self.queues.get_mut(&task.topic) {
                queue.by_priority.insert(key, id.to_string());
                queue.by_creation.insert(task.seq, id.to_string());
            }
        } else {
            self.unqueue(&task.topic.clone(), key);
        }
    }

    /// Takes a task out of its topic's queue.
    pub(super) fn unqueue(&mut self, topic: &str, key: (Reverse<i64>, u64)) {
        if let Some(queue) = self.queues.get_mut(topic) {
            queue.by_priority.remove(&key);
            queue.by_creation.remove(&key.1);
            if queue.is_empty() {
                self.queues.remove(topic);
            }
        }
    }

    /// Sets (or clears) a task's lock: its deadline and its place in the queue follow.
    pub(super) fn set_lock(&mut self, id: &str, lock: Option<i64>, now: i64) {
        let Some(task) = self.tasks.get_mut(id) else {
            return;
        };
        if let Some(old) = task.lock_expiration.take() {
            self.deadlines.remove(&(old, id.to_string()));
        }
        task.lock_expiration = lock;
        if let Some(lock) = lock
            && lock > now
        {
            self.deadlines.insert((lock, id.to_string()));
        }
        self.reindex(id, now);
    }

    /// Queues the tasks whose lock ended by `now`; returns the topics that got work.
    pub(crate) fn reap(&mut self, now: i64) -> HashSet<String> {
        let mut topics = HashSet::new();
        while self.deadlines.first().is_some_and(|(d, _)| *d <= now) {
            let Some((_, id)) = self.deadlines.pop_first() else {
                break;
            };
            self.reindex(&id, now);
            if let Some(task) = self.tasks.get(&id)
                && task.fetchable(now)
            {
                topics.insert(task.topic.clone());
            }
        }
        topics
    }

    /// The earliest pending lock deadline.
    pub(crate) fn next_deadline(&self) -> Option<i64> {
        self.deadlines.first().map(|(d, _)| *d)
    }
}
