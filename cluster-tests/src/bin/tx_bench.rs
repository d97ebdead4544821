//! A transaction load for `make bench`, which redis-benchmark cannot make: each client sends
//! `MULTI`, five commands on one hash tag (SET, INCR, GET, HSET, DEL), `EXEC`, a pipeline of
//! such transactions at a time, over random tags. Prints one `key=value` line (transactions per
//! second, and replies that were errors), so that a script can set redis-server and Shardis side
//! by side under the same load.
//!
//! `tx_bench --port P [--clients C] [--pipeline P] [--transactions N] [--tags T] [--seed S]`

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

struct Options {
    port: u16,
    clients: usize,
    pipeline: usize,
    transactions: u64,
    tags: u64,
    seed: u64,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        port: 6379,
        clients: 50,
        pipeline: 1,
        transactions: 100_000,
        tags: 1_000_000,
        seed: 1,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut at = 0;
    while at < args.len() {
        let value = args
            .get(at + 1)
            .ok_or_else(|| format!("{} needs a value", args[at]))?;
        let bad = |_| format!("bad value for {}: {value}", args[at]);
        match args[at].as_str() {
            "--port" => o.port = value.parse().map_err(bad)?,
            "--clients" => o.clients = value.parse().map_err(bad)?,
            "--pipeline" => o.pipeline = value.parse().map_err(bad)?,
            "--transactions" => o.transactions = value.parse().map_err(bad)?,
            "--tags" => o.tags = value.parse().map_err(bad)?,
            "--seed" => o.seed = value.parse().map_err(bad)?,
            other => return Err(format!("unknown option {other}")),
        }
        at += 2;
    }
    if o.clients == 0 || o.pipeline == 0 || o.tags == 0 {
        return Err("clients, pipeline and tags must be positive".into());
    }
    Ok(o)
}

/// Appends a command in RESP.
fn encode(out: &mut Vec<u8>, words: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", words.len()).as_bytes());
    for w in words {
        out.extend_from_slice(format!("${}\r\n", w.len()).as_bytes());
        out.extend_from_slice(w);
        out.extend_from_slice(b"\r\n");
    }
}

/// One transaction on tag `tag`: MULTI, five commands, EXEC (seven replies).
fn transaction(out: &mut Vec<u8>, tag: u64) {
    let key = |name: &str| format!("{{t{tag}}}{name}").into_bytes();
    let (s, n, h, x) = (key("s"), key("n"), key("h"), key("x"));
    encode(out, &[b"MULTI"]);
    encode(out, &[b"SET", &s, b"0123456789abcdef0123456789abcdef"]);
    encode(out, &[b"INCR", &n]);
    encode(out, &[b"GET", &s]);
    encode(out, &[b"HSET", &h, b"f", b"v"]);
    encode(out, &[b"DEL", &x]);
    encode(out, &[b"EXEC"]);
}

/// Reads one reply; true if it was an error (at the top level or inside an array).
fn read_reply(r: &mut BufReader<TcpStream>, line: &mut Vec<u8>) -> std::io::Result<bool> {
    line.clear();
    r.read_until(b'\n', line)?;
    if line.len() < 3 {
        return Err(std::io::Error::other("connection closed"));
    }
    let n = || -> i64 {
        std::str::from_utf8(&line[1..line.len() - 2])
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(-1)
    };
    match line[0] {
        b'-' => Ok(true),
        b'+' | b':' | b'_' => Ok(false),
        b'$' => {
            let len = n();
            if len >= 0 {
                let mut skip = vec![0; len as usize + 2];
                r.read_exact(&mut skip)?;
            }
            Ok(false)
        }
        b'*' => {
            let mut error = false;
            for _ in 0..n().max(0) {
                let mut inner = Vec::new();
                error |= read_reply(r, &mut inner)?;
            }
            Ok(error)
        }
        other => Err(std::io::Error::other(format!(
            "unexpected reply type {}",
            other as char
        ))),
    }
}

fn client(
    o: &Options,
    seed: u64,
    todo: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
) -> Result<(), String> {
    let stream = TcpStream::connect(("127.0.0.1", o.port)).map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut out, mut line) = (Vec::new(), Vec::new());
    loop {
        let want = o.pipeline as u64;
        let got = todo
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                (left > 0).then(|| left.saturating_sub(want))
            })
            .unwrap_or(0);
        let batch = got.min(want);
        if batch == 0 {
            return Ok(());
        }
        out.clear();
        for _ in 0..batch {
            transaction(&mut out, rng.random_range(0..o.tags));
        }
        writer.write_all(&out).map_err(|e| e.to_string())?;
        for _ in 0..batch * 7 {
            if read_reply(&mut reader, &mut line).map_err(|e| e.to_string())? {
                errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn main() -> std::process::ExitCode {
    let o = match options() {
        Ok(o) => Arc::new(o),
        Err(e) => {
            eprintln!("tx_bench: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let todo = Arc::new(AtomicU64::new(o.transactions));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..o.clients)
        .map(|i| {
            let (o, todo, errors) = (o.clone(), todo.clone(), errors.clone());
            std::thread::spawn(move || client(&o, o.seed * 1000 + i as u64, todo, errors))
        })
        .collect();
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("tx_bench: a client failed: {e}");
                return std::process::ExitCode::FAILURE;
            }
            Err(_) => return std::process::ExitCode::FAILURE,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "transactions_per_sec={:.0} errors={}",
        o.transactions as f64 / secs,
        errors.load(Ordering::Relaxed)
    );
    std::process::ExitCode::SUCCESS
}
