//! fetchAndLock over real HTTP against the dev engine: fields, filters, priority, sorting and
//! long polling.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client_support;

use std::time::{Duration, Instant};

use bptl_camunda::{FetchAndLock, FetchSorting, FetchTopic, SortOrder};
use bptl_core::{BaseTask, Value, variables};
use client_support::{Env, LOCK, TOPIC};
use jiff::Timestamp;
use serde_json::json;

#[tokio::test]
async fn fetched_tasks_carry_every_camunda_field() {
    let env = Env::new().await;
    let instance = env
        .start(variables! { "amount": 21, "name": "Ada" }, Some("order-1"))
        .await;
    let request = FetchAndLock::new("w1", 5)
        .topic(FetchTopic::new(TOPIC, LOCK).include_extension_properties(true));
    let before = Timestamp::now();
    let tasks = env.client.fetch_and_lock(&request).await.unwrap();
    assert_eq!(tasks.len(), 1);
    let task = &tasks[0];
    assert!(!task.id.is_empty());
    assert_eq!(task.topic_name, TOPIC);
    assert_eq!(task.worker_id.as_deref(), Some("w1"));
    assert_eq!(task.process_instance_id.as_deref(), Some(instance.as_str()));
    assert_eq!(task.process_definition_key.as_deref(), Some("client_echo"));
    assert!(
        task.process_definition_id
            .as_deref()
            .unwrap()
            .starts_with("client_echo:1:")
    );
    assert_eq!(task.process_definition_version_tag.as_deref(), Some("v7"));
    assert_eq!(task.business_key.as_deref(), Some("order-1"));
    assert_eq!(task.activity_id.as_deref(), Some("Task_Echo"));
    assert!(task.activity_instance_id.is_some());
    assert!(task.execution_id.is_some());
    assert_eq!(task.priority, 7);
    assert_eq!(task.retries, None);
    assert!(!task.suspended);
    assert_eq!(task.error_message, None);
    assert!(task.create_time.is_some());
    assert_eq!(
        task.extension_properties.get("unit").map(String::as_str),
        Some("echo")
    );
    let expiry = task.lock_expires_at().unwrap();
    let lock_ms = expiry.as_millisecond() - before.as_millisecond();
    assert!((59_000..=61_000).contains(&lock_ms), "lock of {lock_ms} ms");
    assert!(!task.is_expired());
    assert_eq!(task.engine_type(), "camunda");
    assert_eq!(
        task.get_variables().unwrap(),
        variables! { "amount": 21, "name": "Ada" }
    );
    assert_eq!(
        task.raw_variables()["amount"],
        json!({"type": "Integer", "value": 21, "valueInfo": {}})
    );
    // The task is locked now: nobody else gets it.
    assert!(env.fetch("w2", TOPIC, 5).await.is_empty());
}

#[tokio::test]
async fn only_the_named_variables_are_fetched() {
    let env = Env::new().await;
    env.start(variables! { "a": 1, "b": 2, "c": 3 }, None).await;
    let request =
        FetchAndLock::new("w", 1).topic(FetchTopic::new(TOPIC, LOCK).variables(["a", "c"]));
    let tasks = env.client.fetch_and_lock(&request).await.unwrap();
    assert_eq!(
        tasks[0].get_variables().unwrap(),
        variables! { "a": 1, "c": 3 }
    );
}

#[tokio::test]
async fn topic_filters_select_tasks() {
    let env = Env::new().await;
    let north = env
        .start(variables! { "region": "north" }, Some("bk-north"))
        .await;
    let south = env
        .start(variables! { "region": "south" }, Some("bk-south"))
        .await;
    let low = env.start_key("client_low", variables! {}, None).await;

    let fetch = |topic: FetchTopic| {
        let client = env.client.clone();
        async move {
            let tasks = client
                .fetch_and_lock(&FetchAndLock::new("filter", 10).topic(topic))
                .await
                .unwrap();
            for task in &tasks {
                client.unlock(&task.id).await.unwrap();
            }
            let mut ids: Vec<String> = tasks
                .into_iter()
                .map(|t| t.process_instance_id.unwrap())
                .collect();
            ids.sort();
            ids
        }
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };

    assert_eq!(
        fetch(FetchTopic::new(TOPIC, LOCK).business_key("bk-south")).await,
        vec![south.clone()]
    );
    assert_eq!(
        fetch(FetchTopic::new(TOPIC, LOCK).process_definition_key("client_low")).await,
        vec![low.clone()]
    );
    assert_eq!(
        fetch(
            FetchTopic::new(TOPIC, LOCK).process_definition_key_in(["client_low", "client_echo"])
        )
        .await,
        sorted(vec![north.clone(), south.clone(), low.clone()])
    );
    assert_eq!(
        fetch(FetchTopic::new(TOPIC, LOCK).process_variable("region", json!("north"))).await,
        vec![north.clone()]
    );
    let mut by_version_tag = FetchTopic::new(TOPIC, LOCK);
    by_version_tag.process_definition_version_tag = Some("v7".into());
    assert_eq!(
        fetch(by_version_tag).await,
        sorted(vec![north.clone(), south.clone()])
    );
    let mut without_tenant = FetchTopic::new(TOPIC, LOCK);
    without_tenant.without_tenant_id = true;
    assert_eq!(fetch(without_tenant).await.len(), 3);
    assert!(
        fetch(FetchTopic::new(TOPIC, LOCK).tenant_id_in(["tenant-x"]))
            .await
            .is_empty()
    );
    assert!(
        fetch(FetchTopic::new("no-such-topic", LOCK))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn use_priority_returns_the_highest_priority_first() {
    let env = Env::new().await;
    env.start_key("client_low", variables! {}, None).await;
    let high = env.start(variables! {}, None).await;
    let request = FetchAndLock::new("w", 1)
        .use_priority(true)
        .topic(FetchTopic::new(TOPIC, LOCK));
    let tasks = env.client.fetch_and_lock(&request).await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].process_instance_id.as_deref(), Some(high.as_str()));
    assert_eq!(tasks[0].priority, 7);
}

#[tokio::test]
async fn sorting_by_create_time_orders_the_answer() {
    let env = Env::new().await;
    let first = env.start(variables! {}, None).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let second = env.start(variables! {}, None).await;
    let request = FetchAndLock::new("w", 1)
        .sort(FetchSorting::create_time(SortOrder::Desc))
        .topic(FetchTopic::new(TOPIC, LOCK));
    let newest = env.client.fetch_and_lock(&request).await.unwrap();
    assert_eq!(
        newest[0].process_instance_id.as_deref(),
        Some(second.as_str())
    );
    let request = FetchAndLock::new("w", 1)
        .sort(FetchSorting::create_time(SortOrder::Asc))
        .topic(FetchTopic::new(TOPIC, LOCK));
    let oldest = env.client.fetch_and_lock(&request).await.unwrap();
    assert_eq!(
        oldest[0].process_instance_id.as_deref(),
        Some(first.as_str())
    );
}

#[tokio::test]
async fn zero_max_tasks_answers_empty() {
    let env = Env::new().await;
    env.start(variables! {}, None).await;
    assert!(env.fetch("w", TOPIC, 0).await.is_empty());
    assert_eq!(env.fetch("w", TOPIC, 1).await.len(), 1);
}

#[tokio::test]
async fn local_variables_are_fetched_on_request() {
    let env = Env::new().await;
    env.start(variables! { "global": 1 }, None).await;
    let task = env.fetch_one("w", TOPIC).await;
    let failure = bptl_camunda::FailureRequest::new("w", "try again", 2, Duration::ZERO)
        .local_variables(variables! { "attempt": 1 });
    env.client.failure(&task.id, &failure).await.unwrap();
    let request =
        FetchAndLock::new("w", 1).topic(FetchTopic::new(TOPIC, LOCK).local_variables(true));
    let tasks = env.client.fetch_and_lock(&request).await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        tasks[0].get_variables().unwrap(),
        variables! { "attempt": 1 }
    );
    assert_eq!(tasks[0].retries, Some(2));
    assert_eq!(tasks[0].error_message.as_deref(), Some("try again"));
}

#[tokio::test]
async fn a_long_poll_is_woken_by_a_new_task() {
    let env = Env::new().await;
    let request = FetchAndLock::new("poller", 1)
        .long_poll(Duration::from_secs(20))
        .topic(FetchTopic::new(TOPIC, LOCK));
    let client = env.client.clone();
    let started = Instant::now();
    let poll = tokio::spawn(async move { client.fetch_and_lock(&request).await });
    let deadline = Instant::now() + Duration::from_secs(5);
    while env.engine.parked_fetch_count() == 0 {
        assert!(Instant::now() < deadline, "the fetch was never parked");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let instance = env.start(variables! { "x": 1 }, None).await;
    let tasks = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .expect("the long poll wakes up")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        tasks[0].process_instance_id.as_deref(),
        Some(instance.as_str())
    );
    assert_eq!(tasks[0].worker_id.as_deref(), Some("poller"));
}

#[tokio::test]
async fn a_long_poll_without_work_answers_empty_at_its_timeout() {
    let env = Env::new().await;
    let request = FetchAndLock::new("poller", 1)
        .long_poll(Duration::from_millis(600))
        .topic(FetchTopic::new(TOPIC, LOCK));
    let started = Instant::now();
    let tasks = env.client.fetch_and_lock(&request).await.unwrap();
    let elapsed = started.elapsed();
    assert!(tasks.is_empty());
    assert!(elapsed >= Duration::from_millis(550), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn without_a_long_poll_the_answer_is_immediate() {
    let env = Env::new().await;
    let started = Instant::now();
    assert!(env.fetch("w", TOPIC, 1).await.is_empty());
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_too_long_poll_is_a_bad_request() {
    let env = Env::new().await;
    let request = FetchAndLock::new("w", 1)
        .long_poll(Duration::from_secs(1801))
        .topic(FetchTopic::new(TOPIC, LOCK));
    let err = env.client.fetch_and_lock(&request).await.unwrap_err();
    assert!(err.is_bad_request(), "{err}");
    assert!(
        err.to_string()
            .starts_with("POST /external-task/fetchAndLock: HTTP 400"),
        "{err}"
    );
    let _ = Value::Null;
}
