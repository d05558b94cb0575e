//! How a [`CamundaClient`] is built: the engine URL, authentication and timeouts.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::Url;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use super::{CamundaClient, Inner};
use crate::error::CamundaError;

/// The default HTTP timeout of calls other than a long-polling fetchAndLock.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default time a long poll may take beyond its `asyncResponseTimeout` before the client
/// gives up on the engine.
pub const DEFAULT_LONG_POLL_MARGIN: Duration = Duration::from_secs(10);
/// The default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the client authenticates to the engine. Secrets are never printed.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum EngineAuth {
    /// No authentication.
    #[default]
    None,
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: SecretString,
    },
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token.
        token: SecretString,
    },
    /// Custom headers (e.g. an API gateway key); the values are secret.
    Headers(Vec<(String, SecretString)>),
    /// Headers that change, from a provider (e.g. OAuth2 access tokens): asked before every
    /// call; when the engine answers 401, renewed once and the call retried once.
    Provider(Arc<dyn AuthProvider>),
}

/// Authentication headers that change, e.g. OAuth2 client-credentials tokens (Keycloak in front
/// of Operaton or CIB seven): [`EngineAuth::Provider`]. Its `Debug` output must not show
/// secrets.
#[async_trait::async_trait]
pub trait AuthProvider: Send + Sync + fmt::Debug {
    /// The headers for the next call (e.g. `Authorization: Bearer` with the cached token).
    /// Values should be marked sensitive. An `Err` says why they cannot be had (no secret in it).
    async fn headers(&self) -> Result<HeaderMap, String>;

    /// The engine answered 401 to a call sent with `refused`: the headers to retry it with
    /// (e.g. a token fetched again). Called at most once per call.
    async fn renew(&self, refused: &HeaderMap) -> Result<HeaderMap, String>;
}

impl fmt::Debug for EngineAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineAuth::None => f.write_str("None"),
            EngineAuth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"[REDACTED]")
                .finish(),
            EngineAuth::Bearer { .. } => f
                .debug_struct("Bearer")
                .field("token", &"[REDACTED]")
                .finish(),
            EngineAuth::Headers(headers) => f
                .debug_map()
                .entries(headers.iter().map(|(name, _)| (name, "[REDACTED]")))
                .finish(),
            EngineAuth::Provider(provider) => f.debug_tuple("Provider").field(provider).finish(),
        }
    }
}

impl EngineAuth {
    fn headers(&self) -> Result<HeaderMap, CamundaError> {
        let mut map = HeaderMap::new();
        let secret_value = |text: &str, what: &str| {
            let mut value = HeaderValue::from_str(text).map_err(|_| {
                CamundaError::Config(format!(
                    "the {what} contains characters not allowed in an HTTP header"
                ))
            })?;
            value.set_sensitive(true);
            Ok::<_, CamundaError>(value)
        };
        match self {
            // A provider's headers are asked for per call.
            EngineAuth::None | EngineAuth::Provider(_) => {}
            EngineAuth::Basic { username, password } => {
                let encoded =
                    BASE64.encode(format!("{username}:{}", password.expose_secret()).as_bytes());
                map.insert(
                    header::AUTHORIZATION,
                    secret_value(&format!("Basic {encoded}"), "basic auth credential")?,
                );
            }
            EngineAuth::Bearer { token } => {
                map.insert(
                    header::AUTHORIZATION,
                    secret_value(&format!("Bearer {}", token.expose_secret()), "bearer token")?,
                );
            }
            EngineAuth::Headers(headers) => {
                for (name, value) in headers {
                    let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                        CamundaError::Config(format!("'{name}' is not a valid HTTP header name"))
                    })?;
                    map.append(
                        header_name,
                        secret_value(value.expose_secret(), &format!("value of header '{name}'"))?,
                    );
                }
            }
        }
        Ok(map)
    }
}

/// Builds a [`CamundaClient`]; start with [`CamundaClient::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct CamundaClientBuilder {
    url: String,
    auth: EngineAuth,
    timeout: Duration,
    long_poll_margin: Duration,
    connect_timeout: Duration,
    user_agent: String,
    #[cfg(feature = "tls")]
    tls_roots: Vec<reqwest::Certificate>,
    #[cfg(feature = "tls")]
    tls_identity: Option<reqwest::Identity>,
}

impl CamundaClientBuilder {
    /// A builder for `url` with no authentication and the default timeouts.
    pub(super) fn new(url: String) -> Self {
        Self {
            url,
            auth: EngineAuth::None,
            timeout: DEFAULT_TIMEOUT,
            long_poll_margin: DEFAULT_LONG_POLL_MARGIN,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            user_agent: concat!("bptl-camunda/", env!("CARGO_PKG_VERSION")).to_owned(),
            #[cfg(feature = "tls")]
            tls_roots: Vec::new(),
            #[cfg(feature = "tls")]
            tls_identity: None,
        }
    }

    /// Authenticate with HTTP basic authentication.
    pub fn basic_auth(
        mut self,
        username: impl Into<String>,
        password: impl Into<SecretString>,
    ) -> Self {
        self.auth = EngineAuth::Basic {
            username: username.into(),
            password: password.into(),
        };
        self
    }

    /// Authenticate with a bearer token.
    pub fn bearer_token(mut self, token: impl Into<SecretString>) -> Self {
        self.auth = EngineAuth::Bearer {
            token: token.into(),
        };
        self
    }

    /// Add a custom (secret) header sent with every call, e.g. an API gateway key. Replaces
    /// basic or bearer authentication set before.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<SecretString>) -> Self {
        let entry = (name.into(), value.into());
        match &mut self.auth {
            EngineAuth::Headers(headers) => headers.push(entry),
            other => *other = EngineAuth::Headers(vec![entry]),
        }
        self
    }

    /// Set the authentication.
    pub fn auth(mut self, auth: EngineAuth) -> Self {
        self.auth = auth;
        self
    }

    /// The HTTP timeout of every call but a long-polling fetchAndLock
    /// (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long a long-polling fetchAndLock may take beyond its `asyncResponseTimeout`
    /// (default [`DEFAULT_LONG_POLL_MARGIN`]).
    pub fn long_poll_margin(mut self, margin: Duration) -> Self {
        self.long_poll_margin = margin;
        self
    }

    /// The connect timeout (default [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Trust these certificates besides the system's roots, e.g. the private CA that signed the
    /// engine's certificate (feature `tls`).
    #[cfg(feature = "tls")]
    pub fn add_root_certificates(
        mut self,
        certificates: impl IntoIterator<Item = reqwest::Certificate>,
    ) -> Self {
        self.tls_roots.extend(certificates);
        self
    }

    /// Present this client certificate when the engine (or a proxy in front of it) asks for
    /// one: mutual TLS (feature `tls`).
    #[cfg(feature = "tls")]
    pub fn identity(mut self, identity: reqwest::Identity) -> Self {
        self.tls_identity = Some(identity);
        self
    }

    /// Build the client.
    ///
    /// Fails when the URL is not an absolute `http`/`https` URL, contains credentials (use
    /// [`basic_auth`](Self::basic_auth)), is `https` while TLS is not compiled in (the `tls`
    /// feature of `bptl` and `bptl-camunda`, on by default), or a header is invalid.
    pub fn build(self) -> Result<CamundaClient, CamundaError> {
        let mut base = Url::parse(self.url.trim()).map_err(|e| {
            CamundaError::Config(format!(
                "'{}' is not a valid engine URL ({e}); expected e.g. http://localhost:8080/engine-rest",
                self.url
            ))
        })?;
        match base.scheme() {
            "http" => {}
            "https" => {
                if !cfg!(feature = "tls") {
                    return Err(CamundaError::Config(format!(
                        "the engine URL {base} uses https, but bptl-camunda was built without TLS: \
                         build it with the `tls` feature of bptl (or bptl-camunda), on by default"
                    )));
                }
            }
            other => {
                return Err(CamundaError::Config(format!(
                    "the engine URL must be http or https, not '{other}'"
                )));
            }
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(CamundaError::Config(
                "the engine URL must not contain credentials; use basic_auth(user, password)"
                    .to_owned(),
            ));
        }
        if base.cannot_be_a_base() || base.host().is_none() {
            return Err(CamundaError::Config(format!(
                "the engine URL {base} has no host"
            )));
        }
        let path = base.path().trim_end_matches('/').to_owned();
        base.set_path(&path);
        base.set_query(None);
        base.set_fragment(None);

        let mut headers = self.auth.headers()?;
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        crate::install_crypto_provider();
        let http = reqwest::Client::builder();
        #[cfg(feature = "tls")]
        let http = {
            let mut http = http;
            if !self.tls_roots.is_empty() {
                http = http.tls_certs_merge(self.tls_roots);
            }
            if let Some(identity) = self.tls_identity {
                http = http.identity(identity);
            }
            http
        };
        let http = http
            .default_headers(headers)
            .user_agent(self.user_agent)
            .connect_timeout(self.connect_timeout)
            .tcp_keepalive(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(50))
            .build()
            .map_err(|e| {
                CamundaError::Config(format!(
                    "cannot build the HTTP client: {}",
                    crate::error::cause_text(&e)
                ))
            })?;
        Ok(CamundaClient {
            inner: Arc::new(Inner {
                http,
                base,
                auth: self.auth,
                timeout: self.timeout,
                long_poll_margin: self.long_poll_margin,
            }),
        })
    }
}
