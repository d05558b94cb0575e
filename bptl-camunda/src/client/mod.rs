//! [`CamundaClient`]: the Camunda 7 REST client (also Operaton and CIB seven).
//!
//! The endpoints are grouped by resource: `external_tasks` (fetchAndLock, complete, failure,
//! locks, queries), `process` (starting, reading and cancelling instances, their variables,
//! history and incidents) and `deployments` (deployments and process definitions). This
//! module holds the client and the plumbing every call goes through.

mod builder;
mod deployments;
mod external_tasks;
mod model;
mod process;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bptl_core::Variables;
use reqwest::{Method, RequestBuilder, Url};
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

pub use builder::{
    AuthProvider, CamundaClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_LONG_POLL_MARGIN,
    DEFAULT_TIMEOUT, EngineAuth,
};
pub use model::{
    BpmnErrorRequest, Deployment, DeploymentRequest, ExternalTaskQuery, FailureRequest,
    FetchAndLock, FetchSorting, FetchTopic, HistoricProcessInstance, HistoricVariableInstance,
    Incident, ProcessDefinition, ProcessInstance, SortOrder, StartProcess,
};

use crate::error::CamundaError;
use crate::variables::variables_to_typed;

/// Typed JSON of `variables`, `None` when there are none (the field is then left out).
fn typed_unless_empty(variables: &Variables) -> Result<Option<Json>, CamundaError> {
    if variables.is_empty() {
        return Ok(None);
    }
    Ok(Some(Json::Object(variables_to_typed(variables)?)))
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    auth: EngineAuth,
    timeout: Duration,
    long_poll_margin: Duration,
}

/// A client for one Camunda 7 engine's REST API (`.../engine-rest`), with connection pooling.
/// Cheap to clone: clones share the connection pool.
///
/// ```
/// use bptl_camunda::CamundaClient;
/// use std::time::Duration;
///
/// let client = CamundaClient::builder("http://127.0.0.1:8080/engine-rest/")
///     .basic_auth("demo", "s3cret")
///     .timeout(Duration::from_secs(10))
///     .build()
///     .unwrap();
/// assert_eq!(client.base_url(), "http://127.0.0.1:8080/engine-rest");
/// assert!(!format!("{client:?}").contains("s3cret"));
/// ```
#[derive(Clone)]
pub struct CamundaClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for CamundaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CamundaClient")
            .field("base_url", &self.base_url())
            .field("auth", &self.inner.auth)
            .field("timeout", &self.inner.timeout)
            .field("long_poll_margin", &self.inner.long_poll_margin)
            .finish()
    }
}

impl CamundaClient {
    /// Start building a client for the engine-rest root `url`, e.g.
    /// `http://127.0.0.1:8080/engine-rest` (a trailing slash is fine).
    pub fn builder(url: impl Into<String>) -> CamundaClientBuilder {
        CamundaClientBuilder::new(url.into())
    }

    /// A client without authentication and with default timeouts.
    pub fn new(url: impl Into<String>) -> Result<Self, CamundaError> {
        Self::builder(url).build()
    }

    /// The engine-rest root, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str().trim_end_matches('/')
    }

    // ----- plumbing -----

    fn request(&self, method: Method, segments: &[&str]) -> (RequestBuilder, String) {
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        let call = format!("{method} /{}", segments.join("/"));
        let builder = self
            .inner
            .http
            .request(method, url)
            .timeout(self.inner.timeout);
        (builder, call)
    }

    /// Send, read the whole body, and turn an error status into a [`CamundaError`]. With an
    /// [`AuthProvider`], its headers go with the call; a 401 renews them and retries once
    /// (calls whose body cannot be cloned, deployments, are not retried).
    async fn send(&self, call: &str, builder: RequestBuilder) -> Result<Vec<u8>, CamundaError> {
        let started = Instant::now();
        let auth_error = |message: String| CamundaError::Auth {
            call: call.to_owned(),
            message,
        };
        let (status, body) = match &self.inner.auth {
            EngineAuth::Provider(provider) => {
                let headers = provider.headers().await.map_err(auth_error)?;
                let retry = builder.try_clone();
                let first = self
                    .exchange(call, builder.headers(headers.clone()), started)
                    .await?;
                match retry {
                    Some(retry) if first.0 == reqwest::StatusCode::UNAUTHORIZED => {
                        tracing::debug!(
                            call,
                            "the engine refused the credentials (401): renewing them, retrying once"
                        );
                        let renewed = provider.renew(&headers).await.map_err(auth_error)?;
                        self.exchange(call, retry.headers(renewed), started).await?
                    }
                    _ => first,
                }
            }
            _ => self.exchange(call, builder, started).await?,
        };
        tracing::debug!(call, status = status.as_u16(), elapsed = ?started.elapsed(), "engine call");
        if status.is_success() {
            Ok(body)
        } else {
            Err(CamundaError::from_status(
                call.to_owned(),
                status.as_u16(),
                &body,
            ))
        }
    }

    /// One request and its whole answer.
    async fn exchange(
        &self,
        call: &str,
        builder: RequestBuilder,
        started: Instant,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), CamundaError> {
        let result = async {
            let response = builder.send().await?;
            let status = response.status();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, body.to_vec()))
        }
        .await;
        result.map_err(|error| {
            let error = CamundaError::from_reqwest(call.to_owned(), error);
            tracing::debug!(call, elapsed = ?started.elapsed(), %error, "engine call failed");
            error
        })
    }

    async fn send_json<T: DeserializeOwned>(
        &self,
        call: &str,
        builder: RequestBuilder,
    ) -> Result<T, CamundaError> {
        let body = self.send(call, builder).await?;
        serde_json::from_slice(&body).map_err(|e| CamundaError::Decode {
            call: call.to_owned(),
            detail: e.to_string(),
            body: crate::error::shorten(&String::from_utf8_lossy(&body)),
        })
    }

    async fn post_json<B: serde::Serialize + ?Sized>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<(), CamundaError> {
        let (builder, call) = self.request(Method::POST, segments);
        self.send(&call, builder.json(body)).await.map(drop)
    }

    /// The engine's version: `GET /version` (a cheap health check).
    pub async fn version(&self) -> Result<String, CamundaError> {
        #[derive(serde::Deserialize)]
        struct Version {
            version: String,
        }
        let (builder, call) = self.request(Method::GET, &["version"]);
        let version: Version = self.send_json(&call, builder).await?;
        Ok(version.version)
    }
}
