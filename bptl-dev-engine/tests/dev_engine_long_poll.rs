//! Long polling: parked fetchAndLock requests and what wakes them.
#![allow(clippy::unwrap_used)]

mod dev_engine_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use dev_engine_support::Api;
use serde_json::{Value, json};

fn poll_body(worker: &str, topic: &str, timeout_ms: u64) -> Value {
    json!({"workerId": worker, "maxTasks": 1, "asyncResponseTimeout": timeout_ms,
           "topics": [{"topicName": topic, "lockDuration": 10_000}]})
}

async fn wait_parked(api: &Api, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while api.engine.parked_fetch_count() < n {
        assert!(Instant::now() < deadline, "requests did not park");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_parked_fetch_is_answered_when_a_task_is_created() {
    let api = Arc::new(Api::new().await);
    let poller = {
        let api = api.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let answer = api
                .post(
                    "/external-task/fetchAndLock",
                    poll_body("w", "double", 20_000),
                )
                .await;
            (answer, started.elapsed())
        })
    };
    wait_parked(&api, 1).await;
    let id = api.start("double", json!({})).await;
    let (answer, elapsed) = poller.await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body[0]["processInstanceId"], id);
    assert!(
        elapsed < Duration::from_secs(10),
        "answered at once, not at the timeout: {elapsed:?}"
    );
    assert_eq!(api.engine.parked_fetch_count(), 0);
}

/// Operaton 1.0 (checked by hand against tests/engines) keeps a long poll whose client went
/// away and locks the next task for that worker; so does the dev engine.
#[tokio::test]
async fn a_parked_fetch_whose_client_went_away_still_locks_a_task() {
    let api = Api::new().await;
    let gone = api
        .http
        .post(format!("{}/external-task/fetchAndLock", api.base))
        .json(&poll_body("gone", "double", 20_000))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(gone.is_err(), "the client gave up before an answer");
    assert_eq!(api.engine.parked_fetch_count(), 1, "still parked");
    let id = api.start("double", json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let tasks = api.engine.external_tasks(Some("double"));
        if tasks.iter().any(|t| t["workerId"] == "gone") {
            assert_eq!(tasks[0]["processInstanceId"], id);
            assert!(tasks[0]["lockExpirationTime"].is_string());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not locked for the vanished client: {tasks:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        api.fetch("w", "double", 1, 1000).await.is_empty(),
        "nobody else gets it while the lock lasts"
    );
    assert_eq!(api.engine.parked_fetch_count(), 0);
}

#[tokio::test]
async fn a_parked_fetch_ends_with_an_empty_list_at_the_timeout() {
    let api = Api::new().await;
    let started = Instant::now();
    let answer = api
        .post("/external-task/fetchAndLock", poll_body("w", "double", 300))
        .await;
    let elapsed = started.elapsed();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, json!([]));
    assert!(
        elapsed >= Duration::from_millis(290),
        "waited the timeout: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(10));
}

#[tokio::test]
async fn unlock_and_lock_expiry_wake_parked_fetches() {
    let api = Arc::new(Api::new().await);
    api.start("double", json!({})).await;
    let task = api.fetch_one("first", "double", 60_000).await;

    let poller = {
        let api = api.clone();
        tokio::spawn(async move {
            api.post(
                "/external-task/fetchAndLock",
                poll_body("second", "double", 20_000),
            )
            .await
        })
    };
    wait_parked(&api, 1).await;
    api.post(&format!("/external-task/{task}/unlock"), json!({}))
        .await;
    let answer = tokio::time::timeout(Duration::from_secs(10), poller)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.body[0]["id"], task);
    assert_eq!(answer.body[0]["workerId"], "second");

    // Lock expiry: the engine schedules a wake-up at the expiry instant (no 30 s re-poll).
    api.start("two_steps", json!({})).await;
    let short = api.fetch_one("first", "step-a", 300).await;
    let started = Instant::now();
    let answer = api
        .post(
            "/external-task/fetchAndLock",
            poll_body("third", "step-a", 20_000),
        )
        .await;
    let elapsed = started.elapsed();
    assert_eq!(answer.body[0]["id"], short);
    assert!(
        elapsed < Duration::from_secs(5),
        "woken at lock expiry: {elapsed:?}"
    );
}

#[tokio::test]
async fn an_elapsed_retry_timeout_wakes_parked_fetches() {
    let api = Api::new().await;
    api.start("double", json!({})).await;
    let task = api.fetch_one("w", "double", 60_000).await;
    api.post(
        &format!("/external-task/{task}/failure"),
        json!({"workerId": "w", "errorMessage": "later", "retries": 1, "retryTimeout": 1000}),
    )
    .await;
    let started = Instant::now();
    let answer = api
        .post(
            "/external-task/fetchAndLock",
            poll_body("w", "double", 20_000),
        )
        .await;
    let elapsed = started.elapsed();
    assert_eq!(answer.body[0]["id"], task);
    assert!(
        elapsed >= Duration::from_millis(350),
        "not before the retry timeout: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "soon after the retry timeout: {elapsed:?}"
    );
}

#[tokio::test]
async fn setting_retries_wakes_parked_fetches() {
    let api = Arc::new(Api::new().await);
    api.start("double", json!({})).await;
    let task = api.fetch_one("w", "double", 60_000).await;
    api.post(
        &format!("/external-task/{task}/failure"),
        json!({"workerId": "w", "errorMessage": "dead", "retries": 0, "retryTimeout": 0}),
    )
    .await;
    let poller = {
        let api = api.clone();
        tokio::spawn(async move {
            api.post(
                "/external-task/fetchAndLock",
                poll_body("w", "double", 20_000),
            )
            .await
        })
    };
    wait_parked(&api, 1).await;
    api.put(
        &format!("/external-task/{task}/retries"),
        json!({"retries": 1}),
    )
    .await;
    let answer = tokio::time::timeout(Duration::from_secs(10), poller)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.body[0]["id"], task);
}

#[tokio::test]
async fn at_most_200_requests_park_and_hundreds_are_cheap() {
    let api = Arc::new(Api::new().await);
    let mut pollers = Vec::new();
    for i in 0..200 {
        let api = api.clone();
        pollers.push(tokio::spawn(async move {
            api.post(
                "/external-task/fetchAndLock",
                poll_body(&format!("w{i}"), "double", 30_000),
            )
            .await
        }));
    }
    wait_parked(&api, 200).await;
    let rejected = api
        .post(
            "/external-task/fetchAndLock",
            poll_body("extra", "double", 30_000),
        )
        .await;
    let message = rejected.error(500, "InvalidRequestException");
    assert!(message.contains("too many requests"), "{message}");

    // 200 tasks: each parked request gets exactly one.
    for _ in 0..200 {
        api.engine.start_process("double", json!({}), None).unwrap();
    }
    let mut ids = std::collections::HashSet::new();
    for p in pollers {
        let answer = tokio::time::timeout(Duration::from_secs(20), p)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(answer.status, 200);
        let tasks = answer.body.as_array().unwrap();
        assert_eq!(tasks.len(), 1);
        assert!(ids.insert(tasks[0]["id"].as_str().unwrap().to_string()));
    }
    assert_eq!(ids.len(), 200);
}

#[tokio::test]
async fn shutdown_answers_parked_requests() {
    let api = Api::new().await;
    let url = format!("{}/external-task/fetchAndLock", api.base);
    let http = api.http.clone();
    let poller = tokio::spawn(async move {
        http.post(url)
            .json(&poll_body("w", "double", 60_000))
            .send()
            .await
    });
    wait_parked(&api, 1).await;
    let started = Instant::now();
    api.engine.shutdown().await;
    let result = tokio::time::timeout(Duration::from_secs(10), poller)
        .await
        .unwrap()
        .unwrap();
    match result {
        Ok(response) => assert_eq!(response.status().as_u16(), 500),
        Err(e) => assert!(e.is_request() || e.is_connect() || e.is_body(), "{e}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}
