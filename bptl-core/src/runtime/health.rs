//! What a worker knows of its own health: whether its fetch loop moves ([`WorkerHealth::alive`])
//! and whether the engine answers it ([`WorkerHealth::engine_ready`]), read through
//! [`WorkerHandle::health`](super::WorkerHandle::health). The loop and the fetcher write it;
//! the `bptl_engine_up` gauge follows the same answers.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::metrics;
use crate::duration::format_duration;

/// What the fetch loop is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoopPhase {
    /// Start-up: recovering stored results, before the first fetch.
    Starting,
    /// Every execution slot is taken by a running unit: the loop waits for one to finish.
    WaitingForSlot,
    /// A fetch (long poll) is under way.
    Fetching,
    /// The last fetch failed: the loop waits before the next.
    BackingOff,
    /// A shutdown was requested: running units finish, the rest is unlocked.
    Stopping,
    /// The worker has stopped.
    Stopped,
}

impl LoopPhase {
    fn from_u8(n: u8) -> Self {
        match n {
            1 => Self::WaitingForSlot,
            2 => Self::Fetching,
            3 => Self::BackingOff,
            4 => Self::Stopping,
            5 => Self::Stopped,
            _ => Self::Starting,
        }
    }

    /// The phase's name, e.g. `fetching`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::WaitingForSlot => "waiting_for_slot",
            Self::Fetching => "fetching",
            Self::BackingOff => "backing_off",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
        }
    }
}

/// No engine answer yet.
const NEVER: u64 = u64::MAX;

/// The live health state a worker's loop and fetcher write.
#[derive(Debug)]
pub(crate) struct Health {
    start: Instant,
    phase: AtomicU8,
    /// Milliseconds from `start` to the loop's last step.
    progress_ms: AtomicU64,
    engine_up: AtomicBool,
    /// Milliseconds from `start` to the engine's last answer to a fetch (`NEVER`: none yet).
    answered_ms: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// A step of the loop that takes longer than this means it is stuck.
    stuck_after: Duration,
}

impl Health {
    /// The state of a worker whose fetches take at most `fetch_deadline` and whose backoff
    /// waits at most `backoff_max`.
    pub(crate) fn new(fetch_deadline: Duration, backoff_max: Duration) -> Self {
        Self {
            start: Instant::now(),
            phase: AtomicU8::new(LoopPhase::Starting as u8),
            progress_ms: AtomicU64::new(0),
            engine_up: AtomicBool::new(false),
            answered_ms: AtomicU64::new(NEVER),
            last_error: Mutex::new(None),
            // A fetch, then a backoff wait, then a margin for a busy machine.
            stuck_after: fetch_deadline + backoff_max + Duration::from_secs(30),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(NEVER - 1)
    }

    /// The loop enters `phase` (a step: it is not stuck).
    pub(crate) fn enter(&self, phase: LoopPhase) {
        self.progress_ms.store(self.now_ms(), Ordering::Relaxed);
        self.phase.store(phase as u8, Ordering::Relaxed);
    }

    /// The engine answered a fetch.
    pub(crate) fn engine_answered(&self) {
        self.answered_ms.store(self.now_ms(), Ordering::Relaxed);
        self.engine_up.store(true, Ordering::Relaxed);
        ::metrics::gauge!(metrics::ENGINE_UP).set(1.0);
    }

    /// A fetch failed with `error`.
    pub(crate) fn engine_failed(&self, error: &str) {
        self.engine_up.store(false, Ordering::Relaxed);
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(error.to_owned());
        }
        ::metrics::gauge!(metrics::ENGINE_UP).set(0.0);
    }

    pub(crate) fn snapshot(&self) -> WorkerHealth {
        let now = self.now_ms();
        let ago = |ms: u64| Duration::from_millis(now.saturating_sub(ms));
        let answered = self.answered_ms.load(Ordering::Relaxed);
        WorkerHealth {
            phase: LoopPhase::from_u8(self.phase.load(Ordering::Relaxed)),
            since_progress: ago(self.progress_ms.load(Ordering::Relaxed)),
            stuck_after: self.stuck_after,
            engine_up: self.engine_up.load(Ordering::Relaxed),
            engine_answered_ago: (answered != NEVER).then(|| ago(answered)),
            last_engine_error: self.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }
}

/// A worker's health at one moment ([`WorkerHandle::health`](super::WorkerHandle::health)).
///
/// ```
/// use std::time::Duration;
/// use bptl_core::runtime::{LoopPhase, WorkerHealth};
/// let health = WorkerHealth {
///     phase: LoopPhase::Fetching,
///     since_progress: Duration::from_secs(3),
///     stuck_after: Duration::from_secs(120),
///     engine_up: true,
///     engine_answered_ago: Some(Duration::from_secs(3)),
///     last_engine_error: None,
/// };
/// assert!(health.alive().is_ok());
/// assert!(health.engine_ready(Duration::from_secs(60)).is_ok());
/// let down = WorkerHealth { engine_up: false, last_engine_error: Some("connection refused".into()), ..health.clone() };
/// assert_eq!(
///     down.engine_ready(Duration::from_secs(60)).unwrap_err(),
///     "the engine did not answer the last fetch: connection refused"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerHealth {
    /// What the fetch loop is doing.
    pub phase: LoopPhase,
    /// How long ago the loop took its last step.
    pub since_progress: Duration,
    /// A step longer than this (a fetch's deadline plus the longest backoff plus 30 s) means
    /// the loop is stuck.
    pub stuck_after: Duration,
    /// Whether the engine answered the last fetch.
    pub engine_up: bool,
    /// How long ago the engine last answered a fetch (`None`: never).
    pub engine_answered_ago: Option<Duration>,
    /// The error of the last failed fetch, if any.
    pub last_engine_error: Option<String>,
}

impl WorkerHealth {
    /// Whether the worker is alive: its fetch loop is not stuck. Waiting for a free slot (the
    /// units have their own time limits), starting up and shutting down are not stuck; a fetch
    /// or a backoff wait lasting longer than [`stuck_after`](Self::stuck_after) is. `Err` says
    /// why not.
    pub fn alive(&self) -> Result<(), String> {
        match self.phase {
            LoopPhase::Fetching | LoopPhase::BackingOff
                if self.since_progress > self.stuck_after =>
            {
                Err(format!(
                    "the fetch loop is stuck: {} for {} (at most {} expected)",
                    self.phase.as_str(),
                    format_duration(self.since_progress),
                    format_duration(self.stuck_after)
                ))
            }
            _ => Ok(()),
        }
    }

    /// Whether the engine answers: it answered the last fetch, within `within` (unless every
    /// slot is taken, when the worker does not fetch), and the worker is not shutting down.
    /// `Err` says why not.
    pub fn engine_ready(&self, within: Duration) -> Result<(), String> {
        match self.phase {
            LoopPhase::Stopping | LoopPhase::Stopped => {
                return Err("the worker is shutting down".to_owned());
            }
            LoopPhase::Starting if self.engine_answered_ago.is_none() => {
                return Err("the worker is starting: no fetch yet".to_owned());
            }
            _ => {}
        }
        if !self.engine_up {
            return Err(match &self.last_engine_error {
                Some(e) => format!("the engine did not answer the last fetch: {e}"),
                None => "the engine has not answered a fetch yet".to_owned(),
            });
        }
        match self.engine_answered_ago {
            Some(ago) if ago > within && self.phase != LoopPhase::WaitingForSlot => Err(format!(
                "the engine last answered {} ago (more than {})",
                format_duration(ago),
                format_duration(within)
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(phase: LoopPhase, since_progress: u64, answered: Option<u64>) -> WorkerHealth {
        WorkerHealth {
            phase,
            since_progress: Duration::from_secs(since_progress),
            stuck_after: Duration::from_secs(120),
            engine_up: answered.is_some(),
            engine_answered_ago: answered.map(Duration::from_secs),
            last_engine_error: None,
        }
    }

    #[test]
    fn a_long_fetch_or_backoff_is_stuck_a_long_wait_for_a_slot_is_not() {
        assert!(health(LoopPhase::Fetching, 119, Some(1)).alive().is_ok());
        let stuck = health(LoopPhase::Fetching, 121, Some(1)).alive();
        assert_eq!(
            stuck.unwrap_err(),
            "the fetch loop is stuck: fetching for 2m1s (at most 2m expected)"
        );
        assert!(health(LoopPhase::BackingOff, 500, None).alive().is_err());
        for phase in [
            LoopPhase::WaitingForSlot,
            LoopPhase::Starting,
            LoopPhase::Stopping,
        ] {
            assert!(health(phase, 3600, None).alive().is_ok(), "{phase:?}");
        }
    }

    #[test]
    fn readiness_needs_a_recent_answer_unless_every_slot_is_taken() {
        let within = Duration::from_secs(60);
        assert!(
            health(LoopPhase::Fetching, 1, Some(59))
                .engine_ready(within)
                .is_ok()
        );
        assert_eq!(
            health(LoopPhase::Fetching, 1, Some(61))
                .engine_ready(within)
                .unwrap_err(),
            "the engine last answered 1m1s ago (more than 1m)"
        );
        assert!(
            health(LoopPhase::WaitingForSlot, 1, Some(600))
                .engine_ready(within)
                .is_ok()
        );
        assert!(
            health(LoopPhase::Starting, 1, None)
                .engine_ready(within)
                .is_err()
        );
        assert!(
            health(LoopPhase::Stopping, 1, Some(1))
                .engine_ready(within)
                .is_err()
        );
    }

    #[test]
    fn the_state_follows_the_loop_and_the_answers() {
        let state = Health::new(Duration::from_secs(60), Duration::from_secs(30));
        assert_eq!(state.snapshot().stuck_after, Duration::from_secs(120));
        state.enter(LoopPhase::Fetching);
        state.engine_failed("connection refused");
        let down = state.snapshot();
        assert_eq!(down.phase, LoopPhase::Fetching);
        assert!(!down.engine_up);
        assert_eq!(
            down.last_engine_error.as_deref(),
            Some("connection refused")
        );
        state.engine_answered();
        let up = state.snapshot();
        assert!(up.engine_up);
        assert!(up.engine_answered_ago.is_some());
    }
}
