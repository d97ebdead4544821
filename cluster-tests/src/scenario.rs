//! One fault scenario: a cluster, the workload running against it, faults injected by the test,
//! and at the end the history checked and the figures computed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::checker::{self, Event, Op, Outcome, Ret};
use crate::harness::TestCluster;
use crate::scripts::{self, ScriptSummary, LUA_PAIRS};
use crate::transactions::{self, TxEvent, TxKind, TxOutcome, TxSummary, TX_PAIRS};
use crate::workload::{self, Recorder, COUNTERS, HASH_FIELD, HASH_REGISTERS, REGISTERS};

/// Shards of the scenario clusters.
pub const SHARDS: u16 = 8;
/// Concurrent clients of the workload.
pub const CLIENTS: usize = 4;

/// What a scenario reports.
#[derive(Debug)]
pub struct Figures {
    /// Scenario name.
    pub name: String,
    /// Seed of the workload (and of a random fault schedule).
    pub seed: u64,
    /// From the fault to the first acknowledged write on a key whose shard the faulted node led.
    pub failover: Option<Duration>,
    /// Operations acknowledged while the fault lasted.
    pub acked_during_fault: usize,
    /// Operations recorded in all (a transaction counts as one).
    pub ops: usize,
    /// What the transactions came to.
    pub transactions: TxSummary,
    /// From the fault to the first acknowledged transaction increment on a pair whose shard
    /// the faulted node led.
    pub tx_failover: Option<Duration>,
    /// What the Lua scripts came to.
    pub scripts: ScriptSummary,
    /// From the fault to the first acknowledged script increment on a `lua:` pair whose shard
    /// the faulted node led.
    pub script_failover: Option<Duration>,
    /// From the fault to the first acknowledged function increment (`FCALL incr_both`) on a
    /// `lua:` pair whose shard the faulted node led.
    pub function_failover: Option<Duration>,
    /// Everything the checks found wrong (must be empty).
    pub anomalies: Vec<String>,
}

impl Figures {
    /// A table row: name, failover, acknowledged during the fault, operations, anomalies.
    pub fn row(&self) -> String {
        format!(
            "| {:<22} | {:>10} | {:>8} | {:>7} | {:>9} | {:>20} |",
            self.name,
            self.failover
                .map_or("-".to_string(), |d| format!("{} ms", d.as_millis())),
            self.acked_during_fault,
            self.ops,
            self.anomalies.len(),
            self.seed
        )
    }

    /// The header of [`Figures::row`].
    pub fn header() -> String {
        "| scenario               |   failover | acked in fault |     ops | anomalies |                 seed |\n|------------------------|------------|----------|---------|-----------|----------------------|".to_string()
    }
}

/// The seed: `$SEED` if set, else a fresh one.
pub fn seed() -> u64 {
    std::env::var("SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random)
}

/// A cluster with the workload running.
pub struct Run {
    /// The cluster (faults go here).
    pub cluster: TestCluster,
    recorder: Arc<Recorder>,
    stop: Arc<AtomicBool>,
    workload: Option<thread::JoinHandle<()>>,
    seed: u64,
    fault: Option<(Instant, Instant)>,
    affected: Vec<String>,
    /// The `tx:` pairs whose shard the faulted node led.
    affected_pairs: Vec<usize>,
    /// The `lua:` pairs whose shard the faulted node led.
    affected_lua_pairs: Vec<usize>,
}

impl Run {
    /// Starts `nodes` nodes and the workload.
    pub fn start(nodes: usize, seed: u64) -> Run {
        Run::on(TestCluster::start(nodes, SHARDS), seed)
    }

    /// Like [`Run::start`], each node's data on a small disk of its own that the test can fill
    /// (see [`TestCluster::start_on_small_disks`]); `None` where mounting one is not allowed.
    pub fn start_on_small_disks(nodes: usize, seed: u64) -> Option<Run> {
        TestCluster::start_on_small_disks(nodes, SHARDS).map(|c| Run::on(c, seed))
    }

    /// Loads the workload's function library (see [`scripts::load_library`]), then starts the
    /// workload on `cluster`.
    fn on(cluster: TestCluster, seed: u64) -> Run {
        if let Err(e) = scripts::load_library(&cluster.client_ports(), Duration::from_secs(20)) {
            panic!("the workload's function library could not be loaded: {e}");
        }
        let recorder = Recorder::new();
        let stop = Arc::new(AtomicBool::new(false));
        let workload = {
            let (ports, stop, recorder) = (cluster.client_ports(), stop.clone(), recorder.clone());
            thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .expect("workload runtime");
                rt.block_on(workload::run(ports, CLIENTS, seed, stop, recorder));
            })
        };
        Run {
            cluster,
            recorder,
            stop,
            workload: Some(workload),
            seed,
            fault: None,
            affected: Vec::new(),
            affected_pairs: Vec::new(),
            affected_lua_pairs: Vec::new(),
        }
    }

    /// The node leading the shard of `reg:0` (as node `via` sees it).
    pub fn leader_of_reg0(&self, via: usize) -> Option<usize> {
        self.leader_of(via, "reg:0")
    }

    /// The node leading the shard of `key` (as node `via` sees it).
    pub fn leader_of(&self, via: usize, key: &str) -> Option<usize> {
        self.cluster.leader_of_slot(via, key_slot(key))
    }

    /// Marks the start of a fault on node `victim` (its shards' keys are the affected ones), or
    /// on no particular node (`None`).
    pub fn fault_starts(&mut self, victim: Option<usize>) {
        if let Some(v) = victim {
            let via = (0..self.cluster.nodes.len())
                .find(|&i| i != v && self.cluster.is_up(i))
                .unwrap_or(0);
            self.affected = all_keys()
                .into_iter()
                .filter(|k| self.cluster.leader_of_slot(via, key_slot(k)) == Some(v))
                .collect();
            self.affected_pairs = (0..TX_PAIRS)
                .filter(|&p| self.leader_of(via, &transactions::tx_key(p, 'a')) == Some(v))
                .collect();
            self.affected_lua_pairs = (0..LUA_PAIRS)
                .filter(|&p| self.leader_of(via, &scripts::lua_key(p, 'a')) == Some(v))
                .collect();
        }
        self.fault = Some((Instant::now(), Instant::now()));
    }

    /// Marks the start of a fault on node `victim` and injects it with `inject`. The fault's
    /// clock starts once `inject` has returned, so a write sent while the fault was still being
    /// set up (and answered before it took hold) does not count as served after the failover.
    pub fn inject(&mut self, victim: usize, inject: impl FnOnce(&mut TestCluster)) {
        self.fault_starts(Some(victim));
        inject(&mut self.cluster);
        if let Some((_, end)) = self.fault {
            self.fault = Some((Instant::now(), end));
        }
    }

    /// Marks the end of the fault.
    pub fn fault_ends(&mut self) {
        if let Some((start, _)) = self.fault {
            self.fault = Some((start, Instant::now()));
        }
    }

    /// Lets the workload run for `d`.
    pub fn run_for(&self, d: Duration) {
        thread::sleep(d);
    }

    /// Stops the workload, restores every node and link, reads every key back into the history
    /// (after the cluster is healthy again), and checks the history.
    pub fn finish(mut self, name: &str) -> Figures {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(w) = self.workload.take() {
            let _ = w.join();
        }
        self.cluster.heal();
        for i in 0..self.cluster.nodes.len() {
            if !self.cluster.is_up(i) {
                self.cluster.kill(i);
                self.cluster.launch(i);
            }
        }
        self.cluster.wait_healthy(Duration::from_secs(30));
        let (final_reads, final_queues) = self.final_reads();
        let final_pairs = self.final_pair_reads(TxKind::Read, TX_PAIRS);
        let final_lua_pairs = self.final_pair_reads(TxKind::ScriptRead, LUA_PAIRS);
        let mut history = self.recorder.take();
        history.events.extend(final_reads.iter().cloned());
        history.tx.extend(final_pairs);
        history.lua.extend(final_lua_pairs);
        let finals = transactions::finals(&history.tx);
        let transactions = transactions::summary(&history.tx, &finals);
        let lua_finals = scripts::finals(&history.lua);
        let script_summary = scripts::summary(&history.lua, &lua_finals);

        let mut anomalies = Vec::new();
        let report = checker::check(&history.events, checker::DEFAULT_MAX_STEPS);
        for v in report.violations() {
            anomalies.push(format!("not linearizable: {v:?}"));
        }
        for key in report.undecided() {
            anomalies.push(format!("{key}: the checker ran out of budget"));
        }
        for c in 0..COUNTERS {
            let key = format!("ctr:{c}");
            let last = final_reads
                .iter()
                .find(|e| e.key == key)
                .and_then(|e| match e.outcome {
                    Outcome::Ok(Ret::Value(v)) => Some(v),
                    _ => None,
                });
            match last {
                Some(v) => {
                    if let Err(e) = checker::check_counter(&history.events, &key, v) {
                        anomalies.push(e);
                    }
                }
                None => anomalies.push(format!("{key}: could not be read back")),
            }
        }
        anomalies.extend(workload::expired_reads(
            &history.ttl,
            Duration::from_millis(100),
        ));
        anomalies.extend(workload::queue_anomalies(&history.queue, &final_queues));
        anomalies.extend(transactions::transaction_anomalies(&history.tx, &finals));
        anomalies.extend(scripts::script_anomalies(&history.lua, &lua_finals));

        let fault = self
            .fault
            .map(|(a, b)| (self.recorder.at(a), self.recorder.at(b)));
        let failover = fault.and_then(|(start, _)| {
            history
                .events
                .iter()
                .filter(|e| self.affected.contains(&e.key) && e.op != Op::Get)
                .filter(|e| e.invoke >= start && matches!(e.outcome, Outcome::Ok(_)))
                .map(|e| e.complete.saturating_sub(start))
                .min()
                .map(Duration::from_nanos)
        });
        // The first increment of `events` acknowledged after the fault on one of `pairs` (only
        // those run as functions, with `only_fcall`).
        let pair_failover = |events: &[TxEvent], pairs: &[usize], only_fcall: bool| {
            fault.and_then(|(start, _)| {
                events
                    .iter()
                    .filter(|e| pairs.contains(&e.pair) && (e.fcall || !only_fcall))
                    .filter(|e| !matches!(e.kind, TxKind::Read | TxKind::ScriptRead))
                    .filter(|e| e.invoke >= start && matches!(e.outcome, TxOutcome::Ok { .. }))
                    .map(|e| e.complete.saturating_sub(start))
                    .min()
                    .map(Duration::from_nanos)
            })
        };
        let tx_failover = pair_failover(&history.tx, &self.affected_pairs, false);
        let script_failover = pair_failover(&history.lua, &self.affected_lua_pairs, false);
        let function_failover = pair_failover(&history.lua, &self.affected_lua_pairs, true);
        let acked_during_fault = fault.map_or(0, |(a, b)| {
            history
                .events
                .iter()
                .filter(|e| {
                    matches!(e.outcome, Outcome::Ok(_)) && e.complete >= a && e.complete <= b
                })
                .count()
        });
        if !anomalies.is_empty() {
            self.cluster.keep = true;
            let path = self.cluster.dir().join("history.json");
            if let Ok(json) = serde_json::to_vec_pretty(&history) {
                let _ = std::fs::write(&path, json);
            }
            let journal = self.cluster.journal(self.recorder.start());
            let _ = std::fs::write(self.cluster.dir().join("faults.txt"), &journal);
            eprintln!("faults injected (seconds on the history's clock, wall clock):\n{journal}");
            eprintln!(
                "scenario {name} failed with seed {} (replay: SEED={}); history in {}, faults in faults.txt beside it",
                self.seed,
                self.seed,
                path.display()
            );
        }
        Figures {
            name: name.to_string(),
            seed: self.seed,
            failover,
            acked_during_fault,
            ops: history.events.len()
                + history.ttl.len()
                + history.queue.len()
                + history.tx.len()
                + history.lua.len(),
            transactions,
            tx_failover,
            scripts: script_summary,
            script_failover,
            function_failover,
            anomalies,
        }
    }

    /// A GET of every register and counter, and what each `queue:` key holds, through a fresh
    /// client, each read retried until answered.
    fn final_reads(&self) -> (Vec<Event>, HashMap<String, Option<Vec<i64>>>) {
        let ports = self.cluster.client_ports();
        let recorder = self.recorder.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let urls: Vec<String> = ports
                .iter()
                .map(|p| format!("redis://127.0.0.1:{p}/"))
                .collect();
            let client = redis::cluster::ClusterClientBuilder::new(urls)
                .retries(10)
                .build()
                .expect("client");
            let mut out = Vec::new();
            let mut queues = HashMap::new();
            let Ok(mut con) = client.get_async_connection().await else {
                return (out, queues);
            };
            for key in all_keys() {
                for _ in 0..50 {
                    let invoke = recorder.now();
                    let read = match key.starts_with("hreg:") {
                        true => redis::cmd("HGET").arg(&key).arg(HASH_FIELD).clone(),
                        false => redis::cmd("GET").arg(&key).clone(),
                    };
                    let r = read.query_async::<Option<i64>>(&mut con).await;
                    if let Ok(v) = r {
                        out.push(Event {
                            client: u64::MAX,
                            key: key.clone(),
                            op: Op::Get,
                            invoke,
                            complete: recorder.now(),
                            outcome: Outcome::Ok(Ret::Value(v)),
                        });
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            for q in 0..workload::QUEUES {
                let key = format!("queue:{q}");
                let mut held = None;
                for _ in 0..50 {
                    let read = redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).clone();
                    if let Ok(items) = read.query_async::<Vec<i64>>(&mut con).await {
                        held = Some(items);
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                queues.insert(key, held);
            }
            (out, queues)
        })
    }

    /// Each of `pairs` pairs read back with `read` (a tx-read for the `tx:` pairs, a lua-read
    /// for the `lua:` ones, so the read checks that the pair is equal, too) through a fresh
    /// client, retried until answered; a pair never answered is left out.
    fn final_pair_reads(&self, read: TxKind, pairs: usize) -> Vec<TxEvent> {
        let ports = self.cluster.client_ports();
        let recorder = self.recorder.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let mut client = crate::client::Client::new(ports, Duration::from_millis(2500));
            let mut out = Vec::new();
            for pair in 0..pairs {
                for _ in 0..50 {
                    let invoke = recorder.now();
                    let (_, outcome) = transactions::run(&mut client, pair, read).await;
                    if matches!(outcome, TxOutcome::Ok { .. }) {
                        out.push(TxEvent {
                            client: transactions::FINAL_READER,
                            pair,
                            kind: read,
                            watched: None,
                            invoke,
                            complete: recorder.now(),
                            outcome,
                            fcall: false,
                        });
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            out
        })
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(w) = self.workload.take() {
            let _ = w.join();
        }
    }
}

/// Every register and counter key.
pub fn all_keys() -> Vec<String> {
    (0..REGISTERS)
        .map(|i| format!("reg:{i}"))
        .chain((0..HASH_REGISTERS).map(|i| format!("hreg:{i}")))
        .chain((0..COUNTERS).map(|i| format!("ctr:{i}")))
        .collect()
}

/// The Redis Cluster hash slot of `key` (CRC16/XMODEM of the hash tag or key, mod 16384).
pub fn key_slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let tagged = bytes
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &bytes[open + 1..];
            rest.iter()
                .position(|&b| b == b'}')
                .filter(|&close| close > 0)
                .map(|close| &rest[..close])
        })
        .unwrap_or(bytes);
    crc::Crc::<u16>::new(&crc::CRC_16_XMODEM).checksum(tagged) % 16384
}

#[cfg(test)]
mod tests {
    #[test]
    fn slots_match_redis() {
        assert_eq!(super::key_slot("foo"), 12182);
        assert_eq!(
            super::key_slot("{user1000}.following"),
            super::key_slot("{user1000}.followers")
        );
    }
}
