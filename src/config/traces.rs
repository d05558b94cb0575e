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

#[cfg(all(test, feature = "otel"))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use crate::config::Config;

    const ENGINE: &str = "[engine]\nurl = \"http://127.0.0.1:8080/engine-rest\"\n";

    fn problems(traces: &str) -> Vec<String> {
        let text = format!("{ENGINE}[traces]\n{traces}");
        let problems = Config::from_toml_str(&text, &|_| None).unwrap_err();
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn no_section_no_export() {
        let c = Config::from_toml_str(ENGINE, &|_| None).unwrap();
        assert_eq!(c.traces, None);
    }

    #[test]
    fn the_keys_and_their_defaults() {
        let text = format!(
            "{ENGINE}[traces]\notlp_endpoint = \"https://collector.example:4318\"\n\
             service_name = \"bptl-zaken\"\nsample_ratio = 0.25\n"
        );
        let t = Config::from_toml_str(&text, &|_| None)
            .unwrap()
            .traces
            .unwrap();
        assert_eq!(t.traces_url(), "https://collector.example:4318/v1/traces");
        assert_eq!(
            (t.service_name.as_str(), t.sample_ratio),
            ("bptl-zaken", 0.25)
        );

        let env = |name: &str| match name {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://otel:4318".to_owned()),
            "OTEL_SERVICE_NAME" => Some("from-env".to_owned()),
            _ => None,
        };
        let t = Config::from_toml_str(&format!("{ENGINE}[traces]\n"), &env)
            .unwrap()
            .traces
            .unwrap();
        assert_eq!(t.traces_url(), "http://otel:4318/v1/traces");
        assert_eq!((t.service_name.as_str(), t.sample_ratio), ("from-env", 1.0));
        let t = Config::from_toml_str(
            &format!("{ENGINE}[traces]\nservice_name = \"file\"\n"),
            &env,
        )
        .unwrap()
        .traces
        .unwrap();
        assert_eq!(
            t.service_name, "file",
            "the file wins over OTEL_SERVICE_NAME"
        );
    }

    #[test]
    fn every_problem_names_its_key() {
        assert_eq!(
            problems(""),
            [
                "traces.otlp_endpoint: missing: set the OTLP/HTTP collector's URL, e.g. \
              \"http://127.0.0.1:4318\" (or OTEL_EXPORTER_OTLP_ENDPOINT)"
            ]
        );
        let all = problems(
            "otlp_endpoint = \"collector:4318\"\nservice_name = \" \"\nsample_ratio = 1.5\n",
        );
        assert_eq!(all.len(), 3, "{all:?}");
        assert!(all[0].starts_with("traces.otlp_endpoint: 'collector:4318' is not an http(s) URL"));
        assert!(all[1].starts_with("traces.service_name: empty"));
        assert!(all[2].starts_with("traces.sample_ratio: 1.5 is not a ratio"));
        let typo = problems("otlp_endpoint = \"http://c:4318\"\nsample_rate = 0.5\n");
        assert_eq!(
            typo,
            ["traces.sample_rate: unknown key; did you mean 'sample_ratio'?"]
        );
    }
}
