//! MULTI … EXEC and WATCH on a connection: queueing, the checks redis makes while it queues and
//! at EXEC, and the transaction as one command of one log entry.
//!
//! Between MULTI and EXEC a command is checked and queued in the session, nothing more: a
//! command refused now (unknown, wrong arity, not allowed in a transaction, keys of several
//! slots, a slot another node leads, out of memory) marks the transaction, and EXEC answers
//! `-EXECABORT`. At EXEC the queued commands become ONE [`ExecCommand`] of their slot's shard,
//! behind the guard of the keys WATCH saw: applied whole by every replica or not at all
//! (`commands/transaction.rs`). So all the keys of a transaction, the watched ones included,
//! must be in one slot, as Redis Cluster asks; on a single node too, where redis would accept
//! any keys, since shards are separate Raft groups and nothing commits across them atomically.

use bytes::Bytes;

use super::execute;
use super::plan::{self, ExecPart, ExecPlan, NodeStep, Pending, Planned, Work};
use super::refusal;
use super::route::{self, Route};
use crate::commands::args::Argv;
use crate::commands::errors;
use crate::commands::table::CommandSpec;
use crate::commands::transaction::{ExecCommand, ExecItem, Watched};
use crate::commands::{ApplyCtx, ShardCommand};
use crate::protocol::Frame;
use crate::raft::proposer::Refusal;
use crate::raft::registry::Groups;
use crate::server::ServerState;
use crate::session::{Session, WatchedKey};
use crate::shard::ShardMsg;
use crate::slot::key_slot;

/// The commands that run at once inside MULTI instead of being queued (redis's list).
pub fn runs_in_multi(name: &str) -> bool {
    matches!(
        name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// A command refused before it runs (unknown, wrong arity, NOAUTH, LOADING): it fails the
/// transaction it would join (redis's `flagTransaction`), and a refused EXEC ends the
/// transaction with `-EXECABORT Transaction discarded because of: <why>`, as redis answers.
pub fn rejected(session: &mut Session, argv: &Argv, error: Frame) -> Frame {
    session.fail_transaction();
    let is_exec = argv
        .first()
        .is_some_and(|n| n.eq_ignore_ascii_case(b"exec"));
    match error {
        Frame::Error(why) if is_exec => {
            session.end_multi();
            // Redis's own texts (arity …) come without their `ERR `; replies with a code of
            // their own (NOAUTH, LOADING) keep it.
            let why = String::from_utf8_lossy(&why);
            let why = why.strip_prefix("ERR ").unwrap_or(&why);
            Frame::error_owned(format!("EXECABORT Transaction discarded because of: {why}"))
        }
        other => other,
    }
}

/// Queues a command of the session's transaction and answers `+QUEUED`, or refuses it and marks
/// the transaction failed.
pub fn queue(
    state: &ServerState,
    groups: &Groups,
    session: &mut Session,
    spec: &'static CommandSpec,
    argv: &Argv,
) -> Frame {
    match refusal_at_queue(state, groups, session.readonly(), spec, argv) {
        Some(refused) => {
            session.fail_transaction();
            refused
        }
        None => {
            session.queue(argv.clone(), spec);
            Frame::simple("QUEUED")
        }
    }
}

/// Why a command cannot be queued, if it cannot: redis's checks at queue time, in its order.
fn refusal_at_queue(
    state: &ServerState,
    groups: &Groups,
    readonly: bool,
    spec: &'static CommandSpec,
    argv: &Argv,
) -> Option<Frame> {
    if spec.flags.contains(&"no_multi") {
        return Some(Frame::error("ERR Command not allowed inside a transaction"));
    }
    let route = route::route(spec, argv, &state.shard_map);
    let redirect = match &route {
        Route::Reply(Frame::Error(e)) if e.starts_with(b"CROSSSLOT") => {
            return Some(errors::cross_slot())
        }
        Route::Split(..) => return Some(errors::cross_slot()),
        Route::Shard(shard, cmd) => {
            let replica_read = readonly && cmd.is_read_only() && groups.has_shard(*shard);
            (!replica_read)
                .then(|| not_led_here(state, groups, *shard, cmd.first_key()))
                .flatten()
        }
        Route::Blocking(shard, b) => not_led_here(state, groups, *shard, b.keys.first().cloned()),
        Route::Reply(_) | Route::Local(_) | Route::Exec | Route::Watch(_) => None,
        Route::All(..)
        | Route::Scan(_)
        | Route::RandomKey
        | Route::Info(_)
        | Route::Failover
        | Route::Script(_)
        | Route::Functions
        | Route::Effect(..) => return Some(not_in_transaction(spec.name)),
    };
    if redirect.is_some() {
        return redirect;
    }
    // Redis refuses whatever is queued while it is out of memory: a queue grows without bound.
    if state.refuses_growth() {
        return Some(Frame::error(crate::limits::OOM_ERROR));
    }
    refusal::disk_full(state, spec, &route, groups)
}

/// The reply to a command a transaction cannot hold here: it spans shards (FLUSHALL, KEYS,
/// SCAN, RANDOMKEY, INFO, CLUSTER FAILOVER) or needs the leader's random pick before it can
/// be logged (SPOP); a transaction is one entry of one shard.
fn not_in_transaction(name: &str) -> Frame {
    Frame::error_owned(format!(
        "ERR '{}' cannot run inside a transaction here: a Shardis transaction is one log entry \
         of one hash slot",
        name.replace('|', " ").to_uppercase()
    ))
}

/// `-MOVED` (or `-TRYAGAIN`) when this node does not lead `shard`; `None` when it does.
fn not_led_here(
    state: &ServerState,
    groups: &Groups,
    shard: usize,
    key: Option<Bytes>,
) -> Option<Frame> {
    if groups.shard(shard).is_some_and(|g| g.is_leader()) {
        return None;
    }
    let leader = state
        .leaders
        .get(shard)
        .map(|(leader, _)| leader)
        .filter(|&leader| leader != state.topology.self_id);
    Some(refusal::for_key(
        &state.topology,
        &Refusal::NotLeader(leader),
        key,
    ))
}

/// EXEC: ends the session's transaction and plans it — an error or the null array when it
/// cannot run, else its entry as shard work of the batch (node commands among the queued ones
/// make it a node step, run in order).
pub fn plan_exec(
    state: &ServerState,
    session: &mut Session,
    proto: u8,
    work: &mut Work,
) -> Planned {
    let done = |frame: Frame| Planned::Pending(Pending::Done(proto, frame));
    let (tx, watched) = session.end_multi();
    let Some(tx) = tx else {
        return done(Frame::error("ERR EXEC without MULTI"));
    };
    let mut items = Vec::new();
    let mut shards = Vec::new();
    let mut parts = Vec::with_capacity(tx.queued.len());
    let mut has_local = false;
    let mut denyoom = false;
    let mut writes = false;
    for (argv, spec) in &tx.queued {
        denyoom |= spec.flags.contains(&"denyoom");
        writes |= spec.flags.contains(&"write");
        match route::route(spec, argv, &state.shard_map) {
            Route::Shard(shard, cmd) => {
                shards.push(shard);
                items.push(ExecItem::Cmd(cmd));
                parts.push(ExecPart::Entry);
            }
            Route::Blocking(shard, b) => {
                shards.push(shard);
                items.push(ExecItem::Pop(b, argv.clone()));
                parts.push(ExecPart::Entry);
            }
            Route::Local(handler) => {
                has_local = true;
                parts.push(ExecPart::Local(handler, argv.clone()));
            }
            Route::Reply(e) => parts.push(ExecPart::Reply(e)),
            _ => parts.push(ExecPart::Reply(not_in_transaction(spec.name))),
        }
    }
    let exec = ExecCommand {
        watched: watched
            .into_iter()
            .map(|w| Watched {
                key: w.key,
                seen: w.seen,
            })
            .collect(),
        items,
    };
    // Redis Cluster's check of the whole transaction comes first: one slot (and one shard, for
    // commands that name a slot rather than a key), or CROSSSLOT and nothing runs.
    let mut slots = exec.keys().into_iter().map(|k| key_slot(k));
    let first_slot = slots.next();
    if let Some(slot) = first_slot {
        if slots.any(|s| s != slot) {
            return done(errors::cross_slot());
        }
        shards.push(state.shard_map.shard_of_slot(slot));
    }
    if shards.windows(2).any(|w| w[0] != w[1]) {
        return done(errors::cross_slot());
    }
    let abort_because = |why: &str| {
        done(Frame::error_owned(format!(
            "EXECABORT Transaction discarded because of: {why}"
        )))
    };
    if denyoom && state.refuses_growth() {
        return abort_because(crate::limits::OOM_ERROR);
    }
    if writes {
        if let Some(why) = state.persistence.wal.write_stalled() {
            return abort_because(&format!(
                "MISCONF Errors writing to the write-ahead log (WAL): {why}"
            ));
        }
    }
    if tx.failed {
        return done(Frame::error(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    let entry = shards
        .first()
        .map(|&shard| (shard, ShardCommand::Exec(Box::new(exec))));
    let plan = ExecPlan { entry, parts };
    if has_local {
        Planned::Node(NodeStep::Exec(plan))
    } else {
        Planned::Pending(plan::plan_exec(plan, proto, work))
    }
}

/// Runs a transaction with node commands: its entry, then the node commands in place.
pub async fn run_exec(
    state: &std::sync::Arc<ServerState>,
    groups: &Groups,
    ctx: ApplyCtx,
    session: &mut Session,
    plan: ExecPlan,
) -> Frame {
    let entry = match plan.entry {
        Some((shard, cmd)) => Some(execute::run_one(state, groups, ctx, shard, cmd).await),
        None => None,
    };
    plan::compose_exec(plan.parts, entry, |handler, argv| {
        handler(argv, session, state).unwrap_or_else(Frame::ok)
    })
}

/// WATCH: reads what the keys hold from their shard's leader (a linearizable read, after
/// everything this connection sent before) and keeps it for EXEC's guard.
pub async fn watch(
    state: &ServerState,
    groups: &Groups,
    ctx: ApplyCtx,
    session: &mut Session,
    keys: Vec<Bytes>,
) -> Frame {
    if session.multi.is_some() {
        return Frame::error("ERR WATCH inside MULTI is not allowed");
    }
    let Some(first) = keys.first().cloned() else {
        return errors::wrong_arity("watch");
    };
    let shard = state.shard_map.shard_of_slot(key_slot(&first));
    let Some(group) = groups.shard(shard) else {
        let leader = state.leaders.get(shard).map(|(leader, _)| leader);
        return refusal::for_key(&state.topology, &Refusal::NotLeader(leader), Some(first));
    };
    if let Err(refused) = group.read_barrier().await {
        return refusal::for_key(&state.topology, &refused, Some(first));
    }
    let asked = group
        .shard
        .ask(|tx| ShardMsg::Watch(keys.clone(), ctx.now, tx))
        .await;
    let Some(seen) = asked else {
        return Frame::error("ERR shard unavailable");
    };
    session.watch(
        keys.into_iter()
            .zip(seen)
            .map(|(key, seen)| WatchedKey { key, seen })
            .collect(),
    );
    Frame::ok()
}
