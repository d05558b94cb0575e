//! `run`: a full run whose every output is searched for secrets, the Prometheus metrics it
//! serves, its JSON logs.

use super::*;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_serves_prometheus_metrics() {
    let (engine, instances) = double_engine(3).await;
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
