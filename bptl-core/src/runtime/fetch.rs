//! Stage 1, fetch: one long poll for the topics of all active mappings, asking for exactly as
//! many tasks as there are free slots; backoff while the engine is away; and the long poll a
//! shutdown finds parked at the engine, kept so that the tasks it locks are unlocked.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use tokio::sync::OwnedSemaphorePermit;
use tracing::{debug, info, warn};

use super::{Backoff, LoopPhase, Shared, WorkerConfig, metrics};
use crate::duration::format_duration;
use crate::engine::{Engine, EngineError, EngineErrorKind, FetchRequest, TopicRequest};
use crate::task::TaskRef;

/// How long a long poll kept through the shutdown may still take to answer once the engine
/// accepted outcomes of this worker: a completion may or may not have created a task the poll
/// takes.
const POLL_LINGER: Duration = Duration::from_millis(300);

/// The same once this worker unlocked aborted tasks: the poll takes them again for certain
/// (when it has slots), so it is waited for longer (a busy engine may take a while to answer).
const POLL_LINGER_AFTER_UNLOCK: Duration = Duration::from_secs(5);

/// How long a fetch may take before it counts as failed: the long poll's timeout plus 30 s
/// (guards against a long poll that never answers, e.g. over a half-open connection).
pub(super) fn fetch_deadline(config: &WorkerConfig) -> Duration {
    config.async_response_timeout + Duration::from_secs(30)
}

/// The engine's answer to a fetch, or the fetch deadline passing.
type FetchResult = Result<Result<Vec<TaskRef>, EngineError>, tokio::time::error::Elapsed>;

/// A fetch under way.
type PendingFetch<'a> = Pin<Box<dyn Future<Output = FetchResult> + Send + 'a>>;

/// What one round of fetching gave.
pub(super) enum Fetched<'a> {
    /// Tasks (possibly none), with the slots taken for them.
    Tasks(Vec<TaskRef>, Vec<OwnedSemaphorePermit>),
    /// The fetch failed; the backoff wait is over: fetch again.
    Failed,
    /// The shutdown came: stop fetching. A long poll still parked at the engine is kept.
    Stopped(Option<KeptPoll<'a>>),
}

/// The fetching state of a worker: its topics, the backoff while the engine is away.
pub(super) struct Fetcher<'a, E> {
    shared: &'a Shared<E>,
    topics: Vec<TopicRequest>,
    backoff: Backoff,
    engine_down: bool,
    /// Guard against a long poll that never answers (e.g. a half-open connection).
    deadline: Duration,
}

impl<'a, E: Engine> Fetcher<'a, E> {
    pub(super) fn new(shared: &'a Shared<E>, topics: Vec<TopicRequest>) -> Self {
        let config = &shared.config;
        Self {
            shared,
            topics,
            backoff: Backoff::new(config.engine_backoff_min, config.engine_backoff_max),
            engine_down: false,
            deadline: fetch_deadline(config),
        }
    }

    /// Fetch and lock up to `permits.len()` tasks (at least one permit).
    pub(super) async fn fetch(&mut self, permits: Vec<OwnedSemaphorePermit>) -> Fetched<'a> {
        let shared = self.shared;
        let config = &shared.config;
        let request = FetchRequest {
            worker_id: shared.worker_id.to_string(),
            max_tasks: permits.len(),
            use_priority: config.use_priority,
            async_response_timeout: Some(config.async_response_timeout),
            topics: self.topics.clone(),
        };
        let started = Instant::now();
        let deadline = self.deadline;
        let mut poll: PendingFetch<'a> = Box::pin(async move {
            tokio::time::timeout(deadline, shared.engine.fetch_and_lock(&request)).await
        });
        let answered = tokio::select! {
            r = &mut poll => r,
            () = shared.graceful.cancelled() => {
                // Camunda and Operaton keep a long poll whose client went away and lock the
                // next tasks for it: kept while running units finish, so that what it locks is
                // unlocked.
                return Fetched::Stopped(Some(KeptPoll { poll, permits }));
            }
        };
        match self.answer(answered) {
            Ok(tasks) => {
                // An engine that answers an empty long poll at once must not make us spin.
                if tasks.is_empty() && started.elapsed() < Duration::from_millis(50) {
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(50)) => {}
                        () = shared.graceful.cancelled() => return Fetched::Stopped(None),
                    }
                }
                Fetched::Tasks(tasks, permits)
            }
            Err(e) => {
                drop(permits);
                shared.health.engine_failed(&e.to_string());
                ::metrics::counter!(metrics::FETCH_ERRORS, "kind" => metrics::engine_error_kind(&e))
                    .increment(1);
                shared.health.enter(LoopPhase::BackingOff);
                let wait = self.backoff.next_delay();
                if self.engine_down {
                    debug!(error = %e, "fetch failed again; next try in {wait:?}");
                } else {
                    self.engine_down = true;
                    warn!(error = %e, "cannot fetch tasks: the engine is unreachable or failing; retrying with backoff (next try in {wait:?})");
                }
                tokio::select! {
                    () = tokio::time::sleep(wait) => Fetched::Failed,
                    () = shared.graceful.cancelled() => Fetched::Stopped(None),
                }
            }
        }
    }

    fn answer(&mut self, answered: FetchResult) -> Result<Vec<TaskRef>, EngineError> {
        let tasks = answered.unwrap_or_else(|_| {
            Err(EngineError::new(
                EngineErrorKind::Transient,
                format!(
                    "the engine did not answer a fetch within {}",
                    format_duration(self.deadline)
                ),
            ))
        })?;
        self.shared.health.engine_answered();
        if self.engine_down {
            info!("engine is reachable again: fetching resumes");
            self.engine_down = false;
        }
        self.backoff.reset();
        Ok(tasks)
    }
}

/// The long poll a shutdown found parked at the engine, with its slots.
///
/// Camunda and Operaton do not notice a client that went away and lock the next tasks for its
/// request, under this worker's id, until their lock expires. Kept while units run, its tasks
/// arrive and are unlocked at once (their units never start); once nothing runs any more it
/// gets a [`linger`](KeptPoll::linger) to answer, or is dropped, so an idle worker still stops
/// at once.
pub(super) struct KeptPoll<'a> {
    poll: PendingFetch<'a>,
    permits: Vec<OwnedSemaphorePermit>,
}

impl KeptPoll<'_> {
    /// The poll's answer, as long as units run. Cancel-safe: the poll stays kept.
    pub(super) async fn answer(&mut self) -> FetchResult {
        self.poll.as_mut().await
    }

    /// The slots taken for the poll.
    pub(super) fn into_permits(self) -> Vec<OwnedSemaphorePermit> {
        self.permits
    }

    /// The poll's last chance once nothing runs any more: when the engine accepted outcomes or
    /// unlocks of this worker during the shutdown (any may make a task fetchable), it gets
    /// [`POLL_LINGER`] ([`POLL_LINGER_AFTER_UNLOCK`] after aborted tasks were unlocked: the
    /// poll takes them again for certain) to answer. The tasks it brings, with its slots.
    pub(super) async fn linger(
        self,
        engine_heard: bool,
        after_unlock: bool,
    ) -> Option<(Vec<TaskRef>, Vec<OwnedSemaphorePermit>)> {
        if !engine_heard {
            return None;
        }
        let linger = if after_unlock {
            POLL_LINGER_AFTER_UNLOCK
        } else {
            POLL_LINGER
        };
        let Self { poll, permits } = self;
        match tokio::time::timeout(linger, poll).await {
            Ok(Ok(Ok(tasks))) => Some((tasks, permits)),
            _ => None,
        }
    }
}
