//! The SQLite store's intent log: what makes a write durable before it reaches the database.
//!
//! Every record state and timeline entry the store accepts is appended to a log file of the
//! process that accepted it, next to the database: `{db}-bptl-{owner}.{generation}.log`. A
//! batch of writes costs one `write` system call; SQLite sees them later, many at once, when
//! the store writes its memtable through (see `super::writes` and `super::flush`). After such a
//! write-through commits, it records the generation it covered in `bptl_log_owners` and deletes
//! the file; new writes go to the next generation.
//!
//! Each process holds an exclusive lock on `{db}-bptl-{owner}.lock` while its store is open. A
//! log whose lock nobody holds belongs to a process that died: the next process that opens the
//! database replays it (generations after the recorded one, in order) before anything else.
//!
//! A log file is a header (`BPTLLOG1`) followed by frames: payload length (`u32`), CRC-32 of the
//! payload (`u32`), payload. A payload is one record state (every column) or one timeline
//! entry. Replay stops at the first frame that is cut short or fails its checksum: the tail an
//! operating-system crash may leave behind.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use crate::sql::{Columns, TimelineRow};

/// The first bytes of every log file.
const MAGIC: &[u8; 8] = b"BPTLLOG1";

/// Payload kinds.
const RECORD: u8 = 1;
const TIMELINE: u8 = 2;

/// Where the log files of one database live, and what they are called.
#[derive(Debug, Clone)]
pub(super) struct Place {
    dir: PathBuf,
    /// The database's file name: the prefix of every log file's name.
    stem: String,
}

impl Place {
    /// The log files of the database at `db`.
    pub(super) fn of(db: &Path) -> Self {
        let dir = match db.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let stem = db.file_name().map_or_else(
            || "bptl.db".to_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
        Self { dir, stem }
    }

    fn prefix(&self, owner: &str) -> String {
        format!("{}-bptl-{owner}", self.stem)
    }

    fn lock_path(&self, owner: &str) -> PathBuf {
        self.dir.join(format!("{}.lock", self.prefix(owner)))
    }

    /// The log file of `owner`'s generation `generation`.
    pub(super) fn segment_path(&self, owner: &str, generation: u64) -> PathBuf {
        self.dir
            .join(format!("{}.{generation:012}.log", self.prefix(owner)))
    }

    /// `owner`'s log files, oldest generation first.
    pub(super) fn segments(&self, owner: &str) -> std::io::Result<Vec<(u64, PathBuf)>> {
        let prefix = format!("{}.", self.prefix(owner));
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(generation) = name
                .strip_prefix(&prefix)
                .and_then(|rest| rest.strip_suffix(".log"))
                .and_then(|g| g.parse::<u64>().ok())
            {
                found.push((generation, entry.path()));
            }
        }
        found.sort();
        Ok(found)
    }

    /// Take ownership of a new log: create and lock `{db}-bptl-{owner}.lock`.
    pub(super) fn claim_owner(&self, owner: &str) -> std::io::Result<File> {
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.lock_path(owner))?;
        lock.lock()?;
        Ok(lock)
    }

    /// Owners whose process died (their lock file is not locked): each comes back locked by
    /// us until the [`Orphan`] is dropped.
    pub(super) fn orphans(&self, own: &str) -> std::io::Result<Vec<Orphan>> {
        let suffix = ".lock";
        let prefix = format!("{}-bptl-", self.stem);
        let mut orphans = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(owner) = name
                .to_str()
                .and_then(|n| n.strip_prefix(&prefix))
                .and_then(|n| n.strip_suffix(suffix))
            else {
                continue;
            };
            if owner == own || owner.is_empty() || owner.contains('.') {
                continue;
            }
            let Ok(file) = OpenOptions::new().write(true).open(entry.path()) else {
                continue;
            };
            // Locked: its process is alive (or another process is replaying it right now).
            if file.try_lock().is_err() {
                continue;
            }
            orphans.push(Orphan {
                owner: owner.to_owned(),
                lock: file,
            });
        }
        Ok(orphans)
    }

    /// Delete `owner`'s lock file (after its logs were written through and deleted).
    pub(super) fn remove_owner(&self, owner: &str) {
        let _ = std::fs::remove_file(self.lock_path(owner));
    }
}

/// The log of a process that died, locked by us while we replay it.
pub(super) struct Orphan {
    pub owner: String,
    /// Held until the orphan's files are gone.
    #[allow(dead_code)]
    lock: File,
}

/// A log file being appended to.
pub(super) struct Segment {
    file: File,
    /// Bytes in the file that hold whole frames.
    len: u64,
    /// A failed append could not be cut off: nothing more goes into this file.
    broken: bool,
}

impl Segment {
    /// Create `owner`'s log file for `generation` (replacing a leftover of that name).
    pub(super) fn create(place: &Place, owner: &str, generation: u64) -> std::io::Result<Self> {
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(place.segment_path(owner, generation))?;
        file.write_all(MAGIC)?;
        Ok(Self {
            file,
            len: MAGIC.len() as u64,
            broken: false,
        })
    }

    /// Append encoded frames (see [`Frames`]), in one system call unless the kernel takes them
    /// in parts. When it fails, whatever part was written is cut off again, so that the frames
    /// can be appended again later without a torn frame before them (replay stops at one).
    pub(super) fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::{Seek as _, SeekFrom};
        if self.broken {
            return Err(std::io::Error::other(
                "an earlier write to this log file failed and could not be undone",
            ));
        }
        match self.file.write_all(bytes) {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                let undone = self
                    .file
                    .set_len(self.len)
                    .and_then(|()| self.file.seek(SeekFrom::Start(self.len)));
                self.broken = undone.is_err();
                Err(e)
            }
        }
    }
}

/// Frames being encoded, ready to append.
#[derive(Default)]
pub(super) struct Frames {
    pub bytes: Vec<u8>,
    /// A written buffer kept for its capacity: the next [`take`](Self::take) leaves it in place
    /// of the one taken, so encoding does not grow a new buffer from nothing every time.
    spare: Vec<u8>,
}

/// A spare buffer larger than this is not kept.
const MAX_SPARE: usize = 4 << 20;

impl Frames {
    /// Take the encoded frames, leaving an empty buffer.
    pub(super) fn take(&mut self) -> Vec<u8> {
        std::mem::replace(&mut self.bytes, std::mem::take(&mut self.spare))
    }

    /// Give back a buffer [taken](Self::take) and written, for its capacity.
    pub(super) fn recycle(&mut self, mut buffer: Vec<u8>) {
        buffer.clear();
        if buffer.capacity() <= MAX_SPARE && buffer.capacity() > self.spare.capacity() {
            self.spare = buffer;
        }
    }

    /// Put back frames that could not be written, ahead of those encoded since.
    pub(super) fn restore(&mut self, mut taken: Vec<u8>) {
        taken.extend_from_slice(&self.bytes);
        let newer = std::mem::replace(&mut self.bytes, taken);
        self.recycle(newer);
    }

    /// Append a record state.
    pub(super) fn record(&mut self, c: &Columns) {
        self.frame(RECORD, |out| {
            put_str(out, &c.engine);
            put_str(out, &c.task_id);
            put_str(out, &c.topic);
            put_str(out, &c.worker_id);
            put_opt_str(out, c.process_instance_id.as_deref());
            put_opt_str(out, c.business_key.as_deref());
            put_i64(out, c.priority);
            put_opt_i64(out, c.retries.map(i64::from));
            put_opt_i64(out, c.lock_expires_at);
            put_str(out, &c.variables);
            put_str(out, &c.status);
            put_opt_str(out, c.result_variables.as_deref());
            put_opt_str(out, c.execution_error.as_deref());
            put_opt_str(out, c.engine_error.as_deref());
            put_i64(out, c.executions);
            put_i64(out, c.created_at);
            put_i64(out, c.updated_at);
            put_opt_i64(out, c.reported_at);
        });
    }

    /// Append a timeline entry.
    pub(super) fn timeline(&mut self, row: &TimelineRow) {
        self.frame(TIMELINE, |out| {
            put_str(out, &row.engine);
            put_str(out, &row.task_id);
            put_i64(out, row.at);
            put_str(out, row.kind);
            put_str(out, &row.message);
            put_str(out, &row.data);
        });
    }

    fn frame(&mut self, kind: u8, body: impl FnOnce(&mut Vec<u8>)) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&[0; 8]);
        self.bytes.push(kind);
        body(&mut self.bytes);
        let payload = &self.bytes[start + 8..];
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        let crc = crc32(payload);
        self.bytes[start..start + 4].copy_from_slice(&len.to_le_bytes());
        self.bytes[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    }
}

fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_opt_i64(out: &mut Vec<u8>, v: Option<i64>) {
    match v {
        Some(v) => {
            out.push(1);
            put_i64(out, v);
        }
        None => out.push(0),
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
        None => out.push(0),
    }
}

/// One replayed write.
#[derive(Debug)]
pub(super) enum Entry {
    Record(Box<Columns>),
    Timeline(TimelineRow),
}

/// What a log file holds: its entries in order, and, when it ends in a damaged frame, what is
/// wrong (everything from there on is ignored).
pub(super) struct Read {
    pub entries: Vec<Entry>,
    pub damaged: Option<String>,
}

/// Read a log file.
pub(super) fn read(path: &Path) -> std::io::Result<Read> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    Ok(decode(&bytes))
}

/// Decode a log file's bytes.
pub(super) fn decode(bytes: &[u8]) -> Read {
    let mut entries = Vec::new();
    let Some(mut rest) = bytes.strip_prefix(MAGIC.as_slice()) else {
        let damaged = (!bytes.is_empty()).then(|| "not a bptl log file".to_owned());
        return Read { entries, damaged };
    };
    let mut damaged = None;
    while !rest.is_empty() {
        let Some((len, crc, after)) = frame_header(rest) else {
            damaged = Some("a frame header is cut short".to_owned());
            break;
        };
        let Some(payload) = after.get(..len) else {
            damaged = Some("a frame is cut short".to_owned());
            break;
        };
        if crc32(payload) != crc {
            damaged = Some("a frame fails its checksum".to_owned());
            break;
        }
        match decode_payload(payload) {
            Some(entry) => entries.push(entry),
            None => {
                damaged = Some("a frame cannot be decoded".to_owned());
                break;
            }
        }
        rest = &after[len..];
    }
    Read { entries, damaged }
}

fn frame_header(bytes: &[u8]) -> Option<(usize, u32, &[u8])> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?);
    let crc = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?);
    Some((usize::try_from(len).ok()?, crc, bytes.get(8..)?))
}

/// Reads a payload's fields in order.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = tail;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn opt_i64(&mut self) -> Option<Option<i64>> {
        match self.byte()? {
            0 => Some(None),
            1 => Some(Some(self.i64()?)),
            _ => None,
        }
    }

    fn str(&mut self) -> Option<String> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().ok()?);
        let bytes = self.take(usize::try_from(len).ok()?)?;
        String::from_utf8(bytes.to_vec()).ok()
    }

    fn opt_str(&mut self) -> Option<Option<String>> {
        match self.byte()? {
            0 => Some(None),
            1 => Some(Some(self.str()?)),
            _ => None,
        }
    }
}

fn decode_payload(payload: &[u8]) -> Option<Entry> {
    let mut f = Fields(payload);
    let entry = match f.byte()? {
        RECORD => Entry::Record(Box::new(Columns {
            engine: f.str()?,
            task_id: f.str()?,
            topic: f.str()?,
            worker_id: f.str()?,
            process_instance_id: f.opt_str()?,
            business_key: f.opt_str()?,
            priority: f.i64()?,
            retries: match f.opt_i64()? {
                Some(r) => Some(i32::try_from(r).ok()?),
                None => None,
            },
            lock_expires_at: f.opt_i64()?,
            variables: f.str()?,
            status: std::borrow::Cow::Owned(f.str()?),
            result_variables: f.opt_str()?,
            execution_error: f.opt_str()?,
            engine_error: f.opt_str()?,
            executions: f.i64()?,
            created_at: f.i64()?,
            updated_at: f.i64()?,
            reported_at: f.opt_i64()?,
        })),
        TIMELINE => Entry::Timeline(TimelineRow {
            engine: f.str()?,
            task_id: f.str()?,
            at: f.i64()?,
            kind: bptl_core::EventKind::parse(&f.str()?).as_str(),
            message: f.str()?,
            data: f.str()?,
        }),
        _ => return None,
    };
    f.0.is_empty().then_some(entry)
}

/// CRC-32 (IEEE 802.3, the one zip and PNG use) of `bytes`.
fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &b in bytes {
        crc = TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(task_id: &str, status: &str) -> Columns {
        Columns {
            engine: "camunda".into(),
            task_id: task_id.into(),
            topic: "double".into(),
            worker_id: "w1".into(),
            process_instance_id: Some("pi".into()),
            business_key: None,
            priority: -3,
            retries: Some(2),
            lock_expires_at: None,
            variables: r#"{"amount":{"type":"Integer","value":21}}"#.into(),
            status: status.to_owned().into(),
            result_variables: Some("{}".into()),
            execution_error: None,
            engine_error: Some("HTTP 500: ünïcödé".into()),
            executions: 1,
            created_at: 1_700_000_000_000_000_000,
            updated_at: 1_700_000_000_000_000_001,
            reported_at: None,
        }
    }

    fn row() -> TimelineRow {
        TimelineRow {
            engine: "camunda".into(),
            task_id: "t1".into(),
            at: 42,
            kind: "lock_extended",
            message: "lock extended".into(),
            data: "null".into(),
        }
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn frames_decode_to_what_was_encoded() {
        let mut frames = Frames::default();
        frames.bytes.extend_from_slice(MAGIC);
        frames.record(&columns("t1", "in_progress"));
        frames.timeline(&row());
        frames.record(&columns("t1", "performed"));
        let read = decode(&frames.bytes);
        assert!(read.damaged.is_none());
        let [Entry::Record(a), Entry::Timeline(t), Entry::Record(b)] = &read.entries[..] else {
            panic!("{:?}", read.entries);
        };
        assert_eq!(
            format!("{a:?}"),
            format!("{:?}", columns("t1", "in_progress"))
        );
        assert_eq!(format!("{t:?}"), format!("{:?}", row()));
        assert_eq!(b.status, "performed");
    }

    #[test]
    fn a_damaged_tail_is_reported_and_what_precedes_it_kept() {
        let mut frames = Frames::default();
        frames.bytes.extend_from_slice(MAGIC);
        frames.record(&columns("t1", "in_progress"));
        let whole = frames.bytes.len();
        frames.record(&columns("t2", "in_progress"));
        // Cut short.
        let read = decode(&frames.bytes[..frames.bytes.len() - 3]);
        assert_eq!(read.entries.len(), 1);
        assert_eq!(read.damaged.as_deref(), Some("a frame is cut short"));
        // A flipped bit.
        let mut flipped = frames.bytes.clone();
        flipped[whole + 20] ^= 0x10;
        let read = decode(&flipped);
        assert_eq!(read.entries.len(), 1);
        assert_eq!(read.damaged.as_deref(), Some("a frame fails its checksum"));
        // Only a header.
        let read = decode(&frames.bytes[..whole + 5]);
        assert_eq!(read.entries.len(), 1);
        assert_eq!(read.damaged.as_deref(), Some("a frame header is cut short"));
        // Not a log at all; an empty file is an empty log.
        assert_eq!(
            decode(b"hello").damaged.as_deref(),
            Some("not a bptl log file")
        );
        assert!(decode(b"").damaged.is_none());
    }
}
