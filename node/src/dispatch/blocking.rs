//! Running a blocking pop (BLPOP, BZPOPMIN, …) on the leader of its keys' shard.
//!
//! The command is a loop of ordinary shard work ([`crate::commands::blocking`]): a
//! linearizable read finds the first of the client's keys holding something, the pop of that
//! key goes through the log as the non-blocking command it amounts to, and while there is
//! nothing the client waits in line on its keys ([`crate::shard::waiters`]), woken by the shard
//! actor when a write names one of them. The wait ends with the timeout (a null reply), CLIENT
//! UNBLOCK, the client going away (no reply: nothing was popped for it), or the node losing
//! the shard's leadership: the next read then answers the redirect (`-MOVED` to the new
//! leader), so the client follows it there instead of hanging.

use std::future::Future;

use futures_util::FutureExt;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::clock::now_ms;
use crate::commands::blocking::Blocking;
use crate::commands::ApplyCtx;
use crate::protocol::Frame;
use crate::raft::registry::Groups;
use crate::server::ServerState;
use crate::session::Session;

use super::execute::run_one;

/// How often a waiting client checks that this node still leads its shard.
const LEADERSHIP_CHECK: Duration = Duration::from_millis(100);

/// What a blocked command watches besides its keys: its connection.
pub trait ClientWatch: Send {
    /// Completes when the client is gone (closed its socket, sent past its query buffer limit,
    /// was killed, or the node stops). Whatever the client sends meanwhile is kept for later.
    fn closed(&mut self) -> impl Future<Output = ()> + Send + '_;
}

/// A watch that never sees its client go (a caller without a socket).
pub struct NoWatch;

impl ClientWatch for NoWatch {
    fn closed(&mut self) -> impl Future<Output = ()> + Send + '_ {
        std::future::pending()
    }
}

/// Marks the session's client as blocked for as long as it lives.
struct BlockedFlag<'a>(&'a Session);

impl<'a> BlockedFlag<'a> {
    fn set(session: &'a Session) -> BlockedFlag<'a> {
        // A CLIENT UNBLOCK that raced with the end of an earlier wait left a wake-up behind:
        // it must not end this one.
        let _ = session.handle.unblock.notified().now_or_never();
        session.handle.unblock_error.store(false, Ordering::Release);
        session.handle.blocked.store(true, Ordering::Release);
        BlockedFlag(session)
    }
}

impl Drop for BlockedFlag<'_> {
    fn drop(&mut self) {
        self.0.handle.blocked.store(false, Ordering::Release);
    }
}

/// Runs `blocking` on `shard` for `session`. `None`: the client went away while waiting.
pub async fn run(
    state: &ServerState,
    groups: &Groups,
    max_bulk_len: u64,
    shard: usize,
    blocking: Blocking,
    session: &Session,
    watch: &mut impl ClientWatch,
) -> Option<Frame> {
    let Some(group) = groups.shard(shard) else {
        // Not a replica of the shard: the read answers the redirect.
        let probe = blocking.probe(blocking.keys.clone(), true);
        return Some(run_one(state, groups, ctx(max_bulk_len), shard, probe).await);
    };
    let deadline = (blocking.timeout_ms > 0)
        .then(|| tokio::time::Instant::now() + Duration::from_millis(blocking.timeout_ms));
    // In line before the first look: a push applied after the look wakes this client.
    let waiter = group.shard.waiters.register(&blocking.keys);
    let _flag = BlockedFlag::set(session);
    let mut first = true;
    loop {
        // The first look checks every key as the command does (WRONGTYPE); later ones only the
        // keys this client is first in line on, so that clients are served in arrival order.
        let keys = if first {
            blocking.keys.clone()
        } else {
            waiter.first_in_line()
        };
        if !keys.is_empty() {
            let probe = blocking.probe(keys.clone(), first);
            match run_one(state, groups, ctx(max_bulk_len), shard, probe).await {
                Frame::Integer(i) if i >= 0 => {
                    let key = &keys[i as usize];
                    // A key others wait on before this client is theirs first.
                    let mine = !first || waiter.first_in_line().contains(key);
                    if mine {
                        let pop = match blocking.pop(key) {
                            Ok(pop) => pop,
                            Err(e) => return Some(e),
                        };
                        let popped = run_one(state, groups, ctx(max_bulk_len), shard, pop).await;
                        if let Some(reply) = blocking.reply(key, popped) {
                            return Some(reply);
                        }
                    }
                }
                Frame::Integer(_) => {}
                // WRONGTYPE, or a redirect: this node no longer leads the shard.
                other => return Some(other),
            }
        }
        first = false;
        let timeout = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let mut check = tokio::time::interval(LEADERSHIP_CHECK);
        check.tick().await;
        let lost_lead = async {
            loop {
                check.tick().await;
                if !group.is_leader() {
                    return;
                }
            }
        };
        tokio::select! {
            () = waiter.woken() => {}
            () = lost_lead => {}
            () = timeout => return Some(blocking.timed_out()),
            () = session.handle.unblock.notified() => {
                return Some(if session.handle.unblock_error.load(Ordering::Acquire) {
                    Frame::error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
                } else {
                    blocking.timed_out()
                });
            }
            () = watch.closed() => return None,
        }
    }
}

/// A fresh context for each step: a wait can last long, and the pop must see the time it runs
/// at (a key that expired meanwhile is gone).
fn ctx(max_bulk_len: u64) -> ApplyCtx {
    ApplyCtx {
        now: now_ms(),
        max_bulk_len,
    }
}
