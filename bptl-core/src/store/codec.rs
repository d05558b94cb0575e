//! A lossless JSON form of [`Variables`] for stores that keep them in a column.

use super::StoreError;
use crate::value::{DateValue, FileValue, ObjectData, ObjectValue, Value, Variables};

/// Variables as JSON that keeps every value's kind, for stores that keep result variables in
/// a text or JSON column: `{"name": {"type": "Integer", "value": 42}, ...}`.
///
/// The shape follows Camunda's typed values (`type`, `value`, `valueInfo`), except that bytes
/// and file contents are arrays of numbers and dates keep the digits below the millisecond
/// that Camunda's format drops (`...42.123456789+0200`). [`decode_variables`] reads it back
/// unchanged.
///
/// ```
/// use bptl_core::store::{decode_variables, encode_variables};
/// use bptl_core::{variables, Value};
/// let vars = variables! { "n": 1i64 << 40, "when": jiff::Timestamp::UNIX_EPOCH, "doc": serde_json::json!({"a": [1]}) };
/// let json = encode_variables(&vars);
/// assert_eq!(json["n"]["type"], "Long");
/// assert_eq!(decode_variables(&json).unwrap(), vars);
/// ```
pub fn encode_variables(vars: &Variables) -> serde_json::Value {
    use serde_json::json;
    let mut out = serde_json::Map::new();
    for (name, value) in vars {
        let (value_json, info) = match value {
            Value::Date(d) => (json!(lossless_date(d)), None),
            Value::Bytes(b) => (json!(b), None),
            Value::Object(o) => (
                match &o.data {
                    ObjectData::Json(j) => j.clone(),
                    ObjectData::Serialized(s) => json!(s),
                },
                Some(json!({
                    "objectTypeName": o.object_type_name,
                    "serializationDataFormat": o.serialization_data_format,
                    "serialized": matches!(o.data, ObjectData::Serialized(_)),
                })),
            ),
            Value::File(f) => (
                json!(f.content),
                Some(
                    json!({ "filename": f.filename, "mimeType": f.mime_type, "encoding": f.encoding }),
                ),
            ),
            other => (other.to_json(), None),
        };
        let mut typed = serde_json::Map::new();
        typed.insert("type".into(), json!(value.type_name()));
        typed.insert("value".into(), value_json);
        if let Some(info) = info {
            typed.insert("valueInfo".into(), info);
        }
        out.insert(name.clone(), serde_json::Value::Object(typed));
    }
    serde_json::Value::Object(out)
}

/// Camunda's date format with the nanoseconds that its milliseconds drop, when there are any.
fn lossless_date(date: &DateValue) -> String {
    let mut text = date.to_camunda_string();
    let below_millis = date.timestamp.subsec_nanosecond().rem_euclid(1_000_000);
    if below_millis != 0 {
        // Camunda's format ends with the milliseconds and the offset: `.SSS+hhmm`.
        text.insert_str(text.len() - "+hhmm".len(), &format!("{below_millis:06}"));
    }
    text
}

/// Read variables written by [`encode_variables`].
pub fn decode_variables(json: &serde_json::Value) -> Result<Variables, StoreError> {
    let bad =
        |name: &str, why: &str| StoreError::corrupt(format!("stored variable '{name}': {why}"));
    let object = json
        .as_object()
        .ok_or_else(|| StoreError::corrupt("stored variables are not a JSON object"))?;
    let mut vars = Variables::new();
    for (name, typed) in object {
        let kind = typed["type"].as_str().unwrap_or("");
        let v = &typed["value"];
        let info = &typed["valueInfo"];
        let str_of = |j: &serde_json::Value| j.as_str().map(str::to_owned);
        let bytes_of = |j: &serde_json::Value| -> Option<Vec<u8>> {
            j.as_array()?
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect()
        };
        let value = match kind {
            "Null" => Value::Null,
            "Boolean" => Value::Boolean(v.as_bool().ok_or_else(|| bad(name, "not a boolean"))?),
            "Short" => Value::Short(
                v.as_i64()
                    .and_then(|n| i16::try_from(n).ok())
                    .ok_or_else(|| bad(name, "not a short"))?,
            ),
            "Integer" => Value::Integer(
                v.as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(|| bad(name, "not an integer"))?,
            ),
            "Long" => Value::Long(v.as_i64().ok_or_else(|| bad(name, "not a long"))?),
            "Double" => Value::Double(v.as_f64().ok_or_else(|| bad(name, "not a number"))?),
            "String" => Value::String(str_of(v).ok_or_else(|| bad(name, "not a string"))?),
            "Xml" => Value::Xml(str_of(v).ok_or_else(|| bad(name, "not a string"))?),
            "Json" => Value::Json(v.clone()),
            "Date" => Value::Date(
                DateValue::parse(v.as_str().unwrap_or(""))
                    .map_err(|e| bad(name, &e.to_string()))?,
            ),
            "Bytes" => Value::Bytes(bytes_of(v).ok_or_else(|| bad(name, "not bytes"))?),
            "Object" => Value::Object(ObjectValue {
                object_type_name: str_of(&info["objectTypeName"]),
                serialization_data_format: str_of(&info["serializationDataFormat"]),
                data: if info["serialized"].as_bool().unwrap_or(false) {
                    ObjectData::Serialized(str_of(v).unwrap_or_default())
                } else {
                    ObjectData::Json(v.clone())
                },
            }),
            "File" => Value::File(FileValue {
                filename: str_of(&info["filename"]).unwrap_or_default(),
                mime_type: str_of(&info["mimeType"]),
                encoding: str_of(&info["encoding"]),
                content: bytes_of(v),
            }),
            other => return Err(bad(name, &format!("unknown type '{other}'"))),
        };
        vars.insert(name.clone(), value);
    }
    Ok(vars)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::variables;

    #[test]
    fn every_kind_round_trips() {
        let vars = variables! {
            "null": Value::Null, "b": true, "s": Value::Short(3), "i": 4, "l": 1i64 << 40,
            "d": 1.5, "str": "x", "xml": Value::Xml("<a/>".into()),
            "date": DateValue::parse("2015-10-06T16:34:42.000+0200").unwrap(),
            "json": serde_json::json!([1, {"a": null}]), "bytes": vec![0u8, 255],
            "obj": Value::Object(ObjectValue { object_type_name: Some("java.util.HashMap".into()),
                serialization_data_format: Some("application/json".into()),
                data: ObjectData::Json(serde_json::json!({"k": 1})) }),
            "ser": Value::Object(ObjectValue { object_type_name: None,
                serialization_data_format: Some("application/xml".into()),
                data: ObjectData::Serialized("<x/>".into()) }),
            "file": Value::File(FileValue { filename: "a.txt".into(), mime_type: Some("text/plain".into()),
                encoding: None, content: Some(b"hi".to_vec()) })
        };
        let json = encode_variables(&vars);
        assert_eq!(decode_variables(&json).unwrap(), vars);
        let text = serde_json::to_string(&json).unwrap();
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(decode_variables(&back).unwrap(), vars);
        assert!(decode_variables(&serde_json::json!({"x": {"type": "Nope"}})).is_err());
    }

    /// Found by the `store_codec` fuzz target: a date with digits below the millisecond (a
    /// unit's `Timestamp::now()`) was stored as Camunda's milliseconds and read back as
    /// another date.
    #[test]
    fn dates_keep_their_nanoseconds() {
        let stored =
            serde_json::json!({"d": {"type": "Date", "value": "2015-10-06T16:34:42.0001+0200"}});
        let vars = decode_variables(&stored).unwrap();
        let encoded = encode_variables(&vars);
        assert_eq!(encoded["d"]["value"], "2015-10-06T16:34:42.000100000+0200");
        assert_eq!(decode_variables(&encoded).unwrap(), vars);
        let before_1970 = jiff::Timestamp::new(-1, 999_999_999).unwrap();
        let vars = crate::variables! { "now": jiff::Timestamp::now(), "old": before_1970 };
        assert_eq!(decode_variables(&encode_variables(&vars)).unwrap(), vars);
        let whole =
            crate::variables! { "d": DateValue::parse("2015-10-06T16:34:42.123+0200").unwrap() };
        assert_eq!(
            encode_variables(&whole)["d"]["value"],
            "2015-10-06T16:34:42.123+0200"
        );
    }
}
