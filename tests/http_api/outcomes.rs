//! Outcomes kept: the timeout, idempotency keys, the record and its timeline.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_slower_than_the_timeout_answers_504_and_its_outcome_is_kept() {
    let api = start("300ms", 4, "http://127.0.0.1:9/").await;
    let body = json!({ "topic": "sleep", "vars": { "durationMs": 1200 } });
    let started = std::time::Instant::now();
    let (status, answer) = api
        .call(Some("token-a"), Some("slow-1"), body.clone())
        .await;
    assert_eq!(status, 504, "{answer}");
    assert!(
        started.elapsed() < Duration::from_millis(1100),
        "answered at the timeout"
    );
    let message = answer["error"].as_str().unwrap();
    assert!(
        message
            .starts_with("the unit did not finish within 300ms ([http_api] timeout); it goes on"),
        "{message}"
    );
    // The unit goes on; its result is kept, and the same key returns it.
    let record = api
        .record_once(task_id(&answer), TaskStatus::Completed)
        .await;
    assert_eq!(
        record.result_variables.unwrap().to_json(),
        json!({ "sleptMs": 1200 })
    );
    let response = api
        .client
        .post(&api.url)
        .bearer_auth("token-a")
        .header("Idempotency-Key", "slow-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["idempotent-replayed"], "true");
    let answer: Json = response.json().await.unwrap();
    assert_eq!(answer["resultVars"], json!({ "sleptMs": 1200 }));
    let stats = api.stop().await;
    assert_eq!(stats.fetched, 1, "the unit ran once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_idempotency_key_returns_the_stored_outcome_without_running_the_unit() {
    let api = start("10s", 4, "http://127.0.0.1:9/").await;
    let body = json!({ "topic": "counted", "vars": { "counter": "sequential" } });
    let (status, first) = api.call(Some("token-a"), Some("key-1"), body.clone()).await;
    assert_eq!(
        (status, &first["resultVars"]),
        (200, &json!({ "run": 1, "appId": "app-a" }))
    );
    for _ in 0..3 {
        let (status, again) = api.call(Some("token-a"), Some("key-1"), body.clone()).await;
        assert_eq!((status, &again), (200, &first));
    }
    assert_eq!(runs("sequential"), 1);
    // The key is the application's: another application's same key is another call.
    let (status, other) = api.call(Some("token-b"), Some("key-1"), body.clone()).await;
    assert_eq!(
        (status, &other["resultVars"]),
        (200, &json!({ "run": 2, "appId": "app-b" }))
    );
    // The same key for another call is refused.
    let (status, answer) = api
        .call(
            Some("token-a"),
            Some("key-1"),
            json!({ "topic": "counted", "vars": { "counter": "other" } }),
        )
        .await;
    assert_eq!(status, 409);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("this Idempotency-Key was used for another call")
    );
    assert_eq!(runs("other"), 0);
    // A failure is an outcome too: repeated, not run again.
    let failing =
        json!({ "topic": "counted", "vars": { "counter": "failing", "outcome": "fail" } });
    for _ in 0..2 {
        let (status, answer) = api
            .call(Some("token-a"), Some("key-2"), failing.clone())
            .await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (500, Some("failed on run 1"))
        );
    }
    let bpmn = json!({ "topic": "counted", "vars": { "counter": "raising", "outcome": "bpmn" } });
    for _ in 0..2 {
        let (status, answer) = api.call(Some("token-a"), Some("key-3"), bpmn.clone()).await;
        assert_eq!(status, 422);
        assert_eq!(
            (
                answer["errorCode"].as_str(),
                answer["errorMessage"].as_str()
            ),
            (Some("COUNTED"), Some("raised on run 1"))
        );
    }
    assert_eq!((runs("failing"), runs("raising")), (1, 1));
    // The record's timeline says what happened.
    let record = api
        .record_once(task_id(&first), TaskStatus::Completed)
        .await;
    assert_eq!(record.task_id, "app-a key-1");
    let timeline = api.store.timeline(&record.key()).await.unwrap();
    let replays = timeline
        .iter()
        .filter(|e| {
            e.message
                .starts_with("a repeated call with the same Idempotency-Key")
        })
        .count();
    assert_eq!(replays, 3, "the three repeats of key-1: {timeline:?}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_with_one_idempotency_key_run_the_unit_once() {
    let api = Arc::new(start("10s", 4, "http://127.0.0.1:9/").await);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let api = Arc::clone(&api);
        calls.spawn(async move {
            api.call(
                Some("token-a"),
                Some("together"),
                json!({ "topic": "counted", "vars": { "counter": "concurrent", "sleepMs": 300 } }),
            )
            .await
        });
    }
    while let Some(done) = calls.join_next().await {
        let (status, answer) = done.unwrap();
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["resultVars"], json!({ "run": 1, "appId": "app-a" }));
    }
    assert_eq!(runs("concurrent"), 1);
    let api = Arc::into_inner(api).unwrap();
    let stats = api.stop().await;
    assert_eq!(stats.fetched, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_is_recorded_with_its_timeline() {
    let api = start("10s", 4, "http://127.0.0.1:9/").await;
    let (status, answer) = api
        .call(
            Some("token-b"),
            None,
            json!({ "topic": "double", "vars": { "amount": 4 } }),
        )
        .await;
    assert_eq!(status, 200);
    let record = api
        .record_once(task_id(&answer), TaskStatus::Completed)
        .await;
    assert_eq!(
        (record.engine.as_str(), record.topic.as_str()),
        ("http", "double")
    );
    assert_eq!(record.executions, 1);
    assert_eq!(
        record.result_variables.as_ref().unwrap().to_json(),
        json!({ "doubled": 8 })
    );
    assert!(record.reported_at.is_some());
    // The timeline writer runs off the task's path: wait for the last entry.
    let key = record.key();
    let mut messages = Vec::new();
    for _ in 0..200 {
        messages = api
            .store
            .timeline(&key)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.message)
            .collect::<Vec<_>>();
        if messages.iter().any(|m| m.contains("completed")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        messages.first().map(String::as_str),
        Some("received over the HTTP work-unit API from the application 'app-b'"),
        "{messages:?}"
    );
    for status in ["in_progress", "performed", "completed"] {
        assert!(
            messages.iter().any(|m| m.contains(status)),
            "{status}: {messages:?}"
        );
    }
    api.stop().await;
}
