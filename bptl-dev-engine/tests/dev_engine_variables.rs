//! Typed variables: every type round-trips, bad values and types are refused like Camunda.
#![allow(clippy::unwrap_used)]

mod dev_engine_support;

use dev_engine_support::Api;
use serde_json::{Value, json};

/// Completes the `double` task of a fresh instance with `variables`; returns the answer
/// and the instance id.
async fn complete_with(api: &Api, variables: Value) -> (dev_engine_support::Answer, String) {
    let instance = api.start("double", json!({})).await;
    let tasks = api
        .post(
            "/external-task/fetchAndLock",
            json!({"workerId": "w", "maxTasks": 1,
                   "topics": [{"topicName": "double", "lockDuration": 10_000,
                               "processVariables": {}, "businessKey": null}]}),
        )
        .await;
    let task = tasks.body[0]["id"].as_str().unwrap().to_string();
    let answer = api
        .post(
            &format!("/external-task/{task}/complete"),
            json!({"workerId": "w", "variables": variables}),
        )
        .await;
    (answer, instance)
}

#[tokio::test]
async fn every_type_comes_back_as_it_was_sent() {
    let api = Api::new().await;
    let vars = json!({
        "s": {"value": "text", "type": "String"},
        "b": {"value": true, "type": "boolean"},
        "sh": {"value": 12, "type": "Short"},
        "i": {"value": 2_147_483_647, "type": "Integer"},
        "l": {"value": 1_099_511_627_776_i64, "type": "Long"},
        "d": {"value": 2.5, "type": "Double"},
        "dt": {"value": "2015-10-06T16:34:42.000+0200", "type": "Date"},
        "j": {"value": "{\"a\":[1,2]}", "type": "Json"},
        "x": {"value": "<a/>", "type": "Xml"},
        "o": {"value": "{\"k\":1}", "type": "Object",
              "valueInfo": {"objectTypeName": "java.util.HashMap", "serializationDataFormat": "application/json"}},
        "by": {"value": "aGVsbG8=", "type": "Bytes"},
        "f": {"value": "ZmlsZSBjb250ZW50", "type": "File",
              "valueInfo": {"filename": "a.txt", "mimeType": "text/plain", "encoding": "UTF-8"}},
        "n": {"value": null, "type": "Null"},
        "untypedInt": {"value": 42},
        "untypedBig": {"value": 5_000_000_000_i64},
        "untypedFloat": {"value": 1.5},
        "untypedText": {"value": "t"},
        "untypedBool": {"value": false},
        "transientOne": {"value": 1, "type": "Integer", "valueInfo": {"transient": true}},
    });
    let instance = api.start("double", vars).await;
    let got = api
        // The values as stored; without the parameter Camunda deserialises (checked below).
        .get(&format!(
            "/process-instance/{instance}/variables?deserializeValues=false"
        ))
        .await
        .body;
    let check = |name: &str, ty: &str, value: Value| {
        assert_eq!(got[name]["type"], ty, "{name}: {}", got[name]);
        assert_eq!(got[name]["value"], value, "{name}: {}", got[name]);
    };
    check("s", "String", json!("text"));
    check("b", "Boolean", json!(true));
    check("sh", "Short", json!(12));
    check("i", "Integer", json!(2_147_483_647));
    check("l", "Long", json!(1_099_511_627_776_i64));
    check("d", "Double", json!(2.5));
    // A date is stored as its instant and printed in the engine's time zone, as Operaton
    // and Camunda do (tests/fixtures/transcripts/*/variables.json).
    assert_eq!(got["dt"]["type"], "Date", "{}", got["dt"]);
    let instant = |text: &str| {
        jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%.f%z", text)
            .and_then(|t| t.to_timestamp())
            .unwrap()
    };
    assert_eq!(
        instant(got["dt"]["value"].as_str().unwrap()),
        instant("2015-10-06T16:34:42.000+0200"),
        "{}",
        got["dt"]
    );
    check("j", "Json", json!("{\"a\":[1,2]}"));
    check("x", "Xml", json!("<a/>"));
    check("o", "Object", json!("{\"k\":1}"));
    assert_eq!(got["o"]["valueInfo"]["objectTypeName"], "java.util.HashMap");
    assert_eq!(
        got["o"]["valueInfo"]["serializationDataFormat"],
        "application/json"
    );
    check("by", "Bytes", json!("aGVsbG8="));
    check("f", "File", Value::Null);
    assert_eq!(got["f"]["valueInfo"]["filename"], "a.txt");
    check("n", "Null", Value::Null);
    check("untypedInt", "Integer", json!(42));
    check("untypedBig", "Long", json!(5_000_000_000_i64));
    check("untypedFloat", "Double", json!(1.5));
    check("untypedText", "String", json!("t"));
    check("untypedBool", "Boolean", json!(false));
    assert!(
        got.get("transientOne").is_none(),
        "transient variables are not stored"
    );

    // A worker fetching the task sees the same typed values.
    let tasks = api.fetch("w", "double", 1, 1000).await;
    assert_eq!(tasks[0]["variables"]["dt"], got["dt"]);
    assert_eq!(tasks[0]["variables"]["f"]["value"], Value::Null);

    // File content is downloadable.
    let data = api
        .http
        .get(format!(
            "{}/process-instance/{instance}/variables/f/data",
            api.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(data.status(), 200);
    // The mime type with the encoding as charset, as Operaton and Camunda answer.
    assert_eq!(data.headers()["content-type"], "text/plain;charset=UTF-8");
    assert_eq!(data.text().await.unwrap(), "file content");
    let single = api
        .get(&format!("/process-instance/{instance}/variables/i"))
        .await;
    assert_eq!(
        single.body,
        json!({"type": "Integer", "value": 2_147_483_647, "valueInfo": {}})
    );
    api.get(&format!("/process-instance/{instance}/variables/missing"))
        .await
        .error(404, "InvalidRequestException");

    // deserializeValues on an application/json Object answers the JSON itself.
    let deserialized = api
        .get(&format!(
            "/process-instance/{instance}/variables?deserializeValues=true"
        ))
        .await;
    assert_eq!(deserialized.body["o"]["value"], json!({"k": 1}));
    // ... and so they come by default, Json and Xml as Jackson renders Spin's nodes (what
    // Operaton 1.0 and Camunda 7.24 answer, tests/fixtures/transcripts/*/variables.json).
    let default = api
        .get(&format!("/process-instance/{instance}/variables"))
        .await;
    assert_eq!(default.body["o"]["value"], json!({"k": 1}));
    assert_eq!(default.body["j"]["value"]["nodeType"], "OBJECT");
    assert_eq!(
        default.body["x"]["value"],
        json!({"dataFormatName": "application/xml"})
    );
}

#[tokio::test]
async fn unsupported_types_are_refused() {
    let api = Api::new().await;
    let (answer, _) = complete_with(&api, json!({"x": {"value": 1, "type": "INTEGER"}})).await;
    // In task operations Operaton 1.0 and Camunda 7.24 answer RestException, at process
    // start InvalidRequestException (tests/fixtures/transcripts/*/errors.json).
    let message = answer.error(400, "RestException");
    assert_eq!(message, "Unsupported value type 'INTEGER'");
    let (answer, _) = complete_with(&api, json!({"x": {"value": 1, "type": "Decimal"}})).await;
    answer.error(400, "RestException");
    let start = api
        .post(
            "/process-definition/key/double/start",
            json!({"variables": {"x": {"value": 1, "type": "Number!"}}}),
        )
        .await;
    start.error(400, "InvalidRequestException");
}

#[tokio::test]
async fn values_that_do_not_fit_their_type_are_refused() {
    let api = Api::new().await;
    for (value, ty) in [
        (json!("abc"), "Integer"),
        (json!(1_099_511_627_776_i64), "Integer"),
        (json!(40_000), "Short"),
        (json!("2015-10-06 16:34:42"), "Date"),
        (json!("2015-10-06T16:34:42+02:00"), "Date"),
        (json!("not base64!"), "Bytes"),
        (json!([1]), "String"),
        (json!("yes"), "Boolean"),
        (json!("x"), "Double"),
    ] {
        let (answer, _) = complete_with(&api, json!({"v": {"value": value, "type": ty}})).await;
        let message = answer.error(400, "InvalidRequestException");
        assert!(
            message.contains("Cannot convert value"),
            "{ty} {value}: {message}"
        );
    }
    // A File without filename: 500 IllegalArgumentException in Operaton and Camunda.
    let (answer, _) = complete_with(&api, json!({"f": {"value": "AA==", "type": "File"}})).await;
    let message = answer.error(500, "IllegalArgumentException");
    assert_eq!(message, "Cannot create file without valueInfo.");
    let (answer, _) = complete_with(
        &api,
        json!({"f": {"value": "AA==", "type": "File", "valueInfo": {"mimeType": "text/plain"}}}),
    )
    .await;
    let message = answer.error(500, "IllegalArgumentException");
    assert!(message.contains("filename"), "{message}");
    // A refused completion changes nothing: every task is still open and locked by w.
    assert_eq!(api.engine.open_task_count(), 11);
}

#[tokio::test]
async fn a_value_is_stored_with_the_type_the_worker_sent() {
    let api = Api::new().await;
    let (answer, instance) = complete_with(
        &api,
        json!({"amount": {"value": 7, "type": "Long"}, "price": {"value": 3, "type": "Double"},
               "code": {"value": 5, "type": "String"}}),
    )
    .await;
    assert_eq!(answer.status, 204, "{}", answer.text);
    assert_eq!(
        api.history_var(&instance, "amount").await,
        Some(("Long".into(), json!(7)))
    );
    assert_eq!(
        api.history_var(&instance, "price").await,
        Some(("Double".into(), json!(3.0)))
    );
    assert_eq!(
        api.history_var(&instance, "code").await,
        Some(("String".into(), json!("5")))
    );
}
