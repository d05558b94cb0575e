//! The statements both stores execute (numbered `$N` placeholders; SQLite gets them anonymous),
//! built once per batch size.

/// The record columns, in the order [`INSERT_VALUES`] binds them.
pub(crate) const COLUMNS: &str = "engine, task_id, topic, worker_id, process_instance_id, \
     business_key, priority, retries, lock_expires_at, variables, status, result_variables, \
     execution_error, engine_error, executions, created_at, updated_at, reported_at";

/// Placeholders for [`COLUMNS`].
pub(crate) const INSERT_VALUES: &str =
    "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18";

/// `save`: insert, or update what a task's later writes change (see `TaskStore::save`): not the
/// key, `seq`, topic, process instance, business key and creation time. SQLite rewrites the
/// entry of every index on a column that an `UPDATE` assigns, even to the value it had, so
/// leaving these out spares each save four index rewrites (one on a random process instance
/// id); only the status index changes.
pub(crate) fn save_sql() -> String {
    format!(
        "INSERT INTO bptl_tasks ({COLUMNS}) VALUES ({INSERT_VALUES}) \
         ON CONFLICT (engine, task_id) DO UPDATE SET \
         worker_id = excluded.worker_id, \
         priority = excluded.priority, retries = excluded.retries, \
         lock_expires_at = excluded.lock_expires_at, variables = excluded.variables, \
         status = excluded.status, result_variables = excluded.result_variables, \
         execution_error = excluded.execution_error, engine_error = excluded.engine_error, \
         executions = excluded.executions, \
         updated_at = excluded.updated_at, reported_at = excluded.reported_at \
         WHERE bptl_tasks.executions <= excluded.executions \
            OR (bptl_tasks.result_variables IS NULL AND excluded.result_variables IS NOT NULL)"
    )
}

/// `insert_new`: insert unless a record has the key (then nothing changes and no row counts).
pub(crate) fn insert_new_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "INSERT INTO bptl_tasks ({COLUMNS}) VALUES ({INSERT_VALUES}) \
             ON CONFLICT (engine, task_id) DO NOTHING"
        )
    })
}

/// `claim` in one statement: insert as `in_progress` (executions 1), or take over a record that
/// is not yet performed. A record whose unit already succeeded is left alone (and no row is
/// returned): the claim transition of bptl-core's status machine (`TaskRecord::claimed`), its
/// refusal rule built from `TaskStatus::RESULT_KEPT`. The row lock the upsert takes makes
/// concurrent claims of one task serial.
/// `returning` lists what the statement returns of a claimed row (nothing when empty).
pub(crate) fn claim_sql(returning: &str) -> String {
    let returning = if returning.is_empty() {
        String::new()
    } else {
        format!(" RETURNING {returning}")
    };
    let kept = bptl_core::TaskStatus::RESULT_KEPT
        .map(|s| format!("'{}'", s.as_str()))
        .join(", ");
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
         WHERE NOT (bptl_tasks.status IN ({kept}) \
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
/// statement, in ordinal order, each referring to its record's `seq` (so that the timeline's
/// index grows at its end); entries of unknown records are dropped. (`VALUES` columns are
/// called `column1`... in both SQLite and PostgreSQL.)
fn timeline_rows_sql(rows: usize) -> String {
    format!(
        "INSERT INTO bptl_timeline (task_seq, at, kind, message, data) \
         SELECT t.seq, v.column3, v.column4, v.column5, v.column6 \
         FROM (VALUES {}) AS v \
         JOIN bptl_tasks t ON t.engine = v.column1 AND t.task_id = v.column2 \
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

#[cfg(test)]
mod tests {
    use super::anonymous;

    #[test]
    fn placeholders_become_anonymous_for_sqlite() {
        assert_eq!(
            anonymous("VALUES ($1, $2), ($10, $11) -- '$'"),
            "VALUES (?, ?), (?, ?) -- '$'"
        );
    }
}
