//! OpenTelemetry traces (feature `otel`): the worker's `tracing` spans exported over OTLP/HTTP
//! (protobuf), configured by `[traces]` (README, "Traces").
//!
//! Spans: `task` for each task the runtime handles (`topic`, `task_id`,
//! `process_instance_id`, `worker_id`), and inside it `service_call` for each request of a
//! unit's service client (`service`, `http.request.method`, `url.path`,
//! `http.response.status_code`, or `error`). Service calls carry the W3C `traceparent` of
//! their span, so a service that traces too continues the same trace.
//!
//! `worker run` starts the export itself when `[traces]` is configured. A program of its own
//! puts [`Traces::layer`] into its `tracing` subscriber, here with the SDK's in-memory exporter:
//!
//! ```
//! use bptl::traces::{SdkTracerProvider, Traces};
//! use opentelemetry_sdk::trace::InMemorySpanExporter;
//! use tracing_subscriber::layer::SubscriberExt as _;
//!
//! let exported = InMemorySpanExporter::default();
//! let traces = Traces::with_provider(
//!     SdkTracerProvider::builder().with_simple_exporter(exported.clone()).build(),
//! );
//! let subscriber = tracing_subscriber::registry().with(traces.layer());
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info_span!("task", topic = "double").in_scope(|| {});
//! });
//! let spans = exported.get_finished_spans().unwrap();
//! assert_eq!(spans[0].name, "task");
//! traces.shutdown().unwrap();
//! ```

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::Sampler;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

use crate::config::TracesConfig;

pub use opentelemetry_sdk::trace::SdkTracerProvider;

/// How long one export to the collector may take.
const EXPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A tracer provider whose spans reach an exporter: the OTLP collector of `[traces]`
/// ([`Traces::start`]) or one of the program's own ([`Traces::with_provider`]). Spans are
/// exported in batches; [`Traces::shutdown`] sends what is left.
#[derive(Debug, Clone)]
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// Export to `config`'s collector: `POST {otlp_endpoint}/v1/traces` (OTLP/HTTP, protobuf),
    /// as service `service_name`, sampling `sample_ratio` of the traces that start here (a
    /// trace continued from elsewhere follows its parent's decision).
    ///
    /// ```
    /// let config = bptl::config::TracesConfig {
    ///     otlp_endpoint: "http://127.0.0.1:4318".into(),
    ///     service_name: "bptl".into(),
    ///     sample_ratio: 1.0,
    /// };
    /// let traces = bptl::traces::Traces::start(&config).unwrap();
    /// traces.shutdown().unwrap(); // nothing recorded, nothing sent
    /// ```
    pub fn start(config: &TracesConfig) -> Result<Traces, String> {
        // The exporter's HTTP client is a reqwest client, with rustls when `tls` is on.
        bptl_core::install_crypto_provider();
        let url = config.traces_url();
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| format!("traces: cannot export to {url}: {e}"))?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                config.sample_ratio,
            ))))
            .with_resource(
                Resource::builder()
                    .with_service_name(config.service_name.clone())
                    .build(),
            )
            .build();
        Ok(Traces { provider })
    }

    /// Spans go to `provider` (an exporter of the program's choosing, e.g. the SDK's
    /// in-memory exporter in tests).
    pub fn with_provider(provider: SdkTracerProvider) -> Traces {
        Traces { provider }
    }

    /// The `tracing` layer that turns spans into OpenTelemetry spans of this provider (spans at
    /// `INFO` and above: the task and service-call spans, not the libraries' debug spans).
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + use<S>
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer("bptl"))
            .with_filter(tracing_subscriber::filter::LevelFilter::INFO)
    }

    /// Export the spans not sent yet and stop; blocks until the exporter is done (or its
    /// timeout passed).
    pub fn shutdown(&self) -> Result<(), String> {
        self.provider
            .shutdown()
            .map_err(|e| format!("traces: the last spans could not be exported: {e}"))
    }
}
