//! Shard actors: one tokio task per shard owns that shard's [`Keyspace`].
//!
//! The actor knows nothing of the consensus protocol that orders its writes: it is handed
//! committed write batches in log order ([`ShardMsg::Apply`]), each with a step of a
//! [`LogPosition`] it keeps beside the keyspace without looking inside, and a callback for the
//! replies. The Raft layer above (`raft/`) is what turns openraft's entries into those.
//!
//! A shard is fed by a bounded channel. Each message carries every command of one client read
//! batch for this shard, with the batch's timestamp, and gets all their replies back at once. After
//! each `recv().await` the actor drains what is already queued with `try_recv` (up to a cap) and
//! then yields, so a busy shard costs one wake-up per burst, not per command. Between messages it
//! runs active expiry in small steps of bounded time.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, Notify};

use crate::commands::keys::{KeyCommand, RandomKey, ScanArgs, ScanPage};
use crate::commands::transaction::Seen;
use crate::commands::{ApplyCtx, ShardCommand};
use crate::keyspace::Keyspace;
use crate::protocol::Frame;
use crate::scripting::{BatchOutcome, ScriptOutcome, ScriptRequest};
use crate::tasks::Tasks;
pub use waiters::{KeyWaiters, Waiter};

pub mod waiters;

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

/// The write commands of one client read batch for one shard, with the batch's timestamp (the
/// only clock the commands read, so every replica applies them alike). Logged as the
/// timestamp, the size limit and each command's argument vector
/// ([`crate::commands::log_form`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientBatch {
    /// Timestamp and limits of the batch.
    pub ctx: ApplyCtx,
    /// Commands in client order.
    pub cmds: Vec<ShardCommand>,
}

/// How far a shard has applied its log, in the consensus layer's terms (for Raft: the last
/// applied log id and the membership). The actor keeps it beside the keyspace, moves it on with
/// each applied entry, and hands it out with snapshots, so that a snapshot and the position it
/// shows are always taken together; it never looks inside.
pub trait LogPosition: Clone + Default + Send + 'static {
    /// One entry's effect on the position.
    type Step: Send + 'static;

    /// Moves the position past one applied entry.
    fn advance(&mut self, step: Self::Step);

    /// The log index reached (0 before any entry).
    fn index(&self) -> u64;
}

/// Where the replies of one applied entry go: per batch, per command.
pub type ReplyTo = Box<dyn FnOnce(Vec<Vec<Frame>>) + Send + 'static>;

/// One committed log entry for the actor to apply.
pub struct Committed<P: LogPosition> {
    /// The entry's step of the log position.
    pub step: P::Step,
    /// Its write batches, applied one after the other (none for the consensus layer's own
    /// entries).
    pub batches: Option<Arc<[ClientBatch]>>,
    /// Who waits for the replies (the proposing node only).
    pub reply: Option<ReplyTo>,
}

/// Messages a shard actor handles.
pub enum ShardMsg<P: LogPosition> {
    /// Reads of one client batch (writes go through [`ShardMsg::Apply`]).
    Batch(Batch),
    /// Committed entries, in log order.
    Apply(Vec<Committed<P>>),
    /// The log position applied so far.
    Position(oneshot::Sender<P>),
    /// The keyspace as snapshot data, with the position it matches.
    BuildSnapshot(oneshot::Sender<std::io::Result<(P, Vec<u8>)>>),
    /// Replaces the keyspace and the position with a snapshot's.
    InstallSnapshot(P, Bytes, oneshot::Sender<std::io::Result<()>>),
    /// Up to `max` keys whose deadline is at or before `now` (for the leader's expiry proposals).
    DueKeys(u64, usize, oneshot::Sender<Vec<Bytes>>),
    /// Up to `max` keys to evict under a policy, LRU picks from this many samples each, with
    /// their sizes, enough to hold the last number of bytes (for the leader's eviction
    /// proposals).
    EvictionCandidates(
        crate::limits::EvictionPolicy,
        usize,
        usize,
        u64,
        oneshot::Sender<Vec<crate::keyspace::eviction::Candidate>>,
    ),
    /// The shard's counters (INFO).
    Stats(oneshot::Sender<ShardStats>),
    /// The shard's size and one of its live keys at `now` (RANDOMKEY).
    RandomKey(u64, oneshot::Sender<RandomKey>),
    /// One page of a SCAN at `now`.
    Scan(ScanArgs, u64, oneshot::Sender<ScanPage>),
    /// What these keys hold at `now`, as WATCH records it.
    Watch(Vec<Bytes>, u64, oneshot::Sender<Vec<Seen>>),
    /// Runs scripts against the keyspace, one after the other, each as if alone (the keyspace
    /// is unchanged: their writes come back as effects to log).
    Scripts(Vec<ScriptRequest>, oneshot::Sender<BatchOutcome>),
    /// Stops the actor (when its node shuts down, once nothing applies entries to it any more):
    /// messages queued behind this one are dropped, which answers their batches with errors.
    Stop,
}

/// A shard's counters, for INFO.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardStats {
    /// Keys held (expired ones not yet removed included, as redis counts them).
    pub keys: u64,
    /// Keys with a deadline.
    pub expires: u64,
    /// Keys removed by expiry so far.
    pub expired_keys: u64,
    /// Keys evicted so far.
    pub evicted_keys: u64,
    /// Reads that found their key.
    pub hits: u64,
    /// Reads that did not.
    pub misses: u64,
}

/// Most messages handled per wake-up before the actor yields.
const DRAIN_CAP: usize = 256;

/// What a shard actor publishes about itself without being asked.
#[derive(Default)]
pub struct ShardCounters {
    /// Log index of the last applied entry that deleted expired keys (0: none yet). Every
    /// replica applies the same expiry entries, so this is the same on all of them.
    pub last_expiry_index: AtomicU64,
    /// What the keyspace's entries cost ([`Keyspace::bytes`]), as of the last round of messages.
    pub keyspace_bytes: AtomicU64,
    /// What the snapshot being encoded holds ([`Keyspace::snapshot_buffer_bytes`]), likewise.
    pub snapshot_buffer_bytes: AtomicU64,
    /// Keys held, likewise (MEMORY STATS).
    pub keys: AtomicU64,
    /// Keys with a deadline, likewise.
    pub expires: AtomicU64,
    /// The script the actor runs, if any (SCRIPT KILL, `-BUSY`).
    pub script: Arc<crate::scripting::ScriptControl>,
}

/// The sending side of a shard actor's channel.
pub struct ShardHandle<P: LogPosition> {
    tx: mpsc::Sender<ShardMsg<P>>,
    /// Published by the actor.
    pub counters: Arc<ShardCounters>,
    /// Clients blocked on this shard's keys, woken by the actor as it applies writes.
    pub waiters: Arc<KeyWaiters>,
}

impl<P: LogPosition> Clone for ShardHandle<P> {
    fn clone(&self) -> Self {
        ShardHandle {
            tx: self.tx.clone(),
            counters: self.counters.clone(),
            waiters: self.waiters.clone(),
        }
    }
}

impl<P: LogPosition> ShardHandle<P> {
    /// Starts the actor for `keyspace` in `tasks`, with a channel of `queue` messages. It runs
    /// until [`ShardHandle::stop`], or until every handle is dropped.
    pub fn spawn(keyspace: Keyspace, queue: usize, tasks: &Tasks) -> ShardHandle<P> {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let counters = Arc::new(ShardCounters::default());
        let waiters = Arc::new(KeyWaiters::default());
        tasks.spawn(run(keyspace, rx, counters.clone(), waiters.clone()));
        ShardHandle {
            tx,
            counters,
            waiters,
        }
    }

    /// Stops the actor once it has handled what is queued before (see [`ShardMsg::Stop`]).
    pub async fn stop(&self) {
        let _ = self.tx.send(ShardMsg::Stop).await;
    }

    /// Sends any message; false if the shard has stopped.
    pub async fn send_msg(&self, msg: ShardMsg<P>) -> bool {
        self.tx.send(msg).await.is_ok()
    }

    /// Sends a message and waits for the answer it carries a sender for.
    pub async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> ShardMsg<P>) -> Option<T> {
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

/// What a shard actor owns: the keyspace and the log position it has applied.
pub struct ShardState<P: LogPosition> {
    /// The keys.
    pub ks: Keyspace,
    position: P,
    counters: Arc<ShardCounters>,
    /// Clients blocked on keys, woken when an applied write names one.
    waiters: Arc<KeyWaiters>,
    /// Size of the last snapshot this actor encoded.
    last_snapshot_len: usize,
    /// The snapshot being encoded between messages: the applied state it shows, who waits for
    /// it, and when it began.
    snapshot: Option<(P, SnapshotReply<P>, std::time::Instant)>,
    /// The shard's Lua state, made on the first script.
    scripts: Option<crate::scripting::Engine>,
}

/// Where a built snapshot goes.
type SnapshotReply<P> = oneshot::Sender<std::io::Result<(P, Vec<u8>)>>;

/// Entries a snapshot in progress encodes between two rounds of messages (well under a
/// millisecond of work).
const SNAPSHOT_STEP: usize = 4096;

impl<P: LogPosition> ShardState<P> {
    fn new(ks: Keyspace, counters: Arc<ShardCounters>, waiters: Arc<KeyWaiters>) -> ShardState<P> {
        ShardState {
            ks,
            position: P::default(),
            counters,
            waiters,
            last_snapshot_len: 0,
            snapshot: None,
            scripts: None,
        }
    }

    /// Starts a snapshot of the keyspace as it is now, answered on `tx` once encoded (see
    /// [`ShardState::advance_snapshot`]); the shard goes on serving meanwhile.
    fn begin_snapshot(&mut self, tx: SnapshotReply<P>) {
        if self.snapshot.is_some() {
            self.ks.finish_snapshot_now();
            self.advance_snapshot(0);
        }
        // Sized for the last snapshot and some growth.
        let hint = self.last_snapshot_len + self.last_snapshot_len / 8;
        self.ks.begin_snapshot(hint);
        self.snapshot = Some((self.position.clone(), tx, std::time::Instant::now()));
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

    /// Applies committed entries; each entry's replies go to its callback.
    fn apply(&mut self, committed: Vec<Committed<P>>) {
        for Committed {
            step,
            batches,
            reply,
        } in committed
        {
            self.position.advance(step);
            // What this entry changes carries its index (the low 32 bits: versions are only
            // compared for equality, over a few entries).
            self.ks.set_change_version(self.position.index() as u32);
            let replies = match batches {
                None => Vec::new(),
                Some(batches) => {
                    let expires = batches
                        .iter()
                        .flat_map(|b| &b.cmds)
                        .any(|c| matches!(c, ShardCommand::Key(KeyCommand::ExpireDue(_))));
                    if expires {
                        self.counters
                            .last_expiry_index
                            .store(self.position.index(), Ordering::Relaxed);
                    }
                    let ks = &mut self.ks;
                    let replies = batches
                        .iter()
                        .map(|b| {
                            ks.set_clock(b.ctx.now);
                            b.cmds.iter().map(|c| c.apply(ks, &b.ctx)).collect()
                        })
                        .collect();
                    // A blocked client is woken by any write naming its key; it looks for itself
                    // whether there is something to pop (see `waiters`).
                    if !self.waiters.is_empty() {
                        let written = batches.iter().flat_map(|b| &b.cmds);
                        self.waiters.keys_written(
                            written.filter(|c| !c.is_read_only()).flat_map(|c| c.keys()),
                        );
                    }
                    replies
                }
            };
            if let Some(reply) = reply {
                reply(replies);
            }
        }
    }

    /// Publishes what the keyspace and a snapshot being encoded hold (for `maxmemory`).
    fn publish_sizes(&self) {
        let c = &self.counters;
        c.keyspace_bytes
            .store(self.ks.bytes() as u64, Ordering::Relaxed);
        c.snapshot_buffer_bytes
            .store(self.ks.snapshot_buffer_bytes() as u64, Ordering::Relaxed);
        c.keys.store(self.ks.len() as u64, Ordering::Relaxed);
        c.expires
            .store(self.ks.expires_len() as u64, Ordering::Relaxed);
    }

    /// Handles one message; false when the actor must stop.
    fn handle(&mut self, msg: ShardMsg<P>, scratch: &mut Vec<(u32, Frame)>) -> bool {
        match msg {
            ShardMsg::Batch(mut batch) => {
                let cmds = std::mem::take(&mut batch.cmds);
                let ks = &mut self.ks;
                ks.set_clock(batch.ctx.now);
                scratch.extend(
                    cmds.iter()
                        .map(|(cmd, slot)| (*slot, cmd.apply(ks, &batch.ctx))),
                );
                batch.gather.deliver(scratch.drain(..));
            }
            ShardMsg::Apply(committed) => self.apply(committed),
            ShardMsg::Position(tx) => {
                let _ = tx.send(self.position.clone());
            }
            ShardMsg::BuildSnapshot(tx) => self.begin_snapshot(tx),
            ShardMsg::InstallSnapshot(position, data, tx) => {
                let result = crate::keyspace::snapshot::decode(&data).and_then(|contents| {
                    self.ks
                        .install(contents)
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
                });
                if result.is_ok() {
                    self.position = position;
                    self.waiters.wake_all();
                }
                let _ = tx.send(result);
            }
            ShardMsg::DueKeys(now, max, tx) => {
                let _ = tx.send(self.ks.due_keys(now, max));
            }
            ShardMsg::EvictionCandidates(policy, samples, max, cover, tx) => {
                let _ = tx.send(
                    self.ks
                        .eviction_candidates_covering(policy, samples, max, cover),
                );
            }
            ShardMsg::Stats(tx) => {
                let ks = &self.ks;
                let _ = tx.send(ShardStats {
                    keys: ks.len() as u64,
                    expires: ks.expires_len() as u64,
                    expired_keys: ks.stats.expired_keys,
                    evicted_keys: ks.stats.evicted_keys,
                    hits: ks.stats.hits,
                    misses: ks.stats.misses,
                });
            }
            ShardMsg::RandomKey(now, tx) => {
                let _ = tx.send(RandomKey {
                    keys: self.ks.len() as u64,
                    key: self.ks.random_key(now),
                });
            }
            ShardMsg::Scan(scan, now, tx) => {
                let _ = tx.send(crate::commands::keys::scan_page(&self.ks, &scan, now));
            }
            ShardMsg::Scripts(requests, tx) => {
                if self.scripts.is_none() {
                    match crate::scripting::Engine::new(self.counters.script.clone()) {
                        Ok(engine) => self.scripts = Some(engine),
                        Err(e) => {
                            let failed = || ScriptOutcome {
                                reply: Frame::error_owned(format!("ERR cannot start Lua: {e}")),
                                effects: None,
                                elsewhere: None,
                            };
                            let _ = tx.send(BatchOutcome {
                                outcomes: requests.iter().map(|_| failed()).collect(),
                                effects: None,
                            });
                            return true;
                        }
                    }
                }
                if let Some(engine) = self.scripts.as_mut() {
                    // A script may run for seconds: the worker thread is handed over for one
                    // that is new or ran long last time, so that the node's other tasks
                    // (SCRIPT KILL among them) move to the other workers. Handing it over costs
                    // a thread switch, more than a short script takes: a script that ran short
                    // runs in place.
                    let ks = &self.ks;
                    let hand_over = engine.may_run_long(&requests);
                    let mut run_all = || engine.run_batch(ks, &requests);
                    let outcomes =
                        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
                            Ok(tokio::runtime::RuntimeFlavor::MultiThread) if hand_over => {
                                tokio::task::block_in_place(run_all)
                            }
                            _ => run_all(),
                        };
                    let _ = tx.send(outcomes);
                }
            }
            ShardMsg::Watch(keys, now, tx) => {
                let _ = tx.send(keys.iter().map(|k| Seen::of(&self.ks, k, now)).collect());
            }
            ShardMsg::Stop => return false,
        }
        true
    }
}

async fn run<P: LogPosition>(
    ks: Keyspace,
    mut rx: mpsc::Receiver<ShardMsg<P>>,
    counters: Arc<ShardCounters>,
    waiters: Arc<KeyWaiters>,
) {
    let mut state = ShardState::<P>::new(ks, counters, waiters);
    let mut scratch = Vec::new();
    loop {
        // While a snapshot is being encoded, an empty queue means time to encode more of it.
        let msg = if state.snapshot.is_some() {
            match rx.try_recv() {
                Ok(msg) => msg,
                Err(mpsc::error::TryRecvError::Empty) => {
                    state.advance_snapshot(SNAPSHOT_STEP);
                    state.publish_sizes();
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
        if !state.handle(msg, &mut scratch) {
            return;
        }
        let mut drained = 0;
        while drained < DRAIN_CAP {
            match rx.try_recv() {
                Ok(msg) => {
                    if !state.handle(msg, &mut scratch) {
                        return;
                    }
                }
                Err(_) => break,
            }
            drained += 1;
        }
        state.publish_sizes();
        // A busy shard encodes its snapshot a step per round of messages.
        state.advance_snapshot(SNAPSHOT_STEP);
        if drained == DRAIN_CAP {
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log position that is just the index of the last applied entry.
    impl LogPosition for u64 {
        type Step = u64;

        fn advance(&mut self, step: u64) {
            *self = step;
        }

        fn index(&self) -> u64 {
            *self
        }
    }

    fn batch(now: u64, words: &[&[&str]]) -> ClientBatch {
        ClientBatch {
            ctx: ApplyCtx {
                now,
                max_bulk_len: 1 << 20,
            },
            cmds: words
                .iter()
                .map(|w| {
                    let argv = w.iter().map(|a| Bytes::from(a.to_string())).collect();
                    ShardCommand::from_argv(&argv).expect("a shard command")
                })
                .collect(),
        }
    }

    #[tokio::test]
    async fn keys_carry_the_index_of_their_last_change_and_evictions_compare_it() {
        let shard: ShardHandle<u64> =
            ShardHandle::spawn(Keyspace::new(0, 16383), 8, &Tasks::new("test"));
        let entry = |step: u64, words: &[&[&str]]| Committed {
            step,
            batches: Some(Arc::from(vec![batch(1_000, words)])),
            reply: None,
        };
        let entries = vec![
            entry(20, &[&["SET", "a", "1"], &["SET", "b", "1"]]),
            entry(21, &[&["SET", "b", "2"]]),
        ];
        assert!(shard.send_msg(ShardMsg::Apply(entries)).await);
        let mut picked = shard
            .ask(|tx| {
                ShardMsg::EvictionCandidates(
                    crate::limits::EvictionPolicy::AllKeysRandom,
                    5,
                    10,
                    u64::MAX,
                    tx,
                )
            })
            .await
            .expect("answered");
        picked.sort_by(|x, y| x.key.cmp(&y.key));
        let versions: Vec<_> = picked.iter().map(|c| (c.key.clone(), c.version)).collect();
        assert_eq!(
            versions,
            vec![(Bytes::from("a"), 20), (Bytes::from("b"), 21)]
        );
        // An eviction that saw b before entry 21 leaves it; a is unchanged and goes.
        let (tx, rx) = oneshot::channel();
        let evict = Committed {
            step: 22,
            batches: Some(Arc::from(vec![batch(
                2_000,
                &[&["shardis:evict-unchanged", "a", "20", "b", "20"]],
            )])),
            reply: Some(Box::new(move |r| {
                let _ = tx.send(r);
            }) as ReplyTo),
        };
        assert!(shard.send_msg(ShardMsg::Apply(vec![evict])).await);
        assert_eq!(rx.await.expect("replies"), vec![vec![Frame::Integer(1)]]);
    }

    #[tokio::test]
    async fn committed_entries_apply_in_order_and_move_the_position() {
        let shard: ShardHandle<u64> =
            ShardHandle::spawn(Keyspace::new(0, 16383), 8, &Tasks::new("test"));
        let (tx, rx) = oneshot::channel();
        let entries = vec![
            Committed {
                step: 7,
                batches: Some(Arc::from(vec![
                    batch(1_000, &[&["SET", "k", "1"], &["INCR", "k"]]),
                    batch(1_001, &[&["GET", "k"]]),
                ])),
                reply: Some(Box::new(move |r| {
                    let _ = tx.send(r);
                }) as ReplyTo),
            },
            // The consensus layer's own entry: nothing to apply, the position moves all the same.
            Committed {
                step: 8,
                batches: None,
                reply: None,
            },
            Committed {
                step: 9,
                batches: Some(Arc::from(vec![batch(
                    5_000,
                    &[&["shardis:expire-due", "k"]],
                )])),
                reply: None,
            },
        ];
        assert!(shard.send_msg(ShardMsg::Apply(entries)).await);
        let replies = rx.await.expect("replies");
        assert_eq!(
            replies,
            vec![
                vec![Frame::ok(), Frame::Integer(2)],
                vec![Frame::Bulk(Bytes::from("2"))]
            ]
        );
        assert_eq!(shard.ask(ShardMsg::Position).await, Some(9));
        assert_eq!(shard.counters.last_expiry_index.load(Ordering::Relaxed), 9);
        // A snapshot carries the position it shows.
        let (position, data) = shard
            .ask(ShardMsg::BuildSnapshot)
            .await
            .expect("answered")
            .expect("built");
        assert_eq!(position, 9);
        assert_eq!(
            crate::keyspace::snapshot::decode(&data)
                .expect("decodes")
                .items
                .len(),
            1
        );
    }

    /// A stopped actor's task ends while handles remain, after handling what came before the
    /// stop; a batch sent after it is answered with an error, not left waiting.
    #[tokio::test]
    async fn a_stopped_actor_ends_and_later_batches_get_errors() {
        let tasks = Tasks::new("test");
        let shard: ShardHandle<u64> = ShardHandle::spawn(Keyspace::new(0, 16383), 8, &tasks);
        let (tx, rx) = oneshot::channel();
        let entries = vec![Committed {
            step: 1,
            batches: Some(Arc::from(vec![batch(1_000, &[&["SET", "k", "1"]])])),
            reply: Some(Box::new(move |r| {
                let _ = tx.send(r);
            }) as ReplyTo),
        }];
        assert!(shard.send_msg(ShardMsg::Apply(entries)).await);
        shard.stop().await;
        assert_eq!(
            rx.await.expect("applied before the stop"),
            vec![vec![Frame::ok()]]
        );
        assert!(
            tasks.join(std::time::Duration::from_secs(5)).await,
            "the actor ended"
        );
        let gather = Gather::new(1, 1);
        let get = ShardCommand::from_argv(&vec![Bytes::from("GET"), Bytes::from("k")])
            .expect("a shard command");
        let ctx = ApplyCtx {
            now: 1_000,
            max_bulk_len: 1 << 20,
        };
        shard
            .send(Batch {
                ctx,
                cmds: vec![(get, 0)],
                gather: gather.clone(),
            })
            .await;
        gather.wait().await;
        assert_eq!(
            gather.take(),
            vec![Some(Frame::error("ERR shard unavailable"))]
        );
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
