//! ServiceClient and TaskServices over real local HTTP: auth headers sent, URLs joined,
//! every exchange on the timeline with secrets redacted, clear errors.

mod common;

use std::sync::Arc;

use bptl_core::{
    BaseTask, EventKind, Extensions, InMemoryTask, Registry, TaskMapping, TaskMappings, TaskRef,
    TaskRun, Timeline, UnitEntry, UnitError, UnitFuture, UnitKind, Variables, execute, variables,
};
use bptl_credentials::{
    Application, Auth, CredentialStore, Credentials, CredentialsError, LogBodies, Method, Service,
    ServicesConfig, TaskServices,
};
use common::EchoApi;
use serde_json::json;

const APP: &str = "https://app.example";

async fn setup() -> (EchoApi, String, Arc<CredentialStore>) {
    let api = EchoApi::default();
    let base = api.start().await;
    // These tests look at the bodies of successful exchanges too.
    let service = Service::new("echo", &format!("{base}/api/v1"), "orc")
        .expect("service")
        .log_bodies(LogBodies::All)
        .auth(Auth::ApiKey)
        .credentials(Credentials::api_key("X-Api-Key", "service-api-key"));
    let app =
        Application::new(APP).credentials("echo", Credentials::api_key("X-Api-Key", "app-api-key"));
    let store = CredentialStore::new([service], [app]).expect("store");
    (api, base, Arc::new(store))
}

#[tokio::test]
async fn requests_are_authenticated_rooted_and_recorded() {
    let (api, base, store) = setup().await;
    let timeline = Timeline::new();
    let client = store
        .client(APP, "echo", Some(timeline.clone()))
        .await
        .expect("client");

    let got = client.get("/zaken/1").await.expect("get");
    assert_eq!(got["path"], "/api/v1/zaken/1");
    let received = api.last();
    assert_eq!(received.method, "GET");
    assert_eq!(
        received.headers.get("x-api-key").map(String::as_str),
        Some("app-api-key")
    );

    let posted = client
        .post("zaken", &json!({"omschrijving": "test"}))
        .await
        .expect("post");
    assert_eq!(posted["body"], json!({"omschrijving": "test"}));
    assert_eq!(api.last().uri, "/api/v1/zaken");

    let response = client
        .request(Method::GET, "zaken")
        .query(&[("identificatie", "ZAAK-1")])
        .header("Accept-Crs", "EPSG:4326")
        .send()
        .await
        .expect("send");
    assert!(response.status().is_success());
    assert_eq!(api.last().uri, "/api/v1/zaken?identificatie=ZAAK-1");
    assert_eq!(
        api.last().headers.get("accept-crs").map(String::as_str),
        Some("EPSG:4326")
    );
    let absolute = client
        .get(&format!("{base}/api/v1/zaken/2"))
        .await
        .expect("absolute URL below the root");
    assert_eq!(absolute["path"], "/api/v1/zaken/2");
    assert_eq!(
        client.delete("zaken/2").await.expect("delete")["method"],
        "DELETE"
    );
    assert_eq!(
        client.put("zaken/2", &json!({})).await.expect("put")["method"],
        "PUT"
    );
    assert_eq!(
        client.patch("zaken/2", &json!({})).await.expect("patch")["method"],
        "PATCH"
    );

    let entries = timeline.entries();
    assert_eq!(entries.len(), 7);
    assert!(entries.iter().all(|e| e.kind == EventKind::Request));
    let first = &entries[0];
    assert!(
        first
            .message
            .starts_with(&format!("GET {base}/api/v1/zaken/1 → 200 (")),
        "{}",
        first.message
    );
    assert_eq!(first.data["service"], "echo");
    assert_eq!(first.data["method"], "GET");
    assert_eq!(first.data["status"], 200);
    assert!(first.data["duration_ms"].is_u64());
    assert_eq!(first.data["request"]["headers"]["x-api-key"], "***");
    assert_eq!(first.data["response"]["headers"]["x-request-id"], "req-1");
    assert!(
        first.data["response"]["body"]
            .as_str()
            .is_some_and(|b| b.contains("/api/v1/zaken/1"))
    );
    assert_eq!(
        entries[1].data["request"]["body"],
        json!({"omschrijving": "test"}).to_string()
    );
    let text =
        serde_json::to_string(&entries.iter().map(|e| &e.data).collect::<Vec<_>>()).expect("json");
    assert!(!text.contains("app-api-key"));
}

#[tokio::test]
async fn errors_are_clear_and_nothing_leaves_the_api_root() {
    let (api, base, store) = setup().await;
    let timeline = Timeline::new();
    let client = store
        .client(APP, "echo", Some(timeline.clone()))
        .await
        .expect("client");

    let err = client
        .get("https://elsewhere.example/steal")
        .await
        .expect_err("outside the root");
    assert_eq!(
        err.to_string(),
        format!(
            "'https://elsewhere.example/steal' cannot be requested from the service 'echo': it is not \
             below the API root {base}/api/v1/: credentials are only sent to the service's own API"
        )
    );
    assert!(api.requests().is_empty(), "nothing was sent");

    let err = client.get("status/404").await.expect_err("404");
    match &err {
        CredentialsError::Status { status, url, .. } => {
            assert_eq!(*status, 404);
            assert_eq!(url, &format!("{base}/api/v1/status/404"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with(&format!("GET {base}/api/v1/status/404 answered 404: {{"))
    );
    assert_eq!(timeline.entries()[0].data["status"], 404);

    // A connection failure is recorded too.
    let dead = Service::new("dead", "http://127.0.0.1:9/", "orc").expect("service");
    let store = CredentialStore::new([dead], []).expect("store");
    let timeline = Timeline::new();
    let client = store
        .client(APP, "dead", Some(timeline.clone()))
        .await
        .expect("client");
    let err = client.get("x").await.expect_err("refused");
    assert!(
        err.to_string()
            .starts_with("GET http://127.0.0.1:9/x failed: "),
        "{err}"
    );
    assert!(timeline.entries()[0].data["error"].is_string());
}

#[tokio::test]
async fn large_bodies_are_cut_on_the_timeline() {
    let (_api, _base, store) = setup().await;
    let timeline = Timeline::new();
    let client = store
        .client(APP, "echo", Some(timeline.clone()))
        .await
        .expect("client");
    let big = "x".repeat(10_000);
    let answer = client
        .post("big", &json!({ "data": big }))
        .await
        .expect("post");
    assert_eq!(
        answer["body"]["data"].as_str().map(str::len),
        Some(10_000),
        "the unit gets it all"
    );
    let entry = &timeline.entries()[0];
    let recorded = entry.data["request"]["body"].as_str().expect("body");
    assert!(recorded.len() < 4200, "{}", recorded.len());
    assert!(recorded.ends_with("bytes in all)"));
}

#[tokio::test]
async fn log_bodies_decides_which_bodies_reach_the_timeline() {
    let api = EchoApi::default();
    let base = api.start().await;
    // Through the configuration's keys, as an operator writes them; "errors" is the default.
    let config: ServicesConfig = toml::from_str(&format!(
        r#"
        [services.quiet]
        api_root = "{base}/api/v1"
        api_type = "orc"
        log_bodies = "none"
        [services.default]
        api_root = "{base}/api/v1"
        api_type = "orc"
        [services.loud]
        api_root = "{base}/api/v1"
        api_type = "orc"
        log_bodies = "all"
        [services.dead]
        api_root = "http://127.0.0.1:9/"
        api_type = "orc"
        "#
    ))
    .expect("config");
    let store = CredentialStore::from_config(config).expect("store");
    let body = json!({ "bsn": "999990019" });
    // (service, body recorded for a 2xx, body recorded for a 404)
    for (service, on_success, on_error) in [
        ("quiet", false, false),
        ("default", false, true),
        ("loud", true, true),
    ] {
        let timeline = Timeline::new();
        let client = store
            .client(APP, service, Some(timeline.clone()))
            .await
            .expect("client");
        client.post("personen", &body).await.expect("post");
        client.post("status/404", &body).await.expect_err("a 404");
        let entries = timeline.entries();
        assert_eq!(entries.len(), 2, "{service}");
        for (entry, recorded) in [(&entries[0], on_success), (&entries[1], on_error)] {
            let data = &entry.data;
            assert!(data["status"].is_u64(), "{service}: {data}");
            assert_eq!(
                data["request"]["body"]
                    .as_str()
                    .is_some_and(|b| b.contains("999990019")),
                recorded,
                "{service}: request body {data}"
            );
            assert_eq!(
                data["response"]["body"].is_string(),
                recorded,
                "{service}: response body {data}"
            );
            assert_eq!(
                data["log_bodies"],
                if service == "default" {
                    "errors"
                } else if service == "quiet" {
                    "none"
                } else {
                    "all"
                }
            );
            // Headers, status and URL are there whatever the mode.
            assert!(data["request"]["headers"].is_object(), "{data}");
        }
    }
    // No answer at all is an error: "errors" records the request body.
    let timeline = Timeline::new();
    let client = store
        .client(APP, "dead", Some(timeline.clone()))
        .await
        .expect("client");
    client.post("x", &body).await.expect_err("refused");
    let data = &timeline.entries()[0].data;
    assert!(data["error"].is_string(), "{data}");
    assert!(
        data["request"]["body"]
            .as_str()
            .is_some_and(|b| b.contains("999990019")),
        "{data}"
    );

    let err = toml::from_str::<ServicesConfig>(
        "[services.x]\napi_root = \"http://x/\"\napi_type = \"orc\"\nlog_bodies = \"sometimes\"\n",
    )
    .expect_err("a bad mode");
    assert!(
        err.to_string()
            .contains("unknown variant `sometimes`, expected one of `none`, `errors`, `all`"),
        "{err}"
    );
}

// Units that use TaskServices, run through core's execute.

async fn uses_services(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let service = task.service("api")?;
    let headers = task.credentials("api").await?;
    let client = task.client("api").await?;
    let answer = client.get("things").await?;
    Ok(variables! {
        "service": service.name(),
        "header_count": headers.len() as i64,
        "path": answer["path"].clone(),
    })
}

fn run_uses_services(task: TaskRef) -> UnitFuture {
    Box::pin(async move { uses_services(&*task).await })
}

async fn wants_missing_alias(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    task.client("zrc").await?;
    Ok(Variables::new())
}

fn run_wants_missing_alias(task: TaskRef) -> UnitFuture {
    Box::pin(async move { wants_missing_alias(&*task).await })
}

fn entry(path: &'static str, run: fn(TaskRef) -> UnitFuture) -> UnitEntry {
    UnitEntry {
        path,
        name: path,
        doc: "",
        required_services: &[],
        kind: UnitKind::AsyncFn,
        run,
        file: file!(),
        line: line!(),
    }
}

async fn run_unit(
    store: Option<&Arc<CredentialStore>>,
    path: &'static str,
    unit: fn(TaskRef) -> UnitFuture,
    vars: Variables,
) -> (TaskRun, Result<Variables, String>) {
    let registry = Registry::from_entries([entry(path, unit)]).expect("registry");
    let mappings = TaskMappings::new([TaskMapping::new("topic", path)
        .engine("memory")
        .service("api", "echo")])
    .expect("mappings");
    let mut extensions = Extensions::default();
    if let Some(store) = store {
        extensions.insert(Arc::clone(store));
    }
    let mut run =
        TaskRun::new(InMemoryTask::new("topic", vars).into_ref()).with_extensions(extensions);
    let out = execute(&mut run, &registry, &mappings)
        .await
        .map_err(|e| e.to_string());
    (run, out)
}

#[tokio::test]
async fn units_reach_services_through_their_task() {
    let (api, _base, store) = setup().await;
    let (run, out) = run_unit(
        Some(&store),
        "t::uses_services",
        run_uses_services,
        variables! { "bptlAppId": APP },
    )
    .await;
    let out = out.expect("performed");
    assert_eq!(out.get("service").and_then(|v| v.as_str()), Some("echo"));
    assert_eq!(out.get("header_count").and_then(|v| v.as_i64()), Some(1));
    assert_eq!(
        out.get("path").and_then(|v| v.as_str()),
        Some("/api/v1/things")
    );
    assert_eq!(
        api.last().headers.get("x-api-key").map(String::as_str),
        Some("app-api-key")
    );
    let requests: Vec<_> = run
        .timeline
        .entries()
        .into_iter()
        .filter(|e| e.kind == EventKind::Request)
        .collect();
    assert_eq!(requests.len(), 1, "the request is on the task's timeline");
}

#[tokio::test]
async fn clear_errors_for_units() {
    let (_api, _base, store) = setup().await;
    let (run, out) = run_unit(Some(&store), "t::u", run_uses_services, variables! {}).await;
    assert_eq!(
        out.expect_err("no app id"),
        "The variable bptlAppId is missing or empty."
    );
    assert_eq!(run.status().as_str(), "failed");

    let (_, out) = run_unit(
        Some(&store),
        "t::u",
        run_wants_missing_alias,
        variables! { "bptlAppId": APP },
    )
    .await;
    assert_eq!(out.expect_err("no alias"), "No 'zrc' service configured.");

    let (_, out) = run_unit(
        None,
        "t::u",
        run_uses_services,
        variables! { "bptlAppId": APP },
    )
    .await;
    assert_eq!(
        out.expect_err("no store"),
        "No credential store is attached to this task: the runtime must attach an Arc<CredentialStore> to \
         the task's extensions (TaskRun::extensions)."
    );

    // Outside the runtime there is no mapping.
    let bare = InMemoryTask::new("topic", variables! { "bptlAppId": APP }).into_ref();
    let err = bare.service("api").expect_err("no mapping");
    assert!(matches!(err, CredentialsError::NoMapping));
    let unit_error: UnitError = CredentialsError::NoServiceForAlias("x".into()).into();
    assert_eq!(unit_error.to_string(), "No 'x' service configured.");
}
