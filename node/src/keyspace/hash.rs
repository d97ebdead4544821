//! A hash's fields and values, in one of redis's two encodings.
//!
//! A small hash is a [`PackedList`] of fields and values alternating (`listpack`), kept in its
//! key's entry: one allocation for the key and the whole hash. A hash that grows past
//! `hash-max-listpack-entries` fields, or is given a field or value longer than
//! `hash-max-listpack-value` bytes ([`super::encoding`]), becomes a [`Table`] (`hashtable`) for
//! good — redis 7.0's rules and built-in defaults, so `OBJECT ENCODING` answers what it would. The keyspace keeps a table beside its slot maps (see
//! [`super::Keyspace::update_hash`]); this module only knows the two forms.

use std::borrow::Cow;
use std::hash::Hasher;

use indexmap::IndexSet;

use super::collection::{scan_positions, Collection};
use super::packed::{Packed, PackedList};
use super::{Kind, Large, SeededHasher};

use super::encoding::{hash_max_entries, hash_max_value};

/// A field and its value in one allocation (field bytes first), as a key's entry holds its key
/// and value.
pub struct Pair {
    buf: Box<[u8]>,
    field_len: u32,
}

/// What a table spends on a pair besides its bytes: the pair, its hash and its index slot.
const PAIR_OVERHEAD: usize = std::mem::size_of::<Pair>() + 16;

impl Pair {
    fn new(field: &[u8], value: &[u8]) -> Pair {
        let mut buf = Vec::with_capacity(field.len() + value.len());
        buf.extend_from_slice(field);
        buf.extend_from_slice(value);
        Pair {
            buf: buf.into_boxed_slice(),
            // Fields are bounded by proto-max-bulk-len, below 4 GiB.
            field_len: field.len() as u32,
        }
    }

    /// The field.
    pub fn field(&self) -> &[u8] {
        &self.buf[..self.field_len as usize]
    }

    /// The value.
    pub fn value(&self) -> &[u8] {
        &self.buf[self.field_len as usize..]
    }

    fn footprint(&self) -> usize {
        self.buf.len() + PAIR_OVERHEAD
    }
}

impl std::hash::Hash for Pair {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.field().hash(state);
    }
}

impl PartialEq for Pair {
    fn eq(&self, other: &Pair) -> bool {
        self.field() == other.field()
    }
}

impl Eq for Pair {}

impl std::borrow::Borrow<[u8]> for Pair {
    fn borrow(&self) -> &[u8] {
        self.field()
    }
}

/// A large hash: its pairs in an insertion-ordered set, which gives HRANDFIELD a uniform pick
/// by index and HSCAN the same cursor guarantee as SCAN (see [`super::Keyspace`]).
#[derive(Default)]
pub struct Table {
    pairs: IndexSet<Pair, SeededHasher>,
    bytes: usize,
}

impl Clone for Table {
    fn clone(&self) -> Table {
        let mut table = Table::default();
        for p in &self.pairs {
            table.set(p.field(), p.value());
        }
        table
    }
}

impl Table {
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let pair = Pair::new(field, value);
        self.bytes += pair.footprint();
        match self.pairs.replace(pair) {
            Some(old) => {
                self.bytes -= old.footprint();
                false
            }
            None => true,
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        match self.pairs.swap_remove_full(field) {
            Some((_, old)) => {
                self.bytes -= old.footprint();
                true
            }
            None => false,
        }
    }
}

/// A hash being changed: packed or a table.
#[derive(Clone)]
pub enum Hash {
    /// Fields and values alternating (`listpack`).
    Packed(PackedList),
    /// A table (`hashtable`).
    Table(Table),
}

impl Default for Hash {
    fn default() -> Hash {
        Hash::Packed(PackedList::new())
    }
}

impl Hash {
    /// A hash of `pairs` (the later of two equal fields wins), in the form redis would give it.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Hash {
        let mut hash = Hash::default();
        for (f, v) in pairs {
            hash.set(f, v);
        }
        hash
    }

    /// The hash as a read-only view.
    pub fn view(&self) -> HashView<'_> {
        match self {
            Hash::Packed(list) => HashView::Packed(list.view()),
            Hash::Table(table) => HashView::Table(table),
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            Hash::Packed(list) => list.len() / 2,
            Hash::Table(table) => table.pairs.len(),
        }
    }

    /// True when the hash has no field (and its key must go).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What the hash costs beyond its key's entry: 0 packed (its bytes are the entry's), the
    /// pairs and their overhead as a table.
    pub fn bytes(&self) -> usize {
        match self {
            Hash::Packed(_) => 0,
            Hash::Table(table) => table.bytes + std::mem::size_of::<Table>(),
        }
    }

    /// Sets `field` to `value`; true when the field is new. A field or value too long to pack,
    /// or one field too many, turns a packed hash into a table.
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        if field.len() > hash_max_value() || value.len() > hash_max_value() {
            self.make_table();
        }
        let added = match self {
            Hash::Packed(list) => match list.position(field, 0, 2) {
                Some(i) => {
                    list.replace(i + 1, value);
                    false
                }
                None => {
                    list.push_back(field);
                    list.push_back(value);
                    true
                }
            },
            Hash::Table(table) => table.set(field, value),
        };
        if self.len() > hash_max_entries() {
            self.make_table();
        }
        added
    }

    /// Removes `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Packed(list) => match list.position(field, 0, 2) {
                Some(i) => {
                    list.remove_range(i, 2);
                    true
                }
                None => false,
            },
            Hash::Table(table) => table.remove(field),
        }
    }

    /// Turns a packed hash into a table (a table stays one).
    fn make_table(&mut self) {
        if let Hash::Packed(list) = self {
            let mut table = Table::default();
            let mut items = list.iter();
            while let (Some(f), Some(v)) = (items.next(), items.next()) {
                table.set(&f.to_bytes(), &v.to_bytes());
            }
            *self = Hash::Table(table);
        }
    }
}

/// A field and its value as read: borrowed where stored as bytes, owned where stored as an
/// integer.
pub type FieldValue<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

impl Collection for Hash {
    const PACKED: Kind = Kind::HashPacked;
    const TABLE: Kind = Kind::HashTable;

    fn from_packed(list: PackedList) -> Hash {
        Hash::Packed(list)
    }

    fn packed(&self) -> Option<Cow<'_, [u8]>> {
        match self {
            Hash::Packed(list) => Some(Cow::Borrowed(list.as_bytes())),
            Hash::Table(_) => None,
        }
    }

    fn is_empty(&self) -> bool {
        Hash::is_empty(self)
    }

    fn bytes(&self) -> usize {
        Hash::bytes(self)
    }

    fn into_large(self) -> Large {
        Large::Hash(self)
    }

    fn in_large(large: &mut Large) -> Option<&mut Hash> {
        match large {
            Large::Hash(hash) => Some(hash),
            _ => None,
        }
    }
}

/// A hash as it is stored, read without a copy.
#[derive(Clone, Copy)]
pub enum HashView<'a> {
    /// Packed in its key's entry.
    Packed(Packed<'a>),
    /// A table.
    Table(&'a Table),
}

impl<'a> HashView<'a> {
    /// Number of fields.
    pub fn len(self) -> usize {
        match self {
            HashView::Packed(p) => p.len() / 2,
            HashView::Table(t) => t.pairs.len(),
        }
    }

    /// True when the hash has no field.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// About the bytes its fields and values take in memory (a packed hash's few: 0), what a
    /// reply of all of them costs too.
    pub fn bytes(self) -> usize {
        match self {
            HashView::Packed(_) => 0,
            HashView::Table(t) => t.bytes,
        }
    }

    /// The value of `field`.
    pub fn get(self, field: &[u8]) -> Option<Cow<'a, [u8]>> {
        match self {
            HashView::Packed(p) => {
                let i = p.position(field, 0, 2)?;
                p.iter().nth(i + 1).map(|v| v.to_bytes())
            }
            HashView::Table(t) => t.pairs.get(field).map(|p| Cow::Borrowed(p.value())),
        }
    }

    /// Every field and value, in the hash's order.
    pub fn pairs(self) -> Box<dyn Iterator<Item = FieldValue<'a>> + 'a> {
        match self {
            HashView::Packed(p) => {
                let mut items = p.iter();
                Box::new(std::iter::from_fn(move || {
                    Some((items.next()?.to_bytes(), items.next()?.to_bytes()))
                }))
            }
            HashView::Table(t) => Box::new(
                t.pairs
                    .iter()
                    .map(|p| (Cow::Borrowed(p.field()), Cow::Borrowed(p.value()))),
            ),
        }
    }

    /// The pair at position `index` (below [`HashView::len`]) in the hash's order.
    pub fn pair_at(self, index: usize) -> Option<FieldValue<'a>> {
        match self {
            HashView::Packed(_) => self.pairs().nth(index),
            HashView::Table(t) => t
                .pairs
                .get_index(index)
                .map(|p| (Cow::Borrowed(p.field()), Cow::Borrowed(p.value()))),
        }
    }

    /// The encoding's name for `OBJECT ENCODING`.
    pub fn encoding(self) -> &'static str {
        match self {
            HashView::Packed(_) => "listpack",
            HashView::Table(_) => "hashtable",
        }
    }

    /// One HSCAN step from `cursor`, visiting about `count` pairs; the cursor to go on from (0
    /// once done). A packed hash is returned whole at once, as redis does; a table is walked
    /// from its last index down, as SCAN walks a slot map: the cursor is how many pairs are
    /// left to visit, and a removal (`swap_remove`) only moves an already visited pair, so a
    /// pair present for the whole scan is always returned.
    pub fn scan(
        self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(Cow<'a, [u8]>, Cow<'a, [u8]>),
    ) -> u64 {
        match self {
            HashView::Packed(_) => {
                for (f, v) in self.pairs() {
                    visit(f, v);
                }
                0
            }
            HashView::Table(t) => scan_positions(t.pairs.len(), cursor, count, |i| {
                if let Some(p) = t.pairs.get_index(i) {
                    visit(Cow::Borrowed(p.field()), Cow::Borrowed(p.value()));
                }
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sorted(view: HashView<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut pairs: Vec<_> = view
            .pairs()
            .map(|(f, v)| (f.into_owned(), v.into_owned()))
            .collect();
        pairs.sort();
        pairs
    }

    #[test]
    fn a_hash_becomes_a_table_past_redis_thresholds() {
        let mut h = Hash::default();
        for i in 0..hash_max_entries() {
            h.set(format!("f{i}").as_bytes(), b"v");
        }
        assert_eq!(h.view().encoding(), "listpack");
        h.set(b"one-more", b"v");
        assert_eq!(h.view().encoding(), "hashtable");
        let mut long = Hash::default();
        long.set(b"f", &vec![b'x'; hash_max_value()]);
        assert_eq!(long.view().encoding(), "listpack");
        long.set(b"g", &vec![b'x'; hash_max_value() + 1]);
        assert_eq!(long.view().encoding(), "hashtable");
        assert_eq!(long.view().get(b"f").as_deref(), Some(&[b'x'; 64][..]));
        // Never back, as in redis 7.0.
        long.remove(b"g");
        assert_eq!(long.view().encoding(), "hashtable");
    }

    #[derive(Clone, Debug)]
    enum Op {
        Set(Vec<u8>, Vec<u8>),
        Remove(Vec<u8>),
    }

    fn field() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (0u8..40).prop_map(|n| n.to_string().into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..4),
            proptest::collection::vec(any::<u8>(), 60..70),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (field(), field()).prop_map(|(f, v)| Op::Set(f, v)),
            1 => field().prop_map(Op::Remove),
        ]
    }

    proptest! {
        /// Packed or table, a hash behaves as a map; and one built from its pairs is the same.
        #[test]
        fn both_forms_behave_as_a_map(ops in proptest::collection::vec(op(), 0..300)) {
            let mut h = Hash::default();
            let mut model = std::collections::BTreeMap::new();
            for op in ops {
                match op {
                    Op::Set(f, v) => {
                        prop_assert_eq!(h.set(&f, &v), model.insert(f, v).is_none());
                    }
                    Op::Remove(f) => {
                        prop_assert_eq!(h.remove(&f), model.remove(&f).is_some());
                    }
                }
                prop_assert_eq!(h.len(), model.len());
            }
            let expected: Vec<_> = model.clone().into_iter().collect();
            prop_assert_eq!(sorted(h.view()), expected.clone());
            for (f, v) in &model {
                let got = h.view().get(f).map(|v| v.into_owned());
                prop_assert_eq!(got, Some(v.clone()));
            }
            let copy = Hash::from_pairs(model.iter().map(|(f, v)| (&f[..], &v[..])));
            prop_assert_eq!(sorted(copy.view()), expected);
            // A scan in small steps returns every pair once.
            let mut seen = Vec::new();
            let mut cursor = 0;
            loop {
                cursor = h.view().scan(cursor, 3, |f, v| seen.push((f.into_owned(), v.into_owned())));
                if cursor == 0 {
                    break;
                }
            }
            seen.sort();
            prop_assert_eq!(seen, model.into_iter().collect::<Vec<_>>());
        }
    }
}
