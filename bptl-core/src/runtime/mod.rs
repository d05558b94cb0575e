//! The worker runtime: a long-running loop that fetches tasks from an [`Engine`], runs the
//! mapped units and reports their outcomes, generic over the engine.
//!
//! What it guarantees:
//!
//! * **One long poll** for the topics of all active mappings of the engine, asking for exactly
//!   as many tasks as there are free execution slots (never more, never with 0 free).
//! * **Every task reported**: success → complete (typed variables); unit failure → failure
//!   with retries counted down from the task's current retries (so they run out → incident);
//!   BPMN error → bpmnError; panic, timeout, missing mapping or unit → failure with a clear
//!   one-line message and the error chain as details. Conflicts and transient errors while
//!   reporting are retried a few times with backoff; after that the lock expires, the task is
//!   fetched again and — because its record says `performed` — completed from the stored
//!   result without running the unit again.
//! * **Locks kept alive**: while a unit runs its lock is extended at half the lock duration
//!   (also during shutdown grace). A 404 on extension means the task was cancelled: the unit is
//!   allowed to finish (aborting it half-way could leave its side effects half done) but its
//!   outcome is not reported; the timeline and log say so.
//! * **Never dies on a fault**: an unreachable engine means exponential backoff with jitter
//!   (100 ms → 30 s by default), one log line when the engine goes away and one when it is
//!   back. "No work" is handled by the long poll, not by backoff.
//! * **Graceful shutdown**: fetching stops, running units get the grace period (locks kept
//!   alive), tasks that never started are unlocked, units still running at the end of grace are
//!   aborted and their tasks unlocked so another worker can take them at once. A long poll
//!   parked at the engine is kept while units run (Camunda and Operaton lock tasks for a long
//!   poll whose client went away): the tasks it brings are unlocked; an idle worker drops it and
//!   stops at once. A second shutdown request ([`WorkerHandle::shutdown_now`], a second signal)
//!   returns at once.
//! * **Records**: every task is written to the [`crate::store::TaskStore`] before
//!   its unit runs; see [`crate::store`] for exactly-once completion and crash recovery.
//!
//! ```no_run
//! use std::sync::Arc;
//! use bptl_core::runtime::{Worker, WorkerConfig};
//! use bptl_core::{Engine, Registry, TaskMappings};
//!
//! async fn serve<E: Engine>(engine: E, mappings: TaskMappings) -> Result<(), Box<dyn std::error::Error>> {
//!     let worker = Worker::builder(engine)
//!         .registry(Registry::global()?.clone())
//!         .mappings(mappings)
//!         .config(WorkerConfig { max_tasks: 20, ..WorkerConfig::default() })
//!         .build()?;
//!     let stats = worker.run_until_signal().await;
//!     println!("{} completed, {} failed", stats.completed, stats.failed);
//!     Ok(())
//! }
//! ```
//!
//! A task's path, one stage per module, in order: `fetch` → `claim` → `lease` (kept alive
//! while the unit runs) → `run` (the unit) → `outcome` (what the engine should hear: a pure
//! decision) → `report` (one retrying reporter, also used by start-up recovery) → `deliver`
//! (the engine's answer, recorded) → `callback`. `process` reads them top to bottom;
//! `record` writes records and timelines, `recover` runs at start-up, `shutdown` at the end.

mod backoff;
mod builder;
mod callback;
mod claim;
mod config;
mod deliver;
mod fetch;
mod handle;
mod health;
mod lease;
pub mod metrics;
mod outcome;
mod process;
mod record;
mod recover;
mod report;
mod run;
mod shutdown;
mod worker;

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub use backoff::Backoff;
pub use builder::WorkerBuilder;
pub use callback::CallbackSender;
pub use config::{
    InvalidSetting, MAX_ASYNC_RESPONSE_TIMEOUT, MAX_TASKS, MIN_LOCK_DURATION, WorkerConfig,
    default_worker_id, validate_lock_duration,
};
pub use handle::{WorkerHandle, WorkerStats};
pub use health::{LoopPhase, WorkerHealth};
pub use worker::Worker;

pub(crate) use handle::Counters;
pub(crate) use health::Health;

use crate::engine::EngineError;
use crate::mapping::TaskMappings;
use crate::registry::Registry;
use crate::store::{StoreError, TaskKey, TaskStore};
use crate::task::Extensions;
use crate::timeline::TimelineEntry;

/// Why a worker could not be built or a one-off operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The configuration is unusable.
    #[error("invalid worker configuration: {0}")]
    Config(String),
    /// The engine refused or could not be reached.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The task store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What every task of a worker shares.
pub(crate) struct Shared<E> {
    pub(crate) engine: E,
    pub(crate) registry: Arc<Registry>,
    pub(crate) mappings: Arc<TaskMappings>,
    pub(crate) config: WorkerConfig,
    pub(crate) worker_id: Arc<str>,
    pub(crate) store: Arc<dyn TaskStore>,
    pub(crate) callback: Option<Arc<dyn CallbackSender>>,
    pub(crate) extensions: Extensions,
    pub(crate) counters: Arc<Counters>,
    /// What `/healthz` and `/readyz` read.
    pub(crate) health: Arc<Health>,
    pub(crate) timeline_tx: mpsc::UnboundedSender<TimelineMsg>,
    /// A graceful shutdown was requested.
    pub(crate) graceful: CancellationToken,
    /// An immediate shutdown was requested.
    pub(crate) immediate: CancellationToken,
}

/// A message to the timeline writer.
pub(crate) enum TimelineMsg {
    Entry(TaskKey, TimelineEntry),
    Flush(oneshot::Sender<()>),
}

/// Wait for SIGINT or SIGTERM (Ctrl-C where there are no Unix signals).
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
