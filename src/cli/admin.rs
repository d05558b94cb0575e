//! The admin listener (`[admin] addr`, `--admin-addr`): `GET /healthz` (liveness), `GET /readyz`
//! (readiness) and `GET /metrics` (Prometheus text format).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bptl_core::runtime::{LoopPhase, WorkerHandle, WorkerHealth, metrics};
use bptl_core::store::TaskKey;
use bptl_core::{TaskStatus, TaskStore};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::json;

/// The key of the readiness probe's write: no record has it, so the write changes nothing.
const PROBE_ENGINE: &str = "bptl-admin";
const PROBE_TASK: &str = "readiness-probe";
/// How long the store may take to answer the probe.
const STORE_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The process's Prometheus recorder for the `metrics` crate: installed by the first call
/// (with [`metrics::UNIT_DURATION_BUCKETS`] for the unit durations, so that they are a
/// histogram), the same handle after that.
pub fn prometheus() -> Result<PrometheusHandle, String> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(metrics::UNIT_DURATION.to_owned()),
            metrics::UNIT_DURATION_BUCKETS,
        )
        .map_err(|e| format!("the metrics recorder: {e}"))?
        .build_recorder();
    let handle = recorder.handle();
    ::metrics::set_global_recorder(recorder)
        .map_err(|_| "another metrics recorder is already installed".to_owned())?;
    let handle = HANDLE.get_or_init(|| handle).clone();
    // The help texts, also when a worker started before the recorder was installed.
    metrics::describe();
    ::metrics::describe_gauge!(metrics::BUILD_INFO, "The worker's version (always 1).");
    ::metrics::gauge!(metrics::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// A check of whether a source's listener still serves (`Err`: why not).
type ListenerCheck = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// A task source beside the engine's worker that `/healthz` watches ([`Admin::watch`]).
#[derive(Clone)]
struct Source {
    name: String,
    worker: WorkerHandle,
    listener: Option<ListenerCheck>,
}

impl Source {
    /// Whether the source is alive while the engine's worker is `main`: see [`source_alive`].
    fn alive(&self, main: &WorkerHandle) -> Result<(), String> {
        source_alive(
            &self.worker.health(),
            self.worker.is_shutting_down(),
            main.is_shutting_down(),
        )?;
        match &self.listener {
            Some(check) if !main.is_shutting_down() => check(),
            _ => Ok(()),
        }
    }
}

/// Whether a source's worker is alive: its fetch loop is not stuck
/// ([`WorkerHealth::alive`]) and, unless the whole worker is shutting down (`main_stopping`),
/// it has not stopped or begun to stop on its own (`stopping`).
fn source_alive(health: &WorkerHealth, stopping: bool, main_stopping: bool) -> Result<(), String> {
    health.alive()?;
    let stopped = stopping || matches!(health.phase, LoopPhase::Stopping | LoopPhase::Stopped);
    if stopped && !main_stopping {
        return Err(format!(
            "its worker is {} while the engine's worker runs",
            health.phase.as_str()
        ));
    }
    Ok(())
}

/// `"sources": {"NAME": "ok" or why not, ...}` in `body`, when there are sources.
fn add_sources(body: &mut serde_json::Value, sources: &[(&str, Result<(), String>)]) {
    if sources.is_empty() {
        return;
    }
    let states: serde_json::Map<String, serde_json::Value> = sources
        .iter()
        .map(|(name, r)| {
            let text = r.as_ref().err().map_or("ok", String::as_str);
            ((*name).to_owned(), json!(text))
        })
        .collect();
    body["sources"] = states.into();
}

/// `NAME: why` of each part that failed.
fn failures(parts: &[(&str, Result<(), String>)]) -> Vec<String> {
    parts
        .iter()
        .filter_map(|(name, r)| r.as_ref().err().map(|e| format!("{name}: {e}")))
        .collect()
}

/// The admin listener of one worker: what its endpoints read.
#[derive(Clone)]
pub struct Admin {
    worker: WorkerHandle,
    store: Arc<dyn TaskStore>,
    engine_answer_within: Duration,
    sources: Vec<Source>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("worker_id", &self.worker.worker_id())
            .field("engine_answer_within", &self.engine_answer_within)
            .field(
                "sources",
                &self.sources.iter().map(|s| &s.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Admin {
    /// The admin listener of the worker behind `worker`, writing to `store`: `/readyz` fails
    /// when the engine's last answer is older than `engine_answer_within`
    /// (`[admin] engine_answer_within`).
    pub fn new(
        worker: WorkerHandle,
        store: Arc<dyn TaskStore>,
        engine_answer_within: Duration,
    ) -> Self {
        Self {
            worker,
            store,
            engine_answer_within,
            sources: Vec::new(),
        }
    }

    /// Watch another task source in `/healthz`: `worker` runs the source `name` (`schedules`,
    /// `http_api`) beside the engine's worker. `/healthz` fails, naming the source, when its
    /// fetch loop is stuck or it stopped while the engine's worker runs.
    pub fn watch(self, name: &str, worker: WorkerHandle) -> Self {
        self.watch_source(name, worker, None)
    }

    /// [`watch`](Self::watch) a source that also serves a listener: `listener` says whether it
    /// still serves (`Err`: why not), e.g.
    /// [`HttpApiServer::serving`](crate::sources::http_api::HttpApiServer::serving).
    pub fn watch_listener(
        self,
        name: &str,
        worker: WorkerHandle,
        listener: impl Fn() -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.watch_source(name, worker, Some(Arc::new(listener)))
    }

    fn watch_source(
        mut self,
        name: &str,
        worker: WorkerHandle,
        listener: Option<ListenerCheck>,
    ) -> Self {
        self.sources.push(Source {
            name: name.to_owned(),
            worker,
            listener,
        });
        self
    }

    /// Listen on `addr` and serve `/healthz`, `/readyz` and `/metrics` in the background
    /// (installing the Prometheus recorder, see [`prometheus`]); returns the address listened
    /// on (useful with port 0).
    pub async fn serve(self, addr: SocketAddr) -> Result<SocketAddr, String> {
        let metrics = prometheus()?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("admin.addr: cannot listen on {addr}: {e}"))?;
        let local = listener.local_addr().unwrap_or(addr);
        let health = self.clone();
        let ready = self;
        let app = axum::Router::new()
            .route(
                "/healthz",
                axum::routing::get(move || {
                    let admin = health.clone();
                    async move { admin.healthz() }
                }),
            )
            .route(
                "/readyz",
                axum::routing::get(move || {
                    let admin = ready.clone();
                    async move { admin.readyz().await }
                }),
            )
            .route(
                "/metrics",
                axum::routing::get(move || {
                    let handle = metrics.clone();
                    async move {
                        (
                            [("content-type", "text/plain; version=0.0.4")],
                            handle.render(),
                        )
                    }
                }),
            );
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("the admin listener stopped: {e}");
            }
        });
        tracing::info!("admin listener at http://{local}: /healthz, /readyz, /metrics");
        Ok(local)
    }

    /// Each watched source with whether it is alive.
    fn sources_alive(&self) -> Vec<(&str, Result<(), String>)> {
        self.sources
            .iter()
            .map(|s| (s.name.as_str(), s.alive(&self.worker)))
            .collect()
    }

    fn healthz(&self) -> Response {
        let health = self.worker.health();
        let phase = health.phase.as_str();
        let sources = self.sources_alive();
        let mut body = match health.alive() {
            Ok(()) => json!({ "status": "ok", "phase": phase }),
            Err(reason) => json!({ "status": "stuck", "phase": phase, "reason": reason }),
        };
        add_sources(&mut body, &sources);
        let failed = failures(&sources);
        if body["status"] == "ok" && !failed.is_empty() {
            body["status"] = json!("down");
            body["reason"] = json!(failed.join("; "));
        }
        let code = if body["status"] == "ok" {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        (code, axum::Json(body)).into_response()
    }

    async fn readyz(&self) -> Response {
        let engine = self.worker.health().engine_ready(self.engine_answer_within);
        let store = self.store_takes_writes().await;
        let sources = self.sources_alive();
        let text = |r: &Result<(), String>| match r {
            Ok(()) => "ok".to_owned(),
            Err(e) => e.clone(),
        };
        let mut body = json!({ "engine": text(&engine), "store": text(&store) });
        add_sources(&mut body, &sources);
        let mut failed = failures(&[("engine", engine), ("store", store)]);
        failed.extend(failures(&sources));
        if failed.is_empty() {
            body["status"] = json!("ready");
            (StatusCode::OK, axum::Json(body)).into_response()
        } else {
            body["status"] = json!("not_ready");
            body["reason"] = json!(failed.join("; "));
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
        }
    }

    /// One write that changes nothing: a status reset of a key no record has.
    async fn store_takes_writes(&self) -> Result<(), String> {
        let key = TaskKey::new(PROBE_ENGINE, PROBE_TASK);
        match tokio::time::timeout(
            STORE_PROBE_TIMEOUT,
            self.store.reset_status(&key, TaskStatus::Initial),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!(
                "the store did not answer a write within {}",
                bptl_core::duration::format_duration(STORE_PROBE_TIMEOUT)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(phase: LoopPhase, since_progress: u64) -> WorkerHealth {
        WorkerHealth {
            phase,
            since_progress: Duration::from_secs(since_progress),
            stuck_after: Duration::from_secs(120),
            engine_up: true,
            engine_answered_ago: Some(Duration::from_secs(1)),
            last_engine_error: None,
        }
    }

    #[test]
    fn a_source_is_alive_while_its_loop_moves_and_runs_with_the_worker() {
        assert_eq!(
            source_alive(&health(LoopPhase::Fetching, 5), false, false),
            Ok(())
        );
        assert_eq!(
            source_alive(&health(LoopPhase::Fetching, 300), false, false),
            Err("the fetch loop is stuck: fetching for 5m (at most 2m expected)".to_owned())
        );
        assert_eq!(
            source_alive(&health(LoopPhase::Stopped, 5), true, false),
            Err("its worker is stopped while the engine's worker runs".to_owned())
        );
        // Asked to stop, its loop not yet there.
        assert!(source_alive(&health(LoopPhase::Fetching, 5), true, false).is_err());
        // The whole worker shuts down: not a failure.
        assert_eq!(
            source_alive(&health(LoopPhase::Stopped, 5), true, true),
            Ok(())
        );
    }
}
