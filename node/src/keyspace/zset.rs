//! A sorted set's members and scores, in one of redis 7.0's two encodings.
//!
//! A small sorted set (at most `zset-max-listpack-entries` members of at most
//! `zset-max-listpack-value` bytes, see [`super::encoding`]) is kept packed in its key's entry, members and
//! scores alternating in score order (`listpack`); a score is stored as its shortest exact text
//! (an integral score as a varint). Past either limit it becomes a [`Table`] for good
//! (`skiplist`): a member→score map, and the members in score order in an [`Ordered`] sequence
//! that finds a rank, and the member at a rank, in O(log n).
//!
//! Order is redis's: by score, then by member bytes. Scores are never NaN (the commands refuse
//! what would make one).

use std::borrow::Cow;
use std::cmp::Ordering;

use indexmap::IndexMap;

use super::collection::{scan_positions, Collection};
use super::packed::{Packed, PackedList};
use super::{Kind, Large, SeededHasher};

use super::encoding::{zset_max_entries, zset_max_value};

/// Redis's order: score, then member bytes.
pub fn order(a: (f64, &[u8]), b: (f64, &[u8])) -> Ordering {
    a.0.partial_cmp(&b.0)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a.1.cmp(b.1))
}

/// Members in score order, in blocks of at most [`Ordered::BLOCK`] with a Fenwick tree over
/// the block sizes: rank and select in O(log n), an insert or removal moves at most a block.
#[derive(Clone, Default)]
pub struct Ordered {
    blocks: Vec<Vec<(f64, Box<[u8]>)>>,
    /// Fenwick tree over `blocks[i].len()` (1-based internally).
    tree: Vec<usize>,
    len: usize,
}

impl Ordered {
    /// Largest block; a block past it is split in two.
    const BLOCK: usize = 256;

    fn rebuild_tree(&mut self) {
        let n = self.blocks.len();
        self.tree = vec![0; n + 1];
        for i in 0..n {
            let mut j = i + 1;
            let len = self.blocks[i].len();
            while j <= n {
                self.tree[j] += len;
                j += j & j.wrapping_neg();
            }
        }
    }

    fn tree_add(&mut self, block: usize, delta: isize) {
        let mut j = block + 1;
        while j < self.tree.len() {
            self.tree[j] = (self.tree[j] as isize + delta) as usize;
            j += j & j.wrapping_neg();
        }
    }

    /// Elements in the blocks before `block`.
    fn before(&self, block: usize) -> usize {
        let (mut j, mut sum) = (block, 0);
        while j > 0 {
            sum += self.tree[j];
            j -= j & j.wrapping_neg();
        }
        sum
    }

    /// The block and offset of rank `rank` (below `len`).
    fn find(&self, mut rank: usize) -> (usize, usize) {
        let n = self.blocks.len();
        let mut pos = 0;
        let mut step = n.next_power_of_two();
        while step > 0 {
            let next = pos + step;
            if next <= n && self.tree[next] <= rank {
                pos = next;
                rank -= self.tree[next];
            }
            step /= 2;
        }
        (pos, rank)
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The rank of the first element for which `before` is false (`before` must be true for a
    /// prefix of the sequence and false after it).
    pub fn partition_point(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        let b = self
            .blocks
            .partition_point(|blk| blk.last().is_some_and(|(s, m)| before(*s, m)));
        if b == self.blocks.len() {
            return self.len;
        }
        self.before(b) + self.blocks[b].partition_point(|(s, m)| before(*s, m))
    }

    /// The element at `rank`.
    pub fn get(&self, rank: usize) -> Option<(f64, &[u8])> {
        if rank >= self.len {
            return None;
        }
        let (b, i) = self.find(rank);
        self.blocks.get(b)?.get(i).map(|(s, m)| (*s, &m[..]))
    }

    /// Elements from `rank` on, in order.
    pub fn iter_from(&self, rank: usize) -> impl Iterator<Item = (f64, &[u8])> + '_ {
        let (b, i) = if rank >= self.len {
            (self.blocks.len(), 0)
        } else {
            self.find(rank)
        };
        self.blocks
            .iter()
            .skip(b)
            .enumerate()
            .flat_map(move |(n, blk)| blk[if n == 0 { i } else { 0 }..].iter())
            .map(|(s, m)| (*s, &m[..]))
    }

    /// The rank of (`score`, `member`), if present.
    pub fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        let at = self.partition_point(|s, m| order((s, m), (score, member)) == Ordering::Less);
        self.get(at)
            .filter(|(s, m)| *s == score && *m == member)
            .map(|_| at)
    }

    fn insert(&mut self, score: f64, member: Box<[u8]>) {
        if self.blocks.is_empty() {
            self.blocks.push(Vec::new());
            self.rebuild_tree();
        }
        let b = {
            let key = (score, &member[..]);
            let b = self.blocks.partition_point(|blk| {
                blk.last().is_some_and(|(s, m)| order((*s, m), key).is_lt())
            });
            b.min(self.blocks.len() - 1)
        };
        let blk = &mut self.blocks[b];
        let i = blk.partition_point(|(s, m)| order((*s, m), (score, &member[..])).is_lt());
        blk.insert(i, (score, member));
        self.len += 1;
        if blk.len() > Self::BLOCK {
            let tail = blk.split_off(blk.len() / 2);
            self.blocks.insert(b + 1, tail);
            self.rebuild_tree();
        } else {
            self.tree_add(b, 1);
        }
    }

    fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        let Some(rank) = self.rank(score, member) else {
            return false;
        };
        let (b, i) = self.find(rank);
        self.blocks[b].remove(i);
        self.len -= 1;
        if self.blocks[b].is_empty() {
            self.blocks.remove(b);
            self.rebuild_tree();
        } else {
            self.tree_add(b, -1);
        }
        true
    }
}

/// A large sorted set: member→score (insertion-ordered: ZRANDMEMBER picks by index, and ZSCAN
/// walks it with SCAN's guarantee), and the members in score order.
#[derive(Clone, Default)]
pub struct Table {
    scores: IndexMap<Box<[u8]>, f64, SeededHasher>,
    order: Ordered,
    bytes: usize,
}

/// What a table spends on a member besides its bytes (twice): map slot, score, order slot.
const MEMBER_OVERHEAD: usize = 2 * std::mem::size_of::<Box<[u8]>>() + 2 * 8 + 16;

impl Table {
    /// The members in order.
    pub fn order(&self) -> &Ordered {
        &self.order
    }

    /// The member at `index` of the member→score map (not a rank), with its score.
    pub fn by_index(&self, index: usize) -> Option<(&[u8], f64)> {
        self.scores.get_index(index).map(|(m, s)| (&m[..], *s))
    }

    fn set(&mut self, member: &[u8], score: f64) -> Option<f64> {
        match self.scores.get_mut(member) {
            Some(old) => {
                let before = *old;
                if before != score {
                    *old = score;
                    self.order.remove(before, member);
                    self.order.insert(score, Box::from(member));
                }
                Some(before)
            }
            None => {
                self.scores.insert(Box::from(member), score);
                self.order.insert(score, Box::from(member));
                self.bytes += 2 * member.len() + MEMBER_OVERHEAD;
                None
            }
        }
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        match self.scores.swap_remove(member) {
            Some(score) => {
                self.order.remove(score, member);
                self.bytes -= 2 * member.len() + MEMBER_OVERHEAD;
                true
            }
            None => false,
        }
    }
}

/// A sorted set being changed: small (decoded from its packed form) or a table.
#[derive(Clone)]
pub enum ZSet {
    /// Members and scores in order; stored packed (`listpack`).
    Small(Vec<(Box<[u8]>, f64)>),
    /// A table (`skiplist`).
    Table(Table),
}

impl Default for ZSet {
    fn default() -> ZSet {
        ZSet::Small(Vec::new())
    }
}

impl ZSet {
    /// A sorted set of `members` (the later score of a repeated member wins).
    pub fn from_members<'a>(members: impl IntoIterator<Item = (&'a [u8], f64)>) -> ZSet {
        let mut z = ZSet::default();
        for (m, s) in members {
            z.set(m, s);
        }
        z
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            ZSet::Small(v) => v.len(),
            ZSet::Table(t) => t.scores.len(),
        }
    }

    /// True when it has no member.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What it costs beyond its key's entry (0 while packed).
    pub fn bytes(&self) -> usize {
        match self {
            ZSet::Small(_) => 0,
            ZSet::Table(t) => t.bytes + std::mem::size_of::<Table>(),
        }
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Small(v) => v.iter().find(|(m, _)| &m[..] == member).map(|(_, s)| *s),
            ZSet::Table(t) => t.scores.get(member).copied(),
        }
    }

    /// Sets `member`'s score; its old score, if it had one. A member too long to pack, or one
    /// member too many, turns the set into a table.
    pub fn set(&mut self, member: &[u8], score: f64) -> Option<f64> {
        if member.len() > zset_max_value() {
            self.make_table();
        }
        let old = match self {
            ZSet::Small(v) => {
                let old = v
                    .iter()
                    .position(|(m, _)| &m[..] == member)
                    .map(|i| v.remove(i).1);
                let at = v.partition_point(|(m, s)| order((*s, m), (score, member)).is_lt());
                v.insert(at, (Box::from(member), score));
                old
            }
            ZSet::Table(t) => t.set(member, score),
        };
        if self.len() > zset_max_entries() {
            self.make_table();
        }
        old
    }

    /// Removes `member`; true when it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSet::Small(v) => match v.iter().position(|(m, _)| &m[..] == member) {
                Some(i) => {
                    v.remove(i);
                    true
                }
                None => false,
            },
            ZSet::Table(t) => t.remove(member),
        }
    }

    /// The sorted set as a read-only view.
    pub fn view(&self) -> ZSetView<'_> {
        match self {
            ZSet::Small(v) => {
                ZSetView::Small(v.iter().map(|(m, s)| (Cow::Borrowed(&m[..]), *s)).collect())
            }
            ZSet::Table(t) => ZSetView::Table(t),
        }
    }

    fn make_table(&mut self) {
        if let ZSet::Small(v) = self {
            let mut t = Table::default();
            for (m, s) in v.drain(..) {
                t.set(&m, s);
            }
            *self = ZSet::Table(t);
        }
    }

    fn encode(v: &[(Box<[u8]>, f64)]) -> PackedList {
        let mut list = PackedList::new();
        for (m, s) in v {
            list.push_back(m);
            list.push_back(score_text(*s).as_bytes());
        }
        list
    }

    /// The small form read out of an entry's packed bytes.
    fn decode(p: Packed<'_>) -> Vec<(Cow<'_, [u8]>, f64)> {
        let mut items = p.iter();
        let mut out = Vec::new();
        while let (Some(m), Some(s)) = (items.next(), items.next()) {
            let score = std::str::from_utf8(&s.to_bytes())
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .unwrap_or(0.0);
            out.push((m.to_bytes(), score));
        }
        out
    }
}

/// The shortest text that reads back as exactly `score` (how the packed form keeps scores).
fn score_text(score: f64) -> String {
    if score == 0.0 && score.is_sign_negative() {
        "-0".to_string()
    } else if score == score.trunc() && score.abs() < 1e15 {
        format!("{}", score as i64)
    } else {
        format!("{score:?}")
    }
}

impl Collection for ZSet {
    const PACKED: Kind = Kind::ZSetPacked;
    const TABLE: Kind = Kind::ZSetTable;

    fn from_packed(list: PackedList) -> ZSet {
        ZSet::Small(
            ZSet::decode(list.view())
                .into_iter()
                .map(|(m, s)| (Box::from(&m[..]), s))
                .collect(),
        )
    }

    fn packed(&self) -> Option<Cow<'_, [u8]>> {
        match self {
            ZSet::Small(v) => Some(Cow::Owned(ZSet::encode(v).as_bytes().to_vec())),
            ZSet::Table(_) => None,
        }
    }

    fn is_empty(&self) -> bool {
        ZSet::is_empty(self)
    }

    fn bytes(&self) -> usize {
        ZSet::bytes(self)
    }

    fn into_large(self) -> Large {
        Large::ZSet(self)
    }

    fn in_large(large: &mut Large) -> Option<&mut ZSet> {
        match large {
            Large::ZSet(z) => Some(z),
            _ => None,
        }
    }
}

/// A sorted set as stored, for reads: a small one decoded (at most 128 members), a table
/// borrowed.
pub enum ZSetView<'a> {
    /// Members and scores in order.
    Small(Vec<(Cow<'a, [u8]>, f64)>),
    /// A table.
    Table(&'a Table),
}

impl<'a> ZSetView<'a> {
    /// About the bytes its members take in memory (a packed one's few: 0).
    pub fn bytes(&self) -> usize {
        match self {
            ZSetView::Small(_) => 0,
            ZSetView::Table(t) => t.bytes,
        }
    }

    /// A view of packed bytes.
    pub(super) fn packed(p: Packed<'a>) -> ZSetView<'a> {
        ZSetView::Small(ZSet::decode(p))
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            ZSetView::Small(v) => v.len(),
            ZSetView::Table(t) => t.scores.len(),
        }
    }

    /// True when it has no member.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The encoding's name for `OBJECT ENCODING`.
    pub fn encoding(&self) -> &'static str {
        match self {
            ZSetView::Small(_) => "listpack",
            ZSetView::Table(_) => "skiplist",
        }
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSetView::Small(v) => v.iter().find(|(m, _)| &m[..] == member).map(|(_, s)| *s),
            ZSetView::Table(t) => t.scores.get(member).copied(),
        }
    }

    /// The rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match self {
            ZSetView::Small(v) => v.iter().position(|(m, _)| &m[..] == member),
            ZSetView::Table(t) => {
                let score = *t.scores.get(member)?;
                t.order.rank(score, member)
            }
        }
    }

    /// The first rank for which `before` is false (see [`Ordered::partition_point`]).
    pub fn partition_point(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSetView::Small(v) => v.partition_point(|(m, s)| before(*s, m)),
            ZSetView::Table(t) => t.order.partition_point(before),
        }
    }

    /// The members of ranks `start..end` (ascending), with their scores.
    pub fn range(&self, start: usize, end: usize) -> Vec<(Cow<'_, [u8]>, f64)> {
        let end = end.min(self.len());
        if start >= end {
            return Vec::new();
        }
        match self {
            ZSetView::Small(v) => v[start..end]
                .iter()
                .map(|(m, s)| (Cow::Borrowed(&m[..]), *s))
                .collect(),
            ZSetView::Table(t) => t
                .order
                .iter_from(start)
                .take(end - start)
                .map(|(s, m)| (Cow::Borrowed(m), s))
                .collect(),
        }
    }

    /// Every member with its score, in order.
    pub fn all(&self) -> Vec<(Cow<'_, [u8]>, f64)> {
        self.range(0, self.len())
    }

    /// The member at `rank`, with its score.
    pub fn get(&self, rank: usize) -> Option<(Cow<'_, [u8]>, f64)> {
        self.range(rank, rank + 1).pop()
    }

    /// Members at positions `indexes` (each below [`ZSetView::len`]) picked uniformly: ranks for
    /// a small set, map indexes (O(1) each) for a table.
    pub fn picks(&self, indexes: &[usize]) -> Vec<(Cow<'_, [u8]>, f64)> {
        match self {
            ZSetView::Small(v) => indexes
                .iter()
                .filter_map(|&i| v.get(i).map(|(m, s)| (Cow::Borrowed(&m[..]), *s)))
                .collect(),
            ZSetView::Table(t) => indexes
                .iter()
                .filter_map(|&i| t.by_index(i).map(|(m, s)| (Cow::Borrowed(m), s)))
                .collect(),
        }
    }

    /// One ZSCAN step (see [`super::hash::HashView::scan`]): a small set whole at once, a
    /// table's map from its last index down.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], f64)) -> u64 {
        match self {
            ZSetView::Small(v) => {
                v.iter().for_each(|(m, s)| visit(m, *s));
                0
            }
            ZSetView::Table(t) => scan_positions(t.scores.len(), cursor, count, |i| {
                if let Some((m, s)) = t.by_index(i) {
                    visit(m, s);
                }
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ordered_blocks_split_and_keep_ranks() {
        let mut o = Ordered::default();
        for i in (0..2000).rev() {
            o.insert(
                f64::from(i % 100),
                format!("m{i:05}").into_boxed_str().into_boxed_bytes(),
            );
        }
        assert_eq!(o.len(), 2000);
        assert!(o.blocks.len() > 7, "split into blocks");
        let all: Vec<(f64, Vec<u8>)> = o.iter_from(0).map(|(s, m)| (s, m.to_vec())).collect();
        for w in all.windows(2) {
            assert!(order((w[0].0, &w[0].1), (w[1].0, &w[1].1)).is_lt());
        }
        for (rank, (s, m)) in all.iter().enumerate() {
            assert_eq!(o.rank(*s, m), Some(rank));
            assert_eq!(
                o.get(rank).map(|(s, m)| (s, m.to_vec())),
                Some((*s, m.clone()))
            );
        }
        for (s, m) in all.iter().step_by(3) {
            assert!(o.remove(*s, m));
        }
        assert_eq!(o.len(), 2000 - 667);
        assert_eq!(o.iter_from(0).count(), o.len());
    }

    #[derive(Clone, Debug)]
    enum Op {
        Set(u8, i16),
        Remove(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (any::<u8>(), -20i16..20).prop_map(|(m, s)| Op::Set(m, s)),
            1 => any::<u8>().prop_map(Op::Remove),
        ]
    }

    proptest! {
        /// Small or table, a sorted set keeps redis's order, ranks and scores.
        #[test]
        fn both_forms_behave_alike(ops in proptest::collection::vec(op(), 0..400)) {
            let mut z = ZSet::default();
            let mut model: std::collections::BTreeMap<Vec<u8>, f64> = Default::default();
            for op in ops {
                match op {
                    Op::Set(m, s) => {
                        let member = format!("m{m}").into_bytes();
                        let score = f64::from(s) / 2.0;
                        prop_assert_eq!(z.set(&member, score), model.insert(member, score));
                    }
                    Op::Remove(m) => {
                        let member = format!("m{m}").into_bytes();
                        prop_assert_eq!(z.remove(&member), model.remove(&member).is_some());
                    }
                }
                prop_assert_eq!(z.len(), model.len());
            }
            let mut expected: Vec<(Vec<u8>, f64)> = model.into_iter().collect();
            expected.sort_by(|a, b| order((a.1, &a.0), (b.1, &b.0)));
            let view = z.view();
            let got: Vec<(Vec<u8>, f64)> =
                view.all().into_iter().map(|(m, s)| (m.into_owned(), s)).collect();
            prop_assert_eq!(&got, &expected);
            for (rank, (m, s)) in expected.iter().enumerate() {
                prop_assert_eq!(view.rank(m), Some(rank));
                prop_assert_eq!(view.score(m), Some(*s));
            }
            // The packed form reads back the same.
            if let Some(bytes) = z.packed() {
                let back = ZSetView::packed(Packed::new(&bytes));
                let back: Vec<(Vec<u8>, f64)> =
                    back.all().into_iter().map(|(m, s)| (m.into_owned(), s)).collect();
                prop_assert_eq!(back, expected);
            }
        }
    }
}
