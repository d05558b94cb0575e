//! Camunda's typed variables as the dev engine stores them.
//!
//! Every value travels as `{"value": ..., "type": "...", "valueInfo": {...}}`. The engine
//! validates a value against its type the way Camunda's REST layer does, stores it
//! normalised, and answers with the same type it was given.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::error::RestError;

/// A variable as stored by the dev engine.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVariable {
    /// The capitalised type name (`String`, `Integer`, ...).
    pub type_name: &'static str,
    /// The value as it appears in responses (`null` for `File`).
    pub value: Value,
    /// The `valueInfo` object.
    pub value_info: Map<String, Value>,
    /// Raw content of `File` (and `Bytes`) variables.
    pub data: Option<Vec<u8>>,
}

impl StoredVariable {
    /// The typed JSON form `{"type", "value", "valueInfo"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "type": self.type_name,
            "value": self.value,
            "valueInfo": Value::Object(self.value_info.clone()),
        })
    }

    /// The typed JSON form, with `Object` values in `application/json` deserialised into
    /// JSON (what Camunda answers when asked for deserialised values).
    pub fn to_json_deserialized(&self) -> Value {
        if self.type_name == "Object"
            && self
                .value_info
                .get("serializationDataFormat")
                .and_then(Value::as_str)
                == Some("application/json")
            && let Some(text) = self.value.as_str()
            && let Ok(parsed) = serde_json::from_str::<Value>(text)
        {
            return json!({
                "type": self.type_name,
                "value": parsed,
                "valueInfo": Value::Object(self.value_info.clone()),
            });
        }
        self.to_json()
    }

    /// Whether the stored value equals a plain JSON value (the `processVariables` filter).
    pub fn value_equals(&self, other: &Value) -> bool {
        match (&self.value, other) {
            (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
            (a, b) => a == b,
        }
    }
}

/// A set of variables by name, ordered by name.
pub type Variables = BTreeMap<String, StoredVariable>;

const TYPES: &[&str] = &[
    "String", "Boolean", "Short", "Integer", "Long", "Double", "Date", "Json", "Xml", "Object",
    "Bytes", "File", "Null",
];

/// Normalises a type name: the first letter is case-insensitive, the rest must match.
fn canonical_type(name: &str) -> Option<&'static str> {
    let mut chars = name.chars();
    let first = chars.next()?;
    let rest = chars.as_str();
    TYPES.iter().copied().find(|candidate| {
        let mut c = candidate.chars();
        c.next().is_some_and(|f| f.eq_ignore_ascii_case(&first)) && c.as_str() == rest
    })
}

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

fn cannot_convert(value: &Value, type_name: &str) -> RestError {
    RestError::invalid_request(format!(
        "Cannot convert value '{}' of type '{}' to java type {}",
        describe(value),
        type_name,
        java_type(type_name)
    ))
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

/// Whether `text` is a Camunda date: `yyyy-MM-dd'T'HH:mm:ss.SSS+hhmm`.
pub fn is_camunda_date(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() != 28 {
        return false;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<i32> {
        let part = text.get(range)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let separators = b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && (b[23] == b'+' || b[23] == b'-');
    if !separators {
        return false;
    }
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        digits(0..4),
        digits(5..7),
        digits(8..10),
        digits(11..13),
        digits(14..16),
        digits(17..19),
    ) else {
        return false;
    };
    let (Some(_millis), Some(off_h), Some(off_m)) =
        (digits(20..23), digits(24..26), digits(26..28))
    else {
        return false;
    };
    let (Ok(year), Ok(month), Ok(day)) =
        (i16::try_from(year), i8::try_from(month), i8::try_from(day))
    else {
        return false;
    };
    jiff::civil::Date::new(year, month, day).is_ok()
        && hour < 24
        && minute < 60
        && second < 60
        && off_h < 24
        && off_m < 60
}

/// Validates one typed variable from a request.
///
/// Returns `Ok(None)` for transient variables (`valueInfo.transient: true`), which are
/// never stored.
pub fn parse_variable(name: &str, raw: &Value) -> Result<Option<StoredVariable>, RestError> {
    let Value::Object(obj) = raw else {
        // Camunda's Jackson mapping fails on a non-object variable.
        return Err(RestError::invalid_request(format!(
            "Cannot deserialize variable '{name}': expected an object with 'value' and 'type'"
        )));
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
        Some(Value::String(t)) => canonical_type(t)
            .ok_or_else(|| RestError::invalid_request(format!("Unsupported value type '{t}'")))?,
        Some(other) => {
            return Err(RestError::invalid_request(format!(
                "Unsupported value type '{}'",
                describe(other)
            )));
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
        "Date" => match &value {
            Value::String(s) if is_camunda_date(s) => value.clone(),
            _ => return Err(cannot_convert(&value, type_name)),
        },
        "Json" | "Xml" | "Object" => {
            let Value::String(_) = &value else {
                return Err(RestError::invalid_request(format!(
                    "Must provide 'null' or String value for value of SerializableValue type '{type_name}'."
                )));
            };
            if type_name == "Object" {
                if !value_info.contains_key("objectTypeName") {
                    return Err(RestError::invalid_request(format!(
                        "Cannot write serialized value for variable '{name}': no 'objectTypeName' provided for non-null value."
                    )));
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
            if !value_info.get("filename").is_some_and(Value::is_string) {
                return Err(RestError::invalid_request(
                    "Cannot create file without filename! Please set a name into ValueInfo with key filename"
                        .to_string(),
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
pub fn parse_variables(raw: Option<&Value>) -> Result<Vec<(String, StoredVariable)>, RestError> {
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
            return Err(RestError::invalid_request(
                "Variables must be a JSON object of name to typed value".to_string(),
            ));
        }
    }
    Ok(out)
}

/// Renders a set of variables as a JSON map name → typed value.
pub fn variables_to_json(vars: &Variables, deserialize: bool) -> Value {
    let map = vars
        .iter()
        .map(|(name, var)| {
            let v = if deserialize {
                var.to_json_deserialized()
            } else {
                var.to_json()
            };
            (name.clone(), v)
        })
        .collect::<Map<String, Value>>();
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: Value) -> Result<Option<StoredVariable>, RestError> {
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
    fn dates_follow_the_camunda_pattern() {
        assert!(is_camunda_date("2015-10-06T16:34:42.000+0200"));
        assert!(!is_camunda_date("2015-10-06T16:34:42+02:00"));
        assert!(!is_camunda_date("2015-13-06T16:34:42.000+0200"));
        assert!(!is_camunda_date("2015-02-30T16:34:42.000+0200"));
    }

    #[test]
    fn transient_variables_are_not_stored() {
        let v = parse(json!({"value": 1, "type": "Integer", "valueInfo": {"transient": true}}));
        assert!(matches!(v, Ok(None)));
    }
}
