//! The process side units need: deployments, definitions, starting instances, reading their
//! variables and files, history, cancellation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client_support;

use bptl_camunda::{CamundaClient, DeploymentRequest, StartProcess};
use bptl_core::{FileValue, Value, variables};
use client_support::{Env, TOPIC, fixture};

const CALLED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="Definitions_client_called" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="client_called" isExecutable="true" camunda:versionTag="TAG">
    <bpmn:startEvent id="Start" />
    <bpmn:serviceTask id="Task_Called" camunda:type="external" camunda:topic="client-called" />
    <bpmn:endEvent id="End" />
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Task_Called" />
    <bpmn:sequenceFlow id="f2" sourceRef="Task_Called" targetRef="End" />
  </bpmn:process>
</bpmn:definitions>
"#;

#[tokio::test]
async fn deploy_look_up_and_start_by_key_and_by_id() {
    let env = Env::new().await;
    let first = env
        .client
        .deploy(
            &DeploymentRequest::new("called \"v1\"")
                .resource("client_called.bpmn", CALLED.replace("TAG", "one")),
        )
        .await
        .unwrap();
    assert_eq!(first.name.as_deref(), Some("called \"v1\""));
    assert!(first.deployment_time.is_some());
    let defs: Vec<_> = first.deployed_process_definitions.values().collect();
    assert_eq!(defs.len(), 1);
    assert_eq!(defs[0].key, "client_called");
    assert_eq!(defs[0].version, 1);
    assert_eq!(defs[0].version_tag.as_deref(), Some("one"));
    assert_eq!(defs[0].deployment_id.as_deref(), Some(first.id.as_str()));

    let second = env
        .client
        .deploy(
            &DeploymentRequest::new("called v2")
                .resource("client_called.bpmn", CALLED.replace("TAG", "two")),
        )
        .await
        .unwrap();
    let v2 = second
        .deployed_process_definitions
        .values()
        .next()
        .unwrap()
        .clone();
    assert_eq!(v2.version, 2);

    // Duplicate filtering: nothing new.
    let again = env
        .client
        .deploy(
            &DeploymentRequest::new("called v2")
                .resource("client_called.bpmn", CALLED.replace("TAG", "two"))
                .enable_duplicate_filtering(true),
        )
        .await
        .unwrap();
    assert!(again.deployed_process_definitions.is_empty());

    let latest = env
        .client
        .get_process_definition_by_key("client_called")
        .await
        .unwrap();
    assert_eq!(latest.id, v2.id);
    assert_eq!(latest.version, 2);
    let one = env
        .client
        .get_process_definition_by_key_and_version("client_called", 1)
        .await
        .unwrap();
    assert_eq!(one.version, 1);
    assert_eq!(one.version_tag.as_deref(), Some("one"));
    let err = env
        .client
        .get_process_definition_by_key_and_version("client_called", 9)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = env
        .client
        .get_process_definition_by_key("nope")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");

    // Start version 1 by id, the latest by key.
    let by_id = env
        .client
        .start_process_by_id(
            &one.id,
            &StartProcess::new(variables! { "n": 1 }).business_key("bk-1"),
        )
        .await
        .unwrap();
    assert_eq!(by_id.definition_id.as_deref(), Some(one.id.as_str()));
    assert_eq!(by_id.business_key.as_deref(), Some("bk-1"));
    assert!(!by_id.ended);
    let by_key = env
        .client
        .start_process_by_key("client_called", &StartProcess::default())
        .await
        .unwrap();
    assert_eq!(by_key.definition_id.as_deref(), Some(v2.id.as_str()));
    assert_eq!(by_key.business_key, None);

    let instance = env.client.get_process_instance(&by_id.id).await.unwrap();
    assert_eq!(instance.id, by_id.id);
    assert_eq!(instance.business_key.as_deref(), Some("bk-1"));
    assert_eq!(
        env.client.get_process_variables(&by_id.id).await.unwrap(),
        variables! { "n": 1 }
    );

    let err = env
        .client
        .start_process_by_key("no-such-process", &StartProcess::default())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(
        err.to_string()
            .starts_with("POST /process-definition/key/no-such-process/start: HTTP 404"),
        "{err}"
    );
}

#[tokio::test]
async fn deploying_a_file_from_disk() {
    let env = Env::new().await;
    let content = std::fs::read(fixture("client_echo.bpmn")).unwrap();
    let deployment = env
        .client
        .deploy(&DeploymentRequest::new("echo again").resource("client_echo.bpmn", content))
        .await
        .unwrap();
    let def = deployment
        .deployed_process_definitions
        .values()
        .next()
        .unwrap();
    assert_eq!(def.key, "client_echo");
    assert_eq!(def.version, 2);
    assert_eq!(def.resource.as_deref(), Some("client_echo.bpmn"));
}

#[tokio::test]
async fn an_invalid_deployment_is_a_bad_request() {
    let env = Env::new().await;
    let err = env
        .client
        .deploy(&DeploymentRequest::new("broken").resource("broken.bpmn", "<not-bpmn"))
        .await
        .unwrap_err();
    assert!(err.is_bad_request(), "{err}");
}

#[tokio::test]
async fn instance_life_cycle_history_and_cancellation() {
    let env = Env::new().await;
    let instance = env.start(variables! { "x": 1 }, Some("bk")).await;
    let history = env
        .client
        .get_historic_process_instance(&instance)
        .await
        .unwrap();
    assert_eq!(history.state.as_deref(), Some("ACTIVE"));
    assert_eq!(history.business_key.as_deref(), Some("bk"));
    assert_eq!(
        history.process_definition_key.as_deref(),
        Some("client_echo")
    );
    assert!(history.start_time.is_some());
    assert!(history.end_time.is_none());

    env.client.delete_process_instance(&instance).await.unwrap();
    let history = env
        .client
        .get_historic_process_instance(&instance)
        .await
        .unwrap();
    assert_eq!(history.state.as_deref(), Some("EXTERNALLY_TERMINATED"));
    assert!(history.end_time.is_some());
    let err = env
        .client
        .get_process_instance(&instance)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    // Operaton 1.0 and Camunda 7.24 answer the variables of an ended instance with 500
    // NullValueException, not 404 (tests/fixtures/transcripts/*/errors.json).
    let err = env
        .client
        .get_process_variables(&instance)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500), "{err}");
    assert_eq!(err.error_type(), Some("NullValueException"), "{err}");
    // History still has the variables.
    assert_eq!(
        env.client.get_historic_variables(&instance).await.unwrap(),
        variables! { "x": 1 }
    );
    assert_eq!(env.client.version().await.unwrap(), "7.24.0");
}

#[tokio::test]
async fn file_variables_are_downloaded_separately() {
    let env = Env::new().await;
    let file = FileValue {
        filename: "report.txt".into(),
        mime_type: Some("text/plain".into()),
        encoding: Some("UTF-8".into()),
        content: Some(b"hello, file".to_vec()),
    };
    let instance = env
        .start(variables! { "report": Value::File(file.clone()) }, None)
        .await;
    let task = env.fetch_one("w", TOPIC).await;
    // Fetched without content.
    let fetched = task.variables().unwrap();
    let Some(Value::File(meta)) = fetched.get("report") else {
        panic!("not a file: {fetched:?}");
    };
    assert_eq!(meta.filename, "report.txt");
    assert_eq!(meta.mime_type.as_deref(), Some("text/plain"));
    assert_eq!(meta.content, None);

    let downloaded = task.download_file(&env.client, "report").await.unwrap();
    assert_eq!(downloaded, file);
    assert_eq!(
        env.client
            .get_process_variable_data(&instance, "report")
            .await
            .unwrap(),
        b"hello, file"
    );
    let err = task
        .download_file(&env.client, "missing")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn a_client_for_a_base_url_with_a_trailing_slash_works() {
    let env = Env::new().await;
    let client = CamundaClient::new(format!("{}/", env.engine.url())).unwrap();
    assert_eq!(client.version().await.unwrap(), "7.24.0");
}
