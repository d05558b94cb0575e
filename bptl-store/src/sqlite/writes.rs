//! What the SQLite store's handles share: the memtable of writes not yet in SQLite, the intent
//! log they go to first, and the reader connection for point lookups.
//!
//! A write is applied to the memtable and encoded for the log under one lock, so the log holds
//! writes in the order they were applied. A caller that needs its write durable then waits until
//! the log holds it: the first such caller becomes the *log writer*, lets the tasks that are
//! ready at that moment add their writes (one `yield_now`), appends everything encoded so far in
//! one `write` system call, and wakes the others. The writing is done by the callers' own tasks,
//! not by a thread that must be woken: the tasks of one fetch claim their records with one
//! system call between them. (Writing at once when the last write had no other waiter was
//! measured: better at concurrency 8, worse at 64; not kept.)

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use bptl_core::store::StoreError;
use rusqlite::Connection;
use tokio::sync::Notify;

use super::log::{Frames, Place, Segment};
use crate::sql::{Columns, TimelineRow};

/// A record's key: engine and task id.
pub(super) type Key = (String, String);

/// Maps keyed by record keys, hashed with [`FastHasher`]: task ids come from the engine, not
/// from an adversary, so SipHash's protection against crafted collisions buys nothing here and
/// costs a few percent of every write.
pub(super) type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;

/// A multiply-rotate hasher (the scheme of rustc's `FxHasher`) for [`FastMap`].
#[derive(Default, Clone, Copy)]
pub(super) struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.write(&[i]);
    }

    fn write_usize(&mut self, i: usize) {
        self.write(&i.to_le_bytes());
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The key of a record's columns.
pub(super) fn key_of(c: &Columns) -> Key {
    (c.engine.clone(), c.task_id.clone())
}

/// Writes accepted but not yet in SQLite.
#[derive(Default)]
pub(super) struct Table {
    /// The latest state of each record written, in the order the records were first written
    /// (the order SQLite numbers new rows in).
    records: Vec<Columns>,
    /// Position in `records` by key.
    index: FastMap<Key, usize>,
    /// Timeline entries, in order.
    pub timeline: Vec<TimelineRow>,
}

impl Table {
    pub(super) fn is_empty(&self) -> bool {
        self.records.is_empty() && self.timeline.is_empty()
    }

    /// How many records.
    pub(super) fn len(&self) -> usize {
        self.records.len()
    }

    /// The latest state of `key`.
    pub(super) fn get(&self, key: &Key) -> Option<&Columns> {
        self.index.get(key).map(|&i| &self.records[i])
    }

    /// Store a record's latest state (in the place of its first).
    pub(super) fn put(&mut self, columns: Box<Columns>) {
        self.put_keyed(key_of(&columns), columns);
    }

    /// [`put`](Self::put) with the record's key at hand.
    fn put_keyed(&mut self, key: Key, columns: Box<Columns>) {
        match self.index.entry(key) {
            std::collections::hash_map::Entry::Occupied(at) => self.records[*at.get()] = *columns,
            std::collections::hash_map::Entry::Vacant(at) => {
                at.insert(self.records.len());
                self.records.push(*columns);
            }
        }
    }

    /// The records, in the order they were first written.
    pub(super) fn records(&self) -> impl Iterator<Item = &Columns> {
        self.records.iter()
    }
}

/// The log of a file database: where it goes and which generation is being written.
pub(super) struct LogState {
    pub place: Place,
    pub owner: String,
    /// The generation new writes belong to.
    pub generation: u64,
    /// Its file, created at its first write (taken out while a writer appends to it).
    pub segment: Option<Segment>,
}

impl LogState {
    /// The current generation's log file, taken out for a writer (created at its first write);
    /// the writer puts it back.
    pub(super) fn take_segment(&mut self) -> std::io::Result<Segment> {
        match self.segment.take() {
            Some(segment) => Ok(segment),
            None => Segment::create(&self.place, &self.owner, self.generation),
        }
    }
}

/// Append `bytes` to a log file [taken out](LogState::take_segment) for the writing (none: no
/// bytes); returns the outcome and the file to put back.
pub(super) fn append_to(
    segment: Option<std::io::Result<Segment>>,
    bytes: &[u8],
) -> (std::io::Result<()>, Option<Segment>) {
    match segment {
        None => (Ok(()), None),
        Some(Err(e)) => (Err(e), None),
        Some(Ok(mut segment)) => (segment.append(bytes), Some(segment)),
    }
}

/// Everything behind the store's lock.
pub(super) struct State {
    /// Writes since the last write-through.
    pub active: Table,
    /// Writes being written through to SQLite (still visible to readers until committed).
    pub frozen: Option<Arc<Table>>,
    /// The log generation `frozen` holds.
    pub frozen_generation: u64,
    /// The log (`None` for an in-memory database: nothing to make durable).
    pub log: Option<LogState>,
    /// Frames encoded but not yet in the log file.
    pub frames: Frames,
    /// Position after the last frame encoded (bytes, counted since the store opened).
    pub appended: u64,
    /// Position up to which frames are durable (in the log, or written through).
    pub written: u64,
    /// A log writer is at work (only one at a time, so frames land in order).
    pub writing: bool,
    /// A write-through was asked for because the memtable grew large.
    pub flush_requested: bool,
    /// The store was closed.
    pub closed: bool,
    /// Why the last write-through failed (cleared by one that succeeds).
    pub failing: Option<StoreError>,
}

/// More records than this in the memtable ask for a write-through before the next tick.
pub(super) const MAX_ACTIVE: usize = 20_000;

/// While write-throughs fail, the memtable takes at most this many records; later writes fail
/// with the reason (tasks are then unlocked rather than run), so memory stays bounded.
pub(super) const MAX_ACTIVE_FAILING: usize = 100_000;

impl State {
    /// The latest state of `key` not yet in SQLite.
    pub(super) fn lookup(&self, key: &Key) -> Option<&Columns> {
        self.active
            .get(key)
            .or_else(|| self.frozen.as_ref().and_then(|f| f.get(key)))
    }

    /// Apply a record state (`key` is its key); returns the log position that makes it durable.
    pub(super) fn put_record(&mut self, key: Key, columns: Box<Columns>) -> u64 {
        if self.log.is_some() {
            let before = self.frames.bytes.len();
            self.frames.record(&columns);
            self.appended += (self.frames.bytes.len() - before) as u64;
        }
        self.active.put_keyed(key, columns);
        self.appended
    }

    /// Apply timeline entries; returns the log position that makes them durable.
    pub(super) fn put_timeline(&mut self, rows: impl IntoIterator<Item = TimelineRow>) -> u64 {
        let before = self.frames.bytes.len();
        for row in rows {
            if self.log.is_some() {
                self.frames.timeline(&row);
            }
            self.active.timeline.push(row);
        }
        self.appended += (self.frames.bytes.len() - before) as u64;
        self.appended
    }

    /// Why new record writes are refused: write-throughs fail and the memtable is full.
    pub(super) fn refuses(&self) -> Option<&StoreError> {
        self.failing
            .as_ref()
            .filter(|_| self.active.len() >= MAX_ACTIVE_FAILING)
    }

    /// Whether the memtable asks for a write-through now (once until it happens).
    pub(super) fn wants_flush(&mut self) -> bool {
        if !self.flush_requested && self.active.len() > MAX_ACTIVE {
            self.flush_requested = true;
            return true;
        }
        false
    }
}

/// Shared by the store's handles and its write-through thread.
pub(super) struct Inner {
    state: Mutex<State>,
    /// Wakes callers waiting for the log (async).
    logged: Notify,
    /// Wakes the write-through thread waiting for the log writer to finish.
    idle: Condvar,
    /// Point lookups of records not in the memtable.
    reader: Mutex<Reader>,
    /// The lock file that marks the log as ours while the store is open.
    _owner_lock: Option<std::fs::File>,
    pub url: Arc<str>,
}

impl Inner {
    pub(super) fn new(
        log: Option<LogState>,
        owner_lock: Option<std::fs::File>,
        reader: Connection,
        url: Arc<str>,
    ) -> Self {
        Self {
            state: Mutex::new(State {
                active: Table::default(),
                frozen: None,
                frozen_generation: 0,
                log,
                frames: Frames::default(),
                appended: 0,
                written: 0,
                writing: false,
                flush_requested: false,
                closed: false,
                failing: None,
            }),
            logged: Notify::new(),
            idle: Condvar::new(),
            reader: Mutex::new(Reader {
                conn: reader,
                open: false,
            }),
            _owner_lock: owner_lock,
            url,
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Run `f` on the reader connection, in its read transaction (begun if none is open).
    ///
    /// One read transaction serves many lookups (beginning and ending one costs file-locking
    /// system calls). It sees the database as of its first read, so the write-through thread
    /// [ends](Self::end_read) it after every commit, *before* it drops the table it wrote from
    /// the memtable: a lookup that no longer finds a record in the memtable reads a snapshot
    /// taken after the record was committed. It also ends it at every tick, so that the snapshot
    /// is at most about 100 ms old (writes of other processes) and never holds back checkpoints.
    pub(super) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        if !reader.open {
            reader.conn.execute_batch("BEGIN").map_err(|e| {
                StoreError::new(format!("reading task records: cannot begin a read: {e}"))
            })?;
            reader.open = true;
        }
        let result = f(&reader.conn);
        if result.is_err() {
            let _ = reader.conn.execute_batch("ROLLBACK");
            reader.open = false;
        }
        result
    }

    /// End the reader's transaction (see [`read`](Self::read)).
    pub(super) fn end_read(&self) {
        let mut reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        if reader.open {
            let _ = reader.conn.execute_batch("COMMIT");
            reader.open = false;
        }
    }

    /// Wait until the log holds everything up to `position`.
    pub(super) async fn durable(&self, position: u64) -> Result<(), StoreError> {
        loop {
            let notified = self.logged.notified();
            tokio::pin!(notified);
            // Registered before looking, so that a wake between the look and the wait counts.
            notified.as_mut().enable();
            let lead = {
                let mut st = self.lock();
                if st.written >= position {
                    return Ok(());
                }
                if st.writing {
                    false
                } else {
                    st.writing = true;
                    true
                }
            };
            if lead {
                let writer = Writer(self);
                // Let the tasks that are ready now add their writes: one system call for all.
                tokio::task::yield_now().await;
                let written = self.append_frames();
                drop(writer);
                written?;
            } else {
                notified.await;
            }
        }
    }

    /// As the log writer: append the encoded frames to the log file.
    fn append_frames(&self) -> Result<(), StoreError> {
        let (bytes, end, segment) = {
            let mut st = self.lock();
            let bytes = st.frames.take();
            let end = st.appended;
            let Some(log) = st.log.as_mut() else {
                st.written = end;
                return Ok(());
            };
            let segment = (!bytes.is_empty()).then(|| log.take_segment());
            (bytes, end, segment)
        };
        let (result, segment) = append_to(segment, &bytes);
        let mut st = self.lock();
        if let (Some(log), Some(segment)) = (st.log.as_mut(), segment) {
            log.segment = Some(segment);
        }
        match result {
            Ok(()) => {
                st.written = end;
                st.frames.recycle(bytes);
                Ok(())
            }
            Err(e) => {
                // Keep the frames for the next attempt, ahead of those encoded meanwhile.
                st.frames.restore(bytes);
                Err(StoreError::new(format!(
                    "cannot write the task store's log next to {} ({e}): check the disk and the directory's permissions",
                    self.url
                )))
            }
        }
    }

    /// Become the log writer from a plain thread (the write-through thread), waiting for a
    /// caller that is one to finish.
    pub(super) fn take_writer(&self) -> MutexGuard<'_, State> {
        let mut st = self
            .idle
            .wait_while(self.lock(), |st| st.writing)
            .unwrap_or_else(PoisonError::into_inner);
        st.writing = true;
        st
    }

    /// Stop being the log writer, waking whoever waits.
    pub(super) fn release_writer(&self, mut st: MutexGuard<'_, State>) {
        st.writing = false;
        drop(st);
        self.idle.notify_all();
        self.logged.notify_waiters();
    }
}

/// The reader connection and whether its read transaction is open.
struct Reader {
    conn: Connection,
    open: bool,
}

/// Holds the log writer role; gives it up (and wakes the waiting) when dropped, also when the
/// writing caller's future is dropped half-way.
struct Writer<'a>(&'a Inner);

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        let st = self.0.lock();
        self.0.release_writer(st);
    }
}
