//! Failures: retries count down to an incident, setting retries again resumes the task, and
//! the retry timeouts (with backoff) are honoured by the engine.

use std::collections::{HashMap, HashSet};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use bptl::prelude::*;
use bptl::{RetryPolicy, TaskMapping, TaskMappings};
use reqwest::Method;
use serde_json::json;

use crate::support::*;

/// One run: when, and the retries the task had.
type Run = (Instant, Option<i32>);

/// Every run per process instance.
static RUNS: LazyLock<Mutex<HashMap<String, Vec<Run>>>> = LazyLock::new(Mutex::default);
/// Instances whose unit succeeds from now on.
static HEALED: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(Mutex::default);

fn runs(instance: &str) -> Vec<Run> {
    RUNS.lock()
        .unwrap()
        .get(instance)
        .cloned()
        .unwrap_or_default()
}

/// Fail until the instance is healed.
#[register]
async fn flaky(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let instance = task.process_instance_id().unwrap_or_default().to_owned();
    RUNS.lock()
        .unwrap()
        .entry(instance.clone())
        .or_default()
        .push((Instant::now(), task.retries()));
    if HEALED.lock().unwrap().contains(&instance) {
        return Ok(variables! { "healed": true });
    }
    Err(Failure::new("the service is down")
        .details("connect: connection refused\n  while calling the service")
        .into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_run_out_into_an_incident_and_new_retries_resume_the_task() {
    let Some(rig) = Rig::new() else { return };
    let key = rig.unique("retries");
    let topic = rig.unique("retries");
    rig.deploy(&process(&key, &[Task::new(&topic)], None)).await;
    let instance = rig.start(&key, Variables::new()).await;
    let policy = RetryPolicy {
        retries: 3,
        retry_timeout: Duration::from_millis(1000),
        backoff_factor: 2.0,
        max_retry_timeout: Duration::from_secs(60),
    };
    let worker = rig.spawn_worker(
        TaskMappings::new([TaskMapping::new(&topic, "real_engine::retries::flaky").retry(policy)])
            .unwrap(),
        config(),
        |b| b,
    );

    // Three runs: the task's retries go None → 2 → 1, then 0 and an incident.
    wait_until_async("an incident", Duration::from_secs(30), || async {
        !rig.incidents(&instance).await.is_empty()
    })
    .await;
    let seen = runs(&instance);
    let retries: Vec<Option<i32>> = seen.iter().map(|(_, r)| *r).collect();
    assert_eq!(retries, [None, Some(2), Some(1)], "{seen:?}");
    // The retry timeouts: 1 s, then 2 s (backoff 2.0); the engine hands the task out no
    // earlier, and soon after (the worker polls every second).
    let gaps: Vec<Duration> = seen.windows(2).map(|w| w[1].0 - w[0].0).collect();
    for (gap, timeout) in gaps.iter().zip([1000_u64, 2000]) {
        assert!(
            *gap >= Duration::from_millis(timeout - 50)
                && *gap < Duration::from_millis(timeout + 2500),
            "a retry {timeout} ms after a failure came after {gap:?} ({})",
            rig.name
        );
    }
    let incident = &rig.incidents(&instance).await[0];
    assert_eq!(incident["incidentType"], json!("failedExternalTask"));
    assert_eq!(incident["incidentMessage"], json!("the service is down"));
    let task = &rig.tasks_of(&instance).await[0];
    let task_id = task["id"].as_str().unwrap().to_owned();
    assert_eq!(incident["configuration"], json!(task_id));
    assert_eq!(task["retries"], json!(0));
    assert_eq!(task["errorMessage"], json!("the service is down"));
    let details = rig
        .client
        .get_error_details(&task_id)
        .await
        .unwrap()
        .unwrap();
    assert!(details.contains("connection refused"), "{details}");
    // Nothing runs while the incident is open.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(runs(&instance).len(), 3);

    // An operator fixes the cause and sets retries again: the task runs and completes, the
    // incident is resolved.
    HEALED.lock().unwrap().insert(instance.clone());
    let (status, body) = rig
        .call(
            Method::PUT,
            &format!("/external-task/{task_id}/retries"),
            Some(&json!({"retries": 1})),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    rig.wait_completed(std::slice::from_ref(&instance), Duration::from_secs(20))
        .await;
    let seen = runs(&instance);
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[3].1, Some(1), "the retries set by the operator");
    assert!(rig.incidents(&instance).await.is_empty());
    let stats = worker.stop().await;
    assert_eq!((stats.failed, stats.completed), (3, 1), "{stats:?}");
    assert_eq!(
        rig.history_typed(&instance).await["healed"]["value"],
        json!(true)
    );
}
