//! Which keys to evict past `maxmemory`, by policy — chosen by the shard *leader* only.
//!
//! The leader asks its shard for candidates and proposes their removal as a log entry
//! ([`crate::commands::keys::KeyCommand::Evict`]); every replica removes exactly those keys at
//! the same log index, so replicas never diverge the way redis replicas can when each evicts on
//! its own. Nothing here needs to be deterministic: the choice is made once and logged.
//!
//! As redis, the LRU policies sample: each key evicted is the most idle of `samples` keys drawn
//! at random (redis keeps a pool of good candidates across rounds; here each round draws anew).
//! `volatile-ttl` takes the keys whose deadline comes first, exactly, from the deadline index.

use bytes::Bytes;
use rand::Rng;

use super::{Entry, Keyspace};
use crate::limits::EvictionPolicy;

impl Keyspace {
    /// Up to `max` distinct keys to evict under `policy`, each LRU pick the most idle of
    /// `samples` keys drawn at random, and about how many bytes each holds. Empty when the
    /// policy has nothing to evict (`noeviction`, or a volatile policy and no key with a
    /// deadline).
    pub fn eviction_candidates(
        &self,
        policy: EvictionPolicy,
        samples: usize,
        max: usize,
    ) -> Vec<(Bytes, usize)> {
        let mut rng = rand::rng();
        let mut picked: Vec<(Bytes, usize)> = Vec::new();
        let add = |e: &Entry, picked: &mut Vec<(Bytes, usize)>| {
            if !picked.iter().any(|(k, _)| k.as_ref() == e.key()) {
                picked.push((Bytes::copy_from_slice(e.key()), e.footprint()));
            }
        };
        let volatile = policy.volatile_only();
        if self.len == 0 || (volatile && self.expiry.is_empty()) {
            return picked;
        }
        match policy {
            EvictionPolicy::NoEviction => {}
            EvictionPolicy::VolatileTtl => {
                for (_, key) in self.expiry.iter().take(max) {
                    if let Some(e) = self.stored(key) {
                        add(e, &mut picked);
                    }
                }
            }
            _ => {
                // Bounded tries: duplicates are skipped, so a tiny keyspace ends early.
                for _ in 0..max * 2 {
                    if picked.len() >= max {
                        break;
                    }
                    let draws = match policy {
                        EvictionPolicy::AllKeysLru | EvictionPolicy::VolatileLru => samples.max(1),
                        _ => 1,
                    };
                    let best = (0..draws)
                        .filter_map(|_| match volatile {
                            true => self.random_volatile(&mut rng),
                            false => self.random_entry(&mut rng),
                        })
                        .max_by_key(|e| self.idle_seconds(e));
                    if let Some(e) = best {
                        add(e, &mut picked);
                    }
                }
            }
        }
        picked
    }

    /// Removes those of `keys` that are there (evicted); returns how many went.
    pub fn evict(&mut self, keys: &[Bytes]) -> usize {
        let removed = keys.iter().filter(|k| self.remove(k).is_some()).count();
        self.stats.evicted_keys += removed as u64;
        removed
    }

    /// An entry drawn at random (near uniformly: a random slot that holds keys, then a random
    /// key of it).
    fn random_entry(&self, rng: &mut impl Rng) -> Option<&Entry> {
        for _ in 0..32 {
            let map = &self.slots[rng.random_range(0..self.slots.len())];
            if !map.is_empty() {
                return map
                    .get_index(rng.random_range(0..map.len()))
                    .map(|(e, _)| e);
            }
        }
        // A sparse keyspace: count down through the slots instead.
        let mut n = rng.random_range(0..self.len);
        for map in &self.slots {
            if n < map.len() {
                return map.get_index(n).map(|(e, _)| e);
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
    use crate::keyspace::Value;

    fn names(picked: Vec<(Bytes, usize)>) -> Vec<Bytes> {
        picked.into_iter().map(|(k, _)| k).collect()
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
    fn volatile_ttl_takes_the_first_deadlines() {
        let ks = keyspace(100, 10);
        let keys = names(ks.eviction_candidates(EvictionPolicy::VolatileTtl, 5, 3));
        assert_eq!(keys, [b"k0".as_ref(), b"k10", b"k20"]);
    }

    #[test]
    fn volatile_policies_pick_only_keys_with_a_deadline_or_nothing() {
        let ks = keyspace(1000, 7);
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
        assert!(picked.iter().all(|(k, bytes)| *bytes >= k.len()));
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
