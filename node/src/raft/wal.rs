//! The node's write-ahead log (WAL): one append-only log shared by every Raft group on the node.
//!
//! # Why one log for many groups
//! A node runs one Raft group per shard plus a metadata group. Each group must make its log entries
//! and votes durable before it acknowledges them, and durability costs an `fdatasync`, which takes
//! from tens of microseconds to milliseconds. If every group had its own file, N busy groups would
//! pay N fsyncs. Here every group appends to the same [`Wal`], and one writer task makes the
//! records of all of them durable with a single fsync: *group commit*.
//!
//! # How a write flows
//! 1. A caller (a group's log store) calls [`Wal::append`] with some [`Record`]s and a [`Done`]
//!    callback. The op goes into a bounded queue (so a slow disk pushes back on the callers instead
//!    of growing memory without bound).
//! 2. The writer task takes the first op, then everything else already queued (up to
//!    4096 records or 8 MiB), encodes it all into one buffer and issues one `write(2)`.
//!    The writer is a task on the node's runtime, not a thread of its own: a `write(2)` into the
//!    page cache takes microseconds, and waking a task on a busy runtime costs far less than
//!    waking a parked thread (a futex call per append, measured as the largest single cost of the
//!    write path when the writer was a thread). Everything that may take long — fsync, starting a
//!    segment, rewrites, close — runs on tokio's blocking pool while the writer waits for it, so
//!    appends keep queuing meanwhile and the next batch takes them all.
//! 3. If the [`SyncPolicy`] is `Always`, or any op in the batch asked to be `durable`, it then calls
//!    `sync_data` once for the whole batch. Under `EverySec` the once-a-second fsync runs in the
//!    background instead: the writer goes on writing (and acknowledging) while it runs.
//! 4. It calls the `done` callbacks in queue order.
//!
//! While the writer waits for the disk, new ops pile up in the queue, and the next batch takes them
//! all: the busier the node, the more records share one fsync.
//!
//! # On disk
//! `dir` holds segments named `wal-{:020}.log` (numbered, replayed in numeric order). A segment
//! starts with an 8-byte header, `b"SHWAL\0"`, a flags byte and a version byte (1). Flag bit 0
//! marks a *base* segment, one written by [`Wal::rewrite`]: the log starts there and every
//! lower-numbered segment is obsolete. After the header come records, each framed as
//!
//! ```text
//! [len u32 LE][crc32c u32 LE][group u64 LE][kind u8][body ...]
//!  `len` counts everything after itself (4 + 8 + 1 + body length);
//!  the CRC (CRC-32/ISCSI, i.e. CRC-32C) covers group, kind and body.
//! ```
//!
//! A new segment is started once the current one has grown past `segment_bytes`; the old one is
//! fsynced first (whatever the policy), so only the last segment can ever have a torn tail.
//!
//! # Recovery
//! [`Wal::open`] replays every segment. A bad record at the very end of the last segment (a write
//! that a crash cut short) is cut off with a warning. A bad record anywhere else, i.e. one followed
//! by a valid record or in an earlier segment, is an error: the WAL refuses to start rather than
//! silently lose acknowledged data.
//!
//! To tell the two apart, replay looks for a valid record at every byte offset after the bad one
//! (cheap length checks first, then the checksum). One known limit: on *power loss* the disk may
//! keep a later page of the final, unsynced write and lose an earlier one; that looks like
//! corruption followed by valid data, and open fails although nothing acknowledged under
//! `Always` was lost. The error names the segment and offset; an operator who knows the machine
//! lost power can truncate the segment there. A process crash never causes this (the page cache
//! is coherent).
//!
//! # What the Raft layer can rely on
//! * One FIFO for everything: records are written, and `done` callbacks run, in the order the
//!   appends were queued, across all groups and all clones of the handle. A vote appended after
//!   a group's entries is on disk after them.
//! * The records of one `append` are adjacent on disk and in replay; a batch is never split
//!   across segments.
//! * Durability is prefix-closed: when a `durable` append (or any append under `Always`) reports
//!   `Ok`, everything queued before it is durable as well.
//! * A full disk is waited out, not an error: when a batch's `write(2)` (or the start of a new
//!   segment) fails with ENOSPC, EDQUOT, EMFILE or ENFILE, the writer truncates the segment back
//!   to its last whole batch, marks the WAL stalled ([`Wal::write_stalled`]) and tries the same
//!   batch again, with pauses from 50 ms doubling to 1 s, until it goes through; appends queue
//!   up behind it meanwhile (the bounded queue pushes back). Nothing is acknowledged that is not
//!   written, and nothing is lost that was queued. `close` ends the wait: the held batch fails.
//! * Errors: any other write failure, and every fsync failure, fails every append of that batch
//!   and *breaks* the WAL: every later call fails too (fsync errors cannot be retried safely:
//!   the kernel may have dropped the dirty pages). The node must stop its groups and restart;
//!   replay then shows what really reached the disk, which may include records whose append
//!   reported an error.
//!
//! # Compaction
//! The WAL never interprets records, so it cannot know which ones are obsolete. The Raft layer
//! decides: it calls [`Wal::rewrite`] with every record still needed, and the WAL atomically
//! replaces the whole log with them. The writer reserves the next segment number for the new
//! base segment and goes on appending in the segment after it at once, while the base is
//! written on the blocking pool: until the base is renamed into place, the old segments plus
//! the new ones are a complete log; after, the base plus the new ones are (replay starts at the
//! newest base). Appends do not wait for a rewrite; only a second rewrite (the node's compactor
//! never queues one before the first is done) or `close` wait for the running one to finish.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::panic::{self, AssertUnwindSafe};

use futures_util::FutureExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::codec::CRC32C as CRC;
pub use crate::config::SyncPolicy;

/// The largest value of a record's length field (everything after the field: CRC, group, kind and
/// body). Longer records are refused on append, and on replay such a length marks the record as
/// corrupt, so a damaged length never makes replay allocate without bound.
pub const MAX_RECORD_LEN: u32 = 1 << 30;

/// Bytes of a segment header.
const HEADER_LEN: usize = 8;
/// The first six bytes of every segment.
const MAGIC: &[u8; 6] = b"SHWAL\0";
/// The on-disk format version, the header's last byte.
const VERSION: u8 = 1;
/// Header flag: this segment was written by a rewrite; every lower-numbered segment is obsolete.
const FLAG_BASE: u8 = 1;
/// The length field of a record.
const LEN_FIELD: usize = 4;
/// CRC + group + kind: the smallest legal value of the length field (an empty body).
const RECORD_FIXED: usize = 4 + 8 + 1;

/// The first pause before a batch that met a full disk is tried again...
const STALL_FIRST_PAUSE: Duration = Duration::from_millis(50);
/// ...doubling up to this.
const STALL_MAX_PAUSE: Duration = Duration::from_secs(1);

/// How often the writer looks whether a running rewrite's base segment is done.
const REWRITE_POLL: Duration = Duration::from_millis(5);

/// Record bodies this long or longer are written from their own buffer rather than copied into
/// the batch's (a 256 MiB value was copied once more just to be written).
const COPY_MAX: usize = 64 * 1024;

/// Ops the queue holds before `append` has to wait.
const QUEUE_CAPACITY: usize = 1024;
/// A batch stops taking more ops after this many records...
const BATCH_MAX_RECORDS: usize = 4096;
/// ...or this many encoded bytes. (A single larger op still goes out whole.)
const BATCH_MAX_BYTES: usize = 8 << 20;
/// How stale unsynced data may get under [`SyncPolicy::EverySec`].
const EVERYSEC: Duration = Duration::from_secs(1);
/// How many bytes replay may checksum while it looks for valid records after a bad one (to tell
/// a torn tail from corruption) before it gives up and reports an error.
const SCAN_BUDGET_BYTES: u64 = 1 << 30;

/// One record: which group it belongs to, a kind byte the caller defines, and an opaque body.
///
/// The WAL never looks inside `body`; the Raft layer encodes and decodes it. A body may be at most
/// [`MAX_RECORD_LEN`] − 13 bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The Raft group (0 = metadata group, shard index + 1 for shards, by the Raft layer's rules).
    pub group: u64,
    /// What the body is (entry, vote, committed id, ...), as the Raft layer defines it.
    pub kind: u8,
    /// The encoded payload.
    pub body: Bytes,
}

/// What a completed append reports to its waiter.
///
/// It runs on the WAL's writer task, in queue order, so it must be quick and must not block:
/// complete a oneshot, call `IOFlushed::io_completed`, send on an unbounded channel. Blocking here
/// stalls every group on the node. A panic in it is caught and logged.
pub type Done = Box<dyn FnOnce(io::Result<()>) + Send + 'static>;

/// A handle to the node's write-ahead log.
///
/// Cheap to clone; every clone feeds the same writer task and the same FIFO queue. When the last
/// clone is dropped without [`Wal::close`], the writer still writes and fsyncs what was queued,
/// then exits.
#[derive(Clone)]
pub struct Wal {
    tx: mpsc::Sender<Op>,
    shared: Arc<Shared>,
}

impl fmt::Debug for Wal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wal")
            .field("size", &self.size())
            .field("fsyncs", &self.fsync_count())
            .finish()
    }
}

/// State the handles and the writer task share.
struct Shared {
    /// Bytes in all live segments (published by the writer).
    size: AtomicU64,
    /// Capacity of the writer's batch buffer (published by the writer).
    buffer: AtomicU64,
    /// `sync_data` calls on segment files so far.
    fsyncs: AtomicU64,
    /// Set once a write or fsync failed: the WAL refuses everything after that.
    broken: Mutex<Option<Broken>>,
    /// Set while the writer holds a batch it could not write for a transient reason (the disk
    /// is full, no file descriptor left) and retries it; cleared by the next successful write.
    stalled: Mutex<Option<String>>,
    /// Mirrors `stalled.is_some()`, for a check that costs one atomic load.
    is_stalled: std::sync::atomic::AtomicBool,
    /// Set by [`Wal::close`]: a stalled writer stops retrying and fails its batch.
    closing: std::sync::atomic::AtomicBool,
    /// Test hook: fail the next batch write as if the disk had returned EIO.
    #[cfg(test)]
    fail_next_write: std::sync::atomic::AtomicBool,
    /// Test hook: this many batch writes fail with ENOSPC after writing half their bytes.
    #[cfg(test)]
    full_disk_writes: AtomicU64,
    /// Test hook: background fsyncs take this many milliseconds longer (a slow disk).
    #[cfg(test)]
    background_sync_delay_ms: AtomicU64,
    /// Test hook: a rewrite's base segment takes this many milliseconds longer to write.
    #[cfg(test)]
    rewrite_delay_ms: AtomicU64,
    /// The writer task, joined by [`Wal::close`]: the WAL owns it.
    writer: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Shared {
    fn broken(&self) -> Option<Broken> {
        match self.broken.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_broken(&self, b: Broken) {
        match self.broken.lock() {
            Ok(mut guard) => *guard = Some(b),
            Err(poisoned) => *poisoned.into_inner() = Some(b),
        }
    }

    fn set_stalled(&self, why: Option<String>) {
        self.is_stalled.store(why.is_some(), Ordering::Release);
        *self.stalled.lock().unwrap_or_else(|p| p.into_inner()) = why;
    }

    fn stalled(&self) -> Option<String> {
        if !self.is_stalled.load(Ordering::Acquire) {
            return None;
        }
        self.stalled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The error for an op that can no longer reach the writer.
    fn closed_error(&self) -> io::Error {
        match self.broken() {
            Some(b) => b.error(),
            None => closed_error(),
        }
    }
}

/// Why the WAL broke. `io::Error` is not `Clone`, so we keep what is needed to make new ones.
#[derive(Clone, Debug)]
struct Broken {
    kind: ErrorKind,
    msg: String,
}

impl Broken {
    fn error(&self) -> io::Error {
        io::Error::new(
            self.kind,
            format!("WAL is broken by an earlier I/O error: {}", self.msg),
        )
    }
}

/// Errors a write may meet that go away by themselves (space freed, descriptors closed), so the
/// writer waits them out instead of breaking the WAL: ENOSPC, EDQUOT, EMFILE, ENFILE.
pub fn is_transient(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded)
        || matches!(e.raw_os_error(), Some(23 | 24))
}

/// The OS's words for an error without Rust's " (os error N)" suffix, as redis prints
/// `strerror`: "No space left on device".
fn os_error_text(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    }
}

fn closed_error() -> io::Error {
    io::Error::other("WAL is closed")
}

fn writer_gone() -> io::Error {
    io::Error::other("WAL writer stopped without answering")
}

/// An append waiting in the queue.
struct Pending {
    records: Vec<Record>,
    durable: bool,
    done: Done,
}

/// What the queue carries to the writer.
/// Produces the records of a rewrite's base segment (run on the blocking pool).
pub type LiveRecords = Box<dyn FnOnce() -> io::Result<Vec<Record>> + Send>;

enum Op {
    Append(Pending),
    Rewrite {
        live: LiveRecords,
        reply: oneshot::Sender<io::Result<()>>,
    },
    Close {
        reply: oneshot::Sender<io::Result<()>>,
    },
}

impl Wal {
    /// Opens (creating) the WAL in `dir`, replays every valid record of every segment in order and
    /// returns them with the handle. A torn tail (incomplete or checksum-failing record at the very
    /// end of the LAST segment, i.e. followed by nothing valid) is truncated away and logged with
    /// tracing::warn; a corrupt record anywhere else is an error (data loss must not be silent).
    ///
    /// Also finishes what a crash interrupted: leftover `*.tmp` files of a rewrite are removed, and
    /// so are segments older than the newest rewritten (base) segment.
    ///
    /// `segment_bytes` is the size past which the writer starts a new segment (a few tens of MiB
    /// is sensible; tests use tiny values). Must not be called twice on the same `dir` while the
    /// first WAL is alive. Must be called within a tokio runtime (the writer is a task on it); it
    /// does blocking I/O, so use `spawn_blocking` if the runtime must stay responsive during a
    /// long replay.
    pub fn open(
        dir: &Path,
        policy: SyncPolicy,
        segment_bytes: u64,
    ) -> io::Result<(Wal, Vec<Record>)> {
        fs::create_dir_all(dir)?;
        remove_temp_files(dir)?;
        let mut segments = list_segments(dir)?;
        drop_obsolete_segments(dir, &mut segments)?;

        let mut records = Vec::new();
        for (i, (_, path)) in segments.iter().enumerate() {
            let is_last = i + 1 == segments.len();
            replay_segment(path, is_last, &mut records)?;
        }

        let (seg_no, file) = match segments.last() {
            Some((no, path)) => (*no, OpenOptions::new().append(true).open(path)?),
            None => {
                let path = segment_path(dir, 1);
                let mut file = OpenOptions::new()
                    .append(true)
                    .create_new(true)
                    .open(&path)?;
                file.write_all(&header(0))?;
                file.sync_data()?;
                sync_dir(dir)?;
                (1, file)
            }
        };
        let seg_len = file.metadata()?.len();
        let mut older_bytes = 0;
        for (no, path) in &segments {
            if *no != seg_no {
                older_bytes += fs::metadata(path)?.len();
            }
        }

        let shared = Arc::new(Shared {
            size: AtomicU64::new(older_bytes + seg_len),
            buffer: AtomicU64::new(0),
            fsyncs: AtomicU64::new(0),
            broken: Mutex::new(None),
            stalled: Mutex::new(None),
            is_stalled: std::sync::atomic::AtomicBool::new(false),
            closing: std::sync::atomic::AtomicBool::new(false),
            #[cfg(test)]
            fail_next_write: std::sync::atomic::AtomicBool::new(false),
            #[cfg(test)]
            full_disk_writes: AtomicU64::new(0),
            #[cfg(test)]
            background_sync_delay_ms: AtomicU64::new(0),
            #[cfg(test)]
            rewrite_delay_ms: AtomicU64::new(0),
            writer: Mutex::new(None),
        });
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let writer = Writer {
            dir: dir.to_path_buf(),
            policy,
            segment_bytes,
            file: Arc::new(file),
            seg_no,
            seg_len,
            older_bytes,
            dirty: false,
            last_sync: Instant::now(),
            background_sync: None,
            rewrite: None,
            buf: Vec::new(),
            large_bodies: Vec::new(),
            broken: None,
            shared: shared.clone(),
        };
        let task = tokio::spawn(async move {
            let shared = writer.shared.clone();
            if AssertUnwindSafe(writer.run(rx))
                .catch_unwind()
                .await
                .is_err()
            {
                // A bug, not an I/O error; still, nothing may be written after it.
                tracing::error!("WAL: the writer panicked; the WAL refuses all further writes");
                shared.set_broken(Broken {
                    kind: ErrorKind::Other,
                    msg: "writer panicked".into(),
                });
            }
        });
        *shared.writer.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        Ok((Wal { tx, shared }, records))
    }

    /// Queues records for writing. `done` is called exactly once, from the writer task:
    /// with Always, after the fsync (fdatasync / File::sync_data) that covers them; with EverySec and
    /// No, after write(2) returned (the data is then in the OS page cache and survives a process
    /// crash; EverySec fsyncs at least once a second in the background, No leaves it to the OS).
    /// If `durable` is true the records are fsynced before `done` whatever the policy (used for Raft
    /// votes, which must be on disk before the node answers). Records of one call are written
    /// contiguously; calls are written in the order they were queued (FIFO), across all clones.
    /// Waits (async) while the queue is full (bounded queue: memory stays bounded).
    ///
    /// "Queued" is the moment this future completes: two appends awaited one after the other (by
    /// one task, or ordered by any other means) are written in that order. Durability is
    /// prefix-closed: when a durable append's `done` gets `Ok`, every record queued before it is
    /// durable too. An empty `records` with `durable = true` is therefore a barrier that fsyncs
    /// everything queued so far.
    ///
    /// Errors reach `done`: a record over [`MAX_RECORD_LEN`] fails its own call only
    /// (`InvalidInput`, nothing of that call is written); a write or fsync error fails the whole
    /// batch and breaks the WAL, after which every call fails. If the WAL is closed, `done` is
    /// called with an error right here, on the caller's thread, before this returns. If this
    /// future is dropped while waiting for queue space, nothing is queued and `done` is dropped
    /// uncalled.
    pub async fn append(&self, records: Vec<Record>, durable: bool, done: Done) {
        let op = Op::Append(Pending {
            records,
            durable,
            done,
        });
        if let Err(mpsc::error::SendError(Op::Append(p))) = self.tx.send(op).await {
            call_done(p.done, Err(self.shared.closed_error()));
        }
    }

    /// Convenience: append and wait for `done`.
    pub async fn append_wait(&self, records: Vec<Record>, durable: bool) -> io::Result<()> {
        let (tx, rx) = oneshot::channel();
        let done: Done = Box::new(move |result| {
            let _ = tx.send(result);
        });
        self.append(records, durable, done).await;
        rx.await.unwrap_or_else(|_| Err(writer_gone()))
    }

    /// Compaction: atomically replaces the whole log with `live` (the caller passes every record
    /// still needed: each group's vote, committed id, snapshot pointer and un-purged entries). The
    /// writer writes them to a new base segment (temp file + fsync + rename + fsync of the
    /// directory) on the blocking pool, then deletes all older segments. Records queued after
    /// this call go after `live`, in the segments after the base — they are written (and
    /// acknowledged) while the base is being written, without waiting for it. Returns after the
    /// base segment is durable.
    ///
    /// Everything queued *before* this call is written first and then discarded with the old
    /// segments, so `live` must already contain whatever of it is still needed. If the rewrite
    /// fails before the new segment is in place (say the disk is full), the old log stays in
    /// force and the WAL keeps working; only a failure after the rename breaks the WAL. A crash at
    /// any point leaves either the old log or the new one, never a mix.
    pub async fn rewrite(&self, live: Vec<Record>) -> io::Result<()> {
        self.queue_rewrite(live).await?.await
    }

    /// Like [`Wal::rewrite`], but returns as soon as the rewrite is queued (its place in the FIFO
    /// is then fixed), with a future that resolves once it is durable. Lets a caller hold a lock
    /// only while it collects `live` and queues it, not while the segment is written.
    pub async fn queue_rewrite(
        &self,
        live: Vec<Record>,
    ) -> io::Result<impl std::future::Future<Output = io::Result<()>>> {
        self.queue_rewrite_with(Box::new(move || Ok(live))).await
    }

    /// Like [`Wal::queue_rewrite`], but the records are produced by `live`, which runs on the
    /// blocking pool once the rewrite's place in the FIFO is reached: a caller can take a cheap
    /// copy of its state under its lock and leave the encoding for later. If `live` fails, the
    /// rewrite fails and the old log stays in force.
    pub async fn queue_rewrite_with(
        &self,
        live: LiveRecords,
    ) -> io::Result<impl std::future::Future<Output = io::Result<()>>> {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Op::Rewrite { live, reply }).await.is_err() {
            return Err(self.shared.closed_error());
        }
        Ok(async move { rx.await.unwrap_or_else(|_| Err(writer_gone())) })
    }

    /// Bytes in all segments now (so the caller can decide when to rewrite).
    ///
    /// Updated by the writer after each batch, so it lags queued-but-unwritten records.
    pub fn size(&self) -> u64 {
        self.shared.size.load(Ordering::Relaxed)
    }

    /// Bytes the writer keeps for its batches (up to twice the largest batch it writes, kept
    /// between batches: the node's equivalent of redis's AOF buffer, not counted against
    /// `maxmemory`).
    pub fn buffer_bytes(&self) -> u64 {
        self.shared.buffer.load(Ordering::Relaxed)
    }

    /// True once a write or fsync has failed: the WAL refuses everything after that.
    pub fn is_broken(&self) -> bool {
        self.shared.broken().is_some()
    }

    /// Why the writer is holding a batch it could not write, while it is: the disk is full (or a
    /// quota is reached, or no file descriptor is left to start a segment). Such an error does not
    /// break the WAL: the writer cuts off what it wrote of the batch, retries it with backoff, and
    /// the appends queued meanwhile wait (the queue is bounded); the first write that succeeds
    /// ends the stall. The node refuses writes meanwhile (`-MISCONF`) and hands its leaderships
    /// away. One atomic load when not stalled.
    pub fn write_stalled(&self) -> Option<String> {
        self.shared.stalled()
    }

    /// How many times the writer has called `sync_data` on a segment file since `open` (batch
    /// fsyncs, EverySec background fsyncs, and the fsyncs at rotation, rewrite and close; directory
    /// fsyncs are not counted). For tests and metrics: compare with the number of appends to see
    /// group commit at work.
    pub fn fsync_count(&self) -> u64 {
        self.shared.fsyncs.load(Ordering::Relaxed)
    }

    /// Stops the writer after everything queued is written and fsynced, and waits for its task
    /// to end.
    ///
    /// Appends queued after the close fail with a "closed" error, and so does every later call.
    /// Returns the WAL's error if it was broken. Calling it again is harmless (`Ok`, or the broken
    /// error); a second call racing the first may return before the first finishes.
    pub async fn close(&self) -> io::Result<()> {
        // A writer stalled on a full disk gives up its batch rather than hold the close forever.
        self.shared.closing.store(true, Ordering::Release);
        let (reply, rx) = oneshot::channel();
        let result = if self.tx.send(Op::Close { reply }).await.is_err() {
            match self.shared.broken() {
                Some(b) => Err(b.error()),
                None => Ok(()),
            }
        } else {
            rx.await.unwrap_or_else(|_| Err(writer_gone()))
        };
        let task = self
            .shared
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task {
            // The writer has answered (or is gone): it only has to return now.
            let _ = task.await;
        }
        result
    }

    /// Test hook: the next batch write fails as if the disk returned EIO.
    #[cfg(test)]
    fn fail_next_write(&self) {
        self.shared.fail_next_write.store(true, Ordering::SeqCst);
    }

    /// Test hook: the next `n` batch writes write half their bytes, then fail with ENOSPC.
    #[cfg(test)]
    fn fill_disk_for(&self, n: u64) {
        self.shared.full_disk_writes.store(n, Ordering::SeqCst);
    }
}

/// Calls a `done` callback, containing a panic so the writer survives it.
fn call_done(done: Done, result: io::Result<()>) {
    if panic::catch_unwind(AssertUnwindSafe(move || done(result))).is_err() {
        tracing::error!("WAL: an append's done callback panicked");
    }
}

/// Runs `f` with the writer on tokio's blocking pool (for work that may block: segment files,
/// rewrites) and hands the writer back. `None` if it panicked there: the writer is lost, and the
/// WAL is marked broken.
async fn off_runtime<T: Send + 'static>(
    mut writer: Writer,
    f: impl FnOnce(&mut Writer) -> T + Send + 'static,
) -> Option<(Writer, T)> {
    let shared = writer.shared.clone();
    match tokio::task::spawn_blocking(move || {
        let out = f(&mut writer);
        (writer, out)
    })
    .await
    {
        Ok(back) => Some(back),
        Err(e) => {
            tracing::error!(error = %e, "WAL: the writer failed on the blocking pool; the WAL refuses all further writes");
            shared.set_broken(Broken {
                kind: ErrorKind::Other,
                msg: format!("writer lost: {e}"),
            });
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The writer task
// ---------------------------------------------------------------------------------------------

/// Everything the writer task owns.
struct Writer {
    dir: PathBuf,
    policy: SyncPolicy,
    segment_bytes: u64,
    /// The segment being appended to (opened in append mode).
    file: Arc<File>,
    seg_no: u64,
    /// Bytes in the current segment.
    seg_len: u64,
    /// Bytes in all earlier live segments.
    older_bytes: u64,
    /// Written since the last fsync (or since the last background fsync started).
    dirty: bool,
    last_sync: Instant,
    /// The EverySec fsync running on the blocking pool, if any. Writes go on meanwhile (as
    /// redis's everysec fsync runs beside its writes); anything that needs a settled file —
    /// a fsync of its own, a new segment, a rewrite, close — waits for it first.
    background_sync: Option<tokio::task::JoinHandle<io::Result<()>>>,
    /// The rewrite whose base segment is being written on the blocking pool, if any.
    rewrite: Option<RunningRewrite>,
    /// Encoding buffer, reused across batches.
    buf: Vec<u8>,
    /// The bodies of the batch's large records, which are written from where they lie instead
    /// of being copied into `buf`: each with the offset in `buf` it goes before.
    large_bodies: Vec<(usize, Bytes)>,
    /// Set once a write or fsync failed; mirrored in `shared`.
    broken: Option<Broken>,
    shared: Arc<Shared>,
}

/// A rewrite in progress. Its base segment (number `base_no`) is written, fsynced and renamed
/// into place on the blocking pool while the writer goes on appending to the segments after it,
/// so appends never wait for it. Until the rename the old segments plus those after `base_no`
/// are a complete log; after it, the base plus those after it are.
struct RunningRewrite {
    base_no: u64,
    /// Bytes of the segments the base replaces (all those before it).
    replaced_bytes: u64,
    task: tokio::task::JoinHandle<Result<u64, BaseFailure>>,
    reply: oneshot::Sender<io::Result<()>>,
}

/// Why a base segment is not in place.
struct BaseFailure {
    error: io::Error,
    /// The rename happened but could not be made durable: the WAL can no longer be trusted.
    after_rename: bool,
}

/// What waiting on the queue produced.
enum Wake {
    Op(Op),
    /// The EverySec deadline passed.
    Tick,
    /// Every handle was dropped.
    Disconnected,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Op>) {
        loop {
            let first = match self.wait(&mut rx).await {
                Wake::Op(op) => op,
                Wake::Tick => {
                    self.collect_finished_rewrite().await;
                    self.everysec_tick().await;
                    continue;
                }
                Wake::Disconnected => {
                    self.settle_rewrite().await;
                    self.settle_background_sync().await;
                    let _ = off_runtime(self, Writer::final_sync).await;
                    return;
                }
            };

            // Group commit: take what else is queued, up to the caps, but stop at the first op
            // that is not an append (it must see everything before it written, and nothing after).
            let mut batch = Vec::new();
            let mut control = None;
            let (mut n_records, mut n_bytes) = (0usize, 0usize);
            let mut next = Some(first);
            while let Some(op) = next.take() {
                match op {
                    Op::Append(p) => {
                        n_records += p.records.len();
                        n_bytes += p
                            .records
                            .iter()
                            .map(|r| LEN_FIELD + RECORD_FIXED + r.body.len())
                            .sum::<usize>();
                        batch.push(p);
                    }
                    other => {
                        control = Some(other);
                        break;
                    }
                }
                if n_records >= BATCH_MAX_RECORDS || n_bytes >= BATCH_MAX_BYTES {
                    break;
                }
                next = rx.try_recv().ok();
            }

            if !batch.is_empty() {
                self = match self.commit(batch).await {
                    Some(w) => w,
                    None => return,
                };
            }
            if control.is_some() {
                self.settle_background_sync().await;
            }
            match control {
                Some(Op::Rewrite { live, reply }) => {
                    self = match self.start_rewrite(live, reply).await {
                        Some(w) => w,
                        None => return,
                    };
                }
                Some(Op::Close { reply }) => {
                    self.settle_rewrite().await;
                    let _ = tokio::task::spawn_blocking(move || self.close(rx, reply)).await;
                    return;
                }
                Some(Op::Append(_)) | None => {}
            }
            self.collect_finished_rewrite().await;
            self.everysec_tick().await;
        }
    }

    /// Waits until an op arrives or, under EverySec with unsynced data, until the fsync is due.
    async fn wait(&self, rx: &mut mpsc::Receiver<Op>) -> Wake {
        let pending = self.dirty || self.background_sync.is_some();
        let mut deadline =
            (self.policy == SyncPolicy::EverySec && pending && self.broken.is_none()).then(|| {
                let due = self.last_sync + EVERYSEC;
                // A background fsync still running past its second is looked at again shortly,
                // not in a busy loop.
                match self.background_sync {
                    Some(_) => due.max(Instant::now() + Duration::from_millis(10)),
                    None => due,
                }
            });
        if self.rewrite.is_some() {
            // A running rewrite is looked at every few milliseconds, to answer it soon.
            let soon = Instant::now() + REWRITE_POLL;
            deadline = Some(deadline.map_or(soon, |d| d.min(soon)));
        }
        let received = match deadline {
            None => rx.recv().await,
            Some(deadline) => {
                let deadline = tokio::time::Instant::from_std(deadline);
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(received) => received,
                    Err(_elapsed) => return Wake::Tick,
                }
            }
        };
        match received {
            Some(op) => Wake::Op(op),
            None => Wake::Disconnected,
        }
    }

    /// Writes one batch with one write and at most one fsync, then calls its callbacks in order.
    /// Returns the writer, or `None` if it was lost (a panic on the blocking pool).
    async fn commit(mut self, batch: Vec<Pending>) -> Option<Writer> {
        if let Some(b) = &self.broken {
            for p in batch {
                call_done(p.done, Err(b.error()));
            }
            return Some(self);
        }
        // Encode every valid op; an op with an oversized record fails alone.
        self.buf.clear();
        self.large_bodies.clear();
        let mut need_sync = self.policy == SyncPolicy::Always;
        let mut rejected: Vec<Option<io::Error>> = Vec::with_capacity(batch.len());
        for p in &batch {
            match check_records(&p.records) {
                Ok(()) => {
                    for r in &p.records {
                        if r.body.len() < COPY_MAX {
                            encode_record(&mut self.buf, r);
                        } else {
                            // Written from where it lies (see `write_buf`).
                            encode_head(&mut self.buf, r);
                            self.large_bodies.push((self.buf.len(), r.body.clone()));
                        }
                    }
                    need_sync |= p.durable;
                    rejected.push(None);
                }
                Err(e) => rejected.push(Some(e)),
            }
        }

        if self.broken.is_none() {
            self = self.write_batch().await?;
            if self.broken.is_none() && need_sync && self.dirty {
                if let Err(e) = self.sync().await {
                    self.set_broken(&e, "syncing a batch");
                }
            }
        }
        if self.buf.capacity() > 2 * BATCH_MAX_BYTES {
            self.buf = Vec::new(); // don't keep the memory of one huge op forever
        }
        self.publish_size();

        for (p, rejection) in batch.into_iter().zip(rejected) {
            let result = match (rejection, &self.broken) {
                (Some(e), _) => Err(e),
                (None, Some(b)) => Err(b.error()),
                (None, None) => Ok(()),
            };
            call_done(p.done, result);
        }
        Some(self)
    }

    /// Writes the encoded batch, starting a new segment first if the current one is full. A
    /// transient failure ([`is_transient`]: the disk is full, no file descriptor left) does not
    /// break the WAL: what was written of the batch is cut off again, the WAL is marked stalled
    /// ([`Wal::write_stalled`]) and the same batch is tried again after a pause (doubling up to
    /// [`STALL_MAX_PAUSE`]) until it goes through or the WAL is closed. Any other failure breaks
    /// the WAL. `None` if the writer was lost.
    async fn write_batch(mut self) -> Option<Writer> {
        let mut pause = STALL_FIRST_PAUSE;
        let mut stalled_since: Option<Instant> = None;
        loop {
            let attempt = match self.start_segment_if_due().await? {
                (w, Err(e)) => {
                    self = w;
                    Err(e)
                }
                (w, Ok(())) => {
                    self = w;
                    self.write_buf().map_err(|e| (e, false))
                }
            };
            let error = match attempt {
                Ok(()) => {
                    if let Some(since) = stalled_since {
                        tracing::warn!(
                            stalled_ms = since.elapsed().as_millis() as u64,
                            "WAL: writing again; the writes held meanwhile are written"
                        );
                        self.shared.set_stalled(None);
                    }
                    return Some(self);
                }
                Err((e, fatal)) => {
                    if fatal || !is_transient(&e) || self.shared.closing.load(Ordering::Acquire) {
                        self.set_broken(&e, "writing a batch");
                        return Some(self);
                    }
                    e
                }
            };
            if let Err(e) = self.cut_partial_write() {
                self.set_broken(&e, "cutting off a batch the full disk took in part");
                return Some(self);
            }
            if stalled_since.is_none() {
                tracing::error!(
                    error = %error,
                    "WAL: cannot write; writes are refused and the batch is retried until space \
                     is back"
                );
                stalled_since = Some(Instant::now());
                self.shared.set_stalled(Some(os_error_text(&error)));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(STALL_MAX_PAUSE);
        }
    }

    /// Starts the next segment if the current one has reached `segment_bytes`. The error says
    /// whether it is fatal (an fsync of the current segment failed) or only means the new
    /// segment could not be made (the half-made file is gone; appends may go on in the current
    /// one). `None` if the writer was lost.
    async fn start_segment_if_due(mut self) -> Option<(Writer, Result<(), (io::Error, bool)>)> {
        if self.seg_len < self.segment_bytes || self.seg_len <= HEADER_LEN as u64 {
            return Some((self, Ok(())));
        }
        self.settle_background_sync().await;
        let next = self.seg_no + 1;
        off_runtime(self, move |w| w.rotate_to(next)).await
    }

    /// Truncates the current segment back to its last whole batch, after a write that failed
    /// part-way (a full disk may take some of a batch's bytes).
    fn cut_partial_write(&mut self) -> io::Result<()> {
        if self.file.metadata()?.len() != self.seg_len {
            self.file.set_len(self.seg_len)?;
        }
        Ok(())
    }

    /// Writes the encoded batch with one `write(2)` (one more per large record body, written
    /// from where it lies): into the page cache, so it returns in
    /// microseconds and runs on the writer task itself.
    fn write_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        #[cfg(test)]
        if self.shared.fail_next_write.swap(false, Ordering::SeqCst) {
            return Err(io::Error::other("injected write failure"));
        }
        self.dirty = true;
        #[cfg(test)]
        if self
            .shared
            .full_disk_writes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            (&*self.file).write_all(&self.buf[..self.buf.len() / 2])?;
            return Err(io::Error::from_raw_os_error(28));
        }
        crate::faults::check("wal-write")?;
        let mut file = &*self.file;
        let mut from = 0;
        let mut written = 0;
        for (at, body) in &self.large_bodies {
            file.write_all(&self.buf[from..*at])?;
            file.write_all(body)?;
            written += *at - from + body.len();
            from = *at;
        }
        file.write_all(&self.buf[from..])?;
        written += self.buf.len() - from;
        self.seg_len += written as u64;
        Ok(())
    }

    /// fsyncs the current segment on the blocking pool (appends queue up meanwhile).
    async fn sync(&mut self) -> io::Result<()> {
        self.settle_background_sync().await;
        if let Some(b) = &self.broken {
            return Err(b.error());
        }
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || file.sync_data())
            .await
            .map_err(io::Error::other)??;
        self.synced();
        Ok(())
    }

    /// fsyncs the current segment here; only for code already on the blocking pool.
    fn sync_here(&mut self) -> io::Result<()> {
        self.file.sync_data()?;
        self.synced();
        Ok(())
    }

    fn synced(&mut self) {
        self.shared.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.dirty = false;
        self.last_sync = Instant::now();
    }

    /// Under EverySec, starts a background fsync if there were writes and the last fsync
    /// started a second ago or more (and collects the previous one once it has finished). The
    /// writer does not wait for it: under EverySec an append is acknowledged once written, so an
    /// fsync in the foreground only delayed every group's appends by the fsync's duration, once
    /// a second.
    async fn everysec_tick(&mut self) {
        if self.policy != SyncPolicy::EverySec || self.broken.is_some() {
            return;
        }
        match &self.background_sync {
            Some(running) if !running.is_finished() => return,
            Some(_) => self.settle_background_sync().await,
            None => {}
        }
        if self.dirty && self.broken.is_none() && self.last_sync.elapsed() >= EVERYSEC {
            let file = self.file.clone();
            let shared = self.shared.clone();
            // Covers everything written so far; what is written while it runs marks the file
            // dirty again, for the next one.
            self.dirty = false;
            self.last_sync = Instant::now();
            self.background_sync = Some(tokio::task::spawn_blocking(move || {
                #[cfg(test)]
                std::thread::sleep(Duration::from_millis(
                    shared.background_sync_delay_ms.load(Ordering::Relaxed),
                ));
                file.sync_data()?;
                shared.fsyncs.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }));
        }
    }

    /// Waits for the background fsync, if one is running; its failure breaks the WAL.
    async fn settle_background_sync(&mut self) {
        let Some(running) = self.background_sync.take() else {
            return;
        };
        let result = running.await.unwrap_or_else(|e| Err(io::Error::other(e)));
        if let Err(e) = result {
            self.set_broken(&e, "background fsync");
        }
    }

    /// Closes the current segment (fsynced, so that no earlier segment can have a torn tail) and
    /// starts segment number `no` (above the current one), telling a failure of the fsync of the current segment (`true`:
    /// nothing can be trusted any more) from one to create the new segment (`false`: the
    /// half-made file is removed and appends can go on in the current one).
    fn rotate_to(&mut self, no: u64) -> Result<(), (io::Error, bool)> {
        if self.dirty {
            self.sync_here().map_err(|e| (e, true))?;
        }
        let path = segment_path(&self.dir, no);
        let mut file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| (e, false))?;
        if let Err(e) = file
            .write_all(&header(0))
            .and_then(|()| sync_dir(&self.dir))
        {
            // Only the file made here is removed.
            let _ = fs::remove_file(&path);
            return Err((e, false));
        }
        self.older_bytes += self.seg_len;
        self.file = Arc::new(file);
        self.seg_no = no;
        self.seg_len = HEADER_LEN as u64;
        self.dirty = true; // the header is not fsynced yet
        Ok(())
    }

    /// Starts a rewrite (see [`Wal::rewrite`]): the segment after the current one is left for
    /// the base, appends go on in the one after that, and the base is written on the blocking
    /// pool. One rewrite runs at a time; the answer goes to `reply` once the base is durable.
    /// `None` if the writer was lost.
    async fn start_rewrite(
        mut self,
        live: LiveRecords,
        reply: oneshot::Sender<io::Result<()>>,
    ) -> Option<Writer> {
        self.settle_rewrite().await;
        if let Some(b) = &self.broken {
            let _ = reply.send(Err(b.error()));
            return Some(self);
        }
        let base_no = self.seg_no + 1;
        let replaced_bytes = self.older_bytes + self.seg_len;
        let (mut w, rotated) = off_runtime(self, move |w| w.rotate_to(base_no + 1)).await?;
        if let Err((e, fatal)) = rotated {
            // A failed fsync breaks the WAL; a segment that could not be created (say the disk
            // is full) only fails this rewrite, and appends go on in the current segment.
            if fatal {
                w.set_broken(&e, "syncing a segment before a rewrite");
            }
            let _ = reply.send(Err(e));
            return Some(w);
        }
        w.publish_size();
        let dir = w.dir.clone();
        let shared = w.shared.clone();
        let task = tokio::task::spawn_blocking(move || {
            let live = live().and_then(|live| check_records(&live).map(|()| live));
            match live {
                Ok(live) => write_base(&dir, base_no, &live, &shared),
                Err(error) => Err(BaseFailure {
                    error,
                    after_rename: false,
                }),
            }
        });
        w.rewrite = Some(RunningRewrite {
            base_no,
            replaced_bytes,
            task,
            reply,
        });
        Some(w)
    }

    /// Finishes the running rewrite if its base segment is done.
    async fn collect_finished_rewrite(&mut self) {
        if self.rewrite.as_ref().is_some_and(|r| r.task.is_finished()) {
            self.settle_rewrite().await;
        }
    }

    /// Waits for the running rewrite, if any, and finishes it: on success the segments before
    /// its base are deleted; a failure before the rename leaves the old log in force (the WAL
    /// goes on), one after it breaks the WAL.
    async fn settle_rewrite(&mut self) {
        let Some(rewrite) = self.rewrite.take() else {
            return;
        };
        let result = rewrite.task.await.unwrap_or_else(|e| {
            Err(BaseFailure {
                error: io::Error::other(e),
                after_rename: false,
            })
        });
        let answer = match result {
            Ok(base_len) => {
                self.older_bytes = self.older_bytes - rewrite.replaced_bytes + base_len;
                self.publish_size();
                let dir = self.dir.clone();
                let base_no = rewrite.base_no;
                // The base flag already makes older segments obsolete; deleting them is
                // housekeeping (open retries it), so failures here are only warnings.
                let _ = tokio::task::spawn_blocking(move || delete_segments_before(&dir, base_no))
                    .await;
                Ok(())
            }
            Err(BaseFailure {
                error,
                after_rename,
            }) => {
                if after_rename {
                    self.set_broken(&error, "syncing the directory after a rewrite");
                } else {
                    let _ = fs::remove_file(temp_path(&self.dir, rewrite.base_no));
                }
                Err(error)
            }
        };
        let _ = rewrite.reply.send(answer);
    }

    /// Handles `close`: fsync, refuse whatever is still queued, release the file, answer.
    fn close(mut self, mut rx: mpsc::Receiver<Op>, reply: oneshot::Sender<io::Result<()>>) {
        self.final_sync();
        rx.close();
        let result = || match &self.broken {
            Some(b) => Err(b.error()),
            None => Ok(()),
        };
        while let Ok(op) = rx.try_recv() {
            match op {
                Op::Append(p) => call_done(p.done, Err(closed_error())),
                Op::Rewrite { reply, .. } => {
                    let _ = reply.send(Err(closed_error()));
                }
                Op::Close { reply } => {
                    let _ = reply.send(result());
                }
            }
        }
        let result = result();
        drop(self); // closes the segment file before the caller hears back
        let _ = reply.send(result);
    }

    /// The final fsync (on the blocking pool).
    fn final_sync(&mut self) {
        if self.dirty && self.broken.is_none() {
            if let Err(e) = self.sync_here() {
                self.set_broken(&e, "the final fsync");
            }
        }
    }

    fn set_broken(&mut self, e: &io::Error, doing: &str) {
        tracing::error!(error = %e, "WAL: I/O error while {doing}; the WAL refuses all further writes");
        let b = Broken {
            kind: e.kind(),
            msg: format!("{doing}: {e}"),
        };
        self.shared.set_broken(b.clone());
        self.broken = Some(b);
    }

    fn publish_size(&self) {
        self.shared
            .size
            .store(self.older_bytes + self.seg_len, Ordering::Relaxed);
        self.shared
            .buffer
            .store(self.buf.capacity() as u64, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

fn header(flags: u8) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..6].copy_from_slice(MAGIC);
    h[6] = flags;
    h[7] = VERSION;
    h
}

fn check_records(records: &[Record]) -> io::Result<()> {
    let max_body = MAX_RECORD_LEN as usize - RECORD_FIXED;
    match records.iter().find(|r| r.body.len() > max_body) {
        Some(r) => Err(io::Error::new(
            ErrorKind::InvalidInput,
            format!(
                "WAL record of {} bytes exceeds the limit of {max_body} bytes",
                r.body.len()
            ),
        )),
        None => Ok(()),
    }
}

/// Appends one framed record to `buf`. The body length must have passed [`check_records`].
/// Encodes `r` at the end of `buf`.
fn encode_record(buf: &mut Vec<u8>, r: &Record) {
    buf.reserve(LEN_FIELD + RECORD_FIXED + r.body.len());
    encode_head(buf, r);
    buf.extend_from_slice(&r.body);
}

/// Encodes everything of `r` but its body (length, checksum, group, kind) at the end of `buf`.
fn encode_head(buf: &mut Vec<u8>, r: &Record) {
    let len = (RECORD_FIXED + r.body.len()) as u32;
    let group = r.group.to_le_bytes();
    let mut digest = CRC.digest();
    digest.update(&group);
    digest.update(&[r.kind]);
    digest.update(&r.body);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&digest.finalize().to_le_bytes());
    buf.extend_from_slice(&group);
    buf.push(r.kind);
}

// ---------------------------------------------------------------------------------------------
// Decoding and recovery
// ---------------------------------------------------------------------------------------------

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// What lies at an offset of a segment.
enum Frame {
    /// A record with a good checksum, and the offset just past it.
    Valid { record: Record, next: usize },
    /// Not a valid record; why.
    Bad(&'static str),
}

/// Decodes the record at `pos` (with `pos < data.len()`), checking its length and checksum.
fn frame_at(data: &[u8], pos: usize) -> Frame {
    let rest = &data[pos..];
    if rest.len() < LEN_FIELD {
        return Frame::Bad("the length field is cut off");
    }
    let len = le_u32(rest) as usize;
    if len < RECORD_FIXED || len > MAX_RECORD_LEN as usize {
        return Frame::Bad("the length field is out of range");
    }
    if rest.len() - LEN_FIELD < len {
        return Frame::Bad("the record runs past the end of the file");
    }
    let stored_crc = le_u32(&rest[LEN_FIELD..]);
    let payload = &rest[LEN_FIELD + 4..LEN_FIELD + len];
    if CRC.checksum(payload) != stored_crc {
        return Frame::Bad("checksum mismatch");
    }
    let record = Record {
        group: le_u64(payload),
        kind: payload[8],
        body: Bytes::copy_from_slice(&payload[9..]),
    };
    Frame::Valid {
        record,
        next: pos + LEN_FIELD + len,
    }
}

/// Is there a valid record anywhere in `data[from..]`?
enum Scan {
    Found(usize),
    NotFound,
    /// Gave up after checksumming [`SCAN_BUDGET_BYTES`].
    TooCostly,
}

/// Looks for a valid record starting at any byte offset at or after `from`. Used after a bad
/// record in the last segment: if one exists, the bad record is corruption inside the log, not a
/// torn tail.
///
/// Checksumming every offset would cost O(n²), so a candidate is checksummed only if its length
/// fits in the file and what follows it looks like the rest of a log: the end of the file, a
/// cut-off length field, or another record whose length also fits. Random bytes pass that about
/// once per (2^32 / remaining bytes)² offsets. Real records always pass, except the last valid
/// record before a torn one; so the one case this misses is corruption followed by exactly one
/// valid record and then a torn tail.
fn find_valid_record(data: &[u8], from: usize) -> Scan {
    let plausible = |len: usize| (RECORD_FIXED..=MAX_RECORD_LEN as usize).contains(&len);
    let mut budget = SCAN_BUDGET_BYTES;
    for y in from..data.len() {
        let rest = data.len() - y;
        if rest < LEN_FIELD + RECORD_FIXED {
            break;
        }
        let len = le_u32(&data[y..]) as usize;
        if !plausible(len) || len > rest - LEN_FIELD {
            continue;
        }
        let next = y + LEN_FIELD + len;
        let after = data.len() - next;
        if after >= LEN_FIELD {
            let next_len = le_u32(&data[next..]) as usize;
            if !plausible(next_len) || next_len > after - LEN_FIELD {
                continue;
            }
        }
        if budget < len as u64 {
            return Scan::TooCostly;
        }
        budget -= len as u64;
        if let Frame::Valid { .. } = frame_at(data, y) {
            return Scan::Found(y);
        }
    }
    Scan::NotFound
}

/// What a segment's first bytes say.
enum HeaderCheck {
    Valid {
        flags: u8,
    },
    /// Missing or cut short, as a crash right after creating the segment leaves it (only
    /// acceptable for the last segment).
    Torn,
    Bad(String),
}

fn check_header(data: &[u8]) -> HeaderCheck {
    if data.len() >= HEADER_LEN {
        let h = &data[..HEADER_LEN];
        if &h[..6] == MAGIC && h[7] == VERSION && h[6] & !FLAG_BASE == 0 {
            return HeaderCheck::Valid { flags: h[6] };
        }
        if &h[..6] == MAGIC && h[7] != VERSION {
            return HeaderCheck::Bad(format!("unsupported WAL format version {}", h[7]));
        }
        if data.iter().all(|&b| b == 0) {
            return HeaderCheck::Torn; // a zero-filled file: its blocks were allocated, never written
        }
        return HeaderCheck::Bad("not a WAL segment (bad header)".into());
    }
    let normal = header(0);
    if data == &normal[..data.len()] || data.iter().all(|&b| b == 0) {
        HeaderCheck::Torn
    } else {
        HeaderCheck::Bad("not a WAL segment (bad header)".into())
    }
}

fn corrupt(path: &Path, what: String) -> io::Error {
    io::Error::new(
        ErrorKind::InvalidData,
        format!("WAL segment {}: {what}", path.display()),
    )
}

/// How a segment ends.
enum SegmentEnd {
    /// With a whole record (or right after its header).
    Clean,
    /// Its header is missing or cut short: a crash right after the segment was created.
    TornHeader,
    /// With a bad record at `offset` that nothing valid follows: a write a crash cut short.
    TornTail { offset: usize, why: &'static str },
}

/// Reads the records of one segment (`data`, read from `path`) into `out` and says how it ends.
/// Only the last segment may end torn; any other damage is an error.
fn scan_segment(
    path: &Path,
    data: &[u8],
    is_last: bool,
    out: &mut Vec<Record>,
) -> io::Result<SegmentEnd> {
    match check_header(data) {
        HeaderCheck::Valid { .. } => {}
        HeaderCheck::Torn if is_last => return Ok(SegmentEnd::TornHeader),
        HeaderCheck::Torn => {
            return Err(corrupt(
                path,
                "the header is missing but later segments exist".into(),
            ))
        }
        HeaderCheck::Bad(why) => return Err(corrupt(path, why)),
    }

    let mut pos = HEADER_LEN;
    while pos < data.len() {
        let why = match frame_at(data, pos) {
            Frame::Valid { record, next } => {
                out.push(record);
                pos = next;
                continue;
            }
            Frame::Bad(why) => why,
        };
        if !is_last {
            return Err(corrupt(
                path,
                format!("bad record at offset {pos} ({why}) in a segment that is not the last"),
            ));
        }
        return match find_valid_record(data, pos + 1) {
            Scan::Found(at) => Err(corrupt(
                path,
                format!(
                    "bad record at offset {pos} ({why}) followed by a valid record at \
                     offset {at}; refusing to drop data"
                ),
            )),
            Scan::TooCostly => Err(corrupt(
                path,
                format!(
                    "bad record at offset {pos} ({why}); the {} bytes after it are too many \
                     to check for valid records, so it cannot be told from a torn tail: \
                     inspect the file, and truncate it at {pos} if it is a torn tail",
                    data.len() - pos
                ),
            )),
            Scan::NotFound => Ok(SegmentEnd::TornTail { offset: pos, why }),
        };
    }
    Ok(SegmentEnd::Clean)
}

/// Reads one segment, appending its records to `out`. In the last segment a bad tail with
/// nothing valid after it is truncated away; any other damage is an error.
fn replay_segment(path: &Path, is_last: bool, out: &mut Vec<Record>) -> io::Result<()> {
    let data = fs::read(path)?;
    match scan_segment(path, &data, is_last, out)? {
        SegmentEnd::Clean => Ok(()),
        SegmentEnd::TornHeader => {
            tracing::warn!(segment = %path.display(), bytes = data.len(),
                "WAL: the last segment has a torn header (crash right after it was created); resetting it");
            let mut file = OpenOptions::new().write(true).open(path)?;
            file.set_len(0)?;
            file.write_all(&header(0))?;
            file.sync_all()?;
            Ok(())
        }
        SegmentEnd::TornTail { offset, why } => {
            tracing::warn!(segment = %path.display(), offset, dropped_bytes = data.len() - offset,
                reason = why, "WAL: truncating a torn tail (a write cut short by a crash)");
            let file = OpenOptions::new().write(true).open(path)?;
            file.set_len(offset as u64)?;
            file.sync_all()?;
            Ok(())
        }
    }
}

/// What [`inspect`] found in a WAL directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    /// Live segments: from the newest base segment (written by a rewrite) on.
    pub segments: usize,
    /// Valid records in them.
    pub records: usize,
    /// Bytes of the live segments.
    pub bytes: u64,
    /// The torn end of the last segment, if it has one (what [`Wal::open`] would cut off).
    pub torn: Option<TornTail>,
}

/// A torn end of the last segment: a write that the process did not finish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// The segment.
    pub segment: PathBuf,
    /// Where the torn part starts.
    pub offset: u64,
    /// Bytes from there to the end of the segment.
    pub bytes: u64,
    /// What is wrong there.
    pub reason: &'static str,
}

/// Reads the WAL in `dir` as [`Wal::open`] would, without changing anything (nothing is
/// truncated, reset or deleted), and reports its records and whether its last segment ends torn.
/// Damage that `open` refuses to start with is an error here too. For tools and tests: a node
/// that shut down cleanly leaves no torn tail.
pub fn inspect(dir: &Path) -> io::Result<Inspection> {
    let mut segments = list_segments(dir)?;
    if let Some(base) = newest_base(&segments)? {
        segments.drain(..base);
    }
    let mut inspection = Inspection {
        segments: segments.len(),
        records: 0,
        bytes: 0,
        torn: None,
    };
    let mut records = Vec::new();
    for (i, (_, path)) in segments.iter().enumerate() {
        let data = fs::read(path)?;
        inspection.bytes += data.len() as u64;
        let end = scan_segment(path, &data, i + 1 == segments.len(), &mut records)?;
        inspection.records += records.len();
        records.clear();
        let torn = |offset: usize, reason| TornTail {
            segment: path.clone(),
            offset: offset as u64,
            bytes: (data.len() - offset) as u64,
            reason,
        };
        inspection.torn = match end {
            SegmentEnd::Clean => None,
            SegmentEnd::TornHeader => Some(torn(0, "the segment header is cut off")),
            SegmentEnd::TornTail { offset, why } => Some(torn(offset, why)),
        };
    }
    Ok(inspection)
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

fn segment_path(dir: &Path, no: u64) -> PathBuf {
    dir.join(format!("wal-{no:020}.log"))
}

fn temp_path(dir: &Path, no: u64) -> PathBuf {
    dir.join(format!("wal-{no:020}.log.tmp"))
}

/// `wal-{20 digits}.log` → its number.
fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("wal-")?.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segments in `dir`, in numeric order.
fn list_segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(no) = entry.file_name().to_str().and_then(parse_segment_name) {
            segments.push((no, entry.path()));
        }
    }
    segments.sort_unstable_by_key(|(no, _)| *no);
    Ok(segments)
}

/// Removes the temp files of rewrites that a crash interrupted before their rename.
fn remove_temp_files(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let is_temp = name
            .to_str()
            .and_then(|n| n.strip_suffix(".tmp"))
            .and_then(parse_segment_name)
            .is_some();
        if is_temp {
            tracing::warn!(file = %entry.path().display(), "WAL: removing the temp file of an interrupted rewrite");
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// The index in `segments` of the newest base segment (written by a rewrite), if any: the log
/// starts there.
fn newest_base(segments: &[(u64, PathBuf)]) -> io::Result<Option<usize>> {
    for (i, (_, path)) in segments.iter().enumerate().rev() {
        let mut head = Vec::with_capacity(HEADER_LEN);
        {
            use std::io::Read;
            File::open(path)?
                .take(HEADER_LEN as u64)
                .read_to_end(&mut head)?;
        }
        match check_header(&head) {
            HeaderCheck::Valid { flags } if flags & FLAG_BASE != 0 => return Ok(Some(i)),
            HeaderCheck::Valid { .. } => {}
            // A torn last segment is handled by replay; anything else fails there too, with a
            // better message, unless a newer base segment makes it obsolete.
            HeaderCheck::Torn | HeaderCheck::Bad(_) => {}
        }
    }
    Ok(None)
}

/// Finds the newest base segment (written by a rewrite) and deletes every segment before it: a
/// crash between a rewrite's rename and its deletions leaves them behind.
fn drop_obsolete_segments(dir: &Path, segments: &mut Vec<(u64, PathBuf)>) -> io::Result<()> {
    let Some(base) = newest_base(segments)? else {
        return Ok(());
    };
    if base == 0 {
        return Ok(());
    }
    for (no, path) in segments.drain(..base) {
        tracing::info!(
            segment = no,
            "WAL: deleting a segment made obsolete by an earlier rewrite"
        );
        fs::remove_file(&path)?;
    }
    sync_dir(dir)
}

/// Writes a rewrite's base segment `no` — header with the base flag, then `live` — to a temp
/// file, fsyncs it, renames it into place and fsyncs the directory. Returns its length.
fn write_base(dir: &Path, no: u64, live: &[Record], shared: &Shared) -> Result<u64, BaseFailure> {
    let before_rename = |error| BaseFailure {
        error,
        after_rename: false,
    };
    let tmp = temp_path(dir, no);
    let mut file = OpenOptions::new()
        .append(true)
        .create_new(true)
        .open(&tmp)
        .map_err(before_rename)?;
    let mut buf = Vec::with_capacity(BATCH_MAX_BYTES);
    buf.extend_from_slice(&header(FLAG_BASE));
    let mut len = 0u64;
    for r in live {
        encode_record(&mut buf, r);
        if buf.len() >= BATCH_MAX_BYTES {
            file.write_all(&buf).map_err(before_rename)?;
            len += buf.len() as u64;
            buf.clear();
        }
    }
    file.write_all(&buf).map_err(before_rename)?;
    len += buf.len() as u64;
    #[cfg(test)]
    std::thread::sleep(Duration::from_millis(
        shared.rewrite_delay_ms.load(Ordering::Relaxed),
    ));
    file.sync_data().map_err(before_rename)?;
    shared.fsyncs.fetch_add(1, Ordering::Relaxed);
    fs::rename(&tmp, segment_path(dir, no)).map_err(before_rename)?;
    // After the rename we can't tell whether the new segment will survive a crash until the
    // directory is synced.
    sync_dir(dir).map_err(|error| BaseFailure {
        error,
        after_rename: true,
    })?;
    Ok(len)
}

/// Deletes every segment numbered below `no` (made obsolete by the base segment `no`).
fn delete_segments_before(dir: &Path, no: u64) {
    match list_segments(dir) {
        Ok(segments) => {
            for (old, old_path) in segments.into_iter().filter(|(n, _)| *n < no) {
                if let Err(e) = fs::remove_file(&old_path) {
                    tracing::warn!(segment = old, error = %e, "WAL: cannot delete an old segment after a rewrite");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "WAL: cannot list segments after a rewrite"),
    }
    if let Err(e) = sync_dir(dir) {
        tracing::warn!(error = %e, "WAL: cannot sync the directory after deleting old segments");
    }
}

/// Makes a directory's entries (created, renamed, deleted files) durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path =
                std::env::temp_dir().join(format!("shardis-wal-{name}-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn rec(group: u64, kind: u8, body: impl Into<Vec<u8>>) -> Record {
        Record {
            group,
            kind,
            body: Bytes::from(body.into()),
        }
    }

    /// Bytes a record takes on disk.
    fn framed_len(r: &Record) -> u64 {
        (LEN_FIELD + RECORD_FIXED + r.body.len()) as u64
    }

    fn segment_files(dir: &Path) -> Vec<PathBuf> {
        list_segments(dir)
            .unwrap()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    fn bytes_on_disk(dir: &Path) -> u64 {
        segment_files(dir)
            .iter()
            .map(|p| fs::metadata(p).unwrap().len())
            .sum()
    }

    fn flip_byte(path: &Path, offset: u64) {
        let mut data = fs::read(path).unwrap();
        data[offset as usize] ^= 0x40;
        fs::write(path, data).unwrap();
    }

    /// Appends `n` single-record appends (group i % 3, body "entry-i") and returns the records.
    async fn append_n(wal: &Wal, from: usize, n: usize) -> Vec<Record> {
        let mut out = Vec::new();
        for i in from..from + n {
            let r = rec((i % 3) as u64, 7, format!("entry-{i}"));
            wal.append_wait(vec![r.clone()], false).await.unwrap();
            out.push(r);
        }
        out
    }

    #[test]
    fn wal_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Wal>();
    }

    #[test]
    fn sync_policy_parses_like_appendfsync() {
        assert_eq!("always".parse::<SyncPolicy>().unwrap(), SyncPolicy::Always);
        assert_eq!(
            "everysec".parse::<SyncPolicy>().unwrap(),
            SyncPolicy::EverySec
        );
        assert_eq!("No".parse::<SyncPolicy>().unwrap(), SyncPolicy::No);
        assert_eq!(
            "sometimes".parse::<SyncPolicy>().unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        for p in [SyncPolicy::Always, SyncPolicy::EverySec, SyncPolicy::No] {
            assert_eq!(p.to_string().parse::<SyncPolicy>().unwrap(), p);
        }
    }

    #[tokio::test]
    async fn round_trip_across_reopen_with_many_segments() {
        let dir = TempDir::new("roundtrip");
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 256).unwrap();
        assert!(replayed.is_empty());
        let mut expected = Vec::new();
        for i in 0..120u64 {
            let batch = vec![
                rec(i % 5, (i % 4) as u8, format!("group {} entry {i}", i % 5)),
                rec(i % 5, 200, vec![0u8, 255, i as u8, 0]), // binary body
                rec(99, 0, Vec::new()),                      // empty body
            ];
            wal.append_wait(batch.clone(), false).await.unwrap();
            expected.extend(batch);
        }
        wal.close().await.unwrap();
        let segments = segment_files(dir.path());
        assert!(
            segments.len() > 5,
            "tiny segment_bytes should rotate: {}",
            segments.len()
        );
        assert_eq!(wal.size(), bytes_on_disk(dir.path()));

        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 256).unwrap();
        assert_eq!(replayed, expected);
        assert_eq!(wal.size(), bytes_on_disk(dir.path()));
        expected.extend(append_n(&wal, 0, 20).await);
        wal.close().await.unwrap();

        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 256).unwrap();
        assert_eq!(replayed, expected);
        wal.close().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fifo_order_across_concurrent_appenders() {
        const TASKS: u64 = 16;
        const APPENDS: u64 = 200;
        let dir = TempDir::new("fifo");
        let (wal, _) = Wal::open(dir.path(), SyncPolicy::EverySec, 64 << 10).unwrap();
        let callbacks = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for t in 0..TASKS {
            let wal = wal.clone();
            let callbacks = callbacks.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..APPENDS {
                    // Two records per call: they must stay adjacent on disk.
                    let records = vec![
                        rec(t, 0, i.to_le_bytes().to_vec()),
                        rec(t, 1, i.to_le_bytes().to_vec()),
                    ];
                    let callbacks = callbacks.clone();
                    let done: Done = Box::new(move |result| {
                        assert!(result.is_ok());
                        callbacks.lock().unwrap().push((t, i));
                    });
                    wal.append(records, false, done).await;
                    if i % 50 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        wal.close().await.unwrap(); // everything queued before it has been written and called back
        let callbacks = callbacks.lock().unwrap().clone();
        assert_eq!(callbacks.len() as u64, TASKS * APPENDS);
        for t in 0..TASKS {
            let mine: Vec<u64> = callbacks
                .iter()
                .filter(|(g, _)| *g == t)
                .map(|(_, i)| *i)
                .collect();
            assert_eq!(
                mine,
                (0..APPENDS).collect::<Vec<_>>(),
                "appender {t} out of order"
            );
        }
        let interleaved = callbacks.windows(2).any(|w| w[0].0 != w[1].0);
        assert!(interleaved, "the appenders should have run concurrently");

        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::EverySec, 64 << 10).unwrap();
        assert!(segment_files(dir.path()).len() > 1);
        let on_disk: Vec<(u64, u64)> = replayed
            .chunks(2)
            .map(|pair| {
                assert_eq!(pair.len(), 2);
                assert_eq!(pair[0].group, pair[1].group);
                assert_eq!(
                    (pair[0].kind, pair[1].kind),
                    (0, 1),
                    "records of one call split"
                );
                assert_eq!(pair[0].body, pair[1].body);
                (pair[0].group, le_u64(&pair[0].body))
            })
            .collect();
        assert_eq!(on_disk, callbacks, "disk order must equal callback order");
        wal.close().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn group_commit_shares_fsyncs() {
        const APPENDS: u64 = 1000;
        let dir = TempDir::new("groupcommit");
        let (wal, _) = Wal::open(dir.path(), SyncPolicy::Always, 64 << 20).unwrap();
        assert_eq!(wal.fsync_count(), 0);
        let mut tasks = Vec::new();
        for i in 0..APPENDS {
            let wal = wal.clone();
            tasks.push(tokio::spawn(async move {
                wal.append_wait(vec![rec(i % 8, 1, format!("write {i}"))], false)
                    .await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let burst = wal.fsync_count();
        println!("group commit: {APPENDS} concurrent appends (policy always) took {burst} fsyncs");
        assert!(burst >= 1);
        assert!(
            burst * 4 <= APPENDS,
            "{burst} fsyncs for {APPENDS} appends: no group commit"
        );

        // Steady load: 50 appenders, each waiting for its append before the next one, as a Raft
        // group waits for its vote to be durable.
        let mut tasks = Vec::new();
        for t in 0..50u64 {
            let wal = wal.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..APPENDS / 50 {
                    wal.append_wait(vec![rec(t, 2, format!("steady {i}"))], false)
                        .await?;
                }
                io::Result::Ok(())
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let steady = wal.fsync_count() - burst;
        println!("group commit: {APPENDS} appends from 50 waiting appenders took {steady} fsyncs");
        assert!(
            steady * 4 <= APPENDS,
            "{steady} fsyncs for {APPENDS} appends: no group commit"
        );

        wal.close().await.unwrap();
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 64 << 20).unwrap();
        assert_eq!(replayed.len() as u64, 2 * APPENDS);
        wal.close().await.unwrap();
    }

    #[tokio::test]
    async fn torn_tail_is_truncated_and_appends_continue() {
        let dir = TempDir::new("torn");
        let (wal, _) = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap();
        let written = append_n(&wal, 0, 10).await;
        wal.close().await.unwrap();
        let last = segment_files(dir.path()).pop().unwrap();
        let full = fs::metadata(&last).unwrap().len();
        let last_len = framed_len(&written[9]);

        // Cut the last record in the middle of its body.
        fs::OpenOptions::new()
            .write(true)
            .open(&last)
            .unwrap()
            .set_len(full - 5)
            .unwrap();
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap();
        assert_eq!(replayed, written[..9]);
        assert_eq!(
            fs::metadata(&last).unwrap().len(),
            full - last_len,
            "tail not truncated"
        );
        let more = append_n(&wal, 100, 2).await;
        wal.close().await.unwrap();
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap();
        let mut expected = written[..9].to_vec();
        expected.extend(more.clone());
        assert_eq!(replayed, expected);
        wal.close().await.unwrap();

        // Cut inside the length field of the last record.
        let full = fs::metadata(&last).unwrap().len();
        let cut = full - framed_len(&more[1]) + 2;
        fs::OpenOptions::new()
            .write(true)
            .open(&last)
            .unwrap()
            .set_len(cut)
            .unwrap();
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap();
        expected.pop();
        assert_eq!(replayed, expected);
        wal.close().await.unwrap();

        // A checksum-failing last record with nothing after it is a torn tail too.
        let full = fs::metadata(&last).unwrap().len();
        flip_byte(&last, full - 1);
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap();
        expected.pop();
        assert_eq!(replayed, expected);
        wal.close().await.unwrap();
    }

    #[tokio::test]
    async fn torn_large_random_record_is_a_torn_tail() {
        let dir = TempDir::new("tornbig");
        let (wal, _) = Wal::open(dir.path(), SyncPolicy::Always, 64 << 20).unwrap();
        let written = append_n(&wal, 0, 5).await;
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let noise: Vec<u8> = (0..2 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        wal.append_wait(vec![rec(1, 1, noise)], false)
            .await
            .unwrap();
        wal.close().await.unwrap();
        // The crash kept only half of the big record.
        let seg = segment_files(dir.path()).pop().unwrap();
        let full = fs::metadata(&seg).unwrap().len();
        fs::OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(full - (1 << 20))
            .unwrap();
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 64 << 20).unwrap();
        assert_eq!(replayed, written);
        wal.close().await.unwrap();
    }

    #[tokio::test]
    async fn torn_last_segment_among_many() {
        let dir = TempDir::new("tornmany");
        let (wal, _) = Wal::open(dir.path(), SyncPolicy::Always, 128).unwrap();
        let written = append_n(&wal, 0, 40).await;
        wal.close().await.unwrap();
        let segments = segment_files(dir.path());
        assert!(segments.len() > 3);
        let last = segments.last().unwrap();
        let full = fs::metadata(last).unwrap().len();
        assert!(
            full > HEADER_LEN as u64,
            "the last segment should hold records"
        );
        fs::OpenOptions::new()
            .write(true)
            .open(last)
            .unwrap()
            .set_len(full - 3)
            .unwrap();
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 128).unwrap();
        assert_eq!(replayed, written[..39]);
        wal.close().await.unwrap();

        // A crash right after creating a segment leaves it with a partial header.
        let (no, _) = list_segments(dir.path()).unwrap().pop().unwrap();
        fs::write(segment_path(dir.path(), no + 1), &header(0)[..3]).unwrap();
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 128).unwrap();
        assert_eq!(replayed, written[..39]);
        let more = append_n(&wal, 100, 1).await;
        wal.close().await.unwrap();
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 128).unwrap();
        assert_eq!(replayed.last(), more.last());
        assert_eq!(replayed.len(), 40);
        wal.close().await.unwrap();
    }

    /// `inspect` reports what `open` would find, torn tails included, and changes nothing.
    #[tokio::test]
    async fn inspect_reports_records_and_a_torn_tail_without_touching_the_files() {
        let dir = TempDir::new("inspect");
        let (wal, _) = Wal::open(dir.path(), SyncPolicy::Always, 256).unwrap();
        let written = append_n(&wal, 0, 30).await;
        wal.close().await.unwrap();
        let segments = segment_files(dir.path());
        assert!(segments.len() > 2);
        let bytes: u64 = segments
            .iter()
            .map(|s| fs::metadata(s).unwrap().len())
            .sum();
        let clean = inspect(dir.path()).unwrap();
        assert_eq!(
            clean,
            Inspection {
                segments: segments.len(),
                records: written.len(),
                bytes,
                torn: None,
            }
        );

        // A write cut short: the last record loses its last 4 bytes.
        let last = segments.last().unwrap();
        let full = fs::metadata(last).unwrap().len();
        let cut = full - 4;
        fs::OpenOptions::new()
            .write(true)
            .open(last)
            .unwrap()
            .set_len(cut)
            .unwrap();
        let torn = inspect(dir.path()).unwrap();
        assert_eq!(torn.records, written.len() - 1);
        let tail = torn.torn.clone().expect("the cut is reported");
        assert_eq!(&tail.segment, last);
        assert_eq!(tail.offset, full - framed_len(&written[29]));
        assert_eq!(tail.offset + tail.bytes, cut);
        assert_eq!(tail.reason, "the record runs past the end of the file");
        // Nothing was truncated: inspecting again finds the same.
        assert_eq!(fs::metadata(last).unwrap().len(), cut);
        assert_eq!(inspect(dir.path()).unwrap(), torn);

        // `open` cuts it off; after that the WAL is clean again.
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 256).unwrap();
        assert_eq!(replayed, written[..29]);
        wal.close().await.unwrap();
        let reopened = inspect(dir.path()).unwrap();
        assert_eq!((reopened.records, reopened.torn), (written.len() - 1, None));

        // A torn header in a new last segment is a torn tail at offset 0.
        let (no, _) = list_segments(dir.path()).unwrap().pop().unwrap();
        fs::write(segment_path(dir.path(), no + 1), &header(0)[..3]).unwrap();
        let tail = inspect(dir.path()).unwrap().torn.expect("torn header");
        assert_eq!((tail.offset, tail.bytes), (0, 3));

        // Damage that `open` refuses is an error here too.
        fs::remove_file(segment_path(dir.path(), no + 1)).unwrap();
        flip_byte(&segments[0], HEADER_LEN as u64 + 6);
        assert!(inspect(dir.path()).is_err());
    }

    #[tokio::test]
    async fn corruption_before_valid_records_is_an_error() {
        let dir = TempDir::new("corrupt");
        let (wal, _) = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap();
        let written = append_n(&wal, 0, 10).await;
        wal.close().await.unwrap();
        let seg = segment_files(dir.path()).pop().unwrap();
        let pristine = fs::read(&seg).unwrap();
        let offset_of = |n: usize| -> u64 {
            HEADER_LEN as u64 + written[..n].iter().map(framed_len).sum::<u64>()
        };

        // A flipped bit in the body of record 5.
        flip_byte(&seg, offset_of(5) + 20);
        let err = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert!(
            err.to_string().contains("followed by a valid record"),
            "{err}"
        );

        // A flipped bit in the length of record 5 (it now claims to run past the end of file).
        fs::write(&seg, &pristine).unwrap();
        flip_byte(&seg, offset_of(5) + 3);
        let err = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);

        // A bad header.
        fs::write(&seg, &pristine).unwrap();
        flip_byte(&seg, 1);
        let err = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);

        // Intact again: opens fine, nothing was modified by the failed opens.
        fs::write(&seg, &pristine).unwrap();
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap();
        assert_eq!(replayed, written);
        wal.close().await.unwrap();
    }

    #[tokio::test]
    async fn torn_record_in_an_earlier_segment_is_an_error() {
        let dir = TempDir::new("corruptold");
        let (wal, _) = Wal::open(dir.path(), SyncPolicy::Always, 128).unwrap();
        append_n(&wal, 0, 40).await;
        wal.close().await.unwrap();
        let segments = segment_files(dir.path());
        assert!(segments.len() > 2);
        // The last byte of a middle segment: its last record fails, and nothing follows it in
        // that segment, but later segments hold data.
        let middle = &segments[segments.len() / 2];
        let len = fs::metadata(middle).unwrap().len();
        flip_byte(middle, len - 1);
        let err = Wal::open(dir.path(), SyncPolicy::Always, 128).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert!(err.to_string().contains("not the last"), "{err}");
    }

    #[tokio::test]
    async fn rewrite_keeps_live_and_later_records() {
        let dir = TempDir::new("rewrite");
        let (wal, _) = Wal::open(dir.path(), SyncPolicy::Always, 200).unwrap();
        append_n(&wal, 0, 60).await;
        let old_segments = segment_files(dir.path());
        assert!(old_segments.len() > 3);
        let size_before = wal.size();

        let live = vec![
            rec(0, 1, "vote g0"),
            rec(1, 1, "vote g1"),
            rec(1, 2, "entry 59"),
        ];
        wal.rewrite(live.clone()).await.unwrap();
        // The base segment, and the one appends went on in.
        let after = segment_files(dir.path());
        assert_eq!(after.len(), 2, "old segments must be deleted: {after:?}");
        assert!(after.iter().all(|p| !old_segments.contains(p)));
        assert!(wal.size() < size_before);
        assert_eq!(wal.size(), bytes_on_disk(dir.path()));

        let later = append_n(&wal, 1000, 3).await;
        wal.close().await.unwrap();
        assert_eq!(wal.size(), bytes_on_disk(dir.path()));
        let mut expected = live.clone();
        expected.extend(later);
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 200).unwrap();
        assert_eq!(replayed, expected);

        // A rewrite to nothing leaves an empty log that still takes appends.
        wal.rewrite(Vec::new()).await.unwrap();
        let later = append_n(&wal, 2000, 2).await;
        wal.close().await.unwrap();
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 200).unwrap();
        assert_eq!(replayed, later);
        wal.close().await.unwrap();
    }

    /// Copies every file of `from` into a fresh directory: the disk as a crash would leave it
    /// (with `SyncPolicy::Always` everything acknowledged is on disk).
    fn crash_copy(from: &Path, name: &str) -> TempDir {
        let to = TempDir::new(name);
        for entry in fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), to.path().join(entry.file_name())).unwrap();
        }
        to
    }

    #[tokio::test]
    async fn appends_go_on_while_a_rewrite_writes_its_base() {
        let dir = TempDir::new("rewritebg");
        let (wal, _) = Wal::open(dir.path(), SyncPolicy::Always, 200).unwrap();
        let old = append_n(&wal, 0, 30).await;
        wal.shared.rewrite_delay_ms.store(600, Ordering::Relaxed);
        let live = vec![rec(0, 1, "vote g0"), rec(1, 2, "entry 29")];
        let durable = wal.queue_rewrite(live.clone()).await.unwrap();
        let started = Instant::now();
        let during = append_n(&wal, 100, 5).await;
        assert!(
            started.elapsed() < Duration::from_millis(400),
            "appends waited for the base segment: {:?}",
            started.elapsed()
        );

        // A crash now (base not yet renamed into place) finds the old log and what followed.
        let crashed = crash_copy(dir.path(), "rewritebg-crash");
        let (copy, replayed) = Wal::open(crashed.path(), SyncPolicy::Always, 200).unwrap();
        let mut expected = old.clone();
        expected.extend(during.iter().cloned());
        assert_eq!(replayed, expected);
        copy.close().await.unwrap();

        durable.await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(600));
        let after = append_n(&wal, 200, 2).await;
        assert_eq!(wal.size(), bytes_on_disk(dir.path()));
        wal.close().await.unwrap();
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 200).unwrap();
        let mut expected = live;
        expected.extend(during);
        expected.extend(after);
        assert_eq!(replayed, expected);
        wal.close().await.unwrap();
    }

    #[tokio::test]
    async fn a_rewrite_that_cannot_start_its_segment_fails_alone() {
        let dir = TempDir::new("rewritenoseg");
        let (wal, _) = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap();
        let old = append_n(&wal, 0, 5).await;
        let (current, _) = list_segments(dir.path()).unwrap().pop().unwrap();
        // The segment appends would move on to cannot be created.
        let blocker = segment_path(dir.path(), current + 2);
        fs::write(&blocker, b"").unwrap();
        assert!(wal.rewrite(vec![rec(0, 1, "vote")]).await.is_err());
        assert!(
            !wal.is_broken(),
            "a failed rewrite start must not break the WAL"
        );
        assert!(
            blocker.exists(),
            "a file the WAL did not make is left alone"
        );
        fs::remove_file(&blocker).unwrap();
        let more = append_n(&wal, 100, 3).await;
        wal.close().await.unwrap();
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap();
        let mut expected = old;
        expected.extend(more);
        assert_eq!(replayed, expected);
        wal.close().await.unwrap();
    }

    #[tokio::test]
    async fn open_finishes_an_interrupted_rewrite() {
        let dir = TempDir::new("rewritecrash");
        let (wal, _) = Wal::open(dir.path(), SyncPolicy::Always, 200).unwrap();
        append_n(&wal, 0, 40).await;
        wal.close().await.unwrap();
        // Keep copies of the old segments, as if the crash came before they were deleted.
        let saved: Vec<(PathBuf, Vec<u8>)> = segment_files(dir.path())
            .into_iter()
            .map(|p| (p.clone(), fs::read(p).unwrap()))
            .collect();

        let (wal, _) = Wal::open(dir.path(), SyncPolicy::Always, 200).unwrap();
        let live = vec![rec(3, 3, "live")];
        wal.rewrite(live.clone()).await.unwrap();
        wal.close().await.unwrap();
        for (path, data) in &saved {
            fs::write(path, data).unwrap();
        }
        // And a temp file of a later rewrite that never got renamed.
        fs::write(temp_path(dir.path(), 999), b"half-written").unwrap();

        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 200).unwrap();
        assert_eq!(replayed, live);
        // The base and the (empty) segment after it.
        assert_eq!(segment_files(dir.path()).len(), 2);
        assert!(!temp_path(dir.path(), 999).exists());
        wal.close().await.unwrap();
    }

    #[tokio::test]
    async fn durable_append_fsyncs_under_policy_no() {
        let dir = TempDir::new("durable");
        let (wal, _) = Wal::open(dir.path(), SyncPolicy::No, 1 << 20).unwrap();
        append_n(&wal, 0, 5).await;
        assert_eq!(
            wal.fsync_count(),
            0,
            "policy no must not fsync plain appends"
        );
        wal.append_wait(vec![rec(0, 9, "vote")], true)
            .await
            .unwrap();
        assert_eq!(wal.fsync_count(), 1, "a durable append must fsync");
        append_n(&wal, 5, 1).await;
        assert_eq!(wal.fsync_count(), 1);
        // An empty durable append is a barrier for everything before it.
        wal.append_wait(Vec::new(), true).await.unwrap();
        assert_eq!(wal.fsync_count(), 2);
        // Nothing new to sync: the barrier costs nothing.
        wal.append_wait(Vec::new(), true).await.unwrap();
        assert_eq!(wal.fsync_count(), 2);
        wal.close().await.unwrap();
    }

    #[tokio::test]
    async fn everysec_fsyncs_in_the_background() {
        let dir = TempDir::new("everysec");
        let (wal, _) = Wal::open(dir.path(), SyncPolicy::EverySec, 1 << 20).unwrap();
        append_n(&wal, 0, 3).await;
        assert_eq!(wal.fsync_count(), 0, "everysec must not fsync each append");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(
            wal.fsync_count(),
            1,
            "the background fsync should have run once"
        );
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(wal.fsync_count(), 1, "no writes, so no more fsyncs");
        wal.close().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn appends_go_on_while_the_everysec_fsync_runs() {
        let dir = TempDir::new("everysec-slow");
        let (wal, _) = Wal::open(dir.path(), SyncPolicy::EverySec, 1 << 20).unwrap();
        wal.shared
            .background_sync_delay_ms
            .store(1500, Ordering::Relaxed);
        append_n(&wal, 0, 1).await;
        // The background fsync starts about a second after the write and then takes 1.5 s.
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert_eq!(wal.fsync_count(), 0, "the slow fsync is still running");
        let started = std::time::Instant::now();
        append_n(&wal, 1, 3).await;
        let waited = started.elapsed();
        assert!(
            waited < Duration::from_millis(500),
            "appends waited {waited:?} for the background fsync"
        );
        assert_eq!(wal.fsync_count(), 0, "answered before the fsync finished");
        // close waits for it, and fsyncs what came after it.
        wal.close().await.unwrap();
        assert!(wal.fsync_count() >= 2, "{}", wal.fsync_count());
    }

    #[tokio::test]
    async fn append_after_close_fails() {
        let dir = TempDir::new("closed");
        let (wal, _) = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap();
        append_n(&wal, 0, 2).await;
        let other = wal.clone();
        wal.close().await.unwrap();
        assert!(other
            .append_wait(vec![rec(0, 0, "late")], false)
            .await
            .is_err());
        let called = Arc::new(AtomicUsize::new(0));
        let seen = called.clone();
        let done: Done = Box::new(move |result| {
            assert!(result.is_err());
            seen.fetch_add(1, Ordering::SeqCst);
        });
        wal.append(vec![rec(0, 0, "late")], true, done).await;
        assert_eq!(
            called.load(Ordering::SeqCst),
            1,
            "done must be called exactly once"
        );
        assert!(wal.rewrite(Vec::new()).await.is_err());
        wal.close().await.unwrap(); // idempotent
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap();
        assert_eq!(replayed.len(), 2);
        wal.close().await.unwrap();
    }

    #[tokio::test]
    async fn write_error_breaks_the_wal() {
        let dir = TempDir::new("broken");
        let (wal, _) = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap();
        let written = append_n(&wal, 0, 3).await;
        wal.fail_next_write();
        assert!(wal
            .append_wait(vec![rec(0, 0, "lost")], false)
            .await
            .is_err());
        let err = wal
            .append_wait(vec![rec(0, 0, "after")], false)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("broken"), "{err}");
        assert!(wal.rewrite(Vec::new()).await.is_err());
        assert!(wal.close().await.is_err());
        assert!(wal.close().await.is_err(), "a broken WAL stays broken");
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap();
        assert_eq!(replayed, written);
        wal.close().await.unwrap();
    }

    #[tokio::test]
    async fn a_full_disk_holds_writes_until_space_is_back_without_breaking_the_wal() {
        let dir = TempDir::new("full");
        let (wal, _) = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap();
        let mut written = append_n(&wal, 0, 3).await;
        assert!(wal.write_stalled().is_none());
        wal.fill_disk_for(3);
        let held = tokio::spawn({
            let wal = wal.clone();
            async move { wal.append_wait(vec![rec(0, 0, "held")], false).await }
        });
        // While the disk is full the append waits, and the WAL says why.
        let mut why = None;
        for _ in 0..100 {
            why = wal.write_stalled();
            if why.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(why.as_deref(), Some("No space left on device"));
        assert!(
            !held.is_finished(),
            "an append is not answered while its batch is held"
        );
        // The three failures (50 + 100 + 200 ms of pauses) pass; the held batch is written once.
        held.await.unwrap().expect("written once space is back");
        assert!(wal.write_stalled().is_none());
        assert!(!wal.is_broken());
        wal.append_wait(vec![rec(0, 0, "after")], false)
            .await
            .unwrap();
        written.push(rec(0, 0, "held"));
        written.push(rec(0, 0, "after"));
        wal.close().await.unwrap();
        // The half-written attempts were cut off: replay sees each record once, nothing torn.
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap();
        assert_eq!(replayed, written);
        assert!(inspect(dir.path()).unwrap().torn.is_none());
        wal.close().await.unwrap();
    }

    #[tokio::test]
    async fn large_bodies_written_from_their_own_buffers_replay_in_place() {
        let dir = TempDir::new("large");
        let (wal, _) = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap();
        let big = |fill: u8, len: usize| Record {
            group: 3,
            kind: 1,
            body: Bytes::from(vec![fill; len]),
        };
        let records = vec![
            rec(1, 0, "before"),
            big(b'a', COPY_MAX),
            rec(2, 0, "between"),
            big(b'b', 3 * COPY_MAX + 7),
            rec(1, 0, "after"),
        ];
        wal.append_wait(records.clone(), false).await.unwrap();
        // A large body in a batch the full disk cuts short is written whole, once.
        wal.fill_disk_for(1);
        let more = vec![big(b'c', 2 * COPY_MAX), rec(2, 0, "last")];
        wal.append_wait(more.clone(), false).await.unwrap();
        wal.close().await.unwrap();
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap();
        assert_eq!(replayed, [records, more].concat());
        wal.close().await.unwrap();
    }

    #[tokio::test]
    async fn close_gives_up_a_batch_the_full_disk_holds() {
        let dir = TempDir::new("full-close");
        let (wal, _) = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap();
        let written = append_n(&wal, 0, 2).await;
        wal.fill_disk_for(u64::MAX);
        let held = tokio::spawn({
            let wal = wal.clone();
            async move { wal.append_wait(vec![rec(0, 0, "never")], false).await }
        });
        while wal.write_stalled().is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let closed = tokio::time::timeout(Duration::from_secs(5), wal.close())
            .await
            .expect("close does not wait for space forever");
        assert!(closed.is_err(), "the held batch was not written");
        assert!(held.await.unwrap().is_err());
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap();
        assert_eq!(replayed, written);
        wal.close().await.unwrap();
    }

    #[tokio::test]
    async fn oversized_record_fails_only_its_own_append() {
        let dir = TempDir::new("oversized");
        let (wal, _) = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap();
        // Zeroed allocation: the pages are never touched, so this costs no real memory.
        let huge = Bytes::from(vec![0u8; MAX_RECORD_LEN as usize - RECORD_FIXED + 1]);
        let err = wal
            .append_wait(
                vec![
                    rec(0, 0, "ok"),
                    Record {
                        group: 0,
                        kind: 0,
                        body: huge,
                    },
                ],
                false,
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let written = append_n(&wal, 0, 2).await;
        wal.close().await.unwrap();
        let (wal, replayed) = Wal::open(dir.path(), SyncPolicy::Always, 1 << 20).unwrap();
        assert_eq!(
            replayed, written,
            "no record of the refused call may be written"
        );
        wal.close().await.unwrap();
    }

    #[test]
    fn scan_skips_garbage_and_finds_a_record() {
        let mut data = vec![0xAB; 100];
        let mut frame = Vec::new();
        encode_record(&mut frame, &rec(4, 2, "hello"));
        data.extend_from_slice(&frame);
        assert!(matches!(find_valid_record(&data, 0), Scan::Found(100)));
        assert!(matches!(find_valid_record(&data, 101), Scan::NotFound));
    }
}
