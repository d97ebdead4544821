//! When a collection leaves its compact form: redis's `hash-max-listpack-entries`,
//! `hash-max-listpack-value`, `set-max-intset-entries`, `zset-max-listpack-entries`,
//! `zset-max-listpack-value` and `list-max-listpack-size`, settable with CONFIG SET.
//!
//! They are node settings, as in redis: they decide how a collection is laid out in memory and
//! what `OBJECT ENCODING` answers, never what it holds, so replicas with different settings
//! still hold the same data (snapshots keep collections in their logical form). As in redis, a
//! change applies to collections as they are next written: a hash already a table stays one.
//! The values are process-wide (one node per process), read with relaxed loads on each write.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

/// `hash-max-listpack-entries`: redis-server 7.0's built-in default, 512 (the `redis.conf` it
/// ships sets 128).
static HASH_MAX_ENTRIES: AtomicUsize = AtomicUsize::new(512);
/// `hash-max-listpack-value`.
static HASH_MAX_VALUE: AtomicUsize = AtomicUsize::new(64);
/// `set-max-intset-entries`.
static SET_MAX_INTSET_ENTRIES: AtomicUsize = AtomicUsize::new(512);
/// `zset-max-listpack-entries`.
static ZSET_MAX_ENTRIES: AtomicUsize = AtomicUsize::new(128);
/// `zset-max-listpack-value`.
static ZSET_MAX_VALUE: AtomicUsize = AtomicUsize::new(64);
/// `list-max-listpack-size`: negative, a node's size class (-1 4 KiB … -5 64 KiB); positive,
/// its most elements (within 8 KiB).
static LIST_MAX_SIZE: AtomicI64 = AtomicI64::new(-2);

/// One of the settings (CONFIG GET and SET name it).
#[derive(Clone, Copy)]
pub enum Setting {
    /// `hash-max-listpack-entries`.
    HashMaxEntries,
    /// `hash-max-listpack-value`.
    HashMaxValue,
    /// `set-max-intset-entries`.
    SetMaxIntsetEntries,
    /// `zset-max-listpack-entries`.
    ZSetMaxEntries,
    /// `zset-max-listpack-value`.
    ZSetMaxValue,
    /// `list-max-listpack-size`.
    ListMaxSize,
}

impl Setting {
    fn unsigned(self) -> Option<&'static AtomicUsize> {
        match self {
            Setting::HashMaxEntries => Some(&HASH_MAX_ENTRIES),
            Setting::HashMaxValue => Some(&HASH_MAX_VALUE),
            Setting::SetMaxIntsetEntries => Some(&SET_MAX_INTSET_ENTRIES),
            Setting::ZSetMaxEntries => Some(&ZSET_MAX_ENTRIES),
            Setting::ZSetMaxValue => Some(&ZSET_MAX_VALUE),
            Setting::ListMaxSize => None,
        }
    }

    /// The value, as CONFIG GET shows it.
    pub fn get(self) -> String {
        match self.unsigned() {
            Some(v) => v.load(Ordering::Relaxed).to_string(),
            None => LIST_MAX_SIZE.load(Ordering::Relaxed).to_string(),
        }
    }

    /// Sets it from CONFIG SET's text, with redis's checks and error texts.
    pub fn set(self, text: &[u8]) -> Result<(), String> {
        let n = crate::protocol::parse::parse_i64(text)
            .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
        match self.unsigned() {
            Some(v) => {
                if n < 0 {
                    return Err(
                        "argument must be between 0 and 9223372036854775807 inclusive".into(),
                    );
                }
                v.store(n as usize, Ordering::Relaxed);
            }
            None => {
                if i32::try_from(n).is_err() {
                    return Err(
                        "argument must be between -2147483648 and 2147483647 inclusive".into(),
                    );
                }
                LIST_MAX_SIZE.store(n, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

/// Most fields a packed hash holds.
pub fn hash_max_entries() -> usize {
    HASH_MAX_ENTRIES.load(Ordering::Relaxed)
}

/// Longest field or value a packed hash holds.
pub fn hash_max_value() -> usize {
    HASH_MAX_VALUE.load(Ordering::Relaxed)
}

/// Most members an intset holds.
pub fn set_max_intset_entries() -> usize {
    SET_MAX_INTSET_ENTRIES.load(Ordering::Relaxed)
}

/// Most members a packed sorted set holds.
pub fn zset_max_entries() -> usize {
    ZSET_MAX_ENTRIES.load(Ordering::Relaxed)
}

/// Longest member a packed sorted set holds.
pub fn zset_max_value() -> usize {
    ZSET_MAX_VALUE.load(Ordering::Relaxed)
}

/// The size classes of negative `list-max-listpack-size` values, -1 to -5.
const LIST_SIZE_CLASSES: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// The most bytes a node limited by its count may hold (redis's `SIZE_SAFETY_LIMIT`).
const LIST_SAFETY_BYTES: usize = 8192;

/// A list node's limits: most bytes, most elements (redis's `quicklistNodeLimit`).
pub fn list_node_limits() -> (usize, usize) {
    limits_of(LIST_MAX_SIZE.load(Ordering::Relaxed))
}

/// The node limits a `list-max-listpack-size` value means.
fn limits_of(fill: i64) -> (usize, usize) {
    if fill >= 0 {
        (LIST_SAFETY_BYTES, fill.max(1) as usize)
    } else {
        let class = ((-fill - 1) as usize).min(LIST_SIZE_CLASSES.len() - 1);
        (LIST_SIZE_CLASSES[class], usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_limits_follow_redis_quicklist() {
        for (fill, limits) in [
            (-1, (4096, usize::MAX)),
            (-2, (8192, usize::MAX)),
            (-5, (65536, usize::MAX)),
            (-9, (65536, usize::MAX)),
            (0, (8192, 1)),
            (100, (8192, 100)),
        ] {
            assert_eq!(limits_of(fill), limits, "{fill}");
        }
    }

    #[test]
    fn bad_values_are_refused_with_redis_texts_and_change_nothing() {
        // Only refused values here: the settings are the process's, shared by parallel tests.
        let list = Setting::ListMaxSize.get();
        assert_eq!(
            Setting::ListMaxSize.set(b"2147483648"),
            Err("argument must be between -2147483648 and 2147483647 inclusive".into())
        );
        assert_eq!(
            Setting::ListMaxSize.set(b"x"),
            Err("argument couldn't be parsed into an integer".into())
        );
        assert_eq!(Setting::ListMaxSize.get(), list);
        assert_eq!(
            Setting::HashMaxValue.set(b"-1"),
            Err("argument must be between 0 and 9223372036854775807 inclusive".into())
        );
        assert_eq!(Setting::HashMaxValue.get(), "64");
    }
}
