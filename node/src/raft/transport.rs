//! The gRPC transport between nodes (schema in `proto/raft.proto`).
//!
//! Every group on a node talks to a given peer over the same HTTP/2 connection: [`Peers`] keeps
//! one lazily connected channel per peer, and each group's [`GrpcNetwork`] clones it. Raft
//! messages travel as bincode payloads inside [`pb::GroupRpc`]s tagged with their group, in
//! [`pb::RpcBatch`]es carrying an [`pb::Envelope`] that the receiver checks (cluster id, wire
//! version) before anything reaches Raft. Snapshots stream in 1 MiB chunks.
//!
//! The receiving side is [`TransportService`]: it looks the group up and hands the message to its
//! Raft handle.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use openraft::error::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::type_config::alias::{SnapshotMetaOf, SnapshotOf, VoteOf};
use openraft::BasicNode;
use proto::raft as pb;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::codec::{decode, encode};
use super::proposer::Proposer;
use super::{ClientBatch, GroupId, ShardRaft, ShardTC};
use crate::cluster::LeaderBoard;

type Client = pb::raft_transport_client::RaftTransportClient<tonic::transport::Channel>;

/// Size of the chunks a snapshot is streamed in.
const SNAPSHOT_CHUNK: usize = 1 << 20;
/// Largest gRPC message either side accepts (an append of many large values can be big).
const MAX_MESSAGE: usize = 1 << 30;

/// This node's side of every call: who is calling, in which cluster.
#[derive(Clone, Copy, Debug)]
pub struct Identity {
    /// Cluster id; a node refuses calls from another cluster.
    pub cluster_id: u64,
    /// This node's id.
    pub node_id: u64,
}

impl Identity {
    fn envelope(&self) -> pb::Envelope {
        pb::Envelope {
            cluster_id: self.cluster_id,
            from_node: self.node_id,
            wire_version: proto::WIRE_VERSION,
        }
    }
}

/// One channel per peer, shared by every group of this node.
pub struct Peers {
    identity: Identity,
    clients: Mutex<HashMap<u64, (String, Client)>>,
    addresses: HashMap<u64, String>,
}

impl Peers {
    /// No connections yet; they are made on first use. `addresses`: where this node's config
    /// says each peer's Raft port is (used instead of the address in the group membership, which
    /// is the bootstrap node's view: a node may reach a peer through a proxy).
    pub fn new(identity: Identity, addresses: HashMap<u64, String>) -> Arc<Peers> {
        Arc::new(Peers {
            identity,
            clients: Mutex::new(HashMap::new()),
            addresses,
        })
    }

    /// The address of peer `id`: this node's config's, else `fallback`.
    pub fn address<'a>(&'a self, id: u64, fallback: &'a str) -> &'a str {
        self.addresses.get(&id).map_or(fallback, String::as_str)
    }

    fn client(&self, id: u64, addr: &str) -> Result<Client, io::Error> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((known, client)) = clients.get(&id) {
            if known == addr {
                return Ok(client.clone());
            }
        }
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .map_err(io::Error::other)?
            .connect_timeout(Duration::from_millis(500))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(5))
            .connect_lazy();
        let client = Client::new(channel)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        clients.insert(id, (addr.to_string(), client.clone()));
        Ok(client)
    }
}

impl Peers {
    /// Sends one request outside Raft's own traffic (a forwarded write, the leader exchange) to
    /// node `target` at `addr` and waits at most `timeout` for its reply.
    pub async fn request(
        &self,
        target: u64,
        addr: &str,
        rpc: pb::GroupRpc,
        timeout: Duration,
    ) -> Result<pb::GroupReply, String> {
        let mut client = self.client(target, addr).map_err(|e| e.to_string())?;
        let batch = pb::RpcBatch {
            envelope: Some(self.identity.envelope()),
            rpcs: vec![rpc],
        };
        let reply = tokio::time::timeout(timeout, client.call(batch))
            .await
            .map_err(|_| format!("node {target}: no reply within {timeout:?}"))?
            .map_err(|s| format!("node {target}: {s}"))?
            .into_inner();
        reply
            .replies
            .into_iter()
            .next()
            .ok_or_else(|| format!("node {target}: empty reply"))
    }
}

/// The transport factory of one group.
#[derive(Clone)]
pub struct GrpcNetwork {
    group: GroupId,
    peers: Arc<Peers>,
}

impl GrpcNetwork {
    /// The transport of `group` over the node's shared peer channels.
    pub fn new(group: GroupId, peers: Arc<Peers>) -> GrpcNetwork {
        GrpcNetwork { group, peers }
    }
}

/// One group's connection to one peer.
pub struct GrpcPeer {
    group: GroupId,
    target: u64,
    client: Result<Client, String>,
    identity: Identity,
}

impl RaftNetworkFactory<ShardTC> for GrpcNetwork {
    type Network = GrpcPeer;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> GrpcPeer {
        GrpcPeer {
            group: self.group,
            target,
            client: self
                .peers
                .client(target, self.peers.address(target, &node.addr))
                .map_err(|e| e.to_string()),
            identity: self.peers.identity,
        }
    }
}

fn unreachable(e: impl std::fmt::Display) -> Unreachable<ShardTC> {
    Unreachable::new(&io::Error::other(e.to_string()))
}

impl GrpcPeer {
    fn client(&self) -> Result<Client, Unreachable<ShardTC>> {
        self.client.clone().map_err(unreachable)
    }

    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &mut self,
        kind: pb::RpcKind,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<ShardTC>> {
        let payload = encode(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let batch = pb::RpcBatch {
            envelope: Some(self.identity.envelope()),
            rpcs: vec![pb::GroupRpc {
                group_id: self.group,
                kind: kind as i32,
                payload: payload.into(),
            }],
        };
        let mut request = tonic::Request::new(batch);
        request.set_timeout(option.soft_ttl());
        let mut client = self.client().map_err(RPCError::Unreachable)?;
        let reply = client.call(request).await.map_err(|s| {
            RPCError::Unreachable(unreachable(format!("node {}: {s}", self.target)))
        })?;
        let reply = reply
            .into_inner()
            .replies
            .into_iter()
            .next()
            .ok_or_else(|| {
                RPCError::Network(NetworkError::new(&io::Error::other("empty reply")))
            })?;
        if !reply.error.is_empty() {
            return Err(RPCError::Network(NetworkError::new(&io::Error::other(
                reply.error,
            ))));
        }
        decode(&reply.payload).map_err(|e| RPCError::Network(NetworkError::new(&e)))
    }
}

impl RaftNetworkV2<ShardTC> for GrpcPeer {
    type SnapshotData = Vec<u8>;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<ShardTC>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<ShardTC>, RPCError<ShardTC>> {
        self.call(pb::RpcKind::AppendEntries, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<ShardTC>,
        option: RPCOption,
    ) -> Result<VoteResponse<ShardTC>, RPCError<ShardTC>> {
        self.call(pb::RpcKind::Vote, &rpc, &option).await
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<ShardTC>,
        option: RPCOption,
    ) -> Result<VoteResponse<ShardTC>, RPCError<ShardTC>> {
        self.call(pb::RpcKind::PreVote, &rpc, &option).await
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<ShardTC>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<ShardTC>, RPCError<ShardTC>> {
        self.call(pb::RpcKind::TransferLeader, &req, &option).await
    }

    async fn full_snapshot(
        &mut self,
        vote: VoteOf<ShardTC>,
        snapshot: SnapshotOf<ShardTC, Vec<u8>>,
        cancel: impl std::future::Future<Output = ReplicationClosed> + Send + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<ShardTC>, StreamingError<ShardTC>> {
        let encode_err = |e: io::Error| StreamingError::Network(NetworkError::new(&e));
        let header = pb::SnapshotFrame {
            frame: Some(pb::snapshot_frame::Frame::Header(pb::SnapshotHeader {
                envelope: Some(self.identity.envelope()),
                group_id: self.group,
                vote: encode(&vote).map_err(encode_err)?.into(),
                meta: encode(&snapshot.meta).map_err(encode_err)?.into(),
            })),
        };
        let data = bytes::Bytes::from(snapshot.snapshot);
        let chunks: Vec<pb::SnapshotFrame> = (0..data.len())
            .step_by(SNAPSHOT_CHUNK)
            .map(|off| pb::SnapshotFrame {
                frame: Some(pb::snapshot_frame::Frame::Chunk(
                    data.slice(off..(off + SNAPSHOT_CHUNK).min(data.len())),
                )),
            })
            .collect();
        let frames = std::iter::once(header).chain(chunks);
        let mut client = self.client().map_err(StreamingError::Unreachable)?;
        let send = async move { client.install_snapshot(tokio_stream::iter(frames)).await };
        tokio::select! {
            closed = cancel => Err(StreamingError::Closed(closed)),
            reply = send => {
                let reply = reply.map_err(|s| StreamingError::Unreachable(unreachable(s)))?.into_inner();
                if !reply.error.is_empty() {
                    return Err(StreamingError::Network(NetworkError::new(&io::Error::other(reply.error))));
                }
                decode(&reply.payload).map_err(|e| StreamingError::Network(NetworkError::new(&e)))
            }
        }
    }
}

/// The receiving side: routes each call to the group it names.
#[derive(Clone)]
pub struct TransportService {
    cluster_id: u64,
    groups: Arc<RwLock<HashMap<GroupId, ShardRaft>>>,
    writers: Arc<RwLock<HashMap<GroupId, Proposer>>>,
    leaders: Arc<LeaderBoard>,
}

impl TransportService {
    /// A service for the groups of cluster `cluster_id`; groups are added as they start.
    /// Leaders that peers report go to `leaders`.
    pub fn new(cluster_id: u64, leaders: Arc<LeaderBoard>) -> TransportService {
        TransportService {
            cluster_id,
            groups: Arc::new(RwLock::new(HashMap::new())),
            writers: Arc::new(RwLock::new(HashMap::new())),
            leaders,
        }
    }

    /// Lets peers forward writes for `group` to `proposer` (used while this node leads it).
    pub fn register_writer(&self, group: GroupId, proposer: Proposer) {
        self.writers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(group, proposer);
    }

    /// The (group, leader, term) of every shard group of this node with a known leader.
    pub fn leader_hints(&self) -> Vec<(GroupId, u64, u64)> {
        use openraft::async_runtime::WatchReceiver;
        let groups = self.groups.read().unwrap_or_else(|p| p.into_inner());
        groups
            .iter()
            .filter(|(g, _)| **g != super::META_GROUP)
            .filter_map(|(g, raft)| {
                let m = raft.metrics();
                let m = m.borrow_watched();
                m.current_leader.map(|l| (*g, l, m.current_term))
            })
            .collect()
    }

    /// Records leaders a peer reported.
    pub fn learn_leaders(&self, hints: &[(GroupId, u64, u64)]) {
        for &(group, leader, term) in hints {
            if let Some(shard) = group.checked_sub(1) {
                self.leaders.observe(shard as usize, leader, term);
            }
        }
    }

    async fn propose(&self, group: GroupId, payload: &[u8]) -> Result<Vec<u8>, String> {
        let proposer = self
            .writers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&group)
            .cloned()
            .ok_or_else(|| format!("no group {group} on this node"))?;
        let batch: ClientBatch = decode(payload).map_err(|e| e.to_string())?;
        let answer = proposer.write(batch.ctx, batch.cmds).await;
        encode(&answer).map_err(|e| e.to_string())
    }

    /// Makes `raft` reachable as `group`.
    pub fn register(&self, group: GroupId, raft: ShardRaft) {
        self.groups
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(group, raft);
    }

    fn group(&self, group: GroupId) -> Result<ShardRaft, String> {
        self.groups
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&group)
            .cloned()
            .ok_or_else(|| format!("no group {group} on this node"))
    }

    fn check(&self, envelope: Option<&pb::Envelope>) -> Result<(), tonic::Status> {
        let Some(env) = envelope else {
            return Err(tonic::Status::invalid_argument("missing envelope"));
        };
        if env.wire_version != proto::WIRE_VERSION {
            return Err(tonic::Status::failed_precondition(format!(
                "wire version {} (this node speaks {})",
                env.wire_version,
                proto::WIRE_VERSION
            )));
        }
        if env.cluster_id != self.cluster_id {
            return Err(tonic::Status::permission_denied(format!(
                "node {} belongs to cluster {}, not {}",
                env.from_node, env.cluster_id, self.cluster_id
            )));
        }
        Ok(())
    }

    async fn dispatch(&self, rpc: pb::GroupRpc) -> pb::GroupReply {
        let result = async {
            let raft = self.group(rpc.group_id)?;
            let bad = |e: io::Error| e.to_string();
            let kind = pb::RpcKind::try_from(rpc.kind).map_err(|e| e.to_string())?;
            let payload = match kind {
                pb::RpcKind::AppendEntries => {
                    let req = decode(&rpc.payload).map_err(bad)?;
                    encode(&raft.append_entries(req).await.map_err(|e| e.to_string())?)
                }
                pb::RpcKind::Vote => {
                    let req = decode(&rpc.payload).map_err(bad)?;
                    encode(&raft.vote(req).await.map_err(|e| e.to_string())?)
                }
                pb::RpcKind::PreVote => {
                    let req = decode(&rpc.payload).map_err(bad)?;
                    encode(&raft.pre_vote(req).await.map_err(|e| e.to_string())?)
                }
                pb::RpcKind::TransferLeader => {
                    let req = decode(&rpc.payload).map_err(bad)?;
                    encode(
                        &raft
                            .handle_transfer_leader(req)
                            .await
                            .map_err(|e| e.to_string())?,
                    )
                }
                pb::RpcKind::Propose => return self.propose(rpc.group_id, &rpc.payload).await,
                pb::RpcKind::Leaders => {
                    let hints: Vec<(GroupId, u64, u64)> = decode(&rpc.payload).map_err(bad)?;
                    self.learn_leaders(&hints);
                    encode(&self.leader_hints())
                }
                pb::RpcKind::Unspecified => return Err("unspecified rpc kind".to_string()),
            };
            payload.map_err(bad)
        }
        .await;
        group_reply(result)
    }
}

/// The reply to one group's call: the encoded response, or the error's text.
fn group_reply(result: Result<Vec<u8>, String>) -> pb::GroupReply {
    match result {
        Ok(payload) => pb::GroupReply {
            payload: payload.into(),
            error: String::new(),
        },
        Err(error) => pb::GroupReply {
            payload: Default::default(),
            error,
        },
    }
}

#[tonic::async_trait]
impl pb::raft_transport_server::RaftTransport for TransportService {
    async fn call(
        &self,
        request: tonic::Request<pb::RpcBatch>,
    ) -> Result<tonic::Response<pb::ReplyBatch>, tonic::Status> {
        let batch = request.into_inner();
        self.check(batch.envelope.as_ref())?;
        let replies =
            futures_util::future::join_all(batch.rpcs.into_iter().map(|r| self.dispatch(r))).await;
        Ok(tonic::Response::new(pb::ReplyBatch { replies }))
    }

    async fn install_snapshot(
        &self,
        request: tonic::Request<tonic::Streaming<pb::SnapshotFrame>>,
    ) -> Result<tonic::Response<pb::GroupReply>, tonic::Status> {
        let mut frames = request.into_inner();
        let Some(pb::SnapshotFrame {
            frame: Some(pb::snapshot_frame::Frame::Header(header)),
        }) = frames.message().await?
        else {
            return Err(tonic::Status::invalid_argument(
                "a snapshot starts with its header",
            ));
        };
        // Checked before any data reaches Raft: a foreign snapshot would be fatal to the group.
        self.check(header.envelope.as_ref())?;
        let mut data = Vec::new();
        while let Some(frame) = frames.message().await? {
            if let Some(pb::snapshot_frame::Frame::Chunk(chunk)) = frame.frame {
                data.extend_from_slice(&chunk);
            }
        }
        let result = async {
            let raft = self.group(header.group_id)?;
            let vote: VoteOf<ShardTC> = decode(&header.vote).map_err(|e| e.to_string())?;
            let meta: SnapshotMetaOf<ShardTC> = decode(&header.meta).map_err(|e| e.to_string())?;
            let response = raft
                .install_full_snapshot(
                    vote,
                    SnapshotOf::<ShardTC, Vec<u8>> {
                        meta,
                        snapshot: data,
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
            encode(&response).map_err(|e| e.to_string())
        }
        .await;
        Ok(tonic::Response::new(group_reply(result)))
    }
}

/// Serves the transport on `listener` until the node stops.
pub async fn serve(service: TransportService, listener: tokio::net::TcpListener) {
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let server = pb::raft_transport_server::RaftTransportServer::new(service)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    if let Err(e) = tonic::transport::Server::builder()
        .add_service(server)
        .serve_with_incoming(incoming)
        .await
    {
        tracing::error!(error = %e, "raft transport stopped");
    }
}
