//! complete, failure, bpmnError, extendLock, lock, unlock, get, list, count, set retries and
//! error details over real HTTP against the dev engine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client_support;

use std::time::Duration;

use bptl_camunda::{BpmnErrorRequest, ExternalTaskQuery, FailureRequest};
use bptl_core::{Value, variables};
use client_support::{Env, TOPIC};
use jiff::Timestamp;

#[tokio::test]
async fn complete_sets_variables_and_local_variables_and_moves_on() {
    let env = Env::new().await;
    let instance = env.start(variables! { "in": 1 }, None).await;
    let task = env.fetch_one("w", TOPIC).await;
    env.client
        .complete_with_local(
            &task.id,
            "w",
            &variables! { "out": "done", "big": 1_i64 << 40 },
            &variables! { "scratch": true },
        )
        .await
        .unwrap();
    assert_eq!(env.state(&instance).await, "COMPLETED");
    let vars = env.client.get_historic_variables(&instance).await.unwrap();
    assert_eq!(vars.get("out"), Some(&Value::from("done")));
    assert_eq!(vars.get("big"), Some(&Value::Long(1 << 40)));
    assert_eq!(vars.get("in"), Some(&Value::Integer(1)));
    // Local variables are not process variables, but history lists them (on the task's
    // execution), as Operaton 1.0 and Camunda 7.24 do (tests/fixtures/transcripts/*/task_ops.json).
    assert_eq!(vars.get("scratch"), Some(&Value::from(true)));
    // Completed: the task is gone.
    let err = env.client.get_external_task(&task.id).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn failure_with_retries_left_makes_the_task_fetchable_after_the_retry_timeout() {
    let env = Env::new().await;
    let instance = env.start(variables! {}, None).await;
    let task = env.fetch_one("w", TOPIC).await;
    let failure = FailureRequest::new("w", "the API is down", 3, Duration::from_millis(300))
        .details("line 1\nline 2")
        .variables(variables! { "lastError": "down" });
    env.client.failure(&task.id, &failure).await.unwrap();
    // Locked until the retry timeout has passed.
    assert!(env.fetch("w", TOPIC, 1).await.is_empty());
    let stored = env.client.get_external_task(&task.id).await.unwrap();
    assert_eq!(stored.retries, Some(3));
    assert_eq!(stored.error_message.as_deref(), Some("the API is down"));
    assert_eq!(
        env.client
            .get_error_details(&task.id)
            .await
            .unwrap()
            .as_deref(),
        Some("line 1\nline 2")
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let again = env.fetch_one("w", TOPIC).await;
    assert_eq!(again.id, task.id);
    assert_eq!(again.retries, Some(3));
    let vars = env.client.get_process_variables(&instance).await.unwrap();
    assert_eq!(vars.get("lastError"), Some(&Value::from("down")));
    assert!(
        env.client
            .list_incidents(&instance)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn failure_without_retries_raises_an_incident_until_retries_are_set() {
    let env = Env::new().await;
    let instance = env.start(variables! {}, None).await;
    let task = env.fetch_one("w", TOPIC).await;
    let failure = FailureRequest::new("w", "broken for good", 0, Duration::ZERO);
    env.client.failure(&task.id, &failure).await.unwrap();
    let incidents = env.client.list_incidents(&instance).await.unwrap();
    assert_eq!(incidents.len(), 1);
    assert_eq!(
        incidents[0].incident_type.as_deref(),
        Some("failedExternalTask")
    );
    assert_eq!(
        incidents[0].incident_message.as_deref(),
        Some("broken for good")
    );
    assert_eq!(
        incidents[0].configuration.as_deref(),
        Some(task.id.as_str())
    );
    assert!(env.fetch("w", TOPIC, 1).await.is_empty());
    assert_eq!(env.client.get_error_details(&task.id).await.unwrap(), None);

    env.client.set_retries(&task.id, 2).await.unwrap();
    let again = env.fetch_one("w", TOPIC).await;
    assert_eq!(again.id, task.id);
    assert_eq!(again.retries, Some(2));
    assert!(
        env.client
            .list_incidents(&instance)
            .await
            .unwrap()
            .is_empty()
    );

    let err = env.client.set_retries(&task.id, -1).await.unwrap_err();
    assert!(err.is_bad_request(), "{err}");
}

#[tokio::test]
async fn bpmn_error_takes_the_boundary_path_with_its_variables() {
    let env = Env::new().await;
    let instance = env.start(variables! {}, None).await;
    let task = env.fetch_one("w", TOPIC).await;
    let error = BpmnErrorRequest::new("w", "REJECTED")
        .message("amount too high")
        .variables(variables! { "reason": "limit" });
    env.client.bpmn_error(&task.id, &error).await.unwrap();
    let next = env.fetch_one("w", "client-rejected").await;
    assert_eq!(next.process_instance_id.as_deref(), Some(instance.as_str()));
    assert_eq!(
        next.variables().unwrap().get("reason"),
        Some(&Value::from("limit"))
    );
}

#[tokio::test]
async fn extend_lock_sets_the_expiry_to_now_plus_the_duration() {
    let env = Env::new().await;
    env.start(variables! {}, None).await;
    let task = env.fetch_one("w", TOPIC).await;
    let before = Timestamp::now();
    env.client
        .extend_lock(&task.id, "w", Duration::from_secs(600))
        .await
        .unwrap();
    let stored = env.client.get_external_task(&task.id).await.unwrap();
    let expiry = stored.lock_expiration_time.unwrap().timestamp;
    let ms = expiry.as_millisecond() - before.as_millisecond();
    assert!((599_000..=601_000).contains(&ms), "{ms} ms");
}

#[tokio::test]
async fn lock_and_unlock() {
    let env = Env::new().await;
    env.start(variables! {}, None).await;
    let open = env.engine.external_tasks(Some(TOPIC));
    let id = open[0]["id"].as_str().unwrap().to_owned();
    env.client
        .lock(&id, "locker", Duration::from_secs(60))
        .await
        .unwrap();
    let stored = env.client.get_external_task(&id).await.unwrap();
    assert_eq!(stored.worker_id.as_deref(), Some("locker"));
    assert!(env.fetch("w", TOPIC, 1).await.is_empty());

    let err = env
        .client
        .lock(&id, "other", Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(err.is_locked_by_other_worker(), "{err}");

    env.client.unlock(&id).await.unwrap();
    let stored = env.client.get_external_task(&id).await.unwrap();
    assert_eq!(stored.worker_id, None);
    assert_eq!(stored.lock_expiration_time, None);
    assert_eq!(env.fetch_one("w", TOPIC).await.id, id);
}

#[tokio::test]
async fn list_and_count_with_filters() {
    let env = Env::new().await;
    let a = env.start(variables! {}, None).await;
    env.start(variables! {}, None).await;
    env.start_key("client_low", variables! {}, None).await;
    let locked = env.fetch_one("w1", TOPIC).await;

    let all = ExternalTaskQuery {
        topic_name: Some(TOPIC.into()),
        ..Default::default()
    };
    assert_eq!(env.client.count_external_tasks(&all).await.unwrap(), 3);
    assert_eq!(env.client.list_external_tasks(&all).await.unwrap().len(), 3);

    let by_worker = ExternalTaskQuery {
        worker_id: Some("w1".into()),
        ..Default::default()
    };
    let listed = env.client.list_external_tasks(&by_worker).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, locked.id);

    let locked_only = ExternalTaskQuery {
        locked: Some(true),
        ..Default::default()
    };
    assert_eq!(
        env.client.count_external_tasks(&locked_only).await.unwrap(),
        1
    );
    let not_locked = ExternalTaskQuery {
        not_locked: Some(true),
        ..Default::default()
    };
    assert_eq!(
        env.client.count_external_tasks(&not_locked).await.unwrap(),
        2
    );

    let of_instance = ExternalTaskQuery {
        process_instance_id: Some(a.clone()),
        ..Default::default()
    };
    let listed = env.client.list_external_tasks(&of_instance).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].process_instance_id.as_deref(), Some(a.as_str()));

    let paged = ExternalTaskQuery {
        topic_name: Some(TOPIC.into()),
        first_result: Some(1),
        max_results: Some(1),
        ..Default::default()
    };
    assert_eq!(
        env.client.list_external_tasks(&paged).await.unwrap().len(),
        1
    );
    assert_eq!(env.client.count_external_tasks(&paged).await.unwrap(), 3);
}

#[tokio::test]
async fn get_one_task_without_variables() {
    let env = Env::new().await;
    let instance = env.start(variables! { "x": 1 }, Some("bk")).await;
    let fetched = env.fetch_one("w", TOPIC).await;
    let task = env.client.get_external_task(&fetched.id).await.unwrap();
    assert_eq!(task.id, fetched.id);
    assert_eq!(task.topic_name, TOPIC);
    assert_eq!(task.worker_id.as_deref(), Some("w"));
    assert_eq!(task.process_instance_id.as_deref(), Some(instance.as_str()));
    assert_eq!(task.priority, 7);
    assert!(task.variables.is_empty());
}
