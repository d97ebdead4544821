//! Shard actors: one tokio task per shard owns that shard's [`Keyspace`].
//!
//! A shard is fed by a bounded channel. Each message carries every command of one client read
//! batch for this shard, with the batch's timestamp, and gets all their replies back at once. After
//! each `recv().await` the actor drains what is already queued with `try_recv` (up to a cap) and
//! then yields, so a busy shard costs one wake-up per burst, not per command. Between messages it
//! runs active expiry in small steps of bounded time.

pub mod keyspace;

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::commands::{ApplyCtx, ShardCommand};
use crate::protocol::Frame;
use keyspace::Keyspace;

/// Messages a shard actor handles.
pub enum ShardMsg {
    /// The commands of one read batch for this shard; replies come back in the same order.
    Batch {
        /// Timestamp and limits for the whole batch.
        ctx: ApplyCtx,
        /// Commands, in client order.
        cmds: Vec<ShardCommand>,
        /// Where the replies go.
        reply: oneshot::Sender<Vec<Frame>>,
    },
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

    /// Sends a batch; the receiver yields the replies. `None` if the shard has stopped.
    pub async fn send_batch(
        &self,
        ctx: ApplyCtx,
        cmds: Vec<ShardCommand>,
    ) -> Option<oneshot::Receiver<Vec<Frame>>> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(ShardMsg::Batch { ctx, cmds, reply })
            .await
            .ok()?;
        Some(rx)
    }
}

fn handle(ks: &mut Keyspace, msg: ShardMsg) {
    match msg {
        ShardMsg::Batch { ctx, cmds, reply } => {
            let replies = cmds.iter().map(|c| c.apply(ks, &ctx)).collect();
            // The client may have gone; its replies are then dropped.
            let _ = reply.send(replies);
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
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let Some(msg) = msg else { break };
                handle(&mut ks, msg);
                let mut drained = 0;
                while drained < DRAIN_CAP {
                    match rx.try_recv() {
                        Ok(msg) => handle(&mut ks, msg),
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
