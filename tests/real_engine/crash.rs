//! A worker process SIGKILLed after its units performed and before the engine heard: a new
//! worker process on the same store completes the tasks from the stored results, under the
//! original worker id — and the engine, which checks that id against the lock, accepts it.
//!
//! The completions are held back by a small HTTP proxy between the first worker and the
//! engine (everything else passes through), so the kill comes exactly between "performed"
//! and "completed".

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::store_worker::{self, WorkerProcess, runs};
use crate::support::*;

/// A proxy to the engine that never forwards `.../complete` (it holds those requests open
/// and counts them) and forwards everything else.
struct HoldingProxy {
    url: String,
    held: Arc<AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

impl HoldingProxy {
    async fn start(engine_url: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = reqwest::Url::parse(engine_url).unwrap();
        let origin = format!(
            "{}://{}:{}",
            target.scheme(),
            target.host_str().unwrap(),
            target.port_or_known_default().unwrap()
        );
        let held = Arc::new(AtomicUsize::new(0));
        // reqwest needs a TLS crypto provider before its first client.
        bptl::credentials::install_crypto_provider();
        let http = reqwest::Client::new();
        let counter = Arc::clone(&held);
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let (http, origin, counter) = (http.clone(), origin.clone(), Arc::clone(&counter));
            async move { forward(&http, &origin, &counter, request).await }
        });
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let path = target.path().trim_end_matches('/').to_owned();
        HoldingProxy {
            url: format!("http://127.0.0.1:{port}{path}"),
            held,
            server,
        }
    }
}

impl Drop for HoldingProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn forward(
    http: &reqwest::Client,
    origin: &str,
    held: &AtomicUsize,
    request: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    if parts.uri.path().ends_with("/complete") {
        held.fetch_add(1, Ordering::SeqCst);
        std::future::pending::<()>().await;
    }
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let url = format!(
        "{origin}{}",
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap();
    let mut outgoing = http.request(method, url).body(body.to_vec());
    for name in ["content-type", "accept"] {
        if let Some(value) = parts.headers.get(name) {
            outgoing = outgoing.header(name, value.as_bytes());
        }
    }
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(e) => {
            return axum::response::Response::builder()
                .status(502)
                .body(axum::body::Body::from(e.to_string()))
                .unwrap();
        }
    };
    let mut response = axum::response::Response::builder().status(answer.status().as_u16());
    if let Some(value) = answer.headers().get("content-type") {
        response = response.header("content-type", value.as_bytes());
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    response.body(axum::body::Body::from(bytes)).unwrap()
}

/// A temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "bptl-real-engine-{name}-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_after_performing_completes_under_its_own_id_after_a_restart() {
    let Some(rig) = Rig::new() else { return };
    let key = rig.unique("crash");
    let topic = rig.unique("crash");
    rig.deploy(&process(&key, &[Task::new(&topic)], None)).await;
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(
            rig.start_typed(&key, json!({"sleepMs": {"value": 0, "type": "Long"}}), None)
                .await,
        );
    }
    let dir = TempDir::new("crash");
    let effects = dir.path().join("effects.txt");
    let store_url = format!("sqlite://{}", dir.path().join("bptl.db").display());
    let proxy = HoldingProxy::start(&rig.url).await;
    let (first_id, second_id) = (rig.unique("crash-first"), rig.unique("crash-second"));
    let config = |engine_url: &str, worker_id: &str| {
        store_worker::write_config(
            dir.path(),
            &store_worker::WorkerConfig {
                engine_url,
                worker_id,
                topic: &topic,
                store_url: &store_url,
                max_tasks: 3,
                // Long: the tasks stay locked by the first worker while it is dead.
                lock_duration: "60s",
            },
        )
    };

    let mut first = WorkerProcess::spawn(&config(&proxy.url, &first_id), &effects, &first_id);
    let deadline = Instant::now() + Duration::from_secs(60);
    while proxy.held.load(Ordering::SeqCst) < 3 {
        first.assert_running();
        assert!(
            Instant::now() < deadline,
            "the completions did not come:\n{}",
            first.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Every result is stored (`performed`) before its completion is sent.
    first.kill();
    assert_eq!(runs(&effects).values().sum::<usize>(), 3);
    for instance in &instances {
        assert_eq!(rig.state(instance).await, "ACTIVE");
        let task = &rig.tasks_of(instance).await[0];
        assert_eq!(task["workerId"], json!(first_id), "{task}");
    }
    drop(proxy);

    // A new process with another worker id, straight at the engine, on the same store.
    let mut second = WorkerProcess::spawn(&config(&rig.url, &second_id), &effects, &second_id);
    let deadline = Instant::now() + Duration::from_secs(60);
    for instance in &instances {
        while rig.state(instance).await == "ACTIVE" {
            second.assert_running();
            assert!(
                Instant::now() < deadline,
                "not completed after the restart:\n{}",
                second.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(rig.state(instance).await, "COMPLETED");
        assert_eq!(
            rig.history_typed(instance).await["ran"]["value"],
            json!(true)
        );
        // The engine's log: one success, by the worker that fetched the task.
        let log = rig.task_log(instance).await;
        let successes: Vec<_> = log
            .iter()
            .filter(|l| l["successLog"] == json!(true))
            .collect();
        assert_eq!(successes.len(), 1, "{log:#?}");
        assert_eq!(successes[0]["workerId"], json!(first_id), "{log:#?}");
    }
    second.kill();
    let counted = runs(&effects);
    assert_eq!(counted.len(), 3);
    assert!(
        counted.values().all(|n| *n == 1),
        "every unit ran exactly once: {counted:?}"
    );
}
