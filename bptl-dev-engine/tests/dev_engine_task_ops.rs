//! complete, failure, bpmnError, extendLock, lock, unlock, retries: Camunda's rules.
#![allow(clippy::unwrap_used)]

mod dev_engine_support;

use std::time::Duration;

use dev_engine_support::Api;
use serde_json::{Value, json};

#[tokio::test]
async fn complete_merges_variables_and_keeps_local_ones_local() {
    let api = Api::new().await;
    let id = api
        .start(
            "double",
            json!({"amount": {"value": 21, "type": "Integer"}}),
        )
        .await;
    let task = api.fetch_one("w", "double", 10_000).await;
    let done = api
        .post(
            &format!("/external-task/{task}/complete"),
            json!({"workerId": "w",
                   "variables": {"doubled": {"value": 42, "type": "Integer"}},
                   "localVariables": {"scratch": {"value": "tmp", "type": "String"}}}),
        )
        .await;
    assert_eq!(done.status, 204, "{}", done.text);
    assert_eq!(api.history_state(&id).await, "COMPLETED");
    assert_eq!(
        api.history_var(&id, "doubled").await,
        Some(("Integer".into(), json!(42)))
    );
    // Local variables stay local: not process variables, but history lists them on the
    // task's execution, as Operaton 1.0 and Camunda 7.24 do
    // (tests/fixtures/transcripts/*/task_ops.json).
    assert!(
        api.engine
            .history_variables(&id)
            .is_some_and(|vars| vars.get("scratch").is_none()),
        "local variables are not process variables"
    );
    let scratch = api
        .history_vars(&id)
        .await
        .into_iter()
        .find(|v| v["name"] == "scratch")
        .expect("history lists the local variable");
    assert_eq!(scratch["value"], "tmp");
    assert_ne!(scratch["executionId"], json!(id), "on the task's execution");
    // Completing twice: the task is gone.
    api.post(
        &format!("/external-task/{task}/complete"),
        json!({"workerId": "w"}),
    )
    .await
    .error(404, "RestException");
}

#[tokio::test]
async fn only_the_lock_holder_may_complete_fail_or_raise() {
    let api = Api::new().await;
    api.start("double", json!({})).await;
    let task = api.fetch_one("holder", "double", 10_000).await;
    let message = api
        .post(
            &format!("/external-task/{task}/complete"),
            json!({"workerId": "intruder"}),
        )
        .await
        .error(400, "RestException");
    assert_eq!(
        message,
        format!(
            "External Task {task} cannot be completed by worker 'intruder'. It is locked by worker 'holder'."
        )
    );
    let message = api
        .post(
            &format!("/external-task/{task}/failure"),
            json!({"workerId": "intruder", "errorMessage": "x", "retries": 1, "retryTimeout": 0}),
        )
        .await
        .error(400, "RestException");
    assert_eq!(
        message,
        format!(
            "Failure of External Task {task} cannot be reported by worker 'intruder'. It is locked by worker 'holder'."
        )
    );
    let message = api
        .post(
            &format!("/external-task/{task}/bpmnError"),
            json!({"workerId": "intruder", "errorCode": "NEGATIVE"}),
        )
        .await
        .error(400, "RestException");
    assert_eq!(
        message,
        format!(
            "Bpmn error of External Task {task} cannot be reported by worker 'intruder'. It is locked by worker 'holder'."
        )
    );
    api.post(
        "/external-task/does-not-exist/complete",
        json!({"workerId": "w"}),
    )
    .await
    .error(404, "RestException");
    // Missing workerId is a NullValueException (500), like Camunda.
    api.post(&format!("/external-task/{task}/complete"), json!({}))
        .await
        .error(500, "NullValueException");
}

#[tokio::test]
async fn an_expired_lock_still_counts_unless_someone_else_fetched() {
    let api = Api::new().await;
    let i1 = api.start("double", json!({})).await;
    let t1 = api.fetch_one("slow", "double", 30).await;
    tokio::time::sleep(Duration::from_millis(80)).await;
    let done = api
        .post(
            &format!("/external-task/{t1}/complete"),
            json!({"workerId": "slow"}),
        )
        .await;
    assert_eq!(
        done.status, 204,
        "the expired holder may still complete: {}",
        done.text
    );
    assert_eq!(api.history_state(&i1).await, "COMPLETED");

    api.start("double", json!({})).await;
    let t2 = api.fetch_one("slow", "double", 30).await;
    tokio::time::sleep(Duration::from_millis(80)).await;
    let t2b = api.fetch_one("fast", "double", 10_000).await;
    assert_eq!(t2, t2b);
    let message = api
        .post(
            &format!("/external-task/{t2}/complete"),
            json!({"workerId": "slow"}),
        )
        .await
        .error(400, "RestException");
    assert!(
        message.contains("It is locked by worker 'fast'."),
        "{message}"
    );
}

#[tokio::test]
async fn failure_sets_retries_and_hides_the_task_until_the_retry_timeout() {
    let api = Api::new().await;
    let instance = api.start("double", json!({})).await;
    let task = api.fetch_one("w", "double", 10_000).await;
    let failed = api
        .post(
            &format!("/external-task/{task}/failure"),
            json!({"workerId": "w", "errorMessage": "boom", "errorDetails": "stack trace",
                   "retries": 2, "retryTimeout": 1500,
                   "variables": {"attempt": {"value": 1, "type": "Integer"}},
                   "localVariables": {"localNote": {"value": "n", "type": "String"}}}),
        )
        .await;
    assert_eq!(failed.status, 204, "{}", failed.text);
    let info = api.get(&format!("/external-task/{task}")).await;
    assert_eq!(info.body["retries"], 2);
    assert_eq!(info.body["errorMessage"], "boom");
    assert!(
        info.body.get("variables").is_none(),
        "GET /external-task/{{id}} has no variables"
    );
    let details = api
        .get(&format!("/external-task/{task}/errorDetails"))
        .await;
    assert_eq!(details.status, 200);
    assert_eq!(details.text, "stack trace");
    let vars = api
        .get(&format!("/process-instance/{instance}/variables"))
        .await;
    assert_eq!(vars.body["attempt"]["value"], 1);
    assert!(vars.body.get("localNote").is_none());

    assert!(
        api.fetch("w", "double", 1, 1000).await.is_empty(),
        "hidden during the retry timeout"
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let again = api
        .post(
            "/external-task/fetchAndLock",
            json!({"workerId": "w", "maxTasks": 1,
                   "topics": [{"topicName": "double", "lockDuration": 1000, "localVariables": true}]}),
        )
        .await;
    let t = &again.body[0];
    assert_eq!(t["id"], task);
    assert_eq!(t["retries"], 2);
    assert_eq!(t["errorDetails"], "stack trace");
    assert_eq!(
        t["variables"],
        json!({"localNote": {"type": "String", "value": "n", "valueInfo": {}}})
    );
}

#[tokio::test]
async fn retries_zero_raise_an_incident_until_retries_are_set() {
    let api = Api::new().await;
    let instance = api.start("double", json!({})).await;
    let task = api.fetch_one("w", "double", 10_000).await;
    let long_message: String = "x".repeat(1000);
    let failed = api
        .post(
            &format!("/external-task/{task}/failure"),
            json!({"workerId": "w", "errorMessage": long_message, "retries": 0, "retryTimeout": 0}),
        )
        .await;
    assert_eq!(failed.status, 204);
    let incidents = api
        .get(&format!("/incident?processInstanceId={instance}"))
        .await;
    let list = incidents.body.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["incidentType"], "failedExternalTask");
    assert_eq!(list[0]["configuration"], task);
    assert_eq!(list[0]["processInstanceId"], instance);
    assert_eq!(list[0]["activityId"], "Task_Double");
    assert_eq!(list[0]["incidentMessage"].as_str().unwrap().len(), 666);
    assert!(
        api.fetch("w", "double", 1, 1000).await.is_empty(),
        "no retries left"
    );
    assert_eq!(
        api.get("/external-task/count?noRetriesLeft=true")
            .await
            .body["count"],
        1
    );

    api.put(
        &format!("/external-task/{task}/retries"),
        json!({"retries": null}),
    )
    .await
    .error(400, "InvalidRequestException");
    let negative = api
        .put(
            &format!("/external-task/{task}/retries"),
            json!({"retries": -1}),
        )
        .await;
    assert_eq!(negative.status, 400, "{}", negative.text);
    api.put("/external-task/nope/retries", json!({"retries": 1}))
        .await
        .error(404, "RestException");

    let set = api
        .put(
            &format!("/external-task/{task}/retries"),
            json!({"retries": 3}),
        )
        .await;
    assert_eq!(set.status, 204, "{}", set.text);
    assert!(
        api.engine.incidents(Some(&instance)).is_empty(),
        "incident resolved"
    );
    assert_eq!(api.fetch_one("w", "double", 1000).await, task);
}

#[tokio::test]
async fn failure_without_retries_means_zero_and_negative_values_are_500() {
    let api = Api::new().await;
    api.start("double", json!({})).await;
    let task = api.fetch_one("w", "double", 10_000).await;
    api.post(
        &format!("/external-task/{task}/failure"),
        json!({"workerId": "w", "errorMessage": "m", "retries": -1, "retryTimeout": 0}),
    )
    .await
    .error(500, "ProcessEngineException");
    api.post(
        &format!("/external-task/{task}/failure"),
        json!({"workerId": "w", "errorMessage": "m", "retries": 1, "retryTimeout": -5}),
    )
    .await
    .error(500, "ProcessEngineException");
    let omitted = api
        .post(
            &format!("/external-task/{task}/failure"),
            json!({"workerId": "w", "errorMessage": "m"}),
        )
        .await;
    assert_eq!(omitted.status, 204);
    assert_eq!(api.engine.incidents(None).len(), 1);
}

#[tokio::test]
async fn bpmn_errors_take_the_boundary_path() {
    let api = Api::new().await;
    // Specific code → Task_Reject, with errorCodeVariable / errorMessageVariable.
    let rejected = api
        .start(
            "double",
            json!({"amount": {"value": -1, "type": "Integer"}}),
        )
        .await;
    let task = api.fetch_one("w", "double", 10_000).await;
    let raised = api
        .post(
            &format!("/external-task/{task}/bpmnError"),
            json!({"workerId": "w", "errorCode": "NEGATIVE", "errorMessage": "below zero",
                   "variables": {"reason": {"value": "negative", "type": "String"}}}),
        )
        .await;
    assert_eq!(raised.status, 204, "{}", raised.text);
    let reject = api.fetch("w", "reject", 1, 10_000).await;
    assert_eq!(reject.len(), 1);
    assert_eq!(reject[0]["processInstanceId"], rejected);
    assert_eq!(reject[0]["activityId"], "Task_Reject");
    assert_eq!(reject[0]["variables"]["reason"]["value"], "negative");
    assert_eq!(reject[0]["variables"]["caughtCode"]["value"], "NEGATIVE");
    assert_eq!(
        reject[0]["variables"]["caughtMessage"]["value"],
        "below zero"
    );

    // Any other code → the catch-all boundary → EndEvent_Failed.
    let other = api.start("double", json!({})).await;
    let task = api.fetch_one("w", "double", 10_000).await;
    let raised = api
        .post(
            &format!("/external-task/{task}/bpmnError"),
            json!({"workerId": "w", "errorCode": "WHATEVER"}),
        )
        .await;
    assert_eq!(raised.status, 204);
    let history = api.get(&format!("/history/process-instance/{other}")).await;
    assert_eq!(history.body["state"], "COMPLETED");
    // It ended at EndEvent_Failed, not on the NEGATIVE path: no reject task for it.
    // (Camunda's historic instance has no endActivityId field to read it from.)
    assert!(
        api.fetch("w", "reject", 10, 10_000)
            .await
            .iter()
            .all(|t| t["processInstanceId"] != other.as_str()),
        "the catch-all boundary does not lead to the reject task"
    );

    // Missing errorCode → 500.
    api.start("double", json!({})).await;
    let task = api.fetch_one("w", "double", 10_000).await;
    api.post(
        &format!("/external-task/{task}/bpmnError"),
        json!({"workerId": "w"}),
    )
    .await
    .error(500, "NullValueException");
}

#[tokio::test]
async fn uncaught_bpmn_errors_end_the_instance() {
    let api = Api::new().await;
    let id = api.start("two_steps", json!({})).await;
    let task = api.fetch_one("w", "step-a", 10_000).await;
    let raised = api
        .post(
            &format!("/external-task/{task}/bpmnError"),
            json!({"workerId": "w", "errorCode": "X", "variables": {"why": {"value": "no", "type": "String"}}}),
        )
        .await;
    assert_eq!(raised.status, 204);
    assert_eq!(api.history_state(&id).await, "COMPLETED");
    assert_eq!(
        api.history_var(&id, "why").await,
        Some(("String".into(), json!("no")))
    );
    assert!(api.fetch("w", "step-b", 1, 1000).await.is_empty());
}

#[tokio::test]
async fn extend_lock_rules() {
    let api = Api::new().await;
    api.start("double", json!({})).await;
    let task = api.fetch_one("w", "double", 1_000).await;
    let before = std::time::SystemTime::now();
    let ok = api
        .post(
            &format!("/external-task/{task}/extendLock"),
            json!({"workerId": "w", "newDuration": 600_000}),
        )
        .await;
    assert_eq!(ok.status, 204, "{}", ok.text);
    // now + newDuration, not old expiry + newDuration: about 10 minutes from now.
    let info = api.get(&format!("/external-task/{task}")).await;
    let expiry = info.body["lockExpirationTime"]
        .as_str()
        .unwrap()
        .to_string();
    let expiry: jiff::Timestamp = jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%.f%z", &expiry)
        .unwrap()
        .to_timestamp()
        .unwrap();
    let expected =
        jiff::Timestamp::try_from(before).unwrap() + jiff::SignedDuration::from_secs(600);
    let delta = (expiry.as_millisecond() - expected.as_millisecond()).abs();
    assert!(delta < 2_000, "expiry {expiry} vs expected {expected}");

    let message = api
        .post(
            &format!("/external-task/{task}/extendLock"),
            json!({"workerId": "other", "newDuration": 1000}),
        )
        .await
        .error(400, "RestException");
    assert!(
        message.contains("cannot be extended by worker 'other'"),
        "{message}"
    );
    assert!(message.contains("It is locked by worker 'w'."), "{message}");
    // Without a worker id: 500 NullValueException in Operaton 1.0 and Camunda 7.24
    // (tests/fixtures/transcripts/*/errors.json), like complete and failure.
    let message = api
        .post(
            &format!("/external-task/{task}/extendLock"),
            json!({"newDuration": 1000}),
        )
        .await
        .error(500, "NullValueException");
    assert_eq!(message, "workerId is null");
    api.post(
        "/external-task/nope/extendLock",
        json!({"workerId": "w", "newDuration": 1000}),
    )
    .await
    .error(404, "RestException");

    // Expired lock → "Cannot extend a lock that expired".
    api.start("two_steps", json!({})).await;
    let short = api.fetch_one("w", "step-a", 20).await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    let message = api
        .post(
            &format!("/external-task/{short}/extendLock"),
            json!({"workerId": "w", "newDuration": 1000}),
        )
        .await
        .error(400, "RestException");
    assert!(
        message.starts_with("Cannot extend a lock that expired"),
        "{message}"
    );

    // A task nobody locked cannot be extended either.
    api.post(&format!("/external-task/{short}/unlock"), json!({}))
        .await;
    api.post(
        &format!("/external-task/{short}/extendLock"),
        json!({"workerId": "w", "newDuration": 1000}),
    )
    .await
    .error(400, "RestException");
}

#[tokio::test]
async fn lock_and_unlock() {
    let api = Api::new().await;
    api.start("double", json!({})).await;
    let task = api.engine.external_tasks(Some("double"))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let locked = api
        .post(
            &format!("/external-task/{task}/lock"),
            json!({"workerId": "a", "lockDuration": 60_000}),
        )
        .await;
    assert_eq!(locked.status, 204, "{}", locked.text);
    assert_eq!(
        api.get(&format!("/external-task/{task}")).await.body["workerId"],
        "a"
    );
    assert!(api.fetch("b", "double", 1, 1000).await.is_empty());
    let message = api
        .post(
            &format!("/external-task/{task}/lock"),
            json!({"workerId": "b", "lockDuration": 1000}),
        )
        .await
        .error(400, "RestException");
    assert_eq!(
        message,
        format!("External Task {task} cannot be locked by worker 'b'. It is locked by worker 'a'.")
    );
    api.post(
        "/external-task/nope/lock",
        json!({"workerId": "b", "lockDuration": 1000}),
    )
    .await
    .error(404, "RestException");

    let unlocked = api
        .post(&format!("/external-task/{task}/unlock"), Value::Null)
        .await;
    assert_eq!(unlocked.status, 204);
    let info = api.get(&format!("/external-task/{task}")).await;
    assert_eq!(info.body["workerId"], Value::Null);
    assert_eq!(info.body["lockExpirationTime"], Value::Null);
    assert_eq!(api.fetch_one("b", "double", 1000).await, task);
    api.post("/external-task/nope/unlock", json!({}))
        .await
        .error(404, "RestException");
    api.get("/external-task/nope")
        .await
        .error(404, "RestException");
    let absent = api
        .get(&format!("/external-task/{task}/errorDetails"))
        .await;
    assert_eq!(absent.status, 204, "no error details yet");
}
