//! Every variable type through the engine: sent at start and with complete, read back through
//! fetchAndLock, `GET /process-instance/{id}/variables` and history, unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client_support;

use bptl_camunda::variables::to_typed;
use bptl_core::{DateValue, FileValue, ObjectData, ObjectValue, Value, Variables};
use client_support::{Env, TOPIC};
use serde_json::json;

fn file() -> FileValue {
    FileValue {
        filename: "notes.txt".into(),
        mime_type: Some("text/plain".into()),
        encoding: Some("UTF-8".into()),
        content: Some("zaak 1 ✓".as_bytes().to_vec()),
    }
}

/// One variable of every kind, with the awkward cases: offsets, big longs, nested JSON.
fn every_kind() -> Variables {
    let mut vars = Variables::new();
    vars.insert("string", "héllo \"wörld\"\n");
    vars.insert("empty", "");
    vars.insert("boolean", false);
    vars.insert("short", Value::Short(-32768));
    vars.insert("integer", Value::Integer(i32::MAX));
    vars.insert("long", Value::Long(1 << 40));
    vars.insert("longMax", Value::Long(i64::MAX));
    vars.insert("longMin", Value::Long(i64::MIN));
    vars.insert("double", Value::Double(0.1));
    vars.insert("doubleHard", Value::Double(-2.3661875074670494e19));
    vars.insert(
        "date",
        Value::Date(DateValue::parse("2015-10-06T16:34:42.123+0530").unwrap()),
    );
    vars.insert(
        "dateWest",
        Value::Date(DateValue::parse("1999-12-31T23:59:59.999-0800").unwrap()),
    );
    vars.insert(
        "json",
        Value::Json(
            json!({"a": [1, 2.5, {"b": null, "c": "ü"}], "big": 9_007_199_254_740_993_i64}),
        ),
    );
    vars.insert("jsonList", Value::Json(json!([[], {}, "x"])));
    vars.insert("xml", Value::Xml("<a x=\"1\">ü</a>".into()));
    vars.insert("bytes", Value::Bytes(vec![0, 1, 2, 254, 255]));
    vars.insert(
        "object",
        Value::Object(ObjectValue {
            object_type_name: Some("java.util.HashMap".into()),
            serialization_data_format: Some("application/json".into()),
            data: ObjectData::Json(json!({"k": [1, "v"]})),
        }),
    );
    vars.insert(
        "objectXml",
        Value::Object(ObjectValue {
            object_type_name: Some("com.example.Order".into()),
            serialization_data_format: Some("application/xml".into()),
            data: ObjectData::Serialized("<order id=\"7\"/>".into()),
        }),
    );
    vars.insert("null", Value::Null);
    vars
}

/// What comes back for `every_kind()` plus a file: the same, the file without its content.
fn expected_back(vars: &Variables) -> Variables {
    vars.clone()
        .into_iter()
        .map(|(name, value)| match value {
            Value::File(f) => (name, Value::File(FileValue { content: None, ..f })),
            other => (name, other),
        })
        .collect()
}

/// Dates as instants: an engine stores the instant and prints it in its own time zone
/// (Operaton and Camunda do, see tests/fixtures/transcripts/*/variables.json; so does the dev
/// engine), so the offset a date was sent with does not come back.
fn instants(vars: &Variables) -> Variables {
    vars.clone()
        .into_iter()
        .map(|(name, value)| match value {
            Value::Date(d) => (name, Value::Date(DateValue::utc(d.timestamp))),
            other => (name, other),
        })
        .collect()
}

#[tokio::test]
async fn values_sent_at_start_are_fetched_and_read_unchanged() {
    let env = Env::new().await;
    let mut vars = every_kind();
    vars.insert("file", Value::File(file()));
    let instance = env.start(vars.clone(), None).await;
    let expected = expected_back(&vars);

    let task = env.fetch_one("w", TOPIC).await;
    let fetched = instants(&task.variables().unwrap());
    let expected = instants(&expected);
    for (name, value) in &expected {
        assert_eq!(fetched.get(name), Some(value), "fetched {name}");
    }
    assert_eq!(fetched, expected);
    assert_eq!(
        instants(&env.client.get_process_variables(&instance).await.unwrap()),
        expected
    );

    // The file's content comes separately.
    let downloaded = task.download_file(&env.client, "file").await.unwrap();
    assert_eq!(downloaded, file());
}

#[tokio::test]
async fn values_sent_with_complete_read_back_from_history_unchanged() {
    let env = Env::new().await;
    let instance = env.start(Variables::new(), None).await;
    let task = env.fetch_one("w", TOPIC).await;
    let mut vars = every_kind();
    vars.insert("file", Value::File(file()));
    env.client.complete(&task.id, "w", &vars).await.unwrap();
    assert_eq!(env.state(&instance).await, "COMPLETED");
    let back = instants(&env.client.get_historic_variables(&instance).await.unwrap());
    let expected = instants(&expected_back(&vars));
    for (name, value) in &expected {
        assert_eq!(back.get(name), Some(value), "history {name}");
    }
    assert_eq!(back, expected);
}

#[tokio::test]
async fn echoing_the_inputs_returns_them_byte_for_byte() {
    let env = Env::new().await;
    let instance = env.start(every_kind(), None).await;
    let task = env.fetch_one("w", TOPIC).await;
    let raw_in = task.variables.clone();
    // An echo unit: the inputs, unchanged, as outputs.
    let inputs = task.variables().unwrap();
    env.client.complete(&task.id, "w", &inputs).await.unwrap();

    let history = env.client.get_historic_variables(&instance).await.unwrap();
    assert_eq!(instants(&history), instants(&every_kind()));
    // And on the wire: the same type and value strings as fetched.
    for (name, raw) in &raw_in {
        let sent = to_typed(name, inputs.get(name).unwrap()).unwrap();
        assert_eq!(sent["type"], raw["type"], "{name}");
        assert_eq!(sent["value"], raw["value"], "{name}");
    }
}

#[tokio::test]
async fn lower_case_type_names_from_other_clients_are_read() {
    let env = Env::new().await;
    let instance = env
        .engine
        .start_process(
            "client_echo",
            json!({"n": {"value": 5, "type": "integer"}, "d": {"value": 1.5, "type": "double"}}),
            None,
        )
        .unwrap();
    let vars = env.client.get_process_variables(&instance).await.unwrap();
    assert_eq!(vars.get("n"), Some(&Value::Integer(5)));
    assert_eq!(vars.get("d"), Some(&Value::Double(1.5)));
}
