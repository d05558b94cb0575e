//! The configuration file as written: one struct per section, every key optional (defaults are
//! applied, and limits checked, in `validate`). Durations are strings (`"30s"`, `"PT5M"`).

use std::collections::BTreeMap;
use std::time::Duration;

use bptl_core::duration::deserialize_option as duration;
use bptl_credentials::SecretConfig;
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct FileModel {
    pub engine: Option<EngineModel>,
    pub task_mappings: Vec<MappingModel>,
    pub services: Option<toml::Value>,
    pub apps: Option<toml::Value>,
    pub store: StoreModel,
    pub admin: AdminModel,
    pub log: LogModel,
    pub metrics: MetricsModel,
    pub callback: CallbackModel,
    pub dashboard: DashboardModel,
    pub schedules: Vec<super::schedule::ScheduleModel>,
    pub http_api: HttpApiModel,
    pub traces: Option<super::traces::TracesModel>,
}

/// `[engine]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct EngineModel {
    pub url: Option<String>,
    pub worker_id: Option<String>,
    pub max_tasks: Option<usize>,
    #[serde(deserialize_with = "duration")]
    pub lock_duration: Option<Duration>,
    #[serde(deserialize_with = "duration")]
    pub async_response_timeout: Option<Duration>,
    pub use_priority: Option<bool>,
    #[serde(deserialize_with = "duration")]
    pub shutdown_grace: Option<Duration>,
    #[serde(deserialize_with = "duration")]
    pub timeout: Option<Duration>,
    pub auth: Option<AuthModel>,
    pub ca_file: Option<std::path::PathBuf>,
    pub client_cert: Option<std::path::PathBuf>,
    pub client_key: Option<SecretConfig>,
}

/// `[engine.auth]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct AuthModel {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub username: Option<String>,
    pub password: Option<SecretConfig>,
    pub token: Option<SecretConfig>,
    pub headers: Option<BTreeMap<String, SecretConfig>>,
    pub token_url: Option<String>,
    pub client_id: Option<String>,
    pub secret: Option<SecretConfig>,
    pub scope: Option<String>,
}

/// One `[[task_mappings]]` section.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct MappingModel {
    pub topic: Option<String>,
    pub callback: Option<String>,
    pub active: Option<bool>,
    pub engine: Option<String>,
    pub services: BTreeMap<String, String>,
    pub variables: Option<Vec<String>>,
    pub local_variables: Option<bool>,
    #[serde(deserialize_with = "duration")]
    pub timeout: Option<Duration>,
    #[serde(deserialize_with = "duration")]
    pub lock_duration: Option<Duration>,
    pub retries: Option<u32>,
    #[serde(deserialize_with = "duration")]
    pub retry_timeout: Option<Duration>,
    pub retry_backoff: Option<f64>,
    #[serde(deserialize_with = "duration")]
    pub max_retry_timeout: Option<Duration>,
}

/// `[store]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct StoreModel {
    pub enabled: Option<bool>,
    pub url: Option<String>,
    #[serde(deserialize_with = "duration")]
    pub retention: Option<Duration>,
    #[serde(deserialize_with = "duration")]
    pub retention_failed: Option<Duration>,
}

/// `[admin]`: the admin listener (`/healthz`, `/readyz`, `/metrics`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct AdminModel {
    pub addr: Option<String>,
    #[serde(deserialize_with = "duration")]
    pub engine_answer_within: Option<Duration>,
}

/// `[log]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct LogModel {
    pub format: Option<String>,
}

/// `[metrics]`: deprecated, `addr` only (now `[admin] addr`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct MetricsModel {
    pub addr: Option<String>,
}

/// `[callback]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct CallbackModel {
    #[serde(deserialize_with = "duration")]
    pub timeout: Option<Duration>,
    pub allow: Vec<String>,
}

/// `[dashboard]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct DashboardModel {
    pub addr: Option<String>,
    pub allow_actions: Option<bool>,
    pub token: Option<SecretConfig>,
    pub username: Option<String>,
    pub password: Option<SecretConfig>,
    pub trusted_user_header: Option<String>,
    pub trusted_proxies: Vec<String>,
}

/// `[http_api]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct HttpApiModel {
    pub addr: Option<String>,
    #[serde(deserialize_with = "duration")]
    pub timeout: Option<Duration>,
    pub max_tasks: Option<usize>,
}
