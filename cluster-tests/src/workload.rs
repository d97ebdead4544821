//! The workload: concurrent cluster-aware clients (see [`crate::client`]) doing GET, SET,
//! SET PX, INCR and DEL on a small key set, recording every operation with its
//! invoke and completion times and what the client saw (ok, fail or unknown).
//!
//! Keys: `reg:<n>` take GET / SET / INCR / DEL (checked for linearizability), `hreg:<n>` are
//! registers too, kept in field `f` of a hash (HGET / HSET / HINCRBY / HDEL, the hash going
//! away with its last field), `ctr:<n>` only INCR and GET (also checked against the
//! acknowledged increments), `ttl:<n>` take `SET v PX <ms>` and GET (a value must never be read
//! after its deadline), `queue:<n>` take RPUSH and BLPOP (nothing acknowledged is lost, nothing
//! is popped twice, first in first out: see [`queue_anomalies`]), and `tx:{<n>}a` and
//! `tx:{<n>}b` are only written together by MULTI … EXEC transactions (see
//! [`crate::transactions`]), as `lua:{<n>}a` and `lua:{<n>}b` are by Lua scripts, run by EVAL
//! or as functions with FCALL (see [`crate::scripts`]). Every SET and push writes a value no other write writes, so a read
//! or a pop names the write it saw.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::checker::{Event, Op, Outcome, Ret};
use crate::client::{Client, Value};
use crate::scripts;
use crate::transactions::{self, TxEvent};

/// Register keys.
pub const REGISTERS: usize = 4;
/// Registers kept in a hash's field (`hreg:<n>`, field [`HASH_FIELD`]).
pub const HASH_REGISTERS: usize = 2;
/// The field of a `hreg:` hash that holds the register.
pub const HASH_FIELD: &str = "f";
/// Counter keys.
pub const COUNTERS: usize = 2;
/// Keys written with a TTL.
pub const TTL_KEYS: usize = 2;
/// The TTL of `ttl:` writes.
pub const TTL: Duration = Duration::from_millis(300);
/// Queue keys (`queue:<n>`), pushed with RPUSH and popped with BLPOP.
pub const QUEUES: usize = 2;
/// How long a BLPOP of the workload waits (seconds).
const POP_WAIT: &str = "0.2";

/// An RPUSH or a BLPOP of a `queue:` key.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QueueEvent {
    /// Key.
    pub key: String,
    /// `Some(item)`: an RPUSH of `item`; `None`: a BLPOP.
    pub push: Option<i64>,
    /// For a BLPOP, the item it returned (`None`: it timed out with nothing, or failed).
    pub popped: Option<i64>,
    /// Nanoseconds since the start of the run.
    pub invoke: u64,
    /// Nanoseconds since the start of the run.
    pub complete: u64,
    /// The push was acknowledged / the pop answered; otherwise it may or may not have applied.
    pub ok: bool,
}

/// A `SET … PX` or a GET of a `ttl:` key.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TtlEvent {
    /// Key.
    pub key: String,
    /// `Some(v)`: SET of `v` (acknowledged, or unknown); `None`: a GET.
    pub set: Option<i64>,
    /// For a GET, what it returned.
    pub got: Option<i64>,
    /// Nanoseconds since the start of the run.
    pub invoke: u64,
    /// Nanoseconds since the start of the run.
    pub complete: u64,
    /// The SET was acknowledged / the GET answered.
    pub ok: bool,
}

/// What the clients recorded.
#[derive(Default, Serialize, Deserialize)]
pub struct History {
    /// Operations on `reg:` and `ctr:` keys.
    pub events: Vec<Event>,
    /// Operations on `ttl:` keys.
    pub ttl: Vec<TtlEvent>,
    /// Operations on `queue:` keys.
    #[serde(default)]
    pub queue: Vec<QueueEvent>,
    /// Transactions on the `tx:` pairs.
    #[serde(default)]
    pub tx: Vec<TxEvent>,
    /// Lua scripts on the `lua:` pairs.
    #[serde(default)]
    pub lua: Vec<TxEvent>,
}

/// Where the clients put what they saw.
pub struct Recorder {
    start: Instant,
    history: Mutex<History>,
}

impl Recorder {
    /// An empty history starting now.
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder {
            start: Instant::now(),
            history: Mutex::new(History::default()),
        })
    }

    /// When the history's clock started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Nanoseconds since the start.
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Nanoseconds since the start at `t`.
    pub fn at(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.start).as_nanos() as u64
    }

    fn push(&self, e: Event) {
        self.history
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .events
            .push(e);
    }

    fn push_queue(&self, e: QueueEvent) {
        self.history
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .queue
            .push(e);
    }

    /// Records a transaction (see [`crate::transactions::op`]).
    pub(crate) fn push_tx(&self, e: TxEvent) {
        self.history
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .tx
            .push(e);
    }

    /// Records a script (see [`crate::scripts::op`]).
    pub(crate) fn push_lua(&self, e: TxEvent) {
        self.history
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .lua
            .push(e);
    }

    fn push_ttl(&self, e: TtlEvent) {
        self.history
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .ttl
            .push(e);
    }

    /// Takes the history recorded so far.
    pub fn take(&self) -> History {
        std::mem::take(&mut *self.history.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Runs `clients` clients against the nodes on `ports` until `stop` is set. Each client draws
/// its operations from an RNG seeded with `seed` and its index. Half the scripts are FCALLs of
/// the workload's function library, which must be loaded first ([`scripts::load_library`], as
/// [`crate::scenario::Run`] does).
pub async fn run(
    ports: Vec<u16>,
    clients: usize,
    seed: u64,
    stop: Arc<AtomicBool>,
    recorder: Arc<Recorder>,
) {
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (ports, stop, recorder) = (ports.clone(), stop.clone(), recorder.clone());
            tokio::spawn(client(c as u64, ports, seed, stop, recorder))
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

async fn client(
    id: u64,
    ports: Vec<u16>,
    seed: u64,
    stop: Arc<AtomicBool>,
    recorder: Arc<Recorder>,
) {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(id));
    let mut con = Client::new(ports, Duration::from_millis(2500));
    let mut seq = 0i64;
    while !stop.load(Ordering::Relaxed) {
        seq += 1;
        // Unique per write, and far apart: INCRs on a register never turn one written value
        // into another (which keeps the checker's search small).
        let value = (id as i64 + 1) * 1_000_000_000_000 + seq * 1_000_000;
        let pick: u32 = rng.random_range(0..100);
        if pick < 15 {
            ttl_op(&mut con, &recorder, &mut rng, value).await;
            continue;
        }
        if pick >= 88 {
            queue_op(&mut con, &recorder, &mut rng, value).await;
            continue;
        }
        // A transaction takes four round trips: a tenth of the picks is about a quarter of
        // the client's time.
        if pick >= 78 {
            transactions::op(&mut con, &recorder, &mut rng, id).await;
            continue;
        }
        // A script is one round trip: a twentieth of the picks.
        if pick >= 73 {
            scripts::op(&mut con, &recorder, &mut rng, id).await;
            continue;
        }
        let (key, op) = if pick < 35 {
            let key = format!("ctr:{}", rng.random_range(0..COUNTERS));
            let op = if rng.random_bool(0.6) {
                Op::Incr
            } else {
                Op::Get
            };
            (key, op)
        } else {
            let key = if pick < 50 {
                format!("hreg:{}", rng.random_range(0..HASH_REGISTERS))
            } else {
                format!("reg:{}", rng.random_range(0..REGISTERS))
            };
            let op = match rng.random_range(0..10) {
                0..=3 => Op::Get,
                4..=6 => Op::Set(value),
                7..=8 => Op::Incr,
                _ => Op::Del,
            };
            (key, op)
        };
        let invoke = recorder.now();
        let outcome = execute(&mut con, &key, op).await;
        let complete = recorder.now();
        recorder.push(Event {
            client: id,
            key,
            op,
            invoke,
            complete,
            outcome,
        });
    }
}

fn args(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| p.to_string()).collect()
}

/// Runs one operation. A read that failed is `Fail` (it changed nothing); a write that failed
/// is `Unknown` (it may have been applied: a timeout, a lost connection, or an error reply such
/// as `UNKNOWN` or `TIMEOUT`).
async fn execute(c: &mut Client, key: &str, op: Op) -> Outcome {
    let f = HASH_FIELD;
    let value = match (op, key.starts_with("hreg:")) {
        (Op::Get, false) => c.call(&args(&["GET", key])).await,
        (Op::Set(v), false) => c.call(&args(&["SET", key, &v.to_string()])).await,
        (Op::Incr, false) => c.call(&args(&["INCR", key])).await,
        (Op::Del, false) => c.call(&args(&["DEL", key])).await,
        (Op::Get, true) => c.call(&args(&["HGET", key, f])).await,
        // HSET answers how many fields are new: as a register write, it is done.
        (Op::Set(v), true) => match c.call(&args(&["HSET", key, f, &v.to_string()])).await {
            Ok(Value::Int(_)) => Ok(Value::Text("OK".into())),
            other => other,
        },
        (Op::Incr, true) => c.call(&args(&["HINCRBY", key, f, "1"])).await,
        (Op::Del, true) => c.call(&args(&["HDEL", key, f])).await,
    };
    match (op, value) {
        (Op::Get, Ok(Value::Nil)) => Outcome::Ok(Ret::Value(None)),
        (Op::Get, Ok(Value::Text(t))) => match t.parse() {
            Ok(n) => Outcome::Ok(Ret::Value(Some(n))),
            Err(_) => Outcome::Fail,
        },
        (Op::Set(_), Ok(Value::Text(t))) if t == "OK" => Outcome::Ok(Ret::Done),
        (Op::Incr | Op::Del, Ok(Value::Int(n))) => Outcome::Ok(Ret::Int(n)),
        (Op::Get, _) => Outcome::Fail,
        _ => Outcome::Unknown,
    }
}

async fn ttl_op(c: &mut Client, recorder: &Recorder, rng: &mut StdRng, value: i64) {
    let key = format!("ttl:{}", rng.random_range(0..TTL_KEYS));
    let invoke = recorder.now();
    let (set, got, ok) = if rng.random_bool(0.4) {
        let px = TTL.as_millis().to_string();
        let r = c
            .call(&args(&["SET", &key, &value.to_string(), "PX", &px]))
            .await;
        (Some(value), None, r.is_ok())
    } else {
        match c.call(&args(&["GET", &key])).await {
            Ok(Value::Text(t)) => (None, t.parse().ok(), true),
            Ok(_) => (None, None, true),
            Err(_) => (None, None, false),
        }
    };
    let complete = recorder.now();
    recorder.push_ttl(TtlEvent {
        key,
        set,
        got,
        invoke,
        complete,
        ok,
    });
}

async fn queue_op(c: &mut Client, recorder: &Recorder, rng: &mut StdRng, value: i64) {
    let key = format!("queue:{}", rng.random_range(0..QUEUES));
    let invoke = recorder.now();
    let (push, popped, ok) = if rng.random_bool(0.55) {
        let r = c.call(&args(&["RPUSH", &key, &value.to_string()])).await;
        (Some(value), None, matches!(r, Ok(Value::Int(_))))
    } else {
        match c.call(&args(&["BLPOP", &key, POP_WAIT])).await {
            Ok(Value::Array(items)) => match items.as_slice() {
                [_, Value::Text(t)] => match t.parse() {
                    Ok(item) => (None, Some(item), true),
                    Err(_) => (None, None, false),
                },
                _ => (None, None, false),
            },
            Ok(Value::Nil) => (None, None, true),
            _ => (None, None, false),
        }
    };
    let complete = recorder.now();
    recorder.push_queue(QueueEvent {
        key,
        push,
        popped,
        invoke,
        complete,
        ok,
    });
}

/// What is wrong with the history of the `queue:` keys, given what each holds at the end
/// (`None`: it could not be read back):
/// - an item popped that no RPUSH pushed, popped twice, or both popped and still queued;
/// - acknowledged pushes neither popped nor queued, more of them than pops that got no answer
///   (each of which may have taken one);
/// - first in first out broken: an item whose push was acknowledged before another's began
///   is still queued, or was popped only after the other's pop had completed, although the
///   other was popped.
pub fn queue_anomalies(
    events: &[QueueEvent],
    finals: &std::collections::HashMap<String, Option<Vec<i64>>>,
) -> Vec<String> {
    use std::collections::HashMap;
    let mut out = Vec::new();
    for q in 0..QUEUES {
        let key = format!("queue:{q}");
        let Some(Some(remaining)) = finals.get(&key) else {
            out.push(format!("{key}: could not be read back"));
            continue;
        };
        let on_key = || events.iter().filter(|e| e.key == key);
        let pushes: HashMap<i64, &QueueEvent> = on_key()
            .filter_map(|e| e.push.map(|item| (item, e)))
            .collect();
        let unanswered_pops = on_key().filter(|e| e.push.is_none() && !e.ok).count();
        let mut popped: HashMap<i64, &QueueEvent> = HashMap::new();
        for pop in on_key().filter(|e| e.ok) {
            let Some(item) = pop.popped else { continue };
            if !pushes.contains_key(&item) {
                out.push(format!("{key}: popped {item}, which no RPUSH pushed"));
            }
            if popped.insert(item, pop).is_some() {
                out.push(format!("{key}: {item} popped twice"));
            }
        }
        let mut queued: HashMap<i64, usize> = HashMap::new();
        for (at, item) in remaining.iter().enumerate() {
            if !pushes.contains_key(item) {
                out.push(format!("{key}: holds {item}, which no RPUSH pushed"));
            }
            if popped.contains_key(item) {
                out.push(format!("{key}: {item} was popped and is still queued"));
            }
            if queued.insert(*item, at).is_some() {
                out.push(format!("{key}: {item} is queued twice"));
            }
        }
        let acked: Vec<&QueueEvent> = pushes.values().copied().filter(|e| e.ok).collect();
        let lost: Vec<i64> = acked
            .iter()
            .filter_map(|e| e.push)
            .filter(|i| !popped.contains_key(i) && !queued.contains_key(i))
            .collect();
        if lost.len() > unanswered_pops {
            out.push(format!(
                "{key}: {} acknowledged pushes were neither popped nor queued, and only {} pops \
                 went unanswered (e.g. {:?})",
                lost.len(),
                unanswered_pops,
                &lost[..lost.len().min(5)]
            ));
        }
        // First in first out, over acknowledged pushes: sorted by completion, each push's
        // "latest moment it left the queue" (still queued: never) must not come after the
        // completion of the pop of any push that began after it completed.
        let mut by_completion: Vec<(u64, u64, i64)> = acked
            .iter()
            .filter_map(|e| {
                let item = e.push?;
                let left = match (popped.get(&item), queued.contains_key(&item)) {
                    (Some(pop), _) => pop.invoke,
                    (None, true) => u64::MAX,
                    (None, false) => return None,
                };
                Some((e.complete, left, item))
            })
            .collect();
        by_completion.sort_unstable();
        // Prefix maxima of `left`, with the item that has it.
        let mut latest: Vec<(u64, i64)> = Vec::with_capacity(by_completion.len());
        for &(_, left, item) in &by_completion {
            let best = match latest.last() {
                Some(&(l, i)) if l >= left => (l, i),
                _ => (left, item),
            };
            latest.push(best);
        }
        for push in &acked {
            let Some(item) = push.push else { continue };
            let Some(pop) = popped.get(&item) else {
                continue;
            };
            // Pushes acknowledged before this one began.
            let before = by_completion.partition_point(|&(done, _, _)| done < push.invoke);
            if before == 0 {
                continue;
            }
            let (left, earlier) = latest[before - 1];
            if left > pop.complete {
                let how = if left == u64::MAX {
                    "is still queued".to_string()
                } else {
                    "was popped after it".to_string()
                };
                out.push(format!(
                    "{key}: {item} was popped, but {earlier}, pushed before {item}'s push began, {how}"
                ));
            }
        }
    }
    out
}

/// Reads that returned a `ttl:` value although they started after its deadline had certainly
/// passed (the SET's completion plus the TTL plus `slack` for the nodes' clocks). Every value is
/// written once, so the SET a read saw is known.
pub fn expired_reads(ttl: &[TtlEvent], slack: Duration) -> Vec<String> {
    let ttl_ns = TTL.as_nanos() as u64;
    let slack = slack.as_nanos() as u64;
    let mut out = Vec::new();
    for read in ttl.iter().filter(|e| e.set.is_none() && e.ok) {
        let Some(v) = read.got else { continue };
        match ttl.iter().find(|e| e.set == Some(v)) {
            Some(set) if read.invoke > set.complete + ttl_ns + slack => out.push(format!(
                "{} read value {v} {} ms after its SET PX {} completed",
                read.key,
                (read.invoke - set.complete) / 1_000_000,
                TTL.as_millis()
            )),
            Some(_) => {}
            None => out.push(format!("{} read value {v} that no SET wrote", read.key)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn push(key: &str, item: i64, invoke: u64, complete: u64, ok: bool) -> QueueEvent {
        QueueEvent {
            key: key.into(),
            push: Some(item),
            popped: None,
            invoke,
            complete,
            ok,
        }
    }

    fn pop(key: &str, item: Option<i64>, invoke: u64, complete: u64, ok: bool) -> QueueEvent {
        QueueEvent {
            key: key.into(),
            push: None,
            popped: item,
            invoke,
            complete,
            ok,
        }
    }

    fn finals(q0: &[i64]) -> HashMap<String, Option<Vec<i64>>> {
        HashMap::from([
            ("queue:0".to_string(), Some(q0.to_vec())),
            ("queue:1".to_string(), Some(Vec::new())),
        ])
    }

    #[test]
    fn a_sound_queue_history_passes() {
        let q = "queue:0";
        let events = vec![
            push(q, 1, 0, 10, true),
            push(q, 2, 20, 30, true),
            // Concurrent with 2's push: either order is fine.
            push(q, 3, 25, 40, true),
            pop(q, Some(1), 50, 60, true),
            pop(q, Some(3), 70, 80, true),
            pop(q, None, 90, 95, false),
            push(q, 4, 100, 110, false),
            pop(q, None, 120, 130, true),
        ];
        // 2 was taken by the unanswered pop; 4's push was applied after all.
        assert_eq!(
            queue_anomalies(&events, &finals(&[4])),
            Vec::<String>::new()
        );
    }

    #[test]
    fn every_kind_of_queue_anomaly_is_found() {
        let q = "queue:0";
        let found = |events: Vec<QueueEvent>, held: &[i64]| queue_anomalies(&events, &finals(held));
        let lost = found(vec![push(q, 1, 0, 10, true)], &[]);
        assert!(lost[0].contains("neither popped nor queued"), "{lost:?}");
        let twice = found(
            vec![
                push(q, 1, 0, 10, true),
                pop(q, Some(1), 20, 30, true),
                pop(q, Some(1), 40, 50, true),
            ],
            &[],
        );
        assert!(
            twice.iter().any(|a| a.contains("popped twice")),
            "{twice:?}"
        );
        let invented = found(vec![pop(q, Some(9), 0, 10, true)], &[8]);
        assert_eq!(invented.len(), 2, "{invented:?}");
        let still_there = found(
            vec![push(q, 1, 0, 10, true), pop(q, Some(1), 20, 30, true)],
            &[1],
        );
        assert!(still_there[0].contains("still queued"), "{still_there:?}");
        let overtaken = found(
            vec![
                push(q, 1, 0, 10, true),
                push(q, 2, 20, 30, true),
                pop(q, Some(2), 40, 50, true),
            ],
            &[1],
        );
        assert!(
            overtaken[0].contains("1, pushed before 2's push began, is still queued"),
            "{overtaken:?}"
        );
        let late = found(
            vec![
                push(q, 1, 0, 10, true),
                push(q, 2, 20, 30, true),
                pop(q, Some(2), 40, 50, true),
                pop(q, Some(1), 60, 70, true),
            ],
            &[],
        );
        assert!(late[0].contains("was popped after it"), "{late:?}");
        let unread = queue_anomalies(&[], &HashMap::new());
        assert_eq!(unread.len(), QUEUES, "{unread:?}");
    }
}
