//! SORT and SORT_RO: the elements of a list, set or sorted set, sorted numerically or
//! lexicographically, by themselves or by the values of other keys (BY pattern), with LIMIT,
//! GET patterns, and (SORT only) STORE into a list.
//!
//! As on Redis Cluster (7.4 and later), a BY or GET pattern is accepted only when every key it
//! can form lies in the sorted key's slot: the pattern must carry a hash tag of that slot before
//! its first wildcard (`{user1}:weight_*`), so the keys it names are in the same shard, read in
//! the same step. SORT … STORE is a write, logged as itself: it reads only keys of its own slot,
//! and its order is total (ties broken by the elements' bytes where redis leaves the order to
//! its hash table), so every replica stores the same list. Collation is byte order, as redis's
//! `strcoll` under the C locale.

use std::cmp::Ordering;

use bytes::Bytes;

use super::args::{self, Argv};
use super::errors;
use super::registry::Command;
use super::zsets;
use super::{ApplyCtx, ShardCommand};
use crate::keyspace::list::List;
use crate::keyspace::{Keyspace, WrongType};
use crate::protocol::Frame;
use crate::slot::key_slot;

/// The family's commands.
pub static COMMANDS: &[Command] = &[
    Command::slot("sort", parse),
    Command::slot("sort_ro", parse),
];

/// SORT or SORT_RO, parsed. It keeps its argument vector: that is its log form.
#[derive(Clone, Debug, PartialEq)]
pub struct SortCommand {
    /// The key sorted.
    pub key: Bytes,
    /// BY pattern with a `*` (`None`: by the elements themselves).
    pub by: Option<Bytes>,
    /// BY with a pattern without `*`: no sorting at all.
    pub dont_sort: bool,
    /// LIMIT offset count.
    pub limit: Option<(i64, i64)>,
    /// GET patterns, in order.
    pub gets: Vec<Bytes>,
    /// DESC.
    pub desc: bool,
    /// ALPHA.
    pub alpha: bool,
    /// STORE destination.
    pub store: Option<Bytes>,
    /// The arguments as sent.
    pub argv: Argv,
}

fn parse(name: &'static str, argv: &Argv) -> Result<ShardCommand, Frame> {
    SortCommand::parse(name, argv).map(ShardCommand::Sort)
}

/// The slot every key a pattern can form lies in, if there is one: the hash tag before the first
/// wildcard, or the whole pattern when it has no wildcard (redis's `patternHashSlot`).
fn pattern_slot(pattern: &[u8]) -> Option<u16> {
    let mut open: Option<usize> = None;
    let mut empty_tag = false;
    for (i, &c) in pattern.iter().enumerate() {
        match c {
            b'*' | b'?' | b'[' | b'\\' => return None,
            b'{' if open.is_none() && !empty_tag => open = Some(i),
            b'}' => match open {
                Some(o) if i == o + 1 => {
                    open = None;
                    empty_tag = true;
                }
                Some(o) => return Some(tag_slot(&pattern[o + 1..i])),
                None => {}
            },
            _ => {}
        }
    }
    Some(key_slot(pattern))
}

/// The slot of a hash tag's content.
fn tag_slot(tag: &[u8]) -> u16 {
    let mut key = Vec::with_capacity(tag.len() + 2);
    key.push(b'{');
    key.extend_from_slice(tag);
    key.push(b'}');
    key_slot(&key)
}

impl SortCommand {
    /// Parses SORT or SORT_RO (arity already checked), in redis's order: the STORE key's slot
    /// first (a cluster's key extraction), then the options left to right.
    pub fn parse(name: &'static str, argv: &Argv) -> Result<SortCommand, Frame> {
        let readonly = name == "sort_ro";
        let key = argv[1].clone();
        let slot = key_slot(&key);
        if !readonly {
            if let Some(dst) = store_key(argv) {
                if key_slot(dst) != slot {
                    return Err(errors::cross_slot());
                }
            }
        }
        let mut cmd = SortCommand {
            key,
            by: None,
            dont_sort: false,
            limit: None,
            gets: Vec::new(),
            desc: false,
            alpha: false,
            store: None,
            argv: argv.clone(),
        };
        let mut j = 2;
        while j < argv.len() {
            let left = argv.len() - j - 1;
            let word = &argv[j];
            if args::is(word, "asc") {
                cmd.desc = false;
            } else if args::is(word, "desc") {
                cmd.desc = true;
            } else if args::is(word, "alpha") {
                cmd.alpha = true;
            } else if args::is(word, "limit") && left >= 2 {
                cmd.limit = Some((args::int(&argv[j + 1])?, args::int(&argv[j + 2])?));
                j += 2;
            } else if !readonly && args::is(word, "store") && left >= 1 {
                cmd.store = Some(argv[j + 1].clone());
                j += 1;
            } else if args::is(word, "by") && left >= 1 {
                let pattern = &argv[j + 1];
                if !pattern.contains(&b'*') {
                    cmd.dont_sort = true;
                } else if pattern_slot(pattern) != Some(slot) {
                    return Err(Frame::error(
                        "ERR BY option of SORT denied in Cluster mode when keys formed by the \
                         pattern may be in different slots.",
                    ));
                }
                cmd.by = Some(pattern.clone());
                j += 1;
            } else if args::is(word, "get") && left >= 1 {
                let pattern = &argv[j + 1];
                if pattern.as_ref() != b"#" && pattern_slot(pattern) != Some(slot) {
                    return Err(Frame::error(
                        "ERR GET option of SORT denied in Cluster mode when keys formed by the \
                         pattern may be in different slots.",
                    ));
                }
                cmd.gets.push(pattern.clone());
                j += 1;
            } else {
                return Err(errors::syntax());
            }
            j += 1;
        }
        if cmd.dont_sort {
            cmd.by = None;
        }
        Ok(cmd)
    }

    /// The keys: the sorted one, and the STORE destination.
    pub fn keys(&self) -> Vec<&Bytes> {
        std::iter::once(&self.key)
            .chain(self.store.as_ref())
            .collect()
    }

    /// Visits every byte string the command holds (see [`ShardCommand::detach_all`]).
    pub fn for_each_bytes(&mut self, f: &mut impl FnMut(&mut Bytes)) {
        f(&mut self.key);
        self.by.iter_mut().for_each(&mut *f);
        self.gets.iter_mut().for_each(&mut *f);
        self.store.iter_mut().for_each(&mut *f);
        self.argv.iter_mut().for_each(f);
    }

    /// The command as an argument vector: the one it was sent as.
    pub fn to_argv(&self) -> Argv {
        self.argv.clone()
    }

    /// True without STORE.
    pub fn is_read_only(&self) -> bool {
        self.store.is_none()
    }

    /// Runs the command against `ks`.
    pub fn apply(&self, ks: &mut Keyspace, ctx: &ApplyCtx) -> Frame {
        let now = ctx.now;
        if self.store.is_none() {
            // Counted as a read of the key (hits, misses, access clock), as redis counts it.
            let _ = ks.get(&self.key, now);
        }
        let sorted = match self.sorted(ks, now) {
            Ok(Ok(sorted)) => sorted,
            Ok(Err(e)) => return e,
            Err(WrongType) => return errors::wrong_type(),
        };
        let Some(dst) = &self.store else {
            let mut out = Vec::with_capacity(sorted.len() * self.gets.len().max(1));
            for element in &sorted {
                if self.gets.is_empty() {
                    out.push(Frame::Bulk(element.clone()));
                }
                for get in &self.gets {
                    out.push(match self.lookup(ks, now, get, element) {
                        Some(v) => Frame::Bulk(v),
                        None => Frame::Null,
                    });
                }
            }
            return Frame::Array(out);
        };
        let mut stored: Vec<Bytes> = Vec::with_capacity(sorted.len() * self.gets.len().max(1));
        for element in &sorted {
            if self.gets.is_empty() {
                stored.push(element.clone());
            }
            for get in &self.gets {
                stored.push(self.lookup(ks, now, get, element).unwrap_or_default());
            }
        }
        let count = stored.len() as i64;
        let list = List::from_items(stored.iter().map(|b| b.as_ref()));
        ks.purge_if_expired(dst, now);
        ks.store_list(dst, list);
        Frame::Integer(count)
    }

    /// The elements to answer, in order, after LIMIT (`Ok(Err(reply))`: an element or weight
    /// is not a number).
    fn sorted(&self, ks: &Keyspace, now: u64) -> Result<Result<Vec<Bytes>, Frame>, WrongType> {
        let source = Source::read(ks, &self.key, now)?;
        let len = source.len() as i64;
        let (mut dont_sort, mut alpha, mut by) = (self.dont_sort, self.alpha, self.by.clone());
        if dont_sort && matches!(source, Source::Set(_)) && self.store.is_some() {
            // A set has no order of its own: what is stored must be the same on every replica.
            dont_sort = false;
            alpha = true;
            by = None;
        }
        let (limit_start, limit_count) = self.limit.unwrap_or((0, -1));
        let mut start = limit_start.clamp(0, len);
        let count = limit_count.max(-1).min(len);
        let mut end = if count < 0 {
            len - 1
        } else {
            start + count - 1
        };
        if start >= len {
            start = len - 1;
            end = len - 2;
        }
        if end >= len {
            end = len - 1;
        }
        if end < start {
            return Ok(Ok(Vec::new()));
        }
        let (start, end) = (start as usize, end as usize);
        if dont_sort {
            return Ok(Ok(source.in_order(start, end, self.desc)));
        }
        let is_list = matches!(source, Source::List(_));
        let mut elements = source.into_all();
        if !is_list {
            // A set's or sorted set's own order is its hash table's in redis: a fixed order
            // here, so that ties come out alike on every replica.
            elements.sort_unstable();
        }
        let mut keyed: Vec<(Bytes, SortKey)> = Vec::with_capacity(elements.len());
        for element in elements {
            let weight = match &by {
                Some(pattern) => self.lookup(ks, now, pattern, &element),
                None => None,
            };
            let key = if alpha {
                SortKey::Text(if by.is_some() { weight } else { None })
            } else {
                let text = match (&by, weight) {
                    (Some(_), None) => None,
                    (Some(_), Some(w)) => Some(w),
                    (None, _) => Some(element.clone()),
                };
                match text.map(|t| score_of(&t)) {
                    None => SortKey::Number(0.0),
                    Some(Some(score)) => SortKey::Number(score),
                    Some(None) => {
                        return Ok(Err(Frame::error(
                            "ERR One or more scores can't be converted into double",
                        )))
                    }
                }
            };
            keyed.push((element, key));
        }
        let by_pattern = by.is_some();
        let store = self.store.is_some();
        keyed.sort_by(|(a, ka), (b, kb)| {
            let cmp = compare(a, ka, b, kb, by_pattern, store);
            if self.desc {
                cmp.reverse()
            } else {
                cmp
            }
        });
        Ok(Ok(keyed
            .into_iter()
            .skip(start)
            .take(end - start + 1)
            .map(|(e, _)| e)
            .collect()))
    }

    /// The value a pattern names for `element` (redis's `lookupKeyByPattern`): `#` is the
    /// element itself; the first `*` is replaced by the element; `->field` after it reads a
    /// hash's field, else the key must hold a string.
    fn lookup(&self, ks: &Keyspace, now: u64, pattern: &[u8], element: &[u8]) -> Option<Bytes> {
        if pattern == b"#" {
            return Some(Bytes::copy_from_slice(element));
        }
        // Searched as C strings, up to a NUL, as redis searches them.
        let text = pattern.split(|&b| b == 0).next().unwrap_or_default();
        let star = text.iter().position(|&b| b == b'*')?;
        let arrow = text[star + 1..]
            .windows(2)
            .position(|w| w == b"->")
            .map(|at| star + 1 + at)
            .filter(|&at| at + 2 < text.len());
        let field = arrow.map(|at| &pattern[at + 2..]);
        let suffix_end = arrow.unwrap_or(pattern.len());
        let mut key = Vec::with_capacity(pattern.len() + element.len());
        key.extend_from_slice(&pattern[..star]);
        key.extend_from_slice(element);
        key.extend_from_slice(&pattern[star + 1..suffix_end]);
        // The pattern's slot was checked at parse time; a key of another shard is never read.
        if key_slot(&key) != key_slot(&self.key) {
            return None;
        }
        match field {
            Some(field) => {
                let hash = ks.peek_hash(&key, now).ok()??;
                hash.get(field).map(|v| Bytes::copy_from_slice(&v))
            }
            None => ks.peek_str(&key, now).ok()?.map(|e| e.to_bytes()),
        }
    }
}

/// The last STORE destination, found as redis's cluster key extraction finds it (skipping the
/// arguments of LIMIT, GET and BY).
fn store_key(argv: &Argv) -> Option<&Bytes> {
    let mut found = None;
    let mut i = 2;
    while i < argv.len() {
        let word = &argv[i];
        if args::is(word, "limit") {
            i += 2;
        } else if args::is(word, "get") || args::is(word, "by") {
            i += 1;
        } else if args::is(word, "store") && i + 1 < argv.len() {
            found = Some(&argv[i + 1]);
        }
        i += 1;
    }
    found
}

/// What an element is sorted by.
enum SortKey {
    /// Its score (numeric sort).
    Number(f64),
    /// ALPHA BY: the pattern's value (`None`: no such key, sorted first).
    Text(Option<Bytes>),
}

/// A number as SORT reads one: C `strtod` over the text up to a NUL, which must be used whole
/// (leading white space passes, the empty string is 0; NaN, overflow and underflow do not).
fn score_of(text: &[u8]) -> Option<f64> {
    let text = text.split(|&b| b == 0).next().unwrap_or_default();
    if text.is_empty() {
        return Some(0.0);
    }
    let start = text
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))?;
    zsets::parse_score(&text[start..])
}

/// Byte order up to the first NUL, as `strcmp` (and `strcoll` under the C locale) compares.
fn c_string_order(a: &[u8], b: &[u8]) -> Ordering {
    let cut = |s: &[u8]| -> usize { s.iter().position(|&c| c == 0).unwrap_or(s.len()) };
    a[..cut(a)].cmp(&b[..cut(b)])
}

fn compare(a: &[u8], ka: &SortKey, b: &[u8], kb: &SortKey, by: bool, store: bool) -> Ordering {
    let text = |x: &[u8], y: &[u8]| {
        if store {
            x.cmp(y)
        } else {
            c_string_order(x, y)
        }
    };
    match (ka, kb) {
        (SortKey::Number(x), SortKey::Number(y)) => x
            .partial_cmp(y)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.cmp(b)),
        (SortKey::Text(x), SortKey::Text(y)) if by => match (x, y) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => text(x, y),
        },
        _ => text(a, b),
    }
}

/// The sorted key's elements.
enum Source {
    List(Vec<Bytes>),
    Set(Vec<Bytes>),
    /// In score order.
    ZSet(Vec<Bytes>),
}

impl Source {
    fn read(ks: &Keyspace, key: &[u8], now: u64) -> Result<Source, WrongType> {
        let Some(entry) = ks.peek(key, now) else {
            return Ok(Source::List(Vec::new()));
        };
        let own = |c: std::borrow::Cow<'_, [u8]>| Bytes::copy_from_slice(&c);
        Ok(match entry.type_name() {
            "list" => match ks.peek_list(key, now)? {
                Some(l) => Source::List(l.iter_from(0).map(own).collect()),
                None => Source::List(Vec::new()),
            },
            "set" => match ks.peek_set(key, now)? {
                Some(s) => Source::Set(s.members().map(own).collect()),
                None => Source::Set(Vec::new()),
            },
            "zset" => match ks.peek_zset(key, now)? {
                Some(z) => Source::ZSet(z.all().into_iter().map(|(m, _)| own(m)).collect()),
                None => Source::ZSet(Vec::new()),
            },
            _ => return Err(WrongType),
        })
    }

    fn len(&self) -> usize {
        match self {
            Source::List(v) | Source::Set(v) | Source::ZSet(v) => v.len(),
        }
    }

    fn into_all(self) -> Vec<Bytes> {
        match self {
            Source::List(v) | Source::Set(v) | Source::ZSet(v) => v,
        }
    }

    /// Elements `start..=end` in the key's own order (reversed with DESC for a list or sorted
    /// set, as redis walks them from the tail).
    fn in_order(&self, start: usize, end: usize, desc: bool) -> Vec<Bytes> {
        match self {
            Source::List(v) | Source::ZSet(v) if desc => v
                .iter()
                .rev()
                .skip(start)
                .take(end - start + 1)
                .cloned()
                .collect(),
            Source::List(v) | Source::Set(v) | Source::ZSet(v) => v
                .iter()
                .skip(start)
                .take(end - start + 1)
                .cloned()
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_slots_follow_redis() {
        assert_eq!(pattern_slot(b"{user1}:w_*"), Some(tag_slot(b"user1")));
        assert_eq!(pattern_slot(b"a{user1}b*->f"), Some(tag_slot(b"user1")));
        assert_eq!(pattern_slot(b"w_*"), None);
        assert_eq!(pattern_slot(b"{u*}x"), None);
        assert_eq!(pattern_slot(b"{}*"), None);
        assert_eq!(pattern_slot(b"x\\{a}*"), None);
        assert_eq!(pattern_slot(b"fixed"), Some(key_slot(b"fixed")));
        assert_eq!(pattern_slot(b"{}{a}x"), Some(key_slot(b"{}{a}x")));
    }
}
