//! [`Schedules`]: the schedule worker `worker run` starts beside the engine's worker.

use std::sync::Arc;

use bptl_core::runtime::{Worker, WorkerError, WorkerHandle, WorkerStats, wait_for_signal};
use bptl_core::{Engine, TaskStore};
use tracing::{info, warn};

use super::{Schedule, ScheduleEngine};

/// The second worker of `worker run`: one on a [`ScheduleEngine`], sharing the registry,
/// mappings, configuration, store, callback sender and credentials of the engine's worker
/// ([`WorkerBuilder::alongside`](bptl_core::runtime::WorkerBuilder::alongside)). Empty when no
/// schedule is active.
#[derive(Debug)]
pub struct Schedules {
    worker: Option<(Worker<ScheduleEngine>, ScheduleEngine)>,
}

impl Schedules {
    /// The schedule worker for `schedules` beside `main` (none when no schedule is active).
    pub fn beside<E: Engine>(
        main: &Worker<E>,
        schedules: &[Schedule],
    ) -> Result<Self, WorkerError> {
        if !schedules.iter().any(Schedule::is_active) {
            return Ok(Self { worker: None });
        }
        let store: Arc<dyn TaskStore> = Arc::clone(main.store());
        let engine = ScheduleEngine::new(schedules.to_vec(), store);
        let worker = Worker::builder(engine.clone()).alongside(main).build()?;
        Ok(Self {
            worker: Some((worker, engine)),
        })
    }

    /// The schedule worker's handle (`None`: no schedule is active), e.g. for
    /// [`Admin::watch`](crate::cli::Admin::watch).
    pub fn handle(&self) -> Option<WorkerHandle> {
        self.worker.as_ref().map(|(worker, _)| worker.handle())
    }

    /// Run `main` and the schedule worker until SIGINT or SIGTERM: the first signal shuts
    /// both down gracefully, a second stops both at once. Returns `main`'s counts; the
    /// schedule worker's are logged.
    pub async fn run_with<E: Engine>(self, main: Worker<E>) -> WorkerStats {
        let Some((worker, engine)) = self.worker else {
            return main.run_until_signal().await;
        };
        let handles = [main.handle(), worker.handle()];
        let listener = tokio::spawn(async move {
            wait_for_signal().await;
            info!(
                "shutdown requested: finishing running tasks and ticks (send the signal again to stop at once)"
            );
            engine.stop();
            handles.iter().for_each(|h| h.shutdown());
            wait_for_signal().await;
            warn!("second shutdown request: stopping at once");
            handles.iter().for_each(|h| h.shutdown_now());
        });
        let never = std::future::pending::<()>;
        let (stats, ticks) = tokio::join!(main.run(never()), worker.run(never()));
        listener.abort();
        println!(
            "schedules stopped: {} tick(s) completed, {} failed, {} BPMN error(s), {} unlocked",
            ticks.completed, ticks.failed, ticks.bpmn_errors, ticks.unlocked
        );
        stats
    }
}
