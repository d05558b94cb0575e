//! The dashboard over HTTP (no browser): the pages, the JSON API, the security headers,
//! escaping, authentication, and "run again" with its CSRF protection, on SQLite and
//! PostgreSQL stores written by a real worker on the dev engine.
#![allow(clippy::unwrap_used)]

#[path = "support/store_support.rs"]
mod store_support;

#[path = "support/dashboard_env.rs"]
mod dashboard_env;

use std::sync::Arc;

use bptl::config::{Config, DashboardConfig};
use bptl::dashboard::Dashboard;
use bptl_core::InMemoryStore;
use bptl_core::TaskStatus;
use dashboard_env::{Env, StoreKind, XSS};
use reqwest::StatusCode;
use serde_json::Value;

fn client() -> reqwest::Client {
    // reqwest needs a TLS crypto provider before its first client.
    bptl::credentials::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(url: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let response = client().get(url).send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

async fn json(url: &str) -> Value {
    let response = client().get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    response.json().await.unwrap()
}

/// What every store must show the same way.
async fn pages_and_api(kind: StoreKind) {
    let env = Env::start(kind, "").await;
    let base = &env.base;

    // The overview: headers, chart, counts.
    let (status, headers, body) = get(&format!("{base}/")).await;
    assert_eq!(status, StatusCode::OK);
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(body.contains("<svg") && body.contains("per hour"), "{body}");
    assert!(
        body.contains("3 completed, 1 BPMN errors, 2 failed"),
        "the current hour's bar: {body}"
    );
    assert!(
        body.contains("dashboard-worker"),
        "the worker's own stats: {body}"
    );
    assert!(body.contains("yes, version"), "the engine answers: {body}");
    let (_, css_headers, css) = get(&format!("{base}/style.css")).await;
    assert!(
        css_headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(css.contains("svg.chart"));

    // The task list, filtered by status, newest first, each row linking to its task.
    let (status, _, body) = get(&format!("{base}/tasks?status=failed")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.matches("class=\"status failed\"").count(), 3, "{body}");
    assert!(!body.contains("class=\"status completed\""), "{body}");
    let flaky = env.task_of(&env.instances.failed[0]).await;
    assert!(body.contains(&format!("href=\"/tasks/{flaky}\"")), "{body}");
    let (_, _, body) = get(&format!("{base}/tasks?business_key=BK-1")).await;
    assert_eq!(body.matches("<tr>").count(), 2, "header + one row: {body}");
    let (status, _, body) = get(&format!("{base}/tasks?status=sleeping")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("is not a status"), "{body}");

    // The JSON API.
    let failed = json(&format!("{base}/api/tasks?status=failed")).await;
    let tasks = failed["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 3);
    assert!(tasks.iter().all(|t| t["status"] == "failed"));
    assert_eq!(failed["next_page"], Value::Null);
    let created: Vec<&str> = tasks
        .iter()
        .map(|t| t["created_at"].as_str().unwrap())
        .collect();
    let mut sorted = created.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(created, sorted, "newest first");
    let by_topic = json(&format!(
        "{base}/api/tasks?topic=double&process_instance={}",
        env.instances.completed[1]
    ))
    .await;
    assert_eq!(by_topic["tasks"].as_array().unwrap().len(), 1);
    let stats = json(&format!("{base}/api/stats")).await;
    let hourly = stats["hourly"].as_array().unwrap();
    assert_eq!(hourly.len(), 24);
    let sum = |key: &str| hourly.iter().map(|h| h[key].as_u64().unwrap()).sum::<u64>();
    assert_eq!(
        (sum("completed"), sum("bpmn_errors"), sum("failed")),
        (3, 1, 2)
    );
    let count = |topic: &str, status: &str| {
        stats["counts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["topic"] == topic && c["status"] == status)
            .map(|c| c["count"].as_u64().unwrap())
    };
    assert_eq!(count("double", "completed"), Some(3));
    assert_eq!(count("flaky", "failed"), Some(2));
    let bad = client()
        .get(format!("{base}/api/tasks?since=soon"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(
        bad.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .starts_with("since:")
    );
    let missing = client()
        .get(format!("{base}/api/tasks/camunda:nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // A task's detail: the XSS payload is data, shown as text.
    let xss_task = env.task_of(&env.instances.completed[0]).await;
    let detail = json(&format!("{base}/api/tasks/{xss_task}")).await;
    assert_eq!(detail["variables"]["note"]["value"], XSS);
    assert_eq!(
        detail["result_variables"]["doubled"]["value"].as_f64(),
        Some(42.0)
    );
    assert!(detail["timeline"].as_array().unwrap().len() >= 2);
    let (_, _, page) = get(&format!("{base}/tasks/{xss_task}")).await;
    assert!(
        page.contains("&lt;script&gt;alert('pwned')&lt;/script&gt;")
            || page.contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains("<script"), "{page}");
    let rejected = env.task_of(&env.instances.bpmn_error[0]).await;
    let (_, _, page) = get(&format!("{base}/tasks/{rejected}")).await;
    assert!(page.contains("BPMN error REJECTED: not allowed"), "{page}");
    assert!(
        page.contains("REJECT-0") && page.contains("dashboard-worker"),
        "{page}"
    );
    let (_, _, page) = get(&format!("{base}/tasks/{flaky}")).await;
    assert!(page.contains("the archive is down"), "{page}");
    assert!(
        page.contains("Timeline") && page.contains("in_progress → failed"),
        "{page}"
    );
    assert!(
        !page.contains("Run again"),
        "actions are off by default: {page}"
    );

    // Units and mappings, with the documentation rendered.
    let (_, _, page) = get(&format!("{base}/units")).await;
    assert!(
        page.contains(dashboard_env::FLAKY) && page.contains("bptl_dummy::Double"),
        "{page}"
    );
    assert!(
        page.contains("<li>") && page.contains("<strong>"),
        "rendered docs: {page}"
    );

    // Actions are off: the confirmation and the post are refused.
    let (status, _, _) = get(&format!("{base}/tasks/{flaky}/run-again")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let api = client()
        .post(format!("{base}/api/tasks/{flaky}/run-again"))
        .header("x-bptl-action", "run-again")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::FORBIDDEN);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_and_api_on_sqlite() {
    pages_and_api(StoreKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_and_api_on_postgres() {
    pages_and_api(StoreKind::Postgres).await;
}

fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    page[at..at + 48].to_owned()
}

/// Run again, signed in with basic credentials: CSRF checked, the task completed, and who
/// asked on its timeline.
async fn run_again(kind: StoreKind) {
    let env = Env::start(
        kind,
        "allow_actions = true\nusername = \"ops\"\npassword = \"s3cret-pw\"",
    )
    .await;
    let base = &env.base;
    let flaky = env.task_of(&env.instances.failed[1]).await;
    let anonymous = client()
        .get(format!("{base}/tasks/{flaky}"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let wrong = client()
        .get(format!("{base}/"))
        .basic_auth("ops", Some("guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(!wrong.text().await.unwrap().contains("s3cret"));

    let signed = |r: reqwest::RequestBuilder| r.basic_auth("ops", Some("s3cret-pw"));
    let detail = signed(client().get(format!("{base}/tasks/{flaky}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        detail.contains(&format!("href=\"/tasks/{flaky}/run-again\"")),
        "{detail}"
    );
    let confirm = signed(client().get(format!("{base}/tasks/{flaky}/run-again")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&confirm);
    let post = |token: String| {
        signed(client().post(format!("{base}/tasks/{flaky}/run-again")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={token}"))
    };
    // A forged form (no or a wrong token) or a cross-site post is refused, nothing runs.
    for token in [String::new(), "0".repeat(48)] {
        let refused = post(token).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }
    let cross = post(csrf.clone())
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    let api = signed(client().post(format!("{base}/api/tasks/{flaky}/run-again")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        api.status(),
        StatusCode::FORBIDDEN,
        "the API needs X-Bptl-Action"
    );
    let record = env
        .store
        .get(&bptl::ops::task_key(&flaky, "camunda"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, TaskStatus::Failed);
    assert_eq!(record.executions, 1);

    env.heal(0).await;
    env.heal(1).await;
    let ran = post(csrf).send().await.unwrap();
    assert_eq!(ran.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        ran.headers()["location"],
        format!("/tasks/{flaky}?ran=completed")
    );
    let record = env.store.get(&record.key()).await.unwrap().unwrap();
    assert_eq!(record.status, TaskStatus::Completed);
    assert_eq!(record.executions, 2);
    let timeline = env.store.timeline(&record.key()).await.unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| e.message == "run again requested in the dashboard by ops"),
        "{timeline:?}"
    );
    // The API does the same for the other failed task.
    let other = env.task_of(&env.instances.failed[0]).await;
    let api = signed(client().post(format!("{base}/api/tasks/{other}/run-again")))
        .header("x-bptl-action", "run-again")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::OK);
    let answer: Value = api.json().await.unwrap();
    assert_eq!(answer["status"], "completed");
    assert_eq!(answer["requested_by"], "ops");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn run_again_on_sqlite() {
    run_again(StoreKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn run_again_on_postgres() {
    run_again(StoreKind::Postgres).await;
}

const ENGINE: &str = "[engine]\nurl = \"http://127.0.0.1:1/engine-rest\"\n";

#[tokio::test]
async fn a_non_loopback_address_needs_a_way_to_sign_in() {
    // The configuration says so, naming the key ...
    let problems = Config::from_toml_str(
        &format!("{ENGINE}[dashboard]\naddr = \"0.0.0.0:9200\"\n"),
        &|_| None,
    )
    .unwrap_err();
    let problem = problems.iter().find(|p| p.key == "dashboard.addr").unwrap();
    assert!(
        problem.to_string().contains("not a loopback address"),
        "{problem}"
    );
    for (toml, key) in [
        ("username = \"ops\"", "dashboard.password"),
        (
            "trusted_user_header = \"X-Forwarded-User\"",
            "dashboard.trusted_proxies",
        ),
        (
            "trusted_proxies = [\"not-an-ip\"]",
            "dashboard.trusted_proxies[0]",
        ),
        ("allow_action = true", "dashboard.allow_action"),
    ] {
        let problems = Config::from_toml_str(&format!("{ENGINE}[dashboard]\n{toml}\n"), &|_| None)
            .unwrap_err();
        assert!(
            problems.iter().any(|p| p.key == key),
            "{toml}: {problems:?}"
        );
    }
    // ... and the server refuses to start.
    let store = Arc::new(InMemoryStore::new());
    let open = Dashboard::new(store.clone(), &DashboardConfig::default()).unwrap();
    let err = open.serve("0.0.0.0:0".parse().unwrap()).await.unwrap_err();
    assert!(
        err.contains("not a loopback address") && err.contains("token"),
        "{err}"
    );

    // With a token (read from a file) it serves, and asks everyone for it, also on loopback.
    let dir = store_support::TempDir::new();
    let path = dir.0.join("token");
    std::fs::write(&path, "tok-123\n").unwrap();
    let config = Config::from_toml_str(
        &format!(
            "{ENGINE}[dashboard]\naddr = \"0.0.0.0:0\"\ntoken = {{ file = \"{}\" }}\n",
            path.display()
        ),
        &|_| None,
    )
    .unwrap();
    let dash = config.dashboard;
    let running = Dashboard::new(store.clone(), &dash)
        .unwrap()
        .serve("0.0.0.0:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://127.0.0.1:{}/api/stats", running.addr.port());
    let refused = client().get(&url).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(
        refused.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let wrong = client()
        .get(&url)
        .bearer_auth("tok-124")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let ok = client()
        .get(&url)
        .bearer_auth("tok-123")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(ok.headers().contains_key("content-security-policy"));
    assert!(!format!("{:?}", Dashboard::new(store.clone(), &dash).unwrap()).contains("tok-123"));
    running.task.abort();
}

#[tokio::test]
async fn the_trusted_header_counts_only_from_a_trusted_proxy() {
    let store = Arc::new(InMemoryStore::new());
    for (proxies, expected) in [
        (vec!["127.0.0.1".parse().unwrap()], StatusCode::OK),
        (vec!["10.9.9.9".parse().unwrap()], StatusCode::UNAUTHORIZED),
    ] {
        let config = DashboardConfig {
            trusted_user_header: Some("X-Forwarded-User".into()),
            trusted_proxies: proxies,
            ..DashboardConfig::default()
        };
        let running = Dashboard::new(store.clone(), &config)
            .unwrap()
            .serve("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let url = format!("http://{}/", running.addr);
        let answer = client()
            .get(&url)
            .header("x-forwarded-user", "alice")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), expected);
        let without = client().get(&url).send().await.unwrap();
        assert_eq!(without.status(), StatusCode::UNAUTHORIZED);
        running.task.abort();
    }
}

#[test]
fn worker_dashboard_refuses_a_non_loopback_address_without_sign_in_and_serves_on_loopback() {
    let dir = store_support::TempDir::new();
    let config = dir.0.join("bptl.toml");
    std::fs::write(
        &config,
        format!(
            "{ENGINE}[store]\nurl = \"{}\"\n[dashboard]\naddr = \"0.0.0.0:9200\"\n",
            dir.sqlite_url("cli.db")
        ),
    )
    .unwrap();
    let code =
        bptl::cli::run_cli_code(["worker", "dashboard", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 2, "a configuration problem");
    // An explicit --addr that is not loopback is refused by the server as well.
    std::fs::write(
        &config,
        format!("{ENGINE}[store]\nurl = \"{}\"\n", dir.sqlite_url("cli.db")),
    )
    .unwrap();
    let code = bptl::cli::run_cli_code([
        "worker",
        "dashboard",
        "--config",
        config.to_str().unwrap(),
        "--addr",
        "0.0.0.0:0",
    ]);
    assert_eq!(code, 2);

    // On loopback it serves the store (the command runs until a signal: in a thread of its own
    // that ends with the test process).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = config.to_str().unwrap().to_owned();
    std::thread::spawn(move || {
        let addr = format!("127.0.0.1:{port}");
        bptl::cli::run_cli_code(["worker", "dashboard", "--config", &path, "--addr", &addr])
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Ok(r) = stats_over_http(port) {
            assert!(r.contains("\"counts\""), "{r}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "worker dashboard did not answer"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// `GET /api/stats` on `127.0.0.1:port` with a plain socket (this test has no runtime).
fn stats_over_http(port: u16) -> std::io::Result<String> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.write_all(b"GET /api/stats HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    if answer.starts_with("HTTP/1.1 200") {
        Ok(answer)
    } else {
        Err(std::io::Error::other(answer))
    }
}
