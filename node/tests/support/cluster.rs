//! A cluster of real `shardis` processes on loopback for multi-node tests: generated configs,
//! free ports, private data dirs, kill / restart / pause, and a small cluster-aware client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use shardis::slot::{key_slot, ShardMap};

/// Shards of the test clusters.
pub const SHARDS: u16 = 4;

/// One node process of the test cluster.
pub struct Member {
    /// Node id.
    pub id: u64,
    /// Client port.
    pub client_port: u16,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// A 3-node cluster, stopped and cleaned up on drop (also on panic, with the logs printed).
pub struct Cluster {
    dir: PathBuf,
    /// The nodes, by index (node id = index + 1).
    pub members: Vec<Member>,
    /// Shards of this cluster.
    pub shards: u16,
}

impl Cluster {
    /// A 3-node cluster; `extra_toml` is added to every node's config.
    pub fn start(extra_toml: &str) -> Cluster {
        Cluster::start_n(3, extra_toml)
    }

    /// An `n`-node cluster (3 replicas per shard), started and ready.
    pub fn start_n(n: usize, extra_toml: &str) -> Cluster {
        Cluster::start_with(n, SHARDS, extra_toml)
    }

    /// An `n`-node cluster of `shards` shards (3 replicas per shard), started and ready.
    pub fn start_with(n: usize, shards: u16, extra_toml: &str) -> Cluster {
        let dir = super::temp_dir("cluster");
        let ports: Vec<(u16, u16)> = (0..n)
            .map(|_| (super::free_port(), super::free_port()))
            .collect();
        let mut nodes_toml = String::new();
        for (i, (client, raft)) in ports.iter().enumerate() {
            nodes_toml.push_str(&format!(
                "[[nodes]]\nid = {}\nclient-addr = \"127.0.0.1:{client}\"\nraft-addr = \"127.0.0.1:{raft}\"\n\n",
                i + 1
            ));
        }
        // Each test cluster gets its own cluster id: tests run concurrently, and a port one
        // cluster picked may be picked again by another; nodes refuse calls from another
        // cluster, so such a clash fails loudly instead of mixing two clusters' Raft traffic.
        static CLUSTERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let cluster_id = u64::from(std::process::id()) << 16
            | CLUSTERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut members = Vec::new();
        for (i, (client, _)) in ports.iter().enumerate() {
            let id = i as u64 + 1;
            let config = dir.join(format!("node{id}.toml"));
            let toml = format!(
                "node-id = {id}\nbind = \"127.0.0.1\"\nport = {client}\nshards = {shards}\n\
                 data-dir = \"{}\"\nlog-level = \"warn\"\ncluster-id = {cluster_id}\nreplicas = 3\n{extra_toml}\n{nodes_toml}",
                dir.join(format!("data{id}")).display()
            );
            std::fs::write(&config, toml).expect("write config");
            members.push(Member {
                id,
                client_port: *client,
                config,
                log: dir.join(format!("node{id}.log")),
                child: None,
            });
        }
        let mut cluster = Cluster {
            dir,
            members,
            shards,
        };
        for i in 0..n {
            cluster.launch(i);
        }
        // Many groups take longer to elect and settle on a loaded machine.
        cluster.wait_ready(Duration::from_secs(20) + Duration::from_secs(2) * u32::from(shards));
        cluster
    }

    pub fn launch(&mut self, i: usize) {
        let m = &mut self.members[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&m.log)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_shardis"))
            .arg("--config")
            .arg(&m.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn shardis");
        m.child = Some(child);
    }

    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn signal(&self, i: usize, sig: &str) {
        let pid = self.members[i].child.as_ref().expect("running").id();
        let ok = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .expect("kill");
        assert!(ok.success());
    }

    /// Waits up to `limit` for node `i` to exit (after a signal, say); its exit status if it
    /// did (the node then counts as stopped, and can be launched again).
    pub fn wait_exit(&mut self, i: usize, limit: Duration) -> Option<std::process::ExitStatus> {
        let child = self.members[i].child.as_mut()?;
        let status = super::wait_exit(child, limit)?;
        self.members[i].child = None;
        Some(status)
    }

    /// Node `i`'s log so far.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(&self.members[i].log).unwrap_or_default()
    }

    /// Node `i`'s data directory (its WAL is in `wal/` there).
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.dir.join(format!("data{}", self.members[i].id))
    }

    pub fn port(&self, i: usize) -> u16 {
        self.members[i].client_port
    }

    /// The `raft_rpcs_sent` and `raft_rpc_batches_sent` counters of node `i` (INFO replication).
    pub fn rpc_counters(&self, i: usize) -> (u64, u64) {
        let info = raw_cmd(self.port(i), &["INFO", "replication"]).expect("INFO replication");
        let field = |name: &str| -> u64 {
            info.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in INFO replication: {info}"))
        };
        (field("raft_rpcs_sent"), field("raft_rpc_batches_sent"))
    }

    /// INFO replication of node `i`: per shard, (role, leader, applied, snapshot); a shard the
    /// node holds no replica of is `("none", "remote", 0, 0)`.
    pub fn shards_of(&self, i: usize) -> Option<Vec<(String, String, u64, u64)>> {
        let info = raw_cmd(self.port(i), &["INFO", "replication"]).ok()?;
        let mut out = Vec::new();
        for line in info
            .lines()
            .filter(|l| l.starts_with("shard") && l.contains(":role="))
        {
            let fields: std::collections::HashMap<&str, &str> = line
                .split_once(':')?
                .1
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .collect();
            if fields.get("role") == Some(&"none") {
                out.push(("none".to_string(), "remote".to_string(), 0, 0));
                continue;
            }
            out.push((
                fields.get("role")?.to_string(),
                fields.get("leader")?.to_string(),
                fields.get("applied")?.parse().ok()?,
                fields.get("snapshot")?.parse().ok()?,
            ));
        }
        Some(out)
    }

    /// Waits until every running node sees a leader for every shard and a write in every shard
    /// succeeds.
    pub fn wait_ready(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let running: Vec<usize> = (0..self.members.len())
            .filter(|&i| self.members[i].child.is_some())
            .collect();
        loop {
            let all_led = running.iter().all(|&i| {
                self.shards_of(i).is_some_and(|s| {
                    s.len() == usize::from(self.shards)
                        && s.iter().all(|(r, l, _, _)| r == "none" || l != "none")
                })
            });
            if all_led
                && (0..usize::from(self.shards)).all(|s| {
                    let key = key_in_shard_of(self.shards, s, "ready");
                    self.set(&key, "1", Duration::from_secs(2)).is_ok()
                })
            {
                return;
            }
            assert!(Instant::now() < deadline, "cluster not ready in {limit:?}");
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the running nodes agree on the shards' leaders and every running node
    /// leads at least one shard (leaders move to their preferred nodes after start-up). For
    /// clusters where every node holds every shard (3 nodes).
    pub fn wait_balanced(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let running: Vec<usize> = (0..self.members.len())
            .filter(|&i| self.members[i].child.is_some())
            .collect();
        loop {
            let views: Vec<Option<Vec<String>>> = running
                .iter()
                .map(|&i| {
                    self.shards_of(i)
                        .map(|s| s.into_iter().map(|(_, leader, _, _)| leader).collect())
                })
                .collect();
            let agreed = views.windows(2).all(|w| w[0] == w[1]);
            if let (true, Some(Some(leaders))) = (agreed, views.first()) {
                let spread = running.iter().all(|&i| {
                    let id = self.members[i].id.to_string();
                    leaders.contains(&id)
                });
                if spread {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "leaders never spread: {views:?}");
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs a command against the cluster like a cluster client: any live node first, following
    /// MOVED, retrying TRYAGAIN and unreachable nodes until `limit`.
    pub fn cmd(&self, args: &[&str], limit: Duration) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        let mut port = self
            .members
            .iter()
            .find(|m| m.child.is_some())
            .map(|m| m.client_port)
            .ok_or("no node running")?;
        let mut last = String::new();
        while Instant::now() < deadline {
            match raw_cmd(port, args) {
                Ok(reply) => return Ok(reply),
                Err(e) if e.starts_with("MOVED ") => {
                    let addr = e.rsplit(' ').next().unwrap_or_default();
                    port = addr
                        .rsplit(':')
                        .next()
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(port);
                    last = e;
                    continue;
                }
                Err(e) => {
                    last = e;
                    // Another node may lead now.
                    let live: Vec<u16> = self
                        .members
                        .iter()
                        .filter(|m| m.child.is_some())
                        .map(|m| m.client_port)
                        .collect();
                    port =
                        live[(live.iter().position(|&p| p == port).unwrap_or(0) + 1) % live.len()];
                }
            }
            thread::sleep(Duration::from_millis(20));
        }
        Err(format!("no success in {limit:?}: {last}"))
    }

    pub fn set(&self, key: &str, value: &str, limit: Duration) -> Result<String, String> {
        self.cmd(&["SET", key, value], limit)
    }

    pub fn get(&self, key: &str) -> Result<String, String> {
        self.cmd(&["GET", key], Duration::from_secs(5))
    }

    /// The node index leading the shard of `key`, per node 0's view... per any live node's view.
    pub fn leader_of(&self, shard: usize) -> Option<usize> {
        for i in (0..self.members.len()).filter(|&i| self.members[i].child.is_some()) {
            let Some(shards) = self.shards_of(i) else {
                continue;
            };
            let (role, leader, _, _) = shards.get(shard)?;
            if role == "none" {
                continue;
            }
            let leader: u64 = leader.parse().ok()?;
            return self.members.iter().position(|m| m.id == leader);
        }
        None
    }

    pub fn dump_logs(&self) {
        for m in &self.members {
            let log = std::fs::read_to_string(&m.log).unwrap_or_default();
            // A panic (of a Raft core, say) is what matters most, wherever it is in the log.
            for line in log.lines().filter(|l| l.contains("panicked at")) {
                eprintln!("node {} PANIC: {line}", m.id);
            }
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("----- node {} log (tail) -----", m.id);
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            if self.members[i].child.is_some() {
                // A paused node must be resumed to be killed cleanly.
                let _ = Command::new("kill")
                    .args([
                        "-CONT",
                        &self.members[i]
                            .child
                            .as_ref()
                            .map_or(0, |c| c.id())
                            .to_string(),
                    ])
                    .status();
            }
            self.kill(i);
        }
        if thread::panicking() {
            self.dump_logs();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Sends one command and returns the reply as text: `Ok` for status, bulk and integer replies,
/// `Err` for error replies and I/O failures.
pub fn raw_cmd(port: u16, args: &[&str]) -> Result<String, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).map_err(|e| format!("read: {e}"))?;
    let line = line.trim_end().to_string();
    match line.chars().next() {
        Some('+') | Some(':') => Ok(line[1..].to_string()),
        Some('-') => Err(line[1..].to_string()),
        Some('$') => {
            let n: i64 = line[1..].parse().map_err(|_| "bad bulk")?;
            if n < 0 {
                return Ok("(nil)".into());
            }
            let mut buf = vec![0u8; n as usize + 2];
            r.read_exact(&mut buf).map_err(|e| e.to_string())?;
            Ok(String::from_utf8_lossy(&buf[..n as usize]).into_owned())
        }
        _ => Err(format!("unexpected reply {line:?}")),
    }
}

/// A key whose slot belongs to `shard` (of the test cluster's SHARDS), with `tag` in its name.
pub fn key_in_shard(shard: usize, tag: &str) -> String {
    key_in_shard_of(SHARDS, shard, tag)
}

/// A key whose slot belongs to `shard` of `shards`, with `tag` in its name.
pub fn key_in_shard_of(shards: u16, shard: usize, tag: &str) -> String {
    let map = ShardMap::new(shards);
    (0..)
        .map(|n| format!("{tag}:{n}"))
        .find(|k| map.shard_of_slot(key_slot(k.as_bytes())) == shard)
        .expect("some key maps to every shard")
}
