//! The dashboard in a real browser: Debian's chromium driven through chromedriver (WebDriver,
//! fantoccini). A worker on the dev engine fills a SQLite store (completed, failed, BPMN
//! error); the test filters the task list by status, opens a failed task and reads its error
//! and timeline, follows the link to the overview and finds the chart, runs the failed task
//! again (actions allowed) and sees it completed, sees an XSS payload as text, and is refused
//! on a non-loopback address without credentials. Screenshots of every page go to
//! `target/dashboard-screenshots/`.
//!
//! Skips with one line when `/usr/bin/chromedriver` is missing, except under CI (`CI` set),
//! where that is a failure: install `chromium` and `chromium-driver` from Debian's packages.
#![allow(clippy::unwrap_used)]

#[path = "support/store_support.rs"]
mod store_support;

#[path = "support/dashboard_env.rs"]
mod dashboard_env;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bptl::config::Config;
use bptl::dashboard::Dashboard;
use bptl_core::{InMemoryStore, TaskStatus};
use dashboard_env::{Env, StoreKind, XSS};
use fantoccini::{Client, ClientBuilder, Locator};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free loopback port; killed when dropped.
struct Driver {
    child: Child,
    url: String,
    _profile: store_support::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    // reqwest needs a TLS crypto provider before its first client.
    bptl::credentials::install_crypto_provider();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = reqwest::get(format!("{url}/status")).await
            && r.status().is_success()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not answer on {url} within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Driver {
        child,
        url,
        _profile: store_support::TempDir::new(),
    }
}

async fn browser(driver: &Driver) -> Client {
    let profile = driver._profile.0.join("profile");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap()
}

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dashboard-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

async fn body_text(client: &Client) -> String {
    client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Wait (up to 10 s) until the page's URL contains `part`.
async fn wait_for_url(client: &Client, part: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let url = client.current_url().await.unwrap().to_string();
        if url.contains(part) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the URL {url} never contained {part}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn chromium_missing() -> bool {
    if Path::new(CHROMEDRIVER).exists() {
        return false;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{CHROMEDRIVER} is missing under CI: install Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)"
    );
    println!("skipped: {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)");
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operator_filters_reads_a_failure_sees_the_chart_and_runs_the_task_again() {
    if chromium_missing() {
        return;
    }
    let env = Env::start(StoreKind::Sqlite, "allow_actions = true").await;
    let driver = start_driver().await;
    let c = browser(&driver).await;
    let base = env.base.clone();

    // The task list, filtered by status through the form: the filter lands in the URL.
    c.goto(&format!("{base}/tasks")).await.unwrap();
    assert_eq!(
        c.find_all(Locator::Css("table.tasks tbody tr"))
            .await
            .unwrap()
            .len(),
        6
    );
    c.find(Locator::Css("select[name=status]"))
        .await
        .unwrap()
        .select_by_value("failed")
        .await
        .unwrap();
    c.find(Locator::Css("form.filters button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_url(&c, "status=failed").await;
    let rows = c
        .find_all(Locator::Css("table.tasks tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 3, "two flaky failures and one BPMN error");
    for row in &rows {
        assert!(row.text().await.unwrap().contains("failed"));
    }
    screenshot(&c, "tasks-failed").await;

    // A failed task: its error and its timeline.
    let flaky = env.task_of(&env.instances.failed[0]).await;
    c.find(Locator::Css(&format!("a[href='/tasks/{flaky}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("table.timeline"))
        .await
        .unwrap();
    let text = body_text(&c).await;
    assert!(
        text.contains("the archive is down: connection refused"),
        "{text}"
    );
    assert!(
        text.contains("Unit error") && text.contains("in_progress → failed"),
        "{text}"
    );
    assert!(
        text.contains("dashboard-worker") && text.contains("Lock expires"),
        "{text}"
    );
    screenshot(&c, "task-failed").await;

    // The overview, by its link: the chart with the hour's bars.
    c.find(Locator::LinkText("Overview"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let chart = c
        .wait()
        .for_element(Locator::Css("svg.chart"))
        .await
        .unwrap();
    let bars = chart.find_all(Locator::Css("g.bar > rect")).await.unwrap();
    assert_eq!(bars.len(), 24 * 3, "three stacked bars per hour");
    let text = body_text(&c).await;
    assert!(
        text.contains("Outcomes per hour") && text.contains("flaky"),
        "{text}"
    );
    screenshot(&c, "overview").await;

    // Run the failed task again: confirm, and it is completed.
    env.heal(0).await;
    c.goto(&format!("{base}/tasks/{flaky}")).await.unwrap();
    c.find(Locator::LinkText("Run again…"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("button.danger"))
        .await
        .unwrap();
    screenshot(&c, "run-again-confirm").await;
    c.find(Locator::Css("button.danger"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("p.notice"))
        .await
        .unwrap();
    let text = body_text(&c).await;
    assert!(text.contains("the task is now completed"), "{text}");
    assert!(
        text.contains("run again requested in the dashboard by local user"),
        "{text}"
    );
    screenshot(&c, "task-run-again").await;
    let record = env
        .store
        .get(&bptl::ops::task_key(&flaky, "camunda"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, TaskStatus::Completed);

    // The XSS payload in a variable is text on the page, and no script runs.
    let xss = env.task_of(&env.instances.completed[0]).await;
    c.goto(&format!("{base}/tasks/{xss}")).await.unwrap();
    let text = body_text(&c).await;
    assert!(text.contains(XSS), "{text}");
    assert!(c.find_all(Locator::Css("script")).await.unwrap().is_empty());
    assert!(c.get_alert_text().await.is_err(), "no alert was opened");
    screenshot(&c, "task-xss").await;

    c.goto(&format!("{base}/units")).await.unwrap();
    let text = body_text(&c).await;
    assert!(
        text.contains("bptl_dummy::Double") && text.contains("Task mappings"),
        "{text}"
    );
    screenshot(&c, "units").await;

    // Not signed in on a non-loopback address: refused.
    let dir = store_support::TempDir::new();
    let token = dir.0.join("token");
    std::fs::write(&token, "browser-token").unwrap();
    let config = Config::from_toml_str(
        &format!(
            "[engine]\nurl = \"http://127.0.0.1:1/engine-rest\"\n[dashboard]\naddr = \"0.0.0.0:0\"\ntoken = {{ file = \"{}\" }}\n",
            token.display()
        ),
        &|_| None,
    )
    .unwrap();
    let guarded = Dashboard::new(Arc::new(InMemoryStore::new()), &config.dashboard)
        .unwrap()
        .serve("0.0.0.0:0".parse().unwrap())
        .await
        .unwrap();
    c.goto(&format!("http://127.0.0.1:{}/tasks", guarded.addr.port()))
        .await
        .unwrap();
    let text = body_text(&c).await;
    assert!(text.contains("sign in to see the bptl dashboard"), "{text}");
    assert!(!text.contains("Tasks"), "{text}");
    screenshot(&c, "refused").await;
    guarded.task.abort();

    c.close().await.unwrap();
    println!("screenshots in {}", screenshot_dir().display());
    env.stop().await;
}
