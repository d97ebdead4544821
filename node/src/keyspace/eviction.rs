//! Which keys to evict past `maxmemory`, by policy — chosen by the shard *leader* only.
//!
//! The leader asks its shard for candidates and proposes their removal as a log entry
//! ([`crate::commands::keys::KeyCommand::Evict`]); every replica removes exactly those keys at
//! the same log index, so replicas never diverge the way redis replicas can when each evicts on
//! its own. Nothing here needs to be deterministic: the choice is made once and logged.
//!
//! As redis, the LRU and LFU policies sample: for each key to evict, `samples` keys drawn at
//! random join a pool of the 16 best candidates seen so far ([`EvictionPool`], kept across
//! rounds as redis keeps its `EvictionPoolLRU`), and the best of the pool that still exists goes
//! — the most idle (LRU) or least used (LFU, the decayed count of `access.rs`). Drawing each
//! victim anew from its own samples left the LFU hit ratio a little under redis's.
//! `volatile-ttl` takes the keys whose deadline comes first, exactly, from the deadline index.

use bytes::Bytes;
use rand::Rng;

use super::{Entry, Keyspace};
use crate::limits::EvictionPolicy;

/// A key the policy would evict, how many bytes it holds, and how good a victim it is: the
/// higher the score the sooner it goes (idle seconds under LRU, 255 less its count under LFU,
/// the nearer deadline under volatile-ttl, a random number under the random policies). Scores
/// of one policy compare across shards, so a node evicts its best candidates wherever they lie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The key.
    pub key: Bytes,
    /// About the bytes it holds ([`Entry::footprint`]).
    pub bytes: usize,
    /// How good a victim it is (higher goes first).
    pub score: u64,
    /// The key's version when it was picked ([`Entry::version`]): the eviction applies only
    /// if the key still has it.
    pub version: u32,
}

/// Candidates kept across eviction rounds by a leader (not replicated: only the choice of
/// victims depends on it, and that is logged): the [`POOL_SIZE`] best scores seen among the keys
/// sampled under `policy`, best last. Changing policy starts it over.
#[derive(Debug, Default)]
pub(super) struct EvictionPool {
    policy: Option<EvictionPolicy>,
    entries: Vec<(u64, Bytes)>,
}

/// Candidates an [`EvictionPool`] keeps (redis's `EVPOOL_SIZE`).
const POOL_SIZE: usize = 16;

impl EvictionPool {
    /// Keeps `key` if it is among the best seen (and not kept already).
    fn offer(&mut self, score: u64, key: Bytes) {
        if self.entries.iter().any(|(_, k)| *k == key) {
            return;
        }
        if self.entries.len() == POOL_SIZE {
            if self.entries[0].0 >= score {
                return;
            }
            self.entries.remove(0);
        }
        let at = self.entries.partition_point(|(s, _)| *s <= score);
        self.entries.insert(at, (score, key));
    }

    /// The best candidate, out of the pool.
    fn take_best(&mut self) -> Option<(u64, Bytes)> {
        self.entries.pop()
    }
}

impl Keyspace {
    /// Up to `max` distinct keys to evict under `policy`, each LRU or LFU pick the best of
    /// `samples` keys drawn at random. Empty when the policy has nothing to evict
    /// (`noeviction`, or a volatile policy and no key with a deadline).
    pub fn eviction_candidates(
        &mut self,
        policy: EvictionPolicy,
        samples: usize,
        max: usize,
    ) -> Vec<Candidate> {
        self.eviction_candidates_covering(policy, samples, max, u64::MAX)
    }

    /// As [`Keyspace::eviction_candidates`], stopping once the keys picked hold `cover` bytes
    /// (what a leader evicts to make room for one entry of writes).
    pub fn eviction_candidates_covering(
        &mut self,
        policy: EvictionPolicy,
        samples: usize,
        max: usize,
        cover: u64,
    ) -> Vec<Candidate> {
        let mut rng = rand::rng();
        let mut picked: Vec<Candidate> = Vec::new();
        // Adds `e` unless picked already; true when added.
        let add = |e: &Entry, score: u64, picked: &mut Vec<Candidate>| {
            let new = !picked.iter().any(|c| c.key.as_ref() == e.key());
            if new {
                picked.push(Candidate {
                    key: Bytes::copy_from_slice(e.key()),
                    bytes: e.footprint(),
                    score,
                    version: e.version(),
                });
            }
            new
        };
        let volatile = policy.volatile_only();
        if self.len == 0 || (volatile && self.expiry.is_empty()) {
            return picked;
        }
        match policy {
            EvictionPolicy::NoEviction => {}
            EvictionPolicy::VolatileTtl => {
                let mut covered = 0u64;
                for (deadline, key) in self.expiry.iter().take(max) {
                    if covered >= cover {
                        break;
                    }
                    if let Some(e) = self.stored(key) {
                        add(e, u64::MAX - deadline, &mut picked);
                        covered += e.footprint() as u64;
                    }
                }
            }
            _ if policy.sampled() => {
                if self.eviction_pool.policy != Some(policy) {
                    self.eviction_pool = EvictionPool {
                        policy: Some(policy),
                        entries: Vec::new(),
                    };
                }
                // Bounded tries: duplicates are skipped, so a tiny keyspace ends early.
                let mut covered = 0u64;
                for _ in 0..max * 2 {
                    if picked.len() >= max || covered >= cover {
                        break;
                    }
                    let drawn: Vec<(u64, Bytes)> = (0..samples.max(1))
                        .filter_map(|_| match volatile {
                            true => self.random_volatile(&mut rng),
                            false => self.random_entry(&mut rng),
                        })
                        .map(|e| {
                            (
                                self.sampled_score(policy, e),
                                Bytes::copy_from_slice(e.key()),
                            )
                        })
                        .collect();
                    for (score, key) in drawn {
                        self.eviction_pool.offer(score, key);
                    }
                    // The pool's best that is still there (a key may have gone since it joined).
                    while let Some((score, key)) = self.eviction_pool.take_best() {
                        if let Some(e) = self.stored(&key) {
                            if add(e, score, &mut picked) {
                                covered += e.footprint() as u64;
                            }
                            break;
                        }
                    }
                }
            }
            _ => {
                // The random policies: any key (a volatile one under volatile-random).
                let mut covered = 0u64;
                for _ in 0..max * 2 {
                    if picked.len() >= max || covered >= cover {
                        break;
                    }
                    let drawn = match volatile {
                        true => self.random_volatile(&mut rng),
                        false => self.random_entry(&mut rng),
                    };
                    if let Some(e) = drawn {
                        if add(e, rand::random(), &mut picked) {
                            covered += e.footprint() as u64;
                        }
                    }
                }
            }
        }
        picked
    }

    /// How good a victim `e` is under a sampled policy: the most idle, or under LFU the least
    /// used (255 less its count, as redis ranks it).
    fn sampled_score(&self, policy: EvictionPolicy, e: &Entry) -> u64 {
        if policy.lfu() {
            u64::from(u8::MAX - self.frequency(e))
        } else {
            u64::from(self.idle_seconds(e))
        }
    }

    /// Removes those of `keys` that are there (evicted); returns how many went.
    pub fn evict(&mut self, keys: &[Bytes]) -> usize {
        let removed = keys.iter().filter(|k| self.remove(k).is_some()).count();
        self.stats.evicted_keys += removed as u64;
        removed
    }

    /// Removes those of `victims` (keys and the versions they had when picked) that are there
    /// and unchanged since; returns how many went. A key written, given a deadline, deleted and
    /// created again meanwhile has another version and stays: an eviction never undoes a write
    /// that came after its pick.
    ///
    /// Version 0 means unknown: a key loaded from an older release's snapshot (format 5 or
    /// before) has it on the replicas that loaded one and its real version on those that
    /// replayed the entry instead — real versions agree everywhere, since they are log indexes.
    /// So a pick or a key at version 0 evicts as earlier releases did, whatever the other
    /// side's version: replicas stay alike, and only such old keys lose the protection.
    pub fn evict_unchanged(&mut self, victims: &[(Bytes, u32)]) -> usize {
        let removed = victims
            .iter()
            .filter(|(key, picked)| {
                self.stored(key).is_some_and(|e| {
                    let now = e.version();
                    now == *picked || now == 0 || *picked == 0
                }) && self.remove(key).is_some()
            })
            .count();
        self.stats.evicted_keys += removed as u64;
        removed
    }

    /// An entry drawn at random (near uniformly: a random slot that holds keys, then a random
    /// key of it).
    fn random_entry(&self, rng: &mut impl Rng) -> Option<&Entry> {
        for _ in 0..32 {
            let map = &self.slots[rng.random_range(0..self.slots.len())];
            if !map.is_empty() {
                return map.get_index(rng.random_range(0..map.len()));
            }
        }
        // A sparse keyspace: count down through the slots instead.
        let mut n = rng.random_range(0..self.len);
        for map in &self.slots {
            if n < map.len() {
                return map.get_index(n);
            }
            n -= map.len();
        }
        None
    }

    /// An entry with a deadline, drawn at random from the deadline index (by a random deadline
    /// between the first and the last: near uniform for deadlines spread over time).
    fn random_volatile(&self, rng: &mut impl Rng) -> Option<&Entry> {
        let first = self.expiry.first()?.0;
        let last = self.expiry.last()?.0;
        let at = rng.random_range(first..=last);
        let (_, key) = self
            .expiry
            .range((at, Box::<[u8]>::from(&[][..]))..)
            .next()
            .or_else(|| self.expiry.last())?;
        self.stored(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{SetValue, Value};

    fn names(picked: Vec<Candidate>) -> Vec<Bytes> {
        picked.into_iter().map(|c| c.key).collect()
    }

    fn keyspace(n: usize, volatile_every: usize) -> Keyspace {
        let mut ks = Keyspace::new(0, 16383);
        for i in 0..n {
            let deadline = match i % volatile_every {
                0 => 10_000_000 + i as u64,
                _ => 0,
            };
            ks.insert(format!("k{i}").as_bytes(), Value::Int(i as i64), deadline);
        }
        ks
    }

    #[test]
    fn an_eviction_leaves_a_key_changed_since_it_was_picked() {
        let mut ks = Keyspace::new(0, 16383);
        ks.set_change_version(10);
        let big = Value::Str(Bytes::from(vec![b'x'; 200]));
        for key in [
            "plain",
            "rewritten",
            "expired",
            "recreated",
            "renamed",
            "pushed",
        ] {
            ks.insert(key.as_bytes(), big.clone(), 0);
        }
        for i in 0..300 {
            ks.update_hash(b"hash", 0, true, |h| {
                h.set(format!("f{i}").as_bytes(), b"v");
            })
            .expect("a hash");
        }
        ks.store_set(b"set", SetValue::from_members([&b"a"[..], b"b"]));
        let names = [
            "plain",
            "rewritten",
            "expired",
            "recreated",
            "renamed",
            "hash",
            "set",
        ];
        let picked: Vec<(Bytes, u32)> = names
            .iter()
            .map(|k| {
                let e = ks.stored(k.as_bytes()).expect("present");
                (Bytes::copy_from_slice(e.key()), e.version())
            })
            .collect();
        assert!(picked.iter().all(|(_, v)| *v == 10));
        // Entry 11 changes all but "plain", each its own way; entry 12 evicts what was picked.
        ks.set_change_version(11);
        ks.insert(b"rewritten", Value::Int(1), 0);
        assert!(ks.set_expiry(b"expired", 99_999_999_999));
        ks.remove(b"recreated");
        ks.insert(b"recreated", big.clone(), 0);
        assert!(ks.rename(b"pushed", b"renamed"));
        ks.update_hash(b"hash", 0, false, |h| {
            h.set(b"new", b"v");
        })
        .expect("a hash");
        ks.update_set(b"set", 0, false, |s| {
            s.add(b"c");
        })
        .expect("a set");
        ks.set_change_version(12);
        assert_eq!(ks.evict_unchanged(&picked), 1);
        assert!(ks.stored(b"plain").is_none());
        for kept in &names[1..] {
            assert!(ks.stored(kept.as_bytes()).is_some(), "{kept} was evicted");
        }
        assert_eq!(ks.stats.evicted_keys, 1);
        // Picked again now, they go.
        let again: Vec<(Bytes, u32)> = ["rewritten", "hash"]
            .iter()
            .map(|k| (Bytes::copy_from_slice(k.as_bytes()), 11))
            .collect();
        assert_eq!(ks.evict_unchanged(&again), 2);
        // Version 0 (an older release's snapshot, on either side) evicts unconditionally.
        let unknown = [(Bytes::from_static(b"expired"), 0)];
        assert_eq!(ks.evict_unchanged(&unknown), 1);
        ks.set_change_version(0);
        ks.insert(b"loaded", Value::Int(1), 0);
        assert_eq!(
            ks.evict_unchanged(&[(Bytes::from_static(b"loaded"), 99)]),
            1
        );
    }

    #[test]
    fn the_pool_keeps_the_best_candidates_seen_and_hands_out_the_best_first() {
        let mut pool = EvictionPool::default();
        for i in 0..40u64 {
            // Scores 0..40 in a scrambled order, each offered twice.
            let score = (i * 7) % 40;
            pool.offer(score, Bytes::from(format!("k{score}")));
            pool.offer(score, Bytes::from(format!("k{score}")));
        }
        assert_eq!(pool.entries.len(), POOL_SIZE);
        let taken: Vec<u64> = std::iter::from_fn(|| pool.take_best().map(|(s, _)| s)).collect();
        assert_eq!(taken, (24..40).rev().collect::<Vec<_>>());
        // A worse candidate than all kept is turned away from a full pool.
        for s in 100..116 {
            pool.offer(s, Bytes::from(format!("k{s}")));
        }
        pool.offer(1, Bytes::from_static(b"poor"));
        assert!(pool.entries.iter().all(|(s, _)| *s >= 100));
    }

    #[test]
    fn a_pooled_candidate_that_left_the_keyspace_is_skipped() {
        let mut ks = Keyspace::new(0, 16383);
        ks.set_clock(100_000);
        // Four keys, so that 64 samples drawn with replacement miss k0 with a probability of
        // (3/4)^64, about 1e-8 (with 20 keys it was 4%: the test failed now and then).
        for i in 0..4 {
            ks.insert(format!("k{i}").as_bytes(), Value::Int(i), 0);
        }
        ks.set_clock(200_000);
        for i in 1..4 {
            assert!(ks.get(format!("k{i}").as_bytes(), 200_000).is_some());
        }
        // k0, idle for 100 s, is the best candidate; it is deleted once pooled.
        let first = names(ks.eviction_candidates(EvictionPolicy::AllKeysLru, 64, 1));
        assert_eq!(first, [b"k0".as_ref()]);
        ks.eviction_pool.offer(100, Bytes::from_static(b"k0"));
        ks.remove(b"k0");
        let next = names(ks.eviction_candidates(EvictionPolicy::AllKeysLru, 64, 1));
        assert_eq!(next.len(), 1);
        assert_ne!(next[0].as_ref(), b"k0");
    }

    #[test]
    fn picking_stops_once_the_keys_cover_the_bytes_asked() {
        let mut ks = keyspace(200, 2);
        let one = ks.stored(b"k0").map(Entry::footprint).expect("k0") as u64;
        for policy in [
            EvictionPolicy::AllKeysLru,
            EvictionPolicy::AllKeysLfu,
            EvictionPolicy::AllKeysRandom,
            EvictionPolicy::VolatileRandom,
            EvictionPolicy::VolatileTtl,
        ] {
            // Every entry here is the same size: three of them cover 2.5 entries' bytes.
            let picked = ks.eviction_candidates_covering(policy, 5, 50, one * 5 / 2);
            assert_eq!(picked.len(), 3, "{policy:?}");
            let all = ks.eviction_candidates_covering(policy, 5, 50, u64::MAX);
            assert!(all.len() > 20, "{policy:?}: {}", all.len());
        }
    }

    #[test]
    fn volatile_ttl_takes_the_first_deadlines() {
        let mut ks = keyspace(100, 10);
        let keys = names(ks.eviction_candidates(EvictionPolicy::VolatileTtl, 5, 3));
        assert_eq!(keys, [b"k0".as_ref(), b"k10", b"k20"]);
    }

    #[test]
    fn volatile_policies_pick_only_keys_with_a_deadline_or_nothing() {
        let mut ks = keyspace(1000, 7);
        for policy in [EvictionPolicy::VolatileRandom, EvictionPolicy::VolatileLru] {
            let keys = names(ks.eviction_candidates(policy, 5, 20));
            assert!(!keys.is_empty(), "{policy:?}");
            for k in &keys {
                let i: usize = std::str::from_utf8(&k[1..]).unwrap().parse().unwrap();
                assert_eq!(i % 7, 0, "{policy:?} picked k{i}, which has no deadline");
            }
        }
        let mut persistent = Keyspace::new(0, 16383);
        for i in 0..100 {
            persistent.insert(format!("p{i}").as_bytes(), Value::Int(i), 0);
        }
        assert!(persistent
            .eviction_candidates(EvictionPolicy::VolatileLru, 5, 10)
            .is_empty());
        assert!(keyspace(100, 1)
            .eviction_candidates(EvictionPolicy::NoEviction, 5, 10)
            .is_empty());
    }

    #[test]
    fn lru_picks_the_keys_unused_the_longest() {
        let mut ks = Keyspace::new(0, 16383);
        // Written at second 100; all but five read again at second 200.
        ks.set_clock(100_000);
        for i in 0..50 {
            ks.insert(format!("k{i}").as_bytes(), Value::Int(i), 0);
        }
        ks.set_clock(200_000);
        for i in 5..50 {
            assert!(ks.get(format!("k{i}").as_bytes(), 200_000).is_some());
        }
        assert_eq!(ks.idle_seconds(ks.peek(b"k0", 0).unwrap()), 100);
        // With as many samples as keys, each pick is among the five idle ones.
        let keys = names(ks.eviction_candidates(EvictionPolicy::AllKeysLru, 64, 5));
        assert!(!keys.is_empty());
        for k in &keys {
            let i: usize = std::str::from_utf8(&k[1..]).unwrap().parse().unwrap();
            assert!(i < 5, "picked k{i}, read a moment ago");
        }
    }

    #[test]
    fn lfu_picks_the_keys_used_the_least() {
        let mut ks = Keyspace::new(0, 16383);
        // Counts as an LFU policy leaves them (the field is set directly: the policy in force
        // is process-wide, and other tests run beside this one): k0..k4 counted 3, the rest 40.
        for i in 0..50 {
            let key = format!("k{i}");
            ks.insert(key.as_bytes(), Value::Int(i), 0);
            let count: u16 = if i < 5 { 3 } else { 40 };
            let e = ks.map_mut(key.as_bytes()).get_mut(key.as_bytes()).unwrap();
            e.access = count;
        }
        let keys = names(ks.eviction_candidates(EvictionPolicy::AllKeysLfu, 64, 5));
        assert!(!keys.is_empty());
        for k in &keys {
            let i: usize = std::str::from_utf8(&k[1..]).unwrap().parse().unwrap();
            assert!(i < 5, "picked k{i}, counted 40");
        }
    }

    #[test]
    fn the_access_clock_starts_anywhere_and_never_goes_back() {
        let mut ks = Keyspace::new(0, 16383);
        // The first time sets it, whatever the second (the clock is the time modulo 2^16 s).
        ks.set_clock(1_796_604_123_000);
        ks.insert(b"k", Value::Int(1), 0);
        ks.set_clock(1_796_604_126_000);
        assert_eq!(ks.idle_seconds(ks.peek(b"k", 0).unwrap()), 3);
        // A write applied after a later read (it waited for its commit) does not turn it back.
        ks.set_clock(1_796_604_125_000);
        ks.insert(b"w", Value::Int(1), 0);
        assert_eq!(ks.idle_seconds(ks.peek(b"k", 0).unwrap()), 3);
        assert_eq!(ks.idle_seconds(ks.peek(b"w", 0).unwrap()), 0);
    }

    #[test]
    fn random_picks_are_distinct_and_evicting_counts() {
        let mut ks = keyspace(10, 1);
        let picked = ks.eviction_candidates(EvictionPolicy::AllKeysRandom, 5, 20);
        assert!(picked.iter().all(|c| c.bytes >= c.key.len()));
        let keys = names(picked);
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), keys.len());
        assert!(keys.len() <= 10);
        let n = ks.evict(&keys);
        assert_eq!(n, keys.len());
        assert_eq!(ks.len(), 10 - n);
        assert_eq!(ks.stats.evicted_keys, n as u64);
        assert_eq!(ks.evict(&keys), 0, "already gone");
    }
}
