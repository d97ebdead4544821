//! A list's elements, packed while small, then a deque.
//!
//! Redis 7.0 keeps every list in a quicklist (a linked list of listpack nodes of at most 8 KiB,
//! `list-max-listpack-size -2`) and `OBJECT ENCODING` answers `quicklist` whatever its size.
//! Shardis keeps a list whose packed form fits in [`MAX_PACKED_BYTES`] in its key's entry (one
//! allocation, as redis's single-node quicklist), and a longer one as a deque of elements
//! beside the map. Both answer `quicklist`.

use std::borrow::Cow;
use std::collections::VecDeque;

use super::collection::Collection;
use super::packed::{Packed, PackedList};
use super::{Kind, Large};

/// Largest packed form kept in the entry (a quicklist node's 8 KiB).
pub const MAX_PACKED_BYTES: usize = 8 * 1024;

/// What a deque spends on an element besides its bytes.
const ELEMENT_OVERHEAD: usize = std::mem::size_of::<Box<[u8]>>();

/// A large list.
#[derive(Clone, Default)]
pub struct Deque {
    items: VecDeque<Box<[u8]>>,
    bytes: usize,
}

/// A list being changed.
#[derive(Clone)]
pub enum List {
    /// Packed in its key's entry.
    Packed(PackedList),
    /// A deque beside the map.
    Deque(Deque),
}

impl Default for List {
    fn default() -> List {
        List::Packed(PackedList::new())
    }
}

impl List {
    /// A list of `items`, in order.
    pub fn from_items<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> List {
        let mut list = List::default();
        for i in items {
            list.push(i, false);
        }
        list
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            List::Packed(p) => p.len(),
            List::Deque(d) => d.items.len(),
        }
    }

    /// True when empty (its key must go).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What it costs beyond its key's entry.
    pub fn bytes(&self) -> usize {
        match self {
            List::Packed(_) => 0,
            List::Deque(d) => d.bytes + std::mem::size_of::<Deque>(),
        }
    }

    /// Adds `item` at the head (`front`) or the tail.
    pub fn push(&mut self, item: &[u8], front: bool) {
        match self {
            List::Packed(p) => {
                if front {
                    p.push_front(item);
                } else {
                    p.push_back(item);
                }
            }
            List::Deque(d) => {
                d.bytes += item.len() + ELEMENT_OVERHEAD;
                if front {
                    d.items.push_front(Box::from(item));
                } else {
                    d.items.push_back(Box::from(item));
                }
            }
        }
        self.grow();
    }

    /// Removes and returns the head (`front`) or tail element.
    pub fn pop(&mut self, front: bool) -> Option<Vec<u8>> {
        match self {
            List::Packed(p) => {
                let i = if front { 0 } else { p.len().checked_sub(1)? };
                let item = p.get(i)?.to_bytes().into_owned();
                p.remove(i);
                Some(item)
            }
            List::Deque(d) => {
                let item = if front {
                    d.items.pop_front()
                } else {
                    d.items.pop_back()
                }?;
                d.bytes -= item.len() + ELEMENT_OVERHEAD;
                Some(item.into_vec())
            }
        }
    }

    /// The element at `index` (from the head).
    pub fn get(&self, index: usize) -> Option<Cow<'_, [u8]>> {
        match self {
            List::Packed(p) => p.get(index).map(|e| e.to_bytes()),
            List::Deque(d) => d.items.get(index).map(|i| Cow::Borrowed(&i[..])),
        }
    }

    /// Replaces the element at `index` (below the length).
    pub fn set(&mut self, index: usize, item: &[u8]) {
        match self {
            List::Packed(p) => p.replace(index, item),
            List::Deque(d) => {
                if let Some(slot) = d.items.get_mut(index) {
                    d.bytes = d.bytes + item.len() - slot.len();
                    *slot = Box::from(item);
                }
            }
        }
        self.grow();
    }

    /// Inserts `item` before the element at `index` (at the end when `index` is the length).
    pub fn insert(&mut self, index: usize, item: &[u8]) {
        match self {
            List::Packed(p) => p.insert(index, item),
            List::Deque(d) => {
                d.bytes += item.len() + ELEMENT_OVERHEAD;
                d.items.insert(index, Box::from(item));
            }
        }
        self.grow();
    }

    /// Removes the element at `index` (below the length).
    pub fn remove(&mut self, index: usize) {
        match self {
            List::Packed(p) => p.remove(index),
            List::Deque(d) => {
                if let Some(item) = d.items.remove(index) {
                    d.bytes -= item.len() + ELEMENT_OVERHEAD;
                }
            }
        }
    }

    /// Keeps only the elements at `start..end`.
    pub fn keep(&mut self, start: usize, end: usize) {
        let len = self.len();
        let end = end.min(len);
        let start = start.min(end);
        match self {
            List::Packed(p) => {
                p.remove_range(end, len - end);
                p.remove_range(0, start);
            }
            List::Deque(d) => {
                for item in d.items.drain(end..) {
                    d.bytes -= item.len() + ELEMENT_OVERHEAD;
                }
                for item in d.items.drain(..start) {
                    d.bytes -= item.len() + ELEMENT_OVERHEAD;
                }
            }
        }
    }

    /// The list as a read-only view.
    pub fn view(&self) -> ListView<'_> {
        match self {
            List::Packed(p) => ListView::Packed(p.view()),
            List::Deque(d) => ListView::Deque(d),
        }
    }

    /// Moves a packed list past its size to a deque (never back, as a quicklist keeps its
    /// nodes).
    fn grow(&mut self) {
        if let List::Packed(p) = self {
            if p.bytes() > MAX_PACKED_BYTES {
                let mut d = Deque::default();
                for e in p.iter() {
                    let item = e.to_bytes();
                    d.bytes += item.len() + ELEMENT_OVERHEAD;
                    d.items.push_back(Box::from(&item[..]));
                }
                *self = List::Deque(d);
            }
        }
    }
}

impl Collection for List {
    const PACKED: Kind = Kind::ListPacked;
    const TABLE: Kind = Kind::ListDeque;

    fn from_packed(list: PackedList) -> List {
        List::Packed(list)
    }

    fn packed(&self) -> Option<Cow<'_, [u8]>> {
        match self {
            List::Packed(p) => Some(Cow::Borrowed(p.as_bytes())),
            List::Deque(_) => None,
        }
    }

    fn is_empty(&self) -> bool {
        List::is_empty(self)
    }

    fn bytes(&self) -> usize {
        List::bytes(self)
    }

    fn into_large(self) -> Large {
        Large::List(self)
    }

    fn in_large(large: &mut Large) -> Option<&mut List> {
        match large {
            Large::List(l) => Some(l),
            _ => None,
        }
    }
}

/// A list as stored, read without a copy.
#[derive(Clone, Copy)]
pub enum ListView<'a> {
    /// Packed in its key's entry.
    Packed(Packed<'a>),
    /// A deque.
    Deque(&'a Deque),
}

impl<'a> ListView<'a> {
    /// Number of elements.
    pub fn len(self) -> usize {
        match self {
            ListView::Packed(p) => p.len(),
            ListView::Deque(d) => d.items.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The elements from `start` on, in order.
    pub fn iter_from(self, start: usize) -> Box<dyn Iterator<Item = Cow<'a, [u8]>> + 'a> {
        match self {
            ListView::Packed(p) => Box::new(p.iter().skip(start).map(|e| e.to_bytes())),
            ListView::Deque(d) => Box::new(
                d.items
                    .range(start.min(d.items.len())..)
                    .map(|i| Cow::Borrowed(&i[..])),
            ),
        }
    }

    /// The elements from the tail back.
    pub fn iter_rev(self) -> Box<dyn Iterator<Item = Cow<'a, [u8]>> + 'a> {
        match self {
            ListView::Packed(p) => {
                let all: Vec<_> = p.iter().map(|e| e.to_bytes()).collect();
                Box::new(all.into_iter().rev())
            }
            ListView::Deque(d) => Box::new(d.items.iter().rev().map(|i| Cow::Borrowed(&i[..]))),
        }
    }

    /// The element at `index`.
    pub fn get(self, index: usize) -> Option<Cow<'a, [u8]>> {
        self.iter_from(index).next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Push(Vec<u8>, bool),
        Pop(bool),
        Insert(usize, Vec<u8>),
        Remove(usize),
        Set(usize, Vec<u8>),
        Keep(usize, usize),
    }

    fn item() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (0i64..100).prop_map(|n| n.to_string().into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..300),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (item(), any::<bool>()).prop_map(|(i, f)| Op::Push(i, f)),
            2 => any::<bool>().prop_map(Op::Pop),
            1 => (any::<usize>(), item()).prop_map(|(n, i)| Op::Insert(n, i)),
            1 => any::<usize>().prop_map(Op::Remove),
            1 => (any::<usize>(), item()).prop_map(|(n, i)| Op::Set(n, i)),
            1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Keep(a, b)),
        ]
    }

    proptest! {
        /// Packed or deque, a list behaves as a deque of strings.
        #[test]
        fn both_forms_behave_as_a_deque(ops in proptest::collection::vec(op(), 0..200)) {
            let mut list = List::default();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for op in ops {
                match op {
                    Op::Push(i, front) => {
                        list.push(&i, front);
                        if front { model.push_front(i) } else { model.push_back(i) }
                    }
                    Op::Pop(front) => {
                        let want = if front { model.pop_front() } else { model.pop_back() };
                        prop_assert_eq!(list.pop(front), want);
                    }
                    Op::Insert(n, i) => {
                        let n = n % (model.len() + 1);
                        list.insert(n, &i);
                        model.insert(n, i);
                    }
                    Op::Remove(n) if !model.is_empty() => {
                        let n = n % model.len();
                        list.remove(n);
                        model.remove(n);
                    }
                    Op::Set(n, i) if !model.is_empty() => {
                        let n = n % model.len();
                        list.set(n, &i);
                        model[n] = i;
                    }
                    Op::Keep(a, b) => {
                        let len = model.len() + 1;
                        let (a, b) = (a % len, b % len);
                        list.keep(a, b);
                        let b = b.min(model.len());
                        let a = a.min(b);
                        model = model.into_iter().skip(a).take(b - a).collect();
                    }
                    _ => {}
                }
                prop_assert_eq!(list.len(), model.len());
            }
            let got: Vec<Vec<u8>> = list.view().iter_from(0).map(|c| c.into_owned()).collect();
            prop_assert_eq!(got, model.iter().cloned().collect::<Vec<_>>());
            let rev: Vec<Vec<u8>> = list.view().iter_rev().map(|c| c.into_owned()).collect();
            prop_assert_eq!(rev, model.iter().rev().cloned().collect::<Vec<_>>());
        }
    }
}
