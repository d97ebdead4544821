//! Graceful shutdown under write load: SIGTERM a node while clients write, check that it exits
//! with status 0 and leaves a WAL without a torn tail, restart it on the same data directory and
//! find every write it acknowledged.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use shardis::raft::wal;

mod support;
use support::cluster::Cluster;
use support::{parse_reply, pretty, RawClient, Reply};

/// Clients writing at once.
const WRITERS: usize = 6;
/// Commands a client pipelines (SET and INCR in turn).
const PIPELINE: usize = 8;
/// Acknowledged writes to wait for before the signal (so it comes under load).
const WRITES_BEFORE_SIGNAL: u64 = 3000;
/// How long a node may take to exit after SIGTERM.
const EXIT_LIMIT: Duration = Duration::from_secs(20);

/// A `shardis` process with its log in a file, killed on drop (the data directory is the
/// caller's, to restart on).
struct Node {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Node {
    fn start(data: &Path, log: &Path, policy: &str) -> Node {
        for _ in 0..3 {
            let port = support::free_port();
            let log_file = File::options()
                .create(true)
                .append(true)
                .open(log)
                .expect("log file");
            let child = Command::new(env!("CARGO_BIN_EXE_shardis"))
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--shards", "4", "--log-level", "info"])
                .args(["--appendfsync", policy])
                .arg("--data-dir")
                .arg(data)
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .expect("spawn shardis");
            let mut node = Node {
                child,
                port,
                log: log.to_path_buf(),
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = node.child.try_wait() {
                    break;
                }
                if let Ok(mut c) = RawClient::try_connect(port) {
                    if matches!(c.try_cmd(&[b"PING"]), Ok(r) if r == b"+PONG\r\n") {
                        return node;
                    }
                }
                thread::sleep(Duration::from_millis(20));
            }
            let _ = node.child.kill();
        }
        panic!("shardis did not start: {}", read_log(log));
    }

    fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        support::wait_exit(&mut self.child, limit)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!("----- node log -----\n{}", read_log(&self.log));
        }
    }
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn sigterm(pid: u32) {
    let sent = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
}

/// What one writer's node acknowledged.
#[derive(Debug, Default)]
struct Acked {
    /// Indexes `i` of the keys `w{writer}:{i}` set to `v{writer}:{i}`.
    sets: Vec<u64>,
    /// INCRs of `ctr{writer}` acknowledged, and the last value one returned.
    incrs: u64,
    last_incr: i64,
    /// Error replies (not acknowledged writes).
    errors: u64,
}

/// Writes pipelines of SETs and INCRs on one connection until the connection ends, recording
/// each acknowledged reply; counts every acknowledged write in `progress`.
fn write_until_closed(port: u16, writer: usize, progress: &AtomicU64) -> Acked {
    let mut acked = Acked::default();
    let Ok(mut client) = RawClient::try_connect(port) else {
        return acked;
    };
    let mut next = 0u64;
    loop {
        let mut sent = Vec::with_capacity(PIPELINE);
        let mut pipeline = Vec::new();
        for j in 0..PIPELINE {
            if j % 2 == 0 {
                let (key, value) = (format!("w{writer}:{next}"), format!("v{writer}:{next}"));
                pipeline.extend(support::encode_command(&[
                    b"SET",
                    key.as_bytes(),
                    value.as_bytes(),
                ]));
                sent.push(Some(next));
                next += 1;
            } else {
                let counter = format!("ctr{writer}");
                pipeline.extend(support::encode_command(&[b"INCR", counter.as_bytes()]));
                sent.push(None);
            }
        }
        if client.try_send_raw(&pipeline).is_err() {
            return acked;
        }
        for set in sent {
            let Ok(raw) = client.try_read_reply() else {
                return acked;
            };
            match (set, parse_reply(&raw)) {
                (Some(i), Reply::Simple(ok)) if ok == b"OK" => acked.sets.push(i),
                (None, Reply::Integer(n)) => {
                    acked.incrs += 1;
                    acked.last_incr = n;
                }
                (_, Reply::Error(_)) => {
                    acked.errors += 1;
                    continue;
                }
                (_, other) => panic!("unexpected reply {other:?} ({})", pretty(&raw)),
            }
            progress.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Checks that the node on `port` holds every write of `acked` (writer `w` = index).
fn check_acknowledged(port: u16, acked: &[Acked]) {
    let mut client = RawClient::connect(port);
    for (w, a) in acked.iter().enumerate() {
        for chunk in a.sets.chunks(200) {
            let keys: Vec<String> = chunk.iter().map(|i| format!("w{w}:{i}")).collect();
            let mut args: Vec<&[u8]> = vec![b"MGET"];
            args.extend(keys.iter().map(|k| k.as_bytes()));
            let reply = parse_reply(&client.cmd(&args));
            let values = reply.items().expect("MGET answers an array");
            for (i, value) in chunk.iter().zip(values) {
                let expected = format!("v{w}:{i}");
                assert_eq!(
                    value.bytes(),
                    Some(expected.as_bytes()),
                    "acknowledged SET w{w}:{i} lost"
                );
            }
        }
        let counter = format!("ctr{w}");
        let reply = parse_reply(&client.cmd(&[b"GET", counter.as_bytes()]));
        let value = reply.as_int().unwrap_or(0);
        assert!(
            value >= a.last_incr && value >= a.incrs as i64,
            "{counter} is {value} after {} acknowledged INCRs (the last answered {})",
            a.incrs,
            a.last_incr
        );
    }
}

/// SIGTERM under write load: the node stops accepting, finishes or refuses what it was running,
/// shuts its groups down and closes its WAL, and exits with 0; restarted on the same data
/// directory it has every acknowledged write, and its WAL had no torn tail to cut.
#[test]
fn sigterm_under_write_load_exits_cleanly_and_keeps_every_acknowledged_write() {
    for policy in ["everysec", "always"] {
        let dir = support::temp_dir("shutdown");
        let data = dir.join("data");
        let mut node = Node::start(&data, &dir.join("node.log"), policy);
        let progress = AtomicU64::new(0);
        let (acked, status) = thread::scope(|s| {
            let writers: Vec<_> = (0..WRITERS)
                .map(|w| {
                    let progress = &progress;
                    let port = node.port;
                    s.spawn(move || write_until_closed(port, w, progress))
                })
                .collect();
            let deadline = Instant::now() + Duration::from_secs(30);
            while progress.load(Ordering::Relaxed) < WRITES_BEFORE_SIGNAL {
                assert!(Instant::now() < deadline, "the writers made no progress");
                thread::sleep(Duration::from_millis(5));
            }
            sigterm(node.child.id());
            let status = node.wait_exit(EXIT_LIMIT);
            let acked: Vec<Acked> = writers
                .into_iter()
                .map(|w| w.join().expect("writer"))
                .collect();
            (acked, status)
        });
        let log = read_log(&node.log);
        let status = status
            .unwrap_or_else(|| panic!("{policy}: still running {EXIT_LIMIT:?} after SIGTERM"));
        assert!(status.success(), "{policy}: exit status {status:?}\n{log}");
        assert!(
            log.contains("WAL closed: everything written and fsynced"),
            "{policy}: the WAL was not closed\n{log}"
        );
        // Every layer's tasks ended: none was left behind when the process exited.
        assert!(!log.contains("still running after"), "{policy}:\n{log}");
        let total: u64 = acked.iter().map(|a| a.sets.len() as u64 + a.incrs).sum();
        assert!(total >= WRITES_BEFORE_SIGNAL, "{policy}: {acked:?}");

        let inspection = wal::inspect(&data.join("wal")).expect("a readable WAL");
        assert_eq!(inspection.torn, None, "{policy}: {inspection:?}");
        assert!(inspection.records > 0, "{policy}: {inspection:?}");

        drop(node);
        let node = Node::start(&data, &dir.join("restarted.log"), policy);
        check_acknowledged(node.port, &acked);
        drop(node);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The same in a 3-node cluster: the node leading shard 0 is sent SIGTERM while clients write
/// through the cluster; it exits with 0 and a WAL without a torn tail, the other nodes take its
/// shards over, and once it is back every acknowledged write is there.
#[test]
fn sigterm_a_cluster_leader_under_load_keeps_every_acknowledged_write() {
    let mut cluster = Cluster::start("");
    cluster.wait_balanced(Duration::from_secs(30));
    let victim = cluster.leader_of(0).expect("shard 0 has a leader");
    let stop = AtomicBool::new(false);
    let acked = Mutex::new(Vec::new());
    let status = thread::scope(|s| {
        for w in 0..4 {
            let (cluster, stop, acked) = (&cluster, &stop, &acked);
            s.spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let (key, value) = (format!("c{w}:{i}"), format!("v{w}:{i}"));
                    if cluster.set(&key, &value, Duration::from_secs(10)).is_ok() {
                        acked.lock().expect("acked").push((key, value));
                    }
                    i += 1;
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while acked.lock().expect("acked").len() < 200 {
            assert!(Instant::now() < deadline, "the writers made no progress");
            thread::sleep(Duration::from_millis(10));
        }
        cluster.signal(victim, "-TERM");
        let signalled = Instant::now();
        // Writes go on while the node stops and the others take its shards over.
        thread::sleep(Duration::from_millis(1500));
        stop.store(true, Ordering::Relaxed);
        signalled
    });
    let left = EXIT_LIMIT.saturating_sub(status.elapsed());
    let exit = cluster
        .wait_exit(victim, left)
        .unwrap_or_else(|| panic!("node {victim} still running {EXIT_LIMIT:?} after SIGTERM"));
    assert!(exit.success(), "node {victim}: exit status {exit:?}");
    let log = cluster.log(victim);
    assert!(
        !log.contains("still running after"),
        "node {victim}:\n{log}"
    );
    let inspection = wal::inspect(&cluster.data_dir(victim).join("wal")).expect("readable WAL");
    assert_eq!(inspection.torn, None, "{inspection:?}");

    cluster.launch(victim);
    cluster.wait_ready(Duration::from_secs(30));
    let acked = acked.into_inner().expect("acked");
    assert!(acked.len() >= 200);
    for (key, value) in &acked {
        assert_eq!(
            cluster.get(key).as_deref(),
            Ok(value.as_str()),
            "acknowledged SET {key} lost"
        );
    }
}
