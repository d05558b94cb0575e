//! The `[services.*]` and `[apps.*]` sections of the worker's TOML configuration: the schema
//! here; turning a `[services.NAME]` into a [`Service`] in [`service`] (an HTTP service's
//! auth scheme, credentials and TLS files; a mail server's in [`crate::smtp`], TLS files
//! loaded by [`crate::tls`]); the checks across services and applications in [`problems`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

use crate::model::{Application, Credentials, LogBodies, Service};
use crate::secret::SecretConfig;

mod problems;
mod service;

pub(crate) use problems::model_problems;

/// A problem with the services configuration: the key it is about and what to do.
///
/// ```
/// use bptl_credentials::ConfigProblem;
/// let p = ConfigProblem::new("services.zaken.secret", "must not be empty");
/// assert_eq!(p.to_string(), "services.zaken.secret: must not be empty");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigProblem {
    /// The configuration key, e.g. `services.zaken.secret` or `apps."https://app".credentials.zaken`.
    pub key: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl ConfigProblem {
    /// A problem with `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The services and applications of the configuration file.
///
/// Embed it in the worker's configuration with `#[serde(flatten)]` (it accepts and ignores keys
/// other than `services` and `apps`, so it can be flattened; the sections inside reject unknown
/// keys). Turn it into a [`CredentialStore`](crate::CredentialStore) with
/// [`CredentialStore::from_config`](crate::CredentialStore::from_config).
///
/// ```
/// use bptl_credentials::ServicesConfig;
/// let config: ServicesConfig = toml::from_str(r#"
///     [services.zaken]
///     api_root = "https://zaken.example/api/v1/"
///     api_type = "zrc"
///     auth = "zgw"
///     client_id = "bptl"
///     secret = { env = "ZAKEN_SECRET" }
///
///     [apps."https://app.example".credentials.zaken]
///     client_id = "app"
///     secret = { file = "/run/secrets/app-zaken" }
/// "#).unwrap();
/// assert_eq!(config.services.len(), 1);
/// assert_eq!(config.apps.len(), 1);
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ServicesConfig {
    /// `[services.NAME]`: services by name.
    #[serde(default)]
    pub services: BTreeMap<String, ServiceConfig>,
    /// `[apps."APP_ID"]`: applications by app id.
    #[serde(default)]
    pub apps: BTreeMap<String, AppConfig>,
}

/// The authentication scheme names of the configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum AuthKind {
    /// `auth = "none"` (the default).
    #[default]
    #[serde(rename = "none")]
    None,
    /// `auth = "api_key"`.
    #[serde(rename = "api_key")]
    ApiKey,
    /// `auth = "zgw"`.
    #[serde(rename = "zgw")]
    Zgw,
    /// `auth = "oauth2"`.
    #[serde(rename = "oauth2")]
    OAuth2,
    /// `auth = "bearer"`.
    #[serde(rename = "bearer")]
    Bearer,
}

/// One `[services.NAME]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// A human label.
    pub label: Option<String>,
    /// The API root URL (required, except for a mail server).
    #[serde(default)]
    pub api_root: Option<String>,
    /// The API type (`zrc`, `drc`, ..., or any other name).
    pub api_type: String,
    /// The request timeout, e.g. `"30s"` (default 30 s).
    pub timeout: Option<String>,
    /// Which bodies go on the task's timeline: `"none"`, `"errors"` (default) or `"all"`.
    pub log_bodies: Option<LogBodies>,
    /// The authentication scheme (default `none`).
    #[serde(default)]
    pub auth: AuthKind,
    /// API key: the header name.
    pub header: Option<String>,
    /// API key: the header value.
    pub value: Option<SecretConfig>,
    /// ZGW, OAuth2: the client id.
    pub client_id: Option<String>,
    /// ZGW, OAuth2: the secret.
    pub secret: Option<SecretConfig>,
    /// ZGW: the `user_id` claim.
    pub user_id: Option<String>,
    /// ZGW: the `user_representation` claim.
    pub user_representation: Option<String>,
    /// ZGW: how long a JWT is valid, e.g. `"12h"` (the default).
    pub jwt_validity: Option<String>,
    /// OAuth2: the token endpoint.
    pub token_url: Option<String>,
    /// OAuth2: the scope.
    pub scope: Option<String>,
    /// Bearer: the static token.
    pub token: Option<SecretConfig>,
    /// TLS: a CA bundle (PEM) trusted besides the system's roots.
    pub ca_file: Option<PathBuf>,
    /// TLS: the client certificate (PEM) for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// TLS: the client certificate's private key (PEM), a secret.
    pub client_key: Option<SecretConfig>,
    /// `api_type = "smtp"`: the mail server, `[services.NAME.smtp]`.
    pub smtp: Option<crate::smtp::SmtpConfig>,
}

/// One `[apps."APP_ID"]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// A human label.
    pub label: Option<String>,
    /// The bearer token the application calls the worker's HTTP work-unit API with (a secret;
    /// `[http_api]` in the worker's configuration). Without it the application cannot call it.
    pub api_token: Option<SecretConfig>,
    /// `[apps."APP_ID".credentials.SERVICE]`: its credentials per service name.
    #[serde(default)]
    pub credentials: BTreeMap<String, CredentialsConfig>,
}

/// One `[apps."APP_ID".credentials.SERVICE]` section: the fields the service's auth needs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsConfig {
    /// ZGW, OAuth2: the client id.
    pub client_id: Option<String>,
    /// ZGW, OAuth2: the secret.
    pub secret: Option<SecretConfig>,
    /// API key: the header name.
    pub header: Option<String>,
    /// API key: the header value.
    pub value: Option<SecretConfig>,
    /// Bearer: the token.
    pub token: Option<SecretConfig>,
    /// ZGW: overrides the service's `user_id` claim.
    pub user_id: Option<String>,
    /// ZGW: overrides the service's `user_representation` claim.
    pub user_representation: Option<String>,
    /// OAuth2: overrides the service's scope.
    pub scope: Option<String>,
}

/// `"https://app.example"` quoted for a TOML key.
pub(crate) fn app_key(app_id: &str) -> String {
    format!("apps.{app_id:?}")
}

fn resolve_opt(
    secret: &Option<SecretConfig>,
    key: String,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<ConfigProblem>,
) -> Option<SecretString> {
    match secret {
        None => None,
        Some(s) => match s.resolve(&key, env) {
            Ok(v) => Some(v),
            Err(p) => {
                problems.push(p);
                // Keep the field "set" so no spurious "missing secret" follows.
                Some(SecretString::from(UNRESOLVED))
            }
        },
    }
}

/// Placeholder for a secret that could not be read (its problem is reported already).
const UNRESOLVED: &str = "\u{0}unresolved";

impl CredentialsConfig {
    fn to_credentials(
        &self,
        key: &str,
        env: &dyn Fn(&str) -> Option<String>,
        problems: &mut Vec<ConfigProblem>,
    ) -> Credentials {
        Credentials {
            client_id: self.client_id.clone(),
            secret: resolve_opt(&self.secret, format!("{key}.secret"), env, problems),
            header: self.header.clone(),
            value: resolve_opt(&self.value, format!("{key}.value"), env, problems),
            token: resolve_opt(&self.token, format!("{key}.token"), env, problems),
            user_id: self.user_id.clone(),
            user_representation: self.user_representation.clone(),
            scope: self.scope.clone(),
        }
    }
}

fn auth_kind_name(kind: AuthKind) -> &'static str {
    match kind {
        AuthKind::None => "none",
        AuthKind::ApiKey => "api_key",
        AuthKind::Zgw => "zgw",
        AuthKind::OAuth2 => "oauth2",
        AuthKind::Bearer => "bearer",
    }
}

impl ServicesConfig {
    /// Resolve secrets and build the model; problems are appended. Returns the services, the
    /// applications and the names of all configured services (including broken ones).
    pub(crate) fn to_model(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        problems: &mut Vec<ConfigProblem>,
    ) -> (Vec<Service>, Vec<Application>, BTreeSet<String>) {
        let mut services = Vec::new();
        for (name, config) in &self.services {
            if let Some(s) = config.to_service(name, env, problems) {
                services.push(s);
            }
        }
        let mut apps = Vec::new();
        for (app_id, config) in &self.apps {
            let mut app = Application::new(app_id.clone());
            if let Some(label) = &config.label {
                app = app.label(label.clone());
            }
            for (service, creds) in &config.credentials {
                let key = format!("{}.credentials.{service}", app_key(app_id));
                app = app.credentials(service.clone(), creds.to_credentials(&key, env, problems));
            }
            apps.push(app);
        }
        (services, apps, self.services.keys().cloned().collect())
    }
}

/// Whose credentials a message is about.
pub(crate) enum Owner<'a> {
    Service(&'a str),
    App { app_id: &'a str, service: &'a str },
}

impl fmt::Display for Owner<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Service(s) => write!(f, "The credentials of the service '{s}'"),
            Owner::App { app_id, service } => write!(
                f,
                "The credentials of the application '{app_id}' for the service '{service}'"
            ),
        }
    }
}
