//! Schedules as a task source: real workers on a [`ScheduleEngine`] with real stores (SQLite
//! files, memory), real units, and the clock. Ticks run once each, on time; missed ticks are
//! caught up or skipped as configured; a restarted worker does not run a tick again; failures
//! retry per the mapping's policy; the configuration names the key of every problem.
#![allow(clippy::unwrap_used)]

#[path = "support/store_support.rs"]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_every_second_runs_once_a_second() {
    const N: usize = 5;
    let store: Arc<dyn TaskStore> = Arc::new(InMemoryStore::new());
    let started = Instant::now();
    let worker = start(
        vec![every_second("pulse", "pulse", "pulse")],
        vec![mapping("pulse", "record_tick", RetryPolicy::default())],
        Arc::clone(&store),
        None,
    );
    wait_until("five ticks ran", Duration::from_secs(15), || {
        runs("pulse").len() >= N
    })
    .await;
    let elapsed = started.elapsed();
    let stats = worker.stop().await;
    let ids = run_ids("pulse");
    // The first tick comes within a second of the start, then one a second.
    assert!(
        elapsed > Duration::from_millis(3900) && elapsed < Duration::from_secs(8),
        "{N} ticks took {elapsed:?}"
    );
    let ticks: Vec<Timestamp> = ids.iter().map(|id| tick(id)).collect();
    for pair in ticks.windows(2) {
        assert_eq!(
            pair[1].duration_since(pair[0]).as_secs(),
            1,
            "consecutive seconds, none skipped or twice: {ids:?}"
        );
    }
    assert!(ids.iter().all(|id| id.starts_with("pulse@")), "{ids:?}");
    assert!(stats.completed >= N as u64, "{stats:?}");
    let records = store
        .list(&TaskFilter::default().engine("schedule"))
        .await
        .unwrap();
    assert_eq!(
        records.len(),
        ids.len(),
        "one record per tick: {records:#?}"
    );
    for r in &records {
        assert_eq!(r.status, TaskStatus::Completed, "{r:?}");
        assert_eq!(r.executions, 1, "{r:?}");
        assert_eq!(r.topic, "pulse");
        assert_eq!(r.business_key.as_deref(), Some("pulse"));
        assert_eq!(r.result_variables, Some(variables! { "ran": true }));
    }
    let timeline = store.timeline(&records[0].key()).await.unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| e.message.contains("in_progress → performed")
                || e.message.contains("performed")),
        "the tick's timeline shows its run: {timeline:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_one_runs_the_latest_missed_tick_once_and_none_skips_it() {
    let store: Arc<dyn TaskStore> = Arc::new(InMemoryStore::new());
    let now = Timestamp::now();
    let make = |name: &str, catch_up: CatchUp| {
        Schedule::new(name, "* * * * *", name)
            .unwrap()
            .variables(variables! { "test": name })
            .catch_up(catch_up)
    };
    let one = make("catch-one", CatchUp::One);
    let none = make("catch-none", CatchUp::None);
    // Both last ran three minutes before the latest tick: three ticks passed unrun since.
    let latest = one.last_at_or_before(now).unwrap();
    let three_before = latest
        .checked_sub(jiff::SignedDuration::from_mins(3))
        .unwrap();
    for s in [&one, &none] {
        store
            .save(&recorded_tick(
                s.name(),
                s.topic(),
                three_before,
                TaskStatus::Completed,
                "w-old",
            ))
            .await
            .unwrap();
    }
    let started = Timestamp::now();
    let worker = start(
        vec![one.clone(), none.clone()],
        vec![
            mapping("catch-one", "record_tick", RetryPolicy::default()),
            mapping("catch-none", "record_tick", RetryPolicy::default()),
        ],
        Arc::clone(&store),
        None,
    );
    wait_until("the missed tick ran", Duration::from_secs(10), || {
        !runs("catch-one").is_empty()
    })
    .await;
    // Time for a wrong second catch-up tick, or one of the skipping schedule, to show up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    worker.stop().await;
    // Ticks after the start are regular ticks (a minute may turn meanwhile).
    let missed = |test: &str| -> Vec<String> {
        run_ids(test)
            .into_iter()
            .filter(|id| tick(id) <= started)
            .collect()
    };
    assert_eq!(
        missed("catch-one"),
        [format!("catch-one@{latest}")],
        "only the latest missed tick, once"
    );
    assert!(
        missed("catch-none").is_empty(),
        "{:?}",
        run_ids("catch-none")
    );
    let skipped = format!("catch-none@{latest}");
    assert!(
        store
            .get(&bptl::TaskKey::new("schedule", &skipped))
            .await
            .unwrap()
            .is_none(),
        "a skipped tick leaves no record"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_worker_does_not_run_a_tick_again() {
    let dir = TempDir::new();
    let schedule = every_second("restart", "restart", "restart");
    let mappings = || vec![mapping("restart", "record_tick", RetryPolicy::default())];
    let first = start(vec![schedule.clone()], mappings(), sqlite(&dir).await, None);
    wait_until("three ticks", Duration::from_secs(15), || {
        runs("restart").len() >= 3
    })
    .await;
    first.stop().await;
    let before = run_ids("restart");
    // A new process: a new store connection, a new worker id, catching up one tick.
    let store = sqlite(&dir).await;
    let second = start(vec![schedule], mappings(), Arc::clone(&store), None);
    wait_until("three more ticks", Duration::from_secs(15), || {
        runs("restart").len() >= before.len() + 3
    })
    .await;
    second.stop().await;
    let all = run_ids("restart");
    let mut counted: BTreeMap<&str, usize> = BTreeMap::new();
    for id in &all {
        *counted.entry(id).or_default() += 1;
    }
    assert!(
        counted.values().all(|n| *n == 1),
        "every tick ran once across the restart: {counted:?}"
    );
    let last_before = before.iter().map(|id| tick(id)).max().unwrap();
    assert!(
        all[before.len()..].iter().all(|id| tick(id) > last_before),
        "the restarted worker ran only later ticks: {all:?}"
    );
    let records = store
        .list(&TaskFilter::default().engine("schedule"))
        .await
        .unwrap();
    assert_eq!(records.len(), all.len(), "{records:#?}");
    assert!(
        records
            .iter()
            .all(|r| r.status == TaskStatus::Completed && r.executions == 1)
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_taken_but_never_started_runs_when_its_worker_restarts() {
    let dir = TempDir::new();
    let store = sqlite(&dir).await;
    // Yearly: the latest tick is this year's 1 January, the next one far away.
    let schedule = Schedule::new("yearly", "0 0 1 1 *", "yearly")
        .unwrap()
        .time_zone("UTC")
        .unwrap()
        .variables(variables! { "test": "resume" });
    let latest = schedule.last_at_or_before(Timestamp::now()).unwrap();
    // The worker "w-1" took the tick, then died before its unit started.
    store
        .save(&recorded_tick(
            "yearly",
            "yearly",
            latest,
            TaskStatus::Initial,
            "w-1",
        ))
        .await
        .unwrap();
    let worker = start(
        vec![schedule],
        vec![mapping("yearly", "record_tick", RetryPolicy::default())],
        Arc::clone(&store),
        Some("w-1"),
    );
    wait_until("the resumed tick ran", Duration::from_secs(10), || {
        !runs("resume").is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    worker.stop().await;
    assert_eq!(run_ids("resume"), [format!("yearly@{latest}")]);
    let record = store
        .get(&bptl::TaskKey::new("schedule", format!("yearly@{latest}")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, TaskStatus::Completed);
    assert_eq!(record.executions, 1);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_tick_retries_per_the_mappings_policy() {
    let store: Arc<dyn TaskStore> = Arc::new(InMemoryStore::new());
    // Yearly ticks with a recorded tick two years back: the latest tick is caught up at
    // once, and it is the only one in this test.
    let yearly = |name: &str, failures: i64| {
        Schedule::new(name, "0 0 1 1 *", name)
            .unwrap()
            .time_zone("UTC")
            .unwrap()
            .variables(variables! { "test": name, "failures": failures })
    };
    let recovers = yearly("recovers", 2);
    let gives_up = yearly("gives-up", 100);
    let long_ago = recovers
        .last_at_or_before(Timestamp::now())
        .unwrap()
        .checked_sub(jiff::SignedDuration::from_hours(2 * 366 * 24))
        .unwrap();
    for s in [&recovers, &gives_up] {
        store
            .save(&recorded_tick(
                s.name(),
                s.topic(),
                long_ago,
                TaskStatus::Completed,
                "w-old",
            ))
            .await
            .unwrap();
    }
    let policy = |retries| RetryPolicy {
        retries,
        retry_timeout: Duration::from_millis(400),
        ..RetryPolicy::default()
    };
    let worker = start(
        vec![recovers, gives_up],
        vec![
            mapping("recovers", "flaky", policy(3)),
            mapping("gives-up", "flaky", policy(2)),
        ],
        Arc::clone(&store),
        None,
    );
    wait_until("three runs and two", Duration::from_secs(15), || {
        runs("recovers").len() >= 3 && runs("gives-up").len() >= 2
    })
    .await;
    // A wrong further retry would come within the retry wait.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let stats = worker.stop().await;

    let recovered = runs("recovers");
    assert_eq!(
        recovered.len(),
        3,
        "two failures, then success: {recovered:?}"
    );
    for pair in recovered.windows(2) {
        assert_eq!(pair[0].0, pair[1].0, "the same tick each time");
        assert!(
            pair[1].1 - pair[0].1 >= Duration::from_millis(380),
            "the retry waited the policy's retry_timeout"
        );
    }
    let record = store
        .get(&bptl::TaskKey::new("schedule", &recovered[0].0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, TaskStatus::Completed, "{record:?}");
    assert_eq!(record.executions, 3);
    assert_eq!(record.result_variables, Some(variables! { "runs": 3 }));

    let gave_up = runs("gives-up");
    assert_eq!(
        gave_up.len(),
        2,
        "retries = 2: one retry, then over: {gave_up:?}"
    );
    let record = store
        .get(&bptl::TaskKey::new("schedule", &gave_up[0].0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, TaskStatus::Failed, "{record:?}");
    assert_eq!(record.executions, 2);
    let timeline = store.timeline(&record.key()).await.unwrap();
    assert!(
        timeline.iter().any(|e| e
            .message
            .starts_with("failure reported: run 2 fails on purpose (0 retries left")),
        "{timeline:#?}"
    );
    assert_eq!(stats.failed, 4, "{stats:?}");
    assert_eq!(stats.completed, 1, "{stats:?}");
}

const CONFIG: &str = r#"
[engine]
url = "http://127.0.0.1:8080/engine-rest"

[[task_mappings]]
topic = "report"
callback = "schedules::record_tick"
engine = "schedule"
"#;

fn problems(schedules: &str) -> Vec<String> {
    Config::from_toml_str(&format!("{CONFIG}\n{schedules}"), &|_| None)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn the_configuration_reads_schedules_and_names_the_key_of_every_problem() {
    let good = r#"
[[schedules]]
name = "nightly"
cron = "0 2 * * *"
timezone = "Europe/Amsterdam"
topic = "report"
variables = { format = "pdf", copies = 2, due = { type = "Date", value = "2027-01-01T00:00:00.000+0100" } }
catch_up = "none"
"#;
    let config = Config::from_toml_str(&format!("{CONFIG}\n{good}"), &|_| None).unwrap();
    let s = &config.schedules[0];
    assert_eq!(
        (s.name(), s.expression(), s.topic()),
        ("nightly", "0 2 * * *", "report")
    );
    assert_eq!(
        s.next_after("2026-12-02T14:00:00Z".parse().unwrap())
            .unwrap()
            .to_string(),
        "2026-12-03T01:00:00Z"
    );

    let shown = problems(
        r#"
[[schedules]]
name = "a"
cron = "0 2 * * *"
topic = "report"

[[schedules]]
name = "b"
cron = "0 61 * * *"
timezon = "UTC"
topic = "report"

[[schedules]]
name = "a"
cron = "0 2 * *"
timezone = "Mars/Olympus"
topic = "elsewhere"
catch_up = "all"
variables = { n = { type = "Integer", value = "many" } }
"#,
    );
    let has = |prefix: &str| {
        assert!(
            shown.iter().any(|p| p.starts_with(prefix)),
            "no '{prefix}' in {shown:#?}"
        );
    };
    has(
        "schedules[1].cron: '0 61 * * *' is not a cron expression (minute hour day-of-month month day-of-week): ",
    );
    has("schedules[1].timezon: unknown key; did you mean 'timezone'?");
    has("schedules[2].cron: '0 2 * *' has 4 field(s): write 5");
    has("schedules[2].topic: no [[task_mappings]] maps the topic 'elsewhere'");
    has("schedules[2].catch_up: 'all' is not a catch-up mode");
    has("schedules[2].variables.n: has type Integer but its value is a string");
    let shown = problems(
        "[[schedules]]\nname = \"a\"\ncron = \"0 2 * * *\"\ntopic = \"report\"\ntimezone = \"Mars/Olympus\"\n[[schedules]]\nname = \"a\"\ncron = \"0 3 * * *\"\ntopic = \"report\"\n",
    );
    assert!(
        shown
            .iter()
            .any(|p| p.starts_with("schedules[0].timezone: 'Mars/Olympus' is not a time zone")),
        "{shown:#?}"
    );
    let shown = problems(
        "[[schedules]]\nname = \"a\"\ncron = \"0 2 * * *\"\ntopic = \"report\"\n[[schedules]]\nname = \"a\"\ncron = \"0 3 * * *\"\ntopic = \"report\"\n",
    );
    assert_eq!(
        shown,
        [
            "schedules[1].name: the name 'a' is taken by schedules[0]: each schedule needs its own (its ticks are NAME@TIME)"
        ]
    );
}

#[test]
fn worker_check_refuses_a_bad_cron() {
    let dir = TempDir::new();
    let path = dir.0.join("bad.toml");
    std::fs::write(
        &path,
        format!(
            "{CONFIG}\n[[schedules]]\nname = \"a\"\ncron = \"every night\"\ntopic = \"report\"\n"
        ),
    )
    .unwrap();
    let code = bptl::cli::run_cli_code(["worker", "check", "--config", path.to_str().unwrap()]);
    assert_eq!(code, bptl::cli::EXIT_USAGE);
    let good = dir.0.join("good.toml");
    std::fs::write(
        &good,
        format!(
            "{CONFIG}\n[[schedules]]\nname = \"a\"\ncron = \"0 2 * * *\"\ntopic = \"report\"\n"
        ),
    )
    .unwrap();
    let code = bptl::cli::run_cli_code(["worker", "check", "--config", good.to_str().unwrap()]);
    assert_eq!(
        code,
        bptl::cli::EXIT_OK,
        "a schedule-only worker passes check"
    );
}
