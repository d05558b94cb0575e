//! The SQLite store: one file (WAL mode), the default.
//!
//! Writes take two steps. A write is applied to an in-memory table of recent writes (the
//! *memtable*) and appended to the store's own intent log next to the database (see [`log`]);
//! the call returns once the log holds it, which costs one `write` system call for all the
//! writes made at that moment (see [`writes`]). A thread of the store's own then writes the
//! memtable through to SQLite every 100 ms, in one transaction in which each record written
//! meanwhile is one upsert of its latest state (see [`flush`]). Readers see both: point lookups
//! consult the memtable first, and calls over the whole database (listing, counting, pruning)
//! run on that thread right after a write-through.
//!
//! What this buys: the SQLite work of a task that is claimed, performed and completed within
//! 100 ms is one row write instead of three separate commits, and a write's durability costs a
//! share of one system call instead of a commit of every index page it touched. What it keeps:
//! a write that returned survives a crash of the process (SIGKILL, panic, OOM kill) exactly as
//! a committed SQLite write in WAL mode with `synchronous = NORMAL` does, because the next
//! process to open the database replays the log of a process that died.

mod flush;
mod log;
mod writes;

use std::sync::mpsc;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use bptl_core::store::{Claim, StatsRow, StoreError, TaskFilter, TaskKey, TaskRecord, TaskStore};
use bptl_core::{EventKind, TaskStatus, TimelineEntry};
use jiff::Timestamp;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags, OptionalExtension as _, TransactionBehavior, params};
use tokio::sync::oneshot;

use crate::ConnectError;
use crate::sql::{COLUMNS, Columns, TimelineRow, from_nanos, parse_json, parse_status};
use flush::Job;
use writes::{Inner, Key, LogState};

/// How long a statement waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How large the write-ahead log may grow before it is copied into the database file (SQLite's
/// default is 1000 pages, 4 MiB): fewer, larger checkpoints write each often-changed page once
/// for many commits.
const WAL_CHECKPOINT_BYTES: i64 = 16 << 20;

/// The page size of a new database (SQLite's default is 4096; an existing database keeps its
/// own). Records and index entries are written in batches of many: larger pages mean fewer page
/// splits, shallower trees and fewer log frames (measured: 20 % less CPU per record written).
const NEW_PAGE_SIZE: i64 = 16384;

/// Pages of SQLite's page cache per connection (negative: KiB): the indexes on random task ids
/// stay in memory.
const CACHE_KIB: i64 = 32 * 1024;

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
        sql: include_str!("../../migrations/sqlite/0001_task_records.sql"),
    },
    Migration {
        version: 2,
        description: "lean writes",
        sql: include_str!("../../migrations/sqlite/0002_lean_writes.sql"),
    },
    Migration {
        version: 3,
        description: "intent log bookkeeping",
        sql: include_str!("../../migrations/sqlite/0003_intent_log.sql"),
    },
    Migration {
        version: 4,
        description: "index of records not completed",
        sql: include_str!("../../migrations/sqlite/0004_open_records_index.sql"),
    },
    Migration {
        version: 5,
        description: "several timeline entries per row",
        sql: include_str!("../../migrations/sqlite/0005_timeline_entries.sql"),
    },
    Migration {
        version: 6,
        description: "process instance lookup without a random index",
        sql: include_str!("../../migrations/sqlite/0006_process_instance_lookup.sql"),
    },
];

/// Task records in a SQLite file: the default store (`sqlite://bptl.db`).
///
/// Opened in WAL mode with `synchronous = NORMAL` and a 10 s busy timeout. A write is applied
/// to an in-memory table of recent writes and appended to the store's intent log, and the call
/// returns once the log holds it: the writes made at one moment share one `write` system call.
/// A thread of the store's own writes the table through to SQLite every 100 ms
/// ([`SqliteOptions::write_through_interval`]) in one transaction, one upsert per record however
/// often it changed. Reads see both: point lookups consult the recent writes first, and calls
/// over the whole database (listing, counting, pruning) run right after a write-through.
///
/// A write that returned survives a crash of the worker process (SIGKILL, panic, OOM kill): the
/// log of a process that died is replayed by the next process that opens the database. Only a
/// power loss or an operating-system crash may lose the last writes. Writes nobody waits for
/// ([`TaskStore::save_behind`], timeline entries) are in the log with the next write someone
/// waits for, and in SQLite with the next write-through. Other processes (operator commands)
/// see writes once they are written through, at most about 100 ms later; [`TaskStore::flush`]
/// writes through at once. One worker process per database: several workers need a
/// [`PostgresStore`](crate::PostgresStore).
///
/// The log files sit next to the database: `bptl.db-bptl-OWNER.lock` marks an open store, and
/// `bptl.db-bptl-OWNER.GENERATION.log` holds writes not yet in SQLite. Keep them with the
/// database (a backup of the database alone may miss the last 100 ms).
///
/// Cloning the store is cheap and shares everything; its thread stops, after a last
/// write-through, when the last clone is dropped or [`close`](Self::close) is called.
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
    inner: Arc<Inner>,
    /// To the write-through thread; it stops when every sender is gone.
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("url", &self.inner.url)
            .finish_non_exhaustive()
    }
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

/// How a [`SqliteStore`] works; the default is what [`SqliteStore::connect`] uses.
///
/// ```
/// use std::time::Duration;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let options = bptl_store::SqliteOptions::default().write_through_interval(Duration::from_millis(250));
/// let store = bptl_store::SqliteStore::connect_with("sqlite::memory:", options).await.unwrap();
/// # let _ = store;
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// How often accepted writes are written through to SQLite (default 100 ms). Longer
    /// intervals put more writes in one transaction (and more of a task's writes into one row
    /// write) and make other processes see them later; a crash loses nothing either way (the
    /// log holds what is not written through).
    pub write_through_interval: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            write_through_interval: Duration::from_millis(100),
        }
    }
}

impl SqliteOptions {
    /// Set [`write_through_interval`](Self::write_through_interval) (at least 1 ms).
    #[must_use]
    pub fn write_through_interval(mut self, interval: Duration) -> Self {
        self.write_through_interval = interval.max(Duration::from_millis(1));
        self
    }
}

impl SqliteStore {
    /// Open (creating if needed) the database at `url` — `sqlite://PATH` (relative to the
    /// working directory; `sqlite:///abs/path` for an absolute one), `sqlite:PATH` or
    /// `sqlite::memory:` — apply the migrations, and replay the log of any process that died
    /// with writes not yet in the database.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        Self::connect_with(url, SqliteOptions::default()).await
    }

    /// [`connect`](Self::connect) with options.
    pub async fn connect_with(url: &str, options: SqliteOptions) -> Result<Self, ConnectError> {
        let location = parse_url(url)?;
        let redacted: Arc<str> = crate::redact_url(url).into();
        let (jobs, inbox) = mpsc::channel();
        let (ready_tx, ready) = oneshot::channel();
        let owned_url = url.to_owned();
        std::thread::Builder::new()
            .name("bptl-sqlite".to_owned())
            .spawn(move || match start(&location, &owned_url, redacted) {
                Ok((inner, conn)) => {
                    if ready_tx.send(Ok(Arc::clone(&inner))).is_ok() {
                        flush::serve(&inner, conn, &inbox, options.write_through_interval);
                    }
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|e| ConnectError::open(url, e))?;
        let inner = ready.await.map_err(|_| {
            ConnectError::open(url, "the store's thread stopped while opening the database")
        })??;
        Ok(Self { inner, jobs })
    }

    /// Open (creating if needed) the database file at `path` and apply the migrations.
    pub async fn open(path: impl AsRef<std::path::Path>) -> Result<Self, ConnectError> {
        Self::connect(&format!("sqlite://{}", path.as_ref().display())).await
    }

    /// The schema versions this build knows (the migrations it embeds), oldest first.
    pub fn schema_versions() -> Vec<i64> {
        MIGRATIONS.iter().map(|m| m.version).collect()
    }

    /// Run `f` on the store's connection (on its thread, right after a write-through, so it
    /// sees every write made before the call), e.g. for reporting queries of your own or test
    /// set-up. Keep it short: write-throughs wait meanwhile.
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

    /// Write everything through, delete the log, stop the store's thread and close the
    /// database. Calls made afterwards, through any clone, fail with a message saying the store
    /// is closed.
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.jobs.send(Job::Close(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    fn closed(&self, what: &str) -> StoreError {
        StoreError::new(format!(
            "{what}: the SQLite store {} is closed",
            self.inner.url
        ))
    }

    fn stopped(&self, what: &str) -> StoreError {
        StoreError::new(format!(
            "{what}: the SQLite store {} stopped before answering (it was closed, or the call panicked)",
            self.inner.url
        ))
    }

    /// Write through, then run `f` on the write-through thread's connection; wait for its answer.
    async fn run<T, F>(&self, what: &str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job = Job::Run(Box::new(move |conn: &mut Connection| {
            let _ = tx.send(f(conn));
        }));
        self.jobs.send(job).map_err(|_| self.closed(what))?;
        rx.await.map_err(|_| self.stopped(what))?
    }

    /// The latest state of `key`: the memtable's, else SQLite's (read outside the lock).
    fn stored(&self, key: &Key) -> Result<Option<Columns>, StoreError> {
        {
            let st = self.inner.lock();
            if st.closed {
                return Err(self.closed("reading a task record"));
            }
            if let Some(c) = st.lookup(key) {
                return Ok(Some(c.clone()));
            }
        }
        self.inner.read(|conn| read_columns(conn, &key.0, &key.1))
    }

    /// Apply `decide` to the latest state of `columns`' record and, when it says so, store
    /// `columns` (as `decide` changed them): atomically with respect to this store's other
    /// writes. Returns what `decide` returned and the log position to wait for.
    fn apply<T>(
        &self,
        what: &str,
        mut columns: Box<Columns>,
        decide: impl Fn(Option<&Columns>, &mut Columns) -> (bool, T),
    ) -> Result<(T, u64), StoreError> {
        let mut key = writes::key_of(&columns);
        let mut from_db: Option<Option<Columns>> = None;
        loop {
            let mut st = self.inner.lock();
            if st.closed {
                return Err(self.closed(what));
            }
            if let Some(failing) = st.refuses() {
                return Err(StoreError::new(format!(
                    "{what}: the SQLite store {} holds {} records it cannot write to the database ({failing}); no more are taken until it can",
                    self.inner.url,
                    st.active.len()
                )));
            }
            let latest = match st.lookup(&key) {
                Some(c) => Some(c),
                // Not written recently: SQLite's state, read outside the lock (below), holds
                // unless a write of the record slipped in meanwhile (looked up again above).
                None => match &from_db {
                    Some(stored) => stored.as_ref(),
                    None => {
                        drop(st);
                        from_db =
                            Some(self.inner.read(|conn| {
                                read_columns(conn, &columns.engine, &columns.task_id)
                            })?);
                        continue;
                    }
                },
            };
            let (store, out) = decide(latest, &mut columns);
            let position = if store {
                let position = st.put_record(std::mem::take(&mut key), columns);
                if st.wants_flush() {
                    let _ = self.jobs.send(Job::Flush(None));
                }
                position
            } else {
                st.appended
            };
            return Ok((out, position));
        }
    }

    /// Store a record state (the stale-save rule of [`TaskStore::save`] applies); returns the
    /// log position to wait for.
    fn put(&self, what: &str, record: &TaskRecord) -> Result<u64, StoreError> {
        let columns = Box::new(Columns::new(record)?);
        let ((), position) = self.apply(what, columns, |stored, new| {
            (stored.is_none_or(|s| supersedes(new, s)), ())
        })?;
        Ok(position)
    }
}

/// Whether a save of `new` may replace `stored` (the rule of [`TaskStore::save`]).
fn supersedes(new: &Columns, stored: &Columns) -> bool {
    new.executions >= stored.executions
        || (stored.result_variables.is_none() && new.result_variables.is_some())
}

/// Whether a stored record means "the unit already succeeded" for [`TaskStore::claim`].
fn is_performed(c: &Columns) -> bool {
    matches!(c.status.as_ref(), "performed" | "completed") && c.result_variables.is_some()
}

/// Open the database (writing connection), take ownership of a new log and replay the logs of
/// processes that died; then open the reader connection.
fn start(
    location: &Location,
    url: &str,
    redacted: Arc<str>,
) -> Result<(Arc<Inner>, Connection), ConnectError> {
    let (mut conn, target) = open(location, url)?;
    let (log, lock) = match location {
        Location::File(path) => {
            let place = log::Place::of(path);
            let owner = new_owner();
            let lock = place.claim_owner(&owner).map_err(|e| {
                ConnectError::open(
                    url,
                    format!(
                        "cannot create the task store's lock file next to the database ({e}): check the directory's permissions"
                    ),
                )
            })?;
            flush::replay_orphans(&mut conn, &place, &owner)
                .map_err(|e| ConnectError::open(url, e))?;
            let log = LogState {
                place,
                owner,
                generation: 1,
                segment: None,
            };
            (Some(log), Some(lock))
        }
        Location::Memory => (None, None),
    };
    let reader = open_reader(&target).map_err(|e| ConnectError::open(url, e))?;
    Ok((Arc::new(Inner::new(log, lock, reader, redacted)), conn))
}

/// A name for this store's log, unique among the processes sharing the database.
fn new_owner() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = Timestamp::now().as_nanosecond();
    format!("{}-{:x}-{n}", std::process::id(), nanos & 0xFFFF_FFFF_FFFF)
}

/// What the reader connection opens.
enum Target {
    File(std::path::PathBuf),
    /// A shared-cache in-memory database's URI.
    Memory(String),
}

/// The connection for point lookups (claims, saves of records not written recently, `get`).
fn open_reader(target: &Target) -> rusqlite::Result<Connection> {
    let conn = match target {
        Target::File(path) => Connection::open(path)?,
        Target::Memory(uri) => {
            let conn = Connection::open_with_flags(
                uri,
                OpenFlags::default() | OpenFlags::SQLITE_OPEN_SHARED_CACHE,
            )?;
            // Shared-cache readers take table locks unless they may read uncommitted data;
            // what they would read uncommitted is in the memtable anyway.
            conn.pragma_update(None, "read_uncommitted", true)?;
            conn
        }
    };
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
    conn.set_prepared_statement_cache_capacity(16);
    Ok(conn)
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
fn open(location: &Location, url: &str) -> Result<(Connection, Target), ConnectError> {
    let (conn, target) = match location {
        Location::Memory => {
            let uri = format!("file:bptl-memory-{}?mode=memory&cache=shared", new_owner());
            let conn = Connection::open_with_flags(
                &uri,
                OpenFlags::default() | OpenFlags::SQLITE_OPEN_SHARED_CACHE,
            );
            (conn, Target::Memory(uri))
        }
        Location::File(path) => (Connection::open(path), Target::File(path.clone())),
    };
    let conn = conn.map_err(|e| ConnectError::open(url, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| ConnectError::open(url, e))?;
    // The write-through's multi-row statements (three kinds, seven sizes) and the reads.
    conn.set_prepared_statement_cache_capacity(64);
    conn.pragma_update(None, "cache_size", -CACHE_KIB)
        .map_err(|e| ConnectError::open(url, e))?;
    // Statement journals (an upsert that fails half-way is undone alone) in memory, not in a
    // temporary file written page by page.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(|e| ConnectError::open(url, e))?;
    if let Location::File(_) = location {
        // A new database gets larger pages (an existing one keeps its own): records and index
        // entries are written in batches, and larger pages mean fewer page splits and frames.
        conn.pragma_update(None, "page_size", NEW_PAGE_SIZE)
            .map_err(|e| ConnectError::open(url, e))?;
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
        let page_size: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .map_err(|e| ConnectError::open(url, e))?;
        conn.pragma_update(
            None,
            "wal_autocheckpoint",
            WAL_CHECKPOINT_BYTES / page_size.max(512),
        )
        .map_err(|e| ConnectError::open(url, e))?;
    }
    migrate(&conn).map_err(|e| ConnectError::migrate(url, e))?;
    Ok((conn, target))
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
        status: std::borrow::Cow::Owned(row.get(10)?),
        result_variables: row.get(11)?,
        execution_error: row.get(12)?,
        engine_error: row.get(13)?,
        executions: row.get(14)?,
        created_at: row.get(15)?,
        updated_at: row.get(16)?,
        reported_at: row.get(17)?,
    })
}

/// One record's columns, by key.
fn read_columns(
    conn: &Connection,
    engine: &str,
    task_id: &str,
) -> Result<Option<Columns>, StoreError> {
    conn.prepare_cached(&SELECT_BY_KEY)
        .and_then(|mut s| {
            s.query_row(params![engine, task_id], read_record)
                .optional()
        })
        .map_err(|e| db_error("reading a task record", e))
}

#[async_trait]
impl TaskStore for SqliteStore {
    async fn save(&self, record: &TaskRecord) -> Result<(), StoreError> {
        let position = self.put("saving a task record", record)?;
        self.inner.durable(position).await
    }

    async fn save_behind(&self, record: &TaskRecord) -> Result<(), StoreError> {
        // In the memtable (and visible to this store's readers) at once; in the log with the
        // next write anyone waits for, or at the next write-through.
        self.put("saving a task record", record).map(|_| ())
    }

    async fn get(&self, key: &TaskKey) -> Result<Option<TaskRecord>, StoreError> {
        self.stored(&(key.engine.clone(), key.task_id.clone()))?
            .map(Columns::into_record)
            .transpose()
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
            if !filter.statuses.contains(&TaskStatus::Completed) {
                // The exact term of the partial index over records not completed, so that
                // SQLite uses it.
                sql.push_str(" AND status <> 'completed'");
            }
        }
        if let Some(topic) = &filter.topic {
            push(&mut sql, "AND topic =", SqlValue::Text(topic.clone()));
        }
        if let Some(pi) = &filter.process_instance_id {
            // Through the small table of id tails (migration 6), then the exact id.
            push(
                &mut sql,
                "AND seq IN (SELECT seq FROM bptl_process_instances WHERE tail = substr(",
                SqlValue::Text(pi.clone()),
            );
            sql.push_str(", -8))");
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

    async fn timeline(&self, key: &TaskKey) -> Result<Vec<TimelineEntry>, StoreError> {
        let key = key.clone();
        self.run("reading a task's timeline", move |conn| {
            let err = |e| db_error("reading a task's timeline", e);
            let rows: Vec<(i64, String, String, String, Option<String>)> = conn
                .prepare_cached(
                    "SELECT at, kind, message, data, entries FROM bptl_timeline \
                     WHERE task_seq = (SELECT seq FROM bptl_tasks WHERE engine = ?1 AND task_id = ?2) \
                     ORDER BY id",
                )
                .and_then(|mut s| {
                    s.query_map(params![key.engine, key.task_id], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                    })?
                    .collect()
                })
                .map_err(err)?;
            let mut timeline = Vec::with_capacity(rows.len());
            for (at, kind, message, data, entries) in rows {
                timeline.push(TimelineEntry {
                    at: from_nanos(at, "timeline at")?,
                    kind: EventKind::parse(&kind),
                    message,
                    data: parse_json(&data, "timeline data")?,
                });
                if let Some(entries) = entries {
                    timeline.extend(crate::sql::decode_timeline_entries(&entries)?);
                }
            }
            Ok(timeline)
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
            // Completed records are in no status index (most records are): this scans the table,
            // which an hourly prune can afford; the worker's writes wait in the memtable and the
            // log meanwhile, not its tasks.
            for dependent in [
                "DELETE FROM bptl_timeline WHERE task_seq IN",
                "DELETE FROM bptl_process_instances WHERE seq IN",
            ] {
                tx.execute(
                    &format!(
                        "{dependent} (SELECT seq FROM bptl_tasks \
                         WHERE status = 'completed' AND updated_at < ?1)"
                    ),
                    params![before],
                )
                .map_err(err)?;
            }
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

    async fn append_timeline(
        &self,
        key: &TaskKey,
        entry: &TimelineEntry,
    ) -> Result<(), StoreError> {
        self.append_timeline_now(key, entry).map(|_| ())
    }

    fn append_timeline_now(
        &self,
        key: &TaskKey,
        entry: &TimelineEntry,
    ) -> Result<bool, StoreError> {
        let row = TimelineRow::new(key, entry)?;
        // Nobody waits for timeline entries: in the log with the next write someone waits for,
        // or at the next write-through.
        let mut st = self.inner.lock();
        if st.closed {
            return Err(self.closed("appending to a task's timeline"));
        }
        st.put_timeline([row]);
        Ok(true)
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
        // Nobody waits for timeline entries: in the log with the next write someone waits for,
        // or at the next write-through.
        let mut st = self.inner.lock();
        if st.closed {
            return Err(self.closed("appending to task timelines"));
        }
        st.put_timeline(rows);
        Ok(())
    }

    async fn reset_status(&self, key: &TaskKey, status: TaskStatus) -> Result<bool, StoreError> {
        let what = "resetting a task's status";
        let Some(mut columns) = self.stored(&(key.engine.clone(), key.task_id.clone()))? else {
            return Ok(false);
        };
        columns.status = std::borrow::Cow::Borrowed(status.as_str());
        columns.updated_at = crate::sql::to_nanos(Timestamp::now())?;
        let (found, position) =
            self.apply(what, Box::new(columns), |stored, new| match stored {
                // Only the status and the time change, whatever else was written meanwhile.
                Some(stored) => {
                    let (status, at) = (new.status.clone(), new.updated_at);
                    *new = stored.clone();
                    new.status = status;
                    new.updated_at = at;
                    (true, true)
                }
                None => (false, false),
            })?;
        self.inner.durable(position).await?;
        Ok(found)
    }

    async fn claim(&self, record: &TaskRecord) -> Result<Claim, StoreError> {
        let mut fresh = record.clone();
        fresh.status = TaskStatus::InProgress;
        fresh.executions = 1;
        fresh.result_variables = None;
        fresh.execution_error = None;
        fresh.reported_at = None;
        let columns = Box::new(Columns::new(&fresh)?);
        let (decision, position) = self.apply(
            "claiming a task record",
            columns,
            |stored, new| match stored {
                Some(stored) if is_performed(stored) => (false, Err(stored.clone())),
                Some(stored) => {
                    new.executions = stored.executions.saturating_add(1);
                    new.created_at = stored.created_at;
                    let decided = (
                        Some(stored.status.to_string()),
                        new.executions,
                        new.created_at,
                    );
                    (true, Ok(decided))
                }
                None => (true, Ok((None, new.executions, new.created_at))),
            },
        )?;
        // Also when nothing was written: the stored state decided on must be durable before the
        // worker acts on it.
        self.inner.durable(position).await?;
        match decision {
            Err(performed) => Ok(Claim::Performed(performed.into_record()?)),
            Ok((previous, executions, created_at)) => {
                fresh.executions = u32::try_from(executions.max(0)).unwrap_or(u32::MAX);
                fresh.created_at = from_nanos(created_at, "created_at")?;
                Ok(Claim::Run {
                    record: fresh,
                    previous: previous.as_deref().map(parse_status).transpose()?,
                })
            }
        }
    }

    async fn close(&self) {
        SqliteStore::close(self).await;
    }

    async fn flush(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        let what = "writing task records through";
        self.jobs
            .send(Job::Flush(Some(tx)))
            .map_err(|_| self.closed(what))?;
        rx.await.map_err(|_| self.stopped(what))?
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
