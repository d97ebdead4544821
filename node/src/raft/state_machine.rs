//! openraft's state machine for one shard: committed entries go to the shard actor, which owns
//! the keyspace; snapshots are the actor's keyspace dump, kept in one file per group.
//!
//! Everything is sent over the actor's one FIFO channel, so once an entry has been handed over,
//! every later read, snapshot or query on that channel sees it applied.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine};
use openraft::type_config::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::EntryPayload;

use super::persistence::PersistenceStats;
use super::{ShardResponse, ShardTC};
use crate::codec::{decode, encode};
use crate::shard::{Committed, LogPosition, ShardHandle, ShardMsg};

type Snapshot = SnapshotOf<ShardTC, Vec<u8>>;
type SnapshotMeta = SnapshotMetaOf<ShardTC>;

/// A shard group's log position as its actor keeps it: the last applied log id and the last
/// applied membership (what openraft asks a state machine for).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppliedState {
    /// The last applied log id.
    pub last: Option<LogIdOf<ShardTC>>,
    /// The membership in force after it.
    pub membership: StoredMembershipOf<ShardTC>,
}

/// One applied entry's change to [`AppliedState`].
pub enum AppliedStep {
    /// A normal or blank entry.
    Entry(LogIdOf<ShardTC>),
    /// A membership entry.
    Membership(
        LogIdOf<ShardTC>,
        openraft::Membership<u64, openraft::BasicNode>,
    ),
}

impl LogPosition for AppliedState {
    type Step = AppliedStep;

    fn advance(&mut self, step: AppliedStep) {
        match step {
            AppliedStep::Entry(id) => self.last = Some(id),
            AppliedStep::Membership(id, m) => {
                self.last = Some(id);
                self.membership = StoredMembershipOf::<ShardTC>::new(Some(id), m);
            }
        }
    }

    fn index(&self) -> u64 {
        self.last.map_or(0, |l| l.index())
    }
}

/// The actor of a shard group.
pub type Shard = ShardHandle<AppliedState>;

/// Turns a committed openraft entry into the actor's neutral form: the batches to apply, the
/// position step, and the callback that hands the replies to openraft's responder.
fn committed(item: EntryResponder<ShardTC>) -> Committed<AppliedState> {
    let (entry, responder) = item;
    let id = entry.log_id;
    let (step, batches) = match entry.payload {
        EntryPayload::Blank => (AppliedStep::Entry(id), None),
        EntryPayload::Normal(req) => (AppliedStep::Entry(id), Some(req.batches)),
        EntryPayload::Membership(m) => (AppliedStep::Membership(id, m), None),
    };
    Committed {
        step,
        batches,
        reply: responder.map(|r| {
            Box::new(move |replies| r.send(ShardResponse(replies))) as crate::shard::ReplyTo
        }),
    }
}

fn stopped() -> io::Error {
    io::Error::other("shard actor stopped")
}

/// The state machine of one shard group (cheap to clone).
#[derive(Clone)]
pub struct ShardSm {
    shard: Shard,
    /// File holding the group's current snapshot.
    snapshot_path: PathBuf,
    /// Size of the keyspace data of the last snapshot built, installed or read (0: none yet).
    snapshot_bytes: Arc<AtomicU64>,
    /// The node's snapshot counters (INFO persistence).
    stats: Arc<PersistenceStats>,
    /// Serializes writes of the snapshot file and holds the last log id of the snapshot on disk:
    /// a snapshot being built and one being installed (openraft runs builds in a task of their
    /// own) must not write the same file at once, and an older one must never replace a newer.
    on_disk: Arc<tokio::sync::Mutex<Option<LogIdOf<ShardTC>>>>,
}

impl ShardSm {
    /// A state machine feeding `shard`, keeping its snapshot in `snapshot_path` and counting
    /// snapshots in `stats`.
    pub fn new(shard: Shard, snapshot_path: PathBuf, stats: Arc<PersistenceStats>) -> ShardSm {
        ShardSm {
            shard,
            snapshot_path,
            snapshot_bytes: Arc::default(),
            stats,
            on_disk: Arc::default(),
        }
    }

    /// Size of the keyspace data of the group's current snapshot (0 while it has none).
    pub fn snapshot_bytes(&self) -> u64 {
        self.snapshot_bytes.load(Ordering::Relaxed)
    }

    /// Writes a snapshot durably (temp file, fsync, rename, fsync of the directory); `data` is
    /// shared, not copied, with the blocking task that writes it.
    async fn persist(&self, meta: &SnapshotMeta, data: Bytes) -> io::Result<()> {
        let mut on_disk = self.on_disk.lock().await;
        if on_disk.is_some() && meta.last_log_id <= *on_disk {
            // A newer snapshot (installed meanwhile) is already on disk; openraft keeps that
            // one too.
            return Ok(());
        }
        let head = Bytes::from(file_head(meta)?);
        let len = data.len() as u64;
        // A failed write is retried before it is given up: giving up stops the group's Raft
        // core, and with it the node (see `Node::run`), which a transient shortage should not
        // do. A full disk or a lack of file descriptors is waited out for as long as it lasts
        // (the build runs in a task of its own; the group goes on meanwhile); any other error
        // is given up after about 8 s.
        let mut pauses = SNAPSHOT_WRITE_RETRIES.iter();
        let last_pause = SNAPSHOT_WRITE_RETRIES[SNAPSHOT_WRITE_RETRIES.len() - 1];
        loop {
            let (path, head, body) = (self.snapshot_path.clone(), head.clone(), data.clone());
            let written =
                tokio::task::spawn_blocking(move || write_durably(&path, &[&head, &body]))
                    .await
                    .map_err(io::Error::other)
                    .and_then(|r| r);
            let transient = written.as_ref().is_err_and(crate::raft::wal::is_transient);
            match (written, pauses.next().or(transient.then_some(&last_pause))) {
                (Ok(()), _) => break,
                (Err(e), Some(pause)) => {
                    tracing::warn!(
                        snapshot = %self.snapshot_path.display(),
                        error = %e,
                        retry_in_ms = pause.as_millis() as u64,
                        "cannot write the snapshot"
                    );
                    self.stats.snapshot_write_failed();
                    tokio::time::sleep(*pause).await;
                }
                (Err(e), None) => {
                    tracing::error!(
                        snapshot = %self.snapshot_path.display(),
                        error = %e,
                        "cannot write the snapshot; giving up"
                    );
                    return Err(e);
                }
            }
        }
        self.snapshot_bytes.store(len, Ordering::Relaxed);
        *on_disk = meta.last_log_id;
        Ok(())
    }

    /// What the snapshot file on disk is, checked whole: missing, good, damaged (this release's
    /// format but failing its checks: a healthy replica's copy may replace it), or of a format
    /// this release does not read (nothing may replace it: a newer release's data would be lost).
    pub async fn check_file(&self) -> FileCheck {
        let path = self.snapshot_path.clone();
        let checked = tokio::task::spawn_blocking(move || match std::fs::read(&path) {
            Ok(bytes) => match parse_file(&bytes) {
                Ok(_) => FileCheck::Good,
                Err(e) => {
                    let e =
                        io::Error::new(e.kind(), format!("snapshot file {}: {e}", path.display()));
                    match formats_are_ours(&bytes) {
                        true => FileCheck::Damaged(e),
                        false => FileCheck::Foreign(e),
                    }
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => FileCheck::Missing,
            Err(e) => FileCheck::Foreign(e),
        })
        .await;
        checked.unwrap_or_else(|e| FileCheck::Foreign(io::Error::other(e)))
    }

    /// Moves the snapshot file aside (to `<name>.damaged-<unix seconds>`), returning where.
    pub fn set_aside(&self) -> io::Result<PathBuf> {
        let aside = self
            .snapshot_path
            .with_extension(format!("snap.damaged-{}", crate::clock::now_ms() / 1000));
        std::fs::rename(&self.snapshot_path, &aside)?;
        Ok(aside)
    }

    /// Writes `file` (a whole snapshot file, checked with [`verify_file`]) durably as this
    /// group's snapshot file.
    pub async fn put_file(&self, file: Vec<u8>) -> io::Result<()> {
        let _on_disk = self.on_disk.lock().await;
        let path = self.snapshot_path.clone();
        tokio::task::spawn_blocking(move || write_durably(&path, &[&file]))
            .await
            .map_err(io::Error::other)?
    }

    /// The snapshot on disk, if any, checked whole (see [`parse_file`]): a damaged or foreign
    /// file is an error naming it, never a snapshot.
    pub async fn read_snapshot(&self) -> io::Result<Option<Snapshot>> {
        let mut on_disk = self.on_disk.lock().await;
        let path = self.snapshot_path.clone();
        let read = tokio::task::spawn_blocking(move || match std::fs::read(&path) {
            Ok(bytes) => parse_file(&bytes)
                .map(|(meta, data)| Some((meta, data.to_vec())))
                .map_err(|e| {
                    io::Error::new(e.kind(), format!("snapshot file {}: {e}", path.display()))
                }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .await
        .map_err(io::Error::other)??;
        let Some((meta, snapshot)) = read else {
            return Ok(None);
        };
        self.snapshot_bytes
            .store(snapshot.len() as u64, Ordering::Relaxed);
        *on_disk = meta.last_log_id;
        Ok(Some(Snapshot { meta, snapshot }))
    }
}

/// What [`ShardSm::check_file`] found.
pub enum FileCheck {
    Missing,
    Good,
    Damaged(io::Error),
    Foreign(io::Error),
}

/// Checks a whole snapshot file: its last log index if it is sound.
pub fn verify_file(bytes: &[u8]) -> io::Result<u64> {
    parse_file(bytes).map(|(meta, _)| meta.last_log_id.map_or(0, |l| l.index()))
}

/// The version id of a snapshot file from its first [`FILE_HEADER_LEN`] bytes: the checksum of
/// its head, which holds its last log id.
pub fn file_version(header: &[u8]) -> io::Result<u32> {
    if header.len() < FILE_HEADER_LEN || &header[..7] != FILE_MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a Shardis snapshot file",
        ));
    }
    let mut word = [0u8; 4];
    word.copy_from_slice(&header[12..16]);
    Ok(u32::from_le_bytes(word))
}

/// True when a snapshot file that failed its checks still says it is in the formats this release
/// writes (file and data), i.e. it is damaged rather than foreign. A file too damaged to tell
/// counts as foreign: nothing replaces what cannot be told apart from a newer release's data.
fn formats_are_ours(bytes: &[u8]) -> bool {
    if bytes.len() < FILE_HEADER_LEN || &bytes[..7] != FILE_MAGIC || bytes[7] != FILE_FORMAT {
        return false;
    }
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[8..12]);
    let data_at = FILE_HEADER_LEN + u32::from_le_bytes(word) as usize;
    bytes
        .get(data_at..)
        .is_some_and(crate::keyspace::snapshot::says_current_format)
}

/// The first bytes of a snapshot file.
const FILE_MAGIC: &[u8; 7] = b"SHSNAP\0";
/// The snapshot file format this release writes and reads (the data inside has its own, see
/// [`crate::keyspace::snapshot`]).
const FILE_FORMAT: u8 = 1;
/// Magic, format, head length, head checksum.
pub const FILE_HEADER_LEN: usize = 16;

/// The start of a snapshot file:
///
/// ```text
/// [b"SHSNAP\0"][format u8 = 1][head length u32 LE][crc32c of the head u32 LE][head][data]
/// ```
///
/// The head is the snapshot's meta (last log id, membership); the data that follows to the end
/// of the file is the keyspace's snapshot data, which carries its own format and checksum. The
/// data is written from where it lies rather than copied into one buffer with the head (a
/// snapshot can be hundreds of MB).
fn file_head(meta: &SnapshotMeta) -> io::Result<Vec<u8>> {
    let head = encode(meta)?;
    let len = u32::try_from(head.len()).map_err(io::Error::other)?;
    let mut out = Vec::with_capacity(FILE_HEADER_LEN + head.len());
    out.extend_from_slice(FILE_MAGIC);
    out.push(FILE_FORMAT);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crate::codec::crc32c(&head).to_le_bytes());
    out.extend_from_slice(&head);
    Ok(out)
}

/// Splits a snapshot file into its meta and its data, checking the header, the head's checksum
/// and the data's ([`crate::keyspace::snapshot::verify`]).
fn parse_file(bytes: &[u8]) -> io::Result<(SnapshotMeta, &[u8])> {
    let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    if bytes.len() < FILE_HEADER_LEN || &bytes[..7] != FILE_MAGIC {
        return Err(invalid(
            "not a Shardis snapshot file (no SHSNAP header; releases before snapshot files had \
             one wrote none)"
                .into(),
        ));
    }
    if bytes[7] != FILE_FORMAT {
        return Err(crate::codec::unsupported_format(
            "a snapshot file",
            bytes[7],
            FILE_FORMAT,
        ));
    }
    let word = |at: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&bytes[at..at + 4]);
        u32::from_le_bytes(w)
    };
    let head_len = word(8) as usize;
    let Some(head) = bytes.get(FILE_HEADER_LEN..FILE_HEADER_LEN + head_len) else {
        return Err(invalid("the snapshot file is cut short in its head".into()));
    };
    if crate::codec::crc32c(head) != word(12) {
        return Err(invalid(
            "the snapshot file's head is damaged (checksum)".into(),
        ));
    }
    let meta: SnapshotMeta = decode(head)?;
    let data = &bytes[FILE_HEADER_LEN + head_len..];
    crate::keyspace::snapshot::verify(data)?;
    Ok((meta, data))
}

/// Bytes of a snapshot file written between two flushes to disk.
const SNAPSHOT_FLUSH_BYTES: usize = 4 << 20;

/// The pauses between attempts to write a snapshot file (about 8 s in all).
const SNAPSHOT_WRITE_RETRIES: [std::time::Duration; 5] = [
    std::time::Duration::from_millis(250),
    std::time::Duration::from_millis(500),
    std::time::Duration::from_secs(1),
    std::time::Duration::from_secs(2),
    std::time::Duration::from_secs(4),
];

/// Writes `bytes` to `path` so that a crash leaves either the old or the new file, whole.
///
/// The file is flushed every [`SNAPSHOT_FLUSH_BYTES`] rather than once at the end: the WAL's
/// fsyncs share the disk (and the filesystem journal), and one flush of a whole large snapshot
/// held them up for hundreds of milliseconds, stalling every group's writes.
pub fn write_durably(path: &std::path::Path, parts: &[&[u8]]) -> io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    crate::faults::check("snapshot-write")?;
    {
        let mut f = std::fs::File::create(&tmp)?;
        let mut unflushed = 0;
        for chunk in parts.iter().flat_map(|p| p.chunks(SNAPSHOT_FLUSH_BYTES)) {
            f.write_all(chunk)?;
            unflushed += chunk.len();
            if unflushed >= SNAPSHOT_FLUSH_BYTES {
                f.sync_data()?;
                unflushed = 0;
            }
        }
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

impl RaftSnapshotBuilder<ShardTC> for ShardSm {
    type SnapshotData = Vec<u8>;

    async fn build_snapshot(&mut self) -> Result<Snapshot, io::Error> {
        let stats = self.stats.clone();
        let running = stats.snapshot_started();
        let built = self.build_and_persist(running.started()).await;
        running.done(built.is_ok());
        built
    }
}

impl ShardSm {
    /// The snapshot: encoded by the shard actor, then written durably.
    async fn build_and_persist(
        &mut self,
        started: std::time::Instant,
    ) -> Result<Snapshot, io::Error> {
        let (applied, data) = self
            .shard
            .ask(ShardMsg::BuildSnapshot)
            .await
            .ok_or_else(stopped)??;
        let meta = SnapshotMeta {
            last_log_id: applied.last,
            last_membership: applied.membership,
        };
        let built = started.elapsed();
        let data = Bytes::from(data);
        // Durable before returning: openraft may purge the log it covers right after.
        self.persist(&meta, data.clone()).await?;
        let snapshot = Snapshot {
            meta,
            // The writer has dropped its share: this takes the buffer back without a copy.
            snapshot: Vec::from(data),
        };
        tracing::info!(
            snapshot = %self.snapshot_path.display(),
            bytes = snapshot.snapshot.len(),
            build_ms = built.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "snapshot built"
        );
        Ok(snapshot)
    }
}

impl RaftStateMachine<ShardTC> for ShardSm {
    type SnapshotData = Vec<u8>;
    type SnapshotBuilder = ShardSm;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogIdOf<ShardTC>>, StoredMembershipOf<ShardTC>), io::Error> {
        self.shard
            .ask(ShardMsg::Position)
            .await
            .map(|a| (a.last, a.membership))
            .ok_or_else(stopped)
    }

    async fn apply<S>(&mut self, mut entries: S) -> Result<(), io::Error>
    where
        S: Stream<Item = Result<EntryResponder<ShardTC>, io::Error>> + Unpin + Send,
    {
        let mut batch = Vec::new();
        while let Some(item) = entries.try_next().await? {
            batch.push(committed(item));
        }
        if batch.is_empty() {
            return Ok(());
        }
        // The actor applies them in order and answers each proposer through its responder.
        if self.shard.send_msg(ShardMsg::Apply(batch)).await {
            Ok(())
        } else {
            Err(stopped())
        }
    }

    async fn try_create_snapshot_builder(&mut self, _force: bool) -> Option<Self::SnapshotBuilder> {
        Some(self.clone())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Vec<u8>,
    ) -> Result<(), io::Error> {
        let applied = AppliedState {
            last: meta.last_log_id,
            membership: meta.last_membership.clone(),
        };
        let data = Bytes::from(snapshot);
        let shared = data.clone();
        self.shard
            .ask(|tx| ShardMsg::InstallSnapshot(applied, shared, tx))
            .await
            .ok_or_else(stopped)??;
        self.persist(meta, data).await
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, io::Error> {
        self.read_snapshot().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::type_config::alias::LeaderIdOf;
    use openraft::vote::RaftLeaderId;

    use crate::keyspace::snapshot::frame;

    #[tokio::test]
    async fn an_older_snapshot_never_replaces_a_newer_one_on_disk() {
        let dir = std::env::temp_dir().join(format!("shardis-snaporder-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let shard: Shard = ShardHandle::spawn(
            crate::keyspace::Keyspace::new(0, 16383),
            16,
            &crate::tasks::Tasks::new("test"),
        );
        let sm = ShardSm::new(shard, dir.join("group-1.snap"), Arc::default());
        let meta = |index| SnapshotMeta {
            last_log_id: Some(LogIdOf::<ShardTC>::new(
                LeaderIdOf::<ShardTC>::new(3, 2),
                index,
            )),
            last_membership: Default::default(),
        };
        // An install (index 50) lands before a build that began earlier (index 40) is written.
        sm.persist(&meta(50), Bytes::from(frame(b"newer")))
            .await
            .expect("newer");
        sm.persist(&meta(40), Bytes::from(frame(b"older")))
            .await
            .expect("older skipped");
        let on_disk = sm.read_snapshot().await.expect("reads").expect("present");
        assert_eq!(on_disk.meta, meta(50));
        assert_eq!(on_disk.snapshot, frame(b"newer"));
        // A later one replaces it.
        sm.persist(&meta(60), Bytes::from(frame(b"latest")))
            .await
            .expect("latest");
        let on_disk = sm.read_snapshot().await.expect("reads").expect("present");
        assert_eq!(on_disk.snapshot, frame(b"latest"));
        std::fs::remove_dir_all(&dir).ok();
    }

    fn meta41() -> SnapshotMeta {
        SnapshotMeta {
            last_log_id: Some(LogIdOf::<ShardTC>::new(
                LeaderIdOf::<ShardTC>::new(3, 2),
                41,
            )),
            last_membership: Default::default(),
        }
    }

    #[test]
    fn a_snapshot_file_written_in_parts_decodes_whole() {
        let dir = std::env::temp_dir().join(format!("shardis-snapfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("group-1.snap");
        // Larger than a flush chunk, so it is written in several flushed pieces.
        let body: Vec<u8> = (0..SNAPSHOT_FLUSH_BYTES * 2 + 123)
            .map(|i| (i % 251) as u8)
            .collect();
        let data = frame(&body);
        let head = file_head(&meta41()).expect("head");
        write_durably(&path, &[&head, &data]).expect("written");
        let bytes = std::fs::read(&path).expect("read back");
        let (read_meta, read_data) = parse_file(&bytes).expect("parses");
        assert_eq!(read_meta, meta41());
        assert_eq!(read_data, data.as_slice());
        assert!(!path.with_extension("tmp").exists());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn a_damaged_snapshot_file_is_refused_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("shardis-snapbad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("group-3.snap");
        let data = frame(b"some keyspace data, any bytes will do here");
        let head = file_head(&meta41()).expect("head");
        let mut file = head.clone();
        file.extend_from_slice(&data);
        let shard: Shard = ShardHandle::spawn(
            crate::keyspace::Keyspace::new(0, 16383),
            16,
            &crate::tasks::Tasks::new("test"),
        );
        let sm = ShardSm::new(shard, path.clone(), Arc::default());
        std::fs::write(&path, &file).expect("write");
        assert!(sm.read_snapshot().await.expect("reads").is_some());
        // One byte changed: in the magic, the format, the head, the data or its checksum.
        for at in [0, 7, 9, 13, head.len() - 1, head.len() + 10, file.len() - 1] {
            let mut bad = file.clone();
            bad[at] ^= 0x01;
            std::fs::write(&path, &bad).expect("write");
            let err = sm.read_snapshot().await.expect_err("refused");
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "byte {at}");
            assert!(err.to_string().contains("group-3.snap"), "{err}");
        }
        // Cut short anywhere.
        for len in [3, 15, head.len() - 1, file.len() - 1] {
            std::fs::write(&path, &file[..len]).expect("write");
            assert!(sm.read_snapshot().await.is_err(), "cut at {len}");
        }
        // A newer format says so.
        let mut newer = file.clone();
        newer[7] = FILE_FORMAT + 1;
        std::fs::write(&path, &newer).expect("write");
        let err = sm.read_snapshot().await.expect_err("refused").to_string();
        assert!(err.contains("newer release"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn damage_is_told_from_another_releases_format() {
        let dir = std::env::temp_dir().join(format!("shardis-snapcheck-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("group-5.snap");
        let shard: Shard = ShardHandle::spawn(
            crate::keyspace::Keyspace::new(0, 16383),
            16,
            &crate::tasks::Tasks::new("test"),
        );
        let sm = ShardSm::new(shard, path.clone(), Arc::default());
        assert!(matches!(sm.check_file().await, FileCheck::Missing));
        let head = file_head(&meta41()).expect("head");
        let mut file = head.clone();
        file.extend_from_slice(&frame(b"keyspace data"));
        std::fs::write(&path, &file).expect("write");
        assert!(matches!(sm.check_file().await, FileCheck::Good));
        assert_eq!(verify_file(&file).expect("sound"), 41);
        assert_eq!(
            file_version(&file[..FILE_HEADER_LEN]).expect("version"),
            crate::codec::crc32c(&head[FILE_HEADER_LEN..])
        );
        let check = |at: usize, to: Option<u8>| {
            let mut bad = file.clone();
            bad[at] = to.unwrap_or(bad[at] ^ 0x01);
            bad
        };
        // Damage in the head or the data, or the data's checksum: another replica's copy may
        // replace it.
        for at in [13, head.len() - 1, head.len() + 6, file.len() - 1] {
            std::fs::write(&path, check(at, None)).expect("write");
            assert!(
                matches!(sm.check_file().await, FileCheck::Damaged(_)),
                "byte {at}"
            );
        }
        // Another format of the file or of its data, or no magic: never replaced.
        for (at, to) in [
            (7, Some(FILE_FORMAT + 1)),
            (head.len() + 4, Some(9)),
            (0, None),
        ] {
            std::fs::write(&path, check(at, to)).expect("write");
            assert!(
                matches!(sm.check_file().await, FileCheck::Foreign(_)),
                "byte {at}"
            );
        }
        // Set aside, then a sound copy put in place.
        let aside = sm.set_aside().expect("set aside");
        assert!(aside.exists() && !path.exists());
        sm.put_file(file.clone()).await.expect("put");
        assert!(matches!(sm.check_file().await, FileCheck::Good));
        std::fs::remove_dir_all(&dir).ok();
    }
}
