//! The replication of one node: the shared WAL and one Raft group per shard, with the calls the
//! connections make — a replicated write, and the linearizability check before reads.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::{BasicNode, Config, Instant as _, ReadPolicy, SnapshotPolicy};

use super::log_store::{CompactionGate, GroupLog, LogStore};
use super::proposer::{Answer, Proposer, Refusal};
use super::state_machine::ShardSm;
use super::transport::{self, GrpcNetwork, Identity, Peers, TransportService};
use super::wal::{SyncPolicy, Wal};
use super::{expiry, shard_group, ShardRaft};
use crate::cluster::Topology;
use crate::commands::{ApplyCtx, ShardCommand};
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
    /// Entries after which a group snapshots.
    pub snapshot_logs: u64,
}

/// One shard: its actor and its Raft group.
#[derive(Clone)]
pub struct ShardGroup {
    /// The actor that owns the keyspace (and applies the group's entries).
    pub shard: ShardHandle,
    /// The group's Raft handle.
    pub raft: ShardRaft,
    /// Where the group's writes are queued to become log entries.
    proposer: Proposer,
    commit_timeout: Duration,
    /// The term in which a full linearizability check last succeeded (see [`ShardGroup::read_barrier`]).
    confirmed_term: Arc<AtomicU64>,
    /// The node's peer links, shared by all its groups.
    peers: Arc<Peers>,
}

/// How long after the last quorum acknowledgement a leader still serves reads on its own: less
/// than the shortest election timeout, so no other leader can have been elected meanwhile.
const LEASE: Duration = Duration::from_millis(ELECTION_TIMEOUT_MIN - 150);
const HEARTBEAT: u64 = 100;
const ELECTION_TIMEOUT_MIN: u64 = 400;
const ELECTION_TIMEOUT_MAX: u64 = 800;

fn raft_config(snapshot_logs: u64) -> io::Result<Arc<Config>> {
    let config = Config {
        cluster_name: "shardis".into(),
        heartbeat_interval: HEARTBEAT,
        election_timeout_min: ELECTION_TIMEOUT_MIN,
        election_timeout_max: ELECTION_TIMEOUT_MAX,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(snapshot_logs),
        max_in_snapshot_log_to_keep: 10.min(snapshot_logs),
        enable_pre_vote: Some(true),
        // Heartbeats are sent in node-wide rounds instead (see `heartbeat_rounds`).
        enable_heartbeat: false,
        ..Default::default()
    };
    Ok(Arc::new(config.validate().map_err(io::Error::other)?))
}

/// Starts the WAL, replays it, and starts an actor and a Raft group for every shard this node
/// holds a replica of (`None` for the others). A group found on disk resumes; a new cluster's
/// groups are initialized by its bootstrap node (the smallest id) with their replicas as voters,
/// never twice. When the cluster has other nodes the Raft transport serves on `raft_listener`.
pub async fn start(
    config: &ReplicationConfig,
    topology: &Topology,
    shard_map: &ShardMap,
    raft_listener: Option<tokio::net::TcpListener>,
) -> io::Result<Vec<Option<ShardGroup>>> {
    std::fs::create_dir_all(config.data_dir.join("snapshots"))?;
    let (wal, records) = Wal::open(&config.data_dir.join("wal"), config.sync, 64 << 20)?;
    let mut logs: HashMap<u64, GroupLog> = HashMap::new();
    for r in records {
        logs.entry(r.group).or_default().replay(r.kind, &r.body)?;
    }
    let raft_config = raft_config(config.snapshot_logs)?;
    let identity = Identity {
        cluster_id: topology.cluster_id,
        node_id: topology.self_id,
    };
    let peers = Peers::new(identity);
    let service = TransportService::new(topology.cluster_id);
    let gate = CompactionGate::default();
    let heartbeat_origin = tokio::time::Instant::now();
    let mut stores = Vec::new();
    let mut groups = Vec::with_capacity(shard_map.shards());
    for s in 0..shard_map.shards() {
        if !topology.is_local(s) {
            groups.push(None);
            continue;
        }
        let group = shard_group(s);
        let (first, last) = shard_map.slot_range(s);
        let shard = ShardHandle::spawn(Keyspace::new(first, last), config.shard_queue);
        let sm = ShardSm::new(shard.clone(), snapshot_path(&config.data_dir, group));
        let replayed = logs.remove(&group).unwrap_or_default();
        let log = LogStore::new(group, replayed, wal.clone(), gate.clone());
        stores.push(log.clone());
        let network = GrpcNetwork::new(group, peers.clone());
        let raft = ShardRaft::new(
            topology.self_id,
            raft_config.clone(),
            network,
            log.clone(),
            sm,
        )
        .await
        .map_err(io::Error::other)?;
        service.register(group, raft.clone());
        let initialized = raft.is_initialized().await.map_err(io::Error::other)?;
        if !initialized && topology.bootstrapper() == topology.self_id {
            let members: BTreeMap<u64, BasicNode> = topology
                .replicas_of(s)
                .into_iter()
                .filter_map(|id| topology.node(id))
                .map(|n| {
                    let addr = n.raft_addr.clone();
                    (n.id, BasicNode { addr })
                })
                .collect();
            if let Err(e) = raft.initialize(members).await {
                tracing::warn!(group, error = %e, "group initialization");
            }
        }
        tokio::spawn(snapshot_by_size(log.clone(), raft.clone()));
        tokio::spawn(heartbeat_rounds(raft.clone(), heartbeat_origin));
        let proposer = Proposer::spawn(raft.clone(), config.commit_timeout, config.shard_queue);
        tokio::spawn(expiry::run(
            shard.clone(),
            raft.clone(),
            proposer.clone(),
            config.hz,
            config.max_bulk_len,
        ));
        groups.push(Some(ShardGroup {
            shard,
            raft,
            proposer,
            commit_timeout: config.commit_timeout,
            confirmed_term: Arc::new(AtomicU64::new(0)),
            peers: peers.clone(),
        }));
    }
    if let Some(listener) = raft_listener {
        tokio::spawn(transport::serve(service, listener));
        tokio::spawn(balance_leaders(groups.clone(), topology.clone()));
    }
    tokio::spawn(compact_wal(wal, gate, stores));
    Ok(groups)
}

/// Makes `raft`, when it leads, send heartbeats every [`HEARTBEAT`] ms at the instants shared by
/// every group of the node (multiples of the period after `origin`), instead of openraft's own
/// timer, whose phase is random per group: the heartbeats of all the groups a node leads then
/// reach each peer together, and the transport sends them as one batch. One task per group, so a
/// group whose core is busy delays no other group's heartbeat.
async fn heartbeat_rounds(raft: ShardRaft, origin: tokio::time::Instant) {
    let period = Duration::from_millis(HEARTBEAT);
    let mut rounds = tokio::time::interval_at(origin + period, period);
    rounds.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        rounds.tick().await;
        if raft.is_leader() && raft.trigger().heartbeat().await.is_err() {
            return;
        }
    }
}

/// Moves each shard's leadership to its preferred node (see [`Topology::preferred_leader`]) once
/// that node is a caught-up voter, so leaders stay spread over the nodes after start-up and after
/// a failed node comes back. Runs on every node; each acts only on the groups it leads.
async fn balance_leaders(groups: Vec<Option<ShardGroup>>, topology: Topology) {
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        for (s, group) in groups.iter().enumerate() {
            let Some(group) = group else { continue };
            let preferred = topology.preferred_leader(s);
            if preferred == topology.self_id || !group.raft.is_leader() {
                continue;
            }
            let caught_up = {
                let m = group.raft.metrics().borrow_watched().clone();
                let last = m.last_log_index;
                m.replication
                    .as_ref()
                    .and_then(|r| r.get(&preferred).cloned())
                    .flatten()
                    .is_some_and(|matched| Some(matched.index()) == last)
            };
            if caught_up {
                tracing::info!(
                    shard = s,
                    to = preferred,
                    "handing leadership to the preferred node"
                );
                let _ = group.raft.trigger().transfer_leader(preferred).await;
            }
        }
    }
}

fn snapshot_path(dir: &Path, group: u64) -> PathBuf {
    dir.join("snapshots").join(format!("group-{group}.snap"))
}

/// Log bytes after which a group snapshots, whatever its entry count: the in-memory log (and the
/// WAL) of a group stays around this size however large its entries are.
const SNAPSHOT_LOG_BYTES: u64 = 4 << 20;

/// Triggers a snapshot of the group whenever [`SNAPSHOT_LOG_BYTES`] have been appended since the
/// last one it triggered (besides openraft's entry-count policy, `snapshot-logs`).
async fn snapshot_by_size(log: LogStore, raft: ShardRaft) {
    let mut since = 0u64;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        since += log.take_appended_bytes();
        if since >= SNAPSHOT_LOG_BYTES {
            since = 0;
            if raft.trigger().snapshot().await.is_err() {
                return;
            }
        }
    }
}

/// Smallest WAL that compaction rewrites.
const REWRITE_MIN_BYTES: u64 = 64 << 20;

/// Keeps the WAL from growing without bound: when it has grown past 64 MiB and twice its size
/// after the last rewrite, it is replaced by the records that rebuild every group's current log
/// (what snapshots have not yet covered), like redis's AOF rewrite.
async fn compact_wal(wal: Wal, gate: CompactionGate, stores: Vec<LogStore>) {
    let mut base = wal.size();
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        if wal.size() < REWRITE_MIN_BYTES.max(base.saturating_mul(2)) {
            continue;
        }
        match compact_once(&wal, &gate, &stores).await {
            Ok(()) => {
                base = wal.size();
                tracing::info!(bytes = base, "WAL rewritten");
            }
            Err(e) => tracing::warn!(error = %e, "WAL rewrite failed; the old log stays in force"),
        }
    }
}

/// Rewrites the WAL once: collects every group's live records and queues the rewrite while
/// holding the gate (so no log write slips between the two), then waits for it to be durable.
pub async fn compact_once(wal: &Wal, gate: &CompactionGate, stores: &[LogStore]) -> io::Result<()> {
    let durable = {
        let _exclusive = gate.write().await;
        let mut live = Vec::new();
        for store in stores {
            live.extend(store.live_records()?);
        }
        wal.queue_rewrite(live).await?
    };
    durable.await
}

impl ShardGroup {
    /// Replicates the write commands of one client batch for this shard and returns their
    /// replies once the log entry holding them is committed and applied.
    pub async fn write(&self, ctx: ApplyCtx, cmds: Vec<ShardCommand>) -> Answer {
        self.proposer.write(ctx, cmds).await
    }

    /// The node's links to its peers (shared by every group), with their counters.
    pub fn peers(&self) -> &Peers {
        &self.peers
    }

    /// True when this node leads the group now (as far as it knows).
    pub fn is_leader(&self) -> bool {
        self.raft.is_leader()
    }

    /// The cheap check that lets a read through without asking the Raft core: this node leads
    /// the group in a term where a full check already passed (so the entries of earlier terms are
    /// applied), its lease is fresh (a quorum acknowledged it less than [`LEASE`] ago, or it is
    /// the only voter), and everything committed has been handed to the actor, whose channel the
    /// read then follows.
    fn lease_is_fresh(&self) -> bool {
        let metrics = self.raft.metrics();
        let m = metrics.borrow_watched();
        if !m.state.is_leader() || m.current_term != self.confirmed_term.load(Ordering::Acquire) {
            return false;
        }
        let sole_voter = {
            let mut voters = m.membership_config.voter_ids();
            voters.next() == Some(m.id) && voters.next().is_none()
        };
        let acked = sole_voter
            || m.last_quorum_acked
                .as_ref()
                .is_some_and(|t| t.elapsed() < LEASE);
        let committed = m
            .local_committed
            .max(m.cluster_committed)
            .map(|l| l.index());
        let applied = m.last_applied.map(|l| l.index()) >= committed;
        acked && applied
    }

    /// Confirms that this node still leads the group (lease, else a quorum round) and that
    /// everything committed before now is applied, so a read sent to the actor next is
    /// linearizable.
    pub async fn read_barrier(&self) -> Result<(), Refusal> {
        if self.lease_is_fresh() {
            return Ok(());
        }
        let known_leader = self.raft.metrics().borrow_watched().current_leader;
        if let Some(leader) = known_leader {
            if leader != *self.raft.node_id() {
                return Err(Refusal::NotLeader(Some(leader)));
            }
        }
        let deadline = tokio::time::Instant::now() + self.commit_timeout;
        loop {
            let policy = ReadPolicy::LeaseRead;
            let term = self.raft.metrics().borrow_watched().current_term;
            let attempt =
                tokio::time::timeout_at(deadline, self.raft.ensure_linearizable(policy)).await;
            match attempt {
                Err(_) => return Err(Refusal::NotLeader(None)),
                Ok(Ok(_)) => {
                    self.confirmed_term.fetch_max(term, Ordering::AcqRel);
                    return Ok(());
                }
                Ok(Err(e)) => {
                    if let Some(leader) = e.forward_to_leader().and_then(|f| f.leader_id) {
                        if leader != *self.raft.node_id() {
                            return Err(Refusal::NotLeader(Some(leader)));
                        }
                    }
                    if tokio::time::Instant::now() + Duration::from_millis(20) >= deadline {
                        return Err(Refusal::NotLeader(None));
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }
}
