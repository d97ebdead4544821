//! Replication: every shard is one openraft group, and the shard actor is its state machine.
//!
//! Kept apart behind openraft's traits, as in openraft's own examples:
//! - [`wal`]: the node's write-ahead log, shared by all groups, with group commit;
//! - [`log_store`]: openraft's log storage for one group, on top of the WAL;
//! - [`state_machine`]: openraft's state machine for one shard, which hands committed entries to
//!   the shard actor over its channel (so "applied" means "visible to the next read");
//! - [`registry`]: the groups a node hosts, shared by routing, transport, compaction and balancing;
//! - [`crate::codec`]: the bincode encoding used on disk and on the wire.

pub mod expiry;
pub mod group;
pub mod log_store;
pub mod meta;
pub mod persistence;
pub mod proposer;
pub mod registry;
pub mod runtime;
pub mod service;
pub mod shard_group;
pub mod snapshot_fetch;
pub mod state_machine;
pub mod transport;
pub mod wal;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::protocol::Frame;

pub use crate::shard::ClientBatch;

/// One Raft log entry of a shard: the client batches that reached the shard's proposer together
/// (one or many connections' pipelines), applied one after the other.
///
/// The batches are shared, not copied, when openraft clones an entry (it reads entries back from
/// the log to apply and to replicate them) or the proposer keeps one for a retry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ShardRequest {
    /// Batches in the order they are applied.
    pub batches: std::sync::Arc<[ClientBatch]>,
}

impl fmt::Display for ShardRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cmds: usize = self.batches.iter().map(|b| b.cmds.len()).sum();
        write!(f, "{} batch(es), {cmds} command(s)", self.batches.len())
    }
}

/// The replies of one applied [`ShardRequest`]: per batch, per command.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ShardResponse(pub Vec<Vec<Frame>>);

/// Type configuration of the shard groups (and of the metadata group).
///
/// Written out rather than with openraft's `declare_raft_types!`, which cannot set the responder:
/// a write is answered through a [`CallbackResponder`], so the replies go from the state machine
/// straight to the waiting connections, with no task in between.
#[derive(Debug, Clone, Copy, Default, Eq, PartialEq, Ord, PartialOrd)]
pub struct ShardTC;

impl openraft::RaftTypeConfig for ShardTC {
    type D = ShardRequest;
    type R = ShardResponse;
    type NodeId = u64;
    type Node = openraft::BasicNode;
    type Term = u64;
    type LeaderId = openraft::impls::leader_id_adv::LeaderId<u64, u64>;
    type Vote = openraft::impls::Vote<Self::LeaderId>;
    type Payload = openraft::EntryPayload<ShardRequest, u64, openraft::BasicNode>;
    type Entry =
        openraft::Entry<<Self::LeaderId as openraft::vote::RaftLeaderId>::Committed, Self::Payload>;
    type AsyncRuntime = runtime::NodeRuntime;
    type Responder<T>
        = CallbackResponder<T>
    where
        T: openraft::OptionalSend + 'static;
    type Batch<T>
        = openraft::impls::InlineBatch<T>
    where
        T: openraft::OptionalSend + 'static;
    type ErrorSource = openraft::impls::BoxedErrorSource;
}

/// Runs a callback with the outcome of a write (see [`ShardTC`]).
pub struct CallbackResponder<T>(Box<dyn FnOnce(T) + Send + 'static>);

impl<T> CallbackResponder<T> {
    /// A responder that calls `f` with the outcome. `f` runs on whichever task learns it (the
    /// shard actor once the entry is applied, the Raft core on a refusal), so it must be quick
    /// and must not block.
    pub fn new(f: impl FnOnce(T) + Send + 'static) -> Self {
        CallbackResponder(Box::new(f))
    }
}

impl<T: openraft::OptionalSend + 'static> openraft::raft::responder::Responder<ShardTC, T>
    for CallbackResponder<T>
{
    fn on_complete(self, result: T) {
        (self.0)(result)
    }
}

/// A shard group's Raft handle.
pub type ShardRaft = openraft::Raft<ShardTC, state_machine::ShardSm>;

/// Identifies a Raft group on a node: 0 is the metadata group, shard `i` is group `i + 1`.
pub type GroupId = u64;

/// The group id of the metadata group.
pub const META_GROUP: GroupId = 0;

/// The group id of shard `shard`.
pub fn shard_group(shard: usize) -> GroupId {
    shard as u64 + 1
}
