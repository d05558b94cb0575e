//! Start-up recovery: tasks this store says were performed but never completed are completed
//! from their stored result (through the same [`Reporter`] as every outcome); abandoned runs
//! are noted. On a store shared by several processes, a performed task whose lock still lasts
//! belongs to the worker that performed it.

use jiff::Timestamp;
use serde_json::json;
use tracing::{Instrument, debug, error, info, warn};

use super::record::{engine_error_json, engine_error_text, store_timeline};
use super::report::Reporter;
use super::{Counters, Shared, metrics};
use crate::engine::{Engine, EngineErrorKind};
use crate::store::{TaskFilter, TaskRecord};
use crate::task::TaskStatus;
use crate::timeline::EventKind;
use crate::value::Variables;

/// At start-up: complete tasks that were performed but never completed, note abandoned ones.
pub(crate) async fn recover<E: Engine>(shared: &Shared<E>) {
    let engine = shared.engine.engine_type().to_owned();
    let performed = shared
        .store
        .list(
            &TaskFilter::default()
                .engine(&engine)
                .status(TaskStatus::Performed),
        )
        .await;
    let performed = match performed {
        Ok(p) => p,
        Err(e) => {
            error!("cannot read the task store to recover performed tasks: {e}");
            return;
        }
    };
    let now = Timestamp::now();
    let shared_store = shared.store.shared_by_processes();
    for record in performed {
        let Some(vars) = record.result_variables.clone() else {
            continue;
        };
        let lock_lasts = record.lock_expires_at.is_some_and(|at| at > now);
        if shared_store && lock_lasts && *record.worker_id != *shared.worker_id {
            // In a fleet the worker that performed it may be alive and completing it right
            // now; delivering it too would race that worker. If it died, the engine hands the
            // task out again when the lock expires and the stored result is delivered then.
            debug!(
                topic = %record.topic, task_id = %record.task_id, worker_id = %record.worker_id,
                "performed by another worker whose lock still lasts: left to it"
            );
            continue;
        }
        let span = tracing::info_span!("recover", topic = %record.topic, task_id = %record.task_id);
        complete_stored(shared, record, vars).instrument(span).await;
    }

    let in_progress = shared
        .store
        .list(
            &TaskFilter::default()
                .engine(&engine)
                .status(TaskStatus::InProgress),
        )
        .await
        .unwrap_or_default();
    for record in in_progress
        .into_iter()
        .filter(|r| r.lock_expires_at.is_none_or(|at| at <= now))
    {
        warn!(
            topic = %record.topic, task_id = %record.task_id,
            "abandoned: the unit was running when its worker stopped; it runs again when the engine hands the task out again"
        );
        store_timeline(shared, &record.key()).record(
            EventKind::Recovery,
            format!(
                "abandoned: the unit was running when worker {} stopped; it runs again when the engine hands the task out again",
                record.worker_id
            ),
            json!({ "workerId": record.worker_id }),
        );
    }
}

/// Complete a performed task from its stored result, through the one [`Reporter`].
async fn complete_stored<E: Engine>(shared: &Shared<E>, mut record: TaskRecord, vars: Variables) {
    let timeline = store_timeline(shared, &record.key());
    timeline.record(
        EventKind::Recovery,
        format!(
            "performed but not completed at start-up: completing it with the stored result under worker id {}",
            record.worker_id
        ),
        json!({ "workerId": record.worker_id }),
    );
    // No lease: this worker did not fetch the task; a shutdown ends the retries.
    let reporter = Reporter::new(shared, &timeline, &record.topic, None, &shared.graceful);
    let (task_id, worker_id) = (record.task_id.clone(), record.worker_id.clone());
    let result = reporter
        .send("completing", || {
            shared.engine.complete(&task_id, &worker_id, &vars)
        })
        .await;
    record.updated_at = Timestamp::now();
    match result {
        Ok(()) => {
            info!("recovered: completed from the stored result");
            match record.complete() {
                Ok(t) => t.record(&timeline, None),
                Err(e) => error!("the task's record was not changed: {e}"),
            }
            Counters::add(&shared.counters.completed);
            Counters::add(&shared.counters.recovered);
            ::metrics::counter!(metrics::TASKS_COMPLETED, "topic" => record.topic.clone())
                .increment(1);
        }
        Err(e) => {
            record.engine_error = Some(engine_error_text(&e));
            let message = match e.kind {
                EngineErrorKind::NotFound => {
                    if let Ok(t) = record.abandon_result() {
                        t.record(&timeline, Some("the engine no longer knows the task"));
                    }
                    "the engine no longer knows the task (cancelled, or completed elsewhere): the stored result is not delivered"
                }
                EngineErrorKind::LockedByOther => {
                    "another worker holds the task now: it completes it from this record if it shares the store"
                }
                _ => {
                    "completing failed: the task is completed from this record when it is fetched again"
                }
            };
            warn!("recovery: {message} ({e})");
            timeline.record(
                EventKind::EngineError,
                format!("{message} ({e})"),
                engine_error_json(&e),
            );
        }
    }
    if let Err(e) = shared.store.save(&record).await {
        metrics::store_error("save", &e);
        error!("cannot update the task's record: {e}");
    }
}
