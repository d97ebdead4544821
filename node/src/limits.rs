//! Client limits as redis spells them: memory values with redis's units ([`parse_memory`]), and
//! `client-output-buffer-limit` ([`OutputLimits`]): per class of client, a hard limit on the bytes of
//! replies waiting for it, and a soft limit it may stay above for a number of seconds, after
//! which the client is closed — so a client that asks and never reads cannot make the node hold
//! its replies without bound. `client-query-buffer-limit` bounds the unparsed request bytes
//! the same way (see `connection.rs`, which enforces both).
//!
//! Three classes, as redis has: `normal` (every client today), `replica` (printed `slave`, as
//! redis prints it) and `pubsub`. Only `normal` has clients in Shardis so far; the other two are
//! kept and reported so that configurations and tools written for redis carry over, and pub/sub
//! will use its class.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

/// One class's limits; 0 disables each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassLimit {
    /// Closed at once past this many bytes.
    pub hard: u64,
    /// Closed after staying past this many bytes...
    pub soft: u64,
    /// ...for this many seconds.
    pub soft_seconds: u64,
}

/// A client class, in redis's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Normal = 0,
    Replica = 1,
    PubSub = 2,
}

/// What each class is called when printed (redis still prints `slave`).
const CLASS_NAMES: [&str; 3] = ["normal", "slave", "pubsub"];

/// Redis's defaults: `normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60`.
pub const DEFAULT: &str = "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60";

/// Redis's `maxmemory-policy` names, in the order its error text lists them.
pub const MAXMEMORY_POLICIES: [&str; 8] = [
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

/// What a node does past `maxmemory` (redis's `maxmemory-policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvictionPolicy {
    /// Refuse commands that may grow memory (`-OOM`).
    NoEviction,
    /// Evict keys picked at random.
    AllKeysRandom,
    /// Evict keys with a deadline, picked at random.
    VolatileRandom,
    /// Evict the keys whose deadline comes first.
    VolatileTtl,
    /// Evict the keys unused the longest (sampled, as redis does).
    AllKeysLru,
    /// The same among keys with a deadline.
    VolatileLru,
    /// Evict the keys used the least (a decaying logarithmic count, sampled, as redis does).
    AllKeysLfu,
    /// The same among keys with a deadline.
    VolatileLfu,
}

impl EvictionPolicy {
    /// One of redis's names (its error text otherwise).
    pub fn parse(policy: &str) -> Result<EvictionPolicy, String> {
        let policy = policy.to_ascii_lowercase();
        if !MAXMEMORY_POLICIES.contains(&policy.as_str()) {
            return Err(format!(
                "argument(s) must be one of the following: {}",
                MAXMEMORY_POLICIES.join(", ")
            ));
        }
        Ok(match policy.as_str() {
            "allkeys-random" => EvictionPolicy::AllKeysRandom,
            "volatile-random" => EvictionPolicy::VolatileRandom,
            "volatile-ttl" => EvictionPolicy::VolatileTtl,
            "allkeys-lru" => EvictionPolicy::AllKeysLru,
            "volatile-lru" => EvictionPolicy::VolatileLru,
            "allkeys-lfu" => EvictionPolicy::AllKeysLfu,
            "volatile-lfu" => EvictionPolicy::VolatileLfu,
            _ => EvictionPolicy::NoEviction,
        })
    }

    /// Redis's name.
    pub fn name(self) -> &'static str {
        match self {
            EvictionPolicy::NoEviction => "noeviction",
            EvictionPolicy::AllKeysRandom => "allkeys-random",
            EvictionPolicy::VolatileRandom => "volatile-random",
            EvictionPolicy::VolatileTtl => "volatile-ttl",
            EvictionPolicy::AllKeysLru => "allkeys-lru",
            EvictionPolicy::VolatileLru => "volatile-lru",
            EvictionPolicy::AllKeysLfu => "allkeys-lfu",
            EvictionPolicy::VolatileLfu => "volatile-lfu",
        }
    }

    /// Its number, for an atomic.
    pub fn to_u8(self) -> u8 {
        self as u8
    }

    /// Back from [`EvictionPolicy::to_u8`].
    pub fn from_u8(n: u8) -> EvictionPolicy {
        [
            EvictionPolicy::NoEviction,
            EvictionPolicy::AllKeysRandom,
            EvictionPolicy::VolatileRandom,
            EvictionPolicy::VolatileTtl,
            EvictionPolicy::AllKeysLru,
            EvictionPolicy::VolatileLru,
            EvictionPolicy::AllKeysLfu,
            EvictionPolicy::VolatileLfu,
        ]
        .get(usize::from(n))
        .copied()
        .unwrap_or(EvictionPolicy::NoEviction)
    }

    /// True for the policies that evict only keys with a deadline.
    pub fn volatile_only(self) -> bool {
        matches!(
            self,
            EvictionPolicy::VolatileRandom
                | EvictionPolicy::VolatileTtl
                | EvictionPolicy::VolatileLru
                | EvictionPolicy::VolatileLfu
        )
    }

    /// True for the LFU policies (entries count accesses instead of stamping the time).
    pub fn lfu(self) -> bool {
        matches!(
            self,
            EvictionPolicy::AllKeysLfu | EvictionPolicy::VolatileLfu
        )
    }

    /// True for the policies that pick the best of `maxmemory-samples` keys.
    pub fn sampled(self) -> bool {
        matches!(
            self,
            EvictionPolicy::AllKeysLru
                | EvictionPolicy::VolatileLru
                | EvictionPolicy::AllKeysLfu
                | EvictionPolicy::VolatileLfu
        )
    }
}

/// The reply to a command that may grow memory while the node is past `maxmemory` (redis's
/// `shared.oomerr`).
pub const OOM_ERROR: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// A non-negative integer, as redis's CONFIG SET reads one.
pub fn parse_u64(v: &[u8]) -> Result<u64, String> {
    crate::protocol::parse::parse_i64(v)
        .filter(|n| *n >= 0)
        .map(|n| n as u64)
        .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())
}

/// A memory amount with redis's units (b, k, kb, m, mb, g, gb; case-insensitive).
pub fn parse_memory(v: &[u8]) -> Result<u64, String> {
    let text = String::from_utf8_lossy(v).to_ascii_lowercase();
    let units: [(&str, u64); 7] = [
        ("kb", 1024),
        ("mb", 1 << 20),
        ("gb", 1 << 30),
        ("k", 1000),
        ("m", 1_000_000),
        ("g", 1_000_000_000),
        ("b", 1),
    ];
    let (digits, mult) = units
        .iter()
        .find_map(|(suffix, mult)| text.strip_suffix(suffix).map(|num| (num, *mult)))
        .unwrap_or((text.as_str(), 1));
    // Unsigned, as redis's memtoull reads it: up to 2^64-1 before the unit.
    digits
        .bytes()
        .all(|c| c.is_ascii_digit())
        .then(|| digits.parse::<u64>().ok())
        .flatten()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| "argument must be a memory value".to_string())
}

/// The three classes' limits, changed by CONFIG SET; the `normal` class is mirrored in atomics
/// that the connections read once per batch of replies.
pub struct OutputLimits {
    classes: RwLock<[ClassLimit; 3]>,
    normal_hard: AtomicU64,
    normal_soft: AtomicU64,
    normal_soft_seconds: AtomicU64,
}

impl Default for OutputLimits {
    /// Redis's defaults ([`DEFAULT`]).
    fn default() -> OutputLimits {
        let limit = |hard, soft, soft_seconds| ClassLimit {
            hard,
            soft,
            soft_seconds,
        };
        OutputLimits {
            classes: RwLock::new([
                limit(0, 0, 0),
                limit(256 << 20, 64 << 20, 60),
                limit(32 << 20, 8 << 20, 60),
            ]),
            normal_hard: AtomicU64::new(0),
            normal_soft: AtomicU64::new(0),
            normal_soft_seconds: AtomicU64::new(0),
        }
    }
}

impl OutputLimits {
    /// Limits as `spec` sets them over redis's defaults (`spec` as [`OutputLimits::set`] takes).
    pub fn new(spec: &str) -> Result<OutputLimits, String> {
        let limits = OutputLimits::default();
        limits.set(spec)?;
        Ok(limits)
    }

    /// Applies `<class> <hard> <soft> <soft seconds>` groups (any number, memory values with
    /// redis's units), all or none, with redis's error texts. Classes not named keep their
    /// limits.
    pub fn set(&self, spec: &str) -> Result<(), String> {
        let words: Vec<&str> = spec.split_ascii_whitespace().collect();
        if !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut parsed = Vec::new();
        for group in words.chunks(4) {
            let class = match group[0].to_ascii_lowercase().as_str() {
                "normal" => Class::Normal,
                "replica" | "slave" => Class::Replica,
                "pubsub" => Class::PubSub,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".into(),
                    )
                }
            };
            let bad =
                || "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
            let hard = parse_memory(group[1].as_bytes()).map_err(|_| bad())?;
            let soft = parse_memory(group[2].as_bytes()).map_err(|_| bad())?;
            let soft_seconds = group[3]
                .parse::<i64>()
                .ok()
                .filter(|s| (0..i64::MAX).contains(s))
                .ok_or_else(bad)? as u64;
            parsed.push((
                class,
                ClassLimit {
                    hard,
                    soft,
                    soft_seconds,
                },
            ));
        }
        let mut classes = self.classes.write().unwrap_or_else(|p| p.into_inner());
        for (class, limit) in parsed {
            classes[class as usize] = limit;
        }
        let normal = classes[Class::Normal as usize];
        self.normal_hard.store(normal.hard, Ordering::Relaxed);
        self.normal_soft.store(normal.soft, Ordering::Relaxed);
        self.normal_soft_seconds
            .store(normal.soft_seconds, Ordering::Relaxed);
        Ok(())
    }

    /// As CONFIG GET prints it: `normal 0 0 0 slave 268435456 67108864 60 pubsub …`.
    pub fn render(&self) -> String {
        let classes = self.classes.read().unwrap_or_else(|p| p.into_inner());
        CLASS_NAMES
            .iter()
            .zip(classes.iter())
            .map(|(name, l)| format!("{name} {} {} {}", l.hard, l.soft, l.soft_seconds))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The limits of normal clients.
    pub fn normal(&self) -> ClassLimit {
        ClassLimit {
            hard: self.normal_hard.load(Ordering::Relaxed),
            soft: self.normal_soft.load(Ordering::Relaxed),
            soft_seconds: self.normal_soft_seconds.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_print_as_redis_prints_them() {
        let limits = OutputLimits::default();
        assert_eq!(
            limits.render(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        let spelled = OutputLimits::new(DEFAULT).expect("the default spelled out");
        assert_eq!(spelled.render(), limits.render());
    }

    #[test]
    fn a_bad_group_changes_nothing() {
        let limits = OutputLimits::new("").expect("defaults");
        let before = limits.render();
        for (spec, error) in [
            ("x", "Wrong number"),
            ("normal 1 2", "Wrong number"),
            ("master 1 2 3", "Invalid client class"),
            ("replica 5 6 7 normal 1 2 x", "Error in hard"),
            ("normal 1.5mb 2 3", "Error in hard"),
            ("normal -1 2 3", "Error in hard"),
            ("normal 1 2 -1", "Error in hard"),
        ] {
            let e = limits.set(spec).expect_err(spec);
            assert!(e.starts_with(error), "{spec}: {e}");
            assert_eq!(limits.render(), before, "{spec}");
        }
    }

    #[test]
    fn units_classes_and_case() {
        let limits = OutputLimits::new("NORMAL 1K 2mb 3 slave 5 6 7").expect("set");
        assert_eq!(
            limits.render(),
            "normal 1000 2097152 3 slave 5 6 7 pubsub 33554432 8388608 60"
        );
        assert_eq!(
            limits.normal(),
            ClassLimit {
                hard: 1000,
                soft: 2 << 20,
                soft_seconds: 3
            }
        );
        limits.set("").expect("nothing");
        assert_eq!(limits.normal().hard, 1000);
    }
}
