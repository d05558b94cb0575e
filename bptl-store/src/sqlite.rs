//! The SQLite store: one file (WAL mode, busy timeout), the default.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::ConnectError;

/// The migrations of the SQLite schema, embedded at compile time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a statement waits for another connection's (or process's) write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Task records in a SQLite file: the default store (`sqlite://bptl.db`).
///
/// Opened in WAL mode with `synchronous = NORMAL` and a 10 s busy timeout: readers never block
/// the writer, every committed write survives a crash of the worker process (SIGKILL, panic,
/// OOM kill); only a power loss or an operating system crash may lose the last commits. The
/// file is created if missing, and the schema migrations are applied on open.
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
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    pub(crate) commit: std::sync::Arc<crate::group::GroupCommit>,
}

impl SqliteStore {
    /// Open (creating if needed) the database at `url` — `sqlite://PATH` (relative to the
    /// working directory; `sqlite:///abs/path` for an absolute one), `sqlite:PATH` or
    /// `sqlite::memory:` — and apply the migrations.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| ConnectError::invalid_url(url, e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        // Switching a new file to WAL needs a moment of exclusive access, for which SQLite does
        // not wait: when another process opens the same new file at that moment, try again.
        let mut attempt = 1;
        let pool = loop {
            match Self::open_pool(options.clone(), in_memory).await {
                Err(sqlx::Error::Database(e))
                    if attempt < 10
                        && (e.message().contains("locked") || e.message().contains("busy")) =>
                {
                    tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                    attempt += 1;
                }
                other => break other.map_err(|e| ConnectError::open(url, e))?,
            }
        };
        let store = Self::with_pool(pool);
        store.migrate(url).await?;
        Ok(store)
    }

    async fn open_pool(
        options: SqliteConnectOptions,
        in_memory: bool,
    ) -> Result<SqlitePool, sqlx::Error> {
        if in_memory {
            // Every connection to an in-memory database would see its own database unless
            // they share one that is never closed: keep exactly one connection.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            // SQLite has one writer at a time; one connection serialises the worker's
            // statements without busy-waiting on the file lock (measured: faster and
            // cheaper than 8 connections contending).
            SqlitePoolOptions::new().max_connections(1)
        }
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await
    }

    /// Open (creating if needed) the database file at `path` and apply the migrations.
    pub async fn open(path: impl AsRef<std::path::Path>) -> Result<Self, ConnectError> {
        Self::connect(&format!("sqlite://{}", path.as_ref().display())).await
    }

    /// Apply the embedded migrations that are not applied yet (a no-op when all are).
    ///
    /// SQLite has no advisory lock: when several processes open a new database at once, one
    /// applies a migration and the others fail to record it again. They retry, and the retry
    /// finds the migration applied.
    async fn migrate(&self, url: &str) -> Result<(), ConnectError> {
        let mut attempt = 1;
        loop {
            match MIGRATOR.run(&self.pool).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt < 5 && is_migration_race(&e) => {
                    tracing::debug!("another process is migrating {url}: retrying ({e})");
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(ConnectError::migrate(url, e)),
            }
        }
    }

    /// The connection pool, e.g. for reporting queries of your own.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The schema versions this build knows (the migrations it embeds), oldest first.
    pub fn schema_versions() -> Vec<i64> {
        MIGRATOR.iter().map(|m| m.version).collect()
    }

    /// Close the pool, waiting for connections to be returned (checkpoints the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Whether a migration failed because another process applied it at the same moment.
fn is_migration_race(err: &sqlx::migrate::MigrateError) -> bool {
    match err {
        sqlx::migrate::MigrateError::Execute(sqlx::Error::Database(db))
        | sqlx::migrate::MigrateError::ExecuteMigration(sqlx::Error::Database(db), _) => {
            let message = db.message();
            message.contains("UNIQUE constraint failed: _sqlx_migrations")
                || message.contains("locked")
                || message.contains("busy")
        }
        _ => false,
    }
}

crate::sql::impl_task_store!(SqliteStore, sqlx::Sqlite, true);
