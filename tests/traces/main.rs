//! OpenTelemetry spans really produced (feature `otel`): a task run by the runtime on the dev
//! engine gives a `task` span with its fields and, inside it, a `service_call` client span per
//! request of the unit; the service (a real HTTP server) receives a W3C `traceparent` naming
//! that trace and span. Spans are collected with the SDK's in-memory exporter, through the same
//! layer `worker run` installs ([`bptl::traces::Traces::layer`]).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bptl::prelude::*;
use bptl::testing::{AppCredentials, MockService, ServiceSpec, UnitTest};
use bptl::traces::{SdkTracerProvider, Traces};
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

const APP: &str = "https://app.example";

/// `UnitTest` for `bptl_dummy::fetch_json` of `path` on topic `topic`, the service at `url`
/// named `name` (the app's bearer token a secret that must stay out of spans).
fn fetch(topic: &str, path: &str, url: String, name: &str) -> UnitTest {
    UnitTest::new("bptl_dummy::fetch_json")
        .topic(topic)
        .variables(variables! { "bptlAppId": APP, "path": path })
        .service(
            "api",
            ServiceSpec::new(url).name(name).bearer("service-token"),
        )
        .app(APP, [("api", AppCredentials::bearer("app-s3cret"))])
}

/// The process's subscriber, exporting every span to memory (each test finds its own by topic).
fn exported() -> &'static InMemorySpanExporter {
    static EXPORTED: OnceLock<InMemorySpanExporter> = OnceLock::new();
    EXPORTED.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let traces = Traces::with_provider(provider);
        tracing_subscriber::registry().with(traces.layer()).init();
        exporter
    })
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// The exported `task` span of `topic` and the service-call spans inside it (waiting briefly:
/// the task span ends once the runtime is done with the task, just after the engine heard).
async fn task_and_calls(topic: &str) -> (SpanData, Vec<SpanData>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let spans = exported().get_finished_spans().expect("spans");
        if let Some(task) = spans
            .iter()
            .find(|s| s.name == "task" && attr(s, "topic").as_deref() == Some(topic))
        {
            let calls = spans
                .iter()
                .filter(|s| s.parent_span_id == task.span_context.span_id())
                .filter(|s| s.span_kind == SpanKind::Client)
                .cloned()
                .collect();
            return (task.clone(), calls);
        }
        assert!(
            Instant::now() < deadline,
            "no task span of {topic}: {spans:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_task_span_holds_a_service_call_span_whose_traceparent_reaches_the_service() {
    exported();
    let api = MockService::start().await;
    api.get("zaken/7")
        .respond_json(json!({"identificatie": "ZAAK-7"}))
        .await;
    let run = fetch("traced-fetch", "zaken/7?token=s3cret", api.url(), "zaken")
        .run()
        .await;
    run.assert_completed();

    let (task, calls) = task_and_calls("traced-fetch").await;
    let record = run.record().expect("the task's record");
    assert_eq!(
        attr(&task, "task_id").as_deref(),
        Some(record.task_id.as_str())
    );
    assert!(attr(&task, "worker_id").is_some_and(|w| !w.is_empty()));
    assert!(attr(&task, "process_instance_id").is_some_and(|p| !p.is_empty()));

    assert_eq!(calls.len(), 1, "one service call: {calls:#?}");
    let call = &calls[0];
    assert_eq!(call.name, "GET zaken");
    assert_eq!(call.span_context.trace_id(), task.span_context.trace_id());
    assert_eq!(attr(call, "service").as_deref(), Some("zaken"));
    assert_eq!(attr(call, "http.request.method").as_deref(), Some("GET"));
    assert_eq!(attr(call, "url.path").as_deref(), Some("/zaken/7"));
    assert_eq!(
        attr(call, "http.response.status_code").as_deref(),
        Some("200")
    );
    let everything = format!("{task:?}{call:?}");
    assert!(
        !everything.contains("s3cret"),
        "queries and credentials stay out of spans"
    );

    // The service received the call's span as the parent of whatever it does.
    let received = api.requests().await;
    assert_eq!(received.len(), 1);
    let traceparent = received[0]
        .header("traceparent")
        .expect("a traceparent header");
    assert_eq!(
        traceparent,
        format!(
            "00-{}-{}-01",
            call.span_context.trace_id(),
            call.span_context.span_id()
        )
    );
}

#[tokio::test]
async fn a_call_that_gets_no_answer_has_its_error_on_the_span() {
    exported();
    // A port nothing listens on: the connection is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}/api/");
    let run = fetch("traced-refused", "zaken/8", url, "down")
        .retries_left(0)
        .run()
        .await;
    run.assert_failure();

    let (_, calls) = task_and_calls("traced-refused").await;
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(attr(&calls[0], "url.path").as_deref(), Some("/api/zaken/8"));
    assert_eq!(attr(&calls[0], "http.response.status_code"), None);
    let error = attr(&calls[0], "error").expect("the error on the span");
    assert!(error.contains("onnect"), "{error}");
}
