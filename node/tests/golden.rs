//! Golden data: data directories (WAL segments and snapshot files) written by a release are
//! checked in under `tests/golden/<set>/data`, with the keyspace they held in
//! `tests/golden/<set>/keyspace.txt`. Every later release must load each set to exactly that
//! keyspace: a format that changes without a new format version, or a logged command that
//! parses differently, fails here.
//!
//! A new set is written with
//! `SHARDIS_GOLDEN_WRITE=<set> cargo test -p shardis --test golden -- --ignored`
//! (when a format version changes; old sets stay, since a release must still read them or
//! refuse them by name).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

mod support;

use support::{parse_reply, RawClient, Reply, Server};

/// Where the sets live.
fn golden_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn run(c: &mut RawClient, args: &[&[u8]]) -> Reply {
    parse_reply(&c.cmd(args))
}

/// The whole keyspace, one line per key, sorted: key and value in hex, the deadline (Unix ms,
/// -1 for none). A hash's value is `hash:` and its sorted `field=value` pairs in hex, joined
/// by commas; a set's `set:` and its sorted members in hex.
fn keyspace(c: &mut RawClient) -> Vec<String> {
    let keys = run(c, &[b"KEYS", b"*"]);
    let keys = keys.items().expect("KEYS answers an array");
    let mut lines: Vec<String> = keys
        .iter()
        .map(|k| {
            let key = k.bytes().expect("a key");
            let kind = run(c, &[b"TYPE", key]);
            let value = if kind == Reply::Simple(b"hash".to_vec()) {
                let all = run(c, &[b"HGETALL", key]);
                let items = all.items().expect("HGETALL answers an array");
                let mut pairs: Vec<String> = items
                    .chunks(2)
                    .map(|p| {
                        let part = |r: &Reply| hex(r.bytes().expect("a field or value"));
                        format!("{}={}", part(&p[0]), part(&p[1]))
                    })
                    .collect();
                pairs.sort();
                format!("hash:{}", pairs.join(","))
            } else if kind == Reply::Simple(b"list".to_vec()) {
                let all = run(c, &[b"LRANGE", key, b"0", b"-1"]);
                let items = all.items().expect("LRANGE answers an array");
                let items: Vec<String> = items
                    .iter()
                    .map(|i| hex(i.bytes().expect("an element")))
                    .collect();
                format!("list:{}", items.join(","))
            } else if kind == Reply::Simple(b"zset".to_vec()) {
                let all = run(c, &[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]);
                let items = all.items().expect("ZRANGE answers an array");
                let pairs: Vec<String> = items
                    .chunks(2)
                    .map(|p| {
                        let member = hex(p[0].bytes().expect("a member"));
                        let score =
                            String::from_utf8_lossy(p[1].bytes().expect("a score")).into_owned();
                        format!("{member}={score}")
                    })
                    .collect();
                format!("zset:{}", pairs.join(","))
            } else if kind == Reply::Simple(b"set".to_vec()) {
                let all = run(c, &[b"SMEMBERS", key]);
                let items = all.items().expect("SMEMBERS answers an array");
                let mut members: Vec<String> = items
                    .iter()
                    .map(|m| hex(m.bytes().expect("a member")))
                    .collect();
                members.sort();
                format!("set:{}", members.join(","))
            } else {
                hex(run(c, &[b"GET", key]).bytes().expect("a string value"))
            };
            let deadline = run(c, &[b"PEXPIRETIME", key]).as_int().expect("a deadline");
            format!("{} {value} {deadline}", hex(key))
        })
        .collect();
    lines.sort();
    lines
}

/// Copies a directory tree (snapshot files in progress, `*.tmp`, left out).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else if path.extension().is_none_or(|e| e != "tmp") {
            std::fs::copy(&path, &target).expect("copy file");
        }
    }
}

/// The sets checked in.
fn sets() -> Vec<PathBuf> {
    let mut sets: Vec<PathBuf> = std::fs::read_dir(golden_root())
        .expect("tests/golden")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("keyspace.txt").exists())
        .collect();
    sets.sort();
    sets
}

/// A node on a copy of `set`'s data directory.
fn start_on_copy(set: &Path) -> (Server, PathBuf) {
    let copy = support::temp_dir("golden");
    copy_tree(&set.join("data"), &copy.join("data"));
    let data = copy.join("data");
    let data_s = data.to_string_lossy().into_owned();
    let server = Server::shardis_with(&["--data-dir", &data_s]);
    (server, copy)
}

#[test]
fn every_golden_set_loads_to_its_keyspace() {
    let sets = sets();
    assert!(!sets.is_empty(), "no golden set under tests/golden");
    for set in sets {
        let expected: Vec<String> = std::fs::read_to_string(set.join("keyspace.txt"))
            .expect("keyspace.txt")
            .lines()
            .map(str::to_string)
            .collect();
        assert!(expected.len() > 100, "{}: a real keyspace", set.display());
        let (server, copy) = start_on_copy(&set);
        // A restarted node first wins each group's election; KEYS covers the shards it leads,
        // so wait until every shard has its leader and takes writes.
        let mut c = server.client();
        let deadline = Instant::now() + Duration::from_secs(10);
        let all_led = |c: &mut RawClient| {
            run(c, &[b"CLUSTER", b"INFO"])
                .bytes()
                .is_some_and(|t| String::from_utf8_lossy(t).contains("cluster_state:ok"))
        };
        while !all_led(&mut c)
            || run(&mut c, &[b"SET", b"golden:probe", b"1"]) != Reply::Simple(b"OK".to_vec())
        {
            assert!(
                Instant::now() < deadline,
                "{}: never writable",
                set.display()
            );
            thread::sleep(Duration::from_millis(50));
        }
        run(&mut c, &[b"DEL", b"golden:probe"]);
        let got = keyspace(&mut c);
        assert_eq!(
            got.len(),
            expected.len(),
            "{}: key count differs",
            set.display()
        );
        for (g, e) in got.iter().zip(&expected) {
            assert_eq!(g, e, "{}: keyspace differs", set.display());
        }
        drop(server);
        std::fs::remove_dir_all(copy).ok();
    }
}

/// Runs the binary on `data` and returns its exit status and log, or fails if it keeps running.
fn run_expecting_exit(data: &Path) -> (std::process::ExitStatus, String) {
    let port = support::free_port().to_string();
    let log = data.with_extension("log");
    let out = std::fs::File::create(&log).expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_shardis"))
        .args(["--bind", "127.0.0.1", "--port", &port, "--shards", "4"])
        .arg("--data-dir")
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out.try_clone().expect("clone")))
        .stderr(Stdio::from(out))
        .spawn()
        .expect("spawn shardis");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return (status, std::fs::read_to_string(&log).unwrap_or_default());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the node kept running on damaged data; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_damaged_snapshot_file_stops_the_node_naming_the_file() {
    let set = sets().pop().expect("a golden set");
    let copy = support::temp_dir("golden-bad");
    let data = copy.join("data");
    copy_tree(&set.join("data"), &data);
    // The largest snapshot file, one byte changed in the middle of its keyspace data.
    let snapshot = std::fs::read_dir(data.join("snapshots"))
        .expect("snapshots")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "snap"))
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .expect("a snapshot file in the golden set");
    let mut bytes = std::fs::read(&snapshot).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&snapshot, &bytes).expect("write");
    let (status, log) = run_expecting_exit(&data);
    assert!(!status.success(), "exit status {status}; log:\n{log}");
    let name = snapshot
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(
        log.contains(&name) && log.contains("damaged"),
        "the log names the file and the damage:\n{log}"
    );
    std::fs::remove_dir_all(copy).ok();
}

/// Writes a new golden set named by `SHARDIS_GOLDEN_WRITE` (see the module's doc).
#[test]
#[ignore]
fn write_golden_set() {
    let Ok(name) = std::env::var("SHARDIS_GOLDEN_WRITE") else {
        eprintln!("SHARDIS_GOLDEN_WRITE is not set; nothing written");
        return;
    };
    let scratch = support::temp_dir("golden-write");
    let data = scratch.join("data");
    let data_s = data.to_string_lossy().into_owned();
    // Snapshots every 20 entries, so the set has both snapshots and log after them.
    let server = Server::shardis_with(&[
        "--data-dir",
        &data_s,
        "--snapshot-logs",
        "20",
        "--appendfsync",
        "always",
    ]);
    let mut c = server.client();
    write_every_kind_of_command(&mut c);
    // Let the last snapshots finish.
    thread::sleep(Duration::from_secs(3));
    let lines = keyspace(&mut c);
    drop(c);
    let out = golden_root().join(&name);
    assert!(!out.exists(), "{} exists already", out.display());
    copy_tree(&data, &out.join("data"));
    std::fs::write(out.join("keyspace.txt"), lines.join("\n") + "\n").expect("keyspace.txt");
    drop(server);
    eprintln!("wrote {} ({} keys)", out.display(), lines.len());
}

/// Every write command, with the options that change what is stored, and reads pipelined with
/// writes (so that reads are logged too), over keys of every shard.
fn write_every_kind_of_command(c: &mut RawClient) {
    let far = b"4102444800000"; // 2100-01-01, in ms
    let mut ok = |args: &[&[u8]]| {
        let reply = run(c, args);
        assert!(
            !matches!(reply, Reply::Error(_)),
            "{:?} -> {reply:?}",
            support::pretty_command(args)
        );
    };
    for i in 0..150 {
        let key = format!("plain:{i}");
        let value = format!("value-{i}-{}", "x".repeat(i % 40));
        ok(&[b"SET", key.as_bytes(), value.as_bytes()]);
    }
    ok(&[b"SET", b"bin:\x00\xff", b"\x00\x01\xfe\xff"]);
    ok(&[b"SET", b"int", b"12345"]);
    ok(&[b"SET", b"ttl:pxat", b"v", b"PXAT", far]);
    ok(&[b"SET", b"ttl:exat", b"v", b"EXAT", b"4102444800"]);
    ok(&[b"SET", b"ttl:ex", b"v", b"EX", b"1000000000"]);
    ok(&[b"SET", b"nx", b"first", b"NX"]);
    ok(&[b"SET", b"nx", b"second", b"NX"]);
    ok(&[b"SET", b"xx", b"v"]);
    ok(&[b"SET", b"xx", b"w", b"XX", b"GET"]);
    ok(&[b"SET", b"keep", b"v", b"PX", b"2000000000000"]);
    ok(&[b"SET", b"keep", b"w", b"KEEPTTL"]);
    ok(&[b"SETNX", b"setnx", b"v"]);
    ok(&[b"SETEX", b"setex", b"1000000000", b"v"]);
    ok(&[b"PSETEX", b"psetex", b"1000000000000", b"v"]);
    ok(&[b"GETSET", b"getset", b"v"]);
    ok(&[b"SET", b"getdel", b"v"]);
    ok(&[b"GETDEL", b"getdel"]);
    ok(&[b"SET", b"getex", b"v"]);
    ok(&[b"GETEX", b"getex", b"PXAT", far]);
    ok(&[b"SET", b"persist", b"v", b"EX", b"100000"]);
    ok(&[b"GETEX", b"persist", b"PERSIST"]);
    ok(&[b"MSET", b"m:1", b"a", b"m:2", b"b", b"m:3", b"c"]);
    ok(&[b"MSETNX", b"{mx}1", b"a", b"{mx}2", b"b"]);
    for _ in 0..5 {
        ok(&[b"INCR", b"counter"]);
    }
    ok(&[b"DECR", b"counter"]);
    ok(&[b"INCRBY", b"counter", b"-100"]);
    ok(&[b"DECRBY", b"counter", b"7"]);
    ok(&[b"INCRBYFLOAT", b"float", b"1.000000000000000000001"]);
    ok(&[b"INCRBYFLOAT", b"float", b"-5e-3"]);
    ok(&[b"INCRBYFLOAT", b"float", b"3.0e2"]);
    ok(&[b"APPEND", b"append", b"abc"]);
    ok(&[b"APPEND", b"append", b"def"]);
    ok(&[b"SETRANGE", b"range", b"5", b"patch"]);
    ok(&[b"SETRANGE", b"append", b"1", b"Z"]);
    ok(&[b"DEL", b"plain:0", b"plain:1", b"nothing"]);
    ok(&[b"UNLINK", b"plain:2"]);
    ok(&[b"SET", b"{r}src", b"v"]);
    ok(&[b"RENAME", b"{r}src", b"{r}dst"]);
    ok(&[b"SET", b"{r}a", b"1"]);
    ok(&[b"RENAMENX", b"{r}a", b"{r}b"]);
    ok(&[b"COPY", b"{r}b", b"{r}c"]);
    ok(&[b"COPY", b"{r}dst", b"{r}c", b"REPLACE"]);
    ok(&[b"EXPIRE", b"plain:3", b"1000000000"]);
    ok(&[b"PEXPIRE", b"plain:4", b"1000000000000", b"NX"]);
    ok(&[b"EXPIREAT", b"plain:5", b"4102444800"]);
    ok(&[b"PEXPIREAT", b"plain:6", far]);
    ok(&[b"EXPIRE", b"plain:6", b"1", b"GT"]);
    ok(&[b"PERSIST", b"plain:5"]);
    ok(&[b"EXPIRE", b"plain:7", b"-1"]);
    // Hashes (snapshot format 2): packed and table, every write command.
    for i in 0..40 {
        let key = format!("hash:{i}");
        ok(&[
            b"HSET",
            key.as_bytes(),
            b"f",
            b"v",
            b"n",
            i.to_string().as_bytes(),
        ]);
    }
    ok(&[b"HMSET", b"hash:0", b"g", b"\x00bin\xff", b"", b"empty"]);
    ok(&[b"HSETNX", b"hash:1", b"f", b"not-set"]);
    ok(&[b"HSETNX", b"hash:1", b"new", b"set"]);
    ok(&[b"HDEL", b"hash:2", b"f", b"nothing"]);
    ok(&[b"HDEL", b"hash:3", b"f", b"n"]);
    ok(&[b"HINCRBY", b"hash:4", b"n", b"-10"]);
    ok(&[b"HINCRBYFLOAT", b"hash:5", b"x", b"1.000000000000000000001"]);
    ok(&[b"EXPIRE", b"hash:6", b"1000000000"]);
    for i in 0..600 {
        let field = format!("field:{i}");
        ok(&[b"HSET", b"hash:table", field.as_bytes(), b"v"]);
    }
    ok(&[b"HSET", b"hash:long", b"f", &[b'x'; 100]]);
    ok(&[b"PEXPIREAT", b"hash:long", far]);
    ok(&[b"HSET", b"{hr}src", b"f", b"v"]);
    ok(&[b"RENAME", b"{hr}src", b"{hr}dst"]);
    ok(&[b"COPY", b"{hr}dst", b"{hr}copy"]);
    // Sets (snapshot format 3): intsets, tables, every write command, SPOP's logged effect.
    for i in 0..30 {
        let key = format!("{{set}}{i}");
        ok(&[
            b"SADD",
            key.as_bytes(),
            b"1",
            i.to_string().as_bytes(),
            b"-7",
        ]);
    }
    ok(&[b"SADD", b"{set}0", b"not-an-int", b"\x00bin"]);
    ok(&[b"SREM", b"{set}1", b"1", b"nothing"]);
    ok(&[b"SPOP", b"{set}2"]);
    ok(&[b"SPOP", b"{set}3", b"2"]);
    ok(&[b"SMOVE", b"{set}4", b"{set}5", b"-7"]);
    ok(&[b"SINTERSTORE", b"{set}inter", b"{set}6", b"{set}7"]);
    ok(&[
        b"SUNIONSTORE",
        b"{set}union",
        b"{set}6",
        b"{set}7",
        b"{set}0",
    ]);
    ok(&[b"SDIFFSTORE", b"{set}diff", b"{set}8", b"{set}9"]);
    ok(&[b"EXPIRE", b"{set}10", b"1000000000"]);
    let big: Vec<Vec<u8>> = (0..600).map(|i| (i * 3).to_string().into_bytes()).collect();
    let mut sadd: Vec<&[u8]> = vec![b"SADD", b"{set}table"];
    sadd.extend(big.iter().map(Vec::as_slice));
    ok(&sadd);
    // Sorted sets (snapshot format 4): listpack and skiplist, every write command.
    for i in 0..30 {
        let key = format!("{{zset}}{i}");
        ok(&[
            b"ZADD",
            key.as_bytes(),
            b"1",
            b"a",
            b"2.5",
            i.to_string().as_bytes(),
            b"-inf",
            b"low",
        ]);
    }
    ok(&[
        b"ZADD", b"{zset}0", b"XX", b"CH", b"3", b"a", b"4", b"absent",
    ]);
    ok(&[b"ZADD", b"{zset}1", b"INCR", b"0.1", b"a"]);
    ok(&[b"ZINCRBY", b"{zset}2", b"1e300", b"a"]);
    ok(&[b"ZREM", b"{zset}3", b"a"]);
    ok(&[b"ZPOPMIN", b"{zset}4"]);
    ok(&[b"ZPOPMAX", b"{zset}5", b"2"]);
    ok(&[b"ZMPOP", b"2", b"{zset}6", b"{zset}7", b"MAX"]);
    ok(&[b"ZREMRANGEBYSCORE", b"{zset}8", b"(1", b"+inf"]);
    ok(&[b"ZREMRANGEBYRANK", b"{zset}9", b"0", b"0"]);
    ok(&[b"ZREMRANGEBYLEX", b"{zset}10", b"-", b"+"]);
    ok(&[
        b"ZRANGESTORE",
        b"{zset}range",
        b"{zset}11",
        b"0",
        b"-1",
        b"REV",
    ]);
    ok(&[b"SADD", b"{zset}plain", b"a", b"b"]);
    ok(&[
        b"ZUNIONSTORE",
        b"{zset}union",
        b"2",
        b"{zset}12",
        b"{zset}plain",
        b"WEIGHTS",
        b"2",
        b"3",
    ]);
    ok(&[
        b"ZINTERSTORE",
        b"{zset}inter",
        b"2",
        b"{zset}12",
        b"{zset}13",
        b"AGGREGATE",
        b"MAX",
    ]);
    ok(&[b"ZDIFFSTORE", b"{zset}diff", b"2", b"{zset}14", b"{zset}15"]);
    ok(&[b"EXPIRE", b"{zset}16", b"1000000000"]);
    let members: Vec<Vec<u8>> = (0..300)
        .flat_map(|i| {
            [
                format!("{}", i % 17).into_bytes(),
                format!("m{i}").into_bytes(),
            ]
        })
        .collect();
    let mut zadd: Vec<&[u8]> = vec![b"ZADD", b"{zset}skiplist"];
    zadd.extend(members.iter().map(Vec::as_slice));
    ok(&zadd);
    // Lists (snapshot format 5): packed and past 8 KiB, every write command.
    for i in 0..30 {
        let key = format!("{{list}}{i}");
        ok(&[
            b"RPUSH",
            key.as_bytes(),
            b"a",
            i.to_string().as_bytes(),
            b"\x00bin",
        ]);
    }
    ok(&[b"LPUSH", b"{list}0", b"head", b"head2"]);
    ok(&[b"LPUSHX", b"{list}1", b"x"]);
    ok(&[b"RPUSHX", b"{list}absent", b"x"]);
    ok(&[b"LPOP", b"{list}2"]);
    ok(&[b"RPOP", b"{list}3", b"2"]);
    ok(&[b"LSET", b"{list}4", b"1", b"set"]);
    ok(&[b"LTRIM", b"{list}5", b"1", b"-1"]);
    ok(&[b"LINSERT", b"{list}6", b"AFTER", b"a", b"inserted"]);
    ok(&[b"LREM", b"{list}7", b"0", b"a"]);
    ok(&[b"LMOVE", b"{list}8", b"{list}9", b"LEFT", b"RIGHT"]);
    ok(&[b"RPOPLPUSH", b"{list}10", b"{list}new"]);
    ok(&[
        b"LMPOP",
        b"2",
        b"{list}absent",
        b"{list}11",
        b"RIGHT",
        b"COUNT",
        b"2",
    ]);
    ok(&[b"EXPIRE", b"{list}12", b"1000000000"]);
    let long: Vec<Vec<u8>> = (0..400).map(|i| format!("{i:040}").into_bytes()).collect();
    let mut rpush: Vec<&[u8]> = vec![b"RPUSH", b"{list}long"];
    rpush.extend(long.iter().map(Vec::as_slice));
    ok(&rpush);
    // Reads pipelined with writes to the same key: one log entry holds both.
    let pipeline: Vec<Vec<u8>> = [
        &[&b"SET"[..], b"piped", b"1"][..],
        &[b"GET", b"piped"],
        &[b"INCR", b"piped"],
        &[b"TTL", b"piped"],
        &[b"STRLEN", b"piped"],
        &[b"GETRANGE", b"piped", b"0", b"-1"],
        &[b"EXISTS", b"piped"],
        &[b"TYPE", b"piped"],
        &[b"OBJECT", b"ENCODING", b"piped"],
        &[b"MGET", b"piped", b"piped"],
        &[b"APPEND", b"piped", b"0"],
        &[b"HSET", b"piped-hash", b"f", b"1"],
        &[b"HGET", b"piped-hash", b"f"],
        &[b"HINCRBY", b"piped-hash", b"f", b"2"],
        &[b"HGETALL", b"piped-hash"],
        &[b"HRANDFIELD", b"piped-hash", b"-3", b"WITHVALUES"],
        &[b"HSCAN", b"piped-hash", b"0"],
        &[b"SADD", b"piped-set", b"a", b"1"],
        &[b"SISMEMBER", b"piped-set", b"a"],
        &[b"SPOP", b"piped-set"],
        &[b"SMEMBERS", b"piped-set"],
    ]
    .iter()
    .map(|args| support::encode_command(args))
    .collect();
    c.send_raw(&pipeline.concat());
    for _ in 0..pipeline.len() {
        let reply = parse_reply(&c.read_reply());
        assert!(!matches!(reply, Reply::Error(_)), "{reply:?}");
    }
    // An eviction (snapshot format 6 keeps the versions it compares; the log holds
    // `shardis:evict-unchanged`): volatile-ttl under a 1-byte limit evicts the keys with the
    // nearest deadlines first, then the limit is lifted.
    for args in [
        &[&b"SET"[..], b"{evict}soon", b"v", b"PX", b"100000000"][..],
        &[b"CONFIG", b"SET", b"maxmemory-policy", b"volatile-ttl"],
        &[b"CONFIG", b"SET", b"maxmemory", b"1"],
    ] {
        assert_eq!(run(c, args), Reply::Simple(b"OK".to_vec()));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while run(c, &[b"EXISTS", b"{evict}soon"]) != Reply::Integer(0) {
        assert!(Instant::now() < deadline, "nothing evicted");
        thread::sleep(Duration::from_millis(5));
    }
    let lift: &[&[u8]] = &[b"CONFIG", b"SET", b"maxmemory", b"0"];
    assert_eq!(run(c, lift), Reply::Simple(b"OK".to_vec()));
    // Transactions (`shardis:exec`, log format 3), one behind a WATCH of a present and an
    // absent key, one whose guard fails (so it is logged and changes nothing), and deletions
    // in their slot (deletion versions, snapshot format 7).
    for (watch, interfere) in [(true, false), (true, true), (false, false)] {
        if watch {
            assert_eq!(
                run(c, &[b"WATCH", b"{tx}a", b"{tx}absent"]),
                Reply::Simple(b"OK".to_vec())
            );
        }
        if interfere {
            run(c, &[b"SET", b"{tx}a", b"changed"]);
        }
        run(c, &[b"MULTI"]);
        run(c, &[b"INCR", b"{tx}n"]);
        run(c, &[b"RPUSH", b"{tx}l", b"a", b"b"]);
        run(c, &[b"DEL", b"{tx}gone"]);
        run(c, &[b"SET", b"{tx}a", b"v", b"PXAT", far]);
        run(c, &[b"BLPOP", b"{tx}l", b"0"]);
        let exec = run(c, &[b"EXEC"]);
        assert!(matches!(exec, Reply::Array(_)), "EXEC answered {exec:?}");
    }
    run(c, &[b"SET", b"{tx}gone", b"v"]);
    run(c, &[b"DEL", b"{tx}gone"]);
    // More plain writes after all that, so the log holds entries past the last snapshots.
    for i in 150..170 {
        let key = format!("plain:{i}");
        run(c, &[b"SET", key.as_bytes(), b"late"]);
    }
}
