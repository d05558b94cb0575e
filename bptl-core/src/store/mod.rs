//! Task records: what the worker writes down about every task it fetches, and the
//! [`TaskStore`] trait stores implement.
//!
//! The worker runtime [claims](TaskStore::claim) a task's record **before** its unit runs (one
//! atomic write: the record is stored `in_progress`, or found `performed`), keeps the status,
//! result variables, errors and timeline up to date, and consults the record when a task comes
//! back:
//!
//! * a task fetched again whose record is `performed` is completed from the stored result
//!   without running the unit again (exactly-once completion);
//! * at start-up, records that are `performed` but not `completed` are completed with their
//!   stored result under the worker id that fetched them. In a store shared by several
//!   worker processes ([`TaskStore::shared_by_processes`]) only this worker's own records and
//!   those whose lock expired: another worker's task with a live lock is left to it;
//! * records left `in_progress` by a crash (lock expired, nobody heartbeating) are marked
//!   abandoned on their timeline and run again when the engine hands the task out again. This
//!   is the only case in which a unit runs twice; the record's `executions` count shows it.
//!
//! [`InMemoryStore`] is the default. Persistent stores (SQLite, PostgreSQL) implement the same
//! trait in their own crate; [`encode_variables`] / [`decode_variables`] give them a lossless
//! JSON form of [`Variables`] to put in a column.
//!
//! ```
//! use bptl_core::store::{InMemoryStore, TaskFilter, TaskKey, TaskRecord, TaskStore};
//! use bptl_core::{variables, InMemoryTask, TaskStatus};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let store = InMemoryStore::new();
//! let task = InMemoryTask::new("double", variables! { "amount": 21 }).into_ref();
//! let mut record = TaskRecord::from_task(&*task, "worker-1");
//! store.save(&record).await.unwrap();
//!
//! record.status = TaskStatus::Performed;
//! record.result_variables = Some(variables! { "doubled": 42 });
//! store.save(&record).await.unwrap();
//!
//! let stored = store.get(&record.key()).await.unwrap().unwrap();
//! assert_eq!(stored.status, TaskStatus::Performed);
//! let performed = store.list(&TaskFilter::default().status(TaskStatus::Performed)).await.unwrap();
//! assert_eq!(performed.len(), 1);
//! # }
//! ```

mod codec;
mod contract;
mod counts;
mod error;
mod filter;
mod memory;
mod record;

pub use codec::{decode_variables, encode_variables};
pub use contract::{Claim, TaskStore};
pub use counts::{
    HOUR_NANOS, HourlyOutcome, HourlyRow, StatsRow, hour_of, hourly_rows, is_bpmn_error, sum_hourly,
};
pub use error::StoreError;
pub use filter::TaskFilter;
pub use memory::{InMemoryStore, supersedes};
pub use record::{TaskKey, TaskRecord};
