//! The Redis Cluster protocol of a real 3-node cluster: CLUSTER SLOTS / SHARDS / NODES / INFO /
//! MYID / COUNTKEYSINSLOT / GETKEYSINSLOT agree with the Raft groups' leadership on every node,
//! multi-key commands across slots follow Redis Cluster's rules, gossip commands are refused
//! clearly, and a leadership change shows everywhere within a second.

use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, Instant};

use shardis::slot::{key_slot, ShardMap};

mod support;

use support::cluster::{key_in_shard, Cluster, SHARDS};
use support::{parse_reply, RawClient, Reply};

/// CLUSTER SLOTS of the node on `port`: `(first, last, [node ports, leader first])`.
fn cluster_slots(port: u16) -> Vec<(u16, u16, Vec<u16>)> {
    let raw = RawClient::connect(port).cmd_str(&["CLUSTER", "SLOTS"]);
    let reply = parse_reply(&raw);
    let ranges = reply.items().expect("CLUSTER SLOTS is an array");
    ranges
        .iter()
        .map(|r| {
            let items = r.items().expect("range is an array");
            let first = items[0].as_int().expect("first slot") as u16;
            let last = items[1].as_int().expect("last slot") as u16;
            let nodes = items[2..]
                .iter()
                .map(|n| {
                    let n = n.items().expect("node is an array");
                    assert_eq!(n.len(), 4, "node entry is [ip, port, id, {{}}]");
                    assert_eq!(n[0].bytes(), Some(&b"127.0.0.1"[..]));
                    let id = n[2].bytes().expect("node id");
                    assert_eq!(id.len(), 40, "node ids have 40 hex digits");
                    n[1].as_int().expect("port") as u16
                })
                .collect();
            (first, last, nodes)
        })
        .collect()
}

/// The client port of the node leading `slot` according to a CLUSTER SLOTS answer.
fn leader_port(view: &[(u16, u16, Vec<u16>)], slot: u16) -> Option<u16> {
    view.iter()
        .find(|(a, b, _)| (*a..=*b).contains(&slot))
        .and_then(|(_, _, nodes)| nodes.first().copied())
}

/// Per shard, the client port of its leader per node `i`'s INFO replication.
fn raft_leaders(cluster: &Cluster, i: usize) -> Option<Vec<u16>> {
    cluster
        .shards_of(i)?
        .iter()
        .map(|(_, leader, _, _)| {
            let id: u64 = leader.parse().ok()?;
            cluster
                .members
                .iter()
                .find(|m| m.id == id)
                .map(|m| m.client_port)
        })
        .collect()
}

/// Waits until every node's CLUSTER SLOTS names, for every shard, the leader that the Raft
/// groups report, and returns that view.
fn settled_view(cluster: &Cluster, nodes: &[usize]) -> Vec<(u16, u16, Vec<u16>)> {
    let map = ShardMap::new(SHARDS);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let views: Vec<_> = nodes
            .iter()
            .map(|&i| cluster_slots(cluster.port(i)))
            .collect();
        let leaders = raft_leaders(cluster, nodes[0]);
        let agree = views.windows(2).all(|w| w[0] == w[1])
            && leaders.as_ref().is_some_and(|leaders| {
                (0..usize::from(SHARDS)).all(|s| {
                    let slot = map.slot_range(s).0;
                    leader_port(&views[0], slot) == Some(leaders[s])
                })
            });
        if agree {
            return views[0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "nodes never agreed: {views:?} vs raft leaders {leaders:?}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// Like [`settled_view`], once leadership has spread over all three nodes (the cluster moves
/// leaders to their preferred nodes a few seconds after start-up).
fn balanced_view(cluster: &Cluster) -> Vec<(u16, u16, Vec<u16>)> {
    // Generous: this file's tests run five 3-node clusters at once on CI's two cores, and once
    // in about eight runs the hand-overs took longer than 20 s there.
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let view = settled_view(cluster, &[0, 1, 2]);
        let mut leaders: Vec<u16> = view.iter().map(|(_, _, n)| n[0]).collect();
        leaders.sort_unstable();
        leaders.dedup();
        if leaders.len() == 3 {
            return view;
        }
        assert!(Instant::now() < deadline, "leaders never spread: {view:?}");
        thread::sleep(Duration::from_millis(200));
    }
}

fn text(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

#[test]
fn cluster_commands_describe_the_cluster_on_every_node() {
    let cluster = Cluster::start("");
    let view = settled_view(&cluster, &[0, 1, 2]);

    // SLOTS: every slot exactly once, each range with 3 distinct replicas.
    let mut covered = 0u32;
    let mut next = 0u16;
    for (first, last, nodes) in &view {
        assert_eq!(*first, next, "ranges are contiguous: {view:?}");
        covered += u32::from(last - first) + 1;
        next = last.wrapping_add(1);
        let mut unique = nodes.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 3, "leader and two followers: {nodes:?}");
    }
    assert_eq!(covered, 16384);

    for i in 0..3 {
        let port = cluster.port(i);
        let mut c = RawClient::connect(port);
        let info = text(&c.cmd_str(&["CLUSTER", "INFO"]));
        assert!(info.contains("cluster_state:ok\r\n"), "{info}");
        assert!(info.contains("cluster_slots_assigned:16384\r\n"), "{info}");
        assert!(info.contains("cluster_slots_ok:16384\r\n"), "{info}");
        assert!(info.contains("cluster_known_nodes:3\r\n"), "{info}");
        let info_cluster = text(&c.cmd_str(&["INFO", "cluster"]));
        assert!(info_cluster.contains("cluster_enabled:1"), "{info_cluster}");

        let myid = text(&c.cmd_str(&["CLUSTER", "MYID"]));
        let expected_id = format!("{:040x}", cluster.members[i].id);
        assert!(myid.contains(&expected_id), "{myid}");

        // NODES: one line per node, `myself` on this node's, masters' slots = SLOTS leaders.
        let raw = c.cmd_str(&["CLUSTER", "NODES"]);
        let nodes = parse_reply(&raw);
        let nodes = text(nodes.bytes().expect("CLUSTER NODES is a string"));
        let lines: Vec<&str> = nodes.lines().collect();
        assert_eq!(lines.len(), 3, "{nodes}");
        let mut led_by: BTreeMap<u16, u16> = BTreeMap::new();
        for line in &lines {
            let f: Vec<&str> = line.split(' ').collect();
            assert!(f.len() >= 8, "{line}");
            let node_port: u16 = f[1]
                .split('@')
                .next()
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| p.parse().ok())
                .expect("ip:port@bus");
            assert_eq!(f[0].len(), 40, "{line}");
            assert!(!f[1].contains("myself"), "{line}");
            assert_eq!(f[2].contains("myself"), node_port == port, "{line}");
            assert_eq!(f[7], "connected", "{line}");
            for range in &f[8..] {
                let (a, b) = match range.split_once('-') {
                    Some((a, b)) => (a.parse().expect("slot"), b.parse().expect("slot")),
                    None => {
                        let s: u16 = range.parse().expect("slot");
                        (s, s)
                    }
                };
                assert!(f[2].contains("master"), "{line}");
                for slot in [a, b] {
                    led_by.insert(slot, node_port);
                }
            }
        }
        for (slot, node_port) in &led_by {
            assert_eq!(leader_port(&view, *slot), Some(*node_port), "slot {slot}");
        }
        let mut slot_total = 0u32;
        for line in &lines {
            for range in line.split(' ').skip(8) {
                slot_total += match range.split_once('-') {
                    Some((a, b)) => {
                        b.parse::<u32>().expect("slot") - a.parse::<u32>().expect("slot") + 1
                    }
                    None => 1,
                };
            }
        }
        assert_eq!(slot_total, 16384, "{nodes}");

        // SHARDS: every slot once, each entry's first node is its master.
        let shards = parse_reply(&c.cmd_str(&["CLUSTER", "SHARDS"]));
        let mut shard_slots = 0i64;
        for entry in shards.items().expect("array") {
            let kv = entry.items().expect("RESP2 map is a flat array");
            assert_eq!(kv[0].bytes(), Some(&b"slots"[..]));
            let slots = kv[1].items().expect("slots");
            for pair in slots.chunks(2) {
                shard_slots +=
                    pair[1].as_int().expect("end") - pair[0].as_int().expect("start") + 1;
            }
            assert_eq!(kv[2].bytes(), Some(&b"nodes"[..]));
            let nodes = kv[3].items().expect("nodes");
            assert_eq!(nodes.len(), 3);
            let role = |n: &Reply| {
                let kv = n.items().expect("node map");
                let i = kv
                    .iter()
                    .position(|k| k.bytes() == Some(&b"role"[..]))
                    .expect("role");
                text(kv[i + 1].bytes().expect("role value"))
            };
            assert_eq!(role(&nodes[0]), "master");
            assert_eq!(role(&nodes[1]), "replica");
        }
        assert_eq!(shard_slots, 16384);

        // Gossip commands are refused with a pointer to what Shardis does instead.
        for args in [
            &["CLUSTER", "MEET", "127.0.0.1", "1"][..],
            &["CLUSTER", "ADDSLOTS", "1"],
            &["CLUSTER", "SETSLOT", "1", "STABLE"],
            &["CLUSTER", "REPLICATE", &expected_id],
        ] {
            let reply = text(&c.cmd_str(args));
            assert!(
                reply.starts_with("-ERR CLUSTER ") && reply.contains("not supported by Shardis"),
                "{args:?}: {reply}"
            );
        }
    }

    // COUNTKEYSINSLOT / GETKEYSINSLOT: every replica answers from its own data.
    let key = key_in_shard(1, "counted");
    cluster
        .set(&key, "v", Duration::from_secs(5))
        .expect("write");
    let slot = key_slot(key.as_bytes()).to_string();
    for i in 0..3 {
        let mut c = RawClient::connect(cluster.port(i));
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let count = c.cmd_str(&["CLUSTER", "COUNTKEYSINSLOT", &slot]);
            if count == b":1\r\n" {
                break;
            }
            assert!(Instant::now() < deadline, "node {i}: {}", text(&count));
            thread::sleep(Duration::from_millis(20));
        }
        let keys = text(&c.cmd_str(&["CLUSTER", "GETKEYSINSLOT", &slot, "10"]));
        assert_eq!(keys, format!("*1\r\n${}\r\n{key}\r\n", key.len()));
        assert_eq!(
            text(&c.cmd_str(&["CLUSTER", "COUNTKEYSINSLOT", "16384"])),
            "-ERR Invalid slot\r\n"
        );
    }
}

#[test]
fn multi_key_commands_span_slots_only_where_this_node_leads_them_all() {
    let cluster = Cluster::start("");
    let map = ShardMap::new(SHARDS);
    let view = balanced_view(&cluster);
    let leader = |s: usize| leader_port(&view, map.slot_range(s).0).expect("leader");
    // Two shards led by different nodes, and one node's two shards (if it leads two).
    let (a, b) = (0..usize::from(SHARDS))
        .flat_map(|a| (0..usize::from(SHARDS)).map(move |b| (a, b)))
        .find(|&(a, b)| leader(a) != leader(b))
        .expect("leaders are spread");
    let (ka, kb) = (key_in_shard(a, "x"), key_in_shard(b, "y"));
    let mut c = RawClient::connect(leader(a));
    let reply = text(&c.cmd_str(&["MSET", &ka, "1", &kb, "2"]));
    assert_eq!(
        reply,
        "-CROSSSLOT Keys in request don't hash to the same slot\r\n"
    );
    let reply = text(&c.cmd_str(&["MGET", &ka, &kb]));
    assert!(reply.starts_with("-CROSSSLOT"), "{reply}");

    // Keys of different slots that all live in shards this node leads: served as on one node.
    let ka2 = (0..)
        .map(|n| format!("z{n}"))
        .find(|k| {
            map.shard_of_slot(key_slot(k.as_bytes())) == a
                && key_slot(k.as_bytes()) != key_slot(ka.as_bytes())
        })
        .expect("another key of shard a");
    assert_eq!(text(&c.cmd_str(&["MSET", &ka, "1", &ka2, "2"])), "+OK\r\n");
    assert_eq!(
        text(&c.cmd_str(&["MGET", &ka, &ka2])),
        "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
    assert_eq!(text(&c.cmd_str(&["DEL", &ka, &ka2])), ":2\r\n");

    // The same multi-slot command on a node that leads neither: CROSSSLOT, as Redis Cluster.
    let other = (0..3)
        .map(|i| cluster.port(i))
        .find(|&p| p != leader(a))
        .expect("another node");
    let mut o = RawClient::connect(other);
    let reply = text(&o.cmd_str(&["MSET", &ka, "1", &ka2, "2"]));
    assert!(reply.starts_with("-CROSSSLOT"), "{reply}");
    // A single-slot command there is redirected to the leader.
    let reply = text(&o.cmd_str(&["SET", &ka, "1"]));
    assert_eq!(
        reply,
        format!(
            "-MOVED {} 127.0.0.1:{}\r\n",
            key_slot(ka.as_bytes()),
            leader(a)
        )
    );
}

#[test]
fn a_leadership_change_shows_on_every_node_within_a_second() {
    let mut cluster = Cluster::start("");
    let map = ShardMap::new(SHARDS);
    let view = settled_view(&cluster, &[0, 1, 2]);
    let slot = map.slot_range(0).0;
    let old = leader_port(&view, slot).expect("leader");
    let victim = (0..3)
        .find(|&i| cluster.port(i) == old)
        .expect("leader node");
    let survivors: Vec<usize> = (0..3).filter(|&i| i != victim).collect();
    cluster.kill(victim);

    // The moment the survivors' Raft group has a new leader ...
    let deadline = Instant::now() + Duration::from_secs(10);
    let elected = loop {
        let leaders = survivors
            .iter()
            .filter_map(|&i| raft_leaders(&cluster, i).map(|l| l[0]))
            .find(|&p| p != old);
        if let Some(port) = leaders {
            break port;
        }
        assert!(Instant::now() < deadline, "no new leader elected");
        thread::sleep(Duration::from_millis(10));
    };
    let t0 = Instant::now();
    // ... every live node's CLUSTER SLOTS names it within a second.
    loop {
        let shown: Vec<Option<u16>> = survivors
            .iter()
            .map(|&i| leader_port(&cluster_slots(cluster.port(i)), slot))
            .collect();
        if shown.iter().all(|&p| p == Some(elected)) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "after {:?} the nodes show {shown:?}, new leader {elected}",
            t0.elapsed()
        );
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn cluster_failover_moves_every_followed_shard_to_the_node_and_it_stays() {
    let cluster = Cluster::start("");
    balanced_view(&cluster);
    // Node 3 (index 2) is never the metadata group's first leader: its request is forwarded.
    let port = cluster.port(2);
    let mut c = RawClient::connect(port);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = text(&c.cmd_str(&["CLUSTER", "FAILOVER"]));
        if reply == "+OK\r\n" {
            break;
        }
        assert!(Instant::now() < deadline, "CLUSTER FAILOVER: {reply}");
        thread::sleep(Duration::from_millis(200));
    }
    let all_led_by_it = |view: &[(u16, u16, Vec<u16>)]| view.iter().all(|(_, _, n)| n[0] == port);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(0..3).all(|i| all_led_by_it(&cluster_slots(cluster.port(i)))) {
        assert!(
            Instant::now() < deadline,
            "leadership never moved: {:?}",
            cluster_slots(port)
        );
        thread::sleep(Duration::from_millis(100));
    }
    // The leader balancer does not move it back: the metadata names this node now.
    thread::sleep(Duration::from_secs(2));
    assert!(all_led_by_it(&cluster_slots(cluster.port(0))));
    let info = text(&c.cmd_str(&["INFO", "replication"]));
    assert!(!info.contains("meta_epoch:1\r\n"), "epoch bumped: {info}");
    assert_eq!(
        text(&c.cmd_str(&["CLUSTER", "FAILOVER"])),
        "-ERR You should send CLUSTER FAILOVER to a replica\r\n"
    );
    // Writes keep working through the new leader.
    let key = key_in_shard(0, "after-failover");
    assert_eq!(text(&c.cmd_str(&["SET", &key, "v"])), "+OK\r\n");
}

#[test]
fn a_node_without_a_replica_of_a_shard_shows_its_new_leader_too() {
    // 5 nodes, 3 replicas per shard: shard 0 lives on nodes 1-3, so nodes 4 and 5 only hear of
    // its leader from their peers.
    let mut cluster = Cluster::start_n(5, "");
    let map = ShardMap::new(SHARDS);
    let slot = map.slot_range(0).0;
    let outsider = 4;
    assert_eq!(
        cluster.shards_of(outsider).expect("info")[0].0,
        "none",
        "node 5 holds no replica of shard 0"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let old = loop {
        let leader = cluster.leader_of(0).expect("leader");
        if leader_port(&cluster_slots(cluster.port(outsider)), slot) == Some(cluster.port(leader)) {
            break leader;
        }
        assert!(
            Instant::now() < deadline,
            "node 5 never learned shard 0's leader"
        );
        thread::sleep(Duration::from_millis(50));
    };
    cluster.kill(old);
    let deadline = Instant::now() + Duration::from_secs(10);
    let elected = loop {
        if let Some(new) = cluster.leader_of(0).filter(|&l| l != old) {
            break cluster.port(new);
        }
        assert!(Instant::now() < deadline, "no new leader");
        thread::sleep(Duration::from_millis(10));
    };
    let t0 = Instant::now();
    loop {
        let shown = leader_port(&cluster_slots(cluster.port(outsider)), slot);
        if shown == Some(elected) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "node 5 still shows {shown:?} after {:?}, new leader {elected}",
            t0.elapsed()
        );
        thread::sleep(Duration::from_millis(10));
    }
    // And it redirects a write there.
    let key = key_in_shard(0, "outsider");
    let reply = text(&RawClient::connect(cluster.port(outsider)).cmd_str(&["SET", &key, "v"]));
    assert_eq!(
        reply,
        format!(
            "-MOVED {} 127.0.0.1:{elected}\r\n",
            key_slot(key.as_bytes())
        )
    );
}

#[test]
fn a_blocked_client_is_redirected_when_its_shard_leader_changes() {
    let cluster = Cluster::start("");
    let view = balanced_view(&cluster);
    let key = key_in_shard(0, "queue");
    let slot = key_slot(key.as_bytes());
    let leader = leader_port(&view, slot).expect("leader");
    let follower = (0..3)
        .map(|i| cluster.port(i))
        .find(|&p| p != leader)
        .expect("a follower");
    // A follower redirects a blocking pop at once, as any write.
    let mut f = RawClient::connect(follower);
    let moved = text(&f.cmd_str(&["BLPOP", &key, "0"]));
    assert_eq!(moved, format!("-MOVED {slot} 127.0.0.1:{leader}\r\n"));

    let mut blocked = RawClient::connect(leader);
    blocked.set_read_timeout(Duration::from_secs(15));
    blocked.send(&[b"BLPOP", key.as_bytes(), b"0"]);
    thread::sleep(Duration::from_millis(300));
    // The follower takes the lead (CLUSTER FAILOVER); the waiting client is told where to go.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = text(&f.cmd_str(&["CLUSTER", "FAILOVER"]));
        if reply == "+OK\r\n" {
            break;
        }
        assert!(Instant::now() < deadline, "CLUSTER FAILOVER: {reply}");
        thread::sleep(Duration::from_millis(200));
    }
    let t0 = Instant::now();
    let reply = text(&blocked.read_reply());
    assert_eq!(reply, format!("-MOVED {slot} 127.0.0.1:{follower}\r\n"));
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());

    // There it blocks and is served once, by a push from another client.
    let mut blocked = RawClient::connect(follower);
    blocked.send(&[b"BLPOP", key.as_bytes(), b"0"]);
    thread::sleep(Duration::from_millis(300));
    let mut pusher = RawClient::connect(follower);
    assert_eq!(text(&pusher.cmd_str(&["RPUSH", &key, "job"])), ":1\r\n");
    assert_eq!(
        text(&blocked.read_reply()),
        format!("*2\r\n${}\r\n{key}\r\n$3\r\njob\r\n", key.len())
    );
    assert_eq!(text(&pusher.cmd_str(&["LLEN", &key])), ":0\r\n");
}
