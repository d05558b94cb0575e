//! Secrets never appear in Debug, Display, errors, timelines or logs. Everything is built with
//! known secret strings, every output is searched for them.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri};
use bptl_core::{EventKind, Timeline};
use bptl_credentials::{CredentialStore, ServicesConfig};
use common::{TokenEndpoint, serve};

const SECRETS: [&str; 5] = [
    "ZGW-SECRET-aaaa1111",
    "APIKEY-SECRET-bbbb2222",
    "BEARER-SECRET-cccc3333",
    "OAUTH-SECRET-dddd4444",
    "APP-SECRET-eeee5555",
];

/// An API that leaks: it answers with every header it received, in the body and in a
/// response header; `/fail` answers 500.
async fn leaky_api() -> String {
    async fn leak(uri: Uri, headers: HeaderMap) -> (StatusCode, HeaderMap, String) {
        let all: Vec<String> = headers
            .iter()
            .map(|(k, v)| format!("{k}={}", String::from_utf8_lossy(v.as_bytes())))
            .collect();
        let mut out = HeaderMap::new();
        if let Some(auth) = headers.get("authorization") {
            out.insert("x-echo-authorization", auth.clone());
        }
        if let Some(key) = headers.get("x-api-key") {
            out.insert("x-echo-key", key.clone());
        }
        let status = if uri.path().ends_with("/fail") {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        };
        (
            status,
            out,
            serde_json::json!({ "received": all }).to_string(),
        )
    }
    serve(Router::new().fallback(leak)).await
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn assert_clean(what: &str, text: &str, extra: &[String]) {
    for secret in SECRETS
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
    {
        assert!(
            !text.contains(secret),
            "{what} contains the secret {secret}:\n{text}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn secrets_appear_nowhere() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let api = leaky_api().await;
    let token_endpoint = TokenEndpoint::new(3600);
    let token_url = token_endpoint.start().await;
    let text = format!(
        r#"
        [services.zgw]
        api_root = "{api}/zgw"
        api_type = "zrc"
        auth = "zgw"
        client_id = "bptl"
        secret = "{zgw}"

        [services.key]
        api_root = "{api}/key"
        api_type = "orc"
        auth = "api_key"
        header = "X-Api-Key"
        value = "{key}"

        [services.bearer]
        api_root = "{api}/bearer"
        api_type = "orc"
        auth = "bearer"
        token = "{bearer}"

        [services.oauth]
        api_root = "{api}/oauth"
        api_type = "orc"
        auth = "oauth2"
        token_url = "{token_url}"
        client_id = "bptl"
        secret = "{oauth}"

        [apps."https://app.example".credentials.zgw]
        client_id = "app"
        secret = "{app}"
        "#,
        api = api,
        zgw = SECRETS[0],
        key = SECRETS[1],
        bearer = SECRETS[2],
        oauth = SECRETS[3],
        app = SECRETS[4],
    );
    let config: ServicesConfig = toml::from_str(&text).expect("config");
    let mut outputs: Vec<(String, String)> = vec![("config Debug".into(), format!("{config:?}"))];
    let store = CredentialStore::from_config(config).expect("store");
    outputs.push(("store Debug".into(), format!("{store:?}")));
    for service in store.services() {
        outputs.push((
            format!("service {} Debug", service.name()),
            format!("{service:?}"),
        ));
    }
    for app in store.applications() {
        outputs.push((format!("app {} Debug", app.app_id()), format!("{app:?}")));
    }

    // The tokens handed out are secrets too.
    let mut tokens = Vec::new();
    let timeline = Timeline::new();
    for app_id in ["https://app.example", "https://other.example"] {
        for service in ["zgw", "key", "bearer", "oauth"] {
            let headers = store
                .credentials_for(app_id, service)
                .await
                .expect("credentials");
            outputs.push((format!("{service} headers Debug"), format!("{headers:?}")));
            for (_, v) in headers.iter() {
                let v = v.to_str().expect("ascii").to_owned();
                if let Some(t) = v.strip_prefix("Bearer ") {
                    tokens.push(t.to_owned());
                }
                tokens.push(v);
            }
            let client = store
                .client(app_id, service, Some(timeline.clone()))
                .await
                .expect("client");
            outputs.push((format!("{service} client Debug"), format!("{client:?}")));
            let ok = client
                .request(bptl_credentials::Method::GET, "ok")
                .send()
                .await
                .expect("ok");
            outputs.push((format!("{service} response Debug"), format!("{ok:?}")));
            let err = client.get("fail").await.expect_err("500");
            outputs.push((format!("{service} error Display"), err.to_string()));
            outputs.push((format!("{service} error Debug"), format!("{err:?}")));
            let unit_error: bptl_core::UnitError = err.into();
            outputs.push((format!("{service} UnitError chain"), unit_error.chain()));
        }
    }
    let entries = timeline.entries();
    assert_eq!(entries.len(), 16);
    assert!(entries.iter().all(|e| e.kind == EventKind::Request));
    for entry in &entries {
        outputs.push(("timeline message".into(), entry.message.clone()));
        outputs.push(("timeline data".into(), entry.data.to_string()));
    }
    // The leaky API did see the credentials: the scrubbing is what kept them out.
    let recorded = entries
        .iter()
        .map(|e| e.data.to_string())
        .collect::<String>();
    assert!(recorded.contains("x-api-key=***"), "{recorded}");
    assert!(recorded.contains("\"x-echo-key\":\"***\""), "{recorded}");

    // A token endpoint that echoes the client secret in its error.
    let mut refusing = TokenEndpoint::new(3600);
    refusing.fail_with = Some(400);
    let refusing_url = refusing.start().await;
    let config: ServicesConfig = toml::from_str(&format!(
        r#"
        [services.oauth]
        api_root = "{api}/oauth"
        api_type = "orc"
        auth = "oauth2"
        token_url = "{refusing_url}"
        client_id = "bptl"
        secret = "{oauth}"
        "#,
        oauth = SECRETS[3],
    ))
    .expect("config");
    let store = CredentialStore::from_config(config).expect("store");
    let err = store
        .credentials_for("https://app.example", "oauth")
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("400 Bad Request"), "{err}");
    outputs.push(("token error Display".into(), err.to_string()));
    outputs.push(("token error Debug".into(), format!("{err:?}")));

    // Configuration problems do not quote secrets either.
    let config: ServicesConfig = toml::from_str(&format!(
        r#"
        [services.none]
        api_root = "{api}"
        api_type = "orc"
        secret = "{zgw}"
        "#,
        zgw = SECRETS[0],
    ))
    .expect("config");
    let problems = CredentialStore::from_config(config).expect_err("problems");
    outputs.push(("config problems".into(), format!("{problems:?}")));

    drop(_guard);
    let logged = String::from_utf8(logs.0.lock().expect("lock").clone()).expect("utf8");
    assert!(logged.contains("service request"), "{logged}");
    assert!(logged.contains("minted a ZGW JWT"), "{logged}");
    assert!(
        logged.contains("fetched an OAuth2 access token"),
        "{logged}"
    );
    outputs.push(("tracing output".into(), logged));

    assert!(!tokens.is_empty());
    for (what, text) in &outputs {
        assert_clean(what, text, &tokens);
    }
}
