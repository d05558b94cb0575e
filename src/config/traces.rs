//! `[traces]`: OpenTelemetry export of the worker's spans (feature `otel`; README, "Traces").

use serde::Deserialize;

use super::ConfigError;

/// `[traces]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct TracesModel {
    pub otlp_endpoint: Option<String>,
    pub service_name: Option<String>,
    pub sample_ratio: Option<f64>,
}

/// `[traces]`: where `worker run` exports its spans (OTLP over HTTP, protobuf).
///
/// ```toml
/// [traces]
/// otlp_endpoint = "http://otel-collector:4318"  # default: OTEL_EXPORTER_OTLP_ENDPOINT
/// service_name = "bptl-zaken"                   # default: OTEL_SERVICE_NAME, else "bptl"
/// sample_ratio = 0.25                           # default 1.0: every trace
/// ```
///
/// ```
/// # #[cfg(feature = "otel")] {
/// let config = bptl::config::Config::from_toml_str(
///     "[engine]\nurl = \"http://127.0.0.1:8080/engine-rest\"\n[traces]\n",
///     &|name| (name == "OTEL_EXPORTER_OTLP_ENDPOINT").then(|| "http://collector:4318/".into()),
/// ).unwrap();
/// let traces = config.traces.unwrap();
/// assert_eq!(traces.traces_url(), "http://collector:4318/v1/traces");
/// assert_eq!(traces.service_name, "bptl");
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TracesConfig {
    /// `otlp_endpoint`: the collector's base URL; spans go to `{otlp_endpoint}/v1/traces`.
    pub otlp_endpoint: String,
    /// `service_name`: the `service.name` of the exported spans.
    pub service_name: String,
    /// `sample_ratio`: the share of traces started by the worker that are exported, 0 to 1.
    pub sample_ratio: f64,
}

impl TracesConfig {
    /// The URL spans are posted to: `otlp_endpoint` with `/v1/traces` (as the OTLP standard
    /// does with `OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub fn traces_url(&self) -> String {
        format!("{}/v1/traces", self.otlp_endpoint.trim_end_matches('/'))
    }
}

/// The `[traces]` section, defaults from `env` (`OTEL_EXPORTER_OTLP_ENDPOINT`,
/// `OTEL_SERVICE_NAME`) applied, its problems added to `problems`.
pub(super) fn traces(
    model: Option<TracesModel>,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<ConfigError>,
) -> Option<TracesConfig> {
    let model = model?;
    if !cfg!(feature = "otel") {
        problems.push(ConfigError::new(
            "traces",
            "this worker was built without OpenTelemetry: build it with `--features otel` \
             (bptl's `otel` feature), or remove the [traces] section",
        ));
        return None;
    }
    let before = problems.len();
    let otlp_endpoint = model
        .otlp_endpoint
        .or_else(|| env("OTEL_EXPORTER_OTLP_ENDPOINT"))
        .unwrap_or_default();
    match url::Url::parse(otlp_endpoint.trim()) {
        _ if otlp_endpoint.trim().is_empty() => problems.push(ConfigError::new(
            "traces.otlp_endpoint",
            "missing: set the OTLP/HTTP collector's URL, e.g. \"http://127.0.0.1:4318\" \
             (or OTEL_EXPORTER_OTLP_ENDPOINT)",
        )),
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
        _ => problems.push(ConfigError::new(
            "traces.otlp_endpoint",
            format!(
                "'{otlp_endpoint}' is not an http(s) URL: write the collector's OTLP/HTTP \
                 address, e.g. \"http://127.0.0.1:4318\""
            ),
        )),
    }
    let service_name = model
        .service_name
        .or_else(|| env("OTEL_SERVICE_NAME"))
        .unwrap_or_else(|| "bptl".to_owned());
    if service_name.trim().is_empty() {
        problems.push(ConfigError::new(
            "traces.service_name",
            "empty: name the worker as the traces should show it, e.g. \"bptl\"",
        ));
    }
    let sample_ratio = model.sample_ratio.unwrap_or(1.0);
    if !(0.0..=1.0).contains(&sample_ratio) {
        problems.push(ConfigError::new(
            "traces.sample_ratio",
            format!(
                "{sample_ratio} is not a ratio: write a number from 0 (none) to 1 (every trace)"
            ),
        ));
    }
    (problems.len() == before).then(|| TracesConfig {
        otlp_endpoint: otlp_endpoint.trim().to_owned(),
        service_name,
        sample_ratio,
    })
}
