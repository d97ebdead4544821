//! A node: builds everything a Shardis process runs, owns every task it starts, and shuts it
//! down in order.
//!
//! # Shutdown
//! SIGTERM, SIGINT and the SHUTDOWN command all give the same signal
//! ([`ServerState::begin_shutdown`]); [`Node::run`] then stops the node layer by layer, from the
//! clients down to the disk:
//! 1. the accept loop stops, and each connection stops after the batch it is running: what it
//!    was executing finishes and is answered, what it had not read yet is not (the client sees
//!    the connection close, which promises nothing about those requests);
//! 2. the replication stops ([`Replication::shutdown`]): node-wide maintenance, the groups'
//!    periodic tasks, every group's Raft core — writes still waiting for one are answered with an
//!    error then — the transport, the proposers and shard actors;
//! 3. the WAL is closed: what was queued is written and fsynced (under `appendfsync everysec`
//!    the last second of writes is only made durable here), and its writer task ends.
//!
//! Every wait is bounded ([`CLIENTS_GRACE`], and per step in the replication): a stuck task is
//! logged and left behind rather than keeping the node from closing its WAL. The process exits
//! with 0 once the WAL is closed, and with an error if closing it failed (then acknowledged
//! writes may not be durable, and that must not look like a clean stop).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tracing::info;

use crate::cluster::{LeaderBoard, Topology};
use crate::commands::keys::KeyCommand;
use crate::commands::{ApplyCtx, ShardCommand};
use crate::config::Config;
use crate::connection;
use crate::fd_limit;
use crate::limits::EvictionPolicy;
use crate::raft::group::{self, Replication, ReplicationConfig};
use crate::raft::wal::SyncPolicy;
use crate::raft::GroupId;
use crate::server::ServerState;
use crate::shard::ShardMsg;
use crate::slot::ShardMap;
use crate::tasks::NodeTasks;

/// Longest wait for the connections to finish what they are running once shutdown begins
/// (a write may wait up to the commit timeout for its group).
pub const CLIENTS_GRACE: Duration = Duration::from_secs(10);

/// After the groups are shut down: longest wait for connections that were still waiting on
/// them to write the error replies they got.
const CLIENTS_LAST_WORDS: Duration = Duration::from_secs(2);

/// A started node, not yet accepting clients.
pub struct Node {
    state: Arc<ServerState>,
    listener: TcpListener,
    replication: Replication,
    tasks: NodeTasks,
}

impl Node {
    /// Binds the client port (and the Raft port in a cluster), opens the WAL and starts every
    /// group this node hosts, with their tasks.
    pub async fn start(mut config: Config) -> io::Result<Node> {
        crate::server::allocator::start_background_thread();
        let reserved = fd_limit::reserved_fds(config.nodes.len());
        let maxclients = fd_limit::fit_maxclients(config.maxclients as u64, reserved)
            .map_err(io::Error::other)?;
        config.maxclients = usize::try_from(maxclients).unwrap_or(usize::MAX);
        let listener = TcpListener::bind((config.bind.as_str(), config.port)).await?;
        let local_addr = listener.local_addr()?;
        let shard_map = ShardMap::new(config.shards);
        let sync = config
            .appendfsync
            .parse::<SyncPolicy>()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let replication = ReplicationConfig {
            node_id: config.node_id,
            raft_addr: local_addr.to_string(),
            data_dir: config.data_dir.clone(),
            sync,
            commit_timeout: Duration::from_millis(config.commit_timeout_ms),
            hz: config.hz,
            max_bulk_len: config.proto_max_bulk_len,
            shard_queue: config.shard_queue,
            snapshot_logs: config.snapshot_logs,
            headroom: Default::default(),
        };
        let topology = Topology::from_config(&config, &local_addr.to_string());
        let raft_listener = match topology.this_node().filter(|_| topology.has_peers()) {
            Some(me) => Some(TcpListener::bind(me.raft_addr.as_str()).await?),
            None => None,
        };
        let leaders = Arc::new(LeaderBoard::new(&topology, shard_map.shards()));
        let tasks = NodeTasks::new();
        let replication = group::start(
            &replication,
            &topology,
            &shard_map,
            raft_listener,
            leaders.clone(),
            &tasks,
        )
        .await?;
        let state = ServerState::new(
            config,
            local_addr,
            shard_map,
            topology,
            leaders,
            &replication,
        );
        Ok(Node {
            state: Arc::new(state),
            listener,
            replication,
            tasks,
        })
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.state.local_addr
    }

    /// The shared state (for embedding and tests).
    pub fn state(&self) -> Arc<ServerState> {
        self.state.clone()
    }

    /// Serves clients until the SHUTDOWN command or until `signal` completes, then shuts the
    /// node down (see the module documentation). `Err` if the WAL did not close cleanly.
    pub async fn run(self, signal: impl Future<Output = ()>) -> io::Result<()> {
        let Node {
            state,
            listener,
            replication,
            tasks,
        } = self;
        info!(addr = %state.local_addr, shards = state.shard_map.shards(), "shardis ready to accept connections");
        tasks.clients.spawn(watch_loading(state.clone()));
        tasks.clients.spawn(measure_memory(state.clone()));
        tasks
            .clients
            .spawn(crate::server::functions::keep_fresh(state.clone()));
        tasks.clients.spawn(connection::accept_loop(
            listener,
            state.clone(),
            tasks.clients.clone(),
        ));
        let mut failure = None;
        tokio::select! {
            () = state.shutdown.wait() => {}
            () = signal => state.begin_shutdown(),
            (group, why) = replication.failed_group() => {
                // Never a silent dead group: stop, with a failure status a supervisor acts on.
                tracing::error!(
                    group,
                    error = %why,
                    "a Raft group stopped on a storage error; the node stops so that it can be \
                     restarted"
                );
                failure = Some(format!("group {group} stopped: {why}"));
                state.begin_shutdown();
            }
        }
        info!("shardis is shutting down");
        let clients_done = tasks.clients.join(CLIENTS_GRACE).await;
        let closed = replication.shutdown(&tasks).await;
        if !clients_done {
            tasks.clients.join(CLIENTS_LAST_WORDS).await;
        }
        if let Some(why) = failure {
            return Err(io::Error::other(why));
        }
        if closed.is_ok() {
            info!("shardis stopped cleanly");
        }
        closed
    }
}

/// Keeps [`ServerState::used_memory`] current while `maxmemory` is set — measured every 10 ms
/// (reading jemalloc's counters costs microseconds, too much for every command), so a burst of
/// writes can pass the limit by what 10 ms of them allocate — and, past the limit under an
/// eviction policy, evicts (see [`evict_round`]).
async fn measure_memory(state: Arc<ServerState>) {
    loop {
        let every = match state
            .runtime
            .maxmemory
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            0 => {
                // No limit: measured ten times a second for INFO's peak and dataset only.
                state.refresh_used_memory();
                Duration::from_millis(100)
            }
            max => {
                let over = state.refresh_used_memory().saturating_sub(max);
                if over == 0 {
                    state
                        .eviction_stuck
                        .store(false, std::sync::atomic::Ordering::Relaxed);
                } else if state.eviction_policy() != EvictionPolicy::NoEviction {
                    evict_round(&state, over).await;
                }
                Duration::from_millis(10)
            }
        };
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = state.shutdown.wait() => return,
        }
    }
}

/// Most keys one eviction entry removes.
const EVICT_PER_ENTRY: usize = 32;

/// One round of eviction, freeing about `to_free` bytes (what the node is over `maxmemory` by,
/// see [`ServerState::refresh_used_memory`]); returns the bytes evicted: shard after shard
/// this node leads, the policy picks up to [`EVICT_PER_ENTRY`] keys, as many as cover what is
/// left to free, and their removal is proposed as one log entry, so every replica evicts the
/// same keys (see `keyspace::eviction`). The next round, 10 ms later, measures again. When no
/// led shard has anything to evict while the node is past the limit (a volatile policy and no
/// key with a deadline), writes that may grow memory are refused until one has, as redis
/// refuses them when its eviction fails. Shards led elsewhere are their leaders' to evict from:
/// each node keeps its own leaderships within its limit.
async fn evict_round(state: &ServerState, to_free: u64) -> u64 {
    use std::sync::atomic::Ordering;
    let policy = state.eviction_policy();
    let samples = state.runtime.maxmemory_samples.load(Ordering::Relaxed) as usize;
    let asked = to_free as usize;
    let mut to_free = asked;
    let groups = state.groups.load();
    // Candidates from every shard this node leads, then the best of them all: a shard's own
    // best may be a key another shard would keep (a hot key, where the other holds cold ones).
    let mut led = Vec::new();
    let mut candidates = Vec::new();
    for (_, group) in groups.shards() {
        if !group.is_leader() {
            continue;
        }
        let Some(picked) = group
            .shard
            .ask(|tx| ShardMsg::EvictionCandidates(policy, samples, EVICT_PER_ENTRY, u64::MAX, tx))
            .await
        else {
            continue;
        };
        candidates.extend(picked.into_iter().map(|c| (led.len(), c)));
        led.push(group);
    }
    // Ties broken at random: a stable sort alone would take every tie from the first shard
    // (all new keys score the same under LFU), emptying it of everything but its hot keys,
    // which its own writes would then have to evict to make room (see `raft::proposer`).
    {
        use rand::seq::SliceRandom;
        candidates.shuffle(&mut rand::rng());
    }
    candidates.sort_by_key(|(_, c)| std::cmp::Reverse(c.score));
    let mut keys: Vec<Vec<(bytes::Bytes, u32)>> = vec![Vec::new(); led.len()];
    for (shard, c) in candidates {
        if to_free == 0 {
            break;
        }
        to_free = to_free.saturating_sub(c.bytes);
        keys[shard].push((c.key, c.version));
    }
    let found = keys.iter().any(|k| !k.is_empty());
    for (group, keys) in led.into_iter().zip(keys) {
        if keys.is_empty() {
            continue;
        }
        let ctx = ApplyCtx {
            now: crate::clock::now_ms(),
            max_bulk_len: state.runtime.proto_max_bulk_len.load(Ordering::Relaxed),
        };
        if let Err(e) = group
            .write(
                ctx,
                vec![ShardCommand::Key(KeyCommand::EvictUnchanged(keys))],
            )
            .await
        {
            tracing::debug!(error = ?e, "eviction entry not committed");
        }
    }
    state.eviction_stuck.store(!found, Ordering::Relaxed);
    (asked - to_free) as u64
}

/// Ends the node's loading state (see [`ServerState::loading`]) once every group it hosts has
/// a leader and has applied what it knew to be committed: the commit index it read from disk,
/// and the one it knew when it first saw a leader (a single voter's last entries commit then).
/// Until then a keyspace-wide command would see only the shards that happen to be led and
/// replayed already (DBSIZE growing, FLUSHALL leaving keys behind), so commands answer
/// `-LOADING`.
async fn watch_loading(state: Arc<ServerState>) {
    const CHECK_EVERY: Duration = Duration::from_millis(10);
    let started = std::time::Instant::now();
    let mut targets: Vec<(GroupId, u64, bool)> = state
        .groups
        .load()
        .all()
        .map(|(id, g)| (id, g.status().committed, false))
        .collect();
    loop {
        let groups = state.groups.load();
        let mut ready = true;
        for (id, target, saw_leader) in &mut targets {
            let Some(group) = groups.group(*id) else {
                continue;
            };
            let status = group.status();
            if status.leader.is_none() {
                ready = false;
                continue;
            }
            if !*saw_leader {
                *saw_leader = true;
                *target = (*target).max(status.committed);
            }
            ready &= status.applied >= *target;
        }
        if ready {
            state
                .loading
                .store(false, std::sync::atomic::Ordering::Release);
            info!(
                ms = started.elapsed().as_millis() as u64,
                groups = targets.len(),
                "dataset loaded: every group has a leader and has applied its log"
            );
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(CHECK_EVERY) => {}
            () = state.shutdown.wait() => return,
        }
    }
}
