//! `worker run` serving the API from its configuration, and `check`'s messages.

use super::*;

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
