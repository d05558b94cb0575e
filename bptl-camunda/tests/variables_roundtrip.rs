//! Property tests: every value survives Value → typed JSON text → Value unchanged.
#![allow(clippy::unwrap_used)]

use bptl_camunda::variables::{from_typed, to_typed};
use bptl_core::{DateValue, FileValue, ObjectData, ObjectValue, Value};
use jiff::Timestamp;
use jiff::tz::Offset;
use proptest::prelude::*;
use serde_json::Value as Json;

fn json_leaf() -> impl Strategy<Value = Json> {
    prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Json::from),
        ".{0,12}".prop_map(Json::String),
    ]
}

fn json_tree() -> impl Strategy<Value = Json> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

fn date() -> impl Strategy<Value = DateValue> {
    // Years 0002..9998 so that every offset keeps the civil date in 4 digits.
    let min = -62_104_060_800_000_i64;
    let max = 253_370_764_800_000_i64;
    (min..max, -14 * 60..=14 * 60_i32).prop_map(|(ms, offset_minutes)| DateValue {
        timestamp: Timestamp::from_millisecond(ms).unwrap(),
        offset: Offset::from_seconds(offset_minutes * 60).unwrap(),
    })
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Boolean),
        any::<i16>().prop_map(Value::Short),
        any::<i32>().prop_map(Value::Integer),
        any::<i64>().prop_map(Value::Long),
        prop_oneof![Just(i64::MAX), Just(i64::MIN), Just(1_i64 << 53 | 1)].prop_map(Value::Long),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::Double),
        any::<String>().prop_map(Value::String),
        date().prop_map(Value::Date),
        json_tree().prop_map(Value::Json),
        "<[a-z]{1,8}>[^<]{0,20}</x>".prop_map(Value::Xml),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(Value::Bytes),
        (prop::option::of("[a-z.]{1,20}"), json_tree()).prop_map(|(type_name, data)| {
            Value::Object(ObjectValue {
                object_type_name: type_name,
                serialization_data_format: Some("application/json".into()),
                data: ObjectData::Json(data),
            })
        }),
        (
            prop::option::of("[a-z.]{1,20}"),
            prop::option::of(prop_oneof![
                Just("application/xml".to_owned()),
                Just("application/x-java-serialized-object".to_owned()),
            ]),
            ".{0,30}"
        )
            .prop_map(|(type_name, format, text)| Value::Object(ObjectValue {
                object_type_name: type_name,
                serialization_data_format: format,
                data: ObjectData::Serialized(text),
            })),
        (
            "[a-z]{1,10}\\.[a-z]{1,4}",
            prop::option::of("[a-z]+/[a-z]+"),
            prop::option::of("UTF-8"),
            prop::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(filename, mime_type, encoding, content)| {
                Value::File(FileValue {
                    filename,
                    mime_type,
                    encoding,
                    content: Some(content),
                })
            }),
    ]
}

/// A float that serde_json's default (inexact) parser changes: found by the property below.
#[test]
fn a_known_hard_float_survives_inside_json() {
    let value = Value::Json(serde_json::json!([-2.3661875074670494e19]));
    let text = serde_json::to_string(&to_typed("v", &value).unwrap()).unwrap();
    assert_eq!(
        from_typed("v", &serde_json::from_str(&text).unwrap()).unwrap(),
        value
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn value_to_json_text_and_back_is_equal(value in value()) {
        let typed = to_typed("v", &value).unwrap();
        // Through text, as on the wire.
        let text = serde_json::to_string(&typed).unwrap();
        let parsed: Json = serde_json::from_str(&text).unwrap();
        let back = from_typed("v", &parsed).unwrap();
        prop_assert_eq!(back, value);
    }

    #[test]
    fn doubles_survive_the_wire_bit_for_bit(f in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
        let text = serde_json::to_string(&to_typed("f", &Value::Double(f)).unwrap()).unwrap();
        let back = from_typed("f", &serde_json::from_str(&text).unwrap()).unwrap();
        prop_assert_eq!(back.as_f64().map(f64::to_bits), Some(f.to_bits()));
    }

    #[test]
    fn dates_keep_their_offset_and_milliseconds(d in date()) {
        let typed = to_typed("d", &Value::Date(d)).unwrap();
        let text = typed["value"].as_str().unwrap().to_owned();
        prop_assert_eq!(text.len(), 28, "{}", text);
        prop_assert_eq!(from_typed("d", &typed).unwrap(), Value::Date(d));
    }
}
