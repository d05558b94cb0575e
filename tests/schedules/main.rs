//! Schedules as a task source: real workers on a [`ScheduleEngine`] with real stores (SQLite
//! files, memory), real units, and the clock. This file is the harness (the units, a worker in
//! the background, recorded ticks); the tests: `ticks` (a schedule every second runs once a
//! second, catch-up one and none), `restarts` (a restarted worker does not run a tick again,
//! resumes a tick taken but never started, and a failed tick's retries), `retries` (failures
//! retry per the mapping's policy), `config` (the configuration names the key of every
//! problem, `worker check`).
#![allow(clippy::unwrap_used)]

#[path = "../support/store_support.rs"]
mod store_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bptl::config::Config;
use bptl::prelude::*;
use bptl::runtime::{Worker, WorkerConfig, WorkerHandle, WorkerStats};
use bptl::schedule::{CatchUp, Schedule, ScheduleEngine};
use bptl::{
    InMemoryStore, InMemoryTask, Registry, RetryPolicy, TaskFilter, TaskMapping, TaskMappings,
    TaskRecord, TaskStatus, TaskStore,
};
use jiff::Timestamp;
use store_support::TempDir;
use tokio::task::JoinHandle;

/// Every run of a unit in this test binary: (the task's `test` variable, task id, when).
static RUNS: Mutex<Vec<(String, String, Instant)>> = Mutex::new(Vec::new());

fn note_run(task: &dyn BaseTask) -> Result<String, UnitError> {
    let test: String = check_variable_as(&task.get_variables()?, "test")?;
    RUNS.lock()
        .unwrap()
        .push((test.clone(), task.task_id().to_owned(), Instant::now()));
    Ok(test)
}

/// The runs of test `test`: task ids with when they ran, in order.
fn runs(test: &str) -> Vec<(String, Instant)> {
    RUNS.lock()
        .unwrap()
        .iter()
        .filter(|(t, _, _)| t == test)
        .map(|(_, id, at)| (id.clone(), *at))
        .collect()
}

fn run_ids(test: &str) -> Vec<String> {
    runs(test).into_iter().map(|(id, _)| id).collect()
}

/// Record the run; return `ran = true`.
#[register]
async fn record_tick(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    note_run(task)?;
    Ok(variables! { "ran": true })
}

/// Fail the first `failures` runs of each task, then succeed.
#[register]
async fn flaky(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let test = note_run(task)?;
    let failures: i64 = check_variable_as(&task.get_variables()?, "failures")?;
    let so_far = runs(&test)
        .iter()
        .filter(|(id, _)| id == task.task_id())
        .count();
    if i64::try_from(so_far).unwrap() <= failures {
        return Err(UnitError::failure(format!("run {so_far} fails on purpose")));
    }
    Ok(variables! { "runs": i64::try_from(so_far).unwrap() })
}

/// A worker on a schedule engine, running in the background.
struct Running {
    handle: WorkerHandle,
    engine: ScheduleEngine,
    join: JoinHandle<WorkerStats>,
}

impl Running {
    async fn stop(self) -> WorkerStats {
        self.engine.stop();
        self.handle.shutdown();
        tokio::time::timeout(Duration::from_secs(10), self.join)
            .await
            .expect("the worker stops within 10 s")
            .unwrap()
    }
}

fn mapping(topic: &str, unit: &str, retry: RetryPolicy) -> TaskMapping {
    TaskMapping::new(topic, format!("schedules::{unit}"))
        .engine("schedule")
        .retry(retry)
}

fn start(
    schedules: Vec<Schedule>,
    mappings: Vec<TaskMapping>,
    store: Arc<dyn TaskStore>,
    worker_id: Option<&str>,
) -> Running {
    let engine = ScheduleEngine::new(schedules, Arc::clone(&store));
    let worker = Worker::builder(engine.clone())
        .registry(Registry::global().unwrap().clone())
        .mappings(TaskMappings::new(mappings).unwrap())
        .config(WorkerConfig {
            worker_id: worker_id.map(str::to_owned),
            max_tasks: 4,
            async_response_timeout: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(2),
            ..WorkerConfig::default()
        })
        .store(store)
        .build()
        .unwrap();
    let handle = worker.handle();
    let join = tokio::spawn(worker.run(std::future::pending()));
    Running {
        handle,
        engine,
        join,
    }
}

async fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn every_second(name: &str, topic: &str, test: &str) -> Schedule {
    Schedule::new(name, "* * * * * *", topic)
        .unwrap()
        .variables(variables! { "test": test })
}

/// The tick instant of a task id `NAME@TIME`.
fn tick(id: &str) -> Timestamp {
    id.split_once('@').unwrap().1.parse().unwrap()
}

/// A record of a tick of `schedule` at `at`, as a worker leaves it (`status`, `worker_id`).
fn recorded_tick(
    schedule: &str,
    topic: &str,
    at: Timestamp,
    status: TaskStatus,
    worker_id: &str,
) -> TaskRecord {
    let task = InMemoryTask::new(topic, variables! {})
        .with_id(format!("{schedule}@{at}"))
        .into_ref();
    let mut record = TaskRecord::from_task(&*task, worker_id);
    record.engine = "schedule".to_owned();
    record.business_key = Some(schedule.to_owned());
    record.status = status;
    if status == TaskStatus::Completed {
        record.result_variables = Some(variables! { "ran": true });
    }
    record
}

async fn sqlite(dir: &TempDir) -> Arc<dyn TaskStore> {
    let url = format!("sqlite://{}", dir.0.join("ticks.db").display());
    bptl::sql_store::connect(&url).await.unwrap()
}

mod config;
mod restarts;
mod retries;
mod ticks;
