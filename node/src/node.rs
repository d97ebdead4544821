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
use crate::config::Config;
use crate::connection;
use crate::fd_limit;
use crate::raft::group::{self, Replication, ReplicationConfig};
use crate::raft::wal::SyncPolicy;
use crate::raft::GroupId;
use crate::server::ServerState;
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

/// Keeps [`ServerState::used_memory`] current while `maxmemory` is set: measured every 10 ms
/// (reading jemalloc's counters costs microseconds, too much for every command), so a burst of
/// writes can pass the limit by what 10 ms of them allocate before they are refused.
async fn measure_memory(state: Arc<ServerState>) {
    loop {
        let every = match state
            .runtime
            .maxmemory
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            0 => Duration::from_millis(100),
            _ => {
                state.refresh_used_memory();
                Duration::from_millis(10)
            }
        };
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = state.shutdown.wait() => return,
        }
    }
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
