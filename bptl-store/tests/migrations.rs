//! The schema is created on connect, versioned, and applying the migrations again (every
//! restart, or several processes starting at once) changes nothing and keeps the data.
#![allow(clippy::unwrap_used)]

mod support;

use bptl_core::store::{TaskRecord, TaskStore};
use bptl_core::{InMemoryTask, variables};
use bptl_store::{PostgresStore, SqliteStore};
use sqlx::Row as _;
use support::{TempDir, TestDatabase};

fn record() -> TaskRecord {
    TaskRecord::from_task(&InMemoryTask::new("m", variables! { "a": 1 }), "w")
}

#[tokio::test]
async fn sqlite_migrations_apply_once_and_data_survives_reopening() {
    let dir = TempDir::new();
    let url = dir.sqlite_url("nested.db");
    let first = SqliteStore::connect(&url).await.unwrap();
    let r = record();
    first.save(&r).await.unwrap();
    first.close().await;
    for _ in 0..2 {
        let again = SqliteStore::connect(&url).await.unwrap();
        assert_eq!(again.get(&r.key()).await.unwrap(), Some(r.clone()));
        let versions: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
                .fetch_all(again.pool())
                .await
                .unwrap();
        assert_eq!(versions, SqliteStore::schema_versions());
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(again.pool())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        again.close().await;
    }
    // `open` takes a path.
    let by_path = SqliteStore::open(dir.0.join("nested.db")).await.unwrap();
    assert!(by_path.get(&r.key()).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_stores_opened_at_once_on_a_new_file_all_work() {
    // Like several worker processes starting together on a new database: each applies the
    // migrations in a transaction holding the write lock, so each migration is applied once.
    for round in 0..5 {
        let dir = TempDir::new();
        let url = dir.sqlite_url(&format!("race{round}.db"));
        let stores = futures_join_all((0..6).map(|_| {
            let url = url.clone();
            async move { SqliteStore::connect(&url).await }
        }))
        .await;
        for store in stores {
            let store = store.unwrap();
            store.save(&record()).await.unwrap();
            store.close().await;
        }
    }
}

#[tokio::test]
async fn postgres_migrations_apply_once_even_when_processes_start_together() {
    let db = TestDatabase::create().await;
    // Five "processes" connecting at once to an empty database.
    let stores = futures_join_all((0..5).map(|_| {
        let url = db.url.clone();
        async move { PostgresStore::connect(&url).await }
    }))
    .await;
    let stores: Vec<PostgresStore> = stores.into_iter().map(Result::unwrap).collect();
    let r = record();
    stores[0].save(&r).await.unwrap();
    for store in &stores {
        store.close().await;
    }
    let again = PostgresStore::connect(&db.url).await.unwrap();
    assert_eq!(again.get(&r.key()).await.unwrap(), Some(r));
    let versions: Vec<i64> = sqlx::query("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(again.pool())
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(versions, PostgresStore::schema_versions());
    again.close().await;
}

/// Await all futures concurrently (no extra dependency).
async fn futures_join_all<F, T>(futures: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// The schema of the SQLite store of the bptl 0.1.0 development builds (intent log era), as
/// its six migrations left it.
const SCHEMA_0_1_0: &str = "
CREATE TABLE bptl_schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL);
INSERT INTO bptl_schema_migrations (version, description, applied_at) VALUES
    (1, 'task records', 0), (2, 'lean writes', 0), (3, 'intent log bookkeeping', 0),
    (4, 'index of records not completed', 0), (5, 'several timeline entries per row', 0),
    (6, 'process instance lookup without a random index', 0);
CREATE TABLE bptl_tasks (seq INTEGER PRIMARY KEY, engine TEXT NOT NULL, task_id TEXT NOT NULL,
    topic TEXT NOT NULL, worker_id TEXT NOT NULL, process_instance_id TEXT, business_key TEXT,
    priority INTEGER NOT NULL DEFAULT 0, retries INTEGER, lock_expires_at INTEGER,
    variables TEXT NOT NULL, status TEXT NOT NULL, result_variables TEXT, execution_error TEXT,
    engine_error TEXT, executions INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL, reported_at INTEGER, UNIQUE (engine, task_id));
CREATE TABLE bptl_timeline (id INTEGER PRIMARY KEY, task_seq INTEGER NOT NULL, at INTEGER NOT NULL,
    kind TEXT NOT NULL, message TEXT NOT NULL, data TEXT NOT NULL, entries TEXT);
CREATE TABLE bptl_log_owners (owner TEXT PRIMARY KEY, generation INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE bptl_process_instances (seq INTEGER PRIMARY KEY, tail TEXT NOT NULL);
INSERT INTO bptl_tasks (engine, task_id, topic, worker_id, variables, status, created_at, updated_at)
    VALUES ('camunda', 't1', 'old', 'w', '{}', 'completed', 1, 2);
";

#[tokio::test]
async fn a_sqlite_database_of_bptl_0_1_0_is_refused_with_what_to_do_and_left_alone() {
    let dir = TempDir::new();
    let url = dir.sqlite_url("old.db");
    {
        use sqlx::{ConnectOptions as _, Connection as _};
        let mut conn = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .unwrap()
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        sqlx::raw_sql(SCHEMA_0_1_0)
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let err = SqliteStore::connect(&url).await.err().unwrap();
    let text = err.to_string();
    assert!(
        matches!(err, bptl_store::ConnectError::Outdated { version: 6, .. }),
        "{text}"
    );
    assert!(text.contains(&url), "{text}");
    assert!(text.contains("bptl 0.1.0"), "{text}");
    assert!(text.contains("point store.url at a new file"), "{text}");
    // Nothing was changed: no migration of the new schema was applied to it.
    use sqlx::{ConnectOptions as _, Connection as _};
    let mut conn = url
        .parse::<sqlx::sqlite::SqliteConnectOptions>()
        .unwrap()
        .connect()
        .await
        .unwrap();
    let sqlx_tables: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = '_sqlx_migrations'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(sqlx_tables, 0);
    let records: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bptl_tasks")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(records, 1);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn a_sqlite_database_from_a_newer_bptl_is_refused_with_what_to_do() {
    let dir = TempDir::new();
    let url = dir.sqlite_url("newer.db");
    let store = SqliteStore::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (999, 'future', TRUE, x'00', 0)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    store.close().await;
    let err = SqliteStore::connect(&url).await.err().unwrap().to_string();
    assert!(err.contains("schema version 999"), "{err}");
    assert!(err.contains("upgrade this worker"), "{err}");
    assert!(err.contains(&url), "{err}");
}

#[tokio::test]
async fn a_closed_sqlite_store_says_so() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let clone = store.clone();
    store.close().await;
    let err = clone.get(&record().key()).await.err().unwrap().to_string();
    assert!(err.contains("is closed"), "{err}");
}

#[tokio::test]
async fn a_record_deleted_by_another_process_while_in_flight_is_written_again_whole() {
    // Two stores on one file, like the worker and an operator's `prune` in another process.
    let dir = TempDir::new();
    let url = dir.sqlite_url("shared.db");
    let worker = SqliteStore::connect(&url).await.unwrap();
    let operator = SqliteStore::connect(&url).await.unwrap();
    let fetched = record();
    let key = fetched.key();
    let bptl_core::store::Claim::Run {
        record: mut claimed,
        ..
    } = worker.claim(&fetched).await.unwrap()
    else {
        panic!("a new task is claimed");
    };
    sqlx::query("DELETE FROM bptl_tasks")
        .execute(operator.pool())
        .await
        .unwrap();
    claimed.status = bptl_core::TaskStatus::Performed;
    claimed.result_variables = Some(variables! { "r": 1 });
    worker.save(&claimed).await.unwrap();
    let entry = bptl_core::TimelineEntry {
        at: jiff::Timestamp::now(),
        kind: bptl_core::EventKind::Note,
        message: "after the delete".into(),
        data: serde_json::Value::Null,
    };
    worker.append_timeline(&key, &entry).await.unwrap();
    // Another process sees a store's writes as soon as they returned: both stores see the
    // record again, with the entry on its timeline.
    assert_eq!(operator.get(&key).await.unwrap(), Some(claimed.clone()));
    assert_eq!(operator.timeline(&key).await.unwrap(), vec![entry]);
}

#[tokio::test]
async fn a_sqlite_database_whose_applied_migration_changed_is_refused_with_the_reason() {
    let dir = TempDir::new();
    let url = dir.sqlite_url("changed.db");
    let store = SqliteStore::connect(&url).await.unwrap();
    sqlx::query("UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 1")
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    // Not retried as if another process were migrating: no retry changes a checksum.
    let err = SqliteStore::connect(&url).await.err().unwrap().to_string();
    assert!(err.contains("modified"), "{err}");
    assert!(err.contains(&url), "{err}");
    // What to do fits the cause: not "upgrade this worker" or "check permissions".
    assert!(err.contains("point the worker at a new database"), "{err}");
}

/// The migrations of the 0.1.0 development builds (squashed since into the baseline), to make
/// databases as those builds left them.
async fn migrator_0_1_0(backend: &str) -> sqlx::migrate::Migrator {
    let dir = format!(
        "{}/tests/fixtures/migrations-0.1.0/{backend}",
        env!("CARGO_MANIFEST_DIR")
    );
    sqlx::migrate::Migrator::new(std::path::Path::new(&dir))
        .await
        .unwrap()
}

/// A record with two timeline entries, written in the schema of the 0.1.0 migrations 1 and 2
/// (timeline keyed by engine and task id).
const RECORD_OF_SCHEMA_2: &str = "
INSERT INTO bptl_tasks (engine, task_id, topic, worker_id, variables, status, created_at, updated_at)
    VALUES ('camunda', 'old-1', 'old', 'w', '{}', 'completed', 1, 2);
INSERT INTO bptl_timeline (engine, task_id, at, kind, message, data) VALUES
    ('camunda', 'old-1', 1, 'status', 'first', 'null'),
    ('camunda', 'old-1', 2, 'note', 'second', '{\"n\": 2}');
";

/// The same in the schema of the 0.1.0 migration 3 (timeline keyed by the record's `seq`).
const RECORD_OF_SCHEMA_3: &str = "
INSERT INTO bptl_tasks (engine, task_id, topic, worker_id, variables, status, created_at, updated_at)
    VALUES ('camunda', 'old-1', 'old', 'w', '{}', 'completed', 1, 2);
INSERT INTO bptl_timeline (task_seq, at, kind, message, data)
    SELECT seq, 1, 'status', 'first', 'null' FROM bptl_tasks WHERE task_id = 'old-1';
INSERT INTO bptl_timeline (task_seq, at, kind, message, data)
    SELECT seq, 2, 'note', 'second', '{\"n\": 2}' FROM bptl_tasks WHERE task_id = 'old-1';
";

/// What the upgrade keeps: the record, and its timeline in order.
async fn assert_upgraded(store: &dyn TaskStore) {
    let key = bptl_core::store::TaskKey::new("camunda", "old-1");
    let record = store.get(&key).await.unwrap().unwrap();
    assert_eq!(record.topic, "old");
    let messages: Vec<String> = store
        .timeline(&key)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.message)
        .collect();
    assert_eq!(messages, ["first", "second"]);
    // New writes work on the upgraded schema.
    let r = record_with_entry(store).await;
    assert_eq!(store.timeline(&r).await.unwrap().len(), 1);
}

async fn record_with_entry(store: &dyn TaskStore) -> bptl_core::store::TaskKey {
    let r = record();
    store.save(&r).await.unwrap();
    let entry = bptl_core::TimelineEntry {
        at: jiff::Timestamp::now(),
        kind: bptl_core::EventKind::Note,
        message: "new".into(),
        data: serde_json::Value::Null,
    };
    store.append_timeline(&r.key(), &entry).await.unwrap();
    r.key()
}

/// Row counts of the store's tables and `_sqlx_migrations`' versions (same SQL for both).
async fn contents<'a, DB>(pool: &'a sqlx::Pool<DB>) -> (i64, i64, Vec<i64>)
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    let count = |sql: &'static str| async move {
        let (n,): (i64,) = sqlx::query_as(sql).fetch_one(pool).await.unwrap();
        n
    };
    let records = count("SELECT COUNT(*) FROM bptl_tasks").await;
    let entries = count("SELECT COUNT(*) FROM bptl_timeline").await;
    let versions: Vec<(i64,)> =
        sqlx::query_as("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(pool)
            .await
            .unwrap();
    (
        records,
        entries,
        versions.into_iter().map(|v| v.0).collect(),
    )
}

/// The columns and indexes of the store's tables, sorted.
async fn sqlite_schema(pool: &sqlx::SqlitePool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT m.name || '.' || p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name LIKE 'bptl_%' \
         UNION ALL SELECT 'index ' || name FROM sqlite_master \
         WHERE type = 'index' AND name LIKE 'bptl_%' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn postgres_schema(pool: &sqlx::PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name || '.' || column_name || ' ' || data_type FROM information_schema.columns \
         WHERE table_name LIKE 'bptl_%' \
         UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE tablename LIKE 'bptl_%' \
         UNION ALL SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) \
         FROM pg_constraint WHERE conrelid::regclass::text LIKE 'bptl_%' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// A SQLite file made by the 0.1.0 migrations up to `version`, holding `rows` and, in schema 3,
/// an entry of no record (SQLite did not enforce the timeline's reference).
async fn sqlite_of_0_1_0(url: &str, version: i64, rows: &str) {
    let options = url
        .parse::<sqlx::sqlite::SqliteConnectOptions>()
        .unwrap()
        .create_if_missing(true)
        .foreign_keys(false); // as the store opens it
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    migrator_0_1_0("sqlite")
        .await
        .run_to(version, &pool)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(rows.to_owned()))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

async fn sqlite_pool(url: &str) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect_with(url.parse::<sqlx::sqlite::SqliteConnectOptions>().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_sqlite_database_of_the_0_1_0_migrations_is_upgraded_keeping_everything() {
    let dir = TempDir::new();
    let url = dir.sqlite_url("schema3.db");
    sqlite_of_0_1_0(
        &url,
        3,
        &format!(
            "{RECORD_OF_SCHEMA_3} INSERT INTO bptl_timeline (task_seq, at, kind, message, data) \
             VALUES (999, 3, 'note', 'of no record', 'null');"
        ),
    )
    .await;
    let store = SqliteStore::connect(&url).await.unwrap();
    // Nothing deleted: the record and all three entries are there; the history is the baseline.
    assert_eq!(
        contents(store.pool()).await,
        (1, 3, SqliteStore::schema_versions())
    );
    assert_upgraded(&store).await;
    // The same tables, columns and indexes as a database made by the baseline.
    let fresh = SqliteStore::connect(&dir.sqlite_url("fresh.db"))
        .await
        .unwrap();
    assert_eq!(
        sqlite_schema(store.pool()).await,
        sqlite_schema(fresh.pool()).await
    );
    store.close().await;
    // Opened again, it is an ordinary baseline database.
    let again = SqliteStore::connect(&url).await.unwrap();
    assert_eq!(
        contents(again.pool()).await.2,
        SqliteStore::schema_versions()
    );
    again.close().await;
}

#[tokio::test]
async fn a_sqlite_database_of_a_part_of_the_0_1_0_migrations_is_refused_and_left_alone() {
    let dir = TempDir::new();
    let url = dir.sqlite_url("schema2.db");
    sqlite_of_0_1_0(
        &url,
        2,
        &format!(
            "{RECORD_OF_SCHEMA_2} INSERT INTO bptl_timeline (engine, task_id, at, kind, message, data) \
             VALUES ('camunda', 'gone', 3, 'note', 'of no record', 'null');"
        ),
    )
    .await;
    let err = SqliteStore::connect(&url).await.err().unwrap();
    let text = err.to_string();
    assert!(
        matches!(err, bptl_store::ConnectError::Outdated { version: 2, .. }),
        "{text}"
    );
    assert!(text.contains(&url), "{text}");
    assert!(text.contains("bptl 0.1.0"), "{text}");
    assert!(text.contains("point store.url at a new file"), "{text}");
    // Nothing deleted or changed.
    let pool = sqlite_pool(&url).await;
    assert_eq!(contents(&pool).await, (1, 3, vec![1, 2]));
    pool.close().await;
}

#[tokio::test]
async fn a_postgres_database_of_the_0_1_0_migrations_is_upgraded_keeping_everything() {
    let db = TestDatabase::create().await;
    {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        migrator_0_1_0("postgres").await.run(&pool).await.unwrap();
        sqlx::raw_sql(RECORD_OF_SCHEMA_3)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    // Processes starting together on it: each finds it upgraded or upgrades it, once.
    let stores = futures_join_all((0..3).map(|_| {
        let url = db.url.clone();
        async move { PostgresStore::connect(&url).await }
    }))
    .await;
    let stores: Vec<PostgresStore> = stores.into_iter().map(Result::unwrap).collect();
    let store = &stores[0];
    assert_eq!(
        contents(store.pool()).await,
        (1, 2, PostgresStore::schema_versions())
    );
    assert_upgraded(store).await;
    let fresh_db = TestDatabase::create().await;
    let fresh = PostgresStore::connect(&fresh_db.url).await.unwrap();
    let (upgraded, baseline) = (
        postgres_schema(store.pool()).await,
        postgres_schema(fresh.pool()).await,
    );
    assert_eq!(upgraded, baseline);
    fresh.close().await;
    for store in &stores {
        store.close().await;
    }
}

#[tokio::test]
async fn a_postgres_database_of_a_part_of_the_0_1_0_migrations_is_refused_and_left_alone() {
    let db = TestDatabase::create().await;
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    migrator_0_1_0("postgres")
        .await
        .run_to(2, &pool)
        .await
        .unwrap();
    sqlx::raw_sql(RECORD_OF_SCHEMA_2)
        .execute(&pool)
        .await
        .unwrap();
    let err = PostgresStore::connect(&db.url).await.err().unwrap();
    let text = err.to_string();
    assert!(
        matches!(err, bptl_store::ConnectError::Outdated { version: 2, .. }),
        "{text}"
    );
    assert!(text.contains("bptl 0.1.0"), "{text}");
    assert!(text.contains("point store.url at a new database"), "{text}");
    assert_eq!(contents(&pool).await, (1, 2, vec![1, 2]));
    pool.close().await;
}
