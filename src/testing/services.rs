//! Services and application credentials for tests, written with the keys of the worker's
//! configuration and checked by the same code.

use std::collections::BTreeMap;

use bptl_credentials::{
    AppConfig, CredentialStore, CredentialsConfig, ServiceConfig, ServicesConfig,
};
use serde_json::{Map, Value};

use super::TestKitError;

/// A service for a test: the keys of a `[services.NAME]` section, starting from its API root.
///
/// A plain URL (`&str` or `String`) converts into a service without authentication. The
/// `api_type` defaults to the type the unit declares for the alias (`#[require_service]`), or
/// to the alias when the unit accepts any type. Any other key of the configuration (see the
/// README, *Services*) is set with [`key`](ServiceSpec::key); the kit checks them exactly as
/// the worker checks its configuration file.
///
/// ```
/// use bptl::testing::ServiceSpec;
/// let zaken = ServiceSpec::new("http://127.0.0.1:9/api/v1/")
///     .zgw("bptl", "a-long-shared-secret")
///     .key("user_id", "tester")
///     .key("jwt_validity", "1h");
/// let weather = ServiceSpec::new("http://127.0.0.1:9/").api_key("X-Api-Key", "k").api_type("weather");
/// # let _ = (zaken, weather);
/// ```
#[derive(Clone)]
pub struct ServiceSpec {
    name: Option<String>,
    keys: Map<String, Value>,
}

impl std::fmt::Debug for ServiceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets are given here as literals: show the keys, not the values.
        f.debug_struct("ServiceSpec")
            .field("name", &self.name)
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ServiceSpec {
    /// A service with this `api_root` and no authentication.
    pub fn new(api_root: impl Into<String>) -> Self {
        let mut keys = Map::new();
        keys.insert("api_root".into(), Value::String(api_root.into()));
        Self { name: None, keys }
    }

    /// A mail server (`api_type = "smtp"`): the keys of its `[services.NAME.smtp]` table,
    /// e.g. `json!({"host": "127.0.0.1", "port": 2525, "security": "none", "from": "a@b.example"})`.
    pub fn smtp(server: Value) -> Self {
        let mut keys = Map::new();
        keys.insert("api_type".into(), Value::String("smtp".into()));
        keys.insert("smtp".into(), server);
        Self { name: None, keys }
    }

    /// Set any key of a `[services.NAME]` section (`label`, `timeout = "10s"`, `user_id`,
    /// `scope`, ...). Secrets are given as literals (`{"env": "NAME"}` works too).
    pub fn key(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.keys.insert(key.to_owned(), value.into());
        self
    }

    /// The `api_type` (default: the type the unit requires for the alias).
    pub fn api_type(self, api_type: &str) -> Self {
        self.key("api_type", api_type)
    }

    /// The service's name in the configuration (default: the alias).
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// `auth = "api_key"` with the service's own `header: value`.
    pub fn api_key(self, header: &str, value: &str) -> Self {
        self.key("auth", "api_key")
            .key("header", header)
            .key("value", value)
    }

    /// `auth = "zgw"` with the service's own client id and secret (JWTs signed with HS256).
    pub fn zgw(self, client_id: &str, secret: &str) -> Self {
        self.key("auth", "zgw")
            .key("client_id", client_id)
            .key("secret", secret)
    }

    /// `auth = "oauth2"` (client credentials) with the token endpoint and the service's own
    /// client id and secret.
    pub fn oauth2(self, token_url: &str, client_id: &str, secret: &str) -> Self {
        self.key("auth", "oauth2")
            .key("token_url", token_url)
            .key("client_id", client_id)
            .key("secret", secret)
    }

    /// `auth = "bearer"` with the service's own static token.
    pub fn bearer(self, token: &str) -> Self {
        self.key("auth", "bearer").key("token", token)
    }

    /// The configured name, if set.
    pub(crate) fn configured_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub(crate) fn has_api_type(&self) -> bool {
        self.keys.contains_key("api_type")
    }
}

impl From<&str> for ServiceSpec {
    fn from(api_root: &str) -> Self {
        ServiceSpec::new(api_root)
    }
}

impl From<String> for ServiceSpec {
    fn from(api_root: String) -> Self {
        ServiceSpec::new(api_root)
    }
}

impl From<&String> for ServiceSpec {
    fn from(api_root: &String) -> Self {
        ServiceSpec::new(api_root.as_str())
    }
}

/// An application's credentials for one service: the keys of an
/// `[apps."APP_ID".credentials.SERVICE]` section.
///
/// ```
/// use bptl::testing::AppCredentials;
/// let zgw = AppCredentials::zgw("zac", "its-own-secret").key("user_id", "zac-user");
/// let key = AppCredentials::api_key("X-Api-Key", "app-key");
/// # let _ = (zgw, key);
/// ```
#[derive(Clone, Default)]
pub struct AppCredentials {
    keys: Map<String, Value>,
}

impl std::fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredentials")
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl AppCredentials {
    /// An API key, sent as `header: value`.
    pub fn api_key(header: &str, value: &str) -> Self {
        Self::default().key("header", header).key("value", value)
    }

    /// A ZGW client id and secret.
    pub fn zgw(client_id: &str, secret: &str) -> Self {
        Self::default()
            .key("client_id", client_id)
            .key("secret", secret)
    }

    /// An OAuth2 client id and secret.
    pub fn oauth2(client_id: &str, secret: &str) -> Self {
        Self::zgw(client_id, secret)
    }

    /// A static bearer token.
    pub fn bearer(token: &str) -> Self {
        Self::default().key("token", token)
    }

    /// Set any key of the section (`user_id`, `user_representation`, `scope`, ...).
    pub fn key(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.keys.insert(key.to_owned(), value.into());
        self
    }
}

/// Services (by name) and applications, turned into the worker's [`CredentialStore`].
#[derive(Debug, Clone, Default)]
pub(crate) struct ServiceSet {
    /// Service name → its keys (with `api_type` filled in).
    pub(crate) services: BTreeMap<String, ServiceSpec>,
    /// App id → service name → credentials.
    pub(crate) apps: BTreeMap<String, BTreeMap<String, AppCredentials>>,
}

impl ServiceSet {
    /// The configuration these services and apps would have in a worker's TOML file.
    pub(crate) fn config(&self) -> Result<ServicesConfig, TestKitError> {
        let mut problems = Vec::new();
        let mut config = ServicesConfig::default();
        for (name, spec) in &self.services {
            match serde_json::from_value::<ServiceConfig>(Value::Object(spec.keys.clone())) {
                Ok(service) => {
                    config.services.insert(name.clone(), service);
                }
                Err(e) => problems.push(format!("services.{name}: {e}")),
            }
        }
        for (app_id, services) in &self.apps {
            let mut app = AppConfig::default();
            for (service, creds) in services {
                match serde_json::from_value::<CredentialsConfig>(Value::Object(creds.keys.clone()))
                {
                    Ok(c) => {
                        app.credentials.insert(service.clone(), c);
                    }
                    Err(e) => problems.push(format!("apps.{app_id:?}.credentials.{service}: {e}")),
                }
            }
            config.apps.insert(app_id.clone(), app);
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(TestKitError::Services(problems))
        }
    }

    /// The credential store a worker would build from [`ServiceSet::config`].
    pub(crate) fn store(&self) -> Result<(ServicesConfig, CredentialStore), TestKitError> {
        let config = self.config()?;
        let store = CredentialStore::from_config(config.clone()).map_err(|problems| {
            TestKitError::Services(problems.iter().map(ToString::to_string).collect())
        })?;
        Ok((config, store))
    }
}
