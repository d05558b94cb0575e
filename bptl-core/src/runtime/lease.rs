//! Stage 3, lease: one guard owning the task's lock while its unit runs and its outcome is
//! reported: extension at half the lock duration, taking an expired lock again, "cancelled"
//! (404 on extension: the unit may finish, its outcome is not reported) and "lost" (another
//! worker holds the lock). Engine calls for one task never overlap; once an outcome is
//! delivered the extensions stop.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::metrics;
use super::process::TaskCtx;
use super::record::engine_error_json;
use crate::duration::format_duration;
use crate::engine::{Engine, EngineError, EngineErrorKind};
use crate::timeline::EventKind;

/// The lock on one task, shared by its work and its heartbeat.
#[derive(Debug, Default)]
pub(super) struct Lease {
    op: tokio::sync::Mutex<()>,
    /// An outcome was delivered (or will not be): no more extensions.
    done: AtomicBool,
    /// The engine answered 404: the task was cancelled.
    cancelled: AtomicBool,
    /// Another worker holds the lock now.
    lost: AtomicBool,
    expires_at: Mutex<Option<Timestamp>>,
}

impl Lease {
    /// The lease on a task fetched with its lock expiring at `expires_at`.
    pub(super) fn new(expires_at: Option<Timestamp>) -> Self {
        Self {
            expires_at: Mutex::new(expires_at),
            ..Self::default()
        }
    }

    fn set_expiry(&self, at: Timestamp) {
        *self
            .expires_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(at);
    }

    /// When the lock expires, as far as this worker knows.
    pub(super) fn expiry(&self) -> Option<Timestamp> {
        *self
            .expires_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the engine said the task was cancelled (404 on extending its lock).
    pub(super) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Make one engine call about the task, never at the same time as an extension; once the
    /// engine accepted an outcome, the lease ends.
    pub(super) async fn call<F>(&self, call: F) -> Result<(), EngineError>
    where
        F: Future<Output = Result<(), EngineError>>,
    {
        let _op = self.op.lock().await;
        let result = call.await;
        if result.is_ok() {
            self.done.store(true, Ordering::SeqCst);
        }
        result
    }
}

/// Run `work` (the unit and the report of its outcome) while keeping the task's lock alive
/// for `lock_duration` at a time; the lease ends with `work`.
pub(super) async fn keep_alive<E: Engine, F: Future>(
    ctx: &TaskCtx<'_, E>,
    lock_duration: Duration,
    work: F,
) -> F::Output {
    let stop = CancellationToken::new();
    let work = async {
        let out = work.await;
        ctx.lease.done.store(true, Ordering::SeqCst);
        stop.cancel();
        out
    };
    let (out, ()) = tokio::join!(work, ctx.heartbeat(lock_duration, &stop));
    out
}

impl<E: Engine> TaskCtx<'_, E> {
    /// Keep the lock alive until `stop` is cancelled.
    async fn heartbeat(&self, lock_duration: Duration, stop: &CancellationToken) {
        let shared = self.shared;
        let task_id = self.task.task_id();
        let worker_id: &str = &shared.worker_id;
        let interval = (lock_duration / 2).max(Duration::from_millis(50));
        let mut wait = interval;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            let _op = self.lease.op.lock().await;
            if self.lease.done.load(Ordering::SeqCst) || stop.is_cancelled() {
                return;
            }
            match shared
                .engine
                .extend_lock(task_id, worker_id, lock_duration)
                .await
            {
                Ok(()) => {
                    wait = interval;
                    self.lock_extended(lock_duration, "lock extended");
                }
                Err(e) if e.is_not_found() => {
                    self.cancelled(&e);
                    return;
                }
                Err(e) if e.kind == EngineErrorKind::BadRequest => {
                    // Camunda: "Cannot extend a lock that expired". Take it again if nobody did.
                    match shared.engine.lock(task_id, worker_id, lock_duration).await {
                        Ok(()) => {
                            wait = interval;
                            self.lock_extended(lock_duration, "the lock had expired; locked again");
                        }
                        Err(e2) if e2.is_not_found() => {
                            self.cancelled(&e2);
                            return;
                        }
                        Err(e2) => {
                            self.lost(&e, &e2);
                            return;
                        }
                    }
                }
                Err(e) if e.kind == EngineErrorKind::LockedByOther => {
                    self.lost(&e, &e);
                    return;
                }
                Err(e) => {
                    wait = (interval / 4).max(Duration::from_millis(100));
                    debug!("extending the lock failed: {e}; trying again in {wait:?}");
                    self.timeline.record(
                        EventKind::EngineError,
                        format!(
                            "extending the lock failed: {e}; trying again in {}",
                            format_duration(wait)
                        ),
                        engine_error_json(&e),
                    );
                }
            }
        }
    }

    fn lock_extended(&self, lock_duration: Duration, message: &str) {
        let expires = Timestamp::now()
            .checked_add(jiff::SignedDuration::try_from(lock_duration).unwrap_or_default())
            .unwrap_or_else(|_| Timestamp::now());
        self.lease.set_expiry(expires);
        ::metrics::counter!(metrics::LOCK_EXTENSIONS, "topic" => self.topic.to_owned())
            .increment(1);
        debug!("{message} until {expires}");
        self.timeline.record(
            EventKind::LockExtended,
            format!("{message} by {} (until {expires})", format_duration(lock_duration)),
            json!({ "lockDurationMs": lock_duration.as_millis() as u64, "expiresAt": expires.to_string() }),
        );
    }

    fn cancelled(&self, e: &EngineError) {
        self.lease.cancelled.store(true, Ordering::SeqCst);
        warn!(
            "the engine no longer knows the task (404 on extending its lock): it was cancelled; the unit may finish but its outcome is not reported"
        );
        self.timeline.record(
            EventKind::EngineError,
            "the engine no longer knows the task (404 on extending its lock): it was cancelled; the unit may finish but its outcome is not reported",
            engine_error_json(e),
        );
    }

    fn lost(&self, e: &EngineError, relock: &EngineError) {
        self.lease.lost.store(true, Ordering::SeqCst);
        warn!("the lock is lost ({e}; locking again: {relock}): another worker may run the task");
        self.timeline.record(
            EventKind::EngineError,
            format!(
                "the lock is lost ({e}; locking again: {relock}): another worker may run the task"
            ),
            engine_error_json(e),
        );
    }
}
