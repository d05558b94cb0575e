//! Local HTTP servers for the tests: an API that echoes what it receives, a token endpoint.
#![allow(dead_code)]
// Test support shared by several test crates: its `pub` items are used across modules.
#![allow(unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::{Value, json};

/// Serve `router` on 127.0.0.1 on a free port; returns `http://127.0.0.1:PORT`.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    format!("http://{addr}")
}

/// One request the echo API received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub uri: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// An API answering every request with JSON describing it (`{"method","path","query","body"}`,
/// headers not echoed), remembering what it received. a path ending in `/status/NNN` answers with that status.
#[derive(Clone, Default)]
pub struct EchoApi {
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl EchoApi {
    pub async fn start(&self) -> String {
        let router = Router::new().fallback(echo).with_state(self.clone());
        serve(router).await
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    pub fn last(&self) -> Received {
        self.requests()
            .last()
            .cloned()
            .expect("a request was received")
    }
}

async fn echo(
    State(api): State<EchoApi>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> impl IntoResponse {
    let headers_map: BTreeMap<String, String> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    api.received.lock().expect("lock").push(Received {
        method: method.to_string(),
        uri: uri.to_string(),
        headers: headers_map,
        body: body.clone(),
    });
    let status = uri
        .path()
        .rsplit_once("/status/")
        .and_then(|(_, s)| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let body_json: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (
        status,
        [
            ("content-type", "application/json"),
            ("x-request-id", "req-1"),
        ],
        json!({
            "method": method.to_string(),
            "path": uri.path(),
            "query": uri.query(),
            "body": body_json,
        })
        .to_string(),
    )
}

/// An OAuth2 token endpoint: counts requests, answers with a fresh token per request
/// (`token-1`, `token-2`, ...), valid `expires_in` seconds, after `delay`.
#[derive(Clone)]
pub struct TokenEndpoint {
    pub count: Arc<AtomicUsize>,
    pub bodies: Arc<Mutex<Vec<String>>>,
    pub expires_in: u64,
    pub delay: Duration,
    pub fail_with: Option<u16>,
}

impl TokenEndpoint {
    pub fn new(expires_in: u64) -> Self {
        Self {
            count: Arc::default(),
            bodies: Arc::default(),
            expires_in,
            delay: Duration::ZERO,
            fail_with: None,
        }
    }

    pub async fn start(&self) -> String {
        let router = Router::new()
            .route("/token", axum::routing::post(token))
            .with_state(self.clone());
        format!("{}/token", serve(router).await)
    }

    pub fn requests(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

async fn token(State(ep): State<TokenEndpoint>, body: String) -> impl IntoResponse {
    let n = ep.count.fetch_add(1, Ordering::SeqCst) + 1;
    ep.bodies.lock().expect("lock").push(body.clone());
    tokio::time::sleep(ep.delay).await;
    if let Some(code) = ep.fail_with {
        // A misbehaving endpoint that echoes the request body (with the client secret).
        return (
            StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST),
            format!("{{\"error\":\"invalid_client\",\"request\":\"{body}\"}}"),
        );
    }
    (
        StatusCode::OK,
        json!({
            "access_token": format!("token-{n}"),
            "token_type": "Bearer",
            "expires_in": ep.expires_in,
        })
        .to_string(),
    )
}
