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
            sqlx::query("SELECT version FROM _sqlx_migrations ORDER BY version")
                .fetch_all(again.pool())
                .await
                .unwrap()
                .iter()
                .map(|row| row.get(0))
                .collect();
        assert_eq!(versions, SqliteStore::schema_versions());
        let mode: String = sqlx::query("PRAGMA journal_mode")
            .fetch_one(again.pool())
            .await
            .unwrap()
            .get(0);
        assert_eq!(mode, "wal");
        again.close().await;
    }
    // `open` takes a path.
    let by_path = SqliteStore::open(dir.0.join("nested.db")).await.unwrap();
    assert!(by_path.get(&r.key()).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_stores_opened_at_once_on_a_new_file_all_work() {
    // Like several worker processes starting together on a new database: SQLite has no
    // advisory lock, so the losers of the migration race must retry.
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
