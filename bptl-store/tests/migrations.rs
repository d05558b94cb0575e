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
        let versions: Vec<i64> = again
            .with_connection(|conn| {
                conn.prepare("SELECT version FROM bptl_schema_migrations ORDER BY version")?
                    .query_map([], |row| row.get(0))?
                    .collect()
            })
            .await
            .unwrap();
        assert_eq!(versions, SqliteStore::schema_versions());
        let mode: String = again
            .with_connection(|conn| conn.query_row("PRAGMA journal_mode", [], |row| row.get(0)))
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let page_size: i64 = again
            .with_connection(|conn| conn.query_row("PRAGMA page_size", [], |row| row.get(0)))
            .await
            .unwrap();
        assert_eq!(page_size, 16384, "a new database gets 16 KiB pages");
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

#[tokio::test]
async fn a_version_1_sqlite_database_is_upgraded_with_its_timelines() {
    // A database as the first schema left it (timeline keyed by engine and task id), written
    // with plain SQL: the upgrade must keep every record and timeline entry.
    let dir = TempDir::new();
    let path = dir.0.join("v1.db");
    {
        let conn = bptl_store::rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../migrations/sqlite/0001_task_records.sql"))
            .unwrap();
        conn.execute_batch(
            "INSERT INTO bptl_tasks (engine, task_id, topic, worker_id, process_instance_id, variables, status, created_at, updated_at)
                 VALUES ('camunda', 't1', 'old', 'w', 'pi-0000000001', '{}', 'completed', 1, 2),
                        ('camunda', 't2', 'old', 'w', 'pi-0000000002', '{}', 'failed', 3, 4);
             INSERT INTO bptl_timeline (engine, task_id, at, kind, message, data)
                 VALUES ('camunda', 't1', 10, 'status', 'first', 'null'),
                        ('camunda', 't2', 11, 'note', 'other task', '{\"a\":1}'),
                        ('camunda', 't1', 12, 'status', 'second', 'null');",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let t1 = store
        .timeline(&bptl_core::store::TaskKey::new("camunda", "t1"))
        .await
        .unwrap();
    let messages: Vec<&str> = t1.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages, ["first", "second"]);
    let t2 = store
        .timeline(&bptl_core::store::TaskKey::new("camunda", "t2"))
        .await
        .unwrap();
    assert_eq!(t2.len(), 1);
    assert_eq!(t2[0].data, serde_json::json!({ "a": 1 }));
    let records = store
        .list(&bptl_core::store::TaskFilter::default())
        .await
        .unwrap();
    assert_eq!(records.len(), 2);
    // The records are found by process instance (migration 6 filled its lookup table).
    let by_instance = store
        .list(&bptl_core::store::TaskFilter::default().process_instance("pi-0000000002"))
        .await
        .unwrap();
    assert_eq!(
        by_instance
            .iter()
            .map(|r| r.task_id.as_str())
            .collect::<Vec<_>>(),
        ["t2"]
    );
    // An existing database keeps its page size (a new one gets 16 KiB pages).
    let page_size: i64 = store
        .with_connection(|conn| conn.query_row("PRAGMA page_size", [], |r| r.get(0)))
        .await
        .unwrap();
    assert_eq!(page_size, 4096);
    // Pruning the completed one takes its timeline along and leaves the other's.
    assert_eq!(
        store.prune_completed(jiff::Timestamp::now()).await.unwrap(),
        1
    );
    let left: i64 = store
        .with_connection(|conn| {
            conn.query_row("SELECT COUNT(*) FROM bptl_timeline", [], |r| r.get(0))
        })
        .await
        .unwrap();
    assert_eq!(left, 1);
    store.close().await;
}

#[tokio::test]
async fn a_sqlite_database_from_a_newer_bptl_is_refused_with_what_to_do() {
    let dir = TempDir::new();
    let url = dir.sqlite_url("newer.db");
    let store = SqliteStore::connect(&url).await.unwrap();
    store
        .with_connection(|conn| {
            conn.execute(
                "INSERT INTO bptl_schema_migrations (version, description, applied_at) VALUES (999, 'future', 0)",
                [],
            )
        })
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
    operator
        .with_connection(|conn| conn.execute("DELETE FROM bptl_tasks", []))
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
    // Another process sees a store's writes once they are written through (every 100 ms, or
    // at `flush`): then both stores see the record again, with the entry on its timeline.
    worker.flush().await.unwrap();
    assert_eq!(operator.get(&key).await.unwrap(), Some(claimed.clone()));
    assert_eq!(operator.timeline(&key).await.unwrap(), vec![entry]);
}

#[tokio::test]
async fn a_transaction_left_open_by_an_own_query_does_not_block_the_store() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store
        .with_connection(|conn| conn.execute_batch("BEGIN; DELETE FROM bptl_tasks;"))
        .await
        .unwrap();
    let r = record();
    store.save(&r).await.unwrap();
    assert_eq!(store.get(&r.key()).await.unwrap(), Some(r));
}
