//! [`WorkerBuilder`]: checks the configuration and builds a [`Worker`].

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::fetch::fetch_deadline;
use super::{
    CallbackSender, Counters, Health, Shared, Worker, WorkerConfig, WorkerError, WorkerHandle,
    default_worker_id,
};
use crate::engine::Engine;
use crate::mapping::TaskMappings;
use crate::registry::Registry;
use crate::store::{InMemoryStore, TaskStore};
use crate::task::Extensions;

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
    pub(super) fn new(engine: E) -> Self {
        Self {
            engine,
            registry: None,
            mappings: TaskMappings::default(),
            config: WorkerConfig::default(),
            store: None,
            callback: None,
            extensions: Extensions::default(),
        }
    }

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

    /// Share everything of `other` but its engine: registry, mappings, configuration (and
    /// so its worker id), store, callback sender and extensions. A second task source of the
    /// same process (e.g. schedules beside Camunda) runs its tasks exactly as `other` does.
    pub fn alongside<F: Engine>(mut self, other: &Worker<F>) -> Self {
        let shared = &other.shared;
        self.registry = Some(Arc::clone(&shared.registry));
        self.mappings = (*shared.mappings).clone();
        self.config = shared.config.clone();
        self.config.worker_id = Some(shared.worker_id.to_string());
        self.store = Some(Arc::clone(&shared.store));
        self.callback = shared.callback.clone();
        self.extensions = shared.extensions.clone();
        self
    }

    /// Check the configuration and build the worker.
    pub fn build(self) -> Result<Worker<E>, WorkerError> {
        let mut problems: Vec<String> = self
            .config
            .validate()
            .iter()
            .map(ToString::to_string)
            .collect();
        problems.extend(self.mappings.iter().filter_map(|m| {
            let invalid = super::validate_lock_duration(m.lock_duration?)?;
            Some(format!(
                "the {} of topic '{}' {}",
                invalid.field, m.topic, invalid.message
            ))
        }));
        if !problems.is_empty() {
            return Err(WorkerError::Config(problems.join("; ")));
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
        let health = Arc::new(Health::new(
            fetch_deadline(&self.config),
            self.config.engine_backoff_max,
        ));
        let handle = WorkerHandle {
            graceful: CancellationToken::new(),
            immediate: CancellationToken::new(),
            counters: Arc::clone(&counters),
            health: Arc::clone(&health),
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
                health,
                timeline_tx,
                graceful: handle.graceful.clone(),
                immediate: handle.immediate.clone(),
            }),
            handle,
            timeline_rx: Some(timeline_rx),
        })
    }
}
