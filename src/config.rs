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
//! shutdown_grace = "30s"
//! # [engine.auth]                  # type = "basic" | "bearer" | "headers" | "none"
//! # type = "basic"
//! # username = "demo"
//! # password = { env = "CAMUNDA_PASSWORD" }   # or "literal", or { file = "PATH" }
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
//!
//! [metrics]
//! # addr = "127.0.0.1:9100"        # serve Prometheus metrics at http://ADDR/metrics
//!
//! [callback]
//! timeout = "10s"
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
//! # [services.NAME] and [apps."APP_ID"]: see bptl-credentials
//! ```
//!
//! **Environment overrides**: every scalar key of `[engine]`, `[store]`, `[metrics]` and
//! `[callback]` can be set with `BPTL_<SECTION>_<KEY>` in upper case, e.g. `BPTL_ENGINE_URL`,
//! `BPTL_ENGINE_MAX_TASKS`, `BPTL_ENGINE_LOCK_DURATION`, `BPTL_STORE_URL`, `BPTL_METRICS_ADDR`.
//! An override wins over the file. An unknown `BPTL_ENGINE_*`/`BPTL_STORE_*`/`BPTL_METRICS_*`/
//! `BPTL_CALLBACK_*` variable is an error (a typo would otherwise be silently ignored).
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

use bptl_core::duration::parse_duration;
use bptl_core::runtime::WorkerConfig;
use bptl_core::{RetryPolicy, TaskMapping, TaskMappings};
use bptl_credentials::{SecretConfig, ServicesConfig};

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
    /// `shutdown_grace`: how long running units may finish at shutdown (default `30s`).
    pub shutdown_grace: Duration,
    /// `timeout`: HTTP timeout of engine calls other than the long poll (default `30s`).
    pub timeout: Duration,
    /// `[engine.auth]`.
    pub auth: EngineAuthConfig,
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
    /// `[metrics] addr`: serve Prometheus metrics here.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// `[callback] timeout` (default `10s`).
    pub callback_timeout: Duration,
    /// `[dashboard]`.
    pub dashboard: DashboardConfig,
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

const TOP_KEYS: &[&str] = &[
    "engine",
    "task_mappings",
    "services",
    "apps",
    "store",
    "metrics",
    "callback",
    "dashboard",
];
const ENGINE_KEYS: &[&str] = &[
    "url",
    "worker_id",
    "max_tasks",
    "lock_duration",
    "async_response_timeout",
    "use_priority",
    "shutdown_grace",
    "timeout",
    "auth",
];
const AUTH_KEYS: &[&str] = &["type", "username", "password", "token", "headers"];
const MAPPING_KEYS: &[&str] = &[
    "topic",
    "callback",
    "active",
    "engine",
    "services",
    "variables",
    "local_variables",
    "timeout",
    "lock_duration",
    "retries",
    "retry_timeout",
    "retry_backoff",
    "max_retry_timeout",
];
const STORE_KEYS: &[&str] = &["enabled", "url", "retention"];
const METRICS_KEYS: &[&str] = &["addr"];
const CALLBACK_KEYS: &[&str] = &["timeout"];
const DASHBOARD_KEYS: &[&str] = &[
    "addr",
    "allow_actions",
    "token",
    "username",
    "password",
    "trusted_user_header",
    "trusted_proxies",
];

/// Sections whose scalar keys environment variables override, with their keys.
const ENV_SECTIONS: &[(&str, &[&str])] = &[
    ("engine", ENGINE_KEYS),
    ("store", STORE_KEYS),
    ("metrics", METRICS_KEYS),
    ("callback", CALLBACK_KEYS),
];

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
        apply_env(&mut table, env, &mut problems);
        let config = read(&table, &mut problems);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
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
        };
        CamundaClient::builder(self.engine.url.clone())
            .auth(auth)
            .timeout(self.engine.timeout)
            .build()
            .map_err(|e| ConfigError::new("engine.url", e.to_string()))
    }
}

fn apply_env(
    table: &mut toml::Table,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<ConfigError>,
) {
    for (section, keys) in ENV_SECTIONS {
        for key in *keys {
            if *key == "auth" {
                continue;
            }
            let var = format!("BPTL_{}_{}", section.to_uppercase(), key.to_uppercase());
            let Some(text) = env(&var) else { continue };
            let value = match *key {
                "max_tasks" => match text.trim().parse::<i64>() {
                    Ok(n) => toml::Value::Integer(n),
                    Err(_) => {
                        problems.push(ConfigError::new(
                            var,
                            format!("'{text}' is not a whole number"),
                        ));
                        continue;
                    }
                },
                "use_priority" | "enabled" => match text.trim() {
                    "true" | "1" | "yes" => toml::Value::Boolean(true),
                    "false" | "0" | "no" => toml::Value::Boolean(false),
                    _ => {
                        problems.push(ConfigError::new(
                            var,
                            format!("'{text}' is not a boolean: write true or false"),
                        ));
                        continue;
                    }
                },
                _ => toml::Value::String(text),
            };
            let entry = table
                .entry((*section).to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(t) = entry {
                t.insert((*key).to_owned(), value);
            }
        }
    }
    // Typos in override variables must not pass silently. The environment lookup is a
    // function, so known-unknowns are checked by listing the process environment when it is
    // the real one (tests pass their own lookup and are not affected).
    // `vars_os`: a variable that is not UTF-8 (name or value) must not stop the worker from
    // starting; only one of bptl's own, unreadable, is a problem worth naming.
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str() else {
            continue;
        };
        let Some(rest) = name.strip_prefix("BPTL_") else {
            continue;
        };
        if value.to_str().is_none() {
            problems.push(ConfigError::new(
                name,
                "the value is not valid UTF-8: set it to UTF-8 text or unset it",
            ));
            continue;
        }
        if env(name).is_none() {
            continue;
        }
        for (section, keys) in ENV_SECTIONS {
            let prefix = format!("{}_", section.to_uppercase());
            if let Some(key) = rest.strip_prefix(&prefix) {
                let key = key.to_lowercase();
                if !keys.contains(&key.as_str()) || key == "auth" {
                    let mut message = format!("unknown override: [{section}] has no key '{key}'");
                    if let Some(s) = closest(&key, keys) {
                        message.push_str(&format!(
                            "; did you mean BPTL_{}_{}?",
                            section.to_uppercase(),
                            s.to_uppercase()
                        ));
                    }
                    problems.push(ConfigError::new(name, message));
                }
            }
        }
    }
}

/// The closest known key, if it is close enough to be a typo.
fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    bptl_core::suggest::did_you_mean(key, known.iter().copied())
        .first()
        .copied()
}

/// Reads typed values from one table, collecting problems that name the key.
struct Reader<'a> {
    path: String,
    table: &'a toml::Table,
}

impl<'a> Reader<'a> {
    fn new(
        path: impl Into<String>,
        table: &'a toml::Table,
        known: &[&str],
        problems: &mut Vec<ConfigError>,
    ) -> Self {
        let path = path.into();
        for key in table.keys() {
            if !known.contains(&key.as_str()) {
                let mut message = "unknown key".to_owned();
                match bptl_core::suggest::did_you_mean_text(&bptl_core::suggest::did_you_mean(
                    key,
                    known.iter().copied(),
                )) {
                    Some(s) => message.push_str(&format!("; {s}")),
                    None => message.push_str(&format!("; the keys here are: {}", known.join(", "))),
                }
                problems.push(ConfigError::new(join(&path, key), message));
            }
        }
        Self { path, table }
    }

    fn key(&self, key: &str) -> String {
        join(&self.path, key)
    }

    fn get(&self, key: &str) -> Option<&'a toml::Value> {
        self.table.get(key)
    }

    fn string(&self, key: &str, problems: &mut Vec<ConfigError>) -> Option<String> {
        match self.get(key)? {
            toml::Value::String(s) => Some(s.clone()),
            other => {
                problems.push(ConfigError::new(
                    self.key(key),
                    format!("must be a string, not {}", other.type_str()),
                ));
                None
            }
        }
    }

    fn bool(&self, key: &str, problems: &mut Vec<ConfigError>) -> Option<bool> {
        match self.get(key)? {
            toml::Value::Boolean(b) => Some(*b),
            other => {
                problems.push(ConfigError::new(
                    self.key(key),
                    format!("must be true or false, not {}", other.type_str()),
                ));
                None
            }
        }
    }

    fn integer(
        &self,
        key: &str,
        min: i64,
        max: i64,
        problems: &mut Vec<ConfigError>,
    ) -> Option<i64> {
        match self.get(key)? {
            toml::Value::Integer(n) if (min..=max).contains(n) => Some(*n),
            toml::Value::Integer(n) => {
                problems.push(ConfigError::new(
                    self.key(key),
                    format!("{n} is out of range: use {min} to {max}"),
                ));
                None
            }
            other => {
                problems.push(ConfigError::new(
                    self.key(key),
                    format!("must be a whole number, not {}", other.type_str()),
                ));
                None
            }
        }
    }

    fn float(&self, key: &str, problems: &mut Vec<ConfigError>) -> Option<f64> {
        match self.get(key)? {
            toml::Value::Float(f) if *f >= 1.0 => Some(*f),
            toml::Value::Integer(n) if *n >= 1 => Some(*n as f64),
            other => {
                problems.push(ConfigError::new(
                    self.key(key),
                    format!("must be a number of at least 1.0 (1.0 = fixed wait, 2.0 = doubling), not {other}"),
                ));
                None
            }
        }
    }

    fn duration(&self, key: &str, problems: &mut Vec<ConfigError>) -> Option<Duration> {
        match self.get(key)? {
            toml::Value::String(s) => match parse_duration(s) {
                Ok(d) => Some(d),
                Err(e) => {
                    problems.push(ConfigError::new(self.key(key), e.to_string()));
                    None
                }
            },
            other => {
                problems.push(ConfigError::new(
                    self.key(key),
                    format!(
                        "must be a duration string such as \"30s\" or \"5m\", not {}",
                        other.type_str()
                    ),
                ));
                None
            }
        }
    }

    fn table(&self, key: &str, problems: &mut Vec<ConfigError>) -> Option<&'a toml::Table> {
        match self.get(key)? {
            toml::Value::Table(t) => Some(t),
            other => {
                problems.push(ConfigError::new(
                    self.key(key),
                    format!("must be a table, not {}", other.type_str()),
                ));
                None
            }
        }
    }

    fn secret(&self, key: &str, problems: &mut Vec<ConfigError>) -> Option<SecretConfig> {
        let value = self.get(key)?;
        secret_of(value, &self.key(key), problems)
    }
}

fn secret_of(
    value: &toml::Value,
    key: &str,
    problems: &mut Vec<ConfigError>,
) -> Option<SecretConfig> {
    match value.clone().try_into::<SecretConfig>() {
        Ok(s) => Some(s),
        Err(e) => {
            problems.push(ConfigError::new(
                key,
                format!(
                    "{}: write a string, {{ env = \"NAME\" }} or {{ file = \"PATH\" }}",
                    e.to_string().trim()
                ),
            ));
            None
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn read(table: &toml::Table, problems: &mut Vec<ConfigError>) -> Config {
    let top = Reader::new("", table, TOP_KEYS, problems);
    let defaults = WorkerConfig::default();
    let empty = toml::Table::new();

    // [engine]
    let engine_table = top.table("engine", problems);
    if engine_table.is_none() && !table.contains_key("engine") {
        problems.push(ConfigError::new(
            "engine",
            "missing: add an [engine] section with at least url = \"http://HOST:8080/engine-rest\"",
        ));
    }
    let e = Reader::new(
        "engine",
        engine_table.unwrap_or(&empty),
        ENGINE_KEYS,
        problems,
    );
    let url = e.string("url", problems).unwrap_or_default();
    if engine_table.is_some()
        && url.trim().is_empty()
        && !problems.iter().any(|p| p.key == "engine.url")
    {
        problems.push(ConfigError::new(
            "engine.url",
            "missing: set the engine-rest root, e.g. url = \"http://127.0.0.1:8080/engine-rest\" (or BPTL_ENGINE_URL)",
        ));
    }
    let max_tasks = e
        .integer("max_tasks", 1, 10_000, problems)
        .map_or(defaults.max_tasks, |n| n as usize);
    let lock_duration = e
        .duration("lock_duration", problems)
        .unwrap_or(defaults.lock_duration);
    if lock_duration < Duration::from_secs(1) {
        problems.push(ConfigError::new(
            "engine.lock_duration",
            "must be at least 1s",
        ));
    }
    let async_response_timeout = e
        .duration("async_response_timeout", problems)
        .unwrap_or(defaults.async_response_timeout);
    if async_response_timeout > Duration::from_secs(1800) {
        problems.push(ConfigError::new(
            "engine.async_response_timeout",
            "must be at most 30m (the engine refuses longer long polls)",
        ));
    }
    let auth = match e.table("auth", problems) {
        None => EngineAuthConfig::None,
        Some(t) => read_auth(t, problems),
    };
    let engine = EngineConfig {
        url,
        worker_id: e
            .string("worker_id", problems)
            .filter(|w| !w.trim().is_empty()),
        max_tasks,
        lock_duration,
        async_response_timeout,
        use_priority: e
            .bool("use_priority", problems)
            .unwrap_or(defaults.use_priority),
        shutdown_grace: e
            .duration("shutdown_grace", problems)
            .unwrap_or(defaults.shutdown_grace),
        timeout: e
            .duration("timeout", problems)
            .unwrap_or(Duration::from_secs(30)),
        auth,
    };

    // [[task_mappings]]
    let mut task_mappings = Vec::new();
    match table.get("task_mappings") {
        None => {}
        Some(toml::Value::Array(items)) => {
            let mut seen: BTreeMap<String, usize> = BTreeMap::new();
            for (i, item) in items.iter().enumerate() {
                let path = format!("task_mappings[{i}]");
                let toml::Value::Table(t) = item else {
                    problems.push(ConfigError::new(
                        path,
                        "must be a table: write [[task_mappings]] sections",
                    ));
                    continue;
                };
                if let Some(m) = read_mapping(&path, t, problems) {
                    if let Some(first) = seen.get(&m.topic) {
                        problems.push(ConfigError::new(
                            format!("{path}.topic"),
                            format!("the topic '{}' is mapped twice (also in task_mappings[{first}]): each topic may have one mapping", m.topic),
                        ));
                    } else {
                        seen.insert(m.topic.clone(), i);
                        task_mappings.push(m);
                    }
                }
            }
        }
        Some(_) => problems.push(ConfigError::new(
            "task_mappings",
            "must be a list: write [[task_mappings]] sections",
        )),
    }

    // [services.*], [apps.*]
    let mut services_table = toml::Table::new();
    for key in ["services", "apps"] {
        if let Some(v) = table.get(key) {
            services_table.insert(key.to_owned(), v.clone());
        }
    }
    let services = match toml::Value::Table(services_table).try_into::<ServicesConfig>() {
        Ok(s) => s,
        Err(err) => {
            problems.push(ConfigError::new(
                "services/apps",
                err.to_string().trim().to_owned(),
            ));
            ServicesConfig::default()
        }
    };

    // [store]
    let s = Reader::new(
        "store",
        top.table("store", problems).unwrap_or(&empty),
        STORE_KEYS,
        problems,
    );
    let store = StoreConfig {
        enabled: s.bool("enabled", problems).unwrap_or(true),
        url: s
            .string("url", problems)
            .unwrap_or_else(|| "sqlite://bptl.db".to_owned()),
        retention: s.duration("retention", problems),
    };

    // [metrics]
    let m = Reader::new(
        "metrics",
        top.table("metrics", problems).unwrap_or(&empty),
        METRICS_KEYS,
        problems,
    );
    let metrics_addr = m.string("addr", problems).and_then(|a| match a.parse() {
        Ok(addr) => Some(addr),
        Err(_) => {
            problems.push(ConfigError::new(
                "metrics.addr",
                format!("'{a}' is not a socket address: write e.g. \"127.0.0.1:9100\" or \"0.0.0.0:9100\""),
            ));
            None
        }
    });

    // [callback]
    let c = Reader::new(
        "callback",
        top.table("callback", problems).unwrap_or(&empty),
        CALLBACK_KEYS,
        problems,
    );
    let callback_timeout = c
        .duration("timeout", problems)
        .unwrap_or(defaults.callback_timeout);

    let dashboard = read_dashboard(top.table("dashboard", problems).unwrap_or(&empty), problems);

    Config {
        engine,
        task_mappings,
        services,
        store,
        metrics_addr,
        callback_timeout,
        dashboard,
    }
}

fn read_dashboard(t: &toml::Table, problems: &mut Vec<ConfigError>) -> DashboardConfig {
    let d = Reader::new("dashboard", t, DASHBOARD_KEYS, problems);
    let addr = d.string("addr", problems).and_then(|a| match a.parse() {
        Ok(addr) => Some(addr),
        Err(_) => {
            problems.push(ConfigError::new(
                "dashboard.addr",
                format!("'{a}' is not a socket address: write e.g. \"127.0.0.1:9200\""),
            ));
            None
        }
    });
    let mut trusted_proxies = Vec::new();
    match d.get("trusted_proxies") {
        None => {}
        Some(toml::Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item.as_str().map(str::parse::<std::net::IpAddr>) {
                    Some(Ok(ip)) => trusted_proxies.push(ip),
                    _ => problems.push(ConfigError::new(
                        format!("dashboard.trusted_proxies[{i}]"),
                        format!("{item} is not an IP address: write e.g. \"10.0.0.5\""),
                    )),
                }
            }
        }
        Some(other) => problems.push(ConfigError::new(
            "dashboard.trusted_proxies",
            format!(
                "must be a list of IP addresses such as [\"10.0.0.5\"], not {}",
                other.type_str()
            ),
        )),
    }
    let config = DashboardConfig {
        addr,
        allow_actions: d.bool("allow_actions", problems).unwrap_or(false),
        token: d.secret("token", problems),
        username: d.string("username", problems),
        password: d.secret("password", problems),
        trusted_user_header: d.string("trusted_user_header", problems),
        trusted_proxies,
    };
    if config.username.is_some() != config.password.is_some() {
        let (key, other) = if config.username.is_some() {
            ("dashboard.password", "username")
        } else {
            ("dashboard.username", "password")
        };
        problems.push(ConfigError::new(
            key,
            format!("missing: basic credentials need both username and password ({other} is set)"),
        ));
    }
    if let Some(header) = &config.trusted_user_header {
        if axum::http::HeaderName::from_bytes(header.as_bytes()).is_err() {
            problems.push(ConfigError::new(
                "dashboard.trusted_user_header",
                format!("'{header}' is not a header name: write e.g. \"X-Forwarded-User\""),
            ));
        }
        if config.trusted_proxies.is_empty() {
            problems.push(ConfigError::new(
                "dashboard.trusted_proxies",
                "missing: trusted_user_header is accepted only from the reverse proxy's addresses; list them, e.g. trusted_proxies = [\"10.0.0.5\"]",
            ));
        }
    }
    if let Some(addr) = config.addr
        && !addr.ip().is_loopback()
        && !config.has_auth()
    {
        problems.push(ConfigError::new(
            "dashboard.addr",
            format!(
                "{addr} is not a loopback address, and nobody would need to sign in: set token, username + password, or trusted_user_header + trusted_proxies (or listen on 127.0.0.1)"
            ),
        ));
    }
    config
}

fn read_auth(t: &toml::Table, problems: &mut Vec<ConfigError>) -> EngineAuthConfig {
    let a = Reader::new("engine.auth", t, AUTH_KEYS, problems);
    let kind = a
        .string("type", problems)
        .unwrap_or_else(|| "none".to_owned());
    let require = |field: &str, problems: &mut Vec<ConfigError>| {
        problems.push(ConfigError::new(
            format!("engine.auth.{field}"),
            format!("missing: type = \"{kind}\" needs {field}"),
        ));
    };
    match kind.as_str() {
        "none" => EngineAuthConfig::None,
        "basic" => {
            let username = a.string("username", problems);
            let password = a.secret("password", problems);
            if username.is_none() && !t.contains_key("username") {
                require("username", problems);
            }
            if password.is_none() && !t.contains_key("password") {
                require("password", problems);
            }
            EngineAuthConfig::Basic {
                username: username.unwrap_or_default(),
                password: password.unwrap_or_else(|| SecretConfig::from("")),
            }
        }
        "bearer" => {
            let token = a.secret("token", problems);
            if token.is_none() && !t.contains_key("token") {
                require("token", problems);
            }
            EngineAuthConfig::Bearer {
                token: token.unwrap_or_else(|| SecretConfig::from("")),
            }
        }
        "headers" => {
            let mut headers = BTreeMap::new();
            match a.table("headers", problems) {
                Some(h) => {
                    for (name, value) in h {
                        if let Some(s) =
                            secret_of(value, &format!("engine.auth.headers.{name}"), problems)
                        {
                            headers.insert(name.clone(), s);
                        }
                    }
                }
                None if !t.contains_key("headers") => require("headers", problems),
                None => {}
            }
            EngineAuthConfig::Headers(headers)
        }
        other => {
            problems.push(ConfigError::new(
                "engine.auth.type",
                format!("unknown authentication '{other}': use \"none\", \"basic\", \"bearer\" or \"headers\""),
            ));
            EngineAuthConfig::None
        }
    }
}

fn read_mapping(
    path: &str,
    t: &toml::Table,
    problems: &mut Vec<ConfigError>,
) -> Option<TaskMapping> {
    let r = Reader::new(path, t, MAPPING_KEYS, problems);
    let topic = r.string("topic", problems);
    let callback = r.string("callback", problems);
    if topic.is_none() && !t.contains_key("topic") {
        problems.push(ConfigError::new(
            format!("{path}.topic"),
            "missing: the topic to fetch",
        ));
    }
    if callback.is_none() && !t.contains_key("callback") {
        problems.push(ConfigError::new(
            format!("{path}.callback"),
            "missing: the unit's registry path, e.g. \"bptl_dummy::Double\" (see `worker registry`)",
        ));
    }
    let mut m = TaskMapping::new(topic?, callback?);
    if m.topic.trim().is_empty() {
        problems.push(ConfigError::new(
            format!("{path}.topic"),
            "must not be empty",
        ));
    }
    if let Some(active) = r.bool("active", problems) {
        m.active = active;
    }
    if let Some(engine) = r.string("engine", problems) {
        m.engine = engine;
    }
    if let Some(services) = r.table("services", problems) {
        for (alias, service) in services {
            match service {
                toml::Value::String(s) => {
                    m.services.insert(alias.clone(), s.clone());
                }
                other => problems.push(ConfigError::new(
                    format!("{path}.services.{alias}"),
                    format!(
                        "must be the name of a [services.NAME] section, not {}",
                        other.type_str()
                    ),
                )),
            }
        }
    }
    match r.get("variables") {
        None => {}
        Some(toml::Value::Array(names)) => {
            let mut list = Vec::new();
            for n in names {
                match n.as_str() {
                    Some(s) => list.push(s.to_owned()),
                    None => problems.push(ConfigError::new(
                        format!("{path}.variables"),
                        "must be a list of variable names",
                    )),
                }
            }
            m.variables = Some(list);
        }
        Some(_) => problems.push(ConfigError::new(
            format!("{path}.variables"),
            "must be a list of variable names",
        )),
    }
    if let Some(local) = r.bool("local_variables", problems) {
        m.local_variables = local;
    }
    m.timeout = r.duration("timeout", problems);
    m.lock_duration = r.duration("lock_duration", problems);
    if m.lock_duration.is_some_and(|d| d < Duration::from_secs(1)) {
        problems.push(ConfigError::new(
            format!("{path}.lock_duration"),
            "must be at least 1s",
        ));
    }
    let defaults = RetryPolicy::default();
    m.retry = RetryPolicy {
        retries: r
            .integer("retries", 0, i64::from(i32::MAX), problems)
            .map_or(defaults.retries, |n| n as i32),
        retry_timeout: r
            .duration("retry_timeout", problems)
            .unwrap_or(defaults.retry_timeout),
        backoff_factor: r
            .float("retry_backoff", problems)
            .unwrap_or(defaults.backoff_factor),
        max_retry_timeout: r
            .duration("max_retry_timeout", problems)
            .unwrap_or(defaults.max_retry_timeout),
    };
    Some(m)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[engine]
url = "http://127.0.0.1:8080/engine-rest"
max_tasks = 10
lock_duration = "5m"
async_response_timeout = "30s"

[[task_mappings]]
topic = "double"
callback = "bptl_dummy::Double"
"#;

    #[test]
    fn the_documented_keys_work() {
        let c = Config::from_toml_str(BASE, &|_| None).unwrap();
        assert_eq!(c.engine.url, "http://127.0.0.1:8080/engine-rest");
        assert_eq!(c.engine.lock_duration, Duration::from_secs(300));
        assert_eq!(c.engine.async_response_timeout, Duration::from_secs(30));
        assert_eq!(c.task_mappings[0].callback, "bptl_dummy::Double");
        assert!(c.store.enabled, "SQLite is the default store");
        assert_eq!(c.store.url, "sqlite://bptl.db");
        assert_eq!(c.store.retention, None);
    }

    #[test]
    fn every_problem_names_its_key() {
        let text = format!(
            "{BASE}\n[[task_mappings]]\ntopic = \"double\"\ncallback = \"x::y\"\nretrys = 2\ntimeout = \"soon\"\n[metrics]\naddr = \"nope\"\n"
        );
        let problems = Config::from_toml_str(&text, &|_| None).unwrap_err();
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            shown.contains(
                &"task_mappings[1].retrys: unknown key; did you mean 'retries'?".to_owned()
            ),
            "{shown:?}"
        );
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with("task_mappings[1].timeout: 'soon' is not a duration")),
            "{shown:?}"
        );
        assert!(
            shown.iter().any(
                |s| s.starts_with("task_mappings[1].topic: the topic 'double' is mapped twice")
            ),
            "{shown:?}"
        );
        assert!(
            shown.iter().any(|s| s.starts_with("metrics.addr: 'nope'")),
            "{shown:?}"
        );
    }

    #[test]
    fn environment_overrides_win() {
        let env = |name: &str| match name {
            "BPTL_ENGINE_URL" => Some("http://other:8080/engine-rest".to_owned()),
            "BPTL_ENGINE_MAX_TASKS" => Some("3".to_owned()),
            "BPTL_ENGINE_USE_PRIORITY" => Some("true".to_owned()),
            _ => None,
        };
        let c = Config::from_toml_str(BASE, &env).unwrap();
        assert_eq!(c.engine.url, "http://other:8080/engine-rest");
        assert_eq!(c.engine.max_tasks, 3);
        assert!(c.engine.use_priority);
        let bad = |name: &str| (name == "BPTL_ENGINE_MAX_TASKS").then(|| "many".to_owned());
        let problems = Config::from_toml_str(BASE, &bad).unwrap_err();
        assert_eq!(problems[0].key, "BPTL_ENGINE_MAX_TASKS");
    }

    #[test]
    fn auth_and_services() {
        let text = format!(
            "{BASE}\n[engine.auth]\ntype = \"basic\"\nusername = \"demo\"\npassword = {{ env = \"PW\" }}\n\
             [services.zaken]\napi_root = \"https://z.example/api\"\napi_type = \"zrc\"\n"
        );
        let c = Config::from_toml_str(&text, &|_| None).unwrap();
        assert!(
            matches!(c.engine.auth, EngineAuthConfig::Basic { ref username, .. } if username == "demo")
        );
        assert_eq!(c.services.services.len(), 1);
        let text = format!("{BASE}\n[engine.auth]\ntype = \"kerberos\"\n");
        let problems = Config::from_toml_str(&text, &|_| None).unwrap_err();
        assert_eq!(problems[0].key, "engine.auth.type");
    }
}
