//! The admin listener (`[admin] addr`, `--admin-addr`): `GET /healthz` (liveness), `GET /readyz`
//! (readiness) and `GET /metrics` (Prometheus text format).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bptl_core::runtime::{WorkerHandle, metrics};
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

/// The admin listener of one worker: what its endpoints read.
#[derive(Clone)]
pub struct Admin {
    worker: WorkerHandle,
    store: Arc<dyn TaskStore>,
    engine_answer_within: Duration,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("worker_id", &self.worker.worker_id())
            .field("engine_answer_within", &self.engine_answer_within)
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
        }
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

    fn healthz(&self) -> Response {
        let health = self.worker.health();
        let phase = health.phase.as_str();
        match health.alive() {
            Ok(()) => (
                StatusCode::OK,
                axum::Json(json!({ "status": "ok", "phase": phase })),
            )
                .into_response(),
            Err(reason) => (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({ "status": "stuck", "phase": phase, "reason": reason })),
            )
                .into_response(),
        }
    }

    async fn readyz(&self) -> Response {
        let engine = self.worker.health().engine_ready(self.engine_answer_within);
        let store = self.store_takes_writes().await;
        let text = |r: &Result<(), String>| match r {
            Ok(()) => "ok".to_owned(),
            Err(e) => e.clone(),
        };
        let body = json!({ "engine": text(&engine), "store": text(&store) });
        match (&engine, &store) {
            (Ok(()), Ok(())) => {
                let mut body = body;
                body["status"] = json!("ready");
                (StatusCode::OK, axum::Json(body)).into_response()
            }
            _ => {
                let reason = [("engine", &engine), ("store", &store)]
                    .into_iter()
                    .filter_map(|(what, r)| r.as_ref().err().map(|e| format!("{what}: {e}")))
                    .collect::<Vec<_>>()
                    .join("; ");
                let mut body = body;
                body["status"] = json!("not_ready");
                body["reason"] = json!(reason);
                (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
            }
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
