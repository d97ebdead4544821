//! Who is in the cluster and where each shard lives.
//!
//! The topology comes from the config's `[[nodes]]` list (or, without one, is this node alone).
//! Placement is deterministic, so every node computes the same answer: with the nodes sorted by
//! id, shard `s` has its replicas on nodes `s, s+1, …, s+R-1` (mod N), and the first of them is
//! its preferred leader — so leaders spread evenly over the nodes.

use std::sync::RwLock;

use crate::config::{Config, NodeConfig};

/// The cluster as this node knows it.
#[derive(Clone, Debug)]
pub struct Topology {
    /// Cluster id.
    pub cluster_id: u64,
    /// This node's id.
    pub self_id: u64,
    /// Members, sorted by id.
    pub nodes: Vec<NodeConfig>,
    /// Voting replicas per shard.
    pub replicas: usize,
}

impl Topology {
    /// The topology of `config`; `client_addr` is this node's bound client address (used when the
    /// config lists no nodes).
    pub fn from_config(config: &Config, client_addr: &str) -> Topology {
        let mut nodes = config.nodes.clone();
        if nodes.is_empty() {
            nodes.push(NodeConfig {
                id: config.node_id,
                client_addr: client_addr.to_string(),
                raft_addr: String::new(),
            });
        }
        nodes.sort_by_key(|n| n.id);
        let replicas = config.replicas.clamp(1, nodes.len());
        Topology {
            cluster_id: config.cluster_id,
            self_id: config.node_id,
            nodes,
            replicas,
        }
    }

    /// True when other nodes exist (the Raft transport is needed).
    pub fn has_peers(&self) -> bool {
        self.nodes.len() > 1
    }

    /// The node ids holding replicas of `shard`, preferred leader first.
    pub fn replicas_of(&self, shard: usize) -> Vec<u64> {
        let n = self.nodes.len();
        (0..self.replicas)
            .map(|k| self.nodes[(shard + k) % n].id)
            .collect()
    }

    /// The node that should lead `shard` when it is healthy.
    pub fn preferred_leader(&self, shard: usize) -> u64 {
        self.nodes[shard % self.nodes.len()].id
    }

    /// True when this node holds a replica of `shard`.
    pub fn is_local(&self, shard: usize) -> bool {
        self.replicas_of(shard).contains(&self.self_id)
    }

    /// A member by id.
    pub fn node(&self, id: u64) -> Option<&NodeConfig> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// This node's entry.
    pub fn this_node(&self) -> Option<&NodeConfig> {
        self.node(self.self_id)
    }
}

/// The leader of every shard as this node last heard of it, with the term it led in.
///
/// For the shards this node holds a replica of, Raft itself says who leads; the board keeps the
/// last leader seen so that a shard in the middle of an election is still shown with a node (as
/// Redis Cluster keeps listing a failing master until its replica takes over). For the shards
/// held elsewhere, peers tell this node (see `raft::transport`), and it starts from the
/// preferred leaders of the placement.
pub struct LeaderBoard {
    entries: RwLock<Vec<(u64, u64)>>,
}

impl LeaderBoard {
    /// Every shard led by its preferred leader, in term 0.
    pub fn new(topology: &Topology, shards: usize) -> LeaderBoard {
        let entries = (0..shards)
            .map(|s| (topology.preferred_leader(s), 0))
            .collect();
        LeaderBoard {
            entries: RwLock::new(entries),
        }
    }

    /// Records that `leader` leads `shard` in `term`, unless a later term is known already.
    pub fn observe(&self, shard: usize, leader: u64, term: u64) {
        let known = self.get(shard);
        if known == Some((leader, term)) || known.is_some_and(|(_, t)| t > term) {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = entries.get_mut(shard) {
            if term >= e.1 {
                *e = (leader, term);
            }
        }
    }

    /// The last known leader of `shard` and its term.
    pub fn get(&self, shard: usize) -> Option<(u64, u64)> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.get(shard).copied()
    }

    /// Every shard's last known leader and term.
    pub fn all(&self) -> Vec<(u64, u64)> {
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The 40-hex-digit name a node goes by in the Redis Cluster protocol (CLUSTER NODES, SLOTS,
/// MYID): its numeric id, zero-padded, so that `…0003` is node 3.
pub fn node_name(id: u64) -> String {
    format!("{id:040x}")
}

/// The 40-hex-digit shard id (CLUSTER SHARDS, MYSHARDID) of shard `shard`: `1` followed by the
/// shard index in the low 64 bits, so it never equals a node name.
pub fn shard_name(shard: usize) -> String {
    format!("{:040x}", (1u128 << 64) | shard as u128)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology(n: u64, replicas: usize) -> Topology {
        let mut config = Config {
            replicas,
            ..Config::default()
        };
        config.nodes = (1..=n)
            .map(|id| NodeConfig {
                id,
                client_addr: format!("127.0.0.1:{}", 7000 + id),
                raft_addr: format!("127.0.0.1:{}", 7100 + id),
            })
            .collect();
        Topology::from_config(&config, "unused")
    }

    #[test]
    fn placement_spreads_replicas_and_leaders() {
        let t = topology(5, 3);
        let mut leaders = [0usize; 6];
        let mut replicas = [0usize; 6];
        for shard in 0..16 {
            let r = t.replicas_of(shard);
            assert_eq!(r.len(), 3);
            assert_eq!(r[0], t.preferred_leader(shard));
            let mut unique = r.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), 3, "replicas on distinct nodes");
            leaders[r[0] as usize] += 1;
            for id in r {
                replicas[id as usize] += 1;
            }
        }
        assert!(
            leaders[1..].iter().all(|&l| (3..=4).contains(&l)),
            "{leaders:?}"
        );
        assert!(
            replicas[1..].iter().all(|&r| (9..=10).contains(&r)),
            "{replicas:?}"
        );
    }

    #[test]
    fn the_board_keeps_the_latest_term() {
        let t = topology(3, 3);
        let board = LeaderBoard::new(&t, 4);
        assert_eq!(board.get(1), Some((2, 0)));
        board.observe(1, 3, 5);
        board.observe(1, 1, 4);
        assert_eq!(board.get(1), Some((3, 5)));
        board.observe(1, 1, 6);
        assert_eq!(board.get(1), Some((1, 6)));
        assert_eq!(board.get(9), None);
        assert_eq!(node_name(3), format!("{}3", "0".repeat(39)));
        assert_ne!(shard_name(3), node_name(3));
        assert_eq!(shard_name(3).len(), 40);
    }

    #[test]
    fn a_node_alone_holds_everything() {
        let config = Config::default();
        let t = Topology::from_config(&config, "127.0.0.1:6379");
        assert!(!t.has_peers());
        assert!((0..16).all(|s| t.is_local(s)));
        assert_eq!(t.replicas_of(3), vec![1]);
    }
}
