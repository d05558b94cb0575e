//! The `callbackUrl` POST after a successful completion.
#![allow(clippy::unwrap_used)]

mod runtime_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bptl::callback::HttpCallbackSender;
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
    let worker = spawn_worker(&engine, mappings, config(), None, |b| {
        b.callback_sender(HttpCallbackSender::shared().unwrap())
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
