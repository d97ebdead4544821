//! Between the socket and the shards: a batch of parsed requests goes in, their encoded replies
//! come out in request order.
//!
//! [`plan`] decides where each request is answered (one shard, a split over several, every led
//! shard, or the node itself) without touching a channel; [`execute`] sends the planned work to
//! the shard groups (one message per shard per batch, reads and writes at once) and gathers the
//! answers; [`refusal`] words the redirects. The connection only reads and writes the socket.

pub mod blocking;
pub mod execute;
pub mod plan;
pub mod refusal;
pub mod registry;
pub mod route;
pub mod script;
pub mod transaction;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use crate::clock::now_ms;
use crate::commands::{self, ApplyCtx};
use crate::protocol::{Frame, Output};
use crate::raft::registry::Groups;
use crate::server::ServerState;
use crate::session::Session;
use crate::shard::{ShardMsg, ShardStats};
use plan::{NodeStep, Pending, Placement, Planned, Work};

impl Placement for Groups {
    fn led_shards(&self) -> Vec<usize> {
        self.shards()
            .filter(|(_, g)| g.is_leader())
            .map(|(s, _)| s)
            .collect()
    }

    fn holds(&self, shard: usize) -> bool {
        self.has_shard(shard)
    }

    fn led_elsewhere(&self, shard: usize) -> bool {
        self.shard(shard).is_some_and(|g| g.led_elsewhere())
    }
}

/// Runs one batch of requests on `groups` (the connection's snapshot of the node's groups; the
/// batch's clock read once) and appends their encoded replies to `out`; the requests run are
/// taken out of `requests`.
///
/// A blocking command (BLPOP …) that is not the batch's first stops the batch before it: the
/// rest stays in `requests`, for the caller to run once it has written the replies so far, so
/// that a client does not wait for the replies of what it sent before a command that waits.
/// While it waits, `watch` tells whether the client went away.
pub async fn run_batch(
    state: &Arc<ServerState>,
    groups: &Groups,
    session: &mut Session,
    requests: &mut Vec<Vec<Bytes>>,
    out: &mut Output,
    watch: &mut impl blocking::ClientWatch,
) {
    let ctx = ApplyCtx {
        now: now_ms(),
        max_bulk_len: state.runtime.proto_max_bulk_len.load(Ordering::Relaxed),
    };
    let mut pending: Vec<Pending> = Vec::with_capacity(requests.len());
    let mut work = Work::default();
    let mut replies: Vec<Option<Frame>> = Vec::new();
    let mut last_cmd = "NULL";
    let mut count = 0;
    // Consecutive scripts wait here and run together (see `script::run_many`): their reply
    // slots in `pending`, the protocol of each, the calls.
    let mut scripts: Vec<(usize, u8, crate::scripting::ScriptCall)> = Vec::new();
    for argv in requests.iter() {
        if session.closing {
            count += 1;
            continue;
        }
        if is_cross_protocol(&argv[0]) {
            count += 1;
            refuse_cross_protocol(session);
            continue;
        }
        let proto = session.proto();
        // A command refused before it runs also fails the transaction it would join (redis's
        // `flagTransaction`; nothing outside MULTI).
        let spec = match commands::resolve(argv) {
            Ok(spec) => spec,
            Err(e) => {
                count += 1;
                let e = transaction::rejected(session, argv, e);
                pending.push(Pending::Done(proto, e));
                continue;
            }
        };
        let queues = session.multi.is_some() && !transaction::runs_in_multi(spec.name);
        if spec.flags.contains(&"blocking") && count > 0 && !queues {
            break;
        }
        count += 1;
        last_cmd = spec.name;
        if !session.authenticated && !spec.flags.contains(&"no_auth") {
            let e = Frame::error("NOAUTH Authentication required.");
            pending.push(Pending::Done(
                proto,
                transaction::rejected(session, argv, e),
            ));
            continue;
        }
        if state.is_loading() && !spec.flags.contains(&"loading") {
            let e = Frame::error("LOADING Redis is loading the dataset in memory");
            pending.push(Pending::Done(
                proto,
                transaction::rejected(session, argv, e),
            ));
            continue;
        }
        if queues {
            let reply = transaction::queue(state, groups, session, spec, argv);
            pending.push(Pending::Done(proto, reply));
            continue;
        }
        let route = route::route(spec, argv, &state.shard_map);
        if !scripts.is_empty() && !matches!(route, route::Route::Script(_)) {
            run_scripts(state, groups, ctx.max_bulk_len, &mut scripts, &mut pending).await;
        }
        let refused = refusal::busy_script(groups, spec, &route, ctx.now)
            .or_else(|| refusal::disk_full(state, spec, &route, groups))
            .or_else(|| refusal::out_of_memory(state, spec, &route, groups));
        if let Some(refusal) = refused {
            pending.push(Pending::Done(proto, refusal));
            continue;
        }
        if let route::Route::Script(call) = route {
            if scripts.is_empty() {
                // The script runs after everything the batch sent before it.
                let readonly = session.readonly();
                execute::flush(state, groups, ctx, readonly, &mut work, &mut replies).await;
            }
            pending.push(Pending::Done(proto, Frame::Null));
            scripts.push((pending.len() - 1, proto, call));
            continue;
        }
        let planned = match route {
            route::Route::Exec => transaction::plan_exec(state, session, proto, &mut work),
            route => plan::plan(route, proto, session.readonly(), groups, &ctx, &mut work),
        };
        let step = match planned {
            Planned::Pending(p) => {
                pending.push(p);
                continue;
            }
            Planned::Node(step) => step,
        };
        if step.reads_keyspace() {
            execute::flush(
                state,
                groups,
                ctx,
                session.readonly(),
                &mut work,
                &mut replies,
            )
            .await;
        }
        let reply = match step {
            NodeStep::Local(handler) => {
                // Encoded in the protocol in force after the command (HELLO 3 answers in RESP3).
                if let Some(reply) = handler(argv, session, state) {
                    pending.push(Pending::Done(session.proto(), reply));
                }
                continue;
            }
            NodeStep::Failover => crate::server::cluster::failover(state).await,
            NodeStep::Effect(shard, cmd) => {
                execute::run_effect(state, groups, ctx, shard, cmd).await
            }
            NodeStep::Block(shard, b) => {
                session.handle.update(|m| m.last_cmd = spec.name);
                let max_bulk_len = ctx.max_bulk_len;
                match blocking::run(state, groups, max_bulk_len, shard, b, session, watch).await {
                    Some(reply) => reply,
                    None => {
                        // The client is gone: nothing more runs, nothing is written.
                        session.closing = true;
                        session.aborted = true;
                        continue;
                    }
                }
            }
            NodeStep::Scan(scan) => execute::scan_shards(state, groups, ctx, scan).await,
            NodeStep::Watch(keys) => transaction::watch(state, groups, ctx, session, keys).await,
            NodeStep::Exec(plan) => transaction::run_exec(state, groups, ctx, session, plan).await,
            NodeStep::Script(call) => script::run(state, groups, ctx.max_bulk_len, call).await,
            NodeStep::Functions => crate::server::functions::write(state, argv).await,
            NodeStep::Info(sections) => {
                let stats: Vec<ShardStats> =
                    execute::ask_led_shards(state, groups, ShardMsg::Stats)
                        .await
                        .into_iter()
                        .filter_map(Result::ok)
                        .collect();
                crate::server::info::render(state, session, &sections, &stats)
            }
            NodeStep::RandomKey => {
                let samples =
                    execute::ask_led_shards(state, groups, |tx| ShardMsg::RandomKey(ctx.now, tx))
                        .await;
                match samples.into_iter().collect::<Result<Vec<_>, Frame>>() {
                    Ok(samples) => commands::keys::random_key_of(&samples),
                    Err(e) => e,
                }
            }
        };
        pending.push(Pending::Done(proto, reply));
    }
    if !scripts.is_empty() {
        run_scripts(state, groups, ctx.max_bulk_len, &mut scripts, &mut pending).await;
    }
    requests.drain(..count);
    state
        .stats
        .commands_processed
        .fetch_add(count as u64, Ordering::Relaxed);
    session.handle.update(|m| {
        m.last_cmd = last_cmd;
        m.last_active = Instant::now();
    });
    execute::flush(
        state,
        groups,
        ctx,
        session.readonly(),
        &mut work,
        &mut replies,
    )
    .await;
    plan::assemble(pending, &mut replies, out);
}

/// Runs the scripts waiting in `scripts` together and files their replies in `pending`.
async fn run_scripts(
    state: &ServerState,
    groups: &Groups,
    max_bulk_len: u64,
    scripts: &mut Vec<(usize, u8, crate::scripting::ScriptCall)>,
    pending: &mut [Pending],
) {
    let (slots, calls): (Vec<(usize, u8)>, Vec<_>) = scripts
        .drain(..)
        .map(|(at, proto, call)| ((at, proto), call))
        .unzip();
    let replies = script::run_many(state, groups, max_bulk_len, calls).await;
    for ((at, proto), reply) in slots.into_iter().zip(replies) {
        if let Some(p) = pending.get_mut(at) {
            *p = Pending::Done(proto, reply);
        }
    }
}

/// True for the first word of an HTTP request line or header (`POST`, `Host:`), as a browser
/// sends when a web page is made to post to the node's port (cross-protocol scripting): redis
/// closes such a connection before it runs anything more, and so does Shardis.
pub fn is_cross_protocol(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"post") || name.eq_ignore_ascii_case(b"host:")
}

/// Closes the connection without a reply, logging it at most once a minute (as redis does).
fn refuse_cross_protocol(session: &mut Session) {
    static LAST_LOGGED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    session.closing = true;
    session.aborted = true;
    let now = now_ms();
    let last = LAST_LOGGED.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= 60_000
        && LAST_LOGGED
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(
            client = %session.handle.addr,
            "Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: \
             commands to the node. This is likely due to an attacker attempting to use Cross \
             Protocol Scripting to compromise it. Connection aborted."
        );
    }
}
