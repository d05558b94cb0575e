//! The `[services.*]` and `[apps.*]` sections of the worker's TOML configuration.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::model::{Application, Auth, Credentials, DEFAULT_JWT_VALIDITY, LogBodies, Service};
use crate::secret::SecretConfig;
use crate::tls::{ClientTls, TlsFiles};

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

impl ServiceConfig {
    fn to_service(
        &self,
        name: &str,
        env: &dyn Fn(&str) -> Option<String>,
        problems: &mut Vec<ConfigProblem>,
    ) -> Option<Service> {
        if self.api_type == crate::smtp::SMTP_TYPE || self.smtp.is_some() {
            return crate::smtp::to_service(name, self, env, problems);
        }
        let key = format!("services.{name}");
        let before = problems.len();
        let Some(api_root) = &self.api_root else {
            problems.push(ConfigProblem::new(
                format!("{key}.api_root"),
                format!("the service '{name}' needs its API root: add api_root = \"https://...\""),
            ));
            return None;
        };
        let mut service = match Service::new(name, api_root, self.api_type.as_str()) {
            Ok(s) => Some(s),
            Err(p) => {
                problems.push(p);
                None
            }
        };
        let timeout = match &self.timeout {
            None => None,
            Some(t) => match bptl_core::duration::parse_duration(t) {
                Ok(d) => Some(d),
                Err(e) => {
                    problems.push(ConfigProblem::new(format!("{key}.timeout"), e.to_string()));
                    None
                }
            },
        };
        // Keys that belong to another scheme.
        let scheme_keys: [(&str, bool, &[AuthKind]); 6] = [
            ("user_id", self.user_id.is_some(), &[AuthKind::Zgw]),
            (
                "user_representation",
                self.user_representation.is_some(),
                &[AuthKind::Zgw],
            ),
            (
                "jwt_validity",
                self.jwt_validity.is_some(),
                &[AuthKind::Zgw],
            ),
            ("token_url", self.token_url.is_some(), &[AuthKind::OAuth2]),
            ("scope", self.scope.is_some(), &[AuthKind::OAuth2]),
            ("token", self.token.is_some(), &[AuthKind::Bearer]),
        ];
        let auth_name = auth_kind_name(self.auth);
        for (field, set, allowed) in scheme_keys {
            if set && !allowed.contains(&self.auth) {
                problems.push(ConfigProblem::new(
                    format!("{key}.{field}"),
                    format!(
                        "'{field}' does not apply to the service '{name}' with auth = \"{auth_name}\": remove it or change auth"
                    ),
                ));
            }
        }
        let auth = match self.auth {
            AuthKind::None => Auth::None,
            AuthKind::ApiKey => Auth::ApiKey,
            AuthKind::Bearer => Auth::Bearer,
            AuthKind::Zgw => {
                let jwt_validity = match &self.jwt_validity {
                    None => DEFAULT_JWT_VALIDITY,
                    Some(t) => match bptl_core::duration::parse_duration(t) {
                        Ok(d) if !d.is_zero() => d,
                        Ok(_) => {
                            problems.push(ConfigProblem::new(
                                format!("{key}.jwt_validity"),
                                "a JWT must be valid for some time: write e.g. \"12h\"",
                            ));
                            DEFAULT_JWT_VALIDITY
                        }
                        Err(e) => {
                            problems.push(ConfigProblem::new(
                                format!("{key}.jwt_validity"),
                                e.to_string(),
                            ));
                            DEFAULT_JWT_VALIDITY
                        }
                    },
                };
                Auth::Zgw {
                    user_id: self.user_id.clone().unwrap_or_default(),
                    user_representation: self.user_representation.clone().unwrap_or_default(),
                    jwt_validity,
                }
            }
            AuthKind::OAuth2 => match &self.token_url {
                None => {
                    problems.push(ConfigProblem::new(
                        format!("{key}.token_url"),
                        format!(
                            "the service '{name}' uses auth = \"oauth2\" and needs token_url, the token endpoint: add token_url = \"https://...\""
                        ),
                    ));
                    Auth::None
                }
                Some(url) => match Auth::oauth2(url) {
                    Ok(Auth::OAuth2 { token_url, .. }) => Auth::OAuth2 {
                        token_url,
                        scope: self.scope.clone(),
                    },
                    Ok(other) => other,
                    Err(p) => {
                        problems.push(ConfigProblem::new(format!("{key}.token_url"), p.message));
                        Auth::None
                    }
                },
            },
        };
        let credentials = Credentials {
            client_id: self.client_id.clone(),
            secret: resolve_opt(&self.secret, format!("{key}.secret"), env, problems),
            header: self.header.clone(),
            value: resolve_opt(&self.value, format!("{key}.value"), env, problems),
            token: resolve_opt(&self.token, format!("{key}.token"), env, problems),
            ..Credentials::default()
        };
        let tls = TlsFiles {
            ca_file: self.ca_file.clone(),
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
        }
        .load(&key, env)
        .unwrap_or_else(|tls_problems| {
            problems.extend(tls_problems);
            ClientTls::default()
        });
        if problems.len() > before {
            return None;
        }
        service = service.map(|s| {
            let mut s = s.auth(auth).tls(tls);
            if let Some(label) = &self.label {
                s = s.label(label.clone());
            }
            if let Some(t) = timeout {
                s = s.timeout(t);
            }
            if let Some(log_bodies) = self.log_bodies {
                s = s.log_bodies(log_bodies);
            }
            if !credentials.is_empty() {
                s = s.credentials(credentials);
            }
            s
        });
        service
    }
}

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

fn is_blank(s: Option<&str>) -> bool {
    s.is_none_or(|s| s.trim().is_empty())
}

fn secret_blank(s: Option<&SecretString>) -> bool {
    s.is_none_or(|s| s.expose_secret().is_empty())
}

/// Check credentials against the service's auth, BPTL's rules: none takes no credentials; ZGW
/// and OAuth2 need client_id and secret; API key needs header and value; bearer needs token.
/// Empty values count as missing: an empty secret never signs a token.
pub(crate) fn credential_problems(auth: &Auth, owner: &Owner<'_>, c: &Credentials) -> Vec<String> {
    let kind = auth.kind();
    let mut out = Vec::new();
    let (needed, optional): (&[&str], &[&str]) = match auth {
        Auth::None => (&[], &[]),
        Auth::ApiKey => (&["header", "value"], &[]),
        Auth::Zgw { .. } => (
            &["client_id", "secret"],
            &["user_id", "user_representation"],
        ),
        Auth::OAuth2 { .. } => (&["client_id", "secret"], &["scope"]),
        Auth::Bearer => (&["token"], &[]),
    };
    let set = c.set_fields();
    if matches!(auth, Auth::None) {
        if !set.is_empty() {
            out.push(format!(
                "{owner} must be empty: the service uses no authentication (auth = \"none\") and takes no credentials, but {} {} set; remove {}.",
                set.join(", "),
                if set.len() == 1 { "is" } else { "are" },
                if set.len() == 1 { "it" } else { "them" },
            ));
        }
        return out;
    }
    let extra: Vec<&str> = set
        .iter()
        .copied()
        .filter(|f| !needed.contains(f) && !optional.contains(f))
        .collect();
    if !extra.is_empty() {
        out.push(format!(
            "{owner} set {} which do not apply to auth = \"{kind}\"; remove {}.",
            extra.join(", "),
            if extra.len() == 1 { "it" } else { "them" },
        ));
    }
    let missing: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|f| match *f {
            "client_id" => is_blank(c.client_id.as_deref()),
            "header" => is_blank(c.header.as_deref()),
            "secret" => secret_blank(c.secret.as_ref()),
            "value" => secret_blank(c.value.as_ref()),
            "token" => secret_blank(c.token.as_ref()),
            _ => false,
        })
        .collect();
    if !missing.is_empty() {
        let empty_secret = missing.contains(&"secret") && c.secret.is_some();
        out.push(format!(
            "{owner} need {} for auth = \"{kind}\"; missing or empty: {}.{}",
            needed.join(" and "),
            missing.join(", "),
            if empty_secret {
                " An empty secret is refused: a token signed with an empty secret proves nothing."
            } else {
                ""
            }
        ));
    }
    if let (Auth::ApiKey, Some(header)) = (auth, &c.header)
        && !header.trim().is_empty()
        && reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err()
    {
        out.push(format!(
            "{owner} have header = {header:?}, which is not a valid HTTP header name."
        ));
    }
    out
}

/// Check services and applications together: duplicates, credentials per auth scheme,
/// credentials for unknown services, services nobody can authenticate to.
pub(crate) fn model_problems(
    services: &[Service],
    apps: &[Application],
    configured: &BTreeSet<String>,
) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    let mut by_name: BTreeMap<&str, &Service> = BTreeMap::new();
    for s in services {
        if by_name.insert(s.name(), s).is_some() {
            problems.push(ConfigProblem::new(
                format!("services.{}", s.name()),
                format!(
                    "the service '{}' is defined twice: service names are unique",
                    s.name()
                ),
            ));
        }
        if let Some(c) = s.own_credentials() {
            for m in credential_problems(s.auth_scheme(), &Owner::Service(s.name()), c) {
                problems.push(ConfigProblem::new(format!("services.{}", s.name()), m));
            }
        }
    }
    let mut seen_apps = BTreeSet::new();
    for app in apps {
        let akey = app_key(app.app_id());
        if !seen_apps.insert(app.app_id()) {
            problems.push(ConfigProblem::new(
                akey.clone(),
                format!(
                    "the application '{}' is defined twice: app ids are unique",
                    app.app_id()
                ),
            ));
        }
        if app.app_id().trim().is_empty() {
            problems.push(ConfigProblem::new(
                akey.clone(),
                "an application needs a non-empty app id (the value of the process variable bptlAppId)",
            ));
        }
        for (service, creds) in app.all_credentials() {
            let key = format!("{akey}.credentials.{service}");
            match by_name.get(service) {
                Some(s) => {
                    let owner = Owner::App {
                        app_id: app.app_id(),
                        service,
                    };
                    for m in credential_problems(s.auth_scheme(), &owner, creds) {
                        problems.push(ConfigProblem::new(key.clone(), m));
                    }
                }
                None if configured.contains(service) => {}
                None => problems.push(ConfigProblem::new(
                    key,
                    format!(
                        "the application '{}' has credentials for the service '{service}', which is not configured: add [services.{service}] or remove them",
                        app.app_id()
                    ),
                )),
            }
        }
    }
    for s in services {
        if matches!(s.auth_scheme(), Auth::None) || s.own_credentials().is_some() {
            continue;
        }
        let some_app = apps.iter().any(|a| a.credentials_for(s.name()).is_some());
        if !some_app {
            problems.push(ConfigProblem::new(
                format!("services.{}", s.name()),
                format!(
                    "the service '{}' uses auth = \"{}\" but has no credentials, and no application has credentials for it: \
                     add them to [services.{}] or to [apps.\"APP_ID\".credentials.{}]",
                    s.name(),
                    s.auth_scheme().kind(),
                    s.name(),
                    s.name()
                ),
            ));
        }
    }
    problems
}
