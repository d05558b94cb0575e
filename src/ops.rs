//! Operator commands over the task store: `tasks`, `tasks show ID`, `execute --task-id ID
//! [--force]`, `stats` and `prune --older-than AGE`.
//!
//! Each command is a function that writes plain-text tables to any [`Write`], so the CLI, a
//! test or your own tool can call it:
//!
//! ```
//! use bptl_core::store::{TaskFilter, TaskRecord, TaskStore};
//! use bptl_core::{variables, InMemoryStore, InMemoryTask};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let store = InMemoryStore::new();
//! let task = InMemoryTask::new("double", variables! { "amount": 21 }).with_id("t-1");
//! store.save(&TaskRecord::from_task(&task, "worker-1")).await.unwrap();
//!
//! let mut out = Vec::new();
//! bptl::ops::tasks(&store, &TaskFilter::default(), &mut out).await.unwrap();
//! let text = String::from_utf8(out).unwrap();
//! assert!(text.contains("t-1") && text.contains("double") && text.contains("initial"));
//! # }
//! ```

use std::io::Write;
use std::time::Duration;

use bptl_core::store::{StoreError, TaskFilter, TaskKey, TaskRecord, TaskStore};
use bptl_core::{
    Engine, EngineError, EventKind, ExecuteError, Extensions, Registry, TaskMappings, TaskRef,
    TaskRun, TaskStatus, Timeline, TimelineEntry, Variables, execute as execute_unit,
    execute::lock_expired,
};
use jiff::{SignedDuration, Timestamp};

/// An operator command failed; the message says what to do.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpsError {
    /// The store failed.
    Store(StoreError),
    /// No record has this id.
    NotFound(String),
    /// The stored task cannot be executed (again).
    NotExecutable(String),
    /// The engine refused a call.
    Engine {
        /// What was being done.
        what: String,
        /// The engine's error.
        source: EngineError,
    },
    /// The unit failed; the record says `failed` and holds the error.
    UnitFailed(String),
    /// Writing the output failed.
    Io(std::io::Error),
}

impl std::fmt::Display for OpsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpsError::Store(e) => write!(f, "{e}"),
            OpsError::NotFound(id) => write!(
                f,
                "no stored task '{id}': list the stored tasks with `tasks` (ids are shown as ENGINE:ID)"
            ),
            OpsError::NotExecutable(why) => f.write_str(why),
            OpsError::Engine { what, source } => write!(f, "{what}: {source}"),
            OpsError::UnitFailed(why) => write!(f, "the work unit failed: {why}"),
            OpsError::Io(e) => write!(f, "writing the output: {e}"),
        }
    }
}

impl std::error::Error for OpsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OpsError::Store(e) => Some(e),
            OpsError::Engine { source, .. } => Some(source),
            OpsError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StoreError> for OpsError {
    fn from(e: StoreError) -> Self {
        OpsError::Store(e)
    }
}

impl From<std::io::Error> for OpsError {
    fn from(e: std::io::Error) -> Self {
        OpsError::Io(e)
    }
}

/// The key a command-line task id means: `ENGINE:ID`, or `ID` of engine `default_engine`.
///
/// ```
/// use bptl::ops::task_key;
/// assert_eq!(task_key("camunda:abc", "memory").to_string(), "camunda:abc");
/// assert_eq!(task_key("abc", "camunda").to_string(), "camunda:abc");
/// ```
pub fn task_key(id: &str, default_engine: &str) -> TaskKey {
    match id.split_once(':') {
        Some((engine, task_id)) if !engine.is_empty() && !task_id.is_empty() => {
            TaskKey::new(engine, task_id)
        }
        _ => TaskKey::new(default_engine, id),
    }
}

/// Parse an age like `30d`, `12h`, `90m` (for `--older-than`, `--since` and `store.retention`).
pub fn parse_age(text: &str) -> Result<Duration, String> {
    bptl_core::duration::parse_duration(text).map_err(|e| e.to_string())
}

/// A filter for `tasks`: `since` given as an age (`24h`: created in the last 24 hours).
pub fn since_age(age: Duration) -> Result<Timestamp, String> {
    let age = SignedDuration::try_from(age).map_err(|e| format!("age {age:?}: {e}"))?;
    Ok(Timestamp::now().checked_sub(age).unwrap_or(Timestamp::MIN))
}

fn when(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

fn when_opt(at: Option<Timestamp>) -> String {
    at.map_or_else(|| "-".to_owned(), when)
}

/// Write rows as a left-aligned table with a header.
fn table(out: &mut impl Write, header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                text.push_str(cell);
                text.push_str(&" ".repeat(pad + 2));
            }
        }
        text.trim_end().to_owned()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

/// `tasks`: the records passing `filter`, newest first, one line each, and how to see the next
/// page.
pub async fn tasks(
    store: &dyn TaskStore,
    filter: &TaskFilter,
    out: &mut impl Write,
) -> Result<(), OpsError> {
    let records = store.list(filter).await?;
    if records.is_empty() {
        writeln!(out, "no stored tasks match")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                r.key().to_string(),
                r.topic.clone(),
                r.status.to_string(),
                r.executions.to_string(),
                r.process_instance_id.clone().unwrap_or_else(|| "-".into()),
                when(r.created_at),
                when(r.updated_at),
                r.worker_id.clone(),
            ]
        })
        .collect();
    table(
        out,
        &[
            "ID",
            "TOPIC",
            "STATUS",
            "RUNS",
            "PROCESS INSTANCE",
            "FETCHED (UTC)",
            "UPDATED (UTC)",
            "WORKER",
        ],
        &rows,
    )?;
    let shown = records.len();
    match filter.limit {
        Some(limit) if shown == limit => writeln!(
            out,
            "{shown} task(s) from #{}; next page: --offset {}",
            filter.offset + 1,
            filter.offset + shown
        )?,
        _ => writeln!(out, "{shown} task(s)")?,
    }
    Ok(())
}

/// Find the record `id` names (`ENGINE:ID`, or a bare id of any engine when unambiguous).
pub async fn find(store: &dyn TaskStore, id: &str) -> Result<TaskRecord, OpsError> {
    if let Some((engine, task_id)) = id.split_once(':')
        && !engine.is_empty()
        && let Some(record) = store.get(&TaskKey::new(engine, task_id)).await?
    {
        return Ok(record);
    }
    for engine in ["camunda", "memory"] {
        if let Some(record) = store.get(&TaskKey::new(engine, id)).await? {
            return Ok(record);
        }
    }
    Err(OpsError::NotFound(id.to_owned()))
}

fn pretty(json: &serde_json::Value) -> String {
    serde_json::to_string_pretty(json).unwrap_or_else(|_| json.to_string())
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// `tasks show ID`: everything about one task: fields, variables, results, errors, timeline.
pub async fn show(store: &dyn TaskStore, id: &str, out: &mut impl Write) -> Result<(), OpsError> {
    let r = find(store, id).await?;
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    writeln!(out, "task            {}", r.key())?;
    writeln!(out, "topic           {}", r.topic)?;
    writeln!(out, "status          {}", r.status)?;
    writeln!(out, "runs            {}", r.executions)?;
    writeln!(out, "worker          {}", r.worker_id)?;
    writeln!(out, "process         {}", opt(&r.process_instance_id))?;
    writeln!(out, "business key    {}", opt(&r.business_key))?;
    writeln!(out, "priority        {}", r.priority)?;
    writeln!(
        out,
        "retries         {}",
        r.retries.map_or("-".into(), |n| n.to_string())
    )?;
    writeln!(out, "lock expires    {}", when_opt(r.lock_expires_at))?;
    writeln!(out, "fetched         {}", when(r.created_at))?;
    writeln!(out, "updated         {}", when(r.updated_at))?;
    writeln!(out, "reported        {}", when_opt(r.reported_at))?;
    writeln!(out, "variables:")?;
    write!(out, "{}", indent(&pretty(&r.variables)))?;
    writeln!(out, "result variables:")?;
    match &r.result_variables {
        Some(vars) => write!(out, "{}", indent(&pretty(&vars.to_json())))?,
        None => writeln!(out, "    -")?,
    }
    if let Some(e) = &r.execution_error {
        writeln!(out, "execution error:")?;
        write!(out, "{}", indent(e))?;
    }
    if let Some(e) = &r.engine_error {
        writeln!(out, "engine error:")?;
        write!(out, "{}", indent(e))?;
    }
    let timeline = store.timeline(&r.key()).await?;
    writeln!(out, "timeline ({} event(s)):", timeline.len())?;
    for entry in timeline {
        writeln!(
            out,
            "    {}  {:<13} {}",
            when(entry.at),
            entry.kind.as_str(),
            entry.message
        )?;
        if !entry.data.is_null() {
            writeln!(out, "        {}", entry.data)?;
        }
    }
    Ok(())
}

/// `stats`: counts per topic and status of the records fetched since `since` (the CLI passes
/// the last 24 hours by default), with totals.
pub async fn stats(
    store: &dyn TaskStore,
    since: Option<Timestamp>,
    out: &mut impl Write,
) -> Result<(), OpsError> {
    let rows = store.stats(since).await?;
    match since {
        Some(at) => writeln!(out, "tasks fetched since {} UTC", when(at))?,
        None => writeln!(out, "all stored tasks")?,
    }
    if rows.is_empty() {
        writeln!(out, "no stored tasks")?;
        return Ok(());
    }
    let mut topics: Vec<String> = rows.iter().map(|r| r.topic.clone()).collect();
    topics.dedup();
    let count = |topic: Option<&str>, status: Option<TaskStatus>| -> u64 {
        rows.iter()
            .filter(|r| topic.is_none_or(|t| r.topic == t) && status.is_none_or(|s| r.status == s))
            .map(|r| r.count)
            .sum()
    };
    let mut header = vec!["TOPIC"];
    header.extend(TaskStatus::ALL.iter().map(TaskStatus::as_str));
    header.push("total");
    let mut table_rows: Vec<Vec<String>> = topics
        .iter()
        .map(|topic| {
            let mut row = vec![topic.clone()];
            row.extend(
                TaskStatus::ALL
                    .iter()
                    .map(|s| count(Some(topic), Some(*s)).to_string()),
            );
            row.push(count(Some(topic), None).to_string());
            row
        })
        .collect();
    let mut total = vec!["(all topics)".to_owned()];
    total.extend(
        TaskStatus::ALL
            .iter()
            .map(|s| count(None, Some(*s)).to_string()),
    );
    total.push(count(None, None).to_string());
    table_rows.push(total);
    table(out, &header, &table_rows)?;
    Ok(())
}

/// `prune --older-than AGE`: delete completed records (and timelines) last updated more than
/// `older_than` ago; returns how many.
pub async fn prune(
    store: &dyn TaskStore,
    older_than: Duration,
    out: &mut impl Write,
) -> Result<u64, OpsError> {
    let n = bptl_store::prune_older_than(store, older_than).await?;
    writeln!(
        out,
        "{n} completed task record(s) older than {} deleted",
        bptl_core::duration::format_duration(older_than)
    )?;
    Ok(n)
}

/// What `execute --task-id` does.
#[derive(Debug, Clone)]
pub struct ExecuteOptions {
    /// The task: `ENGINE:ID` or an id.
    pub id: String,
    /// `--force`: reset the status to `initial` and take a fresh lock with the engine's `lock`
    /// call, whatever the stored status; a lock another worker holds is released first (make
    /// sure that worker is gone, or its unit may run at the same time).
    pub force: bool,
    /// The worker id to lock with (`--force`) and to complete with.
    pub worker_id: String,
    /// How long the fresh lock lasts (`--force`).
    pub lock_duration: Duration,
}

/// `execute --task-id ID [--force]`: run a stored task's unit again through
/// [`execute`](bptl_core::execute), as BPTL does.
///
/// Without `--force` the stored task must be `initial` or `failed` and its lock still valid
/// (its unit then runs under the worker id that holds the lock). With `--force` the status is
/// reset to `initial` and a fresh lock is taken with the engine's `lock` call under
/// `options.worker_id`. On success the result is stored (`performed`) before the engine is
/// told, then the task is completed (`completed`); on failure the record says `failed` with the
/// error, and a lock taken by `--force` is released so that the worker picks the task up again.
/// Every step lands on the task's timeline. Returns the final status.
#[allow(clippy::too_many_arguments)]
pub async fn execute<E: Engine>(
    store: &dyn TaskStore,
    engine: &E,
    registry: &Registry,
    mappings: &TaskMappings,
    extensions: Extensions,
    options: &ExecuteOptions,
    out: &mut impl Write,
) -> Result<TaskStatus, OpsError> {
    let mut record = find(store, &options.id).await?;
    let key = record.key();
    if record.engine != engine.engine_type() {
        return Err(OpsError::NotExecutable(format!(
            "task {key} comes from engine type '{}', but this worker speaks to '{}'",
            record.engine,
            engine.engine_type()
        )));
    }
    let timeline = Timeline::new();
    let result = run_stored(
        store,
        engine,
        registry,
        mappings,
        extensions,
        options,
        &mut record,
        &timeline,
        out,
    )
    .await;
    // The timeline is written even when the run failed half-way.
    for entry in timeline.entries() {
        store.append_timeline(&key, &entry).await?;
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn run_stored<E: Engine>(
    store: &dyn TaskStore,
    engine: &E,
    registry: &Registry,
    mappings: &TaskMappings,
    extensions: Extensions,
    options: &ExecuteOptions,
    record: &mut TaskRecord,
    timeline: &Timeline,
    out: &mut impl Write,
) -> Result<TaskStatus, OpsError> {
    let key = record.key();
    if options.force {
        let locked = match engine
            .lock(&record.task_id, &options.worker_id, options.lock_duration)
            .await
        {
            Err(e) if e.kind == bptl_core::EngineErrorKind::LockedByOther => {
                // --force: take the task from the worker holding it (e.g. one that crashed).
                timeline.record(
                    EventKind::Note,
                    format!("execute --force: releasing the lock another worker holds ({e})"),
                    serde_json::Value::Null,
                );
                match engine.unlock(&record.task_id).await {
                    Ok(()) => {
                        engine
                            .lock(&record.task_id, &options.worker_id, options.lock_duration)
                            .await
                    }
                    Err(e) => Err(e),
                }
            }
            other => other,
        };
        locked.map_err(|source| OpsError::Engine {
            what: format!("locking task {key} (is it still open in the engine?)"),
            source,
        })?;
        let reset = record.reset();
        record.worker_id = options.worker_id.clone();
        record.lock_expires_at = SignedDuration::try_from(options.lock_duration)
            .ok()
            .and_then(|d| Timestamp::now().checked_add(d).ok());
        store.save(record).await?;
        timeline.record(
            EventKind::Note,
            format!("execute --force: {reset}; locked for {:?} under worker id {}", options.lock_duration, options.worker_id),
            serde_json::json!({ "from": reset.from.as_str(), "to": "initial", "workerId": options.worker_id }),
        );
        writeln!(
            out,
            "task {key}: status reset to initial, locked for {:?}",
            options.lock_duration
        )?;
    } else if !record.status.can_start() {
        return Err(OpsError::NotExecutable(format!(
            "task {key} is {}: only initial or failed tasks are executed; use --force to reset it and take a fresh lock",
            record.status
        )));
    }

    let task = task_from_record(record)?;
    if let Some(expired_at) = lock_expired(&*task) {
        // Checked before the record says `in_progress`: a unit that never starts counts no
        // execution.
        let err = ExecuteError::TaskExpired {
            task_id: record.task_id.clone(),
            expired_at,
        };
        return Err(OpsError::NotExecutable(format!(
            "{err}; use --force to take a fresh lock"
        )));
    }
    let mut run = TaskRun::new(task)
        .with_timeline(timeline.clone())
        .with_extensions(extensions)
        .with_status(record.status);
    // The run's own timeline says `initial → in_progress` once `execute` starts the unit.
    let _started = record
        .start()
        .map_err(|e| OpsError::NotExecutable(format!("task {key} cannot run: {e}")))?;
    store.save(record).await?;
    let result = execute_unit(&mut run, registry, mappings).await;
    match result {
        Ok(vars) => {
            let _ = record.perform(vars.clone());
            store.save(record).await?;
            writeln!(out, "task {key}: performed; completing it in the engine")?;
            complete(store, engine, record, &vars, timeline).await?;
            writeln!(out, "task {key}: completed")?;
            Ok(TaskStatus::Completed)
        }
        Err(err) => {
            let text = match &err {
                ExecuteError::Unit(unit) => unit.chain(),
                other => other.to_string(),
            };
            let _ = record.fail(text.clone());
            store.save(record).await?;
            if options.force {
                if let Err(e) = engine.unlock(&record.task_id).await {
                    timeline.record(
                        EventKind::EngineError,
                        format!("unlocking failed: {e}"),
                        serde_json::Value::Null,
                    );
                } else {
                    timeline.record(
                        EventKind::Note,
                        "unlocked so that the worker picks the task up again",
                        serde_json::Value::Null,
                    );
                }
            }
            Err(OpsError::UnitFailed(text))
        }
    }
}

async fn complete<E: Engine>(
    store: &dyn TaskStore,
    engine: &E,
    record: &mut TaskRecord,
    vars: &Variables,
    timeline: &Timeline,
) -> Result<(), OpsError> {
    match engine
        .complete(&record.task_id, &record.worker_id, vars)
        .await
    {
        Ok(()) => {
            let completed = record.complete();
            store.save(record).await?;
            if let Ok(transition) = completed {
                transition.record(timeline, None);
            }
            Ok(())
        }
        Err(source) => {
            record.engine_error = Some(source.to_string());
            record.updated_at = Timestamp::now();
            store.save(record).await?;
            timeline.record(
                EventKind::EngineError,
                format!("completing failed: {source}"),
                serde_json::Value::Null,
            );
            Err(OpsError::Engine {
                what: format!(
                    "completing task {} (the result is stored: the worker completes it from the record when the engine hands it out again)",
                    record.key()
                ),
                source,
            })
        }
    }
}

/// The task a stored record describes, for running its unit again.
fn task_from_record(record: &TaskRecord) -> Result<TaskRef, OpsError> {
    match record.engine.as_str() {
        "camunda" => {
            let json = serde_json::json!({
                "id": record.task_id,
                "topicName": record.topic,
                "workerId": record.worker_id,
                "processInstanceId": record.process_instance_id,
                "businessKey": record.business_key,
                "priority": record.priority,
                "retries": record.retries,
                "lockExpirationTime": record.lock_expires_at
                    .map(|at| bptl_core::value::DateValue::utc(at).to_camunda_string()),
                "variables": record.variables,
            });
            let task = bptl_camunda::ExternalTask::from_json(json).map_err(|e| {
                OpsError::NotExecutable(format!(
                    "the stored task {} cannot be read back: {e}",
                    record.key()
                ))
            })?;
            Ok(std::sync::Arc::new(task))
        }
        other => Err(OpsError::NotExecutable(format!(
            "stored tasks of engine type '{other}' cannot be executed from the command line"
        ))),
    }
}

/// The timeline entries of a task, for callers that format them themselves.
pub async fn timeline(store: &dyn TaskStore, id: &str) -> Result<Vec<TimelineEntry>, OpsError> {
    let record = find(store, id).await?;
    Ok(store.timeline(&record.key()).await?)
}
