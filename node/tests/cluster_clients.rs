//! Real cluster-aware clients against a real 3-node cluster while the leader of some shards is
//! killed and restarted: the `redis` crate's async cluster client, redis-py's `RedisCluster`
//! (in a virtualenv the test makes), `redis-cli -c`, `redis-cli --cluster check` and
//! `redis-benchmark --cluster`. The workloads go on with errors only inside a bounded window
//! around the fault, and every acknowledged write is read back afterwards.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

mod support;

use support::cluster::{key_in_shard, Cluster};

/// How long after a fault clients may see errors (election plus the clients' own backoff).
const RETRY_WINDOW: Duration = Duration::from_secs(6);

/// Kills the node leading shard 0, waits, and restarts it; returns when it was killed.
fn kill_and_restart_a_leader(cluster: &mut Cluster, down_for: Duration) -> Instant {
    let victim = cluster.leader_of(0).expect("shard 0 has a leader");
    cluster.kill(victim);
    let killed = Instant::now();
    thread::sleep(down_for);
    cluster.launch(victim);
    killed
}

/// Errors seen by a workload, with when they happened.
#[derive(Default)]
struct Errors(Mutex<Vec<(Instant, String)>>);

impl Errors {
    fn push(&self, e: String) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((Instant::now(), e));
    }

    /// Panics on any error outside `[fault, fault + RETRY_WINDOW]`.
    fn assert_within_window(&self, fault: Instant) {
        let errors = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for (at, e) in errors.iter() {
            let late = at.saturating_duration_since(fault);
            assert!(
                *at >= fault && late <= RETRY_WINDOW,
                "error {:?} after the fault (window {RETRY_WINDOW:?}): {e}",
                late
            );
        }
    }
}

#[test]
fn redis_crate_cluster_client_follows_a_failover() {
    let mut cluster = Cluster::start("");
    let urls: Vec<String> = (0..3)
        .map(|i| format!("redis://127.0.0.1:{}/", cluster.port(i)))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(Errors::default());
    let workload = {
        let (stop, errors) = (stop.clone(), errors.clone());
        thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let client = redis::cluster::ClusterClientBuilder::new(urls)
                    .retries(10)
                    .min_retry_wait(50)
                    .max_retry_wait(500)
                    .connection_timeout(Duration::from_millis(500))
                    .response_timeout(Duration::from_secs(3))
                    .build()
                    .expect("client");
                let mut con = client.get_async_connection().await.expect("connect");
                let mut acked = Vec::new();
                let mut last_ack = None;
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("crate:{i}");
                    let r: redis::RedisResult<()> = redis::cmd("SET")
                        .arg(&key)
                        .arg(i)
                        .query_async(&mut con)
                        .await;
                    match r {
                        Ok(()) => {
                            acked.push(i);
                            last_ack = Some(Instant::now());
                        }
                        Err(e) => errors.push(e.to_string()),
                    }
                    i += 1;
                }
                // Every acknowledged write is there.
                for &n in &acked {
                    let v: Option<u64> = redis::cmd("GET")
                        .arg(format!("crate:{n}"))
                        .query_async(&mut con)
                        .await
                        .expect("read back");
                    assert_eq!(v, Some(n), "acknowledged write crate:{n} lost");
                }
                (acked.len(), i, last_ack)
            })
        })
    };
    thread::sleep(Duration::from_secs(1));
    let fault = kill_and_restart_a_leader(&mut cluster, Duration::from_secs(2));
    thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    let (acked, sent, last_ack) = workload.join().expect("workload");
    errors.assert_within_window(fault);
    // The workload went on through the fault (how fast is for `make bench` to say).
    assert!(
        last_ack.is_some_and(|t| t > fault),
        "no write acknowledged after the fault ({acked} of {sent} before)"
    );
}

/// The virtualenv with redis-py, made on first use under cargo's target dir.
fn python_with_redis_py() -> std::path::PathBuf {
    let venv = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("pyenv");
    let python = venv.join("bin/python");
    let ready = Command::new(&python)
        .args(["-c", "import redis.cluster"])
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 -m venv");
        assert!(
            made.success(),
            "python3 -m venv failed (python3-venv missing?)"
        );
        let pip = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "redis==8.1.0"])
            .status()
            .expect("pip");
        assert!(pip.success(), "pip install redis failed");
    }
    python
}

#[test]
fn redis_py_cluster_client_follows_a_failover_and_reads_from_replicas() {
    let python = python_with_redis_py();
    let mut cluster = Cluster::start("");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/redis_py_workload.py"
    );
    let child = Command::new(&python)
        .arg(script)
        .arg("7")
        .args((0..3).map(|i| cluster.port(i).to_string()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python workload");
    thread::sleep(Duration::from_secs(2));
    // The script stamps its errors with Unix time: so is the fault.
    let fault_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    kill_and_restart_a_leader(&mut cluster, Duration::from_secs(2));
    let out = child.wait_with_output().expect("workload output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "workload failed:\n{stdout}\n{stderr}");
    // The script prints `acked=N errors=E` and one `error <Unix time> <text>` line per error.
    let mut acked = 0;
    for line in stdout.lines() {
        if let Some(n) = line.strip_prefix("acked=") {
            acked = n
                .split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        }
        if let Some(rest) = line.strip_prefix("error ") {
            let at: f64 = rest
                .split(' ')
                .next()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0.0);
            assert!(
                at + 0.5 >= fault_at && at <= fault_at + RETRY_WINDOW.as_secs_f64(),
                "error outside the retry window (fault at {fault_at:.3}): {line}\n{stdout}"
            );
        }
    }
    assert!(acked > 10, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("replica_reads_ok"),
        "reads from replicas: {stdout}"
    );
}

/// Runs `redis-cli` with `args`; (success, stdout).
fn redis_cli(args: &[&str]) -> (bool, String) {
    let out = Command::new("redis-cli")
        .args(args)
        .output()
        .expect("redis-cli");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn redis_cli_follows_redirects_and_checks_the_cluster() {
    let mut cluster = Cluster::start("");
    let port = cluster.port(0).to_string();
    // -c follows MOVED to each shard's leader.
    for shard in 0..usize::from(support::cluster::SHARDS) {
        let key = key_in_shard(shard, "cli");
        let (ok, out) = redis_cli(&["-c", "-p", &port, "SET", &key, "v"]);
        assert!(ok && out.trim() == "OK", "SET {key}: {out}");
        let (_, out) = redis_cli(&["-c", "-p", &port, "GET", &key]);
        assert_eq!(out.trim(), "v");
    }
    let check = |port: &str| {
        let (ok, out) = redis_cli(&["--cluster", "check", &format!("127.0.0.1:{port}")]);
        ok && out.contains("[OK] All nodes agree about slots configuration.")
            && out.contains("[OK] All 16384 slots covered.")
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check(&port) {
        assert!(
            Instant::now() < deadline,
            "redis-cli --cluster check never passed"
        );
        thread::sleep(Duration::from_millis(200));
    }

    // Through a failover: redis-cli -c writes go on, failing only inside the window.
    let victim = cluster.leader_of(0).expect("leader");
    let survivor = (0..3).find(|&i| i != victim).expect("survivor");
    let port = cluster.port(survivor).to_string();
    cluster.kill(victim);
    let fault = Instant::now();
    let key = key_in_shard(0, "cli-failover");
    let mut written = 0;
    while fault.elapsed() < Duration::from_secs(3) || written == 0 {
        let (ok, out) = redis_cli(&["-c", "-p", &port, "INCR", &key]);
        if ok && out.trim().parse::<u64>().is_ok() {
            written += 1;
        } else {
            assert!(fault.elapsed() < RETRY_WINDOW, "redis-cli -c: {out}");
            thread::sleep(Duration::from_millis(50));
        }
    }
    let (_, out) = redis_cli(&["-c", "-p", &port, "GET", &key]);
    assert_eq!(out.trim(), written.to_string());
    cluster.launch(victim);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check(&port) {
        assert!(
            Instant::now() < deadline,
            "redis-cli --cluster check never passed after the restart"
        );
        thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn redis_benchmark_cluster_mode_runs_before_and_after_a_failover() {
    let mut cluster = Cluster::start("");
    let run = |port: u16| {
        let out = Command::new("redis-benchmark")
            .args(["--cluster", "-p", &port.to_string()])
            .args(["-t", "set,get", "-n", "3000", "-c", "10", "-q"])
            .output()
            .expect("redis-benchmark");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success() && text.contains("SET:") && text.contains("GET:"),
            "redis-benchmark --cluster: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // redis-benchmark wants more than one master: wait for leaders to spread.
    cluster.wait_balanced(Duration::from_secs(20));
    run(cluster.port(0));
    let fault = kill_and_restart_a_leader(&mut cluster, Duration::from_secs(1));
    // Once the restarted node is back and leaders have settled, the benchmark finds them.
    cluster.wait_ready(Duration::from_secs(20));
    cluster.wait_balanced(Duration::from_secs(20));
    assert!(fault.elapsed() < Duration::from_secs(60));
    run(cluster.port(1));
}
