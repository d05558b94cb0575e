//! Group commit for both stores: one writer task per store takes every write waiting
//! (record saves, claims, timeline appends) and commits them in **one transaction**, with one
//! multi-row statement per kind of write. Each caller's future resolves only after that commit,
//! so a write is exactly as durable when its call returns as it would be alone — but a burst of
//! 64 concurrent tasks costs one commit and a handful of statements instead of 64 of each.
//!
//! Per caller, writes stay in order (a caller awaits each write before making the next). Writes
//! of different callers in one batch are applied in the order they arrived; when two of them
//! touch the same record they go to separate [`Segment`]s executed one after the other in
//! the same transaction, so the outcome is the one sequential execution would give.
//!
//! For SQLite this is how one writer connection keeps up: the cost of a commit (and of the
//! hop to the connection's thread that every statement takes) is shared by every write of the
//! batch. The writer is a task on the runtime of the first write, not a thread of its own: the
//! hand-offs between callers and writer stay on one scheduler, and its `yield_now` lets every
//! task that is ready to write join the batch before it is committed (a writer thread with a
//! runtime of its own had nothing to yield to: its batches stayed small, and every reply
//! crossed threads).
//!
//! When a batch fails (a constraint, a deadlock between processes sharing PostgreSQL, a busy
//! or full database), it is rolled back and every write in it is retried alone, so that one
//! bad write fails only its own caller; a write that failed is not applied, and its caller gets
//! the reason (a claim that fails is not run).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bptl_core::store::{Claim, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::sql::{ClaimRow, Columns, TimelineRow};

/// At most this many writes per transaction.
const MAX_OPS: usize = 256;

/// Where a write's result goes.
type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One write waiting for the writer.
// A save is the most frequent write: its columns travel inline, not in a box of their own.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Op {
    /// Upsert a record.
    Save(Columns, Reply<()>),
    /// Claim a record (see `TaskStore::claim`); the bound record is the fresh `in_progress` one.
    Claim(Box<ClaimRow>, Reply<Claim>),
    /// Append timeline entries.
    Timeline(Vec<TimelineRow>, Reply<()>),
}

/// Writes that can go into one set of multi-row statements: no record appears twice among the
/// claims and saves. Executed as: claims, then saves, then timeline entries.
#[derive(Default)]
pub(crate) struct Segment<'a> {
    /// Records to claim, each key once.
    pub claims: Vec<&'a ClaimRow>,
    /// Records to save, each key once (of several saves of one key, the last).
    pub saves: Vec<&'a Columns>,
    /// Timeline entries, in order.
    pub timeline: Vec<&'a TimelineRow>,
    /// Position in `saves` by key.
    saved: HashMap<(&'a str, &'a str), usize>,
    /// Keys in `claims`.
    claimed: HashSet<(&'a str, &'a str)>,
}

impl<'a> Segment<'a> {
    fn is_empty(&self) -> bool {
        self.claims.is_empty() && self.saves.is_empty() && self.timeline.is_empty()
    }
}

/// Split `ops` into segments (see [`Segment`]); returns them and, for each claim in execution
/// order, the index of its op.
fn segments(ops: &[Op]) -> (Vec<Segment<'_>>, Vec<usize>) {
    let mut done = Vec::new();
    let mut claim_ops = Vec::new();
    let mut current = Segment::default();
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Claim(b, _) => {
                let key = (b.columns.engine.as_str(), b.columns.task_id.as_str());
                if current.claimed.contains(&key) || current.saved.contains_key(&key) {
                    done.push(std::mem::take(&mut current));
                }
                current.claimed.insert(key);
                current.claims.push(b);
                claim_ops.push(i);
            }
            Op::Save(b, _) => {
                let key = (b.engine.as_str(), b.task_id.as_str());
                if current.claimed.contains(&key) {
                    done.push(std::mem::take(&mut current));
                }
                match current.saved.get(&key) {
                    // The later save replaces every column the earlier one wrote.
                    Some(&at) => current.saves[at] = b,
                    None => {
                        current.saved.insert(key, current.saves.len());
                        current.saves.push(b);
                    }
                }
            }
            Op::Timeline(rows, _) => current.timeline.extend(rows.iter()),
        }
    }
    if !current.is_empty() {
        done.push(current);
    }
    (done, claim_ops)
}

/// A database the writer commits batches to (implemented per store by `impl_task_store!`).
#[async_trait]
pub(crate) trait BatchDb: Send + Sync + 'static {
    /// Execute `segments` in order — in one transaction when `transaction`, else statement by
    /// statement — and return the claims' outcomes in execution order.
    async fn write(
        &self,
        segments: &[Segment<'_>],
        transaction: bool,
    ) -> Result<Vec<Claim>, StoreError>;
}

/// A store's group-commit writer: cheap to share, started on first use.
pub(crate) struct GroupCommit {
    db: Arc<dyn BatchDb>,
    queue: Mutex<Option<mpsc::UnboundedSender<Op>>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// A writer for `db`: a task started on the runtime of the first write.
    pub(crate) fn new(db: Arc<dyn BatchDb>) -> Self {
        Self {
            db,
            queue: Mutex::new(None),
        }
    }

    /// Upsert `record`; returns once committed.
    pub(crate) async fn save(&self, record: Columns) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.send(Op::Save(record, tx))?;
        Self::wait(rx, "saving a task record").await
    }

    /// Claim `fresh` (the record as it is stored when new); returns once committed.
    pub(crate) async fn claim(&self, fresh: ClaimRow) -> Result<Claim, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.send(Op::Claim(Box::new(fresh), tx))?;
        Self::wait(rx, "claiming a task record").await
    }

    /// Append timeline entries; returns once committed.
    pub(crate) async fn timeline(&self, rows: Vec<TimelineRow>) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let (tx, rx) = oneshot::channel();
        self.send(Op::Timeline(rows, tx))?;
        Self::wait(rx, "appending to a task's timeline").await
    }

    async fn wait<T>(
        rx: oneshot::Receiver<Result<T, StoreError>>,
        what: &str,
    ) -> Result<T, StoreError> {
        rx.await.map_err(|_| {
            StoreError::closed(format!(
                "{what}: the store's writer stopped (its runtime shut down)"
            ))
        })?
    }

    /// Queue `op`, (re)starting the writer on the current runtime when there is none (first
    /// use) or the one there was has gone with its runtime.
    fn send(&self, op: Op) -> Result<(), StoreError> {
        let mut queue = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let op = match queue.as_ref() {
            Some(tx) => match tx.send(op) {
                Ok(()) => return Ok(()),
                Err(mpsc::error::SendError(op)) => op,
            },
            None => op,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::runtime::Handle::try_current()
            .map_err(|_| StoreError::other("the task store is used outside a Tokio runtime"))?
            .spawn(run_writer(Arc::clone(&self.db), rx));
        let sent = tx.send(op).is_ok();
        *queue = Some(tx);
        if sent {
            Ok(())
        } else {
            Err(StoreError::other("the store's writer could not be started"))
        }
    }
}

/// The writer: take what is waiting, commit it, answer every caller; until every sender is gone.
async fn run_writer(db: Arc<dyn BatchDb>, mut rx: mpsc::UnboundedReceiver<Op>) {
    let mut ops = Vec::new();
    while let Some(op) = rx.recv().await {
        ops.push(op);
        // Let the tasks that are ready to write add their writes to this batch: a commit costs
        // the same for one write as for many.
        tokio::task::yield_now().await;
        while ops.len() < MAX_OPS {
            match rx.try_recv() {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        commit(&*db, std::mem::take(&mut ops)).await;
    }
}

/// Commit `ops` together, falling back to one by one when that fails.
async fn commit(db: &dyn BatchDb, ops: Vec<Op>) {
    let result = {
        let (segments, claim_ops) = segments(&ops);
        // One write alone needs no transaction around it (one statement, or a claim's upsert
        // and read, which the store retries).
        let transaction = ops.len() > 1;
        db.write(&segments, transaction)
            .await
            .map(|claims| (claims, claim_ops))
    };
    match result {
        Ok((claims, claim_ops)) => {
            let mut outcome: HashMap<usize, Claim> = claim_ops.into_iter().zip(claims).collect();
            for (i, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Save(_, reply) | Op::Timeline(_, reply) => {
                        let _ = reply.send(Ok(()));
                    }
                    Op::Claim(_, reply) => {
                        let _ = reply.send(outcome.remove(&i).ok_or_else(|| {
                            StoreError::other("claiming a task record: no outcome (a bug)")
                        }));
                    }
                }
            }
        }
        Err(e) if ops.len() == 1 => {
            for op in ops {
                fail(op, e.clone());
            }
        }
        Err(e) => {
            tracing::debug!(
                writes = ops.len(),
                "a batch of task store writes failed ({e}); writing them one by one"
            );
            for op in ops {
                let single = [op];
                let result = {
                    let (segments, _) = segments(&single);
                    db.write(&segments, false).await
                };
                let [op] = single;
                match (op, result) {
                    (Op::Save(_, reply) | Op::Timeline(_, reply), Ok(_)) => {
                        let _ = reply.send(Ok(()));
                    }
                    (Op::Claim(_, reply), Ok(mut claims)) => {
                        let _ = reply.send(claims.pop().ok_or_else(|| {
                            StoreError::other("claiming a task record: no outcome (a bug)")
                        }));
                    }
                    (op, Err(e)) => fail(op, e),
                }
            }
        }
    }
}

fn fail(op: Op, e: StoreError) {
    match op {
        Op::Save(_, reply) | Op::Timeline(_, reply) => {
            let _ = reply.send(Err(e));
        }
        Op::Claim(_, reply) => {
            let _ = reply.send(Err(e));
        }
    }
}

/// Statement sizes: a run of `n` rows is written as statements of these sizes (largest first),
/// so that only a few distinct statements are ever prepared (and stay cached).
pub(crate) const CHUNK_SIZES: [usize; 7] = [64, 32, 16, 8, 4, 2, 1];

/// `items` cut into runs of [`CHUNK_SIZES`].
pub(crate) fn chunks<T>(mut items: &[T]) -> Vec<&[T]> {
    let mut out = Vec::new();
    for size in CHUNK_SIZES {
        while items.len() >= size {
            let (head, rest) = items.split_at(size);
            out.push(head);
            items = rest;
        }
    }
    out
}
