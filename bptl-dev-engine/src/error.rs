//! Errors in Camunda's REST shape: `{"type", "message", "code"}` with Camunda's status codes.

use bptl_camunda::wire::ErrorBody;
use serde_json::Value;

/// An error answer of the dev engine, shaped like Camunda's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestError {
    /// The HTTP status code.
    pub status: u16,
    /// The exception class name Camunda reports (`RestException`, ...).
    pub kind: &'static str,
    /// The message.
    pub message: String,
    /// Camunda's error code (`0` generic, `null` for pure REST-layer errors).
    pub code: Option<i64>,
}

impl RestError {
    /// 404 `RestException`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: 404,
            kind: "RestException",
            message: message.into(),
            code: None,
        }
    }

    /// 404 for an unknown external task in a task operation (complete, lock, retries, ...):
    /// the engine's `NotFoundException`, so `code` 0.
    pub fn task_not_found(id: &str) -> Self {
        Self {
            code: Some(0),
            ..Self::not_found(format!("External task with id {id} does not exist"))
        }
    }

    /// 404 `InvalidRequestException`: what Camunda's REST layer answers for an unknown
    /// process instance, historic instance or variable.
    pub fn invalid_not_found(message: impl Into<String>) -> Self {
        Self {
            status: 404,
            ..Self::invalid_request(message)
        }
    }

    /// 400 `RestException` wrapping an engine `BadUserRequestException`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            kind: "RestException",
            message: message.into(),
            code: Some(0),
        }
    }

    /// 400 `BadUserRequestException`.
    pub fn bad_user_request(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            kind: "BadUserRequestException",
            message: message.into(),
            code: Some(0),
        }
    }

    /// 400 `InvalidRequestException` (malformed JSON, bad variables, bad parameters).
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            kind: "InvalidRequestException",
            message: message.into(),
            code: None,
        }
    }

    /// 400 `ParseException` (a BPMN file the engine cannot deploy).
    pub fn parse(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            kind: "ParseException",
            message: message.into(),
            code: Some(0),
        }
    }

    /// 500 `ProcessEngineException` (code 0).
    pub fn engine(message: impl Into<String>) -> Self {
        Self {
            status: 500,
            kind: "ProcessEngineException",
            message: message.into(),
            code: Some(0),
        }
    }

    /// 500 `NullValueException`, what Camunda raises for a missing required field.
    pub fn null_value(field: &str) -> Self {
        Self {
            status: 500,
            kind: "NullValueException",
            message: format!("{field} is null"),
            code: Some(0),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        serde_json::to_value(self.wire()).unwrap_or_default()
    }

    /// The body as the client's wire model has it.
    pub(crate) fn wire(&self) -> ErrorBody {
        ErrorBody {
            code: self.code,
            message: Some(self.message.clone()),
            error_type: Some(self.kind.to_string()),
        }
    }
}

impl std::fmt::Display for RestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.kind, self.message)
    }
}

impl std::error::Error for RestError {}
