//! openraft's state machine for one shard: committed entries go to the shard actor, which owns
//! the keyspace; snapshots are the actor's keyspace dump, kept in one file per group.
//!
//! Everything is sent over the actor's one FIFO channel, so once an entry has been handed over,
//! every later read, snapshot or query on that channel sees it applied.

use std::io;
use std::path::PathBuf;

use futures_util::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine};
use openraft::type_config::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};

use super::codec::{decode, encode};
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
}

impl ShardSm {
    /// A state machine feeding `shard`, keeping its snapshot in `snapshot_path`.
    pub fn new(shard: ShardHandle, snapshot_path: PathBuf) -> ShardSm {
        ShardSm {
            shard,
            snapshot_path,
        }
    }

    /// Writes the snapshot durably: temp file, fsync, rename, fsync of the directory.
    async fn persist(&self, snapshot: &Snapshot) -> io::Result<()> {
        let bytes = encode(&(&snapshot.meta, &snapshot.snapshot))?;
        let path = self.snapshot_path.clone();
        tokio::task::spawn_blocking(move || write_durably(&path, &bytes))
            .await
            .map_err(io::Error::other)?
    }

    /// The snapshot on disk, if any.
    pub async fn read_snapshot(&self) -> io::Result<Option<Snapshot>> {
        let path = self.snapshot_path.clone();
        let bytes = match tokio::task::spawn_blocking(move || std::fs::read(path))
            .await
            .map_err(io::Error::other)?
        {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let (meta, snapshot): (SnapshotMeta, Vec<u8>) = decode(&bytes)?;
        Ok(Some(Snapshot { meta, snapshot }))
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old or the new file, whole.
pub fn write_durably(path: &std::path::Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
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
        let ((last_log_id, last_membership), data) = self
            .shard
            .ask(ShardMsg::BuildSnapshot)
            .await
            .ok_or_else(stopped)?;
        let snapshot = Snapshot {
            meta: SnapshotMeta {
                last_log_id,
                last_membership,
            },
            snapshot: data,
        };
        // Durable before returning: openraft may purge the log it covers right after.
        self.persist(&snapshot).await?;
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
        let data = bytes::Bytes::from(snapshot.clone());
        self.shard
            .ask(|tx| ShardMsg::InstallSnapshot(applied, data, tx))
            .await
            .ok_or_else(stopped)??;
        self.persist(&Snapshot {
            meta: meta.clone(),
            snapshot,
        })
        .await
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, io::Error> {
        self.read_snapshot().await
    }
}
