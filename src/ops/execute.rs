//! `execute --task-id ID [--force]`: run a stored task's unit again.

use std::io::Write;
use std::time::Duration;

use bptl_core::store::{TaskRecord, TaskStore};
use bptl_core::{
    Engine, EventKind, ExecuteError, Extensions, Registry, TaskMappings, TaskRef, TaskRun,
    TaskStatus, Timeline, Variables, execute as run_unit,
};
use jiff::{SignedDuration, Timestamp};

use super::{OpsError, find};

/// What `execute --task-id` does.
#[derive(Debug, Clone)]
pub struct ExecuteOptions {
    /// The task: `ENGINE:ID` or an id.
    pub id: String,
    /// `--force`: reset the status to `initial` and take a fresh lock with the engine's `lock`
    /// call, whatever the stored status; a lock another worker holds is released first (make
    /// sure that worker is gone, or its unit may run at the same time).
    pub force: bool,
    /// The worker id to lock with (`--force`) and to complete with.
    pub worker_id: String,
    /// How long the fresh lock lasts (`--force`).
    pub lock_duration: Duration,
}

/// `execute --task-id ID [--force]`: run a stored task's unit again through
/// [`execute`](fn@bptl_core::execute), as BPTL does.
///
/// Without `--force` the stored task must be `initial` or `failed` and its lock still valid
/// (its unit then runs under the worker id that holds the lock). With `--force` the status is
/// reset to `initial` and a fresh lock is taken with the engine's `lock` call under
/// `options.worker_id`. On success the result is stored (`performed`) before the engine is
/// told, then the task is completed (`completed`); on failure the record says `failed` with the
/// error, and a lock taken by `--force` is released so that the worker picks the task up again.
/// Every step lands on the task's timeline. Returns the final status.
#[allow(clippy::too_many_arguments)]
pub async fn execute<E: Engine>(
    store: &dyn TaskStore,
    engine: &E,
    registry: &Registry,
    mappings: &TaskMappings,
    extensions: Extensions,
    options: &ExecuteOptions,
    out: &mut impl Write,
) -> Result<TaskStatus, OpsError> {
    let mut record = find(store, &options.id).await?;
    let key = record.key();
    if record.engine != engine.engine_type() {
        return Err(OpsError::NotExecutable(format!(
            "task {key} comes from engine type '{}', but this worker speaks to '{}'",
            record.engine,
            engine.engine_type()
        )));
    }
    let timeline = Timeline::new();
    let result = run_stored(
        store,
        engine,
        registry,
        mappings,
        extensions,
        options,
        &mut record,
        &timeline,
        out,
    )
    .await;
    // The timeline is written even when the run failed half-way.
    for entry in timeline.entries() {
        store.append_timeline(&key, &entry).await?;
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn run_stored<E: Engine>(
    store: &dyn TaskStore,
    engine: &E,
    registry: &Registry,
    mappings: &TaskMappings,
    extensions: Extensions,
    options: &ExecuteOptions,
    record: &mut TaskRecord,
    timeline: &Timeline,
    out: &mut impl Write,
) -> Result<TaskStatus, OpsError> {
    let key = record.key();
    if options.force {
        let locked = match engine
            .lock(&record.task_id, &options.worker_id, options.lock_duration)
            .await
        {
            Err(e) if e.kind == bptl_core::EngineErrorKind::LockedByOther => {
                // --force: take the task from the worker holding it (e.g. one that crashed).
                timeline.record(
                    EventKind::Note,
                    format!("execute --force: releasing the lock another worker holds ({e})"),
                    serde_json::Value::Null,
                );
                match engine.unlock(&record.task_id).await {
                    Ok(()) => {
                        engine
                            .lock(&record.task_id, &options.worker_id, options.lock_duration)
                            .await
                    }
                    Err(e) => Err(e),
                }
            }
            other => other,
        };
        locked.map_err(|source| OpsError::Engine {
            what: format!("locking task {key} (is it still open in the engine?)"),
            source,
        })?;
        let reset = record.reset();
        record.worker_id = options.worker_id.clone();
        record.lock_expires_at = SignedDuration::try_from(options.lock_duration)
            .ok()
            .and_then(|d| Timestamp::now().checked_add(d).ok());
        store.save(record).await?;
        timeline.record(
            EventKind::Note,
            format!("execute --force: {reset}; locked for {:?} under worker id {}", options.lock_duration, options.worker_id),
            serde_json::json!({ "from": reset.from.as_str(), "to": "initial", "workerId": options.worker_id }),
        );
        writeln!(
            out,
            "task {key}: status reset to initial, locked for {:?}",
            options.lock_duration
        )?;
    } else if !record.status.can_start() {
        return Err(OpsError::NotExecutable(format!(
            "task {key} is {}: only initial or failed tasks are executed; use --force to reset it and take a fresh lock",
            record.status
        )));
    }

    let task = task_from_record(record)?;
    let mut run = TaskRun::new(task)
        .with_timeline(timeline.clone())
        .with_extensions(extensions)
        .with_record(record.clone());
    // One status machine: the run's record makes each transition (and puts it on the
    // timeline); it is stored after each of them.
    let result = match run_unit::start(&mut run, registry, mappings) {
        Err(err @ ExecuteError::TaskExpired { .. }) => {
            // Refused before the record says `in_progress`: a unit that never starts counts no
            // execution.
            return Err(OpsError::NotExecutable(format!(
                "{err}; use --force to take a fresh lock"
            )));
        }
        Err(err) => {
            // Refused before the unit starts (no mapping, an inactive one, ...).
            if let Ok(failed) = run.record.fail(err.to_string()) {
                failed.record(timeline, None);
            }
            Err(err)
        }
        Ok(unit) => {
            store.save(&run.record).await?;
            run_unit::finish(&mut run, &unit).await
        }
    };
    *record = run.record;
    match result {
        Ok(vars) => {
            store.save(record).await?;
            writeln!(out, "task {key}: performed; completing it in the engine")?;
            complete(store, engine, record, &vars, timeline).await?;
            writeln!(out, "task {key}: completed")?;
            Ok(TaskStatus::Completed)
        }
        Err(err) => {
            let text = match &err {
                ExecuteError::Unit(unit) => unit.chain(),
                other => other.to_string(),
            };
            store.save(record).await?;
            if options.force {
                if let Err(e) = engine.unlock(&record.task_id).await {
                    timeline.record(
                        EventKind::EngineError,
                        format!("unlocking failed: {e}"),
                        serde_json::Value::Null,
                    );
                } else {
                    timeline.record(
                        EventKind::Note,
                        "unlocked so that the worker picks the task up again",
                        serde_json::Value::Null,
                    );
                }
            }
            Err(OpsError::UnitFailed(text))
        }
    }
}

async fn complete<E: Engine>(
    store: &dyn TaskStore,
    engine: &E,
    record: &mut TaskRecord,
    vars: &Variables,
    timeline: &Timeline,
) -> Result<(), OpsError> {
    match engine
        .complete(&record.task_id, &record.worker_id, vars)
        .await
    {
        Ok(()) => {
            let completed = record.complete();
            store.save(record).await?;
            if let Ok(transition) = completed {
                transition.record(timeline, None);
            }
            Ok(())
        }
        Err(source) => {
            record.engine_error = Some(source.to_string());
            record.updated_at = Timestamp::now();
            store.save(record).await?;
            timeline.record(
                EventKind::EngineError,
                format!("completing failed: {source}"),
                serde_json::Value::Null,
            );
            Err(OpsError::Engine {
                what: format!(
                    "completing task {} (the result is stored: the worker completes it from the record when the engine hands it out again)",
                    record.key()
                ),
                source,
            })
        }
    }
}

/// The task a stored record describes, for running its unit again.
fn task_from_record(record: &TaskRecord) -> Result<TaskRef, OpsError> {
    match record.engine.as_str() {
        "camunda" => {
            let json = serde_json::json!({
                "id": record.task_id,
                "topicName": record.topic,
                "workerId": record.worker_id,
                "processInstanceId": record.process_instance_id,
                "businessKey": record.business_key,
                "priority": record.priority,
                "retries": record.retries,
                "lockExpirationTime": record.lock_expires_at
                    .map(|at| bptl_core::value::DateValue::utc(at).to_camunda_string()),
                "variables": record.variables,
            });
            let task = bptl_camunda::ExternalTask::from_json(json).map_err(|e| {
                OpsError::NotExecutable(format!(
                    "the stored task {} cannot be read back: {e}",
                    record.key()
                ))
            })?;
            Ok(std::sync::Arc::new(task))
        }
        other => Err(OpsError::NotExecutable(format!(
            "stored tasks of engine type '{other}' cannot be executed from the command line"
        ))),
    }
}
