//! `dev-engine`: the standalone dev engine serving the deployed files.

use super::*;

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
