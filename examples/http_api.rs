//! The two task sources besides an engine, the HTTP work-unit API and a schedule:
//! `cargo run --example http_api`.
//!
//! Starts a worker whose task sources are the HTTP work-unit API (the same as `worker run`
//! with `[http_api] addr` set) and, beside it on the same store, a schedule ticking every two
//! seconds (`[[schedules]]`). Calls the API as an application would: a unit's result, the same
//! call repeated with its `Idempotency-Key` (answered from the store, the unit does not run
//! again), a BPMN error, a failure and a call without a token, printing each answer; then
//! waits for a few ticks and prints the records the schedule left in the store.

use std::sync::Arc;
use std::time::Duration;

use bptl::prelude::*;
use bptl::schedule::{Schedule, ScheduleEngine};
use bptl::sources::http_api::{ApiTokens, HttpApi};
use bptl::{InMemoryStore, Registry, TaskFilter, TaskMapping, TaskMappings, TaskStore, Worker};
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

/// Note the tick a schedule created.
///
/// **Sets the variables**
///
/// * `tickedAt`: when the unit ran
#[register]
async fn tick(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    println!("  (schedule) tick {} runs", task.task_id());
    Ok(variables! { "tickedAt": jiff::Timestamp::now().to_string() })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The application "https://app.example" calls with the token "example-token"; in a
    // configuration file: [apps."https://app.example"] api_token = { env = "APP_TOKEN" }.
    let api = HttpApi::new(
        ApiTokens::new([("https://app.example", "example-token")]),
        Duration::from_secs(10),
    );
    let store: Arc<dyn TaskStore> = Arc::new(InMemoryStore::new());
    let worker = Worker::builder(api.engine())
        .registry(Registry::global()?.clone())
        .mappings(TaskMappings::new([
            TaskMapping::new("greet", concat!(module_path!(), "::greet")).engine("http"),
            TaskMapping::new("tick", concat!(module_path!(), "::tick")).engine("schedule"),
        ])?)
        .store(Arc::clone(&store))
        .build()?;
    // The schedule: every two seconds (6 fields, seconds first), a task on "tick". Its worker
    // shares the API worker's registry, mappings, configuration and store, as in `worker run`.
    let every_two_seconds = Schedule::new("two-seconds", "*/2 * * * * *", "tick")?
        .variables(variables! { "source": "examples/http_api.rs" });
    let ticks = ScheduleEngine::new(vec![every_two_seconds], Arc::clone(&store));
    let ticker = Worker::builder(ticks.clone()).alongside(&worker).build()?;
    let ticker_handle = ticker.handle();
    let ticking = tokio::spawn(ticker.run(std::future::pending::<()>()));

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

    // A few ticks of the schedule, then its records (`worker tasks` shows the same).
    tokio::time::sleep(Duration::from_millis(4500)).await;
    ticks.stop();
    ticker_handle.shutdown();
    let ticked = ticking.await?;
    let records = store
        .list(&TaskFilter::default().engine("schedule"))
        .await?;
    println!("\nthe schedule's records:");
    for r in &records {
        println!("  schedule:{}  {}", r.task_id, r.status);
    }
    println!("schedule stopped: {} tick(s) completed", ticked.completed);

    handle.shutdown();
    let stats = running.await?;
    server.stop().await;
    println!(
        "API worker stopped: {} unit run(s): {} completed, {} failed, {} BPMN error(s)",
        stats.fetched, stats.completed, stats.failed, stats.bpmn_errors
    );
    Ok(())
}
