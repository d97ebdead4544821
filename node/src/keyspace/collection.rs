//! What the collection types share in the keyspace: a small collection kept packed in its key's
//! entry, a large one in the side table (see [`Large`]), and one way to change either.
//!
//! A type says how its two forms map to entry kinds ([`Collection`]); [`Keyspace::update`]
//! does the rest for every type alike: the type check (WRONGTYPE), an expired key removed first,
//! the snapshot in progress given the old value before any change, the packed form read out of
//! the entry and written back (or moved to the side table once the type converted it), a
//! collection left empty removed with its key, and the byte count kept exact.

use super::packed::PackedList;
use super::{Entry, Keyspace, Kind, Large, WrongType};

/// A collection type as the keyspace stores it.
pub(super) trait Collection: Default {
    /// The entry kind of the packed form (its bytes in the entry).
    const PACKED: Kind;
    /// The entry kind of the table form (its index in the side table in the entry).
    const TABLE: Kind;

    /// The packed form from an entry's bytes (written by [`Collection::packed`]).
    fn from_packed(list: PackedList) -> Self;

    /// The packed bytes, when the collection is (still) in its packed form.
    fn packed(&self) -> Option<std::borrow::Cow<'_, [u8]>>;

    /// True when it holds nothing (its key must go).
    fn is_empty(&self) -> bool;

    /// What it costs beyond its entry (0 for the packed form).
    fn bytes(&self) -> usize;

    /// The side table's value of the table form.
    fn into_large(self) -> Large;

    /// This type's value in the side table, if `large` is one.
    fn in_large(large: &mut Large) -> Option<&mut Self>;
}

/// One step of a scan over a table's `len` positions (HSCAN, SSCAN, ZSCAN), from the last down,
/// as SCAN walks a slot map: `cursor` is how many positions are left to visit (0: all of them),
/// about `count` are visited, and the cursor to go on from comes back (0 once done). A removal
/// (`swap_remove`) only moves an already visited element, so one present for the whole scan is
/// always visited.
pub(super) fn scan_positions(
    len: usize,
    cursor: u64,
    count: usize,
    mut visit: impl FnMut(usize),
) -> u64 {
    let mut i = if cursor == 0 {
        len
    } else {
        (cursor as usize).min(len)
    };
    let mut visited = 0;
    while i > 0 && visited < count.max(1) {
        i -= 1;
        visit(i);
        visited += 1;
    }
    i as u64
}

impl Keyspace {
    /// Runs `f` on the collection of type `C` at `key` (a key past its deadline at `now` is
    /// removed first) and stores the result: in its entry while packed, in the side table once
    /// a table; a collection left empty removes its key, as redis does. An absent key is given
    /// an empty collection when `create` is set, else `f` does not run (`Ok(None)`).
    pub(super) fn update<C: Collection, R>(
        &mut self,
        key: &[u8],
        now: u64,
        create: bool,
        f: impl FnOnce(&mut C) -> R,
    ) -> Result<Option<R>, WrongType> {
        self.purge_if_expired(key, now);
        let Some(entry) = self.stored(key) else {
            if !create {
                return Ok(None);
            }
            let mut value = C::default();
            let reply = f(&mut value);
            if !value.is_empty() {
                self.store(key, value, 0);
            }
            return Ok(Some(reply));
        };
        let (kind, id, deadline) = (entry.kind, entry.large_id(), entry.deadline());
        if kind == C::PACKED {
            let mut value = C::from_packed(PackedList::from_bytes(entry.data()));
            let reply = f(&mut value);
            if value.is_empty() {
                self.remove(key);
            } else {
                self.store(key, value, deadline);
            }
            return Ok(Some(reply));
        }
        let Some(id) = id.filter(|_| kind == C::TABLE) else {
            return Err(WrongType);
        };
        self.before_change(key);
        self.touch(key);
        let Some(value) = self.large.get_mut(id).and_then(C::in_large) else {
            return Err(WrongType);
        };
        let before = value.bytes();
        let reply = f(value);
        let (after, empty) = (value.bytes(), value.is_empty());
        self.bytes = self.bytes + after - before;
        if empty {
            self.remove(key);
        }
        Ok(Some(reply))
    }

    /// Stores `value` under `key` with deadline `expires_at`, replacing any entry.
    pub(super) fn store<C: Collection>(&mut self, key: &[u8], value: C, expires_at: u64) {
        self.before_change(key);
        let mut entry = match value.packed() {
            Some(bytes) => Entry::new(key, C::PACKED, &bytes, expires_at),
            None => {
                self.bytes += value.bytes();
                let id = self.large.insert(value.into_large()) as u32;
                Entry::new(key, C::TABLE, &id.to_le_bytes(), expires_at)
            }
        };
        entry.set_mark(self.mark);
        entry.access = self.stamp().new_entry();
        let old = self.upsert(key, entry);
        self.carry_count(key, old.as_ref());
        self.reindex(key, old.as_ref().map_or(0, Entry::deadline), expires_at);
    }
}
