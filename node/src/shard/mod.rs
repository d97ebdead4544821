//! Shard actors: one tokio task per shard owns that shard's [`Keyspace`].
//!
//! A shard is fed by a bounded channel. Each message carries every command of one client read
//! batch for this shard, with the batch's timestamp, and gets all their replies back at once. After
//! each `recv().await` the actor drains what is already queued with `try_recv` (up to a cap) and
//! then yields, so a busy shard costs one wake-up per burst, not per command. Between messages it
//! runs active expiry in small steps of bounded time.

pub mod keyspace;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Notify};

use crate::commands::{ApplyCtx, ShardCommand};
use crate::protocol::Frame;
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
    fn deliver(&self, replies: impl Iterator<Item = (u32, Frame)>) {
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

/// Messages a shard actor handles.
pub enum ShardMsg {
    /// The commands of one read batch for this shard.
    Batch(Batch),
}

/// Most messages handled per wake-up before the actor yields.
const DRAIN_CAP: usize = 256;
/// Most keys examined per active-expiry step.
const EXPIRE_STEP_KEYS: usize = 256;
/// Longest an active-expiry run may hold the shard before serving messages again.
const EXPIRE_STEP_TIME: Duration = Duration::from_millis(1);

/// The sending side of a shard actor's channel.
#[derive(Clone)]
pub struct ShardHandle {
    tx: mpsc::Sender<ShardMsg>,
}

impl ShardHandle {
    /// Starts the actor for `keyspace` on the current runtime, with a channel of `queue` messages.
    /// `hz` is how many times per second active expiry looks for due keys when idle.
    pub fn spawn(keyspace: Keyspace, queue: usize, hz: u32) -> ShardHandle {
        let (tx, rx) = mpsc::channel(queue.max(1));
        tokio::spawn(run(keyspace, rx, hz));
        ShardHandle { tx }
    }

    /// Queues a batch, waiting while the shard's channel is full. If the shard has stopped, the
    /// batch is answered with errors.
    pub async fn send(&self, batch: Batch) {
        // On failure the returned message is dropped here, which answers it.
        let _ = self.tx.send(ShardMsg::Batch(batch)).await;
    }
}

fn handle(ks: &mut Keyspace, msg: ShardMsg, scratch: &mut Vec<(u32, Frame)>) {
    match msg {
        ShardMsg::Batch(mut batch) => {
            let cmds = std::mem::take(&mut batch.cmds);
            scratch.extend(
                cmds.iter()
                    .map(|(cmd, slot)| (*slot, cmd.apply(ks, &batch.ctx))),
            );
            batch.gather.deliver(scratch.drain(..));
        }
    }
}

/// Removes due keys until none is left or the step's time is up. Returns true if more are due.
pub fn active_expire_step(ks: &mut Keyspace, now: u64) -> bool {
    let started = Instant::now();
    loop {
        let due = ks.due_keys(now, EXPIRE_STEP_KEYS);
        if due.is_empty() {
            return false;
        }
        ks.remove_expired(&due, now);
        if started.elapsed() >= EXPIRE_STEP_TIME {
            return ks.has_due(now);
        }
    }
}

async fn run(mut ks: Keyspace, mut rx: mpsc::Receiver<ShardMsg>, hz: u32) {
    let period = Duration::from_millis(1000 / u64::from(hz.clamp(1, 500)));
    let mut next_expire = tokio::time::Instant::now() + period;
    let mut scratch = Vec::new();
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let Some(msg) = msg else { break };
                handle(&mut ks, msg, &mut scratch);
                let mut drained = 0;
                while drained < DRAIN_CAP {
                    match rx.try_recv() {
                        Ok(msg) => handle(&mut ks, msg, &mut scratch),
                        Err(_) => break,
                    }
                    drained += 1;
                }
                if drained == DRAIN_CAP {
                    tokio::task::yield_now().await;
                }
            }
            _ = tokio::time::sleep_until(next_expire) => {
                let more = active_expire_step(&mut ks, crate::clock::now_ms());
                next_expire = tokio::time::Instant::now() + if more { Duration::ZERO } else { period };
                if more {
                    tokio::task::yield_now().await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::keyspace::Value;
    use super::*;

    #[test]
    fn mass_expiry_is_done_in_short_steps() {
        let mut ks = Keyspace::new(0, 16383);
        let total = 200_000;
        for i in 0..total {
            ks.insert(format!("k{i}").as_bytes(), Value::Int(i), 1_000);
        }
        let mut steps = 0;
        let mut longest = Duration::ZERO;
        loop {
            let started = Instant::now();
            let more = active_expire_step(&mut ks, 2_000);
            longest = longest.max(started.elapsed());
            steps += 1;
            if !more {
                break;
            }
        }
        assert_eq!(ks.len(), 0);
        assert!(steps > 1, "all {total} keys went in one step");
        // One step is bounded by EXPIRE_STEP_TIME plus one chunk; allow for slow debug builds.
        assert!(
            longest < Duration::from_millis(100),
            "a step held the shard for {longest:?}"
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
