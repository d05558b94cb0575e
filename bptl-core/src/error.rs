//! What a work unit tells the engine when it does not succeed.

use std::fmt;
use std::time::Duration;

use crate::value::Variables;

/// The error a work unit returns: each variant says what the engine should hear.
///
/// Most errors convert with `?` (I/O, JSON, parse errors, strings, boxed errors) and become an
/// [`UnitError::Other`], reported to the engine as a failure with the mapping's retry policy.
///
/// ```
/// use bptl_core::{UnitError, Failure};
/// use std::time::Duration;
///
/// let retry_later = UnitError::from(
///     Failure::new("the Zaken API is down").retries(5).retry_timeout(Duration::from_secs(60)),
/// );
/// assert_eq!(retry_later.to_string(), "the Zaken API is down");
/// let business = UnitError::bpmn("NO_ZAAK", "no zaak with this identification");
/// assert!(matches!(business, UnitError::BpmnError(_)));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnitError {
    /// A technical failure: the engine hears `failure` (retries, then an incident).
    #[error("{}", .0.message)]
    Failure(Failure),
    /// A business error: the engine hears `bpmnError` and takes the boundary path.
    #[error("BPMN error {}: {}", .0.code, .0.message)]
    BpmnError(BpmnError),
    /// A required variable is absent or empty.
    #[error("The variable {name} is missing or empty.")]
    MissingVariable {
        /// The variable's name.
        name: String,
    },
    /// A variable has a value of the wrong kind.
    #[error("The variable {name} must be {expected}, but it is {found}.")]
    InvalidVariable {
        /// The variable's name.
        name: String,
        /// What was expected, e.g. `a number (f64)`.
        expected: String,
        /// What was found, e.g. `a String ("abc")`.
        found: String,
    },
    /// The unit panicked; the message is the panic's.
    #[error("the work unit panicked: {0}")]
    Panic(String),
    /// The unit ran longer than its mapping allows.
    #[error("timed out after {}", crate::duration::format_duration(*.0))]
    Timeout(Duration),
    /// Any other error: reported as a failure.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl UnitError {
    /// A failure with a message (see [`Failure`] for retries and details).
    pub fn failure(message: impl Into<String>) -> Self {
        UnitError::Failure(Failure::new(message))
    }

    /// A BPMN error with a code and message.
    pub fn bpmn(code: impl Into<String>, message: impl Into<String>) -> Self {
        UnitError::BpmnError(BpmnError::new(code, message))
    }

    /// Wrap any error.
    pub fn other(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        UnitError::Other(Box::new(error))
    }

    /// A missing-variable error for `name`.
    pub fn missing_variable(name: impl Into<String>) -> Self {
        UnitError::MissingVariable { name: name.into() }
    }

    /// The error and its sources, one per line: the details to send to the engine.
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut source = std::error::Error::source(self);
        // `Other` is transparent: its own Display is the first line already.
        if matches!(self, UnitError::Other(_)) {
            source = source.and_then(std::error::Error::source);
        }
        while let Some(err) = source {
            out.push_str("\ncaused by: ");
            out.push_str(&err.to_string());
            source = err.source();
        }
        out
    }
}

/// A technical failure reported to the engine.
#[derive(Debug, Clone, Default)]
pub struct Failure {
    /// The error message (Camunda: `errorMessage`, shown in the incident).
    pub message: String,
    /// Longer details (Camunda: `errorDetails`), e.g. a stack of causes.
    pub details: Option<String>,
    /// Retries left after this failure; overrides the mapping's retry policy.
    pub retries: Option<i32>,
    /// How long until the task may be fetched again; overrides the retry policy.
    pub retry_timeout: Option<Duration>,
}

impl Failure {
    /// A failure with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            ..Self::default()
        }
    }

    /// Set the details.
    pub fn details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    /// Set the number of retries left.
    pub fn retries(mut self, retries: i32) -> Self {
        self.retries = Some(retries);
        self
    }

    /// Set the retry timeout.
    pub fn retry_timeout(mut self, timeout: Duration) -> Self {
        self.retry_timeout = Some(timeout);
        self
    }
}

impl From<Failure> for UnitError {
    fn from(f: Failure) -> Self {
        UnitError::Failure(f)
    }
}

/// A business (BPMN) error, caught by an error boundary event with the same code.
#[derive(Debug, Clone, Default)]
pub struct BpmnError {
    /// The error code the boundary event matches.
    pub code: String,
    /// A message.
    pub message: String,
    /// Variables to set on the process instance.
    pub variables: Variables,
}

impl BpmnError {
    /// A BPMN error with a code and a message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            variables: Variables::new(),
        }
    }

    /// Attach variables.
    pub fn with_variables(mut self, variables: Variables) -> Self {
        self.variables = variables;
        self
    }
}

impl From<BpmnError> for UnitError {
    fn from(e: BpmnError) -> Self {
        UnitError::BpmnError(e)
    }
}

/// A plain message used as an error.
#[derive(Debug, Clone)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

impl From<String> for UnitError {
    fn from(s: String) -> Self {
        UnitError::Other(Box::new(Message(s)))
    }
}

impl From<&str> for UnitError {
    fn from(s: &str) -> Self {
        UnitError::from(s.to_owned())
    }
}

impl From<Box<dyn std::error::Error + Send + Sync + 'static>> for UnitError {
    fn from(e: Box<dyn std::error::Error + Send + Sync + 'static>) -> Self {
        UnitError::Other(e)
    }
}

macro_rules! other_from {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for UnitError {
            fn from(e: $t) -> Self {
                UnitError::Other(Box::new(e))
            }
        }
    )*};
}
other_from!(
    std::io::Error,
    serde_json::Error,
    std::num::ParseIntError,
    std::num::ParseFloatError,
    std::fmt::Error,
    std::str::Utf8Error,
    std::string::FromUtf8Error,
    jiff::Error,
    tokio::task::JoinError,
    crate::value::DateParseError,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        assert_eq!(
            UnitError::missing_variable("amount").to_string(),
            "The variable amount is missing or empty."
        );
        assert_eq!(
            UnitError::Timeout(Duration::from_millis(1500)).to_string(),
            "timed out after 1.5s"
        );
        let io = UnitError::from(std::io::Error::other("disk full"));
        assert_eq!(io.to_string(), "disk full");
        assert_eq!(io.chain(), "disk full");
    }
}
