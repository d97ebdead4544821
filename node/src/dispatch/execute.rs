//! Running planned work on the shard groups and gathering the answers.

use bytes::Bytes;
use futures_util::future::join_all;

use super::plan::Work;
use super::refusal;
use crate::commands::keys::ScanArgs;
use crate::commands::{self, ApplyCtx, ShardCommand};
use crate::keyspace::ScanCursor;
use crate::protocol::Frame;
use crate::raft::proposer::Refusal;
use crate::raft::registry::Groups;
use crate::raft::state_machine::AppliedState;
use crate::server::ServerState;
use crate::shard::{Batch, Gather, ShardMsg};

/// Runs the queued shard work and adds the replies to `replies` by slot. A shard's commands that
/// include a write become one Raft log entry (replies come back once it is applied); a shard's
/// read-only commands go to its actor in one message, after the group confirms this node still
/// leads it. All shards proceed at once.
/// With `readonly` (the connection sent READONLY), reads of a shard this node follows are served
/// from its replica without asking the leader: possibly stale, as on a Redis Cluster replica.
pub async fn flush(
    state: &ServerState,
    groups: &Groups,
    ctx: ApplyCtx,
    readonly: bool,
    work: &mut Work,
    replies: &mut Vec<Option<Frame>>,
) {
    let base = replies.len() as u32;
    let slots = (work.slots() - base) as usize;
    if slots == 0 {
        return;
    }
    let mut reads = Vec::new();
    let mut writes = Vec::new();
    for (shard, cmds) in work.drain() {
        if cmds.iter().all(|(c, _)| c.is_read_only()) {
            reads.push((shard, cmds));
        } else {
            writes.push((shard, cmds));
        }
    }
    let gather = Gather::new(slots, reads.len());
    // Batches a shard can take at once are queued here; only the others need a future.
    let read_all = join_all(reads.into_iter().filter_map(|(shard, mut cmds)| {
        for (_, slot) in cmds.iter_mut() {
            *slot -= base;
        }
        let cmds = match groups.shard(shard) {
            Some(group) if group.reads_now(readonly, &cmds) => {
                let batch = Batch {
                    ctx,
                    cmds,
                    gather: gather.clone(),
                };
                match group.shard.try_send(batch) {
                    Ok(()) => return None,
                    Err(mut batch) => std::mem::take(&mut batch.cmds),
                }
            }
            _ => cmds,
        };
        let gather = gather.clone();
        Some(async move {
            let refused = match groups.shard(shard) {
                // The shard's channel was full, or the group must first confirm its lead.
                Some(group) if group.reads_now(readonly, &cmds) => {
                    return group.shard.send(Batch { ctx, cmds, gather }).await
                }
                Some(group) => match group.read_barrier().await {
                    Ok(()) => return group.shard.send(Batch { ctx, cmds, gather }).await,
                    Err(refusal) => refusal,
                },
                None => Refusal::NotLeader(state.leaders.get(shard).map(|(leader, _)| leader)),
            };
            let answers = cmds
                .into_iter()
                .map(|(cmd, slot)| (slot, refusal::for_command(&state.topology, &refused, &cmd)))
                .collect::<Vec<_>>();
            gather.deliver(answers.into_iter());
        })
    }));
    let write_all = join_all(writes.into_iter().map(|(shard, cmds)| async move {
        let (cmds, slots): (Vec<ShardCommand>, Vec<u32>) = cmds.into_iter().unzip();
        let refused = match groups.shard(shard) {
            Some(group) => {
                // Kept for MOVED replies: the commands themselves go into the log entry.
                let firsts: Vec<Option<Bytes>> = cmds.iter().map(|c| c.first_key()).collect();
                match group.write(ctx, cmds).await {
                    Ok(frames) => return slots.into_iter().zip(frames).collect::<Vec<_>>(),
                    Err(refused) => {
                        return slots
                            .into_iter()
                            .zip(firsts)
                            .map(|(slot, key)| {
                                (slot, refusal::for_key(&state.topology, &refused, key))
                            })
                            .collect();
                    }
                }
            }
            None => Refusal::NotLeader(state.leaders.get(shard).map(|(leader, _)| leader)),
        };
        slots
            .into_iter()
            .zip(cmds)
            .map(|(slot, cmd)| (slot, refusal::for_command(&state.topology, &refused, &cmd)))
            .collect()
    }));
    let ((), written) = futures_util::join!(
        async {
            read_all.await;
            gather.wait().await;
        },
        write_all
    );
    let mut batch = gather.take();
    for (slot, frame) in written.into_iter().flatten() {
        if let Some(s) = batch.get_mut((slot - base) as usize) {
            *s = Some(frame);
        }
    }
    replies.extend(batch);
}

/// SCAN: asks the shard owning the cursor's slot, and moves on to the next shard while a shard
/// had nothing to return, so that an empty or sparse keyspace does not cost a round trip per shard.
/// Shards this node does not lead are skipped: a node scans its own part of the keyspace, as a
/// Redis Cluster node does.
pub async fn scan_shards(
    state: &ServerState,
    groups: &Groups,
    ctx: ApplyCtx,
    mut scan: ScanArgs,
) -> Frame {
    for _ in 0..state.shard_map.shards() {
        let shard = state.shard_map.shard_of_slot(scan.cursor.slot);
        let (_, last) = state.shard_map.slot_range(shard);
        let next_shard = if last + 1 >= crate::slot::SLOT_COUNT {
            0
        } else {
            ScanCursor {
                slot: last + 1,
                pos: 0,
            }
            .encode()
        };
        let led = groups.shard(shard).filter(|g| g.is_leader());
        let Some(group) = led else {
            if next_shard == 0 {
                return Frame::Array(vec![Frame::bulk_from(b"0"), Frame::Array(Vec::new())]);
            }
            scan.cursor = ScanCursor::decode(next_shard);
            continue;
        };
        if let Err(refused) = group.read_barrier().await {
            return refusal::for_key(&state.topology, &refused, None);
        }
        let Some(page) = group
            .shard
            .ask(|tx| ShardMsg::Scan(scan.clone(), ctx.now, tx))
            .await
        else {
            return Frame::error("ERR shard unavailable");
        };
        // A shard that has nothing left hands over to the next one at once; one that found no
        // match in this step (MATCH, TYPE) answers an empty page, as redis does.
        let next_in_another_shard = state
            .shard_map
            .shard_of_slot(ScanCursor::decode(page.next).slot)
            != shard;
        if page.keys.is_empty() && page.next != 0 && next_in_another_shard {
            scan.cursor = ScanCursor::decode(page.next);
            continue;
        }
        return commands::keys::scan_reply(page);
    }
    // Every shard looked at had nothing left: an empty page, at the cursor reached.
    Frame::Array(vec![
        Frame::bulk_from(scan.cursor.encode().to_string().as_bytes()),
        Frame::Array(Vec::new()),
    ])
}

/// Asks every shard this node leads (once its lead is confirmed, as for any read) a typed
/// question; a shard it cannot ask answers the refusal's error reply.
pub async fn ask_led_shards<T>(
    state: &ServerState,
    groups: &Groups,
    make: impl Fn(tokio::sync::oneshot::Sender<T>) -> ShardMsg<AppliedState>,
) -> Vec<Result<T, Frame>> {
    let led = groups.shards().filter(|(_, g)| g.is_leader());
    join_all(led.map(|(_, group)| {
        let make = &make;
        async move {
            group
                .read_barrier()
                .await
                .map_err(|refused| refusal::for_key(&state.topology, &refused, None))?;
            group
                .shard
                .ask(make)
                .await
                .ok_or_else(|| Frame::error("ERR shard unavailable"))
        }
    }))
    .await
}

/// How many times a random write picks again when its pick no longer holds by the time its
/// effect applies (another client changed the set in between), before it answers TRYAGAIN.
const EFFECT_ATTEMPTS: usize = 32;

/// Runs a random write (SPOP) on `shard`: the leader reads its pick (a linearizable read, after
/// everything this connection sent before), then logs the pick's effect, which every replica
/// applies alike. An effect whose pick no longer holds changes nothing and is picked again.
pub async fn run_effect(
    state: &ServerState,
    groups: &Groups,
    ctx: ApplyCtx,
    shard: usize,
    cmd: ShardCommand,
) -> Frame {
    let Some(read) = cmd.effect_read() else {
        return Frame::error("ERR not an effect command");
    };
    for _ in 0..EFFECT_ATTEMPTS {
        let picked = run_one(state, groups, ctx, shard, read.clone()).await;
        let write = match cmd.effect_write(picked) {
            commands::EffectStep::Reply(reply) => return reply,
            commands::EffectStep::Write(write) => write,
        };
        match run_one(state, groups, ctx, shard, write).await {
            Frame::Error(e) if e.as_ref() == commands::sets::CONFLICT.as_bytes() => continue,
            reply => return reply,
        }
    }
    Frame::error("TRYAGAIN the members picked kept changing, try again later")
}

/// Runs one command on `shard` (a read on its leader, or a write through its log) and returns
/// its reply.
pub(super) async fn run_one(
    state: &ServerState,
    groups: &Groups,
    ctx: ApplyCtx,
    shard: usize,
    cmd: ShardCommand,
) -> Frame {
    let mut work = Work::default();
    work.push(shard, cmd);
    let mut replies = Vec::new();
    flush(state, groups, ctx, false, &mut work, &mut replies).await;
    replies
        .pop()
        .flatten()
        .unwrap_or_else(|| Frame::error("ERR the shard did not answer"))
}
