//! The shutdown: running units get the grace period (locks kept alive), the rest are aborted
//! and their tasks unlocked so that another worker can take them at once.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use super::fetch::KeptPoll;
use super::record::{engine_error_json, store_timeline};
use super::worker::{InFlight, reap};
use super::{Counters, Shared, Worker, WorkerStats};
use crate::duration::format_duration;
use crate::engine::Engine;
use crate::store::TaskKey;
use crate::task::TaskStatus;
use crate::timeline::EventKind;

impl<E: Engine> Worker<E> {
    /// Let running units finish within the grace period, then abort and unlock the rest.
    ///
    /// A long poll still parked when the shutdown came (`pending`, see [`KeptPoll`]) is kept
    /// as long as units run; its tasks are handed out and, as the worker is shutting down,
    /// unlocked at once.
    pub(super) async fn shutdown_phase(
        &self,
        mut running: JoinSet<()>,
        mut in_flight: HashMap<tokio::task::Id, InFlight>,
        mut pending: Option<KeptPoll<'_>>,
    ) -> WorkerStats {
        let shared = &self.shared;
        let immediate = &self.handle.immediate;
        let grace = shared.config.shutdown_grace;
        while let Some(done) = running.try_join_next_with_id() {
            reap(done, &mut in_flight);
        }
        if !running.is_empty() {
            info!(
                running = running.len(),
                "stopped fetching; waiting up to {} for running tasks",
                format_duration(grace)
            );
        }
        let deadline = tokio::time::Instant::now() + grace;
        // Outcomes the engine accepted: one during the shutdown (a completion may create the
        // next task, a failure or an unlock makes a task fetchable) may be what the kept poll
        // is about to answer with; it gets a moment to.
        let reported = || {
            let s = shared.counters.snapshot();
            s.completed + s.failed + s.bpmn_errors + s.unlocked
        };
        let reported_before = reported();
        loop {
            tokio::select! {
                done = running.join_next_with_id() => match done {
                    Some(done) => reap(done, &mut in_flight),
                    None => break,
                },
                fetched = async {
                    match pending.as_mut() {
                        Some(poll) => poll.answer().await,
                        None => std::future::pending().await,
                    }
                }, if pending.is_some() => {
                    let permits = pending.take().map(KeptPoll::into_permits).unwrap_or_default();
                    match fetched {
                        Ok(Ok(tasks)) => {
                            if !tasks.is_empty() {
                                info!(tasks = tasks.len(), "the long poll delivered tasks during the shutdown: unlocking them");
                            }
                            self.hand_out(tasks, permits, &mut running, &mut in_flight).await;
                        }
                        Ok(Err(e)) => debug!(error = %e, "the fetch in flight at the shutdown failed"),
                        Err(_) => debug!("the fetch in flight at the shutdown did not answer"),
                    }
                }
                () = tokio::time::sleep_until(deadline) => break,
                () = immediate.cancelled() => {
                    running.abort_all();
                    let stats = shared.counters.snapshot();
                    warn!(aborted = running.len(), "stopped at once; running units were aborted and their locks will expire");
                    return stats;
                }
            }
        }
        let mut aborted = HashSet::new();
        if !running.is_empty() {
            warn!(
                remaining = running.len(),
                "the shutdown grace period is over: aborting the remaining units and unlocking their tasks"
            );
            running.abort_all();
            while let Some(done) = running.join_next_with_id().await {
                if let Err(e) = &done
                    && e.is_cancelled()
                    && let Some(task) = in_flight.remove(&e.id())
                {
                    Counters::add(&shared.counters.aborted);
                    debug!(topic = %task.topic, task = %task.key, "aborted");
                    unlock_aborted(shared, &task.key).await;
                    aborted.insert(task.key.task_id.clone());
                } else {
                    reap(done, &mut in_flight);
                }
            }
        }
        // The kept poll, last: an unlocked task wakes it, and it locks the task again for this
        // worker. Given a moment, it answers, and what it brings is unlocked for good (a
        // dropped poll would keep it locked until the lock expires).
        let heard = reported() != reported_before;
        if let Some(kept) = pending.take()
            && let Some((tasks, permits)) = kept.linger(heard, !aborted.is_empty()).await
        {
            let (again, new): (Vec<_>, Vec<_>) = tasks
                .into_iter()
                .partition(|t| aborted.contains(t.task_id()));
            for task in again {
                debug!(task_id = %task.task_id(), "the kept poll locked an aborted task again: unlocking it");
                let _ = tokio::time::timeout(
                    Duration::from_secs(5),
                    shared.engine.unlock(task.task_id()),
                )
                .await;
            }
            self.hand_out(new, permits, &mut running, &mut in_flight)
                .await;
            while let Some(done) = running.join_next_with_id().await {
                reap(done, &mut in_flight);
            }
        }
        let stats = shared.counters.snapshot();
        info!(
            completed = stats.completed,
            failed = stats.failed,
            bpmn_errors = stats.bpmn_errors,
            unlocked = stats.unlocked,
            not_reported = stats.not_reported,
            "worker stopped"
        );
        stats
    }
}

/// Unlock a task whose unit was aborted at the end of the shutdown grace period.
async fn unlock_aborted<E: Engine>(shared: &Shared<E>, key: &TaskKey) {
    let timeline = store_timeline(shared, key);
    if let Ok(Some(mut record)) = shared.store.get(key).await
        && matches!(record.status, TaskStatus::Initial | TaskStatus::InProgress)
        && let Ok(transition) =
            record.fail("aborted: the worker's shutdown grace period ended while the unit ran")
    {
        let _ = shared.store.save(&record).await;
        transition.record(
            &timeline,
            Some("aborted at the end of the shutdown grace period"),
        );
    }
    match tokio::time::timeout(Duration::from_secs(5), shared.engine.unlock(&key.task_id)).await {
        Ok(Ok(())) => {
            Counters::add(&shared.counters.unlocked);
            timeline.record(
                EventKind::Note,
                "unlocked so that another worker can take it at once",
                serde_json::Value::Null,
            );
        }
        Ok(Err(e)) => {
            warn!(task = %key, "unlocking an aborted task failed: {e}; its lock expires instead");
            timeline.record(
                EventKind::EngineError,
                format!("unlocking failed ({e}); the lock expires instead"),
                engine_error_json(&e),
            );
        }
        Err(_) => {
            warn!(task = %key, "unlocking an aborted task timed out; its lock expires instead")
        }
    }
}
