//! Services, applications, credentials and authenticated HTTP clients for **bptl** work units.
//!
//! Units act on behalf of the application that started the process (the process variable
//! `bptlAppId`) against external REST services. Each service is configured once
//! (`[services.NAME]`), each task mapping names the services its unit uses under aliases
//! (`services = { zrc = "zaken" }`), and each application may have its own credentials per
//! service (`[apps."APP_ID".credentials.NAME]`), which take precedence over the service's own.
//!
//! - [`ServicesConfig`] is the TOML schema, [`CredentialStore::from_config`] validates it
//!   (every problem at once) and resolves secrets (`"literal"`, `{ env = "NAME" }`,
//!   `{ file = "PATH" }`).
//! - [`CredentialStore::get_credentials`] returns the auth headers per service: API key, ZGW
//!   JWT (HS256, cached), OAuth2 client credentials (fetched once, cached, refreshed) or a
//!   static bearer token.
//! - [`TaskServices`] gives units `task.service(alias)`, `task.credentials(alias)` and
//!   `task.client(alias)`, a [`ServiceClient`] that logs every request on the task's timeline
//!   with secrets redacted.
//! - [`validate_mapping`] / [`validate_all`] check task mappings against the units'
//!   `#[require_service]` declarations with BPTL's messages.
//!
//! Secrets are `secrecy` types and never appear in `Debug`/`Display` output, errors, logs or
//! timelines.
//!
//! ```
//! use std::sync::Arc;
//! use bptl_core::{Extensions, RequiredService, TaskMapping};
//! use bptl_credentials::{CredentialStore, ServicesConfig, validate_mapping};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let config: ServicesConfig = toml::from_str(r#"
//!     [services.zaken]
//!     api_root = "https://zaken.example/api/v1"
//!     api_type = "zrc"
//!     auth = "zgw"
//!     client_id = "bptl"
//!     secret = "a-long-shared-secret"
//!
//!     [apps."https://app.example".credentials.zaken]
//!     client_id = "case-app"
//!     secret = "its-own-secret"
//! "#).unwrap();
//! let store = Arc::new(CredentialStore::from_config(config).unwrap());
//!
//! // Auth headers for an application: its own credentials first.
//! let headers = store.credentials_for("https://app.example", "zaken").await.unwrap();
//! assert!(headers.get("authorization").unwrap().to_str().unwrap().starts_with("Bearer "));
//!
//! // Task mappings are checked against what their units require.
//! static REQUIRED: [RequiredService; 1] = [RequiredService {
//!     service_type: "zrc", description: "The Zaken API", alias: Some("zrc"),
//! }];
//! # fn run(_: bptl_core::TaskRef) -> bptl_core::UnitFuture { Box::pin(async { Ok(Default::default()) }) }
//! let unit = bptl_core::UnitEntry { path: "doc::unit", name: "unit", doc: "", required_services: &REQUIRED,
//!     kind: bptl_core::UnitKind::AsyncFn, run, file: file!(), line: line!() };
//! let mapping = TaskMapping::new("create-zaak", "doc::unit").service("zrc", "zaken");
//! assert!(validate_mapping(&mapping, &unit, &store).is_empty());
//!
//! // The runtime hands the store to units through the task's extensions.
//! let mut extensions = Extensions::default();
//! extensions.insert(Arc::clone(&store));
//! # }
//! ```

mod client;
mod config;
mod error;
pub mod jwt;
mod model;
mod oauth2;
mod secret;
mod smtp;
mod store;
mod task;
mod tls;
mod trace;
mod validate;

pub use client::{
    MAX_RECORDED_BODY, REDACTED, ServiceClient, ServiceRequest, ServiceResponse, is_secret_name,
    redact_headers, redact_url,
};
pub use config::{
    AppConfig, AuthKind, ConfigProblem, CredentialsConfig, ServiceConfig, ServicesConfig,
};
pub use error::CredentialsError;
pub use model::{
    ApiType, Application, Auth, Credentials, DEFAULT_JWT_VALIDITY, DEFAULT_TIMEOUT, LogBodies,
    Service,
};
pub use oauth2::{DEFAULT_OAUTH2_LIFETIME, OAuth2Client};
pub use secret::{SecretConfig, secrets_equal};
pub use smtp::{SMTP_TYPE, SmtpConfig, SmtpSecurity, SmtpServer};
pub use store::{AuthHeaders, CredentialStore, ZgwClaims};
pub use task::{APP_ID_VARIABLE, TaskServices};
pub use tls::{ClientTls, TlsFiles, client_builder, install_crypto_provider};
pub use validate::{
    ANY_SERVICE_TYPE, MappingProblem, Problem, ServiceCatalog, validate_all, validate_mapping,
};

/// Re-exported so units need not depend on these crates for the types this crate uses.
pub use reqwest::{self, Method, StatusCode, Url};
pub use secrecy::{self, ExposeSecret, SecretString};
