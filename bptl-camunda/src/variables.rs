//! Camunda's typed variables: `{"value": ..., "type": "...", "valueInfo": {...}}` to and from
//! bptl's engine-independent [`Value`].
//!
//! Reading keeps the kind the engine reported (a `Long` stays a [`Value::Long`], a `Date` a
//! [`Value::Date`] with its offset), and writing picks the Camunda type from the kind, so a value
//! read from the engine goes back unchanged:
//!
//! ```
//! use bptl_camunda::variables::{from_typed, to_typed};
//! use bptl_core::Value;
//! use serde_json::json;
//!
//! let wire = json!({"type": "Date", "value": "2015-10-06T16:34:42.000+0200", "valueInfo": {}});
//! let value = from_typed("due", &wire).unwrap();
//! assert!(matches!(value, Value::Date(_)));
//! assert_eq!(
//!     to_typed("due", &value).unwrap(),
//!     json!({"type": "Date", "value": "2015-10-06T16:34:42.000+0200"})
//! );
//!
//! let err = from_typed("amount", &json!({"type": "Integer", "value": "abc"})).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "variable 'amount' has type Integer but its value is a string (\"abc\")"
//! );
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bptl_core::{DateValue, FileValue, ObjectData, ObjectValue, Value, Variables};
use serde_json::{Map, Value as Json};

use crate::wire::TypedValueBody;

/// The serialization format of JSON objects.
pub const JSON_FORMAT: &str = "application/json";

/// The Camunda value types this module knows, capitalised as Camunda answers them.
pub const TYPES: [&str; 13] = [
    "String", "Boolean", "Short", "Integer", "Long", "Double", "Date", "Json", "Xml", "Object",
    "Bytes", "File", "Null",
];

/// A variable that could not be converted to or from Camunda's typed form.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("variable '{name}' {problem}")]
pub struct VariableError {
    /// The variable's name.
    pub name: String,
    /// What is wrong, e.g. `has type Integer but its value is a string ("abc")`.
    pub problem: String,
}

impl VariableError {
    fn new(name: &str, problem: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            problem: problem.into(),
        }
    }

    fn mismatch(name: &str, type_name: &str, value: &Json) -> Self {
        Self::new(
            name,
            format!(
                "has type {type_name} but its value is {}",
                describe_json(value)
            ),
        )
    }
}

/// The Camunda type name for `name` as Camunda accepts it: the first letter is
/// case-insensitive (`integer` is `Integer`), the rest must match (`INTEGER` is unknown).
///
/// ```
/// use bptl_camunda::variables::canonical_type;
/// assert_eq!(canonical_type("integer"), Some("Integer"));
/// assert_eq!(canonical_type("INTEGER"), None);
/// ```
pub fn canonical_type(name: &str) -> Option<&'static str> {
    let mut chars = name.chars();
    let first = chars.next()?;
    let rest = chars.as_str();
    TYPES.iter().copied().find(|candidate| {
        let mut c = candidate.chars();
        c.next()
            .is_some_and(|cf| cf.eq_ignore_ascii_case(&first) && c.as_str() == rest)
    })
}

/// What a JSON value is, for error messages: `a string ("abc")`, `a number (1.5)`, `null`.
fn describe_json(value: &Json) -> String {
    let mut shown = value.to_string();
    if shown.chars().count() > 60 {
        shown = shown.chars().take(60).collect();
        shown.push('…');
    }
    match value {
        Json::Null => "null".to_owned(),
        Json::Bool(_) => format!("a boolean ({shown})"),
        Json::Number(_) => format!("a number ({shown})"),
        Json::String(_) => format!("a string ({shown})"),
        Json::Array(_) => format!("an array ({shown})"),
        Json::Object(_) => format!("an object ({shown})"),
    }
}

fn info_str<'a>(info: Option<&'a Map<String, Json>>, key: &str) -> Option<&'a str> {
    info.and_then(|i| i.get(key)).and_then(Json::as_str)
}

/// Read one typed variable `{"value", "type", "valueInfo"}` into a [`Value`].
///
/// A `null` value of any type is [`Value::Null`]. A value without a `type` (not something
/// Camunda sends) is read as plain JSON with [`Value::from`]. An unknown type, or a value that
/// does not fit its type, is an error naming the variable, the type and what the value is.
pub fn from_typed(name: &str, typed: &Json) -> Result<Value, VariableError> {
    let Json::Object(fields) = typed else {
        return Err(VariableError::new(
            name,
            format!(
                "is not a typed value {{\"value\", \"type\", \"valueInfo\"}} but {}",
                describe_json(typed)
            ),
        ));
    };
    let value = fields.get("value").unwrap_or(&Json::Null);
    let info = fields.get("valueInfo").and_then(Json::as_object);
    let type_name = match fields.get("type") {
        None | Some(Json::Null) => return Ok(Value::from(value.clone())),
        Some(Json::String(t)) => t.as_str(),
        Some(other) => {
            return Err(VariableError::new(
                name,
                format!("has a type that is not a string: {}", describe_json(other)),
            ));
        }
    };
    let Some(type_name) = canonical_type(type_name) else {
        return Err(VariableError::new(
            name,
            format!(
                "has unknown type '{type_name}' (known types: {})",
                TYPES.join(", ")
            ),
        ));
    };
    if value.is_null() && type_name != "File" {
        return Ok(Value::Null);
    }
    let mismatch = || VariableError::mismatch(name, type_name, value);
    let out_of_range = || {
        VariableError::new(
            name,
            format!("has type {type_name} but its value {value} is out of range"),
        )
    };
    Ok(match type_name {
        "String" => Value::String(value.as_str().ok_or_else(mismatch)?.to_owned()),
        "Boolean" => Value::Boolean(value.as_bool().ok_or_else(mismatch)?),
        "Short" => {
            let n = integer(value).ok_or_else(mismatch)?;
            Value::Short(i16::try_from(n).map_err(|_| out_of_range())?)
        }
        "Integer" => {
            let n = integer(value).ok_or_else(mismatch)?;
            Value::Integer(i32::try_from(n).map_err(|_| out_of_range())?)
        }
        "Long" => Value::Long(integer(value).ok_or_else(mismatch)?),
        "Double" => Value::Double(value.as_f64().ok_or_else(mismatch)?),
        "Date" => {
            let text = value.as_str().ok_or_else(mismatch)?;
            Value::Date(DateValue::parse(text).map_err(|e| {
                VariableError::new(
                    name,
                    format!("has type Date but its value is not a date: {e}"),
                )
            })?)
        }
        "Json" => match value {
            Json::String(text) => Value::Json(serde_json::from_str(text).map_err(|e| {
                VariableError::new(
                    name,
                    format!(
                        "has type Json but its value is not a JSON document ({e}): {}",
                        describe_json(value)
                    ),
                )
            })?),
            structure => Value::Json(structure.clone()),
        },
        "Xml" => Value::Xml(value.as_str().ok_or_else(mismatch)?.to_owned()),
        "Bytes" => Value::Bytes(decode_base64(name, type_name, value)?),
        "Object" => {
            let format = info_str(info, "serializationDataFormat").map(str::to_owned);
            let object_type_name = info_str(info, "objectTypeName").map(str::to_owned);
            let data = match (value, format.as_deref()) {
                (Json::String(text), Some(JSON_FORMAT)) => {
                    ObjectData::Json(serde_json::from_str(text).map_err(|e| {
                        VariableError::new(
                            name,
                            format!(
                                "has type Object ({JSON_FORMAT}) but its value is not JSON ({e})"
                            ),
                        )
                    })?)
                }
                (Json::String(text), _) => ObjectData::Serialized(text.clone()),
                // A deserialized value (`deserializeValues=true`) is already a structure.
                (structure, _) => ObjectData::Json(structure.clone()),
            };
            Value::Object(ObjectValue {
                object_type_name,
                serialization_data_format: format,
                data,
            })
        }
        "File" => {
            let content = match value {
                Json::Null => None,
                other => Some(decode_base64(name, type_name, other)?),
            };
            Value::File(FileValue {
                filename: info_str(info, "filename").unwrap_or(name).to_owned(),
                mime_type: info_str(info, "mimeType").map(str::to_owned),
                encoding: info_str(info, "encoding").map(str::to_owned),
                content,
            })
        }
        // "Null"
        _ => Value::Null,
    })
}

fn integer(value: &Json) -> Option<i64> {
    match value {
        Json::Number(n) => n.as_i64().or_else(|| {
            // Integral floats such as `5.0` (some serializers write them) are integers.
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        _ => None,
    }
}

fn decode_base64(name: &str, type_name: &str, value: &Json) -> Result<Vec<u8>, VariableError> {
    let text = value
        .as_str()
        .ok_or_else(|| VariableError::mismatch(name, type_name, value))?;
    BASE64.decode(text).map_err(|e| {
        VariableError::new(
            name,
            format!("has type {type_name} but its value is not base64 ({e})"),
        )
    })
}

/// Write a [`Value`] in Camunda's typed form, choosing the type from the value's kind.
///
/// `Null` is `{"value": null, "type": "Null"}`; dates use Camunda's exact format; `Json` and
/// `Object` carry their document as a string; `Bytes` and `File` content are base64. A `File`
/// without content cannot be sent (error). A `Double` that is not finite cannot travel in JSON
/// (error).
pub fn to_typed(name: &str, value: &Value) -> Result<Json, VariableError> {
    let typed = |type_name: &str, value: Json| TypedValueBody::new(type_name, value);
    Ok(match value {
        Value::Null => typed("Null", Json::Null),
        Value::Boolean(b) => typed("Boolean", Json::from(*b)),
        Value::Short(n) => typed("Short", Json::from(*n)),
        Value::Integer(n) => typed("Integer", Json::from(*n)),
        Value::Long(n) => typed("Long", Json::from(*n)),
        Value::Double(f) => {
            let number = serde_json::Number::from_f64(*f).ok_or_else(|| {
                VariableError::new(
                    name,
                    format!("is a Double ({f}) that JSON cannot carry; send a finite number"),
                )
            })?;
            typed("Double", Json::Number(number))
        }
        Value::String(s) => typed("String", Json::from(s.as_str())),
        Value::Date(d) => typed("Date", Json::from(d.to_camunda_string())),
        Value::Json(j) => typed("Json", Json::from(j.to_string())),
        Value::Xml(x) => typed("Xml", Json::from(x.as_str())),
        Value::Bytes(b) => typed("Bytes", Json::from(BASE64.encode(b))),
        Value::Object(o) => {
            let (text, default_format) = match &o.data {
                ObjectData::Json(j) => (j.to_string(), Some(JSON_FORMAT)),
                ObjectData::Serialized(s) => (s.clone(), None),
            };
            let mut info = Map::new();
            if let Some(type_name) = &o.object_type_name {
                info.insert("objectTypeName".into(), Json::from(type_name.as_str()));
            }
            // JSON data is always announced as JSON, whatever the value said.
            let format = default_format.or(o.serialization_data_format.as_deref());
            if let Some(format) = format {
                info.insert("serializationDataFormat".into(), Json::from(format));
            }
            typed("Object", Json::from(text)).with_info(info)
        }
        Value::File(f) => {
            let content = f.content.as_ref().ok_or_else(|| {
                VariableError::new(
                    name,
                    format!(
                        "is a File ({}) without content; download it first or set its content",
                        f.filename
                    ),
                )
            })?;
            let mut info = Map::new();
            info.insert("filename".into(), Json::from(f.filename.as_str()));
            if let Some(mime) = &f.mime_type {
                info.insert("mimeType".into(), Json::from(mime.as_str()));
            }
            if let Some(encoding) = &f.encoding {
                info.insert("encoding".into(), Json::from(encoding.as_str()));
            }
            typed("File", Json::from(BASE64.encode(content))).with_info(info)
        }
        other => {
            return Err(VariableError::new(
                name,
                format!(
                    "has kind {} that this client cannot send to Camunda",
                    other.type_name()
                ),
            ));
        }
    }
    .into_json())
}

/// Read a map of typed variables (`{"name": {"value", "type", "valueInfo"}, ...}`), as
/// fetchAndLock and `GET /process-instance/{id}/variables` answer.
///
/// `null` reads as no variables. The first variable that cannot be read is the error.
pub fn variables_from_typed(typed: &Json) -> Result<Variables, VariableError> {
    match typed {
        Json::Null => Ok(Variables::new()),
        Json::Object(map) => variables_from_typed_map(map),
        other => Err(VariableError::new(
            "(all)",
            format!(
                "must be a map of typed variables, not {}",
                describe_json(other)
            ),
        )),
    }
}

/// Read a map of typed variables (what [`variables_from_typed`] reads inside a JSON object).
pub fn variables_from_typed_map(map: &Map<String, Json>) -> Result<Variables, VariableError> {
    map.iter()
        .map(|(name, v)| from_typed(name, v).map(|value| (name.clone(), value)))
        .collect()
}

/// Write variables as a map of typed values, for complete, failure, bpmnError and start calls.
pub fn variables_to_typed(variables: &Variables) -> Result<Map<String, Json>, VariableError> {
    variables
        .iter()
        .map(|(name, value)| to_typed(name, value).map(|t| (name.clone(), t)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn type_names_are_case_insensitive_in_their_first_letter_only() {
        assert_eq!(canonical_type("String"), Some("String"));
        assert_eq!(canonical_type("string"), Some("String"));
        assert_eq!(canonical_type("json"), Some("Json"));
        assert_eq!(canonical_type("STRING"), None);
        assert_eq!(canonical_type("Strings"), None);
        assert_eq!(canonical_type(""), None);
        let err =
            from_typed("n", &json!({"type": "INTEGER", "value": 1})).expect_err("unknown type");
        assert!(
            err.to_string()
                .starts_with("variable 'n' has unknown type 'INTEGER'")
        );
    }

    #[test]
    fn ranges_are_checked() {
        let err =
            from_typed("s", &json!({"type": "Short", "value": 40000})).expect_err("out of range");
        assert_eq!(
            err.to_string(),
            "variable 's' has type Short but its value 40000 is out of range"
        );
        assert_eq!(
            from_typed("i", &json!({"type": "Integer", "value": 5.0})),
            Ok(Value::Integer(5))
        );
        assert!(from_typed("i", &json!({"type": "Integer", "value": 5.5})).is_err());
    }
}
