//! The SQLite store: one file in WAL mode, the default.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions as _, Connection as _};

use crate::ConnectError;
use crate::group::GroupCommit;

/// The migrations of the SQLite schema, embedded at compile time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a write waits for another process's write lock before it fails as unavailable.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections for reads (listing, timelines, operator queries); writes have one of their own.
const READERS: u32 = 4;

/// Task records in a SQLite file: the default store (`sqlite://bptl.db`).
///
/// The database is opened in WAL mode with `synchronous = NORMAL` and a 10 s busy timeout. The
/// store has **one writer connection**: the writes made at the same moment (claims, saves and
/// timeline entries of many tasks) are committed together, in one `BEGIN IMMEDIATE`
/// transaction with one multi-row statement per kind of write, and each call returns once that
/// transaction is committed. Reads use a small pool of other connections, so they never wait
/// for a write. Every connection runs its SQLite calls on a thread of its own (sqlx-sqlite),
/// never on the async runtime's threads.
///
/// A write that returned is committed: other processes opening the same file (operator
/// commands) see it at once, and it survives a crash of the worker process (SIGKILL, panic, OOM
/// kill). With `synchronous = NORMAL` in WAL mode a power loss or an operating-system crash may
/// roll back the last transactions (SQLite's documented behaviour); the database stays
/// consistent. Beside the database there are only SQLite's own `-wal` and `-shm` files.
///
/// Several processes may open the same file (their writes take turns on SQLite's write lock);
/// several *worker* processes should share a [`PostgresStore`](crate::PostgresStore) instead.
///
/// ```
/// use bptl_core::store::TaskStore;
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = std::env::temp_dir().join(format!("bptl-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let store = bptl_store::SqliteStore::open(dir.join("bptl.db")).await?;
/// let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(store.pool()).await?;
/// assert_eq!(mode, "wal");
/// store.close().await;
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) reader: SqlitePool,
    pub(crate) writer: SqlitePool,
    pub(crate) commit: Arc<GroupCommit>,
    pub(crate) name: Arc<str>,
}

impl SqliteStore {
    /// Writes take SQLite's write lock when they begin (waiting up to the busy timeout for
    /// another process's), so that a claim's read and upsert see the same database.
    const BEGIN: &'static str = "BEGIN IMMEDIATE";
    /// SQLite's statements: anonymous placeholders, and claims that read the previous statuses
    /// first, in the same transaction (SQLite's `RETURNING` sees the row as changed).
    const SQLITE: bool = true;

    /// Open (creating it if missing) the database at `url` (`sqlite://PATH`, `sqlite:PATH` or
    /// `sqlite::memory:`) and apply the migrations.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        Self::connect_with(url, |options| options).await
    }

    /// [`connect`](Self::connect), with connection options of your own applied on top of the
    /// store's (every connection gets them): e.g. `synchronous = FULL`, so that a power loss
    /// cannot roll back a committed write either (each commit then waits for `fsync`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use bptl_store::sqlx::sqlite::SqliteSynchronous;
    /// let store = bptl_store::SqliteStore::connect_with("sqlite::memory:", |options| {
    ///     options.synchronous(SqliteSynchronous::Full)
    /// })
    /// .await?;
    /// let level: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(store.pool()).await?;
    /// assert_eq!(level, 2); // FULL
    /// # Ok(()) }
    /// ```
    pub async fn connect_with(
        url: &str,
        tune: impl FnOnce(SqliteConnectOptions) -> SqliteConnectOptions,
    ) -> Result<Self, ConnectError> {
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| ConnectError::invalid_url(url, e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            // The store checks the timeline's reference itself (an entry of an unknown record is
            // not inserted; pruning deletes a record's entries with it): enforcing the foreign
            // key too cost a lookup per entry.
            .foreign_keys(false)
            // Statement journals and sorts in memory, not in temporary files.
            .pragma("temp_store", "memory")
            // Up to 32 MiB of pages cached per connection (SQLite's default is 2 MiB): the
            // indexes on random task ids stay in memory.
            .pragma("cache_size", "-32768")
            // Checkpoint the WAL into the database every 16 MiB instead of every 4 MiB: fewer,
            // larger checkpoints write each often-changed page once for many commits.
            .pragma("wal_autocheckpoint", "4096");
        let options = tune(options);
        // One direct attempt first: a missing directory or a file that is no database fails at
        // once with SQLite's answer.
        let probe = retry_while_busy(|| options.connect())
            .await
            .map_err(|e| ConnectError::open(url, e))?;
        let _ = probe.close().await;
        // The writer connection lives as long as the store (an in-memory database lives only
        // as long as its connection).
        let writer = retry_while_busy(|| {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(options.clone())
        })
        .await
        .map_err(|e| ConnectError::open(url, e))?;
        migrate(&writer, url).await?;
        let reader = if memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(READERS)
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(options)
                .await
                .map_err(|e| ConnectError::open(url, e))?
        };
        Ok(Self::from_pools(reader, writer, crate::redact_url(url)))
    }

    /// Open (creating it if missing) the database file at `path`.
    pub async fn open(path: impl AsRef<std::path::Path>) -> Result<Self, ConnectError> {
        Self::connect(&format!("sqlite://{}", path.as_ref().display())).await
    }

    /// The schema versions this build knows (the migrations it embeds), oldest first.
    pub fn schema_versions() -> Vec<i64> {
        MIGRATOR.iter().map(|m| m.version).collect()
    }

    /// A pool for queries of your own (reports, test set-up): connections other than the
    /// store's writer, so a write made through it waits for SQLite's write lock like another
    /// process's would.
    pub fn pool(&self) -> &SqlitePool {
        &self.reader
    }

    /// Close the connections (the last one checkpoints the WAL into the database file); calls
    /// made afterwards fail with [`StoreError::Closed`](bptl_core::store::StoreError::Closed).
    /// Every write that returned is already committed: closing loses nothing.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// Open a connection (or pool), trying again while the file is busy. Processes opening a new
/// file at once race to switch it to WAL: SQLite answers the loser "database is locked" at
/// once, without waiting the busy timeout (the lock upgrade could deadlock), so the wait is
/// done here, for up to the busy timeout.
async fn retry_while_busy<T, F>(mut open: impl FnMut() -> F) -> Result<T, sqlx::Error>
where
    F: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(5);
    loop {
        match open().await {
            Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

/// SQLITE_BUSY or SQLITE_LOCKED (primary result codes 5 and 6).
fn is_busy(error: &sqlx::Error) -> bool {
    let code = match error {
        sqlx::Error::Database(e) => e.code(),
        _ => None,
    };
    code.and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| matches!(c & 0xff, 5 | 6))
}

/// Refuse databases of earlier development builds and of newer versions (see `crate::schema`),
/// then apply the migrations. Processes starting at once on a new file race to apply them (SQLite's migrator
/// takes no lock): the loser's transaction fails and it tries again, finding them applied.
async fn migrate(writer: &SqlitePool, url: &str) -> Result<(), ConnectError> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master \
         WHERE name IN ('bptl_schema_migrations', '_sqlx_migrations')",
    )
    .fetch_all(writer)
    .await
    .map_err(|e| ConnectError::open(url, e))?;
    let old = if tables.len() == 1 && tables[0] == "bptl_schema_migrations" {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM bptl_schema_migrations")
                .fetch_one(writer)
                .await
                .map_err(|e| ConnectError::open(url, e))?;
        Some(version.unwrap_or(0))
    } else {
        None
    };
    if let Some(version) = old {
        return Err(ConnectError::Outdated {
            url: crate::redact_url(url),
            version,
            history: "in bptl_schema_migrations, with its own intent log",
            hint: crate::schema::SQLITE_0_1_0.hint,
        });
    }
    let mut attempt = 0;
    loop {
        crate::schema::prepare(writer, url, &MIGRATOR, crate::schema::SQLITE_0_1_0).await?;
        match MIGRATOR.run(writer).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 20 && may_be_a_race(&e) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(25 * attempt)).await;
            }
            Err(e) => return Err(ConnectError::migrate(url, e)),
        }
    }
}

/// Whether a failed migration may be the loser's side of a race with another process
/// (retried), rather than a database that no retry will change (reported at once): a changed,
/// missing or half-applied migration.
fn may_be_a_race(error: &sqlx::migrate::MigrateError) -> bool {
    use sqlx::migrate::MigrateError as M;
    matches!(error, M::Execute(_) | M::ExecuteMigration(..))
}

crate::sql::impl_task_store!(SqliteStore, sqlx::Sqlite);
