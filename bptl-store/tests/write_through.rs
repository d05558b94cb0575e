//! The SQLite store's write-through: writes reach the database in the background, other
//! processes see them after a write-through (or `flush`), and a write-through that fails loses
//! nothing: the writes stay readable and are written when the database accepts them again.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use bptl_core::store::{TaskFilter, TaskRecord, TaskStore};
use bptl_core::{EventKind, InMemoryTask, TaskStatus, TimelineEntry, variables};
use bptl_store::{SqliteOptions, SqliteStore, rusqlite};
use support::TempDir;

fn record(i: usize) -> TaskRecord {
    TaskRecord::from_task(
        &InMemoryTask::new("write-through", variables! { "i": i as i64 }),
        "w",
    )
}

fn note(message: &str) -> TimelineEntry {
    TimelineEntry {
        at: jiff::Timestamp::now(),
        kind: EventKind::Note,
        message: message.to_owned(),
        data: serde_json::Value::Null,
    }
}

/// Records in the database file, read with a connection of our own (what another process sees).
fn records_in_file(dir: &TempDir) -> i64 {
    let conn = rusqlite::Connection::open(dir.0.join("wt.db")).unwrap();
    conn.query_row("SELECT COUNT(*) FROM bptl_tasks", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn other_processes_see_writes_after_a_write_through() {
    let dir = TempDir::new();
    let store = SqliteStore::connect_with(
        &dir.sqlite_url("wt.db"),
        SqliteOptions::default().write_through_interval(Duration::from_millis(50)),
    )
    .await
    .unwrap();
    let r = record(1);
    store.save(&r).await.unwrap();
    // The store itself sees its write at once.
    assert_eq!(store.get(&r.key()).await.unwrap(), Some(r.clone()));
    // Another connection sees it after the next write-through.
    let deadline = Instant::now() + Duration::from_secs(5);
    while records_in_file(&dir) == 0 {
        assert!(Instant::now() < deadline, "not written through within 5 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    store.close().await;
}

#[tokio::test]
async fn a_failing_write_through_loses_nothing_and_is_retried() {
    let dir = TempDir::new();
    let store = SqliteStore::connect_with(
        &dir.sqlite_url("wt.db"),
        SqliteOptions::default().write_through_interval(Duration::from_secs(3600)),
    )
    .await
    .unwrap();
    let first = record(0);
    store.save(&first).await.unwrap();
    store.flush().await.unwrap();
    // Break the database under the store: a table the write-through needs is gone.
    store
        .with_connection(|conn| {
            conn.execute_batch("ALTER TABLE bptl_timeline RENAME TO bptl_timeline_away")
        })
        .await
        .unwrap();
    let mut written = Vec::new();
    for i in 1..=20 {
        let mut r = record(i);
        r.status = TaskStatus::Performed;
        r.result_variables = Some(variables! { "i": i as i64 });
        store.save(&r).await.unwrap();
        store
            .append_timeline(&r.key(), &note("kept"))
            .await
            .unwrap();
        written.push(r);
    }
    let err = store.flush().await.unwrap_err().to_string();
    assert!(err.contains("no such table: bptl_timeline"), "{err}");
    // Nothing is lost meanwhile: the store still answers with every write.
    for r in &written {
        assert_eq!(store.get(&r.key()).await.unwrap().as_ref(), Some(r));
    }
    assert_eq!(records_in_file(&dir), 1);
    // The database accepts writes again: the next write-through writes everything.
    store
        .with_connection(|conn| {
            conn.execute_batch("ALTER TABLE bptl_timeline_away RENAME TO bptl_timeline")
        })
        .await
        .unwrap();
    store.flush().await.unwrap();
    assert_eq!(records_in_file(&dir), 21);
    let listed = store
        .list(&TaskFilter::default().status(TaskStatus::Performed))
        .await
        .unwrap();
    assert_eq!(listed.len(), 20);
    for r in &written {
        let timeline = store.timeline(&r.key()).await.unwrap();
        assert_eq!(
            timeline
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>(),
            ["kept"]
        );
    }
    store.close().await;
    // Closed cleanly: no log or lock file is left next to the database.
    let leftovers: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("-bptl-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
