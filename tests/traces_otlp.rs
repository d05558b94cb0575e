//! `worker run` with `[traces]` really exports over OTLP/HTTP: an in-process collector (an
//! axum server accepting `POST /v1/traces`) receives protobuf `ExportTraceServiceRequest`s
//! with the task span and its service-call span, as service `service_name`; the service the
//! unit called received the same trace in its `traceparent`.
//!
//! The CLI runs in this test process (its own subscriber is the process's first): one test in
//! this binary. It stops as an operator stops it, with SIGINT, and flushes the export.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use bptl::testing::MockService;
use bptl_dev_engine::{DevEngine, InstanceState};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use serde_json::json;

#[path = "support/store_support.rs"]
mod store_support;

type Received = Arc<Mutex<Vec<ExportTraceServiceRequest>>>;

/// The collector: every export decoded as the OTLP protobuf message; its address.
async fn collector() -> (String, Received) {
    let received = Received::default();
    let app = axum::Router::new()
        .route(
            "/v1/traces",
            post(|State(received): State<Received>, body: Bytes| async move {
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                received.lock().expect("lock").push(request);
                // An empty ExportTraceServiceResponse: everything accepted.
                ([("content-type", "application/x-protobuf")], Vec::new())
            }),
        )
        .with_state(Arc::clone(&received));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), received)
}

fn text(value: Option<&AnyValue>) -> Option<String> {
    match value?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        _ => None,
    }
}

fn attr(attributes: &[KeyValue], key: &str) -> Option<String> {
    text(attributes.iter().find(|kv| kv.key == key)?.value.as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_run_exports_the_task_and_service_call_spans_to_the_collector() {
    let (endpoint, received) = collector().await;
    let api = MockService::start().await;
    api.get("zaken/7")
        .respond_json(json!({"identificatie": "ZAAK-7"}))
        .await;
    let engine = DevEngine::start().await.expect("engine");
    engine
        .deploy_str(
            "fetch.bpmn",
            &store_support::one_task_bpmn("fetch", "fetch"),
        )
        .expect("deploy");
    let instance = engine
        .start_process(
            "fetch",
            json!({"bptlAppId": {"value": "https://app.example", "type": "String"},
                   "path": {"value": "zaken/7", "type": "String"}}),
            None,
        )
        .expect("start");
    let dir = store_support::TempDir::new();
    let config = dir.0.join("worker.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[engine]
url = "{engine}"
async_response_timeout = "1s"

[store]
enabled = false

[[task_mappings]]
topic = "fetch"
callback = "bptl_dummy::fetch_json"
services = {{ api = "zaken" }}

[services.zaken]
api_root = "{api}/"
api_type = "zrc"
auth = "api_key"
header = "X-Api-Key"
value = "service-key"

[apps."https://app.example"]

[traces]
otlp_endpoint = "{endpoint}"
service_name = "bptl-traces-test"
"#,
            engine = engine.url(),
            api = api.url().trim_end_matches('/'),
        ),
    )
    .expect("write the config");

    let path = config.to_string_lossy().into_owned();
    let worker = std::thread::spawn(move || {
        bptl::cli::run_cli_code(["worker", "run", "--config", path.as_str()])
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while engine.instance_state(&instance) != Some(InstanceState::Completed) {
        assert!(!worker.is_finished(), "the worker stopped early");
        assert!(Instant::now() < deadline, "the instance did not complete");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Stop it as an operator would; the worker flushes the export before it returns.
    let pid = std::process::id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status();
    let code = tokio::task::spawn_blocking(move || worker.join())
        .await
        .expect("join")
        .expect("the worker thread");
    assert_eq!(code, 0);

    let requests = received.lock().expect("lock").clone();
    assert!(!requests.is_empty(), "the collector received no export");
    let resource_spans: Vec<_> = requests.iter().flat_map(|r| &r.resource_spans).collect();
    for rs in &resource_spans {
        let resource = rs.resource.as_ref().expect("a resource");
        assert_eq!(
            attr(&resource.attributes, "service.name").as_deref(),
            Some("bptl-traces-test")
        );
    }
    let spans: Vec<&Span> = resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .collect();
    let task = spans
        .iter()
        .find(|s| s.name == "task" && attr(&s.attributes, "topic").as_deref() == Some("fetch"))
        .unwrap_or_else(|| panic!("no task span among {spans:#?}"));
    assert!(attr(&task.attributes, "task_id").is_some_and(|t| !t.is_empty()));
    assert_eq!(
        attr(&task.attributes, "process_instance_id").as_deref(),
        Some(instance.as_str())
    );
    let call = spans
        .iter()
        .find(|s| s.parent_span_id == task.span_id)
        .unwrap_or_else(|| panic!("no span inside the task span among {spans:#?}"));
    assert_eq!(call.name, "GET zaken");
    assert_eq!(call.trace_id, task.trace_id);
    assert_eq!(
        attr(&call.attributes, "url.path").as_deref(),
        Some("/zaken/7")
    );
    assert_eq!(
        attr(&call.attributes, "http.response.status_code").as_deref(),
        Some("200")
    );

    let sent = api.requests().await;
    assert_eq!(
        sent[0].header("traceparent"),
        Some(format!("00-{}-{}-01", hex(&call.trace_id), hex(&call.span_id)).as_str())
    );
}
