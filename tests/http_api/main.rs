//! The HTTP work-unit API over real HTTP: a worker with the API's engine and a SQLite store,
//! configured from TOML as `worker run` is, called with reqwest; and `worker run` itself as a
//! child process. The tests: `calls` (answers, auth, concurrency), `outcomes` (timeout,
//! idempotency, the record), `worker_run` (the CLI serving the API, `check`).
#![allow(clippy::unwrap_used)]

#[path = "../support/store_support.rs"]
mod store_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bptl::config::Config;
use bptl::credentials::CredentialStore;
use bptl::prelude::*;
use bptl::sources::http_api::{ApiTokens, HttpApi, HttpApiServer};
use bptl::{Registry, TaskKey, TaskStatus, TaskStore, Worker, WorkerHandle, WorkerStats};
use serde_json::{Value as Json, json};
use store_support::TempDir;

/// Runs per counter name, across this test binary.
static RUNS: Mutex<BTreeMap<String, i64>> = Mutex::new(BTreeMap::new());

fn runs(counter: &str) -> i64 {
    RUNS.lock().unwrap().get(counter).copied().unwrap_or(0)
}

/// Test unit: counts its runs under `counter`, sleeps `sleepMs`, then succeeds with
/// `{run, appId}`, or fails (`outcome = "fail"`) or raises the BPMN error `COUNTED`
/// (`outcome = "bpmn"`).
#[register]
async fn counted(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let vars = task.get_variables()?;
    let counter: String = check_variable_as(&vars, "counter")?;
    let run = {
        let mut runs = RUNS.lock().unwrap();
        let n = runs.entry(counter).or_insert(0);
        *n += 1;
        *n
    };
    if let Some(ms) = optional_variable_as::<u64>(&vars, "sleepMs")? {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    match optional_variable_as::<String>(&vars, "outcome")?.as_deref() {
        Some("fail") => Err(Failure::new(format!("failed on run {run}")).into()),
        Some("bpmn") => Err(UnitError::bpmn("COUNTED", format!("raised on run {run}"))),
        _ => {
            let app: String = check_variable_as(&vars, "bptlAppId")?;
            Ok(variables! { "run": run, "appId": app })
        }
    }
}

/// A worker serving the API, its store and its configuration's pieces.
struct Api {
    url: String,
    store: Arc<dyn TaskStore>,
    handle: WorkerHandle,
    running: tokio::task::JoinHandle<WorkerStats>,
    server: HttpApiServer,
    client: reqwest::Client,
    _dir: TempDir,
}

fn config_text(timeout: &str, max_tasks: usize, peer: &str) -> String {
    format!(
        r#"
        [engine]
        url = "http://127.0.0.1:9/engine-rest"

        [http_api]
        addr = "127.0.0.1:0"
        timeout = "{timeout}"
        max_tasks = {max_tasks}

        [apps."app-a"]
        api_token = "token-a"

        [apps."app-b"]
        api_token = {{ env = "HTTP_API_TEST_TOKEN_B" }}
        [apps."app-b".credentials.peer]
        header = "X-Api-Key"
        value = "app-b-key"

        [services.peer]
        api_root = "{peer}"
        api_type = "json"
        auth = "api_key"
        header = "X-Api-Key"
        value = "service-key"

        [[task_mappings]]
        topic = "double"
        callback = "bptl_dummy::Double"
        engine = "http"

        [[task_mappings]]
        topic = "echo"
        callback = "bptl_dummy::echo"
        engine = "http"

        [[task_mappings]]
        topic = "sleep"
        callback = "bptl_dummy::sleep"
        engine = "http"

        [[task_mappings]]
        topic = "counted"
        callback = "http_api::counted"
        engine = "http"
        retries = 3

        [[task_mappings]]
        topic = "fetch"
        callback = "bptl_dummy::fetch_json"
        engine = "http"
        services = {{ api = "peer" }}

        [[task_mappings]]
        topic = "polled"
        callback = "bptl_dummy::Double"
        "#
    )
}

fn env(name: &str) -> Option<String> {
    (name == "HTTP_API_TEST_TOKEN_B").then(|| "token-b".to_owned())
}

async fn start(timeout: &str, max_tasks: usize, peer: &str) -> Api {
    let _ = bptl::dummy::Double::new; // links the demo units
    let config = Config::from_toml_str(&config_text(timeout, max_tasks, peer), &env).unwrap();
    let dir = TempDir::new();
    let store = bptl::sql_store::connect(&dir.sqlite_url("http.db"))
        .await
        .unwrap();
    let tokens = ApiTokens::from_config(&config.services, &env).unwrap();
    let credentials = CredentialStore::from_config(config.services.clone()).unwrap();
    let api = HttpApi::new(tokens, config.http_api.timeout);
    let worker = Worker::builder(api.engine())
        .registry(Registry::global().unwrap().clone())
        .mappings(config.mappings())
        .config(bptl::WorkerConfig {
            max_tasks: config.http_api.max_tasks,
            ..config.worker_config()
        })
        .store(Arc::clone(&store))
        .extension(Arc::new(credentials))
        .build()
        .unwrap();
    let server = api
        .serve(config.http_api.addr.unwrap(), &worker)
        .await
        .unwrap();
    let handle = worker.handle();
    let running = tokio::spawn(worker.run(std::future::pending::<()>()));
    Api {
        url: format!("http://{}/api/v1/work-unit", server.local_addr()),
        store,
        handle,
        running,
        server,
        client: reqwest::Client::new(),
        _dir: dir,
    }
}

impl Api {
    async fn call(&self, token: Option<&str>, key: Option<&str>, body: Json) -> (u16, Json) {
        let mut request = self.client.post(&self.url).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    async fn call_a(&self, body: Json) -> (u16, Json) {
        self.call(Some("token-a"), None, body).await
    }

    /// The record of `task_id`, once its status is `status` (waits up to 10 s).
    async fn record_once(&self, task_id: &str, status: TaskStatus) -> bptl::TaskRecord {
        let key = TaskKey::new("http", task_id);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let record = self.store.get(&key).await.unwrap();
            if let Some(r) = record.filter(|r| r.status == status) {
                return r;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "task {task_id} never became {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) -> WorkerStats {
        self.handle.shutdown();
        let stats = self.running.await.unwrap();
        self.server.stop().await;
        self.store.close().await;
        stats
    }
}

fn task_id(answer: &Json) -> &str {
    answer["taskId"]
        .as_str()
        .expect("the answer names its task")
}

mod calls;
mod outcomes;
mod worker_run;

#[test]
#[ignore = "not a test: the `worker run` process worker_run_serves_the_api_from_its_configuration starts"]
fn worker_process() {
    let Ok(config) = std::env::var("BPTL_TEST_HTTP_API_CONFIG") else {
        return;
    };
    let _ = bptl::dummy::Double::new; // links the demo units
    let code = bptl::cli::run_cli_code(["worker", "run", "--config", config.as_str()]);
    std::process::exit(code.into());
}
