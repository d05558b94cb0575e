//! OAuth2 client credentials against a local token endpoint: one fetch, shared, refreshed.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bptl_credentials::{Application, Auth, CredentialStore, Credentials, Service};
use common::TokenEndpoint;

const APP: &str = "https://app.example";
const CLIENT_SECRET: &str = "oauth-client-secret-42";

fn store(token_url: &str, app: Option<Application>) -> CredentialStore {
    let auth = match Auth::oauth2(token_url).expect("token url") {
        Auth::OAuth2 { token_url, .. } => Auth::OAuth2 {
            token_url,
            scope: Some("read".into()),
        },
        other => other,
    };
    let service = Service::new("objects", "https://objects.example/api", "objects")
        .expect("service")
        .auth(auth)
        .credentials(Credentials::oauth2("bptl-client", CLIENT_SECRET));
    CredentialStore::new([service], app).expect("store")
}

fn token_of(headers: &bptl_credentials::AuthHeaders) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .expect("authorization")
        .to_owned()
}

#[tokio::test]
async fn one_token_request_for_many_calls() {
    let endpoint = TokenEndpoint::new(3600);
    let store = store(&endpoint.start().await, None);
    for _ in 0..10 {
        let headers = store
            .credentials_for(APP, "objects")
            .await
            .expect("credentials");
        assert_eq!(token_of(&headers), "Bearer token-1");
    }
    assert_eq!(endpoint.requests(), 1);
    let body = endpoint.bodies.lock().expect("lock")[0].clone();
    let mut fields: Vec<&str> = body.split('&').collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "client_id=bptl-client",
            "client_secret=oauth-client-secret-42",
            "grant_type=client_credentials",
            "scope=read"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_share_one_fetch() {
    let mut endpoint = TokenEndpoint::new(3600);
    endpoint.delay = Duration::from_millis(200);
    let store = Arc::new(store(&endpoint.start().await, None));
    let mut handles = Vec::new();
    for _ in 0..25 {
        let store = Arc::clone(&store);
        handles.push(tokio::spawn(async move {
            token_of(
                &store
                    .credentials_for(APP, "objects")
                    .await
                    .expect("credentials"),
            )
        }));
    }
    for handle in handles {
        assert_eq!(handle.await.expect("join"), "Bearer token-1");
    }
    assert_eq!(
        endpoint.requests(),
        1,
        "one token request for 25 concurrent callers"
    );
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire() {
    let endpoint = TokenEndpoint::new(1);
    let store = store(&endpoint.start().await, None);
    let first = token_of(&store.credentials_for(APP, "objects").await.expect("first"));
    assert_eq!(first, "Bearer token-1");
    assert_eq!(
        token_of(&store.credentials_for(APP, "objects").await.expect("cached")),
        "Bearer token-1"
    );
    assert_eq!(endpoint.requests(), 1);
    // Valid 1 s, renewed 0.1 s before expiry.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let second = token_of(&store.credentials_for(APP, "objects").await.expect("second"));
    assert_eq!(second, "Bearer token-2");
    assert_eq!(endpoint.requests(), 2);
}

#[tokio::test]
async fn app_credentials_fetch_their_own_token() {
    let endpoint = TokenEndpoint::new(3600);
    let app = Application::new(APP).credentials(
        "objects",
        Credentials::oauth2("app-client", "app-client-secret").scope("write"),
    );
    let store = store(&endpoint.start().await, Some(app));
    let app_token = token_of(&store.credentials_for(APP, "objects").await.expect("app"));
    let other = token_of(
        &store
            .credentials_for("https://other.example", "objects")
            .await
            .expect("other"),
    );
    assert_ne!(app_token, other);
    assert_eq!(endpoint.requests(), 2);
    let bodies = endpoint.bodies.lock().expect("lock").clone();
    assert!(bodies[0].contains("client_id=app-client") && bodies[0].contains("scope=write"));
    assert!(bodies[1].contains("client_id=bptl-client") && bodies[1].contains("scope=read"));
}

#[tokio::test]
async fn a_refusing_token_endpoint_is_a_clear_error_without_the_secret() {
    let mut endpoint = TokenEndpoint::new(3600);
    endpoint.fail_with = Some(401);
    let url = endpoint.start().await;
    let store = store(&url, None);
    let err = store
        .credentials_for(APP, "objects")
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "The OAuth2 token request for the service 'objects' to {url} failed: the token endpoint answered 401 Unauthorized"
        )),
        "{text}"
    );
    assert!(!text.contains(CLIENT_SECRET), "{text}");
    assert!(!format!("{err:?}").contains(CLIENT_SECRET));
}
