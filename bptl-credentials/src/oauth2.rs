//! OAuth2 client credentials: a token fetched once, cached, renewed shortly before it expires
//! or when the server refused it. The services' tokens ([`CredentialStore`]) and the engine's
//! ([`OAuth2Client`]) come from here.
//!
//! [`CredentialStore`]: crate::CredentialStore

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::config::ConfigProblem;
use crate::error::CredentialsError;
use crate::tls::ClientTls;

/// The lifetime assumed for an OAuth2 token whose response has no `expires_in`: 5 minutes.
pub const DEFAULT_OAUTH2_LIFETIME: u64 = 300;

/// Renew tokens this long before they expire: a tenth of their lifetime, at most a minute.
pub(crate) fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(Duration::from_secs(60))
}

/// A token and when to renew it.
#[derive(Clone)]
pub(crate) struct CachedToken {
    pub(crate) token: SecretString,
    pub(crate) refresh_at: Instant,
}

/// What a token request sends, and for whom (`owner`: the service's name, or `engine`).
pub(crate) struct TokenRequest<'a> {
    pub(crate) owner: &'a str,
    pub(crate) http: &'a reqwest::Client,
    pub(crate) token_url: &'a Url,
    pub(crate) client_id: &'a str,
    pub(crate) secret: &'a SecretString,
    pub(crate) scope: Option<&'a str>,
    pub(crate) timeout: Duration,
}

/// One client's cached token. Concurrent callers wait for one token request and share it.
#[derive(Default)]
pub(crate) struct TokenSlot(tokio::sync::Mutex<Option<CachedToken>>);

impl TokenSlot {
    /// The cached token; a new one when there is none, it is due for renewal, or it is the one
    /// the server `refused` (a token renewed meanwhile by another caller is used as it is).
    pub(crate) async fn token(
        &self,
        request: &TokenRequest<'_>,
        refused: Option<&SecretString>,
    ) -> Result<SecretString, CredentialsError> {
        let mut slot = self.0.lock().await;
        if let Some(cached) = slot.as_ref() {
            let is_refused =
                refused.is_some_and(|r| r.expose_secret() == cached.token.expose_secret());
            if cached.refresh_at > Instant::now() && !is_refused {
                return Ok(cached.token.clone());
            }
        }
        let fetched = fetch(request).await?;
        let token = fetched.token.clone();
        *slot = Some(fetched);
        Ok(token)
    }
}

/// Ask the token endpoint for a token (`grant_type=client_credentials`).
async fn fetch(request: &TokenRequest<'_>) -> Result<CachedToken, CredentialsError> {
    let secret = request.secret.expose_secret();
    let token_err = |message: String| CredentialsError::TokenRequest {
        service: request.owner.to_owned(),
        token_url: request.token_url.to_string(),
        message,
    };
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", request.client_id),
        ("client_secret", secret),
    ];
    if let Some(scope) = request.scope {
        form.push(("scope", scope));
    }
    let started = Instant::now();
    let response = request
        .http
        .post(request.token_url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form)
        .timeout(request.timeout)
        .send()
        .await
        .map_err(|e| token_err(crate::client::error_chain(&e.without_url())))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| token_err(crate::client::error_chain(&e.without_url())))?;
    // An endpoint may echo the request body: the secret as it was sent is scrubbed too.
    let encoded_secret: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let scrub = |text: &str| text.replace(secret, "***").replace(&encoded_secret, "***");
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        return Err(token_err(format!(
            "the token endpoint answered {status}: {}",
            scrub(&crate::client::truncate(&text, 500))
        )));
    }
    #[derive(Deserialize)]
    struct TokenResponse {
        access_token: String,
        expires_in: Option<u64>,
    }
    let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
        token_err(format!(
            "the answer is not a token response with access_token ({e})"
        ))
    })?;
    let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(DEFAULT_OAUTH2_LIFETIME));
    tracing::debug!(
        owner = request.owner,
        client_id = request.client_id,
        expires_in_s = lifetime.as_secs(),
        duration_ms = started.elapsed().as_millis() as u64,
        "fetched an OAuth2 access token"
    );
    Ok(CachedToken {
        token: SecretString::from(parsed.access_token),
        refresh_at: started + lifetime.saturating_sub(refresh_margin(lifetime)),
    })
}

/// OAuth2 client credentials of one client outside `[services]`, e.g. the worker's own for
/// the engine (Keycloak in front of Operaton or CIB seven): tokens fetched, cached and renewed
/// as a service's are, on an HTTP client of its own (with the connection's TLS settings).
///
/// ```
/// use bptl_credentials::{ClientTls, OAuth2Client};
/// let client = OAuth2Client::new(
///     "engine",
///     "https://keycloak.example/realms/bpm/protocol/openid-connect/token",
///     "bptl-worker",
///     "the-client-secret",
///     Some("engine-rest".to_owned()),
///     &ClientTls::default(),
/// )?;
/// assert!(!format!("{client:?}").contains("the-client-secret"));
/// # Ok::<(), bptl_credentials::ConfigProblem>(())
/// ```
pub struct OAuth2Client {
    owner: String,
    http: reqwest::Client,
    token_url: Url,
    client_id: String,
    secret: SecretString,
    scope: Option<String>,
    timeout: Duration,
    slot: TokenSlot,
}

impl fmt::Debug for OAuth2Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2Client")
            .field("owner", &self.owner)
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .field("secret", &crate::REDACTED)
            .field("scope", &self.scope)
            .finish()
    }
}

impl OAuth2Client {
    /// Client credentials for `owner` (named by errors, e.g. `engine`) at `token_url`; the
    /// token endpoint is reached with the TLS settings `tls`.
    pub fn new(
        owner: impl Into<String>,
        token_url: &str,
        client_id: impl Into<String>,
        secret: impl Into<SecretString>,
        scope: Option<String>,
        tls: &ClientTls,
    ) -> Result<OAuth2Client, ConfigProblem> {
        let owner = owner.into();
        let token_url = crate::model::parse_token_url(token_url)?;
        let http = tls
            .apply(crate::tls::client_builder())
            .user_agent(concat!("bptl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                ConfigProblem::new(
                    "token_url",
                    format!(
                        "cannot create the HTTP client: {}",
                        crate::client::error_chain(&e)
                    ),
                )
            })?;
        Ok(OAuth2Client {
            owner,
            http,
            token_url,
            client_id: client_id.into(),
            secret: secret.into(),
            scope,
            timeout: crate::DEFAULT_TIMEOUT,
            slot: TokenSlot::default(),
        })
    }

    fn request(&self) -> TokenRequest<'_> {
        TokenRequest {
            owner: &self.owner,
            http: &self.http,
            token_url: &self.token_url,
            client_id: &self.client_id,
            secret: &self.secret,
            scope: self.scope.as_deref(),
            timeout: self.timeout,
        }
    }

    /// The current token: cached, or fetched when there is none or it is about to expire.
    pub async fn token(&self) -> Result<SecretString, CredentialsError> {
        self.slot.token(&self.request(), None).await
    }

    /// A token to replace `refused`, which the server answered 401 to: fetched again, unless
    /// another caller has renewed it meanwhile (then that one).
    pub async fn renew(&self, refused: &SecretString) -> Result<SecretString, CredentialsError> {
        self.slot.token(&self.request(), Some(refused)).await
    }
}
