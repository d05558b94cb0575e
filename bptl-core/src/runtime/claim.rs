//! Stage 2, claim: write the task's record before its unit runs, so that each execution is
//! counted and a unit that already succeeded is never run again. A task whose unit must not
//! start (the worker is shutting down, its lock already expired) is not claimed.

use std::time::Duration;

use serde_json::json;
use tracing::{error, info, warn};

use super::process::TaskCtx;
use super::record::engine_error_json;
use super::{Counters, Shared, metrics};
use crate::engine::Engine;
use crate::execute::lock_expired;
use crate::status::Transition;
use crate::store::{Claim, TaskKey, TaskRecord};
use crate::task::TaskStatus;
use crate::timeline::{EventKind, Timeline};
use crate::value::Variables;

/// What the claim decided.
pub(super) enum Claimed {
    /// Run the unit: the record is `in_progress` and counts this execution.
    Run(TaskRecord),
    /// The unit already succeeded: complete the task with the stored result.
    Performed(TaskRecord, Variables),
    /// The unit does not start; the task was unlocked or is left to its lock's expiry.
    NotStarted,
}

/// Claim the task of `ctx` in the store.
pub(super) async fn claim<E: Engine>(ctx: &TaskCtx<'_, E>) -> Claimed {
    let shared = ctx.shared;
    let mut fetched = TaskRecord::from_task(&**ctx.task, &shared.worker_id);
    fetched.worker_id = shared.worker_id.to_string();
    let expired = lock_expired(&**ctx.task);
    let claimed = if shared.graceful.is_cancelled() || expired.is_some() {
        // The unit does not start, so the task is not claimed (that would count an execution
        // that never happens). A stored result is still delivered.
        not_started(shared, &fetched).await
    } else {
        shared.store.claim(&fetched).await.map(Some)
    };
    match claimed {
        Ok(Some(Claim::Performed(prev))) => {
            let Some(result) = prev.result_variables.clone() else {
                error!(
                    "the store claims the unit succeeded but kept no result; unlocking the task"
                );
                unlock_unstarted(
                    shared,
                    ctx.key,
                    ctx.timeline,
                    "its stored result is missing",
                )
                .await;
                return Claimed::NotStarted;
            };
            info!(
                "fetched again after its unit succeeded: completing it from the stored result without running the unit again"
            );
            ctx.timeline.record(
                EventKind::Recovery,
                "fetched again after its unit had succeeded: completing it from the stored result without running the unit again",
                json!({ "previousWorkerId": prev.worker_id }),
            );
            let mut record = fetched;
            record.created_at = prev.created_at;
            record.executions = prev.executions;
            record.status = TaskStatus::Performed;
            record.result_variables = Some(result.clone());
            Claimed::Performed(record, result)
        }
        Ok(Some(Claim::Run { record, previous })) => {
            if record.executions > 1 {
                note_rerun(ctx.timeline, record.executions, previous);
            }
            let from = previous
                .filter(|s| s.can_start())
                .unwrap_or(TaskStatus::Initial);
            Transition {
                from,
                to: TaskStatus::InProgress,
            }
            .record(ctx.timeline, None);
            Claimed::Run(record)
        }
        Ok(None) => {
            if let Some(expired_at) = expired {
                warn!(
                    "the lock expired at {expired_at} before the unit could start; not running it (the engine hands the task out again)"
                );
                ctx.timeline.record(
                    EventKind::Note,
                    format!(
                        "not run: the lock expired at {expired_at} before the unit could start"
                    ),
                    serde_json::Value::Null,
                );
                Counters::add(&shared.counters.not_reported);
            } else {
                unlock_unstarted(shared, ctx.key, ctx.timeline, "the worker is shutting down")
                    .await;
            }
            Claimed::NotStarted
        }
        Err(e) => {
            metrics::store_error("claim", &e);
            error!(
                "cannot write the task's record ({e}); unlocking the task so that it is fetched again later"
            );
            unlock_unstarted(shared, ctx.key, ctx.timeline, "the task store failed").await;
            // Hold the slot a moment: a failing store must not turn into a fetch/unlock spin.
            tokio::time::sleep(Duration::from_secs(1)).await;
            Claimed::NotStarted
        }
    }
}

/// Say on the timeline (and in the log) why a task's unit runs again: `executions` counts
/// this run, `previous` is the record's status before the claim. Only an abandoned run is a
/// recovery (and a warning); a retry after a failure and a run after a reset are expected.
fn note_rerun(timeline: &Timeline, executions: u32, previous: Option<TaskStatus>) {
    let earlier = executions - 1;
    let (kind, message) = match previous {
        Some(TaskStatus::Failed) => (
            EventKind::Note,
            format!(
                "retry: execution {earlier} of the unit failed; the engine handed the task out again (execution {executions})"
            ),
        ),
        Some(TaskStatus::Initial) => (
            EventKind::Note,
            format!(
                "running the unit again (execution {executions}): its record had been reset to initial (by an operator, or because a lock expired before the unit started)"
            ),
        ),
        Some(TaskStatus::InProgress) => (
            EventKind::Recovery,
            format!(
                "abandoned: execution {earlier} of the unit did not end (its worker stopped or lost the lock); running it again (execution {executions})"
            ),
        ),
        // Not known (another process stored the record in the same instant).
        _ => (
            EventKind::Recovery,
            format!(
                "abandoned: execution {earlier} of the unit did not end in a result (its worker stopped or lost the lock, or the unit failed); running it again (execution {executions})"
            ),
        ),
    };
    if kind == EventKind::Recovery {
        warn!(executions, "{message}");
    } else {
        info!(executions, "{message}");
    }
    let data = json!({ "executions": executions, "previousStatus": previous.map(|s| s.as_str()) });
    timeline.record(kind, message, data);
}

/// While shutting down, before a fetched task's unit would start: a stored result (the unit
/// already succeeded) is returned as [`Claim::Performed`] so that it is still delivered;
/// otherwise `Ok(None)` (the task is unlocked, not run). A task without a record gets an
/// `initial` one so that its timeline shows the unlock; an existing record is left alone.
async fn not_started<E>(
    shared: &Shared<E>,
    fetched: &TaskRecord,
) -> Result<Option<Claim>, crate::store::StoreError> {
    match shared.store.get(&fetched.key()).await? {
        Some(prev)
            if matches!(prev.status, TaskStatus::Performed | TaskStatus::Completed)
                && prev.result_variables.is_some() =>
        {
            Ok(Some(Claim::Performed(prev)))
        }
        Some(_) => Ok(None),
        None => {
            shared.store.save(fetched).await?;
            Ok(None)
        }
    }
}

/// Unlock a task whose unit never started, and record it.
async fn unlock_unstarted<E: Engine>(
    shared: &Shared<E>,
    key: &TaskKey,
    timeline: &Timeline,
    why: &str,
) {
    match tokio::time::timeout(Duration::from_secs(5), shared.engine.unlock(&key.task_id)).await {
        Ok(Ok(())) => {
            Counters::add(&shared.counters.unlocked);
            timeline.record(
                EventKind::Note,
                format!("not started: {why}; unlocked so that it can be fetched again at once"),
                serde_json::Value::Null,
            );
        }
        Ok(Err(e)) => timeline.record(
            EventKind::EngineError,
            format!("not started: {why}; unlocking failed ({e}), the lock expires instead"),
            engine_error_json(&e),
        ),
        Err(_) => timeline.record(
            EventKind::EngineError,
            format!("not started: {why}; unlocking timed out, the lock expires instead"),
            serde_json::Value::Null,
        ),
    }
}
