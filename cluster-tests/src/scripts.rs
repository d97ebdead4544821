//! Lua scripts in the workload (EVAL with `redis.call`, and the same code as Redis 7 functions
//! called with FCALL) and their checks: the script analogue of [`crate::transactions`].
//!
//! Keys `lua:{<n>}a` and `lua:{<n>}b` share a hash tag, so one slot, and are written only
//! together, by a script that INCRs both. Shardis runs a script on the leader of its keys'
//! shard and logs its writes as one guarded entry, so it is applied whole or not at all: every
//! state the cluster passes through has `a == b`. The operations:
//! - lua-incr: `EVAL "<INCR a, INCR b, return {a, b}>" 2 a b`, acknowledged when it answers two
//!   integers;
//! - lua-read: `EVAL "<return {GET a, GET b}>" 2 a b` (an absent key's GET is a Lua false,
//!   which comes back as a nil: read as 0).
//!
//! Functions. Before the workload's clients start, [`load_library`] loads [`LIBRARY`]
//! (`clusterlib`) once, with `FUNCTION LOAD REPLACE` through any node, retried while the cluster
//! settles (`TRYAGAIN`, `CLUSTERDOWN`, a refused connection …); Shardis keeps the library in
//! the metadata group, so it is then callable on every node, a restarted one included. Each
//! script operation then runs, chosen by a coin toss from the client's seeded RNG, either as
//! EVAL (above) or as the library's function of the same code:
//! - lua-incr: `FCALL incr_both 2 a b`;
//! - lua-read: `FCALL_RO read_both 2 a b` (`read_both` has the `no-writes` flag).
//!
//! A function runs as a script does (on the leader of its keys' shard, its writes one entry),
//! so its replies are classified the same way and its events are the same [`TxEvent`]s of the
//! same kinds, marked [`TxEvent::fcall`] only for the figures and the anomalies' wording: the
//! checks below apply to FCALL operations exactly as to EVAL ones, on the same pairs, in one
//! history. The [`ScriptSummary`] reports the FCALL operations apart ([`FcallSummary`]: how
//! many were acknowledged, and the error texts they got), and the scenario
//! `leader_kill_with_scripts` (tests/scenarios.rs), which exercises both forms through a leader
//! kill, fails unless FCALL increments and reads were acknowledged. (Every scenario's workload
//! runs both forms; that one asserts it.)
//!
//! A script is one command, sent through [`Client::call`], which follows MOVED and TRYAGAIN
//! (answered only for a script that was not applied) and sends nothing again otherwise. So an
//! answer of two integers is ok, a `gave up` (nothing but redirects, or no node reachable) is a
//! sure failure, and any other error reply (`TIMEOUT`, `UNKNOWN`, `ERR …` — `ERR Function not
//! found` included) or no reply at all is unknown. The events are [`TxEvent`]s of kinds
//! [`TxKind::ScriptIncr`] and [`TxKind::ScriptRead`], and a pair is checked by the transaction
//! pairs' rules (see [`crate::transactions::transaction_anomalies`]): both writes seen or
//! neither, each acknowledged increment a distinct value, increasing in real-time order, the
//! final value within the acknowledged increments plus the unknown ones, linearizable as a
//! counter.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::Rng;

use crate::client::{CallError, Client, Value};
use crate::transactions::{self, TxEvent, TxKind, TxOutcome, TxSummary, FINAL_READER};
use crate::workload::Recorder;

/// Pairs of script keys (`lua:{<n>}a`, `lua:{<n>}b`).
pub const LUA_PAIRS: usize = 2;

/// lua-incr's script.
const INCR_BOTH: &str =
    "local a = redis.call('INCR', KEYS[1]) local b = redis.call('INCR', KEYS[2]) return {a, b}";

/// lua-read's script.
const READ_BOTH: &str = "return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}";

/// The name of [`LIBRARY`].
pub const LIBRARY_NAME: &str = "clusterlib";

/// The function library of the workload: lua-incr's and lua-read's scripts as the functions
/// `incr_both` and `read_both` (`no-writes`, so callable with FCALL_RO).
pub const LIBRARY: &str = "#!lua name=clusterlib\n\
redis.register_function('incr_both', function(keys, args) local a = redis.call('INCR', keys[1]) local b = redis.call('INCR', keys[2]) return {a, b} end)\n\
redis.register_function{function_name='read_both', callback=function(keys, args) return {redis.call('GET', keys[1]), redis.call('GET', keys[2])} end, flags={'no-writes'}}\n";

/// The share of script operations run as functions (FCALL / FCALL_RO) rather than by EVAL.
const FCALL_SHARE: f64 = 0.5;

/// Key `half` (`'a'` or `'b'`) of pair `pair`: `lua:{<pair>}<half>`.
pub fn lua_key(pair: usize, half: char) -> String {
    format!("lua:{{{pair}}}{half}")
}

/// Loads [`LIBRARY`] with `FUNCTION LOAD REPLACE` through the nodes on `ports` (each in turn),
/// trying again for up to `limit` while the answer says the cluster is not ready (any error
/// but an `ERR` one: `TRYAGAIN`, `CLUSTERDOWN`, `LOADING`, `MOVED`, a refused or lost
/// connection, no reply). `ERR Library 'clusterlib' already exists` counts as loaded. The
/// library's name, or why it could not be loaded (each answer tried again is printed).
/// Blocking: call it before the workload runs.
pub fn load_library(ports: &[u16], limit: Duration) -> Result<String, String> {
    if ports.is_empty() {
        return Err("no node to load the library through".into());
    }
    let deadline = Instant::now() + limit;
    let mut last = String::from("not tried");
    for attempt in 0.. {
        let port = ports[attempt % ports.len()];
        match crate::harness::command(port, &["FUNCTION", "LOAD", "REPLACE", LIBRARY]) {
            Ok(name) if name == LIBRARY_NAME => return Ok(name),
            Ok(other) => return Err(format!("FUNCTION LOAD answered {other:?} on port {port}")),
            Err(e) if e.contains("already exists") => return Ok(LIBRARY_NAME.to_string()),
            Err(e) if e.starts_with("ERR") => {
                return Err(format!("FUNCTION LOAD answered -{e} on port {port}"))
            }
            Err(e) => {
                last = format!("-{e} (port {port}, attempt {})", attempt + 1);
                eprintln!("FUNCTION LOAD answered {last}; trying again");
            }
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!(
        "FUNCTION LOAD did not succeed within {limit:?}; last answer {last}"
    ))
}

/// Runs one script of the workload on a random pair and records it: three fifths lua-incr,
/// the rest lua-read; half of them (a coin toss) by EVAL, half as functions (FCALL).
pub async fn op(c: &mut Client, recorder: &Recorder, rng: &mut StdRng, client: u64) {
    let pair = rng.random_range(0..LUA_PAIRS);
    let kind = if rng.random_bool(0.6) {
        TxKind::ScriptIncr
    } else {
        TxKind::ScriptRead
    };
    let fcall = rng.random_bool(FCALL_SHARE);
    let invoke = recorder.now();
    let outcome = run(c, pair, kind, fcall).await;
    recorder.push_lua(TxEvent {
        client,
        pair,
        kind,
        watched: None,
        invoke,
        complete: recorder.now(),
        outcome,
        fcall,
    });
}

/// The command that runs the script of `kind` ([`TxKind::ScriptIncr`] or
/// [`TxKind::ScriptRead`]) on `pair`: EVAL, or with `fcall` the library's function (FCALL
/// `incr_both`, FCALL_RO `read_both`).
pub fn command(pair: usize, kind: TxKind, fcall: bool) -> Vec<String> {
    let read = kind == TxKind::ScriptRead;
    let (name, body) = match (fcall, read) {
        (false, true) => ("EVAL", READ_BOTH),
        (false, false) => ("EVAL", INCR_BOTH),
        (true, true) => ("FCALL_RO", "read_both"),
        (true, false) => ("FCALL", "incr_both"),
    };
    [name, body, "2", &lua_key(pair, 'a'), &lua_key(pair, 'b')]
        .iter()
        .map(|w| w.to_string())
        .collect()
}

/// Runs the script of `kind` ([`TxKind::ScriptIncr`] or [`TxKind::ScriptRead`]) on `pair`
/// through `c`, by EVAL or with `fcall` as a function (see [`command`]): its outcome,
/// classified alike for both forms (see the module's documentation).
pub async fn run(c: &mut Client, pair: usize, kind: TxKind, fcall: bool) -> TxOutcome {
    let parse: fn(&Value) -> Option<i64> = match kind {
        TxKind::ScriptRead => transactions::read_count,
        _ => |v| match v {
            Value::Int(n) => Some(*n),
            _ => None,
        },
    };
    let args = command(pair, kind, fcall);
    let name = &args[0];
    match c.call(&args).await {
        Ok(Value::Array(items)) => match items
            .iter()
            .map(parse)
            .collect::<Option<Vec<i64>>>()
            .as_deref()
        {
            Some(&[a, b]) => TxOutcome::Ok { a, b },
            _ => TxOutcome::Odd(format!("{name} answered {items:?}")),
        },
        Ok(other) => TxOutcome::Odd(format!("{name} answered {other:?}")),
        Err(CallError::Reply(e)) if e.starts_with("gave up") => TxOutcome::Fail(e),
        Err(CallError::Reply(e) | CallError::Lost(e)) => TxOutcome::Unknown(e),
    }
}

/// Each pair's `(a, b)` as read after the run (as [`transactions::finals`]).
pub fn finals(events: &[TxEvent]) -> Vec<Option<(i64, i64)>> {
    transactions::pair_finals(events, LUA_PAIRS)
}

/// What is wrong with the scripts of a history, given each pair's `(a, b)` read after the run:
/// the checks of [`transactions::transaction_anomalies`], on the `lua:` pairs, EVAL and FCALL
/// operations together.
pub fn script_anomalies(events: &[TxEvent], finals: &[Option<(i64, i64)>]) -> Vec<String> {
    transactions::pair_anomalies("lua", LUA_PAIRS, events, finals)
}

/// What the scripts of a run came to: the figures of a [`TxSummary`] for all of them, EVAL and
/// FCALL (a script is never aborted, and is never answered MOVED or TRYAGAIN, which the client
/// follows), and those of the FCALL operations alone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScriptSummary(pub TxSummary, pub FcallSummary);

/// What the scripts run as functions (FCALL / FCALL_RO) came to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FcallSummary {
    /// `FCALL incr_both` acknowledged (answered two integers).
    pub acked: usize,
    /// `FCALL_RO read_both` answered (the reads after the run, made by EVAL, not counted).
    pub reads: usize,
    /// `FCALL incr_both` of unknown outcome (an error reply, no reply, an odd reply).
    pub unknown: usize,
    /// FCALLs that surely failed (`gave up`) and FCALL_ROs that got no answer.
    pub failed: usize,
    /// The error texts the FCALLs and FCALL_ROs that were not answered got, with how many got
    /// each.
    pub errors: BTreeMap<String, usize>,
}

/// Counts what the scripts of `events` came to, given each pair's `(a, b)` read after the run.
pub fn summary(events: &[TxEvent], finals: &[Option<(i64, i64)>]) -> ScriptSummary {
    let mut f = FcallSummary::default();
    for e in events
        .iter()
        .filter(|e| e.fcall && e.client != FINAL_READER)
    {
        let increments = e.kind == TxKind::ScriptIncr;
        let why = match &e.outcome {
            TxOutcome::Ok { .. } if increments => {
                f.acked += 1;
                continue;
            }
            TxOutcome::Ok { .. } => {
                f.reads += 1;
                continue;
            }
            TxOutcome::Fail(why) | TxOutcome::Unknown(why) | TxOutcome::Odd(why) => why,
            TxOutcome::Aborted => "aborted",
        };
        if increments && !matches!(e.outcome, TxOutcome::Fail(_)) {
            f.unknown += 1;
        } else {
            f.failed += 1;
        }
        *f.errors.entry(why.to_string()).or_default() += 1;
    }
    ScriptSummary(transactions::pair_summary(events, finals, LUA_PAIRS), f)
}

impl fmt::Display for ScriptSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, fc) = (&self.0, &self.1);
        write!(
            f,
            "scripts: {} increments acknowledged, {} unknown ({} of them applied), {} failed, {} \
             reads; causes {:?}\nof which functions: {} FCALL increments acknowledged, {} \
             FCALL_RO reads, {} unknown, {} failed; errors {:?}",
            s.acked,
            s.unknown,
            transactions::figure(s.unknown_applied),
            s.failed,
            s.reads,
            s.causes,
            fc.acked,
            fc.reads,
            fc.unknown,
            fc.failed,
            fc.errors
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn script(
        client: u64,
        kind: TxKind,
        invoke: u64,
        complete: u64,
        outcome: TxOutcome,
    ) -> TxEvent {
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
        script(client, TxKind::ScriptIncr, invoke, complete, ok)
    }
    fn read(client: u64, invoke: u64, complete: u64, value: i64) -> TxEvent {
        let ok = TxOutcome::Ok { a: value, b: value };
        script(client, TxKind::ScriptRead, invoke, complete, ok)
    }
    fn unknown(client: u64, invoke: u64) -> TxEvent {
        let lost = TxOutcome::Unknown("TIMEOUT write not confirmed".into());
        script(client, TxKind::ScriptIncr, invoke, invoke, lost)
    }

    /// `e` run as a function.
    fn by_fcall(e: TxEvent) -> TxEvent {
        TxEvent { fcall: true, ..e }
    }

    fn ends_at(value: i64) -> Vec<Option<(i64, i64)>> {
        vec![Some((value, value)), Some((0, 0))]
    }

    fn sound_history() -> Vec<TxEvent> {
        vec![
            read(0, 0, 5, 0),
            incr(0, 10, 20, 2),
            incr(1, 12, 18, 1),
            read(2, 21, 25, 2),
            unknown(1, 30),
            read(0, 70, 80, 3),
            incr(0, 90, 100, 4),
        ]
    }

    fn assert_found(anomalies: &[String], what: &str) {
        assert!(
            anomalies.iter().any(|a| a.contains(what)),
            "expected an anomaly with {what:?}, got {anomalies:#?}"
        );
    }

    #[test]
    fn a_sound_script_history_passes() {
        assert_eq!(
            script_anomalies(&sound_history(), &ends_at(4)),
            Vec::<String>::new()
        );
    }

    #[test]
    fn script_anomalies_are_found_and_named_by_the_lua_pair() {
        let mut h = sound_history();
        h[1].outcome = TxOutcome::Ok { a: 2, b: 1 };
        assert_found(
            &script_anomalies(&h, &ends_at(4)),
            "lua:{0}: lua-incr by client 0 at 0.010..0.020 s saw a = 2, b = 1",
        );
        // Three acknowledged, one unknown (applied: the read of 3 says so).
        assert_found(
            &script_anomalies(&sound_history(), &ends_at(5)),
            "counter \"lua:{0}\" ends at Some(5), expected 3..=4",
        );
        let twice = vec![incr(0, 0, 10, 1), incr(1, 5, 15, 1)];
        assert_found(&script_anomalies(&twice, &ends_at(1)), "both answered 1");
        let stale = vec![incr(0, 0, 10, 1), read(1, 20, 30, 0)];
        assert_found(
            &script_anomalies(&stale, &ends_at(1)),
            "lua:{0}: not linearizable as a counter",
        );
        let unread = script_anomalies(&[], &[None, Some((0, 0))]);
        assert_eq!(unread, vec!["lua:{0}: could not be read back".to_string()]);
    }

    #[test]
    fn transactions_and_scripts_are_checked_apart() {
        // A transaction on tx:{0} does not count for lua:{0}, nor a script for tx:{0}.
        let mut tx = incr(0, 0, 10, 1);
        tx.kind = TxKind::Incr;
        let h = vec![tx, incr(1, 20, 30, 1)];
        assert_eq!(script_anomalies(&h, &ends_at(1)), Vec::<String>::new());
        assert_eq!(
            transactions::transaction_anomalies(&h, &ends_at(1)),
            Vec::<String>::new()
        );
    }

    #[test]
    fn the_summary_counts_each_outcome() {
        let mut h = sound_history();
        h.push(script(
            2,
            TxKind::ScriptIncr,
            110,
            120,
            TxOutcome::Fail("gave up: TRYAGAIN no leader for this shard".into()),
        ));
        h.push(read(FINAL_READER, 300, 310, 4));
        let s = summary(&h, &ends_at(4)).0;
        assert_eq!(
            (s.acked, s.unknown, s.unknown_applied, s.failed, s.reads),
            (3, 1, Some(1), 1, 3)
        );
        assert_eq!(finals(&h), [Some((4, 4)), None]);
        assert!(summary(&h, &ends_at(4))
            .to_string()
            .starts_with("scripts: 3 increments acknowledged, 1 unknown (1 of them applied)"));
    }

    #[test]
    fn fcall_and_eval_operations_are_checked_as_one_history() {
        // The sound history, every other operation run as a function: still sound.
        let mixed: Vec<TxEvent> = sound_history()
            .into_iter()
            .enumerate()
            .map(|(i, e)| if i % 2 == 1 { by_fcall(e) } else { e })
            .collect();
        assert_eq!(script_anomalies(&mixed, &ends_at(4)), Vec::<String>::new());
        // A torn FCALL is found, and named as one.
        let mut torn = mixed.clone();
        torn[1].outcome = TxOutcome::Ok { a: 2, b: 1 };
        assert_found(
            &script_anomalies(&torn, &ends_at(4)),
            "lua:{0}: lua-incr via FCALL by client 0 at 0.010..0.020 s saw a = 2, b = 1",
        );
        // An FCALL and an EVAL that answered the same value: one applied twice.
        let twice = vec![by_fcall(incr(0, 0, 10, 1)), incr(1, 5, 15, 1)];
        assert_found(&script_anomalies(&twice, &ends_at(1)), "both answered 1");
        // An FCALL_RO that misses an EVAL's acknowledged increment.
        let stale = vec![incr(0, 0, 10, 1), by_fcall(read(1, 20, 30, 0))];
        assert_found(
            &script_anomalies(&stale, &ends_at(1)),
            "lua:{0}: not linearizable as a counter",
        );
        // Acknowledged FCALLs count for the final value's bounds.
        let lost = vec![by_fcall(incr(0, 0, 10, 1)), by_fcall(incr(0, 20, 30, 2))];
        assert_found(
            &script_anomalies(&lost, &ends_at(1)),
            "counter \"lua:{0}\" ends at Some(1), expected 2..=2",
        );
    }

    #[test]
    fn the_summary_counts_the_fcall_operations_apart() {
        let mut h = sound_history();
        h[1] = by_fcall(h[1].clone());
        h[3] = by_fcall(h[3].clone());
        h[4] = by_fcall(h[4].clone());
        h.push(by_fcall(script(
            2,
            TxKind::ScriptRead,
            110,
            120,
            TxOutcome::Unknown("ERR Function not found".into()),
        )));
        h.push(by_fcall(script(
            2,
            TxKind::ScriptIncr,
            130,
            140,
            TxOutcome::Fail("gave up: TRYAGAIN no leader for this shard".into()),
        )));
        h.push(by_fcall(read(FINAL_READER, 300, 310, 4)));
        let s = summary(&h, &ends_at(4));
        let expected = FcallSummary {
            acked: 1,
            reads: 1,
            unknown: 1,
            failed: 2,
            errors: BTreeMap::from([
                ("ERR Function not found".to_string(), 1),
                ("TIMEOUT write not confirmed".to_string(), 1),
                ("gave up: TRYAGAIN no leader for this shard".to_string(), 1),
            ]),
        };
        assert_eq!(s.1, expected);
        // The figures of all the scripts count them as well.
        assert_eq!((s.0.acked, s.0.unknown, s.0.reads), (3, 1, 3));
        let text = s.to_string();
        assert!(
            text.contains("of which functions: 1 FCALL increments acknowledged, 1 FCALL_RO reads"),
            "{text}"
        );
    }

    #[test]
    fn each_operation_has_its_eval_and_its_fcall_form() {
        let words = |pair, kind, fcall| command(pair, kind, fcall).join(" ");
        assert_eq!(
            words(1, TxKind::ScriptIncr, true),
            "FCALL incr_both 2 lua:{1}a lua:{1}b"
        );
        assert_eq!(
            words(0, TxKind::ScriptRead, true),
            "FCALL_RO read_both 2 lua:{0}a lua:{0}b"
        );
        assert_eq!(
            words(0, TxKind::ScriptIncr, false),
            format!("EVAL {INCR_BOTH} 2 lua:{{0}}a lua:{{0}}b")
        );
        assert_eq!(
            words(0, TxKind::ScriptRead, false),
            format!("EVAL {READ_BOTH} 2 lua:{{0}}a lua:{{0}}b")
        );
        // The library registers both functions, the reading one as `no-writes`.
        assert!(LIBRARY.starts_with("#!lua name=clusterlib\n"));
        assert!(LIBRARY.contains("redis.register_function('incr_both'"));
        assert!(LIBRARY.contains("function_name='read_both'"));
        assert!(LIBRARY.contains("flags={'no-writes'}"));
    }
}
