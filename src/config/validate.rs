//! From the file model to [`Config`]: defaults applied, required keys and limits checked (the
//! worker's limits are [`WorkerConfig::validate`]'s), every problem naming its key.

use std::collections::BTreeMap;
use std::time::Duration;

use bptl_core::runtime::{WorkerConfig, validate_lock_duration};
use bptl_core::{RetryPolicy, TaskMapping};
use bptl_credentials::{SecretConfig, ServicesConfig};

use crate::callback::CallbackAllowlist;

use super::model::{
    AdminModel, AuthModel, DashboardModel, EngineModel, FileModel, HttpApiModel, MappingModel,
    MetricsModel,
};
use super::{
    AdminConfig, Config, ConfigError, DashboardConfig, EngineAuthConfig, EngineConfig,
    HttpApiConfig, LogFormat, StoreConfig,
};
use bptl_core::duration::format_duration;

/// The configuration of `file`, adding its problems to `problems`.
pub(super) fn config(
    file: FileModel,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<ConfigError>,
) -> Config {
    let defaults = WorkerConfig::default();
    if file.engine.is_none() {
        missing(
            problems,
            "engine",
            "missing: add an [engine] section with at least url = \"http://HOST:8080/engine-rest\"",
        );
    }
    let has_engine = file.engine.is_some();
    let engine = engine(file.engine.unwrap_or_default(), &defaults, problems);
    if has_engine && engine.url.trim().is_empty() {
        missing(
            problems,
            "engine.url",
            "missing: set the engine-rest root, e.g. url = \"http://127.0.0.1:8080/engine-rest\" (or BPTL_ENGINE_URL)",
        );
    }

    let mut task_mappings: Vec<TaskMapping> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, m) in file.task_mappings.into_iter().enumerate() {
        let path = format!("task_mappings[{i}]");
        let Some(m) = mapping(&path, m, problems) else {
            continue;
        };
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

    let mut services_table = toml::Table::new();
    for (key, value) in [("services", file.services), ("apps", file.apps)] {
        if let Some(v) = value {
            services_table.insert(key.to_owned(), v);
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

    let store = StoreConfig {
        enabled: file.store.enabled.unwrap_or(true),
        url: file
            .store
            .url
            .unwrap_or_else(|| "sqlite://bptl.db".to_owned()),
        retention: file.store.retention,
        retention_failed: file.store.retention_failed,
    };
    let mut warnings = Vec::new();
    let admin = admin(file.admin, file.metrics, &engine, &mut warnings, problems);
    let callback_timeout = file.callback.timeout.unwrap_or(defaults.callback_timeout);
    let callback_allow = CallbackAllowlist::new(&file.callback.allow).unwrap_or_else(|bad| {
        for (i, message) in bad {
            problems.push(ConfigError::new(format!("callback.allow[{i}]"), message));
        }
        CallbackAllowlist::default()
    });
    let log_format = match file.log.format.as_deref() {
        None => LogFormat::Text,
        Some(text) => LogFormat::parse(text).unwrap_or_else(|message| {
            problems.push(ConfigError::new("log.format", message));
            LogFormat::Text
        }),
    };
    let dashboard = dashboard(file.dashboard, problems);
    let schedules = super::schedule::schedules(file.schedules, &task_mappings, problems);
    let http_api = http_api(file.http_api, problems);
    let traces = super::traces::traces(file.traces, env, problems);
    let config = Config {
        engine,
        task_mappings,
        services,
        store,
        admin,
        log_format,
        warnings,
        callback_timeout,
        callback_allow,
        dashboard,
        schedules,
        http_api,
        traces,
    };
    // The worker's own limits, as the worker builder checks them.
    for invalid in config.worker_config().validate() {
        let key = match invalid.field {
            "callback_timeout" => "callback.timeout".to_owned(),
            field => format!("engine.{field}"),
        };
        problems.push(ConfigError::new(key, invalid.message));
    }
    config
}

/// A "missing" problem, unless the key already has one (a value of the wrong type).
fn missing(problems: &mut Vec<ConfigError>, key: &str, message: &str) {
    if !problems.iter().any(|p| p.key == key) {
        problems.push(ConfigError::new(key, message));
    }
}

fn engine(
    e: EngineModel,
    defaults: &WorkerConfig,
    problems: &mut Vec<ConfigError>,
) -> EngineConfig {
    EngineConfig {
        url: e.url.unwrap_or_default(),
        worker_id: e.worker_id.filter(|w| !w.trim().is_empty()),
        max_tasks: e.max_tasks.unwrap_or(defaults.max_tasks),
        lock_duration: e.lock_duration.unwrap_or(defaults.lock_duration),
        async_response_timeout: e
            .async_response_timeout
            .unwrap_or(defaults.async_response_timeout),
        use_priority: e.use_priority.unwrap_or(defaults.use_priority),
        shutdown_grace: e.shutdown_grace.unwrap_or(defaults.shutdown_grace),
        timeout: e.timeout.unwrap_or(Duration::from_secs(30)),
        auth: e.auth.map_or(EngineAuthConfig::None, |a| auth(a, problems)),
        tls: bptl_credentials::TlsFiles {
            ca_file: e.ca_file,
            client_cert: e.client_cert,
            client_key: e.client_key,
        },
    }
}

fn auth(a: AuthModel, problems: &mut Vec<ConfigError>) -> EngineAuthConfig {
    let kind = a.kind.unwrap_or_else(|| "none".to_owned());
    let require = |field: &str, problems: &mut Vec<ConfigError>| {
        missing(
            problems,
            &format!("engine.auth.{field}"),
            &format!("missing: type = \"{kind}\" needs {field}"),
        );
    };
    match kind.as_str() {
        "none" => EngineAuthConfig::None,
        "basic" => {
            if a.username.is_none() {
                require("username", problems);
            }
            if a.password.is_none() {
                require("password", problems);
            }
            EngineAuthConfig::Basic {
                username: a.username.unwrap_or_default(),
                password: a.password.unwrap_or_else(|| SecretConfig::from("")),
            }
        }
        "bearer" => {
            if a.token.is_none() {
                require("token", problems);
            }
            EngineAuthConfig::Bearer {
                token: a.token.unwrap_or_else(|| SecretConfig::from("")),
            }
        }
        "headers" => {
            if a.headers.is_none() {
                require("headers", problems);
            }
            EngineAuthConfig::Headers(a.headers.unwrap_or_default())
        }
        "oauth2" => {
            for (field, set) in [
                ("token_url", a.token_url.is_some()),
                ("client_id", a.client_id.is_some()),
                ("secret", a.secret.is_some()),
            ] {
                if !set {
                    require(field, problems);
                }
            }
            EngineAuthConfig::OAuth2 {
                token_url: a.token_url.unwrap_or_default(),
                client_id: a.client_id.unwrap_or_default(),
                secret: a.secret.unwrap_or_else(|| SecretConfig::from("")),
                scope: a.scope,
            }
        }
        other => {
            problems.push(ConfigError::new(
                "engine.auth.type",
                format!("unknown authentication '{other}': use \"none\", \"basic\", \"bearer\", \"headers\" or \"oauth2\""),
            ));
            EngineAuthConfig::None
        }
    }
}

fn mapping(path: &str, m: MappingModel, problems: &mut Vec<ConfigError>) -> Option<TaskMapping> {
    if m.topic.is_none() {
        missing(
            problems,
            &format!("{path}.topic"),
            "missing: the topic to fetch",
        );
    }
    if m.callback.is_none() {
        missing(
            problems,
            &format!("{path}.callback"),
            "missing: the unit's registry path, e.g. \"bptl_dummy::Double\" (see `worker registry`)",
        );
    }
    let mut mapping = TaskMapping::new(m.topic?, m.callback?);
    if mapping.topic.trim().is_empty() {
        problems.push(ConfigError::new(
            format!("{path}.topic"),
            "must not be empty",
        ));
    }
    if let Some(active) = m.active {
        mapping.active = active;
    }
    if let Some(engine) = m.engine {
        mapping.engine = engine;
    }
    mapping.services.extend(m.services);
    mapping.variables = m.variables;
    if let Some(local) = m.local_variables {
        mapping.local_variables = local;
    }
    mapping.timeout = m.timeout;
    mapping.lock_duration = m.lock_duration;
    if let Some(invalid) = m.lock_duration.and_then(validate_lock_duration) {
        problems.push(ConfigError::new(
            format!("{path}.{}", invalid.field),
            invalid.message,
        ));
    }
    let defaults = RetryPolicy::default();
    let retries = match m.retries.map(i32::try_from) {
        None => defaults.retries,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            problems.push(ConfigError::new(
                format!("{path}.retries"),
                format!(
                    "{} is out of range: use 0 to {}",
                    m.retries.unwrap_or_default(),
                    i32::MAX
                ),
            ));
            defaults.retries
        }
    };
    let backoff_factor = match m.retry_backoff {
        None => defaults.backoff_factor,
        Some(f) if f >= 1.0 => f,
        Some(f) => {
            problems.push(ConfigError::new(
                format!("{path}.retry_backoff"),
                format!(
                    "must be a number of at least 1.0 (1.0 = fixed wait, 2.0 = doubling), not {f}"
                ),
            ));
            defaults.backoff_factor
        }
    };
    mapping.retry = RetryPolicy {
        retries,
        retry_timeout: m.retry_timeout.unwrap_or(defaults.retry_timeout),
        backoff_factor,
        max_retry_timeout: m.max_retry_timeout.unwrap_or(defaults.max_retry_timeout),
    };
    Some(mapping)
}

fn socket_addr(
    key: &str,
    text: Option<String>,
    example: &str,
    problems: &mut Vec<ConfigError>,
) -> Option<std::net::SocketAddr> {
    let text = text?;
    match text.parse() {
        Ok(addr) => Some(addr),
        Err(_) => {
            problems.push(ConfigError::new(
                key,
                format!("'{text}' is not a socket address: write e.g. {example}"),
            ));
            None
        }
    }
}

/// `[admin]`, and the deprecated `[metrics] addr` (a warning; an error beside `[admin] addr`).
fn admin(
    a: AdminModel,
    m: MetricsModel,
    engine: &EngineConfig,
    warnings: &mut Vec<ConfigError>,
    problems: &mut Vec<ConfigError>,
) -> AdminConfig {
    const EXAMPLE: &str = "\"127.0.0.1:9100\" or \"0.0.0.0:9100\"";
    let mut addr = socket_addr("admin.addr", a.addr.clone(), EXAMPLE, problems);
    if let Some(old) = m.addr {
        if a.addr.is_some() {
            problems.push(ConfigError::new(
                "metrics.addr",
                "deprecated, and [admin] addr is set too: remove [metrics] addr",
            ));
        } else {
            warnings.push(ConfigError::new(
                "metrics.addr",
                "deprecated: write [admin] addr instead (the admin listener serves /healthz, /readyz and /metrics)",
            ));
            addr = socket_addr("metrics.addr", Some(old), EXAMPLE, problems);
        }
    }
    let engine_answer_within = a
        .engine_answer_within
        .unwrap_or(engine.async_response_timeout + Duration::from_secs(30));
    if engine_answer_within <= engine.async_response_timeout {
        problems.push(ConfigError::new(
            "admin.engine_answer_within",
            format!(
                "must be longer than engine.async_response_timeout ({}): an idle engine answers a long poll only when it ends",
                format_duration(engine.async_response_timeout)
            ),
        ));
    }
    AdminConfig {
        addr,
        engine_answer_within,
    }
}

fn dashboard(d: DashboardModel, problems: &mut Vec<ConfigError>) -> DashboardConfig {
    let addr = socket_addr("dashboard.addr", d.addr, "\"127.0.0.1:9200\"", problems);
    let mut trusted_proxies = Vec::new();
    for (i, item) in d.trusted_proxies.iter().enumerate() {
        match item.parse::<std::net::IpAddr>() {
            Ok(ip) => trusted_proxies.push(ip),
            Err(_) => problems.push(ConfigError::new(
                format!("dashboard.trusted_proxies[{i}]"),
                format!("\"{item}\" is not an IP address: write e.g. \"10.0.0.5\""),
            )),
        }
    }
    let config = DashboardConfig {
        addr,
        allow_actions: d.allow_actions.unwrap_or(false),
        token: d.token,
        username: d.username,
        password: d.password,
        trusted_user_header: d.trusted_user_header,
        trusted_proxies,
    };
    if config.username.is_some() != config.password.is_some() {
        let (key, other) = if config.username.is_some() {
            ("dashboard.password", "username")
        } else {
            ("dashboard.username", "password")
        };
        missing(
            problems,
            key,
            &format!("missing: basic credentials need both username and password ({other} is set)"),
        );
    }
    if let Some(header) = &config.trusted_user_header {
        if axum::http::HeaderName::from_bytes(header.as_bytes()).is_err() {
            problems.push(ConfigError::new(
                "dashboard.trusted_user_header",
                format!("'{header}' is not a header name: write e.g. \"X-Forwarded-User\""),
            ));
        }
        if config.trusted_proxies.is_empty() {
            missing(
                problems,
                "dashboard.trusted_proxies",
                "missing: trusted_user_header is accepted only from the reverse proxy's addresses; list them, e.g. trusted_proxies = [\"10.0.0.5\"]",
            );
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

fn http_api(h: HttpApiModel, problems: &mut Vec<ConfigError>) -> HttpApiConfig {
    let defaults = HttpApiConfig::default();
    let addr = socket_addr("http_api.addr", h.addr, "\"127.0.0.1:9300\"", problems);
    let timeout = h.timeout.unwrap_or(defaults.timeout);
    if !(Duration::from_millis(100)..=Duration::from_secs(3600)).contains(&timeout) {
        problems.push(ConfigError::new(
            "http_api.timeout",
            "must be 100ms to 1h (how long a call waits for its unit)",
        ));
    }
    let max_tasks = h.max_tasks.unwrap_or(defaults.max_tasks);
    if !bptl_core::runtime::MAX_TASKS.contains(&max_tasks) {
        problems.push(ConfigError::new(
            "http_api.max_tasks",
            format!(
                "must be {} to {} (units of API calls run at once), not {max_tasks}",
                bptl_core::runtime::MAX_TASKS.start(),
                bptl_core::runtime::MAX_TASKS.end()
            ),
        ));
    }
    HttpApiConfig {
        addr,
        timeout,
        max_tasks,
    }
}
