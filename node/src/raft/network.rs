//! The Raft transport of a node that has no peers (a one-replica cluster, as `make run` starts):
//! a one-voter group never sends a Raft message, and this transport says so if it is ever asked.
//! The gRPC transport between nodes replaces it when the cluster has more than one node.

use openraft::error::{RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::type_config::alias::{SnapshotOf, VoteOf};
use openraft::BasicNode;

use super::ShardTC;

/// Transport factory for a node without peers.
#[derive(Clone, Default)]
pub struct NoPeers;

/// The (never used) connection to a peer.
pub struct NoPeer;

fn no_peer() -> std::io::Error {
    std::io::Error::other("this node has no peers")
}

impl RaftNetworkFactory<ShardTC> for NoPeers {
    type Network = NoPeer;

    async fn new_client(&mut self, _target: u64, _node: &BasicNode) -> NoPeer {
        NoPeer
    }
}

impl RaftNetworkV2<ShardTC> for NoPeer {
    type SnapshotData = Vec<u8>;

    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<ShardTC>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<ShardTC>, RPCError<ShardTC>> {
        Err(RPCError::Unreachable(Unreachable::new(&no_peer())))
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<ShardTC>,
        _option: RPCOption,
    ) -> Result<VoteResponse<ShardTC>, RPCError<ShardTC>> {
        Err(RPCError::Unreachable(Unreachable::new(&no_peer())))
    }

    async fn full_snapshot(
        &mut self,
        _vote: VoteOf<ShardTC>,
        _snapshot: SnapshotOf<ShardTC, Vec<u8>>,
        _cancel: impl std::future::Future<Output = ReplicationClosed> + Send + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<ShardTC>, StreamingError<ShardTC>> {
        Err(StreamingError::Unreachable(Unreachable::new(&no_peer())))
    }
}
