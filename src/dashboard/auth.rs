//! Who may use the dashboard: nobody needs to sign in on loopback without configuration;
//! otherwise a bearer token, basic credentials, or a header set by a trusted reverse proxy.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
// `same`: constant-time comparison (for equal lengths; lengths are not secret enough to matter).
use bptl_credentials::{ExposeSecret, SecretString, secrets_equal as same};

use super::DashState;
use crate::config::DashboardConfig;

/// The configured ways of signing in.
pub(crate) struct Auth {
    token: Option<SecretString>,
    basic: Option<(String, SecretString)>,
    header: Option<(HeaderName, Vec<IpAddr>)>,
}

/// Who made a request (put into the request's extensions by [`require`]).
#[derive(Debug, Clone)]
pub(crate) struct User(pub(crate) String);

impl Auth {
    /// The ways `config` names, with the secrets read.
    pub(crate) fn from_config(config: &DashboardConfig) -> Result<Self, String> {
        let env = |name: &str| std::env::var(name).ok();
        let token = config
            .token
            .as_ref()
            .map(|t| t.resolve("dashboard.token", &env))
            .transpose()
            .map_err(|p| p.to_string())?;
        let basic = match (&config.username, &config.password) {
            (Some(user), Some(password)) => Some((
                user.clone(),
                password
                    .resolve("dashboard.password", &env)
                    .map_err(|p| p.to_string())?,
            )),
            (None, None) => None,
            _ => {
                return Err(
                    "dashboard.username, dashboard.password: basic credentials need both"
                        .to_owned(),
                );
            }
        };
        let header = match &config.trusted_user_header {
            Some(name) => {
                let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    format!("dashboard.trusted_user_header: '{name}' is not a header name")
                })?;
                if config.trusted_proxies.is_empty() {
                    return Err(
                        "dashboard.trusted_proxies: missing: the trusted header is accepted only from listed proxies"
                            .to_owned(),
                    );
                }
                Some((name, config.trusted_proxies.clone()))
            }
            None => None,
        };
        Ok(Self {
            token,
            basic,
            header,
        })
    }

    /// Whether any way of signing in is configured.
    pub(crate) fn is_configured(&self) -> bool {
        self.token.is_some() || self.basic.is_some() || self.header.is_some()
    }

    /// The ways, for `Debug` (no secret).
    pub(crate) fn describe(&self) -> Vec<&'static str> {
        let mut ways = Vec::new();
        if self.token.is_some() {
            ways.push("bearer");
        }
        if self.basic.is_some() {
            ways.push("basic");
        }
        if self.header.is_some() {
            ways.push("trusted header");
        }
        ways
    }

    /// Who `request` from `peer` is, or `None` when it is not signed in.
    fn user(&self, request: &Request, peer: Option<IpAddr>) -> Option<String> {
        if !self.is_configured() {
            return Some("local user".to_owned());
        }
        if let Some((name, proxies)) = &self.header
            && let Some(peer) = peer
            && proxies.contains(&peer)
            && let Some(value) = request.headers().get(name)
            && let Ok(user) = value.to_str()
            && !user.trim().is_empty()
        {
            return Some(user.trim().to_owned());
        }
        let authorization = request
            .headers()
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?;
        let (scheme, value) = authorization.split_once(' ')?;
        let value = value.trim();
        if scheme.eq_ignore_ascii_case("bearer")
            && let Some(token) = &self.token
            && same(value.as_bytes(), token.expose_secret().as_bytes())
        {
            return Some("bearer token".to_owned());
        }
        if scheme.eq_ignore_ascii_case("basic")
            && let Some((user, password)) = &self.basic
        {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(value)
                .ok()?;
            let decoded = String::from_utf8(decoded).ok()?;
            let (u, p) = decoded.split_once(':')?;
            // Both compared, whatever the first gives, so that timing says nothing.
            let user_ok = same(u.as_bytes(), user.as_bytes());
            let password_ok = same(p.as_bytes(), password.expose_secret().as_bytes());
            if user_ok && password_ok {
                return Some(user.clone());
            }
        }
        None
    }

    fn challenge(&self) -> &'static str {
        if self.basic.is_some() {
            "Basic realm=\"bptl dashboard\", charset=\"UTF-8\""
        } else {
            "Bearer realm=\"bptl dashboard\""
        }
    }
}

/// Whether a submitted form token is the dashboard's (constant time).
pub(crate) fn same_token(given: &str, expected: &str) -> bool {
    same(given.as_bytes(), expected.as_bytes())
}

/// The middleware: answers 401 unless the request is signed in; otherwise passes it on with
/// its [`User`].
pub(crate) async fn require(
    State(state): State<Arc<DashState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    match state.auth.user(&request, peer) {
        Some(user) => {
            request.extensions_mut().insert(User(user));
            next.run(request).await
        }
        None => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, state.auth.challenge())],
            "sign in to see the bptl dashboard: a bearer token, basic credentials, or through the single-sign-on proxy\n",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn comparison_is_exact() {
        assert!(same(b"secret", b"secret"));
        assert!(!same(b"secret", b"secreT"));
        assert!(!same(b"secret", b"secret2"));
        assert!(!same(b"", b"x"));
    }
}
