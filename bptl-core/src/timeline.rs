//! A task's timeline: every status change, outgoing request, engine error, lock extension and
//! callback result, in order.

use std::fmt;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;

/// What kind of event a [`TimelineEntry`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// The task's status changed.
    Status,
    /// A unit made an HTTP request (redacted).
    Request,
    /// The engine answered with an error.
    EngineError,
    /// The lock was extended.
    LockExtended,
    /// The `callbackUrl` was called.
    Callback,
    /// The task was found abandoned after a crash, or another recovery step.
    Recovery,
    /// Anything else worth noting.
    Note,
}

impl EventKind {
    /// A stable lower-case name, for storage and display.
    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::Status => "status",
            EventKind::Request => "request",
            EventKind::EngineError => "engine_error",
            EventKind::LockExtended => "lock_extended",
            EventKind::Callback => "callback",
            EventKind::Recovery => "recovery",
            EventKind::Note => "note",
        }
    }

    /// The kind for a stored name (unknown names read as [`EventKind::Note`]).
    pub fn parse(name: &str) -> Self {
        match name {
            "status" => EventKind::Status,
            "request" => EventKind::Request,
            "engine_error" => EventKind::EngineError,
            "lock_extended" => EventKind::LockExtended,
            "callback" => EventKind::Callback,
            "recovery" => EventKind::Recovery,
            _ => EventKind::Note,
        }
    }
}

/// One event on a task's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    /// When it happened.
    pub at: Timestamp,
    /// What kind of event.
    pub kind: EventKind,
    /// A one-line human description.
    pub message: String,
    /// Structured details (e.g. the redacted request), `Null` when none.
    pub data: serde_json::Value,
}

/// Receives timeline entries as they are recorded (e.g. a task store writing them through).
pub trait TimelineSink: Send + Sync {
    /// Called once for every entry, in order.
    fn record(&self, entry: &TimelineEntry);
}

/// A task's timeline: cheap to clone (shared), safe to append to from several places.
#[derive(Clone, Default)]
pub struct Timeline {
    entries: Arc<Mutex<Vec<TimelineEntry>>>,
    sink: Option<Arc<dyn TimelineSink>>,
}

impl Timeline {
    /// An empty timeline that only keeps entries in memory.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty timeline that also passes every entry to `sink`.
    pub fn with_sink(sink: Arc<dyn TimelineSink>) -> Self {
        Self {
            entries: Arc::default(),
            sink: Some(sink),
        }
    }

    /// Record an event now.
    pub fn record(&self, kind: EventKind, message: impl Into<String>, data: serde_json::Value) {
        let entry = TimelineEntry {
            at: Timestamp::now(),
            kind,
            message: message.into(),
            data,
        };
        if let Some(sink) = &self.sink {
            sink.record(&entry);
        }
        self.lock().push(entry);
    }

    /// A copy of all entries so far.
    pub fn entries(&self) -> Vec<TimelineEntry> {
        self.lock().clone()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<TimelineEntry>> {
        // A panic while holding this lock cannot leave the Vec inconsistent.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl fmt::Debug for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeline")
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}
