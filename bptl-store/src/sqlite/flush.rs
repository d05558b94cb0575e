//! The SQLite store's write-through thread: it owns the writing connection, writes the memtable
//! through to SQLite every [`SqliteOptions::write_through_interval`](super::SqliteOptions)
//! (100 ms by default) in one transaction, and serves the calls that need the
//! database as a whole (listing, counting, pruning, queries of the application's own) right
//! after such a write-through, so that they see every write made before them.
//!
//! A write-through: become the log writer (so that no caller appends meanwhile), move the
//! memtable aside (readers still see it) and start the log's next generation, append what was
//! encoded but not yet logged, then upsert the records and insert the timeline entries in one
//! transaction that also records the generation it covers in `bptl_log_owners`. Once committed,
//! the moved-aside table is dropped and that generation's log file deleted. When the commit
//! fails, the table stays aside (and visible) and is written at the next tick.
//!
//! Writes of one record in one interval reach SQLite as one upsert of its last state: a task that
//! is claimed, performed and completed within 100 ms costs one row write, not three.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use bptl_core::store::StoreError;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};
use tokio::sync::oneshot;

use super::log::{self, Entry, Place};
use super::writes::{FastMap, Inner, Table, append_to};
use super::{BUSY_TIMEOUT, db_error, is_busy, record_params};
use crate::sql::{Columns, TimelineRow, to_nanos};

/// A message to the write-through thread.
pub(super) enum Job {
    /// Write through now; answer when done (if anyone asks).
    Flush(Option<oneshot::Sender<Result<(), StoreError>>>),
    /// Write through, then run this on the connection (it answers itself).
    Run(Box<dyn FnOnce(&mut Connection) + Send>),
    /// Write through, delete the log, stop; then answer.
    Close(oneshot::Sender<()>),
}

/// Upsert `rows` records (the rule of `TaskStore::save`), returning each written row's key and
/// `seq`.
fn save_rows(rows: usize) -> &'static str {
    fn build(rows: usize) -> String {
        format!(
            "{} RETURNING engine, task_id, seq",
            crate::sql::save_rows_sql(rows).replace('$', "?")
        )
    }
    static CACHE: crate::sql::Cache = std::sync::OnceLock::new();
    crate::sql::cached(&CACHE, build, rows)
}

/// Add `rows` records to the process instance lookup (`seq, process_instance_id` each).
fn process_instance_rows(rows: usize) -> &'static str {
    fn build(rows: usize) -> String {
        let values = (0..rows)
            .map(|r| format!("(?{}, substr(?{}, -8))", 2 * r + 1, 2 * r + 2))
            .collect::<Vec<_>>()
            .join(", ");
        format!("INSERT OR IGNORE INTO bptl_process_instances (seq, tail) VALUES {values}")
    }
    static CACHE: crate::sql::Cache = std::sync::OnceLock::new();
    crate::sql::cached(&CACHE, build, rows)
}

/// Append `rows` timeline rows (`task_seq, at, kind, message, data, entries` each).
fn timeline_rows(rows: usize) -> &'static str {
    fn build(rows: usize) -> String {
        format!(
            "INSERT INTO bptl_timeline (task_seq, at, kind, message, data, entries) VALUES {}",
            crate::sql::placeholders(rows, 6).replace('$', "?")
        )
    }
    static CACHE: crate::sql::Cache = std::sync::OnceLock::new();
    crate::sql::cached(&CACHE, build, rows)
}

/// What a write-through records about the log it covers.
enum Covered<'a> {
    /// `owner`'s log up to this generation.
    Generation(&'a str, u64),
    /// All of `owner`'s log (a replay): its bookkeeping row goes.
    All(&'a str),
    /// Nothing (an in-memory database has no log).
    Nothing,
}

/// The thread's loop: write through every `interval` and before every call, until the store is
/// closed or every handle is gone.
pub(super) fn serve(
    inner: &Arc<Inner>,
    mut conn: Connection,
    inbox: &mpsc::Receiver<Job>,
    interval: Duration,
) {
    let mut warned = false;
    loop {
        let job = match inbox.recv_timeout(interval) {
            Ok(job) => Some(job),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                finish(inner, &mut conn);
                return;
            }
        };
        if let Some(Job::Close(done)) = job {
            finish(inner, &mut conn);
            let _ = done.send(());
            return;
        }
        let flushed = write_through(inner, &mut conn);
        // Bound the age of the lookups' snapshot (see `Inner::read`).
        inner.end_read();
        match &flushed {
            Err(e) if !warned => {
                tracing::warn!(
                    "cannot write task records to {}: {e} (they stay in the log and in memory; retrying)",
                    inner.url
                );
                warned = true;
            }
            Ok(()) if warned => {
                tracing::info!("task records are written to {} again", inner.url);
                warned = false;
            }
            _ => {}
        }
        inner.lock().failing = flushed.as_ref().err().cloned();
        match job {
            Some(Job::Flush(Some(reply))) => {
                let _ = reply.send(flushed);
            }
            Some(Job::Run(f)) => {
                // A panicking call loses its answer (its caller hears so), never the thread.
                let _ = std::panic::catch_unwind(AssertUnwindSafe(|| f(&mut conn)));
                if !conn.is_autocommit() {
                    // A query of the application's own left a transaction open: every later
                    // write-through would fail to begin its own.
                    tracing::warn!(
                        "a call on the SQLite store's connection left a transaction open; rolling it back"
                    );
                    let _ = conn.execute_batch("ROLLBACK");
                }
                // It may have changed records: lookups read them anew.
                inner.end_read();
            }
            _ => {}
        }
    }
}

/// The last write-through: refuse further writes, write everything through, delete the log.
fn finish(inner: &Inner, conn: &mut Connection) {
    inner.lock().closed = true;
    if let Err(e) = write_through(inner, conn) {
        tracing::warn!(
            "closing the task store {}: {e}; its log is kept and replayed when the database is opened next",
            inner.url
        );
        return;
    }
    let st = inner.lock();
    if let Some(log) = &st.log {
        let _ = conn.execute(
            "DELETE FROM bptl_log_owners WHERE owner = ?1",
            params![log.owner],
        );
        if let Ok(segments) = log.place.segments(&log.owner) {
            for (_, path) in segments {
                let _ = std::fs::remove_file(path);
            }
        }
        log.place.remove_owner(&log.owner);
    }
}

/// Write the memtable through to SQLite (a table left aside by a failed attempt first).
pub(super) fn write_through(inner: &Inner, conn: &mut Connection) -> Result<(), StoreError> {
    let aside = {
        let st = inner.lock();
        st.frozen.clone().map(|t| (t, st.frozen_generation))
    };
    let (table, generation) = match aside {
        Some(aside) => aside,
        None => match freeze(inner) {
            Some(frozen) => frozen,
            None => return Ok(()),
        },
    };
    let owner = inner.lock().log.as_ref().map(|l| l.owner.clone());
    let covered = match &owner {
        Some(owner) => Covered::Generation(owner, generation),
        None => Covered::Nothing,
    };
    commit(conn, &table, &covered)?;
    // Lookups from now on read a snapshot that holds what was just committed (see
    // `Inner::read`); only then does the table leave the memtable.
    inner.end_read();
    let mut st = inner.lock();
    st.frozen = None;
    st.flush_requested = false;
    let path = st
        .log
        .as_ref()
        .map(|log| log.place.segment_path(&log.owner, generation));
    drop(st);
    if let Some(path) = path {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Move the memtable aside and start the log's next generation; `None` when there is nothing to
/// write.
fn freeze(inner: &Inner) -> Option<(Arc<Table>, u64)> {
    let mut st = inner.take_writer();
    if st.active.is_empty() && st.frames.bytes.is_empty() {
        inner.release_writer(st);
        return None;
    }
    let table = Arc::new(std::mem::take(&mut st.active));
    st.frozen = Some(Arc::clone(&table));
    let pending = st.frames.take();
    let end = st.appended;
    let mut generation = 0;
    let mut segment = None;
    if let Some(log) = st.log.as_mut() {
        // This generation's log file, to complete with the frames not yet in it, so that it
        // holds everything the table holds should the commit not happen.
        segment = if pending.is_empty() {
            log.segment = None;
            None
        } else {
            Some(log.take_segment())
        };
        generation = log.generation;
        log.generation += 1;
    }
    st.frozen_generation = generation;
    drop(st);
    // Completed and closed: the next generation gets a file of its own.
    let (appended, _) = append_to(segment, &pending);
    let mut st = inner.lock();
    match appended {
        Ok(()) => {
            st.written = st.written.max(end);
            st.frames.recycle(pending);
        }
        Err(e) => {
            // Log them again in the next generation: durable once that is written.
            tracing::warn!("cannot complete the task store's log: {e}");
            st.frames.restore(pending);
        }
    }
    inner.release_writer(st);
    Some((table, generation))
}

/// Write `table` in one transaction, recording what part of the log it covers.
fn commit(conn: &mut Connection, table: &Table, covered: &Covered<'_>) -> Result<(), StoreError> {
    let err = |e| db_error("writing task records", e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| {
            let busy = is_busy(&e);
            let mut error = err(e);
            if busy {
                error.message.push_str(&format!(
                    " (another connection held the database's write lock for {} s: is another process (a second worker, a long operator command) using this SQLite file? Several workers need a PostgreSQL store)",
                    BUSY_TIMEOUT.as_secs()
                ));
            }
            error
        })?;
    // The records, many per statement; the rows written report their `seq` for the timeline.
    let records: Vec<&Columns> = table.records().collect();
    let mut seqs: FastMap<(&str, &str), i64> = FastMap::default();
    seqs.reserve(records.len());
    for chunk in crate::group::chunks(&records) {
        let mut save = tx.prepare_cached(save_rows(chunk.len())).map_err(err)?;
        let params = chunk.iter().flat_map(|c| record_params(c));
        let mut rows = save
            .query(rusqlite::params_from_iter(params))
            .map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            let (engine, task_id, seq): (String, String, i64) = (
                row.get(0).map_err(err)?,
                row.get(1).map_err(err)?,
                row.get(2).map_err(err)?,
            );
            if let Some(c) = chunk
                .iter()
                .find(|c| c.engine == engine && c.task_id == task_id)
            {
                seqs.insert((c.engine.as_str(), c.task_id.as_str()), seq);
            }
        }
    }
    // The process instance lookup (migration 6): a row for each record written for the first
    // time (an existing row is kept).
    let tails: Vec<(i64, &str)> = records
        .iter()
        .filter_map(|c| {
            let seq = *seqs.get(&(c.engine.as_str(), c.task_id.as_str()))?;
            Some((seq, c.process_instance_id.as_deref()?))
        })
        .collect();
    for chunk in crate::group::chunks(&tails) {
        let mut insert = tx
            .prepare_cached(process_instance_rows(chunk.len()))
            .map_err(err)?;
        let params = chunk
            .iter()
            .flat_map(|(seq, pi)| [seq as &dyn rusqlite::ToSql, pi]);
        insert
            .execute(rusqlite::params_from_iter(params))
            .map_err(err)?;
    }
    // Timeline entries of records not written here: their `seq` from the database (entries of
    // unknown records are dropped).
    {
        let mut lookup = tx
            .prepare_cached("SELECT seq FROM bptl_tasks WHERE engine = ?1 AND task_id = ?2")
            .map_err(err)?;
        for row in &table.timeline {
            let key = (row.engine.as_str(), row.task_id.as_str());
            if !seqs.contains_key(&key)
                && let Some(seq) = lookup
                    .query_row(params![row.engine, row.task_id], |r| r.get(0))
                    .optional()
                    .map_err(err)?
            {
                seqs.insert(key, seq);
            }
        }
    }
    // One row per task: its first entry in the row's columns, the ones after it in `entries`.
    let mut rows: Vec<(i64, Vec<&TimelineRow>)> = Vec::new();
    let mut row_of: FastMap<i64, usize> = FastMap::default();
    for entry in &table.timeline {
        let Some(&seq) = seqs.get(&(entry.engine.as_str(), entry.task_id.as_str())) else {
            continue;
        };
        match row_of.get(&seq) {
            Some(&i) => rows[i].1.push(entry),
            None => {
                row_of.insert(seq, rows.len());
                rows.push((seq, vec![entry]));
            }
        }
    }
    let rows: Vec<(i64, &TimelineRow, Option<String>)> = rows
        .into_iter()
        .filter_map(|(seq, entries)| {
            let (first, rest) = entries.split_first()?;
            let rest = (!rest.is_empty()).then(|| crate::sql::encode_timeline_entries(rest));
            Some((seq, *first, rest))
        })
        .collect();
    for chunk in crate::group::chunks(&rows) {
        let mut insert = tx.prepare_cached(timeline_rows(chunk.len())).map_err(err)?;
        let params = chunk.iter().flat_map(|(seq, row, rest)| {
            [
                seq as &dyn rusqlite::ToSql,
                &row.at,
                &row.kind,
                &row.message,
                &row.data,
                rest,
            ]
        });
        insert
            .execute(rusqlite::params_from_iter(params))
            .map_err(err)?;
    }
    let now = to_nanos(Timestamp::now())?;
    match covered {
        Covered::Generation(owner, generation) => {
            tx.execute(
                "INSERT INTO bptl_log_owners (owner, generation, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (owner) DO UPDATE SET generation = excluded.generation, \
                 updated_at = excluded.updated_at",
                params![owner, i64::try_from(*generation).unwrap_or(i64::MAX), now],
            )
            .map_err(err)?;
        }
        Covered::All(owner) => {
            tx.execute(
                "DELETE FROM bptl_log_owners WHERE owner = ?1",
                params![owner],
            )
            .map_err(err)?;
        }
        Covered::Nothing => {}
    }
    tx.commit().map_err(err)
}

/// Replay the logs of processes that died with writes not yet in SQLite (see [`log`]); returns
/// how many writes were replayed.
pub(super) fn replay_orphans(
    conn: &mut Connection,
    place: &Place,
    own: &str,
) -> Result<usize, StoreError> {
    let io = |e: std::io::Error| {
        StoreError::new(format!(
            "reading the task store's logs: {e}: check the permissions of the database's directory"
        ))
    };
    let mut replayed = 0;
    for orphan in place.orphans(own).map_err(io)? {
        let covered: i64 = conn
            .query_row(
                "SELECT generation FROM bptl_log_owners WHERE owner = ?1",
                params![orphan.owner],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| db_error("reading the task store's log bookkeeping", e))?
            .unwrap_or(-1);
        let segments = place.segments(&orphan.owner).map_err(io)?;
        let mut table = Table::default();
        let mut entries = 0;
        for (generation, path) in &segments {
            if i64::try_from(*generation).unwrap_or(i64::MAX) <= covered {
                continue;
            }
            let read = log::read(path).map_err(io)?;
            if let Some(damage) = &read.damaged {
                tracing::warn!(
                    "the task store's log {} ends in damage ({damage}): replaying what precedes it",
                    path.display()
                );
            }
            entries += read.entries.len();
            for entry in read.entries {
                match entry {
                    Entry::Record(columns) => table.put(columns),
                    Entry::Timeline(row) => table.timeline.push(row),
                }
            }
        }
        commit(conn, &table, &Covered::All(&orphan.owner))?;
        for (_, path) in &segments {
            let _ = std::fs::remove_file(path);
        }
        place.remove_owner(&orphan.owner);
        if entries > 0 {
            tracing::info!(
                writes = entries,
                "replayed the task store log of a process that stopped before writing it to the database"
            );
        }
        replayed += entries;
    }
    Ok(replayed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bptl_core::store::TaskRecord;

    fn table() -> Table {
        let record = TaskRecord::from_task(
            &bptl_core::InMemoryTask::new("busy", bptl_core::Variables::new()),
            "w",
        );
        let columns = Columns::new(&record).unwrap();
        let mut table = Table::default();
        table.put(Box::new(columns));
        table
    }

    #[test]
    fn a_write_through_blocked_by_another_connections_write_lock_says_why() {
        let dir = std::env::temp_dir().join(format!("bptl-busy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("busy.db");
        super::super::migrate(&Connection::open(&path).unwrap()).unwrap();
        let holder = Connection::open(&path).unwrap();
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        let mut writer = Connection::open(&path).unwrap();
        writer.busy_timeout(Duration::ZERO).unwrap();
        let err = commit(&mut writer, &table(), &Covered::Nothing)
            .unwrap_err()
            .to_string();
        assert!(err.contains("database is locked"), "{err}");
        assert!(
            err.contains("Several workers need a PostgreSQL store"),
            "{err}"
        );

        // Any other failure says what it is, without the hint: a database without the tables.
        let mut empty = Connection::open(dir.join("empty.db")).unwrap();
        let err = commit(&mut empty, &table(), &Covered::Nothing)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no such table"), "{err}");
        assert!(!err.contains("PostgreSQL"), "{err}");
        drop((holder, writer));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
