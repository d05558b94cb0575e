//! `fetch_json` end to end: registered with its required service, run through core's `execute`
//! with a credential store attached, against a local HTTP service that records what it gets.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bptl_core::{
    EventKind, Extensions, InMemoryTask, Registry, TaskMapping, TaskMappings, TaskRun, UnitEntry,
    execute, variables,
};
use bptl_credentials::{
    Application, Auth, CredentialStore, Credentials, Service, validate_mapping,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use bptl_dummy as _;

#[derive(Debug, Clone)]
struct Received {
    request_line: String,
    headers: BTreeMap<String, String>,
}

/// A minimal HTTP/1.1 JSON service on 127.0.0.1: answers every request with `body` and
/// remembers the request line and headers.
async fn json_service(body: &'static str) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let log = Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).into_owned();
                let mut lines = head.split("\r\n");
                let request_line = lines.next().unwrap_or_default().to_owned();
                let headers = lines
                    .take_while(|l| !l.is_empty())
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                log.lock().expect("lock").push(Received {
                    request_line,
                    headers,
                });
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), received)
}

fn fetch_json_entry() -> UnitEntry {
    let registry = Registry::global().expect("registry");
    *registry
        .iter()
        .find(|u| u.name == "fetch_json")
        .filter(|u| u.path == "bptl_dummy::fetch_json")
        .expect("fetch_json is registered as bptl_dummy::fetch_json")
}

fn store(base: &str) -> Arc<CredentialStore> {
    let zaken = Service::new("zaken", &format!("{base}/api/v1"), "zrc")
        .expect("service")
        .auth(Auth::ApiKey)
        .credentials(Credentials::api_key("X-Api-Key", "service-key"));
    let catalogi = Service::new("catalogi", &format!("{base}/catalogi/api/v1"), "ztc")
        .expect("service")
        .auth(Auth::zgw())
        .credentials(Credentials::zgw("bptl", "a-long-zgw-secret"));
    let app = Application::new("https://app.example")
        .credentials("zaken", Credentials::api_key("X-Api-Key", "app-key"));
    Arc::new(CredentialStore::new([zaken, catalogi], [app]).expect("store"))
}

async fn run_fetch_json(
    store: &Arc<CredentialStore>,
    service: &str,
    vars: bptl_core::Variables,
) -> (TaskRun, Result<bptl_core::Variables, String>) {
    let entry = fetch_json_entry();
    let registry = Registry::from_entries([entry]).expect("registry");
    let mapping = TaskMapping::new("fetch-json", entry.path)
        .engine("memory")
        .service("api", service);
    assert!(validate_mapping(&mapping, &entry, store).is_empty());
    let mappings = TaskMappings::new([mapping]).expect("mappings");
    let mut extensions = Extensions::default();
    extensions.insert(Arc::clone(store));
    let mut run =
        TaskRun::new(InMemoryTask::new("fetch-json", vars).into_ref()).with_extensions(extensions);
    let out = execute(&mut run, &registry, &mappings)
        .await
        .map_err(|e| e.to_string());
    (run, out)
}

#[test]
fn registered_with_any_service_under_alias_api_and_documented() {
    let entry = fetch_json_entry();
    assert_eq!(entry.required_services.len(), 1);
    let required = entry.required_services[0];
    assert_eq!(required.service_type, "*");
    assert_eq!(required.alias, Some("api"));
    assert!(
        entry.doc.contains("**Required process variables**"),
        "{}",
        entry.doc
    );
    assert!(
        entry.doc.contains("**Sets the process variables**"),
        "{}",
        entry.doc
    );
    assert!(entry.doc.contains("* `response`"), "{}", entry.doc);
}

#[tokio::test]
async fn fetches_json_with_the_app_credentials() {
    let (base, received) = json_service(r#"{"identificatie": "ZAAK-7", "open": true}"#).await;
    let store = store(&base);
    let (run, out) = run_fetch_json(
        &store,
        "zaken",
        variables! { "bptlAppId": "https://app.example", "path": "zaken/7" },
    )
    .await;
    let out = out.expect("performed");
    assert_eq!(run.status.as_str(), "performed");
    assert_eq!(
        out.get("response").map(|v| v.to_json()),
        Some(serde_json::json!({"identificatie": "ZAAK-7", "open": true}))
    );
    let got = received.lock().expect("lock").clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].request_line, "GET /api/v1/zaken/7 HTTP/1.1");
    assert_eq!(
        got[0].headers.get("x-api-key").map(String::as_str),
        Some("app-key")
    );

    let requests: Vec<_> = run
        .timeline
        .entries()
        .into_iter()
        .filter(|e| e.kind == EventKind::Request)
        .collect();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].data["request"]["headers"]["x-api-key"], "***");
    assert_eq!(requests[0].data["status"], 200);
    assert!(!requests[0].data.to_string().contains("app-key"));
}

#[tokio::test]
async fn other_apps_use_the_service_credentials_and_zgw_sends_a_jwt() {
    let (base, received) = json_service("[1, 2, 3]").await;
    let store = store(&base);
    let (_, out) = run_fetch_json(
        &store,
        "zaken",
        variables! { "bptlAppId": "https://other.example", "path": "/zaken" },
    )
    .await;
    assert!(out.is_ok(), "{out:?}");
    let (_, out) = run_fetch_json(
        &store,
        "catalogi",
        variables! { "bptlAppId": "https://other.example", "path": "zaaktypen" },
    )
    .await;
    assert_eq!(
        out.expect("performed").get("response").map(|v| v.to_json()),
        Some(serde_json::json!([1, 2, 3]))
    );
    let got = received.lock().expect("lock").clone();
    assert_eq!(got[0].request_line, "GET /api/v1/zaken HTTP/1.1");
    assert_eq!(
        got[0].headers.get("x-api-key").map(String::as_str),
        Some("service-key")
    );
    assert_eq!(
        got[1].request_line,
        "GET /catalogi/api/v1/zaaktypen HTTP/1.1"
    );
    let auth = got[1].headers.get("authorization").expect("authorization");
    let jwt = auth.strip_prefix("Bearer ").expect("bearer");
    assert_eq!(jwt.split('.').count(), 3, "a JWT: {jwt}");
}

#[tokio::test]
async fn missing_variables_fail_the_task() {
    let (base, received) = json_service("{}").await;
    let store = store(&base);
    let (run, out) = run_fetch_json(&store, "zaken", variables! { "path": "zaken" }).await;
    assert_eq!(
        out.expect_err("no app id"),
        "The variable bptlAppId is missing or empty."
    );
    assert_eq!(run.status.as_str(), "failed");
    let (_, out) = run_fetch_json(
        &store,
        "zaken",
        variables! { "bptlAppId": "https://app.example" },
    )
    .await;
    assert_eq!(
        out.expect_err("no path"),
        "The variable path is missing or empty."
    );
    assert!(received.lock().expect("lock").is_empty());
}
