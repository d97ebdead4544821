//! Multi-node replication tests: real `shardis` processes on loopback forming a 3-node cluster
//! (generated configs, free ports, private data dirs), with real faults — SIGKILL, restart,
//! SIGSTOP/SIGCONT.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

mod support;

use shardis::slot::{key_slot, ShardMap};
use support::cluster::{key_in_shard, key_in_shard_of, raw_cmd, Cluster, SHARDS};

#[test]
fn leader_failover_keeps_every_acknowledged_write() {
    let mut cluster = Cluster::start("");
    let mut acked = Vec::new();
    for i in 0..200 {
        let key = format!("k{i}");
        cluster
            .set(&key, &i.to_string(), Duration::from_secs(5))
            .expect("write");
        acked.push(key);
    }
    let shard = 0;
    let leader = cluster.leader_of(shard).expect("shard 0 has a leader");
    cluster.kill(leader);
    let killed_at = Instant::now();
    let key = key_in_shard(shard, "after-failover");
    cluster
        .set(&key, "v", Duration::from_secs(10))
        .expect("a new leader takes writes");
    let failover = killed_at.elapsed();
    eprintln!("failover of shard {shard}: first acknowledged write {failover:?} after the kill");
    assert!(
        failover < Duration::from_secs(2),
        "failover took {failover:?}"
    );
    for (i, key) in acked.iter().enumerate() {
        assert_eq!(
            cluster.get(key).as_deref(),
            Ok(i.to_string().as_str()),
            "{key} lost"
        );
    }
    // The old leader comes back, catches up and serves again.
    cluster.launch(leader);
    cluster.wait_ready(Duration::from_secs(20));
    assert_eq!(cluster.get(&key).as_deref(), Ok("v"));
}

#[test]
fn restarted_node_catches_up_through_log_and_snapshot() {
    // Snapshots every 20 entries: a node away for a while is sent a snapshot.
    let mut cluster = Cluster::start("snapshot-logs = 20");
    cluster.kill(2);
    for i in 0..300 {
        cluster
            .set(&format!("c{i}"), &i.to_string(), Duration::from_secs(5))
            .expect("write with one node down");
    }
    cluster.launch(2);
    cluster.wait_ready(Duration::from_secs(20));
    // Node 3 catches up: same applied index as the leaders, and it installed snapshots.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let views: Vec<_> = (0..3).filter_map(|i| cluster.shards_of(i)).collect();
        let caught_up = views.len() == 3
            && (0..usize::from(SHARDS)).all(|s| {
                let applied: Vec<u64> = views.iter().map(|v| v[s].2).collect();
                applied.iter().all(|&a| a == applied[0])
            });
        if caught_up {
            let snapshots = cluster
                .shards_of(2)
                .expect("node 3")
                .iter()
                .filter(|s| s.3 > 0)
                .count();
            assert!(snapshots > 0, "node 3 caught up without any snapshot");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node 3 did not catch up: {views:?}"
        );
        thread::sleep(Duration::from_millis(100));
    }
    // With node 1 gone, shards move to nodes 2 and 3, which must hold every write.
    cluster.kill(0);
    for i in 0..300 {
        assert_eq!(
            cluster.get(&format!("c{i}")).as_deref(),
            Ok(i.to_string().as_str()),
            "c{i}"
        );
    }
}

/// GET `key` on node `port` with READONLY (answered from its own replica), retried until it
/// has a value.
fn replica_get(port: u16, key: &str) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let value = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .and_then(|c| c.get_connection())
            .and_then(|mut con| {
                redis::cmd("READONLY").query::<()>(&mut con)?;
                redis::cmd("GET").arg(key).query::<Option<String>>(&mut con)
            });
        if let Ok(Some(v)) = value {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_damaged_snapshot_file_is_replaced_by_another_replicas_copy() {
    let mut cluster = Cluster::start("snapshot-logs = 20");
    for i in 0..300 {
        cluster
            .set(&format!("d{i}"), &i.to_string(), Duration::from_secs(5))
            .expect("write");
    }
    // Node 3 has snapshotted every shard (and dropped the log they cover).
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cluster
        .shards_of(2)
        .is_some_and(|v| v.iter().all(|s| s.3 > 0))
    {
        assert!(
            Instant::now() < deadline,
            "node 3 never snapshotted every shard"
        );
        thread::sleep(Duration::from_millis(100));
    }
    cluster.signal(2, "-TERM");
    cluster
        .wait_exit(2, Duration::from_secs(30))
        .expect("node 3 stopped");
    // One byte changed in the middle of every snapshot file of node 3.
    let snapshots = cluster.data_dir(2).join("snapshots");
    let mut damaged = 0;
    for entry in std::fs::read_dir(&snapshots).expect("snapshots") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "snap") {
            let mut bytes = std::fs::read(&path).expect("read");
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x40;
            std::fs::write(&path, &bytes).expect("write");
            damaged += 1;
        }
    }
    assert!(damaged >= usize::from(SHARDS), "{damaged} snapshot files");
    // It used to refuse to start; now it fetches healthy copies from nodes 1 and 2.
    cluster.launch(2);
    cluster.wait_ready(Duration::from_secs(30));
    let log = cluster.log(2);
    assert_eq!(
        log.matches("replaced by a healthy replica's copy").count(),
        damaged,
        "{log}"
    );
    let kept = std::fs::read_dir(&snapshots)
        .expect("snapshots")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().contains(".damaged-"))
        })
        .count();
    assert_eq!(kept, damaged, "the damaged files are kept aside");
    // Node 3's own replicas hold every write, read from them directly.
    for i in 0..300 {
        assert_eq!(
            replica_get(cluster.port(2), &format!("d{i}")).as_deref(),
            Some(i.to_string().as_str()),
            "d{i} on node 3"
        );
    }
}

#[test]
fn every_replica_evicts_the_same_keys_through_a_leader_kill() {
    let mut cluster = Cluster::start("");
    let field = |port: u16, section: &str, name: &str| -> u64 {
        raw_cmd(port, &["INFO", section])
            .expect("info")
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name}"))
    };
    // Each node holds a replica of every shard: 32 MiB of values against 12 MiB allowances,
    // each leader evicting from its own shards by random picks, in the entries of the writes.
    let limit_all = |cluster: &Cluster| {
        for i in 0..3 {
            let port = cluster.port(i);
            let base = field(port, "memory", "used_memory").saturating_sub(field(
                port,
                "memory",
                "mem_not_counted_for_evict",
            ));
            let limit = (base + (12 << 20)).to_string();
            raw_cmd(port, &["CONFIG", "SET", "maxmemory", &limit]).expect("maxmemory");
            raw_cmd(
                port,
                &["CONFIG", "SET", "maxmemory-policy", "allkeys-random"],
            )
            .expect("policy");
        }
    };
    limit_all(&cluster);
    let value = "v".repeat(32 << 10);
    let mut written = 0;
    let mut write = |cluster: &Cluster, range: std::ops::Range<usize>| {
        for i in range {
            // A node past its limit by replicas it only follows, with nothing left to evict in
            // the shards it leads, refuses writes (-OOM) as redis does when eviction frees
            // nothing; a write to a shard without a leader yet fails.
            if cluster
                .set(&format!("e{i}"), &value, Duration::from_millis(300))
                .is_ok()
            {
                written += 1;
            }
        }
    };
    write(&cluster, 0..400);
    // The leader of shard 0 is killed mid-load; its followers elect another, which goes on
    // evicting; it comes back and catches up (log or snapshot) with the evictions it missed.
    let victim = cluster.leader_of(0).expect("shard 0 has a leader");
    cluster.kill(victim);
    write(&cluster, 400..700);
    cluster.launch(victim);
    cluster.wait_ready(Duration::from_secs(20));
    // CONFIG SET is a node's own setting: the restarted node starts without the limit.
    limit_all(&cluster);
    write(&cluster, 700..1000);
    assert!(written > 500, "{written} of 1000 written");
    let evicted: u64 = (0..3)
        .map(|i| field(cluster.port(i), "stats", "evicted_keys"))
        .sum();
    assert!(evicted > 0, "nothing evicted");
    // No more evictions while the replicas are compared.
    for i in 0..3 {
        raw_cmd(cluster.port(i), &["CONFIG", "SET", "maxmemory", "0"]).expect("lift");
    }
    thread::sleep(Duration::from_millis(300));
    // Once every replica has applied what its leader did, each holds the same keys with the
    // same values: any replica answers READONLY reads from its own data.
    wait_replicas_settled(&cluster, Duration::from_secs(20));
    let digests: Vec<_> = (0..3).map(|i| replica_digest(cluster.port(i))).collect();
    let total = digests[0].len() as u64;
    assert!(
        total > 100 && total < written,
        "{total} keys left of {written}"
    );
    for i in 1..3 {
        assert!(
            digests[i] == digests[0],
            "node {} holds other keys than node 1: {} against {}",
            i + 1,
            digests[i].len(),
            digests[0].len()
        );
    }
}

#[test]
fn a_leader_cut_off_from_its_followers_stops_serving() {
    let cluster = Cluster::start("");
    let shard = 1;
    let key = key_in_shard(shard, "isolated");
    cluster
        .set(&key, "before", Duration::from_secs(5))
        .expect("write");
    let leader = cluster.leader_of(shard).expect("leader");
    let port = cluster.port(leader);
    let followers: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    for &f in &followers {
        cluster.signal(f, "-STOP");
    }
    // Within the lease (well under a second), the old leader must stop answering as leader.
    thread::sleep(Duration::from_millis(1000));
    let write = raw_cmd(port, &["SET", &key, "during"]);
    let read = raw_cmd(port, &["GET", &key]);
    for &f in &followers {
        cluster.signal(f, "-CONT");
    }
    assert!(
        write.is_err(),
        "isolated leader acknowledged a write: {write:?}"
    );
    assert!(read.is_err(), "isolated leader served a read: {read:?}");
    // Healed: the cluster serves again. The refused write's outcome was reported as unknown (it
    // may commit once the followers are back), so either value is correct; nothing else is.
    let after = cluster.get(&key).expect("served after healing");
    assert!(after == "before" || after == "during", "{after}");
}

#[test]
fn readonly_connections_read_from_followers() {
    let cluster = Cluster::start("");
    let shard = 2;
    let key = key_in_shard(shard, "ro");
    cluster
        .set(&key, "replicated", Duration::from_secs(5))
        .expect("write");
    let leader = cluster.leader_of(shard).expect("leader");
    let follower = (0..3).find(|&i| i != leader).expect("a follower");
    let port = cluster.port(follower);
    // Without READONLY a follower redirects to the leader.
    let moved = raw_cmd(port, &["GET", &key]);
    assert!(
        moved.as_ref().is_err_and(|e| e.starts_with("MOVED ")),
        "{moved:?}"
    );
    // With READONLY it answers from its replica (eventually: followers apply a little later).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let req = format!(
            "*1\r\n$8\r\nREADONLY\r\n*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n",
            key.len()
        );
        s.write_all(req.as_bytes()).expect("write");
        let mut r = BufReader::new(s);
        let mut ok = String::new();
        r.read_line(&mut ok).expect("readonly reply");
        assert_eq!(ok, "+OK\r\n");
        let mut header = String::new();
        r.read_line(&mut header).expect("get reply");
        if header == "$10\r\n" {
            let mut value = String::new();
            r.read_line(&mut value).expect("value");
            assert_eq!(value, "replicated\r\n");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "follower never served the key: {header}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// `expired_at` of shard `shard` in node `i`'s INFO replication: the log index of the last entry
/// that deleted expired keys.
fn expired_at(cluster: &Cluster, i: usize, shard: usize) -> Option<u64> {
    let info = raw_cmd(cluster.port(i), &["INFO", "replication"]).ok()?;
    let line = info
        .lines()
        .find(|l| l.starts_with(&format!("shard{shard}:")))?;
    line.split(',')
        .find_map(|kv| kv.strip_prefix("expired_at="))?
        .trim()
        .parse()
        .ok()
}

#[test]
fn an_expired_key_is_deleted_at_the_same_log_index_on_every_replica() {
    let cluster = Cluster::start("");
    let shard = 1;
    let key = key_in_shard(shard, "ttl");
    let slot = shardis::slot::key_slot(key.as_bytes()).to_string();
    let before: Vec<Option<u64>> = (0..3).map(|i| expired_at(&cluster, i, shard)).collect();
    assert!(before.iter().all(|e| *e == Some(0)), "{before:?}");
    cluster
        .cmd(&["SET", &key, "v", "PX", "100"], Duration::from_secs(5))
        .expect("set");
    // Physically deleted on every replica (COUNTKEYSINSLOT counts stored keys, expired or not)
    // by an expiry entry of the leader.
    let stored = |i: usize| raw_cmd(cluster.port(i), &["CLUSTER", "COUNTKEYSINSLOT", &slot]);
    let deleted = |i: usize| {
        stored(i).as_deref() == Ok("0") && expired_at(&cluster, i, shard).is_some_and(|e| e > 0)
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !(0..3).all(deleted) {
        assert!(
            Instant::now() < deadline,
            "the expired key was never deleted"
        );
        thread::sleep(Duration::from_millis(20));
    }
    let after: Vec<Option<u64>> = (0..3).map(|i| expired_at(&cluster, i, shard)).collect();
    assert!(
        after[0].is_some_and(|e| e > 0) && after.iter().all(|e| *e == after[0]),
        "every replica deleted it at the same log index: {after:?}"
    );
}

#[test]
fn raft_rpcs_of_many_groups_share_batches() {
    // 16 groups, leaders spread over the 3 nodes: every heartbeat round of a node reaches each
    // peer as a few batches, not one call per group.
    let cluster = Cluster::start_with(3, 16, "");
    let before: Vec<(u64, u64)> = (0..3).map(|i| cluster.rpc_counters(i)).collect();
    thread::sleep(Duration::from_secs(3));
    let after: Vec<(u64, u64)> = (0..3).map(|i| cluster.rpc_counters(i)).collect();
    let rpcs: u64 = (0..3).map(|i| after[i].0 - before[i].0).sum();
    let batches: u64 = (0..3).map(|i| after[i].1 - before[i].1).sum();
    eprintln!(
        "idle 3 s: {rpcs} raft RPCs in {batches} batches (per node: {before:?} -> {after:?})"
    );
    // 16 groups heartbeat 2 followers every 100 ms: about 960 RPCs in 3 s.
    assert!(rpcs >= 400, "too few RPCs: {rpcs}");
    assert!(
        rpcs * 2 >= batches * 3,
        "RPCs are not batched: {rpcs} RPCs in {batches} batches"
    );
    // Concurrent writes to every shard (appends of many groups sharing batches) are all
    // acknowledged and read back. Generous limits: three nodes of 16 groups each on a small,
    // busy machine can be slow, which is not what this test is about.
    thread::scope(|scope| {
        for s in 0..16 {
            let cluster = &cluster;
            scope.spawn(move || {
                let key = key_in_shard_of(16, s, "batched");
                for n in 0..10 {
                    cluster
                        .set(&key, &n.to_string(), Duration::from_secs(20))
                        .expect("write");
                }
                let value = cluster.cmd(&["GET", &key], Duration::from_secs(20));
                assert_eq!(value.as_deref(), Ok("9"), "{key}");
            });
        }
    });
}

/// Waits until every node has applied the same index in every shard.
fn wait_replicas_settled(cluster: &Cluster, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let views: Vec<_> = (0..3).filter_map(|i| cluster.shards_of(i)).collect();
        let settled = views.len() == 3
            && (0..usize::from(SHARDS)).all(|s| views.iter().all(|v| v[s].2 == views[0][s].2));
        if settled {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "replicas never caught up: {views:?}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// Node `port`'s own replica of every key, read with READONLY: each key's type, value (a hash's
/// pairs sorted) and deadline.
fn replica_digest(port: u16) -> std::collections::BTreeMap<Vec<u8>, String> {
    let mut con = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .and_then(|c| c.get_connection())
        .expect("connect");
    redis::cmd("READONLY")
        .query::<()>(&mut con)
        .expect("readonly");
    let mut pipe = redis::pipe();
    for slot in 0..16384 {
        pipe.cmd("CLUSTER").arg("COUNTKEYSINSLOT").arg(slot);
    }
    let counts: Vec<u64> = pipe.query(&mut con).expect("counts");
    let mut digest = std::collections::BTreeMap::new();
    for (slot, &n) in counts.iter().enumerate().filter(|(_, n)| **n > 0) {
        let keys: Vec<Vec<u8>> = redis::cmd("CLUSTER")
            .arg("GETKEYSINSLOT")
            .arg(slot)
            .arg(n)
            .query(&mut con)
            .expect("keys");
        for key in keys {
            let kind: String = redis::cmd("TYPE").arg(&key).query(&mut con).expect("type");
            let value = match kind.as_str() {
                "hash" => {
                    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL")
                        .arg(&key)
                        .query(&mut con)
                        .expect("hgetall");
                    pairs.sort();
                    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                    let pairs: Vec<(String, String)> =
                        pairs.iter().map(|(f, v)| (text(f), text(v))).collect();
                    format!("{pairs:?}")
                }
                "list" => {
                    let items: Vec<Vec<u8>> = redis::cmd("LRANGE")
                        .arg(&key)
                        .arg(0)
                        .arg(-1)
                        .query(&mut con)
                        .expect("lrange");
                    let items: Vec<String> = items
                        .iter()
                        .map(|m| String::from_utf8_lossy(m).into_owned())
                        .collect();
                    format!("{items:?}")
                }
                "zset" => {
                    let items: Vec<Vec<u8>> = redis::cmd("ZRANGE")
                        .arg(&key)
                        .arg(0)
                        .arg(-1)
                        .arg("WITHSCORES")
                        .query(&mut con)
                        .expect("zrange");
                    let items: Vec<String> = items
                        .iter()
                        .map(|m| String::from_utf8_lossy(m).into_owned())
                        .collect();
                    format!("{items:?}")
                }
                "set" => {
                    let mut members: Vec<Vec<u8>> = redis::cmd("SMEMBERS")
                        .arg(&key)
                        .query(&mut con)
                        .expect("smembers");
                    members.sort();
                    let members: Vec<String> = members
                        .iter()
                        .map(|m| String::from_utf8_lossy(m).into_owned())
                        .collect();
                    format!("{members:?}")
                }
                "string" => {
                    let v: Option<Vec<u8>> =
                        redis::cmd("GET").arg(&key).query(&mut con).expect("get");
                    format!("{v:?}")
                }
                other => other.to_string(),
            };
            let deadline: i64 = redis::cmd("PEXPIRETIME")
                .arg(&key)
                .query(&mut con)
                .expect("deadline");
            digest.insert(key, format!("{kind} {value} {deadline}"));
        }
    }
    digest
}

/// A random workload of hash, set, sorted set and list writes (every write command, both encodings of each,
/// deadlines, renames, deletions, SPOP's logged picks) with string writes among them, applied
/// through the cluster. Keys are `{g<n>}...`: renames stay within a slot.
fn collection_workload(cluster: &Cluster, seed: u64, ops: usize) {
    let mut state = seed;
    let mut next = |n: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    let limit = Duration::from_secs(10);
    for _ in 0..ops {
        let group = next(6);
        let key = format!("{{g{group}}}h{}", next(5));
        let field = format!("f{}", next(12));
        let set = format!("{{g{group}}}s{}", next(4));
        let member = next(40).to_string();
        let zset = format!("{{g{group}}}z{}", next(4));
        let score = (next(200) as f64 / 8.0 - 10.0).to_string();
        let list = format!("{{g{group}}}l{}", next(4));
        let args: Vec<String> = match next(30) {
            // A set has no order: SORT … STORE sorts it (ALPHA) alike on every replica.
            28 => vec![
                "SORT".into(),
                set,
                "BY".into(),
                "nosort".into(),
                "STORE".into(),
                format!("{{g{group}}}sorted{}", next(2)),
            ],
            29 => vec![
                "SORT".into(),
                zset,
                "BY".into(),
                format!("{{g{group}}}h*->{field}"),
                "ALPHA".into(),
                "GET".into(),
                "#".into(),
                "GET".into(),
                format!("{{g{group}}}str*"),
                "STORE".into(),
                format!("{{g{group}}}sorted{}", next(2)),
            ],
            23 => vec![
                "RPUSH".into(),
                list,
                member,
                "x".repeat(next(3) as usize * 3000),
            ],
            24 => vec!["LPUSH".into(), list, member],
            25 => vec!["LPOP".into(), list],
            26 => vec!["LREM".into(), list, "0".into(), member],
            27 => vec![
                "RPOPLPUSH".into(),
                list,
                format!("{{g{group}}}l{}", next(4)),
            ],
            17 => vec!["ZADD".into(), zset, score, member],
            18 => vec!["ZINCRBY".into(), zset, score, member],
            19 => vec!["ZREM".into(), zset, member],
            20 => vec!["ZREMRANGEBYRANK".into(), zset, "0".into(), "1".into()],
            21 => vec![
                "ZUNIONSTORE".into(),
                format!("{{g{group}}}z{}", next(4)),
                "2".into(),
                zset,
                format!("{{g{group}}}z{}", next(4)),
            ],
            22 => {
                // Past the listpack: a skiplist on every replica.
                let mut a = vec!["ZADD".to_string(), zset];
                for i in 0..130 {
                    a.push((i % 9).to_string());
                    a.push(format!("zm{i}"));
                }
                a
            }
            11 => vec!["SADD".into(), set, member, format!("x{}", next(9))],
            12 => vec!["SREM".into(), set, member],
            13 => vec!["SPOP".into(), set],
            14 => vec![
                "SMOVE".into(),
                set,
                format!("{{g{group}}}s{}", next(4)),
                member,
            ],
            15 => vec![
                "SINTERSTORE".into(),
                format!("{{g{group}}}s{}", next(4)),
                set,
                format!("{{g{group}}}s{}", next(4)),
            ],
            16 => {
                // Past the intset: a table on every replica.
                let mut a = vec!["SADD".to_string(), set];
                a.extend((0..520).map(|i| (i * 7).to_string()));
                a
            }
            0..=2 => vec!["HSET".into(), key, field, format!("v{}", next(1000))],
            3 => vec![
                "HMSET".into(),
                key,
                field,
                "x".repeat(next(2) as usize * 100),
                "other".into(),
                "1".into(),
            ],
            4 => vec!["HDEL".into(), key, field, "f0".into()],
            5 => vec![
                "HINCRBY".into(),
                key,
                "n".into(),
                (next(100) as i64 - 50).to_string(),
            ],
            6 => vec!["HINCRBYFLOAT".into(), key, "x".into(), "0.1".into()],
            7 => vec!["HSETNX".into(), key, field, "nx".into()],
            8 => vec!["PEXPIRE".into(), key, (20 + next(200)).to_string()],
            9 => {
                // A big hash (a table on every replica), then a rename within the group.
                let mut a = vec!["HSET".to_string(), key.clone()];
                for i in 0..(520 + next(20)) {
                    a.push(format!("t{i}"));
                    a.push(i.to_string());
                }
                let refs: Vec<&str> = a.iter().map(String::as_str).collect();
                cluster.cmd(&refs, limit).expect("big hset");
                let dst = format!("{{g{group}}}h{}", next(5));
                vec!["RENAME".into(), key, dst]
            }
            _ => vec![
                "SET".into(),
                format!("{{g{group}}}str{}", next(5)),
                "v".into(),
            ],
        };
        // A script that reads the leader's clock and draws random members: replicas apply its
        // effects, never run it, so they must agree whatever it drew.
        if next(10) == 0 {
            let script = "local t = redis.call('TIME') \
                 redis.call('SET', KEYS[1], t[1] .. '.' .. t[2]) \
                 redis.call('SADD', KEYS[2], math.random(1000000), math.random(1000000)) \
                 redis.call('SPOP', KEYS[2]) \
                 return redis.call('INCR', KEYS[3])";
            let keys = [
                format!("{{g{group}}}clock"),
                format!("{{g{group}}}drawn"),
                format!("{{g{group}}}scripts"),
            ];
            let reply = cluster
                .cmd(&["EVAL", script, "3", &keys[0], &keys[1], &keys[2]], limit)
                .expect("script");
            assert!(reply.parse::<i64>().is_ok(), "{reply}");
            continue;
        }
        // SPOP needs the leader's pick, which a transaction cannot hold yet.
        if next(8) == 0 && args[0] != "SPOP" {
            transaction_step(cluster, group, next(4), &args);
            continue;
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        match cluster.cmd(&refs, limit) {
            Ok(_) => {}
            // A key that expired between the HSET and the RENAME.
            Err(e) if e.contains("no such key") => {}
            Err(e) => panic!("{refs:?}: {e}"),
        }
    }
}

/// A WATCH … MULTI … EXEC of the workload on group `group`'s keys: `cmd` and two writes of
/// the group, behind a WATCH of a key that holds a value (`interfere` 0, or 1: another client
/// writes it before EXEC), or of an absent key (2: another client creates and deletes it; 3:
/// nobody touches it, and the guard compares the slot's deletion version). EXEC must
/// apply everything when nobody interfered and nothing otherwise — on every replica alike,
/// which the digests check (a guard judged differently by a replica that installed a snapshot
/// would show there).
fn transaction_step(cluster: &Cluster, group: u64, interfere: u64, cmd: &[String]) {
    let limit = Duration::from_secs(10);
    let present = format!("{{g{group}}}watched");
    let absent = format!("{{g{group}}}never");
    cluster
        .set(&present, "w", limit)
        .expect("set the watched key");
    let watched = if interfere >= 2 { &absent } else { &present };
    let shard = ShardMap::new(SHARDS).shard_of_slot(key_slot(watched.as_bytes()));
    let queued: Vec<Vec<String>> = vec![
        cmd.to_vec(),
        vec!["INCR".into(), format!("{{g{group}}}count")],
        vec!["RPUSH".into(), format!("{{g{group}}}txlog"), "t".into()],
    ];
    let deadline = Instant::now() + limit;
    let mut last = String::new();
    while Instant::now() < deadline {
        let Some(node) = cluster.leader_of(shard) else {
            thread::sleep(Duration::from_millis(50));
            continue;
        };
        let Ok(mut c) = support::RawClient::try_connect(cluster.port(node)) else {
            thread::sleep(Duration::from_millis(50));
            continue;
        };
        c.set_read_timeout(Duration::from_secs(5));
        if c.cmd_str(&["WATCH", watched]) != b"+OK\r\n" {
            thread::sleep(Duration::from_millis(50));
            continue;
        }
        match interfere {
            1 => {
                cluster.set(&present, "changed", limit).expect("interfere");
            }
            2 => {
                cluster.set(&absent, "x", limit).expect("create");
                cluster.cmd(&["DEL", &absent], limit).expect("delete");
            }
            _ => {}
        }
        c.cmd_str(&["MULTI"]);
        for q in &queued {
            let refs: Vec<&str> = q.iter().map(String::as_str).collect();
            c.cmd_str(&refs);
        }
        let exec = c.cmd_str(&["EXEC"]);
        match support::parse_reply(&exec) {
            // Leadership moved meanwhile (MOVED, TRYAGAIN, EXECABORT): again.
            support::Reply::Error(e) => {
                last = String::from_utf8_lossy(&e).into_owned();
                thread::sleep(Duration::from_millis(50));
                continue;
            }
            support::Reply::Array(None) => {
                assert!(
                    matches!(interfere, 1 | 2),
                    "EXEC aborted with nothing changed: {cmd:?}"
                );
                return;
            }
            support::Reply::Array(Some(replies)) => {
                assert!(
                    matches!(interfere, 0 | 3),
                    "EXEC ran although {watched} changed"
                );
                assert_eq!(replies.len(), 3, "{cmd:?}");
                return;
            }
            other => panic!("EXEC answered {other:?}"),
        }
    }
    panic!("no transaction went through in {limit:?}: {last} ({cmd:?})");
}

#[test]
fn every_replica_holds_the_same_collections() {
    // Snapshots every 20 entries: the node away is sent snapshots holding hashes.
    let mut cluster = Cluster::start("snapshot-logs = 20");
    cluster.kill(2);
    collection_workload(&cluster, 7, 300);
    cluster.launch(2);
    cluster.wait_ready(Duration::from_secs(20));
    collection_workload(&cluster, 8, 300);
    // Every deadline set (at most 220 ms ahead) has passed, and the leaders' expiry cycles
    // have deleted those keys through the logs.
    thread::sleep(Duration::from_millis(1500));
    wait_replicas_settled(&cluster, Duration::from_secs(20));
    let snapshots: u64 = cluster
        .shards_of(2)
        .expect("node 3")
        .iter()
        .map(|s| s.3)
        .sum();
    assert!(snapshots > 0, "node 3 caught up without a snapshot");
    let digests: Vec<_> = (0..3).map(|i| replica_digest(cluster.port(i))).collect();
    let hashes = digests[0]
        .values()
        .filter(|v| v.starts_with("hash"))
        .count();
    let tables = digests[0]
        .values()
        .filter(|v| v.starts_with("hash") && v.contains("\"t519\""))
        .count();
    let sets = digests[0].values().filter(|v| v.starts_with("set")).count();
    let zsets = digests[0]
        .values()
        .filter(|v| v.starts_with("zset"))
        .count();
    assert!(zsets > 5, "{zsets} sorted sets: {:?}", digests[0]);
    let lists = digests[0]
        .values()
        .filter(|v| v.starts_with("list"))
        .count();
    assert!(lists > 5, "{lists} lists: {:?}", digests[0]);
    assert!(hashes > 10, "{hashes} hashes: {:?}", digests[0]);
    assert!(sets > 5, "{sets} sets: {:?}", digests[0]);
    eprintln!(
        "{} keys, {hashes} hashes ({tables} tables), {sets} sets, {zsets} sorted sets, {lists} lists",
        digests[0].len()
    );
    for i in 1..3 {
        for (key, value) in &digests[0] {
            let other = digests[i].get(key);
            assert!(
                other == Some(value),
                "node {} differs at {}: {:.300} against {:.300}",
                i + 1,
                String::from_utf8_lossy(key),
                other.map_or("nothing", String::as_str),
                value
            );
        }
        assert_eq!(
            digests[i].len(),
            digests[0].len(),
            "node {} key count",
            i + 1
        );
    }
}

/// Calls `args` on node `i` until it answers something other than `Function not found` (a
/// library just changed elsewhere reaches a node with its replica of the metadata group).
fn on_node_until(
    cluster: &Cluster,
    i: usize,
    args: &[&str],
    done: impl Fn(&Result<String, String>) -> bool,
) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = raw_cmd(cluster.port(i), args);
        if done(&reply) || Instant::now() > deadline {
            return reply;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn function_libraries_are_cluster_wide_and_survive_a_full_restart() {
    let mut cluster = Cluster::start("");
    cluster.wait_ready(Duration::from_secs(20));
    cluster.wait_balanced(Duration::from_secs(20));
    let lib = "#!lua name=counters\nredis.register_function('bump', function(keys, args) return redis.call('incrby', keys[1], args[1]) end)";
    assert_eq!(
        raw_cmd(cluster.port(0), &["FUNCTION", "LOAD", lib]),
        Ok("counters".into())
    );
    // Every node calls it at once, on a key of a shard it leads: loaded on one node, it is the
    // cluster's (FCALL on a node whose replica has not caught up yet waits for it).
    let mut keys = Vec::new();
    for i in 0..3 {
        let shard = (0..usize::from(SHARDS))
            .find(|&s| cluster.leader_of(s) == Some(i))
            .expect("every node leads a shard once balanced");
        let key = key_in_shard(shard, "fn");
        assert_eq!(
            raw_cmd(cluster.port(i), &["FCALL", "bump", "1", &key, "5"]),
            Ok("5".into()),
            "node {i}"
        );
        keys.push(key);
    }
    // Two nodes load libraries that register the same function name at the same time: one
    // wins, the other is told the function exists; no node ends up with both.
    let ports = [cluster.port(1), cluster.port(2)];
    let racers: Vec<_> = ports
        .iter()
        .enumerate()
        .map(|(n, &port)| {
            thread::spawn(move || {
                let code = format!("#!lua name=racer{n}\nredis.register_function('raced', function() return {n} end)");
                raw_cmd(port, &["FUNCTION", "LOAD", &code])
            })
        })
        .collect();
    let outcomes: Vec<_> = racers
        .into_iter()
        .map(|r| r.join().expect("racer"))
        .collect();
    let won: Vec<_> = outcomes.iter().filter(|o| o.is_ok()).collect();
    assert_eq!(won.len(), 1, "exactly one load wins: {outcomes:?}");
    assert!(
        outcomes.iter().any(|o| o
            .as_ref()
            .err()
            .is_some_and(|e| e == "ERR Function raced already exists")),
        "{outcomes:?}"
    );
    let winner = won[0]
        .as_ref()
        .expect("won")
        .trim_start_matches("racer")
        .to_string();
    for i in 0..3 {
        assert_eq!(
            raw_cmd(cluster.port(i), &["FCALL", "raced", "0"]),
            Ok(winner.clone()),
            "node {i}"
        );
    }
    // Deleted on one node, gone from all.
    assert_eq!(
        raw_cmd(
            cluster.port(2),
            &["FUNCTION", "DELETE", &format!("racer{winner}")]
        ),
        Ok("OK".into())
    );
    let gone = |r: &Result<String, String>| {
        r.as_ref()
            .err()
            .is_some_and(|e| e == "ERR Function not found")
    };
    for i in 0..3 {
        let reply = on_node_until(&cluster, i, &["FCALL", "raced", "0"], gone);
        assert!(gone(&reply), "node {i}: {reply:?}");
    }
    // The libraries live in the metadata group's log and snapshots: a full restart keeps them.
    for i in 0..3 {
        cluster.kill(i);
    }
    for i in 0..3 {
        cluster.launch(i);
    }
    cluster.wait_ready(Duration::from_secs(30));
    for key in &keys {
        assert_eq!(
            cluster.cmd(&["FCALL", "bump", "1", key, "1"], Duration::from_secs(10)),
            Ok("6".into()),
            "{key}"
        );
    }
}
