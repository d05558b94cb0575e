//! The SQLite store's intent log, tested with real processes that die abruptly: a write that
//! returned survives the crash of its process, and the next process to open the database
//! replays the log exactly (a damaged tail costs only the damaged write; the log of a process
//! that is still alive is left alone).
//!
//! **How the child process is started**: the test executable re-executes itself, running only
//! the ignored test [`child_process`] (`--exact --ignored`), with environment variables naming
//! the database, what to write and how to end: `std::process::abort()` (a crash: no
//! destructors, no write-through) or blocking until the parent SIGKILLs it. The child opens the
//! store with a write-through interval of an hour, so that nothing reaches SQLite before it
//! dies: what the parent finds afterwards comes from the log alone.
//!
//! The child writes the records as it read them back from its store (`{:?}`, every field) to a
//! report file, and the parent compares the records it reads after the replay with those.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use bptl_core::store::{Claim, TaskFilter, TaskKey, TaskRecord, TaskStore};
use bptl_core::{EventKind, InMemoryTask, TaskStatus, TimelineEntry, Variables, variables};
use bptl_store::rusqlite;
use bptl_store::{SqliteOptions, SqliteStore};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use support::TempDir;

/// What the child writes: `mixed` (many records in every status, timelines) or `performed`
/// (one performed task, one in progress).
const SCENARIO_ENV: &str = "BPTL_LOG_REPLAY_SCENARIO";
/// The store URL.
const URL_ENV: &str = "BPTL_LOG_REPLAY_URL";
/// Where the child writes the records it stored.
const REPORT_ENV: &str = "BPTL_LOG_REPLAY_REPORT";
/// How the child ends: `abort` or `block` (until killed).
const END_ENV: &str = "BPTL_LOG_REPLAY_END";
/// The line the child prints once every write returned and the report is written.
const READY: &str = "BPTL-LOG-REPLAY-CHILD-READY";

/// The database's file name in each test's directory.
const DB: &str = "bptl.db";
/// How many tasks the `mixed` scenario writes.
const TASKS: usize = 50;
/// The task whose write is the `mixed` scenario's last (a log write of its own, after the
/// timeline entries).
const LAST: usize = TASKS - 1;
/// The task the `mixed` scenario resets to `initial`.
const RESET: usize = 40;
/// How long a child may take to get ready (it does a few hundred writes).
const CHILD_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// What the child writes (deterministic, so that both processes know it).
// ---------------------------------------------------------------------------------------------

fn task_id(i: usize) -> String {
    format!("task-{i:03}")
}

fn key(i: usize) -> TaskKey {
    TaskKey::new("memory", task_id(i))
}

/// Instant `step` of task `i` (with nanoseconds, which the store must keep).
fn at(i: usize, step: i64) -> Timestamp {
    let i = i64::try_from(i).unwrap();
    Timestamp::from_second(1_750_000_000).unwrap()
        + SignedDuration::from_secs(i * 100 + step)
        + SignedDuration::from_nanos(i * 1_001 + step * 7)
}

/// Task `i` as the engine hands it out.
fn task(i: usize) -> InMemoryTask {
    let n = i64::try_from(i).unwrap();
    let topic = if i.is_multiple_of(2) {
        "double"
    } else {
        "triple"
    };
    let mut task = InMemoryTask::new(
        topic,
        variables! { "n": n, "label": format!("task {i}: ünïcödé \"quoted\"") },
    )
    .with_id(task_id(i));
    if i.is_multiple_of(3) {
        task.process_instance_id = Some(format!("pi-{}", i / 3));
        task = task.with_lock_expiry(at(i, 50));
    }
    if i.is_multiple_of(4) {
        task.retries = Some(3);
    }
    task
}

/// The record a worker builds for task `i` fetched at step `step`.
fn fetched(i: usize, worker: &str, step: i64) -> TaskRecord {
    let mut record = TaskRecord::from_task(&task(i), worker);
    record.created_at = at(i, step);
    record.updated_at = at(i, step);
    record
}

/// What the unit of task `i` returned.
fn result(i: usize) -> Variables {
    let n = i64::try_from(i).unwrap();
    variables! {
        "doubled": n * 2,
        "ratio": 0.5 + f64::from(u32::try_from(i).unwrap()),
        "ok": i.is_multiple_of(2),
        "note": format!("résultat {i}\nsecond line"),
        "details": json!({ "items": [i, i + 1], "nested": { "deep": null } }),
    }
}

/// The timeline entries the `mixed` scenario appends, per task (every fifth task has some).
fn timeline(i: usize) -> Vec<TimelineEntry> {
    if !i.is_multiple_of(5) {
        return Vec::new();
    }
    vec![
        TimelineEntry {
            at: at(i, 10),
            kind: EventKind::Status,
            message: format!("task {i} is running"),
            data: serde_json::Value::Null,
        },
        TimelineEntry {
            at: at(i, 11),
            kind: EventKind::Request,
            message: "POST https://example.invalid/api".to_owned(),
            data: json!({ "status": 201, "body": { "id": i, "text": "ünïcödé" } }),
        },
        TimelineEntry {
            at: at(i, 12),
            kind: EventKind::LockExtended,
            message: "lock extended".to_owned(),
            data: json!([1, 2, 3]),
        },
    ]
}

/// The extra entry appended on its own (with `append_timeline`) to task 1.
fn single_entry() -> TimelineEntry {
    TimelineEntry {
        at: at(1, 13),
        kind: EventKind::Note,
        message: "a note on its own".to_owned(),
        data: json!({ "alone": true }),
    }
}

/// Everything task `i`'s timeline holds after the `mixed` scenario.
fn expected_timeline(i: usize) -> Vec<TimelineEntry> {
    let mut entries = timeline(i);
    if i == 1 {
        entries.push(single_entry());
    }
    entries
}

// ---------------------------------------------------------------------------------------------
// The child process.
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "not a test: the child process the log replay tests start"]
fn child_process() {
    let Ok(scenario) = std::env::var(SCENARIO_ENV) else {
        return;
    };
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let (url, report_path, end) = (var(URL_ENV), var(REPORT_ENV), var(END_ENV));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The store stays alive until the process dies: dropping it would write through.
    let (_store, report) = runtime.block_on(async {
        let options = SqliteOptions::default().write_through_interval(Duration::from_secs(3600));
        let store = SqliteStore::connect_with(&url, options).await.unwrap();
        let report = match scenario.as_str() {
            "mixed" => mixed(&store).await,
            "performed" => performed(&store).await,
            other => panic!("unknown scenario {other}"),
        };
        (store, report)
    });
    std::fs::write(&report_path, report.to_text()).unwrap();
    let mut stdout = std::io::stdout();
    writeln!(stdout, "\n{READY}").unwrap();
    stdout.flush().unwrap();
    match end.as_str() {
        "abort" => std::process::abort(),
        "block" => {
            // Until the parent SIGKILLs us; abort (keeping the log) should it never do so.
            std::thread::sleep(Duration::from_secs(60));
            std::process::abort();
        }
        other => panic!("unknown end {other}"),
    }
}

/// Claim `record`, which the store must let run; returns the claimed record and the status it
/// had before.
async fn claim_run(store: &SqliteStore, record: &TaskRecord) -> (TaskRecord, Option<TaskStatus>) {
    match store.claim(record).await.unwrap() {
        Claim::Run { record, previous } => (record, previous),
        Claim::Performed(r) => panic!("{} should run, the store says performed: {r:?}", r.task_id),
    }
}

/// The `mixed` scenario: 50 tasks claimed (concurrently, so that several claims share a log
/// write), 30 performed, some of those completed (`save_behind`) or refused by the engine,
/// some failed, some claimed again, one reset, a stale save ignored, timelines appended, and a
/// last save on its own. Asserts the store's answers along the way; returns every record as the
/// store holds it.
async fn mixed(store: &SqliteStore) -> Report {
    let mut model: BTreeMap<usize, TaskRecord> = BTreeMap::new();

    // Claim all tasks, many at once.
    let mut claims = tokio::task::JoinSet::new();
    for i in 0..TASKS {
        let store = store.clone();
        claims.spawn(async move { (i, claim_run(&store, &fetched(i, "child-worker", 0)).await) });
    }
    while let Some(joined) = claims.join_next().await {
        let (i, (record, previous)) = joined.unwrap();
        let mut expected = fetched(i, "child-worker", 0);
        expected.status = TaskStatus::InProgress;
        expected.executions = 1;
        assert_eq!((&record, previous), (&expected, None), "claim of task {i}");
        model.insert(i, record);
    }

    // 30 performed, saved at once.
    let mut saves = tokio::task::JoinSet::new();
    for i in 0..30 {
        let mut record = model[&i].clone();
        record.status = TaskStatus::Performed;
        record.result_variables = Some(result(i));
        record.updated_at = at(i, 1);
        model.insert(i, record.clone());
        let store = store.clone();
        saves.spawn(async move { store.save(&record).await });
    }
    while let Some(joined) = saves.join_next().await {
        joined.unwrap().unwrap();
    }

    // 0..5 completed: the worker's last save, nobody waits for it (durable with the next
    // awaited write).
    for i in 0..5 {
        let record = model.get_mut(&i).unwrap();
        record.status = TaskStatus::Completed;
        record.reported_at = Some(at(i, 2));
        record.updated_at = at(i, 2);
        store.save_behind(record).await.unwrap();
    }
    // 5..10: the engine refused the completion.
    for i in 5..10 {
        let record = model.get_mut(&i).unwrap();
        record.engine_error = Some(format!("HTTP 500: {{\"message\":\"engine down {i}\"}}"));
        record.updated_at = at(i, 2);
        store.save(record).await.unwrap();
    }
    // 30..35: the unit failed.
    for i in 30..35 {
        let record = model.get_mut(&i).unwrap();
        record.status = TaskStatus::Failed;
        record.execution_error = Some(format!("unit failed: boom {i}\ncaused by: the cause"));
        record.updated_at = at(i, 1);
        store.save(record).await.unwrap();
    }
    // 35..38: claimed again (an earlier run was abandoned): a second execution.
    for i in 35..38 {
        let again = fetched(i, "child-worker-2", 3);
        let (record, previous) = claim_run(store, &again).await;
        let mut expected = again;
        expected.status = TaskStatus::InProgress;
        expected.executions = 2;
        expected.created_at = at(i, 0);
        assert_eq!(
            (&record, previous),
            (&expected, Some(TaskStatus::InProgress)),
            "second claim of task {i}"
        );
        model.insert(i, record);
    }
    // A stale save (the first run, after the second claim) changes nothing.
    {
        let mut stale = model[&36].clone();
        stale.executions = 1;
        stale.status = TaskStatus::Failed;
        stale.execution_error = Some("stale".to_owned());
        store.save(&stale).await.unwrap();
    }
    // A performed task claimed again is not run (and nothing is written).
    match store
        .claim(&fetched(12, "child-worker-3", 4))
        .await
        .unwrap()
    {
        Claim::Performed(record) => assert_eq!(record, model[&12], "claim of performed task 12"),
        other => panic!("task 12 is performed, the store says {other:?}"),
    }
    // One reset to `initial` (its time is the store's).
    assert!(
        store
            .reset_status(&key(RESET), TaskStatus::Initial)
            .await
            .unwrap()
    );
    assert!(
        !store
            .reset_status(&TaskKey::new("memory", "nobody"), TaskStatus::Initial)
            .await
            .unwrap()
    );
    {
        let reset = store.get(&key(RESET)).await.unwrap().unwrap();
        let mut expected = model[&RESET].clone();
        expected.status = TaskStatus::Initial;
        expected.updated_at = reset.updated_at;
        assert_eq!(reset, expected, "the reset record");
        assert!(reset.updated_at > at(RESET, 0), "{reset:?}");
        model.insert(RESET, reset);
    }

    // Timelines: one batch interleaving several tasks, and one entry on its own.
    let batch: Vec<(TaskKey, TimelineEntry)> = (0..3)
        .flat_map(|n| {
            (0..TASKS).filter_map(move |i| timeline(i).get(n).map(|e| (key(i), e.clone())))
        })
        .collect();
    store.append_timelines(&batch).await.unwrap();
    store
        .append_timeline(&key(1), &single_entry())
        .await
        .unwrap();

    // The last write, awaited (it takes the timeline entries into the log with it).
    let before_last = model[&LAST].clone();
    {
        let record = model.get_mut(&LAST).unwrap();
        record.status = TaskStatus::Performed;
        record.result_variables = Some(result(LAST));
        record.updated_at = at(LAST, 1);
        store.save(record).await.unwrap();
    }

    let mut report = Report {
        before_last: Some((task_id(LAST), format!("{before_last:?}"))),
        ..Report::default()
    };
    for (i, expected) in &model {
        let stored = store.get(&key(*i)).await.unwrap().unwrap();
        assert_eq!(&stored, expected, "task {i} as the child's store holds it");
        report.records.insert(task_id(*i), format!("{stored:?}"));
    }
    report
}

/// The `performed` scenario: `once-1` claimed and performed with a result, `once-2` claimed
/// (its unit still running when the process dies).
async fn performed(store: &SqliteStore) -> Report {
    let mut report = Report::default();
    let (mut record, _) = claim_run(store, &once(1, "child-worker")).await;
    record.status = TaskStatus::Performed;
    record.result_variables = Some(variables! { "doubled": 42, "by": "the child" });
    record.updated_at = Timestamp::now();
    store.save(&record).await.unwrap();
    let (running, _) = claim_run(store, &once(2, "child-worker")).await;
    for stored in [record, running] {
        assert_eq!(
            store.get(&stored.key()).await.unwrap().as_ref(),
            Some(&stored)
        );
        report
            .records
            .insert(stored.task_id.clone(), format!("{stored:?}"));
    }
    report
}

/// The record of task `once-{n}` fetched by `worker`.
fn once(n: usize, worker: &str) -> TaskRecord {
    TaskRecord::from_task(
        &InMemoryTask::new("once", variables! { "amount": 21 }).with_id(format!("once-{n}")),
        worker,
    )
}

/// What the child stored: each record's `{:?}` by task id, and (`mixed`) the last-written
/// record's state before its last write.
#[derive(Debug, Default)]
struct Report {
    records: BTreeMap<String, String>,
    before_last: Option<(String, String)>,
}

impl Report {
    fn to_text(&self) -> String {
        let mut text = String::new();
        for (id, record) in &self.records {
            text.push_str(&format!("record\t{id}\t{record}\n"));
        }
        if let Some((id, record)) = &self.before_last {
            text.push_str(&format!("before_last\t{id}\t{record}\n"));
        }
        text
    }

    fn parse(text: &str) -> Self {
        let mut report = Report::default();
        for line in text.lines() {
            let mut fields = line.splitn(3, '\t');
            let (Some(what), Some(id), Some(record)) =
                (fields.next(), fields.next(), fields.next())
            else {
                panic!("a report line without three fields: {line:?}");
            };
            match what {
                "record" => {
                    report.records.insert(id.to_owned(), record.to_owned());
                }
                "before_last" => report.before_last = Some((id.to_owned(), record.to_owned())),
                other => panic!("unknown report line kind {other:?}"),
            }
        }
        report
    }
}

// ---------------------------------------------------------------------------------------------
// The parent's side.
// ---------------------------------------------------------------------------------------------

/// How the child ends.
#[derive(Debug, Clone, Copy, PartialEq)]
enum End {
    /// `std::process::abort()` once ready.
    Abort,
    /// Block until killed.
    Block,
}

/// A child process; SIGKILLed when dropped (should a test fail half-way).
struct ChildRun {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    report: PathBuf,
    status: Option<ExitStatus>,
}

impl ChildRun {
    fn spawn(dir: &TempDir, scenario: &str, end: End) -> Self {
        let stdout = dir.0.join("child.stdout");
        let stderr = dir.0.join("child.stderr");
        let report = dir.0.join("child.report");
        let child = Command::new(std::env::current_exe().unwrap())
            .args([
                "child_process",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(SCENARIO_ENV, scenario)
            .env(URL_ENV, dir.sqlite_url(DB))
            .env(REPORT_ENV, &report)
            .env(
                END_ENV,
                match end {
                    End::Abort => "abort",
                    End::Block => "block",
                },
            )
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Self {
            child,
            stdout,
            stderr,
            report,
            status: None,
        }
    }

    /// The child's output so far, for failure messages.
    fn output(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "--- child exit: {:?}\n--- child stdout:\n{}\n--- child stderr:\n{}",
            self.status,
            read(&self.stdout),
            read(&self.stderr)
        )
    }

    fn is_ready(&self) -> bool {
        std::fs::read_to_string(&self.stdout).is_ok_and(|out| out.lines().any(|l| l == READY))
    }

    /// Wait until the child says it is ready (it keeps running).
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + CHILD_TIMEOUT;
        while !self.is_ready() {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.status = Some(status);
                panic!("the child exited before it was ready\n{}", self.output());
            }
            assert!(
                Instant::now() < deadline,
                "the child was not ready within {CHILD_TIMEOUT:?}\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Wait until the child has crashed (aborted) after it was ready.
    fn wait_crashed(&mut self) {
        let deadline = Instant::now() + CHILD_TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the child did not end within {CHILD_TIMEOUT:?}\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        self.status = Some(status);
        assert!(
            self.is_ready(),
            "the child ended before it was ready\n{}",
            self.output()
        );
        assert!(
            aborted(status),
            "the child did not abort\n{}",
            self.output()
        );
    }

    /// SIGKILL the child (which must still be running) and reap it.
    fn kill(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            self.status = Some(status);
            panic!(
                "the child should still be running before it is killed\n{}",
                self.output()
            );
        }
        self.child.kill().unwrap();
        self.status = Some(self.child.wait().unwrap());
    }

    /// What the child stored.
    fn report(&self) -> Report {
        let text = std::fs::read_to_string(&self.report).unwrap_or_else(|e| {
            panic!(
                "cannot read the child's report {}: {e}\n{}",
                self.report.display(),
                self.output()
            )
        });
        Report::parse(&text)
    }
}

impl Drop for ChildRun {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Whether the process ended with SIGABRT.
#[cfg(unix)]
fn aborted(status: ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt as _;
    status.signal() == Some(6)
}

/// Whether the process ended abnormally (Windows: `abort` exits with code 3).
#[cfg(not(unix))]
fn aborted(status: ExitStatus) -> bool {
    !status.success()
}

/// The store's files next to the database: log segments (by name: oldest first) and lock files.
fn store_files(dir: &TempDir) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let prefix = format!("{DB}-bptl-");
    let (mut logs, mut locks) = (Vec::new(), Vec::new());
    for entry in std::fs::read_dir(&dir.0).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with(&prefix) {
            continue;
        }
        if name.ends_with(".log") {
            logs.push(path);
        } else if name.ends_with(".lock") {
            locks.push(path);
        }
    }
    logs.sort();
    locks.sort();
    (logs, locks)
}

/// The child's log and lock files, which must exist while nobody has replayed its log.
fn child_files(dir: &TempDir, child: &ChildRun) -> Vec<PathBuf> {
    let (logs, locks) = store_files(dir);
    assert!(
        !logs.is_empty(),
        "the child's log file is missing\n{}",
        child.output()
    );
    assert_eq!(
        locks.len(),
        1,
        "one lock file, the child's: {locks:?}\n{}",
        child.output()
    );
    logs.into_iter().chain(locks).collect()
}

/// Records in `bptl_tasks` and entries in `bptl_timeline`, read with a connection of our own
/// (not the store).
fn rows_in_sqlite(dir: &TempDir) -> (i64, i64) {
    let conn = rusqlite::Connection::open(dir.0.join(DB)).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    (
        count("SELECT COUNT(*) FROM bptl_tasks"),
        // A timeline row holds one entry, and the ones after it in `entries` (a JSON array).
        count("SELECT COUNT(*) + COALESCE(SUM(json_array_length(entries)), 0) FROM bptl_timeline"),
    )
}

/// How many timeline entries the `mixed` scenario appends.
fn timeline_entries() -> i64 {
    i64::try_from(
        (0..TASKS)
            .map(|i| expected_timeline(i).len())
            .sum::<usize>(),
    )
    .unwrap()
}

/// Nothing of the child's writes is in SQLite: the table exists (the child migrated it) and is
/// empty.
fn assert_nothing_written_through(dir: &TempDir, child: &ChildRun) {
    assert_eq!(
        rows_in_sqlite(dir),
        (0, 0),
        "the child wrote through before it died; these tests need its writes in the log only\n{}",
        child.output()
    );
}

/// Start the `mixed` child, let it crash, check that its writes are in the log only; returns the
/// child and its log and lock files.
fn crashed_mixed_child(dir: &TempDir) -> (ChildRun, Vec<PathBuf>) {
    let mut child = ChildRun::spawn(dir, "mixed", End::Abort);
    child.wait_crashed();
    assert_nothing_written_through(dir, &child);
    let files = child_files(dir, &child);
    (child, files)
}

/// Every record the child stored is in `store` exactly (but `except`, checked by the caller),
/// and nothing else.
async fn assert_records(
    store: &SqliteStore,
    report: &Report,
    except: Option<&str>,
    child: &ChildRun,
) {
    for (id, expected) in &report.records {
        if Some(id.as_str()) == except {
            continue;
        }
        let stored = store
            .get(&TaskKey::new("memory", id.clone()))
            .await
            .unwrap();
        let stored = stored.map(|r| format!("{r:?}"));
        assert_eq!(
            stored.as_deref(),
            Some(expected.as_str()),
            "task {id} after the replay\n{}",
            child.output()
        );
    }
    let listed = store.list(&TaskFilter::default()).await.unwrap();
    let mut ids: Vec<&str> = listed.iter().map(|r| r.task_id.as_str()).collect();
    ids.sort_unstable();
    let expected: Vec<&str> = report.records.keys().map(String::as_str).collect();
    assert_eq!(ids, expected, "the records listed after the replay");
}

/// Every task's timeline is what the `mixed` scenario appended, in order.
async fn assert_timelines(store: &SqliteStore) {
    for i in 0..TASKS {
        assert_eq!(
            store.timeline(&key(i)).await.unwrap(),
            expected_timeline(i),
            "timeline of task {i} after the replay"
        );
    }
}

/// The child's files are gone (replayed and deleted); `store` (open) has its own lock file only.
fn assert_replayed_files_gone(files: &[PathBuf], dir: &TempDir) {
    for path in files {
        assert!(
            !path.exists(),
            "{} should be gone after the replay",
            path.display()
        );
    }
    let (logs, locks) = store_files(dir);
    assert!(logs.is_empty(), "log files left: {logs:?}");
    assert_eq!(locks.len(), 1, "only the open store's lock file: {locks:?}");
}

/// After closing every store, no log or lock file is left.
fn assert_no_store_files(dir: &TempDir) {
    let (logs, locks) = store_files(dir);
    assert!(
        logs.is_empty() && locks.is_empty(),
        "files left after close: {logs:?} {locks:?}"
    );
}

/// How many records of the `mixed` scenario are in each status (so that the report the
/// records are compared with is what the scenario meant to write).
fn statuses(report: &Report) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for record in report.records.values() {
        let status = TaskStatus::ALL
            .into_iter()
            .find(|s| record.contains(&format!("status: {s:?},")))
            .map_or("?", |s| s.as_str());
        *counts.entry(status).or_insert(0) += 1;
    }
    counts
}

/// Every record the child stored (a `mixed` report) as the scenario meant them.
fn assert_mixed_report(report: &Report, child: &ChildRun) {
    let expected = BTreeMap::from([
        ("completed", 5),
        ("performed", 25 + 1),
        ("failed", 5),
        ("in_progress", TASKS - 30 - 5 - 1 - 1),
        ("initial", 1),
    ]);
    assert_eq!(statuses(report), expected, "{}", child.output());
    assert_eq!(report.records.len(), TASKS, "{}", child.output());
    assert!(report.before_last.is_some(), "{}", child.output());
}

// ---------------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------------

/// Open the store (which replays the child's log) and check that everything the child stored is
/// back exactly: in SQLite itself right after `connect`, through the store, and that the
/// replayed log files are gone.
async fn replay_and_assert_exact(
    dir: &TempDir,
    report: &Report,
    files: &[PathBuf],
    child: &ChildRun,
) {
    let store = SqliteStore::connect(&dir.sqlite_url(DB)).await.unwrap();
    // Replayed into SQLite itself, in one go, before `connect` returned.
    assert_eq!(
        rows_in_sqlite(dir),
        (i64::try_from(TASKS).unwrap(), timeline_entries()),
        "rows in SQLite right after the replay\n{}",
        child.output()
    );
    assert_records(&store, report, None, child).await;
    assert_timelines(&store).await;
    assert_replayed_files_gone(files, dir);
    store.close().await;
    assert_no_store_files(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_a_crash_and_are_replayed_exactly() {
    let dir = TempDir::new();
    let (child, files) = crashed_mixed_child(&dir);
    let report = child.report();
    assert_mixed_report(&report, &child);

    replay_and_assert_exact(&dir, &report, &files, &child).await;

    // Replayed once: opening again finds the same, and nothing more.
    let store = SqliteStore::connect(&dir.sqlite_url(DB)).await.unwrap();
    assert_records(&store, &report, None, &child).await;
    assert_timelines(&store).await;
    store.close().await;
    assert_no_store_files(&dir);
}

/// How the parent damages the child's last log file.
#[derive(Debug, Clone, Copy)]
enum Damage {
    /// Cut the last `n` bytes (the last write was torn).
    Truncate(u64),
    /// Append a frame with a wrong checksum (the last write is whole).
    Garbage,
    /// Cut the last `n` bytes and append zeros (a file system that extended the file after the
    /// crash).
    TruncateThenZeros(u64),
    /// Flip a bit `n` bytes before the end (inside the last frame's `updated_at`: the frame
    /// still decodes, only its checksum tells).
    FlipBit(u64),
}

/// The `mixed` child crashes, the parent damages the end of its log, and a new store replays
/// what precedes the damage.
async fn replay_after_damage(damage: Damage) {
    let dir = TempDir::new();
    let (child, files) = crashed_mixed_child(&dir);
    let report = child.report();
    assert_mixed_report(&report, &child);
    let last = files
        .iter()
        .rfind(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap();
    let len = std::fs::metadata(last).unwrap().len();
    let file = std::fs::OpenOptions::new().append(true).open(last).unwrap();
    let torn = match damage {
        Damage::Truncate(n) => {
            file.set_len(len - n).unwrap();
            true
        }
        Damage::Garbage => {
            let payload = b"this is no frame";
            let mut garbage = u32::try_from(payload.len()).unwrap().to_le_bytes().to_vec();
            garbage.extend_from_slice(&0xDEAD_BEEF_u32.to_le_bytes());
            garbage.extend_from_slice(payload);
            (&file).write_all(&garbage).unwrap();
            false
        }
        Damage::TruncateThenZeros(n) => {
            file.set_len(len - n).unwrap();
            (&file).write_all(&[0; 4096]).unwrap();
            true
        }
        Damage::FlipBit(n) => {
            let mut bytes = std::fs::read(last).unwrap();
            let at = usize::try_from(len - n).unwrap();
            bytes[at] ^= 0x01;
            std::fs::write(last, bytes).unwrap();
            true
        }
    };
    drop(file);

    let store = SqliteStore::connect(&dir.sqlite_url(DB)).await.unwrap();
    let (last_id, before_last) = report.before_last.clone().unwrap();
    if torn {
        // Everything but the torn write, which leaves the record as it was before.
        assert_records(&store, &report, Some(&last_id), &child).await;
        let stored = store.get(&key(LAST)).await.unwrap().unwrap();
        assert_eq!(
            format!("{stored:?}"),
            before_last,
            "the record whose last write was torn ({damage:?})\n{}",
            child.output()
        );
        assert_eq!(stored.status, TaskStatus::InProgress);
    } else {
        assert_records(&store, &report, None, &child).await;
    }
    // The timeline entries were in the log before the last record frame.
    assert_timelines(&store).await;
    assert_replayed_files_gone(&files, &dir);

    // The store works normally: the last task is claimed again (run again when its last write
    // was torn, completed from its record otherwise), a new task is claimed, and both survive a
    // close.
    let last_now = if torn {
        let (again, previous) = claim_run(&store, &fetched(LAST, "parent-worker", 60)).await;
        assert_eq!(
            (previous, again.executions, again.created_at),
            (Some(TaskStatus::InProgress), 2, at(LAST, 0))
        );
        let mut performed = again;
        performed.status = TaskStatus::Performed;
        performed.result_variables = Some(result(LAST));
        store.save(&performed).await.unwrap();
        performed
    } else {
        match store
            .claim(&fetched(LAST, "parent-worker", 60))
            .await
            .unwrap()
        {
            Claim::Performed(record) => {
                assert_eq!(record.result_variables, Some(result(LAST)));
                record
            }
            other => panic!("task {LAST} was performed, yet the claim says {other:?}"),
        }
    };
    let (fresh, previous) = claim_run(&store, &fetched(TASKS + 1, "parent-worker", 0)).await;
    assert_eq!((previous, fresh.executions), (None, 1));
    store.close().await;
    assert_no_store_files(&dir);

    let store = SqliteStore::connect(&dir.sqlite_url(DB)).await.unwrap();
    assert_eq!(store.get(&key(LAST)).await.unwrap(), Some(last_now));
    assert_eq!(store.get(&fresh.key()).await.unwrap(), Some(fresh));
    assert_eq!(
        store.list(&TaskFilter::default()).await.unwrap().len(),
        TASKS + 1
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_tail_loses_only_the_torn_write() {
    replay_after_damage(Damage::Truncate(3)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_tail_followed_by_zeros_loses_only_the_torn_write() {
    replay_after_damage(Damage::TruncateThenZeros(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_bit_in_the_last_write_loses_only_that_write() {
    replay_after_damage(Damage::FlipBit(4)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_after_the_last_write_loses_nothing() {
    replay_after_damage(Damage::Garbage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_living_owners_log_is_left_alone_until_it_dies() {
    let dir = TempDir::new();
    let mut child = ChildRun::spawn(&dir, "mixed", End::Block);
    child.wait_ready();
    let report = child.report();
    assert_mixed_report(&report, &child);
    assert_nothing_written_through(&dir, &child);
    let files = child_files(&dir, &child);

    // A second store on the same file while the child lives: the child's log is not replayed,
    // nor deleted.
    let second = SqliteStore::connect(&dir.sqlite_url(DB)).await.unwrap();
    assert_eq!(
        second.get(&key(0)).await.unwrap(),
        None,
        "the living child's log was replayed\n{}",
        child.output()
    );
    assert!(
        second
            .list(&TaskFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(second.timeline(&key(0)).await.unwrap().is_empty());
    for path in &files {
        assert!(
            path.exists(),
            "{} of the living child was deleted\n{}",
            path.display(),
            child.output()
        );
    }
    assert_nothing_written_through(&dir, &child);
    second.close().await;
    // Closing the second store leaves the child's files alone too.
    for path in &files {
        assert!(path.exists(), "{} was deleted by a close", path.display());
    }

    // Now the child dies: the next store replays its log.
    child.kill();
    replay_and_assert_exact(&dir, &report, &files, &child).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_after_a_crash_are_decided_from_the_replayed_log() {
    let dir = TempDir::new();
    let mut child = ChildRun::spawn(&dir, "performed", End::Abort);
    child.wait_crashed();
    assert_nothing_written_through(&dir, &child);
    let files = child_files(&dir, &child);
    let report = child.report();
    assert_eq!(report.records.len(), 2, "{}", child.output());

    let store = SqliteStore::connect(&dir.sqlite_url(DB)).await.unwrap();
    assert_replayed_files_gone(&files, &dir);

    // The performed task, fetched again by another worker: completed from its record, not run.
    let performed = match store.claim(&once(1, "parent-worker")).await.unwrap() {
        Claim::Performed(record) => record,
        other => panic!(
            "once-1 was performed before the crash, yet the claim says {other:?}\n{}",
            child.output()
        ),
    };
    assert_eq!(
        format!("{performed:?}"),
        report.records["once-1"],
        "the record the claim decided on"
    );
    assert_eq!(performed.status, TaskStatus::Performed);
    assert_eq!(
        performed.result_variables,
        Some(variables! { "doubled": 42, "by": "the child" })
    );
    assert_eq!(performed.worker_id, "child-worker");
    // The claim wrote nothing.
    assert_eq!(
        store.get(&performed.key()).await.unwrap().as_ref(),
        Some(&performed)
    );

    // The task whose unit was running when the process died: run again, as its second
    // execution.
    let (again, previous) = claim_run(&store, &once(2, "parent-worker")).await;
    let before = report.records["once-2"].clone();
    assert_eq!(
        (previous, again.executions, again.worker_id.as_str()),
        (Some(TaskStatus::InProgress), 2, "parent-worker"),
        "the claim of the task in progress at the crash; it was {before}"
    );
    assert!(
        before.contains(&format!("created_at: {:?}", again.created_at)),
        "{before}"
    );
    store.close().await;

    // And so it stays.
    let store = SqliteStore::connect(&dir.sqlite_url(DB)).await.unwrap();
    assert!(matches!(
        store.claim(&once(1, "third-worker")).await.unwrap(),
        Claim::Performed(record) if record == performed
    ));
    store.close().await;
    assert_no_store_files(&dir);
}
