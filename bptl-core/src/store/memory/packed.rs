//! How [`InMemoryStore`](super::InMemoryStore) keeps a record: a live record as it is, a
//! finished one packed (its input variables as JSON text), every timeline entry packed.
//!
//! A task's variables as parsed JSON take five to ten times their text's size, and a timeline
//! entry's `data` object several hundred bytes; a finished record is only read again by an
//! operator, so it keeps the text and is parsed back on reading.

use jiff::Timestamp;

use crate::store::{StoreError, TaskRecord};
use crate::task::TaskStatus;
use crate::timeline::{EventKind, TimelineEntry};

/// Whether a record is over: completed, or failed and reported (only these may be dropped).
pub(super) fn is_done(record: &TaskRecord) -> bool {
    record.status == TaskStatus::Completed
        || (record.status == TaskStatus::Failed && record.reported_at.is_some())
}

/// Bytes a record costs besides its strings' contents: the structs, the map slot, the
/// allocator's headers (an estimate, for the store's byte budget).
const RECORD_OVERHEAD: usize = 640;
/// The same for one timeline entry.
const ENTRY_OVERHEAD: usize = 96;

/// One stored record and its timeline.
#[derive(Debug)]
pub(super) struct Stored {
    /// The order of insertion (listing ties).
    pub(super) seq: u64,
    /// The record; while `packed` holds its variables, `record.variables` is `Null`.
    pub(super) record: TaskRecord,
    /// A finished record's input variables as JSON text.
    packed: Option<Box<str>>,
    /// When the record became done (the order in which done records are dropped).
    pub(super) done_seq: Option<u64>,
    /// What this record adds to the store's count of done bytes.
    pub(super) counted: usize,
    timeline: Vec<Entry>,
}

/// A timeline entry as the store keeps it.
#[derive(Debug)]
pub(super) struct Entry {
    at: Timestamp,
    kind: EventKind,
    message: Box<str>,
    /// `data` as JSON text; `None` for `Null`.
    data: Option<Box<str>>,
}

impl Entry {
    /// Pack `entry` (its data as text).
    pub(super) fn pack(entry: &TimelineEntry) -> Self {
        Self {
            at: entry.at,
            kind: entry.kind,
            message: entry.message.as_str().into(),
            data: (!entry.data.is_null()).then(|| to_text(&entry.data)),
        }
    }

    fn unpack(&self) -> Result<TimelineEntry, StoreError> {
        let data = match &self.data {
            Some(text) => serde_json::from_str(text).map_err(corrupt)?,
            None => serde_json::Value::Null,
        };
        Ok(TimelineEntry {
            at: self.at,
            kind: self.kind,
            message: self.message.to_string(),
            data,
        })
    }

    fn bytes(&self) -> usize {
        ENTRY_OVERHEAD + self.message.len() + self.data.as_ref().map_or(0, |d| d.len())
    }
}

/// `value` as JSON text in an allocation of its exact size (written into a buffer kept per
/// thread, so the text is not grown by doubling).
fn to_text(value: &serde_json::Value) -> Box<str> {
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUFFER.with_borrow_mut(|buffer| {
        buffer.clear();
        // Writing a `Value` into a Vec cannot fail, and its text is UTF-8.
        let _ = serde_json::to_writer(&mut *buffer, value);
        let text = String::from_utf8_lossy(buffer)
            .into_owned()
            .into_boxed_str();
        if buffer.capacity() > 1 << 20 {
            *buffer = Vec::new();
        }
        text
    })
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::corrupt(format!(
        "the in-memory store could not read back a record it packed: {e}"
    ))
}

/// A done record's variables as JSON text, written before the store's lock is taken.
#[derive(Debug)]
pub(super) struct Prepacked(Box<str>);

impl Prepacked {
    /// The text of `record`'s variables if the record is done.
    pub(super) fn of(record: &TaskRecord) -> Option<Self> {
        is_done(record).then(|| Self(to_text(&record.variables)))
    }
}

/// A copy of a stored record taken under the store's lock, parsed after it.
#[derive(Debug)]
pub(super) struct Copied {
    record: TaskRecord,
    packed: Option<Box<str>>,
}

impl Copied {
    /// The whole record (variables parsed back if packed).
    pub(super) fn into_record(self) -> Result<TaskRecord, StoreError> {
        let mut record = self.record;
        if let Some(text) = &self.packed {
            record.variables = serde_json::from_str(text).map_err(corrupt)?;
        }
        Ok(record)
    }
}

impl Stored {
    /// A new record with an empty timeline.
    pub(super) fn new(seq: u64, record: TaskRecord) -> Self {
        Self {
            seq,
            record,
            packed: None,
            done_seq: None,
            counted: 0,
            timeline: Vec::new(),
        }
    }

    /// The whole record (variables parsed back if packed).
    pub(super) fn record(&self) -> Result<TaskRecord, StoreError> {
        self.copy().into_record()
    }

    /// A copy, to parse once the lock is released.
    pub(super) fn copy(&self) -> Copied {
        Copied {
            record: self.record.clone(),
            packed: self.packed.clone(),
        }
    }

    /// Pack with the text written ahead; returns the variables held before, to be dropped
    /// once the lock is released.
    pub(super) fn pack_with(&mut self, text: Prepacked) -> serde_json::Value {
        self.packed = Some(text.0);
        std::mem::take(&mut self.record.variables)
    }

    /// Make the record live again before a change (parse its variables back).
    pub(super) fn unpack(&mut self) -> Result<(), StoreError> {
        if let Some(text) = &self.packed {
            self.record.variables = serde_json::from_str(text).map_err(corrupt)?;
            self.packed = None;
        }
        Ok(())
    }

    /// Pack a done record's variables (nothing to do if packed already).
    pub(super) fn pack(&mut self) {
        if self.packed.is_none() {
            let variables = std::mem::take(&mut self.record.variables);
            self.packed = Some(to_text(&variables));
        }
    }

    /// Append a timeline entry; returns its estimated size in bytes.
    pub(super) fn push(&mut self, entry: Entry) -> usize {
        let bytes = entry.bytes();
        self.timeline.push(entry);
        bytes
    }

    /// The timeline, oldest entry first.
    pub(super) fn timeline(&self) -> Result<Vec<TimelineEntry>, StoreError> {
        self.timeline.iter().map(Entry::unpack).collect()
    }

    /// The estimated heap bytes of a packed record and its timeline.
    pub(super) fn bytes(&self) -> usize {
        let r = &self.record;
        let strings = [
            Some(&r.engine),
            Some(&r.task_id),
            Some(&r.topic),
            Some(&r.worker_id),
            r.process_instance_id.as_ref(),
            r.business_key.as_ref(),
            r.execution_error.as_ref(),
            r.engine_error.as_ref(),
        ];
        let text: usize = strings.into_iter().flatten().map(String::len).sum();
        // The key repeats the engine and the task id.
        RECORD_OVERHEAD
            + text
            + r.engine.len()
            + r.task_id.len()
            + self.packed.as_ref().map_or(0, |p| p.len())
            + r.result_variables.as_ref().map_or(0, |v| v.len() * 128)
            + self.timeline.iter().map(Entry::bytes).sum::<usize>()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::task::InMemoryTask;
    use crate::variables;
    use serde_json::json;

    #[test]
    fn packing_keeps_the_variables_and_the_timeline_exactly() {
        let task = InMemoryTask::new(
            "t",
            variables! { "n": 1i64 << 40, "doc": json!({"a": [1.5, null, "é"]}), "s": "x" },
        );
        let record = TaskRecord::from_task(&task, "w");
        let mut stored = Stored::new(0, record.clone());
        let entries = [
            TimelineEntry {
                at: Timestamp::now(),
                kind: EventKind::Status,
                message: "initial → in_progress".into(),
                data: json!({"from": "initial", "to": "in_progress"}),
            },
            TimelineEntry {
                at: Timestamp::UNIX_EPOCH,
                kind: EventKind::Note,
                message: String::new(),
                data: serde_json::Value::Null,
            },
        ];
        stored.push(Entry::pack(&entries[0]));
        let live = stored.bytes();
        stored.pack();
        stored.pack();
        assert_eq!(stored.record.variables, serde_json::Value::Null);
        assert!(stored.bytes() > live, "the packed text is counted");
        stored.push(Entry::pack(&entries[1]));
        assert_eq!(stored.record().unwrap(), record);
        assert_eq!(stored.timeline().unwrap(), entries);
        stored.unpack().unwrap();
        assert_eq!(stored.record, record);
    }
}
