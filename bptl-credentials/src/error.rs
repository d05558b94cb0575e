//! Errors of getting credentials, clients and making requests. No message contains a secret.

use bptl_core::UnitError;

/// Why credentials, a service or a request could not be had.
///
/// Converts into [`UnitError`] with `?` in units. Messages name the service, alias or app and
/// what to do, and never contain a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The task mapping has no service under this alias.
    #[error("No '{0}' service configured.")]
    NoServiceForAlias(String),
    /// The task mapping names a service under an alias, but no such service is configured.
    #[error(
        "The service '{service}' (alias '{alias}') is not configured: add [services.{service}] to the configuration or fix the task mapping."
    )]
    UnknownServiceForAlias {
        /// The alias.
        alias: String,
        /// The service name the mapping gives.
        service: String,
    },
    /// No service has this name.
    #[error("No service named '{0}' is configured: add [services.{0}] to the configuration.")]
    UnknownService(String),
    /// Neither the application nor the service has credentials.
    #[error(
        "The application '{app_id}' has no credentials for the service '{service}', and the service has none of its own: add [apps.\"{app_id}\".credentials.{service}] to the configuration."
    )]
    NoCredentials {
        /// The app id (`bptlAppId`).
        app_id: String,
        /// The service.
        service: String,
    },
    /// The credentials cannot be used (e.g. an empty ZGW secret, an invalid header value).
    #[error("The credentials for the service '{service}' cannot be used: {message}")]
    InvalidCredentials {
        /// The service.
        service: String,
        /// What is wrong.
        message: String,
    },
    /// The task carries no credential store.
    #[error(
        "No credential store is attached to this task: the runtime must attach an Arc<CredentialStore> to the task's extensions (TaskRun::extensions)."
    )]
    NoStore,
    /// The task runs without a task mapping, so it has no services.
    #[error(
        "This task runs without a task mapping, so it has no services: execute it through the runtime (bptl_core::execute)."
    )]
    NoMapping,
    /// A task variable is missing or invalid (e.g. `bptlAppId`).
    #[error(transparent)]
    Variable(UnitError),
    /// A ZGW JWT could not be signed.
    #[error("Could not sign a ZGW JWT for the service '{service}': {message}")]
    Jwt {
        /// The service.
        service: String,
        /// What went wrong.
        message: String,
    },
    /// The OAuth2 token endpoint could not be reached or refused.
    #[error(
        "The OAuth2 token request for the service '{service}' to {token_url} failed: {message}"
    )]
    TokenRequest {
        /// The service.
        service: String,
        /// The token endpoint.
        token_url: String,
        /// What went wrong.
        message: String,
    },
    /// A path or URL that cannot be used for the service.
    #[error("'{path}' cannot be requested from the service '{service}': {message}")]
    InvalidUrl {
        /// The service.
        service: String,
        /// The path or URL given.
        path: String,
        /// Why.
        message: String,
    },
    /// The request could not be made or its answer not read (connection, timeout, ...).
    #[error("{method} {url} failed: {message}")]
    Request {
        /// The HTTP method.
        method: String,
        /// The URL (query secrets redacted).
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The service answered with an error status.
    #[error("{method} {url} answered {status}: {body}")]
    Status {
        /// The HTTP method.
        method: String,
        /// The URL (query secrets redacted).
        url: String,
        /// The status code.
        status: u16,
        /// The start of the response body (secrets scrubbed).
        body: String,
    },
    /// The answer was not the JSON expected.
    #[error("The answer to {method} {url} is not the JSON expected: {message}")]
    InvalidJson {
        /// The HTTP method.
        method: String,
        /// The URL.
        url: String,
        /// The parse error.
        message: String,
    },
}

impl From<CredentialsError> for UnitError {
    fn from(error: CredentialsError) -> Self {
        match error {
            CredentialsError::Variable(inner) => inner,
            other => UnitError::other(other),
        }
    }
}
