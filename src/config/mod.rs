//! The worker's configuration: a TOML file plus environment overrides, validated at start with
//! errors that name the key.
//!
//! ```toml
//! [engine]
//! url = "http://127.0.0.1:8080/engine-rest"
//! # worker_id = "..."              # optional: hostname + random suffix by default
//! max_tasks = 10                   # concurrency limit
//! lock_duration = "5m"
//! async_response_timeout = "30s"
//! use_priority = false
//! shutdown_grace = "25s"          # below Kubernetes' 30 s before SIGKILL
//! # ca_file = "/etc/bptl/engine-ca.pem"       # TLS: a CA trusted besides the system's
//! # client_cert = "/etc/bptl/worker.crt"     # mutual TLS: the certificate (PEM) ...
//! # client_key = { file = "/run/secrets/worker.key" }   # ... and its key (a secret)
//! # [engine.auth]                  # type = "basic" | "bearer" | "headers" | "none"
//! # type = "basic"
//! # username = "demo"
//! # password = { env = "CAMUNDA_PASSWORD" }   # or "literal", or { file = "PATH" }
//! # type = "oauth2": token_url, client_id, secret, scope (as in [services.NAME])
//!
//! [[task_mappings]]
//! topic = "double"
//! callback = "bptl_dummy::Double"
//! # active = true, engine = "camunda", services = { zrc = "zaken" },
//! # variables = ["amount"], local_variables = false, timeout = "1m", lock_duration = "2m",
//! # retries = 3, retry_timeout = "30s", retry_backoff = 2.0, max_retry_timeout = "1h"
//!
//! [store]
//! enabled = true                   # false: keep task records in memory only
//! url = "sqlite://bptl.db"         # or postgres://... for a fleet of workers
//! # retention = "30d"              # prune completed records older than this
//! # retention_failed = "90d"       # prune failed records older than this (default: keep)
//!
//! [admin]                          # the admin listener (README, "Running in production")
//! # addr = "127.0.0.1:9100"        # GET /healthz, /readyz, /metrics (was [metrics] addr)
//! # engine_answer_within = "60s"   # /readyz fails when the engine's last answer is older
//! #                                # (default: async_response_timeout + 30s)
//!
//! [log]
//! # format = "text"                # or "json": one JSON object per line (BPTL_LOG_FORMAT)
//!
//! [callback]
//! timeout = "10s"
//! # allow = ["https://*.example.nl/hooks/"]  # callbackUrls the worker may POST to (none by
//! #                                # default); private addresses need the address itself
//!
//! [dashboard]                      # the web dashboard (README, "Dashboard")
//! # addr = "127.0.0.1:9200"        # `worker run` serves it here; `worker dashboard` too
//! # allow_actions = false          # true: the "run again" button (execute --force)
//! # token = { env = "BPTL_DASHBOARD_TOKEN" }   # bearer token, or:
//! # username = "ops"               # basic credentials
//! # password = { file = "/run/secrets/dashboard" }
//! # trusted_user_header = "X-Forwarded-User"   # single sign-on by a reverse proxy ...
//! # trusted_proxies = ["10.0.0.5"]             # ... accepted from these addresses only
//!
//! # [[schedules]]                  # tasks created by the clock (README, "Schedules")
//! # name = "nightly-report"        # unique; its ticks are NAME@TIME
//! # cron = "0 2 * * *"             # 5 fields, or 6 with seconds first
//! # timezone = "Europe/Amsterdam"  # default: the local time zone
//! # topic = "report"               # mapped with engine = "schedule"
//! # variables = { format = "pdf", due = { type = "Date", value = "2027-01-01T00:00:00.000+0100" } }
//! # active = true, catch_up = "one" | "none"
//!
//! # [traces]                       # OpenTelemetry export, feature `otel` (README, "Traces")
//! # otlp_endpoint = "http://127.0.0.1:4318"   # default: OTEL_EXPORTER_OTLP_ENDPOINT
//! # service_name = "bptl"          # default: OTEL_SERVICE_NAME, else "bptl"
//! # sample_ratio = 1.0             # share of the traces started here that are exported
//!
//! [http_api]                       # the HTTP work-unit API (README, "The HTTP work-unit API")
//! # addr = "127.0.0.1:9300"        # `worker run` serves POST /api/v1/work-unit here
//! # timeout = "30s"                # how long a call waits for its unit (then 504)
//! # max_tasks = 10                 # units of API calls run at once (more calls queue)
//! # [apps."APP_ID"] api_token = { env = "APP_TOKEN" }   # who may call it
//!
//! # [services.NAME] and [apps."APP_ID"]: see bptl-credentials
//! ```
//!
//! Durations are jiff's friendly format (`"500ms"`, `"30s"`, `"1h30m"`, `"2d"`) or ISO 8601
//! (`"PT5M"`). Every problem of the file is listed at once (unknown keys with "did you mean",
//! values of the wrong type, values outside the worker's limits), each naming its key.
//!
//! **Environment overrides**: every scalar key of `[engine]`, `[store]`, `[admin]`, `[log]`,
//! `[metrics]`, `[callback]` and `[http_api]` can be set with `BPTL_<SECTION>_<KEY>` in upper
//! case, e.g. `BPTL_ENGINE_URL`, `BPTL_ENGINE_MAX_TASKS`, `BPTL_ENGINE_LOCK_DURATION`,
//! `BPTL_STORE_URL`, `BPTL_ADMIN_ADDR`, `BPTL_LOG_FORMAT`, `BPTL_HTTP_API_ADDR`. An override wins over the file and is read as the key's
//! type (a number, `true`/`false`, a duration). An unknown
//! `BPTL_ENGINE_*`/`BPTL_STORE_*`/`BPTL_ADMIN_*`/`BPTL_LOG_*`/`BPTL_METRICS_*`/`BPTL_CALLBACK_*`/
//! `BPTL_HTTP_API_*` variable is
//! an error (a typo would otherwise be silently ignored).
//!
//! **Deprecated**: `[metrics] addr` (and `BPTL_METRICS_ADDR`) still sets the admin listener's
//! address; `check` lists it as a warning and `run` logs one. Beside `[admin] addr` it is an
//! error.
//!
//! ```
//! use bptl::config::Config;
//! let config = Config::from_toml_str(r#"
//!     [engine]
//!     url = "http://127.0.0.1:8080/engine-rest"
//!     max_tasks = 10
//!     lock_duration = "5m"
//!     async_response_timeout = "30s"
//!
//!     [[task_mappings]]
//!     topic = "double"
//!     callback = "bptl_dummy::Double"
//! "#, &|_| None).unwrap();
//! assert_eq!(config.engine.max_tasks, 10);
//!
//! let problems = Config::from_toml_str("[engine]\nurl = \"http://x\"\nmax_task = 3\n", &|_| None).unwrap_err();
//! assert_eq!(problems[0].to_string(), "engine.max_task: unknown key; did you mean 'max_tasks'?");
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use bptl_core::runtime::WorkerConfig;
use bptl_core::{TaskMapping, TaskMappings};
use bptl_credentials::{SecretConfig, ServicesConfig};

mod de;
mod engine_auth;
mod env;
mod model;
mod schedule;
mod traces;
mod validate;

pub use traces::TracesConfig;

/// A problem with the configuration: the key it is about and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key, e.g. `engine.max_tasks` or `task_mappings[2].topic`.
    pub key: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// How the worker authenticates to the engine (`[engine.auth]`).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum EngineAuthConfig {
    /// `type = "none"` (the default).
    #[default]
    None,
    /// `type = "basic"`, `username`, `password` (a secret).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: SecretConfig,
    },
    /// `type = "bearer"`, `token` (a secret).
    Bearer {
        /// The token.
        token: SecretConfig,
    },
    /// `type = "headers"`, `headers = { "X-Api-Key" = { env = "KEY" } }` (secret values).
    Headers(BTreeMap<String, SecretConfig>),
    /// `type = "oauth2"`: client credentials, as a `[services.NAME]` with `auth = "oauth2"`
    /// has them: `token_url`, `client_id`, `secret` (a secret), `scope` (optional). The token
    /// is cached and renewed before it expires; a 401 from the engine fetches it again once.
    OAuth2 {
        /// `token_url`: the token endpoint.
        token_url: String,
        /// `client_id`.
        client_id: String,
        /// `secret`: the client secret.
        secret: SecretConfig,
        /// `scope`.
        scope: Option<String>,
    },
}

/// `[engine]`.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `url`: the engine-rest root.
    pub url: String,
    /// `worker_id`: default hostname + random suffix.
    pub worker_id: Option<String>,
    /// `max_tasks`: the concurrency limit (default 10).
    pub max_tasks: usize,
    /// `lock_duration` (default `5m`).
    pub lock_duration: Duration,
    /// `async_response_timeout`: the long-poll timeout (default `30s`, at most `30m`).
    pub async_response_timeout: Duration,
    /// `use_priority` (default false).
    pub use_priority: bool,
    /// `shutdown_grace`: how long running units may finish at shutdown (default `25s`, so that
    /// the rest is unlocked before Kubernetes' SIGKILL 30 s after SIGTERM).
    pub shutdown_grace: Duration,
    /// `timeout`: HTTP timeout of engine calls other than the long poll (default `30s`).
    pub timeout: Duration,
    /// `[engine.auth]`.
    pub auth: EngineAuthConfig,
    /// `ca_file`, `client_cert`, `client_key`: the engine connection's TLS (read by
    /// [`Config::engine_client`]).
    pub tls: bptl_credentials::TlsFiles,
}

/// `[store]`.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `enabled`: keep task records in the persistent store at `url` (default true; false: in
    /// memory only, lost at exit).
    pub enabled: bool,
    /// `url` (default `sqlite://bptl.db`).
    pub url: String,
    /// `retention`: the worker prunes completed records older than this, hourly (default: never).
    pub retention: Option<Duration>,
    /// `retention_failed`: the worker prunes failed records older than this, hourly (default:
    /// never).
    pub retention_failed: Option<Duration>,
}

/// The whole configuration file.
#[derive(Debug, Clone)]
pub struct Config {
    /// `[engine]`.
    pub engine: EngineConfig,
    /// `[[task_mappings]]`.
    pub task_mappings: Vec<TaskMapping>,
    /// `[services.*]` and `[apps.*]`.
    pub services: ServicesConfig,
    /// `[store]`.
    pub store: StoreConfig,
    /// `[admin]`: the admin listener.
    pub admin: AdminConfig,
    /// `[log] format` (`BPTL_LOG_FORMAT`): how `worker run` writes its log lines.
    pub log_format: LogFormat,
    /// What is allowed but should change (deprecated keys): `check` lists them, `run` logs
    /// them.
    pub warnings: Vec<ConfigError>,
    /// `[callback] timeout` (default `10s`).
    pub callback_timeout: Duration,
    /// `[callback] allow`: the callback URLs the worker may POST to (default: none).
    pub callback_allow: crate::callback::CallbackAllowlist,
    /// `[dashboard]`.
    pub dashboard: DashboardConfig,
    /// `[[schedules]]` (README, "Schedules").
    pub schedules: Vec<crate::schedule::Schedule>,
    /// `[http_api]`.
    pub http_api: HttpApiConfig,
    /// `[traces]`: OpenTelemetry export (feature `otel`; `None`: no export).
    pub traces: Option<TracesConfig>,
}

/// `[admin]`: the admin listener, serving `GET /healthz` (liveness), `GET /readyz` (readiness)
/// and `GET /metrics` (Prometheus); README, "Running in production".
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// `addr` (the deprecated `[metrics] addr` sets it too): listen here (default: no
    /// listener).
    pub addr: Option<std::net::SocketAddr>,
    /// `engine_answer_within`: `/readyz` fails when the engine's last answer to a fetch is
    /// older (default: `async_response_timeout` + 30 s; must be longer than
    /// `async_response_timeout`).
    pub engine_answer_within: Duration,
}

/// `[log] format`: how the worker writes its log lines (on stderr).
///
/// ```
/// use bptl::config::LogFormat;
/// assert_eq!(LogFormat::parse("json"), Ok(LogFormat::Json));
/// assert_eq!(
///     LogFormat::parse("xml").unwrap_err(),
///     "'xml' is not a log format: write \"text\" or \"json\""
/// );
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// `"text"` (the default): one human-readable line per event.
    #[default]
    Text,
    /// `"json"`: one JSON object per line, with the event's fields and the current span's
    /// (for a task: `topic`, `task_id`, `process_instance_id`, `worker_id`) under `"span"`.
    Json,
}

impl LogFormat {
    /// `"text"` or `"json"`; anything else is an error saying what to write.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "'{other}' is not a log format: write \"text\" or \"json\""
            )),
        }
    }
}

/// `[http_api]`: the HTTP work-unit API (`POST /api/v1/work-unit`), served by `worker run`
/// when `addr` is set. Callers authenticate with an `[apps."APP_ID"] api_token`.
#[derive(Debug, Clone)]
pub struct HttpApiConfig {
    /// `addr`: where `worker run` serves the API (default: not served).
    pub addr: Option<std::net::SocketAddr>,
    /// `timeout`: how long a call waits for its unit before answering 504 (default `30s`).
    pub timeout: Duration,
    /// `max_tasks`: how many units of API calls run at once; more calls wait (default 10).
    pub max_tasks: usize,
}

impl Default for HttpApiConfig {
    fn default() -> Self {
        Self {
            addr: None,
            timeout: Duration::from_secs(30),
            max_tasks: 10,
        }
    }
}

/// `[dashboard]`: where the web dashboard listens and who may use it.
///
/// On a loopback address nobody needs to sign in; on any other address one of `token`,
/// `username` + `password` or `trusted_user_header` + `trusted_proxies` is required (the
/// configuration is refused otherwise).
#[derive(Debug, Clone, Default)]
pub struct DashboardConfig {
    /// `addr`: `worker run` serves the dashboard here (`worker dashboard` defaults to
    /// `127.0.0.1:9200`).
    pub addr: Option<std::net::SocketAddr>,
    /// `allow_actions`: offer "run again" on failed tasks (default `false`).
    pub allow_actions: bool,
    /// `token`: accept `Authorization: Bearer TOKEN`.
    pub token: Option<SecretConfig>,
    /// `username`: with `password`, accept basic credentials.
    pub username: Option<String>,
    /// `password`: the basic credentials' password.
    pub password: Option<SecretConfig>,
    /// `trusted_user_header`: the header a single-sign-on proxy sets to the signed-in user.
    pub trusted_user_header: Option<String>,
    /// `trusted_proxies`: the addresses the trusted header is accepted from.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl DashboardConfig {
    /// Whether some way of signing in is configured.
    pub fn has_auth(&self) -> bool {
        self.token.is_some() || self.username.is_some() || self.trusted_user_header.is_some()
    }
}

impl Config {
    /// Read and validate a configuration file, applying `BPTL_*` environment overrides.
    pub fn load(path: &Path) -> Result<Config, Vec<ConfigError>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![ConfigError::new(
                "",
                format!("cannot read the configuration file {}: {e}", path.display()),
            )]
        })?;
        Self::from_toml_str(&text, &|name| std::env::var(name).ok()).map_err(|mut problems| {
            for p in &mut problems {
                if p.key.is_empty() {
                    p.message = format!("{}: {}", path.display(), p.message);
                }
            }
            problems
        })
    }

    /// Parse and validate configuration text; `env` looks up override variables
    /// (`|name| std::env::var(name).ok()` for the process environment). Returns every problem.
    pub fn from_toml_str(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, Vec<ConfigError>> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            vec![ConfigError::new(
                "",
                format!("not valid TOML: {}", e.to_string().trim()),
            )]
        })?;
        let mut problems = Vec::new();
        let overridden = env::apply(&mut table, env, &mut problems);
        let config = de::read::<model::FileModel>(&table, &overridden, &mut problems)
            .map(|file| validate::config(file, env, &mut problems));
        match config {
            Some(config) if problems.is_empty() => Ok(config),
            _ => Err(problems),
        }
    }

    /// The task mappings as a set (topics are unique: checked when loading).
    pub fn mappings(&self) -> TaskMappings {
        let mut set = TaskMappings::default();
        for m in &self.task_mappings {
            // Duplicates were reported when loading; keep the first.
            let _ = set.add(m.clone());
        }
        set
    }

    /// The runtime's configuration.
    pub fn worker_config(&self) -> WorkerConfig {
        WorkerConfig {
            worker_id: self.engine.worker_id.clone(),
            max_tasks: self.engine.max_tasks,
            lock_duration: self.engine.lock_duration,
            async_response_timeout: self.engine.async_response_timeout,
            use_priority: self.engine.use_priority,
            shutdown_grace: self.engine.shutdown_grace,
            callback_timeout: self.callback_timeout,
            ..WorkerConfig::default()
        }
    }

    /// The Camunda client for `[engine]`, with its authentication's secrets resolved.
    pub fn engine_client(&self) -> Result<bptl_camunda::CamundaClient, ConfigError> {
        use bptl_camunda::{CamundaClient, EngineAuth};
        let env = |name: &str| std::env::var(name).ok();
        let tls = self.engine.tls.load("engine", &env).map_err(|problems| {
            let first = problems.into_iter().next();
            first.map_or_else(
                || ConfigError::new("engine", "the TLS settings cannot be used"),
                |p| ConfigError::new(p.key, p.message),
            )
        })?;
        let auth = match &self.engine.auth {
            EngineAuthConfig::None => EngineAuth::None,
            EngineAuthConfig::Basic { username, password } => EngineAuth::Basic {
                username: username.clone(),
                password: password
                    .resolve("engine.auth.password", &env)
                    .map_err(|p| ConfigError::new(p.key, p.message))?,
            },
            EngineAuthConfig::Bearer { token } => EngineAuth::Bearer {
                token: token
                    .resolve("engine.auth.token", &env)
                    .map_err(|p| ConfigError::new(p.key, p.message))?,
            },
            EngineAuthConfig::Headers(headers) => {
                let mut resolved = Vec::new();
                for (name, value) in headers {
                    let key = format!("engine.auth.headers.{name}");
                    resolved.push((
                        name.clone(),
                        value
                            .resolve(&key, &env)
                            .map_err(|p| ConfigError::new(p.key, p.message))?,
                    ));
                }
                EngineAuth::Headers(resolved)
            }
            EngineAuthConfig::OAuth2 {
                token_url,
                client_id,
                secret,
                scope,
            } => engine_auth::oauth2(token_url, client_id, secret, scope.clone(), &tls, &env)?,
        };
        let builder = CamundaClient::builder(self.engine.url.clone())
            .auth(auth)
            .timeout(self.engine.timeout);
        #[cfg(feature = "tls")]
        let builder = {
            let mut builder = builder.add_root_certificates(tls.roots().iter().cloned());
            if let Some(identity) = tls.identity() {
                builder = builder.identity(identity.clone());
            }
            builder
        };
        builder
            .build()
            .map_err(|e| ConfigError::new("engine.url", e.to_string()))
    }
}

#[cfg(test)]
mod tests;
