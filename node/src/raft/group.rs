//! The replication of one node: the shared WAL and one Raft group per shard, with the calls the
//! connections make — a replicated write, and the linearizability check before reads.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use openraft::{BasicNode, Config, ReadPolicy, SnapshotPolicy};

use super::log_store::{GroupLog, LogStore};
use super::network::NoPeers;
use super::state_machine::ShardSm;
use super::wal::{SyncPolicy, Wal};
use super::{expiry, shard_group, ShardRaft, ShardRequest};
use crate::commands::{ApplyCtx, ShardCommand};
use crate::protocol::Frame;
use crate::shard::keyspace::Keyspace;
use crate::shard::ShardHandle;
use crate::slot::ShardMap;

/// How the node's groups are set up.
#[derive(Clone, Debug)]
pub struct ReplicationConfig {
    /// This node's id (never reused).
    pub node_id: u64,
    /// Address peers reach this node's Raft transport at.
    pub raft_addr: String,
    /// Directory of the WAL and the snapshots.
    pub data_dir: PathBuf,
    /// When the WAL is fsynced.
    pub sync: SyncPolicy,
    /// Longest a client waits for its write to commit.
    pub commit_timeout: Duration,
    /// Active expiry passes per second while nothing is due.
    pub hz: u32,
    /// Largest string a command may build (for expiry entries' context).
    pub max_bulk_len: u64,
    /// Messages a shard's channel holds.
    pub shard_queue: usize,
}

/// One shard: its actor and its Raft group.
#[derive(Clone)]
pub struct ShardGroup {
    /// The actor that owns the keyspace (and applies the group's entries).
    pub shard: ShardHandle,
    /// The group's Raft handle.
    pub raft: ShardRaft,
    commit_timeout: Duration,
}

fn raft_config() -> io::Result<Arc<Config>> {
    let config = Config {
        cluster_name: "shardis".into(),
        heartbeat_interval: 100,
        election_timeout_min: 400,
        election_timeout_max: 800,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(10_000),
        max_in_snapshot_log_to_keep: 1_000,
        enable_pre_vote: Some(true),
        ..Default::default()
    };
    Ok(Arc::new(config.validate().map_err(io::Error::other)?))
}

/// Starts the WAL, replays it, and starts one actor and one Raft group per shard. A group found
/// on disk resumes; a new one is initialized with this node as its only voter.
pub async fn start(
    config: &ReplicationConfig,
    shard_map: &ShardMap,
) -> io::Result<Vec<ShardGroup>> {
    std::fs::create_dir_all(config.data_dir.join("snapshots"))?;
    let (wal, records) = Wal::open(&config.data_dir.join("wal"), config.sync, 64 << 20)?;
    let mut logs: HashMap<u64, GroupLog> = HashMap::new();
    for r in records {
        logs.entry(r.group).or_default().replay(r.kind, &r.body)?;
    }
    let raft_config = raft_config()?;
    let mut groups = Vec::with_capacity(shard_map.shards());
    for s in 0..shard_map.shards() {
        let group = shard_group(s);
        let (first, last) = shard_map.slot_range(s);
        let shard = ShardHandle::spawn(Keyspace::new(first, last), config.shard_queue);
        let sm = ShardSm::new(shard.clone(), snapshot_path(&config.data_dir, group));
        let log = LogStore::new(group, logs.remove(&group).unwrap_or_default(), wal.clone());
        let raft = ShardRaft::new(config.node_id, raft_config.clone(), NoPeers, log, sm)
            .await
            .map_err(io::Error::other)?;
        if !raft.is_initialized().await.map_err(io::Error::other)? {
            let members = BTreeMap::from([(
                config.node_id,
                BasicNode {
                    addr: config.raft_addr.clone(),
                },
            )]);
            if let Err(e) = raft.initialize(members).await {
                tracing::warn!(group, error = %e, "group initialization");
            }
        }
        tokio::spawn(expiry::run(
            shard.clone(),
            raft.clone(),
            config.hz,
            config.max_bulk_len,
        ));
        groups.push(ShardGroup {
            shard,
            raft,
            commit_timeout: config.commit_timeout,
        });
    }
    Ok(groups)
}

fn snapshot_path(dir: &Path, group: u64) -> PathBuf {
    dir.join("snapshots").join(format!("group-{group}.snap"))
}

impl ShardGroup {
    /// Replicates the write commands of one client batch for this shard as one log entry and
    /// returns their replies once it is committed and applied. Refusals that mean "no leader yet"
    /// (an election, a lease not yet confirmed) are retried until the commit timeout.
    pub async fn write(&self, ctx: ApplyCtx, cmds: Vec<ShardCommand>) -> Result<Vec<Frame>, Frame> {
        let deadline = tokio::time::Instant::now() + self.commit_timeout;
        let request = ShardRequest { ctx, cmds };
        loop {
            let attempt =
                tokio::time::timeout_at(deadline, self.raft.client_write(request.clone())).await;
            match attempt {
                Err(_) => return Err(self.timeout_error()),
                Ok(Ok(resp)) => return Ok(resp.data.0),
                Ok(Err(e)) => {
                    if e.forward_to_leader().is_none() {
                        return Err(Frame::error_owned(format!(
                            "CLUSTERDOWN shard unavailable: {e}"
                        )));
                    }
                    // Not the leader (yet): nothing was appended, so trying again is safe.
                    if tokio::time::Instant::now() + Duration::from_millis(20) >= deadline {
                        return Err(Frame::error(
                            "TRYAGAIN no leader for this shard, try again later",
                        ));
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    fn timeout_error(&self) -> Frame {
        Frame::error_owned(format!(
            "TIMEOUT write not confirmed within {} ms; it may or may not have been applied",
            self.commit_timeout.as_millis()
        ))
    }

    /// Confirms that this node still leads the group (lease, else a quorum round) and that
    /// everything committed before now is applied, so a read sent to the actor next is
    /// linearizable.
    pub async fn read_barrier(&self) -> Result<(), Frame> {
        let deadline = tokio::time::Instant::now() + self.commit_timeout;
        loop {
            let policy = ReadPolicy::LeaseRead;
            let attempt =
                tokio::time::timeout_at(deadline, self.raft.ensure_linearizable(policy)).await;
            match attempt {
                Err(_) => return Err(Frame::error("TRYAGAIN read not confirmed in time")),
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => {
                    if tokio::time::Instant::now() + Duration::from_millis(20) >= deadline {
                        return Err(Frame::error_owned(format!(
                            "TRYAGAIN no leader for this shard: {e}"
                        )));
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }
}
