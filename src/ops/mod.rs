//! Operator commands over the task store: `tasks`, `tasks show ID`, `execute --task-id ID
//! [--force]`, `stats` and `prune --older-than AGE`.
//!
//! Each command is a function that writes plain-text tables to any [`Write`](std::io::Write), so the CLI, a
//! test or your own tool can call it:
//!
//! ```
//! use bptl_core::store::{TaskFilter, TaskRecord, TaskStore};
//! use bptl_core::{variables, InMemoryStore, InMemoryTask};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let store = InMemoryStore::new();
//! let task = InMemoryTask::new("double", variables! { "amount": 21 }).with_id("t-1");
//! store.save(&TaskRecord::from_task(&task, "worker-1")).await.unwrap();
//!
//! let mut out = Vec::new();
//! bptl::ops::tasks(&store, &TaskFilter::default(), &mut out).await.unwrap();
//! let text = String::from_utf8(out).unwrap();
//! assert!(text.contains("t-1") && text.contains("double") && text.contains("initial"));
//! # }
//! ```
//!
//! One module per command: [`tasks()`] and [`show()`] (listing and one task), [`stats()`],
//! [`prune()`] and [`execute()`]; this module holds what they share (errors, ids, ages).

use std::time::Duration;

use bptl_core::store::{StoreError, TaskKey, TaskRecord, TaskStore};
use bptl_core::{EngineError, TimelineEntry};
use jiff::{SignedDuration, Timestamp};

mod execute;
mod format;
mod prune;
mod stats;
mod tasks;

pub use execute::{ExecuteOptions, execute};
pub use prune::{erase_process_instance, prune};
pub use stats::stats;
pub use tasks::{show, tasks};

/// An operator command failed; the message says what to do.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpsError {
    /// The store failed.
    Store(StoreError),
    /// No record has this id.
    NotFound(String),
    /// The stored task cannot be executed (again).
    NotExecutable(String),
    /// The engine refused a call.
    Engine {
        /// What was being done.
        what: String,
        /// The engine's error.
        source: EngineError,
    },
    /// The unit failed; the record says `failed` and holds the error.
    UnitFailed(String),
    /// Writing the output failed.
    Io(std::io::Error),
}

impl std::fmt::Display for OpsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpsError::Store(e) => write!(f, "{e}"),
            OpsError::NotFound(id) => write!(
                f,
                "no stored task '{id}': list the stored tasks with `tasks` (ids are shown as ENGINE:ID)"
            ),
            OpsError::NotExecutable(why) => f.write_str(why),
            OpsError::Engine { what, source } => write!(f, "{what}: {source}"),
            OpsError::UnitFailed(why) => write!(f, "the work unit failed: {why}"),
            OpsError::Io(e) => write!(f, "writing the output: {e}"),
        }
    }
}

impl std::error::Error for OpsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OpsError::Store(e) => Some(e),
            OpsError::Engine { source, .. } => Some(source),
            OpsError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StoreError> for OpsError {
    fn from(e: StoreError) -> Self {
        OpsError::Store(e)
    }
}

impl From<std::io::Error> for OpsError {
    fn from(e: std::io::Error) -> Self {
        OpsError::Io(e)
    }
}

/// The key a command-line task id means: `ENGINE:ID`, or `ID` of engine `default_engine`.
///
/// ```
/// use bptl::ops::task_key;
/// assert_eq!(task_key("camunda:abc", "memory").to_string(), "camunda:abc");
/// assert_eq!(task_key("abc", "camunda").to_string(), "camunda:abc");
/// ```
pub fn task_key(id: &str, default_engine: &str) -> TaskKey {
    match id.split_once(':') {
        Some((engine, task_id)) if !engine.is_empty() && !task_id.is_empty() => {
            TaskKey::new(engine, task_id)
        }
        _ => TaskKey::new(default_engine, id),
    }
}

/// Parse an age like `30d`, `12h`, `90m` (for `--older-than`, `--since` and `store.retention`).
pub fn parse_age(text: &str) -> Result<Duration, String> {
    bptl_core::duration::parse_duration(text).map_err(|e| e.to_string())
}

/// A filter for `tasks`: `since` given as an age (`24h`: created in the last 24 hours).
pub fn since_age(age: Duration) -> Result<Timestamp, String> {
    let age = SignedDuration::try_from(age).map_err(|e| format!("age {age:?}: {e}"))?;
    Ok(Timestamp::now().checked_sub(age).unwrap_or(Timestamp::MIN))
}

/// Find the record `id` names (`ENGINE:ID`, or a bare id of any engine when unambiguous).
pub async fn find(store: &dyn TaskStore, id: &str) -> Result<TaskRecord, OpsError> {
    if let Some((engine, task_id)) = id.split_once(':')
        && !engine.is_empty()
        && let Some(record) = store.get(&TaskKey::new(engine, task_id)).await?
    {
        return Ok(record);
    }
    for engine in ["camunda", "memory"] {
        if let Some(record) = store.get(&TaskKey::new(engine, id)).await? {
            return Ok(record);
        }
    }
    Err(OpsError::NotFound(id.to_owned()))
}

/// The timeline entries of a task, for callers that format them themselves.
pub async fn timeline(store: &dyn TaskStore, id: &str) -> Result<Vec<TimelineEntry>, OpsError> {
    let record = find(store, id).await?;
    Ok(store.timeline(&record.key()).await?)
}
