//! Fault injection: make chosen endpoints answer errors, slow down, or drop the connection.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

/// An endpoint of the dev engine, for fault injection and request counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `POST /external-task/fetchAndLock`.
    FetchAndLock,
    /// `POST /external-task/{id}/complete`.
    Complete,
    /// `POST /external-task/{id}/failure`.
    Failure,
    /// `POST /external-task/{id}/bpmnError`.
    BpmnError,
    /// `POST /external-task/{id}/extendLock`.
    ExtendLock,
    /// `POST /external-task/{id}/lock`.
    Lock,
    /// `POST /external-task/{id}/unlock`.
    Unlock,
    /// `PUT /external-task/{id}/retries`.
    SetRetries,
    /// `GET /external-task/{id}` and `GET /external-task/{id}/errorDetails`.
    GetExternalTask,
    /// `GET /external-task` and `GET /external-task/count`.
    ListExternalTasks,
    /// `POST /deployment/create`.
    Deploy,
    /// `POST /process-definition/.../start`.
    StartProcess,
    /// Every other endpoint.
    Other,
}

impl Endpoint {
    /// Classifies a request by method and path (relative to `/engine-rest` or absolute).
    pub fn classify(method: &str, path: &str) -> Endpoint {
        let path = path.strip_prefix("/engine-rest").unwrap_or(path);
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method, segments.as_slice()) {
            ("POST", ["external-task", "fetchAndLock"]) => Endpoint::FetchAndLock,
            ("POST", ["external-task", _, "complete"]) => Endpoint::Complete,
            ("POST", ["external-task", _, "failure"]) => Endpoint::Failure,
            ("POST", ["external-task", _, "bpmnError"]) => Endpoint::BpmnError,
            ("POST", ["external-task", _, "extendLock"]) => Endpoint::ExtendLock,
            ("POST", ["external-task", _, "lock"]) => Endpoint::Lock,
            ("POST", ["external-task", _, "unlock"]) => Endpoint::Unlock,
            ("PUT", ["external-task", _, "retries"]) => Endpoint::SetRetries,
            ("GET", ["external-task"] | ["external-task", "count"]) => Endpoint::ListExternalTasks,
            ("GET", ["external-task", _] | ["external-task", _, "errorDetails"]) => {
                Endpoint::GetExternalTask
            }
            ("POST", ["deployment", "create"]) => Endpoint::Deploy,
            ("POST", ["process-definition", .., "start"]) => Endpoint::StartProcess,
            _ => Endpoint::Other,
        }
    }
}

/// What an injected fault does to one request.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FaultAction {
    /// Answer with this status and JSON body (`Content-Type: application/json`).
    Respond {
        /// The HTTP status code.
        status: u16,
        /// The JSON body.
        body: Value,
    },
    /// Wait, then close the connection without answering (a server going away mid-request,
    /// e.g. mid long poll).
    Drop {
        /// How long to hold the request before closing the connection.
        after: Duration,
    },
}

#[derive(Debug, Default)]
struct Table {
    queued: HashMap<Endpoint, VecDeque<FaultAction>>,
    latency: HashMap<Endpoint, Duration>,
    counts: HashMap<Endpoint, u64>,
}

/// The fault-injection switchboard of a [`super::DevEngine`] (see [`super::DevEngine::faults`]).
///
/// ```no_run
/// # async fn demo(engine: &bptl_dev_engine::DevEngine) {
/// use bptl_dev_engine::Endpoint;
/// use std::time::Duration;
/// // The next two completes answer 500 with an optimistic-locking body.
/// engine.faults().fail_next(
///     Endpoint::Complete,
///     2,
///     500,
///     serde_json::json!({"type": "OptimisticLockingException", "message": "conflict", "code": 1}),
/// );
/// engine.faults().add_latency(Endpoint::FetchAndLock, Duration::from_millis(200));
/// engine.faults().drop_next(Endpoint::FetchAndLock, 1, Duration::from_millis(100));
/// # }
/// ```
#[derive(Debug, Default)]
pub struct Faults {
    table: Mutex<Table>,
}

impl Faults {
    fn with<R>(&self, f: impl FnOnce(&mut Table) -> R) -> R {
        let mut guard = self.table.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Answers the next `n` requests to `endpoint` with `status` and the JSON `body`,
    /// without touching the engine state.
    pub fn fail_next(&self, endpoint: Endpoint, n: usize, status: u16, body: Value) {
        self.push(endpoint, n, FaultAction::Respond { status, body });
    }

    /// Holds the next `n` requests to `endpoint` for `after`, then closes their connections
    /// without an answer.
    pub fn drop_next(&self, endpoint: Endpoint, n: usize, after: Duration) {
        self.push(endpoint, n, FaultAction::Drop { after });
    }

    /// Queues `n` times an arbitrary [`FaultAction`] for `endpoint`.
    pub fn push(&self, endpoint: Endpoint, n: usize, action: FaultAction) {
        self.with(|t| {
            let q = t.queued.entry(endpoint).or_default();
            q.extend(std::iter::repeat_n(action, n));
        });
    }

    /// Delays every request to `endpoint` by `latency` (replaces an earlier latency;
    /// `Duration::ZERO` removes it).
    pub fn add_latency(&self, endpoint: Endpoint, latency: Duration) {
        self.with(|t| {
            if latency.is_zero() {
                t.latency.remove(&endpoint);
            } else {
                t.latency.insert(endpoint, latency);
            }
        });
    }

    /// Removes all queued faults and latencies (request counts stay).
    pub fn clear(&self) {
        self.with(|t| {
            t.queued.clear();
            t.latency.clear();
        });
    }

    /// How many requests reached `endpoint` so far (including faulted ones).
    pub fn request_count(&self, endpoint: Endpoint) -> u64 {
        self.with(|t| t.counts.get(&endpoint).copied().unwrap_or(0))
    }

    /// Counts a request and takes its latency and next fault.
    pub(crate) fn on_request(&self, endpoint: Endpoint) -> (Option<Duration>, Option<FaultAction>) {
        self.with(|t| {
            *t.counts.entry(endpoint).or_default() += 1;
            let latency = t.latency.get(&endpoint).copied();
            let action = t.queued.get_mut(&endpoint).and_then(VecDeque::pop_front);
            (latency, action)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_endpoints() {
        assert_eq!(
            Endpoint::classify("POST", "/engine-rest/external-task/fetchAndLock"),
            Endpoint::FetchAndLock
        );
        assert_eq!(
            Endpoint::classify("POST", "/engine-rest/external-task/abc/complete"),
            Endpoint::Complete
        );
        assert_eq!(
            Endpoint::classify("POST", "/engine-rest/process-definition/key/k/start"),
            Endpoint::StartProcess
        );
        assert_eq!(
            Endpoint::classify("GET", "/engine-rest/external-task/abc"),
            Endpoint::GetExternalTask
        );
        assert_eq!(
            Endpoint::classify("GET", "/engine-rest/incident"),
            Endpoint::Other
        );
    }

    #[test]
    fn faults_are_consumed_in_order() {
        let faults = Faults::default();
        faults.fail_next(Endpoint::Complete, 1, 500, Value::Null);
        assert!(matches!(
            faults.on_request(Endpoint::Complete).1,
            Some(FaultAction::Respond { status: 500, .. })
        ));
        assert!(faults.on_request(Endpoint::Complete).1.is_none());
        assert_eq!(faults.request_count(Endpoint::Complete), 2);
    }
}
