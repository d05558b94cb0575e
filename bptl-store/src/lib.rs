//! Persistent task records and timelines for bptl: **SQLite** by default (one file, no server),
//! **PostgreSQL** for a fleet of worker processes sharing one history.
//!
//! Both implement core's [`TaskStore`]: a record per fetched task (written before its unit
//! runs), its timeline, listing with filters and paging, counts per topic and status, pruning,
//! and the atomic [`claim`](TaskStore::claim) that decides whether a unit runs. With a
//! persistent store the worker's exactly-once guarantees hold across crashes: a task whose unit
//! succeeded is completed from its record, never run again (see [`bptl_core::store`]).
//!
//! Pick a store by URL with [`connect`]:
//!
//! | URL | store |
//! |-----|-------|
//! | `sqlite://bptl.db`, `sqlite:///var/lib/bptl/bptl.db`, `sqlite:bptl.db` | [`SqliteStore`], file created if missing |
//! | `sqlite::memory:` | [`SqliteStore`] in memory (tests) |
//! | `postgres://user:password@host:5432/db`, `postgresql://...` | [`PostgresStore`]; the database must exist |
//!
//! The schema is created and upgraded by migrations embedded in the binary (`sqlx::migrate!`,
//! one baseline per backend), applied on connect and versioned in the `_sqlx_migrations`
//! table; applying them again is a no-op, and a database written by a newer bptl is refused.
//!
//! Both stores run on one SQL stack, `sqlx`: every call is committed when it returns (the
//! writes made at the same moment share one transaction), and blocking SQLite work runs on the
//! connections' own threads, never on the async runtime's.
//!
//! ```
//! use bptl_core::store::{Claim, TaskFilter, TaskRecord, TaskStore};
//! use bptl_core::{variables, InMemoryTask, TaskStatus};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = bptl_store::connect("sqlite::memory:").await?;
//!
//! // The worker claims a fetched task before running its unit...
//! let task = InMemoryTask::new("double", variables! { "amount": 21 });
//! let Claim::Run { mut record, .. } = store.claim(&TaskRecord::from_task(&task, "worker-1")).await? else {
//!     unreachable!("a new task is always run");
//! };
//! assert_eq!((record.status, record.executions), (TaskStatus::InProgress, 1));
//!
//! // ...stores the result before telling the engine...
//! record.status = TaskStatus::Performed;
//! record.result_variables = Some(variables! { "doubled": 42 });
//! store.save(&record).await?;
//!
//! // ...so that after a crash the task, fetched again, is completed from the record.
//! let again = store.claim(&TaskRecord::from_task(&task, "worker-2")).await?;
//! assert!(matches!(again, Claim::Performed(r) if r.result_variables == record.result_variables));
//!
//! let performed = store.list(&TaskFilter::default().status(TaskStatus::Performed)).await?;
//! assert_eq!(performed.len(), 1);
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod group;
mod postgres;
mod schema;
mod sql;
mod sqlite;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
/// The `sqlx` the stores are built with: [`SqliteStore::pool`] and [`PostgresStore::pool`]
/// return their pools, for queries of your own (reports, test set-up).
pub use sqlx;

/// The store contract and record types of `bptl-core`, so that `bptl::sql_store::*` has them all.
pub use bptl_core::store::{
    Claim, InMemoryStore, StatsRow, StoreError, TaskFilter, TaskKey, TaskRecord, TaskStore,
    decode_variables, encode_variables,
};

/// The default store URL: the SQLite file `bptl.db` in the working directory.
pub const DEFAULT_URL: &str = "sqlite://bptl.db";

/// The underlying error of a [`ConnectError`] (the driver's or the migrator's).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Opening a store failed. Every message names the URL (never its password) and says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL names no store this crate knows.
    #[error(
        "task store URL '{url}': unknown scheme; use sqlite://PATH (e.g. sqlite://bptl.db), sqlite::memory: or postgres://USER:PASSWORD@HOST:PORT/DATABASE"
    )]
    UnsupportedScheme {
        /// The URL, password redacted.
        url: String,
    },
    /// The URL could not be read.
    #[error("task store URL '{url}' is not valid: {reason}")]
    InvalidUrl {
        /// The URL, password redacted.
        url: String,
        /// Why.
        reason: String,
    },
    /// The database could not be opened or reached.
    #[error("cannot open the task store at '{url}': {source}; {hint}")]
    Open {
        /// The URL, password redacted.
        url: String,
        /// What to check.
        hint: &'static str,
        /// The driver's error.
        #[source]
        source: BoxError,
    },
    /// The schema migrations could not be applied.
    #[error("cannot apply the task store's schema migrations to '{url}': {source}; {hint}")]
    Migrate {
        /// The URL, password redacted.
        url: String,
        /// What to do.
        hint: &'static str,
        /// The migrator's error.
        #[source]
        source: BoxError,
    },
    /// The database was written by a newer bptl (its schema has migrations this build lacks).
    #[error(
        "the task store at '{url}' has schema version {version}, newer than this worker knows (up to {known}): upgrade this worker to the bptl that wrote it"
    )]
    Newer {
        /// The URL, password redacted.
        url: String,
        /// The newest schema version applied to the database.
        version: i64,
        /// The newest schema version this build knows.
        known: i64,
    },
    /// The database was written by a development build of bptl 0.1.0 in a format this version
    /// does not read: the SQLite intent log era (`bptl_schema_migrations`), or a part of the
    /// migrations that were squashed since into the baseline (a database with all of them is
    /// upgraded on connect). The database is left unchanged.
    #[error(
        "the task store at '{url}' was written by an earlier development build of bptl 0.1.0 (schema version {version} {history}), which this version cannot read: {hint}"
    )]
    Outdated {
        /// The URL, password redacted.
        url: String,
        /// The newest schema version applied to the database.
        version: i64,
        /// Which history that version belongs to.
        history: &'static str,
        /// What to do.
        hint: &'static str,
    },
}

impl ConnectError {
    pub(crate) fn invalid_url(url: &str, reason: String) -> Self {
        ConnectError::InvalidUrl {
            url: redact_url(url),
            reason: scrub(&reason, url),
        }
    }

    pub(crate) fn open(url: &str, source: impl Into<BoxError>) -> Self {
        let hint = if is_postgres(url) {
            "check that the PostgreSQL server runs and accepts connections from this host, that the database exists (CREATE DATABASE ...) and that user and password are right; with sslmode=verify-ca or verify-full, that sslrootcert=PATH names the certificate of the CA that signed the server's certificate"
        } else {
            "check that the directory exists and is writable by this user, and that the file is a SQLite database"
        };
        ConnectError::Open {
            url: redact_url(url),
            hint,
            source: source.into(),
        }
    }

    pub(crate) fn migrate(url: &str, source: sqlx::migrate::MigrateError) -> Self {
        use sqlx::migrate::MigrateError as M;
        let hint = match &source {
            M::VersionMismatch(_) | M::VersionMissing(_) | M::Dirty(_) => {
                "the database's schema history does not match this build's migrations (a migration was changed, removed or left half-applied by a development build): point the worker at a new database, or restore the database from a backup made by a released bptl"
            }
            _ => {
                "check that the database user may create and alter tables and indexes, and that the database is not full or read-only"
            }
        };
        ConnectError::Migrate {
            url: redact_url(url),
            hint,
            source: source.into(),
        }
    }
}

impl From<ConnectError> for StoreError {
    fn from(err: ConnectError) -> Self {
        let (store, message) = match &err {
            ConnectError::UnsupportedScheme { url }
            | ConnectError::InvalidUrl { url, .. }
            | ConnectError::Open { url, .. }
            | ConnectError::Migrate { url, .. }
            | ConnectError::Newer { url, .. }
            | ConnectError::Outdated { url, .. } => (url.clone(), err.to_string()),
        };
        match err {
            ConnectError::Open { .. } => StoreError::unavailable(message),
            _ => StoreError::other(message),
        }
        .in_store(&store)
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Open the store `url` names and apply its migrations: `sqlite://PATH`, `sqlite:PATH`,
/// `sqlite::memory:`, `postgres://...` or `postgresql://...`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let err = bptl_store::connect("mysql://root:hunter2@db/bptl").await.err().unwrap();
/// let text = err.to_string();
/// assert!(text.contains("mysql://root:***@db/bptl"), "{text}");
/// assert!(!text.contains("hunter2"));
/// # }
/// ```
pub async fn connect(url: &str) -> Result<Arc<dyn TaskStore>, ConnectError> {
    let url = url.trim();
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else if is_postgres(url) {
        Ok(Arc::new(PostgresStore::connect(url).await?))
    } else {
        Err(ConnectError::UnsupportedScheme {
            url: redact_url(url),
        })
    }
}

/// `url` with its password (in the user info or a `password=` query parameter) replaced by
/// `***`, for messages and logs.
///
/// ```
/// use bptl_store::redact_url;
/// assert_eq!(redact_url("postgres://bptl:s3cret@db:5432/bptl"), "postgres://bptl:***@db:5432/bptl");
/// assert_eq!(redact_url("postgres://db/bptl?user=u&password=s3cret"), "postgres://db/bptl?user=u&password=***");
/// assert_eq!(redact_url("sqlite://bptl.db"), "sqlite://bptl.db");
/// ```
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest_start + colon + 1..rest_start + at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("&");
        out = format!("{head}{query}");
    }
    out
}

/// `text` with any occurrence of `url`'s password removed (drivers may echo parts of the URL).
fn scrub(text: &str, url: &str) -> String {
    let mut text = text.replace(url, &redact_url(url));
    if let Some(password) = password_of(url)
        && !password.is_empty()
    {
        text = text.replace(&password, "***");
    }
    text
}

fn password_of(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    Some(userinfo.split_once(':')?.1.to_owned())
}

/// The instant `older_than` ago (the start of time when that is before it).
fn cutoff(older_than: Duration) -> Result<Timestamp, StoreError> {
    let age = jiff::SignedDuration::try_from(older_than)
        .map_err(|e| StoreError::other(format!("retention {older_than:?} is too long: {e}")))?;
    Ok(Timestamp::now().checked_sub(age).unwrap_or(Timestamp::MIN))
}

/// Delete `completed` records (and their timelines) last updated more than `older_than` ago;
/// returns how many were deleted. This is `prune --older-than` and `store.retention`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// let store = bptl_store::connect("sqlite::memory:").await.unwrap();
/// assert_eq!(bptl_store::prune_older_than(&*store, Duration::from_secs(30 * 86_400)).await.unwrap(), 0);
/// # }
/// ```
pub async fn prune_older_than(
    store: &dyn TaskStore,
    older_than: Duration,
) -> Result<u64, StoreError> {
    store.prune_completed(cutoff(older_than)?).await
}

/// Delete `failed` records (and their timelines) last updated more than `older_than` ago;
/// returns how many were deleted. This is `store.retention_failed`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// let store = bptl_store::connect("sqlite::memory:").await.unwrap();
/// assert_eq!(bptl_store::prune_failed_older_than(&*store, Duration::from_secs(90 * 86_400)).await.unwrap(), 0);
/// # }
/// ```
pub async fn prune_failed_older_than(
    store: &dyn TaskStore,
    older_than: Duration,
) -> Result<u64, StoreError> {
    store.prune_failed(cutoff(older_than)?).await
}

/// How long the worker keeps records (`store.retention`, `store.retention_failed`): `None`
/// keeps them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Completed records older than this are deleted.
    pub completed: Option<Duration>,
    /// Failed records older than this are deleted.
    pub failed: Option<Duration>,
}

impl Retention {
    /// Whether anything is ever deleted.
    pub fn prunes(&self) -> bool {
        self.completed.is_some() || self.failed.is_some()
    }
}

/// Apply `retention` now and then every `every`, until the returned task is aborted (the worker
/// applies `store.retention` and `store.retention_failed` this way). Errors are logged and
/// retried at the next round.
pub fn spawn_retention(
    store: Arc<dyn TaskStore>,
    retention: Retention,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every.max(Duration::from_secs(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let rounds = [
                ("completed", retention.completed, false),
                ("failed", retention.failed, true),
            ];
            for (what, older_than, failed) in rounds {
                let Some(older_than) = older_than else {
                    continue;
                };
                let pruned = if failed {
                    prune_failed_older_than(&*store, older_than).await
                } else {
                    prune_older_than(&*store, older_than).await
                };
                match pruned {
                    Ok(0) => tracing::debug!("retention: no {what} record to prune"),
                    Ok(n) => tracing::info!(
                        pruned = n,
                        "retention: deleted {n} {what} task record(s) older than {older_than:?}"
                    ),
                    Err(e) => {
                        tracing::warn!("retention: pruning old {what} task records failed: {e}")
                    }
                }
            }
        }
    })
}
