//! A list's elements, packed while small, then a deque of packed nodes.
//!
//! Redis 7.0 keeps every list in a quicklist (a linked list of listpack nodes of at most 8 KiB,
//! `list-max-listpack-size -2`) and `OBJECT ENCODING` answers `quicklist` whatever its size.
//! Shardis keeps a list that fits in one node in its key's entry (one allocation, as redis's
//! single-node quicklist), and a longer one as the same thing redis keeps: a deque of packed
//! nodes ([`Deque`]), beside the map, so that an element costs its bytes and a header byte or
//! two, not an allocation of its own. A node's limits are redis's, from `list-max-listpack-size`
//! ([`super::encoding::list_node_limits`]: 8 KiB by default). Both answer `quicklist`.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

use super::collection::Collection;
use super::packed::{Elem, Packed, PackedList};
use super::{Kind, Large};
use crate::protocol::frame::{bulk, BulkChunks};

use super::encoding::list_node_limits;

/// What a node costs besides its buffer: the deque's slot, the shared allocation holding the
/// node (its two counts and the node itself) and an allocation's header.
const NODE_OVERHEAD: usize = std::mem::size_of::<Arc<PackedList>>()
    + 2 * std::mem::size_of::<usize>()
    + std::mem::size_of::<PackedList>()
    + 16;

/// The most an element's header adds to its bytes in a packed node (a varint of its length).
const HEADER_MAX: usize = 10;

/// A large list: packed nodes in order, none empty.
///
/// Nodes are shared (`Arc`): a long LRANGE takes the nodes it covers, not a copy of their
/// elements ([`ListRange`]), and is written out from them while the list goes on changing; a
/// change to a node still shared copies that node first (8 KiB at most), never the list.
#[derive(Clone, Default)]
pub struct Deque {
    nodes: VecDeque<Arc<PackedList>>,
    len: usize,
    /// What the nodes cost: their buffers' capacity and [`NODE_OVERHEAD`] each.
    bytes: usize,
}

impl Deque {
    fn cost(node: &PackedList) -> usize {
        node.capacity() + NODE_OVERHEAD
    }

    /// The node holding element `index` (below the length) and its position there, walking
    /// from the nearer end.
    fn locate(&self, index: usize) -> (usize, usize) {
        if index < self.len / 2 {
            let mut at = index;
            for (n, node) in self.nodes.iter().enumerate() {
                if at < node.len() {
                    return (n, at);
                }
                at -= node.len();
            }
        } else {
            let mut from_end = self.len - index;
            for (n, node) in self.nodes.iter().enumerate().rev() {
                if from_end <= node.len() {
                    return (n, node.len() - from_end);
                }
                from_end -= node.len();
            }
        }
        (self.nodes.len().saturating_sub(1), 0)
    }

    /// Runs `f` on node `n`, keeping the byte count, and drops the node if it is left empty.
    fn change<R>(&mut self, n: usize, f: impl FnOnce(&mut PackedList) -> R) -> R {
        let Some(shared) = self.nodes.get_mut(n) else {
            return f(&mut PackedList::new());
        };
        // Counted before a copy on write: the copy's buffer may be smaller than the original.
        let before = Deque::cost(shared);
        let node = Arc::make_mut(shared);
        let (r, after, empty) = {
            let r = f(node);
            (r, Deque::cost(node), node.is_empty())
        };
        self.bytes = self.bytes + after - before;
        if empty {
            self.bytes -= after;
            self.nodes.remove(n);
        }
        r
    }

    fn push(&mut self, item: &[u8], front: bool) {
        let end = if front {
            Some(0)
        } else {
            self.nodes.len().checked_sub(1)
        };
        let (max_bytes, max_count) = list_node_limits();
        let fits = end.and_then(|n| self.nodes.get(n)).is_some_and(|node| {
            node.bytes() + item.len() + HEADER_MAX <= max_bytes && node.len() < max_count
        });
        match end {
            Some(n) if fits => self.change(n, |node| {
                if front {
                    node.push_front(item)
                } else {
                    node.push_back(item)
                }
            }),
            _ => {
                // A node's full size at once: grown by doubling from its first element's, the
                // buffer would end up near twice that.
                let mut node = PackedList::with_capacity(max_bytes.max(item.len() + HEADER_MAX));
                node.push_back(item);
                self.bytes += Deque::cost(&node);
                if front {
                    self.nodes.push_front(Arc::new(node));
                } else {
                    self.nodes.push_back(Arc::new(node));
                }
            }
        }
        self.len += 1;
    }

    fn pop(&mut self, front: bool) -> Option<Vec<u8>> {
        let n = if front {
            0
        } else {
            self.nodes.len().checked_sub(1)?
        };
        let item = self.change(n, |node| {
            let i = if front { 0 } else { node.len().checked_sub(1)? };
            let item = node.get(i)?.to_bytes().into_owned();
            node.remove(i);
            Some(item)
        })?;
        self.len -= 1;
        Some(item)
    }

    fn get(&self, index: usize) -> Option<Cow<'_, [u8]>> {
        if index >= self.len {
            return None;
        }
        let (n, at) = self.locate(index);
        self.nodes.get(n)?.get(at).map(|e| e.to_bytes())
    }

    fn set(&mut self, index: usize, item: &[u8]) {
        if index >= self.len {
            return;
        }
        let (n, at) = self.locate(index);
        self.change(n, |node| node.replace(at, item));
        self.split(n);
    }

    fn insert(&mut self, index: usize, item: &[u8]) {
        if index >= self.len {
            self.push(item, false);
            return;
        }
        let (n, at) = self.locate(index);
        self.change(n, |node| node.insert(at, item));
        self.len += 1;
        self.split(n);
    }

    fn remove(&mut self, index: usize) {
        if index >= self.len {
            return;
        }
        let (n, at) = self.locate(index);
        let count = self.nodes.len();
        self.change(n, |node| node.remove(at));
        self.len -= 1;
        if self.nodes.len() == count {
            self.merge(n);
        }
    }

    /// Keeps only the elements at `start..end` (`end` at most the length).
    fn keep(&mut self, start: usize, end: usize) {
        let mut drop_back = self.len - end;
        while drop_back > 0 {
            let last = self.nodes.len() - 1;
            let n = self.nodes[last].len();
            let k = n.min(drop_back);
            self.change(last, |node| node.remove_range(n - k, k));
            drop_back -= k;
        }
        let mut drop_front = start;
        while drop_front > 0 {
            let k = self.nodes[0].len().min(drop_front);
            self.change(0, |node| node.remove_range(0, k));
            drop_front -= k;
        }
        self.len = end - start;
    }

    /// Splits node `n` (in two, and those again as needed) when a change took it past a
    /// node's limits.
    fn split(&mut self, n: usize) {
        let Some(node) = self.nodes.get(n) else {
            return;
        };
        let (max_bytes, max_count) = list_node_limits();
        if (node.bytes() <= max_bytes && node.len() <= max_count) || node.len() < 2 {
            return;
        }
        let half = node.len() / 2;
        let mut tail = PackedList::new();
        for e in node.iter().skip(half) {
            tail.push_back(&e.to_bytes());
        }
        let count = node.len() - half;
        self.change(n, |node| {
            node.remove_range(half, count);
            node.shrink_to_fit();
        });
        self.bytes += Deque::cost(&tail);
        self.nodes.insert(n + 1, Arc::new(tail));
        // Halves by count: one may hold a large element and still be too big.
        self.split(n + 1);
        self.split(n);
    }

    /// Joins node `n` into a neighbour once it is down to a quarter of a node and they fit in
    /// one, so that removals do not leave a trail of tiny nodes.
    fn merge(&mut self, n: usize) {
        let Some(node) = self.nodes.get(n) else {
            return;
        };
        let (max_bytes, max_count) = list_node_limits();
        if node.bytes() > max_bytes / 4 {
            return;
        }
        let fits = |other: &Arc<PackedList>| {
            other.bytes() + node.bytes() <= max_bytes && other.len() + node.len() <= max_count
        };
        let (into, from) = if n + 1 < self.nodes.len() && fits(&self.nodes[n + 1]) {
            (n, n + 1)
        } else if n > 0 && fits(&self.nodes[n - 1]) {
            (n - 1, n)
        } else {
            return;
        };
        let Some(moved) = self.nodes.remove(from) else {
            return;
        };
        self.bytes -= Deque::cost(&moved);
        self.change(into, |node| {
            for e in moved.iter() {
                node.push_back(&e.to_bytes());
            }
        });
    }

    /// Elements `start..start + count` (within the list) as a [`ListRange`]: the nodes they lie
    /// in, shared, found in O(nodes).
    fn range(&self, start: usize, count: usize) -> ListRange {
        let count = count.min(self.len.saturating_sub(start));
        let mut range = ListRange {
            nodes: Vec::new(),
            skip: 0,
            last_end: 0,
            count,
        };
        if count == 0 {
            return range;
        }
        let (n, at) = self.locate(start);
        range.skip = at;
        // Elements still wanted counting from the first node's start.
        let mut left = count + at;
        for node in self.nodes.range(n..) {
            range.nodes.push(Arc::clone(node));
            if left <= node.len() {
                range.last_end = left;
                break;
            }
            left -= node.len();
        }
        range
    }

    /// The elements from `start` on, in order.
    fn iter_from(&self, start: usize) -> Box<dyn Iterator<Item = Cow<'_, [u8]>> + '_> {
        if start >= self.len {
            return Box::new(std::iter::empty());
        }
        let (n, at) = self.locate(start);
        Box::new(
            self.nodes
                .range(n..)
                .enumerate()
                .flat_map(move |(k, node)| {
                    node.iter()
                        .skip(if k == 0 { at } else { 0 })
                        .map(|e| e.to_bytes())
                }),
        )
    }

    /// Checks what the deque keeps about itself (tests).
    #[cfg(test)]
    fn check(&self) -> Result<(), String> {
        let len: usize = self.nodes.iter().map(|n| n.len()).sum();
        let bytes: usize = self.nodes.iter().map(|n| Deque::cost(n)).sum();
        if len != self.len || bytes != self.bytes {
            return Err(format!(
                "len {} (kept {}), bytes {bytes} (kept {})",
                len, self.len, self.bytes
            ));
        }
        let (max_bytes, max_count) = list_node_limits();
        let oversized =
            |n: &Arc<PackedList>| n.len() > 1 && (n.bytes() > max_bytes || n.len() > max_count);
        if self.nodes.iter().any(|n| n.is_empty() || oversized(n)) {
            return Err("an empty or oversized node".into());
        }
        Ok(())
    }

    /// The elements from the tail back.
    fn iter_rev(&self) -> Box<dyn Iterator<Item = Cow<'_, [u8]>> + '_> {
        Box::new(self.nodes.iter().rev().flat_map(|node| {
            let items: Vec<_> = node.iter().map(|e| e.to_bytes()).collect();
            items.into_iter().rev()
        }))
    }
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
            List::Deque(d) => d.len,
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
            List::Deque(d) => d.push(item, front),
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
            List::Deque(d) => d.pop(front),
        }
    }

    /// The element at `index` (from the head).
    pub fn get(&self, index: usize) -> Option<Cow<'_, [u8]>> {
        match self {
            List::Packed(p) => p.get(index).map(|e| e.to_bytes()),
            List::Deque(d) => d.get(index),
        }
    }

    /// Replaces the element at `index` (below the length).
    pub fn set(&mut self, index: usize, item: &[u8]) {
        match self {
            List::Packed(p) => p.replace(index, item),
            List::Deque(d) => d.set(index, item),
        }
        self.grow();
    }

    /// Inserts `item` before the element at `index` (at the end when `index` is the length).
    pub fn insert(&mut self, index: usize, item: &[u8]) {
        match self {
            List::Packed(p) => p.insert(index, item),
            List::Deque(d) => d.insert(index, item),
        }
        self.grow();
    }

    /// Removes the element at `index` (below the length).
    pub fn remove(&mut self, index: usize) {
        match self {
            List::Packed(p) => p.remove(index),
            List::Deque(d) => d.remove(index),
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
            List::Deque(d) => d.keep(start, end),
        }
    }

    /// The list as a read-only view.
    pub fn view(&self) -> ListView<'_> {
        match self {
            List::Packed(p) => ListView::Packed(p.view()),
            List::Deque(d) => ListView::Deque(d),
        }
    }

    /// Moves a packed list past its size to a deque of nodes (never back, as a quicklist keeps
    /// its nodes).
    fn grow(&mut self) {
        if let List::Packed(p) = self {
            let (max_bytes, max_count) = list_node_limits();
            if p.bytes() > max_bytes || p.len() > max_count {
                let mut d = Deque::default();
                for e in p.iter() {
                    d.push(&e.to_bytes(), false);
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
            ListView::Deque(d) => d.len,
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
            ListView::Deque(d) => d.iter_from(start),
        }
    }

    /// The elements from the tail back.
    pub fn iter_rev(self) -> Box<dyn Iterator<Item = Cow<'a, [u8]>> + 'a> {
        match self {
            ListView::Packed(p) => {
                let all: Vec<_> = p.iter().map(|e| e.to_bytes()).collect();
                Box::new(all.into_iter().rev())
            }
            ListView::Deque(d) => d.iter_rev(),
        }
    }

    /// Elements `start..start + count` as a [`ListRange`] sharing the list's nodes, for a large
    /// list; `None` for a packed one (small: copying it is as cheap).
    pub fn range(self, start: usize, count: usize) -> Option<ListRange> {
        match self {
            ListView::Packed(_) => None,
            ListView::Deque(d) => Some(d.range(start, count)),
        }
    }

    /// The element at `index`.
    pub fn get(self, index: usize) -> Option<Cow<'a, [u8]>> {
        self.iter_from(index).next()
    }
}

/// A range of a large list, held as the list's own nodes (shared, so not copied) and written
/// out a node at a time ([`crate::protocol::frame::Streamed`]): a long LRANGE neither copies
/// its elements in the shard nor holds them encoded in the connection. A change the list
/// makes afterwards copies the node it touches first, so the range stays as it was read.
pub struct ListRange {
    nodes: Vec<Arc<PackedList>>,
    /// Elements of the first node before the range.
    skip: usize,
    /// Where the range ends in the last node.
    last_end: usize,
    /// Elements in the range.
    count: usize,
}

impl ListRange {
    /// Node `i`'s elements within the range.
    fn elems(&self, i: usize) -> impl Iterator<Item = Elem<'_>> + '_ {
        let node = &self.nodes[i];
        let start = if i == 0 { self.skip } else { 0 };
        let end = if i + 1 == self.nodes.len() {
            self.last_end
        } else {
            node.len()
        };
        node.iter().skip(start).take(end.saturating_sub(start))
    }
}

impl BulkChunks for ListRange {
    fn count(&self) -> usize {
        self.count
    }

    fn chunks(&self) -> usize {
        self.nodes.len()
    }

    fn encode_chunk(&self, i: usize, out: &mut Vec<u8>) {
        for e in self.elems(i) {
            bulk(out, &e.to_bytes());
        }
    }

    fn estimated_len(&self) -> usize {
        // A packed element is about its text; a bulk string's header and CRLF add 5 or more.
        self.nodes.iter().map(|n| n.bytes()).sum::<usize>() + 6 * self.count + 16
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
            20 => (0i64..100).prop_map(|n| n.to_string().into_bytes()),
            20 => proptest::collection::vec(any::<u8>(), 0..300),
            // Past a node: a node of its own.
            1 => proptest::collection::vec(any::<u8>(), 8000..9000),
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

    /// Applies `op` to both the list and the model.
    fn apply(list: &mut List, model: &mut VecDeque<Vec<u8>>, op: Op) -> Result<(), TestCaseError> {
        match op {
            Op::Push(i, front) => {
                list.push(&i, front);
                if front {
                    model.push_front(i)
                } else {
                    model.push_back(i)
                }
            }
            Op::Pop(front) => {
                let want = if front {
                    model.pop_front()
                } else {
                    model.pop_back()
                };
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
                *model = model.iter().skip(a).take(b - a).cloned().collect();
            }
            _ => {}
        }
        prop_assert_eq!(list.len(), model.len());
        if let List::Deque(d) = &list {
            prop_assert_eq!(d.check(), Ok(()));
        }
        Ok(())
    }

    /// `items` encoded as a RESP array of bulk strings.
    fn encoded<'a>(items: impl ExactSizeIterator<Item = &'a Vec<u8>>) -> Vec<u8> {
        let mut out = format!("*{}\r\n", items.len()).into_bytes();
        for i in items {
            bulk(&mut out, i);
        }
        out
    }

    proptest! {
        /// Packed or deque, a list behaves as a deque of strings.
        #[test]
        fn both_forms_behave_as_a_deque(ops in proptest::collection::vec(op(), 0..400)) {
            let mut list = List::default();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for op in ops {
                apply(&mut list, &mut model, op)?;
            }
            let got: Vec<Vec<u8>> = list.view().iter_from(0).map(|c| c.into_owned()).collect();
            prop_assert_eq!(got, model.iter().cloned().collect::<Vec<_>>());
            let rev: Vec<Vec<u8>> = list.view().iter_rev().map(|c| c.into_owned()).collect();
            prop_assert_eq!(rev, model.iter().rev().cloned().collect::<Vec<_>>());
        }

        /// A range of a large list holds exactly the elements it covered when it was taken, and
        /// goes on holding them whatever the list does next (its nodes are copied on write).
        #[test]
        fn a_range_keeps_what_it_read(
            before in proptest::collection::vec(op(), 0..400),
            start in any::<usize>(),
            count in any::<usize>(),
            after in proptest::collection::vec(op(), 0..200),
        ) {
            let mut list = List::default();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for i in 0..200u32 {
                apply(&mut list, &mut model, Op::Push(i.to_be_bytes().repeat(8), false))?;
            }
            for op in before {
                apply(&mut list, &mut model, op)?;
            }
            let start = start % (model.len() + 2);
            let count = count % (model.len() + 2);
            let Some(range) = list.view().range(start, count) else {
                return Ok(());
            };
            let want = encoded(model.iter().skip(start).take(count));
            let frame = crate::protocol::Frame::Streamed(crate::protocol::frame::Streamed(Arc::new(range)));
            let mut got = Vec::new();
            frame.encode(2, &mut got);
            prop_assert_eq!(&got, &want);
            for op in after {
                apply(&mut list, &mut model, op)?;
            }
            let mut again = Vec::new();
            frame.encode(2, &mut again);
            prop_assert_eq!(&again, &want, "changed by later writes");
        }
    }
}
