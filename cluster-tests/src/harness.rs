//! A cluster of real `shardis` processes on loopback: generated configs, free ports, private data
//! dirs, every peer link through a [`LinkProxy`], and the faults the nemesis injects — SIGKILL
//! and restart, SIGSTOP / SIGCONT, cut / delayed / healed links. Everything it starts is stopped
//! when it is dropped (also on panic, when the node logs are printed).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::proxy::LinkProxy;

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    // Below the kernel's ephemeral range (32768 and up by default), so that no outgoing
    // connection — a node's peer links, a client — can take the port between this check and
    // the server binding it (that race made clusters fail to start with "Address already in
    // use"). Each process walks its own stretch of 10000..32000, starting from its pid.
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(2654435761) % 22_000;
    for _ in 0..22_000 {
        let port = 10_000 + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % 22_000;
        if TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
            return port as u16;
        }
    }
    panic!("no free loopback port below the ephemeral range");
}

/// The `shardis` binary: `$SHARDIS_BIN`, else the one cargo built beside this test binary
/// (`target/<profile>/shardis`), built first if missing.
pub fn shardis_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SHARDIS_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> -> target/<profile>/shardis
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf();
    let bin = profile_dir.join("shardis");
    if !bin.exists() {
        let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cargo.args(["build", "-p", "shardis", "--bin", "shardis"]);
        if profile_dir.ends_with("release") {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("cargo build");
        assert!(status.success(), "building shardis failed");
    }
    bin
}

/// One node process.
pub struct Node {
    /// Node id (index + 1).
    pub id: u64,
    /// Client port.
    pub client_port: u16,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    paused: bool,
}

/// A running test cluster.
pub struct TestCluster {
    dir: PathBuf,
    binary: PathBuf,
    /// The nodes, by index.
    pub nodes: Vec<Node>,
    /// `links[(a, b)]`: the proxy node `a` reaches node `b`'s Raft port through.
    links: HashMap<(usize, usize), LinkProxy>,
    _proxy_runtime: tokio::runtime::Runtime,
    /// Keep the data dir and logs after the test (set when a check failed).
    pub keep: bool,
    /// Every fault injected and healed, with when: see [`TestCluster::journal`].
    journal: std::sync::Mutex<Vec<(Instant, SystemTime, String)>>,
    /// Data directories on a tmpfs of their own (see [`TestCluster::start_on_small_disks`]),
    /// unmounted on drop.
    mounts: Vec<PathBuf>,
}

/// The mount options of a node's small disk: room for a few minutes of the workload.
pub const SMALL_DISK: &str = "size=64m";

fn unique_dir(tag: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("shardis-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("test dir");
    dir
}

impl TestCluster {
    /// Starts `n` nodes with `shards` shards and 3 replicas each (at most `n`), and waits until
    /// every node says `cluster_state:ok`.
    pub fn start(n: usize, shards: u16) -> TestCluster {
        TestCluster::start_with(n, shards, false).expect("a cluster")
    }

    /// Like [`TestCluster::start`], with every node's data directory on a tmpfs of its own
    /// ([`SMALL_DISK`]), so that a test can fill one node's disk ([`TestCluster::fill_disk`]).
    /// `None` where the test may not mount one (not root).
    pub fn start_on_small_disks(n: usize, shards: u16) -> Option<TestCluster> {
        TestCluster::start_with(n, shards, true)
    }

    fn start_with(n: usize, shards: u16, small_disks: bool) -> Option<TestCluster> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("proxy runtime");
        let dir = unique_dir("chaos");
        let ports: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
        let mut links = HashMap::new();
        for a in 0..n {
            for b in (0..n).filter(|&b| b != a) {
                let target: SocketAddr = ([127, 0, 0, 1], ports[b].1).into();
                // The nodes' ports are not bound yet: a proxy must not take one of them.
                let listener = loop {
                    let l = TcpListener::bind("127.0.0.1:0").expect("proxy port");
                    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
                    if !ports.iter().any(|&(c, r)| c == port || r == port) {
                        break l;
                    }
                };
                let proxy =
                    LinkProxy::start_on(runtime.handle(), listener, target).expect("link proxy");
                links.insert((a, b), proxy);
            }
        }
        let mut nodes = Vec::new();
        for (a, &(client, raft)) in ports.iter().enumerate() {
            let id = a as u64 + 1;
            let mut members = String::new();
            for (b, &(peer_client, _)) in ports.iter().enumerate() {
                let raft_addr = if a == b {
                    format!("127.0.0.1:{raft}")
                } else {
                    links[&(a, b)].addr().to_string()
                };
                members.push_str(&format!(
                    "[[nodes]]\nid = {}\nclient-addr = \"127.0.0.1:{peer_client}\"\nraft-addr = \"{raft_addr}\"\n\n",
                    b + 1
                ));
            }
            let config = dir.join(format!("node{id}.toml"));
            let toml = format!(
                "node-id = {id}\nbind = \"127.0.0.1\"\nport = {client}\nshards = {shards}\n\
                 data-dir = \"{}\"\nlog-level = \"info\"\ncluster-id = 11\nreplicas = 3\n\n{members}",
                dir.join(format!("data{id}")).display()
            );
            std::fs::write(&config, toml).expect("config");
            nodes.push(Node {
                id,
                client_port: client,
                config,
                log: dir.join(format!("node{id}.log")),
                child: None,
                paused: false,
            });
        }
        let mut cluster = TestCluster {
            dir,
            binary: shardis_binary(),
            nodes,
            links,
            _proxy_runtime: runtime,
            keep: false,
            journal: Default::default(),
            mounts: Vec::new(),
        };
        if small_disks {
            for i in 0..n {
                let data = cluster.data_dir(i);
                std::fs::create_dir_all(&data).expect("data dir");
                let mounted = Command::new("mount")
                    .args(["-t", "tmpfs", "-o", SMALL_DISK, "tmpfs"])
                    .arg(&data)
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                if !mounted {
                    return None;
                }
                cluster.mounts.push(data);
            }
        }
        for i in 0..n {
            cluster.launch(i);
        }
        cluster.wait_healthy(Duration::from_secs(30));
        Some(cluster)
    }

    /// Node `i`'s data directory.
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.dir.join(format!("data{}", self.nodes[i].id))
    }

    /// Fills node `i`'s disk (a small tmpfs, see [`TestCluster::start_on_small_disks`]) to the
    /// last byte with a filler file.
    pub fn fill_disk(&mut self, i: usize) {
        self.note(format!("fill the disk of node {}", i + 1));
        let mut f = std::fs::File::create(self.filler(i)).expect("filler");
        let chunk = vec![0u8; 1 << 16];
        while f.write_all(&chunk).is_ok() {}
        for size in [4096, 512, 1] {
            while f.write_all(&chunk[..size]).is_ok() {}
        }
    }

    /// Gives node `i` its space back.
    pub fn free_disk(&mut self, i: usize) {
        self.note(format!("free the disk of node {}", i + 1));
        let _ = std::fs::remove_file(self.filler(i));
    }

    fn filler(&self, i: usize) -> PathBuf {
        self.data_dir(i).join("filler")
    }

    /// The directory holding configs, data and logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records a fault action in the journal.
    fn note(&self, what: String) {
        self.journal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((Instant::now(), SystemTime::now(), what));
    }

    /// The faults injected so far, one line each: seconds since `since` (the workload's clock,
    /// so the lines line up with a history's times), the wall-clock time (as in the node logs),
    /// and what was done.
    pub fn journal(&self, since: Instant) -> String {
        let journal = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        journal
            .iter()
            .map(|(at, wall, what)| {
                let wall = wall.duration_since(UNIX_EPOCH).unwrap_or_default();
                format!(
                    "{:10.3} s  unix {}.{:03}  {what}\n",
                    at.saturating_duration_since(since).as_secs_f64(),
                    wall.as_secs(),
                    wall.subsec_millis()
                )
            })
            .collect()
    }

    /// Starts node `i` (again).
    pub fn launch(&mut self, i: usize) {
        self.note(format!("launch node {}", i + 1));
        let node = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .expect("log file");
        let child = Command::new(&self.binary)
            .arg("--config")
            .arg(&node.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn shardis");
        node.child = Some(child);
        node.paused = false;
    }

    /// SIGKILLs node `i`.
    pub fn kill(&mut self, i: usize) {
        self.note(format!("kill node {}", i + 1));
        if self.nodes[i].paused {
            self.resume(i);
        }
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn signal(&self, i: usize, sig: &str) {
        if let Some(child) = &self.nodes[i].child {
            let _ = Command::new("kill")
                .args([sig, &child.id().to_string()])
                .status();
        }
    }

    /// SIGSTOPs node `i`.
    pub fn pause(&mut self, i: usize) {
        self.note(format!("pause node {}", i + 1));
        self.signal(i, "-STOP");
        self.nodes[i].paused = true;
    }

    /// SIGCONTs node `i`.
    pub fn resume(&mut self, i: usize) {
        self.note(format!("resume node {}", i + 1));
        self.signal(i, "-CONT");
        self.nodes[i].paused = false;
    }

    /// True when node `i` runs and is not paused.
    pub fn is_up(&self, i: usize) -> bool {
        self.nodes[i].child.is_some() && !self.nodes[i].paused
    }

    /// Cuts node `a`'s link to node `b` (one direction: `a`'s requests to `b`).
    pub fn cut(&self, a: usize, b: usize) {
        self.note(format!("cut node {} -> node {}", a + 1, b + 1));
        self.links[&(a, b)].cut();
    }

    /// Cuts every link between `side` and the other nodes, both directions.
    pub fn partition(&self, side: &[usize]) {
        let named: Vec<usize> = side.iter().map(|i| i + 1).collect();
        self.note(format!("partition nodes {named:?} from the others"));
        for (&(a, b), link) in &self.links {
            if side.contains(&a) != side.contains(&b) {
                link.cut();
            }
        }
    }

    /// Delays every link from or to node `i`.
    pub fn delay(&self, i: usize, delay: Duration) {
        self.note(format!("delay links of node {} by {delay:?}", i + 1));
        for (&(a, b), link) in &self.links {
            if a == i || b == i {
                link.delay(delay);
            }
        }
    }

    /// Heals every link.
    pub fn heal(&self) {
        self.note("heal all links".into());
        for link in self.links.values() {
            link.heal();
        }
    }

    /// The client ports of every node.
    pub fn client_ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.client_port).collect()
    }

    /// Waits until every running node answers `cluster_state:ok`.
    pub fn wait_healthy(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let healthy = (0..self.nodes.len()).filter(|&i| self.is_up(i)).all(|i| {
                command(self.nodes[i].client_port, &["CLUSTER", "INFO"])
                    .is_ok_and(|info| info.contains("cluster_state:ok"))
            });
            if healthy {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "cluster not healthy within {limit:?}"
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// The node index leading `slot` according to running node `via`'s CLUSTER NODES.
    pub fn leader_of_slot(&self, via: usize, slot: u16) -> Option<usize> {
        let nodes = command(self.nodes[via].client_port, &["CLUSTER", "NODES"]).ok()?;
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let port: u16 = fields
                .get(1)?
                .split('@')
                .next()?
                .rsplit(':')
                .next()?
                .parse()
                .ok()?;
            let covers = fields.iter().skip(8).any(|r| match r.split_once('-') {
                Some((a, b)) => {
                    a.parse::<u16>().is_ok_and(|a| a <= slot)
                        && b.parse::<u16>().is_ok_and(|b| slot <= b)
                }
                None => r.parse::<u16>().is_ok_and(|s| s == slot),
            });
            if covers {
                return self.nodes.iter().position(|n| n.client_port == port);
            }
        }
        None
    }

    /// The tail of every node's log.
    pub fn log_tails(&self, lines: usize) -> String {
        let mut out = String::new();
        for n in &self.nodes {
            let log = std::fs::read_to_string(&n.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(lines).collect();
            out.push_str(&format!(
                "----- node {} ({}) -----\n",
                n.id,
                n.log.display()
            ));
            for l in tail.into_iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
        for mount in &self.mounts {
            if self.keep || thread::panicking() {
                // Keep the files: copy them off the tmpfs first.
                let _ = Command::new("cp")
                    .arg("-a")
                    .arg(mount)
                    .arg(mount.with_extension("kept"))
                    .status();
            }
            let _ = Command::new("umount").arg(mount).status();
        }
        if thread::panicking() || self.keep {
            eprintln!("{}", self.log_tails(60));
            eprintln!("cluster files kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Sends one command to `port` and returns the reply as text (`Err` for error replies and I/O
/// failures). Bulk and simple strings and integers only.
pub fn command(port: u16, args: &[&str]) -> Result<String, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))
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
        Some('$') | Some('=') => {
            let n: i64 = line[1..].parse().map_err(|_| "bad bulk length")?;
            if n < 0 {
                return Ok(String::new());
            }
            let mut buf = vec![0u8; n as usize + 2];
            r.read_exact(&mut buf).map_err(|e| e.to_string())?;
            Ok(String::from_utf8_lossy(&buf[..n as usize]).into_owned())
        }
        _ => Err(format!("unexpected reply {line:?}")),
    }
}
