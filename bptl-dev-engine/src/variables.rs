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
pub(crate) struct StoredVariable {
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
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "type": self.type_name,
            "value": self.value,
            "valueInfo": Value::Object(self.value_info.clone()),
        })
    }

    /// The typed JSON form as Camunda answers it when asked for deserialised values
    /// (`deserializeValues=true`, the default of the variable and history queries):
    ///
    /// * an `Object` in `application/json` comes as the JSON itself; with
    ///   `generic_type_names` (runtime queries) its `objectTypeName` is the one Jackson
    ///   gives the deserialised value (`java.util.HashMap<java.lang.Object,java.lang.Object>`),
    ///   history keeps the stored name;
    /// * `Json` and `Xml` come as what Jackson makes of Spin's node objects: the node's bean
    ///   properties (`{"array": false, ..., "nodeType": "OBJECT", ...}`) and
    ///   `{"dataFormatName": "application/xml"}`, not the document. That is what Operaton 1.0
    ///   and Camunda 7.24 answer (see tests/fixtures/transcripts/*/variables.json); a client
    ///   that wants the document must ask with `deserializeValues=false`.
    pub(crate) fn to_json_deserialized(&self, generic_type_names: bool) -> Value {
        let text = self.value.as_str();
        let value = match (self.type_name, text) {
            ("Json", Some(text)) => match serde_json::from_str::<Value>(text) {
                Ok(node) => spin_json_bean(&node),
                Err(_) => return self.to_json(),
            },
            ("Xml", Some(_)) => json!({"dataFormatName": "application/xml"}),
            ("Object", Some(text))
                if self
                    .value_info
                    .get("serializationDataFormat")
                    .and_then(Value::as_str)
                    == Some("application/json") =>
            {
                let Ok(parsed) = serde_json::from_str::<Value>(text) else {
                    return self.to_json();
                };
                let mut info = self.value_info.clone();
                if generic_type_names
                    && let Some(name) = info.get("objectTypeName").and_then(Value::as_str)
                {
                    let generic = generic_type_name(name);
                    info.insert("objectTypeName".into(), Value::String(generic));
                }
                return json!({
                    "type": self.type_name,
                    "value": parsed,
                    "valueInfo": Value::Object(info),
                });
            }
            _ => return self.to_json(),
        };
        json!({
            "type": self.type_name,
            "value": value,
            "valueInfo": Value::Object(self.value_info.clone()),
        })
    }

    /// The typed JSON form of a historic variable: as [`Self::to_json`] or
    /// [`Self::to_json_deserialized`], except that `Bytes` have no value (Operaton 1.0 and
    /// Camunda 7.24 answer `null` for them in `GET /history/variable-instance`, deserialised
    /// or not).
    pub(crate) fn to_history_json(&self, deserialize: bool) -> Value {
        if self.type_name == "Bytes" {
            return json!({
                "type": self.type_name,
                "value": null,
                "valueInfo": Value::Object(self.value_info.clone()),
            });
        }
        if deserialize {
            self.to_json_deserialized(false)
        } else {
            self.to_json()
        }
    }

    /// Whether the stored value equals a plain JSON value (the `processVariables` filter).
    pub(crate) fn value_equals(&self, other: &Value) -> bool {
        match (&self.value, other) {
            (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
            (a, b) => a == b,
        }
    }
}

/// What Jackson serialises of a Spin JSON node: its bean properties.
fn spin_json_bean(node: &Value) -> Value {
    let node_type = match node {
        Value::Null => "NULL",
        Value::Bool(_) => "BOOLEAN",
        Value::Number(_) => "NUMBER",
        Value::String(_) => "STRING",
        Value::Array(_) => "ARRAY",
        Value::Object(_) => "OBJECT",
    };
    json!({
        "array": node.is_array(),
        "boolean": node.is_boolean(),
        "dataFormatName": "application/json",
        "nodeType": node_type,
        "null": node.is_null(),
        "number": node.is_number(),
        "object": node.is_object(),
        "string": node.is_string(),
        "value": !(node.is_array() || node.is_object()),
    })
}

/// The type name Jackson gives a deserialised raw collection (`java.util.HashMap` →
/// `java.util.HashMap<java.lang.Object,java.lang.Object>`); other names are kept.
fn generic_type_name(name: &str) -> String {
    const MAPS: &[&str] = &[
        "java.util.HashMap",
        "java.util.LinkedHashMap",
        "java.util.TreeMap",
        "java.util.Map",
    ];
    const LISTS: &[&str] = &[
        "java.util.ArrayList",
        "java.util.LinkedList",
        "java.util.List",
        "java.util.HashSet",
        "java.util.LinkedHashSet",
        "java.util.Set",
    ];
    if MAPS.contains(&name) {
        format!("{name}<java.lang.Object,java.lang.Object>")
    } else if LISTS.contains(&name) {
        format!("{name}<java.lang.Object>")
    } else {
        name.to_string()
    }
}

/// A set of variables by name, ordered by name.
pub(crate) type Variables = BTreeMap<String, StoredVariable>;

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

/// Parses a `Date` value the way Camunda's REST layer does: Java's lenient
/// `SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss.SSSZ")`. Returns milliseconds since the epoch.
///
/// Lenient means: numeric fields take any number of digits (`2015-1-6T1:2:3.4+0200`), values
/// out of range roll over (month 13 is January of the next year, February 30th is March 2nd,
/// hour 25 is 1 o'clock the next day), the zone is `+hhmm`/`-hhmm` or `GMT+hh:mm`, and text
/// after the zone is ignored. `+02:00`, `Z` and a missing `.SSS` are refused, as Camunda does.
pub(crate) fn parse_camunda_date(text: &str) -> Option<i64> {
    let mut rest = text;
    let mut fields = [0i64; 7];
    let separators = ['-', '-', 'T', ':', ':', '.'];
    for (i, field) in fields.iter_mut().enumerate() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        *field = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        if let Some(sep) = separators.get(i) {
            rest = rest.strip_prefix(*sep)?;
        }
    }
    let offset_minutes = parse_zone(rest)?;
    let [year, month, day, hour, minute, second, millis] = fields;
    // Lenient calendar arithmetic: start at January 1st of the year, add the fields.
    let year = i16::try_from(year).ok()?;
    let base = jiff::civil::Date::new(year, 1, 1).ok()?;
    let date = base
        .checked_add(jiff::Span::new().try_months(month - 1).ok()?)
        .ok()?
        .checked_add(jiff::Span::new().try_days(day - 1).ok()?)
        .ok()?;
    let midnight = jiff::tz::TimeZone::UTC
        .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .ok()?
        .as_millisecond();
    let time = ((hour * 60 + minute) * 60 + second) * 1000 + millis;
    Some(midnight + time - offset_minutes * 60_000)
}

/// The zone of a Camunda date (`+hhmm`, `-hhmm`, `GMT+hh:mm`, `GMT+h`); text after it is
/// ignored, as `SimpleDateFormat.parse` does. Returns the offset in minutes.
fn parse_zone(text: &str) -> Option<i64> {
    let (text, general) = match text.strip_prefix("GMT") {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let sign = match text.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ if general => return Some(0),
        _ => return None,
    };
    let text = &text[1..];
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (hours, minutes) = if general {
        let hours: i64 = text.get(..digits.min(2))?.parse().ok()?;
        let after = &text[digits.min(2)..];
        let minutes = match after.strip_prefix(':') {
            Some(m) => m.get(..2)?.parse().ok()?,
            None => 0,
        };
        (hours, minutes)
    } else {
        if digits < 4 {
            return None;
        }
        (text[..2].parse().ok()?, text[2..4].parse().ok()?)
    };
    Some(sign * (hours * 60 + minutes))
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
                Some(ms) => Value::String(super::state::format_date(ms)),
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

/// Renders a set of variables as a JSON map name → typed value.
pub(crate) fn variables_to_json(vars: &Variables, deserialize: bool) -> Value {
    let map = vars
        .iter()
        .map(|(name, var)| {
            let v = if deserialize {
                var.to_json_deserialized(true)
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
    fn dates_are_parsed_as_leniently_as_camunda_does() {
        let utc = |s: &str| {
            parse_camunda_date(s).map(|ms| {
                jiff::Timestamp::from_millisecond(ms)
                    .map(|t| t.to_string())
                    .unwrap_or_default()
            })
        };
        assert_eq!(
            utc("2015-10-06T16:34:42.000+0200").as_deref(),
            Some("2015-10-06T14:34:42Z")
        );
        // What Operaton 1.0 and Camunda 7.24 store (tests/fixtures/transcripts/*/errors.json).
        assert_eq!(
            utc("2015-13-06T16:34:42.000+0200").as_deref(),
            Some("2016-01-06T14:34:42Z")
        );
        assert_eq!(
            utc("2015-02-30T16:34:42.000+0200").as_deref(),
            Some("2015-03-02T14:34:42Z")
        );
        assert_eq!(
            utc("2015-10-06T25:00:00.000+0000").as_deref(),
            Some("2015-10-07T01:00:00Z")
        );
        assert_eq!(
            utc("2015-1-6T1:2:3.4+0200").as_deref(),
            Some("2015-01-05T23:02:03.004Z")
        );
        assert_eq!(
            utc("2015-10-06T16:34:42.000GMT+02:00").as_deref(),
            Some("2015-10-06T14:34:42Z")
        );
        assert_eq!(
            utc("2015-10-06T16:34:42.000+0200 and more").as_deref(),
            Some("2015-10-06T14:34:42Z")
        );
        for refused in [
            "2015-10-06T16:34:42+02:00",
            "2015-10-06T16:34:42+0200",
            "2015-10-06T16:34:42.000Z",
            "2015-10-06T16:34:42.000+02:00",
            "2015-10-06",
            "tomorrow",
        ] {
            assert_eq!(parse_camunda_date(refused), None, "{refused}");
        }
    }

    #[test]
    fn transient_variables_are_not_stored() {
        let v = parse(json!({"value": 1, "type": "Integer", "valueInfo": {"transient": true}}));
        assert!(matches!(v, Ok(None)));
    }
}
