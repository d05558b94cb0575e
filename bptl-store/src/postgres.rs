//! The PostgreSQL store: one history shared by several worker processes.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions as _, Connection as _};

use crate::ConnectError;
use crate::group::GroupCommit;

/// The migrations of the PostgreSQL schema, embedded at compile time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Task records in PostgreSQL (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`), for a fleet
/// of worker processes sharing one history.
///
/// The database must exist; the tables (`bptl_tasks`, `bptl_timeline`) are created by the
/// embedded migrations on connect. Concurrent starts are safe: the migrator holds an advisory
/// lock while it applies migrations. [`claim`](bptl_core::store::TaskStore::claim) is one
/// `INSERT ... ON CONFLICT DO UPDATE ... WHERE` statement, so two processes racing for one task
/// never both run a unit whose result is already stored. Concurrent writes of one process are
/// committed together (one transaction, one multi-row statement per kind of write).
///
/// TLS (rustls) as the URL asks: `sslmode=require` encrypts without checking the server's
/// certificate, `verify-ca` / `verify-full` check it against `sslrootcert=PATH` (or the
/// WebPKI roots), `verify-full` also the host name; the default, `prefer`, uses TLS when the
/// server offers it.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pub(crate) reader: PgPool,
    pub(crate) writer: PgPool,
    pub(crate) commit: std::sync::Arc<GroupCommit>,
    pub(crate) name: std::sync::Arc<str>,
}

impl PostgresStore {
    /// Writes open their transaction with a plain `BEGIN`: row locks make claims serial.
    const BEGIN: &'static str = "BEGIN";
    /// Not SQLite: numbered placeholders, and the claim statement reports the previous status
    /// itself (a subquery sees the statement's snapshot).
    const SQLITE: bool = false;

    /// Connect to the database at `url` (`postgres://` or `postgresql://`) and apply the
    /// migrations.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| ConnectError::invalid_url(url, e.to_string()))?
            .application_name("bptl");
        // One direct attempt first: a wrong host, user or database fails at once with the
        // server's answer (the pool would keep retrying until its acquire timeout).
        let probe = options
            .connect()
            .await
            .map_err(|e| ConnectError::open(url, e))?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(|e| ConnectError::open(url, e))?;
        crate::schema::prepare(&pool, url, &MIGRATOR, crate::schema::POSTGRES_0_1_0).await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| ConnectError::migrate(url, e))?;
        Ok(Self::from_pools(pool.clone(), pool, crate::redact_url(url)))
    }

    /// The connection pool, e.g. for reporting queries of your own.
    pub fn pool(&self) -> &PgPool {
        &self.reader
    }

    /// The schema versions this build knows (the migrations it embeds), oldest first.
    pub fn schema_versions() -> Vec<i64> {
        MIGRATOR.iter().map(|m| m.version).collect()
    }

    /// Close the pool, waiting for connections to be returned; calls made afterwards fail with
    /// [`StoreError::Closed`](bptl_core::store::StoreError::Closed).
    pub async fn close(&self) {
        self.writer.close().await;
    }
}

crate::sql::impl_task_store!(PostgresStore, sqlx::Postgres);
