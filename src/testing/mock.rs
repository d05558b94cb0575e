//! [`MockService`]: a mock HTTP service on 127.0.0.1 to point services at, built on `wiremock`.

use std::collections::BTreeMap;
use std::net::TcpListener;

use base64::Engine as _;
use bptl_credentials::ZgwClaims;
use serde::Serialize;
use serde_json::Value as Json;
use wiremock::matchers;
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

/// A mock HTTP service listening on 127.0.0.1 (a free port): one line per expectation, and
/// every request it received with all its headers, so a test sees the authentication the unit
/// sent (JWT claims decoded).
///
/// A request no expectation matches gets a 404. Expectations with [`times`](MockRoute::times)
/// are verified when the service is dropped (the test fails naming the unmet expectation).
/// For anything the shortcuts do not cover, [`server`](MockService::server) is the underlying
/// [`wiremock::MockServer`].
///
/// ```
/// use bptl::testing::MockService;
/// use serde_json::json;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let zrc = MockService::start().await;
/// zrc.get("zaken/7").respond_json(json!({"identificatie": "ZAAK-7"})).await;
/// zrc.post("zaken").json_body(json!({"bronorganisatie": "002220647"})).times(1).respond(201, json!({"url": "z/8"})).await;
/// assert!(zrc.url().starts_with("http://127.0.0.1:"));
/// # zrc.post("zaken").json_body(json!({"bronorganisatie": "002220647"})).respond(201, json!({})).await;
/// # bptl::credentials::install_crypto_provider();
/// # let http = bptl::credentials::reqwest::Client::new();
/// # http.post(format!("{}zaken", zrc.url())).body(r#"{"bronorganisatie": "002220647"}"#).header("content-type", "application/json").send().await.unwrap();
/// # assert_eq!(zrc.requests().await.len(), 1);
/// # }
/// ```
#[derive(Debug)]
pub struct MockService {
    server: MockServer,
}

impl MockService {
    /// Start a mock service on 127.0.0.1 with a free port.
    ///
    /// # Panics
    ///
    /// When no port on 127.0.0.1 can be bound.
    pub async fn start() -> MockService {
        let listener = match TcpListener::bind("127.0.0.1:0") {
            Ok(l) => l,
            Err(e) => panic!("the mock service cannot listen on 127.0.0.1: {e}"),
        };
        let server = MockServer::builder().listener(listener).start().await;
        MockService { server }
    }

    /// The service's root URL with a trailing `/`, e.g. `http://127.0.0.1:4321/`: give it to
    /// [`UnitTest::service`](crate::testing::UnitTest::service) as the API root.
    pub fn url(&self) -> String {
        format!("{}/", self.server.uri())
    }

    /// Expect a `GET` of `path` (relative to the root; a leading `/` is optional).
    pub fn get(&self, path: &str) -> MockRoute<'_> {
        self.request("GET", path)
    }

    /// Expect a `POST` to `path`.
    pub fn post(&self, path: &str) -> MockRoute<'_> {
        self.request("POST", path)
    }

    /// Expect a `PUT` to `path`.
    pub fn put(&self, path: &str) -> MockRoute<'_> {
        self.request("PUT", path)
    }

    /// Expect a `PATCH` of `path`.
    pub fn patch(&self, path: &str) -> MockRoute<'_> {
        self.request("PATCH", path)
    }

    /// Expect a `DELETE` of `path`.
    pub fn delete(&self, path: &str) -> MockRoute<'_> {
        self.request("DELETE", path)
    }

    /// Expect a request with any `method` to `path`.
    pub fn request(&self, method: &str, path: &str) -> MockRoute<'_> {
        let path = format!("/{}", path.trim_start_matches('/'));
        MockRoute {
            service: self,
            builder: Mock::given(matchers::method(method)).and(matchers::path(path)),
            times: None,
        }
    }

    /// Every request received so far, in order, with all headers (credentials included:
    /// they are for the test's eyes).
    pub async fn requests(&self) -> Vec<ReceivedRequest> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(ReceivedRequest::from_wiremock)
            .collect()
    }

    /// Check now that every expectation with [`times`](MockRoute::times) was met.
    ///
    /// # Panics
    ///
    /// Naming the expectations that were not met.
    pub async fn verify(&self) {
        self.server.verify().await;
    }

    /// The underlying `wiremock` server, for matchers and responders beyond the shortcuts.
    pub fn server(&self) -> &MockServer {
        &self.server
    }
}

/// One expectation of a [`MockService`], finished by one of the `respond` methods.
#[must_use = "an expectation does nothing until one of its respond methods is awaited"]
pub struct MockRoute<'a> {
    service: &'a MockService,
    builder: MockBuilder,
    times: Option<u64>,
}

impl std::fmt::Debug for MockRoute<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockRoute")
            .field("times", &self.times)
            .finish_non_exhaustive()
    }
}

impl MockRoute<'_> {
    /// Only requests with this query parameter.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.and(matchers::query_param(name, value));
        self
    }

    /// Only requests with this header value.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.and(matchers::header(name, value));
        self
    }

    /// Only requests whose JSON body contains `body` (other fields may be there too).
    pub fn json_body(mut self, body: impl Serialize) -> Self {
        self.builder = self.builder.and(matchers::body_partial_json(body));
        self
    }

    /// Expect exactly `n` such requests; checked when the service is dropped or verified.
    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }

    /// Answer `200 OK` with this JSON.
    pub async fn respond_json(self, body: impl Serialize) {
        self.respond(200, body).await;
    }

    /// Answer with this status and JSON body.
    pub async fn respond(self, status: u16, body: impl Serialize) {
        self.respond_with(ResponseTemplate::new(status).set_body_json(body))
            .await;
    }

    /// Answer with this status and no body.
    pub async fn respond_status(self, status: u16) {
        self.respond_with(ResponseTemplate::new(status)).await;
    }

    /// Answer with any `wiremock` response (headers, delays, raw bodies).
    pub async fn respond_with(self, response: ResponseTemplate) {
        let mut mock = self.builder.respond_with(response);
        if let Some(n) = self.times {
            mock = mock.expect(n);
        }
        self.service.server.register(mock).await;
    }
}

/// A request a [`MockService`] received.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReceivedRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The path, e.g. `/api/v1/zaken/7`.
    pub path: String,
    /// The query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The headers by lower-case name (several values joined with `, `).
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

impl ReceivedRequest {
    fn from_wiremock(request: wiremock::Request) -> Self {
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in &request.headers {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            headers
                .entry(name.as_str().to_owned())
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(&value);
                })
                .or_insert(value);
        }
        Self {
            method: request.method.to_string(),
            path: request.url.path().to_owned(),
            query: request
                .url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            headers,
            body: request.body,
        }
    }

    /// `METHOD /path?query`, e.g. `GET /api/v1/zaken?zaaktype=x`.
    pub fn line(&self) -> String {
        if self.query.is_empty() {
            format!("{} {}", self.method, self.path)
        } else {
            let query: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{} {}?{}", self.method, self.path, query.join("&"))
        }
    }

    /// A header's value (any case of the name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The body as JSON, if it is JSON.
    pub fn body_json(&self) -> Option<Json> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The token of an `Authorization: Bearer …` header.
    pub fn bearer_token(&self) -> Option<&str> {
        self.header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
    }

    /// The claims of the bearer JWT, decoded without checking its signature (see
    /// [`zgw_claims`](ReceivedRequest::zgw_claims) to check it).
    ///
    /// ```
    /// # use bptl::testing::ReceivedRequest;
    /// # fn check(request: &ReceivedRequest) {
    /// let claims = request.jwt_claims().expect("a JWT");
    /// assert_eq!(claims["client_id"], "bptl");
    /// # }
    /// ```
    pub fn jwt_claims(&self) -> Option<Json> {
        let payload = self.bearer_token()?.split('.').nth(1)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The ZGW claims of the bearer JWT, after checking that it is an HS256 token signed with
    /// `secret` and not expired; the error says why not.
    pub fn zgw_claims(&self, secret: &str) -> Result<ZgwClaims, String> {
        let token = self
            .bearer_token()
            .ok_or_else(|| format!("{} has no 'Authorization: Bearer' header", self.line()))?;
        bptl_credentials::jwt::decode_hs256::<ZgwClaims>(token, secret.as_bytes()).map_err(|e| {
            format!(
                "the JWT of {} is not a valid ZGW token for this secret: {e}",
                self.line()
            )
        })
    }
}
