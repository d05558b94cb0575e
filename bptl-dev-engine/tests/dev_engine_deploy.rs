//! Deployments, process definitions and process instances over HTTP.
#![allow(clippy::unwrap_used)]

mod dev_engine_support;

use dev_engine_support::{Api, fixture, multipart};
use serde_json::json;

async fn deploy(api: &Api, parts: &[(&str, Option<&str>, &str)]) -> dev_engine_support::Answer {
    let (content_type, body) = multipart(parts);
    api.send(
        api.http
            .post(format!("{}/deployment/create", api.base))
            .header("content-type", content_type)
            .body(body),
    )
    .await
}

#[tokio::test]
async fn deployment_create_answers_like_camunda_and_versions_increase() {
    let api = Api::new().await;
    let xml = std::fs::read_to_string(fixture("two_steps.bpmn")).unwrap();
    let answer = deploy(
        &api,
        &[
            ("deployment-name", None, "my deployment"),
            ("data", Some("two_steps.bpmn"), &xml),
        ],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    assert_eq!(answer.body["name"], "my deployment");
    assert!(answer.body["id"].is_string());
    let time = answer.body["deploymentTime"].as_str().unwrap();
    assert_eq!(time.len(), 28, "Camunda date format: {time}");
    let defs = answer.body["deployedProcessDefinitions"]
        .as_object()
        .unwrap();
    assert_eq!(defs.len(), 1);
    let (id, def) = defs.iter().next().unwrap();
    assert_eq!(def["id"], *id);
    assert_eq!(def["key"], "two_steps");
    assert_eq!(def["version"], 2, "the fixture deployed version 1 already");
    assert_eq!(def["resource"], "two_steps.bpmn");
    assert_eq!(def["deploymentId"], answer.body["id"]);

    // Start uses the latest version.
    let started = api
        .post(
            "/process-definition/key/two_steps/start",
            json!({"businessKey": "bk-1"}),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    assert_eq!(started.body["definitionId"], *id);
    assert_eq!(started.body["businessKey"], "bk-1");
    assert_eq!(started.body["ended"], false);
    assert_eq!(started.body["suspended"], false);
    assert!(started.body["links"].is_array());

    let latest = api.get("/process-definition/key/two_steps").await;
    assert_eq!(latest.status, 200);
    assert_eq!(latest.body["version"], 2);

    let all = api.get("/process-definition?key=two_steps").await;
    assert_eq!(all.body.as_array().unwrap().len(), 2);
    let latest_only = api
        .get("/process-definition?key=two_steps&latestVersion=true")
        .await;
    let list = latest_only.body.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], *id);
    let v1 = api.get("/process-definition?key=two_steps&version=1").await;
    assert_eq!(v1.body.as_array().unwrap()[0]["version"], 1);

    // Start by definition id.
    let by_id = api
        .post(&format!("/process-definition/{id}/start"), json!({}))
        .await;
    assert_eq!(by_id.status, 200, "{}", by_id.text);
    assert_eq!(by_id.body["definitionId"], *id);
}

#[tokio::test]
async fn unsupported_elements_are_refused_naming_element_and_id() {
    let api = Api::new().await;
    let xml = std::fs::read_to_string(fixture("unsupported_user_task.bpmn")).unwrap();
    let answer = deploy(
        &api,
        &[
            ("deployment-name", None, "bad"),
            ("data", Some("unsupported_user_task.bpmn"), &xml),
        ],
    )
    .await;
    let message = answer.error(400, "ParseException");
    assert!(message.contains("userTask"), "{message}");
    assert!(message.contains("Approve_Order"), "{message}");
    // Nothing was deployed.
    let missing = api.get("/process-definition/key/needs_a_human").await;
    missing.error(404, "RestException");

    // The Rust-side deploy reports the same.
    let err = api
        .engine
        .deploy_file(fixture("unsupported_user_task.bpmn"))
        .unwrap_err();
    assert!(err.to_string().contains("Approve_Order"), "{err}");

    // A gateway, a timer start event and a non-external service task are refused too.
    let gateway = r#"<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"><bpmn:timerEventDefinition id="Timer_1"/></bpmn:startEvent>
<bpmn:exclusiveGateway id="Gateway_7"/><bpmn:serviceTask id="Java_Task" camunda:class="x.Y"/></bpmn:process></bpmn:definitions>"#;
    let err = api
        .engine
        .deploy_str("gw.bpmn", gateway)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Gateway_7") && err.contains("exclusiveGateway"),
        "{err}"
    );
    assert!(
        err.contains("timerEventDefinition") && err.contains("Timer_1"),
        "{err}"
    );
    assert!(err.contains("Java_Task"), "{err}");
}

#[tokio::test]
async fn duplicate_filtering_skips_unchanged_resources() {
    let api = Api::new().await;
    let xml = std::fs::read_to_string(fixture("two_steps.bpmn")).unwrap();
    let parts = [
        ("deployment-name", None, "dup"),
        ("enable-duplicate-filtering", None, "true"),
        ("data", Some("two_steps.bpmn"), xml.as_str()),
    ];
    let first = deploy(&api, &parts).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(first.body["deployedProcessDefinitions"].is_object());
    let second = deploy(&api, &parts).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(
        second.body["id"], first.body["id"],
        "the existing deployment is returned"
    );
    assert!(second.body["deployedProcessDefinitions"].is_null());
    let versions = api.get("/process-definition?key=two_steps").await;
    assert_eq!(versions.body.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn unknown_keys_and_instances_answer_404() {
    let api = Api::new().await;
    let start = api
        .post("/process-definition/key/nope/start", json!({}))
        .await;
    start.error(404, "RestException");
    api.get("/process-definition/key/nope")
        .await
        .error(404, "RestException");
    // Operaton 1.0 and Camunda 7.24 answer these with InvalidRequestException
    // (tests/fixtures/transcripts/*/errors.json).
    api.get("/process-instance/nope")
        .await
        .error(404, "InvalidRequestException");
    api.get("/history/process-instance/nope")
        .await
        .error(404, "InvalidRequestException");
    api.delete("/process-instance/nope")
        .await
        .error(404, "InvalidRequestException");
    let malformed = api
        .send(
            api.http
                .post(format!("{}/process-definition/key/double/start", api.base))
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    malformed.error(400, "InvalidRequestException");
}

#[tokio::test]
async fn instances_run_to_the_end_and_keep_history() {
    let api = Api::new().await;
    let id = api
        .start(
            "two_steps",
            json!({"order": {"value": "A-1", "type": "String"}}),
        )
        .await;
    let running = api.get(&format!("/process-instance/{id}")).await;
    assert_eq!(running.status, 200);
    assert_eq!(running.body["id"], id);
    assert_eq!(api.history_state(&id).await, "ACTIVE");

    let a = api.fetch_one("w", "step-a", 10_000).await;
    let done = api
        .post(
            &format!("/external-task/{a}/complete"),
            json!({"workerId": "w", "variables": {"a": {"value": 1, "type": "Integer"}}}),
        )
        .await;
    assert_eq!(done.status, 204, "{}", done.text);
    let vars = api.get(&format!("/process-instance/{id}/variables")).await;
    assert_eq!(
        vars.body["a"],
        json!({"type": "Integer", "value": 1, "valueInfo": {}})
    );
    assert_eq!(vars.body["order"]["value"], "A-1");

    let b = api.fetch_one("w", "step-b", 10_000).await;
    let done = api
        .post(
            &format!("/external-task/{b}/complete"),
            json!({"workerId": "w"}),
        )
        .await;
    assert_eq!(done.status, 204, "{}", done.text);

    api.get(&format!("/process-instance/{id}"))
        .await
        .error(404, "InvalidRequestException");
    let history = api.get(&format!("/history/process-instance/{id}")).await;
    assert_eq!(history.body["state"], "COMPLETED");
    assert!(history.body["endTime"].is_string());
    assert!(history.body["startTime"].is_string());
    assert_eq!(history.body["processDefinitionKey"], "two_steps");
    assert_eq!(
        api.history_var(&id, "a").await,
        Some(("Integer".to_string(), json!(1)))
    );
    assert_eq!(
        api.history_var(&id, "order").await,
        Some(("String".to_string(), json!("A-1")))
    );
    let record = api
        .history_vars(&id)
        .await
        .into_iter()
        .find(|v| v["name"] == "a")
        .unwrap();
    assert_eq!(record["processInstanceId"], id);
    assert!(record["id"].is_string());
    assert_eq!(
        api.engine.instance_state(&id),
        Some(bptl_dev_engine::InstanceState::Completed)
    );
}

#[tokio::test]
async fn deleting_an_instance_cancels_its_task() {
    let api = Api::new().await;
    let id = api
        .start("double", json!({"amount": {"value": 2, "type": "Integer"}}))
        .await;
    let task = api.fetch_one("w", "double", 10_000).await;
    let deleted = api.delete(&format!("/process-instance/{id}")).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert_eq!(api.history_state(&id).await, "EXTERNALLY_TERMINATED");
    let message = api
        .post(
            &format!("/external-task/{task}/complete"),
            json!({"workerId": "w"}),
        )
        .await
        .error(404, "RestException");
    assert_eq!(
        message,
        format!("External task with id {task} does not exist")
    );
    api.post(
        &format!("/external-task/{task}/extendLock"),
        json!({"workerId": "w", "newDuration": 1000}),
    )
    .await
    .error(404, "RestException");
    assert_eq!(api.engine.open_task_count(), 0);
}

#[tokio::test]
async fn rust_side_helpers_see_the_same_state() {
    let api = Api::new().await;
    let id = api
        .engine
        .start_process(
            "double",
            json!({"amount": {"value": 4, "type": "Integer"}}),
            Some("bk"),
        )
        .unwrap();
    assert_eq!(api.engine.open_task_count(), 1);
    assert_eq!(api.engine.active_instance_count(), 1);
    let tasks = api.engine.external_tasks(Some("double"));
    assert_eq!(tasks[0]["businessKey"], "bk");
    assert_eq!(
        api.engine.instance_variables(&id).unwrap()["amount"]["value"],
        4
    );
    let task = api.fetch_one("w", "double", 10_000).await;
    api.post(
        &format!("/external-task/{task}/complete"),
        json!({"workerId": "w", "variables": {"doubled": {"value": 8, "type": "Integer"}}}),
    )
    .await;
    api.engine
        .wait_until_all_ended(std::time::Duration::from_secs(5))
        .await
        .unwrap();
    assert!(api.engine.instance_variables(&id).is_none());
    assert_eq!(
        api.engine.history_variables(&id).unwrap()["doubled"]["value"],
        8
    );

    // wait_until_all_ended times out while an instance runs.
    api.engine.start_process("double", json!({}), None).unwrap();
    let err = api
        .engine
        .wait_until_all_ended(std::time::Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("still active"), "{err}");
    api.engine.shutdown().await;
}
