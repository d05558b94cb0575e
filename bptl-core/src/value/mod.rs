//! Engine-independent process variables.
//!
//! A [`Value`] keeps the *kind* it had in the engine: a `Long` read from Camunda and returned
//! by a unit goes back as a `Long`, a `Date` as a `Date`, a JSON structure as `Json`. Values a
//! unit creates itself get their kind from the Rust type (see the `From` implementations):
//! integers become `Integer`, or `Long` when they do not fit in 32 bits.

mod date;
mod variables;

pub use date::{DateParseError, DateValue};
pub use variables::Variables;

use std::fmt;

use jiff::Timestamp;

/// An engine "object" value: a serialized object with its type name and format.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectValue {
    /// The engine's type name of the object, e.g. `java.util.HashMap`.
    pub object_type_name: Option<String>,
    /// The serialization format, e.g. `application/json`.
    pub serialization_data_format: Option<String>,
    /// The content: parsed when the format is JSON, the serialized string otherwise.
    pub data: ObjectData,
}

/// The content of an [`ObjectValue`].
#[derive(Debug, Clone, PartialEq)]
pub enum ObjectData {
    /// An `application/json` object, parsed.
    Json(serde_json::Value),
    /// Any other format, kept as the serialized string.
    Serialized(String),
}

/// File metadata. The content is downloaded separately through the engine integration
/// (e.g. `bptl_camunda::ExternalTask::download_file`); it is present only on values a unit
/// creates to send.
#[derive(Clone, PartialEq, Eq)]
pub struct FileValue {
    /// The file name (required by engines).
    pub filename: String,
    /// The MIME type, if known.
    pub mime_type: Option<String>,
    /// The text encoding, if any.
    pub encoding: Option<String>,
    /// The content, when known locally.
    pub content: Option<Vec<u8>>,
}

impl fmt::Debug for FileValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileValue")
            .field("filename", &self.filename)
            .field("mime_type", &self.mime_type)
            .field("encoding", &self.encoding)
            .field("content_len", &self.content.as_ref().map(Vec::len))
            .finish()
    }
}

/// One process variable value, engine-independent, with the kind it has in the engine.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// No value.
    Null,
    /// A boolean.
    Boolean(bool),
    /// A 16-bit integer (Camunda `Short`).
    Short(i16),
    /// A 32-bit integer (Camunda `Integer`).
    Integer(i32),
    /// A 64-bit integer (Camunda `Long`).
    Long(i64),
    /// A floating point number (Camunda `Double`).
    Double(f64),
    /// A string.
    String(String),
    /// A date with its offset.
    Date(DateValue),
    /// A JSON structure (maps and lists; Camunda `Json`).
    Json(serde_json::Value),
    /// An XML document (Camunda `Xml`).
    Xml(String),
    /// Raw bytes (Camunda `Bytes`).
    Bytes(Vec<u8>),
    /// A serialized object (Camunda `Object`).
    Object(ObjectValue),
    /// A file (Camunda `File`).
    File(FileValue),
}

impl Value {
    /// The kind's name as engines spell it: `String`, `Integer`, `Date`, `Json`, ...
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "Null",
            Value::Boolean(_) => "Boolean",
            Value::Short(_) => "Short",
            Value::Integer(_) => "Integer",
            Value::Long(_) => "Long",
            Value::Double(_) => "Double",
            Value::String(_) => "String",
            Value::Date(_) => "Date",
            Value::Json(_) => "Json",
            Value::Xml(_) => "Xml",
            Value::Bytes(_) => "Bytes",
            Value::Object(_) => "Object",
            Value::File(_) => "File",
        }
    }

    /// Whether the value counts as empty for [`check_variable`](crate::check_variable):
    /// null, `""`, `[]` and `{}` are empty; booleans and numbers (0 included) never are.
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Null => true,
            Value::String(s) | Value::Xml(s) => s.is_empty(),
            Value::Json(j) => json_is_empty(j),
            Value::Bytes(b) => b.is_empty(),
            Value::Object(o) => match &o.data {
                ObjectData::Json(j) => json_is_empty(j),
                ObjectData::Serialized(s) => s.is_empty(),
            },
            Value::Boolean(_)
            | Value::Short(_)
            | Value::Integer(_)
            | Value::Long(_)
            | Value::Double(_)
            | Value::Date(_)
            | Value::File(_) => false,
        }
    }

    /// The value as an `i64` when it is an integer of any width.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Short(v) => Some(i64::from(*v)),
            Value::Integer(v) => Some(i64::from(*v)),
            Value::Long(v) => Some(*v),
            Value::Json(serde_json::Value::Number(n)) => n.as_i64(),
            _ => None,
        }
    }

    /// The value as an `f64` when it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Double(v) => Some(*v),
            Value::Json(serde_json::Value::Number(n)) => n.as_f64(),
            other => other.as_i64().map(|v| v as f64),
        }
    }

    /// The value as a string slice when it is a `String` (or `Xml`).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) | Value::Xml(s) => Some(s),
            Value::Json(serde_json::Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// The value as a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            Value::Json(serde_json::Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// The value as a plain JSON value, losing its engine kind: dates become their string,
    /// bytes an array of numbers, files their metadata. Used for typed extraction with serde
    /// and for display.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Boolean(b) => J::Bool(*b),
            Value::Short(v) => J::from(*v),
            Value::Integer(v) => J::from(*v),
            Value::Long(v) => J::from(*v),
            Value::Double(v) => serde_json::Number::from_f64(*v).map_or(J::Null, J::Number),
            Value::String(s) | Value::Xml(s) => J::String(s.clone()),
            Value::Date(d) => J::String(d.to_camunda_string()),
            Value::Json(j) => j.clone(),
            Value::Bytes(b) => J::Array(b.iter().map(|x| J::from(*x)).collect()),
            Value::Object(o) => match &o.data {
                ObjectData::Json(j) => j.clone(),
                ObjectData::Serialized(s) => J::String(s.clone()),
            },
            Value::File(f) => serde_json::json!({
                "filename": f.filename,
                "mimeType": f.mime_type,
                "encoding": f.encoding,
            }),
        }
    }

    /// A short description of what the value is, for error messages:
    /// `a String ("abc")`, `an Integer (42)`, `Null`.
    pub fn describe(&self) -> String {
        fn article(name: &str) -> &'static str {
            if name.starts_with(['A', 'E', 'I', 'O', 'U']) {
                "an"
            } else {
                "a"
            }
        }
        match self {
            Value::Null => "Null".to_owned(),
            Value::Bytes(b) => format!("Bytes ({} bytes)", b.len()),
            Value::File(f) => format!("a File ({})", f.filename),
            other => {
                let mut shown = other.to_json().to_string();
                if shown.len() > 60 {
                    let cut = (0..=60)
                        .rev()
                        .find(|i| shown.is_char_boundary(*i))
                        .unwrap_or(0);
                    shown.truncate(cut);
                    shown.push('…');
                }
                let name = other.type_name();
                format!("{} {name} ({shown})", article(name))
            }
        }
    }
}

fn json_is_empty(j: &serde_json::Value) -> bool {
    match j {
        serde_json::Value::Null => true,
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
        serde_json::Value::Bool(_) | serde_json::Value::Number(_) => false,
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Boolean(v)
    }
}

macro_rules! small_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::Integer(i32::from(v))
            }
        }
    )*};
}
small_int!(i8, i16, i32, u8, u16);

impl From<i64> for Value {
    /// `Integer` when the value fits in 32 bits, `Long` otherwise.
    fn from(v: i64) -> Self {
        match i32::try_from(v) {
            Ok(small) => Value::Integer(small),
            Err(_) => Value::Long(v),
        }
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::from(i64::from(v))
    }
}

impl From<isize> for Value {
    fn from(v: isize) -> Self {
        Value::from(v as i64)
    }
}

impl From<u64> for Value {
    /// `Integer`/`Long` when it fits in an `i64`, `Double` otherwise.
    fn from(v: u64) -> Self {
        match i64::try_from(v) {
            Ok(v) => Value::from(v),
            Err(_) => Value::Double(v as f64),
        }
    }
}

impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::from(v as u64)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Double(v)
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Double(f64::from(v))
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::String(v.clone())
    }
}

impl From<Timestamp> for Value {
    fn from(v: Timestamp) -> Self {
        Value::Date(DateValue::utc(v))
    }
}

impl From<jiff::ZonedDateTime> for Value {
    fn from(v: jiff::ZonedDateTime) -> Self {
        Value::Date(DateValue {
            timestamp: v.timestamp(),
            offset: v.offset(),
        })
    }
}

impl From<DateValue> for Value {
    fn from(v: DateValue) -> Self {
        Value::Date(v)
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl From<serde_json::Value> for Value {
    /// Scalars become their own kind (numbers as `Integer`/`Long`/`Double`), maps and lists
    /// become `Json`.
    fn from(v: serde_json::Value) -> Self {
        use serde_json::Value as J;
        match v {
            J::Null => Value::Null,
            J::Bool(b) => Value::Boolean(b),
            J::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::from(i)
                } else if let Some(u) = n.as_u64() {
                    Value::from(u)
                } else {
                    Value::Double(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            J::String(s) => Value::String(s),
            structure @ (J::Array(_) | J::Object(_)) => Value::Json(structure),
        }
    }
}

impl From<serde_json::Map<String, serde_json::Value>> for Value {
    fn from(v: serde_json::Map<String, serde_json::Value>) -> Self {
        Value::Json(serde_json::Value::Object(v))
    }
}

impl From<Vec<serde_json::Value>> for Value {
    fn from(v: Vec<serde_json::Value>) -> Self {
        Value::Json(serde_json::Value::Array(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_pick_integer_or_long() {
        assert_eq!(Value::from(5_i64), Value::Integer(5));
        assert_eq!(Value::from(1_i64 << 40), Value::Long(1 << 40));
        assert_eq!(Value::from(u64::MAX), Value::Double(u64::MAX as f64));
    }

    #[test]
    fn empty_rules() {
        assert!(Value::Null.is_empty());
        assert!(Value::from("").is_empty());
        assert!(Value::Json(serde_json::json!([])).is_empty());
        assert!(Value::Json(serde_json::json!({})).is_empty());
        assert!(!Value::from(false).is_empty());
        assert!(!Value::from(0).is_empty());
        assert!(!Value::from(0.0).is_empty());
    }

    #[test]
    fn camunda_dates_round_trip_exactly() {
        for text in [
            "2015-10-06T16:34:42.000+0200",
            "1999-01-31T00:00:00.123-0530",
            "2026-11-26T23:59:59.999+0000",
        ] {
            let parsed = DateValue::parse(text).expect(text);
            assert_eq!(parsed.to_camunda_string(), text);
        }
        let rfc = DateValue::parse("2015-10-06T14:34:42Z").expect("rfc3339");
        assert_eq!(rfc.to_camunda_string(), "2015-10-06T14:34:42.000+0000");
        assert!(DateValue::parse("yesterday").is_err());
    }

    #[test]
    fn describe_names_kind_and_value() {
        assert_eq!(Value::from("abc").describe(), "a String (\"abc\")");
        assert_eq!(Value::from(42).describe(), "an Integer (42)");
        assert_eq!(Value::Null.describe(), "Null");
    }
}
