//! The exact typed JSON sent for each kind of value, and how Camunda's typed JSON is read.
#![allow(clippy::unwrap_used)]

use bptl_camunda::variables::{from_typed, to_typed, variables_from_typed, variables_to_typed};
use bptl_core::{DateValue, FileValue, ObjectData, ObjectValue, Value, variables};
use serde_json::json;

fn date(text: &str) -> Value {
    Value::Date(DateValue::parse(text).unwrap())
}

#[test]
fn each_kind_is_sent_as_exactly_this_json() {
    let cases = [
        (Value::Null, json!({"value": null, "type": "Null"})),
        (
            Value::Boolean(true),
            json!({"value": true, "type": "Boolean"}),
        ),
        (Value::Short(-7), json!({"value": -7, "type": "Short"})),
        (Value::Integer(42), json!({"value": 42, "type": "Integer"})),
        (
            Value::Long(1 << 40),
            json!({"value": 1_099_511_627_776_i64, "type": "Long"}),
        ),
        (Value::Double(1.5), json!({"value": 1.5, "type": "Double"})),
        (
            Value::from("abc"),
            json!({"value": "abc", "type": "String"}),
        ),
        (
            date("2015-10-06T16:34:42.000+0200"),
            json!({"value": "2015-10-06T16:34:42.000+0200", "type": "Date"}),
        ),
        (
            date("1999-01-31T00:00:00.123-0530"),
            json!({"value": "1999-01-31T00:00:00.123-0530", "type": "Date"}),
        ),
        (
            Value::Json(json!({"a": [1, 2], "b": {"c": null}})),
            json!({"value": "{\"a\":[1,2],\"b\":{\"c\":null}}", "type": "Json"}),
        ),
        (
            Value::Xml("<a>1</a>".into()),
            json!({"value": "<a>1</a>", "type": "Xml"}),
        ),
        (
            Value::Bytes(vec![1, 2, 3, 255]),
            json!({"value": "AQID/w==", "type": "Bytes"}),
        ),
        (
            Value::Object(ObjectValue {
                object_type_name: Some("java.util.HashMap".into()),
                serialization_data_format: Some("application/json".into()),
                data: ObjectData::Json(json!({"k": "v"})),
            }),
            json!({"value": "{\"k\":\"v\"}", "type": "Object", "valueInfo": {
                "objectTypeName": "java.util.HashMap",
                "serializationDataFormat": "application/json"}}),
        ),
        (
            Value::Object(ObjectValue {
                object_type_name: Some("com.example.Order".into()),
                serialization_data_format: Some("application/xml".into()),
                data: ObjectData::Serialized("<order/>".into()),
            }),
            json!({"value": "<order/>", "type": "Object", "valueInfo": {
                "objectTypeName": "com.example.Order",
                "serializationDataFormat": "application/xml"}}),
        ),
        (
            Value::File(FileValue {
                filename: "a.txt".into(),
                mime_type: Some("text/plain".into()),
                encoding: Some("UTF-8".into()),
                content: Some(b"hello".to_vec()),
            }),
            json!({"value": "aGVsbG8=", "type": "File", "valueInfo": {
                "filename": "a.txt", "mimeType": "text/plain", "encoding": "UTF-8"}}),
        ),
        (
            Value::File(FileValue {
                filename: "b.bin".into(),
                mime_type: None,
                encoding: None,
                content: Some(vec![]),
            }),
            json!({"value": "", "type": "File", "valueInfo": {"filename": "b.bin"}}),
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(to_typed("x", &value).unwrap(), expected, "{value:?}");
    }
}

#[test]
fn unit_results_get_bptl_types() {
    let vars = variables! {
        "small": 5_i64, "big": 1_i64 << 40, "ratio": 0.25, "ok": false, "name": "Ada",
        "none": Value::Null, "tags": json!(["a", "b"]), "map": json!({"x": 1}),
    };
    let typed = variables_to_typed(&vars).unwrap();
    assert_eq!(
        serde_json::Value::Object(typed),
        json!({
            "small": {"value": 5, "type": "Integer"},
            "big": {"value": 1_099_511_627_776_i64, "type": "Long"},
            "ratio": {"value": 0.25, "type": "Double"},
            "ok": {"value": false, "type": "Boolean"},
            "name": {"value": "Ada", "type": "String"},
            "none": {"value": null, "type": "Null"},
            "tags": {"value": "[\"a\",\"b\"]", "type": "Json"},
            "map": {"value": "{\"x\":1}", "type": "Json"},
        })
    );
}

#[test]
fn values_that_cannot_be_sent_are_errors_naming_the_variable() {
    let no_content = Value::File(FileValue {
        filename: "a.pdf".into(),
        mime_type: None,
        encoding: None,
        content: None,
    });
    assert_eq!(
        to_typed("doc", &no_content).unwrap_err().to_string(),
        "variable 'doc' is a File (a.pdf) without content; download it first or set its content"
    );
    let err = to_typed("ratio", &Value::Double(f64::NAN)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("variable 'ratio' is a Double (NaN)"),
        "{err}"
    );
}

#[test]
fn camunda_typed_json_is_read_into_values() {
    let cases = [
        (
            json!({"value": "x", "type": "String", "valueInfo": {}}),
            Value::from("x"),
        ),
        (
            json!({"value": true, "type": "Boolean"}),
            Value::Boolean(true),
        ),
        (json!({"value": 3, "type": "Short"}), Value::Short(3)),
        (json!({"value": 3, "type": "integer"}), Value::Integer(3)),
        (json!({"value": 3, "type": "Long"}), Value::Long(3)),
        (json!({"value": 3, "type": "Double"}), Value::Double(3.0)),
        (json!({"value": 2.5, "type": "double"}), Value::Double(2.5)),
        (
            json!({"value": "2015-10-06T16:34:42.000+0200", "type": "Date"}),
            date("2015-10-06T16:34:42.000+0200"),
        ),
        (
            json!({"value": "{\"a\":[1,{\"b\":true}]}", "type": "Json"}),
            Value::Json(json!({"a": [1, {"b": true}]})),
        ),
        (
            json!({"value": "<a/>", "type": "Xml"}),
            Value::Xml("<a/>".into()),
        ),
        (
            json!({"value": "AQID", "type": "Bytes"}),
            Value::Bytes(vec![1, 2, 3]),
        ),
        (json!({"value": null, "type": "Null"}), Value::Null),
        (json!({"value": null, "type": "Integer"}), Value::Null),
        (
            json!({"value": "{\"k\":[1]}", "type": "Object", "valueInfo": {
                "objectTypeName": "java.util.HashMap", "serializationDataFormat": "application/json"}}),
            Value::Object(ObjectValue {
                object_type_name: Some("java.util.HashMap".into()),
                serialization_data_format: Some("application/json".into()),
                data: ObjectData::Json(json!({"k": [1]})),
            }),
        ),
        (
            // A deserialized object value (deserializeValues=true).
            json!({"value": {"k": [1]}, "type": "Object", "valueInfo": {
                "objectTypeName": "java.util.HashMap", "serializationDataFormat": "application/json"}}),
            Value::Object(ObjectValue {
                object_type_name: Some("java.util.HashMap".into()),
                serialization_data_format: Some("application/json".into()),
                data: ObjectData::Json(json!({"k": [1]})),
            }),
        ),
        (
            json!({"value": "rO0ABXQ=", "type": "Object", "valueInfo": {
                "objectTypeName": "java.lang.String",
                "serializationDataFormat": "application/x-java-serialized-object"}}),
            Value::Object(ObjectValue {
                object_type_name: Some("java.lang.String".into()),
                serialization_data_format: Some("application/x-java-serialized-object".into()),
                data: ObjectData::Serialized("rO0ABXQ=".into()),
            }),
        ),
        (
            json!({"value": null, "type": "File", "valueInfo": {
                "filename": "a.txt", "mimeType": "text/plain", "encoding": "UTF-8"}}),
            Value::File(FileValue {
                filename: "a.txt".into(),
                mime_type: Some("text/plain".into()),
                encoding: Some("UTF-8".into()),
                content: None,
            }),
        ),
    ];
    for (typed, expected) in cases {
        assert_eq!(from_typed("x", &typed).unwrap(), expected, "{typed}");
    }
}

#[test]
fn mismatches_name_the_variable_the_type_and_the_value() {
    let cases = [
        (
            "amount",
            json!({"value": "abc", "type": "Integer"}),
            "variable 'amount' has type Integer but its value is a string (\"abc\")",
        ),
        (
            "flag",
            json!({"value": 1, "type": "Boolean"}),
            "variable 'flag' has type Boolean but its value is a number (1)",
        ),
        (
            "name",
            json!({"value": ["a"], "type": "String"}),
            "variable 'name' has type String but its value is an array ([\"a\"])",
        ),
        (
            "n",
            json!({"value": 3_000_000_000_i64, "type": "Integer"}),
            "variable 'n' has type Integer but its value 3000000000 is out of range",
        ),
        (
            "when",
            json!({"value": "yesterday", "type": "Date"}),
            "variable 'when' has type Date but its value is not a date: 'yesterday' is not a date in the format yyyy-MM-dd'T'HH:mm:ss.SSS+hhmm (e.g. 2015-10-06T16:34:42.000+0200)",
        ),
        (
            "raw",
            json!({"value": "not base64!", "type": "Bytes"}),
            "variable 'raw' has type Bytes but its value is not base64",
        ),
        (
            "doc",
            json!({"value": "{nope", "type": "Json"}),
            "variable 'doc' has type Json but its value is not a JSON document",
        ),
        (
            "x",
            json!({"value": 1, "type": "INTEGER"}),
            "variable 'x' has unknown type 'INTEGER' (known types: String, Boolean, Short, Integer, Long, Double, Date, Json, Xml, Object, Bytes, File, Null)",
        ),
        (
            "y",
            json!(42),
            "variable 'y' is not a typed value {\"value\", \"type\", \"valueInfo\"} but a number (42)",
        ),
    ];
    for (name, typed, expected) in cases {
        let err = from_typed(name, &typed).unwrap_err().to_string();
        assert!(err.starts_with(expected), "{err}\n  expected: {expected}");
    }
}

#[test]
fn a_map_of_variables_reads_in_name_order_and_fails_on_the_first_bad_one() {
    let vars = variables_from_typed(&json!({
        "b": {"value": 1, "type": "Long"},
        "a": {"value": "x", "type": "String"},
    }))
    .unwrap();
    assert_eq!(vars.names().collect::<Vec<_>>(), ["a", "b"]);
    assert!(
        variables_from_typed(&serde_json::Value::Null)
            .unwrap()
            .is_empty()
    );
    let err = variables_from_typed(&json!({"ok": {"value": 1, "type": "Integer"},
        "bad": {"value": "1", "type": "Integer"}}))
    .unwrap_err();
    assert_eq!(err.name, "bad");
}
