//! Linearizability checker for recorded client histories.
//!
//! A history is a list of [`Event`]s: one operation on one key, the time the client sent it
//! (`invoke`), the time it saw the reply (`complete`) and what it saw ([`Outcome`]). The
//! history is linearizable if every operation can be given a single point in time, inside its
//! `[invoke, complete]` interval, such that running the operations one by one in that order on
//! the sequential model (a map from keys to `Option<i64>`, see [`Op`]) gives exactly the
//! replies the clients saw. [`check`] decides it per key; [`check_counter`] checks the final
//! value of a counter.
//!
//! # How the check works
//!
//! **Per key.** Operations on different keys commute, and linearizability is *local*
//! (Herlihy & Wing): a history is linearizable iff its restriction to each key is. So the
//! history is split by key and every key is searched on its own, which keeps each search small.
//!
//! **Wing–Gong search (WGL).** Each operation contributes a *call* entry at `invoke` and a
//! *return* entry at `complete`; the entries sort into one timeline, kept as a doubly linked
//! list. The search walks the list from the head:
//!
//! - at a *call* entry, try to linearize that operation next: apply it to the model state; if
//!   the model's reply equals the recorded one, remove ("lift") the operation's call and return
//!   entries from the list, push it on a stack and restart from the head;
//! - at a *return* entry, the operation it belongs to has finished but was not linearized, and
//!   nothing later in the list may go before it: backtrack — pop the last linearized operation,
//!   put its entries back ("unlift") and continue with the entry after its call.
//!
//! The search succeeds when every completed operation is linearized, and fails when it must
//! backtrack with an empty stack.
//!
//! **Lowe's memoization.** Two search states that have linearized the same *set* of operations
//! and reached the same model state have the same future, so the search records every
//! `(set of linearized operations, model state)` pair it reaches and never enters one twice.
//! This is what turns the exponential search into something fast on the histories real tests
//! produce. The set is stored as the timeline position before which every operation is
//! linearized plus the few linearized past it, so the table stays small on long histories.
//!
//! **Ties.** When one operation's `complete` equals another's `invoke`, call entries sort
//! before return entries: the two operations are treated as concurrent, so either order is
//! allowed. Timestamps have finite resolution and are taken on the client side (before sending,
//! after receiving), so equal stamps do not prove that one operation finished before the other
//! began; treating them as concurrent can only hide a violation that hinges on a single clock
//! tick, never report a violation that did not happen.
//!
//! **Unknown outcomes.** An operation that timed out or lost its connection may or may not
//! have taken effect, at any time after `invoke`. Its return is at +infinity (it has no return
//! entry, so nothing ever has to come before it) and any reply is accepted. It may also never
//! take effect: an unknown operation can always be left out (or, as Porcupine does, placed
//! after all others, where nobody observes it), so the search succeeds as soon as all
//! *completed* operations are linearized, whatever unknown ones are left. An unknown `Get`
//! constrains nothing and is dropped before the search, as are [`Outcome::Fail`] operations,
//! which definitely did not take effect.
//!
//! Unknown operations are what makes the search expensive (each one may be placed anywhere
//! after its invoke), so they get more pruning, all of it keeping at least one linearization
//! if any exists: only linearizations using as few unknown operations as possible are
//! explored; unknown operations with the same `Op` are interchangeable and used in invoke
//! order; a state that differs from an already entered one only by *more* unknown operations
//! used is skipped (dominance); and `Set`s whose value no reply can ever show are given one
//! common value (see `run` and `merge_unobserved_values`).
//!
//! **Level search.** Depth-first search may reach a state with unknown operations used
//! needlessly before it reaches the same state without them, and then explores both; with many
//! unknown operations and a violation near the end, that multiplies. So after a quarter of the
//! budget, a second search takes over that builds all states with `d` completed operations
//! before any with `d + 1`, keeping only undominated ones (see `level_search`).
//!
//! **Budget.** Both searches are exponential in the worst case, so they count steps (entries
//! visited, states built, comparisons made) and give up with [`Verdict::Undecided`] after
//! `max_steps` for one key.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

/// A step budget per key. Ordinary histories (thousands of ops, a few percent of them unknown)
/// take well under a million steps; this many take a few seconds in a debug build and tens of
/// megabytes.
pub const DEFAULT_MAX_STEPS: u64 = 10_000_000;

/// An operation on one key, as a client sent it.
///
/// The model, per key (initially absent, state `Option<i64>`):
/// - `Get` replies `Value(state)`;
/// - `Set(v)` makes the state `Some(v)` and replies `Done`;
/// - `Incr` makes an absent key 1 and adds 1 otherwise, replying `Int(new value)` (an
///   increment that would overflow fails in Redis and has no effect: it never replies `Int`);
/// - `Del` replies `Int(1)` and makes the state `None` if the key is present, else `Int(0)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Op {
    Get,
    Set(i64),
    Incr,
    Del,
}

/// What the client saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Outcome {
    /// Acknowledged, with the reply: `Get` -> `Value(Option<i64>)`, `Set` -> `Done`,
    /// `Incr` -> `Int(new value)`, `Del` -> `Int(keys removed, 0 or 1)`.
    Ok(Ret),
    /// Definitely not applied (e.g. refused before it reached the log): dropped.
    Fail,
    /// May or may not have taken effect (timeout, connection lost); if it took effect, it did
    /// so at some point after `invoke`, with any reply.
    Unknown,
}

/// A reply to an acknowledged operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ret {
    Value(Option<i64>),
    Int(i64),
    Done,
}

/// One operation of a history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub client: u64,
    pub key: String,
    pub op: Op,
    /// Nanoseconds since the start of the run, taken before the request was sent.
    pub invoke: u64,
    /// Nanoseconds since the start of the run, taken after the reply arrived; ignored for
    /// [`Outcome::Unknown`] and [`Outcome::Fail`]. A value below `invoke` is read as `invoke`.
    pub complete: u64,
    pub outcome: Outcome,
}

/// The result of checking one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    Linearizable,
    /// No linearization exists. The explanation names the longest linearizable prefix the
    /// search found (ops as `#index` into the checked history), the model state after it, the
    /// completed op that could not be placed and the pending ops that were tried instead.
    Violation {
        key: String,
        explanation: String,
    },
    /// The step budget ran out before the search decided.
    Undecided {
        key: String,
    },
}

/// Verdicts for every key of a history, in key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub keys: Vec<(String, Verdict)>,
}

impl Report {
    /// True if every key is [`Verdict::Linearizable`].
    pub fn is_linearizable(&self) -> bool {
        self.keys
            .iter()
            .all(|(_, v)| matches!(v, Verdict::Linearizable))
    }

    /// The keys with a [`Verdict::Violation`].
    pub fn violations(&self) -> impl Iterator<Item = &Verdict> {
        self.keys
            .iter()
            .map(|(_, v)| v)
            .filter(|v| matches!(v, Verdict::Violation { .. }))
    }

    /// The keys whose search ran out of budget.
    pub fn undecided(&self) -> impl Iterator<Item = &str> {
        self.keys
            .iter()
            .filter(|(_, v)| matches!(v, Verdict::Undecided { .. }))
            .map(|(k, _)| k.as_str())
    }

    /// The verdict for `key`, if the history has it.
    pub fn verdict(&self, key: &str) -> Option<&Verdict> {
        self.keys.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// Checks a whole history: splits it by key and runs the WGL search on each key with at most
/// `max_steps` steps (see [`DEFAULT_MAX_STEPS`]). Keys come out sorted.
pub fn check(history: &[Event], max_steps: u64) -> Report {
    let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in history.iter().enumerate() {
        by_key.entry(e.key.as_str()).or_default().push(i);
    }
    let keys = by_key
        .into_iter()
        .map(|(key, indices)| {
            let verdict = check_key(history, key, &indices, max_steps, Plan::Both);
            (key.to_owned(), verdict)
        })
        .collect();
    Report { keys }
}

/// Bounds on the final value of a counter key written only with `Incr` (never `Set` or `Del`):
/// at least every acknowledged increment took effect, at most also every unknown one.
/// Failed increments are not counted. Reads of the key do not matter.
pub fn counter_bounds(history: &[Event], key: &str) -> (u64, u64) {
    let mut acked = 0;
    let mut unknown = 0;
    for e in history.iter().filter(|e| e.key == key && e.op == Op::Incr) {
        match e.outcome {
            Outcome::Ok(_) => acked += 1,
            Outcome::Unknown => unknown += 1,
            Outcome::Fail => {}
        }
    }
    (acked, acked + unknown)
}

/// Checks the value of a counter key read after the run (`None`: key absent) against
/// [`counter_bounds`]. Refuses keys that the history also writes with `Set` or `Del`
/// (acknowledged or not), for which the bounds mean nothing.
pub fn check_counter(history: &[Event], key: &str, final_value: Option<i64>) -> Result<(), String> {
    if let Some(e) = history.iter().find(|e| {
        e.key == key && matches!(e.op, Op::Set(_) | Op::Del) && e.outcome != Outcome::Fail
    }) {
        return Err(format!(
            "key {key:?} is not a pure counter: client {} sent {:?}",
            e.client, e.op
        ));
    }
    let (min, max) = counter_bounds(history, key);
    let value = final_value.unwrap_or(0);
    let in_range = u64::try_from(value).is_ok_and(|v| (min..=max).contains(&v));
    if in_range {
        Ok(())
    } else {
        Err(format!(
            "counter {key:?} ends at {final_value:?}, expected {min}..={max} \
             ({min} acknowledged increments, {} unknown)",
            max - min
        ))
    }
}

/// The model state of one key.
type State = Option<i64>;

/// Applies `op` to `state`. `expected` is the recorded reply (`None`: unknown, anything goes).
/// Returns the new state, or `None` if the op cannot produce that reply in this state.
fn step(state: State, op: Op, expected: Option<Ret>) -> Option<State> {
    let (reply, next) = model(state, op)?;
    match expected {
        Some(r) if r != reply => None,
        _ => Some(next),
    }
}

/// The sequential model: the reply and the new state, or `None` if the op cannot succeed
/// (an overflowing `Incr`).
fn model(state: State, op: Op) -> Option<(Ret, State)> {
    Some(match op {
        Op::Get => (Ret::Value(state), state),
        Op::Set(v) => (Ret::Done, Some(v)),
        Op::Incr => {
            let n = state.unwrap_or(0).checked_add(1)?;
            (Ret::Int(n), Some(n))
        }
        Op::Del => (Ret::Int(i64::from(state.is_some())), None),
    })
}

/// One operation of the key being searched.
struct KeyOp {
    /// Index into the checked history, for explanations.
    index: usize,
    /// The operation, with unobservable `Set` values merged (see `merge_unobserved_values`).
    op: Op,
    /// The recorded reply; `None` for unknown outcomes.
    expected: Option<Ret>,
    invoke: u64,
    /// For an unknown op: its position in sets of unknown ops (numbered class by class, in
    /// invoke order within a class), and its class.
    bit: usize,
    class: usize,
}

/// Unknown ops with the same `Op`. They are interchangeable: none ever returns, so the one
/// invoked first can go wherever a later one can. The searches only use them in invoke order,
/// so a class is a list and a count of the members used.
struct Class {
    op: Op,
    members: Vec<usize>,
    used: usize,
    /// The bit of the first member; members have consecutive bits.
    first_bit: usize,
}

impl Class {
    /// The next member to use, if any.
    fn head(&self) -> Option<usize> {
        self.members.get(self.used).copied()
    }
}

/// Which end of an operation a list entry is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Call,
    Return,
}

/// A doubly linked list of timed entries with a head sentinel, so that an item's entries can
/// be removed and put back in O(1) ("dancing links"). Slots are numbered in time order.
struct Timeline {
    /// `(item, kind, time)` per entry slot; the last slot is the head sentinel.
    entries: Vec<(usize, Kind, u64)>,
    next: Vec<usize>,
    prev: Vec<usize>,
    /// Entry slot of each item's call and return, `NIL` if it has none.
    call_of: Vec<usize>,
    return_of: Vec<usize>,
}

impl Timeline {
    /// `NIL` marks the end of the list, or no entry.
    const NIL: usize = usize::MAX;

    /// Builds the list from `(time, kind, item)` entries, items below `items`. At equal times
    /// calls sort before returns (overlapping operations are concurrent, see the module docs);
    /// the sort is stable, so otherwise history order is kept.
    fn new(items: usize, mut timed: Vec<(u64, Kind, usize)>) -> Self {
        timed.sort_by_key(|&(t, kind, _)| (t, kind == Kind::Return));
        let len = timed.len();
        let head = len;
        let mut list = Timeline {
            entries: Vec::with_capacity(len + 1),
            next: Vec::with_capacity(len + 1),
            prev: Vec::with_capacity(len + 1),
            call_of: vec![Self::NIL; items],
            return_of: vec![Self::NIL; items],
        };
        for (slot, &(time, kind, item)) in timed.iter().enumerate() {
            list.entries.push((item, kind, time));
            list.prev.push(if slot == 0 { head } else { slot - 1 });
            list.next
                .push(if slot + 1 == len { Self::NIL } else { slot + 1 });
            match kind {
                Kind::Call => list.call_of[item] = slot,
                Kind::Return => list.return_of[item] = slot,
            }
        }
        list.entries.push((Self::NIL, Kind::Call, 0));
        list.prev.push(Self::NIL);
        list.next.push(if len == 0 { Self::NIL } else { 0 });
        list
    }

    /// The number of entries, not counting the sentinel.
    fn len(&self) -> usize {
        self.entries.len() - 1
    }

    /// The first entry left, `NIL` if none.
    fn first(&self) -> usize {
        self.next[self.len()]
    }

    fn unlink(&mut self, slot: usize) {
        if slot == Self::NIL {
            return;
        }
        let (p, n) = (self.prev[slot], self.next[slot]);
        self.next[p] = n;
        if n != Self::NIL {
            self.prev[n] = p;
        }
    }

    /// Puts back an entry removed by `unlink`; removals must be undone in reverse order.
    fn relink(&mut self, slot: usize) {
        if slot == Self::NIL {
            return;
        }
        let (p, n) = (self.prev[slot], self.next[slot]);
        self.next[p] = slot;
        if n != Self::NIL {
            self.prev[n] = slot;
        }
    }

    /// Removes an item's entries.
    fn lift(&mut self, item: usize) {
        self.unlink(self.call_of[item]);
        self.unlink(self.return_of[item]);
    }

    /// Undoes the last `lift`.
    fn unlift(&mut self, item: usize) {
        self.relink(self.return_of[item]);
        self.relink(self.call_of[item]);
    }
}

/// The set of completed ops linearized, in a form that stays small however long the history:
/// every entry of the timeline before slot `mark` belongs to a linearized op, and `ahead` lists
/// the call slots (ascending) of the linearized ops whose call is after `mark` — as many as
/// ops went ahead of a pending one, a few.
#[derive(Clone, PartialEq, Eq, Hash)]
struct DoneSet {
    mark: usize,
    ahead: Vec<usize>,
}

impl DoneSet {
    /// Whether the op whose call is at slot `call` is in the set.
    fn contains(&self, call: usize) -> bool {
        call < self.mark || self.ahead.binary_search(&call).is_ok()
    }

    /// Adds the op whose call is at slot `call`, then moves `mark` past linearized entries.
    fn insert(&mut self, call: usize, list: &Timeline) {
        if let Err(at) = self.ahead.binary_search(&call) {
            self.ahead.insert(at, call);
        }
        while self.mark < list.len() {
            let id = list.entries[self.mark].0;
            if !self.contains(list.call_of[id]) {
                break;
            }
            self.mark += 1;
        }
        let passed = self.ahead.partition_point(|&c| c < self.mark);
        self.ahead.drain(..passed);
    }
}

/// A set of unknown ops (by `KeyOp::bit`).
#[derive(Clone, PartialEq, Eq, Hash)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Self {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn clear(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
    fn is_subset(&self, other: &Bits) -> bool {
        self.0.iter().zip(&other.0).all(|(a, b)| a & !b == 0)
    }
    /// How many bits are set from `start` on before the first clear one, at most `len`.
    fn ones_from(&self, start: usize, len: usize) -> usize {
        let mut n = 0;
        while n < len {
            let i = start + n;
            let shift = i % 64;
            let avail = (64 - shift).min(len - n);
            let ones = ((self.0[i / 64] >> shift).trailing_ones() as usize).min(avail);
            n += ones;
            if ones < avail {
                break;
            }
        }
        n
    }
}

/// A fast hasher for the searches' keys (a few words each).
#[derive(Default)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_i64(&mut self, word: i64) {
        self.write_u64(word as u64);
    }
    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<WordHasher>>;

/// The memo table of the depth-first search: Lowe's improvement of WGL, extended with
/// dominance for unknown ops.
///
/// A search state is the completed ops linearized, the unknown ops linearized (`maybe`), the
/// model state, and the open block of unknown ops if any (the state before it, see [`run`]).
/// Before entering a state the search asks whether an entered state *dominates* it — can do
/// everything it can: same completed ops, same model state, no block or the same one, and
/// `maybe` a subset. (Unknown ops may always be left out, and those of a class are used in
/// invoke order, so a subset leaves the earlier-invoked ones pending.) The dominating state
/// has either failed or is still being explored with at least the same options, so the
/// dominated one can be skipped. Without unknown ops this is exactly WGL's cache of
/// `(linearized set, state)`.
#[derive(Default)]
struct Memo {
    seen: FastMap<(DoneSet, State, Option<State>), Vec<Bits>>,
    /// Comparisons made, counted as search steps.
    work: u64,
}

impl Memo {
    /// Records a state; false if an entered state dominates it.
    fn enter(&mut self, done: DoneSet, state: State, block: Option<State>, maybe: &Bits) -> bool {
        let closed = (done, state, None);
        if self.dominated(&closed, maybe) {
            return false;
        }
        let key = match block {
            None => closed,
            Some(_) => {
                let open = (closed.0, state, block);
                if self.dominated(&open, maybe) {
                    return false;
                }
                open
            }
        };
        let entered = self.seen.entry(key).or_default();
        // Entries the new one dominates are no longer needed.
        entered.retain(|m| !maybe.is_subset(m));
        entered.push(maybe.clone());
        true
    }

    /// Whether a state entered under `key` used a subset of `maybe`.
    fn dominated(&mut self, key: &(DoneSet, State, Option<State>), maybe: &Bits) -> bool {
        let Some(entered) = self.seen.get(key) else {
            return false;
        };
        self.work += entered.len() as u64;
        entered.iter().any(|m| m.is_subset(maybe))
    }
}

/// Where the walk is: in the timeline of completed ops, or past its first pending return
/// (at time `horizon`) going through the classes of unknown ops.
#[derive(Clone, Copy)]
enum Cursor {
    Main(usize),
    Extra(usize),
}

/// A linearized op, with what is needed to undo it and go on with the next candidate.
struct Frame {
    op: usize,
    state: State,
    block: Option<State>,
    resume: Cursor,
    horizon: u64,
}

/// What both searches work on: one key's ops.
struct Search<'a> {
    ops: &'a [KeyOp],
    /// Call and return entries of completed ops.
    main: Timeline,
    /// The classes of unknown ops with members left, by first invoke.
    open_classes: Timeline,
    classes: Vec<Class>,
    /// The class of unknown `Incr`s, if any.
    incr_class: Option<usize>,
    /// Call slots of the completed ops linearized.
    done: BTreeSet<usize>,
    /// The unknown ops linearized.
    maybe: Bits,
    state: State,
    /// If the last ops linearized are unknown ones (a *block*): the state before the first.
    block: Option<State>,
    /// Completed ops not linearized yet.
    remaining: usize,
    stack: Vec<Frame>,
    memo: Memo,
    /// The completed ops an unknown block is built for: the candidates that do not fit the
    /// state before the block.
    targets: Vec<usize>,
}

impl Search<'_> {
    /// The completed ops linearized, as a `DoneSet`.
    fn done_set(&self) -> DoneSet {
        let mark = match self.main.first() {
            Timeline::NIL => self.main.len(),
            first => first,
        };
        let ahead = self.done.range(mark..).copied().collect();
        DoneSet { mark, ahead }
    }

    /// Linearizes `id` next if the model gives its reply and no entered state dominates the
    /// resulting one.
    fn try_linearize(&mut self, id: usize, resume: Cursor, horizon: u64) -> bool {
        let o = &self.ops[id];
        let Some(next) = step(self.state, o.op, o.expected) else {
            return false;
        };
        let block = match o.expected {
            Some(_) => None,
            None => Some(self.block.unwrap_or(self.state)),
        };
        self.apply(id);
        if !self.memo.enter(self.done_set(), next, block, &self.maybe) {
            self.undo(id);
            return false;
        }
        self.stack.push(Frame {
            op: id,
            state: self.state,
            block: self.block,
            resume,
            horizon,
        });
        self.state = next;
        self.block = block;
        true
    }

    /// Undoes the last linearization; `None` if there is none.
    fn backtrack(&mut self) -> Option<Frame> {
        let frame = self.stack.pop()?;
        self.undo(frame.op);
        self.state = frame.state;
        self.block = frame.block;
        Some(frame)
    }

    /// Marks `id` linearized: takes it out of the lists.
    fn apply(&mut self, id: usize) {
        let o = &self.ops[id];
        if o.expected.is_some() {
            self.main.lift(id);
            self.done.insert(self.main.call_of[id]);
            self.remaining -= 1;
        } else {
            self.maybe.set(o.bit);
            let class = &mut self.classes[o.class];
            class.used += 1;
            if class.head().is_none() {
                self.open_classes.lift(o.class);
            }
        }
    }

    /// Undoes `apply(id)`; must be the last one.
    fn undo(&mut self, id: usize) {
        let o = &self.ops[id];
        if o.expected.is_some() {
            self.main.unlift(id);
            self.done.remove(&self.main.call_of[id]);
            self.remaining += 1;
        } else {
            self.maybe.clear(o.bit);
            let class = &mut self.classes[o.class];
            if class.head().is_none() {
                self.open_classes.unlift(o.class);
            }
            class.used -= 1;
        }
    }

    /// Collects the candidates among completed ops (the calls before the first pending
    /// return) that do not fit the state before the open block, or the current state.
    fn find_targets(&mut self) {
        let before = self.block.unwrap_or(self.state);
        self.targets.clear();
        let mut slot = self.main.first();
        while slot != Timeline::NIL {
            let (id, kind, _) = self.main.entries[slot];
            if kind == Kind::Return {
                break;
            }
            let o = &self.ops[id];
            if step(before, o.op, o.expected).is_none() {
                self.targets.push(id);
            }
            slot = self.main.next[slot];
        }
    }

    /// Whether linearizing the unknown op `id` now can lead to a target fitting: directly,
    /// or after as many more unknown `Incr`s as are available by `horizon`.
    fn is_useful(&self, id: usize, horizon: u64) -> bool {
        let op = self.ops[id].op;
        let Some(after) = step(self.state, op, None) else {
            return false;
        };
        let more = self.incr_class.map_or(0, |c| {
            let class = &self.classes[c];
            let invoked = class
                .members
                .partition_point(|&i| self.ops[i].invoke <= horizon);
            let used = class.used + usize::from(op == Op::Incr);
            invoked.saturating_sub(used)
        });
        self.targets
            .iter()
            .any(|&t| incrs_to_fit(&self.ops[t], after).is_some_and(|k| k <= more))
    }
}

/// The fewest increments after which the completed op `o` fits, starting from `state`.
fn incrs_to_fit(o: &KeyOp, state: State) -> Option<usize> {
    if step(state, o.op, o.expected).is_some() {
        return Some(0);
    }
    let target = match (o.op, o.expected) {
        (Op::Get, Some(Ret::Value(Some(m)))) => m,
        (Op::Incr, Some(Ret::Int(n))) => n.checked_sub(1)?,
        (Op::Del, Some(Ret::Int(1))) => return Some(1),
        _ => return None,
    };
    // From an absent key, as from 0, `k` increments give `k`.
    let k = i128::from(target) - i128::from(state.unwrap_or(0));
    if k > 0 {
        usize::try_from(k).ok()
    } else {
        None
    }
}

/// Which searches `check_key` runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Plan {
    /// Depth-first with a quarter of the budget, then the level search with the rest.
    Both,
    #[cfg(test)]
    DepthFirst,
    #[cfg(test)]
    Levels,
}

/// Checks the ops of one key (the events at `indices`).
fn check_key(
    history: &[Event],
    key: &str,
    indices: &[usize],
    max_steps: u64,
    plan: Plan,
) -> Verdict {
    // Fail ops did not happen, and an unknown Get constrains nothing: drop both.
    let mut ops: Vec<KeyOp> = Vec::new();
    let mut main_timed = Vec::new();
    let mut completed = 0;
    for &index in indices {
        let e = &history[index];
        let expected = match e.outcome {
            Outcome::Fail => continue,
            Outcome::Unknown if e.op == Op::Get => continue,
            Outcome::Unknown => None,
            Outcome::Ok(r) => Some(r),
        };
        let id = ops.len();
        if expected.is_some() {
            main_timed.push((e.invoke, Kind::Call, id));
            main_timed.push((e.complete.max(e.invoke), Kind::Return, id));
            completed += 1;
        }
        ops.push(KeyOp {
            index,
            op: e.op,
            expected,
            invoke: e.invoke,
            bit: 0,
            class: 0,
        });
    }
    merge_unobserved_values(&mut ops);

    // Group the unknown ops into classes, members in invoke order.
    let mut by_invoke: Vec<usize> = (0..ops.len())
        .filter(|&id| ops[id].expected.is_none())
        .collect();
    by_invoke.sort_by_key(|&id| ops[id].invoke);
    let mut classes: Vec<Class> = Vec::new();
    let mut class_of: HashMap<Op, usize> = HashMap::new();
    for id in by_invoke {
        let c = *class_of.entry(ops[id].op).or_insert_with(|| {
            classes.push(Class {
                op: ops[id].op,
                members: Vec::new(),
                used: 0,
                first_bit: 0,
            });
            classes.len() - 1
        });
        classes[c].members.push(id);
        ops[id].class = c;
    }
    let mut unknown = 0;
    for class in &mut classes {
        class.first_bit = unknown;
        for &id in &class.members {
            ops[id].bit = unknown;
            unknown += 1;
        }
    }
    let class_timed = classes
        .iter()
        .enumerate()
        .map(|(c, class)| (ops[class.members[0]].invoke, Kind::Call, c))
        .collect();

    let mut search = Search {
        ops: &ops,
        main: Timeline::new(ops.len(), main_timed),
        open_classes: Timeline::new(classes.len(), class_timed),
        incr_class: class_of.get(&Op::Incr).copied(),
        classes,
        done: BTreeSet::new(),
        maybe: Bits::new(unknown),
        state: None,
        block: None,
        remaining: completed,
        stack: Vec::new(),
        memo: Memo::default(),
        targets: Vec::new(),
    };
    let root = search.done_set();
    let maybe = search.maybe.clone();
    search.memo.enter(root, None, None, &maybe);
    let depth_first_steps = match plan {
        Plan::Both => max_steps / 4,
        #[cfg(test)]
        Plan::DepthFirst => max_steps,
        #[cfg(test)]
        Plan::Levels => 0,
    };
    let (verdict, steps) = run(&mut search, history, key, depth_first_steps);
    match verdict {
        Verdict::Undecided { .. } if steps < max_steps => {
            level_search(&search, history, key, max_steps - steps)
        }
        decided => decided,
    }
}

/// Rewrites every `Set(v)` whose value can never be observed to one common value.
///
/// A value is observed by a `Get` reply, or by an `Incr` reply (the value before it). A value
/// written by a `Set` can reach a reply only through up to `incrs` increments, the number of
/// `Incr`s on the key. If no reply lies in `v..=v + incrs`, nothing can tell `Set(v)` from any
/// other such `Set`: only whether the key is present matters, and that is the same. Giving
/// them one value makes their states equal for the memo, and puts the unknown ones in one
/// class, which keeps a history full of timed-out writes tractable. (So a workload should
/// write values further apart than the number of increments of a key.)
fn merge_unobserved_values(ops: &mut [KeyOp]) {
    let mut observed: Vec<i64> = ops
        .iter()
        .filter_map(|o| match (o.op, o.expected) {
            (Op::Get, Some(Ret::Value(Some(m)))) => Some(m),
            (Op::Incr, Some(Ret::Int(n))) => n.checked_sub(1),
            _ => None,
        })
        .collect();
    observed.sort_unstable();
    let incrs = ops.iter().filter(|o| o.op == Op::Incr).count();
    let incrs = i64::try_from(incrs).unwrap_or(i64::MAX);
    let is_observed = |v: i64| {
        let first = observed.partition_point(|&m| m < v);
        observed
            .get(first)
            .is_some_and(|&m| m <= v.saturating_add(incrs))
    };
    // The common value must itself be unobserved.
    let common = i64::MIN;
    if is_observed(common) {
        return;
    }
    for o in ops.iter_mut() {
        if let Op::Set(v) = o.op {
            if !is_observed(v) {
                o.op = Op::Set(common);
            }
        }
    }
}

/// The depth-first search (WGL), for at most `max_steps` steps; returns the steps taken.
///
/// From the head of the timeline of completed ops, each call entry met is a candidate to
/// linearize next; the first return entry met ends the candidates among completed ops (that
/// op must come before anything invoked later), and the unknown ops invoked by then are tried
/// last. A candidate that fits is linearized and the walk restarts from the head; when no
/// candidate is left, the search backtracks.
///
/// Unknown ops are pruned further, keeping only linearizations with as few unknown ops as
/// possible, which loses nothing (leaving out an unknown op never breaks a time constraint):
/// - a run of unknown ops (a *block*) is only useful if the completed op after it could not
///   have gone before it; if it could, it gives the same reply and leaves the same state
///   (every reply but `Done` and `Del`'s `Int` reveals the state, and `Set` and `Del`
///   overwrite it), so the block can be dropped. So a block is only started or extended if
///   it can make some candidate that does not fit the state before it fit (`is_useful`), and
///   completed ops that fit the state before the open block are not tried after it;
/// - `Set` and `Del` overwrite the state, making any unknown op before them in the block
///   useless: they may only start a block;
/// - unknown ops of a class are used in invoke order (see `Class`).
fn run(s: &mut Search<'_>, history: &[Event], key: &str, max_steps: u64) -> (Verdict, u64) {
    // The deepest stack that got stuck, and the completed op it could not place.
    let mut best: Vec<usize> = Vec::new();
    let mut blocker: Option<usize> = None;
    let mut cursor = Cursor::Main(s.main.first());
    let mut horizon = 0;
    let mut steps = 0u64;
    loop {
        if s.remaining == 0 {
            return (Verdict::Linearizable, steps);
        }
        steps += 1 + std::mem::take(&mut s.memo.work);
        if steps > max_steps {
            let key = key.to_owned();
            return (Verdict::Undecided { key }, max_steps);
        }
        let candidate = match cursor {
            Cursor::Main(slot) => {
                // A completed op's return entry stays in the list until the op is linearized,
                // so the walk meets one before running off the end.
                debug_assert!(slot != Timeline::NIL);
                let (id, kind, time) = s.main.entries[slot];
                let after = Cursor::Main(s.main.next[slot]);
                match kind {
                    Kind::Call => {
                        let o = &s.ops[id];
                        let fits_before_block = s
                            .block
                            .is_some_and(|before| step(before, o.op, o.expected).is_some());
                        if fits_before_block {
                            cursor = after;
                            continue;
                        }
                        Some((id, after))
                    }
                    Kind::Return => {
                        // `id` has returned but is not linearized. The first time the search
                        // gets this deep, remember how, for the explanation.
                        if blocker.is_none() || s.stack.len() > best.len() {
                            best = s.stack.iter().map(|f| f.op).collect();
                            blocker = Some(id);
                        }
                        horizon = time;
                        s.find_targets();
                        if s.targets.is_empty() {
                            None
                        } else {
                            cursor = Cursor::Extra(s.open_classes.first());
                            continue;
                        }
                    }
                }
            }
            Cursor::Extra(Timeline::NIL) => None,
            Cursor::Extra(slot) => {
                let class = &s.classes[s.open_classes.entries[slot].0];
                cursor = Cursor::Extra(s.open_classes.next[slot]);
                let overwrites = matches!(class.op, Op::Set(_) | Op::Del);
                match class.head() {
                    Some(id)
                        if s.ops[id].invoke <= horizon
                            && !(s.block.is_some() && overwrites)
                            && s.is_useful(id, horizon) =>
                    {
                        Some((id, cursor))
                    }
                    _ => continue,
                }
            }
        };
        match candidate {
            Some((id, after)) => {
                cursor = if s.try_linearize(id, after, horizon) {
                    Cursor::Main(s.main.first())
                } else {
                    after
                };
            }
            None => {
                let Some(frame) = s.backtrack() else {
                    let explanation = explain(history, s.ops, &best, blocker);
                    let key = key.to_owned();
                    return (Verdict::Violation { key, explanation }, steps);
                };
                cursor = frame.resume;
                horizon = frame.horizon;
                if let Cursor::Extra(_) = cursor {
                    s.find_targets();
                }
            }
        }
    }
}

/// A configuration of the level search: one way to linearize a level's number of completed
/// ops, the fewest unknown ops for it.
struct Config {
    done: DoneSet,
    /// The unknown ops used: the first members of each class.
    used: Bits,
    state: State,
    /// The last op of its linearization in the arena of paths (`NO_PATH` if none).
    path: u32,
}

/// No path: the empty linearization.
const NO_PATH: u32 = u32::MAX;

/// One level of the level search, pruned by dominance as configurations are added.
#[derive(Default)]
struct Level {
    configs: Vec<Config>,
    alive: Vec<bool>,
    by_state: FastMap<(DoneSet, State), Vec<usize>>,
}

impl Level {
    /// Adds a configuration unless one with the same ops and state and a subset of its unknown
    /// ops is there; removes those the new one dominates. Returns whether it was added, and
    /// the comparisons made.
    fn add(&mut self, config: Config) -> (bool, u64) {
        let le = Bits::is_subset;
        let same = self
            .by_state
            .entry((config.done.clone(), config.state))
            .or_default();
        let work = same.len() as u64;
        if same
            .iter()
            .any(|&i| le(&self.configs[i].used, &config.used))
        {
            return (false, work);
        }
        same.retain(|&i| {
            let dominated = le(&config.used, &self.configs[i].used);
            if dominated {
                self.alive[i] = false;
            }
            !dominated
        });
        same.push(self.configs.len());
        self.configs.push(config);
        self.alive.push(true);
        (true, work)
    }

    fn into_configs(self) -> Vec<Config> {
        self.configs
            .into_iter()
            .zip(self.alive)
            .filter_map(|(c, alive)| alive.then_some(c))
            .collect()
    }
}

/// The level search, run when the depth-first search runs out of its share of the budget.
///
/// Depth-first search pays for every way of reaching a state with *more* unknown ops than
/// necessary if it happens to find that way first: dominance only prunes the other way round.
/// With many unknown ops and no linearization, that adds up. This search goes level by level
/// (level `d`: `d` completed ops linearized), builds each level completely, and keeps only the
/// configurations no other on the level dominates, so every state is expanded with the fewest
/// unknown ops it can have. A configuration is expanded by each candidate op (a call before
/// the first pending return), preceded by each block of unknown ops that makes it fit when it
/// does not (see `find_blocks`). Steps count configurations built and comparisons made.
fn level_search(s: &Search<'_>, history: &[Event], key: &str, max_steps: u64) -> Verdict {
    let ops = s.ops;
    let list = &s.main;
    let mut arena: Vec<(u32, usize)> = Vec::new();
    let mut level = vec![Config {
        done: DoneSet {
            mark: 0,
            ahead: Vec::new(),
        },
        used: Bits(vec![0; s.maybe.0.len()]),
        state: None,
        path: NO_PATH,
    }];
    let mut steps = 0u64;
    let mut candidates = Vec::new();
    let mut blocks = Vec::new();
    loop {
        let mut next = Level::default();
        let mut stuck = None;
        for config in &level {
            // The candidates, and the first pending return.
            candidates.clear();
            let mut horizon = None;
            for slot in config.done.mark..list.len() {
                let (id, kind, time) = list.entries[slot];
                if config.done.contains(list.call_of[id]) {
                    continue;
                }
                match kind {
                    Kind::Call => candidates.push(id),
                    Kind::Return => {
                        horizon = Some((time, id));
                        break;
                    }
                }
            }
            // All completed ops are linearized.
            let Some((horizon, blocker)) = horizon else {
                return Verdict::Linearizable;
            };
            stuck.get_or_insert((config, blocker));
            for &id in &candidates {
                let o = &ops[id];
                blocks.clear();
                match step(config.state, o.op, o.expected) {
                    Some(_) => blocks.push(Vec::new()),
                    None => steps += find_blocks(s, config, o, horizon, &mut blocks),
                }
                for block in &blocks {
                    let mut state = config.state;
                    let mut used = config.used.clone();
                    for &u in block {
                        state = step(state, ops[u].op, None).unwrap_or(state);
                        used.set(ops[u].bit);
                    }
                    let Some(state) = step(state, o.op, o.expected) else {
                        continue;
                    };
                    let mut done = config.done.clone();
                    done.insert(list.call_of[id], list);
                    let child = Config {
                        done,
                        used,
                        state,
                        path: NO_PATH,
                    };
                    let size = (child.used.0.len() + child.done.ahead.len()) as u64;
                    let (added, work) = next.add(child);
                    steps += 1 + work + size / 8;
                    if steps > max_steps {
                        return Verdict::Undecided {
                            key: key.to_owned(),
                        };
                    }
                    if added {
                        let mut path = config.path;
                        for &op in block.iter().chain([&id]) {
                            arena.push((path, op));
                            path = u32::try_from(arena.len() - 1).unwrap_or(NO_PATH);
                        }
                        if let Some(last) = next.configs.last_mut() {
                            last.path = path;
                        }
                    }
                }
            }
        }
        if next.configs.is_empty() {
            let Some((config, blocker)) = stuck else {
                return Verdict::Linearizable;
            };
            let mut best = Vec::new();
            let mut path = config.path;
            while path != NO_PATH {
                let (parent, op) = arena[path as usize];
                best.push(op);
                path = parent;
            }
            best.reverse();
            return Verdict::Violation {
                key: key.to_owned(),
                explanation: explain(history, ops, &best, Some(blocker)),
            };
        }
        level = next.into_configs();
    }
}

/// The blocks of unknown ops that make the completed op `o` fit after `config`, where it does
/// not fit as is: optionally a `Set` or `Del` (the next of its class), then the fewest
/// `Incr`s that make `o` fit, all invoked by `horizon`. (With fewer unknown ops before it,
/// `o` would leave the same state, which its reply determines; so these are all the blocks a
/// linearization with the fewest unknown ops uses, see [`run`].) Returns the classes looked at.
fn find_blocks(
    s: &Search<'_>,
    config: &Config,
    o: &KeyOp,
    horizon: u64,
    out: &mut Vec<Vec<usize>>,
) -> u64 {
    let ops = s.ops;
    let used = |class: &Class| config.used.ones_from(class.first_bit, class.members.len());
    let incrs: &[usize] = s.incr_class.map_or(&[], |c| {
        let members = &s.classes[c].members[used(&s.classes[c])..];
        let invoked = members.partition_point(|&id| ops[id].invoke <= horizon);
        &members[..invoked]
    });
    let mut add = |start: Option<usize>, base: State| {
        if let Some(k) = incrs_to_fit(o, base) {
            if (start.is_some() || k > 0) && k <= incrs.len() {
                out.push(
                    start
                        .into_iter()
                        .chain(incrs[..k].iter().copied())
                        .collect(),
                );
            }
        }
    };
    add(None, config.state);
    for class in &s.classes {
        if !matches!(class.op, Op::Set(_) | Op::Del) {
            continue;
        }
        let head = class.members.get(used(class)).copied();
        if let Some(id) = head.filter(|&id| ops[id].invoke <= horizon) {
            if let Some(base) = step(config.state, class.op, None) {
                add(Some(id), base);
            }
        }
    }
    s.classes.len() as u64
}

/// How many ops of the prefix, and of the candidates, an explanation shows.
const SHOW_PREFIX: usize = 8;
const SHOW_CANDIDATES: usize = 6;

/// Describes a failed search: the longest linearizable prefix, the state after it, the op
/// that could not be placed and what the other pending ops would have done instead.
fn explain(history: &[Event], ops: &[KeyOp], best: &[usize], blocker: Option<usize>) -> String {
    let op_of = |id: usize| history[ops[id].index].op;
    let mut state = None;
    for &id in best {
        if let Some((_, next)) = model(state, op_of(id)) {
            state = next;
        }
    }
    let mut s = format!("longest linearizable prefix: {} op(s)", best.len());
    if best.is_empty() {
        s.push_str(" (none)");
    } else {
        s.push_str(": ");
        if best.len() > SHOW_PREFIX {
            let _ = write!(s, "... {} earlier, ", best.len() - SHOW_PREFIX);
        }
        let shown = &best[best.len().saturating_sub(SHOW_PREFIX)..];
        let parts: Vec<String> = shown.iter().map(|&id| describe(history, ops, id)).collect();
        s.push_str(&parts.join(", "));
    }
    let _ = write!(s, "; state then {state:?}");
    let Some(blocker) = blocker else {
        return s;
    };
    let _ = write!(
        s,
        "; cannot place {} before it returns",
        describe(history, ops, blocker)
    );
    // The ops the search tried after the prefix: those not in it invoked by the time the
    // blocker returned, completed ones first.
    let limit = history[ops[blocker].index]
        .complete
        .max(ops[blocker].invoke);
    let in_prefix: HashSet<usize> = best.iter().copied().collect();
    let mut candidates: Vec<usize> = (0..ops.len())
        .filter(|id| !in_prefix.contains(id) && ops[*id].invoke <= limit)
        .collect();
    candidates.sort_by_key(|id| (ops[*id].expected.is_none(), ops[*id].invoke));
    let parts: Vec<String> = candidates
        .iter()
        .take(SHOW_CANDIDATES)
        .map(|&id| {
            let would = match model(state, op_of(id)) {
                Some((reply, _)) => format!("{reply:?}"),
                None => "overflow".to_owned(),
            };
            let unknown = if ops[id].expected.is_none() {
                "unknown, "
            } else {
                ""
            };
            format!(
                "#{} {:?} ({unknown}would reply {would})",
                ops[id].index,
                op_of(id)
            )
        })
        .collect();
    let _ = write!(s, "; pending then: {}", parts.join(", "));
    if candidates.len() > SHOW_CANDIDATES {
        let _ = write!(s, ", ... {} more", candidates.len() - SHOW_CANDIDATES);
    }
    s
}

/// `#index c<client> Op -> reply [invoke, complete]`, times in nanoseconds.
fn describe(history: &[Event], ops: &[KeyOp], id: usize) -> String {
    let o = &ops[id];
    let e = &history[o.index];
    match o.expected {
        Some(r) => format!(
            "#{} c{} {:?} -> {r:?} [{}, {}]",
            o.index, e.client, e.op, e.invoke, e.complete
        ),
        None => format!(
            "#{} c{} {:?} -> unknown [{}, inf)",
            o.index, e.client, e.op, e.invoke
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::time::{Duration, Instant};

    const K: &str = "k";

    fn ev(client: u64, op: Op, invoke: u64, complete: u64, outcome: Outcome) -> Event {
        Event {
            client,
            key: K.to_owned(),
            op,
            invoke,
            complete,
            outcome,
        }
    }
    fn get(c: u64, i: u64, r: u64, v: Option<i64>) -> Event {
        ev(c, Op::Get, i, r, Outcome::Ok(Ret::Value(v)))
    }
    fn set(c: u64, i: u64, r: u64, v: i64) -> Event {
        ev(c, Op::Set(v), i, r, Outcome::Ok(Ret::Done))
    }
    fn incr(c: u64, i: u64, r: u64, n: i64) -> Event {
        ev(c, Op::Incr, i, r, Outcome::Ok(Ret::Int(n)))
    }
    fn del(c: u64, i: u64, r: u64, n: i64) -> Event {
        ev(c, Op::Del, i, r, Outcome::Ok(Ret::Int(n)))
    }
    fn unknown(c: u64, op: Op, i: u64) -> Event {
        ev(c, op, i, 0, Outcome::Unknown)
    }
    fn fail(c: u64, op: Op, i: u64, r: u64) -> Event {
        ev(c, op, i, r, Outcome::Fail)
    }

    /// The verdict of one search alone on a one-key history.
    fn verdict_with(h: &[Event], plan: Plan) -> Verdict {
        let indices: Vec<usize> = (0..h.len()).collect();
        check_key(h, K, &indices, DEFAULT_MAX_STEPS, plan)
    }

    /// The verdict on a one-key history, checking that each search alone agrees.
    fn verdict(h: &[Event]) -> Verdict {
        let report = check(h, DEFAULT_MAX_STEPS);
        assert_eq!(report.keys.len(), 1, "{report:?}");
        let v = report.keys[0].1.clone();
        for plan in [Plan::DepthFirst, Plan::Levels] {
            let alone = verdict_with(h, plan);
            let same = std::mem::discriminant(&alone) == std::mem::discriminant(&v);
            assert!(same, "{plan:?} alone: {alone:?}, both: {v:?}");
        }
        v
    }
    fn assert_ok(h: &[Event]) {
        assert_eq!(verdict(h), Verdict::Linearizable, "{h:#?}");
    }
    /// Asserts a violation and returns its explanation.
    fn assert_bad(h: &[Event]) -> String {
        match verdict(h) {
            Verdict::Violation { key, explanation } => {
                assert_eq!(key, K);
                explanation
            }
            v => panic!("expected a violation, got {v:?} for {h:#?}"),
        }
    }

    // ---- known-good histories ----

    #[test]
    fn empty_and_sequential() {
        assert!(check(&[], DEFAULT_MAX_STEPS).is_linearizable());
        assert_ok(&[
            get(0, 0, 1, None),
            set(0, 2, 3, 5),
            get(0, 4, 5, Some(5)),
            incr(0, 6, 7, 6),
            del(0, 8, 9, 1),
            del(0, 10, 11, 0),
            incr(0, 12, 13, 1),
            get(0, 14, 15, Some(1)),
        ]);
    }

    #[test]
    fn concurrent_sets_and_gets() {
        // Set(1) and Set(2) overlap; readers overlapping both may see either, and a later
        // reader sees the one that went last, consistently with the one before.
        assert_ok(&[
            set(0, 0, 100, 1),
            set(1, 10, 90, 2),
            get(2, 20, 30, Some(2)),
            get(3, 40, 50, Some(1)),
            get(2, 110, 120, Some(1)),
        ]);
        // A read concurrent with a write may see the old value even after the write
        // returned to another client, if the read started before.
        assert_ok(&[
            set(0, 0, 10, 1),
            get(1, 5, 50, None),
            set(0, 20, 30, 2),
            get(2, 25, 60, Some(1)),
        ]);
    }

    #[test]
    fn incr_chains() {
        // Three concurrent increments may return 1, 2, 3 in any order relative to their
        // invocation, and a concurrent Get sees an intermediate value.
        assert_ok(&[
            incr(0, 0, 100, 3),
            incr(1, 0, 100, 1),
            incr(2, 0, 100, 2),
            get(3, 10, 90, Some(2)),
            get(3, 110, 120, Some(3)),
            set(0, 130, 140, 10),
            incr(1, 150, 160, 11),
        ]);
    }

    #[test]
    fn del_overlapping() {
        // Two concurrent deletes of a present key: exactly one removes it.
        assert_ok(&[
            set(0, 0, 10, 7),
            del(1, 20, 40, 0),
            del(2, 20, 40, 1),
            get(0, 50, 60, None),
        ]);
    }

    #[test]
    fn unknown_that_took_effect() {
        // A timed-out Set observed later, and a timed-out Incr whose effect is visible.
        assert_ok(&[
            unknown(0, Op::Set(4), 0),
            get(1, 100, 110, Some(4)),
            unknown(1, Op::Incr, 120),
            get(2, 1000, 1010, Some(5)),
        ]);
        // It can take effect long after other ops of the same client completed.
        assert_ok(&[
            unknown(0, Op::Set(1), 0),
            get(1, 10, 20, None),
            set(0, 30, 40, 2),
            get(1, 50, 60, Some(1)),
        ]);
    }

    #[test]
    fn unknown_that_did_not_take_effect() {
        assert_ok(&[
            unknown(0, Op::Set(4), 0),
            get(1, 100, 110, None),
            unknown(1, Op::Incr, 120),
            unknown(2, Op::Del, 130),
            get(2, 1000, 1010, None),
            set(0, 1020, 1030, 9),
            get(1, 1040, 1050, Some(9)),
            unknown(2, Op::Get, 1060),
        ]);
        // An unknown op on a key with no other op at all.
        assert_ok(&[unknown(0, Op::Incr, 5)]);
    }

    #[test]
    fn unknown_op_saved_for_later() {
        // Set(2) before the first read would need the unknown Del to make it read None, and
        // then nothing could make the last read None: the search must also try the order
        // with the read first, reaching the same state after Set(3) with the Del unused.
        assert_ok(&[
            set(0, 0, 50, 2),
            get(1, 0, 50, None),
            unknown(2, Op::Del, 0),
            set(0, 60, 70, 3),
            get(1, 200, 210, None),
        ]);
    }

    #[test]
    fn fail_ops_are_dropped() {
        assert_ok(&[
            set(0, 0, 10, 1),
            fail(1, Op::Set(2), 20, 30),
            fail(1, Op::Del, 35, 38),
            get(0, 40, 50, Some(1)),
        ]);
    }

    #[test]
    fn equal_timestamps_are_concurrent() {
        // Get invoked at the very tick the Set returned may still precede it.
        assert_ok(&[set(0, 0, 10, 1), get(1, 10, 20, None)]);
    }

    // ---- known-bad histories ----

    #[test]
    fn stale_read_after_completed_write() {
        let why = assert_bad(&[set(0, 0, 10, 1), set(0, 20, 30, 2), get(1, 40, 50, Some(1))]);
        assert!(why.contains("#2"), "{why}");
        // One tick later than the concurrency boundary is a real violation.
        assert_bad(&[set(0, 0, 10, 1), get(1, 11, 20, None)]);
    }

    #[test]
    fn read_of_value_never_written() {
        let why = assert_bad(&[set(0, 0, 10, 1), get(1, 5, 15, Some(42))]);
        assert!(why.contains("cannot place #1"), "{why}");
        assert!(why.contains("#1 Get (would reply Value(Some(1)))"), "{why}");
    }

    #[test]
    fn lost_increment() {
        assert_bad(&[
            incr(0, 0, 10, 1),
            incr(1, 20, 30, 2),
            get(2, 40, 50, Some(1)),
        ]);
        // Also visible as a counter bound.
        let h = [incr(0, 0, 10, 1), incr(1, 20, 30, 2)];
        assert!(check_counter(&h, K, Some(1)).is_err());
        assert!(check_counter(&h, K, Some(2)).is_ok());
    }

    #[test]
    fn two_incrs_same_value() {
        assert_bad(&[incr(0, 0, 100, 1), incr(1, 0, 100, 1)]);
    }

    #[test]
    fn read_goes_back_in_time() {
        // Set(1) and Set(2) overlap; one reader sees 2 then, strictly later, 1: the order of
        // the two sets cannot satisfy both reads.
        assert_bad(&[
            set(0, 0, 100, 1),
            set(1, 0, 100, 2),
            get(2, 10, 20, Some(2)),
            get(3, 30, 40, Some(1)),
            get(2, 50, 60, Some(2)),
        ]);
        // Counter going backwards.
        assert_bad(&[
            incr(0, 0, 100, 1),
            incr(1, 0, 100, 2),
            get(2, 10, 20, Some(2)),
            get(3, 30, 40, Some(1)),
        ]);
    }

    #[test]
    fn failed_op_effect_observed() {
        assert_bad(&[fail(0, Op::Set(3), 0, 10), get(1, 20, 30, Some(3))]);
        assert_bad(&[
            set(0, 0, 5, 1),
            fail(0, Op::Del, 10, 20),
            get(1, 30, 40, None),
        ]);
    }

    #[test]
    fn unknown_op_before_its_invoke() {
        // Its effect cannot be seen before it was sent.
        assert_bad(&[get(0, 0, 10, Some(5)), unknown(1, Op::Set(5), 20)]);
    }

    #[test]
    fn unknown_op_takes_effect_at_most_once() {
        // Seen, then gone without anything removing it.
        assert_bad(&[
            unknown(0, Op::Set(5), 0),
            get(1, 10, 20, Some(5)),
            get(1, 30, 40, None),
        ]);
        // One unknown increment cannot account for two.
        assert_bad(&[
            incr(0, 0, 10, 1),
            unknown(0, Op::Incr, 20),
            get(1, 100, 110, Some(3)),
        ]);
    }

    #[test]
    fn wrong_reply_kind_is_a_violation() {
        assert_bad(&[ev(0, Op::Set(1), 0, 10, Outcome::Ok(Ret::Int(1)))]);
    }

    #[test]
    fn explanation_names_prefix_and_blocker() {
        let why = assert_bad(&[
            set(0, 0, 10, 1),
            incr(0, 20, 30, 2),
            incr(1, 40, 50, 3),
            get(2, 60, 70, Some(2)),
        ]);
        assert!(
            why.starts_with("longest linearizable prefix: 3 op(s): #0 c0 Set(1)"),
            "{why}"
        );
        assert!(why.contains("state then Some(3)"), "{why}");
        assert!(
            why.contains("cannot place #3 c2 Get -> Value(Some(2)) [60, 70]"),
            "{why}"
        );
    }

    #[test]
    fn keys_are_independent() {
        let mut h = vec![set(0, 0, 10, 1), get(0, 20, 30, Some(1))];
        h.push(Event {
            key: "other".to_owned(),
            ..get(1, 0, 30, Some(1))
        });
        let report = check(&h, DEFAULT_MAX_STEPS);
        assert_eq!(report.verdict(K), Some(&Verdict::Linearizable));
        assert!(matches!(
            report.verdict("other"),
            Some(Verdict::Violation { .. })
        ));
        assert!(!report.is_linearizable());
        assert_eq!(report.violations().count(), 1);
    }

    #[test]
    fn budget_gives_undecided() {
        // Forty concurrent sets, then a read of a value none of them wrote: refuting it means
        // going through every subset of the sets, far more than the 1000 steps allowed.
        let mut h: Vec<Event> = (0..40).map(|i| set(i, 0, 100, i as i64)).collect();
        h.push(get(99, 200, 210, Some(1000)));
        let report = check(&h, 1000);
        assert_eq!(report.undecided().collect::<Vec<_>>(), vec![K]);
    }

    #[test]
    fn counter_bounds_count_acked_and_unknown() {
        let h = [
            incr(0, 0, 10, 1),
            unknown(1, Op::Incr, 5),
            fail(2, Op::Incr, 6, 7),
            incr(0, 20, 30, 3),
            get(3, 40, 50, Some(3)),
            Event {
                key: "other".to_owned(),
                ..incr(0, 0, 1, 1)
            },
        ];
        assert_eq!(counter_bounds(&h, K), (2, 3));
        assert!(check_counter(&h, K, Some(2)).is_ok());
        assert!(check_counter(&h, K, Some(3)).is_ok());
        assert!(check_counter(&h, K, Some(4)).is_err());
        assert!(check_counter(&h, K, None).is_err());
        assert!(check_counter(&h, K, Some(-1)).is_err());
        assert_eq!(counter_bounds(&h, "absent"), (0, 0));
        assert!(check_counter(&h, "absent", None).is_ok());
        let mut with_set = h.to_vec();
        with_set.push(set(0, 60, 70, 0));
        assert!(check_counter(&with_set, K, Some(2)).is_err());
    }

    // ---- generated histories ----

    /// Builds a linearizable history by construction: a sequential run on the model, each op
    /// given an interval around its linearization point; some ops unknown (with or without
    /// their effect), some failed (without effect). Then shuffled.
    fn generated_history(seed: u64, n: usize, keys: usize, spread: u64) -> Vec<Event> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut states: Vec<State> = vec![None; keys];
        let mut h = Vec::with_capacity(n);
        for i in 0..n {
            let k = rng.random_range(0..keys);
            let op = match rng.random_range(0..10) {
                0..=3 => Op::Get,
                4..=5 => Op::Set(rng.random_range(0..100)),
                6..=8 => Op::Incr,
                _ => Op::Del,
            };
            // Linearization point: distinct, increasing; the interval contains it.
            let point = 1_000 + 10 * i as u64;
            let invoke = point - rng.random_range(0..=spread.min(point));
            let complete = point + rng.random_range(0..=spread);
            let kind = rng.random_range(0..20);
            let outcome = match kind {
                // Failed: no effect.
                0 => Outcome::Fail,
                // Unknown and not applied.
                1 => Outcome::Unknown,
                _ => {
                    let Some((reply, next)) = model(states[k], op) else {
                        unreachable!("values stay far from i64::MAX")
                    };
                    states[k] = next;
                    // Unknown but applied.
                    if kind == 2 {
                        Outcome::Unknown
                    } else {
                        Outcome::Ok(reply)
                    }
                }
            };
            h.push(Event {
                client: rng.random_range(0..5),
                key: format!("key{k}"),
                op,
                invoke,
                complete,
                outcome,
            });
        }
        // Shuffle (Fisher–Yates).
        for i in (1..h.len()).rev() {
            let j = rng.random_range(0..=i);
            h.swap(i, j);
        }
        h
    }

    /// Larger than any value a generated history can hold: sets write < 100, and at most
    /// one increment per op follows.
    const IMPOSSIBLE: i64 = 1_000_000_007;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn generated_histories_are_linearizable(
            seed in any::<u64>(),
            n in 0usize..60,
            keys in 1usize..4,
            spread in 0u64..60,
        ) {
            let h = generated_history(seed, n, keys, spread);
            let report = check(&h, DEFAULT_MAX_STEPS);
            prop_assert!(report.is_linearizable(), "{:?}\n{:#?}", report, h);
        }

        #[test]
        fn corrupted_read_is_a_violation(
            seed in any::<u64>(),
            n in 0usize..60,
            keys in 1usize..4,
            spread in 0u64..60,
        ) {
            let mut h = generated_history(seed, n, keys, spread);
            let target = h
                .iter()
                .position(|e| e.op == Op::Get && matches!(e.outcome, Outcome::Ok(_)));
            let key = match target {
                Some(i) => {
                    h[i].outcome = Outcome::Ok(Ret::Value(Some(IMPOSSIBLE)));
                    h[i].key.clone()
                }
                None => {
                    h.push(Event {
                        client: 0,
                        key: "key0".to_owned(),
                        op: Op::Get,
                        invoke: 0,
                        complete: 1_000_000,
                        outcome: Outcome::Ok(Ret::Value(Some(IMPOSSIBLE))),
                    });
                    "key0".to_owned()
                }
            };
            let report = check(&h, DEFAULT_MAX_STEPS);
            for (k, v) in &report.keys {
                if *k == key {
                    prop_assert!(matches!(v, Verdict::Violation { .. }), "{:?}\n{:#?}", v, h);
                } else {
                    prop_assert_eq!(v, &Verdict::Linearizable);
                }
            }
        }

        #[test]
        fn corrupted_incr_is_a_violation(
            seed in any::<u64>(),
            n in 0usize..60,
            keys in 1usize..4,
            spread in 0u64..60,
        ) {
            let mut h = generated_history(seed, n, keys, spread);
            let target = h
                .iter()
                .position(|e| e.op == Op::Incr && matches!(e.outcome, Outcome::Ok(_)));
            prop_assume!(target.is_some());
            let Some(i) = target else { unreachable!() };
            h[i].outcome = Outcome::Ok(Ret::Int(IMPOSSIBLE));
            let report = check(&h, DEFAULT_MAX_STEPS);
            let v = report.verdict(&h[i].key);
            prop_assert!(matches!(v, Some(Verdict::Violation { .. })), "{:?}\n{:#?}", v, h);
        }
    }

    /// The reference: tries every order of the ops of a one-key history (remembering the
    /// `(set, state)` pairs that failed), for histories of a few ops.
    fn brute_force(h: &[Event]) -> bool {
        // (op, reply, invoke, return); unknown ops never return and are optional.
        type Small = (Op, Option<Ret>, u64, Option<u64>);
        let ops: Vec<Small> = h
            .iter()
            .filter_map(|e| match e.outcome {
                Outcome::Fail => None,
                Outcome::Unknown => Some((e.op, None, e.invoke, None)),
                Outcome::Ok(r) => Some((e.op, Some(r), e.invoke, Some(e.complete.max(e.invoke)))),
            })
            .collect();
        fn search(
            ops: &[Small],
            done: u32,
            state: State,
            failed: &mut HashSet<(u32, State)>,
        ) -> bool {
            let pending = |j: usize| done & (1 << j) == 0;
            if (0..ops.len()).all(|j| !pending(j) || ops[j].3.is_none()) {
                return true;
            }
            if failed.contains(&(done, state)) {
                return false;
            }
            for (i, &(op, reply, invoke, _)) in ops.iter().enumerate() {
                // i can go next unless a pending op returned strictly before i was invoked.
                let blocked = (0..ops.len())
                    .any(|j| j != i && pending(j) && ops[j].3.is_some_and(|r| r < invoke));
                if !pending(i) || blocked {
                    continue;
                }
                if let Some(next) = step(state, op, reply) {
                    if search(ops, done | 1 << i, next, failed) {
                        return true;
                    }
                }
            }
            failed.insert((done, state));
            false
        }
        search(&ops, 0, None, &mut HashSet::new())
    }

    /// A small one-key history with coarse times (so ties are common) and few values (so
    /// reads are ambiguous). Mostly replies from a sequential run, each op's interval holding
    /// its point, some unknown (with or without effect) or failed, sometimes one reply
    /// changed; sometimes entirely random intervals and replies.
    fn small_history(seed: u64) -> Vec<Event> {
        let mut rng = StdRng::seed_from_u64(seed);
        let n = rng.random_range(1..=8);
        let random = rng.random_bool(0.2);
        let mut state = None;
        let mut h = Vec::new();
        for i in 0..n {
            let op = match rng.random_range(0..4) {
                0 => Op::Get,
                1 => Op::Set([0, 1, 2, 5, 1000][rng.random_range(0..5)]),
                2 => Op::Incr,
                _ => Op::Del,
            };
            let point = 4 * i as u64;
            let (invoke, complete) = if random {
                let invoke = rng.random_range(0..30);
                (invoke, invoke + rng.random_range(0..12))
            } else {
                let before = rng.random_range(0..=point.min(12));
                (point - before, point + rng.random_range(0..12))
            };
            let mut reply = None;
            let kind = rng.random_range(0..10);
            if kind > 0 && !(kind == 1 && rng.random_bool(0.5)) {
                if let Some((r, next)) = model(state, op) {
                    state = next;
                    reply = Some(r);
                }
            }
            if random {
                reply = Some(match rng.random_range(0..3) {
                    0 => Ret::Value([None, Some(0), Some(1), Some(2)][rng.random_range(0..4)]),
                    1 => Ret::Int(rng.random_range(0..3)),
                    _ => Ret::Done,
                });
            }
            let outcome = match (kind, reply) {
                (0, _) => Outcome::Fail,
                (1, _) | (_, None) => Outcome::Unknown,
                (_, Some(r)) => Outcome::Ok(r),
            };
            h.push(ev(rng.random_range(0..3), op, invoke, complete, outcome));
        }
        if !random && rng.random_bool(0.4) {
            let i = rng.random_range(0..h.len());
            if let Outcome::Ok(r) = h[i].outcome {
                let changed = match r {
                    Ret::Value(_) => Ret::Value([None, Some(1), Some(2)][rng.random_range(0..3)]),
                    Ret::Int(n) => Ret::Int(n + rng.random_range(-1..=1)),
                    Ret::Done => Ret::Done,
                };
                h[i].outcome = Outcome::Ok(changed);
            }
        }
        h
    }

    #[test]
    fn small_histories_agree_with_brute_force() {
        let (mut good, mut bad) = (0, 0);
        for seed in 0..4000 {
            let h = small_history(seed);
            let expected = brute_force(&h);
            for plan in [Plan::Both, Plan::DepthFirst, Plan::Levels] {
                let v = verdict_with(&h, plan);
                let got = match &v {
                    Verdict::Linearizable => true,
                    Verdict::Violation { .. } => false,
                    Verdict::Undecided { .. } => panic!("undecided: {h:#?}"),
                };
                assert_eq!(got, expected, "seed {seed}, {plan:?}: {v:?}\n{h:#?}");
            }
            if expected {
                good += 1;
            } else {
                bad += 1;
            }
        }
        // Both kinds are well represented.
        assert!(good > 1000 && bad > 1000, "{good} linearizable, {bad} not");
    }

    /// A history like the cluster workload's: `clients` clients each issuing `per_client` ops
    /// back to back on one key, each taking effect at a random point of its interval; one op in
    /// `1000 / unknown_per_mille` times out (unknown), half of those without effect. Each client
    /// writes values `spacing` apart.
    fn concurrent_clients_history(
        seed: u64,
        per_client: usize,
        clients: u64,
        unknown_per_mille: u32,
        spacing: i64,
    ) -> Vec<Event> {
        let mut rng = StdRng::seed_from_u64(seed);
        // (client, op, invoke, complete, point, unknown, applied)
        let mut planned = Vec::new();
        for client in 0..clients {
            let mut t = rng.random_range(0..100u64);
            for seq in 0..per_client as i64 {
                let op = match rng.random_range(0..10) {
                    0..=3 => Op::Get,
                    4..=6 => Op::Set(client as i64 * 1_000_000_000 + seq * spacing),
                    7..=8 => Op::Incr,
                    _ => Op::Del,
                };
                let invoke = t;
                let complete = invoke + rng.random_range(1..500);
                // Points are made distinct by the client id in the low digit.
                let point = rng.random_range(invoke..=complete) * 10 + client;
                let unknown = rng.random_range(0..1000) < unknown_per_mille;
                let applied = !unknown || rng.random_bool(0.5);
                let interval = (invoke * 10, complete * 10 + 9);
                planned.push((client, op, interval, point, unknown, applied));
                t = complete + rng.random_range(1..50);
            }
        }
        planned.sort_by_key(|p| p.3);
        let mut state = None;
        planned
            .into_iter()
            .map(|(client, op, (invoke, complete), _, unknown, applied)| {
                let reply = if applied {
                    let Some((reply, next)) = model(state, op) else {
                        unreachable!("no overflow")
                    };
                    state = next;
                    Some(reply)
                } else {
                    None
                };
                let outcome = match reply {
                    Some(r) if !unknown => Outcome::Ok(r),
                    _ => Outcome::Unknown,
                };
                Event {
                    client,
                    key: K.to_owned(),
                    op,
                    invoke,
                    complete,
                    outcome,
                }
            })
            .collect()
    }

    /// Checks `h` (linearizable by construction), then `h` with its last read corrupted to a
    /// value never written; each decided (not out of budget) without a pathological blow-up.
    /// The time limit is loose on purpose: speed is measured elsewhere, and a loaded 2-core
    /// machine may be ten times slower than an idle one.
    fn assert_decided_quickly(h: &[Event]) {
        let limit = Duration::from_secs(60);
        let started = Instant::now();
        let report = check(h, DEFAULT_MAX_STEPS);
        let took = started.elapsed();
        assert!(report.is_linearizable(), "{report:?}");
        assert!(took < limit, "took {took:?}");

        let mut bad = h.to_vec();
        let Some(i) = bad
            .iter()
            .rposition(|e| e.op == Op::Get && matches!(e.outcome, Outcome::Ok(_)))
        else {
            unreachable!("a generated history has reads")
        };
        bad[i].outcome = Outcome::Ok(Ret::Value(Some(-1)));
        let started = Instant::now();
        let report = check(&bad, DEFAULT_MAX_STEPS);
        let took = started.elapsed();
        match report.verdict(K) {
            Some(Verdict::Violation { explanation, .. }) => {
                let blocked = format!("cannot place #{i} ");
                assert!(explanation.contains(&blocked), "{explanation}");
            }
            v => panic!("expected a violation, got {v:?}"),
        }
        assert!(took < limit, "took {took:?}");
    }

    #[test]
    fn performance_2000_ops_5_clients() {
        // 1% of the ops unknown, values far apart.
        let h = concurrent_clients_history(7, 400, 5, 10, 10_000);
        assert_eq!(h.len(), 2000);
        assert_decided_quickly(&h);
    }

    #[test]
    fn performance_many_unknown_ops() {
        // 10% of the ops unknown: the depth-first search alone runs out of budget on the
        // corrupted history, the level search decides it.
        let h = concurrent_clients_history(11, 400, 5, 100, 10_000);
        let unknown = h.iter().filter(|e| e.outcome == Outcome::Unknown).count();
        assert!(unknown > 150, "{unknown}");
        assert_decided_quickly(&h);
    }
}
