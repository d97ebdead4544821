//! What `INFO persistence` reports about a node's durable state, in redis's terms: the WAL is
//! the node's AOF (`aof_*`: its size, its rewrites) and the shard groups' snapshots are its RDB
//! saves (`rdb_*`). Updated lock-free by the snapshot builders and the WAL compactor.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::wal::Wal;

/// Counters of snapshots and WAL rewrites (shared by every group of a node).
#[derive(Debug)]
pub struct PersistenceStats {
    snapshots_running: AtomicU64,
    snapshots: AtomicU64,
    last_snapshot_ok: AtomicBool,
    /// Unix seconds of the last snapshot made durable (0: none since start).
    last_snapshot_unix: AtomicU64,
    /// Seconds the last snapshot took, -1 before the first.
    last_snapshot_secs: AtomicI64,
    rewrite_running: AtomicBool,
    rewrites: AtomicU64,
    rewrite_failures_in_a_row: AtomicU64,
    last_rewrite_ok: AtomicBool,
    /// Seconds the last rewrite took, -1 before the first.
    last_rewrite_secs: AtomicI64,
    /// WAL bytes right after the last rewrite (or at start-up).
    base_size: AtomicU64,
}

impl Default for PersistenceStats {
    fn default() -> Self {
        PersistenceStats {
            snapshots_running: AtomicU64::new(0),
            snapshots: AtomicU64::new(0),
            last_snapshot_ok: AtomicBool::new(true),
            last_snapshot_unix: AtomicU64::new(0),
            last_snapshot_secs: AtomicI64::new(-1),
            rewrite_running: AtomicBool::new(false),
            rewrites: AtomicU64::new(0),
            rewrite_failures_in_a_row: AtomicU64::new(0),
            last_rewrite_ok: AtomicBool::new(true),
            last_rewrite_secs: AtomicI64::new(-1),
            base_size: AtomicU64::new(0),
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn ok_or_err(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "err"
    }
}

impl PersistenceStats {
    /// A snapshot starts; call [`PersistenceStats::snapshot_done`] when it ends.
    pub fn snapshot_started(&self) -> Instant {
        self.snapshots_running.fetch_add(1, Ordering::Relaxed);
        Instant::now()
    }

    /// A snapshot begun at `started` ended (`ok`: made durable).
    pub fn snapshot_done(&self, started: Instant, ok: bool) {
        self.snapshots_running.fetch_sub(1, Ordering::Relaxed);
        self.last_snapshot_ok.store(ok, Ordering::Relaxed);
        self.last_snapshot_secs
            .store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
        if ok {
            self.snapshots.fetch_add(1, Ordering::Relaxed);
            self.last_snapshot_unix.store(unix_now(), Ordering::Relaxed);
        }
    }

    /// A WAL rewrite starts.
    pub fn rewrite_started(&self) {
        self.rewrite_running.store(true, Ordering::Relaxed);
    }

    /// The WAL rewrite ended after `took`; on success the WAL is `base_size` bytes.
    pub fn rewrite_done(&self, took: Duration, result: Result<u64, ()>) {
        self.rewrite_running.store(false, Ordering::Relaxed);
        self.last_rewrite_secs
            .store(took.as_secs() as i64, Ordering::Relaxed);
        self.last_rewrite_ok
            .store(result.is_ok(), Ordering::Relaxed);
        match result {
            Ok(size) => {
                self.rewrites.fetch_add(1, Ordering::Relaxed);
                self.rewrite_failures_in_a_row.store(0, Ordering::Relaxed);
                self.base_size.store(size, Ordering::Relaxed);
            }
            Err(()) => {
                self.rewrite_failures_in_a_row
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The WAL's size at start-up, before any rewrite.
    pub fn set_base_size(&self, size: u64) {
        self.base_size.store(size, Ordering::Relaxed);
    }
}

/// A node's WAL and its persistence counters, for `INFO persistence`.
#[derive(Clone)]
pub struct Persistence {
    /// The counters.
    pub stats: std::sync::Arc<PersistenceStats>,
    /// The WAL (for its size and health).
    pub wal: Wal,
}

impl Persistence {
    /// Appends the fields of `INFO persistence` (after its header) to `out`.
    pub fn write_info(&self, out: &mut String) {
        let s = &self.stats;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let lines: [(&str, String); 15] = [
            ("loading", "0".into()),
            (
                "rdb_bgsave_in_progress",
                u8::from(get(&s.snapshots_running) > 0).to_string(),
            ),
            ("rdb_last_save_time", get(&s.last_snapshot_unix).to_string()),
            (
                "rdb_last_bgsave_status",
                ok_or_err(s.last_snapshot_ok.load(Ordering::Relaxed)).into(),
            ),
            (
                "rdb_last_bgsave_time_sec",
                s.last_snapshot_secs.load(Ordering::Relaxed).to_string(),
            ),
            ("rdb_saves", get(&s.snapshots).to_string()),
            ("aof_enabled", "1".into()),
            (
                "aof_rewrite_in_progress",
                u8::from(s.rewrite_running.load(Ordering::Relaxed)).to_string(),
            ),
            (
                "aof_last_rewrite_time_sec",
                s.last_rewrite_secs.load(Ordering::Relaxed).to_string(),
            ),
            (
                "aof_last_bgrewrite_status",
                ok_or_err(s.last_rewrite_ok.load(Ordering::Relaxed)).into(),
            ),
            ("aof_rewrites", get(&s.rewrites).to_string()),
            (
                "aof_rewrites_consecutive_failures",
                get(&s.rewrite_failures_in_a_row).to_string(),
            ),
            (
                "aof_last_write_status",
                ok_or_err(!self.wal.is_broken()).into(),
            ),
            ("aof_current_size", self.wal.size().to_string()),
            ("aof_base_size", get(&s.base_size).to_string()),
        ];
        for (k, v) in lines {
            let _ = write!(out, "{k}:{v}\r\n");
        }
    }
}
