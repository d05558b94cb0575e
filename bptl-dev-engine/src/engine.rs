//! The shared engine core: state, wake-up signals, lock-expiry timer and long polling.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::error::RestError;
use super::faults::Faults;
use bptl_camunda::wire::{ExternalTaskBody, FetchAndLockBody};

use super::state::{Effects, HistoryLimit, State, now_ms, validate_fetch};

/// Camunda parks at most this many fetchAndLock requests.
pub(crate) const MAX_PARKED: usize = 200;

/// Everything the HTTP layer and the Rust-side helpers share.
#[derive(Debug)]
pub(crate) struct EngineCore {
    state: Mutex<State>,
    /// Fault injection.
    pub faults: Faults,
    /// Cancelled when the engine shuts down.
    pub shutdown: CancellationToken,
    timer_wake: Notify,
    /// The deadline the timer currently sleeps towards (`i64::MAX`: none). Written with the
    /// state lock held.
    next_timer: AtomicI64,
    parked: AtomicUsize,
    /// Bumped whenever an instance ends.
    pub ended: watch::Sender<()>,
}

struct ParkedGuard<'a>(&'a AtomicUsize);

impl Drop for ParkedGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl EngineCore {
    /// A fresh engine core that keeps the history of at most `history_limit` ended instances.
    pub(crate) fn new(history_limit: HistoryLimit) -> Self {
        Self {
            state: Mutex::new(State::new(history_limit)),
            faults: Faults::default(),
            shutdown: CancellationToken::new(),
            timer_wake: Notify::new(),
            next_timer: AtomicI64::new(i64::MAX),
            parked: AtomicUsize::new(0),
            ended: watch::channel(()).0,
        }
    }

    /// Locks the state (a poisoned lock is taken over: the state stays consistent per call).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies the effects of a state change: wakes parked fetches and the timer.
    pub(crate) fn apply(&self, state: &mut State, effects: Effects) {
        state.notify(&effects.topics);
        let mut earliest = i64::MAX;
        for deadline in effects.deadlines {
            earliest = earliest.min(deadline);
        }
        if earliest < self.next_timer.load(Ordering::SeqCst) {
            self.next_timer.store(earliest, Ordering::SeqCst);
            self.timer_wake.notify_one();
        }
        if effects.instance_ended {
            self.ended.send_replace(());
        }
    }

    /// Runs a state change and applies its effects.
    pub(crate) fn run<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<(T, Effects), RestError>,
    ) -> Result<T, RestError> {
        let mut state = self.lock();
        let (out, effects) = f(&mut state)?;
        self.apply(&mut state, effects);
        Ok(out)
    }

    /// The number of parked fetchAndLock requests.
    pub(crate) fn parked(&self) -> usize {
        self.parked.load(Ordering::SeqCst)
    }

    /// The lock-expiry timer: wakes parked fetches when a lock or retry timeout elapses.
    pub(crate) async fn run_timer(&self) {
        loop {
            let now = now_ms();
            let next = {
                let mut state = self.lock();
                let topics = state.reap(now);
                state.notify(&topics);
                let next = state.next_deadline().unwrap_or(i64::MAX);
                self.next_timer.store(next, Ordering::SeqCst);
                next
            };
            let wait = if next == i64::MAX {
                Duration::from_secs(3600)
            } else {
                // +1 ms: a lock is expired once its expiry time is <= now.
                Duration::from_millis(u64::try_from(next - now).unwrap_or(0) + 1)
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.timer_wake.notified() => {}
                () = self.shutdown.cancelled() => return,
            }
        }
    }

    /// Locks what `req` may have now and renders the answer, under one lock.
    fn fetch_once(&self, state: &mut State, req: &FetchAndLockBody) -> Vec<ExternalTaskBody> {
        let (locked, effects) = state.fetch_and_lock(req, now_ms());
        self.apply(state, effects);
        state.locked_bodies(req, &locked)
    }

    /// `POST /external-task/fetchAndLock`, with long polling.
    ///
    /// `connection` is cancelled when the HTTP connection is closed by the engine.
    pub(crate) async fn fetch_and_lock(
        &self,
        req: FetchAndLockBody,
        connection: Option<CancellationToken>,
    ) -> Result<Vec<ExternalTaskBody>, RestError> {
        validate_fetch(&req)?;
        let timeout = req.async_response_timeout.unwrap_or(0).max(0);
        let topics = req.topic_names();
        let (mut receivers, first) = {
            let mut state = self.lock();
            let receivers = if timeout > 0 {
                state.subscribe(&topics)
            } else {
                Vec::new()
            };
            (receivers, self.fetch_once(&mut state, &req))
        };
        if !first.is_empty() || timeout == 0 || req.max_tasks.unwrap_or(0) <= 0 {
            return Ok(first);
        }
        if self.parked.fetch_add(1, Ordering::SeqCst) >= MAX_PARKED {
            self.parked.fetch_sub(1, Ordering::SeqCst);
            return Err(RestError {
                status: 500,
                kind: "InvalidRequestException",
                message: "At the moment the server has to handle too many requests at the same time. Please try again later.".to_string(),
                code: None,
            });
        }
        let _guard = ParkedGuard(&self.parked);
        let deadline = tokio::time::Instant::now()
            + Duration::from_millis(u64::try_from(timeout).unwrap_or(0));
        let connection = connection.unwrap_or_default();
        loop {
            tokio::select! {
                () = wait_any(&mut receivers) => {}
                () = tokio::time::sleep_until(deadline) => return Ok(Vec::new()),
                () = self.shutdown.cancelled() => {
                    return Err(RestError {
                        status: 500,
                        kind: "RestException",
                        message: "Request rejected due to shutdown of application server.".to_string(),
                        code: None,
                    });
                }
                () = connection.cancelled() => {
                    return Err(RestError::engine("The connection was closed by the dev engine"));
                }
            }
            let out = self.fetch_once(&mut self.lock(), &req);
            if !out.is_empty() {
                return Ok(out);
            }
        }
    }
}

impl Default for EngineCore {
    fn default() -> Self {
        Self::new(HistoryLimit::default())
    }
}

/// Waits until any of the receivers sees a change (forever if there are none or all closed).
async fn wait_any(receivers: &mut [watch::Receiver<()>]) {
    type Changed<'a> =
        Pin<Box<dyn Future<Output = Result<(), watch::error::RecvError>> + Send + 'a>>;
    let mut futures: Vec<Option<Changed<'_>>> = receivers
        .iter_mut()
        .map(|r| Some(Box::pin(r.changed()) as Changed<'_>))
        .collect();
    std::future::poll_fn(|cx| {
        for slot in &mut futures {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(Ok(())) => return Poll::Ready(()),
                    Poll::Ready(Err(_)) => *slot = None,
                    Poll::Pending => {}
                }
            }
        }
        Poll::Pending
    })
    .await;
}
