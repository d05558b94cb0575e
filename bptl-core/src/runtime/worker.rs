//! The worker: its main loop hands fetched tasks out to [`process`](super::process), one
//! execution slot each; [`shutdown`](super::shutdown) ends it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use super::fetch::{Fetched, Fetcher};
use super::record::timeline_writer;
use super::{
    Counters, LoopPhase, Shared, TimelineMsg, WorkerBuilder, WorkerError, WorkerHandle,
    WorkerStats, metrics, process, recover, wait_for_signal,
};
use crate::engine::{Engine, FetchRequest, TopicRequest};
use crate::store::{TaskKey, TaskRecord, TaskStore};
use crate::task::TaskRef;

/// The long-running worker. Build it with [`Worker::builder`], run it with [`Worker::run`] or
/// [`Worker::run_until_signal`].
pub struct Worker<E: Engine> {
    pub(super) shared: Arc<Shared<E>>,
    pub(super) handle: WorkerHandle,
    pub(super) timeline_rx: Option<mpsc::UnboundedReceiver<TimelineMsg>>,
}

impl<E: Engine> std::fmt::Debug for Worker<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("worker_id", &self.shared.worker_id)
            .field("engine", &self.shared.engine.engine_type())
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

/// A task being handled, for the shutdown bookkeeping.
pub(super) struct InFlight {
    pub(super) key: TaskKey,
    pub(super) topic: String,
}

impl<E: Engine> Worker<E> {
    /// Start building a worker for `engine`.
    pub fn builder(engine: E) -> WorkerBuilder<E> {
        WorkerBuilder::new(engine)
    }

    /// A handle to shut the worker down and read its counts while it runs.
    pub fn handle(&self) -> WorkerHandle {
        self.handle.clone()
    }

    /// The worker id.
    pub fn worker_id(&self) -> &str {
        &self.shared.worker_id
    }

    /// The engine.
    pub fn engine(&self) -> &E {
        &self.shared.engine
    }

    /// The task store.
    pub fn store(&self) -> &Arc<dyn TaskStore> {
        &self.shared.store
    }

    /// The topics this worker fetches, with their lock durations and variable filters.
    pub fn topics(&self) -> Vec<TopicRequest> {
        let s = &self.shared;
        s.mappings
            .active_for(s.engine.engine_type())
            .map(|m| TopicRequest {
                topic: m.topic.clone(),
                lock_duration: m.lock_duration.unwrap_or(s.config.lock_duration),
                variables: m.variables.clone().map(|mut names| {
                    // The callback needs `callbackUrl` even when the mapping filters variables.
                    if s.callback.is_some() && !names.iter().any(|n| n == "callbackUrl") {
                        names.push("callbackUrl".to_owned());
                    }
                    names
                }),
                local_variables: m.local_variables,
            })
            .collect()
    }

    /// One fetch without long polling: lock up to `max_tasks` tasks and save them in the store
    /// (status `initial`), without running them. Returns the saved records.
    pub async fn fetch_and_save(&self, max_tasks: usize) -> Result<Vec<TaskRecord>, WorkerError> {
        let request = FetchRequest {
            worker_id: self.shared.worker_id.to_string(),
            max_tasks,
            use_priority: self.shared.config.use_priority,
            async_response_timeout: None,
            topics: self.topics(),
        };
        if request.topics.is_empty() || max_tasks == 0 {
            return Ok(Vec::new());
        }
        let tasks = self.shared.engine.fetch_and_lock(&request).await?;
        let mut records = Vec::with_capacity(tasks.len());
        for task in tasks {
            let record = TaskRecord::from_task(&*task, &self.shared.worker_id);
            self.shared.store.save(&record).await?;
            records.push(record);
        }
        Ok(records)
    }

    /// Run until a SIGINT or SIGTERM (Ctrl-C on other platforms): the first starts a graceful
    /// shutdown, a second one stops at once.
    pub async fn run_until_signal(self) -> WorkerStats {
        let handle = self.handle();
        let listener = tokio::spawn(async move {
            wait_for_signal().await;
            info!(
                "shutdown requested: finishing running tasks (send the signal again to stop at once)"
            );
            handle.shutdown();
            wait_for_signal().await;
            warn!("second shutdown request: stopping at once");
            handle.shutdown_now();
        });
        let stats = self.run(std::future::pending::<()>()).await;
        listener.abort();
        stats
    }

    /// Run until `shutdown` resolves (or [`WorkerHandle::shutdown`] is called), then shut down
    /// gracefully; returns what the worker did.
    pub async fn run(mut self, shutdown: impl Future<Output = ()> + Send) -> WorkerStats {
        let handle = self.handle();
        let writer = self
            .timeline_rx
            .take()
            .map(|rx| tokio::spawn(timeline_writer(Arc::clone(&self.shared.store), rx)));
        let main = self.run_inner();
        tokio::pin!(main);
        tokio::pin!(shutdown);
        let mut shutdown_seen = false;
        let stats = loop {
            tokio::select! {
                stats = &mut main => break stats,
                () = &mut shutdown, if !shutdown_seen => {
                    shutdown_seen = true;
                    handle.shutdown();
                }
            }
        };
        // Let the timeline writer catch up, then stop it.
        let (tx, rx) = oneshot::channel();
        if self.shared.timeline_tx.send(TimelineMsg::Flush(tx)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), rx).await;
        }
        if let Some(writer) = writer {
            writer.abort();
        }
        stats
    }

    async fn run_inner(&self) -> WorkerStats {
        let shared = &self.shared;
        let config = &shared.config;
        metrics::describe();
        // Down until the engine answered a fetch.
        ::metrics::gauge!(metrics::ENGINE_UP).set(0.0);
        let topics = self.topics();
        info!(
            worker_id = %shared.worker_id,
            topics = ?topics.iter().map(|t| t.topic.as_str()).collect::<Vec<_>>(),
            max_tasks = config.max_tasks,
            "worker started"
        );
        if topics.is_empty() {
            warn!(
                "no active task mappings for engine '{}': nothing to fetch",
                shared.engine.engine_type()
            );
        }
        recover::recover(shared).await;

        let slots = Arc::new(Semaphore::new(config.max_tasks));
        let mut running: JoinSet<()> = JoinSet::new();
        let mut in_flight: HashMap<tokio::task::Id, InFlight> = HashMap::new();
        let mut fetcher = Fetcher::new(shared, topics.clone());
        let kept = loop {
            while let Some(done) = running.try_join_next_with_id() {
                reap(done, &mut in_flight);
            }
            if shared.graceful.is_cancelled() {
                break None;
            }
            // Wait for a free slot, then take every free slot.
            shared.health.enter(LoopPhase::WaitingForSlot);
            let first = tokio::select! {
                permit = Arc::clone(&slots).acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => break None,
                },
                () = shared.graceful.cancelled() => break None,
            };
            if topics.is_empty() {
                drop(first);
                shared.graceful.cancelled().await;
                break None;
            }
            let mut permits: Vec<OwnedSemaphorePermit> = vec![first];
            while let Ok(p) = Arc::clone(&slots).try_acquire_owned() {
                permits.push(p);
            }
            shared.health.enter(LoopPhase::Fetching);
            match fetcher.fetch(permits).await {
                Fetched::Tasks(tasks, permits) => {
                    self.hand_out(tasks, permits, &mut running, &mut in_flight)
                        .await;
                }
                Fetched::Failed => {}
                Fetched::Stopped(kept) => break kept,
            }
        };

        shared.health.enter(LoopPhase::Stopping);
        let stats = self.shutdown_phase(running, in_flight, kept).await;
        shared.health.enter(LoopPhase::Stopped);
        stats
    }

    /// Start handling fetched tasks, one slot each.
    pub(super) async fn hand_out(
        &self,
        tasks: Vec<TaskRef>,
        mut permits: Vec<OwnedSemaphorePermit>,
        running: &mut JoinSet<()>,
        in_flight: &mut HashMap<tokio::task::Id, InFlight>,
    ) {
        let shared = &self.shared;
        for task in tasks {
            let Some(permit) = permits.pop() else {
                // The engine sent more than asked: hand the extra back at once.
                warn!(task_id = %task.task_id(), "the engine returned more tasks than requested; unlocking the extra task");
                let _ = shared.engine.unlock(task.task_id()).await;
                continue;
            };
            Counters::add(&shared.counters.fetched);
            ::metrics::counter!(metrics::TASKS_FETCHED, "topic" => task.topic_name().to_owned())
                .increment(1);
            let key = TaskKey::new(task.engine_type(), task.task_id());
            let topic = task.topic_name().to_owned();
            let abort = running.spawn(process::process(Arc::clone(shared), task, permit));
            in_flight.insert(abort.id(), InFlight { key, topic });
        }
    }
}

pub(super) fn reap(
    done: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
    in_flight: &mut HashMap<tokio::task::Id, InFlight>,
) {
    match done {
        Ok((id, ())) => {
            in_flight.remove(&id);
        }
        Err(e) => {
            // `process` catches unit panics itself; this is a bug in the runtime.
            if let Some(task) = in_flight.remove(&e.id()) {
                error!(task = %task.key, "handling the task failed unexpectedly: {e}");
            }
        }
    }
}
