//! The receiving side of the gRPC transport (see `transport.rs` for the sending side and the
//! wire): checks each batch's envelope, then hands every RPC to the Raft handle of the group it
//! names, found in the node's group registry, and answers them in order.

use std::io;
use std::sync::Arc;

use openraft::type_config::alias::{SnapshotMetaOf, SnapshotOf, VoteOf};
use proto::raft as pb;
use tokio::sync::{mpsc, Semaphore};

use super::registry::GroupRegistry;
use super::transport::{Identity, MAX_MESSAGE, STREAM_BATCHES_IN_SERVICE};
use super::wal::Wal;
use super::{ClientBatch, GroupId, ShardRaft, ShardTC};
use crate::cluster::LeaderBoard;
use crate::codec::{decode, encode};
use crate::tasks::Tasks;

/// The receiving side: routes each call to the group it names.
#[derive(Clone)]
pub struct TransportService {
    cluster_id: u64,
    /// This node's id: calls meant for another node are refused.
    node_id: u64,
    /// The groups calls are for (the node's registry: a group is reachable while it is there).
    groups: Arc<GroupRegistry>,
    leaders: Arc<LeaderBoard>,
    /// The node's WAL: while it cannot write (a full disk), leadership transfers are declined.
    wal: Wal,
    /// Where the tasks serving incoming streams run; they end when it is stopped.
    tasks: Tasks,
}

impl TransportService {
    /// The service of node `identity` for the groups in `groups`. Leaders that peers report go
    /// to `leaders`; the tasks serving incoming streams run in `tasks`.
    pub fn new(
        identity: Identity,
        leaders: Arc<LeaderBoard>,
        groups: Arc<GroupRegistry>,
        wal: Wal,
        tasks: &Tasks,
    ) -> TransportService {
        TransportService {
            cluster_id: identity.cluster_id,
            node_id: identity.node_id,
            groups,
            leaders,
            wal,
            tasks: tasks.clone(),
        }
    }

    /// The (group, leader, term) of every shard group of this node with a known leader.
    pub fn leader_hints(&self) -> Vec<(GroupId, u64, u64)> {
        use openraft::async_runtime::WatchReceiver;
        self.groups
            .load()
            .all()
            .filter(|(g, _)| *g != super::META_GROUP)
            .filter_map(|(g, group)| {
                let m = group.raft.metrics();
                let m = m.borrow_watched();
                m.current_leader.map(|l| (g, l, m.current_term))
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
            .groups
            .load()
            .group(group)
            .map(|g| g.proposer().clone())
            .ok_or_else(|| format!("no group {group} on this node"))?;
        let batch: ClientBatch = decode(payload).map_err(|e| e.to_string())?;
        let answer = proposer.write(batch.ctx, batch.cmds).await;
        encode(&answer).map_err(|e| e.to_string())
    }

    fn group(&self, group: GroupId) -> Result<ShardRaft, String> {
        self.groups
            .load()
            .group(group)
            .map(|g| g.raft.clone())
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
        if env.to_node != self.node_id {
            return Err(tonic::Status::permission_denied(format!(
                "this is node {} of cluster {}, not node {}",
                self.node_id, self.cluster_id, env.to_node
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
                    if let Some(why) = self.wal.write_stalled() {
                        // A leader that cannot write its log would stall the group: decline
                        // (the sender stays leader), and the transfer is tried again later.
                        return Err(format!("declining leadership: cannot write the log: {why}"));
                    }
                    let req = decode(&rpc.payload).map_err(bad)?;
                    encode(
                        &raft
                            .handle_transfer_leader(req)
                            .await
                            .map_err(|e| e.to_string())?,
                    )
                }
                pb::RpcKind::Propose => return self.propose(rpc.group_id, &rpc.payload).await,
                pb::RpcKind::FetchSnapshot => {
                    let req: super::snapshot_fetch::ChunkRequest =
                        decode(&rpc.payload).map_err(bad)?;
                    let path = self
                        .groups
                        .load()
                        .group(rpc.group_id)
                        .map(|g| g.snapshot_path.clone())
                        .ok_or_else(|| format!("no group {} on this node", rpc.group_id))?;
                    let chunk = tokio::task::spawn_blocking(move || {
                        super::snapshot_fetch::read_chunk(&path, &req)
                    })
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("its snapshot file: {e}"))?;
                    encode(&chunk)
                }
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
        Ok(tonic::Response::new(pb::ReplyBatch { replies, seq: 0 }))
    }

    type StreamStream = std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<pb::ReplyBatch, tonic::Status>> + Send>,
    >;

    async fn stream(
        &self,
        request: tonic::Request<tonic::Streaming<pb::RpcBatch>>,
    ) -> Result<tonic::Response<Self::StreamStream>, tonic::Status> {
        let mut batches = request.into_inner();
        let (tx, rx) = mpsc::channel(STREAM_BATCHES_IN_SERVICE);
        let service = self.clone();
        self.tasks.spawn(async move {
            // At most this many batches of the stream are served at once; meanwhile the next
            // is not read, and HTTP/2 flow control holds the sender back.
            let serving = Arc::new(Semaphore::new(STREAM_BATCHES_IN_SERVICE));
            // When the node shuts down the stream ends (the peer's lane sees it and opens a new
            // one elsewhere or later). Waited on only while no batch is ready, once per batch.
            let stop = service.tasks.stopping().wait();
            tokio::pin!(stop);
            loop {
                let Ok(permit) = serving.clone().acquire_owned().await else {
                    return;
                };
                let next = tokio::select! {
                    biased;
                    next = batches.message() => next,
                    () = &mut stop => return,
                };
                let batch = match next {
                    Ok(Some(batch)) => batch,
                    Ok(None) | Err(_) => return,
                };
                if let Err(status) = service.check(batch.envelope.as_ref()) {
                    let _ = tx.send(Err(status)).await;
                    return;
                }
                let (service, tx) = (service.clone(), tx.clone());
                service.tasks.clone().spawn(async move {
                    let replies = futures_util::future::join_all(
                        batch.rpcs.into_iter().map(|r| service.dispatch(r)),
                    )
                    .await;
                    let seq = batch.seq;
                    let _ = tx.send(Ok(pb::ReplyBatch { replies, seq })).await;
                    drop(permit);
                });
            }
        });
        Ok(tonic::Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
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

/// The connections accepted on `listener`, with TCP_NODELAY set.
///
/// Raft messages are small and latency-bound: without TCP_NODELAY a reply can sit in Nagle's
/// buffer until the peer's delayed ACK (40 ms on Linux), which once made the 99th percentile of
/// replicated writes about 45 ms. tonic's own `tcp_nodelay` only applies to sockets it accepts
/// itself, not to an incoming stream handed to it.
fn accept_nodelay(
    listener: tokio::net::TcpListener,
) -> impl futures_util::Stream<Item = io::Result<tokio::net::TcpStream>> {
    futures_util::StreamExt::map(
        tokio_stream::wrappers::TcpListenerStream::new(listener),
        |accepted| {
            accepted.inspect(|stream| {
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::warn!(error = %e, "cannot set TCP_NODELAY on a Raft connection");
                }
            })
        },
    )
}

/// Serves the transport on `listener` until the node stops.
pub async fn serve_transport(service: TransportService, listener: tokio::net::TcpListener) {
    let incoming = accept_nodelay(listener);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_raft_connections_do_not_wait_for_nagle() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut incoming = Box::pin(accept_nodelay(listener));
        let _client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let accepted = futures_util::StreamExt::next(&mut incoming)
            .await
            .expect("a connection")
            .expect("accepted");
        assert!(accepted.nodelay().expect("nodelay"));
    }
}
