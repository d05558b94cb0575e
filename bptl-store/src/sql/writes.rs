//! The writes of both stores (`impl_writes!`): the batches the group commit hands over
//! (claims, saves, timeline entries), pruning and status resets, through the writer pool.

/// Implements the writes of `$store` (see [`impl_task_store!`](super::impl_task_store)).
macro_rules! impl_writes {
    ($store:ty, $db:ty) => {
        impl $store {
            fn bind_ref<'q>(
                query: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments>,
                b: &'q $crate::sql::Columns,
            ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments> {
                query
                    .bind(&b.engine)
                    .bind(&b.task_id)
                    .bind(&b.topic)
                    .bind(&b.worker_id)
                    .bind(&b.process_instance_id)
                    .bind(&b.business_key)
                    .bind(b.priority)
                    .bind(b.retries)
                    .bind(b.lock_expires_at)
                    .bind(&b.variables)
                    .bind(b.status.as_ref())
                    .bind(&b.result_variables)
                    .bind(&b.execution_error)
                    .bind(&b.engine_error)
                    .bind(b.executions)
                    .bind(b.created_at)
                    .bind(b.updated_at)
                    .bind(b.reported_at)
            }

            /// What is stored of the records of `chunk` now (SQLite reads it inside the claim's
            /// transaction, before its upsert).
            async fn previous(
                conn: &mut <$db as sqlx::Database>::Connection,
                chunk: &[&$crate::sql::ClaimRow],
            ) -> Result<
                std::collections::HashMap<(String, String), $crate::sql::Previous>,
                bptl_core::store::StoreError,
            > {
                use sqlx::Row as _;
                let mut query = sqlx::query($crate::sql::statement(
                    $crate::sql::Statement::Previous,
                    chunk.len(),
                    Self::SQLITE,
                ));
                for c in chunk {
                    query = query.bind(&c.columns.engine).bind(&c.columns.task_id);
                }
                let found = query
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(|e| $crate::sql::db_error("claiming task records", e))?;
                let get = |e: sqlx::Error| $crate::sql::db_error("claiming task records", e);
                let mut out = std::collections::HashMap::with_capacity(found.len());
                for row in &found {
                    let status: String = row.try_get("status").map_err(get)?;
                    let status = $crate::sql::parse_status(&status)?;
                    let executions: i64 = row.try_get("executions").map_err(get)?;
                    let created_at: i64 = row.try_get("created_at").map_err(get)?;
                    let has_result: bool = row.try_get("has_result").map_err(get)?;
                    out.insert(
                        (
                            row.try_get("engine").map_err(get)?,
                            row.try_get("task_id").map_err(get)?,
                        ),
                        $crate::sql::Previous {
                            status,
                            executions: u32::try_from(executions.max(0)).unwrap_or(u32::MAX),
                            created_at: $crate::sql::from_nanos(created_at, "created_at")?,
                            performed: has_result && status.keeps_result(),
                        },
                    );
                }
                Ok(out)
            }

            /// The outcome of a claim whose upsert returned no row (PostgreSQL): the record is
            /// performed (or was pruned in between, then it is claimed again).
            async fn claim_outcome(
                conn: &mut <$db as sqlx::Database>::Connection,
                b: &$crate::sql::Columns,
            ) -> Result<bptl_core::store::Claim, bptl_core::store::StoreError> {
                for _ in 0..3 {
                    let stored = Self::get_on(&mut *conn, &b.engine, &b.task_id).await?;
                    if let Some(stored) = &stored
                        && stored.claim_refused()
                    {
                        return Ok(bptl_core::store::Claim::Performed(stored.clone()));
                    }
                    let row = Self::bind_ref(
                        sqlx::query($crate::sql::statement(
                            $crate::sql::Statement::Claim,
                            1,
                            Self::SQLITE,
                        )),
                        b,
                    )
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(|e| $crate::sql::db_error("claiming a task record", e))?;
                    if let Some(row) = row {
                        return Self::read_claimed(&row);
                    }
                }
                Err(bptl_core::store::StoreError::conflict(format!(
                    "claiming task record {}:{}: it keeps disappearing (is something pruning it?)",
                    b.engine, b.task_id
                )))
            }

            /// Claim `chunk` (distinct keys) with the upsert that returns the claimed rows
            /// and their previous status (PostgreSQL).
            async fn claim_chunk_returning(
                conn: &mut <$db as sqlx::Database>::Connection,
                chunk: &[&$crate::sql::ClaimRow],
                claims: &mut Vec<bptl_core::store::Claim>,
            ) -> Result<(), bptl_core::store::StoreError> {
                let mut q = sqlx::query($crate::sql::statement(
                    $crate::sql::Statement::Claim,
                    chunk.len(),
                    Self::SQLITE,
                ));
                for c in chunk {
                    q = Self::bind_ref(q, &c.columns);
                }
                let rows = q
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(|e| $crate::sql::db_error("claiming task records", e))?;
                let mut run = std::collections::HashMap::with_capacity(rows.len());
                for row in &rows {
                    let claim = Self::read_claimed(row)?;
                    if let bptl_core::store::Claim::Run { record, .. } = &claim {
                        run.insert((record.engine.clone(), record.task_id.clone()), claim);
                    }
                }
                for c in chunk {
                    let b = &c.columns;
                    let claim = match run.remove(&(b.engine.clone(), b.task_id.clone())) {
                        Some(claim) => claim,
                        None => Self::claim_outcome(&mut *conn, b).await?,
                    };
                    claims.push(claim);
                }
                Ok(())
            }

            /// Claim `chunk` (distinct keys) in SQLite, inside the batch's transaction (which
            /// holds the write lock): read what is stored, upsert, and tell the outcome from
            /// what was read — the upsert changes exactly the records that were not performed,
            /// as the read predicts.
            async fn claim_chunk_sqlite(
                conn: &mut <$db as sqlx::Database>::Connection,
                chunk: &[&$crate::sql::ClaimRow],
                claims: &mut Vec<bptl_core::store::Claim>,
            ) -> Result<(), bptl_core::store::StoreError> {
                let previous = Self::previous(&mut *conn, chunk).await?;
                let mut q = sqlx::query($crate::sql::statement(
                    $crate::sql::Statement::Claim,
                    chunk.len(),
                    Self::SQLITE,
                ));
                for c in chunk {
                    q = Self::bind_ref(q, &c.columns);
                }
                q.execute(&mut *conn)
                    .await
                    .map_err(|e| $crate::sql::db_error("claiming task records", e))?;
                for c in chunk {
                    let key = (c.columns.engine.clone(), c.columns.task_id.clone());
                    claims.push(match previous.get(&key) {
                        Some(p) if p.performed => {
                            let stored = Self::get_on(&mut *conn, &key.0, &key.1).await?;
                            bptl_core::store::Claim::Performed(stored.ok_or_else(|| {
                                bptl_core::store::StoreError::other(format!(
                                    "claiming task record {}:{}: it vanished inside the transaction (a bug)",
                                    key.0, key.1
                                ))
                            })?)
                        }
                        Some(p) => {
                            let mut record = c.record.clone();
                            record.executions = p.executions.saturating_add(1);
                            record.created_at = p.created_at;
                            bptl_core::store::Claim::Run {
                                record,
                                previous: Some(p.status),
                            }
                        }
                        None => bptl_core::store::Claim::Run {
                            record: c.record.clone(),
                            previous: None,
                        },
                    });
                }
                Ok(())
            }

            /// Execute a batch's segments on `conn` (see `crate::group`).
            async fn write_segments(
                conn: &mut <$db as sqlx::Database>::Connection,
                segments: &[$crate::group::Segment<'_>],
            ) -> Result<Vec<bptl_core::store::Claim>, bptl_core::store::StoreError> {
                use $crate::group::chunks;
                let mut claims = Vec::new();
                for segment in segments {
                    for chunk in chunks(&segment.claims) {
                        if Self::SQLITE {
                            Self::claim_chunk_sqlite(&mut *conn, chunk, &mut claims).await?;
                        } else {
                            Self::claim_chunk_returning(&mut *conn, chunk, &mut claims).await?;
                        }
                    }
                    for chunk in chunks(&segment.saves) {
                        let mut q = sqlx::query($crate::sql::statement(
                            $crate::sql::Statement::Save,
                            chunk.len(),
                            Self::SQLITE,
                        ));
                        for b in chunk {
                            q = Self::bind_ref(q, b);
                        }
                        q.execute(&mut *conn)
                            .await
                            .map_err(|e| $crate::sql::db_error("saving task records", e))?;
                    }
                    for chunk in chunks(&segment.timeline) {
                        let mut q = sqlx::query($crate::sql::statement(
                            $crate::sql::Statement::Timeline,
                            chunk.len(),
                            Self::SQLITE,
                        ));
                        for (i, row) in chunk.iter().enumerate() {
                            q = q
                                .bind(&row.engine)
                                .bind(&row.task_id)
                                .bind(row.at)
                                .bind(row.kind)
                                .bind(&row.message)
                                .bind(&row.data)
                                .bind(i64::try_from(i).unwrap_or(i64::MAX));
                        }
                        q.execute(&mut *conn)
                            .await
                            .map_err(|e| $crate::sql::db_error("appending to task timelines", e))?;
                    }
                }
                Ok(claims)
            }

            /// Delete the records matching `condition` (on `bptl_tasks`, binding `$1` to
            /// `value`) and their timelines, in one transaction; returns how many records.
            async fn delete_records<T>(
                &self,
                operation: &str,
                condition: &str,
                value: T,
            ) -> Result<u64, bptl_core::store::StoreError>
            where
                T: for<'q> sqlx::Encode<'q, $db> + sqlx::Type<$db> + Clone + Send + 'static,
            {
                // The timeline goes with its record, in the same transaction (SQLite does not
                // enforce the reference: the store checks it when it appends).
                let error = |e| $crate::sql::db_error(operation, e);
                let mut tx = self.writer.begin_with(Self::BEGIN).await.map_err(error)?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM bptl_timeline WHERE task_seq IN \
                     (SELECT seq FROM bptl_tasks WHERE {condition})"
                )))
                .bind(value.clone())
                .execute(&mut *tx)
                .await
                .map_err(error)?;
                let done = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM bptl_tasks WHERE {condition}"
                )))
                .bind(value)
                .execute(&mut *tx)
                .await
                .map_err(error)?;
                tx.commit().await.map_err(error)?;
                Ok(done.rows_affected())
            }

            /// `insert_new`: one `INSERT ... ON CONFLICT DO NOTHING` on the writer pool, outside
            /// the group commit (the caller waits for its answer: it decides who runs a unit).
            async fn insert_new_inner(
                &self,
                b: &$crate::sql::Columns,
            ) -> Result<bool, bptl_core::store::StoreError> {
                let done = Self::bind_ref(sqlx::query($crate::sql::insert_new_sql()), b)
                    .execute(&self.writer)
                    .await
                    .map_err(|e| $crate::sql::db_error("inserting a new task record", e))?;
                Ok(done.rows_affected() == 1)
            }

            async fn reset_inner(
                &self,
                key: &bptl_core::store::TaskKey,
                status: bptl_core::TaskStatus,
            ) -> Result<bool, bptl_core::store::StoreError> {
                let done = sqlx::query(
                    "UPDATE bptl_tasks SET status = $3, updated_at = $4 \
                     WHERE engine = $1 AND task_id = $2",
                )
                .bind(&key.engine)
                .bind(&key.task_id)
                .bind(status.as_str())
                .bind($crate::sql::to_nanos(jiff::Timestamp::now())?)
                .execute(&self.writer)
                .await
                .map_err(|e| $crate::sql::db_error("resetting a task's status", e))?;
                Ok(done.rows_affected() > 0)
            }
        }


        #[async_trait::async_trait]
        impl $crate::group::BatchDb for $crate::sql::PoolDb<$db> {
            async fn write(
                &self,
                segments: &[$crate::group::Segment<'_>],
                transaction: bool,
            ) -> Result<Vec<bptl_core::store::Claim>, bptl_core::store::StoreError> {
                let result = async {
                    let error = |e| $crate::sql::db_error("writing task records", e);
                    let mut conn = self.pool.acquire().await.map_err(error)?;
                    // A SQLite claim reads what is stored first: both in one transaction.
                    let transaction = transaction
                        || (<$store>::SQLITE && segments.iter().any(|s| !s.claims.is_empty()));
                    if !transaction {
                        return <$store>::write_segments(&mut *conn, segments).await;
                    }
                    let mut tx = sqlx::Connection::begin_with(&mut *conn, <$store>::BEGIN)
                        .await
                        .map_err(error)?;
                    let claims = <$store>::write_segments(&mut *tx, segments).await?;
                    tx.commit().await.map_err(error)?;
                    Ok(claims)
                }
                .await;
                result.map_err(|e: bptl_core::store::StoreError| e.in_store(&self.name))
            }
        }
    };
}

pub(crate) use impl_writes;
