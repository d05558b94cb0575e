//! Failures: retries count down from the task's current retries to an incident; a missing
//! variable is an incident at once.
#![allow(clippy::unwrap_used)]

mod runtime_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bptl::prelude::*;
use bptl::{RetryPolicy, TaskMapping, TaskMappings, TaskStore};
use runtime_support::*;

static ATTEMPTS: AtomicUsize = AtomicUsize::new(0);
static NEEDY: AtomicUsize = AtomicUsize::new(0);

/// Always fail.
#[register]
async fn always_fails(_task: &dyn BaseTask) -> Result<Variables, UnitError> {
    ATTEMPTS.fetch_add(1, Ordering::SeqCst);
    Err(UnitError::from(std::io::Error::other(
        "the archive is offline\nsecond line",
    )))
}

/// Needs `amount`.
#[register]
async fn needs_amount(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    NEEDY.fetch_add(1, Ordering::SeqCst);
    let _amount: i64 = check_variable_as(&task.get_variables()?, "amount")?;
    Ok(variables! {})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_run_out_and_raise_an_incident() {
    let engine = engine().await;
    let failing = deploy_and_start(&engine, "f", &["fails"], 1, serde_json::json!({}));
    let missing = deploy_and_start(&engine, "m", &["needs"], 1, serde_json::json!({}));
    let policy = RetryPolicy {
        retries: 3,
        retry_timeout: Duration::from_millis(100),
        ..RetryPolicy::default()
    };
    let mappings = TaskMappings::new([
        TaskMapping::new("fails", "runtime_retries::always_fails").retry(policy.clone()),
        TaskMapping::new("needs", "runtime_retries::needs_amount").retry(policy),
    ])
    .unwrap();
    let worker = spawn_worker(&engine, mappings, config(), None, |b| b);
    wait_until("both incidents exist", Duration::from_secs(15), || {
        engine.incidents(Some(&failing[0])).len() == 1
            && engine.incidents(Some(&missing[0])).len() == 1
    })
    .await;
    // Give a wrongly refetched task the chance to show up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let store = std::sync::Arc::clone(&worker.store);
    let stats = worker.stop().await;

    // Each retry is recorded as a retry after a failure, not as an abandoned run.
    let records = store
        .list(&bptl::TaskFilter::default().topic("fails"))
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    let timeline = store.timeline(&records[0].key()).await.unwrap();
    let retries: Vec<&str> = timeline
        .iter()
        .filter(|e| e.message.starts_with("retry:"))
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(
        retries,
        [
            "retry: execution 1 of the unit failed; the engine handed the task out again (execution 2)",
            "retry: execution 2 of the unit failed; the engine handed the task out again (execution 3)",
        ],
        "{timeline:#?}"
    );
    assert!(
        !timeline.iter().any(|e| e.kind == bptl::EventKind::Recovery),
        "a retry is no recovery: {timeline:#?}"
    );

    assert_eq!(
        ATTEMPTS.load(Ordering::SeqCst),
        3,
        "3 retries: the unit ran 3 times, then an incident"
    );
    let incident = &engine.incidents(Some(&failing[0]))[0];
    assert_eq!(incident["incidentMessage"], "the archive is offline");
    let tasks = engine.external_tasks(Some("fails"));
    assert_eq!(tasks[0]["retries"], 0);

    assert_eq!(
        NEEDY.load(Ordering::SeqCst),
        1,
        "a missing variable is an incident at once"
    );
    let incident = &engine.incidents(Some(&missing[0]))[0];
    assert_eq!(
        incident["incidentMessage"],
        "The variable amount is missing or empty."
    );
    assert_eq!(stats.failed, 4);
    assert_eq!(
        engine.active_instance_count(),
        2,
        "instances with incidents stay active"
    );
}
