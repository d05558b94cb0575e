//! fetchAndLock (without long polling) and the external-task queries.
#![allow(clippy::unwrap_used)]

mod dev_engine_support;

use std::collections::HashSet;

use dev_engine_support::Api;
use serde_json::{Value, json};

async fn fetch_raw(api: &Api, body: Value) -> Vec<Value> {
    let answer = api.post("/external-task/fetchAndLock", body).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.body.as_array().unwrap().clone()
}

#[tokio::test]
async fn fetched_tasks_carry_every_field_of_the_reference() {
    let api = Api::new().await;
    let id = api
        .start(
            "double",
            json!({"amount": {"value": 21, "type": "Integer"}, "other": {"value": "x", "type": "String"}}),
        )
        .await;
    let tasks = fetch_raw(
        &api,
        json!({"workerId": "w1", "maxTasks": 5, "usePriority": true,
               "topics": [{"topicName": "double", "lockDuration": 60000, "variables": ["amount"],
                           "includeExtensionProperties": true}]}),
    )
    .await;
    assert_eq!(tasks.len(), 1);
    let t = &tasks[0];
    for field in [
        "activityId",
        "activityInstanceId",
        "errorMessage",
        "errorDetails",
        "executionId",
        "id",
        "lockExpirationTime",
        "createTime",
        "processDefinitionId",
        "processDefinitionKey",
        "processDefinitionVersionTag",
        "processInstanceId",
        "tenantId",
        "retries",
        "suspended",
        "workerId",
        "topicName",
        "priority",
        "businessKey",
        "variables",
        "extensionProperties",
    ] {
        assert!(t.get(field).is_some(), "missing {field} in {t}");
    }
    assert_eq!(t["activityId"], "Task_Double");
    assert_eq!(t["processInstanceId"], id);
    assert_eq!(t["processDefinitionKey"], "double");
    assert_eq!(t["processDefinitionVersionTag"], "1.0");
    assert_eq!(t["workerId"], "w1");
    assert_eq!(t["topicName"], "double");
    assert_eq!(t["priority"], 5);
    assert_eq!(
        t["retries"],
        Value::Null,
        "retries are null until the first failure"
    );
    assert_eq!(t["suspended"], false);
    assert_eq!(t["tenantId"], Value::Null);
    assert_eq!(t["errorMessage"], Value::Null);
    assert_eq!(t["lockExpirationTime"].as_str().unwrap().len(), 28);
    assert_eq!(
        t["variables"],
        json!({"amount": {"type": "Integer", "value": 21, "valueInfo": {}}}),
        "only the requested variables"
    );
    assert_eq!(t["extensionProperties"], json!({"unit": "double"}));

    // A locked task is not fetched again.
    assert!(api.fetch("w2", "double", 5, 1000).await.is_empty());
}

#[tokio::test]
async fn variables_absent_or_null_return_all_and_extension_properties_need_asking() {
    let api = Api::new().await;
    api.start(
        "double",
        json!({"a": {"value": 1, "type": "Integer"}, "b": {"value": true, "type": "Boolean"}}),
    )
    .await;
    api.start("double", json!({"a": {"value": 2, "type": "Integer"}}))
        .await;
    let tasks = fetch_raw(
        &api,
        json!({"workerId": "w", "maxTasks": 1,
               "topics": [{"topicName": "double", "lockDuration": 1000, "variables": null}]}),
    )
    .await;
    assert_eq!(tasks[0]["variables"].as_object().unwrap().len(), 2);
    assert_eq!(tasks[0]["extensionProperties"], json!({}));
    let tasks = api.fetch("w", "double", 1, 1000).await;
    assert_eq!(tasks[0]["variables"]["a"]["value"], 2);
}

#[tokio::test]
async fn max_tasks_zero_and_unknown_fields() {
    let api = Api::new().await;
    api.start("double", json!({})).await;
    let none = fetch_raw(
        &api,
        json!({"workerId": "w", "maxTasks": 0, "topics": [{"topicName": "double", "lockDuration": 1000}]}),
    )
    .await;
    assert!(none.is_empty());
    let one = fetch_raw(
        &api,
        json!({"workerId": "w", "maxTasks": 3, "someTypo": 1,
               "topics": [{"topicName": "double", "lockDuration": 1000, "alsoUnknown": true}]}),
    )
    .await;
    assert_eq!(one.len(), 1);
}

#[tokio::test]
async fn filters_business_key_definition_and_process_variables() {
    let api = Api::new().await;
    let started = api
        .post(
            "/process-definition/key/double/start",
            json!({"businessKey": "order-7", "variables": {"region": {"value": "north", "type": "String"}}}),
        )
        .await;
    let bk_instance = started.body["id"].as_str().unwrap().to_string();
    let other = api
        .start("double", json!({"region": {"value": "south", "type": "String"}, "n": {"value": 3, "type": "Long"}}))
        .await;

    let by_bk = fetch_raw(
        &api,
        json!({"workerId": "w", "maxTasks": 10,
               "topics": [{"topicName": "double", "lockDuration": 1000, "businessKey": "order-7"}]}),
    )
    .await;
    assert_eq!(by_bk.len(), 1);
    assert_eq!(by_bk[0]["processInstanceId"], bk_instance);
    assert_eq!(by_bk[0]["businessKey"], "order-7");
    api.post(
        &format!("/external-task/{}/unlock", by_bk[0]["id"].as_str().unwrap()),
        json!({}),
    )
    .await;

    let by_var = fetch_raw(
        &api,
        json!({"workerId": "w", "maxTasks": 10,
               "topics": [{"topicName": "double", "lockDuration": 1000,
                           "processVariables": {"region": "south", "n": 3}}]}),
    )
    .await;
    assert_eq!(by_var.len(), 1);
    assert_eq!(by_var[0]["processInstanceId"], other);
    api.post(
        &format!(
            "/external-task/{}/unlock",
            by_var[0]["id"].as_str().unwrap()
        ),
        json!({}),
    )
    .await;

    let wrong_key = fetch_raw(
        &api,
        json!({"workerId": "w", "maxTasks": 10,
               "topics": [{"topicName": "double", "lockDuration": 1000, "processDefinitionKey": "two_steps"}]}),
    )
    .await;
    assert!(wrong_key.is_empty());
    let tenant = fetch_raw(
        &api,
        json!({"workerId": "w", "maxTasks": 10,
               "topics": [{"topicName": "double", "lockDuration": 1000, "tenantIdIn": ["t1"]}]}),
    )
    .await;
    assert!(tenant.is_empty(), "dev engine tasks have no tenant");
    let tag = fetch_raw(
        &api,
        json!({"workerId": "w", "maxTasks": 10,
               "topics": [{"topicName": "double", "lockDuration": 1000, "processDefinitionVersionTag": "2.0"}]}),
    )
    .await;
    assert!(tag.is_empty());
    let def_id = api.get("/process-definition/key/double").await.body["id"].clone();
    let by_key_in = fetch_raw(
        &api,
        json!({"workerId": "w", "maxTasks": 10, "topics": [{"topicName": "double", "lockDuration": 1000,
               "processDefinitionKeyIn": ["double", "x"], "processDefinitionIdIn": [def_id],
               "withoutTenantId": true}]}),
    )
    .await;
    assert_eq!(by_key_in.len(), 2);
}

#[tokio::test]
async fn priority_and_create_time_sorting() {
    let api = Api::new().await;
    let prio = r#"<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
<bpmn:process id="high" isExecutable="true"><bpmn:startEvent id="s"/>
<bpmn:serviceTask id="t" camunda:type="external" camunda:topic="double" camunda:taskPriority="50"/>
<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="t"/></bpmn:process></bpmn:definitions>"#;
    api.engine.deploy_str("high.bpmn", prio).unwrap();
    let first = api.start("double", json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let high = api.start("high", json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let last = api.start("double", json!({})).await;

    let by_priority = fetch_raw(
        &api,
        json!({"workerId": "w", "maxTasks": 1, "usePriority": true,
               "topics": [{"topicName": "double", "lockDuration": 1000}]}),
    )
    .await;
    assert_eq!(by_priority[0]["processInstanceId"], high);
    api.post(
        &format!(
            "/external-task/{}/unlock",
            by_priority[0]["id"].as_str().unwrap()
        ),
        json!({}),
    )
    .await;

    let newest = fetch_raw(
        &api,
        json!({"workerId": "w", "maxTasks": 3,
               "sorting": [{"sortBy": "createTime", "sortOrder": "desc"}],
               "topics": [{"topicName": "double", "lockDuration": 1000}]}),
    )
    .await;
    let order: Vec<&str> = newest
        .iter()
        .map(|t| t["processInstanceId"].as_str().unwrap())
        .collect();
    assert_eq!(order, vec![last.as_str(), high.as_str(), first.as_str()]);
}

#[tokio::test]
async fn expired_locks_make_tasks_fetchable_again() {
    let api = Api::new().await;
    api.start("double", json!({})).await;
    let id = api.fetch_one("w1", "double", 50).await;
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    let again = api.fetch_one("w2", "double", 10_000).await;
    assert_eq!(again, id);
}

#[tokio::test]
async fn concurrent_fetchers_never_share_a_task() {
    let api = std::sync::Arc::new(Api::new().await);
    for _ in 0..60 {
        api.engine.start_process("double", json!({}), None).unwrap();
    }
    let mut handles = Vec::new();
    for w in 0..12 {
        let api = api.clone();
        handles.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let tasks = api.fetch(&format!("w{w}"), "double", 3, 60_000).await;
                if tasks.is_empty() {
                    break;
                }
                got.extend(
                    tasks
                        .into_iter()
                        .map(|t| t["id"].as_str().unwrap().to_string()),
                );
            }
            got
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 60, "every task fetched once");
    assert_eq!(unique.len(), 60, "no task handed to two workers");
}

#[tokio::test]
async fn task_queries_filter_and_count() {
    let api = Api::new().await;
    let i1 = api.start("double", json!({})).await;
    api.start("double", json!({})).await;
    api.start("two_steps", json!({})).await;
    let locked = api.fetch_one("worker-x", "double", 60_000).await;

    let count = |q: &'static str| {
        let api = &api;
        async move {
            let a = api.get(&format!("/external-task/count{q}")).await;
            assert_eq!(a.status, 200, "{}", a.text);
            a.body["count"].as_i64().unwrap()
        }
    };
    assert_eq!(count("").await, 3);
    assert_eq!(count("?topicName=double").await, 2);
    assert_eq!(count("?locked=true").await, 1);
    assert_eq!(count("?notLocked=true").await, 2);
    assert_eq!(count("?workerId=worker-x").await, 1);
    assert_eq!(count("?withRetriesLeft=true").await, 3);
    assert_eq!(count("?noRetriesLeft=true").await, 0);
    assert_eq!(count("?activityId=Step_A").await, 1);
    let list = api
        .get(&format!("/external-task?processInstanceId={i1}"))
        .await;
    let list = list.body.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["processInstanceId"], i1);
    let by_id = api
        .get(&format!("/external-task?externalTaskId={locked}"))
        .await;
    assert_eq!(by_id.body[0]["workerId"], "worker-x");
    assert!(by_id.body[0].get("variables").is_none());
}

#[tokio::test]
async fn invalid_fetch_requests() {
    let api = Api::new().await;
    let malformed = api
        .send(
            api.http
                .post(format!("{}/external-task/fetchAndLock", api.base))
                .header("content-type", "application/json")
                .body("{\"workerId\": "),
        )
        .await;
    malformed.error(400, "InvalidRequestException");
    let too_long = api
        .post(
            "/external-task/fetchAndLock",
            json!({"workerId": "w", "maxTasks": 1, "asyncResponseTimeout": 1_800_001,
                   "topics": [{"topicName": "double", "lockDuration": 1000}]}),
        )
        .await;
    too_long.error(400, "InvalidRequestException");
}
