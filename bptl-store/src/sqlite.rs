//! The SQLite store: one file (WAL mode), the default; served by one thread of its own.
//!
//! Every call becomes a job for the store's thread, which owns the connection. The thread takes
//! all jobs waiting, runs the writes among them (claims, saves, timeline entries) in **one
//! transaction** with prepared statements, commits, and only then answers their callers: a
//! burst of 64 concurrent tasks costs one commit, and no write is answered before it is
//! durable. Other calls (reads, pruning, status resets) run after that commit, each alone.

use std::panic::AssertUnwindSafe;
use std::sync::LazyLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bptl_core::store::{Claim, StatsRow, StoreError, TaskFilter, TaskKey, TaskRecord, TaskStore};
use bptl_core::{EventKind, TaskStatus, TimelineEntry};
use jiff::Timestamp;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};
use tokio::sync::oneshot;

use crate::ConnectError;
use crate::sql::{COLUMNS, Columns, TimelineRow, from_nanos, parse_json, parse_status};

/// How long a statement waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this many jobs are taken at once (and written in one transaction).
const MAX_BATCH: usize = 512;

/// How long timeline entries may wait for a claim or save to share a commit with.
const TIMELINE_DELAY: Duration = Duration::from_millis(20);

/// Pages the write-ahead log may grow to before it is copied into the database file (SQLite's
/// default is 1000): fewer, larger checkpoints write each often-changed page once for many
/// commits.
const WAL_AUTOCHECKPOINT: i64 = 4000;

/// A schema migration, embedded at compile time and applied on open.
struct Migration {
    version: i64,
    description: &'static str,
    sql: &'static str,
}

/// The SQLite schema's migrations, oldest first (`migrations/sqlite/`).
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "task records",
        sql: include_str!("../migrations/sqlite/0001_task_records.sql"),
    },
    Migration {
        version: 2,
        description: "lean writes",
        sql: include_str!("../migrations/sqlite/0002_lean_writes.sql"),
    },
];

/// Task records in a SQLite file: the default store (`sqlite://bptl.db`).
///
/// Opened in WAL mode with `synchronous = NORMAL` and a 10 s busy timeout: readers never block
/// the writer, every committed write survives a crash of the worker process (SIGKILL, panic,
/// OOM kill); only a power loss or an operating system crash may lose the last commits. The
/// file is created if missing, and the schema migrations are applied on open (versioned in the
/// `bptl_schema_migrations` table).
///
/// One thread of the store's own serves every call (SQLite has one writer at a time): it commits
/// all writes waiting together, so concurrent tasks share commits. Cloning the store is cheap
/// and shares that thread; it stops when the last clone is dropped or [`close`](Self::close) is
/// called.
///
/// ```
/// use bptl_core::store::{TaskRecord, TaskStore};
/// use bptl_core::{variables, InMemoryTask};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = bptl_store::SqliteStore::connect("sqlite::memory:").await.unwrap();
/// let task = InMemoryTask::new("double", variables! { "amount": 21 });
/// let record = TaskRecord::from_task(&task, "worker-1");
/// store.save(&record).await.unwrap();
/// assert_eq!(store.get(&record.key()).await.unwrap(), Some(record));
/// # }
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
    url: std::sync::Arc<str>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Where a job's outcome goes.
type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// Work for the store's thread.
enum Job {
    /// Upsert a record.
    Save(Box<Columns>, Reply<()>),
    /// Claim a record: the fresh `in_progress` record and its columns.
    Claim(Box<(TaskRecord, Columns)>, Reply<Claim>),
    /// Append timeline entries.
    Timeline(Vec<TimelineRow>, Reply<()>),
    /// Anything else, run alone on the connection after the batch's writes (it answers itself).
    Run(Box<dyn FnOnce(&mut Connection) + Send>),
    /// Stop: close the connection, then answer.
    Close(oneshot::Sender<()>),
}

/// Where a URL points.
enum Location {
    Memory,
    File(std::path::PathBuf),
}

/// `sqlite://PATH`, `sqlite:PATH`, `sqlite::memory:` (with an optional `?mode=memory`).
fn parse_url(url: &str) -> Result<Location, ConnectError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| {
            ConnectError::invalid_url(url, "a SQLite URL starts with sqlite:".to_owned())
        })?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut memory = path == ":memory:";
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("mode", "memory")) => memory = true,
            Some(("mode", "rwc")) => {}
            _ => {
                return Err(ConnectError::invalid_url(
                    url,
                    format!(
                        "unknown parameter '{pair}' (a SQLite store URL takes none, or mode=memory)"
                    ),
                ));
            }
        }
    }
    if memory {
        return Ok(Location::Memory);
    }
    if path.is_empty() {
        return Err(ConnectError::invalid_url(
            url,
            "no file path (e.g. sqlite://bptl.db)".to_owned(),
        ));
    }
    Ok(Location::File(path.into()))
}

impl SqliteStore {
    /// Open (creating if needed) the database at `url` — `sqlite://PATH` (relative to the
    /// working directory; `sqlite:///abs/path` for an absolute one), `sqlite:PATH` or
    /// `sqlite::memory:` — and apply the migrations.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        let location = parse_url(url)?;
        let (jobs, queue) = mpsc::channel();
        let (ready_tx, ready) = oneshot::channel();
        let owned_url = url.to_owned();
        std::thread::Builder::new()
            .name("bptl-sqlite".to_owned())
            .spawn(move || match open(&location, &owned_url) {
                Ok(conn) => {
                    if ready_tx.send(Ok(())).is_ok() {
                        serve(conn, queue);
                    }
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|e| ConnectError::open(url, e))?;
        ready.await.map_err(|_| {
            ConnectError::open(url, "the store's thread stopped while opening the database")
        })??;
        Ok(Self {
            jobs,
            url: crate::redact_url(url).into(),
        })
    }

    /// Open (creating if needed) the database file at `path` and apply the migrations.
    pub async fn open(path: impl AsRef<std::path::Path>) -> Result<Self, ConnectError> {
        Self::connect(&format!("sqlite://{}", path.as_ref().display())).await
    }

    /// The schema versions this build knows (the migrations it embeds), oldest first.
    pub fn schema_versions() -> Vec<i64> {
        MIGRATIONS.iter().map(|m| m.version).collect()
    }

    /// Run `f` on the store's connection (on its thread, between batches), e.g. for reporting
    /// queries of your own or test set-up. Keep it short: the worker's writes wait meanwhile.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let store = bptl_store::SqliteStore::connect("sqlite::memory:").await.unwrap();
    /// let n: i64 = store
    ///     .with_connection(|conn| conn.query_row("SELECT COUNT(*) FROM bptl_tasks", [], |r| r.get(0)))
    ///     .await
    ///     .unwrap();
    /// assert_eq!(n, 0);
    /// # }
    /// ```
    pub async fn with_connection<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.run("running a query", move |conn| {
            f(conn).map_err(|e| db_error("running a query", e))
        })
        .await
    }

    /// Stop the store's thread and close the database (checkpointing the WAL). Calls made
    /// afterwards, through any clone, fail with a message saying the store is closed.
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.jobs.send(Job::Close(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// Send `job` to the store's thread and wait for its answer.
    async fn call<T>(
        &self,
        what: &str,
        job: impl FnOnce(Reply<T>) -> Job,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.jobs.send(job(tx)).map_err(|_| {
            StoreError::new(format!("{what}: the SQLite store {} is closed", self.url))
        })?;
        rx.await.map_err(|_| {
            StoreError::new(format!(
                "{what}: the SQLite store {} stopped before answering (it was closed, or the call panicked)",
                self.url
            ))
        })?
    }

    /// Run `f` on the connection, alone (see [`Job::Run`]).
    async fn run<T, F>(&self, what: &str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.call(what, |reply| {
            Job::Run(Box::new(move |conn: &mut Connection| {
                let _ = reply.send(f(conn));
            }))
        })
        .await
    }
}

/// A SQLite error as a [`StoreError`] naming the operation.
fn db_error(operation: &str, err: rusqlite::Error) -> StoreError {
    StoreError::new(format!("{operation}: {err}"))
}

/// Whether `err` says another connection holds a lock.
fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Open the database, set it up and migrate it.
fn open(location: &Location, url: &str) -> Result<Connection, ConnectError> {
    let conn = match location {
        Location::Memory => Connection::open_in_memory(),
        Location::File(path) => Connection::open(path),
    }
    .map_err(|e| ConnectError::open(url, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| ConnectError::open(url, e))?;
    conn.set_prepared_statement_cache_capacity(32);
    if let Location::File(_) = location {
        // Switching a new file to WAL needs a moment of exclusive access, for which SQLite does
        // not wait: when another process opens the same new file at that moment, try again.
        let mut attempt = 1;
        loop {
            match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
                Ok(_) => break,
                Err(e) if attempt < 10 && is_busy(&e) => {
                    std::thread::sleep(Duration::from_millis(20 * attempt));
                    attempt += 1;
                }
                Err(e) => return Err(ConnectError::open(url, e)),
            }
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| ConnectError::open(url, e))?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT)
            .map_err(|e| ConnectError::open(url, e))?;
    }
    migrate(&conn).map_err(|e| ConnectError::migrate(url, e))?;
    Ok(conn)
}

/// Apply the migrations not applied yet, in one transaction that holds the write lock (so that
/// processes opening a new database at once apply each migration once).
fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let err = |e| db_error("applying migrations", e);
    conn.execute_batch("BEGIN IMMEDIATE").map_err(err)?;
    let result = (|| {
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS bptl_schema_migrations (
                 version     INTEGER PRIMARY KEY,
                 description TEXT    NOT NULL,
                 applied_at  INTEGER NOT NULL
             )",
        )
        .map_err(err)?;
        let applied: Vec<i64> = conn
            .prepare("SELECT version FROM bptl_schema_migrations ORDER BY version")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(err)?;
        let known = MIGRATIONS.last().map_or(0, |m| m.version);
        if let Some(&newest) = applied.last()
            && newest > known
        {
            return Err(StoreError::new(format!(
                "the database has schema version {newest}, this build knows versions up to {known}"
            )));
        }
        for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
            conn.execute_batch(m.sql).map_err(|e| {
                db_error(&format!("migration {} ({})", m.version, m.description), e)
            })?;
            conn.execute(
                "INSERT INTO bptl_schema_migrations (version, description, applied_at) VALUES (?1, ?2, ?3)",
                params![m.version, m.description, crate::sql::to_nanos(Timestamp::now())?],
            )
            .map_err(err)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT").map_err(err),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// The store's thread: take the jobs waiting, commit the writes among them together, answer;
/// until every handle is gone or the store is closed.
fn serve(mut conn: Connection, queue: mpsc::Receiver<Job>) {
    let mut writes = Vec::new();
    let mut others = Vec::new();
    let mut close = None;
    // Whether `writes` holds a write whose caller's task waits for it (see `Job::is_urgent`),
    // and since when the oldest write waits.
    let mut urgent = false;
    let mut oldest: Option<Instant> = None;
    let mut open = true;
    let mut seqs = Seqs::default();
    while open && close.is_none() {
        let first = match oldest {
            None => queue.recv().ok(),
            Some(since) => {
                let left = TIMELINE_DELAY.saturating_sub(since.elapsed());
                match queue.recv_timeout(left) {
                    Ok(job) => Some(job),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        open = false;
                        None
                    }
                }
            }
        };
        if first.is_none() && oldest.is_none() {
            break;
        }
        let mut next = first;
        let mut taken = 0;
        while let Some(job) = next.take() {
            match job {
                Job::Run(f) => others.push(f),
                Job::Close(done) => {
                    close = Some(done);
                    break;
                }
                write => {
                    urgent |= write.is_urgent();
                    oldest.get_or_insert_with(Instant::now);
                    writes.push(write);
                }
            }
            taken += 1;
            if taken < MAX_BATCH {
                next = queue.try_recv().ok();
            }
        }
        let due = oldest.is_some_and(|since| since.elapsed() >= TIMELINE_DELAY);
        if !writes.is_empty() && (urgent || due || !open || close.is_some() || !others.is_empty()) {
            commit(&mut conn, &mut seqs, &mut writes);
            urgent = false;
            oldest = None;
        }
        if !others.is_empty() {
            // They may delete or change records (pruning, a query of the application's own).
            seqs.clear();
        }
        for f in others.drain(..) {
            // A panicking job loses its answer (its caller hears so), never the thread.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| f(&mut conn)));
            if !conn.is_autocommit() {
                // A query of the application's own left a transaction open: every later batch
                // would fail to begin its own.
                tracing::warn!(
                    "a call on the SQLite store's connection left a transaction open; rolling it back"
                );
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
    }
    if !writes.is_empty() {
        commit(&mut conn, &mut seqs, &mut writes);
    }
    // Calls made from now on fail at once with "closed" (jobs still queued are dropped: their
    // callers hear that the store stopped).
    drop(queue);
    drop(conn);
    if let Some(done) = close {
        let _ = done.send(());
    }
}

impl Job {
    /// Whether a task waits for this write (claims and saves: the unit may not start, or the
    /// engine may not hear of the outcome, before they are committed). Timeline entries are
    /// written off the tasks' paths: they wait for the next claim or save, or at most
    /// [`TIMELINE_DELAY`], and share its commit instead of causing one of their own. (Holding
    /// back the runtime's last save of a task the same way was measured to cost more than it
    /// saves.)
    fn is_urgent(&self) -> bool {
        !matches!(self, Job::Timeline(..))
    }
}

/// What a write produced.
enum Outcome {
    Done,
    /// The claimed record's unit runs: the stored record is the fresh one with these columns.
    Run {
        executions: i64,
        created_at: i64,
        previous: Option<TaskStatus>,
    },
    /// The claimed record's unit already succeeded: the stored record.
    Performed(Box<TaskRecord>),
}

/// A batch of writes that failed (and was rolled back).
struct WriteFailed {
    error: StoreError,
    /// Whether it could not begin because another connection held the write lock for the
    /// whole busy timeout.
    busy: bool,
}

impl From<StoreError> for WriteFailed {
    fn from(error: StoreError) -> Self {
        Self { error, busy: false }
    }
}

/// Write `jobs` in one transaction and answer them; when that fails, write each alone so that
/// one bad write fails only its own caller.
fn commit(conn: &mut Connection, seqs: &mut Seqs, jobs: &mut Vec<Job>) {
    let together = std::panic::catch_unwind(AssertUnwindSafe(|| write_all(conn, seqs, jobs)))
        .unwrap_or_else(|_| Err(StoreError::new("writing task records panicked (a bug)").into()));
    match together {
        Ok(outcomes) => {
            for (job, outcome) in jobs.drain(..).zip(outcomes) {
                answer(job, Ok(outcome));
            }
        }
        // One write alone, or the database busy (another process held its write lock for the
        // whole busy timeout): writing them one by one would only wait that long again per write.
        Err(failed) if jobs.len() == 1 || failed.busy => {
            // Rolled back: the seqs it remembered may name rows that do not exist.
            seqs.clear();
            for job in jobs.drain(..) {
                answer(job, Err(failed.error.clone()));
            }
        }
        Err(WriteFailed { error: e, .. }) => {
            seqs.clear();
            tracing::debug!(
                writes = jobs.len(),
                "a batch of task store writes failed ({e}); writing them one by one"
            );
            for job in jobs.drain(..) {
                let single = [job];
                let result =
                    std::panic::catch_unwind(AssertUnwindSafe(|| write_all(conn, seqs, &single)))
                        .unwrap_or_else(|_| {
                            Err(StoreError::new("writing a task record panicked (a bug)").into())
                        })
                        .map_err(|failed| failed.error);
                if result.is_err() {
                    seqs.clear();
                }
                let [job] = single;
                answer(job, result.and_then(|mut o| o.pop().ok_or_else(no_outcome)));
            }
        }
    }
}

fn no_outcome() -> StoreError {
    StoreError::new("writing a task record: no outcome (a bug)")
}

/// Send a write's outcome to its caller.
fn answer(job: Job, outcome: Result<Outcome, StoreError>) {
    match job {
        Job::Save(_, reply) | Job::Timeline(_, reply) => {
            let _ = reply.send(outcome.map(|_| ()));
        }
        Job::Claim(job, reply) => {
            let (mut fresh, _) = *job;
            let _ = reply.send(outcome.and_then(|o| match o {
                Outcome::Run {
                    executions,
                    created_at,
                    previous,
                } => {
                    fresh.executions = u32::try_from(executions.max(0)).unwrap_or(u32::MAX);
                    fresh.created_at = from_nanos(created_at, "created_at")?;
                    Ok(Claim::Run {
                        record: fresh,
                        previous,
                    })
                }
                Outcome::Performed(stored) => Ok(Claim::Performed(*stored)),
                Outcome::Done => Err(no_outcome()),
            }));
        }
        Job::Run(_) | Job::Close(_) => {}
    }
}

/// Every record column, for `?1`..`?18` in [`COLUMNS`] order.
fn record_params(b: &Columns) -> [&dyn rusqlite::ToSql; 18] {
    [
        &b.engine,
        &b.task_id,
        &b.topic,
        &b.worker_id,
        &b.process_instance_id,
        &b.business_key,
        &b.priority,
        &b.retries,
        &b.lock_expires_at,
        &b.variables,
        &b.status,
        &b.result_variables,
        &b.execution_error,
        &b.engine_error,
        &b.executions,
        &b.created_at,
        &b.updated_at,
        &b.reported_at,
    ]
}

/// `sql` with PostgreSQL-style `$N` placeholders as SQLite's `?N`.
fn numbered(sql: &str) -> String {
    sql.replace('$', "?")
}

/// The full upsert (see [`crate::sql::save_sql`]).
static SAVE: LazyLock<String> = LazyLock::new(|| numbered(&crate::sql::save_sql()));

/// The claim upsert, returning only what differs from the fresh record.
static CLAIM: LazyLock<String> =
    LazyLock::new(|| numbered(&crate::sql::claim_sql("executions, created_at, seq")));

/// The claim of a task not stored yet: a plain insert (nothing happens for a known one).
static CLAIM_NEW: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO bptl_tasks ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, \
         ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18) ON CONFLICT (engine, task_id) DO NOTHING"
    )
});

/// A save of a record whose indexed columns that never change (topic, process instance,
/// creation) are as stored: the other columns are written without touching the indexes on
/// those. Same rule as the full upsert: it never replaces a higher `executions` unless it brings
/// a missing result. Parameters as [`record_params`]; the row is found by its key, or by its
/// `seq` (?19) in [`SAVE_CHANGES_BY_SEQ`].
macro_rules! save_changes {
    ($row:literal) => {
        concat!(
            "UPDATE bptl_tasks SET worker_id = ?4, business_key = ?6, priority = ?7, ",
            "retries = ?8, lock_expires_at = ?9, variables = ?10, status = ?11, ",
            "result_variables = ?12, execution_error = ?13, engine_error = ?14, ",
            "executions = ?15, updated_at = ?17, reported_at = ?18 WHERE ",
            $row,
            " AND topic = ?3 AND process_instance_id IS ?5 AND created_at = ?16 ",
            "AND (executions <= ?15 OR (result_variables IS NULL AND ?12 IS NOT NULL))"
        )
    };
}

/// [`save_changes!`] finding the row by its key.
const SAVE_CHANGES: &str = save_changes!("engine = ?1 AND task_id = ?2");

/// [`save_changes!`] finding the row by its `seq` (?19), known from its claim.
const SAVE_CHANGES_BY_SEQ: &str = save_changes!("seq = ?19");

/// Append a timeline entry to the record with `seq` ?1.
const TIMELINE_INSERT_BY_SEQ: &str =
    "INSERT INTO bptl_timeline (task_seq, at, kind, message, data) VALUES (?1, ?2, ?3, ?4, ?5)";

/// Append a timeline entry to the record (engine ?1, task ?2); nothing for an unknown record.
const TIMELINE_INSERT: &str = "INSERT INTO bptl_timeline (task_seq, at, kind, message, data) \
     SELECT seq, ?3, ?4, ?5, ?6 FROM bptl_tasks WHERE engine = ?1 AND task_id = ?2";

/// The `seq` of records this thread claimed, by engine and task id: the runtime's later saves
/// and timeline entries of a task find its row by `seq` instead of looking its key up in the
/// unique index. Cleared when a batch fails (its inserts are rolled back), before every other
/// call (which may delete records), and when it grows large. A record another process deletes
/// meanwhile (an operator pruning records still in flight) costs little: `seq` is never reused
/// (AUTOINCREMENT), so a save by `seq` changes nothing, forgets the `seq` and falls back to the
/// upsert by key; only timeline entries appended by `seq` in between stay behind, unseen, under
/// the deleted record's `seq`.
#[derive(Default)]
struct Seqs {
    by_engine: std::collections::HashMap<String, std::collections::HashMap<String, i64>>,
    len: usize,
}

impl Seqs {
    /// At most this many are remembered (then all are forgotten).
    const MAX: usize = 100_000;

    fn get(&self, engine: &str, task_id: &str) -> Option<i64> {
        self.by_engine.get(engine)?.get(task_id).copied()
    }

    fn insert(&mut self, engine: &str, task_id: &str, seq: i64) {
        if self.len >= Self::MAX {
            self.clear();
        }
        let tasks = self.by_engine.entry(engine.to_owned()).or_default();
        if tasks.insert(task_id.to_owned(), seq).is_none() {
            self.len += 1;
        }
    }

    fn remove(&mut self, engine: &str, task_id: &str) {
        if let Some(tasks) = self.by_engine.get_mut(engine)
            && tasks.remove(task_id).is_some()
        {
            self.len -= 1;
        }
    }

    fn clear(&mut self) {
        self.by_engine.clear();
        self.len = 0;
    }
}

/// Execute `jobs` (writes only) in one transaction; their outcomes in order.
fn write_all(
    conn: &mut Connection,
    seqs: &mut Seqs,
    jobs: &[Job],
) -> Result<Vec<Outcome>, WriteFailed> {
    let err = |e| db_error("writing task records", e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| {
            let busy = is_busy(&e);
            let mut error = err(e);
            if busy {
                error.message.push_str(&format!(
                    " (another connection held the database's write lock for {} s: is another process (a second worker, a long operator command) using this SQLite file? Several workers need a PostgreSQL store)",
                    BUSY_TIMEOUT.as_secs()
                ));
            }
            WriteFailed { error, busy }
        })?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        outcomes.push(match job {
            Job::Save(b, _) => {
                save(&tx, seqs, b)?;
                Outcome::Done
            }
            Job::Claim(claim_job, _) => claim(&tx, seqs, &claim_job.1)?,
            Job::Timeline(rows, _) => {
                let err = |e| db_error("appending to task timelines", e);
                let mut by_seq = tx.prepare_cached(TIMELINE_INSERT_BY_SEQ).map_err(err)?;
                let mut by_key = tx.prepare_cached(TIMELINE_INSERT).map_err(err)?;
                for row in rows {
                    match seqs.get(&row.engine, &row.task_id) {
                        Some(seq) => {
                            by_seq.execute(params![seq, row.at, row.kind, row.message, row.data])
                        }
                        None => by_key.execute(params![
                            row.engine,
                            row.task_id,
                            row.at,
                            row.kind,
                            row.message,
                            row.data
                        ]),
                    }
                    .map_err(err)?;
                }
                Outcome::Done
            }
            Job::Run(_) | Job::Close(_) => Outcome::Done,
        });
    }
    tx.commit().map_err(err)?;
    Ok(outcomes)
}

fn save(conn: &Connection, seqs: &mut Seqs, b: &Columns) -> Result<(), StoreError> {
    let err = |e| db_error("saving a task record", e);
    let seq = seqs.get(&b.engine, &b.task_id);
    let changed = match seq {
        Some(seq) => {
            let params = record_params(b)
                .into_iter()
                .chain([&seq as &dyn rusqlite::ToSql]);
            conn.prepare_cached(SAVE_CHANGES_BY_SEQ)
                .and_then(|mut s| s.execute(rusqlite::params_from_iter(params)))
        }
        None => conn
            .prepare_cached(SAVE_CHANGES)
            .and_then(|mut s| s.execute(record_params(b))),
    }
    .map_err(err)?;
    if changed == 0 {
        if seq.is_some() {
            // Deleted meanwhile (another process pruned it), or not saved by the rule below:
            // find the row by its key from now on.
            seqs.remove(&b.engine, &b.task_id);
        }
        conn.prepare_cached(&SAVE)
            .and_then(|mut s| s.execute(record_params(b)))
            .map_err(err)?;
    }
    Ok(())
}

/// `claim` (see `TaskStore::claim`). A new task (the usual case) is one plain insert; for a
/// known one the upsert returns a row when the unit is to run, else the stored record is
/// performed.
fn claim(conn: &Connection, seqs: &mut Seqs, b: &Columns) -> Result<Outcome, StoreError> {
    let err = |e| db_error("claiming a task record", e);
    let inserted = conn
        .prepare_cached(&CLAIM_NEW)
        .and_then(|mut s| s.execute(record_params(b)))
        .map_err(err)?;
    if inserted == 1 {
        seqs.insert(&b.engine, &b.task_id, conn.last_insert_rowid());
        return Ok(Outcome::Run {
            executions: 1,
            created_at: b.created_at,
            previous: None,
        });
    }
    // Known: its status now, in this transaction, is the one the claim replaces.
    let previous: Option<String> = conn
        .prepare_cached("SELECT status FROM bptl_tasks WHERE engine = ?1 AND task_id = ?2")
        .and_then(|mut s| {
            s.query_row(params![b.engine, b.task_id], |r| r.get(0))
                .optional()
        })
        .map_err(err)?;
    let previous = previous.as_deref().map(parse_status).transpose()?;
    let claimed: Option<(i64, i64, i64)> = conn
        .prepare_cached(&CLAIM)
        .and_then(|mut s| {
            s.query_row(record_params(b), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
        })
        .map_err(err)?;
    if let Some((executions, created_at, seq)) = claimed {
        seqs.insert(&b.engine, &b.task_id, seq);
        return Ok(Outcome::Run {
            executions,
            created_at,
            previous,
        });
    }
    match get_on(conn, &b.engine, &b.task_id)? {
        Some(stored) => Ok(Outcome::Performed(Box::new(stored))),
        None => Err(StoreError::new(format!(
            "claiming task record {}:{}: neither claimed nor found (a bug)",
            b.engine, b.task_id
        ))),
    }
}

/// The columns, for reading a record.
static SELECT_RECORD: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {COLUMNS} FROM bptl_tasks"));

/// One record, by engine ?1 and task ?2.
static SELECT_BY_KEY: LazyLock<String> =
    LazyLock::new(|| format!("{} WHERE engine = ?1 AND task_id = ?2", *SELECT_RECORD));

fn read_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<Columns> {
    Ok(Columns {
        engine: row.get(0)?,
        task_id: row.get(1)?,
        topic: row.get(2)?,
        worker_id: row.get(3)?,
        process_instance_id: row.get(4)?,
        business_key: row.get(5)?,
        priority: row.get(6)?,
        retries: row.get(7)?,
        lock_expires_at: row.get(8)?,
        variables: row.get(9)?,
        status: row.get(10)?,
        result_variables: row.get(11)?,
        execution_error: row.get(12)?,
        engine_error: row.get(13)?,
        executions: row.get(14)?,
        created_at: row.get(15)?,
        updated_at: row.get(16)?,
        reported_at: row.get(17)?,
    })
}

fn get_on(
    conn: &Connection,
    engine: &str,
    task_id: &str,
) -> Result<Option<TaskRecord>, StoreError> {
    conn.prepare_cached(&SELECT_BY_KEY)
        .and_then(|mut s| {
            s.query_row(params![engine, task_id], read_record)
                .optional()
        })
        .map_err(|e| db_error("reading a task record", e))?
        .map(Columns::into_record)
        .transpose()
}

#[async_trait]
impl TaskStore for SqliteStore {
    async fn save(&self, record: &TaskRecord) -> Result<(), StoreError> {
        let bound = Box::new(Columns::new(record)?);
        self.call("saving a task record", |reply| Job::Save(bound, reply))
            .await
    }

    async fn get(&self, key: &TaskKey) -> Result<Option<TaskRecord>, StoreError> {
        let key = key.clone();
        self.run("reading a task record", move |conn| {
            get_on(conn, &key.engine, &key.task_id)
        })
        .await
    }

    async fn list(&self, filter: &TaskFilter) -> Result<Vec<TaskRecord>, StoreError> {
        let mut sql = format!("{} WHERE 1 = 1", *SELECT_RECORD);
        let mut args: Vec<SqlValue> = Vec::new();
        let mut push = |sql: &mut String, clause: &str, value: SqlValue| {
            args.push(value);
            sql.push_str(&format!(" {clause} ?{}", args.len()));
        };
        if let Some(engine) = &filter.engine {
            push(&mut sql, "AND engine =", SqlValue::Text(engine.clone()));
        }
        if !filter.statuses.is_empty() {
            sql.push_str(" AND status IN (");
            for (i, status) in filter.statuses.iter().enumerate() {
                let clause = if i == 0 { "" } else { "," };
                push(&mut sql, clause, SqlValue::Text(status.as_str().to_owned()));
            }
            sql.push(')');
        }
        if let Some(topic) = &filter.topic {
            push(&mut sql, "AND topic =", SqlValue::Text(topic.clone()));
        }
        if let Some(pi) = &filter.process_instance_id {
            push(
                &mut sql,
                "AND process_instance_id =",
                SqlValue::Text(pi.clone()),
            );
        }
        if let Some(since) = filter.since {
            let nanos = crate::sql::to_nanos(since)?;
            push(&mut sql, "AND created_at >=", SqlValue::Integer(nanos));
        }
        sql.push_str(" ORDER BY created_at DESC, seq DESC");
        let limit = filter
            .limit
            .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let offset = i64::try_from(filter.offset).unwrap_or(i64::MAX);
        push(&mut sql, "LIMIT", SqlValue::Integer(limit));
        push(&mut sql, "OFFSET", SqlValue::Integer(offset));
        self.run("listing task records", move |conn| {
            let columns: Vec<Columns> = conn
                .prepare(&sql)
                .and_then(|mut s| {
                    s.query_map(rusqlite::params_from_iter(args), read_record)?
                        .collect()
                })
                .map_err(|e| db_error("listing task records", e))?;
            columns.into_iter().map(Columns::into_record).collect()
        })
        .await
    }

    async fn append_timeline(
        &self,
        key: &TaskKey,
        entry: &TimelineEntry,
    ) -> Result<(), StoreError> {
        let rows = vec![TimelineRow::new(key, entry)?];
        self.call("appending to a task's timeline", |reply| {
            Job::Timeline(rows, reply)
        })
        .await
    }

    async fn append_timelines(
        &self,
        entries: &[(TaskKey, TimelineEntry)],
    ) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let rows = entries
            .iter()
            .map(|(key, entry)| TimelineRow::new(key, entry))
            .collect::<Result<Vec<_>, _>>()?;
        self.call("appending to task timelines", |reply| {
            Job::Timeline(rows, reply)
        })
        .await
    }

    async fn timeline(&self, key: &TaskKey) -> Result<Vec<TimelineEntry>, StoreError> {
        let key = key.clone();
        self.run("reading a task's timeline", move |conn| {
            let err = |e| db_error("reading a task's timeline", e);
            let rows: Vec<(i64, String, String, String)> = conn
                .prepare_cached(
                    "SELECT at, kind, message, data FROM bptl_timeline \
                     WHERE task_seq = (SELECT seq FROM bptl_tasks WHERE engine = ?1 AND task_id = ?2) \
                     ORDER BY id",
                )
                .and_then(|mut s| {
                    s.query_map(params![key.engine, key.task_id], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })?
                    .collect()
                })
                .map_err(err)?;
            rows.into_iter()
                .map(|(at, kind, message, data)| {
                    Ok(TimelineEntry {
                        at: from_nanos(at, "timeline at")?,
                        kind: EventKind::parse(&kind),
                        message,
                        data: parse_json(&data, "timeline data")?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn stats(&self, since: Option<Timestamp>) -> Result<Vec<StatsRow>, StoreError> {
        let since = since.map(crate::sql::to_nanos).transpose()?;
        self.run("counting task records", move |conn| {
            let err = |e| db_error("counting task records", e);
            let sql = "SELECT topic, status, COUNT(*) FROM bptl_tasks \
                       WHERE ?1 IS NULL OR created_at >= ?1 GROUP BY topic, status";
            let rows: Vec<(String, String, i64)> = conn
                .prepare(sql)
                .and_then(|mut s| {
                    s.query_map(params![since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                        .collect()
                })
                .map_err(err)?;
            let mut stats = rows
                .into_iter()
                .map(|(topic, status, count)| {
                    Ok(StatsRow {
                        topic,
                        status: parse_status(&status)?,
                        count: u64::try_from(count).unwrap_or(0),
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            // Lifecycle order of statuses, as the trait promises (SQL would sort by name).
            stats.sort();
            Ok(stats)
        })
        .await
    }

    async fn prune_completed(&self, before: Timestamp) -> Result<u64, StoreError> {
        let before = crate::sql::to_nanos(before)?;
        self.run("pruning completed task records", move |conn| {
            let err = |e| db_error("pruning completed task records", e);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            tx.execute(
                "DELETE FROM bptl_timeline WHERE task_seq IN \
                 (SELECT seq FROM bptl_tasks WHERE status = 'completed' AND updated_at < ?1)",
                params![before],
            )
            .map_err(err)?;
            let deleted = tx
                .execute(
                    "DELETE FROM bptl_tasks WHERE status = 'completed' AND updated_at < ?1",
                    params![before],
                )
                .map_err(err)?;
            tx.commit().map_err(err)?;
            Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
        })
        .await
    }

    async fn reset_status(&self, key: &TaskKey, status: TaskStatus) -> Result<bool, StoreError> {
        let key = key.clone();
        let now = crate::sql::to_nanos(Timestamp::now())?;
        self.run("resetting a task's status", move |conn| {
            let changed = conn
                .execute(
                    "UPDATE bptl_tasks SET status = ?3, updated_at = ?4 \
                     WHERE engine = ?1 AND task_id = ?2",
                    params![key.engine, key.task_id, status.as_str(), now],
                )
                .map_err(|e| db_error("resetting a task's status", e))?;
            Ok(changed > 0)
        })
        .await
    }

    async fn claim(&self, record: &TaskRecord) -> Result<Claim, StoreError> {
        let mut fresh = record.clone();
        fresh.status = TaskStatus::InProgress;
        fresh.executions = 1;
        fresh.result_variables = None;
        fresh.execution_error = None;
        fresh.reported_at = None;
        let bound = Columns::new(&fresh)?;
        let job = Box::new((fresh, bound));
        self.call("claiming a task record", |reply| Job::Claim(job, reply))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(url: &str) -> String {
        match parse_url(url) {
            Ok(Location::File(path)) => path.display().to_string(),
            Ok(Location::Memory) => "memory".to_owned(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn urls_name_a_file_or_memory() {
        assert_eq!(file("sqlite://bptl.db"), "bptl.db");
        assert_eq!(
            file("sqlite:///var/lib/bptl/bptl.db"),
            "/var/lib/bptl/bptl.db"
        );
        assert_eq!(file("sqlite:data/bptl.db"), "data/bptl.db");
        assert_eq!(file("sqlite://bptl.db?mode=rwc"), "bptl.db");
        assert_eq!(file("sqlite::memory:"), "memory");
        assert_eq!(file("sqlite://x.db?mode=memory"), "memory");
    }

    fn save_job(record: &TaskRecord) -> Job {
        let (reply, _) = oneshot::channel();
        Job::Save(Box::new(Columns::new(record).unwrap()), reply)
    }

    #[test]
    fn a_batch_blocked_by_another_connections_write_lock_fails_as_busy_and_says_why() {
        let dir = std::env::temp_dir().join(format!("bptl-busy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("busy.db");
        migrate(&Connection::open(&path).unwrap()).unwrap();
        let holder = Connection::open(&path).unwrap();
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        let mut writer = Connection::open(&path).unwrap();
        writer.busy_timeout(Duration::ZERO).unwrap();
        let record = TaskRecord::from_task(
            &bptl_core::InMemoryTask::new("busy", bptl_core::Variables::new()),
            "w",
        );
        let Err(failed) = write_all(&mut writer, &mut Seqs::default(), &[save_job(&record)]) else {
            panic!("the write lock is held elsewhere");
        };
        assert!(failed.busy);
        let text = failed.error.to_string();
        assert!(text.contains("database is locked"), "{text}");
        assert!(
            text.contains("Several workers need a PostgreSQL store"),
            "{text}"
        );

        // Any other failure is not busy: a database without the tables.
        let mut empty = Connection::open(dir.join("empty.db")).unwrap();
        let Err(failed) = write_all(&mut empty, &mut Seqs::default(), &[save_job(&record)]) else {
            panic!("there is no table to write to");
        };
        assert!(!failed.busy, "{}", failed.error);
        drop((holder, writer));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unknown_parameters_and_missing_paths_are_refused_by_name() {
        let err = file("sqlite://bptl.db?journal=delete");
        assert!(err.contains("unknown parameter 'journal=delete'"), "{err}");
        assert!(err.contains("sqlite://bptl.db?journal=delete"), "{err}");
        let err = file("sqlite://");
        assert!(
            err.contains("no file path (e.g. sqlite://bptl.db)"),
            "{err}"
        );
    }
}
