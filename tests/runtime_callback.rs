//! The `callbackUrl` POST after a successful completion.
#![allow(clippy::unwrap_used)]

mod runtime_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bptl::callback::{CallbackAllowlist, HttpCallbackSender};
use bptl::{EventKind, TaskFilter, TaskMapping, TaskMappings, TaskStore};
use runtime_support::*;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callback_url_receives_the_completion() {
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = Arc::clone(&received);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let sink = Arc::clone(&sink);
            async move {
                sink.lock().unwrap().push(body);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let engine = engine().await;
    let with = deploy_and_start(
        &engine,
        "cb",
        &["double"],
        1,
        json!({ "amount": int(2), "callbackUrl": string(&format!("http://127.0.0.1:{port}/hook?token=secret")) }),
    );
    // An unreachable callback never un-completes the task.
    let unreachable = engine
        .start_process(
            "cb",
            json!({ "amount": int(3), "callbackUrl": string("http://127.0.0.1:9/nowhere") }),
            None,
        )
        .unwrap();
    // Filtered variables still carry callbackUrl.
    let mappings = TaskMappings::new([{
        let mut m = TaskMapping::new("double", "bptl_dummy::Double");
        m.variables = Some(vec!["amount".into()]);
        m
    }])
    .unwrap();
    // Loopback addresses need entries with the address itself.
    let allow = CallbackAllowlist::new([
        format!("http://127.0.0.1:{port}/hook"),
        "http://127.0.0.1:9/".to_owned(),
    ])
    .unwrap();
    let worker = spawn_worker(&engine, mappings, config(), None, |b| {
        b.callback_sender(HttpCallbackSender::shared(allow).unwrap())
    });
    engine
        .wait_until_all_ended(Duration::from_secs(10))
        .await
        .unwrap();
    wait_until("the callback arrived", Duration::from_secs(10), || {
        !received.lock().unwrap().is_empty()
    })
    .await;
    let store = worker.store.clone();
    // The worker waits for the unreachable callback's outcome before stopping.
    let stats = worker.stop().await;
    assert_eq!(stats.completed, 2);

    let bodies = received.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1);
    let body = &bodies[0];
    let record = store
        .list(&TaskFilter::default().process_instance(&with[0]))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        body,
        &json!({ "taskId": record.task_id, "topic": "double", "processInstanceId": with[0], "status": "completed" })
    );
    let timeline = store.timeline(&record.key()).await.unwrap();
    let callback = timeline
        .iter()
        .find(|e| e.kind == EventKind::Callback)
        .expect("a callback entry");
    assert!(
        callback.message.ends_with("/hook?… → 204"),
        "{}",
        callback.message
    );
    assert!(!callback.message.contains("secret"));

    let failed = store
        .list(&TaskFilter::default().process_instance(&unreachable))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(failed.status, bptl::TaskStatus::Completed);
    let timeline = store.timeline(&failed.key()).await.unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| e.kind == EventKind::Callback && e.message.contains("failed")),
        "{timeline:#?}"
    );
}

/// A hook server on a free port that records what it receives, by path.
async fn hook_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = Arc::clone(&received);
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let sink = Arc::clone(&sink);
        async move {
            sink.lock().unwrap().push(uri.path().to_owned());
            axum::http::StatusCode::NO_CONTENT
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_outside_the_allowlist_are_refused_and_on_the_timeline() {
    let (port, received) = hook_server().await;
    let engine = engine().await;
    let start = |url: String| {
        engine
            .start_process(
                "cbr",
                json!({ "amount": int(1), "callbackUrl": string(&url) }),
                None,
            )
            .unwrap()
    };
    let allowed = deploy_and_start(
        &engine,
        "cbr",
        &["double"],
        1,
        json!({ "amount": int(2), "callbackUrl": string(&format!("http://127.0.0.1:{port}/hooks/ok")) }),
    )
    .remove(0);
    // Another path on the same server: not below the allowed prefix.
    let other_path = start(format!("http://127.0.0.1:{port}/admin/reset?token=secret"));
    // A name listed in the allowlist, but it resolves to 127.0.0.1: names reach public
    // addresses only.
    let by_name = start(format!("http://localhost:{port}/hooks/ok"));
    // Not listed at all.
    let elsewhere = start("https://elsewhere.example.org/hooks/ok".to_owned());

    let allow = CallbackAllowlist::new([
        format!("http://127.0.0.1:{port}/hooks/"),
        format!("http://localhost:{port}/hooks/"),
    ])
    .unwrap();
    let mappings = TaskMappings::new([TaskMapping::new("double", "bptl_dummy::Double")]).unwrap();
    let worker = spawn_worker(&engine, mappings, config(), None, |b| {
        b.callback_sender(HttpCallbackSender::shared(allow).unwrap())
    });
    engine
        .wait_until_all_ended(Duration::from_secs(10))
        .await
        .unwrap();
    wait_until(
        "the allowed callback arrived",
        Duration::from_secs(10),
        || !received.lock().unwrap().is_empty(),
    )
    .await;
    let store = worker.store.clone();
    let stats = worker.stop().await;
    assert_eq!(stats.completed, 4);
    assert_eq!(received.lock().unwrap().clone(), ["/hooks/ok"]);

    let callback_entry = |instance: String| {
        let store = Arc::clone(&store);
        async move {
            let record = store
                .list(&TaskFilter::default().process_instance(&instance))
                .await
                .unwrap()
                .remove(0);
            assert_eq!(record.status, bptl::TaskStatus::Completed);
            let timeline = store.timeline(&record.key()).await.unwrap();
            timeline
                .into_iter()
                .find(|e| e.kind == EventKind::Callback)
                .expect("a callback entry")
        }
    };
    let ok = callback_entry(allowed).await;
    assert!(ok.message.ends_with("/hooks/ok → 204"), "{}", ok.message);

    let entry = callback_entry(other_path).await;
    assert!(
        entry.message.contains("refused")
            && entry.message.contains(&format!(
                "http://127.0.0.1:{port}/admin/reset matches no entry of [callback] allow"
            )),
        "{}",
        entry.message
    );
    assert!(!entry.message.contains("secret"), "{}", entry.message);
    assert!(entry.data["refused"].is_string(), "{:?}", entry.data);

    let entry = callback_entry(by_name).await;
    assert!(
        entry.message.contains("refused")
            && entry
                .message
                .contains("localhost resolves to 127.0.0.1 (loopback)"),
        "{}",
        entry.message
    );

    let entry = callback_entry(elsewhere).await;
    assert!(
        entry.message.contains("refused") && entry.message.contains("matches no entry"),
        "{}",
        entry.message
    );
}
