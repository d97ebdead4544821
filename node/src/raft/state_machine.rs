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

use super::codec::{decode, encode};
use super::persistence::PersistenceStats;
use super::ShardTC;
use crate::shard::{ShardHandle, ShardMsg};

type Snapshot = SnapshotOf<ShardTC, Vec<u8>>;
type SnapshotMeta = SnapshotMetaOf<ShardTC>;

fn stopped() -> io::Error {
    io::Error::other("shard actor stopped")
}

/// The state machine of one shard group (cheap to clone).
#[derive(Clone)]
pub struct ShardSm {
    shard: ShardHandle,
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
    pub fn new(
        shard: ShardHandle,
        snapshot_path: PathBuf,
        stats: Arc<PersistenceStats>,
    ) -> ShardSm {
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
        let head = file_head(meta, data.len())?;
        let path = self.snapshot_path.clone();
        let len = data.len() as u64;
        tokio::task::spawn_blocking(move || write_durably(&path, &[&head, &data]))
            .await
            .map_err(io::Error::other)??;
        self.snapshot_bytes.store(len, Ordering::Relaxed);
        *on_disk = meta.last_log_id;
        Ok(())
    }

    /// The snapshot on disk, if any.
    pub async fn read_snapshot(&self) -> io::Result<Option<Snapshot>> {
        let mut on_disk = self.on_disk.lock().await;
        let path = self.snapshot_path.clone();
        let bytes = match tokio::task::spawn_blocking(move || std::fs::read(path))
            .await
            .map_err(io::Error::other)?
        {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let (meta, snapshot): (SnapshotMeta, Bytes) = decode(&bytes)?;
        let snapshot = Vec::from(snapshot);
        self.snapshot_bytes
            .store(snapshot.len() as u64, Ordering::Relaxed);
        *on_disk = meta.last_log_id;
        Ok(Some(Snapshot { meta, snapshot }))
    }
}

/// The start of a snapshot file: its meta, then the length of the keyspace data that follows.
/// The whole file decodes as `(SnapshotMeta, bytes)`; the data is written from where it lies
/// rather than copied into one buffer with the head (a snapshot can be hundreds of MB).
fn file_head(meta: &SnapshotMeta, data_len: usize) -> io::Result<Vec<u8>> {
    let mut head = encode(meta)?;
    // A byte string is its length (a varint, as every integer) followed by the bytes.
    head.extend(encode(&(data_len as u64))?);
    Ok(head)
}

/// Bytes of a snapshot file written between two flushes to disk.
const SNAPSHOT_FLUSH_BYTES: usize = 4 << 20;

/// Writes `bytes` to `path` so that a crash leaves either the old or the new file, whole.
///
/// The file is flushed every [`SNAPSHOT_FLUSH_BYTES`] rather than once at the end: the WAL's
/// fsyncs share the disk (and the filesystem journal), and one flush of a whole large snapshot
/// held them up for hundreds of milliseconds, stalling every group's writes.
pub fn write_durably(path: &std::path::Path, parts: &[&[u8]]) -> io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
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
        let ((last_log_id, last_membership), data) = self
            .shard
            .ask(ShardMsg::BuildSnapshot)
            .await
            .ok_or_else(stopped)??;
        let meta = SnapshotMeta {
            last_log_id,
            last_membership,
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
            .ask(ShardMsg::AppliedState)
            .await
            .ok_or_else(stopped)
    }

    async fn apply<S>(&mut self, mut entries: S) -> Result<(), io::Error>
    where
        S: Stream<Item = Result<EntryResponder<ShardTC>, io::Error>> + Unpin + Send,
    {
        let mut committed = Vec::new();
        while let Some(item) = entries.try_next().await? {
            committed.push(item);
        }
        if committed.is_empty() {
            return Ok(());
        }
        // The actor applies them in order and answers each proposer through its responder.
        if self.shard.send_msg(ShardMsg::Apply(committed)).await {
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
        let applied = (meta.last_log_id, meta.last_membership.clone());
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

    #[tokio::test]
    async fn an_older_snapshot_never_replaces_a_newer_one_on_disk() {
        let dir = std::env::temp_dir().join(format!("shardis-snaporder-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let shard = ShardHandle::spawn(crate::shard::keyspace::Keyspace::new(0, 16383), 16);
        let sm = ShardSm::new(shard, dir.join("group-1.snap"), Arc::default());
        let meta = |index| SnapshotMeta {
            last_log_id: Some(LogIdOf::<ShardTC>::new(
                LeaderIdOf::<ShardTC>::new(3, 2),
                index,
            )),
            last_membership: Default::default(),
        };
        // An install (index 50) lands before a build that began earlier (index 40) is written.
        sm.persist(&meta(50), Bytes::from_static(b"newer"))
            .await
            .expect("newer");
        sm.persist(&meta(40), Bytes::from_static(b"older"))
            .await
            .expect("older skipped");
        let on_disk = sm.read_snapshot().await.expect("reads").expect("present");
        assert_eq!(on_disk.meta, meta(50));
        assert_eq!(on_disk.snapshot, b"newer");
        // A later one replaces it.
        sm.persist(&meta(60), Bytes::from_static(b"latest"))
            .await
            .expect("latest");
        let on_disk = sm.read_snapshot().await.expect("reads").expect("present");
        assert_eq!(on_disk.snapshot, b"latest");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_snapshot_file_written_in_parts_decodes_whole() {
        let dir = std::env::temp_dir().join(format!("shardis-snapfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("group-1.snap");
        let meta = SnapshotMeta {
            last_log_id: Some(LogIdOf::<ShardTC>::new(
                LeaderIdOf::<ShardTC>::new(3, 2),
                41,
            )),
            last_membership: Default::default(),
        };
        // Larger than a flush chunk, so it is written in several flushed pieces.
        let data: Vec<u8> = (0..SNAPSHOT_FLUSH_BYTES * 2 + 123)
            .map(|i| (i % 251) as u8)
            .collect();
        let head = file_head(&meta, data.len()).expect("head");
        write_durably(&path, &[&head, &data]).expect("written");
        let bytes = std::fs::read(&path).expect("read back");
        let (read_meta, read_data): (SnapshotMeta, Bytes) = decode(&bytes).expect("decodes");
        assert_eq!(read_meta, meta);
        assert_eq!(read_data.as_ref(), data.as_slice());
        assert!(!path.with_extension("tmp").exists());
        std::fs::remove_dir_all(&dir).ok();
    }
}
