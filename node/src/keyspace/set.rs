//! A set's members, in one of redis 7.0's two encodings.
//!
//! A set of integers only, at most `set-max-intset-entries` of them ([`super::encoding`]), is an
//! *intset*: the integers
//! sorted, packed in its key's entry ([`PackedList`] stores each as a varint). A member that is
//! not the canonical text of an `i64`, or one member too many, makes it a [`Table`]
//! (`hashtable`) for good — redis 7.0's rule and built-in default (`set-max-intset-entries`;
//! redis 7.0 has no listpack sets, so a small set of strings is a table there too). An intset
//! answers in ascending order, as redis's does.

use std::borrow::Cow;

use indexmap::IndexSet;

use super::collection::{scan_positions, Collection};
use super::packed::{Elem, Packed, PackedList};
use super::{Kind, Large, SeededHasher};

use super::encoding::set_max_intset_entries;

/// What a table spends on a member besides its bytes: the box, its hash and its index slot.
const MEMBER_OVERHEAD: usize = std::mem::size_of::<Box<[u8]>>() + 16;

/// A large set, or one with a member that is not an integer: its members in an
/// insertion-ordered set (a uniform pick by index for SPOP and SRANDMEMBER, and SSCAN's cursor
/// guarantee, as for hashes).
#[derive(Default, Clone)]
pub struct Table {
    members: IndexSet<Box<[u8]>, SeededHasher>,
    bytes: usize,
}

impl Table {
    fn add(&mut self, member: &[u8]) -> bool {
        let added = self.members.insert(Box::from(member));
        if added {
            self.bytes += member.len() + MEMBER_OVERHEAD;
        }
        added
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        let removed = self.members.swap_remove(member);
        if removed {
            self.bytes -= member.len() + MEMBER_OVERHEAD;
        }
        removed
    }
}

/// A set being changed: an intset or a table.
#[derive(Clone)]
pub enum Set {
    /// Integers in ascending order (`intset`).
    Ints(PackedList),
    /// A table (`hashtable`).
    Table(Table),
}

impl Default for Set {
    fn default() -> Set {
        Set::Ints(PackedList::new())
    }
}

impl Set {
    /// A set of `members`, in the form redis would give it.
    pub fn from_members<'a>(members: impl IntoIterator<Item = &'a [u8]>) -> Set {
        let mut set = Set::default();
        for m in members {
            set.add(m);
        }
        set
    }

    /// The set as a read-only view.
    pub fn view(&self) -> SetView<'_> {
        match self {
            Set::Ints(list) => SetView::Ints(list.view()),
            Set::Table(table) => SetView::Table(table),
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            Set::Ints(list) => list.len(),
            Set::Table(table) => table.members.len(),
        }
    }

    /// True when the set has no member (and its key must go).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What the set costs beyond its key's entry (0 as an intset: its bytes are the entry's).
    pub fn bytes(&self) -> usize {
        match self {
            Set::Ints(_) => 0,
            Set::Table(table) => table.bytes + std::mem::size_of::<Table>(),
        }
    }

    /// Adds `member`; true when it is new. A member that is not an integer, or one member too
    /// many, turns an intset into a table.
    pub fn add(&mut self, member: &[u8]) -> bool {
        if let (Set::Ints(list), Elem::Int(n)) = (&mut *self, Elem::of(member)) {
            match ints_position(list, n) {
                Ok(_) => return false,
                Err(at) if list.len() < set_max_intset_entries() => {
                    list.insert(at, member);
                    return true;
                }
                Err(_) => {}
            }
        }
        self.make_table();
        match self {
            Set::Table(table) => table.add(member),
            Set::Ints(_) => false,
        }
    }

    /// Removes `member`; true when it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Ints(list) => match Elem::of(member) {
                Elem::Int(n) => match ints_position(list, n) {
                    Ok(at) => {
                        list.remove(at);
                        true
                    }
                    Err(_) => false,
                },
                Elem::Str(_) => false,
            },
            Set::Table(table) => table.remove(member),
        }
    }

    /// Turns an intset into a table (a table stays one).
    fn make_table(&mut self) {
        if let Set::Ints(list) = self {
            let mut table = Table::default();
            for m in list.iter() {
                table.add(&m.to_bytes());
            }
            *self = Set::Table(table);
        }
    }
}

/// Where `n` is in the ascending integers of `list`: `Ok(index)`, or `Err(index)` to insert at.
fn ints_position(list: &PackedList, n: i64) -> Result<usize, usize> {
    for (i, e) in list.iter().enumerate() {
        match e {
            Elem::Int(m) if m == n => return Ok(i),
            Elem::Int(m) if m > n => return Err(i),
            _ => {}
        }
    }
    Err(list.len())
}

impl Collection for Set {
    const PACKED: Kind = Kind::SetInts;
    const TABLE: Kind = Kind::SetTable;

    fn from_packed(list: PackedList) -> Set {
        Set::Ints(list)
    }

    fn packed(&self) -> Option<Cow<'_, [u8]>> {
        match self {
            Set::Ints(list) => Some(Cow::Borrowed(list.as_bytes())),
            Set::Table(_) => None,
        }
    }

    fn is_empty(&self) -> bool {
        Set::is_empty(self)
    }

    fn bytes(&self) -> usize {
        Set::bytes(self)
    }

    fn into_large(self) -> Large {
        Large::Set(self)
    }

    fn in_large(large: &mut Large) -> Option<&mut Set> {
        match large {
            Large::Set(set) => Some(set),
            _ => None,
        }
    }
}

/// A set as it is stored, read without a copy.
#[derive(Clone, Copy)]
pub enum SetView<'a> {
    /// An intset in its key's entry.
    Ints(Packed<'a>),
    /// A table.
    Table(&'a Table),
}

impl<'a> SetView<'a> {
    /// Number of members.
    pub fn len(self) -> usize {
        match self {
            SetView::Ints(p) => p.len(),
            SetView::Table(t) => t.members.len(),
        }
    }

    /// True when the set has no member.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// About the bytes its members take in memory (an intset's few: 0), what a reply of all
    /// of them costs too.
    pub fn bytes(self) -> usize {
        match self {
            SetView::Ints(_) => 0,
            SetView::Table(t) => t.bytes,
        }
    }

    /// True when `member` is in the set.
    pub fn contains(self, member: &[u8]) -> bool {
        match self {
            SetView::Ints(p) => match Elem::of(member) {
                Elem::Int(n) => p.iter().any(|e| e == Elem::Int(n)),
                Elem::Str(_) => false,
            },
            SetView::Table(t) => t.members.contains(member),
        }
    }

    /// Every member, in the set's order (ascending for an intset).
    pub fn members(self) -> Box<dyn Iterator<Item = Cow<'a, [u8]>> + 'a> {
        match self {
            SetView::Ints(p) => Box::new(p.iter().map(Elem::to_bytes)),
            SetView::Table(t) => Box::new(t.members.iter().map(|m| Cow::Borrowed(&m[..]))),
        }
    }

    /// The members at `indexes` (each below [`SetView::len`]), in that order.
    pub fn members_at(self, indexes: &[usize]) -> Vec<Cow<'a, [u8]>> {
        match self {
            SetView::Ints(_) => {
                let all: Vec<_> = self.members().collect();
                indexes
                    .iter()
                    .filter_map(|&i| all.get(i).cloned())
                    .collect()
            }
            SetView::Table(t) => indexes
                .iter()
                .filter_map(|&i| t.members.get_index(i).map(|m| Cow::Borrowed(&m[..])))
                .collect(),
        }
    }

    /// The encoding's name for `OBJECT ENCODING`.
    pub fn encoding(self) -> &'static str {
        match self {
            SetView::Ints(_) => "intset",
            SetView::Table(_) => "hashtable",
        }
    }

    /// One SSCAN step, as [`super::hash::HashView::scan`]: an intset whole at once, a table
    /// from its last index down.
    pub fn scan(self, cursor: u64, count: usize, mut visit: impl FnMut(Cow<'a, [u8]>)) -> u64 {
        match self {
            SetView::Ints(_) => {
                self.members().for_each(visit);
                0
            }
            SetView::Table(t) => scan_positions(t.members.len(), cursor, count, |i| {
                if let Some(m) = t.members.get_index(i) {
                    visit(Cow::Borrowed(&m[..]));
                }
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn members(view: SetView<'_>) -> Vec<Vec<u8>> {
        view.members().map(|m| m.into_owned()).collect()
    }

    #[test]
    fn an_intset_is_sorted_and_becomes_a_table_as_redis_decides() {
        let mut s = Set::default();
        for m in ["5", "-3", "100", "5", "0"] {
            s.add(m.as_bytes());
        }
        assert_eq!(s.view().encoding(), "intset");
        assert_eq!(
            members(s.view()),
            ["-3", "0", "5", "100"].map(|m| m.as_bytes().to_vec())
        );
        assert!(s.view().contains(b"100") && !s.view().contains(b"0100"));
        s.add(b"007");
        assert_eq!(s.view().encoding(), "hashtable", "not canonical: a string");
        let mut big = Set::default();
        for i in 0..set_max_intset_entries() {
            big.add(i.to_string().as_bytes());
        }
        assert_eq!(big.view().encoding(), "intset");
        big.add(b"-1");
        assert_eq!(big.view().encoding(), "hashtable");
        assert_eq!(big.len(), set_max_intset_entries() + 1);
    }

    fn member() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => (-50i64..50).prop_map(|n| n.to_string().into_bytes()),
            1 => proptest::collection::vec(any::<u8>(), 0..4),
        ]
    }

    proptest! {
        /// Intset or table, a set behaves as a set of strings.
        #[test]
        fn both_forms_behave_as_a_set(ops in proptest::collection::vec((any::<bool>(), member()), 0..300)) {
            let mut s = Set::default();
            let mut model = std::collections::BTreeSet::new();
            for (add, m) in ops {
                if add {
                    prop_assert_eq!(s.add(&m), model.insert(m));
                } else {
                    prop_assert_eq!(s.remove(&m), model.remove(&m));
                }
                prop_assert_eq!(s.len(), model.len());
            }
            let mut got = members(s.view());
            got.sort();
            prop_assert_eq!(got, model.iter().cloned().collect::<Vec<_>>());
            for m in &model {
                prop_assert!(s.view().contains(m));
            }
            let mut seen = Vec::new();
            let mut cursor = 0;
            loop {
                cursor = s.view().scan(cursor, 3, |m| seen.push(m.into_owned()));
                if cursor == 0 {
                    break;
                }
            }
            seen.sort();
            prop_assert_eq!(seen, model.into_iter().collect::<Vec<_>>());
        }
    }
}
