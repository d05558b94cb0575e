//! `[engine.auth] type = "oauth2"`: the engine's OAuth2 client-credentials token (cached and
//! renewed by bptl-credentials' token cache, as the services' are) as the Camunda client's
//! [`AuthProvider`]: `Authorization: Bearer <token>`, fetched again once after a 401.

use std::sync::Arc;

use bptl_camunda::{AuthProvider, EngineAuth};
use bptl_credentials::reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use bptl_credentials::{ClientTls, ExposeSecret, OAuth2Client, SecretConfig, SecretString};

use super::ConfigError;

/// The provider for `[engine.auth]`'s client credentials; the token endpoint is reached with
/// the engine's TLS settings.
pub(super) fn oauth2(
    token_url: &str,
    client_id: &str,
    secret: &SecretConfig,
    scope: Option<String>,
    tls: &ClientTls,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<EngineAuth, ConfigError> {
    let secret = secret
        .resolve("engine.auth.secret", env)
        .map_err(|p| ConfigError::new(p.key, p.message))?;
    let client = OAuth2Client::new("engine", token_url, client_id, secret, scope, tls)
        .map_err(|p| ConfigError::new(format!("engine.auth.{}", p.key), p.message))?;
    Ok(EngineAuth::Provider(Arc::new(OAuth2Engine(client))))
}

#[derive(Debug)]
struct OAuth2Engine(OAuth2Client);

fn bearer(token: &SecretString) -> Result<HeaderMap, String> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
        .map_err(|_| "the token endpoint's access_token is not a valid HTTP header value")?;
    value.set_sensitive(true);
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, value);
    Ok(headers)
}

#[async_trait::async_trait]
impl AuthProvider for OAuth2Engine {
    async fn headers(&self) -> Result<HeaderMap, String> {
        bearer(&self.0.token().await.map_err(|e| e.to_string())?)
    }

    async fn renew(&self, refused: &HeaderMap) -> Result<HeaderMap, String> {
        let refused = refused
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let refused = SecretString::from(refused.to_owned());
        bearer(&self.0.renew(&refused).await.map_err(|e| e.to_string())?)
    }
}
