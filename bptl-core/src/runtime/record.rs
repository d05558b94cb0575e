//! Stage 7, record: the task's record and timeline in the store. The result is stored before
//! the engine hears of it (so a unit that succeeded never runs again); timeline entries go to
//! the store off the task's path, in order, batched.

use std::sync::Arc;

use jiff::Timestamp;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tracing::{error, warn};

use super::process::TaskCtx;
use super::{Shared, TimelineMsg, metrics};
use crate::engine::{Engine, EngineError};
use crate::execute::ExecuteError;
use crate::status::{StatusError, Transition};
use crate::store::{TaskKey, TaskRecord, TaskStore};
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

pub(super) fn store_timeline<E>(shared: &Shared<E>, key: &TaskKey) -> Timeline {
    Timeline::with_sink(Arc::new(StoreSink {
        key: key.clone(),
        tx: shared.timeline_tx.clone(),
    }))
}

impl<E: Engine> TaskCtx<'_, E> {
    /// Store the record as it is now, with the lock expiry the lease knows.
    pub(super) async fn save(&self, record: &mut TaskRecord) {
        record.updated_at = Timestamp::now();
        if let Some(at) = self.lease.expiry() {
            record.lock_expires_at = Some(at);
        }
        if let Err(e) = self.shared.store.save(record).await {
            metrics::store_error("save", &e);
            error!("cannot update the task's record: {e}");
        }
    }

    /// Record the unit's result (`performed` with its variables, or `failed` with the error)
    /// before the engine hears of it.
    pub(super) async fn record_result(
        &self,
        record: &mut TaskRecord,
        result: &Result<Variables, ExecuteError>,
    ) {
        let (transition, why) = match result {
            Ok(vars) => (record.perform(vars.clone()), None),
            Err(ExecuteError::Unit(unit)) => (record.fail(unit.chain()), None),
            // The unit never ran (no mapping, unknown unit, ...): the timeline says why.
            Err(other) => (record.fail(other.to_string()), Some(other.to_string())),
        };
        self.note(transition, why.as_deref());
        self.save(record).await;
    }

    /// Put a status change on the timeline; one the status machine refused is a bug, logged.
    pub(super) fn note(&self, transition: Result<Transition, StatusError>, why: Option<&str>) {
        match transition {
            Ok(t) => t.record(self.timeline, why),
            Err(e) => error!("the task's record was not changed: {e}"),
        }
    }

    /// Keep an engine error on the record and the timeline.
    pub(super) fn engine_error(&self, record: &mut TaskRecord, context: &str, e: &EngineError) {
        record.engine_error = Some(engine_error_text(e));
        self.timeline.record(
            EventKind::EngineError,
            format!("{context}: {e}"),
            engine_error_json(e),
        );
    }
}

/// Writes timeline entries to the store in order, off the tasks' paths: everything recorded
/// while the previous write was under way goes to the store in one call.
pub(super) async fn timeline_writer(
    store: Arc<dyn TaskStore>,
    mut rx: mpsc::UnboundedReceiver<TimelineMsg>,
) {
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
                metrics::store_error("timeline", &e);
                warn!(entries = batch.len(), "cannot write the timeline: {e}");
            }
            batch.clear();
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

pub(super) fn engine_error_text(e: &EngineError) -> String {
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

pub(super) fn engine_error_json(e: &EngineError) -> serde_json::Value {
    json!({ "kind": format!("{:?}", e.kind), "status": e.status, "body": e.body, "message": e.message })
}
