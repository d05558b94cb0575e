//! The worker runtime: a long-running loop that fetches tasks from an [`Engine`], runs the
//! mapped units and reports their outcomes, generic over the engine.
//!
//! What it guarantees:
//!
//! * **One long poll** for the topics of all active mappings of the engine, asking for exactly
//!   as many tasks as there are free execution slots (never more, never with 0 free).
//! * **Every task reported**: success → complete (typed variables); unit failure → failure
//!   with retries counted down from the task's current retries (so they run out → incident);
//!   BPMN error → bpmnError; panic, timeout, missing mapping or unit → failure with a clear
//!   one-line message and the error chain as details. Conflicts and transient errors while
//!   reporting are retried a few times with backoff; after that the lock expires, the task is
//!   fetched again and — because its record says `performed` — completed from the stored
//!   result without running the unit again.
//! * **Locks kept alive**: while a unit runs its lock is extended at half the lock duration
//!   (also during shutdown grace). A 404 on extension means the task was cancelled: the unit is
//!   allowed to finish (aborting it half-way could leave its side effects half done) but its
//!   outcome is not reported; the timeline and log say so.
//! * **Never dies on a fault**: an unreachable engine means exponential backoff with jitter
//!   (100 ms → 30 s by default), one log line when the engine goes away and one when it is
//!   back. "No work" is handled by the long poll, not by backoff.
//! * **Graceful shutdown**: fetching stops, running units get the grace period (locks kept
//!   alive), tasks that never started are unlocked, units still running at the end of grace are
//!   aborted and their tasks unlocked so another worker can take them at once. A long poll
//!   parked at the engine is kept while units run (Camunda and Operaton lock tasks for a long
//!   poll whose client went away): the tasks it brings are unlocked; an idle worker drops it and
//!   stops at once. A second shutdown request ([`WorkerHandle::shutdown_now`], a second signal)
//!   returns at once.
//! * **Records**: every task is written to the [`crate::store::TaskStore`] before
//!   its unit runs; see [`crate::store`] for exactly-once completion and crash recovery.
//!
//! ```no_run
//! use std::sync::Arc;
//! use bptl_core::runtime::{Worker, WorkerConfig};
//! use bptl_core::{Engine, Registry, TaskMappings};
//!
//! async fn serve<E: Engine>(engine: E, mappings: TaskMappings) -> Result<(), Box<dyn std::error::Error>> {
//!     let worker = Worker::builder(engine)
//!         .registry(Registry::global()?.clone())
//!         .mappings(mappings)
//!         .config(WorkerConfig { max_tasks: 20, ..WorkerConfig::default() })
//!         .build()?;
//!     let stats = worker.run_until_signal().await;
//!     println!("{} completed, {} failed", stats.completed, stats.failed);
//!     Ok(())
//! }
//! ```

mod backoff;
mod callback;
mod config;
pub mod metrics;
mod task;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

pub use backoff::Backoff;
pub use callback::CallbackSender;
pub use config::{WorkerConfig, default_worker_id};

use crate::engine::{Engine, EngineError, FetchRequest, TopicRequest};
use crate::mapping::TaskMappings;
use crate::registry::Registry;
use crate::store::{InMemoryStore, StoreError, TaskKey, TaskRecord, TaskStore};
use crate::task::Extensions;
use crate::timeline::TimelineEntry;

/// Why a worker could not be built or a one-off operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The configuration is unusable.
    #[error("invalid worker configuration: {0}")]
    Config(String),
    /// The engine refused or could not be reached.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The task store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Counts of what a worker did: live through [`WorkerHandle::stats`], final from
/// [`Worker::run`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerStats {
    /// Tasks fetched and locked.
    pub fetched: u64,
    /// Tasks the engine accepted as completed.
    pub completed: u64,
    /// Failures the engine accepted.
    pub failed: u64,
    /// BPMN errors the engine accepted.
    pub bpmn_errors: u64,
    /// Tasks unlocked at shutdown (never started, or aborted at the end of grace).
    pub unlocked: u64,
    /// Units aborted at the end of the shutdown grace period.
    pub aborted: u64,
    /// Tasks the engine no longer knew (cancelled while their unit ran).
    pub cancelled: u64,
    /// Outcomes not delivered (engine unreachable, lock lost): the lock expires and the task
    /// is fetched again.
    pub not_reported: u64,
    /// Tasks completed from their stored result without running the unit again.
    pub recovered: u64,
    /// Tasks being handled right now.
    pub in_flight: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    fetched: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    bpmn_errors: AtomicU64,
    unlocked: AtomicU64,
    aborted: AtomicU64,
    cancelled: AtomicU64,
    not_reported: AtomicU64,
    recovered: AtomicU64,
    in_flight: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> WorkerStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WorkerStats {
            fetched: get(&self.fetched),
            completed: get(&self.completed),
            failed: get(&self.failed),
            bpmn_errors: get(&self.bpmn_errors),
            unlocked: get(&self.unlocked),
            aborted: get(&self.aborted),
            cancelled: get(&self.cancelled),
            not_reported: get(&self.not_reported),
            recovered: get(&self.recovered),
            in_flight: get(&self.in_flight),
        }
    }

    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Controls a running worker from elsewhere: shut it down, read its counts. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WorkerHandle {
    graceful: CancellationToken,
    immediate: CancellationToken,
    counters: Arc<Counters>,
    worker_id: Arc<str>,
}

impl WorkerHandle {
    /// Begin a graceful shutdown: stop fetching, let running units finish within the grace
    /// period. Calling it again changes nothing.
    pub fn shutdown(&self) {
        self.graceful.cancel();
    }

    /// Stop at once: abort running units without waiting (their locks simply expire).
    pub fn shutdown_now(&self) {
        self.graceful.cancel();
        self.immediate.cancel();
    }

    /// Whether a shutdown was requested.
    pub fn is_shutting_down(&self) -> bool {
        self.graceful.is_cancelled()
    }

    /// The counts so far.
    pub fn stats(&self) -> WorkerStats {
        self.counters.snapshot()
    }

    /// The worker id the worker locks tasks with.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }
}

/// Builds a [`Worker`]: `Worker::builder(engine).mappings(..).build()`.
pub struct WorkerBuilder<E: Engine> {
    engine: E,
    registry: Option<Arc<Registry>>,
    mappings: TaskMappings,
    config: WorkerConfig,
    store: Option<Arc<dyn TaskStore>>,
    callback: Option<Arc<dyn CallbackSender>>,
    extensions: Extensions,
}

impl<E: Engine> WorkerBuilder<E> {
    /// The units to run (default: [`Registry::global`]).
    pub fn registry(mut self, registry: impl Into<Arc<Registry>>) -> Self {
        self.registry = Some(registry.into());
        self
    }

    /// The task mappings (the active ones of this engine's type are fetched).
    pub fn mappings(mut self, mappings: TaskMappings) -> Self {
        self.mappings = mappings;
        self
    }

    /// The worker configuration.
    pub fn config(mut self, config: WorkerConfig) -> Self {
        self.config = config;
        self
    }

    /// Where task records go (default: a bounded [`InMemoryStore`]).
    pub fn store(mut self, store: Arc<dyn TaskStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Who sends the `callbackUrl` POST (default: nobody; the callback is skipped with a
    /// timeline note).
    pub fn callback_sender(mut self, sender: Arc<dyn CallbackSender>) -> Self {
        self.callback = Some(sender);
        self
    }

    /// Attach a value every unit can reach through its task's context (e.g. the credential
    /// store).
    pub fn extension<T: std::any::Any + Send + Sync>(mut self, value: Arc<T>) -> Self {
        self.extensions.insert(value);
        self
    }

    /// Check the configuration and build the worker.
    pub fn build(self) -> Result<Worker<E>, WorkerError> {
        let c = &self.config;
        if c.max_tasks == 0 {
            return Err(WorkerError::Config(
                "max_tasks must be at least 1 (it is the number of tasks run at once)".into(),
            ));
        }
        if c.lock_duration < Duration::from_millis(100) {
            return Err(WorkerError::Config(
                "lock_duration must be at least 100ms".into(),
            ));
        }
        if c.async_response_timeout > Duration::from_secs(1800) {
            return Err(WorkerError::Config(
                "async_response_timeout may be at most 30m (the engine refuses longer long polls)"
                    .into(),
            ));
        }
        if let Some(m) = self.mappings.iter().find(|m| {
            m.lock_duration
                .is_some_and(|d| d < Duration::from_millis(100))
        }) {
            return Err(WorkerError::Config(format!(
                "the lock_duration of topic '{}' must be at least 100ms",
                m.topic
            )));
        }
        let registry = match self.registry {
            Some(r) => r,
            None => Arc::new(
                Registry::global()
                    .map_err(|e| WorkerError::Config(e.to_string()))?
                    .clone(),
            ),
        };
        let worker_id: Arc<str> = self
            .config
            .worker_id
            .clone()
            .filter(|id| !id.trim().is_empty())
            .unwrap_or_else(default_worker_id)
            .into();
        let (timeline_tx, timeline_rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let handle = WorkerHandle {
            graceful: CancellationToken::new(),
            immediate: CancellationToken::new(),
            counters: Arc::clone(&counters),
            worker_id: Arc::clone(&worker_id),
        };
        Ok(Worker {
            shared: Arc::new(Shared {
                engine: self.engine,
                registry,
                mappings: Arc::new(self.mappings),
                config: self.config,
                worker_id,
                store: self.store.unwrap_or_else(|| Arc::new(InMemoryStore::new())),
                callback: self.callback,
                extensions: self.extensions,
                counters,
                timeline_tx,
                graceful: handle.graceful.clone(),
            }),
            handle,
            timeline_rx: Some(timeline_rx),
        })
    }
}

/// What every task of a worker shares.
pub(crate) struct Shared<E> {
    pub(crate) engine: E,
    pub(crate) registry: Arc<Registry>,
    pub(crate) mappings: Arc<TaskMappings>,
    pub(crate) config: WorkerConfig,
    pub(crate) worker_id: Arc<str>,
    pub(crate) store: Arc<dyn TaskStore>,
    pub(crate) callback: Option<Arc<dyn CallbackSender>>,
    pub(crate) extensions: Extensions,
    pub(crate) counters: Arc<Counters>,
    pub(crate) timeline_tx: mpsc::UnboundedSender<TimelineMsg>,
    pub(crate) graceful: CancellationToken,
}

/// A message to the timeline writer.
pub(crate) enum TimelineMsg {
    Entry(TaskKey, TimelineEntry),
    Flush(oneshot::Sender<()>),
}

/// The long-running worker. Build it with [`Worker::builder`], run it with [`Worker::run`] or
/// [`Worker::run_until_signal`].
pub struct Worker<E: Engine> {
    shared: Arc<Shared<E>>,
    handle: WorkerHandle,
    timeline_rx: Option<mpsc::UnboundedReceiver<TimelineMsg>>,
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

/// How long a long poll kept through the shutdown may still take to answer once the engine
/// accepted outcomes of this worker (see `Worker::shutdown_phase`): a completion may or may
/// not have created a task the poll takes.
const POLL_LINGER: Duration = Duration::from_millis(300);

/// The same once this worker unlocked aborted tasks: the poll takes them again for certain
/// (when it has slots), so it is waited for longer (a busy engine may take a while to answer).
const POLL_LINGER_AFTER_UNLOCK: Duration = Duration::from_secs(5);

/// A fetch under way: the engine's answer, or the fetch deadline passing.
type PendingFetch<'a> = std::pin::Pin<
    Box<
        dyn Future<
                Output = Result<
                    Result<Vec<crate::task::TaskRef>, EngineError>,
                    tokio::time::error::Elapsed,
                >,
            > + Send
            + 'a,
    >,
>;

/// A task being handled, for the shutdown bookkeeping.
struct InFlight {
    key: TaskKey,
    topic: String,
}

impl<E: Engine> Worker<E> {
    /// Start building a worker for `engine`.
    pub fn builder(engine: E) -> WorkerBuilder<E> {
        WorkerBuilder {
            engine,
            registry: None,
            mappings: TaskMappings::default(),
            config: WorkerConfig::default(),
            store: None,
            callback: None,
            extensions: Extensions::default(),
        }
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
        task::recover(shared).await;

        let slots = Arc::new(Semaphore::new(config.max_tasks));
        let mut running: JoinSet<()> = JoinSet::new();
        let mut in_flight: HashMap<tokio::task::Id, InFlight> = HashMap::new();
        let mut backoff = Backoff::new(config.engine_backoff_min, config.engine_backoff_max);
        let mut engine_down = false;
        // Guard against a long poll that never answers (e.g. a half-open connection).
        let fetch_deadline = config.async_response_timeout + Duration::from_secs(30);
        // The fetch under way when the shutdown came, with its slots.
        let mut pending = None;

        loop {
            while let Some(done) = running.try_join_next_with_id() {
                reap(done, &mut in_flight);
            }
            if shared.graceful.is_cancelled() {
                break;
            }
            // Wait for a free slot, then take every free slot.
            let first = tokio::select! {
                permit = Arc::clone(&slots).acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => break,
                },
                () = shared.graceful.cancelled() => break,
            };
            if topics.is_empty() {
                drop(first);
                shared.graceful.cancelled().await;
                break;
            }
            let mut permits: Vec<OwnedSemaphorePermit> = vec![first];
            while let Ok(p) = Arc::clone(&slots).try_acquire_owned() {
                permits.push(p);
            }
            let request = FetchRequest {
                worker_id: shared.worker_id.to_string(),
                max_tasks: permits.len(),
                use_priority: config.use_priority,
                async_response_timeout: Some(config.async_response_timeout),
                topics: topics.clone(),
            };
            let started = Instant::now();
            let mut fetch: PendingFetch<'_> = Box::pin(async move {
                tokio::time::timeout(fetch_deadline, shared.engine.fetch_and_lock(&request)).await
            });
            let fetched = tokio::select! {
                r = &mut fetch => r,
                () = shared.graceful.cancelled() => {
                    // Camunda and Operaton keep a long poll whose client went away and lock
                    // the next tasks for it: kept while running units finish, so that what it
                    // locks is unlocked (see `shutdown_phase`).
                    pending = Some((fetch, permits));
                    break;
                }
            };
            let fetched = match fetched {
                Ok(result) => result,
                Err(_) => Err(EngineError::new(
                    crate::engine::EngineErrorKind::Transient,
                    format!(
                        "the engine did not answer a fetch within {}",
                        crate::duration::format_duration(fetch_deadline)
                    ),
                )),
            };
            match fetched {
                Ok(tasks) => {
                    if engine_down {
                        info!("engine is reachable again: fetching resumes");
                        engine_down = false;
                    }
                    backoff.reset();
                    let empty = tasks.is_empty();
                    self.hand_out(tasks, permits, &mut running, &mut in_flight)
                        .await;
                    // An engine that answers an empty long poll at once must not make us spin.
                    if empty && started.elapsed() < Duration::from_millis(50) {
                        tokio::select! {
                            () = tokio::time::sleep(Duration::from_millis(50)) => {}
                            () = shared.graceful.cancelled() => break,
                        }
                    }
                }
                Err(e) => {
                    drop(permits);
                    let wait = backoff.next_delay();
                    if engine_down {
                        debug!(error = %e, "fetch failed again; next try in {wait:?}");
                    } else {
                        engine_down = true;
                        warn!(error = %e, "cannot fetch tasks: the engine is unreachable or failing; retrying with backoff (next try in {wait:?})");
                    }
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = shared.graceful.cancelled() => break,
                    }
                }
            }
        }

        self.shutdown_phase(running, in_flight, pending).await
    }

    /// Start handling fetched tasks, one slot each.
    async fn hand_out(
        &self,
        tasks: Vec<crate::task::TaskRef>,
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
            let abort = running.spawn(task::process(Arc::clone(shared), task, permit));
            in_flight.insert(abort.id(), InFlight { key, topic });
        }
    }

    /// Let running units finish within the grace period, then abort and unlock the rest.
    ///
    /// A long poll still parked when the shutdown came (`pending`) is kept as long as units
    /// run: Camunda and Operaton do not notice a client that went away and lock the next tasks
    /// for its request, under this worker's id, until their lock expires. Kept, its tasks
    /// arrive and are unlocked at once (their units never start). When nothing runs any more
    /// it gets [`POLL_LINGER`] ([`POLL_LINGER_AFTER_UNLOCK`] after aborted tasks were
    /// unlocked) to answer if the engine accepted outcomes or unlocks of this worker meanwhile
    /// (any may make a task fetchable); otherwise it is dropped at once, so an idle worker
    /// still stops at once.
    async fn shutdown_phase(
        &self,
        mut running: JoinSet<()>,
        mut in_flight: HashMap<tokio::task::Id, InFlight>,
        mut pending: Option<(PendingFetch<'_>, Vec<OwnedSemaphorePermit>)>,
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
                crate::duration::format_duration(grace)
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
                fetched = async { pending.as_mut().map(|p| p.0.as_mut()).expect("guarded").await },
                    if pending.is_some() => {
                    let permits = pending.take().map(|p| p.1).unwrap_or_default();
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
        let mut aborted = std::collections::HashSet::new();
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
                    task::unlock_aborted(shared, &task.key).await;
                    aborted.insert(task.key.task_id.clone());
                } else {
                    reap(done, &mut in_flight);
                }
            }
        }
        // The kept poll, last: an unlocked task wakes it, and it locks the task again for this
        // worker. Given a moment, it answers, and what it brings is unlocked for good (a
        // dropped poll would keep it locked until the lock expires).
        let linger = if aborted.is_empty() {
            POLL_LINGER
        } else {
            POLL_LINGER_AFTER_UNLOCK
        };
        if let Some((poll, permits)) = pending.take()
            && reported() != reported_before
            && let Ok(Ok(Ok(tasks))) = tokio::time::timeout(linger, poll).await
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

fn reap(
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

/// Writes timeline entries to the store in order, off the tasks' paths: everything recorded
/// while the previous write was under way goes to the store in one call.
async fn timeline_writer(store: Arc<dyn TaskStore>, mut rx: mpsc::UnboundedReceiver<TimelineMsg>) {
    /// At most this many entries per store call.
    const BATCH: usize = 512;
    let mut batch: Vec<(TaskKey, TimelineEntry)> = Vec::new();
    let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                TimelineMsg::Entry(key, entry) => batch.push((key, entry)),
                // Everything received before the flush is written before it is answered.
                TimelineMsg::Flush(done) => {
                    flushes.push(done);
                    break;
                }
            }
            if batch.len() >= BATCH {
                break;
            }
            next = rx.try_recv().ok();
        }
        if !batch.is_empty() {
            if let Err(e) = store.append_timelines(&batch).await {
                warn!(entries = batch.len(), "cannot write the timeline: {e}");
            }
            batch.clear();
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Wait for SIGINT or SIGTERM (Ctrl-C where there are no Unix signals).
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
