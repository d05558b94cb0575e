//! Idempotency across processes: two real worker processes (`worker run`, each serving the HTTP
//! work-unit API on its own port) share one PostgreSQL store (a fresh database on the test
//! server). The same `Idempotency-Key` sent to both at once runs the unit exactly once, on one
//! of them, and both answer the same stored result.
//!
//! The worker processes are this test executable (see `support/store_worker.rs`); the unit
//! appends each run to a file, so runs are counted across processes.
#![allow(clippy::unwrap_used)]

#[path = "support/store_support.rs"]
mod store_support;
#[path = "support/store_worker.rs"]
mod store_worker;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bptl::{TaskKey, TaskStatus};
use serde_json::{Value, json};
use store_support::{TempDir, TestDatabase};
use store_worker::{RECORD_RUN, WorkerProcess, runs};

/// A worker whose only work is the API's topic `record` ([`RECORD_RUN`]), on `store_url`.
fn write_config(dir: &Path, worker_id: &str, api: SocketAddr, store_url: &str) -> PathBuf {
    let path = dir.join(format!("{worker_id}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"[engine]
url = "http://127.0.0.1:9/engine-rest"
worker_id = "{worker_id}"
shutdown_grace = "1s"

[http_api]
addr = "{api}"
timeout = "20s"

[apps."app"]
api_token = "fleet-token"

[[task_mappings]]
topic = "record"
callback = "{RECORD_RUN}"
engine = "http"

[store]
url = "{store_url}"
"#
        ),
    )
    .unwrap();
    path
}

/// One call with `key` to the API at `api`: status, `Idempotent-Replayed`, body.
async fn call(client: &reqwest::Client, api: SocketAddr, key: &str) -> (u16, bool, Value) {
    let response = client
        .post(format!("http://{api}/api/v1/work-unit"))
        .bearer_auth("fleet-token")
        .header("Idempotency-Key", key)
        .json(&json!({ "topic": "record", "vars": { "sleepMs": 700 } }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let replayed = response.headers().get("idempotent-replayed").is_some();
    (status, replayed, response.json().await.unwrap())
}

/// Wait until the API at `api` answers (401 without a token).
async fn until_listening(client: &reqwest::Client, api: SocketAddr, worker: &mut WorkerProcess) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        worker.assert_running();
        let sent = client
            .post(format!("http://{api}/api/v1/work-unit"))
            .json(&json!({}))
            .send()
            .await;
        if sent.is_ok_and(|r| r.status().as_u16() == 401) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the API at {api} never answered:\n{}",
            worker.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_sent_to_two_processes_at_once_runs_the_unit_once() {
    let db = TestDatabase::create().await;
    let dir = TempDir::new();
    let effects = dir.0.join("effects.txt");
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    };
    let apis = [free(), free()];
    let mut workers: Vec<WorkerProcess> = ["api-1", "api-2"]
        .iter()
        .zip(apis)
        .map(|(name, api)| {
            WorkerProcess::spawn(&write_config(&dir.0, name, api, &db.url), &effects, name)
        })
        .collect();
    bptl::credentials::install_crypto_provider(); // before a client of our own
    let client = reqwest::Client::new();
    for (worker, api) in workers.iter_mut().zip(apis) {
        until_listening(&client, api, worker).await;
    }

    let keys = ["order-1", "order-2", "order-3"];
    for key in keys {
        let (a, b) = tokio::join!(call(&client, apis[0], key), call(&client, apis[1], key));
        assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
        assert_eq!(a.2, b.2, "both answer the same stored result");
        assert_eq!(a.2["resultVars"], json!({ "ran": true }));
        assert_eq!(a.2["taskId"], format!("app {key}"));
        assert!(
            a.1 != b.1,
            "one ran the unit, the other replayed it: {a:?} {b:?}"
        );
        // Once more, later, to each: the stored result, no run.
        for api in apis {
            let again = call(&client, api, key).await;
            assert_eq!((again.0, again.1), (200, true), "{again:?}");
            assert_eq!(again.2, a.2);
        }
    }
    for w in &mut workers {
        w.assert_running();
    }

    let counted = runs(&effects);
    assert_eq!(
        counted,
        keys.iter().map(|k| (format!("app {k}"), 1)).collect(),
        "each key's unit ran exactly once across both processes"
    );
    let store = bptl::sql_store::connect(&db.url).await.unwrap();
    for key in keys {
        let record = store
            .get(&TaskKey::new("http", format!("app {key}")))
            .await
            .unwrap()
            .expect("recorded");
        assert_eq!(record.status, TaskStatus::Completed, "{record:?}");
        assert_eq!(record.executions, 1, "{record:?}");
    }
    for w in &mut workers {
        w.kill();
    }
    store.close().await;
}
