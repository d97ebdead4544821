//! How much room a write has under `maxmemory`, between two measures of the node's memory.
//!
//! The node measures its memory every 10 ms (reading the allocator's counters costs too much
//! per write, see `ServerState::refresh_used_memory`). A burst of writes would pass the limit
//! by whatever those 10 ms admit — hundreds of megabytes at a few hundred MB/s — if eviction
//! only ran on the measure. So a shard group's proposer asks [`Headroom::needed`] before each
//! entry: the last measure, plus what was proposed since, less what was evicted since, plus the
//! entry itself. When that passes the limit under an evicting policy, the proposer puts the
//! removal of enough of its shard's keys *in the same log entry* as the writes that need the
//! room (no extra Raft round; see `raft::proposer`), as redis evicts before each command.
//!
//! The count between measures is an estimate (a write's size is its arguments' bytes plus an
//! entry's overhead, an eviction's the keys' footprints); the next measure replaces it. It
//! errs towards evicting: writes proposed before a measure and applied after it are counted
//! twice until the next one.

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, AtomicU8, Ordering};

use crate::limits::EvictionPolicy;

/// The node's memory budget as proposers see it (one per node, shared).
#[derive(Debug)]
pub struct Headroom {
    /// Bytes over `maxmemory` at the last measure (negative: room left); `i64::MIN` while no
    /// limit is set.
    over_at_measure: AtomicI64,
    /// Bytes proposed since the last measure, less the bytes evicted since.
    since_measure: AtomicI64,
    /// The policy in force at the last measure ([`EvictionPolicy::to_u8`]).
    policy: AtomicU8,
    /// `maxmemory-samples` at the last measure.
    samples: AtomicU32,
    /// `maxmemory` at the last measure (0: no limit).
    maxmemory: AtomicU64,
}

/// The share of `maxmemory` one group's in-memory Raft log may reach before the group
/// snapshots (and drops it): 1/64, so that 16 groups' logs stay near a quarter of the limit.
const LOG_SHARE: u64 = 64;

/// The least log a group snapshots for under a limit, however small the limit: below this,
/// snapshots would cost more than the memory they free.
const LOG_CAP_FLOOR: u64 = 256 << 10;

/// What a proposer is to evict before an entry: about `bytes` under `policy`, each key the best
/// of `samples`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shortfall {
    /// The policy in force.
    pub policy: EvictionPolicy,
    /// `maxmemory-samples`.
    pub samples: usize,
    /// Bytes to free.
    pub bytes: u64,
}

impl Default for Headroom {
    fn default() -> Headroom {
        Headroom {
            over_at_measure: AtomicI64::new(i64::MIN),
            since_measure: AtomicI64::new(0),
            policy: AtomicU8::new(EvictionPolicy::NoEviction.to_u8()),
            samples: AtomicU32::new(5),
            maxmemory: AtomicU64::new(0),
        }
    }
}

impl Headroom {
    /// Records a measure: `used` bytes counted against `maxmemory` (0: no limit), under
    /// `policy`. What was proposed and evicted before is in the measure from now on.
    pub fn measured(&self, used: u64, maxmemory: u64, policy: EvictionPolicy, samples: usize) {
        let over = match maxmemory {
            0 => i64::MIN,
            max => clamp(used).saturating_sub(clamp(max)),
        };
        self.policy.store(policy.to_u8(), Ordering::Relaxed);
        self.samples.store(
            u32::try_from(samples).unwrap_or(u32::MAX),
            Ordering::Relaxed,
        );
        self.since_measure.store(0, Ordering::Relaxed);
        self.over_at_measure.store(over, Ordering::Relaxed);
        self.maxmemory.store(maxmemory, Ordering::Relaxed);
    }

    /// The log bytes after which a group snapshots under `maxmemory`, whatever its keyspace's
    /// size; `None` without a limit.
    ///
    /// The log is not counted against `maxmemory` (as redis leaves out its replication
    /// buffers), but it is memory all the same: without a cap a group waits for half its
    /// keyspace's size in log before it snapshots, and under a write burst into a small limit
    /// the logs were most of the process (a 300 MB burst into 64 MB peaked at 383 MB of RSS).
    /// The price is more snapshots, each of a keyspace the limit keeps small.
    pub fn snapshot_log_cap(&self) -> Option<u64> {
        match self.maxmemory.load(Ordering::Relaxed) {
            0 => None,
            max => Some((max / LOG_SHARE).max(LOG_CAP_FLOOR)),
        }
    }

    /// What must be evicted before an entry of `incoming` bytes is proposed, if anything: `None`
    /// without a limit, under `noeviction` (whose writes are refused before they get here), or
    /// when the entry fits.
    pub fn needed(&self, incoming: u64) -> Option<Shortfall> {
        let over = self.over_at_measure.load(Ordering::Relaxed);
        if over == i64::MIN {
            return None;
        }
        let policy = EvictionPolicy::from_u8(self.policy.load(Ordering::Relaxed));
        if policy == EvictionPolicy::NoEviction {
            return None;
        }
        let projected = over
            .saturating_add(self.since_measure.load(Ordering::Relaxed))
            .saturating_add(clamp(incoming));
        (projected > 0).then(|| Shortfall {
            policy,
            samples: self.samples.load(Ordering::Relaxed) as usize,
            bytes: projected as u64,
        })
    }

    /// Records an entry proposed with `incoming` bytes of writes and `evicted` bytes of
    /// evictions.
    pub fn proposed(&self, incoming: u64, evicted: u64) {
        let net = clamp(incoming).saturating_sub(clamp(evicted));
        self.since_measure.fetch_add(net, Ordering::Relaxed);
    }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_caps_each_groups_log_at_a_share_of_it() {
        let room = Headroom::default();
        assert_eq!(room.snapshot_log_cap(), None);
        room.measured(0, 64 << 20, EvictionPolicy::AllKeysLru, 5);
        assert_eq!(room.snapshot_log_cap(), Some(1 << 20));
        room.measured(0, 1 << 20, EvictionPolicy::NoEviction, 5);
        assert_eq!(room.snapshot_log_cap(), Some(LOG_CAP_FLOOR));
        room.measured(0, 0, EvictionPolicy::AllKeysLru, 5);
        assert_eq!(room.snapshot_log_cap(), None);
    }

    #[test]
    fn no_limit_and_noeviction_never_ask_for_room() {
        let room = Headroom::default();
        assert_eq!(room.needed(u64::MAX), None);
        room.measured(100, 0, EvictionPolicy::AllKeysLru, 5);
        assert_eq!(room.needed(1 << 40), None);
        room.measured(100, 50, EvictionPolicy::NoEviction, 5);
        assert_eq!(room.needed(10), None);
    }

    #[test]
    fn writes_since_the_measure_count_until_the_next_one() {
        let room = Headroom::default();
        room.measured(900, 1000, EvictionPolicy::AllKeysLfu, 7);
        assert_eq!(room.needed(100), None, "exactly at the limit fits");
        let short = room.needed(150).expect("over by 50");
        assert_eq!(
            short,
            Shortfall {
                policy: EvictionPolicy::AllKeysLfu,
                samples: 7,
                bytes: 50
            }
        );
        room.proposed(80, 0);
        assert_eq!(room.needed(30).map(|s| s.bytes), Some(10));
        // Evicting more than was written gives the room back.
        room.proposed(10, 200);
        assert_eq!(room.needed(100), None);
        assert_eq!(room.needed(211).map(|s| s.bytes), Some(1));
        // A new measure replaces the estimate.
        room.measured(1200, 1000, EvictionPolicy::VolatileTtl, 5);
        assert_eq!(room.needed(0).map(|s| s.bytes), Some(200));
    }
}
