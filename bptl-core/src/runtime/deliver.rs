//! Stage 6 and 7, deliver: tell the engine the outcome through the [`Reporter`], then record
//! its answer (status, engine error, counters, metrics). What happens when the engine does not
//! take it: a completion it refuses becomes a failure report; a task it no longer knows is
//! given up; anything else waits for the lock to expire and the task to be fetched again.

use tracing::{debug, info, warn};

use super::outcome::{Outcome, refused_completion};
use super::process::TaskCtx;
use super::record::engine_error_text;
use super::report::Reporter;
use super::{Counters, metrics};
use crate::duration::format_duration;
use crate::engine::{Engine, EngineError, EngineErrorKind, FailureReport};
use crate::store::TaskRecord;
use crate::timeline::EventKind;
use crate::value::Variables;
use serde_json::json;

impl<'a, E: Engine> TaskCtx<'a, E> {
    /// The reporter for this task's outcome: under its lease, stopped by an immediate shutdown.
    fn reporter(&self) -> Reporter<'_> {
        Reporter::new(
            self.shared,
            self.timeline,
            self.topic,
            Some(self.lease),
            &self.shared.immediate,
        )
    }

    /// Deliver the decided outcome; whether the engine accepted a completion.
    pub(super) async fn deliver(&self, record: &mut TaskRecord, outcome: Outcome) -> bool {
        match outcome {
            Outcome::Complete(vars) => self.deliver_completion(record, &vars).await,
            Outcome::Fail(report) => self.deliver_failure(record, &report).await,
            Outcome::BpmnError(bpmn) => self.deliver_bpmn_error(record, &bpmn).await,
            Outcome::Cancelled => {
                info!("the task was cancelled while its unit ran: the outcome is not reported");
                self.timeline.record(
                    EventKind::Note,
                    "the task was cancelled in the engine while its unit ran: the outcome is not reported",
                    serde_json::Value::Null,
                );
                Counters::add(&self.shared.counters.cancelled);
                false
            }
        }
    }

    pub(super) async fn deliver_completion(
        &self,
        record: &mut TaskRecord,
        vars: &Variables,
    ) -> bool {
        let shared = self.shared;
        let task_id = self.task.task_id();
        let worker_id: &str = &shared.worker_id;
        let result = self
            .reporter()
            .send("completing", || {
                shared.engine.complete(task_id, worker_id, vars)
            })
            .await;
        match result {
            Ok(()) => {
                self.note(record.complete(), None);
                self.save(record).await;
                Counters::add(&shared.counters.completed);
                ::metrics::counter!(metrics::TASKS_COMPLETED, "topic" => self.topic.to_owned())
                    .increment(1);
                debug!("completed");
                true
            }
            Err(e) if matches!(e.kind, EngineErrorKind::BadRequest | EngineErrorKind::Other) => {
                // Tell the engine rather than leave the task to expire and run again. The record
                // stays `performed`, so a retry completes from it without running the unit.
                warn!("the engine refused the completion: {e}; reporting a failure instead");
                self.engine_error(record, "the engine refused the completion", &e);
                self.save(record).await;
                let report =
                    refused_completion(&e, engine_error_text(&e), self.policy, self.task.retries());
                self.deliver_failure(record, &report).await
            }
            Err(e) => {
                self.undelivered(record, "the completion", &e, true).await;
                false
            }
        }
    }

    async fn deliver_failure(&self, record: &mut TaskRecord, report: &FailureReport) -> bool {
        let shared = self.shared;
        let task_id = self.task.task_id();
        let worker_id: &str = &shared.worker_id;
        match self
            .reporter()
            .send("reporting the failure", || {
                shared.engine.failure(task_id, worker_id, report)
            })
            .await
        {
            Ok(()) => {
                // The retries the engine has now: what a restart (schedules) reads.
                record.retries = Some(report.retries);
                record.reported();
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
        false
    }

    async fn deliver_bpmn_error(
        &self,
        record: &mut TaskRecord,
        bpmn: &crate::error::BpmnError,
    ) -> bool {
        let shared = self.shared;
        let task_id = self.task.task_id();
        let worker_id: &str = &shared.worker_id;
        match self
            .reporter()
            .send("reporting the BPMN error", || {
                shared.engine.bpmn_error(task_id, worker_id, bpmn)
            })
            .await
        {
            Ok(()) => {
                record.reported();
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
        false
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
                    self.note(
                        record.abandon_result(),
                        Some("the engine no longer knows the task"),
                    );
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
                    .lease
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
}
