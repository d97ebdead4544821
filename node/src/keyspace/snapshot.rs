//! Snapshots taken while the shard goes on serving.
//!
//! Encoding a large keyspace takes long enough (a few hundred milliseconds for a few hundred
//! thousand keys on a busy machine) that a shard which stopped for it stalled its writes and
//! reads for as long. Instead the actor encodes the keyspace a few thousand entries at a time,
//! between messages, and the snapshot still shows the keyspace exactly as it was when it began:
//!
//! * Each entry carries a one-bit mark. When a snapshot begins, the keyspace flips its own mark,
//!   so every existing entry is "not yet taken"; entries created from then on get the new mark
//!   and are skipped (they are not part of the snapshot).
//! * Before any change to a key (insert over it, new value, new deadline, removal), the keyspace
//!   takes the entry into the snapshot first if it is not yet taken — so what the snapshot holds
//!   for a key is always its value from when the snapshot began.
//! * The cursor walks slot maps from the last to the first, and each map from its last index
//!   down. Removal is `swap_remove`, which moves only a map's last entry, into the hole: the
//!   entries the cursor has yet to visit never move above it, and an entry moved below it is
//!   either marked (skipped) or not yet visited — none is missed, none is taken twice.
//!
//! # Format
//! The snapshot data is what a follower receives and what a snapshot file holds after its own
//! header, so it carries its own version and checksum:
//!
//! ```text
//! [b"SHKS"][format u8 = 1][body][crc32c u32 LE of everything before it]
//! ```
//!
//! The body is what [`Keyspace::snapshot`](super::Keyspace::snapshot) encodes (a sequence of
//! `(key, value, deadline, version)`; formats before 6 had no version), with the entries in a
//! different order, which loading does not mind, then (from format 7) the sequence of
//! `(slot, deletion version)` of the slots whose deletion version is not 0
//! ([`Keyspace::deletion_version`](super::Keyspace::deletion_version), which WATCH's guard
//! reads, so every replica must hold the same). The checksum is computed a step at a time as the body grows, so finishing a snapshot
//! costs no extra pass over it. [`decode`] checks the magic, the format and the checksum before
//! it reads anything: damaged or foreign data is refused, never loaded.

use std::io;

use bytes::Bytes;

use super::{Item, Keyspace, RawBytes, Value, ValueView};
use crate::codec;

/// The first bytes of snapshot data.
const MAGIC: &[u8; 4] = b"SHKS";
/// The snapshot data format this release writes. Format 2 added hashes (value variant 3),
/// format 3 sets (variant 4), format 4 sorted sets (variant 5), format 5 lists (variant 6),
/// format 6 each key's version (a fourth field), format 7 the slots' deletion versions after
/// the keys. The older formats are read too: before 6, every key reads with version 0; before
/// 7, every slot with deletion version 0.
pub const FORMAT: u8 = 7;
/// The first format whose keys carry their version.
const VERSIONED_FORMAT: u8 = 6;
/// The first format with the slots' deletion versions.
const DELETIONS_FORMAT: u8 = 7;
/// The oldest format this release reads.
const OLDEST_FORMAT: u8 = 1;
/// Magic and format.
const HEADER_LEN: usize = 5;
/// The checksum after the body.
const TRAILER_LEN: usize = 4;

/// Frames an encoded body as snapshot data (header, body, checksum).
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len() + TRAILER_LEN);
    out.extend_from_slice(MAGIC);
    out.push(FORMAT);
    out.extend_from_slice(body);
    let crc = codec::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// True when `data` starts as snapshot data in the format this release writes (whatever the
/// rest holds): a damaged copy of this release's data, not a newer or older release's.
pub fn says_current_format(data: &[u8]) -> bool {
    data.len() > 4 && &data[..4] == MAGIC && (OLDEST_FORMAT..=FORMAT).contains(&data[4])
}

/// Checks snapshot data's magic, format and checksum; the body.
pub fn verify(data: &[u8]) -> io::Result<&[u8]> {
    if data.len() < HEADER_LEN + TRAILER_LEN || &data[..4] != MAGIC {
        return Err(invalid("not Shardis snapshot data (no SHKS header)".into()));
    }
    if !(OLDEST_FORMAT..=FORMAT).contains(&data[4]) {
        return Err(codec::unsupported_format("snapshot data", data[4], FORMAT));
    }
    let (checked, trailer) = data.split_at(data.len() - TRAILER_LEN);
    let mut stored = [0u8; 4];
    stored.copy_from_slice(trailer);
    let stored = u32::from_le_bytes(stored);
    let computed = codec::crc32c(checked);
    if stored != computed {
        return Err(invalid(format!(
            "snapshot data is damaged: checksum {computed:08x}, expected {stored:08x}"
        )));
    }
    Ok(&checked[HEADER_LEN..])
}

/// What snapshot data holds, decoded.
#[derive(Debug, Default)]
pub struct Contents {
    /// Every key ([`Keyspace::load`](super::Keyspace::load) takes them).
    pub items: Vec<Item>,
    /// `(slot, version)` of the slots whose deletion version is not 0.
    pub deletions: Vec<(u16, u32)>,
}

/// Decodes snapshot data (checked first, see [`verify`]).
pub fn decode(data: &[u8]) -> io::Result<Contents> {
    let body = verify(data)?;
    if data[4] >= DELETIONS_FORMAT {
        let (items, deletions) = codec::decode(body)?;
        return Ok(Contents { items, deletions });
    }
    if data[4] >= VERSIONED_FORMAT {
        return Ok(Contents {
            items: codec::decode(body)?,
            deletions: Vec::new(),
        });
    }
    let items: Vec<(Bytes, Value, u64)> = codec::decode(body)?;
    Ok(Contents {
        items: items
            .into_iter()
            .map(|(key, value, deadline)| (key, value, deadline, 0))
            .collect(),
        deletions: Vec::new(),
    })
}

/// A snapshot being encoded.
pub(super) struct Progress {
    /// The encoding so far: the header, the entry count, then the entries taken.
    out: Vec<u8>,
    /// The checksum of `out[..checked]`.
    digest: crc::Digest<'static, u32, crc::Table<16>>,
    checked: usize,
    /// Keys in the keyspace when the snapshot began: what must be taken.
    expected: usize,
    taken: usize,
    /// The slot map being walked (index into `Keyspace::slots`).
    slot: usize,
    /// Entries of that map at indices below this are still to be visited.
    below: usize,
    done: bool,
    /// The first encoding error; the snapshot fails with it.
    error: Option<io::Error>,
    /// The slots' deletion versions when the snapshot began: `(slot, version)`, not 0.
    deletions: Vec<(u16, u32)>,
}

impl Progress {
    fn take(&mut self, entry: &super::Entry, large: &slab::Slab<super::Large>) {
        let item = (
            RawBytes(entry.key()),
            ValueView(entry, large),
            entry.deadline(),
            entry.version,
        );
        if let Err(e) = codec::encode_append(&item, &mut self.out) {
            self.error.get_or_insert(e);
        }
        self.taken += 1;
    }
}

impl Keyspace {
    /// Starts a snapshot of the keyspace as it is now; [`Keyspace::snapshot_step`] moves it on.
    /// `capacity` presizes the output. A snapshot already in progress is completed first (and
    /// then dropped, unless taken).
    pub fn begin_snapshot(&mut self, capacity: usize) {
        self.finish_snapshot_now();
        self.mark = !self.mark;
        let mut out = Vec::with_capacity(capacity);
        out.extend_from_slice(MAGIC);
        out.push(FORMAT);
        // A sequence starts with its length: a varint, as every integer.
        let error = codec::encode_append(&(self.len as u64), &mut out).err();
        let last = self.slots.len().saturating_sub(1);
        self.snapshot = Some(Box::new(Progress {
            out,
            digest: codec::CRC32C.digest(),
            checked: 0,
            expected: self.len,
            taken: 0,
            slot: last,
            below: self.slots.get(last).map_or(0, |m| m.len()),
            done: false,
            error,
            deletions: self.deletion_versions(),
        }));
    }

    /// True while a snapshot is being encoded (begun and not yet complete).
    pub fn snapshot_in_progress(&self) -> bool {
        self.snapshot.as_ref().is_some_and(|p| !p.done)
    }

    /// Bytes the snapshot being encoded holds (0 when none): memory that goes once it is
    /// written, which `maxmemory` does not count (as redis does not count its child's).
    pub fn snapshot_buffer_bytes(&self) -> usize {
        self.snapshot.as_ref().map_or(0, |p| p.out.capacity())
    }

    /// Visits up to `budget` entries for the snapshot in progress. Returns true once it is
    /// complete (or when there is none).
    pub fn snapshot_step(&mut self, mut budget: usize) -> bool {
        let mark = self.mark;
        let Some(progress) = self.snapshot.as_deref_mut() else {
            return true;
        };
        while !progress.done && budget > 0 {
            let map = &mut self.slots[progress.slot];
            // Removals may have shrunk the map below the cursor.
            progress.below = progress.below.min(map.len());
            if progress.below == 0 {
                if progress.slot == 0 {
                    progress.done = true;
                } else {
                    progress.slot -= 1;
                    progress.below = self.slots[progress.slot].len();
                }
                continue;
            }
            progress.below -= 1;
            budget -= 1;
            if let Some(entry) = map.get_index_mut(progress.below) {
                if entry.has_mark() != mark {
                    entry.set_mark(mark);
                    progress.take(entry, &self.large);
                }
            }
        }
        // Checksummed a step at a time, while the new bytes are still in the cache.
        progress.digest.update(&progress.out[progress.checked..]);
        progress.checked = progress.out.len();
        progress.done
    }

    /// Completes the snapshot in progress, if any, here and now.
    pub fn finish_snapshot_now(&mut self) {
        if self.snapshot.is_some() {
            self.snapshot_step(usize::MAX);
        }
    }

    /// The encoded snapshot, once complete (`None` while it is in progress or when there is
    /// none). Fails if an entry could not be encoded or the count does not add up, so a wrong
    /// snapshot is never handed out.
    pub fn take_snapshot(&mut self) -> Option<io::Result<Vec<u8>>> {
        if !self.snapshot.as_ref()?.done {
            return None;
        }
        let progress = self.snapshot.take()?;
        Some(match progress.error {
            Some(e) => Err(e),
            None if progress.taken != progress.expected => Err(io::Error::other(format!(
                "snapshot took {} keys of {}",
                progress.taken, progress.expected
            ))),
            None => {
                let Progress {
                    mut out,
                    mut digest,
                    checked,
                    deletions,
                    ..
                } = *progress;
                if let Err(e) = codec::encode_append(&deletions, &mut out) {
                    return Some(Err(e));
                }
                digest.update(&out[checked..]);
                out.extend_from_slice(&digest.finalize().to_le_bytes());
                Ok(out)
            }
        })
    }

    /// Takes `key`'s entry into the snapshot in progress, if it is not taken yet (called before
    /// any change to it).
    pub(super) fn save_for_snapshot(&mut self, key: &[u8]) {
        let mark = self.mark;
        let Some(progress) = self.snapshot.as_deref_mut() else {
            return;
        };
        if progress.done {
            return;
        }
        let slot = usize::from(crate::slot::key_slot(key) - self.first_slot);
        let map = &mut self.slots[slot];
        if let Some(entry) = map.get_mut(key) {
            if entry.has_mark() != mark {
                entry.set_mark(mark);
                progress.take(entry, &self.large);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use proptest::prelude::*;

    use super::super::{Keyspace, Value};
    use crate::codec;

    use super::super::Item;

    fn sorted(mut items: Vec<Item>) -> Vec<Item> {
        items.sort_by(|a, b| a.0.cmp(&b.0));
        items
    }

    /// A change to the keyspace while a snapshot is in progress.
    #[derive(Clone, Debug)]
    enum Op {
        Insert(u8, u16, u64),
        Replace(u8, u16),
        Expire(u8, u64),
        Remove(u8),
        Step(u16),
        Clear,
        /// Sets a field of a hash; a long value makes it a table.
        HashSet(u8, u8, bool),
        HashDel(u8, u8),
        Rename(u8, u8),
        /// Adds a member to a set; a string member makes it a table.
        SetAdd(u8, u8, bool),
        /// Scores a member of a sorted set; a long member makes it a table.
        ZAdd(u8, u8, i8, bool),
        /// Pushes onto a list; a long element soon makes it a deque.
        Push(u8, u8, bool),
    }

    /// Few keys, most of them in one slot (a hash tag), so that removals move entries around
    /// the cursor inside a map.
    fn key(k: u8) -> Vec<u8> {
        if k.is_multiple_of(4) {
            format!("k{k}").into_bytes()
        } else {
            format!("{{tag}}{k}").into_bytes()
        }
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..40, any::<u16>(), 0u64..3).prop_map(|(k, v, e)| Op::Insert(k, v, e)),
            2 => (0u8..40, any::<u16>()).prop_map(|(k, v)| Op::Replace(k, v)),
            2 => (0u8..40, 0u64..3).prop_map(|(k, e)| Op::Expire(k, e)),
            4 => (0u8..40).prop_map(Op::Remove),
            3 => (0u16..8).prop_map(Op::Step),
            1 => Just(Op::Clear),
            4 => (0u8..40, 0u8..8, any::<bool>()).prop_map(|(k, f, l)| Op::HashSet(k, f, l)),
            2 => (0u8..40, 0u8..8).prop_map(|(k, f)| Op::HashDel(k, f)),
            1 => (0u8..40, 0u8..40).prop_map(|(a, b)| Op::Rename(a, b)),
            3 => (0u8..40, 0u8..8, any::<bool>()).prop_map(|(k, m, s)| Op::SetAdd(k, m, s)),
            3 => (0u8..40, 0u8..8, any::<i8>(), any::<bool>())
                .prop_map(|(k, m, s, l)| Op::ZAdd(k, m, s, l)),
            3 => (0u8..40, 0u8..8, any::<bool>()).prop_map(|(k, e, l)| Op::Push(k, e, l)),
        ]
    }

    fn apply(ks: &mut Keyspace, op: &Op) {
        match *op {
            Op::Insert(k, v, e) => ks.insert(&key(k), Value::Int(i64::from(v)), e * 1000),
            Op::Replace(k, v) => {
                ks.replace_value(&key(k), Value::Str(Bytes::from(format!("s{v}"))));
            }
            Op::Expire(k, e) => {
                ks.set_expiry(&key(k), e * 1000);
            }
            Op::Remove(k) => {
                ks.remove(&key(k));
            }
            Op::Step(n) => {
                ks.snapshot_step(usize::from(n));
            }
            Op::Clear => ks.clear(),
            Op::HashSet(k, f, long) => {
                let value = if long { vec![b'v'; 100] } else { b"v".to_vec() };
                let _ = ks.update_hash(&key(k), 0, true, |h| h.set(&[f], &value));
            }
            Op::HashDel(k, f) => {
                let _ = ks.update_hash(&key(k), 0, false, |h| h.remove(&[f]));
            }
            Op::Rename(a, b) => {
                ks.rename(&key(a), &key(b));
            }
            Op::Push(k, e, long) => {
                let item = if long { vec![e; 3000] } else { vec![e] };
                let _ = ks.update_list(&key(k), 0, true, |l| l.push(&item, e % 2 == 0));
            }
            Op::ZAdd(k, m, score, long) => {
                let member = if long {
                    format!("{m}{}", "x".repeat(70))
                } else {
                    m.to_string()
                };
                let _ = ks.update_zset(&key(k), 0, true, |z| {
                    z.set(member.as_bytes(), f64::from(score))
                });
            }
            Op::SetAdd(k, m, string) => {
                let member = if string {
                    format!("m{m}")
                } else {
                    m.to_string()
                };
                let _ = ks.update_set(&key(k), 0, true, |s| s.add(member.as_bytes()));
            }
        }
    }

    proptest! {
        #[test]
        fn a_snapshot_shows_the_keyspace_as_it_began(
            before in proptest::collection::vec(op(), 0..60),
            during in proptest::collection::vec(op(), 0..120),
            again in proptest::collection::vec(op(), 0..60),
        ) {
            let mut ks = Keyspace::new(0, 16383);
            for op in before.iter().filter(|o| !matches!(o, Op::Step(_))) {
                apply(&mut ks, op);
            }
            // Twice: the second snapshot starts from the marks the first one left.
            for changes in [&during, &again] {
                let expected = sorted(ks.dump());
                ks.begin_snapshot(0);
                for op in changes.iter() {
                    apply(&mut ks, op);
                }
                prop_assert_eq!(ks.recount(), (ks.bytes(), ks.large_len()));
                ks.finish_snapshot_now();
                let data = ks.take_snapshot().expect("complete").expect("encoded");
                let got: Vec<Item> = super::decode(&data).expect("decodes").items;
                prop_assert_eq!(sorted(got), expected);
                prop_assert!(ks.take_snapshot().is_none());
            }
        }
    }

    #[test]
    fn an_incremental_snapshot_encodes_like_the_whole_one() {
        let mut ks = Keyspace::new(0, 16383);
        for i in 0..500 {
            ks.insert(
                format!("key{i}").as_bytes(),
                Value::from_bytes(format!("v{i}").as_bytes()),
                i,
            );
        }
        let whole: Vec<Item> =
            codec::decode(&codec::encode(&ks.snapshot()).expect("encodes")).expect("decodes");
        ks.begin_snapshot(0);
        let mut steps = 0;
        while !ks.snapshot_step(7) {
            steps += 1;
        }
        assert!(steps > 10, "taken in steps");
        let data = ks.take_snapshot().expect("complete").expect("encoded");
        let got: Vec<Item> = super::decode(&data).expect("decodes").items;
        assert_eq!(sorted(got), sorted(whole));
    }

    #[test]
    fn snapshots_keep_each_keys_version_and_older_formats_read_as_version_0() {
        let mut ks = Keyspace::new(0, 16383);
        for i in 0..40u32 {
            ks.set_change_version(1000 + i);
            ks.insert(format!("key{i}").as_bytes(), Value::Int(i64::from(i)), 0);
        }
        ks.set_change_version(5000);
        let versions = |ks: &Keyspace| -> Vec<(Bytes, u32)> {
            let mut v: Vec<_> = ks.dump().into_iter().map(|(k, _, _, v)| (k, v)).collect();
            v.sort();
            v
        };
        let before = versions(&ks);
        assert!(before
            .iter()
            .all(|(k, v)| k.as_ref() == format!("key{}", v - 1000).as_bytes()));
        ks.begin_snapshot(0);
        ks.finish_snapshot_now();
        let data = ks.take_snapshot().expect("complete").expect("encoded");
        assert_eq!(data[4], super::FORMAT);
        let mut restored = Keyspace::new(0, 16383);
        restored.set_change_version(7);
        restored
            .install(super::decode(&data).expect("decodes"))
            .expect("loads");
        assert_eq!(versions(&restored), before);
        // Loading keeps the version the next changes get.
        restored.insert(b"new", Value::Int(1), 0);
        assert_eq!(restored.stored(b"new").map(|e| e.version()), Some(7));
        // Format 5 data (no versions) reads, every key at version 0.
        let triples: Vec<(Bytes, Value, u64)> = ks
            .dump()
            .into_iter()
            .map(|(k, value, deadline, _)| (k, value, deadline))
            .collect();
        let mut old = Vec::from(&b"SHKS"[..]);
        old.push(5);
        old.extend_from_slice(&codec::encode(&triples).expect("encodes"));
        let crc = codec::crc32c(&old);
        old.extend_from_slice(&crc.to_le_bytes());
        let items = super::decode(&old).expect("format 5 decodes").items;
        assert_eq!(items.len(), 40);
        assert!(items.iter().all(|(_, _, _, v)| *v == 0));
    }

    #[test]
    fn snapshots_keep_the_slots_deletion_versions_as_they_began() {
        // The `n`th key found in `slot`.
        let key_in = |slot: u16, n: usize| -> Vec<u8> {
            (0..)
                .map(|i| format!("k{i}").into_bytes())
                .filter(|k| crate::slot::key_slot(k) == slot)
                .nth(n)
                .expect("some key hashes there")
        };
        let mut ks = Keyspace::new(100, 200);
        ks.set_change_version(3);
        for (slot, n) in [(150, 0), (150, 1), (160, 0), (170, 0), (200, 0)] {
            ks.insert(&key_in(slot, n), Value::Int(1), 0);
        }
        ks.set_change_version(9);
        ks.remove(&key_in(150, 0));
        let before = ks.deletion_versions();
        assert_eq!(before, vec![(150, 9)]);
        ks.begin_snapshot(0);
        // A deletion after the snapshot began is not in it.
        ks.set_change_version(11);
        ks.remove(&key_in(160, 0));
        ks.finish_snapshot_now();
        let data = ks.take_snapshot().expect("complete").expect("encoded");
        let mut replica = Keyspace::new(100, 200);
        replica.set_change_version(40);
        replica.insert(&key_in(170, 0), Value::Int(1), 0);
        replica.remove(&key_in(170, 0));
        assert_eq!(replica.deletion_version(170), 40);
        replica
            .install(super::decode(&data).expect("decodes"))
            .expect("installs");
        assert_eq!(replica.deletion_versions(), before);
        assert_eq!(replica.deletion_version(150), 9);
        assert_eq!(replica.deletion_version(170), 0);
        // Deletion versions of slots a keyspace does not hold are refused.
        let mut other = Keyspace::new(0, 99);
        assert!(other
            .install(super::decode(&data).expect("decodes"))
            .is_err());
    }

    #[test]
    fn damaged_or_foreign_snapshot_data_is_refused() {
        let mut ks = Keyspace::new(0, 16383);
        for i in 0..50 {
            ks.insert(format!("key{i}").as_bytes(), Value::Int(i), 0);
        }
        ks.begin_snapshot(0);
        ks.finish_snapshot_now();
        let data = ks.take_snapshot().expect("complete").expect("encoded");
        assert_eq!(super::decode(&data).expect("decodes").items.len(), 50);
        // The same bytes as a one-shot encoding, framed.
        let body = (ks.snapshot(), ks.deletion_versions());
        let whole = super::frame(&codec::encode(&body).expect("encodes"));
        assert_eq!(super::decode(&whole).expect("decodes").items.len(), 50);
        // Any one byte changed anywhere is found.
        for at in [0, 4, 5, data.len() / 2, data.len() - 5, data.len() - 1] {
            let mut bad = data.clone();
            bad[at] ^= 0x20;
            let err = super::decode(&bad).expect_err("refused");
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "byte {at}");
        }
        // A newer format is named as such.
        let mut newer = data.clone();
        newer[4] = super::FORMAT + 1;
        let text = super::decode(&newer).expect_err("refused").to_string();
        assert!(text.contains("newer"), "{text}");
        // Cut short, or the old unframed encoding.
        assert!(super::decode(&data[..data.len() - 1]).is_err());
        assert!(super::decode(&codec::encode(&ks.snapshot()).expect("encodes")).is_err());
    }
}
