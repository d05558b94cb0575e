//! The PostgreSQL store: one history shared by several worker processes.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions as _, Connection as _};

use crate::ConnectError;

/// The migrations of the PostgreSQL schema, embedded at compile time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Task records in PostgreSQL (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`), for a fleet
/// of worker processes sharing one history.
///
/// The database must exist; the tables (`bptl_tasks`, `bptl_timeline`) are created by the
/// embedded migrations on connect. Concurrent starts are safe: the migrator holds an advisory
/// lock while it applies migrations. [`claim`](bptl_core::store::TaskStore::claim) is one
/// `INSERT ... ON CONFLICT DO UPDATE ... WHERE` statement, so two processes racing for one task
/// never both run a unit whose result is already stored.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pub(crate) pool: PgPool,
    pub(crate) commit: std::sync::Arc<crate::group::GroupCommit>,
}

impl PostgresStore {
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
        let store = Self::with_pool(pool);
        MIGRATOR
            .run(&store.pool)
            .await
            .map_err(|e| ConnectError::migrate(url, e))?;
        Ok(store)
    }

    /// The connection pool, e.g. for reporting queries of your own.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The schema versions this build knows (the migrations it embeds), oldest first.
    pub fn schema_versions() -> Vec<i64> {
        MIGRATOR.iter().map(|m| m.version).collect()
    }

    /// Close the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

crate::sql::impl_task_store!(PostgresStore, sqlx::Postgres);
