//! A packed list: many small strings in one allocation, the compact form of small collections
//! (the role redis's *listpack* plays for small hashes, lists, sets and sorted sets).
//!
//! A collection of a few dozen short elements costs redis one allocation, not one per element;
//! issue 20 asks the same of Shardis (at most 1.2× redis's memory per element). Each element is
//! a header varint — the payload length shifted left once, the low bit set when the element is
//! an integer — then the payload: the string's bytes, or the integer as a zig-zag varint. An
//! element that is the canonical decimal text of an `i64` is always stored as the integer (as
//! listpack does), so "12" takes two bytes, and two elements are equal exactly when their
//! strings are. Lookups walk the buffer (a collection stays packed only while it is small, as in
//! redis, which converts past `*-max-listpack-entries`); changes splice it in place.

use std::borrow::Cow;

use crate::protocol::parse::parse_i64;

/// One element as stored: a string, or an integer kept in binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem<'a> {
    /// Bytes that are not the canonical text of an integer.
    Str(&'a [u8]),
    /// An integer (the canonical text of it came in).
    Int(i64),
}

impl<'a> Elem<'a> {
    /// How `bytes` is stored: as an integer when it is one's canonical text.
    pub fn of(bytes: &'a [u8]) -> Elem<'a> {
        match parse_i64(bytes) {
            Some(n) => Elem::Int(n),
            None => Elem::Str(bytes),
        }
    }

    /// The element as a client sees it.
    pub fn to_bytes(self) -> Cow<'a, [u8]> {
        match self {
            Elem::Str(b) => Cow::Borrowed(b),
            Elem::Int(n) => Cow::Owned(itoa::Buffer::new().format(n).as_bytes().to_vec()),
        }
    }
}

/// Elements packed into one buffer, in order.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PackedList {
    buf: Vec<u8>,
    len: usize,
}

impl std::fmt::Debug for PackedList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|e| String::from_utf8_lossy(&e.to_bytes()).into_owned()),
            )
            .finish()
    }
}

impl PackedList {
    /// An empty list.
    pub fn new() -> PackedList {
        PackedList::default()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when it holds no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of the packed form (what it costs besides its allocation's header).
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// An empty list whose buffer has room for `bytes` bytes.
    pub fn with_capacity(bytes: usize) -> PackedList {
        PackedList {
            buf: Vec::with_capacity(bytes),
            len: 0,
        }
    }

    /// Bytes its buffer holds allocated (its length, or more after growth).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The list packed in `buf`, which a [`PackedList`] wrote ([`PackedList::as_bytes`]): where
    /// a collection kept in a key's entry comes back from.
    pub fn from_bytes(buf: &[u8]) -> PackedList {
        PackedList {
            buf: buf.to_vec(),
            len: Packed(buf).iter().count(),
        }
    }

    /// The packed form, to be stored and read back by [`PackedList::from_bytes`] or [`Packed`].
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The list as a borrowed view.
    pub fn view(&self) -> Packed<'_> {
        Packed(&self.buf)
    }

    /// The elements in order.
    pub fn iter(&self) -> Iter<'_> {
        self.view().iter()
    }

    /// The element at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<Elem<'_>> {
        self.iter().nth(index)
    }

    /// The index of the first element equal to `bytes` (as strings), looking at every `step`-th
    /// element from `from` (a hash's fields are every other element).
    pub fn position(&self, bytes: &[u8], from: usize, step: usize) -> Option<usize> {
        self.view().position(bytes, from, step)
    }

    /// Adds `bytes` at the end.
    pub fn push_back(&mut self, bytes: &[u8]) {
        let at = self.buf.len();
        self.insert_at_offset(at, bytes);
    }

    /// Adds `bytes` at the front.
    pub fn push_front(&mut self, bytes: &[u8]) {
        self.insert_at_offset(0, bytes);
    }

    /// Inserts `bytes` before the element at `index` (at the end when `index` is the length).
    /// Panics if `index` is past the end, as `Vec::insert` does.
    pub fn insert(&mut self, index: usize, bytes: &[u8]) {
        assert!(index <= self.len, "insert at {index} of {}", self.len);
        let at = self.offset_of(index);
        self.insert_at_offset(at, bytes);
    }

    /// Removes the element at `index`. Panics if there is none.
    pub fn remove(&mut self, index: usize) {
        self.remove_range(index, 1);
    }

    /// Removes `count` elements from `index` on. Panics if they are not all there.
    pub fn remove_range(&mut self, index: usize, count: usize) {
        assert!(
            index + count <= self.len,
            "remove {count} at {index} of {}",
            self.len
        );
        let start = self.offset_of(index);
        let end = start + self.span(start, count);
        self.buf.drain(start..end);
        self.len -= count;
    }

    /// Replaces the element at `index` with `bytes`. Panics if there is none.
    pub fn replace(&mut self, index: usize, bytes: &[u8]) {
        assert!(index < self.len, "replace at {index} of {}", self.len);
        let start = self.offset_of(index);
        let end = start + self.span(start, 1);
        let mut encoded = Vec::new();
        encode(&mut encoded, Elem::of(bytes));
        self.buf.splice(start..end, encoded);
    }

    /// Gives back memory the buffer no longer uses.
    pub fn shrink_to_fit(&mut self) {
        self.buf.shrink_to_fit();
    }

    fn insert_at_offset(&mut self, at: usize, bytes: &[u8]) {
        let mut encoded = Vec::new();
        encode(&mut encoded, Elem::of(bytes));
        self.buf.splice(at..at, encoded);
        self.len += 1;
    }

    /// The byte offset of element `index` (the end of the buffer for `index == len`).
    fn offset_of(&self, index: usize) -> usize {
        self.span(0, index)
    }

    /// The bytes taken by `count` elements starting at byte offset `start`.
    fn span(&self, start: usize, count: usize) -> usize {
        let mut at = start;
        for _ in 0..count {
            at = next_offset(&self.buf, at);
        }
        at - start
    }
}

/// A packed list read where it is stored (in a key's entry), without a copy.
#[derive(Clone, Copy)]
pub struct Packed<'a>(&'a [u8]);

impl<'a> Packed<'a> {
    /// The list packed in `buf` (written by a [`PackedList`]).
    pub fn new(buf: &'a [u8]) -> Packed<'a> {
        Packed(buf)
    }

    /// The elements in order.
    pub fn iter(self) -> Iter<'a> {
        Iter { buf: self.0, at: 0 }
    }

    /// Number of elements (a walk over the buffer).
    pub fn len(self) -> usize {
        self.iter().count()
    }

    /// True when it holds no element.
    pub fn is_empty(self) -> bool {
        self.0.is_empty()
    }

    /// As [`PackedList::position`].
    pub fn position(self, bytes: &[u8], from: usize, step: usize) -> Option<usize> {
        let wanted = Elem::of(bytes);
        self.iter()
            .enumerate()
            .skip(from)
            .step_by(step.max(1))
            .find(|(_, e)| *e == wanted)
            .map(|(i, _)| i)
    }
}

/// The elements of a [`PackedList`] in order.
pub struct Iter<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Elem<'a>;

    fn next(&mut self) -> Option<Elem<'a>> {
        if self.at >= self.buf.len() {
            return None;
        }
        let (header, body) = read_varint(self.buf, self.at);
        let len = (header >> 1) as usize;
        let elem = if header & 1 == 1 {
            let (zigzag, _) = read_varint(self.buf, body);
            Elem::Int(((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64))
        } else {
            Elem::Str(&self.buf[body..body + len])
        };
        self.at = body + len;
        Some(elem)
    }
}

/// Appends `elem`'s encoding to `out`.
fn encode(out: &mut Vec<u8>, elem: Elem<'_>) {
    match elem {
        Elem::Str(b) => {
            write_varint(out, (b.len() as u64) << 1);
            out.extend_from_slice(b);
        }
        Elem::Int(n) => {
            let zigzag = ((n << 1) ^ (n >> 63)) as u64;
            let mut payload = Vec::with_capacity(10);
            write_varint(&mut payload, zigzag);
            write_varint(out, ((payload.len() as u64) << 1) | 1);
            out.extend_from_slice(&payload);
        }
    }
}

/// The offset just past the element at `at`.
fn next_offset(buf: &[u8], at: usize) -> usize {
    let (header, body) = read_varint(buf, at);
    body + (header >> 1) as usize
}

pub(super) fn write_varint(out: &mut Vec<u8>, v: u64) {
    let (bytes, len) = varint(v);
    out.extend_from_slice(&bytes[..len]);
}

/// `v` as a varint in a buffer on the stack, and how many of its bytes it takes: what
/// [`write_varint`] writes, for the hot paths that must not allocate for it (every entry built).
pub(super) fn varint(mut v: u64) -> ([u8; 10], usize) {
    let mut bytes = [0u8; 10];
    let mut len = 0;
    while v >= 0x80 {
        bytes[len] = (v as u8) | 0x80;
        v >>= 7;
        len += 1;
    }
    bytes[len] = v as u8;
    (bytes, len + 1)
}

/// The varint at `at` and the offset after it. The buffer is only ever written by this module,
/// so it is well formed.
pub(super) fn read_varint(buf: &[u8], mut at: usize) -> (u64, usize) {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[at];
        at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return (v, at);
        }
        shift += 7;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strings(list: &PackedList) -> Vec<Vec<u8>> {
        list.iter().map(|e| e.to_bytes().into_owned()).collect()
    }

    #[test]
    fn integers_are_kept_in_binary_and_read_back_as_their_text() {
        let mut list = PackedList::new();
        for s in [
            "12",
            "-7",
            "9223372036854775807",
            "-9223372036854775808",
            "007",
            "1e3",
            "",
        ] {
            list.push_back(s.as_bytes());
        }
        assert_eq!(list.get(0), Some(Elem::Int(12)));
        assert_eq!(
            list.get(4),
            Some(Elem::Str(b"007")),
            "not canonical: a string"
        );
        assert_eq!(
            strings(&list),
            [
                "12",
                "-7",
                "9223372036854775807",
                "-9223372036854775808",
                "007",
                "1e3",
                ""
            ]
            .map(|s| s.as_bytes().to_vec())
        );
        // Equal as strings, whatever the form.
        assert_eq!(list.position(b"12", 0, 1), Some(0));
        assert_eq!(list.position(b"007", 0, 1), Some(4));
        assert_eq!(list.position(b"7", 0, 1), None);
        // Two bytes for a small integer, the string's length plus one for a short string.
        let mut small = PackedList::new();
        small.push_back(b"12");
        assert_eq!(small.bytes(), 2);
        small.push_back(b"abc");
        assert_eq!(small.bytes(), 6);
    }

    #[test]
    fn position_steps_over_a_hashs_values() {
        let mut hash = PackedList::new();
        for s in ["f1", "v1", "v1", "f2"] {
            hash.push_back(s.as_bytes());
        }
        // "v1" as a field: only even positions count.
        assert_eq!(hash.position(b"v1", 0, 2), Some(2));
        assert_eq!(hash.position(b"f2", 0, 2), None);
        assert_eq!(hash.position(b"f2", 1, 2), Some(3));
    }

    /// One change to a list, applied to the packed list and to a plain vector alike.
    #[derive(Clone, Debug)]
    enum Op {
        PushBack(Vec<u8>),
        PushFront(Vec<u8>),
        Insert(usize, Vec<u8>),
        Remove(usize),
        RemoveRange(usize, usize),
        Replace(usize, Vec<u8>),
    }

    fn element() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            any::<i64>().prop_map(|n| n.to_string().into_bytes()),
            (0i64..300).prop_map(|n| n.to_string().into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..40),
            proptest::collection::vec(any::<u8>(), 120..200),
            Just(b"-0".to_vec()),
            Just(b"+1".to_vec()),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            element().prop_map(Op::PushBack),
            element().prop_map(Op::PushFront),
            (any::<usize>(), element()).prop_map(|(i, e)| Op::Insert(i, e)),
            any::<usize>().prop_map(Op::Remove),
            (any::<usize>(), 0usize..4).prop_map(|(i, n)| Op::RemoveRange(i, n)),
            (any::<usize>(), element()).prop_map(|(i, e)| Op::Replace(i, e)),
        ]
    }

    proptest! {
        #[test]
        fn behaves_as_a_vector_of_strings(ops in proptest::collection::vec(op(), 0..60)) {
            let mut packed = PackedList::new();
            let mut model: Vec<Vec<u8>> = Vec::new();
            for op in ops {
                match op {
                    Op::PushBack(e) => {
                        packed.push_back(&e);
                        model.push(e);
                    }
                    Op::PushFront(e) => {
                        packed.push_front(&e);
                        model.insert(0, e);
                    }
                    Op::Insert(i, e) => {
                        let i = i % (model.len() + 1);
                        packed.insert(i, &e);
                        model.insert(i, e);
                    }
                    Op::Remove(i) if !model.is_empty() => {
                        let i = i % model.len();
                        packed.remove(i);
                        model.remove(i);
                    }
                    Op::RemoveRange(i, n) if !model.is_empty() => {
                        let i = i % model.len();
                        let n = n.min(model.len() - i);
                        packed.remove_range(i, n);
                        model.drain(i..i + n);
                    }
                    Op::Replace(i, e) if !model.is_empty() => {
                        let i = i % model.len();
                        packed.replace(i, &e);
                        model[i] = e;
                    }
                    _ => {}
                }
                prop_assert_eq!(packed.len(), model.len());
                prop_assert_eq!(strings(&packed), model.clone());
            }
            for (i, e) in model.iter().enumerate() {
                let first = model.iter().position(|m| m == e);
                prop_assert_eq!(packed.position(e, 0, 1), first);
                prop_assert_eq!(packed.get(i).map(|x| x.to_bytes().into_owned()), Some(e.clone()));
            }
        }
    }
}
