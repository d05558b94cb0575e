//! The official Camunda JavaScript client (camunda-external-task-client-js 3.1.0) works
//! against the dev engine: proof that the dev engine speaks Camunda's protocol.
//!
//! Needs `node` and `npm` (CI has node 20). The client is installed once into
//! `<workspace>/target/js-client-cache` and reused by later runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dev_engine_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use bptl_dev_engine::{DevEngine, InstanceState};
use serde_json::{Value, json};

const CLIENT: &str = "camunda-external-task-client-js";
const VERSION: &str = "3.1.0";

static INSTALL: Mutex<()> = Mutex::new(());

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cache_dir() -> PathBuf {
    manifest_dir()
        .parent()
        .expect("the crate lives in the workspace")
        .join("target")
        .join("js-client-cache")
}

fn require_tool(tool: &str) {
    let found = Command::new(tool).arg("--version").output();
    match found {
        Ok(out) if out.status.success() => {}
        _ => panic!(
            "`{tool}` is required by the JS client compatibility test but was not found on PATH; \
             install Node.js 20 (with npm) to run it"
        ),
    }
}

/// Installs the JS client into the cache (once); returns the path of its entry module.
fn install_client() -> PathBuf {
    let _guard = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    require_tool("node");
    require_tool("npm");
    let cache = cache_dir();
    let package = cache.join("node_modules").join(CLIENT);
    let installed_version = std::fs::read_to_string(package.join("package.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|v| v["version"].as_str().map(str::to_string));
    if installed_version.as_deref() != Some(VERSION) {
        std::fs::create_dir_all(&cache).unwrap();
        if !cache.join("package.json").exists() {
            std::fs::write(
                cache.join("package.json"),
                r#"{"name": "bptl-js-client-cache", "private": true}"#,
            )
            .unwrap();
        }
        let out = Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                &format!("{CLIENT}@{VERSION}"),
            ])
            .current_dir(&cache)
            .output()
            .expect("npm runs");
        assert!(
            out.status.success(),
            "npm install {CLIENT}@{VERSION} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let entry = package.join("index.js");
    assert!(
        entry.exists(),
        "{} is missing after npm install",
        entry.display()
    );
    entry
}

async fn run_worker(entry: &Path, scenario: &str, url: &str, count: usize) {
    let script = manifest_dir().join("tests").join("js").join("worker.mjs");
    let child = tokio::process::Command::new("node")
        .arg(&script)
        .args([scenario, url, &count.to_string()])
        .env("CAMUNDA_CLIENT_ENTRY", entry)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(90), child)
        .await
        .expect("the JS worker finishes within 90 s")
        .expect("node runs");
    assert!(
        out.status.success(),
        "the JS worker failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_js_client_completes_tasks() {
    let entry = install_client();
    let engine = DevEngine::start().await.unwrap();
    engine
        .deploy_file(dev_engine_support::fixture("double.bpmn"))
        .unwrap();
    let mut instances = Vec::new();
    for amount in 1..=20_i64 {
        let id = engine
            .start_process(
                "double",
                json!({"amount": {"value": amount, "type": "Integer"},
                       "label": {"value": format!("item-{amount}"), "type": "String"}}),
                Some(&format!("order-{amount}")),
            )
            .unwrap();
        instances.push((id, amount));
    }
    run_worker(&entry, "double", &engine.url(), 20).await;
    engine
        .wait_until_all_ended(Duration::from_secs(10))
        .await
        .unwrap();
    for (id, amount) in instances {
        assert_eq!(engine.instance_state(&id), Some(InstanceState::Completed));
        let vars = engine.history_variables(&id).unwrap();
        assert_eq!(
            vars["doubled"]["value"].as_i64(),
            Some(amount * 2),
            "{vars}"
        );
        assert_eq!(vars["doubled"]["type"], "Integer", "{vars}");
        assert_eq!(vars["label"]["value"], format!("item-{amount}!"));
        assert_eq!(vars["handledBy"]["value"], "js");
    }
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_js_client_reports_failures_and_bpmn_errors() {
    let entry = install_client();
    let engine = DevEngine::start().await.unwrap();
    engine
        .deploy_file(dev_engine_support::fixture("double.bpmn"))
        .unwrap();
    let negative = engine
        .start_process(
            "double",
            json!({"amount": {"value": -5, "type": "Integer"}}),
            None,
        )
        .unwrap();
    let failing = engine
        .start_process(
            "double",
            json!({"amount": {"value": 7, "type": "Integer"}}),
            None,
        )
        .unwrap();
    // double (negative) → BPMN error → reject; double (failing) → failure with 0 retries.
    run_worker(&entry, "errors", &engine.url(), 3).await;

    assert_eq!(
        engine.instance_state(&negative),
        Some(InstanceState::Completed)
    );
    let vars = engine.history_variables(&negative).unwrap();
    assert_eq!(
        vars["rejected"]["value"], true,
        "the boundary path ran: {vars}"
    );
    assert_eq!(vars["reason"]["value"], "negative amount");
    assert_eq!(vars["caughtCode"]["value"], "NEGATIVE");

    assert_eq!(engine.instance_state(&failing), Some(InstanceState::Active));
    // reqwest needs a TLS crypto provider before its first client.
    bptl_camunda::install_crypto_provider();
    let http = reqwest::Client::new();
    let incidents: Value = http
        .get(format!("{}/incident", engine.url()))
        .query(&[("processInstanceId", failing.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = incidents.as_array().unwrap();
    assert_eq!(list.len(), 1, "{incidents}");
    assert_eq!(list[0]["incidentType"], "failedExternalTask");
    assert_eq!(list[0]["incidentMessage"], "cannot double this amount");
    let task_id = list[0]["configuration"].as_str().unwrap();
    let details = http
        .get(format!(
            "{}/external-task/{task_id}/errorDetails",
            engine.url()
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(details, "details from the JS worker");
    engine.shutdown().await;
}
