//! Errors of the Camunda REST client, classified by what the caller should do next.

use std::error::Error as _;
use std::fmt;

use bptl_core::{EngineError, EngineErrorKind};

use crate::variables::VariableError;

/// The longest engine message or body kept in an error's Display text.
const MAX_MESSAGE: usize = 1000;

/// What went wrong on the network before a complete response arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetworkErrorKind {
    /// No connection could be made (refused, unreachable, DNS).
    Connect,
    /// The request (or the long poll) ran longer than its HTTP timeout.
    Timeout,
    /// The connection broke while sending the request or reading the response
    /// (reset, closed by the server).
    ConnectionLost,
}

impl fmt::Display for NetworkErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetworkErrorKind::Connect => "could not connect to the engine",
            NetworkErrorKind::Timeout => "the engine did not answer in time",
            NetworkErrorKind::ConnectionLost => {
                "the connection to the engine broke before the answer was complete"
            }
        })
    }
}

/// An error from a [`CamundaClient`](crate::CamundaClient) call.
///
/// Every variant that comes from a call names it (`POST /external-task/abc/complete`). Use the
/// predicates ([`is_not_found`](Self::is_not_found), [`is_transient`](Self::is_transient), ...)
/// to decide what to do next, or convert into the runtime's [`EngineError`].
///
/// Credentials never appear in these errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CamundaError {
    /// The engine answered with an error status.
    #[error("{call}: HTTP {status}{}: {}", type_and_code(.error_type.as_deref(), *.code), shorten(.message))]
    Http {
        /// What was called, e.g. `POST /external-task/abc/complete`.
        call: String,
        /// The HTTP status code.
        status: u16,
        /// Camunda's exception class (`type` in the error body), e.g. `RestException`.
        error_type: Option<String>,
        /// Camunda's `message`, or the body text when it is not Camunda's error JSON.
        message: String,
        /// Camunda's error `code` (since 7.18: 0 generic, 1 optimistic locking, ...).
        code: Option<i64>,
        /// The response body as received.
        body: String,
    },
    /// No complete response: connection refused or broken, or a timeout.
    #[error("{call}: {kind}: {detail}")]
    Network {
        /// What was called.
        call: String,
        /// The classification.
        kind: NetworkErrorKind,
        /// The underlying cause, as text.
        detail: String,
        /// The underlying HTTP client error.
        #[source]
        source: reqwest::Error,
    },
    /// The engine answered successfully, but with a body this client cannot read.
    #[error(
        "{call}: the engine's answer could not be read ({detail}); is the URL the engine-rest root?"
    )]
    Decode {
        /// What was called.
        call: String,
        /// What did not fit.
        detail: String,
        /// The body (shortened).
        body: String,
    },
    /// A variable could not be converted to or from Camunda's typed form.
    #[error(transparent)]
    Variable(#[from] VariableError),
    /// A process definition looked up by key and version does not exist.
    #[error(
        "GET /process-definition: no process definition with key '{key}' and version {version}"
    )]
    DefinitionNotFound {
        /// The key looked up.
        key: String,
        /// The version looked up.
        version: i32,
    },
    /// The engine's credentials could not be had (e.g. the OAuth2 token endpoint failed).
    #[error("{call}: no credentials for the engine: {message}")]
    Auth {
        /// What was to be called.
        call: String,
        /// Why (never a secret).
        message: String,
    },
    /// The client configuration is invalid (bad URL, TLS not compiled in, bad header).
    #[error("invalid Camunda client configuration: {0}")]
    Config(String),
}

fn type_and_code(error_type: Option<&str>, code: Option<i64>) -> String {
    match (error_type, code) {
        (Some(t), Some(c)) => format!(" ({t}, code {c})"),
        (Some(t), None) => format!(" ({t})"),
        (None, Some(c)) => format!(" (code {c})"),
        (None, None) => String::new(),
    }
}

pub(crate) fn shorten(text: &str) -> String {
    if text.len() <= MAX_MESSAGE {
        return text.to_owned();
    }
    let cut = (0..=MAX_MESSAGE)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}…", &text[..cut])
}

impl CamundaError {
    /// An error for an HTTP error status, reading Camunda's error body when there is one.
    pub(crate) fn from_status(call: String, status: u16, body: &[u8]) -> Self {
        let text = String::from_utf8_lossy(body).into_owned();
        let (error_type, message, code) =
            match serde_json::from_slice::<crate::wire::ErrorBody>(body) {
                Ok(parsed) => (
                    parsed.error_type,
                    parsed.message.unwrap_or_default(),
                    parsed.code,
                ),
                Err(_) => (None, text.trim().to_owned(), None),
            };
        let message = if message.is_empty() {
            http_reason(status).to_owned()
        } else {
            message
        };
        CamundaError::Http {
            call,
            status,
            error_type,
            message,
            code,
            body: text,
        }
    }

    /// An error for a failed HTTP exchange.
    pub(crate) fn from_reqwest(call: String, error: reqwest::Error) -> Self {
        if error.is_builder() {
            return CamundaError::Config(format!("{call}: {}", cause_text(&error)));
        }
        let kind = if error.is_timeout() {
            NetworkErrorKind::Timeout
        } else if error.is_connect() {
            NetworkErrorKind::Connect
        } else {
            NetworkErrorKind::ConnectionLost
        };
        let error = error.without_url();
        CamundaError::Network {
            call,
            kind,
            detail: cause_text(&error),
            source: error,
        }
    }

    /// The HTTP status, when the engine answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            CamundaError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Camunda's exception class from the error body (`RestException`, ...), if any.
    pub fn error_type(&self) -> Option<&str> {
        match self {
            CamundaError::Http { error_type, .. } => error_type.as_deref(),
            _ => None,
        }
    }

    /// Camunda's message from the error body, if the engine answered with an error.
    pub fn engine_message(&self) -> Option<&str> {
        match self {
            CamundaError::Http { message, .. } => Some(message),
            _ => None,
        }
    }

    /// Camunda's error code from the error body, if any.
    pub fn code(&self) -> Option<i64> {
        match self {
            CamundaError::Http { code, .. } => *code,
            _ => None,
        }
    }

    /// The raw response body of an HTTP error.
    pub fn body(&self) -> Option<&str> {
        match self {
            CamundaError::Http { body, .. } => Some(body),
            _ => None,
        }
    }

    /// What was called (`POST /external-task/abc/complete`), when the error came from a call.
    pub fn call(&self) -> Option<&str> {
        match self {
            CamundaError::Http { call, .. }
            | CamundaError::Network { call, .. }
            | CamundaError::Decode { call, .. } => Some(call),
            _ => None,
        }
    }

    /// The thing asked for does not exist (404): for a task operation, the task was cancelled
    /// with its process instance or completed elsewhere.
    pub fn is_not_found(&self) -> bool {
        matches!(self, CamundaError::DefinitionNotFound { .. }) || self.status() == Some(404)
    }

    /// A 400 because another worker holds the task's lock ("cannot be completed by worker ...
    /// It is locked by worker ...").
    pub fn is_locked_by_other_worker(&self) -> bool {
        let CamundaError::Http {
            status: 400,
            message,
            ..
        } = self
        else {
            return false;
        };
        let message = message.to_lowercase();
        // "... It is locked by worker 'null'.": nobody holds the task (it was unlocked, e.g. by
        // an operator); its lock is gone, not taken (a plain 400: the runtime locks it again).
        if message.contains("locked by worker 'null'") {
            return false;
        }
        message.contains("locked by worker")
            || message.contains("already locked")
            || (message.contains("cannot be") && message.contains("by worker"))
    }

    /// A 500 for an optimistic locking conflict (`code` 1 or `OptimisticLockingException`):
    /// Camunda advises to retry the call.
    pub fn is_optimistic_locking(&self) -> bool {
        matches!(self, CamundaError::Http { status: 500, .. })
            && (self.code() == Some(1)
                || self
                    .error_type()
                    .is_some_and(|t| t.ends_with("OptimisticLockingException")))
    }

    /// The engine is unreachable or overloaded: connection refused or broken, a timeout, or
    /// 502/503/504. Retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            // The token endpoint may be back later, as the engine may.
            CamundaError::Network { .. } | CamundaError::Auth { .. } => true,
            CamundaError::Http { status, .. } => matches!(status, 502..=504),
            _ => false,
        }
    }

    /// The engine refused the request as invalid (400).
    pub fn is_bad_request(&self) -> bool {
        self.status() == Some(400)
    }

    /// The classification the runtime uses.
    pub fn engine_error_kind(&self) -> EngineErrorKind {
        if self.is_not_found() {
            EngineErrorKind::NotFound
        } else if self.is_locked_by_other_worker() {
            EngineErrorKind::LockedByOther
        } else if self.is_optimistic_locking() {
            EngineErrorKind::Conflict
        } else if self.is_transient() {
            EngineErrorKind::Transient
        } else if self.is_bad_request() || matches!(self, CamundaError::Variable(_)) {
            EngineErrorKind::BadRequest
        } else {
            EngineErrorKind::Other
        }
    }
}

impl From<CamundaError> for EngineError {
    fn from(error: CamundaError) -> Self {
        EngineError {
            kind: error.engine_error_kind(),
            message: error.to_string(),
            status: error.status(),
            body: error.body().map(str::to_owned),
        }
    }
}

/// The innermost meaningful cause of an HTTP client error, e.g. "Connection refused (os error
/// 111)" or "connection closed before message completed".
pub(crate) fn cause_text(error: &reqwest::Error) -> String {
    let mut texts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !texts.contains(&text) {
            texts.push(text);
        }
        source = cause.source();
    }
    // The outermost text is reqwest's generic "error sending request"; show the causes.
    if texts.len() > 1 {
        texts.remove(0);
    }
    let mut text = texts.join(": ");
    if text.contains("invalid peer certificate") {
        text.push_str(
            " (the engine's certificate is not trusted: if a private CA signed it, set \
             [engine] ca_file to that CA's certificate, PEM)",
        );
    } else if text.contains("CertificateRequired") || text.contains("BadCertificate") {
        text.push_str(
            " (the engine refused the client certificate, or wants one: set [engine] \
             client_cert and client_key)",
        );
    }
    text
}

fn http_reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized: check the engine credentials",
        403 => "Forbidden: the engine user lacks an authorization",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, body: &str) -> CamundaError {
        CamundaError::from_status(
            "POST /external-task/t1/complete".into(),
            status,
            body.as_bytes(),
        )
    }

    #[test]
    fn display_names_call_status_type_and_message() {
        let err = http(
            404,
            r#"{"type":"RestException","message":"External task with id t1 does not exist"}"#,
        );
        assert_eq!(
            err.to_string(),
            "POST /external-task/t1/complete: HTTP 404 (RestException): External task with id t1 does not exist"
        );
        let err = http(
            500,
            r#"{"type":"OptimisticLockingException","message":"conflict","code":1}"#,
        );
        assert_eq!(
            err.to_string(),
            "POST /external-task/t1/complete: HTTP 500 (OptimisticLockingException, code 1): conflict"
        );
        let err = http(503, "");
        assert_eq!(
            err.to_string(),
            "POST /external-task/t1/complete: HTTP 503: Service Unavailable"
        );
    }

    #[test]
    fn predicates_and_kinds() {
        let cases = [
            (
                http(404, r#"{"type":"RestException","message":"gone"}"#),
                EngineErrorKind::NotFound,
            ),
            (
                http(
                    400,
                    r#"{"type":"BadUserRequestException","message":"External Task t1 cannot be completed by worker 'a'. It is locked by worker 'b'.","code":0}"#,
                ),
                EngineErrorKind::LockedByOther,
            ),
            (
                http(
                    500,
                    r#"{"type":"ProcessEngineException","message":"x","code":1}"#,
                ),
                EngineErrorKind::Conflict,
            ),
            (
                http(
                    500,
                    r#"{"type":"OptimisticLockingException","message":"x"}"#,
                ),
                EngineErrorKind::Conflict,
            ),
            (
                // As Camunda 7.24 and Operaton answer once the task was unlocked.
                http(
                    400,
                    r#"{"type":"RestException","message":"The lock of the External Task t1 cannot be extended by worker 'a''. It is locked by worker 'null'.","code":0}"#,
                ),
                EngineErrorKind::BadRequest,
            ),
            (
                http(
                    400,
                    r#"{"type":"RestException","message":"The lock of the External Task t1 cannot be extended by worker 'a''. It is locked by worker 'b'.","code":0}"#,
                ),
                EngineErrorKind::LockedByOther,
            ),
            (http(502, "bad gateway"), EngineErrorKind::Transient),
            (http(504, ""), EngineErrorKind::Transient),
            (
                http(400, r#"{"type":"InvalidRequestException","message":"bad"}"#),
                EngineErrorKind::BadRequest,
            ),
            (
                http(
                    500,
                    r#"{"type":"ProcessEngineException","message":"x","code":0}"#,
                ),
                EngineErrorKind::Other,
            ),
        ];
        for (err, kind) in cases {
            assert_eq!(err.engine_error_kind(), kind, "{err}");
            let engine = EngineError::from(err);
            assert_eq!(engine.kind, kind);
            assert!(engine.status.is_some());
            assert!(engine.body.is_some());
        }
    }
}
