//! INFO: the server's state in redis's `# Section` / `field:value` text form.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use super::{Handler, ServerState};
use crate::commands::registry::{Command, Routing};
use crate::protocol::Frame;
use crate::session::Session;
use crate::shard::ShardStats;

/// INFO, declared once: every shard this node leads answers its counters, then the node
/// renders the sections ([`render`]).
pub static COMMANDS: &[Command<Handler>] = &[Command {
    name: "info",
    routing: Routing::Info,
}];

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "cluster",
    "keyspace",
];

/// Sums of the led shards' counters.
fn totals(parts: &[ShardStats]) -> ShardStats {
    parts.iter().fold(ShardStats::default(), |t, p| ShardStats {
        keys: t.keys + p.keys,
        expires: t.expires + p.expires,
        expired_keys: t.expired_keys + p.expired_keys,
        evicted_keys: t.evicted_keys + p.evicted_keys,
        hits: t.hits + p.hits,
        misses: t.misses + p.misses,
    })
}

/// Bytes allocated by the node (jemalloc's count), and its resident set size.
pub fn memory_usage() -> (u64, u64) {
    let _ = tikv_jemalloc_ctl::epoch::advance();
    let allocated = tikv_jemalloc_ctl::stats::allocated::read().unwrap_or(0) as u64;
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096);
    (allocated, rss)
}

/// jemalloc's page-level counts (read after [`memory_usage`] advanced its epoch).
struct AllocatorStats {
    active: u64,
    resident: u64,
    metadata: u64,
}

fn allocator_stats() -> AllocatorStats {
    use tikv_jemalloc_ctl::stats;
    AllocatorStats {
        active: stats::active::read().unwrap_or(0) as u64,
        resident: stats::resident::read().unwrap_or(0) as u64,
        metadata: stats::metadata::read().unwrap_or(0) as u64,
    }
}

/// MEMORY STATS: redis's fields in redis's order, with Shardis's figures. The Raft logs held in
/// memory stand where redis's replication backlog does (they are what a lagging replica is
/// sent), the WAL's buffer where its AOF buffer does; Shardis keeps no scripts yet (the caches
/// are 0) and no slot-to-keys table (each slot is a map of its own). Keys are the shards this
/// node leads, as DBSIZE counts them, as of each shard's last round of messages; a key's
/// overhead in the main table is its 32-byte entry and its map slot, in the deadline index
/// about 40 bytes.
pub fn memory_stats(state: &ServerState) -> Frame {
    state.refresh_used_memory();
    let (allocated, rss) = memory_usage();
    let stats = allocator_stats();
    let peak = state.peak_memory.load(Ordering::Relaxed).max(allocated);
    let startup = state.startup_memory;
    let (keys, expires) = state
        .groups
        .load()
        .shards()
        .filter(|(_, g)| g.is_leader())
        .fold((0, 0), |(k, e), (_, g)| {
            let c = &g.shard.counters;
            (
                k + c.keys.load(Ordering::Relaxed),
                e + c.expires.load(Ordering::Relaxed),
            )
        });
    let backlog = state.raft_log_bytes();
    let clients = state.client_buffer_bytes();
    let aof = state.persistence.wal.buffer_bytes();
    let main_table = keys * (std::mem::size_of::<crate::keyspace::Entry>() as u64 + 16);
    let expires_table = expires * 40;
    let overhead = startup + backlog + clients + aof + main_table + expires_table;
    let dataset = state.dataset_memory.load(Ordering::Relaxed);
    let net = allocated.saturating_sub(startup);
    let int = |n: u64| Frame::Integer(i64::try_from(n).unwrap_or(i64::MAX));
    let ratio = |a: u64, b: u64| Frame::Double(a as f64 / b.max(1) as f64);
    let diff = |a: u64, b: u64| Frame::Integer(a as i64 - b as i64);
    let fields = vec![
        ("peak.allocated", int(peak)),
        ("total.allocated", int(allocated)),
        ("startup.allocated", int(startup)),
        ("replication.backlog", int(backlog)),
        ("clients.slaves", int(0)),
        ("clients.normal", int(clients)),
        ("cluster.links", int(0)),
        ("aof.buffer", int(aof)),
        ("lua.caches", int(0)),
        ("functions.caches", int(0)),
        (
            "db.0",
            Frame::Map(vec![
                (
                    Frame::bulk_from(b"overhead.hashtable.main"),
                    int(main_table),
                ),
                (
                    Frame::bulk_from(b"overhead.hashtable.expires"),
                    int(expires_table),
                ),
                (Frame::bulk_from(b"overhead.hashtable.slot-to-keys"), int(0)),
            ]),
        ),
        ("overhead.total", int(overhead)),
        ("keys.count", int(keys)),
        ("keys.bytes-per-key", int(net / keys.max(1))),
        ("dataset.bytes", int(dataset)),
        (
            "dataset.percentage",
            Frame::Double(dataset as f64 * 100.0 / net.max(1) as f64),
        ),
        (
            "peak.percentage",
            Frame::Double(allocated as f64 * 100.0 / peak.max(1) as f64),
        ),
        ("allocator.allocated", int(allocated)),
        ("allocator.active", int(stats.active)),
        ("allocator.resident", int(stats.resident)),
        (
            "allocator-fragmentation.ratio",
            ratio(stats.active, allocated),
        ),
        (
            "allocator-fragmentation.bytes",
            diff(stats.active, allocated),
        ),
        ("allocator-rss.ratio", ratio(stats.resident, stats.active)),
        ("allocator-rss.bytes", diff(stats.resident, stats.active)),
        ("rss-overhead.ratio", ratio(rss, stats.resident)),
        ("rss-overhead.bytes", diff(rss, stats.resident)),
        ("fragmentation", ratio(rss, allocated)),
        ("fragmentation.bytes", diff(rss, allocated)),
    ];
    Frame::Map(
        fields
            .into_iter()
            .map(|(name, value)| (Frame::bulk_from(name.as_bytes()), value))
            .collect(),
    )
}

/// MEMORY DOCTOR's report on the node's figures now (see [`super::memory_doctor`]).
pub fn memory_doctor(state: &ServerState) -> Frame {
    let counted = state.refresh_used_memory();
    let (allocated, rss) = memory_usage();
    let stats = allocator_stats();
    let figures = super::memory_doctor::Figures {
        counted,
        allocated,
        peak: state.peak_memory.load(Ordering::Relaxed).max(allocated),
        active: stats.active,
        resident: stats.resident,
        rss,
        client_buffers: state.client_buffer_bytes(),
        clients: state.client_count() as u64,
    };
    Frame::Verbatim(Bytes::from(super::memory_doctor::report(&figures)))
}

/// `a` as a percentage of `b` with two decimals and a `%`, as redis prints them.
fn percent(a: u64, b: u64) -> String {
    format!("{:.2}%", a as f64 * 100.0 / b.max(1) as f64)
}

/// `a / b` with two decimals, as redis prints its ratios.
fn ratio(a: u64, b: u64) -> String {
    format!("{:.2}", a as f64 / b.max(1) as f64)
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else {
        format!("{bytes}B")
    }
}

/// CPU seconds (system, user) of this process, from /proc/self/stat.
fn cpu_times() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 100.0
    };
    // After the command name: state is field 0, utime field 11, stime field 12.
    (ticks(12), ticks(11))
}

/// One line per shard group: `shardN:role=…,leader=…,term=…,commit=…,applied=…,last_log=…,
/// snapshot=…,voters=…,lag=…` (lag: per follower, entries behind this leader's last log), after
/// the node's Raft RPCs sent to peers and the batches (gRPC calls) that carried them.
fn replication(state: &ServerState, out: &mut String) {
    let epoch = state.meta.current().map_or(0, |m| m.epoch);
    let _ = write!(out, "meta_epoch:{epoch}\r\n");
    group_line(out, "meta", state.meta.group());
    let groups = state.groups.load();
    let _ = write!(out, "shard_groups:{}\r\n", state.shard_map.shards());
    let (rpcs, batches) = groups.shards().next().map_or((0, 0), |(_, g)| {
        (g.peers().rpcs_sent(), g.peers().batches_sent())
    });
    let _ = write!(
        out,
        "raft_rpcs_sent:{rpcs}\r\nraft_rpc_batches_sent:{batches}\r\n"
    );
    for i in 0..state.shard_map.shards() {
        match groups.shard(i) {
            Some(group) => group_line(out, &format!("shard{i}"), group),
            None => {
                let _ = write!(out, "shard{i}:role=none\r\n");
            }
        }
    }
}

/// One group's line of INFO replication: role, leader, term, indexes, voters, follower lag.
fn group_line(out: &mut String, name: &str, group: &crate::raft::shard_group::ShardGroup) {
    let st = group.status();
    let voters: Vec<String> = st.voters.iter().map(|v| v.to_string()).collect();
    let lag: Vec<String> = st
        .matched
        .iter()
        .map(|(id, matched)| format!("{id}:{}", st.last_log.saturating_sub(*matched)))
        .collect();
    let _ = write!(
        out,
        "{name}:role={},leader={},term={},commit={},applied={},last_log={},snapshot={},voters={},lag={},expired_at={}\r\n",
        st.role.name(),
        st.leader.map_or("none".to_string(), |l| l.to_string()),
        st.term,
        st.committed,
        st.applied,
        st.last_log,
        st.snapshot,
        voters.join("/"),
        if lag.is_empty() { "-".to_string() } else { lag.join("/") },
        group
            .shard
            .counters
            .last_expiry_index
            .load(std::sync::atomic::Ordering::Relaxed),
    );
}

/// Renders INFO for `sections` (empty = default) from the server state and shard counters.
pub fn render(
    state: &Arc<ServerState>,
    _session: &Session,
    sections: &[String],
    parts: &[ShardStats],
) -> Frame {
    let all = sections.iter().any(|s| s == "all" || s == "everything");
    let wanted: Vec<&str> = if sections.is_empty() || sections.iter().any(|s| s == "default") || all
    {
        DEFAULT_SECTIONS.to_vec()
    } else {
        sections.iter().map(|s| s.as_str()).collect()
    };
    let t = totals(parts);
    let stats = &state.stats;
    let mut out = String::new();
    for section in DEFAULT_SECTIONS.iter().filter(|s| wanted.contains(s)) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let mut line = |k: &str, v: &dyn std::fmt::Display| {
            let _ = write!(out, "{k}:{v}\r\n");
        };
        match *section {
            "server" => {
                let up = state.started.elapsed().as_secs();
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                line("# Server", &"");
                out.truncate(out.len() - 3);
                out.push_str("\r\n");
                let mut line = |k: &str, v: &dyn std::fmt::Display| {
                    let _ = write!(out, "{k}:{v}\r\n");
                };
                line("redis_version", &super::REDIS_VERSION);
                line("redis_mode", &"cluster");
                line("shardis_version", &env!("CARGO_PKG_VERSION"));
                line("os", &std::env::consts::OS);
                line("arch_bits", &64);
                line("multiplexing_api", &"epoll");
                line("process_id", &std::process::id());
                line("run_id", &state.run_id);
                line("tcp_port", &state.local_addr.port());
                line("server_time_usec", &now.as_micros());
                line("uptime_in_seconds", &up);
                line("uptime_in_days", &(up / 86400));
                line("hz", &state.config.hz);
                line("shards", &state.shard_map.shards());
                line(
                    "executable",
                    &std::env::current_exe()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                );
            }
            "clients" => {
                out.push_str("# Clients\r\n");
                let mut line = |k: &str, v: &dyn std::fmt::Display| {
                    let _ = write!(out, "{k}:{v}\r\n");
                };
                line("connected_clients", &state.client_count());
                line(
                    "maxclients",
                    &state.runtime.maxclients.load(Ordering::Relaxed),
                );
                // The largest buffers of the clients connected now (redis: over the last few
                // seconds).
                let (max_in, max_out) = state
                    .client_list()
                    .iter()
                    .map(|c| c.buffers.sizes())
                    .fold((0, 0), |(i, o), (q, _, u)| (i.max(q), o.max(u)));
                line("client_recent_max_input_buffer", &max_in);
                line("client_recent_max_output_buffer", &max_out);
                let blocked = state
                    .client_list()
                    .iter()
                    .filter(|c| c.blocked.load(Ordering::Relaxed))
                    .count();
                line("blocked_clients", &blocked);
            }
            "memory" => {
                let (used, rss) = memory_usage();
                out.push_str("# Memory\r\n");
                let mut line = |k: &str, v: &dyn std::fmt::Display| {
                    let _ = write!(out, "{k}:{v}\r\n");
                };
                line("used_memory", &used);
                line("used_memory_human", &human(used));
                line("used_memory_rss", &rss);
                line("used_memory_rss_human", &human(rss));
                // As redis: the peak of the measures (every 100 ms and at each INFO), the data
                // alone (here counted exactly: every shard's entries and collections), and
                // what the node held before any client came.
                state.refresh_used_memory();
                let peak = state.peak_memory.load(Ordering::Relaxed).max(used);
                let dataset = state.dataset_memory.load(Ordering::Relaxed);
                let startup = state.startup_memory;
                line("used_memory_peak", &peak);
                line("used_memory_peak_human", &human(peak));
                line("used_memory_peak_perc", &percent(used, peak));
                line("used_memory_startup", &startup);
                line("used_memory_dataset", &dataset);
                line(
                    "used_memory_dataset_perc",
                    &percent(dataset, used.saturating_sub(startup)),
                );
                // The allocator's own view, as redis shows it: what it holds in pages in use
                // (active), in memory (resident), and for its own bookkeeping.
                let stats = allocator_stats();
                line("allocator_allocated", &used);
                line("allocator_active", &stats.active);
                line("allocator_resident", &stats.resident);
                line("allocator_metadata", &stats.metadata);
                line("allocator_frag_ratio", &ratio(stats.active, used));
                line("allocator_rss_ratio", &ratio(stats.resident, stats.active));
                line("mem_fragmentation_ratio", &ratio(rss, used));
                let max = state.runtime.maxmemory.load(Ordering::Relaxed);
                line(
                    "mem_not_counted_for_evict",
                    &state.not_counted_memory.load(Ordering::Relaxed),
                );
                // Where much of what is not counted goes: the Raft logs' entries held until the
                // next snapshot, and the WAL's batch buffer (redis's AOF buffer field).
                line("mem_raft_logs", &state.raft_log_bytes());
                line("mem_aof_buffer", &state.persistence.wal.buffer_bytes());
                line("maxmemory", &max);
                line("maxmemory_human", &human(max));
                line("maxmemory_policy", &state.eviction_policy().name());
                line("mem_allocator", &"jemalloc");
            }
            "persistence" => {
                out.push_str("# Persistence\r\n");
                state.persistence.write_info(state.is_loading(), &mut out);
            }
            "stats" => {
                out.push_str("# Stats\r\n");
                let mut line = |k: &str, v: &dyn std::fmt::Display| {
                    let _ = write!(out, "{k}:{v}\r\n");
                };
                let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
                line(
                    "total_connections_received",
                    &get(&stats.connections_received),
                );
                line("total_commands_processed", &get(&stats.commands_processed));
                line("total_net_input_bytes", &get(&stats.net_input_bytes));
                line("total_net_output_bytes", &get(&stats.net_output_bytes));
                line("rejected_connections", &get(&stats.rejected_connections));
                line("expired_keys", &t.expired_keys);
                line("evicted_keys", &t.evicted_keys);
                line("keyspace_hits", &t.hits);
                line("keyspace_misses", &t.misses);
            }
            "replication" => {
                out.push_str("# Replication\r\nrole:master\r\nconnected_slaves:0\r\n");
                replication(state, &mut out);
            }
            "cpu" => {
                let (sys, user) = cpu_times();
                let _ = write!(
                    out,
                    "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\n"
                );
            }
            "cluster" => out.push_str("# Cluster\r\ncluster_enabled:1\r\n"),
            "keyspace" => {
                out.push_str("# Keyspace\r\n");
                if t.keys > 0 {
                    let _ = write!(
                        out,
                        "db0:keys={},expires={},avg_ttl=0\r\n",
                        t.keys, t.expires
                    );
                }
            }
            _ => {}
        }
    }
    Frame::Verbatim(Bytes::from(out))
}
