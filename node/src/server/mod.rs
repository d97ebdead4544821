//! What the connections of a node share ([`ServerState`]), and the commands the node answers
//! itself, by family: connection and server commands ([`commands`]), [`info`], [`cluster`].
//! The node itself (building all this, owning its tasks, shutting down) sits above, in
//! `node.rs`; the connections in `connection.rs`.

pub mod allocator;
pub mod cluster;
pub mod commands;
pub mod functions;
pub mod info;
pub mod memory_doctor;
pub mod scripts;
pub mod transactions;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use crate::cluster::{LeaderBoard, Topology};
use crate::commands::args::Argv;
use crate::config::Config;
use crate::protocol::Frame;
use crate::raft::group::Replication;
use crate::raft::meta::Metadata;
use crate::raft::registry::GroupRegistry;
use crate::session::{ClientHandle, Session};
use crate::slot::ShardMap;
use crate::tasks::Stop;

/// Version reported by HELLO and INFO: the redis-server release whose behaviour Shardis follows.
pub const REDIS_VERSION: &str = "7.2.0";

/// Settings that CONFIG SET may change while the node runs.
pub struct RuntimeConfig {
    /// Most clients.
    pub maxclients: AtomicUsize,
    /// Idle timeout, seconds (0 = none).
    pub timeout: AtomicU64,
    /// Largest bulk string.
    pub proto_max_bulk_len: AtomicU64,
    /// Most unparsed request bytes a client may have the node hold.
    pub client_query_buffer_limit: AtomicU64,
    /// Reply bytes a client may leave unread (by class).
    pub output_limits: crate::limits::OutputLimits,
    /// `maxmemory` in bytes (0 = none).
    pub maxmemory: AtomicU64,
    /// `maxmemory-policy` ([`crate::limits::EvictionPolicy::to_u8`]).
    pub maxmemory_policy: std::sync::atomic::AtomicU8,
    /// `maxmemory-samples`.
    pub maxmemory_samples: AtomicU64,
    /// AUTH password (empty = none).
    pub requirepass: RwLock<String>,
}

/// Server-wide counters for INFO stats.
#[derive(Default)]
pub struct Stats {
    /// Connections accepted.
    pub connections_received: AtomicU64,
    /// Connections refused (maxclients).
    pub rejected_connections: AtomicU64,
    /// Commands executed.
    pub commands_processed: AtomicU64,
    /// Bytes read from clients.
    pub net_input_bytes: AtomicU64,
    /// Bytes written to clients.
    pub net_output_bytes: AtomicU64,
}

/// Runs a command the node answers itself. `None`: no reply at all (SHUTDOWN).
pub type Handler = fn(&Argv, &mut Session, &Arc<ServerState>) -> Option<Frame>;

/// Everything the connections of a node share.
pub struct ServerState {
    /// The configuration the node started with.
    pub config: Config,
    /// Settings changed at run time.
    pub runtime: RuntimeConfig,
    /// Slot to shard mapping.
    pub shard_map: ShardMap,
    /// The groups (actor and Raft group) this node hosts: a replica of some shards, and the
    /// metadata group. The connections keep a snapshot each, refreshed per batch.
    pub groups: Arc<GroupRegistry>,
    /// The cluster's members and shard placement.
    pub topology: Topology,
    /// The last known leader of every shard.
    pub leaders: Arc<LeaderBoard>,
    /// The metadata group.
    pub meta: Metadata,
    /// The WAL and the snapshot and rewrite counters (INFO persistence).
    pub persistence: crate::raft::persistence::Persistence,
    /// Connected clients by id.
    pub clients: Mutex<HashMap<u64, Arc<ClientHandle>>>,
    next_client_id: AtomicU64,
    /// Counters.
    pub stats: Stats,
    /// When the node started.
    pub started: Instant,
    /// Random 40-hex-digit id of this run.
    pub run_id: String,
    /// Address the client port is bound to.
    pub local_addr: SocketAddr,
    /// Given once, when the node starts shutting down: the accept loop and the connections stop.
    pub shutdown: Stop,
    /// True from start-up until every group has replayed what it had on disk and has a leader
    /// (see `node::watch_loading`): until then only commands flagged `loading` run, the others
    /// answer `-LOADING`, as on a redis loading its dataset.
    pub loading: std::sync::atomic::AtomicBool,
    /// The data and the clients' buffers as last measured: what `maxmemory` is compared with
    /// (see [`ServerState::refresh_used_memory`]).
    pub used_memory: AtomicU64,
    /// The bytes allocated and not counted against `maxmemory` at the last measure (INFO's
    /// `mem_not_counted_for_evict`; see [`ServerState::refresh_used_memory`]).
    pub not_counted_memory: AtomicU64,
    /// The most bytes allocated at any measure (INFO's `used_memory_peak`).
    pub peak_memory: AtomicU64,
    /// The data's bytes (every shard's entries and collections) at the last measure (INFO's
    /// `used_memory_dataset`).
    pub dataset_memory: AtomicU64,
    /// The node's own footprint, measured once when its state was built: what was allocated
    /// then besides the data (INFO's `used_memory_startup`). Most of it is openraft's, per
    /// group and fixed.
    pub startup_memory: u64,
    /// The budget the shard groups' proposers make room in, fed by every measure.
    pub headroom: Arc<crate::headroom::Headroom>,
    /// Set while the node is past `maxmemory` and its eviction policy finds nothing to evict
    /// (a volatile policy with no key with a deadline): writes are then refused as under
    /// `noeviction`, as redis refuses them when eviction fails.
    pub eviction_stuck: std::sync::atomic::AtomicBool,
    /// The script cache (EVALSHA, SCRIPT LOAD / EXISTS / FLUSH): bodies by SHA-1.
    pub scripts: Mutex<HashMap<String, bytes::Bytes>>,
    /// The function libraries, as last read from the metadata group (see `functions.rs`).
    pub functions: functions::FunctionCache,
}

/// What every shard's data takes (its entries and collections, counted exactly).
fn dataset_bytes(groups: &crate::raft::registry::GroupRegistry) -> u64 {
    groups
        .load()
        .all()
        .map(|(_, g)| g.shard.counters.keyspace_bytes.load(Ordering::Relaxed))
        .sum()
}

impl ServerState {
    /// The state of a node serving on `local_addr` with the groups of `replication`.
    pub fn new(
        config: Config,
        local_addr: SocketAddr,
        shard_map: ShardMap,
        topology: Topology,
        leaders: Arc<LeaderBoard>,
        replication: &Replication,
    ) -> ServerState {
        let run_id: String = {
            use rand::Rng;
            let mut rng = rand::rng();
            (0..40)
                .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
                .collect()
        };
        // The entries' access field follows the policy (keyspace/access.rs).
        let policy = crate::limits::EvictionPolicy::parse(&config.maxmemory_policy)
            .unwrap_or(crate::limits::EvictionPolicy::NoEviction);
        crate::keyspace::access::set_lfu(policy.lfu());
        crate::keyspace::access::set_log_factor(config.lfu_log_factor);
        crate::keyspace::access::set_decay_time(config.lfu_decay_time);
        ServerState {
            runtime: RuntimeConfig {
                maxclients: AtomicUsize::new(config.maxclients),
                timeout: AtomicU64::new(config.timeout),
                proto_max_bulk_len: AtomicU64::new(config.proto_max_bulk_len),
                client_query_buffer_limit: AtomicU64::new(config.client_query_buffer_limit),
                // Checked by `Config::validate`.
                output_limits: crate::limits::OutputLimits::new(&config.client_output_buffer_limit)
                    .unwrap_or_default(),
                maxmemory: AtomicU64::new(config.maxmemory),
                maxmemory_policy: std::sync::atomic::AtomicU8::new(policy.to_u8()),
                maxmemory_samples: AtomicU64::new(u64::from(config.maxmemory_samples)),
                requirepass: RwLock::new(config.requirepass.clone()),
            },
            config,
            leaders,
            meta: replication.meta.clone(),
            persistence: replication.persistence.clone(),
            shard_map,
            groups: replication.groups.clone(),
            topology,
            clients: Mutex::new(HashMap::new()),
            next_client_id: AtomicU64::new(1),
            stats: Stats::default(),
            started: Instant::now(),
            run_id,
            local_addr,
            shutdown: Stop::new(),
            loading: std::sync::atomic::AtomicBool::new(true),
            used_memory: AtomicU64::new(0),
            peak_memory: AtomicU64::new(0),
            dataset_memory: AtomicU64::new(0),
            // The node's own footprint: what is allocated besides any data loaded yet.
            startup_memory: info::memory_usage()
                .0
                .saturating_sub(dataset_bytes(&replication.groups)),
            headroom: replication.headroom.clone(),
            scripts: Mutex::new(HashMap::new()),
            functions: functions::FunctionCache::default(),
            not_counted_memory: AtomicU64::new(0),
            eviction_stuck: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Hands out the next client id.
    pub fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Number of connected clients.
    pub fn client_count(&self) -> usize {
        self.clients.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// The clients, sorted by id.
    pub fn client_list(&self) -> Vec<Arc<ClientHandle>> {
        let mut v: Vec<_> = match self.clients.lock() {
            Ok(c) => c.values().cloned().collect(),
            Err(_) => Vec::new(),
        };
        v.sort_by_key(|c| c.id);
        v
    }

    /// The AUTH password, if one is set.
    pub fn requirepass(&self) -> Option<String> {
        let pw = self
            .runtime
            .requirepass
            .read()
            .map(|p| p.clone())
            .unwrap_or_default();
        (!pw.is_empty()).then_some(pw)
    }

    /// Starts shutting the node down (SHUTDOWN, SIGTERM, SIGINT): the node, waiting on
    /// `shutdown`, takes it from there.
    pub fn begin_shutdown(&self) {
        self.shutdown.stop();
    }

    /// Measures what counts against `maxmemory` into [`ServerState::used_memory`], and the
    /// allocator's count for INFO. A task of the node calls it every 10 ms while `maxmemory`
    /// is set (every 100 ms otherwise), and CONFIG SET maxmemory at once: measuring per
    /// command would cost more than a SET.
    ///
    /// What counts is what evicting can bound: the data — every shard's entries and
    /// collections, counted exactly as they change, so an eviction shows at once — and the
    /// clients' buffers (their read buffers and the replies waiting to be sent), as redis
    /// counts them. The rest of what jemalloc holds is `mem_not_counted_for_evict`: the Raft
    /// logs' entries until the next snapshot, the WAL's buffer, openraft's queues and tables
    /// (about 60 MB at start with 16 shards), the write pipeline in flight, the allocator's
    /// slack. Redis leaves out its AOF and replication buffers for the same reason: counting
    /// memory that evicting cannot free made the node evict every key under a sustained
    /// cache-aside load (a 64 MB limit, ~100 MB of log entries between snapshots: the
    /// `cache_quality` benchmark kept 39 keys). The price: a node's process memory is
    /// `maxmemory` plus that rest (see docs/limits.md).
    pub fn refresh_used_memory(&self) -> u64 {
        let (allocated, _) = info::memory_usage();
        let data = dataset_bytes(&self.groups);
        let counted = data + self.client_buffer_bytes();
        self.not_counted_memory
            .store(allocated.saturating_sub(counted), Ordering::Relaxed);
        self.peak_memory.fetch_max(allocated, Ordering::Relaxed);
        self.dataset_memory.store(data, Ordering::Relaxed);
        self.used_memory.store(counted, Ordering::Relaxed);
        self.headroom.measured(
            counted,
            self.runtime.maxmemory.load(Ordering::Relaxed),
            self.eviction_policy(),
            self.runtime.maxmemory_samples.load(Ordering::Relaxed) as usize,
        );
        counted
    }

    /// What the clients' read buffers and replies waiting to be sent hold.
    pub fn client_buffer_bytes(&self) -> u64 {
        self.clients
            .lock()
            .map(|c| {
                c.values()
                    .map(|h| {
                        let (_, read_buffer, unsent) = h.buffers.sizes();
                        read_buffer + unsent
                    })
                    .sum()
            })
            .unwrap_or(0)
    }

    /// The bytes of Raft log entries every group holds in memory (about: their arguments and
    /// the structures around them), for INFO's `mem_raft_logs`.
    pub fn raft_log_bytes(&self) -> u64 {
        self.groups.load().all().map(|(_, g)| g.log_bytes()).sum()
    }

    /// True when `maxmemory` is set and the last measure is past it.
    pub fn over_maxmemory(&self) -> bool {
        let max = self.runtime.maxmemory.load(Ordering::Relaxed);
        max != 0 && self.used_memory.load(Ordering::Relaxed) > max
    }

    /// The `maxmemory-policy` in force.
    pub fn eviction_policy(&self) -> crate::limits::EvictionPolicy {
        crate::limits::EvictionPolicy::from_u8(
            self.runtime.maxmemory_policy.load(Ordering::Relaxed),
        )
    }

    /// True when a command that may grow memory is to be refused now: past `maxmemory` under
    /// `noeviction`, or under a policy that found nothing to evict.
    pub fn refuses_growth(&self) -> bool {
        self.over_maxmemory()
            && (self.eviction_policy() == crate::limits::EvictionPolicy::NoEviction
                || self.eviction_stuck.load(Ordering::Relaxed))
    }

    /// True while the node is still loading its dataset (see [`ServerState::loading`]).
    pub fn is_loading(&self) -> bool {
        self.loading.load(Ordering::Acquire)
    }

    /// True once shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_stopped()
    }
}

/// The node's runtime: `threads` worker threads, or one per CPU core when 0 (the `threads`
/// setting).
pub fn build_runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if threads > 0 {
        builder.worker_threads(threads);
    }
    builder.enable_all().build()
}

#[cfg(test)]
mod tests {
    use super::build_runtime;

    #[test]
    fn runtime_has_the_configured_worker_threads() {
        let rt = build_runtime(3).expect("runtime");
        assert_eq!(rt.metrics().num_workers(), 3);
        let default = build_runtime(0).expect("runtime");
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(default.metrics().num_workers(), cores);
    }
}
