//! Node configuration: embedded defaults, an optional TOML file (`--config`), then command-line
//! flags, each overriding the one before. Every key is documented in `config/node.toml`.

use std::fmt;
use std::io::{self, ErrorKind};
use std::path::PathBuf;
use std::str::FromStr;

use clap::Parser;
use serde::Deserialize;

/// The settings a node starts with. Keys in TOML use kebab-case, like redis.conf.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Address the client port listens on.
    pub bind: String,
    /// Client (RESP) port; 0 picks a free one.
    pub port: u16,
    /// Number of shards the 16384 slots are split into.
    pub shards: u16,
    /// Password clients must give with AUTH/HELLO; none when empty.
    pub requirepass: String,
    /// Most connected clients.
    pub maxclients: usize,
    /// Seconds of client inactivity before the connection is closed; 0 = never.
    pub timeout: u64,
    /// Largest bulk string a request may carry, and largest string a command may build.
    pub proto_max_bulk_len: u64,
    /// Unparsed request bytes a client may have the node hold before it is closed.
    pub client_query_buffer_limit: u64,
    /// Redis's `<class> <hard> <soft> <soft seconds>` groups (see [`crate::limits`]).
    pub client_output_buffer_limit: String,
    /// Bytes of memory past which writes that may grow memory are refused; 0 = no limit.
    pub maxmemory: u64,
    /// What happens at `maxmemory` (see [`crate::limits::EvictionPolicy`]).
    pub maxmemory_policy: String,
    /// Keys sampled per key evicted by the LRU and LFU policies.
    pub maxmemory_samples: u32,
    /// How slowly the LFU policies' access counts grow (redis's `lfu-log-factor`).
    pub lfu_log_factor: u32,
    /// Minutes for an LFU access count to lose one (redis's `lfu-decay-time`; 0 = never).
    pub lfu_decay_time: u32,
    /// Messages a shard's channel holds before senders wait.
    pub shard_queue: usize,
    /// Active expiry frequency (times per second a shard looks for due keys when idle).
    pub hz: u32,
    /// Log level: error, warn, info, debug or trace (or a `tracing` filter directive).
    pub log_level: String,
    /// Worker threads of the runtime; 0 = one per CPU core.
    pub threads: usize,
    /// Directory of the node's durable state: Raft log (WAL) and snapshots.
    pub data_dir: PathBuf,
    /// When the WAL is fsynced: "always", "everysec" or "no" (like redis's appendfsync).
    pub appendfsync: String,
    /// Longest a client waits for its write to commit, in milliseconds.
    pub commit_timeout_ms: u64,
    /// This node's id in the cluster; never reused.
    pub node_id: u64,
    /// A shard group snapshots its keyspace (and drops the log it covers) after this many entries.
    pub snapshot_logs: u64,
    /// Id of the cluster; nodes refuse Raft traffic from another cluster.
    pub cluster_id: u64,
    /// Voting replicas per shard (at most the number of nodes).
    pub replicas: usize,
    /// The cluster's initial members; empty: a cluster of this node alone.
    pub nodes: Vec<NodeConfig>,
}

/// One member of the cluster as the config lists it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NodeConfig {
    /// The node's id (unique, never reused).
    pub id: u64,
    /// Where clients reach it (RESP), as `host:port`; what MOVED replies name.
    pub client_addr: String,
    /// Where peers reach its Raft transport (gRPC), as `host:port`.
    pub raft_addr: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            bind: "127.0.0.1".into(),
            port: 6379,
            shards: 16,
            requirepass: String::new(),
            maxclients: 10000,
            timeout: 0,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1 << 30,
            client_output_buffer_limit: crate::limits::DEFAULT.into(),
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
            maxmemory_samples: 5,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            shard_queue: 1024,
            hz: 10,
            log_level: "info".into(),
            threads: 0,
            data_dir: PathBuf::from("shardis-data"),
            appendfsync: "everysec".into(),
            commit_timeout_ms: 2000,
            node_id: 1,
            snapshot_logs: 100_000,
            cluster_id: 1,
            replicas: 3,
            nodes: Vec::new(),
        }
    }
}

/// Command-line flags; each one given overrides the config file.
#[derive(Debug, Parser)]
#[command(
    name = "shardis",
    version,
    about = "Redis-compatible, replicated, sharded cache node"
)]
pub struct Cli {
    /// TOML config file (see config/node.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long)]
    pub bind: Option<String>,
    /// Client port (0 = any free port).
    #[arg(long)]
    pub port: Option<u16>,
    /// Number of shards.
    #[arg(long)]
    pub shards: Option<u16>,
    /// Password for AUTH.
    #[arg(long)]
    pub requirepass: Option<String>,
    /// Most connected clients.
    #[arg(long)]
    pub maxclients: Option<usize>,
    /// Idle client timeout in seconds (0 = none).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Largest bulk string in bytes.
    #[arg(long)]
    pub proto_max_bulk_len: Option<u64>,
    /// Most unparsed request bytes of one client (bytes).
    #[arg(long)]
    pub client_query_buffer_limit: Option<u64>,
    /// Output buffer limits, e.g. "normal 64mb 16mb 60".
    #[arg(long)]
    pub client_output_buffer_limit: Option<String>,
    /// Memory limit (bytes, or with kb/mb/gb), 0 = none.
    #[arg(long, value_parser = parse_memory_flag)]
    pub maxmemory: Option<u64>,
    /// What happens at maxmemory (noeviction, allkeys-lru, ...).
    #[arg(long)]
    pub maxmemory_policy: Option<String>,
    /// How slowly LFU access counts grow (redis's lfu-log-factor).
    #[arg(long)]
    pub lfu_log_factor: Option<u32>,
    /// Minutes for an LFU access count to lose one; 0 = never.
    #[arg(long)]
    pub lfu_decay_time: Option<u32>,
    /// Log level (error, warn, info, debug, trace).
    #[arg(long)]
    pub log_level: Option<String>,
    /// Runtime worker threads (0 = one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Directory of the Raft log and snapshots.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// WAL fsync policy: always, everysec or no.
    #[arg(long)]
    pub appendfsync: Option<String>,
    /// Entries after which a shard group snapshots.
    #[arg(long)]
    pub snapshot_logs: Option<u64>,
    /// This node's id in the cluster.
    #[arg(long)]
    pub node_id: Option<u64>,
}

/// `--maxmemory`: bytes, or a memory value with redis's units.
fn parse_memory_flag(v: &str) -> Result<u64, String> {
    crate::limits::parse_memory(v.as_bytes())
}

impl Config {
    /// Parses a TOML document.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Builds the config from defaults, the `--config` file and the flags.
    pub fn load(cli: &Cli) -> Result<Config, String> {
        let mut cfg = match &cli.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                Config::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => Config::default(),
        };
        if let Some(v) = &cli.bind {
            cfg.bind = v.clone();
        }
        if let Some(v) = cli.port {
            cfg.port = v;
        }
        if let Some(v) = cli.shards {
            cfg.shards = v;
        }
        if let Some(v) = &cli.requirepass {
            cfg.requirepass = v.clone();
        }
        if let Some(v) = cli.maxclients {
            cfg.maxclients = v;
        }
        if let Some(v) = cli.timeout {
            cfg.timeout = v;
        }
        if let Some(v) = cli.proto_max_bulk_len {
            cfg.proto_max_bulk_len = v;
        }
        if let Some(v) = cli.client_query_buffer_limit {
            cfg.client_query_buffer_limit = v;
        }
        if let Some(v) = &cli.client_output_buffer_limit {
            cfg.client_output_buffer_limit = v.clone();
        }
        if let Some(v) = cli.maxmemory {
            cfg.maxmemory = v;
        }
        if let Some(v) = &cli.maxmemory_policy {
            cfg.maxmemory_policy = v.clone();
        }
        if let Some(v) = cli.lfu_log_factor {
            cfg.lfu_log_factor = v;
        }
        if let Some(v) = cli.lfu_decay_time {
            cfg.lfu_decay_time = v;
        }
        if let Some(v) = &cli.log_level {
            cfg.log_level = v.clone();
        }
        if let Some(v) = cli.threads {
            cfg.threads = v;
        }
        if let Some(v) = &cli.data_dir {
            cfg.data_dir = v.clone();
        }
        if let Some(v) = &cli.appendfsync {
            cfg.appendfsync = v.clone();
        }
        if let Some(v) = cli.snapshot_logs {
            cfg.snapshot_logs = v;
        }
        if let Some(v) = cli.node_id {
            cfg.node_id = v;
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Rejects values the node cannot run with.
    pub fn validate(&self) -> Result<(), String> {
        if self.shards == 0 || self.shards > crate::slot::SLOT_COUNT {
            return Err(format!("shards must be 1..=16384, not {}", self.shards));
        }
        if self.appendfsync.parse::<SyncPolicy>().is_err() {
            return Err(format!(
                "appendfsync must be always, everysec or no, not {:?}",
                self.appendfsync
            ));
        }
        if self.snapshot_logs == 0 {
            return Err("snapshot-logs must be at least 1".into());
        }
        if self.node_id == 0 {
            return Err("node-id must be at least 1".into());
        }
        if !self.nodes.is_empty() {
            let mut ids: Vec<u64> = self.nodes.iter().map(|n| n.id).collect();
            ids.sort_unstable();
            ids.dedup();
            if ids.len() != self.nodes.len() {
                return Err("node ids in [[nodes]] must be unique".into());
            }
            if !ids.contains(&self.node_id) {
                return Err(format!(
                    "node-id {} is not listed in [[nodes]]",
                    self.node_id
                ));
            }
            if self.replicas == 0 || self.replicas > self.nodes.len() {
                return Err(format!(
                    "replicas must be 1..={} (the number of nodes), not {}",
                    self.nodes.len(),
                    self.replicas
                ));
            }
        }
        if self.maxclients == 0 {
            return Err("maxclients must be at least 1".into());
        }
        if self.proto_max_bulk_len < 1024 * 1024 || self.proto_max_bulk_len > u64::from(u32::MAX) {
            return Err("proto-max-bulk-len must be between 1mb and 4gb - 1".into());
        }
        if self.client_query_buffer_limit < 1024 * 1024
            || self.client_query_buffer_limit > i64::MAX as u64
        {
            return Err("client-query-buffer-limit must be at least 1mb".into());
        }
        crate::limits::OutputLimits::new(&self.client_output_buffer_limit)
            .map_err(|e| format!("client-output-buffer-limit: {e}"))?;
        crate::limits::EvictionPolicy::parse(&self.maxmemory_policy)
            .map_err(|e| format!("maxmemory-policy: {e}"))?;
        if self.lfu_log_factor > i32::MAX as u32 || self.lfu_decay_time > i32::MAX as u32 {
            return Err("lfu-log-factor and lfu-decay-time must be 0..=2147483647".into());
        }
        if !(1..=64).contains(&self.maxmemory_samples) {
            return Err("maxmemory-samples must be 1..=64".into());
        }
        Ok(())
    }
}

/// When appended records are made durable, like redis's appendfsync.
///
/// Whatever the policy, a `done` callback is only called after `write(2)` returned, so the records
/// survive a crash of the process; the policy decides whether they also survive a crash of the
/// machine (power loss, kernel panic) at the moment `done` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPolicy {
    /// fsync every batch before its callbacks run: nothing acknowledged is ever lost.
    Always,
    /// fsync in the background at least once a second while there are unsynced writes: a machine
    /// crash loses at most about a second of acknowledged records.
    EverySec,
    /// Never fsync on its own (the OS flushes when it likes), except for `durable` appends, at
    /// segment rotation, rewrite and close.
    No,
}

impl FromStr for SyncPolicy {
    type Err = io::Error;

    /// Parses `always`, `everysec` or `no` (ASCII case-insensitive, as redis does).
    fn from_str(s: &str) -> io::Result<SyncPolicy> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Ok(SyncPolicy::Always),
            "everysec" => Ok(SyncPolicy::EverySec),
            "no" => Ok(SyncPolicy::No),
            _ => Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!("invalid WAL sync policy {s:?}: expected always, everysec or no"),
            )),
        }
    }
}

impl fmt::Display for SyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SyncPolicy::Always => "always",
            SyncPolicy::EverySec => "everysec",
            SyncPolicy::No => "no",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_and_matches_defaults() {
        let text = include_str!("../../config/node.toml");
        let cfg = Config::from_toml(text).expect("config/node.toml parses");
        assert_eq!(cfg, Config::default());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(Config::from_toml("prot = 1").is_err());
        let cfg = Config::from_toml("port = 7000\nshards = 4").expect("parses");
        assert_eq!((cfg.port, cfg.shards), (7000, 4));
    }

    #[test]
    fn flags_override_file() {
        let cli = Cli::parse_from(["shardis", "--port", "0", "--shards", "3"]);
        let cfg = Config::load(&cli).expect("valid");
        assert_eq!(
            (cfg.port, cfg.shards, cfg.bind.as_str()),
            (0, 3, "127.0.0.1")
        );
    }
}
