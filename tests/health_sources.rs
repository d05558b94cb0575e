//! `/healthz` watches every task source, over real HTTP: the engine's worker (against the dev
//! engine) with a schedule worker and the HTTP work-unit API beside it, as `worker run` runs
//! them; a source that stops while the engine's worker runs makes `/healthz` fail naming it.
//! And `worker run` itself (a child process) watching its schedules and API.
#![allow(clippy::unwrap_used)]

mod runtime_support;
#[path = "support/store_support.rs"]
mod store_support;
#[path = "support/store_worker.rs"]
mod store_worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bptl::cli::Admin;
use bptl::schedule::{Schedule, ScheduleEngine};
use bptl::sources::http_api::{ApiTokens, HttpApi};
use bptl::{InMemoryStore, Registry, TaskMapping, TaskMappings, TaskStore, Worker};
use runtime_support::*;
use serde_json::{Value, json};
use store_support::TempDir;
use store_worker::{RECORD_RUN, WorkerProcess};

/// `GET http://addr/healthz`: the status and the JSON body (`None` while nothing listens).
async fn healthz(addr: SocketAddr) -> Option<(u16, Value)> {
    get(addr, "/healthz").await
}

/// `GET http://addr/PATH`: the status and the JSON body (`None` while nothing listens).
async fn get(addr: SocketAddr, path: &str) -> Option<(u16, Value)> {
    bptl::credentials::install_crypto_provider(); // before a client of our own
    let response = reqwest::get(format!("http://{addr}{path}")).await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.unwrap()))
}

/// Poll `/healthz` until `pred` holds for its answer (up to 30 s); that answer.
async fn healthz_until(addr: SocketAddr, what: &str, pred: impl Fn(u16, &Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = None;
    loop {
        if let Some((status, body)) = healthz(addr).await {
            if pred(status, &body) {
                return body;
            }
            last = Some((status, body));
        }
        assert!(Instant::now() < deadline, "/healthz never {what}: {last:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_fails_naming_a_source_that_stopped_while_the_worker_runs() {
    let _ = bptl::dummy::echo; // links the demo units
    let engine = engine().await;
    let store = Arc::new(InMemoryStore::new());
    let mappings = TaskMappings::new([
        TaskMapping::new("double", "bptl_dummy::Double"),
        TaskMapping::new("tick", "bptl_dummy::dummy").engine("schedule"),
        TaskMapping::new("api-double", "bptl_dummy::Double").engine("http"),
    ])
    .unwrap();
    let main = spawn_worker(
        &engine,
        mappings.clone(),
        config(),
        Some(store.clone()),
        |b| b,
    );
    let shared: Arc<dyn TaskStore> = store.clone();

    let schedule = Schedule::new("pulse", "* * * * * *", "tick").unwrap();
    let ticks = Worker::builder(ScheduleEngine::new(vec![schedule], Arc::clone(&shared)))
        .registry(Registry::global().unwrap().clone())
        .mappings(mappings.clone())
        .config(config())
        .store(Arc::clone(&shared))
        .build()
        .unwrap();
    let ticks_handle = ticks.handle();
    let ticks_run = tokio::spawn(ticks.run(std::future::pending::<()>()));

    let api = HttpApi::new(ApiTokens::new([("app", "token")]), Duration::from_secs(5));
    let api_worker = Worker::builder(api.engine())
        .registry(Registry::global().unwrap().clone())
        .mappings(mappings)
        .config(config())
        .store(Arc::clone(&shared))
        .build()
        .unwrap();
    let server = api
        .serve("127.0.0.1:0".parse().unwrap(), &api_worker)
        .await
        .unwrap();
    let api_handle = api_worker.handle();
    let api_run = tokio::spawn(api_worker.run(std::future::pending::<()>()));

    let admin = Admin::new(main.handle.clone(), shared, Duration::from_secs(5))
        .watch("schedules", ticks_handle.clone())
        .watch_listener("http_api", api_handle.clone(), server.serving())
        .serve("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();

    let ok = healthz_until(admin, "answered 200", |status, _| status == 200).await;
    assert_eq!(ok["status"], "ok", "{ok}");
    assert_eq!(
        ok["sources"],
        json!({ "schedules": "ok", "http_api": "ok" })
    );
    // Ready once the engine answered a fetch: the sources are listed there too.
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = loop {
        let (status, body) = get(admin, "/readyz").await.unwrap();
        if status == 200 {
            break body;
        }
        assert!(Instant::now() < deadline, "/readyz never 200: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        ready,
        json!({ "status": "ready", "engine": "ok", "store": "ok",
                "sources": { "schedules": "ok", "http_api": "ok" } })
    );

    // The API's worker stops on its own: its listener closes, the engine's worker runs on.
    api_handle.shutdown();
    api_run.await.unwrap();
    let down = healthz_until(admin, "failed", |status, _| status == 503).await;
    assert_eq!(down["status"], "down", "{down}");
    assert_eq!(
        down["reason"],
        "http_api: its worker is stopped while the engine's worker runs"
    );
    assert_eq!(down["sources"]["schedules"], "ok");
    // Not ready either: the API no longer takes calls.
    let (status, not_ready) = get(admin, "/readyz").await.unwrap();
    assert_eq!(status, 503, "{not_ready}");
    assert_eq!(not_ready["status"], "not_ready");
    assert_eq!(
        not_ready["reason"],
        "http_api: its worker is stopped while the engine's worker runs"
    );
    let serving = server.serving();
    assert_eq!(
        serving(),
        Err(format!(
            "the HTTP work-unit API at http://{}/api/v1/work-unit no longer accepts calls",
            server.local_addr()
        ))
    );

    // Then the schedules' worker: both are named.
    ticks_handle.shutdown();
    ticks_run.await.unwrap();
    let both = healthz_until(admin, "named both sources", |_, body| {
        body["sources"]["schedules"] != "ok"
    })
    .await;
    assert_eq!(both["status"], "down");
    assert_eq!(
        both["reason"],
        "schedules: its worker is stopped while the engine's worker runs; http_api: its worker is stopped while the engine's worker runs"
    );

    // The whole worker shutting down is no source's failure.
    main.handle.shutdown();
    let stopping = healthz_until(admin, "answered 200 during the shutdown", |status, _| {
        status == 200
    })
    .await;
    assert_eq!(
        stopping["sources"],
        json!({ "schedules": "ok", "http_api": "ok" })
    );
    main.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_run_watches_its_schedules_and_http_api() {
    let dir = TempDir::new();
    let port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    };
    let (admin, api) = (port(), port());
    let config = dir.0.join("health.toml");
    std::fs::write(
        &config,
        format!(
            r#"[engine]
url = "http://127.0.0.1:9/engine-rest"
async_response_timeout = "1s"
shutdown_grace = "1s"

[admin]
addr = "{admin}"

[http_api]
addr = "{api}"

[apps."app"]
api_token = "token"

[[task_mappings]]
topic = "pulse"
callback = "{RECORD_RUN}"
engine = "schedule"

[[task_mappings]]
topic = "record"
callback = "{RECORD_RUN}"
engine = "http"

[[schedules]]
name = "health-pulse"
cron = "* * * * * *"
topic = "pulse"

[store]
url = "{}"
"#,
            dir.sqlite_url("health.db")
        ),
    )
    .unwrap();
    let mut worker = WorkerProcess::spawn(&config, &dir.0.join("effects.txt"), "health");
    let deadline = Instant::now() + Duration::from_secs(60);
    let body = loop {
        worker.assert_running();
        if let Some((200, body)) = healthz(admin).await {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "/healthz never answered 200:\n{}",
            worker.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(
        body["sources"],
        json!({ "schedules": "ok", "http_api": "ok" }),
        "{body}"
    );
    worker.kill();
}
