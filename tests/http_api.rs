//! The HTTP work-unit API over real HTTP: a worker with the API's engine and a SQLite store,
//! configured from TOML as `worker run` is, called with reqwest; and `worker run` itself as a
//! child process.
#![allow(clippy::unwrap_used)]

#[path = "support/store_support.rs"]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_and_plain_variables_run_the_unit_and_answer_its_variables() {
    let api = start("10s", 4, "http://127.0.0.1:9/").await;
    let (status, answer) = api
        .call_a(
            json!({ "topic": "double", "vars": { "amount": { "value": 21, "type": "Integer" } } }),
        )
        .await;
    assert_eq!(
        (status, &answer["resultVars"]),
        (200, &json!({ "doubled": 42 }))
    );
    let (status, answer) = api
        .call_a(json!({ "topic": "double", "vars": { "amount": 2.5 } }))
        .await;
    assert_eq!(
        (status, &answer["resultVars"]),
        (200, &json!({ "doubled": 5.0 }))
    );
    let (status, answer) = api
        .call_a(json!({ "topic": "echo", "vars": {
            "when": { "value": "2026-12-02T14:00:00.000+0100", "type": "Date" },
            "big": { "value": 5, "type": "Long" },
            "doc": { "nested": [1, 2] },
            "name": "plain",
        } }))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["resultVars"],
        json!({
            "echo_when": "2026-12-02T14:00:00.000+0100",
            "echo_big": 5,
            "echo_doc": { "nested": [1, 2] },
            "echo_name": "plain",
            "echo_bptlAppId": "app-a",
        })
    );
    // The record keeps the variables in Camunda's typed form, kinds preserved.
    let record = api
        .record_once(task_id(&answer), TaskStatus::Completed)
        .await;
    assert_eq!(
        record.variables["big"],
        json!({ "value": 5, "type": "Long" })
    );
    assert_eq!(record.variables["when"]["type"], json!("Date"));
    assert_eq!(record.variables["doc"]["type"], json!("Json"));
    assert_eq!(
        record.variables["bptlAppId"],
        json!({ "value": "app-a", "type": "String" })
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_answers_500_at_once_and_a_bpmn_error_422() {
    let api = start("10s", 4, "http://127.0.0.1:9/").await;
    let (status, answer) = api
        .call_a(json!({ "topic": "counted", "vars": { "counter": "fails", "outcome": "fail" } }))
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (500, Some("failed on run 1"))
    );
    // The mapping has retries = 3, but a synchronous caller hears the failure at once.
    let record = api.record_once(task_id(&answer), TaskStatus::Failed).await;
    assert_eq!(record.executions, 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(runs("fails"), 1, "not retried");

    let (status, answer) = api
        .call_a(json!({ "topic": "counted", "vars": { "counter": "bpmn", "outcome": "bpmn" } }))
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["errorCode"], json!("COUNTED"));
    assert_eq!(answer["errorMessage"], json!("raised on run 1"));

    // A variable the unit needs is missing: a failure too, naming it.
    let (status, answer) = api.call_a(json!({ "topic": "double", "vars": {} })).await;
    assert_eq!(status, 500);
    assert_eq!(
        answer["error"],
        json!("The variable amount is missing or empty.")
    );
    let stats = api.stop().await;
    assert_eq!((stats.failed, stats.bpmn_errors), (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_calls_answer_400_naming_the_problem() {
    let api = start("10s", 4, "http://127.0.0.1:9/").await;
    let cases = [
        (
            json!({ "topic": "nothing", "vars": {} }),
            "Could not find a topic/callback mapping for topic 'nothing'",
        ),
        // Mapped, but for the polled engine: not something HTTP callers may run.
        (
            json!({ "topic": "polled", "vars": { "amount": 1 } }),
            "Could not find a topic/callback mapping for topic 'polled'",
        ),
        (
            json!({ "vars": {} }),
            "the request body is not valid: missing field `topic`",
        ),
        (
            json!({ "topic": "double", "variables": {} }),
            "the request body is not valid: unknown field `variables`",
        ),
        (
            json!({ "topic": "double", "vars": [1] }),
            "the request body is not valid: invalid type: sequence, expected a map",
        ),
        (
            json!({ "topic": "double", "vars": { "amount": { "value": "x", "type": "Integer" } } }),
            "vars.amount: variable 'amount' has type Integer but its value is a string (\"x\")",
        ),
        (
            json!({ "topic": "double", "vars": { "amount": { "value": 1, "type": "Number" } } }),
            "vars.amount: variable 'amount' has unknown type 'Number'",
        ),
        (
            json!({ "topic": "echo", "vars": { "bptlAppId": "app-b" } }),
            "vars.bptlAppId: your token is the application 'app-a's",
        ),
    ];
    for (body, expected) in cases {
        let (status, answer) = api.call_a(body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let message = answer["error"].as_str().unwrap();
        assert!(message.starts_with(expected), "{body}: {message}");
    }
    // Not JSON at all.
    let response = api
        .client
        .post(&api.url)
        .bearer_auth("token-a")
        .body("{\"topic\": \"double\", ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let answer: Json = response.json().await.unwrap();
    let message = answer["error"].as_str().unwrap();
    assert!(
        message.starts_with(
            "the request body is not valid: EOF while parsing a value at line 1 column 20"
        ),
        "{message}"
    );
    assert!(
        message.contains(r#"send {"topic": "TOPIC", "vars""#),
        "{message}"
    );
    let (status, answer) = api
        .call(
            Some("token-a"),
            Some("has space"),
            json!({ "topic": "double", "vars": { "amount": 1 } }),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("the Idempotency-Key header must be")
    );
    // Nothing of these ran.
    let stats = api.stop().await;
    assert_eq!(stats.fetched, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_without_a_valid_token_get_401() {
    let api = start("10s", 4, "http://127.0.0.1:9/").await;
    let body = json!({ "topic": "double", "vars": { "amount": 1 } });
    for token in [None, Some("token-c"), Some("token-a2"), Some("oken-a")] {
        let mut request = api.client.post(&api.url).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{token:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let answer: Json = response.json().await.unwrap();
        assert!(answer["error"].as_str().unwrap().contains("Bearer"));
    }
    let response = api
        .client
        .post(&api.url)
        .basic_auth("app-a", Some("token-a"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    // The token of app-b, read from the environment, works.
    let (status, answer) = api.call(Some("token-b"), None, body).await;
    assert_eq!(
        (status, &answer["resultVars"]),
        (200, &json!({ "doubled": 2 }))
    );
    let stats = api.stop().await;
    assert_eq!(stats.fetched, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callers_app_id_chooses_the_credentials() {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let peer = MockServer::start().await;
    for key in ["app-b-key", "service-key"] {
        Mock::given(method("GET"))
            .and(path("/api/things/1"))
            .and(header("X-Api-Key", key))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "seenKey": key })))
            .mount(&peer)
            .await;
    }
    let api = start("10s", 4, &format!("{}/api/", peer.uri())).await;
    let body = json!({ "topic": "fetch", "vars": { "path": "things/1" } });
    let (status, answer) = api.call(Some("token-b"), None, body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["resultVars"]["response"],
        json!({ "seenKey": "app-b-key" })
    );
    // app-a has no credentials of its own: the service's apply.
    let (status, answer) = api.call_a(body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["resultVars"]["response"],
        json!({ "seenKey": "service-key" })
    );
    // The unit's request is on the task's timeline.
    let record = api
        .record_once(task_id(&answer), TaskStatus::Completed)
        .await;
    let timeline = api.store.timeline(&record.key()).await.unwrap();
    assert!(
        timeline.iter().any(|e| e.kind == bptl::EventKind::Request),
        "{timeline:?}"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_calls_are_all_answered_correctly() {
    let api = Arc::new(start("30s", 4, "http://127.0.0.1:9/").await);
    let mut calls = tokio::task::JoinSet::new();
    for amount in 0..50_i64 {
        let api = Arc::clone(&api);
        calls.spawn(async move {
            let token = if amount % 2 == 0 {
                "token-a"
            } else {
                "token-b"
            };
            let (status, answer) = api
                .call(
                    Some(token),
                    None,
                    json!({ "topic": "echo", "vars": { "amount": amount, "sleepMs": 20 } }),
                )
                .await;
            (amount, status, answer)
        });
    }
    let mut seen = 0;
    while let Some(done) = calls.join_next().await {
        let (amount, status, answer) = done.unwrap();
        assert_eq!(status, 200, "{amount}: {answer}");
        let app = if amount % 2 == 0 { "app-a" } else { "app-b" };
        assert_eq!(
            answer["resultVars"],
            json!({ "echo_amount": amount, "echo_sleepMs": 20, "echo_bptlAppId": app })
        );
        seen += 1;
    }
    assert_eq!(seen, 50);
    let api = Arc::into_inner(api).unwrap();
    let stats = api.stop().await;
    assert_eq!((stats.fetched, stats.completed), (50, 50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_slower_than_the_timeout_answers_504_and_its_outcome_is_kept() {
    let api = start("300ms", 4, "http://127.0.0.1:9/").await;
    let body = json!({ "topic": "sleep", "vars": { "durationMs": 1200 } });
    let started = std::time::Instant::now();
    let (status, answer) = api
        .call(Some("token-a"), Some("slow-1"), body.clone())
        .await;
    assert_eq!(status, 504, "{answer}");
    assert!(
        started.elapsed() < Duration::from_millis(1100),
        "answered at the timeout"
    );
    let message = answer["error"].as_str().unwrap();
    assert!(
        message
            .starts_with("the unit did not finish within 300ms ([http_api] timeout); it goes on"),
        "{message}"
    );
    // The unit goes on; its result is kept, and the same key returns it.
    let record = api
        .record_once(task_id(&answer), TaskStatus::Completed)
        .await;
    assert_eq!(
        record.result_variables.unwrap().to_json(),
        json!({ "sleptMs": 1200 })
    );
    let response = api
        .client
        .post(&api.url)
        .bearer_auth("token-a")
        .header("Idempotency-Key", "slow-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["idempotent-replayed"], "true");
    let answer: Json = response.json().await.unwrap();
    assert_eq!(answer["resultVars"], json!({ "sleptMs": 1200 }));
    let stats = api.stop().await;
    assert_eq!(stats.fetched, 1, "the unit ran once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_idempotency_key_returns_the_stored_outcome_without_running_the_unit() {
    let api = start("10s", 4, "http://127.0.0.1:9/").await;
    let body = json!({ "topic": "counted", "vars": { "counter": "sequential" } });
    let (status, first) = api.call(Some("token-a"), Some("key-1"), body.clone()).await;
    assert_eq!(
        (status, &first["resultVars"]),
        (200, &json!({ "run": 1, "appId": "app-a" }))
    );
    for _ in 0..3 {
        let (status, again) = api.call(Some("token-a"), Some("key-1"), body.clone()).await;
        assert_eq!((status, &again), (200, &first));
    }
    assert_eq!(runs("sequential"), 1);
    // The key is the application's: another application's same key is another call.
    let (status, other) = api.call(Some("token-b"), Some("key-1"), body.clone()).await;
    assert_eq!(
        (status, &other["resultVars"]),
        (200, &json!({ "run": 2, "appId": "app-b" }))
    );
    // The same key for another call is refused.
    let (status, answer) = api
        .call(
            Some("token-a"),
            Some("key-1"),
            json!({ "topic": "counted", "vars": { "counter": "other" } }),
        )
        .await;
    assert_eq!(status, 409);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("this Idempotency-Key was used for another call")
    );
    assert_eq!(runs("other"), 0);
    // A failure is an outcome too: repeated, not run again.
    let failing =
        json!({ "topic": "counted", "vars": { "counter": "failing", "outcome": "fail" } });
    for _ in 0..2 {
        let (status, answer) = api
            .call(Some("token-a"), Some("key-2"), failing.clone())
            .await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (500, Some("failed on run 1"))
        );
    }
    let bpmn = json!({ "topic": "counted", "vars": { "counter": "raising", "outcome": "bpmn" } });
    for _ in 0..2 {
        let (status, answer) = api.call(Some("token-a"), Some("key-3"), bpmn.clone()).await;
        assert_eq!(status, 422);
        assert_eq!(
            (
                answer["errorCode"].as_str(),
                answer["errorMessage"].as_str()
            ),
            (Some("COUNTED"), Some("raised on run 1"))
        );
    }
    assert_eq!((runs("failing"), runs("raising")), (1, 1));
    // The record's timeline says what happened.
    let record = api
        .record_once(task_id(&first), TaskStatus::Completed)
        .await;
    assert_eq!(record.task_id, "app-a key-1");
    let timeline = api.store.timeline(&record.key()).await.unwrap();
    let replays = timeline
        .iter()
        .filter(|e| {
            e.message
                .starts_with("a repeated call with the same Idempotency-Key")
        })
        .count();
    assert_eq!(replays, 3, "the three repeats of key-1: {timeline:?}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_with_one_idempotency_key_run_the_unit_once() {
    let api = Arc::new(start("10s", 4, "http://127.0.0.1:9/").await);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let api = Arc::clone(&api);
        calls.spawn(async move {
            api.call(
                Some("token-a"),
                Some("together"),
                json!({ "topic": "counted", "vars": { "counter": "concurrent", "sleepMs": 300 } }),
            )
            .await
        });
    }
    while let Some(done) = calls.join_next().await {
        let (status, answer) = done.unwrap();
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["resultVars"], json!({ "run": 1, "appId": "app-a" }));
    }
    assert_eq!(runs("concurrent"), 1);
    let api = Arc::into_inner(api).unwrap();
    let stats = api.stop().await;
    assert_eq!(stats.fetched, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_is_recorded_with_its_timeline() {
    let api = start("10s", 4, "http://127.0.0.1:9/").await;
    let (status, answer) = api
        .call(
            Some("token-b"),
            None,
            json!({ "topic": "double", "vars": { "amount": 4 } }),
        )
        .await;
    assert_eq!(status, 200);
    let record = api
        .record_once(task_id(&answer), TaskStatus::Completed)
        .await;
    assert_eq!(
        (record.engine.as_str(), record.topic.as_str()),
        ("http", "double")
    );
    assert_eq!(record.executions, 1);
    assert_eq!(
        record.result_variables.as_ref().unwrap().to_json(),
        json!({ "doubled": 8 })
    );
    assert!(record.reported_at.is_some());
    // The timeline writer runs off the task's path: wait for the last entry.
    let key = record.key();
    let mut messages = Vec::new();
    for _ in 0..200 {
        messages = api
            .store
            .timeline(&key)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.message)
            .collect::<Vec<_>>();
        if messages.iter().any(|m| m.contains("completed")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        messages.first().map(String::as_str),
        Some("received over the HTTP work-unit API from the application 'app-b'"),
        "{messages:?}"
    );
    for status in ["in_progress", "performed", "completed"] {
        assert!(
            messages.iter().any(|m| m.contains(status)),
            "{status}: {messages:?}"
        );
    }
    api.stop().await;
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_run_serves_the_api_from_its_configuration() {
    use std::process::{Command, Stdio};
    let dir = TempDir::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let token_file = dir.0.join("app-a.token");
    std::fs::write(&token_file, "file-token\n").unwrap();
    let store_url = dir.sqlite_url("run.db");
    let config = dir.0.join("worker.toml");
    std::fs::write(
        &config,
        format!(
            r#"
            [engine]
            url = "http://127.0.0.1:9/engine-rest"
            shutdown_grace = "2s"

            [store]
            url = "{store_url}"

            [http_api]
            addr = "127.0.0.1:{port}"

            [apps."app-a"]
            api_token = {{ file = "{}" }}

            [[task_mappings]]
            topic = "double"
            callback = "bptl_dummy::Double"
            engine = "http"
            "#,
            token_file.display()
        ),
    )
    .unwrap();
    let log = dir.0.join("worker.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "worker_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("BPTL_TEST_HTTP_API_CONFIG", &config)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/api/v1/work-unit");
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let response = loop {
        let sent = client
            .post(&url)
            .bearer_auth("file-token")
            .header("Idempotency-Key", "run-1")
            .json(&json!({ "topic": "double", "vars": { "amount": 50 } }))
            .send()
            .await;
        if let Ok(response) = sent {
            break response;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the worker exited ({status}):\n{}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the API never answered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(response.status().as_u16(), 200);
    let answer: Json = response.json().await.unwrap();
    assert_eq!(answer["resultVars"], json!({ "doubled": 100 }));
    // Stopped as an operator would: SIGTERM, a clean exit.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    let output = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}:\n{output}");
    assert!(
        output.contains("HTTP work-unit API on http://127.0.0.1:"),
        "{output}"
    );
    // The call is in the worker's store.
    let store = bptl::sql_store::connect(&store_url).await.unwrap();
    let record = store
        .get(&TaskKey::new("http", "app-a run-1"))
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(record.status, TaskStatus::Completed);
    assert_eq!(
        record.result_variables.unwrap().to_json(),
        json!({ "doubled": 100 })
    );
    store.close().await;
}

#[test]
fn check_names_what_the_api_needs() {
    let _ = bptl::dummy::echo; // links the demo units
    let base = "[engine]\nurl = \"http://127.0.0.1:9/engine-rest\"\n[[task_mappings]]\ntopic = \"double\"\ncallback = \"bptl_dummy::Double\"\nengine = \"http\"\n";
    let problems = |text: &str| {
        let config = Config::from_toml_str(text, &|_| None).unwrap();
        bptl::cli::check(&config, Registry::global())
    };
    assert_eq!(
        problems(base),
        [
            "task_mappings: mappings with engine = \"http\" are run by the HTTP work-unit API, which is not served: set [http_api] addr",
            "task_mappings: no active mapping for the engine: the worker would fetch nothing; add [[task_mappings]] sections",
        ]
    );
    let served = format!("{base}[http_api]\naddr = \"127.0.0.1:9300\"\n");
    let found = problems(&served);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0]
            .starts_with("http_api.addr: no application may call the API: give one an api_token"),
        "{found:?}"
    );
    assert!(problems(&format!("{served}[apps.a]\napi_token = \"t\"\n")).is_empty());
    let wrong = Config::from_toml_str(
        &format!("{base}[http_api]\naddr = \"localhost\"\ntimeout = \"2h\"\nmax_task = 3\n"),
        &|_| None,
    )
    .unwrap_err();
    let wrong: Vec<String> = wrong.iter().map(ToString::to_string).collect();
    assert!(
        wrong.contains(&"http_api.max_task: unknown key; did you mean 'max_tasks'?".to_owned()),
        "{wrong:?}"
    );
    let wrong = Config::from_toml_str(
        &format!("{base}[http_api]\naddr = \"localhost\"\ntimeout = \"2h\"\n"),
        &|_| None,
    )
    .unwrap_err();
    let wrong: Vec<String> = wrong.iter().map(ToString::to_string).collect();
    assert_eq!(
        wrong,
        [
            "http_api.addr: 'localhost' is not a socket address: write e.g. \"127.0.0.1:9300\"",
            "http_api.timeout: must be 100ms to 1h (how long a call waits for its unit)",
        ]
    );
}
