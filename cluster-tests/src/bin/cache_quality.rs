//! A cache-aside load with Zipf-distributed keys, for `make bench`'s cache-quality table: each
//! client reads a pipeline of keys drawn from a Zipf distribution over the key space and writes
//! back (SET) the ones it missed, as an application in front of a database would. Prints the
//! hit ratio of the measured half of the run and the commands per second over it, one
//! `key=value` line, so that a script can set redis-server and Shardis side by side under the
//! same `maxmemory` and policy.
//!
//! `cache_quality --port P [--keys N] [--s S] [--value BYTES] [--clients C] [--pipeline P]
//! [--seconds T] [--seed N]`

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};

struct Options {
    port: u16,
    keys: u64,
    s: f64,
    value: usize,
    clients: usize,
    pipeline: usize,
    seconds: f64,
    seed: u64,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        port: 6379,
        keys: 10_000_000,
        s: 0.99,
        value: 100,
        clients: 16,
        pipeline: 16,
        seconds: 20.0,
        seed: 1,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let [name, value] = pair else {
            return Err(format!("{} needs a value", pair[0]));
        };
        let bad = |_| format!("{name}: not a number: {value}");
        match name.as_str() {
            "--port" => o.port = value.parse().map_err(bad)?,
            "--keys" => o.keys = value.parse().map_err(bad)?,
            "--s" => o.s = value.parse().map_err(|_| format!("--s: {value}"))?,
            "--value" => o.value = value.parse().map_err(bad)?,
            "--clients" => o.clients = value.parse().map_err(bad)?,
            "--pipeline" => o.pipeline = value.parse().map_err(bad)?,
            "--seconds" => o.seconds = value.parse().map_err(|_| format!("--seconds: {value}"))?,
            "--seed" => o.seed = value.parse().map_err(bad)?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

/// What the clients counted during the measured half.
#[derive(Default)]
struct Counts {
    hits: AtomicU64,
    misses: AtomicU64,
    commands: AtomicU64,
}

async fn client(
    o: Arc<Options>,
    id: u64,
    measuring: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
) -> Result<(), String> {
    let url = format!("redis://127.0.0.1:{}/", o.port);
    let mut con = redis::Client::open(url)
        .map_err(|e| e.to_string())?
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| e.to_string())?;
    let zipf = Zipf::new(o.keys as f64, o.s).map_err(|e| e.to_string())?;
    let mut rng = StdRng::seed_from_u64(o.seed.wrapping_mul(1_000_003).wrapping_add(id));
    let value = vec![b'v'; o.value];
    while !stop.load(Ordering::Relaxed) {
        // Zipf ranks 1..=keys, scattered over the key names so that hot keys are not neighbours.
        let keys: Vec<String> = (0..o.pipeline)
            .map(|_| {
                let rank = zipf.sample(&mut rng) as u64;
                format!("key:{}", rank.wrapping_mul(0x9E37_79B9_7F4A_7C15) % o.keys)
            })
            .collect();
        let mut gets = redis::pipe();
        for k in &keys {
            gets.cmd("GET").arg(k);
        }
        let got: Vec<Option<Vec<u8>>> = gets
            .query_async(&mut con)
            .await
            .map_err(|e| e.to_string())?;
        let missed: Vec<&String> = keys
            .iter()
            .zip(&got)
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k)
            .collect();
        if !missed.is_empty() {
            let mut sets = redis::pipe();
            for k in &missed {
                sets.cmd("SET").arg(k).arg(&value).ignore();
            }
            // Under noeviction a full cache refuses the writes: that is a miss all the same.
            let _: redis::RedisResult<()> = sets.query_async(&mut con).await;
        }
        if measuring.load(Ordering::Relaxed) {
            let misses = missed.len() as u64;
            counts
                .hits
                .fetch_add(keys.len() as u64 - misses, Ordering::Relaxed);
            counts.misses.fetch_add(misses, Ordering::Relaxed);
            counts
                .commands
                .fetch_add(keys.len() as u64 + misses, Ordering::Relaxed);
        }
        if rng.random_ratio(1, 1024) {
            tokio::task::yield_now().await;
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let o = match options() {
        Ok(o) => Arc::new(o),
        Err(e) => {
            eprintln!("cache_quality: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cache_quality: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let (measuring, stop) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let counts = Arc::new(Counts::default());
    let result = rt.block_on(async {
        let tasks: Vec<_> = (0..o.clients as u64)
            .map(|id| {
                tokio::spawn(client(
                    o.clone(),
                    id,
                    measuring.clone(),
                    stop.clone(),
                    counts.clone(),
                ))
            })
            .collect();
        // The first half fills the cache; the second is measured.
        let half = Duration::from_secs_f64(o.seconds / 2.0);
        tokio::time::sleep(half).await;
        measuring.store(true, Ordering::Relaxed);
        let started = Instant::now();
        tokio::time::sleep(half).await;
        measuring.store(false, Ordering::Relaxed);
        let elapsed = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            match t.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(elapsed)
    });
    let elapsed = match result {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cache_quality: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let hits = counts.hits.load(Ordering::Relaxed);
    let misses = counts.misses.load(Ordering::Relaxed);
    let commands = counts.commands.load(Ordering::Relaxed);
    println!(
        "hit_ratio={:.4} commands_per_sec={:.0} reads={}",
        hits as f64 / (hits + misses).max(1) as f64,
        commands as f64 / elapsed.as_secs_f64(),
        hits + misses
    );
    std::process::ExitCode::SUCCESS
}
