//! The keys of one hash slot: the entries in a dense vector, and a hash table of their
//! positions.
//!
//! This is the layout of an insertion-ordered map (what `indexmap` does), cut down to what a
//! slot needs, because at this size the overheads decide the memory per key. A shard holds
//! thousands of slot maps of a few dozen keys each, and `IndexMap` stores each key's 8-byte
//! hash beside the entry and grows its entry vector to its table's capacity (112 places for 57
//! to 112 keys), so a 32-byte entry cost about 73 bytes of vector. Here a position costs
//! 4 bytes of table (plus hashbrown's control byte), hashes are computed again when needed
//! (a key's hash is cheap next to a lookup's cache miss), and the vector grows as a `Vec` does.
//!
//! What the keyspace relies on: positions are dense (`0..len`), and removal is `swap_remove`,
//! which moves only the *last* entry into the hole. SCAN and snapshots walk a slot from its
//! last position down, so an entry present for the whole walk is always reached.

use hashbrown::hash_table::Entry as TableEntry;
use hashbrown::HashTable;

use super::{Entry, HASH_SEED};

/// One hash slot's entries; see the module documentation.
#[derive(Default)]
pub(crate) struct SlotMap {
    entries: Vec<Entry>,
    /// The position in `entries` of each entry, hashed by its key.
    positions: HashTable<u32>,
}

fn hash_of(key: &[u8]) -> u64 {
    HASH_SEED.hash_one(key)
}

impl SlotMap {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the slot holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The position of `key`'s entry.
    pub fn position(&self, key: &[u8]) -> Option<usize> {
        if self.entries.is_empty() {
            return None;
        }
        let entries = &self.entries;
        self.positions
            .find(hash_of(key), |&at| entries[at as usize].key() == key)
            .map(|&at| at as usize)
    }

    /// `key`'s entry.
    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.position(key).map(|at| &self.entries[at])
    }

    /// `key`'s entry, to change anything but its key.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.position(key).map(|at| &mut self.entries[at])
    }

    /// The entry at `position`.
    pub fn get_index(&self, position: usize) -> Option<&Entry> {
        self.entries.get(position)
    }

    /// The entry at `position`, to change anything but its key.
    pub fn get_index_mut(&mut self, position: usize) -> Option<&mut Entry> {
        self.entries.get_mut(position)
    }

    /// Every entry, in position order.
    pub fn iter(&self) -> std::slice::Iter<'_, Entry> {
        self.entries.iter()
    }

    /// Puts `entry` in the map with one hash and one probe: in place of the entry with the same
    /// key (returned), or at the end.
    pub fn upsert(&mut self, entry: Entry) -> Option<Entry> {
        let entries = &mut self.entries;
        let slot = {
            let view = &*entries;
            self.positions.entry(
                hash_of(entry.key()),
                |&at| view[at as usize].key() == entry.key(),
                |&at| hash_of(view[at as usize].key()),
            )
        };
        match slot {
            TableEntry::Occupied(found) => Some(std::mem::replace(
                &mut entries[*found.get() as usize],
                entry,
            )),
            TableEntry::Vacant(vacant) => {
                // Positions are u32: a slot of a shard never holds 2^32 keys (memory runs out
                // long before), so the conversion cannot fail in practice.
                let at = u32::try_from(entries.len()).expect("fewer than 2^32 keys in a slot");
                vacant.insert(at);
                entries.push(entry);
                None
            }
        }
    }

    /// Removes `key`'s entry, moving the last entry into its place.
    pub fn swap_remove(&mut self, key: &[u8]) -> Option<Entry> {
        let entries = &self.entries;
        let found = self
            .positions
            .find_entry(hash_of(key), |&at| entries[at as usize].key() == key)
            .ok()?;
        let (at, _) = found.remove();
        let at = at as usize;
        let last = self.entries.len() - 1;
        if at != last {
            let moved = hash_of(self.entries[last].key());
            if let Some(position) = self.positions.find_mut(moved, |&p| p as usize == last) {
                *position = at as u32;
            }
        }
        let removed = self.entries.swap_remove(at);
        self.shrink_when_sparse();
        Some(removed)
    }

    /// Gives memory back once a slot is a quarter full (redis shrinks its tables too): a cache
    /// that evicted most of a slot's keys should not keep their places.
    fn shrink_when_sparse(&mut self) {
        let len = self.entries.len();
        if self.entries.capacity() > 16 && len * 4 < self.entries.capacity() {
            self.entries.shrink_to(len * 2);
            let entries = &self.entries;
            self.positions
                .shrink_to(len * 2, |&at| hash_of(entries[at as usize].key()));
        }
    }

    #[cfg(test)]
    /// Bytes the map's own storage takes (the vector's places and the table), besides what the
    /// entries point to.
    pub fn overhead(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>() + self.positions.allocation_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str) -> Entry {
        Entry::new(key.as_bytes(), super::super::Kind::Str, b"v", 0)
    }

    fn keys(map: &SlotMap) -> Vec<String> {
        map.iter()
            .map(|e| String::from_utf8_lossy(e.key()).into_owned())
            .collect()
    }

    #[test]
    fn upsert_replaces_in_place_and_appends_new_keys() {
        let mut map = SlotMap::default();
        assert!(map.upsert(entry("a")).is_none());
        assert!(map.upsert(entry("b")).is_none());
        let old = map.upsert(Entry::new(b"a", super::super::Kind::Str, b"w", 0));
        assert_eq!(old.map(|e| e.data().to_vec()), Some(b"v".to_vec()));
        assert_eq!(keys(&map), ["a", "b"]);
        assert_eq!(
            map.get(b"a").map(|e| e.data().to_vec()),
            Some(b"w".to_vec())
        );
        assert!(map.get(b"c").is_none());
    }

    #[test]
    fn swap_remove_moves_only_the_last_entry_and_keeps_lookups_right() {
        let mut map = SlotMap::default();
        for i in 0..200 {
            map.upsert(entry(&format!("k{i}")));
        }
        assert_eq!(
            map.swap_remove(b"k10").map(|e| e.key().to_vec()),
            Some(b"k10".to_vec())
        );
        assert_eq!(
            map.get_index(10).map(|e| e.key().to_vec()),
            Some(b"k199".to_vec())
        );
        assert!(map.swap_remove(b"k10").is_none());
        let full = map.overhead();
        // Remove most keys (the map shrinks on the way) and check every survivor is found at
        // the position it is listed at.
        for i in (0..200).filter(|i| i % 7 != 0) {
            map.swap_remove(format!("k{i}").as_bytes());
        }
        assert_eq!(map.len(), 29);
        for (at, e) in map.iter().enumerate() {
            assert_eq!(map.position(e.key()), Some(at));
        }
        // A quarter full or less, the map gave places back.
        assert!(
            map.overhead() * 2 < full,
            "{} then {}",
            full,
            map.overhead()
        );
        for i in (0..200).filter(|i| i % 7 == 0) {
            assert!(map.swap_remove(format!("k{i}").as_bytes()).is_some());
        }
        assert!(map.is_empty());
    }
}
