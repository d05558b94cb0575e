//! One fetched task's path, top to bottom: claim → lease → run → decide → report and
//! record → callback. Each stage is its own module; this one only strings them together.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use super::claim::{Claimed, claim};
use super::lease::{Lease, keep_alive};
use super::record::store_timeline;
use super::{Counters, Shared, metrics, outcome};
use crate::engine::Engine;
use crate::mapping::{RetryPolicy, TaskMapping};
use crate::store::TaskKey;
use crate::task::{RunningTask, TaskContext, TaskRef};
use crate::timeline::Timeline;

/// One task's context, shared by its stages.
pub(super) struct TaskCtx<'a, E> {
    pub(super) shared: &'a Shared<E>,
    /// The runtime's task object: what the unit gets (context attached, variables parsed once).
    pub(super) task: &'a TaskRef,
    pub(super) key: &'a TaskKey,
    pub(super) topic: &'a str,
    /// The topic's mapping, looked up once (`None`: the topic has none).
    pub(super) mapping: Option<&'a Arc<TaskMapping>>,
    pub(super) timeline: &'a Timeline,
    pub(super) lease: &'a Lease,
    pub(super) policy: &'a RetryPolicy,
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
        worker_id = %shared.worker_id,
    );
    handle(&shared, task, permit).instrument(span).await;
}

async fn handle<E: Engine>(shared: &Shared<E>, task: TaskRef, permit: OwnedSemaphorePermit) {
    let key = TaskKey::new(task.engine_type(), task.task_id());
    let topic = task.topic_name().to_owned();
    let _in_flight = InFlightGuard::new(&shared.counters, &topic);
    let timeline = store_timeline(shared, &key);
    let mapping = shared.mappings.get(&topic).cloned();
    let lock_duration = mapping
        .as_ref()
        .and_then(|m| m.lock_duration)
        .unwrap_or(shared.config.lock_duration);
    let policy = mapping
        .as_ref()
        .map(|m| m.retry.clone())
        .unwrap_or_default();
    let context = TaskContext {
        mapping: mapping.clone(),
        timeline: timeline.clone(),
        extensions: shared.extensions.clone(),
    };
    let task: TaskRef = Arc::new(RunningTask::new(task, context));
    let lease = Lease::new(task.lock_expires_at());
    let ctx = TaskCtx {
        shared,
        task: &task,
        key: &key,
        topic: &topic,
        mapping: mapping.as_ref(),
        timeline: &timeline,
        lease: &lease,
        policy: &policy,
    };

    let completed = match claim(&ctx).await {
        Claimed::NotStarted => return,
        Claimed::Performed(mut record, result) => {
            let work = async {
                ctx.save(&mut record).await;
                let completed = ctx.deliver_completion(&mut record, &result).await;
                if completed {
                    Counters::add(&shared.counters.recovered);
                }
                completed
            };
            keep_alive(&ctx, lock_duration, work).await
        }
        Claimed::Run(mut record) => {
            let work = async {
                let result = ctx.run_unit().await;
                ctx.record_result(&mut record, &result).await;
                let decided =
                    outcome::decide(result, &policy, task.retries(), lease.is_cancelled());
                ctx.deliver(&mut record, decided).await
            };
            keep_alive(&ctx, lock_duration, work).await
        }
    };
    drop(permit);
    if completed {
        ctx.callback().await;
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
