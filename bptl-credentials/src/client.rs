//! Authenticated HTTP clients for services, logging every request on the task's timeline.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use bptl_core::{EventKind, Timeline};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tracing::Instrument as _;

use crate::error::CredentialsError;
use crate::model::Service;
use crate::store::{AuthHeaders, CredentialStore};

/// Bodies are recorded on the timeline up to this many bytes.
pub const MAX_RECORDED_BODY: usize = 4096;

/// What a redacted value reads as.
pub const REDACTED: &str = "***";

/// Whether a header (or query parameter) of this name carries a secret: names containing
/// API, TOKEN, KEY, SECRET, PASS, SIGNATURE, AUTH or COOKIE, in any case.
///
/// ```
/// use bptl_credentials::is_secret_name;
/// assert!(is_secret_name("Authorization"));
/// assert!(is_secret_name("X-Api-Key"));
/// assert!(!is_secret_name("Accept-Crs"));
/// ```
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "API",
        "TOKEN",
        "KEY",
        "SECRET",
        "PASS",
        "SIGNATURE",
        "AUTH",
        "COOKIE",
    ]
    .iter()
    .any(|needle| upper.contains(needle))
}

/// Headers as JSON, secret ones as `***`.
pub fn redact_headers(headers: &HeaderMap) -> Value {
    let mut map = serde_json::Map::new();
    for (name, value) in headers {
        let shown = if is_secret_name(name.as_str()) || value.is_sensitive() {
            REDACTED.to_owned()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        match map.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&shown);
            }
            _ => {
                map.insert(name.as_str().to_owned(), Value::String(shown));
            }
        }
    }
    Value::Object(map)
}

/// The URL with the values of secret-looking query parameters replaced by `***`, and any
/// user info removed.
pub fn redact_url(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_password(None);
    let _ = url.set_username("");
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_name(&k) {
                    REDACTED.to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// At most `max` bytes of `text` (on a character boundary), with a note when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

/// An error with its causes, `: `-joined (reqwest's outer text alone, "error sending request",
/// says nothing), and what to do when the cause is the server's certificate or TLS handshake.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut texts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !texts.iter().any(|t| t.contains(&text)) {
            texts.push(text);
        }
        source = cause.source();
    }
    if texts.len() > 1 && texts[0].starts_with("error sending request") {
        texts.remove(0);
    }
    let mut out = texts.join(": ");
    if out.contains("invalid peer certificate") {
        out.push_str(
            " (the server's certificate is not trusted: if it is signed by a private CA, set \
             ca_file to that CA's certificate, PEM)",
        );
    } else if out.contains("CertificateRequired") || out.contains("BadCertificate") {
        out.push_str(
            " (the server refused the client certificate, or wants one: set client_cert and \
             client_key to a certificate it accepts)",
        );
    }
    out
}

fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), REDACTED);
        }
    }
    out
}

struct Inner {
    service: Arc<Service>,
    http: reqwest::Client,
    auth: AuthHeaders,
    secrets: Vec<String>,
    timeline: Option<Timeline>,
}

/// An HTTP client for one service: rooted at its API root, authenticated for one application,
/// with the service's timeout; every request and response is recorded on the task's timeline
/// (method, URL, status, duration, headers with secrets as `***`; bodies up to
/// [`MAX_RECORDED_BODY`] bytes as the service's [`LogBodies`](crate::LogBodies) says: by default
/// only for failed exchanges).
///
/// Units get one with `task.client("alias").await?` (see [`TaskServices`](crate::TaskServices)).
/// Paths are relative to the API root (a leading `/` too); absolute URLs must lie below the API
/// root, so credentials never go elsewhere. Responses are read completely.
///
/// ```no_run
/// # async fn demo(zrc: bptl_credentials::ServiceClient) -> Result<(), bptl_credentials::CredentialsError> {
/// let zaak = zrc.get("zaken/123").await?;                       // JSON helpers
/// let created = zrc.post("zaken", &serde_json::json!({"omschrijving": "x"})).await?;
/// let response = zrc.request(reqwest::Method::GET, "zaken")     // anything else
///     .query(&[("identificatie", "ZAAK-1")])
///     .header("Accept-Crs", "EPSG:4326")
///     .send()
///     .await?;
/// assert!(response.status().is_success());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ServiceClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceClient")
            .field("service", &self.inner.service.name())
            .field("api_root", &self.inner.service.api_root().as_str())
            .field("auth", &self.inner.auth)
            .finish_non_exhaustive()
    }
}

impl CredentialStore {
    /// A client for the service named `service`, authenticated for `app_id`, recording on
    /// `timeline` when given.
    pub async fn client(
        &self,
        app_id: &str,
        service: &str,
        timeline: Option<Timeline>,
    ) -> Result<ServiceClient, CredentialsError> {
        let svc = self
            .service(service)
            .ok_or_else(|| CredentialsError::UnknownService(service.to_owned()))?;
        let auth = self.credentials_for(app_id, service).await?;
        let secrets = auth.secret_values();
        Ok(ServiceClient {
            inner: Arc::new(Inner {
                service: svc,
                http: self
                    .http(service)
                    .ok_or_else(|| CredentialsError::UnknownService(service.to_owned()))?
                    .clone(),
                auth,
                secrets,
                timeline,
            }),
        })
    }
}

impl ServiceClient {
    /// The service.
    pub fn service(&self) -> &Service {
        &self.inner.service
    }

    /// The URL for `path`: relative paths (with or without a leading `/`) join below the API
    /// root; absolute URLs must start with the API root.
    pub fn url(&self, path: &str) -> Result<Url, CredentialsError> {
        let root = self.inner.service.api_root();
        let invalid = |message: String| CredentialsError::InvalidUrl {
            service: self.inner.service.name().to_owned(),
            path: path.to_owned(),
            message,
        };
        if path.starts_with("http://") || path.starts_with("https://") {
            let url = Url::parse(path).map_err(|e| invalid(format!("not a URL ({e})")))?;
            if url.as_str().starts_with(root.as_str()) {
                return Ok(url);
            }
            return Err(invalid(format!(
                "it is not below the API root {root}: credentials are only sent to the service's own API"
            )));
        }
        root.join(path.trim_start_matches('/'))
            .map_err(|e| invalid(format!("not a path ({e})")))
    }

    /// A request of any method; finish it with [`ServiceRequest::send`].
    pub fn request(&self, method: Method, path: &str) -> ServiceRequest {
        let builder = self.url(path).map(|url| {
            self.inner
                .http
                .request(method.clone(), url)
                .headers(self.inner.auth.to_header_map())
                .timeout(self.inner.service.request_timeout())
        });
        ServiceRequest {
            client: self.clone(),
            method,
            builder,
        }
    }

    /// `GET path`, the JSON answer (`Null` for an empty body); an error status is an error.
    pub async fn get(&self, path: &str) -> Result<Value, CredentialsError> {
        self.request(Method::GET, path).send_json().await
    }

    /// `POST path` with a JSON body, the JSON answer.
    pub async fn post<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Value, CredentialsError> {
        self.request(Method::POST, path)
            .json(body)
            .send_json()
            .await
    }

    /// `PUT path` with a JSON body, the JSON answer.
    pub async fn put<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Value, CredentialsError> {
        self.request(Method::PUT, path).json(body).send_json().await
    }

    /// `PATCH path` with a JSON body, the JSON answer.
    pub async fn patch<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Value, CredentialsError> {
        self.request(Method::PATCH, path)
            .json(body)
            .send_json()
            .await
    }

    /// `DELETE path`, the JSON answer (`Null` for an empty body, e.g. 204).
    pub async fn delete(&self, path: &str) -> Result<Value, CredentialsError> {
        self.request(Method::DELETE, path).send_json().await
    }
}

/// A request being built: add headers, a query, a body, or anything else reqwest offers with
/// [`ServiceRequest::with`]; [`ServiceRequest::send`] makes it and records it.
pub struct ServiceRequest {
    client: ServiceClient,
    method: Method,
    builder: Result<reqwest::RequestBuilder, CredentialsError>,
}

impl fmt::Debug for ServiceRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceRequest")
            .field("service", &self.client.service().name())
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

impl ServiceRequest {
    /// Change the underlying `reqwest::RequestBuilder` (auth and timeout are already set).
    pub fn with(
        mut self,
        f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Self {
        self.builder = self.builder.map(f);
        self
    }

    /// Add a header.
    pub fn header(self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        let (name, value) = (name.as_ref().to_owned(), value.as_ref().to_owned());
        self.with(move |b| b.header(name, value))
    }

    /// Add query parameters.
    pub fn query<T: Serialize + ?Sized>(self, query: &T) -> Self {
        self.with(|b| b.query(query))
    }

    /// Send a JSON body.
    pub fn json<T: Serialize + ?Sized>(self, body: &T) -> Self {
        self.with(|b| b.json(body))
    }

    /// Send a raw body.
    pub fn body(self, body: impl Into<reqwest::Body>) -> Self {
        self.with(|b| b.body(body))
    }

    /// Send it and read the whole answer, whatever its status; the exchange is recorded on the
    /// task's timeline.
    pub async fn send(self) -> Result<ServiceResponse, CredentialsError> {
        let client = self.client;
        let inner = &client.inner;
        let mut request = self
            .builder?
            .build()
            .map_err(|e| CredentialsError::Request {
                method: self.method.to_string(),
                url: inner.service.api_root().to_string(),
                message: e.without_url().to_string(),
            })?;
        let method = request.method().to_string();
        let url = redact_url(request.url());
        let span = crate::trace::call_span(inner.service.name(), &method, request.url().path());
        crate::trace::inject_traceparent(&span, request.headers_mut());
        let request_headers = redact_headers(request.headers());
        let request_body = request
            .body()
            .and_then(|b| b.as_bytes())
            .map(<[u8]>::to_vec);
        let log_bodies = inner.service.recorded_bodies();
        let started = Instant::now();
        let outcome = async {
            match inner.http.execute(request).await {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    let final_url = response.url().clone();
                    match response.bytes().await {
                        Ok(body) => Ok((status, headers, final_url, body.to_vec())),
                        Err(e) => Err(error_chain(&e.without_url())),
                    }
                }
                Err(e) => Err(error_chain(&e.without_url())),
            }
        }
        .instrument(span.clone())
        .await;
        match &outcome {
            Ok((status, ..)) => span.record("http.response.status_code", status.as_u16()),
            Err(message) => span.record("error", scrub(message, &inner.secrets).as_str()),
        };
        let elapsed = started.elapsed();
        let duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        let service = inner.service.name();
        match outcome {
            Ok((status, headers, final_url, body)) => {
                let recorded = log_bodies.records(Some(status.as_u16()));
                let request_body = recorded_body(recorded, request_body.as_deref(), &inner.secrets);
                let response_body = recorded_body(recorded, Some(&body), &inner.secrets);
                let data = json!({
                    "service": service,
                    "method": method,
                    "url": url,
                    "status": status.as_u16(),
                    "duration_ms": duration_ms,
                    "request": { "headers": request_headers, "body": request_body },
                    "response": {
                        "headers": redact_headers(&headers),
                        "body": response_body,
                    },
                    "log_bodies": log_bodies.as_str(),
                });
                record(
                    inner,
                    format!("{method} {url} → {} ({duration_ms} ms)", status.as_u16()),
                    data,
                );
                tracing::debug!(service, method = %method, url = %url, status = status.as_u16(), duration_ms, "service request");
                Ok(ServiceResponse {
                    method,
                    url: final_url,
                    status,
                    headers,
                    body,
                    secrets: inner.secrets.clone(),
                })
            }
            Err(message) => {
                let message = scrub(&message, &inner.secrets);
                let request_body = recorded_body(
                    log_bodies.records(None),
                    request_body.as_deref(),
                    &inner.secrets,
                );
                let data = json!({
                    "service": service,
                    "method": method,
                    "url": url,
                    "duration_ms": duration_ms,
                    "request": { "headers": request_headers, "body": request_body },
                    "error": message,
                    "log_bodies": log_bodies.as_str(),
                });
                record(
                    inner,
                    format!("{method} {url} failed after {duration_ms} ms: {message}"),
                    data,
                );
                tracing::debug!(service, method = %method, url = %url, duration_ms, error = %message, "service request failed");
                Err(CredentialsError::Request {
                    method,
                    url,
                    message,
                })
            }
        }
    }

    /// [`send`](ServiceRequest::send), fail on an error status, and read the answer as JSON
    /// (`Null` for an empty body).
    pub async fn send_json(self) -> Result<Value, CredentialsError> {
        let response = self.send().await?.error_for_status()?;
        if response.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        response.json()
    }
}

fn record(inner: &Inner, message: String, data: Value) {
    if let Some(timeline) = &inner.timeline {
        timeline.record(EventKind::Request, message, data);
    }
}

/// A body for the timeline: `null` when not `recorded` (see `log_bodies`) or absent.
fn recorded_body(recorded: bool, body: Option<&[u8]>, secrets: &[String]) -> Value {
    match body {
        Some(body) if recorded => body_text(body, secrets),
        _ => Value::Null,
    }
}

fn body_text(body: &[u8], secrets: &[String]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    match std::str::from_utf8(body) {
        Ok(text) => Value::String(truncate(&scrub(text, secrets), MAX_RECORDED_BODY)),
        Err(_) => Value::String(format!("<{} bytes of binary data>", body.len())),
    }
}

/// A service's answer, read completely.
pub struct ServiceResponse {
    method: String,
    url: Url,
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    secrets: Vec<String>,
}

impl fmt::Debug for ServiceResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceResponse")
            .field("status", &self.status)
            .field("url", &redact_url(&self.url))
            .field("headers", &redact_headers(&self.headers))
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl ServiceResponse {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// One header's value.
    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        HeaderName::from_bytes(name.as_bytes())
            .ok()
            .and_then(|n| self.headers.get(n))
    }

    /// The final URL (after redirects within the service).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The body.
    pub fn bytes(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, CredentialsError> {
        serde_json::from_slice(&self.body).map_err(|e| CredentialsError::InvalidJson {
            method: self.method.clone(),
            url: redact_url(&self.url),
            message: e.to_string(),
        })
    }

    /// `Err` with the status and the start of the body for a 4xx or 5xx answer.
    pub fn error_for_status(self) -> Result<Self, CredentialsError> {
        if self.status.is_client_error() || self.status.is_server_error() {
            return Err(CredentialsError::Status {
                method: self.method.clone(),
                url: redact_url(&self.url),
                status: self.status.as_u16(),
                body: truncate(&scrub(&self.text(), &self.secrets), 500),
            });
        }
        Ok(self)
    }
}
