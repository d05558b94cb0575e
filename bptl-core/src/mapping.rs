//! Task mappings: which unit runs for which topic, with which services and retry policy.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The engine type mappings default to.
pub const DEFAULT_ENGINE: &str = "camunda";

/// How failures are retried: the retries a task starts with, and the wait before each retry.
///
/// Retries count down from the task's *current* retries (as the engine reports them), so they
/// really run out; at 0 the engine raises an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries a task has before its first failure.
    pub retries: i32,
    /// The wait before the first retry.
    pub retry_timeout: Duration,
    /// Multiplier per further retry (1.0 = fixed wait, 2.0 = doubling).
    pub backoff_factor: f64,
    /// The longest wait.
    pub max_retry_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retries: 3,
            retry_timeout: Duration::from_secs(30),
            backoff_factor: 1.0,
            max_retry_timeout: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
    /// Retries left and wait after a failure of a task that had `current` retries
    /// (`None`: never failed before).
    ///
    /// ```
    /// use bptl_core::RetryPolicy;
    /// use std::time::Duration;
    /// let policy = RetryPolicy { retries: 3, retry_timeout: Duration::from_secs(10), backoff_factor: 2.0, ..Default::default() };
    /// assert_eq!(policy.after_failure(None), (2, Duration::from_secs(10)));
    /// assert_eq!(policy.after_failure(Some(2)), (1, Duration::from_secs(20)));
    /// assert_eq!(policy.after_failure(Some(1)), (0, Duration::from_secs(40)));
    /// ```
    pub fn after_failure(&self, current: Option<i32>) -> (i32, Duration) {
        let current = current.unwrap_or(self.retries).max(0);
        let attempt = (self.retries - current).max(0);
        let left = (current - 1).max(0);
        let factor = self.backoff_factor.max(1.0).powi(attempt);
        let wait = self
            .retry_timeout
            .mul_f64(factor)
            .min(self.max_retry_timeout.max(self.retry_timeout));
        (left, wait)
    }
}

/// Which unit runs for a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskMapping {
    /// The topic name.
    pub topic: String,
    /// The unit's registry path, e.g. `bptl_dummy::Double`.
    pub callback: String,
    /// Inactive mappings are neither fetched nor executed.
    pub active: bool,
    /// The engine type the mapping is for (`camunda` by default).
    pub engine: String,
    /// Services by alias: alias → service name.
    pub services: BTreeMap<String, String>,
    /// Fetch only these variables (`None`: all).
    pub variables: Option<Vec<String>>,
    /// Fetch only local variables.
    pub local_variables: bool,
    /// The longest a unit may run; `None`: no limit.
    pub timeout: Option<Duration>,
    /// The lock duration for this topic; `None`: the worker's.
    pub lock_duration: Option<Duration>,
    /// How failures are retried.
    pub retry: RetryPolicy,
}

impl TaskMapping {
    /// An active Camunda mapping of `topic` to the unit at `callback`.
    pub fn new(topic: impl Into<String>, callback: impl Into<String>) -> Self {
        Self {
            topic: topic.into(),
            callback: callback.into(),
            active: true,
            engine: DEFAULT_ENGINE.to_owned(),
            services: BTreeMap::new(),
            variables: None,
            local_variables: false,
            timeout: None,
            lock_duration: None,
            retry: RetryPolicy::default(),
        }
    }

    /// Set the engine type.
    pub fn engine(mut self, engine: impl Into<String>) -> Self {
        self.engine = engine.into();
        self
    }

    /// Set the active flag.
    pub fn active(mut self, active: bool) -> Self {
        self.active = active;
        self
    }

    /// Add a default service under an alias.
    pub fn service(mut self, alias: impl Into<String>, service: impl Into<String>) -> Self {
        self.services.insert(alias.into(), service.into());
        self
    }

    /// Set the unit timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Set the retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

/// A problem with a set of mappings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MappingError {
    /// Two mappings share a topic.
    #[error("the topic '{0}' is mapped twice: each topic may have one mapping")]
    DuplicateTopic(String),
}

/// Mappings with unique topics.
#[derive(Debug, Clone, Default)]
pub struct TaskMappings {
    by_topic: BTreeMap<String, Arc<TaskMapping>>,
}

impl TaskMappings {
    /// Mappings from a list; fails on a duplicate topic.
    pub fn new(mappings: impl IntoIterator<Item = TaskMapping>) -> Result<Self, MappingError> {
        let mut set = Self::default();
        for m in mappings {
            set.add(m)?;
        }
        Ok(set)
    }

    /// Add a mapping; fails when its topic is taken.
    pub fn add(&mut self, mapping: TaskMapping) -> Result<(), MappingError> {
        if self.by_topic.contains_key(&mapping.topic) {
            return Err(MappingError::DuplicateTopic(mapping.topic));
        }
        self.by_topic
            .insert(mapping.topic.clone(), Arc::new(mapping));
        Ok(())
    }

    /// The mapping for `topic`.
    pub fn get(&self, topic: &str) -> Option<&Arc<TaskMapping>> {
        self.by_topic.get(topic)
    }

    /// All mappings, by topic.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<TaskMapping>> {
        self.by_topic.values()
    }

    /// The active mappings for an engine type: what a worker fetches.
    pub fn active_for(&self, engine: &str) -> impl Iterator<Item = &Arc<TaskMapping>> {
        self.by_topic
            .values()
            .filter(move |m| m.active && m.engine == engine)
    }

    /// The number of mappings.
    pub fn len(&self) -> usize {
        self.by_topic.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_topic.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_unique() {
        let err = TaskMappings::new([TaskMapping::new("a", "x::y"), TaskMapping::new("a", "x::z")])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the topic 'a' is mapped twice: each topic may have one mapping"
        );
    }

    #[test]
    fn retries_run_out_and_back_off() {
        let policy = RetryPolicy {
            retries: 2,
            retry_timeout: Duration::from_secs(1),
            backoff_factor: 3.0,
            max_retry_timeout: Duration::from_secs(5),
        };
        assert_eq!(policy.after_failure(None), (1, Duration::from_secs(1)));
        assert_eq!(policy.after_failure(Some(1)), (0, Duration::from_secs(3)));
        assert_eq!(policy.after_failure(Some(0)).0, 0);
        let capped = RetryPolicy {
            retries: 10,
            ..policy
        };
        assert_eq!(capped.after_failure(Some(5)).1, Duration::from_secs(5));
    }
}
