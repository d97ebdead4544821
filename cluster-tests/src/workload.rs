//! The workload: concurrent cluster-aware clients (see [`crate::client`]) doing GET, SET,
//! SET PX, INCR and DEL on a small key set, recording every operation with its
//! invoke and completion times and what the client saw (ok, fail or unknown).
//!
//! Keys: `reg:<n>` take GET / SET / INCR / DEL (checked for linearizability), `hreg:<n>` are
//! registers too, kept in field `f` of a hash (HGET / HSET / HINCRBY / HDEL, the hash going
//! away with its last field), `ctr:<n>` only INCR and GET (also checked against the
//! acknowledged increments), `ttl:<n>` take `SET v PX <ms>` and GET (a value must never be read
//! after its deadline). Every SET writes a value no other SET writes, so a read names the write
//! it saw.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::checker::{Event, Op, Outcome, Ret};
use crate::client::{Client, Value};

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
/// its operations from an RNG seeded with `seed` and its index.
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
