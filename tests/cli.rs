//! The command-line interface as a user runs it: a real child process (this test binary
//! re-executed into `bptl::cli::run_cli`), its exit codes and output; `check` listing every
//! problem, `run` refusing to start, and a full run whose every output is searched for secrets.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bptl_dev_engine::{DevEngine, InstanceState};
use serde_json::json;

#[path = "support/store_support.rs"]
mod store_support;

use store_support::TempDir;

const CHILD_ARGS: &str = "BPTL_TEST_CLI_ARGS";

/// Not a test: the child process. Runs the CLI with the arguments in `BPTL_TEST_CLI_ARGS`.
#[test]
#[ignore = "not a test: the CLI child process the other tests start"]
fn cli_child() {
    let Ok(args) = std::env::var(CHILD_ARGS) else {
        return;
    };
    let args: Vec<String> = serde_json::from_str(&args).expect("arguments as a JSON list");
    let code = bptl::cli::run_cli_code(std::iter::once("worker".to_owned()).chain(args));
    let _ = std::io::stdout().flush();
    std::process::exit(i32::from(code));
}

fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args([
        "--exact",
        "cli_child",
        "--ignored",
        "--nocapture",
        "--quiet",
    ])
    .env(CHILD_ARGS, serde_json::to_string(args).expect("json"))
    .env("RUST_LOG", "info")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

fn run_cli(args: &[&str]) -> (i32, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command(args).output().expect("child runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.code().unwrap_or(-1), text)
}

/// Write `text` to `name` in `dir`.
fn write(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.0.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// `check --config` on a `worker.toml` holding `text`: its exit code and output.
fn check(text: &str) -> (i32, String) {
    let dir = TempDir::new();
    let config = write(&dir, "worker.toml", text);
    run_cli(&["check", "--config", arg(&config)])
}

#[test]
fn help_is_there_for_every_command() {
    for cmd in [
        "run",
        "check",
        "registry",
        "fetch-and-lock",
        "dev-engine",
        "tasks",
        "execute",
        "stats",
        "prune",
    ] {
        let (code, out) = run_cli(&[cmd, "--help"]);
        assert_eq!(code, 0, "{cmd} --help: {out}");
        assert!(out.contains("Usage: worker"), "{cmd}: {out}");
    }
    let (code, out) = run_cli(&["no-such-command"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("unrecognized subcommand"), "{out}");
}

#[test]
fn registry_lists_the_dummy_units() {
    let (code, out) = run_cli(&["registry"]);
    assert_eq!(code, 0, "{out}");
    for unit in [
        "bptl_dummy::Double",
        "bptl_dummy::echo",
        "bptl_dummy::fetch_json",
        "bptl_dummy::sleep",
    ] {
        assert!(
            out.contains(&format!("{unit}\n    ")),
            "{unit} missing: {out}"
        );
    }
}

#[test]
fn a_key_typo_is_named_with_a_suggestion() {
    let (code, out) = check(
        "[engine]\nurl = \"http://127.0.0.1:1/engine-rest\"\nmax_task = 10\n\n[[task_mappings]]\ntopic = \"double\"\ncallback = \"bptl_dummy::Double\"\n",
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("engine.max_task: unknown key; did you mean 'max_tasks'?"),
        "{out}"
    );
}

#[test]
fn check_warns_of_the_deprecated_metrics_addr() {
    let (code, out) = check(
        "[engine]\nurl = \"http://127.0.0.1:1/engine-rest\"\n\n[[task_mappings]]\ntopic = \"double\"\ncallback = \"bptl_dummy::Double\"\n\n[metrics]\naddr = \"127.0.0.1:9100\"\n",
    );
    assert_eq!(code, 0, "a warning, not a problem: {out}");
    assert!(
        out.contains("warning: metrics.addr: deprecated: write [admin] addr instead"),
        "{out}"
    );
}

#[test]
fn an_absurd_duration_is_a_problem_listed_by_check_not_a_panic() {
    let (code, out) = check(
        "[engine]\nurl = \"http://127.0.0.1:1/engine-rest\"\nlock_duration = \"99999999999999999999d\"\n",
    );
    assert_eq!(code, 2, "a listed problem, not a panic (101): {out}");
    assert!(out.contains("engine.lock_duration"), "{out}");
    assert!(out.contains("too long a duration"), "{out}");
}

#[test]
fn a_non_utf8_environment_variable_does_not_stop_any_command() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt as _;
    let dir = TempDir::new();
    let config = write(
        &dir,
        "worker.toml",
        "[engine]\nurl = \"http://127.0.0.1:1/engine-rest\"\n\n[[task_mappings]]\ntopic = \"double\"\ncallback = \"bptl_dummy::Double\"\n",
    );
    let not_utf8 = OsStr::from_bytes(b"caf\xe9");
    // A variable bptl does not read: ignored.
    let out = command(&["check", "--config", arg(&config)])
        .env("SOME_LEGACY_SETTING", not_utf8)
        .output()
        .expect("child runs");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    // One of bptl's own, unreadable: named as a problem.
    let out = command(&["check", "--config", arg(&config)])
        .env("BPTL_ENGINE_URL", not_utf8)
        .output()
        .expect("child runs");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("BPTL_ENGINE_URL: the value is not valid UTF-8"),
        "{text}"
    );
}

#[test]
fn check_lists_every_problem_and_run_refuses_to_start() {
    let dir = TempDir::new();
    let config = write(
        &dir,
        "worker.toml",
        r#"
[engine]
url = "http://127.0.0.1:1/engine-rest"

[[task_mappings]]
topic = "fetch"
callback = "bptl_dummy::fetch_json"

[[task_mappings]]
topic = "double"
callback = "bptl_dummy::double"

[[task_mappings]]
topic = "zaken"
callback = "bptl_dummy::fetch_json"
services = { api = "zaken-api" }

[services.zaken-api]
api_root = "https://zaken.example/api/v1"
api_type = "zrc"
auth = "zgw"
client_id = "bptl"
secret = ""
"#,
    );
    let (code, out) = run_cli(&["check", "--config", arg(&config)]);
    assert_eq!(code, 2, "{out}");
    for expected in [
        "Missing service alias 'api'",
        "the unit 'bptl_dummy::double' (topic 'double') is not in the registry. Did you mean 'bptl_dummy::Double'?",
        "zaken-api",
    ] {
        assert!(out.contains(expected), "'{expected}' missing from:\n{out}");
    }
    assert!(
        out.contains("secret"),
        "the empty ZGW secret is named: {out}"
    );

    let (code, out) = run_cli(&["run", "--config", arg(&config)]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("not starting"), "{out}");
    assert!(out.contains("Missing service alias 'api'"), "{out}");
}

/// A local API that records the headers it receives and answers with a fixed JSON document.
fn start_api() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let received = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0_u8; 8192];
            let n = stream.read(&mut buf).unwrap_or(0);
            seen.lock()
                .expect("lock")
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let body = r#"{"zaak":"Z-1","status":"open"}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, received)
}

const FETCH_BPMN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="bptl-tests">
  <bpmn:process id="fetch" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Fetch" />
    <bpmn:serviceTask id="Fetch" camunda:type="external" camunda:topic="fetch" />
    <bpmn:sequenceFlow id="F2" sourceRef="Fetch" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>"#;

fn read_all(child: &mut Child) -> String {
    let mut out = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut out);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_appear_in_any_output_of_a_run() {
    const SERVICE_KEY: &str = "svc-key-5d8a1e07c3";
    const APP_KEY: &str = "app-key-91bf62d4aa";
    const ENGINE_PASSWORD: &str = "engine-pw-0c7e44b129";

    let engine = DevEngine::start().await.expect("engine");
    engine.deploy_str("fetch.bpmn", FETCH_BPMN).expect("deploy");
    let (api, received) = start_api();
    let dir = TempDir::new();
    let key_file = write(&dir, "app-key", &format!("{APP_KEY}\n"));
    let config = write(
        &dir,
        "worker.toml",
        &format!(
            r#"
[engine]
url = "{url}"
max_tasks = 4
lock_duration = "1m"
async_response_timeout = "1s"

[engine.auth]
type = "basic"
username = "bptl"
password = {{ env = "BPTL_TEST_ENGINE_PASSWORD" }}

[store]
url = "sqlite://{db}"

[[task_mappings]]
topic = "fetch"
callback = "bptl_dummy::fetch_json"
services = {{ api = "things" }}

[services.things]
api_root = "{api}/api/"
api_type = "things"
auth = "api_key"
header = "X-Api-Key"
value = "{SERVICE_KEY}"

[apps."https://app.example"]
label = "The app"

[apps."https://app.example".credentials.things]
header = "X-Api-Key"
value = {{ file = "{key_file}" }}
"#,
            url = engine.url(),
            db = dir.0.join("bptl.db").display(),
            key_file = key_file.display(),
        ),
    );
    let as_app = engine
        .start_process(
            "fetch",
            json!({"bptlAppId": {"value": "https://app.example", "type": "String"},
                   "path": {"value": "things/1", "type": "String"}}),
            None,
        )
        .expect("start");
    let as_unknown_app = engine
        .start_process(
            "fetch",
            json!({"bptlAppId": {"value": "https://other.example", "type": "String"},
                   "path": {"value": "things/2", "type": "String"}}),
            None,
        )
        .expect("start");

    let mut child = command(&["run", "--config", arg(&config)])
        .env("RUST_LOG", "trace")
        .env("BPTL_TEST_ENGINE_PASSWORD", ENGINE_PASSWORD)
        .spawn()
        .expect("worker starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while [&as_app, &as_unknown_app]
        .iter()
        .any(|id| engine.instance_state(id) != Some(InstanceState::Completed))
    {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the worker exited early ({status}):\n{}",
                read_all(&mut child)
            );
        }
        assert!(Instant::now() < deadline, "the instances did not complete");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Stop it as an operator would: SIGINT (graceful), then read everything it printed.
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("output");
    let mut everything = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(0), "{everything}");
    assert!(everything.contains("2 completed"), "{everything}");

    // The credentials were really used: the app's key for the app, the service's otherwise.
    let requests = received.lock().expect("lock").join("\n");
    assert!(
        requests.contains(&format!("x-api-key: {APP_KEY}")),
        "{requests}"
    );
    assert!(
        requests.contains(&format!("x-api-key: {SERVICE_KEY}")),
        "{requests}"
    );

    // Everything the run left behind: logs at TRACE, the store file, the operator's view of
    // each record, and what the engine holds.
    everything.push_str(&String::from_utf8_lossy(
        &std::fs::read(dir.0.join("bptl.db")).unwrap_or_default(),
    ));
    for wal in ["bptl.db-wal", "bptl.db-shm"] {
        everything.push_str(&String::from_utf8_lossy(
            &std::fs::read(dir.0.join(wal)).unwrap_or_default(),
        ));
    }
    let (code, listing) = run_cli(&["tasks", "--config", arg(&config)]);
    assert_eq!(code, 0, "{listing}");
    let ids: Vec<&str> = listing
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .filter(|id| id.starts_with("camunda:"))
        .collect();
    assert_eq!(ids.len(), 2, "{listing}");
    for id in ids {
        let (code, shown) = run_cli(&["tasks", "show", id, "--config", arg(&config)]);
        assert_eq!(code, 0, "{shown}");
        assert!(
            shown.contains("X-Api-Key") || shown.contains("x-api-key"),
            "the request is on the timeline: {shown}"
        );
        everything.push_str(&shown);
    }
    for id in [&as_app, &as_unknown_app] {
        let vars = engine.history_variables(id).expect("history");
        assert_eq!(vars["response"]["type"], "Json", "{vars}");
        everything.push_str(&vars.to_string());
    }
    everything.push_str(&json!(engine.incidents(None)).to_string());
    for secret in [SERVICE_KEY, APP_KEY, ENGINE_PASSWORD] {
        assert!(
            !everything.contains(secret),
            "the secret {secret} leaked into the output of a run"
        );
    }
    engine.shutdown().await;
}

#[tokio::test]
async fn the_standalone_dev_engine_serves_the_deployed_files() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let bpmn = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/quickstart.bpmn");
    let mut child = command(&["dev-engine", "--port", &port.to_string(), "--bpmn", bpmn])
        .spawn()
        .expect("dev engine starts");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut banner = String::new();
    while !banner.contains("listening on") {
        let mut line = String::new();
        let read = std::io::BufRead::read_line(&mut stdout, &mut line).expect("read");
        assert!(read > 0, "the dev engine ended before listening: {banner}");
        banner.push_str(&line);
    }
    let base = format!("http://127.0.0.1:{port}/engine-rest");
    assert!(
        banner.contains(&format!("dev engine listening on {base}")),
        "{banner}"
    );
    assert!(
        banner.contains("deployed quickstart (version 1)"),
        "{banner}"
    );

    // reqwest needs a TLS crypto provider before its first client.
    bptl::credentials::install_crypto_provider();
    let http = reqwest::Client::new();
    let started: serde_json::Value = http
        .post(format!("{base}/process-definition/key/quickstart/start"))
        .json(&json!({"variables": {"amount": {"value": 4, "type": "Integer"}}}))
        .send()
        .await
        .expect("start")
        .json()
        .await
        .expect("json");
    assert!(started["id"].is_string(), "{started}");
    let tasks: serde_json::Value = http
        .post(format!("{base}/external-task/fetchAndLock"))
        .json(&json!({"workerId": "w", "maxTasks": 5,
                      "topics": [{"topicName": "double", "lockDuration": 10000}]}))
        .send()
        .await
        .expect("fetch")
        .json()
        .await
        .expect("json");
    assert_eq!(tasks.as_array().map(Vec::len), Some(1), "{tasks}");
    assert_eq!(tasks[0]["variables"]["amount"]["value"], 4);
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_serves_prometheus_metrics() {
    let engine = DevEngine::start().await.expect("engine");
    engine
        .deploy_str(
            "double.bpmn",
            &FETCH_BPMN.replace("\"fetch\"", "\"double\""),
        )
        .expect("deploy");
    let instances: Vec<String> = (1..=3)
        .map(|n| {
            engine
                .start_process(
                    "double",
                    json!({"amount": {"value": n, "type": "Integer"}}),
                    None,
                )
                .expect("start")
        })
        .collect();
    let dir = TempDir::new();
    let config = write(
        &dir,
        "worker.toml",
        &format!(
            "[engine]\nurl = \"{}\"\nasync_response_timeout = \"1s\"\n\n[store]\nenabled = false\n\n[[task_mappings]]\ntopic = \"double\"\ncallback = \"bptl_dummy::Double\"\n",
            engine.url()
        ),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = command(&["run", "--config", arg(&config), "--metrics-addr", &addr])
        .spawn()
        .expect("worker starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while instances
        .iter()
        .any(|id| engine.instance_state(id) != Some(InstanceState::Completed))
    {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the worker exited early ({status}):\n{}",
                read_all(&mut child)
            );
        }
        assert!(Instant::now() < deadline, "the instances did not complete");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The completion counter moves right after the engine's answer: poll briefly for it.
    let mut body = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    // reqwest needs a TLS crypto provider before its first client.
    bptl::credentials::install_crypto_provider();
    while !body.contains("bptl_tasks_completed_total{topic=\"double\"} 3") {
        assert!(Instant::now() < deadline, "no completion count in:\n{body}");
        body = match reqwest::get(format!("http://{addr}/metrics")).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        body.contains("bptl_tasks_fetched_total{topic=\"double\"} 3"),
        "{body}"
    );
    assert!(body.contains("bptl_unit_duration_seconds"), "{body}");
    assert!(body.contains("bptl_tasks_in_flight"), "{body}");
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert_eq!(status.code(), Some(0));
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_and_lock_saves_tasks_without_running_them() {
    let engine = DevEngine::start().await.expect("engine");
    engine
        .deploy_str(
            "double.bpmn",
            &FETCH_BPMN.replace("\"fetch\"", "\"double\""),
        )
        .expect("deploy");
    for n in 1..=3 {
        engine
            .start_process(
                "double",
                json!({"amount": {"value": n, "type": "Integer"}}),
                None,
            )
            .expect("start");
    }
    let dir = TempDir::new();
    let config = write(
        &dir,
        "worker.toml",
        &format!(
            "[engine]\nurl = \"{}\"\nworker_id = \"operator-1\"\n\n[store]\nurl = \"sqlite://{}\"\n\n[[task_mappings]]\ntopic = \"double\"\ncallback = \"bptl_dummy::Double\"\n",
            engine.url(),
            dir.0.join("bptl.db").display()
        ),
    );
    let (code, out) = run_cli(&["fetch-and-lock", "2", "--config", arg(&config)]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("2 task(s) saved with worker ID operator-1"),
        "{out}"
    );
    let locked: Vec<serde_json::Value> = engine
        .external_tasks(Some("double"))
        .into_iter()
        .filter(|t| t["workerId"] == "operator-1")
        .collect();
    assert_eq!(
        locked.len(),
        2,
        "two tasks locked by the operator's worker id"
    );
    let (code, listing) = run_cli(&["tasks", "--status", "initial", "--config", arg(&config)]);
    assert_eq!(code, 0, "{listing}");
    assert_eq!(listing.matches("operator-1").count(), 2, "{listing}");
    assert_eq!(engine.active_instance_count(), 3, "nothing ran");
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_task_spans_fields() {
    let engine = DevEngine::start().await.expect("engine");
    engine
        .deploy_str(
            "double.bpmn",
            &FETCH_BPMN.replace("\"fetch\"", "\"double\""),
        )
        .expect("deploy");
    let instance = engine
        .start_process(
            "double",
            json!({"amount": {"value": 4, "type": "Integer"}}),
            None,
        )
        .expect("start");
    let dir = TempDir::new();
    // `[log] format` in the file; BPTL_LOG_FORMAT overrides it.
    let config = write(
        &dir,
        "worker.toml",
        &format!(
            "[engine]\nurl = \"{}\"\nworker_id = \"json-worker\"\nasync_response_timeout = \"1s\"\n\n[store]\nenabled = false\n\n[log]\nformat = \"text\"\n\n[[task_mappings]]\ntopic = \"double\"\ncallback = \"bptl_dummy::Double\"\n",
            engine.url()
        ),
    );
    let mut child = command(&["run", "--config", arg(&config)])
        .env("BPTL_LOG_FORMAT", "json")
        .env("RUST_LOG", "info,bptl_core=debug")
        .spawn()
        .expect("worker starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while engine.instance_state(&instance) != Some(InstanceState::Completed) {
        assert!(Instant::now() < deadline, "the instance did not complete");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read");
    assert_eq!(child.wait().expect("wait").code(), Some(0), "{stderr}");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["message"] == "worker started"),
        "{stderr}"
    );
    let span = lines
        .iter()
        .find(|l| l["message"] == "completed")
        .map(|l| l["span"].clone())
        .unwrap_or_else(|| panic!("no 'completed' line in a task span: {stderr}"));
    assert_eq!(span["name"], "task", "{span}");
    assert_eq!(span["topic"], "double", "{span}");
    assert_eq!(span["process_instance_id"], instance.as_str(), "{span}");
    assert_eq!(span["worker_id"], "json-worker", "{span}");
    assert!(
        span["task_id"].as_str().is_some_and(|id| !id.is_empty()),
        "{span}"
    );
    let completed = lines
        .iter()
        .find(|l| l["message"] == "completed")
        .expect("completed");
    assert_eq!(completed["level"], "DEBUG");
    assert!(completed["timestamp"].is_string(), "{completed}");
    engine.shutdown().await;
}
