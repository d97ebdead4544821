//! The write path of one shard group: client batches for the shard are queued to a proposer task,
//! which turns everything queued meanwhile into ONE log entry. Under load, fifty connections'
//! pipelines cost one Raft round and one WAL record, not fifty; a lone client still gets its
//! batch proposed at once. A few entries may be in flight together, so a slow commit does not
//! stop the next one from being prepared.

use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::{ClientBatch, ShardRaft, ShardRequest};
use crate::commands::{ApplyCtx, ShardCommand};
use crate::protocol::Frame;

/// Most client batches merged into one entry.
const MAX_BATCHES_PER_ENTRY: usize = 512;
/// Most commands merged into one entry.
const MAX_CMDS_PER_ENTRY: usize = 8192;
/// Entries of one group proposed and not yet applied at the same time.
const IN_FLIGHT: usize = 2;
/// Pause between retries while the group has no leader.
const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// Why a shard did not run a client batch.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Refusal {
    /// This node does not lead the group; the leader, if known (the client is sent there).
    NotLeader(Option<u64>),
    /// Any other failure, as the error reply for every command of the batch.
    Failed(Frame),
}

/// The answer to one client batch: its replies, or why it did not run.
pub type Answer = Result<Vec<Frame>, Refusal>;

struct Proposal {
    batch: ClientBatch,
    reply: oneshot::Sender<Answer>,
}

/// Queues client batches for one shard group (cheap to clone).
#[derive(Clone)]
pub struct Proposer {
    tx: mpsc::Sender<Proposal>,
}

impl Proposer {
    /// Starts the proposer task of `raft`; a write waits at most `commit_timeout`.
    pub fn spawn(raft: ShardRaft, commit_timeout: Duration, queue: usize) -> Proposer {
        let (tx, rx) = mpsc::channel(queue.max(1));
        tokio::spawn(run(raft, rx, commit_timeout));
        Proposer { tx }
    }

    /// Replicates one client batch's commands and returns their replies once the entry holding
    /// them is committed and applied.
    pub async fn write(&self, ctx: ApplyCtx, mut cmds: Vec<ShardCommand>) -> Answer {
        // The log keeps the commands until the next snapshot: they get their own buffers.
        cmds.iter_mut().for_each(ShardCommand::detach);
        let (reply, rx) = oneshot::channel();
        let proposal = Proposal {
            batch: ClientBatch { ctx, cmds },
            reply,
        };
        let down = || Refusal::Failed(Frame::error("CLUSTERDOWN shard unavailable"));
        if self.tx.send(proposal).await.is_err() {
            return Err(down());
        }
        rx.await.unwrap_or_else(|_| Err(down()))
    }
}

async fn run(raft: ShardRaft, mut rx: mpsc::Receiver<Proposal>, commit_timeout: Duration) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        // Wait for an in-flight slot first: whatever queues meanwhile joins this entry.
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut proposals = vec![first];
        let mut cmds = proposals[0].batch.cmds.len();
        while proposals.len() < MAX_BATCHES_PER_ENTRY && cmds < MAX_CMDS_PER_ENTRY {
            match rx.try_recv() {
                Ok(p) => {
                    cmds += p.batch.cmds.len();
                    proposals.push(p);
                }
                Err(_) => break,
            }
        }
        let raft = raft.clone();
        tokio::spawn(async move {
            let (batches, replies): (Vec<ClientBatch>, Vec<oneshot::Sender<Answer>>) =
                proposals.into_iter().map(|p| (p.batch, p.reply)).unzip();
            let result = propose(&raft, ShardRequest { batches: batches.into() }, commit_timeout).await;
            drop(permit);
            match result {
                Ok(per_batch) => {
                    for (reply, frames) in replies.into_iter().zip(per_batch) {
                        let _ = reply.send(Ok(frames));
                    }
                }
                Err(e) => {
                    for reply in replies {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
        });
    }
}

/// Proposes one entry, retrying while the group has no leader (nothing was appended then, so
/// retrying is safe), until `commit_timeout`.
async fn propose(
    raft: &ShardRaft,
    request: ShardRequest,
    commit_timeout: Duration,
) -> Result<Vec<Vec<Frame>>, Refusal> {
    let deadline = tokio::time::Instant::now() + commit_timeout;
    loop {
        let attempt = tokio::time::timeout_at(deadline, raft.client_write(request.clone())).await;
        match attempt {
            Err(_) => {
                return Err(Refusal::Failed(Frame::error_owned(format!(
                    "TIMEOUT write not confirmed within {} ms; it may or may not have been applied",
                    commit_timeout.as_millis()
                ))))
            }
            Ok(Ok(resp)) => return Ok(resp.data.0),
            Ok(Err(e)) => {
                // Only a proposal refused before its entry was appended may go elsewhere or be
                // retried. Any other failure (the entry was discarded when another leader took
                // over, the group stopped, …) leaves the outcome unknown: the entry may still
                // commit, so sending the client elsewhere could apply its commands twice.
                let not_appended = match &e {
                    RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => {
                        Some(forward)
                    }
                    _ => None,
                };
                let Some(forward) = not_appended else {
                    return Err(Refusal::Failed(Frame::error_owned(format!(
                        "UNKNOWN write outcome unknown ({e}); it may or may not have been applied"
                    ))));
                };
                // Another node leads: send the client there. No leader yet (an election, or a
                // new leader's lease not yet confirmed): nothing was appended, so retry.
                if let Some(leader) = forward.leader_id {
                    if leader != *raft.node_id() {
                        return Err(Refusal::NotLeader(Some(leader)));
                    }
                }
                if tokio::time::Instant::now() + RETRY_PAUSE >= deadline {
                    return Err(Refusal::NotLeader(None));
                }
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
}
