//! One behaviour suite for every `TaskStore`: core's `InMemoryStore`, `SqliteStore` (a file in
//! a temporary directory) and `PostgresStore` (a fresh database on the test server per test).
#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

mod claim;
mod prune;
mod queries;
mod records;
mod timeline;

use std::sync::Arc;

use bptl_core::store::{Claim, StatsRow, TaskFilter, TaskKey, TaskRecord, TaskStore};
use bptl_core::{
    EventKind, InMemoryStore, InMemoryTask, TaskStatus, TimelineEntry, Value, variables,
};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use claim::*;
use prune::*;
use queries::*;
use records::*;
use support::{TempDir, TestDatabase};
use timeline::*;

struct Fixture {
    store: Arc<dyn TaskStore>,
    _db: Option<TestDatabase>,
    _dir: Option<TempDir>,
}

async fn memory() -> Fixture {
    Fixture {
        store: Arc::new(InMemoryStore::new()),
        _db: None,
        _dir: None,
    }
}

async fn sqlite() -> Fixture {
    let dir = TempDir::new();
    let store = bptl_store::connect(&dir.sqlite_url("bptl.db"))
        .await
        .unwrap();
    Fixture {
        store,
        _db: None,
        _dir: Some(dir),
    }
}

async fn postgres() -> Fixture {
    let db = TestDatabase::create().await;
    let store = bptl_store::connect(&db.url).await.unwrap();
    Fixture {
        store,
        _db: Some(db),
        _dir: None,
    }
}

/// Runs every check against every store.
macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod memory_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $check() {
                    let f = super::memory().await;
                    super::$check(Arc::clone(&f.store)).await;
                }
            )*
            use std::sync::Arc;
        }
        mod sqlite_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $check() {
                    let f = super::sqlite().await;
                    super::$check(Arc::clone(&f.store)).await;
                }
            )*
            use std::sync::Arc;
        }
        mod postgres_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $check() {
                    let f = super::postgres().await;
                    super::$check(Arc::clone(&f.store)).await;
                }
            )*
            use std::sync::Arc;
        }
    };
}

conformance!(
    a_record_round_trips_exactly,
    save_replaces_the_record_and_keeps_the_timeline,
    timeline_is_ordered_and_drops_unknown_keys,
    list_filters_newest_first_and_pages,
    stats_count_per_topic_and_status,
    prune_deletes_only_old_completed_records_with_their_timelines,
    reset_status_changes_only_the_status,
    claim_decides_whether_the_unit_runs,
    concurrent_claims_of_one_task_are_serial,
    concurrent_claims_never_rerun_a_performed_task,
    concurrent_writes_of_many_tasks_stay_apart,
    batched_timeline_entries_keep_their_order,
    a_stale_save_never_overwrites_a_newer_run,
    process_instances_that_end_alike_are_told_apart,
    list_filters_by_business_key,
    hourly_counts_outcomes_per_hour_of_fetching,
    a_save_keeps_what_identifies_the_task,
    insert_new_takes_a_key_exactly_once,
    prune_failed_deletes_only_old_failed_records_with_their_timelines,
    erasing_a_process_instance_deletes_all_its_records_and_timelines,
);

fn record(topic: &str) -> TaskRecord {
    TaskRecord::from_task(&InMemoryTask::new(topic, variables! {}), "worker-1")
}

fn entry(kind: EventKind, message: &str, data: serde_json::Value) -> TimelineEntry {
    TimelineEntry {
        at: Timestamp::now(),
        kind,
        message: message.to_owned(),
        data,
    }
}
