//! The admin listener over real HTTP: `/healthz` and `/readyz` following a worker against the
//! dev engine (stopped and started again) and a real SQLite store (closed), and `/metrics`
//! parsed as the Prometheus exposition format.
#![allow(clippy::unwrap_used)]

mod runtime_support;
#[path = "support/store_support.rs"]
mod store_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bptl::cli::Admin;
use bptl::prelude::*;
use bptl::{TaskMapping, TaskMappings, TaskStore};
use bptl_dev_engine::Endpoint;
use runtime_support::*;
use serde_json::{Value, json};
use store_support::TempDir;

/// Double `amount`.
#[register]
async fn double(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let n: i64 = check_variable_as(&task.get_variables()?, "amount")?;
    Ok(variables! { "doubled": n * 2 })
}

fn mappings() -> TaskMappings {
    TaskMappings::new([TaskMapping::new("double", "admin::double")]).unwrap()
}

/// Serve the admin listener of `worker` (readiness: the engine answered within 5 s) on a free
/// port.
async fn serve(worker: &Running, store: Arc<dyn TaskStore>) -> SocketAddr {
    Admin::new(worker.handle.clone(), store, Duration::from_secs(5))
        .serve("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// `GET http://addr/path`: the status and the JSON body.
async fn get_json(addr: SocketAddr, path: &str) -> (u16, Value) {
    let response = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Poll `path` until it answers `status`; the last body.
async fn until_status(addr: SocketAddr, path: &str, status: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (got, body) = get_json(addr, path).await;
        if got == status {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} still answers {got} ({body}), not {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_engine_and_liveness_stays() {
    let engine = engine().await;
    let instances = deploy_and_start(&engine, "p", &["double"], 2, json!({ "amount": int(21) }));
    let worker = spawn_worker(&engine, mappings(), config(), None, |b| b);
    let store: Arc<dyn TaskStore> = worker.store.clone();
    let addr = serve(&worker, store).await;

    let ready = until_status(addr, "/readyz", 200).await;
    assert_eq!(
        ready,
        json!({ "status": "ready", "engine": "ok", "store": "ok" })
    );
    engine
        .wait_until_all_ended(Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        history_value(&engine, &instances[0], "doubled"),
        Some(json!(42))
    );

    engine.stop_http().await;
    let down = until_status(addr, "/readyz", 503).await;
    assert_eq!(down["status"], "not_ready", "{down}");
    assert_eq!(down["store"], "ok", "{down}");
    let reason = down["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("engine: the engine did not answer the last fetch: "),
        "{down}"
    );
    let (status, alive) = get_json(addr, "/healthz").await;
    assert_eq!(status, 200, "an engine away is not a dead worker: {alive}");
    assert_eq!(alive["status"], "ok");
    assert!(
        ["fetching", "backing_off"].contains(&alive["phase"].as_str().unwrap()),
        "{alive}"
    );

    engine.restart_http().await.unwrap();
    let back = until_status(addr, "/readyz", 200).await;
    assert_eq!(back["status"], "ready", "{back}");

    worker.handle.shutdown();
    let stopping = until_status(addr, "/readyz", 503).await;
    assert_eq!(
        stopping["engine"], "the worker is shutting down",
        "{stopping}"
    );
    worker.join.await.unwrap();
    let (status, stopped) = get_json(addr, "/healthz").await;
    assert_eq!((status, stopped["phase"].as_str()), (200, Some("stopped")));
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_the_store_takes_no_writes() {
    let engine = engine().await;
    let worker = spawn_worker(&engine, mappings(), config(), None, |b| b);
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.0.join("bptl.db").display());
    let store = bptl::sql_store::connect(&url).await.unwrap();
    let addr = serve(&worker, Arc::clone(&store)).await;
    until_status(addr, "/readyz", 200).await;

    store.close().await;
    let (status, body) = get_json(addr, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["engine"], "ok", "{body}");
    let reason = body["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!("store: task store '{url}' is closed")),
        "{body}"
    );
    worker.stop().await;
    engine.shutdown().await;
}

/// `/metrics` of `addr`, parsed as the Prometheus text format.
async fn scrape(addr: SocketAddr) -> prometheus_parse::Scrape {
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

/// The value of the sample `name` whose labels include `labels`.
fn sample(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    use prometheus_parse::Value as V;
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .find(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .and_then(|s| match s.value {
            V::Counter(v) | V::Gauge(v) | V::Untyped(v) => Some(v),
            _ => None,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_as_prometheus_text_with_every_series() {
    let engine = engine().await;
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.0.join("bptl.db").display());
    let store = bptl::sql_store::connect(&url).await.unwrap();
    let refusing = bptl::callback::HttpCallbackSender::shared(Default::default()).unwrap();
    let worker_store = Arc::clone(&store);
    let worker = spawn_worker(&engine, mappings(), config(), None, move |b| {
        b.store(worker_store).callback_sender(refusing)
    });
    let addr = serve(&worker, Arc::clone(&store)).await;
    // Completed, with a callbackUrl the empty allowlist refuses.
    let vars = json!({ "amount": int(2), "callbackUrl": string("http://127.0.0.1:1/hook") });
    deploy_and_start(&engine, "p", &["double"], 2, vars);
    engine
        .wait_until_all_ended(Duration::from_secs(10))
        .await
        .unwrap();
    // A completion the engine refuses for good.
    engine.faults().fail_next(
        Endpoint::Complete,
        1,
        400,
        json!({"type": "InvalidRequestException", "message": "no", "code": 0}),
    );
    engine
        .start_process("p", json!({ "amount": int(3) }), None)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while sample(&scrape(addr).await, "bptl_report_errors_total", &[]).is_none() {
        assert!(Instant::now() < deadline, "no report error counted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Fetches failing while the engine is away.
    engine.stop_http().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while sample(&scrape(addr).await, "bptl_engine_up", &[]) != Some(0.0) {
        assert!(
            Instant::now() < deadline,
            "bptl_engine_up did not drop to 0"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    engine.restart_http().await.unwrap();
    // A store that takes no writes: the next task's claim fails.
    store.close().await;
    engine
        .start_process("p", json!({ "amount": int(4) }), None)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let metrics = loop {
        let metrics = scrape(addr).await;
        if sample(&metrics, "bptl_store_errors_total", &[]).is_some() {
            break metrics;
        }
        assert!(Instant::now() < deadline, "no store error counted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        sample(&metrics, "bptl_build_info", &[("version", version)]),
        Some(1.0)
    );
    assert_eq!(sample(&metrics, "bptl_engine_up", &[]), Some(1.0));
    assert!(
        sample(
            &metrics,
            "bptl_fetch_errors_total",
            &[("kind", "transient")]
        ) >= Some(1.0),
        "{:?}",
        metrics.samples
    );
    assert_eq!(
        sample(
            &metrics,
            "bptl_report_errors_total",
            &[("topic", "double"), ("kind", "bad_request")]
        ),
        Some(1.0)
    );
    assert!(
        sample(
            &metrics,
            "bptl_store_errors_total",
            &[("operation", "claim"), ("kind", "closed")]
        ) >= Some(1.0)
    );
    assert_eq!(
        sample(&metrics, "bptl_callbacks_total", &[("result", "refused")]),
        Some(2.0)
    );
    assert!(
        sample(
            &metrics,
            "bptl_tasks_completed_total",
            &[("topic", "double")]
        ) >= Some(2.0)
    );
    // The unit durations are a histogram with the fixed buckets, not a summary.
    let histogram = metrics
        .samples
        .iter()
        .find(|s| s.metric == "bptl_unit_duration_seconds")
        .expect("bptl_unit_duration_seconds");
    let prometheus_parse::Value::Histogram(buckets) = &histogram.value else {
        panic!("not a histogram: {histogram:?}");
    };
    let bounds: Vec<f64> = buckets.iter().map(|b| b.less_than).collect();
    let mut expected = bptl::runtime::metrics::UNIT_DURATION_BUCKETS.to_vec();
    expected.push(f64::INFINITY);
    assert_eq!(bounds, expected);
    assert!(buckets.last().unwrap().count >= 3.0, "{buckets:?}");
    assert_eq!(
        metrics.docs.get("bptl_engine_up").map(String::as_str),
        Some("1 when the engine answered the last fetch, 0 when it failed.")
    );
    worker.stop().await;
    engine.shutdown().await;
}
