//! Stage 6, report: the one retrying reporter, used for every outcome of a task and by
//! start-up recovery. Conflicts and transient errors are retried with backoff, each failed
//! attempt on the task's timeline and counted in the metrics; a shutdown that stops waiting
//! (an immediate one for tasks, any for recovery) ends the retries.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::lease::Lease;
use super::record::engine_error_json;
use super::{Backoff, Shared, metrics};
use crate::duration::format_duration;
use crate::engine::EngineError;
use crate::timeline::{EventKind, Timeline};

/// Makes one engine call about one task until it succeeds, fails for good, or the attempts run
/// out.
pub(super) struct Reporter<'a> {
    /// The task's timeline.
    pub(super) timeline: &'a Timeline,
    /// The task's topic, for the metrics.
    pub(super) topic: &'a str,
    /// The lock on the task, when a unit of this worker holds it (not in recovery).
    pub(super) lease: Option<&'a Lease>,
    /// When cancelled, no more retries.
    pub(super) stop: &'a CancellationToken,
    /// At most this many attempts (at least one).
    pub(super) attempts: u32,
    /// The first wait between attempts (doubling, at most 5 s).
    pub(super) backoff: Duration,
}

impl<'a> Reporter<'a> {
    /// The reporter of `shared`'s configuration.
    pub(super) fn new<E>(
        shared: &'a Shared<E>,
        timeline: &'a Timeline,
        topic: &'a str,
        lease: Option<&'a Lease>,
        stop: &'a CancellationToken,
    ) -> Self {
        Self {
            timeline,
            topic,
            lease,
            stop,
            attempts: shared.config.report_attempts.max(1),
            backoff: shared.config.report_backoff,
        }
    }

    /// Run `call` (`what` names it: "completing", ...), retrying retryable errors.
    pub(super) async fn send<F, Fut>(&self, what: &str, mut call: F) -> Result<(), EngineError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), EngineError>>,
    {
        let attempts = self.attempts.max(1);
        let mut backoff = Backoff::new(self.backoff, Duration::from_secs(5));
        let mut attempt = 1;
        loop {
            let result = match self.lease {
                Some(lease) => lease.call(call()).await,
                None => call().await,
            };
            match result {
                Err(e) if e.is_retryable() && attempt < attempts && !self.stop.is_cancelled() => {
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
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = self.stop.cancelled() => return Err(e),
                    }
                    attempt += 1;
                }
                Err(e) => {
                    ::metrics::counter!(
                        metrics::REPORT_ERRORS,
                        "topic" => self.topic.to_owned(),
                        "kind" => metrics::engine_error_kind(&e)
                    )
                    .increment(1);
                    return Err(e);
                }
                Ok(()) => return Ok(()),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::engine::EngineErrorKind;
    use std::cell::Cell;

    fn reporter<'a>(timeline: &'a Timeline, stop: &'a CancellationToken) -> Reporter<'a> {
        Reporter {
            timeline,
            topic: "t",
            lease: None,
            stop,
            attempts: 3,
            backoff: Duration::from_millis(1),
        }
    }

    #[tokio::test]
    async fn retries_transient_errors_and_records_every_attempt() {
        let timeline = Timeline::new();
        let stop = CancellationToken::new();
        let calls = Cell::new(0);
        let result = reporter(&timeline, &stop)
            .send("completing", || {
                calls.set(calls.get() + 1);
                async { Err(EngineError::new(EngineErrorKind::Transient, "down")) }
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls.get(), 3);
        let entries = timeline.entries();
        assert_eq!(
            entries.len(),
            2,
            "the last attempt's error is the caller's to record"
        );
        assert!(
            entries[0]
                .message
                .starts_with("completing failed (attempt 1 of 3)")
        );
    }

    #[tokio::test]
    async fn stops_at_success_a_final_error_or_a_shutdown() {
        let timeline = Timeline::new();
        let stop = CancellationToken::new();
        let calls = Cell::new(0);
        let r = reporter(&timeline, &stop);
        let ok = r
            .send("x", || {
                calls.set(calls.get() + 1);
                async { Ok(()) }
            })
            .await;
        assert!(ok.is_ok());
        let gone = r
            .send("x", || {
                calls.set(calls.get() + 1);
                async { Err(EngineError::new(EngineErrorKind::NotFound, "gone")) }
            })
            .await;
        assert!(gone.is_err());
        stop.cancel();
        let stopped = r
            .send("x", || {
                calls.set(calls.get() + 1);
                async { Err(EngineError::new(EngineErrorKind::Transient, "down")) }
            })
            .await;
        assert!(stopped.is_err());
        assert_eq!(calls.get(), 3, "one call each");
        assert!(timeline.entries().is_empty());
    }
}
