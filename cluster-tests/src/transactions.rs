//! Transactions in the workload (MULTI … EXEC, WATCH) and their checks.
//!
//! Keys `tx:{<n>}a` and `tx:{<n>}b` share a hash tag, so one slot, and are written only
//! together, by a transaction that INCRs both: every state the cluster passes through has
//! `a == b`, and a reply that sees them differ saw part of a transaction. The operations:
//! - tx-incr: `MULTI`, `INCR a`, `INCR b`, `EXEC`;
//! - tx-watch: `WATCH a`, `GET a`, `MULTI`, `INCR a`, `INCR b`, `EXEC` — applied only if `a`
//!   did not change since WATCH, so when applied its INCR answers what GET read plus one (no
//!   lost update), and otherwise EXEC answers a null array;
//! - tx-read: `MULTI`, `GET a`, `GET b`, `EXEC`.
//!
//! A pair is then one counter that each applied transaction moves up by one, checked as such
//! by [`transaction_anomalies`]: every answer sees both writes or neither, no applied increment
//! is lost or applied twice, and the counter is linearizable (each increment answers a value
//! no other did, later than those of increments that completed before it began, and reads see
//! what the increments say).
//!
//! The Lua scripts' pairs (`lua:{<n>}a`, `lua:{<n>}b`, see [`crate::scripts`]) are recorded as
//! the same events, of their own kinds, and checked by the same rules.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use rand::rngs::StdRng;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::checker::{self, Event, Op, Outcome, Ret};
use crate::client::{Client, TxReply, Value};
use crate::workload::Recorder;

/// Pairs of transaction keys (`tx:{<n>}a`, `tx:{<n>}b`).
pub const TX_PAIRS: usize = 2;

/// The client number of the reads made after the run (as for the other keys' final reads).
pub const FINAL_READER: u64 = u64::MAX;

/// Key `half` (`'a'` or `'b'`) of pair `pair`: `tx:{<pair>}<half>`.
pub fn tx_key(pair: usize, half: char) -> String {
    format!("tx:{{{pair}}}{half}")
}

/// What a transaction of the workload does (see the module's documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxKind {
    /// tx-incr: `MULTI`, `INCR a`, `INCR b`, `EXEC`.
    Incr,
    /// tx-watch: `WATCH a`, `GET a`, then as [`TxKind::Incr`].
    WatchedIncr,
    /// tx-read: `MULTI`, `GET a`, `GET b`, `EXEC`.
    Read,
    /// lua-incr: one EVAL that INCRs `lua:{<n>}a` then `lua:{<n>}b` (see [`crate::scripts`]).
    ScriptIncr,
    /// lua-read: one EVAL that GETs `lua:{<n>}a` and `lua:{<n>}b`.
    ScriptRead,
}

impl TxKind {
    fn name(self) -> &'static str {
        match self {
            TxKind::Incr => "tx-incr",
            TxKind::WatchedIncr => "tx-watch",
            TxKind::Read => "tx-read",
            TxKind::ScriptIncr => "lua-incr",
            TxKind::ScriptRead => "lua-read",
        }
    }

    fn increments(self) -> bool {
        !matches!(self, TxKind::Read | TxKind::ScriptRead)
    }

    /// The prefix of the keys it goes to: `tx` (transactions) or `lua` (scripts).
    pub fn family(self) -> &'static str {
        match self {
            TxKind::Incr | TxKind::WatchedIncr | TxKind::Read => "tx",
            TxKind::ScriptIncr | TxKind::ScriptRead => "lua",
        }
    }
}

/// How a transaction ended, as its client saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxOutcome {
    /// EXEC answered with `a` and `b` as the transaction saw them: the INCRs' results, or what
    /// the GETs read (an absent key as 0).
    Ok { a: i64, b: i64 },
    /// EXEC answered a null array: a watched key had changed, and nothing was applied.
    Aborted,
    /// Nothing was applied, for sure: why (EXECABORT, CROSSSLOT, refused before EXEC was
    /// sent, no attempt got to EXEC in time).
    Fail(String),
    /// EXEC was sent and no definite answer came (an error reply, a timeout, a lost
    /// connection): it may or may not have been applied.
    Unknown(String),
    /// EXEC answered something no correct server answers to this transaction: counted as
    /// maybe applied, and reported as an anomaly.
    Odd(String),
}

/// One transaction of the workload (or a read of a pair after the run).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxEvent {
    /// The client ([`FINAL_READER`] for the reads after the run).
    pub client: u64,
    /// The pair of keys.
    pub pair: usize,
    /// What it did.
    pub kind: TxKind,
    /// For a [`TxKind::WatchedIncr`], what `GET a` read after WATCH (absent as 0), if it got
    /// that far.
    pub watched: Option<i64>,
    /// Nanoseconds since the start of the run, before the first command was sent.
    pub invoke: u64,
    /// Nanoseconds since the start of the run, after EXEC's reply (or the failure) came.
    pub complete: u64,
    /// What the client saw.
    pub outcome: TxOutcome,
    /// A script run as a function of the workload's library (`FCALL incr_both` / `FCALL_RO
    /// read_both`, see [`crate::scripts`]) rather than by EVAL. For the figures and the
    /// anomalies' wording only: the checks treat both forms alike.
    #[serde(default)]
    pub fcall: bool,
}

/// Runs one transaction of the workload on a random pair and records it: half of them
/// tx-incr, a fifth tx-watch, the rest tx-read.
pub async fn op(c: &mut Client, recorder: &Recorder, rng: &mut StdRng, client: u64) {
    let pair = rng.random_range(0..TX_PAIRS);
    let kind = match rng.random_range(0..10) {
        0..=4 => TxKind::Incr,
        5..=6 => TxKind::WatchedIncr,
        _ => TxKind::Read,
    };
    let invoke = recorder.now();
    let (watched, outcome) = run(c, pair, kind).await;
    recorder.push_tx(TxEvent {
        client,
        pair,
        kind,
        watched,
        invoke,
        complete: recorder.now(),
        outcome,
        fcall: false,
    });
}

/// Runs one transaction of `kind` on `pair` through `c` (which follows redirects until EXEC
/// is sent, and never sends EXEC twice): what `GET a` read after WATCH, and the outcome. A
/// script's kind runs that script instead, by EVAL (see [`crate::scripts::run`]).
pub async fn run(c: &mut Client, pair: usize, kind: TxKind) -> (Option<i64>, TxOutcome) {
    if kind.family() != "tx" {
        return (None, crate::scripts::run(c, pair, kind, false).await);
    }
    let (a, b) = (tx_key(pair, 'a'), tx_key(pair, 'b'));
    let cmd = |name: &str, key: &str| vec![name.to_string(), key.to_string()];
    let before = match kind {
        TxKind::WatchedIncr => vec![cmd("WATCH", &a), cmd("GET", &a)],
        _ => Vec::new(),
    };
    let queued = match kind {
        TxKind::Read => [cmd("GET", &a), cmd("GET", &b)],
        _ => [cmd("INCR", &a), cmd("INCR", &b)],
    };
    let (replies, reply) = c.transaction(&before, &queued).await;
    let watched = replies.get(1).and_then(read_count);
    let outcome = match reply {
        TxReply::Exec(Value::Nil) => TxOutcome::Aborted,
        TxReply::Exec(Value::Array(items)) => {
            let parse: fn(&Value) -> Option<i64> = match kind {
                TxKind::Read => read_count,
                _ => |v| match v {
                    Value::Int(n) => Some(*n),
                    _ => None,
                },
            };
            match items
                .iter()
                .map(parse)
                .collect::<Option<Vec<i64>>>()
                .as_deref()
            {
                Some(&[a, b]) => TxOutcome::Ok { a, b },
                _ => TxOutcome::Odd(format!("EXEC answered {items:?}")),
            }
        }
        TxReply::Exec(other) => TxOutcome::Odd(format!("EXEC answered {other:?}")),
        TxReply::Refused(e) => TxOutcome::Fail(e),
        TxReply::Unknown(e) => TxOutcome::Unknown(e),
    };
    let watched = match (kind, &outcome) {
        (TxKind::WatchedIncr, TxOutcome::Fail(_)) => None,
        (TxKind::WatchedIncr, _) => watched,
        _ => None,
    };
    (watched, outcome)
}

/// A GET's reply as a count: absent is 0.
pub(crate) fn read_count(v: &Value) -> Option<i64> {
    match v {
        Value::Nil => Some(0),
        Value::Text(t) => t.parse().ok(),
        _ => None,
    }
}

/// Each pair's `(a, b)` as read after the run: the answered reads of [`FINAL_READER`] in
/// `events` (`None` for a pair it has none of).
pub fn finals(events: &[TxEvent]) -> Vec<Option<(i64, i64)>> {
    pair_finals(events, TX_PAIRS)
}

/// [`finals`] for pairs `0..pairs`.
pub(crate) fn pair_finals(events: &[TxEvent], pairs: usize) -> Vec<Option<(i64, i64)>> {
    (0..pairs)
        .map(|pair| {
            events
                .iter()
                .filter(|e| e.client == FINAL_READER && e.pair == pair)
                .find_map(|e| match e.outcome {
                    TxOutcome::Ok { a, b } => Some((a, b)),
                    _ => None,
                })
        })
        .collect()
}

/// What is wrong with the transactions of a history, given each pair's `(a, b)` read after the
/// run (`finals[n]`; `None`: it could not be read back):
/// - a transaction saw part of another: an answer with `a != b`, or a pair that ends unequal;
/// - a tx-watch applied although `a` had changed since WATCH (its INCR does not answer what
///   its GET read plus one), or a null EXEC for a transaction that watched nothing, or an EXEC
///   reply of the wrong shape;
/// - two increments answered the same value (one was applied twice, or two as one), or an
///   increment answered a value no greater than one that completed before it began;
/// - a pair ends below its acknowledged increments (one lost) or above acknowledged plus
///   unknown ones (one applied twice, or a refused one applied);
/// - the pair, as one counter (INCRs and GETs, absent as 0), is not linearizable (which also
///   catches a read older than an increment that completed before it began).
pub fn transaction_anomalies(events: &[TxEvent], finals: &[Option<(i64, i64)>]) -> Vec<String> {
    pair_anomalies("tx", TX_PAIRS, events, finals)
}

/// [`transaction_anomalies`] for pairs `0..pairs` of the operations of `family` (see
/// [`TxKind::family`]) in `events`: the scripts' pairs are checked by the same rules.
pub(crate) fn pair_anomalies(
    family: &str,
    pairs: usize,
    events: &[TxEvent],
    finals: &[Option<(i64, i64)>],
) -> Vec<String> {
    let mut out = Vec::new();
    for pair in 0..pairs {
        let name = pair_name(family, pair);
        let on_pair: Vec<&TxEvent> = events
            .iter()
            .filter(|e| e.pair == pair && e.kind.family() == family)
            .collect();
        out.extend(torn_answers(&name, &on_pair));
        out.extend(increments_out_of_order(&name, &on_pair));
        out.extend(counter_anomalies(
            &name,
            &on_pair,
            finals.get(pair).copied().flatten(),
        ));
    }
    out
}

/// `tx:{<pair>}`: how the anomalies name a pair (of `family`).
fn pair_name(family: &str, pair: usize) -> String {
    format!("{family}:{{{pair}}}")
}

/// "tx-incr by client 2 at 1.234..1.240 s": which transaction of the history ("lua-incr via
/// FCALL by …" for a script run as a function).
fn describe(e: &TxEvent) -> String {
    let at = |ns: u64| ns as f64 / 1e9;
    format!(
        "{}{} by client {} at {:.3}..{:.3} s",
        e.kind.name(),
        if e.fcall { " via FCALL" } else { "" },
        e.client,
        at(e.invoke),
        at(e.complete)
    )
}

/// Answers that saw part of a transaction, or that no correct server gives: `a != b`; a
/// tx-watch whose INCR does not answer its GET plus one; a null EXEC without WATCH; an odd
/// EXEC reply.
fn torn_answers(name: &str, on_pair: &[&TxEvent]) -> Vec<String> {
    let mut out = Vec::new();
    for e in on_pair {
        match &e.outcome {
            TxOutcome::Ok { a, b } if a != b => out.push(format!(
                "{name}: {} saw a = {a}, b = {b}: part of a transaction",
                describe(e)
            )),
            TxOutcome::Ok { a, .. } if e.kind == TxKind::WatchedIncr => match e.watched {
                Some(read) if *a == read + 1 => {}
                Some(read) => out.push(format!(
                    "{name}: {} read {read} after WATCH, and its EXEC applied, answering \
                     {a}: a changed after WATCH and the transaction was not aborted",
                    describe(e)
                )),
                None => out.push(format!(
                    "{name}: {} was applied, but its GET after WATCH read nothing countable",
                    describe(e)
                )),
            },
            TxOutcome::Aborted if e.kind != TxKind::WatchedIncr => out.push(format!(
                "{name}: {} watched nothing, and EXEC answered a null array",
                describe(e)
            )),
            TxOutcome::Odd(why) => out.push(format!("{name}: {}: {why}", describe(e))),
            _ => {}
        }
    }
    out
}

/// Acknowledged increments that answered the same value, or a value no greater than that of
/// an increment that completed before they began.
fn increments_out_of_order(name: &str, on_pair: &[&TxEvent]) -> Vec<String> {
    let mut out = Vec::new();
    // (complete, value, event) of every acknowledged increment, by completion.
    let mut done: Vec<(u64, i64, &TxEvent)> = on_pair
        .iter()
        .filter(|e| e.kind.increments())
        .filter_map(|e| match e.outcome {
            TxOutcome::Ok { a, .. } => Some((e.complete, a, *e)),
            _ => None,
        })
        .collect();
    done.sort_by_key(|&(complete, value, _)| (complete, value));
    let mut seen: HashMap<i64, &TxEvent> = HashMap::new();
    for &(_, value, e) in &done {
        if let Some(first) = seen.insert(value, e) {
            out.push(format!(
                "{name}: {} and {} both answered {value}: an increment applied twice or two \
                 applied as one",
                describe(first),
                describe(e)
            ));
        }
    }
    // Prefix maxima of the values, with the increment that has it.
    let mut highest: Vec<(i64, &TxEvent)> = Vec::with_capacity(done.len());
    for &(_, value, e) in &done {
        let best = match highest.last() {
            Some(&(v, first)) if v >= value => (v, first),
            _ => (value, e),
        };
        highest.push(best);
    }
    for &(_, value, e) in &done {
        let before = done.partition_point(|&(complete, _, _)| complete < e.invoke);
        let Some(&(earlier_value, earlier)) = before.checked_sub(1).map(|i| &highest[i]) else {
            continue;
        };
        if earlier_value >= value {
            out.push(format!(
                "{name}: {} answered {value}, but {} had completed before it began, \
                 answering {earlier_value}",
                describe(e),
                describe(earlier)
            ));
        }
    }
    out
}

/// The pair as one counter (key `tx:{<pair>}`): INCRs answering `a`, GETs reading `a`
/// (0 as absent), the read after the run among them; checked for linearizability, and its
/// final value against the acknowledged and unknown increments.
fn counter_anomalies(name: &str, on_pair: &[&TxEvent], last: Option<(i64, i64)>) -> Vec<String> {
    let history: Vec<Event> = on_pair.iter().map(|e| as_counter_op(name, e)).collect();
    let mut out = Vec::new();
    let report = checker::check(&history, checker::DEFAULT_MAX_STEPS);
    for v in report.violations() {
        out.push(format!("{name}: not linearizable as a counter: {v:?}"));
    }
    for key in report.undecided() {
        out.push(format!("{key}: the checker ran out of budget"));
    }
    match last {
        None => out.push(format!("{name}: could not be read back")),
        Some((a, b)) if a != b => out.push(format!(
            "{name}: ends with a = {a}, b = {b}: part of a transaction"
        )),
        Some((a, _)) => {
            if let Err(e) = checker::check_counter(&history, name, Some(a)) {
                out.push(e);
            }
        }
    }
    out
}

/// One transaction as an operation on the counter `key`.
fn as_counter_op(key: &str, e: &TxEvent) -> Event {
    let op = if e.kind.increments() {
        Op::Incr
    } else {
        Op::Get
    };
    let outcome = match (&e.outcome, op) {
        (TxOutcome::Ok { a, .. }, Op::Incr) => Outcome::Ok(Ret::Int(*a)),
        (TxOutcome::Ok { a, .. }, _) => Outcome::Ok(Ret::Value((*a != 0).then_some(*a))),
        (TxOutcome::Aborted | TxOutcome::Fail(_), _) => Outcome::Fail,
        (TxOutcome::Unknown(_) | TxOutcome::Odd(_), _) => Outcome::Unknown,
    };
    Event {
        client: e.client,
        key: key.to_string(),
        op,
        invoke: e.invoke,
        complete: e.complete,
        outcome,
    }
}

/// What the transactions of a run came to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxSummary {
    /// Increments (tx-incr, tx-watch) that EXEC answered with their values.
    pub acked: usize,
    /// Increments whose EXEC got no definite answer (or an odd one).
    pub unknown: usize,
    /// How many of the unknown increments were applied after all, from the pairs' values
    /// after the run (`None`: a pair's value could not be read, or is out of bounds).
    pub unknown_applied: Option<usize>,
    /// Of those, at least how many had EXEC answered MOVED or TRYAGAIN — which Shardis
    /// answers only for entries it never appended (openraft's `ForwardToLeader`; an appended
    /// entry that is lost answers `UNKNOWN`), so this should be 0. Counted as unknown all the
    /// same, so not an anomaly: a figure to look at.
    pub redirected_but_applied: Option<usize>,
    /// Transactions refused with nothing applied, and reads that got no answer.
    pub failed: usize,
    /// tx-watch that EXEC aborted (a null array) ...
    pub aborted: usize,
    /// ... of which no other increment could have changed the watched key meanwhile (allowed:
    /// the guard may abort spuriously, never miss a change; a figure, not an anomaly).
    pub unexplained_aborts: usize,
    /// tx-read answered (the reads after the run not counted).
    pub reads: usize,
    /// Unknown and failed transactions by cause: the error's code (`MOVED`, `EXECABORT` …), or
    /// `lost` for a timeout or a lost connection.
    pub causes: BTreeMap<String, usize>,
}

/// Counts what the transactions of `events` came to, given each pair's `(a, b)` read after the
/// run (as for [`transaction_anomalies`]).
pub fn summary(events: &[TxEvent], finals: &[Option<(i64, i64)>]) -> TxSummary {
    pair_summary(events, finals, TX_PAIRS)
}

/// [`summary`] for pairs `0..pairs` (the events of one family, see [`TxKind::family`]).
pub(crate) fn pair_summary(
    events: &[TxEvent],
    finals: &[Option<(i64, i64)>],
    pairs: usize,
) -> TxSummary {
    let mut s = TxSummary {
        unknown_applied: Some(0),
        redirected_but_applied: Some(0),
        ..TxSummary::default()
    };
    for pair in 0..pairs {
        let applied = unknown_applied(events, pair, finals.get(pair).copied().flatten());
        let add = |total: Option<usize>, n: Option<usize>| Some(total? + n?);
        s.unknown_applied = add(s.unknown_applied, applied.map(|(all, _)| all));
        s.redirected_but_applied = add(
            s.redirected_but_applied,
            applied.map(|(_, redirected)| redirected),
        );
    }
    for e in events.iter().filter(|e| e.client != FINAL_READER) {
        match &e.outcome {
            TxOutcome::Ok { .. } if e.kind.increments() => s.acked += 1,
            TxOutcome::Ok { .. } => s.reads += 1,
            TxOutcome::Aborted => {
                s.aborted += 1;
                if !abort_explained(e, events) {
                    s.unexplained_aborts += 1;
                }
            }
            TxOutcome::Fail(why) => {
                s.failed += 1;
                *s.causes.entry(cause(why)).or_default() += 1;
            }
            TxOutcome::Unknown(why) | TxOutcome::Odd(why) => {
                if e.kind.increments() {
                    s.unknown += 1;
                } else {
                    s.failed += 1;
                }
                *s.causes.entry(cause(why)).or_default() += 1;
            }
        }
    }
    s
}

/// How many unknown increments of `pair` were applied, going by its value `last` after the
/// run, and at least how many of them had EXEC answered MOVED or TRYAGAIN (all of them but
/// as many as the other unknown ones); `None` if `last` is missing, torn or out of bounds.
fn unknown_applied(
    events: &[TxEvent],
    pair: usize,
    last: Option<(i64, i64)>,
) -> Option<(usize, usize)> {
    let (a, b) = last?;
    let increments = || {
        events
            .iter()
            .filter(move |e| e.pair == pair && e.kind.increments())
    };
    let acked = increments()
        .filter(|e| matches!(e.outcome, TxOutcome::Ok { .. }))
        .count();
    let (mut redirected, mut other) = (0, 0);
    for e in increments() {
        match &e.outcome {
            TxOutcome::Unknown(why) if why.starts_with("MOVED ") || why.starts_with("TRYAGAIN") => {
                redirected += 1
            }
            TxOutcome::Unknown(_) | TxOutcome::Odd(_) => other += 1,
            _ => {}
        }
    }
    let applied = usize::try_from(a).ok()?.checked_sub(acked)?;
    (a == b && applied <= redirected + other).then(|| (applied, applied.saturating_sub(other)))
}

/// An aborted tx-watch is explained by another increment of its pair that may have been
/// applied while it ran: acknowledged and overlapping it, or of unknown outcome and invoked
/// before it completed.
fn abort_explained(aborted: &TxEvent, events: &[TxEvent]) -> bool {
    events.iter().any(|e| {
        !std::ptr::eq(e, aborted)
            && e.pair == aborted.pair
            && e.kind.family() == aborted.kind.family()
            && e.kind.increments()
            && e.invoke < aborted.complete
            && match e.outcome {
                TxOutcome::Ok { .. } => e.complete > aborted.invoke,
                TxOutcome::Unknown(_) | TxOutcome::Odd(_) => true,
                TxOutcome::Aborted | TxOutcome::Fail(_) => false,
            }
    })
}

/// An error's code (its first word when that is upper case, as `MOVED` or `EXECABORT`), or
/// `lost` for a timeout or a lost connection.
fn cause(why: &str) -> String {
    let word = why.split_whitespace().next().unwrap_or("");
    let code = word.trim_end_matches(':');
    if !code.is_empty() && code.chars().all(|c| c.is_ascii_uppercase()) {
        code.to_string()
    } else if why.starts_with("gave up") {
        "gave up".to_string()
    } else {
        "lost".to_string()
    }
}

impl fmt::Display for TxSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "transactions: {} increments acknowledged, {} unknown ({} of them applied, at least {} \
             of those answered MOVED/TRYAGAIN), {} refused, {} watch aborts ({} unexplained), {} \
             reads; causes {:?}",
            self.acked,
            self.unknown,
            figure(self.unknown_applied),
            figure(self.redirected_but_applied),
            self.failed,
            self.aborted,
            self.unexplained_aborts,
            self.reads,
            self.causes
        )
    }
}

/// A figure that may be missing, as `-`.
pub(crate) fn figure(n: Option<usize>) -> String {
    n.map_or("-".to_string(), |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn tx(client: u64, kind: TxKind, invoke: u64, complete: u64, outcome: TxOutcome) -> TxEvent {
        TxEvent {
            client,
            pair: 0,
            kind,
            watched: None,
            invoke: invoke * MS,
            complete: complete * MS,
            outcome,
            fcall: false,
        }
    }
    fn incr(client: u64, invoke: u64, complete: u64, value: i64) -> TxEvent {
        let ok = TxOutcome::Ok { a: value, b: value };
        tx(client, TxKind::Incr, invoke, complete, ok)
    }
    fn read(client: u64, invoke: u64, complete: u64, value: i64) -> TxEvent {
        let ok = TxOutcome::Ok { a: value, b: value };
        tx(client, TxKind::Read, invoke, complete, ok)
    }
    fn watched(client: u64, invoke: u64, complete: u64, read: i64, value: i64) -> TxEvent {
        let ok = TxOutcome::Ok { a: value, b: value };
        TxEvent {
            watched: Some(read),
            ..tx(client, TxKind::WatchedIncr, invoke, complete, ok)
        }
    }
    fn unknown(client: u64, invoke: u64) -> TxEvent {
        let lost = TxOutcome::Unknown("connection closed".into());
        tx(client, TxKind::Incr, invoke, invoke, lost)
    }
    fn failed(client: u64, invoke: u64, complete: u64) -> TxEvent {
        let why = TxOutcome::Fail("EXECABORT Transaction discarded".into());
        tx(client, TxKind::Incr, invoke, complete, why)
    }

    /// Pair 0 ends at `value` (both keys); pair 1 was never written.
    fn ends_at(value: i64) -> Vec<Option<(i64, i64)>> {
        vec![Some((value, value)), Some((0, 0))]
    }

    /// The anomalies of a pair-0 history that ends at `value`.
    fn found(events: &[TxEvent], value: i64) -> Vec<String> {
        transaction_anomalies(events, &ends_at(value))
    }

    fn assert_found(anomalies: &[String], what: &str) {
        assert!(
            anomalies.iter().any(|a| a.contains(what)),
            "expected an anomaly with {what:?}, got {anomalies:#?}"
        );
    }

    /// Increments that overlap (either order), a watched one, reads before and between, a
    /// refused one, one unknown that applied and one that did not.
    fn sound_history() -> Vec<TxEvent> {
        vec![
            read(0, 0, 5, 0),
            incr(0, 10, 20, 2),
            incr(1, 12, 18, 1),
            read(2, 21, 25, 2),
            failed(1, 22, 24),
            unknown(1, 30),
            watched(0, 40, 50, 3, 4),
            tx(2, TxKind::WatchedIncr, 41, 49, TxOutcome::Aborted),
            unknown(2, 60),
            read(0, 70, 80, 4),
            incr(0, 90, 100, 5),
        ]
    }

    #[test]
    fn a_sound_transaction_history_passes() {
        // The second unknown increment applied, or not.
        assert_eq!(found(&sound_history(), 5), Vec::<String>::new());
        assert_eq!(found(&sound_history(), 6), Vec::<String>::new());
    }

    #[test]
    fn a_torn_transaction_is_found() {
        let mut h = sound_history();
        h[1].outcome = TxOutcome::Ok { a: 2, b: 1 };
        assert_found(
            &found(&h, 5),
            "tx-incr by client 0 at 0.010..0.020 s saw a = 2, b = 1",
        );
        let mut h = sound_history();
        h[3].outcome = TxOutcome::Ok { a: 2, b: 1 };
        assert_found(
            &found(&h, 5),
            "tx-read by client 2 at 0.021..0.025 s saw a = 2, b = 1",
        );
        let uneven = transaction_anomalies(&sound_history(), &[Some((5, 4)), Some((0, 0))]);
        assert_found(&uneven, "ends with a = 5, b = 4");
    }

    #[test]
    fn lost_and_extra_increments_are_found() {
        // Four acknowledged increments, two unknown: 4..=6.
        assert_found(&found(&sound_history(), 3), "expected 4..=6");
        assert_found(&found(&sound_history(), 7), "expected 4..=6");
        let unread = transaction_anomalies(&sound_history(), &[None, Some((0, 0))]);
        assert_eq!(unread, vec!["tx:{0}: could not be read back".to_string()]);
    }

    #[test]
    fn an_increment_answered_twice_is_found() {
        let h = vec![incr(0, 0, 10, 1), incr(1, 5, 15, 1)];
        assert_found(&found(&h, 1), "both answered 1");
        // Or once more, twice applied.
        assert_found(&found(&h, 2), "both answered 1");
    }

    #[test]
    fn increments_out_of_real_time_order_are_found() {
        let h = vec![incr(0, 0, 10, 2), incr(1, 20, 30, 1)];
        let anomalies = found(&h, 2);
        assert_found(
            &anomalies,
            "tx-incr by client 1 at 0.020..0.030 s answered 1, but tx-incr by client 0 at \
             0.000..0.010 s had completed before it began, answering 2",
        );
        assert_found(&anomalies, "not linearizable as a counter");
        // Overlapping, either order is fine.
        assert_eq!(
            found(&[incr(0, 0, 10, 2), incr(1, 5, 30, 1)], 2),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_stale_read_is_found() {
        let h = vec![incr(0, 0, 10, 1), incr(0, 20, 30, 2), read(1, 40, 50, 1)];
        assert_found(&found(&h, 2), "not linearizable as a counter");
    }

    #[test]
    fn a_lost_update_past_watch_is_found() {
        let h = vec![incr(0, 0, 10, 1), watched(1, 5, 30, 0, 2)];
        assert_found(
            &found(&h, 2),
            "read 0 after WATCH, and its EXEC applied, answering 2",
        );
    }

    #[test]
    fn replies_no_server_gives_are_found() {
        let h = vec![tx(0, TxKind::Incr, 0, 10, TxOutcome::Aborted)];
        assert_found(
            &found(&h, 0),
            "watched nothing, and EXEC answered a null array",
        );
        let odd = TxOutcome::Odd("EXEC answered [Int(1)]".into());
        let h = vec![tx(0, TxKind::Incr, 0, 10, odd)];
        // Counted as maybe applied: either final value passes the bounds.
        for value in [0, 1] {
            let anomalies = found(&h, value);
            assert_eq!(anomalies.len(), 1, "{anomalies:#?}");
            assert_found(&anomalies, "EXEC answered [Int(1)]");
        }
    }

    #[test]
    fn pairs_are_checked_apart() {
        let mut other = incr(0, 0, 10, 1);
        other.pair = 1;
        // Pair 1's increment does not count for pair 0, which must stay at 0.
        let anomalies = transaction_anomalies(&[other], &[Some((1, 1)), Some((1, 1))]);
        assert_eq!(anomalies.len(), 1, "{anomalies:#?}");
        assert_found(
            &anomalies,
            "counter \"tx:{0}\" ends at Some(1), expected 0..=0",
        );
    }

    #[test]
    fn the_summary_counts_each_outcome() {
        let mut h = sound_history();
        // On pair 1, where nothing else ran: an abort no increment explains.
        h.push(TxEvent {
            pair: 1,
            ..tx(1, TxKind::WatchedIncr, 200, 210, TxOutcome::Aborted)
        });
        // A read after the run is not counted.
        h.push(read(FINAL_READER, 300, 310, 5));
        let s = summary(&h, &ends_at(5));
        let expected = TxSummary {
            acked: 4,
            unknown: 2,
            // 5 after 4 acknowledged increments; neither unknown one was answered MOVED.
            unknown_applied: Some(1),
            redirected_but_applied: Some(0),
            failed: 1,
            aborted: 2,
            unexplained_aborts: 1,
            reads: 3,
            causes: BTreeMap::from([("EXECABORT".to_string(), 1), ("lost".to_string(), 2)]),
        };
        assert_eq!(s, expected);
        assert_eq!(summary(&h, &[None, Some((0, 0))]).unknown_applied, None);
        assert_eq!(finals(&h), [Some((5, 5)), None]);
    }

    #[test]
    fn an_applied_exec_that_answered_moved_shows_in_the_summary() {
        let moved = TxOutcome::Unknown("MOVED 1 127.0.0.1:7001".into());
        let h = vec![
            incr(0, 0, 10, 1),
            tx(1, TxKind::Incr, 20, 30, moved.clone()),
            unknown(2, 40),
            tx(1, TxKind::Incr, 50, 60, moved),
        ];
        let figures = |value| {
            let s = summary(&h, &ends_at(value));
            (s.unknown_applied, s.redirected_but_applied)
        };
        assert_eq!(figures(1), (Some(0), Some(0)));
        // The lost one may have applied.
        assert_eq!(figures(2), (Some(1), Some(0)));
        // Not the two answered MOVED as well: one of them at least.
        assert_eq!(figures(3), (Some(2), Some(1)));
        assert_eq!(figures(4), (Some(3), Some(2)));
        // Out of bounds: the anomaly says it; no figure.
        assert_eq!(figures(5), (None, None));
    }
}
