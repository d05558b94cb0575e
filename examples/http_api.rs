//! The HTTP work-unit API: `cargo run --example http_api`.
//!
//! Starts a worker whose only task source is the HTTP work-unit API (the same as `worker run`
//! with `[http_api] addr` set), then calls it as an application would: a unit's result, the same
//! call repeated with its `Idempotency-Key` (answered from the store, the unit does not run
//! again), a BPMN error, a failure and a call without a token. Prints each answer.

use std::time::Duration;

use bptl::prelude::*;
use bptl::sources::http_api::{ApiTokens, HttpApi};
use bptl::{InMemoryStore, Registry, TaskMapping, TaskMappings, Worker};
use serde_json::json;

/// Greet someone on behalf of the calling application.
///
/// **Required variables**
///
/// * `name`: who to greet
/// * `bptlAppId`: the calling application (set by the API from the caller's token)
///
/// **Sets the variables**
///
/// * `greeting`: the greeting
///
/// **Raises the BPMN error**
///
/// * `NOBODY` when `name` is "nobody"
#[register]
async fn greet(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let vars = task.get_variables()?;
    let name: String = check_variable_as(&vars, "name")?;
    let app: String = check_variable_as(&vars, "bptlAppId")?;
    if name == "nobody" {
        return Err(UnitError::bpmn("NOBODY", "there is nobody to greet"));
    }
    Ok(variables! { "greeting": format!("Hello {name}, from {app}") })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The application "https://app.example" calls with the token "example-token"; in a
    // configuration file: [apps."https://app.example"] api_token = { env = "APP_TOKEN" }.
    let api = HttpApi::new(
        ApiTokens::new([("https://app.example", "example-token")]),
        Duration::from_secs(10),
    );
    let worker = Worker::builder(api.engine())
        .registry(Registry::global()?.clone())
        .mappings(TaskMappings::new([TaskMapping::new(
            "greet",
            concat!(module_path!(), "::greet"),
        )
        .engine("http")])?)
        .store(std::sync::Arc::new(InMemoryStore::new()))
        .build()?;
    let server = api.serve("127.0.0.1:0".parse()?, &worker).await?;
    let handle = worker.handle();
    let running = tokio::spawn(worker.run(std::future::pending::<()>()));
    let url = format!("http://{}/api/v1/work-unit", server.local_addr());
    println!("HTTP work-unit API at {url}\n");

    bptl::credentials::install_crypto_provider();
    let client = reqwest::Client::new();
    let calls = [
        (
            "a call",
            Some("example-token"),
            Some("greet-ada-1"),
            json!({ "topic": "greet", "vars": { "name": "Ada" } }),
        ),
        (
            "the same call again",
            Some("example-token"),
            Some("greet-ada-1"),
            json!({ "topic": "greet", "vars": { "name": "Ada" } }),
        ),
        (
            "a BPMN error",
            Some("example-token"),
            None,
            json!({ "topic": "greet", "vars": { "name": "nobody" } }),
        ),
        (
            "a failure (a variable is missing)",
            Some("example-token"),
            None,
            json!({ "topic": "greet", "vars": {} }),
        ),
        (
            "an unmapped topic",
            Some("example-token"),
            None,
            json!({ "topic": "wave", "vars": {} }),
        ),
        (
            "no token",
            None,
            None,
            json!({ "topic": "greet", "vars": { "name": "Eve" } }),
        ),
    ];
    for (what, token, key, body) in calls {
        let mut request = client.post(&url).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await?;
        let status = response.status();
        let replayed = response.headers().contains_key("idempotent-replayed");
        let answer: serde_json::Value = response.json().await?;
        println!(
            "{what}:\n  POST {body}\n  -> {status}{} {answer}\n",
            if replayed { " (replayed)" } else { "" }
        );
    }

    handle.shutdown();
    let stats = running.await?;
    server.stop().await;
    println!(
        "worker stopped: {} unit run(s): {} completed, {} failed, {} BPMN error(s)",
        stats.fetched, stats.completed, stats.failed, stats.bpmn_errors
    );
    Ok(())
}
