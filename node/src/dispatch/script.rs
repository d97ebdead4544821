//! Running a script: on the leader of its keys' shard, against the live keyspace, then its
//! effects logged as one guarded transaction entry (see `scripting/`), again if another write
//! changed a key it touched in between.

use super::execute;
use super::refusal;
use crate::clock::now_ms;
use crate::commands::{ApplyCtx, ShardCommand};
use crate::protocol::Frame;
use crate::raft::proposer::Refusal;
use crate::raft::registry::Groups;
use crate::scripting::{ScriptCall, ScriptRequest, Source};
use crate::server::ServerState;
use crate::shard::ShardMsg;
use crate::slot::key_slot;

/// Runs of a script whose effects found a touched key changed before the script answers
/// `-TRYAGAIN`: each run after the first follows a write that won, so this takes a hot key
/// written without pause.
const ATTEMPTS: usize = 16;

/// Runs `call` and returns its reply.
pub async fn run(
    state: &ServerState,
    groups: &Groups,
    max_bulk_len: u64,
    call: ScriptCall,
) -> Frame {
    let (sha, body) = match call.source {
        Source::Body(body) => (crate::server::scripts::remember(state, &body), body),
        Source::Sha(sha) => {
            let cache = state.scripts.lock().unwrap_or_else(|p| p.into_inner());
            match cache.get(&sha) {
                Some(body) => (sha, body.clone()),
                None => return Frame::error("NOSCRIPT No matching script. Please use EVAL."),
            }
        }
    };
    let first_key = call.keys.first().cloned();
    // A script of no key runs on a shard this node leads (redis runs it on the node it is sent to).
    let mut shard = match &first_key {
        Some(key) => state.shard_map.shard_of_slot(key_slot(key)),
        None => groups
            .shards()
            .find(|(_, g)| g.is_leader())
            .map_or(0, |(s, _)| s),
    };
    let mut request = ScriptRequest {
        sha,
        body,
        keys: call.keys,
        args: call.args,
        ctx: ApplyCtx {
            now: 0,
            max_bulk_len,
        },
        read_only: call.read_only,
        slot: None,
    };
    for _ in 0..ATTEMPTS {
        let Some(group) = groups.shard(shard) else {
            if request.slot.is_some() {
                return Frame::error(
                    "ERR Script attempted to access a non local key in a cluster node script",
                );
            }
            let leader = state.leaders.get(shard).map(|(leader, _)| leader);
            return refusal::for_key(&state.topology, &Refusal::NotLeader(leader), first_key);
        };
        if let Err(refused) = group.read_barrier().await {
            return refusal::for_key(&state.topology, &refused, first_key);
        }
        request.ctx.now = now_ms();
        let ctx = request.ctx;
        let asked = group
            .shard
            .ask(|tx| ShardMsg::Script(Box::new(request.clone()), tx))
            .await;
        let Some(outcome) = asked else {
            return Frame::error("ERR shard unavailable");
        };
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
