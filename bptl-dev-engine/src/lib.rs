//! An in-process, Camunda-7-compatible engine for development and tests.
//!
//! The dev engine speaks Camunda 7's `engine-rest` protocol with Camunda's semantics for
//! external tasks, so the bytes that work against it work against Camunda (and Operaton /
//! CIB seven): fetchAndLock with long polling, complete, failure with retries and incidents,
//! BPMN errors caught by error boundary events, lock extension, typed variables, history.
//!
//! **It is not a production engine.** Everything lives in memory and is lost at shutdown;
//! only a small BPMN subset runs (a start event, a sequence of external service tasks, error
//! boundary events on them, end events); there are no users, tenants, jobs or timers.
//! Anything else in a BPMN file is refused at deployment, naming the element and its id.
//!
//! ```no_run
//! # async fn demo() -> Result<(), bptl_dev_engine::DevEngineError> {
//! use bptl_dev_engine::DevEngine;
//! use serde_json::json;
//!
//! let engine = DevEngine::start().await?;
//! engine.deploy_file("tests/fixtures/double.bpmn")?;
//! let id = engine.start_process(
//!     "double",
//!     json!({"amount": {"value": 21, "type": "Integer"}}),
//!     Some("order-1"),
//! )?;
//! // Point a worker at engine.url() ("http://127.0.0.1:PORT/engine-rest") ...
//! engine.wait_until_all_ended(std::time::Duration::from_secs(10)).await?;
//! let vars = engine.history_variables(&id);
//! # let _ = vars;
//! engine.shutdown().await;
//! # Ok(()) }
//! ```

mod bpmn;
mod engine;
mod error;
mod faults;
mod http;
mod state;
mod variables;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use error::RestError;
pub use faults::{Endpoint, FaultAction, Faults};
pub use state::{DEFAULT_HISTORY_LIMIT, InstanceState};

use engine::EngineCore;
use state::{DeploymentRequest, DeploymentResource, HistoryLimit, TaskQuery};

/// Parses BPMN XML as a deployment does: the keys of its executable processes, or the
/// problems a deployment would report. For the fuzz targets in `fuzz/` (feature `fuzzing`).
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub fn parse_bpmn_for_fuzzing(xml: &str) -> Result<Vec<String>, Vec<String>> {
    bpmn::parse_bpmn(xml).map(|models| models.into_iter().map(|m| m.key).collect())
}

/// Errors of the Rust-side API of the dev engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevEngineError {
    /// Binding or serving the HTTP port failed.
    #[error("dev engine: cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// A BPMN file could not be read.
    #[error("dev engine: cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The engine refused a request (same error as the REST API would answer).
    #[error("dev engine: {0}")]
    Rest(#[from] RestError),
    /// `wait_until_all_ended` ran out of time.
    #[error("dev engine: {active} process instance(s) still active after {waited:?}")]
    Timeout {
        /// Instances still running.
        active: usize,
        /// How long was waited.
        waited: Duration,
    },
}

/// A deployed process definition, as returned by [`DevEngine::deploy_str`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployedDefinition {
    /// The definition id (`key:version:uuid`).
    pub id: String,
    /// The key (the BPMN process id).
    pub key: String,
    /// The version (1 for the first deployment of the key).
    pub version: i64,
}

/// Builder for a [`DevEngine`]: its port and how much history it keeps.
#[derive(Debug, Clone, Default)]
pub struct DevEngineBuilder {
    port: u16,
    history_limit: HistoryLimit,
}

impl DevEngineBuilder {
    /// Listens on this port of 127.0.0.1 (0, the default, picks a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Keeps the history (`/history/...`, [`DevEngine::history_variables`],
    /// [`DevEngine::instance_state`]) of at most this many ended process instances (at least
    /// one; default [`DEFAULT_HISTORY_LIMIT`], 10 000): when one more ends, the one that ended
    /// first is forgotten, as if Camunda's history cleanup had removed it. Running instances
    /// are always kept. This bounds the memory and the history queries of a long run.
    ///
    /// ```
    /// # async fn demo() -> Result<(), bptl_dev_engine::DevEngineError> {
    /// let engine = bptl_dev_engine::DevEngine::builder().history_limit(100).start().await?;
    /// # engine.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn history_limit(mut self, ended_instances: usize) -> Self {
        self.history_limit = HistoryLimit(ended_instances.max(1));
        self
    }

    /// Starts the engine.
    pub async fn start(self) -> Result<DevEngine, DevEngineError> {
        let core = Arc::new(EngineCore::new(self.history_limit));
        let timer_core = core.clone();
        tokio::spawn(async move { timer_core.run_timer().await });
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let server = serve(core.clone(), addr).await?;
        Ok(DevEngine {
            port: server.addr.port(),
            core,
            server: tokio::sync::Mutex::new(Some(server)),
        })
    }
}

struct Server {
    addr: SocketAddr,
    /// Stops accepting (graceful: running requests finish).
    stop: CancellationToken,
    /// Closes every connection at once.
    kill: http::KillSwitch,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

async fn serve(core: Arc<EngineCore>, addr: SocketAddr) -> Result<Server, DevEngineError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| DevEngineError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| DevEngineError::Bind { addr, source })?;
    let stop = CancellationToken::new();
    let kill: http::KillSwitch = Arc::default();
    let listener = http::EngineListener {
        inner: listener,
        kill: kill.clone(),
    };
    let app = http::router(core).into_make_service_with_connect_info::<http::ConnToken>();
    let signal = stop.clone().cancelled_owned();
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(signal)
            .await
        {
            tracing::warn!(error = %e, "dev engine: HTTP server failed");
        }
    });
    Ok(Server {
        addr,
        stop,
        kill,
        task,
    })
}

/// An in-process Camunda-compatible engine (see the [module docs](self)).
#[derive(Debug)]
pub struct DevEngine {
    port: u16,
    core: Arc<EngineCore>,
    server: tokio::sync::Mutex<Option<Server>>,
}

impl DevEngine {
    /// Starts an engine on 127.0.0.1 with a free port.
    pub async fn start() -> Result<DevEngine, DevEngineError> {
        Self::builder().start().await
    }

    /// A builder to choose the port.
    pub fn builder() -> DevEngineBuilder {
        DevEngineBuilder::default()
    }

    /// The engine-rest root, e.g. `http://127.0.0.1:8080/engine-rest`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/engine-rest", self.port)
    }

    /// The port the engine listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Fault injection for tests.
    pub fn faults(&self) -> &Faults {
        &self.core.faults
    }

    /// Deploys a BPMN file (the deployment is named after the file).
    pub fn deploy_file(
        &self,
        path: impl AsRef<Path>,
    ) -> Result<Vec<DeployedDefinition>, DevEngineError> {
        let path = path.as_ref();
        let xml = std::fs::read_to_string(path).map_err(|source| DevEngineError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let name = path.file_name().map_or_else(
            || "process.bpmn".to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        self.deploy_str(&name, &xml)
    }

    /// Deploys BPMN XML under a resource name (which should end in `.bpmn`).
    pub fn deploy_str(
        &self,
        name: &str,
        xml: &str,
    ) -> Result<Vec<DeployedDefinition>, DevEngineError> {
        let resource = if name.ends_with(".bpmn") || name.ends_with(".bpmn20.xml") {
            name.to_string()
        } else {
            format!("{name}.bpmn")
        };
        let req = DeploymentRequest {
            name: Some(name.to_string()),
            resources: vec![DeploymentResource {
                name: resource,
                content: xml.to_string(),
            }],
            ..DeploymentRequest::default()
        };
        let defs = self.core.run(|s| {
            let deployed = s.deploy(req)?;
            Ok((s.deployed_definitions(&deployed), Default::default()))
        })?;
        let mut defs: Vec<DeployedDefinition> = defs
            .iter()
            .map(|d| DeployedDefinition {
                id: d.id.clone(),
                key: d.key.clone(),
                version: d.version,
            })
            .collect();
        defs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(defs)
    }

    /// Starts the latest version of a process; `variables` is a map of typed values
    /// (`{"amount": {"value": 3, "type": "Integer"}}`). Returns the instance id.
    pub fn start_process(
        &self,
        key: &str,
        variables: Value,
        business_key: Option<&str>,
    ) -> Result<String, DevEngineError> {
        let def = self.core.lock().latest(key)?;
        let vars =
            state::request_variables(Some(&variables), variables::VariableContext::Start(&def.id))?;
        Ok(self
            .core
            .run(|s| Ok(s.start_instance(def, vars, business_key.map(str::to_string))))?)
    }

    /// The state of an instance (`None` if unknown), also after it ended.
    pub fn instance_state(&self, instance_id: &str) -> Option<InstanceState> {
        self.core.lock().instance_state(instance_id)
    }

    /// The variables of a running instance (map name → typed value); `None` once ended.
    pub fn instance_variables(&self, instance_id: &str) -> Option<Value> {
        self.core.lock().instance_variables(instance_id, false).ok()
    }

    /// The variables of an instance, also after it ended (map name → typed value).
    pub fn history_variables(&self, instance_id: &str) -> Option<Value> {
        self.core.lock().history_variables_map(instance_id)
    }

    /// Open incidents, optionally of one instance (same JSON as `GET /incident`).
    pub fn incidents(&self, instance_id: Option<&str>) -> Vec<Value> {
        self.core
            .lock()
            .incidents(instance_id, None, None)
            .into_iter()
            .map(|incident| serde_json::to_value(incident).unwrap_or_default())
            .collect()
    }

    /// Open external tasks (same JSON as `GET /external-task`), optionally of one topic.
    pub fn external_tasks(&self, topic: Option<&str>) -> Vec<Value> {
        let q = TaskQuery {
            topic_name: topic.map(str::to_string),
            ..TaskQuery::default()
        };
        self.core.lock().query_tasks(&q)
    }

    /// The number of open external tasks.
    pub fn open_task_count(&self) -> usize {
        self.core.lock().open_task_count()
    }

    /// The number of running process instances.
    pub fn active_instance_count(&self) -> usize {
        self.core.lock().active_instance_count()
    }

    /// The number of fetchAndLock requests currently parked (long polling).
    pub fn parked_fetch_count(&self) -> usize {
        self.core.parked()
    }

    /// Waits until no process instance is running, at most `timeout`.
    pub async fn wait_until_all_ended(&self, timeout: Duration) -> Result<(), DevEngineError> {
        let mut rx = self.core.ended.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let active = self.active_instance_count();
            if active == 0 {
                return Ok(());
            }
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    return Err(DevEngineError::Timeout { active, waited: timeout });
                }
            }
        }
    }

    /// Makes the server go away: closes the listener and every open connection (parked
    /// fetches included) without an answer. The state is kept; see [`Self::restart_http`].
    pub async fn stop_http(&self) {
        let server = self.server.lock().await.take();
        if let Some(server) = server {
            server.stop.cancel();
            http::close_all(&server.kill);
            let _ = tokio::time::timeout(Duration::from_secs(5), server.task).await;
        }
    }

    /// Closes every open connection (parked fetches included) without an answer, as a
    /// restarting server or a proxy would; the listener stays up.
    pub async fn close_connections(&self) {
        if let Some(server) = self.server.lock().await.as_ref() {
            http::close_all(&server.kill);
        }
    }

    /// Listens again on the same port after [`Self::stop_http`], with the same state.
    pub async fn restart_http(&self) -> Result<(), DevEngineError> {
        let mut guard = self.server.lock().await;
        if guard.is_some() {
            return Ok(());
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut last = None;
        // The port may linger briefly after the old listener closed.
        for _ in 0..50 {
            match serve(self.core.clone(), addr).await {
                Ok(server) => {
                    *guard = Some(server);
                    return Ok(());
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        Err(last.unwrap_or(DevEngineError::Timeout {
            active: 0,
            waited: Duration::ZERO,
        }))
    }

    /// Shuts down: parked fetches answer 500, then the server stops.
    pub async fn shutdown(self) {
        self.core.shutdown.cancel();
        let server = self.server.lock().await.take();
        if let Some(server) = server {
            server.stop.cancel();
            if tokio::time::timeout(Duration::from_secs(2), &mut { server.task })
                .await
                .is_err()
            {
                http::close_all(&server.kill);
            }
        }
    }
}

impl Drop for DevEngine {
    fn drop(&mut self) {
        self.core.shutdown.cancel();
        if let Ok(mut guard) = self.server.try_lock()
            && let Some(server) = guard.take()
        {
            server.stop.cancel();
            http::close_all(&server.kill);
        }
    }
}

/// Runs a dev engine on `127.0.0.1:port` with the given BPMN files deployed, printing
/// `dev engine listening on http://127.0.0.1:PORT/engine-rest`, until Ctrl-C.
pub async fn serve_standalone(port: u16, bpmn_files: &[PathBuf]) -> Result<(), DevEngineError> {
    let engine = DevEngine::builder().port(port).start().await?;
    for file in bpmn_files {
        for def in engine.deploy_file(file)? {
            println!(
                "deployed {} (version {}) from {}",
                def.key,
                def.version,
                file.display()
            );
        }
    }
    println!("dev engine listening on {}", engine.url());
    let _ = tokio::signal::ctrl_c().await;
    engine.shutdown().await;
    Ok(())
}
