//! What a worker did and how to control it from elsewhere: [`WorkerStats`], [`WorkerHandle`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio_util::sync::CancellationToken;

/// Counts of what a worker did: live through [`WorkerHandle::stats`], final from
/// [`Worker::run`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerStats {
    /// Tasks fetched and locked.
    pub fetched: u64,
    /// Tasks the engine accepted as completed.
    pub completed: u64,
    /// Failures the engine accepted.
    pub failed: u64,
    /// BPMN errors the engine accepted.
    pub bpmn_errors: u64,
    /// Tasks unlocked at shutdown (never started, or aborted at the end of grace).
    pub unlocked: u64,
    /// Units aborted at the end of the shutdown grace period.
    pub aborted: u64,
    /// Tasks the engine no longer knew (cancelled while their unit ran).
    pub cancelled: u64,
    /// Outcomes not delivered (engine unreachable, lock lost): the lock expires and the task
    /// is fetched again.
    pub not_reported: u64,
    /// Tasks completed from their stored result without running the unit again.
    pub recovered: u64,
    /// Tasks being handled right now.
    pub in_flight: u64,
}

/// The live counts behind [`WorkerStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) fetched: AtomicU64,
    pub(crate) completed: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) bpmn_errors: AtomicU64,
    pub(crate) unlocked: AtomicU64,
    pub(crate) aborted: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) not_reported: AtomicU64,
    pub(crate) recovered: AtomicU64,
    pub(crate) in_flight: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> WorkerStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WorkerStats {
            fetched: get(&self.fetched),
            completed: get(&self.completed),
            failed: get(&self.failed),
            bpmn_errors: get(&self.bpmn_errors),
            unlocked: get(&self.unlocked),
            aborted: get(&self.aborted),
            cancelled: get(&self.cancelled),
            not_reported: get(&self.not_reported),
            recovered: get(&self.recovered),
            in_flight: get(&self.in_flight),
        }
    }

    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Controls a running worker from elsewhere: shut it down, read its counts. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WorkerHandle {
    pub(super) graceful: CancellationToken,
    pub(super) immediate: CancellationToken,
    pub(super) counters: Arc<Counters>,
    pub(super) health: Arc<super::Health>,
    pub(super) worker_id: Arc<str>,
}

impl WorkerHandle {
    /// Begin a graceful shutdown: stop fetching, let running units finish within the grace
    /// period. Calling it again changes nothing.
    pub fn shutdown(&self) {
        self.graceful.cancel();
    }

    /// Stop at once: abort running units without waiting (their locks simply expire).
    pub fn shutdown_now(&self) {
        self.graceful.cancel();
        self.immediate.cancel();
    }

    /// Whether a shutdown was requested.
    pub fn is_shutting_down(&self) -> bool {
        self.graceful.is_cancelled()
    }

    /// Resolves once a shutdown (graceful or immediate) was requested: for what runs beside
    /// the worker and stops with it.
    pub async fn shutdown_requested(&self) {
        self.graceful.cancelled().await;
    }

    /// Resolves once an immediate shutdown was requested ([`shutdown_now`](Self::shutdown_now)).
    pub async fn shutdown_now_requested(&self) {
        self.immediate.cancelled().await;
    }

    /// The counts so far.
    pub fn stats(&self) -> WorkerStats {
        self.counters.snapshot()
    }

    /// Its health now: whether the fetch loop moves ([`WorkerHealth::alive`]) and the engine
    /// answers ([`WorkerHealth::engine_ready`]).
    pub fn health(&self) -> super::WorkerHealth {
        self.health.snapshot()
    }

    /// The worker id the worker locks tasks with.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }
}
