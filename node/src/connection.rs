//! One client connection: read, parse a batch, run it, write the replies once.
//!
//! Each read may bring many pipelined requests. All complete requests in the buffer form one
//! *batch*: the clock is read once for the batch, each shard involved gets one message with all of
//! the batch's commands for it, and the replies go out in request order with one write.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::debug;

use crate::clock::now_ms;
use crate::commands::keys::ScanArgs;
use crate::commands::{self, ApplyCtx, Merge, Route, ShardCommand};
use crate::protocol::{Frame, RequestParser};
use crate::raft::proposer::Refusal;
use crate::raft::registry::Groups;
use crate::raft::state_machine::AppliedState;
use crate::server::ServerState;
use crate::session::ClientHandle;
pub use crate::session::Session;
use crate::shard::keyspace::{Keyspace, ScanCursor};
use crate::shard::{Batch, Gather, ShardMsg, ShardStats};
use futures_util::future::join_all;

/// Smallest free space kept in the read buffer before a read.
const READ_CHUNK: usize = 16 * 1024;
/// Largest single growth of the read buffer for a large announced argument.
const MAX_READ_RESERVE: usize = 1024 * 1024;

/// Where a batch's reply for one request comes from.
enum Pending {
    /// Answered already.
    Done(u8, Frame),
    /// Answered by shards: `parts` reply slots from `first`, merged by `merge` (none: one part).
    Parts {
        proto: u8,
        merge: Option<Merge>,
        first: u32,
        parts: u32,
    },
}

/// The shard work of the batch being executed.
#[derive(Default)]
struct Work {
    /// Commands per shard, each with its reply slot.
    per_shard: Vec<Vec<(ShardCommand, u32)>>,
    /// Reply slots handed out so far.
    slots: u32,
}

impl Work {
    fn push(&mut self, shard: usize, cmd: ShardCommand) -> u32 {
        if self.per_shard.len() <= shard {
            self.per_shard.resize_with(shard + 1, Vec::new);
        }
        let slot = self.slots;
        self.per_shard[shard].push((cmd, slot));
        self.slots += 1;
        slot
    }
}

/// A client connection.
pub struct Connection;

impl Connection {
    /// Serves `socket` until the client leaves, is killed, times out or the node stops.
    pub async fn serve(mut socket: TcpStream, addr: SocketAddr, state: Arc<ServerState>) {
        if state.client_count() >= state.runtime.maxclients.load(Ordering::Relaxed) {
            state
                .stats
                .rejected_connections
                .fetch_add(1, Ordering::Relaxed);
            let _ = socket
                .write_all(b"-ERR max number of clients reached\r\n")
                .await;
            return;
        }
        let handle = Arc::new(ClientHandle::new(
            state.next_client_id(),
            addr,
            socket.local_addr().unwrap_or(state.local_addr),
        ));
        if let Ok(mut clients) = state.clients.lock() {
            clients.insert(handle.id, handle.clone());
        }
        let mut session = Session::new(handle.clone(), state.requirepass().is_some());
        if let Err(e) = serve_loop(&mut socket, &state, &mut session).await {
            debug!(client = handle.id, error = %e, "connection closed with error");
        }
        if let Ok(mut clients) = state.clients.lock() {
            clients.remove(&handle.id);
        }
    }
}

async fn serve_loop(
    socket: &mut TcpStream,
    state: &Arc<ServerState>,
    session: &mut Session,
) -> std::io::Result<()> {
    let mut parser = RequestParser::new(state.runtime.proto_max_bulk_len.load(Ordering::Relaxed));
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = Vec::with_capacity(READ_CHUNK);
    let mut requests = Vec::new();
    // This connection's snapshot of the node's groups, refreshed before each batch (free while
    // they do not change; see `raft::registry`).
    let mut groups = state.groups.load();
    loop {
        let want = parser
            .needed()
            .saturating_sub(buf.len())
            .clamp(READ_CHUNK, MAX_READ_RESERVE);
        buf.reserve(want);
        let timeout = state.runtime.timeout.load(Ordering::Relaxed);
        let idle = async {
            if timeout == 0 {
                std::future::pending::<()>().await
            } else {
                tokio::time::sleep(Duration::from_secs(timeout)).await
            }
        };
        let n = tokio::select! {
            r = socket.read_buf(&mut buf) => r?,
            _ = session.handle.kill_notify.notified() => return Ok(()),
            () = state.shutdown.wait() => return Ok(()),
            _ = idle => return Ok(()),
        };
        if n == 0 || session.handle.killed.load(Ordering::Relaxed) {
            return Ok(());
        }
        state
            .stats
            .net_input_bytes
            .fetch_add(n as u64, Ordering::Relaxed);
        parser.set_max_bulk_len(state.runtime.proto_max_bulk_len.load(Ordering::Relaxed));
        let parsed = parser.parse(&mut buf, session.authenticated, &mut requests);
        if !requests.is_empty() {
            state.groups.refresh(&mut groups);
            execute_batch(state, &groups, session, &mut requests, &mut out).await;
        }
        if let Err(e) = &parsed {
            Frame::error_owned(e.reply_text()).encode(session.proto(), &mut out);
            debug!(client = session.handle.id, error = %e.0, "protocol error");
        }
        if !out.is_empty() {
            socket.write_all(&out).await?;
            state
                .stats
                .net_output_bytes
                .fetch_add(out.len() as u64, Ordering::Relaxed);
            out.clear();
            if out.capacity() > 1024 * 1024 {
                out.shrink_to(READ_CHUNK);
            }
        }
        if parsed.is_err() || session.closing {
            let _ = socket.shutdown().await;
            return Ok(());
        }
    }
}

/// Runs one batch of requests on `groups` and appends their encoded replies to `out`.
async fn execute_batch(
    state: &Arc<ServerState>,
    groups: &Groups,
    session: &mut Session,
    requests: &mut Vec<Vec<Bytes>>,
    out: &mut Vec<u8>,
) {
    let ctx = ApplyCtx {
        now: now_ms(),
        max_bulk_len: state.runtime.proto_max_bulk_len.load(Ordering::Relaxed),
    };
    let mut pending: Vec<Pending> = Vec::with_capacity(requests.len());
    let mut work = Work::default();
    let mut replies: Vec<Option<Frame>> = Vec::new();
    let mut last_cmd = "NULL";
    let count = requests.len();
    for argv in requests.drain(..) {
        if session.closing {
            continue;
        }
        let proto = session.proto();
        let spec = match commands::resolve(&argv) {
            Ok(spec) => spec,
            Err(e) => {
                pending.push(Pending::Done(proto, e));
                continue;
            }
        };
        last_cmd = spec.name;
        if !session.authenticated && !spec.flags.contains(&"no_auth") {
            pending.push(Pending::Done(
                proto,
                Frame::error("NOAUTH Authentication required."),
            ));
            continue;
        }
        match commands::route(spec, &argv, &state.shard_map) {
            Route::Reply(f) => pending.push(Pending::Done(proto, f)),
            Route::Local(handler) => {
                // Encoded in the protocol in force after the command (HELLO 3 answers in RESP3).
                if let Some(reply) = handler(&argv, session, state) {
                    pending.push(Pending::Done(session.proto(), reply));
                }
            }
            Route::Shard(shard, cmd) if !groups.has_shard(shard) && cmd.reads_any_replica() => {
                // No replica here: this node holds no key of that slot.
                let mut empty = Keyspace::new(0, 0);
                pending.push(Pending::Done(proto, cmd.apply(&mut empty, &ctx)));
            }
            Route::Shard(shard, cmd) => {
                let first = work.push(shard, cmd);
                pending.push(Pending::Parts {
                    proto,
                    merge: None,
                    first,
                    parts: 1,
                });
            }
            Route::Split(parts, merge) => {
                // Keys of several slots: served as on a single node when this node can serve
                // every part itself, else refused as Redis Cluster does.
                let serves_all = parts.iter().all(|(shard, cmd)| {
                    groups.shard(*shard).is_some_and(|g| {
                        !g.led_elsewhere() || (session.readonly() && cmd.is_read_only())
                    })
                });
                if !serves_all {
                    pending.push(Pending::Done(proto, commands::errors::cross_slot()));
                    continue;
                }
                let first = work.slots;
                let n = parts.len() as u32;
                for (shard, cmd) in parts {
                    work.push(shard, cmd);
                }
                pending.push(Pending::Parts {
                    proto,
                    merge: Some(merge),
                    first,
                    parts: n,
                });
            }
            Route::All(cmd, merge) => {
                // Like a Redis Cluster node, a keyspace-wide command covers the shards this
                // node leads.
                let first = work.slots;
                let led: Vec<usize> = groups
                    .shards()
                    .filter(|(_, g)| g.is_leader())
                    .map(|(s, _)| s)
                    .collect();
                let n = led.len();
                for shard in led {
                    work.push(shard, cmd.clone());
                }
                pending.push(Pending::Parts {
                    proto,
                    merge: Some(merge),
                    first,
                    parts: n as u32,
                });
            }
            Route::Scan(scan) => {
                // SCAN may walk several shards in turn: what came before it must be applied first.
                flush(
                    state,
                    groups,
                    ctx,
                    session.readonly(),
                    &mut work,
                    &mut replies,
                )
                .await;
                let reply = scan_shards(state, groups, ctx, scan).await;
                pending.push(Pending::Done(proto, reply));
            }
            Route::Info(sections) => {
                // Counters after everything queued before INFO.
                flush(
                    state,
                    groups,
                    ctx,
                    session.readonly(),
                    &mut work,
                    &mut replies,
                )
                .await;
                let stats: Vec<ShardStats> = ask_led_shards(state, groups, ShardMsg::Stats)
                    .await
                    .into_iter()
                    .filter_map(Result::ok)
                    .collect();
                let reply = commands::info::render(state, session, &sections, &stats);
                pending.push(Pending::Done(proto, reply));
            }
            Route::RandomKey => {
                flush(
                    state,
                    groups,
                    ctx,
                    session.readonly(),
                    &mut work,
                    &mut replies,
                )
                .await;
                let samples =
                    ask_led_shards(state, groups, |tx| ShardMsg::RandomKey(ctx.now, tx)).await;
                let reply = match samples.into_iter().collect::<Result<Vec<_>, Frame>>() {
                    Ok(samples) => commands::keys::random_key_of(&samples),
                    Err(e) => e,
                };
                pending.push(Pending::Done(proto, reply));
            }
            Route::Failover => {
                let reply = commands::cluster::failover(state).await;
                pending.push(Pending::Done(proto, reply));
            }
        }
    }
    state
        .stats
        .commands_processed
        .fetch_add(count as u64, Ordering::Relaxed);
    session.handle.update(|m| {
        m.last_cmd = last_cmd;
        m.last_active = Instant::now();
    });
    flush(
        state,
        groups,
        ctx,
        session.readonly(),
        &mut work,
        &mut replies,
    )
    .await;

    for p in pending {
        match p {
            Pending::Done(proto, frame) => frame.encode(proto, out),
            Pending::Parts {
                proto,
                merge,
                first,
                parts,
            } => {
                let mut take = |slot: u32| {
                    replies
                        .get_mut(slot as usize)
                        .and_then(Option::take)
                        .unwrap_or_else(|| Frame::error("ERR shard unavailable"))
                };
                let frame = match merge {
                    None => take(first),
                    Some(merge) => {
                        let parts: Vec<Frame> = (first..first + parts).map(&mut take).collect();
                        commands::merge(&merge, parts)
                    }
                };
                frame.encode(proto, out);
            }
        }
    }
}

/// Runs the queued shard work and adds the replies to `replies` by slot. A shard's commands that
/// include a write become one Raft log entry (replies come back once it is applied); a shard's
/// read-only commands go to its actor in one message, after the group confirms this node still
/// leads it. All shards proceed at once.
/// With `readonly` (the connection sent READONLY), reads of a shard this node follows are served
/// from its replica without asking the leader: possibly stale, as on a Redis Cluster replica.
async fn flush(
    state: &ServerState,
    groups: &Groups,
    ctx: ApplyCtx,
    readonly: bool,
    work: &mut Work,
    replies: &mut Vec<Option<Frame>>,
) {
    let base = replies.len() as u32;
    let slots = (work.slots - base) as usize;
    if slots == 0 {
        return;
    }
    let mut reads = Vec::new();
    let mut writes = Vec::new();
    for (shard, cmds) in work.per_shard.drain(..).enumerate() {
        if cmds.is_empty() {
            continue;
        }
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
                .map(|(cmd, slot)| (slot, refusal_reply(state, &refused, &cmd)))
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
                    Err(refusal) => {
                        return slots
                            .into_iter()
                            .zip(firsts)
                            .map(|(slot, key)| (slot, refusal_reply_for_key(state, &refusal, key)))
                            .collect();
                    }
                }
            }
            None => Refusal::NotLeader(state.leaders.get(shard).map(|(leader, _)| leader)),
        };
        slots
            .into_iter()
            .zip(cmds)
            .map(|(slot, cmd)| (slot, refusal_reply(state, &refused, &cmd)))
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

/// The reply for a command a shard refused: `-MOVED <slot> <host:port>` naming the leader when
/// another node leads, `-TRYAGAIN` while the shard has no leader, or the failure itself.
fn refusal_reply(state: &ServerState, refusal: &Refusal, cmd: &ShardCommand) -> Frame {
    refusal_reply_for_key(state, refusal, cmd.first_key())
}

fn refusal_reply_for_key(state: &ServerState, refusal: &Refusal, key: Option<Bytes>) -> Frame {
    match refusal {
        Refusal::Failed(frame) => frame.clone(),
        Refusal::NotLeader(Some(leader)) => match (state.topology.node(*leader), key) {
            (Some(node), Some(key)) => Frame::error_owned(format!(
                "MOVED {} {}",
                crate::slot::key_slot(&key),
                node.client_addr
            )),
            _ => Frame::error("TRYAGAIN this node does not lead the shard"),
        },
        Refusal::NotLeader(None) => {
            Frame::error("TRYAGAIN no leader for this shard, try again later")
        }
    }
}

/// SCAN: asks the shard owning the cursor's slot, and moves on to the next shard while a shard
/// had nothing to return, so that an empty or sparse keyspace does not cost a round trip per shard.
/// Shards this node does not lead are skipped: a node scans its own part of the keyspace, as a
/// Redis Cluster node does.
async fn scan_shards(
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
        if let Err(refusal) = group.read_barrier().await {
            return refusal_reply_for_key(state, &refusal, None);
        }
        let Some(page) = group
            .shard
            .ask(|tx| ShardMsg::Scan(scan.clone(), ctx.now, tx))
            .await
        else {
            return Frame::error("ERR shard unavailable");
        };
        // A shard with nothing to return hands over to the next one at once.
        if page.keys.is_empty() && page.next != 0 {
            scan.cursor = ScanCursor::decode(page.next);
            continue;
        }
        return commands::keys::scan_reply(page);
    }
    Frame::error("ERR scan did not finish")
}

/// Asks every shard this node leads (once its lead is confirmed, as for any read) a typed
/// question; a shard it cannot ask answers the refusal's error reply.
async fn ask_led_shards<T>(
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
                .map_err(|refusal| refusal_reply_for_key(state, &refusal, None))?;
            group
                .shard
                .ask(make)
                .await
                .ok_or_else(|| Frame::error("ERR shard unavailable"))
        }
    }))
    .await
}
