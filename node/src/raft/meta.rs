//! The metadata group: group 0, with every node of the cluster as a voter, holds what every node
//! must agree on about the cluster — its members, each shard's replicas and preferred leader,
//! and an epoch bumped by every change.
//!
//! Its state machine is a shard actor like any other, over a keyspace of one hash slot, and its
//! records are ordinary string keys written with SET through the same log, WAL and snapshots as
//! the shard groups (so nothing about durability or replication is special here):
//!
//! | key                     | value                                                   |
//! |-------------------------|---------------------------------------------------------|
//! | `{meta}epoch`           | the metadata epoch, 1 when the cluster is created       |
//! | `{meta}nodes`           | `id=client-addr/raft-addr` of every member, `,`-separated |
//! | `{meta}shards`          | the number of shards                                    |
//! | `{meta}replicas:<s>`    | the voter ids of shard `s`, `,`-separated               |
//! | `{meta}preferred:<s>`   | the node that should lead shard `s`                     |
//! | `{meta}functions`       | a hash: every function library's name → its code (FUNCTION LOAD) |
//!
//! A new cluster's metadata is written by whichever node first leads the metadata group and finds
//! it empty; every node derives the same records from the same `[[nodes]]` list, so which node
//! writes them does not matter. Shard leaders move leadership to the preferred node recorded
//! here (see `group::balance_leaders`); CLUSTER FAILOVER changes it.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;

use super::proposer::Refusal;
use super::shard_group::ShardGroup;
use crate::cluster::Topology;
use crate::commands::args::Argv;
use crate::commands::strings::StringCommand;
use crate::commands::transaction::{ExecCommand, ExecItem, Seen, Watched};
use crate::commands::{ApplyCtx, ShardCommand};
use crate::config::NodeConfig;
use crate::protocol::Frame;
use crate::shard::{Batch, Gather, ShardMsg};
use crate::tasks::Tasks;

/// The hash tag of every metadata key (the metadata keyspace holds this one slot).
pub const META_TAG: &[u8] = b"meta";

/// The record of the function libraries.
const FUNCTIONS: &str = "functions";

/// The cluster's metadata as the metadata group holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterMeta {
    /// Bumped by every change.
    pub epoch: u64,
    /// Members, by id.
    pub nodes: Vec<NodeConfig>,
    /// Voter ids of every shard.
    pub replicas: Vec<Vec<u64>>,
    /// The node that should lead each shard.
    pub preferred: Vec<u64>,
}

fn key(name: &str) -> Bytes {
    Bytes::from(format!("{{meta}}{name}"))
}

fn ids_text(ids: &[u64]) -> String {
    ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
}

fn parse_ids(text: &str) -> Option<Vec<u64>> {
    text.split(',').map(|id| id.parse().ok()).collect()
}

impl ClusterMeta {
    /// The metadata of a new cluster: the placement of [`Topology`], epoch 1.
    pub fn from_topology(topology: &Topology, shards: usize) -> ClusterMeta {
        ClusterMeta {
            epoch: 1,
            nodes: topology.nodes.clone(),
            replicas: (0..shards).map(|s| topology.replicas_of(s)).collect(),
            preferred: (0..shards).map(|s| topology.preferred_leader(s)).collect(),
        }
    }

    /// The records, as (key, value).
    fn records(&self) -> Vec<(Bytes, String)> {
        let nodes = self
            .nodes
            .iter()
            .map(|n| format!("{}={}/{}", n.id, n.client_addr, n.raft_addr))
            .collect::<Vec<_>>()
            .join(",");
        let mut out = vec![
            (key("nodes"), nodes),
            (key("shards"), self.replicas.len().to_string()),
        ];
        for (s, r) in self.replicas.iter().enumerate() {
            out.push((key(&format!("replicas:{s}")), ids_text(r)));
        }
        for (s, p) in self.preferred.iter().enumerate() {
            out.push((key(&format!("preferred:{s}")), p.to_string()));
        }
        out.push((key("epoch"), self.epoch.to_string()));
        out
    }

    /// The keys [`ClusterMeta::parse`] reads, for `shards` shards.
    fn keys(shards: usize) -> Vec<Bytes> {
        let mut keys = vec![key("epoch"), key("nodes"), key("shards")];
        keys.extend((0..shards).map(|s| key(&format!("replicas:{s}"))));
        keys.extend((0..shards).map(|s| key(&format!("preferred:{s}"))));
        keys
    }

    /// Rebuilds the metadata from the values of [`ClusterMeta::keys`]; `None` while the group
    /// holds no (or incomplete) metadata.
    fn parse(values: &[Option<String>], shards: usize) -> Option<ClusterMeta> {
        let get = |i: usize| values.get(i).and_then(|v| v.as_deref());
        let epoch = get(0)?.parse().ok()?;
        let nodes = get(1)?
            .split(',')
            .map(|n| {
                let (id, addrs) = n.split_once('=')?;
                let (client, raft) = addrs.split_once('/')?;
                Some(NodeConfig {
                    id: id.parse().ok()?,
                    client_addr: client.to_string(),
                    raft_addr: raft.to_string(),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        if get(2)?.parse::<usize>().ok()? != shards {
            return None;
        }
        let replicas = (0..shards)
            .map(|s| parse_ids(get(3 + s)?))
            .collect::<Option<Vec<_>>>()?;
        let preferred = (0..shards)
            .map(|s| get(3 + shards + s)?.parse().ok())
            .collect::<Option<Vec<_>>>()?;
        Some(ClusterMeta {
            epoch,
            nodes,
            replicas,
            preferred,
        })
    }

    /// The SET commands that write these records in one log entry.
    fn set_commands(&self) -> Vec<ShardCommand> {
        self.records()
            .into_iter()
            .filter_map(|(k, v)| set_command(k, v))
            .collect()
    }
}

fn set_command(key: Bytes, value: String) -> Option<ShardCommand> {
    let argv: Argv = vec![Bytes::from_static(b"SET"), key, Bytes::from(value)];
    StringCommand::parse("set", &argv)
        .ok()
        .map(ShardCommand::String)
}

/// This node's handle on the metadata group, with the last metadata it read.
#[derive(Clone)]
pub struct Metadata {
    group: ShardGroup,
    shards: usize,
    current: Arc<RwLock<Option<ClusterMeta>>>,
}

impl Metadata {
    /// Wraps the metadata group; starts the task that keeps [`Metadata::current`] fresh and that
    /// writes a new cluster's metadata (`initial`) once this node leads an empty group.
    /// The task runs in `tasks` until they are stopped.
    pub fn start(group: ShardGroup, initial: ClusterMeta, tasks: &Tasks) -> Metadata {
        let meta = Metadata {
            group,
            shards: initial.replicas.len(),
            current: Arc::new(RwLock::new(None)),
        };
        tasks.spawn_until_stopped(maintain(meta.clone(), initial));
        meta
    }

    /// The metadata group.
    pub fn group(&self) -> &ShardGroup {
        &self.group
    }

    /// The metadata as last read from this node's replica (`None` before the first read that
    /// found any).
    pub fn current(&self) -> Option<ClusterMeta> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The preferred leader of `shard` per the metadata, if known.
    pub fn preferred_leader(&self, shard: usize) -> Option<u64> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(|m| m.preferred.get(shard).copied())
    }

    /// Reads the metadata from this node's replica of the group (no leader check: it may lag
    /// behind the leader's by a heartbeat).
    pub async fn read_local(&self) -> Option<ClusterMeta> {
        let keys = ClusterMeta::keys(self.shards);
        let read = ShardCommand::String(StringCommand::MGet(keys));
        let Some(Frame::Array(items)) = self.read_one(read, crate::clock::now_ms()).await else {
            return None;
        };
        let values: Vec<Option<String>> = items
            .into_iter()
            .map(|f| match f {
                Frame::Bulk(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                _ => None,
            })
            .collect();
        let meta = ClusterMeta::parse(&values, self.shards)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(meta.clone());
        Some(meta)
    }

    /// Makes `node` the preferred leader of `shards` and bumps the epoch, in one log entry of
    /// the metadata group (forwarded to the group's leader when that is another node).
    pub async fn set_preferred(&self, shards: &[usize], node: u64) -> Result<u64, Refusal> {
        let mut meta = match self.read_local().await {
            Some(m) => m,
            None => return Err(Refusal::NotLeader(None)),
        };
        for &s in shards {
            if let Some(p) = meta.preferred.get_mut(s) {
                *p = node;
            }
        }
        meta.epoch += 1;
        let epoch = meta.epoch;
        let cmds: Vec<ShardCommand> = shards
            .iter()
            .filter_map(|&s| set_command(key(&format!("preferred:{s}")), node.to_string()))
            .chain(set_command(key("epoch"), epoch.to_string()))
            .collect();
        self.write(cmds).await?;
        self.read_local().await;
        Ok(epoch)
    }

    /// The reply of one read command run on this node's replica of the group.
    async fn read_one(&self, read: ShardCommand, now: u64) -> Option<Frame> {
        let gather = Gather::new(1, 1);
        let ctx = ApplyCtx {
            now,
            max_bulk_len: u64::MAX,
        };
        self.group
            .shard
            .send(Batch {
                ctx,
                cmds: vec![(read, 0)],
                gather: gather.clone(),
            })
            .await;
        gather.wait().await;
        gather.take().pop()?
    }

    /// The function libraries as this node's replica holds them (it may lag behind the
    /// leader's by a heartbeat): their names and codes, and what their hash held, to guard a
    /// change with ([`Metadata::replace_functions`]).
    pub async fn read_functions(&self) -> Option<(Seen, Vec<(Bytes, Bytes)>)> {
        let now = crate::clock::now_ms();
        let functions = key(FUNCTIONS);
        let seen = self
            .group
            .shard
            .ask(|tx| ShardMsg::Watch(vec![functions.clone()], now, tx))
            .await?
            .pop()?;
        let argv: Argv = vec![Bytes::from_static(b"HGETALL"), functions];
        let read = crate::commands::parse_shard_command("hgetall", &argv)?.ok()?;
        let records = match self.read_one(read, now).await? {
            Frame::Map(pairs) => pairs
                .into_iter()
                .filter_map(|(k, v)| match (k, v) {
                    (Frame::Bulk(k), Frame::Bulk(v)) => Some((k, v)),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Some((seen, records))
    }

    /// Replaces every function library with `records` (name, code) in one entry of the
    /// metadata group, if their hash still holds what `seen` says (another node may have
    /// changed them since they were read): `Ok(false)` when it did not.
    pub async fn replace_functions(
        &self,
        seen: Seen,
        records: Vec<(Bytes, Bytes)>,
    ) -> Result<bool, Refusal> {
        let functions = key(FUNCTIONS);
        let mut argvs: Vec<Argv> = vec![vec![Bytes::from_static(b"DEL"), functions.clone()]];
        if !records.is_empty() {
            let mut hset = vec![Bytes::from_static(b"HSET"), functions.clone()];
            for (name, code) in records {
                hset.push(name);
                hset.push(code);
            }
            argvs.push(hset);
        }
        let items = argvs
            .iter()
            .map(ExecItem::parse)
            .collect::<Result<Vec<_>, Frame>>()
            .map_err(Refusal::Failed)?;
        let guarded = ExecCommand {
            watched: vec![Watched {
                key: functions,
                seen,
            }],
            items,
        };
        let ctx = ApplyCtx {
            now: crate::clock::now_ms(),
            max_bulk_len: u64::MAX,
        };
        let frames = self
            .group
            .write_anywhere(ctx, vec![ShardCommand::Exec(Box::new(guarded))])
            .await?;
        match frames.into_iter().next() {
            Some(Frame::NullArray) => Ok(false),
            Some(Frame::Array(_)) => Ok(true),
            Some(other) => Err(Refusal::Failed(other)),
            None => Err(Refusal::Failed(Frame::error("ERR no reply"))),
        }
    }

    async fn write(&self, cmds: Vec<ShardCommand>) -> Result<(), Refusal> {
        let ctx = ApplyCtx {
            now: crate::clock::now_ms(),
            max_bulk_len: u64::MAX,
        };
        let frames = self.group.write_anywhere(ctx, cmds).await?;
        match frames.into_iter().find(Frame::is_error) {
            Some(e) => Err(Refusal::Failed(e)),
            None => Ok(()),
        }
    }
}

/// Keeps the cached metadata fresh; writes `initial` when this node leads an empty group.
async fn maintain(meta: Metadata, initial: ClusterMeta) {
    let mut warned = false;
    loop {
        let found = meta.read_local().await;
        if found.is_none() && meta.group.is_leader() {
            match meta.write(initial.set_commands()).await {
                Ok(()) => tracing::info!("cluster metadata written (epoch 1)"),
                Err(e) => tracing::debug!(error = ?e, "cluster metadata not written yet"),
            }
            continue;
        }
        if let Some(found) = found.as_ref().filter(|_| !warned) {
            // Raft addresses may differ between nodes' configs (a node may reach a peer through
            // a proxy); ids, client addresses and placement must not.
            let members = |m: &ClusterMeta| {
                m.nodes
                    .iter()
                    .map(|n| (n.id, n.client_addr.clone()))
                    .collect::<Vec<_>>()
            };
            if found.replicas != initial.replicas || members(found) != members(&initial) {
                warned = true;
                tracing::warn!(
                    "the cluster metadata differs from this node's config; the metadata wins for leader placement"
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn records_round_trip() {
        let mut config = Config {
            replicas: 2,
            ..Config::default()
        };
        config.nodes = (1..=3)
            .map(|id| NodeConfig {
                id,
                client_addr: format!("127.0.0.1:{}", 7000 + id),
                raft_addr: format!("127.0.0.1:{}", 7100 + id),
            })
            .collect();
        let t = Topology::from_config(&config, "unused");
        let meta = ClusterMeta::from_topology(&t, 5);
        let records = meta.records();
        let keys = ClusterMeta::keys(5);
        let values: Vec<Option<String>> = keys
            .iter()
            .map(|k| {
                records
                    .iter()
                    .find(|(rk, _)| rk == k)
                    .map(|(_, v)| v.clone())
            })
            .collect();
        assert_eq!(ClusterMeta::parse(&values, 5), Some(meta.clone()));
        assert_eq!(ClusterMeta::parse(&values, 4), None, "shard count checked");
        let mut missing = values.clone();
        missing[0] = None;
        assert_eq!(ClusterMeta::parse(&missing, 5), None);
        assert_eq!(meta.set_commands().len(), records.len());
        // Every key hashes to the metadata slot.
        let slot = crate::slot::key_slot(META_TAG);
        assert!(keys.iter().all(|k| crate::slot::key_slot(k) == slot));
    }
}
