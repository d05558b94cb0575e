//! The SQLite store as SQLite is meant to be used: a write that returned is committed and seen by
//! every other connection at once, nothing but SQLite's own files sits beside the database, and a
//! database that refuses writes (full) loses nothing and refuses claims with the reason.
#![allow(clippy::unwrap_used)]

mod support;

use bptl_core::store::{Claim, StoreError, TaskFilter, TaskRecord, TaskStore};
use bptl_core::{EventKind, InMemoryTask, TaskStatus, TimelineEntry, variables};
use bptl_store::SqliteStore;
use sqlx::{ConnectOptions as _, Connection as _};
use support::TempDir;

fn record(topic: &str) -> TaskRecord {
    TaskRecord::from_task(&InMemoryTask::new(topic, variables! { "a": 1 }), "w")
}

fn note(message: &str) -> TimelineEntry {
    TimelineEntry {
        at: jiff::Timestamp::now(),
        kind: EventKind::Note,
        message: message.to_owned(),
        data: serde_json::json!({ "m": message }),
    }
}

/// A connection of our own to the file: what another process sees.
async fn other_process(url: &str) -> sqlx::SqliteConnection {
    url.parse::<sqlx::sqlite::SqliteConnectOptions>()
        .unwrap()
        .connect()
        .await
        .unwrap()
}

async fn status_seen_by(conn: &mut sqlx::SqliteConnection, r: &TaskRecord) -> Option<String> {
    sqlx::query_scalar("SELECT status FROM bptl_tasks WHERE engine = $1 AND task_id = $2")
        .bind(&r.engine)
        .bind(&r.task_id)
        .fetch_optional(conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_returned_is_seen_by_other_processes_at_once() {
    let dir = TempDir::new();
    let url = dir.sqlite_url("bptl.db");
    let store = SqliteStore::connect(&url).await.unwrap();
    let operator = SqliteStore::connect(&url).await.unwrap();
    let mut raw = other_process(&url).await;

    let fetched = record("seen");
    let Claim::Run {
        record: mut claimed,
        ..
    } = store.claim(&fetched).await.unwrap()
    else {
        panic!("a new task is claimed");
    };
    assert_eq!(
        status_seen_by(&mut raw, &fetched).await.as_deref(),
        Some("in_progress")
    );
    claimed.status = TaskStatus::Performed;
    claimed.result_variables = Some(variables! { "r": 2 });
    store.save(&claimed).await.unwrap();
    assert_eq!(
        status_seen_by(&mut raw, &fetched).await.as_deref(),
        Some("performed")
    );
    assert_eq!(
        operator.get(&fetched.key()).await.unwrap(),
        Some(claimed.clone())
    );
    store
        .append_timeline(&fetched.key(), &note("one"))
        .await
        .unwrap();
    store
        .append_timelines(&[(fetched.key(), note("two"))])
        .await
        .unwrap();
    let messages: Vec<String> = operator
        .timeline(&fetched.key())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.message)
        .collect();
    assert_eq!(messages, ["one", "two"]);
    // And the other way round: the operator's reset is what the worker's next claim sees.
    assert!(
        operator
            .reset_status(&fetched.key(), TaskStatus::Initial)
            .await
            .unwrap()
    );
    assert!(matches!(
        store.claim(&fetched).await.unwrap(),
        Claim::Run { previous: Some(TaskStatus::Initial), record } if record.executions == 2
    ));

    // Beside the database: SQLite's own files only.
    let mut files: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["bptl.db", "bptl.db-shm", "bptl.db-wal"]);
    raw.close().await.unwrap();
    operator.close().await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_database_refuses_writes_with_the_reason_and_loses_nothing() {
    let dir = TempDir::new();
    let url = dir.sqlite_url("full.db");
    // A database that may not grow beyond 24 pages of 16 KiB: like a full disk.
    let store = SqliteStore::connect_with(&url, |o| o.pragma("max_page_count", "24"))
        .await
        .unwrap();
    let big = "x".repeat(20_000);
    let mut accepted = Vec::new();
    let refusal = loop {
        assert!(accepted.len() < 500, "the database never filled up");
        let mut r = record("full");
        r.status = TaskStatus::Performed;
        r.result_variables = Some(variables! { "big": big.clone() });
        match store.save(&r).await {
            Ok(()) => {
                store
                    .append_timeline(&r.key(), &note("kept"))
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                accepted.push(r);
            }
            Err(e) => break e,
        }
    };
    let text = refusal.to_string();
    assert!(matches!(refusal, StoreError::Full { .. }), "{text}");
    assert!(text.contains(&url), "{text}");
    assert!(text.contains("free disk space"), "{text}");
    assert!(!accepted.is_empty());

    // Claims are refused with the reason (the runtime then does not run the unit).
    let mut fetched = record("full");
    fetched.variables = serde_json::json!({ "big": big });
    let err = store.claim(&fetched).await.unwrap_err();
    assert!(matches!(err, StoreError::Full { .. }), "{err}");
    assert!(
        err.to_string().contains("database or disk is full"),
        "{err}"
    );

    // Everything accepted before is there, whole.
    for r in &accepted {
        assert_eq!(store.get(&r.key()).await.unwrap().as_ref(), Some(r));
    }
    store.close().await;
    let reopened = SqliteStore::connect(&url).await.unwrap();
    assert_eq!(
        reopened
            .list(&TaskFilter::default().status(TaskStatus::Performed))
            .await
            .unwrap()
            .len(),
        accepted.len()
    );
    for r in &accepted {
        assert_eq!(reopened.get(&r.key()).await.unwrap().as_ref(), Some(r));
        assert_eq!(reopened.timeline(&r.key()).await.unwrap().len(), 1);
    }
    assert_eq!(reopened.get(&fetched.key()).await.unwrap(), None);
    // With room again, the refused claim succeeds.
    assert!(matches!(
        reopened.claim(&fetched).await.unwrap(),
        Claim::Run { previous: None, .. }
    ));
    reopened.close().await;
}
