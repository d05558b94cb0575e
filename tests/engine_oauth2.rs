//! `[engine.auth] type = "oauth2"` against the dev engine behind a gate that checks bearer
//! tokens (as Keycloak in front of Operaton does), with a token endpoint in the test: one token
//! request for many calls, a refused token fetched again once and the call retried once, and
//! no loop when the engine keeps refusing.
// The test's own servers: a poisoned lock or a dead dev engine is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bptl::config::Config;
use bptl_dev_engine::DevEngine;

#[derive(Default)]
struct Realm {
    /// Token requests, as the form bodies received.
    requests: Mutex<Vec<String>>,
    issued: Mutex<Vec<String>>,
    revoked: Mutex<HashSet<String>>,
    refuse_all: AtomicBool,
    /// Calls the gate answered 401, and calls it let through.
    refused: AtomicUsize,
    passed: AtomicUsize,
    engine: String,
    http: Option<bptl::credentials::reqwest::Client>,
}

async fn token(State(realm): State<Arc<Realm>>, body: String) -> Response {
    realm.requests.lock().unwrap().push(body);
    let mut issued = realm.issued.lock().unwrap();
    let token = format!("engine-token-{}", issued.len() + 1);
    issued.push(token.clone());
    let answer =
        serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600});
    ([("content-type", "application/json")], answer.to_string()).into_response()
}

async fn gate(
    State(realm): State<Arc<Realm>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let valid = presented.is_some_and(|t| {
        realm.issued.lock().unwrap().contains(&t) && !realm.revoked.lock().unwrap().contains(&t)
    });
    if !valid || realm.refuse_all.load(Ordering::SeqCst) {
        realm.refused.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::UNAUTHORIZED, "invalid token").into_response();
    }
    realm.passed.fetch_add(1, Ordering::SeqCst);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut forward = realm
        .http
        .as_ref()
        .expect("a client")
        .request(method, format!("{}{path}", realm.engine))
        .body(body);
    if let Some(kind) = headers.get("content-type") {
        forward = forward.header("content-type", kind);
    }
    let answer = forward.send().await.expect("the dev engine answers");
    let status = StatusCode::from_u16(answer.status().as_u16()).expect("a status");
    let kind = answer
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let bytes = answer.bytes().await.expect("a body");
    (status, [("content-type", kind)], bytes).into_response()
}

async fn serve(router: Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    port
}

#[tokio::test]
async fn the_engine_token_is_cached_fetched_again_once_after_a_401_and_never_in_a_loop() {
    let engine = DevEngine::start().await.expect("the dev engine");
    bptl::credentials::install_crypto_provider();
    let realm = Arc::new(Realm {
        engine: format!("http://127.0.0.1:{}", engine.port()),
        http: Some(bptl::credentials::reqwest::Client::new()),
        ..Realm::default()
    });
    let token_port = serve(
        Router::new()
            .route("/token", post(token))
            .with_state(Arc::clone(&realm)),
    )
    .await;
    let gate_port = serve(Router::new().fallback(gate).with_state(Arc::clone(&realm))).await;
    let text = format!(
        r#"
[engine]
url = "http://127.0.0.1:{gate_port}/engine-rest"

[engine.auth]
type = "oauth2"
token_url = "http://127.0.0.1:{token_port}/token"
client_id = "bptl-worker"
secret = "engine-client-secret"
scope = "engine-rest"

[[task_mappings]]
topic = "double"
callback = "bptl_dummy::Double"
"#
    );
    let config = Config::from_toml_str(&text, &|_| None).expect("a valid configuration");
    assert!(!format!("{config:?}").contains("engine-client-secret"));
    let client = config.engine_client().expect("the engine client");
    assert!(
        !format!("{client:?}").contains("engine-client-secret"),
        "{client:?}"
    );
    let fetches = || realm.requests.lock().unwrap().len();
    let refused = || realm.refused.load(Ordering::SeqCst);

    // One token for many calls.
    client.version().await.expect("through the gate");
    client.version().await.expect("through the gate again");
    assert_eq!((fetches(), refused()), (1, 0));
    let form = realm.requests.lock().unwrap()[0].clone();
    for part in [
        "grant_type=client_credentials",
        "client_id=bptl-worker",
        "client_secret=engine-client-secret",
        "scope=engine-rest",
    ] {
        assert!(form.contains(part), "{form}");
    }

    // The token is revoked: the call is refused once, the token fetched again, the call retried.
    let current = realm.issued.lock().unwrap().clone();
    realm.revoked.lock().unwrap().extend(current);
    client.version().await.expect("retried with a new token");
    assert_eq!((fetches(), refused()), (2, 1));
    client.version().await.expect("the new token is cached");
    assert_eq!((fetches(), refused()), (2, 1));

    // The engine refuses every token: one new token, one retry, then the 401 is the answer.
    realm.refuse_all.store(true, Ordering::SeqCst);
    let error = client.version().await.expect_err("refused twice");
    assert_eq!(error.status(), Some(401), "{error}");
    assert!(
        !error.to_string().contains("engine-client-secret"),
        "{error}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!((fetches(), refused()), (3, 3), "once, not in a loop");
    assert_eq!(realm.passed.load(Ordering::SeqCst), 4, "2 + 1 retried + 1");
}

#[test]
fn oauth2_engine_auth_names_its_missing_keys() {
    let problems = Config::from_toml_str(
        "[engine]\nurl = \"http://engine/engine-rest\"\n[engine.auth]\ntype = \"oauth2\"\nscope = \"x\"\n\n[[task_mappings]]\ntopic = \"t\"\ncallback = \"bptl_dummy::Double\"\n",
        &|_| None,
    )
    .expect_err("token_url, client_id and secret are missing");
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    for key in [
        "engine.auth.token_url",
        "engine.auth.client_id",
        "engine.auth.secret",
    ] {
        assert!(keys.contains(&key), "{problems:?}");
    }
}
