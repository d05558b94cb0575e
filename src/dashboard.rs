//! The web dashboard: server-rendered pages over the task store, a JSON API, and (when allowed)
//! "run again" on a task.
//!
//! `worker run` serves it when `[dashboard] addr` is set; `worker dashboard --config FILE`
//! serves it alone against the same store, so it works while the workers run elsewhere. See
//! README, "Dashboard", for the pages, the API and the keys.
//!
//! ```no_run
//! # async fn demo(store: std::sync::Arc<dyn bptl::TaskStore>) -> Result<(), String> {
//! use bptl::config::DashboardConfig;
//! use bptl::dashboard::Dashboard;
//! let dashboard = Dashboard::new(store, &DashboardConfig::default())?;
//! let running = dashboard.serve("127.0.0.1:9200".parse().unwrap()).await?;
//! println!("dashboard at http://{}/", running.addr);
//! # Ok(()) }
//! ```
//!
//! Access: on a loopback address nobody needs to sign in; [`Dashboard::serve`] refuses any
//! other address unless a bearer token, basic credentials or a trusted single-sign-on header
//! is configured. Every answer carries `Content-Security-Policy`, `X-Content-Type-Options`,
//! `Referrer-Policy` and `Cache-Control: no-store`; all text is escaped by the templates.

mod api;
mod auth;
mod chart;
mod pages;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bptl_core::store::TaskStore;
use bptl_core::{Registry, WorkerHandle};

use crate::config::{Config, DashboardConfig};

/// The address `worker dashboard` listens on when `[dashboard] addr` is not set.
pub const DEFAULT_ADDR: &str = "127.0.0.1:9200";

/// Records per page of the task list.
pub const PAGE_SIZE: usize = 50;

/// The deepest page the task list serves (paging is bounded: narrow the filters to go further
/// back).
pub const MAX_PAGE: usize = 200;

/// The web dashboard over one task store: build it, then [`serve`](Self::serve) it or mount
/// its [`router`](Self::router).
pub struct Dashboard {
    state: Arc<DashState>,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard")
            .field("allow_actions", &self.state.allow_actions)
            .field("auth", &self.state.auth.describe())
            .finish_non_exhaustive()
    }
}

/// What the handlers share.
pub(crate) struct DashState {
    pub(crate) store: Arc<dyn TaskStore>,
    pub(crate) auth: auth::Auth,
    pub(crate) allow_actions: bool,
    /// The token every state-changing form carries (random per process).
    pub(crate) csrf: String,
    pub(crate) registry: Option<&'static Registry>,
    /// The worker's configuration: mappings, their problems, and what "run again" needs.
    pub(crate) config: Option<Config>,
    /// `check`'s problems of that configuration, computed once.
    pub(crate) problems: Vec<String>,
    pub(crate) worker: Option<WorkerHandle>,
}

/// A dashboard being served.
#[derive(Debug)]
pub struct Running {
    /// The address it listens on (the port the system chose when asked for port 0).
    pub addr: SocketAddr,
    /// The server task; abort it to stop serving.
    pub task: tokio::task::JoinHandle<()>,
}

impl Dashboard {
    /// A dashboard over `store` with the access rules and actions of `config` (its secrets are
    /// read now; the error names the key that cannot be read).
    pub fn new(store: Arc<dyn TaskStore>, config: &DashboardConfig) -> Result<Self, String> {
        let auth = auth::Auth::from_config(config)?;
        Ok(Self {
            state: Arc::new(DashState {
                store,
                auth,
                allow_actions: config.allow_actions,
                csrf: random_token(),
                registry: Registry::global().ok(),
                config: None,
                problems: Vec::new(),
                worker: None,
            }),
        })
    }

    /// Show the mappings of `config` with their problems, check the engine's reachability, and
    /// (with `allow_actions`) run tasks again through its engine, units and credentials.
    pub fn with_config(mut self, config: &Config) -> Self {
        let problems = crate::cli::check(config, Registry::global());
        let state = self.state_mut();
        state.problems = problems;
        state.config = Some(config.clone());
        self
    }

    /// Show this worker's own counts on the overview.
    pub fn with_worker(mut self, handle: WorkerHandle) -> Self {
        self.state_mut().worker = Some(handle);
        self
    }

    /// Use `registry` for the units page instead of [`Registry::global`].
    pub fn with_registry(mut self, registry: &'static Registry) -> Self {
        self.state_mut().registry = Some(registry);
        self
    }

    fn state_mut(&mut self) -> &mut DashState {
        // Built by value before it is shared: the Arc is unique here.
        Arc::get_mut(&mut self.state).unwrap_or_else(|| unreachable!("the state is shared"))
    }

    /// The routes: the pages, `/api/...`, `/style.css`, behind authentication and with the
    /// security headers.
    pub fn router(&self) -> Router {
        let state = Arc::clone(&self.state);
        Router::new()
            .route("/", get(pages::overview))
            .route("/tasks", get(pages::tasks))
            .route("/tasks/{id}", get(pages::task))
            .route(
                "/tasks/{id}/run-again",
                get(pages::confirm_run_again).post(pages::run_again),
            )
            .route("/units", get(pages::units))
            .route("/style.css", get(style))
            .route("/api", get(api::index))
            .route("/api/tasks", get(api::tasks))
            .route("/api/tasks/{id}", get(api::task))
            .route("/api/stats", get(api::stats))
            .route("/api/tasks/{id}/run-again", post(api::run_again))
            .fallback(pages::not_found)
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&state),
                auth::require,
            ))
            .layer(axum::middleware::from_fn(security_headers))
            .with_state(state)
    }

    /// Listen on `addr` and serve the dashboard in a background task.
    ///
    /// Refuses a non-loopback address when nobody would need to sign in.
    pub async fn serve(self, addr: SocketAddr) -> Result<Running, String> {
        if !addr.ip().is_loopback() && !self.state.auth.is_configured() {
            return Err(format!(
                "dashboard.addr: not serving the dashboard on {addr}: it is not a loopback address and nobody would need to sign in; set [dashboard] token, username + password, or trusted_user_header + trusted_proxies (or listen on 127.0.0.1)"
            ));
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("dashboard.addr: cannot listen on {addr}: {e}"))?;
        let local = listener
            .local_addr()
            .map_err(|e| format!("dashboard.addr: cannot listen on {addr}: {e}"))?;
        let app = self
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("the dashboard stopped: {e}");
            }
        });
        tracing::info!("serving the dashboard at http://{local}/");
        Ok(Running { addr: local, task })
    }
}

const STYLE: &str = include_str!("dashboard/style.css");

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

/// The headers every answer carries.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn random_token() -> String {
    // The thread-local generator: a CSPRNG seeded from the operating system.
    let bytes: [u8; 24] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Run a stored task again as `execute --force` does, noting on its timeline who asked.
pub(crate) async fn run_again(
    state: &DashState,
    id: &str,
    who: &str,
) -> Result<bptl_core::TaskStatus, String> {
    if !state.allow_actions {
        return Err("actions are off: set [dashboard] allow_actions = true".to_owned());
    }
    let Some(config) = &state.config else {
        return Err(
            "this dashboard has no worker configuration to run tasks with (serve it with `worker dashboard --config FILE`)"
                .to_owned(),
        );
    };
    let registry = Registry::global().map_err(|e| e.to_string())?;
    let record = crate::ops::find(&*state.store, id)
        .await
        .map_err(|e| e.to_string())?;
    let key = record.key();
    state
        .store
        .append_timeline(
            &key,
            &bptl_core::TimelineEntry {
                at: jiff::Timestamp::now(),
                kind: bptl_core::EventKind::Note,
                message: format!("run again requested in the dashboard by {who}"),
                data: serde_json::json!({ "action": "run_again", "by": who }),
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    let client = config.engine_client().map_err(|e| e.to_string())?;
    let credentials = bptl_credentials::CredentialStore::from_config(config.services.clone())
        .map_err(|p| {
            p.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })?;
    let mut extensions = bptl_core::Extensions::default();
    extensions.insert(Arc::new(credentials));
    extensions.insert(Arc::new(client.clone()));
    let worker_config = config.worker_config();
    let options = crate::ops::ExecuteOptions {
        id: key.to_string(),
        force: true,
        worker_id: worker_config
            .worker_id
            .clone()
            .unwrap_or_else(bptl_core::runtime::default_worker_id),
        lock_duration: worker_config.lock_duration,
    };
    let mut out = Vec::new();
    crate::ops::execute(
        &*state.store,
        &bptl_camunda::CamundaEngine::new(client),
        registry,
        &config.mappings(),
        extensions,
        &options,
        &mut out,
    )
    .await
    .map_err(|e| e.to_string())
}

/// Percent-encode `text` for a URL path segment or query value.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn encoding_keeps_ids_readable_and_escapes_the_rest() {
        assert_eq!(encode("camunda:abc-1"), "camunda:abc-1");
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
