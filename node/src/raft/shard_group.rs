//! One hosted group as the rest of the node sees it: its actor, its Raft handle, and the calls
//! the connections make (a replicated write, the linearizability check before reads), with
//! its replication status in plain numbers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::type_config::alias::{LogIdOf, WatchReceiverOf};
use openraft::{Instant as _, LinearizerOption, RaftMetrics};

use super::log_store::LogStore;
use super::proposer::{Answer, Proposer, Refusal};
use super::state_machine::Shard;
use super::transport::Peers;
use super::{GroupId, ShardRaft, ShardTC};
use crate::commands::{ApplyCtx, ShardCommand};
use crate::protocol::Frame;

/// A group member's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Takes the group's writes.
    Leader,
    /// Follows a leader.
    Follower,
    /// Asking for votes.
    Candidate,
    /// Receives the log without voting.
    Learner,
}

impl Role {
    /// The name INFO shows.
    pub fn name(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Learner => "learner",
        }
    }
}

/// A group's replication state, in plain numbers (log indexes), for what reports it: the
/// commands read this rather than the consensus library's own metrics.
#[derive(Clone, Debug)]
pub struct GroupStatus {
    /// This node's id.
    pub node: u64,
    /// This node's role in the group.
    pub role: Role,
    /// The leader this node knows of.
    pub leader: Option<u64>,
    /// The current term.
    pub term: u64,
    /// The commit index.
    pub committed: u64,
    /// The last index applied here.
    pub applied: u64,
    /// The last index in this node's log.
    pub last_log: u64,
    /// The last index the snapshot covers.
    pub snapshot: u64,
    /// The voters, in membership order.
    pub voters: Vec<u64>,
    /// On the leader: every other member's matched index, by node id.
    pub matched: Vec<(u64, u64)>,
}

/// One shard: its actor and its Raft group.
#[derive(Clone)]
pub struct ShardGroup {
    /// The actor that owns the keyspace (and applies the group's entries).
    pub shard: Shard,
    /// The group's Raft handle.
    pub raft: ShardRaft,
    /// The group's metrics, kept to be read without cloning a receiver per read batch.
    pub(super) metrics: WatchReceiverOf<ShardTC, RaftMetrics<ShardTC>>,
    /// Where the group's writes are queued to become log entries.
    pub(super) proposer: Proposer,
    pub(super) commit_timeout: Duration,
    /// The term in which a full linearizability check last succeeded (see [`ShardGroup::read_barrier`]).
    pub(super) confirmed_term: Arc<AtomicU64>,
    /// The term in which this node started handing its leadership to another node (0: never).
    /// From then on in that term it serves no read on its lease: the node it hands over to is
    /// elected at once, without waiting for any lease to run out (see [`ShardGroup::hand_over`]).
    pub(super) handed_over_term: Arc<AtomicU64>,
    /// The group's id.
    pub(super) group: GroupId,
    /// The node's links to its peers (for forwarded writes).
    pub(super) peers: Arc<Peers>,
    /// The group's log (the WAL compactor copies it).
    pub(super) log: LogStore,
    /// The group's snapshot file (served to a replica whose own copy is damaged).
    pub(super) snapshot_path: std::path::PathBuf,
}

/// How long after the last quorum acknowledgement a leader still serves reads on its own: less
/// than the shortest election timeout, so no other leader can have been elected meanwhile.
pub(super) const LEASE: Duration = Duration::from_millis(ELECTION_TIMEOUT_MIN - 150);
pub(super) const HEARTBEAT: u64 = 100;
pub(super) const ELECTION_TIMEOUT_MIN: u64 = 400;
pub(super) const ELECTION_TIMEOUT_MAX: u64 = 800;

impl ShardGroup {
    /// Replicates the write commands of one client batch for this shard and returns their
    /// replies once the log entry holding them is committed and applied.
    pub async fn write(&self, ctx: ApplyCtx, cmds: Vec<ShardCommand>) -> Answer {
        self.proposer.write(ctx, cmds).await
    }

    /// The node's links to its peers (shared by every group), with their counters.
    pub fn peers(&self) -> &Peers {
        &self.peers
    }

    /// Where the group's writes are queued (the transport hands forwarded writes to it).
    pub(crate) fn proposer(&self) -> &Proposer {
        &self.proposer
    }

    /// Like [`ShardGroup::write`], but when another node leads the group the batch is forwarded
    /// to it over the Raft transport (for node-internal writes such as the metadata's, which
    /// cannot answer MOVED to a client).
    pub async fn write_anywhere(&self, ctx: ApplyCtx, cmds: Vec<ShardCommand>) -> Answer {
        let me = *self.raft.node_id();
        match self.write(ctx, cmds.clone()).await {
            Err(Refusal::NotLeader(Some(leader))) if leader != me => {
                self.forward(leader, ctx, cmds).await
            }
            answer => answer,
        }
    }

    async fn forward(&self, leader: u64, ctx: ApplyCtx, cmds: Vec<ShardCommand>) -> Answer {
        let addr = {
            let m = self.raft.metrics();
            let m = m.borrow_watched();
            m.membership_config
                .membership()
                .get_node(&leader)
                .map(|n| n.addr.clone())
        };
        let Some(addr) = addr else {
            return Err(Refusal::NotLeader(Some(leader)));
        };
        let addr = self.peers.address(leader, &addr).to_string();
        let batch = super::ClientBatch { ctx, cmds };
        let payload = crate::codec::encode(&batch)
            .map_err(|e| Refusal::Failed(Frame::error_owned(format!("ERR {e}"))))?;
        let rpc = proto::raft::GroupRpc {
            group_id: self.group,
            kind: proto::raft::RpcKind::Propose as i32,
            payload: payload.into(),
        };
        let timeout = self.commit_timeout + Duration::from_secs(1);
        match self.peers.request(leader, &addr, rpc, timeout).await {
            Ok(reply) if reply.error.is_empty() => crate::codec::decode::<Answer>(&reply.payload)
                .unwrap_or(Err(Refusal::NotLeader(None))),
            Ok(reply) => {
                tracing::debug!(leader, error = %reply.error, "forwarded write refused");
                Err(Refusal::NotLeader(None))
            }
            Err(e) => {
                tracing::debug!(leader, error = %e, "forwarded write failed");
                Err(Refusal::NotLeader(None))
            }
        }
    }

    /// The group's replication state as this node sees it (INFO replication, CLUSTER SHARDS).
    pub fn status(&self) -> GroupStatus {
        let m = self.metrics.borrow_watched().clone();
        let index = |l: Option<&LogIdOf<ShardTC>>| l.map_or(0, |l| l.index());
        let role = if m.state.is_leader() {
            Role::Leader
        } else if m.state.is_follower() {
            Role::Follower
        } else if m.state.is_candidate() {
            Role::Candidate
        } else {
            Role::Learner
        };
        let mut matched: Vec<(u64, u64)> = m
            .replication
            .as_ref()
            .map(|r| {
                r.iter()
                    .filter(|(id, _)| **id != m.id)
                    .map(|(id, l)| (*id, index(l.as_ref())))
                    .collect()
            })
            .unwrap_or_default();
        matched.sort_unstable();
        GroupStatus {
            node: m.id,
            role,
            leader: m.current_leader,
            term: m.current_term,
            committed: index(m.local_committed.max(m.cluster_committed).as_ref()),
            applied: index(m.last_applied.as_ref()),
            last_log: m.last_log_index.unwrap_or(0),
            snapshot: index(m.snapshot.as_ref()),
            voters: m.membership_config.voter_ids().collect(),
            matched,
        }
    }

    /// Why the group's Raft core stopped, if it did (a storage error it cannot go on after):
    /// the group then serves nothing more in this process.
    pub fn failure(&self) -> Option<String> {
        self.metrics
            .borrow_watched()
            .running_state
            .as_ref()
            .err()
            .map(|e| e.to_string())
    }

    /// About the bytes of log entries the group holds in memory (not yet covered by a
    /// snapshot and purged).
    pub fn log_bytes(&self) -> u64 {
        self.log.held_bytes()
    }

    /// True when this node leads the group now (as far as it knows).
    pub fn is_leader(&self) -> bool {
        self.raft.is_leader()
    }

    /// True when another node is known to lead the group (while an election runs, or before
    /// the first one, nobody is).
    pub fn led_elsewhere(&self) -> bool {
        let leader = self.raft.metrics().borrow_watched().current_leader;
        leader.is_some_and(|l| l != *self.raft.node_id())
    }

    /// Hands this group's leadership to `to` (a caught-up voter).
    ///
    /// A leadership transfer elects `to` at once: the voters grant it their vote although this
    /// leader's lease has not run out. So before asking, this node stops serving reads on its
    /// lease for the rest of its term — openraft's own lease check does not look at transfers,
    /// and the chaos tests caught a leader answering reads with a value the new leader had
    /// already overwritten.
    pub async fn hand_over(&self, to: u64) {
        let term = self.raft.metrics().borrow_watched().current_term;
        self.handed_over_term.fetch_max(term, Ordering::AcqRel);
        let _ = self.raft.trigger().transfer_leader(to).await;
    }

    /// True when this node has handed its leadership away in `term`.
    fn handing_over(&self, term: u64) -> bool {
        self.handed_over_term.load(Ordering::Acquire) == term
    }

    /// The cheap check that lets a read through without asking the Raft core: this node leads
    /// the group in a term where a full check already passed (so the entries of earlier terms are
    /// applied) and it is not handing over, its lease is fresh (a quorum acknowledged a message
    /// sent less than [`LEASE`] ago, or it is the only voter), and everything committed has been
    /// handed to the actor, whose channel the read then follows.
    fn lease_is_fresh(&self) -> bool {
        let m = self.metrics.borrow_watched();
        if !m.state.is_leader()
            || m.current_term != self.confirmed_term.load(Ordering::Acquire)
            || self.handing_over(m.current_term)
        {
            return false;
        }
        // Looked up in place: this runs for every read batch of every shard.
        let sole_voter = match m.membership_config.get_joint_config().as_slice() {
            [voters] => voters.len() == 1 && voters.contains(&m.id),
            _ => false,
        };
        let acked = sole_voter
            || m.last_quorum_acked
                .as_ref()
                .is_some_and(|t| t.elapsed() < LEASE);
        let committed = m
            .local_committed
            .max(m.cluster_committed)
            .map(|l| l.index());
        let applied = m.last_applied.map(|l| l.index()) >= committed;
        acked && applied
    }

    /// True when a read batch of `cmds` may go to the actor at once, without waiting for
    /// anything: this node follows the group and the reads may be served by any replica (or the
    /// connection sent READONLY), or it leads the group with a fresh lease. The fast path of
    /// [`ShardGroup::read_barrier`], which must be used otherwise.
    pub fn reads_now(&self, readonly: bool, cmds: &[(ShardCommand, u32)]) -> bool {
        let follower = !self.metrics.borrow_watched().state.is_leader();
        if follower {
            readonly || cmds.iter().all(|(c, _)| c.reads_any_replica())
        } else {
            self.lease_is_fresh()
        }
    }

    /// Confirms that this node still leads the group (lease, else a quorum round) and that
    /// everything committed before now is applied, so a read sent to the actor next is
    /// linearizable. While another node leads, the answer is that node; while nobody does, or
    /// this node is handing over, the check is retried until the commit timeout.
    pub async fn read_barrier(&self) -> Result<(), Refusal> {
        if self.lease_is_fresh() {
            return Ok(());
        }
        const PAUSE: Duration = Duration::from_millis(20);
        let deadline = tokio::time::Instant::now() + self.commit_timeout;
        // A quorum acknowledgement counts if its message was sent less than LEASE ago (not
        // openraft's default of a whole election timeout); if none is, a heartbeat round is sent
        // and awaited.
        let option = LinearizerOption::new(Some(LEASE), true);
        loop {
            let (leader, term) = {
                let m = self.raft.metrics();
                let m = m.borrow_watched();
                (m.current_leader, m.current_term)
            };
            match leader {
                Some(l) if l != *self.raft.node_id() => return Err(Refusal::NotLeader(Some(l))),
                Some(_) if !self.handing_over(term) => {
                    let attempt = tokio::time::timeout_at(
                        deadline,
                        self.raft.ensure_linearizable(option.clone()),
                    )
                    .await;
                    match attempt {
                        Err(_) => return Err(Refusal::NotLeader(None)),
                        Ok(Ok(_)) if !self.handing_over(term) => {
                            self.confirmed_term.fetch_max(term, Ordering::AcqRel);
                            return Ok(());
                        }
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => {
                            if let Some(leader) = e.forward_to_leader().and_then(|f| f.leader_id) {
                                if leader != *self.raft.node_id() {
                                    return Err(Refusal::NotLeader(Some(leader)));
                                }
                            }
                        }
                    }
                }
                // No leader (an election), or this node is handing over: wait for the outcome.
                _ => {}
            }
            if tokio::time::Instant::now() + PAUSE >= deadline {
                return Err(Refusal::NotLeader(None));
            }
            tokio::time::sleep(PAUSE).await;
        }
    }
}
