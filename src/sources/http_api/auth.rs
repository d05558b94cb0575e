//! Who calls: the applications' bearer tokens (`[apps."APP_ID"] api_token`), compared in
//! constant time.

use axum::http::{HeaderMap, header};
use bptl_credentials::{ExposeSecret, SecretString, ServicesConfig, secrets_equal};

/// The applications that may call the HTTP API, each with its bearer token.
///
/// ```
/// use bptl::sources::http_api::ApiTokens;
/// let tokens = ApiTokens::new([("https://app.example", "t0ken")]);
/// assert_eq!(tokens.app_ids().collect::<Vec<_>>(), ["https://app.example"]);
/// assert_eq!(format!("{tokens:?}"), r#"ApiTokens(["https://app.example"])"#);
/// ```
#[derive(Clone, Default)]
pub struct ApiTokens {
    apps: Vec<(String, SecretString)>,
}

impl std::fmt::Debug for ApiTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ApiTokens")
            .field(&self.app_ids().collect::<Vec<_>>())
            .finish()
    }
}

impl ApiTokens {
    /// Tokens by app id.
    pub fn new<A: Into<String>, T: Into<String>>(apps: impl IntoIterator<Item = (A, T)>) -> Self {
        Self {
            apps: apps
                .into_iter()
                .map(|(id, token)| (id.into(), SecretString::from(token.into())))
                .collect(),
        }
    }

    /// The `api_token` of every `[apps."APP_ID"]` that has one, the secrets read with `env`.
    /// Problems name their key: a secret that cannot be read, an empty token, two applications
    /// with the same token.
    pub fn from_config(
        config: &ServicesConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let mut apps: Vec<(String, SecretString)> = Vec::new();
        for (app_id, app) in &config.apps {
            let Some(secret) = &app.api_token else {
                continue;
            };
            let key = format!("apps.{app_id:?}.api_token");
            match secret.resolve(&key, env) {
                Ok(token) if token.expose_secret().trim().is_empty() => {
                    problems.push(format!("{key}: must not be empty"));
                }
                Ok(token) => {
                    if let Some((other, _)) = apps
                        .iter()
                        .find(|(_, t)| t.expose_secret() == token.expose_secret())
                    {
                        problems.push(format!(
                            "{key}: the same token as apps.{other:?}.api_token: give each application its own (the token says who calls)"
                        ));
                    }
                    apps.push((app_id.clone(), token));
                }
                Err(p) => problems.push(p.to_string()),
            }
        }
        if problems.is_empty() {
            Ok(Self { apps })
        } else {
            Err(problems)
        }
    }

    /// The app ids, in order.
    pub fn app_ids(&self) -> impl Iterator<Item = &str> {
        self.apps.iter().map(|(id, _)| id.as_str())
    }

    /// Whether no application has a token (nobody could call).
    pub fn is_empty(&self) -> bool {
        self.apps.is_empty()
    }

    /// The app id whose token the `Authorization: Bearer TOKEN` header carries. Every token is
    /// compared, in constant time, whichever matches.
    pub(super) fn authenticate(&self, headers: &HeaderMap) -> Option<&str> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let token = token.as_bytes();
        let mut found = None;
        for (app_id, expected) in &self.apps {
            if secrets_equal(token, expected.expose_secret().as_bytes()) && found.is_none() {
                found = Some(app_id.as_str());
            }
        }
        found
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn the_token_names_the_app() {
        let tokens = ApiTokens::new([("a", "token-a"), ("b", "token-b")]);
        assert_eq!(tokens.authenticate(&headers("Bearer token-b")), Some("b"));
        assert_eq!(tokens.authenticate(&headers("bearer token-a")), Some("a"));
        assert_eq!(tokens.authenticate(&headers("Bearer token-c")), None);
        assert_eq!(tokens.authenticate(&headers("Basic token-a")), None);
        assert_eq!(tokens.authenticate(&HeaderMap::new()), None);
    }

    #[test]
    fn config_problems_name_the_key() {
        let config: ServicesConfig = toml::from_str(
            r#"
            [apps.a]
            api_token = "same"
            [apps.b]
            api_token = "same"
            [apps.c]
            api_token = { env = "NOT_SET_ANYWHERE" }
            [apps.d]
            label = "no token"
            "#,
        )
        .unwrap();
        let problems = ApiTokens::from_config(&config, &|_| None).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with(r#"apps."b".api_token: the same token as apps."a""#));
        assert!(problems[1].starts_with(
            r#"apps."c".api_token: the environment variable NOT_SET_ANYWHERE is not set"#
        ));
        assert!(
            !problems.iter().any(|p| p.contains("same\"")),
            "no secret in messages"
        );
    }
}
