//! Redis Cluster key slots: CRC16-XMODEM of the key (or of its `{hash tag}`) mod 16384, and the
//! fixed split of the 16384 slots into contiguous shard ranges.

use crc::{Crc, CRC_16_XMODEM};

/// Number of hash slots, as in Redis Cluster.
pub const SLOT_COUNT: u16 = 16384;

const CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_XMODEM);

/// The part of a key that is hashed: the text between the first `{` and the first `}` after it,
/// when that is not empty; else the whole key.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = memchr::memchr(b'{', key) {
        if let Some(len) = memchr::memchr(b'}', &key[open + 1..]) {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

/// The hash slot of a key.
pub fn key_slot(key: &[u8]) -> u16 {
    CRC16.checksum(hash_tag(key)) % SLOT_COUNT
}

/// How the 16384 slots are split into `shards` contiguous ranges (the first ranges one slot
/// longer when the split is uneven).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardMap {
    shards: u16,
}

impl ShardMap {
    /// A map with `shards` shards (1..=16384).
    pub fn new(shards: u16) -> ShardMap {
        ShardMap {
            shards: shards.clamp(1, SLOT_COUNT),
        }
    }

    /// Number of shards.
    pub fn shards(&self) -> usize {
        usize::from(self.shards)
    }

    /// The shard owning `slot`.
    pub fn shard_of_slot(&self, slot: u16) -> usize {
        let (base, extra) = self.split();
        let long = u32::from(extra) * (u32::from(base) + 1);
        let slot = u32::from(slot);
        if slot < long {
            (slot / (u32::from(base) + 1)) as usize
        } else {
            (u32::from(extra) + (slot - long) / u32::from(base)) as usize
        }
    }

    /// The inclusive slot range of `shard`.
    pub fn slot_range(&self, shard: usize) -> (u16, u16) {
        let (base, extra) = self.split();
        let shard = shard as u16;
        let start = shard * base + shard.min(extra);
        let len = base + u16::from(shard < extra);
        (start, start + len - 1)
    }

    fn split(&self) -> (u16, u16) {
        (SLOT_COUNT / self.shards, SLOT_COUNT % self.shards)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_test_vectors() {
        assert_eq!(CRC16.checksum(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(
            key_slot(b"{user1000}.following"),
            key_slot(b"{user1000}.followers")
        );
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
    }

    #[test]
    fn ranges_cover_every_slot_once() {
        for shards in [1u16, 3, 7, 16, 1000, 16384] {
            let map = ShardMap::new(shards);
            let mut next = 0u32;
            for s in 0..map.shards() {
                let (a, b) = map.slot_range(s);
                assert_eq!(u32::from(a), next);
                for slot in [a, b] {
                    assert_eq!(map.shard_of_slot(slot), s);
                }
                next = u32::from(b) + 1;
            }
            assert_eq!(next, 16384);
        }
    }
}
