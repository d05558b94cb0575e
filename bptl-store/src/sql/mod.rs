//! What the SQLite and PostgreSQL stores share: the statements (both take `$N` placeholders),
//! conversions between records and columns, error kinds, and a macro that implements
//! [`TaskStore`](bptl_core::store::TaskStore) for a store holding `sqlx` pools: its reads
//! ([`reads`]) and writes ([`writes`]) are written once for both databases.

mod columns;
mod error;
mod reads;
mod statements;
mod writes;

pub(crate) use columns::{
    ClaimRow, Columns, PoolDb, Previous, TimelineRow, from_nanos, parse_json, parse_status,
    to_nanos,
};
pub(crate) use error::db_error;
pub(crate) use reads::impl_reads;
pub(crate) use statements::{COLUMNS, Statement, insert_new_sql, statement};
pub(crate) use writes::impl_writes;

/// Implements `TaskStore` for `$store`, a struct with fields `reader` and `writer`
/// (`sqlx::Pool<$db>`), `commit` (`Arc<GroupCommit>`) and `name` (`Arc<str>`, the redacted URL),
/// and with associated constants `BEGIN` (the statement opening a write transaction) and
/// `SQLITE` (SQLite's statements: anonymous placeholders, claims that read the previous
/// statuses before their upsert).
macro_rules! impl_task_store {
    ($store:ty, $db:ty) => {
        $crate::sql::impl_reads!($store, $db);
        $crate::sql::impl_writes!($store, $db);

        impl $store {
            /// A store reading through `reader` and writing through `writer` (its group-commit
            /// writer takes one connection per batch).
            fn from_pools(reader: sqlx::Pool<$db>, writer: sqlx::Pool<$db>, name: String) -> Self {
                let name: std::sync::Arc<str> = name.into();
                let db = $crate::sql::PoolDb {
                    pool: writer.clone(),
                    name: std::sync::Arc::clone(&name),
                };
                Self {
                    reader,
                    writer,
                    commit: std::sync::Arc::new($crate::group::GroupCommit::new(
                        std::sync::Arc::new(db),
                    )),
                    name,
                }
            }

            /// `result`, its error naming this store: every `TaskStore` call ends here.
            fn named<T>(
                &self,
                result: Result<T, bptl_core::store::StoreError>,
            ) -> Result<T, bptl_core::store::StoreError> {
                result.map_err(|e| e.in_store(&self.name))
            }

            /// The fresh record a claim of `record` stores when the unit is to run (the
            /// statement keeps the stored `created_at` and counts `executions` on).
            fn claim_row(
                record: &bptl_core::store::TaskRecord,
            ) -> Result<$crate::sql::ClaimRow, bptl_core::store::StoreError> {
                let mut fresh = record.clone();
                fresh.status = bptl_core::TaskStatus::InProgress;
                fresh.executions = 1;
                fresh.result_variables = None;
                fresh.execution_error = None;
                fresh.reported_at = None;
                Ok($crate::sql::ClaimRow {
                    columns: $crate::sql::Columns::new(&fresh)?,
                    record: fresh,
                })
            }
        }

        #[async_trait::async_trait]
        impl bptl_core::store::TaskStore for $store {
            /// SQLite: one worker process per file; PostgreSQL: a fleet.
            fn shared_by_processes(&self) -> bool {
                !Self::SQLITE
            }

            async fn save(
                &self,
                record: &bptl_core::store::TaskRecord,
            ) -> Result<(), bptl_core::store::StoreError> {
                let columns = self.named($crate::sql::Columns::new(record))?;
                self.named(self.commit.save(columns).await)
            }

            async fn insert_new(
                &self,
                record: &bptl_core::store::TaskRecord,
            ) -> Result<bool, bptl_core::store::StoreError> {
                let columns = self.named($crate::sql::Columns::new(record))?;
                self.named(self.insert_new_inner(&columns).await)
            }

            async fn get(
                &self,
                key: &bptl_core::store::TaskKey,
            ) -> Result<Option<bptl_core::store::TaskRecord>, bptl_core::store::StoreError> {
                self.named(Self::get_on(&self.reader, &key.engine, &key.task_id).await)
            }

            async fn list(
                &self,
                filter: &bptl_core::store::TaskFilter,
            ) -> Result<Vec<bptl_core::store::TaskRecord>, bptl_core::store::StoreError> {
                self.named(self.list_inner(filter).await)
            }

            async fn append_timeline(
                &self,
                key: &bptl_core::store::TaskKey,
                entry: &bptl_core::TimelineEntry,
            ) -> Result<(), bptl_core::store::StoreError> {
                self.append_timelines(&[(key.clone(), entry.clone())]).await
            }

            async fn append_timelines(
                &self,
                entries: &[(bptl_core::store::TaskKey, bptl_core::TimelineEntry)],
            ) -> Result<(), bptl_core::store::StoreError> {
                // An entry for an unknown record is dropped (the INSERT selects no row).
                let rows = entries
                    .iter()
                    .map(|(key, entry)| $crate::sql::TimelineRow::new(key, entry))
                    .collect::<Result<Vec<_>, _>>();
                let rows = self.named(rows)?;
                self.named(self.commit.timeline(rows).await)
            }

            async fn timeline(
                &self,
                key: &bptl_core::store::TaskKey,
            ) -> Result<Vec<bptl_core::TimelineEntry>, bptl_core::store::StoreError> {
                self.named(self.timeline_inner(key).await)
            }

            async fn stats(
                &self,
                since: Option<jiff::Timestamp>,
            ) -> Result<Vec<bptl_core::StatsRow>, bptl_core::store::StoreError> {
                self.named(self.stats_inner(since).await)
            }

            async fn hourly(
                &self,
                since: jiff::Timestamp,
            ) -> Result<Vec<bptl_core::HourlyRow>, bptl_core::store::StoreError> {
                self.named(self.hourly_inner(since).await)
            }

            async fn prune_completed(
                &self,
                before: jiff::Timestamp,
            ) -> Result<u64, bptl_core::store::StoreError> {
                let cutoff = self.named($crate::sql::to_nanos(before))?;
                self.named(
                    self.delete_records(
                        "pruning completed task records",
                        "status = 'completed' AND updated_at < $1",
                        cutoff,
                    )
                    .await,
                )
            }

            async fn prune_failed(
                &self,
                before: jiff::Timestamp,
            ) -> Result<u64, bptl_core::store::StoreError> {
                let cutoff = self.named($crate::sql::to_nanos(before))?;
                self.named(
                    self.delete_records(
                        "pruning failed task records",
                        "status = 'failed' AND updated_at < $1",
                        cutoff,
                    )
                    .await,
                )
            }

            async fn erase_process_instance(
                &self,
                process_instance_id: &str,
            ) -> Result<u64, bptl_core::store::StoreError> {
                self.named(
                    self.delete_records(
                        "erasing a process instance's task records",
                        "process_instance_id = $1",
                        process_instance_id.to_owned(),
                    )
                    .await,
                )
            }

            async fn close(&self) {
                self.writer.close().await;
                self.reader.close().await;
            }

            async fn reset_status(
                &self,
                key: &bptl_core::store::TaskKey,
                status: bptl_core::TaskStatus,
            ) -> Result<bool, bptl_core::store::StoreError> {
                self.named(self.reset_inner(key, status).await)
            }

            async fn claim(
                &self,
                record: &bptl_core::store::TaskRecord,
            ) -> Result<bptl_core::store::Claim, bptl_core::store::StoreError> {
                let row = self.named(Self::claim_row(record))?;
                self.named(self.commit.claim(row).await)
            }
        }
    };
}

pub(crate) use impl_task_store;
