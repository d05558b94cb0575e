//! What the SQLite and PostgreSQL stores share: the statements (both take `$N` placeholders),
//! conversions between records and columns, error kinds, and a macro that implements
//! [`TaskStore`](bptl_core::store::TaskStore) for a store holding `sqlx` pools.

use bptl_core::TaskStatus;
use bptl_core::store::{StoreError, TaskRecord, decode_variables, encode_variables};
use jiff::Timestamp;

/// The record columns, in the order [`INSERT_VALUES`] binds them.
pub(crate) const COLUMNS: &str = "engine, task_id, topic, worker_id, process_instance_id, \
     business_key, priority, retries, lock_expires_at, variables, status, result_variables, \
     execution_error, engine_error, executions, created_at, updated_at, reported_at";

/// Placeholders for [`COLUMNS`].
pub(crate) const INSERT_VALUES: &str =
    "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18";

/// `save`: insert, or replace every column but the key and `seq` (the timeline is another table).
pub(crate) fn save_sql() -> String {
    format!(
        "INSERT INTO bptl_tasks ({COLUMNS}) VALUES ({INSERT_VALUES}) \
         ON CONFLICT (engine, task_id) DO UPDATE SET \
         topic = excluded.topic, worker_id = excluded.worker_id, \
         process_instance_id = excluded.process_instance_id, business_key = excluded.business_key, \
         priority = excluded.priority, retries = excluded.retries, \
         lock_expires_at = excluded.lock_expires_at, variables = excluded.variables, \
         status = excluded.status, result_variables = excluded.result_variables, \
         execution_error = excluded.execution_error, engine_error = excluded.engine_error, \
         executions = excluded.executions, created_at = excluded.created_at, \
         updated_at = excluded.updated_at, reported_at = excluded.reported_at \
         WHERE bptl_tasks.executions <= excluded.executions \
            OR (bptl_tasks.result_variables IS NULL AND excluded.result_variables IS NOT NULL)"
    )
}

/// `claim` in one statement: insert as `in_progress` (executions 1), or take over a record that
/// is not yet performed. A record whose unit already succeeded is left alone (and no row is
/// returned). The row lock the upsert takes makes concurrent claims of one task serial.
/// `returning` lists what the statement returns of a claimed row (nothing when empty).
pub(crate) fn claim_sql(returning: &str) -> String {
    let returning = if returning.is_empty() {
        String::new()
    } else {
        format!(" RETURNING {returning}")
    };
    format!(
        "INSERT INTO bptl_tasks ({COLUMNS}) VALUES ({INSERT_VALUES}) \
         ON CONFLICT (engine, task_id) DO UPDATE SET \
         topic = excluded.topic, worker_id = excluded.worker_id, \
         process_instance_id = excluded.process_instance_id, business_key = excluded.business_key, \
         priority = excluded.priority, retries = excluded.retries, \
         lock_expires_at = excluded.lock_expires_at, variables = excluded.variables, \
         status = 'in_progress', result_variables = NULL, execution_error = NULL, \
         engine_error = excluded.engine_error, executions = bptl_tasks.executions + 1, \
         updated_at = excluded.updated_at, reported_at = NULL \
         WHERE NOT (bptl_tasks.status IN ('performed', 'completed') \
                    AND bptl_tasks.result_variables IS NOT NULL){returning}"
    )
}

/// What PostgreSQL's claim returns: the claimed record and `previous_status`, its status before
/// the statement (a subquery sees the statement's snapshot): NULL for a new record, and also
/// when another transaction stored the record after that snapshot was taken.
fn claim_returning_record() -> String {
    format!(
        "{COLUMNS}, (SELECT p.status FROM bptl_tasks p \
         WHERE p.engine = bptl_tasks.engine AND p.task_id = bptl_tasks.task_id) AS previous_status"
    )
}

/// `rows` groups of `cols` numbered placeholders: `($1, $2), ($3, $4)`.
pub(crate) fn placeholders(rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(r * cols + c + 1).to_string());
        }
        out.push(')');
    }
    out
}

/// The record columns' count.
const RECORD_COLUMNS: usize = 18;

/// `save` of `rows` records (distinct keys) in one statement.
fn save_rows_sql(rows: usize) -> String {
    save_sql().replacen(
        &format!("VALUES ({INSERT_VALUES})"),
        &format!("VALUES {}", placeholders(rows, RECORD_COLUMNS)),
        1,
    )
}

/// `claim` of `rows` records (distinct keys) in one statement, returning `returning` of the
/// claimed rows (the ones whose unit runs); a key without a row is performed.
fn claim_rows_sql(rows: usize, returning: &str) -> String {
    claim_sql(returning).replacen(
        &format!("VALUES ({INSERT_VALUES})"),
        &format!("VALUES {}", placeholders(rows, RECORD_COLUMNS)),
        1,
    )
}

/// Append `rows` timeline entries (engine, task_id, at, kind, message, data, ordinal) in one
/// statement, in ordinal order; entries of unknown records are dropped. (`VALUES` columns are
/// called `column1`... in both SQLite and PostgreSQL.)
fn timeline_rows_sql(rows: usize) -> String {
    format!(
        "INSERT INTO bptl_timeline (engine, task_id, at, kind, message, data) \
         SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6 \
         FROM (VALUES {}) AS v \
         WHERE EXISTS (SELECT 1 FROM bptl_tasks t \
                       WHERE t.engine = v.column1 AND t.task_id = v.column2) \
         ORDER BY v.column7",
        placeholders(rows, 7)
    )
}

/// The multi-row statements a batch of writes executes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Statement {
    /// [`save_rows_sql`].
    Save,
    /// [`claim_rows_sql`], returning the claimed rows.
    Claim,
    /// [`timeline_rows_sql`].
    Timeline,
    /// [`previous_rows_sql`] (SQLite's claims).
    Previous,
}

/// The statement of `kind` for `rows` rows (one of [`CHUNK_SIZES`](crate::group::CHUNK_SIZES)),
/// built once. For SQLite the placeholders are anonymous (`?`, bound in order): SQLite looks
/// a numbered parameter's name up by a linear scan, which made binding a statement of a thousand
/// parameters quadratic (measured: a fifth of the store's CPU). Its claims return no previous
/// status (SQLite's `RETURNING` sees the changed row; the claim reads the statuses first).
pub(crate) fn statement(kind: Statement, rows: usize, sqlite: bool) -> &'static str {
    type Cache = std::sync::OnceLock<Vec<String>>;
    static CACHES: [Cache; 8] = [const { std::sync::OnceLock::new() }; 8];
    let index = kind as usize * 2 + usize::from(sqlite);
    let all = CACHES[index].get_or_init(|| {
        crate::group::CHUNK_SIZES
            .iter()
            .map(|&n| {
                let sql = match kind {
                    Statement::Save => save_rows_sql(n),
                    Statement::Claim if sqlite => claim_rows_sql(n, ""),
                    Statement::Claim => claim_rows_sql(n, &claim_returning_record()),
                    Statement::Timeline => timeline_rows_sql(n),
                    Statement::Previous => previous_rows_sql(n),
                };
                if sqlite { anonymous(&sql) } else { sql }
            })
            .collect()
    });
    crate::group::CHUNK_SIZES
        .iter()
        .position(|&n| n == rows)
        .and_then(|i| all.get(i))
        .map_or("SELECT 'unsupported statement size'", String::as_str)
}

/// `sql` with its numbered placeholders (`$1`, each used once, in order) made anonymous (`?`).
fn anonymous(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

/// What a claim of `rows` records (engine, task_id) needs to know of those stored already.
fn previous_rows_sql(rows: usize) -> String {
    format!(
        "SELECT engine, task_id, status, executions, created_at, \
         result_variables IS NOT NULL AS has_result \
         FROM bptl_tasks WHERE (engine, task_id) IN (VALUES {})",
        placeholders(rows, 2)
    )
}

/// A claim waiting to be written: the fresh record (`in_progress`, executions 1) and its
/// columns.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRow {
    pub columns: Columns,
    pub record: TaskRecord,
}

/// What a claim found stored (SQLite reads it before its upsert).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Previous {
    pub status: TaskStatus,
    pub executions: u32,
    pub created_at: Timestamp,
    pub performed: bool,
}

/// One timeline entry's columns, ready to bind.
#[derive(Debug, Clone)]
pub(crate) struct TimelineRow {
    pub engine: String,
    pub task_id: String,
    pub at: i64,
    pub kind: &'static str,
    pub message: String,
    pub data: String,
}

impl TimelineRow {
    /// The columns of `entry` on `key`'s timeline.
    pub(crate) fn new(
        key: &bptl_core::store::TaskKey,
        entry: &bptl_core::TimelineEntry,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            engine: key.engine.clone(),
            task_id: key.task_id.clone(),
            at: to_nanos(entry.at)?,
            kind: entry.kind.as_str(),
            message: entry.message.clone(),
            data: entry.data.to_string(),
        })
    }
}

/// Runs a store's batches (see [`crate::group`]) on its writer pool; `name` is the store's
/// redacted URL, for errors.
pub(crate) struct PoolDb<DB: sqlx::Database> {
    pub pool: sqlx::Pool<DB>,
    pub name: std::sync::Arc<str>,
}

/// Nanoseconds since the epoch, as stored.
pub(crate) fn to_nanos(at: Timestamp) -> Result<i64, StoreError> {
    i64::try_from(at.as_nanosecond())
        .map_err(|_| StoreError::other(format!("the instant {at} is outside the storable range")))
}

/// An instant read back from nanoseconds.
pub(crate) fn from_nanos(nanos: i64, column: &str) -> Result<Timestamp, StoreError> {
    Timestamp::from_nanosecond(i128::from(nanos))
        .map_err(|e| StoreError::corrupt(format!("stored {column} {nanos} is not an instant: {e}")))
}

/// A status read back.
pub(crate) fn parse_status(text: &str) -> Result<TaskStatus, StoreError> {
    text.parse::<TaskStatus>()
        .map_err(|e| StoreError::corrupt(format!("stored status: {e}")))
}

/// JSON text read back.
pub(crate) fn parse_json(text: &str, column: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::corrupt(format!("stored {column} is not JSON: {e}")))
}

/// The columns of one record: as bound to statements, in [`COLUMNS`] order, and as read back.
#[derive(Debug, Clone)]
pub(crate) struct Columns {
    pub engine: String,
    pub task_id: String,
    pub topic: String,
    pub worker_id: String,
    pub process_instance_id: Option<String>,
    pub business_key: Option<String>,
    pub priority: i64,
    pub retries: Option<i32>,
    pub lock_expires_at: Option<i64>,
    pub variables: String,
    /// Borrowed when the columns come from a record (no allocation), owned when read back.
    pub status: std::borrow::Cow<'static, str>,
    pub result_variables: Option<String>,
    pub execution_error: Option<String>,
    pub engine_error: Option<String>,
    pub executions: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub reported_at: Option<i64>,
}

impl Columns {
    /// The columns of `record`, ready to bind in [`COLUMNS`] order.
    pub(crate) fn new(record: &TaskRecord) -> Result<Self, StoreError> {
        Ok(Self {
            engine: record.engine.clone(),
            task_id: record.task_id.clone(),
            topic: record.topic.clone(),
            worker_id: record.worker_id.clone(),
            process_instance_id: record.process_instance_id.clone(),
            business_key: record.business_key.clone(),
            priority: record.priority,
            retries: record.retries,
            lock_expires_at: record.lock_expires_at.map(to_nanos).transpose()?,
            variables: record.variables.to_string(),
            status: std::borrow::Cow::Borrowed(record.status.as_str()),
            result_variables: record
                .result_variables
                .as_ref()
                .map(|v| encode_variables(v).to_string()),
            execution_error: record.execution_error.clone(),
            engine_error: record.engine_error.clone(),
            executions: i64::from(record.executions),
            created_at: to_nanos(record.created_at)?,
            updated_at: to_nanos(record.updated_at)?,
            reported_at: record.reported_at.map(to_nanos).transpose()?,
        })
    }

    /// The record these columns hold.
    pub(crate) fn into_record(self) -> Result<TaskRecord, StoreError> {
        Ok(TaskRecord {
            engine: self.engine,
            task_id: self.task_id,
            topic: self.topic,
            worker_id: self.worker_id,
            process_instance_id: self.process_instance_id,
            business_key: self.business_key,
            priority: self.priority,
            retries: self.retries,
            lock_expires_at: self
                .lock_expires_at
                .map(|n| from_nanos(n, "lock_expires_at"))
                .transpose()?,
            variables: parse_json(&self.variables, "variables")?,
            status: parse_status(&self.status)?,
            result_variables: self
                .result_variables
                .map(|text| decode_variables(&parse_json(&text, "result_variables")?))
                .transpose()?,
            execution_error: self.execution_error,
            engine_error: self.engine_error,
            executions: u32::try_from(self.executions.max(0)).unwrap_or(u32::MAX),
            created_at: from_nanos(self.created_at, "created_at")?,
            updated_at: from_nanos(self.updated_at, "updated_at")?,
            reported_at: self
                .reported_at
                .map(|n| from_nanos(n, "reported_at"))
                .transpose()?,
        })
    }
}

/// A database error as a [`StoreError`] of the kind the caller can act on, naming the operation.
pub(crate) fn db_error(operation: &str, err: sqlx::Error) -> StoreError {
    let message = format!("{operation}: {err}");
    match &err {
        sqlx::Error::PoolClosed => StoreError::closed(operation.to_owned()),
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => StoreError::unavailable(message),
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::TypeNotFound { .. } => StoreError::corrupt(message),
        sqlx::Error::Database(db) => match db.code().as_deref().map(code_kind) {
            Some(Kind::Unavailable) => StoreError::unavailable(message),
            Some(Kind::Full) => StoreError::full(message),
            Some(Kind::Conflict) => StoreError::conflict(message),
            Some(Kind::Corrupt) => StoreError::corrupt(message),
            _ => StoreError::other(message),
        },
        _ => StoreError::other(message),
    }
}

/// What a database error code means for the caller.
#[derive(Debug, PartialEq)]
enum Kind {
    Unavailable,
    Full,
    Conflict,
    Corrupt,
    Other,
}

/// The kind of a database error code: PostgreSQL's are five-character SQLSTATEs, SQLite's
/// (extended) result codes are numbers below 10 000.
fn code_kind(code: &str) -> Kind {
    if code.len() < 5
        && let Ok(extended) = code.parse::<i64>()
    {
        return match extended & 0xff {
            5 | 6 => Kind::Unavailable, // SQLITE_BUSY, SQLITE_LOCKED
            13 => Kind::Full,           // SQLITE_FULL
            11 | 26 => Kind::Corrupt,   // SQLITE_CORRUPT, SQLITE_NOTADB
            _ => Kind::Other,
        };
    }
    match code {
        "40001" | "40P01" => Kind::Conflict, // serialization failure, deadlock
        "XX001" | "XX002" => Kind::Corrupt,  // data or index corrupted
        c if c.starts_with("53") => Kind::Full, // insufficient resources (disk full, ...)
        c if c.starts_with("08") || c.starts_with("57P") => Kind::Unavailable,
        _ => Kind::Other,
    }
}

/// Implements `TaskStore` for `$store`, a struct with fields `reader` and `writer`
/// (`sqlx::Pool<$db>`), `commit` (`Arc<GroupCommit>`) and `name` (`Arc<str>`, the redacted URL),
/// and with associated constants `BEGIN` (the statement opening a write transaction) and
/// `SQLITE` (SQLite's statements: anonymous placeholders, claims that read the previous
/// statuses before their upsert).
macro_rules! impl_task_store {
    ($store:ty, $db:ty) => {
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

            /// What is stored of the records of `chunk` now (read inside the claim's
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
                            performed: has_result
                                && matches!(
                                    status,
                                    bptl_core::TaskStatus::Performed
                                        | bptl_core::TaskStatus::Completed
                                ),
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
                        && matches!(
                            stored.status,
                            bptl_core::TaskStatus::Performed | bptl_core::TaskStatus::Completed
                        )
                        && stored.result_variables.is_some()
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
                    "SELECT at, kind, message, data FROM bptl_timeline \
                     WHERE engine = $1 AND task_id = $2 ORDER BY id",
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
                let mut hours = std::collections::BTreeMap::<i64, bptl_core::HourlyRow>::new();
                for row in &rows {
                    let h: i64 = row.try_get("h").map_err(get)?;
                    let k: String = row.try_get("k").map_err(get)?;
                    let n = u64::try_from(row.try_get::<i64, _>("n").map_err(get)?).unwrap_or(0);
                    let hour = $crate::sql::from_nanos(
                        h.saturating_mul(bptl_core::store::HOUR_NANOS),
                        "created_at",
                    )?;
                    let entry = hours.entry(h).or_insert(bptl_core::HourlyRow {
                        hour,
                        completed: 0,
                        bpmn_errors: 0,
                        failed: 0,
                    });
                    match k.as_str() {
                        "c" => entry.completed += n,
                        "b" => entry.bpmn_errors += n,
                        _ => entry.failed += n,
                    }
                }
                Ok(hours.into_values().collect())
            }

            async fn prune_inner(
                &self,
                before: jiff::Timestamp,
            ) -> Result<u64, bptl_core::store::StoreError> {
                // The timeline goes with its record, in the same transaction (SQLite does not
                // enforce the foreign key: the store checks it when it appends).
                let error = |e| $crate::sql::db_error("pruning completed task records", e);
                let cutoff = $crate::sql::to_nanos(before)?;
                let mut tx = self.writer.begin_with(Self::BEGIN).await.map_err(error)?;
                sqlx::query(
                    "DELETE FROM bptl_timeline WHERE (engine, task_id) IN \
                     (SELECT engine, task_id FROM bptl_tasks \
                      WHERE status = 'completed' AND updated_at < $1)",
                )
                .bind(cutoff)
                .execute(&mut *tx)
                .await
                .map_err(error)?;
                let done = sqlx::query(
                    "DELETE FROM bptl_tasks WHERE status = 'completed' AND updated_at < $1",
                )
                .bind(cutoff)
                .execute(&mut *tx)
                .await
                .map_err(error)?;
                tx.commit().await.map_err(error)?;
                Ok(done.rows_affected())
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
                let columns =
                    $crate::sql::Columns::new(record).map_err(|e| e.in_store(&self.name))?;
                self.commit
                    .save(columns)
                    .await
                    .map_err(|e| e.in_store(&self.name))
            }

            async fn get(
                &self,
                key: &bptl_core::store::TaskKey,
            ) -> Result<Option<bptl_core::store::TaskRecord>, bptl_core::store::StoreError> {
                Self::get_on(&self.reader, &key.engine, &key.task_id)
                    .await
                    .map_err(|e| e.in_store(&self.name))
            }

            async fn list(
                &self,
                filter: &bptl_core::store::TaskFilter,
            ) -> Result<Vec<bptl_core::store::TaskRecord>, bptl_core::store::StoreError> {
                self.list_inner(filter)
                    .await
                    .map_err(|e| e.in_store(&self.name))
            }

            async fn append_timeline(
                &self,
                key: &bptl_core::store::TaskKey,
                entry: &bptl_core::TimelineEntry,
            ) -> Result<(), bptl_core::store::StoreError> {
                // An entry for an unknown record is dropped (the INSERT selects no row).
                let row = $crate::sql::TimelineRow::new(key, entry)
                    .map_err(|e| e.in_store(&self.name))?;
                self.commit
                    .timeline(vec![row])
                    .await
                    .map_err(|e| e.in_store(&self.name))
            }

            async fn append_timelines(
                &self,
                entries: &[(bptl_core::store::TaskKey, bptl_core::TimelineEntry)],
            ) -> Result<(), bptl_core::store::StoreError> {
                let rows = entries
                    .iter()
                    .map(|(key, entry)| $crate::sql::TimelineRow::new(key, entry))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| e.in_store(&self.name))?;
                self.commit
                    .timeline(rows)
                    .await
                    .map_err(|e| e.in_store(&self.name))
            }

            async fn timeline(
                &self,
                key: &bptl_core::store::TaskKey,
            ) -> Result<Vec<bptl_core::TimelineEntry>, bptl_core::store::StoreError> {
                self.timeline_inner(key)
                    .await
                    .map_err(|e| e.in_store(&self.name))
            }

            async fn stats(
                &self,
                since: Option<jiff::Timestamp>,
            ) -> Result<Vec<bptl_core::StatsRow>, bptl_core::store::StoreError> {
                self.stats_inner(since)
                    .await
                    .map_err(|e| e.in_store(&self.name))
            }

            async fn hourly(
                &self,
                since: jiff::Timestamp,
            ) -> Result<Vec<bptl_core::HourlyRow>, bptl_core::store::StoreError> {
                self.hourly_inner(since)
                    .await
                    .map_err(|e| e.in_store(&self.name))
            }

            async fn prune_completed(
                &self,
                before: jiff::Timestamp,
            ) -> Result<u64, bptl_core::store::StoreError> {
                self.prune_inner(before)
                    .await
                    .map_err(|e| e.in_store(&self.name))
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
                self.reset_inner(key, status)
                    .await
                    .map_err(|e| e.in_store(&self.name))
            }

            async fn claim(
                &self,
                record: &bptl_core::store::TaskRecord,
            ) -> Result<bptl_core::store::Claim, bptl_core::store::StoreError> {
                let mut fresh = record.clone();
                fresh.status = bptl_core::TaskStatus::InProgress;
                fresh.executions = 1;
                fresh.result_variables = None;
                fresh.execution_error = None;
                fresh.reported_at = None;
                let columns =
                    $crate::sql::Columns::new(&fresh).map_err(|e| e.in_store(&self.name))?;
                self.commit
                    .claim($crate::sql::ClaimRow {
                        columns,
                        record: fresh,
                    })
                    .await
                    .map_err(|e| e.in_store(&self.name))
            }
        }
    };
}

pub(crate) use impl_task_store;

#[cfg(test)]
mod tests {
    use super::{Kind, anonymous, code_kind};

    #[test]
    fn placeholders_become_anonymous_for_sqlite() {
        assert_eq!(
            anonymous("VALUES ($1, $2), ($10, $11) -- '$'"),
            "VALUES (?, ?), (?, ?) -- '$'"
        );
    }

    #[test]
    fn error_codes_map_to_kinds() {
        assert_eq!(code_kind("5"), Kind::Unavailable);
        assert_eq!(code_kind("517"), Kind::Unavailable); // SQLITE_BUSY_SNAPSHOT
        assert_eq!(code_kind("13"), Kind::Full);
        assert_eq!(code_kind("26"), Kind::Corrupt);
        assert_eq!(code_kind("2067"), Kind::Other); // a unique constraint
        assert_eq!(code_kind("40P01"), Kind::Conflict);
        assert_eq!(code_kind("53100"), Kind::Full);
        assert_eq!(code_kind("57P01"), Kind::Unavailable);
        assert_eq!(code_kind("23505"), Kind::Other);
    }
}
