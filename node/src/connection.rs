//! One client connection: read, parse a batch, run it, write the replies once.
//!
//! Each read may bring many pipelined requests. All complete requests in the buffer form one
//! *batch*: the clock is read once for the batch, each shard involved gets one message with all of
//! the batch's commands for it, and the replies go out in request order with one write.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::debug;

use crate::clock::now_ms;
use crate::commands::keys::{KeyCommand, ScanArgs};
use crate::commands::{self, server as local, ApplyCtx, Merge, Route, ShardCommand};
use crate::protocol::{Frame, RequestParser};
use crate::server::{ClientHandle, ClientMeta, ServerState};
use crate::shard::keyspace::ScanCursor;

/// Smallest free space kept in the read buffer before a read.
const READ_CHUNK: usize = 16 * 1024;
/// Largest single growth of the read buffer for a large announced argument.
const MAX_READ_RESERVE: usize = 1024 * 1024;

/// Per-connection state the commands may change.
pub struct Session {
    /// Registry entry (id, addresses, name for CLIENT LIST).
    pub handle: Arc<ClientHandle>,
    /// Protocol version chosen with HELLO.
    pub proto: u8,
    /// True once AUTH succeeded, or when no password is set.
    pub authenticated: bool,
    /// READONLY mode (replica reads, with the cluster layer).
    pub readonly: bool,
    /// Set by QUIT: close after the replies are written.
    pub closing: bool,
}

/// Where a batch's reply for one request comes from.
enum Pending {
    Done(u8, Frame),
    Parts {
        proto: u8,
        merge: Option<Merge>,
        parts: Vec<Option<Frame>>,
    },
}

/// Work for one shard in the current batch.
#[derive(Default)]
struct ShardWork {
    cmds: Vec<ShardCommand>,
    /// For each command: (request index, part index).
    targets: Vec<(usize, usize)>,
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
        let handle = Arc::new(ClientHandle {
            id: state.next_client_id(),
            addr,
            laddr: socket.local_addr().unwrap_or(state.local_addr),
            created: Instant::now(),
            meta: Mutex::new(ClientMeta {
                name: String::new(),
                lib_name: String::new(),
                lib_ver: String::new(),
                last_cmd: "NULL",
                last_active: Instant::now(),
                proto: 2,
                readonly: false,
            }),
            killed: Default::default(),
            kill_notify: Default::default(),
        });
        if let Ok(mut clients) = state.clients.lock() {
            clients.insert(handle.id, handle.clone());
        }
        let mut session = Session {
            handle: handle.clone(),
            proto: 2,
            authenticated: state.requirepass().is_none(),
            readonly: false,
            closing: false,
        };
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
            _ = state.shutdown.notified() => return Ok(()),
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
            execute_batch(state, session, &mut requests, &mut out).await;
        }
        if let Err(e) = &parsed {
            Frame::error_owned(e.reply_text()).encode(session.proto, &mut out);
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

/// Runs one batch of requests and appends their encoded replies to `out`.
async fn execute_batch(
    state: &Arc<ServerState>,
    session: &mut Session,
    requests: &mut Vec<Vec<Bytes>>,
    out: &mut Vec<u8>,
) {
    let ctx = ApplyCtx {
        now: now_ms(),
        max_bulk_len: state.runtime.proto_max_bulk_len.load(Ordering::Relaxed),
    };
    let mut pending: Vec<Pending> = Vec::with_capacity(requests.len());
    let mut work: Vec<ShardWork> = Vec::new();
    let mut last_cmd = "NULL";
    let count = requests.len();
    for argv in requests.drain(..) {
        if session.closing {
            continue;
        }
        let proto = session.proto;
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
        let request = pending.len();
        match commands::route(spec, &argv, &state.shard_map) {
            Route::Reply(f) => pending.push(Pending::Done(proto, f)),
            Route::Local(spec) => {
                // Encoded in the protocol in force after the command (HELLO 3 answers in RESP3).
                if let Some(reply) = local::execute(spec, &argv, session, state) {
                    pending.push(Pending::Done(session.proto, reply));
                }
            }
            Route::Shard(shard, cmd) => {
                push_work(&mut work, shard, cmd, request, 0);
                pending.push(Pending::Parts {
                    proto,
                    merge: None,
                    parts: vec![None],
                });
            }
            Route::Split(parts, merge) => {
                let n = parts.len();
                for (i, (shard, cmd)) in parts.into_iter().enumerate() {
                    push_work(&mut work, shard, cmd, request, i);
                }
                pending.push(Pending::Parts {
                    proto,
                    merge: Some(merge),
                    parts: vec![None; n],
                });
            }
            Route::All(cmd, merge) => {
                let n = state.shards.len();
                for shard in 0..n {
                    push_work(&mut work, shard, cmd.clone(), request, shard);
                }
                pending.push(Pending::Parts {
                    proto,
                    merge: Some(merge),
                    parts: vec![None; n],
                });
            }
            Route::Scan(scan) => {
                // SCAN may walk several shards in turn: what came before it must be applied first.
                flush(state, ctx, &mut work, &mut pending).await;
                let reply = scan_shards(state, ctx, scan).await;
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
    flush(state, ctx, &mut work, &mut pending).await;

    for p in pending {
        match p {
            Pending::Done(proto, frame) => frame.encode(proto, out),
            Pending::Parts {
                proto,
                merge,
                parts,
            } => {
                let parts: Vec<Frame> = parts
                    .into_iter()
                    .map(|p| p.unwrap_or_else(|| Frame::error("ERR shard unavailable")))
                    .collect();
                let frame = match merge {
                    None => parts.into_iter().next().unwrap_or(Frame::Null),
                    Some(Merge::Info(sections)) => {
                        commands::info::render(state, session, &sections, &parts)
                    }
                    Some(m) => commands::merge(&m, parts),
                };
                frame.encode(proto, out);
            }
        }
    }
}

/// Sends the queued shard work (one message per shard, all sent before any reply is awaited)
/// and files the replies under their requests.
async fn flush(
    state: &ServerState,
    ctx: ApplyCtx,
    work: &mut Vec<ShardWork>,
    pending: &mut [Pending],
) {
    let mut inflight = Vec::new();
    for (shard, w) in work.drain(..).enumerate() {
        if w.cmds.is_empty() {
            continue;
        }
        let rx = state.shards[shard].send_batch(ctx, w.cmds).await;
        inflight.push((rx, w.targets));
    }
    for (rx, targets) in inflight {
        let replies = match rx {
            Some(rx) => rx.await.ok(),
            None => None,
        };
        let replies =
            replies.unwrap_or_else(|| vec![Frame::error("ERR shard unavailable"); targets.len()]);
        for (reply, (request, part)) in replies.into_iter().zip(targets) {
            if let Some(Pending::Parts { parts, .. }) = pending.get_mut(request) {
                parts[part] = Some(reply);
            }
        }
    }
}

/// SCAN: asks the shard owning the cursor's slot, and moves on to the next shard while a shard
/// had nothing to return, so that an empty or sparse keyspace does not cost a round trip per shard.
async fn scan_shards(state: &ServerState, ctx: ApplyCtx, mut scan: ScanArgs) -> Frame {
    for _ in 0..state.shards.len() {
        let shard = state.shard_map.shard_of_slot(scan.cursor.slot);
        let reply = match state.shards[shard]
            .send_batch(ctx, vec![ShardCommand::Key(KeyCommand::Scan(scan.clone()))])
            .await
        {
            Some(rx) => rx.await.ok().and_then(|mut v| v.pop()),
            None => None,
        };
        let Some(reply) = reply else {
            return Frame::error("ERR shard unavailable");
        };
        let next = match &reply {
            Frame::Array(v) if v.len() == 2 => match (&v[0], &v[1]) {
                (Frame::Bulk(c), Frame::Array(keys)) if keys.is_empty() => {
                    commands::keys::parse_cursor(c).ok().filter(|&c| c != 0)
                }
                _ => None,
            },
            _ => None,
        };
        match next {
            Some(c) => scan.cursor = ScanCursor::decode(c),
            None => return reply,
        }
    }
    Frame::error("ERR scan did not finish")
}

fn push_work(
    work: &mut Vec<ShardWork>,
    shard: usize,
    cmd: ShardCommand,
    request: usize,
    part: usize,
) {
    if work.len() <= shard {
        work.resize_with(shard + 1, ShardWork::default);
    }
    work[shard].cmds.push(cmd);
    work[shard].targets.push((request, part));
}
