//! Running scripts: on the leader of their keys' shard, against the live keyspace, then their
//! effects logged as guarded transaction entries (see `scripting/`), again if another write
//! changed a key a script touched in between.
//!
//! A pipeline's consecutive scripts run together ([`run_many`]): one actor message per shard
//! runs them one after the other on shared copies of their keys (each sees the writes of those
//! before it), and their effects go into one entry behind one guard. If that guard fails, they
//! are run again one by one, in order.

use bytes::Bytes;
use futures_util::future::join_all;

use super::execute;
use super::plan::Work;
use super::refusal;
use crate::clock::now_ms;
use crate::commands::{ApplyCtx, ShardCommand};
use crate::protocol::Frame;
use crate::raft::proposer::Refusal;
use crate::raft::registry::Groups;
use crate::scripting::library::{self, ScriptFlags};
use crate::scripting::{FunctionTarget, ScriptCall, ScriptRequest, Source};
use crate::server::ServerState;
use crate::shard::ShardMsg;
use crate::slot::key_slot;

/// Runs of a script whose effects found a touched key changed before the script answers
/// `-TRYAGAIN`: each run after the first follows a write that won, so this takes a hot key
/// written without pause.
const ATTEMPTS: usize = 16;

/// A call made ready to run: its body found, its shard chosen.
struct Prepared {
    request: ScriptRequest,
    shard: usize,
    first_key: Option<bytes::Bytes>,
}

/// Finds the body (EVALSHA: in the node's cache; FCALL: the function) and the shard a call
/// runs on.
async fn prepare(
    state: &ServerState,
    groups: &Groups,
    max_bulk_len: u64,
    call: ScriptCall,
) -> Result<Prepared, Frame> {
    let read_only;
    let mut function = None;
    let (sha, body) = match call.source {
        Source::Function(name) => {
            let Some((library, info)) = crate::server::functions::find(state, &name).await else {
                return Err(Frame::error("ERR Function not found"));
            };
            if let Some(refused) = call.refused {
                return Err(refused);
            }
            check_flags(state, info.flags, call.read_only)?;
            read_only = info.flags.contains(ScriptFlags::NO_WRITES);
            let command = std::iter::once(Bytes::from_static(if call.read_only {
                b"FCALL_RO"
            } else {
                b"FCALL"
            }))
            .chain([
                Bytes::from(name.clone()),
                Bytes::from(call.keys.len().to_string()),
            ])
            .chain(call.keys.iter().cloned())
            .chain(call.args.iter().cloned())
            .collect();
            function = Some(FunctionTarget {
                name,
                library,
                command,
            });
            (String::new(), Bytes::new())
        }
        Source::Body(body) => {
            read_only = script_flags(state, &body, call.read_only)?;
            (crate::server::scripts::remember(state, &body), body)
        }
        Source::Sha(sha) => {
            let body = {
                let cache = state.scripts.lock().unwrap_or_else(|p| p.into_inner());
                match cache.get(&sha) {
                    Some(body) => body.clone(),
                    None => {
                        return Err(Frame::error(
                            "NOSCRIPT No matching script. Please use EVAL.",
                        ))
                    }
                }
            };
            read_only = script_flags(state, &body, call.read_only)?;
            (sha, body)
        }
    };
    let first_key = call.keys.first().cloned();
    // A script of no key runs on a shard this node leads (redis runs it on the node it is sent
    // to); if it touches a key of another shard first, it moves there (see `run`).
    let shard = match &first_key {
        Some(key) => state.shard_map.shard_of_slot(key_slot(key)),
        None => groups
            .shards()
            .find(|(_, g)| g.is_leader())
            .map_or(0, |(s, _)| s),
    };
    Ok(Prepared {
        request: ScriptRequest {
            sha,
            body,
            keys: call.keys,
            args: call.args,
            ctx: ApplyCtx {
                now: 0,
                max_bulk_len,
            },
            read_only,
            slot: None,
            function,
        },
        shard,
        first_key,
    })
}

/// An EVAL script's `#!lua` flags checked as a function's are ([`check_flags`]); whether it
/// runs read-only: a `no-writes` script, or an `_RO` call. A script without the line is
/// checked command by command as it runs, as before redis 7.
fn script_flags(state: &ServerState, body: &[u8], read_only_call: bool) -> Result<bool, Frame> {
    match library::script_shebang(body) {
        Ok(None) => Ok(read_only_call),
        Ok(Some((flags, _))) => {
            check_flags(state, flags, read_only_call)?;
            Ok(read_only_call || flags.contains(ScriptFlags::NO_WRITES))
        }
        Err(e) => Err(Frame::error_owned(format!("ERR {e}"))),
    }
}

/// Refuses a function its flags keep from running here (redis's `scriptPrepareForRun`): any
/// with `no-cluster` (Shardis is a cluster), one that may write with FCALL_RO or while the
/// node is out of memory without `allow-oom`.
fn check_flags(state: &ServerState, flags: ScriptFlags, read_only_call: bool) -> Result<(), Frame> {
    if flags.contains(ScriptFlags::NO_CLUSTER) {
        return Err(Frame::error(
            "ERR Can not run script on cluster, 'no-cluster' flag is set.",
        ));
    }
    let writes = !flags.contains(ScriptFlags::NO_WRITES);
    if writes && read_only_call {
        return Err(Frame::error(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    if writes && !flags.contains(ScriptFlags::ALLOW_OOM) && state.refuses_growth() {
        return Err(Frame::error(
            "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'",
        ));
    }
    Ok(())
}

/// Runs `call` alone and returns its reply.
pub async fn run(
    state: &ServerState,
    groups: &Groups,
    max_bulk_len: u64,
    call: ScriptCall,
) -> Frame {
    match prepare(state, groups, max_bulk_len, call).await {
        Ok(prepared) => run_prepared(state, groups, prepared).await,
        Err(e) => e,
    }
}

/// Runs a prepared call alone, again while its guard fails.
async fn run_prepared(state: &ServerState, groups: &Groups, prepared: Prepared) -> Frame {
    let Prepared {
        mut request,
        mut shard,
        first_key,
    } = prepared;
    for _ in 0..ATTEMPTS {
        let Some(group) = groups.shard(shard) else {
            return not_here(state, shard, &request, first_key);
        };
        if let Err(refused) = group.read_barrier().await {
            return refusal::for_key(&state.topology, &refused, first_key);
        }
        request.ctx.now = now_ms();
        let ctx = request.ctx;
        let asked = group
            .shard
            .ask(|tx| ShardMsg::Scripts(vec![request.clone()], tx))
            .await;
        let Some(mut batch) = asked else {
            return Frame::error("ERR shard unavailable");
        };
        let Some(mut outcome) = batch.outcomes.pop() else {
            return Frame::error("ERR shard unavailable");
        };
        outcome.effects = batch.effects;
        if let Some(slot) = outcome.elsewhere {
            // A script of no declared key went for a key of another shard: run it there.
            request.slot = Some(slot);
            shard = state.shard_map.shard_of_slot(slot);
            continue;
        }
        let Some(effects) = outcome.effects else {
            return outcome.reply;
        };
        match execute::run_one(
            state,
            groups,
            ctx,
            shard,
            ShardCommand::Exec(Box::new(effects)),
        )
        .await
        {
            // A key the script touched changed before its effects applied: run it again.
            Frame::NullArray => continue,
            Frame::Error(e) => return Frame::Error(e),
            _ => return outcome.reply,
        }
    }
    Frame::error("TRYAGAIN the keys of the script kept changing, try again later")
}

/// The reply to a script whose shard this node does not hold.
fn not_here(
    state: &ServerState,
    shard: usize,
    request: &ScriptRequest,
    first_key: Option<bytes::Bytes>,
) -> Frame {
    if request.slot.is_some() {
        return Frame::error(
            "ERR Script attempted to access a non local key in a cluster node script",
        );
    }
    let leader = state.leaders.get(shard).map(|(leader, _)| leader);
    refusal::for_key(&state.topology, &Refusal::NotLeader(leader), first_key)
}

/// Runs a pipeline's consecutive scripts and returns their replies in order: per shard one
/// actor message and one entry for all their effects; a script whose guard failed, or that
/// moved to another shard, is run again alone.
pub async fn run_many(
    state: &ServerState,
    groups: &Groups,
    max_bulk_len: u64,
    calls: Vec<ScriptCall>,
) -> Vec<Frame> {
    // A script of no declared key may move to another shard once it runs: the batch would
    // lose its order there, so such a pipeline runs one script at a time.
    if calls.iter().any(|c| c.keys.is_empty()) {
        let mut replies = Vec::with_capacity(calls.len());
        for call in calls {
            replies.push(run(state, groups, max_bulk_len, call).await);
        }
        return replies;
    }
    let mut replies: Vec<Option<Frame>> = vec![None; calls.len()];
    // Per shard, the calls in order, with their positions.
    let mut by_shard: Vec<(usize, Vec<(usize, Prepared)>)> = Vec::new();
    for (at, call) in calls.into_iter().enumerate() {
        match prepare(state, groups, max_bulk_len, call).await {
            Ok(p) => match by_shard.iter_mut().find(|(s, _)| *s == p.shard) {
                Some((_, list)) => list.push((at, p)),
                None => by_shard.push((p.shard, vec![(at, p)])),
            },
            Err(e) => replies[at] = Some(e),
        }
    }
    let done = join_all(
        by_shard
            .into_iter()
            .map(|(shard, list)| run_shard(state, groups, shard, list)),
    )
    .await;
    for (at, reply) in done.into_iter().flatten() {
        replies[at] = Some(reply);
    }
    replies
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Frame::error("ERR script not run")))
        .collect()
}

/// One shard's part of [`run_many`].
async fn run_shard(
    state: &ServerState,
    groups: &Groups,
    shard: usize,
    list: Vec<(usize, Prepared)>,
) -> Vec<(usize, Frame)> {
    let mut out = Vec::with_capacity(list.len());
    let Some(group) = groups.shard(shard) else {
        for (at, p) in list {
            out.push((at, not_here(state, shard, &p.request, p.first_key)));
        }
        return out;
    };
    if let Err(refused) = group.read_barrier().await {
        for (at, p) in list {
            out.push((at, refusal::for_key(&state.topology, &refused, p.first_key)));
        }
        return out;
    }
    let now = now_ms();
    let requests: Vec<ScriptRequest> = list
        .iter()
        .map(|(_, p)| {
            let mut r = p.request.clone();
            r.ctx.now = now;
            r
        })
        .collect();
    let ctx = requests.first().map(|r| r.ctx);
    let Some(batch) = group.shard.ask(|tx| ShardMsg::Scripts(requests, tx)).await else {
        for (at, _) in list {
            out.push((at, Frame::error("ERR shard unavailable")));
        }
        return out;
    };
    let ran = batch.outcomes.len();
    let mut list = list.into_iter();
    let run_list: Vec<(usize, Prepared)> = list.by_ref().take(ran).collect();
    // Scripts after one that was stopped: not run, run again alone below.
    let mut again: Vec<(usize, Prepared)> = list.collect();
    let applied = match (batch.effects, ctx) {
        (Some(effects), Some(ctx)) => {
            let mut work = Work::default();
            work.push(shard, ShardCommand::Exec(Box::new(effects)));
            let mut applied = Vec::new();
            execute::flush(state, groups, ctx, false, &mut work, &mut applied).await;
            applied.pop().flatten()
        }
        _ => Some(Frame::Array(Vec::new())),
    };
    match applied {
        // A key touched changed before the effects applied: all of them again, one by one.
        Some(Frame::NullArray) => {
            let mut all = run_list;
            all.append(&mut again);
            again = all;
        }
        Some(Frame::Error(e)) => {
            for (at, _) in run_list {
                out.push((at, Frame::Error(e.clone())));
            }
        }
        Some(_) => {
            for ((at, _), outcome) in run_list.into_iter().zip(batch.outcomes) {
                out.push((at, outcome.reply));
            }
        }
        None => {
            for (at, _) in run_list {
                out.push((at, Frame::error("ERR shard unavailable")));
            }
        }
    }
    // In order, alone.
    again.sort_by_key(|(at, _)| *at);
    for (at, prepared) in again {
        out.push((at, run_prepared(state, groups, prepared).await));
    }
    out
}
