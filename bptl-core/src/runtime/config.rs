//! How a worker behaves: [`WorkerConfig`] and the default worker id.

use std::time::Duration;

/// How a worker behaves. Every field has a sensible default.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerConfig {
    /// The worker id locking tasks; `None`: hostname plus a random suffix (see
    /// [`default_worker_id`]), stable for the life of the process.
    pub worker_id: Option<String>,
    /// The concurrency limit: at most this many tasks are locked and running at once.
    pub max_tasks: usize,
    /// How long fetched tasks stay locked (a mapping's `lock_duration` overrides it); the lock
    /// is extended at half this duration while the unit runs.
    pub lock_duration: Duration,
    /// How long a fetch may be parked by the engine when no task is available.
    pub async_response_timeout: Duration,
    /// Fetch higher-priority tasks first.
    pub use_priority: bool,
    /// How long running units may finish after a shutdown request.
    pub shutdown_grace: Duration,
    /// Attempts to report an outcome when the engine answers with a conflict or a transient
    /// error (then the lock expires and the task is fetched again).
    pub report_attempts: u32,
    /// The first wait between report attempts (doubling, with jitter).
    pub report_backoff: Duration,
    /// How long the `callbackUrl` POST may take.
    pub callback_timeout: Duration,
    /// The first wait after a failed fetch.
    pub engine_backoff_min: Duration,
    /// The longest wait between fetches while the engine is unreachable.
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
            shutdown_grace: Duration::from_secs(30),
            report_attempts: 5,
            report_backoff: Duration::from_millis(200),
            callback_timeout: Duration::from_secs(10),
            engine_backoff_min: Duration::from_millis(100),
            engine_backoff_max: Duration::from_secs(30),
        }
    }
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
