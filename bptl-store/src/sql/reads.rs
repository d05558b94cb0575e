//! The reads of both stores (`impl_reads!`): records, lists, timelines and counts, through
//! the reader pool.

/// Implements the reads of `$store` (see [`impl_task_store!`](super::impl_task_store)).
macro_rules! impl_reads {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn get_on<'e, E>(
                executor: E,
                engine: &str,
                task_id: &str,
            ) -> Result<Option<bptl_core::store::TaskRecord>, bptl_core::store::StoreError>
            where
                E: sqlx::Executor<'e, Database = $db>,
            {
                static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                let sql = SQL.get_or_init(|| {
                    format!(
                        "SELECT {} FROM bptl_tasks WHERE engine = $1 AND task_id = $2",
                        $crate::sql::COLUMNS
                    )
                });
                let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(engine)
                    .bind(task_id)
                    .fetch_optional(executor)
                    .await
                    .map_err(|e| $crate::sql::db_error("reading a task record", e))?;
                row.as_ref().map(Self::read_record).transpose()
            }

            /// A row the claim statement returned: the unit runs.
            fn read_claimed(
                row: &<$db as sqlx::Database>::Row,
            ) -> Result<bptl_core::store::Claim, bptl_core::store::StoreError> {
                use sqlx::Row as _;
                let previous: Option<String> = row
                    .try_get("previous_status")
                    .map_err(|e| $crate::sql::db_error("claiming a task record", e))?;
                Ok(bptl_core::store::Claim::Run {
                    record: Self::read_record(row)?,
                    previous: previous
                        .as_deref()
                        .map($crate::sql::parse_status)
                        .transpose()?,
                })
            }

            fn read_record(
                row: &<$db as sqlx::Database>::Row,
            ) -> Result<bptl_core::store::TaskRecord, bptl_core::store::StoreError> {
                use sqlx::Row as _;
                let get = |e: sqlx::Error| $crate::sql::db_error("reading a task record", e);
                $crate::sql::Columns {
                    engine: row.try_get("engine").map_err(get)?,
                    task_id: row.try_get("task_id").map_err(get)?,
                    topic: row.try_get("topic").map_err(get)?,
                    worker_id: row.try_get("worker_id").map_err(get)?,
                    process_instance_id: row.try_get("process_instance_id").map_err(get)?,
                    business_key: row.try_get("business_key").map_err(get)?,
                    priority: row.try_get("priority").map_err(get)?,
                    retries: row.try_get("retries").map_err(get)?,
                    lock_expires_at: row.try_get("lock_expires_at").map_err(get)?,
                    variables: row.try_get("variables").map_err(get)?,
                    status: std::borrow::Cow::Owned(row.try_get("status").map_err(get)?),
                    result_variables: row.try_get("result_variables").map_err(get)?,
                    execution_error: row.try_get("execution_error").map_err(get)?,
                    engine_error: row.try_get("engine_error").map_err(get)?,
                    executions: row.try_get("executions").map_err(get)?,
                    created_at: row.try_get("created_at").map_err(get)?,
                    updated_at: row.try_get("updated_at").map_err(get)?,
                    reported_at: row.try_get("reported_at").map_err(get)?,
                }
                .into_record()
            }

            async fn list_inner(
                &self,
                filter: &bptl_core::store::TaskFilter,
            ) -> Result<Vec<bptl_core::store::TaskRecord>, bptl_core::store::StoreError> {
                let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {} FROM bptl_tasks WHERE 1 = 1",
                    $crate::sql::COLUMNS
                ));
                if let Some(engine) = &filter.engine {
                    q.push(" AND engine = ").push_bind(engine.clone());
                }
                if !filter.statuses.is_empty() {
                    q.push(" AND status IN (");
                    let mut sep = q.separated(", ");
                    for status in &filter.statuses {
                        sep.push_bind(status.as_str());
                    }
                    q.push(")");
                }
                if let Some(topic) = &filter.topic {
                    q.push(" AND topic = ").push_bind(topic.clone());
                }
                if let Some(pi) = &filter.process_instance_id {
                    q.push(" AND process_instance_id = ").push_bind(pi.clone());
                }
                if let Some(key) = &filter.business_key {
                    q.push(" AND business_key = ").push_bind(key.clone());
                }
                if let Some(since) = filter.since {
                    q.push(" AND created_at >= ")
                        .push_bind($crate::sql::to_nanos(since)?);
                }
                q.push(" ORDER BY created_at DESC, seq DESC");
                if let Some(limit) = filter.limit {
                    q.push(" LIMIT ")
                        .push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
                } else if filter.offset > 0 {
                    q.push(" LIMIT ").push_bind(i64::MAX);
                }
                if filter.offset > 0 {
                    q.push(" OFFSET ")
                        .push_bind(i64::try_from(filter.offset).unwrap_or(i64::MAX));
                }
                let rows = q
                    .build()
                    .fetch_all(&self.reader)
                    .await
                    .map_err(|e| $crate::sql::db_error("listing task records", e))?;
                rows.iter().map(Self::read_record).collect()
            }

            async fn timeline_inner(
                &self,
                key: &bptl_core::store::TaskKey,
            ) -> Result<Vec<bptl_core::TimelineEntry>, bptl_core::store::StoreError> {
                use sqlx::Row as _;
                let rows = sqlx::query(
                    "SELECT l.at, l.kind, l.message, l.data FROM bptl_timeline l \
                     JOIN bptl_tasks t ON t.seq = l.task_seq \
                     WHERE t.engine = $1 AND t.task_id = $2 ORDER BY l.id",
                )
                .bind(&key.engine)
                .bind(&key.task_id)
                .fetch_all(&self.reader)
                .await
                .map_err(|e| $crate::sql::db_error("reading a task's timeline", e))?;
                let get = |e: sqlx::Error| $crate::sql::db_error("reading a task's timeline", e);
                rows.iter()
                    .map(|row| {
                        let at: i64 = row.try_get("at").map_err(get)?;
                        let kind: String = row.try_get("kind").map_err(get)?;
                        let data: String = row.try_get("data").map_err(get)?;
                        Ok(bptl_core::TimelineEntry {
                            at: $crate::sql::from_nanos(at, "timeline at")?,
                            kind: bptl_core::EventKind::parse(&kind),
                            message: row.try_get("message").map_err(get)?,
                            data: $crate::sql::parse_json(&data, "timeline data")?,
                        })
                    })
                    .collect()
            }

            async fn stats_inner(
                &self,
                since: Option<jiff::Timestamp>,
            ) -> Result<Vec<bptl_core::StatsRow>, bptl_core::store::StoreError> {
                use sqlx::Row as _;
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT topic, status, COUNT(*) AS n FROM bptl_tasks",
                );
                if let Some(since) = since {
                    q.push(" WHERE created_at >= ")
                        .push_bind($crate::sql::to_nanos(since)?);
                }
                q.push(" GROUP BY topic, status");
                let rows = q
                    .build()
                    .fetch_all(&self.reader)
                    .await
                    .map_err(|e| $crate::sql::db_error("counting task records", e))?;
                let get = |e: sqlx::Error| $crate::sql::db_error("counting task records", e);
                let mut stats = rows
                    .iter()
                    .map(|row| {
                        let status: String = row.try_get("status").map_err(get)?;
                        let count: i64 = row.try_get("n").map_err(get)?;
                        Ok(bptl_core::StatsRow {
                            topic: row.try_get("topic").map_err(get)?,
                            status: $crate::sql::parse_status(&status)?,
                            count: u64::try_from(count).unwrap_or(0),
                        })
                    })
                    .collect::<Result<Vec<_>, bptl_core::store::StoreError>>()?;
                // Lifecycle order of statuses, as the trait promises (SQL would sort by name).
                stats.sort();
                Ok(stats)
            }

            async fn hourly_inner(
                &self,
                since: jiff::Timestamp,
            ) -> Result<Vec<bptl_core::HourlyRow>, bptl_core::store::StoreError> {
                use sqlx::Row as _;
                let since = $crate::sql::to_nanos(bptl_core::store::hour_of(since))?;
                let rows = sqlx::query(
                    "SELECT created_at / 3600000000000 AS h, \
                     CASE WHEN status = 'completed' THEN 'c' \
                     WHEN substr(execution_error, 1, 11) = 'BPMN error ' THEN 'b' \
                     ELSE 'f' END AS k, COUNT(*) AS n FROM bptl_tasks \
                     WHERE created_at >= $1 AND status IN ('completed', 'failed') \
                     GROUP BY h, k",
                )
                .bind(since)
                .fetch_all(&self.reader)
                .await
                .map_err(|e| $crate::sql::db_error("counting task records per hour", e))?;
                let get =
                    |e: sqlx::Error| $crate::sql::db_error("counting task records per hour", e);
                let counts = rows
                    .iter()
                    .map(|row| {
                        let h: i64 = row.try_get("h").map_err(get)?;
                        let k: String = row.try_get("k").map_err(get)?;
                        let n: i64 = row.try_get("n").map_err(get)?;
                        let outcome = match k.as_str() {
                            "c" => bptl_core::store::HourlyOutcome::Completed,
                            "b" => bptl_core::store::HourlyOutcome::BpmnError,
                            _ => bptl_core::store::HourlyOutcome::Failed,
                        };
                        let at = $crate::sql::from_nanos(
                            h.saturating_mul(bptl_core::store::HOUR_NANOS),
                            "created_at",
                        )?;
                        Ok((at, outcome, u64::try_from(n).unwrap_or(0)))
                    })
                    .collect::<Result<Vec<_>, bptl_core::store::StoreError>>()?;
                Ok(bptl_core::store::sum_hourly(counts))
            }
        }
    };
}

pub(crate) use impl_reads;
