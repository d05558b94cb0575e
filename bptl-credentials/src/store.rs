//! The credential store: services, applications, and the auth headers for an app on a service.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::config::{ConfigProblem, ServicesConfig, model_problems};
use crate::error::CredentialsError;
use crate::model::{Application, Auth, Credentials, Service};
use crate::oauth2::{CachedToken, TokenRequest, TokenSlot, refresh_margin};

/// The authentication headers for one service, as [`CredentialStore::get_credentials`] returns
/// them. Values are marked sensitive; `Debug` shows header names only.
#[derive(Clone, Default)]
pub struct AuthHeaders {
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl AuthHeaders {
    /// No headers (a service without authentication).
    pub fn none() -> Self {
        Self::default()
    }

    fn one(name: HeaderName, mut value: HeaderValue) -> Self {
        value.set_sensitive(true);
        Self {
            headers: vec![(name, value)],
        }
    }

    /// The value of header `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&HeaderValue> {
        self.headers
            .iter()
            .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// All headers.
    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.headers.iter().map(|(n, v)| (n, v))
    }

    /// The number of headers.
    pub fn len(&self) -> usize {
        self.headers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }

    /// The headers as a `HeaderMap` (values stay marked sensitive).
    pub fn to_header_map(&self) -> reqwest::header::HeaderMap {
        self.headers.iter().cloned().collect()
    }

    /// The secret strings these headers carry (whole values, and bearer tokens alone), for
    /// scrubbing recorded text.
    pub(crate) fn secret_values(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (_, v) in &self.headers {
            if let Ok(s) = v.to_str() {
                out.push(s.to_owned());
                if let Some(token) = s.strip_prefix("Bearer ") {
                    out.push(token.to_owned());
                }
            }
        }
        out.retain(|s| s.len() >= 4);
        out
    }
}

impl fmt::Debug for AuthHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (n, _) in &self.headers {
            map.entry(&n.as_str(), &"***");
        }
        map.finish()
    }
}

/// The claims of a ZGW JWT, as BPTL (and the ZGW standard) sends them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZgwClaims {
    /// The issuer: the client id.
    pub iss: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at: `iat` + the service's JWT validity.
    pub exp: i64,
    /// The client id.
    pub client_id: String,
    /// The user on whose behalf the request is made.
    pub user_id: String,
    /// A human representation of that user.
    pub user_representation: String,
}

/// Which credentials a token was made with: an app's own (`Some(app)`) or the service's.
type CacheKey = (Option<String>, String);

/// Services, applications and their credentials; hands out auth headers, caching tokens.
///
/// Build it from the configuration with [`CredentialStore::from_config`] (or from the model with
/// [`CredentialStore::new`]), share it as `Arc<CredentialStore>` and attach it to tasks:
/// `run.extensions.insert(Arc::clone(&store))`. Cheap to share; tokens are cached per
/// (application, service) and shared by all tasks.
///
/// ```
/// use bptl_credentials::{Application, Auth, CredentialStore, Credentials, Service};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = CredentialStore::new(
///     [Service::new("weather", "https://weather.example/api", "weather").unwrap()
///         .auth(Auth::ApiKey)
///         .credentials(Credentials::api_key("X-Api-Key", "shared-key"))],
///     [Application::new("https://app.example")
///         .credentials("weather", Credentials::api_key("X-Api-Key", "app-key"))],
/// ).unwrap();
/// let headers = store.credentials_for("https://app.example", "weather").await.unwrap();
/// assert_eq!(headers.get("x-api-key").unwrap().to_str().unwrap(), "app-key");
/// let other = store.credentials_for("https://other.example", "weather").await.unwrap();
/// assert_eq!(other.get("x-api-key").unwrap().to_str().unwrap(), "shared-key");
/// # }
/// ```
pub struct CredentialStore {
    services: BTreeMap<String, Arc<Service>>,
    apps: BTreeMap<String, Application>,
    /// One HTTP client per service (its own TLS settings, its own connection pool).
    http: BTreeMap<String, reqwest::Client>,
    jwt_cache: Mutex<HashMap<CacheKey, CachedToken>>,
    oauth_cache: Mutex<HashMap<CacheKey, Arc<TokenSlot>>>,
}

impl fmt::Debug for CredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialStore")
            .field("services", &self.services.keys().collect::<Vec<_>>())
            .field("apps", &self.apps.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl CredentialStore {
    /// A store of these services and applications, validated: every problem is returned
    /// (duplicates, credentials that do not fit their service's auth, credentials for services
    /// that do not exist, services nobody has credentials for).
    pub fn new(
        services: impl IntoIterator<Item = Service>,
        apps: impl IntoIterator<Item = Application>,
    ) -> Result<CredentialStore, Vec<ConfigProblem>> {
        let services: Vec<Service> = services.into_iter().collect();
        let apps: Vec<Application> = apps.into_iter().collect();
        let names = services.iter().map(|s| s.name().to_owned()).collect();
        Self::build(services, apps, &names, Vec::new())
    }

    /// A store from the `[services]` and `[apps]` configuration, reading secrets given as
    /// `{ env = "NAME" }` from the process environment and `{ file = "PATH" }` from files.
    /// Returns all problems, each naming its configuration key.
    pub fn from_config(config: ServicesConfig) -> Result<CredentialStore, Vec<ConfigProblem>> {
        Self::from_config_with_env(config, &|name| std::env::var(name).ok())
    }

    /// Like [`CredentialStore::from_config`], looking environment variables up with `env`.
    pub fn from_config_with_env(
        config: ServicesConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<CredentialStore, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let (services, apps, names) = config.to_model(env, &mut problems);
        Self::build(services, apps, &names, problems)
    }

    fn build(
        services: Vec<Service>,
        apps: Vec<Application>,
        configured: &BTreeSet<String>,
        mut problems: Vec<ConfigProblem>,
    ) -> Result<CredentialStore, Vec<ConfigProblem>> {
        problems.extend(model_problems(&services, &apps, configured));
        let mut http = BTreeMap::new();
        for service in &services {
            let built = service
                .tls_settings()
                .apply(crate::tls::client_builder())
                .user_agent(concat!("bptl/", env!("CARGO_PKG_VERSION")))
                .redirect(same_origin_redirects())
                .build();
            match built {
                Ok(client) => {
                    http.insert(service.name().to_owned(), client);
                }
                Err(e) => problems.push(ConfigProblem::new(
                    format!("services.{}", service.name()),
                    format!(
                        "cannot create the HTTP client: {}",
                        crate::client::error_chain(&e)
                    ),
                )),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(CredentialStore {
            services: services
                .into_iter()
                .map(|s| (s.name().to_owned(), Arc::new(s)))
                .collect(),
            apps: apps
                .into_iter()
                .map(|a| (a.app_id().to_owned(), a))
                .collect(),
            http,
            jwt_cache: Mutex::default(),
            oauth_cache: Mutex::default(),
        })
    }

    /// The service named `name`.
    pub fn service(&self, name: &str) -> Option<Arc<Service>> {
        self.services.get(name).cloned()
    }

    /// All services, by name.
    pub fn services(&self) -> impl Iterator<Item = &Arc<Service>> {
        self.services.values()
    }

    /// The application with this app id.
    pub fn application(&self, app_id: &str) -> Option<&Application> {
        self.apps.get(app_id)
    }

    /// All applications, by app id.
    pub fn applications(&self) -> impl Iterator<Item = &Application> {
        self.apps.values()
    }

    /// The HTTP client of the service named `service` (every configured service has one).
    pub(crate) fn http(&self, service: &str) -> Option<&reqwest::Client> {
        self.http.get(service)
    }

    /// BPTL's `get_credentials(app_id, *services)`: the auth headers for `app_id` on each of
    /// `services` (by name), keyed by service name. The application's own credentials for a
    /// service come first; the service's own are used only when the application has none.
    pub async fn get_credentials(
        &self,
        app_id: &str,
        services: &[&str],
    ) -> Result<BTreeMap<String, AuthHeaders>, CredentialsError> {
        let mut out = BTreeMap::new();
        for service in services {
            let headers = self.credentials_for(app_id, service).await?;
            out.insert((*service).to_owned(), headers);
        }
        Ok(out)
    }

    /// The auth headers for `app_id` on the service named `service`.
    pub async fn credentials_for(
        &self,
        app_id: &str,
        service: &str,
    ) -> Result<AuthHeaders, CredentialsError> {
        let svc = self
            .services
            .get(service)
            .ok_or_else(|| CredentialsError::UnknownService(service.to_owned()))?;
        if matches!(svc.auth_scheme(), Auth::None) {
            return Ok(AuthHeaders::none());
        }
        let app_creds = self
            .apps
            .get(app_id)
            .and_then(|a| a.credentials_for(service));
        let (key, creds): (CacheKey, &Credentials) = match (app_creds, svc.own_credentials()) {
            (Some(c), _) => ((Some(app_id.to_owned()), service.to_owned()), c),
            (None, Some(c)) => {
                tracing::debug!(
                    app_id,
                    service,
                    "the application has no credentials of its own for this service: using the service's"
                );
                ((None, service.to_owned()), c)
            }
            (None, None) => {
                return Err(CredentialsError::NoCredentials {
                    app_id: app_id.to_owned(),
                    service: service.to_owned(),
                });
            }
        };
        match svc.auth_scheme() {
            Auth::None => Ok(AuthHeaders::none()),
            Auth::ApiKey => {
                let (Some(header), Some(value)) = (&creds.header, &creds.value) else {
                    return Err(incomplete(svc));
                };
                let name = HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
                    CredentialsError::InvalidCredentials {
                        service: service.to_owned(),
                        message: format!("'{header}' is not a valid header name"),
                    }
                })?;
                Ok(AuthHeaders::one(
                    name,
                    header_value(service, value.expose_secret())?,
                ))
            }
            Auth::Bearer => {
                let Some(token) = &creds.token else {
                    return Err(incomplete(svc));
                };
                bearer(service, token.expose_secret())
            }
            Auth::Zgw {
                user_id,
                user_representation,
                jwt_validity,
            } => {
                let token = self.zgw_token(
                    key,
                    svc,
                    creds,
                    creds.user_id.as_deref().unwrap_or(user_id),
                    creds
                        .user_representation
                        .as_deref()
                        .unwrap_or(user_representation),
                    *jwt_validity,
                )?;
                bearer(service, token.expose_secret())
            }
            Auth::OAuth2 { token_url, scope } => {
                let scope = creds.scope.as_deref().or(scope.as_deref());
                let token = self.oauth2_token(key, svc, creds, token_url, scope).await?;
                bearer(service, token.expose_secret())
            }
        }
    }

    fn zgw_token(
        &self,
        key: CacheKey,
        svc: &Service,
        creds: &Credentials,
        user_id: &str,
        user_representation: &str,
        validity: Duration,
    ) -> Result<SecretString, CredentialsError> {
        let (Some(client_id), Some(secret)) = (&creds.client_id, &creds.secret) else {
            return Err(incomplete(svc));
        };
        if secret.expose_secret().is_empty() {
            // Validation refuses this; never sign with an empty secret, whatever the path.
            return Err(CredentialsError::InvalidCredentials {
                service: svc.name().to_owned(),
                message: "the ZGW secret is empty; a token signed with an empty secret is refused"
                    .to_owned(),
            });
        }
        let now = Instant::now();
        let mut cache = self
            .jwt_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(cached) = cache.get(&key)
            && cached.refresh_at > now
        {
            return Ok(cached.token.clone());
        }
        let iat = jiff::Timestamp::now().as_second();
        let claims = ZgwClaims {
            iss: client_id.clone(),
            iat,
            exp: iat.saturating_add(i64::try_from(validity.as_secs()).unwrap_or(i64::MAX)),
            client_id: client_id.clone(),
            user_id: user_id.to_owned(),
            user_representation: user_representation.to_owned(),
        };
        let token =
            crate::jwt::encode_hs256(&claims, secret.expose_secret().as_bytes()).map_err(|e| {
                CredentialsError::Jwt {
                    service: svc.name().to_owned(),
                    message: e.to_string(),
                }
            })?;
        let token = SecretString::from(token);
        tracing::debug!(service = svc.name(), client_id = %client_id, "minted a ZGW JWT");
        cache.insert(
            key,
            CachedToken {
                token: token.clone(),
                refresh_at: now + validity.saturating_sub(refresh_margin(validity)),
            },
        );
        Ok(token)
    }

    async fn oauth2_token(
        &self,
        key: CacheKey,
        svc: &Service,
        creds: &Credentials,
        token_url: &reqwest::Url,
        scope: Option<&str>,
    ) -> Result<SecretString, CredentialsError> {
        let (Some(client_id), Some(secret)) = (&creds.client_id, &creds.secret) else {
            return Err(incomplete(svc));
        };
        let http = self
            .http(svc.name())
            .ok_or_else(|| CredentialsError::UnknownService(svc.name().to_owned()))?;
        let slot = {
            let mut slots = self
                .oauth_cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Arc::clone(slots.entry(key).or_default())
        };
        let request = TokenRequest {
            owner: svc.name(),
            http,
            token_url,
            client_id,
            secret,
            scope,
            timeout: svc.request_timeout(),
        };
        slot.token(&request, None).await
    }
}

fn incomplete(svc: &Service) -> CredentialsError {
    CredentialsError::InvalidCredentials {
        service: svc.name().to_owned(),
        message: format!(
            "the credentials are incomplete for auth = \"{}\"",
            svc.auth_scheme().kind()
        ),
    }
}

fn header_value(service: &str, value: &str) -> Result<HeaderValue, CredentialsError> {
    HeaderValue::from_str(value).map_err(|_| CredentialsError::InvalidCredentials {
        service: service.to_owned(),
        message: "the credential is not a valid HTTP header value (use visible ASCII only)"
            .to_owned(),
    })
}

fn bearer(service: &str, token: &str) -> Result<AuthHeaders, CredentialsError> {
    Ok(AuthHeaders::one(
        AUTHORIZATION,
        header_value(service, &format!("Bearer {token}"))?,
    ))
}

/// Follow redirects only within one origin, so credentials never travel to another host.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= 10 {
            return attempt.error("too many redirects");
        }
        let same = attempt
            .previous()
            .last()
            .is_some_and(|prev| prev.origin() == attempt.url().origin());
        if same {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding() {
        // What reqwest's `form` sends, as the hand-written encoder it replaced did.
        let request = crate::tls::client_builder()
            .build()
            .expect("a client")
            .post("http://127.0.0.1/token")
            .form(&[("a b", "c&d=e/é"), ("x", "y")])
            .build()
            .expect("a request");
        assert_eq!(
            request.body().and_then(reqwest::Body::as_bytes),
            Some(&b"a+b=c%26d%3De%2F%C3%A9&x=y"[..])
        );
        assert_eq!(
            request.headers()[reqwest::header::CONTENT_TYPE],
            "application/x-www-form-urlencoded"
        );
        let secret: String = form_urlencoded::byte_serialize("c&d=e/é".as_bytes()).collect();
        assert_eq!(secret, "c%26d%3De%2F%C3%A9");
    }

    #[test]
    fn margins() {
        assert_eq!(
            refresh_margin(Duration::from_secs(3600)),
            Duration::from_secs(60)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(10)),
            Duration::from_secs(1)
        );
    }
}
