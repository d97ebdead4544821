//! CLUSTER: how the cluster looks to a Redis Cluster client.
//!
//! A Redis Cluster node is the master of some slots or a replica of one master. A Shardis node is
//! neither: it leads the Raft groups of some shards and follows those of others. It presents
//! itself so that clients route correctly:
//!
//! - CLUSTER SLOTS and CLUSTER SHARDS are per slot range: the shard's leader first, then its
//!   followers (adjacent ranges with the same nodes are merged). Keyed commands therefore go to
//!   the leader, and READONLY reads may go to any listed follower.
//! - CLUSTER NODES has one line per node: a node that leads at least one shard is a `master`
//!   listing the slot ranges it leads; a node that leads none is a `slave` of the leader of the
//!   first shard it holds. Node names are the numeric node ids in hex (see
//!   [`crate::cluster::node_name`]).
//! - Epochs are Raft terms: a node's config epoch is the highest term of the shards it leads.
//!
//! While a shard elects a new leader it stays listed with the last leader known (as Redis keeps
//! listing a failing master), and CLUSTER INFO reports its slots as `fail`.
//!
//! COUNTKEYSINSLOT and GETKEYSINSLOT are shard commands (see `keys`); Redis's gossip commands
//! (MEET, ADDSLOTS, SETSLOT, REPLICATE, …) answer an error naming what Shardis does instead.

use std::fmt::Write as _;
use std::net::SocketAddr;

use bytes::Bytes;

use super::{Handler, ServerState};
use crate::clock::now_ms;
use crate::cluster::{node_name, shard_name};
use crate::commands::args::Argv;
use crate::commands::registry::{Command, Routing};
use crate::protocol::Frame;
use crate::session::Session;

/// One shard as this node sees it now.
struct ShardView {
    shard: usize,
    first: u16,
    last: u16,
    /// The leader shown to clients: the current one, else the last one known.
    leader: u64,
    /// False while the shard has no leader (an election is under way).
    healthy: bool,
    /// The other voting replicas, by id.
    followers: Vec<u64>,
    /// Raft term of the leader.
    term: u64,
    /// Replication offset (log index reached) of the nodes this node knows it for.
    offsets: Vec<(u64, u64)>,
}

impl ShardView {
    /// Leader first, then the followers.
    fn nodes(&self) -> Vec<u64> {
        let mut v = Vec::with_capacity(1 + self.followers.len());
        v.push(self.leader);
        v.extend(&self.followers);
        v
    }

    fn offset(&self, node: u64) -> u64 {
        self.offsets
            .iter()
            .find(|(n, _)| *n == node)
            .map_or(0, |(_, o)| *o)
    }
}

/// Every shard as this node sees it; also brings the leader board up to date.
fn shard_views(state: &ServerState) -> Vec<ShardView> {
    let groups = state.groups.load();
    (0..state.shard_map.shards())
        .map(|s| {
            let (first, last) = state.shard_map.slot_range(s);
            let preferred = state.topology.preferred_leader(s);
            let Some(group) = groups.shard(s) else {
                let (leader, term) = state.leaders.get(s).unwrap_or((preferred, 0));
                let followers = state
                    .topology
                    .replicas_of(s)
                    .into_iter()
                    .filter(|&n| n != leader)
                    .collect();
                return ShardView {
                    shard: s,
                    first,
                    last,
                    leader,
                    healthy: true,
                    followers,
                    term,
                    offsets: Vec::new(),
                };
            };
            let st = group.status();
            if let Some(leader) = st.leader {
                state.leaders.observe(s, leader, st.term);
            }
            let (leader, term) = state.leaders.get(s).unwrap_or((preferred, 0));
            let mut followers: Vec<u64> =
                st.voters.iter().copied().filter(|&n| n != leader).collect();
            followers.sort_unstable();
            let mut offsets = vec![(st.node, st.applied)];
            offsets.extend(st.matched.iter().copied());
            ShardView {
                shard: s,
                first,
                last,
                leader,
                healthy: st.leader.is_some(),
                followers,
                term,
                offsets,
            }
        })
        .collect()
}

/// Where clients reach node `id`: host and port of its client address. This node's own address
/// is the one the client connected to when it is bound to every interface.
fn endpoint(state: &ServerState, session: &Session, id: u64) -> (String, u16) {
    let addr = state
        .topology
        .node(id)
        .map(|n| n.client_addr.as_str())
        .unwrap_or("");
    match addr.parse::<SocketAddr>() {
        Ok(a) if a.ip().is_unspecified() && id == state.topology.self_id => {
            (session.handle.laddr.ip().to_string(), a.port())
        }
        Ok(a) => (a.ip().to_string(), a.port()),
        Err(_) => match addr.rsplit_once(':') {
            Some((host, port)) => (host.to_string(), port.parse().unwrap_or(0)),
            None => (addr.to_string(), 0),
        },
    }
}

/// The cluster bus port shown for node `id`: its Raft port (or, without one, port + 10000 as
/// Redis does).
fn bus_port(state: &ServerState, id: u64, port: u16) -> u16 {
    state
        .topology
        .node(id)
        .and_then(|n| n.raft_addr.rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(port.wrapping_add(10000))
}

/// Consecutive slot ranges served by the same nodes, merged: `(first, last, nodes)`.
fn merged_ranges(views: &[ShardView]) -> Vec<(u16, u16, Vec<u64>)> {
    let mut out: Vec<(u16, u16, Vec<u64>)> = Vec::new();
    for v in views {
        let nodes = v.nodes();
        match out.last_mut() {
            Some(last) if last.2 == nodes && last.1 + 1 == v.first => last.1 = v.last,
            _ => out.push((v.first, v.last, nodes)),
        }
    }
    out
}

/// Slot ranges as CLUSTER NODES writes them: `a-b`, or `a` for a single slot.
fn range_text(first: u16, last: u16) -> String {
    if first == last {
        first.to_string()
    } else {
        format!("{first}-{last}")
    }
}

/// What to use instead of the gossip commands Shardis does not have.
const MEMBERSHIP: &str = "membership comes from the [[nodes]] list of the cluster config files and is kept in the metadata Raft group";
const SLOTS: &str = "slots belong to fixed shards (see `shards` in the config) whose replicas are placed by the metadata Raft group";
const REPLICAS: &str = "every shard is a Raft group whose replicas are placed by the metadata Raft group; use CLUSTER FAILOVER to move leadership";
const LINKS: &str = "nodes talk over gRPC, not the gossip bus; INFO replication shows each shard group's peers and lag";

/// The CLUSTER family's commands.
pub static COMMANDS: &[Command<Handler>] = &[
    Command::node("cluster|keyslot", |argv, _, _| {
        Some(Frame::Integer(i64::from(crate::slot::key_slot(&argv[2]))))
    }),
    Command::node("cluster|myid", |_, _, state| {
        Some(Frame::Bulk(Bytes::from(node_name(state.topology.self_id))))
    }),
    Command::node("cluster|myshardid", |_, _, state| {
        Some(Frame::Bulk(Bytes::from(my_shard_id(state))))
    }),
    Command::node("cluster|slots", |_, session, state| {
        Some(slots(state, session))
    }),
    Command::node("cluster|shards", |_, session, state| {
        Some(shards(state, session))
    }),
    Command::node("cluster|nodes", |_, session, state| {
        Some(Frame::Verbatim(Bytes::from(nodes_text(state, session))))
    }),
    Command::node("cluster|replicas", |argv, session, state| {
        Some(replicas(argv, state, session))
    }),
    Command::node("cluster|slaves", |argv, session, state| {
        Some(replicas(argv, state, session))
    }),
    Command::node("cluster|info", |_, _, state| {
        Some(Frame::Verbatim(Bytes::from(info_text(state))))
    }),
    Command::node("cluster|help", |_, _, _| Some(help())),
    Command::node("cluster|meet", |argv, _, _| {
        Some(unsupported(argv, MEMBERSHIP))
    }),
    Command::node("cluster|forget", |argv, _, _| {
        Some(unsupported(argv, MEMBERSHIP))
    }),
    Command::node("cluster|reset", |argv, _, _| {
        Some(unsupported(argv, MEMBERSHIP))
    }),
    Command::node("cluster|addslots", |argv, _, _| {
        Some(unsupported(argv, SLOTS))
    }),
    Command::node("cluster|addslotsrange", |argv, _, _| {
        Some(unsupported(argv, SLOTS))
    }),
    Command::node("cluster|delslots", |argv, _, _| {
        Some(unsupported(argv, SLOTS))
    }),
    Command::node("cluster|delslotsrange", |argv, _, _| {
        Some(unsupported(argv, SLOTS))
    }),
    Command::node("cluster|setslot", |argv, _, _| {
        Some(unsupported(argv, SLOTS))
    }),
    Command::node("cluster|replicate", |argv, _, _| {
        Some(unsupported(argv, REPLICAS))
    }),
    Command::node("cluster|links", |argv, _, _| Some(unsupported(argv, LINKS))),
    Command {
        name: "cluster|failover",
        routing: Routing::Failover,
    },
];

fn sub_name(argv: &Argv) -> String {
    String::from_utf8_lossy(argv.get(1).map_or(&b""[..], |a| a)).to_uppercase()
}

fn unsupported(argv: &Argv, instead: &str) -> Frame {
    Frame::error_owned(format!(
        "ERR CLUSTER {} is not supported by Shardis: {instead} (see README, 'Cluster protocol')",
        sub_name(argv)
    ))
}

fn help() -> Frame {
    let lines = [
        "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "COUNTKEYSINSLOT <slot>",
        "    Return the number of keys in <slot>.",
        "FAILOVER [FORCE|TAKEOVER]",
        "    Move the leadership of every shard this node follows to this node (through Raft).",
        "GETKEYSINSLOT <slot> <count>",
        "    Return key names stored by current node in a slot.",
        "INFO",
        "    Return information about the cluster.",
        "KEYSLOT <key>",
        "    Return the hash slot for <key>.",
        "MYID",
        "    Return the node id.",
        "MYSHARDID",
        "    Return the id of the first shard this node leads (else holds).",
        "NODES",
        "    Return cluster configuration seen by node. Output format:",
        "    <id> <ip:port@bus-port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
        "REPLICAS <node-id>",
        "    Return <node-id> replicas.",
        "SHARDS",
        "    Return information about slot range mappings and the nodes associated with them.",
        "SLOTS",
        "    Return information about slots range mappings. Each range is made of:",
        "    start, end, leader and followers (IP, port, id).",
        "HELP",
        "    Prints this help.",
    ];
    Frame::Array(lines.iter().map(|l| Frame::simple(l)).collect())
}

/// CLUSTER FAILOVER: makes this node the preferred leader of every shard it follows, in the
/// metadata group; each shard's leader then hands leadership over through Raft (a leadership
/// transfer, as soon as this node's log has caught up), as Redis moves mastership to the
/// replica that ran the command. FORCE and TAKEOVER do the same: a shard whose leader is down
/// elects a new one on its own.
pub async fn failover(state: &ServerState) -> Frame {
    let me = state.topology.self_id;
    let followed: Vec<usize> = state
        .groups
        .load()
        .shards()
        .filter(|(_, g)| !g.is_leader())
        .map(|(s, _)| s)
        .collect();
    if followed.is_empty() {
        return Frame::error("ERR You should send CLUSTER FAILOVER to a replica");
    }
    match state.meta.set_preferred(&followed, me).await {
        Ok(epoch) => {
            tracing::info!(shards = ?followed, epoch, "CLUSTER FAILOVER: this node is now the preferred leader");
            Frame::ok()
        }
        Err(crate::raft::proposer::Refusal::Failed(e)) => e,
        Err(_) => Frame::error(
            "TRYAGAIN the metadata group has no leader reachable from this node, try again later",
        ),
    }
}

/// MYSHARDID: the first shard this node leads, else the first it holds a replica of.
fn my_shard_id(state: &ServerState) -> String {
    let me = state.topology.self_id;
    let views = shard_views(state);
    let shard = views
        .iter()
        .find(|v| v.leader == me)
        .or_else(|| views.iter().find(|v| v.followers.contains(&me)))
        .map_or(0, |v| v.shard);
    shard_name(shard)
}

fn node_entry(state: &ServerState, session: &Session, id: u64) -> Frame {
    let (host, port) = endpoint(state, session, id);
    Frame::Array(vec![
        Frame::Bulk(Bytes::from(host)),
        Frame::Integer(i64::from(port)),
        Frame::Bulk(Bytes::from(node_name(id))),
        Frame::Map(Vec::new()),
    ])
}

/// CLUSTER SLOTS, Redis 7 form: `[first, last, leader, followers…]`, each node
/// `[host, port, id, {}]`.
fn slots(state: &ServerState, session: &Session) -> Frame {
    let views = shard_views(state);
    Frame::Array(
        merged_ranges(&views)
            .into_iter()
            .map(|(first, last, nodes)| {
                let mut entry = vec![
                    Frame::Integer(i64::from(first)),
                    Frame::Integer(i64::from(last)),
                ];
                entry.extend(nodes.iter().map(|&id| node_entry(state, session, id)));
                Frame::Array(entry)
            })
            .collect(),
    )
}

fn text(s: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

/// CLUSTER SHARDS: one entry per set of nodes serving the same shards, with all their ranges.
fn shards(state: &ServerState, session: &Session) -> Frame {
    let views = shard_views(state);
    let mut entries: Vec<(Vec<u64>, Vec<&ShardView>)> = Vec::new();
    for v in &views {
        let nodes = v.nodes();
        match entries.iter_mut().find(|(n, _)| *n == nodes) {
            Some((_, vs)) => vs.push(v),
            None => entries.push((nodes, vec![v])),
        }
    }
    Frame::Array(
        entries
            .into_iter()
            .map(|(nodes, vs)| {
                let mut ranges: Vec<(u16, u16)> = Vec::new();
                for v in &vs {
                    match ranges.last_mut() {
                        Some(r) if r.1 + 1 == v.first => r.1 = v.last,
                        _ => ranges.push((v.first, v.last)),
                    }
                }
                let slots = ranges
                    .iter()
                    .flat_map(|&(a, b)| [Frame::Integer(a.into()), Frame::Integer(b.into())])
                    .collect();
                let first = vs[0];
                let node_maps = nodes
                    .iter()
                    .map(|&id| {
                        let (host, port) = endpoint(state, session, id);
                        let role = if id == first.leader {
                            "master"
                        } else {
                            "replica"
                        };
                        let health = if first.healthy || id != first.leader {
                            "online"
                        } else {
                            "failed"
                        };
                        Frame::Map(vec![
                            (text("id"), text(&node_name(id))),
                            (text("port"), Frame::Integer(i64::from(port))),
                            (text("ip"), text(&host)),
                            (text("endpoint"), text(&host)),
                            (text("role"), text(role)),
                            (
                                text("replication-offset"),
                                Frame::Integer(first.offset(id) as i64),
                            ),
                            (text("health"), text(health)),
                        ])
                    })
                    .collect();
                Frame::Map(vec![
                    (text("slots"), Frame::Array(slots)),
                    (text("nodes"), Frame::Array(node_maps)),
                ])
            })
            .collect(),
    )
}

/// One node as CLUSTER NODES describes it.
struct NodeLine {
    id: u64,
    /// `master` or `slave`.
    role: &'static str,
    /// The master's id for a slave, else `-`.
    master: String,
    epoch: u64,
    ranges: Vec<(u16, u16)>,
}

fn node_lines(views: &[ShardView], state: &ServerState) -> Vec<NodeLine> {
    state
        .topology
        .nodes
        .iter()
        .map(|n| {
            let mut ranges: Vec<(u16, u16)> = Vec::new();
            let mut epoch = 0;
            for v in views.iter().filter(|v| v.leader == n.id) {
                epoch = epoch.max(v.term);
                match ranges.last_mut() {
                    Some(r) if r.1 + 1 == v.first => r.1 = v.last,
                    _ => ranges.push((v.first, v.last)),
                }
            }
            let follows = views.iter().find(|v| v.followers.contains(&n.id));
            match follows {
                Some(v) if ranges.is_empty() => NodeLine {
                    id: n.id,
                    role: "slave",
                    master: node_name(v.leader),
                    epoch: v.term,
                    ranges,
                },
                _ => NodeLine {
                    id: n.id,
                    role: "master",
                    master: "-".to_string(),
                    epoch,
                    ranges,
                },
            }
        })
        .collect()
}

fn render_line(state: &ServerState, session: &Session, line: &NodeLine, now: u64) -> String {
    let me = line.id == state.topology.self_id;
    let (host, port) = endpoint(state, session, line.id);
    let bus = bus_port(state, line.id, port);
    let flags = if me {
        format!("myself,{}", line.role)
    } else {
        line.role.to_string()
    };
    let pong = if me { 0 } else { now };
    let mut out = format!(
        "{} {host}:{port}@{bus} {flags} {} 0 {pong} {} connected",
        node_name(line.id),
        line.master,
        line.epoch
    );
    for &(a, b) in &line.ranges {
        out.push(' ');
        out.push_str(&range_text(a, b));
    }
    out
}

/// CLUSTER NODES, in redis's exact line format.
fn nodes_text(state: &ServerState, session: &Session) -> String {
    let views = shard_views(state);
    let now = now_ms();
    let mut out = String::new();
    for line in node_lines(&views, state) {
        out.push_str(&render_line(state, session, &line, now));
        out.push('\n');
    }
    out
}

/// CLUSTER REPLICAS / SLAVES: the CLUSTER NODES lines of the nodes shown as replicas of a master.
fn replicas(argv: &Argv, state: &ServerState, session: &Session) -> Frame {
    let wanted = String::from_utf8_lossy(&argv[2]).to_lowercase();
    let views = shard_views(state);
    let lines = node_lines(&views, state);
    let Some(master) = lines.iter().find(|l| node_name(l.id) == wanted) else {
        return Frame::error_owned(format!(
            "ERR Unknown node {}",
            String::from_utf8_lossy(&argv[2])
        ));
    };
    if master.role != "master" {
        return Frame::error("ERR The specified node is not a master");
    }
    let now = now_ms();
    Frame::Array(
        lines
            .iter()
            .filter(|l| l.master == wanted)
            .map(|l| Frame::Bulk(Bytes::from(render_line(state, session, l, now))))
            .collect(),
    )
}

/// CLUSTER INFO.
fn info_text(state: &ServerState) -> String {
    let views = shard_views(state);
    let me = state.topology.self_id;
    let slots_of = |v: &ShardView| u64::from(v.last - v.first) + 1;
    let ok: u64 = views.iter().filter(|v| v.healthy).map(slots_of).sum();
    let fail: u64 = views.iter().filter(|v| !v.healthy).map(slots_of).sum();
    let masters = {
        let mut leaders: Vec<u64> = views.iter().map(|v| v.leader).collect();
        leaders.sort_unstable();
        leaders.dedup();
        leaders.len()
    };
    let current_epoch = views.iter().map(|v| v.term).max().unwrap_or(0);
    let my_epoch = views
        .iter()
        .filter(|v| v.leader == me)
        .map(|v| v.term)
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let mut field = |k: &str, v: &dyn std::fmt::Display| {
        let _ = write!(out, "{k}:{v}\r\n");
    };
    field("cluster_state", &if fail == 0 { "ok" } else { "fail" });
    field("cluster_slots_assigned", &(ok + fail));
    field("cluster_slots_ok", &ok);
    field("cluster_slots_pfail", &0);
    field("cluster_slots_fail", &fail);
    field("cluster_known_nodes", &state.topology.nodes.len());
    field("cluster_size", &masters);
    field("cluster_current_epoch", &current_epoch);
    field("cluster_my_epoch", &my_epoch);
    field("cluster_stats_messages_sent", &0);
    field("cluster_stats_messages_received", &0);
    field("total_cluster_links_buffer_limit_exceeded", &0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(shard: usize, first: u16, last: u16, leader: u64, followers: &[u64]) -> ShardView {
        ShardView {
            shard,
            first,
            last,
            leader,
            healthy: true,
            followers: followers.to_vec(),
            term: 1,
            offsets: Vec::new(),
        }
    }

    #[test]
    fn adjacent_ranges_with_the_same_nodes_merge() {
        let views = [
            view(0, 0, 99, 1, &[2, 3]),
            view(1, 100, 199, 1, &[2, 3]),
            view(2, 200, 299, 2, &[1, 3]),
            view(3, 300, 399, 1, &[2, 3]),
        ];
        let ranges = merged_ranges(&views);
        assert_eq!(
            ranges,
            vec![
                (0, 199, vec![1, 2, 3]),
                (200, 299, vec![2, 1, 3]),
                (300, 399, vec![1, 2, 3]),
            ]
        );
        assert_eq!(range_text(5, 5), "5");
        assert_eq!(range_text(5, 9), "5-9");
    }
}
