//! `start_process` end to end over real HTTP: against the dev engine as the service under the
//! alias `engine` (the test kit's `UnitTest`), and in the worker's own engine (the kit's
//! `TestEngine`, a parent process whose task starts a child).

use bptl::camunda::CamundaClient;
use bptl::dev_engine::DevEngine;
use bptl::prelude::*;
use bptl::testing::{ServiceSpec, TestEngine, UnitTest};
use bptl::{FileValue, Registry, TaskMapping};
use serde_json::json;

use bptl_units as _;

const UNIT: &str = "bptl_units::start_process";
const APP: &str = "https://app.example";

/// A child process that waits at an external task (topic `child-work`), so its instance and
/// variables stay readable; `label` tells the versions apart.
fn child(key: &str, label: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="x">
  <bpmn:process id="{key}" name="{label}" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:serviceTask id="work" camunda:type="external" camunda:topic="child-work" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>"#
    )
}

/// The parent: its one task, topic `start-child`, starts the child.
const PARENT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="x">
  <bpmn:process id="parent" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call" />
    <bpmn:serviceTask id="call" camunda:type="external" camunda:topic="start-child" />
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>"#;

/// The dev engine with two versions of `child`.
async fn engine() -> (DevEngine, CamundaClient) {
    let engine = DevEngine::start().await.expect("dev engine");
    engine
        .deploy_str("child-v1.bpmn", &child("child", "one"))
        .expect("v1");
    engine
        .deploy_str("child-v2.bpmn", &child("child", "two"))
        .expect("v2");
    let client = CamundaClient::new(engine.url()).expect("client");
    (engine, client)
}

fn on(engine: &DevEngine) -> UnitTest {
    UnitTest::new(UNIT).service(
        "engine",
        ServiceSpec::new(engine.url())
            .name("other-engine")
            .api_type("camunda"),
    )
}

fn started_id(vars: &Variables) -> String {
    vars.get("processInstanceId")
        .and_then(Value::as_str)
        .expect("processInstanceId is set")
        .to_owned()
}

#[test]
fn documented_with_its_variables() {
    let entry = Registry::global()
        .expect("registry")
        .get(UNIT)
        .expect("start_process is registered as bptl_units::start_process");
    // The engine is optional: the worker's own by default, so nothing is required.
    assert!(entry.required_services.is_empty());
    for part in [
        "**Required process variables**",
        "**Optional process variables**",
        "**Sets the process variables**",
        "* `subprocessDefinition`",
        "* `subprocessDefinitionVersion`",
        "* `subprocessTenantId`",
        "* `subprocessBusinessKey`",
        "* `variablesMapping`",
        "* `engine`",
        "* `processInstanceId`",
    ] {
        assert!(
            entry.doc.contains(part),
            "{part} missing from:\n{}",
            entry.doc
        );
    }
}

#[tokio::test]
async fn starts_the_latest_version_with_the_mapped_variables_and_business_key() {
    let (engine, client) = engine().await;
    let run = on(&engine)
        .variables(variables! {
            "bptlAppId": APP,
            "subprocessDefinition": "child",
            "subprocessBusinessKey": "order-7",
            "variablesMapping": json!({"zaakUrl": "hoofdZaakUrl", "amount": "total", "doc": "doc"}),
            "zaakUrl": "https://zaken.example/zaken/1",
            "amount": 1_i64 << 40,
            "doc": json!({"lines": [1, 2]}),
            "notMapped": "stays here",
        })
        .run()
        .await;
    let id = started_id(run.assert_completed());
    let instance = client.get_process_instance(&id).await.expect("instance");
    let definition = instance.definition_id.expect("definition id");
    assert!(definition.starts_with("child:2:"), "{definition}");
    assert_eq!(instance.business_key.as_deref(), Some("order-7"));
    let vars = client.get_process_variables(&id).await.expect("variables");
    assert_eq!(
        vars.get("hoofdZaakUrl"),
        Some(&Value::from("https://zaken.example/zaken/1"))
    );
    // Types are kept: a Long stays a Long, JSON stays JSON.
    assert_eq!(vars.get("total"), Some(&Value::Long(1 << 40)));
    assert_eq!(
        vars.get("doc"),
        Some(&Value::Json(json!({"lines": [1, 2]})))
    );
    assert_eq!(
        vars.len(),
        3,
        "only the mapped variables: {:?}",
        vars.to_json()
    );
    // On the task's timeline.
    assert!(
        run.timeline()
            .iter()
            .any(|e| e.message.contains("started the process 'child'") && e.message.contains(&id)),
        "{:?}",
        run.timeline()
    );
}

#[tokio::test]
async fn an_explicit_version_and_no_mapping_send_every_variable() {
    let (engine, client) = engine().await;
    let run = on(&engine)
        .variables(variables! {
            "bptlAppId": APP,
            "subprocessDefinition": "child",
            "subprocessDefinitionVersion": 1,
            "order": "A-1",
            "when": bptl::DateValue::parse("2026-12-02T10:00:00.000+0100").expect("date"),
        })
        .run()
        .await;
    let id = started_id(run.assert_completed());
    let instance = client.get_process_instance(&id).await.expect("instance");
    assert!(
        instance
            .definition_id
            .as_deref()
            .is_some_and(|d| d.starts_with("child:1:")),
        "{instance:?}"
    );
    assert_eq!(instance.business_key, None);
    let vars = client.get_process_variables(&id).await.expect("variables");
    for name in ["bptlAppId", "subprocessDefinition", "order", "when"] {
        assert!(vars.contains(name), "{name} missing: {:?}", vars.to_json());
    }
    assert!(matches!(vars.get("when"), Some(Value::Date(_))));
    assert_eq!(
        vars.get("subprocessDefinitionVersion"),
        Some(&Value::from(1))
    );

    // "latest" is the latest.
    let run = on(&engine)
        .variables(variables! {
            "bptlAppId": APP, "subprocessDefinition": "child", "subprocessDefinitionVersion": "latest",
            "variablesMapping": json!({}),
        })
        .run()
        .await;
    let id = started_id(run.assert_completed());
    let instance = client.get_process_instance(&id).await.expect("instance");
    assert!(
        instance
            .definition_id
            .as_deref()
            .is_some_and(|d| d.starts_with("child:2:")),
        "{instance:?}"
    );
    assert!(
        client
            .get_process_variables(&id)
            .await
            .expect("vars")
            .is_empty()
    );
}

#[tokio::test]
async fn a_mapped_file_goes_with_its_content() {
    let (engine, client) = engine().await;
    let file = FileValue {
        filename: "offer.pdf".into(),
        mime_type: Some("application/pdf".into()),
        encoding: None,
        content: Some(b"%PDF-1.7 offer".to_vec()),
    };
    let run = on(&engine)
        .variables(variables! {
            "bptlAppId": APP,
            "subprocessDefinition": "child",
            "variablesMapping": json!({"offer": "document"}),
            "offer": Value::File(file),
        })
        .run()
        .await;
    let id = started_id(run.assert_completed());
    let data = client
        .get_process_variable_data(&id, "document")
        .await
        .expect("file data");
    assert_eq!(data, b"%PDF-1.7 offer");
    let vars = client.get_process_variables(&id).await.expect("variables");
    let Some(Value::File(stored)) = vars.get("document") else {
        panic!("document is not a File: {:?}", vars.to_json());
    };
    assert_eq!(stored.filename, "offer.pdf");
}

#[tokio::test]
async fn bad_input_fails_naming_what_to_change_and_starts_nothing() {
    let (engine, _client) = engine().await;
    let base = || variables! { "bptlAppId": APP, "subprocessDefinition": "child" };
    let with = |name: &str, value: Value| {
        let mut vars = base();
        vars.insert(name, value);
        vars
    };
    let cases: Vec<(Variables, &[&str])> = vec![
        (variables! { "bptlAppId": APP }, &["subprocessDefinition"]),
        (
            with("subprocessDefinition", Value::from("nope")),
            &[
                "no process definition with the key 'nope'",
                "subprocessDefinition",
            ],
        ),
        (
            with("subprocessDefinitionVersion", Value::from(9)),
            &["no process definition with the key 'child', version 9"],
        ),
        (
            with("subprocessDefinitionVersion", Value::from("newest")),
            &["subprocessDefinitionVersion", "\"latest\""],
        ),
        // The dev engine has no tenants: no definition belongs to one.
        (
            with("subprocessTenantId", Value::from("tenant-a")),
            &["tenant 'tenant-a'", "subprocessTenantId"],
        ),
        (
            with("variablesMapping", Value::from("zaakUrl")),
            &["variablesMapping", "JSON object"],
        ),
        (
            with("variablesMapping", Value::Json(json!({"missing": "x"}))),
            &["variablesMapping maps the variable 'missing'"],
        ),
        (
            with("variablesMapping", Value::Json(json!({"bptlAppId": 3}))),
            &["variablesMapping", "new name of 'bptlAppId'"],
        ),
        // The engine service's credentials are the application's.
        (
            variables! { "subprocessDefinition": "child" },
            &["bptlAppId"],
        ),
    ];
    for (vars, expected) in cases {
        let run = on(&engine).variables(vars).run().await;
        let message = &run.assert_failure().error_message;
        for part in expected {
            assert!(message.contains(part), "{part:?} not in: {message}");
        }
    }
    assert_eq!(engine.active_instance_count(), 0, "nothing was started");
}

#[tokio::test]
async fn without_an_engine_service_or_a_worker_engine_it_says_so() {
    let run = UnitTest::new(UNIT)
        .variables(variables! { "subprocessDefinition": "child" })
        .run()
        .await;
    let message = &run.assert_failure().error_message;
    assert!(
        message.contains("no engine") && message.contains("alias 'engine'"),
        "{message}"
    );
}

#[tokio::test]
async fn in_the_workers_own_engine_a_parent_starts_its_child_with_a_file() {
    let engine = TestEngine::builder()
        .bpmn(PARENT)
        .bpmn(&child("child", "one"))
        .mapping(TaskMapping::new("start-child", UNIT))
        .start()
        .await
        .expect("test engine");
    // The file's content is not in the fetched task: the unit downloads it from the engine.
    let parent = engine
        .start_with_business_key(
            "parent",
            variables! {
                "subprocessDefinition": "child",
                "subprocessBusinessKey": "parent-of-1",
                "variablesMapping": json!({"order": "orderId", "attachment": "attachment"}),
                "order": "A-1",
                "attachment": Value::File(FileValue {
                    filename: "note.txt".into(),
                    mime_type: Some("text/plain".into()),
                    encoding: Some("UTF-8".into()),
                    content: Some("bijlage ü".as_bytes().to_vec()),
                }),
            },
            Some("parent-1"),
        )
        .expect("parent started");
    engine
        .wait_until_ended(&[&parent])
        .await
        .expect("parent ended");
    assert!(engine.incidents().is_empty(), "{:?}", engine.incidents());
    let child_id = engine
        .history_variables(&parent)
        .expect("parent history")
        .get("processInstanceId")
        .and_then(Value::as_str)
        .expect("processInstanceId on the parent")
        .to_owned();
    assert_ne!(child_id, parent);
    let client = CamundaClient::new(engine.dev_engine().url()).expect("client");
    let child = client.get_process_instance(&child_id).await.expect("child");
    assert_eq!(child.business_key.as_deref(), Some("parent-of-1"));
    let vars = client.get_process_variables(&child_id).await.expect("vars");
    assert_eq!(vars.get("orderId"), Some(&Value::from("A-1")));
    let data = client
        .get_process_variable_data(&child_id, "attachment")
        .await
        .expect("file data");
    assert_eq!(data, "bijlage ü".as_bytes());
}
