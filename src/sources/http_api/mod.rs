//! The HTTP work-unit API: `POST /api/v1/work-unit` with `{"topic": "...", "vars": {...}}` runs
//! the unit mapped to the topic synchronously and answers `{"resultVars": {...}}` — BPTL's
//! work-unit API, for engines and applications that push work instead of being polled.
//!
//! Each call becomes a task of engine type `http` that a [`Worker`] runs through the same path
//! as an engine's task (mappings, registry, credentials, store, timeline, metrics): the
//! [`HttpEngine`] hands the worker the tasks the handler pushed, and the worker's report of
//! the outcome answers the call. README, "The HTTP work-unit API", lists the status codes and
//! guarantees; `worker run` serves it when `[http_api] addr` is set.
//!
//! * **Topics**: the active mappings with `engine = "http"`; another topic answers 400.
//! * **Who calls**: `Authorization: Bearer TOKEN`, a token per application ([`ApiTokens`]);
//!   the application's id becomes the task's `bptlAppId`, so its credentials apply.
//! * **No retries**: a failure answers 500 at once, a BPMN error 422.
//! * **Idempotency**: with an `Idempotency-Key` header the key (per application) is claimed in
//!   the store with [`TaskStore::insert_new`](bptl_core::TaskStore::insert_new) before the unit
//!   runs; a call repeating it gets the stored outcome and never runs the unit again. A repeat
//!   arriving while the first call runs waits for its outcome (up to the timeout).
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use bptl::sources::http_api::{ApiTokens, HttpApi};
//! use bptl::{Registry, TaskMapping, TaskMappings, Worker};
//! # let _ = bptl::dummy::echo; // links the demo units
//!
//! let api = HttpApi::new(ApiTokens::new([("case-app", "s3cret")]), Duration::from_secs(10));
//! let worker = Worker::builder(api.engine())
//!     .registry(Registry::global()?.clone())
//!     .mappings(TaskMappings::new([TaskMapping::new("double", "bptl_dummy::Double").engine("http")])?)
//!     .build()?;
//! let server = api.serve("127.0.0.1:0".parse()?, &worker).await?;
//! let handle = worker.handle();
//! let running = tokio::spawn(worker.run(std::future::pending::<()>()));
//!
//! bptl::credentials::install_crypto_provider(); // before a client of your own (README, TLS)
//! let answer: serde_json::Value = reqwest::Client::new()
//!     .post(format!("http://{}/api/v1/work-unit", server.local_addr()))
//!     .bearer_auth("s3cret")
//!     .json(&serde_json::json!({ "topic": "double", "vars": { "amount": 21 } }))
//!     .send().await?
//!     .json().await?;
//! assert_eq!(answer["resultVars"], serde_json::json!({ "doubled": 42 }));
//!
//! handle.shutdown();
//! running.await?;
//! server.stop().await;
//! # Ok(()) }
//! ```

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bptl_core::{Worker, WorkerHandle, WorkerStats};

mod auth;
mod engine;
mod request;
mod server;

pub use auth::ApiTokens;
pub use engine::{CallOutcome, ENGINE_TYPE, HttpEngine, HttpTask};

/// The API's name in `/healthz` (`"sources": {"http_api": ...}`).
const ENGINE_NAME_IN_HEALTH: &str = "http_api";

/// The path the API is served at.
pub const PATH: &str = "/api/v1/work-unit";

/// The HTTP work-unit API: its engine (to build the worker with), who may call, how long a
/// call waits. See the [module](self).
#[derive(Debug, Clone)]
pub struct HttpApi {
    engine: HttpEngine,
    tokens: ApiTokens,
    timeout: Duration,
}

impl HttpApi {
    /// An API the applications of `tokens` may call; a call waits `timeout` for its unit (then
    /// answers 504, while the unit goes on).
    pub fn new(tokens: ApiTokens, timeout: Duration) -> Self {
        Self {
            engine: HttpEngine::new(),
            tokens,
            timeout,
        }
    }

    /// The engine to build the API's [`Worker`] with.
    pub fn engine(&self) -> HttpEngine {
        self.engine.clone()
    }

    /// Serve the API at `addr` for `worker` (built with [`engine`](Self::engine)): its active
    /// `http` mappings are the topics, its store keeps the records. The server stops accepting
    /// calls when the worker's shutdown is requested; run the worker, then
    /// [`stop`](HttpApiServer::stop) the server.
    pub async fn serve(
        &self,
        addr: SocketAddr,
        worker: &Worker<HttpEngine>,
    ) -> std::io::Result<HttpApiServer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let handle = worker.handle();
        let state = Arc::new(server::ApiState {
            engine: self.engine.clone(),
            tokens: self.tokens.clone(),
            timeout: self.timeout,
            store: Arc::clone(worker.store()),
            topics: worker
                .topics()
                .into_iter()
                .map(|t| t.topic)
                .collect::<HashSet<_>>(),
            worker_id: worker.worker_id().to_owned(),
            handle: handle.clone(),
        });
        let app = server::router(state);
        let serving = Arc::new(AtomicBool::new(true));
        let served = Arc::clone(&serving);
        let task = tokio::spawn(async move {
            let stopping = async move { handle.shutdown_requested().await };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopping)
                .await
            {
                tracing::error!("the HTTP work-unit API stopped: {e}");
            }
            served.store(false, Ordering::Relaxed);
        });
        tracing::info!("HTTP work-unit API on http://{local_addr}{PATH}");
        Ok(HttpApiServer {
            local_addr,
            engine: self.engine.clone(),
            serving,
            task,
        })
    }
}

/// The running server of an [`HttpApi`].
#[derive(Debug)]
pub struct HttpApiServer {
    local_addr: SocketAddr,
    engine: HttpEngine,
    /// Cleared when the server stops (its worker's shutdown, or the listener failed).
    serving: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl HttpApiServer {
    /// Where it listens (the port chosen when serving at port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A check of whether the server still accepts calls, for
    /// [`Admin::watch_listener`](crate::cli::Admin::watch_listener): `Err` names the address
    /// once it stopped (its worker's shutdown was requested, or the listener failed).
    pub fn serving(&self) -> impl Fn() -> Result<(), String> + Send + Sync + 'static {
        let serving = Arc::clone(&self.serving);
        let addr = self.local_addr;
        move || {
            if serving.load(Ordering::Relaxed) {
                Ok(())
            } else {
                Err(format!(
                    "the HTTP work-unit API at http://{addr}{PATH} no longer accepts calls"
                ))
            }
        }
    }

    /// After the worker stopped: answer the calls it left (503), then wait for the server to
    /// close its connections.
    pub async fn stop(self) {
        self.engine
            .abandon_all("the worker stopped before the unit ran");
        let _ = self.task.await;
    }
}

/// The API as `worker run` serves it: its worker runs beside `leader` (the engine's worker)
/// and stops with it.
pub(crate) struct RunningApi {
    worker: tokio::task::JoinHandle<WorkerStats>,
    handle: WorkerHandle,
    server: HttpApiServer,
}

impl RunningApi {
    /// Have `/healthz` watch the API's worker and listener (source `http_api`).
    pub(crate) fn watched_by(&self, admin: crate::cli::Admin) -> crate::cli::Admin {
        admin.watch_listener(
            ENGINE_NAME_IN_HEALTH,
            self.handle.clone(),
            self.server.serving(),
        )
    }

    /// Wait for the API's worker to stop (it stops with its leader), then for the server.
    pub(crate) async fn stop(self) -> Option<WorkerStats> {
        let stats = self.worker.await.ok();
        self.server.stop().await;
        stats
    }
}

/// Start the API `[http_api] addr` asks for (`None` when it is not set), with the same store,
/// registry and credentials as `leader`'s worker; it shuts down when `leader` does.
pub(crate) async fn start(
    config: &crate::config::Config,
    store: Arc<dyn bptl_core::TaskStore>,
    credentials: Arc<bptl_credentials::CredentialStore>,
    leader: WorkerHandle,
) -> Result<Option<RunningApi>, String> {
    let Some(addr) = config.http_api.addr else {
        return Ok(None);
    };
    let env = |name: &str| std::env::var(name).ok();
    let tokens =
        ApiTokens::from_config(&config.services, &env).map_err(|problems| problems.join("; "))?;
    let api = HttpApi::new(tokens, config.http_api.timeout);
    let registry = bptl_core::Registry::global().map_err(|e| e.to_string())?;
    let worker_config = bptl_core::WorkerConfig {
        max_tasks: config.http_api.max_tasks,
        ..config.worker_config()
    };
    let worker = Worker::builder(api.engine())
        .registry(registry.clone())
        .mappings(no_retries(config.mappings()))
        .config(worker_config)
        .store(store)
        .extension(credentials)
        .build()
        .map_err(|e| e.to_string())?;
    let server = api
        .serve(addr, &worker)
        .await
        .map_err(|e| format!("http_api.addr: cannot listen on {addr}: {e}"))?;
    let handle = worker.handle();
    tokio::spawn(async move {
        leader.shutdown_requested().await;
        handle.shutdown();
        leader.shutdown_now_requested().await;
        handle.shutdown_now();
    });
    let api_handle = worker.handle();
    let worker = tokio::spawn(worker.run(std::future::pending::<()>()));
    Ok(Some(RunningApi {
        worker,
        handle: api_handle,
        server,
    }))
}

/// The mappings with the `http` ones' retries at 0: a synchronous caller hears a failure at
/// once (the timeline then says "0 retries left", which is what happens).
fn no_retries(mappings: bptl_core::TaskMappings) -> bptl_core::TaskMappings {
    let mut out = bptl_core::TaskMappings::default();
    for m in mappings.iter() {
        let mut m = bptl_core::TaskMapping::clone(m);
        if m.engine == ENGINE_TYPE {
            m.retry.retries = 0;
        }
        // Topics are unique in the set it came from.
        let _ = out.add(m);
    }
    out
}

/// The problems `check` reports about `[http_api]` and the `http` mappings.
pub(crate) fn check(config: &crate::config::Config) -> Vec<String> {
    let mut problems = Vec::new();
    let has_mappings = config.task_mappings.iter().any(|m| m.engine == ENGINE_TYPE);
    if config.http_api.addr.is_none() {
        if has_mappings {
            problems.push(
                "task_mappings: mappings with engine = \"http\" are run by the HTTP work-unit API, which is not served: set [http_api] addr"
                    .to_owned(),
            );
        }
        return problems;
    }
    let env = |name: &str| std::env::var(name).ok();
    match ApiTokens::from_config(&config.services, &env) {
        Ok(tokens) if tokens.is_empty() => problems.push(
            "http_api.addr: no application may call the API: give one an api_token, e.g. [apps.\"https://app.example\"] api_token = { env = \"APP_API_TOKEN\" }"
                .to_owned(),
        ),
        Ok(_) => {}
        Err(p) => problems.extend(p),
    }
    if !config
        .task_mappings
        .iter()
        .any(|m| m.engine == ENGINE_TYPE && m.active)
    {
        problems.push(
            "http_api.addr: no active mapping with engine = \"http\": the API would answer every topic with 400; add [[task_mappings]] with engine = \"http\""
                .to_owned(),
        );
    }
    problems
}
