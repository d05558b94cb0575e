//! Services, applications and credentials.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use reqwest::Url;
use secrecy::SecretString;

use crate::config::ConfigProblem;
use crate::tls::ClientTls;

/// The timeout of a service that does not set one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Which request and response bodies of a service go on the task's timeline (`log_bodies`).
/// Bodies may hold personal data, and timelines are kept with the task records.
///
/// ```
/// use bptl_credentials::LogBodies;
/// assert_eq!(LogBodies::default(), LogBodies::Errors);
/// assert!(LogBodies::Errors.records(Some(500)) && !LogBodies::Errors.records(Some(200)));
/// assert!(LogBodies::Errors.records(None), "a request without an answer is an error");
/// assert!(LogBodies::All.records(Some(200)) && !LogBodies::None.records(Some(500)));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogBodies {
    /// `"none"`: never; the timeline has method, URL, status, duration and headers only.
    None,
    /// `"errors"` (the default): for exchanges that failed (no answer, or a 4xx/5xx status).
    #[default]
    Errors,
    /// `"all"`: always (up to [`MAX_RECORDED_BODY`](crate::MAX_RECORDED_BODY) bytes each).
    All,
}

impl LogBodies {
    /// Whether the bodies of an exchange with this outcome are recorded (`None`: no answer).
    pub fn records(self, status: Option<u16>) -> bool {
        match self {
            LogBodies::None => false,
            LogBodies::All => true,
            LogBodies::Errors => status.is_none_or(|s| s >= 400),
        }
    }

    /// The configuration's name: `none`, `errors` or `all`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogBodies::None => "none",
            LogBodies::Errors => "errors",
            LogBodies::All => "all",
        }
    }
}

/// How long a ZGW JWT is valid when the service does not say: 12 hours, as in BPTL.
pub const DEFAULT_JWT_VALIDITY: Duration = Duration::from_secs(12 * 3600);

/// The kind of API a service offers. Task mappings are validated against the types units
/// require (`#[require_service("zrc", ...)]`).
///
/// Names are lower case; unknown names are kept as [`ApiType::Other`].
///
/// ```
/// use bptl_credentials::ApiType;
/// assert_eq!(ApiType::from("ZRC"), ApiType::Zrc);
/// assert_eq!(ApiType::from("weather").as_str(), "weather");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ApiType {
    /// Zaken API.
    Zrc,
    /// Documenten API.
    Drc,
    /// Catalogi API.
    Ztc,
    /// Besluiten API.
    Brc,
    /// Other (ORC) API.
    Orc,
    /// Autorisaties API.
    Ac,
    /// Notificaties API.
    Nrc,
    /// Klantcontacten API.
    Kc,
    /// Verzoeken API.
    Vrc,
    /// Contactmomenten API.
    Cmc,
    /// Any other API type, lower case.
    Other(String),
}

impl ApiType {
    /// The type's name, e.g. `zrc`.
    pub fn as_str(&self) -> &str {
        match self {
            ApiType::Zrc => "zrc",
            ApiType::Drc => "drc",
            ApiType::Ztc => "ztc",
            ApiType::Brc => "brc",
            ApiType::Orc => "orc",
            ApiType::Ac => "ac",
            ApiType::Nrc => "nrc",
            ApiType::Kc => "kc",
            ApiType::Vrc => "vrc",
            ApiType::Cmc => "cmc",
            ApiType::Other(name) => name,
        }
    }

    /// Whether a service of this type satisfies a requirement for `required`
    /// (`*` means any type).
    pub fn satisfies(&self, required: &str) -> bool {
        required == crate::ANY_SERVICE_TYPE || self.as_str().eq_ignore_ascii_case(required)
    }
}

impl From<&str> for ApiType {
    fn from(name: &str) -> Self {
        match name.trim().to_ascii_lowercase().as_str() {
            "zrc" => ApiType::Zrc,
            "drc" => ApiType::Drc,
            "ztc" => ApiType::Ztc,
            "brc" => ApiType::Brc,
            "orc" => ApiType::Orc,
            "ac" => ApiType::Ac,
            "nrc" => ApiType::Nrc,
            "kc" => ApiType::Kc,
            "vrc" => ApiType::Vrc,
            "cmc" => ApiType::Cmc,
            other => ApiType::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for ApiType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a service authenticates requests. The secrets themselves are [`Credentials`]: the
/// service's own, or an application's for that service.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Auth {
    /// No authentication; the service takes no credentials.
    None,
    /// A static header, e.g. `X-Api-Key: ...` (credentials: `header`, `value`).
    ApiKey,
    /// A ZGW JWT (HS256) as `Authorization: Bearer ...` (credentials: `client_id`, `secret`).
    Zgw {
        /// The `user_id` claim (credentials may override it).
        user_id: String,
        /// The `user_representation` claim (credentials may override it).
        user_representation: String,
        /// How long a token is valid (`exp` = `iat` + this).
        jwt_validity: Duration,
    },
    /// OAuth2 client credentials: a token fetched from `token_url`, sent as
    /// `Authorization: Bearer ...` (credentials: `client_id`, `secret`, optional `scope`).
    OAuth2 {
        /// The token endpoint.
        token_url: Url,
        /// The scope to request (credentials may override it).
        scope: Option<String>,
    },
    /// A static bearer token, `Authorization: Bearer ...` (credentials: `token`).
    Bearer,
}

impl Auth {
    /// ZGW authentication with empty user claims and the default validity (12 h).
    pub fn zgw() -> Auth {
        Auth::Zgw {
            user_id: String::new(),
            user_representation: String::new(),
            jwt_validity: DEFAULT_JWT_VALIDITY,
        }
    }

    /// OAuth2 client credentials against `token_url`.
    pub fn oauth2(token_url: &str) -> Result<Auth, ConfigProblem> {
        Ok(Auth::OAuth2 {
            token_url: parse_token_url(token_url)?,
            scope: None,
        })
    }

    /// The name used in the configuration: `none`, `api_key`, `zgw`, `oauth2`, `bearer`.
    pub fn kind(&self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::ApiKey => "api_key",
            Auth::Zgw { .. } => "zgw",
            Auth::OAuth2 { .. } => "oauth2",
            Auth::Bearer => "bearer",
        }
    }
}

/// One set of credentials: a service's own, or an application's for one service.
///
/// Which fields are needed depends on the service's [`Auth`]: ZGW and OAuth2 need `client_id`
/// and `secret`, API key needs `header` and `value`, bearer needs `token`, none takes nothing.
/// `Debug` never shows the secrets.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// The client id (ZGW, OAuth2).
    pub client_id: Option<String>,
    /// The shared secret (ZGW) or client secret (OAuth2).
    pub secret: Option<SecretString>,
    /// The header name (API key).
    pub header: Option<String>,
    /// The header value (API key).
    pub value: Option<SecretString>,
    /// The static token (bearer).
    pub token: Option<SecretString>,
    /// Overrides the service's `user_id` claim (ZGW).
    pub user_id: Option<String>,
    /// Overrides the service's `user_representation` claim (ZGW).
    pub user_representation: Option<String>,
    /// Overrides the service's scope (OAuth2).
    pub scope: Option<String>,
}

impl Credentials {
    /// ZGW credentials.
    pub fn zgw(client_id: impl Into<String>, secret: impl Into<SecretString>) -> Self {
        Self {
            client_id: Some(client_id.into()),
            secret: Some(secret.into()),
            ..Self::default()
        }
    }

    /// OAuth2 client credentials.
    pub fn oauth2(client_id: impl Into<String>, secret: impl Into<SecretString>) -> Self {
        Self::zgw(client_id, secret)
    }

    /// An API key sent as header `header`.
    pub fn api_key(header: impl Into<String>, value: impl Into<SecretString>) -> Self {
        Self {
            header: Some(header.into()),
            value: Some(value.into()),
            ..Self::default()
        }
    }

    /// A static bearer token.
    pub fn bearer(token: impl Into<SecretString>) -> Self {
        Self {
            token: Some(token.into()),
            ..Self::default()
        }
    }

    /// Set the ZGW `user_id` claim.
    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// Set the ZGW `user_representation` claim.
    pub fn user_representation(mut self, representation: impl Into<String>) -> Self {
        self.user_representation = Some(representation.into());
        self
    }

    /// Set the OAuth2 scope.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The names of the fields that are set.
    pub(crate) fn set_fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let fields: [(&'static str, bool); 8] = [
            ("client_id", self.client_id.is_some()),
            ("secret", self.secret.is_some()),
            ("header", self.header.is_some()),
            ("value", self.value.is_some()),
            ("token", self.token.is_some()),
            ("user_id", self.user_id.is_some()),
            ("user_representation", self.user_representation.is_some()),
            ("scope", self.scope.is_some()),
        ];
        for (name, set) in fields {
            if set {
                out.push(name);
            }
        }
        out
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self.set_fields().is_empty()
    }
}

/// An external REST service units talk to.
///
/// ```
/// use bptl_credentials::{ApiType, Auth, Credentials, Service};
/// let zaken = Service::new("zaken", "https://zaken.example/api/v1", "zrc")?
///     .auth(Auth::zgw())
///     .credentials(Credentials::zgw("bptl", "a-long-shared-secret"));
/// assert_eq!(zaken.api_root().as_str(), "https://zaken.example/api/v1/");
/// assert_eq!(zaken.api_type(), &ApiType::Zrc);
/// assert!(!format!("{zaken:?}").contains("a-long-shared-secret"));
/// # Ok::<(), bptl_credentials::ConfigProblem>(())
/// ```
#[derive(Debug, Clone)]
pub struct Service {
    name: String,
    label: Option<String>,
    api_root: Url,
    api_type: ApiType,
    timeout: Duration,
    auth: Auth,
    credentials: Option<Credentials>,
    log_bodies: LogBodies,
    tls: ClientTls,
    smtp: Option<crate::smtp::SmtpServer>,
}

impl Service {
    /// A service without authentication. `api_root` must be an `http(s)` URL; a trailing slash
    /// is added so relative paths join below it.
    pub fn new(
        name: impl Into<String>,
        api_root: &str,
        api_type: impl Into<ApiType>,
    ) -> Result<Service, ConfigProblem> {
        let name = name.into();
        let api_root = parse_api_root(&format!("services.{name}.api_root"), api_root)?;
        Ok(Service {
            name,
            label: None,
            api_root,
            api_type: api_type.into(),
            timeout: DEFAULT_TIMEOUT,
            auth: Auth::None,
            credentials: None,
            log_bodies: LogBodies::default(),
            tls: ClientTls::default(),
            smtp: None,
        })
    }

    /// A mail server (`api_type = "smtp"`); its `api_root` reads `smtp://HOST:PORT/`.
    pub fn smtp(
        name: impl Into<String>,
        server: crate::smtp::SmtpServer,
    ) -> Result<Service, ConfigProblem> {
        let name = name.into();
        let root = format!("smtp://{}:{}/", server.host(), server.port());
        let api_root = Url::parse(&root).map_err(|e| {
            ConfigProblem::new(
                format!("services.{name}.smtp.host"),
                format!("{:?} is not a host name ({e})", server.host()),
            )
        })?;
        Ok(Service {
            name,
            label: None,
            api_root,
            api_type: ApiType::from(crate::smtp::SMTP_TYPE),
            timeout: DEFAULT_TIMEOUT,
            auth: Auth::None,
            credentials: None,
            log_bodies: LogBodies::default(),
            tls: ClientTls::default(),
            smtp: Some(server),
        })
    }

    /// The mail server, for a service of `api_type = "smtp"`.
    pub fn smtp_server(&self) -> Option<&crate::smtp::SmtpServer> {
        self.smtp.as_ref()
    }

    /// Set the label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Set the request timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Set which bodies go on the timeline (default [`LogBodies::Errors`]).
    pub fn log_bodies(mut self, log_bodies: LogBodies) -> Self {
        self.log_bodies = log_bodies;
        self
    }

    /// Which bodies go on the timeline.
    pub fn recorded_bodies(&self) -> LogBodies {
        self.log_bodies
    }

    /// Set the TLS settings of its connections: a CA bundle, a client certificate
    /// ([`TlsFiles::load`](crate::TlsFiles::load) reads them).
    pub fn tls(mut self, tls: ClientTls) -> Self {
        self.tls = tls;
        self
    }

    /// The TLS settings of its connections.
    pub fn tls_settings(&self) -> &ClientTls {
        &self.tls
    }

    /// Set the authentication scheme.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Set the service's own credentials, used for applications without their own.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The name task mappings use.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The label, or the name when there is none.
    pub fn display_label(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.name)
    }

    /// The API root, always ending in `/`.
    pub fn api_root(&self) -> &Url {
        &self.api_root
    }

    /// The API type.
    pub fn api_type(&self) -> &ApiType {
        &self.api_type
    }

    /// The request timeout.
    pub fn request_timeout(&self) -> Duration {
        self.timeout
    }

    /// The authentication scheme.
    pub fn auth_scheme(&self) -> &Auth {
        &self.auth
    }

    /// The service's own credentials, if any.
    pub fn own_credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }
}

/// An OAuth2 token endpoint (the problem's key: `token_url`).
pub(crate) fn parse_token_url(token_url: &str) -> Result<Url, ConfigProblem> {
    Url::parse(token_url).map_err(|e| {
        ConfigProblem::new(
            "token_url",
            format!("'{token_url}' is not a URL ({e}): write e.g. \"https://auth.example/token\""),
        )
    })
}

pub(crate) fn parse_api_root(key: &str, text: &str) -> Result<Url, ConfigProblem> {
    let mut url = Url::parse(text.trim()).map_err(|e| {
        ConfigProblem::new(
            key,
            format!("'{text}' is not a URL ({e}): write e.g. \"https://zaken.example/api/v1/\""),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(ConfigProblem::new(
            key,
            format!("'{text}' is not an http(s) URL: write e.g. \"https://zaken.example/api/v1/\""),
        ));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// An application processes run for (identified by the process variable `bptlAppId`), with its
/// own credentials per service.
///
/// ```
/// use bptl_credentials::{Application, Credentials};
/// let app = Application::new("https://app.example")
///     .label("Case app")
///     .credentials("zaken", Credentials::zgw("case-app", "its-own-secret"));
/// assert!(app.credentials_for("zaken").is_some());
/// ```
#[derive(Debug, Clone)]
pub struct Application {
    app_id: String,
    label: Option<String>,
    credentials: BTreeMap<String, Credentials>,
}

impl Application {
    /// An application without credentials.
    pub fn new(app_id: impl Into<String>) -> Self {
        Self {
            app_id: app_id.into(),
            label: None,
            credentials: BTreeMap::new(),
        }
    }

    /// Set the label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Set its credentials for the service named `service` (replacing earlier ones).
    pub fn credentials(mut self, service: impl Into<String>, credentials: Credentials) -> Self {
        self.credentials.insert(service.into(), credentials);
        self
    }

    /// The app id.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// The label, or the app id when there is none.
    pub fn display_label(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.app_id)
    }

    /// Its credentials for `service`.
    pub fn credentials_for(&self, service: &str) -> Option<&Credentials> {
        self.credentials.get(service)
    }

    /// All its credentials, by service name.
    pub fn all_credentials(&self) -> impl Iterator<Item = (&str, &Credentials)> {
        self.credentials.iter().map(|(k, v)| (k.as_str(), v))
    }
}
