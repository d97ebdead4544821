//! The keys of one shard: a map per hash slot plus a time-ordered expiry index.
//!
//! Keys live in one insertion-ordered map per slot ([`SlotMap`]), which gives three things at
//! once: per-slot key counts and listings (`CLUSTER COUNTKEYSINSLOT`/`GETKEYSINSLOT`), whole-slot
//! moves later, and a SCAN cursor with Redis's guarantee. SCAN walks each slot's entries from the
//! last index down; deletion is `swap_remove`, which only moves the *last* entry (already visited)
//! into the hole, so an entry present for the whole scan is always reached.
//!
//! Expired keys are hidden from reads at once, whatever their deadline, using the caller's
//! timestamp (one per client batch). Their removal is a write: writers call
//! [`Keyspace::purge_if_expired`] first, and the shard's active expiry cycle removes due keys in
//! small, bounded steps through [`Keyspace::due_keys`] and [`Keyspace::remove_expired`].

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};

use bytes::Bytes;

use crate::slot::key_slot;

pub mod access;
mod collection;
pub mod encoding;
pub mod eviction;
pub mod hash;
pub mod list;
pub mod packed;
pub mod set;
mod slot_map;
pub mod snapshot;
mod thin;
pub mod zset;

use access::Stamp;
use hash::{Hash as HashValue, HashView};
use list::{List, ListView};
use packed::Packed;
use set::{Set as SetValue, SetView};
use slot_map::SlotMap;
use thin::ThinBytes;
use zset::{ZSet, ZSetView};

/// A value to store. Integers that fit `i64` and print back identically are kept as numbers
/// (Redis's `int` encoding).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Value {
    /// A binary-safe string.
    Str(Bytes),
    /// A string that is the canonical decimal form of this integer.
    Int(i64),
    /// A string built in place by APPEND or SETRANGE, which redis always encodes `raw`.
    Raw(Bytes),
    /// A hash: its fields and values (snapshot format 2 and later).
    Hash(Vec<(Bytes, Bytes)>),
    /// A set: its members (snapshot format 3 and later).
    Set(Vec<Bytes>),
    /// A sorted set: its members and scores, in order (snapshot format 4 and later).
    ZSet(Vec<(Bytes, f64)>),
    /// A list: its elements, head first (snapshot format 5 and later).
    List(Vec<Bytes>),
}

impl Value {
    /// A string value, stored as an integer when it is the canonical text of one.
    pub fn from_bytes(data: &[u8]) -> Value {
        match crate::protocol::parse::parse_i64(data) {
            Some(n) => Value::Int(n),
            None => Value::Str(Bytes::copy_from_slice(data)),
        }
    }

    /// As [`Value::from_bytes`], sharing `data`'s buffer instead of copying it.
    pub fn from_shared(data: &Bytes) -> Value {
        match crate::protocol::parse::parse_i64(data) {
            Some(n) => Value::Int(n),
            None => Value::Str(data.clone()),
        }
    }
}

/// How an entry's value bytes are to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Raw string bytes.
    Str,
    /// An `i64`, 8 little-endian bytes.
    Int,
    /// Raw string bytes written in place (APPEND, SETRANGE).
    Raw,
    /// A small hash, packed ([`PackedList`] bytes).
    HashPacked,
    /// A large hash: the index of its [`Large`] value, 4 little-endian bytes.
    HashTable,
    /// A set of integers, packed in ascending order ([`PackedList`] bytes).
    SetInts,
    /// Any other set: the index of its [`Large`] value.
    SetTable,
    /// A small sorted set, packed: members and scores alternating, in order.
    ZSetPacked,
    /// A large sorted set: the index of its [`Large`] value.
    ZSetTable,
    /// A small list, packed.
    ListPacked,
    /// A large list: the index of its [`Large`] value.
    ListDeque,
}

impl Kind {
    fn is_string(self) -> bool {
        matches!(self, Kind::Str | Kind::Int | Kind::Raw)
    }

    /// True when the value lives in the keyspace's side table.
    fn is_large(self) -> bool {
        matches!(
            self,
            Kind::HashTable | Kind::SetTable | Kind::ZSetTable | Kind::ListDeque
        )
    }
}

/// A collection too large to pack into its key's entry, kept beside the slot maps; the entry
/// holds its index. Strings never pay for it: an entry stays 16 bytes.
enum Large {
    Hash(HashValue),
    Set(SetValue),
    ZSet(ZSet),
    List(List),
}

impl Large {
    fn bytes(&self) -> usize {
        match self {
            Large::Hash(h) => h.bytes(),
            Large::Set(s) => s.bytes(),
            Large::ZSet(z) => z.bytes(),
            Large::List(l) => l.bytes(),
        }
    }
}

/// One key of a snapshot: the key, its value, its deadline (0 = none) and its version
/// ([`Entry::version`]).
pub type Item = (Bytes, Value, u64, u32);

/// The error of a command run against a key of another type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WrongType;

/// One key with its value and deadline. Key, value and deadline share one heap buffer behind a
/// thin pointer ([`ThinBytes`]: the buffer's length as a varint, then the deadline as 8
/// little-endian bytes if the key has one, the key's length as a varint, the key, the value),
/// so a key costs one allocation and 16 bytes of entry in its slot's vector; see
/// `docs/limits.md` for the measured bytes per key against redis's.
pub struct Entry {
    buf: ThinBytes,
    /// The low 32 bits of the log index of the last change to the key (see
    /// [`Keyspace::set_change_version`]): the same on every replica, since it comes from the
    /// log and snapshots carry it. An eviction picked before a change leaves the key alone.
    version: u32,
    /// When the key was last read or written, on the keyspace's clock (seconds, modulo 2^16: an
    /// idle time is told up to about 9 hours, half the clock's turn). What the LRU eviction policies compare; only a
    /// leader's reads keep it current, and only a leader picks keys to evict.
    access: u16,
    kind: Kind,
    /// [`MARK`] and [`HAS_DEADLINE`].
    flags: u8,
}

/// Set in [`Entry::flags`] when the entry carries the keyspace's mark: a snapshot in progress
/// has dealt with it (see [`snapshot`]); outside snapshots, every entry carries the mark.
const MARK: u8 = 1;
/// Set in [`Entry::flags`] when the buffer starts with a deadline.
const HAS_DEADLINE: u8 = 2;

impl Entry {
    /// The entry of a string value (a collection's is built by the keyspace, which may keep
    /// part of it aside).
    fn string(key: &[u8], value: &Value, expires_at: u64) -> Entry {
        let (kind, data): (Kind, &[u8]) = match value {
            Value::Str(b) => (Kind::Str, b),
            Value::Raw(b) => (Kind::Raw, b),
            Value::Int(n) => (Kind::Int, &n.to_le_bytes()[..]),
            Value::Hash(_) | Value::Set(_) | Value::ZSet(_) | Value::List(_) => {
                unreachable!("a collection is stored by Keyspace::store")
            }
        };
        Entry::new(key, kind, data, expires_at)
    }

    fn new(key: &[u8], kind: Kind, data: &[u8], expires_at: u64) -> Entry {
        let (key_len, used) = packed::varint(key.len() as u64);
        let key_len = &key_len[..used];
        let deadline = expires_at.to_le_bytes();
        let (buf, flags) = if expires_at == 0 {
            (ThinBytes::concat(&[key_len, key, data]), 0)
        } else {
            let parts: [&[u8]; 4] = [&deadline, key_len, key, data];
            (ThinBytes::concat(&parts), HAS_DEADLINE)
        };
        Entry {
            buf,
            version: 0,
            kind,
            flags,
            access: 0,
        }
    }

    /// The same key and value with deadline `expires_at` (0 = none), everything else kept.
    fn with_deadline(&self, expires_at: u64) -> Entry {
        let mut entry = Entry::new(self.key(), self.kind, self.data(), expires_at);
        entry.version = self.version;
        entry.access = self.access;
        entry.set_mark(self.has_mark());
        entry
    }

    /// Changes the deadline in place when the entry has one and keeps one (`expires_at` is not
    /// 0); false when the buffer must be rebuilt instead ([`Entry::with_deadline`]).
    fn replace_deadline(&mut self, expires_at: u64) -> bool {
        if self.flags & HAS_DEADLINE == 0 || expires_at == 0 {
            return false;
        }
        match self.buf.as_mut_slice().first_chunk_mut::<8>() {
            Some(bytes) => {
                *bytes = expires_at.to_le_bytes();
                true
            }
            None => false,
        }
    }

    /// About the bytes the entry holds: its buffer and its place in the slot map.
    pub fn footprint(&self) -> usize {
        self.buf.allocated() + std::mem::size_of::<Entry>() + 16
    }

    fn has_mark(&self) -> bool {
        self.flags & MARK != 0
    }

    fn set_mark(&mut self, mark: bool) {
        self.flags = (self.flags & !MARK) | if mark { MARK } else { 0 };
    }

    /// The bytes after the deadline: the key's length, the key, the value.
    fn body(&self) -> &[u8] {
        let buf = self.buf.as_slice();
        if self.flags & HAS_DEADLINE != 0 {
            &buf[8..]
        } else {
            buf
        }
    }

    /// Where the key starts in [`Entry::body`], and where it ends.
    fn key_bounds(body: &[u8]) -> (usize, usize) {
        // One byte for keys of up to 127 bytes: the common case without a loop.
        match body.first() {
            Some(&b) if b < 0x80 => (1, 1 + usize::from(b)),
            _ => {
                let (len, at) = packed::read_varint(body, 0);
                (at, at + len as usize)
            }
        }
    }

    /// The key.
    pub fn key(&self) -> &[u8] {
        let body = self.body();
        let (start, end) = Entry::key_bounds(body);
        &body[start..end]
    }

    fn data(&self) -> &[u8] {
        let body = self.body();
        &body[Entry::key_bounds(body).1..]
    }

    /// The version of the key's last change (see [`Entry::version`]'s field).
    pub fn version(&self) -> u32 {
        self.version
    }

    fn int(&self) -> Option<i64> {
        match self.kind {
            Kind::Int => self.data().try_into().ok().map(i64::from_le_bytes),
            _ => None,
        }
    }

    /// The index of the entry's [`Large`] value.
    fn large_id(&self) -> Option<usize> {
        if !self.kind.is_large() {
            return None;
        }
        let id: [u8; 4] = self.data().try_into().ok()?;
        Some(u32::from_le_bytes(id) as usize)
    }

    /// True when the value is a string (the only kind the string commands accept).
    pub fn is_string(&self) -> bool {
        self.kind.is_string()
    }

    /// The integer, when the value is stored as one.
    pub fn as_int(&self) -> Option<i64> {
        self.int()
    }

    /// The value's bytes as a client sees them.
    pub fn to_bytes(&self) -> Bytes {
        match self.int() {
            Some(n) => Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            None => Bytes::copy_from_slice(self.data()),
        }
    }

    /// Length of the value in bytes as a client sees it.
    pub fn len(&self) -> usize {
        match self.int() {
            Some(n) => itoa::Buffer::new().format(n).len(),
            None => self.data().len(),
        }
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The Redis type name (`TYPE`).
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Str | Kind::Int | Kind::Raw => "string",
            Kind::HashPacked | Kind::HashTable => "hash",
            Kind::SetInts | Kind::SetTable => "set",
            Kind::ZSetPacked | Kind::ZSetTable => "zset",
            Kind::ListPacked | Kind::ListDeque => "list",
        }
    }

    /// The Redis encoding name (`OBJECT ENCODING`), following redis's rules so that tools which
    /// look at it see what they expect: `int` for numbers (stored here as 8 bytes too), `embstr`
    /// for strings of up to 44 bytes set whole, `raw` for longer ones and for strings built in
    /// place by APPEND/SETRANGE. Shardis keeps both string kinds in the entry's one buffer.
    pub fn encoding(&self) -> &'static str {
        match self.kind {
            Kind::Int => "int",
            Kind::Str if self.data().len() <= 44 => "embstr",
            Kind::Str | Kind::Raw => "raw",
            Kind::HashPacked | Kind::ZSetPacked => "listpack",
            Kind::ZSetTable => "skiplist",
            Kind::ListPacked | Kind::ListDeque => "quicklist",
            Kind::HashTable | Kind::SetTable => "hashtable",
            Kind::SetInts => "intset",
        }
    }

    /// Deadline in Unix milliseconds, if any.
    pub fn expires_at(&self) -> Option<u64> {
        (self.flags & HAS_DEADLINE != 0).then(|| self.deadline())
    }

    /// The deadline in Unix milliseconds, 0 for none.
    fn deadline(&self) -> u64 {
        if self.flags & HAS_DEADLINE == 0 {
            return 0;
        }
        match self.buf.as_slice().first_chunk::<8>() {
            Some(bytes) => u64::from_le_bytes(*bytes),
            None => 0,
        }
    }

    fn is_expired(&self, now: u64) -> bool {
        self.flags & HAS_DEADLINE != 0 && self.deadline() <= now
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("kind", &self.kind)
            .field("expires_at", &self.deadline())
            .finish()
    }
}

// An entry is its own map key: hashing and equality look at the key bytes only, exactly as
// `[u8]` does, so maps can be searched with a plain `&[u8]`.
impl Hash for Entry {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Entry {}

impl std::borrow::Borrow<[u8]> for Entry {
    fn borrow(&self) -> &[u8] {
        self.key()
    }
}

/// Bytes of `n` as a varint.
fn varint_len(n: usize) -> usize {
    (usize::BITS - (n | 1).leading_zeros()).div_ceil(7) as usize
}

/// The hasher of every slot map: one process-wide random seed, so that a map's header stays
/// small (16384 of them) and a lookup touches no per-map seed.
#[derive(Clone, Copy, Default)]
pub(crate) struct SeededHasher;

static HASH_SEED: std::sync::LazyLock<ahash::RandomState> =
    std::sync::LazyLock::new(ahash::RandomState::new);

impl std::hash::BuildHasher for SeededHasher {
    type Hasher = ahash::AHasher;

    fn build_hasher(&self) -> ahash::AHasher {
        HASH_SEED.build_hasher()
    }
}

/// The live entry of `key` in `map` at `now`, stamped with the access clock and counted as a
/// hit or miss: a read.
fn read_entry<'a>(
    map: &'a mut SlotMap,
    key: &[u8],
    now: u64,
    stamp: Stamp,
    stats: &mut KeyspaceStats,
) -> Option<&'a Entry> {
    let found = (!map.is_empty())
        .then(|| map.get_mut(key))
        .flatten()
        .filter(|e| !e.is_expired(now));
    match found {
        Some(e) => {
            e.access = stamp.accessed(e.access);
            stats.hits += 1;
            Some(&*e)
        }
        None => {
            stats.misses += 1;
            None
        }
    }
}

/// The list `entry` holds, read where it is stored.
fn list_view<'a>(
    entry: &'a Entry,
    large: &'a slab::Slab<Large>,
) -> Result<ListView<'a>, WrongType> {
    match (entry.kind, entry.large_id().and_then(|id| large.get(id))) {
        (Kind::ListPacked, _) => Ok(ListView::Packed(Packed::new(entry.data()))),
        (Kind::ListDeque, Some(Large::List(l))) => Ok(l.view()),
        _ => Err(WrongType),
    }
}

/// The sorted set `entry` holds, read where it is stored.
fn zset_view<'a>(
    entry: &'a Entry,
    large: &'a slab::Slab<Large>,
) -> Result<ZSetView<'a>, WrongType> {
    match (entry.kind, entry.large_id().and_then(|id| large.get(id))) {
        (Kind::ZSetPacked, _) => Ok(ZSetView::packed(Packed::new(entry.data()))),
        (Kind::ZSetTable, Some(Large::ZSet(z))) => Ok(z.view()),
        _ => Err(WrongType),
    }
}

/// The set `entry` holds, read where it is stored.
fn set_view<'a>(entry: &'a Entry, large: &'a slab::Slab<Large>) -> Result<SetView<'a>, WrongType> {
    match (entry.kind, entry.large_id().and_then(|id| large.get(id))) {
        (Kind::SetInts, _) => Ok(SetView::Ints(Packed::new(entry.data()))),
        (Kind::SetTable, Some(Large::Set(set))) => Ok(set.view()),
        _ => Err(WrongType),
    }
}

/// The hash `entry` holds, read where it is stored.
fn hash_view<'a>(
    entry: &'a Entry,
    large: &'a slab::Slab<Large>,
) -> Result<HashView<'a>, WrongType> {
    match (entry.kind, entry.large_id().and_then(|id| large.get(id))) {
        (Kind::HashPacked, _) => Ok(HashView::Packed(Packed::new(entry.data()))),
        (Kind::HashTable, Some(Large::Hash(hash))) => Ok(hash.view()),
        _ => Err(WrongType),
    }
}

/// Counters a shard keeps for `INFO stats`.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyspaceStats {
    /// Keys removed because their deadline passed.
    pub expired_keys: u64,
    /// Keys removed to stay within `maxmemory` (by entries the leader proposed).
    pub evicted_keys: u64,
    /// Reads that found their key.
    pub hits: u64,
    /// Reads that did not.
    pub misses: u64,
}

/// The keyspace of one shard: every key of a contiguous slot range.
pub struct Keyspace {
    first_slot: u16,
    slots: Vec<SlotMap>,
    /// (deadline, key) of every key with a deadline.
    expiry: BTreeSet<(u64, Box<[u8]>)>,
    len: usize,
    /// Counters for INFO.
    pub stats: KeyspaceStats,
    /// The mark new entries get (flipped when a snapshot starts).
    mark: bool,
    /// The snapshot being encoded while the shard goes on serving, if any.
    snapshot: Option<Box<snapshot::Progress>>,
    /// The access clock entries are stamped with (see [`Keyspace::set_clock`]), and whether it
    /// has been set yet.
    clock: u16,
    clock_started: bool,
    /// The same time in minutes (modulo 256), for the LFU counts' decay ([`access`]).
    minutes: u8,
    /// The footprints of the entries held ([`Entry::footprint`]) and of their large values:
    /// what the data costs, known exactly and at once (the allocator's own count lags), for
    /// `maxmemory`.
    bytes: usize,
    /// The collections too large to pack into their entries (see [`Large`]).
    large: slab::Slab<Large>,
    /// The version changed entries are stamped with (see [`Keyspace::set_change_version`]).
    change_version: u32,
    /// Per slot held, the version of the last change that deleted one of its keys (see
    /// [`Keyspace::deletion_version`]).
    deleted: Vec<u32>,
    /// The leader's best eviction candidates so far (see [`eviction::EvictionPool`]).
    eviction_pool: eviction::EvictionPool,
}

impl Keyspace {
    /// Sets the version the changes applied from now on stamp their keys with: the shard sets
    /// the low 32 bits of each log entry's index before applying it, so a key's version says
    /// which entry last changed it, alike on every replica. An eviction carries the version
    /// its key had when the leader picked it, and applies only if the key still has it
    /// ([`Keyspace::evict_unchanged`]): a key written after it was picked stays.
    pub fn set_change_version(&mut self, version: u32) {
        self.change_version = version;
    }

    /// An empty keyspace for slots `first..=last`.
    pub fn new(first: u16, last: u16) -> Keyspace {
        let slots = (first..=last).map(|_| SlotMap::default()).collect();
        let deleted = vec![0; usize::from(last - first) + 1];
        Keyspace {
            first_slot: first,
            slots,
            expiry: BTreeSet::new(),
            len: 0,
            stats: KeyspaceStats::default(),
            mark: false,
            snapshot: None,
            clock: 0,
            clock_started: false,
            minutes: 0,
            bytes: 0,
            large: slab::Slab::new(),
            change_version: 0,
            deleted,
            eviction_pool: eviction::EvictionPool::default(),
        }
    }

    /// The version of the last change that deleted a key of `slot` (deletion, expiry, eviction,
    /// RENAME away, FLUSHALL; 0 before any). WATCH records it for a key that is absent, so that
    /// a key created and deleted again before EXEC still counts as changed: a version of the key
    /// alone would not show it. Per slot, not per key, so it can also move for another key of
    /// the slot (EXEC then fails when redis would not: the safe side of optimistic locking).
    pub fn deletion_version(&self, slot: u16) -> u32 {
        slot.checked_sub(self.first_slot)
            .and_then(|at| self.deleted.get(usize::from(at)))
            .copied()
            .unwrap_or(0)
    }

    /// `(slot, version)` of every slot whose deletion version is not 0 (for snapshots).
    pub fn deletion_versions(&self) -> Vec<(u16, u32)> {
        self.deleted
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != 0)
            .map(|(at, v)| (self.first_slot + at as u16, *v))
            .collect()
    }

    /// Replaces the content with a snapshot's: its keys, and its slots' deletion versions, so
    /// that a replica that installed the snapshot judges WATCH's guards as one that applied the
    /// entries it covers.
    pub fn install(&mut self, contents: snapshot::Contents) -> Result<(), String> {
        self.load(contents.items)?;
        self.deleted.fill(0);
        for (slot, version) in contents.deletions {
            let at = slot
                .checked_sub(self.first_slot)
                .map(usize::from)
                .filter(|&at| at < self.deleted.len())
                .ok_or_else(|| format!("a deletion version of slot {slot}, not held here"))?;
            self.deleted[at] = version;
        }
        Ok(())
    }

    /// Stamps `key`'s slot as having lost a key now.
    fn note_deletion(&mut self, key: &[u8]) {
        let at = usize::from(key_slot(key) - self.first_slot);
        if let Some(v) = self.deleted.get_mut(at) {
            *v = self.change_version;
        }
    }

    /// The inclusive slot range held here.
    pub fn slot_range(&self) -> (u16, u16) {
        (
            self.first_slot,
            self.first_slot + self.slots.len() as u16 - 1,
        )
    }

    fn map(&self, key: &[u8]) -> &SlotMap {
        let slot = key_slot(key);
        &self.slots[usize::from(slot - self.first_slot)]
    }

    fn map_mut(&mut self, key: &[u8]) -> &mut SlotMap {
        let slot = key_slot(key);
        &mut self.slots[usize::from(slot - self.first_slot)]
    }

    /// Number of keys, expired-but-not-yet-removed ones included (as Redis's DBSIZE).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no key is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What the entries held cost, by their footprints ([`Entry::footprint`]).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Number of keys with a deadline.
    pub fn expires_len(&self) -> usize {
        self.expiry.len()
    }

    /// The live entry of `key` at time `now` (expired entries are hidden), counted as a hit or miss.
    pub fn get(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        let stamp = self.stamp();
        let map = &mut self.slots[usize::from(key_slot(key) - self.first_slot)];
        read_entry(map, key, now, stamp, &mut self.stats)
    }

    /// As [`Keyspace::get`], for the string commands: another type is [`WrongType`].
    pub fn get_str(&mut self, key: &[u8], now: u64) -> Result<Option<&Entry>, WrongType> {
        match self.get(key, now) {
            Some(e) if !e.is_string() => Err(WrongType),
            found => Ok(found),
        }
    }

    /// As [`Keyspace::peek`], for the string commands: another type is [`WrongType`].
    pub fn peek_str(&self, key: &[u8], now: u64) -> Result<Option<&Entry>, WrongType> {
        match self.peek(key, now) {
            Some(e) if !e.is_string() => Err(WrongType),
            found => Ok(found),
        }
    }

    /// The hash at `key` at time `now`, read (counted as a hit or miss, as [`Keyspace::get`]).
    pub fn hash(&mut self, key: &[u8], now: u64) -> Result<Option<HashView<'_>>, WrongType> {
        let stamp = self.stamp();
        let map = &mut self.slots[usize::from(key_slot(key) - self.first_slot)];
        let Some(entry) = read_entry(map, key, now, stamp, &mut self.stats) else {
            return Ok(None);
        };
        hash_view(entry, &self.large).map(Some)
    }

    /// The hash at `key`, without touching the counters or the access clock.
    pub fn peek_hash(&self, key: &[u8], now: u64) -> Result<Option<HashView<'_>>, WrongType> {
        match self.peek(key, now) {
            Some(entry) => hash_view(entry, &self.large).map(Some),
            None => Ok(None),
        }
    }

    /// The set at `key` at time `now`, read (counted as a hit or miss, as [`Keyspace::get`]).
    pub fn set(&mut self, key: &[u8], now: u64) -> Result<Option<SetView<'_>>, WrongType> {
        let stamp = self.stamp();
        let map = &mut self.slots[usize::from(key_slot(key) - self.first_slot)];
        let Some(entry) = read_entry(map, key, now, stamp, &mut self.stats) else {
            return Ok(None);
        };
        set_view(entry, &self.large).map(Some)
    }

    /// The set at `key`, without touching the counters or the access clock.
    pub fn peek_set(&self, key: &[u8], now: u64) -> Result<Option<SetView<'_>>, WrongType> {
        match self.peek(key, now) {
            Some(entry) => set_view(entry, &self.large).map(Some),
            None => Ok(None),
        }
    }

    /// As [`Keyspace::update_hash`], for the set at `key`.
    pub fn update_set<R>(
        &mut self,
        key: &[u8],
        now: u64,
        create: bool,
        f: impl FnOnce(&mut SetValue) -> R,
    ) -> Result<Option<R>, WrongType> {
        self.update(key, now, create, f)
    }

    /// The sorted set at `key` at time `now`, read (counted as a hit or miss).
    pub fn zset(&mut self, key: &[u8], now: u64) -> Result<Option<ZSetView<'_>>, WrongType> {
        let stamp = self.stamp();
        let map = &mut self.slots[usize::from(key_slot(key) - self.first_slot)];
        let Some(entry) = read_entry(map, key, now, stamp, &mut self.stats) else {
            return Ok(None);
        };
        zset_view(entry, &self.large).map(Some)
    }

    /// The sorted set at `key`, without touching the counters or the access clock.
    pub fn peek_zset(&self, key: &[u8], now: u64) -> Result<Option<ZSetView<'_>>, WrongType> {
        match self.peek(key, now) {
            Some(entry) => zset_view(entry, &self.large).map(Some),
            None => Ok(None),
        }
    }

    /// As [`Keyspace::update_hash`], for the sorted set at `key`.
    pub fn update_zset<R>(
        &mut self,
        key: &[u8],
        now: u64,
        create: bool,
        f: impl FnOnce(&mut ZSet) -> R,
    ) -> Result<Option<R>, WrongType> {
        self.update(key, now, create, f)
    }

    /// Replaces whatever `key` holds with `zset` (no deadline), or removes the key if it is
    /// empty: the STORE forms of the sorted set commands.
    pub fn store_zset(&mut self, key: &[u8], zset: ZSet) {
        if zset.is_empty() {
            self.remove(key);
        } else {
            self.store(key, zset, 0);
        }
    }

    /// The list at `key` at time `now`, read (counted as a hit or miss).
    pub fn list(&mut self, key: &[u8], now: u64) -> Result<Option<ListView<'_>>, WrongType> {
        let stamp = self.stamp();
        let map = &mut self.slots[usize::from(key_slot(key) - self.first_slot)];
        let Some(entry) = read_entry(map, key, now, stamp, &mut self.stats) else {
            return Ok(None);
        };
        list_view(entry, &self.large).map(Some)
    }

    /// The list at `key`, without touching the counters or the access clock.
    pub fn peek_list(&self, key: &[u8], now: u64) -> Result<Option<ListView<'_>>, WrongType> {
        match self.peek(key, now) {
            Some(entry) => list_view(entry, &self.large).map(Some),
            None => Ok(None),
        }
    }

    /// As [`Keyspace::update_hash`], for the list at `key`.
    pub fn update_list<R>(
        &mut self,
        key: &[u8],
        now: u64,
        create: bool,
        f: impl FnOnce(&mut List) -> R,
    ) -> Result<Option<R>, WrongType> {
        self.update(key, now, create, f)
    }

    /// Replaces whatever `key` holds with `list` (no deadline), or removes the key if `list` is
    /// empty: SORT … STORE.
    pub fn store_list(&mut self, key: &[u8], list: List) {
        if list.is_empty() {
            self.remove(key);
        } else {
            self.store(key, list, 0);
        }
    }

    /// Replaces whatever `key` holds with `set` (no deadline), or removes the key if `set` is
    /// empty: the STORE forms of the set commands.
    pub fn store_set(&mut self, key: &[u8], set: SetValue) {
        if set.is_empty() {
            self.remove(key);
        } else {
            self.store(key, set, 0);
        }
    }

    /// Runs `f` on the hash at `key` (a key past its deadline at `now` is removed first), and
    /// stores the result: in its entry while it stays packed, in the side table once it is a
    /// table; a hash left empty removes its key, as redis does. An absent key is given an empty
    /// hash when `create` is set, else `f` does not run (`Ok(None)`).
    pub fn update_hash<R>(
        &mut self,
        key: &[u8],
        now: u64,
        create: bool,
        f: impl FnOnce(&mut HashValue) -> R,
    ) -> Result<Option<R>, WrongType> {
        self.update(key, now, create, f)
    }

    /// Stamps `key`'s entry with the access clock and the change version (it is being written
    /// in place).
    fn touch(&mut self, key: &[u8]) {
        let (stamp, version) = (self.stamp(), self.change_version);
        if let Some(e) = self.map_mut(key).get_mut(key) {
            e.access = stamp.accessed(e.access);
            e.version = version;
        }
    }

    /// Frees what `entry` (just taken out of its map) kept in the side table.
    fn release(&mut self, entry: &Entry) {
        if let Some(id) = entry.large_id() {
            if let Some(large) = self.large.try_remove(id) {
                self.bytes -= large.bytes();
            }
        }
    }

    /// The footprint of every entry and large value, and the number of entries holding a large
    /// value, counted afresh: what [`Keyspace::bytes`] and the side table's size must be.
    #[cfg(test)]
    pub fn recount(&self) -> (usize, usize) {
        let entries = self.slots.iter().flat_map(|m| m.iter());
        let (mut bytes, mut large) = (0, 0);
        for e in entries {
            bytes += e.footprint();
            if let Some(value) = e.large_id().and_then(|id| self.large.get(id)) {
                bytes += value.bytes();
                large += 1;
            }
        }
        (bytes, large)
    }

    /// Number of values in the side table.
    #[cfg(test)]
    pub fn large_len(&self) -> usize {
        self.large.len()
    }

    /// `entry`'s value as an owned [`Value`]: what snapshots hold, and what COPY copies.
    pub fn value_of(&self, entry: &Entry) -> Value {
        let data = || Bytes::copy_from_slice(entry.data());
        match entry.kind {
            Kind::Raw => Value::Raw(data()),
            Kind::Int | Kind::Str => match entry.int() {
                Some(n) => Value::Int(n),
                None => Value::Str(data()),
            },
            Kind::ListPacked | Kind::ListDeque => Value::List(
                list_view(entry, &self.large)
                    .map(|l| l.iter_from(0).map(|i| Bytes::copy_from_slice(&i)).collect())
                    .unwrap_or_default(),
            ),
            Kind::ZSetPacked | Kind::ZSetTable => Value::ZSet(
                zset_view(entry, &self.large)
                    .map(|z| {
                        z.all()
                            .into_iter()
                            .map(|(m, s)| (Bytes::copy_from_slice(&m), s))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            Kind::SetInts | Kind::SetTable => Value::Set(
                set_view(entry, &self.large)
                    .map(|s| s.members().map(|m| Bytes::copy_from_slice(&m)).collect())
                    .unwrap_or_default(),
            ),
            Kind::HashPacked | Kind::HashTable => Value::Hash(
                hash_view(entry, &self.large)
                    .map(|h| {
                        h.pairs()
                            .map(|(f, v)| (Bytes::copy_from_slice(&f), Bytes::copy_from_slice(&v)))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
        }
    }

    /// Moves `src`'s value and deadline to `dst` (replacing what `dst` held) without copying
    /// the value. False when `src` is absent.
    pub fn rename(&mut self, src: &[u8], dst: &[u8]) -> bool {
        self.before_change(src);
        let Some(entry) = self.map_mut(src).swap_remove(src) else {
            return false;
        };
        self.note_deletion(src);
        self.len -= 1;
        self.bytes -= entry.footprint();
        self.reindex(src, entry.deadline(), 0);
        self.before_change(dst);
        let mut moved = Entry::new(dst, entry.kind, entry.data(), entry.deadline());
        moved.set_mark(self.mark);
        moved.access = entry.access;
        let old = self.upsert(dst, moved);
        self.reindex(
            dst,
            old.as_ref().map_or(0, Entry::deadline),
            entry.deadline(),
        );
        true
    }

    /// Moves the access clock new and read entries are stamped with to the time `now` (Unix
    /// milliseconds): the shard calls it with each batch's timestamp. It never goes back: a
    /// write is applied after reads that came later (it waited for its commit), and an entry
    /// stamped a second ahead of the clock would look idle for 18 hours.
    pub fn set_clock(&mut self, now: u64) {
        let at = (now / 1000) as u16;
        if !self.clock_started || at.wrapping_sub(self.clock) < u16::MAX / 2 {
            self.clock = at;
            self.minutes = (now / 60_000) as u8;
            self.clock_started = true;
        }
    }

    /// How entries are stamped now, by the policy selected ([`access`]).
    pub fn stamp(&self) -> Stamp {
        Stamp::current(self.clock, self.minutes)
    }

    /// Seconds since `entry` was last read or written (up to about 9 hours, see
    /// [`Entry::access`]; an entry stamped ahead of the clock counts as just used).
    pub fn idle_seconds(&self, entry: &Entry) -> u16 {
        let idle = self.clock.wrapping_sub(entry.access);
        if idle < u16::MAX / 2 {
            idle
        } else {
            0
        }
    }

    /// The bytes `key` and its value take at `now` (its entry's footprint and, for a large
    /// collection, what the collection holds), without touching it; `None` when absent.
    pub fn memory_usage(&self, key: &[u8], now: u64) -> Option<usize> {
        let entry = self.peek(key, now)?;
        let large = entry
            .large_id()
            .and_then(|id| self.large.get(id))
            .map_or(0, |l| l.bytes());
        Some(entry.footprint() + large)
    }

    /// `entry`'s access count under an LFU policy, decayed to now ([`access`]).
    pub fn frequency(&self, entry: &Entry) -> u8 {
        self.stamp().frequency(entry.access)
    }

    /// The live entry of `key` at time `now`, without touching the counters.
    pub fn peek(&self, key: &[u8], now: u64) -> Option<&Entry> {
        self.map(key).get(key).filter(|e| !e.is_expired(now))
    }

    /// True when `key` is live at `now`.
    pub fn contains(&self, key: &[u8], now: u64) -> bool {
        self.peek(key, now).is_some()
    }

    fn stored(&self, key: &[u8]) -> Option<&Entry> {
        self.map(key).get(key)
    }

    /// Removes `key` if its deadline has passed at `now`; writers call this before they look.
    pub fn purge_if_expired(&mut self, key: &[u8], now: u64) {
        if self.stored(key).is_some_and(|e| e.is_expired(now)) {
            self.remove(key);
            self.stats.expired_keys += 1;
        }
    }

    /// Stores `value` under `key` with deadline `expires_at` (0 = none), replacing any old entry.
    /// A collection takes the form redis would give it (packed while small).
    pub fn insert(&mut self, key: &[u8], value: Value, expires_at: u64) {
        self.put(key, value, expires_at);
    }

    /// As [`Keyspace::purge_if_expired`] followed by [`Keyspace::insert`] (an old entry already
    /// expired at `now` counts as an expired key), in one map lookup: the path of a plain SET.
    pub fn overwrite(&mut self, key: &[u8], value: Value, expires_at: u64, now: u64) {
        if self
            .put(key, value, expires_at)
            .is_some_and(|old| old.is_expired(now))
        {
            self.stats.expired_keys += 1;
        }
    }

    /// Stores the entry and keeps the deadline index right; returns the entry it replaced.
    fn put(&mut self, key: &[u8], value: Value, expires_at: u64) -> Option<Entry> {
        if let Value::Hash(pairs) = value {
            // Only SET looks at the entry `put` replaced, and it stores strings.
            let hash = HashValue::from_pairs(pairs.iter().map(|(f, v)| (&f[..], &v[..])));
            self.store(key, hash, expires_at);
            return None;
        }
        if let Value::List(items) = value {
            self.store(
                key,
                List::from_items(items.iter().map(|i| &i[..])),
                expires_at,
            );
            return None;
        }
        if let Value::ZSet(members) = value {
            self.store(
                key,
                ZSet::from_members(members.iter().map(|(m, s)| (&m[..], *s))),
                expires_at,
            );
            return None;
        }
        if let Value::Set(members) = value {
            self.store(
                key,
                SetValue::from_members(members.iter().map(|m| &m[..])),
                expires_at,
            );
            return None;
        }
        self.before_change(key);
        let entry = self.new_entry(key, &value, expires_at);
        let old = self.upsert(key, entry);
        self.carry_count(key, old.as_ref());
        self.reindex(key, old.as_ref().map_or(0, Entry::deadline), expires_at);
        old
    }

    /// Under an LFU policy, an overwritten key keeps its count, with one access more: redis
    /// counts the write's lookup, then keeps the old object's LFU field for the new value.
    fn carry_count(&mut self, key: &[u8], old: Option<&Entry>) {
        let stamp = self.stamp();
        if let (Some(_), Some(old)) = (stamp.lfu, old) {
            if let Some(e) = self.map_mut(key).get_mut(key) {
                e.access = stamp.accessed(old.access);
            }
        }
    }

    /// Puts `entry` (whose key is `key`) in its slot map with one hash and one probe, returning
    /// the entry it replaced.
    fn upsert(&mut self, key: &[u8], mut entry: Entry) -> Option<Entry> {
        entry.version = self.change_version;
        let added = entry.footprint();
        let old = self.map_mut(key).upsert(entry);
        if old.is_none() {
            self.len += 1;
        }
        self.bytes = self.bytes + added - old.as_ref().map_or(0, Entry::footprint);
        if let Some(old) = &old {
            self.release(old);
        }
        old
    }

    /// Replaces the value of an existing `key`, keeping its deadline. Returns false if absent.
    pub fn replace_value(&mut self, key: &[u8], value: Value) -> bool {
        self.before_change(key);
        let (mark, stamp, version) = (self.mark, self.stamp(), self.change_version);
        match self.map_mut(key).get_mut(key) {
            Some(slot) => {
                let before = slot.footprint();
                let old = std::mem::replace(slot, Entry::string(key, &value, slot.deadline()));
                slot.set_mark(mark);
                slot.access = stamp.accessed(old.access);
                slot.version = version;
                let after = slot.footprint();
                self.bytes = self.bytes + after - before;
                self.release(&old);
                true
            }
            None => false,
        }
    }

    /// A new entry, carrying the keyspace's current mark (a snapshot in progress skips it).
    fn new_entry(&self, key: &[u8], value: &Value, expires_at: u64) -> Entry {
        let mut entry = Entry::string(key, value, expires_at);
        entry.set_mark(self.mark);
        entry.access = self.stamp().new_entry();
        entry
    }

    /// Called before any change to `key`: a snapshot in progress takes the entry as it is first.
    fn before_change(&mut self, key: &[u8]) {
        if self.snapshot.is_some() {
            self.save_for_snapshot(key);
        }
    }

    /// Changes the deadline of an existing key (0 = none). Returns false if the key is absent.
    pub fn set_expiry(&mut self, key: &[u8], expires_at: u64) -> bool {
        self.before_change(key);
        let version = self.change_version;
        let Some(entry) = self.map_mut(key).get_mut(key) else {
            return false;
        };
        entry.version = version;
        let old = entry.deadline();
        let before = entry.footprint();
        if !entry.replace_deadline(expires_at) {
            *entry = entry.with_deadline(expires_at);
        }
        let after = entry.footprint();
        self.bytes = self.bytes + after - before;
        self.reindex(key, old, expires_at);
        true
    }

    fn reindex(&mut self, key: &[u8], old: u64, new: u64) {
        if old == new {
            return;
        }
        if old != 0 {
            self.expiry.remove(&(old, Box::<[u8]>::from(key)));
        }
        if new != 0 {
            self.expiry.insert((new, Box::from(key)));
        }
    }

    /// Removes `key` whatever its deadline, returning its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.before_change(key);
        let entry = self.map_mut(key).swap_remove(key)?;
        self.note_deletion(key);
        self.len -= 1;
        self.bytes -= entry.footprint();
        if let Some(deadline) = entry.expires_at() {
            self.expiry.remove(&(deadline, Box::<[u8]>::from(key)));
        }
        self.release(&entry);
        Some(entry)
    }

    /// Up to `max` keys whose deadline is at or before `now`, earliest first.
    pub fn due_keys(&self, now: u64, max: usize) -> Vec<Bytes> {
        self.expiry
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(max)
            .map(|(_, k)| Bytes::copy_from_slice(k))
            .collect()
    }

    /// True when some key's deadline is at or before `now`.
    pub fn has_due(&self, now: u64) -> bool {
        self.expiry.first().is_some_and(|(at, _)| *at <= now)
    }

    /// Removes those of `keys` whose deadline is at or before `at`; returns how many went.
    /// A key written again with a later deadline since it was chosen stays.
    pub fn remove_expired(&mut self, keys: &[Bytes], at: u64) -> usize {
        let mut removed = 0;
        for key in keys {
            let due = self.stored(key).is_some_and(|e| e.is_expired(at));
            if due {
                self.remove(key);
                removed += 1;
            }
        }
        self.stats.expired_keys += removed as u64;
        removed
    }

    /// Every key with its value, deadline (0 = none) and version, expired ones included: the
    /// content of a snapshot. Deadlines are absolute, so a snapshot restored later expires keys
    /// on time; versions are kept, so an eviction picked before the snapshot still compares
    /// alike on a replica that installed it.
    pub fn dump(&self) -> Vec<Item> {
        self.slots
            .iter()
            .flat_map(|m| m.iter())
            .map(|e| {
                (
                    Bytes::copy_from_slice(e.key()),
                    self.value_of(e),
                    e.deadline(),
                    e.version,
                )
            })
            .collect()
    }

    /// The keyspace as [`Keyspace::dump`] gives it, but serialized straight from the stored
    /// entries — no copy of any key or value — for snapshots. Encodes exactly as the dump does,
    /// so [`Keyspace::load`] reads it back.
    pub fn snapshot(&self) -> SnapshotView<'_> {
        SnapshotView(self)
    }

    /// Replaces the content with `items` (from [`Keyspace::dump`]); keys outside this keyspace's
    /// slots are an error, found before anything is changed.
    pub fn load(&mut self, items: Vec<Item>) -> Result<(), String> {
        let (first, last) = self.slot_range();
        if let Some(slot) = items
            .iter()
            .map(|(key, ..)| key_slot(key))
            .find(|slot| *slot < first || *slot > last)
        {
            return Err(format!("key in slot {slot} outside {first}..={last}"));
        }
        self.clear();
        let version = self.change_version;
        for (key, value, expires_at, key_version) in items {
            self.change_version = key_version;
            self.insert(&key, value, expires_at);
        }
        self.change_version = version;
        Ok(())
    }

    /// Removes every key. A snapshot in progress is completed first.
    pub fn clear(&mut self) {
        self.finish_snapshot_now();
        let (first, last) = self.slot_range();
        let stats = self.stats;
        let snapshot = self.snapshot.take();
        let clock = (self.clock, self.clock_started, self.minutes);
        let version = self.change_version;
        // Slots that lose keys count a deletion (see `deletion_version`); an empty one does not,
        // as redis's FLUSHALL touches only the watched keys that existed.
        let mut deleted = std::mem::take(&mut self.deleted);
        for (at, map) in self.slots.iter().enumerate() {
            if !map.is_empty() {
                if let Some(v) = deleted.get_mut(at) {
                    *v = version;
                }
            }
        }
        *self = Keyspace::new(first, last);
        self.deleted = deleted;
        self.stats = stats;
        self.snapshot = snapshot;
        (self.clock, self.clock_started, self.minutes) = clock;
        self.change_version = version;
    }

    /// Every live key at `now`, slot by slot.
    pub fn live_keys(&self, now: u64) -> impl Iterator<Item = &Entry> {
        self.slots
            .iter()
            .flat_map(|m| m.iter())
            .filter(move |e| !e.is_expired(now))
    }

    /// Number of keys stored in `slot` (0 for a slot not held here).
    pub fn count_in_slot(&self, slot: u16) -> usize {
        self.slot_map(slot).map_or(0, |m| m.len())
    }

    /// Up to `count` keys stored in `slot`, in the slot's order (none for a slot not held here).
    pub fn keys_in_slot(&self, slot: u16, count: usize) -> impl Iterator<Item = &[u8]> {
        self.slot_map(slot)
            .into_iter()
            .flat_map(|m| m.iter())
            .take(count)
            .map(Entry::key)
    }

    fn slot_map(&self, slot: u16) -> Option<&SlotMap> {
        slot.checked_sub(self.first_slot)
            .and_then(|i| self.slots.get(usize::from(i)))
    }

    /// One SCAN step over this shard, starting at `cursor` (see [`ScanCursor`]). Visits about
    /// `count` entries, passes each live one to `visit`, and returns the cursor to continue from, or
    /// `None` once the last slot held here is done.
    pub fn scan(
        &self,
        cursor: ScanCursor,
        count: usize,
        now: u64,
        mut visit: impl FnMut(&Entry),
    ) -> Option<ScanCursor> {
        let (_, last) = self.slot_range();
        let mut slot = cursor.slot.max(self.first_slot);
        let mut pos = cursor.pos;
        let mut visited = 0usize;
        while slot <= last {
            let map = &self.slots[usize::from(slot - self.first_slot)];
            let mut i = if pos == 0 {
                map.len()
            } else {
                (pos as usize).min(map.len())
            };
            while i > 0 {
                i -= 1;
                if let Some(e) = map.get_index(i) {
                    if !e.is_expired(now) {
                        visit(e);
                    }
                }
                visited += 1;
                if visited >= count && i > 0 {
                    return Some(ScanCursor {
                        slot,
                        pos: i as u64,
                    });
                }
            }
            pos = 0;
            slot += 1;
            if visited >= count {
                break;
            }
        }
        (slot <= last).then_some(ScanCursor { slot, pos: 0 })
    }

    /// A uniformly chosen live key, or `None` when there is none.
    pub fn random_key(&self, now: u64) -> Option<Bytes> {
        use rand::Rng;
        if self.len == 0 {
            return None;
        }
        let mut rng = rand::rng();
        for _ in 0..100 {
            let mut n = rng.random_range(0..self.len);
            for map in &self.slots {
                if n < map.len() {
                    let e = map.get_index(n)?;
                    if !e.is_expired(now) {
                        return Some(Bytes::copy_from_slice(e.key()));
                    }
                    break;
                }
                n -= map.len();
            }
        }
        self.live_keys(now)
            .next()
            .map(|e| Bytes::copy_from_slice(e.key()))
    }
}

/// Where a SCAN stands: a slot, and within it how many entries (counting from the end) are left;
/// `pos == 0` means the slot has not been started. Encoded for clients as `pos << 14 | slot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ScanCursor {
    /// Slot being scanned.
    pub slot: u16,
    /// Entries of that slot still to visit, from index `pos - 1` down; 0 = all of them.
    pub pos: u64,
}

impl ScanCursor {
    /// Decodes a client cursor.
    pub fn decode(cursor: u64) -> ScanCursor {
        ScanCursor {
            slot: (cursor & 0x3fff) as u16,
            pos: cursor >> 14,
        }
    }

    /// Encodes for clients; cursor 0 is the start (slot 0, not started).
    pub fn encode(self) -> u64 {
        (self.pos << 14) | u64::from(self.slot)
    }
}

/// A keyspace serialized like `Vec<(Bytes, Value, u64)>` (see [`Keyspace::snapshot`]).
pub struct SnapshotView<'a>(&'a Keyspace);

/// Bytes serialized as `bytes::Bytes` is (`serialize_bytes`).
struct RawBytes<'a>(&'a [u8]);

impl serde::Serialize for RawBytes<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// One entry's value serialized as the matching [`Value`] variant is (the keyspace's side
/// table holds a large collection's elements).
struct ValueView<'a>(&'a Entry, &'a slab::Slab<Large>);

impl serde::Serialize for ValueView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        match (e.kind, e.int()) {
            (Kind::Raw, _) => s.serialize_newtype_variant("Value", 2, "Raw", &RawBytes(e.data())),
            (Kind::HashPacked | Kind::HashTable, _) => {
                let hash = hash_view(e, self.1)
                    .map_err(|_| serde::ser::Error::custom("a hash entry without its table"))?;
                s.serialize_newtype_variant("Value", 3, "Hash", &PairsView(hash))
            }
            (Kind::SetInts | Kind::SetTable, _) => {
                let set = set_view(e, self.1)
                    .map_err(|_| serde::ser::Error::custom("a set entry without its table"))?;
                s.serialize_newtype_variant("Value", 4, "Set", &MembersView(set))
            }
            (Kind::ListPacked | Kind::ListDeque, _) => {
                let l = list_view(e, self.1)
                    .map_err(|_| serde::ser::Error::custom("a list entry without its deque"))?;
                s.serialize_newtype_variant("Value", 6, "List", &ItemsView(l))
            }
            (Kind::ZSetPacked | Kind::ZSetTable, _) => {
                let z = zset_view(e, self.1)
                    .map_err(|_| serde::ser::Error::custom("a zset entry without its table"))?;
                s.serialize_newtype_variant("Value", 5, "ZSet", &ScoredView(z))
            }
            (_, Some(n)) => s.serialize_newtype_variant("Value", 1, "Int", &n),
            (_, None) => s.serialize_newtype_variant("Value", 0, "Str", &RawBytes(e.data())),
        }
    }
}

/// A sorted set's members and scores serialized as `Vec<(Bytes, f64)>` is.
struct ScoredView<'a>(ZSetView<'a>);

impl serde::Serialize for ScoredView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (m, score) in self.0.all() {
            seq.serialize_element(&(RawBytes(&m), score))?;
        }
        seq.end()
    }
}

/// A list's elements serialized as `Vec<Bytes>` is.
struct ItemsView<'a>(ListView<'a>);

impl serde::Serialize for ItemsView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for i in self.0.iter_from(0) {
            seq.serialize_element(&RawBytes(&i))?;
        }
        seq.end()
    }
}

/// A set's members serialized as `Vec<Bytes>` is.
struct MembersView<'a>(SetView<'a>);

impl serde::Serialize for MembersView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for m in self.0.members() {
            seq.serialize_element(&RawBytes(&m))?;
        }
        seq.end()
    }
}

/// A hash's pairs serialized as `Vec<(Bytes, Bytes)>` is.
struct PairsView<'a>(HashView<'a>);

impl serde::Serialize for PairsView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (f, v) in self.0.pairs() {
            seq.serialize_element(&(RawBytes(&f), RawBytes(&v)))?;
        }
        seq.end()
    }
}

impl serde::Serialize for SnapshotView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let count = self.0.slots.iter().map(|m| m.len()).sum();
        let mut seq = s.serialize_seq(Some(count))?;
        for e in self.0.slots.iter().flat_map(|m| m.iter()) {
            seq.serialize_element(&(
                RawBytes(e.key()),
                ValueView(e, &self.0.large),
                e.deadline(),
                e.version,
            ))?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_with_a_foreign_key_changes_nothing() {
        let mut ks = Keyspace::new(0, 100);
        let keys: Vec<Bytes> = (0..)
            .map(|i| Bytes::from(format!("k{i}")))
            .take(2000)
            .collect();
        let local: Vec<&Bytes> = keys.iter().filter(|k| key_slot(k) <= 100).take(2).collect();
        let foreign = keys
            .iter()
            .find(|k| key_slot(k) > 100)
            .expect("a key outside");
        ks.insert(local[0], Value::from_bytes(b"kept"), 0);
        let items = vec![
            (local[1].clone(), Value::from_bytes(b"new"), 0, 0),
            (foreign.clone(), Value::from_bytes(b"v"), 0, 0),
        ];
        assert!(ks.load(items).is_err());
        assert_eq!(ks.len(), 1);
        let kept = ks.peek(local[0], 0).map(|e| e.to_bytes());
        assert_eq!(kept, Some(Bytes::from_static(b"kept")));
    }

    #[test]
    fn expiry_index_follows_writes() {
        let mut ks = Keyspace::new(0, 16383);
        ks.insert(b"a", Value::from_bytes(b"1"), 100);
        ks.insert(b"b", Value::from_bytes(b"x"), 200);
        assert_eq!(ks.expires_len(), 2);
        ks.insert(b"a", Value::from_bytes(b"2"), 0);
        assert_eq!(ks.expires_len(), 1);
        assert!(ks.contains(b"b", 199));
        assert!(!ks.contains(b"b", 200));
        assert_eq!(ks.due_keys(250, 10), vec![Bytes::from_static(b"b")]);
        ks.set_expiry(b"b", 300);
        assert_eq!(ks.remove_expired(&[Bytes::from_static(b"b")], 250), 0);
        assert_eq!(ks.remove_expired(&[Bytes::from_static(b"b")], 300), 1);
        assert_eq!(ks.len(), 1);
        assert_eq!(ks.expires_len(), 0);
    }

    #[test]
    fn overwrite_counts_an_expired_old_entry_and_keeps_the_indexes_right() {
        let mut ks = Keyspace::new(0, 16383);
        ks.overwrite(b"a", Value::from_bytes(b"1"), 100, 50);
        ks.overwrite(b"b", Value::from_bytes(b"x"), 0, 50);
        assert_eq!(
            (ks.len(), ks.expires_len(), ks.stats.expired_keys),
            (2, 1, 0)
        );
        // Still live at 99: replaced, not expired.
        ks.overwrite(b"a", Value::from_bytes(b"2"), 150, 99);
        assert_eq!(
            (ks.len(), ks.expires_len(), ks.stats.expired_keys),
            (2, 1, 0)
        );
        // Past its deadline at 150: the write counts it expired, as redis's SET does.
        ks.overwrite(b"a", Value::from_bytes(b"3"), 0, 150);
        assert_eq!(
            (ks.len(), ks.expires_len(), ks.stats.expired_keys),
            (2, 0, 1)
        );
        assert_eq!(
            ks.peek(b"a", 10_000).map(|e| e.to_bytes()),
            Some(Bytes::from_static(b"3"))
        );
        assert_eq!(ks.due_keys(10_000, 10), Vec::<Bytes>::new());
    }

    #[test]
    fn scan_returns_every_stable_key_despite_writes() {
        let mut ks = Keyspace::new(0, 16383);
        let stable: Vec<String> = (0..500).map(|i| format!("stable{i}")).collect();
        for k in &stable {
            ks.insert(k.as_bytes(), Value::from_bytes(b"v"), 0);
        }
        for i in 0..500 {
            ks.insert(format!("churn{i}").as_bytes(), Value::from_bytes(b"v"), 0);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = ScanCursor::default();
        let mut round = 0;
        loop {
            let next = ks.scan(cursor, 7, 0, |e| {
                seen.insert(e.key().to_vec());
            });
            // Churn between steps: delete some keys, add others.
            for j in 0..5 {
                ks.remove(format!("churn{}", round * 5 + j).as_bytes());
                ks.insert(
                    format!("new{round}-{j}").as_bytes(),
                    Value::from_bytes(b"v"),
                    0,
                );
            }
            round += 1;
            match next {
                Some(c) => cursor = ScanCursor::decode(c.encode()),
                None => break,
            }
        }
        for k in &stable {
            assert!(seen.contains(k.as_bytes()), "{k} missed");
        }
    }

    #[test]
    fn snapshot_round_trip_keeps_every_value_kind_and_deadline() {
        let mut ks = Keyspace::new(0, 16383);
        ks.insert(b"s", Value::Str(Bytes::from_static(b"hello")), 0);
        ks.insert(b"n", Value::Int(-42), 5_000);
        ks.insert(b"r", Value::Raw(Bytes::from_static(b"appended")), 0);
        ks.insert(
            b"\x00bin\xff",
            Value::Str(Bytes::from(vec![0u8, 255, 13, 10])),
            9_999,
        );
        ks.insert(b"gone", Value::Int(1), 10);
        let pairs = |n: usize| -> Vec<(Bytes, Bytes)> {
            (0..n)
                .map(|i| (Bytes::from(format!("f{i}")), Bytes::from(i.to_string())))
                .collect()
        };
        ks.insert(b"small-hash", Value::Hash(pairs(3)), 7_000);
        ks.insert(b"large-hash", Value::Hash(pairs(600)), 0);
        let members = |n: usize, prefix: &str| -> Vec<Bytes> {
            (0..n)
                .map(|i| Bytes::from(format!("{prefix}{i}")))
                .collect()
        };
        ks.insert(b"intset", Value::Set(members(5, "")), 8_000);
        ks.insert(b"string-set", Value::Set(members(3, "m")), 0);
        ks.insert(b"large-set", Value::Set(members(600, "")), 0);
        let scored = |n: usize| -> Vec<(Bytes, f64)> {
            (0..n)
                .map(|i| (Bytes::from(format!("z{i}")), (i % 7) as f64 / 3.0))
                .collect()
        };
        ks.insert(b"small-zset", Value::ZSet(scored(5)), 0);
        ks.insert(b"large-zset", Value::ZSet(scored(300)), 9_000);
        ks.insert(b"small-list", Value::List(members(4, "e")), 0);
        ks.insert(
            b"large-list",
            Value::List((0..400).map(|i| Bytes::from(format!("{i:040}"))).collect()),
            0,
        );
        let data = crate::codec::encode(&ks.dump()).expect("encode");
        assert_eq!(
            crate::codec::encode(&ks.snapshot()).expect("encode"),
            data,
            "the borrowed snapshot encodes exactly as the dump"
        );
        let mut back = Keyspace::new(0, 16383);
        back.load(crate::codec::decode(&data).expect("decode"))
            .expect("load");
        assert_eq!(back.len(), ks.len());
        assert_eq!(back.expires_len(), ks.expires_len());
        for key in [
            &b"s"[..],
            b"n",
            b"r",
            b"\x00bin\xff",
            b"small-hash",
            b"large-hash",
            b"intset",
            b"string-set",
            b"large-set",
            b"small-zset",
            b"large-zset",
            b"small-list",
            b"large-list",
        ] {
            let (a, b) = (
                ks.peek(key, 20).expect("old"),
                back.peek(key, 20).expect("new"),
            );
            assert_eq!(
                (ks.value_of(a), a.expires_at(), a.encoding()),
                (back.value_of(b), b.expires_at(), b.encoding())
            );
        }
        assert_eq!(
            back.peek(b"large-hash", 20).map(Entry::encoding),
            Some("hashtable")
        );
        assert_eq!(back.bytes(), ks.bytes(), "the same footprint counted");
        // The deadline is absolute: the restored key is still gone at the same time.
        assert!(back.peek(b"gone", 20).is_none());
        let mut half = Keyspace::new(0, 8191);
        assert!(
            half.load(ks.dump()).is_err() || ks.dump().iter().all(|(k, ..)| key_slot(k) <= 8191)
        );
    }

    #[test]
    fn int_encoding_is_canonical_only() {
        assert_eq!(Value::from_bytes(b"123"), Value::Int(123));
        assert!(matches!(Value::from_bytes(b"0123"), Value::Str(_)));
        let mut ks = Keyspace::new(0, 16383);
        ks.insert(b"n", Value::from_bytes(b"-5"), 0);
        let e = ks.peek(b"n", 0).expect("stored");
        assert_eq!(
            (e.to_bytes(), e.encoding(), e.len()),
            (Bytes::from_static(b"-5"), "int", 2)
        );
        assert_eq!(std::mem::size_of::<Entry>(), 16);
    }
}
