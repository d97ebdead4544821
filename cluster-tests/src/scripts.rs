//! Lua scripts in the workload (EVAL with `redis.call`) and their checks: the script analogue
//! of [`crate::transactions`].
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
//! A script is one command, sent through [`Client::call`], which follows MOVED and TRYAGAIN
//! (answered only for a script that was not applied) and sends nothing again otherwise. So an
//! answer of two integers is ok, a `gave up` (nothing but redirects, or no node reachable) is a
//! sure failure, and any other error reply (`TIMEOUT`, `UNKNOWN`, `ERR …`) or no reply at all
//! is unknown. The events are [`TxEvent`]s of kinds [`TxKind::ScriptIncr`] and
//! [`TxKind::ScriptRead`], and a pair is checked by the transaction pairs' rules (see
//! [`crate::transactions::transaction_anomalies`]): both writes seen or neither, each
//! acknowledged increment a distinct value, increasing in real-time order, the final value
//! within the acknowledged increments plus the unknown ones, linearizable as a counter.

use std::fmt;

use rand::rngs::StdRng;
use rand::Rng;

use crate::client::{CallError, Client, Value};
use crate::transactions::{self, TxEvent, TxKind, TxOutcome, TxSummary};
use crate::workload::Recorder;

/// Pairs of script keys (`lua:{<n>}a`, `lua:{<n>}b`).
pub const LUA_PAIRS: usize = 2;

/// lua-incr's script.
const INCR_BOTH: &str =
    "local a = redis.call('INCR', KEYS[1]) local b = redis.call('INCR', KEYS[2]) return {a, b}";

/// lua-read's script.
const READ_BOTH: &str = "return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}";

/// Key `half` (`'a'` or `'b'`) of pair `pair`: `lua:{<pair>}<half>`.
pub fn lua_key(pair: usize, half: char) -> String {
    format!("lua:{{{pair}}}{half}")
}

/// Runs one script of the workload on a random pair and records it: three fifths lua-incr,
/// the rest lua-read.
pub async fn op(c: &mut Client, recorder: &Recorder, rng: &mut StdRng, client: u64) {
    let pair = rng.random_range(0..LUA_PAIRS);
    let kind = if rng.random_bool(0.6) {
        TxKind::ScriptIncr
    } else {
        TxKind::ScriptRead
    };
    let invoke = recorder.now();
    let outcome = run(c, pair, kind).await;
    recorder.push_lua(TxEvent {
        client,
        pair,
        kind,
        watched: None,
        invoke,
        complete: recorder.now(),
        outcome,
    });
}

/// Runs the script of `kind` ([`TxKind::ScriptIncr`] or [`TxKind::ScriptRead`]) on `pair`
/// through `c`: its outcome (see the module's documentation).
pub async fn run(c: &mut Client, pair: usize, kind: TxKind) -> TxOutcome {
    let (script, parse): (&str, fn(&Value) -> Option<i64>) = match kind {
        TxKind::ScriptRead => (READ_BOTH, transactions::read_count),
        _ => (INCR_BOTH, |v| match v {
            Value::Int(n) => Some(*n),
            _ => None,
        }),
    };
    let args: Vec<String> = [
        "EVAL",
        script,
        "2",
        &lua_key(pair, 'a'),
        &lua_key(pair, 'b'),
    ]
    .iter()
    .map(|w| w.to_string())
    .collect();
    match c.call(&args).await {
        Ok(Value::Array(items)) => match items
            .iter()
            .map(parse)
            .collect::<Option<Vec<i64>>>()
            .as_deref()
        {
            Some(&[a, b]) => TxOutcome::Ok { a, b },
            _ => TxOutcome::Odd(format!("EVAL answered {items:?}")),
        },
        Ok(other) => TxOutcome::Odd(format!("EVAL answered {other:?}")),
        Err(CallError::Reply(e)) if e.starts_with("gave up") => TxOutcome::Fail(e),
        Err(CallError::Reply(e) | CallError::Lost(e)) => TxOutcome::Unknown(e),
    }
}

/// Each pair's `(a, b)` as read after the run (as [`transactions::finals`]).
pub fn finals(events: &[TxEvent]) -> Vec<Option<(i64, i64)>> {
    transactions::pair_finals(events, LUA_PAIRS)
}

/// What is wrong with the scripts of a history, given each pair's `(a, b)` read after the run:
/// the checks of [`transactions::transaction_anomalies`], on the `lua:` pairs.
pub fn script_anomalies(events: &[TxEvent], finals: &[Option<(i64, i64)>]) -> Vec<String> {
    transactions::pair_anomalies("lua", LUA_PAIRS, events, finals)
}

/// What the scripts of a run came to (the figures of a [`TxSummary`]; a script is never
/// aborted, and is never answered MOVED or TRYAGAIN, which the client follows).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScriptSummary(pub TxSummary);

/// Counts what the scripts of `events` came to, given each pair's `(a, b)` read after the run.
pub fn summary(events: &[TxEvent], finals: &[Option<(i64, i64)>]) -> ScriptSummary {
    ScriptSummary(transactions::pair_summary(events, finals, LUA_PAIRS))
}

impl fmt::Display for ScriptSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.0;
        write!(
            f,
            "scripts: {} increments acknowledged, {} unknown ({} of them applied), {} failed, {} \
             reads; causes {:?}",
            s.acked,
            s.unknown,
            transactions::figure(s.unknown_applied),
            s.failed,
            s.reads,
            s.causes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transactions::FINAL_READER;

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
}
