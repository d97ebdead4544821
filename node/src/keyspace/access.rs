//! What an entry's 16-bit access field means, by eviction policy.
//!
//! Redis keeps 24 bits per object for the eviction policies and reads them two ways: the LRU
//! clock, or under an LFU policy a pair — the minute the counter was last decayed (16 bits) and
//! a logarithmic access counter (8 bits). A Shardis entry keeps 16 bits for it (the entry is
//! 16 bytes), so under the LRU and other policies the field is the keyspace's seconds
//! clock at the last access ([`super::Keyspace::idle_seconds`]), and under `allkeys-lfu` or
//! `volatile-lfu` it is the same pair squeezed: the minute of the last decay, modulo 256, in the
//! high byte and redis's counter in the low byte. The one difference from redis: a key left
//! untouched for more than 255 minutes (4 h 15 min) is decayed as if it had been idle for the
//! rest of that modulo, so it keeps a higher count than redis would give it.
//!
//! As in redis, switching policies at run time reinterprets the field: counts and idle times
//! take a while to mean something again (OBJECT FREQ's error says so).
//!
//! The counter grows as redis's does (`LFULogIncr`): by one with probability
//! `1 / ((counter - 5) * lfu-log-factor + 1)`, so a key needs about a million accesses to reach
//! 255 with the default factor of 10; it loses one per `lfu-decay-time` minutes without access.
//! Only a shard leader's counts matter (only a leader picks keys to evict), so the randomness
//! needs no logging.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use rand::Rng;

/// The count a new key starts with (redis's `LFU_INIT_VAL`): new keys are not evicted before
/// they had a chance to be read.
pub const LFU_INIT_VAL: u8 = 5;

/// True while an LFU policy is selected.
static LFU: AtomicBool = AtomicBool::new(false);
/// `lfu-log-factor` (redis's default 10).
static LOG_FACTOR: AtomicU32 = AtomicU32::new(10);
/// `lfu-decay-time`, minutes (redis's default 1; 0 never decays).
static DECAY_TIME: AtomicU32 = AtomicU32::new(1);

/// Selects the LFU reading of the field (an LFU policy was selected) or the LRU one.
pub fn set_lfu(on: bool) {
    LFU.store(on, Ordering::Relaxed);
}

/// True while the field holds LFU counts.
pub fn lfu() -> bool {
    LFU.load(Ordering::Relaxed)
}

/// Sets `lfu-log-factor`.
pub fn set_log_factor(n: u32) {
    LOG_FACTOR.store(n, Ordering::Relaxed);
}

/// `lfu-log-factor`.
pub fn log_factor() -> u32 {
    LOG_FACTOR.load(Ordering::Relaxed)
}

/// Sets `lfu-decay-time`.
pub fn set_decay_time(minutes: u32) {
    DECAY_TIME.store(minutes, Ordering::Relaxed);
}

/// `lfu-decay-time`.
pub fn decay_time() -> u32 {
    DECAY_TIME.load(Ordering::Relaxed)
}

/// How to stamp entries now: the keyspace's clocks and, under an LFU policy, its settings.
#[derive(Clone, Copy, Debug)]
pub struct Stamp {
    /// The keyspace's seconds clock (modulo 2^16).
    pub seconds: u16,
    /// The keyspace's minutes clock (modulo 256).
    pub minutes: u8,
    /// `Some((log_factor, decay_time))` under an LFU policy.
    pub lfu: Option<(u32, u32)>,
}

impl Stamp {
    /// The stamp for the keyspace's clocks under the policy selected now.
    pub fn current(seconds: u16, minutes: u8) -> Stamp {
        Stamp {
            seconds,
            minutes,
            lfu: lfu().then(|| (log_factor(), decay_time())),
        }
    }

    /// The field of a new entry.
    pub fn new_entry(self) -> u16 {
        match self.lfu {
            Some(_) => pack(self.minutes, LFU_INIT_VAL),
            None => self.seconds,
        }
    }

    /// The field of an entry whose field was `old`, being read or written now.
    pub fn accessed(self, old: u16) -> u16 {
        match self.lfu {
            Some((factor, decay)) => {
                let counter = decayed(old, self.minutes, decay);
                pack(
                    self.minutes,
                    log_incr(counter, factor, rand::rng().random()),
                )
            }
            None => self.seconds,
        }
    }

    /// The count of an entry whose field is `field`, decayed to now, without changing it (what
    /// OBJECT FREQ answers and what the LFU policies compare).
    pub fn frequency(self, field: u16) -> u8 {
        decayed(field, self.minutes, self.lfu.map_or(0, |(_, d)| d))
    }
}

fn pack(minutes: u8, counter: u8) -> u16 {
    (u16::from(minutes) << 8) | u16::from(counter)
}

/// The counter in `field` less one per `decay_time` minutes since its minute (redis's
/// `LFUDecrAndReturn`; 0 never decays).
pub fn decayed(field: u16, now_minutes: u8, decay_time: u32) -> u8 {
    let [last, counter] = field.to_be_bytes();
    if decay_time == 0 {
        return counter;
    }
    let periods = u32::from(now_minutes.wrapping_sub(last)) / decay_time;
    counter.saturating_sub(u8::try_from(periods).unwrap_or(u8::MAX))
}

/// `counter` after one access, `r` a uniform draw in `[0, 1)` (redis's `LFULogIncr`).
pub fn log_incr(counter: u8, log_factor: u32, r: f64) -> u8 {
    if counter == u8::MAX {
        return counter;
    }
    let base = f64::from(counter.saturating_sub(LFU_INIT_VAL));
    let p = 1.0 / (base * f64::from(log_factor) + 1.0);
    if r < p {
        counter + 1
    } else {
        counter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_grow_logarithmically_as_redis_counts() {
        // Below the initial value every access counts.
        assert_eq!(log_incr(0, 10, 0.999), 1);
        assert_eq!(log_incr(5, 10, 0.999), 6);
        // Past it, with probability 1 / ((c - 5) * factor + 1).
        assert_eq!(log_incr(6, 10, 0.09), 7);
        assert_eq!(log_incr(6, 10, 0.091), 6);
        assert_eq!(log_incr(255, 0, 0.0), 255, "saturates");
        // About redis's table for factor 10: 1000 hits ~ 18 (from 5). One run of 1000 ranges
        // from 12 to 27 (a single run outside 14..=22 failed this test once): the mean of 200
        // runs, from a fixed seed, is what is checked (19.4 by simulation).
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(21);
        let total: u32 = (0..200)
            .map(|_| {
                let mut c = LFU_INIT_VAL;
                for _ in 0..1000 {
                    c = log_incr(c, 10, rng.random());
                }
                u32::from(c)
            })
            .sum();
        let mean = f64::from(total) / 200.0;
        assert!(
            (18.0..=21.0).contains(&mean),
            "1000 hits gave {mean} on average"
        );
    }

    #[test]
    fn counts_decay_one_per_period_across_the_minute_wrap() {
        let field = pack(250, 20);
        assert_eq!(decayed(field, 250, 1), 20);
        assert_eq!(decayed(field, 253, 1), 17);
        assert_eq!(decayed(field, 4, 1), 10, "wrapped: 10 minutes");
        assert_eq!(decayed(field, 4, 5), 18);
        assert_eq!(decayed(field, 200, 1), 0, "saturates at 0");
        assert_eq!(decayed(field, 200, 0), 20, "0 never decays");
    }

    #[test]
    fn stamps_follow_the_policy() {
        let lru = Stamp {
            seconds: 700,
            minutes: 9,
            lfu: None,
        };
        assert_eq!(lru.new_entry(), 700);
        assert_eq!(lru.accessed(3), 700);
        let lfu = Stamp {
            seconds: 700,
            minutes: 9,
            lfu: Some((10, 1)),
        };
        assert_eq!(lfu.new_entry(), pack(9, LFU_INIT_VAL));
        assert_eq!(lfu.frequency(lfu.new_entry()), LFU_INIT_VAL);
        // Read 5 minutes later: decayed by 5, then one more access at the initial value.
        let later = Stamp { minutes: 14, ..lfu };
        assert_eq!(later.accessed(pack(9, 5)), pack(14, 1));
    }
}
