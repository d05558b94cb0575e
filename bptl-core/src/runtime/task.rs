//! Handling one fetched task: record, heartbeat, execute, report, callback.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::json;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, error, info, warn};

use super::{Backoff, Counters, Shared, TimelineMsg, metrics};
use crate::duration::format_duration;
use crate::engine::{Engine, EngineError, EngineErrorKind, FailureReport};
use crate::error::UnitError;
use crate::execute::{ExecuteError, TaskRun, execute};
use crate::mapping::RetryPolicy;
use crate::store::{Claim, TaskFilter, TaskKey, TaskRecord};
use crate::task::{TaskRef, TaskStatus};
use crate::timeline::{EventKind, Timeline, TimelineEntry, TimelineSink};
use crate::value::Variables;

/// Passes timeline entries to the worker's timeline writer, which appends them to the store off
/// the task's path.
struct StoreSink {
    key: TaskKey,
    tx: tokio::sync::mpsc::UnboundedSender<TimelineMsg>,
}

impl TimelineSink for StoreSink {
    fn record(&self, entry: &TimelineEntry) {
        let _ = self
            .tx
            .send(TimelineMsg::Entry(self.key.clone(), entry.clone()));
    }
}

fn store_timeline<E>(shared: &Shared<E>, key: &TaskKey) -> Timeline {
    Timeline::with_sink(Arc::new(StoreSink {
        key: key.clone(),
        tx: shared.timeline_tx.clone(),
    }))
}

/// Shared between a task's work and its heartbeat: engine calls for one task never overlap,
/// and once an outcome is delivered the heartbeat stops.
#[derive(Default)]
struct LockKeeper {
    op: tokio::sync::Mutex<()>,
    /// An outcome was delivered (or will not be): no more extensions.
    done: AtomicBool,
    /// The engine answered 404: the task was cancelled.
    cancelled: AtomicBool,
    /// Another worker holds the lock now.
    lost: AtomicBool,
    expires_at: Mutex<Option<Timestamp>>,
}

impl LockKeeper {
    fn set_expiry(&self, at: Timestamp) {
        *self
            .expires_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(at);
    }

    fn expiry(&self) -> Option<Timestamp> {
        *self
            .expires_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Decrements the in-flight gauge however the task ends (also when aborted).
struct InFlightGuard {
    counters: Arc<Counters>,
    topic: String,
}

impl InFlightGuard {
    fn new(counters: &Arc<Counters>, topic: &str) -> Self {
        counters.in_flight.fetch_add(1, Ordering::Relaxed);
        ::metrics::gauge!(metrics::TASKS_IN_FLIGHT, "topic" => topic.to_owned()).increment(1.0);
        Self {
            counters: Arc::clone(counters),
            topic: topic.to_owned(),
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
        ::metrics::gauge!(metrics::TASKS_IN_FLIGHT, "topic" => self.topic.clone()).decrement(1.0);
    }
}

/// What became of a task's outcome.
enum Delivered {
    /// The engine accepted the completion: call the callback.
    Completed,
    /// Anything else.
    Other,
}

/// Handle one fetched task to the end. Never panics on engine, store or unit errors.
pub(crate) async fn process<E: Engine>(
    shared: Arc<Shared<E>>,
    task: TaskRef,
    permit: OwnedSemaphorePermit,
) {
    let span = tracing::info_span!(
        "task",
        topic = %task.topic_name(),
        task_id = %task.task_id(),
        process_instance_id = task.process_instance_id().unwrap_or(""),
    );
    process_inner(shared, task, permit).instrument(span).await;
}

async fn process_inner<E: Engine>(
    shared: Arc<Shared<E>>,
    task: TaskRef,
    permit: OwnedSemaphorePermit,
) {
    let key = TaskKey::new(task.engine_type(), task.task_id());
    let topic = task.topic_name().to_owned();
    let _guard = InFlightGuard::new(&shared.counters, &topic);
    let timeline = store_timeline(&shared, &key);
    let mapping = shared.mappings.get(&topic).cloned();
    let lock_duration = mapping
        .as_ref()
        .and_then(|m| m.lock_duration)
        .unwrap_or(shared.config.lock_duration);
    let policy = mapping
        .as_ref()
        .map(|m| m.retry.clone())
        .unwrap_or_default();

    let mut fetched = TaskRecord::from_task(&*task, &shared.worker_id);
    fetched.worker_id = shared.worker_id.to_string();
    let keeper = LockKeeper::default();
    if let Some(at) = fetched.lock_expires_at {
        keeper.set_expiry(at);
    }
    let claimed = if shared.graceful.is_cancelled() {
        // Shutting down: the unit does not start, so the task is not claimed (that would count
        // an execution that never happens). A stored result is still delivered.
        not_started(&shared, &fetched).await
    } else {
        shared.store.claim(&fetched).await.map(Some)
    };
    let (mut record, stored_result) = match claimed {
        Ok(Some(Claim::Performed(prev))) => {
            info!(
                "fetched again after its unit succeeded: completing it from the stored result without running the unit again"
            );
            timeline.record(
                EventKind::Recovery,
                "fetched again after its unit had succeeded: completing it from the stored result without running the unit again",
                json!({ "previousWorkerId": prev.worker_id }),
            );
            let mut record = fetched;
            record.created_at = prev.created_at;
            record.executions = prev.executions;
            record.status = TaskStatus::Performed;
            record.result_variables = prev.result_variables.clone();
            (record, prev.result_variables)
        }
        Ok(Some(Claim::Run { record, previous })) => {
            if record.executions > 1 {
                note_rerun(&timeline, record.executions, previous);
            }
            (record, None)
        }
        Ok(None) => {
            unlock_unstarted(&shared, &key, &timeline, "the worker is shutting down").await;
            return;
        }
        Err(e) => {
            error!(
                "cannot write the task's record ({e}); unlocking the task so that it is fetched again later"
            );
            unlock_unstarted(&shared, &key, &timeline, "the task store failed").await;
            // Hold the slot a moment: a failing store must not turn into a fetch/unlock spin.
            tokio::time::sleep(Duration::from_secs(1)).await;
            return;
        }
    };

    let stop = CancellationToken::new();
    let ctx = TaskCtx {
        shared: &shared,
        task: &task,
        topic: &topic,
        timeline: &timeline,
        keeper: &keeper,
        policy: &policy,
    };
    let work = async {
        let delivered = ctx.work(&mut record, stored_result).await;
        ctx.keeper.done.store(true, Ordering::SeqCst);
        stop.cancel();
        delivered
    };
    let (delivered, ()) = tokio::join!(work, ctx.heartbeat(lock_duration, &stop));
    drop(permit);
    if let Delivered::Completed = delivered {
        ctx.callback().await;
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

/// One task's context.
struct TaskCtx<'a, E> {
    shared: &'a Arc<Shared<E>>,
    task: &'a TaskRef,
    topic: &'a str,
    timeline: &'a Timeline,
    keeper: &'a LockKeeper,
    policy: &'a RetryPolicy,
}

impl<E: Engine> TaskCtx<'_, E> {
    async fn save(&self, record: &mut TaskRecord) {
        self.touch(record);
        if let Err(e) = self.shared.store.save(record).await {
            error!("cannot update the task's record: {e}");
        }
    }

    fn touch(&self, record: &mut TaskRecord) {
        record.updated_at = Timestamp::now();
        if let Some(at) = self.keeper.expiry() {
            record.lock_expires_at = Some(at);
        }
    }

    async fn work(&self, record: &mut TaskRecord, stored_result: Option<Variables>) -> Delivered {
        let shared = self.shared;
        if let Some(result) = stored_result {
            self.save(record).await;
            let delivered = self.deliver_completion(record, &result).await;
            if let Delivered::Completed = delivered {
                Counters::add(&shared.counters.recovered);
            }
            return delivered;
        }
        let mut run = TaskRun::new(Arc::clone(self.task))
            .with_timeline(self.timeline.clone())
            .with_extensions(shared.extensions.clone());
        let started = Instant::now();
        let result = execute(&mut run, &shared.registry, &shared.mappings).await;
        ::metrics::histogram!(metrics::UNIT_DURATION, "topic" => self.topic.to_owned())
            .record(started.elapsed().as_secs_f64());
        match result {
            Ok(vars) => {
                record.status = TaskStatus::Performed;
                record.result_variables = Some(vars.clone());
                self.save(record).await;
                if self.gone() {
                    return Delivered::Other;
                }
                self.deliver_completion(record, &vars).await
            }
            Err(ExecuteError::TaskExpired { expired_at, .. }) => {
                warn!(
                    "the lock expired at {expired_at} before the unit could start; not running it (the engine hands the task out again)"
                );
                self.timeline.record(
                    EventKind::Note,
                    format!(
                        "not run: the lock expired at {expired_at} before the unit could start"
                    ),
                    serde_json::Value::Null,
                );
                record.status = TaskStatus::Initial;
                self.save(record).await;
                Counters::add(&shared.counters.not_reported);
                Delivered::Other
            }
            Err(err) => {
                record.status = TaskStatus::Failed;
                record.execution_error = Some(match &err {
                    ExecuteError::Unit(u) => u.chain(),
                    other => other.to_string(),
                });
                if run.status != TaskStatus::Failed {
                    // The unit never ran (no mapping, unknown unit, ...): say so on the timeline.
                    self.timeline.record(
                        EventKind::Status,
                        format!("{} → failed: {err}", run.status),
                        json!({ "from": run.status.as_str(), "to": "failed" }),
                    );
                }
                self.save(record).await;
                if self.gone() {
                    return Delivered::Other;
                }
                match err {
                    ExecuteError::Unit(UnitError::BpmnError(bpmn)) => {
                        self.deliver_bpmn_error(record, &bpmn).await
                    }
                    other => {
                        let report = failure_report(&other, self.policy, self.task.retries());
                        self.deliver_failure(record, &report).await
                    }
                }
            }
        }
    }

    /// Whether the task was cancelled while the unit ran (then nothing is reported).
    fn gone(&self) -> bool {
        if self.keeper.cancelled.load(Ordering::SeqCst) {
            info!("the task was cancelled while its unit ran: the outcome is not reported");
            self.timeline.record(
                EventKind::Note,
                "the task was cancelled in the engine while its unit ran: the outcome is not reported",
                serde_json::Value::Null,
            );
            Counters::add(&self.shared.counters.cancelled);
            true
        } else {
            false
        }
    }

    async fn deliver_completion(&self, record: &mut TaskRecord, vars: &Variables) -> Delivered {
        let shared = self.shared;
        let task_id = self.task.task_id();
        let worker_id: &str = &shared.worker_id;
        let result = self
            .report("completing", || {
                shared.engine.complete(task_id, worker_id, vars)
            })
            .await;
        match result {
            Ok(()) => {
                record.status = TaskStatus::Completed;
                record.reported_at = Some(Timestamp::now());
                self.timeline.record(
                    EventKind::Status,
                    "performed → completed",
                    json!({ "from": "performed", "to": "completed" }),
                );
                self.save(record).await;
                Counters::add(&shared.counters.completed);
                ::metrics::counter!(metrics::TASKS_COMPLETED, "topic" => self.topic.to_owned())
                    .increment(1);
                debug!("completed");
                Delivered::Completed
            }
            Err(e) if matches!(e.kind, EngineErrorKind::BadRequest | EngineErrorKind::Other) => {
                // Tell the engine rather than leave the task to expire and run again. The record
                // stays `performed`, so a retry completes from it without running the unit.
                warn!("the engine refused the completion: {e}; reporting a failure instead");
                self.engine_error(record, "the engine refused the completion", &e);
                self.save(record).await;
                let (retries, retry_timeout) = self.policy.after_failure(self.task.retries());
                let report = FailureReport {
                    error_message: one_line(&format!(
                        "The engine refused the completion: {}",
                        e.message
                    )),
                    error_details: Some(engine_error_text(&e)),
                    retries,
                    retry_timeout,
                };
                self.deliver_failure(record, &report).await
            }
            Err(e) => {
                self.undelivered(record, "the completion", &e, true).await;
                Delivered::Other
            }
        }
    }

    async fn deliver_failure(&self, record: &mut TaskRecord, report: &FailureReport) -> Delivered {
        let shared = self.shared;
        let task_id = self.task.task_id();
        let worker_id: &str = &shared.worker_id;
        match self
            .report("reporting the failure", || {
                shared.engine.failure(task_id, worker_id, report)
            })
            .await
        {
            Ok(()) => {
                record.reported_at = Some(Timestamp::now());
                self.timeline.record(
                    EventKind::Note,
                    format!(
                        "failure reported: {} ({} retries left, next try in {})",
                        report.error_message,
                        report.retries,
                        format_duration(report.retry_timeout)
                    ),
                    json!({ "errorMessage": report.error_message, "retries": report.retries,
                            "retryTimeoutMs": report.retry_timeout.as_millis() as u64 }),
                );
                self.save(record).await;
                Counters::add(&shared.counters.failed);
                ::metrics::counter!(metrics::TASKS_FAILED, "topic" => self.topic.to_owned())
                    .increment(1);
                if report.retries == 0 {
                    warn!(error = %report.error_message, "failure reported with no retries left: the engine raises an incident");
                } else {
                    info!(error = %report.error_message, retries = report.retries, "failure reported");
                }
            }
            Err(e) => self.undelivered(record, "the failure", &e, false).await,
        }
        Delivered::Other
    }

    async fn deliver_bpmn_error(
        &self,
        record: &mut TaskRecord,
        bpmn: &crate::error::BpmnError,
    ) -> Delivered {
        let shared = self.shared;
        let task_id = self.task.task_id();
        let worker_id: &str = &shared.worker_id;
        match self
            .report("reporting the BPMN error", || {
                shared.engine.bpmn_error(task_id, worker_id, bpmn)
            })
            .await
        {
            Ok(()) => {
                record.reported_at = Some(Timestamp::now());
                self.timeline.record(
                    EventKind::Note,
                    format!("BPMN error {} reported: {}", bpmn.code, bpmn.message),
                    json!({ "errorCode": bpmn.code, "errorMessage": bpmn.message }),
                );
                self.save(record).await;
                Counters::add(&shared.counters.bpmn_errors);
                ::metrics::counter!(metrics::TASKS_BPMN_ERRORS, "topic" => self.topic.to_owned())
                    .increment(1);
                info!(code = %bpmn.code, "BPMN error reported");
            }
            Err(e) => self.undelivered(record, "the BPMN error", &e, false).await,
        }
        Delivered::Other
    }

    fn engine_error(&self, record: &mut TaskRecord, context: &str, e: &EngineError) {
        record.engine_error = Some(engine_error_text(e));
        self.timeline.record(
            EventKind::EngineError,
            format!("{context}: {e}"),
            engine_error_json(e),
        );
    }

    /// An outcome could not be delivered: record why and what happens next.
    async fn undelivered(
        &self,
        record: &mut TaskRecord,
        what: &str,
        e: &EngineError,
        performed: bool,
    ) {
        let counters = &self.shared.counters;
        match e.kind {
            EngineErrorKind::NotFound => {
                warn!(
                    "the engine no longer knows the task (cancelled or handled elsewhere): {what} is not delivered"
                );
                self.engine_error(
                    record,
                    &format!("the engine no longer knows the task (cancelled, or handled elsewhere); {what} is not delivered"),
                    e,
                );
                if performed {
                    record.status = TaskStatus::Failed;
                }
                Counters::add(&counters.cancelled);
            }
            EngineErrorKind::LockedByOther => {
                warn!(
                    "another worker holds the task now: {what} is not delivered; that worker handles the task"
                );
                self.engine_error(
                    record,
                    &format!("another worker holds the task now; {what} is not delivered"),
                    e,
                );
                Counters::add(&counters.not_reported);
            }
            _ => {
                let expiry = self
                    .keeper
                    .expiry()
                    .map_or_else(|| "soon".to_owned(), |t| format!("at {t}"));
                let next = if performed {
                    "it is fetched again and completed from its stored result without running the unit again"
                } else {
                    "it is fetched again and its unit runs again"
                };
                warn!("giving up delivering {what}: {e}; the lock expires {expiry}, then {next}");
                self.engine_error(
                    record,
                    &format!(
                        "gave up delivering {what} after {} attempts; the lock expires {expiry}, then {next}",
                        self.shared.config.report_attempts.max(1)
                    ),
                    e,
                );
                Counters::add(&counters.not_reported);
            }
        }
        self.save(record).await;
    }

    /// Run an engine call, retrying conflicts and transient errors with backoff.
    async fn report<F, Fut>(&self, what: &str, mut call: F) -> Result<(), EngineError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), EngineError>>,
    {
        let attempts = self.shared.config.report_attempts.max(1);
        let mut backoff = Backoff::new(self.shared.config.report_backoff, Duration::from_secs(5));
        let mut attempt = 1;
        loop {
            let result = {
                let _op = self.keeper.op.lock().await;
                let result = call().await;
                if result.is_ok() {
                    self.keeper.done.store(true, Ordering::SeqCst);
                }
                result
            };
            match result {
                Err(e) if e.is_retryable() && attempt < attempts => {
                    let wait = backoff.next_delay();
                    ::metrics::counter!(metrics::REPORT_RETRIES, "topic" => self.topic.to_owned())
                        .increment(1);
                    debug!(
                        "{what} failed (attempt {attempt} of {attempts}): {e}; retrying in {wait:?}"
                    );
                    self.timeline.record(
                        EventKind::EngineError,
                        format!(
                            "{what} failed (attempt {attempt} of {attempts}): {e}; retrying in {}",
                            format_duration(wait)
                        ),
                        engine_error_json(&e),
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

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
            let _op = self.keeper.op.lock().await;
            if self.keeper.done.load(Ordering::SeqCst) || stop.is_cancelled() {
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
        self.keeper.set_expiry(expires);
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
        self.keeper.cancelled.store(true, Ordering::SeqCst);
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
        self.keeper.lost.store(true, Ordering::SeqCst);
        warn!("the lock is lost ({e}; locking again: {relock}): another worker may run the task");
        self.timeline.record(
            EventKind::EngineError,
            format!(
                "the lock is lost ({e}; locking again: {relock}): another worker may run the task"
            ),
            engine_error_json(e),
        );
    }

    /// POST to the process variable `callbackUrl`, if set.
    async fn callback(&self) {
        let url = self
            .task
            .get_variables()
            .ok()
            .and_then(|vars| {
                vars.get("callbackUrl")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            })
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty());
        let Some(url) = url else { return };
        let shown = redact_url(&url);
        let Some(sender) = &self.shared.callback else {
            warn!("callbackUrl {shown} is set but this worker has no callback sender: not called");
            self.timeline.record(
                EventKind::Callback,
                format!("callbackUrl {shown} not called: this worker has no callback sender"),
                json!({ "url": shown }),
            );
            return;
        };
        let body = json!({
            "taskId": self.task.task_id(),
            "topic": self.topic,
            "processInstanceId": self.task.process_instance_id(),
            "status": "completed",
        });
        let limit = self.shared.config.callback_timeout;
        let outcome = tokio::time::timeout(
            limit + Duration::from_secs(1),
            sender.post_json(&url, &body, limit),
        )
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {}", format_duration(limit))));
        match outcome {
            Ok(status) if (200..300).contains(&status) => {
                debug!("callback {shown} answered {status}");
                self.timeline.record(
                    EventKind::Callback,
                    format!("POST {shown} → {status}"),
                    json!({ "url": shown, "status": status }),
                );
            }
            Ok(status) => {
                warn!("callback {shown} answered {status}");
                self.timeline.record(
                    EventKind::Callback,
                    format!("POST {shown} → {status} (not a success; the task stays completed)"),
                    json!({ "url": shown, "status": status }),
                );
            }
            Err(message) => {
                warn!("callback {shown} failed: {message}");
                self.timeline.record(
                    EventKind::Callback,
                    format!("POST {shown} failed: {message} (the task stays completed)"),
                    json!({ "url": shown, "error": message }),
                );
            }
        }
    }
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

/// Unlock a task whose unit was aborted at the end of the shutdown grace period.
pub(crate) async fn unlock_aborted<E: Engine>(shared: &Shared<E>, key: &TaskKey) {
    let timeline = store_timeline(shared, key);
    if let Ok(Some(mut record)) = shared.store.get(key).await
        && matches!(record.status, TaskStatus::Initial | TaskStatus::InProgress)
    {
        record.status = TaskStatus::Failed;
        record.execution_error =
            Some("aborted: the worker's shutdown grace period ended while the unit ran".into());
        record.updated_at = Timestamp::now();
        let _ = shared.store.save(&record).await;
        timeline.record(
            EventKind::Status,
            "in_progress → failed: aborted at the end of the shutdown grace period",
            json!({ "from": "in_progress", "to": "failed" }),
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

/// At start-up: complete tasks that were performed but never completed, note abandoned ones.
pub(crate) async fn recover<E: Engine>(shared: &Arc<Shared<E>>) {
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
    for mut record in performed {
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
        let key = record.key();
        let span = tracing::info_span!("recover", topic = %record.topic, task_id = %record.task_id);
        let _enter = span.enter();
        let timeline = store_timeline(shared, &key);
        timeline.record(
            EventKind::Recovery,
            format!(
                "performed but not completed at start-up: completing it with the stored result under worker id {}",
                record.worker_id
            ),
            json!({ "workerId": record.worker_id }),
        );
        let mut backoff = Backoff::new(shared.config.report_backoff, Duration::from_secs(5));
        let attempts = shared.config.report_attempts.max(1);
        let mut attempt = 1;
        let result = loop {
            match shared
                .engine
                .complete(&record.task_id, &record.worker_id, &vars)
                .await
            {
                Err(e) if e.is_retryable() && attempt < attempts => {
                    tokio::time::sleep(backoff.next_delay()).await;
                    attempt += 1;
                }
                other => break other,
            }
        };
        record.updated_at = Timestamp::now();
        match result {
            Ok(()) => {
                info!("recovered: completed from the stored result");
                record.status = TaskStatus::Completed;
                record.reported_at = Some(Timestamp::now());
                timeline.record(
                    EventKind::Status,
                    "performed → completed",
                    json!({ "from": "performed", "to": "completed" }),
                );
                Counters::add(&shared.counters.completed);
                Counters::add(&shared.counters.recovered);
                ::metrics::counter!(metrics::TASKS_COMPLETED, "topic" => record.topic.clone())
                    .increment(1);
            }
            Err(e) => {
                record.engine_error = Some(engine_error_text(&e));
                let message = match e.kind {
                    EngineErrorKind::NotFound => {
                        record.status = TaskStatus::Failed;
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
            error!("cannot update the task's record: {e}");
        }
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

/// What the engine hears when a task fails.
///
/// * a unit's own [`Failure`](crate::Failure) retries/retry timeout override the policy;
/// * a missing or invalid variable gets **0 retries** (an immediate incident): retrying cannot
///   make a variable appear, the operator fixes the process data and sets retries again;
/// * everything else (failures, panics, timeouts, other errors, a missing mapping or unit)
///   follows the mapping's retry policy, counted down from the task's current retries.
pub(crate) fn failure_report(
    err: &ExecuteError,
    policy: &RetryPolicy,
    current_retries: Option<i32>,
) -> FailureReport {
    let (retries, retry_timeout) = policy.after_failure(current_retries);
    match err {
        ExecuteError::Unit(unit @ UnitError::Failure(f)) => FailureReport {
            error_message: one_line(&f.message),
            error_details: Some(f.details.clone().unwrap_or_else(|| unit.chain())),
            retries: f.retries.unwrap_or(retries).max(0),
            retry_timeout: f.retry_timeout.unwrap_or(retry_timeout),
        },
        ExecuteError::Unit(
            unit @ (UnitError::MissingVariable { .. } | UnitError::InvalidVariable { .. }),
        ) => FailureReport {
            error_message: one_line(&unit.to_string()),
            error_details: Some(unit.chain()),
            retries: 0,
            retry_timeout: Duration::ZERO,
        },
        ExecuteError::Unit(unit) => FailureReport {
            error_message: one_line(&unit.to_string()),
            error_details: Some(unit.chain()),
            retries,
            retry_timeout,
        },
        other => FailureReport {
            error_message: one_line(&other.to_string()),
            error_details: Some(other.to_string()),
            retries,
            retry_timeout,
        },
    }
}

/// The first non-empty line, at most 500 characters (engines show it in incidents).
pub(crate) fn one_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("the work unit failed without a message");
    if line.chars().count() > 500 {
        let mut cut: String = line.chars().take(499).collect();
        cut.push('…');
        cut
    } else {
        line.to_owned()
    }
}

fn engine_error_text(e: &EngineError) -> String {
    let mut text = e.message.clone();
    if let Some(status) = e.status {
        text.push_str(&format!(" (HTTP {status})"));
    }
    if let Some(body) = &e.body {
        text.push_str(": ");
        text.push_str(body);
    }
    text
}

fn engine_error_json(e: &EngineError) -> serde_json::Value {
    json!({ "kind": format!("{:?}", e.kind), "status": e.status, "body": e.body, "message": e.message })
}

/// A URL without its user info, query and fragment (they may carry credentials or tokens).
fn redact_url(url: &str) -> String {
    let (base, cut) = match url.find(['?', '#']) {
        Some(i) => (&url[..i], true),
        None => (url, false),
    };
    let base = match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://***@{host}{}", &rest[authority_end..]),
                None => base.to_owned(),
            }
        }
        None => base.to_owned(),
    };
    if cut { format!("{base}?…") } else { base }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::Failure;

    #[test]
    fn failure_reports_follow_the_decisions() {
        let policy = RetryPolicy {
            retries: 3,
            retry_timeout: Duration::from_secs(10),
            ..RetryPolicy::default()
        };
        let own = ExecuteError::Unit(Failure::new("down\nmore").retries(7).into());
        let r = failure_report(&own, &policy, Some(2));
        assert_eq!((r.error_message.as_str(), r.retries), ("down", 7));
        assert_eq!(r.retry_timeout, Duration::from_secs(10));
        let panic = ExecuteError::Unit(UnitError::Panic("boom".into()));
        let r = failure_report(&panic, &policy, Some(1));
        assert_eq!(r.retries, 0);
        assert_eq!(r.error_message, "the work unit panicked: boom");
        let r = failure_report(&panic, &policy, None);
        assert_eq!(r.retries, 2);
        let missing = ExecuteError::Unit(UnitError::missing_variable("amount"));
        assert_eq!(failure_report(&missing, &policy, None).retries, 0);
        let negative = ExecuteError::Unit(Failure::new("x").retries(-3).into());
        assert_eq!(failure_report(&negative, &policy, None).retries, 0);
        let no_callback = ExecuteError::NoCallback("Could not find a mapping.".into());
        assert_eq!(failure_report(&no_callback, &policy, None).retries, 2);
    }

    #[test]
    fn one_line_and_redaction() {
        assert_eq!(one_line("\n  first \nsecond"), "first");
        assert_eq!(one_line(""), "the work unit failed without a message");
        assert_eq!(one_line(&"x".repeat(600)).chars().count(), 500);
        assert_eq!(redact_url("http://h/p?token=s"), "http://h/p?…");
        assert_eq!(redact_url("http://h/p"), "http://h/p");
        assert_eq!(
            redact_url("https://hook:s3cret@h:8443/p?x=1"),
            "https://***@h:8443/p?…"
        );
        assert_eq!(redact_url("https://user@h"), "https://***@h");
    }
}
