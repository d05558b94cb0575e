//! The CLI's `tracing` subscriber: log lines to stderr (`[log] format`) and, with `[traces]`
//! (feature `otel`), the OpenTelemetry export of the spans.

use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{LogFormat, TracesConfig};

/// What logging started and must finish: the traces export, whose last spans are sent by
/// [`Logging::shutdown`].
#[derive(Debug, Default)]
pub(super) struct Logging {
    #[cfg(feature = "otel")]
    traces: Option<crate::traces::Traces>,
}

type BoxedLayer = Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync>;

/// Log to stderr in `format`, filtered by `RUST_LOG` (default `info`). JSON lines carry the
/// current span's fields (a task's `topic`, `task_id`, `process_instance_id`, `worker_id`)
/// under `"span"`. With `traces`, spans are exported too (regardless of `RUST_LOG`).
pub(super) fn init(format: LogFormat, traces: Option<&TracesConfig>) -> Result<Logging, String> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines: BoxedLayer = match format {
        LogFormat::Json => lines
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
        LogFormat::Text => lines
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_filter(filter)
            .boxed(),
    };
    #[cfg_attr(not(feature = "otel"), allow(unused_mut))]
    let mut layers = vec![lines];
    let logging = Logging::default();
    #[cfg(feature = "otel")]
    let logging = match traces {
        Some(config) => {
            let traces = crate::traces::Traces::start(config)?;
            layers.push(traces.layer().boxed());
            Logging {
                traces: Some(traces),
            }
        }
        None => logging,
    };
    #[cfg(not(feature = "otel"))]
    // Config refuses `[traces]` without the feature.
    let _ = traces;
    // A subscriber set before (a test, an embedding program) stays.
    let _ = tracing_subscriber::registry().with(layers).try_init();
    Ok(logging)
}

impl Logging {
    /// Send the spans not exported yet (blocking: call it when the work is done).
    pub(super) fn shutdown(self) {
        #[cfg(feature = "otel")]
        if let Some(traces) = self.traces
            && let Err(e) = traces.shutdown()
        {
            eprintln!("warning: {e}");
        }
    }
}
