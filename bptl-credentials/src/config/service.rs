//! A `[services.NAME]` section turned into a [`Service`]: the auth scheme and the keys that
//! belong to it, the credentials, the TLS files; a mail server is [`crate::smtp`]'s.

use crate::model::{Auth, Credentials, DEFAULT_JWT_VALIDITY, Service};
use crate::tls::{ClientTls, TlsFiles};

use super::{AuthKind, ConfigProblem, ServiceConfig, auth_kind_name, resolve_opt};

impl ServiceConfig {
    pub(super) fn to_service(
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
