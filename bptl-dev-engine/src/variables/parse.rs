//! Validating request variables the way Camunda's REST layer does, and the errors it
//! answers for refused ones.

use base64::Engine as _;
use bptl_camunda::variables::canonical_type;
use serde_json::{Map, Value};

use super::{StoredVariable, parse_camunda_date};
use crate::error::RestError;

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn java_type(type_name: &str) -> &'static str {
    match type_name {
        "String" => "java.lang.String",
        "Boolean" => "java.lang.Boolean",
        "Short" => "java.lang.Short",
        "Integer" => "java.lang.Integer",
        "Long" => "java.lang.Long",
        "Double" => "java.lang.Double",
        "Date" => "java.util.Date",
        "Bytes" | "File" => "[B",
        _ => "java.lang.Object",
    }
}

/// Why a request variable was refused. Camunda answers differently depending on where the
/// variable was sent (see [`VariableError::into_rest`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VariableErrorKind {
    /// A value that does not convert to its type (400 `InvalidRequestException`).
    Convert,
    /// A type name Camunda does not know.
    UnsupportedType,
    /// A serialised `Object` without `objectTypeName`.
    MissingObjectTypeName,
    /// A `File` without `valueInfo` or `filename` (500 `IllegalArgumentException`).
    File,
    /// A variable or variable map that is not a JSON object (Camunda's JSON mapper refuses it).
    Shape,
}

/// A refused request variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VariableError {
    /// What is wrong.
    pub kind: VariableErrorKind,
    /// Camunda's message for it.
    pub message: String,
}

/// Where request variables were sent: Camunda words and classifies errors differently.
#[derive(Debug, Clone, Copy)]
pub(crate) enum VariableContext<'a> {
    /// Starting an instance of this process definition id.
    Start(&'a str),
    /// complete / failure / bpmnError of an external task.
    Task,
}

impl VariableError {
    fn new(kind: VariableErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// Camunda's answer to this error in `context`, as Operaton 1.0 and Camunda 7.24 give it:
    /// starting an instance prefixes the message with `Cannot instantiate process definition
    /// ID: `; task operations give the bare message.
    pub(crate) fn into_rest(self, context: VariableContext<'_>) -> RestError {
        use VariableErrorKind as K;
        let (status, kind, code, prefixed) = match (self.kind, context) {
            (K::Convert, VariableContext::Start(_)) => (400, "InvalidRequestException", None, true),
            (K::Convert | K::Shape, _) => (400, "InvalidRequestException", None, false),
            (K::UnsupportedType, VariableContext::Start(_)) => {
                (400, "InvalidRequestException", None, true)
            }
            (K::UnsupportedType, VariableContext::Task) => (400, "RestException", None, false),
            (K::MissingObjectTypeName, VariableContext::Start(_)) => {
                (500, "RestException", Some(0), true)
            }
            (K::MissingObjectTypeName, VariableContext::Task) => {
                (500, "ProcessEngineException", Some(0), false)
            }
            (K::File, _) => (500, "IllegalArgumentException", None, false),
        };
        let message = match context {
            VariableContext::Start(definition) if prefixed => {
                format!(
                    "Cannot instantiate process definition {definition}: {}",
                    self.message
                )
            }
            _ => self.message,
        };
        RestError {
            status,
            kind,
            message,
            code,
        }
    }
}

fn cannot_convert(value: &Value, type_name: &str) -> VariableError {
    VariableError::new(
        VariableErrorKind::Convert,
        format!(
            "Cannot convert value '{}' of type '{}' to java type {}",
            describe(value),
            type_name,
            java_type(type_name)
        ),
    )
}

fn integral(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}

/// Validates one typed variable from a request.
///
/// Returns `Ok(None)` for transient variables (`valueInfo.transient: true`), which are
/// never stored.
pub(crate) fn parse_variable(
    name: &str,
    raw: &Value,
) -> Result<Option<StoredVariable>, VariableError> {
    let Value::Object(obj) = raw else {
        // Camunda's Jackson mapping fails on a non-object variable.
        return Err(VariableError::new(
            VariableErrorKind::Shape,
            format!(
                "Cannot deserialize variable '{name}': expected an object with 'value' and 'type'"
            ),
        ));
    };
    let value = obj.get("value").cloned().unwrap_or(Value::Null);
    let mut value_info = match obj.get("valueInfo") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    if value_info.get("transient").and_then(Value::as_bool) == Some(true) {
        return Ok(None);
    }
    let type_name = match obj.get("type") {
        None | Some(Value::Null) => return Ok(Some(guess(value, value_info))),
        Some(Value::String(t)) => canonical_type(t).ok_or_else(|| {
            VariableError::new(
                VariableErrorKind::UnsupportedType,
                format!("Unsupported value type '{t}'"),
            )
        })?,
        Some(other) => {
            return Err(VariableError::new(
                VariableErrorKind::UnsupportedType,
                format!("Unsupported value type '{}'", describe(other)),
            ));
        }
    };
    let mut data = None;
    let stored_value = match type_name {
        "Null" => Value::Null,
        _ if value.is_null() && type_name != "File" => Value::Null,
        "String" => match &value {
            Value::String(_) => value.clone(),
            Value::Number(n) => Value::String(n.to_string()),
            Value::Bool(b) => Value::String(b.to_string()),
            _ => return Err(cannot_convert(&value, type_name)),
        },
        "Boolean" => match &value {
            Value::Bool(_) => value.clone(),
            Value::String(s) if s == "true" || s == "false" => Value::Bool(s == "true"),
            _ => return Err(cannot_convert(&value, type_name)),
        },
        "Short" | "Integer" | "Long" => {
            let n = integral(&value).ok_or_else(|| cannot_convert(&value, type_name))?;
            let fits = match type_name {
                "Short" => i16::try_from(n).is_ok(),
                "Integer" => i32::try_from(n).is_ok(),
                _ => true,
            };
            if !fits {
                return Err(cannot_convert(&value, type_name));
            }
            Value::from(n)
        }
        "Double" => {
            let f = match &value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
                _ => None,
            }
            .ok_or_else(|| cannot_convert(&value, type_name))?;
            serde_json::Number::from_f64(f)
                .map(Value::Number)
                .ok_or_else(|| cannot_convert(&value, type_name))?
        }
        // Stored as the instant and printed in the engine's time zone, as Camunda does.
        "Date" => match &value {
            Value::String(s) => match parse_camunda_date(s) {
                Some(ms) => Value::String(crate::state::format_date(ms)),
                None => return Err(cannot_convert(&value, type_name)),
            },
            _ => return Err(cannot_convert(&value, type_name)),
        },
        "Json" | "Xml" | "Object" => {
            let Value::String(_) = &value else {
                return Err(VariableError::new(
                    VariableErrorKind::Convert,
                    format!(
                        "Must provide 'null' or String value for value of SerializableValue type '{type_name}'."
                    ),
                ));
            };
            if type_name == "Object" {
                if !value_info.contains_key("objectTypeName") {
                    return Err(VariableError::new(
                        VariableErrorKind::MissingObjectTypeName,
                        format!(
                            "Cannot write serialized value for variable '{name}': no 'objectTypeName' provided for non-null value."
                        ),
                    ));
                }
                value_info
                    .entry("serializationDataFormat")
                    .or_insert_with(|| Value::from("application/x-java-serialized-object"));
            }
            value.clone()
        }
        "Bytes" => {
            let Value::String(s) = &value else {
                return Err(cannot_convert(&value, type_name));
            };
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|_| cannot_convert(&value, type_name))?;
            let normalised = base64::engine::general_purpose::STANDARD.encode(&bytes);
            data = Some(bytes);
            Value::String(normalised)
        }
        "File" => {
            if !matches!(obj.get("valueInfo"), Some(Value::Object(_))) {
                return Err(VariableError::new(
                    VariableErrorKind::File,
                    "Cannot create file without valueInfo.",
                ));
            }
            if !value_info.get("filename").is_some_and(Value::is_string) {
                return Err(VariableError::new(
                    VariableErrorKind::File,
                    "Cannot create file without filename! Please set a name into ValueInfo with key filename",
                ));
            }
            let bytes = match &value {
                Value::Null => Vec::new(),
                Value::String(s) => base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|_| cannot_convert(&value, type_name))?,
                _ => return Err(cannot_convert(&value, type_name)),
            };
            data = Some(bytes);
            Value::Null
        }
        _ => value.clone(),
    };
    Ok(Some(StoredVariable {
        type_name,
        value: stored_value,
        value_info,
        data,
    }))
}

/// Guesses the type of an untyped value.
fn guess(value: Value, value_info: Map<String, Value>) -> StoredVariable {
    let (type_name, value) = match value {
        Value::Null => ("Null", Value::Null),
        Value::Bool(b) => ("Boolean", Value::Bool(b)),
        Value::String(s) => ("String", Value::String(s)),
        Value::Number(n) => match n.as_i64() {
            Some(i) if i32::try_from(i).is_ok() => ("Integer", Value::from(i)),
            Some(i) => ("Long", Value::from(i)),
            None => ("Double", Value::Number(n)),
        },
        other @ (Value::Array(_) | Value::Object(_)) => ("Json", Value::String(other.to_string())),
    };
    StoredVariable {
        type_name,
        value,
        value_info,
        data: None,
    }
}

/// Validates a map of variables from a request (`null` or absent → empty).
pub(crate) fn parse_variables(
    raw: Option<&Value>,
) -> Result<Vec<(String, StoredVariable)>, VariableError> {
    let mut out = Vec::new();
    match raw {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, value) in map {
                if let Some(var) = parse_variable(name, value)? {
                    out.push((name.clone(), var));
                }
            }
        }
        Some(_) => {
            return Err(VariableError::new(
                VariableErrorKind::Shape,
                "Variables must be a JSON object of name to typed value",
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(raw: Value) -> Result<Option<StoredVariable>, VariableError> {
        parse_variable("x", &raw)
    }

    #[test]
    fn type_names_are_case_insensitive_in_the_first_letter_only() {
        let ok = parse(json!({"value": 1, "type": "integer"})).ok().flatten();
        assert_eq!(ok.map(|v| v.type_name), Some("Integer"));
        assert!(parse(json!({"value": 1, "type": "INTEGER"})).is_err());
    }

    #[test]
    fn integers_out_of_range_are_refused() {
        assert!(parse(json!({"value": 1_099_511_627_776_i64, "type": "Integer"})).is_err());
        assert!(parse(json!({"value": 1_099_511_627_776_i64, "type": "Long"})).is_ok());
        assert!(parse(json!({"value": "abc", "type": "Integer"})).is_err());
    }

    #[test]
    fn transient_variables_are_not_stored() {
        let v = parse(json!({"value": 1, "type": "Integer", "valueInfo": {"transient": true}}));
        assert!(matches!(v, Ok(None)));
    }
}
