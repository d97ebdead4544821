//! Fault scenarios against real clusters, each with the workload running and its history checked
//! (see `cluster_tests::scenario`). Short versions run in `make test`; `make chaos DURATION=…
//! SEED=…` runs the random schedule for longer and prints the figures.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use cluster_tests::scenario::{seed, Figures, Run};
use cluster_tests::scripts::lua_key;
use cluster_tests::transactions::tx_key;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Scenarios run one at a time: each starts several nodes on a 2-core machine.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const WARMUP: Duration = Duration::from_millis(1500);
const FAULT: Duration = Duration::from_millis(2500);
const RECOVERY: Duration = Duration::from_millis(1500);

fn report(figures: Figures) {
    eprintln!(
        "{}\n{}\n{}\n{}",
        Figures::header(),
        figures.row(),
        figures.transactions,
        figures.scripts
    );
    assert!(
        figures.anomalies.is_empty(),
        "{} anomalies (seed {}): {:#?}",
        figures.anomalies.len(),
        figures.seed,
        figures.anomalies
    );
    assert!(figures.ops > 50, "the workload barely ran: {figures:?}");
}

/// Warms up, kills the leader of `reg:0`'s shard, restarts it after the fault's time, lets the
/// cluster recover.
fn kill_and_restart_the_leader_of_reg0(run: &mut Run) {
    kill_and_restart_the_leader_of(run, "reg:0");
}

/// Warms up, kills the leader of `key`'s shard, restarts it after the fault's time, lets the
/// cluster recover.
fn kill_and_restart_the_leader_of(run: &mut Run, key: &str) {
    run.run_for(WARMUP);
    let victim = run
        .leader_of(0, key)
        .unwrap_or_else(|| panic!("{key} has no leader"));
    run.inject(victim, |c| c.kill(victim));
    run.run_for(FAULT);
    run.cluster.launch(victim);
    run.fault_ends();
    run.run_for(RECOVERY);
}

fn leader_kill(nodes: usize, name: &str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut run = Run::start(nodes, seed());
    kill_and_restart_the_leader_of_reg0(&mut run);
    let figures = run.finish(name);
    assert!(
        figures.failover.is_some(),
        "no write on the failed leader's shards was acknowledged: {figures:?}"
    );
    report(figures);
}

#[test]
fn leader_kill_3_nodes() {
    leader_kill(3, "leader kill (3 nodes)");
}

#[test]
fn leader_kill_5_nodes() {
    leader_kill(5, "leader kill (5 nodes)");
}

/// The leader of the shard holding the transactions' first pair (`tx:{0}a`, `tx:{0}b`) is
/// killed while transactions run, and restarted: every transaction's two INCRs are seen both or
/// neither on every answer, none is lost or applied twice, and transactions on that pair are
/// acknowledged again after the failover (see `cluster_tests::transactions`).
#[test]
fn leader_kill_with_transactions() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut run = Run::start(3, seed());
    kill_and_restart_the_leader_of(&mut run, &tx_key(0, 'a'));
    let figures = run.finish("leader kill with tx");
    eprintln!(
        "first transaction increment on the failed leader's pairs: {} ms after the kill",
        figures
            .tx_failover
            .map_or("-".to_string(), |d| d.as_millis().to_string())
    );
    assert!(
        figures.transactions.acked > 0 && figures.transactions.reads > 0,
        "no transaction was acknowledged: {figures:?}"
    );
    assert!(
        figures.tx_failover.is_some(),
        "no transaction on the failed leader's pair was acknowledged after the kill: {figures:?}"
    );
    report(figures);
}

/// The leader of the shard holding the scripts' first pair (`lua:{0}a`, `lua:{0}b`) is killed
/// while Lua scripts run, and restarted: every script's two INCRs are seen both or neither on
/// every answer, none is lost or applied twice (a script is logged as one guarded entry, and
/// MOVED / TRYAGAIN, which the client follows, must mean it was not applied), and scripts on
/// that pair are acknowledged again after the failover (see `cluster_tests::scripts`).
///
/// The scripts run in both forms, EVAL and Redis 7 functions (`FCALL incr_both`, `FCALL_RO
/// read_both` of the library the run loads before its workload starts), checked together by
/// the same rules; the test fails unless FCALL increments and FCALL_RO reads were acknowledged,
/// and an FCALL increment on the failed leader's pair after the kill (on the new leader).
#[test]
fn leader_kill_with_scripts() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut run = Run::start(3, seed());
    kill_and_restart_the_leader_of(&mut run, &lua_key(0, 'a'));
    let figures = run.finish("leader kill with lua");
    let ms = |d: Option<Duration>| d.map_or("-".to_string(), |d| d.as_millis().to_string());
    eprintln!(
        "first script increment on the failed leader's pairs: {} ms after the kill (first by \
         FCALL: {} ms)",
        ms(figures.script_failover),
        ms(figures.function_failover)
    );
    assert!(
        figures.scripts.0.acked > 0 && figures.scripts.0.reads > 0,
        "no script was acknowledged: {figures:?}"
    );
    assert!(
        figures.scripts.1.acked > 0 && figures.scripts.1.reads > 0,
        "no FCALL increment or no FCALL_RO read was acknowledged: {figures:?}"
    );
    assert!(
        figures.script_failover.is_some(),
        "no script on the failed leader's pair was acknowledged after the kill: {figures:?}"
    );
    assert!(
        figures.function_failover.is_some(),
        "no FCALL on the failed leader's pair was acknowledged after the kill: {figures:?}"
    );
    report(figures);
}

#[test]
fn leader_pause_longer_than_the_election_timeout() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut run = Run::start(3, seed());
    run.run_for(WARMUP);
    let victim = run.leader_of_reg0(0).expect("leader");
    run.inject(victim, |c| c.pause(victim));
    run.run_for(FAULT);
    // On resume the old leader must not answer as leader: any stale answer would show in the
    // history.
    run.cluster.resume(victim);
    run.fault_ends();
    run.run_for(RECOVERY);
    report(run.finish("leader pause"));
}

#[test]
fn minority_partition() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut run = Run::start(3, seed());
    run.run_for(WARMUP);
    let leader = run.leader_of_reg0(0).expect("leader");
    let follower = (0..3).find(|&i| i != leader).expect("a follower");
    run.inject(follower, |c| c.partition(&[follower]));
    run.run_for(FAULT);
    run.cluster.heal();
    run.fault_ends();
    run.run_for(RECOVERY);
    report(run.finish("minority partition"));
}

#[test]
fn old_leader_isolated_on_the_minority_side() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut run = Run::start(3, seed());
    run.run_for(WARMUP);
    let leader = run.leader_of_reg0(0).expect("leader");
    run.inject(leader, |c| c.partition(&[leader]));
    run.run_for(FAULT);
    run.cluster.heal();
    run.fault_ends();
    run.run_for(RECOVERY);
    let figures = run.finish("old leader isolated");
    assert!(
        figures.failover.is_some(),
        "the majority never took writes: {figures:?}"
    );
    report(figures);
}

#[test]
fn rolling_restart() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut run = Run::start(3, seed());
    run.run_for(WARMUP);
    run.fault_starts(None);
    for i in 0..3 {
        run.cluster.kill(i);
        run.run_for(Duration::from_millis(500));
        run.cluster.launch(i);
        run.cluster.wait_healthy(Duration::from_secs(30));
    }
    run.fault_ends();
    run.run_for(RECOVERY);
    report(run.finish("rolling restart"));
}

#[test]
fn every_node_killed_at_once_and_restarted() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut run = Run::start(3, seed());
    run.run_for(WARMUP);
    run.fault_starts(None);
    for i in 0..3 {
        run.cluster.kill(i);
    }
    run.run_for(Duration::from_millis(500));
    for i in 0..3 {
        run.cluster.launch(i);
    }
    run.cluster.wait_healthy(Duration::from_secs(30));
    run.fault_ends();
    run.run_for(RECOVERY);
    // Every acknowledged write before the crash is still there: the final reads are part of the
    // checked history.
    report(run.finish("all killed, restarted"));
}

#[test]
fn the_leaders_disk_fills_mid_load() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let Some(mut run) = Run::start_on_small_disks(3, seed()) else {
        eprintln!("SKIPPED: this test may not mount a tmpfs (it needs root); the single-node disk-full test covers the node's side with the WAL's fault hook");
        return;
    };
    run.run_for(WARMUP);
    let victim = run.leader_of_reg0(0).expect("reg:0 has a leader");
    run.inject(victim, |c| c.fill_disk(victim));
    run.run_for(FAULT);
    // The full node handed its leaderships away: reg:0 is served by another node now.
    let other = (victim + 1) % 3;
    let leader = run.leader_of_reg0(other);
    assert!(
        leader.is_some_and(|l| l != victim),
        "node {} still leads reg:0 with a full disk",
        victim + 1
    );
    let info = cluster_tests::harness::command(
        run.cluster.nodes[victim].client_port,
        &["INFO", "persistence"],
    )
    .unwrap_or_default();
    assert!(info.contains("aof_last_write_status:err"), "{info}");
    run.cluster.free_disk(victim);
    run.fault_ends();
    run.run_for(RECOVERY);
    let figures = run.finish("leader's disk full");
    assert!(
        figures.failover.is_some(),
        "no write on the full node's shards was acknowledged: {figures:?}"
    );
    report(figures);
}

/// Writes 4 KB values with a TTL on random `fill:` keys to every node in pipelined batches until
/// `stop`, ignoring the answers (a node that does not lead a key's slot answers `-MOVED`, a
/// killed one refuses the connection): the eviction pressure of
/// [`leader_kill_while_evicting`].
fn fill(ports: Vec<u16>, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) -> u64 {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpStream;
    use std::sync::atomic::Ordering;
    let value = "v".repeat(4096);
    let mut conns: Vec<Option<(TcpStream, BufReader<TcpStream>)>> =
        ports.iter().map(|_| None).collect();
    let (mut n, mut acknowledged) = (0u64, 0u64);
    while !stop.load(Ordering::Relaxed) {
        for (i, port) in ports.iter().enumerate() {
            if conns[i].is_none() {
                conns[i] = TcpStream::connect(("127.0.0.1", *port)).ok().and_then(|s| {
                    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
                    let reader = BufReader::new(s.try_clone().ok()?);
                    Some((s, reader))
                });
            }
            let Some((stream, reader)) = conns[i].as_mut() else {
                continue;
            };
            let mut batch = String::new();
            for _ in 0..16 {
                n += 1;
                let key = format!("fill:{n}");
                batch.push_str(&format!(
                    "*5\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n$2\r\nEX\r\n$3\r\n600\r\n",
                    key.len(),
                    value.len()
                ));
            }
            let mut ok = stream.write_all(batch.as_bytes()).is_ok();
            let mut line = String::new();
            for _ in 0..16 {
                line.clear();
                if !ok || reader.read_line(&mut line).map_or(true, |read| read == 0) {
                    ok = false;
                    break;
                }
                if line.starts_with("+OK") {
                    acknowledged += 1;
                }
            }
            if !ok {
                conns[i] = None;
            }
        }
    }
    acknowledged
}

/// The shard leader of `reg:0` is killed while every node evicts (`maxmemory` 2 MB under
/// `volatile-lru`, filled with 4 KB values that have a TTL, beside the checked workload, whose
/// keys have none): evictions travel in the same log entries as the writes, and the history of
/// the keys that must never be evicted is still linearizable through the failover.
#[test]
fn leader_kill_while_evicting() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut run = Run::start(3, seed());
    for port in run.cluster.client_ports() {
        for (name, value) in [("maxmemory-policy", "volatile-lru"), ("maxmemory", "2mb")] {
            cluster_tests::harness::command(port, &["CONFIG", "SET", name, value])
                .expect("config set");
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let filler = {
        let (ports, stop) = (run.cluster.client_ports(), stop.clone());
        std::thread::spawn(move || fill(ports, stop))
    };
    kill_and_restart_the_leader_of_reg0(&mut run);
    stop.store(true, Ordering::Relaxed);
    let filled = filler.join().expect("filler");
    let evicted: u64 = run
        .cluster
        .client_ports()
        .iter()
        .filter_map(|&port| cluster_tests::harness::command(port, &["INFO", "stats"]).ok())
        .filter_map(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("evicted_keys:"))
                .and_then(|n| n.trim().parse::<u64>().ok())
        })
        .sum();
    let figures = run.finish("leader kill while evicting");
    eprintln!("filler: {filled} values of 4 KB acknowledged, {evicted} keys evicted");
    assert!(
        evicted > 0,
        "nothing was evicted: the scenario did not test eviction"
    );
    assert!(
        figures.failover.is_some(),
        "no write on the failed leader's shards was acknowledged: {figures:?}"
    );
    report(figures);
}

/// A random schedule of the faults above for `$DURATION` seconds (default 8), from `$SEED`.
fn random_schedule(name: &str, default_secs: u64) -> Figures {
    let duration = std::env::var("DURATION")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(default_secs);
    let seed = seed();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut run = Run::start(3, seed);
    run.run_for(WARMUP);
    let end = Instant::now() + Duration::from_secs(duration);
    run.fault_starts(None);
    while Instant::now() < end {
        let victim = rng.random_range(0..3);
        let hold = Duration::from_millis(rng.random_range(300..2000));
        match rng.random_range(0..5) {
            0 => {
                run.cluster.kill(victim);
                run.run_for(hold);
                run.cluster.launch(victim);
            }
            1 => {
                run.cluster.pause(victim);
                run.run_for(hold);
                run.cluster.resume(victim);
            }
            2 => {
                run.cluster.partition(&[victim]);
                run.run_for(hold);
                run.cluster.heal();
            }
            3 => {
                let other = (victim + 1 + rng.random_range(0..2)) % 3;
                run.cluster.cut(victim, other);
                run.run_for(hold);
                run.cluster.heal();
            }
            _ => {
                run.cluster
                    .delay(victim, Duration::from_millis(rng.random_range(5..60)));
                run.run_for(hold);
                run.cluster.heal();
            }
        }
        run.run_for(Duration::from_millis(rng.random_range(200..1000)));
    }
    run.fault_ends();
    run.run_for(RECOVERY);
    run.finish(name)
}

#[test]
fn random_fault_schedule() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    report(random_schedule("random schedule", 8));
}

/// `make chaos`: a long random schedule (`DURATION` seconds, `SEED`), figures printed.
#[test]
#[ignore = "long; run by `make chaos`"]
fn chaos() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    report(random_schedule("chaos", 120));
}

/// Re-checks a kept history: `HISTORY=/path/history.json cargo test -p cluster-tests --test
/// scenarios recheck -- --ignored --nocapture`.
#[test]
#[ignore = "tool: re-checks the history file named by $HISTORY"]
fn recheck_history() {
    let Some(path) = std::env::var_os("HISTORY") else {
        return;
    };
    let bytes = std::fs::read(&path).expect("history file");
    let history: cluster_tests::workload::History =
        serde_json::from_slice(&bytes).expect("history JSON");
    let report =
        cluster_tests::checker::check(&history.events, cluster_tests::checker::DEFAULT_MAX_STEPS);
    for (key, verdict) in &report.keys {
        eprintln!("{key}: {verdict:?}");
    }
    let finals = cluster_tests::transactions::finals(&history.tx);
    for anomaly in cluster_tests::transactions::transaction_anomalies(&history.tx, &finals) {
        eprintln!("{anomaly}");
    }
    let lua_finals = cluster_tests::scripts::finals(&history.lua);
    for anomaly in cluster_tests::scripts::script_anomalies(&history.lua, &lua_finals) {
        eprintln!("{anomaly}");
    }
}
