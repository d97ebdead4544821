//! openraft's log storage for one shard group, on top of the node's shared [`Wal`].
//!
//! The entries a group has not purged are kept in memory (so reads never touch the disk) and
//! every change is also a WAL record. Appends return as soon as the entries are readable; openraft
//! is told they are durable (through [`IOFlushed`]) when the WAL's group commit has written them,
//! so one fsync covers the appends of many groups. A vote is written durably before
//! [`RaftLogStorage::save_vote`] returns. At start-up the WAL's records are replayed into each
//! group's [`GroupLog`] before the group starts.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::RangeBounds;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::type_config::alias::{LogIdOf, VoteOf};
use openraft::RaftTypeConfig;

use super::wal::{Record, Wal};
use super::{ClientBatch, GroupId, ShardTC};
use crate::codec::{decode, encode};
use crate::commands::ShardCommand;

type Entry = <ShardTC as RaftTypeConfig>::Entry;
type LogId = LogIdOf<ShardTC>;
type Vote = VoteOf<ShardTC>;

/// WAL record kinds of a group's log.
///
/// The kind byte also carries the format of the record's body, in its high four bits: a
/// release that changes how a body is encoded gives its records a new format, and replay
/// refuses — naming both formats — a record whose format it does not read, instead of
/// misreading it. Format 1 (kinds 1 to 5, high bits 0) is the format before shard commands
/// were logged as argument vectors; format 2 logged them so; format 3, this release's, may
/// also hold transactions (`shardis:exec`, which a format-2 release cannot parse). Format 2
/// records are read as well: they are format 3 records without transactions.
mod kind {
    /// The body format this release writes.
    pub const FORMAT: u8 = 3;
    /// The oldest body format this release reads.
    pub const OLDEST: u8 = 2;
    const F: u8 = FORMAT << 4;
    /// `Vec<Entry>` appended (and everything from its first index on replaced).
    pub const APPEND: u8 = F | 1;
    /// The vote.
    pub const VOTE: u8 = F | 2;
    /// The committed log id.
    pub const COMMITTED: u8 = F | 3;
    /// Entries after this log id removed.
    pub const TRUNCATE: u8 = F | 4;
    /// Entries up to this log id removed.
    pub const PURGE: u8 = F | 5;

    /// The body format of a record kind (format 1 had no format bits).
    pub fn format_of(kind: u8) -> u8 {
        match kind >> 4 {
            0 => 1,
            f => f,
        }
    }
}

/// What a group's log holds: vote, committed id, purge point and the un-purged entries.
#[derive(Default)]
pub struct GroupLog {
    vote: Option<Vote>,
    committed: Option<LogId>,
    last_purged: Option<LogId>,
    entries: BTreeMap<u64, Entry>,
    /// The committed id last written to the WAL, and when.
    committed_logged: Option<(Option<LogId>, Instant)>,
    /// The entries held, by append: (first index, last index, encoded bytes), oldest first; and
    /// their sum. How much memory the log holds, for `maxmemory` (which does not count it, as
    /// redis does not count its AOF and replication buffers).
    held: std::collections::VecDeque<(u64, u64, u64)>,
    held_bytes: u64,
}

/// About the memory `entries` hold, `encoded` bytes once encoded: the arguments (about their
/// encoded size) and the structures around them — for a small write those weigh more than its
/// arguments (a `SET k v` is 20 bytes encoded and 200 in memory).
fn in_memory_bytes(entries: &[Entry], encoded: usize) -> u64 {
    let structures: usize = entries
        .iter()
        .map(|e| {
            std::mem::size_of::<Entry>()
                + match &e.payload {
                    openraft::EntryPayload::Normal(req) => req
                        .batches
                        .iter()
                        .map(|b| {
                            std::mem::size_of::<ClientBatch>()
                                + b.cmds.len() * std::mem::size_of::<ShardCommand>()
                        })
                        .sum(),
                    _ => 0,
                }
        })
        .sum();
    (encoded + structures) as u64
}

/// A changed committed id is written with the group's next append, or by itself once the last
/// COMMITTED record is this old. It is only a hint for start-up (entries up to it are applied
/// before an election); a stale one is safe, since Raft re-learns the commit index.
const COMMITTED_RECORD_EVERY: Duration = Duration::from_secs(1);

impl GroupLog {
    /// The COMMITTED record to write now, if the committed id changed since the last one and
    /// either a record is being written anyway (`riding`) or the last one is older than
    /// [`COMMITTED_RECORD_EVERY`].
    fn committed_record_due(&mut self, riding: bool) -> Option<Option<LogId>> {
        let due = match self.committed_logged {
            Some((logged, _)) if logged == self.committed => false,
            Some((_, at)) => riding || at.elapsed() >= COMMITTED_RECORD_EVERY,
            None => true,
        };
        if !due {
            return None;
        }
        self.committed_logged = Some((self.committed, Instant::now()));
        Some(self.committed)
    }

    /// Applies one replayed WAL record of this group.
    pub fn replay(&mut self, kind: u8, body: &[u8]) -> io::Result<()> {
        let format = kind::format_of(kind);
        if !(kind::OLDEST..=kind::FORMAT).contains(&format) {
            return Err(crate::codec::unsupported_formats(
                "a log record",
                format,
                kind::OLDEST..=kind::FORMAT,
            ));
        }
        // A format-2 record is read as the format-3 record of the same kind.
        let kind = (kind & 0x0f) | (kind::FORMAT << 4);
        match kind {
            kind::APPEND => {
                let entries: Vec<Entry> = decode(body)?;
                if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
                    self.entries.split_off(&first.log_id.index());
                    let bytes = in_memory_bytes(&entries, body.len());
                    self.note_append(first.log_id.index(), last.log_id.index(), bytes);
                }
                for e in entries {
                    self.entries.insert(e.log_id.index(), e);
                }
            }
            kind::VOTE => self.vote = Some(decode(body)?),
            kind::COMMITTED => self.committed = decode(body)?,
            kind::TRUNCATE => {
                let after: Option<LogId> = decode(body)?;
                self.entries.split_off(&after.map_or(0, |l| l.index() + 1));
                self.note_truncate(after.map_or(0, |l| l.index()));
            }
            kind::PURGE => {
                let upto: LogId = decode(body)?;
                self.entries = self.entries.split_off(&(upto.index() + 1));
                self.last_purged = Some(upto);
                self.note_purge(upto.index());
            }
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unknown log record kind {other}"),
                ))
            }
        }
        Ok(())
    }

    /// The index the log is purged up to (0: nothing purged).
    pub fn purged_index(&self) -> u64 {
        self.last_purged.map_or(0, |l| l.index())
    }

    /// Notes `bytes` appended for entries `first..=last`, which replace any from `first` on.
    fn note_append(&mut self, first: u64, last: u64, bytes: u64) {
        self.note_truncate(first.saturating_sub(1));
        self.held.push_back((first, last, bytes));
        self.held_bytes += bytes;
    }

    /// Notes entries after `after` gone.
    fn note_truncate(&mut self, after: u64) {
        while let Some(&(first, _, bytes)) = self.held.back() {
            if first <= after {
                break;
            }
            self.held.pop_back();
            self.held_bytes -= bytes;
        }
    }

    /// Notes entries up to `upto` purged.
    fn note_purge(&mut self, upto: u64) {
        while let Some(&(_, last, bytes)) = self.held.front() {
            if last > upto {
                break;
            }
            self.held.pop_front();
            self.held_bytes -= bytes;
        }
    }

    /// About the bytes of the entries held (their encoded size; an append only partly purged
    /// still counts whole).
    pub fn held_bytes(&self) -> u64 {
        self.held_bytes
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Orders log writes against WAL compaction: every write holds it shared while it changes the
/// in-memory log and queues its record; compaction holds it exclusively while it copies the
/// live records and queues the rewrite. So no record queued before a rewrite is missing from it.
pub type CompactionGate = Arc<tokio::sync::RwLock<()>>;

/// Most entries per APPEND record written by compaction.
const ENTRIES_PER_RECORD: usize = 1024;

/// The log storage of one group (cheap to clone: clones share the log).
#[derive(Clone)]
pub struct LogStore {
    group: GroupId,
    log: Arc<Mutex<GroupLog>>,
    wal: Wal,
    gate: CompactionGate,
    /// Encoded bytes appended since the counter was last taken (drives size-based snapshots).
    appended: Arc<std::sync::atomic::AtomicU64>,
}

impl LogStore {
    /// A store for `group` starting from `log` (replayed from the WAL), writing to `wal`.
    pub fn new(group: GroupId, log: GroupLog, wal: Wal, gate: CompactionGate) -> LogStore {
        LogStore {
            group,
            log: Arc::new(Mutex::new(log)),
            wal,
            gate,
            appended: Default::default(),
        }
    }

    /// About the bytes of the entries the log holds in memory (see [`GroupLog::held_bytes`]).
    pub fn held_bytes(&self) -> u64 {
        self.log().held_bytes()
    }

    /// Bytes appended since the last call (and resets the count).
    pub fn take_appended_bytes(&self) -> u64 {
        self.appended.swap(0, std::sync::atomic::Ordering::Relaxed)
    }

    /// What rebuilds this group's log as it is now: vote, committed id, purge point and the
    /// un-purged entries. A cheap copy (entries share their payloads), taken by compaction with
    /// the gate held exclusively; [`LiveLog::records`] encodes it later, without the gate.
    pub fn live_log(&self) -> LiveLog {
        let log = self.log();
        LiveLog {
            group: self.group,
            vote: log.vote,
            last_purged: log.last_purged,
            committed: log.committed,
            entries: log.entries.values().cloned().collect(),
        }
    }

    fn log(&self) -> MutexGuard<'_, GroupLog> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, kind: u8, body: Vec<u8>) -> Record {
        record(self.group, kind, body)
    }

    /// Queues a record whose durability nobody waits for (it rides the next group commit).
    /// The caller holds the compaction gate.
    async fn write_behind(&self, kind: u8, body: Vec<u8>) {
        let record = self.record(kind, body);
        self.wal
            .append(vec![record], false, Box::new(|_result| {}))
            .await;
    }
}

/// A WAL record of `group`.
fn record(group: GroupId, kind: u8, body: Vec<u8>) -> Record {
    Record {
        group,
        kind,
        body: Bytes::from(body),
    }
}

/// A copy of one group's log for a WAL rewrite (see [`LogStore::live_log`]).
pub struct LiveLog {
    group: GroupId,
    vote: Option<Vote>,
    last_purged: Option<LogId>,
    committed: Option<LogId>,
    entries: Vec<Entry>,
}

impl LiveLog {
    /// The WAL records that rebuild the log.
    pub fn records(&self) -> io::Result<Vec<Record>> {
        let record = |kind, body| record(self.group, kind, body);
        let mut out = Vec::new();
        if let Some(vote) = &self.vote {
            out.push(record(kind::VOTE, encode(vote)?));
        }
        if let Some(purged) = &self.last_purged {
            out.push(record(kind::PURGE, encode(purged)?));
        }
        for chunk in self.entries.chunks(ENTRIES_PER_RECORD) {
            out.push(record(kind::APPEND, encode(&chunk)?));
        }
        out.push(record(kind::COMMITTED, encode(&self.committed)?));
        Ok(out)
    }
}

impl RaftLogReader<ShardTC> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        Ok(self
            .log()
            .entries
            .range(range)
            .map(|(_, e)| e.clone())
            .collect())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        Ok(self.log().vote)
    }
}

impl RaftLogStorage<ShardTC> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<ShardTC>, io::Error> {
        let log = self.log();
        let last = log
            .entries
            .values()
            .next_back()
            .map(|e| e.log_id)
            .or(log.last_purged);
        Ok(LogState {
            last_purged_log_id: log.last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        let record = self.record(kind::VOTE, encode(vote)?);
        let (tx, rx) = tokio::sync::oneshot::channel();
        {
            // Under the gate, like every log write: a compaction copies either the old vote
            // before this record is queued or the new one after, never the old one with the
            // record (which it deletes with the old segments) already queued.
            let _gate = self.gate.read().await;
            self.log().vote = Some(*vote);
            let done: super::wal::Done = Box::new(move |result| {
                let _ = tx.send(result);
            });
            self.wal.append(vec![record], true, done).await;
        }
        // Waited for without the gate: a compaction never waits behind this fsync.
        rx.await
            .unwrap_or_else(|_| Err(io::Error::other("the WAL writer is gone")))
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        // Not a WAL record per commit: that doubled the records of a busy group.
        let _gate = self.gate.read().await;
        let due = {
            let mut log = self.log();
            log.committed = committed;
            log.committed_record_due(false)
        };
        if let Some(committed) = due {
            self.write_behind(kind::COMMITTED, encode(&committed)?)
                .await;
        }
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        Ok(self.log().committed)
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<ShardTC>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let body = encode(&entries)?;
        self.appended
            .fetch_add(body.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let _gate = self.gate.read().await;
        let committed = {
            let mut log = self.log();
            if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
                let (first, last) = (first.log_id.index(), last.log_id.index());
                log.note_append(first, last, in_memory_bytes(&entries, body.len()));
            }
            for e in entries {
                log.entries.insert(e.log_id.index(), e);
            }
            log.committed_record_due(true)
        };
        let mut records = Vec::with_capacity(2);
        if let Some(committed) = committed {
            records.push(self.record(kind::COMMITTED, encode(&committed)?));
        }
        // Readable now; durable when the WAL calls back after its write (and fsync, by policy).
        records.push(self.record(kind::APPEND, body));
        self.wal
            .append(
                records,
                false,
                Box::new(move |result| callback.io_completed(result)),
            )
            .await;
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        let _gate = self.gate.read().await;
        {
            let mut log = self.log();
            log.entries
                .split_off(&last_log_id.map_or(0, |l| l.index() + 1));
            log.note_truncate(last_log_id.map_or(0, |l| l.index()));
        }
        self.write_behind(kind::TRUNCATE, encode(&last_log_id)?)
            .await;
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        let _gate = self.gate.read().await;
        {
            let mut log = self.log();
            log.entries = log.entries.split_off(&(log_id.index() + 1));
            log.last_purged = Some(log_id);
            log.note_purge(log_id.index());
        }
        self.write_behind(kind::PURGE, encode(&log_id)?).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use openraft::entry::RaftEntry;
    use openraft::type_config::alias::{EntryOf, LeaderIdOf};
    use openraft::vote::RaftLeaderId;

    use super::*;
    use crate::raft::group::compact_once;
    use crate::raft::wal::SyncPolicy;

    fn log_id(index: u64) -> LogId {
        LogId::new(LeaderIdOf::<ShardTC>::new(2, 1), index)
    }

    async fn append_blanks(store: &mut LogStore, indexes: std::ops::RangeInclusive<u64>) {
        let entries: Vec<_> = indexes
            .map(|i| EntryOf::<ShardTC>::new_blank(log_id(i)))
            .collect();
        store
            .append(entries, IOFlushed::noop())
            .await
            .expect("append");
    }

    /// What a WAL in `dir` replays for group 7.
    async fn replayed(dir: &std::path::Path) -> GroupLog {
        let (wal, records) = Wal::open(dir, SyncPolicy::Always, 1 << 20).expect("reopen");
        let mut log = GroupLog::default();
        for r in records.iter().filter(|r| r.group == 7) {
            log.replay(r.kind, &r.body).expect("replays");
        }
        wal.close().await.expect("close");
        log
    }

    #[test]
    fn held_bytes_follow_appends_truncations_and_purges() {
        let mut log = GroupLog::default();
        log.note_append(1, 10, 100);
        log.note_append(11, 20, 200);
        log.note_append(21, 30, 300);
        assert_eq!(log.held_bytes(), 600);
        // Entries from 21 on replaced by a new append.
        log.note_append(21, 22, 50);
        assert_eq!(log.held_bytes(), 350);
        log.note_truncate(20);
        assert_eq!(log.held_bytes(), 300);
        // A purge lets go of whole appends only: 1..=10 goes, 11..=20 stays until 20 goes.
        log.note_purge(15);
        assert_eq!(log.held_bytes(), 200);
        log.note_purge(20);
        assert_eq!(log.held_bytes(), 0);
    }

    #[tokio::test]
    async fn a_compacted_wal_replays_the_same_log() {
        let dir = std::env::temp_dir().join(format!("shardis-logstore-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (wal, _) = Wal::open(&dir, SyncPolicy::Always, 1 << 20).expect("open");
        let gate = CompactionGate::default();
        let mut store = LogStore::new(7, GroupLog::default(), wal.clone(), gate.clone());
        // Another group's records, which the rewrite must keep too.
        let mut other = LogStore::new(8, GroupLog::default(), wal.clone(), gate.clone());
        append_blanks(&mut other, 1..=3).await;

        let vote = Vote::new(2, 1);
        store.save_vote(&vote).await.expect("vote");
        append_blanks(&mut store, 1..=30).await;
        store.purge(log_id(10)).await.expect("purge");
        store
            .save_committed(Some(log_id(20)))
            .await
            .expect("committed");
        compact_once(&wal, &gate, || vec![store.clone(), other.clone()])
            .await
            .expect("compaction");
        append_blanks(&mut store, 31..=35).await;
        wal.close().await.expect("close");

        let log = replayed(&dir).await;
        let segments = std::fs::read_dir(&dir).expect("dir").count();
        assert_eq!(segments, 2, "the base and the segment after it");
        assert_eq!(log.vote, Some(vote));
        assert_eq!(log.last_purged, Some(log_id(10)));
        assert_eq!(log.committed, Some(log_id(20)));
        let indexes: Vec<u64> = log.entries.keys().copied().collect();
        assert_eq!(indexes, (11..=35).collect::<Vec<_>>());
        let (wal, records) = Wal::open(&dir, SyncPolicy::Always, 1 << 20).expect("reopen");
        assert!(records.iter().any(|r| r.group == 8), "group 8 kept");
        wal.close().await.expect("close");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn records_of_another_format_are_refused_by_name() {
        let vote = encode(&Vote::new(2, 1)).expect("encodes");
        let mut log = GroupLog::default();
        log.replay(kind::VOTE, &vote)
            .expect("this release's format");
        // The same record as the release before (format 1: no format bits) and a later one.
        for (kind, who) in [(2u8, "older"), ((kind::FORMAT + 1) << 4 | 2, "newer")] {
            let err = log.replay(kind, &vote).expect_err("refused");
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            let text = err.to_string();
            assert!(text.contains(who), "{text}");
            assert!(text.contains("formats 2 to 3"), "{text}");
        }
        assert_eq!(kind::format_of(kind::APPEND), kind::FORMAT);
        // Format 2 (the release before transactions) still reads.
        let mut log = GroupLog::default();
        log.replay(2 << 4 | 2, &vote).expect("format 2 reads");
        assert_eq!(log.vote, Some(Vote::new(2, 1)));
    }
}
