//! How a worker behaves: [`WorkerConfig`], the limits it must keep and the default worker id.

use std::ops::RangeInclusive;
use std::time::Duration;

use serde::Deserialize;

use crate::duration::format_duration;

/// How many tasks a worker may run at once (`max_tasks`).
pub const MAX_TASKS: RangeInclusive<usize> = 1..=10_000;
/// The shortest lock a worker takes (`lock_duration`, also a mapping's).
pub const MIN_LOCK_DURATION: Duration = Duration::from_millis(100);
/// The longest long poll (`async_response_timeout`): the engine refuses longer ones.
pub const MAX_ASYNC_RESPONSE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// A setting outside the limits a worker keeps: the field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSetting {
    /// The field, e.g. `lock_duration`.
    pub field: &'static str,
    /// What is wrong and what to write, e.g. `must be at least 100ms`.
    pub message: String,
}

impl std::fmt::Display for InvalidSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.field, self.message)
    }
}

/// How a worker behaves. Every field has a sensible default.
///
/// It deserialises from a table with the field names as keys (durations as in
/// [`parse_duration`](crate::duration::parse_duration)); missing fields keep their defaults,
/// unknown ones are refused. [`WorkerConfig::validate`] checks the limits.
///
/// ```
/// use bptl_core::WorkerConfig;
/// use serde::Deserialize;
/// let value = serde_json::json!({ "max_tasks": 4, "lock_duration": "PT2M" });
/// let config = WorkerConfig::deserialize(value).unwrap();
/// assert_eq!(config.lock_duration, std::time::Duration::from_secs(120));
/// assert!(config.validate().is_empty());
/// let bad = WorkerConfig { max_tasks: 0, ..config };
/// assert_eq!(bad.validate()[0].to_string(), "max_tasks must be 1 to 10000 (the number of tasks run at once), not 0");
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// The worker id locking tasks; `None`: hostname plus a random suffix (see
    /// [`default_worker_id`]), stable for the life of the process.
    pub worker_id: Option<String>,
    /// The concurrency limit: at most this many tasks are locked and running at once.
    pub max_tasks: usize,
    /// How long fetched tasks stay locked (a mapping's `lock_duration` overrides it); the lock
    /// is extended at half this duration while the unit runs.
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub lock_duration: Duration,
    /// How long a fetch may be parked by the engine when no task is available.
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub async_response_timeout: Duration,
    /// Fetch higher-priority tasks first.
    pub use_priority: bool,
    /// How long running units may finish after a shutdown request (default 25 s: the
    /// aborting and unlocking of what did not finish fit before Kubernetes' SIGKILL, 30 s
    /// after its SIGTERM by default).
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub shutdown_grace: Duration,
    /// Attempts to report an outcome when the engine answers with a conflict or a transient
    /// error (then the lock expires and the task is fetched again).
    pub report_attempts: u32,
    /// The first wait between report attempts (doubling, with jitter).
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub report_backoff: Duration,
    /// How long the `callbackUrl` POST may take.
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub callback_timeout: Duration,
    /// The first wait after a failed fetch.
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub engine_backoff_min: Duration,
    /// The longest wait between fetches while the engine is unreachable.
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub engine_backoff_max: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            worker_id: None,
            max_tasks: 10,
            lock_duration: Duration::from_secs(300),
            async_response_timeout: Duration::from_secs(30),
            use_priority: false,
            shutdown_grace: Duration::from_secs(25),
            report_attempts: 5,
            report_backoff: Duration::from_millis(200),
            callback_timeout: Duration::from_secs(10),
            engine_backoff_min: Duration::from_millis(100),
            engine_backoff_max: Duration::from_secs(30),
        }
    }
}

impl WorkerConfig {
    /// Every setting outside the limits ([`MAX_TASKS`], [`MIN_LOCK_DURATION`],
    /// [`MAX_ASYNC_RESPONSE_TIMEOUT`]); empty when the configuration is usable. The
    /// [`WorkerBuilder`](crate::runtime::WorkerBuilder) and the configuration file check these
    /// same limits.
    pub fn validate(&self) -> Vec<InvalidSetting> {
        let mut problems = Vec::new();
        if !MAX_TASKS.contains(&self.max_tasks) {
            problems.push(InvalidSetting {
                field: "max_tasks",
                message: format!(
                    "must be {} to {} (the number of tasks run at once), not {}",
                    MAX_TASKS.start(),
                    MAX_TASKS.end(),
                    self.max_tasks
                ),
            });
        }
        problems.extend(validate_lock_duration(self.lock_duration));
        if self.async_response_timeout > MAX_ASYNC_RESPONSE_TIMEOUT {
            problems.push(InvalidSetting {
                field: "async_response_timeout",
                message: format!(
                    "must be at most {} (the engine refuses longer long polls)",
                    format_duration(MAX_ASYNC_RESPONSE_TIMEOUT)
                ),
            });
        }
        problems
    }
}

/// The problem with a lock duration (the worker's or a mapping's) shorter than
/// [`MIN_LOCK_DURATION`].
pub fn validate_lock_duration(lock_duration: Duration) -> Option<InvalidSetting> {
    (lock_duration < MIN_LOCK_DURATION).then(|| InvalidSetting {
        field: "lock_duration",
        message: format!("must be at least {}", format_duration(MIN_LOCK_DURATION)),
    })
}

/// The default worker id: the host name plus a random suffix, e.g. `web-3-5f0c2a9e`.
///
/// Each call returns a new id; a worker computes it once and keeps it for its whole life, so
/// that two processes never share an id.
pub fn default_worker_id() -> String {
    let host = gethostname::gethostname()
        .to_string_lossy()
        .trim()
        .to_owned();
    let host = if host.is_empty() {
        "bptl".to_owned()
    } else {
        host
    };
    format!("{host}-{:08x}", rand::random::<u32>())
}
