//! Shard actors: one tokio task per shard owns that shard's [`Keyspace`].
//!
//! A shard is fed by a bounded channel. Each message carries every command of one client read
//! batch for this shard, with the batch's timestamp, and gets all their replies back at once. After
//! each `recv().await` the actor drains what is already queued with `try_recv` (up to a cap) and
//! then yields, so a busy shard costs one wake-up per burst, not per command. Between messages it
//! runs active expiry in small steps of bounded time.

pub mod keyspace;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use openraft::storage::ApplyResponder;
use openraft::type_config::alias::{LogIdOf, StoredMembershipOf};
use openraft::{EntryPayload, RaftTypeConfig};
use tokio::sync::{mpsc, oneshot, Notify};

use crate::commands::keys::KeyCommand;
use crate::commands::{ApplyCtx, ShardCommand};
use crate::protocol::Frame;
use crate::raft::{codec, ShardResponse, ShardTC};
use keyspace::Keyspace;

/// Collects the replies of one client batch from every shard it went to. Each shard files its
/// replies under their slot numbers with one lock; the connection is woken once, when the last
/// shard has answered, however many shards the batch touched.
pub struct Gather {
    replies: Mutex<Vec<Option<Frame>>>,
    remaining: AtomicUsize,
    done: Notify,
}

impl Gather {
    /// A gather for `slots` replies coming in `messages` shard messages.
    pub fn new(slots: usize, messages: usize) -> Arc<Gather> {
        Arc::new(Gather {
            replies: Mutex::new(vec![None; slots]),
            remaining: AtomicUsize::new(messages),
            done: Notify::new(),
        })
    }

    /// Files one message's replies and counts the message as answered.
    pub fn deliver(&self, replies: impl Iterator<Item = (u32, Frame)>) {
        {
            let mut slots = match self.replies.lock() {
                Ok(s) => s,
                Err(poisoned) => poisoned.into_inner(),
            };
            for (slot, frame) in replies {
                if let Some(s) = slots.get_mut(slot as usize) {
                    *s = Some(frame);
                }
            }
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.notify_one();
        }
    }

    /// Waits until every message has been answered.
    pub async fn wait(&self) {
        while self.remaining.load(Ordering::Acquire) != 0 {
            self.done.notified().await;
        }
    }

    /// The replies, by slot (`None` for a slot no shard answered).
    pub fn take(&self) -> Vec<Option<Frame>> {
        match self.replies.lock() {
            Ok(mut s) => std::mem::take(&mut *s),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }
}

/// The commands of one read batch for one shard, each with the reply slot it answers.
pub struct Batch {
    /// Timestamp and limits for the whole batch.
    pub ctx: ApplyCtx,
    /// Commands in client order, with their reply slots.
    pub cmds: Vec<(ShardCommand, u32)>,
    /// Where the replies go.
    pub gather: Arc<Gather>,
}

impl Drop for Batch {
    /// A batch dropped unanswered (shard stopped) still answers, with errors, so that no client
    /// waits forever.
    fn drop(&mut self) {
        if !self.cmds.is_empty() {
            let cmds = std::mem::take(&mut self.cmds);
            self.gather.deliver(
                cmds.into_iter()
                    .map(|(_, slot)| (slot, Frame::error("ERR shard unavailable"))),
            );
        }
    }
}

/// A committed Raft entry with the responder that hands its replies to the proposing client.
pub type Committed = (
    <ShardTC as RaftTypeConfig>::Entry,
    Option<ApplyResponder<ShardTC>>,
);

/// The Raft bookkeeping the state machine keeps beside the keyspace.
pub type AppliedState = (Option<LogIdOf<ShardTC>>, StoredMembershipOf<ShardTC>);

/// Messages a shard actor handles.
pub enum ShardMsg {
    /// Reads of one client batch (writes go through [`ShardMsg::Apply`]).
    Batch(Batch),
    /// Committed Raft entries, in log order.
    Apply(Vec<Committed>),
    /// The last applied log id and membership.
    AppliedState(oneshot::Sender<AppliedState>),
    /// The keyspace as snapshot data, with the applied state it matches.
    BuildSnapshot(oneshot::Sender<std::io::Result<(AppliedState, Vec<u8>)>>),
    /// Replaces the keyspace and the applied state with a snapshot's.
    InstallSnapshot(AppliedState, Bytes, oneshot::Sender<std::io::Result<()>>),
    /// Up to `max` keys whose deadline is at or before `now` (for the leader's expiry proposals).
    DueKeys(u64, usize, oneshot::Sender<Vec<Bytes>>),
}

/// Most messages handled per wake-up before the actor yields.
const DRAIN_CAP: usize = 256;

/// What a shard actor publishes about itself without being asked.
#[derive(Default)]
pub struct ShardCounters {
    /// Log index of the last applied entry that deleted expired keys (0: none yet). Every
    /// replica applies the same expiry entries, so this is the same on all of them.
    pub last_expiry_index: AtomicU64,
}

/// The sending side of a shard actor's channel.
#[derive(Clone)]
pub struct ShardHandle {
    tx: mpsc::Sender<ShardMsg>,
    /// Published by the actor.
    pub counters: Arc<ShardCounters>,
}

impl ShardHandle {
    /// Starts the actor for `keyspace` on the current runtime, with a channel of `queue` messages.
    pub fn spawn(keyspace: Keyspace, queue: usize) -> ShardHandle {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let counters = Arc::new(ShardCounters::default());
        tokio::spawn(run(keyspace, rx, counters.clone()));
        ShardHandle { tx, counters }
    }

    /// Sends any message; false if the shard has stopped.
    pub async fn send_msg(&self, msg: ShardMsg) -> bool {
        self.tx.send(msg).await.is_ok()
    }

    /// Sends a message and waits for the answer it carries a sender for.
    pub async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> ShardMsg) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        if !self.send_msg(make(tx)).await {
            return None;
        }
        rx.await.ok()
    }

    /// Queues a batch if the shard's channel has room now; else hands it back (to be sent with
    /// [`ShardHandle::send`]).
    pub fn try_send(&self, batch: Batch) -> Result<(), Batch> {
        match self.tx.try_send(ShardMsg::Batch(batch)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(ShardMsg::Batch(b))) => Err(b),
            // Stopped: dropping the message answers the batch with errors.
            Err(_) => Ok(()),
        }
    }

    /// Queues a batch, waiting while the shard's channel is full. If the shard has stopped, the
    /// batch is answered with errors.
    pub async fn send(&self, batch: Batch) {
        // On failure the returned message is dropped here, which answers it.
        let _ = self.tx.send(ShardMsg::Batch(batch)).await;
    }
}

/// What a shard actor owns: the keyspace and the Raft state it has applied.
pub struct ShardState {
    /// The keys.
    pub ks: Keyspace,
    applied: Option<LogIdOf<ShardTC>>,
    membership: StoredMembershipOf<ShardTC>,
    counters: Arc<ShardCounters>,
    /// Size of the last snapshot this actor encoded.
    last_snapshot_len: usize,
    /// The snapshot being encoded between messages: the applied state it shows, who waits for
    /// it, and when it began.
    snapshot: Option<(AppliedState, SnapshotReply, std::time::Instant)>,
}

/// Where a built snapshot goes.
type SnapshotReply = oneshot::Sender<std::io::Result<(AppliedState, Vec<u8>)>>;

/// Entries a snapshot in progress encodes between two rounds of messages (well under a
/// millisecond of work).
const SNAPSHOT_STEP: usize = 4096;

impl ShardState {
    fn new(ks: Keyspace, counters: Arc<ShardCounters>) -> ShardState {
        ShardState {
            ks,
            applied: None,
            membership: Default::default(),
            counters,
            last_snapshot_len: 0,
            snapshot: None,
        }
    }

    /// Starts a snapshot of the keyspace as it is now, answered on `tx` once encoded (see
    /// [`ShardState::advance_snapshot`]); the shard goes on serving meanwhile.
    fn begin_snapshot(&mut self, tx: SnapshotReply) {
        if self.snapshot.is_some() {
            self.ks.finish_snapshot_now();
            self.advance_snapshot(0);
        }
        // Sized for the last snapshot and some growth.
        let hint = self.last_snapshot_len + self.last_snapshot_len / 8;
        self.ks.begin_snapshot(hint);
        self.snapshot = Some((self.applied_state(), tx, std::time::Instant::now()));
    }

    /// Encodes up to `budget` more entries of the snapshot in progress and answers it once
    /// complete. False when no snapshot is in progress any more.
    fn advance_snapshot(&mut self, budget: usize) -> bool {
        if self.snapshot.is_none() {
            return false;
        }
        if !self.ks.snapshot_step(budget) {
            return true;
        }
        let Some((applied, tx, started)) = self.snapshot.take() else {
            return false;
        };
        let built = self
            .ks
            .take_snapshot()
            .unwrap_or_else(|| Err(std::io::Error::other("snapshot vanished")))
            .map(|data| {
                self.last_snapshot_len = data.len();
                tracing::debug!(
                    keys = self.ks.len(),
                    bytes = data.len(),
                    ms = started.elapsed().as_millis() as u64,
                    "keyspace encoded for a snapshot"
                );
                (applied, data)
            });
        let _ = tx.send(built);
        false
    }

    fn applied_state(&self) -> AppliedState {
        (self.applied, self.membership.clone())
    }

    /// Applies committed entries; each entry's replies go to its responder.
    fn apply(&mut self, committed: Vec<Committed>) {
        for (entry, responder) in committed {
            self.applied = Some(entry.log_id);
            let reply = match entry.payload {
                EntryPayload::Blank => ShardResponse::default(),
                EntryPayload::Normal(req) => {
                    let expires = req
                        .batches
                        .iter()
                        .flat_map(|b| &b.cmds)
                        .any(|c| matches!(c, ShardCommand::Key(KeyCommand::ExpireDue(_))));
                    if expires {
                        self.counters
                            .last_expiry_index
                            .store(entry.log_id.index(), Ordering::Relaxed);
                    }
                    let ks = &mut self.ks;
                    ShardResponse(
                        req.batches
                            .iter()
                            .map(|b| b.cmds.iter().map(|c| c.apply(ks, &b.ctx)).collect())
                            .collect(),
                    )
                }
                EntryPayload::Membership(m) => {
                    self.membership = StoredMembershipOf::<ShardTC>::new(Some(entry.log_id), m);
                    ShardResponse::default()
                }
            };
            if let Some(r) = responder {
                r.send(reply);
            }
        }
    }

    fn handle(&mut self, msg: ShardMsg, scratch: &mut Vec<(u32, Frame)>) {
        match msg {
            ShardMsg::Batch(mut batch) => {
                let cmds = std::mem::take(&mut batch.cmds);
                let ks = &mut self.ks;
                scratch.extend(
                    cmds.iter()
                        .map(|(cmd, slot)| (*slot, cmd.apply(ks, &batch.ctx))),
                );
                batch.gather.deliver(scratch.drain(..));
            }
            ShardMsg::Apply(committed) => self.apply(committed),
            ShardMsg::AppliedState(tx) => {
                let _ = tx.send(self.applied_state());
            }
            ShardMsg::BuildSnapshot(tx) => self.begin_snapshot(tx),
            ShardMsg::InstallSnapshot((applied, membership), data, tx) => {
                let result = codec::decode(&data).and_then(|items| {
                    self.ks
                        .load(items)
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
                });
                if result.is_ok() {
                    self.applied = applied;
                    self.membership = membership;
                }
                let _ = tx.send(result);
            }
            ShardMsg::DueKeys(now, max, tx) => {
                let _ = tx.send(self.ks.due_keys(now, max));
            }
        }
    }
}

async fn run(ks: Keyspace, mut rx: mpsc::Receiver<ShardMsg>, counters: Arc<ShardCounters>) {
    let mut state = ShardState::new(ks, counters);
    let mut scratch = Vec::new();
    loop {
        // While a snapshot is being encoded, an empty queue means time to encode more of it.
        let msg = if state.snapshot.is_some() {
            match rx.try_recv() {
                Ok(msg) => msg,
                Err(mpsc::error::TryRecvError::Empty) => {
                    state.advance_snapshot(SNAPSHOT_STEP);
                    tokio::task::yield_now().await;
                    continue;
                }
                Err(mpsc::error::TryRecvError::Disconnected) => return,
            }
        } else {
            match rx.recv().await {
                Some(msg) => msg,
                None => return,
            }
        };
        state.handle(msg, &mut scratch);
        let mut drained = 0;
        while drained < DRAIN_CAP {
            match rx.try_recv() {
                Ok(msg) => state.handle(msg, &mut scratch),
                Err(_) => break,
            }
            drained += 1;
        }
        // A busy shard encodes its snapshot a step per round of messages.
        state.advance_snapshot(SNAPSHOT_STEP);
        if drained == DRAIN_CAP {
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::keyspace::Value;
    use super::*;

    #[test]
    fn mass_expiry_goes_in_bounded_entries() {
        let mut ks = Keyspace::new(0, 16383);
        let total = 100_000;
        for i in 0..total {
            ks.insert(format!("k{i}").as_bytes(), Value::Int(i), 1_000);
        }
        let ctx = ApplyCtx {
            now: 2_000,
            max_bulk_len: 1,
        };
        let mut entries = 0;
        loop {
            let due = ks.due_keys(2_000, crate::raft::expiry::KEYS_PER_ENTRY);
            if due.is_empty() {
                break;
            }
            assert!(due.len() <= crate::raft::expiry::KEYS_PER_ENTRY);
            let cmd = ShardCommand::Key(crate::commands::keys::KeyCommand::ExpireDue(due));
            assert!(matches!(cmd.apply(&mut ks, &ctx), Frame::Integer(n) if n > 0));
            entries += 1;
        }
        assert_eq!(ks.len(), 0);
        assert!(entries >= total as usize / crate::raft::expiry::KEYS_PER_ENTRY);
    }

    #[test]
    fn unanswered_batches_answer_with_errors() {
        let gather = Gather::new(2, 1);
        let batch = Batch {
            ctx: ApplyCtx {
                now: 0,
                max_bulk_len: 1,
            },
            cmds: vec![
                (
                    ShardCommand::Key(crate::commands::keys::KeyCommand::DbSize),
                    0,
                ),
                (
                    ShardCommand::Key(crate::commands::keys::KeyCommand::DbSize),
                    1,
                ),
            ],
            gather: gather.clone(),
        };
        drop(batch);
        let replies = gather.take();
        assert!(replies.iter().all(|r| matches!(r, Some(Frame::Error(_)))));
    }
}
