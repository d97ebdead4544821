//! End-to-end tests of a real `shardis` process over TCP, with the `redis` crate as client and
//! raw sockets where bytes matter: pipelining across shards, binary safety, expiry, SCAN under
//! writes, limits, authentication, CLIENT KILL, malformed input, shutdown.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

mod support;

/// A `shardis` process on a free loopback port with its own data directory, killed (and the
/// directory removed) on drop.
struct Node {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Node {
    fn start(extra: &[&str]) -> Node {
        Node::start_in(support::temp_dir("node"), extra)
    }

    /// Starts a node on `dir` (which may hold a previous node's state).
    fn start_in(dir: std::path::PathBuf, extra: &[&str]) -> Node {
        Node::start_limited(dir, extra, None)
    }

    /// Starts a node, under an open file limit (`ulimit -n`, soft and hard) if given.
    fn start_limited(dir: std::path::PathBuf, extra: &[&str], nofile: Option<u64>) -> Node {
        for _ in 0..3 {
            let port = support::free_port();
            let bin = env!("CARGO_BIN_EXE_shardis");
            let mut command = match nofile {
                Some(n) => {
                    let mut c = Command::new("sh");
                    c.arg("-c")
                        .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                        .arg(bin);
                    c
                }
                None => Command::new(bin),
            };
            let child = command
                .args([
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    &port.to_string(),
                    "--log-level",
                    "warn",
                ])
                .arg("--data-dir")
                .arg(&dir)
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn shardis");
            let mut node = Node {
                child,
                port,
                dir: dir.clone(),
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = node.child.try_wait() {
                    break;
                }
                if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                    // Up and done loading: PING answers +PONG (after AUTH with the password
                    // the node was given, if any; -NOAUTH comes before -LOADING).
                    let password = extra
                        .iter()
                        .position(|a| *a == "--requirepass")
                        .and_then(|at| extra.get(at + 1));
                    let _ = match password {
                        Some(pw) => s.write_all(format!("AUTH {pw}\r\nPING\r\n").as_bytes()),
                        None => s.write_all(b"PING\r\n"),
                    };
                    if password.is_some() {
                        let mut ok = [0u8; 5];
                        let _ = s.read_exact(&mut ok);
                    }
                    let mut buf = [0u8; 7];
                    if s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n" {
                        return node;
                    }
                }
                thread::sleep(Duration::from_millis(20));
            }
            let _ = node.child.kill();
        }
        panic!("shardis did not start");
    }

    fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .and_then(|c| c.get_connection())
            .expect("connect")
    }

    fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        s
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `limit` for the process to exit; its exit status if it did.
    fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        support::wait_exit(&mut self.child, limit)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Reads until the peer closes or `limit` passes; returns what arrived and whether it closed.
fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return (out, true),
        }
    }
    (out, false)
}

/// Waits (up to 5 s) until CLIENT LIST shows only the asking connection: closed connections are
/// unregistered as soon as their task notices, which may take a moment.
fn assert_only_one_client(con: &mut redis::Connection) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(con).expect("list");
        if list.lines().count() == 1 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "other clients still listed:\n{list}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
            })
        })
        .map_or(0, |kb| kb * 1024)
}

#[test]
fn pipelines_across_shards_keep_order() {
    let node = Node::start(&["--shards", "16"]);
    let mut con = node.client();
    let keys: Vec<String> = (0..200).map(|i| format!("key:{i}")).collect();
    let mut pipe = redis::pipe();
    for (i, k) in keys.iter().enumerate() {
        pipe.cmd("SET").arg(k).arg(i).ignore();
    }
    for k in &keys {
        pipe.cmd("GET").arg(k);
    }
    pipe.cmd("MGET").arg(&keys);
    pipe.cmd("DEL").arg(&keys[..100]);
    pipe.cmd("EXISTS").arg(&keys);
    pipe.cmd("DBSIZE");
    let (gets, mget, del, exists, dbsize): (Vec<i64>, Vec<i64>, i64, i64, i64) = {
        let all: Vec<redis::Value> = pipe.query(&mut con).expect("pipeline");
        let n = keys.len();
        let ints = |v: &redis::Value| -> i64 { redis::from_redis_value(v.clone()).expect("int") };
        (
            all[..n].iter().map(ints).collect(),
            redis::from_redis_value(all[n].clone()).expect("mget"),
            ints(&all[n + 1]),
            ints(&all[n + 2]),
            ints(&all[n + 3]),
        )
    };
    assert_eq!(gets, (0..200).collect::<Vec<i64>>());
    assert_eq!(mget, (0..200).collect::<Vec<i64>>());
    assert_eq!((del, exists, dbsize), (100, 100, 100));
}

/// Every page of a SCAN from cursor 0 to cursor 0 with `opts`: the keys, and the pages.
fn scan_all(con: &mut redis::Connection, opts: &[&str]) -> (Vec<String>, usize) {
    let (mut cursor, mut keys, mut pages) = (0u64, Vec::new(), 0);
    loop {
        let (next, page): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg(opts)
            .query(con)
            .expect("a SCAN page");
        keys.extend(page);
        pages += 1;
        assert!(pages < 100_000, "SCAN never came back to 0");
        if next == 0 {
            return (keys, pages);
        }
        cursor = next;
    }
}

#[test]
fn scan_with_a_filter_nothing_matches_pages_through_to_cursor_0() {
    let node = Node::start(&["--shards", "4"]);
    let mut con = node.client();
    for chunk in (0..2000).collect::<Vec<u32>>().chunks(500) {
        let mut cmd = redis::cmd("MSET");
        for i in chunk {
            cmd.arg(format!("{{t}}k{i}")).arg(i);
        }
        let _: () = cmd.query(&mut con).expect("mset");
    }
    // It used to answer -ERR scan did not finish once a shard's step found no match.
    let (keys, pages) = scan_all(&mut con, &["MATCH", "nomatch*", "COUNT", "10"]);
    assert!(keys.is_empty() && pages > 1, "{keys:?} in {pages} pages");
    let (keys, _) = scan_all(&mut con, &["TYPE", "list", "COUNT", "10"]);
    assert!(keys.is_empty(), "{keys:?}");
    let (mut keys, _) = scan_all(&mut con, &["MATCH", "{t}k1*", "COUNT", "10"]);
    keys.sort();
    let mut expected: Vec<String> = (0..2000)
        .map(|i| format!("{{t}}k{i}"))
        .filter(|k| k.starts_with("{t}k1"))
        .collect();
    expected.sort();
    assert_eq!(keys, expected);
}

#[test]
fn binary_keys_and_large_values() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let key: Vec<u8> = vec![0, 255, b'\r', b'\n', b'{', 0, b'}', 7];
    let value: Vec<u8> = (0..1_048_576u32).map(|i| (i % 251) as u8).collect();
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(&value)
        .query(&mut con)
        .expect("set");
    let back: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut con).expect("get");
    assert_eq!(back, value);
    let len: i64 = redis::cmd("STRLEN")
        .arg(&key)
        .query(&mut con)
        .expect("strlen");
    assert_eq!(len, 1_048_576);
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut con).expect("keys");
    assert_eq!(keys, vec![key]);
}

#[test]
fn concurrent_increments_are_all_counted() {
    let node = Node::start(&[]);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let mut con = node.client();
            thread::spawn(move || {
                for _ in 0..500 {
                    let _: i64 = redis::cmd("INCR")
                        .arg("counter")
                        .query(&mut con)
                        .expect("incr");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let total: i64 = redis::cmd("GET")
        .arg("counter")
        .query(&mut node.client())
        .expect("get");
    assert_eq!(total, 2000);
}

#[test]
fn concurrent_spops_pop_every_member_exactly_once() {
    // SPOP is logged as the members the leader picked; when two clients pick the same member,
    // one effect no longer holds and picks again. Every member comes out once, none is lost.
    let node = Node::start(&[]);
    let mut con = node.client();
    let members: Vec<String> = (0..1500).map(|i| format!("m{i}")).collect();
    let _: i64 = redis::cmd("SADD")
        .arg("pool")
        .arg(&members)
        .query(&mut con)
        .expect("sadd");
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let mut con = node.client();
            thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    // Single pops and counted pops, pipelined in twos.
                    let (a, b): (Option<String>, Vec<String>) = redis::pipe()
                        .cmd("SPOP")
                        .arg("pool")
                        .cmd("SPOP")
                        .arg("pool")
                        .arg(1 + t % 3)
                        .query(&mut con)
                        .expect("spop");
                    if a.is_none() && b.is_empty() {
                        return got;
                    }
                    got.extend(a);
                    got.extend(b);
                }
            })
        })
        .collect();
    let mut popped: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("thread"))
        .collect();
    popped.sort();
    let mut expected = members.clone();
    expected.sort();
    assert_eq!(popped.len(), expected.len(), "each member popped once");
    assert_eq!(popped, expected);
    let exists: i64 = redis::cmd("EXISTS")
        .arg("pool")
        .query(&mut con)
        .expect("exists");
    assert_eq!(exists, 0);
}

#[test]
fn active_expiry_removes_keys_nobody_reads() {
    let node = Node::start(&["--shards", "4"]);
    let mut con = node.client();
    let mut pipe = redis::pipe();
    for i in 0..2000 {
        pipe.cmd("SET")
            .arg(format!("tmp:{i}"))
            .arg("v")
            .arg("PX")
            .arg(100)
            .ignore();
    }
    for i in 0..10 {
        pipe.cmd("SET").arg(format!("keep:{i}")).arg("v").ignore();
    }
    let _: () = pipe.query(&mut con).expect("load");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n: i64 = redis::cmd("DBSIZE").query(&mut con).expect("dbsize");
        if n == 10 {
            break;
        }
        assert!(Instant::now() < deadline, "expired keys still counted: {n}");
        thread::sleep(Duration::from_millis(50));
    }
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query(&mut con)
        .expect("info");
    let expired: i64 = info
        .lines()
        .find_map(|l| l.strip_prefix("expired_keys:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("expired_keys");
    assert_eq!(expired, 2000);
}

#[test]
fn scan_sees_every_key_present_throughout_despite_writes() {
    let node = Node::start(&["--shards", "8"]);
    let mut con = node.client();
    let mut pipe = redis::pipe();
    for i in 0..3000 {
        pipe.cmd("SET").arg(format!("stable:{i}")).arg(i).ignore();
        pipe.cmd("SET").arg(format!("churn:{i}")).arg(i).ignore();
    }
    let _: () = pipe.query(&mut con).expect("load");
    let mut writer = node.client();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let churn = thread::spawn(move || {
        let mut i = 0u64;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let _: () = redis::pipe()
                .cmd("DEL")
                .arg(format!("churn:{}", i % 3000))
                .ignore()
                .cmd("SET")
                .arg(format!("new:{i}"))
                .arg(i)
                .ignore()
                .query(&mut writer)
                .expect("churn");
            i += 1;
        }
    });
    let mut seen = std::collections::HashSet::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(20)
            .query(&mut con)
            .expect("scan");
        seen.extend(keys);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    churn.join().expect("churn thread");
    for i in 0..3000 {
        assert!(
            seen.contains(&format!("stable:{i}")),
            "stable:{i} missed by SCAN"
        );
    }
}

#[test]
fn maxclients_refuses_the_extra_client() {
    let node = Node::start(&["--maxclients", "2"]);
    // Two clients, each confirmed connected and counted. The start-up probe's connection may
    // still be counted for a moment after it closed, so a refused client is retried.
    let connected = || {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut s = node.raw();
            s.write_all(b"PING\r\n").expect("write");
            let mut buf = [0u8; 7];
            if s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n" {
                return s;
            }
            assert!(Instant::now() < deadline, "no client slot came free");
            thread::sleep(Duration::from_millis(50));
        }
    };
    let _a = connected();
    let _b = connected();
    let mut c = node.raw();
    let (reply, closed) = read_until_closed(&mut c, Duration::from_secs(5));
    assert_eq!(reply, b"-ERR max number of clients reached\r\n");
    assert!(closed);
}

#[test]
fn a_low_open_file_limit_lowers_maxclients_and_extra_clients_are_refused() {
    // 256 descriptors, 64 kept for the node itself: 192 clients, not the default 10000.
    let node = Node::start_limited(support::temp_dir("nofile"), &[], Some(256));
    let mut con = node.client();
    let maxclients: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query(&mut con)
        .expect("config get");
    assert_eq!(maxclients, ["maxclients", "192"]);
    let err = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxclients")
        .arg("1000")
        .query::<String>(&mut con)
        .expect_err("more clients than descriptors");
    assert!(
        err.to_string().contains(
            "The operating system is not able to handle the specified number of clients, try with 192"
        ),
        "{err}"
    );
    // Far more connections than descriptors: the extra ones are told so and closed, and the
    // node goes on serving (it used to accept them and never answer, and could lose a shard).
    let mut open = Vec::new();
    let mut refused = 0;
    for _ in 0..400 {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", node.port)) else {
            continue;
        };
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        s.write_all(b"PING\r\n").expect("write");
        let mut buf = [0u8; 7];
        match s.read_exact(&mut buf) {
            Ok(()) if &buf == b"+PONG\r\n" => open.push(s),
            Ok(()) if buf.starts_with(b"-ERR ma") => refused += 1,
            other => panic!("neither served nor refused: {other:?} {buf:?}"),
        }
    }
    assert!(
        open.len() <= 192 && open.len() >= 180,
        "{} served",
        open.len()
    );
    assert!(refused > 0);
    drop(open);
    let set: String = redis::cmd("SET")
        .arg("after")
        .arg("1")
        .query(&mut con)
        .expect("still serving writes");
    assert_eq!(set, "OK");
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let node = Node::start(&["--timeout", "1"]);
    let mut s = node.raw();
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut s, Duration::from_secs(5));
    assert!(closed, "idle connection was not closed");
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[test]
fn requirepass_gates_commands() {
    let node = Node::start(&["--requirepass", "s3cret"]);
    let mut con = node.client();
    let err = redis::cmd("GET")
        .arg("k")
        .query::<Option<String>>(&mut con)
        .expect_err("noauth");
    assert!(err.to_string().contains("Authentication required"), "{err}");
    let err = redis::cmd("AUTH")
        .arg("wrong")
        .query::<()>(&mut con)
        .expect_err("wrongpass");
    assert!(err.to_string().contains("WRONGPASS"), "{err}");
    let _: () = redis::cmd("AUTH")
        .arg("s3cret")
        .query(&mut con)
        .expect("auth");
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut con)
        .expect("set");
    let authed = redis::Client::open(format!("redis://:s3cret@127.0.0.1:{}/", node.port))
        .and_then(|c| c.get_connection())
        .and_then(|mut c| redis::cmd("GET").arg("k").query::<String>(&mut c))
        .expect("url auth");
    assert_eq!(authed, "v");
}

#[test]
fn client_kill_closes_the_other_connection() {
    let node = Node::start(&[]);
    let mut victim = node.client();
    let id: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query(&mut victim)
        .expect("id");
    let mut killer = node.client();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id)
        .query(&mut killer)
        .expect("kill");
    assert_eq!(killed, 1);
    thread::sleep(Duration::from_millis(100));
    assert!(redis::cmd("PING").query::<String>(&mut victim).is_err());
    assert_only_one_client(&mut killer);
}

#[test]
fn client_kill_of_itself_closes_before_the_rest_of_the_pipeline_runs() {
    let node = Node::start(&[]);
    let id: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query(&mut node.client())
        .expect("id");
    let mut s = node.raw();
    s.write_all(b"CLIENT ID\r\n").expect("write");
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).expect("client id");
    let own: i64 = std::str::from_utf8(&buf[1..n - 2])
        .expect("utf8")
        .parse()
        .expect("an id");
    assert!(own > id);
    // Redis answers :1, closes, and never runs the SET behind it.
    s.write_all(format!("CLIENT KILL ID {own} SKIPME no\r\nSET killed 1\r\n").as_bytes())
        .expect("write");
    let (reply, closed) = read_until_closed(&mut s, Duration::from_secs(5));
    assert_eq!(reply, b":1\r\n");
    assert!(closed);
    let value: Option<String> = redis::cmd("GET")
        .arg("killed")
        .query(&mut node.client())
        .expect("get");
    assert_eq!(value, None);
}

#[test]
fn config_set_keeps_limits_within_what_the_node_can_hold() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let set = |con: &mut redis::Connection, name: &str, value: &str| {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .query::<String>(con)
            .map_err(|e| e.to_string())
    };
    // Keys and strings store their length in 32 bits: 4 GiB - 1 at most, as in the file.
    let err = set(&mut con, "proto-max-bulk-len", "9223372036854775807").expect_err("too big");
    assert!(
        err.contains("argument must be between 1048576 and 4294967295 inclusive"),
        "{err}"
    );
    set(&mut con, "proto-max-bulk-len", "4294967295").expect("the largest");
    let err = set(&mut con, "maxclients", "4294967296").expect_err("above u32");
    assert!(
        err.contains("argument must be between 1 and 4294967295 inclusive"),
        "{err}"
    );
}

/// A raw client that asks for `n` copies of the 1 MiB value `big` and never reads them: the
/// node's write to it stalls once the socket buffers are full.
fn never_reading_client(node: &Node, n: usize) -> TcpStream {
    let value = vec![b'v'; 1 << 20];
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(value)
        .query(&mut node.client())
        .expect("set big");
    let mut s = node.raw();
    let request = b"GET big\r\n".repeat(n);
    s.write_all(&request).expect("pipeline");
    thread::sleep(Duration::from_millis(300));
    s
}

#[test]
fn client_kill_closes_a_client_that_stopped_reading() {
    let node = Node::start(&[]);
    let _stuck = never_reading_client(&node, 200);
    let mut con = node.client();
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut con)
        .expect("list");
    let victim = list
        .lines()
        .find(|l| l.contains("cmd=get"))
        .and_then(|l| l.split(' ').next())
        .and_then(|id| id.strip_prefix("id="))
        .expect("the stuck client is listed")
        .to_string();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(&victim)
        .query(&mut con)
        .expect("kill");
    assert_eq!(killed, 1);
    // It used to stay listed (and its replies allocated) for as long as it did not read.
    assert_only_one_client(&mut con);
}

#[test]
fn timeout_closes_a_client_that_stopped_reading() {
    let node = Node::start(&["--timeout", "1"]);
    let _stuck = never_reading_client(&node, 200);
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut node.client())
        .expect("list");
    assert!(list.contains("cmd=get"), "{list}");
    thread::sleep(Duration::from_millis(1500));
    // A fresh connection: an idle one would be timed out too.
    assert_only_one_client(&mut node.client());
}

#[test]
fn a_large_value_costs_about_its_size_once_stored() {
    let node = Node::start(&["--shards", "1"]);
    let mut con = node.client();
    let before = rss_bytes(node.pid());
    let size = 64u64 << 20;
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(vec![b'v'; size as usize])
        .query(&mut con)
        .expect("set");
    // Once its log entry is covered by a snapshot, the value is held once (the keyspace), while
    // the client that sent it stays connected: its connection used to keep the read buffer the
    // value arrived in, and the log a second copy of it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let grown = rss_bytes(node.pid()).saturating_sub(before);
        if grown < size * 3 / 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "RSS still {} MiB above the start for a {} MiB value",
            grown >> 20,
            size >> 20
        );
        thread::sleep(Duration::from_millis(100));
    }
    let len: u64 = redis::cmd("STRLEN")
        .arg("big")
        .query(&mut con)
        .expect("strlen");
    assert_eq!(len, size);
}

#[test]
fn past_maxmemory_writes_that_grow_memory_are_refused_and_reads_go_on() {
    // The node's own footprint is not counted: values of 16 KiB fit until the data passes
    // 1 MiB, and from the next measure on every write that may grow memory is refused.
    let node = Node::start(&["--maxmemory", "1mb"]);
    let mut con = node.client();
    let value = vec![b'x'; 16 << 10];
    let mut written = 0;
    let err = loop {
        match redis::cmd("SET")
            .arg(format!("k{written}"))
            .arg(&value)
            .query::<()>(&mut con)
        {
            Err(e) => break e,
            Ok(()) => written += 1,
        }
        assert!(written < 1000, "never refused");
        thread::sleep(Duration::from_millis(2));
    };
    assert!(written >= 40, "refused after {written} values of 16 KiB");
    assert_eq!(err.code(), Some("OOM"), "{err}");
    assert_eq!(
        err.detail(),
        Some("command not allowed when used memory > 'maxmemory'.")
    );
    let kept: Vec<u8> = redis::cmd("GET").arg("k0").query(&mut con).expect("get");
    assert_eq!(kept.len(), 16 << 10, "reads go on");
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query(&mut con)
        .expect("info");
    for line in [
        "maxmemory:1048576",
        "maxmemory_human:1.00M",
        "maxmemory_policy:noeviction",
    ] {
        assert!(info.contains(line), "{line} in:\n{info}");
    }
    // Lifted at run time: writes go through at once.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("4gb")
        .query(&mut con)
        .expect("config set");
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut con)
        .expect("set");
}

/// A field of INFO `section`.
fn info_field(con: &mut redis::Connection, section: &str, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg(section).query(con).expect("info");
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO {section}:\n{info}"))
}

/// Bytes allocated besides what is not counted against `maxmemory` (the Raft logs, the node's
/// footprint at start), unsmoothed: both read from one INFO reply, as a log purge between two
/// readings would make the difference meaningless.
fn counted_memory(con: &mut redis::Connection) -> u64 {
    let [used, not_counted] = memory_fields(con, ["used_memory", "mem_not_counted_for_evict"]);
    used.saturating_sub(not_counted)
}

/// Bytes allocated besides the Raft logs and the WAL's buffer (what a pending reply would
/// grow), from one INFO reply.
fn allocated_besides_logs(con: &mut redis::Connection) -> u64 {
    let [used, logs, wal] = memory_fields(con, ["used_memory", "mem_raft_logs", "mem_aof_buffer"]);
    used.saturating_sub(logs).saturating_sub(wal)
}

/// Fields of one INFO memory reply.
fn memory_fields<const N: usize>(con: &mut redis::Connection, names: [&str; N]) -> [u64; N] {
    let info: String = redis::cmd("INFO").arg("memory").query(con).expect("info");
    names.map(|name| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in INFO memory:\n{info}"))
    })
}

fn config_set(con: &mut redis::Connection, name: &str, value: &str) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query(con)
        .expect("config set");
}

#[test]
fn allkeys_lru_evicts_to_stay_within_maxmemory_and_never_refuses_a_write() {
    let node = Node::start(&["--shards", "4"]);
    let mut con = node.client();
    let limit = counted_memory(&mut con) + (32 << 20);
    config_set(&mut con, "maxmemory", &limit.to_string());
    config_set(&mut con, "maxmemory-policy", "allkeys-lru");
    // 64 MiB of values into a 32 MiB allowance: never refused, and the node comes back within
    // its limit (transient buffers of the write burst count while it lasts, as in redis).
    let value = vec![b'v'; 32 << 10];
    for i in 0..2000 {
        redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(&value)
            .query::<()>(&mut con)
            .unwrap_or_else(|e| panic!("SET k{i} refused: {e}"));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while counted_memory(&mut con) > limit {
        assert!(
            Instant::now() < deadline,
            "still {} MiB over the limit",
            (counted_memory(&mut con) - limit) >> 20
        );
        thread::sleep(Duration::from_millis(50));
    }
    // A round already under way may still evict: count keys between two equal readings.
    let (evicted, keys) = loop {
        let evicted = info_field(&mut con, "stats", "evicted_keys");
        let keys: u64 = redis::cmd("DBSIZE").query(&mut con).expect("dbsize");
        if info_field(&mut con, "stats", "evicted_keys") == evicted {
            break (evicted, keys);
        }
    };
    assert!(evicted >= 600, "{evicted} evicted");
    assert_eq!(keys + evicted, 2000, "{keys} keys left");
    // Writes go on once within the limit, and what was kept reads back whole.
    let last: Option<Vec<u8>> = redis::cmd("GET").arg("k1999").query(&mut con).expect("get");
    assert!(last.is_none_or(|v| v.len() == 32 << 10));
}

#[test]
fn a_write_burst_never_takes_the_data_far_past_maxmemory() {
    // Four clients pipeline 96 MiB of 1 KiB values into a 16 MiB allowance as fast as the node
    // takes them, while a fifth samples the data's size. Evicting only on the node's memory
    // measure (every 10 ms) let a release build's data reach 5 times its limit under such a
    // burst: the writes need their room made in their own entries.
    let node = Node::start(&["--shards", "4"]);
    let mut con = node.client();
    let allowance = 16 << 20;
    let limit = counted_memory(&mut con) + allowance;
    config_set(&mut con, "maxmemory", &limit.to_string());
    config_set(&mut con, "maxmemory-policy", "allkeys-random");
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let mut con = node.client();
            thread::spawn(move || {
                let value = vec![b'v'; 1024];
                for round in 0..24 {
                    let mut pipe = redis::pipe();
                    for i in 0..1024 {
                        pipe.cmd("SET")
                            .arg(format!("w{w}:{round}:{i}"))
                            .arg(&value)
                            .ignore();
                    }
                    pipe.query::<()>(&mut con)
                        .unwrap_or_else(|e| panic!("a SET of round {round} refused: {e}"));
                }
            })
        })
        .collect();
    let mut worst = 0;
    let dataset = |con: &mut redis::Connection| info_field(con, "memory", "used_memory_dataset");
    while writers.iter().any(|w| !w.is_finished()) {
        worst = worst.max(dataset(&mut con));
        thread::sleep(Duration::from_millis(5));
    }
    writers.into_iter().for_each(|w| w.join().expect("writer"));
    worst = worst.max(dataset(&mut con));
    // The allowance plus 10%: the room is made by estimate between two measures.
    assert!(
        worst <= allowance + allowance / 10,
        "the data reached {} KiB in a {} KiB allowance",
        worst >> 10,
        allowance >> 10
    );
    let evicted = info_field(&mut con, "stats", "evicted_keys");
    let keys: u64 = redis::cmd("DBSIZE").query(&mut con).expect("dbsize");
    assert_eq!(evicted + keys, 4 * 24 * 1024, "every write applied");
    // Connections' buffers and the write pipeline count too (as redis counts its clients'
    // buffers), but the data keeps a good part of the allowance.
    assert!(keys > 2_000, "{keys} keys kept in 16 MiB");
}

#[test]
fn allkeys_lfu_evicts_the_keys_used_the_least() {
    // No decay: a minute boundary passing during the test would take one off every count (it
    // failed so once in CI, 24 for 25).
    let node = Node::start(&[
        "--shards",
        "4",
        "--lfu-log-factor",
        "0",
        "--lfu-decay-time",
        "0",
    ]);
    let mut con = node.client();
    config_set(&mut con, "maxmemory-policy", "allkeys-lfu");
    config_set(&mut con, "maxmemory-samples", "10");
    let value = vec![b'v'; 32 << 10];
    // 100 hot keys read 20 times each (with lfu-log-factor 0 every access counts: 25), written
    // first, so an LRU policy would find them the most idle.
    for i in 0..100 {
        let key = format!("hot{i}");
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(&value)
            .query(&mut con)
            .expect("set");
        for _ in 0..20 {
            let _: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut con).expect("get");
        }
    }
    let freq: i64 = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg("hot7")
        .query(&mut con)
        .expect("freq");
    assert_eq!(freq, 25);
    let limit = counted_memory(&mut con) + (16 << 20);
    config_set(&mut con, "maxmemory", &limit.to_string());
    // Then 1500 cold keys (47 MiB) into a 16 MiB allowance.
    for i in 0..1500 {
        redis::cmd("SET")
            .arg(format!("cold{i}"))
            .arg(&value)
            .query::<()>(&mut con)
            .unwrap_or_else(|e| panic!("SET cold{i} refused: {e}"));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while counted_memory(&mut con) > limit {
        assert!(Instant::now() < deadline, "still over the limit");
        thread::sleep(Duration::from_millis(50));
    }
    let evicted = info_field(&mut con, "stats", "evicted_keys");
    assert!(evicted >= 900, "{evicted} evicted");
    let hot_left = (0..100)
        .filter(|i| {
            redis::cmd("EXISTS")
                .arg(format!("hot{i}"))
                .query::<i64>(&mut con)
                .expect("exists")
                == 1
        })
        .count();
    // A hot key goes only when all ten samples drawn are hot (each under 1 in 6).
    assert!(
        hot_left >= 98,
        "{hot_left} of 100 hot keys left after {evicted} evictions"
    );
}

#[test]
fn object_idletime_counts_seconds_since_the_last_access() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut con)
        .expect("set");
    thread::sleep(Duration::from_millis(2100));
    let idle = |con: &mut redis::Connection| -> i64 {
        redis::cmd("OBJECT")
            .arg("IDLETIME")
            .arg("k")
            .query(con)
            .expect("idletime")
    };
    let before = idle(&mut con);
    assert!((2..=3).contains(&before), "{before}");
    // OBJECT itself does not touch the key; a read does.
    assert!(idle(&mut con) >= before);
    let _: Option<String> = redis::cmd("GET").arg("k").query(&mut con).expect("get");
    assert_eq!(idle(&mut con), 0);
}

#[test]
fn a_volatile_policy_with_no_key_to_evict_refuses_writes_as_noeviction() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut con)
        .expect("set");
    config_set(&mut con, "maxmemory-policy", "volatile-lru");
    config_set(&mut con, "maxmemory", "1");
    thread::sleep(Duration::from_millis(200));
    let err = redis::cmd("SET")
        .arg("k2")
        .arg("v")
        .query::<()>(&mut con)
        .expect_err("nothing to evict: refused");
    assert_eq!(err.code(), Some("OOM"), "{err}");
    let k: Option<String> = redis::cmd("GET").arg("k").query(&mut con).expect("get");
    assert_eq!(
        k.as_deref(),
        Some("v"),
        "a key without a deadline is never evicted"
    );
    // volatile-ttl with a key that has a deadline: it is evicted, and writes pass again.
    config_set(&mut con, "maxmemory", "0");
    let _: () = redis::cmd("SET")
        .arg("t")
        .arg("v")
        .arg("EX")
        .arg(1000)
        .query(&mut con)
        .expect("set");
    config_set(&mut con, "maxmemory-policy", "volatile-ttl");
    config_set(&mut con, "maxmemory", "1");
    let deadline = Instant::now() + Duration::from_secs(5);
    while redis::cmd("EXISTS")
        .arg("t")
        .query::<i64>(&mut con)
        .expect("exists")
        == 1
    {
        assert!(
            Instant::now() < deadline,
            "the volatile key was never evicted"
        );
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(info_field(&mut con, "stats", "evicted_keys"), 1);
    config_set(&mut con, "maxmemory", "0");
}

#[test]
fn an_unknown_eviction_policy_is_refused_at_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_shardis"))
        .args(["--port", "0", "--maxmemory-policy", "allkeys-often"])
        .output()
        .expect("run shardis");
    assert_eq!(out.status.code(), Some(2), "{:?}", out.status);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("maxmemory-policy") && text.contains("must be one of the following"),
        "{text}"
    );
}

#[test]
fn a_client_that_never_reads_holds_about_one_reply_not_the_whole_pipeline() {
    let node = Node::start(&[]);
    let before = rss_bytes(node.pid());
    // 200 MiB of replies asked for, none taken: the node builds them a batch at a time and
    // waits for the client before the next.
    let _stuck = never_reading_client(&node, 200);
    thread::sleep(Duration::from_millis(300));
    let grown = rss_bytes(node.pid()).saturating_sub(before);
    assert!(
        grown < 48 << 20,
        "RSS grew by {} MiB for a client that reads nothing",
        grown >> 20
    );
    // CLIENT LIST shows the replies it has not taken (omem), and INFO the largest such buffer.
    let mut con = node.client();
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut con)
        .expect("list");
    let omem: u64 = list
        .lines()
        .find(|l| l.contains("cmd=get"))
        .and_then(|l| l.split(' ').find_map(|f| f.strip_prefix("omem=")))
        .and_then(|v| v.parse().ok())
        .expect("the stuck client is listed");
    assert!(omem > 0, "{list}");
    let info: String = redis::cmd("INFO")
        .arg("clients")
        .query(&mut con)
        .expect("info");
    assert!(
        info.contains(&format!("client_recent_max_output_buffer:{omem}")),
        "{info}"
    );
}

#[test]
fn a_client_over_its_output_buffer_soft_limit_for_its_seconds_is_closed() {
    let node = Node::start(&["--client-output-buffer-limit", "normal 0 2mb 1"]);
    let _stuck = never_reading_client(&node, 200);
    let mut con = node.client();
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut con)
        .expect("list");
    assert!(list.contains("cmd=get"), "{list}");
    // Past 2 MiB unsent for a second: closed (it used to stay until it read or was killed).
    thread::sleep(Duration::from_millis(1200));
    assert_only_one_client(&mut con);
}

#[test]
fn a_client_past_its_output_buffer_hard_limit_is_closed_at_once() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("normal 4mb 0 0")
        .query(&mut con)
        .expect("config set");
    let _stuck = never_reading_client(&node, 200);
    assert_only_one_client(&mut con);
    // A client within the limit is served as before.
    let v: Vec<u8> = redis::cmd("GET").arg("big").query(&mut con).expect("get");
    assert_eq!(v.len(), 1 << 20);
}

#[test]
fn malformed_request_gets_an_error_and_the_connection_closes() {
    let node = Node::start(&[]);
    let mut s = node.raw();
    s.write_all(b"*1\r\n$4\r\nPING\r\n*1\r\n$-5\r\n")
        .expect("write");
    let (reply, closed) = read_until_closed(&mut s, Duration::from_secs(5));
    assert_eq!(
        reply,
        b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"
    );
    assert!(closed);
    let pong: String = redis::cmd("PING")
        .query(&mut node.client())
        .expect("still serving");
    assert_eq!(pong, "PONG");
}

#[test]
fn announced_huge_bulk_is_not_allocated_up_front() {
    let node = Node::start(&[]);
    let before = rss_bytes(node.pid());
    let mut streams = Vec::new();
    for _ in 0..20 {
        let mut s = node.raw();
        s.write_all(b"*2\r\n$3\r\nGET\r\n$536870000\r\nabc")
            .expect("write");
        streams.push(s);
    }
    thread::sleep(Duration::from_millis(300));
    let after = rss_bytes(node.pid());
    assert!(
        after < before + 64 * 1024 * 1024,
        "RSS grew from {before} to {after} for 20 announced 512 MB arguments"
    );
    let pong: String = redis::cmd("PING").query(&mut node.client()).expect("ping");
    assert_eq!(pong, "PONG");
}

#[test]
fn many_clients_announcing_huge_arguments_cost_what_they_sent() {
    let node = Node::start(&[]);
    let before = rss_bytes(node.pid());
    let mut streams = Vec::new();
    let mut request = b"*1\r\n$500000000\r\n".to_vec();
    request.extend_from_slice(&[b'x'; 20_000]);
    for _ in 0..300 {
        let mut s = node.raw();
        s.write_all(&request).expect("write");
        streams.push(s);
    }
    thread::sleep(Duration::from_millis(500));
    let after = rss_bytes(node.pid());
    // 20 kB received each: about 35 kB of memory each (redis: 28 kB). It was 1.3 MB each: the
    // read buffer grew by a megabyte while it still had room, and the copy touched it all.
    let per_client = after.saturating_sub(before) / 300;
    assert!(
        per_client < 200 * 1024,
        "RSS grew from {before} to {after}: {per_client} bytes per client"
    );
    let pong: String = redis::cmd("PING").query(&mut node.client()).expect("ping");
    assert_eq!(pong, "PONG");
}

#[test]
fn vanished_clients_do_not_disturb_the_node() {
    let node = Node::start(&[]);
    for _ in 0..50 {
        let mut s = node.raw();
        // A pipeline whose replies are never read, then the socket goes away.
        let mut req = Vec::new();
        for i in 0..200 {
            req.extend_from_slice(
                format!("*3\r\n$3\r\nSET\r\n$5\r\nk{i:04}\r\n$1\r\nv\r\n").as_bytes(),
            );
        }
        s.write_all(&req).expect("write");
        drop(s);
    }
    let mut con = node.client();
    let pong: String = redis::cmd("PING").query(&mut con).expect("ping");
    assert_eq!(pong, "PONG");
    thread::sleep(Duration::from_millis(200));
    assert_only_one_client(&mut con);
}

#[test]
fn sigterm_stops_the_node_cleanly() {
    let mut node = Node::start(&[]);
    let status = Command::new("kill")
        .args(["-TERM", &node.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = node
        .wait_exit(Duration::from_secs(5))
        .expect("exited after SIGTERM");
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn shutdown_command_stops_the_node() {
    let mut node = Node::start(&[]);
    let mut s = node.raw();
    s.write_all(b"SHUTDOWN NOSAVE\r\n").expect("write");
    let (reply, closed) = read_until_closed(&mut s, Duration::from_secs(5));
    assert!(reply.is_empty(), "{reply:?}");
    assert!(closed);
    let exit = node
        .wait_exit(Duration::from_secs(5))
        .expect("exited after SHUTDOWN");
    assert!(exit.success(), "{exit:?}");
}

/// Writes `n` keys and an INCR counter, acknowledged one pipeline at a time.
fn write_workload(con: &mut redis::Connection, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let mut pipe = redis::pipe();
        for i in chunk {
            pipe.cmd("SET").arg(format!("dur:{i}")).arg(i).ignore();
            pipe.cmd("INCR").arg("dur:counter").ignore();
        }
        let _: () = pipe.query(con).expect("acknowledged writes");
    }
    let _: () = redis::cmd("SET")
        .arg("dur:ttl")
        .arg("v")
        .arg("EX")
        .arg(3600)
        .query(con)
        .expect("set with ttl");
}

fn check_workload(con: &mut redis::Connection, n: usize) {
    let keys: Vec<String> = (0..n).map(|i| format!("dur:{i}")).collect();
    let values: Vec<Option<usize>> = redis::cmd("MGET").arg(&keys).query(con).expect("mget");
    for (i, v) in values.iter().enumerate() {
        assert_eq!(*v, Some(i), "dur:{i} lost");
    }
    let counter: usize = redis::cmd("GET")
        .arg("dur:counter")
        .query(con)
        .expect("counter");
    assert_eq!(counter, n);
    let ttl: i64 = redis::cmd("TTL").arg("dur:ttl").query(con).expect("ttl");
    assert!(ttl > 3500 && ttl <= 3600, "ttl {ttl}");
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    for policy in ["everysec", "always"] {
        let dir = support::temp_dir("node");
        let node = Node::start_in(dir.clone(), &["--appendfsync", policy]);
        write_workload(&mut node.client(), 2000);
        let pid = node.pid();
        let killed = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        // Keep the directory: the restarted node must find its state there.
        let mut dead = node;
        let _ = dead.wait_exit(Duration::from_secs(5));
        dead.dir = support::temp_dir("node");
        drop(dead);
        let node = Node::start_in(dir, &["--appendfsync", policy]);
        check_workload(&mut node.client(), 2000);
    }
}

/// The `snapshot=` index of `shard0` in `INFO replication`.
fn shard0_snapshot_index(con: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query(con)
        .expect("info replication");
    info.lines()
        .find_map(|l| l.strip_prefix("shard0:"))
        .and_then(|l| l.split(',').find_map(|f| f.strip_prefix("snapshot=")))
        .and_then(|v| v.parse().ok())
        .expect("shard0 snapshot index")
}

#[test]
fn an_idle_group_snapshots_and_drops_the_log_of_its_last_burst() {
    // Far below the size threshold (4 MiB) and the entry count: only the idle rule can fire.
    let node = Node::start(&["--shards", "1"]);
    let mut con = node.client();
    let value = "v".repeat(100);
    for i in 0..1500 {
        let _: () = redis::cmd("SET")
            .arg(format!("key:{i}"))
            .arg(&value)
            .query(&mut con)
            .expect("set");
    }
    assert_eq!(shard0_snapshot_index(&mut con), 0, "snapshotted while busy");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while shard0_snapshot_index(&mut con) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no snapshot after the writes stopped"
        );
        thread::sleep(Duration::from_millis(100));
    }
    let got: String = redis::cmd("GET")
        .arg("key:1499")
        .query(&mut con)
        .expect("get");
    assert_eq!(got, value);
    // INFO persistence tells: the WAL is the AOF, snapshots are saves.
    let info: String = redis::cmd("INFO")
        .arg("persistence")
        .query(&mut con)
        .expect("info persistence");
    let field = |name: &str| -> String {
        info.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
            .unwrap_or_else(|| panic!("no {name} in {info}"))
            .to_string()
    };
    assert_eq!(field("aof_enabled"), "1");
    assert_eq!(field("aof_last_write_status"), "ok");
    assert!(field("aof_current_size").parse::<u64>().expect("size") > 150_000);
    assert!(field("rdb_saves").parse::<u64>().expect("saves") >= 1);
    assert_eq!(field("rdb_last_bgsave_status"), "ok");
    assert!(field("rdb_last_save_time").parse::<u64>().expect("time") > 1_700_000_000);
}

#[test]
fn a_restarting_node_answers_loading_until_its_whole_dataset_is_there() {
    let dir = support::temp_dir("node");
    let args = ["--shards", "16"];
    let node = Node::start_in(dir.clone(), &args);
    write_workload(&mut node.client(), 20_000);
    let total: i64 = redis::cmd("DBSIZE")
        .query(&mut node.client())
        .expect("dbsize");
    assert_eq!(total, 20_002);
    let mut dead = node;
    dead.dir = support::temp_dir("node");
    drop(dead);

    // Restart on the same port and ask at once, over and over: every answer is either
    // -LOADING or the whole keyspace, never a part of it (the node used to count only the
    // shards already led and replayed: DBSIZE grew over the first 100 ms).
    let port = support::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shardis"))
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--log-level", "warn", "--shards", "16", "--data-dir"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn shardis");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut s = loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            break s;
        }
        assert!(Instant::now() < deadline, "never listened");
        thread::sleep(Duration::from_millis(2));
    };
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let (mut loading, mut answers) = (0, Vec::new());
    let mut reader = std::io::BufReader::new(s.try_clone().expect("clone"));
    loop {
        s.write_all(b"DBSIZE\r\nPING\r\n").expect("write");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut reader, &mut line).expect("dbsize reply");
        let mut pong = String::new();
        std::io::BufRead::read_line(&mut reader, &mut pong).expect("ping reply");
        if line == "-LOADING Redis is loading the dataset in memory\r\n" {
            loading += 1;
            // PING is not allowed while loading either, as in redis 7.
            assert_eq!(pong, "-LOADING Redis is loading the dataset in memory\r\n");
        } else {
            answers.push(line.clone());
            assert_eq!(
                line, ":20002\r\n",
                "a partial keyspace after {loading} -LOADING"
            );
            assert_eq!(pong, "+PONG\r\n");
            break;
        }
        assert!(Instant::now() < deadline, "still loading");
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("{loading} -LOADING answers before the whole keyspace");
}

/// A node of one shard that snapshots every 10 entries, with `faults` injected
/// (`SHARDIS_FAULTS`), its log in `log`.
fn start_with_faults(dir: &std::path::Path, faults: &str, log: &std::path::Path) -> (Child, u16) {
    let port = support::free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_shardis"))
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--shards", "1", "--snapshot-logs", "10", "--data-dir"])
        .arg(dir)
        .env("SHARDIS_FAULTS", faults)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("spawn shardis");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "never listened");
        thread::sleep(Duration::from_millis(20));
    }
    (child, port)
}

/// 40 SETs, one log entry each, once the node serves (it may still be loading).
fn forty_writes_once_served(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while forty_writes(port).is_err() {
        assert!(Instant::now() < deadline, "never served");
        thread::sleep(Duration::from_millis(50));
    }
}

/// 40 SETs, one log entry each.
fn forty_writes(port: u16) -> redis::RedisResult<()> {
    let mut con = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?.get_connection()?;
    for i in 0..40 {
        redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query::<()>(&mut con)?;
    }
    Ok(())
}

#[test]
fn a_snapshot_write_that_fails_for_a_while_is_retried() {
    let dir = support::temp_dir("faults");
    let log = dir.with_extension("log");
    let (mut child, port) = start_with_faults(&dir, "snapshot-write:2", &log);
    forty_writes_once_served(port);
    // The third attempt succeeds: a snapshot is saved, and the node goes on serving.
    let mut con = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .and_then(|c| c.get_connection())
        .expect("connect");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info: String = redis::cmd("INFO")
            .arg("persistence")
            .query(&mut con)
            .expect("info");
        if info.contains("rdb_last_bgsave_status:ok") && !info.contains("rdb_saves:0") {
            break;
        }
        assert!(Instant::now() < deadline, "no snapshot saved:\n{info}");
        thread::sleep(Duration::from_millis(100));
    }
    let value: i64 = redis::cmd("GET").arg("k39").query(&mut con).expect("get");
    assert_eq!(value, 39);
    assert!(
        child.try_wait().expect("status").is_none(),
        "the node stopped"
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        text.matches("cannot write the snapshot").count(),
        2,
        "{text}"
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}

#[test]
fn a_group_that_cannot_go_on_stops_the_node_with_a_failure_status() {
    let dir = support::temp_dir("faults");
    let log = dir.with_extension("log");
    let (mut child, port) = start_with_faults(&dir, "snapshot-write@eio", &log);
    forty_writes_once_served(port);
    // Every attempt fails: after about 8 s of retries the group's Raft core stops, and the node
    // with it (it used to stay up with that shard dead, CLUSTER INFO still saying ok).
    let status =
        support::wait_exit(&mut child, Duration::from_secs(30)).expect("the node is still up");
    assert!(!status.success(), "{status}");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("a Raft group stopped on a storage error"),
        "{text}"
    );
    assert!(
        text.contains("cannot write the snapshot; giving up"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}

fn used_memory(con: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("memory").query(con).expect("info");
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory")
}

#[test]
fn a_big_value_written_and_deleted_leaves_no_log_behind() {
    let node = Node::start(&["--shards", "1"]);
    let mut con = node.client();
    let before = used_memory(&mut con);
    let big = vec![b'x'; 16 << 20];
    let mut writer = node.client();
    for _ in 0..3 {
        let _: () = redis::cmd("SET")
            .arg("big")
            .arg(&big)
            .query(&mut writer)
            .expect("set");
        let _: i64 = redis::cmd("DEL")
            .arg("big")
            .query(&mut writer)
            .expect("del");
    }
    // (Its read buffer, grown to the value's size, goes with it.)
    drop(writer);
    // Idle now: the log of those writes (48 MiB) must go with a snapshot. It used to stay
    // (openraft kept the last 10 entries whatever their size, and the size trigger forgot
    // the entries a snapshot had not reached).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = used_memory(&mut con);
        if now < before + (8 << 20) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "used_memory {now} after the writes, {before} before"
        );
        thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn restart_recovers_from_snapshot_and_log() {
    let dir = support::temp_dir("node");
    // Snapshots every 10 entries: the restart goes through snapshot install plus log replay.
    let args = ["--snapshot-logs", "10", "--shards", "2"];
    let node = Node::start_in(dir.clone(), &args);
    let mut con = node.client();
    write_workload(&mut con, 3000);
    thread::sleep(Duration::from_millis(300));
    let snapshots = std::fs::read_dir(dir.join("snapshots"))
        .expect("snapshot dir")
        .count();
    assert!(snapshots >= 1, "no snapshot was written");
    let mut dead = node;
    dead.dir = support::temp_dir("node");
    drop(dead);
    let node = Node::start_in(dir, &args);
    check_workload(&mut node.client(), 3000);
    // Expired keys stay expired across the restart (deadlines are absolute).
    let _: () = redis::cmd("SET")
        .arg("short")
        .arg("v")
        .arg("PX")
        .arg(50)
        .query(&mut node.client())
        .expect("set px");
    thread::sleep(Duration::from_millis(100));
    let gone: Option<String> = redis::cmd("GET")
        .arg("short")
        .query(&mut node.client())
        .expect("get");
    assert_eq!(gone, None);
}

/// SORT's BY and GET patterns must name keys of the sorted key's slot, as on Redis Cluster 7.4
/// (redis 7.0's cluster refuses every pattern; a standalone redis accepts any): a pattern with a
/// hash tag of that slot before its first wildcard is served, any other is refused, and a STORE
/// destination of another slot is CROSSSLOT.
#[test]
fn sort_patterns_must_stay_in_the_sorted_keys_slot() {
    let node = Node::start(&["--shards", "4"]);
    let mut con = node.client();
    let _: () = redis::cmd("RPUSH")
        .arg("{u}ids")
        .arg(&["1", "2"])
        .query(&mut con)
        .expect("rpush");
    let _: () = redis::cmd("MSET")
        .arg(&[
            "{u}w_1", "2", "{u}w_2", "1", "{u}n_1", "one", "{u}n_2", "two",
        ])
        .query(&mut con)
        .expect("mset");
    let sorted: Vec<String> = redis::cmd("SORT")
        .arg(&["{u}ids", "BY", "{u}w_*", "GET", "{u}n_*", "GET", "#"])
        .query(&mut con)
        .expect("sort");
    assert_eq!(sorted, ["two", "2", "one", "1"]);
    let mut refused = |args: &[&str]| -> String {
        let r: redis::RedisResult<redis::Value> = redis::cmd("SORT").arg(args).query(&mut con);
        match r {
            Err(e) => e.to_string(),
            Ok(v) => panic!("SORT {args:?} answered {v:?}"),
        }
    };
    let by = refused(&["{u}ids", "BY", "w_*"]);
    assert!(
        by.contains("BY option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots."),
        "{by}"
    );
    let by = refused(&["{u}ids", "BY", "{u*}w"]);
    assert!(by.contains("BY option of SORT denied"), "{by}");
    let get = refused(&["{u}ids", "BY", "{u}w_*", "GET", "{other}n_*"]);
    assert!(
        get.contains("GET option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots."),
        "{get}"
    );
    let cross = refused(&["{u}ids", "STORE", "elsewhere"]);
    assert!(
        cross.contains("Keys in request don't hash to the same slot"),
        "{cross}"
    );
}

#[test]
fn a_long_lrange_is_streamed_from_the_list_and_unaffected_by_later_writes() {
    let node = Node::start(&["--shards", "1"]);
    let mut con = node.client();
    let item = |i: usize| format!("{i:0>96}");
    let (total, batch) = (400_000, 1000);
    for start in (0..total).step_by(batch) {
        let mut push = redis::cmd("RPUSH");
        push.arg("l");
        for i in start..start + batch {
            push.arg(item(i));
        }
        let _: usize = push.query(&mut con).expect("rpush");
    }
    // Quiet first: no snapshot being written (its buffer would count as growth) and the log
    // no longer shrinking (a snapshot drops what it covers).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut log = u64::MAX;
    loop {
        let now = info_field(&mut con, "memory", "mem_raft_logs");
        if now == log && info_field(&mut con, "persistence", "rdb_bgsave_in_progress") == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the node never settled");
        log = now;
        thread::sleep(Duration::from_millis(1500));
    }
    let saves = info_field(&mut con, "persistence", "rdb_saves");
    let before = allocated_besides_logs(&mut con);
    // A client asks for the whole list (about 41 MB of reply) and does not read it yet.
    let mut slow = node.client();
    slow.send_packed_command(
        &redis::cmd("LRANGE")
            .arg("l")
            .arg(0)
            .arg(-1)
            .get_packed_command(),
    )
    .expect("send");
    thread::sleep(Duration::from_millis(1500));
    let grown = allocated_besides_logs(&mut con).saturating_sub(before);
    // Meanwhile the shard goes on: the list changes under the pending reply.
    let _: () = redis::cmd("LSET")
        .arg("l")
        .arg(0)
        .arg("changed")
        .query(&mut con)
        .expect("lset");
    let len: usize = redis::cmd("RPUSH")
        .arg("l")
        .arg("tail")
        .query(&mut con)
        .expect("rpush");
    assert_eq!(len, total + 1);
    let _: () = redis::cmd("LTRIM")
        .arg("l")
        .arg(0)
        .arg(9)
        .query(&mut con)
        .expect("ltrim");
    // Held as the list's nodes, not encoded whole: the process has not grown by the reply.
    assert!(
        grown < 12 << 20,
        "{} MiB more allocated while a 41 MB reply waited (log {log} bytes before, {} after; \
         snapshots {saves} before, {} after)",
        grown >> 20,
        info_field(&mut con, "memory", "mem_raft_logs"),
        info_field(&mut con, "persistence", "rdb_saves"),
    );
    let reply: Vec<Vec<u8>> =
        redis::from_redis_value(slow.recv_response().expect("reply")).expect("array");
    assert_eq!(reply.len(), total, "the list as it was when LRANGE ran");
    for (i, got) in reply.iter().enumerate() {
        assert_eq!(got, item(i).as_bytes(), "element {i}");
    }
    let now: Vec<String> = redis::cmd("LRANGE")
        .arg("l")
        .arg(0)
        .arg(-1)
        .query(&mut con)
        .expect("lrange");
    assert_eq!(now.len(), 10);
    assert_eq!(now[0], "changed");
}

#[test]
fn a_reply_that_cannot_fit_in_memory_is_refused_and_the_node_goes_on() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let big = vec![b'm'; 8 << 20];
    let _: () = redis::pipe()
        .cmd("SADD")
        .arg("s")
        .arg(&big)
        .ignore()
        .cmd("HSET")
        .arg("h")
        .arg("f")
        .arg(&big)
        .ignore()
        .cmd("ZADD")
        .arg("z")
        .arg(1)
        .arg(&big)
        .ignore()
        .query(&mut con)
        .expect("fill");
    // 16M picks of an 8 MiB element: 128 TiB of reply (redis-server allocates until killed).
    for (cmd, extra) in [
        ("SRANDMEMBER", vec![]),
        ("HRANDFIELD", vec!["WITHVALUES"]),
        ("ZRANDMEMBER", vec!["WITHSCORES"]),
    ] {
        let key = &cmd[..1].to_lowercase();
        let err = redis::cmd(cmd)
            .arg(key)
            .arg(-16_000_000)
            .arg(&extra)
            .query::<redis::Value>(&mut con)
            .expect_err(cmd);
        assert!(err.to_string().contains("reply too large"), "{cmd}: {err}");
    }
    // A reply that fits is answered, and the node has stayed up.
    let three: Vec<Vec<u8>> = redis::cmd("SRANDMEMBER")
        .arg("s")
        .arg(-3)
        .query(&mut con)
        .expect("srandmember");
    assert_eq!(three, vec![big.clone(); 3]);
    let len: usize = redis::cmd("HSTRLEN")
        .arg("h")
        .arg("f")
        .query(&mut con)
        .expect("hstrlen");
    assert_eq!(len, big.len());
}

#[test]
fn memory_usage_counts_a_value_and_purge_hands_freed_pages_back() {
    let node = Node::start(&["--shards", "1"]);
    let mut con = node.client();
    let usage = |con: &mut redis::Connection, key: &str| -> Option<u64> {
        redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(key)
            .query(con)
            .expect("memory usage")
    };
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(vec![b'v'; 1 << 20])
        .query(&mut con)
        .expect("set");
    let big = usage(&mut con, "big").expect("present");
    assert!((1 << 20..(1 << 20) + 256).contains(&big), "{big}");
    // A large hash counts its table, growing with its fields.
    for i in 0..2000 {
        let _: () = redis::cmd("HSET")
            .arg("h")
            .arg(format!("field-{i}"))
            .arg(vec![b'x'; 100])
            .query(&mut con)
            .expect("hset");
    }
    let hash = usage(&mut con, "h").expect("present");
    assert!((2000 * 100..2000 * 400).contains(&hash), "{hash}");
    assert_eq!(usage(&mut con, "missing"), None);
    // 256 MiB allocated and freed stay resident for jemalloc's decay (over 10 s, by its
    // background thread); PURGE returns at once what is still there.
    // (resident, freed pages kept: resident less active), from one INFO reply.
    let resident_and_dirty = |con: &mut redis::Connection| {
        let [resident, active] = memory_fields(con, ["allocator_resident", "allocator_active"]);
        (resident, resident.saturating_sub(active))
    };
    for i in 0..64 {
        let _: () = redis::cmd("SET")
            .arg(format!("tmp{i}"))
            .arg(vec![b't'; 4 << 20])
            .query(&mut con)
            .expect("set");
    }
    let _: () = redis::cmd("FLUSHALL").query(&mut con).expect("flushall");
    let (before, dirty_before) = resident_and_dirty(&mut con);
    let _: () = redis::cmd("MEMORY")
        .arg("PURGE")
        .query(&mut con)
        .expect("purge");
    let (after, dirty_after) = resident_and_dirty(&mut con);
    assert!(
        dirty_before >= 64 << 20 && after + (64 << 20) < before && dirty_after < 16 << 20,
        "resident {} MiB ({} MiB freed) before PURGE, {} MiB ({} MiB freed) after",
        before >> 20,
        dirty_before >> 20,
        after >> 20,
        dirty_after >> 20
    );
}

#[test]
fn info_memory_shows_the_peak_and_the_dataset() {
    let node = Node::start(&["--shards", "2"]);
    let mut con = node.client();
    let field = |con: &mut redis::Connection, name: &str| info_field(con, "memory", name);
    let dataset_before = field(&mut con, "used_memory_dataset");
    // 32 MiB of values: the dataset grows by about that, and the peak stays at least as high
    // once they are deleted.
    for i in 0..32 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(vec![b'v'; 1 << 20])
            .query(&mut con)
            .expect("set");
    }
    let dataset = field(&mut con, "used_memory_dataset") - dataset_before;
    assert!(
        (32 << 20..34 << 20).contains(&dataset),
        "dataset grew {dataset}"
    );
    let peak = field(&mut con, "used_memory_peak");
    assert!(
        peak >= field(&mut con, "used_memory_startup") + (32 << 20),
        "peak {peak}"
    );
    let _: () = redis::cmd("FLUSHALL").query(&mut con).expect("flushall");
    assert!(field(&mut con, "used_memory_dataset") < 1 << 20);
    assert!(
        field(&mut con, "used_memory_peak") >= peak,
        "the peak stays"
    );
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query(&mut con)
        .expect("info");
    for name in ["used_memory_peak_perc:", "used_memory_dataset_perc:"] {
        let line = info.lines().find(|l| l.starts_with(name)).expect(name);
        assert!(line.ends_with('%'), "{line}");
    }
}

/// What a Shardis transaction does differently from a standalone redis, on purpose: all its
/// keys (the watched ones too) in one slot, commands spanning shards refused while queueing;
/// and what the client list shows meanwhile. A logged transaction replays after a restart.
#[test]
fn transactions_stay_in_one_slot_and_replay_after_a_restart() {
    let dir = support::temp_dir("node");
    let args = ["--shards", "4", "--snapshot-logs", "10"];
    let node = Node::start_in(dir.clone(), &args);
    let mut con = support::RawClient::connect(node.port);
    let send = |con: &mut support::RawClient, words: &[&str]| -> String {
        String::from_utf8_lossy(&con.cmd_str(words)).into_owned()
    };
    // A watched key of another slot than the queued commands': CROSSSLOT at EXEC, nothing runs.
    assert_eq!(send(&mut con, &["WATCH", "{a}w"]), "+OK\r\n");
    assert_eq!(send(&mut con, &["MULTI"]), "+OK\r\n");
    assert_eq!(send(&mut con, &["SET", "{b}x", "1"]), "+QUEUED\r\n");
    let mut other = support::RawClient::connect(node.port);
    let list = send(&mut other, &["CLIENT", "LIST"]);
    assert!(
        list.lines()
            .any(|l| l.contains("flags=x") && l.contains("multi=1") && l.contains("watch=1")),
        "{list}"
    );
    let exec = send(&mut con, &["EXEC"]);
    assert!(exec.contains("CROSSSLOT"), "{exec}");
    assert_eq!(send(&mut con, &["EXISTS", "{b}x"]), ":0\r\n");
    let list = send(&mut con, &["CLIENT", "INFO"]);
    assert!(
        list.contains("flags=N") && list.contains("multi=-1") && list.contains("watch=0"),
        "{list}"
    );
    // Commands that span shards, or need the leader's random pick, are refused while queueing.
    for words in [
        &["FLUSHALL"][..],
        &["KEYS", "*"],
        &["DBSIZE"],
        &["SCAN", "0"],
        &["RANDOMKEY"],
        &["INFO"],
        &["SPOP", "{a}s"],
    ] {
        assert_eq!(send(&mut con, &["MULTI"]), "+OK\r\n");
        let refused = send(&mut con, words);
        assert!(
            refused.contains("cannot run inside a transaction here"),
            "{words:?}: {refused}"
        );
        let exec = send(&mut con, &["EXEC"]);
        assert!(exec.contains("EXECABORT"), "{words:?}: {exec}");
    }
    // Transactions logged, then a restart replays them (snapshot plus log).
    for i in 0..40 {
        assert_eq!(send(&mut con, &["MULTI"]), "+OK\r\n");
        send(&mut con, &["INCR", "{t}n"]);
        send(&mut con, &["RPUSH", "{t}l", &i.to_string()]);
        send(&mut con, &["DEL", "{t}gone"]);
        let exec = send(&mut con, &["EXEC"]);
        assert!(exec.starts_with("*3\r\n"), "{exec}");
    }
    let mut dead = node;
    dead.dir = support::temp_dir("node");
    drop(dead);
    let node = Node::start_in(dir, &args);
    let mut con = support::RawClient::connect(node.port);
    assert_eq!(send(&mut con, &["GET", "{t}n"]), "$2\r\n40\r\n");
    assert_eq!(send(&mut con, &["LLEN", "{t}l"]), ":40\r\n");
}

/// A script that runs past the busy threshold: its shard's other clients get `-BUSY` (the other
/// shards serve), SCRIPT KILL stops it, even after a write, and nothing it wrote applies.
#[test]
fn a_busy_script_is_answered_busy_and_killed() {
    let node = Node::start(&["--shards", "4"]);
    let send = |con: &mut support::RawClient, words: &[&str]| -> String {
        String::from_utf8_lossy(&con.cmd_str(words)).into_owned()
    };
    let mut other = support::RawClient::connect(node.port);
    assert_eq!(
        send(&mut other, &["SCRIPT", "KILL"]),
        "-NOTBUSY No scripts in execution right now.\r\n"
    );
    let mut runner = support::RawClient::connect(node.port);
    runner.set_read_timeout(Duration::from_secs(30));
    runner.send(&[
        b"EVAL",
        b"redis.call('set', KEYS[1], 'written') while true do end",
        b"1",
        b"{busy}a",
    ]);
    // Before the threshold a request of the shard waits in line; past it, it is refused.
    thread::sleep(Duration::from_millis(5300));
    assert_eq!(
        send(&mut other, &["GET", "{busy}b"]),
        "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    );
    let elsewhere = (0..)
        .map(|i| format!("k{i}"))
        .find(|k| {
            let map = shardis::slot::ShardMap::new(4);
            map.shard_of_slot(shardis::slot::key_slot(k.as_bytes()))
                != map.shard_of_slot(shardis::slot::key_slot(b"{busy}a"))
        })
        .expect("a key of another shard");
    assert_eq!(send(&mut other, &["SET", &elsewhere, "v"]), "+OK\r\n");
    assert_eq!(send(&mut other, &["SCRIPT", "KILL"]), "+OK\r\n");
    let killed = String::from_utf8_lossy(&runner.read_reply()).into_owned();
    assert!(
        killed.starts_with("-ERR Script killed by user with SCRIPT KILL... script: "),
        "{killed}"
    );
    // Its write was an effect not yet logged: gone with it.
    assert_eq!(send(&mut other, &["EXISTS", "{busy}a"]), ":0\r\n");
    assert_eq!(send(&mut other, &["GET", "{busy}b"]), "$-1\r\n");
}
