//! The span of every outgoing service call and, with the `otel` feature, the W3C
//! `traceparent` header that carries its trace to the service.
//!
//! The span is `service_call` (in the task's span when a unit makes the call), with the fields
//! `service`, `http.request.method`, `url.path` (the path only: a query may carry secrets) and,
//! once answered, `http.response.status_code`; a call that got no answer has `error`. With
//! OpenTelemetry export configured (the facade's `[traces]`), it becomes an OTLP client span and
//! the header names it as the parent of the service's own spans; without export the header is
//! left out (there is no trace to join).

use reqwest::header::HeaderMap;
use tracing::Span;

/// The span of one call to `service`.
pub(crate) fn call_span(service: &str, method: &str, path: &str) -> Span {
    tracing::info_span!(
        "service_call",
        otel.name = %format_args!("{method} {service}"),
        otel.kind = "client",
        service,
        http.request.method = method,
        url.path = path,
        http.response.status_code = tracing::field::Empty,
        error = tracing::field::Empty,
    )
}

/// Add the W3C `traceparent` (and `tracestate`) of `span` to `headers` (feature `otel`; when
/// `span` is not exported, or without the feature, nothing is added).
pub(crate) fn inject_traceparent(span: &Span, headers: &mut HeaderMap) {
    #[cfg(feature = "otel")]
    {
        use opentelemetry::propagation::TextMapPropagator as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;

        let context = span.context();
        opentelemetry_sdk::propagation::TraceContextPropagator::new()
            .inject_context(&context, &mut HeaderInjector(headers));
    }
    #[cfg(not(feature = "otel"))]
    let _ = (span, headers);
}

/// Writes propagation fields as HTTP headers.
#[cfg(feature = "otel")]
struct HeaderInjector<'a>(&'a mut HeaderMap);

#[cfg(feature = "otel")]
impl opentelemetry::propagation::Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        use reqwest::header::{HeaderName, HeaderValue};
        // The propagator writes lower-case ASCII names and printable values.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}
