//! The history is bounded (`DevEngineBuilder::history_limit`): the oldest ended instances
//! leave it, running ones never; `GET /process-instance` lists running instances by its
//! filters; a historic variable is found by its id.
#![allow(clippy::unwrap_used)]

mod dev_engine_support;

use bptl_dev_engine::DevEngine;
use dev_engine_support::Api;
use serde_json::{Value, json};

/// Starts a `double` instance with a business key and runs its task to the end.
async fn run_one(api: &Api, business_key: &str) -> String {
    let answer = api
        .post(
            "/process-definition/key/double/start",
            json!({"businessKey": business_key,
                   "variables": {"amount": {"value": 1, "type": "Integer"}}}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let id = answer.body["id"].as_str().unwrap().to_string();
    let task = api.fetch_one("w", "double", 10_000).await;
    let done = api
        .post(
            &format!("/external-task/{task}/complete"),
            json!({"workerId": "w", "variables": {"doubled": {"value": 2, "type": "Integer"}}}),
        )
        .await;
    assert_eq!(done.status, 204, "{}", done.text);
    id
}

fn ids(answer: &Value) -> Vec<String> {
    answer
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_oldest_ended_instances_leave_the_history_beyond_its_limit() {
    let api = Api::with(DevEngine::builder().history_limit(2)).await;
    let running = api
        .start("double", json!({"amount": {"value": 5, "type": "Integer"}}))
        .await;
    // The running instance's task stays locked by another worker.
    api.fetch_one("other", "double", 600_000).await;
    let first = run_one(&api, "a").await;
    let first_var = api.history_vars(&first).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let second = run_one(&api, "b").await;
    let third = run_one(&api, "c").await;

    let gone = api.get(&format!("/history/process-instance/{first}")).await;
    assert!(
        gone.error(404, "InvalidRequestException")
            .contains("does not exist")
    );
    assert!(api.history_vars(&first).await.is_empty());
    let data = api
        .get(&format!("/history/variable-instance/{first_var}/data"))
        .await;
    assert!(
        data.error(404, "InvalidRequestException")
            .contains("does not exist")
    );
    assert_eq!(api.engine.instance_state(&first), None);
    assert_eq!(api.history_state(&second).await, "COMPLETED");
    assert_eq!(api.history_state(&third).await, "COMPLETED");
    assert_eq!(api.history_state(&running).await, "ACTIVE");
    let all = api.get("/history/process-instance").await;
    let mut listed = ids(&all.body);
    listed.sort();
    let mut expected = vec![running.clone(), second.clone(), third.clone()];
    expected.sort();
    assert_eq!(listed, expected);
    // A kept historic variable is still found by its id (an Integer has no binary content:
    // Camunda's 400, not the 404 of an unknown id).
    let kept = api.history_vars(&third).await;
    let doubled = kept.iter().find(|v| v["name"] == "doubled").unwrap();
    let data = api
        .get(&format!(
            "/history/variable-instance/{}/data",
            doubled["id"].as_str().unwrap()
        ))
        .await;
    assert!(
        data.error(400, "RestException")
            .contains("is not a binary value")
    );
}

#[tokio::test]
async fn the_process_instance_list_has_running_instances_by_key_and_business_key() {
    let api = Api::new().await;
    let start = |key: &'static str, business_key: &'static str| {
        let api = &api;
        async move {
            let answer = api
                .post(
                    &format!("/process-definition/key/{key}/start"),
                    json!({"businessKey": business_key,
                           "variables": {"amount": {"value": 1, "type": "Integer"}}}),
                )
                .await;
            assert_eq!(answer.status, 200, "{}", answer.text);
            answer.body["id"].as_str().unwrap().to_string()
        }
    };
    let ended = run_one(&api, "x").await;
    let d1 = start("double", "x").await;
    let t1 = start("two_steps", "x").await;
    let d2 = start("double", "y").await;
    let list = |query: &'static str| {
        let api = &api;
        async move {
            let answer = api.get(&format!("/process-instance{query}")).await;
            assert_eq!(answer.status, 200, "{}", answer.text);
            let mut ids = ids(&answer.body);
            ids.sort();
            ids
        }
    };
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    assert_eq!(api.history_state(&ended).await, "COMPLETED");
    assert_eq!(
        list("").await,
        sorted(vec![d1.clone(), t1.clone(), d2.clone()])
    );
    assert_eq!(
        list("?processDefinitionKey=double").await,
        sorted(vec![d1.clone(), d2.clone()])
    );
    assert_eq!(
        list("?businessKey=x").await,
        sorted(vec![d1.clone(), t1.clone()])
    );
    assert_eq!(
        list("?businessKey=y&processDefinitionKey=double").await,
        vec![d2.clone()]
    );
    assert!(
        list("?businessKey=y&processDefinitionKey=two_steps")
            .await
            .is_empty()
    );
    assert!(list("?businessKey=nobody").await.is_empty());
}
