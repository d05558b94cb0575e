//! The operator commands (`tasks`, `tasks show`, `stats`, `prune`, `execute --task-id
//! [--force]`) over a real SQLite store, and `execute` against the dev engine over HTTP.
#![allow(clippy::unwrap_used)]

use bptl::ops;

#[path = "support/store_support.rs"]
mod store_support;

use std::sync::Arc;
use std::time::Duration;

use bptl::camunda::{CamundaClient, CamundaEngine};
use bptl::sql_store::SqliteStore;
use bptl_core::store::{TaskFilter, TaskRecord, TaskStore};
use bptl_core::{
    Engine, EventKind, Extensions, FetchRequest, InMemoryTask, Registry, TaskMapping, TaskMappings,
    TaskStatus, TimelineEntry, TopicRequest, variables,
};
use bptl_dev_engine::{DevEngine, InstanceState};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

fn text(out: Vec<u8>) -> String {
    String::from_utf8(out).unwrap()
}

async fn sqlite(dir: &store_support::TempDir) -> SqliteStore {
    SqliteStore::connect(&dir.sqlite_url("ops.db"))
        .await
        .unwrap()
}

#[tokio::test]
async fn tasks_lists_newest_first_with_filters_and_paging() {
    let dir = store_support::TempDir::new();
    let store = sqlite(&dir).await;
    let base = Timestamp::now() - SignedDuration::from_hours(1);
    for i in 0..5 {
        let task = InMemoryTask::new(if i < 3 { "double" } else { "echo" }, variables! {})
            .with_id(format!("task-{i}"));
        let mut r = TaskRecord::from_task(&task, "worker-1");
        r.created_at = base + SignedDuration::from_mins(i);
        r.status = if i == 1 {
            TaskStatus::Failed
        } else {
            TaskStatus::Completed
        };
        r.process_instance_id = Some(format!("pi-{i}"));
        store.save(&r).await.unwrap();
    }
    let mut out = Vec::new();
    ops::tasks(&store, &TaskFilter::default(), &mut out)
        .await
        .unwrap();
    let all = text(out);
    let lines: Vec<&str> = all.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("STATUS"),
        "{all}"
    );
    assert!(lines[1].starts_with("memory:task-4"), "newest first: {all}");
    assert!(lines[5].starts_with("memory:task-0"), "{all}");
    assert_eq!(lines[6], "5 task(s)");

    let mut out = Vec::new();
    ops::tasks(
        &store,
        &TaskFilter::default().topic("double").page(0, 2),
        &mut out,
    )
    .await
    .unwrap();
    let page = text(out);
    assert!(
        page.contains("task-2") && page.contains("task-1") && !page.contains("task-0"),
        "{page}"
    );
    assert!(page.contains("next page: --offset 2"), "{page}");

    let mut out = Vec::new();
    ops::tasks(
        &store,
        &TaskFilter::default().status(TaskStatus::Failed),
        &mut out,
    )
    .await
    .unwrap();
    let failed = text(out);
    assert!(
        failed.contains("memory:task-1") && failed.contains("failed"),
        "{failed}"
    );
    assert!(failed.ends_with("1 task(s)\n"), "{failed}");

    let mut out = Vec::new();
    ops::tasks(
        &store,
        &TaskFilter::default().process_instance("nope"),
        &mut out,
    )
    .await
    .unwrap();
    assert_eq!(text(out), "no stored tasks match\n");
}

#[tokio::test]
async fn show_prints_variables_results_errors_and_the_timeline() {
    let dir = store_support::TempDir::new();
    let store = sqlite(&dir).await;
    let task = InMemoryTask::new("double", variables! { "amount": 21 }).with_id("t-show");
    let mut r = TaskRecord::from_task(&task, "worker-7");
    r.status = TaskStatus::Failed;
    r.business_key = Some("BK-1".into());
    r.result_variables = Some(variables! { "doubled": 42 });
    r.execution_error = Some("the work unit failed: boom\ncaused by: io".into());
    r.engine_error = Some("HTTP 500: optimistic locking".into());
    store.save(&r).await.unwrap();
    store
        .append_timeline(
            &r.key(),
            &TimelineEntry {
                at: Timestamp::now(),
                kind: EventKind::Request,
                message: "GET https://zaken.example/api?… → 200".into(),
                data: json!({"status": 200}),
            },
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    ops::show(&store, "t-show", &mut out).await.unwrap();
    let shown = text(out);
    for needle in [
        "task            memory:t-show",
        "status          failed",
        "worker          worker-7",
        "business key    BK-1",
        "\"amount\"",
        "\"doubled\": 42",
        "caused by: io",
        "optimistic locking",
        "timeline (1 event(s)):",
        "request",
        "GET https://zaken.example/api?… → 200",
    ] {
        assert!(shown.contains(needle), "missing {needle:?} in:\n{shown}");
    }
    // ENGINE:ID works too; unknown ids say what to do.
    assert!(
        ops::show(&store, "memory:t-show", &mut Vec::new())
            .await
            .is_ok()
    );
    let err = ops::show(&store, "nope", &mut Vec::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no stored task 'nope'") && err.contains("`tasks`"),
        "{err}"
    );
}

#[tokio::test]
async fn stats_counts_per_topic_and_status_and_prune_deletes_old_completed() {
    let dir = store_support::TempDir::new();
    let store = sqlite(&dir).await;
    for (topic, status, n) in [
        ("double", TaskStatus::Completed, 3),
        ("double", TaskStatus::Failed, 1),
        ("echo", TaskStatus::InProgress, 2),
    ] {
        for _ in 0..n {
            let mut r = TaskRecord::from_task(&InMemoryTask::new(topic, variables! {}), "w");
            r.status = status;
            if status == TaskStatus::Completed {
                r.updated_at = Timestamp::now() - SignedDuration::from_hours(24 * 40);
            }
            store.save(&r).await.unwrap();
        }
    }
    let mut out = Vec::new();
    ops::stats(
        &store,
        Some(ops::since_age(Duration::from_secs(86_400)).unwrap()),
        &mut out,
    )
    .await
    .unwrap();
    let stats = text(out);
    let row = |name: &str| {
        stats
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row {name} in\n{stats}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    // TOPIC initial in_progress performed failed completed total
    assert_eq!(row("double")[1..], ["0", "0", "0", "1", "3", "4"]);
    assert_eq!(row("echo")[1..], ["0", "2", "0", "0", "0", "2"]);
    assert_eq!(row("(all")[2..], ["0", "2", "0", "1", "3", "6"]);

    let mut out = Vec::new();
    let n = ops::prune(&store, ops::parse_age("30d").unwrap(), &mut out)
        .await
        .unwrap();
    assert_eq!(n, 3);
    assert!(text(out).starts_with("3 completed task record(s)"));
    assert_eq!(store.list(&TaskFilter::default()).await.unwrap().len(), 3);
    assert!(ops::parse_age("30 parsecs").is_err());
}

fn mappings() -> TaskMappings {
    TaskMappings::new([TaskMapping::new("double", "bptl_dummy::Double")]).unwrap()
}

/// Deploy a one-task process on `double`, start an instance, and lock its task as `worker`;
/// returns (instance id, the fetched task's record).
async fn fetched_task(
    engine: &DevEngine,
    client: &CamundaEngine,
    worker: &str,
) -> (String, TaskRecord) {
    engine
        .deploy_str("ops.bpmn", &store_support::one_task_bpmn("ops", "double"))
        .unwrap();
    let instance = engine
        .start_process(
            "ops",
            json!({"amount": {"value": 21, "type": "Integer"}}),
            None,
        )
        .unwrap();
    let tasks = client
        .fetch_and_lock(&FetchRequest {
            worker_id: worker.into(),
            max_tasks: 1,
            use_priority: false,
            async_response_timeout: None,
            topics: vec![TopicRequest {
                topic: "double".into(),
                lock_duration: Duration::from_secs(60),
                variables: None,
                local_variables: false,
            }],
        })
        .await
        .unwrap();
    assert_eq!(tasks.len(), 1);
    (instance, TaskRecord::from_task(&*tasks[0], worker))
}

#[tokio::test]
async fn execute_force_reruns_a_failed_task_under_a_fresh_lock_and_completes_it() {
    let engine = DevEngine::start().await.unwrap();
    let client = CamundaEngine::new(CamundaClient::new(engine.url()).unwrap());
    let dir = store_support::TempDir::new();
    let store = sqlite(&dir).await;
    let (instance, mut record) = fetched_task(&engine, &client, "worker-1").await;
    record.status = TaskStatus::Failed;
    record.execution_error = Some("earlier failure".into());
    record.executions = 1;
    store.save(&record).await.unwrap();

    let options = ops::ExecuteOptions {
        id: record.task_id.clone(),
        force: true,
        worker_id: "operator".into(),
        lock_duration: Duration::from_secs(60),
    };
    let registry = Registry::global().unwrap();
    let mut out = Vec::new();
    let status = ops::execute(
        &store,
        &client,
        registry,
        &mappings(),
        Extensions::default(),
        &options,
        &mut out,
    )
    .await
    .unwrap();
    assert_eq!(status, TaskStatus::Completed);
    let said = text(out);
    assert!(
        said.contains("status reset to initial") && said.contains("completed"),
        "{said}"
    );
    store_support::wait_for(|| engine.instance_state(&instance) == Some(InstanceState::Completed))
        .await;
    let doubled = engine.history_variables(&instance).unwrap()["doubled"]["value"].clone();
    assert_eq!(doubled.as_f64(), Some(42.0));

    let stored = store.get(&record.key()).await.unwrap().unwrap();
    assert_eq!(stored.status, TaskStatus::Completed);
    assert_eq!(stored.executions, 2);
    assert_eq!(stored.worker_id, "operator");
    assert_eq!(stored.execution_error, None);
    assert!(stored.reported_at.is_some());
    let timeline = store.timeline(&record.key()).await.unwrap();
    let messages: Vec<&str> = timeline.iter().map(|e| e.message.as_str()).collect();
    assert!(
        messages[0].contains("releasing the lock another worker holds"),
        "{messages:?}"
    );
    assert!(
        messages[1].starts_with("execute --force: failed → initial"),
        "{messages:?}"
    );
    assert!(messages.contains(&"performed → completed"), "{messages:?}");
}

#[tokio::test]
async fn execute_without_force_runs_only_initial_or_failed_tasks_under_their_lock() {
    let engine = DevEngine::start().await.unwrap();
    let client = CamundaEngine::new(CamundaClient::new(engine.url()).unwrap());
    let dir = store_support::TempDir::new();
    let store: Arc<dyn TaskStore> = Arc::new(sqlite(&dir).await);
    let (instance, mut record) = fetched_task(&engine, &client, "worker-1").await;
    let registry = Registry::global().unwrap();
    let options = ops::ExecuteOptions {
        id: format!("camunda:{}", record.task_id),
        force: false,
        worker_id: "operator".into(),
        lock_duration: Duration::from_secs(60),
    };

    // Performed: refused, pointing at --force.
    record.status = TaskStatus::Performed;
    store.save(&record).await.unwrap();
    let err = ops::execute(
        &*store,
        &client,
        registry,
        &mappings(),
        Extensions::default(),
        &options,
        &mut Vec::new(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("is performed") && err.contains("--force"),
        "{err}"
    );

    // Initial (e.g. saved by `fetch-and-lock`): runs under the worker id holding the lock.
    record.status = TaskStatus::Initial;
    store.save(&record).await.unwrap();
    let status = ops::execute(
        &*store,
        &client,
        registry,
        &mappings(),
        Extensions::default(),
        &options,
        &mut Vec::new(),
    )
    .await
    .unwrap();
    assert_eq!(status, TaskStatus::Completed);
    store_support::wait_for(|| engine.instance_state(&instance) == Some(InstanceState::Completed))
        .await;
    let stored = store.get(&record.key()).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.executions, stored.worker_id.as_str()),
        (TaskStatus::Completed, 1, "worker-1")
    );
}

/// `worker prune --process-instance ID` as an operator runs it: the CLI against the store the
/// configuration names, holding the records of two instances of a process on the dev engine.
#[test]
fn prune_process_instance_on_the_command_line_erases_all_its_records() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = store_support::TempDir::new();
    let url = dir.sqlite_url("ops.db");
    let (engine, erased, kept) = rt.block_on(async {
        let engine = DevEngine::start().await.unwrap();
        let client = CamundaEngine::new(CamundaClient::new(engine.url()).unwrap());
        let store = SqliteStore::connect(&url).await.unwrap();
        let mut records = Vec::new();
        for _ in 0..2 {
            let (instance, record) = fetched_task(&engine, &client, "worker-1").await;
            assert_eq!(
                record.process_instance_id.as_deref(),
                Some(instance.as_str())
            );
            store.save(&record).await.unwrap();
            let note = TimelineEntry {
                at: Timestamp::now(),
                kind: EventKind::Note,
                message: "unit input".into(),
                data: json!({"amount": 21}),
            };
            store.append_timeline(&record.key(), &note).await.unwrap();
            records.push(record);
        }
        store.close().await;
        let kept = records.pop().unwrap();
        (engine, records.pop().unwrap(), kept)
    });
    let config = dir.0.join("worker.toml");
    std::fs::write(
        &config,
        format!(
            "[engine]\nurl = \"{}\"\n\n[[task_mappings]]\ntopic = \"double\"\ncallback = \"bptl_dummy::Double\"\n\n[store]\nurl = \"{url}\"\n",
            engine.url()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap().to_owned();
    let cli = |args: &[&str]| {
        bptl::cli::run_cli_code(
            ["worker", "prune"]
                .iter()
                .chain(args)
                .map(|s| (*s).to_owned()),
        )
    };
    let instance = erased.process_instance_id.clone().unwrap();
    assert_eq!(
        cli(&["--process-instance", &instance, "--config", &config]),
        0
    );
    // Neither an age nor an instance, or both: a usage error, nothing deleted.
    assert_eq!(cli(&["--config", &config]), 2);
    assert_eq!(
        cli(&[
            "--older-than",
            "1d",
            "--process-instance",
            "x",
            "--config",
            &config
        ]),
        2
    );
    rt.block_on(async {
        let store = SqliteStore::connect(&url).await.unwrap();
        assert_eq!(store.get(&erased.key()).await.unwrap(), None);
        assert!(store.timeline(&erased.key()).await.unwrap().is_empty());
        let listed = store
            .list(&TaskFilter::default().process_instance(instance.clone()))
            .await
            .unwrap();
        assert!(listed.is_empty(), "{listed:?}");
        // The other instance's record and timeline are untouched.
        assert_eq!(store.get(&kept.key()).await.unwrap().as_ref(), Some(&kept));
        assert_eq!(store.timeline(&kept.key()).await.unwrap().len(), 1);
        // Nothing else of the erased instance is left anywhere in the database file.
        let mentions: i64 = sqlx_count(&store, &instance).await;
        assert_eq!(mentions, 0);
        store.close().await;
    });
    drop(engine);
}

/// Rows of the store's tables whose text mentions `needle`.
async fn sqlx_count(store: &SqliteStore, needle: &str) -> i64 {
    let pattern = format!("%{needle}%");
    bptl::sql_store::sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM bptl_tasks WHERE process_instance_id LIKE $1 \
         OR variables LIKE $1) + (SELECT COUNT(*) FROM bptl_timeline WHERE message LIKE $1 \
         OR data LIKE $1)",
    )
    .bind(pattern)
    .fetch_one(store.pool())
    .await
    .unwrap()
}
