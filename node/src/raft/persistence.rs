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
    /// A snapshot starts; it counts as running until the returned guard is told how it ended
    /// or dropped (a snapshot abandoned half-way counts as failed).
    pub fn snapshot_started(&self) -> RunningSnapshot<'_> {
        self.snapshots_running.fetch_add(1, Ordering::Relaxed);
        RunningSnapshot {
            stats: self,
            started: Instant::now(),
            ended: false,
        }
    }

    /// An attempt to write a snapshot file failed (it is retried): INFO shows the last save as
    /// failed meanwhile.
    pub fn snapshot_write_failed(&self) {
        self.last_snapshot_ok.store(false, Ordering::Relaxed);
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

/// A snapshot being taken (see [`PersistenceStats::snapshot_started`]).
pub struct RunningSnapshot<'a> {
    stats: &'a PersistenceStats,
    started: Instant,
    ended: bool,
}

impl RunningSnapshot<'_> {
    /// When the snapshot started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The snapshot ended (`ok`: made durable).
    pub fn done(mut self, ok: bool) {
        self.end(ok);
    }

    fn end(&mut self, ok: bool) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        let s = self.stats;
        s.snapshots_running.fetch_sub(1, Ordering::Relaxed);
        s.last_snapshot_ok.store(ok, Ordering::Relaxed);
        s.last_snapshot_secs
            .store(self.started.elapsed().as_secs() as i64, Ordering::Relaxed);
        if ok {
            s.snapshots.fetch_add(1, Ordering::Relaxed);
            s.last_snapshot_unix.store(unix_now(), Ordering::Relaxed);
        }
    }
}

impl Drop for RunningSnapshot<'_> {
    fn drop(&mut self) {
        self.end(false);
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
    pub fn write_info(&self, loading: bool, out: &mut String) {
        let s = &self.stats;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let lines: [(&str, String); 15] = [
            ("loading", u8::from(loading).to_string()),
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
                ok_or_err(!self.wal.is_broken() && self.wal.write_stalled().is_none()).into(),
            ),
            ("aof_current_size", self.wal.size().to_string()),
            ("aof_base_size", get(&s.base_size).to_string()),
        ];
        for (k, v) in lines {
            let _ = write!(out, "{k}:{v}\r\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_counts_while_it_runs_and_an_abandoned_one_as_failed() {
        let stats = PersistenceStats::default();
        let running = stats.snapshot_started();
        assert_eq!(stats.snapshots_running.load(Ordering::Relaxed), 1);
        running.done(true);
        assert_eq!(stats.snapshots_running.load(Ordering::Relaxed), 0);
        assert_eq!(stats.snapshots.load(Ordering::Relaxed), 1);
        assert!(stats.last_snapshot_ok.load(Ordering::Relaxed));
        assert!(stats.last_snapshot_unix.load(Ordering::Relaxed) > 0);

        drop(stats.snapshot_started());
        assert_eq!(stats.snapshots_running.load(Ordering::Relaxed), 0);
        assert_eq!(stats.snapshots.load(Ordering::Relaxed), 1);
        assert!(!stats.last_snapshot_ok.load(Ordering::Relaxed));
    }

    #[test]
    fn rewrites_count_successes_and_failures_in_a_row() {
        let stats = PersistenceStats::default();
        stats.rewrite_started();
        assert!(stats.rewrite_running.load(Ordering::Relaxed));
        stats.rewrite_done(Duration::from_secs(2), Err(()));
        stats.rewrite_done(Duration::from_secs(2), Err(()));
        assert_eq!(stats.rewrite_failures_in_a_row.load(Ordering::Relaxed), 2);
        assert!(!stats.rewrite_running.load(Ordering::Relaxed));
        stats.rewrite_done(Duration::from_secs(1), Ok(4096));
        assert_eq!(stats.rewrites.load(Ordering::Relaxed), 1);
        assert_eq!(stats.rewrite_failures_in_a_row.load(Ordering::Relaxed), 0);
        assert_eq!(stats.base_size.load(Ordering::Relaxed), 4096);
        assert_eq!(stats.last_rewrite_secs.load(Ordering::Relaxed), 1);
    }
}
