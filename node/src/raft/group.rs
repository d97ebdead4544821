//! The replication of one node: the shared WAL and one Raft group per shard, with the calls the
//! connections make — a replicated write, and the linearizability check before reads.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::{BasicNode, Config, SnapshotPolicy};

use super::log_store::{CompactionGate, GroupLog, LogStore};
use super::meta::{ClusterMeta, Metadata, META_TAG};
use super::persistence::{Persistence, PersistenceStats};
use super::proposer::{Proposer, Room};
use super::registry::GroupRegistry;
use super::service::{serve_transport, TransportService};
use super::shard_group::{ShardGroup, ELECTION_TIMEOUT_MAX, ELECTION_TIMEOUT_MIN, HEARTBEAT};
use super::state_machine::{FileCheck, ShardSm};
use super::transport::{GrpcNetwork, Identity, Peers};
use super::wal::{SyncPolicy, Wal};
use super::{expiry, shard_group, GroupId, ShardRaft, META_GROUP};
use crate::cluster::{LeaderBoard, Topology};
use crate::keyspace::Keyspace;
use crate::shard::ShardHandle;
use crate::slot::ShardMap;
use crate::tasks::NodeTasks;

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
    /// The node's memory budget, which shard groups' proposers make room in.
    pub headroom: Arc<crate::headroom::Headroom>,
}

fn raft_config(snapshot_logs: u64) -> io::Result<Arc<Config>> {
    let config = Config {
        cluster_name: "shardis".into(),
        heartbeat_interval: HEARTBEAT,
        election_timeout_min: ELECTION_TIMEOUT_MIN,
        election_timeout_max: ELECTION_TIMEOUT_MAX,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(snapshot_logs),
        // Nothing a snapshot covers stays in the log: kept entries were kept whatever their
        // size (three SET/DEL cycles of a 64 MiB value stayed in memory and in the WAL). A
        // leader still keeps what a replication stream is sending.
        max_in_snapshot_log_to_keep: 0,
        enable_pre_vote: Some(true),
        // A restarted leader must win a new election (and commit a blank entry in its new term)
        // before it serves anything. openraft would otherwise restore it as leader of its old
        // term with the commit index it last wrote down — which trails the real one (COMMITTED
        // records are written behind) — and it would answer reads from a state machine missing
        // writes it had itself acknowledged before the crash (found by the chaos tests).
        enable_leader_restore: Some(false),
        // Heartbeats are sent in node-wide rounds instead (see `heartbeat_rounds`).
        enable_heartbeat: false,
        ..Default::default()
    };
    Ok(Arc::new(config.validate().map_err(io::Error::other)?))
}

/// A node's replication: the metadata group and its shard groups, the WAL under them and the
/// links to the other nodes.
pub struct Replication {
    /// The metadata group (see [`super::meta`]).
    pub meta: Metadata,
    /// Every group this node hosts, the metadata group included.
    pub groups: Arc<GroupRegistry>,
    /// The WAL and the snapshot and rewrite counters (INFO persistence).
    pub persistence: Persistence,
    /// The node's memory budget (see [`crate::headroom`]), measured by the node.
    pub headroom: Arc<crate::headroom::Headroom>,
    peers: Arc<Peers>,
}

/// What every group of a node is opened with.
struct Opener<'a> {
    config: &'a ReplicationConfig,
    topology: &'a Topology,
    raft_config: Arc<Config>,
    peers: Arc<Peers>,
    groups: Arc<GroupRegistry>,
    tasks: &'a NodeTasks,
    wal: Wal,
    gate: CompactionGate,
    logs: HashMap<u64, GroupLog>,
    /// The instant every group's heartbeat rounds are aligned to.
    heartbeat_origin: tokio::time::Instant,
    /// Snapshot and WAL rewrite counters.
    persistence: Arc<PersistenceStats>,
}

impl Opener<'_> {
    /// Starts the actor and the Raft group `group` over `keyspace` and adds it to the registry
    /// (where the transport finds it as soon as its Raft handle exists, as peers may already
    /// call it). A group found on disk resumes; a new cluster's group is initialized with
    /// `voters` by the voter with the smallest id, never twice. `expiry`: the leader proposes
    /// expirations (shard groups). Its tasks go to the node's group tasks.
    async fn open(
        &mut self,
        group: GroupId,
        keyspace: Keyspace,
        voters: Vec<u64>,
        expiry: bool,
    ) -> io::Result<ShardGroup> {
        let config = self.config;
        let topology = self.topology;
        let tasks = &self.tasks.groups;
        let shard = ShardHandle::spawn(keyspace, config.shard_queue, tasks);
        let sm = ShardSm::new(
            shard.clone(),
            snapshot_path(&config.data_dir, group),
            self.persistence.clone(),
        );
        let snapshots = sm.clone();
        let replayed = self.logs.remove(&group).unwrap_or_default();
        self.replace_damaged_snapshot(group, &sm, &voters, replayed.purged_index())
            .await?;
        let log = LogStore::new(group, replayed, self.wal.clone(), self.gate.clone());
        let network = GrpcNetwork::new(group, self.peers.clone());
        let raft = ShardRaft::new(
            topology.self_id,
            self.raft_config.clone(),
            network,
            log.clone(),
            sm,
        )
        .await
        .map_err(io::Error::other)?;
        let room = expiry.then(|| Room {
            headroom: config.headroom.clone(),
            shard: shard.clone(),
        });
        let proposer = Proposer::spawn(
            raft.clone(),
            config.commit_timeout,
            config.shard_queue,
            room,
            tasks,
        );
        let handle = ShardGroup {
            shard: shard.clone(),
            metrics: raft.metrics(),
            raft: raft.clone(),
            proposer: proposer.clone(),
            commit_timeout: config.commit_timeout,
            confirmed_term: Arc::new(AtomicU64::new(0)),
            handed_over_term: Arc::new(AtomicU64::new(0)),
            group,
            peers: self.peers.clone(),
            log: log.clone(),
            snapshot_path: snapshot_path(&config.data_dir, group),
        };
        self.groups.insert(group, handle.clone());
        let initialized = raft.is_initialized().await.map_err(io::Error::other)?;
        let bootstrapper = voters.iter().min().copied();
        if !initialized && bootstrapper == Some(topology.self_id) {
            let members: BTreeMap<u64, BasicNode> = voters
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
        tasks.spawn_until_stopped(snapshot_by_size(
            log,
            raft.clone(),
            snapshots,
            config.headroom.clone(),
        ));
        tasks.spawn_until_stopped(heartbeat_rounds(raft.clone(), self.heartbeat_origin));
        if expiry {
            tasks.spawn_until_stopped(expiry::run(
                shard,
                raft,
                proposer,
                config.hz,
                config.max_bulk_len,
            ));
        }
        Ok(handle)
    }
}

impl Opener<'_> {
    /// Checks the group's snapshot file before the group opens. A damaged one (this release's
    /// format, failing its checksums) is set aside and replaced by a healthy copy from the
    /// group's other voters (see [`super::snapshot_fetch`]) covering at least `purged` (where
    /// this node's log starts); with no other voter, or none that has one within a minute, the
    /// node refuses to start with an error naming the file. A file of another release's format
    /// is never replaced.
    async fn replace_damaged_snapshot(
        &self,
        group: GroupId,
        sm: &ShardSm,
        voters: &[u64],
        purged: u64,
    ) -> io::Result<()> {
        let damage = match sm.check_file().await {
            FileCheck::Missing | FileCheck::Good => return Ok(()),
            FileCheck::Foreign(e) => return Err(e),
            FileCheck::Damaged(e) => e,
        };
        let sources: Vec<(u64, String)> = voters
            .iter()
            .filter(|id| **id != self.topology.self_id)
            .filter_map(|id| self.topology.node(*id))
            .map(|n| (n.id, n.raft_addr.clone()))
            .collect();
        if sources.is_empty() {
            return Err(damage);
        }
        tracing::error!(
            group,
            error = %damage,
            "the snapshot file is damaged: fetching a copy from another replica"
        );
        let aside = sm.set_aside()?;
        let file = super::snapshot_fetch::fetch(&self.peers, group, &sources, purged)
            .await
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "{damage}; {e} (the damaged file is kept as {})",
                        aside.display()
                    ),
                )
            })?;
        sm.put_file(file).await?;
        tracing::warn!(
            group,
            damaged = %aside.display(),
            "the damaged snapshot file is replaced by a healthy replica's copy"
        );
        Ok(())
    }
}

/// Starts the WAL, replays it, and starts the metadata group and an actor and a Raft group for
/// every shard this node holds a replica of. When the cluster has other nodes the Raft
/// transport serves on `raft_listener`; leaders that peers report go to `leaders`. Every task
/// started goes to its layer's set in `tasks`; [`Replication::shutdown`] stops them.
pub async fn start(
    config: &ReplicationConfig,
    topology: &Topology,
    shard_map: &ShardMap,
    raft_listener: Option<tokio::net::TcpListener>,
    leaders: Arc<LeaderBoard>,
    tasks: &NodeTasks,
) -> io::Result<Replication> {
    let snapshots = config.data_dir.join("snapshots");
    std::fs::create_dir_all(&snapshots).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot make the snapshot directory {}: {e}",
                snapshots.display()
            ),
        )
    })?;
    let wal_dir = config.data_dir.join("wal");
    let (wal, records) = Wal::open(&wal_dir, config.sync, 64 << 20).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot open the WAL in {}: {e}", wal_dir.display()),
        )
    })?;
    let stats = Arc::new(PersistenceStats::default());
    stats.set_base_size(wal.size());
    let mut logs: HashMap<u64, GroupLog> = HashMap::new();
    for r in records {
        logs.entry(r.group)
            .or_default()
            .replay(r.kind, &r.body)
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("WAL {}: group {}: {e}", wal_dir.display(), r.group),
                )
            })?;
    }
    let identity = Identity {
        cluster_id: topology.cluster_id,
        node_id: topology.self_id,
    };
    let groups = Arc::new(GroupRegistry::new());
    let service = TransportService::new(
        identity,
        leaders,
        groups.clone(),
        wal.clone(),
        &tasks.transport,
    );
    let peers = Peers::new(
        identity,
        topology
            .nodes
            .iter()
            .map(|n| (n.id, n.raft_addr.clone()))
            .collect(),
        &tasks.transport,
    );
    let mut opener = Opener {
        config,
        topology,
        raft_config: raft_config(config.snapshot_logs)?,
        peers: peers.clone(),
        groups: groups.clone(),
        tasks,
        wal: wal.clone(),
        gate: CompactionGate::default(),
        logs,
        heartbeat_origin: tokio::time::Instant::now(),
        persistence: stats.clone(),
    };
    let meta_slot = crate::slot::key_slot(META_TAG);
    let everyone = topology.nodes.iter().map(|n| n.id).collect();
    let meta_group = opener
        .open(
            META_GROUP,
            Keyspace::new(meta_slot, meta_slot),
            everyone,
            false,
        )
        .await?;
    let meta = Metadata::start(
        meta_group,
        ClusterMeta::from_topology(topology, shard_map.shards()),
        &tasks.groups,
    );
    for s in 0..shard_map.shards() {
        if !topology.is_local(s) {
            continue;
        }
        let (first, last) = shard_map.slot_range(s);
        opener
            .open(
                shard_group(s),
                Keyspace::new(first, last),
                topology.replicas_of(s),
                true,
            )
            .await?;
    }
    let gate = opener.gate;
    if let Some(listener) = raft_listener {
        if (0..shard_map.shards()).any(|s| !topology.is_local(s)) {
            tasks.background.spawn_until_stopped(exchange_leaders(
                service.clone(),
                peers.clone(),
                topology.clone(),
            ));
        }
        tasks
            .transport
            .spawn_until_stopped(serve_transport(service, listener));
        tasks.background.spawn_until_stopped(balance_leaders(
            groups.clone(),
            topology.clone(),
            meta.clone(),
            wal.clone(),
        ));
    }
    tasks.background.spawn_until_stopped(compact_wal(
        wal.clone(),
        gate,
        groups.clone(),
        stats.clone(),
    ));
    Ok(Replication {
        meta,
        groups,
        persistence: Persistence { stats, wal },
        headroom: config.headroom.clone(),
        peers,
    })
}

/// Longest wait for each step of [`Replication::shutdown`].
const SHUTDOWN_STEP: Duration = Duration::from_secs(10);

impl Replication {
    /// Completes when a group's Raft core has stopped on its own (a storage error), with the
    /// group and the reason: the node cannot serve that group any more without a restart.
    pub async fn failed_group(&self) -> (GroupId, String) {
        const CHECK_EVERY: Duration = Duration::from_millis(200);
        loop {
            let failed = self
                .groups
                .load()
                .all()
                .find_map(|(id, g)| g.failure().map(|why| (id, why)));
            if let Some(failed) = failed {
                return failed;
            }
            tokio::time::sleep(CHECK_EVERY).await;
        }
    }

    /// Stops the node's replication, in order: the node-wide maintenance (compactor, balancer,
    /// leader exchange); the groups' periodic tasks (expiry, heartbeats, snapshot checks); every
    /// group's Raft core (what it was writing is queued in the WAL by then, and writes still
    /// waiting for it are answered with errors); the transport; the proposers and shard actors;
    /// then the WAL, whose close writes what is queued and fsyncs it. Each wait is bounded: a
    /// step that does not finish is logged and the next one runs anyway, so that the WAL is
    /// always closed. The WAL's close error, if any, is returned.
    pub async fn shutdown(&self, tasks: &NodeTasks) -> io::Result<()> {
        tasks.background.stop();
        tasks.background.join(SHUTDOWN_STEP).await;
        tasks.groups.stop();
        let groups = self.groups.load();
        let stopped = futures_util::future::join_all(groups.all().map(|(id, g)| async move {
            if g.raft.shutdown().await.is_err() {
                tracing::warn!(group = id, "the group's Raft core ended with an error");
            }
        }));
        if tokio::time::timeout(SHUTDOWN_STEP, stopped).await.is_err() {
            tracing::warn!("Raft groups not shut down after {SHUTDOWN_STEP:?}; going on");
        }
        tasks.transport.stop();
        self.peers.close();
        tasks.transport.join(SHUTDOWN_STEP).await;
        let removed = self.groups.clear();
        let told = async {
            for (_, group) in &removed {
                group.proposer.stop().await;
                group.shard.stop().await;
            }
        };
        // Bounded too: a stop message waits for room in a full channel.
        if tokio::time::timeout(SHUTDOWN_STEP, told).await.is_err() {
            tracing::warn!("proposers and shard actors not all told to stop; going on");
        }
        drop((groups, removed));
        tasks.groups.join(SHUTDOWN_STEP).await;
        let closed = self.persistence.wal.close().await;
        match &closed {
            Ok(()) => tracing::info!(
                fsyncs = self.persistence.wal.fsync_count(),
                "WAL closed: everything written and fsynced"
            ),
            Err(e) => tracing::error!(error = %e, "the WAL did not close cleanly"),
        }
        closed
    }
}

/// Moves each shard's leadership to its preferred node — as the metadata group records it
/// (CLUSTER FAILOVER changes it), else as the placement computes it
/// ([`Topology::preferred_leader`]) — once that node is a caught-up voter, so leaders stay spread
/// over the nodes after start-up and after a failed node comes back. Runs on every node; each
/// acts only on the groups it leads.
///
/// A node whose WAL cannot write (a full disk, [`Wal::write_stalled`]) does the opposite: it
/// hands every group it leads, the metadata group too, to its most caught-up voter (see
/// [`step_down`]), and refuses to take leaderships meanwhile (the transport declines transfers).
async fn balance_leaders(groups: Arc<GroupRegistry>, topology: Topology, meta: Metadata, wal: Wal) {
    loop {
        tokio::time::sleep(BALANCE_INTERVAL).await;
        let groups = groups.load();
        if let Some(why) = wal.write_stalled() {
            step_down(&groups, &why).await;
            continue;
        }
        for (s, group) in groups.shards() {
            let preferred = meta
                .preferred_leader(s)
                .unwrap_or_else(|| topology.preferred_leader(s));
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
                group.hand_over(preferred).await;
            }
        }
    }
}

/// Hands each group this node leads to the voter that has matched the most of its log: this
/// node cannot write its own log (`why`), so as a leader it would hold its group's writes back
/// (single-voter groups have nobody to hand to and stay). The transfer makes the new leader wait
/// until its log has caught up with this leader's before it takes over.
async fn step_down(groups: &super::registry::Groups, why: &str) {
    for (id, group) in groups.all() {
        if !group.is_leader() {
            continue;
        }
        let status = group.status();
        let best = status
            .matched
            .iter()
            .filter(|(node, _)| status.voters.contains(node))
            .max_by_key(|(_, matched)| *matched);
        if let Some((to, _)) = best {
            tracing::warn!(
                group = id,
                to,
                error = why,
                "this node cannot write its log: handing the group's leadership away"
            );
            group.hand_over(*to).await;
        }
    }
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

/// How often a node tells its peers which shard leaders it knows (and learns theirs).
const LEADER_EXCHANGE_INTERVAL: Duration = Duration::from_millis(250);

/// For the shards a node holds no replica of: every [`LEADER_EXCHANGE_INTERVAL`], tells every
/// peer the leaders of this node's groups and learns theirs (the highest term wins), so that
/// CLUSTER SLOTS and MOVED replies name the current leader of every shard within a second of an
/// election. Runs only when some shard has no replica here.
async fn exchange_leaders(service: TransportService, peers: Arc<Peers>, topology: Topology) {
    let others: Vec<_> = topology
        .nodes
        .iter()
        .filter(|n| n.id != topology.self_id)
        .cloned()
        .collect();
    loop {
        tokio::time::sleep(LEADER_EXCHANGE_INTERVAL).await;
        let Ok(payload) = crate::codec::encode(&service.leader_hints()) else {
            continue;
        };
        let calls = others.iter().map(|n| {
            let rpc = proto::raft::GroupRpc {
                group_id: META_GROUP,
                kind: proto::raft::RpcKind::Leaders as i32,
                payload: payload.clone().into(),
            };
            peers.request(n.id, &n.raft_addr, rpc, LEADER_EXCHANGE_INTERVAL * 2)
        });
        for reply in futures_util::future::join_all(calls)
            .await
            .into_iter()
            .flatten()
        {
            if let Ok(hints) = crate::codec::decode::<Vec<(GroupId, u64, u64)>>(&reply.payload) {
                service.learn_leaders(&hints);
            }
        }
    }
}

/// How often leaders check that they are where the metadata wants them.
const BALANCE_INTERVAL: Duration = Duration::from_millis(500);

fn snapshot_path(dir: &Path, group: u64) -> PathBuf {
    dir.join("snapshots").join(format!("group-{group}.snap"))
}

/// Least log bytes after which a group snapshots, whatever its entry count.
const SNAPSHOT_LOG_BYTES: u64 = 4 << 20;

/// Log bytes after which a group whose last snapshot held `snapshot_bytes` snapshots again: 4 MiB,
/// or half the snapshot when that is more. A snapshot costs time proportional to the keyspace,
/// so a fixed threshold would make a large shard snapshot over and over (a 27 MB shard under
/// `SET -P 16` spent most of its time snapshotting); growing it with the keyspace keeps the cost
/// per write constant, like redis's `auto-aof-rewrite-percentage`. The price: the in-memory log
/// of a write-heavy group reaches half its keyspace's size before it is dropped.
pub fn snapshot_threshold(snapshot_bytes: u64) -> u64 {
    SNAPSHOT_LOG_BYTES.max(snapshot_bytes / 2)
}

/// Least log bytes an idle group snapshots for.
const IDLE_SNAPSHOT_MIN_BYTES: u64 = 64 << 10;

/// Whether a group snapshots now, with `since` log bytes appended since its last snapshot,
/// which held `snapshot_bytes`. A busy group waits for [`snapshot_threshold`], or for `cap`
/// bytes when that is less (`maxmemory`'s share, see `Headroom::snapshot_log_cap`); a group
/// that has gone `idle` snapshots as soon as its log is worth a sixteenth of its keyspace, so a
/// shard at rest holds its keyspace and not, besides it, the log of its last burst of writes
/// (half the memory of a freshly loaded node was that log). The sixteenth bounds what a slow
/// trickle of writes can cost in snapshots.
fn snapshot_due(since: u64, snapshot_bytes: u64, idle: bool, cap: Option<u64>) -> bool {
    let threshold = snapshot_threshold(snapshot_bytes).min(cap.unwrap_or(u64::MAX));
    since >= threshold || (idle && since >= IDLE_SNAPSHOT_MIN_BYTES.max(snapshot_bytes / 16))
}

/// How often a group's log growth is checked: often enough that a write burst does not
/// overshoot a cap by much (at 200 MB/s of writes, 50 ms is 10 MB over all groups), and cheap
/// (an atomic swap and a look at the group's metrics).
const SNAPSHOT_CHECK_EVERY: Duration = Duration::from_millis(50);

/// Checks (30 s) after which a snapshot trigger that changed nothing is given up on.
const TRIGGER_PATIENCE: u32 = 600;

/// Quiet checks after which a group counts as idle (so about a second without appends).
const IDLE_CHECKS: u32 = 20;

/// Triggers a snapshot of the group when [`snapshot_due`] says so, counting the log bytes
/// appended since the last one it triggered (besides openraft's entry-count policy,
/// `snapshot-logs`).
///
/// The bytes counted before a trigger are let go only once a snapshot covers the last entry
/// the log had then: a snapshot reaches only as far as the state machine had applied when it
/// was built, and forgetting the rest would leave it in the log for good once writes stop.
async fn snapshot_by_size(
    log: LogStore,
    raft: ShardRaft,
    sm: ShardSm,
    headroom: Arc<crate::headroom::Headroom>,
) {
    let mut since = 0u64;
    let mut quiet = 0u32;
    // At the last trigger: the bytes counted, the last log index, the snapshot index, and
    // the checks since.
    let mut triggered: Option<(u64, u64, u64, u32)> = None;
    loop {
        tokio::time::sleep(SNAPSHOT_CHECK_EVERY).await;
        let appended = log.take_appended_bytes();
        since += appended;
        quiet = if appended == 0 { quiet + 1 } else { 0 };
        let (snapshot, last_log, applied) = {
            let m = raft.metrics();
            let m = m.borrow_watched();
            (
                m.snapshot.as_ref().map_or(0, |l| l.index()),
                m.last_log_index.unwrap_or(0),
                m.last_applied.as_ref().map_or(0, |l| l.index()),
            )
        };
        if let Some((counted, upto, before, checks)) = triggered.as_mut() {
            *checks += 1;
            if snapshot >= *upto {
                since = since.saturating_sub(*counted);
            } else if snapshot > *before {
                // It fell short of the trigger's last entry: let go of the share of the counted
                // bytes it covered, by entries (under load it covers nearly all; after a big
                // last write, what is left still adds up to another snapshot once idle).
                let covered = u128::from(*counted) * u128::from(snapshot - *before)
                    / u128::from((*upto - *before).max(1));
                since = since.saturating_sub(covered as u64);
            } else if *checks < TRIGGER_PATIENCE {
                // Still being built: no second trigger meanwhile.
                continue;
            }
            // Settled (or a trigger that came to nothing): the next one may come.
            triggered = None;
        }
        let cap = headroom.snapshot_log_cap();
        // Only once something new is applied: a snapshot covers what the state machine has
        // applied, so a trigger while the entries that made it due are still on their way
        // (checked 50 ms after a large write) would build nothing new and wait out its patience.
        if applied > snapshot && snapshot_due(since, sm.snapshot_bytes(), quiet >= IDLE_CHECKS, cap)
        {
            triggered = Some((since, last_log, snapshot, 0));
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
/// (what snapshots have not yet covered), like redis's AOF rewrite. The groups are those the
/// registry holds at the time of each rewrite: a group added while the node runs must be in the
/// registry before its log store writes anything (the groups opened at start-up are all in
/// before this task starts).
async fn compact_wal(
    wal: Wal,
    gate: CompactionGate,
    groups: Arc<GroupRegistry>,
    stats: Arc<PersistenceStats>,
) {
    let mut base = wal.size();
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        if wal.size() < REWRITE_MIN_BYTES.max(base.saturating_mul(2)) {
            continue;
        }
        let started = std::time::Instant::now();
        stats.rewrite_started();
        let stores = || groups.load().all().map(|(_, g)| g.log.clone()).collect();
        match compact_once(&wal, &gate, stores).await {
            Ok(()) => {
                base = wal.size();
                stats.rewrite_done(started.elapsed(), Ok(base));
                let ms = started.elapsed().as_millis() as u64;
                tracing::info!(bytes = base, ms, "WAL rewritten");
            }
            Err(e) => {
                stats.rewrite_done(started.elapsed(), Err(()));
                tracing::warn!(error = %e, "WAL rewrite failed; the old log stays in force");
            }
        }
    }
}

/// Rewrites the WAL once: copies the log of every group `stores` lists and queues the rewrite
/// while holding the gate (so no log write slips between the two, and no group joins between
/// the listing and the copy), then waits for it to be durable; the records are encoded and
/// written on the blocking pool while writes go on.
pub async fn compact_once(
    wal: &Wal,
    gate: &CompactionGate,
    stores: impl FnOnce() -> Vec<LogStore>,
) -> io::Result<()> {
    let durable = {
        let _exclusive = gate.write().await;
        let started = std::time::Instant::now();
        let stores = stores();
        // A cheap copy under the gate; the encoding runs on the blocking pool, gate released.
        let logs: Vec<_> = stores.iter().map(|s| s.live_log()).collect();
        let live = Box::new(move || {
            let mut live = Vec::new();
            for log in &logs {
                live.extend(log.records()?);
            }
            Ok(live)
        });
        let queued = wal.queue_rewrite_with(live).await?;
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            "WAL rewrite: logs copied under the gate"
        );
        queued
    };
    durable.await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_threshold_grows_with_the_keyspace() {
        assert_eq!(snapshot_threshold(0), SNAPSHOT_LOG_BYTES);
        assert_eq!(snapshot_threshold(SNAPSHOT_LOG_BYTES), SNAPSHOT_LOG_BYTES);
        assert_eq!(snapshot_threshold(64 << 20), 32 << 20);
    }

    #[test]
    fn an_idle_group_snapshots_a_log_worth_a_sixteenth_of_its_keyspace() {
        let keyspace = 64 << 20;
        // Busy: only the size threshold counts.
        assert!(!snapshot_due(8 << 20, keyspace, false, None));
        assert!(snapshot_due(32 << 20, keyspace, false, None));
        // Idle: a sixteenth of the keyspace is enough, less is not.
        assert!(snapshot_due(4 << 20, keyspace, true, None));
        assert!(!snapshot_due((4 << 20) - 1, keyspace, true, None));
        // A small or new group at rest: at least 64 KiB of log, and nothing for an empty log.
        assert!(!snapshot_due(0, 0, true, None));
        assert!(!snapshot_due(1000, 0, true, None));
        assert!(snapshot_due(64 << 10, 0, true, None));
    }

    #[test]
    fn under_a_memory_limit_a_busy_group_snapshots_at_its_cap() {
        let keyspace = 64 << 20;
        assert!(!snapshot_due(8 << 20, keyspace, false, None));
        assert!(snapshot_due(8 << 20, keyspace, false, Some(8 << 20)));
        assert!(!snapshot_due((1 << 20) - 1, keyspace, false, Some(1 << 20)));
        // A cap above the usual threshold changes nothing.
        assert!(!snapshot_due(8 << 20, keyspace, false, Some(1 << 30)));
        assert!(snapshot_due(32 << 20, keyspace, false, Some(1 << 30)));
    }
}
