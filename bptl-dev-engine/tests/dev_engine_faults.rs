//! Fault injection and server outages.
#![allow(clippy::unwrap_used)]

mod dev_engine_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bptl_dev_engine::Endpoint;
use dev_engine_support::Api;
use serde_json::json;

#[tokio::test]
async fn fail_next_answers_the_next_calls_with_the_given_error() {
    let api = Api::new().await;
    api.start("double", json!({})).await;
    let task = api.fetch_one("w", "double", 10_000).await;
    api.engine.faults().fail_next(
        Endpoint::Complete,
        2,
        500,
        json!({"type": "OptimisticLockingException", "message": "conflict", "code": 1}),
    );
    for _ in 0..2 {
        let answer = api
            .post(
                &format!("/external-task/{task}/complete"),
                json!({"workerId": "w"}),
            )
            .await;
        assert_eq!(answer.error(500, "OptimisticLockingException"), "conflict");
        assert_eq!(answer.body["code"], 1);
    }
    assert_eq!(
        api.engine.open_task_count(),
        1,
        "faulted calls do not reach the engine"
    );
    let third = api
        .post(
            &format!("/external-task/{task}/complete"),
            json!({"workerId": "w"}),
        )
        .await;
    assert_eq!(third.status, 204);
    assert_eq!(api.engine.faults().request_count(Endpoint::Complete), 3);
    assert_eq!(api.engine.open_task_count(), 0);
}

#[tokio::test]
async fn latency_delays_only_its_endpoint() {
    let api = Api::new().await;
    api.engine
        .faults()
        .add_latency(Endpoint::FetchAndLock, Duration::from_millis(500));
    let started = Instant::now();
    api.fetch("w", "double", 1, 1000).await;
    assert!(started.elapsed() >= Duration::from_millis(490));
    let started = Instant::now();
    api.get("/external-task/count").await;
    assert!(started.elapsed() < Duration::from_millis(490));
    api.engine.faults().clear();
    let started = Instant::now();
    api.fetch("w", "double", 1, 1000).await;
    assert!(started.elapsed() < Duration::from_millis(490));
}

#[tokio::test]
async fn drop_closes_the_connection_without_an_answer() {
    let api = Api::new().await;
    api.engine
        .faults()
        .drop_next(Endpoint::FetchAndLock, 1, Duration::from_millis(200));
    let started = Instant::now();
    let result = api
        .http
        .post(format!("{}/external-task/fetchAndLock", api.base))
        .json(
            &json!({"workerId": "w", "maxTasks": 1, "asyncResponseTimeout": 20_000,
                      "topics": [{"topicName": "double", "lockDuration": 1000}]}),
        )
        .send()
        .await;
    let err = result.expect_err("no HTTP answer");
    assert!(!err.is_timeout(), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(190));
    assert!(started.elapsed() < Duration::from_secs(10));
    // The next request is served normally.
    assert!(api.fetch("w", "double", 1, 1000).await.is_empty());
}

#[tokio::test]
async fn close_connections_drops_parked_polls() {
    let api = Arc::new(Api::new().await);
    let poller = {
        let api = api.clone();
        tokio::spawn(async move {
            api.http
                .post(format!("{}/external-task/fetchAndLock", api.base))
                .json(
                    &json!({"workerId": "w", "maxTasks": 1, "asyncResponseTimeout": 60_000,
                              "topics": [{"topicName": "double", "lockDuration": 1000}]}),
                )
                .send()
                .await
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while api.engine.parked_fetch_count() == 0 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    api.engine.close_connections().await;
    let result = tokio::time::timeout(Duration::from_secs(10), poller)
        .await
        .unwrap()
        .unwrap();
    assert!(result.is_err(), "the poll got no answer: {result:?}");
    // New connections work.
    assert_eq!(api.get("/external-task/count").await.status, 200);
}

#[tokio::test]
async fn stop_and_restart_http_keep_the_state() {
    let api = Api::new().await;
    let instance = api
        .start("double", json!({"amount": {"value": 1, "type": "Integer"}}))
        .await;
    let port = api.engine.port();
    api.engine.stop_http().await;
    // reqwest needs a TLS crypto provider before its first client.
    bptl_camunda::install_crypto_provider();
    let down = reqwest::Client::new()
        .get(format!("{}/external-task/count", api.base))
        .send()
        .await;
    assert!(down.is_err(), "nobody listens: {down:?}");
    api.engine.restart_http().await.unwrap();
    assert_eq!(api.engine.port(), port);
    let fresh = reqwest::Client::new();
    let count = fresh
        .get(format!("{}/external-task/count", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(count.status(), 200);
    let body: serde_json::Value = count.json().await.unwrap();
    assert_eq!(body["count"], 1);
    assert_eq!(api.history_state(&instance).await, "ACTIVE");
}

#[tokio::test]
async fn a_fixed_port_can_be_chosen() {
    // Find a free port, release it, then ask the builder for it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let engine = bptl_dev_engine::DevEngine::builder()
        .port(port)
        .start()
        .await
        .unwrap();
    assert_eq!(engine.url(), format!("http://127.0.0.1:{port}/engine-rest"));
    // reqwest needs a TLS crypto provider before its first client.
    bptl_camunda::install_crypto_provider();
    let engines = reqwest::get(format!("{}/engine", engine.url()))
        .await
        .unwrap();
    assert_eq!(engines.headers()["content-type"], "application/json");
    engine.shutdown().await;
}
