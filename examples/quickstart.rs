//! The quickstart: `cargo run --example quickstart`.
//!
//! Starts the dev engine in-process, deploys `examples/quickstart.bpmn`, starts 25 process
//! instances and runs the worker until all of them have ended, showing progress, then prints a
//! summary. The process doubles an amount (`bptl_dummy::Double`), waits a moment
//! (`bptl_dummy::sleep`), checks a limit (the `check_limit` unit below: a BPMN error caught by a
//! boundary event when the doubled amount is over 40) and notifies (the `notify` unit below,
//! which fails on its first attempt for every fourth instance to show retries).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bptl::camunda::{CamundaClient, CamundaEngine};
use bptl::prelude::*;
use bptl::runtime::{Worker, WorkerConfig};
use bptl::{InMemoryStore, RetryPolicy, TaskFilter, TaskMapping, TaskMappings, TaskStore};
use bptl_dev_engine::DevEngine;
use serde_json::json;

const INSTANCES: i64 = 25;

/// Check that the doubled amount is within the limit.
///
/// **Required process variables**
///
/// * `doubled`: a number
///
/// **Raises the BPMN error**
///
/// * `LIMIT_EXCEEDED` when `doubled` is over 40
#[register]
async fn check_limit(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let doubled: f64 = check_variable_as(&task.get_variables()?, "doubled")?;
    if doubled > 40.0 {
        return Err(UnitError::bpmn(
            "LIMIT_EXCEEDED",
            format!("{doubled} is over the limit of 40"),
        ));
    }
    Ok(variables! { "withinLimit": true })
}

/// Notify someone; fails on the first attempt when the amount is a multiple of 4.
///
/// **Required process variables**
///
/// * `amount`: an integer
///
/// **Sets the process variables**
///
/// * `notified`: true
#[register]
async fn notify(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let amount: i64 = check_variable_as(&task.get_variables()?, "amount")?;
    if amount % 4 == 0 && task.retries().is_none() {
        return Err(Failure::new("the notification service is busy")
            .retry_timeout(Duration::from_millis(200))
            .into());
    }
    Ok(variables! { "notified": true })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let engine = DevEngine::start().await?;
    engine.deploy_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/quickstart.bpmn"
    ))?;
    println!("dev engine listening on {}", engine.url());

    let mut instances = Vec::new();
    for amount in 1..=INSTANCES {
        let wait_ms = 20 + (amount * 37) % 180;
        let id = engine.start_process(
            "quickstart",
            json!({
                "amount": { "value": amount, "type": "Integer" },
                "durationMs": { "value": wait_ms, "type": "Integer" },
            }),
            Some(&format!("order-{amount}")),
        )?;
        instances.push(id);
    }
    println!("started {INSTANCES} process instances of 'quickstart'");

    let retry = RetryPolicy {
        retries: 3,
        retry_timeout: Duration::from_millis(200),
        ..RetryPolicy::default()
    };
    let mappings = TaskMappings::new([
        TaskMapping::new("double", "bptl_dummy::Double"),
        TaskMapping::new("wait", "bptl_dummy::sleep"),
        TaskMapping::new("check-limit", "quickstart::check_limit"),
        TaskMapping::new("notify", "quickstart::notify").retry(retry),
        TaskMapping::new("reject", "bptl_dummy::echo"),
    ])?;
    let store = std::sync::Arc::new(InMemoryStore::new());
    let worker = Worker::builder(CamundaEngine::new(CamundaClient::new(engine.url())?))
        .registry(bptl::Registry::global()?.clone())
        .mappings(mappings)
        .store(store.clone())
        .config(WorkerConfig {
            max_tasks: 10,
            lock_duration: Duration::from_secs(30),
            async_response_timeout: Duration::from_secs(5),
            ..WorkerConfig::default()
        })
        .build()?;
    let handle = worker.handle();
    println!(
        "worker {} running with up to 10 tasks at once",
        handle.worker_id()
    );
    let running = tokio::spawn(worker.run(std::future::pending::<()>()));

    // Progress until every instance has ended.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let active = engine.active_instance_count();
        let s = handle.stats();
        println!(
            "  {:>2}/{INSTANCES} instances ended | tasks: {:>3} completed, {:>2} BPMN errors, {:>2} failures (retried), {:>2} running",
            INSTANCES as usize - active,
            s.completed,
            s.bpmn_errors,
            s.failed,
            s.in_flight
        );
        if active == 0 {
            break;
        }
        if Instant::now() > deadline {
            handle.shutdown();
            return Err(format!("{active} instance(s) still running after 60 s").into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    handle.shutdown();
    let stats = running.await?;

    // Summary.
    let rejected = instances
        .iter()
        .filter(|id| {
            engine
                .history_variables(id)
                .is_some_and(|v| v.get("rejectedCode").is_some())
        })
        .count();
    println!();
    println!(
        "{} instances completed ({} approved, {rejected} rejected through the LIMIT_EXCEEDED boundary event) in {:.2} s",
        instances.len(),
        instances.len() - rejected,
        started.elapsed().as_secs_f64()
    );
    println!(
        "{} tasks completed, {} BPMN errors, {} failures reported (and retried)",
        stats.completed, stats.bpmn_errors, stats.failed
    );
    println!();
    println!(
        "{:<12} {:<28} {:>9} {:>7} {:>10} {:>10}",
        "topic", "unit", "completed", "other", "avg ms", "max ms"
    );
    let records = store.list(&TaskFilter::default()).await?;
    let mut per_topic: BTreeMap<String, (usize, usize, Vec<f64>)> = BTreeMap::new();
    for r in &records {
        let entry = per_topic.entry(r.topic.clone()).or_default();
        if r.status == bptl::TaskStatus::Completed {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
        if let Some(done) = r.reported_at {
            entry
                .2
                .push(done.duration_since(r.created_at).as_secs_f64() * 1000.0);
        }
    }
    let units: BTreeMap<&str, &str> = [
        ("double", "bptl_dummy::Double"),
        ("wait", "bptl_dummy::sleep"),
        ("check-limit", "quickstart::check_limit"),
        ("notify", "quickstart::notify"),
        ("reject", "bptl_dummy::echo"),
    ]
    .into();
    for (topic, (completed, other, durations)) in &per_topic {
        let avg = durations.iter().sum::<f64>() / durations.len().max(1) as f64;
        let max = durations.iter().copied().fold(0.0, f64::max);
        println!(
            "{topic:<12} {:<28} {completed:>9} {other:>7} {avg:>10.1} {max:>10.1}",
            units.get(topic.as_str()).unwrap_or(&"?")
        );
    }
    println!(
        "(\"other\": BPMN errors and failed attempts; durations from fetch to the engine's answer)"
    );
    engine.shutdown().await;
    Ok(())
}
