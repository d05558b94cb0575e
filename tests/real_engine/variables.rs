//! Every variable type through a unit and back, as the engine stores it: values that came from
//! the engine go back unchanged, values created in Rust arrive with their Rust type; local
//! variables on complete; variables on BPMN errors and failures.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use bptl::camunda::variables::from_typed;
use bptl::camunda::{CamundaClient, ExternalTask, FailureRequest, FetchAndLock, FetchTopic};
use bptl::prelude::*;
use bptl::{DateValue, FileValue, ObjectData, ObjectValue, TaskMapping, TaskMappings};
use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::support::*;

/// What the units of this module received, by process instance.
static RECEIVED: LazyLock<Mutex<HashMap<String, Variables>>> = LazyLock::new(Mutex::default);

fn received(instance: &str) -> Variables {
    RECEIVED
        .lock()
        .unwrap()
        .get(instance)
        .cloned()
        .unwrap_or_else(|| panic!("no unit ran for {instance}"))
}

fn remember(task: &dyn BaseTask, vars: &Variables) {
    RECEIVED.lock().unwrap().insert(
        task.process_instance_id().unwrap_or_default().to_owned(),
        vars.clone(),
    );
}

/// Return every variable unchanged as `echo_<name>`; File variables are downloaded first
/// (their content does not come with the fetch).
#[register]
async fn echo_all(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let vars = task.get_variables()?;
    remember(task, &vars);
    let external = task
        .downcast_ref::<ExternalTask>()
        .ok_or_else(|| UnitError::failure("not a Camunda task"))?;
    let client = task
        .context()
        .and_then(|c| c.extensions.get::<CamundaClient>())
        .ok_or_else(|| UnitError::failure("no client"))?;
    let mut out = Variables::new();
    for (name, value) in vars.iter() {
        let value = match value {
            Value::File(_) => Value::File(
                external
                    .download_file(&client, name)
                    .await
                    .map_err(UnitError::other)?,
            ),
            other => other.clone(),
        };
        out.insert(format!("echo_{name}"), value);
    }
    Ok(out)
}

/// The values [`rust_made`] creates.
fn made_in_rust() -> Variables {
    let date = DateValue::parse("2026-03-29T01:59:59.999-0330").unwrap();
    variables! {
        "text": "grüße, 世界 \"quoted\" \\ / \n",
        "empty": "",
        "yes": true,
        "small": 42,
        "negative": -2_147_483_648_i64,
        "big": 1_i64 << 40,
        "ratio": 2.5,
        "tiny": 1.0e-300,
        "when": date,
        "now": jiff::Timestamp::from_millisecond(1_764_633_600_123).unwrap(),
        "nothing": Value::Null,
        "raw": vec![0_u8, 1, 2, 254, 255],
        "doc": json!({"a": [1, {"b": null}], "c": "d"}),
        "list": json!([1, "two", 3.5]),
        "markup": Value::Xml("<order id=\"7\"><line qty=\"2\">bolt</line></order>".into()),
        "object": Value::Object(ObjectValue {
            object_type_name: Some("java.util.LinkedHashMap".into()),
            serialization_data_format: Some("application/json".into()),
            data: ObjectData::Json(json!({"k": 1, "nested": {"x": [true]}})),
        }),
        "file": Value::File(FileValue {
            filename: "report.txt".into(),
            mime_type: Some("text/plain".into()),
            encoding: Some("UTF-8".into()),
            content: Some("bestand: ünïcode\n".as_bytes().to_vec()),
        }),
        "shorty": Value::Short(-3),
    }
}

/// Create one variable of every type in Rust.
#[register]
async fn rust_made(_task: &dyn BaseTask) -> Result<Variables, UnitError> {
    Ok(made_in_rust())
}

/// Record what arrived.
#[register]
async fn record(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    remember(task, &task.get_variables()?);
    Ok(Variables::new())
}

/// Raise BPMN error `REJECTED` with variables.
#[register]
async fn reject(_task: &dyn BaseTask) -> Result<Variables, UnitError> {
    Err(BpmnError::new("REJECTED", "the amount is too high")
        .with_variables(variables! { "reason": "too high", "limit": 40, "checked": true })
        .into())
}

fn mapping(topic: &str, unit: &str) -> TaskMapping {
    TaskMapping::new(topic, format!("real_engine::variables::{unit}"))
}

/// The instant of a Camunda date string.
fn instant(text: &str) -> jiff::Timestamp {
    DateValue::parse(text).unwrap().timestamp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_from_the_engine_goes_back_unchanged() {
    let Some(rig) = Rig::new() else { return };
    let key = rig.unique("echo_types");
    let topic = rig.unique("echo-types");
    rig.deploy(&process(&key, &[Task::new(&topic)], None)).await;
    let sent = json!({
        "text": {"type": "String", "value": "grüße, 世界 \"quoted\" \n"},
        "empty": {"type": "String", "value": ""},
        "yes": {"type": "Boolean", "value": true},
        "no": {"type": "boolean", "value": false},
        "shorty": {"type": "Short", "value": -32768},
        "small": {"type": "Integer", "value": 2_147_483_647},
        "big": {"type": "Long", "value": 9_007_199_254_740_993_i64},
        "ratio": {"type": "Double", "value": 0.1},
        "whole": {"type": "Double", "value": 3.0},
        "summer": {"type": "Date", "value": "2015-10-06T16:34:42.123+0200"},
        "winter": {"type": "Date", "value": "2015-01-06T16:34:42.000+0100"},
        "utc": {"type": "Date", "value": "2026-11-26T23:59:59.999+0000"},
        "west": {"type": "Date", "value": "1999-01-31T00:00:00.001-0530"},
        "nothing": {"type": "Null", "value": null},
        "raw": {"type": "Bytes", "value": "AAEC/v8="}, // [0, 1, 2, 254, 255]
        "doc": {"type": "Json", "value": "{\"a\":[1,{\"b\":null}],\"c\":\"d\"}"},
        "markup": {"type": "Xml", "value": "<order id=\"7\"><line qty=\"2\">bolt</line></order>"},
        "object": {"type": "Object", "value": "{\"k\":1,\"nested\":{\"x\":[true]}}",
                   "valueInfo": {"objectTypeName": "java.util.LinkedHashMap",
                                 "serializationDataFormat": "application/json"}},
        "file": {"type": "File", "value": "aW5ob3VkOiDDvG7Dr2NvZGUK", // "inhoud: ünïcode\n"
                 "valueInfo": {"filename": "brief.txt", "mimeType": "text/plain", "encoding": "UTF-8"}},
    });
    let instance = rig.start_typed(&key, sent.clone(), None).await;
    let worker = rig.spawn_worker(
        TaskMappings::new([mapping(&topic, "echo_all")]).unwrap(),
        config(),
        |b| b,
    );
    rig.wait_completed(std::slice::from_ref(&instance), Duration::from_secs(30))
        .await;
    let stats = worker.stop().await;
    assert_eq!((stats.completed, stats.failed), (1, 0), "{stats:?}");

    // What the unit received: the kinds the engine reported.
    let got = received(&instance);
    assert_eq!(got.get("shorty"), Some(&Value::Short(-32768)));
    assert_eq!(got.get("small"), Some(&Value::Integer(2_147_483_647)));
    assert_eq!(got.get("big"), Some(&Value::Long(9_007_199_254_740_993)));
    assert_eq!(got.get("no"), Some(&Value::Boolean(false)));
    assert_eq!(got.get("whole"), Some(&Value::Double(3.0)));
    assert_eq!(got.get("nothing"), Some(&Value::Null));
    assert_eq!(got.get("raw"), Some(&Value::Bytes(vec![0, 1, 2, 254, 255])));
    assert_eq!(
        got.get("doc"),
        Some(&Value::Json(json!({"a": [1, {"b": null}], "c": "d"})))
    );
    match got.get("file") {
        Some(Value::File(f)) => {
            assert_eq!(f.filename, "brief.txt");
            assert_eq!(f.mime_type.as_deref(), Some("text/plain"));
            assert_eq!(f.encoding.as_deref(), Some("UTF-8"));
            assert_eq!(f.content, None, "a fetch carries no file content");
        }
        other => panic!("file arrived as {other:?}"),
    }
    for name in ["summer", "winter", "utc", "west"] {
        let Some(Value::Date(d)) = got.get(name) else {
            panic!("{name} is not a Date: {:?}", got.get(name));
        };
        assert_eq!(
            d.timestamp,
            instant(sent[name]["value"].as_str().unwrap()),
            "{name}: the instant survives"
        );
    }

    // What the engine stored from the unit's answer: the same as what it stored from ours.
    let history = rig.history_typed(&instance).await;
    for (name, wire) in sent.as_object().unwrap() {
        let original = &history[name.as_str()];
        let echoed = history
            .get(&format!("echo_{name}"))
            .unwrap_or_else(|| panic!("echo_{name} missing: {history:#?}"));
        assert_eq!(echoed["type"], original["type"], "{name}");
        assert_eq!(echoed["valueInfo"], original["valueInfo"], "{name}");
        assert_eq!(echoed["value"], original["value"], "{name}");
        // And the original is what we sent (the type name capitalised; dates in the engine's
        // own offset, the same instant).
        let ty = wire["type"].as_str().unwrap();
        let capitalised = format!("{}{}", ty[..1].to_uppercase(), &ty[1..]);
        assert_eq!(original["type"], json!(capitalised), "{name}");
        match ty {
            "Date" => assert_eq!(
                instant(original["value"].as_str().unwrap()),
                instant(wire["value"].as_str().unwrap()),
                "{name}"
            ),
            // History lists files and bytes without their content: compare the data.
            "File" | "Bytes" => {
                assert!(original["value"].is_null(), "{name}: {original}");
                let content =
                    |id: &Json| format!("/history/variable-instance/{}/data", id.as_str().unwrap());
                let a = rig.get_bytes(&content(&original["id"])).await;
                let b = rig.get_bytes(&content(&echoed["id"])).await;
                let expected: &[u8] = if ty == "File" {
                    "inhoud: ünïcode\n".as_bytes()
                } else {
                    &[0, 1, 2, 254, 255]
                };
                assert_eq!(a, expected, "{name}");
                assert_eq!(b, a, "{name} went back unchanged");
            }
            _ => assert_eq!(original["value"], wire["value"], "{name}"),
        }
        // Our reading of both is the same Value.
        assert_eq!(
            from_typed(name, echoed).unwrap(),
            from_typed(name, original).unwrap(),
            "{name}"
        );
    }
    // And our client's reading of the history is what the unit received (files without their
    // content; bytes with theirs).
    let ours = rig.client.get_historic_variables(&instance).await.unwrap();
    for (name, value) in got.iter() {
        assert_eq!(ours.get(name), Some(value), "history {name}");
        assert_eq!(
            ours.get(&format!("echo_{name}")),
            Some(value),
            "history echo_{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_created_in_rust_arrive_with_their_types() {
    let Some(rig) = Rig::new() else { return };
    let key = rig.unique("rust_types");
    let (make, check) = (rig.unique("rust-make"), rig.unique("rust-check"));
    rig.deploy(&process(&key, &[Task::new(&make), Task::new(&check)], None))
        .await;
    let instance = rig.start(&key, Variables::new()).await;
    let worker = rig.spawn_worker(
        TaskMappings::new([mapping(&make, "rust_made"), mapping(&check, "record")]).unwrap(),
        config(),
        |b| b,
    );
    rig.wait_completed(std::slice::from_ref(&instance), Duration::from_secs(30))
        .await;
    let stats = worker.stop().await;
    assert_eq!((stats.completed, stats.failed), (2, 0), "{stats:?}");

    let history = rig.history_typed(&instance).await;
    let types: Vec<(&str, &str)> = [
        ("text", "String"),
        ("empty", "String"),
        ("yes", "Boolean"),
        ("small", "Integer"),
        ("negative", "Integer"),
        ("big", "Long"),
        ("ratio", "Double"),
        ("tiny", "Double"),
        ("when", "Date"),
        ("now", "Date"),
        ("nothing", "Null"),
        ("raw", "Bytes"),
        ("doc", "Json"),
        ("list", "Json"),
        ("markup", "Xml"),
        ("object", "Object"),
        ("file", "File"),
        ("shorty", "Short"),
    ]
    .into();
    for (name, ty) in &types {
        assert_eq!(
            history[*name]["type"],
            json!(ty),
            "{name}: {:#?}",
            history[*name]
        );
    }
    assert_eq!(
        instant(history["when"]["value"].as_str().unwrap()),
        instant("2026-03-29T01:59:59.999-0330")
    );
    assert_eq!(
        history["object"]["valueInfo"]["objectTypeName"],
        json!("java.util.LinkedHashMap")
    );
    assert_eq!(
        history["file"]["valueInfo"]["filename"],
        json!("report.txt")
    );
    let content = rig
        .get_bytes(&format!(
            "/history/variable-instance/{}/data",
            history["file"]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(content, "bestand: ünïcode\n".as_bytes());

    // The next task reads them back as the same values (dates keep their instant; a file
    // comes without its content).
    let got = received(&instance);
    let made = made_in_rust();
    for (name, value) in made.iter() {
        let back = got.get(name).unwrap_or_else(|| panic!("{name} missing"));
        match (value, back) {
            (Value::Date(a), Value::Date(b)) => assert_eq!(a.timestamp, b.timestamp, "{name}"),
            (Value::File(a), Value::File(b)) => {
                assert_eq!(
                    (&a.filename, &a.mime_type, &a.encoding),
                    (&b.filename, &b.mime_type, &b.encoding)
                );
                assert_eq!(b.content, None);
            }
            _ => assert_eq!(value, back, "{name}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_with_local_variables_fetches_only_the_tasks_own() {
    let Some(rig) = Rig::new() else { return };
    let key = rig.unique("local_fetch");
    let topic = rig.unique("local-fetch");
    rig.deploy(&process(
        &key,
        &[Task::new(&topic).input("inLocal", "from the input mapping")],
        None,
    ))
    .await;
    let instance = rig
        .start(&key, variables! { "global": "process scope", "other": 7 })
        .await;
    let mut local = mapping(&topic, "record");
    local.local_variables = true;
    let worker = rig.spawn_worker(TaskMappings::new([local]).unwrap(), config(), |b| b);
    rig.wait_completed(std::slice::from_ref(&instance), Duration::from_secs(30))
        .await;
    worker.stop().await;
    assert_eq!(
        received(&instance),
        variables! { "inLocal": "from the input mapping" }
    );

    // And `variables`: only the names asked for.
    let key = rig.unique("named_fetch");
    let topic = rig.unique("named-fetch");
    rig.deploy(&process(&key, &[Task::new(&topic)], None)).await;
    let instance = rig
        .start(&key, variables! { "wanted": 1, "unwanted": 2 })
        .await;
    let mut named = mapping(&topic, "record");
    named.variables = Some(vec!["wanted".into(), "absent".into()]);
    let worker = rig.spawn_worker(TaskMappings::new([named]).unwrap(), config(), |b| b);
    rig.wait_completed(std::slice::from_ref(&instance), Duration::from_secs(30))
        .await;
    worker.stop().await;
    assert_eq!(received(&instance), variables! { "wanted": 1 });
}

/// Fetch the one task of `topic` for `worker` through the client.
async fn fetch_one(rig: &Rig, worker: &str, topic: FetchTopic) -> ExternalTask {
    let tasks = rig
        .client
        .fetch_and_lock(&FetchAndLock::new(worker, 1).topic(topic))
        .await
        .unwrap();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    tasks.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_sets_local_variables_in_the_tasks_scope() {
    let Some(rig) = Rig::new() else { return };
    let key = rig.unique("local_complete");
    let topic = rig.unique("local-complete");
    // The input mapping makes the task a scope of its own: local variables stay there.
    rig.deploy(&process(
        &key,
        &[Task::new(&topic).input("inLocal", "x")],
        None,
    ))
    .await;
    let instance = rig.start(&key, Variables::new()).await;
    let task = fetch_one(
        &rig,
        "local-worker",
        FetchTopic::new(&topic, Duration::from_secs(30)),
    )
    .await;
    rig.client
        .complete_with_local(
            &task.id,
            "local-worker",
            &variables! { "global": "for everyone", "count": 3 },
            &variables! { "mine": "for the task only", "when": jiff::Timestamp::UNIX_EPOCH },
        )
        .await
        .unwrap();
    rig.wait_completed(std::slice::from_ref(&instance), Duration::from_secs(10))
        .await;
    let process_scope = rig.history_typed(&instance).await;
    assert_eq!(process_scope["global"]["value"], json!("for everyone"));
    assert_eq!(process_scope["count"]["type"], json!("Integer"));
    assert!(!process_scope.contains_key("mine"), "{process_scope:#?}");
    let all = rig.history_all(&instance).await;
    let mine = all
        .iter()
        .find(|v| v["name"] == json!("mine"))
        .unwrap_or_else(|| panic!("the local variable is in history: {all:#?}"));
    assert_eq!(
        mine["activityInstanceId"].as_str(),
        task.activity_instance_id.as_deref(),
        "set in the task's own scope"
    );
    // Our history reading prefers the process scope and still sees the local one.
    let ours = rig.client.get_historic_variables(&instance).await.unwrap();
    assert_eq!(ours.get("global"), Some(&Value::from("for everyone")));
    assert_eq!(ours.get("mine"), Some(&Value::from("for the task only")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_set_variables_and_local_variables() {
    let Some(rig) = Rig::new() else { return };
    let key = rig.unique("failure_vars");
    let topic = rig.unique("failure-vars");
    rig.deploy(&process(
        &key,
        &[Task::new(&topic).input("inLocal", "x")],
        None,
    ))
    .await;
    let instance = rig.start(&key, Variables::new()).await;
    let task = fetch_one(
        &rig,
        "fail-worker",
        FetchTopic::new(&topic, Duration::from_secs(30)),
    )
    .await;
    let failure = FailureRequest::new("fail-worker", "it broke", 2, Duration::ZERO)
        .details("the long story")
        .variables(variables! { "attempt": 1, "lastError": "it broke" })
        .local_variables(variables! {
            "scratch": true,
            "scratchFile": Value::File(FileValue {
                filename: "scratch.txt".into(),
                mime_type: Some("text/plain".into()),
                encoding: None,
                content: Some(b"kladblok".to_vec()),
            }),
        });
    rig.client.failure(&task.id, &failure).await.unwrap();

    let process_vars = rig.client.get_process_variables(&instance).await.unwrap();
    assert_eq!(process_vars.get("attempt"), Some(&Value::Integer(1)));
    assert_eq!(
        process_vars.get("lastError"),
        Some(&Value::from("it broke"))
    );
    assert!(!process_vars.contains("scratch"), "{process_vars:?}");
    let execution = task.execution_id.clone().unwrap();
    let local = rig
        .get(&format!("/execution/{execution}/localVariables"))
        .await;
    assert_eq!(local["scratch"]["value"], json!(true), "{local}");
    // The task is fetchable again at once (retry timeout 0), with the failure on it.
    let again = fetch_one(
        &rig,
        "fail-worker",
        FetchTopic::new(&topic, Duration::from_secs(30)),
    )
    .await;
    assert_eq!(again.id, task.id);
    assert_eq!(again.retries, Some(2));
    // A file of the task's own scope: not a process instance variable, downloaded from the
    // task's execution.
    let file = again
        .download_file(&rig.client, "scratchFile")
        .await
        .unwrap();
    assert_eq!(file.filename, "scratch.txt");
    assert_eq!(file.content.as_deref(), Some(&b"kladblok"[..]));
    let (status, _) = rig
        .call(
            Method::GET,
            &format!("/process-instance/{instance}/variables/scratchFile/data"),
            None,
        )
        .await;
    assert_eq!(status, 404, "not a process instance variable");
    assert_eq!(again.error_message.as_deref(), Some("it broke"));
    assert_eq!(
        rig.client
            .get_error_details(&task.id)
            .await
            .unwrap()
            .as_deref(),
        Some("the long story")
    );
    rig.client
        .complete(&task.id, "fail-worker", &Variables::new())
        .await
        .unwrap();
    rig.wait_completed(std::slice::from_ref(&instance), Duration::from_secs(10))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bpmn_error_carries_its_variables_to_the_boundary_event() {
    let Some(rig) = Rig::new() else { return };
    let key = rig.unique("bpmn_vars");
    let topic = rig.unique("bpmn-vars");
    rig.deploy(&process(&key, &[Task::new(&topic).catch("REJECTED")], None))
        .await;
    let instance = rig.start(&key, variables! { "amount": 50 }).await;
    let worker = rig.spawn_worker(
        TaskMappings::new([mapping(&topic, "reject")]).unwrap(),
        config(),
        |b| b,
    );
    rig.wait_completed(std::slice::from_ref(&instance), Duration::from_secs(30))
        .await;
    let stats = worker.stop().await;
    assert_eq!(stats.bpmn_errors, 1, "{stats:?}");
    let vars = rig.client.get_historic_variables(&instance).await.unwrap();
    assert_eq!(vars.get("reason"), Some(&Value::from("too high")));
    assert_eq!(vars.get("limit"), Some(&Value::Integer(40)));
    assert_eq!(vars.get("checked"), Some(&Value::Boolean(true)));
    assert_eq!(vars.get("caughtCode"), Some(&Value::from("REJECTED")));
    assert_eq!(
        vars.get("caughtMessage"),
        Some(&Value::from("the amount is too high"))
    );
}
