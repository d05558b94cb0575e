//! Mail servers: services of `api_type = "smtp"`, configured in `[services.NAME.smtp]` instead
//! of an `api_root` (units such as `bptl_units::send_email` send through them).

use std::fmt;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

use crate::config::{ConfigProblem, ServiceConfig};
use crate::model::Service;
use crate::secret::SecretConfig;

/// The `api_type` of a mail server.
pub const SMTP_TYPE: &str = "smtp";

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// `"starttls"` (the default): plain connection upgraded with STARTTLS, which the server
    /// must offer; port 587 by default.
    #[default]
    Starttls,
    /// `"tls"`: TLS from the first byte (SMTPS); port 465 by default.
    Tls,
    /// `"none"`: no encryption (a relay on the same host or network); port 25 by default.
    None,
}

impl SmtpSecurity {
    /// The usual port for this security.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        }
    }
}

/// One `[services.NAME.smtp]` section.
///
/// ```
/// use bptl_credentials::{CredentialStore, ServicesConfig, SmtpSecurity};
/// let config: ServicesConfig = toml::from_str(r#"
///     [services.mail]
///     api_type = "smtp"
///     [services.mail.smtp]
///     host = "smtp.example"
///     username = "bptl"
///     password = { env = "SMTP_PASSWORD" }
///     from = "BPTL <bptl@example.org>"
/// "#).unwrap();
/// let env = |name: &str| (name == "SMTP_PASSWORD").then(|| "p4ss".to_owned());
/// let store = CredentialStore::from_config_with_env(config, &env).unwrap();
/// let server = store.service("mail").unwrap().smtp_server().cloned().unwrap();
/// assert_eq!((server.host(), server.port()), ("smtp.example", 587));
/// assert_eq!(server.security(), SmtpSecurity::Starttls);
/// assert!(!format!("{server:?}").contains("p4ss"));
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The server's host name (or IP address).
    pub host: String,
    /// The port (default: 587 with `starttls`, 465 with `tls`, 25 with `none`).
    pub port: Option<u16>,
    /// `"starttls"` (default), `"tls"` or `"none"`.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// The user name to log in with (a secret; none: no login).
    pub username: Option<SecretConfig>,
    /// The password (a secret; required with a user name).
    pub password: Option<SecretConfig>,
    /// The sender, `From`: `"bptl@example.org"` or `"BPTL <bptl@example.org>"`.
    pub from: String,
    /// A PEM file of CA certificates that the server's certificate may chain to, besides the
    /// system's (a private or test CA).
    pub ca_file: Option<PathBuf>,
}

/// A mail server, resolved from [`SmtpConfig`]: the user name and password are secrets and
/// never shown by `Debug`.
#[derive(Clone)]
pub struct SmtpServer {
    host: String,
    port: u16,
    security: SmtpSecurity,
    login: Option<(SecretString, SecretString)>,
    from: String,
    ca_file: Option<(PathBuf, Vec<u8>)>,
}

impl fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpServer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("login", &self.login.as_ref().map(|_| "[REDACTED]"))
            .field("from", &self.from)
            .field("ca_file", &self.ca_file.as_ref().map(|(p, _)| p))
            .finish()
    }
}

impl SmtpServer {
    /// The host name.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How the connection is protected.
    pub fn security(&self) -> SmtpSecurity {
        self.security
    }

    /// The user name and password, when the server wants a login.
    pub fn login(&self) -> Option<(&SecretString, &SecretString)> {
        self.login.as_ref().map(|(u, p)| (u, p))
    }

    /// The sender address (`From`).
    pub fn from(&self) -> &str {
        &self.from
    }

    /// The `ca_file` and its PEM content (read when the configuration is loaded).
    pub fn ca_file(&self) -> Option<(&std::path::Path, &[u8])> {
        self.ca_file
            .as_ref()
            .map(|(p, pem)| (p.as_path(), pem.as_slice()))
    }
}

/// The service `name` for a section with `api_type = "smtp"` or an `smtp` table.
pub(crate) fn to_service(
    name: &str,
    config: &ServiceConfig,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<ConfigProblem>,
) -> Option<Service> {
    let key = format!("services.{name}");
    let before = problems.len();
    let Some(smtp) = &config.smtp else {
        problems.push(ConfigProblem::new(
            format!("{key}.smtp"),
            format!(
                "the service '{name}' has api_type = \"smtp\" and needs its server: add \
                 [services.{name}.smtp] with host and from"
            ),
        ));
        return None;
    };
    if config.api_type != SMTP_TYPE {
        problems.push(ConfigProblem::new(
            format!("{key}.api_type"),
            format!(
                "the service '{name}' has an smtp table, so its api_type must be \"smtp\", not \
                 {:?}",
                config.api_type
            ),
        ));
    }
    let http_keys = [
        ("api_root", config.api_root.is_some()),
        ("log_bodies", config.log_bodies.is_some()),
        ("header", config.header.is_some()),
        ("value", config.value.is_some()),
        ("client_id", config.client_id.is_some()),
        ("secret", config.secret.is_some()),
        ("token", config.token.is_some()),
        ("token_url", config.token_url.is_some()),
        ("auth", config.auth != crate::config::AuthKind::None),
        ("ca_file", config.ca_file.is_some()),
        ("client_cert", config.client_cert.is_some()),
        ("client_key", config.client_key.is_some()),
    ];
    for (field, _) in http_keys.iter().filter(|(_, set)| *set) {
        problems.push(ConfigProblem::new(
            format!("{key}.{field}"),
            format!(
                "'{field}' does not apply to the mail server '{name}': remove it (the server is \
                 [services.{name}.smtp]: host, port, security, username, password, from, ca_file)"
            ),
        ));
    }
    let skey = format!("{key}.smtp");
    if smtp.host.trim().is_empty() || smtp.host.contains(['/', ' ', '@']) {
        problems.push(ConfigProblem::new(
            format!("{skey}.host"),
            format!(
                "{:?} is not a host name: write e.g. \"smtp.example.org\"",
                smtp.host
            ),
        ));
    }
    if !smtp.from.contains('@') || smtp.from.contains(['\r', '\n']) {
        problems.push(ConfigProblem::new(
            format!("{skey}.from"),
            format!(
                "{:?} is not a mail address: write e.g. \"bptl@example.org\" or \"BPTL \
                 <bptl@example.org>\"",
                smtp.from
            ),
        ));
    }
    let login = match (&smtp.username, &smtp.password) {
        (None, None) => None,
        (Some(user), Some(password)) => {
            let user = user.resolve(&format!("{skey}.username"), env);
            let password = password.resolve(&format!("{skey}.password"), env);
            match (user, password) {
                (Ok(user), Ok(password)) => Some((user, password)),
                (user, password) => {
                    problems.extend(user.err());
                    problems.extend(password.err());
                    None
                }
            }
        }
        (Some(_), None) | (None, Some(_)) => {
            problems.push(ConfigProblem::new(
                skey.clone(),
                "username and password go together: set both, or neither for a server \
                 without login",
            ));
            None
        }
    };
    let ca_file = match &smtp.ca_file {
        None => None,
        Some(path) => match std::fs::read(path) {
            Ok(pem) if String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") => {
                Some((path.clone(), pem))
            }
            Ok(_) => {
                problems.push(ConfigProblem::new(
                    format!("{skey}.ca_file"),
                    format!(
                        "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                        path.display()
                    ),
                ));
                None
            }
            Err(e) => {
                problems.push(ConfigProblem::new(
                    format!("{skey}.ca_file"),
                    format!("cannot read {}: {e}", path.display()),
                ));
                None
            }
        },
    };
    let timeout = match &config.timeout {
        None => None,
        Some(t) => match bptl_core::duration::parse_duration(t) {
            Ok(d) => Some(d),
            Err(e) => {
                problems.push(ConfigProblem::new(format!("{key}.timeout"), e.to_string()));
                None
            }
        },
    };
    if problems.len() > before {
        return None;
    }
    let server = SmtpServer {
        host: smtp.host.trim().to_owned(),
        port: smtp.port.unwrap_or(smtp.security.default_port()),
        security: smtp.security,
        login,
        from: smtp.from.trim().to_owned(),
        ca_file,
    };
    let mut service = match Service::smtp(name, server) {
        Ok(service) => service,
        Err(problem) => {
            problems.push(problem);
            return None;
        }
    };
    if let Some(label) = &config.label {
        service = service.label(label.clone());
    }
    if let Some(timeout) = timeout {
        service = service.timeout(timeout);
    }
    Some(service)
}
